/* nnrt.h — the runtime that compiled nnc models use (C11).
 *
 * Small on purpose: counter-based random numbers, parameter initializers,
 * the scalar functions generated code calls, a CSV reader with positioned
 * errors, shuffling, the training loop's progress line, and a compiled
 * model's API (create, checkpoints, steps, generation) as generic
 * functions over a per-model table (NnrtModelDef). It is implemented in
 * parts, one a seam (runtime/README.md): nnrt.c, nnrt_random.c,
 * nnrt_gemm.c, nnrt_window.c, nnrt_checkpoint.c, nnrt_model.c. The
 * standalone C file nnc writes includes this header and the parts it
 * calls inline, so it builds with `cc -O2 train.c -o train -lm` and
 * nothing else. The compiler's reference evaluator uses the same
 * functions, so a seed gives the same numbers in both.
 */
#ifndef NNRT_H
#define NNRT_H

/* Linkage of the runtime's functions: the standalone C files nnc writes
 * define NNRT_API as static, so several compiled models link into one
 * program without clashing. Such a file carries only the parts it calls,
 * and leaves out the declarations of the others with NNRT_NO_GEMM (the
 * products), NNRT_NO_QGEMM (the int8 product) and NNRT_NO_WINDOW
 * (convolution and pooling). */
#ifndef NNRT_API
#define NNRT_API
#endif
/* The header's small inline helpers: unused ones draw no warning where a
 * standalone file carries them in place (clang's -Wunused-function). */
#if defined(__GNUC__)
#define NNRT_HELPER static inline __attribute__((unused))
#else
#define NNRT_HELPER static inline
#endif

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Philox4x32-10: 64 random bits for (seed, stream, counter). */
NNRT_API uint64_t nnrt_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
/* Uniform in [0, 1) with 53 random bits. */
NNRT_API double nnrt_uniform(uint64_t seed, uint64_t stream, uint64_t counter);
/* Standard normal, Box-Muller over two uniforms (counters 2i and 2i+1). */
NNRT_API double nnrt_normal(uint64_t seed, uint64_t stream, uint64_t i);

/* Initializers, by the names of the .nn language. */
typedef enum {
  NNRT_ZEROS, NNRT_ONES, NNRT_CONSTANT, NNRT_UNIFORM, NNRT_NORMAL,
  NNRT_GLOROT_UNIFORM, NNRT_GLOROT_NORMAL, NNRT_HE_UNIFORM, NNRT_HE_NORMAL,
  NNRT_LECUN_UNIFORM, NNRT_LECUN_NORMAL,
} NnrtInit;
NNRT_API int nnrt_init_from_name(const char *name);   /* -1 when unknown */
/* Element i of a tensor of shape dims[rank] filled by `init` (args: the
 * constant, uniform's low/high or normal's mean/stddev). */
NNRT_API double nnrt_init_value(NnrtInit init, const double *args, const int64_t *dims, int rank,
                       uint64_t seed, uint64_t stream, uint64_t i);

/* Parallel loops for generated code: NNRT_PARFOR(nt, work, loops) splits
 * the outer loop among nt threads (nt <= 0: OpenMP's default) when the
 * work is large enough to pay for waking them, and otherwise runs the
 * loops as they are, without entering an OpenMP region (which costs near
 * half a microsecond even when it runs on one thread). NNRT_PARFOR2 splits
 * two collapsed loops; NNRT_PARALLEL(parts, loop) one iteration a thread.
 * Every output element is computed by one thread in a fixed order, so
 * results do not depend on the thread count. Without OpenMP (no
 * -fopenmp) the loops run serially. */
#ifdef _OPENMP
#include <omp.h>
#define NNRT_PRAGMA(x) _Pragma(#x)
#define NNRT_SERIAL(nt, work) ((work) < 32768 || nnrt_threads(nt) == 1)
/* the loops as they are when `serial`, else under `omp parallel for clauses` */
#define NNRT_SPLIT(serial, clauses, ...)                       \
  {                                                            \
    if (serial) {                                              \
      __VA_ARGS__                                              \
    } else {                                                   \
      NNRT_PRAGMA(omp parallel for clauses)                    \
      __VA_ARGS__                                              \
    }                                                          \
  }
#define NNRT_PARFOR(nt, work, ...) \
  NNRT_SPLIT(NNRT_SERIAL(nt, work), num_threads(nnrt_threads(nt)) schedule(static), __VA_ARGS__)
#define NNRT_PARFOR2(nt, work, ...) \
  NNRT_SPLIT(NNRT_SERIAL(nt, work), collapse(2) num_threads(nnrt_threads(nt)) schedule(static), __VA_ARGS__)
#define NNRT_PARALLEL(parts, ...) \
  NNRT_SPLIT((parts) <= 1, num_threads((int)(parts)) schedule(static, 1), __VA_ARGS__)
