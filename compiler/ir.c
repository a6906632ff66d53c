/* ir.c — the tensor IR: a hash-consed SSA graph of tensor values.
 *
 * Values are numbered in creation order; operands always come first, so the
 * numbering is a topological order and passes are simple loops. ir_make
 * returns the existing value when an identical one (op, operands,
 * attributes, type) exists, so common subexpressions are shared for free.
 * Result types come from one function, infer(), used both when building and
 * by the verifier. Builders are called with operands that sema has checked;
 * a type error here is a compiler bug.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

const OpInfo op_info[NUM_OPS] = {
#define OP(id, name, arity, cls, attrs, fn, x, doc) [OP_##id] = {name, arity, cls, attrs, doc, #x, fn},
#include "ops.h"
#undef OP
};

Graph *graph_new(const char *name) {
  Graph *g = arena_alloc(sizeof *g);
  g->name = name;
  g->cap = 256;
  g->v = arena_alloc(sizeof(Value) * (size_t)g->cap);
  g->tcap = 512;
  g->table = arena_alloc(sizeof(int) * (size_t)g->tcap);
  memset(g->table, 0xff, sizeof(int) * (size_t)g->tcap);
  g->loss = -1;
  return g;
}

bool is_float(DType t) { return t == DT_F32 || t == DT_F64; }

/* The elementwise ops defined on i32 tensors: computed in double (exact
 * for i32 operands, but for * and ^ beyond 2^53, which are out of range
 * anyway) and converted back by ir_i32. */
bool op_on_ints(Op op) {
  switch (op) {
  case OP_NEG: case OP_ABS: case OP_SIGN: case OP_RELU: case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
  case OP_MAX: case OP_MIN: case OP_POW: case OP_GT: case OP_SELECT: case OP_CAST:
    return true;
  default:
    return false;
  }
}

/* A double as i32 arithmetic gives it: toward zero, saturated at the
 * bounds (a division by zero gives the bound of its sign), NaN as 0. */
double ir_i32(double x) {
  return x != x ? 0 : x >= 2147483647.0 ? 2147483647.0 : x <= -2147483648.0 ? -2147483648.0 : trunc(x);
}

bool shape_eq(Shape a, Shape b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; i++)
    if (a.dim[i] != b.dim[i]) return false;
  return true;
}

bool shape_one(Shape s) {
  int64_t k = 1;
  for (int d = 0; d < s.rank; d++) {
    if (s.dim[d] == DIM_BATCH) return false;
    k *= s.dim[d];
  }
  return k == 1;
}

bool op_elementwise(Op op) {
  OpClass c = op_info[op].cls;
  return c == CL_UNARY || c == CL_BINARY || c == CL_TERNARY;
}

Op op_from_fn(const char *name) {
  for (int op = 0; op < NUM_OPS; op++)
    if (op_info[op].fn && !strcmp(op_info[op].fn, name)) return (Op)op;
  return NUM_OPS;
}

/* numpy broadcasting; the batch dimension matches itself and 1. On failure
 * *bad_a and *bad_b are the axes of a and b that disagree. */
bool broadcast_where(Shape a, Shape b, Shape *out, int *bad_a, int *bad_b) {
  int r = a.rank > b.rank ? a.rank : b.rank;
  out->rank = r;
  for (int i = 0; i < r; i++) {
    int ia = a.rank - r + i, ib = b.rank - r + i;
    int64_t da = ia >= 0 ? a.dim[ia] : 1, db = ib >= 0 ? b.dim[ib] : 1;
    if (da == db || db == 1) out->dim[i] = da;
    else if (da == 1) out->dim[i] = db;
    else {
      *bad_a = ia;
      *bad_b = ib;
      return false;
    }
  }
  return true;
}

bool broadcast_shapes(Shape a, Shape b, Shape *out) {
  int ia, ib;
  return broadcast_where(a, b, out, &ia, &ib);
}

static int64_t elems(Shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++) n *= s.dim[i] == DIM_BATCH ? 1 : s.dim[i];
  return n;
}

static bool has_batch(Shape s) {
  for (int i = 0; i < s.rank; i++)
    if (s.dim[i] == DIM_BATCH) return true;
  return false;
}

/* Output size of one spatial axis of a window op. */
static int64_t window_out(int64_t n, int64_t k, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                          int64_t dil) {
  return (n + pad_lo + pad_hi - dil * (k - 1) - 1) / stride + 1;
}

/* Whether a pooling window along an axis of n cells (window k, stride,
 * padding lo and hi, dilation d) holds padding alone: a window that
 * nothing inside the image enters has no maximum and no mean. */
bool pool_window_empty(int64_t n, int64_t k, int64_t stride, int64_t lo, int64_t hi, int64_t d) {
  int64_t out = window_out(n, k, stride, lo, hi, d);
  for (int64_t o = 0; o < out; o++) {
    int64_t start = o * stride - lo, i = start < 0 ? (d - 1 - start) / d : 0;
    if (i >= k || start + i * d > n - 1) return true;
  }
  return false;
}

