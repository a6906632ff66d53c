/* nnrt_callbacks.c — the training program's callbacks (see nnrt_program.h):
 * early stopping on a plateau of a monitored figure, reduction of the
 * learning rate on such a plateau, the best checkpoint; their state as the
 * numbers a checkpoint keeps; the rate the schedules give (for the epoch
 * line); and the progress bar drawn within an epoch on a terminal.
 *
 * They follow Keras's EarlyStopping, ReduceLROnPlateau and ModelCheckpoint
 * (save_best_only) with mode "auto": the loss, mse and mae improve
 * downwards, the accuracies, precision and recall upwards. Only programs
 * use this file: nnc copies it into a C file with a main.
 */
#include "nnrt_program.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

NNRT_API bool nnrt_monitor_higher(int metric) {
  return metric != -1 && metric != NNRT_MSE && metric != NNRT_MAE;
}

/* Whether `v` improves on `best` by more than `delta` in the direction of
 * `metric` (the first value always does). */
static bool improves(int metric, bool has, double best, double v, double delta) {
  if (!has) return true;
  return nnrt_monitor_higher(metric) ? v > best + delta : v < best - delta;
}

NNRT_API void nnrt_callbacks_init(NnrtCallbacks *c) {
  memset(c, 0, sizeof *c);
  c->early_epoch = -1;
  c->best_epoch = -1;
  c->scale = 1;
}

/* The order of the numbers in a checkpoint's progress, after the sums. */
NNRT_API void nnrt_callbacks_store(const NnrtCallbacks *c, double *out) {
  double v[NNRT_CALLBACK_STATE] = {
    c->early_best, (double)c->early_epoch, (double)c->early_wait,
    c->reduce_best, (double)c->reduce_has, (double)c->reduce_wait, (double)c->cooldown_left, c->scale,
    c->best, (double)c->best_epoch,
  };
  memcpy(out, v, sizeof v);
}

NNRT_API bool nnrt_callbacks_restore(NnrtCallbacks *c, const double *in) {
  for (int i = 0; i < NNRT_CALLBACK_STATE; i++)
    if (!isfinite(in[i])) return false;
  if (in[1] < -1 || in[2] < 0 || (in[4] != 0 && in[4] != 1) || in[5] < 0 || in[6] < 0 || !(in[7] > 0) ||
      in[9] < -1)
    return false;
  c->early_best = in[0], c->early_epoch = (int64_t)in[1], c->early_wait = (int64_t)in[2];
  c->reduce_best = in[3], c->reduce_has = in[4] != 0, c->reduce_wait = (int64_t)in[5];
  c->cooldown_left = (int64_t)in[6], c->scale = in[7];
  c->best = in[8], c->best_epoch = (int64_t)in[9];
  return true;
}

NNRT_API void nnrt_callbacks_epoch(const NnrtProgram *p, NnrtCallbacks *c, int64_t epoch, const double *values,
                                   double base_lr, NnrtEvents *ev) {
  memset(ev, 0, sizeof *ev);
  if (p->has_early) { /* EarlyStopping */
    double v = values[0];
    c->early_wait++;
    if (improves(p->early_metric, c->early_epoch >= 0, c->early_best, v, p->min_delta)) {
      c->early_best = v, c->early_epoch = epoch, c->early_wait = 0;
      ev->early_improved = true;
    } else if (c->early_wait >= p->patience && epoch > 0) {
      ev->stop = true;
    }
  }
  if (p->has_reduce) { /* ReduceLROnPlateau */
    double v = values[1];
    if (c->cooldown_left > 0) c->cooldown_left--, c->reduce_wait = 0;
    if (improves(p->reduce_metric, c->reduce_has, c->reduce_best, v, p->reduce_min_delta)) {
      c->reduce_best = v, c->reduce_has = true, c->reduce_wait = 0;
    } else if (c->cooldown_left == 0 && ++c->reduce_wait >= p->reduce_patience) {
      double old = base_lr * c->scale;
      if (old > p->min_lr) {
        double lr = old * p->factor > p->min_lr ? old * p->factor : p->min_lr;
        c->scale = lr / base_lr;
        ev->reduced = true, ev->old_lr = old, ev->new_lr = base_lr * c->scale;
        c->cooldown_left = p->cooldown, c->reduce_wait = 0;
      }
    }
  }
  if (p->has_best) { /* ModelCheckpoint(save_best_only=True) */
    double v = values[2];
    if (improves(p->best_metric, c->best_epoch >= 0, c->best, v, 0)) {
      c->best = v, c->best_epoch = epoch;
      ev->best_improved = true;
    }
  }
}

