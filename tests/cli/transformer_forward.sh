# transformer_encoder and transformer_decoder against the same blocks
# written out with attention, layer_norm and dense (post-norm and
# pre-norm, masks), the parameters copied across: the same outputs.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cat > "$tmp/K.nn" <<'NN'
model Block {
  input x: [5, 4]
  input c: [6, 4]
  input keep: [6]
  input self_keep: [5]
  e = transformer_encoder(x, 2, 7, mask: self_keep)
  p = transformer_encoder(e, 2, 3, norm_first: true, causal: true, ff_activation: gelu)
  output transformer_decoder(p, c, 2, 6, context_mask: keep)
}
model Plain {
  input x: [5, 4]
  input c: [6, 4]
  input keep: [6]
  input self_keep: [5]
  e1 = layer_norm(x + attention(x, 2, mask: self_keep))
  e = layer_norm(e1 + dense(dense(e1, 7, activation: relu), 4))
  n1 = layer_norm(e)
  p1 = e + attention(n1, 2, causal: true)
  n2 = layer_norm(p1)
  p = p1 + dense(dense(n2, 3, activation: gelu), 4)
  d1 = layer_norm(p + attention(p, 2, causal: true))
  d2 = layer_norm(d1 + attention(d1, 2, context: c, mask: keep))
  output layer_norm(d2 + dense(dense(d2, 6, activation: relu), 4))
}
NN
cat > "$tmp/ref.c" <<'C'
#include "K.c"
#include <math.h>
/* Block's parameter names and Plain's, in pairs */
static const char *pairs[][2] = {
  {"transformer_encoder1.self.", "attention1."}, {"transformer_encoder1.norm1.", "layer_norm1."},
  {"transformer_encoder1.ff1.", "dense1."}, {"transformer_encoder1.ff2.", "dense2."},
  {"transformer_encoder1.norm2.", "layer_norm2."},
  {"transformer_encoder2.norm1.", "layer_norm3."}, {"transformer_encoder2.self.", "attention2."},
  {"transformer_encoder2.norm2.", "layer_norm4."}, {"transformer_encoder2.ff1.", "dense3."},
  {"transformer_encoder2.ff2.", "dense4."},
  {"transformer_decoder1.self.", "attention3."}, {"transformer_decoder1.norm1.", "layer_norm5."},
  {"transformer_decoder1.cross.", "attention4."}, {"transformer_decoder1.norm2.", "layer_norm6."},
  {"transformer_decoder1.ff1.", "dense5."}, {"transformer_decoder1.ff2.", "dense6."},
  {"transformer_decoder1.norm3.", "layer_norm7."}};
static const char *leaves[] = {"Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo", "gamma", "beta", "W", "b"};
int main(void) {
  Block_Model *a = Block_create(3);
  Plain_Model *b = Plain_create(4);
  static float buf[4096];
  int copied = 0;
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
    for (size_t j = 0; j < sizeof leaves / sizeof leaves[0]; j++) {
      char from[128], to[128];
      snprintf(from, sizeof from, "%s%s", pairs[i][0], leaves[j]);
      snprintf(to, sizeof to, "%s%s", pairs[i][1], leaves[j]);
      for (size_t n = 4; n <= sizeof buf; n += 4) /* the size: the first that fits exactly */
        if (Block_get_param(a, from, buf, n) == 0) {
          if (Plain_set_param(b, to, buf, n) != 0) { fprintf(stderr, "cannot set %s\n", to); return 1; }
          copied++;
          break;
        }
    }
  static float x[2 * 5 * 4], c[2 * 6 * 4], keep[2 * 6], self_keep[2 * 5];
  uint64_t r = 5;
  for (int i = 0; i < 40; i++) x[i] = (float)((r = r * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
  for (int i = 0; i < 48; i++) c[i] = (float)((r = r * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
  for (int i = 0; i < 12; i++) keep[i] = i % 4 != 2;
  for (int i = 0; i < 10; i++) self_keep[i] = i % 5 != 3;
  const void *in[4] = {x, c, keep, self_keep};
  static float ya[40];
  memcpy(ya, Block_predict(a, in, 2), sizeof ya);
  const float *yb = Plain_predict(b, in, 2);
  int bad = 0;
  for (int i = 0; i < 40; i++)
    if (fabs(ya[i] - yb[i]) > 1e-5 && bad++ < 5) fprintf(stderr, "output %d: block %.9g, plain %.9g\n", i, ya[i], yb[i]);
  printf("%d parameters copied; blocks against plain layers: %s\n", copied, bad ? "DIFFER" : "ok");
  Block_free(a);
  Plain_free(b);
  return bad != 0;
}
C
"$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || fail "nnc failed"
$cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" -o "$tmp/ref" "$tmp/ref.c" -lm || fail "building failed"
"$tmp/ref" > "$tmp/out.txt" || fail "the blocks differ from the layers written out: $(cat "$tmp/out.txt")"
cat "$tmp/out.txt"
has "$tmp/out.txt" "58 parameters copied"
finish
