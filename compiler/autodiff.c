/* autodiff.c — reverse-mode differentiation on the tensor IR.
 *
 * One walker and one gradient rule per primitive op (docs/autodiff.md gives
 * the derivation of each). The walker visits values in reverse creation
 * order, which is a reverse topological order, so a value's gradient is
 * complete before its rule runs. Contributions from several uses are added;
 * a contribution to an operand that was broadcast is summed back to the
 * operand's shape. Only values that depend on a parameter (or on the
 * values autodiff_from names) get gradients.
 * New values are marked PART_BWD and carry the location of the forward op
 * they differentiate.
 */
#include <string.h>
#include "nnc.h"

typedef struct AD {
  Graph *g;
  int *grad;      /* value -> its gradient, or -1 */
  bool *needs;    /* value depends on a trainable parameter */
  bool failed;
} AD;

static void accumulate(AD *ad, int x, int gx) {
  Graph *g = ad->g;
  if (!ad->needs[x]) return;
  gx = ir_sum_to(g, gx, g->v[x].shape);
  ad->grad[x] = ad->grad[x] < 0 ? gx : ir_binary(g, OP_ADD, ad->grad[x], gx);
}

static int c(Graph *g, int like, double f) { return ir_scalar(g, g->v[like].dtype, f); }
static int mul(Graph *g, int a, int b) { return ir_binary(g, OP_MUL, a, b); }
static int sub(Graph *g, int a, int b) { return ir_binary(g, OP_SUB, a, b); }
static int divide(Graph *g, int a, int b) { return ir_binary(g, OP_DIV, a, b); }

/* The reduced operand's shape with the reduced axes kept as 1. */
static Shape keepdims(const Value *x, const Value *v) {
  Shape k = x->shape;
  for (int i = 0; i < v->nattr; i++) k.dim[v->a[i]] = 1;
  return k;
}

static void swap_last(int perm[], int rank) {
  for (int i = 0; i < rank; i++) perm[i] = i;
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
}

static void not_differentiable(AD *ad, const Value *v, const char *why) {
  if (v->loc.file) error_at(v->loc, "%s", why);
  else error_plain("%s", why);
  ad->failed = true;
}

/* d loss / d operands of value id, from dy = d loss / d value. */
/* Adds e to the gradient of x; e is only built when x needs a gradient.
 * The rules build each value in its own statement, or nest calls one deep,
 * so that value numbers do not depend on the order a compiler evaluates a
 * call's arguments in. */
#define ACC(x, e)                                 \
  do {                                            \
    if (ad->needs[(x)]) accumulate(ad, (x), (e)); \
  } while (0)

static void walk(AD *ad, int top);

/* needs[x] |= needs of x's operands, over the graph in order (the sources
 * set before). */
static void needs_forward(AD *ad) {
  for (int x = 0; x < ad->g->n; x++)
    for (int i = 0; i < ad->g->v[x].nin; i++) ad->needs[x] |= ad->needs[ad->g->v[x].in[i]];
}

/* A copy of body g (its inputs first, in order) with every reader of
 * value x reading from[x] instead where that is not -1, and only what its
 * outputs read: inputs from `first` on that nothing reads are left out
 * (keep[i] false; the others numbered anew), but those keep[i] already
 * asks for. */
static Graph *substitute(Graph *g, const int *from, int first, bool *keep) {
  int *map = arena_alloc(sizeof(int) * (size_t)(g->n + 1)), kept = 0;
  bool *live = arena_alloc(sizeof(bool) * (size_t)(g->n + 1));
#define FROM(x) (from[x] >= 0 ? from[x] : (x))
  for (int i = 0; i < g->noutputs; i++) live[FROM(g->outputs[i])] = true;
  for (int id = g->n - 1; id >= 0; id--)
    for (int i = 0; live[id] && i < g->v[id].nin; i++) live[FROM(g->v[id].in[i])] = true;
  Graph *h = graph_new(g->name);
  h->loc = g->loc;
  for (int i = 0; i < g->ninputs; i++) {
    const Value *v = &g->v[g->inputs[i]];
    keep[i] = keep[i] || i < first || live[g->inputs[i]];
    if (keep[i]) h->inputs[h->ninputs++] = map[g->inputs[i]] = ir_leaf(h, OP_INPUT, v->dtype, v->shape, kept++);
  }
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (v->op == OP_INPUT || !live[id]) continue;
    int in[IR_MAX_IN];
    for (int i = 0; i < v->nin; i++) in[i] = map[FROM(v->in[i])];
    h->loc = v->loc, h->part = v->part;
    map[id] = ir_make(h, v->op, v->dtype, v->shape, in, v->nin, v->a, v->nattr, v->f);
  }
  for (int i = 0; i < g->noutputs; i++) h->outputs[h->noutputs++] = map[FROM(g->outputs[i])];
