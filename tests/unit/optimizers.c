/* optimizers.c — the optimizer updates, schedules, clipping and weight decay
 * of compiled training steps against the formulas computed here by hand.
 *
 * Each case compiles a one-weight-vector model (y = x . w, loss mse, f64)
 * with one train block, runs five training steps with the reference
 * evaluator, and compares w after every step with an independent
 * computation of the same optimizer. Also checks batch norm's running
 * statistics. Prints one line per case and "N passed, N failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

enum { STEPS = 5 };
static const double X[2] = {0.5, -1.0}, Y = 3.0, W0 = 0.5;
static int passed, failed;

/* Compiles `src` and returns its training step, simplified. */
static Graph *compile(const char *src, Sema *s) {
  diag_reset(stderr);
  *s = (Sema){.default_float = DT_F64};
  SrcFile *f = source_from_memory("case.nn", src, strlen(src));
  Program *p = load_program(f);
  if (diag.errors || !sema_check(s, p)) return NULL;
  Graph *g = lower_training(s, s->trains);
  if (!g) return NULL;
  g = simplify(g);
  verify(g, "simplify");
  return g;
}

/* The reference: the optimizer's state and update, written out plainly. */
typedef struct Ref {
  double w[2], m[2], v[2], b[2];
} Ref;

typedef double LrFn(int epoch);
typedef void StepFn(Ref *r, const double g[2], double lr, int t);

static double lr_const(int e) { (void)e; return 0.1; }
static double lr_step(int e) { return 0.1 * pow(0.5, floor(e / 2.0)); }
static double lr_exponential(int e) { return 0.1 * pow(0.5, e / 1.0); }
static double lr_cosine(int e) {
  double E = 4, lo = 0.01, f = (e < E ? e : E) / E;
  return lo + (0.1 - lo) * 0.5 * (1 + cos(3.14159265358979323846 * f));
}
static double lr_warmup(int e) { return 0.1 * fmin(1.0, (e + 1) / 3.0); }

static void sgd(Ref *r, const double g[2], double lr, int t) {
  (void)t;
  for (int i = 0; i < 2; i++) r->w[i] -= lr * g[i];
}
static void momentum(Ref *r, const double g[2], double lr, int t) {
  (void)t;
  for (int i = 0; i < 2; i++) {
    r->b[i] = 0.9 * r->b[i] + g[i];
    r->w[i] -= lr * r->b[i];
  }
}
static void nesterov(Ref *r, const double g[2], double lr, int t) {
  (void)t;
  for (int i = 0; i < 2; i++) {
    r->b[i] = 0.9 * r->b[i] + g[i];
    r->w[i] -= lr * (g[i] + 0.9 * r->b[i]);
  }
}
static void adam_like(Ref *r, const double g[2], double lr, int t, double wd) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
  for (int i = 0; i < 2; i++) {
    r->m[i] = b1 * r->m[i] + (1 - b1) * g[i];
    r->v[i] = b2 * r->v[i] + (1 - b2) * g[i] * g[i];
    double mh = r->m[i] / (1 - pow(b1, t)), vh = r->v[i] / (1 - pow(b2, t));
    r->w[i] -= lr * (mh / (sqrt(vh) + eps) + wd * r->w[i]);
  }
}
static void adam(Ref *r, const double g[2], double lr, int t) { adam_like(r, g, lr, t, 0); }
static void adamw(Ref *r, const double g[2], double lr, int t) { adam_like(r, g, lr, t, 0.1); }
static void rmsprop(Ref *r, const double g[2], double lr, int t) {
  (void)t;
  for (int i = 0; i < 2; i++) {
    r->v[i] = 0.9 * r->v[i] + 0.1 * g[i] * g[i];
    r->w[i] -= lr * g[i] / (sqrt(r->v[i]) + 1e-7);
  }
}
static void rmsprop_momentum(Ref *r, const double g[2], double lr, int t) {
  (void)t;
  for (int i = 0; i < 2; i++) {
    r->v[i] = 0.9 * r->v[i] + 0.1 * g[i] * g[i];
    r->b[i] = 0.5 * r->b[i] + g[i] / (sqrt(r->v[i]) + 1e-7);
    r->w[i] -= lr * r->b[i];
  }
}
static void adagrad(Ref *r, const double g[2], double lr, int t) {
  (void)t;
  for (int i = 0; i < 2; i++) {
    if (t == 1) r->v[i] = 0.1; /* initial accumulator */
    r->v[i] += g[i] * g[i];
    r->w[i] -= lr * g[i] / (sqrt(r->v[i]) + 1e-7);
  }
}

typedef struct Case {
  const char *name;
  const char *train;      /* the train block's optimizer and extra settings */
  StepFn *step;
  LrFn *lr;
  double clip_value, clip_norm, weight_decay;
} Case;

