/* layers.c — the shape rules of the built-in layers and functions, and
 * the parameter list of the model they add to.
 *
 * A rule (a row of builtins.c's table points at it; sema.c calls it with
 * the arguments bound and checked against the row's spec) reports errors
 * at the offending argument, declares parameters (add_param) and produces
 * the result type. When sema runs in build mode (s->graph set) the same
 * rule also emits the built-in's primitive ops, and a tensor Val carries
 * its IR value.
 *
 * Requires: ir.c's builders, ast.c, diag.c, util.c, and the Sema, Scope and
 * Val types of nnc.h. Calls nothing in sema.c, values.c or builtins.c: the
 * dependency runs one way, sema.c -> values.c -> builtins.c -> layers.c.
 * Guarantees: a rule that returns true has made `out` a tensor type within
 * NN_MAX_ELEMS elements (in build mode with its value); one that returns
 * false has reported why. Both modes declare the same parameters in the
 * same order, which build mode checks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

/* -------------------------------------------------------- shape sizes */

bool shape_product(Shape sh, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < sh.rank; i++) {
    int64_t d = sh.dim[i] == DIM_BATCH ? 1 : sh.dim[i];
    if (__builtin_mul_overflow(n, d, &n) || n > NN_MAX_ELEMS) return false;
  }
  *out = n;
  return true;
}

bool check_shape_size(Loc loc, DType dt, Shape sh) {
  int64_t n;
  if (shape_product(sh, &n)) return true;
  error_at(loc, "tensor %s is too large (more than %lld elements%s)", type_str(dt, sh),
           (long long)NN_MAX_ELEMS, sh.rank && sh.dim[0] == DIM_BATCH ? " per sample" : "");
  return false;
}

/* ------------------------------------------------ the model's parameters */

DType sema_float_dtype(Sema *s) { return s->scope->float_dtype; }

/* Declares a parameter of the model being checked. In build mode the
 * parameters come again in the same order: each one is taken from the list
 * made while checking, and *id gets its OP_PARAM (or OP_STATE) value. */
bool add_param(Sema *s, const char *name, DType dt, Shape shape, const char *init_name,
               const Node *init, const Val *init_args, int init_nargs, bool trainable, Loc loc,
               int *id) {
  ModelInfo *m = s->scope->model;
  const char *full = *s->scope->prefix ? arena_printf("%s.%s", s->scope->prefix, name) : name;
  *id = -1;
  if (s->graph) {
    ParamInfo *p = s->cursor;
    if (!p || strcmp(p->name, full) != 0) bug("parameter %s out of order while lowering", full);
    s->cursor = p->next;
    *id = add_param_value(s->graph, p, !p->trainable);
    return true;
  }
  if (!check_shape_size(loc, dt, shape)) return false;
  for (int i = 0; i < shape.rank; i++)
    if (shape.dim[i] == DIM_BATCH) bug("parameter %s with a batch dimension", name);
  if (!m) return true;
  ParamInfo *p = arena_alloc(sizeof *p);
  p->name = full;
  p->dtype = dt;
  p->shape = shape;
  p->init = init;
  p->init_name = init_name ? init_name
                 : init && init->kind == ND_CALL ? init->name
                 : init && init->kind == ND_NAME ? init->name
                                                 : "glorot_uniform";
  p->trainable = trainable;
  p->loc = loc;
  for (int i = 0; i < init_nargs && i < 2; i++)
    p->init_args[i] = init_args[i].kind == VK_INT ? (double)init_args[i].i : init_args[i].f;
  int64_t n = 0;
  shape_product(shape, &n);
  if (__builtin_add_overflow(m->nvalues, n, &m->nvalues)) m->nvalues = INT64_MAX;
  if (m->last_param) m->last_param->next = p; /* keep declaration order */
  else m->params = p;
  m->last_param = p;
  m->nparams++;
  return true;
}

/* ---------------------------------------------------------- shape rules */

/* The bound argument named `name` (a typo here is a compiler bug). */
static Val *arg(const Builtin *b, Val *a, const char *name) {
  for (int i = 0; i < b->nparams; i++)
    if (!strcmp(b->params[i].name, name)) return &a[i];
  bug("'%s' has no parameter '%s'", b->name, name);
}

static bool add_weight(Sema *s, const char *name, DType dt, Shape sh, const Val *init,
                       Loc loc, int *id) {
  return add_param(s, name, dt, sh, init->s, init->call, init->items, init->nitems, true, loc, id);
}

/* ------------------------------------------------------ IR emission
 * When sema runs in build mode (s->graph set), each rule also emits the
 * primitive ops of its built-in; a tensor Val then carries its value. */

int val_ir(const Val *v) {
  if (!v->ir) bug("tensor %s has no IR value", type_str(v->dtype, v->shape));
  return v->ir - 1;
}

static bool emit(Val *out, int id) {
  out->ir = id + 1;
  return true;
}

static int scalar_like(Graph *g, int x, double f) { return ir_scalar(g, g->v[x].dtype, f); }

/* x * f for a constant f */
static int scale(Graph *g, int x, double f) {
  return ir_binary(g, OP_MUL, x, scalar_like(g, x, f));
}

/* The activation `name` applied to x, as primitive ops. Each op is built
 * in its own statement: C leaves the order of a call's arguments open, and
 * value numbers must not depend on the compiler. */
static int activation(Graph *g, const char *name, int x, double alpha) {
  Op op = op_from_fn(name); /* relu, sigmoid, tanh, ...: a row of ops.h */
  if (op != NUM_OPS && op_info[op].arity == 1) return ir_unary(g, op, x);
  if (!strcmp(name, "gelu")) { /* x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) */
    int half = scale(g, x, 0.5), one = scalar_like(g, x, 1);
    int e = ir_unary(g, OP_ERF, scale(g, x, 0.70710678118654752440));
    return ir_binary(g, OP_MUL, half, ir_binary(g, OP_ADD, one, e));
  }
  if (!strcmp(name, "softplus")) { /* relu(x) + log1p(exp(-|x|)), never overflows */
    int r = ir_unary(g, OP_RELU, x);
    int t = ir_unary(g, OP_LOG1P, ir_unary(g, OP_EXP, ir_unary(g, OP_NEG, ir_unary(g, OP_ABS, x))));
    return ir_binary(g, OP_ADD, r, t);
  }
  if (!strcmp(name, "swish")) return ir_binary(g, OP_MUL, x, ir_unary(g, OP_SIGMOID, x));
  if (!strcmp(name, "leaky_relu")) { /* relu(x) - alpha relu(-x) */
    int pos = ir_unary(g, OP_RELU, x);
    int neg = scale(g, ir_unary(g, OP_RELU, ir_unary(g, OP_NEG, x)), alpha);
    return ir_binary(g, OP_SUB, pos, neg);
  }
  if (!strcmp(name, "elu")) { /* x if x > 0 else alpha (e^min(x,0) - 1): no inf in either branch */
    int zero = scalar_like(g, x, 0), one = scalar_like(g, x, 1);
    int e = ir_unary(g, OP_EXP, ir_binary(g, OP_MIN, x, zero));
    int neg = scale(g, ir_binary(g, OP_SUB, e, one), alpha);
    return ir_select(g, ir_binary(g, OP_GT, x, zero), x, neg);
  }
  bug("no lowering for activation '%s'", name);
}

/* Reduces x over `axes`; keepdims puts size-1 axes back. mean divides by
 * the number of elements reduced (the batch size counted at run time). */
static int reduce_axes(Graph *g, Op op, int x, const bool *drop, bool keepdims, bool mean) {
  Shape in = g->v[x].shape, keep = in;
  int axes[NN_MAX_RANK], n = 0;
  double count = 1;
  bool batch = false;
  for (int i = 0; i < in.rank; i++)
    if (drop[i]) {
      axes[n++] = i;
      keep.dim[i] = 1;
      if (in.dim[i] == DIM_BATCH) batch = true;
      else count *= (double)in.dim[i];
    }
  int r = op == OP_RMAX ? ir_rmax(g, x, axes, n) : ir_sum(g, x, axes, n);
  if (mean) {
    int c = scalar_like(g, x, count);
    if (batch)
      c = ir_binary(g, OP_MUL, c, ir_leaf(g, OP_SCALAR, g->v[x].dtype, (Shape){0}, SC_BATCH));
    r = ir_binary(g, OP_DIV, r, c);
  }
  return keepdims ? ir_reshape(g, r, keep) : r;
}

