/* nnrt_data.c — the training program's data (see nnrt.h): the readers of
 * CSV tables, IDX, NPY, CIFAR-10 batches and text, standardization
 * statistics, augmentation, shuffling and the clock. Only programs use
 * it: nnc copies it into a C file that has a main, never into a library.
 * Plain C11 and libm. */
#include "nnrt_program.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* -------------------------------------------------------------- data */


enum { NNRT_MAX_FIELD = 256 };

static bool csv_error(char *err, size_t errlen, const char *path, int64_t line, int64_t col,
                      const char *msg) {
  return nnrt_error(err, errlen, NULL, "%s:%lld:%lld: %s", path, (long long)line, (long long)col, msg);
}

/* t's arrays for `rows` samples of `features` values and `width` labels;
 * false with "path: out of memory" in err when memory runs out. */
static bool table_alloc(NnrtTable *t, int64_t rows, int64_t features, int64_t width, const char *path,
                        char *err, size_t errlen) {
  t->rows = rows;
  t->features = features;
  t->width = width;
  double bytes = 4.0 * (double)rows * (double)(features > width ? features : width);
  t->x = bytes < (double)NNRT_MAX_ARENA ? nnrt_alloc(sizeof(float) * (size_t)(rows * features)) : NULL;
  t->y = bytes < (double)NNRT_MAX_ARENA ? nnrt_alloc(sizeof(float) * (size_t)(rows * width)) : NULL;
  if (t->x && t->y) return true;
  nnrt_error(err, errlen, path, "out of memory for %lld samples of %lld values", (long long)rows,
           (long long)features);
  nnrt_table_free(t);
  return false;
}

/* When text that should be one field holds another usual delimiter (a
 * table written with ';' or tabs read with ','), the setting to write, after
 * "; "; else "". */
static const char *delimiter_hint(const char *text, char delimiter, char *buf, size_t n) {
  static const char usual[] = {';', '\t', ',', '|'};
  for (size_t i = 0; i < sizeof usual; i++) {
    char c = usual[i];
    if (c == delimiter || !strchr(text, c)) continue;
    const char *name = c == '\t' ? "tabs" : c == ';' ? "';'" : c == ',' ? "','" : "'|'";
    const char *lit = c == '\t' ? "\\t" : c == ';' ? ";" : c == ',' ? "," : "|";
    char d[8];
    if (delimiter == '\t') snprintf(d, sizeof d, "tabs");
    else snprintf(d, sizeof d, "'%c'", delimiter);
    snprintf(buf, n, "; are the columns separated by %s, not %s? then write csv(..., delimiter: \"%s\") "
             "in the .nn file%s", name, d, lit,
             c == ',' ? " (numbers are written with '.' as the decimal point)" : "");
    return buf;
  }
  return "";
}

