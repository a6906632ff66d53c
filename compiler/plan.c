/* plan.c — the code generator's plan for a graph: kernels and memory.
 *
 * Views. A transpose of a matrix that only matrix products read is no
 * kernel: they read its operand with the strides swapped. When fusing,
 * an expand that only elementwise values read is none either (they
 * broadcast its operand), nor is a reshape (its operand's memory).
 *
 * Kernels. Values are taken in their order (a topological one). An
 * elementwise value joins the kernel of one of its operands, or else the
 * latest kernel it can, if that kernel has its shape, fewer than
 * PLAN_MAX_MEMBERS values, and no value outside it has read any member
 * yet; the kernel then runs where its last member is. Elementwise
 * members make one loop that computes every member per element in
 * registers and stores only the members used outside the kernel (by
 * another kernel, or as an output, the loss or an update). Constants
 * used only inside fused loops are written as literals and get no
 * buffer. Every other value with work (a product, a window, a reduction,
 * a move) heads a kernel of its own; after a matrix product, a
 * convolution or its gradients, or a sum, the elementwise members are its
 * epilogue, run on each block of the result as soon as it is final (a
 * bias and activation, the optimizer update after a weight's gradient).
 * A max or average pooling whose window is its stride may follow as the
 * last member of a convolution's kernel, when nothing else reads the
 * convolution's result (inference: a training step's pooling gradient
 * reads it): the kernel then runs band by band of samples and stores the
 * result only a band at a time (plan_pools). Leaves are the run
 * function's.
 *
 * Memory. Every stored value lives from the kernel that writes it to the
 * last kernel that reads it (outputs, the loss and updates to the end of
 * the step). Buffers are placed first-fit in one arena in kernel order;
 * an elementwise kernel may write over an operand of its own shape that
 * dies there (in place: the loop loads an element's operands before it
 * stores). Values with the batch dimension are planned per sample in one
 * region (a buffer's offset and size are multiples of n), the rest in a
 * fixed region, so the arena for n samples is fixed + n * per_sample
 * bytes plus the largest kernel scratch, whatever n is; a step allocates
 * nothing once the arena has grown to its batch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

bool plan_one_product(const Graph *g, const Value *v) {
  return v->op == OP_MATMUL && (v->shape.rank == 2 || g->v[v->in[1]].shape.rank == 2);
}

/* A transpose that swaps the last two axes. */
static bool swaps_last(const Value *v) {
  int r = v->shape.rank;
  if (v->op != OP_TRANSPOSE || r < 2 || v->nattr != r || v->a[r - 2] != r - 1 || v->a[r - 1] != r - 2) return false;
  for (int d = 0; d + 2 < r; d++)
    if (v->a[d] != d) return false;
  return true;
}

/* matmul_sum v = sum over l of X_l^T B_l, A its transpose of X [L.., k, m]
 * and B [L.., k, n] of the same leading axes: with X and B read as
 * [L k, m] and [L k, n] matrices, one product of L k terms. */
static bool rows_form(const Graph *g, const Value *v) {
  const Value *a = &g->v[v->in[0]], *b = &g->v[v->in[1]];
  if (v->op != OP_MATMULSUM || !swaps_last(a) || a->shape.rank < 3 || b->shape.rank != a->shape.rank ||
      v->in[0] == v->in[1])
    return false;
  for (int d = 0; d + 2 < a->shape.rank; d++)
    if (a->shape.dim[d] != b->shape.dim[d]) return false;
  return true;
}

bool plan_rows_product(const Plan *p, const Graph *g, const Value *v) {
  return rows_form(g, v) && p->folded[v->in[0]];
}

/* Work whose result elementwise members can finish block by block (an
 * epilogue): a matrix product, a convolution or its gradients, a sum. */
static bool epilogue_head(const Graph *g, const Value *v) {
  return plan_one_product(g, v) || v->op == OP_MATMULSUM || v->op == OP_CONV2D || v->op == OP_CONV2DBX ||
         v->op == OP_CONV2DBW || v->op == OP_SUM || v->op == OP_QMATMUL || v->op == OP_QCONV2D;
}

/* Whether an epilogue over s, seen as rows of its last axis, can read an
 * operand of shape xs: all of s, one element, or one row (a bias). */
bool plan_row_operand(Shape xs, Shape s) {
  if (shape_eq(xs, s)) return true;
  int64_t one = 1;
  bool batch = false;
  for (int d = 0; d < xs.rank; d++) one *= xs.dim[d], batch |= xs.dim[d] == DIM_BATCH;
  if (one == 1 && !batch) return true;
  if (s.rank == 0 || xs.rank == 0 || xs.dim[xs.rank - 1] != s.dim[s.rank - 1]) return false;
  for (int d = 0; d + 1 < xs.rank; d++)
    if (xs.dim[d] != 1) return false;
  return true;
}

int plan_read(const Plan *p, const Graph *g, int x) { return p->folded[x] ? g->v[x].in[0] : x; }

int plan_root(const Plan *p, const Graph *g, int x) {
  while (p->folded[x] || p->alias[x]) x = g->v[x].in[0];
  return x;
}

/* A quantized convolution's image with its padding, in bytes a sample
 * (runtime/nnrt.h). */
static int64_t plan_qimage_bytes(const NnrtWindow *w) {
  return nnrt_qconv2d_padded(w->h, w->ph, w->oh, w->sh, w->kh, w->dh) *
         nnrt_qconv2d_padded(w->w, w->pw, w->ow, w->sw, w->kw, w->dw) * w->c;
}

NnrtWindow plan_window(const Graph *g, const Value *v) {
  const int64_t *a = v->a;
  const Value *in0 = &g->v[v->in[0]];
  NnrtWindow w = {.dh = 1, .dw = 1, .groups = 1};
  Shape xs, ys;
  if (v->op == OP_QCONV2D) { /* a: sh sw pt pl pb pr dh dw groups kh kw f q */
    xs = in0->shape, ys = v->shape;
    w.kh = a[9], w.kw = a[10], w.sh = a[0], w.sw = a[1], w.ph = a[2], w.pw = a[3], w.dh = a[6], w.dw = a[7];
  } else if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) {
    const Value *in1 = &g->v[v->in[1]];
    xs = v->op == OP_CONV2DBX ? v->shape : in0->shape;
    ys = v->op == OP_CONV2D ? v->shape : v->op == OP_CONV2DBX ? in0->shape : in1->shape;
    Shape ws = v->op == OP_CONV2DBW ? v->shape : in1->shape;
    w.kh = ws.dim[0], w.kw = ws.dim[1], w.sh = a[0], w.sw = a[1], w.ph = a[2], w.pw = a[3];
    w.dh = a[6], w.dw = a[7], w.groups = a[8];
    /* the column matrix: oh * ow rows of kh * kw * c / groups a sample,
     * for as many samples as keep it near 8 MB whatever the batch */
    int64_t cols = ys.dim[1] * ys.dim[2] * ws.dim[0] * ws.dim[1] * ws.dim[2];
    w.chunk = ((int64_t)1 << 21) / cols < 1 ? 1 : ((int64_t)1 << 21) / cols;
  } else {
    xs = v->op == OP_AVGPOOLB ? v->shape : in0->shape;
    ys = v->op == OP_MAXPOOL || v->op == OP_AVGPOOL ? v->shape : v->op == OP_MAXPOOLB ? g->v[v->in[1]].shape
                                                                                   : in0->shape;
    w.kh = a[0], w.kw = a[1], w.sh = a[2], w.sw = a[3], w.ph = a[4], w.pw = a[5], w.dh = a[8], w.dw = a[9];
  }
  w.h = xs.dim[1], w.w = xs.dim[2], w.c = xs.dim[3], w.oh = ys.dim[1], w.ow = ys.dim[2], w.f = ys.dim[3];
  if (v->op == OP_QCONV2D) { /* the padded images quantized, as many as keep them near 2 MB */
    int64_t bytes = plan_qimage_bytes(&w);
    w.chunk = ((int64_t)1 << 21) / bytes < 1 ? 1 : ((int64_t)1 << 21) / bytes;
  }
  return w;
}