static Val *tensor_out(Val *out, DType dt, Shape sh) {
  out->kind = VK_TENSOR;
  out->dtype = dt;
  out->shape = sh;
  return out;
}

static bool need_float(const Builtin *b, Val *x) {
  if (x->dtype == DT_F32 || x->dtype == DT_F64) return true;
  error_at(x->loc, "'%s' needs a floating-point tensor, got %s", b->name,
           type_str(x->dtype, x->shape));
  return false;
}

static bool need_rank(const Builtin *b, Val *x, int lo, const char *what) {
  if (x->shape.rank >= lo) return true;
  error_at(x->loc, "'%s' needs %s, got %s", b->name, what, type_str(x->dtype, x->shape));
  return false;
}

/* The feature (last) dimension, which must be a known size. */
static bool last_dim(const Builtin *b, Val *x, int64_t *k) {
  if (!need_rank(b, x, 1, "a tensor with a feature dimension")) return false;
  *k = x->shape.dim[x->shape.rank - 1];
  if (*k != DIM_BATCH) return true;
  error_at(x->loc, "'%s' needs a feature dimension after the batch dimension, got %s", b->name,
           type_str(x->dtype, x->shape));
  return false;
}

/* An `ints` argument as two values (height, width). */
static bool ints2(Val *v, int64_t out[2], const char *what) {
  if (v->kind == VK_INT) {
    out[0] = out[1] = v->i;
    return true;
  }
  if (v->kind == VK_LIST && (v->nitems == 1 || v->nitems == 2)) {
    out[0] = v->items[0].i;
    out[1] = v->items[v->nitems - 1].i;
    return true;
  }
  error_at(v->loc, "'%s' must be one integer or a list of two, got %d values", what, v->nitems);
  return false;
}

static Shape shape1(int64_t d) {
  Shape s = {.rank = 1};
  s.dim[0] = d;
  return s;
}

bool rule_elementwise(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  if (!need_float(b, &a[0])) return false;
  tensor_out(out, a[0].dtype, a[0].shape);
  if (!s->graph) return true;
  double alpha = b->nparams > 1 ? a[1].f : 0;
  return emit(out, activation(s->graph, b->name, val_ir(&a[0]), alpha));
}

/* A function that is a row of ops.h (its fn): the op on x, or on a and b
 * broadcast as the arithmetic operators are (either may be a number). */
bool rule_op(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Op op = op_from_fn(b->name);
  if (op_info[op].arity == 1) {
    if (!need_float(b, &a[0])) return false;
    tensor_out(out, a[0].dtype, a[0].shape);
    return !s->graph || emit(out, ir_unary(s->graph, op, val_ir(&a[0])));
  }
  const Val *t = a[0].kind == VK_TENSOR ? &a[0] : &a[1];
  for (int i = 0; i < 2; i++)
    if (a[i].kind != VK_TENSOR && !val_is_num(&a[i])) {
      error_at(a[i].loc, "'%s' takes tensors or numbers", b->name);
      return false;
    }
  if (t->kind != VK_TENSOR) {
    error_at(call->loc, "'%s' needs at least one tensor (of two numbers, compute the result)", b->name);
    return false;
  }
  for (int i = 0; i < 2; i++)
    if (a[i].kind == VK_TENSOR && !need_float(b, &a[i])) return false;
  if (a[0].kind == VK_TENSOR && a[1].kind == VK_TENSOR && a[0].dtype != a[1].dtype) {
    error_at(call->loc, "the tensors of '%s' have different types: %s and %s", b->name,
             type_str(a[0].dtype, a[0].shape), type_str(a[1].dtype, a[1].shape));
    return false;
  }
  Shape sh = t->shape;
  int ia, ib;
  if (a[0].kind == VK_TENSOR && a[1].kind == VK_TENSOR && !broadcast_where(a[0].shape, a[1].shape, &sh, &ia, &ib)) {
    error_at(call->loc, "the shapes of '%s' do not broadcast: %s and %s", b->name, shape_str(a[0].shape),
             shape_str(a[1].shape));
    return false;
  }
  tensor_out(out, t->dtype, sh);
  if (!s->graph) return true;
  int x[2];
  for (int i = 0; i < 2; i++)
    x[i] = a[i].kind == VK_TENSOR ? val_ir(&a[i]) : ir_scalar(s->graph, t->dtype, val_num(&a[i]));
  return emit(out, ir_binary(s->graph, op, x[0], x[1]));
}

/* Normalizes a possibly negative axis of x; reports it when out of range. */
static bool norm_axis(Val *x, int64_t axis, Loc loc, int *out) {
  int r = x->shape.rank;
  if (axis < -r || axis >= r) {
    error_at(loc, "axis %lld is out of range for %s (rank %d)", (long long)axis,
             type_str(x->dtype, x->shape), r);
    return false;
  }
  *out = (int)(axis < 0 ? axis + r : axis);
  return true;
}

bool rule_softmax(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  int axis;
  if (!need_float(b, &a[0]) || !need_rank(b, &a[0], 1, "a tensor of rank 1 or more") ||
      !norm_axis(&a[0], a[1].i, a[1].loc, &axis))
    return false;
  tensor_out(out, a[0].dtype, a[0].shape);
  if (!s->graph) return true;
  Op op = !strcmp(b->name, "softmax") ? OP_SOFTMAX : OP_LOGSOFTMAX;
  return emit(out, ir_axis_op(s->graph, op, val_ir(&a[0]), axis));
}

/* Inverted dropout: while training, x * mask with mask 0 or 1/(1-rate). */
/* x with dropout at `rate` when training (a mask per instance and step). */
static int dropout_ir(Sema *s, int x, double rate) {
  Graph *g = s->graph;
  if (!g->training || rate == 0) return x;
  int ss[2];
  ss[0] = ir_leaf(g, OP_SCALAR, DT_F64, (Shape){0}, SC_SEED);
  ss[1] = ir_leaf(g, OP_SCALAR, DT_F64, (Shape){0}, SC_STEP);
  int64_t instance = s->dropouts++;
  int mask = ir_make(g, OP_DROPMASK, g->v[x].dtype, g->v[x].shape, ss, 2, &instance, 1, rate);
  return ir_binary(g, OP_MUL, x, mask);
}

bool rule_dropout(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  if (!need_float(b, &a[0])) return false;
  tensor_out(out, a[0].dtype, a[0].shape);
  return !s->graph || emit(out, dropout_ir(s, val_ir(&a[0]), a[1].f));
}

/* sum/mean/max(x, axis, keepdims): axis none reduces every axis. */
bool rule_reduce(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  Val *x = &a[0];
  if (strcmp(b->name, "max") != 0 && !need_float(b, x)) return false;
  bool drop[NN_MAX_RANK] = {0};
  if (a[1].kind == VK_NONE) {
    for (int i = 0; i < x->shape.rank; i++) drop[i] = true;
  } else {
    int n = a[1].kind == VK_LIST ? a[1].nitems : 1;
    for (int k = 0; k < n; k++) {
      Val *ax = a[1].kind == VK_LIST ? &a[1].items[k] : &a[1];
      int i;
      if (!norm_axis(x, ax->i, ax->loc, &i)) return false;
      if (drop[i]) {
        error_at(ax->loc, "axis %lld is repeated", (long long)ax->i);
        return false;
      }
      drop[i] = true;
    }
  }
  Shape sh = {0};
  for (int i = 0; i < x->shape.rank; i++) {
    if (!drop[i]) sh.dim[sh.rank++] = x->shape.dim[i];
    else if (a[2].i) sh.dim[sh.rank++] = 1;
  }
  tensor_out(out, x->dtype, sh);
  if (!s->graph) return true;
  bool is_max = !strcmp(b->name, "max");
  return emit(out, reduce_axes(s->graph, is_max ? OP_RMAX : OP_SUM, val_ir(x), drop, a[2].i,
                               !strcmp(b->name, "mean")));
}

