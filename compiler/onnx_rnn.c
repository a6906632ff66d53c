/* onnx_rnn.c — ONNX's recurrent ops (LSTM, GRU, RNN) and the values whose
 * batch is not at their first axis (onnx.c drives it).
 *
 * ONNX's recurrent ops are time-major: X is [T, N, F] (layout 0) and Y
 * [T, D, N, H]. nnc holds every value batch first, so a value records the
 * axis its batch has in the ONNX view (OnnxVal.bax) while its .nn tensor
 * keeps it first: X [T, N, F] is the .nn [N, T, F] the layers read, and a
 * Transpose that swaps the batch with time (PyTorch's batch_first export)
 * is no statement at all. Transpose, Squeeze, Unsqueeze, Gather, Identity
 * and the recurrent ops read such values; any other op refuses them. A
 * graph input fed to a recurrent op's X is declared `input x: [T, N, F]`,
 * so the caller gives ONNX's time-major arrays.
 *
 * An LSTM, GRU or RNN of D directions is D nnc layers (lstm, gru with
 * reset_after for linear_before_reset, simple_rnn), one a direction, with
 * ONNX's weights converted: W [D, G H, F] -> [F, G H], R -> U [H, G H], the
 * LSTM's gates i, o, f, c reordered to i, f, g, o, and the two biases
 * summed (kept apart as b and rb for linear_before_reset).
 */
#include <string.h>
#include "nnc.h"

/* The .nn axis of ONNX axis a (not the batch's) of a value whose batch is
 * at ONNX axis bax. */
static int nn_axis(int bax, int64_t a) { return a < bax ? (int)a + 1 : (int)a; }

/* The ONNX view of runtime value x: its dims, the batch DIM_BATCH at its
 * axis; a batch merged with the axes beside it (mlo, mhi: PyTorch's
 * attention reshapes [T, N, D] to [T, N * heads, D / heads]) is one axis,
 * *times their sizes' product. */
int ox_view(const OnnxVal *x, int64_t *od, int64_t *times) {
  Shape s = caller_layout(x->sh, x->bax);
  int k = 0;
  *times = 1;
  for (int i = 0; i < s.rank; i++)
    if ((x->mlo && i == x->bax - 1) || (x->mhi && i == x->bax + 1)) *times *= s.dim[i];
    else od[k++] = s.dim[i];
  return k;
}

static int view(const OnnxVal *x, int64_t *od) {
  int64_t times;
  return ox_view(x, od, &times);
}

/* Output 0 as the expanded ONNX dims od (the batch DIM_BATCH between the
 * axes it merges with, mlo and mhi): the .nn expression expr, or x itself
 * when expr is NULL. */
static bool out_merged(OnnxTr *t, OnnxVal *x, const int64_t *od, int rank, bool mlo, bool mhi, const char *expr) {
  OnnxVal *v = arena_alloc(sizeof *v);
  int bax = 0;
  for (int i = 0; i < rank; i++)
    if (od[i] == DIM_BATCH) bax = i;
  Shape sh = {.rank = rank, .dim = {DIM_BATCH}};
  for (int i = 0, k = 1; i < rank; i++)
    if (i != bax) sh.dim[k++] = od[i];
  if (!expr) {
    *v = *x;
    map_put(t->vals, t->node->out[0], v);
  } else {
    v = ox_out(t, 0, x->dt, sh, expr);
  }
  v->sh = sh, v->bax = bax, v->mlo = mlo, v->mhi = mhi;
  return true;
}

/* Output 0 as the ONNX dims od (the batch at bax). */
static bool out_view(OnnxTr *t, OnnxVal *x, const int64_t *od, int rank, const char *expr) {
  return out_merged(t, x, od, rank, false, false, expr);
}

/* "reshape(x, sample dims)" for the ONNX dims od, or NULL when x's .nn
 * shape is already that. */
static const char *reshaped(OnnxTr *t, OnnxVal *x, const int64_t *od, int rank) {
  int64_t s[NN_MAX_RANK];
  int k = 0;
  for (int i = 0; i < rank; i++)
    if (od[i] != DIM_BATCH) s[k++] = od[i];
  bool same = k == x->sh.rank - 1;
  for (int i = 0; same && i < k; i++) same = s[i] == x->sh.dim[i + 1];
  return same ? NULL : arena_printf("reshape(%s, %s)", ox_use(t, x, false), ox_ints_str(s, k));
}

/* A Transpose of a moved value: the batch's merged axes move with it. */
static bool moved_transpose(OnnxTr *t, OnnxVal *x) {
  int64_t od[NN_MAX_RANK], perm[NN_MAX_RANK], ep[NN_MAX_RANK], o[NN_MAX_RANK], p[NN_MAX_RANK];
  int r = view(x, od), cb = x->bax - x->mlo, k = 0;
  Shape e = caller_layout(x->sh, x->bax); /* expanded: the merged axes apart */
  const OnnxAttr *a = ox_attr(t, "perm");
  if (a && a->nints != r) return ox_fail(t, "perm has %d entries for rank %d", a->nints, r);
  bool seen[NN_MAX_RANK] = {0};
  for (int i = 0; i < r; i++) {
    perm[i] = a ? a->ints[i] : r - 1 - i;
    if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]) return ox_fail(t, "perm is not a permutation");
    seen[perm[i]] = true;
    if (perm[i] < cb) ep[k++] = perm[i];
    else if (perm[i] > cb) ep[k++] = perm[i] + x->mlo + x->mhi;
    else for (int j = cb; j <= x->bax + x->mhi; j++) ep[k++] = j;
  }
  bool same = true;
  p[0] = 0;
  for (int i = 0, j = 1; i < e.rank; i++) {
    o[i] = e.dim[ep[i]];
    if (ep[i] != x->bax) p[j] = nn_axis(x->bax, ep[i]), same &= p[j] == j, j++;
  }
  return out_merged(t, x, o, e.rank, x->mlo, x->mhi,
                    same ? NULL : arena_printf("transpose(%s, %s)", ox_use(t, x, false), ox_ints_str(p, e.rank)));
}

