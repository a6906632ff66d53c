/* nnrt_arrays.c — the training program's per-sample weights (see
 * nnrt_program.h): an npy file of one weight a sample next to the data.
 * Only programs use it: nnc copies it into a C file that has a main. */
#include "nnrt_program.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

NNRT_API bool nnrt_npy_weights(const char *path, NnrtTable *t, char *err, size_t errlen) {
  NnrtTable w;
  if (!nnrt_npy_load(path, NULL, 1.0, &w, err, errlen)) return false;
  bool ok = true;
  if (w.features != 1)
    ok = nnrt_error(err, errlen, path, "sample weights are one value a sample, shape (n,) or (n, 1); this array has "
                    "%lld a sample", (long long)w.features);
  else if (w.rows != t->rows)
    ok = nnrt_error(err, errlen, path, "expected weights for %lld samples, got %lld", (long long)t->rows,
                    (long long)w.rows);
  for (int64_t i = 0; ok && i < w.rows; i++)
    if (!(w.x[i] >= 0) || !isfinite(w.x[i]))
      ok = nnrt_error(err, errlen, path, "sample %lld: the weight %g is not a finite number of at least 0",
                      (long long)i + 1, (double)w.x[i]);
  if (ok) {
    free(t->w);
    t->w = w.x;
    w.x = NULL;
  }
  nnrt_table_free(&w);
  return ok;
}

/* ------------------------------- several inputs and outputs (npy arrays) */

/* The values a sample of input i (label j) has. */
static int64_t input_size(const NnModelDesc *d, int i) {
  return nnrt_sample_size(&d->inputs[i]);
}

NNRT_API int64_t nnrt_arrays_width(const NnrtModelDef *def) {
  int64_t w = 0;
  for (int j = 0; j < ((const NnModelDesc *)def->desc)->noutputs; j++) w += def->label_size[j];
  return w;
}

static int64_t arrays_features(const NnModelDesc *d) {
  int64_t f = 0;
  for (int i = 0; i < d->ninputs; i++) f += input_size(d, i);
  return f;
}

/* Whether value v of label j is one output j's loss takes; want gets what it should be. */
static bool label_ok(const NnrtModelDef *def, int j, double v, char *want, size_t cap) {
  int kind = def->label_kind[j];
  if (kind == NNRT_LABEL_CLASSES) {
    snprintf(want, cap, "a class from 0 to %lld", (long long)def->label_classes[j] - 1);
    return (v == (double)(int64_t)v && v >= 0 && v < (double)def->label_classes[j]) ||
           (def->label_has_ignore[j] && v == (double)def->label_ignore[j]);
  }
  snprintf(want, cap, "%s", kind == NNRT_LABEL_UNIT ? "in [0, 1] as the loss needs" : "a finite number");
  return kind != NNRT_LABEL_UNIT || (v >= 0 && v <= 1);
}

NNRT_API bool nnrt_arrays_load(const NnrtModelDef *def, const NnrtSource *s, const char *what, NnrtTable *t, char *err,
                               size_t errlen) {
  const NnModelDesc *d = def->desc;
  memset(t, 0, sizeof *t);
  if (s->nxs != d->ninputs || s->nys != d->noutputs) {
    char flag[32] = "--";
    if (strcmp(what, "training") != 0) snprintf(flag, sizeof flag, "--%s-", what);
    return nnrt_error(err, errlen, NULL, "the %s data of model %s needs %d arrays of samples, one an input in order "
                      "(npy(x: [...]), %sx FILE once for each), and %d of labels, one an output (%sy FILE), got %d "
                      "and %d", what, def->name, d->ninputs, flag, d->noutputs, flag, s->nxs, s->nys);
  }
  int64_t f = arrays_features(d), w = nnrt_arrays_width(def), rows = -1, xo = 0, yo = 0;
  const char *first = NULL;
  bool ok = true;
  for (int k = 0; ok && k < d->ninputs + d->noutputs; k++) {
    bool in = k < d->ninputs;
    int i = in ? k : k - d->ninputs;
    const char *path = in ? s->xs[i] : s->ys[i];
    NnrtTable a;
    if (!nnrt_npy_load(path, NULL, in ? s->scale : 1.0, &a, err, errlen)) {
      ok = false;
      break;
    }
    int64_t want = in ? input_size(d, i) : def->label_size[i];
    const char *name = in ? d->inputs[i].name : d->outputs[i].name;
    if (a.features != want)
      ok = nnrt_error(err, errlen, path, "%lld values a sample; %s %d (%s) of model %s takes %lld", (long long)a.features,
                      in ? "input" : "the label of output", i, name, def->name, (long long)want);
    else if (rows >= 0 && a.rows != rows)
      ok = nnrt_error(err, errlen, path, "%lld samples, but %s has %lld: every array needs one row a sample",
                      (long long)a.rows, first, (long long)rows);
    if (ok && rows < 0) {
      rows = a.rows, first = path;
      t->rows = rows, t->features = f, t->width = w;
      t->x = nnrt_alloc(sizeof(float) * (size_t)(rows * f));
      t->y = nnrt_alloc(sizeof(float) * (size_t)(rows * w));
      if (!t->x || !t->y) ok = nnrt_error(err, errlen, path, "out of memory for %lld samples", (long long)rows);
    }
    char need[96];
    for (int64_t r = 0; ok && r < rows; r++)
      for (int64_t c = 0; ok && c < want; c++) {
        double v = a.x[r * want + c];
        if (in && i < 16 && def->vocab[i] > 0 && (v < 0 || v >= (double)def->vocab[i] || v != (double)(int64_t)v))
          ok = nnrt_error(err, errlen, path, "sample %lld, value %lld: the token id %g is outside the vocabulary "
                          "[0, %lld) of input %s", (long long)r + 1, (long long)c + 1, v, (long long)def->vocab[i], name);
        else if (!in && !label_ok(def, i, v, need, sizeof need))
          ok = nnrt_error(err, errlen, path, "sample %lld: the label %g of output %s is not %s", (long long)r + 1, v,
                          name, need);
        if (in) t->x[r * f + xo + c] = (float)v;
        else t->y[r * w + yo + c] = (float)v;
      }
    if (in) xo += want;
    else yo += want;
    nnrt_table_free(&a);
  }
  if (ok && s->w && *s->w) ok = nnrt_npy_weights(s->w, t, err, errlen);
  if (!ok) nnrt_table_free(t);
  return ok;
}

