/* nnrt_viz.c — pictures a person would rather look at than read: the
 * training curves and a confusion matrix as SVG, images as PNG, for the
 * training program (--plot, --confusion) and nnc-viz (docs/interpret.md).
 *
 * The PNG writer needs no compression library: the image's rows (filter
 * 0) in zlib "stored" deflate blocks, with the CRC-32 and Adler-32 the
 * formats require, files as large as the pixels. Built with NNRT_ZLIB
 * (nnc-viz, where CMake finds zlib) it compresses them with zlib instead. */
#include "nnrt.h"
#include "nnrt_program.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef NNRT_ZLIB
#include <zlib.h>
#endif

/* ---------------------------------------------------------------- SVG */

static const char *const nnrt_viz_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

/* A tick step of 1, 2 or 5 times a power of ten giving about 5 ticks. */
static double nice_step(double span) {
  double raw = span / 5, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* One panel at (x0, y0) of w x h: the series named `name` and its
 * "val_" twin, epochs 1..rows along x. */
static void panel(FILE *f, double x0, double y0, double w, double h, const char *name, int rows, int ncols,
                  const char *const *names, const double *v, int color) {
  int cols[2] = {-1, -1};
  char val[96];
  snprintf(val, sizeof val, "val_%s", name);
  for (int c = 0; c < ncols; c++) {
    if (!strcmp(names[c], name))
      cols[0] = c;
    if (!strcmp(names[c], val))
      cols[1] = c;
  }
  double lo = INFINITY, hi = -INFINITY;
  for (int k = 0; k < 2; k++)
    for (int r = 0; r < rows && cols[k] >= 0; r++) {
      double y = v[r * ncols + cols[k]];
      if (isfinite(y))
        lo = fmin(lo, y), hi = fmax(hi, y);
    }
  if (!(lo <= hi))
    lo = 0, hi = 1;
  if (hi - lo < 1e-12)
    lo -= 0.5, hi += 0.5;
  double step = nice_step(hi - lo);
  lo = floor(lo / step) * step, hi = ceil(hi / step) * step;
  double L = x0 + 56, R = x0 + w - 12, T = y0 + 30, B = y0 + h - 40, ends = -INFINITY;
  for (int k = 0; k < 2; k++) /* the legend where the curves end away from it:
                                 low when they end high */
    if (cols[k] >= 0 && rows > 0 && isfinite(v[(rows - 1) * ncols + cols[k]]))
      ends = fmax(ends, v[(rows - 1) * ncols + cols[k]]);
  bool low = isfinite(ends) && (ends - lo) / (hi - lo) > 0.5;
#define PX(e) (rows > 1 ? L + (R - L) * ((e)-1) / (rows - 1) : (L + R) / 2)
#define PY(y) (B - (B - T) * ((y)-lo) / (hi - lo))
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" text-anchor=\"middle\" "
          "font-weight=\"bold\">%s</text>\n",
          (L + R) / 2, y0 + 18, name);
  for (double t = lo; t <= hi + step / 2; t += step) {
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/>\n",
            L, PY(t), R, PY(t));
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
            "text-anchor=\"end\">%.4g</text>\n",
            L - 5, PY(t) + 4, fabs(t) < step * 1e-6 ? 0.0 : t);
  }
  int every = rows <= 12 ? 1 : (int)ceil(rows / 10.0);
  for (int e = 1; e <= rows; e += every)
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
            "text-anchor=\"middle\">%d</text>\n",
            PX(e), B + 15, e);
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
          "text-anchor=\"middle\">epoch</text>\n",
          (L + R) / 2, B + 32);
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"none\" stroke=\"#444\"/>\n",
          L, T, R - L, B - T);
  for (int k = 0; k < 2; k++) {
    if (cols[k] < 0)
      continue;
    const char *col = nnrt_viz_colors[(color + k) % 6];
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
            k ? " stroke-dasharray=\"6,4\"" : "");
    for (int r = 0; r < rows; r++)
      if (isfinite(v[r * ncols + cols[k]]))
        fprintf(f, "%.1f,%.1f ", PX(r + 1), PY(v[r * ncols + cols[k]]));
    fprintf(f, "\"/>\n");
    for (int r = 0; r < rows; r++)
      if (isfinite(v[r * ncols + cols[k]]))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", PX(r + 1), PY(v[r * ncols + cols[k]]),
                col);
    double ly = low ? B - 26 + 16 * k : T + 14 + 16 * k;
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"2\"%s/>\n",
            R - 110, ly - 4, R - 86, ly - 4, col, k ? " stroke-dasharray=\"6,4\"" : "");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>\n", R - 80, ly, k ? "held-out" : "training");
  }