static bool moved_squeeze(OnnxTr *t, OnnxVal *x, bool squeeze) {
  int64_t od[NN_MAX_RANK], axes[NN_MAX_RANK], o[NN_MAX_RANK];
  int r = view(x, od), n, k = 0;
  bool given, mark[NN_MAX_RANK] = {0};
  if (!ox_axes(t, 1, axes, &n, &given)) return false;
  int nr = squeeze ? r : r + n;
  if (nr > NN_MAX_RANK) return ox_fail(t, "rank %d is more than %d", nr, NN_MAX_RANK);
  for (int j = 0; j < n; j++) {
    int64_t a = axes[j] < 0 ? axes[j] + nr : axes[j];
    if (a < 0 || a >= nr || mark[a]) return ox_fail(t, "axis %lld is out of range or repeated", (long long)axes[j]);
    mark[a] = true;
  }
  for (int i = 0; squeeze && !given && i < r; i++) mark[i] = od[i] == 1;
  if (squeeze) {
    for (int i = 0; i < r; i++) {
      if (mark[i] && od[i] != 1) return ox_fail(t, "axis %d has size %s, not 1", i, od[i] == DIM_BATCH ? "N (the batch)" : "> 1");
      if (!mark[i]) o[k++] = od[i];
    }
  } else {
    for (int i = 0, j = 0; i < nr; i++) o[k++] = mark[i] ? 1 : od[j++];
  }
  return out_view(t, x, o, k, reshaped(t, x, o, k));
}

/* Gather of one constant index along an axis other than the batch's. */
static bool moved_gather(OnnxTr *t, OnnxVal *x) {
  OnnxVal *idx = ox_need(t, 1);
  if (!idx) return false;
  if (!idx->k || idx->k->f || idx->k->count != 1 || idx->k->rank > 1)
    return ox_fail(t, "a Gather of a time-major tensor takes one constant index");
  int64_t od[NN_MAX_RANK], o[NN_MAX_RANK];
  int r = view(x, od), k = 0;
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_fail(t, "axis %lld is out of range", (long long)a);
  if (a == x->bax) return ox_fail(t, "a Gather along the batch axis is not supported");
  int64_t n = od[a], i = idx->k->i[0] < 0 ? idx->k->i[0] + n : idx->k->i[0];
  if (i < 0 || i >= n) return ox_fail(t, "index %lld is out of range for size %lld", (long long)idx->k->i[0], (long long)n);
  for (int d = 0; d < r; d++)
    if (d != a || idx->k->rank) o[k++] = d == a ? 1 : od[d];
  const char *sl = arena_printf("slice(%s, axis: %d, start: %lld, end: %lld)", ox_use(t, x, false), nn_axis(x->bax, a),
                                (long long)i, (long long)i + 1);
  int64_t s[NN_MAX_RANK];
  int m = 0;
  for (int d = 0; d < k; d++)
    if (o[d] != DIM_BATCH) s[m++] = o[d];
  return out_view(t, x, o, k, arena_printf("reshape(%s, %s)", sl, ox_ints_str(s, m)));
}

/* Reshape keeping the elements before the batch: in .nn a reshape of the
 * sample ([N, A..., B...] to [N, A'..., B'...]). */
/* A Reshape of a moved value, or one that merges the batch with other
 * axes ([N, T, D] to [N * T, D], a target "c times the batch" of shape
 * folding): the elements before the batch and after it keep their
 * order, so it is a .nn reshape of the sample when the target splits the
 * sample's elements at the batch where the value does. */
