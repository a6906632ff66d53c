# Per-token sparse categorical cross-entropy with ignore_label: M_evaluate
# equals -mean log p[label] over the positions whose label is not 0,
# computed here from M_predict's probabilities, and a batch with every
# label ignored has loss 0.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
sed -n '/^model TokenLM/,$p' "$src/tests/grad/loss_token_cce.nn" > "$tmp/K.nn"
"$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || fail "nnc failed"
cat > "$tmp/ref.c" <<'C'
#include "K.c"
#include <math.h>
enum { N = 4, T = 6, V = 5 };
int main(void) {
  int32_t ids[N * T], y[N * T], none[N * T];
  for (int i = 0; i < N * T; i++) ids[i] = (i * 7) % V, y[i] = (i * 3) % V, none[i] = 0;
  TokenLM_Model *m = TokenLM_create(2);
  const void *in[1] = {ids};
  const float *p = TokenLM_predict(m, in, N);
  double sum = 0;
  int kept = 0;
  for (int i = 0; i < N * T; i++)
    if (y[i] != 0) sum -= log(p[i * V + y[i]]), kept++;
  double want = sum / kept, got = TokenLM_evaluate(m, in, y, N), zero = TokenLM_evaluate(m, in, none, N);
  printf("kept %d of %d positions: loss %.7f, by hand %.7f; all ignored: %g\n", kept, N * T, got, want, zero);
  TokenLM_free(m);
  return !(fabs(got - want) < 1e-5 * fabs(want) && zero == 0 && kept < N * T);
}
C
$cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" -o "$tmp/ref" "$tmp/ref.c" -lm || fail "building failed"
"$tmp/ref" > "$tmp/out.txt" || fail "the loss is not the mean over kept positions: $(cat "$tmp/out.txt")"
cat "$tmp/out.txt"
finish