NNRT_API char *nnrt_best_path(const char *path) {
  size_t len = strlen(path) + 6;
  char *b = malloc(len);
  if (b) snprintf(b, len, "%s.best", path);
  else fprintf(stderr, "error: out of memory\n");
  return b;
}

NNRT_API void nnrt_copy_weights(NnrtModel *to, const NnrtModel *from, bool slots) {
  const NnrtModelDef *def = from->def;
  int n = def->nparams + def->nstates - (slots ? 0 : def->nslots);
  for (int i = 0; i < n; i++) memcpy(to->params[i], from->params[i], (size_t)nnrt_tensor_bytes(&def->tensors[i]));
  nnrt_model_touch(to);
}

NNRT_API NnrtModel *nnrt_best_weights(const NnrtProgram *p, const NnrtCallbacks *c, const char *load, uint64_t seed) {
  NnrtModel *best = nnrt_model_create(p->def, seed);
  if (!best) {
    fprintf(stderr, "error: %s\n", nnrt_model_last_error(NULL));
    return NULL;
  }
  if (!load || c->early_epoch < 0) return best;
  char err[1024], *path = nnrt_best_path(load);
  bool ok = path && nnrt_model_load(best, path, err, sizeof err) == 0;
  if (path && !ok)
    fprintf(stderr, "error: %s\nerror: restore_best needs the weights of epoch %lld, which a checkpoint keeps in "
            "FILE.best next to it\n", err, (long long)c->early_epoch + 1);
  else if (ok && best->epoch != c->early_epoch + 1) {
    fprintf(stderr, "error: %s holds the weights of epoch %lld, but %s's best epoch is %lld\n", path,
            (long long)best->epoch, load, (long long)c->early_epoch + 1);
    ok = false;
  }
  free(path);
  if (!ok) nnrt_model_free(best);
  return ok ? best : NULL;
}

/* As compiler/train.c's learning_rate, in double. */
NNRT_API double nnrt_schedule_lr(const NnrtProgram *p, double lr, int64_t epoch) {
  double e = (double)epoch;
  for (int i = 0; i < p->nschedules; i++) {
    double a = p->schedules[i].a, b = p->schedules[i].b;
    switch (p->schedules[i].kind) {
    case NNRT_SCHEDULE_STEP: lr *= pow(b, floor(e / a)); break;
    case NNRT_SCHEDULE_EXPONENTIAL: lr *= pow(a, e / b); break;
    case NNRT_SCHEDULE_COSINE: lr = b + (lr - b) * 0.5 * (1 + cos((e < a ? e : a) / a * 3.14159265358979323846)); break;
    default: lr *= 1 < (e + 1) / a ? 1 : (e + 1) / a; break;
    }
  }
  return lr;
}

/* "1m05s", "3.2s" */
static void duration(char *buf, size_t cap, double s) {
  if (s < 60) snprintf(buf, cap, "%.1fs", s);
  else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

NNRT_API void nnrt_progress_bar(int64_t done, int64_t total, double eta_seconds, double loss) {
  char eta[32];
  int width = 30, filled = total > 0 ? (int)(width * done / total) : width;
  duration(eta, sizeof eta, eta_seconds);
  printf("\r%lld/%lld [", (long long)done, (long long)total);
  for (int i = 0; i < width; i++) putchar(i < filled ? '=' : i == filled ? '>' : '.');
  printf("] - ETA %s - loss: %.4f\033[K", eta, loss);
  fflush(stdout);
}
