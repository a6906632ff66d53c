/* outputs_host.c — a host for outputs_api.sh: the C API of a model with
 * two inputs and two outputs (libheads: TwoHeads, digit trained with
 * sparse_categorical_crossentropy, score with mse, loss_weights 1, 0.5).
 * The descriptor lists the outputs and the labels a step takes;
 * predict_outputs fills one buffer per output, the first equal to what
 * predict returns; the loss of evaluate_outputs is the weighted sum of the
 * two losses computed here from the predictions; train_step_outputs
 * lowers it; bad arguments are errors whose message names the output. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "libheads.h"

enum { N = 32 };
static int passed, failed;
static void check(int ok, const char *what, const char *why) {
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, why && *why ? ": " : "", why ? why : "");
  ok ? passed++ : failed++;
}
static int says(const char *msg, const char *part) { return msg && strstr(msg, part) != NULL; }

static float image[N * 6], meta[N * 3], score_y[N * 2], digit[N * 4], score[N * 2];
static int32_t digit_y[N];

/* 1.0 * mean(-log p[y]) + 0.5 * mean((score - t)^2), from the predictions */
static double by_hand(void) {
  double ce = 0, se = 0;
  for (int i = 0; i < N; i++) ce -= log((double)digit[i * 4 + digit_y[i]]);
  for (int i = 0; i < N * 2; i++) se += ((double)score[i] - score_y[i]) * ((double)score[i] - score_y[i]);
  return ce / N + 0.5 * se / (N * 2);
}

int main(void) {
  for (int i = 0; i < N; i++) { /* the class and the scores follow from the inputs */
    double s = 0;
    for (int j = 0; j < 6; j++) s += image[i * 6 + j] = (float)sin(1.7 * i + 0.9 * j);
    for (int j = 0; j < 3; j++) meta[i * 3 + j] = (float)cos(0.6 * i - 1.3 * j);
    digit_y[i] = (int32_t)(i % 4);
    for (int j = 0; j < 6; j++) image[i * 6 + j] += digit_y[i] == j % 4 ? 1.0f : 0.0f;
    score_y[i * 2] = (float)(0.5 * s);
    score_y[i * 2 + 1] = meta[i * 3] - meta[i * 3 + 2];
  }
  const void *in[2] = {image, meta};
  void *out[2] = {digit, score};
  const void *labels[2] = {digit_y, score_y};

  const NnModelDesc *d = TwoHeads_describe();
  check(d->ninputs == 2 && d->noutputs == 2 && d->nlabels == 2 && d->outputs[0].dims[1] == 4 &&
            d->outputs[1].dims[1] == 2,
        "describe: two inputs, two outputs, two labels", NULL);
  check(d->labels[0].dtype == 2 && d->labels[0].rank == 1 && d->labels[0].dims[0] == -1 && d->labels[1].dtype == 0 &&
            d->labels[1].rank == 2 && d->labels[1].dims[1] == 2,
        "describe: label 0 is class ids i32[N], label 1 is f32[N, 2] like its output", NULL);

  TwoHeads_Model *m = TwoHeads_create(5);
  check(TwoHeads_predict_outputs(m, in, out, N) == 0, "predict_outputs", TwoHeads_last_error(m));
  const float *first = TwoHeads_predict(m, in, N);
  check(first && !memcmp(first, digit, sizeof digit), "predict_outputs' first output is predict's", NULL);
  double sum = 0;
  for (int j = 0; j < 4; j++) sum += digit[j];
  check(fabs(sum - 1) < 1e-5, "the digit output is a softmax", NULL);

  double loss0 = TwoHeads_evaluate_outputs(m, in, labels, NULL, N), want = by_hand();
  char why[160];
  snprintf(why, sizeof why, "evaluate_outputs %.9g, by hand %.9g", loss0, want);
  check(fabs(loss0 - want) <= 1e-5 * fabs(want), "the loss is 1.0 * cross-entropy + 0.5 * mse", why);

  for (int s = 0; s < 200; s++) TwoHeads_train_step_outputs(m, in, labels, NULL, N);
  TwoHeads_predict_outputs(m, in, out, N);
  double loss1 = TwoHeads_evaluate_outputs(m, in, labels, NULL, N), want1 = by_hand();
  snprintf(why, sizeof why, "%.6g before, %.6g after 200 steps (by hand %.6g)", loss0, loss1, want1);
  check(loss1 < 0.5 * loss0 && fabs(loss1 - want1) <= 1e-5 * fabs(want1) + 1e-7,
        "train_step_outputs lowers the loss", why);

  /* errors: a message that names the output; nothing computed */
  void *half[2] = {digit, NULL};
  check(TwoHeads_predict_outputs(m, in, NULL, N) == -1 && says(TwoHeads_last_error(m), "no outputs (NULL)"),
        "predict_outputs(outputs NULL)", TwoHeads_last_error(m));
  check(TwoHeads_predict_outputs(m, in, half, N) == -1 &&
            says(TwoHeads_last_error(m), "the buffer of output 1 (score) is NULL"),
        "predict_outputs with output 1's buffer NULL", TwoHeads_last_error(m));
  check(TwoHeads_predict_outputs(m, in, out, 0) == -1, "predict_outputs(n = 0)", TwoHeads_last_error(m));
  check(isnan(TwoHeads_train_step_outputs(m, in, NULL, NULL, N)) && says(TwoHeads_last_error(m), "no labels (NULL)"),
        "train_step_outputs(labels NULL)", TwoHeads_last_error(m));
  const void *one[2] = {digit_y, NULL};
  check(isnan(TwoHeads_train_step_outputs(m, in, one, NULL, N)) &&
            says(TwoHeads_last_error(m), "no label of output 1 (score) (NULL)"),
        "train_step_outputs with label 1 NULL", TwoHeads_last_error(m));
  float keep = score_y[3 * 2 + 1];
  score_y[3 * 2 + 1] = NAN;
  check(isnan(TwoHeads_train_step_outputs(m, in, labels, NULL, N)) &&
            says(TwoHeads_last_error(m), "the label of output 1 (score) of sample 3 (one of its values) is nan"),
        "a NaN in output 1's label of sample 3", TwoHeads_last_error(m));
  score_y[3 * 2 + 1] = keep;
  digit_y[7] = 4;
  check(isnan(TwoHeads_evaluate_outputs(m, in, labels, NULL, N)) &&
            says(TwoHeads_last_error(m), "the label of output 0 (digit) of sample 7 is 4, not a class id"),
        "class 4 in output 0's label of sample 7", TwoHeads_last_error(m));
  digit_y[7] = 3;
  check(isnan(TwoHeads_train_step(m, in, digit_y, N)) && isnan(TwoHeads_evaluate(m, in, digit_y, N)) &&
            says(TwoHeads_last_error(m), "has 2 outputs, each with its label; use evaluate_outputs"),
        "the one-label functions point to the _outputs ones", TwoHeads_last_error(m));
  float w[N] = {1};
  check(isnan(TwoHeads_train_step_outputs(m, in, labels, w, N)) &&
            says(TwoHeads_last_error(m), "takes no sample weights (its train block has neither sample_weights"),
        "sample weights for a model trained without them", TwoHeads_last_error(m));
  double after = TwoHeads_evaluate_outputs(m, in, labels, NULL, N);
  check(after == loss1 && *TwoHeads_last_error(m) == 0, "failed calls changed nothing; a success clears the error",
        TwoHeads_last_error(m));
  TwoHeads_free(m);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