PlanScratch plan_scratch(const Graph *g, const Value *v) {
  PlanScratch s = {0};
  bool f32 = v->dtype == DT_F32;
  if (op_info[v->op].cls == CL_CONTRACT) {
    s.packs = f32;
  } else if (v->op == OP_QCONV2D) { /* the padded images quantized, a byte an element, and 64 bytes */
    NnrtWindow w = plan_window(g, v);
    s.cap = w.chunk;
    s.per = (plan_qimage_bytes(&w) + 3) / 4;
    s.fixed = 16;
  } else if (v->op == OP_SCATTERADD) { /* the sums in double */
    s.fixed = (f32 ? 2 : 1) * v->shape.dim[0] * v->shape.dim[1];
  } else if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) {
    NnrtWindow w = plan_window(g, v);
    s.cap = w.chunk;
    s.per = w.oh * w.ow * w.kh * w.kw * (w.c / w.groups);
    s.packs = f32;
    if (v->op == OP_CONV2DBW) { /* partial gradients, and packing for each slice */
      s.fixed = NNRT_CONV_SLICES * v->shape.dim[0] * v->shape.dim[1] * v->shape.dim[2] * v->shape.dim[3];
      s.packs = f32 ? NNRT_CONV_SLICES : 0;
      s.pack_alone = true;
    }
  }
  s.any = s.cap || s.fixed || s.packs;
  return s;
}

bool plan_takes_kept(const Graph *g, const Value *v) {
  return !g->training && g->nupdates == 0 && v->dtype == DT_F32 &&
         (v->op == OP_CONV2D || plan_one_product(g, v));
}

/* The bytes of the kept slot that head v of a forward graph reads its
 * parameter operand from (*param), 0 for none: a convolution's 3x3
 * filters, which Winograd's kernel transforms, or a single product's B
 * read as it is stored, [K, N], which the GEMM packs. */
static int64_t kept_need(const Plan *p, const Graph *g, const Value *v, int *param) {
  if (!plan_takes_kept(g, v)) return 0;
  const Value *w = &g->v[plan_read(p, g, v->in[1])], *b = &g->v[v->in[1]];
  if (p->invariants >= 0) { /* a body's product of an invariant, by value (transposed or not) */
    if (v->op == OP_CONV2D || w->op != OP_INPUT || w->a[0] < p->invariants || b->shape.rank != 2) return 0;
    *param = (int)(v - g->v);
    return nnrt_sgemm_kept_bytes(b->shape.dim[0], b->shape.dim[1]);
  }
  if (v->op != OP_CONV2D && p->folded[v->in[1]]) return 0;
  if (w->op != OP_PARAM || w->dtype != DT_F32) return 0;
  const int64_t *d = w->shape.dim;
  *param = (int)w->a[0];
  if (v->op == OP_CONV2D) return w->shape.rank == 4 && d[0] == 3 && d[1] == 3 ? nnrt_winograd_kept_bytes(d[2], d[3]) : 0;
  return w->shape.rank == 2 ? nnrt_sgemm_kept_bytes(d[0], d[1]) : 0;
}

int64_t plan_kept(const Built *b) {
  const Graph *main = built_main_graph(b);
  int n = main->nparams;
  int64_t *bytes = arena_alloc(sizeof(int64_t) * (size_t)(n + 1)), *at = arena_alloc(sizeof(int64_t) * (size_t)(n + 1));
  for (int k = 0; k < NGRAPHS; k++) {
    const Graph *g = b->g[k];
    if (!g || g->training || g->nupdates > 0) continue;
    for (int id = 0; id < g->n; id++) {
      int param = -1;
      int64_t need = b->plan[k]->kernel[id] >= 0 ? kept_need(b->plan[k], g, &g->v[id], &param) : 0;
      if (need > bytes[param]) bytes[param] = need;
    }
  }
  int64_t total = 0;
  for (int i = 0; i < n; i++) at[i] = bytes[i] ? total : -1, total += bytes[i];
  for (int k = 0; k < NGRAPHS; k++)
    if (b->g[k] && !b->g[k]->training && b->g[k]->nupdates == 0) b->plan[k]->kept = at;
  return total;
}

/* A body's kept slots: each product of an invariant input its own. */
static void body_kept(Plan *p, const Graph *g, int invariants) {
  p->invariants = invariants;
  p->kept = arena_alloc(sizeof(int64_t) * (size_t)(g->n + 1));
  for (int id = 0; id < g->n; id++) {
    int at = -1;
    int64_t need = p->kernel[id] >= 0 ? kept_need(p, g, &g->v[id], &at) : 0;
    p->kept[id] = need ? p->body_kept : -1;
    p->body_kept += (need + 63) / 64 * 64;
  }
}

int64_t plan_kept_slot(const Plan *p, const Graph *g, const Value *v) {
  int param = -1;
  return p->kept && kept_need(p, g, v, &param) > 0 ? p->kept[param] : -1;
}

int plan_home(const Plan *p, const Graph *g, int k) {
  if (p->pool[k] >= 0) return g->v[p->pool[k]].in[0]; /* the band */
  return p->stored[p->first[k]] ? p->first[k] : p->last[k];
}

/* A member written over an operand took the operand's block when it was
 * placed (plan_memory records it), so the member is found without a search. */
int plan_in_place(const Plan *p, const Graph *g, int k, int x) {
  x = plan_root(p, g, x);
  int id = p->in_place[x];
  if (id >= 0 && p->kernel[id] == k && p->stored[id] && p->region[id] < 2 && p->region[x] == p->region[id] &&
      p->off[x] == p->off[id] && p->stored[x])
    return id;
  return -1;
}

int plan_operands(const Plan *p, const Graph *g, int k, int **out) {
  (void)g;
  *out = p->operand + p->operands[k];
  return p->operands[k + 1] - p->operands[k];
}

/* Every kernel's outside operands (plan_operands), in one array; `seen`
 * holds the kernel that last listed a value, so each kernel's list costs
 * its members' operands. */
