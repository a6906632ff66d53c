/* explain.c — the graphs that look inside a model (docs/interpret.md).
 *
 * A library gets two more graphs of each model, both in inference mode
 * (no dropout, running statistics) and built from the model's forward
 * pass as lower_model makes it, with the values it logs by name:
 *
 * - the layers graph: every logged value (a layer instance's result,
 *   after its activation: conv2d1, block1.dense2; a named statement of the
 *   model) is an output, so that M_activation computes the one asked for
 *   rather than reading memory the plan reuses;
 * - the attribution graph: the first output y, a label w of y's shape, and
 *   the gradient of sum(y * w) by autodiff with respect to each
 *   floating-point input and each feature map (a logged value of shape
 *   [N, H, W, C]). With w one-hot on a target, that is the target's
 *   gradient sample by sample (samples do not mix in inference), from
 *   which the runtime makes saliency, integrated gradients and Grad-CAM.
 *
 * Requires a checked model; the runtime's NNRT_ATTR comment (nnrt.h) is
 * the contract of the outputs' order, which the runtime relies on.
 */
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

void layer_logged(LayerLog *log, const char *name, int id) {
  int again = 1; /* a name given again (h = ...; h = ...): h, h@2, h@3 */
  for (int i = 0; i < log->n; i++) {
    if (log->id[i] == id && !strcmp(log->name[i], name)) return;
    size_t len = strlen(name);
    again += !strncmp(log->name[i], name, len) && (log->name[i][len] == '\0' || log->name[i][len] == '@');
  }
  if (again > 1) name = arena_printf("%s@%d", name, again);
  if (log->n < NN_MAX_LAYERS) log->name[log->n] = name, log->id[log->n++] = id;
}

void layer_statement(LayerLog *log, const Node *rhs, int id) {
  while (rhs && rhs->kind == ND_PIPE) rhs = rhs->rhs;
  if (!rhs || (rhs->kind != ND_CALL && rhs->kind != ND_NAME) || rhs->inst) return; /* a layer: logged by its call */
  size_t len = strlen(rhs->name);
  int k = 1;
  for (int i = 0; i < log->n; i++)
    k += !strncmp(log->name[i], rhs->name, len) && log->name[i][len] >= '1' && log->name[i][len] <= '9' &&
         strspn(log->name[i] + len, "0123456789") == strlen(log->name[i] + len);
  layer_logged(log, arena_printf("%s%d", rhs->name, k), id);
}

/* The model's forward pass in inference mode, its named values in *log. */
static Graph *forward(Sema *s, ModelInfo *m, LayerLog *log) {
  Graph *g = graph_new(m->decl->name);
  s->layers = log;
  lower_model(s, m, g);
  s->layers = NULL;
  return g;
}

Graph *lower_layers(Sema *s, ModelInfo *m) {
  LayerLog log = {0};
  Graph *g = forward(s, m, &log);
  if (!log.n) return NULL;
  g->noutputs = 0;
  for (int i = 0; i < log.n; i++) {
    g->outputs[g->noutputs] = log.id[i];
    g->output_names[g->noutputs] = log.name[i];
    g->output_batch[g->noutputs++] = 0;
  }
  verify(g, "the layers graph");
  return g;
}

/* A feature map: a floating-point value of shape [N, H, W, C]. */
static bool feature_map(const Value *v) {
  return is_float(v->dtype) && v->shape.rank == 4 && v->shape.dim[0] == DIM_BATCH;
}

/* The gradient, or zeros of x's shape where none flows. */
static int gradient(Graph *g, const int *grad, int x) {
  return grad[x] >= 0 ? grad[x] : ir_const(g, is_float(g->v[x].dtype) ? g->v[x].dtype : DT_F32, g->v[x].shape, 0);
}

