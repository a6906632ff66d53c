/* onnx_shape.c — the ONNX ops that move data or fold at import: Reshape,
 * Shape, Squeeze, Unsqueeze, Flatten, Transpose, Concat, Gather, Slice,
 * Split, Tile, Pad, Resize (and Upsample), GatherElements, Cast, CastLike,
 * Constant, ConstantOfShape. A constant operand
 * (an initializer, a Constant, a folded Shape: the batch as the symbol
 * NSYM) gives a constant; a computed one a .nn statement of reshape,
 * transpose, concat and slice, the batch axis kept first. onnx_ops.c has
 * the other ops and the table of both.
 */
#include <math.h>
#include <string.h>
#include "nnc.h"

/* --------------------------------------------------- shapes and folding */

OnnxTensor *ox_konst(OnnxTr *t, int i, const char *what) {
  OnnxVal *v = ox_in(t, i);
  if (!v) {
    if (!t->failed) ox_fail(t, "%s (input %d) is missing", what, i);
    return NULL;
  }
  if (!v->k) ox_fail(t, "%s must be known when the model is compiled (an initializer or a constant), not computed", what);
  return v->k;
}

static bool reshape_to(OnnxTr *t, OnnxVal *x, const int64_t *want, int n, bool allowzero) {
  int64_t dims[NN_MAX_RANK];
  int neg = -1;
  if (n > NN_MAX_RANK) return ox_fail(t, "rank %d is more than %d", n, NN_MAX_RANK);
  int xr = ox_orank(t, x);
  for (int i = 0; i < n; i++) {
    dims[i] = want[i];
    if (want[i] == 0 && !allowzero) {
      if (i >= xr) return ox_fail(t, "shape entry %d is 0 but the input has rank %d", i, xr);
      dims[i] = x->k ? x->sh.dim[i] : x->sh.dim[i + t->off];
    }
    if (dims[i] == -1) {
      if (neg >= 0) return ox_fail(t, "more than one -1 in the shape");
      neg = i;
    } else if (dims[i] == 0) {
      return ox_fail(t, "tensors with a dimension of 0 are not supported");
    } else if (dims[i] < 0 && dims[i] != NSYM && dims[i] != DIM_BATCH) {
      return ox_fail(t, "negative dimension %lld in the shape", (long long)dims[i]);
    }
  }
  if (x->k) {
    int64_t total = x->k->count, rest = 1;
    for (int i = 0; i < n; i++)
      if (i != neg && (dims[i] < 1 || dims[i] > total || (rest *= dims[i]) > total))
        return ox_fail(t, "cannot reshape %lld values to %s", (long long)total, ox_ints_str(dims, n));
    if (neg >= 0) dims[neg] = rest ? total / rest : 0;
    if (neg >= 0 ? dims[neg] * rest != total : rest != total)
      return ox_fail(t, "cannot reshape %lld values to %s", (long long)total, ox_ints_str(dims, n));
    OnnxTensor *k = ox_new_const(x->k->type, n, dims);
    if (k->f) memcpy(k->f, x->k->f, sizeof(double) * (size_t)total);
    else memcpy(k->i, x->k->i, sizeof(int64_t) * (size_t)total);
    ox_out_const(t, 0, k);
    return true;
  }
  /* a runtime value: the batch stays first */
  int first = 0;
  if (t->off == 0) {
    if (n > 0 && dims[0] == t->fixed_batch) dims[0] = NSYM; /* the graph's fixed batch size: the batch */
    if (n == 0 || !(dims[0] == NSYM || dims[0] == DIM_BATCH || (dims[0] == -1 && neg == 0)))
      return ox_fail(t, "the new shape %s must keep the batch axis first", ox_ints_str(dims, n));
    if (dims[0] == -1) {
      /* -1 first: the batch when the rest holds one sample's values */
      neg = -1;
    }
    first = 1;
  }
  int64_t per, rest = 1;
  ox_elems(x->sh, 1, &per);
  for (int i = first; i < n; i++) rest *= i == neg ? 1 : dims[i];
  if (neg >= 0) {
    if (rest == 0 || per % rest) return ox_fail(t, "cannot reshape %lld values a sample to %s", (long long)per, ox_ints_str(dims, n));
    dims[neg] = per / rest;
  } else if (t->off == 1 ? rest != per * 1 : rest != per) {
    return ox_fail(t, "cannot reshape %lld values a sample to %s", (long long)per, ox_ints_str(dims + first, n - first));
  }
  Shape sh = {.rank = n + t->off};
  sh.dim[0] = x->sh.dim[0];
  for (int i = first; i < n; i++) sh.dim[i + t->off] = dims[i];
  ox_out(t, 0, x->dt, sh, arena_printf("reshape(%s, %s)", ox_use(t, x, false), ox_ints_str(sh.dim + 1, sh.rank - 1)));
  return true;
}

static bool op_reshape(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  if (t->m->opset < 5) {
    const OnnxAttr *a = ox_attr(t, "shape");
    if (!a) return ox_fail(t, "no shape attribute");
    return reshape_to(t, x, a->ints, a->nints, false);
  }
  OnnxTensor *s = ox_konst(t, 1, "the shape");
  if (!s) return false;
  if (s->rank != 1 || s->f) return ox_fail(t, "the shape must be a list of integers");
  return reshape_to(t, x, s->i, (int)s->count, ox_attr_i(t, "allowzero", 0) != 0);
}

