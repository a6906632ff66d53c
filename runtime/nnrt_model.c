/* nnrt_model.c — a compiled model's API (nnrt_model_*, nnrt.h) as generic
 * functions over the model's NnrtModelDef: instances, checkpoints,
 * parameters by name, checked batches, runs and generation. */
#include "nnrt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Why the last call without an instance failed, kept per thread under a
 * pthread key rather than in thread-local storage: a library nnc builds
 * may be loaded by dlopen, where TLS either uses up the small static
 * space the C library keeps for that (initial-exec) or, as dynamic TLS,
 * trips LeakSanitizer in a sanitized host. The buffer is made on a
 * thread's first such error; when memory runs out, the message is this
 * constant one. */
static char nnrt_no_memory[] = "out of memory";
static pthread_key_t nnrt_error_key;
static pthread_once_t nnrt_error_once = PTHREAD_ONCE_INIT;
static void nnrt_error_free(void *p) {
  if (p != nnrt_no_memory) free(p);
}
static void nnrt_error_key_make(void) { pthread_key_create(&nnrt_error_key, nnrt_error_free); }

/* The calling thread's buffer (of 256 bytes), made when `make`, or NULL. */
static char *thread_error(bool make) {
  pthread_once(&nnrt_error_once, nnrt_error_key_make);
  char *b = pthread_getspecific(nnrt_error_key);
  if ((!b || b == nnrt_no_memory) && make) {
    b = calloc(1, 256);
    pthread_setspecific(nnrt_error_key, b ? b : nnrt_no_memory);
  }
  return b == nnrt_no_memory ? NULL : b;
}

