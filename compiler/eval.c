/* eval.c — the naive reference evaluator of the tensor IR.
 *
 * Computes every value of a graph with plain loops, in double, rounding each
 * result to float for f32 values (for + - * / and sqrt this gives exactly
 * the float result). It is the oracle the backends are tested against, the
 * engine of `nnc --check-grad`, and its scalar kernels fold constants. It
 * favours being obviously right over being fast.
 *
 * Random numbers (dropout, initializers) come from the runtime's
 * Philox4x32-10 (runtime/nnrt.c), so a seed gives the same numbers here and
 * in compiled code.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

/* ------------------------------------------------------------ random */

uint64_t nn_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
  return nnrt_rng_u64(seed, stream, counter);
}

double nn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return nnrt_uniform(seed, stream, counter);
}

/* ---------------------------------------------------------- tensors */

static bool exact; /* the Eval being run asked for no rounding to f32 */

static double rnd(DType dt, double x) {
  if (dt == DT_F32 && !exact) return (double)(float)x;
  if (dt == DT_I32) return ir_i32(x);
  return x;
}

static Shape concrete(Shape s, int64_t batch) {
  for (int i = 0; i < s.rank; i++)
    if (s.dim[i] == DIM_BATCH) s.dim[i] = batch;
  return s;
}

static Tensor tensor_new(Shape s) {
  Tensor t = {.shape = s, .n = 1};
  for (int i = 0; i < s.rank; i++) t.n *= s.dim[i];
  t.d = calloc((size_t)(t.n ? t.n : 1), sizeof(double));
  if (!t.d) {
    fprintf(stderr, "nnc: error: out of memory in the reference evaluator\n");
    exit(1);
  }
  return t;
}

static void strides(Shape s, int64_t st[]) {
  int64_t m = 1;
  for (int i = s.rank - 1; i >= 0; i--) {
    st[i] = m;
    m *= s.dim[i];
  }
}

static void unravel(int64_t flat, Shape s, int64_t idx[]) {
  for (int i = s.rank - 1; i >= 0; i--) {
    idx[i] = s.dim[i] ? flat % s.dim[i] : 0;
    flat = s.dim[i] ? flat / s.dim[i] : 0;
  }
}

/* Offset in a tensor of shape `in` broadcast to an index of rank `rank`. */
static int64_t bcast_offset(Shape in, const int64_t idx[], int rank) {
  int64_t st[NN_MAX_RANK], off = 0;
  strides(in, st);
  for (int j = 0; j < in.rank; j++) {
    int64_t i = idx[rank - in.rank + j];
    off += (in.dim[j] == 1 ? 0 : i) * st[j];
  }
  return off;
}

Eval *eval_new(Graph *g, int64_t batch) {
  Eval *e = calloc(1, sizeof *e);
  e->g = g;
  e->batch = batch;
  e->scalars[SC_BATCH] = (double)batch;
  e->scalars[SC_STEP] = 1;
  e->scalars[SC_LR] = g->base_lr;
  e->inputs = calloc((size_t)g->ninputs + 1, sizeof(Tensor));
  e->params = calloc((size_t)g->nparams + 1, sizeof(Tensor));
  e->states = calloc((size_t)g->nstates + 1, sizeof(Tensor));
  e->vals = calloc((size_t)g->n + 1, sizeof(Tensor));
  for (int i = 0; i < g->ninputs; i++)
    e->inputs[i] = tensor_new(concrete(g->v[g->inputs[i]].shape, batch));
  for (int i = 0; i < g->nparams; i++) e->params[i] = tensor_new(g->params[i]->shape);
  for (int i = 0; i < g->nstates; i++) e->states[i] = tensor_new(g->states[i]->shape);
  for (int i = 0; i < g->nlabels; i++) e->labels[i] = tensor_new(concrete(g->v[g->labels[i]].shape, batch));
  return e;
}

