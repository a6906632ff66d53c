/* onnx_write.c — `--emit=onnx`: a model's inference graph as an ONNX file.
 *
 * The simplified inference graph (the one a library's predict runs) is
 * written op by op as ONNX nodes (opset 13) in the protobuf wire format;
 * the parameters and states, which must have values (`--weights`, or an
 * imported ONNX model's), are the initializers, under their nnc names.
 * Tensors keep nnc's layouts: images are NHWC, so a convolution or a
 * pooling is a Transpose to NCHW, the ONNX op, and a Transpose back (the
 * weights transposed by a node, which ONNX tools fold). Inputs and outputs
 * keep their declared layouts, the batch the symbol "N" (first, or where a
 * time-major declaration puts it). A recurrent layer is ONNX's RNN,
 * GRU or LSTM node. An op with no ONNX form here (a masked recurrent
 * layer's loop, say) is an error naming it. docs/onnx.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

typedef struct Buf {
  uint8_t *p;
  size_t n, cap;
} Buf;

static void put(Buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + n) c *= 2;
    uint8_t *q = realloc(b->p, c);
    if (!q) {
      fprintf(stderr, "nnc: error: out of memory writing ONNX\n");
      exit(1);
    }
    b->p = q, b->cap = c;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void varint(Buf *b, uint64_t v) {
  uint8_t x[10];
  int n = 0;
  do x[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)), v >>= 7;
  while (v);
  put(b, x, (size_t)n);
}

static void key(Buf *b, int field, int wire) { varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void num(Buf *b, int field, int64_t v) { key(b, field, 0), varint(b, (uint64_t)v); }
static void bytes(Buf *b, int field, const void *d, size_t n) { key(b, field, 2), varint(b, n), put(b, d, n); }
static void str(Buf *b, int field, const char *s) { bytes(b, field, s, strlen(s)); }
/* A nested message; m is freed. */
static void msg(Buf *b, int field, Buf *m) {
  bytes(b, field, m->p, m->n);
  free(m->p);
  *m = (Buf){0};
}

typedef struct W {
  const Graph *g;
  Buf graph;
  const char **name; /* an IR value's ONNX name */
  bool *skip;        /* written by another value's nodes (a recurrent layer's input product) */
  int fresh;
  const char *err;
} W;

static const char *fresh(W *w) { return arena_printf("t%d", w->fresh++); }

static int onnx_type(DType t) { return t == DT_F64 ? OX_DOUBLE : t == DT_I32 ? OX_INT32 : OX_FLOAT; }

/* Attributes, added to a node's message. */
static void attr_int(Buf *n, const char *name, int64_t v) {
  Buf a = {0};
  str(&a, 1, name), num(&a, 20, 2), num(&a, 3, v);
  msg(n, 5, &a);
}
static void attr_str(Buf *n, const char *name, const char *v) {
  Buf a = {0};
  str(&a, 1, name), num(&a, 20, 3), str(&a, 4, v);
  msg(n, 5, &a);
}
static void attr_ints(Buf *n, const char *name, const int64_t *v, int k) {
  Buf a = {0};
  str(&a, 1, name), num(&a, 20, 7);
  for (int i = 0; i < k; i++) num(&a, 8, v[i]);
  msg(n, 5, &a);
}

/* A node op(ins) -> out, with attributes already in attrs (or NULL). */
static const char *node(W *w, const char *op, const char *out, Buf *attrs, int nin, ...) {
  Buf n = {0};
  va_list ap;
  va_start(ap, nin);
  for (int i = 0; i < nin; i++) str(&n, 1, va_arg(ap, const char *));
  va_end(ap);
  if (!out) out = fresh(w);
  str(&n, 2, out), str(&n, 3, arena_printf("n%d_%s", w->fresh++, op)), str(&n, 4, op);
  if (attrs) put(&n, attrs->p, attrs->n), free(attrs->p), *attrs = (Buf){0};
  msg(&w->graph, 1, &n);
  return out;
}