static int model_fail(NnrtModel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int model_fail(NnrtModel *m, const char *fmt, ...) {
  char *to = m ? m->error : thread_error(true);
  if (to) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(to, m ? sizeof m->error : 256, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int model_ok(NnrtModel *m) {
  m->error[0] = '\0';
  return 0;
}

NNRT_API const char *nnrt_model_last_error(const NnrtModel *m) {
  if (m) return m->error;
  pthread_once(&nnrt_error_once, nnrt_error_key_make);
  const char *b = pthread_getspecific(nnrt_error_key);
  return b ? b : "";
}

/* The instance's tensors (count of them) filled from their initializers. */
static void init_tensors(const NnrtModelDef *def, void **t, int from, int to, uint64_t seed) {
  for (int i = from; i < to; i++) {
    const NnrtTensorInfo *ti = &def->tensors[i];
    if (ti->data) {
      memcpy(t[i], ti->data, (size_t)nnrt_tensor_bytes(ti));
      continue;
    }
    int64_t count = nnrt_tensor_bytes(ti) / ti->elem_size;
    uint64_t stream = i < def->nparams ? (uint64_t)i : ((uint64_t)1 << 20) + (uint64_t)(i - def->nparams);
    for (int64_t j = 0; j < count; j++) {
      double v = nnrt_init_value((NnrtInit)ti->init, ti->init_args, ti->dims, ti->rank, seed, stream, (uint64_t)j);
      if (ti->elem_size == 8) ((double *)t[i])[j] = v;
      else ((float *)t[i])[j] = (float)v;
    }
  }
}

NNRT_API NnrtModel *nnrt_model_create(const NnrtModelDef *def, uint64_t seed) {
  if (!def) return model_fail(NULL, "create: no model definition"), NULL;
  NnrtModel *m = calloc(1, sizeof *m);
  int n = def->nparams + def->nstates;
  if (m) m->params = calloc((size_t)n + 1, sizeof(void *));
  if (m && def->kept_bytes > 0) m->kept = nnrt_alloc((size_t)def->kept_bytes); /* zeroed: nothing made yet */
  if (m && def->kept_bytes > 0 && !m->kept) {
    free(m->params);
    m->params = NULL;
  }
  for (int i = 0; m && m->params && i < n; i++)
    if (!(m->params[i] = nnrt_alloc((size_t)nnrt_tensor_bytes(&def->tensors[i])))) {
      model_fail(NULL, "create: out of memory for %s (%lld bytes)", def->tensors[i].name,
                 (long long)nnrt_tensor_bytes(&def->tensors[i]));
      m->def = def;
      nnrt_model_free(m);
      return NULL;
    }
  if (!m || !m->params) {
    if (m) free(m->kept), free(m);
    return model_fail(NULL, "create: out of memory"), NULL;
  }
  m->def = def;
  m->states = m->params + def->nparams;
  m->seed = seed;
  m->sparsity = NAN;
  m->lr = def->base_lr;
  init_tensors(def, m->params, 0, n, seed);
  char *e = thread_error(false);
  if (e) e[0] = '\0';
  return m;
}

NNRT_API void nnrt_model_free(NnrtModel *m) {
  if (!m) return;
  for (int i = 0; m->params && i < m->def->nparams + m->def->nstates; i++) free(m->params[i]);
  free(m->params);
  free(m->ws);
  free(m->stage);
  free(m->kept);
  free(m);
}

NNRT_API void nnrt_model_touch(NnrtModel *m) { m->version++; }

/* The error of a call on a NULL instance. */
#define NEED_MODEL(m, what, ret)                                   \
  do {                                                             \
    if (!(m)) return model_fail(NULL, "%s: no model (NULL)", what), ret; \
  } while (0)

static int save_as(NnrtModel *m, const char *path, bool weights, bool sparse, char *err, size_t errlen) {
  const char *what = sparse ? "save_sparse" : weights ? "save_weights" : "save";
  NEED_MODEL(m, what, -1);
  if (!path) model_fail(m, "%s: no path (NULL)", what);
  else {
    weights = weights || !m->def->run[NNRT_TRAIN]; /* nothing to resume: a model without a training step */
    NnrtMeta meta = {.weights = weights, .sparse = sparse, .step = m->step, .epoch = m->epoch, .position = m->position,
                     .seed = m->seed, .has_seed = true, .nprogress = m->nprogress,
                     .sparsity = m->sparsity};
    memcpy(meta.progress, m->progress, sizeof meta.progress);
    int n = m->def->nparams + m->def->nstates - (weights ? m->def->nslots : 0);
    if (nnrt_save(path, m->def->tensors, m->params, n, &meta, m->error, sizeof m->error)) return model_ok(m);
  }
  if (err && errlen) snprintf(err, errlen, "%s", m->error);
  return -1;
}

NNRT_API int nnrt_model_save(NnrtModel *m, const char *path, char *err, size_t errlen) {
  return save_as(m, path, false, false, err, errlen);
}

NNRT_API int nnrt_model_save_weights(NnrtModel *m, const char *path, char *err, size_t errlen) {
  return save_as(m, path, true, false, err, errlen);
}

NNRT_API int nnrt_model_save_sparse(NnrtModel *m, const char *path, char *err, size_t errlen) {
  return save_as(m, path, true, true, err, errlen);
}

NNRT_API int nnrt_model_load(NnrtModel *m, const char *path, char *err, size_t errlen) {
  NEED_MODEL(m, "load", -1);
  int n = m->def->nparams + m->def->nstates, slots = m->def->nslots;
  NnrtMeta meta;
  /* into new tensors, which replace the instance's only when all is read */
  void **d = path ? calloc((size_t)n + 1, sizeof *d) : NULL;
  bool ok = d != NULL;
  for (int i = 0; ok && i < n; i++) ok = (d[i] = nnrt_alloc((size_t)nnrt_tensor_bytes(&m->def->tensors[i]))) != NULL;
  if (!path) model_fail(m, "load: no path (NULL)");
  else if (!ok) model_fail(m, "%s: out of memory", path);
  else ok = nnrt_load(path, m->def->tensors, d, n, slots, &meta, m->error, sizeof m->error);
  if (ok && meta.weights) init_tensors(m->def, d, n - slots, n, m->seed); /* fresh slots */
  for (int i = 0; d && i < n; i++) {
    void **keep = ok ? &m->params[i] : &d[i];
    free(*keep);
    if (ok) m->params[i] = d[i];
  }
  free(d);
  if (!ok) {
    if (err && errlen) snprintf(err, errlen, "%s", m->error);
    return -1;
  }
  m->step = meta.weights ? 0 : meta.step;
  m->epoch = meta.weights ? 0 : meta.epoch;
  m->position = meta.weights ? 0 : meta.position;
  if (meta.has_seed) m->seed = meta.seed;
  m->sparsity = meta.sparsity;
  m->nprogress = meta.weights ? 0 : meta.nprogress;
  memcpy(m->progress, meta.progress, sizeof m->progress);
  nnrt_model_touch(m);
  return model_ok(m);
}

/* Tensor `name` of exactly `bytes` bytes, or NULL with m's error set. */
static void *model_tensor(NnrtModel *m, const char *what, const char *name, const void *buf, size_t bytes) {
  if (!name || !buf) return model_fail(m, "%s: no %s (NULL)", what, name ? "buffer" : "name"), NULL;
  for (int i = 0; i < m->def->nparams + m->def->nstates; i++) {
    const NnrtTensorInfo *t = &m->def->tensors[i];
    if (strcmp(t->name, name) != 0) continue;
    if ((size_t)nnrt_tensor_bytes(t) == bytes) return m->params[i];
    return model_fail(m, "%s: '%s' has %lld bytes, not %zu", what, name, (long long)nnrt_tensor_bytes(t), bytes), NULL;
  }
  return model_fail(m, "%s: the model has no tensor '%s'", what, name), NULL;
}

NNRT_API int nnrt_model_get_param(NnrtModel *m, const char *name, void *out, size_t bytes) {
  NEED_MODEL(m, "get_param", -1);
  void *p = model_tensor(m, "get_param", name, out, bytes);
  if (!p) return -1;
  memcpy(out, p, bytes);
  return model_ok(m);
}

NNRT_API int nnrt_model_set_param(NnrtModel *m, const char *name, const void *in, size_t bytes) {
  NEED_MODEL(m, "set_param", -1);
  void *p = model_tensor(m, "set_param", name, in, bytes);
  if (!p) return -1;
  memcpy(p, in, bytes);
  nnrt_model_touch(m);
  return model_ok(m);
}

/* ------------------------------------------------- the sample split */

/* A prediction over n samples at T threads (T > 1, n >= T, at least
 * NNRT_SLICE_WORK multiply-adds a slice) of a model whose inference
 * computes each sample from itself alone (the def's sample_split) runs as
 * T slices of the batch in one parallel region: each thread runs the
 * whole forward pass over its samples at 1 thread, in a workspace of its
 * own, with no region inside. Any other batch of under NNRT_TEAM_WORK
 * multiply-adds runs as one slice on the calling thread, so that a small
 * model's prediction enters no region at all: a team's wake-up costs more
 * than a second thread saves there (the seed CNN at batch 1). The other
 * runs split each kernel's rows among threads, a region a kernel. A
 * sample's bits do not depend on the batch around it (the kernels choose
 * their paths by a sample's sizes, and a matrix product's rows come out
 * the same whatever its height), so the slices give the bits of one run.
 * docs/performance.md ("Threads for inference") has the measurements
 * behind the rule.
 *
 * The workspace: the outputs for the n samples, gathered, then each
 * slice's arena at 1 thread for the largest slice, ceil(n / T) samples:
 * per sample what one run takes, plus T times the fixed part and one
 * thread's scratch. */
enum { NNRT_TEAM_WORK = 1 << 24, NNRT_SLICE_WORK = 1 << 20 };

/* The slices of a prediction, or 0 for one run at the instance's threads. */
static int split_parts(const NnrtModelDef *def, int64_t n, int threads) {
#ifdef _OPENMP
  const NnModelDesc *desc = def->desc;
  int t = def->sample_split && def->arena[NNRT_INFER] && desc->ninputs <= 16 && desc->noutputs <= 16
              ? nnrt_threads(threads) : 1;
  if (t <= 1) return 0;
  if (n >= t && def->sample_work >= NNRT_SLICE_WORK * t / n) return t;
  return def->sample_work < NNRT_TEAM_WORK / n ? 1 : 0;
#else
  (void)def, (void)n, (void)threads;
  return 0;
#endif
}

NNRT_API int64_t nnrt_sample_size(const NnTensorDesc *t) {
  int64_t n = 1;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d] < 0 ? 1 : t->dims[d];
  return n;
}

/* The bytes of tensor t for n samples. */
static size_t sample_bytes(const NnTensorDesc *t, int64_t n) {
  return (t->dtype == 1 ? 8 : 4) * (size_t)n * (size_t)nnrt_sample_size(t);
}

/* ----------------------------------------------- the caller's layouts */

/* The axis of t's batch in the caller's layout. */
static int batch_axis(const NnTensorDesc *t) {
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] < 0) return d;
  return 0;
}

/* n samples of t between the caller's layout [A..., n, B...] and the
 * graphs' [n, A..., B...]. */
