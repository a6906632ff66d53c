/* onnx_ops.c — the translation of each ONNX op into .nn (onnx.c drives it):
 * the arithmetic, the windows, the products, the reductions.
 *
 * One function an op or a family of ops, and the table at the end
 * (onnx_node; onnx_shape.c has the ops that move data or fold, and a
 * table of its own). What is known at import is folded; everything else
 * becomes a .nn statement. An op or an attribute value that nnc cannot
 * express is an error that names the node, the op and the opset.
 * docs/onnx.md lists what each op supports.
 */
#include <math.h>
#include <string.h>
#include "nnc.h"

/* Folds an elementwise op over constants. */
static bool fold_binary(OnnxTr *t, const char *op, OnnxVal *a, OnnxVal *b) {
  Shape o;
  if (!ox_bshape(t, a->sh, b->sh, &o)) return false;
  bool fl = a->k->f || b->k->f;
  if (!ox_size_ok(t, o.rank, o.dim)) return false;
  OnnxTensor *k = ox_new_const(fl ? (a->k->f ? a->k->type : b->k->type) : OX_INT64, o.rank, o.dim);
  for (int64_t i = 0; i < k->count; i++) {
    int64_t ia = 0, ib = 0, rem = i, sa = 1, sb = 1;
    for (int d = o.rank - 1; d >= 0; d--) {
      int64_t idx = rem % o.dim[d];
      rem /= o.dim[d];
      int da = d - (o.rank - a->sh.rank), db = d - (o.rank - b->sh.rank);
      if (da >= 0) ia += (a->sh.dim[da] == 1 ? 0 : idx) * sa, sa *= a->sh.dim[da];
      if (db >= 0) ib += (b->sh.dim[db] == 1 ? 0 : idx) * sb, sb *= b->sh.dim[db];
    }
    if (!fl) { /* integers exactly, an overflow refused */
      int64_t p = a->k->i[ia], q = b->k->i[ib], r = 0;
      int64_t cp = nsym_times(p), cq = nsym_times(q); /* c times the batch: times or over a positive number */
      if (cp || cq) {
        int64_t c = cp ? cp : cq, n = cp ? q : p;
        if (!strcmp(op, "*") && !(cp && cq) && n >= 1 && n < NSYM_MAX / c) k->i[i] = NSYM + c * n - 1;
        else if (!strcmp(op, "/") && cp && !cq && q >= 1 && cp % q == 0) k->i[i] = NSYM + cp / q - 1;
        else return ox_fail(t, "arithmetic on the batch dimension other than times or over a number is not supported");
        continue;
      }
      bool over = !strcmp(op, "+")   ? __builtin_add_overflow(p, q, &r)
                  : !strcmp(op, "-")   ? __builtin_sub_overflow(p, q, &r)
                  : !strcmp(op, "*")   ? __builtin_mul_overflow(p, q, &r)
                  : !strcmp(op, "/")   ? p == INT64_MIN && q == -1
                  : !strcmp(op, "pow") ? !(fabs(pow((double)p, (double)q)) < 9.2e18)
                                       : false;
      if (over) return ox_fail(t, "an integer overflow in a constant computed at import");
      if (!strcmp(op, "/")) r = q == 0 ? 0 : p / q - (p % q != 0 && (p < 0) != (q < 0)); /* floor */
      else if (!strcmp(op, "pow")) r = (int64_t)pow((double)p, (double)q);
      else if (!strcmp(op, "max")) r = p > q ? p : q;
      else if (!strcmp(op, "min")) r = p < q ? p : q;
      k->i[i] = r;
      continue;
    }
    double x = ox_kget(a->k, ia), y = ox_kget(b->k, ib);
    k->f[i] = !strcmp(op, "+")   ? x + y
              : !strcmp(op, "-") ? x - y
              : !strcmp(op, "*") ? x * y
              : !strcmp(op, "/") ? x / y
              : !strcmp(op, "max") ? (x != x || x >= y ? x : y)
              : !strcmp(op, "min") ? (x != x || x <= y ? x : y)
                                   : pow(x, y);
  }
  ox_out_const(t, 0, k);
  return true;
}

/* Opsets before 7: with broadcast=1, B's axes line up with A's from
 * `axis` on (ones after them), not from the right. */
static OnnxVal *legacy_broadcast(OnnxTr *t, OnnxVal *a, OnnxVal *b) {
  const OnnxAttr *ax = ox_attr(t, "axis");
  if (t->m->opset >= 7 || !ox_attr_i(t, "broadcast", 0) || !ax || !b->k) return b;
  int ra = ox_orank(t, a);
  int64_t at = ax->i < 0 ? ax->i + ra : ax->i, rank = ra - at;
  if (at < 0 || rank < b->k->rank || rank > NN_MAX_RANK) return ox_fail(t, "axis %lld does not fit", (long long)ax->i), b;
  OnnxTensor *k = ox_new_const(b->k->type, b->k->rank, b->k->dims);
  for (int i = b->k->rank; i < rank; i++) k->dims[i] = 1;
  k->rank = (int)rank, k->name = b->k->name;
  if (k->f) memcpy(k->f, b->k->f, sizeof(double) * (size_t)k->count);
  else memcpy(k->i, b->k->i, sizeof(int64_t) * (size_t)k->count);
  return ox_tv_const(k);
}

static bool is_int(const OnnxVal *v) { return v->k ? !v->k->f : v->dt == DT_I32; }

/* An integer value as an i32 expression: computed, a literal, or a
 * table of the constant's values (exact up to 2^24) converted by int(). */
static const char *int_use(OnnxTr *t, OnnxVal *v) {
  if (!v->k) return ox_use(t, v, false);
  OnnxTensor *k = v->k;
  for (int64_t i = 0; i < k->count; i++) {
    double x = ox_kget(k, i);
    if (x != trunc(x) || x < (k->count == 1 ? INT32_MIN : -16777216.0) || x > (k->count == 1 ? INT32_MAX : 16777216.0))
      return ox_fail(t, "the integer constant %.17g is out of the range nnc computes integers in", x), NULL;
  }
  if (k->count == 1) return arena_printf(ox_kget(k, 0) < 0 ? "(%lld)" : "%lld", (long long)ox_kget(k, 0));
  if (k->rank == 0) return ox_fail(t, "a scalar constant used as a tensor: not supported yet"), NULL;
  OnnxTensor *f = ox_new_const(OX_FLOAT, k->rank, k->dims);
  for (int64_t i = 0; i < k->count; i++) f->f[i] = ox_kget(k, i);
  return arena_printf("int(%s)", ox_table(t, f, *k->name ? k->name : "c"));
}

/* An operand aligned to `rank` (ox_align), integer constants by int_use. */
static const char *operand(OnnxTr *t, OnnxVal *v, int rank, Shape *sh) {
  if (v->k && !v->k->f) return *sh = v->sh, int_use(t, v);
  return ox_align(t, v, rank, sh);
}

/* A graph output that is a constant (a Shape's result, say) where each
 * input is one whole sample, or one as large as the batch (fill): the same
 * values for every sample, as the constant plus zeros with the batch axis
 * that input x gives (x * 0 converted by int(), which makes even a NaN or
 * an infinity 0); NULL for a constant without the batch axis in a graph
 * with one, which nnc's outputs cannot return. */
const char *ox_const_output(OnnxTr *t, OnnxVal *v, OnnxVal *x) {
  OnnxTensor *k = v->fill ? v->bk : v->k;
  if (!k || (v->fill && v->bax) || (!v->fill && !t->off)) return NULL; /* no batch axis to give it, say */
  int rank = v->fill ? k->rank - 1 : k->rank;
  int64_t numel = 1, dims[NN_MAX_RANK], ones[NN_MAX_RANK];
  for (int d = 1; d < x->sh.rank; d++) numel *= x->sh.dim[d];
  for (int d = 0; d < rank; d++) dims[d] = k->dims[d + v->fill], ones[d] = 1;
  const char *z = arena_printf("reshape(slice(reshape(%s, [%lld]), axis: 1, start: 0, end: 1), %s)", ox_use(t, x, false),
                               (long long)numel, ox_ints_str(ones, rank));
  z = x->dt == DT_I32 ? arena_printf("%s * 0", z) : arena_printf("int(%s * 0.0)", z);
  OnnxTensor *c = ox_new_const(k->type, rank, dims);
  if (c->f) memcpy(c->f, k->f, sizeof(double) * (size_t)c->count);
  else memcpy(c->i, k->i, sizeof(int64_t) * (size_t)c->count);
  c->name = k->name;
  if (!c->f) {
    OnnxVal cv = {.k = c, .sh = {.rank = rank}};
    const char *e = int_use(t, &cv);
    return e ? arena_printf("%s + %s", e, z) : NULL;
  }
  const char *e = c->count == 1 ? ox_num_str(c->f[0]) : ox_table(t, c, *c->name ? c->name : "c");
  return arena_printf("%s + float(%s)", e, z);
}

