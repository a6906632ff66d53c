/* plan.c — the code generator's plan for a graph: kernels and memory.
 *
 * Views. A transpose of a matrix that only matrix products read is no
 * kernel: they read its operand with the strides swapped. When fusing,
 * an expand that only elementwise values read is none either (they
 * broadcast its operand), nor is a reshape (its operand's memory).
 *
 * Kernels. Values are taken in their order (a topological one). An
 * elementwise value joins the kernel of one of its operands, or else the
 * latest kernel it can, if that kernel has its shape and no value
 * outside it has read any member yet; the kernel then runs where its
 * last member is. Elementwise members make one loop that computes every
 * member per element in registers and stores only the members used
 * outside the kernel (by another kernel, or as an output, the loss or an
 * update). Constants used only inside fused loops are written as literals
 * and get no buffer. Every other value with work (a product, a window, a
 * reduction, a move) heads a kernel of its own; after a matrix product, a
 * convolution or its gradients, or a sum, the elementwise members are its
 * epilogue, run on each block of the result as soon as it is final (a
 * bias and activation, the optimizer update after a weight's gradient).
 * Leaves are the run function's.
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
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

/* Work whose result elementwise members can finish block by block (an
 * epilogue): a matrix product, a convolution or its gradients, a sum. */
static bool epilogue_head(const Value *v) {
  return (v->op == OP_MATMUL && v->shape.rank == 2) || v->op == OP_CONV2D || v->op == OP_CONV2DBX ||
         v->op == OP_CONV2DBW || v->op == OP_SUM;
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

NnrtWindow plan_window(const Graph *g, const Value *v) {
  const int64_t *a = v->a;
  const Value *in0 = &g->v[v->in[0]];
  NnrtWindow w = {.dh = 1, .dw = 1, .groups = 1};
  Shape xs, ys;
  if (v->op == OP_CONV2D || v->op == OP_CONV2DBX || v->op == OP_CONV2DBW) {
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
    w.kh = a[0], w.kw = a[1], w.sh = a[2], w.sw = a[3], w.ph = a[4], w.pw = a[5];
  }
  w.h = xs.dim[1], w.w = xs.dim[2], w.c = xs.dim[3], w.oh = ys.dim[1], w.ow = ys.dim[2], w.f = ys.dim[3];
  return w;
}

PlanScratch plan_scratch(const Graph *g, const Value *v) {
  PlanScratch s = {0};
  bool f32 = v->dtype == DT_F32;
  if (op_info[v->op].cls == CL_CONTRACT) {
    s.packs = f32;
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

int plan_home(const Plan *p, int k) { return p->stored[p->first[k]] ? p->first[k] : p->last[k]; }

int plan_in_place(const Plan *p, const Graph *g, int k, int x) {
  x = plan_root(p, g, x);
  for (int id = p->first[k]; id <= p->last[k]; id++)
    if (p->kernel[id] == k && p->stored[id] && p->region[id] < 2 && p->region[x] == p->region[id] &&
        p->off[x] == p->off[id] && p->stored[x])
      return id;
  return -1;
}

int plan_operands(const Plan *p, const Graph *g, int k, int **out) {
  int lo = p->first[k], hi = p->last[k], next = 0;
  int *ext = arena_alloc(sizeof(int) * (size_t)(IR_MAX_IN * (hi - lo + 1)));
  for (int id = lo; id <= hi; id++)
    for (int i = 0; p->kernel[id] == k && op_elementwise(g->v[id].op) && i < g->v[id].nin; i++) {
      int x = plan_read(p, g, g->v[id].in[i]);
      bool seen = p->kernel[x] == k || g->v[x].op == OP_CONST;
      for (int j = 0; j < next; j++) seen |= ext[j] == x;
      if (!seen) ext[next++] = x;
    }
  *out = ext;
  return next;
}

/* Whether elementwise value id may join kernel k: k is still open (no
 * value outside it has read it), has id's shape, and can read id's
 * operands; k then runs where id is. */
static bool can_join(const Plan *p, const Graph *g, const bool *sealed, int k, int id) {
  const Value *h = &g->v[p->first[k]], *v = &g->v[id];
  bool epi = !op_elementwise(h->op);
  if (sealed[k] || !shape_eq(v->shape, h->shape) || (epi && !epilogue_head(h))) return false;
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

/* First fit: the lowest offset where `size` bytes fit between the live
 * blocks of a region. */
typedef struct Block { int64_t off, size; int value; } Block;

static int64_t place(Block *live, int nlive, int64_t size) {
  int64_t at = 0;
  for (bool moved = true; moved;) {
    moved = false;
    for (int i = 0; i < nlive; i++)
      if (live[i].off < at + size && at < live[i].off + live[i].size) {
        at = live[i].off + live[i].size;
        moved = true;
      }
  }
  return at;
}

/* Views, which are no kernels (p->folded, p->alias). */
static void plan_views(Plan *p, const Graph *g, bool fuse) {
  int n = g->n;
  /* views, no kernels: a transpose of a matrix read only by matrix
   * products (they read its operand with the strides swapped); when
   * fusing, an expand read only by elementwise values (they broadcast its
   * operand) and a reshape (the same memory) */
  p->folded = arena_alloc(sizeof(bool) * (size_t)n);
  p->alias = arena_alloc(sizeof(bool) * (size_t)n);
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->folded[id] = (v->op == OP_TRANSPOSE && v->shape.rank == 2 && v->nattr == 2 && v->a[0] == 1 &&
                     v->a[1] == 0) || (fuse && v->op == OP_EXPAND);
    p->alias[id] = fuse && v->op == OP_RESHAPE;
  }
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    for (int i = 0; i < v->nin; i++) {
      const Value *x = &g->v[v->in[i]];
      if (x->op == OP_TRANSPOSE ? v->op != OP_MATMUL || v->shape.rank != 2 : !op_elementwise(v->op))
        p->folded[v->in[i]] = false;
    }
  }
  for (int i = 0; i < g->noutputs; i++) p->folded[g->outputs[i]] = false;
  if (g->loss >= 0) p->folded[g->loss] = false;
  for (int i = 0; i < g->nupdates; i++) p->folded[g->updates[i].value] = false;

}

/* Kernels: which values each computes (p->kernel, first, last). */
static void plan_kernels(Plan *p, const Graph *g, bool fuse) {
  int n = g->n;
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
    for (int j = p->nkernels - 1; fuse && op_elementwise(v->op) && k < 0 && j >= 0; j--)
      if (can_join(p, g, sealed, j, id)) k = j;
    if (k < 0) {
      k = p->nkernels++;
      p->first[k] = id;
    }
    p->kernel[id] = k;
    p->last[k] = id;
    for (int i = 0; i < v->nin; i++) { /* what it reads from elsewhere is final now */
      int j = p->kernel[plan_root(p, g, v->in[i])];
      if (j >= 0 && j != k) sealed[j] = true;
    }
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
    if (v->op == OP_SCALAR || v->op == OP_DROPMASK || v->op == OP_IOTA) p->stored[id] = true;
  }
  /* a kernel writes somewhere: its last value at least, even when unread;
   * an epilogue's head is computed where its last member is stored unless
   * it is read elsewhere (or is of another type) */
  for (int k = 0; k < p->nkernels; k++) {
    p->nfused += p->last[k] > p->first[k] ? 1 : 0;
    p->stored[p->last[k]] = true;
    if (g->v[p->first[k]].dtype != g->v[p->last[k]].dtype) p->stored[p->first[k]] = true;
  }

  return end;
}

/* Places the stored values in the arena's regions (p->region, off,
 * fixed_bytes, sample_bytes). */
static void plan_memory(Plan *p, const Graph *g, const int *end) {
  int n = g->n;
  /* memory: region 0 fixed, 1 per sample, 2 a buffer of its own (the
   * batch twice in its shape: sized at run time, not shared) */
  Block *live[2];
  int nlive[2] = {0, 0};
  live[0] = arena_alloc(sizeof(Block) * (size_t)(n + 1));
  live[1] = arena_alloc(sizeof(Block) * (size_t)(n + 1));
  for (int at = 0; at < n; at++) {
    int k = p->kernel[at];
    if (k >= 0 ? p->last[k] != at : !p->stored[at]) continue; /* a position: a kernel or a stored leaf */
    int lo = k >= 0 ? p->first[k] : at;
    /* an elementwise kernel may write a member exactly over an operand of
     * its shape and type that dies here (each element is read before it
     * is written, by the same thread); operands stay live otherwise, so
     * nothing else overlaps them while the kernel reads them; in an
     * epilogue, not where the head is computed, nor over the head's
     * operands (the product still reads them for other blocks) */
    bool epi = k >= 0 && !op_elementwise(g->v[lo].op) && at > lo;
    int home = !epi ? -1 : p->stored[lo] ? lo : at;
    for (int id = lo; id <= at; id++) {
      const Value *v = &g->v[id];
      if (!p->stored[id] || (k >= 0 ? p->kernel[id] != k : id != at)) continue;
      bool ew = k >= 0 && (op_elementwise(g->v[lo].op) || (epi && id != home));
      int r = batch_dims(v->shape);
      p->region[id] = r > 1 ? 2 : r;
      if (r > 1) continue;
      int64_t size = bytes_of(v);
      int donor = -1;
      for (int i = 0; ew && donor < 0 && i < nlive[r]; i++) {
        const Value *x = &g->v[live[r][i].value];
        bool read_by_head = false;
        for (int j = 0; epi && j < g->v[lo].nin; j++) read_by_head |= plan_root(p, g, g->v[lo].in[j]) == live[r][i].value;
        if (end[live[r][i].value] == at && live[r][i].value < lo && shape_eq(x->shape, v->shape) &&
            x->dtype == v->dtype && !read_by_head)
          donor = i;
      }
      if (donor >= 0) { /* in place */
        p->off[id] = live[r][donor].off;
        live[r][donor] = live[r][--nlive[r]];
      } else {
        p->off[id] = place(live[r], nlive[r], size);
      }
      live[r][nlive[r]++] = (Block){p->off[id], size, id};
      int64_t *top = r ? &p->sample_bytes : &p->fixed_bytes;
      if (p->off[id] + size > *top) *top = p->off[id] + size;
    }
    for (int r = 0; r < 2; r++) /* what is read for the last time here dies */
      for (int i = 0; i < nlive[r]; i++)
        if (end[live[r][i].value] <= at) live[r][i--] = live[r][--nlive[r]];
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

  plan_views(p, g, fuse);
  plan_kernels(p, g, fuse);
  plan_memory(p, g, plan_storage(p, g, fuse));
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
      for (int id = p->first[k]; id <= p->last[k]; id++)
        if (p->kernel[id] == k && p->stored[id]) fprintf(out, " %%%d", id);
      int members = 0;
      for (int id = p->first[k]; id <= p->last[k]; id++) members += p->kernel[id] == k;
      if (members < p->last[k] - p->first[k] + 1) fprintf(out, " (%d values)", members);
    } else {
      fprintf(out, "  %%%d", p->first[k]);
    }
    fprintf(out, "\n");
  }
}

