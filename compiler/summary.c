/* summary.c — a model's summary as Keras's model.summary() prints it
 * (nnc --summary, and the training program at its start): one row per
 * input and layer with its output shape (the batch as None) and its
 * parameter count, in columns as wide as their longest entry, then the
 * totals: parameters, trainable and not (states such as batch-norm's
 * running statistics), the optimizer's state and the arena of a training
 * step over the train block's batch, as planned.
 *
 * Requires the model checked and, for the arena, its graphs planned
 * (main.c's Built).
 */
#include <string.h>
#include "nnc.h"

typedef struct Row {
  const char *name, *shape;
  int64_t params;
} Row;

typedef struct Rows {
  Row *at;
  int n, cap;
} Rows;

static void add_row(Rows *r, const char *name, const char *shape, int64_t params) {
  if (r->n == r->cap) {
    Row *more = arena_alloc(sizeof(Row) * (size_t)(r->cap = r->cap ? 2 * r->cap : 16));
    if (r->n) memcpy(more, r->at, sizeof(Row) * (size_t)r->n);
    r->at = more;
  }
  r->at[r->n++] = (Row){name, shape, params};
}

/* "(None, 28, 28, 1)" */
static const char *shape_text(const Node *e) {
  if (!e->typed) return "?";
  char *s = "(";
  for (int d = 0; d < e->shape.rank; d++)
    s = arena_printf("%s%s%s", s, d ? ", " : "",
                     e->shape.dim[d] == DIM_BATCH ? "None" : arena_printf("%lld", (long long)e->shape.dim[d]));
  return arena_printf("%s%s)", s, e->shape.rank == 1 ? "," : "");
}

/* The values of the parameters and states named PREFIX.* */
static int64_t params_of(const ModelInfo *m, const char *inst) {
  size_t len = strlen(inst);
  int64_t total = 0;
  for (ParamInfo *p = m->params; p; p = p->next) {
    int64_t n = 0;
    if (!strncmp(p->name, inst, len) && p->name[len] == '.' && shape_product(p->shape, &n)) total += n;
  }
  return total;
}

/* The layer instances of an expression, operands first (the order they run). */
static void layer_rows(Rows *r, const ModelInfo *m, const Node *e) {
  if (!e) return;
  switch (e->kind) {
  case ND_CALL:
    for (const Node *a = e->kids; a; a = a->next) layer_rows(r, m, a->lhs);
    break;
  case ND_BINARY:
  case ND_PIPE:
    layer_rows(r, m, e->lhs);
    layer_rows(r, m, e->rhs);
    break;
  case ND_NEG:
    layer_rows(r, m, e->lhs);
    break;
  case ND_NAME:
    break;
  default:
    return;
  }
  if ((e->kind == ND_CALL || e->kind == ND_NAME) && e->inst && e->typed)
    add_row(r, arena_printf("%s (%s)", e->inst, e->name), shape_text(e), params_of(m, e->inst));
}

