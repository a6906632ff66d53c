/* nan.c — NaN, infinities and signed zeros through the reference evaluator.
 *
 * Every op built on a comparison (relu, step, sign, max, min, gt, select,
 * rmax, softmax, log-softmax, argmax, maxpool and its gradient) runs in
 * the evaluator, which the backends are checked against, on NaN, ±inf, ±0
 * and ordinary numbers: a NaN operand gives NaN (argmax: the index of the
 * first NaN, as numpy; maxpool_b: NaN to a window's first NaN), and every
 * other number has the bits the op gave before NaN propagated. Then
 * autodiff's rules: a NaN parameter before relu, abs, leaky_relu, elu, a
 * max over an axis or max pooling makes its gradient NaN. Prints one line
 * per case and "N passed, N failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

static int passed, failed;

enum { K = 10 };
static const double X[K] = {NAN, -NAN, INFINITY, -INFINITY, -0.0, 0.0, 1.5, -2.5, 1e-310, -3e300};

/* got must be NaN when want is, else have want's bits. */
static bool same(double got, double want) {
  return isnan(want) ? isnan(got) : memcmp(&got, &want, sizeof got) == 0;
}

static void report(const char *what, bool ok) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  ok ? passed++ : failed++;
}

/* Every element of value id against want, n of them. */
static void expect(Eval *e, int id, const double *want, int64_t n, const char *what) {
  const Tensor *t = &e->vals[id];
  bool ok = t->n == n;
  for (int64_t i = 0; ok && i < n; i++)
    if (!same(t->d[i], want[i])) {
      printf("  %s[%lld] = %.17g, want %.17g\n", what, (long long)i, t->d[i], want[i]);
      ok = false;
    }
  report(what, ok);
}

/* The graph in the IR's text form, run on inputs given as one sample each. */
static Eval *run(const char *text, const double *const *inputs, int64_t batch) {
  diag_reset(stderr);
  Graph *g = parse_ir(source_from_memory("case.ir", text, strlen(text)));
  if (!g || diag.errors) {
    fprintf(stderr, "the case's IR does not read\n");
    exit(1);
  }
  Eval *e = eval_new(g, batch);
  for (int i = 0; i < g->ninputs; i++) memcpy(e->inputs[i].d, inputs[i], sizeof(double) * (size_t)e->inputs[i].n);
  eval_run(e);
  return e;
}

/* ------------------------------------------------------- elementwise */

static double relu(double a) { return isnan(a) ? a : a > 0 ? a : 0; }
static double step(double a) { return isnan(a) ? a : a > 0 ? 1 : 0; }
static double sign(double a) { return isnan(a) ? a : (a > 0) - (a < 0); }
static double max(double a, double b) { return isnan(a) || isnan(b) ? NAN : a >= b ? a : b; }
static double min(double a, double b) { return isnan(a) || isnan(b) ? NAN : a <= b ? a : b; }
static double gt(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b; }