#undef FROM
  graph_release(g);
  return h;
}

/* The body's one reader of invariant input x when it is a product
 * mm = s @ W of a state or sequence s [.., K] and W = x [K, M], both
 * matrices: W's gradient over the steps is then one product after the
 * loop, sum over t of s_t^T dmm_t (matmul_sum of s's and dmm's stacks),
 * not an accumulator the loop adds a product to at every step. Or -1. */
static int hoisted_product(const Graph *b, int k, int m, int x) {
  int reader = -1, in = b->inputs[x];
  for (int i = 0; i < b->noutputs; i++)
    if (b->outputs[i] == in) return -1;
  for (int id = 0; id < b->n; id++)
    for (int i = 0; i < b->v[id].nin; i++)
      if (b->v[id].in[i] == in) {
        if (reader >= 0) return -1;
        reader = id;
      }
  if (reader < 0) return -1;
  const Value *mm = &b->v[reader], *s = &b->v[mm->in[0]];
  if (mm->op != OP_MATMUL || mm->in[1] != in || mm->in[0] == in || s->op != OP_INPUT || s->a[0] >= k + m ||
      s->shape.rank != 2 || b->v[in].shape.rank != 2)
    return -1;
  return reader;
}

/* A scan's gradient: a scan the other way over the gradient body gb.
 * gb's carries are the carries' gradients dc and an accumulator for each
 * invariant w that needs one; its sequences the carries as each forward
 * step found them (the history), the forward sequences, the stacked
 * results' gradients and the stacked results; its invariants the forward
 * ones. It holds the forward step again, then that step's gradient
 * seeded with dc and dy, and gives the carries' gradients at the step
 * before, acc + dw, each sequence's gradient dx, and the gradient of each
 * hoisted product (hoisted_product) as a stacked result; then each forward
 * value that is a stacked result (a layer's gates) is read from its
 * stack, and what nothing reads goes (the step again, as a rule). */
static void scan_rule(AD *ad, int id) {
  Graph *g = ad->g;
  const Value v = g->v[id];
  const Graph *b = g->bodies[v.a[0]];
  int k = (int)v.a[4], m = (int)v.a[5], p = v.nin - k - m, q = b->noutputs - k, nres = ir_scan_results(g, &v);
  int *res = arena_alloc(sizeof(int) * (size_t)nres); /* result index -> its scan_out */
  for (int i = 0; i < nres; i++) res[i] = -1;
  for (int r = id + 1; r < g->n && g->v[r].op == OP_SCANOUT && g->v[r].in[0] == id; r++) res[g->v[r].a[0]] = r;
  Graph *gb = graph_new(arena_printf("%s_grad", b->name));
  gb->loc = g->loc;
#define IN(like) (gb->inputs[gb->ninputs] = ir_leaf(gb, OP_INPUT, (like)->dtype, (like)->shape, gb->ninputs), \
                  gb->inputs[gb->ninputs++])
  int dc[IR_MAX_IN], acc[IR_MAX_IN], c[IR_MAX_IN], xs[IR_MAX_IN], dy[IR_MAX_IN], w[IR_MAX_IN], nacc = 0;
  int hoist[IR_MAX_IN], hoist_res[IR_MAX_IN]; /* invariant l's product in b, when hoisted; dmm's result */
  for (int l = 0; l < p; l++)
    hoist[l] = ad->needs[v.in[k + m + l]] && v.a[3] < 2 ? hoisted_product(b, k, m, k + m + l) : -1;
  for (int i = 0; i < k; i++) dc[i] = IN(&b->v[b->inputs[i]]);
  for (int l = 0; l < p; l++)
    acc[l] = ad->needs[v.in[k + m + l]] && hoist[l] < 0 ? (nacc++, IN(&b->v[b->inputs[k + m + l]])) : -1;
  for (int i = 0; i < k; i++) {
    if (res[k + q + i] < 0) bug("scan %%%d has no history of carry %d", id, i);
    c[i] = IN(&b->v[b->inputs[i]]);
  }
  for (int j = 0; j < m; j++) xs[j] = IN(&b->v[b->inputs[k + j]]);
  for (int l = 0; l < q; l++)
    dy[l] = res[k + l] >= 0 && ad->grad[res[k + l]] >= 0 ? IN(&b->v[b->outputs[k + l]]) : -1;
  int saved[16]; /* the step's stacked results, read back rather than recomputed */
  for (int l = 0; l < q; l++) saved[l] = res[k + l] >= 0 ? IN(&b->v[b->outputs[k + l]]) : -1;
  for (int l = 0; l < p; l++) w[l] = IN(&b->v[b->inputs[k + m + l]]);
