/* simplify.c — constant folding, algebraic identities, dead-code elimination;
 * and unroll, which replaces each scan by copies of its body.
 *
 * Rebuilds the graph into a new one, value by value in the old order (so the
 * order stays topological), keeping only values that the outputs, the loss
 * or the updates need, and rewriting each through the rules below before it
 * is hash-consed. Constants are uniform (every element equal), so folding an
 * elementwise op on constants is one scalar computation (eval.c's kernel,
 * rounded to the value's type).
 */
#include <string.h>
#include "nnc.h"

static bool is_const(Graph *g, int id, double f) {
  return g->v[id].op == OP_CONST && g->v[id].f == f;
}

static bool same_type(Graph *g, int id, const Value *v) {
  return g->v[id].dtype == v->dtype && shape_eq(g->v[id].shape, v->shape);
}

static double round_to(DType dt, double x) { return dt == DT_F32 ? (double)(float)x : dt == DT_I32 ? ir_i32(x) : x; }

/* pad(x) + pad(y) along one axis where y's cells start right after x's
 * (or the reverse) = pad(concat(x, y)): the gradients of the slices of one
 * tensor (a recurrent layer's steps, an LSTM's gates) meet as a sum of
 * zero-padded blocks; joined, they are one copy instead of a sum over the
 * whole tensor per block. Or -1. */
static int adjacent_pads(Graph *h, const Value *v, int a, int b) {
  const Value *pa = &h->v[a], *pb = &h->v[b];
  if (pa->op != OP_PAD || pb->op != OP_PAD || pa->a[0] != pb->a[0] || !same_type(h, a, v) ||
      !same_type(h, b, v))
    return -1;
  int axis = (int)pa->a[0];
  if (pb->a[1] < pa->a[1]) { /* x is the one before */
    const Value *t = pa;
    pa = pb, pb = t;
  }
  int64_t len = h->v[pa->in[0]].shape.dim[axis];
  if (pa->a[1] + len != pb->a[1]) return -1;
  int in[2] = {pa->in[0], pb->in[0]};
  int64_t ax = axis;
  int joined = ir_make(h, OP_CONCAT, DT_NONE, (Shape){0}, in, 2, &ax, 1, 0);
  return ir_pad(h, joined, axis, pa->a[1], pb->a[2]);
}

