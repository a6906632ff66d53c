/* gradcheck.c — `nnc --check-grad`: are the gradients autodiff builds right?
 *
 * For every model, on random inputs, parameters and labels, with the
 * reference evaluator:
 *   1. each parameter's gradient of <c, output> (c random) against central
 *      differences, element by element (up to 64 elements a tensor):
 *      |ad - fd| <= atol + rtol |fd|;
 *   2. the whole graph at once: <t, J^T c> from autodiff against <J t, c>
 *      from a central difference along a random direction t of every
 *      parameter;
 *   3. with a train block, the same as 1 for the training loss (the loss
 *      function, its fusion with the output activation, weight decay).
 * In f64 (the default for --check-grad) the figures are eps 1e-6, atol 1e-7,
 * rtol 1e-6, and 1e-5 for the whole graph. In f32 only check 2 runs: the
 * f32 gradient against a difference of the exact (unrounded) function, to
 * rtol 2e-3 (as JAX's check_grads). Where a step crosses a kink of relu or
 * max, the difference is taken again with a step 100 times smaller.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

enum { BATCH = 3, MAX_CHECKED = 64, MAX_CHECKED_BIG = 12 };

typedef struct Check {
  FILE *out;
  bool f64;
  bool ok;
  uint64_t seed;
} Check;

static double gaussian(uint64_t seed, uint64_t stream, uint64_t i) {
  return nnrt_normal(seed, stream, i);
}

static double rnd(DType dt, double x) { return dt == DT_F32 ? (double)(float)x : x; }

/* Random inputs, labels that suit the loss, parameters from their
 * initializers plus noise (so no two units are alike and no bias sits on a
 * kink of relu). */
void eval_randomize(Eval *e, const TrainInfo *t, uint64_t s) {
  Graph *g = e->g;
  for (int i = 0; i < g->ninputs; i++) {
    Tensor *t = &e->inputs[i];
    DType dt = g->v[g->inputs[i]].dtype;
    for (int64_t j = 0; j < t->n; j++)
      t->d[j] = dt == DT_I32 ? (double)(nn_rng_u64(s, 100 + (uint64_t)i, (uint64_t)j) % 2)
                             : rnd(dt, gaussian(s, 100 + (uint64_t)i, (uint64_t)j));
  }
  eval_init_params(e, s);
  for (int i = 0; i < g->nparams; i++) {
    Tensor *t = &e->params[i];
    for (int64_t j = 0; j < t->n; j++)
      t->d[j] = rnd(g->params[i]->dtype, t->d[j] + 0.02 * gaussian(s, 200 + (uint64_t)i, (uint64_t)j));
  }
  for (int l = 0; l < g->nlabels; l++) { /* label l by output l's loss (none: numbers) */
    Tensor *y = &e->labels[l];
    if (g->label_rules[l].kind == NNRT_LABEL_WEIGHTS) { /* sample weights in [0.5, 2) */
      for (int64_t j = 0; j < y->n; j++) y->d[j] = rnd(DT_F32, 0.5 + 1.5 * nn_rng_uniform(s, 390, (uint64_t)j));
      continue;
    }
    const char *loss = t ? t->losses[t->nlosses > 1 ? l : 0].b->name : "";
    const Value *out = &g->v[g->outputs[l < g->noutputs ? l : 0]];
    uint64_t st = 300 + 10 * (uint64_t)l;
    int64_t classes = y->shape.rank ? y->shape.dim[y->shape.rank - 1] : 1;
    for (int64_t j = 0; j < y->n; j++) {
      uint64_t r = nn_rng_u64(s, st, (uint64_t)j);
      if (!strcmp(loss, "sparse_categorical_crossentropy"))
        y->d[j] = (double)(r % (uint64_t)out->shape.dim[out->shape.rank - 1]);
      else if (!strcmp(loss, "categorical_crossentropy"))
        y->d[j] = (j % classes) == (int64_t)(nn_rng_u64(s, st + 1, (uint64_t)(j / classes)) % (uint64_t)classes);
      else if (!strcmp(loss, "binary_crossentropy"))
        y->d[j] = nn_rng_uniform(s, st + 2, (uint64_t)j);
      else
        y->d[j] = gaussian(s, st + 3, (uint64_t)j);
    }
  }
}