static void relayout(char *to, const char *from, const NnTensorDesc *t, int64_t n, bool to_caller) {
  int k = batch_axis(t);
  int64_t outer = 1;
  size_t inner = t->dtype == 1 ? 8 : 4;
  for (int d = 0; d < t->rank; d++)
    if (d < k) outer *= t->dims[d];
    else if (d > k) inner *= (size_t)t->dims[d];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t b = 0; b < n; b++) {
      size_t caller = (size_t)(o * n + b) * inner, graph = (size_t)(b * outer + o) * inner;
      memcpy(to + (to_caller ? caller : graph), from + (to_caller ? graph : caller), inner);
    }
}

/* The stage's bytes for a call with inputs and `labelled` outputs' labels:
 * every tensor of those that the caller lays out with the batch elsewhere
 * than first, and the outputs so laid out. */
static size_t stage_bytes(const NnrtModel *m, int nlabels, int64_t n) {
  const NnModelDesc *desc = m->def->desc;
  size_t bytes = 0;
  for (int i = 0; i < desc->ninputs; i++)
    if (batch_axis(&desc->inputs[i])) bytes += nnrt_align(sample_bytes(&desc->inputs[i], n));
  for (int i = 0; i < desc->noutputs; i++)
    bytes += (batch_axis(&desc->outputs[i]) ? nnrt_align(sample_bytes(&desc->outputs[i], n)) : 0) +
             (i < nlabels && batch_axis(&desc->labels[i]) ? nnrt_align(sample_bytes(&desc->labels[i], n)) : 0);
  return bytes;
}

/* The inputs (in[]) and labels (lab[], nlabels of them) of a call as the
 * graphs take them: those the caller lays out with the batch elsewhere
 * copied batch first into the stage, the others as given. False when
 * the stage cannot grow. */
static bool stage_in(NnrtModel *m, const char *what, const void *const *inputs, const void *const *labels,
                     int nlabels, int64_t n, const void **in, const void **lab) {
  const NnModelDesc *desc = m->def->desc;
  for (int i = 0; i < desc->ninputs && i < 16; i++) in[i] = inputs[i];
  for (int i = 0; i < nlabels && i < 16; i++) lab[i] = labels[i];
  size_t need = m->samples_first ? 0 : stage_bytes(m, nlabels, n), at = 0;
  if (need == 0) return true;
  if (need > m->stage_size) {
    char *stage = nnrt_alloc(need);
    if (!stage) return model_fail(m, "%s: out of memory for %zu bytes of re-laid-out inputs", what, need), false;
    free(m->stage);
    m->stage = stage, m->stage_size = need;
  }
  for (int i = 0; i < desc->ninputs && i < 16; i++)
    if (batch_axis(&desc->inputs[i])) {
      relayout(m->stage + at, inputs[i], &desc->inputs[i], n, false);
      in[i] = m->stage + at;
      at += nnrt_align(sample_bytes(&desc->inputs[i], n));
    }
  for (int i = 0; i < nlabels && i < 16; i++)
    if (batch_axis(&desc->labels[i])) {
      relayout(m->stage + at, labels[i], &desc->labels[i], n, false);
      lab[i] = m->stage + at;
      at += nnrt_align(sample_bytes(&desc->labels[i], n));
    }
  return true;
}

/* After a run: the outputs the caller lays out with the batch elsewhere,
 * copied into the end of the stage (that stage_in grew) and m->out
 * pointed there. */
static void stage_out(NnrtModel *m, int64_t n) {
  const NnModelDesc *desc = m->def->desc;
  if (m->samples_first) return;
  size_t at = m->stage_size;
  for (int i = desc->noutputs - 1; i >= 0; i--)
    if (batch_axis(&desc->outputs[i])) {
      at -= nnrt_align(sample_bytes(&desc->outputs[i], n));
      relayout(m->stage + at, m->out[i], &desc->outputs[i], n, true);
      m->out[i] = m->stage + at;
    }
}

/* The gathered outputs' bytes (*gathered) and each slice's (*each). */
static size_t split_bytes(const NnrtModelDef *def, int64_t n, int parts, size_t *gathered, size_t *each) {
  const NnModelDesc *desc = def->desc;
  size_t out = 0;
  for (int i = 0; i < desc->noutputs; i++) out += nnrt_align(sample_bytes(&desc->outputs[i], n));
  *gathered = out;
  *each = nnrt_align(def->arena[NNRT_INFER]((n + parts - 1) / parts, 1));
  if (*each > ((size_t)NNRT_MAX_ARENA - out) / (size_t)parts) return (size_t)NNRT_MAX_ARENA + 1;
  return out + (size_t)parts * *each;
}

/* The workspace a run of graph k over n samples takes at `threads`. */
static size_t run_bytes(const NnrtModelDef *def, int k, int64_t n, int threads) {
  int parts = k == NNRT_INFER ? split_parts(def, n, threads) : 0;
  size_t gathered, each;
  return parts > 0 ? split_bytes(def, n, parts, &gathered, &each) : def->arena[k](n, threads);
}

/* Slice p of `parts`: samples [n p / parts, n (p + 1) / parts) run on
 * this thread in their part of the workspace, their outputs copied into
 * out[i], the gathered ones. */
static void run_slice(const NnrtModel *m, int64_t n, int parts, int p, const void *const *inputs, void *const *out,
                      size_t gathered, size_t each) {
  const NnModelDesc *desc = m->def->desc;
  int64_t lo = n * p / parts, hi = n * (p + 1) / parts;
  NnrtModel s = *m; /* the instance as this slice's: 1 thread, its own workspace and outputs */
  s.threads = 1;
  s.ws = m->ws + gathered + (size_t)p * each;
  s.ws_size = each;
  const void *in[16];
  for (int i = 0; i < desc->ninputs; i++) in[i] = (const char *)inputs[i] + sample_bytes(&desc->inputs[i], lo);
  m->def->run[NNRT_INFER](&s, hi - lo, in, NULL);
  for (int i = 0; i < desc->noutputs; i++)
    memcpy((char *)out[i] + sample_bytes(&desc->outputs[i], lo), s.out[i], sample_bytes(&desc->outputs[i], hi - lo));
}

/* Inference over n samples (the workspace grown by ready), its outputs
 * left in m->out. */
