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
  for (int i = 0; i < log->n; i++)
    if (!strcmp(log->name[i], name)) return;
  if (log->n < NN_MAX_LAYERS) log->name[log->n] = name, log->id[log->n++] = id;
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
