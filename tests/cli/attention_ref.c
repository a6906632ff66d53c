/* attention_ref.c — multi-head attention forward against softmax(Q K^T /
 * sqrt(d) + masks) V written out here.
 *
 * Compiled by attention_forward.sh with one model K (K.c from nnc
 * --no-main): inputs x[T, D], c[S, C] and keep[S]; the output is
 * attention(x, H, context: c (R_CROSS), causal: R_CAUSAL, mask: keep
 * (R_MASK)). Sets random weights and biases, runs K_predict on random
 * inputs (a mask with some positions hidden, one sample's all hidden) and
 * compares every output. */
#include "K.c" /* first: it sets _POSIX_C_SOURCE */
#include <math.h>

enum { BATCH = 3, CW = R_CROSS ? R_C : R_D, SP = R_CROSS ? R_S : R_T };

static float rnd(uint64_t *r) {
  *r = *r * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(*r >> 11) / 9007199254740992.0 * 2 - 1);
}

static float x[BATCH * R_T * R_D], c[BATCH * SP * CW], keep[BATCH * SP];
static float Wq[R_D * R_D], Wk[CW * R_D], Wv[CW * R_D], Wo[R_D * R_D], bq[R_D], bk[R_D], bv[R_D], bo[R_D];
static float want[BATCH * R_T * R_D];

static int set(K_Model *m, const char *p, float *v, size_t bytes, uint64_t *r) {
  for (size_t i = 0; i < bytes / sizeof *v; i++) v[i] = rnd(r);
  char name[64];
  snprintf(name, sizeof name, "attention1.%s", p);
  if (K_set_param(m, name, v, bytes) == 0) return 0;
  fprintf(stderr, "no parameter %s of %zu bytes\n", name, bytes);
  return 1;
}

/* y[T, D] = a[T, k] W[k, D] + b */
static void proj(const float *a, int T, int k, const float *W, const float *b, double *y) {
  for (int t = 0; t < T; t++)
    for (int j = 0; j < R_D; j++) {
      double s = b[j];
      for (int i = 0; i < k; i++) s += (double)a[t * k + i] * W[i * R_D + j];
      y[t * R_D + j] = s;
    }
}

int main(void) {
  uint64_t r = 2024;
  for (int i = 0; i < BATCH * R_T * R_D; i++) x[i] = rnd(&r);
  for (int i = 0; i < BATCH * SP * CW; i++) c[i] = rnd(&r);
  for (int i = 0; i < BATCH * SP; i++) keep[i] = R_MASK ? (i % SP) % 3 != 1 : 1;
  for (int i = 0; R_MASK && i < SP; i++) keep[(BATCH - 1) * SP + i] = 0; /* every position hidden */
  K_Model *m = K_create(1);
  if (set(m, "Wq", Wq, sizeof Wq, &r) || set(m, "Wk", Wk, sizeof Wk, &r) || set(m, "Wv", Wv, sizeof Wv, &r) ||
      set(m, "Wo", Wo, sizeof Wo, &r) || set(m, "bq", bq, sizeof bq, &r) || set(m, "bk", bk, sizeof bk, &r) ||
      set(m, "bv", bv, sizeof bv, &r) || set(m, "bo", bo, sizeof bo, &r))
    return 1;
  const int d = R_D / R_H;
  for (int n = 0; n < BATCH; n++) {
    const float *cn = R_CROSS ? c + n * SP * CW : x + n * R_T * R_D;
    double Q[R_T * R_D], K[SP * R_D], V[SP * R_D], O[R_T * R_D];
    proj(x + n * R_T * R_D, R_T, R_D, Wq, bq, Q);
    proj(cn, SP, CW, Wk, bk, K);
    proj(cn, SP, CW, Wv, bv, V);
    for (int h = 0; h < R_H; h++)
      for (int i = 0; i < R_T; i++) {
        double s[SP], top = -INFINITY, sum = 0;
        for (int j = 0; j < SP; j++) {
          double dot = 0;
          for (int e = 0; e < d; e++) dot += Q[i * R_D + h * d + e] * K[j * R_D + h * d + e];
          s[j] = dot / sqrt((double)d);
          if ((R_CAUSAL && j > i) || keep[n * SP + j] < 0.5) s[j] = -1e9; /* hidden */
          top = s[j] > top ? s[j] : top;
        }
        for (int j = 0; j < SP; j++) sum += exp(s[j] - top);
        for (int e = 0; e < d; e++) {
          double o = 0;
          for (int j = 0; j < SP; j++) o += exp(s[j] - top) / sum * V[j * R_D + h * d + e];
          O[i * R_D + h * d + e] = o;
        }
      }
    float Of[R_T * R_D];
    for (int i = 0; i < R_T * R_D; i++) Of[i] = (float)O[i];
    double Y[R_T * R_D];
    proj(Of, R_T, R_D, Wo, bo, Y);
    for (int i = 0; i < R_T * R_D; i++) want[n * R_T * R_D + i] = (float)Y[i];
  }
  const void *in[3] = {x, c, keep};
  const float *got = K_predict(m, in, BATCH);
  int bad = 0;
  for (int i = 0; i < BATCH * R_T * R_D; i++)
    if (fabs(got[i] - want[i]) > 1e-4 * (1 + fabs(want[i])) && bad++ < 5)
      fprintf(stderr, "output %d: compiled %.9g, explicit %.9g\n", i, got[i], want[i]);
  K_free(m);
  printf("attention T=%d D=%d heads=%d%s%s%s: %s\n", R_T, R_D, R_H, R_CROSS ? " cross" : "",
         R_CAUSAL ? " causal" : "", R_MASK ? " masked" : "", bad ? "DIFFER" : "ok");
  return bad != 0;
}
