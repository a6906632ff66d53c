/* nan_host.c — NaN and infinities through every op built on a comparison.
 *
 * Run by nan_propagation.sh as `host LIB`: loads the shared library that
 * nnc built from the script's models (either backend) and feeds each model
 * NaN, ±inf, ±0 and ordinary numbers. A NaN operand must give NaN (relu,
 * leaky_relu, elu, softplus, max over axes, softmax, log_softmax,
 * max_pool2d, the losses' clipping, the optimizer's clip_value); argmax
 * picks the first NaN, as numpy does; every other number must keep the
 * bits the ops gave before NaN propagated (the first maximum wins among
 * equal ones, -0.0 included). Prints every result (NaN as "nan") on
 * standard output, so that the script can compare the two backends, and
 * one FAIL line per wrong number on standard error. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "nnrt_vmath.h"

static void *lib;
static int failed;

typedef void *CreateFn(uint64_t);
typedef void FreeFn(void *);
typedef const void *PredictFn(void *, const void *const *, int64_t);
typedef double StepFn(void *, const void *const *, const void *, int64_t);
typedef int ParamFn(void *, const char *, void *, size_t);

static void *sym(const char *model, const char *fn) {
  char name[128];
  snprintf(name, sizeof name, "%s_%s", model, fn);
  void *p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "FAIL: %s is missing\n", name);
    failed = 1;
  }
  return p;
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static void print(float f) {
  if (isnan(f)) printf(" nan");
  else printf(" %08x", (unsigned)bits(f));
}

/* got must be NaN when want is, else have want's bits. */
static void same(const char *what, int i, float got, float want) {
  print(got);
  if (isnan(want) ? isnan(got) : bits(got) == bits(want)) return;
  fprintf(stderr, "FAIL: %s[%d] = %.9g (%08x), want %.9g (%08x)\n", what, i, got, (unsigned)bits(got), want,
          (unsigned)bits(want));
  failed = 1;
}

/* model(x) for n samples: the first `bytes` of its first output into out. */
static int predict(const char *model, const float *x, int64_t n, void *out, size_t bytes) {
  CreateFn *create = (CreateFn *)sym(model, "create");
  PredictFn *run = (PredictFn *)sym(model, "predict");
  FreeFn *destroy = (FreeFn *)sym(model, "free");
  if (!create || !run || !destroy) return 0;
  void *m = create(1);
  const void *in[1] = {x};
  memcpy(out, run(m, in, n), bytes);
  destroy(m);
  return 1;
}

static void check_each(const char *model, const float *x, int n, const float *want) {
  float y[64];
  int ok = predict(model, x, 1, y, sizeof(float) * (size_t)n);
  printf("%s:", model);
  for (int i = 0; ok && i < n; i++) same(model, i, y[i], want[i]);
  printf("\n");
}

/* ------------------------------------------------ the old definitions */

static float relu(float x) { return x > 0 ? x : 0; }

static const float NaN = NAN, INF = INFINITY;
enum { K = 10 };
static const float X[K] = {NAN, -NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1.5f, -2.5f, 1e-40f, -3e38f};

static void elementwise(void) {
  float want[K];
  for (int i = 0; i < K; i++) want[i] = isnan(X[i]) ? NaN : relu(X[i]);
  check_each("Relu", X, K, want);
  for (int i = 0; i < K; i++) /* relu(x) - 0.25 relu(-x), each rounded to float */
    want[i] = isnan(X[i]) ? NaN : relu(X[i]) - (float)(relu(-X[i]) * 0.25);
  check_each("Leaky", X, K, want);
  for (int i = 0; i < K; i++) { /* x if x > 0 else 0.5 (exp(min(x, 0)) - 1) */
    float lo = X[i] <= 0 ? X[i] : 0, e = (float)exp(lo), neg = (float)(0.5 * (float)(e - 1.0));
    want[i] = isnan(X[i]) ? NaN : X[i] > 0 ? X[i] : neg;
  }
  check_each("Elu", X, K, want);
  for (int i = 0; i < K; i++) { /* relu(x) + log1p(exp(-|x|)) */
    float t = (float)log1p((float)exp(-fabs(X[i])));
    want[i] = isnan(X[i]) ? NaN : (float)((double)relu(X[i]) + t);
  }
  check_each("Softplus", X, K, want);
}

/* Rows of 4: a NaN among numbers, -0.0 before +0.0, all -inf, +inf then NaN. */
enum { R = 4, C = 4 };
static const float ROWS[R * C] = {1, 2, NAN, 3, -0.0f, 0.0f, -INFINITY, -1,
                                  -INFINITY, -INFINITY, -INFINITY, -INFINITY, INFINITY, NAN, 1, 2};