static bool blank(const char *s, int n) {
  for (int i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t') return false;
  return true;
}

/* A UTF-8 byte-order mark (Excel's "CSV UTF-8" writes one) is skipped. */
static void skip_bom(FILE *f) {
  unsigned char b[3];
  if (fread(b, 1, 3, f) == 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) return;
  rewind(f);
}

/* The number of the column called `name` in the header line of f; the
 * header line's first bytes go to `text` for a hint when none matches. */
static int header_column(FILE *f, const char *name, char delimiter, char *text, size_t textlen) {
  char cell[NNRT_MAX_FIELD + 1];
  int len = 0, column = 0, found = -1;
  size_t tlen = 0;
  for (;;) {
    int c = fgetc(f);
    if (c == '\r') continue;
    if (c != '\n' && c != EOF && tlen + 1 < textlen) text[tlen++] = (char)c;
    text[tlen] = '\0';
    if (c == delimiter || c == '\n' || c == EOF) {
      cell[len] = '\0';
      if (found < 0 && !strcmp(cell, name)) found = column;
      column++;
      len = 0;
      if (c != delimiter) break;
      continue;
    }
    if (len < NNRT_MAX_FIELD) cell[len++] = (char)c;
  }
  return found;
}

NNRT_API bool nnrt_csv_load(const char *path, const char *label_name, int label_col, bool header,
                   char delimiter, double scale, NnrtTable *t, char *err, size_t errlen) {
  return nnrt_csv_load_weighted(path, label_name, label_col, NULL, -1, header, delimiter, scale, t, err, errlen);
}

NNRT_API bool nnrt_csv_load_weighted(const char *path, const char *label_name, int label_col, const char *weight_name,
                                     int weight_col, bool header, char delimiter, double scale, NnrtTable *t,
                                     char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  bool had_header = header;
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return false;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && st.st_size == 0) {
    fclose(f);
    return nnrt_error(err, errlen, path, "the file is empty: expected a table of numbers");
  }
  skip_bom(f);
  if (weight_name) { /* the weight column's number, then the header again for the label's */
    long at = ftell(f);
    char text[NNRT_MAX_FIELD + 1] = "", hint[160];
    weight_col = header ? header_column(f, weight_name, delimiter, text, sizeof text) : -2;
    if (weight_col < 0 || fseek(f, at, SEEK_SET) != 0) {
      fclose(f);
      char msg[NNRT_MAX_FIELD + 240];
      snprintf(msg, sizeof msg, "no column of the header row has the sample weights' name%s",
               delimiter_hint(text, delimiter, hint, sizeof hint));
      return csv_error(err, errlen, path, 1, 1, msg);
    }
    if (!label_name) {
      header_column(f, "", delimiter, text, sizeof text); /* consumed */
      header = false;
    }
  }
  if (label_name) {
    char text[NNRT_MAX_FIELD + 1] = "", hint[160];
    label_col = header ? header_column(f, label_name, delimiter, text, sizeof text) : -2;
    if (label_col < 0) {
      fclose(f);
      char msg[NNRT_MAX_FIELD + 240];
      snprintf(msg, sizeof msg, "no column of the header row has the label's name%s",
               delimiter_hint(text, delimiter, hint, sizeof hint));
      return csv_error(err, errlen, path, 1, 1, msg);
    }
    header = false; /* consumed */
  }
  if (weight_col >= 0 && weight_col == label_col) {
    fclose(f);
    return csv_error(err, errlen, path, 1, 1, "the sample weights' column is the label's");
  }
  int64_t cap = 0, n = 0, cols = -1, line = label_name || weight_name ? 2 : 1, col = 1, field_col = 1, ncols = 0;
  double *vals = NULL;
  char field[NNRT_MAX_FIELD + 1];
  int flen = 0;
  bool skipping = header, ok = true, line_has_data = false;
  for (;;) {
    int c = fgetc(f);
    if (skipping) {
      if (c == '\n') skipping = false, line++, col = 1;
      if (c == EOF) break;
      continue;
    }
    if (c == '\r') continue;
    if ((c == '\n' || c == EOF) && !line_has_data && blank(field, flen)) {
      /* a blank line (or one of blanks), anywhere: skipped, as pandas and NumPy do */
      if (c == EOF) break;
      flen = 0;
      line++;
      col = field_col = 1;
      continue;
    }
    if (c == delimiter || c == '\n' || c == EOF) {
      field[flen] = '\0';
      char *end;
      errno = 0;
      double v = strtod(field, &end);
      while (*end == ' ' || *end == '\t') end++;
      if (flen == 0 || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        char msg[NNRT_MAX_FIELD + 240], hint[160];
        snprintf(msg, sizeof msg, "expected a number, got '%s'%s", field,
                 delimiter_hint(field, delimiter, hint, sizeof hint));
        ok = csv_error(err, errlen, path, line, field_col, msg);
        break;
      }
      if (n == cap) {
        cap = cap ? 2 * cap : 4096;
        if (cap > ((int64_t)1 << 34)) { ok = csv_error(err, errlen, path, line, field_col, "the table is too large"); break; }
        double *nv = realloc(vals, sizeof *vals * (size_t)cap);
        if (!nv) { ok = csv_error(err, errlen, path, line, field_col, "out of memory"); break; }
        vals = nv;
      }
      if (ncols == weight_col && v < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "the sample weight %g is negative; weights are finite numbers of at least 0", v);
        ok = csv_error(err, errlen, path, line, field_col, msg);
        break;
      }
      vals[n++] = v;
      ncols++;
      flen = 0;
      line_has_data = true;
      if (c == delimiter) {
        col++;
        field_col = col;
        continue;
      }
      if (cols < 0) cols = ncols;
      else if (ncols != cols) {
        char msg[96];
        snprintf(msg, sizeof msg, "this row has %lld fields, the first one %lld", (long long)ncols, (long long)cols);
        ok = csv_error(err, errlen, path, line, 1, msg);
        break;
      }
      ncols = 0;
      line_has_data = false;
      line++;
      col = field_col = 1;
      if (c == EOF) break;
      continue;
    }
    if (flen == NNRT_MAX_FIELD) {
      char msg[240], hint[160];
      field[flen] = '\0';
      snprintf(msg, sizeof msg, "field too long%s", delimiter_hint(field, delimiter, hint, sizeof hint));
      ok = csv_error(err, errlen, path, line, field_col, msg);
      break;
    }
    field[flen++] = (char)c;
    col++;
  }
  fclose(f);
  if (ok && n == 0)
    ok = nnrt_error(err, errlen, path, "has no rows of numbers%s", had_header ? " after its header" : "");
  if (ok && (cols < 2 || n == 0)) ok = csv_error(err, errlen, path, line, 1, "expected rows of at least two numbers");
  if (ok && (label_col >= cols || label_col < -1)) ok = csv_error(err, errlen, path, 1, 1, "the label column is not in the table");
  int lc = label_col < 0 ? (int)cols - 1 : label_col, wc = weight_col;
  if (ok && wc >= cols) ok = csv_error(err, errlen, path, 1, 1, "the sample weights' column is not in the table");
  if (ok && wc == lc) ok = csv_error(err, errlen, path, 1, 1, "the sample weights' column is the label's");
  if (ok && wc >= 0 && cols < 3) ok = csv_error(err, errlen, path, line, 1, "expected rows of at least three numbers "
                                                "(features, the label and the weight)");
  if (!ok) {
    free(vals);
    return false;
  }
  if (!table_alloc(t, n / cols, cols - 1 - (wc >= 0), 1, path, err, errlen)) {
    free(vals);
    return false;
  }
  if (wc >= 0 && !(t->w = nnrt_alloc(sizeof(float) * (size_t)t->rows))) {
    free(vals);
    nnrt_table_free(t);
    return nnrt_error(err, errlen, path, "out of memory for %lld sample weights", (long long)(n / cols));
  }
  for (int64_t r = 0; r < t->rows; r++)
    for (int64_t c = 0, k = 0; c < cols; c++) {
      double v = vals[r * cols + c];
      if (c == lc) t->y[r] = (float)v;
      else if (c == wc) t->w[r] = (float)v;
      else t->x[r * t->features + k++] = (float)(v * scale);
    }
  free(vals);
  return true;
}

