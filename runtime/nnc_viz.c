/* nnc-viz — pictures of a training run and of a compiled model
 * (docs/interpret.md):
 *
 *   nnc-viz curves LOG.csv -o curves.svg      the training program's --log
 *   nnc-viz saliency LIB.so --images FILE [--weights W] [--layer L] -o out.png
 *   nnc-viz filters LIB.so [--weights W] [--layer L] -o filters.png
 *   nnc-viz maps LIB.so --images FILE [--weights W] [--layer L] -o maps.png
 *
 * A library is driven through its exported API (dlopen): its model found
 * by its NAME_describe (or --model), the weights loaded with NAME_load.
 * Images: an IDX file of bytes (scaled by --scale, 1/255 by default) or a
 * NumPy .npy of float32, samples first, in the model's input shape. */
#define _GNU_SOURCE
#include "nnrt.h"
#include "nnrt_program.h"
#include <dlfcn.h>
#include <elf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void Model;
typedef struct Lib {
  void *h;
  const char *name;
  const NnModelDesc *desc;
  Model *m;
  const char *(*last_error)(const Model *);
  int (*saliency)(Model *, const void *const *, int64_t, const int32_t *, void *const *);
  int (*gradcam)(Model *, const void *const *, int64_t, const char *, const int32_t *, float *);
  int (*activation)(Model *, const void *const *, int64_t, const char *, void *, size_t);
  int (*get_param)(Model *, const char *, void *, size_t);
  const void *(*predict)(Model *, const void *const *, int64_t);
  void (*free)(Model *);
} Lib;

static int die(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "nnc-viz: error: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  exit(1);
}

static char *slurp(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  char *b = NULL;
  if (f && fseek(f, 0, SEEK_END) == 0 && (*size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (b = malloc((size_t)*size + 1)) && fread(b, 1, (size_t)*size, f) == (size_t)*size)
    b[*size] = 0;
  else
    free(b), b = NULL;
  if (f)
    fclose(f);
  if (!b)
    die("cannot read '%s'%s", path, "");
  return b;
}

/* The one model a library nnc built exports (NAME_describe in its dynamic
 * symbols), as the Python package finds it. */
static const char *model_name(const char *path) {
  long size;
  char *d = slurp(path, &size);
  const Elf64_Ehdr *e = (const Elf64_Ehdr *)d;
  if (size < (long)sizeof *e || memcmp(d, ELFMAG, SELFMAG) || e->e_ident[EI_CLASS] != ELFCLASS64 ||
      e->e_shoff + (uint64_t)e->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)size)
    die("'%s' is not a 64-bit ELF library%s", path, "");
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(d + e->e_shoff);
  const char *found = NULL;
  for (int i = 0; i < e->e_shnum; i++) {
    if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= e->e_shnum)
      continue;
    const char *str = d + sh[sh[i].sh_link].sh_offset;
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh[i].sh_size; off += sizeof(Elf64_Sym)) {
      const Elf64_Sym *s = (const Elf64_Sym *)(d + sh[i].sh_offset + off);
      const char *n = str + s->st_name;
      size_t len = strlen(n);
      if (s->st_shndx == SHN_UNDEF || len <= 9 || strcmp(n + len - 9, "_describe"))
        continue;
      if (found)
        die("'%s' holds several models: say which with --model%s", path, "");
      found = strndup(n, len - 9);
    }
  }
  free(d);
  if (!found)
    die("'%s' holds no model nnc compiled%s", path, "");
  return found;
}

static void *sym(Lib *L, const char *what) {
  char name[256];
  snprintf(name, sizeof name, "%s_%s", L->name, what);
  return dlsym(L->h, name);
}

static Lib open_lib(const char *path, const char *model, const char *weights) {
  Lib L = {0};
  char *full = realpath(path, NULL);
  if (!full || !(L.h = dlopen(full, RTLD_NOW | RTLD_LOCAL)))
    die("cannot load '%s': %s", path, dlerror() ? dlerror() : "no such file");
  L.name = model ? model : model_name(full);
  const NnModelDesc *(*describe)(void) = (const NnModelDesc *(*)(void))sym(&L, "describe");
  Model *(*create)(uint64_t) = (Model * (*)(uint64_t)) sym(&L, "create");
  if (!describe || !create)
    die("'%s' has no model %s", path, L.name);
  L.desc = describe();
  L.last_error = (const char *(*)(const Model *))sym(&L, "last_error");
  *(void **)&L.saliency = sym(&L, "saliency");
  *(void **)&L.gradcam = sym(&L, "gradcam");
  *(void **)&L.activation = sym(&L, "activation");
  *(void **)&L.get_param = sym(&L, "get_param");
  *(void **)&L.predict = sym(&L, "predict");
  *(void **)&L.free = sym(&L, "free");
  if (!(L.m = create(0)))
    die("cannot create model %s%s", L.name, "");
  int (*load)(Model *, const char *, char *, size_t) = (int (*)(Model *, const char *, char *, size_t))sym(&L, "load");
  char err[512];
  if (weights && load(L.m, weights, err, sizeof err) != 0)
    die("%s%s", err, "");
  free(full);
  return L;
}

