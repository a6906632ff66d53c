# positional_encoding against the Transformer's table written out here:
# PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(t / 10000^(2i/D)),
# added to the input (zeros and ones here), for an odd and an even width.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cat > "$tmp/ref.c" <<'C'
#include "K.c"
#include <math.h>
int main(void) {
  static float x[2 * T * D];
  for (int i = 0; i < T * D; i++) x[T * D + i] = 1; /* sample 1: ones */
  K_Model *m = K_create(1);
  const void *in[1] = {x};
  const float *y = K_predict(m, in, 2);
  int bad = 0;
  for (int n = 0; n < 2; n++)
    for (int t = 0; t < T; t++)
      for (int j = 0; j < D; j++) {
        double a = t / pow(10000, 2.0 * (j / 2) / D), want = n + (j % 2 ? cos(a) : sin(a));
        if (fabs(y[(n * T + t) * D + j] - want) > 2e-5 && bad++ < 5)
          fprintf(stderr, "PE[%d, %d] + %d: compiled %.9g, table %.9g\n", t, j, n, y[(n * T + t) * D + j], want);
      }
  K_free(m);
  printf("positional_encoding T=%d D=%d: %s\n", T, D, bad ? "DIFFER" : "ok");
  return bad != 0;
}
C
for td in "50 16" "7 5"; do
  set -- $td
  printf 'model K {\n  input x: [%s, %s]\n  output positional_encoding(x)\n}\n' "$1" "$2" > "$tmp/K.nn"
  "$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || fail "nnc failed"
  $cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" -DT=$1 -DD=$2 -o "$tmp/ref" "$tmp/ref.c" -lm || fail "building failed"
  "$tmp/ref" || fail "positional_encoding T=$1 D=$2 differs from the table"
done
finish
