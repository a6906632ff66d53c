/* api_host.c — a host for api_contract.sh: every function of a compiled
 * model's C API refuses bad arguments with an error code and a message
 * (M_last_error) instead of crashing, exiting or computing garbage: sizes
 * that would overflow, n <= 0, NULL pointers, thread counts and learning
 * rates out of range, labels and token ids the model cannot take; memory
 * that runs out is an error too. Learning-rate schedules follow
 * M_set_epoch, and a weights-only file loads for inference and as the
 * start of a new training. Linked with libseed (SeedMLP: binary
 * cross-entropy) and libtok (Tok: token ids into an embedding, sparse
 * labels with ignore_label -1, a step schedule). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "libseed.h"
#include "libtok.h"

static int passed, failed;
static void check(int ok, const char *what, const char *why) {
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, why && *why ? ": " : "", why ? why : "");
  ok ? passed++ : failed++;
}
static int says(const char *msg, const char *part) { return msg && strstr(msg, part) != NULL; }

static float x[16 * 8], y[16];
static const void *in[1] = {x};

static void sizes(void) {
  SeedMLP_Model *m = SeedMLP_create(1);
  const int64_t huge = (int64_t)1 << 62;
  check(SeedMLP_arena_bytes(huge, 1) == 0 && says(SeedMLP_last_error(NULL), "outside 1 to"),
        "arena_bytes(2^62): 0, no wrapped size", SeedMLP_last_error(NULL));
  check(SeedMLP_arena_bytes(0, 1) == 0 && SeedMLP_arena_bytes(-5, 1) == 0 && SeedMLP_arena_bytes(10, -1) == 0 &&
            SeedMLP_arena_bytes(10, 5000) == 0 && SeedMLP_arena_bytes(10, 1) > 0,
        "arena_bytes refuses n < 1 and threads out of range", SeedMLP_last_error(NULL));
  check(SeedMLP_predict(m, in, huge) == NULL && says(SeedMLP_last_error(m), "predict: a batch of 4611686018427387904"),
        "predict(n = 2^62): NULL before touching memory", SeedMLP_last_error(m));
  check(SeedMLP_predict(m, in, 0) == NULL && SeedMLP_predict(m, in, -3) == NULL, "predict(n <= 0): NULL",
        SeedMLP_last_error(m));
  check(isnan(SeedMLP_train_step(m, in, y, -1)) && isnan(SeedMLP_evaluate(m, in, y, 0)) &&
            SeedMLP_workspace_bytes(m) == 0,
        "train_step and evaluate with n <= 0: NaN, nothing allocated", SeedMLP_last_error(m));
  /* a billion samples: an arena of hundreds of gigabytes that malloc refuses */
  check(SeedMLP_predict(m, in, 1000000000) == NULL && says(SeedMLP_last_error(m), "out of memory"),
        "predict(10^9 samples): out of memory is an error, the process lives", SeedMLP_last_error(m));
  check(SeedMLP_set_threads(m, 1000000) == -1 && says(SeedMLP_last_error(m), "1000000 threads") &&
            SeedMLP_set_threads(m, -1) == -1 && SeedMLP_set_threads(m, 2) == 0 && *SeedMLP_last_error(m) == 0,
        "set_threads: 0 to 1024; a success clears the error", SeedMLP_last_error(m));
  check(SeedMLP_predict(m, in, 16) != NULL, "after all that, predict works", SeedMLP_last_error(m));
  SeedMLP_free(m);
}

static void pointers(void) {
  SeedMLP_Model *m = SeedMLP_create(1);
  char err[256] = "";
  SeedMLP_free(NULL);
  check(SeedMLP_save(NULL, "x", err, sizeof err) == -1 && says(SeedMLP_last_error(NULL), "save: no model"),
        "save(NULL model): -1 and a message for the thread", SeedMLP_last_error(NULL));
  check(SeedMLP_predict(NULL, in, 1) == NULL && isnan(SeedMLP_train_step(NULL, in, y, 1)),
        "predict and train_step on a NULL model", SeedMLP_last_error(NULL));
  check(SeedMLP_predict(m, NULL, 1) == NULL && says(SeedMLP_last_error(m), "no inputs"), "NULL inputs",
        SeedMLP_last_error(m));
  const void *none[1] = {NULL};
  check(SeedMLP_predict(m, none, 1) == NULL && says(SeedMLP_last_error(m), "input 0 (x) is NULL"),
        "a NULL input", SeedMLP_last_error(m));
  check(isnan(SeedMLP_train_step(m, in, NULL, 1)) && says(SeedMLP_last_error(m), "no label"), "a NULL label",
        SeedMLP_last_error(m));
  check(SeedMLP_load(m, NULL, err, sizeof err) == -1 && says(err, "no path") &&
            SeedMLP_save(m, NULL, NULL, 0) == -1,
        "NULL paths; a NULL err buffer is allowed", err);
  float w[80];
  check(SeedMLP_get_param(m, "dense1.W", w, 4) == -1 && says(SeedMLP_last_error(m), "has 320 bytes, not 4") &&
            SeedMLP_get_param(m, "dense9.W", w, sizeof w) == -1 && says(SeedMLP_last_error(m), "no tensor 'dense9.W'") &&
            SeedMLP_get_param(m, NULL, w, sizeof w) == -1 && SeedMLP_set_param(m, "dense1.W", NULL, sizeof w) == -1,
        "get/set_param name the tensor and the sizes", SeedMLP_last_error(m));
  check(SeedMLP_set_lr(m, INFINITY) == -1 && SeedMLP_set_lr(m, NAN) == -1 && SeedMLP_set_lr(m, 0) == -1 &&
            SeedMLP_set_lr(m, -1) == -1 && SeedMLP_set_lr(m, 0.01) == 0,
        "set_lr: finite and above 0", SeedMLP_last_error(m));
  check(SeedMLP_set_epoch(m, -1) == -1 && SeedMLP_set_epoch(m, 3) == 0, "set_epoch: at least 0", SeedMLP_last_error(m));
  check(SeedMLP_generate(m, (const int32_t *)x, 1, 1, 0, 0, (int32_t *)y) == -1 &&
            says(SeedMLP_last_error(m), "not a language model"),
        "generate on a model that is not a language model", SeedMLP_last_error(m));
  SeedMLP_free(m);
}