#else
#define NNRT_PARFOR(nt, work, ...) { __VA_ARGS__ }
#define NNRT_PARFOR2(nt, work, ...) { __VA_ARGS__ }
#define NNRT_PARALLEL(parts, ...) { __VA_ARGS__ }
#endif
NNRT_API int nnrt_threads(int nt);   /* nt, or the default for nt <= 0 */
/* The instruction-set level this processor runs, chosen once: the GEMM's
 * micro-kernel and the generated kernels' copy (docs/performance.md,
 * "Target") follow it. AVX-512 means AVX-512 F, BW, CD, DQ and VL with
 * AVX2 and FMA; AVX2 means AVX2 and FMA; NNRT_ISA=avx2|generic narrows
 * the choice (for comparisons and tests). Always generic off x86-64. */
enum { NNRT_ISA_GENERIC, NNRT_ISA_AVX2, NNRT_ISA_AVX512 };
NNRT_API int nnrt_isa(void);
/* How many parts to split `work` into for NNRT_PARALLEL: one per thread
 * when the work pays for waking them, never more than `most`. */
NNRT_API int64_t nnrt_parts(int nt, int64_t work, int64_t most);

/* Whether x replaces m as a running maximum (max over axes, argmax, max
 * pooling, in the evaluator, generated C and the runtime): a greater
 * number, or the first NaN, which then stays, so that a NaN anywhere gives
 * NaN; among equal numbers the first stays. */
#define NNRT_MORE(x, m) ((x) > (m) || ((x) != (x) && (m) == (m)))

/* The same for code that cannot use the pragmas (the LLVM backend):
 * body(ctx, lo, hi) over [0, count) in parts, one a thread, or over all
 * of it at once when the work is small or one thread runs. */
NNRT_API void nnrt_parallel_for(int nt, int64_t work, int64_t count,
                                void (*body)(const void *ctx, int64_t lo, int64_t hi), const void *ctx);

/* Matrix products for generated code: C[M x N] = A[M x K] B[K x N], plus
 * C when `add`; A(i, p) is A[i * ars + p * acs], B(p, j) is
 * B[p * brs + j * bcs], C is row-major with row stride ldc. Each element
 * sums its products in an order fixed by K alone, whatever the thread
 * count. The float version is blocked and vectorized (AVX2+FMA where the
 * code is compiled for it) and needs nnrt_sgemm_scratch(nt) floats of
 * scratch. An epilogue (or NULL) is called on each block of C, rows
 * [r0, r1) and columns [c0, c1), as soon as the block is final, by the
 * thread that computed it, while the block is still in cache: the
 * elementwise work that follows a product (a bias, an activation, an
 * optimizer update) runs without another pass over memory.
 *
 * The GEMM passes coordinates within its own C. The epilogues nnc
 * generates expect ABSOLUTE coordinates in the whole result of their
 * kernel, seen as a matrix whose columns are its last axis and whose rows
 * are all other axes flattened (element (r, c) at r * cols + c; a scalar
 * is one row of one column): whoever runs a product on a part of a larger
 * result shifts the coordinates first, as the convolutions below do. Their
 * context keeps `cols`, the length of the last axis, itself. */
typedef struct NnrtEpilogue {
  void (*fn)(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1);
  const void *ctx;
} NnrtEpilogue;
/* An epilogue over a whole result of rows x cols, rows split among threads. */
NNRT_API void nnrt_epilogue_rows(int nt, int64_t rows, int64_t cols, const NnrtEpilogue *epi);
#ifndef NNRT_NO_GEMM
NNRT_API size_t nnrt_sgemm_scratch(int nt);
/* the columns of the float product's micro-kernel: 32 (AVX-512), 16 (AVX2), 8 */
NNRT_API int nnrt_sgemm_nr(void);
/* nnrt_sgemm with B's packed panels kept in `kept` (a slot of
 * nnrt_sgemm_kept_bytes(K, N) bytes that an instance zeroes when its
 * parameters change: NnrtModel): packed there by the first product that
 * packs and read by the later ones, the same bits; NULL: packed on each
 * call. Inference of a compiled model whose B is a parameter [K, N].
 * nnrt_sgemm_packed is its part that packs: false (nothing done) for a
 * product nnrt_sgemm would not pack, or kept NULL, which the C backend's
 * kernels then give to nnrt_sgemm, inlined where the sizes are constants. */
NNRT_API bool nnrt_sgemm_packed(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                                int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                                bool add, float *scratch, const NnrtEpilogue *epi, void *kept);
NNRT_API void nnrt_sgemm_kept(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                              int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                              bool add, float *scratch, const NnrtEpilogue *epi, void *kept);
NNRT_HELPER int64_t nnrt_sgemm_kept_bytes(int64_t k, int64_t n) {
  /* panels of the widest tile (32 columns) after a header of 64 bytes */
  return 64 + 4 * k * ((n + 31) / 32 * 32);
}
NNRT_API void nnrt_sgemm(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                         int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                         bool add, float *scratch, const NnrtEpilogue *epi);
NNRT_API void nnrt_dgemm(int nt, int64_t M, int64_t N, int64_t K, const double *A, int64_t ars,
                         int64_t acs, const double *B, int64_t brs, int64_t bcs, double *C, int64_t ldc,
                         bool add, const NnrtEpilogue *epi);