static bool op_shape(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  int64_t start = ox_attr_i(t, "start", 0), end = ox_attr_i(t, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  if (start < 0) start = 0;
  if (end > r) end = r;
  int64_t n = end > start ? end - start : 0;
  OnnxTensor *k = ox_new_const(OX_INT64, 1, &n);
  int64_t view[NN_MAX_RANK], times = 1;
  if (!x->k) ox_view(x, view, &times);
  for (int64_t i = 0; i < n; i++) {
    int64_t d = x->k ? x->sh.dim[start + i] : view[start + i + t->off];
    k->i[i] = d == DIM_BATCH ? NSYM + times - 1 : d;
  }
  ox_out_const(t, 0, k);
  return true;
}

/* Size: the elements of a tensor, known unless it has the batch. */
static bool op_size(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int64_t n = 1;
  for (int i = 0; i < x->sh.rank; i++) {
    if (x->sh.dim[i] == DIM_BATCH && !t->off) return ox_fail(t, "the size of a tensor with the batch axis is not known at import");
    n *= x->sh.dim[i] == DIM_BATCH ? 1 : x->sh.dim[i];
  }
  OnnxTensor *k = ox_new_const(OX_INT64, 0, NULL);
  k->i[0] = n;
  ox_out_const(t, 0, k);
  return true;
}

/* The axes of an op: the attribute (older opsets) or input i. */
bool ox_axes(OnnxTr *t, int i, int64_t *axes, int *n, bool *given) {
  const OnnxAttr *a = ox_attr(t, "axes");
  *n = 0, *given = false;
  if (a) {
    if (a->nints > NN_MAX_RANK) return ox_fail(t, "too many axes");
    memcpy(axes, a->ints, sizeof(int64_t) * (size_t)a->nints);
    *n = a->nints, *given = true;
    return true;
  }
  if (ox_in(t, i)) {
    OnnxTensor *k = ox_konst(t, i, "the axes");
    if (!k || k->f || k->count > NN_MAX_RANK) return k ? ox_fail(t, "the axes must be integers") : false;
    for (int64_t j = 0; j < k->count; j++) axes[j] = k->i[j];
    *n = (int)k->count, *given = true;
  }
  return !t->failed;
}

static bool op_unsqueeze(OnnxTr *t, const char *arg) {
  bool squeeze = !strcmp(arg, "squeeze");
  OnnxVal *x = ox_need(t, 0);
  int64_t axes[NN_MAX_RANK];
  int n;
  bool given;
  if (!x || !ox_axes(t, 1, axes, &n, &given)) return false;
  int r = ox_orank(t, x), nr = squeeze ? r - n : r + n;
  const int64_t *d = x->sh.dim + (x->k ? 0 : t->off);
  bool mark[NN_MAX_RANK * 2] = {0};
  if (squeeze && !given) {
    nr = 0;
    for (int i = 0; i < r; i++) mark[i] = d[i] == 1;
    for (int i = 0; i < r; i++) nr += !mark[i];
  } else {
    for (int j = 0; j < n; j++) {
      int64_t a = axes[j] < 0 ? axes[j] + (squeeze ? r : nr) : axes[j];
      if (a < 0 || a >= (squeeze ? r : nr) || mark[a]) return ox_fail(t, "axis %lld is out of range or repeated", (long long)axes[j]);
      mark[a] = true;
    }
  }
  if (nr > NN_MAX_RANK) return ox_fail(t, "rank %d is more than %d", nr, NN_MAX_RANK);
  int64_t dims[NN_MAX_RANK];
  int k = 0;
  if (squeeze) {
    for (int i = 0; i < r; i++) {
      if (!mark[i]) dims[k++] = d[i] == DIM_BATCH ? NSYM : d[i];
      else if (d[i] != 1) return ox_fail(t, "axis %d has size %lld, not 1", i, (long long)d[i]);
    }
  } else {
    for (int i = 0, j = 0; i < nr; i++) dims[k++] = mark[i] ? 1 : (d[j] == DIM_BATCH ? NSYM : d[j]), j += !mark[i];
  }
  if (!x->k && t->off == 0 && (k == 0 || dims[0] != NSYM)) return ox_fail(t, "the batch axis must stay first");
  return reshape_to(t, x, dims, k, true);
}

static bool op_flatten(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  int64_t a = ox_attr_i(t, "axis", 1);
  if (a < 0) a += r;
  if (a < 0 || a > r) return ox_fail(t, "axis %lld is out of range", (long long)a);
  const int64_t *d = x->sh.dim + (x->k ? 0 : t->off);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < r; i++) {
    int64_t v = d[i] == DIM_BATCH ? NSYM : d[i];
    if (v == NSYM && i >= a) return ox_fail(t, "flattening the batch axis with others is not supported");
    if (i < a) outer = v == NSYM ? NSYM : outer == NSYM ? NSYM : outer * v;
    else inner *= v;
  }
  if (outer == NSYM && a != 1) return ox_fail(t, "flattening the batch axis with others is not supported");
  int64_t dims[2] = {outer, inner};
  return reshape_to(t, x, dims, 2, true);
}

static bool op_transpose(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  const OnnxAttr *a = ox_attr(t, "perm");
  int64_t perm[NN_MAX_RANK];
  for (int i = 0; i < r; i++) perm[i] = a ? (i < a->nints ? a->ints[i] : -1) : r - 1 - i;
  if (a && a->nints != r) return ox_fail(t, "perm has %d entries for rank %d", a->nints, r);
  bool seen[NN_MAX_RANK] = {0};
  for (int i = 0; i < r; i++) {
    if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]) return ox_fail(t, "perm is not a permutation");
    seen[perm[i]] = true;
  }
  if (x->k) {
    int64_t dims[NN_MAX_RANK];
    for (int i = 0; i < r; i++) dims[i] = x->k->dims[perm[i]];
    OnnxTensor *k = ox_new_const(x->k->type, r, dims);
    for (int64_t o = 0; o < k->count; o++) {
      int64_t rem = o, src = 0, idx[NN_MAX_RANK];
      for (int d = r - 1; d >= 0; d--) idx[d] = rem % dims[d], rem /= dims[d];
      for (int d = 0; d < r; d++) {
        int64_t stride = 1;
        for (int e = (int)perm[d] + 1; e < r; e++) stride *= x->k->dims[e];
        src += idx[d] * stride;
      }
      if (k->f) k->f[o] = x->k->f[src];
      else k->i[o] = x->k->i[src];
    }
    ox_out_const(t, 0, k);
    return true;
  }
  if (t->off == 0 && perm[0] != 0) return ox_fail(t, "a transpose that moves the batch axis is not supported");
  int64_t p[NN_MAX_RANK];
  Shape sh = x->sh;
  if (t->off) p[0] = 0;
  for (int i = 0; i < r; i++) p[i + t->off] = perm[i] + t->off;
  for (int i = 0; i < sh.rank; i++) sh.dim[i] = x->sh.dim[p[i]];
  ox_out(t, 0, x->dt, sh, arena_printf("transpose(%s, %s)", ox_use(t, x, false), ox_ints_str(p, sh.rank)));
  return true;
}

static bool op_concat(OnnxTr *t, const char *arg) {
  (void)arg;
  const OnnxNode *n = t->node;
  OnnxVal *first = ox_need(t, 0);
  if (!first) return false;
  int r = ox_orank(t, first);
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_fail(t, "axis %lld is out of range", (long long)a);
  bool all_const = true;
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = ox_need(t, i);
    if (!v) return false;
    all_const &= v->k != NULL;
  }
  if (all_const) {
    for (int i = 1; i < n->nin; i++) {
      const OnnxTensor *k = ox_in(t, i)->k;
      bool same = k->rank == r && k->type == first->k->type;
      for (int d = 0; same && d < r; d++) same = d == a || k->dims[d] == first->k->dims[d];
      if (!same) return ox_fail(t, "the constants' shapes or types differ off the axis");
    }
    int64_t dims[NN_MAX_RANK];
    memcpy(dims, first->k->dims, sizeof dims);
    dims[a] = 0;
    for (int i = 0; i < n->nin; i++) dims[a] += ox_in(t, i)->k->dims[a];
    if (!ox_size_ok(t, r, dims)) return false;
    OnnxTensor *k = ox_new_const(first->k->type, r, dims);
    int64_t outer = 1, o = 0;
    for (int d = 0; d < a; d++) outer *= dims[d];
    for (int64_t b = 0; b < outer; b++)
      for (int i = 0; i < n->nin; i++) {
        OnnxTensor *s = ox_in(t, i)->k;
        int64_t chunk = s->count / (outer ? outer : 1);
        for (int64_t j = 0; j < chunk; j++, o++) {
          if (k->f) k->f[o] = ox_kget(s, b * chunk + j);
          else k->i[o] = s->i[b * chunk + j];
        }
      }
    ox_out_const(t, 0, k);
    return true;
  }
  int ax = ox_axis(t, a, r);
  if (ax < 0) return false;
  char *args = arena_strdup("");
  Shape sh = first->sh;
  sh.dim[ax] = 0;
  for (int i = 0; i < n->nin; i++) {
    OnnxVal *v = ox_in(t, i);
    if (v->k) return ox_fail(t, "concatenating a constant with a batched tensor is not supported yet");
    args = arena_printf("%s%s, ", args, ox_use(t, v, false));
    sh.dim[ax] += v->sh.dim[ax];
  }
  ox_out(t, 0, first->dt, sh, arena_printf("concat(%saxis: %d)", args, ax));
  return true;
}