static bool binary(OnnxTr *t, const char *op) {
  OnnxVal *a = ox_need(t, 0), *b = ox_need(t, 1);
  if (!a || !b) return false;
  b = legacy_broadcast(t, a, b);
  if (t->failed) return false;
  if (a->k && b->k) return fold_binary(t, op, a, b);
  bool ai = is_int(a), bi = is_int(b), pw = !strcmp(op, "pow");
  if (ai != bi && !pw) return ox_fail(t, "an integer and a floating-point operand");
  int rank = a->sh.rank > b->sh.rank ? a->sh.rank : b->sh.rank;
  Shape sa, sb, o;
  const char *x = operand(t, a, rank, &sa), *y = operand(t, b, rank, &sb);
  if (t->failed || !ox_bshape(t, sa, sb, &o)) return false;
  DType dt = ai && bi ? DT_I32 : a->k ? b->dt : a->dt;
  if (pw && ai != bi) { /* the base's type: the integer side as a float */
    const char *fx = ai ? (a->k ? ox_num_str(ox_kget(a->k, 0)) : arena_printf("float(%s)", x)) : x,
               *fy = bi ? (b->k ? ox_num_str(ox_kget(b->k, 0)) : arena_printf("float(%s)", y)) : y;
    if ((a->k && ai && a->k->count > 1) || (b->k && bi && b->k->count > 1))
      return ox_fail(t, "an integer constant tensor beside a floating-point operand is not supported yet");
    const char *e = arena_printf("pow(%s, %s)", fx, fy);
    return ox_out(t, 0, ai ? DT_I32 : a->dt, o, ai ? arena_printf("int(%s)", e) : e), true;
  }
  if (pw) return ox_out(t, 0, dt, o, arena_printf("pow(%s, %s)", x, y)), true;
  if (!strcmp(op, "max") || !strcmp(op, "min"))
    return ox_out(t, 0, dt, o, arena_printf("%simum(%s, %s)", op, x, y)), true;
  return ox_out(t, 0, dt, o, arena_printf("%s %s %s", x, op, y)), true;
}

static bool unary(OnnxTr *t, const char *fmt) {
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  bool neg = !strcmp(fmt, "-$"), ab = !strcmp(fmt, "abs($)"), sg = !strcmp(fmt, "sign($)"), re = !strcmp(fmt, "relu($)");
  if (is_int(x) && !neg && !ab && !sg && !re) return ox_fail(t, "integer tensors are not supported by this op yet");
  if (x->k && !x->k->f) { /* an integer constant: folded */
    OnnxTensor *k = ox_new_const(x->k->type, x->k->rank, x->k->dims);
    for (int64_t i = 0; i < k->count; i++) {
      int64_t v = x->k->i[i];
      if (v == INT64_MIN) return ox_fail(t, "an integer overflow in a constant computed at import");
      k->i[i] = neg ? -v : ab ? (v < 0 ? -v : v) : sg ? (v > 0) - (v < 0) : (v > 0 ? v : 0);
    }
    return ox_out_const(t, 0, k), true;
  }
  const char *e = ox_use(t, x, false);
  char *expr = arena_strdup("");
  for (const char *p = fmt; *p; p++) expr = *p == '$' ? arena_printf("%s%s", expr, e) : arena_printf("%s%c", expr, *p);
  ox_out(t, 0, x->dt, x->sh, expr);
  return true;
}

/* ------------------------------------------------------ images (NCHW) */

/* x [N, C, spatial...] (nnc; 1 or 2 spatial axes) as an NHWC image
 * expression [N, H, W, C]; *h, *w, *c its sizes. */
static const char *to_nhwc(OnnxTr *t, OnnxVal *x, int64_t *h, int64_t *w, int64_t *c) {
  int r = ox_orank(t, x);
  if (x->k || r < 3) return ox_fail(t, "needs a computed image [N, C, H, W] or sequence [N, C, L]"), NULL;
  if (r > 4) return ox_fail(t, "windows over more than 2 spatial axes are not supported"), NULL;
  if (x->dt == DT_I32) return ox_fail(t, "integer images are not supported"), NULL;
  const int64_t *d = x->sh.dim + t->off;
  if (t->off && d[0] != 1) return ox_fail(t, "a graph without a free batch needs its first dimension of images to be 1"), NULL;
  *c = d[1], *h = r == 4 ? d[2] : 1, *w = r == 4 ? d[3] : d[2];
  const char *e = ox_use(t, x, false);
  if (t->off || r == 3) e = arena_printf("reshape(%s, [%lld, %lld, %lld])", e, (long long)*c, (long long)*h, (long long)*w);
  return arena_printf("transpose(%s, [0, 2, 3, 1])", e);
}

/* An NHWC result [N, h, w, c] back in x's layout. */
static OnnxVal *from_nhwc(OnnxTr *t, OnnxVal *x, const char *e, int64_t h, int64_t w, int64_t c) {
  int r = ox_orank(t, x);
  e = arena_printf("transpose(%s, [0, 3, 1, 2])", e);
  Shape sh = x->sh;
  int64_t *d = sh.dim + t->off;
  d[1] = c;
  if (r == 4) d[2] = h, d[3] = w;
  else d[2] = w;
  if (t->off || r == 3) e = arena_printf("reshape(%s, %s)", e, ox_ints_str(sh.dim + 1, sh.rank - 1));
  return ox_out(t, 0, x->dt, sh, e);
}

/* The window attributes of a Conv or a pooling: kernel k, strides, the
 * padding p (symmetric, nnc's: the smaller side's) and ex, what one side
 * has more (ex[j][0] before, ex[j][1] after), dilations. */
static bool window_attrs(OnnxTr *t, int ns, int64_t h, int64_t w, int64_t k[2], int64_t s[2], int64_t p[2],
                         int64_t d[2], int64_t ex[2][2]) {
  const OnnxAttr *ks = ox_attr(t, "kernel_shape"), *st = ox_attr(t, "strides"), *pd = ox_attr(t, "pads"),
                 *dl = ox_attr(t, "dilations");
  int64_t in[2] = {ns == 2 ? h : w, w};
  for (int i = 0; i < ns; i++) {
    int j = ns == 2 ? i : 1; /* a sequence is an image of height 1 */
    if (ks && ks->nints != ns) return ox_fail(t, "kernel_shape has %d entries for %d spatial axes", ks->nints, ns);
    if (ks) k[j] = ks->ints[i];
    s[j] = st && i < st->nints ? st->ints[i] : 1;
    d[j] = dl && i < dl->nints ? dl->ints[i] : 1;
    int64_t b = pd && pd->nints == 2 * ns ? pd->ints[i] : 0, e = pd && pd->nints == 2 * ns ? pd->ints[i + ns] : 0;
    const char *ap = ox_attr_s(t, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) {
      int64_t o = (in[i] + s[j] - 1) / s[j], need = (o - 1) * s[j] + d[j] * (k[j] - 1) + 1 - in[i];
      if (need < 0) need = 0;
      b = !strcmp(ap, "SAME_LOWER") ? need - need / 2 : need / 2, e = need - b;
    } else if (!strcmp(ap, "VALID")) b = e = 0;
    if (k[j] < 1 || s[j] < 1 || d[j] < 1 || b < 0 || e < 0) return ox_fail(t, "kernel, strides, dilations and pads out of range");
    p[j] = b < e ? b : e, ex[j][0] = b - p[j], ex[j][1] = e - p[j];
  }
  if (ns == 1) k[0] = s[0] = d[0] = 1, p[0] = 0, ex[0][0] = ex[0][1] = 0;
  if (ox_attr_i(t, "ceil_mode", 0)) /* the last window may start in the padded image and end past it */
    for (int j = 2 - ns; j < 2; j++) {
      int64_t in = j == 0 ? h : w, n = in + 2 * p[j] + ex[j][0] + ex[j][1] - d[j] * (k[j] - 1) - 1;
      int64_t out = (n + s[j] - 1) / s[j] + 1;
      if ((out - 1) * s[j] >= in + p[j] + ex[j][0]) out--;
      ex[j][1] += (out - 1) * s[j] - n;
    }
  return true;
}

