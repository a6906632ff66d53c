/* nnrt.c — the runtime's common part (see nnrt.h): the parallel-for and
 * thread counts, scalar functions, aligned memory, and errors with a path.
 * Plain C11 and libm. The other parts, each a seam of its own: random
 * numbers and initializers (nnrt_random.c), the GEMM (nnrt_gemm.c),
 * convolution and pooling (nnrt_window.c), checkpoints
 * (nnrt_checkpoint.c), the model API (nnrt_model.c); a program's data
 * readers (nnrt_data.c) and training driver (nnrt_program.c). */
#include "nnrt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --------------------------------------------------------- functions */

#ifdef _OPENMP
#include <stdatomic.h>

/* LLVM's OpenMP runtime (libomp, which the LLVM backend's libraries link)
 * keeps a team's threads spinning for 200 ms after each region: on a
 * loaded host those spinning threads lose the scheduler's favour, to the
 * point where a 2-thread training step of the seed CNN ran slower than a
 * 1-thread one (a median 95 against 61 ms), and more than twice as fast
 * (25 ms) when they sleep at once (docs/performance.md). So the first
 * call in a process asks libomp for that, and each application thread's
 * first for the teams it starts, unless the environment chose
 * (KMP_BLOCKTIME, OMP_WAIT_POLICY). GCC's libgomp has no such calls:
 * there only the environment sets it. */
extern void kmp_set_defaults(const char *settings) __attribute__((weak));
extern void kmp_set_blocktime(int msec) __attribute__((weak));
static void nnrt_wait_policy(void) {
  static atomic_int chosen; /* 0: not yet known, 1: ours, 2: the environment's or no libomp */
  static _Thread_local bool asked;
  if (asked) return;
  asked = true;
  int c = atomic_load(&chosen);
  if (!c) {
    c = kmp_set_defaults && kmp_set_blocktime && !getenv("KMP_BLOCKTIME") && !getenv("OMP_WAIT_POLICY") ? 1 : 2;
    int none = 0;
    if (atomic_compare_exchange_strong(&chosen, &none, c) && c == 1)
      kmp_set_defaults("KMP_BLOCKTIME=0"); /* for the threads libomp starts */
  }
  if (c == 1) kmp_set_blocktime(0); /* for the teams this thread starts */
}
#endif

NNRT_API int nnrt_threads(int nt) {
#ifdef _OPENMP
  nnrt_wait_policy();
  return nt > 0 ? nt : omp_get_max_threads();
#else
  return nt > 0 ? nt : 1;
#endif
}

NNRT_API int nnrt_isa(void) {
  static int chosen = -1;
  if (chosen < 0) {
    int isa = NNRT_ISA_GENERIC;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      isa = NNRT_ISA_AVX2;
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512vl"))
        isa = NNRT_ISA_AVX512;
    }
    const char *want = getenv("NNRT_ISA");
    if (want && !strcmp(want, "generic")) isa = NNRT_ISA_GENERIC;
    if (want && !strcmp(want, "avx2") && isa > NNRT_ISA_AVX2) isa = NNRT_ISA_AVX2;
#endif
    chosen = isa; /* threads that race here store the same value */
  }
  return chosen;
}

NNRT_API int64_t nnrt_parts(int nt, int64_t work, int64_t most) {
  int64_t p = work >= 32768 ? nnrt_threads(nt) : 1;
  return p < most ? p : most < 1 ? 1 : most;
}

NNRT_API void nnrt_parallel_for(int nt, int64_t work, int64_t count,
                                void (*body)(const void *ctx, int64_t lo, int64_t hi), const void *ctx) {
#ifdef _OPENMP
  if (count > 1 && !NNRT_SERIAL(nt, work)) {
    int threads = nnrt_threads(nt);
#pragma omp parallel num_threads(threads)
    {
      int64_t t = omp_get_thread_num(), parts = omp_get_num_threads();
      int64_t lo = count * t / parts, hi = count * (t + 1) / parts;
      if (lo < hi) body(ctx, lo, hi);
    }
    return;
  }
#else
  (void)nt, (void)work;
#endif
  body(ctx, 0, count);
}