/* GatherElements of computed data by constant indices of the same rank:
 * along the axis, each position p of the data is chosen where the indices
 * say p (a table of 0 and 1 for `where`), up to 64 positions. */
static bool op_gather_elements(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0), *idx = ox_need(t, 1);
  if (!x || !idx) return false;
  if (x->k || !idx->k) return ox_fail(t, "only computed data and constant indices are supported");
  if (idx->k->f) return ox_fail(t, "indices must be integers");
  int r = ox_orank(t, x);
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_fail(t, "axis %lld is out of range", (long long)a);
  if (idx->k->rank != r) return ox_fail(t, "the indices must have the data's rank");
  int ax = ox_axis(t, a, r);
  if (ax < 0) return false;
  int64_t n = x->sh.dim[ax];
  if (n > 64) return ox_fail(t, "an axis of %lld (more than 64) is not supported", (long long)n);
  const char *e = ox_use(t, x, false);
  for (int i = 0; i < r; i++) { /* the data cut to the indices' size on the other axes */
    int64_t have = x->sh.dim[i + t->off], want = idx->k->dims[i];
    if (have == DIM_BATCH) return ox_fail(t, "constant indices for a batched tensor are not supported");
    if (i != a && want > have) return ox_fail(t, "the indices are larger than the data along axis %d", i);
    if (i != a && want < have) e = arena_printf("slice(%s, axis: %d, start: 0, end: %lld)", e, i + t->off, (long long)want);
  }
  const char *d = ox_name(t, arena_printf("%s_data", t->node->out[0]));
  ox_stmt(t, d, e);
  e = d;
  const char *acc = NULL;
  for (int64_t p = 0; p < n; p++) {
    OnnxTensor *m = ox_new_const(OX_FLOAT, idx->k->rank, idx->k->dims);
    bool any = false;
    for (int64_t j = 0; j < m->count; j++) {
      int64_t i = idx->k->i[j] < 0 ? idx->k->i[j] + n : idx->k->i[j];
      if (i < 0 || i >= n) return ox_fail(t, "index %lld is out of range for size %lld", (long long)idx->k->i[j], (long long)n);
      m->f[j] = i == p, any |= i == p;
    }
    if (!any) continue;
    const char *sl = arena_printf("slice(%s, axis: %d, start: %lld, end: %lld)", e, ax, (long long)p, (long long)p + 1);
    acc = !acc ? arena_printf("%s + %s * 0.0", sl, ox_table(t, m, arena_printf("%s_at%lld", t->node->out[0], (long long)p)))
               : arena_printf("where(%s, %s, %s)", ox_table(t, m, arena_printf("%s_at%lld", t->node->out[0], (long long)p)), sl, acc);
    d = ox_name(t, arena_printf("%s_part", t->node->out[0]));
    ox_stmt(t, d, acc);
    acc = d;
  }
  Shape sh = x->sh;
  for (int i = 0; i < r; i++) sh.dim[i + t->off] = idx->k->dims[i];
  return ox_out(t, 0, x->dt, sh, acc), true;
}

static bool op_gather(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0), *idx = ox_need(t, 1);
  if (!x || !idx) return false;
  int r = ox_orank(t, x);
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_fail(t, "axis %lld is out of range", (long long)a);
  if (idx->k && idx->k->f) return ox_fail(t, "indices must be integers");
  if (x->k && idx->k) {
    int64_t dims[NN_MAX_RANK], outer = 1, inner = 1, n = x->k->dims[a];
    int k = 0;
    for (int d = 0; d < a; d++) dims[k++] = x->k->dims[d], outer *= x->k->dims[d];
    for (int d = 0; d < idx->k->rank; d++) dims[k++] = idx->k->dims[d];
    for (int d = (int)a + 1; d < r; d++) dims[k++] = x->k->dims[d], inner *= x->k->dims[d];
    if (k > NN_MAX_RANK) return ox_fail(t, "rank %d is more than %d", k, NN_MAX_RANK);
    if (!ox_size_ok(t, k, dims)) return false;
    OnnxTensor *o = ox_new_const(x->k->type, k, dims);
    int64_t w = 0;
    for (int64_t b = 0; b < outer; b++)
      for (int64_t j = 0; j < idx->k->count; j++) {
        int64_t i = idx->k->i[j] < 0 ? idx->k->i[j] + n : idx->k->i[j];
        if (i < 0 || i >= n) return ox_fail(t, "index %lld is out of range for size %lld", (long long)idx->k->i[j], (long long)n);
        for (int64_t c = 0; c < inner; c++, w++) {
          int64_t src = (b * n + i) * inner + c;
          if (o->f) o->f[w] = x->k->f[src];
          else o->i[w] = x->k->i[src];
        }
      }
    ox_out_const(t, 0, o);
    return true;
  }
  if (x->k && a == 0 && x->k->rank == 2 && x->k->f) { /* an embedding table */
    const char *inst = ox_instance(t, "embedding");
    ox_add_value(t, arena_printf("%s.W", inst), x->k);
    Shape sh = idx->sh;
    sh.dim[sh.rank++] = x->k->dims[1];
    return ox_out(t, 0, ox_dtype(x->k->type), sh,
               arena_printf("embedding(%s, %lld, %lld)", ox_use(t, idx, false), (long long)x->k->dims[0],
                            (long long)x->k->dims[1])), true;
  }
  if (!x->k && idx->k && idx->k->count >= 1) { /* constant indices: slices of runs of them, concatenated */
    int ax = ox_axis(t, a, r);
    if (ax < 0) return false;
    int64_t n = x->sh.dim[ax];
    const char *e = ox_use(t, x, false), *parts = arena_strdup("");
    int runs = 0;
    for (int64_t j = 0; j < idx->k->count; runs++) {
      int64_t i = idx->k->i[j] < 0 ? idx->k->i[j] + n : idx->k->i[j], end = i + 1;
      if (i < 0 || i >= n) return ox_fail(t, "index %lld is out of range for size %lld", (long long)idx->k->i[j], (long long)n);
      for (j++; j < idx->k->count && (idx->k->i[j] < 0 ? idx->k->i[j] + n : idx->k->i[j]) == end && end < n; j++) end++;
      if (runs == 1024) return ox_fail(t, "a Gather of more than 1024 runs of indices is not supported");
      parts = arena_printf("%s%sslice(%s, axis: %d, start: %lld, end: %lld)", parts, runs ? ", " : "", e, ax, (long long)i,
                           (long long)end);
    }
    if (x->sh.rank - 1 + idx->k->rank > NN_MAX_RANK) return ox_fail(t, "rank %d is more than %d", x->sh.rank - 1 + idx->k->rank, NN_MAX_RANK);
    Shape sh = {0};
    for (int d = 0; d < x->sh.rank; d++)
      if (d != ax) sh.dim[sh.rank++] = x->sh.dim[d];
      else
        for (int k = 0; k < idx->k->rank; k++) sh.dim[sh.rank++] = idx->k->dims[k];
    e = runs > 1 ? arena_printf("concat(%s, axis: %d)", parts, ax) : parts;
    return ox_out(t, 0, x->dt, sh, arena_printf("reshape(%s, %s)", e, ox_ints_str(sh.dim + 1, sh.rank - 1))), true;
  }
  return ox_fail(t, "this form of Gather (data %s, indices %s) is not supported yet", x->k ? "constant" : "computed",
               idx->k ? "constant" : "computed");
}

