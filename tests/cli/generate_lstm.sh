# M_generate: an LSTM language model trained here (M_train_step) on a
# cycle of 4 tokens continues a prompt along the cycle greedily, from a
# prompt shorter and longer than its window; a draw at a temperature is
# the same for the same seed; bad arguments and a model that does not map
# token ids to scores give -1. The model has a generation step (its LSTM's
# state carried token by token), whose choices within the window are those
# of predicting over the window (here before and after training); a
# reversed LSTM has none and generates from the window.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cat > "$tmp/K.nn" <<'NN'
model CycleLM {
  input ids: i32[8]
  embedding(4, 8)
  lstm(16, return_sequences: true)
  dense(4, activation: softmax)
}
train CycleLM {
  loss      sparse_categorical_crossentropy
  optimizer adam(lr: 0.02)
}
model Other {
  input x: [3]
  dense(2)
}
model Both {
  input ids: i32[8]
  e = embedding(ids, 4, 8)
  output dense(concat(lstm(e, 6, return_sequences: true), lstm(e, 6, return_sequences: true, reverse: true)), 4)
}
NN
cat > "$tmp/ref.c" <<'C'
#include "K.c"
enum { B = 16, T = 8 };
/* greedy choices of predicting over the window, len + count <= T */
static int windowed(CycleLM_Model *m, const int32_t *prompt, int len, int count, const int32_t *got) {
  int32_t w[T] = {0};
  int bad = 0;
  memcpy(w, prompt, sizeof(int32_t) * (size_t)len);
  for (int i = 0; i < count; i++) {
    const void *in[1] = {w};
    const float *p = (const float *)CycleLM_predict(m, in, 1) + (len + i - 1) * 4;
    int best = 0;
    for (int c = 1; c < 4; c++) best = p[c] > p[best] ? c : best;
    bad += got[i] != best;
    w[len + i] = best;
  }
  return bad;
}
int main(void) {
  CycleLM_Model *m = CycleLM_create(1);
  int32_t ids[B * T], y[B * T];
  double loss = 0;
  int32_t first[6], p3[3] = {2, 1, 1};
  int bad = CycleLM_generate(m, p3, 3, 5, 0, 0, first) != 0 || windowed(m, p3, 3, 5, first) != 0;
  for (int step = 0; step < 300; step++) {
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++) ids[b * T + t] = (step + b * 3 + t) % 4, y[b * T + t] = (step + b * 3 + t + 1) % 4;
    const void *in[1] = {ids};
    loss = CycleLM_train_step(m, in, y, B);
  }
  int32_t out[20], again[20], prompt[11] = {1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  if (CycleLM_generate(m, prompt, 2, 6, 0, 0, out) != 0 || windowed(m, prompt, 2, 6, out) != 0) bad++;
  if (CycleLM_generate(m, prompt + 1, 1, 20, 0, 0, out) != 0) bad++;
  for (int i = 0; i < 20; i++) bad += out[i] != (3 + i) % 4;   /* after 2: 3, 0, 1, ... */
  if (CycleLM_generate(m, prompt, 11, 20, 0, 0, out) != 0) bad++;
  for (int i = 0; i < 20; i++) bad += out[i] != i % 4;         /* after ..., 3: 0, 1, ... */
  if (CycleLM_generate(m, prompt, 3, 20, 0.7, 42, out) != 0 || CycleLM_generate(m, prompt, 3, 20, 0.7, 42, again) != 0)
    bad++;
  bad += memcmp(out, again, sizeof out) != 0;
  bad += CycleLM_generate(m, prompt, 0, 5, 0, 0, out) != -1;   /* no prompt */
  bad += CycleLM_generate(m, prompt, 3, 5, -1, 0, out) != -1;  /* a negative temperature */
  int32_t outside[3] = {1, 999, 2};                             /* a token outside the vocabulary */
  bad += CycleLM_generate(m, outside, 3, 5, 0, 0, out) != -1 ||
         !strstr(CycleLM_last_error(m), "prompt[1] = 999 is outside the vocabulary");
  float nans[4] = {NAN, NAN, NAN, NAN};                         /* scores that are NaN stop it */
  CycleLM_set_param(m, "dense1.b", nans, sizeof nans);
  bad += CycleLM_generate(m, prompt, 3, 5, 0, 0, out) != -1 ||
         !strstr(CycleLM_last_error(m), "generate: the model's score of token 0 at step 0 is nan");
  Other_Model *o = Other_create(1);
  bad += Other_generate(o, prompt, 3, 5, 0, 0, out) != -1;
  Both_Model *both = Both_create(1);
  bad += Both_generate(both, prompt, 3, 5, 0, 0, out) != 0;
  Both_free(both);
  printf("final loss %.4f; sampled:", loss);
  for (int i = 0; i < 20; i++) printf(" %d", again[i]);
  printf("\n%s\n", bad ? "DIFFER" : "generation ok");
  CycleLM_free(m);
  Other_free(o);
  return bad != 0;
}
C
"$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || fail "nnc failed"
grep -q "CycleLM_step_run" "$tmp/K.c" || fail "the LSTM language model has no generation step"
! grep -q "Both_step_run" "$tmp/K.c" || fail "a model with a reversed LSTM has a generation step"
$cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" -o "$tmp/ref" "$tmp/ref.c" -lm || fail "building failed"
"$tmp/ref" > "$tmp/out.txt" || fail "generation: $(cat "$tmp/out.txt")"
cat "$tmp/out.txt"
finish