#ifndef NNRT_NO_QGEMM
/* Quantized layers (nnc --quantize int8, docs/quantize.md; nnrt_qgemm.c).
 * A layer's blob of nnrt_qlayer_bytes(K, N) bytes, 64-aligned, made by
 * nnrt_qlayer_pack from its weights B [K x N] (row stride ldb, each in
 * [-127, 127]) and its N float scales, holds B packed into panels of 16
 * columns (groups of 4 rows, zeros past K and N), then N int32 offsets
 * (-128 times each column's sum), then the scales. Activations are bytes
 * a = q + 128 for q in [-128, 127]; the product of a row of them with
 * column j is y = (float)(sum over k of (a_k - 128) B(k, j)) * scale[j],
 * summed exactly in int32 for K <= 65536, with the same bits from each
 * kernel: 2 AVX-512 VNNI, 1 AVX2, 0 portable C (nnrt_qgemm_kernel();
 * nnrt_isa() narrows it).
 * nnrt_qgemm: y[M x N] (row stride ldy) from A[M x K] (row stride lda),
 * each row read in groups of 4 bytes: up to 3 bytes past K, which must
 * be readable (their weights are 0: any value does).
 * nnrt_qdense_f32: y[M, N] = x[M, K] W, each row of x quantized as
 * q = clamp(round(x * inv), -127, 127) (to nearest, ties to even), K +
 * 64 <= NNRT_QTILE_BYTES (else every y is NaN). nnrt_qconv2d_f32: y[n,
 * oh, ow, f] = conv(x[n, h, w, c], W[kh, kw, c, f]), one group, the image
 * quantized alike into the scratch with its padding (0, the byte 128),
 * the weights' rows those of nnrt_qconv2d_terms (below). A row that reads
 * a NaN or an infinity gives NaN throughout. The epilogue (or NULL) runs
 * on each block of rows as it is final, all N columns. */
NNRT_API size_t nnrt_qgemm_packed_bytes(int64_t K, int64_t N);
NNRT_API size_t nnrt_qlayer_bytes(int64_t K, int64_t N);
NNRT_API void nnrt_qlayer_pack(int64_t K, int64_t N, const int8_t *B, int64_t ldb, const float *scale, void *blob);
NNRT_API void nnrt_qgemm(int64_t M, int64_t N, int64_t K, const uint8_t *A, int64_t lda, const void *blob, float *y,
                         int64_t ldy);
NNRT_API int nnrt_qgemm_kernel(void);
NNRT_API void nnrt_qdense_f32(int nt, int64_t M, int64_t K, int64_t N, const float *x, float inv, const void *blob,
                              float *y, const NnrtEpilogue *epi);
struct NnrtWindow;
NNRT_API void nnrt_qconv2d_f32(int nt, int64_t n, const struct NnrtWindow *g, const float *x, float inv, const void *blob,
                               float *y, void *scratch, const NnrtEpilogue *epi);
/* Bytes of a dense layer's tile of quantized rows on the stack: a layer
 * with K + 64 above it stays in float. */
enum { NNRT_QTILE_BYTES = 49152 };
/* A quantized convolution reads each window straight from the quantized
 * image in runs of bytes next to each other there: a row of the window
 * (kw c bytes) where dw is 1, else a tap's c; at most NNRT_QMAXRUNS runs.
 * Its weights' rows are the window's taps in order with each run padded
 * with zero rows to a multiple of 4: nnrt_qconv2d_terms rows in all. */
enum { NNRT_QMAXRUNS = 64 };
NNRT_HELPER int64_t nnrt_qconv2d_runs(int64_t kh, int64_t kw, int64_t dw) { return dw == 1 ? kh : kh * kw; }
NNRT_HELPER int64_t nnrt_qconv2d_run(int64_t kw, int64_t c, int64_t dw) { return dw == 1 ? kw * c : c; }
NNRT_HELPER int64_t nnrt_qconv2d_terms(int64_t kh, int64_t kw, int64_t c, int64_t dw) {
  return nnrt_qconv2d_runs(kh, kw, dw) * ((nnrt_qconv2d_run(kw, c, dw) + 3) / 4 * 4);
}
/* The quantized image's size a sample: its rows and columns with the
 * padding every window reads; the scratch holds `chunk` of them and 64
 * bytes more. */
NNRT_HELPER int64_t nnrt_qconv2d_padded(int64_t h, int64_t ph, int64_t oh, int64_t sh, int64_t kh, int64_t dh) {
  int64_t reach = (oh - 1) * sh + (kh - 1) * dh + 1;
  return reach > ph + h ? reach : ph + h;
}
#endif
#endif

/* Convolution and pooling over NHWC images for generated code. A window's
 * geometry is constant in a compiled model, so generated code keeps it in
 * a static const NnrtWindow and passes the batch n apart: images
 * x[n, h, w, c], results y[n, oh, ow, f] (f = c for pooling), windows of
 * kh x kw taps with strides sh, sw, padding ph, pw (zeros for a
 * convolution, left out for pooling) and dilation dh, dw (1 for pooling);
 * a convolution's weights are w[kh, kw, c / groups, f], its groups split
 * c and f alike. Every field is a plain int64_t, so that a backend that
 * builds the constant as data needs no layout rules but C's. */
typedef struct NnrtWindow {
  int64_t h, w, c, oh, ow, f;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t groups;
  int64_t chunk;   /* convolution: samples whose columns the scratch holds at once */
  int64_t batch;   /* convolution: the batch whose kernel a call over some of its samples
                      picks (nnrt_conv2d_pool_*), so that their bits are the whole call's; 0:
                      the call's own n */
} NnrtWindow;

