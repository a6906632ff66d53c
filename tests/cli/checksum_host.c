/* checksum_host.c — for checksums.sh: loads a compiled model's library,
 * trains it STEPS steps on one batch of inputs and labels made here from a
 * fixed stream (or, for a model without a training step, only predicts),
 * and prints an FNV-1a hash of every byte of its tensors afterwards
 * (parameters, states, optimizer slots: the data of a saved checkpoint)
 * and of its prediction on the batch. Any change in what a compiled step
 * computes, down to the last bit, changes the hash.
 *
 *   checksum_host LIB MODEL FORM VOCAB STEPS BATCH THREADS SCRATCH_FILE
 *
 * FORM is the label's: onehot, sparse (i32 class ids), binary (0 or 1),
 * values, or none; token-id inputs take ids below VOCAB. With
 * CHECKSUM_VALUES=1 in the environment it prints the prediction's values
 * instead, one a line (scan_unroll.sh compares two builds' within
 * rounding). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnrt.h"

static uint64_t stream = 88172645463325252ull;
static double next(void) { /* xorshift64, in [-1, 1) */
  stream ^= stream << 13, stream ^= stream >> 7, stream ^= stream << 17;
  return (double)(stream >> 11) / 4503599627370496.0 - 1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
  return h;
}

static int64_t per_sample(const NnTensorDesc *t) {
  int64_t k = 1;
  for (int d = 1; d < t->rank; d++) k *= t->dims[d];
  return k;
}

static void *sym(void *lib, const char *model, const char *name) {
  char s[256];
  snprintf(s, sizeof s, "%s_%s", model, name);
  return dlsym(lib, s);
}

int main(int argc, char **argv) {
  if (argc != 9) return fprintf(stderr, "usage: checksum_host LIB MODEL FORM VOCAB STEPS BATCH THREADS FILE\n"), 2;
  const char *model = argv[2], *form = argv[3];
  int64_t vocab = atoll(argv[4]), steps = atoll(argv[5]), n = atoll(argv[6]);
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) return fprintf(stderr, "%s\n", dlerror()), 1;
  const NnModelDesc *(*describe)(void) = (const NnModelDesc *(*)(void))sym(lib, model, "describe");
  NnrtModel *(*create)(uint64_t) = (NnrtModel * (*)(uint64_t)) sym(lib, model, "create");
  int (*threads)(NnrtModel *, int) = (int (*)(NnrtModel *, int))sym(lib, model, "set_threads");
  double (*train)(NnrtModel *, const void *const *, const void *, int64_t) =
      (double (*)(NnrtModel *, const void *const *, const void *, int64_t))sym(lib, model, "train_step");
  const void *(*predict)(NnrtModel *, const void *const *, int64_t) =
      (const void *(*)(NnrtModel *, const void *const *, int64_t))sym(lib, model, "predict");
  int (*save)(NnrtModel *, const char *, char *, size_t) =
      (int (*)(NnrtModel *, const char *, char *, size_t))sym(lib, model, "save");
  const char *(*last_error)(const NnrtModel *) = (const char *(*)(const NnrtModel *))sym(lib, model, "last_error");
  if (!describe || !create || !threads || !predict || !save || !last_error)
    return fprintf(stderr, "%s: not a model library of %s\n", argv[1], model), 1;
  const NnModelDesc *d = describe();
  const void *inputs[16];
  for (int i = 0; i < d->ninputs && i < 16; i++) {
    int64_t k = n * per_sample(&d->inputs[i]);
    int dt = d->inputs[i].dtype;
    void *p = malloc((size_t)k * 8);
    for (int64_t j = 0; j < k; j++) {
      double v = next();
      if (dt == 2) ((int32_t *)p)[j] = (int32_t)((v + 1) * 0.5 * (double)vocab) % (int32_t)vocab;
      else if (dt == 1) ((double *)p)[j] = v;
      else ((float *)p)[j] = (float)v;
    }
    inputs[i] = p;
  }
  const NnTensorDesc *out = &d->outputs[0];
  int64_t classes = out->dims[out->rank - 1], values = per_sample(out), positions = values / classes;
  void *label = malloc((size_t)(n * values) * 8);
  for (int64_t j = 0; j < n * values; j++) {
    double v = 0.5 * (next() + 1);
    if (!strcmp(form, "sparse")) {
      if (j < n * positions) ((int32_t *)label)[j] = (int32_t)(v * (double)classes) % (int32_t)classes;
    } else if (!strcmp(form, "onehot")) {
      ((float *)label)[j] = (float)(j % classes == (j / classes) % classes);
    } else {
      ((float *)label)[j] = !strcmp(form, "binary") ? (float)(v > 0.5) : (float)v;
    }
  }
  NnrtModel *m = create(1);
  if (!m || threads(m, atoi(argv[7])) != 0) return fprintf(stderr, "create: %s\n", last_error(m)), 1;
  for (int64_t s = 0; train && strcmp(form, "none") && s < steps; s++) {
    double loss = train(m, inputs, label, n);
    if (loss != loss && *last_error(m)) return fprintf(stderr, "train_step: %s\n", last_error(m)), 1;
  }
  const void *y = predict(m, inputs, n);
  if (!y) return fprintf(stderr, "predict: %s\n", last_error(m)), 1;
  const char *show = getenv("CHECKSUM_VALUES");
  for (int64_t j = 0; show && !strcmp(show, "1") && j < n * values; j++)
    printf("%.9g\n", out->dtype == 1 ? ((const double *)y)[j] : (double)((const float *)y)[j]);
  if (show && !strcmp(show, "1")) return 0;
  uint64_t h = fnv(14695981039346656037ull, y, (size_t)(n * values) * (out->dtype == 1 ? 8 : 4));
  char err[512];
  if (save(m, argv[8], err, sizeof err) != 0) return fprintf(stderr, "%s\n", err), 1;
  FILE *f = fopen(argv[8], "rb");
  unsigned char le[8];
  if (!f || fread(le, 1, 8, f) != 8) return fprintf(stderr, "%s: cannot read\n", argv[8]), 1;
  uint64_t hlen = 0;
  for (int b = 0; b < 8; b++) hlen |= (uint64_t)le[b] << (8 * b);
  fseek(f, (long)(8 + hlen), SEEK_SET); /* the tensors' bytes */
  unsigned char buf[65536];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) h = fnv(h, buf, got);
  fclose(f);
  printf("%016llx\n", (unsigned long long)h);
  return 0;
}