static void plan_operand_lists(Plan *p, const Graph *g) {
  int *seen = arena_alloc(sizeof(int) * (size_t)(g->n + 1)), next = 0;
  p->operands = arena_alloc(sizeof(int) * (size_t)(p->nkernels + 1));
  size_t most = 1; /* every operand of every value */
  for (int id = 0; id < g->n; id++) most += (size_t)g->v[id].nin;
  p->operand = arena_alloc(sizeof(int) * most);
  for (int k = 0; k < p->nkernels; k++) {
    p->operands[k] = next;
    for (int id = p->first[k]; id >= 0; id = p->next[id])
      for (int i = 0; op_elementwise(g->v[id].op) && i < g->v[id].nin; i++) {
        int x = plan_read(p, g, g->v[id].in[i]);
        if (p->kernel[x] != k && g->v[x].op != OP_CONST && seen[x] != k + 1) p->operand[next++] = x;
        seen[x] = k + 1;
      }
  }
  p->operands[p->nkernels] = next;
}

/* The values a kernel takes at most. Elementwise values that share no
 * data (a deep model's optimizer updates of one shape) would otherwise
 * make one kernel of a whole step: one loop gains nothing over several,
 * but a function with tens of thousands of parameters costs the C
 * compiler and LLVM time that grows faster than its size. (The largest
 * kernel of the examples has 360: reverse_transformer's updates.) */
enum { PLAN_MAX_MEMBERS = 512 };

/* Whether elementwise value id may join kernel k: k is still open (no
 * value outside it has read it), has id's shape and room, and can read
 * id's operands; k then runs where id is. */
static bool can_join(const Plan *p, const Graph *g, const bool *sealed, int k, int id) {
  const Value *h = &g->v[p->first[k]], *v = &g->v[id];
  bool epi = !op_elementwise(h->op);
  if (sealed[k] || p->members[k] >= PLAN_MAX_MEMBERS || !shape_eq(v->shape, h->shape) ||
      (epi && !epilogue_head(g, h)))
    return false;
  for (int i = 0; i < v->nin; i++) {
    int x = plan_read(p, g, v->in[i]);
    if (p->kernel[x] == k || g->v[x].op == OP_CONST) continue;
    if (p->kernel[plan_root(p, g, x)] == k) return false; /* a view of a member */
    if (epi && !plan_row_operand(g->v[x].shape, h->shape)) return false;
  }
  return true;
}

/* Bytes of one element; of a value per sample (batched) or in all. */
static int64_t elem_bytes(DType t) { return t == DT_F64 ? 8 : 4; }

static int batch_dims(Shape s) {
  int k = 0;
  for (int d = 0; d < s.rank; d++) k += s.dim[d] == DIM_BATCH;
  return k;
}

static int64_t bytes_of(const Value *v) {
  int64_t k = elem_bytes(v->dtype);
  for (int d = 0; d < v->shape.rank; d++) k *= v->shape.dim[d] == DIM_BATCH ? 1 : v->shape.dim[d];
  return (k + 63) / 64 * 64;
}

/* Views, which are no kernels (p->folded, p->alias). */
static void plan_views(Plan *p, const Graph *g, bool fuse) {
  int n = g->n;
  /* views, no kernels: a transpose of a matrix read only by matrix
   * products (they read its operand with the strides swapped), or of a
   * batch of them read only as the A of matmul_sum's one product; when
   * fusing, an expand read only by elementwise values (they broadcast its
   * operand) and a reshape (the same memory) */
  p->folded = arena_alloc(sizeof(bool) * (size_t)n);
  p->alias = arena_alloc(sizeof(bool) * (size_t)n);
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->folded[id] = swaps_last(v) || (fuse && v->op == OP_EXPAND);
    p->alias[id] = fuse && v->op == OP_RESHAPE;
  }
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    for (int i = 0; i < v->nin; i++) {
      const Value *x = &g->v[v->in[i]];
      bool reads = x->shape.rank == 2 ? plan_one_product(g, v) || v->op == OP_MATMULSUM : i == 0 && rows_form(g, v);
      if (x->op == OP_TRANSPOSE ? !reads : !op_elementwise(v->op)) p->folded[v->in[i]] = false;
    }
  }
  for (int i = 0; i < g->noutputs; i++) p->folded[g->outputs[i]] = false;
  if (g->loss >= 0) p->folded[g->loss] = false;
  for (int i = 0; i < g->nupdates; i++) p->folded[g->updates[i].value] = false;

}

/* The kernels an elementwise value may still join, by their head's shape,
 * each shape's list in kernel order. A kernel once sealed (or full) stays
 * so: such kernels are dropped from a list's end when met there. */
typedef struct OpenList {
  bool used;
  Shape shape;
  int *k;
  int n, cap;
} OpenList;

typedef struct Open {
  OpenList *slot;   /* open addressing by shape */
  int cap, len;
} Open;

static uint64_t shape_hash(Shape s) {
  uint64_t h = 1469598103934665603u ^ (uint64_t)s.rank;
  for (int d = 0; d < s.rank; d++) h = (h ^ (uint64_t)s.dim[d]) * 1099511628211u;
  return h ^ (h >> 29);
}

static OpenList *open_slot(OpenList *slot, int cap, Shape s) {
  for (uint64_t h = shape_hash(s);; h++) {
    OpenList *l = &slot[h & (uint64_t)(cap - 1)];
    if (!l->used || shape_eq(l->shape, s)) return l;
  }
}

/* The list of shape s, or NULL when there is none and `add` is false. */
static OpenList *open_list(Open *o, Shape s, bool add) {
  if (add && 2 * (o->len + 1) > o->cap) {
    int cap = o->cap ? 2 * o->cap : 16;
    OpenList *slot = arena_alloc(sizeof(OpenList) * (size_t)cap);
    for (int i = 0; i < o->cap; i++)
      if (o->slot[i].used) *open_slot(slot, cap, o->slot[i].shape) = o->slot[i];
    o->slot = slot;
    o->cap = cap;
  }
  OpenList *l = o->cap ? open_slot(o->slot, o->cap, s) : NULL;
  if (!l || (!l->used && !add)) return NULL;
  if (!l->used) l->used = true, l->shape = s, o->len++;
  return l;
}

static void open_add(Open *o, Shape s, int k) {
  OpenList *l = open_list(o, s, true);
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 8;
    int *nk = arena_alloc(sizeof(int) * (size_t)l->cap);
    if (l->n) memcpy(nk, l->k, sizeof(int) * (size_t)l->n);
    l->k = nk;
  }
  l->k[l->n++] = k;
}

/* The latest kernel elementwise value id can join (can_join), or -1:
 * only kernels of its shape with a joinable head can. */
static int latest_open(const Plan *p, const Graph *g, const bool *sealed, Open *o, int id) {
  OpenList *l = open_list(o, g->v[id].shape, false);
  if (!l) return -1;
  while (l->n > 0 && (sealed[l->k[l->n - 1]] || p->members[l->k[l->n - 1]] >= PLAN_MAX_MEMBERS)) l->n--;
  for (int i = l->n - 1; i >= 0; i--)
    if (can_join(p, g, sealed, l->k[i], id)) return l->k[i];
  return -1;
}