/* float(x): integers (token ids, argmax results) as floating point. */
bool rule_float(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b; (void)call;
  tensor_out(out, sema_float_dtype(s), a[0].shape);
  return !s->graph || emit(out, ir_cast(s->graph, val_ir(&a[0]), out->dtype));
}

bool rule_argmax(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  int axis;
  if (!need_rank(b, &a[0], 1, "a tensor of rank 1 or more")) return false;
  if (!norm_axis(&a[0], a[1].i, a[1].loc, &axis)) return false;
  Shape sh = {0};
  for (int i = 0; i < a[0].shape.rank; i++)
    if (i != axis) sh.dim[sh.rank++] = a[0].shape.dim[i];
  tensor_out(out, DT_I32, sh);
  return !s->graph || emit(out, ir_axis_op(s->graph, OP_ARGMAX, val_ir(&a[0]), axis));
}

/* flatten(x): [N, a, b, ...] -> [N, a*b*...]; an unbatched tensor -> [a*b*...]. */
bool rule_flatten(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b; (void)call;
  Shape in = a[0].shape, rest = {0}, sh = {0};
  bool batched = in.rank > 0 && in.dim[0] == DIM_BATCH;
  for (int i = batched; i < in.rank; i++) rest.dim[rest.rank++] = in.dim[i];
  int64_t n;
  if (!shape_product(rest, &n)) {
    error_at(a[0].loc, "flattening %s overflows", type_str(a[0].dtype, in));
    return false;
  }
  if (batched) sh.dim[sh.rank++] = DIM_BATCH;
  sh.dim[sh.rank++] = n;
  tensor_out(out, a[0].dtype, sh);
  return !s->graph || emit(out, ir_reshape(s->graph, val_ir(&a[0]), sh));
}

/* reshape(x, shape): the shape of one sample for batched tensors (as Keras's
 * Reshape), of the whole tensor otherwise; one entry may be -1. */
bool rule_reshape(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b; (void)call;
  Shape in = a[0].shape, rest = {0}, sh = {0};
  bool batched = in.rank > 0 && in.dim[0] == DIM_BATCH;
  for (int i = batched; i < in.rank; i++) rest.dim[rest.rank++] = in.dim[i];
  int64_t have = 0, want = 1; /* x was checked: its size fits */
  shape_product(rest, &have);
  if (batched) sh.dim[sh.rank++] = DIM_BATCH;
  int infer = -1;
  if (a[1].nitems + sh.rank > NN_MAX_RANK) {
    error_at(a[1].loc, "reshape to more than %d dimensions", NN_MAX_RANK);
    return false;
  }
  for (int i = 0; i < a[1].nitems; i++) {
    Val *d = &a[1].items[i];
    if (d->i == -1 && infer < 0) {
      infer = sh.rank;
    } else if (d->i < 1) {
      error_at(d->loc, "reshape dimension must be positive (or one -1), got %lld", (long long)d->i);
      return false;
    } else if (__builtin_mul_overflow(want, d->i, &want) || want > NN_MAX_ELEMS) {
      error_at(d->loc, "reshape target has too many elements");
      return false;
    }
    sh.dim[sh.rank++] = d->i;
  }
  if (infer >= 0) {
    if (have % want != 0) {
      error_at(a[1].loc, "cannot reshape %s (%lld values per sample) into %s", shape_str(in),
               (long long)have, expr_str(a[1].call));
      return false;
    }
    sh.dim[infer] = have / want;
    want = have;
  }
  if (want != have) {
    error_at(a[1].loc, "cannot reshape %s (%lld values%s) into %lld values", shape_str(in),
             (long long)have, batched ? " per sample" : "", (long long)want);
    return false;
  }
  tensor_out(out, a[0].dtype, sh);
  return !s->graph || emit(out, ir_reshape(s->graph, val_ir(&a[0]), sh));
}

/* transpose(x, perm): perm over all axes; the batch axis stays first.
 * Without perm, the axes after the batch axis are reversed. */
bool rule_transpose(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b; (void)call;
  Shape in = a[0].shape, sh = in;
  bool batched = in.rank > 0 && in.dim[0] == DIM_BATCH;
  int perm[NN_MAX_RANK];
  if (a[1].kind == VK_NONE) {
    for (int i = 0; i < in.rank; i++) perm[i] = i < batched ? i : in.rank - 1 - (i - batched);
    for (int i = 0; i < in.rank; i++) sh.dim[i] = in.dim[perm[i]];
    tensor_out(out, a[0].dtype, sh);
    return !s->graph || emit(out, ir_transpose(s->graph, val_ir(&a[0]), perm));
  }
  int n = a[1].kind == VK_LIST ? a[1].nitems : 1;
  if (n != in.rank) {
    error_at(a[1].loc, "transpose of %s needs %d axes, got %d", shape_str(in), in.rank, n);
    return false;
  }
  bool used[NN_MAX_RANK] = {0};
  for (int i = 0; i < n; i++) {
    Val *ax = a[1].kind == VK_LIST ? &a[1].items[i] : &a[1];
    int k;
    if (!norm_axis(&a[0], ax->i, ax->loc, &k)) return false;
    if (used[k]) {
      error_at(ax->loc, "axis %lld appears twice in the permutation", (long long)ax->i);
      return false;
    }
    used[k] = true;
    perm[i] = k;
    sh.dim[i] = in.dim[k];
    if (batched && (i == 0) != (k == 0)) {
      error_at(ax->loc, "transpose cannot move the batch dimension");
      return false;
    }
  }
  tensor_out(out, a[0].dtype, sh);
  return !s->graph || emit(out, ir_transpose(s->graph, val_ir(&a[0]), perm));
}

bool rule_concat(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b;
  Val *xs = &a[0];
  if (xs->nitems < 1) {
    error_at(call->loc, "'concat' needs at least one tensor");
    return false;
  }
  Val *x0 = &xs->items[0];
  int axis;
  if (!norm_axis(x0, a[1].i, a[1].loc, &axis)) return false;
  if (x0->shape.dim[axis] == DIM_BATCH) {
    error_at(a[1].loc, "'concat' cannot join along the batch dimension");
    return false;
  }
  Shape sh = x0->shape;
  for (int k = 1; k < xs->nitems; k++) {
    Val *x = &xs->items[k];
    if (x->shape.rank == x0->shape.rank && x->shape.dim[axis] == DIM_BATCH) {
      error_at(a[1].loc, "'concat' cannot join along the batch dimension");
      return false;
    }
    bool ok = x->dtype == x0->dtype && x->shape.rank == x0->shape.rank;
    for (int i = 0; ok && i < sh.rank; i++)
      if (i != axis && x->shape.dim[i] != x0->shape.dim[i]) ok = false;
    if (!ok) {
      error_at(x->loc, "cannot concatenate %s with %s along axis %d", type_str(x->dtype, x->shape),
               type_str(x0->dtype, x0->shape), axis);
      return false;
    }
    sh.dim[axis] += x->shape.dim[axis];
  }
  if (sh.dim[axis] > NN_MAX_ELEMS) {
    error_at(call->loc, "concatenation is too large");
    return false;
  }
  tensor_out(out, x0->dtype, sh);
  if (!check_shape_size(call->loc, x0->dtype, sh)) return false;
  if (!s->graph) return true;
  int r = val_ir(x0);
  for (int k = 1; k < xs->nitems; k++) {
    int in[2] = {r, val_ir(&xs->items[k])};
    int64_t ax = axis;
    r = ir_make(s->graph, OP_CONCAT, DT_NONE, (Shape){0}, in, 2, &ax, 1, 0);
  }
  return emit(out, r);
}

/* slice(x, axis, start, end): elements start..end-1 along one axis; negative
 * positions count from the end, as in Python. */
