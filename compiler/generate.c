/* generate.c — the generation step of a language model: its inference
 * graph at one position, the loops' states carried from call to call.
 *
 * A causal language model maps token ids [N, T] to scores [N, T, C].
 * When every value that depends on the ids is computed position by
 * position (axis 1 the position, never mixed: elementwise, products with
 * weights, embeddings, reductions over features) except forward scans
 * along the positions, the scores at position t depend on the tokens up
 * to t only through the scans' carries. The step graph is then the same
 * graph over one position: the ids [N, 1], each scan run for one step
 * from carries that are inputs of the graph, its final carries outputs.
 * M_generate runs it once a token (constant work a token) instead of
 * running the whole window again (runtime/nnrt_model.c).
 *
 * Interface: inputs the ids [N, 1], then every scan's carries in order;
 * outputs the scores [N, 1, C], then the new carries in the same order.
 * Any other model gets no step graph (NULL) and M_generate runs the
 * window. */
#include "nnc.h"

typedef struct {
  Graph *g;
  Graph *h;
  int64_t T;
  int *map;       /* g's value -> h's */
  bool *tainted;  /* depends on the ids: axis 1 is the position */
  bool *carry;    /* a scan's final carry: an output of h, read by nothing else */
} Step;

/* Whether untainted operand x, broadcast against a result of rank r, is
 * the same at every position (its dim aligned with axis 1 is 1 or absent). */
static bool constant_along(const Step *s, int x, int r) {
  const Value *v = &s->g->v[x];
  int at = 1 - (r - v->shape.rank);
  return at < 0 || v->shape.dim[at] == 1;
}

static Shape one_position(Shape sh) {
  sh.dim[1] = 1;
  return sh;
}

/* Whether v, of nt operands that depend on the ids (at least one), keeps
 * each position its own along axis 1. */
static bool position_wise(const Step *s, const Value *v, int nt) {
  const Graph *g = s->g;
  const Value *x = &g->v[v->in[0]];
  bool x_tainted = s->tainted[v->in[0]];
  switch (op_info[v->op].cls) {
  case CL_UNARY:
  case CL_BINARY:
  case CL_TERNARY:
    for (int i = 0; i < v->nin; i++)
      if (s->tainted[v->in[i]] ? g->v[v->in[i]].shape.rank != v->shape.rank
                               : !constant_along(s, v->in[i], v->shape.rank))
        return false;
    return true;
  case CL_REDUCE:
    for (int i = 0; i < (v->op == OP_SUM || v->op == OP_RMAX ? v->nattr : 1); i++)
      if (v->a[i] < 2) return false; /* over positions or samples */
    return x_tainted && x->shape.rank >= 2 && x->shape.dim[1] == s->T;
  case CL_CONTRACT: /* rows times weights: x [N, T, .., K] @ W [K, M] */
    return v->op == OP_MATMUL && x_tainted && !s->tainted[v->in[1]] && g->v[v->in[1]].shape.rank == 2 && x->shape.rank >= 3;
  case CL_MOVE:
    switch (v->op) {
    case OP_RESHAPE:
    case OP_EXPAND: return x->shape.rank >= 2 && x->shape.dim[0] == v->shape.dim[0] && x->shape.dim[1] == s->T;
    case OP_TRANSPOSE: return v->a[0] == 0 && v->a[1] == 1;
    case OP_SLICE:
    case OP_PAD:
    case OP_CONCAT: return v->a[0] >= 2 && nt == v->nin;
    case OP_GATHER: return !x_tainted && g->v[v->in[1]].shape.rank >= 2; /* an embedding: rows of a table */
    case OP_ONEHOT: return x->shape.rank >= 2;
    default: return false;
    }
  default: return false;
  }
}

/* The value of g's id in h, or -1 when the model is not position-wise. */
static int step_value(Step *s, int id) {
  const Graph *g = s->g;
  Graph *h = s->h;
  const Value *v = &g->v[id];
  int in[IR_MAX_IN], nt = 0;
  for (int i = 0; i < v->nin; i++) {
    if (s->carry[v->in[i]]) return -1; /* a loop's last state read on: not a sequence model */
    in[i] = s->map[v->in[i]];
    nt += s->tainted[v->in[i]];
  }
  h->loc = v->loc;
  if (v->op == OP_INPUT) {
    if (v->a[0] != 0) return -1;
    s->tainted[id] = true;
    h->input_names[0] = g->input_names[0];
    return h->inputs[h->ninputs++] = ir_leaf(h, OP_INPUT, v->dtype, one_position(v->shape), 0);
  }
  /* scans come through step_scan; a dropout mask or a label is not inference's */
  if (v->op == OP_SCAN || v->op == OP_SCANOUT || v->op == OP_DROPMASK || v->op == OP_LABEL) return -1;
  if (nt == 0) /* the same at every position: weights, constants and what is made of them */
    return ir_make(h, v->op, v->dtype, v->shape, in, v->nin, v->a, v->nattr, v->f);
  s->tainted[id] = true;
  if (v->shape.rank < 2 || v->shape.dim[1] != s->T || !position_wise(s, v, nt)) return -1;
  return ir_make(h, v->op, v->dtype, one_position(v->shape), in, v->nin, v->a, v->nattr, v->f);
}

