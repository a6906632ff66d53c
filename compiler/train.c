/* train.c — the training step as one graph: forward, loss, backward, update.
 *
 * Requires a checked program. lower_training builds, in one graph, the
 * model's forward pass in training mode, the loss of the train block
 * (numerically stable: a sigmoid or softmax output feeding a cross-entropy
 * is fused into the logits form), optional L2 weight decay, the reverse pass
 * (autodiff.c), the learning rate of the epoch (schedules), gradient
 * clipping, and the optimizer's update of every trainable parameter and of
 * its slots. docs/ir.md lists the formulas and their Keras/PyTorch origins.
 *
 * Values are built one per statement (or nested one deep): C leaves the
 * order of a call's arguments open, and value numbers must not depend on
 * the compiler that built nnc.
 */
#include <math.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"


static double farg(const Setting *st, const char *name) { return setting_arg(st, name)->f; }

static int k(Graph *g, DType dt, double f) { return ir_scalar(g, dt, f); }
static int add(Graph *g, int a, int b) { return ir_binary(g, OP_ADD, a, b); }
static int sub(Graph *g, int a, int b) { return ir_binary(g, OP_SUB, a, b); }
static int mul(Graph *g, int a, int b) { return ir_binary(g, OP_MUL, a, b); }
static int dvd(Graph *g, int a, int b) { return ir_binary(g, OP_DIV, a, b); }

Graph *lower_inference(Sema *s, ModelInfo *m) {
  Graph *g = graph_new(m->decl->name);
  lower_model(s, m, g);
  verify(g, "lowering");
  return g;
}

/* --------------------------------------------------------------- losses */

/* The logits a probability output was computed from, or -1. */
static int logits_of(Graph *g, int out, Op act) {
  const Value *v = &g->v[out];
  if (v->op != act) return -1;
  if (act == OP_SOFTMAX && v->a[0] != v->shape.rank - 1) return -1;
  return v->in[0];
}

static int clip_probability(Graph *g, int p) {
  DType dt = g->v[p].dtype;
  const double eps = 1e-7; /* Keras's backend epsilon */
  int lo = k(g, dt, eps), hi = k(g, dt, 1 - eps);
  return ir_binary(g, OP_MIN, ir_binary(g, OP_MAX, p, lo), hi);
}

/* The mean of x [N, ...] over the batch, each sample's mean over its
 * other axes times its weight w (f32 [N]) when w >= 0: Keras's
 * "sum_over_batch_size", sum_i w_i loss_i / N. Without weights, the
 * mean over every element, as always. */
static int batch_mean(Graph *g, int x, int w) {
  if (w < 0) return ir_mean_all(g, x);
  Shape s = g->v[x].shape;
  DType dt = g->v[x].dtype;
  int per = x;
  if (s.rank > 1) {
    int axes[NN_MAX_RANK], count = 1;
    for (int a = 1; a < s.rank; a++) axes[a - 1] = a, count *= (int)s.dim[a];
    int n = k(g, dt, count);
    per = dvd(g, ir_sum(g, x, axes, s.rank - 1), n);
  }
  return ir_mean_all(g, mul(g, per, ir_cast(g, w, dt)));
}

/* w [N] as [N, 1, ...] of rank `rank`, to broadcast against a loss's terms. */
static int batch_column(Graph *g, int w, int rank, DType dt) {
  Shape s = {.rank = rank};
  s.dim[0] = DIM_BATCH;
  for (int a = 1; a < rank; a++) s.dim[a] = 1;
  return ir_reshape(g, ir_cast(g, w, dt), s);
}

/* -sum(y * log p) over the class (last) axis, mean over the rest. */
/* The mean over samples (and positions) of -sum(y log p); with `keep`
 * (1, or 0 for a padding position) the mean over the kept positions. */
static int categorical(Graph *g, int logp, int y, int keep, int w) {
  int ax = g->v[logp].shape.rank - 1;
  int per = ir_unary(g, OP_NEG, ir_sum(g, mul(g, y, logp), &ax, 1));
  if (keep < 0) return batch_mean(g, per, w);
  if (w >= 0) per = mul(g, per, batch_column(g, w, g->v[per].shape.rank, g->v[per].dtype));
  int axes[NN_MAX_RANK], n = g->v[per].shape.rank;
  for (int i = 0; i < n; i++) axes[i] = i;
  int one = k(g, g->v[per].dtype, 1);
  int kept = ir_binary(g, OP_MAX, ir_sum(g, keep, axes, n), one);
  return ir_binary(g, OP_DIV, ir_sum(g, mul(g, per, keep), axes, n), kept);
}