void eval_free(Eval *e) {
  if (!e) return;
  for (int i = 0; i < e->g->n; i++) free(e->vals[i].d);
  for (int i = 0; i < e->g->ninputs; i++) free(e->inputs[i].d);
  for (int i = 0; i < e->g->nparams; i++) free(e->params[i].d);
  for (int i = 0; i < e->g->nstates; i++) free(e->states[i].d);
  for (int i = 0; i < e->g->nlabels; i++) free(e->labels[i].d);
  free(e->inputs);
  free(e->params);
  free(e->states);
  free(e->vals);
  free(e->need);
  free(e->pin);
  free(e);
}

/* ------------------------------------------------------- initializers */

/* Fills a parameter tensor from its initializer, as the runtime does;
 * stream distinguishes tensors, so each gets its own numbers from one seed. */
void init_tensor(Tensor *t, const ParamInfo *p, uint64_t seed, uint64_t stream) {
  int init = nnrt_init_from_name(p->init_name);
  if (init < 0) bug("no initializer %s", p->init_name);
  for (int64_t i = 0; i < t->n; i++)
    t->d[i] = rnd(p->dtype, nnrt_init_value((NnrtInit)init, p->init_args, p->shape.dim,
                                             p->shape.rank, seed, stream, (uint64_t)i));
}

void eval_init_params(Eval *e, uint64_t seed) {
  for (int i = 0; i < e->g->nparams; i++) init_tensor(&e->params[i], e->g->params[i], seed, (uint64_t)i);
  for (int i = 0; i < e->g->nstates; i++)
    init_tensor(&e->states[i], e->g->states[i], seed, (uint64_t)(1 << 20) + (uint64_t)i);
}

/* ------------------------------------------------------------- kernels */

/* Ops built on a comparison propagate NaN: a NaN operand gives a NaN
 * result (the first NaN operand), where C's comparisons would give 0 or
 * the other operand. Every other result keeps the plain comparison's bits:
 * relu(-0.0) is +0.0, max(-0.0, +0.0) the first operand. */