static bool moved_reshape(OnnxTr *t, OnnxVal *x) {
  OnnxTensor *s = ox_konst(t, 1, "the shape");
  if (!s) return false;
  if (s->f || s->rank != 1 || s->count > NN_MAX_RANK) return ox_fail(t, "the shape must be a list of integers");
  int64_t od[NN_MAX_RANK], o[NN_MAX_RANK], e[NN_MAX_RANK], known = 1, times, c = 0, before = 1, after = 1;
  int r = ox_view(x, od, &times), k = (int)s->count, bax = -1, infer = -1;
  Shape ex = caller_layout(x->sh, x->bax);
  int64_t had = 1, rest = 1; /* the sample's elements before the batch and after it */
  for (int i = 0; i < ex.rank; i++)
    if (i < x->bax) had *= ex.dim[i];
    else if (i > x->bax) rest *= ex.dim[i];
  int64_t total = had * rest;
  bool allowzero = ox_attr_i(t, "allowzero", 0);
  for (int i = 0; i < k; i++) {
    int64_t d = s->i[i], ci = nsym_times(d); /* -1 (to infer) is DIM_BATCH: told apart first */
    if (d == 0 && !allowzero && i < r) d = od[i], ci = d == DIM_BATCH ? times : 0;
    if (ci) {
      if (bax >= 0) return ox_fail(t, "the batch appears twice in the shape");
      bax = i, c = ci, d = 1;
    } else if (d == -1) {
      if (infer >= 0) return ox_fail(t, "two -1 in the shape");
      infer = i;
    } else if (d < 1 || d > total || (known *= d) > total) {
      return ox_fail(t, "dimension %lld in the shape does not fit the sample's %lld elements", (long long)d, (long long)total);
    }
    o[i] = d;
  }
  if (bax < 0 && infer >= 0 && known >= 1 && total % known == 0 && x->bax == 0 && !x->mlo && !x->mhi)
    bax = infer, c = total / known, o[bax] = 1, infer = -1; /* -1 takes the batch and more */
  if (bax < 0) return ox_fail(t, "a reshape that drops the batch axis is not supported");
  known *= c;
  if (infer >= 0 && (known < 1 || total % known)) return ox_fail(t, "the shape does not divide the %lld elements a sample", (long long)total);
  if (infer >= 0) o[infer] = total / known;
  for (int i = 0; i < k; i++)
    if (i < bax) before *= o[i];
    else if (i > bax) after *= o[i];
  if (before * c * after != total || had % before || rest % after || (had / before) * (rest / after) != c)
    return ox_fail(t, "a reshape that moves elements across the batch axis is not supported");
  int64_t lo = had / before, hi = rest / after; /* the axes the batch merges with */
  int n = 0;
  for (int i = 0; i < k; i++) {
    if (i != bax) e[n++] = o[i];
    else {
      if (lo > 1) e[n++] = lo;
      e[n++] = DIM_BATCH;
      if (hi > 1) e[n++] = hi;
    }
  }
  if (n > NN_MAX_RANK) return ox_fail(t, "rank %d is more than %d", n, NN_MAX_RANK);
  return out_merged(t, x, e, n, lo > 1, hi > 1, reshaped(t, x, e, n));
}

/* Ops that read only a moved value's last axes (the batch and the axes
 * before the last one or two pass through): run on the .nn tensors as if
 * batch first, the result in the first moved input's view. */
static bool trailing_op(const char *op) {
  static const char *const ops[] = {"MatMul", "Gemm", "Softmax", "LogSoftmax", "Add", "Sub", "Mul", "Div", "Relu",
                                    "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Erf", "Neg", "Abs", "Reciprocal", "Pow"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i])) return true;
  return false;
}

static bool moved_trailing(OnnxTr *t) {
  const OnnxNode *n = t->node;
  OnnxVal *ref = NULL, *in[8] = {0};
  int64_t od[NN_MAX_RANK];
  if (n->nin > 8) return ox_fail(t, "too many inputs");
  for (int i = 0; i < n->nin; i++) {
    in[i] = *n->in[i] ? map_get(t->vals, n->in[i]) : NULL;
    if (in[i] && !in[i]->k && (in[i]->bax || in[i]->mlo || in[i]->mhi) && !ref) ref = in[i];
  }
  int r = view(ref, od), cb = ref->bax - ref->mlo, last = r - 1 - cb; /* the plain axes after the batch */
  const char *what = ref->mlo || ref->mhi ? "a tensor whose batch is merged with another axis" : "a time-major tensor";
  bool product = !strcmp(n->op, "MatMul") || !strcmp(n->op, "Gemm");
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = in[i];
    if (!v) continue;
    if (v->fill) return ox_fail(t, "a constant as large as the batch beside %s is not supported", what);
    bool ok = true; /* a constant: 1 where it meets the batch's axis or those before it */
    for (int j = 0; v->k && !product && j < v->k->rank - last; j++) ok &= v->k->dims[j] == 1;
    if (v->k ? !ok || v->k->rank > r || (product && i == 0)
             : v->bax != ref->bax || v->mlo != ref->mlo || v->mhi != ref->mhi || v->sh.rank != ref->sh.rank ||
                   memcmp(v->sh.dim, ref->sh.dim, sizeof(int64_t) * (size_t)(ref->bax + ref->mhi + 1)))
      return ox_fail(t, "%s of %s and a tensor of another layout is not supported", n->op, what);
  }
  if (last < (product && in[1] && !in[1]->k ? 2 : 1))
    return ox_fail(t, "%s along the batch axis of %s is not supported", n->op, what);
  if ((!strcmp(n->op, "Softmax") || !strcmp(n->op, "LogSoftmax")) &&
      (t->m->opset < 13 || ox_attr_i(t, "axis", -1) >= 0))
    return ox_fail(t, "%s of %s along an axis other than -1 (opset 13) is not supported", n->op, what);
  if (!strcmp(n->op, "Gemm") && ox_attr_i(t, "transA", 0)) return ox_fail(t, "transA of %s is not supported", what);
  OnnxVal *plain = arena_alloc(sizeof *plain * 8);
  for (int i = 0; i < n->nin; i++)
    if (in[i] && !in[i]->k) {
      plain[i] = *in[i], plain[i].bax = 0, plain[i].mlo = plain[i].mhi = false;
      map_put(t->vals, n->in[i], &plain[i]);
    }
  t->trailing = true;
  bool ok = onnx_plain_node(t);
  t->trailing = false;
  for (int i = 0; i < n->nin; i++)
    if (in[i] && !in[i]->k) map_put(t->vals, n->in[i], in[i]);
  OnnxVal *y = ok ? map_get(t->vals, n->out[0]) : NULL;
  if (!y) return false;
  if (y->sh.rank != ref->sh.rank || memcmp(y->sh.dim, ref->sh.dim, sizeof(int64_t) * (size_t)(ref->bax + ref->mhi + 1)))
    return ox_fail(t, "%s of a time-major tensor changes its leading axes: not supported", n->op);
  y->bax = ref->bax, y->mlo = ref->mlo, y->mhi = ref->mhi;
  return true;
}