/* The next label: the target of output g->nlabels's loss. */
static int new_label(Graph *g, DType dt, Shape sh, LabelRule rule) {
  if (g->nlabels == 16) bug("more than 16 labels");
  int y = ir_leaf(g, OP_LABEL, dt, sh, g->nlabels);
  g->label_rules[g->nlabels] = rule;
  g->labels[g->nlabels++] = y;
  return y;
}

/* The loss of one output against its own label (the next one). */
static int make_loss(Graph *g, const Setting *loss, int out, int w) {
  const char *name = loss->b->name;
  int y;
  DType dt = g->v[out].dtype;
  Shape sh = g->v[out].shape;
  bool logits = loss->b->nparams > 0 && !strcmp(loss->b->params[0].name, "from_logits") &&
                setting_arg(loss, "from_logits")->i;
  if (!strcmp(name, "sparse_categorical_crossentropy")) {
    Shape ls = sh;
    ls.rank--;
    Val *ignore = setting_arg(loss, "ignore_label");
    y = new_label(g, DT_I32, ls, (LabelRule){.kind = NNRT_LABEL_CLASSES, .classes = sh.dim[sh.rank - 1],
                                             .has_ignore = ignore->kind == VK_INT,
                                             .ignore = ignore->kind == VK_INT ? ignore->i : 0});
  } else {
    bool unit = !strcmp(name, "binary_crossentropy") || !strcmp(name, "categorical_crossentropy");
    y = new_label(g, dt, sh, (LabelRule){.kind = unit ? NNRT_LABEL_UNIT : NNRT_LABEL_VALUES});
  }

  if (!strcmp(name, "binary_crossentropy")) {
    int z = logits ? out : logits_of(g, out, OP_SIGMOID);
    if (z >= 0) { /* relu(z) - z y + log1p(e^-|z|): log(1 + e^z) - z y without overflow */
      int r = ir_unary(g, OP_RELU, z);
      int t = ir_unary(g, OP_LOG1P, ir_unary(g, OP_EXP, ir_unary(g, OP_NEG, ir_unary(g, OP_ABS, z))));
      int soft = add(g, r, t);
      return batch_mean(g, sub(g, soft, mul(g, z, y)), w);
    }
    int p = clip_probability(g, out);
    int one = k(g, dt, 1);
    int pos = mul(g, y, ir_unary(g, OP_LOG, p));
    int q = ir_unary(g, OP_LOG, sub(g, one, p));
    int neg = mul(g, sub(g, one, y), q);
    int ll = add(g, pos, neg);
    return batch_mean(g, ir_unary(g, OP_NEG, ll), w);
  }
  if (!strcmp(name, "categorical_crossentropy") ||
      !strcmp(name, "sparse_categorical_crossentropy")) {
    int keep = -1; /* 1 where the label is not ignore_label */
    if (g->v[y].dtype == DT_I32) {
      Val *ignore = setting_arg(loss, "ignore_label");
      if (ignore->kind == VK_INT) {
        int lf = ir_cast(g, y, dt), ig = k(g, dt, (double)ignore->i);
        int below = ir_binary(g, OP_GT, ig, lf), above = ir_binary(g, OP_GT, lf, ig);
        keep = add(g, above, below);
      }
      int64_t depth = sh.dim[sh.rank - 1];
      y = ir_make(g, OP_ONEHOT, dt, (Shape){0}, &y, 1, &depth, 1, 0);
    }
    int z = logits ? out : logits_of(g, out, OP_SOFTMAX);
    if (z >= 0) return categorical(g, ir_axis_op(g, OP_LOGSOFTMAX, z, sh.rank - 1), y, keep, w);
    return categorical(g, ir_unary(g, OP_LOG, clip_probability(g, out)), y, keep, w);
  }
  int d = sub(g, out, y);
  if (!strcmp(name, "mse")) return batch_mean(g, mul(g, d, d), w);
  if (!strcmp(name, "mae")) return batch_mean(g, ir_unary(g, OP_ABS, d), w);
  if (!strcmp(name, "huber")) { /* 0.5 q^2 + delta (|d| - q) with q = min(|d|, delta) */
    double delta = farg(loss, "delta");
    int a = ir_unary(g, OP_ABS, d);
    int q = ir_binary(g, OP_MIN, a, k(g, dt, delta));
    int half = k(g, dt, 0.5), dl = k(g, dt, delta);
    int quad = mul(g, half, mul(g, q, q));
    int lin = mul(g, dl, sub(g, a, q));
    int el = add(g, quad, lin);
    return batch_mean(g, el, w);
  }
  bug("no lowering for loss %s", name);
}