/* A Conv's weights [F, C/g, kh, kw] (a ConvTranspose's [C, F/g, kh, kw])
 * as nnc's [kh, kw, C/g, F] ([kh, kw, F/g, C]), and the bias: the values
 * of the next call of `layer`. */
static bool window_weights(OnnxTr *t, const char *layer, const OnnxTensor *W, const OnnxTensor *B, const int64_t k[2],
                           int64_t f) {
  int64_t a = W->dims[0], b = W->dims[1], kk = k[0] * k[1], hw[4] = {k[0], k[1], b, a};
  OnnxTensor *out = ox_new_const(W->type, 4, hw);
  for (int64_t i = 0; i < a; i++)
    for (int64_t j = 0; j < b; j++)
      for (int64_t x = 0; x < kk; x++) out->f[(x * b + j) * a + i] = W->f[(i * b + j) * kk + x];
  const char *inst = ox_instance(t, layer);
  ox_add_value(t, arena_printf("%s.W", inst), out);
  if (B && (B->count != f || !B->f)) return ox_fail(t, "the bias must have one value a filter");
  if (B) ox_add_value(t, arena_printf("%s.b", inst), B);
  return true;
}

static int64_t win_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) { return (n + 2 * p - d * (k - 1) - 1) / s + 1; }

/* The NHWC image e [N, h, w, c] padded by ex (before, after, per axis)
 * with `value`; *h, *w grow. */
static const char *pad_nhwc(const char *e, int64_t ex[2][2], const char *value, int64_t *h, int64_t *w) {
  for (int j = 0; j < 2; j++) {
    int64_t *n = j ? w : h, b = ex[j][0], a = ex[j][1];
    if (!b && !a) continue;
    e = arena_printf("pad(%s, %d, %lld, %lld%s%s)", e, j + 1, (long long)b, (long long)a, strcmp(value, "0.0") ? ", value: " : "",
                     strcmp(value, "0.0") ? value : "");
    *n += b + a;
  }
  return e;
}

static bool op_conv(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *W = ox_konst(t, 1, "the weights"), *B = ox_in(t, 2) ? ox_konst(t, 2, "the bias") : NULL;
  if (!x || !W || t->failed) return false;
  int64_t h, w, c, k[2], s[2], p[2], d[2], ex[2][2];
  const char *e = to_nhwc(t, x, &h, &w, &c);
  if (!e) return false;
  int ns = ox_orank(t, x) - 2, groups = (int)ox_attr_i(t, "group", 1);
  if (W->rank != ns + 2 || !W->f) return ox_fail(t, "the weights must be [filters, channels, kernel...]");
  int64_t f = W->dims[0], cg = W->dims[1];
  k[0] = ns == 2 ? W->dims[2] : 1, k[1] = W->dims[ns + 1];
  if (!window_attrs(t, ns, h, w, k, s, p, d, ex)) return false;
  e = pad_nhwc(e, ex, "0.0", &h, &w); /* the side with more padding: its excess as zeros */
  if (groups < 1 || cg * groups != c) return ox_fail(t, "weights for %lld channels in %d groups; the input has %lld", (long long)cg, groups, (long long)c);
  if (!window_weights(t, "conv2d", W, B, k, f)) return false;
  e = arena_printf("conv2d(%s, %lld, [%lld, %lld], stride: [%lld, %lld], padding: [%lld, %lld], dilation: [%lld, %lld]%s%s)",
                   e, (long long)f, (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1], (long long)p[0],
                   (long long)p[1], (long long)d[0], (long long)d[1], groups > 1 ? arena_printf(", groups: %d", groups) : "",
                   B ? "" : ", use_bias: false");
  from_nhwc(t, x, e, win_out(h, k[0], s[0], p[0], d[0]), win_out(w, k[1], s[1], p[1], d[1]), f);
  return true;
}

static bool op_conv_transpose(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *W = ox_konst(t, 1, "the weights"), *B = ox_in(t, 2) ? ox_konst(t, 2, "the bias") : NULL;
  if (!x || !W || t->failed) return false;
  int64_t h, w, c, k[2] = {1, 1}, s[2] = {1, 1}, d[2] = {1, 1}, p[2] = {0, 0}, op[2] = {0, 0}, o[2];
  int64_t crop[2] = {0, 0}, made[2] = {1, 1};
  const char *e = to_nhwc(t, x, &h, &w, &c);
  if (!e) return false;
  int ns = ox_orank(t, x) - 2, groups = (int)ox_attr_i(t, "group", 1);
  if (W->rank != ns + 2 || !W->f) return ox_fail(t, "the weights must be [channels, filters/group, kernel...]");
  int64_t cg = W->dims[1], f = cg * groups, in[2] = {h, w};
  if (groups < 1 || W->dims[0] != c || c % groups) return ox_fail(t, "weights for %lld channels; the input has %lld", (long long)W->dims[0], (long long)c);
  const OnnxAttr *st = ox_attr(t, "strides"), *dl = ox_attr(t, "dilations"), *pd = ox_attr(t, "pads"),
                 *opd = ox_attr(t, "output_padding"), *osh = ox_attr(t, "output_shape");
  const char *ap = ox_attr_s(t, "auto_pad", "NOTSET");
  for (int i = 0; i < ns; i++) {
    int j = ns == 2 ? i : 1; /* a sequence is an image of height 1 */
    k[j] = W->dims[2 + i];
    s[j] = st && i < st->nints ? st->ints[i] : 1, d[j] = dl && i < dl->nints ? dl->ints[i] : 1;
    op[j] = opd && i < opd->nints ? opd->ints[i] : 0;
    int64_t full = (in[j] - 1) * s[j] + d[j] * (k[j] - 1) + 1 + op[j], b = 0, end = 0;
    if (osh && osh->nints >= ns) {
      int64_t total = full - osh->ints[osh->nints - ns + i];
      if (total < 0 && -total <= 64) op[j] -= total, full -= total, total = 0; /* larger: rows of the bias alone at the end */
      b = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2, end = total - b;
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
      int64_t total = full - in[j] * s[j];
      b = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2, end = total - b;
    } else if (pd && pd->nints == 2 * ns) {
      b = pd->ints[i], end = pd->ints[i + ns];
    }
    if (b < 0 || end < 0 || k[j] < 1 || s[j] < 1 || d[j] < 1)
      return ox_fail(t, "kernel, strides, dilations and pads out of range (an output larger than the full one is not supported)");
    p[j] = b < end ? b : end, o[j] = full - b - end, crop[j] = b - p[j]; /* the larger side: cropped by a slice */
    made[j] = full - 2 * p[j];
    if (o[j] < 1) return ox_fail(t, "the pads leave no output");
  }
  if (ns == 1) o[0] = 1;
  if (!window_weights(t, "conv2d_transpose", W, B, k, f)) return false;
  e = arena_printf("conv2d_transpose(%s, %lld, [%lld, %lld], stride: [%lld, %lld], padding: [%lld, %lld], "
                   "output_padding: [%lld, %lld], dilation: [%lld, %lld]%s%s)", e, (long long)f, (long long)k[0],
                   (long long)k[1], (long long)s[0], (long long)s[1], (long long)p[0], (long long)p[1], (long long)op[0],
                   (long long)op[1], (long long)d[0], (long long)d[1], groups > 1 ? arena_printf(", groups: %d", groups) : "",
                   B ? "" : ", use_bias: false");
  for (int j = 0; j < 2; j++) /* the side padded more: its excess sliced off */
    if (made[j] != o[j])
      e = arena_printf("slice(%s, axis: %d, start: %lld, end: %lld)", e, j + 1, (long long)crop[j], (long long)(crop[j] + o[j]));
  from_nhwc(t, x, e, o[0], o[1], f);
  return true;
}