#undef IN
  /* the forward step on those inputs, then its gradient */
  int *bm = arena_alloc(sizeof(int) * (size_t)(b->n + 1));
  for (int id2 = 0; id2 < b->n; id2++) {
    const Value *bv = &b->v[id2];
    int x = bv->op == OP_INPUT ? (int)bv->a[0] : -1, in[IR_MAX_IN];
    if (x >= 0) {
      bm[id2] = x < k ? c[x] : x < k + m ? xs[x - k] : w[x - k - m];
      continue;
    }
    for (int i = 0; i < bv->nin; i++) in[i] = bm[bv->in[i]];
    bm[id2] = ir_make(gb, bv->op, bv->dtype, bv->shape, in, bv->nin, bv->a, bv->nattr, bv->f);
  }
  AD sub = {.g = gb};
  int n = gb->n;
  sub.needs = arena_alloc(sizeof(bool) * (size_t)n);
  for (int i = 0; i < k; i++) sub.needs[c[i]] = true;
  for (int j = 0; j < m; j++) sub.needs[xs[j]] = ad->needs[v.in[k + j]];
  for (int l = 0; l < p; l++) sub.needs[w[l]] = ad->needs[v.in[k + m + l]];
  needs_forward(&sub);
  sub.grad = arena_alloc(sizeof(int) * (size_t)n);
  memset(sub.grad, 0xff, sizeof(int) * (size_t)n);
  gb->part = PART_BWD;
  for (int i = 0; i < k; i++)
    if (sub.needs[bm[b->outputs[i]]]) accumulate(&sub, bm[b->outputs[i]], dc[i]);
  for (int l = 0; l < q; l++)
    if (dy[l] >= 0 && sub.needs[bm[b->outputs[k + l]]]) accumulate(&sub, bm[b->outputs[k + l]], dy[l]);
  walk(&sub, n - 1);
  if (sub.failed) ad->failed = true;
  for (int i = 0; i < k; i++)
    gb->outputs[gb->noutputs++] = sub.grad[c[i]] >= 0 ? sub.grad[c[i]] : ir_const(gb, gb->v[c[i]].dtype, gb->v[c[i]].shape, 0);
  for (int l = 0; l < p; l++)
    if (acc[l] >= 0) gb->outputs[gb->noutputs++] = sub.grad[w[l]] >= 0 ? ir_binary(gb, OP_ADD, acc[l], sub.grad[w[l]]) : acc[l];
  for (int j = 0; j < m; j++)
    if (ad->needs[v.in[k + j]])
      gb->outputs[gb->noutputs++] = sub.grad[xs[j]] >= 0 ? sub.grad[xs[j]]
                                                         : ir_const(gb, gb->v[xs[j]].dtype, gb->v[xs[j]].shape, 0);
  for (int l = 0; l < p; l++) { /* dmm's stack: a sequence's gradient that is dmm, or a result of its own */
    if (hoist[l] < 0) continue;
    int dmm = sub.grad[bm[hoist[l]]], o = k + nacc;
    if (dmm < 0) dmm = ir_const(gb, b->v[hoist[l]].dtype, b->v[hoist[l]].shape, 0);
    while (o < gb->noutputs && gb->outputs[o] != dmm) o++;
    if (o == gb->noutputs) gb->outputs[gb->noutputs++] = dmm;
    hoist_res[l] = o;
  }
  if (gb->noutputs > 16) bug("the gradient of scan %%%d has %d results a step", id, gb->noutputs);
  /* what the gradient reads of the step's stacked results comes from them */
  int *from = arena_alloc(sizeof(int) * (size_t)(gb->n + 1));
  for (int x = 0; x < gb->n; x++) from[x] = -1;
  for (int l = 0; l < q; l++)
    if (saved[l] >= 0) from[bm[b->outputs[k + l]]] = saved[l];
  /* a step the forward scan skips (its skip sequence 0 throughout) is
   * the identity on the carries, each result that repeats a carry that
   * carry: going back it is skipped too, each carry's gradient taking
   * those results' gradients (adds), the accumulators and the sequences'
   * gradients nothing. The skip sequence and those gradients stay. */
  bool keep[IR_MAX_IN] = {0};
  int skip = (int)v.a[6], adds_to[IR_MAX_IN];
  for (int x = 0; x < gb->ninputs; x++) adds_to[x] = -1;
  if (skip >= 0) {
    keep[2 * k + nacc + skip] = true;
    for (int l = 0, at = 2 * k + nacc + m; l < q; l++) {
      if (dy[l] < 0) continue;
      adds_to[at] = ir_scan_repeats(b, k, l);
      keep[at] |= adds_to[at] >= 0;
      at++;
    }
  }
  gb = substitute(gb, from, k + nacc, keep);
  /* the scan the other way: from the final carries' gradients (or zero),
   * over the sequences and invariants the gradient body reads */
  int carries[IR_MAX_IN], seqs[IR_MAX_IN], inv[IR_MAX_IN], nc = 0, ns = 0, ni = 0, at = k + nacc;
  for (int i = 0; i < k; i++) {
    const Value *ci = &g->v[v.in[i]];
    carries[nc++] = res[i] >= 0 && ad->grad[res[i]] >= 0 ? ad->grad[res[i]] : ir_const(g, ci->dtype, ci->shape, 0);
  }
  for (int l = 0; l < p; l++)
    if (acc[l] >= 0) carries[nc++] = ir_const(g, g->v[v.in[k + m + l]].dtype, g->v[v.in[k + m + l]].shape, 0);