static void run_case(const Case *c) {
  char src[1024];
  snprintf(src, sizeof src,
           "model M {\n  input x: [2]\n  dense(1, use_bias: false, kernel_init: constant(%g))\n}\n"
           "train M {\n  loss mse\n  %s\n}\n", W0, c->train);
  Sema s;
  Graph *g = compile(src, &s);
  if (!g) {
    printf("FAIL %s: does not compile\n", c->name);
    failed++;
    return;
  }
  Eval *e = eval_new(g, 1);
  eval_init_params(e, 1);
  e->inputs[0].d[0] = X[0];
  e->inputs[0].d[1] = X[1];
  e->labels[0].d[0] = Y;
  Ref r = {.w = {W0, W0}};
  double worst = 0;
  for (int t = 1; t <= STEPS; t++) {
    e->scalars[SC_STEP] = t;
    e->scalars[SC_EPOCH] = t - 1; /* one step an epoch: the schedule moves every step */
    eval_run(e);
    eval_apply_updates(e);
    /* reference gradient of (x.w - y)^2 + wd |w|^2, clipped */
    double pred = X[0] * r.w[0] + X[1] * r.w[1], gr[2], norm = 0;
    for (int i = 0; i < 2; i++) {
      gr[i] = 2 * (pred - Y) * X[i] + 2 * c->weight_decay * r.w[i];
      if (c->clip_value > 0) gr[i] = fmax(-c->clip_value, fmin(c->clip_value, gr[i]));
      norm += gr[i] * gr[i];
    }
    norm = sqrt(norm);
    if (c->clip_norm > 0 && norm > c->clip_norm)
      for (int i = 0; i < 2; i++) gr[i] *= c->clip_norm / norm;
    c->step(&r, gr, c->lr(t - 1), t);
    for (int i = 0; i < 2; i++) {
      double err = fabs(e->params[0].d[i] - r.w[i]) / fmax(1, fabs(r.w[i]));
      if (err > worst) worst = err;
    }
  }
  bool ok = worst < 1e-12;
  printf("%s %-28s w = [%.12g, %.12g] (reference [%.12g, %.12g], worst rel err %.1e)\n",
         ok ? "ok  " : "FAIL", c->name, e->params[0].d[0], e->params[0].d[1], r.w[0], r.w[1],
         worst);
  ok ? passed++ : failed++;
  eval_free(e);
}

/* Batch norm's running statistics after one training step. */
static void batch_norm_stats(void) {
  const char *src = "model B {\n  input x: [2]\n  batch_norm(momentum: 0.8)\n  dense(1)\n}\n"
                    "train B {\n  loss mse\n  optimizer sgd\n}\n";
  Sema s;
  Graph *g = compile(src, &s);
  if (!g) {
    printf("FAIL batch_norm statistics: does not compile\n");
    failed++;
    return;
  }
  Eval *e = eval_new(g, 4);
  eval_init_params(e, 1);
  const double x[4][2] = {{1, 2}, {3, -2}, {5, 0}, {-1, 4}};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 2; j++) e->inputs[0].d[i * 2 + j] = x[i][j];
  eval_run(e);
  eval_apply_updates(e);
  bool ok = true;
  for (int j = 0; j < 2; j++) {
    double mean = 0, var = 0;
    for (int i = 0; i < 4; i++) mean += x[i][j] / 4;
    for (int i = 0; i < 4; i++) var += (x[i][j] - mean) * (x[i][j] - mean) / 4;
    /* moving_mean starts at 0, moving_var at 1 */
    double want_mean = 0.8 * 0 + 0.2 * mean, want_var = 0.8 * 1 + 0.2 * var;
    for (int k = 0; k < g->nstates; k++) {
      const char *name = g->states[k]->name;
      double want = strstr(name, "moving_mean") ? want_mean : strstr(name, "moving_var") ? want_var : NAN;
      if (!isnan(want) && fabs(e->states[k].d[j] - want) > 1e-12) ok = false;
    }
  }
  printf("%s batch_norm running statistics\n", ok ? "ok  " : "FAIL");
  ok ? passed++ : failed++;
  eval_free(e);
}

int main(void) {
  const Case cases[] = {
    {"sgd", "optimizer sgd(lr: 0.1)", sgd, lr_const, 0, 0, 0},
    {"sgd momentum", "optimizer sgd(lr: 0.1, momentum: 0.9)", momentum, lr_const, 0, 0, 0},
    {"sgd nesterov", "optimizer sgd(lr: 0.1, momentum: 0.9, nesterov: true)", nesterov, lr_const, 0, 0, 0},
    {"adam", "optimizer adam(lr: 0.1)", adam, lr_const, 0, 0, 0},
    {"adamw", "optimizer adamw(lr: 0.1, weight_decay: 0.1)", adamw, lr_const, 0, 0, 0},
    {"rmsprop", "optimizer rmsprop(lr: 0.1)", rmsprop, lr_const, 0, 0, 0},
    {"rmsprop momentum", "optimizer rmsprop(lr: 0.1, momentum: 0.5)", rmsprop_momentum, lr_const, 0, 0, 0},
    {"adagrad", "optimizer adagrad(lr: 0.1)", adagrad, lr_const, 0, 0, 0},
    {"clip by value", "optimizer sgd(lr: 0.1, clip_value: 0.5)", sgd, lr_const, 0.5, 0, 0},
    {"clip by global norm", "optimizer sgd(lr: 0.1, clip_norm: 1.0)", sgd, lr_const, 0, 1.0, 0},
    {"L2 weight decay", "optimizer sgd(lr: 0.1)\n  weight_decay 0.1", sgd, lr_const, 0, 0, 0.1},
    {"schedule step", "optimizer sgd(lr: 0.1)\n  schedule step(every: 2, factor: 0.5)", sgd, lr_step, 0, 0, 0},
    {"schedule exponential", "optimizer sgd(lr: 0.1)\n  schedule exponential(rate: 0.5)", sgd, lr_exponential, 0, 0, 0},
    {"schedule cosine", "optimizer sgd(lr: 0.1)\n  schedule cosine(epochs: 4, min_lr: 0.01)", sgd, lr_cosine, 0, 0, 0},
    {"schedule warmup", "optimizer sgd(lr: 0.1)\n  schedule warmup(epochs: 3)", sgd, lr_warmup, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
  batch_norm_stats();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