bool rule_slice(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b;
  int axis;
  if (!norm_axis(&a[0], a[1].i, a[1].loc, &axis)) return false;
  int64_t n = a[0].shape.dim[axis];
  if (n == DIM_BATCH) {
    error_at(a[1].loc, "'slice' cannot cut the batch dimension");
    return false;
  }
  int64_t lo = a[2].i < 0 ? a[2].i + n : a[2].i;
  int64_t hi = a[3].kind == VK_NONE ? n : a[3].i < 0 ? a[3].i + n : a[3].i;
  if (lo < 0 || hi > n || lo >= hi) {
    error_at(call->loc, "slice %lld..%lld of an axis of size %lld is empty or out of range",
             (long long)lo, (long long)hi, (long long)n);
    return false;
  }
  Shape sh = a[0].shape;
  sh.dim[axis] = hi - lo;
  tensor_out(out, a[0].dtype, sh);
  return !s->graph || emit(out, ir_slice(s->graph, val_ir(&a[0]), axis, lo, hi));
}

/* dense(x, units): [..., k] @ W[k, units] + b[units] -> [..., units] */
bool rule_dense(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int64_t k;
  if (!need_float(b, &a[0]) || !last_dim(b, &a[0], &k)) return false;
  DType dt = a[0].dtype;
  Shape w = {.rank = 2, .dim = {k, a[1].i}};
  int W, B = -1;
  if (!add_weight(s, "W", dt, w, arg(b, a, "kernel_init"), call->loc, &W)) return false;
  if (arg(b, a, "use_bias")->i &&
      !add_weight(s, "b", dt, shape1(a[1].i), arg(b, a, "bias_init"), call->loc, &B))
    return false;
  Shape sh = a[0].shape;
  sh.dim[sh.rank - 1] = a[1].i;
  tensor_out(out, dt, sh);
  if (!check_shape_size(call->loc, dt, sh)) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  int x = val_ir(&a[0]);
  if (a[0].shape.rank == 1) x = ir_reshape(g, x, (Shape){.rank = 2, .dim = {1, k}});
  int y = ir_reshape(g, ir_matmul(g, x, W), sh);
  if (B >= 0) y = ir_binary(g, OP_ADD, y, B);
  return emit(out, y);
}

/* The padding a window op gets on each side (top, left, bottom, right):
 * `same` splits the total as TensorFlow does, the extra cell at the end. */
static void window_pads(Val *x, const int64_t k[2], const int64_t st[2], const int64_t dil[2],
                        Val *pad, const int64_t explicit_pad[2], int64_t oh, int64_t ow,
                        int64_t out[4]) {
  if (pad->kind == VK_NAME && !strcmp(pad->s, "same")) {
    int64_t o[2] = {oh, ow};
    for (int i = 0; i < 2; i++) {
      int64_t total = (o[i] - 1) * st[i] + dil[i] * (k[i] - 1) + 1 - x->shape.dim[1 + i];
      if (total < 0) total = 0;
      out[i] = total / 2;
      out[2 + i] = total - total / 2;
    }
    return;
  }
  out[0] = out[2] = explicit_pad[0];
  out[1] = out[3] = explicit_pad[1];
}

/* Batch normalization over every axis but the last. While training it uses
 * the batch's mean and (biased) variance and updates the running statistics
 * as Keras does: moving = momentum * moving + (1 - momentum) * batch. */
static int batch_norm(Graph *g, int x, int gamma, int beta, int mm, int mv, double momentum,
                      double eps) {
  Shape in = g->v[x].shape;
  int mean = mm, var = mv;
  if (g->training) {
    bool drop[NN_MAX_RANK] = {0};
    for (int i = 0; i < in.rank - 1; i++) drop[i] = true;
    mean = reduce_axes(g, OP_SUM, x, drop, false, true);
    int xc = ir_binary(g, OP_SUB, x, mean);
    var = reduce_axes(g, OP_SUM, ir_binary(g, OP_MUL, xc, xc), drop, false, true);
    int keep = scalar_like(g, x, momentum), rest = scalar_like(g, x, 1 - momentum);
    int old_m = ir_binary(g, OP_MUL, keep, mm), new_m = ir_binary(g, OP_MUL, rest, mean);
    add_update(g, true, (int)g->v[mm].a[0], ir_binary(g, OP_ADD, old_m, new_m));
    int old_v = ir_binary(g, OP_MUL, keep, mv), new_v = ir_binary(g, OP_MUL, rest, var);
    add_update(g, true, (int)g->v[mv].a[0], ir_binary(g, OP_ADD, old_v, new_v));
  }
  int xc = ir_binary(g, OP_SUB, x, mean);
  int sd = ir_unary(g, OP_SQRT, ir_binary(g, OP_ADD, var, scalar_like(g, x, eps)));
  int y = ir_binary(g, OP_DIV, xc, sd);
  if (gamma >= 0) y = ir_binary(g, OP_MUL, y, gamma);
  if (beta >= 0) y = ir_binary(g, OP_ADD, y, beta);
  return y;
}

/* Output size of one spatial axis of a convolution or pooling window. */
static bool window(Val *x, int axis, int64_t k, int64_t stride, int64_t dil, Val *pad,
                   int64_t padv, Loc kloc, int64_t *out) {
  int64_t n = x->shape.dim[axis];
  int64_t eff = dil * (k - 1) + 1;
  if (pad->kind == VK_NAME && !strcmp(pad->s, "same")) {
    *out = (n + stride - 1) / stride;
    return true;
  }
  int64_t padded = n + 2 * padv;
  if (eff > padded) {
    const char *d = dil > 1 ? arena_printf(" (dilated to %lld)", (long long)eff) : "";
    error_at(kloc, "window of size %lld%s is larger than its %sinput of size %lld",
             (long long)k, d, padv ? "padded " : "", (long long)padded);
    return false;
  }
  *out = (padded - eff) / stride + 1;
  return true;
}

static bool spatial_input(const Builtin *b, Val *x) {
  if (!need_float(b, x)) return false;
  if (x->shape.rank != 4) {
    error_at(x->loc, "'%s' needs an image tensor [N, height, width, channels], got %s", b->name,
             type_str(x->dtype, x->shape));
    return false;
  }
  for (int i = 1; i < 4; i++)
    if (x->shape.dim[i] == DIM_BATCH) {
      error_at(x->loc, "'%s' needs the batch dimension first, got %s", b->name,
               type_str(x->dtype, x->shape));
      return false;
    }
  return true;
}

static bool padding2(Val *pad, int64_t out[2]) {
  out[0] = out[1] = 0;
  if (pad->kind == VK_NAME) return true;
  return ints2(pad, out, "padding");
}

/* conv2d(x: [N, H, W, C], filters, kernel, stride, padding, dilation, groups):
 * W[kh, kw, C/groups, filters], b[filters] -> [N, H', W', filters] */
bool rule_conv2d(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0];
  int64_t k[2], st[2], dil[2], pad[2], oh, ow;
  if (!spatial_input(b, x)) return false;
  Val *kernel = arg(b, a, "kernel"), *padding = arg(b, a, "padding");
  Val *groups_v = arg(b, a, "groups");
  if (!ints2(kernel, k, "kernel") || !ints2(arg(b, a, "stride"), st, "stride") ||
      !padding2(padding, pad) || !ints2(arg(b, a, "dilation"), dil, "dilation"))
    return false;
  int64_t c = x->shape.dim[3], filters = arg(b, a, "filters")->i, groups = groups_v->i;
  if (c % groups) {
    error_at(groups_v->loc, "input channels (%lld) are not divisible by groups (%lld)", (long long)c,
             (long long)groups);
    return false;
  }
  if (filters % groups) {
    error_at(groups_v->loc, "filters (%lld) are not divisible by groups (%lld)", (long long)filters,
             (long long)groups);
    return false;
  }
  if (!window(x, 1, k[0], st[0], dil[0], padding, pad[0], kernel->loc, &oh) ||
      !window(x, 2, k[1], st[1], dil[1], padding, pad[1], kernel->loc, &ow))
    return false;
  Shape w = {.rank = 4, .dim = {k[0], k[1], c / groups, filters}};
  int W, B = -1;
  if (!add_weight(s, "W", x->dtype, w, arg(b, a, "kernel_init"), call->loc, &W)) return false;
  if (arg(b, a, "use_bias")->i &&
      !add_weight(s, "b", x->dtype, shape1(filters), arg(b, a, "bias_init"), call->loc, &B))
    return false;
  Shape sh = {.rank = 4, .dim = {x->shape.dim[0], oh, ow, filters}};
  tensor_out(out, x->dtype, sh);
  if (!check_shape_size(call->loc, x->dtype, sh)) return false;
  if (!s->graph) return true;
  int64_t at[9] = {st[0], st[1], 0, 0, 0, 0, dil[0], dil[1], groups};
  window_pads(x, k, st, dil, padding, pad, oh, ow, at + 2);
  int y = ir_window(s->graph, OP_CONV2D, val_ir(x), W, at, sh);
  if (B >= 0) y = ir_binary(s->graph, OP_ADD, y, B);
  return emit(out, y);
}

