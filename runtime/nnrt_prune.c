/* nnrt_prune.c — magnitude pruning during training (`prune magnitude(...)`).
 *
 * compiler/train.c gives each pruned weight W a mask, the optimizer's slot
 * prune.mask.W (ones at first), and multiplies W's update by it, so that a
 * weight set to zero stays zero. Here, at the start of the schedule's
 * epochs, each mask is set again from its weight's magnitudes: per tensor,
 * the smallest fraction `sparsity` become zero (Zhu and Gupta, "To prune,
 * or not to prune", 2017, with TensorFlow Model Optimization's per-layer
 * masks). The masks are slots, so a checkpoint keeps them and a
 * weights-only file (whose pruned weights are zeros) does not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnrt_program.h"

NNRT_API double nnrt_prune_target(const NnrtProgram *p, double sparsity, int64_t epoch) {
  int64_t e = epoch + 1, span = p->prune_end - p->prune_begin + 1;
  if (e < p->prune_begin) return 0;
  if (e >= p->prune_end) return sparsity;
  double t = (double)(e - p->prune_begin + 1) / (double)span, r = 1 - t;
  return sparsity * (1 - r * r * r);
}

/* The tensor of m's model named `name`, or -1. */
static int tensor_named(const NnrtModelDef *def, const char *name) {
  for (int i = 0; i < def->nparams + def->nstates; i++)
    if (!strcmp(def->tensors[i].name, name)) return i;
  return -1;
}

/* Mask i's weight (the tensor its name ends in), or -1 when i is no mask. */
static int masked(const NnrtModelDef *def, int i) {
  static const char prefix[] = "prune.mask.";
  const char *name = def->tensors[i].name;
  if (i < def->nparams + def->nstates - def->nslots || strncmp(name, prefix, sizeof prefix - 1)) return -1;
  return tensor_named(def, name + sizeof prefix - 1);
}

static double value(const NnrtTensorInfo *t, const void *data, int64_t j) {
  return t->elem_size == 8 ? ((const double *)data)[j] : ((const float *)data)[j];
}

static double magnitude(const NnrtTensorInfo *t, const void *data, int64_t j) {
  double v = value(t, data, j);
  return isnan(v) ? INFINITY : fabs(v); /* NaN is kept, for the step's checks to find */
}

static void set(const NnrtTensorInfo *t, void *data, int64_t j, double v) {
  if (t->elem_size == 8) ((double *)data)[j] = v;
  else ((float *)data)[j] = (float)v;
}

static int ascending(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

NNRT_API bool nnrt_prune(NnrtModel *m, double sparsity) {
  const NnrtModelDef *def = m->def;
  for (int i = 0; i < def->nparams + def->nstates; i++) {
    int w = masked(def, i);
    if (w < 0) continue;
    const NnrtTensorInfo *t = &def->tensors[w];
    int64_t n = nnrt_tensor_bytes(t) / t->elem_size, k = (int64_t)floor(sparsity * (double)n);
    double *sorted = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!sorted)
      return snprintf(m->error, sizeof m->error, "out of memory pruning %s (%lld weights)", t->name, (long long)n),
             false;
    for (int64_t j = 0; j < n; j++) sorted[j] = magnitude(t, m->params[w], j);
    qsort(sorted, (size_t)n, sizeof *sorted, ascending);
    double cut = k > 0 ? sorted[k - 1] : -1;
    int64_t below = 0; /* weights under the cut: all pruned; at it, the first until k */
    for (int64_t j = 0; j < k; j++) below += sorted[j] < cut;
    free(sorted);
    int64_t ties = k - below;
    for (int64_t j = 0; j < n; j++) {
      double a = magnitude(t, m->params[w], j);
      bool off = a < cut || (a == cut && ties-- > 0);
      set(t, m->params[i], j, off ? 0 : 1);
      if (off) set(t, m->params[w], j, 0);
    }
  }
  nnrt_model_touch(m);
  return true;
}

NNRT_API double nnrt_pruned(const NnrtModel *m, int64_t *weights) {
  const NnrtModelDef *def = m->def;
  int64_t n = 0, zeros = 0;
  for (int i = 0; i < def->nparams + def->nstates; i++) {
    int w = masked(def, i);
    if (w < 0) continue;
    const NnrtTensorInfo *t = &def->tensors[w];
    int64_t c = nnrt_tensor_bytes(t) / t->elem_size;
    for (int64_t j = 0; j < c; j++) zeros += magnitude(t, m->params[w], j) == 0;
    n += c;
  }
  *weights = n;
  return n ? (double)zeros / (double)n : 0;
}

NNRT_API void nnrt_copy_masks(NnrtModel *to, const NnrtModel *from) {
  const NnrtModelDef *def = from->def;
  for (int i = 0; i < def->nparams + def->nstates; i++)
    if (masked(def, i) >= 0) memcpy(to->params[i], from->params[i], (size_t)nnrt_tensor_bytes(&def->tensors[i]));
}

NNRT_API bool nnrt_prune_start(const NnrtProgram *p, NnrtModel *m, const char *load, double *sparsity, bool given,
                               bool quiet) {
  if (load && !given && m->sparsity == m->sparsity) *sparsity = m->sparsity; /* the checkpoint's run goes on */
  m->sparsity = *sparsity;
  if (*sparsity != p->sparsity && !quiet)
    printf("pruning to %g sparsity by epoch %lld (%s; the train block's is %g)\n", *sparsity, (long long)p->prune_end,
           given ? "--sparsity" : load, p->sparsity);
  const NnrtModelDef *def = m->def;
  for (int i = 0; load && i < def->nparams + def->nstates; i++) {
    int w = masked(def, i);
    if (w < 0) continue;
    const NnrtTensorInfo *t = &def->tensors[w];
    int64_t n = nnrt_tensor_bytes(t) / t->elem_size;
    for (int64_t j = 0; j < n; j++) {
      double v = value(t, m->params[i], j), x = value(t, m->params[w], j); /* a mask is W's type */
      if (v == 0 || v == 1) {
        if (v == 0 && x != 0) {
          fprintf(stderr, "error: %s: %s[%lld] is not 0 where its mask %s is\n", load, t->name, (long long)j,
                  def->tensors[i].name);
          return false;
        }
        continue;
      }
      fprintf(stderr, "error: %s: %s[%lld] is %g; a pruning mask holds 0 and 1\n", load, def->tensors[i].name,
              (long long)j, v);
      return false;
    }
  }
  return true;
}

NNRT_API void nnrt_prune_end(const NnrtProgram *p, const NnrtModel *m, double sparsity, int64_t epochs, bool quiet) {
  int64_t weights;
  double zeros = nnrt_pruned(m, &weights);
  if (!quiet) printf("pruned: %.2f%% of the %lld weights masked are zero\n", 100 * zeros, (long long)weights);
  if (epochs < p->prune_end && sparsity > 0)
    fprintf(stderr, "warning: training ended after epoch %lld, before pruning's last (epoch %lld): %.2f%% of the "
            "weights masked are zero, not %g%%\n", (long long)epochs, (long long)p->prune_end, 100 * zeros,
            100 * sparsity);
}