/* A forward scan along the positions, as one step from carries that are
 * inputs of h; its results follow it in g and are mapped here. Returns
 * the next value of g to look at, or -1. */
static int step_scan(Step *s, int id) {
  const Graph *g = s->g;
  Graph *h = s->h;
  const Value *v = &g->v[id];
  int k = (int)v->a[4], m = (int)v->a[5], p = v->nin - k - m;
  if (v->a[1] != s->T || v->a[2] != 0 || v->a[3] != 1) return -1;
  int carries[IR_MAX_IN], seqs[IR_MAX_IN], inv[IR_MAX_IN];
  for (int i = 0; i < v->nin; i++) {
    int x = v->in[i];
    if (s->carry[x] || s->tainted[x] != (i >= k && i < k + m)) return -1;
    if (i < k && (g->v[x].op != OP_CONST || g->v[x].f != 0)) return -1; /* M_generate starts from zero states */
  }
  if (h->ninputs + k > 16 || h->noutputs + k > 16) return -1;
  for (int i = 0; i < k; i++) { /* the carries come in */
    const Value *c = &g->v[v->in[i]];
    carries[i] = h->inputs[h->ninputs] = ir_leaf(h, OP_INPUT, c->dtype, c->shape, h->ninputs);
    h->ninputs++;
  }
  for (int j = 0; j < m; j++) seqs[j] = s->map[v->in[k + j]];
  for (int l = 0; l < p; l++) inv[l] = s->map[v->in[k + m + l]];
  h->loc = v->loc;
  int first = ir_scan(h, ir_body(h, simplify(g->bodies[v->a[0]])), 1, false, 1, carries, k, seqs, m, inv, p,
                      (int)v->a[6], v->a[7]);
  int last = id;
  for (int r = id + 1; r < g->n && g->v[r].op == OP_SCANOUT && g->v[r].in[0] == id; r++) {
    int i = (int)g->v[r].a[0];
    s->map[r] = first + i, last = r;
    if (i < k) s->carry[r] = true;
    else s->tainted[r] = true;
  }
  for (int i = 0; i < k; i++) h->outputs[h->noutputs++] = first + i; /* the carries go out (after the scores) */
  return last + 1;
}

Graph *generation_step(Graph *g) {
  if (!g || g->training || g->ninputs != 1 || g->noutputs < 1) return NULL;
  const Value *ids = &g->v[g->inputs[0]], *scores = &g->v[g->outputs[0]];
  if (ids->dtype != DT_I32 || ids->shape.rank != 2 || scores->dtype == DT_I32 || scores->shape.rank != 3 ||
      scores->shape.dim[1] != ids->shape.dim[1])
    return NULL;
  Step s = {.g = g, .h = graph_new(arena_printf("%s_step", g->name)), .T = ids->shape.dim[1]};
  s.map = arena_alloc(sizeof(int) * (size_t)g->n);
  s.tainted = arena_alloc(sizeof(bool) * (size_t)g->n);
  s.carry = arena_alloc(sizeof(bool) * (size_t)g->n);
  Graph *h = s.h;
  h->params = g->params, h->nparams = g->nparams;
  h->states = g->states, h->nstates = g->nstates;
  h->base_lr = g->base_lr;
  h->loc = g->loc;
  h->noutputs = 1; /* the scores, set at the end */
  for (int id = 0; id < g->n;) {
    if (g->v[id].op == OP_SCAN) {
      id = step_scan(&s, id);
      if (id < 0) return NULL;
      continue;
    }
    if ((s.map[id] = step_value(&s, id)) < 0) return NULL;
    id++;
  }
  int out = g->outputs[0];
  if (!s.tainted[out] || s.carry[out]) return NULL;
  h->outputs[0] = s.map[out];
  h->output_names[0] = g->output_names[0];
  return h;
}
