/* run_nnc.c — times a model compiled by nnc into a shared library.
 *
 *   run_nnc LIB.so MODEL MODE BATCH THREADS REPS
 *
 * MODE train: one training step on a batch already in memory;
 *      infer: one prediction; job: the tutorial's whole run in this
 *      process, 150 epochs of 77 steps on 768 rows, timed once.
 * Inputs are random, labels random one-hot rows of the output's width
 * (a single sigmoid unit gets 1s). Prints the median over REPS blocks of
 * microseconds a step, the fastest block, and the process's peak RSS. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "nnrt.h" /* the descriptor's types */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int64_t per_sample(const NnTensorDesc *t) {
  int64_t k = 1;
  for (int d = 0; d < t->rank; d++) k *= t->dims[d] < 0 ? 1 : t->dims[d];
  return k;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
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
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "run_nnc: %s\n", dlerror());
    return 1;
  }
  const NnModelDesc *(*describe)(void) = (const NnModelDesc *(*)(void))sym(lib, model, "describe");
  void *(*create)(uint64_t) = (void *(*)(uint64_t))sym(lib, model, "create");
  int (*set_threads)(void *, int) = (int (*)(void *, int))sym(lib, model, "set_threads");
  double (*step)(void *, const void *const *, const void *, int64_t) =
      (double (*)(void *, const void *const *, const void *, int64_t))sym(lib, model, "train_step");
  const void *(*predict)(void *, const void *const *, int64_t) =
      (const void *(*)(void *, const void *const *, int64_t))sym(lib, model, "predict");
  const NnModelDesc *d = describe();
  int64_t rows = !strcmp(mode, "job") ? 768 : batch;
  int64_t nin = per_sample(&d->inputs[0]), nout = per_sample(&d->outputs[0]);
  float *x = malloc(sizeof *x * (size_t)(rows * nin)), *y = calloc((size_t)(rows * nout), sizeof *y);
  srand(1);
  for (int64_t i = 0; i < rows * nin; i++) x[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
  for (int64_t i = 0; i < rows; i++) y[i * nout + (nout > 1 ? rand() % nout : 0)] = 1;
  void *m = create(1);
  set_threads(m, threads);
  const void *in[1] = {x};

  if (!strcmp(mode, "job")) { /* 150 epochs x 77 batches of 10 over 768 rows */
    double t0 = now(), sink = 0;
    for (int e = 0; e < 150; e++)
      for (int64_t s = 0; s < rows; s += batch) {
        int64_t n = rows - s < batch ? rows - s : batch;
        const void *part[1] = {x + s * nin};
        sink += step(m, part, y + s * nout, n);
      }
    double t = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("seconds=%.6f loss_sum=%.3f maxrss_kb=%ld\n", t, sink, ru.ru_maxrss);
    return 0;
  }
  bool train = !strcmp(mode, "train");
  /* a block lasts about 20 ms; warm up with one */
  double t0 = now();
  int64_t k = 0;
  while (now() - t0 < 0.02 || k < 3) {
    if (train) step(m, in, y, batch);
    else predict(m, in, batch);
    k++;
  }
  double *block = malloc(sizeof *block * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    double b0 = now();
    for (int64_t i = 0; i < k; i++) {
      if (train) step(m, in, y, batch);
      else predict(m, in, batch);
    }
    block[r] = (now() - b0) / (double)k * 1e6;
  }
  qsort(block, (size_t)reps, sizeof *block, cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("us_per_step=%.3f min=%.3f maxrss_kb=%ld\n", block[reps / 2], block[0], ru.ru_maxrss);
  return 0;
}
