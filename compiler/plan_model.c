/* plan_model.c — what a model's table says, from its graphs (ModelChecks):
 * the largest batch whose arena stays within NNRT_MAX_ARENA, whether
 * predictions may run as slices of samples (and the work of one), what
 * labels and token ids may hold, and the optimizer's slots. Scans count
 * with their bodies.
 *
 * Requires: plan.c's plan_scratch. Guarantees: reads the graphs only. */
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

/* ------------------------------------------- what a model's table says */

/* The largest n for which a run of g over n samples surely stays within
 * NNRT_MAX_ARENA: a bound that counts every value as if it had a buffer of
 * its own (the plan shares them) plus the largest scratch, so that no size
 * the compiled code computes for a batch it accepts can overflow. */
static void graph_bytes(const Graph *g, double *coef, double *fixed, double *scratch) {
  for (int i = 0; i < g->nbodies; i++) /* twice: a scan's staging and double carries besides */
    for (int twice = 0; twice < 2; twice++) graph_bytes(g->bodies[i], coef, fixed, scratch);
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    double bytes = v->dtype == DT_F64 ? 8 : 4;
    int k = 0;
    for (int d = 0; d < v->shape.rank; d++) {
      if (v->shape.dim[d] == DIM_BATCH) k++;
      else bytes *= (double)v->shape.dim[d];
    }
    coef[k] += bytes;
    *fixed += 64;
    PlanScratch ps = plan_scratch(g, v);
    double sc = (v->dtype == DT_F64 ? 8 : 4) * ((double)ps.fixed + (double)ps.cap * (double)ps.per);
    if (sc > *scratch) *scratch = sc;
  }
}

static int64_t graph_max_batch(const Graph *g) {
  const double limit = (double)NNRT_MAX_ARENA / 2; /* room for the per-thread packing and rounding */
  double fixed = 0, scratch = 0;
  double *coef = arena_alloc(sizeof(double) * (NN_MAX_RANK + 1)); /* bytes per n^k */
  graph_bytes(g, coef, &fixed, &scratch);
  int64_t lo = 0, hi = NNRT_MAX_ARENA; /* the bound at lo fits; at hi it does not */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    double total = fixed + scratch, power = 1;
    for (int k = 0; k <= NN_MAX_RANK; k++, power *= (double)mid) total += coef[k] * power;
    *(total <= limit ? &lo : &hi) = mid;
  }
  return lo;
}

/* Whether shape s has the batch at axis 0 and nowhere else. */
static bool sample_shaped(Shape s) {
  if (s.rank == 0 || s.dim[0] != DIM_BATCH) return false;
  for (int d = 1; d < s.rank; d++)
    if (s.dim[d] == DIM_BATCH) return false;
  return true;
}

/* Whether graph g computes each sample from that sample alone (and from
 * parameters, states and constants), so that a batch may run as slices,
 * each a run over its own samples, with the same bits (the model API's
 * sample split, runtime/nnrt_model.c). Each value is FREE (no batch, no
 * batch in what it reads), SAMPLE (the batch at axis 0, sample i from the
 * operands' sample i) or neither, which refuses the split: the batch size
 * as a scalar, a dropout mask drawn by the batch's element index, a
 * reduction, softmax, product, move or concatenation along the batch, a
 * gather from a batched table, a scatter, a gradient. Every input and
 * output must be SAMPLE. */
enum { BAD, FREE, SAMPLE };
static bool graph_kinds(const Graph *g, const int *input_kind, int *kind);

/* A scan's kind: SAMPLE when its body, its inputs of the operands'
 * kinds, keeps each sample's rows its own (a batched input is SAMPLE
 * unless its operand is BAD), else BAD. */
static int scan_kind(const Graph *g, const Value *v, const int *kind) {
  const Graph *b = g->bodies[v->a[0]];
  int *in = arena_alloc(sizeof(int) * (size_t)(v->nin + 1)), *bk = arena_alloc(sizeof(int) * (size_t)(b->n + 1));
  for (int i = 0; i < v->nin; i++) {
    const Value *x = &b->v[b->inputs[i]];
    in[i] = kind[v->in[i]] == BAD ? BAD : sample_shaped(x->shape) ? SAMPLE : kind[v->in[i]];
  }
  graph_kinds(b, in, bk);
  for (int i = 0; i < b->noutputs; i++)
    if (bk[b->outputs[i]] == BAD) return BAD;
  return SAMPLE;
}