static bool op_pool(OnnxTr *t, const char *arg) {
  bool max = !strcmp(arg, "max");
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  if (t->node->nout > 1 && *t->node->out[1]) return ox_fail(t, "the indices output is not supported");
  int64_t h, w, c, k[2] = {1, 1}, s[2], p[2], d[2], ex[2][2];
  const char *e = to_nhwc(t, x, &h, &w, &c);
  if (!e || !ox_attr(t, "kernel_shape")) return e ? ox_fail(t, "no kernel_shape") : false;
  int ns = ox_orank(t, x) - 2;
  if (!window_attrs(t, ns, h, w, k, s, p, d, ex)) return false;
  bool counted = !max && ox_attr_i(t, "count_include_pad", 0), uneven = ex[0][0] || ex[0][1] || ex[1][0] || ex[1][1];
  const char *count = NULL; /* an average over the window's cells of the image alone: sum / count */
  if (counted && ox_attr_i(t, "ceil_mode", 0) && (ex[0][1] > ex[0][0] || ex[1][1] > ex[1][0]))
    return ox_fail(t, "count_include_pad with a ceil_mode that changes the output size is not supported yet");
  if (uneven || counted || pool_window_empty(h, k[0], s[0], p[0], p[0], d[0]) ||
      pool_window_empty(w, k[1], s[1], p[1], p[1], d[1])) { /* padding written out: any size, either side */
    for (int j = 0; j < 2; j++) ex[j][0] += p[j], ex[j][1] += p[j], p[j] = 0;
    int64_t h1 = h, w1 = w;
    if (!max && !counted) count = pad_nhwc(arena_printf("%s * 0.0 + 1.0", e), ex, "0.0", &h1, &w1);
    e = pad_nhwc(e, ex, max ? (x->dt == DT_F64 ? "-1.7976931348623157e308" : "-3.4028234663852886e38") : "0.0", &h, &w);
  }
  int64_t oh = win_out(h, k[0], s[0], p[0], d[0]), ow = win_out(w, k[1], s[1], p[1], d[1]);
  if (oh < 1 || ow < 1) return ox_fail(t, "the window is larger than the image");
  const char *form = arena_printf("%s_pool2d(%%s, [%lld, %lld], stride: [%lld, %lld], padding: [%lld, %lld]%s)",
                                  max ? "max" : "avg", (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1],
                                  (long long)p[0], (long long)p[1],
                                  d[0] != 1 || d[1] != 1 ? arena_printf(", dilation: [%lld, %lld]", (long long)d[0], (long long)d[1]) : "");
  e = arena_printf(form, e);
  if (count) e = arena_printf("%s / %s", e, arena_printf(form, count));
  from_nhwc(t, x, e, oh, ow, c);
  return true;
}

static bool op_global_pool(OnnxTr *t, const char *arg) {
  bool max = !strcmp(arg, "max");
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  if (x->k || r < 3) return ox_fail(t, "needs a computed tensor [N, C, spatial...]");
  int64_t axes[NN_MAX_RANK];
  Shape sh = x->sh;
  for (int i = 2; i < r; i++) axes[i - 2] = i + t->off, sh.dim[i + t->off] = 1;
  return ox_out(t, 0, x->dt, sh, arena_printf("%s(%s, axis: %s, keepdims: true)", max ? "max" : "mean",
                                              ox_use(t, x, false), ox_ints_str(axes, r - 2))), true;
}

static bool op_batch_norm(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *k[4];
  for (int i = 0; i < 4; i++) k[i] = ox_konst(t, i + 1, "the scale, bias, mean and variance");
  if (!x || t->failed) return false;
  if (ox_attr_i(t, "training_mode", 0) || (t->node->nout > 1 && *t->node->out[1]))
    return ox_fail(t, "training mode is not supported (the model's own train block trains it)");
  int r = ox_orank(t, x);
  if (x->k || r < 2) return ox_fail(t, "needs a computed tensor [N, C, ...]");
  int64_t c = x->sh.dim[1 + t->off];
  for (int i = 0; i < 4; i++)
    if (k[i]->count != c || !k[i]->f) return ox_fail(t, "input %d must have one value a channel (%lld)", i + 1, (long long)c);
  const char *inst = ox_instance(t, "batch_norm");
  static const char *names[4] = {"gamma", "beta", "moving_mean", "moving_var"};
  for (int i = 0; i < 4; i++) ox_add_value(t, arena_printf("%s.%s", inst, names[i]), k[i]);
  const char *args = arena_printf("momentum: %s, epsilon: %s", ox_num_str(ox_attr_f(t, "momentum", 0.9)),
                                  ox_num_str((float)ox_attr_f(t, "epsilon", 1e-5)));
  if (r == 2) return ox_out(t, 0, x->dt, x->sh, arena_printf("batch_norm(%s, %s)", ox_use(t, x, false), args)), true;
  /* channels last for batch_norm, then back */
  int64_t p[NN_MAX_RANK], q[NN_MAX_RANK];
  int n = x->sh.rank, ca = 1 + t->off;
  for (int i = 0, j = 0; i < n; i++)
    if (i != ca) p[j++] = i;
  p[n - 1] = ca;
  for (int i = 0; i < n; i++) q[p[i]] = i;
  return ox_out(t, 0, x->dt, x->sh,
                arena_printf("transpose(batch_norm(transpose(%s, %s), %s), %s)", ox_use(t, x, false), ox_ints_str(p, n),
                             args, ox_ints_str(q, n))), true;
}

/* A copy of constant k as a tensor of the given dims (the same count). */
static OnnxTensor *as_dims(const OnnxTensor *k, int rank, const int64_t *dims) {
  OnnxTensor *o = ox_new_const(k->type, rank, dims);
  for (int64_t i = 0; i < o->count; i++) o->f[i] = k->f[i];
  return o;
}

/* LayerNormalization (opset 17): layer_norm over the axes from `axis` on,
 * merged into one by a reshape when they are several. */
static bool op_layer_norm(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *scale = ox_konst(t, 1, "the scale"), *bias = ox_in(t, 2) ? ox_konst(t, 2, "the bias") : NULL;
  if (!x || !scale || t->failed) return false;
  int r = ox_orank(t, x);
  int64_t a = ox_attr_i(t, "axis", -1);
  if (a < 0) a += r;
  if (x->k || a < 0 || a >= r) return ox_fail(t, "needs a computed tensor and an axis in range");
  int ax = ox_axis(t, a, r);
  if (ax < 0) return false;
  int64_t d = 1;
  for (int i = ax; i < x->sh.rank; i++) d *= x->sh.dim[i];
  if (!scale->f || scale->count != d || (bias && (!bias->f || bias->count != d)))
    return ox_fail(t, "the scale and bias must have one value an element of the normalized axes (%lld)", (long long)d);
  const char *inst = ox_instance(t, "layer_norm");
  ox_add_value(t, arena_printf("%s.gamma", inst), as_dims(scale, 1, &d));
  OnnxTensor *b = ox_new_const(scale->type, 1, &d);
  for (int64_t i = 0; i < d; i++) b->f[i] = bias ? bias->f[i] : 0;
  ox_add_value(t, arena_printf("%s.beta", inst), b);
  const char *e = ox_use(t, x, false), *eps = ox_num_str((float)ox_attr_f(t, "epsilon", 1e-5));
  int64_t flat[NN_MAX_RANK];
  for (int i = 1; i < ax; i++) flat[i - 1] = x->sh.dim[i];
  flat[ax - 1] = d;
  const char *fl = ax == x->sh.rank - 1 ? e : arena_printf("reshape(%s, %s)", e, ox_ints_str(flat, ax));
  const char *y = arena_printf("layer_norm(%s, epsilon: %s)", fl, eps);
  ox_out(t, 0, x->dt, x->sh, ax == x->sh.rank - 1 ? y : arena_printf("reshape(%s, %s)", y, ox_ints_str(x->sh.dim + 1, x->sh.rank - 1)));
  /* Mean and InvStdDev: the normalized axes kept as 1s */
  Shape kept = x->sh;
  for (int i = ax; i < kept.rank; i++) kept.dim[i] = 1;
  const char *back = ox_ints_str(kept.dim + 1, kept.rank - 1), *m = NULL;
  if ((t->node->nout > 1 && *t->node->out[1]) || (t->node->nout > 2 && *t->node->out[2])) {
    m = ox_name(t, arena_printf("%s_mean", t->node->out[0]));
    ox_stmt(t, m, arena_printf("mean(%s, axis: %d, keepdims: true)", fl, ax));
  }
  if (t->node->nout > 1 && *t->node->out[1]) ox_out(t, 1, x->dt, kept, arena_printf("reshape(%s, %s)", m, back));
  if (t->node->nout > 2 && *t->node->out[2])
    ox_out(t, 2, x->dt, kept,
           arena_printf("reshape(1.0 / sqrt(mean((%s - %s) * (%s - %s), axis: %d, keepdims: true) + %s), %s)", fl, m, fl, m,
                        ax, eps, back));
  return !t->failed;
}

/* InstanceNormalization: each sample's channel normalized over its
 * spatial axes, then scaled and shifted by the channel's constants. */