/* The header of an IDX file of unsigned bytes: dims[0] samples of
 * per = dims[1] * ... bytes. Returns the header's size, or 0 with err set. */
static long idx_header(FILE *f, const char *path, int want_dims, int64_t *count, int64_t *per,
                       char *err, size_t errlen) {
  unsigned char h[4], b[4];
  if (fseek(f, 0, SEEK_END) != 0) return 0;
  long size = ftell(f);
  rewind(f);
  if (size < 8 || fread(h, 1, 4, f) != 4 || h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] < 1 ||
      h[3] > 8 || (want_dims && h[3] != want_dims)) {
    nnrt_error(err, errlen, path, "byte 0: not an IDX file of unsigned bytes%s",
             want_dims ? " with one label a sample" : "");
    return 0;
  }
  int64_t dims[8], prod = 1;
  for (int d = 0; d < h[3]; d++) {
    if (fread(b, 1, 4, f) != 4) {
      nnrt_error(err, errlen, path, "byte %d: the header is cut short", 4 + 4 * d);
      return 0;
    }
    dims[d] = (int64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    if (d > 0) {
      prod *= dims[d];
      if (dims[d] == 0 || prod > ((int64_t)1 << 31)) {
        nnrt_error(err, errlen, path, "byte %d: sample size out of range", 4 + 4 * d);
        return 0;
      }
    }
  }
  long header = 4 + 4L * h[3];
  if (dims[0] == 0 || (double)dims[0] * (double)prod != (double)(size - header)) {
    nnrt_error(err, errlen, path, "the header promises %lld samples of %lld bytes, the file has %ld bytes after it",
               (long long)dims[0], (long long)prod, size - header);
    return 0;
  }
  *count = dims[0];
  *per = prod;
  return header;
}

