/* nnrt_predict.c — the training program's prediction from a file
 * (`train --load model.ckpt --predict in.csv --output pred.csv`, see
 * nnrt_program.h): the samples read with the training data's
 * preprocessing (scale; the input standardization is the model's own,
 * loaded with its weights), the model's first output for each, written as
 * CSV or NumPy .npy; and the --help lines of the data files' flags.
 * Only programs use it: nnc copies it into a C file that has a main,
 * never into a library.
 */
#include "nnrt_program.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fields of one CSV line (without its newline) as numbers into vals
 * (NULL: only counted); a header's names are not numbers. Returns the
 * field count, or -1 with err set at the first field that is not one. */
static int64_t csv_fields(char *line, char delimiter, double *vals, const char *path, int64_t lineno, char *err,
                          size_t errlen) {
  int64_t n = 0;
  char *f = line;
  for (;;) {
    char *end = strchr(f, delimiter), *stop;
    if (end) *end = '\0';
    if (vals) {
      errno = 0;
      double v = strtod(f, &stop);
      while (*stop == ' ' || *stop == '\t') stop++;
      if (!*f || *stop || errno == ERANGE || !isfinite(v)) {
        nnrt_error(err, errlen, NULL, "%s:%lld:%lld: expected a number, got '%.64s'", path, (long long)lineno,
                   (long long)(f - line + 1), f);
        return -1;
      }
      vals[n] = v;
    }
    n++;
    if (!end) return n;
    *end = delimiter;
    f = end + 1;
  }
}

/* Whether every field of a CSV line is a number: a row of data, not a
 * header's names. */
static bool all_numbers(const char *line, char delimiter) {
  for (const char *f = line;;) {
    char *stop;
    strtod(f, &stop);
    while (*stop == ' ' || *stop == '\t') stop++;
    if (stop == f || (*stop && *stop != delimiter)) return false;
    if (!*stop) return true;
    f = stop + 1;
  }
}

/* A CSV file of samples, each a row of the model's features with or
 * without the training data's label column (which is then skipped). */