/* ------------------------------------------- what a model's table says */

/* The largest n for which a run of g over n samples surely stays within
 * NNRT_MAX_ARENA: a bound that counts every value as if it had a buffer of
 * its own (the plan shares them) plus the largest scratch, so that no size
 * the compiled code computes for a batch it accepts can overflow. */
static int64_t graph_max_batch(const Graph *g) {
  const double limit = (double)NNRT_MAX_ARENA / 2; /* room for the per-thread packing and rounding */
  double fixed = 0, scratch = 0;
  double *coef = arena_alloc(sizeof(double) * (NN_MAX_RANK + 1)); /* bytes per n^k */
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    double bytes = v->dtype == DT_F64 ? 8 : 4;
    int k = 0;
    for (int d = 0; d < v->shape.rank; d++) {
      if (v->shape.dim[d] == DIM_BATCH) k++;
      else bytes *= (double)v->shape.dim[d];
    }
    coef[k] += bytes;
    fixed += 64;
    PlanScratch ps = plan_scratch(g, v);
    double sc = (v->dtype == DT_F64 ? 8 : 4) * ((double)ps.fixed + (double)ps.cap * (double)ps.per);
    if (sc > scratch) scratch = sc;
  }
  int64_t lo = 0, hi = NNRT_MAX_ARENA; /* the bound at lo fits; at hi it does not */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    double total = fixed + scratch, power = 1;
    for (int k = 0; k <= NN_MAX_RANK; k++, power *= (double)mid) total += coef[k] * power;
    *(total <= limit ? &lo : &hi) = mid;
  }
  return lo;
}