/* Convolutions run as products over a column matrix (im2col): for each
 * group and each `chunk` samples, P = samples * oh * ow rows of
 * R = kh * kw * (c / groups) taps. The scratch holds, in elements of the
 * type:
 *   conv2d, conv2d_bx: min(n, chunk) * oh * ow * R columns, then for f32
 *                      nnrt_sgemm_scratch(nt) for the product;
 *   conv2d_bw:         the same columns, then NNRT_CONV_SLICES * R * f
 *                      partial gradients, then for f32
 *                      NNRT_CONV_SLICES * nnrt_sgemm_scratch(1).
 * conv2d:    y = conv(x, w); the epilogue (or NULL) runs on each block of
 *            y as it is final, in absolute coordinates of y[n*oh*ow, f].
 * conv2d_bx: dx[n, h, w, c] from dy[n, oh, ow, f] and w; the epilogue on
 *            each row of dx[n*h*w, c] once its sample is final.
 * conv2d_bw: dw[kh, kw, c / groups, f] from x and dy, the sum over pixels
 *            in NNRT_CONV_SLICES fixed slices (one thread each) added in
 *            order; the epilogue on each row of dw[R, f].
 * The order of every sum is fixed by the geometry, so the bits do not
 * depend on the thread count. */
enum { NNRT_CONV_SLICES = 4 };
/* Their linkage, NNRT_API unless the includer says otherwise: the
 * standalone C files nnc writes make them static inline and always
 * inlined, so that each call, whose geometry is a constant, compiles to
 * code specialized for it (loops over a few channels unrolled, the
 * products' sizes constants the GEMM is specialized for). */
#ifndef NNRT_WINDOW_API
#define NNRT_WINDOW_API NNRT_API
#endif
#ifndef NNRT_NO_WINDOW
NNRT_WINDOW_API void nnrt_conv2d_f32(int nt, int64_t n, const NnrtWindow *g, const float *x,
                                     const float *w, float *y, float *scratch, const NnrtEpilogue *epi);
/* nnrt_conv2d_f32 with the filters' Winograd transform kept in `kept`
 * (nnrt_conv2d_winograd_f32; NULL: made on each call): inference of a
 * compiled model whose filters are a parameter. */
NNRT_WINDOW_API void nnrt_conv2d_kept_f32(int nt, int64_t n, const NnrtWindow *g, const float *x,
                                          const float *w, float *y, float *scratch, const NnrtEpilogue *epi,
                                          void *kept);