/* Whether the node is a Reshape of a batch-first value x to a shape with
 * c > 1 times the batch: a folded c·N, or a -1 that takes more than the
 * batch (x.reshape(-1, D) of [N, T, D]). */
static bool merging_reshape(OnnxTr *t, const OnnxVal *x) {
  if (strcmp(t->node->op, "Reshape") || t->node->nin < 2) return false;
  OnnxVal *s = map_get(t->vals, t->node->in[1]);
  if (!s || !s->k || s->k->f || s->k->count > NN_MAX_RANK) return false;
  int64_t per, known = 1;
  bool batch = false, infer = false;
  ox_elems(x->sh, 1, &per);
  for (int i = 0; i < (int)s->k->count; i++) {
    int64_t d = s->k->i[i];
    if (d == 0 && !ox_attr_i(t, "allowzero", 0)) d = i < x->sh.rank ? (i ? x->sh.dim[i] : NSYM) : 1;
    if (nsym_times(d) > 1 || (nsym_times(d) && i > 0)) return true; /* merged, or moved: [T, N, D] */
    if (nsym_times(d) == 1) batch = true;
    else if (d == -1) infer = true;
    else if (d < 1 || d > per || (known *= d) > per) return false;
  }
  return !batch && infer && known != per && per % known == 0;
}

/* Slice along axes other than the batch's, with steps of 1: of a
 * time-major value (the layers' initial states cut from one input), or of
 * a uniform constant as large as the batch (one again, smaller). */
static bool moved_slice(OnnxTr *t, OnnxVal *x) {
  if (t->m->opset < 10) return ox_fail(t, "a Slice of this tensor needs opset 10 or later");
  OnnxTensor *st = ox_konst(t, 1, "starts"), *en = ox_konst(t, 2, "ends");
  OnnxTensor *ax = ox_in(t, 3) ? ox_konst(t, 3, "axes") : NULL, *sp = ox_in(t, 4) ? ox_konst(t, 4, "steps") : NULL;
  if (!st || !en || t->failed) return false;
  int64_t od[NN_MAX_RANK];
  int r = view(x, od);
  if (st->f || en->f || st->count != en->count || (ax && (ax->f || ax->count != st->count)) ||
      (sp && (sp->f || sp->count != st->count)))
    return ox_fail(t, "starts, ends, axes and steps must be integers, one an axis");
  const char *e = x->fill ? NULL : ox_use(t, x, false);
  for (int64_t i = 0; i < st->count; i++) {
    int64_t a = ax ? ax->i[i] : i;
    if (a < 0) a += r;
    if (a < 0 || a >= r || a == x->bax || (sp && sp->i[i] != 1))
      return ox_fail(t, "a Slice of a tensor whose batch is not its first axis, or of a constant as large as the batch, "
                        "along the batch or with a step other than 1 is not supported");
    int64_t n = od[a], b = st->i[i] < 0 ? st->i[i] + n : st->i[i], f = en->i[i] < 0 ? en->i[i] + n : en->i[i];
    b = b < 0 ? 0 : b > n ? n : b, f = f < 0 ? 0 : f > n ? n : f;
    if (f <= b) return ox_fail(t, "an empty slice is not supported");
    if (b == 0 && f == n) continue;
    if (e) e = arena_printf("slice(%s, axis: %d, start: %lld, end: %lld)", e, nn_axis(x->bax, a), (long long)b, (long long)f);
    od[a] = f - b;
  }
  if (!x->fill) return out_view(t, x, od, r, e == x->nn ? NULL : e);
  for (int64_t j = 1; j < x->bk->count; j++)
    if (ox_kget(x->bk, j) != ox_kget(x->bk, 0)) return ox_fail(t, "a slice of a broadcast constant that varies is not supported");
  od[x->bax] = 1;
  OnnxTensor *k = ox_new_const(x->bk->type, r, od);
  for (int64_t j = 0; j < k->count; j++) {
    if (k->f) k->f[j] = x->bk->f[0];
    else k->i[j] = x->bk->i[0];
  }
  return ox_out_bcast(t, k, x->bax);
}

/* Concat of computed values with their batch at the same axis, along another. */
static bool moved_concat(OnnxTr *t, OnnxVal *x) {
  int64_t od[NN_MAX_RANK], o[NN_MAX_RANK];
  int r = view(x, od);
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r || a == x->bax) return ox_fail(t, "axis %lld is out of range or the batch's", (long long)a);
  memcpy(o, od, sizeof o);
  o[a] = 0;
  char *args = arena_strdup("");
  for (int i = 0; i < t->node->nin; i++) {
    OnnxVal *v = ox_need(t, i);
    if (!v) return false;
    int64_t vd[NN_MAX_RANK];
    bool same = !v->k && !v->fill && v->bax == x->bax && view(v, vd) == r;
    for (int d = 0; same && d < r; d++) same = d == a || vd[d] == od[d];
    if (!same) return ox_fail(t, "the inputs of a Concat of time-major tensors must be computed, of the same shape off the axis");
    o[a] += vd[a];
    args = arena_printf("%s%s, ", args, ox_use(t, v, false));
  }
  return out_view(t, x, o, r, arena_printf("concat(%saxis: %d)", args, nn_axis(x->bax, a)));
}