double eval_scalar_op(Op op, double a, double b, double c) {
  (void)b, (void)c;
  switch (op) {
#define OP(id, name, arity, cls, attrs, fn, x, doc) \
  case OP_##id:                                 \
    if (op_elementwise(OP_##id)) return x;      \
    break;
#include "ops.h"
#undef OP
  case NUM_OPS: break;
  }
  bug("%s is not a scalar op", op_info[op].name);
}

/* select: a NaN condition is neither true nor false. */
double eval_select(double c, double a, double b) { return eval_scalar_op(OP_SELECT, c, a, b); }

/* Strides of `in` broadcast to a result of rank `rank` (0 where it repeats). */
static void bcast_strides(Shape in, int rank, int64_t bst[]) {
  int64_t st[NN_MAX_RANK];
  strides(in, st);
  for (int d = 0; d < rank; d++) {
    int j = d - (rank - in.rank);
    bst[d] = j < 0 || in.dim[j] == 1 ? 0 : st[j];
  }
}

static void elementwise(Eval *e, const Value *v, Tensor *out) {
  const Tensor *in[3] = {0};
  int r = out->shape.rank, nin = v->nin;
  bool plain = true; /* every operand has the result's shape or is one scalar */
  for (int i = 0; i < nin; i++) {
    in[i] = &e->vals[v->in[i]];
    if (in[i]->n != out->n && in[i]->n != 1) plain = false;
  }
  if (plain) {
    for (int64_t o = 0; o < out->n; o++) {
      double x[3] = {0, 0, 0};
      for (int i = 0; i < nin; i++) x[i] = in[i]->d[in[i]->n == 1 ? 0 : o];
      double res = eval_scalar_op(v->op, x[0], x[1], x[2]);
      out->d[o] = rnd(v->dtype, res);
    }
    return;
  }
  int64_t bst[3][NN_MAX_RANK], off[3] = {0}, idx[NN_MAX_RANK] = {0};
  for (int i = 0; i < nin; i++) bcast_strides(in[i]->shape, r, bst[i]);
  for (int64_t o = 0; o < out->n; o++) {
    double x[3] = {0, 0, 0};
    for (int i = 0; i < nin; i++) x[i] = in[i]->d[off[i]];
    double res = eval_scalar_op(v->op, x[0], x[1], x[2]);
    out->d[o] = rnd(v->dtype, res);
    for (int d = r - 1; d >= 0; d--) { /* next index, offsets kept in step */
      idx[d]++;
      for (int i = 0; i < nin; i++) off[i] += bst[i][d];
      if (idx[d] < out->shape.dim[d]) break;
      for (int i = 0; i < nin; i++) off[i] -= bst[i][d] * idx[d];
      idx[d] = 0;
    }
  }
}

static void reduce(const Value *v, const Tensor *x, Tensor *out) {
  bool drop[NN_MAX_RANK] = {0};
  for (int i = 0; i < v->nattr; i++) drop[v->a[i]] = true;
  bool is_max = v->op == OP_RMAX;
  for (int64_t o = 0; o < out->n; o++) out->d[o] = is_max ? -INFINITY : 0;
  int64_t idx[NN_MAX_RANK], oidx[NN_MAX_RANK], ost[NN_MAX_RANK];
  strides(out->shape, ost);
  for (int64_t i = 0; i < x->n; i++) {
    unravel(i, x->shape, idx);
    int k = 0;
    for (int d = 0; d < x->shape.rank; d++)
      if (!drop[d]) oidx[k++] = idx[d];
    int64_t off = 0;
    for (int d = 0; d < k; d++) off += oidx[d] * ost[d];
    if (is_max) {
      if (NNRT_MORE(x->d[i], out->d[off])) out->d[off] = x->d[i];
    } else {
      out->d[off] += x->d[i];
    }
  }
  for (int64_t o = 0; o < out->n; o++) out->d[o] = rnd(v->dtype, out->d[o]);
}

/* softmax, log-softmax and argmax along one axis: rows of n elements
 * `inner` apart. */
static void along_axis(const Value *v, const Tensor *x, Tensor *out) {
  int ax = (int)v->a[0];
  int64_t outer = 1, n = x->shape.dim[ax], inner = 1;
  for (int i = 0; i < ax; i++) outer *= x->shape.dim[i];
  for (int i = ax + 1; i < x->shape.rank; i++) inner *= x->shape.dim[i];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t in = 0; in < inner; in++) {
      const double *row = x->d + o * n * inner + in;
      double m = -INFINITY, sum = 0;
      int64_t arg = 0;
      for (int64_t j = 0; j < n; j++)
        if (NNRT_MORE(row[j * inner], m)) m = row[j * inner], arg = j;
      if (v->op == OP_ARGMAX) {
        out->d[o * inner + in] = (double)arg;
        continue;
      }
      for (int64_t j = 0; j < n; j++) sum += exp(row[j * inner] - m);
      double *orow = out->d + o * n * inner + in;
      for (int64_t j = 0; j < n; j++) {
        double z = row[j * inner] - m;
        orow[j * inner] = rnd(v->dtype, v->op == OP_SOFTMAX ? exp(z) / sum : z - log(sum));
      }
    }
}

/* matmul, or matmul_sum: each element summed in double over k (and
 * the leading axes), rounded once. */
static void matmul(const Value *v, const Tensor *a, const Tensor *b, Tensor *out) {
  int r = out->shape.rank;
  bool summed = v->op == OP_MATMULSUM;
  int64_t m = out->shape.dim[r - 2], n = out->shape.dim[r - 1], k = a->shape.dim[a->shape.rank - 1];
  Shape lead, la = a->shape, lb = b->shape;
  la.rank -= 2;
  lb.rank -= 2;
  if (!broadcast_shapes(la, lb, &lead)) bug("matmul: leading axes that do not broadcast");
  int64_t nlead = 1, idx[NN_MAX_RANK];
  for (int d = 0; d < lead.rank; d++) nlead *= lead.dim[d];
  double *acc = summed ? calloc((size_t)(m * n) + 1, sizeof(double)) : NULL;
  if (summed && !acc) bug("out of memory");
  for (int64_t l = 0; l < nlead; l++) {
    unravel(l, lead, idx);
    const double *A = a->d + bcast_offset(la, idx, lead.rank) * m * k;
    const double *B = b->d + bcast_offset(lb, idx, lead.rank) * k * n;
    double *C = out->d + l * m * n;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
        if (summed) acc[i * n + j] += s;
        else C[i * n + j] = rnd(v->dtype, s);
      }
  }
  for (int64_t i = 0; summed && i < m * n; i++) out->d[i] = rnd(v->dtype, acc[i]);
  free(acc);
}