/* The training loss: each output's loss against its label, times its
 * weight, summed in the order of the outputs (Keras's loss_weights). A
 * weight of 1 multiplies nothing, so a model with one output computes
 * the loss it always has. */
static int total_loss(Graph *g, TrainInfo *t) {
  int loss = -1, w = -1;
  if (t->weighted) { /* per-sample weights: the label after the outputs' */
    w = ir_leaf(g, OP_LABEL, DT_F32, (Shape){.rank = 1, .dim = {DIM_BATCH}}, g->noutputs);
    g->labels[g->noutputs] = w;
    g->label_rules[g->noutputs] = (LabelRule){.kind = NNRT_LABEL_WEIGHTS};
  }
  for (int i = 0; i < g->noutputs; i++) {
    int li = make_loss(g, &t->losses[t->nlosses > 1 ? i : 0], g->outputs[i], w);
    if (t->loss_weights[i] != 1) li = mul(g, k(g, g->v[li].dtype, t->loss_weights[i]), li);
    if (loss >= 0 && g->v[li].dtype != g->v[loss].dtype) li = ir_cast(g, li, g->v[loss].dtype);
    loss = loss < 0 ? li : add(g, loss, li);
  }
  if (w >= 0) g->nlabels++;
  return loss;
}

/* ------------------------------------------------------------ schedules */

/* The learning rate of the current epoch: the optimizer's rate passed
 * through each schedule in order. */
static int learning_rate(Graph *g, TrainInfo *t, DType dt) {
  g->base_lr = farg(&t->optimizer, "lr");
  int lr = ir_cast(g, ir_leaf(g, OP_SCALAR, DT_F64, (Shape){0}, SC_LR), dt);
  int epoch = ir_cast(g, ir_leaf(g, OP_SCALAR, DT_F64, (Shape){0}, SC_EPOCH), dt);
  for (int i = 0; i < t->nschedules; i++) {
    Setting *st = &t->schedules[i];
    const char *name = st->b->name;
    if (!strcmp(name, "step")) { /* lr * factor^floor(epoch / every) */
      int every = k(g, dt, (double)setting_arg(st, "every")->i), factor = k(g, dt, farg(st, "factor"));
      int n = ir_unary(g, OP_FLOOR, dvd(g, epoch, every));
      lr = mul(g, lr, ir_binary(g, OP_POW, factor, n));
    } else if (!strcmp(name, "exponential")) { /* lr * rate^(epoch / every) */
      int every = k(g, dt, (double)setting_arg(st, "every")->i), rate = k(g, dt, farg(st, "rate"));
      int e = dvd(g, epoch, every);
      lr = mul(g, lr, ir_binary(g, OP_POW, rate, e));
    } else if (!strcmp(name, "cosine")) { /* min + (lr - min) (1 + cos(pi min(e, E) / E)) / 2 */
      double E = (double)setting_arg(st, "epochs")->i;
      int ke = k(g, dt, E), lo = k(g, dt, farg(st, "min_lr")), pi = k(g, dt, 3.14159265358979323846);
      int half = k(g, dt, 0.5), one = k(g, dt, 1);
      int frac = dvd(g, ir_binary(g, OP_MIN, epoch, ke), ke);
      int c = ir_unary(g, OP_COS, mul(g, frac, pi));
      int w = mul(g, half, add(g, one, c));
      lr = add(g, lo, mul(g, sub(g, lr, lo), w));
    } else if (!strcmp(name, "warmup")) { /* lr * min(1, (epoch + 1) / epochs) */
      int one = k(g, dt, 1), ke = k(g, dt, (double)setting_arg(st, "epochs")->i);
      int f = ir_binary(g, OP_MIN, one, dvd(g, add(g, epoch, one), ke));
      lr = mul(g, lr, f);
    } else {
      bug("no lowering for schedule %s", name);
    }
  }
  return lr;
}

