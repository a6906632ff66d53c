/* split_samples.c — two ways to run the seed CNN's inference at batch 32
 * on 2 threads, alternated: one instance at 2 threads (each kernel splits
 * its rows, through OpenMP) against two 1-thread instances on 16 samples
 * each in two application threads that meet at a pthread barrier before
 * and after each call (the samples split, no OpenMP region at all).
 *
 *   build/nnc --backend=c --cpu=native examples/seed_cnn.nn -o /tmp/cnn/libcnn.so
 *   cc -O2 -std=c11 -I/tmp/cnn bench/split_samples.c -o /tmp/cnn/split /tmp/cnn/libcnn.so \
 *      -Wl,-rpath,/tmp/cnn -pthread
 *   /tmp/cnn/split [ROUNDS]
 *
 * Prints min, median and max over ROUNDS (default 7) of ms a batch, each
 * round the mean of 20 calls. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"
#include "libcnn.h"

enum { N = 32, PIXELS = 32 * 32 * 3, ITERS = 20, MAXROUNDS = 64 };

static float x[N * PIXELS];
static pthread_barrier_t meet;

/* predict on `n` samples from `x`, ITERS + 1 times, between two barriers */
typedef struct Half {
  SeedCNN_Model *m;
  const float *x;
} Half;

static void half_calls(const Half *h) {
  const void *in[1] = {h->x};
  for (int i = 0; i <= ITERS; i++) {
    pthread_barrier_wait(&meet);
    SeedCNN_predict(h->m, in, N / 2);
    pthread_barrier_wait(&meet);
  }
}

static void *second_half(void *arg) {
  half_calls(arg);
  return NULL;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  if (rounds < 1 || rounds > MAXROUNDS) rounds = 7;
  for (int i = 0; i < N * PIXELS; i++) x[i] = (float)(i % 29) / 29;
  SeedCNN_Model *both = SeedCNN_create(1), *first = SeedCNN_create(1), *second = SeedCNN_create(1);
  if (!both || !first || !second || SeedCNN_set_threads(both, 2) || SeedCNN_set_threads(first, 1) ||
      SeedCNN_set_threads(second, 1)) {
    fprintf(stderr, "split: %s\n", SeedCNN_last_error(NULL));
    return 1;
  }
  pthread_barrier_init(&meet, NULL, 2);
  double rows[MAXROUNDS], samples[MAXROUNDS];
  const void *in[1] = {x};
  for (int r = 0; r < rounds; r++) {
    SeedCNN_predict(both, in, N);
    double t0 = now();
    for (int i = 0; i < ITERS; i++) SeedCNN_predict(both, in, N);
    rows[r] = (now() - t0) / ITERS * 1e3;

    Half h1 = {first, x}, h2 = {second, x + N / 2 * PIXELS};
    pthread_t th;
    pthread_create(&th, NULL, second_half, &h2);
    const void *in1[1] = {h1.x};
    pthread_barrier_wait(&meet); /* the first call warms up, untimed */
    SeedCNN_predict(first, in1, N / 2);
    pthread_barrier_wait(&meet);
    t0 = now();
    for (int i = 0; i < ITERS; i++) {
      pthread_barrier_wait(&meet);
      SeedCNN_predict(first, in1, N / 2);
      pthread_barrier_wait(&meet);
    }
    samples[r] = (now() - t0) / ITERS * 1e3;
    pthread_join(th, NULL);
  }
  qsort(rows, (size_t)rounds, sizeof *rows, cmp);
  qsort(samples, (size_t)rounds, sizeof *samples, cmp);
  printf("rows split (1 instance, 2 threads): %.2f / %.2f / %.2f ms; samples split (2 instances x 16): "
         "%.2f / %.2f / %.2f ms\n", rows[0], rows[rounds / 2], rows[rounds - 1], samples[0],
         samples[rounds / 2], samples[rounds - 1]);
  SeedCNN_free(both), SeedCNN_free(first), SeedCNN_free(second);
  return 0;
}