/* An initializer: dims and values (doubles converted to type). */
static const char *initializer(W *w, const char *name, int type, const int64_t *dims, int rank, const void *data,
                               int64_t count) {
  Buf t = {0};
  for (int i = 0; i < rank; i++) num(&t, 1, dims[i]);
  num(&t, 2, type), str(&t, 8, name);
  bytes(&t, 9, data, (size_t)count * (type == OX_DOUBLE || type == OX_INT64 ? 8 : 4));
  msg(&w->graph, 5, &t);
  return name;
}

static const char *ints_init(W *w, const int64_t *v, int n) {
  int64_t d = n;
  return initializer(w, fresh(w), OX_INT64, &d, 1, v, n);
}

static const char *scalar(W *w, DType dt, double f) {
  if (dt == DT_F64) return initializer(w, fresh(w), OX_DOUBLE, NULL, 0, &f, 1);
  if (dt == DT_I32) {
    int32_t i = (int32_t)f;
    return initializer(w, fresh(w), OX_INT32, NULL, 0, &i, 1);
  }
  float x = (float)f;
  return initializer(w, fresh(w), OX_FLOAT, NULL, 0, &x, 1);
}

static const char *nchw(W *w, const char *x, bool to) {
  Buf a = {0};
  int64_t p[4] = {0, 3, 1, 2}, q[4] = {0, 2, 3, 1};
  attr_ints(&a, "perm", to ? p : q, 4);
  return node(w, "Transpose", NULL, &a, 1, x);
}

/* A reshape target: the batch as 0 (ONNX's "copy this dimension"). */
static const char *shape_of(W *w, const Shape *s) {
  int64_t d[NN_MAX_RANK];
  for (int i = 0; i < s->rank; i++) d[i] = s->dim[i] == DIM_BATCH ? 0 : s->dim[i];
  return ints_init(w, d, s->rank);
}

/* A recurrent layer's loop (sequences.c's scan over simple_rnn_step,
 * gru_step or lstm_step) as ONNX's RNN, GRU or LSTM node. Its input xw =
 * x W + b is found in the graph, so the node reads x (time-major, as
 * ONNX's nodes do) with the weights reordered: each gate's block of W's
 * columns as rows (ONNX keeps W transposed), the LSTM's gates i f g o as
 * ONNX's i o f c. The results: Y_h and Y_c for the last state and cell,
 * Y for every step's state. A masked layer and any other loop have no
 * ONNX form here. */
static const ParamInfo *param_of(const Graph *g, int id) {
  return g->v[id].op == OP_PARAM ? g->params[g->v[id].a[0]] : NULL;
}

/* rows[1, G u, n]: block j of src[n, G u]'s columns (perm[j] there) as rows, or
 * src[G u] (n 0) reordered; dst has room for `extra` zeros after it. */
static const char *gate_rows(W *w, const ParamInfo *src, int n, int G, const int *perm, int64_t u, const ParamInfo *more) {
  bool f64 = src->dtype == DT_F64;
  int64_t cols = G * u, rows = n ? n : 1, total = (more || !n ? 2 : 1) * cols * rows, sz = f64 ? 8 : 4;
  uint8_t *d = arena_alloc((size_t)(total * sz));
  memset(d, 0, (size_t)(total * sz));
  for (int j = 0; j < G; j++)
    for (int64_t r = 0; r < u; r++)
      for (int64_t i = 0; i < rows; i++) {
        int64_t to = (j * u + r) * rows + i, from = i * cols + perm[j] * u + r;
        memcpy(d + to * sz, (const uint8_t *)src->value + from * sz, (size_t)sz);
        if (more) memcpy(d + (cols + to) * sz, (const uint8_t *)more->value + from * sz, (size_t)sz);
      }
  int64_t dims[3] = {1, n ? cols : 2 * cols, n ? n : 0};
  return initializer(w, fresh(w), f64 ? OX_DOUBLE : OX_FLOAT, dims, n ? 3 : 2, d, total);
}