static void elementwise(void) {
  double a[K * K], b[K * K], c[K * K], want[6][K * K];
  for (int i = 0; i < K * K; i++) {
    a[i] = X[i / K], b[i] = X[i % K];
    want[0][i] = relu(a[i]), want[1][i] = step(a[i]), want[2][i] = sign(a[i]);
    want[3][i] = max(a[i], b[i]), want[4][i] = min(a[i], b[i]), want[5][i] = gt(a[i], b[i]);
  }
  const double *in[2] = {a, b};
  Eval *e = run("graph G (inference, 8 values)\n"
                "  %0 = input {index: 0} : f64[N, 100]\n"
                "  %1 = input {index: 1} : f64[N, 100]\n"
                "  %2 = relu %0 : f64[N, 100]\n"
                "  %3 = step %0 : f64[N, 100]\n"
                "  %4 = sign %0 : f64[N, 100]\n"
                "  %5 = max %0, %1 : f64[N, 100]\n"
                "  %6 = min %0, %1 : f64[N, 100]\n"
                "  %7 = gt %0, %1 : f64[N, 100]\n",
                in, 1);
  static const char *names[] = {"relu", "step", "sign", "max", "min", "gt"};
  for (int k = 0; k < 6; k++) expect(e, 2 + k, want[k], K * K, names[k]);
  eval_free(e);
  /* select: a NaN condition gives NaN; a NaN in the branch not taken does not count */
  for (int i = 0; i < K * K; i++) {
    c[i] = X[i / K], a[i] = X[i % K], b[i] = i % 3 ? 7 : NAN;
    want[0][i] = isnan(c[i]) ? NAN : c[i] != 0 ? a[i] : b[i];
  }
  const double *sin[3] = {c, a, b};
  e = run("graph G (inference, 4 values)\n"
          "  %0 = input {index: 0} : f64[N, 100]\n"
          "  %1 = input {index: 1} : f64[N, 100]\n"
          "  %2 = input {index: 2} : f64[N, 100]\n"
          "  %3 = select %0, %1, %2 : f64[N, 100]\n",
          sin, 1);
  expect(e, 3, want[0], K * K, "select");
  eval_free(e);
  /* folding constants uses the same kernels */
  report("folded relu, max and gt of NaN",
         isnan(eval_scalar_op(OP_RELU, NAN, 0, 0)) && isnan(eval_scalar_op(OP_MAX, 1, NAN, 0)) &&
             isnan(eval_scalar_op(OP_GT, NAN, 1, 0)) && isnan(eval_select(NAN, 1, 2)) && eval_select(0, NAN, 2) == 2);
}

/* ---------------------------------------------------------- reductions */

/* Rows of 4: a NaN among numbers, -0.0 before +0.0, all -inf, +inf then NaN. */
enum { R = 4, C = 4 };
static const double ROWS[R * C] = {1, 2, NAN, 3, -0.0, 0.0, -INFINITY, -1,
                                   -INFINITY, -INFINITY, -INFINITY, -INFINITY, INFINITY, NAN, 1, 2};

static void reductions(void) {
  double rmax[R], arg[R], soft[R * C], logsoft[R * C], cols[C];
  for (int r = 0; r < R; r++) {
    const double *x = ROWS + r * C;
    double m = -INFINITY, sum = 0;
    int at = 0, nan = -1;
    for (int j = 0; j < C; j++) {
      if (x[j] > m) m = x[j], at = j;
      if (isnan(x[j]) && nan < 0) nan = j;
    }
    rmax[r] = nan >= 0 ? NAN : m;
    arg[r] = nan >= 0 ? nan : at;
    for (int j = 0; j < C; j++) sum += exp(x[j] - m);
    for (int j = 0; j < C; j++) {
      soft[r * C + j] = nan >= 0 ? NAN : exp(x[j] - m) / sum;
      logsoft[r * C + j] = nan >= 0 ? NAN : x[j] - m - log(sum);
    }
  }
  for (int j = 0; j < C; j++) { /* over the rows: the reduced axis leads */
    cols[j] = -INFINITY;
    for (int r = 0; r < R; r++) cols[j] = max(cols[j], ROWS[r * C + j]);
  }
  const double *in[1] = {ROWS};
  Eval *e = run("graph G (inference, 6 values)\n"
                "  %0 = input {index: 0} : f64[N, 4, 4]\n"
                "  %1 = rmax %0 {axes: [2]} : f64[N, 4]\n"
                "  %2 = argmax %0 {axis: 2} : i32[N, 4]\n"
                "  %3 = softmax %0 {axis: 2} : f64[N, 4, 4]\n"
                "  %4 = logsoftmax %0 {axis: 2} : f64[N, 4, 4]\n"
                "  %5 = rmax %0 {axes: [0, 1]} : f64[4]\n",
                in, 1);
  expect(e, 1, rmax, R, "rmax along rows");
  expect(e, 2, arg, R, "argmax");
  expect(e, 3, soft, R * C, "softmax");
  expect(e, 4, logsoft, R * C, "logsoftmax");
  expect(e, 5, cols, C, "rmax over leading axes");
  eval_free(e);
}

/* A [4, 4, 2] image, 2x2 windows: channel 0 has a NaN in the first
 * window, at its second cell, and +inf in the third; channel 1 is
 * ordinary, -0.0 before +0.0 in its second window. maxpool_b sends each
 * window's gradient to its first maximum, and NaN to the first NaN. */
