/* callbacks.c — the training program's callbacks (runtime/nnrt_callbacks.c)
 * against sequences worked out by hand from Keras's EarlyStopping and
 * ReduceLROnPlateau: patience, min_delta, the direction of the monitor,
 * cooldown and min_lr; a state stored and restored halfway decides as
 * one kept; and the rate the schedules give. */
#include "nnrt_callbacks.c"

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) {                            \
      fprintf(stderr, "FAIL: " __VA_ARGS__);  \
      fprintf(stderr, "\n");                  \
      failures++;                             \
    }                                         \
  } while (0)

/* ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.1, min_delta=0,
 * cooldown=1) from a rate of 1 on val_loss: reductions after epochs 3, 5,
 * 8 and 10 (0.5, 0.25, 0.125, then 0.1, the floor), none after; the state
 * stored and restored after epoch `cut` changes nothing. */
static void test_reduce(int cut) {
  NnrtProgram p = {.has_reduce = true, .reduce_val = true, .reduce_metric = -1, .factor = 0.5,
                   .reduce_patience = 2, .min_lr = 0.1, .reduce_min_delta = 0, .cooldown = 1};
  const double v[] = {1.0, 0.9, 0.95, 0.96, 0.97, 0.97, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
  const double want[] = {0, 0, 0, 0.5, 0, 0.25, 0, 0, 0.125, 0, 0.1, 0, 0, 0};
  NnrtCallbacks c;
  nnrt_callbacks_init(&c);
  for (int e = 0; e < 14; e++) {
    double values[3] = {0, v[e], 0};
    NnrtEvents ev;
    nnrt_callbacks_epoch(&p, &c, e, values, 1.0, &ev);
    CHECK(ev.reduced == (want[e] > 0), "reduce_lr (cut %d): epoch %d reduced %d", cut, e, ev.reduced);
    if (want[e] > 0) CHECK(fabs(ev.new_lr - want[e]) < 1e-12, "reduce_lr: epoch %d rate %g, want %g", e, ev.new_lr, want[e]);
    if (e == cut) {
      double st[NNRT_CALLBACK_STATE];
      nnrt_callbacks_store(&c, st);
      nnrt_callbacks_init(&c);
      CHECK(nnrt_callbacks_restore(&c, st), "reduce_lr: the stored state is refused");
    }
  }
  CHECK(fabs(c.scale - 0.1) < 1e-12, "reduce_lr: scale %g at the end, want 0.1", c.scale);
}

/* EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.05): the
 * best 0.6 at epoch 1; 0.62 and 0.64 do not beat it by more than 0.05, so
 * it stops after epoch 3. On the loss (downwards) with patience 0, the
 * first epoch that does not improve stops. */
static void test_early(void) {
  NnrtProgram p = {.has_early = true, .early_val = true, .early_metric = NNRT_ACCURACY, .patience = 2, .min_delta = 0.05};
  const double v[] = {0.5, 0.6, 0.62, 0.64, 0.7};
  NnrtCallbacks c;
  nnrt_callbacks_init(&c);
  int stopped = -1;
  for (int e = 0; e < 5 && stopped < 0; e++) {
    double values[3] = {v[e], 0, 0};
    NnrtEvents ev;
    nnrt_callbacks_epoch(&p, &c, e, values, 1.0, &ev);
    CHECK(ev.early_improved == (e < 2), "early stop: epoch %d improved %d", e, ev.early_improved);
    if (ev.stop) stopped = e;
  }
  CHECK(stopped == 3 && c.early_epoch == 1 && c.early_best == 0.6 && c.early_wait == 2,
        "early stop: stopped after epoch %d, best %g at %lld, waited %lld", stopped, c.early_best,
        (long long)c.early_epoch, (long long)c.early_wait);
  NnrtProgram q = {.has_early = true, .early_metric = -1, .patience = 0};
  const double w[] = {1.0, 0.8, 0.81};
  nnrt_callbacks_init(&c);
  stopped = -1;
  for (int e = 0; e < 3 && stopped < 0; e++) {
    double values[3] = {w[e], 0, 0};
    NnrtEvents ev;
    nnrt_callbacks_epoch(&q, &c, e, values, 1.0, &ev);
    if (ev.stop) stopped = e;
  }
  CHECK(stopped == 2, "early stop with patience 0: stopped after epoch %d, want 2", stopped);
  double bad[NNRT_CALLBACK_STATE] = {0, -1, 0, 0, 0, 0, 0, 0 /* a scale of 0 */, 0, -1};
  CHECK(!nnrt_callbacks_restore(&c, bad), "a state with a scale of 0 is accepted");
}

/* The best checkpoint on mae (downwards): improvements at 0, 1 and 3. */
static void test_best(void) {
  NnrtProgram p = {.has_best = true, .best_metric = NNRT_MAE};
  const double v[] = {3, 2, 2, 1.5, 1.7};
  NnrtCallbacks c;
  nnrt_callbacks_init(&c);
  for (int e = 0; e < 5; e++) {
    double values[3] = {0, 0, v[e]};
    NnrtEvents ev;
    nnrt_callbacks_epoch(&p, &c, e, values, 1.0, &ev);
    CHECK(ev.best_improved == (e == 0 || e == 1 || e == 3), "save best: epoch %d improved %d", e, ev.best_improved);
  }
}

/* warmup(2), step(every: 2, factor: 0.5), exponential(rate: 0.5),
 * cosine(epochs: 4, min_lr: 0.1) from 1, worked out by hand. */
static void test_schedules(void) {
  NnrtProgram p = {.nschedules = 4,
                   .schedules = {{NNRT_SCHEDULE_WARMUP, 2, 0}, {NNRT_SCHEDULE_STEP, 2, 0.5},
                                 {NNRT_SCHEDULE_EXPONENTIAL, 0.5, 1}, {NNRT_SCHEDULE_COSINE, 4, 0.1}}};
  const double want[] = {0.5, 0.1 + 0.4 * 0.5 * (1 + sqrt(0.5)), 0.1125, 0.1 - 0.0375 * 0.5 * (1 - sqrt(0.5)), 0.1};
  for (int e = 0; e < 5; e++) {
    double lr = nnrt_schedule_lr(&p, 1.0, e);
    CHECK(fabs(lr - want[e]) < 1e-12, "schedules: epoch %d rate %.17g, want %.17g", e, lr, want[e]);
  }
}

int main(void) {
  for (int cut = -1; cut < 14; cut++) test_reduce(cut);
  test_early();
  test_best();
  test_schedules();
  if (!failures) printf("ok\n");
  return failures != 0;
}