/* The result type of a data-movement op (infer's CL_MOVE). */
static const char *infer_move(Value *v, const Value *x, const Value *y) {
  Shape s = {0};
  switch (v->op) {
  case OP_RESHAPE:
    if (elems(v->shape) != elems(x->shape) || has_batch(v->shape) != has_batch(x->shape))
      return "reshape changes the number of elements";
    v->dtype = x->dtype;
    return NULL;
  case OP_EXPAND:
    if (!broadcast_shapes(x->shape, v->shape, &s) || !shape_eq(s, v->shape))
      return "expand to a shape the operand does not broadcast to";
    v->dtype = x->dtype;
    return NULL;
  case OP_TRANSPOSE: {
    bool used[NN_MAX_RANK] = {0};
    if (v->nattr != x->shape.rank) return "transpose needs one axis per dimension";
    for (int i = 0; i < v->nattr; i++) {
      if (v->a[i] < 0 || v->a[i] >= x->shape.rank || used[v->a[i]]) return "bad permutation";
      used[v->a[i]] = true;
      s.dim[i] = x->shape.dim[v->a[i]];
    }
    s.rank = x->shape.rank;
    v->dtype = x->dtype;
    v->shape = s;
    return NULL;
  }
  case OP_SLICE:
  case OP_PAD: {
    int64_t ax = v->a[0];
    if (v->nattr != 3 || ax < 0 || ax >= x->shape.rank || x->shape.dim[ax] == DIM_BATCH)
      return "bad slice/pad axis";
    s = x->shape;
    if (v->op == OP_SLICE) {
      if (v->a[1] < 0 || v->a[2] > s.dim[ax] || v->a[1] >= v->a[2]) return "bad slice bounds";
      s.dim[ax] = v->a[2] - v->a[1];
    } else {
      if (v->a[1] < 0 || v->a[2] < 0) return "negative padding";
      s.dim[ax] += v->a[1] + v->a[2];
    }
    v->dtype = x->dtype;
    v->shape = s;
    return NULL;
  }
  case OP_CONCAT: {
    int64_t ax = v->a[0];
    if (v->nattr != 1 || x->dtype != y->dtype || x->shape.rank != y->shape.rank || ax < 0 ||
        ax >= x->shape.rank || x->shape.dim[ax] == DIM_BATCH)
      return "bad concat";
    s = x->shape;
    for (int i = 0; i < s.rank; i++)
      if (i != ax && s.dim[i] != y->shape.dim[i]) return "concat shapes differ off the axis";
    s.dim[ax] += y->shape.dim[ax];
    v->dtype = x->dtype;
    v->shape = s;
    return NULL;
  }
  case OP_GATHER:
    if (x->shape.rank != 2 || y->dtype != DT_I32 || y->shape.rank >= NN_MAX_RANK)
      return "gather needs table[V, D] and i32 ids";
    s = y->shape;
    s.dim[s.rank++] = x->shape.dim[1];
    v->dtype = x->dtype;
    v->shape = s;
    return NULL;
  case OP_SCATTERADD:
    if (x->dtype != DT_I32 || y->shape.rank != x->shape.rank + 1 || v->nattr != 1 ||
        v->a[0] < 1 || v->a[0] > NN_MAX_ELEMS)
      return "bad scatteradd";
    s = (Shape){.rank = 2, .dim = {v->a[0], y->shape.dim[y->shape.rank - 1]}};
    v->dtype = y->dtype;
    v->shape = s;
    return NULL;
  case OP_ONEHOT:
    if (x->dtype != DT_I32 || x->shape.rank >= NN_MAX_RANK || v->nattr != 1 || v->a[0] < 1 ||
        v->a[0] > NN_MAX_ELEMS)
      return "onehot needs i32 ids and a depth";
    s = x->shape;
    s.dim[s.rank++] = v->a[0];
    if (!is_float(v->dtype)) return "onehot result must be float";
    v->shape = s;
    return NULL;
  default:
    break;
  }
  return "unknown op";
}

/* The result type of a window op: convolution, pooling, their gradients. */
static const char *infer_window(Value *v, const Value *x, const Value *y) {
  Shape s = {0};
  int64_t *a = v->a;
  if (v->op == OP_QMATMUL) { /* a: q n */
    if (v->nattr != 2 || x->dtype != DT_F32 || x->shape.rank < 1 || a[0] < 0 || a[1] < 1) return "qmatmul attributes";
    v->dtype = DT_F32;
    v->shape = x->shape;
    v->shape.dim[x->shape.rank - 1] = a[1];
    return NULL;
  }
  if (v->op == OP_QCONV2D) { /* a: sh sw pt pl pb pr dh dw groups kh kw f q */
    if (v->nattr != 13 || x->dtype != DT_F32 || x->shape.rank != 4 || a[8] != 1 || a[12] < 0)
      return "qconv2d attributes";
    s = (Shape){.rank = 4};
    s.dim[0] = x->shape.dim[0];
    s.dim[1] = window_out(x->shape.dim[1], a[9], a[0], a[2], a[4], a[6]);
    s.dim[2] = window_out(x->shape.dim[2], a[10], a[1], a[3], a[5], a[7]);
    s.dim[3] = a[11];
    if (s.dim[1] < 1 || s.dim[2] < 1) return "qconv2d window larger than its input";
    v->dtype = DT_F32;
    v->shape = s;
    return NULL;
  }
  if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) {
    /* a: sh sw pt pl pb pr dh dw groups */
    const Value *img = v->op == OP_CONV2DBX ? NULL : x;
    const Value *w = v->op == OP_CONV2DBW ? NULL : y;
    if (v->nattr != 9 || x->dtype != y->dtype) return "conv2d attributes";
    if (v->op == OP_CONV2D) {
      if (img->shape.rank != 4 || w->shape.rank != 4) return "conv2d ranks";
      if (img->shape.dim[3] != w->shape.dim[2] * a[8] || w->shape.dim[3] % a[8])
        return "conv2d channels and groups";
      s = (Shape){.rank = 4};
      s.dim[0] = img->shape.dim[0];
      s.dim[1] = window_out(img->shape.dim[1], w->shape.dim[0], a[0], a[2], a[4], a[6]);
      s.dim[2] = window_out(img->shape.dim[2], w->shape.dim[1], a[1], a[3], a[5], a[7]);
      s.dim[3] = w->shape.dim[3];
      if (s.dim[1] < 1 || s.dim[2] < 1) return "conv2d window larger than its input";
      v->dtype = x->dtype;
      v->shape = s;
    }
    return v->shape.rank == 4 ? NULL : "conv2d backward result rank";
  }
  /* pooling, a: kh kw sh sw pt pl pb pr dh dw */
  if (v->nattr != 10 || x->shape.rank != 4) return "pooling attributes";
  for (int i = 0; i < 10; i++)
    if (a[i] < (i < 4 || i > 7 ? 1 : 0)) return "pooling attributes out of range";
  if (v->op == OP_MAXPOOL || v->op == OP_AVGPOOL) {
    for (int j = 0; j < 2; j++)
      if (pool_window_empty(x->shape.dim[1 + j], a[j], a[2 + j], a[4 + j], a[6 + j], a[8 + j]))
        return "a pooling window holds padding alone";
    s = x->shape;
    s.dim[1] = window_out(x->shape.dim[1], a[0], a[2], a[4], a[6], a[8]);
    s.dim[2] = window_out(x->shape.dim[2], a[1], a[3], a[5], a[7], a[9]);
    if (s.dim[1] < 1 || s.dim[2] < 1) return "pooling window larger than its input";
    v->dtype = x->dtype;
    v->shape = s;
  } else if (v->op == OP_MAXPOOLB) {
    v->dtype = x->dtype;
    v->shape = x->shape;
  }
  return NULL;
}

