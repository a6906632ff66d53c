/* layout_host.c — for layouts.sh: the tables the LLVM backend lays out
 * itself (NnrtModelDef, NnrtTensorInfo, NnModelDesc, NnTensorDesc; see
 * emit_llvm_model.c), read through the runtime's own types (nnrt.h) and
 * compared field by field with the C backend's, which the C compiler lays
 * out from the same header. A field added, removed or moved in one and
 * not the other shows here as a field that differs.
 *
 *   layout_host C_LIB LLVM_LIB MODEL */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "nnrt.h"

static int failed;

static void same(const char *what, long long a, long long b) {
  if (a != b) {
    printf("FAIL %s: %lld (C) and %lld (LLVM)\n", what, a, b);
    failed = 1;
  }
}

static void same_str(const char *what, const char *a, const char *b) {
  if (!a || !b || strcmp(a, b) != 0) {
    printf("FAIL %s: '%s' (C) and '%s' (LLVM)\n", what, a ? a : "(null)", b ? b : "(null)");
    failed = 1;
  }
}

static void same_double(const char *what, double a, double b) {
  if (memcmp(&a, &b, sizeof a) != 0) {
    printf("FAIL %s: %.17g (C) and %.17g (LLVM)\n", what, a, b);
    failed = 1;
  }
}

static void tensor_descs(const char *what, const NnTensorDesc *a, const NnTensorDesc *b, int n) {
  char w[128];
  for (int i = 0; i < n; i++) {
    snprintf(w, sizeof w, "%s[%d].name", what, i), same_str(w, a[i].name, b[i].name);
    snprintf(w, sizeof w, "%s[%d].dtype", what, i), same(w, a[i].dtype, b[i].dtype);
    snprintf(w, sizeof w, "%s[%d].rank", what, i), same(w, a[i].rank, b[i].rank);
    for (int d = 0; d < 8; d++)
      snprintf(w, sizeof w, "%s[%d].dims[%d]", what, i, d), same(w, a[i].dims[d], b[i].dims[d]);
  }
}

static void model_descs(const NnModelDesc *a, const NnModelDesc *b) {
  same_str("desc.name", a->name, b->name);
  same("desc.ninputs", a->ninputs, b->ninputs);
  same("desc.noutputs", a->noutputs, b->noutputs);
  same("desc.nparams", a->nparams, b->nparams);
  same("desc.nlabels", a->nlabels, b->nlabels);
  if (failed) return;
  tensor_descs("desc.inputs", a->inputs, b->inputs, a->ninputs);
  tensor_descs("desc.outputs", a->outputs, b->outputs, a->noutputs);
  tensor_descs("desc.params", a->params, b->params, a->nparams);
  tensor_descs("desc.labels", a->labels, b->labels, a->nlabels);
}

static void tensor_infos(const NnrtTensorInfo *a, const NnrtTensorInfo *b, int n) {
  char w[128];
  for (int i = 0; i < n; i++) {
    snprintf(w, sizeof w, "tensors[%d].name", i), same_str(w, a[i].name, b[i].name);
    snprintf(w, sizeof w, "tensors[%d].elem_size", i), same(w, a[i].elem_size, b[i].elem_size);
    snprintf(w, sizeof w, "tensors[%d].rank", i), same(w, a[i].rank, b[i].rank);
    for (int d = 0; d < 8; d++)
      snprintf(w, sizeof w, "tensors[%d].dims[%d]", i, d), same(w, a[i].dims[d], b[i].dims[d]);
    snprintf(w, sizeof w, "tensors[%d].init", i), same(w, a[i].init, b[i].init);
    for (int k = 0; k < 2; k++)
      snprintf(w, sizeof w, "tensors[%d].init_args[%d]", i, k), same_double(w, a[i].init_args[k], b[i].init_args[k]);
  }
}