static void rows(void) {
  float want[2 * R + 2 * R * C]; /* max, argmax, softmax, log-softmax */
  for (int r = 0; r < R; r++) {
    const float *x = ROWS + r * C;
    float m = -INF;
    int arg = 0, nan = -1;
    for (int j = 0; j < C; j++) {
      if (x[j] > m) m = x[j], arg = j;
      if (isnan(x[j]) && nan < 0) nan = j;
    }
    want[r] = nan >= 0 ? NaN : m;
    want[R + r] = (float)(nan >= 0 ? nan : arg);
    /* f32: the exponentials in float (the runtime's nnrt_expf), summed in double */
    double sum = 0;
    float e[C];
    for (int j = 0; j < C; j++) sum += e[j] = nnrt_expf((float)(x[j] - (double)m));
    for (int j = 0; j < C; j++) {
      double z = x[j] - (double)m;
      want[2 * R + r * C + j] = nan >= 0 ? NaN : (float)(e[j] / sum);
      want[2 * R + R * C + r * C + j] = nan >= 0 ? NaN : (float)(z - log(sum));
    }
  }
  check_each("RowMax", ROWS, R, want);
  int32_t arg[R];
  int ok = predict("ArgMax", ROWS, 1, arg, sizeof arg);
  printf("ArgMax:");
  for (int r = 0; ok && r < R; r++) same("ArgMax", r, (float)arg[r], want[R + r]);
  printf("\n");
  check_each("Softmax", ROWS, R * C, want + 2 * R);
  check_each("LogSoftmax", ROWS, R * C, want + 2 * R + R * C);
  /* the rows as 4 samples of [4]: the maximum over the batch (the reduced
   * axis leads) */
  float cols[C], y[C];
  for (int j = 0; j < C; j++) {
    float m = -INF;
    int nan = 0;
    for (int r = 0; r < R; r++) {
      nan |= isnan(ROWS[r * C + j]);
      if (ROWS[r * C + j] > m) m = ROWS[r * C + j];
    }
    cols[j] = nan ? NaN : m;
  }
  ok = predict("BatchMax", ROWS, R, y, sizeof y);
  printf("BatchMax:");
  for (int j = 0; ok && j < C; j++) same("BatchMax", j, y[j], cols[j]);
  printf("\n");
}

/* A [4, 4, 2] image, 2x2 windows: channel 0 has a NaN in the first window
 * and +inf in the third; channel 1 is ordinary, with -0.0 before +0.0. */
static void pooling(void) {
  enum { H = 4, W = 4, CH = 2 };
  float x[H * W * CH];
  for (int i = 0; i < H * W; i++) x[i * CH] = (float)(i % 5) - 2, x[i * CH + 1] = -(float)(i % 3);
  x[(0 * W + 1) * CH] = NaN;
  x[(2 * W + 0) * CH] = INF;
  x[(0 * W + 2) * CH + 1] = -0.0f, x[(0 * W + 3) * CH + 1] = 0.0f, x[(1 * W + 2) * CH + 1] = -0.0f;
  x[(1 * W + 3) * CH + 1] = -1;
  float want[2 * 2 * CH];
  for (int oh = 0; oh < 2; oh++)
    for (int ow = 0; ow < 2; ow++)
      for (int c = 0; c < CH; c++) {
        float m = -INF;
        int nan = 0;
        for (int kh = 0; kh < 2; kh++)
          for (int kw = 0; kw < 2; kw++) {
            float v = x[((2 * oh + kh) * W + 2 * ow + kw) * CH + c];
            nan |= isnan(v);
            if (v > m) m = v;
          }
        want[(oh * 2 + ow) * CH + c] = nan ? NaN : m;
      }
  check_each("Pool", x, 2 * 2 * CH, want);
  /* 3x3 windows at stride 2 with 'same' padding: [2, 2], the padding never wins */
  float same3[2 * 2 * CH];
  for (int oh = 0; oh < 2; oh++)
    for (int ow = 0; ow < 2; ow++)
      for (int c = 0; c < CH; c++) {
        float m = -INF;
        int nan = 0;
        for (int ih = 2 * oh; ih < 2 * oh + 3 && ih < H; ih++)
          for (int iw = 2 * ow; iw < 2 * ow + 3 && iw < W; iw++) {
            float v = x[(ih * W + iw) * CH + c];
            nan |= isnan(v);
            if (v > m) m = v;
          }
        same3[(oh * 2 + ow) * CH + c] = nan ? NaN : m;
      }
  check_each("PoolSame", x, 2 * 2 * CH, same3);
}

