/* run_nnc.c — times a model compiled by nnc into a shared library.
 *
 *   run_nnc LIB.so MODEL MODE BATCH THREADS REPS
 *
 * MODE train: one training step on a batch already in memory;
 *      infer: one prediction; job: the tutorial's whole run in this
 *      process, 150 epochs of 77 steps on 768 rows, timed once.
 * Inputs are random: floats in [-1, 1], i32 token ids below the smallest
 * vocabulary of the model's embeddings (its parameters embedding*.W); the
 * label is what the descriptor says: random class ids (i32, for
 * sparse_categorical_crossentropy) or random one-hot rows of the output's
 * width (a single sigmoid unit gets 1s). Prints the median over REPS
 * blocks of microseconds a step, the fastest block, and the process's
 * peak RSS. With RUN_NNC_CLOCK=cpu the clock is the process's CPU time
 * (on a loaded host, closer to what the work itself takes). A library
 * for inference alone (--inference-only, --quantize) runs infer. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "bench.h"
#include "nnrt.h" /* the descriptor's types */

static clockid_t clock_id = CLOCK_MONOTONIC;

static int64_t per_sample(const NnTensorDesc *t) {
  int64_t k = 1;
  for (int d = 0; d < t->rank; d++) k *= t->dims[d] < 0 ? 1 : t->dims[d];
  return k;
}

static void *sym(void *lib, const char *model, const char *what) {
  char name[256];
  snprintf(name, sizeof name, "%s_%s", model, what);
  void *p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "run_nnc: no %s in the library\n", name);
    exit(1);
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: run_nnc LIB.so MODEL train|infer|job BATCH THREADS REPS\n");
    return 2;
  }
  const char *model = argv[2], *mode = argv[3];
  int64_t batch = atoll(argv[4]);
  int threads = atoi(argv[5]), reps = atoi(argv[6]);
  if (getenv("RUN_NNC_CLOCK") && !strcmp(getenv("RUN_NNC_CLOCK"), "cpu")) clock_id = CLOCK_PROCESS_CPUTIME_ID;
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "run_nnc: %s\n", dlerror());
    return 1;
  }
  const NnModelDesc *(*describe)(void) = (const NnModelDesc *(*)(void))sym(lib, model, "describe");
  void *(*create)(uint64_t) = (void *(*)(uint64_t))sym(lib, model, "create");
  int (*set_threads)(void *, int) = (int (*)(void *, int))sym(lib, model, "set_threads");
  double (*step)(void *, const void *const *, const void *, int64_t) =
      (double (*)(void *, const void *const *, const void *, int64_t))(strcmp(mode, "infer") ? sym(lib, model, "train_step") : NULL);
  const void *(*predict)(void *, const void *const *, int64_t) =
      (const void *(*)(void *, const void *const *, int64_t))sym(lib, model, "predict");
  const NnModelDesc *d = describe();
  int64_t rows = !strcmp(mode, "job") ? 768 : batch;
  int64_t vocab = INT64_MAX;
  for (int i = 0; i < d->nparams; i++)
    if (!strncmp(d->params[i].name, "embedding", 9) && d->params[i].rank == 2 && d->params[i].dims[0] < vocab)
      vocab = d->params[i].dims[0];
  srand(1);
  const void *in[8];
  void *xs[8];
  if (d->ninputs > 8) {
    fprintf(stderr, "run_nnc: more than 8 inputs\n");
    return 1;
  }
  for (int j = 0; j < d->ninputs; j++) {
    int64_t count = rows * per_sample(&d->inputs[j]);
    xs[j] = malloc(4 * (size_t)count * (d->inputs[j].dtype == 1 ? 2 : 1));
    for (int64_t i = 0; i < count; i++) {
      double r = (double)rand() / RAND_MAX;
      if (d->inputs[j].dtype == 2) ((int32_t *)xs[j])[i] = vocab == INT64_MAX ? 0 : (int32_t)(r * (double)(vocab - 1));
      else if (d->inputs[j].dtype == 1) ((double *)xs[j])[i] = r * 2 - 1;
      else ((float *)xs[j])[i] = (float)(r * 2 - 1);
    }
    in[j] = xs[j];
  }
  /* the label: class ids, or one-hot rows of the output's last axis */
  const NnTensorDesc *out = &d->outputs[0];
  int64_t classes = out->dims[out->rank - 1], positions = per_sample(out) / classes;
  bool sparse = d->nlabels > 0 && d->labels[0].dtype == 2;
  void *y = calloc((size_t)(rows * per_sample(out)), 8);
  for (int64_t i = 0; i < rows * positions; i++) {
    int32_t c = classes > 1 ? rand() % (int32_t)classes : 0;
    if (sparse) ((int32_t *)y)[i] = c;
    else if (out->dtype == 1) ((double *)y)[i * classes + c] = 1;
    else ((float *)y)[i * classes + c] = 1;
  }
  int64_t nin = per_sample(&d->inputs[0]), nlab = sparse ? positions : per_sample(out);
  size_t lab_size = sparse ? 4 : out->dtype == 1 ? 8 : 4;
  void *m = create(1);
  set_threads(m, threads);

  if (!strcmp(mode, "job")) { /* 150 epochs x 77 batches of 10 over 768 rows */
    double t0 = clock_seconds(clock_id), sink = 0;
    for (int e = 0; e < 150; e++)
      for (int64_t s = 0; s < rows; s += batch) {
        int64_t n = rows - s < batch ? rows - s : batch;
        const void *part[1] = {(const float *)xs[0] + s * nin};
        sink += step(m, part, (const char *)y + (size_t)(s * nlab) * lab_size, n);
      }
    double t = clock_seconds(clock_id) - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("seconds=%.6f loss_sum=%.3f maxrss_kb=%ld\n", t, sink, ru.ru_maxrss);
    return 0;
  }
  bool train = !strcmp(mode, "train");
  /* a block lasts about 20 ms; warm up with one */
  double t0 = clock_seconds(clock_id);
  int64_t k = 0;
  while (clock_seconds(clock_id) - t0 < 0.02 || k < 3) {
    if (train) step(m, in, y, batch);
    else predict(m, in, batch);
    k++;
  }
  double *block = malloc(sizeof *block * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    double b0 = clock_seconds(clock_id);
    for (int64_t i = 0; i < k; i++) {
      if (train) step(m, in, y, batch);
      else predict(m, in, batch);
    }
    block[r] = (clock_seconds(clock_id) - b0) / (double)k * 1e6;
  }
  qsort(block, (size_t)reps, sizeof *block, cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("us_per_step=%.3f min=%.3f maxrss_kb=%ld\n", block[reps / 2], block[0], ru.ru_maxrss);
  return 0;
}