static bool op_instance_norm(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  OnnxTensor *scale = ox_konst(t, 1, "the scale"), *bias = ox_konst(t, 2, "the bias");
  if (!x || !scale || !bias || t->failed) return false;
  int r = ox_orank(t, x);
  if (x->k || r < 3 || t->off) return ox_fail(t, "needs a computed tensor [N, C, D1, ...] with N the batch");
  int64_t c = x->sh.dim[1];
  if (!scale->f || !bias->f || scale->count != c || bias->count != c)
    return ox_fail(t, "the scale and bias must have one value a channel (%lld)", (long long)c);
  int64_t dims[NN_MAX_RANK], axes[NN_MAX_RANK];
  dims[0] = c;
  for (int i = 2; i < r; i++) dims[i - 1] = 1, axes[i - 2] = i;
  const char *s = ox_use(t, ox_tv_const(as_dims(scale, r - 1, dims)), false);
  const char *b = ox_use(t, ox_tv_const(as_dims(bias, r - 1, dims)), false);
  const char *ax = ox_ints_str(axes, r - 2), *e = ox_use(t, x, false);
  const char *dev = ox_name(t, arena_printf("%s_centered", t->node->out[0]));
  ox_stmt(t, dev, arena_printf("%s - mean(%s, axis: %s, keepdims: true)", e, e, ax));
  return ox_out(t, 0, x->dt, x->sh,
                arena_printf("%s / sqrt(mean(%s * %s, axis: %s, keepdims: true) + %s) * %s + %s", dev, dev, dev, ax,
                             ox_num_str((float)ox_attr_f(t, "epsilon", 1e-5)), s, b)), true;
}

/* ------------------------------------------------------------ products */

static bool op_gemm(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *a = ox_need(t, 0), *b = ox_need(t, 1), *c = ox_in(t, 2);
  if (!a || !b || t->failed) return false;
  double alpha = ox_attr_f(t, "alpha", 1), beta = ox_attr_f(t, "beta", 1);
  bool ta = ox_attr_i(t, "transA", 0), tb = ox_attr_i(t, "transB", 0);
  if (a->k || (ox_orank(t, a) != 2 && !t->trailing) || !b->k || b->k->rank != 2 || !b->k->f)
    return ox_fail(t, "supported as a computed A [M, K] times constant weights B; this Gemm is not yet");
  const char *x = ox_use(t, a, false);
  Shape sh = a->sh;
  if (ta) {
    if (!t->off) return ox_fail(t, "transA on a batch is not supported");
    x = arena_printf("transpose(%s, [0, 2, 1])", x);
    int64_t m = sh.dim[2];
    sh.dim[2] = sh.dim[1], sh.dim[1] = m;
  }
  int64_t kk = tb ? b->k->dims[1] : b->k->dims[0], n = tb ? b->k->dims[0] : b->k->dims[1];
  if (kk != sh.dim[sh.rank - 1]) return ox_fail(t, "A has %lld columns; B %lld rows", (long long)sh.dim[sh.rank - 1], (long long)kk);
  int64_t wd[2] = {kk, n};
  OnnxTensor *W = ox_new_const(b->k->type, 2, wd);
  for (int64_t i = 0; i < kk; i++)
    for (int64_t j = 0; j < n; j++) W->f[i * n + j] = alpha * (tb ? b->k->f[j * kk + i] : b->k->f[i * n + j]);
  OnnxTensor *bias = NULL;
  const char *matrix = NULL; /* a C of the whole sample's shape (no batch): added after the product */
  if (c && c->k && c->k->f && (c->k->count == n || c->k->count == 1) && (c->k->rank < 2 || c->k->dims[0] == 1)) {
    bias = ox_new_const(c->k->type, 1, &n);
    for (int64_t j = 0; j < n; j++) bias->f[j] = beta * c->k->f[c->k->count == 1 ? 0 : j];
  } else if (c && c->k && c->k->f && t->off && c->k->rank == 2 && (c->k->dims[0] == 1 || c->k->dims[0] == sh.dim[1]) &&
             (c->k->dims[1] == 1 || c->k->dims[1] == n)) {
    OnnxTensor *k = ox_new_const(c->k->type, 2, c->k->dims);
    for (int64_t j = 0; j < k->count; j++) k->f[j] = beta * c->k->f[j];
    matrix = ox_use(t, ox_tv_const(k), false);
  } else if (c && !c->k && !c->fill && c->dt == a->dt) { /* a computed C, added after the product */
    Shape o = sh, cs;
    o.dim[o.rank - 1] = n;
    const char *ce = ox_align(t, c, o.rank, &cs);
    Shape b;
    if (t->failed || !ox_bshape(t, o, cs, &b) || !shape_eq(b, o)) return ox_fail(t, "C does not broadcast to the output");
    matrix = beta == 1 ? ce : arena_printf("%s * %s", ox_num_str(beta), ce);
  } else if (c) {
    return ox_fail(t, "a C other than a constant vector of N values is not supported yet");
  }
  const char *inst = ox_instance(t, "dense");
  ox_add_value(t, arena_printf("%s.W", inst), W);
  if (bias) ox_add_value(t, arena_printf("%s.b", inst), bias);
  sh.dim[sh.rank - 1] = n;
  const char *y = arena_printf("dense(%s, %lld%s)", x, (long long)n, bias ? "" : ", use_bias: false");
  ox_out(t, 0, a->dt, sh, matrix ? arena_printf("%s + %s", y, matrix) : y);
  return true;
}

static bool op_matmul(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *a = ox_need(t, 0), *b = ox_need(t, 1);
  if (!a || !b) return false;
  if (!a->k && b->k && b->k->rank == 2 && b->k->f) {
    int64_t n = b->k->dims[1];
    if (b->k->dims[0] != a->sh.dim[a->sh.rank - 1]) return ox_fail(t, "inner dimensions differ");
    ox_add_value(t, arena_printf("%s.W", ox_instance(t, "dense")), b->k);
    Shape sh = a->sh;
    sh.dim[sh.rank - 1] = n;
    return ox_out(t, 0, a->dt, sh, arena_printf("dense(%s, %lld, use_bias: false)", ox_use(t, a, false), (long long)n)), true;
  }
  if (a->k && b->k) return ox_fail(t, "a product of two constants is not supported yet");
  if (ox_orank(t, a) < 2 || ox_orank(t, b) < 2) return ox_fail(t, "products of vectors are not supported yet");
  int rank = a->sh.rank > b->sh.rank ? a->sh.rank : b->sh.rank;
  Shape sa, sb, o;
  const char *x = ox_align(t, a, rank, &sa), *y = ox_align(t, b, rank, &sb);
  Shape ba = sa, bb = sb;
  ba.rank -= 2, bb.rank -= 2;
  if (t->failed || !ox_bshape(t, ba, bb, &o)) return false;
  if (sa.dim[sa.rank - 1] != sb.dim[sb.rank - 2]) return ox_fail(t, "inner dimensions differ");
  o.dim[o.rank++] = sa.dim[sa.rank - 2];
  o.dim[o.rank++] = sb.dim[sb.rank - 1];
  return ox_out(t, 0, a->k ? b->dt : a->dt, o, arena_printf("%s @ %s", x, y)), true;
}

/* ------------------------------------------------- along an axis */

static bool op_softmax(OnnxTr *t, const char *fn) {
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  int r = ox_orank(t, x);
  int64_t a = ox_attr_i(t, "axis", t->m->opset < 13 ? 1 : -1);
  if (a < 0) a += r;
  if (t->m->opset < 13 && a != r - 1) { /* the axes from a on as one */
    int64_t inner;
    ox_elems(x->sh, (int)a + t->off, &inner);
    Shape s2 = {.rank = (int)a + t->off + 1};
    memcpy(s2.dim, x->sh.dim, sizeof(int64_t) * (size_t)(a + t->off));
    s2.dim[a + t->off] = inner;
    if (a + t->off == 0) return ox_fail(t, "along the batch axis is not supported");
    const char *e = arena_printf("%s(reshape(%s, %s))", fn, ox_use(t, x, false), ox_ints_str(s2.dim + 1, s2.rank - 1));
    return ox_out(t, 0, x->dt, x->sh, arena_printf("reshape(%s, %s)", e, ox_ints_str(x->sh.dim + 1, x->sh.rank - 1))), true;
  }
  int ax = ox_axis(t, a, r);
  return ax >= 0 && ox_out(t, 0, x->dt, x->sh, arena_printf("%s(%s, axis: %d)", fn, ox_use(t, x, false), ax));
}