NNRT_API bool nnrt_idx_load(const char *images, const char *labels, double scale, NnrtTable *t,
                            char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *fi = nnrt_open_regular(images, err, errlen), *fl = fi && labels ? nnrt_open_regular(labels, err, errlen) : NULL;
  bool ok = fi && (fl || !labels); /* no labels: the samples alone, for prediction */
  int64_t n = 0, per = 0, nl = 0, one = 0;
  ok = ok && idx_header(fi, images, 0, &n, &per, err, errlen) &&
       (!fl || idx_header(fl, labels, 1, &nl, &one, err, errlen));
  if (!fl) nl = n;
  if (ok && nl != n) {
    nnrt_error(err, errlen, labels, "%lld labels for the %lld samples of %s", (long long)nl,
             (long long)n, images);
    ok = false;
  }
  if (ok) {
    unsigned char *row = malloc((size_t)per);
    ok = row && table_alloc(t, n, per, 1, images, err, errlen);
    if (!row) nnrt_error(err, errlen, images, "out of memory");
    for (int64_t r = 0; ok && r < n; r++) {
      ok = fread(row, 1, (size_t)per, fi) == (size_t)per;
      for (int64_t j = 0; ok && j < per; j++) t->x[r * per + j] = (float)(row[j] * scale);
    }
    for (int64_t r = 0; ok && fl && r < n; r++) {
      int c = fgetc(fl);
      ok = c != EOF;
      t->y[r] = (float)c;
    }
    if (row && t->x && !ok) nnrt_error(err, errlen, images, "cannot read the data");
    free(row);
  }
  if (fi) fclose(fi);
  if (fl) fclose(fl);
  if (!ok) nnrt_table_free(t);
  return ok;
}

/* The header of a .npy file: element type and size, sample count and
 * values a sample. Returns the data's offset, or 0 with err set. */
/* One CIFAR-10 binary batch appended to t (rows already counted). */
static bool cifar_file(const char *path, double scale, NnrtTable *t, int64_t *row, char *err,
                       size_t errlen) {
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return false;
  unsigned char rec[3073];
  bool ok = true;
  for (int64_t k = 0; ok && fread(rec, 1, sizeof rec, f) == sizeof rec; k++, (*row)++) {
    if (rec[0] > 9) {
      nnrt_error(err, errlen, path, "byte %lld: the label %d is not a CIFAR-10 class (0 to 9)",
               (long long)k * 3073, rec[0]);
      ok = false;
    }
    t->y[*row] = rec[0];
    for (int64_t ch = 0; ch < 3; ch++) /* planes of 1024 bytes -> pixels of 3 channels */
      for (int64_t i = 0; i < 1024; i++) t->x[*row * 3072 + i * 3 + ch] = (float)(rec[1 + ch * 1024 + i] * scale);
  }
  fclose(f);
  return ok;
}

/* The byte length of a CIFAR-10 batch: whole records, at least one. */
static int64_t cifar_records(const char *path, char *err, size_t errlen) {
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return -1;
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  fclose(f);
  if (size <= 0 || size % 3073) {
    nnrt_error(err, errlen, path, "%ld bytes is not a whole number of CIFAR-10 records (3073 bytes: a label "
             "and 32x32x3 pixels)", size < 0 ? 0 : size);
    return -1;
  }
  return size / 3073;
}