static bool predict_csv(const NnrtProgram *p, const char *path, NnrtTable *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return false;
  char *line = NULL, *head = NULL;
  size_t cap = 0;
  int64_t rows = 0, cols = -1, lineno = 0, rcap = 0, label = -1;
  double *vals = NULL, *row = NULL;
  bool ok = true;
  for (;;) {
    errno = 0;
    int c = 0;
    size_t len = 0;
    while ((c = fgetc(f)) != EOF && c != '\n') { /* one line, any length */
      if (c == '\r') continue;
      if (len + 1 >= cap) {
        char *more = realloc(line, cap = cap ? 2 * cap : 256);
        if (!more) { ok = nnrt_error(err, errlen, path, "out of memory"); break; }
        line = more;
      }
      line[len++] = (char)c;
    }
    if (!ok || (c == EOF && len == 0)) break;
    line[len] = '\0';
    lineno++;
    if (lineno == 1 && p->header && all_numbers(line, p->delimiter)) {
      ok = nnrt_error(err, errlen, NULL, "%s:1:1: this row is numbers, but the training data has a header row "
                      "(header: true) and this one would be skipped as its names; give the file that header row",
                      path);
      break;
    }
    if (lineno == 1 && p->header) { /* the names, for a named label */
      head = malloc(len + 1);
      if (!head) { ok = nnrt_error(err, errlen, path, "out of memory"); break; }
      memcpy(head, line, len + 1);
      continue;
    }
    if (len == 0 && c == EOF) break;
    int64_t n = csv_fields(line, p->delimiter, NULL, path, lineno, err, errlen);
    if (cols < 0) {
      cols = n;
      if (cols != p->features && cols != p->features + 1) {
        ok = nnrt_error(err, errlen, NULL, "%s:%lld:1: this row has %lld fields; model %s takes %lld features (or "
                        "%lld with the training data's label column)", path, (long long)lineno, (long long)cols,
                        p->def->name, (long long)p->features, (long long)p->features + 1);
        break;
      }
      row = malloc(sizeof(double) * (size_t)cols);
      if (!row) { ok = nnrt_error(err, errlen, path, "out of memory"); break; }
    } else if (n != cols) {
      ok = nnrt_error(err, errlen, NULL, "%s:%lld:1: this row has %lld fields, the first one %lld", path,
                      (long long)lineno, (long long)n, (long long)cols);
      break;
    }
    if (csv_fields(line, p->delimiter, row, path, lineno, err, errlen) < 0) { ok = false; break; }
    if (rows == rcap) {
      rcap = rcap ? 2 * rcap : 1024;
      double *more = rcap < ((int64_t)1 << 40) / cols ? realloc(vals, sizeof(double) * (size_t)(rcap * cols)) : NULL;
      if (!more) { ok = nnrt_error(err, errlen, path, "out of memory"); break; }
      vals = more;
    }
    memcpy(vals + rows * cols, row, sizeof(double) * (size_t)cols);
    rows++;
  }
  fclose(f);
  if (ok && rows == 0) ok = nnrt_error(err, errlen, path, "no samples");
  if (ok && cols == p->features + 1) { /* the training data's layout: skip its label */
    label = p->label_col < 0 ? cols - 1 : p->label_col;
    if (p->label_name) {
      label = -1;
      for (int64_t k = 0, at = 0; head; k++) { /* the header's names, for the label's */
        size_t w = strcspn(head + at, (char[]){p->delimiter, '\0'});
        if (w == strlen(p->label_name) && !strncmp(head + at, p->label_name, w)) { label = k; break; }
        if (!head[at + (int64_t)w]) break;
        at += (int64_t)w + 1;
      }
      if (label < 0)
        ok = nnrt_error(err, errlen, NULL, "%s:1:1: %lld columns, so one is the label, but no column of the header "
                        "row has the label's name '%s'", path, (long long)cols, p->label_name);
    }
    if (ok && label >= cols)
      ok = nnrt_error(err, errlen, path, "the label column %lld is not in the table", (long long)label);
  }
  if (ok && (ok = (t->x = nnrt_alloc(sizeof(float) * (size_t)(rows * p->features))) != NULL &&
                  (t->y = nnrt_alloc(sizeof(float) * (size_t)rows)) != NULL)) {
    t->rows = rows, t->features = p->features, t->width = 1;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0, k = 0; c < cols; c++)
        if (c != label) t->x[r * p->features + k++] = (float)(vals[r * cols + c] * p->scale);
  } else if (ok || !*err) {
    ok = nnrt_error(err, errlen, path, "out of memory for %lld samples", (long long)rows);
  }
  if (!ok) nnrt_table_free(t);
  free(line);
  free(head);
  free(row);
  free(vals);
  return ok;
}

NNRT_API bool nnrt_predict_load(const NnrtProgram *p, const char *path, NnrtTable *t, char *err, size_t errlen) {
  bool ok;
  switch (p->reader) {
  case NNRT_IDX: ok = nnrt_idx_load(path, NULL, p->scale, t, err, errlen); break;
  case NNRT_NPY: ok = nnrt_npy_load(path, NULL, p->scale, t, err, errlen); break;
  case NNRT_CIFAR10: ok = nnrt_cifar_load(path, p->scale, t, err, errlen); break;
  case NNRT_TEXT:
    memset(t, 0, sizeof *t);
    return nnrt_error(err, errlen, NULL, "--predict reads samples for models of a csv, idx, npy or cifar10 data "
                      "source; a text model writes text with --generate N (and --prompt TEXT)");
  default: return predict_csv(p, path, t, err, errlen);
  }
  if (ok && t->features != p->features) {
    nnrt_error(err, errlen, path, "samples have %lld values; model %s takes %lld", (long long)t->features,
               p->def->name, (long long)p->features);
    nnrt_table_free(t);
    return false;
  }
  return ok;
}