static bool op_slice(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  int64_t starts[NN_MAX_RANK], ends[NN_MAX_RANK], axes[NN_MAX_RANK], steps[NN_MAX_RANK];
  int n = 0;
  if (t->m->opset < 10) {
    const OnnxAttr *s = ox_attr(t, "starts"), *e = ox_attr(t, "ends"), *a = ox_attr(t, "axes");
    if (!s || !e || s->nints != e->nints || s->nints > r || (a && a->nints != s->nints))
      return ox_fail(t, "starts, ends and axes must have one entry an axis");
    n = s->nints;
    for (int i = 0; i < n; i++) starts[i] = s->ints[i], ends[i] = e->ints[i], axes[i] = a ? a->ints[i] : i, steps[i] = 1;
  } else {
    OnnxTensor *s = ox_konst(t, 1, "starts"), *e = ox_konst(t, 2, "ends");
    if (!s || !e) return false;
    if (s->count != e->count || s->count > r || s->f || e->f) return ox_fail(t, "starts and ends must be integers, one an axis");
    n = (int)s->count;
    OnnxTensor *a = ox_in(t, 3) ? ox_konst(t, 3, "axes") : NULL, *st = ox_in(t, 4) ? ox_konst(t, 4, "steps") : NULL;
    if (t->failed) return false;
    if ((a && (a->f || a->count != n)) || (st && (st->f || st->count != n)))
      return ox_fail(t, "axes and steps must be integers, one a start");
    for (int i = 0; i < n; i++)
      starts[i] = s->i[i], ends[i] = e->i[i], axes[i] = a ? a->i[i] : i, steps[i] = st ? st->i[i] : 1;
  }
  OnnxVal *v = x;
  for (int i = 0; i < n; i++) {
    int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i], step = steps[i];
    if (ax < 0 || ax >= r) return ox_fail(t, "axis %lld is out of range", (long long)axes[i]);
    if (step == 0) return ox_fail(t, "a step of 0");
    int64_t size = v->k ? v->k->dims[ax] : v->sh.dim[ax + t->off];
    if (size == DIM_BATCH) return ox_fail(t, "slicing the batch axis is not supported");
    /* numpy's rules: negative from the end, clamped, then every step-th */
    int64_t b = starts[i] < 0 ? starts[i] + size : starts[i], e = ends[i] < 0 ? ends[i] + size : ends[i];
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? size : size - 1;
    b = b < (step > 0 ? 0 : 0) ? (step > 0 ? 0 : -1) : b > hi ? hi : b;
    e = e < lo ? lo : e > hi ? (step > 0 ? size : size - 1) : e;
    int64_t count = step > 0 ? (e > b ? (e - b + step - 1) / step : 0) : (b > e ? (b - e - step - 1) / -step : 0);
    if (count <= 0 && !v->k) return ox_fail(t, "an empty slice is not supported");
    if (count < 0) count = 0; /* a constant may be empty: a shape's part, say */
    if (v->k) {
      int64_t dims[NN_MAX_RANK], outer = 1, inner = 1;
      memcpy(dims, v->k->dims, sizeof dims);
      dims[ax] = count;
      for (int d = 0; d < ax; d++) outer *= dims[d];
      for (int d = (int)ax + 1; d < r; d++) inner *= dims[d];
      OnnxTensor *k = ox_new_const(v->k->type, r, dims);
      int64_t w = 0;
      for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < count; j++)
          for (int64_t c = 0; c < inner; c++, w++) {
            int64_t src = (o * size + b + j * step) * inner + c;
            if (k->f) k->f[w] = v->k->f[src];
            else k->i[w] = v->k->i[src];
          }
      v = ox_tv_const(k);
      continue;
    }
    if (step == 1 && b == 0 && e == size) continue;
    int nax = ox_axis(t, ax, r);
    if (nax < 0) return false;
    Shape sh = v->sh;
    sh.dim[nax] = count;
    const char *src = ox_use(t, v, false), *expr;
    if (step == 1) {
      expr = arena_printf("slice(%s, axis: %d, start: %lld, end: %lld)", src, nax, (long long)b, (long long)e);
    } else { /* a reversal or a stride: its elements one by one */
      if (count > 64) return ox_fail(t, "a slice with a step other than 1 of more than 64 elements is not supported");
      char *args = arena_strdup("");
      for (int64_t j = 0; j < count; j++)
        args = arena_printf("%sslice(%s, axis: %d, start: %lld, end: %lld), ", args, src, nax, (long long)(b + j * step),
                            (long long)(b + j * step + 1));
      expr = arena_printf("concat(%saxis: %d)", args, nax);
    }
    if (i == n - 1) return ox_out(t, 0, v->dt, sh, expr), true;
    OnnxVal *w = arena_alloc(sizeof *w);
    *w = (OnnxVal){.nn = ox_name(t, t->node->out[0]), .sh = sh, .dt = v->dt};
    ox_stmt(t, w->nn, expr);
    v = w;
  }
  map_put(t->vals, t->node->out[0], v);
  return true;
}

static bool op_cast(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int to = (int)ox_attr_i(t, "to", 0);
  if (!strcmp(t->node->op, "CastLike")) { /* to the type of input 1 */
    OnnxVal *like = ox_need(t, 1);
    if (!like) return false;
    to = like->k ? like->k->type : like->dt == DT_F64 ? OX_DOUBLE : like->dt == DT_I32 ? OX_INT32 : OX_FLOAT;
  }
  if (to == OX_BFLOAT16 || to == OX_FLOAT16 || to == OX_STRING || to > OX_BFLOAT16)
    return ox_fail(t, "cast to %s is not supported", onnx_type_name(to));
  if (x->k) {
    OnnxTensor *k = ox_new_const(to, x->k->rank, x->k->dims);
    if (!onnx_is_float(to) && !(to >= OX_UINT8 && to <= OX_INT64) && to != OX_BOOL && to != OX_UINT32 && to != OX_UINT64)
      return ox_fail(t, "cast to %s is not supported", onnx_type_name(to));
    for (int64_t i = 0; i < k->count; i++) {
      if (k->f) k->f[i] = to == OX_FLOAT ? (float)ox_kget(x->k, i) : ox_kget(x->k, i);
      else k->i[i] = to == OX_BOOL ? ox_kget(x->k, i) != 0 : (int64_t)ox_kget(x->k, i);
    }
    ox_out_const(t, 0, k);
    return true;
  }
  DType dt = ox_dtype(to);
  if (dt == x->dt) return map_put(t->vals, t->node->out[0], x), true;
  if (dt == DT_F32 && x->dt == DT_I32) return ox_out(t, 0, DT_F32, x->sh, arena_printf("float(%s)", ox_use(t, x, false))), true;
  if (dt == DT_I32 && is_float(x->dt)) return ox_out(t, 0, DT_I32, x->sh, arena_printf("int(%s)", ox_use(t, x, false))), true;
  if (is_float(dt)) return ox_out(t, 0, dt, x->sh, arena_printf("%s(%s)", dtype_name(dt), ox_use(t, x, false))), true;
  return ox_fail(t, "cast from %s to %s is not supported yet", dtype_name(x->dt), onnx_type_name(to));
}