/* The rewritten form of v (operands already in h), or -1 to keep it. */
static int rewrite(Graph *h, const Value *v, const int *in) {
  OpClass cls = op_info[v->op].cls;
  int a = v->nin > 0 ? in[0] : -1, b = v->nin > 1 ? in[1] : -1;
  /* folding: an elementwise op of constants is a constant */
  if ((cls == CL_UNARY || cls == CL_BINARY || cls == CL_TERNARY) && (is_float(v->dtype) || v->dtype == DT_I32)) {
    bool all = true;
    for (int i = 0; i < v->nin; i++) all &= h->v[in[i]].op == OP_CONST;
    if (all) {
      double x = h->v[a].f, y = b >= 0 ? h->v[b].f : 0, z = v->nin > 2 ? h->v[in[2]].f : 0;
      double r = eval_scalar_op(v->op, x, y, z);
      return ir_const(h, v->dtype, v->shape, round_to(v->dtype, r));
    }
  }
  switch (v->op) {
  case OP_ADD: /* x + 0 = 0 + x = x */
    if (is_const(h, b, 0) && same_type(h, a, v)) return a;
    if (is_const(h, a, 0) && same_type(h, b, v)) return b;
    return adjacent_pads(h, v, a, b);
  case OP_SUB: /* x - 0 = x */
    if (is_const(h, b, 0) && same_type(h, a, v)) return a;
    break;
  case OP_MUL: /* x * 1 = 1 * x = x */
    if (is_const(h, b, 1) && same_type(h, a, v)) return a;
    if (is_const(h, a, 1) && same_type(h, b, v)) return b;
    break;
  case OP_DIV: /* x / 1 = x */
    if (is_const(h, b, 1) && same_type(h, a, v)) return a;
    break;
  case OP_POW: /* x ^ 1 = x */
    if (is_const(h, b, 1) && same_type(h, a, v)) return a;
    break;
  case OP_MATMUL: /* 0 x = x 0 = 0: a recurrence's first step from the zero state, unrolled */
  case OP_MATMULSUM:
    if (is_const(h, a, 0) || is_const(h, b, 0)) return ir_const(h, v->dtype, v->shape, 0);
    break;
  case OP_NEG: /* --x = x */
    if (h->v[a].op == OP_NEG) return h->v[a].in[0];
    break;
  case OP_RESHAPE: /* reshape(reshape(x)) = reshape(x) */
    if (h->v[a].op == OP_RESHAPE) return ir_reshape(h, h->v[a].in[0], v->shape);
    if (h->v[a].op == OP_CONST) return ir_const(h, v->dtype, v->shape, h->v[a].f);
    return ir_reshape(h, a, v->shape);
  case OP_EXPAND:
    if (h->v[a].op == OP_CONST) return ir_const(h, v->dtype, v->shape, h->v[a].f);
    return ir_expand(h, a, v->shape);
  case OP_CAST:
    if (h->v[a].op == OP_CONST)
      return ir_const(h, v->dtype, v->shape, round_to(v->dtype, h->v[a].f));
    return ir_cast(h, a, v->dtype);
  case OP_TRANSPOSE: { /* transpose(transpose(x, p), q) = transpose(x, p o q) */
    int perm[NN_MAX_RANK];
    if (h->v[a].op == OP_TRANSPOSE) {
      for (int i = 0; i < v->nattr; i++) perm[i] = (int)h->v[a].a[v->a[i]];
      return ir_transpose(h, h->v[a].in[0], perm);
    }
    for (int i = 0; i < v->nattr; i++) perm[i] = (int)v->a[i];
    return ir_transpose(h, a, perm);
  }
  default:
    break;
  }
  return -1;
}

/* Marks id and what it needs as live; iterative, as the graph may be deep.
 * `stack` holds g->n values and is shared by every call: a call leaves it
 * empty, and each value is pushed at most once in all calls together. */
static void mark(Graph *g, bool *live, int *stack, int id) {
  int sp = 0;
  if (id < 0 || live[id]) return;
  live[id] = true;
  stack[sp++] = id;
  while (sp) {
    const Value *v = &g->v[stack[--sp]];
    for (int i = 0; i < v->nin; i++)
      if (!live[v->in[i]]) {
        live[v->in[i]] = true;
        stack[sp++] = v->in[i];
      }
  }
}

/* Steps list[t] (t < steps, each of shape s) stacked along axis. */
static int stack(Graph *h, const int *list, int64_t steps, int axis) {
  Shape one = h->v[list[0]].shape;
  for (int d = one.rank; d > axis; d--) one.dim[d] = one.dim[d - 1];
  one.dim[axis] = 1;
  one.rank++;
  int r = ir_reshape(h, list[0], one);
  for (int64_t t = 1; t < steps; t++) {
    int in[2] = {r, ir_reshape(h, list[t], one)};
    int64_t ax = axis;
    r = ir_make(h, OP_CONCAT, DT_NONE, (Shape){0}, in, 2, &ax, 1, 0);
  }
  return r;
}

/* Scan v (operands `in`, in h) as copies of its body b, one a step, each
 * copy rewritten as simplify rewrites (a zero state's products fold away);
 * res[i]: the value of scan_out {index: i}. */