/* ---------------------------------------------------------- output */

static bool write_npy_header(FILE *f, const NnTensorDesc *o, int64_t rows) {
  char h[512];
  int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,",
                   o->dtype == 2 ? "<i4" : o->dtype == 1 ? "<f8" : "<f4", (long long)rows);
  for (int d = 0; d < o->rank; d++) /* samples first */
    if (o->dims[d] >= 0) k += snprintf(h + k, sizeof h - (size_t)k, " %lld,", (long long)o->dims[d]);
  if (o->rank > 1) k--; /* (rows, 5, 4) but (rows,) */
  k += snprintf(h + k, sizeof h - (size_t)k, "), }");
  while ((10 + k + 1) % 64) h[k++] = ' '; /* the data 64-byte aligned, as NumPy writes it */
  h[k++] = '\n';
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 255), (unsigned char)(k >> 8)};
  return fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)k, f) == (size_t)k;
}

NNRT_API bool nnrt_predict_write(const NnrtProgram *p, NnrtModel *m, const NnrtTable *t, int64_t batch,
                                 const char *out, char *err, size_t errlen) {
  const NnModelDesc *desc = p->def->desc;
  const NnTensorDesc *o = &desc->outputs[0];
  int xt = desc->inputs[0].dtype;
  int64_t per = 1, f = p->features, chunk = batch < t->rows ? batch : t->rows;
  per = nnrt_sample_size(o);
  size_t len = strlen(out);
  bool npy = len >= 4 && out[len - 4] == '.' && (out[len - 3] | 32) == 'n' && (out[len - 2] | 32) == 'p' &&
             (out[len - 1] | 32) == 'y'; /* .npy, .NPY */
  void *x = nnrt_alloc(8 * (size_t)(chunk * f));
  if (!x) return nnrt_error(err, errlen, NULL, "out of memory for batches of %lld samples", (long long)chunk);
  FILE *w = fopen(out, npy ? "wb" : "w");
  bool ok = w && (!npy || write_npy_header(w, o, t->rows));
  for (int64_t at = 0; ok && at < t->rows; at += chunk) {
    int64_t n = t->rows - at < chunk ? t->rows - at : chunk;
    for (int64_t i = 0; i < n * f; i++) {
      float v = t->x[at * f + i];
      if (xt == 2) ((int32_t *)x)[i] = (int32_t)v;
      else if (xt == 1) ((double *)x)[i] = v;
      else ((float *)x)[i] = v;
    }
    const void *inputs[1] = {x};
    const void *y = nnrt_model_predict(m, inputs, n);
    if (!y) {
      fclose(w);
      remove(out);
      free(x);
      return nnrt_error(err, errlen, NULL, "samples %lld to %lld: %s", (long long)at + 1, (long long)(at + n),
                        m->error);
    }
    size_t size = o->dtype == 1 ? 8 : 4;
    if (npy) {
      ok = fwrite(y, size, (size_t)(n * per), w) == (size_t)(n * per);
      continue;
    }
    for (int64_t i = 0; ok && i < n; i++) {
      for (int64_t j = 0; j < per; j++) {
        int64_t k = i * per + j;
        if (j) fputc(',', w);
        if (o->dtype == 2) fprintf(w, "%d", (int)((const int32_t *)y)[k]);
        else if (o->dtype == 1) fprintf(w, "%.17g", ((const double *)y)[k]);
        else fprintf(w, "%.9g", (double)((const float *)y)[k]);
      }
      ok = fputc('\n', w) != EOF;
    }
  }
  free(x);
  if (!w || fclose(w) != 0 || !ok) {
    int e = errno;
    if (w) remove(out);
    return nnrt_error(err, errlen, out, "cannot write: %s", strerror(e ? e : EIO));
  }
  return true;
}