/* ----------------------------------------------------------- optimizers */

/* A slot of the optimizer for parameter p (Adam's m, v, ...), a state
 * tensor named "adam.m.dense1.W" that starts at `init`. */
static int slot(Graph *g, const char *opt, const char *what, ParamInfo *p, double init) {
  ParamInfo *st = arena_alloc(sizeof *st);
  st->name = arena_printf("%s.%s.%s", opt, what, p->name);
  st->dtype = p->dtype;
  st->shape = p->shape;
  st->init_name = init == 0 ? "zeros" : "constant";
  st->init_args[0] = init;
  st->loc = p->loc;
  st->slot = true;
  return add_param_value(g, st, true);
}

static void set_state(Graph *g, int state_value, int v) {
  add_update(g, true, (int)g->v[state_value].a[0], v);
}

/* The slots update_param makes for each parameter; lower_training checks
 * that the two agree. */
int optimizer_slots(const Setting *o) {
  const char *name = o->b->name;
  if (!strcmp(name, "adam") || !strcmp(name, "adamw")) return 2;           /* m, v */
  if (!strcmp(name, "rmsprop")) return farg(o, "momentum") != 0 ? 2 : 1; /* v, momentum */
  if (!strcmp(name, "sgd")) return farg(o, "momentum") != 0;             /* momentum */
  if (!strcmp(name, "adagrad")) return 1;                                /* accumulator */
  bug("no slots known for optimizer %s", name);
}

static void update_param(Graph *g, TrainInfo *t, int index, int p, int grad, int lr, int step) {
  const Setting *o = &t->optimizer;
  const char *name = o->b->name;
  ParamInfo *info = g->params[index];
  DType dt = info->dtype;
  int np = p;
  if (!strcmp(name, "sgd")) { /* PyTorch's form: b = mu b + g; p -= lr (g + mu b or b) */
    double mu = farg(o, "momentum");
    if (mu == 0) {
      np = sub(g, p, mul(g, lr, grad));
    } else {
      int b = slot(g, name, "momentum", info, 0), kmu = k(g, dt, mu);
      int nb = add(g, mul(g, kmu, b), grad);
      set_state(g, b, nb);
      int dir = setting_arg(o, "nesterov")->i ? add(g, grad, mul(g, kmu, nb)) : nb;
      np = sub(g, p, mul(g, lr, dir));
    }
  } else if (!strcmp(name, "adam") || !strcmp(name, "adamw")) {
    double b1 = farg(o, "beta1"), b2 = farg(o, "beta2"), eps = farg(o, "epsilon");
    int m = slot(g, name, "m", info, 0), v = slot(g, name, "v", info, 0);
    int kb1 = k(g, dt, b1), kb1c = k(g, dt, 1 - b1), kb2 = k(g, dt, b2), kb2c = k(g, dt, 1 - b2);
    int one = k(g, dt, 1), keps = k(g, dt, eps);
    int old_m = mul(g, kb1, m), new_m = mul(g, kb1c, grad);
    int nm = add(g, old_m, new_m);
    int g2 = mul(g, grad, grad);
    int old_v = mul(g, kb2, v), new_v = mul(g, kb2c, g2);
    int nv = add(g, old_v, new_v);
    set_state(g, m, nm);
    set_state(g, v, nv);
    int c1 = sub(g, one, ir_binary(g, OP_POW, kb1, step));
    int c2 = sub(g, one, ir_binary(g, OP_POW, kb2, step));
    int mh = dvd(g, nm, c1);
    int den = add(g, ir_unary(g, OP_SQRT, dvd(g, nv, c2)), keps);
    int dir = dvd(g, mh, den);
    if (!strcmp(name, "adamw")) {
      int wd = k(g, dt, farg(o, "weight_decay"));
      dir = add(g, dir, mul(g, wd, p));
    }
    np = sub(g, p, mul(g, lr, dir));
  } else if (!strcmp(name, "rmsprop")) {
    double rho = farg(o, "rho"), mu = farg(o, "momentum"), eps = farg(o, "epsilon");
    int v = slot(g, name, "v", info, 0);
    int krho = k(g, dt, rho), krhoc = k(g, dt, 1 - rho), keps = k(g, dt, eps);
    int g2 = mul(g, grad, grad);
    int old_v = mul(g, krho, v), new_v = mul(g, krhoc, g2);
    int nv = add(g, old_v, new_v);
    set_state(g, v, nv);
    int dir = dvd(g, grad, add(g, ir_unary(g, OP_SQRT, nv), keps));
    if (mu != 0) {
      int b = slot(g, name, "momentum", info, 0), kmu = k(g, dt, mu);
      dir = add(g, mul(g, kmu, b), dir);
      set_state(g, b, dir);
    }
    np = sub(g, p, mul(g, lr, dir));
  } else if (!strcmp(name, "adagrad")) {
    double eps = farg(o, "epsilon");
    int a = slot(g, name, "accumulator", info, farg(o, "initial_accumulator"));
    int keps = k(g, dt, eps);
    int na = add(g, a, mul(g, grad, grad));
    set_state(g, a, na);
    int den = add(g, ir_unary(g, OP_SQRT, na), keps);
    np = sub(g, p, mul(g, lr, dvd(g, grad, den)));
  } else {
    bug("no lowering for optimizer %s", name);
  }
  if (prunable(t, info)) np = mul(g, np, slot(g, "prune", "mask", info, 1)); /* a pruned weight stays 0 */
  add_update(g, false, index, np);
}

