/* rnn_ref.c — simple_rnn, lstm and gru forward against the textbook
 * recurrences written out here.
 *
 * Compiled by rnn_lstm_gru_forward.sh with one model K (K.c from nnc
 * --no-main) of one layer statement `CELL(U, return_sequences: true,
 * reverse: R_REV)` over x[T, D]; sets random weights and biases, runs
 * K_predict on random sequences and compares every state.
 *   R_CELL: 0 simple_rnn, 1 lstm, 2 gru, 3 gru with reset_after (PyTorch's
 *   formulation, with a recurrent bias rb); R_T steps, R_D features, R_U units;
 *   R_MASK: a second input m[T], 1 a step and 0 padding (the state carries
 *   over a padded step; the last two steps are padding in every row); R_INIT: inputs h[U] (and an LSTM's c[U]) after
 *   those, the initial_state. */
#include "K.c" /* first: it sets _POSIX_C_SOURCE */
#include <math.h>

#ifndef R_MASK
#define R_MASK 0
#endif
#ifndef R_INIT
#define R_INIT 0
#endif
enum { BATCH = 3, G = R_CELL == 1 ? 4 : R_CELL >= 2 ? 3 : 1 };

static double sig(double v) { return 1 / (1 + exp(-v)); }

static float rnd(uint64_t *r) {
  *r = *r * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(*r >> 11) / 9007199254740992.0 * 2 - 1);
}

static const char *names[4] = {"simple_rnn1", "lstm1", "gru1", "gru1"};

int main(void) {
  static float keep[BATCH * R_T];
  /* padding in rows 1 and 2 every third step, and in every row the last
   * two steps (which the loop skips) */
  for (int i = 0; i < BATCH * R_T; i++) keep[i] = !R_MASK || (i % R_T < R_T - 2 && ((i % R_T) % 3 != 1 || i / R_T == 0));
  static float x[BATCH * R_T * R_D], W[R_D * G * R_U], U[R_U * G * R_U], b[G * R_U], rb[G * R_U];
  static float want[BATCH * R_T * R_U], h0[BATCH * R_U], c0[BATCH * R_U];
  uint64_t r = 99;
  for (int i = 0; i < BATCH * R_T * R_D; i++) x[i] = rnd(&r);
  for (int i = 0; i < R_D * G * R_U; i++) W[i] = rnd(&r);
  for (int i = 0; i < R_U * G * R_U; i++) U[i] = rnd(&r) * 0.5f;
  for (int i = 0; i < G * R_U; i++) b[i] = rnd(&r) * 0.5f;
  for (int i = 0; i < G * R_U; i++) rb[i] = R_CELL == 3 ? rnd(&r) * 0.5f : 0;
  for (int i = 0; i < BATCH * R_U; i++) h0[i] = R_INIT ? rnd(&r) * 0.8f : 0, c0[i] = R_INIT ? rnd(&r) : 0;
  K_Model *m = K_create(1);
  const char *cell = names[R_CELL];
  char name[64];
  float *vals[4] = {W, U, b, rb};
  size_t sizes[4] = {sizeof W, sizeof U, sizeof b, sizeof rb};
  for (int k = 0; k < (R_CELL == 3 ? 4 : 3); k++) {
    snprintf(name, sizeof name, "%s.%s", cell, k == 3 ? "rb" : k == 2 ? "b" : k ? "U" : "W");
    if (K_set_param(m, name, vals[k], sizes[k]) != 0) {
      fprintf(stderr, "no parameter %s of %zu bytes\n", name, sizes[k]);
      return 1;
    }
  }
  for (int n = 0; n < BATCH; n++) {
    double h[R_U], c[R_U], z[4 * R_U], hu[4 * R_U], nh[R_U];
    for (int j = 0; j < R_U; j++) h[j] = h0[n * R_U + j], c[j] = c0[n * R_U + j];
    for (int k = 0; k < R_T; k++) {
      int t = R_REV ? R_T - 1 - k : k;
      double cwas[R_U];
      for (int j = 0; j < R_U; j++) cwas[j] = c[j];
      for (int j = 0; j < G * R_U; j++) {
        z[j] = b[j];
        for (int d = 0; d < R_D; d++) z[j] += (double)x[(n * R_T + t) * R_D + d] * W[d * G * R_U + j];
        hu[j] = rb[j];
        for (int i = 0; i < R_U; i++) hu[j] += h[i] * U[i * G * R_U + j];
      }
      for (int j = 0; j < R_U; j++) {
        if (R_CELL == 0) {
          nh[j] = tanh(z[j] + hu[j]);
        } else if (R_CELL == 1) { /* gates i, f, g, o */
          double ig = sig(z[j] + hu[j]), fg = sig(z[R_U + j] + hu[R_U + j]);
          double gg = tanh(z[2 * R_U + j] + hu[2 * R_U + j]), og = sig(z[3 * R_U + j] + hu[3 * R_U + j]);
          c[j] = fg * c[j] + ig * gg;
          nh[j] = og * tanh(c[j]);
        } else if (R_CELL == 3) { /* z, r, then the candidate from r * (h U_h + rb_h) */
          double ug = sig(z[j] + hu[j]), rg = sig(z[R_U + j] + hu[R_U + j]);
          double cand = tanh(z[2 * R_U + j] + rg * hu[2 * R_U + j]);
          nh[j] = ug * h[j] + (1 - ug) * cand;
        } else { /* z, r, then the candidate from (r * h) U_h */
          double ug = sig(z[j] + hu[j]), rh = 0;
          for (int i = 0; i < R_U; i++)
            rh += sig(z[R_U + i] + hu[R_U + i]) * h[i] * U[i * G * R_U + 2 * R_U + j];
          double cand = tanh(z[2 * R_U + j] + rh);
          nh[j] = ug * h[j] + (1 - ug) * cand;
        }
      }
      if (keep[n * R_T + t] < 0.5) /* padding: the state (and the cell) as it was */
        for (int j = 0; j < R_U; j++) nh[j] = h[j], c[j] = cwas[j];
      for (int j = 0; j < R_U; j++) h[j] = nh[j], want[(n * R_T + t) * R_U + j] = (float)h[j];
    }
  }
  const void *in[4] = {x, R_MASK ? (const void *)keep : h0, R_MASK ? h0 : c0, c0};
  const float *got = K_predict(m, in, BATCH);
  int bad = 0;
  for (int i = 0; i < BATCH * R_T * R_U; i++)
    if (fabs(got[i] - want[i]) > 2e-5 && bad++ < 5)
      fprintf(stderr, "state %d: compiled %.9g, textbook %.9g\n", i, got[i], want[i]);
  K_free(m);
  printf("%s T=%d D=%d units=%d%s%s: %s\n", cell, R_T, R_D, R_U, R_REV ? " reversed" : "", R_MASK ? " masked" : "",
         bad ? "DIFFER" : "ok");
  return bad != 0;
}