/* s with n inserted before axis (a scan's stacked results), or rank -1. */
static Shape insert_dim(Shape s, int axis, int64_t n) {
  if (axis < 0 || axis > s.rank || s.rank == NN_MAX_RANK) return (Shape){.rank = -1};
  for (int d = s.rank; d > axis; d--) s.dim[d] = s.dim[d - 1];
  s.dim[axis] = n;
  s.rank++;
  return s;
}

int ir_scan_results(const Graph *g, const Value *scan) {
  return (int)scan->a[4] + g->bodies[scan->a[0]]->noutputs;
}

Shape ir_scan_result(const Graph *g, const Value *scan, int i, DType *dt) {
  const Graph *b = g->bodies[scan->a[0]];
  int k = (int)scan->a[4];
  const Value *r = i < b->noutputs ? &b->v[b->outputs[i]] : &b->v[b->inputs[i - b->noutputs]];
  *dt = r->dtype;
  return i < k ? r->shape : insert_dim(r->shape, (int)scan->a[3], scan->a[1]);
}

/* A scan's operands against its body, and a scan_out's type. The scan
 * itself has no data: rank 0, its first carry's type (or first result's). */
static const char *infer_scan(Graph *g, Value *v, const Value *x) {
  if (v->op == OP_SCANOUT) {
    if (x->op != OP_SCAN) return "scan_out reads a scan";
    if (v->nattr != 1) return "scan_out takes {index}";
    if (v->a[0] < 0 || v->a[0] >= ir_scan_results(g, x))
      return arena_printf("the scan has %d results", ir_scan_results(g, x));
    v->shape = ir_scan_result(g, x, (int)v->a[0], &v->dtype);
    return NULL;
  }
  if (v->nattr != 8) return "scan takes {body, steps, reverse, axis, carries, seqs, skip, adds}";
  int64_t body = v->a[0], steps = v->a[1], axis = v->a[3], k = v->a[4], m = v->a[5], skip = v->a[6];
  if (body < 0 || body >= g->nbodies) return "no such body";
  const Graph *b = g->bodies[body];
  if (steps < 1 || (v->a[2] != 0 && v->a[2] != 1) || k < 0 || m < 0 || k + m > v->nin)
    return "bad steps, reverse, carries or seqs";
  if (skip < -1 || skip >= m || (skip >= 0 && !is_float(g->v[v->in[k + skip]].dtype)))
    return "skip is -1 or a floating-point sequence's index";
  for (int j = 0; j < 16; j++) { /* a skipped step adds sequence j's slice to state c - 1 */
    int64_t c = ir_scan_adds(v, j);
    if (c < 0) continue;
    if (skip < 0 || j >= m || c >= k) return "adds names a sequence and a state (and needs skip)";
    const Value *x = &b->v[b->inputs[k + j]], *st = &b->v[b->inputs[c]];
    if (x->dtype != g->v[v->in[k + skip]].dtype || st->dtype != x->dtype || !shape_eq(x->shape, st->shape))
      return "a sequence that adds to a state on a skipped step has its type and the skip sequence's";
  }
  if (b->ninputs != v->nin) return arena_printf("the body takes %d operands", b->ninputs);
  if (b->noutputs < k || b->noutputs == 0) return "the body's outputs are the new carries, then the results";
  for (int i = 0; i < v->nin; i++) {
    const Value *o = &g->v[v->in[i]], *in = &b->v[b->inputs[i]];
    Shape want = o->shape;
    if (i >= k && i < k + m) { /* a sequence: step t's slice along axis */
      if (axis < 0 || axis >= o->shape.rank || o->shape.dim[axis] != steps)
        return arena_printf("sequence %%%d has no %lld steps along axis %lld", v->in[i], (long long)steps,
                            (long long)axis);
      for (int d = (int)axis; d + 1 < want.rank; d++) want.dim[d] = want.dim[d + 1];
      want.rank--;
    }
    if (o->dtype != in->dtype || !shape_eq(want, in->shape))
      return arena_printf("operand %d (%%%d) does not fit the body's input %d", i, v->in[i], i);
    if (i < k && (b->v[b->outputs[i]].dtype != in->dtype || !shape_eq(b->v[b->outputs[i]].shape, in->shape)))
      return arena_printf("the body's output %d is not of its carry's type", i);
  }
  for (int i = (int)k; i < b->noutputs + (int)k; i++) { /* stacked: the batch stays first */
    const Value *r = i < b->noutputs ? &b->v[b->outputs[i]] : &b->v[b->inputs[i - b->noutputs]];
    Shape st = insert_dim(r->shape, (int)axis, steps);
    if (st.rank < 0) return "a per-step result cannot be stacked along the axis";
    for (int d = 1; d < st.rank; d++)
      if (st.dim[d] == DIM_BATCH) return "a stacked result would have its batch dimension after the first";
  }
  const Value *first = &b->v[b->outputs[0]];
  v->dtype = first->dtype;
  v->shape = (Shape){0};
  return NULL;
}

