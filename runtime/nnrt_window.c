/* nnrt_window.c — convolution and pooling over NHWC images (nnrt.h):
 * im2col and a product for the convolutions, a pass over each window for
 * pooling. The kernels are written once, in nnrt_window.inc, and included
 * here for float (f32) and double (f64). Needs the GEMM (nnrt_gemm.c). */
#include "nnrt.h"

#include <string.h>

/* The pieces that differ by type: the product with one signature (the
 * double one packs nothing), and the scratch one single-thread product
 * packs in. */
static void nnrt_gemm_f32(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                          int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                          bool add, float *pack, const NnrtEpilogue *epi) {
  nnrt_sgemm(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, pack, epi);
}

static void nnrt_gemm_f64(int nt, int64_t M, int64_t N, int64_t K, const double *A, int64_t ars,
                          int64_t acs, const double *B, int64_t brs, int64_t bcs, double *C, int64_t ldc,
                          bool add, double *pack, const NnrtEpilogue *epi) {
  (void)pack;
  nnrt_dgemm(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, epi);
}

/* the float convolution without the column matrix where it applies
 * (nnrt_conv.c: Winograd's, else the direct one), in the scratch the
 * column matrix's path would take */
static bool nnrt_direct_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *w, float *y,
                            float *scratch, const NnrtEpilogue *epi, void *kept) {
  /* the scratch of the whole batch (a band of it: nnrt_conv2d_pool_f32) */
  const int64_t R = g->kh * g->kw * (g->c / g->groups), nd = g->batch ? g->batch : n;
  const int64_t cols = (nd < g->chunk ? nd : g->chunk) * g->oh * g->ow * R;
  /* Winograd's in the scratch one thread's product would take, so that
   * whether it runs does not depend on the thread count */
  return nnrt_conv2d_winograd_f32(nt, n, g, x, w, y, scratch, (size_t)cols + nnrt_sgemm_scratch(1), epi, kept) ||
         nnrt_conv2d_direct_f32(nt, n, g, x, w, y, scratch, (size_t)cols + nnrt_sgemm_scratch(nt), epi);
}

static bool nnrt_direct_f64(int nt, int64_t n, const NnrtWindow *g, const double *x, const double *w, double *y,
                            double *scratch, const NnrtEpilogue *epi, void *kept) {
  (void)nt, (void)n, (void)g, (void)x, (void)w, (void)y, (void)scratch, (void)epi, (void)kept;
  return false;
}

static bool nnrt_direct_bx_f32(int nt, int64_t n, const NnrtWindow *g, const float *dy, const float *w, float *dx,
                               float *scratch, const NnrtEpilogue *epi) {
  const int64_t R = g->kh * g->kw * (g->c / g->groups), cols = (n < g->chunk ? n : g->chunk) * g->oh * g->ow * R;
  return nnrt_conv2d_direct_bx_f32(nt, n, g, dy, w, dx, scratch, (size_t)cols + nnrt_sgemm_scratch(nt), epi);
}

static bool nnrt_direct_bx_f64(int nt, int64_t n, const NnrtWindow *g, const double *dy, const double *w,
                               double *dx, double *scratch, const NnrtEpilogue *epi) {
  (void)nt, (void)n, (void)g, (void)dy, (void)w, (void)dx, (void)scratch, (void)epi;
  return false;
}

static bool nnrt_direct_bw_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *dy,
                               float *part, float *cols, int64_t ncols) {
  return nnrt_conv2d_direct_bw_f32(nt, n, g, x, dy, part, cols, (size_t)ncols);
}

static bool nnrt_direct_bw_f64(int nt, int64_t n, const NnrtWindow *g, const double *x, const double *dy,
                               double *part, double *cols, int64_t ncols) {
  (void)nt, (void)n, (void)g, (void)x, (void)dy, (void)part, (void)cols, (void)ncols;
  return false;
}

static int64_t nnrt_pack1_f32(void) { return (int64_t)nnrt_sgemm_scratch(1); }
static int64_t nnrt_pack1_f64(void) { return 0; }

/* An epilogue for a product on a block of a larger result: the block's
 * coordinates moved by its origin (r, c), then the result's epilogue,
 * which takes absolute coordinates (nnrt.h). */
typedef struct NnrtShift {
  const NnrtEpilogue *epi;
  int64_t r, c;
} NnrtShift;

static void nnrt_shifted(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const NnrtShift *s = ctx;
  s->epi->fn(s->epi->ctx, s->r + r0, s->r + r1, s->c + c0, s->c + c1);
}

/* The pieces of the kernels, inlined into them whatever a compiler's
 * heuristics say: inlined in turn where the geometry is a constant
 * (NNRT_WINDOW_API, nnrt.h), they specialize for it. */
#define NNRT_INLINE static inline __attribute__((always_inline))

/* Their parallel loops: the statements run for [lo, hi), a contiguous
 * part of [0, count) for each of `parts` threads (one part: all of it,
 * without entering a parallel region). A plain parallel region with the
 * parts worked out here, not a worksharing loop: LLVM's OpenMP library
 * allocates memory each time a thread starts a worksharing loop, so a
 * step of a model built by the LLVM backend would allocate. */
#ifdef _OPENMP
#define NNRT_RANGES(parts, count, lo, hi, ...)                                 \
  {                                                                            \
    const int64_t parts_ = (parts), count_ = (count);                          \
    if (parts_ <= 1) {                                                         \
      const int64_t lo = 0, hi = count_;                                       \
      __VA_ARGS__                                                              \
    } else {                                                                   \
      NNRT_PRAGMA(omp parallel num_threads((int)parts_))                       \
      {                                                                        \
        const int64_t t_ = omp_get_thread_num(), n_ = omp_get_num_threads();   \
        const int64_t lo = count_ * t_ / n_, hi = count_ * (t_ + 1) / n_;      \
        __VA_ARGS__                                                            \
      }                                                                        \
    }                                                                          \
  }
#else
#define NNRT_RANGES(parts, count, lo, hi, ...) \
  {                                            \
    const int64_t lo = 0, hi = (count);        \
    (void)(parts);                             \
    __VA_ARGS__                                \
  }
#endif

/* the kernels for each element type T, named with NNRT_S(name) */
#define NNRT_CAT_(a, b) a##b
#define NNRT_CAT(a, b) NNRT_CAT_(a, b)
#define NNRT_S(name) NNRT_CAT(name, NNRT_SUFFIX)
#define T float
#define NNRT_SUFFIX f32
#include "nnrt_window.inc"
#undef T
#undef NNRT_SUFFIX
#define T double
#define NNRT_SUFFIX f64
#include "nnrt_window.inc"
#undef T
#undef NNRT_SUFFIX
#undef NNRT_S

NNRT_WINDOW_API void nnrt_conv2d_kept_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *w,
                                          float *y, float *scratch, const NnrtEpilogue *epi, void *kept) {
  nnrt_conv2d_at_f32(nt, n, g, x, w, y, scratch, epi, kept);
}
#undef NNRT_CAT
#undef NNRT_CAT_
#undef NNRT_RANGES
#undef NNRT_INLINE