static void infer(NnrtModel *m, int64_t n, const void *const *inputs) {
  const NnrtModelDef *def = m->def;
  const NnModelDesc *desc = def->desc;
  int parts = split_parts(def, n, m->threads);
  if (parts == 0) {
    def->run[NNRT_INFER](m, n, inputs, NULL);
    return;
  }
  size_t gathered, each, at = 0;
  split_bytes(def, n, parts, &gathered, &each);
  void *out[16];
  for (int i = 0; i < desc->noutputs; i++) {
    m->out[i] = out[i] = m->ws + at;
    at += nnrt_align(sample_bytes(&desc->outputs[i], n));
  }
  if (parts == 1) { /* on this thread alone, with no region */
    run_slice(m, n, 1, 0, inputs, out, gathered, each);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(parts)
  for (int p = omp_get_thread_num(); p < parts; p += omp_get_num_threads())
#else
  for (int p = 0; p < parts; p++)
#endif
    run_slice(m, n, parts, p, inputs, out, gathered, each);
}

NNRT_API size_t nnrt_model_arena_bytes(const NnrtModelDef *def, int64_t n, int threads) {
  if (!def || n < 1 || n > def->max_batch || threads < 0 || threads > NNRT_MAX_THREADS) {
    if (!def) model_fail(NULL, "arena_bytes: no model definition");
    else if (threads < 0 || threads > NNRT_MAX_THREADS)
      model_fail(NULL, "arena_bytes: %d threads is outside 0 to %d", threads, NNRT_MAX_THREADS);
    else
      model_fail(NULL, "arena_bytes: a batch of %lld samples is outside 1 to %lld, the most model %s can address",
                 (long long)n, (long long)def->max_batch, def->name);
    return 0;
  }
  size_t most = 0;
  for (int k = 0; k <= NNRT_STEP; k++) {
    size_t bytes = def->arena[k] ? run_bytes(def, k, n, threads) : 0;
    if (bytes > most) most = bytes;
  }
  return most;
}

NNRT_API int nnrt_model_reserve(NnrtModel *m, int k, int64_t n) {
  const NnrtModelDef *def = m->def;
  if (n < 1 || n > def->max_batch)
    return model_fail(m, "a batch of %lld samples is outside 1 to %lld, the most model %s can address", (long long)n,
                      (long long)def->max_batch, def->name);
  size_t need = run_bytes(def, k, n, m->threads);
  if (need <= m->ws_size && m->ws) return 0;
  char *ws = nnrt_alloc(need);
  if (!ws)
    return model_fail(m, "out of memory: a batch of %lld samples needs %zu bytes of workspace", (long long)n, need);
  free(m->ws);
  m->ws = ws;
  m->ws_size = need;
  return 0;
}

/* The labels a caller gives, one per output: the model's labels but the
 * per-sample weights, which the API makes. */
static int output_labels(const NnrtModelDef *def) {
  return def->nlabels - (def->nlabels > 0 && def->label_kind[def->nlabels - 1] == NNRT_LABEL_WEIGHTS);
}

/* Whether label i of a batch holds what output i's loss takes; false
 * with m's error naming the output (when the model has several) and the
 * sample. */
static bool check_label(NnrtModel *m, const char *what, int i, const void *label, int64_t n) {
  const NnrtModelDef *def = m->def;
  const NnModelDesc *desc = def->desc;
  char out[96] = "";
  if (output_labels(def) > 1)
    snprintf(out, sizeof out, " of output %d (%s)", i, i < desc->noutputs ? desc->outputs[i].name : "?");
  if (!label) return model_fail(m, "%s: no label%s (NULL)", what, out), false;
  int kind = def->label_kind[i], dt = def->label_dtype[i];
  int64_t size = def->label_size[i];
  for (int64_t j = 0; j < n * size && kind != NNRT_LABEL_NONE; j++) {
    double y = dt == 2 ? ((const int32_t *)label)[j] : dt == 1 ? ((const double *)label)[j] : ((const float *)label)[j];
    bool ok = kind == NNRT_LABEL_CLASSES
                  ? (y >= 0 && y < (double)def->label_classes[i]) || (def->label_has_ignore[i] && y == (double)def->label_ignore[i])
                  : kind == NNRT_LABEL_UNIT ? y >= 0 && y <= 1 : isfinite(y);
    if (!ok)
      return model_fail(m, "%s: the label%s of sample %lld%s is %g, not %s", what, out, (long long)(j / size),
                        size > 1 ? " (one of its values)" : "", y,
                        kind == NNRT_LABEL_CLASSES ? "a class id of the model's output"
                        : kind == NNRT_LABEL_UNIT ? "in [0, 1] as the loss needs"
                                                  : "a finite number"), false;
  }
  return true;
}

/* Whether the inputs' token ids and, when `labelled`, the labels (one per
 * output with a loss) are ones the model takes; false with m's error
 * naming the input or output and the sample. */
static bool check_batch(NnrtModel *m, const char *what, const void *const *inputs, bool labelled,
                        const void *const *labels, int64_t n) {
  const NnrtModelDef *def = m->def;
  const NnModelDesc *desc = def->desc;
  if (!inputs) return model_fail(m, "%s: no inputs (NULL)", what), false;
  for (int i = 0; i < desc->ninputs; i++) {
    if (!inputs[i]) return model_fail(m, "%s: input %d (%s) is NULL", what, i, desc->inputs[i].name), false;
    if (i >= 16 || def->vocab[i] < 1) continue;
    int64_t per = nnrt_sample_size(&desc->inputs[i]);
    const int32_t *ids = inputs[i];
    for (int64_t j = 0; j < n * per; j++)
      if (ids[j] < 0 || ids[j] >= def->vocab[i])
        return model_fail(m, "%s: input %d (%s), sample %lld, position %lld: the token id %d is outside the "
                          "vocabulary [0, %lld)", what, i, desc->inputs[i].name, (long long)(j / per),
                          (long long)(j % per), ids[j], (long long)def->vocab[i]), false;
  }
  if (!labelled || output_labels(def) == 0) return true;
  if (!labels) return model_fail(m, "%s: no labels (NULL)", what), false;
  for (int i = 0; i < output_labels(def); i++)
    if (!check_label(m, what, i, labels[i], n)) return false;
  return true;
}

/* A forward run's kept transforms: made anew after any change. */
static void fresh_kept(NnrtModel *m) {
  if (m->kept && m->kept_version != m->version) {
    memset(m->kept, 0, (size_t)m->def->kept_bytes);
    m->kept_version = m->version;
  }
}

/* Graph k over a batch: the instance, the graph and the arguments checked,
 * the workspace grown. */
static bool ready(NnrtModel *m, int k, const char *what, const void *const *inputs, const void *const *labels,
                  int64_t n) {
  if (!m) return model_fail(NULL, "%s: no model (NULL)", what), false;
  if (!m->def->run[k]) return model_fail(m, "%s: model %s has no %s graph", what, m->def->name, what), false;
  if (n < 1 || n > m->def->max_batch)
    return model_fail(m, "%s: a batch of %lld samples is outside 1 to %lld, the most model %s can address", what,
                      (long long)n, (long long)m->def->max_batch, m->def->name), false;
  bool labelled = k == NNRT_TRAIN || k == NNRT_EVAL;
  if (!check_batch(m, what, inputs, labelled, labels, n) || nnrt_model_reserve(m, k, n) != 0) return false;
  if (k != NNRT_TRAIN) fresh_kept(m);
  return true;
}

/* The class of sample i's label 0 for class_weight: its id, the index
 * of a one-hot row's 1 (its largest value), or a binary label >= 0.5;
 * -1 for none (an ignored label). */
static int64_t label_class(const NnrtModelDef *def, const void *label, int64_t i) {
  int dt = def->label_dtype[0];
  int64_t size = def->label_size[0], best = 0;
#define NNRT_LABEL_AT(j) (dt == 2 ? (double)((const int32_t *)label)[j] \
                          : dt == 1 ? ((const double *)label)[j] : (double)((const float *)label)[j])
  if (def->label_kind[0] == NNRT_LABEL_CLASSES) {
    double y = NNRT_LABEL_AT(i);
    return y >= 0 && y < (double)def->nclass_weights ? (int64_t)y : -1;
  }
  if (size == 1) return NNRT_LABEL_AT(i) >= 0.5;
  for (int64_t c = 1; c < size; c++)
    if (NNRT_LABEL_AT(i * size + c) > NNRT_LABEL_AT(i * size + best)) best = c;
#undef NNRT_LABEL_AT
  return best;
}