NNRT_API int nnrt_predict_main(const NnrtProgram *p, const char *load, const char *in, const char *out, int64_t batch,
                               int threads, uint64_t seed, bool quiet) {
  char err[1024];
  NnrtTable t;
  if (!nnrt_predict_load(p, in, &t, err, sizeof err)) return fprintf(stderr, "error: %s\n", err), 1;
  NnrtModel *m = nnrt_model_create(p->def, seed);
  if (m) m->samples_first = true; /* the tables hold samples */
  int status = 1;
  if (!m) fprintf(stderr, "error: %s\n", nnrt_model_last_error(NULL));
  else if (nnrt_model_set_threads(m, threads) != 0) fprintf(stderr, "error: %s\n", m->error);
  else if (nnrt_model_load(m, load, err, sizeof err) != 0) fprintf(stderr, "error: %s\n", err);
  else if (!nnrt_predict_write(p, m, &t, batch, out, err, sizeof err)) fprintf(stderr, "error: %s\n", err);
  else status = 0;
  if (!status && !quiet) printf("predicted %lld samples of %s into %s\n", (long long)t.rows, in, out);
  nnrt_model_free(m);
  nnrt_table_free(&t);
  return status;
}

/* ------------------------------------------------------------ usage */

/* The flags of the validation and test files and of prediction. */
NNRT_API void nnrt_usage_files(const NnrtProgram *p, FILE *f) {
  bool pair = p->reader == NNRT_NPY || p->reader == NNRT_IDX;
  const char *xf = p->reader == NNRT_NPY ? "x" : "images", *yf = p->reader == NNRT_NPY ? "y" : "labels";
  const NnrtSource *s[2] = {&p->val, &p->test};
  for (int i = 0; i < 2; i++) {
    const char *what = i ? "test" : "validation";
    bool set = pair ? s[i]->x && *s[i]->x : s[i]->data && *s[i]->data;
    if (pair) fprintf(f, "  --%s-%s FILE --%s-%s FILE\n", what, xf, what, yf);
    else fprintf(f, "  --%s-data FILE\n", what);
    fprintf(f, "                     %s data, read as the training data (%s%s%s)\n", what,
            !set ? "none" : pair ? s[i]->x : s[i]->data, set && pair ? ", " : "", set && pair ? s[i]->y : "");
    fprintf(f, "%s", i ? "                     evaluated once after training\n"
                       : "                     evaluated after every epoch instead of a held-out fraction\n");
  }
  fprintf(f, "  --predict FILE     with --load, write the model's output for each sample of FILE\n"
             "  --output FILE      to FILE (CSV, or NumPy when it ends in .npy); nothing is trained\n");
}

NNRT_API bool nnrt_sample_text(NnrtModel *m, const NnrtTable *t, int64_t from, int64_t T, const char *prompt,
                               int64_t generate, double temperature, uint64_t seed) {
  int32_t *ids = calloc((size_t)(generate + T), sizeof(int32_t));
  if (!ids) return fprintf(stderr, "error: out of memory\n"), false;
  int64_t len = 0, at = from * t->features;
  if (prompt)
    for (; prompt[len] && len < T; len++) ids[len] = (unsigned char)prompt[len];
  else
    for (; at + len < t->rows * t->features && len < T; len++) {
      ids[len] = (int32_t)t->x[at + len];
      if (ids[len] == '\n' && len) {
        len++;
        break;
      }
    }
  if (len < 1) ids[len++] = ' ';
  bool ok = nnrt_model_generate(m, ids, len, generate, temperature, seed, ids + len) == 0;
  if (!ok) fprintf(stderr, "error: cannot generate: %s\n", m->error);
  else {
    printf("sample (temperature %g):\n", temperature);
    for (int64_t i = 0; i < len + generate; i++) {
      int c = ids[i];
      if (c == '\n' || c == '\t' || (c >= 32 && c < 127)) putchar(c);
      else printf("\\x%02x", c);
    }
    printf("\n");
  }
  free(ids);
  return ok;
}