bool prunable(const TrainInfo *t, const ParamInfo *p) {
  return t->prune.b && p->trainable && !p->slot && p->shape.rank >= 2 && is_float(p->dtype);
}

/* Gradient clipping: by value elementwise, then by the global norm over all
 * parameters (as PyTorch's clip_grad_norm_). */
static void clip(Graph *g, TrainInfo *t, int *grads, int n) {
  Val *cv = setting_arg(&t->optimizer, "clip_value"), *cn = setting_arg(&t->optimizer, "clip_norm");
  for (int i = 0; i < n && cv->kind == VK_FLOAT; i++) {
    DType dt = g->v[grads[i]].dtype;
    int lo = k(g, dt, -cv->f), hi = k(g, dt, cv->f);
    grads[i] = ir_binary(g, OP_MIN, ir_binary(g, OP_MAX, grads[i], lo), hi);
  }
  if (cn->kind != VK_FLOAT || n == 0) return;
  DType dt = g->v[grads[0]].dtype;
  int sq = k(g, dt, 0);
  for (int i = 0; i < n; i++) {
    Shape s = g->v[grads[i]].shape;
    int axes[NN_MAX_RANK] = {0};
    for (int a = 0; a < s.rank; a++) axes[a] = a;
    sq = add(g, sq, ir_cast(g, ir_sum(g, mul(g, grads[i], grads[i]), axes, s.rank), dt));
  }
  int norm = ir_unary(g, OP_SQRT, sq);
  int limit = k(g, dt, cn->f);
  int factor = dvd(g, limit, ir_binary(g, OP_MAX, norm, limit));
  for (int i = 0; i < n; i++) grads[i] = mul(g, grads[i], ir_cast(g, factor, g->v[grads[i]].dtype));
}

/* The loss in inference mode (no dropout, running statistics), without
 * backward pass or update: what a validation set is measured with. */
Graph *lower_evaluation(Sema *s, TrainInfo *t) {
  Graph *g = graph_new(t->model->decl->name);
  lower_model(s, t->model, g);
  g->part = PART_LOSS;
  g->loc = t->loss.node->loc;
  g->loss = total_loss(g, t);
  g->part = PART_FWD;
  verify(g, "the loss");
  return g;
}