/* The result type of v from its operands, or an explanation of why the
 * operands do not fit. For ops whose result type is given, checks it. */
static const char *infer(Graph *g, Value *v) {
  const Value *x = v->nin > 0 ? &g->v[v->in[0]] : NULL;
  const Value *y = v->nin > 1 ? &g->v[v->in[1]] : NULL;
  Shape s = {0};
  if ((v->op == OP_QMATMUL && v->nattr == 2 && v->a[0] >= g->nqlayers) ||
      (v->op == OP_QCONV2D && v->nattr == 13 && v->a[12] >= g->nqlayers))
    return "no such quantized layer in the graph (its weights are built into a library: IR text cannot hold them)";
  switch (op_info[v->op].cls) {
  case CL_LEAF:
    if (v->op == OP_DROPMASK && (x->shape.rank != 0 || y->shape.rank != 0 || v->nattr != 1 ||
                                 !(v->f >= 0 && v->f < 1) || !is_float(v->dtype)))
      return "dropmask takes two scalars, an instance and a rate in [0, 1)";
    if (v->op == OP_SCALAR && (v->nattr != 1 || v->a[0] < 0 || v->a[0] >= NUM_SCALARS ||
                               v->shape.rank != 0))
      return "scalar takes {which: 0..4} and has rank 0";
    if (v->op == OP_CONST && v->nattr != 0) return "no attributes";
    if ((v->op == OP_INPUT || v->op == OP_LABEL || v->op == OP_PARAM || v->op == OP_STATE) && v->nattr != 1)
      return "takes {index}";
    if (v->op == OP_CONST && !is_float(v->dtype) && (v->dtype != DT_I32 || v->f != ir_i32(v->f)))
      return "constants are floating-point or i32 integers";
    if (v->op == OP_IOTA) {
      if (v->nattr != 1 || v->a[0] < 0 || v->a[0] >= v->shape.rank || !is_float(v->dtype))
        return "iota takes {axis} of its floating-point shape";
      for (int d = 0; d < v->shape.rank; d++)
        if (v->shape.dim[d] == DIM_BATCH) return "iota has no batch dimension";
    }
    return NULL;
  case CL_UNARY:
    if (v->op == OP_CAST) {
      if (!shape_eq(v->shape, x->shape)) return "cast changes the shape";
      return NULL;
    }
    if (!is_float(x->dtype) && !op_on_ints(v->op)) return "elementwise op on an integer tensor";
    v->dtype = x->dtype;
    v->shape = x->shape;
    return NULL;
  case CL_BINARY:
    if (x->dtype != y->dtype || (!is_float(x->dtype) && !op_on_ints(v->op)))
      return "operand types differ or are not float";
    if (!broadcast_shapes(x->shape, y->shape, &s)) return "shapes do not broadcast";
    v->dtype = x->dtype;
    v->shape = s;
    return NULL;
  case CL_TERNARY: {
    const Value *z = &g->v[v->in[2]];
    Shape t;
    if (x->dtype != y->dtype || y->dtype != z->dtype) return "select operand types differ";
    if (!broadcast_shapes(x->shape, y->shape, &t) || !broadcast_shapes(t, z->shape, &s))
      return "select shapes do not broadcast";
    v->dtype = y->dtype;
    v->shape = s;
    return NULL;
  }
  case CL_REDUCE:
    if (v->op == OP_SUM || v->op == OP_RMAX) {
      bool drop[NN_MAX_RANK] = {0};
      for (int i = 0; i < v->nattr; i++) {
        if (v->a[i] < 0 || v->a[i] >= x->shape.rank || drop[v->a[i]]) return "bad reduction axes";
        drop[v->a[i]] = true;
      }
      for (int i = 0; i < x->shape.rank; i++)
        if (!drop[i]) s.dim[s.rank++] = x->shape.dim[i];
      if (!is_float(x->dtype)) return "reduction of an integer tensor";
      v->dtype = x->dtype;
      v->shape = s;
      return NULL;
    }
    if (v->nattr != 1 || v->a[0] < 0 || v->a[0] >= x->shape.rank) return "bad axis";
    if (v->op == OP_ARGMAX) {
      for (int i = 0; i < x->shape.rank; i++)
        if (i != v->a[0]) s.dim[s.rank++] = x->shape.dim[i];
      v->dtype = DT_I32;
      v->shape = s;
      return NULL;
    }
    if (!is_float(x->dtype)) return "softmax of an integer tensor";
    v->dtype = x->dtype;
    v->shape = x->shape;
    return NULL;
  case CL_CONTRACT: {
    Shape la = x->shape, lb = y->shape, lead;
    if (la.rank < 2 || lb.rank < 2) return "matmul operands need rank 2 or more";
    if (x->dtype != y->dtype || !is_float(x->dtype)) return "matmul operand types";
    if (la.dim[la.rank - 1] != lb.dim[lb.rank - 2]) return "matmul inner dimensions differ";
    la.rank -= 2;
    lb.rank -= 2;
    if (!broadcast_shapes(la, lb, &lead)) return "matmul leading dimensions do not broadcast";
    s = lead;
    if (v->op == OP_MATMULSUM) s.rank = 0;
    s.dim[s.rank++] = x->shape.dim[x->shape.rank - 2];
    s.dim[s.rank++] = y->shape.dim[y->shape.rank - 1];
    v->dtype = x->dtype;
    v->shape = s;
    return NULL;
  }
  case CL_MOVE:
    return infer_move(v, x, y);
  case CL_WINDOW:
    return infer_window(v, x, y);
  case CL_SCAN:
    return infer_scan(g, v, x);
  }
  return "unknown op";
}

/* Whether v's stated type is the one its operands give (for IR read back). */
const char *ir_check(Graph *g, const Value *v) {
  Value w = *v;
  const char *err = infer(g, &w);
  if (err) return err;
  if (w.dtype != v->dtype || !shape_eq(w.shape, v->shape))
    return arena_printf("the type is %s, not %s", type_str(w.dtype, w.shape),
                        type_str(v->dtype, v->shape));
  return NULL;
}

