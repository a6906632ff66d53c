# The C API's contract (docs/c-api.md), through libraries of both
# backends: bad arguments, sizes that would overflow, memory that runs out,
# labels and token ids a model cannot take are errors with a message
# (tests/cli/api_host.c), never a crash or an exit; schedules follow
# M_set_epoch; weights-only files. Then what the training program and the
# library share: a model trained with `normalize: true` carries its
# input's standardization in its checkpoint, so the library, given raw
# inputs, measures what the program measured.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}
cat > "$tmp/tok.nn" <<'NN'
model Tok {
  input ids: i32[4]
  e = embedding(ids, 10, 4)
  output dense(flatten(e), 3, activation: softmax)
}
train Tok {
  loss      sparse_categorical_crossentropy(ignore_label: -1)
  optimizer adam(lr: 0.01)
  schedule  step(every: 1, factor: 0.5)
}
NN
for backend in llvm c; do
  mkdir -p "$tmp/$backend"
  "$nnc" --backend=$backend "$ex/seed_mlp.nn" -o "$tmp/$backend/libseed.so" || fail "$backend: libseed.so"
  "$nnc" --backend=$backend "$tmp/tok.nn" -o "$tmp/$backend/libtok.so" || fail "$backend: libtok.so"
  $cc -std=c11 ${CFLAGS:-} -I"$tmp/$backend" "$src/tests/cli/api_host.c" -o "$tmp/$backend/host" \
    "$tmp/$backend/libseed.so" "$tmp/$backend/libtok.so" -Wl,-rpath,"$tmp/$backend" -lm || fail "$backend: host"
  # the billion-sample arena must come back as NULL from malloc, also sanitized
  ASAN_OPTIONS=allocator_may_return_null=1 "$tmp/$backend/host" "$tmp/$backend" > "$tmp/$backend/out.txt" ||
    fail "$backend: $(grep -v '^ok' "$tmp/$backend/out.txt")"
  tail -1 "$tmp/$backend/out.txt"
done

# normalize: true — the statistics are the model's states, saved and applied
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { a = 1000 + 400 * rand(); b = 0.01 * rand();
             printf "%.4f,%.6f,%.6f\n", a, b, (a - 1200) / 40 + 500 * b } }' > "$tmp/reg.csv"
cat > "$tmp/reg.nn" <<'NN'
model Reg {
  input x: [2]
  dense(8, activation: relu)
  dense(1)
}
train Reg {
  data       csv("reg.csv", label: last, normalize: true)
  loss       mse
  optimizer  adam(lr: 0.01)
  epochs     30
  batch      16
  validation 0.2
  metrics    mae
}
NN
"$nnc" "$tmp/reg.nn" -o "$tmp/reg" || fail "building the regression program"
"$nnc" "$tmp/reg.nn" -o "$tmp/libreg.so" || fail "building the regression library"
(cd "$tmp" && ./reg --quiet --save reg.ckpt) > "$tmp/reg.txt" || fail "training the regression"
cat > "$tmp/reg_host.c" <<'C'
#include <stdio.h>
#include "libreg.h"
int main(void) {
  float x[300 * 2], y[300];
  FILE *f = fopen("reg.csv", "r");
  int n = 0;
  while (n < 300 && fscanf(f, "%f,%f,%f", &x[2 * n], &x[2 * n + 1], &y[n]) == 3) n++;
  fclose(f);
  Reg_Model *m = Reg_create(9);
  char err[256];
  if (Reg_load(m, "reg.ckpt", err, sizeof err) != 0) return fprintf(stderr, "%s\n", err), 1;
  const void *in[1] = {x + 2 * 240};
  double loss = Reg_evaluate(m, in, y + 240, 60);
  printf("held-out: 60 samples, loss %.4f\n", loss);
  float zero[2] = {0, 0}, one[2] = {1, 1}; /* the raw inputs, unstandardized */
  Reg_set_param(m, "normalize.mean", zero, sizeof zero);
  Reg_set_param(m, "normalize.std", one, sizeof one);
  double raw = Reg_evaluate(m, in, y + 240, 60);
  printf("without the standardization: loss %.4f\n", raw);
  Reg_free(m);
  return !(raw > 100 * loss);
}
C
(cd "$tmp" && $cc -std=c11 ${CFLAGS:-} reg_host.c -o reg_host ./libreg.so -Wl,-rpath,"$tmp" && ./reg_host) \
  > "$tmp/reg_host.txt" || fail "the regression host failed"
want=$(sed -n 's/^\(held-out: 60 samples, loss [0-9.]*\).*/\1/p' "$tmp/reg.txt")
[ -n "$want" ] && has "$tmp/reg_host.txt" "$want"
has "$tmp/reg.txt" ", mae "
echo "program: $want; library: $(cat "$tmp/reg_host.txt")"
finish