NNRT_WINDOW_API void nnrt_conv2d_f64(int nt, int64_t n, const NnrtWindow *g, const double *x,
                                     const double *w, double *y, double *scratch, const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bx_f32(int nt, int64_t n, const NnrtWindow *g, const float *dy,
                                        const float *w, float *dx, float *scratch,
                                        const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bx_f64(int nt, int64_t n, const NnrtWindow *g, const double *dy,
                                        const double *w, double *dx, double *scratch,
                                        const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bw_f32(int nt, int64_t n, const NnrtWindow *g, const float *x,
                                        const float *dy, float *dw, float *scratch,
                                        const NnrtEpilogue *epi);
NNRT_WINDOW_API void nnrt_conv2d_bw_f64(int nt, int64_t n, const NnrtWindow *g, const double *x,
                                        const double *dy, double *dw, double *scratch,
                                        const NnrtEpilogue *epi);
/* A convolution, its epilogue and then pooling with window p (its
 * geometry over y's pixels) over `band` samples at a time: y is written
 * for a band into t[band, oh, ow, f] only (the epilogue gets coordinates
 * in t, so it may read rows and scalars but no operand of y's shape), then
 * pooled (`op` NNRT_MAXPOOL or NNRT_AVGPOOL) into z[n, p->oh, p->ow, f].
 * Each band runs the kernel the whole batch would, so z has the bits of
 * the convolution and the pooling run apart, provided the float
 * column path's products of one sample are packed (nnrt_sgemm: more than
 * 16384 multiply-adds or more than 256 terms; compiler/plan.c checks).
 * The scratch is the convolution's for all n samples; kept as
 * nnrt_conv2d_kept_f32's (NULL: none; the f64 kernel takes NULL). */
NNRT_WINDOW_API void nnrt_conv2d_pool_f32(int nt, int64_t n, const NnrtWindow *g, const NnrtWindow *p, int op,
                                          int64_t band, const float *x, const float *w, float *t, float *z,
                                          float *scratch, const NnrtEpilogue *epi, void *kept);
NNRT_WINDOW_API void nnrt_conv2d_pool_f64(int nt, int64_t n, const NnrtWindow *g, const NnrtWindow *p, int op,
                                          int64_t band, const double *x, const double *w, double *t, double *z,
                                          double *scratch, const NnrtEpilogue *epi, void *kept);
#ifndef NNRT_NO_QGEMM
/* nnrt_qconv2d_f32, its epilogue and then pooling with window p over
 * `band` samples at a time, as nnrt_conv2d_pool_f32: the same bits as
 * the two apart, the sums being exact. */
NNRT_WINDOW_API void nnrt_qconv2d_pool_f32(int nt, int64_t n, const NnrtWindow *g, const NnrtWindow *p, int op,
                                           int64_t band, const float *x, float inv, const void *blob, float *t,
                                           float *z, void *scratch, const NnrtEpilogue *epi);
#endif
/* The float convolution straight from the image (nnrt_conv.c): the same
 * bits as nnrt_conv2d_f32's column-matrix path, false (nothing done) where
 * it does not apply: the portable micro-kernel, a product the GEMM would
 * not pack, or scratch of `cap` floats under nnrt_conv2d_direct_scratch. */
NNRT_API size_t nnrt_conv2d_direct_scratch(const NnrtWindow *g);
NNRT_API bool nnrt_conv2d_direct_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *w,
                                     float *y, float *scratch, size_t cap, const NnrtEpilogue *epi);
/* Winograd's F(2x2, 3x3) for the float 3x3 convolution of stride and
 * dilation 1 and one group where it wins (nnrt_conv.c): other bits than
 * the direct kernel (within a few units in the last place of the sums),
 * the same at every thread count; false (nothing done) where it does not
 * apply or `cap` floats of scratch are too few. The filters' transform
 * U = G w G^T is made in the scratch on each call or, given `kept` (a
 * slot of nnrt_winograd_kept_bytes(C, F) bytes that an instance zeroes
 * when its parameters change: NnrtModel), made there once and reused;
 * where `cap` is too few it is not run either way, so that whether it
 * runs never depends on the slot. */
NNRT_HELPER int64_t nnrt_winograd_kept_bytes(int64_t c, int64_t f) {
  /* U_k for the widest tile (32 columns a panel: AVX-512; AVX2's 16 need
   * no more) after a header of 64 bytes; 0 where it never runs */
  const int64_t ldm = (f + 31) / 32 * 32, uk = (c * ldm / 16 | 1) * 16;
  return c >= 16 && f >= 32 ? 64 + 16 * uk * (int64_t)sizeof(float) : 0;
}
NNRT_API bool nnrt_conv2d_winograd_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *w,
                                       float *y, float *scratch, size_t cap, const NnrtEpilogue *epi, void *kept);
/* The weight gradient's slices the same way (AVX-512, channels a group a
 * multiple of 8, filters a group of 32): part[NNRT_CONV_SLICES][R, f] as
 * nnrt_conv2d_bw_f32 sums them, in `cap` floats of scratch. */
/* The input gradient the same way: each tile's rows of the column matrix
 * (dy w^T) made and added onto dx at once, as col2im adds them. */
NNRT_API bool nnrt_conv2d_direct_bx_f32(int nt, int64_t n, const NnrtWindow *g, const float *dy, const float *w,
                                        float *dx, float *scratch, size_t cap, const NnrtEpilogue *epi);
NNRT_API bool nnrt_conv2d_direct_bw_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *dy,
                                        float *part, float *scratch, size_t cap);
#endif

/* Pooling and its gradients, `op` one of NnrtPool:
 *   NNRT_MAXPOOL:   y = the first maximum of each window of a (window order),
 *                   NaN when the window holds one (NNRT_MORE);
 *   NNRT_AVGPOOL:   y = the mean of each window's taps inside a;
 *   NNRT_MAXPOOL_B: y[n, h, w, c] = dy (b) sent to the first maximum (or NaN) of a;
 *   NNRT_AVGPOOL_B: y[n, h, w, c] = dy (a) spread evenly over each window.
 * b is unused (may be NULL) except by NNRT_MAXPOOL_B. */
typedef enum { NNRT_MAXPOOL, NNRT_AVGPOOL, NNRT_MAXPOOL_B, NNRT_AVGPOOL_B } NnrtPool;
#ifndef NNRT_NO_WINDOW
NNRT_WINDOW_API void nnrt_pool_f32(int nt, int64_t n, int op, const NnrtWindow *g, const float *a,
                                   const float *b, float *y);
NNRT_WINDOW_API void nnrt_pool_f64(int nt, int64_t n, int op, const NnrtWindow *g, const double *a,
                                   const double *b, double *y);
#endif

/* A training step's new f32 parameters and states, stored: values below
 * the smallest normal float (2^-126) become zero, so that what persists
 * from step to step is never subnormal. Subnormal floats cost about a
 * hundred cycles an operation on x86, and Adam's moments of a unit that
 * has stopped learning decay into them and stay there for thousands of
 * steps; flushing them never changes what a model learns. The reference
 * evaluator stores its updates the same way. */
NNRT_API void nnrt_store_f32(float *dst, const float *src, int64_t n);
NNRT_HELPER float nnrt_flush_f32(float x) { return x * (float)(fabsf(x) >= 0x1p-126f); }

/* Scalar functions as the reference evaluator computes them. */
NNRT_API double nnrt_sigmoid(double x);
/* i32 arithmetic's result from its exact value in double: toward zero,
 * saturated at the bounds (a division by zero gives the bound of its
 * sign), NaN as 0 (the compiler's ir_i32). */