/* ReduceSum, Mean, Max, Min, SumSquare, L1, L2, LogSum, LogSumExp. */
static bool op_reduce(OnnxTr *t, const char *fn) {
  OnnxVal *x = ox_need(t, 0);
  int64_t axes[NN_MAX_RANK];
  int n;
  bool given;
  if (!x || !ox_axes(t, 1, axes, &n, &given)) return false;
  if (x->k) return ox_fail(t, "a reduction of a constant is not supported yet");
  if (x->dt == DT_I32) return ox_fail(t, "integer tensors are not supported by this op yet");
  int r = ox_orank(t, x);
  bool keep = ox_attr_i(t, "keepdims", 1);
  if (!given || n == 0) {
    if (ox_attr_i(t, "noop_with_empty_axes", 0)) return map_put(t->vals, t->node->out[0], x), true;
    n = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  bool drop[NN_MAX_RANK] = {0};
  int64_t nax[NN_MAX_RANK];
  for (int i = 0; i < n; i++) {
    int ax = ox_axis(t, axes[i], r);
    if (ax < 0) return false;
    drop[ax] = true, nax[i] = ax;
  }
  Shape sh = {0};
  for (int i = 0; i < x->sh.rank; i++)
    if (!drop[i]) sh.dim[sh.rank++] = x->sh.dim[i];
    else if (keep) sh.dim[sh.rank++] = 1;
  const char *e = ox_use(t, x, false), *ax = ox_ints_str(nax, n), *kd = keep ? "true" : "false";
  if (!strcmp(fn, "logsumexp")) { /* max + log(sum(exp(x - max))), the max kept for the broadcast */
    const char *m = ox_name(t, arena_printf("%s_max", t->node->out[0]));
    ox_stmt(t, m, arena_printf("max(%s, axis: %s, keepdims: true)", e, ax));
    e = arena_printf("log(sum(exp(%s - %s), axis: %s, keepdims: true)) + %s", e, m, ax, m);
    if (!keep) e = arena_printf("reshape(%s, %s)", e, ox_ints_str(sh.dim + 1, sh.rank - 1));
    return ox_out(t, 0, x->dt, sh, e), true;
  }
  if (!strcmp(fn, "prod")) { /* the slices along each axis multiplied, up to 64 of them */
    for (int i = 0; i < n; i++) {
      int64_t len = x->sh.dim[nax[i]];
      if (len > 64) return ox_fail(t, "a product along an axis of %lld (more than 64) is not supported", (long long)len);
      const char *p = e = ox_named(t, e), *q = arena_strdup("");
      for (int64_t j = 0; j < len; j++)
        q = arena_printf("%s%sslice(%s, axis: %lld, start: %lld, end: %lld)", q, j ? " * " : "", p, (long long)nax[i],
                         (long long)j, (long long)j + 1);
      e = q;
    }
    if (!keep) e = arena_printf("reshape(%s, %s)", e, ox_ints_str(sh.dim + 1, sh.rank - 1));
    return ox_out(t, 0, x->dt, sh, e), true;
  }
  static const struct { const char *onnx, *fmt; } forms[] = {
    {"sum", "sum(%s, axis: %s, keepdims: %s)"}, {"mean", "mean(%s, axis: %s, keepdims: %s)"},
    {"max", "max(%s, axis: %s, keepdims: %s)"}, {"min", "-max(-%s, axis: %s, keepdims: %s)"},
    {"sumsquare", "sum(%1$s * %1$s, axis: %2$s, keepdims: %3$s)"}, {"l1", "sum(abs(%s), axis: %s, keepdims: %s)"},
    {"l2", "sqrt(sum(%1$s * %1$s, axis: %2$s, keepdims: %3$s))"}, {"logsum", "log(sum(%s, axis: %s, keepdims: %s))"},
  };
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
    if (!strcmp(fn, forms[i].onnx)) return ox_out(t, 0, x->dt, sh, arena_printf(forms[i].fmt, e, ax, kd)), true;
  return ox_fail(t, "reduction %s is not supported", fn);
}

static bool op_argmax(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x || x->k) return x ? ox_fail(t, "an argmax of a constant is not supported yet") : false;
  int r = ox_orank(t, x), ax = ox_axis(t, ox_attr_i(t, "axis", 0), r);
  if (ax < 0) return false;
  Shape sh = x->sh;
  const char *e = arena_printf("argmax(%s, axis: %d)", ox_use(t, x, false), ax);
  if (ox_attr_i(t, "select_last_index", 0)) { /* n - 1 - the first index along the axis reversed */
    int64_t n = sh.dim[ax];
    if (n > 64) return ox_fail(t, "select_last_index along an axis of more than 64 is not supported");
    const char *p = ox_named(t, ox_use(t, x, false)), *rev = arena_strdup("");
    for (int64_t j = n - 1; j >= 0; j--)
      rev = arena_printf("%s%sslice(%s, axis: %d, start: %lld, end: %lld)", rev, j < n - 1 ? ", " : "", p, ax, (long long)j,
                         (long long)j + 1);
    e = arena_printf("%lld - argmax(%s, axis: %d)", (long long)n - 1, n > 1 ? arena_printf("concat(%s, axis: %d)", rev, ax) : p,
                     ax);
  }
  if (ox_attr_i(t, "keepdims", 1)) sh.dim[ax] = 1, e = arena_printf("reshape(%s, %s)", e, ox_ints_str(sh.dim + 1, sh.rank - 1));
  else {
    for (int i = ax; i < sh.rank - 1; i++) sh.dim[i] = sh.dim[i + 1];
    sh.rank--;
  }
  return ox_out(t, 0, DT_I32, sh, e), true;
}

/* -------------------------------------------------------- elementwise */

static bool op_clip(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  double lo = -INFINITY, hi = INFINITY;
  if (t->m->opset < 11) {
    lo = ox_attr_f(t, "min", -INFINITY), hi = ox_attr_f(t, "max", INFINITY);
  } else {
    OnnxTensor *a = ox_in(t, 1) ? ox_konst(t, 1, "min") : NULL, *b = ox_in(t, 2) ? ox_konst(t, 2, "max") : NULL;
    if (t->failed) return false;
    if (a) lo = ox_kget(a, 0);
    if (b) hi = ox_kget(b, 0);
  }
  const char *e = ox_use(t, x, false);
  bool in = x->dt == DT_I32; /* integer bounds as integers */
  if (in && ((lo > -INFINITY && (lo != trunc(lo) || fabs(lo) > INT32_MAX)) || (hi < INFINITY && (hi != trunc(hi) || fabs(hi) > INT32_MAX))))
    return ox_fail(t, "integer bounds out of i32's range");
  if (lo > -INFINITY) e = arena_printf("maximum(%s, %s)", e, in ? arena_printf("(%lld)", (long long)lo) : ox_num_str(lo));
  if (hi < INFINITY) e = arena_printf("minimum(%s, %s)", e, in ? arena_printf("(%lld)", (long long)hi) : ox_num_str(hi));
  return ox_out(t, 0, x->dt, x->sh, e), true;
}

/* A value as a float tensor expression: constants of any type as float
 * parameters (a bool mask, say), computed integers refused. */
static const char *as_float(OnnxTr *t, OnnxVal *v) {
  if (v->k && !v->k->f) {
    OnnxTensor *k = ox_new_const(OX_FLOAT, v->k->rank, v->k->dims);
    for (int64_t i = 0; i < k->count; i++) k->f[i] = (double)v->k->i[i];
    k->name = v->k->name;
    v = ox_tv_const(k);
  }
  if (!v->k && v->dt == DT_I32) return ox_fail(t, "integer and boolean inputs to this op are not supported yet"), NULL;
  return ox_use(t, v, true);
}

/* Comparisons give 0 or 1 in the operands' float type (nnc has no bool
 * tensors); Not, And, Or, Xor work on such 0/1 values; Where selects. */
/* The element of constant k (shape sh, broadcast to o) at o's flat index i. */
static int64_t bcast_index(Shape o, Shape sh, int64_t i) {
  int64_t at = 0, stride = 1;
  for (int d = o.rank - 1; d >= 0; d--) {
    int64_t idx = i % o.dim[d];
    i /= o.dim[d];
    int dk = d - (o.rank - sh.rank);
    if (dk >= 0) at += (sh.dim[dk] == 1 ? 0 : idx) * stride, stride *= sh.dim[dk];
  }
  return at;
}

/* A comparison, a logical op or Where of constants (a folded shape's
 * `Where(Equal(shape, -1), 1, shape)`, say). The batch symbol equals
 * itself and no number below 1; any other comparison with it is refused. */