static void labels(void) {
  SeedMLP_Model *m = SeedMLP_create(1);
  float w[80], w2[80];
  SeedMLP_get_param(m, "dense1.W", w, sizeof w);
  y[3] = 2;
  check(isnan(SeedMLP_train_step(m, in, y, 8)) &&
            says(SeedMLP_last_error(m), "the label of sample 3 is 2, not in [0, 1]"),
        "binary cross-entropy refuses the label 2", SeedMLP_last_error(m));
  y[3] = NAN;
  check(isnan(SeedMLP_evaluate(m, in, y, 8)) && says(SeedMLP_last_error(m), "sample 3 is nan"),
        "and a NaN label", SeedMLP_last_error(m));
  SeedMLP_get_param(m, "dense1.W", w2, sizeof w2);
  check(!memcmp(w, w2, sizeof w), "a refused step changes nothing", NULL);
  y[3] = 1;
  check(!isnan(SeedMLP_train_step(m, in, y, 8)), "a good step", SeedMLP_last_error(m));
  SeedMLP_free(m);

  Tok_Model *t = Tok_create(1);
  int32_t ids[4 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6}, cls[4] = {0, 1, 2, -1};
  const void *tin[1] = {ids};
  check(Tok_predict(t, tin, 4) != NULL, "token ids in the vocabulary", Tok_last_error(t));
  ids[6] = 999;
  check(Tok_predict(t, tin, 4) == NULL &&
            says(Tok_last_error(t), "input 0 (ids), sample 1, position 2: the token id 999 is outside the vocabulary [0, 10)"),
        "predict refuses the token id 999", Tok_last_error(t));
  ids[6] = -4;
  check(isnan(Tok_train_step(t, tin, cls, 4)) && says(Tok_last_error(t), "token id -4"), "train_step refuses -4",
        Tok_last_error(t));
  ids[6] = 7;
  cls[1] = 3;
  check(isnan(Tok_train_step(t, tin, cls, 4)) && says(Tok_last_error(t), "the label of sample 1 is 3, not a class id"),
        "a class id past the classes", Tok_last_error(t));
  cls[1] = 1;
  check(!isnan(Tok_train_step(t, tin, cls, 4)), "ignore_label -1 is a label the loss takes", Tok_last_error(t));
  Tok_free(t);
}

/* The step schedule halves the rate every epoch: a step at epoch 3 moves
 * the weights by an eighth of what one at epoch 0 does (Adam's first step
 * is lr * sign(g)). */
static void schedule(void) {
  int32_t ids[4 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6}, cls[4] = {0, 1, 2, 1};
  const void *tin[1] = {ids};
  float before[3 * 16], a[3 * 16], b[3 * 16];
  double da = 0, db = 0;
  for (int run = 0; run < 2; run++) {
    Tok_Model *t = Tok_create(1);
    Tok_get_param(t, "dense1.W", before, sizeof before);
    if (run) Tok_set_epoch(t, 3);
    Tok_train_step(t, tin, cls, 4);
    Tok_get_param(t, "dense1.W", run ? b : a, sizeof a);
    for (int i = 0; i < 48; i++) *(run ? &db : &da) += fabs((run ? b : a)[i] - before[i]);
    Tok_free(t);
  }
  check(da > 0 && fabs(db * 8 / da - 1) < 1e-3, "set_epoch(3) makes the step schedule's rate lr / 8", NULL);
}

static void weights(const char *dir) {
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/w.safetensors", dir);
  SeedMLP_Model *m = SeedMLP_create(5), *fresh = SeedMLP_create(6);
  for (int i = 0; i < 16 * 8; i++) x[i] = (float)sin(i);
  for (int i = 0; i < 16; i++) y[i] = i % 2;
  for (int step = 0; step < 20; step++) SeedMLP_train_step(m, in, y, 16);
  float p[16], q[16];
  memcpy(p, SeedMLP_predict(m, in, 16), sizeof p);
  check(SeedMLP_save_weights(m, path, err, sizeof err) == 0, "save_weights", err);
  check(SeedMLP_load(fresh, path, err, sizeof err) == 0, "a weights file loads", err);
  memcpy(q, SeedMLP_predict(fresh, in, 16), sizeof q);
  check(!memcmp(p, q, sizeof p), "and predicts as the model it came from", NULL);
  float slot[80];
  SeedMLP_get_param(fresh, "adam.m.dense1.W", slot, sizeof slot);
  int zero = 1;
  for (int i = 0; i < 80; i++) zero &= slot[i] == 0;
  check(zero, "the optimizer's slots start afresh", NULL);
  check(!isnan(SeedMLP_train_step(fresh, in, y, 16)), "and it trains on", SeedMLP_last_error(fresh));
  SeedMLP_free(m);
  SeedMLP_free(fresh);
}

int main(int argc, char **argv) {
  for (int i = 0; i < 16 * 8; i++) x[i] = (float)(i % 7) / 7;
  for (int i = 0; i < 16; i++) y[i] = i % 2;
  sizes();
  pointers();
  labels();
  schedule();
  weights(argc > 1 ? argv[1] : ".");
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