/* Each value's kind (input i's input_kind[i], or SAMPLE when batched);
 * false when an input or output is not SAMPLE. */
static bool graph_kinds(const Graph *g, const int *input_kind, int *kind) {
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    bool batched = sample_shaped(v->shape), any = false, bad = false, ok = true, aligned = true;
    for (int i = 0; i < v->nin; i++) { /* broadcast operands: the batch at the result's axis 0 */
      const Value *x = &g->v[v->in[i]];
      bad |= kind[v->in[i]] == BAD;
      if (kind[v->in[i]] != SAMPLE) continue;
      any = true;
      aligned &= x->shape.rank == v->shape.rank || (v->op == OP_MATMUL && i == 0 && x->shape.rank == 2);
    }
    OpClass cls = op_info[v->op].cls;
    if (cls == CL_UNARY || cls == CL_BINARY || cls == CL_TERNARY || v->op == OP_EXPAND || v->op == OP_CONCAT ||
        v->op == OP_MATMUL)
      ok = aligned;
    for (int d = 0; d < v->shape.rank; d++) ok &= d == 0 || v->shape.dim[d] != DIM_BATCH;
    switch (v->op) {
    case OP_INPUT: kind[id] = input_kind ? input_kind[v->a[0]] : batched ? SAMPLE : BAD; continue;
    case OP_SCAN: kind[id] = bad ? BAD : scan_kind(g, v, kind); continue;
    case OP_PARAM: case OP_STATE: case OP_CONST: kind[id] = FREE; continue;
    case OP_SCALAR: kind[id] = v->a[0] == SC_BATCH ? BAD : FREE; continue;
    case OP_IOTA: case OP_DROPMASK: /* drawn or counted by the element's index in the whole batch */
      kind[id] = bad || !ok || (v->shape.rank && v->shape.dim[0] == DIM_BATCH) ? BAD : FREE;
      continue;
    case OP_LABEL: case OP_SCATTERADD: case OP_CONV2DBX: case OP_CONV2DBW: case OP_MAXPOOLB: case OP_AVGPOOLB:
      ok = !any;
      break;
    case OP_SUM: case OP_RMAX:
      for (int i = 0; i < v->nattr; i++) ok &= !any || v->a[i] != 0;
      break;
    case OP_SOFTMAX: case OP_LOGSOFTMAX: case OP_ARGMAX: case OP_TRANSPOSE: case OP_SLICE: case OP_PAD:
    case OP_CONCAT: /* the axis, or perm[0] (axis 0 stays where it is) */
      ok &= !any || v->a[0] != 0;
      if (v->op == OP_TRANSPOSE) ok = !any || v->a[0] == 0;
      break;
    case OP_MATMUL: /* a batched B of rank 2 would be summed over its rows */
      ok &= kind[v->in[1]] != SAMPLE || g->v[v->in[1]].shape.rank > 2;
      break;
    case OP_GATHER:
      ok &= kind[v->in[0]] == FREE;
      break;
    default: /* elementwise, reshape, expand, onehot, convolution, pooling */
      break;
    }
    kind[id] = bad || !ok ? BAD : batched ? SAMPLE : any ? BAD : FREE;
  }
  for (int i = 0; i < g->ninputs; i++)
    if (kind[g->inputs[i]] != SAMPLE) return false;
  for (int i = 0; i < g->noutputs; i++)
    if (kind[g->outputs[i]] != SAMPLE) return false;
  return g->noutputs > 0;
}

static bool graph_separable(const Graph *g) {
  return graph_kinds(g, NULL, arena_alloc(sizeof(int) * (size_t)(g->n + 1)));
}

/* The work of one sample through graph g, in multiply-adds: a product's
 * or a convolution's, one a result element for the rest. */