#undef PX
#undef PY
}

NNRT_API bool nnrt_svg_curves(const char *path, const char *title, int rows, int ncols, const char *const *names,
                              const double *values, char *err, size_t errlen) {
  int panels = 0, which[32];
  for (int c = 0; c < ncols && panels < 32; c++)
    if (strncmp(names[c], "val_", 4) != 0)
      which[panels++] = c;
  FILE *f = fopen(path, "w");
  if (!f)
    return nnrt_error(err, errlen, path, "cannot write: %s", strerror(errno));
  double W = 380, H = 280;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
          "height=\"%.0f\" font-family=\"sans-serif\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"12\" y=\"22\" font-size=\"16\">%s</text>\n",
          W * (panels ? panels : 1), H + 34, title);
  for (int i = 0; i < panels; i++)
    panel(f, W * i, 34, W, H, names[which[i]], rows, ncols, names, values, 2 * i);
  fprintf(f, "</svg>\n");
  return fclose(f) == 0 ? true : nnrt_error(err, errlen, path, "cannot write");
}

NNRT_API int64_t nnrt_confusion_classes(const NnrtProgram *p) {
  if (p->form == NNRT_FORM_VALUES || (p->form == NNRT_FORM_BINARY && p->labels != 1))
    return 0;
  return p->form == NNRT_FORM_BINARY ? 2 : p->classes;
}

NNRT_API bool nnrt_curves_add(NnrtCurves *c, const char *path, const char *title, int ncols, const char *const *names,
                              const double *row, char *err, size_t errlen) {
  if (c->rows == c->cap) {
    int cap = c->cap ? 2 * c->cap : 16;
    double *v = realloc(c->v, sizeof(double) * (size_t)cap * (size_t)ncols);
    if (!v)
      return nnrt_error(err, errlen, path, "out of memory");
    c->v = v, c->cap = cap;
  }
  memcpy(c->v + (size_t)c->rows * (size_t)ncols, row, sizeof(double) * (size_t)ncols);
  c->rows++;
  return nnrt_svg_curves(path, title, c->rows, ncols, names, c->v, err, errlen);
}

NNRT_API bool nnrt_svg_confusion(const char *path, const char *title, int k, const int64_t *counts, char *err,
                                 size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f)
    return nnrt_error(err, errlen, path, "cannot write: %s", strerror(errno));
  double cell = k <= 12 ? 40 : 480.0 / k, L = 90, T = 70, size = cell * k;
  int64_t total = 0, right = 0;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++)
      total += counts[i * k + j], right += i == j ? counts[i * k + j] : 0;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
          "height=\"%.0f\" font-family=\"sans-serif\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"12\" y=\"22\" font-size=\"16\">%s: %lld samples, %.2f%% "
          "right</text>\n",
          fmax(L + size + 20, 420), T + size + 40, title, (long long)total, total ? 100.0 * (double)right / (double)total : 0.0);
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
          "text-anchor=\"middle\">predicted class</text>\n",
          L + size / 2, T - 30);
  fprintf(f,
          "<text x=\"20\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
          "transform=\"rotate(-90 20 %.1f)\">"
          "true class</text>\n",
          T + size / 2, T + size / 2);
  for (int i = 0; i < k; i++) {
    int64_t row = 0;
    for (int j = 0; j < k; j++)
      row += counts[i * k + j];
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
            "text-anchor=\"middle\">%d</text>\n",
            L + cell * (i + 0.5), T - 8, i);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
            "text-anchor=\"end\">%d</text>\n",
            L - 6, T + cell * (i + 0.5) + 4, i);
    for (int j = 0; j < k; j++) { /* the share of the true class's samples, white to blue */
      double s = row ? (double)counts[i * k + j] / (double)row : 0;
      int r = (int)(255 - s * (255 - 31)), g = (int)(255 - s * (255 - 119)), b = (int)(255 - s * (255 - 180));
      fprintf(f,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"rgb(%d,%d,%d)\" stroke=\"#ccc\"/>\n",
              L + cell * j, T + cell * i, cell, cell, r, g, b);
      if (counts[i * k + j] && cell >= 24)
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" "
                "text-anchor=\"middle\" fill=\"%s\">%lld</text>\n",
                L + cell * (j + 0.5), T + cell * (i + 0.5) + 4, cell >= 36 ? 11.0 : 9.0, s > 0.5 ? "white" : "black",
                (long long)counts[i * k + j]);
    }
  }
  fprintf(f, "</svg>\n");
  return fclose(f) == 0 ? true : nnrt_error(err, errlen, path, "cannot write");
}