/* Losses and training: the clipped probability of binary cross-entropy,
 * Huber's min, and clip_value on the gradients. */
static void training(void) {
  const float p[2] = {0.25f, NAN}, ok[2] = {0.25f, 0.5f}, y[2] = {1, 0};
  const void *in[1] = {p}, *in_ok[1] = {ok};
  for (int k = 0; k < 2; k++) {
    const char *model = k ? "Huber" : "Prob";
    CreateFn *create = (CreateFn *)sym(model, "create");
    StepFn *evaluate = (StepFn *)sym(model, "evaluate");
    FreeFn *destroy = (FreeFn *)sym(model, "free");
    if (!create || !evaluate || !destroy) continue;
    void *m = create(1);
    double bad = evaluate(m, in, y, 1), good = evaluate(m, in_ok, y, 1);
    /* bce of 0.25 against 1 and 0.5 against 0; huber (delta 1) of 0.75 and 0.5 */
    double want = k ? (0.5 * 0.75 * 0.75 + 0.5 * 0.5 * 0.5) / 2 : -(log(0.25) + log(0.5)) / 2;
    printf("%s: %s %.6g\n", model, isnan(bad) ? "nan" : "number", good);
    if (!isnan(bad)) fprintf(stderr, "FAIL: %s's loss of a NaN is %g\n", model, bad), failed = 1;
    if (!(fabs(good - want) < 1e-6)) fprintf(stderr, "FAIL: %s's loss %.9g, want %.9g\n", model, good, want), failed = 1;
    destroy(m);
  }
  /* a NaN input: the loss and, through clip_value, every weight NaN */
  CreateFn *create = (CreateFn *)sym("Clip", "create");
  StepFn *step = (StepFn *)sym("Clip", "train_step");
  ParamFn *get = (ParamFn *)sym("Clip", "get_param");
  FreeFn *destroy = (FreeFn *)sym("Clip", "free");
  if (!create || !step || !get || !destroy) return;
  const float x[2 * 3] = {1, 2, 3, 0.5f, NAN, -1}, label[2] = {1, 2}, fine[2 * 3] = {1, 2, 3, 0.5f, 0, -1};
  const void *xin[1] = {x}, *fin[1] = {fine};
  for (int k = 0; k < 2; k++) {
    void *m = create(1);
    float w0[3], w[3];
    get(m, "dense1.W", w0, sizeof w0);
    double loss = step(m, k ? fin : xin, label, 2);
    get(m, "dense1.W", w, sizeof w);
    printf("Clip:%s", isnan(loss) ? " nan" : " number");
    for (int i = 0; i < 3; i++) {
      print(w[i]);
      /* a finite step moves each weight by at most lr (0.01) * clip (0.5) */
      int good = k ? fabsf(w[i] - w0[i]) <= 0.00501f && w[i] != w0[i] : isnan(w[i]);
      if (!good) fprintf(stderr, "FAIL: Clip's dense1.W[%d] %g after a step from %g%s\n", i, w[i], w0[i],
                         k ? "" : " on a NaN input"), failed = 1;
    }
    printf("\n");
    if (isnan(loss) != !k) fprintf(stderr, "FAIL: Clip's loss %g\n", loss), failed = 1;
    destroy(m);
  }
}

/* A NaN weight before a relu: the loss, and after one step every weight. */
static void nan_weight(void) {
  CreateFn *create = (CreateFn *)sym("Hidden", "create");
  StepFn *step = (StepFn *)sym("Hidden", "train_step");
  ParamFn *get = (ParamFn *)sym("Hidden", "get_param"), *set = (ParamFn *)sym("Hidden", "set_param");
  FreeFn *destroy = (FreeFn *)sym("Hidden", "free");
  if (!create || !step || !get || !set || !destroy) return;
  void *m = create(1);
  float b[2] = {NAN, 0}, w[2];
  set(m, "dense1.b", b, sizeof b);
  const float x[2] = {1, -1}, y[1] = {0.5f};
  const void *in[1] = {x};
  double loss = step(m, in, y, 1);
  get(m, "dense2.W", w, sizeof w);
  printf("Hidden: %s", isnan(loss) ? "nan" : "number");
  print(w[0]), print(w[1]);
  printf("\n");
  if (!isnan(loss) || !isnan(w[0]) || !isnan(w[1]))
    fprintf(stderr, "FAIL: a NaN bias before a relu gives the loss %g and dense2.W %g %g\n", loss, w[0], w[1]),
        failed = 1;
  destroy(m);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "FAIL: %s\n", dlerror());
    return 1;
  }
  elementwise();
  rows();
  pooling();
  training();
  nan_weight();
  return failed;
}