static bool recurrent(W *w, int id) {
  const Graph *g = w->g;
  const Value *v = &g->v[id];
  const Graph *body = g->bodies[v->a[0]];
  int kind = !strcmp(body->name, "lstm_step") ? 2 : !strcmp(body->name, "gru_step") ? 1
           : !strcmp(body->name, "simple_rnn_step") ? 0 : -1;
  int k = (int)v->a[4], m = (int)v->a[5], p = v->nin - k - m;
  const Value *xw = &g->v[v->in[k]];
  const Value *mm = xw->op == OP_ADD ? &g->v[xw->in[0]] : NULL;
  const ParamInfo *W = mm && mm->op == OP_MATMUL ? param_of(g, mm->in[1]) : NULL, *B = xw->op == OP_ADD ? param_of(g, xw->in[1]) : NULL;
  const ParamInfo *U = param_of(g, v->in[k + m]), *RB = NULL;
  if (kind == 1 && p == 2 && !U) { /* U's two slices, or U and the recurrent bias (reset_after) */
    const Value *s0 = &g->v[v->in[k + m]], *s1 = &g->v[v->in[k + m + 1]];
    if (s0->op == OP_SLICE && s1->op == OP_SLICE && s0->in[0] == s1->in[0]) U = param_of(g, s0->in[0]);
  } else if (kind == 1 && p == 2) {
    RB = param_of(g, v->in[k + m + 1]), kind = 3;
  }
  if (kind < 0 || m != 1 || v->a[6] >= 0 || v->a[3] != 1 || !W || !B || !U || (kind == 3 && !RB)) {
    w->err = arena_printf("the loop %%%d (%s%s) has no ONNX form in nnc's export: only simple_rnn, gru and lstm "
                          "without a mask are written", id, body->name, v->a[6] >= 0 ? ", masked" : "");
    return false;
  }
  int64_t u = g->v[v->in[0]].shape.dim[1];
  int G = kind == 2 ? 4 : kind ? 3 : 1;
  static const int lstm_perm[4] = {0, 3, 1, 2}, same[3] = {0, 1, 2};
  const int *perm = kind == 2 ? lstm_perm : same;
  Buf at = {0};
  int64_t tm[3] = {1, 0, 2}, zero = 0;
  attr_ints(&at, "perm", tm, 3);
  const char *x = node(w, "Transpose", NULL, &at, 1, w->name[mm->in[0]]);
  const char *Wn = gate_rows(w, W, (int)W->shape.dim[0], G, perm, u, NULL);
  const char *Rn = gate_rows(w, U, (int)u, G, perm, u, NULL);
  const char *Bn = gate_rows(w, B, 0, G, perm, u, RB);
  const char *init[2] = {"", ""};
  for (int i = 0; i < k; i++) {
    const Value *c = &g->v[v->in[i]];
    if (c->op != OP_CONST || c->f != 0)
      init[i] = node(w, "Unsqueeze", NULL, NULL, 2, w->name[v->in[i]], ints_init(w, &zero, 1));
  }
  attr_int(&at, "hidden_size", u);
  if (v->a[2]) attr_str(&at, "direction", "reverse");
  if (kind == 3) attr_int(&at, "linear_before_reset", 1);
  const char *op = kind == 2 ? "LSTM" : kind ? "GRU" : "RNN";
  const char *y = arena_printf("v%d_y", id), *yh = arena_printf("v%d_h", id), *yc = arena_printf("v%d_c", id);
  Buf n = {0};
  const char *ins[7] = {x, Wn, Rn, Bn, "", init[0], init[1]};
  for (int i = 0; i < (kind == 2 && *init[1] ? 7 : *init[0] ? 6 : 4); i++) str(&n, 1, ins[i]);
  str(&n, 2, y), str(&n, 2, yh);
  if (kind == 2) str(&n, 2, yc);
  str(&n, 3, arena_printf("n%d_%s", w->fresh++, op)), str(&n, 4, op);
  put(&n, at.p, at.n), free(at.p);
  msg(&w->graph, 1, &n);
  w->name[id] = y;
  return true;
}

/* A recurrent layer's result: the last state or cell [N, u], or every
 * step's state [N, T, u] from Y [T, 1, N, u]. */
