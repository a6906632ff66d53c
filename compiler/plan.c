/* plan.c — the code generator's plan for a graph: kernels and memory.
 *
 * Kernels. A transpose of a matrix that only matrix products read is no
 * kernel: they read its operand with the strides swapped. Values are
 * taken in their order (a topological one). A run of
 * consecutive elementwise values of one shape becomes one fused kernel:
 * one loop that computes every member per element in registers and
 * stores only the members used outside the run (by another kernel, or as
 * an output, the loss or an update). Constants used only inside fused
 * loops are written as literals and get no buffer. Every other value
 * with work (a product, a window, a reduction, a move) is a kernel of its
 * own; leaves are the run function's.
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

static bool elementwise(const Value *v) {
  OpClass c = op_info[v->op].cls;
  return c == CL_UNARY || c == CL_BINARY || c == CL_TERNARY;
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

  /* a transpose of a matrix read only by matrix products is no kernel:
   * the products read its operand with the strides swapped */
  p->folded = arena_alloc(sizeof(bool) * (size_t)n);
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->folded[id] = v->op == OP_TRANSPOSE && v->shape.rank == 2 && v->nattr == 2 && v->a[0] == 1 &&
                    v->a[1] == 0;
  }
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    for (int i = 0; i < v->nin; i++)
      if (v->op != OP_MATMUL || v->shape.rank != 2) p->folded[v->in[i]] = false;
  }
  for (int i = 0; i < g->noutputs; i++) p->folded[g->outputs[i]] = false;
  if (g->loss >= 0) p->folded[g->loss] = false;
  for (int i = 0; i < g->nupdates; i++) p->folded[g->updates[i].value] = false;

  /* kernels: runs of elementwise values of one shape, other work alone */
  int open = -1; /* the kernel a next elementwise value may join */
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->kernel[id] = -1;
    if (op_info[v->op].cls == CL_LEAF || p->folded[id]) continue; /* the run function's, or folded */
    if (fuse && elementwise(v) && open >= 0 && shape_eq(v->shape, g->v[p->last[open]].shape)) {
      p->kernel[id] = open;
      p->last[open] = id;
      continue;
    }
    int k = p->nkernels++;
    p->first[k] = p->last[k] = id;
    p->kernel[id] = k;
    open = elementwise(v) ? k : -1;
  }

  /* what is stored: values read outside their kernel, and the interface */
  int *end = arena_alloc(sizeof(int) * (size_t)n); /* the last kernel position reading a value */
  for (int id = 0; id < n; id++) end[id] = -1;
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    int at = p->kernel[id] >= 0 ? p->last[p->kernel[id]] : id; /* where it is computed */
    if (p->folded[id]) continue; /* its readers read its operand */
    for (int i = 0; i < v->nin; i++) {
      int x = v->in[i];
      if (p->folded[x]) x = g->v[x].in[0];
      bool inside = p->kernel[id] >= 0 && p->kernel[x] == p->kernel[id];
      bool literal = g->v[x].op == OP_CONST && p->kernel[id] >= 0 && elementwise(v) && fuse;
      if (!inside && !literal) p->stored[x] = true;
      if (!inside && at > end[x]) end[x] = at;
    }
  }
  for (int i = 0; i < g->noutputs; i++) p->stored[g->outputs[i]] = true, end[g->outputs[i]] = n;
  if (g->loss >= 0) p->stored[g->loss] = true, end[g->loss] = n;
  for (int i = 0; i < g->nupdates; i++) p->stored[g->updates[i].value] = true, end[g->updates[i].value] = n;
  for (int id = 0; id < n; id++) {
    const Value *v = &g->v[id];
    p->literal[id] = v->op == OP_CONST && !p->stored[id];
    if (v->op == OP_INPUT || v->op == OP_LABEL || v->op == OP_PARAM || v->op == OP_STATE)
      p->stored[id] = false; /* the caller's or the model's memory */
    if (v->op == OP_SCALAR || v->op == OP_DROPMASK) p->stored[id] = true;
  }
  /* a kernel writes somewhere: its last value at least, even when unread */
  for (int k = 0; k < p->nkernels; k++) {
    p->nfused += p->last[k] > p->first[k] ? 1 : 0;
    p->stored[p->last[k]] = true;
  }

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
    const Value *out = &g->v[at];
    /* an elementwise kernel may write a member exactly over an operand of
     * its shape and type that dies here (each element is read before it
     * is written, by the same thread); operands stay live otherwise, so
     * nothing else overlaps them while the kernel reads them */
    bool ew = k >= 0 && elementwise(out);
    for (int id = lo; id <= at; id++) {
      const Value *v = &g->v[id];
      if (!p->stored[id] || (k >= 0 ? p->kernel[id] != k : id != at)) continue;
      int r = batch_dims(v->shape);
      p->region[id] = r > 1 ? 2 : r;
      if (r > 1) continue;
      int64_t size = bytes_of(v);
      int donor = -1;
      for (int i = 0; ew && donor < 0 && i < nlive[r]; i++) {
        const Value *x = &g->v[live[r][i].value];
        if (end[live[r][i].value] == at && live[r][i].value < lo && shape_eq(x->shape, v->shape) &&
            x->dtype == v->dtype)
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
  return p;
}

/* -d K: the kernels and the arena. */
void print_plan(FILE *out, const Graph *g, const Plan *p) {
  int values = 0;
  for (int k = 0; k < p->nkernels; k++) values += p->last[k] - p->first[k] + 1;
  fprintf(out, "plan %s: %d kernels for %d values (%d fused loops); arena %lld bytes + %lld a sample\n",
          g->name, p->nkernels, values, p->nfused, (long long)p->fixed_bytes, (long long)p->sample_bytes);
  for (int k = 0; k < p->nkernels; k++) {
    const Value *v = &g->v[p->last[k]];
    fprintf(out, "  k%-4d %-10s %s", k,
            p->last[k] > p->first[k] ? "fused" : op_info[g->v[p->first[k]].op].name,
            type_str(v->dtype, v->shape));
    if (p->last[k] > p->first[k]) {
      fprintf(out, "  %%%d..%%%d, stores", p->first[k], p->last[k]);
      for (int id = p->first[k]; id <= p->last[k]; id++)
        if (p->kernel[id] == k && p->stored[id]) fprintf(out, " %%%d", id);
    } else {
      fprintf(out, "  %%%d", p->first[k]);
    }
    fprintf(out, "\n");
  }
}