/* max_pool2d / avg_pool2d(x, size, stride = size, padding) */
bool rule_pool2d(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  Val *x = &a[0];
  int64_t k[2], st[2], pad[2], oh, ow;
  if (!spatial_input(b, x) || !ints2(&a[1], k, "size")) return false;
  if (a[2].kind == VK_NONE) st[0] = k[0], st[1] = k[1];
  else if (!ints2(&a[2], st, "stride")) return false;
  if (!padding2(&a[3], pad)) return false;
  if (pad[0] * 2 > k[0] || pad[1] * 2 > k[1]) {
    error_at(a[3].loc, "pooling padding must be at most half the window size");
    return false;
  }
  if (!window(x, 1, k[0], st[0], 1, &a[3], pad[0], a[1].loc, &oh) ||
      !window(x, 2, k[1], st[1], 1, &a[3], pad[1], a[1].loc, &ow))
    return false;
  Shape sh = {.rank = 4, .dim = {x->shape.dim[0], oh, ow, x->shape.dim[3]}};
  tensor_out(out, x->dtype, sh);
  if (!s->graph) return true;
  int64_t at[8] = {k[0], k[1], st[0], st[1]}, one[2] = {1, 1};
  window_pads(x, k, st, one, &a[3], pad, oh, ow, at + 4);
  Op op = !strcmp(b->name, "max_pool2d") ? OP_MAXPOOL : OP_AVGPOOL;
  return emit(out, ir_window(s->graph, op, val_ir(x), -1, at, sh));
}

bool rule_global_pool(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  if (!spatial_input(b, &a[0])) return false;
  Shape sh = {.rank = 2, .dim = {a[0].shape.dim[0], a[0].shape.dim[3]}};
  tensor_out(out, a[0].dtype, sh);
  bool drop[NN_MAX_RANK] = {false, true, true};
  return !s->graph || emit(out, reduce_axes(s->graph, OP_SUM, val_ir(&a[0]), drop, false, true));
}

/* batch_norm over the last (channel) axis: gamma, beta trainable;
 * moving_mean, moving_var are state saved with the weights. */
bool rule_batch_norm(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int64_t c;
  if (!need_float(b, &a[0]) || !last_dim(b, &a[0], &c)) return false;
  DType dt = a[0].dtype;
  Shape sh = shape1(c);
  int gamma = -1, beta = -1, mm, mv;
  if ((arg(b, a, "scale")->i &&
       !add_param(s, "gamma", dt, sh, "ones", NULL, NULL, 0, true, call->loc, &gamma)) ||
      (arg(b, a, "center")->i &&
       !add_param(s, "beta", dt, sh, "zeros", NULL, NULL, 0, true, call->loc, &beta)) ||
      !add_param(s, "moving_mean", dt, sh, "zeros", NULL, NULL, 0, false, call->loc, &mm) ||
      !add_param(s, "moving_var", dt, sh, "ones", NULL, NULL, 0, false, call->loc, &mv))
    return false;
  tensor_out(out, dt, a[0].shape);
  if (!s->graph) return true;
  return emit(out, batch_norm(s->graph, val_ir(&a[0]), gamma, beta, mm, mv,
                              arg(b, a, "momentum")->f, arg(b, a, "epsilon")->f));
}

/* Layer normalization of x over its last axis, scaled by gamma and
 * shifted by beta. */
static int layer_norm_ir(Graph *g, int x, int gamma, int beta, double epsilon) {
  bool drop[NN_MAX_RANK] = {0};
  drop[g->v[x].shape.rank - 1] = true;
  int mean = reduce_axes(g, OP_SUM, x, drop, true, true);
  int xc = ir_binary(g, OP_SUB, x, mean);
  int var = reduce_axes(g, OP_SUM, ir_binary(g, OP_MUL, xc, xc), drop, true, true);
  int inv = ir_unary(g, OP_SQRT, ir_binary(g, OP_ADD, var, scalar_like(g, x, epsilon)));
  int y = ir_binary(g, OP_MUL, ir_binary(g, OP_DIV, xc, inv), gamma);
  return ir_binary(g, OP_ADD, y, beta);
}

/* A layer norm's gamma and beta, named PREFIXgamma and PREFIXbeta. */
static bool norm_params(Sema *s, const char *prefix, DType dt, int64_t d, Loc loc, int *gamma, int *beta) {
  return add_param(s, arena_printf("%sgamma", prefix), dt, shape1(d), "ones", NULL, NULL, 0, true, loc, gamma) &&
         add_param(s, arena_printf("%sbeta", prefix), dt, shape1(d), "zeros", NULL, NULL, 0, true, loc, beta);
}

bool rule_layer_norm(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int64_t d;
  if (!need_float(b, &a[0]) || !last_dim(b, &a[0], &d)) return false;
  DType dt = a[0].dtype;
  int gamma, beta;
  if (!norm_params(s, "", dt, d, call->loc, &gamma, &beta)) return false;
  tensor_out(out, dt, a[0].shape);
  return !s->graph || emit(out, layer_norm_ir(s->graph, val_ir(&a[0]), gamma, beta, a[1].f));
}

/* embedding(ids: i32[...], vocab, dim): W[vocab, dim] -> [..., dim] */
bool rule_embedding(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0];
  if (x->dtype != DT_I32) {
    error_at(x->loc, "'%s' needs integer token ids (i32), got %s", b->name,
             type_str(x->dtype, x->shape));
    return false;
  }
  if (x->shape.rank >= NN_MAX_RANK) {
    error_at(x->loc, "'%s' result would have more than %d dimensions", b->name, NN_MAX_RANK);
    return false;
  }
  Shape w = {.rank = 2, .dim = {a[1].i, a[2].i}};
  int W;
  DType dt = sema_float_dtype(s);
  if (!add_weight(s, "W", dt, w, arg(b, a, "init"), call->loc, &W)) return false;
  Shape sh = x->shape;
  sh.dim[sh.rank++] = a[2].i;
  tensor_out(out, dt, sh);
  if (!check_shape_size(call->loc, dt, sh)) return false;
  if (!s->graph) return true;
  int in[2] = {W, val_ir(x)};
  return emit(out, ir_make(s->graph, OP_GATHER, DT_NONE, (Shape){0}, in, 2, NULL, 0, 0));
}

/* A batch of sequences [N, T, D] with known T and D, or an error. */
static bool need_sequences(const Builtin *b, Val *x, const char *what) {
  if (x->shape.rank == 3 && x->shape.dim[0] == DIM_BATCH && x->shape.dim[1] != DIM_BATCH &&
      x->shape.dim[2] != DIM_BATCH)
    return true;
  error_at(x->loc, "'%s' needs a batch of sequences [N, %s, features], got %s", b->name, what,
           type_str(x->dtype, x->shape));
  return false;
}

/* Columns lo..hi-1 of a matrix [N, k]. */
static int cols(Graph *g, int x, int64_t lo, int64_t hi) { return ir_slice(g, x, 1, lo, hi); }

static int sigmoid(Graph *g, int x) { return ir_unary(g, OP_SIGMOID, x); }

/* A GRU step with the reset gate after the recurrent product (PyTorch's,
 * and Keras 2's reset_after): z, r = sigmoid(xw + hu) of their columns,
 * cand = tanh(xw_h + r * hu_h), h' = z h + (1 - z) cand, from
 * hu = h U + rb (the recurrent bias; rb alone from the zero state, h < 0). */