Graph *lower_attribution(Sema *s, ModelInfo *m) {
  LayerLog log = {0};
  Graph *g = forward(s, m, &log);
  int y = g->outputs[0];
  if (!is_float(g->v[y].dtype)) return NULL;
  int from[16 + NNRT_MAX_MAPS], nfrom = 0, maps[NNRT_MAX_MAPS], nmaps = 0;
  for (int i = 0; i < g->ninputs; i++)
    if (is_float(g->v[g->inputs[i]].dtype)) from[nfrom++] = g->inputs[i];
  for (int i = 0; i < log.n && nmaps < NNRT_MAX_MAPS; i++)
    if (feature_map(&g->v[log.id[i]])) from[nfrom++] = maps[nmaps++] = log.id[i];
  if (!nfrom) return NULL; /* token ids in, no feature map: nothing to attribute to */
  g->part = PART_LOSS;
  int w = ir_leaf(g, OP_LABEL, g->v[y].dtype, g->v[y].shape, 0);
  g->label_rules[0] = (LabelRule){.kind = NNRT_LABEL_VALUES};
  g->labels[g->nlabels++] = w;
  int axes[NN_MAX_RANK];
  for (int a = 0; a < g->v[y].shape.rank; a++) axes[a] = a;
  g->loss = ir_sum(g, ir_binary(g, OP_MUL, y, w), axes, g->v[y].shape.rank);
  Diag saved = diag_mute(); /* an op no gradient passes: the model has no attribution graph */
  int *grad = autodiff_from(g, g->loss, from, nfrom);
  if (!diag_unmute(saved) || !grad) return NULL;
  g->part = PART_FWD;
  g->noutputs = 0;
  g->outputs[g->noutputs++] = y;
  for (int i = 0; i < g->ninputs; i++) g->outputs[g->noutputs++] = gradient(g, grad, g->inputs[i]);
  for (int i = 0; i < nmaps; i++) {
    g->outputs[g->noutputs++] = maps[i];
    g->outputs[g->noutputs++] = gradient(g, grad, maps[i]);
  }
  for (int i = 0; i < g->noutputs; i++) g->output_names[i] = NULL, g->output_batch[i] = 0;
  verify(g, "the attribution graph");
  return g;
}

/* The layer graph as Graphviz: a node per input and per layer value (its
 * names: conv2d1 = c1, and its type), an edge from each to the nearest
 * layers and inputs it is computed from (through the ops between them). */
void print_layers_dot(FILE *out, const Graph *g, int cluster) {
  int *node = arena_alloc(sizeof(int) * (size_t)(g->n + 1)), *seen = arena_alloc(sizeof(int) * (size_t)(g->n + 1));
  int *stack = arena_alloc(sizeof(int) * (size_t)(g->n + 1));
  for (int id = 0; id < g->n; id++) node[id] = -1, seen[id] = -1;
  fprintf(out, "  subgraph cluster_%d {\n    label=\"%s\"; fontname=\"sans-serif\";\n", cluster, g->name);
  for (int i = 0; i < g->ninputs; i++) {
    node[g->inputs[i]] = g->inputs[i];
    const Value *v = &g->v[g->inputs[i]];
    fprintf(out, "    m%d_v%d [label=\"%s\\n%s\", shape=box, style=\"rounded,filled\", fillcolor=\"#e8f0fe\"];\n", cluster,
            g->inputs[i], g->input_names[i] ? g->input_names[i] : "input", type_str(v->dtype, v->shape));
  }
  for (int i = 0; i < g->noutputs; i++) {
    int id = g->outputs[i];
    if (node[id] >= 0) continue; /* an alias: named with the first */
    node[id] = id;
    char *names = arena_strdup(g->output_names[i]);
    for (int j = i + 1; j < g->noutputs; j++)
      if (g->outputs[j] == id) names = arena_printf("%s = %s", names, g->output_names[j]);
    fprintf(out, "    m%d_v%d [label=\"%s\\n%s\", shape=box];\n", cluster, id, names,
            type_str(g->v[id].dtype, g->v[id].shape));
  }
  for (int id = 0; id < g->n; id++) { /* each node's nearest nodes upstream */
    if (node[id] < 0 || g->v[id].op == OP_INPUT) continue;
    int top = 0;
    for (int k = 0; k < g->v[id].nin; k++) stack[top++] = g->v[id].in[k];
    while (top > 0) {
      int x = stack[--top];
      if (seen[x] == id) continue;
      seen[x] = id;
      if (node[x] >= 0) {
        fprintf(out, "    m%d_v%d -> m%d_v%d;\n", cluster, x, cluster, id);
        continue;
      }
      for (int k = 0; k < g->v[x].nin; k++) stack[top++] = g->v[x].in[k];
    }
  }
  fprintf(out, "  }\n");
}