/* The largest n, what labels and token ids may hold, and the optimizer's
 * slots, from the model's graphs (train, eval, infer; any may be NULL). */
ModelChecks model_checks(Graph *const *gs) {
  ModelChecks c = {.max_batch = NNRT_MAX_ARENA};
  for (int k = 0; k < 3; k++) {
    Graph *g = gs[k];
    if (!g) continue;
    int64_t most = graph_max_batch(g);
    if (most < c.max_batch) c.max_batch = most;
    if (g->label >= 0 && !c.label_kind && g->label_rule.kind) {
      const Value *l = &g->v[g->label];
      c.label_kind = g->label_rule.kind;
      c.label_dtype = l->dtype == DT_F64 ? 1 : l->dtype == DT_I32 ? 2 : 0;
      c.label_size = 1;
      for (int d = 1; d < l->shape.rank; d++) c.label_size *= l->shape.dim[d];
      c.label_classes = g->label_rule.classes;
      c.label_has_ignore = g->label_rule.has_ignore;
      c.label_ignore = g->label_rule.ignore;
    }
    if (k == 0) /* the optimizer's slots come after the model's states */
      for (int i = 0; i < g->nstates; i++) {
        if (c.nslots && !g->states[i]->slot) bug("state %s after an optimizer's slot", g->states[i]->name);
        c.nslots += g->states[i]->slot;
      }
  }
  /* token ids: the rows of the smallest table an input's ids pick from,
   * through reshapes, slices and other moves */
  Graph *g = gs[2] ? gs[2] : gs[0];
  int *from = arena_alloc(sizeof(int) * (size_t)(g->n + 1));
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    from[id] = v->op == OP_INPUT ? (int)v->a[0] + 1
               : op_info[v->op].cls == CL_MOVE && v->op != OP_GATHER && v->nin > 0 ? from[v->in[0]]
                                                                                  : 0;
    int i = v->op == OP_GATHER ? from[v->in[1]] - 1 : -1;
    int64_t rows = v->op == OP_GATHER ? g->v[v->in[0]].shape.dim[0] : 0;
    if (i >= 0 && i < 16 && (!c.vocab[i] || rows < c.vocab[i])) c.vocab[i] = rows;
  }
  return c;
}