static bool recurrent_result(W *w, int id) {
  const Graph *g = w->g;
  const Value *v = &g->v[id], *scan = &g->v[v->in[0]];
  int k = (int)scan->a[4], i = (int)v->a[0], j = i - k;
  int64_t zero = 0, one = 1, tm[3] = {1, 0, 2};
  if (i < k) {
    w->name[id] = node(w, "Squeeze", arena_printf("v%d", id), NULL, 2, arena_printf("v%d_%s", v->in[0], i ? "c" : "h"),
                       ints_init(w, &zero, 1));
    return true;
  }
  if (j != 0 && j != k) {
    w->err = arena_printf("the loop %%%d: every step's cell has no ONNX form (ONNX's LSTM gives the last one)", v->in[0]);
    return false;
  }
  Buf at = {0};
  attr_ints(&at, "perm", tm, 3);
  w->name[id] = node(w, "Transpose", arena_printf("v%d", id), &at, 1,
                     node(w, "Squeeze", NULL, NULL, 2, w->name[v->in[0]], ints_init(w, &one, 1)));
  return true;
}

static bool value(W *w, int id) {
  const Graph *g = w->g;
  const Value *v = &g->v[id];
  const char *a = v->nin > 0 ? w->name[v->in[0]] : NULL, *b = v->nin > 1 ? w->name[v->in[1]] : NULL;
  const char *out = arena_printf("v%d", id);
  Buf at = {0};
  static const struct { Op op; const char *onnx; } same[] = {
    {OP_NEG, "Neg"}, {OP_EXP, "Exp"}, {OP_LOG, "Log"}, {OP_SQRT, "Sqrt"}, {OP_ABS, "Abs"}, {OP_SIGN, "Sign"},
    {OP_RELU, "Relu"}, {OP_SIGMOID, "Sigmoid"}, {OP_TANH, "Tanh"}, {OP_ERF, "Erf"}, {OP_COS, "Cos"}, {OP_SIN, "Sin"}, {OP_ASIN, "Asin"}, {OP_ACOS, "Acos"}, {OP_ATAN, "Atan"},
    {OP_FLOOR, "Floor"}, {OP_ADD, "Add"}, {OP_SUB, "Sub"}, {OP_MUL, "Mul"}, {OP_DIV, "Div"}, {OP_POW, "Pow"},
    {OP_MAX, "Max"}, {OP_MIN, "Min"}, {OP_MATMUL, "MatMul"},
  };
  if (w->skip[id]) return true;
  for (size_t i = 0; i < sizeof same / sizeof *same; i++)
    if (v->op == same[i].op) {
      w->name[id] = v->nin == 1 ? node(w, same[i].onnx, out, NULL, 1, a) : node(w, same[i].onnx, out, NULL, 2, a, b);
      return true;
    }
  switch (v->op) {
  case OP_PARAM: case OP_STATE: case OP_INPUT: return true; /* named already */
  case OP_SCAN: return recurrent(w, id);
  case OP_SCANOUT: return recurrent_result(w, id);
  case OP_CONST: {
    bool batch = false;
    for (int i = 0; i < v->shape.rank; i++) batch |= v->shape.dim[i] == DIM_BATCH;
    const char *s = scalar(w, v->dtype, v->f);
    if (batch || !v->shape.rank) { /* a scalar that broadcasts */
      w->name[id] = s;
      return true;
    }
    w->name[id] = node(w, "Expand", out, NULL, 2, s, shape_of(w, &v->shape));
    return true;
  }
  case OP_LOG1P: w->name[id] = node(w, "Log", out, NULL, 1, node(w, "Add", NULL, NULL, 2, a, scalar(w, v->dtype, 1))); return true;
  case OP_CAST: {
    attr_int(&at, "to", onnx_type(v->dtype));
    w->name[id] = node(w, "Cast", out, &at, 1, a);
    return true;
  }
  case OP_GT: {
    attr_int(&at, "to", onnx_type(v->dtype));
    w->name[id] = node(w, "Cast", out, &at, 1, node(w, "Greater", NULL, NULL, 2, a, b));
    return true;
  }
  case OP_SELECT: {
    attr_int(&at, "to", OX_BOOL);
    const char *c = node(w, "Cast", NULL, &at, 1, a);
    w->name[id] = node(w, "Where", out, NULL, 3, c, b, w->name[v->in[2]]);
    return true;
  }
  case OP_SUM: case OP_RMAX: {
    attr_int(&at, "keepdims", 0);
    if (v->op == OP_RMAX) attr_ints(&at, "axes", v->a, v->nattr);
    w->name[id] = v->op == OP_SUM ? node(w, "ReduceSum", out, &at, 2, a, ints_init(w, v->a, v->nattr))
                                  : node(w, "ReduceMax", out, &at, 1, a);
    return true;
  }
  case OP_SOFTMAX: case OP_LOGSOFTMAX:
    attr_int(&at, "axis", v->a[0]);
    w->name[id] = node(w, v->op == OP_SOFTMAX ? "Softmax" : "LogSoftmax", out, &at, 1, a);
    return true;
  case OP_ARGMAX: {
    attr_int(&at, "axis", v->a[0]), attr_int(&at, "keepdims", 0);
    const char *i = node(w, "ArgMax", NULL, &at, 1, a);
    attr_int(&at, "to", OX_INT32);
    w->name[id] = node(w, "Cast", out, &at, 1, i);
    return true;
  }
  case OP_RESHAPE: w->name[id] = node(w, "Reshape", out, NULL, 2, a, shape_of(w, &v->shape)); return true;
  case OP_EXPAND: {
    const Shape *x = &g->v[v->in[0]].shape;
    if (v->shape.rank && v->shape.dim[0] == DIM_BATCH && (x->rank != v->shape.rank || x->dim[0] != DIM_BATCH)) break;
    w->name[id] = node(w, "Expand", out, NULL, 2, a, shape_of(w, &v->shape));
    if (v->shape.rank && v->shape.dim[0] == DIM_BATCH) { /* Expand's 0 would be a 0: the batch is 1 there */
      int64_t d[NN_MAX_RANK];
      for (int i = 0; i < v->shape.rank; i++) d[i] = i ? v->shape.dim[i] : 1;
      w->name[id] = node(w, "Expand", out, NULL, 2, a, ints_init(w, d, v->shape.rank));
    }
    return true;
  }
  case OP_TRANSPOSE:
    attr_ints(&at, "perm", v->a, v->nattr);
    w->name[id] = node(w, "Transpose", out, &at, 1, a);
    return true;
  case OP_SLICE: {
    int64_t s = v->a[1], e = v->a[2], ax = v->a[0];
    w->name[id] = node(w, "Slice", out, NULL, 4, a, ints_init(w, &s, 1), ints_init(w, &e, 1), ints_init(w, &ax, 1));
    return true;
  }
  case OP_PAD: {
    int64_t p[2 * NN_MAX_RANK] = {0};
    int r = v->shape.rank;
    p[v->a[0]] = v->a[1], p[v->a[0] + r] = v->a[2];
    w->name[id] = node(w, "Pad", out, NULL, 2, a, ints_init(w, p, 2 * r));
    return true;
  }
  case OP_CONCAT:
    attr_int(&at, "axis", v->a[0]);
    w->name[id] = node(w, "Concat", out, &at, 2, a, b);
    return true;
  case OP_GATHER: w->name[id] = node(w, "Gather", out, NULL, 2, a, b); return true;
  case OP_CONV2D: case OP_CONV2DBX: {
    /* a: sh sw pt pl pb pr dh dw groups; W HWIO -> OIHW (conv) or IOHW (transposed) */
    int64_t perm[4] = {3, 2, 0, 1};
    attr_ints(&at, "perm", perm, 4);
    const char *k = node(w, "Transpose", NULL, &at, 1, b);
    const Shape *ws = &g->v[v->in[1]].shape;
    int64_t pads[4] = {v->a[2], v->a[3], v->a[4], v->a[5]}, ks[2] = {ws->dim[0], ws->dim[1]};
    attr_ints(&at, "strides", v->a, 2), attr_ints(&at, "pads", pads, 4), attr_ints(&at, "dilations", v->a + 6, 2);
    attr_ints(&at, "kernel_shape", ks, 2), attr_int(&at, "group", v->a[8]);
    if (v->op == OP_CONV2DBX) { /* the rows a conv2d would not read: output_padding */
      const Shape *in = &g->v[v->in[0]].shape;
      int64_t op[2];
      for (int i = 0; i < 2; i++)
        op[i] = v->shape.dim[1 + i] - ((in->dim[1 + i] - 1) * v->a[i] + v->a[6 + i] * (ks[i] - 1) + 1 - pads[i] - pads[i + 2]);
      attr_ints(&at, "output_padding", op, 2);
    }
    const char *y = node(w, v->op == OP_CONV2D ? "Conv" : "ConvTranspose", NULL, &at, 2, nchw(w, a, true), k);
    Buf p = {0};
    int64_t back[4] = {0, 2, 3, 1};
    attr_ints(&p, "perm", back, 4);
    w->name[id] = node(w, "Transpose", out, &p, 1, y);
    return true;
  }
  case OP_MAXPOOL: case OP_AVGPOOL: {
    /* a: kh kw sh sw pt pl pb pr dh dw */
    bool dilated = v->a[8] != 1 || v->a[9] != 1;
    if (dilated && v->op == OP_AVGPOOL) {
      w->err = arena_printf("a dilated avg_pool2d (value %%%d) has no ONNX form before opset 19; nnc writes opset 13", id);
      free(at.p);
      return false;
    }
    attr_ints(&at, "kernel_shape", v->a, 2), attr_ints(&at, "strides", v->a + 2, 2), attr_ints(&at, "pads", v->a + 4, 4);
    if (dilated) attr_ints(&at, "dilations", v->a + 8, 2);
    const char *y = node(w, v->op == OP_MAXPOOL ? "MaxPool" : "AveragePool", NULL, &at, 1, nchw(w, a, true));
    w->name[id] = nchw(w, y, false);
    return true;
  }
  default: break;
  }
  w->err = arena_printf("op %s (value %%%d) has no ONNX form in nnc's export yet", op_info[v->op].name, id);
  free(at.p);
  return false;
}