static uint64_t hash_value(const Value *v) {
  uint64_t h = 1469598103934665603u;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211u)
  MIX(v->op);
  MIX(v->dtype);
  MIX(v->shape.rank);
  for (int i = 0; i < v->shape.rank; i++) MIX(v->shape.dim[i]);
  for (int i = 0; i < v->nin; i++) MIX(v->in[i]);
  for (int i = 0; i < v->nattr; i++) MIX(v->a[i]);
  uint64_t fb;
  memcpy(&fb, &v->f, sizeof fb);
  MIX(fb);
#undef MIX
  return h;
}

static bool same_value(const Value *a, const Value *b) {
  if (a->op != b->op || a->dtype != b->dtype || !shape_eq(a->shape, b->shape) ||
      a->nin != b->nin || a->nattr != b->nattr || memcmp(&a->f, &b->f, sizeof a->f) != 0)
    return false;
  for (int i = 0; i < a->nin; i++)
    if (a->in[i] != b->in[i]) return false;
  for (int i = 0; i < a->nattr; i++)
    if (a->a[i] != b->a[i]) return false;
  return true;
}

static void rehash(Graph *g, int tcap) {
  g->tcap = tcap;
  arena_release(g->table);
  g->table = arena_alloc(sizeof(int) * (size_t)g->tcap);
  memset(g->table, 0xff, sizeof(int) * (size_t)g->tcap);
  for (int id = 0; id < g->n; id++) {
    uint64_t h = hash_value(&g->v[id]);
    while (g->table[h & (uint64_t)(g->tcap - 1)] >= 0) h++;
    g->table[h & (uint64_t)(g->tcap - 1)] = id;
  }
}

int ir_make(Graph *g, Op op, DType dt, Shape sh, const int *in, int nin, const int64_t *a, int na,
            double f) {
  Value v = {.op = op, .dtype = dt, .shape = sh, .nin = nin, .nattr = na, .f = f,
             .loc = g->loc, .part = g->part};
  if (nin > IR_MAX_IN || na > IR_MAX_ATTR) bug("%s: too many operands", op_info[op].name);
  if (op_info[op].arity != nin && op_info[op].arity >= 0)
    bug("%s takes %d operands, got %d", op_info[op].name, op_info[op].arity, nin);
  for (int i = 0; i < nin; i++) {
    if (in[i] < 0 || in[i] >= g->n) bug("%s: operand %d is not a value", op_info[op].name, in[i]);
    v.in[i] = in[i];
  }
  for (int i = 0; i < na; i++) v.a[i] = a[i];
  const char *err = infer(g, &v);
  if (err) bug("%s: %s", op_info[op].name, err);

  uint64_t h = hash_value(&v);
  for (;; h++) {
    int id = g->table[h & (uint64_t)(g->tcap - 1)];
    if (id < 0) break;
    if (same_value(&g->v[id], &v)) return id;
  }
  if (g->n == g->cap) graph_reserve(g, 2 * g->cap);
  int id = g->n++;
  g->v[id] = v;
  g->table[h & (uint64_t)(g->tcap - 1)] = id;
  if (2 * g->n > g->tcap) rehash(g, 2 * g->tcap);
  return id;
}

/* Room for n values. Outgrown arrays are given back to the arena: a
 * deep model's graphs have hundreds of thousands of values. */
void graph_reserve(Graph *g, int n) {
  if (n > g->cap) {
    Value *nv = arena_alloc(sizeof(Value) * (size_t)n);
    memcpy(nv, g->v, sizeof(Value) * (size_t)g->n);
    arena_release(g->v);
    g->v = nv;
    g->cap = n;
  }
  int tcap = g->tcap;
  while (tcap < 2 * n) tcap *= 2;
  if (tcap > g->tcap) rehash(g, tcap);
}

void graph_release(Graph *g) {
  arena_release(g->v);
  arena_release(g->table);
  g->v = NULL;
  g->table = NULL;
  g->n = g->cap = g->tcap = 0;
}

int ir_leaf(Graph *g, Op op, DType dt, Shape sh, int64_t index) {
  return ir_make(g, op, dt, sh, NULL, 0, &index, 1, 0);
}

int ir_const(Graph *g, DType dt, Shape sh, double f) {
  if (f == 0) f = 0; /* -0.0 and 0.0 are one constant */
  if (dt == DT_F32) f = (double)(float)f; /* the value the op computes with */
  return ir_make(g, OP_CONST, dt, sh, NULL, 0, NULL, 0, f);
}

int ir_scalar(Graph *g, DType dt, double f) { return ir_const(g, dt, (Shape){0}, f); }

int ir_unary(Graph *g, Op op, int x) {
  return ir_make(g, op, DT_NONE, (Shape){0}, &x, 1, NULL, 0, 0);
}

int ir_binary(Graph *g, Op op, int a, int b) {
  int in[2] = {a, b};
  return ir_make(g, op, DT_NONE, (Shape){0}, in, 2, NULL, 0, 0);
}

int ir_select(Graph *g, int c, int a, int b) {
  int in[3] = {c, a, b};
  return ir_make(g, OP_SELECT, DT_NONE, (Shape){0}, in, 3, NULL, 0, 0);
}

static int reduce(Graph *g, Op op, int x, const int *axes, int naxes) {
  int64_t a[NN_MAX_RANK];
  bool drop[NN_MAX_RANK] = {0};
  int n = 0;
  for (int i = 0; i < naxes; i++) drop[axes[i]] = true;
  for (int i = 0; i < NN_MAX_RANK; i++)
    if (drop[i]) a[n++] = i; /* ascending: one spelling per reduction */
  if (n == 0) return x;
  return ir_make(g, op, DT_NONE, (Shape){0}, &x, 1, a, n, 0);
}