/* A step or an evaluation with one label for every output that has a
 * loss; the one-label functions are this with labels = {label}. A model
 * trained with weights takes them as its last label: sample_weight (or
 * 1), times, in a training step, the class weight of the sample's label. */
static double labelled_run(NnrtModel *m, int k, const char *what, const void *const *inputs,
                           const void *const *labels, const float *sample_weight, int64_t n) {
  if (!ready(m, k, what, inputs, labels, n)) return NAN;
  const NnrtModelDef *def = m->def;
  int nout = output_labels(def);
  const void *in[16], *lab[16];
  if (!stage_in(m, what, inputs, labels, nout, n, in, lab)) return NAN;
  inputs = in, labels = lab;
  if (nout == def->nlabels) {
    if (sample_weight)
      return model_fail(m, "%s: model %s takes no sample weights (its train block has neither sample_weights "
                        "true nor class_weight); pass NULL", what, def->name), NAN;
    if (k == NNRT_TRAIN) m->step++;
    def->run[k](m, n, inputs, labels);
    if (k == NNRT_TRAIN) nnrt_model_touch(m);
    model_ok(m);
    return m->loss;
  }
  for (int64_t i = 0; sample_weight && i < n; i++)
    if (!(sample_weight[i] >= 0) || !isfinite(sample_weight[i]))
      return model_fail(m, "%s: the weight of sample %lld is %g, not a finite number of at least 0", what,
                        (long long)i, sample_weight[i]), NAN;
  float *w = malloc(sizeof(float) * (size_t)n);
  if (!w) return model_fail(m, "%s: out of memory for %lld sample weights", what, (long long)n), NAN;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = k == NNRT_TRAIN && def->nclass_weights > 0 ? label_class(def, labels[0], i) : -1;
    w[i] = (sample_weight ? sample_weight[i] : 1.0f) * (c >= 0 ? (float)def->class_weights[c] : 1.0f);
  }
  const void *all[16] = {0};
  for (int i = 0; i < nout; i++) all[i] = labels[i];
  all[nout] = w;
  if (k == NNRT_TRAIN) m->step++;
  def->run[k](m, n, inputs, all);
  if (k == NNRT_TRAIN) nnrt_model_touch(m);
  free(w);
  model_ok(m);
  return m->loss;
}

/* The one-label functions of a model with several labelled outputs: an
 * error that points to the functions that take them all. */
static bool one_label(NnrtModel *m, const char *what) {
  if (!m || output_labels(m->def) <= 1) return true;
  return model_fail(m, "%s: model %s has %d outputs, each with its label; use %s_outputs", what, m->def->name,
                    output_labels(m->def), what), false;
}

NNRT_API double nnrt_model_train_step(NnrtModel *m, const void *const *inputs, const void *label, int64_t n) {
  const void *labels[1] = {label};
  if (!one_label(m, "train_step")) return NAN;
  return labelled_run(m, NNRT_TRAIN, "train_step", inputs, labels, NULL, n);
}

NNRT_API double nnrt_model_evaluate(NnrtModel *m, const void *const *inputs, const void *label, int64_t n) {
  const void *labels[1] = {label};
  if (!one_label(m, "evaluate")) return NAN;
  return labelled_run(m, NNRT_EVAL, "evaluate", inputs, labels, NULL, n);
}

NNRT_API double nnrt_model_train_step_outputs(NnrtModel *m, const void *const *inputs, const void *const *labels,
                                              const float *sample_weight, int64_t n) {
  return labelled_run(m, NNRT_TRAIN, "train_step_outputs", inputs, labels, sample_weight, n);
}

NNRT_API double nnrt_model_evaluate_outputs(NnrtModel *m, const void *const *inputs, const void *const *labels,
                                            const float *sample_weight, int64_t n) {
  return labelled_run(m, NNRT_EVAL, "evaluate_outputs", inputs, labels, sample_weight, n);
}

NNRT_API const void *nnrt_model_predict(NnrtModel *m, const void *const *inputs, int64_t n) {
  const void *in[16], *none[1];
  if (!ready(m, NNRT_INFER, "predict", inputs, NULL, n) || !stage_in(m, "predict", inputs, NULL, 0, n, in, none))
    return NULL;
  infer(m, n, in);
  stage_out(m, n);
  model_ok(m);
  return m->out[0];
}

/* The bytes of output i for n samples, as the descriptor gives its type. */
static size_t output_bytes(const NnTensorDesc *t, int64_t n) {
  size_t bytes = t->dtype == 1 ? 8 : 4;
  for (int d = 0; d < t->rank; d++) bytes *= (size_t)(t->dims[d] < 0 ? n : t->dims[d]);
  return bytes;
}

NNRT_API int nnrt_model_predict_outputs(NnrtModel *m, const void *const *inputs, void *const *outputs, int64_t n) {
  NEED_MODEL(m, "predict_outputs", -1);
  const NnModelDesc *desc = m->def->desc;
  if (!outputs) return model_fail(m, "predict_outputs: no outputs (NULL)");
  for (int i = 0; i < desc->noutputs; i++)
    if (!outputs[i])
      return model_fail(m, "predict_outputs: the buffer of output %d (%s) is NULL", i, desc->outputs[i].name);
  const void *in[16], *none[1];
  if (!ready(m, NNRT_INFER, "predict_outputs", inputs, NULL, n) ||
      !stage_in(m, "predict_outputs", inputs, NULL, 0, n, in, none))
    return -1;
  infer(m, n, in);
  stage_out(m, n);
  for (int i = 0; i < desc->noutputs; i++) memcpy(outputs[i], m->out[i], output_bytes(&desc->outputs[i], n));
  return model_ok(m);
}

