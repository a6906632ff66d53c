# examples/reverse_transformer.nn: a Transformer encoder-decoder trained on
# digit sequences made here (tools/data/reverse.c) to reverse them. The
# training program reports the teacher-forced per-token accuracy; a host
# program then loads its checkpoint and decodes the 600 held-out sequences
# greedily, token by token from the start token, through Reverse_predict:
# at least 99% must come out exactly reversed.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
$cc -O2 -o "$tmp/reverse" "$src/tools/data/reverse.c" || fail "building the generator failed"
mkdir -p "$tmp/data"
"$tmp/reverse" "$tmp/data/reverse-x.npy" "$tmp/data/reverse-y.npy" 6000 8 1 || fail "making the data failed"
"$nnc" "$src/examples/reverse_transformer.nn" -o "$tmp/train" || fail "building the program failed"
(cd "$tmp" && ./train --epochs 6 --save model.ckpt) > "$tmp/run.txt" || fail "training failed"
tail -1 "$tmp/run.txt"
held_out_at_least "$tmp/run.txt" 600 0.99 "per-token"
"$nnc" --no-main "$src/examples/reverse_transformer.nn" -o "$tmp/K.c" || fail "nnc --no-main failed"
cat > "$tmp/decode.c" <<'C'
#include "K.c"
#include "nnrt_data.c" /* the runtime's .npy reader, as the program has it */
enum { L = 8, N = 6000, HELD = 600 };
int main(void) {
  NnrtTable t;
  char err[512];
  if (!nnrt_npy_load("data/reverse-x.npy", "data/reverse-y.npy", 1, &t, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  Reverse_Model *m = Reverse_create(1);
  if (Reverse_load(m, "model.ckpt", err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int exact = 0;
  for (int64_t r = N - HELD; r < N; r++) {
    int32_t ids[2 * L] = {0};
    for (int i = 0; i < L; i++) ids[i] = (int32_t)t.x[r * 2 * L + i];
    ids[L] = 1; /* the start token; the rest is filled as it is decoded */
    int ok = 1;
    for (int pos = 0; pos < L; pos++) {
      const void *in[1] = {ids};
      const float *p = (const float *)Reverse_predict(m, in, 1) + pos * 12;
      int best = 0;
      for (int c = 1; c < 12; c++) best = p[c] > p[best] ? c : best;
      ok &= best == (int)t.y[r * L + pos];
      if (pos + 1 < L) ids[L + pos + 1] = best;
    }
    exact += ok;
  }
  printf("greedy decoding: %d of %d held-out sequences exactly reversed\n", exact, HELD);
  Reverse_free(m);
  nnrt_table_free(&t);
  return exact < HELD * 99 / 100;
}
C
$cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" -I"$src/runtime" -o "$tmp/decode" "$tmp/decode.c" -lm || fail "building the decoder failed"
(cd "$tmp" && ./decode) > "$tmp/decode.txt" || fail "exact match under 99%: $(cat "$tmp/decode.txt")"
cat "$tmp/decode.txt"
finish