/* Kernels: which values each computes (p->kernel, first, last, next). */
static void plan_kernels(Plan *p, const Graph *g, bool fuse) {
  int n = g->n;
  Open open = {0};
  /* kernels: an elementwise value joins the kernel of an operand, or the
   * latest kernel it can, when that kernel has its shape and nothing outside
   * has read it yet (sealed); the kernel then runs at its last member.
   * Other work is a kernel of its own, and a product, convolution or sum
   * takes the elementwise values that follow as its epilogue. */
  bool *sealed = arena_alloc(sizeof(bool) * (size_t)n);
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->kernel[id] = -1;
    if (op_info[v->op].cls == CL_LEAF || p->folded[id] || p->alias[id]) continue;
    int k = -1;
    for (int i = 0; fuse && op_elementwise(v->op) && i < v->nin; i++) {
      int j = p->kernel[plan_read(p, g, v->in[i])];
      if (j > k && can_join(p, g, sealed, j, id)) k = j;
    }
    if (fuse && op_elementwise(v->op) && k < 0) k = latest_open(p, g, sealed, &open, id);
    if (v->op == OP_SCANOUT) k = p->kernel[v->in[0]]; /* the scan writes every result */
    if (k < 0) {
      k = p->nkernels++;
      p->first[k] = id;
      if (fuse && (op_elementwise(v->op) || epilogue_head(g, v))) open_add(&open, v->shape, k);
    } else {
      p->next[p->last[k]] = id;
    }
    p->kernel[id] = k;
    p->last[k] = id;
    p->members[k]++;
    for (int i = 0; i < v->nin; i++) { /* what it reads from elsewhere is final now */
      int j = p->kernel[plan_root(p, g, v->in[i])];
      if (j >= 0 && j != k) sealed[j] = true;
    }
  }

}

/* ------------------------------------------------ pooling after a convolution */

/* Samples per band of a convolution whose pooling is fused (plan_pools):
 * about 32768 elements of its result, one sample at least. */
int64_t plan_pool_band(const Graph *g, int x) {
  const Value *v = &g->v[x];
  int64_t per = 1;
  for (int d = 1; d < v->shape.rank; d++) per *= v->shape.dim[d];
  return per >= 32768 ? 1 : 32768 / per;
}

/* Whether every reader of member m of kernel k is a member, or the
 * pooling pv when m is x; x no output, loss or update. */
static bool read_inside(const Plan *p, const Graph *g, const int *uses, int k, int m, int x, int pv) {
  int inside = 0;
  for (int id = m + 1; id < g->n && inside < uses[m]; id++)
    for (int i = 0; i < g->v[id].nin; i++)
      if (g->v[id].in[i] == m) {
        if (p->kernel[id] != k && !(m == x && id == pv)) return false;
        inside++;
      }
  return true;
}

/* Pooling fused after a convolution's epilogue (p->pool): a max or average
 * pooling whose window is its stride, of the last member x of a kernel
 * headed by a convolution, where nothing else reads x or any member and
 * the epilogue reads no operand of x's shape (it runs over a band of
 * samples, nnrt_conv2d_pool_*, nnrt_qconv2d_pool_f32). The pooling joins the kernel as its last
 * member; x is then stored in a band of plan_pool_band samples only (the
 * fixed region). Float products of one sample must be packed (the bits
 * of a band's products are then the whole batch's; runtime/nnrt.h). */
static void plan_pools(Plan *p, const Graph *g) {
  int n = g->n, *uses = arena_alloc(sizeof(int) * (size_t)(n + 1));
  bool *out = arena_alloc(sizeof(bool) * (size_t)(n + 1));
  for (int id = 0; id < n; id++)
    for (int i = 0; i < g->v[id].nin; i++) uses[g->v[id].in[i]]++;
  for (int i = 0; i < g->noutputs; i++) out[g->outputs[i]] = true;
  if (g->loss >= 0) out[g->loss] = true;
  for (int i = 0; i < g->nupdates; i++) out[g->updates[i].value] = true;
  for (int pv = 0; pv < n; pv++) {
    const Value *v = &g->v[pv];
    int x = v->nin == 1 ? v->in[0] : -1, k = x >= 0 ? p->kernel[x] : -1, k2 = p->kernel[pv];
    if ((v->op != OP_MAXPOOL && v->op != OP_AVGPOOL) || k < 0 || k2 < 0 || p->members[k2] != 1 ||
        v->a[0] != v->a[2] || v->a[1] != v->a[3] || v->a[8] != 1 || v->a[9] != 1 || p->last[k] != x ||
        (g->v[p->first[k]].op != OP_CONV2D && g->v[p->first[k]].op != OP_QCONV2D) ||
        uses[x] != 1 || p->folded[x] || p->alias[x])
      continue;
    const Value *h = &g->v[p->first[k]];
    NnrtWindow w = plan_window(g, h);
    int64_t r = w.kh * w.kw * (w.c / w.groups);
    bool ok = h->dtype == v->dtype &&
              (h->dtype == DT_F64 || h->op == OP_QCONV2D || r > 256 || w.oh * w.ow * (w.f / w.groups) * r > 16384);
    for (int id = p->first[k]; ok && id >= 0; id = p->next[id]) {
      ok = !out[id] && read_inside(p, g, uses, k, id, x, pv);
      for (int i = 0; ok && id != p->first[k] && i < g->v[id].nin; i++) {
        int o = plan_read(p, g, g->v[id].in[i]);
        ok = p->kernel[o] == k || g->v[o].op == OP_CONST ||
             (plan_row_operand(g->v[o].shape, h->shape) && !shape_eq(g->v[o].shape, h->shape));
      }
    }
    if (!ok) continue;
    /* pv joins k; the kernels after k2 move down one */
    p->next[x] = pv, p->last[k] = pv, p->members[k]++, p->kernel[pv] = k, p->pool[k] = pv;
    for (int j = k2; j + 1 < p->nkernels; j++)
      p->first[j] = p->first[j + 1], p->last[j] = p->last[j + 1], p->members[j] = p->members[j + 1],
      p->pool[j] = p->pool[j + 1];
    p->nkernels--;
    for (int id = 0; id < n; id++)
      if (p->kernel[id] > k2) p->kernel[id]--;
  }
}

/* What gets a buffer (p->stored, p->literal), and where each value is
 * read for the last time (the returned array; n: at the end). */