static void movement(Eval *e, const Value *v, Tensor *out) {
  const Tensor *x = &e->vals[v->in[0]];
  int64_t idx[NN_MAX_RANK], st[NN_MAX_RANK];
  strides(x->shape, st);
  switch (v->op) {
  case OP_RESHAPE:
    memcpy(out->d, x->d, sizeof(double) * (size_t)x->n);
    return;
  case OP_EXPAND:
    for (int64_t o = 0; o < out->n; o++) {
      unravel(o, out->shape, idx);
      out->d[o] = x->d[bcast_offset(x->shape, idx, out->shape.rank)];
    }
    return;
  case OP_TRANSPOSE:
    for (int64_t o = 0; o < out->n; o++) {
      unravel(o, out->shape, idx);
      int64_t off = 0;
      for (int i = 0; i < v->nattr; i++) off += idx[i] * st[v->a[i]];
      out->d[o] = x->d[off];
    }
    return;
  case OP_SLICE:
  case OP_PAD:
    for (int64_t o = 0; o < out->n; o++) {
      unravel(o, out->shape, idx);
      int ax = (int)v->a[0];
      int64_t j = v->op == OP_SLICE ? idx[ax] + v->a[1] : idx[ax] - v->a[1];
      if (j < 0 || j >= x->shape.dim[ax]) {
        out->d[o] = 0;
        continue;
      }
      idx[ax] = j;
      int64_t off = 0;
      for (int i = 0; i < x->shape.rank; i++) off += idx[i] * st[i];
      out->d[o] = x->d[off];
    }
    return;
  case OP_CONCAT: {
    const Tensor *y = &e->vals[v->in[1]];
    int ax = (int)v->a[0];
    int64_t sy[NN_MAX_RANK];
    strides(y->shape, sy);
    for (int64_t o = 0; o < out->n; o++) {
      unravel(o, out->shape, idx);
      const Tensor *src = x;
      const int64_t *ss = st;
      if (idx[ax] >= x->shape.dim[ax]) idx[ax] -= x->shape.dim[ax], src = y, ss = sy;
      int64_t off = 0;
      for (int i = 0; i < out->shape.rank; i++) off += idx[i] * ss[i];
      out->d[o] = src->d[off];
    }
    return;
  }
  case OP_GATHER: { /* table x[V, D], ids y */
    const Tensor *ids = &e->vals[v->in[1]];
    int64_t V = x->shape.dim[0], D = x->shape.dim[1];
    for (int64_t i = 0; i < ids->n; i++) {
      int64_t row = (int64_t)ids->d[i];
      for (int64_t d = 0; d < D; d++) out->d[i * D + d] = row >= 0 && row < V ? x->d[row * D + d] : 0;
    }
    return;
  }
  case OP_SCATTERADD: { /* ids x, updates y */
    const Tensor *upd = &e->vals[v->in[1]];
    int64_t V = out->shape.dim[0], D = out->shape.dim[1];
    for (int64_t i = 0; i < x->n; i++) {
      int64_t row = (int64_t)x->d[i];
      if (row < 0 || row >= V) continue;
      for (int64_t d = 0; d < D; d++) out->d[row * D + d] += upd->d[i * D + d];
    }
    for (int64_t o = 0; o < out->n; o++) out->d[o] = rnd(v->dtype, out->d[o]);
    return;
  }
  case OP_ONEHOT: {
    int64_t depth = v->a[0];
    for (int64_t i = 0; i < x->n; i++) {
      int64_t c = (int64_t)x->d[i];
      if (c >= 0 && c < depth) out->d[i * depth + c] = 1;
    }
    return;
  }
  default:
    bug("movement op %s", op_info[v->op].name);
  }
}

/* Convolution and its two gradients share one loop nest: for every output
 * position, input position and weight, `fn` accumulates. */