static bool fold_logic(OnnxTr *t, const char *op, OnnxVal **v, int n) {
  Shape o = v[0]->sh;
  for (int i = 1; i < n; i++)
    if (!ox_bshape(t, o, v[i]->sh, &o)) return false;
  if (!ox_size_ok(t, o.rank, o.dim)) return false;
  bool where = n == 3, fl = where && (v[1]->k->f || v[2]->k->f);
  OnnxTensor *k = ox_new_const(where ? (fl ? (v[1]->k->f ? v[1]->k->type : v[2]->k->type) : OX_INT64) : OX_BOOL, o.rank, o.dim);
  for (int64_t i = 0; i < k->count; i++) {
    double a[3];
    int64_t at[3];
    for (int j = 0; j < n; j++) at[j] = bcast_index(o, v[j]->sh, i), a[j] = ox_kget(v[j]->k, at[j]);
    double r;
    bool sym = (!v[0]->k->f && a[0] == (double)NSYM) || (n > 1 && !where && !v[1]->k->f && a[1] == (double)NSYM);
    if (sym && !strcmp(op, "Equal") && (a[0] == a[1] || a[0] < 1 || a[1] < 1)) r = a[0] == a[1];
    else if (sym && !where) return ox_fail(t, "%s of the batch size, which is not known at import", op);
    else if (!strcmp(op, "Greater")) r = a[0] > a[1];
    else if (!strcmp(op, "Less")) r = a[0] < a[1];
    else if (!strcmp(op, "GreaterOrEqual")) r = a[0] >= a[1];
    else if (!strcmp(op, "LessOrEqual")) r = a[0] <= a[1];
    else if (!strcmp(op, "Equal")) r = a[0] == a[1];
    else if (!strcmp(op, "Not")) r = a[0] == 0;
    else if (!strcmp(op, "And")) r = a[0] != 0 && a[1] != 0;
    else if (!strcmp(op, "Or")) r = a[0] != 0 || a[1] != 0;
    else if (!strcmp(op, "Xor")) r = (a[0] != 0) != (a[1] != 0);
    else r = a[0] != 0 ? a[1] : a[2];
    if (k->f) k->f[i] = r;
    else if (where) k->i[i] = a[0] != 0 ? v[1]->k->i[at[1]] : v[2]->k->i[at[2]]; /* integers as they are */
    else k->i[i] = r != 0;
  }
  ox_out_const(t, 0, k);
  return true;
}

static bool op_logic(OnnxTr *t, const char *op) {
  int n = !strcmp(op, "Where") ? 3 : !strcmp(op, "Not") ? 1 : 2;
  OnnxVal *v[3];
  const char *e[3];
  Shape sh[3], o;
  int rank = 0;
  for (int i = 0; i < n; i++) {
    if (!(v[i] = ox_need(t, i))) return false;
    rank = v[i]->sh.rank > rank ? v[i]->sh.rank : rank;
  }
  bool all_const = true;
  for (int i = 0; i < n; i++) all_const &= v[i]->k != NULL;
  if (all_const) return fold_logic(t, op, v, n);
  /* integers: compared in i32 (the result as float 0 and 1), or chosen by Where in i32 */
  bool ints = n == 3 ? is_int(v[1]) || is_int(v[2]) : false, logic = !strcmp(op, "Not") || !strcmp(op, "And") ||
                                                                    !strcmp(op, "Or") || !strcmp(op, "Xor");
  for (int i = 0; i < n && n < 3 && !logic; i++) ints |= !v[i]->k && v[i]->dt == DT_I32;
  for (int i = 0; i < n; i++) {
    OnnxVal *w = v[i];
    if (ints) {
      bool cond = n == 3 && i == 0;
      if (!cond && !is_int(w)) return ox_fail(t, "an integer and a floating-point operand");
      if (w->k) e[i] = int_use(t, w), sh[i] = w->sh;
      else e[i] = ox_align(t, w, rank, &sh[i]);
      if (!e[i]) return false;
      if (cond && !w->k) e[i] = arena_printf("int(%s)", e[i]);
      continue;
    }
    if (!(e[i] = as_float(t, w))) return false;
    if (!w->k && t->off && w->sh.rank < rank) e[i] = ox_align(t, w, rank, &sh[i]);
    else sh[i] = w->sh;
  }
  o = sh[0];
  for (int i = 1; i < n; i++)
    if (!ox_bshape(t, o, sh[i], &o)) return false;
  DType dt = DT_F32;
  for (int i = 0; i < n; i++)
    if (!v[i]->k && (i > 0 || n < 3)) dt = v[i]->dt;
  const char *x = e[0], *y = n > 1 ? e[1] : NULL, *r, *one = ints ? "1" : "1.0";
  if (!strcmp(op, "Greater")) r = arena_printf("greater(%s, %s)", x, y);
  else if (!strcmp(op, "Less")) r = arena_printf("greater(%s, %s)", y, x);
  else if (!strcmp(op, "GreaterOrEqual")) r = arena_printf("%s - greater(%s, %s)", one, y, x);
  else if (!strcmp(op, "LessOrEqual")) r = arena_printf("%s - greater(%s, %s)", one, x, y);
  else if (!strcmp(op, "Equal")) r = arena_printf("%s - greater(%s, %s) - greater(%s, %s)", one, x, y, y, x);
  else if (!strcmp(op, "Not")) r = arena_printf("1.0 - %s", x);
  else if (!strcmp(op, "And")) r = arena_printf("%s * %s", x, y);
  else if (!strcmp(op, "Or")) r = arena_printf("maximum(%s, %s)", x, y);
  else if (!strcmp(op, "Xor")) r = arena_printf("abs(%s - %s)", x, y);
  else r = arena_printf("where(%s, %s, %s)", x, y, e[2]);
  if (ints && n < 3) r = arena_printf("float(%s)", r), dt = DT_F32; /* a comparison's bool as 0 and 1 */
  if (ints && n == 3) dt = DT_I32;
  return ox_out(t, 0, dt, o, r), true;
}

/* Sum, Max, Min, Mean of any number of operands. */
static bool op_variadic(OnnxTr *t, const char *op) {
  OnnxVal *acc = ox_need(t, 0);
  if (!acc) return false;
  int n = t->node->nin;
  if (n == 1) return map_put(t->vals, t->node->out[0], acc), true;
  for (int i = 1; i < n; i++) {
    OnnxVal *b = ox_need(t, i);
    if (!b) return false;
    if (is_int(acc) != is_int(b) || (is_int(acc) && !strcmp(t->node->op, "Mean")))
      return ox_fail(t, "integer tensors are not supported by this op yet");
    int rank = acc->sh.rank > b->sh.rank ? acc->sh.rank : b->sh.rank;
    Shape sa, sb, o;
    const char *x = operand(t, acc, rank, &sa), *y = operand(t, b, rank, &sb);
    if (t->failed || !ox_bshape(t, sa, sb, &o)) return false;
    const char *e = !strcmp(op, "+") ? arena_printf("%s + %s", x, y) : arena_printf("%simum(%s, %s)", op, x, y);
    DType dt = is_int(b) ? DT_I32 : acc->k ? b->dt : acc->dt;
    if (i == n - 1 && strcmp(t->node->op, "Mean")) return ox_out(t, 0, dt, o, e), true;
    OnnxVal *v = arena_alloc(sizeof *v);
    *v = (OnnxVal){.nn = ox_name(t, t->node->out[0]), .sh = o, .dt = dt};
    ox_stmt(t, v->nn, i == n - 1 ? arena_printf("(%s) / %d.0", e, n) : e);
    acc = v;
  }
  return map_put(t->vals, t->node->out[0], acc), true;
}

static bool op_prelu(OnnxTr *t, const char *arg) {
  (void)arg;
  OnnxVal *x = ox_need(t, 0), *s = ox_need(t, 1);
  if (!x || !s) return false;
  int xr = ox_orank(t, x);
  if (t->m->opset < 7 && s->k && s->k->rank == 1 && s->k->count > 1 && xr > 2) { /* one slope a channel (axis 1) */
    OnnxTensor *k = ox_new_const(s->k->type, xr - 1, x->sh.dim + t->off + 1);
    k->dims[0] = s->k->count, k->count = s->k->count;
    for (int i = 1; i < xr - 1; i++) k->dims[i] = 1;
    memcpy(k->f, s->k->f, sizeof(double) * (size_t)k->count);
    k->name = s->k->name;
    s = ox_tv_const(k);
  }
  int rank = x->sh.rank > s->sh.rank ? x->sh.rank : s->sh.rank;
  Shape sa, sb, o;
  const char *a = ox_use(t, x, false), *b = ox_align(t, s, rank, &sb);
  sa = x->sh;
  if (t->failed || !ox_bshape(t, sa, sb, &o)) return false;
  return ox_out(t, 0, x->dt, o, arena_printf("relu(%s) - %s * relu(-%s)", a, b, a)), true;
}