NNRT_API size_t nnrt_model_workspace_bytes(const NnrtModel *m) { return m && m->ws ? m->ws_size : 0; }

NNRT_API int nnrt_model_set_threads(NnrtModel *m, int threads) {
  NEED_MODEL(m, "set_threads", -1);
  if (threads < 0 || threads > NNRT_MAX_THREADS)
    return model_fail(m, "set_threads: %d threads is outside 0 (the default) to %d", threads, NNRT_MAX_THREADS);
  m->threads = threads;
  return model_ok(m);
}

NNRT_API int nnrt_model_set_lr(NnrtModel *m, double lr) {
  NEED_MODEL(m, "set_lr", -1);
  if (!(lr > 0) || !isfinite(lr)) return model_fail(m, "set_lr: the learning rate %g is not a finite number above 0", lr);
  m->lr = lr;
  return model_ok(m);
}

NNRT_API int nnrt_model_set_epoch(NnrtModel *m, int64_t epoch) {
  NEED_MODEL(m, "set_epoch", -1);
  if (epoch < 0) return model_fail(m, "set_epoch: the epoch %lld is below 0", (long long)epoch);
  if (epoch != m->epoch) m->position = 0, m->nprogress = 0;
  m->epoch = epoch;
  return model_ok(m);
}

/* The next token from the scores of the last position fed (`row`, at
 * `at` of it): the most likely at temperature 0, else a draw seeded by
 * (seed, i); s holds the classes' scores. -1 on a NaN score. */
static int32_t next_token(NnrtModel *m, const void *row, int64_t at, double *s, double temperature, uint64_t seed,
                          int64_t i) {
  const NnrtModelDef *def = m->def;
  int64_t classes = def->gen_classes;
  double top = -INFINITY;
  int32_t best = 0;
  for (int64_t c = 0; c < classes; c++) {
    double p = def->gen_dtype == 1 ? ((const double *)row)[at + c] : (double)((const float *)row)[at + c];
    if (isnan(p)) {
      model_fail(m, "generate: the model's score of token %lld at step %lld is nan", (long long)c, (long long)i);
      return -1;
    }
    s[c] = def->gen_probabilities ? log(p > 1e-30 ? p : 1e-30) : p;
    if (s[c] > top) top = s[c], best = (int32_t)c;
  }
  if (temperature > 0) { /* a draw from softmax(s / temperature) */
    double sum = 0, acc = 0;
    for (int64_t c = 0; c < classes; c++) sum += s[c] = exp((s[c] - top) / temperature);
    double u = nnrt_uniform(seed, 0x67656e, (uint64_t)i) * sum;
    for (int64_t c = 0; c < classes; c++) {
      acc += s[c];
      if (u < acc) {
        best = (int32_t)c;
        break;
      }
    }
  }
  return best;
}

/* Generation through the step graph: each token fed once, the loops'
 * states carried from token to token. */
static int generate_carried(NnrtModel *m, const int32_t *prompt, int64_t len, int64_t count, double temperature,
                            uint64_t seed, int32_t *out, double *s) {
  const NnrtModelDef *def = m->def;
  size_t total = 0;
  for (int i = 0; i < def->gen_nstates; i++) total += nnrt_align((size_t)def->gen_state_bytes[i]);
  char *state = nnrt_alloc(total); /* the zero state */
  if (!state) return model_fail(m, "generate: out of memory");
  int32_t token;
  const void *inputs[16] = {&token};
  for (int i = 0, at = 0; i < def->gen_nstates; at += (int)nnrt_align((size_t)def->gen_state_bytes[i]), i++)
    inputs[1 + i] = state + at;
  int rc = nnrt_model_reserve(m, NNRT_STEP, 1);
  fresh_kept(m);
  for (int64_t j = 0, i = 0; i < count && rc == 0; j++) {
    token = j < len ? prompt[j] : out[j - len];
    def->run[NNRT_STEP](m, 1, inputs, NULL);
    for (int k = 0; k < def->gen_nstates; k++)
      memcpy((void *)inputs[1 + k], m->out[1 + k], (size_t)def->gen_state_bytes[k]);
    if (j < len - 1) continue; /* the prompt's tokens but its last only set the state */
    int32_t next = next_token(m, m->out[0], 0, s, temperature, seed, i);
    if (next < 0) rc = -1;
    else out[i++] = next;
  }
  free(state);
  return rc;
}

NNRT_API int nnrt_model_generate(NnrtModel *m, const int32_t *prompt, int64_t len, int64_t count,
                                 double temperature, uint64_t seed, int32_t *out) {
  NEED_MODEL(m, "generate", -1);
  const NnrtModelDef *def = m->def;
  if (def->gen_steps < 1)
    return model_fail(m, "generate: model %s is not a language model (token ids [T] in, scores [T, classes] out)",
                      def->name);
  if (!prompt || len < 1 || count < 0 || (count > 0 && !out) || !(temperature >= 0) || !isfinite(temperature))
    return model_fail(m, "generate: %s", !prompt || len < 1 ? "no prompt (NULL or empty)"
                                         : count < 0 ? "the count is below 0"
                                         : count > 0 && !out ? "no output buffer (NULL)"
                                                             : "the temperature is not a finite number of at least 0");
  for (int64_t i = 0; i < len; i++)
    if (def->vocab[0] > 0 && (prompt[i] < 0 || prompt[i] >= def->vocab[0]))
      return model_fail(m, "generate: prompt[%lld] = %d is outside the vocabulary [0, %lld)", (long long)i, prompt[i],
                        (long long)def->vocab[0]);
  /* a window of the last `steps` tokens; the scores of its last one, s */
  int64_t steps = def->gen_steps, classes = def->gen_classes;
  double *s = nnrt_alloc(sizeof(double) * (size_t)classes + sizeof(int32_t) * (size_t)steps);
  if (!s) return model_fail(m, "generate: out of memory");
  if (def->run[NNRT_STEP]) {
    int rc = generate_carried(m, prompt, len, count, temperature, seed, out, s);
    free(s);
    return rc == 0 ? model_ok(m) : -1;
  }
  int32_t *window = (int32_t *)(s + classes);
  for (int64_t i = 0; i < count; i++) {
    int64_t total = len + i, seen = total < steps ? total : steps;
    for (int64_t j = 0; j < steps; j++) {
      int64_t at = total - seen + j; /* the text so far: prompt, then out */
      window[j] = j >= seen ? 0 : at < len ? prompt[at] : out[at - len];
    }
    const void *inputs[1] = {window};
    const char *row = (const char *)nnrt_model_predict(m, inputs, 1);
    int32_t next = row ? next_token(m, row, (seen - 1) * classes, s, temperature, seed, i) : -1;
    if (next < 0) {
      free(s);
      return -1;
    }
    out[i] = next;
  }
  free(s);
  return model_ok(m);
}

