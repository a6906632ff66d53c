/* kept_host.c — a host for kept_transforms.sh: an instance keeps what its
 * forward runs derive from the parameters alone (Winograd's transform of
 * the 3x3 filters, the GEMM's packed panels of a dense layer's weights,
 * made on the first prediction and reused), and every change of the
 * parameters makes them anew. libkc: Kc, two 3x3 convolutions that
 * Winograd's kernel takes at any batch, a dense layer [1960, 40] whose
 * product packs. After
 * set_param, a load and a training step, each following prediction and
 * evaluation of a warm instance has the bits of a new instance that
 * loads the same weights; and each change changed the prediction.
 *
 *   kept_host THREADS DIR   (DIR: where its weights files go) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libkc.h"

enum { N = 3, IN = 9 * 9 * 16, OUT = 3 };
static int passed, failed, threads;
static const char *dir;
static float x[N * IN];
static int32_t y[N];
static const void *in[1] = {x};

static void check(int ok, const char *what, const char *why) {
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, why && *why ? ": " : "", why ? why : "");
  ok ? passed++ : failed++;
}

static Kc_Model *make(uint64_t seed) {
  Kc_Model *m = Kc_create(seed);
  if (!m || Kc_set_threads(m, threads) != 0) {
    fprintf(stderr, "create: %s\n", Kc_last_error(m));
    exit(2);
  }
  return m;
}

static void predict(Kc_Model *m, float *out) {
  const void *p = Kc_predict(m, in, N);
  if (!p) {
    fprintf(stderr, "predict: %s\n", Kc_last_error(m));
    exit(2);
  }
  memcpy(out, p, sizeof(float) * N * OUT);
}

/* m's prediction and evaluation against a new instance's that loads m's
 * weights (saved to DIR/name.st); `before`: m's prediction before the
 * change, which the change must have changed. */
static void same_as_new(Kc_Model *m, const char *name, const float *before) {
  char path[512], err[256] = "", what[128];
  snprintf(path, sizeof path, "%s/%s.st", dir, name);
  float got[N * OUT], want[N * OUT];
  predict(m, got);
  double loss = Kc_evaluate(m, in, y, N);
  Kc_Model *f = make(99);
  if (Kc_save_weights(m, path, err, sizeof err) != 0 || Kc_load(f, path, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", path, err);
    exit(2);
  }
  predict(f, want);
  double want_loss = Kc_evaluate(f, in, y, N);
  snprintf(what, sizeof what, "%s, %d threads: the prediction of a new instance with its weights", name, threads);
  check(!memcmp(got, want, sizeof got), what, NULL);
  snprintf(what, sizeof what, "%s, %d threads: the evaluation of a new instance with its weights", name, threads);
  check(memcmp(&loss, &want_loss, sizeof loss) == 0, what, NULL);
  snprintf(what, sizeof what, "%s, %d threads: the prediction changed", name, threads);
  check(memcmp(got, before, sizeof got) != 0, what, NULL);
  Kc_free(f);
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: kept_host THREADS DIR\n"), 2;
  threads = atoi(argv[1]), dir = argv[2];
  uint64_t s = 12345;
  for (int i = 0; i < N * IN; i++) {
    s = s * 6364136223846793005u + 1442695040888963407u;
    x[i] = (float)((double)(s >> 40) / (double)(1 << 24) * 2 - 1);
  }
  for (int i = 0; i < N; i++) y[i] = i % OUT;
  const NnModelDesc *d = Kc_describe();
  const NnTensorDesc *w = NULL, *dw = NULL; /* the second convolution's filters [3, 3, 32, 40], the dense layer's W */
  for (int i = 0; i < d->nparams; i++) {
    if (d->params[i].rank == 4 && d->params[i].dims[3] == 40) w = &d->params[i];
    if (d->params[i].rank == 2 && d->params[i].dims[0] == 1960) dw = &d->params[i];
  }
  if (!w || !dw) return fprintf(stderr, "no filters [3, 3, 32, 40] or weights [1960, 40]\n"), 2;
  const size_t wn = 3 * 3 * 32 * 40, dn = 1960 * 40;
  float *filters = malloc(sizeof(float) * (wn > dn ? wn : dn)), before[N * OUT];

  /* set_param on a warm instance */
  Kc_Model *m = make(1);
  predict(m, before);
  predict(m, before); /* the kept transform reused: the same bits */
  if (Kc_get_param(m, w->name, filters, sizeof(float) * wn) != 0) return fprintf(stderr, "get_param\n"), 2;
  for (size_t i = 0; i < wn; i++) filters[i] = filters[i] * -1.5f + 0.01f;
  if (Kc_set_param(m, w->name, filters, sizeof(float) * wn) != 0) return fprintf(stderr, "set_param\n"), 2;
  same_as_new(m, "set_param", before);
  /* and of the dense layer's weights (the GEMM's panels) */
  predict(m, before);
  if (Kc_get_param(m, dw->name, filters, sizeof(float) * dn) != 0) return fprintf(stderr, "get_param\n"), 2;
  for (size_t i = 0; i < dn; i++) filters[i] *= 0.5f;
  if (Kc_set_param(m, dw->name, filters, sizeof(float) * dn) != 0) return fprintf(stderr, "set_param\n"), 2;
  same_as_new(m, "set_param (dense)", before);

  /* a load over a warm instance of other weights */
  Kc_Model *o = make(7);
  predict(o, before);
  (void)Kc_evaluate(o, in, y, N);
  char path[512], err[256] = "";
  snprintf(path, sizeof path, "%s/set_param.st", dir);
  if (Kc_load(o, path, err, sizeof err) != 0) return fprintf(stderr, "load: %s\n", err), 2;
  same_as_new(o, "load", before);

  /* a training step (the evaluation warm too) */
  predict(m, before);
  (void)Kc_evaluate(m, in, y, N);
  double loss = Kc_train_step(m, in, y, N);
  if (loss != loss) return fprintf(stderr, "train_step: %s\n", Kc_last_error(m)), 2;
  same_as_new(m, "train_step", before);
  Kc_free(m), Kc_free(o);
  free(filters);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