static int *plan_storage(Plan *p, const Graph *g, bool fuse) {
  int n = g->n;
  /* what is stored: values read outside their kernel, and the interface */
  int *end = arena_alloc(sizeof(int) * (size_t)n); /* the last kernel position reading a value */
  for (int id = 0; id < n; id++) end[id] = -1;
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    if (p->folded[id] || p->alias[id]) continue; /* its readers read its operand */
    int at = p->kernel[id] >= 0 ? p->last[p->kernel[id]] : id; /* where it is computed */
    for (int i = 0; i < v->nin; i++) {
      int x = plan_read(p, g, v->in[i]);
      bool inside = p->kernel[id] >= 0 && p->kernel[x] == p->kernel[id];
      bool literal = g->v[x].op == OP_CONST && p->kernel[id] >= 0 && op_elementwise(v->op) && fuse;
      if (!inside && !literal) p->stored[x] = true;
      if (!inside && at > end[x]) end[x] = at;
    }
  }
  for (int i = 0; i < g->noutputs; i++) p->stored[g->outputs[i]] = true, end[g->outputs[i]] = n;
  if (g->loss >= 0) p->stored[g->loss] = true, end[g->loss] = n;
  for (int i = 0; i < g->nupdates; i++) p->stored[g->updates[i].value] = true, end[g->updates[i].value] = n;
  for (int id = n - 1; id >= 0; id--) /* a reshape's readers read its operand's memory */
    if (p->alias[id]) {
      int x = g->v[id].in[0];
      p->stored[x] |= p->stored[id];
      if (end[id] > end[x]) end[x] = end[id];
      p->stored[id] = false;
    }
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->literal[id] = v->op == OP_CONST && !p->stored[id];
    if (v->op == OP_INPUT || v->op == OP_LABEL || v->op == OP_PARAM || v->op == OP_STATE)
      p->stored[id] = false; /* the caller's or the model's memory */
    if (v->op == OP_SCALAR || v->op == OP_DROPMASK || v->op == OP_IOTA || v->op == OP_SCANOUT) p->stored[id] = true;
  }
  /* a kernel writes somewhere: its last value at least, even when unread;
   * an epilogue's head is computed where its last member is stored unless
   * it is read elsewhere (or is of another type) */
  for (int k = 0; k < p->nkernels; k++) {
    p->nfused += p->last[k] > p->first[k] ? 1 : 0;
    p->stored[p->last[k]] = true;
    if (g->v[p->first[k]].dtype != g->v[p->last[k]].dtype && g->v[p->first[k]].op != OP_SCAN)
      p->stored[p->first[k]] = true;
    if (p->pool[k] >= 0) p->stored[g->v[p->pool[k]].in[0]] = true; /* its band */
  }

  return end;
}

/* ---------------------------------------------------------------- memory */

/* A stored value's block [off, end) as a node of the treap of its
 * region's live blocks by offset. A node also knows its subtree's first
 * offset, last end and widest gap between two of its blocks, so the
 * lowest gap a size fits in is found in logarithmic time. */
typedef struct Span {
  int64_t off, end, lo, hi, gap;
  uint32_t pri;
  int left, right;
} Span;

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static void span_pull(Span *s, int t) {
  Span *x = &s[t];
  int l = x->left, r = x->right;
  x->lo = l >= 0 ? s[l].lo : x->off;
  x->hi = r >= 0 ? s[r].hi : x->end;
  x->gap = 0;
  if (l >= 0) x->gap = max64(s[l].gap, x->off - s[l].hi);
  if (r >= 0) x->gap = max64(x->gap, max64(s[r].gap, s[r].lo - x->end));
}

/* Splits t into the blocks before offset `off` (*a) and the rest (*b). */
static void span_split(Span *s, int t, int64_t off, int *a, int *b) {
  if (t < 0) {
    *a = *b = -1;
  } else if (s[t].off < off) {
    span_split(s, s[t].right, off, &s[t].right, b);
    *a = t;
    span_pull(s, t);
  } else {
    span_split(s, s[t].left, off, a, &s[t].left);
    *b = t;
    span_pull(s, t);
  }
}

static int span_merge(Span *s, int a, int b) {
  if (a < 0 || b < 0) return a < 0 ? b : a;
  if (s[a].pri > s[b].pri) {
    s[a].right = span_merge(s, s[a].right, b);
    span_pull(s, a);
    return a;
  }
  s[b].left = span_merge(s, a, s[b].left);
  span_pull(s, b);
  return b;
}

/* The lowest offset at or after `prev` (the end of the block before t's
 * subtree) where `size` bytes fit before one of the subtree's blocks, or -1. */
static int64_t span_fit(const Span *s, int t, int64_t prev, int64_t size) {
  if (t < 0 || s[t].lo - prev >= size) return t < 0 ? -1 : prev;
  if (s[t].gap < size) return -1;
  int64_t at = span_fit(s, s[t].left, prev, size);
  if (at >= 0) return at;
  int64_t before = s[t].left >= 0 ? s[s[t].left].hi : prev;
  if (s[t].off - before >= size) return before;
  return span_fit(s, s[t].right, s[t].end, size);
}

/* The live blocks of one region, twice: as an array in the order the
 * planner keeps them (a block leaves by the last one taking its place;
 * when several operands could be written over in place, the first in
 * this order is, which decides the offsets the generated code has), and
 * as a treap by offset for first fit. */
typedef struct Block { int64_t off, size; int value; } Block;
typedef struct Live {
  Block *at;
  int n, root;
} Live;

/* The operands a kernel's members may be written over, grouped by type
 * (dtype and shape), each group a heap of (index in the live array,
 * value) pairs; an entry is stale once its value left or moved. */
typedef struct Group {
  int rep;           /* a value of the group's type */
  int64_t *heap;
  int n, cap;
} Group;

typedef struct Mem {
  Plan *p;
  const Graph *g;
  const int *end;
  Live live[2];
  int *pos;          /* value -> its index in its region's live array */
  bool *alive, *dying;
  Span *span;        /* value -> its treap node */
  uint32_t rng;
  int *dies, *dies_next; /* position -> the values that die there (end[] or placed later) */
  int *cand;         /* value -> position + 1 where it is a candidate */
  int *cand_group;   /* value -> its group there */
  Group *groups;
  int ngroups, *gtab, gcap; /* groups by type, open addressing */
} Mem;

static void live_add(Mem *m, int r, int id, int64_t off, int64_t size) {
  Live *L = &m->live[r];
  m->pos[id] = L->n;
  L->at[L->n++] = (Block){off, size, id};
  m->rng ^= m->rng << 13, m->rng ^= m->rng >> 17, m->rng ^= m->rng << 5;
  m->span[id] = (Span){.off = off, .end = off + size, .pri = m->rng, .left = -1, .right = -1};
  span_pull(m->span, id);
  int a, b;
  span_split(m->span, L->root, off, &a, &b);
  L->root = span_merge(m->span, span_merge(m->span, a, id), b);
  m->alive[id] = true;
}

/* Takes out the block at index i: the last one moves into its place.
 * Returns the value moved, or -1. */
static int live_remove(Mem *m, int r, int i) {
  Live *L = &m->live[r];
  int v = L->at[i].value, a, b, mid, c;
  span_split(m->span, L->root, m->span[v].off, &a, &b);
  span_split(m->span, b, m->span[v].off + 1, &mid, &c);
  L->root = span_merge(m->span, a, c);
  m->alive[v] = false;
  L->at[i] = L->at[--L->n];
  if (i == L->n) return -1;
  m->pos[L->at[i].value] = i;
  return L->at[i].value;
}