int ir_sum(Graph *g, int x, const int *axes, int naxes) {
  return reduce(g, OP_SUM, x, axes, naxes);
}

int ir_rmax(Graph *g, int x, const int *axes, int naxes) {
  return reduce(g, OP_RMAX, x, axes, naxes);
}

int ir_axis_op(Graph *g, Op op, int x, int axis) {
  int64_t a = axis;
  return ir_make(g, op, DT_NONE, (Shape){0}, &x, 1, &a, 1, 0);
}

int ir_reshape(Graph *g, int x, Shape sh) {
  if (shape_eq(g->v[x].shape, sh)) return x;
  return ir_make(g, OP_RESHAPE, g->v[x].dtype, sh, &x, 1, NULL, 0, 0);
}

int ir_expand(Graph *g, int x, Shape sh) {
  if (shape_eq(g->v[x].shape, sh)) return x;
  return ir_make(g, OP_EXPAND, g->v[x].dtype, sh, &x, 1, NULL, 0, 0);
}

int ir_transpose(Graph *g, int x, const int *perm) {
  int r = g->v[x].shape.rank;
  int64_t a[NN_MAX_RANK];
  bool identity = true;
  for (int i = 0; i < r; i++) {
    a[i] = perm[i];
    if (perm[i] != i) identity = false;
  }
  if (identity) return x;
  return ir_make(g, OP_TRANSPOSE, DT_NONE, (Shape){0}, &x, 1, a, r, 0);
}

int ir_slice(Graph *g, int x, int axis, int64_t start, int64_t end) {
  if (start == 0 && end == g->v[x].shape.dim[axis]) return x;
  int64_t a[3] = {axis, start, end};
  return ir_make(g, OP_SLICE, DT_NONE, (Shape){0}, &x, 1, a, 3, 0);
}

int ir_iota(Graph *g, DType dt, Shape sh, int axis) {
  int64_t a = axis;
  return ir_make(g, OP_IOTA, dt, sh, NULL, 0, &a, 1, 0);
}

int ir_pad(Graph *g, int x, int axis, int64_t before, int64_t after) {
  if (before == 0 && after == 0) return x;
  int64_t a[3] = {axis, before, after};
  return ir_make(g, OP_PAD, DT_NONE, (Shape){0}, &x, 1, a, 3, 0);
}

int ir_matmul(Graph *g, int a, int b) {
  int in[2] = {a, b};
  return ir_make(g, OP_MATMUL, DT_NONE, (Shape){0}, in, 2, NULL, 0, 0);
}

int ir_matmul_sum(Graph *g, int a, int b) {
  int in[2] = {a, b};
  return ir_make(g, OP_MATMULSUM, DT_NONE, (Shape){0}, in, 2, NULL, 0, 0);
}

int ir_cast(Graph *g, int x, DType dt) {
  if (g->v[x].dtype == dt) return x;
  return ir_make(g, OP_CAST, dt, g->v[x].shape, &x, 1, NULL, 0, 0);
}

int ir_body(Graph *g, Graph *body) {
  if (g->nbodies == g->capbodies) {
    g->capbodies = g->capbodies ? 2 * g->capbodies : 4;
    Graph **nb = arena_alloc(sizeof *nb * (size_t)g->capbodies);
    if (g->nbodies) memcpy(nb, g->bodies, sizeof *nb * (size_t)g->nbodies);
    g->bodies = nb;
  }
  g->bodies[g->nbodies] = body;
  return g->nbodies++;
}

int ir_scan(Graph *g, int body, int64_t steps, bool reverse, int axis, const int *carries, int k, const int *seqs,
            int m, const int *inv, int p, int skip, int64_t adds) {
  int in[IR_MAX_IN], n = 0;
  if (k + m + p > IR_MAX_IN) bug("a scan of %d operands", k + m + p);
  for (int i = 0; i < k; i++) in[n++] = carries[i];
  for (int i = 0; i < m; i++) in[n++] = seqs[i];
  for (int i = 0; i < p; i++) in[n++] = inv[i];
  int64_t a[8] = {body, steps, reverse, axis, k, m, skip, adds};
  int scan = ir_make(g, OP_SCAN, DT_NONE, (Shape){0}, in, n, a, 8, 0), first = -1;
  for (int64_t i = 0; i < ir_scan_results(g, &g->v[scan]); i++) {
    int r = ir_make(g, OP_SCANOUT, DT_NONE, (Shape){0}, &scan, 1, &i, 1, 0);
    if (i == 0) first = r;
  }
  return first;
}

int ir_scan_repeats(const Graph *body, int k, int l) {
  for (int i = 0; i < k; i++)
    if (body->outputs[k + l] == body->outputs[i]) return i;
  return -1;
}

int ir_scan_adds(const Value *scan, int j) { return (int)((uint64_t)scan->a[7] >> (4 * j) & 15) - 1; }

int ir_window(Graph *g, Op op, int x, int w, const int64_t *a, Shape result) {
  int in[2] = {x, w};
  int n = op_info[op].arity;
  int na = op == OP_CONV2D || op == OP_CONV2DBX || op == OP_CONV2DBW ? 9 : 10;
  return ir_make(g, op, g->v[x].dtype, result, in, n, a, na, 0);
}

/* Sums x down to `target`, the shape it was broadcast from. */
int ir_sum_to(Graph *g, int x, Shape target) {
  Shape s = g->v[x].shape;
  if (shape_eq(s, target)) return x;
  int axes[NN_MAX_RANK], n = 0, lead = s.rank - target.rank;
  for (int i = 0; i < s.rank; i++) {
    int64_t t = i < lead ? 1 : target.dim[i - lead];
    if (i < lead || (t == 1 && s.dim[i] != 1)) axes[n++] = i;
  }
  return ir_reshape(g, ir_sum(g, x, axes, n), target);
}

