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
Val *layer_arg(const Builtin *b, Val *a, const char *name) {
  for (int i = 0; i < b->nparams; i++)
    if (!strcmp(b->params[i].name, name)) return &a[i];
  bug("'%s' has no parameter '%s'", b->name, name);
}

bool layer_weight(Sema *s, const char *name, DType dt, Shape sh, const Val *init,
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

bool layer_emit(Val *out, int id) {
  out->ir = id + 1;
  return true;
}

static int scalar_like(Graph *g, int x, double f) { return ir_scalar(g, g->v[x].dtype, f); }

/* x * f for a constant f */
int layer_scale(Graph *g, int x, double f) {
  return ir_binary(g, OP_MUL, x, scalar_like(g, x, f));
}

/* The activation `name` applied to x, as primitive ops. Each op is built
 * in its own statement: C leaves the order of a call's arguments open, and
 * value numbers must not depend on the compiler. */
int layer_activation(Graph *g, const char *name, int x, double alpha) {
  Op op = op_from_fn(name); /* relu, sigmoid, tanh, ...: a row of ops.h */
  if (op != NUM_OPS && op_info[op].arity == 1) return ir_unary(g, op, x);
  if (!strcmp(name, "gelu")) { /* x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) */
    int half = layer_scale(g, x, 0.5), one = scalar_like(g, x, 1);
    int e = ir_unary(g, OP_ERF, layer_scale(g, x, 0.70710678118654752440));
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
    int neg = layer_scale(g, ir_unary(g, OP_RELU, ir_unary(g, OP_NEG, x)), alpha);
    return ir_binary(g, OP_SUB, pos, neg);
  }
  if (!strcmp(name, "elu")) { /* x if x > 0 else alpha (e^min(x,0) - 1): no inf in either branch */
    int zero = scalar_like(g, x, 0), one = scalar_like(g, x, 1);
    int e = ir_unary(g, OP_EXP, ir_binary(g, OP_MIN, x, zero));
    int neg = layer_scale(g, ir_binary(g, OP_SUB, e, one), alpha);
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

Val *layer_out(Val *out, DType dt, Shape sh) {
  out->kind = VK_TENSOR;
  out->dtype = dt;
  out->shape = sh;
  return out;
}

bool layer_need_float(const Builtin *b, Val *x) {
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

Shape layer_shape1(int64_t d) {
  Shape s = {.rank = 1};
  s.dim[0] = d;
  return s;
}

bool rule_elementwise(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  if (!layer_need_float(b, &a[0])) return false;
  layer_out(out, a[0].dtype, a[0].shape);
  if (!s->graph) return true;
  double alpha = b->nparams > 1 ? a[1].f : 0;
  return layer_emit(out, layer_activation(s->graph, b->name, val_ir(&a[0]), alpha));
}

/* A number beside an i32 tensor: an integer in i32's range. */
bool int_operand(const Val *v, const char *what) {
  if (v->kind == VK_INT && v->i >= INT32_MIN && v->i <= INT32_MAX) return true;
  error_at(v->loc, "the number beside an i32 tensor in '%s' must be an integer of i32's range, got %s; "
                   "convert the tensor with float(...)", what,
           v->kind == VK_INT ? arena_printf("%lld", (long long)v->i) : ox_num_str(v->f));
  return false;
}

/* A function that is a row of ops.h (its fn): the op on x, or on a and b
 * broadcast as the arithmetic operators are (either may be a number). */
bool rule_op(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  Op op = op_from_fn(b->name);
  int n = op_info[op].arity;
  if (n == 1) {
    if (!(a[0].dtype == DT_I32 && op_on_ints(op)) && !layer_need_float(b, &a[0])) return false;
    layer_out(out, a[0].dtype, a[0].shape);
    return !s->graph || layer_emit(out, ir_unary(s->graph, op, val_ir(&a[0])));
  }
  const Val *t = NULL; /* the first tensor; the others broadcast against it */
  for (int i = 0; i < n; i++) {
    if (a[i].kind != VK_TENSOR && !val_is_num(&a[i])) {
      error_at(a[i].loc, "'%s' takes tensors or numbers", b->name);
      return false;
    }
    if (a[i].kind == VK_TENSOR && !t) t = &a[i];
  }
  if (!t) {
    error_at(call->loc, "'%s' needs at least one tensor (of numbers alone, compute the result)", b->name);
    return false;
  }
  Shape sh = t->shape;
  for (int i = 0; i < n; i++) {
    if (a[i].kind != VK_TENSOR) {
      if (t->dtype == DT_I32 && !int_operand(&a[i], b->name)) return false;
      continue;
    }
    if (!(a[i].dtype == DT_I32 && op_on_ints(op)) && !layer_need_float(b, &a[i])) return false;
    if (a[i].dtype != t->dtype) {
      error_at(call->loc, "the tensors of '%s' have different types: %s and %s", b->name,
               type_str(t->dtype, t->shape), type_str(a[i].dtype, a[i].shape));
      return false;
    }
    int ia, ib;
    if (!broadcast_where(sh, a[i].shape, &sh, &ia, &ib)) {
      error_at(call->loc, "the shapes of '%s' do not broadcast: %s and %s", b->name, shape_str(t->shape),
               shape_str(a[i].shape));
      return false;
    }
  }
  layer_out(out, t->dtype, sh);
  if (!s->graph) return true;
  int x[3];
  for (int i = 0; i < n; i++)
    x[i] = a[i].kind == VK_TENSOR ? val_ir(&a[i]) : ir_scalar(s->graph, t->dtype, val_num(&a[i]));
  return layer_emit(out, n == 3 ? ir_select(s->graph, x[0], x[1], x[2]) : ir_binary(s->graph, op, x[0], x[1]));
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
  if (!layer_need_float(b, &a[0]) || !need_rank(b, &a[0], 1, "a tensor of rank 1 or more") ||
      !norm_axis(&a[0], a[1].i, a[1].loc, &axis))
    return false;
  layer_out(out, a[0].dtype, a[0].shape);
  if (!s->graph) return true;
  Op op = !strcmp(b->name, "softmax") ? OP_SOFTMAX : OP_LOGSOFTMAX;
  return layer_emit(out, ir_axis_op(s->graph, op, val_ir(&a[0]), axis));
}

/* Inverted dropout: while training, x * mask with mask 0 or 1/(1-rate). */
/* x with dropout at `rate` when training (a mask per instance and step). */
int layer_dropout(Sema *s, int x, double rate) {
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
  if (!layer_need_float(b, &a[0])) return false;
  layer_out(out, a[0].dtype, a[0].shape);
  return !s->graph || layer_emit(out, layer_dropout(s, val_ir(&a[0]), a[1].f));
}

/* sum/mean/max(x, axis, keepdims): axis none reduces every axis. */
bool rule_reduce(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  Val *x = &a[0];
  if (!layer_need_float(b, x)) return false;
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
  layer_out(out, x->dtype, sh);
  if (!s->graph) return true;
  bool is_max = !strcmp(b->name, "max");
  return layer_emit(out, reduce_axes(s->graph, is_max ? OP_RMAX : OP_SUM, val_ir(x), drop, a[2].i,
                               !strcmp(b->name, "mean")));
}

/* float(x): integers (token ids, argmax results) as floating point;
 * int(x): a tensor as i32 (toward zero, saturated, NaN as 0); f32(x),
 * f64(x): as that type. */
bool rule_convert(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  DType dt = !strcmp(b->name, "int") ? DT_I32 : !strcmp(b->name, "f32") ? DT_F32 : !strcmp(b->name, "f64") ? DT_F64
                                                                                               : sema_float_dtype(s);
  layer_out(out, dt, a[0].shape);
  return !s->graph || layer_emit(out, ir_cast(s->graph, val_ir(&a[0]), out->dtype));
}

bool rule_argmax(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  int axis;
  if (!need_rank(b, &a[0], 1, "a tensor of rank 1 or more")) return false;
  if (!norm_axis(&a[0], a[1].i, a[1].loc, &axis)) return false;
  Shape sh = {0};
  for (int i = 0; i < a[0].shape.rank; i++)
    if (i != axis) sh.dim[sh.rank++] = a[0].shape.dim[i];
  layer_out(out, DT_I32, sh);
  return !s->graph || layer_emit(out, ir_axis_op(s->graph, OP_ARGMAX, val_ir(&a[0]), axis));
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
  layer_out(out, a[0].dtype, sh);
  return !s->graph || layer_emit(out, ir_reshape(s->graph, val_ir(&a[0]), sh));
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
  layer_out(out, a[0].dtype, sh);
  return !s->graph || layer_emit(out, ir_reshape(s->graph, val_ir(&a[0]), sh));
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
    layer_out(out, a[0].dtype, sh);
    return !s->graph || layer_emit(out, ir_transpose(s->graph, val_ir(&a[0]), perm));
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
  layer_out(out, a[0].dtype, sh);
  return !s->graph || layer_emit(out, ir_transpose(s->graph, val_ir(&a[0]), perm));
}

bool rule_concat(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b;
  Val *xs = &a[0];
  if (xs->nitems < 1) {
    error_at(call->loc, "'concat' needs at least one tensor");
    return false;
  }
  /* beside a batched tensor, an unbatched one of one axis less (a class
   * token, a parameter) is the same for every sample: broadcast over the batch */
  Shape *in = arena_alloc(sizeof *in * (size_t)xs->nitems);
  int batched = -1;
  for (int k = 0; k < xs->nitems; k++)
    if (xs->items[k].shape.rank > 0 && xs->items[k].shape.dim[0] == DIM_BATCH && batched < 0) batched = k;
  for (int k = 0; k < xs->nitems; k++) {
    in[k] = xs->items[k].shape;
    const Shape *bs = batched >= 0 ? &xs->items[batched].shape : NULL;
    if (bs && in[k].rank == bs->rank - 1 && !(in[k].rank && in[k].dim[0] == DIM_BATCH)) {
      memmove(in[k].dim + 1, in[k].dim, sizeof(int64_t) * (size_t)in[k].rank);
      in[k].dim[0] = DIM_BATCH, in[k].rank++;
    }
  }
  Val *x0 = &xs->items[0], lifted = *x0;
  lifted.shape = in[0];
  int axis;
  if (!norm_axis(&lifted, a[1].i, a[1].loc, &axis)) return false;
  if (in[0].dim[axis] == DIM_BATCH) {
    error_at(a[1].loc, "'concat' cannot join along the batch dimension");
    return false;
  }
  Shape sh = in[0];
  for (int k = 1; k < xs->nitems; k++) {
    Val *x = &xs->items[k];
    if (in[k].rank == sh.rank && in[k].dim[axis] == DIM_BATCH) {
      error_at(a[1].loc, "'concat' cannot join along the batch dimension");
      return false;
    }
    bool ok = x->dtype == x0->dtype && in[k].rank == sh.rank;
    for (int i = 0; ok && i < sh.rank; i++)
      if (i != axis && in[k].dim[i] != sh.dim[i]) ok = false;
    if (!ok) {
      error_at(x->loc, "cannot concatenate %s with %s along axis %d%s", type_str(x->dtype, x->shape),
               type_str(x0->dtype, x0->shape), axis,
               batched >= 0 && !(x->shape.rank && x->shape.dim[0] == DIM_BATCH && x0->shape.rank && x0->shape.dim[0] == DIM_BATCH)
                   ? " (an unbatched tensor beside a batched one has one axis less: the batch's)" : "");
      return false;
    }
    sh.dim[axis] += in[k].dim[axis];
  }
  if (sh.dim[axis] > NN_MAX_ELEMS) {
    error_at(call->loc, "concatenation is too large");
    return false;
  }
  layer_out(out, x0->dtype, sh);
  if (!check_shape_size(call->loc, x0->dtype, sh)) return false;
  if (!s->graph) return true;
  int r = -1;
  for (int k = 0; k < xs->nitems; k++) {
    int v = val_ir(&xs->items[k]);
    if (!shape_eq(in[k], xs->items[k].shape)) { /* [1, dims] broadcast to [N, dims] */
      Shape one = in[k];
      one.dim[0] = 1;
      v = ir_expand(s->graph, ir_reshape(s->graph, v, one), in[k]);
    }
    if (r < 0) {
      r = v;
      continue;
    }
    int two[2] = {r, v};
    int64_t ax = axis;
    r = ir_make(s->graph, OP_CONCAT, DT_NONE, (Shape){0}, two, 2, &ax, 1, 0);
  }
  return layer_emit(out, r);
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
  layer_out(out, a[0].dtype, sh);
  return !s->graph || layer_emit(out, ir_slice(s->graph, val_ir(&a[0]), axis, lo, hi));
}

static int concat2(Graph *g, int a, int b, int axis) {
  int in[2] = {a, b};
  int64_t ax = axis;
  return ir_make(g, OP_CONCAT, DT_NONE, (Shape){0}, in, 2, &ax, 1, 0);
}

/* pad(x, axis, before, after, mode, value): x grown along axis by `before`
 * and `after` cells: the value (constant), the edge's (edge) or the
 * mirror image without the edge (reflect), as numpy's pad modes. */
bool rule_pad(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)b;
  int axis;
  if (!norm_axis(&a[0], a[1].i, a[1].loc, &axis)) return false;
  if (a[0].dtype == DT_I32 && (a[5].f != trunc(a[5].f) || fabs(a[5].f) > INT32_MAX)) {
    error_at(a[5].loc, "the value of a pad of an i32 tensor must be an integer of i32's range");
    return false;
  }
  int64_t n = a[0].shape.dim[axis], before = a[2].i, after = a[3].i;
  const char *mode = a[4].s;
  if (n == DIM_BATCH) {
    error_at(a[1].loc, "'pad' cannot grow the batch dimension");
    return false;
  }
  if (!strcmp(mode, "reflect") && (before >= n || after >= n)) {
    error_at(call->loc, "reflect pads must be smaller than the axis (%lld), got %lld and %lld", (long long)n,
             (long long)before, (long long)after);
    return false;
  }
  if (before > NN_MAX_ELEMS || after > NN_MAX_ELEMS || n + before + after > NN_MAX_ELEMS) {
    error_at(call->loc, "a pad of %lld and %lld cells makes an axis of more than 2^31 cells", (long long)before,
             (long long)after);
    return false;
  }
  if (strcmp(mode, "constant") && before + after > 4096) {
    error_at(call->loc, "%s pads of more than 4096 cells are not supported", mode);
    return false;
  }
  Shape sh = a[0].shape;
  sh.dim[axis] = n + before + after;
  if (sh.dim[axis] > NN_MAX_ELEMS || !check_shape_size(call->loc, a[0].dtype, sh)) return false;
  layer_out(out, a[0].dtype, sh);
  if (!s->graph) return true;
  Graph *g = s->graph;
  int x = val_ir(&a[0]), y = x;
  DType dt = a[0].dtype;
  if (!strcmp(mode, "constant")) {
    y = ir_pad(g, x, axis, before, after);
    if (a[5].f != 0) { /* + value where the pads are: (1 - pad(ones)) * value */
      Shape one = a[0].shape;
      for (int i = 0; i < one.rank; i++)
        if (one.dim[i] == DIM_BATCH) one.dim[i] = 1;
      int inside = ir_pad(g, ir_const(g, dt, one, 1), axis, before, after);
      int value = ir_scalar(g, dt, a[5].f), unit = ir_scalar(g, dt, 1); /* one a statement: numbers not up to the compiler */
      int outside = ir_binary(g, OP_SUB, unit, inside);
      y = ir_binary(g, OP_ADD, y, ir_binary(g, OP_MUL, outside, value));
    }
    return layer_emit(out, y);
  }
  /* the parts in order: the cells before, x, the cells after */
  bool edge = !strcmp(mode, "edge");
  for (int side = 0; side < 2; side++) {
    int64_t count = side ? after : before;
    if (!count) continue;
    int part = -1;
    if (edge) {
      Shape e = a[0].shape;
      e.dim[axis] = count;
      part = ir_expand(g, side ? ir_slice(g, x, axis, n - 1, n) : ir_slice(g, x, axis, 0, 1), e);
    } else
      for (int64_t k = 0; k < count; k++) { /* output cell k of the side mirrors x[before - k] or x[n - 2 - k] */
        int64_t at = side ? n - 2 - k : before - k;
        int cell = ir_slice(g, x, axis, at, at + 1);
        part = part < 0 ? cell : concat2(g, part, cell, axis);
      }
    y = side ? concat2(g, y, part, axis) : concat2(g, part, y, axis);
  }
  return layer_emit(out, y);
}

/* resize(x, axis, size, mode, coordinates, nearest): x's axis resampled
 * to `size` cells as ONNX's Resize does (nearest or linear, the edge
 * repeated), through a table w [size, n] computed from the positions:
 * the tent 1 - |x' - j| of the clamped source position x' (linear) or 1
 * where j is its rounding (nearest); then w @ x along the axis. */
bool rule_resize(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int axis;
  if (!layer_need_float(b, &a[0]) || !norm_axis(&a[0], a[1].i, a[1].loc, &axis)) return false;
  int64_t n = a[0].shape.dim[axis], size = a[2].i;
  if (n == DIM_BATCH) {
    error_at(a[1].loc, "'resize' cannot resize the batch dimension");
    return false;
  }
  if (size * n > (1 << 24)) {
    error_at(a[2].loc, "a resize of %lld cells to %lld needs a table of more than 2^24 values", (long long)n, (long long)size);
    return false;
  }
  Shape sh = a[0].shape;
  sh.dim[axis] = size;
  if (!check_shape_size(call->loc, a[0].dtype, sh)) return false;
  layer_out(out, a[0].dtype, sh);
  if (!s->graph) return true;
  Graph *g = s->graph;
  DType dt = a[0].dtype;
  const char *mode = a[3].s, *coord = a[4].s, *near = a[5].s;
  double scale = (double)size / (double)n;
  Shape col = {.rank = 2, .dim = {size, 1}}, row = {.rank = 2, .dim = {1, n}};
  int i = ir_iota(g, dt, col, 0), j = ir_iota(g, dt, row, 1), xo;
#define K(v) ir_scalar(g, dt, (v))
#define B(op, p, q) ir_binary(g, op, p, q)
  if (!strcmp(coord, "align_corners")) xo = B(OP_MUL, i, K(size == 1 ? 0 : (double)(n - 1) / (double)(size - 1)));
  else if (!strcmp(coord, "asymmetric")) xo = B(OP_DIV, i, K(scale));
  else if (!strcmp(coord, "pytorch_half_pixel") && size == 1) xo = B(OP_MUL, i, K(0));
  else xo = B(OP_SUB, B(OP_DIV, B(OP_ADD, i, K(0.5)), K(scale)), K(0.5)); /* half_pixel */
  int w;
  if (!strcmp(mode, "linear")) { /* the tent around the source position, clamped into the axis */
    int xc = B(OP_MIN, B(OP_MAX, xo, K(0)), K((double)(n - 1)));
    w = ir_unary(g, OP_RELU, B(OP_SUB, K(1), ir_unary(g, OP_ABS, B(OP_SUB, xc, j))));
  } else { /* 1 where j is the source position rounded */
    int q = !strcmp(near, "floor")  ? ir_unary(g, OP_FLOOR, xo)
            : !strcmp(near, "ceil") ? ir_unary(g, OP_NEG, ir_unary(g, OP_FLOOR, ir_unary(g, OP_NEG, xo)))
            : !strcmp(near, "round_prefer_ceil")
                ? ir_unary(g, OP_FLOOR, B(OP_ADD, xo, K(0.5)))
                : ir_unary(g, OP_NEG, ir_unary(g, OP_FLOOR, ir_unary(g, OP_NEG, B(OP_SUB, xo, K(0.5)))));
    q = B(OP_MIN, B(OP_MAX, q, K(0)), K((double)(n - 1)));
    w = B(OP_SUB, B(OP_SUB, K(1), B(OP_GT, q, j)), B(OP_GT, j, q));
  }
  int x = val_ir(&a[0]), y;
  if (axis == sh.rank - 1) {
    int perm[2] = {1, 0};
    y = ir_matmul(g, x, ir_transpose(g, w, perm));
  } else { /* the axes after `axis` merged: [..., n, rest] */
    Shape m = a[0].shape;
    int64_t rest = 1;
    for (int d = axis + 1; d < m.rank; d++) rest *= m.dim[d];
    m.dim[axis + 1] = rest, m.rank = axis + 2;
    y = ir_reshape(g, ir_matmul(g, w, ir_reshape(g, x, m)), sh);
  }
#undef K
#undef B
  return layer_emit(out, y);
}

/* dense(x, units): [..., k] @ W[k, units] + b[units] -> [..., units] */
bool rule_dense(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int64_t k;
  if (!layer_need_float(b, &a[0]) || !last_dim(b, &a[0], &k)) return false;
  DType dt = a[0].dtype;
  Shape w = {.rank = 2, .dim = {k, a[1].i}};
  int W, B = -1;
  if (!layer_weight(s, "W", dt, w, layer_arg(b, a, "kernel_init"), call->loc, &W)) return false;
  if (layer_arg(b, a, "use_bias")->i &&
      !layer_weight(s, "b", dt, layer_shape1(a[1].i), layer_arg(b, a, "bias_init"), call->loc, &B))
    return false;
  Shape sh = a[0].shape;
  sh.dim[sh.rank - 1] = a[1].i;
  layer_out(out, dt, sh);
  if (!check_shape_size(call->loc, dt, sh)) return false;
  if (!s->graph) return true;
  Graph *g = s->graph;
  int x = val_ir(&a[0]);
  if (a[0].shape.rank == 1) x = ir_reshape(g, x, (Shape){.rank = 2, .dim = {1, k}});
  int y = ir_reshape(g, ir_matmul(g, x, W), sh);
  if (B >= 0) y = ir_binary(g, OP_ADD, y, B);
  return layer_emit(out, y);
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
  if (!layer_need_float(b, x)) return false;
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
  bool tr = !strcmp(b->name, "conv2d_transpose"); /* the gradient of a conv2d for its input, as a layer */
  int64_t k[2], st[2], dil[2], pad[2], oh, ow, op[2] = {0, 0};
  if (!spatial_input(b, x)) return false;
  Val *kernel = layer_arg(b, a, "kernel"), *padding = layer_arg(b, a, "padding");
  Val *groups_v = layer_arg(b, a, "groups");
  if (!ints2(kernel, k, "kernel") || !ints2(layer_arg(b, a, "stride"), st, "stride") ||
      !padding2(padding, pad) || !ints2(layer_arg(b, a, "dilation"), dil, "dilation") ||
      (tr && !ints2(layer_arg(b, a, "output_padding"), op, "output_padding")))
    return false;
  int64_t c = x->shape.dim[3], filters = layer_arg(b, a, "filters")->i, groups = groups_v->i;
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
  if (tr) { /* the size a conv2d of these settings maps to x's */
    bool same = padding->kind == VK_NAME && !strcmp(padding->s, "same");
    int64_t o[2];
    for (int i = 0; i < 2; i++) {
      o[i] = same ? x->shape.dim[1 + i] * st[i] : (x->shape.dim[1 + i] - 1) * st[i] + dil[i] * (k[i] - 1) + 1 - 2 * pad[i] + op[i];
      if (op[i] >= st[i] && op[i] >= dil[i]) {
        error_at(layer_arg(b, a, "output_padding")->loc, "output_padding must be smaller than the stride or the dilation");
        return false;
      }
      if (o[i] < 1) {
        error_at(kernel->loc, "the padding leaves no output (size %lld)", (long long)o[i]);
        return false;
      }
    }
    oh = o[0], ow = o[1];
  } else if (!window(x, 1, k[0], st[0], dil[0], padding, pad[0], kernel->loc, &oh) ||
             !window(x, 2, k[1], st[1], dil[1], padding, pad[1], kernel->loc, &ow)) {
    return false;
  }
  Shape w = {.rank = 4, .dim = {k[0], k[1], tr ? filters / groups : c / groups, tr ? c : filters}};
  int W, B = -1;
  if (!layer_weight(s, "W", x->dtype, w, layer_arg(b, a, "kernel_init"), call->loc, &W)) return false;
  if (layer_arg(b, a, "use_bias")->i &&
      !layer_weight(s, "b", x->dtype, layer_shape1(filters), layer_arg(b, a, "bias_init"), call->loc, &B))
    return false;
  Shape sh = {.rank = 4, .dim = {x->shape.dim[0], oh, ow, filters}};
  layer_out(out, x->dtype, sh);
  if (!check_shape_size(call->loc, x->dtype, sh)) return false;
  if (!s->graph) return true;
  int64_t at[9] = {st[0], st[1], 0, 0, 0, 0, dil[0], dil[1], groups};
  Val image = *x; /* the conv2d's input: x, or the transposed one's result */
  image.shape = tr ? sh : x->shape;
  window_pads(&image, k, st, dil, padding, pad, tr ? x->shape.dim[1] : oh, tr ? x->shape.dim[2] : ow, at + 2);
  int y = ir_window(s->graph, tr ? OP_CONV2DBX : OP_CONV2D, val_ir(x), W, at, sh);
  if (B >= 0) y = ir_binary(s->graph, OP_ADD, y, B);
  return layer_emit(out, y);
}

/* max_pool2d / avg_pool2d(x, size, stride = size, padding, dilation) */
bool rule_pool2d(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  Val *x = &a[0];
  int64_t k[2], st[2], pad[2], dil[2], oh, ow;
  if (!spatial_input(b, x) || !ints2(&a[1], k, "size") || !ints2(&a[4], dil, "dilation")) return false;
  if (a[2].kind == VK_NONE) st[0] = k[0], st[1] = k[1];
  else if (!ints2(&a[2], st, "stride")) return false;
  if (!padding2(&a[3], pad) || !window(x, 1, k[0], st[0], dil[0], &a[3], pad[0], a[1].loc, &oh) ||
      !window(x, 2, k[1], st[1], dil[1], &a[3], pad[1], a[1].loc, &ow))
    return false;
  Shape sh = {.rank = 4, .dim = {x->shape.dim[0], oh, ow, x->shape.dim[3]}};
  int64_t at[10] = {k[0], k[1], st[0], st[1], [8] = dil[0], dil[1]};
  window_pads(x, k, st, dil, &a[3], pad, oh, ow, at + 4);
  for (int j = 0; j < 2; j++)
    if (pool_window_empty(x->shape.dim[1 + j], k[j], st[j], at[4 + j], at[6 + j], dil[j])) {
      error_at(a[3].loc, "a pooling window along the %s holds padding alone (padding %lld, window %lld, dilation %lld)",
               j ? "width" : "height", (long long)at[4 + j], (long long)k[j], (long long)dil[j]);
      return false;
    }
  layer_out(out, x->dtype, sh);
  if (!s->graph) return true;
  Op op = !strcmp(b->name, "max_pool2d") ? OP_MAXPOOL : OP_AVGPOOL;
  return layer_emit(out, ir_window(s->graph, op, val_ir(x), -1, at, sh));
}

bool rule_global_pool(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  (void)call;
  if (!spatial_input(b, &a[0])) return false;
  Shape sh = {.rank = 2, .dim = {a[0].shape.dim[0], a[0].shape.dim[3]}};
  layer_out(out, a[0].dtype, sh);
  bool drop[NN_MAX_RANK] = {false, true, true};
  return !s->graph || layer_emit(out, reduce_axes(s->graph, OP_SUM, val_ir(&a[0]), drop, false, true));
}

/* batch_norm over the last (channel) axis: gamma, beta trainable;
 * moving_mean, moving_var are state saved with the weights. */
bool rule_batch_norm(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int64_t c;
  if (!layer_need_float(b, &a[0]) || !last_dim(b, &a[0], &c)) return false;
  DType dt = a[0].dtype;
  Shape sh = layer_shape1(c);
  int gamma = -1, beta = -1, mm, mv;
  if ((layer_arg(b, a, "scale")->i &&
       !add_param(s, "gamma", dt, sh, "ones", NULL, NULL, 0, true, call->loc, &gamma)) ||
      (layer_arg(b, a, "center")->i &&
       !add_param(s, "beta", dt, sh, "zeros", NULL, NULL, 0, true, call->loc, &beta)) ||
      !add_param(s, "moving_mean", dt, sh, "zeros", NULL, NULL, 0, false, call->loc, &mm) ||
      !add_param(s, "moving_var", dt, sh, "ones", NULL, NULL, 0, false, call->loc, &mv))
    return false;
  layer_out(out, dt, a[0].shape);
  if (!s->graph) return true;
  return layer_emit(out, batch_norm(s->graph, val_ir(&a[0]), gamma, beta, mm, mv,
                              layer_arg(b, a, "momentum")->f, layer_arg(b, a, "epsilon")->f));
}

/* Layer normalization of x over its last axis, scaled by gamma and
 * shifted by beta. */
int layer_norm_ir(Graph *g, int x, int gamma, int beta, double epsilon) {
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
bool layer_norm_params(Sema *s, const char *prefix, DType dt, int64_t d, Loc loc, int *gamma, int *beta) {
  return add_param(s, arena_printf("%sgamma", prefix), dt, layer_shape1(d), "ones", NULL, NULL, 0, true, loc, gamma) &&
         add_param(s, arena_printf("%sbeta", prefix), dt, layer_shape1(d), "zeros", NULL, NULL, 0, true, loc, beta);
}

bool rule_layer_norm(Sema *s, const Builtin *b, Node *call, Val *a, Val *out) {
  int64_t d;
  if (!layer_need_float(b, &a[0]) || !last_dim(b, &a[0], &d)) return false;
  DType dt = a[0].dtype;
  int gamma, beta;
  if (!layer_norm_params(s, "", dt, d, call->loc, &gamma, &beta)) return false;
  layer_out(out, dt, a[0].shape);
  return !s->graph || layer_emit(out, layer_norm_ir(s->graph, val_ir(&a[0]), gamma, beta, a[1].f));
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
  if (!layer_weight(s, "W", dt, w, layer_arg(b, a, "init"), call->loc, &W)) return false;
  Shape sh = x->shape;
  sh.dim[sh.rank++] = a[2].i;
  layer_out(out, dt, sh);
  if (!check_shape_size(call->loc, dt, sh)) return false;
  if (!s->graph) return true;
  int in[2] = {W, val_ir(x)};
  return layer_emit(out, ir_make(s->graph, OP_GATHER, DT_NONE, (Shape){0}, in, 2, NULL, 0, 0));
}