static double loss_at(Eval *e) {
  eval_run_for(e, e->g->loss);
  return e->vals[e->g->loss].d[0];
}

/* The central difference of the loss for the number at *p. */
static double central(Eval *e, double *p, double eps) {
  double saved = *p;
  *p = saved + eps;
  double lp = loss_at(e);
  *p = saved - eps;
  double lm = loss_at(e);
  *p = saved;
  return (lp - lm) / (2 * eps);
}

/* Check 1 (and 3): each parameter's gradient, element by element. */
static void check_elements(Check *c, Eval *e, const char *what) {
  Graph *g = e->g;
  const double eps = 1e-6, atol = c->f64 ? 1e-7 : 1e-4, rtol = c->f64 ? 1e-6 : 2e-3;
  fprintf(c->out, "%s\n", what);
  e->exact = false;
  eval_run(e);
  for (int i = 0; i < g->nparams; i++) {
    ParamInfo *p = g->params[i];
    if (g->param_grads[i] < 0) {
      fprintf(c->out, "  %-28s no gradient (the loss does not depend on it)\n", p->name);
      continue;
    }
    Tensor *t = &e->params[i];
    int64_t n = t->n, count = n <= MAX_CHECKED ? n : n > 4096 ? MAX_CHECKED_BIG : MAX_CHECKED;
    double *ad = malloc(sizeof(double) * (size_t)n);
    e->exact = false;
    eval_run(e);
    memcpy(ad, e->vals[g->param_grads[i]].d, sizeof(double) * (size_t)n);
    e->exact = true; /* differences of the exact function, also in f32 */
    double worst_abs = 0, worst_rel = 0;
    bool ok = true;
    for (int64_t k = 0; k < count; k++) {
      int64_t j = n == count ? k : (int64_t)(nn_rng_u64(c->seed, 400 + (uint64_t)i, (uint64_t)k) % (uint64_t)n);
      double fd = central(e, &t->d[j], eps), err = fabs(ad[j] - fd);
      if (!(err <= atol + rtol * fabs(fd))) {
        /* a step of eps may cross a kink of relu or max; a hundred times
         * smaller one rarely does, at the price of more rounding error */
        double small = eps / 100, fd2 = central(e, &t->d[j], small);
        double noise = 1e-15 * fabs(loss_at(e)) / small;
        if (fabs(ad[j] - fd2) <= atol + noise + rtol * fabs(fd2)) fd = fd2, err = fabs(ad[j] - fd2);
      }
      if (err > worst_abs) worst_abs = err;
      if (fabs(fd) > 0 && err / fabs(fd) > worst_rel) worst_rel = err / fabs(fd);
      if (!(err <= atol + rtol * fabs(fd))) {
        if (ok)
          fprintf(c->out, "  %-28s element %lld: autodiff %.12g, central difference %.12g\n",
                  p->name, (long long)j, ad[j], fd);
        ok = false;
      }
    }
    free(ad);
    e->exact = false;
    fprintf(c->out, "  %-28s %-18s %3lld of %-6lld max abs err %.1e  max rel err %.1e  %s\n",
            p->name, shape_str(p->shape), (long long)count, (long long)n, worst_abs, worst_rel,
            ok ? "ok" : "FAILED");
    c->ok &= ok;
  }
}