#define SEQ(x) (keep[at++] ? (void)(seqs[ns++] = (x)) : (void)0)
  for (int i = 0; i < k; i++) SEQ(res[k + q + i]);
  for (int j = 0; j < m; j++) SEQ(v.in[k + j]);
  for (int l = 0; l < q; l++)
    if (dy[l] >= 0) SEQ(ad->grad[res[k + l]]);
  for (int l = 0; l < q; l++)
    if (saved[l] >= 0) SEQ(res[k + l]);
#undef SEQ
  for (int l = 0; l < p; l++)
    if (keep[at++]) inv[ni++] = v.in[k + m + l];
  int gskip = -1;
  int64_t adds = 0;
  for (int x = k + nacc, j = 0; skip >= 0 && x < 2 * k + nacc + m + q; x++) { /* the kept sequences, renumbered */
    if (!keep[x]) continue;
    if (x == 2 * k + nacc + skip) gskip = j;
    if (adds_to[x] >= 0) adds |= (int64_t)((uint64_t)(adds_to[x] + 1) << (4 * j));
    j++;
  }
  int r = ir_scan(g, ir_body(g, gb), v.a[1], !v.a[2], (int)v.a[3], carries, nc, seqs, ns, inv, ni, gskip, adds);
  for (int i = 0; i < k; i++) ACC(v.in[i], r + i);
  for (int l = 0, at = k; l < p; l++)
    if (acc[l] >= 0) ACC(v.in[k + m + l], r + at++);
  for (int j = 0, out = nc; j < m; j++)
    if (ad->needs[v.in[k + j]]) ACC(v.in[k + j], r + out++);
  for (int l = 0; l < p; l++) { /* dW = sum over t of s_t^T dmm_t, s's stack as the forward scan has it */
    if (hoist[l] < 0) continue;
    int s = (int)b->v[b->v[hoist[l]].in[0]].a[0], stack = s < k ? res[k + q + s] : v.in[s];
    int perm[NN_MAX_RANK];
    swap_last(perm, g->v[stack].shape.rank);
    ACC(v.in[k + m + l], ir_matmul_sum(g, ir_transpose(g, stack, perm), r + hoist_res[l]));
  }
}