static int gru_after(Graph *g, int z, int h, int hu, int64_t u) {
  int last = g->v[hu].shape.rank - 1, one = ir_scalar(g, g->v[z].dtype, 1);
  int zg = sigmoid(g, ir_binary(g, OP_ADD, cols(g, z, 0, u), ir_slice(g, hu, last, 0, u)));
  int rg = sigmoid(g, ir_binary(g, OP_ADD, cols(g, z, u, 2 * u), ir_slice(g, hu, last, u, 2 * u)));
  int cand = ir_unary(g, OP_TANH, ir_binary(g, OP_ADD, cols(g, z, 2 * u, 3 * u),
                                             ir_binary(g, OP_MUL, rg, ir_slice(g, hu, last, 2 * u, 3 * u))));
  int fresh = ir_binary(g, OP_MUL, ir_binary(g, OP_SUB, one, zg), cand);
  return h >= 0 ? ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, zg, h), fresh) : fresh;
}

/* One step of a recurrent layer in a scan's body (kind 0 simple_rnn, 1
 * gru, 2 lstm, 3 gru with reset_after). Inputs: the carries h (and an
 * LSTM's c), the step's xw (and its keep [N, 1] under a mask), then U (a
 * GRU's U[:, :2u] and U[:, 2u:]; with reset_after U and the recurrent
 * bias). Outputs: the new carries, then with return_sequences the new h,
 * then in a training graph the gates and products the step's gradient
 * reads (autodiff.c's scan rule takes them from there). */
static Graph *recurrent_body(Graph *outer, int kind, int xw, bool masked, const int *inv, int64_t u, bool seq) {
  Graph *g = graph_new(arena_printf("%s_step", kind == 2 ? "lstm" : kind ? "gru" : "simple_rnn"));
  g->loc = outer->loc;
  DType dt = outer->v[xw].dtype;
  Shape hs = {.rank = 2, .dim = {DIM_BATCH, u}}, zs = {.rank = 2, .dim = {DIM_BATCH, outer->v[xw].shape.dim[2]}};
#define IN(shape) (g->inputs[g->ninputs] = ir_leaf(g, OP_INPUT, dt, shape, g->ninputs), g->inputs[g->ninputs++])
  int h = IN(hs), c = kind == 2 ? IN(hs) : -1, z = IN(zs);
  int keep = masked ? IN(((Shape){.rank = 2, .dim = {DIM_BATCH, 1}})) : -1;
  int w = IN(outer->v[inv[0]].shape), w2 = kind == 1 || kind == 3 ? IN(outer->v[inv[1]].shape) : -1;
#undef IN
  int h_was = h, c_was = c, one = ir_scalar(g, dt, 1), save[6], nsave = 0;
  if (kind == 2) {
    z = ir_binary(g, OP_ADD, z, ir_matmul(g, h, w));
    int i = sigmoid(g, cols(g, z, 0, u));
    int f = sigmoid(g, cols(g, z, u, 2 * u));
    int cand = ir_unary(g, OP_TANH, cols(g, z, 2 * u, 3 * u));
    int o = sigmoid(g, cols(g, z, 3 * u, 4 * u));
    c = ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, f, c), ir_binary(g, OP_MUL, i, cand));
    int tc = ir_unary(g, OP_TANH, c);
    h = ir_binary(g, OP_MUL, o, tc);
    save[0] = i, save[1] = f, save[2] = cand, save[3] = o, save[4] = tc, nsave = 5;
  } else if (kind == 3) {
    int hu = ir_binary(g, OP_ADD, ir_matmul(g, h, w), w2);
    h = gru_after(g, z, h, hu, u);
    save[0] = hu, nsave = 1;
  } else if (kind == 1) {
    int zx = cols(g, z, 0, u), rx = cols(g, z, u, 2 * u), hx = cols(g, z, 2 * u, 3 * u);
    int hu = ir_matmul(g, h, w);
    int zg = sigmoid(g, ir_binary(g, OP_ADD, zx, cols(g, hu, 0, u)));
    int rg = sigmoid(g, ir_binary(g, OP_ADD, rx, cols(g, hu, u, 2 * u)));
    int rh = ir_binary(g, OP_MUL, rg, h);
    int cand = ir_unary(g, OP_TANH, ir_binary(g, OP_ADD, hx, ir_matmul(g, rh, w2)));
    h = ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, zg, h), ir_binary(g, OP_MUL, ir_binary(g, OP_SUB, one, zg), cand));
    save[0] = zg, save[1] = rg, save[2] = cand, nsave = 3;
  } else {
    h = ir_unary(g, OP_TANH, ir_binary(g, OP_ADD, z, ir_matmul(g, h, w)));
    save[0] = h, nsave = 1;
  }
  if (keep >= 0) { /* a padded step: the state as it was, exactly (so the scan may skip it) */
    h = ir_select(g, keep, h, h_was);
    if (kind == 2) c = ir_select(g, keep, c, c_was);
  }
  g->outputs[g->noutputs++] = h;
  if (kind == 2) g->outputs[g->noutputs++] = c;
  if (seq) g->outputs[g->noutputs++] = h;
  /* training: the step's products and gates stacked too, which the
   * backward loop reads instead of running the step again (autodiff.c) */
  for (int i = 0; outer->training && i < nsave; i++) g->outputs[g->noutputs++] = save[i];
  return g;
}

/* The layer as a scan from the given state (start[i] >= 0) or the zero
 * state (inference): its result, the last h or every step's h [N, T, u].
 * rb: reset_after's recurrent bias. */
static int recurrent_scan(Graph *g, int kind, int xw, int keep_all, int U, int rb, const int *start, int64_t u,
                          bool seq, bool rev) {
  DType dt = g->v[xw].dtype;
  int64_t T = g->v[xw].shape.dim[1];
  int zero = ir_const(g, dt, (Shape){.rank = 2, .dim = {DIM_BATCH, u}}, 0);
  int carries[2] = {start[0] >= 0 ? start[0] : zero, start[1] >= 0 ? start[1] : zero}, seqs[2] = {xw, -1},
      inv[2] = {U, -1};
  if (keep_all >= 0) seqs[1] = ir_reshape(g, keep_all, (Shape){.rank = 3, .dim = {DIM_BATCH, T, 1}});
  if (kind == 1) inv[0] = ir_slice(g, U, 1, 0, 2 * u), inv[1] = ir_slice(g, U, 1, 2 * u, 3 * u);
  if (kind == 3) inv[1] = rb;
  int k = kind == 2 ? 2 : 1;
  Graph *body = recurrent_body(g, kind, xw, keep_all >= 0, inv, u, seq);
  int first = ir_scan(g, ir_body(g, body), T, rev, 1, carries, k, seqs, keep_all >= 0 ? 2 : 1, inv,
                      kind == 1 || kind == 3 ? 2 : 1, keep_all >= 0 ? 1 : -1, 0);
  return seq ? first + k : first;
}

/* simple_rnn, lstm, gru over a batch of sequences x[N, T, D], unrolled over
 * the T steps from a zero state, so backpropagation through time is the
 * autodiff of the unrolled graph. W[D, G u] and U[u, G u] hold the G gates'
 * input and recurrent weights side by side (LSTM: i, f, g, o as Keras;
 * GRU: z, r, h with the reset gate applied before U, Keras's
 * reset_after = false), b[G u] their biases. The result is the last state
 * [N, u], or with return_sequences every step's state [N, T, u]; with
 * reverse the sequence is read from its end and the states are returned in
 * the input's order, so concat(f(x), f(x, reverse: true)) along the last
 * axis is a bidirectional layer. With a mask [N, T] (1 a step, 0 padding:
 * below 0.5), a padded step keeps the state (and an LSTM's cell) as it
 * was, so shorter sequences in a batch of the longest length end with
 * their own last state. */