static bool op_constant(OnnxTr *t, const char *arg) {
  (void)arg;
  const OnnxAttr *a = t->node->nattrs ? &t->node->attrs[0] : NULL;
  if (!a) return ox_fail(t, "no value");
  OnnxTensor *k;
  int64_t one = 1;
  if (a->t) k = a->t;
  else if (!strcmp(a->name, "value_float")) k = ox_new_const(OX_FLOAT, 0, NULL), k->f[0] = a->f;
  else if (!strcmp(a->name, "value_int")) k = ox_new_const(OX_INT64, 0, NULL), k->i[0] = a->i;
  else if (!strcmp(a->name, "value_floats")) {
    one = a->nfloats;
    k = ox_new_const(OX_FLOAT, 1, &one);
    for (int i = 0; i < a->nfloats; i++) k->f[i] = a->floats[i];
  } else if (!strcmp(a->name, "value_ints")) {
    one = a->nints;
    k = ox_new_const(OX_INT64, 1, &one);
    for (int i = 0; i < a->nints; i++) k->i[i] = a->ints[i];
  } else return ox_fail(t, "attribute '%s' is not supported", a->name);
  ox_out_const(t, 0, k);
  return true;
}

static bool op_constant_of_shape(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxTensor *s = ox_konst(t, 0, "the shape");
  if (!s) return false;
  if (s->f || s->rank != 1 || s->count > NN_MAX_RANK) return ox_fail(t, "the shape must be a list of integers");
  const OnnxAttr *a = ox_attr(t, "value");
  int nsym = 0;
  for (int64_t i = 0; i < s->count; i++)
    if (s->i[i] == NSYM) nsym++;
  if (nsym > 1) return ox_fail(t, "a constant whose size is the batch's is not supported yet");
  if (nsym) { /* as large as the batch (onnx_rnn.c): a recurrent op's initial state, say */
    int64_t dims[NN_MAX_RANK];
    int bax = 0;
    for (int64_t i = 0; i < s->count; i++) dims[i] = s->i[i] == NSYM ? 1 : s->i[i], bax = s->i[i] == NSYM ? (int)i : bax;
    if (!ox_size_ok(t, (int)s->count, dims)) return false;
    OnnxTensor *k = ox_new_const(a && a->t ? a->t->type : OX_FLOAT, (int)s->count, dims);
    for (int64_t i = 0; i < k->count; i++) {
      if (k->f) k->f[i] = a && a->t && a->t->count ? ox_kget(a->t, 0) : 0;
      else k->i[i] = a && a->t && a->t->count ? a->t->i[0] : 0;
    }
    return ox_out_bcast(t, k, bax);
  }
  if (!ox_size_ok(t, (int)s->count, s->i)) return false;
  OnnxTensor *k = ox_new_const(a && a->t ? a->t->type : OX_FLOAT, (int)s->count, s->i);
  for (int64_t i = 0; i < k->count; i++) {
    if (k->f) k->f[i] = a && a->t ? ox_kget(a->t, 0) : 0;
    else k->i[i] = a && a->t ? a->t->i[0] : 0;
  }
  ox_out_const(t, 0, k);
  return true;
}


/* Split into slices along an axis. */
static bool op_split(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x), nout = t->node->nout;
  int64_t a = ox_attr_i(t, "axis", 0);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_fail(t, "axis %lld is out of range", (long long)a);
  if (x->k) return ox_fail(t, "a split of a constant is not supported yet");
  int ax = ox_axis(t, a, r);
  if (ax < 0) return false;
  int64_t size = x->sh.dim[ax], parts[64];
  if (nout > 64) return ox_fail(t, "more than 64 outputs");
  const OnnxAttr *sa = ox_attr(t, "split");
  OnnxTensor *sk = !sa && ox_in(t, 1) ? ox_konst(t, 1, "split") : NULL;
  if (t->failed) return false;
  int64_t total = 0;
  for (int i = 0; i < nout; i++) {
    if (sa) parts[i] = i < sa->nints ? sa->ints[i] : -1;
    else if (sk) parts[i] = i < sk->count && sk->i ? sk->i[i] : -1;
    else parts[i] = (size + nout - 1) / nout, parts[i] = i == nout - 1 ? size - parts[i] * (nout - 1) : parts[i];
    if (parts[i] < 1) return ox_fail(t, "split sizes must be positive and one an output");
    total += parts[i];
  }
  if (total != size) return ox_fail(t, "split sizes add up to %lld, not %lld", (long long)total, (long long)size);
  const char *e = ox_use(t, x, false);
  for (int i = 0, at = 0; i < nout; at += (int)parts[i], i++) {
    if (!*t->node->out[i]) continue;
    Shape sh = x->sh;
    sh.dim[ax] = parts[i];
    ox_out(t, i, x->dt, sh, arena_printf("slice(%s, axis: %d, start: %d, end: %lld)", e, ax, at, (long long)(at + parts[i])));
  }
  return true;
}

/* Pad (constant, reflect, edge) as slices of the input concatenated
 * around it; a constant border is a slice times 0 plus the value (so a
 * NaN or an infinity in that slice's place gives NaN). Negative pads crop. */
static bool op_pad(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  int64_t pads[2 * NN_MAX_RANK];
  double value = 0;
  const char *mode = ox_attr_s(t, "mode", "constant");
  if (t->m->opset < 11) {
    const OnnxAttr *a = ox_attr(t, "pads");
    if (!a || a->nints != 2 * r) return ox_fail(t, "pads must have two entries an axis");
    memcpy(pads, a->ints, sizeof(int64_t) * (size_t)(2 * r));
    value = ox_attr_f(t, "value", 0);
  } else {
    OnnxTensor *p = ox_konst(t, 1, "the pads"), *c = ox_in(t, 2) ? ox_konst(t, 2, "the constant value") : NULL;
    OnnxTensor *ak = ox_in(t, 3) ? ox_konst(t, 3, "the axes") : NULL;
    if (t->failed) return false;
    int na = ak ? (int)ak->count : r;
    if (p->f || p->count != 2 * na || na > r || (ak && ak->f)) return ox_fail(t, "pads and axes must be integers, two pads an axis");
    for (int i = 0; i < 2 * r; i++) pads[i] = 0;
    for (int i = 0; i < na; i++) {
      int64_t a = ak ? (ak->i[i] < 0 ? ak->i[i] + r : ak->i[i]) : i;
      if (a < 0 || a >= r) return ox_fail(t, "axis %lld is out of range", (long long)a);
      pads[a] = p->i[i], pads[a + r] = p->i[i + na];
    }
    if (c && c->count) value = ox_kget(c, 0);
  }
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge"))
    return ox_fail(t, "mode '%s' is not supported", mode);
  if (x->k) return ox_fail(t, "a pad of a constant is not supported yet");
  const char *e = ox_use(t, x, false);
  Shape sh = x->sh;
  for (int i = 0; i < r; i++) {
    int64_t b = pads[i], f = pads[i + r];
    if (!b && !f) continue;
    int ax = ox_axis(t, i, r);
    if (ax < 0) return false;
    int64_t size = sh.dim[ax];
    if (b < -NN_MAX_ELEMS || f < -NN_MAX_ELEMS || b > NN_MAX_ELEMS || f > NN_MAX_ELEMS || size + b + f > NN_MAX_ELEMS)
      return ox_fail(t, "pads of %lld and %lld cells along an axis of %lld", (long long)b, (long long)f, (long long)size);
    if (b < 0 || f < 0) { /* crop first */
      int64_t lo = b < 0 ? -b : 0, hi = size - (f < 0 ? -f : 0);
      if (hi <= lo) return ox_fail(t, "the pads crop axis %d to nothing", i);
      e = arena_printf("slice(%s, axis: %d, start: %lld, end: %lld)", e, ax, (long long)lo, (long long)hi);
      size = sh.dim[ax] = hi - lo;
      b = b < 0 ? 0 : b, f = f < 0 ? 0 : f;
    }
    if ((b >= size || f >= size) && !strcmp(mode, "reflect")) return ox_fail(t, "reflect pads must be smaller than the axis");
    if (strcmp(mode, "constant") && b + f > 4096) return ox_fail(t, "%s pads of more than 4096 cells are not supported", mode);
    e = arena_printf("pad(%s, %d, %lld, %lld%s%s%s)", e, ax, (long long)b, (long long)f,
                     strcmp(mode, "constant") ? arena_printf(", mode: %s", mode) : "", value != 0 ? ", value: " : "",
                     value != 0 ? ox_num_str(value) : "");
    sh.dim[ax] = size + b + f;
  }
  return ox_out(t, 0, x->dt, sh, e), true;
}