/* ------------------------------------------ looking inside (interpret.md) */

/* Layer `name` of the descriptor, or -1 with m's error listing them. */
static int find_layer(NnrtModel *m, const char *what, const char *name) {
  const NnModelDesc *desc = m->def->desc;
  if (!name) return model_fail(m, "%s: no layer name (NULL)", what);
  for (int i = 0; i < desc->nlayers; i++)
    if (!strcmp(desc->layers[i].name, name)) return i;
  char list[160] = "";
  for (int i = 0, at = 0; i < desc->nlayers && at < (int)sizeof list - 16; i++)
    at += snprintf(list + at, sizeof list - (size_t)at, "%s%s", i ? ", " : "", desc->layers[i].name);
  if (strlen(list) > sizeof list - 20) strcpy(list + sizeof list - 20, ", ...");
  return model_fail(m, "%s: model %s has no layer '%s'; its layers: %s", what, m->def->name, name,
                    desc->nlayers ? list : "none");
}

/* Whether layer t is a feature map [N, H, W, C] of floats (the
 * attribution graph's maps, nnrt.h's NNRT_ATTR). */
static bool feature_map(const NnTensorDesc *t) { return t->dtype != 2 && t->rank == 4 && t->dims[0] < 0; }

NNRT_API int nnrt_model_activation(NnrtModel *m, const void *const *inputs, int64_t n, const char *layer, void *out,
                                   size_t bytes) {
  NEED_MODEL(m, "activation", -1);
  int j = find_layer(m, "activation", layer);
  if (j < 0) return -1;
  const NnTensorDesc *t = &((const NnModelDesc *)m->def->desc)->layers[j];
  const void *in[16], *none[1];
  if (!ready(m, NNRT_LAYERS, "activation", inputs, NULL, n) || !stage_in(m, "activation", inputs, NULL, 0, n, in, none))
    return -1;
  size_t want = sample_bytes(t, t->dims[0] < 0 ? n : 1);
  if (!out || bytes != want)
    return out ? model_fail(m, "activation: layer '%s' of %lld samples takes %zu bytes, not %zu", layer, (long long)n, want,
                            bytes)
               : model_fail(m, "activation: layer '%s': the buffer is NULL", layer);
  m->def->run[NNRT_LAYERS](m, n, in, NULL);
  memcpy(out, m->out[j], want);
  return model_ok(m);
}

/* Element j of a tensor of type dt (0 f32, 1 f64), or 0 from NULL. */
static double elem(const void *p, int dt, int64_t j) {
  return !p ? 0 : dt == 1 ? ((const double *)p)[j] : ((const float *)p)[j];
}
static void set_elem(void *p, int dt, int64_t j, double x) {
  if (dt == 1) ((double *)p)[j] = x;
  else ((float *)p)[j] = (float)x;
}

/* An attribution: the graph run with label w one-hot on each sample's
 * target in output 0 (given, or the largest value when target is NULL:
 * the graph run once with w = 0 to find it). `got` receives the targets. */
typedef struct Attr {
  const void *in[16];
  void *w;          /* n * size values of output 0's type */
  int64_t size;     /* output 0's values a sample */
  int32_t *got;     /* the targets */
} Attr;

static void attr_free(Attr *a) {
  free(a->w);
  free(a->got);
}

static bool attr_begin(NnrtModel *m, const char *what, Attr *a, const void *const *inputs, int64_t n,
                       const int32_t *target) {
  const NnModelDesc *desc;
  const void *none[1];
  *a = (Attr){0};
  if (!ready(m, NNRT_ATTR, what, inputs, NULL, n) || !stage_in(m, what, inputs, NULL, 0, n, a->in, none)) return false;
  desc = m->def->desc;
  a->size = nnrt_sample_size(&desc->outputs[0]);
  size_t elt = desc->outputs[0].dtype == 1 ? 8 : 4;
  a->w = calloc((size_t)(n * a->size), elt);
  a->got = malloc(sizeof(int32_t) * (size_t)n);
  if (!a->w || !a->got) return attr_free(a), model_fail(m, "%s: out of memory", what), false;
  for (int64_t i = 0; i < n; i++) {
    if (target && (target[i] < 0 || target[i] >= a->size))
      return attr_free(a), model_fail(m, "%s: the target of sample %lld is %d, outside 0 to %lld (output %s has "
                                      "%lld values a sample)", what, (long long)i, target[i],
                                      (long long)a->size - 1, desc->outputs[0].name, (long long)a->size), false;
    a->got[i] = target ? target[i] : 0;
  }
  if (!target) { /* each sample's largest value of output 0 */
    const void *lab[1] = {a->w};
    m->def->run[NNRT_ATTR](m, n, a->in, lab);
    for (int64_t i = 0; i < n; i++)
      for (int64_t c = 1; c < a->size; c++) {
        int64_t at = i * a->size;
        int dt = desc->outputs[0].dtype;
        if (elem(m->out[0], dt, at + c) > elem(m->out[0], dt, at + a->got[i])) a->got[i] = (int32_t)c;
      }
  }
  for (int64_t i = 0; i < n; i++) set_elem(a->w, desc->outputs[0].dtype, i * a->size + a->got[i], 1);
  return true;
}

/* The graph run with the targets' one-hot label on inputs `in`. */
static void attr_run(NnrtModel *m, const Attr *a, const void *const *in, int64_t n) {
  const void *lab[1] = {a->w};
  m->def->run[NNRT_ATTR](m, n, in, lab);
}

/* The gradient of input i after attr_run, into `to` in the caller's layout. */
static void input_gradient(const NnrtModel *m, int i, int64_t n, void *to) {
  const NnTensorDesc *t = &((const NnModelDesc *)m->def->desc)->inputs[i];
  if (batch_axis(t) && !m->samples_first) relayout(to, m->out[1 + i], t, n, true);
  else memcpy(to, m->out[1 + i], sample_bytes(t, n));
}