/* Check 2: one directional derivative over every parameter at once. */
static void check_direction(Check *c, Eval *e, const char *what) {
  Graph *g = e->g;
  double eps = 1e-6, rtol = c->f64 ? 1e-5 : 2e-3;
  e->exact = false;
  eval_run(e);
  e->exact = true; /* in f32, the difference is taken on the exact function */
  double vjp = 0; /* <t, J^T c> */
  double **dir = calloc((size_t)g->nparams + 1, sizeof(double *));
  for (int i = 0; i < g->nparams; i++) {
    Tensor *t = &e->params[i];
    dir[i] = malloc(sizeof(double) * (size_t)(t->n + 1));
    for (int64_t j = 0; j < t->n; j++) {
      dir[i][j] = gaussian(c->seed, 500 + (uint64_t)i, (uint64_t)j);
      if (g->param_grads[i] >= 0) vjp += dir[i][j] * e->vals[g->param_grads[i]].d[j];
    }
  }
  double **saved = calloc((size_t)g->nparams + 1, sizeof(double *));
  int np = g->nparams;
  for (int i = 0; i < np; i++) {
    saved[i] = malloc(sizeof(double) * (size_t)(e->params[i].n + 1));
    memcpy(saved[i], e->params[i].d, sizeof(double) * (size_t)e->params[i].n);
  }
  double jvp = 0; /* <J t, c>, from a central difference along t */
  bool ok = false;
  double atol = c->f64 ? 1e-7 : 1e-4;
  for (int attempt = 0; attempt < 2 && !ok; attempt++, eps /= 100) {
    double l[2];
    for (int sgn = 0; sgn < 2; sgn++) {
      for (int i = 0; i < np; i++)
        for (int64_t j = 0; j < e->params[i].n; j++)
          e->params[i].d[j] = saved[i][j] + (sgn ? -eps : eps) * dir[i][j];
      l[sgn] = loss_at(e);
    }
    jvp = (l[0] - l[1]) / (2 * eps);
    double noise = attempt ? 1e-15 * fmax(fabs(l[0]), 1) / eps : 0;
    ok = fabs(vjp - jvp) <= atol + noise + rtol * fmax(fabs(jvp), fabs(vjp));
  }
  e->exact = false;
  for (int i = 0; i < np; i++) {
    memcpy(e->params[i].d, saved[i], sizeof(double) * (size_t)e->params[i].n);
    free(saved[i]);
  }
  free(saved);
  for (int i = 0; i < g->nparams; i++) free(dir[i]);
  free(dir);
  double rel = fabs(vjp - jvp) / fmax(fmax(fabs(jvp), fabs(vjp)), 1e-300);
  fprintf(c->out, "%s\n  <t, J^T c> = %.10g   <J t, c> = %.10g   rel err %.1e (tolerance %.0e)  %s\n",
          what, vjp, jvp, rel, rtol, ok ? "ok" : "FAILED");
  c->ok &= ok;
}

bool check_gradients(Sema *s, const Built *models, FILE *out) {
  Check c = {.out = out, .f64 = s->default_float == DT_F64, .ok = true, .seed = 12345};
  const char *prec = c.f64 ? "f64" : "f32";
  for (const Built *b = models; b; b = b->next) {
    ModelInfo *m = b->model;
    Graph *g = lower_projection(s, m);
    if (!g) return false;
    Eval *e = eval_new(g, BATCH);
    eval_randomize(e, NULL, c.seed);
    check_elements(&c, e, arena_printf("model %s: d<c, output>/d param, %s", m->decl->name, prec));
    check_direction(&c, e, arena_printf("model %s: whole graph, %s", m->decl->name, prec));
    eval_free(e);
  }
  for (const Built *b = models; b && c.f64; b = b->next) {
    TrainInfo *t = b->train;
    if (!t) continue;
    Graph *g = lower_training(s, t);
    if (!g) return false;
    Eval *e = eval_new(g, BATCH);
    eval_randomize(e, t, c.seed);
    check_elements(&c, e, arena_printf("train %s: d loss/d param (%s), %s", t->decl->name,
                                       t->loss.b->name, prec));
    eval_free(e);
  }
  fprintf(out, "%s\n", c.ok ? "gradient check passed" : "gradient check FAILED");
  return c.ok;
}