/* Tile with constant repeats: copies concatenated along each axis. */
static bool op_tile(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *rep = ox_konst(t, 1, "the repeats");
  if (!x || !rep) return false;
  int r = ox_orank(t, x);
  if (x->k) return ox_fail(t, "a tile of a constant is not supported yet");
  if (rep->count != r || rep->f) return ox_fail(t, "repeats must be integers, one an axis");
  const char *e = ox_use(t, x, false);
  Shape sh = x->sh;
  for (int i = 0; i < r; i++) {
    if (rep->i[i] < 1 || rep->i[i] > 64) return ox_fail(t, "repeats from 1 to 64 are supported, not %lld", (long long)rep->i[i]);
    if (rep->i[i] == 1) continue;
    int ax = ox_axis(t, i, r);
    if (ax < 0) return false;
    char *args = arena_strdup("");
    for (int64_t k = 0; k < rep->i[i]; k++) args = arena_printf("%s%s, ", args, e);
    e = arena_printf("concat(%saxis: %d)", args, ax);
    sh.dim[ax] *= rep->i[i];
  }
  return ox_out(t, 0, x->dt, sh, e), true;
}

/* Expand: x broadcast to a shape; each axis of x's size 1 that grows is
 * repeated by a concat (up to 64 times); a constant is folded. */
static bool op_expand(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *s = ox_konst(t, 1, "the shape");
  if (!x || !s) return false;
  if (s->f || s->rank != 1 || s->count > NN_MAX_RANK) return ox_fail(t, "the shape must be a list of integers");
  int xr = ox_orank(t, x), R = xr > (int)s->count ? xr : (int)s->count;
  int64_t xd[NN_MAX_RANK], od[NN_MAX_RANK];
  for (int i = 0; i < R; i++) { /* x's ONNX dims, aligned right; the batch as NSYM */
    int j = i - (R - xr);
    int64_t d = j < 0 ? 1 : x->k ? x->k->dims[j] : x->sh.dim[j + t->off];
    xd[i] = d == DIM_BATCH && !x->k ? NSYM : d;
    int k = i - (R - (int)s->count);
    int64_t want = k < 0 ? 1 : s->i[k];
    if (want != 1 && xd[i] != 1 && want != xd[i])
      return ox_fail(t, "dimension %lld does not broadcast to %lld", (long long)xd[i], (long long)want);
    od[i] = xd[i] == 1 ? want : xd[i];
    if (od[i] != NSYM && (od[i] < 1 || od[i] > 64 * xd[i])) return ox_fail(t, "expansions up to 64 times are supported");
  }
  if (x->k) {
    int bax = -1; /* a constant broadcast along the batch (a class token): its axis of size 1 there */
    for (int i = 0; i < R; i++)
      if (od[i] == NSYM) {
        if (bax >= 0 || t->off) return ox_fail(t, "a constant whose size is the batch's is not supported yet");
        bax = i, od[i] = 1;
      }
    if (!ox_size_ok(t, R, od)) return false;
    OnnxTensor *k = ox_new_const(x->k->type, R, od);
    for (int64_t o = 0; o < k->count; o++) {
      int64_t rem = o, src = 0, stride = 1;
      for (int d = R - 1; d >= 0; d--) {
        int64_t idx = rem % od[d];
        rem /= od[d];
        src += (xd[d] == 1 ? 0 : idx) * stride, stride *= xd[d];
      }
      if (k->f) k->f[o] = x->k->f[src];
      else k->i[o] = x->k->i[src];
    }
    return bax >= 0 ? ox_out_bcast(t, k, bax) : (ox_out_const(t, 0, k), true);
  }
  if (R != xr && !t->off) return ox_fail(t, "an expansion that adds axes before the batch is not supported");
  Shape sh;
  const char *e = ox_align(t, x, R + t->off, &sh);
  for (int i = 0; i < R; i++) {
    if (od[i] == xd[i]) continue;
    if (od[i] == NSYM) return ox_fail(t, "expanding an axis of size 1 to the batch is not supported");
    char *args = arena_strdup("");
    for (int64_t k = 0; k < od[i]; k++) args = arena_printf("%s%s, ", args, e);
    e = arena_printf("concat(%saxis: %d)", args, i + t->off);
    sh.dim[i + t->off] = od[i];
  }
  return ox_out(t, 0, x->dt, sh, e), true;
}

typedef bool Translate(OnnxTr *t, const char *arg);
/* Axis ax (size n) of e upsampled s times: each output position's phase
 * p = i mod s reads the input at q = i div s plus an offset d (the same for
 * every q), interpolated with the neighbour (edge replicated) for linear,
 * the nearest input for nearest; the phases interleave through a new axis. */
static const char *upsample_axis(OnnxTr *t, const char *e, Shape *sh, int ax, int64_t s, bool linear, bool half_pixel) {
  int64_t n = sh->dim[ax];
  Shape one = *sh; /* e with a new axis of 1 after ax */
  for (int i = one.rank; i > ax + 1; i--) one.dim[i] = one.dim[i - 1];
  one.dim[ax + 1] = 1, one.rank++;
  const char *next = NULL, *prev = NULL, *parts = arena_strdup("");
  for (int64_t p = 0; p < s; p++) {
    const char *v = e;
    double d = half_pixel ? (p + 0.5) / (double)s - 0.5 : (double)p / (double)s;
    if (linear && d != 0 && n > 1) {
      if (d > 0 && !next)
        next = ox_named(t, arena_printf("concat(slice(%s, axis: %d, start: 1, end: %lld), slice(%s, axis: %d, start: %lld, end: %lld), axis: %d)",
                                     e, ax, (long long)n, e, ax, (long long)n - 1, (long long)n, ax));
      if (d < 0 && !prev)
        prev = ox_named(t, arena_printf("concat(slice(%s, axis: %d, start: 0, end: 1), slice(%s, axis: %d, start: 0, end: %lld), axis: %d)",
                                     e, ax, e, ax, (long long)n - 1, ax));
      v = arena_printf("%s * %s + %s * %s", e, ox_num_str(1 - fabs(d)), d > 0 ? next : prev, ox_num_str(fabs(d)));
    }
    parts = arena_printf("%sreshape(%s, %s), ", parts, v, ox_ints_str(one.dim + 1, one.rank - 1));
  }
  sh->dim[ax] *= s;
  return ox_named(t, arena_printf("reshape(concat(%saxis: %d), %s)", parts, ax + 1, ox_ints_str(sh->dim + 1, sh->rank - 1)));
}