NNRT_HELPER int32_t nnrt_i32(double x) {
  return x != x ? 0 : x >= 2147483647.0 ? INT32_MAX : x <= -2147483648.0 ? INT32_MIN : (int32_t)x;
}
/* The f32 elementwise functions: nnrt_expf, nnrt_logf, nnrt_tanhf, ... */
#include "nnrt_vmath.h"

/* Memory: buffers aligned to 64 bytes. nnrt_alloc returns NULL when
 * memory runs out (the runtime never ends the process); a model's
 * workspace is grown by the model API before a run (nnrt_model_reserve). */
NNRT_API size_t nnrt_align(size_t bytes);
NNRT_API void *nnrt_alloc(size_t bytes);   /* zeroed, 64-byte aligned, or NULL; free with free() */

/* Bounds the model API enforces: threads of one instance, and the bytes of
 * one workspace (a batch whose arena would pass it is refused before any
 * arithmetic on its size can overflow). */
enum { NNRT_MAX_THREADS = 1024 };
/* Outputs one graph gives (a model has 16 at most; the layers graph one
 * for each named layer, nnc's NN_GRAPH_OUTPUTS). */
#define NNRT_MAX_OUTPUTS 256
#define NNRT_MAX_ARENA ((int64_t)1 << 47)

/* A compiled model's description, for generic hosts (NnModelDesc). */
#include "nn_model_desc.h"

/* ------------------------------------------------------- checkpoints */

/* A parameter or state tensor of a compiled model, as its code lists it. */
typedef struct NnrtTensorInfo {
  const char *name;       /* "dense1.W", "adam.m.dense1.W" */
  int elem_size, rank;    /* 4 (f32) or 8 (f64) */
  int64_t dims[8];
  int init;               /* NnrtInit */
  double init_args[2];
  const void *data;       /* its value built in (nnc --weights), which
                             replaces the initializer; NULL: none */
} NnrtTensorInfo;

/* What a checkpoint holds besides its tensors, in its "__metadata__":
 * "format": "nnc", "kind": "checkpoint" or "weights", and for a
 * checkpoint the training run's counters and seed and the training
 * program's place in an epoch with its running sums, so that a run resumed
 * from it goes on exactly as if it had never stopped. A weights-only file
 * holds the parameters and the model's own states (batch statistics, input
 * standardization) and none of the rest: no optimizer slots, no counters. */
enum { NNRT_MAX_PROGRESS = 32 };
typedef struct NnrtMeta {
  bool weights;          /* a weights-only file */
  bool sparse;           /* writing one, each tensor that is smaller so as
                            NAME.values (its nonzero elements in order, of
                            its type) and NAME.bitmap (U8, bit j % 8 of byte
                            j / 8 set where element j is one of them) */
  int64_t step, epoch;   /* steps taken; epochs done */
  int64_t position;      /* samples of the next epoch already trained on */
  uint64_t seed;         /* of the run (kept when has_seed is false) */
  bool has_seed;
  double sparsity;       /* the program's pruning target (--sparsity); NAN: none */
  int nprogress;         /* the program's running sums over that epoch */
  double progress[NNRT_MAX_PROGRESS];
} NnrtMeta;

/* Writes data[i] for tensors[0..n) and `meta` as a safetensors file: to
 * PATH.tmp (created anew, never through a link), flushed to disk, then
 * renamed over PATH, so an interrupted save never destroys the previous
 * checkpoint; a PATH.tmp left by a save that was killed is replaced. */
NNRT_API bool nnrt_save(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
                        const NnrtMeta *meta, char *err, size_t errlen);
/* Reads a safetensors file into data[i]. Only a regular file is opened
 * (a FIFO or a device never blocks the reader). Before anything is
 * written it checks that the header is well formed; that every tensor of
 * tensors[0..n) is there once with its dtype and shape (the last `slots`
 * of them, an optimizer's, are absent from a weights-only file and left
 * as they are) and nothing else is; that the data offsets tile the data
 * exactly, in order, each aligned to its element; and that the metadata's
 * fields have their types and ranges. On error returns false with
 * "path: message" (naming the tensor, the shapes, or the byte). */
NNRT_API bool nnrt_load(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n, int slots,
                        NnrtMeta *meta, char *err, size_t errlen);
/* The bytes of a tensor's data. */
NNRT_API int64_t nnrt_tensor_bytes(const NnrtTensorInfo *t);
/* "path: message" (or the message alone when path is NULL) into err;
 * returns false, for `return nnrt_error(...)`. */