/* Mean over every element, the batch dimension included. */
int ir_mean_all(Graph *g, int x) {
  Shape s = g->v[x].shape;
  int axes[NN_MAX_RANK] = {0};
  for (int i = 0; i < s.rank; i++) axes[i] = i;
  int total = ir_sum(g, x, axes, s.rank);
  DType dt = g->v[x].dtype;
  double per = (double)elems(s);
  int count = ir_scalar(g, dt, per);
  if (has_batch(s)) {
    int n = ir_leaf(g, OP_SCALAR, dt, (Shape){0}, SC_BATCH);
    count = ir_binary(g, OP_MUL, n, count);
  }
  return ir_binary(g, OP_DIV, total, count);
}

/* The list grows by doubling: a model may have tens of thousands of
 * tensors. A graph whose list is shared with another (simplify's copy)
 * has capacity 0, so it copies before it adds. */
int add_param_value(Graph *g, ParamInfo *p, bool state) {
  ParamInfo ***list = state ? &g->states : &g->params;
  int *n = state ? &g->nstates : &g->nparams, *cap = state ? &g->capstates : &g->capparams;
  if (*n >= *cap) {
    *cap = *n < 8 ? 16 : 2 * *n;
    ParamInfo **nl = arena_alloc(sizeof *nl * (size_t)*cap);
    if (*n) memcpy(nl, *list, sizeof *nl * (size_t)*n);
    *list = nl;
  }
  (*list)[*n] = p;
  return ir_leaf(g, state ? OP_STATE : OP_PARAM, p->dtype, p->shape, (*n)++);
}

void add_update(Graph *g, bool state, int index, int value) {
  if (g->nupdates == g->capupdates) {
    g->capupdates = g->capupdates ? 2 * g->capupdates : 16;
    Update *nu = arena_alloc(sizeof *nu * (size_t)g->capupdates);
    if (g->nupdates) memcpy(nu, g->updates, sizeof *nu * (size_t)g->nupdates);
    g->updates = nu;
  }
  g->updates[g->nupdates++] = (Update){state, index, value};
}

/* ------------------------------------------------------------ verifier */

static void fail(Graph *g, const char *stage, int id, const char *what) {
  bug("IR verification failed after %s in graph %s: %%%d (%s): %s", stage, g->name, id,
      id >= 0 && id < g->n ? op_info[g->v[id].op].name : "?", what);
}

/* Why a value of this op may not be in a scan's body, or NULL. */
const char *ir_body_op(Op op) {
  if (op_info[op].cls == CL_LEAF && op != OP_INPUT && op != OP_CONST && op != OP_IOTA)
    return "a scan's body reads only its inputs, constants and iotas";
  if (op == OP_SCAN) return "a scan's body holds no scan";
  return NULL;
}

/* Why scan_out v (at id) may not be there, or NULL: a scan's results come
 * right after it, in the order of their indices. */
const char *ir_scanout_place(Graph *g, int id, const Value *v) {
  const Value *prev = &g->v[id - 1];
  if (v->in[0] == id - 1 || (prev->op == OP_SCANOUT && prev->in[0] == v->in[0] && prev->a[0] < v->a[0]))
    return NULL;
  return "a scan's results follow it, in order";
}

void verify(Graph *g, const char *stage) {
  for (int i = 0; i < g->nbodies; i++) {
    Graph *b = g->bodies[i];
    verify(b, stage);
    for (int id = 0; id < b->n; id++)
      if (ir_body_op(b->v[id].op)) fail(b, stage, id, ir_body_op(b->v[id].op));
  }
  for (int id = 0; id < g->n; id++) {
    Value v = g->v[id];
    if ((unsigned)v.op >= NUM_OPS) fail(g, stage, id, "unknown op");
    if (v.nin != op_info[v.op].arity && !(op_info[v.op].arity < 0 && v.nin <= IR_MAX_IN))
      fail(g, stage, id, "wrong number of operands");
    for (int i = 0; i < v.nin; i++)
      if (v.in[i] < 0 || v.in[i] >= id) fail(g, stage, id, "operand not defined before use");
    if (v.shape.rank < 0 || v.shape.rank > NN_MAX_RANK) fail(g, stage, id, "bad rank");
    for (int i = 0; i < v.shape.rank; i++)
      if (v.shape.dim[i] < 1 && v.shape.dim[i] != DIM_BATCH) fail(g, stage, id, "bad dimension");
    Value w = v;
    const char *err = infer(g, &w);
    if (err) fail(g, stage, id, err);
    if (w.dtype != v.dtype || !shape_eq(w.shape, v.shape))
      fail(g, stage, id, arena_printf("type %s does not match the inferred %s",
                                      type_str(v.dtype, v.shape), type_str(w.dtype, w.shape)));
    if (v.op == OP_SCANOUT && ir_scanout_place(g, id, &v)) fail(g, stage, id, ir_scanout_place(g, id, &v));
    if (v.op == OP_PARAM && (v.a[0] < 0 || v.a[0] >= g->nparams)) fail(g, stage, id, "param index");
    if (v.op == OP_STATE && (v.a[0] < 0 || v.a[0] >= g->nstates)) fail(g, stage, id, "state index");
    if (v.op == OP_INPUT && (v.a[0] < 0 || v.a[0] >= g->ninputs)) fail(g, stage, id, "input index");
    if (v.op == OP_LABEL && (v.a[0] < 0 || v.a[0] >= g->nlabels || g->labels[v.a[0]] != id))
      fail(g, stage, id, "label index");
  }
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] < 0 || g->inputs[i] >= g->n || g->v[g->inputs[i]].op != OP_INPUT)
      fail(g, stage, g->inputs[i], "graph input is not an input leaf");
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] < 0 || g->outputs[i] >= g->n) fail(g, stage, g->outputs[i], "bad output");
  if (g->loss >= g->n || (g->loss >= 0 && g->v[g->loss].shape.rank != 0))
    fail(g, stage, g->loss, "the loss is not a scalar");
  for (int i = 0; i < g->nupdates; i++) {
    Update u = g->updates[i];
    ParamInfo *p = u.state ? (u.index < g->nstates ? g->states[u.index] : NULL)
                           : (u.index < g->nparams ? g->params[u.index] : NULL);
    if (!p || u.value < 0 || u.value >= g->n) fail(g, stage, u.value, "bad update");
    if (!shape_eq(g->v[u.value].shape, p->shape) || g->v[u.value].dtype != p->dtype)
      fail(g, stage, u.value, arena_printf("update of %s has the wrong type", p->name));
  }
}