/* How a Resize maps output positions to input ones (ONNX's reference). */
typedef struct {
  const char *mode, *coord, *nearest;
  double a, extrapolation, roi[2];
  bool exclude_outside;
} ResizeHow;

/* The input coordinate of output position x (owidth is the output length
 * as the scale gives it, not rounded); false outside tf_crop_and_resize's
 * box, where the output is the extrapolation value. */
static bool resize_coord(const ResizeHow *h, int64_t x, int64_t in, double owidth, double scale, double *xo) {
  const char *c = h->coord;
  if (!strcmp(c, "align_corners")) *xo = owidth == 1 ? 0 : (double)x * (double)(in - 1) / (owidth - 1);
  else if (!strcmp(c, "asymmetric")) *xo = (double)x / scale;
  else if (!strcmp(c, "tf_half_pixel_for_nn")) *xo = ((double)x + 0.5) / scale;
  else if (!strcmp(c, "pytorch_half_pixel")) *xo = owidth == 1 ? -0.5 : ((double)x + 0.5) / scale - 0.5;
  else if (!strcmp(c, "tf_crop_and_resize")) {
    double w = (h->roi[1] - h->roi[0]) * (double)(in - 1);
    *xo = (owidth == 1 ? w / 2 : (double)x * w / (owidth - 1)) + h->roi[0] * (double)(in - 1);
    return *xo >= 0 && *xo <= (double)(in - 1);
  } else *xo = ((double)x + 0.5) / scale - 0.5; /* half_pixel */
  return true;
}

/* The weights of the n = 2 (nearest, linear) or 4 (cubic) neighbours of a
 * point `ratio` past the one on its left (in (0, 1]). */