static void conv(const Value *v, const Tensor *X, const Tensor *W, const Tensor *DY, Tensor *out) {
  const int64_t *a = v->a;
  Shape xs = v->op == OP_CONV2DBX ? out->shape : X->shape;
  Shape ws = v->op == OP_CONV2DBW ? out->shape : W->shape;
  Shape ys = v->op == OP_CONV2D ? out->shape : DY->shape;
  int64_t N = xs.dim[0], H = xs.dim[1], Wd = xs.dim[2], C = xs.dim[3];
  int64_t KH = ws.dim[0], KW = ws.dim[1], CG = ws.dim[2], F = ws.dim[3];
  int64_t OH = ys.dim[1], OW = ys.dim[2], G = a[8], FG = F / G;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++)
        for (int64_t f = 0; f < F; f++) {
          int64_t yo = ((n * OH + oh) * OW + ow) * F + f, g = f / FG;
          double acc = 0;
          for (int64_t kh = 0; kh < KH; kh++) {
            int64_t ih = oh * a[0] - a[2] + kh * a[6];
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < KW; kw++) {
              int64_t iw = ow * a[1] - a[3] + kw * a[7];
              if (iw < 0 || iw >= Wd) continue;
              for (int64_t c = 0; c < CG; c++) {
                int64_t xo = ((n * H + ih) * Wd + iw) * C + g * CG + c;
                int64_t wo = ((kh * KW + kw) * CG + c) * F + f;
                if (v->op == OP_CONV2D) acc += X->d[xo] * W->d[wo];
                else if (v->op == OP_CONV2DBX) out->d[xo] += DY->d[yo] * W->d[wo];
                else out->d[wo] += X->d[xo] * DY->d[yo];
              }
            }
          }
          if (v->op == OP_CONV2D) out->d[yo] = acc;
        }
  for (int64_t o = 0; o < out->n; o++) out->d[o] = rnd(v->dtype, out->d[o]);
}

/* A quantized layer (runtime/nnrt.h, nnrt_qlayer_bytes): each row of
 * the column matrix quantized, its integer products summed exactly, then
 * scaled as the runtime scales them; NaN for a row that reads a NaN or an
 * infinity. Rows are x's (qmatmul) or the patches of a convolution's
 * output pixels (qconv2d: padding quantizes to 0). */
int quant_value(double x, float inv, bool *bad) {
  if (!isfinite(x)) {
    *bad = true;
    return 0;
  }
  double t = (float)((float)x * inv);
  t = t > 127 ? 127 : t < -127 ? -127 : t;
  return (int)nearbyint(t);
}

static void quant(const Eval *e, const Value *v, const Tensor *X, Tensor *out) {
  bool conv = v->op == OP_QCONV2D;
  const QLayer *q = &e->g->qlayers[v->a[conv ? 12 : 0]];
  const int64_t *a = v->a;
  int64_t K = q->k, N = q->n, rows = out->n / N;
  int *col = malloc(sizeof(int) * (size_t)K);
  for (int64_t r = 0; r < rows; r++) {
    bool bad = false;
    if (!conv) {
      for (int64_t p = 0; p < K; p++) col[p] = quant_value(X->d[r * K + p], (float)v->f, &bad);
    } else {
      int64_t H = X->shape.dim[1], W = X->shape.dim[2], C = X->shape.dim[3];
      int64_t OH = out->shape.dim[1], OW = out->shape.dim[2], ow = r % OW, oh = r / OW % OH, n = r / (OW * OH);
      for (int64_t kh = 0; kh < a[9]; kh++)
        for (int64_t kw = 0; kw < a[10]; kw++)
          for (int64_t c = 0; c < C; c++) {
            int64_t ih = oh * a[0] - a[2] + kh * a[6], iw = ow * a[1] - a[3] + kw * a[7];
            bool in = ih >= 0 && ih < H && iw >= 0 && iw < W;
            col[(kh * a[10] + kw) * C + c] = in ? quant_value(X->d[((n * H + ih) * W + iw) * C + c], (float)v->f, &bad) : 0;
          }
    }
    for (int64_t j = 0; j < N; j++) {
      int64_t acc = 0;
      for (int64_t p = 0; p < K; p++) acc += (int64_t)col[p] * q->w[p * N + j];
      out->d[r * N + j] = bad ? NAN : (double)((float)(int32_t)acc * q->scale[j]);
    }
  }
  free(col);
}