/* matmul: dA = dY B^T, dB = A^T dY; an operand of rank 2 that the
 * other's leading axes broadcast takes the sum over them as one product
 * (matmul_sum). matmul_sum: the same products, dY broadcast over the
 * leading axes. */
static void matmul_rule(AD *ad, int id, int dy) {
  Graph *g = ad->g;
  Value v = g->v[id];
  int x = v.in[0], y = v.in[1];
  int pa[NN_MAX_RANK], pb[NN_MAX_RANK], ra = g->v[x].shape.rank, rb = g->v[y].shape.rank;
  bool sum_a = v.op == OP_MATMUL && ra == 2 && rb > 2, sum_b = v.op == OP_MATMUL && rb == 2 && ra > 2;
  swap_last(pa, ra);
  swap_last(pb, rb);
  if (v.op == OP_MATMULSUM) { /* dY at every leading index */
    Shape la = g->v[x].shape, lb = g->v[y].shape, full, one = {0};
    la.rank -= 2, lb.rank -= 2;
    if (!broadcast_shapes(la, lb, &full)) bug("matmul_sum %%%d", id);
    one.rank = full.rank;
    for (int d = 0; d < full.rank; d++) one.dim[d] = 1;
    for (int d = 0; d < 2; d++) one.dim[one.rank++] = full.dim[full.rank++] = v.shape.dim[d];
    dy = ir_expand(g, ir_reshape(g, dy, one), full);
  }
  if (ad->needs[x]) {
    int bt = ir_transpose(g, y, pb);
    accumulate(ad, x, sum_a ? ir_matmul_sum(g, dy, bt) : ir_matmul(g, dy, bt));
  }
  if (ad->needs[y]) {
    int at = ir_transpose(g, x, pa);
    accumulate(ad, y, sum_b ? ir_matmul_sum(g, at, dy) : ir_matmul(g, at, dy));
  }
}