/* ---------------------------------------------------------------- PNG */

static uint32_t crc_table[256];

static uint32_t crc32_of(uint32_t crc, const unsigned char *p, size_t n) {
  if (!crc_table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      crc_table[i] = c;
    }
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
  p[3] = (unsigned char)v;
}

/* A chunk: length, type, data, CRC of type and data. */
static bool chunk(FILE *f, const char *type, const unsigned char *data, size_t n) {
  unsigned char head[8], tail[4];
  be32(head, (uint32_t)n);
  memcpy(head + 4, type, 4);
  uint32_t crc = crc32_of(crc32_of(0, head + 4, 4), data, n);
  be32(tail, crc);
  return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) && fwrite(tail, 1, 4, f) == 4;
}

NNRT_API bool nnrt_png(const char *path, int width, int height, int channels, const unsigned char *pixels, char *err,
                       size_t errlen) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384 || (channels != 1 && channels != 3))
    return nnrt_error(err, errlen, path, "a PNG of %d x %d pixels of %d channels is not written", width, height,
                      channels);
  size_t line = (size_t)width * (size_t)channels + 1, raw = line * (size_t)height;
  size_t blocks = (raw + 65534) / 65535, n = 2 + raw + 5 * blocks + 4;
  unsigned char *z = malloc(n), *rows = malloc(raw);
  if (!z || !rows)
    return free(z), free(rows), nnrt_error(err, errlen, path, "out of memory");
  for (int y = 0; y < height; y++) { /* filter 0, then the row */
    rows[(size_t)y * line] = 0;
    memcpy(rows + (size_t)y * line + 1, pixels + (size_t)y * (line - 1), line - 1);
  }
  size_t at = 0;
#ifdef NNRT_ZLIB
  uLongf packed = (uLongf)n;
  if (compress2(z, &packed, rows, (uLong)raw, 9) == Z_OK)
    at = packed;
#endif
  if (!at) {
    z[at++] = 0x78, z[at++] = 0x01; /* zlib: deflate, 32 K window, no dictionary */
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw; i++)
      a = (a + rows[i]) % 65521, b = (b + a) % 65521;
    for (size_t off = 0; off < raw; off += 65535) {
      size_t len = raw - off < 65535 ? raw - off : 65535;
      z[at++] = off + len == raw; /* BFINAL on the last, BTYPE 00: stored */
      z[at++] = (unsigned char)len, z[at++] = (unsigned char)(len >> 8);
      z[at++] = (unsigned char)~len, z[at++] = (unsigned char)(~len >> 8);
      memcpy(z + at, rows + off, len);
      at += len;
    }
    be32(z + at, b << 16 | a);
    at += 4;
  }
  unsigned char ihdr[13];
  be32(ihdr, (uint32_t)width), be32(ihdr + 4, (uint32_t)height);
  ihdr[8] = 8, ihdr[9] = channels == 3 ? 2 : 0, ihdr[10] = ihdr[11] = ihdr[12] = 0;
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite("\x89PNG\r\n\x1a\n", 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) && chunk(f, "IDAT", z, at) &&
            chunk(f, "IEND", NULL, 0);
  if (f && fclose(f) != 0)
    ok = false;
  free(z), free(rows);
  return ok ? true : nnrt_error(err, errlen, path, "cannot write: %s", strerror(errno));
}