static void need(Lib *L, int rc) {
  if (rc != 0)
    die("%s%s", L->last_error(L->m), "");
}

/* Samples [count, features] as floats from an IDX file of bytes (times
 * scale) or a float32 .npy; features must be the model's first input's. */
static float *read_images(const char *path, int64_t features, double scale, int64_t *count) {
  long size;
  unsigned char *d = (unsigned char *)slurp(path, &size);
  float *x = NULL;
  int64_t per = 1, n = 0;
  long head = 0;
  bool npy = size >= 10 && !memcmp(d, "\x93NUMPY", 6);
  if (npy) { /* {'descr': '<f4', 'fortran_order': False, 'shape': (n, ...), } */
    head = 10 + (d[8] | d[9] << 8);
    const char *shape = head <= size ? strstr((char *)d + 10, "'shape': (") : NULL;
    if (!shape || !strstr((char *)d + 10, "'<f4'") || strstr((char *)d + 10, "'fortran_order': True"))
      die("'%s': only C-ordered float32 .npy files are read%s", path, "");
    char *at = (char *)shape + 10;
    n = strtoll(at, &at, 10);
    while (*at == ',' && at[1] == ' ' && at[2] >= '0' && at[2] <= '9')
      per *= strtoll(at + 2, &at, 10);
  } else if (size >= 8 && d[0] == 0 && d[1] == 0 && d[2] == 8 && d[3] >= 1) {
    head = 4 + 4L * d[3];
    for (int k = 0; k < d[3] && 8 + 4 * k <= size; k++) {
      int64_t dim = (int64_t)d[4 + 4 * k] << 24 | d[5 + 4 * k] << 16 | d[6 + 4 * k] << 8 | d[7 + 4 * k];
      if (k == 0)
        n = dim;
      else
        per *= dim;
    }
  } else {
    die("'%s' is neither an IDX file of bytes nor a float32 .npy file%s", path, "");
  }
  char what[160];
  snprintf(what, sizeof what, "%lld values a sample, the model's input %lld", (long long)per, (long long)features);
  if (per != features)
    die("'%s' holds %s", path, what);
  if (n < 1 || head + n * per * (npy ? 4 : 1) > size)
    die("'%s' holds fewer samples than its header says%s", path, "");
  *count = n;
  if (!(x = malloc(sizeof(float) * (size_t)(n * per))))
    die("out of memory%s%s", "", "");
  if (npy)
    memcpy(x, d + head, sizeof(float) * (size_t)(n * per));
  else
    for (int64_t i = 0; i < n * per; i++)
      x[i] = (float)(d[head + i] * scale);
  free(d);
  return x;
}

/* A number of the command line, or an error naming the flag. */
static double number(const char *flag, const char *v, bool integer) {
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !isfinite(x) || (integer && x != floor(x)))
    die("%s takes a number, not '%s'", flag, v);
  return x;
}

/* ----------------------------------------------------------- a canvas */

typedef struct Canvas {
  int w, h;
  unsigned char *rgb;
} Canvas;

static Canvas canvas(int w, int h) {
  Canvas c = {w, h, malloc((size_t)w * (size_t)h * 3)};
  if (!c.rgb)
    die("out of memory%s%s", "", "");
  memset(c.rgb, 255, (size_t)w * (size_t)h * 3);
  return c;
}

/* A map of h x w values (stride `step` apart) into the canvas at (x0, y0),
 * each value a scale x scale block coloured by color(v) after v is
 * brought to [0, 1] by (v - lo) / (hi - lo). */
static void paint(Canvas *c, int x0, int y0, const float *v, int h, int w, int step, double lo, double hi, int scale,
                  void (*color)(double, unsigned char *)) {
  for (int y = 0; y < h * scale; y++)
    for (int x = 0; x < w * scale; x++) {
      double t = hi > lo ? (v[((y / scale) * w + x / scale) * step] - lo) / (hi - lo) : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      if (x0 + x < c->w && y0 + y < c->h)
        color(t, c->rgb + 3 * ((size_t)(y0 + y) * (size_t)c->w + (size_t)(x0 + x)));
    }
}