/* Pooling and its gradients; only cells inside the image count. */
static void pool(const Value *v, const Tensor *x, const Tensor *dy, Tensor *out) {
  const int64_t *a = v->a;
  Shape xs = v->op == OP_AVGPOOLB ? out->shape : x->shape;
  Shape ys = v->op == OP_MAXPOOL || v->op == OP_AVGPOOL ? out->shape : dy->shape;
  int64_t N = xs.dim[0], H = xs.dim[1], W = xs.dim[2], C = xs.dim[3];
  int64_t OH = ys.dim[1], OW = ys.dim[2];
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++)
        for (int64_t c = 0; c < C; c++) {
          int64_t yo = ((n * OH + oh) * OW + ow) * C + c, best = -1, count = 0;
          double m = -INFINITY, sum = 0;
          for (int pass = 0; pass < 2; pass++)
            for (int64_t kh = 0; kh < a[0]; kh++) {
              int64_t ih = oh * a[2] - a[4] + kh * a[8];
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < a[1]; kw++) {
                int64_t iw = ow * a[3] - a[5] + kw * a[9];
                if (iw < 0 || iw >= W) continue;
                int64_t xo = ((n * H + ih) * W + iw) * C + c;
                if (pass == 0) {
                  count++;
                  if (x && NNRT_MORE(x->d[xo], m)) m = x->d[xo], best = xo;
                  if (x) sum += x->d[xo];
                } else if (v->op == OP_AVGPOOLB) {
                  out->d[xo] += dy->d[yo] / (double)count;
                }
              }
            }
          if (v->op == OP_MAXPOOL) out->d[yo] = m;
          else if (v->op == OP_AVGPOOL) out->d[yo] = sum / (double)count;
          else if (v->op == OP_MAXPOOLB && best >= 0) out->d[best] += m != m ? m : dy->d[yo];
        }
  for (int64_t o = 0; o < out->n; o++) out->d[o] = rnd(v->dtype, out->d[o]);
}

static void copy_rounded(Tensor *out, const Tensor *src, DType dt) {
  for (int64_t i = 0; i < out->n; i++) out->d[i] = rnd(dt, src->d[i]);
}

/* Element ranges of a tensor along axis: outer blocks of steps * inner. */
static void around(Shape s, int axis, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < s.rank; d++) {
    if (d < axis) *outer *= s.dim[d];
    if (d > axis) *inner *= s.dim[d];
  }
}

/* step t of `seq` (steps along axis) into `one`, or with back `one` into
 * step t of `seq` */
static void step_copy(Tensor *seq, int axis, int64_t steps, int64_t t, Tensor *one, bool back) {
  int64_t outer, inner;
  around(seq->shape, axis, &outer, &inner);
  for (int64_t o = 0; o < outer; o++) {
    double *s = seq->d + (o * steps + t) * inner, *x = one->d + o * inner;
    memcpy(back ? s : x, back ? x : s, sizeof(double) * (size_t)inner);
  }
}

/* Whether the step staged in be's inputs is skipped: the scan's skip
 * sequence 0 throughout. */
static bool skipped(const Value *v, const Eval *be) {
  if (v->a[6] < 0) return false;
  const Tensor *s = &be->inputs[v->a[4] + v->a[6]];
  for (int64_t i = 0; i < s->n; i++)
    if (s->d[i] != 0) return false;
  return true;
}

/* A scan: its body's evaluator run once a step, its results packed one
 * after another in `out` (scan_out copies its part). */