static void rule(AD *ad, int id, int dy) {
  Graph *g = ad->g;
  Value v = g->v[id];
  int x = v.nin > 0 ? v.in[0] : -1, y = v.nin > 1 ? v.in[1] : -1;
  const Value *X = x >= 0 ? &g->v[x] : NULL;
  switch (v.op) {
  case OP_INPUT: case OP_LABEL: case OP_PARAM: case OP_STATE: case OP_SCALAR: case OP_CONST:
  case OP_DROPMASK: case OP_IOTA:
    return;
  /* piecewise constant: the gradient is zero almost everywhere */
  case OP_SIGN: case OP_STEP: case OP_FLOOR: case OP_GT: case OP_ARGMAX: case OP_ONEHOT:
    return;
  case OP_SCANOUT: /* the scan's rule reads every result's gradient */
    if (v.a[0] >= ir_scan_results(g, X) - X->a[4]) bug("a gradient of the history %%%d", id);
    ad->grad[x] = dy;
    return;
  case OP_SCAN: scan_rule(ad, id); return;
  case OP_NEG: ACC(x, ir_unary(g, OP_NEG, dy)); return;
  case OP_EXP: ACC(x, mul(g, dy, id)); return;
  case OP_LOG: ACC(x, divide(g, dy, x)); return;
  case OP_LOG1P: ACC(x, divide(g, dy, ir_binary(g, OP_ADD, c(g, x, 1), x))); return;
  case OP_SQRT: ACC(x, divide(g, mul(g, dy, c(g, x, 0.5)), id)); return;
  case OP_ABS: ACC(x, mul(g, dy, ir_unary(g, OP_SIGN, x))); return;
  case OP_RELU: ACC(x, mul(g, dy, ir_unary(g, OP_STEP, x))); return;
  case OP_SIGMOID: ACC(x, mul(g, dy, mul(g, id, sub(g, c(g, x, 1), id)))); return;
  case OP_TANH: {
    int one = c(g, x, 1);
    ACC(x, mul(g, dy, sub(g, one, mul(g, id, id))));
    return;
  }
  case OP_ERF: { /* 2/sqrt(pi) e^(-x^2) */
    int k = c(g, x, 1.12837916709551257390);
    int e = ir_unary(g, OP_EXP, ir_unary(g, OP_NEG, mul(g, x, x)));
    ACC(x, mul(g, dy, mul(g, k, e)));
    return;
  }
  case OP_SIN: ACC(x, mul(g, dy, ir_unary(g, OP_COS, x))); return;
  case OP_ASIN: /* 1 / sqrt(1 - x^2), its negative for acos */
  case OP_ACOS: {
    int xx = mul(g, x, x), one = c(g, x, 1);
    int r = divide(g, dy, ir_unary(g, OP_SQRT, sub(g, one, xx)));
    ACC(x, v.op == OP_ASIN ? r : ir_unary(g, OP_NEG, r));
    return;
  }
  case OP_ATAN: {
    int xx = mul(g, x, x), one = c(g, x, 1);
    ACC(x, divide(g, dy, ir_binary(g, OP_ADD, one, xx)));
    return;
  }
  case OP_COS: ACC(x, mul(g, dy, ir_unary(g, OP_NEG, ir_unary(g, OP_SIN, x)))); return;
  case OP_CAST:
    if (!is_float(X->dtype)) {
      /* find the integer op the gradient would have to pass */
      const Value *src = X;
      while ((src->op == OP_CAST || src->op == OP_RESHAPE) && !is_float(g->v[src->in[0]].dtype))
        src = &g->v[src->in[0]];
      not_differentiable(ad, src, arena_printf("the gradient cannot flow through %s: its result "
                                               "is an integer",
                                               src->op == OP_CAST ? "int(...)" : op_info[src->op].name));
      return;
    }
    ACC(x, ir_cast(g, dy, X->dtype));
    return;
  case OP_ADD: ACC(x, dy); ACC(y, dy); return;
  case OP_SUB: ACC(x, dy); ACC(y, ir_unary(g, OP_NEG, dy)); return;
  case OP_MUL: ACC(x, mul(g, dy, y)); ACC(y, mul(g, dy, x)); return;
  case OP_DIV:
    ACC(x, divide(g, dy, y));
    ACC(y, ir_unary(g, OP_NEG, divide(g, mul(g, dy, id), y)));
    return;
  case OP_MAX: /* ties go to the first operand */
  case OP_MIN: {
    int second = v.op == OP_MAX ? ir_binary(g, OP_GT, y, x) : ir_binary(g, OP_GT, x, y);
    ACC(x, mul(g, dy, sub(g, c(g, x, 1), second)));
    ACC(y, mul(g, dy, second));
    return;
  }
  case OP_POW: /* d/da a^b = b a^(b-1);  d/db a^b = a^b log a */
    ACC(x, mul(g, dy, mul(g, y, ir_binary(g, OP_POW, x, sub(g, y, c(g, y, 1))))));
    ACC(y, mul(g, dy, mul(g, id, ir_unary(g, OP_LOG, x))));
    return;
  case OP_SELECT: {
    int zero = c(g, dy, 0);
    ACC(v.in[1], ir_select(g, x, dy, zero));
    ACC(v.in[2], ir_select(g, x, zero, dy));
    return;
  }
  case OP_SUM:
    ACC(x, ir_expand(g, ir_reshape(g, dy, keepdims(X, &v)), X->shape));
    return;
  case OP_RMAX: { /* to every element equal to the maximum */
    Shape k = keepdims(X, &v);
    int ymax = ir_expand(g, ir_reshape(g, id, k), X->shape);
    int one = c(g, x, 1);
    int hit = sub(g, one, ir_binary(g, OP_GT, ymax, x));
    ACC(x, mul(g, ir_expand(g, ir_reshape(g, dy, k), X->shape), hit));
    return;
  }
  case OP_SOFTMAX: { /* y (dy - sum(dy y)) */
    int ax = (int)v.a[0];
    Shape k = X->shape;
    k.dim[ax] = 1;
    int s = ir_reshape(g, ir_sum(g, mul(g, dy, id), &ax, 1), k);
    ACC(x, mul(g, id, sub(g, dy, s)));
    return;
  }
  case OP_LOGSOFTMAX: { /* dy - softmax(x) sum(dy) */
    int ax = (int)v.a[0];
    Shape k = X->shape;
    k.dim[ax] = 1;
    int s = ir_reshape(g, ir_sum(g, dy, &ax, 1), k);
    ACC(x, sub(g, dy, mul(g, ir_unary(g, OP_EXP, id), s)));
    return;
  }
  case OP_MATMUL:
  case OP_MATMULSUM: matmul_rule(ad, id, dy); return;
  case OP_RESHAPE: ACC(x, ir_reshape(g, dy, X->shape)); return;
  case OP_EXPAND: ACC(x, dy); return; /* accumulate sums back */
  case OP_TRANSPOSE: {
    int inv[NN_MAX_RANK];
    for (int i = 0; i < v.nattr; i++) inv[v.a[i]] = i;
    ACC(x, ir_transpose(g, dy, inv));
    return;
  }
  case OP_SLICE:
    ACC(x, ir_pad(g, dy, (int)v.a[0], v.a[1], X->shape.dim[v.a[0]] - v.a[2]));
    return;
  case OP_PAD:
    ACC(x, ir_slice(g, dy, (int)v.a[0], v.a[1], v.a[1] + X->shape.dim[v.a[0]]));
    return;
  case OP_CONCAT: {
    int ax = (int)v.a[0];
    int64_t n = X->shape.dim[ax];
    ACC(x, ir_slice(g, dy, ax, 0, n));
    ACC(y, ir_slice(g, dy, ax, n, v.shape.dim[ax]));
    return;
  }
  case OP_GATHER: { /* rows picked by ids get the gradient added back */
    int in[2] = {y, dy};
    int64_t rows = X->shape.dim[0];
    ACC(x, ir_make(g, OP_SCATTERADD, DT_NONE, (Shape){0}, in, 2, &rows, 1, 0));
    return;
  }
  case OP_CONV2D:
    ACC(x, ir_window(g, OP_CONV2DBX, dy, y, v.a, X->shape));
    ACC(y, ir_window(g, OP_CONV2DBW, x, dy, v.a, g->v[y].shape));
    return;
  case OP_CONV2DBX: /* conv2d_transpose: a conv2d back for its input, the weights' gradient as a conv2d's */
    ACC(x, ir_window(g, OP_CONV2D, dy, y, v.a, X->shape));
    ACC(y, ir_window(g, OP_CONV2DBW, dy, x, v.a, g->v[y].shape));
    return;
  case OP_MAXPOOL: ACC(x, ir_window(g, OP_MAXPOOLB, x, dy, v.a, X->shape)); return;
  case OP_AVGPOOL: ACC(x, ir_window(g, OP_AVGPOOLB, dy, -1, v.a, X->shape)); return;
  case OP_SCATTERADD: case OP_CONV2DBW: case OP_MAXPOOLB: case OP_AVGPOOLB: case OP_QMATMUL: case OP_QCONV2D:
    bug("no gradient for %s (second order, or quantized)", op_info[v.op].name);
  case NUM_OPS:
    break;
  }
  bug("no gradient rule for op %d", (int)v.op);
}