static void gray(double t, unsigned char *p) { p[0] = p[1] = p[2] = (unsigned char)(255 * t + 0.5); }
/* black, red, yellow, white */
static void hot(double t, unsigned char *p) {
  p[0] = (unsigned char)(255 * fmin(1, 3 * t)), p[1] = (unsigned char)(255 * fmin(1, fmax(0, 3 * t - 1)));
  p[2] = (unsigned char)(255 * fmin(1, fmax(0, 3 * t - 2)));
}
/* blue, white, red: negative, zero, positive */
static void diverging(double t, unsigned char *p) {
  double a = fabs(2 * t - 1);
  p[0] = (unsigned char)(t > 0.5 ? 255 : 255 * (1 - a)), p[2] = (unsigned char)(t < 0.5 ? 255 : 255 * (1 - a));
  p[1] = (unsigned char)(255 * (1 - a));
}

/* The largest |v| over n values, at least tiny. */
static double largest(const float *v, int64_t n, int step) {
  double m = 1e-30;
  for (int64_t i = 0; i < n; i++)
    m = fmax(m, fabs(v[i * step]));
  return m;
}

/* The canvas as a PNG, then freed; 0 or an error. */
static int write_png(Canvas *c, const char *out) {
  char err[512];
  bool ok = nnrt_png(out, c->w, c->h, 3, c->rgb, err, sizeof err);
  free(c->rgb);
  if (!ok)
    die("%s%s", err, "");
  return 0;
}

/* ---------------------------------------------------------- commands */

static int curves(const char *log, const char *out) {
  long size;
  char *t = slurp(log, &size), *save = NULL;
  const char *names[64];
  int cols = 0, keep[64], nkeep = 0, rows = 0;
  char *line = strtok_r(t, "\n", &save);
  if (!line || strncmp(line, "epoch,loss", 10) != 0)
    die("'%s' is not a training log: its first line is not the training program's --log header (epoch,loss,...)%s", log,
        "");
  for (char *c = strtok(line, ","); c && cols < 64; c = strtok(NULL, ","), cols++)
    if (strcmp(c, "epoch") && strcmp(c, "seconds") && strcmp(c, "lr") && strcmp(c, "events"))
      keep[nkeep] = cols, names[nkeep++] = c;
  double *v = malloc(sizeof(double) * (size_t)nkeep * (size_t)(size / 4 + 1));
  for (char *l = strtok_r(NULL, "\n", &save); l && v; l = strtok_r(NULL, "\n", &save), rows++) {
    double cell[64];
    int k = 0;
    for (char *p = l; k < cols; k++) {
      cell[k] = strtod(p, NULL);
      p = strchr(p, ',');
      if (!p)
        break;
      p++;
    }
    for (int j = 0; j < nkeep; j++)
      v[rows * nkeep + j] = keep[j] <= k ? cell[keep[j]] : NAN;
  }
  if (!rows)
    die("'%s' has no epoch%s", log, "");
  char err[512];
  if (!nnrt_svg_curves(out, log, rows, nkeep, names, v, err, sizeof err))
    die("%s%s", err, "");
  free(v), free(t);
  return 0;
}

/* The tensor of list[0..n) named `name`, or NULL. */
static const NnTensorDesc *named(const NnTensorDesc *list, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(list[i].name, name))
      return &list[i];
  return NULL;
}

/* `count` tiles of (data, step) maps of h x w cells of s pixels, gap apart,
 * each from lo to hi (symmetric: from -largest to largest, else from 0),
 * as a PNG. */
static int tiles(const float *data, int count, int h, int w, int step, int s, int gap, bool symmetric,
                 void (*color)(double, unsigned char *), const char *out) {
  int across = count <= 8 ? count : (int)ceil(sqrt(count * 1.5)), down = (count + across - 1) / across;
  Canvas c = canvas(across * (w * s + gap) + gap, down * (h * s + gap) + gap);
  for (int k = 0; k < count; k++) {
    double m = largest(data + k, (int64_t)h * w * (step / count), count);
    paint(&c, gap + (k % across) * (w * s + gap), gap + (k / across) * (h * s + gap), data + k, h, w, step,
          symmetric ? -m : 0, m, s, color);
  }
  return write_png(&c, out);
}