static void scan(Eval *e, const Value *v, Tensor *out) {
  Graph *g = e->g, *b = g->bodies[v->a[0]];
  int64_t steps = v->a[1];
  int axis = (int)v->a[3], k = (int)v->a[4], m = (int)v->a[5], q = b->noutputs - k, nres = ir_scan_results(g, v);
  Eval *be = eval_new(b, e->batch);
  be->exact = e->exact;
  Tensor *res = calloc((size_t)nres, sizeof *res);
  if (!res) {
    fprintf(stderr, "nnc: error: out of memory in the reference evaluator\n");
    exit(1);
  }
  for (int i = 0; i < nres; i++) {
    DType dt;
    res[i] = tensor_new(concrete(ir_scan_result(g, v, i, &dt), e->batch));
  }
  for (int i = 0; i < v->nin; i++)
    if (i < k || i >= k + m) memcpy(be->inputs[i].d, e->vals[v->in[i]].d, sizeof(double) * (size_t)be->inputs[i].n);
  for (int64_t s = 0; s < steps; s++) {
    int64_t t = v->a[2] ? steps - 1 - s : s;
    for (int i = 0; i < k; i++) step_copy(&res[k + q + i], axis, steps, t, &be->inputs[i], true);
    for (int j = 0; j < m; j++) step_copy(&e->vals[v->in[k + j]], axis, steps, t, &be->inputs[k + j], false);
    if (skipped(v, be)) { /* the carries stay (but for adds); a result that is a carry repeats it, the rest stay 0 */
      for (int j = 0; j < m; j++) {
        int c = ir_scan_adds(v, j);
        for (int64_t i = 0; c >= 0 && i < be->inputs[c].n; i++) be->inputs[c].d[i] += be->inputs[k + j].d[i];
      }
      for (int l = 0, i; l < q; l++)
        if ((i = ir_scan_repeats(b, k, l)) >= 0) step_copy(&res[k + l], axis, steps, t, &be->inputs[i], true);
      continue;
    }
    eval_run(be);
    for (int i = 0; i < k; i++)
      memcpy(be->inputs[i].d, be->vals[b->outputs[i]].d, sizeof(double) * (size_t)be->inputs[i].n);
    for (int l = 0; l < q; l++) step_copy(&res[k + l], axis, steps, t, &be->vals[b->outputs[k + l]], true);
  }
  for (int i = 0; i < k; i++) memcpy(res[i].d, be->inputs[i].d, sizeof(double) * (size_t)res[i].n);
  eval_free(be);
  exact = e->exact; /* the body's run set it */
  int64_t n = 0;
  for (int i = 0; i < nres; i++) n += res[i].n;
  free(out->d);
  *out = tensor_new((Shape){.rank = 1, .dim = {n}});
  for (int i = 0, at = 0; i < nres; at += (int)res[i].n, i++) {
    memcpy(out->d + at, res[i].d, sizeof(double) * (size_t)res[i].n);
    free(res[i].d);
  }
  free(res);
}

/* Result v->a[0] of the scan's packed results. */
static void scan_out(Eval *e, const Value *v, Tensor *out) {
  const Value *sv = &e->g->v[v->in[0]];
  int64_t at = 0;
  for (int i = 0; i < v->a[0]; i++) {
    DType dt;
    Shape s = concrete(ir_scan_result(e->g, sv, i, &dt), e->batch);
    int64_t n = 1;
    for (int d = 0; d < s.rank; d++) n *= s.dim[d];
    at += n;
  }
  memcpy(out->d, e->vals[v->in[0]].d + at, sizeof(double) * (size_t)out->n);
}

void eval_run(Eval *e) { eval_run_for(e, -1); }