NNRT_API bool nnrt_cifar_load(const char *path, double scale, NnrtTable *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  char files[5][4096];
  int nfiles = 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    nnrt_error(err, errlen, path, "cannot open: %s", strerror(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) { /* the training batches of the official archive */
    for (int i = 1; i <= 5; i++) {
      snprintf(files[nfiles], sizeof files[nfiles], "%s/data_batch_%d.bin", path, i);
      if (stat(files[nfiles], &st) == 0) nfiles++;
    }
    if (!nfiles) {
      nnrt_error(err, errlen, path, "no data_batch_1.bin ... data_batch_5.bin in this directory");
      return false;
    }
  } else {
    snprintf(files[nfiles++], sizeof files[0], "%s", path);
  }
  int64_t rows = 0, row = 0;
  for (int i = 0; i < nfiles; i++) {
    int64_t k = cifar_records(files[i], err, errlen);
    if (k < 0) return false;
    rows += k;
  }
  bool ok = table_alloc(t, rows, 3072, 1, path, err, errlen);
  for (int i = 0; ok && i < nfiles; i++) ok = cifar_file(files[i], scale, t, &row, err, errlen);
  if (ok && row != rows) {
    nnrt_error(err, errlen, path, "the file changed while it was read");
    ok = false;
  }
  if (!ok) nnrt_table_free(t);
  return ok;
}

static long npy_header(FILE *f, const char *path, char *type, int *size, int64_t *count,
                       int64_t *per, char *err, size_t errlen) {
  unsigned char m[10];
  if (fseek(f, 0, SEEK_END) != 0) return 0;
  long fsize = ftell(f);
  rewind(f);
  if (fsize < 10 || fread(m, 1, 10, f) != 10 || memcmp(m, "\x93NUMPY", 6) != 0 || m[6] < 1 || m[6] > 3) {
    nnrt_error(err, errlen, path, "byte 0: not a NumPy .npy file");
    return 0;
  }
  long hlen = m[8] | m[9] << 8, start = 10;
  if (m[6] > 1) { /* 4-byte header length */
    unsigned char b[2];
    if (fread(b, 1, 2, f) != 2) return nnrt_error(err, errlen, path, "byte 10: cut short"), 0;
    hlen |= (long)b[0] << 16 | (long)b[1] << 24;
    start = 12;
  }
  if (hlen <= 0 || hlen > 65536 || start + hlen > fsize) {
    nnrt_error(err, errlen, path, "byte 8: the header length %ld exceeds the file", hlen);
    return 0;
  }
  char h[65537];
  if (fread(h, 1, (size_t)hlen, f) != (size_t)hlen) return nnrt_error(err, errlen, path, "cannot read"), 0;
  h[hlen] = '\0';
  const char *d = strstr(h, "'descr':"), *fo = strstr(h, "'fortran_order':"), *sh = strstr(h, "'shape':");
  if (!d || !fo || !sh) {
    nnrt_error(err, errlen, path, "byte %ld: the header lacks descr, fortran_order or shape", start);
    return 0;
  }
  if (strncmp(fo + 16 + strspn(fo + 16, " "), "False", 5) != 0) {
    nnrt_error(err, errlen, path, "Fortran-ordered arrays are not read; save in C order");
    return 0;
  }
  d += 8 + strspn(d + 8, " ");
  static const struct { const char *descr; char type; int size; } types[] = {
    {"'<f4'", 'f', 4}, {"'<f8'", 'f', 8}, {"'|u1'", 'u', 1}, {"'<i4'", 'i', 4}, {"'<i8'", 'i', 8},
  };
  *size = 0;
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (!strncmp(d, types[i].descr, strlen(types[i].descr))) *type = types[i].type, *size = types[i].size;
  if (!*size) {
    int len = *d == '\'' ? (int)strcspn(d + 1, "'") + 2 : 0;
    nnrt_error(err, errlen, path, "element type %.*s is not float32, float64, uint8, int32 or int64",
             len > 12 ? 12 : len, d);
    return 0;
  }
  sh += 8 + strspn(sh + 8, " ");
  if (*sh != '(') return nnrt_error(err, errlen, path, "malformed shape"), 0;
  int64_t dims[8], nd = 0;
  const char *q = sh + 1;
  for (;;) {
    while (*q == ' ' || *q == ',') q++;
    if (*q == ')') break;
    char *end;
    long long v = strtoll(q, &end, 10);
    if (end == q || v < 0 || v > ((int64_t)1 << 31) || nd == 8)
      return nnrt_error(err, errlen, path, "malformed shape"), 0;
    dims[nd++] = v;
    q = end;
  }
  if (nd < 1) return nnrt_error(err, errlen, path, "an array of samples needs at least one axis"), 0;
  *count = dims[0];
  *per = 1;
  for (int i = 1; i < nd && *per <= ((int64_t)1 << 31); i++) *per *= dims[i];
  long data = start + hlen;
  if (*per > ((int64_t)1 << 31) || (double)*count * (double)*per * *size != (double)(fsize - data)) {
    nnrt_error(err, errlen, path, "the shape promises %lld samples of %lld values, the file has %ld bytes of data",
               (long long)*count, (long long)*per, fsize - data);
    return 0;
  }
  return data;
}

static double npy_value(const unsigned char *p, char type, int size) {
  if (type == 'u') return p[0];
  if (type == 'f' && size == 4) { float v; memcpy(&v, p, 4); return v; }
  if (type == 'f') { double v; memcpy(&v, p, 8); return v; }
  if (size == 4) { int32_t v; memcpy(&v, p, 4); return v; }
  int64_t v;
  memcpy(&v, p, 8);
  return (double)v;
}

NNRT_API bool nnrt_npy_load(const char *x, const char *y, double scale, NnrtTable *t, char *err,
                            size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *fx = nnrt_open_regular(x, err, errlen), *fy = fx && y ? nnrt_open_regular(y, err, errlen) : NULL;
  bool ok = fx && (fy || !y); /* no y: the samples alone, for prediction */
  char tx = 0, ty = 0;
  int sx = 0, sy = 0;
  int64_t n = 0, per = 0, ny = 0, one = 0;
  ok = ok && npy_header(fx, x, &tx, &sx, &n, &per, err, errlen) &&
       (!fy || npy_header(fy, y, &ty, &sy, &ny, &one, err, errlen));
  if (!fy) ny = n, one = 0;
  if (ok && ny != n) {
    nnrt_error(err, errlen, y, "expected labels for %lld samples, got %lld", (long long)n, (long long)ny);
    ok = false;
  }
  if (ok) {
    ok = table_alloc(t, n, per, one ? one : 1, x, err, errlen); /* one: labels a sample, 1 or a sequence's */
    unsigned char buf[8];
    for (int64_t i = 0; ok && i < n * per; i++) {
      ok = fread(buf, 1, (size_t)sx, fx) == (size_t)sx;
      double v = npy_value(buf, tx, sx) * scale;
      if (ok && !isfinite(v)) {
        nnrt_error(err, errlen, x, "sample %lld, value %lld: %g is not a finite number", (long long)(i / per + 1),
                 (long long)(i % per + 1), v);
        ok = false;
        break;
      }
      t->x[i] = (float)v;
    }
    for (int64_t i = 0; ok && i < n * one; i++) {
      ok = fread(buf, 1, (size_t)sy, fy) == (size_t)sy;
      double v = npy_value(buf, ty, sy);
      if (ok && !isfinite(v)) {
        nnrt_error(err, errlen, y, "sample %lld: the label %g is not a finite number", (long long)(i / one) + 1, v);
        ok = false;
      }
      t->y[i] = (float)v;
    }
    if (!ok && !*err) nnrt_error(err, errlen, x, "cannot read the data");
  }
  if (fx) fclose(fx);
  if (fy) fclose(fy);
  if (!ok) nnrt_table_free(t);
  return ok;
}

NNRT_API bool nnrt_text_load(const char *path, int64_t steps, int64_t stride, NnrtTable *t, char *err,
                             size_t errlen) {
  if (stride < 1) stride = steps;
  memset(t, 0, sizeof *t);
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return false;
  size_t cap = 1 << 16, len = 0, got;
  unsigned char *text = malloc(cap);
  bool failed = !text;
  while (!failed && (got = fread(text + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      if (cap > ((size_t)1 << 40)) break; /* a terabyte of text: enough */
      unsigned char *more = realloc(text, cap *= 2);
      if (!more) {
        failed = true;
        errno = ENOMEM;
        break;
      }
      text = more;
    }
  }
  failed = failed || ferror(f);
  fclose(f);
  /* row r: bytes [r * stride, r * stride + steps] (its last label included) */
  int64_t rows = steps > 0 && len > (size_t)steps ? (int64_t)((len - 1 - (size_t)steps) / (size_t)stride) + 1 : 0;
  if (failed || rows < 1) {
    if (failed) nnrt_error(err, errlen, path, "cannot read: %s", strerror(errno));
    else nnrt_error(err, errlen, path, "%zu bytes: too short for one sequence of %lld characters and the one after",
                    len, (long long)steps);
    free(text);
    return false;
  }
  if (!table_alloc(t, rows, steps, steps, path, err, errlen)) {
    free(text);
    return false;
  }
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < steps; i++)
      t->x[r * steps + i] = text[r * stride + i], t->y[r * steps + i] = text[r * stride + i + 1];
  free(text);
  return true;
}

NNRT_API void nnrt_table_free(NnrtTable *t) {
  free(t->x);
  free(t->y);
  free(t->w);
  memset(t, 0, sizeof *t);
}

NNRT_API void nnrt_standardize_stats(const NnrtTable *t, int64_t fit_rows, int64_t channels, double *mean_out,
                                     double *sd_out) {
  if (channels < 1 || t->features % channels) channels = t->features;
  int64_t per = t->features / channels, fit = fit_rows * per;
  for (int64_t j = 0; j < channels; j++) {
    double mean = 0, var = 0;
    for (int64_t r = 0; r < fit_rows; r++)
      for (int64_t k = 0; k < per; k++) mean += t->x[r * t->features + k * channels + j];
    mean /= (double)(fit ? fit : 1);
    for (int64_t r = 0; r < fit_rows; r++)
      for (int64_t k = 0; k < per; k++) {
        double d = t->x[r * t->features + k * channels + j] - mean;
        var += d * d;
      }
    double sd = sqrt(var / (double)(fit ? fit : 1));
    mean_out[j] = mean;
    sd_out[j] = sd == 0 ? 1 : sd;
  }
}

NNRT_API void nnrt_augment(float *x, int64_t n, int64_t h, int64_t w, int64_t c, bool flip, int64_t pad,
                           uint64_t seed, uint64_t first, float *tmp) {
  const uint64_t stream = (uint64_t)3 << 61;
  for (int64_t i = 0; i < n; i++) {
    float *img = x + i * h * w * c;
    uint64_t k = (first + (uint64_t)i) * 3;
    bool mirror = flip && nnrt_uniform(seed, stream, k) < 0.5;
    int64_t dy = pad ? (int64_t)(nnrt_rng_u64(seed, stream, k + 1) % (uint64_t)(2 * pad + 1)) - pad : 0;
    int64_t dx = pad ? (int64_t)(nnrt_rng_u64(seed, stream, k + 2) % (uint64_t)(2 * pad + 1)) - pad : 0;
    if (!mirror && !dy && !dx) continue;
    memcpy(tmp, img, sizeof *tmp * (size_t)(h * w * c));
    for (int64_t r = 0; r < h; r++)
      for (int64_t q = 0; q < w; q++) {
        int64_t sr = r + dy, sq = (mirror ? w - 1 - q : q) + dx;
        bool in = sr >= 0 && sr < h && sq >= 0 && sq < w;
        for (int64_t ch = 0; ch < c; ch++) img[(r * w + q) * c + ch] = in ? tmp[(sr * w + sq) * c + ch] : 0;
      }
  }
}

NNRT_API void nnrt_shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    int64_t j = (int64_t)(nnrt_rng_u64(seed, ((uint64_t)1 << 62) + (uint64_t)epoch, (uint64_t)i) % (uint64_t)(i + 1));
    int64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

NNRT_API double nnrt_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