bool rule_recurrent(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0];
  if (!need_float(b, x)) return false;
  if (!need_sequences(b, x, "steps")) return false;
  bool lstm = !strcmp(b->name, "lstm"), gru = !strcmp(b->name, "gru");
  bool after = gru && arg(b, a, "reset_after")->i;
  int64_t T = x->shape.dim[1], D = x->shape.dim[2], u = a[1].i, G = lstm ? 4 : gru ? 3 : 1;
  bool seq = arg(b, a, "return_sequences")->i, rev = arg(b, a, "reverse")->i;
  DType dt = x->dtype;
  Val *mask = arg(b, a, "mask");
  if (mask->kind == VK_TENSOR && (mask->shape.rank != 2 || mask->shape.dim[0] != DIM_BATCH ||
                                  mask->shape.dim[1] != T || mask->dtype == DT_NONE)) {
    error_at(mask->loc, "the mask of '%s' must be [N, %lld] (1 a step, 0 padding) for the sequence's %lld steps, got %s",
             b->name, (long long)T, (long long)T, type_str(mask->dtype, mask->shape));
    return false;
  }
  if (u > NN_MAX_ELEMS / G) {
    error_at(a[1].loc, "'%s' with %lld units is too large", b->name, (long long)u);
    return false;
  }
  /* the state to start from: h [N, u] (an LSTM's [h, c]), or zero */
  Val *init = arg(b, a, "initial_state");
  int nstate = init->kind == VK_NONE ? 0 : init->kind == VK_LIST ? init->nitems : 1, start[2] = {-1, -1};
  Shape hs = {.rank = 2, .dim = {DIM_BATCH, u}};
  for (int i = 0; i < nstate; i++) {
    const Val *t = init->kind == VK_LIST ? &init->items[i] : init;
    if (nstate != (lstm ? 2 : 1) || t->kind != VK_TENSOR || t->dtype != dt || !shape_eq(t->shape, hs)) {
      error_at(init->loc, "the initial_state of '%s' is %s %s [N, %lld] of x's type %s, got %s", b->name,
               lstm ? "a list of two," : "one", lstm ? "the state h and the cell c, each" : "tensor", (long long)u,
               dtype_name(dt), value_str(init));
      return false;
    }
    if (s->graph) start[i] = val_ir(t);
  }
  int W, U, B, RB = -1;
  if (!add_weight(s, "W", dt, (Shape){.rank = 2, .dim = {D, G * u}}, arg(b, a, "kernel_init"), call->loc, &W) ||
      !add_weight(s, "U", dt, (Shape){.rank = 2, .dim = {u, G * u}}, arg(b, a, "recurrent_init"), call->loc, &U) ||
      !add_param(s, "b", dt, shape1(G * u), "zeros", NULL, NULL, 0, true, call->loc, &B) ||
      (after && !add_param(s, "rb", dt, shape1(G * u), "zeros", NULL, NULL, 0, true, call->loc, &RB)))
    return false;
  Shape sh = seq ? (Shape){.rank = 3, .dim = {DIM_BATCH, T, u}} : (Shape){.rank = 2, .dim = {DIM_BATCH, u}};
  tensor_out(out, dt, sh);
  if (!check_shape_size(call->loc, dt, sh)) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  /* the input's part of every gate at every step: one product */
  int xw = ir_binary(g, OP_ADD, ir_matmul(g, val_ir(x), W), B);
  int keep_all = -1;
  if (mask->kind == VK_TENSOR) { /* 1 where a step is real: no gradient */
    int m = val_ir(mask);
    if (mask->dtype != dt) m = ir_cast(g, m, dt);
    keep_all = ir_binary(g, OP_GT, m, scalar_like(g, m, 0.5));
  }
  return emit(out, recurrent_scan(g, lstm ? 2 : after ? 3 : gru ? 1 : 0, xw, keep_all, U, RB, start, u, seq, rev));
}

/* positional_encoding(x): x + the sinusoidal table of "Attention is all
 * you need": PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(same),
 * built from iota leaves (sin a = cos(a - pi/2)). */
bool rule_positional_encoding(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  Val *x = &a[0];
  if (!need_float(b, x) || !need_sequences(b, x, "positions")) return false;
  tensor_out(out, x->dtype, x->shape);
  if (!s->graph) return true;
  Graph *g = s->graph;
  DType dt = x->dtype;
  int64_t D = x->shape.dim[2];
  Shape td = {.rank = 2, .dim = {x->shape.dim[1], D}};
  int t = ir_iota(g, dt, td, 0), j = ir_iota(g, dt, td, 1);
  int pair = ir_unary(g, OP_FLOOR, scale(g, j, 0.5));                       /* i = floor(j / 2) */
  int rate = ir_unary(g, OP_EXP, scale(g, pair, -2 * log(10000.0) / (double)D)); /* 10000^(-2i/D) */
  int angle = ir_binary(g, OP_MUL, t, rate);
  int odd = ir_binary(g, OP_SUB, j, scale(g, pair, 2));                     /* j mod 2 */
  int shift = scale(g, ir_binary(g, OP_SUB, scalar_like(g, j, 1), odd), 1.5707963267948966);
  int pe = ir_unary(g, OP_COS, ir_binary(g, OP_SUB, angle, shift));        /* sin for even j */
  return emit(out, ir_binary(g, OP_ADD, val_ir(x), pe));
}

/* positional_embedding(x): x + a learned table P[T, D]. */
bool rule_positional_embedding(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0];
  if (!need_float(b, x) || !need_sequences(b, x, "positions")) return false;
  int P;
  Shape td = {.rank = 2, .dim = {x->shape.dim[1], x->shape.dim[2]}};
  if (!add_weight(s, "P", x->dtype, td, arg(b, a, "init"), call->loc, &P)) return false;
  tensor_out(out, x->dtype, x->shape);
  return !s->graph || emit(out, ir_binary(s->graph, OP_ADD, val_ir(x), P));
}

/* x[N, T, k] @ W[k, m] + b, a projection of every position. */
static int project(Graph *g, int x, int W, int B) { return ir_binary(g, OP_ADD, ir_matmul(g, x, W), B); }

/* [N, T, H*d] -> [N, H, T, d]: the heads apart. */
static int split_heads(Graph *g, int x, int64_t T, int64_t H, int64_t d) {
  int perm[4] = {0, 2, 1, 3};
  return ir_transpose(g, ir_reshape(g, x, (Shape){.rank = 4, .dim = {DIM_BATCH, T, H, d}}), perm);
}

/* Checks attention's operands: x [N, T, D] with heads dividing D, the
 * context c [N, S, C] of x's type, causal needing S = T, a mask [N, S]. */
static bool attention_operands(const Builtin *b, Node *call, Val *x, Val *heads, Val *c, bool causal,
                               Val *mask) {
  if (!need_float(b, x) || !need_sequences(b, x, "positions")) return false;
  int64_t T = x->shape.dim[1], D = x->shape.dim[2], H = heads->i;
  if (D % H) {
    error_at(heads->loc, "%lld heads do not divide the model width %lld", (long long)H, (long long)D);
    return false;
  }
  if (c != x && (!need_sequences(b, c, "positions") || c->dtype != x->dtype)) {
    if (c->dtype != x->dtype)
      error_at(c->loc, "the context of '%s' must be %s like its input, got %s", b->name,
               x->dtype == DT_F64 ? "f64" : "f32", type_str(c->dtype, c->shape));
    return false;
  }
  int64_t S = c->shape.dim[1];
  if (causal && S != T) {
    error_at(call->loc, "a causal '%s' needs as many context positions as positions (%lld, got %lld)",
             b->name, (long long)T, (long long)S);
    return false;
  }
  if (mask->kind == VK_TENSOR && (mask->shape.rank != 2 || mask->shape.dim[0] != DIM_BATCH ||
                                  mask->shape.dim[1] != S || mask->dtype == DT_NONE)) {
    error_at(mask->loc, "the mask of '%s' must be [N, %lld] (1 keep, 0 padding) for the context's %lld positions, got %s",
             b->name, (long long)S, (long long)S, type_str(mask->dtype, mask->shape));
    return false;
  }
  return true;
}

/* Multi-head scaled dot-product attention of x[N, T, D] over c[N, S, C],
 * as Keras's MultiHeadAttention with key_dim D / heads: Q = x Wq + bq,
 * K = c Wk + bk, V = c Wv + bv split into heads, softmax(Q K^T / sqrt(d) +
 * masks) V joined and projected by Wo + bo; the parameters are named
 * PREFIXWq and so on. `causal` lets position i see positions j <= i only;
 * `mask` [N, S] (1 keep; below 0.5 is padding) hides padded context
 * positions. A hidden score is -1e9, so a row with every position hidden
 * stays finite (uniform). The result in *y when building. */