static void heap_push(Group *gr, int64_t e) {
  if (gr->n == gr->cap) {
    gr->cap = gr->cap ? 2 * gr->cap : 4;
    int64_t *nh = arena_alloc(sizeof(int64_t) * (size_t)gr->cap);
    if (gr->n) memcpy(nh, gr->heap, sizeof(int64_t) * (size_t)gr->n);
    gr->heap = nh;
  }
  int i = gr->n++;
  for (; i > 0 && gr->heap[(i - 1) / 2] > e; i = (i - 1) / 2) gr->heap[i] = gr->heap[(i - 1) / 2];
  gr->heap[i] = e;
}

static void heap_pop(Group *gr) {
  int64_t e = gr->heap[--gr->n];
  int i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= gr->n) break;
    if (c + 1 < gr->n && gr->heap[c + 1] < gr->heap[c]) c++;
    if (gr->heap[c] >= e) break;
    gr->heap[i] = gr->heap[c];
    i = c;
  }
  if (gr->n) gr->heap[i] = e;
}

static int64_t entry(int index, int value) { return (int64_t)index << 32 | (int64_t)value; }

/* The group of v's type, made when `add`; NULL when there is none. */
static Group *group_of(Mem *m, const Value *v, bool add) {
  const Graph *g = m->g;
  for (uint64_t h = shape_hash(v->shape) ^ (uint64_t)v->dtype;; h++) {
    int *slot = &m->gtab[h & (uint64_t)(m->gcap - 1)];
    if (*slot == 0 && !add) return NULL;
    if (*slot == 0) {
      m->groups[m->ngroups] = (Group){.rep = (int)(v - g->v)};
      *slot = ++m->ngroups;
    }
    const Value *rep = &g->v[m->groups[*slot - 1].rep];
    if (rep->dtype == v->dtype && shape_eq(rep->shape, v->shape)) return &m->groups[*slot - 1];
  }
}

/* The values an elementwise member at position `at` may be written over:
 * stored operands that die here, computed before the kernel's first
 * member `lo`, and not read by its head `hd` (when it has an epilogue,
 * the product still reads them for other blocks). */
static void gather_candidates(Mem *m, int at, int lo, int hd) {
  const Graph *g = m->g;
  int count = 0;
  for (int v = m->dies[at]; v >= 0; v = m->dies_next[v]) count++;
  m->gcap = 4;
  while (m->gcap < 2 * count) m->gcap *= 2;
  m->gtab = arena_alloc(sizeof(int) * (size_t)m->gcap);
  m->groups = arena_alloc(sizeof(Group) * (size_t)(count + 1));
  m->ngroups = 0;
  for (int v = m->dies[at]; v >= 0; v = m->dies_next[v]) {
    bool read_by_head = false;
    for (int j = 0; hd >= 0 && j < g->v[hd].nin; j++) read_by_head |= plan_root(m->p, g, g->v[hd].in[j]) == v;
    if (m->end[v] != at || !m->alive[v] || v >= lo || read_by_head) continue;
    Group *gr = group_of(m, &g->v[v], true);
    m->cand[v] = at + 1;
    m->cand_group[v] = (int)(gr - m->groups);
    heap_push(gr, entry(m->pos[v], v));
  }
}

/* The live array index of the first candidate of v's type, or -1. */
static int donor_index(Mem *m, const Value *v) {
  Group *gr = group_of(m, v, false);
  while (gr && gr->n) {
    int i = (int)(gr->heap[0] >> 32), x = (int)(gr->heap[0] & 0xffffffff);
    if (m->alive[x] && m->pos[x] == i) return i;
    heap_pop(gr);
  }
  return -1;
}

/* Places the stored members of the kernel that runs at `at` (or the
 * stored leaf there): in place over a dying operand when an elementwise
 * member can be, else first fit. */