/* Computes the values `target` depends on (every value when target < 0). */
void eval_run_for(Eval *e, int target) {
  Graph *g = e->g;
  exact = e->exact;
  if (target >= 0 && e->need_target != target + 1) {
    free(e->need);
    e->need = calloc((size_t)g->n + 1, sizeof(bool));
    e->need[target] = true;
    for (int id = target; id >= 0; id--)
      if (e->need[id])
        for (int i = 0; i < g->v[id].nin; i++) e->need[g->v[id].in[i]] = true;
    e->need_target = target + 1;
  }
  for (int id = 0; id < g->n; id++) {
    if (target >= 0 && !e->need[id]) continue;
    const Value *v = &g->v[id];
    Tensor *out = &e->vals[id];
    free(out->d);
    *out = tensor_new(concrete(v->shape, e->batch));
    const Tensor *x = v->nin > 0 ? &e->vals[v->in[0]] : NULL;
    const Tensor *y = v->nin > 1 ? &e->vals[v->in[1]] : NULL;
    switch (op_info[v->op].cls) {
    case CL_LEAF:
      switch (v->op) {
      /* the caller's numbers, as the leaf's type holds them */
      case OP_INPUT: copy_rounded(out, &e->inputs[v->a[0]], v->dtype); break;
      case OP_LABEL: copy_rounded(out, &e->labels[v->a[0]], v->dtype); break;
      case OP_PARAM: copy_rounded(out, &e->params[v->a[0]], v->dtype); break;
      case OP_STATE: copy_rounded(out, &e->states[v->a[0]], v->dtype); break;
      case OP_SCALAR: out->d[0] = rnd(v->dtype, e->scalars[v->a[0]]); break;
      case OP_CONST:
        for (int64_t i = 0; i < out->n; i++) out->d[i] = rnd(v->dtype, v->f);
        break;
      case OP_IOTA: {
        int64_t inner = 1, ax = v->a[0];
        for (int d = (int)ax + 1; d < out->shape.rank; d++) inner *= out->shape.dim[d];
        for (int64_t i = 0; i < out->n; i++) out->d[i] = (double)(i / inner % out->shape.dim[ax]);
        break;
      }
      case OP_DROPMASK: {
        uint64_t seed = (uint64_t)x->d[0], step = (uint64_t)y->d[0];
        uint64_t stream = ((uint64_t)v->a[0] << 44) ^ step;
        for (int64_t i = 0; i < out->n; i++)
          out->d[i] = nn_rng_uniform(seed, stream, (uint64_t)i) >= v->f ? rnd(v->dtype, 1 / (1 - v->f)) : 0;
        break;
      }
      default: bug("leaf %s", op_info[v->op].name);
      }
      break;
    case CL_UNARY:
    case CL_BINARY:
    case CL_TERNARY:
      elementwise(e, v, out);
      break;
    case CL_REDUCE:
      if (v->op == OP_SUM || v->op == OP_RMAX) reduce(v, x, out);
      else along_axis(v, x, out);
      break;
    case CL_CONTRACT: matmul(v, x, y, out); break;
    case CL_MOVE: movement(e, v, out); break;
    case CL_WINDOW:
      switch (v->op) {
      case OP_CONV2D: conv(v, x, y, NULL, out); break;
      case OP_CONV2DBX: conv(v, NULL, y, x, out); break;
      case OP_CONV2DBW: conv(v, x, NULL, y, out); break;
      case OP_MAXPOOL: case OP_AVGPOOL: pool(v, x, NULL, out); break;
      case OP_MAXPOOLB: pool(v, x, y, out); break;
      case OP_AVGPOOLB: pool(v, NULL, x, out); break;
      case OP_QMATMUL: case OP_QCONV2D: quant(e, v, x, out); break;
      default: bug("window op %s", op_info[v->op].name);
      }
      break;
    case CL_SCAN:
      if (v->op == OP_SCAN) scan(e, v, out);
      else scan_out(e, v, out);
      break;
    }
    if (e->pin && e->pin[id]) memcpy(out->d, e->pin[id], sizeof(double) * (size_t)out->n);
  }
}

/* Element j of the graph's update i as eval_apply_updates stores it. */
double eval_updated(const Eval *e, int i, int64_t j) {
  const Update u = e->g->updates[i];
  double x = e->vals[u.value].d[j];
  /* stored as the runtime stores them */
  return e->g->v[u.value].dtype == DT_F32 && !e->exact ? nnrt_flush_f32((float)x) : x;
}

void eval_apply_updates(Eval *e) {
  Graph *g = e->g;
  for (int i = 0; i < g->nupdates; i++) {
    Update u = g->updates[i];
    Tensor *dst = u.state ? &e->states[u.index] : &e->params[u.index];
    for (int64_t j = 0; j < dst->n; j++) dst->d[j] = eval_updated(e, i, j);
  }
}

void eval_pin(Eval *e, int id, const double *d) {
  if (!e->pin && !(e->pin = calloc((size_t)e->g->n + 1, sizeof *e->pin))) {
    fprintf(stderr, "nnc: error: out of memory in the reference evaluator\n");
    exit(1);
  }
  e->pin[id] = d;
}