static int resize_coeffs(const ResizeHow *h, double r, double *c) {
  if (!strcmp(h->mode, "cubic")) {
    double A = h->a, s = 1 - r;
    c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
    c[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
    return 4;
  }
  if (strcmp(h->mode, "nearest")) return c[0] = 1 - r, c[1] = r, 2;
  const char *m = h->nearest;
  bool right = r == 1 ? true
               : !strcmp(m, "round_prefer_ceil") ? r >= 0.5
               : !strcmp(m, "floor")             ? false
               : !strcmp(m, "ceil")              ? true
                                                 : r > 0.5;
  return c[0] = !right, c[1] = right, 2;
}

/* One axis of a resize as a table: row i of R [out, in] weighs the inputs
 * that make output i, off[i] is added (the extrapolation value where the
 * point is outside the box). The neighbours are the n nearest positions
 * of the input with its edges repeated, ties to the left, as in ONNX's
 * reference; exclude_outside gives those beyond the edges no weight. */
static void resize_table(const ResizeHow *h, int64_t in, int64_t out, double owidth, double scale, float *R,
                         float *off) {
  for (int64_t x = 0; x < out; x++) {
    float *row = R + x * in;
    memset(row, 0, sizeof(float) * (size_t)in);
    double xo, c[4];
    off[x] = 0;
    if (!resize_coord(h, x, in, owidth, scale, &xo)) {
      off[x] = (float)h->extrapolation;
      continue;
    }
    double fl = floor(xo);
    int n = resize_coeffs(h, xo == fl ? 1 : xo - fl, c), pad = (n + 1) / 2;
    /* the n nearest of the positions -pad .. in + pad - 1, ties to the left */
    int64_t lo = (int64_t)fl - n / 2 + 1, hi = in + pad - n;
    lo = lo < -pad ? -pad : lo > hi ? hi : lo;
    for (;;) {
      if (lo < hi && fabs(xo - (double)(lo + n)) < fabs(xo - (double)lo)) lo++;
      else if (lo > -pad && fabs(xo - (double)(lo - 1)) <= fabs(xo - (double)(lo + n - 1))) lo--;
      else break;
    }
    double sum = 0;
    for (int j = 0; j < n; j++) {
      if (h->exclude_outside && (lo + j < 0 || lo + j >= in)) c[j] = 0;
      sum += c[j];
    }
    for (int j = 0; j < n; j++) {
      int64_t k = lo + j < 0 ? 0 : lo + j >= in ? in - 1 : lo + j;
      row[k] += (float)(h->exclude_outside ? c[j] / sum : c[j]);
    }
  }
}

/* Axis ax of e (shape *sh) resized to `out` through a table: e @ R' on
 * the last axis, R @ e (the axes after ax merged) on another. */
static const char *resize_axis(OnnxTr *t, const char *e, Shape *sh, int ax, const ResizeHow *h, int64_t out,
                               double owidth, double scale) {
  int64_t in = sh->dim[ax], dims[2] = {out, in}, bdims[2] = {out, 1}, after = 1;
  bool last = ax == sh->rank - 1;
  if (!ox_size_ok(t, 2, dims)) return NULL;
  OnnxTensor *R = ox_new_const(OX_FLOAT, 2, dims), *b = ox_new_const(OX_FLOAT, last ? 1 : 2, bdims);
  float *r = arena_alloc(sizeof(float) * (size_t)(in * out)), *o = arena_alloc(sizeof(float) * (size_t)out);
  resize_table(h, in, out, owidth, scale, r, o);
  bool identity = in == out, offset = false;
  for (int64_t i = 0; i < out; i++) {
    offset |= o[i] != 0;
    b->f[i] = o[i];
    for (int64_t j = 0; j < in; j++) {
      identity &= r[i * in + j] == (i == j);
      if (last) R->dims[0] = in, R->dims[1] = out, R->f[j * out + i] = r[i * in + j];
      else R->f[i * in + j] = r[i * in + j];
    }
  }
  if (identity && !offset) return e;
  const char *m = ox_table(t, R, arena_printf("%s_resize%d", t->node->out[0], ax));
  Shape o2 = *sh;
  o2.dim[ax] = out;
  if (last) e = arena_printf("%s @ %s", e, m);
  else {
    for (int i = ax + 1; i < sh->rank; i++) after *= sh->dim[i];
    Shape s3 = *sh;
    s3.dim[ax + 1] = after, s3.rank = ax + 2;
    const char *r3 = arena_printf("reshape(%s, %s)", e, ox_ints_str(s3.dim + 1, s3.rank - 1));
    s3.dim[ax] = out;
    e = arena_printf("%s @ %s", m, r3);
    if (offset) e = arena_printf("%s + %s", e, ox_table(t, b, arena_printf("%s_extrapolation%d", t->node->out[0], ax)));
    offset = false;
    e = arena_printf("reshape(%s, %s)", e, ox_ints_str(o2.dim + 1, o2.rank - 1));
  }
  if (offset) e = arena_printf("%s + %s", e, ox_table(t, b, arena_printf("%s_extrapolation%d", t->node->out[0], ax)));
  *sh = o2;
  return ox_named(t, e);
}

/* Resize and Upsample: nearest, linear and cubic, every coordinate mode
 * of opset 10 to 13. Whole factors up to 16 that repeat or interpolate
 * neighbours are slices and concatenations (upsample_axis), the rest a
 * table along the axis (resize_axis). */
static bool op_resize(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  bool upsample = !strcmp(t->node->op, "Upsample");
  int r = ox_orank(t, x);
  OnnxTensor *scales = NULL, *sizes = NULL, *roi = NULL;
  if (upsample && ox_attr(t, "scales")) {
    const OnnxAttr *a = ox_attr(t, "scales");
    int64_t n = a->nfloats;
    scales = ox_new_const(OX_FLOAT, 1, &n);
    for (int i = 0; i < a->nfloats; i++) scales->f[i] = a->floats[i];
  } else {
    int si = upsample || t->m->opset < 11 ? 1 : 2;
    OnnxVal *sv = ox_in(t, si), *zv = ox_in(t, si + 1), *rv = si == 2 ? ox_in(t, 1) : NULL;
    if (t->failed) return false;
    if (sv && sv->k && sv->k->count) scales = sv->k;
    else if (zv && zv->k) sizes = zv->k;
    else return ox_fail(t, "the scales or sizes must be constants");
    if (rv && !rv->k) return ox_fail(t, "the roi must be a constant");
    if (rv && rv->k->count) roi = rv->k;
  }
  if (x->k) return ox_fail(t, "a resize of a constant is not supported yet");
  if ((scales ? scales->count : sizes->count) != r) return ox_fail(t, "one scale an axis is needed");
  if (sizes && sizes->f) return ox_fail(t, "the sizes must be integers");
  if (roi && roi->count != 2 * r) return ox_fail(t, "the roi needs a start and an end an axis");
  if (ox_attr(t, "axes")) return ox_fail(t, "the axes attribute is not supported yet");
  if (ox_attr_i(t, "antialias", 0)) return ox_fail(t, "antialias is not supported yet");
  if (strcmp(ox_attr_s(t, "keep_aspect_ratio_policy", "stretch"), "stretch"))
    return ox_fail(t, "keep_aspect_ratio_policy '%s' is not supported yet", ox_attr_s(t, "keep_aspect_ratio_policy", ""));
  ResizeHow h = {ox_attr_s(t, "mode", "nearest"), ox_attr_s(t, "coordinate_transformation_mode", "half_pixel"),
                 ox_attr_s(t, "nearest_mode", "round_prefer_floor"), ox_attr_f(t, "cubic_coeff_a", -0.75),
                 ox_attr_f(t, "extrapolation_value", 0), {0, 1}, ox_attr_i(t, "exclude_outside", 0) != 0};
  if (upsample || t->m->opset < 11) h.coord = "asymmetric", h.nearest = "floor";
  if (!strcmp(h.mode, "bilinear")) h.mode = "linear";
  static const char *modes[] = {"nearest", "linear", "cubic"},
                    *coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                 "tf_half_pixel_for_nn", "tf_crop_and_resize"},
                    *nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  const char *const *lists[] = {modes, coords, nearests}, *given[] = {h.mode, h.coord, h.nearest},
                    *what[] = {"mode", "coordinate_transformation_mode", "nearest_mode"};
  size_t lens[] = {3, 6, 4};
  for (int l = 0; l < 3; l++) {
    size_t i = 0;
    while (i < lens[l] && strcmp(given[l], lists[l][i])) i++;
    if (i == lens[l]) return ox_fail(t, "%s '%s' is not supported", what[l], given[l]);
  }
  bool linear = !strcmp(h.mode, "linear"), half = !strcmp(h.coord, "half_pixel") || !strcmp(h.coord, "pytorch_half_pixel");
  const char *e = ox_use(t, x, false);
  Shape sh = x->sh;
  for (int i = r - 1; i >= 0; i--) { /* the last axis first, as the reference */
    int64_t n = sh.dim[i + t->off];
    bool crop = !strcmp(h.coord, "tf_crop_and_resize");
    if (crop) h.roi[0] = roi ? ox_kget(roi, i) : 0, h.roi[1] = roi ? ox_kget(roi, i + r) : 1;
    double f = scales ? ox_kget(scales, i) : 0;
    if (n == DIM_BATCH) { /* the batch: sizes or scales say it stays */
      if ((scales && f != 1) || (crop && (h.roi[0] != 0 || h.roi[1] != 1)))
        return ox_fail(t, "a resize of the batch axis is not supported");
      continue;
    }
    if (!(f > 0 || sizes) || (sizes && sizes->i[i] <= 0)) return ox_fail(t, "scales and sizes must be positive");
    double want = sizes ? (double)sizes->i[i] : floor(f * (double)n);
    if (!(want >= 1 && want <= (double)(1 << 24))) return ox_fail(t, "an axis of %lld resized to %g", (long long)n, want);
    int64_t out = (int64_t)want;
    double scale = sizes ? (double)out / (double)n : f, owidth = scale * (double)n;
    int ax = ox_axis(t, i, r);
    if (ax < 0) return false;
    bool whole = out == n * (int64_t)scale && scale == floor(scale) && scale >= 2 && scale <= 16 && n > 1;
    bool slices = whole && (linear ? half || !strcmp(h.coord, "asymmetric")
                            : !strcmp(h.mode, "nearest") &&
                                  (half ? !strcmp(h.nearest, "round_prefer_floor") || !strcmp(h.nearest, "round_prefer_ceil")
                                        : !strcmp(h.coord, "asymmetric") &&
                                              (!strcmp(h.nearest, "floor") || !strcmp(h.nearest, "round_prefer_floor"))));
    e = slices ? upsample_axis(t, e, &sh, ax, (int64_t)scale, linear, half)
               : resize_axis(t, e, &sh, ax, &h, out, owidth, scale);
    if (!e) return false;
  }
  return ox_out(t, 0, x->dt, sh, e), true;
}

static const struct { const char *onnx; Translate *fn; const char *arg; } ops[] = {
  {"Reshape", op_reshape, NULL}, {"Shape", op_shape, NULL}, {"Size", op_size, NULL}, {"Squeeze", op_unsqueeze, "squeeze"},
  {"Unsqueeze", op_unsqueeze, "unsqueeze"}, {"Flatten", op_flatten, NULL}, {"Transpose", op_transpose, NULL},
  {"Resize", op_resize, NULL}, {"Upsample", op_resize, NULL},
  {"Concat", op_concat, NULL}, {"Gather", op_gather, NULL}, {"GatherElements", op_gather_elements, NULL}, {"Slice", op_slice, NULL}, {"Split", op_split, NULL},
  {"Tile", op_tile, NULL}, {"Pad", op_pad, NULL}, {"Cast", op_cast, NULL}, {"CastLike", op_cast, NULL}, {"Constant", op_constant, NULL},
  {"ConstantOfShape", op_constant_of_shape, NULL}, {"Expand", op_expand, NULL},
};

int onnx_shape_node(OnnxTr *t, const char *op) {
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i].onnx)) return t ? ops[i].fn(t, ops[i].arg) : 1;
  return -1;
}