static void unroll_scan(Graph *h, const Graph *b, const Value *v, const int *in, int *res) {
  int64_t steps = v->a[1];
  int axis = (int)v->a[3], k = (int)v->a[4], m = (int)v->a[5], q = b->noutputs - k;
  int carry[IR_MAX_IN], *bm = arena_alloc(sizeof(int) * (size_t)b->n);
  int *per = arena_alloc(sizeof(int) * (size_t)((k + q) * steps)); /* result l's step t: per[l * steps + t] */
  for (int i = 0; i < k; i++) carry[i] = in[i];
  for (int64_t s = 0; s < steps; s++) {
    int64_t t = v->a[2] ? steps - 1 - s : s;
    for (int i = 0; i < k; i++) per[(q + i) * steps + t] = carry[i];
    for (int id = 0; id < b->n; id++) {
      const Value *bv = &b->v[id];
      int x = bv->op == OP_INPUT ? (int)bv->a[0] : -1;
      if (x >= 0) {
        bm[id] = x < k ? carry[x] : x >= k + m ? in[x] : ir_reshape(h, ir_slice(h, in[x], axis, t, t + 1), bv->shape);
        continue;
      }
      int bin[IR_MAX_IN];
      for (int i = 0; i < bv->nin; i++) bin[i] = bm[bv->in[i]];
      int r = rewrite(h, bv, bin);
      bm[id] = r >= 0 ? r : ir_make(h, bv->op, bv->dtype, bv->shape, bin, bv->nin, bv->a, bv->nattr, bv->f);
    }
    for (int i = 0; i < k; i++) carry[i] = bm[b->outputs[i]];
    for (int l = 0; l < q; l++) per[l * steps + t] = bm[b->outputs[k + l]];
  }
  for (int i = 0; i < k; i++) res[i] = carry[i];
  for (int l = 0; l < q + k; l++) res[k + l] = stack(h, per + l * steps, steps, axis);
}

static Graph *simplify_once(Graph *g, bool unroll) {
  bool *live = arena_alloc(sizeof(bool) * (size_t)g->n);
  int *stack = arena_alloc(sizeof(int) * (size_t)(g->n + 1));
  for (int i = 0; i < g->ninputs; i++) mark(g, live, stack, g->inputs[i]);
  for (int i = 0; i < g->noutputs; i++) mark(g, live, stack, g->outputs[i]);
  mark(g, live, stack, g->loss);
  for (int i = 0; i < g->nlabels; i++) mark(g, live, stack, g->labels[i]);
  for (int i = 0; i < g->nupdates; i++) mark(g, live, stack, g->updates[i].value);
  for (int i = 0; i < g->nparams && g->param_grads; i++) mark(g, live, stack, g->param_grads[i]);

  Graph *h = graph_new(g->name);
  int nlive = 0;
  for (int id = 0; id < g->n; id++) nlive += live[id];
  graph_reserve(h, nlive + 16); /* rewrites seldom add values */
  h->training = g->training;
  h->base_lr = g->base_lr;
  memcpy(h->label_rules, g->label_rules, sizeof h->label_rules);
  h->params = g->params;
  h->nparams = g->nparams;
  h->states = g->states;
  h->nstates = g->nstates;
  h->qlayers = g->qlayers, h->nqlayers = g->nqlayers;
  int *map = arena_alloc(sizeof(int) * (size_t)g->n);
  int *body = arena_alloc(sizeof(int) * (size_t)(g->nbodies + 1)); /* in order of first use */
  for (int i = 0; i < g->nbodies; i++) body[i] = -1;
  int *res = NULL; /* an unrolled scan's results */
  for (int id = 0; id < g->n; id++) {
    map[id] = -1;
    if (!live[id]) continue;
    const Value *v = &g->v[id];
    int in[IR_MAX_IN];
    int64_t a[IR_MAX_ATTR];
    for (int i = 0; i < v->nin; i++) in[i] = map[v->in[i]];
    memcpy(a, v->a, sizeof a);
    h->loc = v->loc;
    h->part = v->part;
    if (v->op == OP_SCAN && unroll) {
      res = arena_alloc(sizeof(int) * (size_t)ir_scan_results(g, v));
      unroll_scan(h, g->bodies[a[0]], v, in, res);
      continue;
    }
    if (v->op == OP_SCANOUT && unroll) {
      map[id] = res[v->a[0]];
      continue;
    }
    if (v->op == OP_SCAN) { /* its body simplified (inputs and outputs kept), once */
      if (body[a[0]] < 0) body[a[0]] = ir_body(h, simplify(g->bodies[a[0]]));
      a[0] = body[a[0]];
    }
    int r = rewrite(h, v, in);
    if (r < 0) r = ir_make(h, v->op, v->dtype, v->shape, in, v->nin, a, v->nattr, v->f);
    map[id] = r;
  }
  memcpy(h->input_names, g->input_names, sizeof h->input_names);
  memcpy(h->output_names, g->output_names, sizeof h->output_names);
  memcpy(h->input_batch, g->input_batch, sizeof h->input_batch);
  memcpy(h->output_batch, g->output_batch, sizeof h->output_batch);
  for (int i = 0; i < g->ninputs; i++) h->inputs[h->ninputs++] = map[g->inputs[i]];
  for (int i = 0; i < g->noutputs; i++) h->outputs[h->noutputs++] = map[g->outputs[i]];
  h->loss = g->loss >= 0 ? map[g->loss] : -1;
  for (int i = 0; i < g->nlabels; i++) h->labels[h->nlabels++] = map[g->labels[i]];
  for (int i = 0; i < g->nupdates; i++) {
    Update u = g->updates[i];
    add_update(h, u.state, u.index, map[u.value]);
  }
  if (g->param_grads) {
    h->param_grads = arena_alloc(sizeof(int) * (size_t)(g->nparams + 1));
    for (int i = 0; i < g->nparams; i++)
      h->param_grads[i] = g->param_grads[i] >= 0 ? map[g->param_grads[i]] : -1;
  }
  return h;
}