/* Feature maps: the layer [N, H, W, C] of the first sample, a tile per channel. */
static int maps(Lib *L, const float *x, const char *layer, const char *out) {
  const NnTensorDesc *t = named(L->desc->layers, L->desc->nlayers, layer);
  if (!t || t->rank != 4 || t->dtype != 0)
    die("layer '%s' is not a float32 feature map [N, H, W, C] of this model%s", layer, "");
  int H = (int)t->dims[1], W = (int)t->dims[2], C = (int)t->dims[3], s = H * 4 < 64 ? 64 / H : 4;
  float *a = malloc(sizeof(float) * (size_t)(H * W * C));
  const void *in[1] = {x};
  need(L, L->activation(L->m, in, 1, layer, a, sizeof(float) * (size_t)(H * W * C)));
  int rc = tiles(a, C, H, W, C, s, 4, false, hot, out);
  free(a);
  return rc;
}

/* The filters of a convolution, W [kh, kw, cin, cout]: a tile per output
 * channel (its first input channel), zero white, blue to red. */
static int filters(Lib *L, const char *layer, const char *out) {
  char name[200];
  snprintf(name, sizeof name, "%s.W", layer);
  const NnTensorDesc *t = named(L->desc->params, L->desc->nparams, name);
  if (!t || t->rank != 4 || t->dtype != 0)
    die("'%s' is not the float32 weights of a convolution%s", name, "");
  int kh = (int)t->dims[0], kw = (int)t->dims[1], cin = (int)t->dims[2], cout = (int)t->dims[3], s = 12;
  float *w = malloc(sizeof(float) * (size_t)(kh * kw * cin * cout));
  need(L, L->get_param(L->m, name, w, sizeof(float) * (size_t)(kh * kw * cin * cout)));
  int rc = tiles(w, cout, kh, kw, cin * cout, s, 6, true, diverging, out);
  free(w);
  return rc;
}

/* A row a sample: the image, its saliency for the predicted class, and
 * with a layer Grad-CAM on it over the image. */
static int saliency(Lib *L, const float *x, int64_t count, const char *layer, const char *out) {
  const NnTensorDesc *in0 = &L->desc->inputs[0];
  if (in0->rank != 4 || in0->dtype != 0)
    die("saliency pictures take a float32 image input [N, H, W, C]%s%s", "", "");
  int H = (int)in0->dims[1], W = (int)in0->dims[2], C = (int)in0->dims[3], s = H < 64 ? 128 / H : 2;
  int64_t px = (int64_t)H * W * C;
  float *g = malloc(sizeof(float) * (size_t)(count * px)), *cam = NULL;
  const void *in[1] = {x};
  void *o[1] = {g};
  need(L, L->saliency(L->m, in, count, NULL, o));
  int ch = 0, cw = 0;
  if (layer) {
    const NnTensorDesc *t = named(L->desc->layers, L->desc->nlayers, layer);
    if (t && t->rank == 4)
      ch = (int)t->dims[1], cw = (int)t->dims[2];
    cam = malloc(sizeof(float) * (size_t)(count * (ch ? ch * cw : 1)));
    need(L, L->gradcam(L->m, in, count, layer, NULL, cam));
  }
  int panels = layer ? 3 : 2, tw = W * s + 8;
  Canvas c = canvas(panels * tw + 8, (int)count * (H * s + 8) + 8);
  float *pix = malloc(sizeof(float) * (size_t)(H * W)), *mag = malloc(sizeof(float) * (size_t)(H * W));
  for (int64_t i = 0; i < count; i++) {
    int y0 = 8 + (int)i * (H * s + 8);
    double lo = INFINITY, hi = -INFINITY;
    for (int p = 0; p < H * W; p++) { /* the channels' mean, and |saliency| summed over channels */
      double a = 0, b = 0;
      for (int k = 0; k < C; k++)
        a += x[i * px + p * C + k] / C, b += fabs(g[i * px + p * C + k]);
      pix[p] = (float)a, mag[p] = (float)b;
      lo = fmin(lo, a), hi = fmax(hi, a);
    }
    paint(&c, 8, y0, pix, H, W, 1, lo, hi, s, gray);
    paint(&c, 8 + tw, y0, mag, H, W, 1, 0, largest(mag, H * W, 1), s, hot);
    if (!layer)
      continue;
    double m = largest(cam + i * ch * cw, ch * cw, 1);
    const float *map = cam + i * ch * cw;
    for (int y = 0; y < H * s; y++) /* the map, interpolated bilinearly, over the dimmed image */
      for (int x2 = 0; x2 < W * s; x2++) {
        double fy = fmin(fmax((y + 0.5) * ch / (H * s) - 0.5, 0), ch - 1),
               fx = fmin(fmax((x2 + 0.5) * cw / (W * s) - 0.5, 0), cw - 1);
        int y1 = (int)fy, x1 = (int)fx, y2 = y1 + (y1 + 1 < ch), x3 = x1 + (x1 + 1 < cw);
        double ay = fy - y1, ax = fx - x1;
        double t = ((1 - ay) * ((1 - ax) * map[y1 * cw + x1] + ax * map[y1 * cw + x3]) +
                    ay * ((1 - ax) * map[y2 * cw + x1] + ax * map[y2 * cw + x3])) /
                   m,
               v = (pix[(y / s) * W + x2 / s] - lo) / (hi - lo + 1e-30);
        unsigned char heat[3];
        hot(t, heat);
        unsigned char *p = c.rgb + 3 * ((size_t)(y0 + y) * (size_t)c.w + (size_t)(8 + 2 * tw + x2));
        for (int k = 0; k < 3; k++)
          p[k] = (unsigned char)(0.45 * 255 * v + 0.55 * heat[k]);
      }
  }
  free(g), free(cam), free(pix), free(mag);
  return write_png(&c, out);
}