static void epilogue_rows_body(const void *ctx, int64_t lo, int64_t hi) {
  const NnrtEpilogue *epi = ((const NnrtEpilogue *const *)ctx)[0];
  int64_t cols = ((const int64_t *)ctx)[1];
  epi->fn(epi->ctx, lo, hi, 0, cols);
}

NNRT_API void nnrt_epilogue_rows(int nt, int64_t rows, int64_t cols, const NnrtEpilogue *epi) {
  const void *ctx[2];
  ctx[0] = epi;
  memcpy(&ctx[1], &cols, sizeof cols);
  nnrt_parallel_for(nt, rows * cols, rows, epilogue_rows_body, ctx);
}

NNRT_API double nnrt_sigmoid(double x) {
  return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

/* ------------------------------------------------------------- memory */

NNRT_API size_t nnrt_align(size_t bytes) { return (bytes + 63) / 64 * 64; }

NNRT_API void *nnrt_alloc(size_t bytes) {
  if (bytes > (size_t)NNRT_MAX_ARENA) return NULL;
  void *p = aligned_alloc(64, nnrt_align(bytes ? bytes : 1));
  if (p) memset(p, 0, nnrt_align(bytes ? bytes : 1));
  return p;
}

NNRT_API void nnrt_store_f32(float *restrict dst, const float *restrict src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = nnrt_flush_f32(src[i]);
}

/* --------------------------------------------------------------- scans */

static int64_t scan_rows(const int64_t *part, int64_t n) { return part[0] * (part[1] ? n : 1); }
static int64_t scan_row(const int64_t *part, int64_t n) { return part[2] * (part[3] ? n : 1); }

NNRT_API size_t nnrt_scan_scratch(const int64_t *d, int64_t n) {
  const int64_t *part = d + 13;
  size_t bytes = nnrt_align((size_t)d[6]);
  for (int64_t i = 0; i < d[2] + d[3]; i++) /* two buffers a carry, one a sequence's slice */
    bytes += (i < d[2] ? 2 : 1) * nnrt_align((size_t)(scan_rows(part + 4 * i, n) * scan_row(part + 4 * i, n)));
  return bytes;
}

/* Step t's slice of a stacked tensor, to (get) or from a buffer (zeros
 * where buf is NULL); whole at t when the tensor is stored step by step. */
static void scan_slice(const int64_t *part, int64_t n, int64_t steps, int64_t t, char *stacked, char *buf, bool get,
                       bool by_step) {
  int64_t rows = scan_rows(part, n), row = scan_row(part, n);
  if (by_step) row *= rows, steps = 1, stacked += t * row, t = 0, rows = 1;
  for (int64_t r = 0; r < rows; r++) {
    char *at = stacked + (r * steps + t) * row;
    if (get) memcpy(buf + r * row, at, (size_t)row);
    else if (buf) memcpy(at, buf + r * row, (size_t)row);
    else memset(at, 0, (size_t)row);
  }
}

/* Whether a step's slice of the skip sequence (floats of `bytes` bytes)
 * is 0 throughout. */
static bool skipped(const int64_t *part, int64_t n, int64_t bytes, const void *slice) {
  int64_t count = scan_rows(part, n) * scan_row(part, n) / bytes;
  for (int64_t i = 0; i < count; i++)
    if (bytes == 4 ? ((const float *)slice)[i] != 0 : ((const double *)slice)[i] != 0) return false;
  return true;
}

NNRT_API void nnrt_scan(const int64_t *d, NnrtModel *m, int64_t n, void *const *res, const void *const *ops, char *s,
                        NnrtRunFn *step) {
  int64_t steps = d[0], k = d[2], ms = d[3], p = d[4], q = d[5];
  const int64_t *part = d + 13, *repeat = part + 4 * (k + ms + q);
#define BY_STEP(i) ((uint64_t)d[12] >> (i) & 1)
  char *kept = s;
  memset(kept, 0, (size_t)d[6]);
  s += nnrt_align((size_t)d[6]);
  char *cur[16], *next[16], *staged[16];
  const void *in[16];
  size_t size[16];
  for (int64_t i = 0; i < k + ms; i++) {
    size[i] = (size_t)(scan_rows(part + 4 * i, n) * scan_row(part + 4 * i, n));
    if (i < k) {
      cur[i] = s, s += nnrt_align(size[i]);
      next[i] = s, s += nnrt_align(size[i]);
      memcpy(cur[i], ops[i], size[i]);
    } else {
      staged[i - k] = s, s += nnrt_align(size[i]);
    }
  }
  for (int64_t i = 0; i < p; i++) in[k + ms + i] = ops[k + ms + i];
  NnrtModel body = *m;
  body.ws = s, body.kept = d[6] ? kept : NULL;
  for (int64_t u = 0; u < steps; u++) {
    int64_t t = d[1] ? steps - 1 - u : u;
    for (int64_t i = 0; i < k; i++) {
      if (res[k + q + i]) scan_slice(part + 4 * i, n, steps, t, res[k + q + i], cur[i], false, BY_STEP(i));
      in[i] = cur[i];
    }
    for (int64_t j = 0; j < ms; j++) {
      const int64_t *pj = part + 4 * (k + j);
      if (scan_rows(pj, n) == 1 || BY_STEP(k + j)) {
        in[k + j] = (const char *)ops[k + j] + t * scan_rows(pj, n) * scan_row(pj, n);
      } else {
        scan_slice(pj, n, steps, t, (char *)ops[k + j], staged[j], true, false);
        in[k + j] = staged[j];
      }
    }
    if (d[9] >= 0 && skipped(part + 4 * (k + d[9]), n, d[10], in[k + d[9]])) {
      for (int64_t j = 0; j < ms; j++) { /* the carries stay, but for the slices added to them */
        int64_t c = (int64_t)((uint64_t)d[11] >> (4 * j) & 15) - 1;
        for (size_t e = 0; c >= 0 && e < size[c] / (size_t)d[10]; e++)
          if (d[10] == 4) ((float *)cur[c])[e] = ((float *)cur[c])[e] + ((const float *)in[k + j])[e];
          else ((double *)cur[c])[e] = ((double *)cur[c])[e] + ((const double *)in[k + j])[e];
      }
      for (int64_t l = 0; l < q; l++) /* a result repeats its carry, or is 0 */
        if (res[k + l])
          scan_slice(part + 4 * (k + ms + l), n, steps, t, res[k + l], repeat[l] >= 0 ? cur[repeat[l]] : NULL, false,
                     BY_STEP(k + ms + l));
      continue;
    }
    step(&body, n, in, NULL);
    for (int64_t i = 0; i < k; i++) {
      if (d[7] >> i & 1) {
        float *c = (float *)cur[i];
        const float *x = body.out[i];
        for (size_t j = 0; j < size[i] / sizeof(float); j++) c[j] = c[j] + x[j];
      } else if (d[8] >> i & 1) {
        double *c = (double *)cur[i];
        const double *x = body.out[i];
        for (size_t j = 0; j < size[i] / sizeof(double); j++) c[j] = c[j] + x[j];
      } else {
        memcpy(next[i], body.out[i], size[i]);
        char *was = cur[i];
        cur[i] = next[i], next[i] = was;
      }
    }
    for (int64_t l = 0; l < q; l++)
      if (res[k + l])
        scan_slice(part + 4 * (k + ms + l), n, steps, t, res[k + l], (char *)body.out[k + l], false, BY_STEP(k + ms + l));
  }
  for (int64_t i = 0; i < k; i++)
    if (res[i]) memcpy(res[i], cur[i], size[i]);
#undef BY_STEP
}

/* ------------------------------------------------------------- errors */

NNRT_API bool nnrt_error(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = path ? snprintf(err, errlen, "%s: ", path) : 0;
  if (k >= 0 && (size_t)k < errlen) vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
  va_end(ap);
  return false;
}

NNRT_API FILE *nnrt_open_regular(const char *path, char *err, size_t errlen) {
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    nnrt_error(err, errlen, path, "cannot open: %s", strerror(errno));
    return NULL;
  }
  struct stat st;
  int flags = fcntl(fd, F_GETFL);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    nnrt_error(err, errlen, path, "%s", S_ISDIR(st.st_mode) ? "is a directory, not a file"
                                     : "is not a regular file (a FIFO, a socket or a device)");
    close(fd);
    return NULL;
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    nnrt_error(err, errlen, path, "cannot open: %s", strerror(errno));
    close(fd);
  }
  return f;
}