/* Twice: the second pass drops what the first one's rewrites left unused. */
Graph *simplify(Graph *g) {
  Graph *first = simplify_once(g, false), *h = simplify_once(first, false);
  graph_release(first); /* h shares only its parameter lists with it */
  return h;
}

Graph *unroll(Graph *g) {
  Graph *first = simplify_once(g, true), *h = simplify_once(first, false);
  graph_release(first);
  return h;
}

/* Scan body b as the backends run it, its accumulating carries apart: a
 * new float carry i that is add(carry i, x) of x's type and shape, where
 * nothing else reads carry i or the sum, becomes x, and bit i of *acc is
 * set; the runtime adds x into the carry itself (nnrt_scan): the same
 * sum, without the body's pass over the carry and the copy after it. */
Graph *accumulators(Graph *b, int k, unsigned *acc) {
  int *readers = arena_alloc(sizeof(int) * (size_t)(b->n + 1)), out[16];
  for (int id = 0; id < b->n; id++)
    for (int i = 0; i < b->v[id].nin; i++) readers[b->v[id].in[i]]++;
  for (int i = 0; i < b->noutputs; i++) readers[b->outputs[i]]++;
  *acc = 0;
  for (int i = 0; i < b->noutputs; i++) out[i] = b->outputs[i];
  for (int i = 0; i < k && i < 16; i++) {
    const Value *v = &b->v[b->outputs[i]];
    int c = b->inputs[i], x = v->op == OP_ADD && v->in[0] == c ? v->in[1] : v->op == OP_ADD && v->in[1] == c ? v->in[0] : -1;
    if (x < 0 || x == c || readers[c] != 1 || readers[b->outputs[i]] != 1 || !same_type(b, x, &b->v[c]) ||
        (b->v[c].dtype != DT_F32 && b->v[c].dtype != DT_F64))
      continue;
    *acc |= 1u << i;
    b->outputs[i] = x;
  }
  if (!*acc) return b;
  Graph *h = simplify(b);
  memcpy(b->outputs, out, sizeof(int) * (size_t)b->noutputs);
  return h;
}