/* Whether out[] asks only floating-point inputs for their gradients. */
static bool gradient_outputs(NnrtModel *m, const char *what, void *const *out) {
  if (!out) return model_fail(m, "%s: no outputs (NULL)", what), false;
  const NnModelDesc *desc = m->def->desc;
  for (int i = 0; i < desc->ninputs; i++)
    if (out[i] && desc->inputs[i].dtype == 2)
      return model_fail(m, "%s: input %d (%s) holds integers (token ids), which have no gradient; pass NULL for it",
                        what, i, desc->inputs[i].name), false;
  return true;
}

NNRT_API int nnrt_model_saliency(NnrtModel *m, const void *const *inputs, int64_t n, const int32_t *target,
                                 void *const *out) {
  NEED_MODEL(m, "saliency", -1);
  Attr a;
  if (!gradient_outputs(m, "saliency", out) || !attr_begin(m, "saliency", &a, inputs, n, target)) return -1;
  attr_run(m, &a, a.in, n);
  for (int i = 0; i < ((const NnModelDesc *)m->def->desc)->ninputs; i++)
    if (out[i]) input_gradient(m, i, n, out[i]);
  attr_free(&a);
  return model_ok(m);
}

NNRT_API int nnrt_model_integrated_gradients(NnrtModel *m, const void *const *inputs, const void *const *baseline,
                                             int64_t n, const int32_t *target, int64_t steps, void *const *out) {
  NEED_MODEL(m, "integrated_gradients", -1);
  const char *what = "integrated_gradients";
  if (steps < 1 || steps > 100000)
    return model_fail(m, "%s: %lld steps is outside 1 to 100000", what, (long long)steps);
  Attr a;
  if (!gradient_outputs(m, what, out) || !attr_begin(m, what, &a, inputs, n, target)) return -1;
  const NnModelDesc *desc = m->def->desc;
  int ni = desc->ninputs;
  void *x[16] = {0}, *g[16] = {0};
  double *acc[16] = {0};
  bool ok = true;
  for (int i = 0; i < ni && ok; i++) {
    if (desc->inputs[i].dtype == 2) continue;
    size_t bytes = sample_bytes(&desc->inputs[i], n), count = (size_t)n * (size_t)nnrt_sample_size(&desc->inputs[i]);
    ok = (x[i] = malloc(bytes)) && (g[i] = malloc(bytes)) && (acc[i] = calloc(count, sizeof(double)));
  }
  for (int64_t k = 1; k <= steps && ok; k++) { /* the right Riemann sum of the path b + s (x - b), s in (0, 1] */
    double s = (double)k / (double)steps;
    const void *at[16] = {0}, *in[16], *none[1];
    for (int i = 0; i < ni; i++) {
      at[i] = x[i] ? x[i] : inputs[i];
      int dt = desc->inputs[i].dtype;
      const void *b = baseline ? baseline[i] : NULL;
      for (int64_t j = 0; x[i] && j < n * nnrt_sample_size(&desc->inputs[i]); j++)
        set_elem(x[i], dt, j, elem(b, dt, j) + s * (elem(inputs[i], dt, j) - elem(b, dt, j)));
    }
    if (!(ok = stage_in(m, what, at, NULL, 0, n, in, none))) break;
    attr_run(m, &a, in, n);
    for (int i = 0; i < ni; i++) {
      if (!x[i] || !out[i]) continue;
      input_gradient(m, i, n, g[i]);
      for (int64_t j = 0; j < n * nnrt_sample_size(&desc->inputs[i]); j++) acc[i][j] += elem(g[i], desc->inputs[i].dtype, j);
    }
  }
  for (int i = 0; i < ni && ok; i++) {
    int dt = desc->inputs[i].dtype;
    const void *b = baseline ? baseline[i] : NULL;
    for (int64_t j = 0; x[i] && out[i] && j < n * nnrt_sample_size(&desc->inputs[i]); j++)
      set_elem(out[i], dt, j, (elem(inputs[i], dt, j) - elem(b, dt, j)) * acc[i][j] / (double)steps);
  }
  for (int i = 0; i < ni; i++) free(x[i]), free(g[i]), free(acc[i]);
  attr_free(&a);
  return ok ? model_ok(m) : (m->error[0] ? -1 : model_fail(m, "%s: out of memory", what));
}

NNRT_API int nnrt_model_gradcam(NnrtModel *m, const void *const *inputs, int64_t n, const char *layer,
                                const int32_t *target, float *out) {
  NEED_MODEL(m, "gradcam", -1);
  const NnModelDesc *desc = m->def->desc;
  int j = find_layer(m, "gradcam", layer), q = 0;
  if (j < 0) return -1;
  const NnTensorDesc *t = &desc->layers[j];
  if (!feature_map(t))
    return model_fail(m, "gradcam: layer '%s' is not a feature map [N, height, width, channels] of floats; Grad-CAM "
                      "weighs the channels of a convolution's output", layer);
  for (int i = 0; i < j; i++) q += feature_map(&desc->layers[i]);
  if (q >= NNRT_MAX_MAPS)
    return model_fail(m, "gradcam: layer '%s' is feature map %d; the attribution graph holds the first %d", layer,
                      q + 1, NNRT_MAX_MAPS);
  if (!out) return model_fail(m, "gradcam: no output buffer (NULL)");
  int64_t H = t->dims[1], W = t->dims[2], C = t->dims[3];
  double *alpha = malloc(sizeof(double) * (size_t)C);
  if (!alpha) return model_fail(m, "gradcam: out of memory");
  Attr a;
  if (!attr_begin(m, "gradcam", &a, inputs, n, target)) return free(alpha), -1;
  attr_run(m, &a, a.in, n);
  const void *A = m->out[1 + desc->ninputs + 2 * q], *dA = m->out[2 + desc->ninputs + 2 * q];
  for (int64_t i = 0; i < n; i++) { /* alpha_c: the mean gradient of channel c; the map: relu(sum_c alpha_c A_c) */
    int64_t base = i * H * W * C;
    for (int64_t c = 0; c < C; c++) alpha[c] = 0;
    for (int64_t p = 0; p < H * W; p++)
      for (int64_t c = 0; c < C; c++) alpha[c] += elem(dA, t->dtype, base + p * C + c) / (double)(H * W);
    for (int64_t p = 0; p < H * W; p++) {
      double sum = 0;
      for (int64_t c = 0; c < C; c++) sum += alpha[c] * elem(A, t->dtype, base + p * C + c);
      out[i * H * W + p] = sum > 0 ? (float)sum : sum <= 0 ? 0.0f : (float)sum; /* NaN stays */
    }
  }
  free(alpha);
  attr_free(&a);
  return model_ok(m);
}