bool ox_out_bcast(OnnxTr *t, OnnxTensor *k, int bax) {
  OnnxVal *v = arena_alloc(sizeof *v);
  v->fill = true, v->bk = k, v->bax = bax, v->dt = ox_dtype(k->type);
  v->sh.rank = k->rank, v->sh.dim[0] = DIM_BATCH;
  for (int i = 0, j = 1; i < k->rank; i++)
    if (i != bax) v->sh.dim[j++] = k->dims[i];
  map_put(t->vals, t->node->out[0], v);
  return true;
}

/* An elementwise op of a broadcast constant and computed batched values:
 * the op of the plain constant (the batch's axis of size 1), which
 * broadcasts the same. */
static bool fill_elementwise(OnnxTr *t) {
  const OnnxNode *n = t->node;
  OnnxVal *saved[8] = {0};
  bool computed = false;
  if (n->nin > 8) return ox_fail(t, "too many inputs");
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = *n->in[i] ? map_get(t->vals, n->in[i]) : NULL;
    computed |= v && !v->k && !v->fill && v->bax == 0;
  }
  if (!computed)
    return ox_fail(t, "%s of constants as large as the batch alone is not supported yet", n->op);
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = *n->in[i] ? map_get(t->vals, n->in[i]) : NULL;
    if (v && v->fill) saved[i] = v, map_put(t->vals, n->in[i], ox_tv_const(v->bk));
  }
  bool ok = onnx_plain_node(t);
  for (int i = 0; i < n->nin; i++)
    if (saved[i]) map_put(t->vals, n->in[i], saved[i]);
  return ok;
}

/* Concat of computed batched values and broadcast constants (a class
 * token before the sequence): each constant written as a slice of a
 * computed input times 0 plus the constant, so it has the batch. */
static bool fill_concat(OnnxTr *t) {
  const OnnxNode *n = t->node;
  OnnxVal *like = NULL;
  for (int i = 0; i < n->nin && !like; i++) {
    OnnxVal *v = ox_need(t, i);
    if (!v) return false;
    if (!v->k && !v->fill && v->bax == 0) like = v;
  }
  if (!like) return ox_fail(t, "a Concat of constants as large as the batch alone is not supported yet");
  int r = like->sh.rank;
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a <= 0 || a >= r) return ox_fail(t, "axis %lld is out of range or the batch's", (long long)a);
  Shape sh = like->sh;
  sh.dim[a] = 0;
  char *args = arena_strdup("");
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = ox_need(t, i);
    const char *e;
    if (!v) return false;
    if (v->k || v->bax || v->sh.rank != r || v->dt != like->dt)
      return ox_fail(t, "the inputs must be batched tensors of one type and rank, the batch first");
    for (int d = 1; d < r; d++)
      if (d != a && v->sh.dim[d] != like->sh.dim[d]) return ox_fail(t, "the inputs' shapes differ off the axis");
    if (v->fill) {
      if (v->sh.dim[a] > like->sh.dim[a]) return ox_fail(t, "a broadcast constant longer than the tensor beside it");
      if (!v->bk->f) return ox_fail(t, "an integer constant tensor used as a tensor of the model: not supported yet");
      OnnxTensor *k = ox_new_const(v->bk->type, r - 1, v->sh.dim + 1); /* its values without the batch's 1 */
      k->name = n->in[i];
      for (int64_t j = 0; j < k->count; j++) k->f[j] = v->bk->f[j];
      e = arena_printf("slice(%s, axis: %lld, start: 0, end: %lld) * 0.0 + %s", ox_use(t, like, false), (long long)a,
                       (long long)v->sh.dim[a], ox_use(t, ox_tv_const(k), false));
    } else {
      e = ox_use(t, v, false);
    }
    args = arena_printf("%s%s, ", args, e);
    sh.dim[a] += v->sh.dim[a];
  }
  return ox_out(t, 0, like->dt, sh, arena_printf("concat(%saxis: %lld)", args, (long long)a)), true;
}

/* A node with an input whose batch is moved (or a constant as large as
 * the batch): -1 when it has none, else whether it translated. */