static void value_info(Buf *g, int field, const char *name, DType dt, const Shape *s) {
  Buf vi = {0}, type = {0}, tensor = {0}, shape = {0};
  for (int i = 0; i < s->rank; i++) {
    Buf d = {0};
    if (s->dim[i] == DIM_BATCH) str(&d, 2, "N");
    else num(&d, 1, s->dim[i]);
    msg(&shape, 1, &d);
  }
  num(&tensor, 1, onnx_type(dt)), msg(&tensor, 2, &shape);
  msg(&type, 1, &tensor);
  str(&vi, 1, name), msg(&vi, 2, &type);
  msg(g, field, &vi);
}

bool write_onnx(const Options *o, Built *models) {
  Built *pick = o->model ? NULL : models;
  char *names = arena_strdup("");
  for (Built *b = models; b; b = b->next) {
    names = arena_printf("%s%s%s", names, b == models ? "" : ", ", b->name);
    if (o->model && !strcmp(b->name, o->model)) pick = b;
  }
  if (!pick || (!o->model && models->next)) {
    if (!models) fprintf(stderr, "nnc: error: --emit=onnx writes one model; the program has none\n");
    else if (o->model) fprintf(stderr, "nnc: error: --model=%s: the program has no such model (it has %s)\n", o->model, names);
    else fprintf(stderr, "nnc: error: --emit=onnx writes one model; the program has several (%s): name one with --model=NAME\n", names);
    return false;
  }
  models = pick;
  const Graph *g = models->g[GRAPH_INFER];
  W w = {.g = g, .name = arena_alloc(sizeof(char *) * (size_t)(g->n + 1))};
  for (int i = 0; i < g->nparams + g->nstates; i++) {
    ParamInfo *p = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
    if (!p->value) {
      fprintf(stderr, "nnc: error: --emit=onnx needs the weights: '%s' has none (--weights FILE)\n", p->name);
      return false;
    }
  }
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (v->op == OP_PARAM || v->op == OP_STATE) {
      ParamInfo *p = v->op == OP_PARAM ? g->params[v->a[0]] : g->states[v->a[0]];
      int64_t count = param_elements(p);
      w.name[id] = initializer(&w, p->name, onnx_type(p->dtype), p->shape.dim, p->shape.rank, p->value, count);
    } else if (v->op == OP_INPUT) {
      int i = (int)v->a[0], at = i < 16 ? g->input_batch[i] : 0;
      w.name[id] = g->input_names[i] ? g->input_names[i] : arena_printf("input%d", i);
      if (at) { /* time-major [T, N, F]: batch first inside */
        Buf p = {0};
        int64_t perm[NN_MAX_RANK];
        for (int k = 0; k < v->shape.rank; k++) perm[k] = k == 0 ? at : k <= at ? k - 1 : k;
        attr_ints(&p, "perm", perm, v->shape.rank);
        w.name[id] = node(&w, "Transpose", NULL, &p, 1, w.name[id]);
      }
    }
  }
  /* a recurrent layer's input product and U's slices: read from the weights by its node */
  int *uses = arena_alloc(sizeof(int) * (size_t)(g->n + 1));
  w.skip = arena_alloc(sizeof(bool) * (size_t)(g->n + 1));
  memset(uses, 0, sizeof(int) * (size_t)(g->n + 1)), memset(w.skip, 0, sizeof(bool) * (size_t)(g->n + 1));
  for (int id = 0; id < g->n; id++)
    for (int i = 0; i < g->v[id].nin; i++) uses[g->v[id].in[i]]++;
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]]++;
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (v->op != OP_SCAN) continue;
    int k = (int)v->a[4], xw = v->in[k];
    if (g->v[xw].op == OP_ADD && uses[xw] == 1) {
      w.skip[xw] = true;
      int mm = g->v[xw].in[0];
      w.skip[mm] = g->v[mm].op == OP_MATMUL && uses[mm] == 1;
    }
    for (int i = k + (int)v->a[5]; i < v->nin; i++)
      if (g->v[v->in[i]].op == OP_SLICE && uses[v->in[i]] == 1) w.skip[v->in[i]] = true;
  }
  for (int id = 0; id < g->n; id++)
    if (!value(&w, id)) {
      fprintf(stderr, "nnc: error: --emit=onnx: %s: %s\n", models->name, w.err);
      free(w.graph.p);
      return false;
    }
  for (int i = 0; i < g->ninputs; i++) {
    const Value *v = &g->v[g->inputs[i]];
    Shape sh = caller_layout(v->shape, i < 16 ? g->input_batch[i] : 0);
    value_info(&w.graph, 11, g->input_names[i] ? g->input_names[i] : arena_printf("input%d", i), v->dtype, &sh);
  }
  for (int i = 0; i < g->noutputs; i++) {
    const Value *v = &g->v[g->outputs[i]];
    const char *name = g->output_names[i] ? g->output_names[i] : arena_printf("output%d", i);
    int at = i < 16 ? g->output_batch[i] : 0;
    Shape sh = caller_layout(v->shape, at);
    if (at) { /* the batch back to its axis */
      Buf p = {0};
      int64_t perm[NN_MAX_RANK];
      for (int k = 0; k < v->shape.rank; k++) perm[k] = k < at ? k + 1 : k == at ? 0 : k;
      attr_ints(&p, "perm", perm, v->shape.rank);
      node(&w, "Transpose", name, &p, 1, w.name[g->outputs[i]]);
    } else {
      node(&w, "Identity", name, NULL, 1, w.name[g->outputs[i]]);
    }
    value_info(&w.graph, 12, name, v->dtype, &sh);
  }
  str(&w.graph, 2, models->name);
  Buf m = {0}, opset = {0};
  num(&m, 1, 8), str(&m, 2, "nnc"), str(&m, 3, NNC_VERSION);
  str(&opset, 1, ""), num(&opset, 2, 13);
  msg(&m, 8, &opset);
  msg(&m, 7, &w.graph);
  const char *path = o->output;
  char *tmp = arena_printf("%s.nnc-tmp", path);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(m.p, 1, m.n, f) == m.n;
  ok = f && fclose(f) == 0 && ok;
  free(m.p);
  if (ok && rename(tmp, path) == 0) return true;
  fprintf(stderr, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
  remove(tmp);
  return false;
}