NNRT_API bool nnrt_error(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Opens `path` for reading if it is a regular file; NULL with "path:
 * reason" in err (a directory, a FIFO or a device is refused unopened). */
NNRT_API FILE *nnrt_open_regular(const char *path, char *err, size_t errlen);

/* --------------------------------------------------- compiled models */

/* A backend writes for each model M only what depends on its graphs: the
 * table of its tensors, its descriptor, the run and arena functions of its
 * graphs, one constant NnrtModelDef, and exported one-line wrappers
 * (M_create calls nnrt_model_create(&M_def, seed), M_save calls
 * nnrt_model_save, and so on). Everything else, the same for every model,
 * is here, so that every backend builds the same library.
 *
 * The layout is plain on purpose, for backends that lay the table out
 * themselves: pointers, int32, int64, double and function pointers, in the
 * order written, with natural alignment. */

/* An instance. Its tensors are one array of pointers, the parameters
 * (params[0..nparams)) then the states (states == params + nparams), each
 * tensor zeroed and 64-byte aligned. A run function reads params, states,
 * step, epoch, seed, lr and threads, keeps its buffers in ws (which the
 * model API has grown to the run's arena first: nnrt_model_reserve), and
 * leaves the loss (training and evaluation) and pointers to its outputs
 * (into ws, valid until the next run). */
typedef struct NnrtModel {
  const struct NnrtModelDef *def;
  void **params, **states;
  int64_t step, epoch;   /* steps taken; epochs done (kept by a checkpoint) */
  uint64_t seed;
  int threads;           /* 0: OpenMP's default */
  double lr, loss;
  const void *out[NNRT_MAX_OUTPUTS];
  char *ws;
  size_t ws_size;
  /* the training program's place in the epoch, kept by a checkpoint */
  int64_t position;
  int nprogress;
  double progress[NNRT_MAX_PROGRESS];
  /* The parameters' version: every change of a parameter or state (a
   * training step, set_param, a load, a copy of weights) counts one
   * (nnrt_model_touch). `kept` (def->kept_bytes, or NULL) holds what a
   * forward run derives from the parameters alone, in slots laid out at
   * compile time (plan_kept): Winograd's transform of each 3x3 filter, the
   * GEMM's packed panels of each product's B that is a parameter. A forward run
   * (inference, evaluation) first zeroes it when it was made for another
   * version (kept_version), and each slot is remade on its first use. */
  uint64_t version, kept_version;
  char *kept;
  char error[256];       /* why the last call failed ("" after a success) */
  /* Tensors whose caller's layout holds the batch elsewhere than first
   * (their descriptor's -1, `input x: [T, N, F]`) are copied batch first
   * into `stage` for a run, and outputs back from it; `samples_first`:
   * this instance's callers (the training program, --predict) give
   * samples first whatever the layout. */
  char *stage;
  size_t stage_size;
  bool samples_first;
  double sparsity;       /* the program's pruning target, kept by a checkpoint; NAN: none */
} NnrtModel;

/* One pass of a graph over a batch of n samples: labels[i] is the target
 * of output i's loss (labels NULL for inference). */
typedef void NnrtRunFn(NnrtModel *m, int64_t n, const void *const *inputs, const void *const *labels);
/* The workspace bytes that pass needs at `threads` threads. */
typedef size_t NnrtArenaFn(int64_t n, int threads);

/* A loop of the IR (a scan, docs/ir.md): the body's run function `step`
 * run `steps` times. d holds {steps, reverse, k, m, p, q, kept, f32 acc,
 * f64 acc, skip, skip bytes, adds} (acc: bit i for a carry the body
 * gives an addend of, added in place, rather than the new carry; skip:
 * the sequence, of floats of `skip bytes`, whose slice 0 throughout skips
 * a step, or -1; adds: 4 bits a sequence, c > 0 for one whose slice a
 * skipped step adds to carry c - 1, of its type), then a word of bits,
 * bit i set for part i below stored step by step; then for each of the k
 * carries, the m sequences and the q per-step results four words
 * {outer, outer_batch, inner, inner_batch}: a step's slice is outer rows
 * of inner bytes (each times n when its flag is set), row r of step t at
 * (r * steps + t) * inner in the stacked tensor, or with the part's bit
 * the whole slice at t * outer * inner (a carry's part is its history's;
 * a sequence stored so is read in place), then for each result the
 * carry it repeats on a skipped step (-1: it is 0 there). ops: the k initial carries, the m sequences,
 * the p invariants; res: the 2k + q results (final carries, stacked
 * results, histories), NULL where unread. s: nnrt_scan_scratch(d, n)
 * bytes, then the body's arena at m's threads. The body runs on a copy
 * of m whose workspace is that arena, whose kept transforms are `kept`
 * bytes of the scratch zeroed at the start (the products' packed panels
 * of the invariants, made on the first step), and whose outputs it
 * reads. */
NNRT_API size_t nnrt_scan_scratch(const int64_t *d, int64_t n);
NNRT_API void nnrt_scan(const int64_t *d, NnrtModel *m, int64_t n, void *const *res, const void *const *ops, char *s,
                        NnrtRunFn *step);

/* index of run[] and arena[]: the training step, the evaluation,
 * inference, generation's step, and the two graphs that look inside a
 * model (docs/interpret.md): attribution, the forward pass in inference
 * mode with its first output, the gradient of sum(output 0 * label 0)
 * with respect to each input and, for each of the descriptor's layers
 * of rank 4 (samples, height, width, channels: a feature map) up to
 * NNRT_MAX_MAPS of them in order, the map and its gradient (outputs: the
 * first output, a gradient per input, then map, gradient, map, ...; an
 * integer input's gradient is zeros); and the layers' values, output i
 * the descriptor's layer i. */
enum { NNRT_TRAIN, NNRT_EVAL, NNRT_INFER, NNRT_STEP, NNRT_ATTR, NNRT_LAYERS, NNRT_NGRAPHS };
#define NNRT_MAX_MAPS 119

/* What a step's label may hold (checked before the step runs). */
typedef enum {
  NNRT_LABEL_NONE,      /* no label (a model without a loss) */
  NNRT_LABEL_VALUES,    /* finite numbers (regression) */
  NNRT_LABEL_UNIT,      /* numbers in [0, 1] (binary and categorical cross-entropy) */
  NNRT_LABEL_CLASSES,   /* class ids in [0, label_classes), or label_ignore */
  NNRT_LABEL_WEIGHTS,   /* per-sample weights, finite and >= 0: the last label of a model
                           trained with sample or class weights */
} NnrtLabelKind;

typedef struct NnrtModelDef {
  const char *name;
  int32_t nparams, nstates;
  const NnrtTensorInfo *tensors;   /* the parameters, then the states */
  double base_lr;                  /* the optimizer's rate; the schedules start from it */
  NnrtRunFn *run[NNRT_NGRAPHS];    /* training step, evaluation, inference, generation step, attribution,
                                      layers; NULL when absent */
  NnrtArenaFn *arena[NNRT_NGRAPHS];
  const void *desc;                /* the model's NnModelDesc */
  /* For generation, a language model (one input of token ids [T], a first
   * output of scores [T, classes], position t's for the token after t):
   * gen_steps T (0 for any other model), gen_classes, gen_probabilities 1
   * when the scores are probabilities (from a softmax) and 0 for logits,
   * gen_dtype 0 for f32 scores, 1 for f64. A model computed position by
   * position but for forward loops over the positions also has a
   * generation step (run[NNRT_STEP]): inputs one position's ids [n, 1],
   * then gen_nstates states of gen_state_bytes[i] bytes a sample; outputs
   * the scores [n, 1, classes], then the new states. */
  int64_t gen_steps, gen_classes;
  int32_t gen_probabilities, gen_dtype, gen_nstates;
  int64_t gen_state_bytes[15];
  /* What the model API checks before a run: the batch (at most
   * max_batch, the largest whose arena stays within NNRT_MAX_ARENA), the
   * nlabels labels, one for each output's loss (label i: label_size[i]
   * values a sample of type label_dtype[i], as NnTensorDesc counts types,
   * holding what label_kind[i] allows) and token ids (input i, when
   * vocab[i] > 0, holds ids in [0, vocab[i])). The last nslots states
   * are the optimizer's slots, which a weights-only checkpoint leaves
   * out. */
  int32_t nslots, nlabels;
  int32_t label_kind[16], label_dtype[16], label_has_ignore[16];
  int64_t max_batch;
  int64_t label_size[16], label_classes[16], label_ignore[16];
  int64_t vocab[16];
  /* A model trained with weights (its last label is NNRT_LABEL_WEIGHTS,
   * made by the API from the caller's sample weights): the train block's
   * class_weight, one per class of label 0, which a training step
   * multiplies each sample's weight by (nclass_weights 0: none). */
  int64_t nclass_weights;
  const double *class_weights;
  /* 1 when the inference graph computes each sample from that sample
   * alone (nnc's plan checks it), so that a prediction at T threads may
   * run as T slices of the batch at once, each on one thread with a
   * workspace of its own, with the bits of one run over the batch;
   * sample_work, the multiply-adds of one sample's inference, decides
   * whether a smaller batch is worth a team. */
  int32_t sample_split;
  int64_t sample_work;
  /* The bytes of an instance's kept transforms (NnrtModel's kept; 0: none). */
  int64_t kept_bytes;
} NnrtModelDef;

/* The model API. Every function checks its arguments: a NULL instance,
 * path, buffer or name where one is needed, n < 1 or above the model's
 * largest batch, a label or token id outside what the model takes, and
 * memory that runs out are errors, never a crash or an exit. A failed call
 * changes nothing and says why in nnrt_model_last_error(m) (for a NULL
 * instance or nnrt_model_create, in a message kept per thread), and also
 * in `err` where the function takes one; a call that succeeds clears it.
 * The functions, nnrt_model_NAME for each row of nnrt_api.h, take the
 * row's parameters, after the model's table where the row says `def`. */
#define NNRT_MODEL_ARGS0(params) params
#define NNRT_MODEL_ARGS1(params) (const NnrtModelDef *def, NNRT_MODEL_UNPAREN params)
#define NNRT_MODEL_UNPAREN(...) __VA_ARGS__
#define NNRT_MODEL_FN(ret, name, params, args, def, graph, sig, doc) \
  NNRT_API ret nnrt_model_##name NNRT_MODEL_ARGS##def(params);
#include "nnrt_api.h"
#undef NNRT_MODEL_FN
/* Grows m's workspace to graph k's arena for n samples: 0, or -1 when n or
 * the arena is out of range or memory runs out. The API calls it before
 * every run. */
NNRT_API int nnrt_model_reserve(NnrtModel *m, int k, int64_t n);
/* Counts a change of m's parameters or states (its version), so that the
 * next forward run makes its kept transforms anew: whatever writes
 * m->params or m->states outside the API's own functions calls it. */
NNRT_API void nnrt_model_touch(NnrtModel *m);
/* The values of one sample of t: its dimensions but the batch's (-1). */
NNRT_API int64_t nnrt_sample_size(const NnTensorDesc *t);

#endif