const char *model_summary(const Built *b) {
  const ModelInfo *m = b->model;
  Rows r = {0};
  int64_t norm_values = 0, norm_bytes = 0; /* the input standardization's states */
  for (const Node *st = m->decl->kids; st; st = st->next) {
    int before = r.n;
    if (st->kind == ND_INPUT) {
      add_row(&r, arena_printf("%s (input)", st->name), shape_text(st), 0);
      if (m->normalize && st->typed && st->shape.rank) { /* normalize.mean and .std, states */
        add_row(&r, "normalize (standardization)", shape_text(st), 2 * st->shape.dim[st->shape.rank - 1]);
        int64_t c = 2 * st->shape.dim[st->shape.rank - 1];
        norm_values += c, norm_bytes += c * (st->dtype == DT_F64 ? 8 : 4);
      }
      continue;
    }
    if (st->kind != ND_ASSIGN && st->kind != ND_OUTPUT && st->kind != ND_LAYERSTMT) continue;
    layer_rows(&r, m, st->rhs);
    if (r.n == before && st->typed) { /* no layer: an expression of its own, `h = a + b` */
      const Node *top = st->rhs;
      while (top && top->kind == ND_PIPE) top = top->rhs;
      const char *what = top && (top->kind == ND_CALL || top->kind == ND_NAME) ? top->name : "expression";
      const char *name = st->name ? st->name : st->kind == ND_OUTPUT ? "output" : what;
      if (st->kind == ND_LAYERSTMT) what = "function"; /* max_pool2d (function) */
      add_row(&r, arena_printf("%s (%s)", name, what), shape_text(st), 0);
    }
  }
  int wn = (int)strlen("Layer (type)"), ws = (int)strlen("Output Shape"), wp = (int)strlen("Param #");
  for (int i = 0; i < r.n; i++) {
    int n = (int)strlen(r.at[i].name), s = (int)strlen(r.at[i].shape), p = (int)strlen(group(r.at[i].params));
    wn = n > wn ? n : wn, ws = s > ws ? s : ws, wp = p > wp ? p : wp;
  }
  int width = wn + 2 + ws + 2 + wp;
  char *rule = arena_alloc((size_t)width + 1), *thin = arena_alloc((size_t)width + 1);
  memset(rule, '=', (size_t)width);
  memset(thin, '-', (size_t)width);
  char *out = arena_printf("Model: \"%s\"\n%s\n%-*s  %-*s  %*s\n%s\n", m->decl->name, thin, wn, "Layer (type)", ws,
                           "Output Shape", wp, "Param #", rule);
  for (int i = 0; i < r.n; i++)
    out = arena_printf("%s%-*s  %-*s  %*s\n", out, wn, r.at[i].name, ws, r.at[i].shape, wp, group(r.at[i].params));
  int64_t trainable = 0, fixed = norm_values, tbytes = 0, fbytes = norm_bytes;
  for (ParamInfo *p = m->params; p; p = p->next) {
    int64_t n = 0;
    shape_product(p->shape, &n);
    int64_t bytes = n * (p->dtype == DT_F64 ? 8 : 4);
    if (p->trainable) trainable += n, tbytes += bytes;
    else fixed += n, fbytes += bytes;
  }
  out = arena_printf("%s%s\nTotal params: %s (%s)\nTrainable params: %s (%s)\nNon-trainable params: %s (%s)\n", out,
                     rule, group(trainable + fixed), size_str(tbytes + fbytes), group(trainable),
                     size_str(tbytes), group(fixed), size_str(fbytes));
  const TrainInfo *t = b->train;
  if (t && t->optimizer.b) {
    int slots = optimizer_slots(&t->optimizer);
    out = arena_printf("%sOptimizer state: %s (%s: %d slot%s a trainable parameter)\n", out,
                       size_str(tbytes * slots), t->optimizer.b->name, slots, slots == 1 ? "" : "s");
  }
  if (t && t->prune.b) {
    int64_t n = 0, bytes = 0, count = 0;
    for (ParamInfo *p = t->model->params; p; p = p->next) {
      if (!prunable(t, p) || !shape_product(p->shape, &n)) continue;
      count += n, bytes += n * (p->dtype == DT_F64 ? 8 : 4);
    }
    out = arena_printf("%sPruning masks: %s (%s weights to %g%% sparsity by epoch %lld)\n", out, size_str(bytes),
                       group(count), 100 * t->prune_sparsity, (long long)t->prune_end);
  }
  const Plan *plan = t ? b->plan[GRAPH_TRAIN] : b->plan[GRAPH_INFER];
  int64_t batch = t ? t->batch : 1;
  if (plan)
    out = arena_printf("%s%s arena for a batch of %lld: %s (%s + %s a sample)\n", out, t ? "Training step" : "Inference", (long long)batch,
                       size_str(plan->fixed_bytes + batch * plan->sample_bytes), size_str(plan->fixed_bytes),
                       size_str(plan->sample_bytes));
  return arena_printf("%s%s\n", out, thin);
}