static bool attend(Sema *s, Node *call, Val *x, Val *c, Val *mask, int64_t H, bool causal, const Val *init,
                   const char *prefix, int *y) {
  DType dt = x->dtype;
  int64_t T = x->shape.dim[1], D = x->shape.dim[2], S = c->shape.dim[1], C = c->shape.dim[2];
  int W[4], B[4];
  static const char *names[4] = {"q", "k", "v", "o"};
  for (int i = 0; i < 4; i++) {
    Shape ws = {.rank = 2, .dim = {i == 1 || i == 2 ? C : D, D}};
    if (!add_weight(s, arena_printf("%sW%s", prefix, names[i]), dt, ws, init, call->loc, &W[i]))
      return false;
  }
  for (int i = 0; i < 4; i++)
    if (!add_param(s, arena_printf("%sb%s", prefix, names[i]), dt, shape1(D), "zeros", NULL, NULL, 0, true,
                   call->loc, &B[i]))
      return false;
  if (!check_shape_size(call->loc, dt, (Shape){.rank = 4, .dim = {DIM_BATCH, H, T, S}})) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  int64_t d = D / H;
  int q = split_heads(g, project(g, val_ir(x), W[0], B[0]), T, H, d);
  int k = split_heads(g, project(g, val_ir(c), W[1], B[1]), S, H, d);
  int v = split_heads(g, project(g, val_ir(c), W[2], B[2]), S, H, d);
  int kt_perm[4] = {0, 1, 3, 2};
  int sc = scale(g, ir_matmul(g, q, ir_transpose(g, k, kt_perm)), 1 / sqrt((double)d));
  int hidden = -1; /* 1 where a score is hidden */
  if (causal) { /* position i sees j <= i */
    Shape ts = {.rank = 2, .dim = {T, S}};
    hidden = ir_binary(g, OP_GT, ir_iota(g, dt, ts, 1), ir_iota(g, dt, ts, 0));
  }
  if (mask->kind == VK_TENSOR) { /* a padded context position: mask < 0.5 */
    int m = val_ir(mask);
    if (mask->dtype != dt) m = ir_cast(g, m, dt);
    int pad = ir_binary(g, OP_GT, scalar_like(g, m, 0.5), m);
    pad = ir_reshape(g, pad, (Shape){.rank = 4, .dim = {DIM_BATCH, 1, 1, S}});
    hidden = hidden >= 0 ? ir_binary(g, OP_MAX, hidden, pad) : pad;
  }
  if (hidden >= 0) /* chosen, not added: exact in any precision, and no gradient */
    sc = ir_select(g, hidden, ir_scalar(g, dt, -1e9), sc);
  int p = ir_axis_op(g, OP_SOFTMAX, sc, 3);
  int o = ir_matmul(g, p, v); /* [N, H, T, d] */
  int back[4] = {0, 2, 1, 3};
  o = ir_reshape(g, ir_transpose(g, o, back), x->shape);
  *y = project(g, o, W[3], B[3]);
  return true;
}

/* attention(x, heads, context, causal, mask): x over itself (self-
 * attention) or over a context (cross-attention). */
bool rule_attention(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Val *x = &a[0], *ctx = arg(b, a, "context"), *mask = arg(b, a, "mask");
  Val *c = ctx->kind == VK_TENSOR ? ctx : x;
  bool causal = arg(b, a, "causal")->i;
  if (!attention_operands(b, call, x, &a[1], c, causal, mask)) return false;
  tensor_out(out, x->dtype, x->shape);
  int y = -1;
  if (!attend(s, call, x, c, mask, a[1].i, causal, arg(b, a, "kernel_init"), "", &y)) return false;
  return !s->graph || emit(out, y);
}

/* A Transformer block's position-wise feed-forward: dense(ff, activation)
 * then dense(D), parameters PREFIX1.W, PREFIX1.b, PREFIX2.W, PREFIX2.b. */
static bool feed_forward(Sema *s, Node *call, Val *x, int64_t ff, const char *act, const Val *init,
                         const char *prefix, int h, int *y) {
  DType dt = x->dtype;
  int64_t D = x->shape.dim[2];
  int W1, B1, W2, B2;
  if (!add_weight(s, arena_printf("%s1.W", prefix), dt, (Shape){.rank = 2, .dim = {D, ff}}, init, call->loc, &W1) ||
      !add_param(s, arena_printf("%s1.b", prefix), dt, shape1(ff), "zeros", NULL, NULL, 0, true, call->loc, &B1) ||
      !add_weight(s, arena_printf("%s2.W", prefix), dt, (Shape){.rank = 2, .dim = {ff, D}}, init, call->loc, &W2) ||
      !add_param(s, arena_printf("%s2.b", prefix), dt, shape1(D), "zeros", NULL, NULL, 0, true, call->loc, &B2))
    return false;
  if (!check_shape_size(call->loc, dt, (Shape){.rank = 3, .dim = {DIM_BATCH, x->shape.dim[1], ff}})) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  int u = project(g, h, W1, B1);
  if (act) u = activation(g, act, u, 0);
  *y = project(g, u, W2, B2);
  return true;
}

/* transformer_encoder / transformer_decoder: the blocks of "Attention is
 * all you need". Each sub-layer (self-attention; for the decoder, causal
 * self-attention then attention over the context; the feed-forward) is
 * wrapped in dropout, a residual and a layer norm: after the sum
 * (post-norm, the paper's) or, with norm_first, on the sub-layer's input
 * (pre-norm: x + f(norm(x))). */
bool rule_transformer(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  bool decoder = !strcmp(b->name, "transformer_decoder");
  Val *x = &a[0], *c = decoder ? &a[1] : x, *heads = arg(b, a, "heads");
  bool causal = decoder || arg(b, a, "causal")->i, first = arg(b, a, "norm_first")->i;
  double rate = arg(b, a, "dropout")->f, eps = 1e-5;
  Val *act = arg(b, a, "ff_activation");
  const Val *init = arg(b, a, "kernel_init");
  /* the decoder's self-attention is causal, with no padding mask (a
   * padded position only sees the positions before it); the context's
   * padding is context_mask */
  Val nomask = {.kind = VK_NONE};
  Val *self_mask = decoder ? &nomask : arg(b, a, "mask"), *ctx_mask = decoder ? arg(b, a, "context_mask") : &nomask;
  if (!attention_operands(b, call, x, heads, x, causal, self_mask) ||
      (decoder && !attention_operands(b, call, x, heads, c, false, ctx_mask)))
    return false;
  int64_t D = x->shape.dim[2];
  DType dt = x->dtype;
  int ng = decoder ? 3 : 2, gam[3], bet[3];
  for (int i = 0; i < ng; i++)
    if (!norm_params(s, arena_printf("norm%d.", i + 1), dt, D, call->loc, &gam[i], &bet[i])) return false;
  tensor_out(out, dt, x->shape);
  Graph *g = s->graph;
  int h = g ? val_ir(x) : -1, y = -1;
  /* one residual sub-layer: h = norm(h + drop(f(h))) or h + drop(f(norm(h))) */
#define SUBLAYER(i, make)                                                        \
  do {                                                                          \
    int in_ = g && first ? layer_norm_ir(g, h, gam[i], bet[i], eps) : h;      \
    Val hv_ = *x;                                                               \
    hv_.ir = in_ + 1;                                                           \
    if (!(make)) return false;                                                  \
    if (g) {                                                                    \
      int sum_ = ir_binary(g, OP_ADD, h, dropout_ir(s, y, rate));              \
      h = first ? sum_ : layer_norm_ir(g, sum_, gam[i], bet[i], eps);          \
    }                                                                           \
  } while (0)
  SUBLAYER(0, attend(s, call, &hv_, &hv_, self_mask, heads->i, causal, init, "self.", &y));
  if (decoder) SUBLAYER(1, attend(s, call, &hv_, c, ctx_mask, heads->i, false, init, "cross.", &y));
  SUBLAYER(ng - 1, feed_forward(s, call, &hv_, arg(b, a, "ff")->i, act->kind == VK_NAME ? act->s : NULL, init,
                                "ff", in_, &y));
#undef SUBLAYER
  return !g || emit(out, h);
}