static const char usage[] = "usage: nnc-viz curves LOG.csv -o FILE.svg\n"
                            "       nnc-viz saliency LIB.so --images FILE [--index K] [--count N] "
                            "[--layer MAP] -o FILE.png\n"
                            "       nnc-viz maps LIB.so --images FILE [--index K] --layer MAP -o "
                            "FILE.png\n"
                            "       nnc-viz filters LIB.so [--layer CONV] -o FILE.png\n"
                            "  curves    the loss and metrics of a training program's --log, training "
                            "and held-out\n"
                            "  saliency  a row a sample: the image, |saliency| of the predicted class, "
                            "and with\n"
                            "            --layer Grad-CAM on that feature map over the image\n"
                            "  maps      the feature map --layer of sample K, a tile per channel\n"
                            "  filters   the weights of convolution --layer (default conv2d1), a tile "
                            "per filter\n"
                            "options: --weights FILE (a checkpoint for LIB), --model NAME (LIB's model "
                            "when it has\n"
                            "several), --scale X (IDX bytes times X, 1/255), --index K (first sample, "
                            "0), --count N (4)\n";

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "", *file = argc > 2 ? argv[2] : NULL, *out = NULL, *images = NULL;
  const char *weights = NULL, *model = NULL, *layer = NULL;
  double scale = 1 / 255.0;
  long index = 0, count = 4;
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
    return fputs(usage, stdout), 0;
  for (int i = 3; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      die("%s needs a value%s", a, "");
    if (!strcmp(a, "-o"))
      out = v;
    else if (!strcmp(a, "--images"))
      images = v;
    else if (!strcmp(a, "--weights"))
      weights = v;
    else if (!strcmp(a, "--model"))
      model = v;
    else if (!strcmp(a, "--layer"))
      layer = v;
    else if (!strcmp(a, "--scale"))
      scale = number(a, v, false);
    else if (!strcmp(a, "--index"))
      index = (long)number(a, v, true);
    else if (!strcmp(a, "--count"))
      count = (long)number(a, v, true);
    else
      die("unknown option '%s'%s", a, "");
  }
  bool known = !strcmp(cmd, "curves") || !strcmp(cmd, "saliency") || !strcmp(cmd, "maps") || !strcmp(cmd, "filters");
  if (!known || !file || !out)
    return fputs(usage, stderr), 2;
  if (!strcmp(cmd, "curves"))
    return curves(file, out);
  Lib L = open_lib(file, model, weights);
  int rc;
  float *x = NULL;
  if (!strcmp(cmd, "filters")) {
    rc = filters(&L, layer ? layer : "conv2d1", out);
  } else {
    if (!images)
      die("%s needs --images FILE%s", cmd, "");
    if (count < 1 || count > 64 || index < 0)
      die("--count is 1 to 64 and --index at least 0%s%s", "", "");
    int64_t features = nnrt_sample_size(&L.desc->inputs[0]), n;
    x = read_images(images, features, scale, &n);
    if (index + (!strcmp(cmd, "maps") ? 1 : count) > n)
      die("'%s' has fewer samples than --index and --count ask%s", images, "");
    if (!strcmp(cmd, "maps") && !layer)
      die("maps needs --layer MAP%s%s", "", "");
    rc = !strcmp(cmd, "maps") ? maps(&L, x + index * features, layer, out)
                              : saliency(&L, x + index * features, count, layer, out);
  }
  free(x);
  L.free(L.m);
  if (!model)
    free((char *)L.name);
  return rc;
}
