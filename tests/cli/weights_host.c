/* weights_host.c — a host for outputs_api.sh: sample and class weights
 * (libcw: Cw, three classes, sparse_categorical_crossentropy,
 * class_weight 1, 5, 0.5). A training step's loss is
 * sum_i class_weight[y_i] * sample_weight[i] * loss_i / n (Keras's
 * sum_over_batch_size), an evaluation's sum_i sample_weight[i] * loss_i / n
 * (class weights count in training only), both against the loss computed
 * here from the predictions; bad weights are errors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "libcw.h"

enum { N = 24 };
static int passed, failed;
static void check(int ok, const char *what, const char *why) {
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, why && *why ? ": " : "", why ? why : "");
  ok ? passed++ : failed++;
}
static int says(const char *msg, const char *part) { return msg && strstr(msg, part) != NULL; }

static float x[N * 5], sw[N];
static int32_t y[N];
static const double cw[3] = {1, 5, 0.5};

static double by_hand(const float *p, const float *w, int classes) {
  double s = 0;
  for (int i = 0; i < N; i++)
    s += (w ? w[i] : 1.0) * (classes ? cw[y[i]] : 1.0) * -log((double)p[i * 3 + y[i]]);
  return s / N;
}

static void near(double got, double want, const char *what) {
  char why[160];
  snprintf(why, sizeof why, "%.9g, by hand %.9g", got, want);
  check(fabs(got - want) <= 1e-5 * fabs(want), what, why);
}

int main(void) {
  for (int i = 0; i < N; i++) {
    y[i] = (int32_t)((i * 7) % 3);
    sw[i] = (float)(0.25 * (i % 5));
    for (int j = 0; j < 5; j++) x[i * 5 + j] = (float)sin(0.7 * i + 1.1 * j) + (j == y[i] ? 1.0f : 0.0f);
  }
  const void *in[1] = {x}, *labels[1] = {y};
  Cw_Model *m = Cw_create(3);
  check(Cw_describe()->nlabels == 1, "describe: one label (the weights are not one)", NULL);
  float p[N * 3];
  memcpy(p, Cw_predict(m, in, N), sizeof p);
  near(Cw_evaluate(m, in, y, N), by_hand(p, NULL, 0), "evaluate: the plain mean, no class weights");
  near(Cw_evaluate_outputs(m, in, labels, sw, N), by_hand(p, sw, 0), "evaluate_outputs: sample weights");
  near(Cw_train_step_outputs(m, in, labels, sw, N), by_hand(p, sw, 1), "train_step_outputs: sample x class weights");
  memcpy(p, Cw_predict(m, in, N), sizeof p);
  near(Cw_train_step(m, in, y, N), by_hand(p, NULL, 1), "train_step: class weights");
  sw[5] = -1;
  check(isnan(Cw_train_step_outputs(m, in, labels, sw, N)) &&
            says(Cw_last_error(m), "the weight of sample 5 is -1, not a finite number of at least 0"),
        "a negative sample weight", Cw_last_error(m));
  sw[5] = NAN;
  check(isnan(Cw_evaluate_outputs(m, in, labels, sw, N)) && says(Cw_last_error(m), "the weight of sample 5 is nan"),
        "a NaN sample weight", Cw_last_error(m));
  Cw_free(m);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