static void place_members(Mem *m, int at) {
  Plan *p = m->p;
  const Graph *g = m->g;
  int k = p->kernel[at];
  int lo = k >= 0 ? p->first[k] : at;
  /* an elementwise kernel may write a member exactly over an operand of
   * its shape and type that dies here (each element is read before it
   * is written, by the same thread); operands stay live otherwise, so
   * nothing else overlaps them while the kernel reads them; in an
   * epilogue, not where the head is computed, nor over the head's
   * operands (the product still reads them for other blocks) */
  bool epi = k >= 0 && !op_elementwise(g->v[lo].op) && at > lo, gathered = false;
  int home = !epi ? -1 : p->stored[lo] ? lo : at;
  for (int id = lo; id >= 0; id = k >= 0 ? p->next[id] : -1) {
    const Value *v = &g->v[id];
    if (!p->stored[id]) continue;
    bool band = k >= 0 && p->pool[k] >= 0 && id == g->v[p->pool[k]].in[0]; /* plan_pools */
    bool ew = k >= 0 && !band && (op_elementwise(g->v[lo].op) || (epi && id != home));
    int r = band ? 0 : batch_dims(v->shape);
    p->region[id] = r > 1 ? 2 : r;
    if (r > 1) continue;
    int64_t size = bytes_of(v);
    if (band) { /* a band of samples: the first axis, batch or not, is the samples' */
      size = elem_bytes(v->dtype) * plan_pool_band(g, id);
      for (int d = 1; d < v->shape.rank; d++) size *= v->shape.dim[d];
      size = (size + 63) / 64 * 64;
    }
    if (ew && !gathered) gather_candidates(m, at, lo, epi ? lo : -1), gathered = true;
    int donor = ew ? donor_index(m, v) : -1;
    if (donor >= 0) { /* in place */
      int x = m->live[r].at[donor].value;
      p->off[id] = m->live[r].at[donor].off;
      p->in_place[x] = id;
      int moved = live_remove(m, r, donor);
      if (moved >= 0 && m->cand[moved] == at + 1) heap_push(&m->groups[m->cand_group[moved]], entry(donor, moved));
    } else {
      int64_t fit = span_fit(m->span, m->live[r].root, 0, size);
      p->off[id] = fit >= 0 ? fit : m->live[r].root >= 0 ? m->span[m->live[r].root].hi : 0;
    }
    live_add(m, r, id, p->off[id], size);
    int when = m->end[id] > at ? m->end[id] : at;
    m->dies_next[id] = m->dies[when], m->dies[when] = id;
    int64_t *top = r ? &p->sample_bytes : &p->fixed_bytes;
    if (p->off[id] + size > *top) *top = p->off[id] + size;
  }
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* What is read for the last time at positions (prev, at] dies, in the
 * order a scan of the live array from its start takes blocks out. */
static void release(Mem *m, int prev, int at) {
  for (int r = 0; r < 2; r++) {
    int nd = 0;
    for (int t = prev + 1; t <= at; t++)
      for (int v = m->dies[t]; v >= 0; v = m->dies_next[v]) nd += m->alive[v] && m->p->region[v] == r;
    if (!nd) continue;
    int64_t *d = arena_alloc(sizeof(int64_t) * (size_t)nd);
    nd = 0;
    for (int t = prev + 1; t <= at; t++)
      for (int v = m->dies[t]; v >= 0; v = m->dies_next[v])
        if (m->alive[v] && m->p->region[v] == r) d[nd++] = entry(m->pos[v], v), m->dying[v] = true;
    qsort(d, (size_t)nd, sizeof *d, cmp64);
    for (int lo = 0, hi = nd; lo < hi;) {
      int i = (int)(d[lo++] >> 32), moved;
      /* a dying block moved into the hole is the last of the list, and
       * dies next, at the same index */
      while ((moved = live_remove(m, r, i)) >= 0 && m->dying[moved])
        if ((int)(d[--hi] & 0xffffffff) != moved) bug("plan: live blocks out of order");
    }
  }
}

/* Places the stored values in the arena's regions (p->region, off,
 * fixed_bytes, sample_bytes; p->in_place). Region 0 is fixed, 1 per
 * sample, 2 a buffer of its own (the batch twice in its shape: sized at
 * run time, not shared). Positions are a kernel's last value or a stored
 * leaf, in order. */
static void plan_memory(Plan *p, const Graph *g, const int *end) {
  int n = g->n;
  Mem m = {.p = p, .g = g, .end = end, .rng = 2463534242u};
  for (int r = 0; r < 2; r++) m.live[r] = (Live){.at = arena_alloc(sizeof(Block) * (size_t)(n + 1)), .root = -1};
  m.pos = arena_alloc(sizeof(int) * (size_t)(n + 1));
  m.alive = arena_alloc(sizeof(bool) * (size_t)(n + 1));
  m.dying = arena_alloc(sizeof(bool) * (size_t)(n + 1));
  m.span = arena_alloc(sizeof(Span) * (size_t)(n + 1));
  m.dies = arena_alloc(sizeof(int) * (size_t)(n + 1));
  m.dies_next = arena_alloc(sizeof(int) * (size_t)(n + 1));
  m.cand = arena_alloc(sizeof(int) * (size_t)(n + 1));
  m.cand_group = arena_alloc(sizeof(int) * (size_t)(n + 1));
  for (int t = 0; t <= n; t++) m.dies[t] = -1;
  int prev = -1;
  for (int at = 0; at < n; at++) {
    int k = p->kernel[at];
    if (k >= 0 ? p->last[k] != at : !p->stored[at]) continue;
    place_members(&m, at);
    release(&m, prev, at);
    prev = at;
  }
}

/* What a value is, apart from its number: op, type, shape, attributes. */
static void key_value(FILE *f, const Value *v) {
  uint64_t bits;
  memcpy(&bits, &v->f, sizeof bits);
  fprintf(f, "%s:%d:", op_info[v->op].name, (int)v->dtype);
  for (int d = 0; d < v->shape.rank; d++) fprintf(f, "%lld,", (long long)v->shape.dim[d]);
  fprintf(f, ":");
  for (int i = 0; i < v->nattr; i++) fprintf(f, "%lld,", (long long)v->a[i]);
  fprintf(f, ":%llx:%d", (unsigned long long)bits, v->nin);
}

/* A pointer's type: element type and shape. */
static void key_type(FILE *f, const Value *v) {
  fprintf(f, "%d:", (int)v->dtype);
  for (int d = 0; d < v->shape.rank; d++) fprintf(f, "%lld,", (long long)v->shape.dim[d]);
}

/* Kernel k's structure, in a form where two kernels with the same code
 * (but for value numbers) are equal: its head's operands, then each
 * member with where its operands come from (an earlier member by
 * position, a literal, an outside operand by position), whether it is
 * stored, and each outside operand with the member written over it. */
static char *kernel_key(const Plan *p, const Graph *g, int k, int *local) {
  char *key = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&key, &size);
  if (!f) bug("open_memstream: out of memory");
  int *ext, next = plan_operands(p, g, k, &ext), h = p->first[k], m = 0;
  for (int j = 0; j < next; j++) local[ext[j]] = -1 - j;
  for (int id = h; id >= 0; id = p->next[id]) local[id] = m++;
  const Value *hv = &g->v[h];
  for (int i = 0; !op_elementwise(hv->op) && i < hv->nin; i++) { /* the head's pointers */
    const Value *x = &g->v[hv->in[i]], *r = &g->v[plan_read(p, g, hv->in[i])];
    fprintf(f, "(");
    if (p->folded[hv->in[i]]) key_value(f, x), fprintf(f, "|");
    key_type(f, r);
    fprintf(f, ")");
  }
  for (int id = h; id >= 0; id = p->next[id]) {
    const Value *v = &g->v[id];
    fprintf(f, "[");
    key_value(f, v);
    fprintf(f, "|%d", p->stored[id]);
    for (int i = 0; (id != h || op_elementwise(v->op)) && i < v->nin; i++) {
      int x = plan_read(p, g, v->in[i]);
      if (p->kernel[x] == k) fprintf(f, "|m%d", local[x]);
      else if (g->v[x].op == OP_CONST) fprintf(f, "|c"), key_value(f, &g->v[x]);
      else fprintf(f, "|x%d", -1 - local[x]);
    }
    fprintf(f, "]");
  }
  for (int j = 0; j < next; j++) {
    int y = plan_in_place(p, g, k, ext[j]);
    fprintf(f, "{");
    key_type(f, &g->v[ext[j]]);
    fprintf(f, "|%d}", y >= 0 ? local[y] : -1);
  }
  fprintf(f, "home %d", local[plan_home(p, g, k)]);
  fclose(f);
  return key;
}

/* For each kernel, the first with the same structure (itself when none):
 * as an unrolled recurrent layer's steps are, or a deep model's layers.
 * The backends write that code once. */
static void plan_same(Plan *p, const Graph *g) {
  p->same = arena_alloc(sizeof(int) * (size_t)(p->nkernels + 1));
  int *local = arena_alloc(sizeof(int) * (size_t)(g->n + 1));
  Map *first = map_new(); /* key -> the first kernel with it, + 1 */
  for (int k = 0; k < p->nkernels; k++) {
    char *key = kernel_key(p, g, k, local);
    intptr_t same = (intptr_t)map_get(first, key);
    p->same[k] = same ? (int)same - 1 : k;
    if (!same) map_put(first, arena_strdup(key), (void *)(intptr_t)(k + 1));
    free(key);
  }
}