/* -------------------------------------------------------------- table */

/* LeakyRelu, Elu, Selu, HardSigmoid, HardSwish: formulas of their attributes. */
static bool op_activation(OnnxTr *t, const char *op) {
  char fmt[200];
  bool elu = !strcmp(op, "Elu") || !strcmp(op, "Celu");
  double alpha = ox_attr_f(t, "alpha", !strcmp(op, "LeakyRelu") ? 0.01 : elu ? 1.0
                                       : !strcmp(op, "Selu") ? 1.67326319217681884765625 : 0.2);
  const char *al = ox_num_str((float)alpha);
  if (!strcmp(op, "LeakyRelu")) snprintf(fmt, sizeof fmt, "leaky_relu($, alpha: %s)", al);
  else if (!strcmp(op, "Elu")) snprintf(fmt, sizeof fmt, "elu($, alpha: %s)", al);
  else if (!strcmp(op, "Celu")) /* max(0, x) + min(0, alpha (exp(x / alpha) - 1)) */
    snprintf(fmt, sizeof fmt, "%s * elu($ / %s)", al, al);
  else if (!strcmp(op, "Selu"))
    snprintf(fmt, sizeof fmt, "%s * elu($, alpha: %s)", ox_num_str((float)ox_attr_f(t, "gamma", 1.05070102214813232421875)), al);
  else if (!strcmp(op, "HardSigmoid"))
    snprintf(fmt, sizeof fmt, "maximum(minimum(%s * $ + %s, 1.0), 0.0)", al, ox_num_str((float)ox_attr_f(t, "beta", 0.5)));
  else snprintf(fmt, sizeof fmt, "$ * maximum(minimum($ / 6.0 + 0.5, 1.0), 0.0)");
  if (!strcmp(op, "LeakyRelu") && alpha < 0) return ox_fail(t, "a negative alpha is not supported");
  if (!strcmp(op, "Celu") && !(alpha > 0)) return ox_fail(t, "alpha must be above 0");
  return unary(t, fmt);
}

/* Identity, and Dropout: dropout(x, ratio) in .nn, which a train block
 * applies and inference skips, as the exporter's inference graph does. */
static bool op_identity(OnnxTr *t, const char *arg) {
  OnnxVal *x = ox_need(t, 0);
  if (!x) return false;
  bool mask = t->node->nout > 1 && *t->node->out[1];
  if (mask && (x->k || x->dt == DT_I32)) return ox_fail(t, "the mask output of a constant or integer tensor is not supported");
  if (!strcmp(arg, "dropout") && !x->k && x->dt != DT_I32) {
    double ratio = ox_attr_f(t, "ratio", 0.5);
    OnnxVal *r = ox_in(t, 1);
    if (r && r->k && r->k->f) ratio = r->k->f[0];
    const char *e = ox_use(t, x, false);
    if (mask) { /* the dropout of ones (x's shape, whatever x holds) is the scaled mask: y = x * it */
      const char *m = arena_printf("float(int(%s * 0.0)) + 1.0", e);
      if (ratio > 0 && ratio < 1) m = ox_named(t, arena_printf("dropout(%s, %s)", m, ox_num_str((float)ratio)));
      ox_out(t, 1, x->dt, x->sh, arena_printf("greater(%s, 0.0)", m));
      return ox_out(t, 0, x->dt, x->sh, ratio > 0 && ratio < 1 ? arena_printf("%s * %s", e, m) : e), true;
    }
    if (ratio > 0 && ratio < 1)
      return ox_out(t, 0, x->dt, x->sh, arena_printf("dropout(%s, %s)", e, ox_num_str((float)ratio))), true;
  }
  return map_put(t->vals, t->node->out[0], x), true;
}

typedef bool Translate(OnnxTr *t, const char *arg);
static const struct { const char *onnx; Translate *fn; const char *arg; } ops[] = {
  {"Relu", unary, "relu($)"}, {"Sigmoid", unary, "sigmoid($)"}, {"Tanh", unary, "tanh($)"}, {"Exp", unary, "exp($)"},
  {"Log", unary, "log($)"}, {"Sqrt", unary, "sqrt($)"}, {"Abs", unary, "abs($)"}, {"Neg", unary, "-$"},
  {"Erf", unary, "erf($)"}, {"Sin", unary, "sin($)"}, {"Cos", unary, "cos($)"}, {"Floor", unary, "floor($)"},
  {"Ceil", unary, "-floor(-$)"}, {"Asin", unary, "asin($)"}, {"Acos", unary, "acos($)"}, {"Atan", unary, "atan($)"}, {"Sign", unary, "sign($)"}, {"Reciprocal", unary, "1.0 / $"},
  {"Softplus", unary, "softplus($)"}, {"Softsign", unary, "$ / (1.0 + abs($))"}, {"Gelu", unary, "gelu($)"},
  {"Add", binary, "+"}, {"Sub", binary, "-"}, {"Mul", binary, "*"}, {"Div", binary, "/"}, {"Pow", binary, "pow"},
  {"LeakyRelu", op_activation, "LeakyRelu"}, {"Elu", op_activation, "Elu"}, {"Selu", op_activation, "Selu"},
  {"Celu", op_activation, "Celu"},
  {"HardSigmoid", op_activation, "HardSigmoid"}, {"HardSwish", op_activation, "HardSwish"},
  {"Identity", op_identity, "identity"}, {"Dropout", op_identity, "dropout"},
  {"Conv", op_conv, NULL}, {"ConvTranspose", op_conv_transpose, NULL}, {"MaxPool", op_pool, "max"},
  {"AveragePool", op_pool, "avg"}, {"GlobalAveragePool", op_global_pool, "avg"}, {"GlobalMaxPool", op_global_pool, "max"},
  {"BatchNormalization", op_batch_norm, NULL}, {"Gemm", op_gemm, NULL}, {"MatMul", op_matmul, NULL},
  {"LayerNormalization", op_layer_norm, NULL}, {"InstanceNormalization", op_instance_norm, NULL},
  {"Softmax", op_softmax, "softmax"}, {"LogSoftmax", op_softmax, "log_softmax"},
  {"ReduceSum", op_reduce, "sum"}, {"ReduceMean", op_reduce, "mean"}, {"ReduceMax", op_reduce, "max"},
  {"ReduceMin", op_reduce, "min"}, {"ReduceProd", op_reduce, "prod"}, {"ReduceSumSquare", op_reduce, "sumsquare"}, {"ReduceL1", op_reduce, "l1"},
  {"ReduceL2", op_reduce, "l2"}, {"ReduceLogSum", op_reduce, "logsum"}, {"ReduceLogSumExp", op_reduce, "logsumexp"},
  {"ArgMax", op_argmax, NULL}, {"Clip", op_clip, NULL}, {"Sum", op_variadic, "+"}, {"Mean", op_variadic, "+"},
  {"Max", op_variadic, "max"}, {"Min", op_variadic, "min"}, {"PRelu", op_prelu, NULL},
  {"Greater", op_logic, "Greater"}, {"Less", op_logic, "Less"}, {"GreaterOrEqual", op_logic, "GreaterOrEqual"},
  {"LessOrEqual", op_logic, "LessOrEqual"}, {"Equal", op_logic, "Equal"}, {"Not", op_logic, "Not"},
  {"And", op_logic, "And"}, {"Or", op_logic, "Or"}, {"Xor", op_logic, "Xor"}, {"Where", op_logic, "Where"},

  {"LSTM", ox_recurrent, "lstm"}, {"GRU", ox_recurrent, "gru"}, {"RNN", ox_recurrent, "simple_rnn"},
};

bool onnx_supported(const char *op) {
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i].onnx)) return true;
  return onnx_shape_node(NULL, op) >= 0;
}

bool onnx_node(OnnxTr *t) {
  int moved = onnx_moved_node(t);
  return moved >= 0 ? moved : onnx_plain_node(t);
}

bool onnx_plain_node(OnnxTr *t) {
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(t->node->op, ops[i].onnx)) return ops[i].fn(t, ops[i].arg);
  int done = onnx_shape_node(t, t->node->op);
  return done >= 0 ? done : ox_fail(t, "op %s is not supported", t->node->op);
}