/* Every field of the two defs; function pointers only for presence. */
static void defs(const NnrtModelDef *a, const NnrtModelDef *b) {
  same_str("name", a->name, b->name);
  same("nparams", a->nparams, b->nparams);
  same("nstates", a->nstates, b->nstates);
  same_double("base_lr", a->base_lr, b->base_lr);
  for (int k = 0; k <= NNRT_STEP; k++) {
    same("run[k] present", a->run[k] != NULL, b->run[k] != NULL);
    same("arena[k] present", a->arena[k] != NULL, b->arena[k] != NULL);
    if (a->arena[k] && b->arena[k]) same("arena[k](5, 1)", a->arena[k](5, 1), b->arena[k](5, 1));
  }
  same("gen_steps", a->gen_steps, b->gen_steps);
  same("gen_classes", a->gen_classes, b->gen_classes);
  same("gen_probabilities", a->gen_probabilities, b->gen_probabilities);
  same("gen_dtype", a->gen_dtype, b->gen_dtype);
  same("gen_nstates", a->gen_nstates, b->gen_nstates);
  for (int i = 0; i < 15; i++) same("gen_state_bytes[i]", a->gen_state_bytes[i], b->gen_state_bytes[i]);
  same("nslots", a->nslots, b->nslots);
  same("nlabels", a->nlabels, b->nlabels);
  for (int i = 0; i < 16; i++) {
    same("label_kind[i]", a->label_kind[i], b->label_kind[i]);
    same("label_dtype[i]", a->label_dtype[i], b->label_dtype[i]);
    same("label_has_ignore[i]", a->label_has_ignore[i], b->label_has_ignore[i]);
    same("label_size[i]", a->label_size[i], b->label_size[i]);
    same("label_classes[i]", a->label_classes[i], b->label_classes[i]);
    same("label_ignore[i]", a->label_ignore[i], b->label_ignore[i]);
  }
  same("max_batch", a->max_batch, b->max_batch);
  for (int i = 0; i < 16; i++) same("vocab[i]", a->vocab[i], b->vocab[i]);
  same("nclass_weights", a->nclass_weights, b->nclass_weights);
  same("class_weights present", a->class_weights != NULL, b->class_weights != NULL);
  for (int64_t i = 0; i < a->nclass_weights && a->nclass_weights == b->nclass_weights; i++)
    same_double("class_weights[i]", a->class_weights[i], b->class_weights[i]);
  if (failed) return; /* the counts are wrong: the tables cannot be walked */
  tensor_infos(a->tensors, b->tensors, a->nparams + a->nstates);
  model_descs(a->desc, b->desc);
}

static const NnrtModelDef *def_of(const char *path, const char *model, const NnModelDesc **described) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  char s[256];
  if (!lib) return printf("FAIL %s: %s\n", path, dlerror()), NULL;
  snprintf(s, sizeof s, "%s_create", model);
  NnrtModel *(*create)(uint64_t) = (NnrtModel * (*)(uint64_t)) dlsym(lib, s);
  snprintf(s, sizeof s, "%s_describe", model);
  const NnModelDesc *(*describe)(void) = (const NnModelDesc *(*)(void))dlsym(lib, s);
  NnrtModel *m = create && describe ? create(1) : NULL;
  if (!m) return printf("FAIL %s: no %s_create or %s_describe, or it failed\n", path, model, model), NULL;
  *described = describe();
  return m->def; /* the instance is left to the process's end */
}

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: layout_host C_LIB LLVM_LIB MODEL\n"), 2;
  const NnModelDesc *ca, *la;
  const NnrtModelDef *c = def_of(argv[1], argv[3], &ca), *l = def_of(argv[2], argv[3], &la);
  if (!c || !l) return 1;
  same("def->desc is describe()", c->desc == (const void *)ca, l->desc == (const void *)la);
  defs(c, l);
  if (!failed) printf("ok %s: every field of the def, its tensors and its descriptor agrees\n", argv[3]);
  return failed;
}