/* Input i's values of n samples start at byte 8 * n * (the sizes of the
 * inputs before it) of x, and label j's likewise in y. */
NNRT_API void nnrt_arrays_views(const NnrtModelDef *def, void *x, void *y, int64_t n, const void **inputs,
                                const void **labels) {
  const NnModelDesc *d = def->desc;
  int64_t at = 0;
  for (int i = 0; i < d->ninputs; at += input_size(d, i), i++) inputs[i] = (char *)x + 8 * n * at;
  at = 0;
  for (int j = 0; j < d->noutputs; at += def->label_size[j], j++) labels[j] = (char *)y + 8 * n * at;
}

static void put(void *to, int dtype, int64_t k, double v) {
  if (dtype == 2) ((int32_t *)to)[k] = (int32_t)v;
  else if (dtype == 1) ((double *)to)[k] = v;
  else ((float *)to)[k] = (float)v;
}

NNRT_API void nnrt_arrays_gather(const NnrtModelDef *def, const NnrtTable *t, const int64_t *perm, int64_t start,
                                 int64_t n, void *x, void *y) {
  const NnModelDesc *d = def->desc;
  const void *in[16], *lab[16];
  nnrt_arrays_views(def, x, y, n, in, lab);
  for (int64_t r = 0; r < n; r++) {
    const float *tx = t->x + perm[start + r] * t->features, *ty = t->y + perm[start + r] * t->width;
    for (int i = 0; i < d->ninputs; i++) {
      int64_t m = input_size(d, i);
      for (int64_t c = 0; c < m; c++) put((void *)in[i], d->inputs[i].dtype, r * m + c, *tx++);
    }
    for (int j = 0; j < d->noutputs; j++) {
      int64_t m = def->label_size[j];
      for (int64_t c = 0; c < m; c++) put((void *)lab[j], def->label_dtype[j], r * m + c, *ty++);
    }
  }
}

NNRT_API int nnrt_arrays_flag(const char *flag, const char *value, NnrtSource *const s[3], unsigned *listed) {
  static const char *const prefix[3] = {"--", "--validation-", "--test-"};
  for (int k = 0; k < 3; k++) {
    size_t n = strlen(prefix[k]);
    if (strncmp(flag, prefix[k], n) != 0 || (strcmp(flag + n, "x") != 0 && strcmp(flag + n, "y") != 0)) continue;
    if (!value) return 1; /* only whether it is one */
    bool y = flag[n] == 'y';
    unsigned bit = 1u << (2 * k + y);
    int *count = y ? &s[k]->nys : &s[k]->nxs;
    const char **list = y ? s[k]->ys : s[k]->xs;
    if (!(*listed & bit)) *count = 0, *listed |= bit; /* the first on the command line replaces the train block's */
    if (*count == 16) return fprintf(stderr, "error: %s is given more than 16 times\n", flag), -1;
    list[(*count)++] = value;
    return 1;
  }
  return 0;
}