Graph *lower_projection(Sema *s, ModelInfo *m) {
  Graph *g = graph_new(m->decl->name);
  g->training = true;
  lower_model(s, m, g);
  int out = g->outputs[0]; /* the first floating-point output, else the first as a float */
  for (int i = g->noutputs - 1; i >= 0; i--)
    if (is_float(g->v[g->outputs[i]].dtype)) out = g->outputs[i];
  g->part = PART_LOSS;
  if (!is_float(g->v[out].dtype)) out = ir_cast(g, out, DT_F32);
  int y = new_label(g, g->v[out].dtype, g->v[out].shape, (LabelRule){0});
  Shape sh = g->v[out].shape;
  int axes[NN_MAX_RANK] = {0};
  for (int a = 0; a < sh.rank; a++) axes[a] = a;
  g->loss = ir_sum(g, mul(g, out, y), axes, sh.rank);
  int *grad = autodiff(g, g->loss);
  if (!grad) return NULL;
  g->param_grads = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1));
  for (int i = 0; i < g->nparams; i++) g->param_grads[i] = -1;
  for (int id = 0; id <= g->loss; id++)
    if (g->v[id].op == OP_PARAM) g->param_grads[g->v[id].a[0]] = grad[id];
  g->part = PART_FWD;
  verify(g, "autodiff");
  return g;
}

Graph *lower_training(Sema *s, TrainInfo *t) {
  Graph *g = graph_new(t->model->decl->name);
  g->training = true;
  lower_model(s, t->model, g);
  int out = g->outputs[0];
  DType dt = g->v[out].dtype;

  g->part = PART_LOSS;
  g->loc = t->loss.node->loc;
  int loss = total_loss(g, t);
  if (t->weight_decay > 0) { /* L2 on weights of rank 2 and more, as Keras's kernel_regularizer */
    int *leaf = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1)); /* param index -> its value */
    for (int id = g->n - 1; id >= 0; id--)
      if (g->v[id].op == OP_PARAM) leaf[g->v[id].a[0]] = id;
    for (int i = 0; i < g->nparams; i++) {
      ParamInfo *p = g->params[i];
      if (p->shape.rank < 2) continue;
      int axes[NN_MAX_RANK], w = leaf[i];
      for (int a = 0; a < p->shape.rank; a++) axes[a] = a;
      int sq = ir_sum(g, mul(g, w, w), axes, p->shape.rank);
      int wd = k(g, dt, t->weight_decay);
      loss = add(g, loss, mul(g, wd, sq));
    }
  }
  g->loss = loss;
  verify(g, "the loss");

  int *grad = autodiff(g, loss);
  if (!grad) return NULL;
  verify(g, "autodiff");

  g->param_grads = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1));
  for (int i = 0; i < g->nparams; i++) g->param_grads[i] = -1;
  for (int id = 0; id < g->n && id < loss + 1; id++)
    if (g->v[id].op == OP_PARAM) g->param_grads[g->v[id].a[0]] = grad[id];

  g->part = PART_UPDATE;
  g->loc = t->optimizer.node->loc;
  int *pv = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1));
  int *gr = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1));
  int n = 0;
  for (int id = 0; id <= loss; id++) {
    if (g->v[id].op != OP_PARAM) continue;
    ParamInfo *p = g->params[g->v[id].a[0]];
    if (id <= loss && grad[id] >= 0) {
      pv[n] = id;
      gr[n++] = grad[id];
    } else {
      warn_at(p->loc, "the loss does not depend on parameter '%s'; it is never trained", p->name);
    }
  }
  clip(g, t, gr, n);
  int lr = learning_rate(g, t, dt);
  int step = ir_cast(g, ir_leaf(g, OP_SCALAR, DT_F64, (Shape){0}, SC_STEP), dt);
  int states = g->nstates, masks = 0;
  for (int i = 0; i < n; i++) {
    masks += prunable(t, g->params[g->v[pv[i]].a[0]]);
    int index = (int)g->v[pv[i]].a[0];
    int cast_lr = ir_cast(g, lr, g->params[index]->dtype);
    int cast_step = ir_cast(g, step, g->params[index]->dtype);
    update_param(g, t, index, pv[i], gr[i], cast_lr, cast_step);
  }
  if (g->nstates - states != n * optimizer_slots(&t->optimizer) + masks)
    bug("%s made %d slots for %d parameters; optimizer_slots says %d each", t->optimizer.b->name,
        g->nstates - states, n, optimizer_slots(&t->optimizer));
  g->part = PART_FWD;
  verify(g, "the optimizer");
  return g;
}