static int64_t graph_sample_work(const Graph *g) {
  double work = 0;
  for (int id = 0; id < g->n; id++) {
    const Value *v = &g->v[id];
    if (op_info[v->op].cls == CL_LEAF || v->op == OP_SCANOUT) continue;
    if (v->op == OP_SCAN) {
      work += (double)v->a[1] * (double)graph_sample_work(g->bodies[v->a[0]]);
      continue;
    }
    double each = 1, per = 1;
    for (int d = 0; d < v->shape.rank; d++) per *= v->shape.dim[d] == DIM_BATCH ? 1 : (double)v->shape.dim[d];
    if (op_info[v->op].cls == CL_CONTRACT) { /* matmul_sum: its work a sample, over its leading axes */
      Shape a = g->v[v->in[0]].shape;
      each = a.rank ? (double)a.dim[a.rank - 1] : 1;
      for (int d = 0; v->op == OP_MATMULSUM && d + 2 < a.rank; d++) each *= a.dim[d] == DIM_BATCH ? 1 : (double)a.dim[d];
    } else if (v->op == OP_CONV2D) {
      Shape w = g->v[v->in[1]].shape;
      each = (double)w.dim[0] * (double)w.dim[1] * (double)w.dim[2];
    }
    work += per * each;
  }
  return work < 9e18 ? (int64_t)work : INT64_MAX;
}

/* A language model: token ids [N, T] (i32) in, a first output of scores
 * [N, T, classes] (probabilities from a softmax, or logits), position t's
 * scoring the token after t; with its step graph's states. */
static void generation_checks(ModelChecks *c, const Graph *infer, const Graph *step) {
  const Value *in = infer && infer->ninputs == 1 ? &infer->v[infer->inputs[0]] : NULL;
  const Value *sc = infer && infer->noutputs > 0 ? &infer->v[infer->outputs[0]] : NULL;
  if (!in || in->dtype != DT_I32 || in->shape.rank != 2 || !sc || sc->dtype == DT_I32 || sc->shape.rank != 3 ||
      sc->shape.dim[1] != in->shape.dim[1])
    return;
  c->gen[0] = in->shape.dim[1], c->gen[1] = sc->shape.dim[2], c->gen[2] = sc->op == OP_SOFTMAX;
  c->gen[3] = sc->dtype == DT_F64;
  for (int i = 1; step && i < step->ninputs; i++) {
    const Value *x = &step->v[step->inputs[i]];
    int64_t bytes = x->dtype == DT_F64 ? 8 : 4;
    for (int d = 0; d < x->shape.rank; d++) bytes *= x->shape.dim[d] == DIM_BATCH ? 1 : x->shape.dim[d];
    c->gen_state_bytes[c->gen_nstates++] = bytes;
  }
}

/* The largest n, what labels and token ids may hold, the optimizer's
 * slots and generation's fields, from the model's graphs (train, eval,
 * infer, step; any may be NULL). */
ModelChecks model_checks(Graph *const *gs) {
  ModelChecks c = {.max_batch = NNRT_MAX_ARENA};
  for (int k = 0; k < NGRAPHS; k++) {
    Graph *g = gs[k];
    if (!g) continue;
    int64_t most = graph_max_batch(g);
    if (most < c.max_batch) c.max_batch = most;
    for (int i = 0; i < g->nlabels && !c.nlabels && k < GRAPH_ATTR; i++) { /* the first graph with labels */
      const Value *l = &g->v[g->labels[i]];
      c.label_kind[i] = g->label_rules[i].kind;
      c.label_dtype[i] = l->dtype == DT_F64 ? 1 : l->dtype == DT_I32 ? 2 : 0;
      c.label_size[i] = 1;
      for (int d = 1; d < l->shape.rank; d++) c.label_size[i] *= l->shape.dim[d];
      c.label_classes[i] = g->label_rules[i].classes;
      c.label_has_ignore[i] = g->label_rules[i].has_ignore;
      c.label_ignore[i] = g->label_rules[i].ignore;
    }
    if (!c.nlabels && k < GRAPH_ATTR) c.nlabels = g->nlabels;
    if (k == GRAPH_INFER) {
      c.sample_split = !g->training && g->nupdates == 0 && graph_separable(g);
      c.sample_work = graph_sample_work(g);
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
  generation_checks(&c, gs[GRAPH_INFER], gs[GRAPH_STEP]);
  return c;
}
