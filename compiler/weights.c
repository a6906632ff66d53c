/* weights.c — `nnc --weights [MODEL=]FILE`: a checkpoint (full or
 * weights-only, docs/c-api.md) read at compile time into the values of its
 * model's parameters and states, which the tables of both backends then
 * carry (NnrtTensorInfo.data) so that M_create starts from them. The file
 * is read by the runtime's own loader against the model's tensor table,
 * so it passes exactly the checks a load at run time makes, with the same
 * messages, but for an optimizer's slots, which are skipped (whatever the
 * optimizer) and not built in: the model's instances start them from
 * their initializers, as after a load of a weights-only file.
 */
#include <string.h>
#include "nnc.h"
#include "nnrt.h"

int64_t param_elements(const ParamInfo *p) {
  int64_t count = 1;
  for (int d = 0; d < p->shape.rank; d++) count *= p->shape.dim[d];
  return count;
}

/* The tensors of the model's table (its training step's when it has one,
 * whose states end with the optimizer's slots, which are left out of the
 * reading): parameters, then states. */
static ParamInfo **table_tensors(const Built *b, int *n, int *slots) {
  const Graph *g = built_main_graph(b);
  *n = g->nparams + g->nstates, *slots = 0;
  ParamInfo **t = arena_alloc(sizeof(ParamInfo *) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) {
    t[i] = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
    *slots += t[i]->slot;
  }
  return t;
}

static bool load_into(Built *b, const char *path) {
  int n, slots;
  ParamInfo **p = table_tensors(b, &n, &slots);
  NnrtTensorInfo *info = arena_alloc(sizeof(NnrtTensorInfo) * (size_t)(n + 1));
  void **data = arena_alloc(sizeof(void *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    info[i] = (NnrtTensorInfo){.name = p[i]->name, .elem_size = p[i]->dtype == DT_F64 ? 8 : 4,
                               .rank = p[i]->shape.rank};
    for (int d = 0; d < p[i]->shape.rank; d++) info[i].dims[d] = p[i]->shape.dim[d];
    data[i] = arena_alloc((size_t)nnrt_tensor_bytes(&info[i]) + 1);
  }
  NnrtMeta meta;
  char err[512];
  /* the model's own tensors alone: any optimizer's slots in the file are skipped */
  if (!nnrt_load(path, info, data, n - slots, 0, &meta, err, sizeof err)) {
    error_plain("--weights for model %s: %s", b->name, err);
    return false;
  }
  /* the graphs share the model's ParamInfo, but match by name all the same */
  for (int k = 0; k < NGRAPHS; k++) {
    Graph *g = b->g[k];
    for (int i = 0; g && i < g->nparams + g->nstates; i++) {
      ParamInfo *q = i < g->nparams ? g->params[i] : g->states[i - g->nparams];
      for (int j = 0; j < n - slots && !q->slot; j++)
        if (!strcmp(q->name, p[j]->name)) q->value = data[j];
    }
  }
  return true;
}

/* Whether spec is "MODEL=FILE", not a file name with '=' in it. */
static bool weights_named(const char *spec) {
  const char *eq = strchr(spec, '=');
  return eq && eq > spec &&
         strspn(spec, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == (size_t)(eq - spec);
}

const char *weights_file(const char *spec) { return weights_named(spec) ? strchr(spec, '=') + 1 : spec; }

/* The model a --weights names (MODEL=FILE), or the program's only one;
 * NULL with an error. */
static Built *weights_model(Built *models, const char *spec) {
  const char *eq = weights_named(spec) ? strchr(spec, '=') : NULL;
  int count = 0;
  for (Built *m = models; m; m = m->next, count++)
    if (eq && strlen(m->name) == (size_t)(eq - spec) && !strncmp(m->name, spec, (size_t)(eq - spec))) return m;
  if (eq) error_plain("--weights %s: the program has no model '%.*s'", spec, (int)(eq - spec), spec);
  else if (count != 1)
    error_plain("--weights %s: the program has %d models; say which: --weights MODEL=%s", spec, count, spec);
  return eq || count != 1 ? NULL : models;
}

bool built_in_weights(Built *models, const Options *o) {
  bool ok = true;
  Built *given[sizeof o->weights / sizeof *o->weights];
  for (int w = 0; w < o->nweights; w++) {
    const char *spec = o->weights[w];
    Built *b = given[w] = weights_model(models, spec);
    int again = -1;
    for (int v = 0; b && v < w; v++)
      if (given[v] == b) again = v;
    if (!b) {
      ok = false;
    } else if (again >= 0) {
      error_plain("--weights %s: model %s has its weights from --weights %s already", spec, b->name, o->weights[again]);
      ok = false;
    } else {
      ok = load_into(b, weights_file(spec)) && ok;
    }
  }
  return ok;
}

/* --emit=nn of an ONNX model: its initializers (the models' parameter
 * values, onnx_values) as a weights file beside the .nn text, which
 * `--weights` builds back in. */
bool write_weights(Sema *s, const char *path) {
  int n = 0;
  for (ModelInfo *m = s->models; m; m = m->next)
    for (ParamInfo *p = m->params; p; p = p->next) n += p->value != NULL;
  NnrtTensorInfo *info = arena_alloc(sizeof(NnrtTensorInfo) * (size_t)(n + 1));
  void **data = arena_alloc(sizeof(void *) * (size_t)(n + 1));
  int k = 0;
  for (ModelInfo *m = s->models; m; m = m->next)
    for (ParamInfo *p = m->params; p; p = p->next) {
      if (!p->value) continue;
      info[k] = (NnrtTensorInfo){.name = p->name, .elem_size = p->dtype == DT_F64 ? 8 : 4, .rank = p->shape.rank};
      for (int d = 0; d < p->shape.rank; d++) info[k].dims[d] = p->shape.dim[d];
      data[k++] = (void *)p->value;
    }
  NnrtMeta meta = {.weights = true};
  char err[512];
  if (!nnrt_save(path, info, data, n, &meta, err, sizeof err)) {
    error_plain("%s", err);
    return false;
  }
  return true;
}