/* Each value from top down whose gradient has begun gets its rule. */
static void walk(AD *ad, int top) {
  for (int id = top; id >= 0; id--) {
    if (ad->grad[id] < 0) continue;
    ad->g->loc = ad->g->v[id].loc;
    rule(ad, id, ad->grad[id]);
  }
}

int *autodiff(Graph *g, int loss) { return autodiff_from(g, loss, NULL, 0); }

int *autodiff_from(Graph *g, int loss, const int *from, int nfrom) {
  AD ad = {.g = g};
  int n = g->n;
  ad.needs = arena_alloc(sizeof(bool) * (size_t)n);
  for (int id = 0; id < n; id++) ad.needs[id] = !from && g->v[id].op == OP_PARAM;
  for (int i = 0; i < nfrom; i++) ad.needs[from[i]] = true;
  needs_forward(&ad);
  /* Gradients get value numbers past n while the walk goes on; only the
   * first n values have rules applied. */
  ad.grad = arena_alloc(sizeof(int) * (size_t)n);
  memset(ad.grad, 0xff, sizeof(int) * (size_t)n);
  Part saved_part = g->part;
  Loc saved_loc = g->loc;
  g->part = PART_BWD;
  if (ad.needs[loss]) ad.grad[loss] = ir_scalar(g, g->v[loss].dtype, 1);
  walk(&ad, loss);
  g->part = saved_part;
  g->loc = saved_loc;
  if (ad.failed) return NULL;
  return ad.grad;
}