/* ------------------------------------------------------------ printing */

static const char *part_name[] = {"forward", "loss", "backward", "update"};

static void print_attrs(FILE *out, const Value *v) {
  const char *names = op_info[v->op].attrs;
  if (v->nattr == 0 && v->op != OP_CONST && v->op != OP_DROPMASK) return;
  fprintf(out, " {");
  if (strstr(names, "...")) {
    fprintf(out, "%.*s: [", (int)(strstr(names, "...") - names), names);
    for (int i = 0; i < v->nattr; i++) fprintf(out, "%s%lld", i ? ", " : "", (long long)v->a[i]);
    fprintf(out, "]");
  } else {
    const char *p = names;
    for (int i = 0; i < v->nattr; i++) {
      const char *end = strchr(p, ' ');
      int len = end ? (int)(end - p) : (int)strlen(p);
      fprintf(out, "%s%.*s: %lld", i ? ", " : "", len, p, (long long)v->a[i]);
      p = end ? end + 1 : p + len;
    }
  }
  if (v->op == OP_CONST || v->op == OP_DROPMASK) /* enough digits to read the value back */
    fprintf(out, v->dtype == DT_F32 ? "%sf: %.9g" : "%sf: %.17g", v->nattr ? ", " : "", v->f);
  fprintf(out, "}");
}

static const char *leaf_name(Graph *g, const Value *v) {
  switch (v->op) {
  case OP_PARAM: return g->params[v->a[0]]->name;
  case OP_STATE: return g->states[v->a[0]]->name;
  case OP_SCALAR: {
    static const char *names[] = {"batch", "step", "epoch", "seed", "lr"};
    return v->a[0] < NUM_SCALARS ? names[v->a[0]] : "?";
  }
  default: return NULL;
  }
}

/* The values and the interface lines, each line after `indent`; a body's
 * printed before them, between "body I (NAME, N values)" and "end". */
static void print_lines(FILE *out, Graph *g, const char *indent) {
  for (int i = 0; i < g->nbodies; i++) {
    Graph *b = g->bodies[i];
    fprintf(out, "%sbody %d (%s, %d values)\n", indent, i, b->name, b->n);
    print_lines(out, b, arena_printf("%s  ", indent));
    fprintf(out, "%send\n", indent);
  }
  Part part = (Part)-1;
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (v->part != part && g->training) {
      part = v->part;
      fprintf(out, "%s# %s\n", indent, part_name[part]);
    }
    fprintf(out, "%s%%%d = %s", indent, id, op_info[v->op].name);
    for (int i = 0; i < v->nin; i++) fprintf(out, "%s%%%d", i ? ", " : " ", v->in[i]);
    print_attrs(out, v);
    fprintf(out, " : %s", type_str(v->dtype, v->shape));
    const char *leaf = leaf_name(g, v);
    if (leaf) fprintf(out, "  # %s", leaf);
    else if (v->loc.file)
      fprintf(out, "  # %s:%d:%d", v->loc.file->path, v->loc.first_line, v->loc.first_column);
    fprintf(out, "\n");
  }
  for (int i = 0; i < g->noutputs; i++) fprintf(out, "%soutput %%%d\n", indent, g->outputs[i]);
  if (g->loss >= 0) fprintf(out, "%sloss %%%d\n", indent, g->loss);
  for (int i = 0; i < g->nupdates; i++) {
    Update u = g->updates[i];
    fprintf(out, "%supdate %s %s = %%%d\n", indent, u.state ? "state" : "param",
            u.state ? g->states[u.index]->name : g->params[u.index]->name, u.value);
  }
}

void print_ir(FILE *out, Graph *g) {
  fprintf(out, "graph %s (%s, %d values)\n", g->name,
          g->training ? "training step" : "inference", g->n);
  print_lines(out, g, "  ");
}

void print_dot(FILE *out, Graph *g) {
  static const char *color[] = {"lightblue", "khaki", "lightpink", "palegreen"};
  fprintf(out, "digraph \"%s\" {\n  rankdir=TB;\n  node [shape=box, style=filled, "
               "fontname=\"monospace\", fontsize=10];\n", g->name);
  fprintf(out, "  subgraph cluster_legend { label=\"parts\"; fontsize=10;\n");
  for (int p = 0; p < 4; p++)
    fprintf(out, "    legend%d [label=\"%s\", fillcolor=%s];\n", p, part_name[p], color[p]);
  fprintf(out, "  }\n");
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    const char *leaf = leaf_name(g, v);
    fprintf(out, "  v%d [label=\"%%%d %s%s%s\\n%s\", fillcolor=%s];\n", id, id,
            op_info[v->op].name, leaf ? " " : "", leaf ? leaf : "", type_str(v->dtype, v->shape),
            color[v->part]);
    for (int i = 0; i < v->nin; i++) fprintf(out, "  v%d -> v%d;\n", v->in[i], id);
  }
  if (g->loss >= 0) fprintf(out, "  loss [shape=ellipse, fillcolor=white];\n  v%d -> loss;\n",
                            g->loss);
  for (int i = 0; i < g->nupdates; i++) {
    Update u = g->updates[i];
    const char *name = u.state ? g->states[u.index]->name : g->params[u.index]->name;
    fprintf(out, "  u%d [shape=ellipse, fillcolor=white, label=\"%s'\"];\n  v%d -> u%d;\n", i,
            name, g->updates[i].value, i);
  }
  fprintf(out, "}\n");
}