int onnx_moved_node(OnnxTr *t) {
  const OnnxNode *n = t->node;
  const char *op = n->op;
  bool moved = false, fill = false, merged = false;
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = *n->in[i] ? map_get(t->vals, n->in[i]) : NULL;
    if (v) moved |= v->bax != 0 || v->mlo || v->mhi, fill |= v->fill, merged |= v->mlo || v->mhi;
  }
  OnnxVal *first = n->nin && *n->in[0] ? map_get(t->vals, n->in[0]) : NULL;
  const OnnxAttr *perm = ox_attr(t, "perm");
  if (!strcmp(op, "Transpose") && !t->off && first && !first->k && !first->fill && perm && perm->nints && perm->ints[0])
    return moved_transpose(t, first); /* a transpose that moves the batch: PyTorch's batch_first */
  if (!strcmp(op, "Unsqueeze") && !t->off && first && !first->k && !first->fill && !first->bax) {
    int64_t axes[NN_MAX_RANK];
    int na;
    bool given, lead = false;
    if (!ox_axes(t, 1, axes, &na, &given)) return 0;
    for (int i = 0; i < na; i++) lead |= axes[i] == 0 || axes[i] == -(int64_t)(first->sh.rank + na);
    if (lead) return moved_squeeze(t, first, false); /* a state [1, N, u] for a recurrent node */
  }
  if (!t->off && first && !first->k && !first->fill && !first->bax && !first->mlo && !first->mhi &&
      merging_reshape(t, first))
    return moved_reshape(t, first);
  if (merged && strcmp(op, "Transpose") && strcmp(op, "Reshape") && strcmp(op, "Shape") && strcmp(op, "Identity") &&
      !trailing_op(op))
    return ox_fail(t, "%s of a tensor whose batch is merged with another axis is not supported; Transpose, Reshape, "
                      "Shape, MatMul, Gemm, Softmax and elementwise ops take one", op);
  if ((!moved && !fill) || !strcmp(op, "LSTM") || !strcmp(op, "GRU") || !strcmp(op, "RNN") ||
      (!fill && !strcmp(op, "Shape")))
    return -1;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return 0;
  if (x->fill && !strcmp(op, "Slice")) return moved_slice(t, x);
  if (fill && !moved && !strcmp(op, "Concat")) return fill_concat(t);
  if (fill && !moved && (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")))
    return fill_elementwise(t);
  if (fill) return ox_fail(t, "a constant whose size is the batch's is not supported yet (here as input of %s)", op);
  if (!strcmp(op, "Reshape")) return moved_reshape(t, x);
  if (x->bax && !strcmp(op, "Concat")) return moved_concat(t, x);
  if (x->bax && !strcmp(op, "Slice")) return moved_slice(t, x);
  if (!strcmp(op, "Transpose")) return moved_transpose(t, x);
  if (trailing_op(op)) return moved_trailing(t);
  if (x->bax && (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze"))) return moved_squeeze(t, x, op[0] == 'S');
  if (x->bax && !strcmp(op, "Gather")) return moved_gather(t, x);
  if (x->bax && !strcmp(op, "Identity")) {
    int64_t od[NN_MAX_RANK];
    int r = view(x, od);
    return out_view(t, x, od, r, NULL);
  }
  /* after a recurrent op the time-major value is its output (--batch does not help); else a Transpose moved
   * the batch, which "batch axis" in the message points to --batch for */
  bool recurrent = false;
  for (int i = 0; i < t->m->graph.nnodes; i++) {
    const char *o = t->m->graph.nodes[i].op;
    recurrent |= !strcmp(o, "LSTM") || !strcmp(o, "GRU") || !strcmp(o, "RNN");
  }
  return ox_fail(t, "%s of a tensor whose %s is not its first (time-major) is not supported yet; Transpose, "
                    "Reshape, Concat, Slice, Squeeze, Unsqueeze, Gather and the recurrent ops take one", op,
                 recurrent ? "batch" : "batch axis");
}

/* ------------------------------------------------------- recurrent ops */

/* Whether the graph reads ONNX value `name` (a node's input or an output). */
static bool used(const OnnxTr *t, const char *name) {
  const OnnxGraph *g = &t->m->graph;
  if (!*name) return false;
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i].nin; j++)
      if (!strcmp(g->nodes[i].in[j], name)) return true;
  for (int i = 0; i < g->noutputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return true;
  return false;
}

/* Whether every value of k is 0. */
static bool zeros(const OnnxTensor *k) {
  for (int64_t i = 0; i < k->count; i++)
    if (ox_kget(k, i) != 0) return false;
  return true;
}

/* The initial state input i ([D, N, H], the batch at 1; layout 1: [N, D,
 * H]): NULL for zeros (absent, a zero ConstantOfShape, a zero constant of
 * the fixed batch), else its value, .nn [N, D, H] either way. */
static bool initial_state(OnnxTr *t, int i, int64_t D, int64_t H, bool layout1, OnnxVal **out) {
  OnnxVal *v = ox_in(t, i);
  *out = NULL;
  if (!v) return !t->failed;
  int64_t od[NN_MAX_RANK];
  const int64_t *kd = v->k ? v->k->dims : od;
  int r = v->k ? v->k->rank : view(v, od), bax = layout1 ? 0 : 1;
  bool shaped = r == 3 && kd[1 - bax] == D && kd[2] == H && (v->k || v->bax == bax);
  if (shaped && ((v->fill && zeros(v->bk)) || (v->k && zeros(v->k)))) return true;
  if (v->k || v->fill || !shaped)
    return ox_fail(t, "initial state (input %d) must be zeros or a computed %s, not %s", i,
                   layout1 ? arena_printf("[N, %lld, %lld]", (long long)D, (long long)H)
                           : arena_printf("[%lld, N, %lld]", (long long)D, (long long)H),
                   v->k ? arena_printf("a constant %s", ox_ints_str(v->k->dims, v->k->rank))
                        : v->fill ? "a constant as large as the batch"
                                  : arena_printf("%s", shape_str(caller_layout(v->sh, v->bax))));
  *out = v;
  return true;
}

/* A direction's weights in nnc's layout: W [F, G H] from [G H, F] (x: the
 * ONNX tensor, its direction d), gates reordered by order[] (nnc gate ->
 * ONNX gate). */
static OnnxTensor *gates_t(const OnnxTensor *x, int64_t d, int G, int64_t H, int64_t F, const int *order) {
  int64_t dims[2] = {F, G * H};
  OnnxTensor *k = ox_new_const(x->type, 2, dims);
  const double *src = x->f + d * G * H * F;
  for (int g = 0; g < G; g++)
    for (int64_t j = 0; j < H; j++)
      for (int64_t f = 0; f < F; f++) k->f[f * G * H + g * H + j] = src[(order[g] * H + j) * F + f];
  return k;
}

/* A direction's bias [G H] from B [D, 2 G H]: Wb (+ Rb when sum), gates reordered. */
static OnnxTensor *gates_b(const OnnxTensor *b, int64_t d, int G, int64_t H, const int *order, int part, bool sum) {
  int64_t n = G * H;
  OnnxTensor *k = ox_new_const(b ? b->type : OX_FLOAT, 1, &n);
  for (int g = 0; g < G; g++)
    for (int64_t j = 0; j < H; j++) {
      const double *row = b ? b->f + d * 2 * G * H : NULL;
      int64_t at = order[g] * H + j;
      k->f[g * H + j] = !row ? 0 : sum ? row[at] + row[G * H + at] : row[part * G * H + at];
    }
  return k;
}

/* Activations must be ONNX's defaults (Sigmoid, Tanh[, Tanh]) a direction. */
static bool default_activations(OnnxTr *t, const char *kind, int D) {
  const OnnxAttr *a = ox_attr(t, "activations");
  if (!a) return true;
  static const char *lstm[] = {"Sigmoid", "Tanh", "Tanh"}, *gru[] = {"Sigmoid", "Tanh"}, *rnn[] = {"Tanh"};
  const char **want = !strcmp(kind, "lstm") ? lstm : !strcmp(kind, "gru") ? gru : rnn;
  int per = !strcmp(kind, "lstm") ? 3 : !strcmp(kind, "gru") ? 2 : 1;
  bool ok = a->nstrings == per * D;
  for (int i = 0; ok && i < a->nstrings; i++) ok = !strcmp(a->strings[i], want[i % per]);
  char *got = arena_strdup("");
  for (int i = 0; i < a->nstrings && i < 8; i++) got = arena_printf("%s%s%s", got, i ? ", " : "", a->strings[i]);
  return ok || ox_fail(t, "activations %s are not supported: only ONNX's defaults, %s for each direction", got,
                       per == 3 ? "Sigmoid, Tanh, Tanh" : per == 2 ? "Sigmoid, Tanh" : "Tanh");
}

bool ox_recurrent(OnnxTr *t, const char *kind) {
  static const int lstm_order[4] = {0, 2, 3, 1}, same[3] = {0, 1, 2}; /* nnc i, f, g, o <- ONNX i, o, f, c */
  bool lstm = !strcmp(kind, "lstm"), gru = !strcmp(kind, "gru");
  int G = lstm ? 4 : gru ? 3 : 1;
  const int *order = lstm ? lstm_order : same;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *W = ox_konst(t, 1, "W"), *R = ox_konst(t, 2, "R");
  OnnxTensor *B = ox_in(t, 3) ? ox_konst(t, 3, "B") : NULL;
  if (!x || !W || !R || t->failed) return false;
  if (t->off) return ox_fail(t, "a recurrent op needs the batch axis of its X: this graph has none nnc could find");
  if (x->k || x->fill) return ox_fail(t, "X must be computed, not a constant");
  int64_t H = ox_attr_i(t, "hidden_size", -1), layout = ox_attr_i(t, "layout", 0);
  if (ox_attr(t, "hidden_size") && H < 1) return ox_fail(t, "hidden_size must be at least 1, not %lld", (long long)H);
  if (layout != 0 && layout != 1) return ox_fail(t, "layout must be 0 or 1, not %lld", (long long)layout);
  if (t->node->nin > (lstm ? 8 : 6) || t->node->nout > (lstm ? 3 : 2))
    return ox_fail(t, "%s takes at most %d inputs and %d outputs", t->node->op, lstm ? 8 : 6, lstm ? 3 : 2);
  const char *dir = ox_attr_s(t, "direction", "forward");
  int D = !strcmp(dir, "bidirectional") ? 2 : 1;
  bool reverse = !strcmp(dir, "reverse");
  if (D == 1 && !reverse && strcmp(dir, "forward")) return ox_fail(t, "direction '%s' is not one ONNX defines", dir);
  if (ox_attr(t, "clip")) return ox_fail(t, "clip is not supported");
  if (ox_attr_i(t, "input_forget", 0)) return ox_fail(t, "input_forget is not supported");
  if (!default_activations(t, kind, D)) return false;
  int64_t od[NN_MAX_RANK];
  if (view(x, od) != 3 || x->bax != (layout ? 0 : 1))
    return ox_fail(t, "X must be %s with N the batch", layout ? "[N, T, F]" : "[T, N, F]");
  int64_t T = x->sh.dim[1], F = x->sh.dim[2];
  if (!W->f || !R->f || (B && !B->f)) return ox_fail(t, "W, R and B must be floating-point");
  if (W->rank != 3 || W->dims[0] != D || W->dims[2] != F || (H > 0 && W->dims[1] != G * H) || W->dims[1] % G ||
      W->dims[1] < G)
    return ox_fail(t, "W is %s; it must be [%d, %s, %lld]: [directions, %d gates x hidden_size, X's features]",
                   ox_ints_str(W->dims, W->rank), D,
                   H > 0 ? arena_printf("%lld", (long long)(G * H)) : arena_printf("%d x hidden_size", G), (long long)F, G);
  if (H < 0) H = W->dims[1] / G;
  if (R->rank != 3 || R->dims[0] != D || R->dims[1] != G * H || R->dims[2] != H)
    return ox_fail(t, "R is %s; it must be [%d, %lld, %lld]", ox_ints_str(R->dims, R->rank), D, (long long)(G * H),
                   (long long)H);
  if (B && (B->rank != 2 || B->dims[0] != D || B->dims[1] != 2 * G * H))
    return ox_fail(t, "B is %s; it must be [%d, %lld]", ox_ints_str(B->dims, B->rank), D, (long long)(2 * G * H));
  OnnxVal *lens = ox_in(t, 4), *h0, *c0 = NULL;
  if (lens) {
    bool full = lens->k && !lens->k->f;
    for (int64_t i = 0; full && i < lens->k->count; i++) full = lens->k->i[i] == T;
    if (!full) return ox_fail(t, "sequence_lens other than every sequence's full length is not supported");
  }
  if (!initial_state(t, 5, D, H, layout, &h0) || (lstm && !initial_state(t, 6, D, H, layout, &c0))) return false;
  if (lstm && ox_in(t, 7)) {
    OnnxTensor *P = ox_konst(t, 7, "P");
    if (!P || !zeros(P)) return t->failed ? false : ox_fail(t, "peepholes (P) are not supported");
  }
  if (lstm && t->node->nout > 2 && used(t, t->node->out[2]))
    return ox_fail(t, "Y_c (the last cell state) is not supported: nnc's lstm returns the states h");
  bool gru_after = gru && ox_attr_i(t, "linear_before_reset", 0);
  bool want_y = used(t, t->node->out[0]), want_h = t->node->nout > 1 && used(t, t->node->out[1]);
  const char *xs = ox_use(t, x, false), *ys[2] = {0};
  for (int d = 0; d < D; d++) {
    bool rev = D == 2 ? d == 1 : reverse;
    const char *inst = ox_instance(t, kind);
    ox_add_value(t, arena_printf("%s.W", inst), gates_t(W, d, G, H, F, order));
    ox_add_value(t, arena_printf("%s.U", inst), gates_t(R, d, G, H, H, order));
    ox_add_value(t, arena_printf("%s.b", inst), gates_b(B, d, G, H, order, 0, !gru_after));
    if (gru_after) ox_add_value(t, arena_printf("%s.rb", inst), gates_b(B, d, G, H, order, 1, false));
    char *init = arena_strdup("");
    const char *st[2] = {0};
    for (int s = 0; s < 2; s++) {
      OnnxVal *v = s ? c0 : h0;
      if (!v) continue;
      const char *nm = ox_name(t, arena_printf("%s_%s%d", t->node->out[0], s ? "c" : "h", d));
      ox_stmt(t, nm, arena_printf("reshape(slice(%s, axis: 1, start: %d, end: %d), [%lld])", ox_use(t, v, false), d, d + 1,
                                  (long long)H));
      st[s] = nm;
    }
    if (lstm && (h0 || c0)) { /* one of the two given: the other starts at zero */
      for (int s = 0; s < 2; s++)
        if (!st[s]) st[s] = arena_printf("0.0 * %s", st[1 - s]);
      init = arena_printf(", initial_state: [%s, %s]", st[0], st[1]);
    } else if (h0) {
      init = arena_printf(", initial_state: %s", st[0]);
    }
    const char *name = ox_name(t, arena_printf("%s_dir%d", t->node->out[0], d));
    ox_stmt(t, name, arena_printf("%s(%s, %lld%s%s%s%s)", kind, xs, (long long)H, want_y ? ", return_sequences: true" : "",
                                  rev ? ", reverse: true" : "", gru_after ? ", reset_after: true" : "", init));
    ys[d] = name;
  }
  /* Y [T, D, N, H] (layout 1: [N, T, D, H]): .nn [N, T, D, H] either way */
  if (want_y) {
    char *parts = arena_strdup("");
    for (int d = 0; d < D; d++)
      parts = arena_printf("%s%sreshape(%s, [%lld, 1, %lld])", parts, d ? ", " : "", ys[d], (long long)T, (long long)H);
    Shape sh = {.rank = 4, .dim = {DIM_BATCH, T, D, H}};
    OnnxVal *y = ox_out(t, 0, x->dt, sh, D == 2 ? arena_printf("concat(%s, axis: 2)", parts) : parts);
    y->bax = layout ? 0 : 2;
  }
  /* Y_h [D, N, H] (layout 1: [N, D, H]): the last state of each direction,
   * at the sequence's end (forward) or start (reverse) */
  if (want_h) {
    char *parts = arena_strdup("");
    for (int d = 0; d < D; d++) {
      bool rev = D == 2 ? d == 1 : reverse;
      const char *h = want_y ? arena_printf("reshape(slice(%s, axis: 1, start: %lld, end: %lld), [1, %lld])", ys[d],
                                            (long long)(rev ? 0 : T - 1), (long long)(rev ? 1 : T), (long long)H)
                             : arena_printf("reshape(%s, [1, %lld])", ys[d], (long long)H);
      parts = arena_printf("%s%s%s", parts, d ? ", " : "", h);
    }
    Shape sh = {.rank = 3, .dim = {DIM_BATCH, D, H}};
    OnnxVal *h = ox_out(t, 1, x->dt, sh, D == 2 ? arena_printf("concat(%s, axis: 1)", parts) : parts);
    h->bax = layout ? 0 : 1;
  }
  return true;
}