static void pooling(void) {
  enum { H = 4, W = 4, CH = 2 };
  double x[H * W * CH], dy[2 * 2 * CH], y[2 * 2 * CH], dx[H * W * CH] = {0};
  for (int i = 0; i < H * W; i++) x[i * CH] = i % 5 - 2, x[i * CH + 1] = -(double)(i % 3);
  x[1 * CH] = NAN, x[(2 * W) * CH] = INFINITY;
  x[2 * CH + 1] = -0.0, x[3 * CH + 1] = 0.0, x[(W + 2) * CH + 1] = -0.0, x[(W + 3) * CH + 1] = -1;
  for (int o = 0; o < 2 * 2 * CH; o++) {
    int oh = o / CH / 2, ow = o / CH % 2, c = o % CH, best = -1;
    double m = -INFINITY;
    dy[o] = o + 1;
    for (int kh = 0; kh < 2; kh++)
      for (int kw = 0; kw < 2; kw++) {
        int xo = ((2 * oh + kh) * W + 2 * ow + kw) * CH + c;
        if (best < 0 || x[xo] > m || (isnan(x[xo]) && !isnan(m))) m = x[xo], best = xo;
      }
    y[o] = m;
    dx[best] += isnan(m) ? m : dy[o];
  }
  const double *in[2] = {x, dy};
  Eval *e = run("graph G (inference, 4 values)\n"
                "  %0 = input {index: 0} : f64[N, 4, 4, 2]\n"
                "  %1 = input {index: 1} : f64[N, 2, 2, 2]\n"
                "  %2 = maxpool %0 {kh: 2, kw: 2, sh: 2, sw: 2, pt: 0, pl: 0, pb: 0, pr: 0, dh: 1, dw: 1} : f64[N, 2, 2, 2]\n"
                "  %3 = maxpool_b %0, %1 {kh: 2, kw: 2, sh: 2, sw: 2, pt: 0, pl: 0, pb: 0, pr: 0, dh: 1, dw: 1} : f64[N, 4, 4, 2]\n",
                in, 1);
  expect(e, 2, y, 2 * 2 * CH, "maxpool");
  expect(e, 3, dx, H * W * CH, "maxpool_b");
  eval_free(e);
}

/* ------------------------------------------------------------ autodiff */

/* d <c, output>/d s with s[0] NaN: NaN, for the activation `act` of x * s. */
static void gradient(const char *act) {
  char *src = arena_printf("layer Scale(x: [n, h, w, c]) {\n"
                           "  param s: [c] = constant(1)\n"
                           "  return x * s\n"
                           "}\n"
                           "model G {\n"
                           "  input x: [2, 2, 2]\n"
                           "  output flatten(%s)\n"
                           "}\n",
                           act);
  diag_reset(stderr);
  Sema s = {.default_float = DT_F64};
  Program *p = load_program(source_from_memory("case.nn", src, strlen(src)));
  Graph *g = diag.errors || !sema_check(&s, p) ? NULL : lower_projection(&s, s.models);
  if (!g) {
    report(act, false);
    return;
  }
  g = simplify(g);
  Eval *e = eval_new(g, 1);
  for (int i = 0; i < g->ninputs; i++)
    for (int64_t j = 0; j < e->inputs[i].n; j++) e->inputs[i].d[j] = 0.5 + 0.25 * (double)j;
  for (int64_t j = 0; j < e->labels[0].n; j++) e->labels[0].d[j] = 1;
  e->params[0].d[0] = NAN, e->params[0].d[1] = 1;
  eval_run(e);
  const Tensor *ds = &e->vals[g->param_grads[0]];
  bool ok = isnan(ds->d[0]) && !isnan(ds->d[1]);
  if (!ok) printf("  d/ds = %g, %g\n", ds->d[0], ds->d[1]);
  report(arena_printf("the gradient through %s of a NaN", act), ok);
  eval_free(e);
}

int main(void) {
  elementwise();
  reductions();
  pooling();
  static const char *acts[] = {"relu(Scale(x))", "abs(Scale(x))", "leaky_relu(Scale(x))", "elu(Scale(x))",
                               "max(Scale(x), axis: 2)", "max_pool2d(Scale(x), 2)"};
  for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) gradient(acts[i]);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