Plan *plan_graph(const Graph *g, bool fuse) {
  Plan *p = arena_alloc(sizeof *p);
  int n = g->n;
  p->kernel = arena_alloc(sizeof(int) * (size_t)n);
  p->stored = arena_alloc(sizeof(bool) * (size_t)n);
  p->literal = arena_alloc(sizeof(bool) * (size_t)n);
  p->region = arena_alloc(sizeof(int) * (size_t)n);
  p->off = arena_alloc(sizeof(int64_t) * (size_t)n);
  p->first = arena_alloc(sizeof(int) * (size_t)n);
  p->last = arena_alloc(sizeof(int) * (size_t)n);
  p->next = arena_alloc(sizeof(int) * (size_t)n);
  p->members = arena_alloc(sizeof(int) * (size_t)n);
  p->in_place = arena_alloc(sizeof(int) * (size_t)n);
  p->pool = arena_alloc(sizeof(int) * (size_t)(n + 1));
  for (int id = 0; id < n; id++) p->next[id] = p->in_place[id] = p->pool[id] = -1;

  p->invariants = -1;
  p->body = arena_alloc(sizeof(Plan *) * (size_t)(g->nbodies + 1));
  p->bodies = arena_alloc(sizeof(Graph *) * (size_t)(g->nbodies + 1));
  p->accum = arena_alloc(sizeof(unsigned) * (size_t)(g->nbodies + 1));
  for (int id = 0; id < n; id++) { /* each body as it runs, planned */
    const Value *v = &g->v[id];
    if (v->op != OP_SCAN) continue;
    Graph *b = p->bodies[v->a[0]] = accumulators(g->bodies[v->a[0]], (int)v->a[4], &p->accum[v->a[0]]);
    p->body[v->a[0]] = plan_graph(b, fuse);
    body_kept(p->body[v->a[0]], b, (int)(v->a[4] + v->a[5]));
  }
  plan_views(p, g, fuse);
  plan_kernels(p, g, fuse);
  if (fuse) plan_pools(p, g);
  plan_memory(p, g, plan_storage(p, g, fuse));
  plan_operand_lists(p, g);
  plan_same(p, g);
  return p;
}

/* -d K: the kernels and the arena. */
void print_plan(FILE *out, const Graph *g, const Plan *p) {
  int values = 0;
  for (int id = 0; id < g->n; id++) values += p->kernel[id] >= 0;
  fprintf(out, "plan %s: %d kernels for %d values (%d fused loops); arena %lld bytes + %lld a sample\n",
          g->name, p->nkernels, values, p->nfused, (long long)p->fixed_bytes, (long long)p->sample_bytes);
  for (int k = 0; k < p->nkernels; k++) {
    const Value *v = &g->v[p->last[k]];
    const Value *h = &g->v[p->first[k]];
    fprintf(out, "  k%-4d %-10s %s", k,
            op_elementwise(h->op) && p->last[k] > p->first[k] ? "fused"
            : p->last[k] > p->first[k]                 ? arena_printf("%s+", op_info[h->op].name)
                                                       : op_info[h->op].name,
            type_str(v->dtype, v->shape));
    if (p->last[k] > p->first[k]) {
      fprintf(out, "  %%%d..%%%d, stores", p->first[k], p->last[k]);
      int members = 0;
      for (int id = p->first[k]; id >= 0; id = p->next[id], members++)
        if (p->stored[id]) fprintf(out, " %%%d", id);
      if (members < p->last[k] - p->first[k] + 1) fprintf(out, " (%d values)", members);
      if (p->pool[k] >= 0) {
        int64_t band = plan_pool_band(g, g->v[p->pool[k]].in[0]);
        fprintf(out, " (%%%d: a band of %lld sample%s)", g->v[p->pool[k]].in[0], (long long)band, band > 1 ? "s" : "");
      }
    } else {
      fprintf(out, "  %%%d", p->first[k]);
    }
    fprintf(out, "\n");
  }
  for (int i = 0; i < g->nbodies; i++) print_plan(out, p->bodies[i], p->body[i]);
}

/* ---------------------------------------------------------------- scans */

/* One part of a scan's descriptor: a step's slice of shape s, stacked at
 * axis, as rows of bytes (nnrt_scan). */
static void scan_part(int64_t *w, Shape s, DType t, int axis) {
  w[0] = 1, w[1] = 0, w[2] = elem_bytes(t), w[3] = 0;
  axis = axis < s.rank ? axis : s.rank;
  for (int d = 0; d < s.rank; d++) {
    int at = d < axis ? 0 : 2;
    if (s.dim[d] == DIM_BATCH) w[at + 1] = 1;
    else w[at] *= s.dim[d];
  }
}

/* Whether stacked value x (a scan's per-step result or history) is stored
 * step by step, each step's slice whole: in a training step, where every
 * reader is a scan that reads it as a sequence along the same axis (the
 * backward loop reading the forward gates), which then reads a step in
 * place instead of gathering its rows. */
static bool by_step(const Graph *g, int x) {
  const Value *r = &g->v[x], *s = &g->v[r->in[0]];
  bool read = false;
  if (!g->training || r->op != OP_SCANOUT || r->a[0] < s->a[4] || x == g->loss) return false;
  for (int i = 0; i < g->noutputs; i++) read |= g->outputs[i] == x;
  for (int i = 0; i < g->nupdates; i++) read |= g->updates[i].value == x;
  for (int i = 0; g->param_grads && i < g->nparams; i++) read |= g->param_grads[i] == x;
  if (read) return false;
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    for (int i = 0; i < v->nin; i++) {
      if (v->in[i] != x) continue;
      if (v->op != OP_SCAN || i < v->a[4] || i >= v->a[4] + v->a[5] || v->a[3] != s->a[3]) return false;
      read = true;
    }
  }
  return read;
}

int plan_scan_desc(const Plan *p, const Graph *g, const Value *v, int64_t *d) {
  const Graph *b = p->bodies[v->a[0]]; /* as compiled: the same interface as g's body */
  int k = (int)v->a[4], m = (int)v->a[5], q = b->noutputs - k, axis = (int)v->a[3], w = 13, id = (int)(v - g->v);
  d[0] = v->a[1], d[1] = v->a[2], d[2] = k, d[3] = m, d[4] = v->nin - k - m, d[5] = b->noutputs - k;
  d[6] = p->body[v->a[0]]->body_kept, d[7] = d[8] = 0;
  for (int i = 0; i < k; i++) /* the accumulating carries, of f32 and of f64 */
    if (p->accum[v->a[0]] >> i & 1) d[b->v[b->inputs[i]].dtype == DT_F64 ? 8 : 7] |= (int64_t)1 << i;
  d[9] = v->a[6], d[10] = v->a[6] >= 0 ? elem_bytes(b->v[b->inputs[k + v->a[6]]].dtype) : 0, d[11] = v->a[7];
  d[12] = 0; /* stored step by step: the carries' histories, the sequences, the results */
  for (int j = 0; j < m; j++) d[12] |= (int64_t)by_step(g, v->in[k + j]) << (k + j);
  for (int r = id + 1; r < g->n && g->v[r].op == OP_SCANOUT && g->v[r].in[0] == id; r++) {
    int64_t x = g->v[r].a[0];
    if (x >= k && x < k + q) d[12] |= (int64_t)by_step(g, r) << (k + m + x - k);
    if (x >= k + q) d[12] |= (int64_t)by_step(g, r) << (x - k - q);
  }
  for (int i = 0; i < k + m; i++, w += 4) {
    const Value *x = &b->v[b->inputs[i]];
    scan_part(d + w, x->shape, x->dtype, axis);
  }
  for (int i = k; i < b->noutputs; i++, w += 4) {
    const Value *y = &b->v[b->outputs[i]];
    scan_part(d + w, y->shape, y->dtype, axis);
  }
  for (int l = 0; l < b->noutputs - k; l++, w++) { /* the carry a result repeats on a skipped step */
    int i = ir_scan_repeats(b, k, l);
    d[w] = i >= 0 && !(p->accum[v->a[0]] >> i & 1) ? i : -1;
  }
  return w;
}

