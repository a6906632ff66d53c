/* threads_host.c — the thread count never changes the bits (tests/cli/threads.sh).
 *
 *   threads_host
 *
 * Links the seed CNN (libcnn.so) and the MNIST MLP (libmnist.so). Each run
 * trains a fresh instance a few steps on fixed data large enough that the
 * products, convolutions and loops split among threads, then predicts;
 * its losses and predictions must be the bits of the 1-thread run:
 *  - at 2 and 3 threads;
 *  - with M_set_threads changed before every call (0, 1, 2, 3);
 *  - with several application threads each driving its own instance at
 *    once, of one model and of the other, at different thread counts;
 *  - predictions of batches of 1, 2, 3, 5 and 32 at 2 and 3 threads
 *    (predict and predict_outputs), where a batch of at least as many
 *    samples as threads runs as slices of samples at once (the sample
 *    split) and a smaller one splits each kernel's rows.
 * Prints one line per check, "ok" or "FAIL", and exits 1 on a failure. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "libcnn.h"
#include "libmnist.h"

enum { STEPS = 3, CNN_N = 16, MNIST_N = 64, SCHEDULE = 4, PRED_N = 32 };

typedef struct Run {
  int threads[SCHEDULE]; /* set before step s (and the prediction) as threads[s % SCHEDULE] */
  double loss[STEPS];
  float pred[CNN_N > MNIST_N ? CNN_N * 10 : MNIST_N * 10];
  int ok;
} Run;

static float cnn_x[CNN_N * 32 * 32 * 3], cnn_y[CNN_N * 10], mnist_x[MNIST_N * 784], mnist_y[MNIST_N * 10];

static void data(void) {
  for (int i = 0; i < CNN_N * 32 * 32 * 3; i++) cnn_x[i] = (float)((i * 7 + i / 97) % 23) / 23 - 0.5f;
  for (int i = 0; i < CNN_N; i++) cnn_y[i * 10 + (i * 3) % 10] = 1;
  for (int i = 0; i < MNIST_N * 784; i++) mnist_x[i] = (float)((i * 5 + i / 101) % 17) / 17;
  for (int i = 0; i < MNIST_N; i++) mnist_y[i * 10 + i % 10] = 1;
}

static void *run_cnn(void *arg) {
  Run *r = arg;
  SeedCNN_Model *m = SeedCNN_create(11);
  const void *in[1] = {cnn_x};
  r->ok = m != NULL;
  for (int s = 0; r->ok && s < STEPS; s++) {
    r->ok = SeedCNN_set_threads(m, r->threads[s % SCHEDULE]) == 0;
    r->loss[s] = SeedCNN_train_step(m, in, cnn_y, CNN_N);
  }
  const float *p = r->ok && SeedCNN_set_threads(m, r->threads[STEPS % SCHEDULE]) == 0
                       ? SeedCNN_predict(m, in, CNN_N) : NULL;
  r->ok = p != NULL;
  if (p) memcpy(r->pred, p, sizeof(float) * CNN_N * 10);
  SeedCNN_free(m);
  return NULL;
}

static void *run_mnist(void *arg) {
  Run *r = arg;
  MnistMLP_Model *m = MnistMLP_create(5);
  const void *in[1] = {mnist_x};
  r->ok = m != NULL;
  for (int s = 0; r->ok && s < STEPS; s++) {
    r->ok = MnistMLP_set_threads(m, r->threads[s % SCHEDULE]) == 0;
    r->loss[s] = MnistMLP_train_step(m, in, mnist_y, MNIST_N);
  }
  const float *p = r->ok && MnistMLP_set_threads(m, r->threads[STEPS % SCHEDULE]) == 0
                       ? MnistMLP_predict(m, in, MNIST_N) : NULL;
  r->ok = p != NULL;
  if (p) memcpy(r->pred, p, sizeof(float) * MNIST_N * 10);
  MnistMLP_free(m);
  return NULL;
}

static int failed;

/* Predictions of an instance of each model at batches of 1, 2, 3, 5 and
 * 32 (each from another sample on) at `threads`, with predict and with
 * predict_outputs, into got[model][way][batch]; 0 when a call failed. */
enum { NBATCH = 5 };
static const int batches[NBATCH] = {1, 2, 3, 5, 32}, starts[NBATCH] = {0, 1, 3, 6, 5};
static float pred_x[(PRED_N + 8) * 3072];
typedef float Preds[2][2][NBATCH][PRED_N * 10];

static int predict_batches(SeedCNN_Model *c, MnistMLP_Model *m, int threads, Preds got) {
  if (SeedCNN_set_threads(c, threads) || MnistMLP_set_threads(m, threads)) return 0;
  for (int way = 0; way < 2; way++)
    for (int b = 0; b < NBATCH; b++) {
      int n = batches[b];
      const void *in[1] = {pred_x + starts[b] * 3072};
      void *out[1] = {got[0][way][b]};
      const float *p = way ? (SeedCNN_predict_outputs(c, in, out, n) ? NULL : out[0]) : SeedCNN_predict(c, in, n);
      if (!p) return 0;
      memmove(got[0][way][b], p, sizeof(float) * 10 * (size_t)n);
      in[0] = pred_x + starts[b] * 784; /* the MLP reads 784 values a sample */
      out[0] = got[1][way][b];
      p = way ? (MnistMLP_predict_outputs(m, in, out, n) ? NULL : out[0]) : MnistMLP_predict(m, in, n);
      if (!p) return 0;
      memmove(got[1][way][b], p, sizeof(float) * 10 * (size_t)n);
    }
  return 1;
}

/* The same bits at 2 and 3 threads as at 1, batch by batch, and from
 * predict_outputs as from predict. */
static void check_batches(void) {
  for (int i = 0; i < (PRED_N + 8) * 3072; i++) pred_x[i] = (float)((i * 11 + i / 89) % 19) / 19 - 0.25f;
  SeedCNN_Model *c = SeedCNN_create(3);
  MnistMLP_Model *m = MnistMLP_create(4);
  static Preds want, got;
  int ok1 = c && m && predict_batches(c, m, 1, want);
  for (int t = 2; t <= 3; t++) {
    int ok = ok1 && predict_batches(c, m, t, got);
    for (int k = 0; k < 2; k++) {
      int same_bits = ok && !memcmp(got[k], want[k], sizeof got[k]) &&
                      !memcmp(want[k][0], want[k][1], sizeof want[k][0]);
      printf("%s %s predictions at %d threads, batches 1, 2, 3, 5 and 32, as at 1 thread\n",
             same_bits ? "ok  " : "FAIL", k ? "MNIST MLP" : "seed CNN", t);
      failed |= !same_bits;
    }
  }
  SeedCNN_free(c);
  MnistMLP_free(m);
}

static void same(const Run *got, const Run *want, const char *what) {
  int ok = got->ok && want->ok && memcmp(got->loss, want->loss, sizeof got->loss) == 0 &&
           memcmp(got->pred, want->pred, sizeof got->pred) == 0 && got->loss[0] == got->loss[0];
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) {
    failed = 1;
    for (int s = 0; s < STEPS; s++) printf("  step %d: loss %.17g, 1 thread %.17g\n", s, got->loss[s], want->loss[s]);
  }
}

int main(void) {
  data();
  Run cnn1 = {.threads = {1, 1, 1, 1}}, mnist1 = {.threads = {1, 1, 1, 1}};
  run_cnn(&cnn1);
  run_mnist(&mnist1);
  if (!cnn1.ok || !mnist1.ok) {
    printf("FAIL the 1-thread runs: %s | %s\n", SeedCNN_last_error(NULL), MnistMLP_last_error(NULL));
    return 1;
  }
  /* the training steps must change the model, or equal bits prove little */
  int learns = cnn1.loss[STEPS - 1] != cnn1.loss[0] && mnist1.loss[STEPS - 1] != mnist1.loss[0];
  printf("%s the losses change from step to step\n", learns ? "ok  " : "FAIL");
  failed |= !learns;

  for (int t = 2; t <= 3; t++) {
    Run c = {.threads = {t, t, t, t}}, m = {.threads = {t, t, t, t}};
    char what[64];
    run_cnn(&c);
    snprintf(what, sizeof what, "seed CNN at %d threads", t);
    same(&c, &cnn1, what);
    run_mnist(&m);
    snprintf(what, sizeof what, "MNIST MLP at %d threads", t);
    same(&m, &mnist1, what);
  }
  Run cs = {.threads = {2, 0, 3, 1}}, ms = {.threads = {3, 1, 0, 2}};
  run_cnn(&cs);
  same(&cs, &cnn1, "seed CNN with set_threads 2, 0, 3, then 1 between calls");
  run_mnist(&ms);
  same(&ms, &mnist1, "MNIST MLP with set_threads 3, 1, 0, then 2 between calls");

  /* four application threads at once, each with its own instance */
  Run at[4] = {{.threads = {2, 2, 2, 2}}, {.threads = {3, 1, 2, 3}}, {.threads = {1, 1, 1, 1}},
                {.threads = {2, 3, 2, 1}}};
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, i < 3 ? run_cnn : run_mnist, &at[i]);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  same(&at[0], &cnn1, "seed CNN at 2 threads beside two other CNN instances and an MLP");
  same(&at[1], &cnn1, "seed CNN at 3, 1, 2 threads beside the others");
  same(&at[2], &cnn1, "seed CNN at 1 thread beside the others");
  same(&at[3], &mnist1, "MNIST MLP at 2, 3, 2 threads beside three CNN instances");
  check_batches();
  return failed;
}
