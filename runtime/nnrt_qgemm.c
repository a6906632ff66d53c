/* nnrt_qgemm.c — the int8 matrix product of quantized dense and
 * convolution layers (nnrt.h): C[M x N] int32 = A[M x K] uint8 times
 * B[K x N] int8, accumulated exactly in int32.
 *
 * B is a layer's weights, packed once (nnrt_qgemm_pack) into panels of 16
 * columns, each a run of groups of 4 rows: group g of panel q holds
 * B(4g + t, 16q + c) at byte 64 g + 4 c + t, zeros past K and N. That is
 * the operand AVX-512 VNNI's vpdpbusd takes (4 products of an unsigned
 * and a signed byte summed into each int32 lane), and the AVX2 kernel
 * widens the same bytes to int16 for vpmaddwd. The activations are
 * unsigned: a symmetric int8 activation x is stored as x + 128, and
 * nnrt_qgemm_pack's column sums take the 128 back out (C - 128 colsum).
 *
 * Every kernel computes the same integers, so the three (VNNI where the
 * processor has it, AVX2, portable C; NNRT_ISA narrows the choice) agree
 * to the bit (tests/unit/runtime.c). No sum can overflow while K <= 65536
 * (255 * 128 * 65536 < 2^31).
 */
#include "nnrt.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NNRT_QX86 1
#include <immintrin.h>
#endif

enum { QNR = 16 }; /* columns a panel */

NNRT_API size_t nnrt_qgemm_packed_bytes(int64_t K, int64_t N) {
  return (size_t)((N + QNR - 1) / QNR) * (size_t)((K + 3) / 4) * 4 * QNR;
}

NNRT_API void nnrt_qgemm_pack(int64_t K, int64_t N, const int8_t *B, int64_t ldb, int8_t *packed, int32_t *colsum) {
  int64_t groups = (K + 3) / 4;
  memset(packed, 0, nnrt_qgemm_packed_bytes(K, N));
  for (int64_t j = 0; j < N; j++) {
    int32_t sum = 0;
    int8_t *panel = packed + (j / QNR) * groups * 4 * QNR;
    for (int64_t p = 0; p < K; p++) {
      panel[(p / 4) * 4 * QNR + (j % QNR) * 4 + p % 4] = B[p * ldb + j];
      sum += B[p * ldb + j];
    }
    if (colsum) colsum[j] = sum;
  }
}

/* Row i's bytes 4g .. 4g + 3 as one little-endian int32, zeros past K. */
static inline int32_t quad(const uint8_t *a, int64_t g, int64_t K) {
  uint8_t q[4] = {0, 0, 0, 0};
  int64_t n = K - 4 * g < 4 ? K - 4 * g : 4;
  memcpy(q, a + 4 * g, (size_t)n);
  int32_t v;
  memcpy(&v, q, 4);
  return v;
}

/* The portable kernel: rows [0, M) of A against panel `b` (columns j0 ..
 * j0 + n - 1 of C). */
static void q_portable(int64_t M, int64_t n, int64_t K, const uint8_t *A, int64_t lda, const int8_t *b,
                       int32_t *C, int64_t ldc) {
  int64_t groups = (K + 3) / 4;
  for (int64_t i = 0; i < M; i++) {
    int32_t acc[QNR] = {0};
    for (int64_t g = 0; g < groups; g++) {
      int32_t a4 = quad(A + i * lda, g, K);
      uint8_t a[4];
      memcpy(a, &a4, 4);
      const int8_t *bg = b + g * 4 * QNR;
      for (int c = 0; c < QNR; c++)
        acc[c] += a[0] * bg[4 * c] + a[1] * bg[4 * c + 1] + a[2] * bg[4 * c + 2] + a[3] * bg[4 * c + 3];
    }
    memcpy(C + i * ldc, acc, sizeof(int32_t) * (size_t)n);
  }
}

#ifdef NNRT_QX86
/* AVX2: each group's 64 bytes as four vectors of 16 int16 (4 columns x 4
 * rows), multiplied by the row's 4 bytes repeated and summed in pairs
 * (vpmaddwd): two partial sums a column, added at the end. Two rows at once. */
__attribute__((target("avx2"))) static inline __m256i q_row4(int32_t x) {
  return _mm256_cvtepu8_epi16(_mm_set1_epi32(x)); /* a0 a1 a2 a3, four times, as int16 */
}

__attribute__((target("avx2"))) static void q_avx2(int64_t M, int64_t n, int64_t K, const uint8_t *A, int64_t lda,
                                                   const int8_t *b, int32_t *C, int64_t ldc) {
  int64_t groups = (K + 3) / 4, full = K / 4;
  for (int64_t i = 0; i < M; i += 2) {
    int rows = M - i < 2 ? 1 : 2;
    const uint8_t *a0 = A + i * lda, *a1 = rows > 1 ? a0 + lda : a0;
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
    for (int64_t g = 0; g < groups; g++) {
      const int8_t *bg = b + g * 4 * QNR;
      __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)bg));
      __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bg + 16)));
      __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bg + 32)));
      __m256i w3 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bg + 48)));
      int32_t x0, x1;
      if (g < full) memcpy(&x0, a0 + 4 * g, 4), memcpy(&x1, a1 + 4 * g, 4);
      else x0 = quad(a0, g, K), x1 = quad(a1, g, K);
      __m256i r0 = q_row4(x0), r1 = q_row4(x1);
      s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(r0, w0)), s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(r0, w1));
      s02 = _mm256_add_epi32(s02, _mm256_madd_epi16(r0, w2)), s03 = _mm256_add_epi32(s03, _mm256_madd_epi16(r0, w3));
      s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(r1, w0)), s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(r1, w1));
      s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(r1, w2)), s13 = _mm256_add_epi32(s13, _mm256_madd_epi16(r1, w3));
    }
    __m256i acc[2][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}};
    for (int r = 0; r < rows; r++) {
      int32_t part[32], out[QNR];
      for (int q = 0; q < 4; q++) _mm256_storeu_si256((__m256i *)(part + 8 * q), acc[r][q]);
      for (int c = 0; c < QNR; c++) out[c] = part[2 * c] + part[2 * c + 1];
      memcpy(C + (i + r) * ldc, out, sizeof(int32_t) * (size_t)n);
    }
  }
}

/* AVX-512 VNNI: a group's 64 bytes are one operand of vpdpbusd, the row's
 * 4 bytes broadcast the other; four rows at once. */
__attribute__((target("avx512f,avx512vnni"))) static void q_vnni(int64_t M, int64_t n, int64_t K, const uint8_t *A,
                                                                 int64_t lda, const int8_t *b, int32_t *C,
                                                                 int64_t ldc) {
  int64_t groups = (K + 3) / 4, full = K / 4;
  __mmask16 keep = (__mmask16)((1u << n) - 1);
  for (int64_t i = 0; i < M; i += 4) {
    int rows = M - i < 4 ? (int)(M - i) : 4;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const uint8_t *a0 = A + i * lda, *a1 = rows > 1 ? a0 + lda : a0, *a2 = rows > 2 ? a0 + 2 * lda : a0,
                  *a3 = rows > 3 ? a0 + 3 * lda : a0;
    int64_t g = 0;
    for (; g < full; g++) {
      __m512i w = _mm512_loadu_si512(b + g * 4 * QNR);
      int32_t x0, x1, x2, x3;
      memcpy(&x0, a0 + 4 * g, 4), memcpy(&x1, a1 + 4 * g, 4), memcpy(&x2, a2 + 4 * g, 4), memcpy(&x3, a3 + 4 * g, 4);
      acc0 = _mm512_dpbusd_epi32(acc0, _mm512_set1_epi32(x0), w);
      acc1 = _mm512_dpbusd_epi32(acc1, _mm512_set1_epi32(x1), w);
      acc2 = _mm512_dpbusd_epi32(acc2, _mm512_set1_epi32(x2), w);
      acc3 = _mm512_dpbusd_epi32(acc3, _mm512_set1_epi32(x3), w);
    }
    for (; g < groups; g++) { /* K's last bytes, zero-padded */
      __m512i w = _mm512_loadu_si512(b + g * 4 * QNR);
      acc0 = _mm512_dpbusd_epi32(acc0, _mm512_set1_epi32(quad(a0, g, K)), w);
      acc1 = _mm512_dpbusd_epi32(acc1, _mm512_set1_epi32(quad(a1, g, K)), w);
      acc2 = _mm512_dpbusd_epi32(acc2, _mm512_set1_epi32(quad(a2, g, K)), w);
      acc3 = _mm512_dpbusd_epi32(acc3, _mm512_set1_epi32(quad(a3, g, K)), w);
    }
    __m512i acc[4] = {acc0, acc1, acc2, acc3};
    for (int r = 0; r < rows; r++) _mm512_mask_storeu_epi32(C + (i + r) * ldc, keep, acc[r]);
  }
}

/* The same over four panels at once (64 columns, all of them full):
 * sixteen accumulators, each group's four loads of weights and four
 * broadcasts feeding sixteen vpdpbusd. */
__attribute__((target("avx512f,avx512vnni"))) static void q_vnni4(int64_t M, int64_t K, const uint8_t *A, int64_t lda,
                                                                  const int8_t *b, int64_t panel, int32_t *C,
                                                                  int64_t ldc) {
  int64_t groups = (K + 3) / 4, full = K / 4;
  for (int64_t i = 0; i < M; i += 4) {
    int rows = M - i < 4 ? (int)(M - i) : 4;
    const uint8_t *a[4];
    for (int r = 0; r < 4; r++) a[r] = A + (i + (r < rows ? r : 0)) * lda;
    /* sixteen accumulators by name: kept in registers by every compiler */
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
            c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    for (int64_t g = 0; g < groups; g++) {
      const int8_t *bg = b + g * 4 * QNR;
      __m512i w0 = _mm512_loadu_si512(bg), w1 = _mm512_loadu_si512(bg + panel),
              w2 = _mm512_loadu_si512(bg + 2 * panel), w3 = _mm512_loadu_si512(bg + 3 * panel);
      int32_t v0, v1, v2, v3;
      if (g < full) memcpy(&v0, a[0] + 4 * g, 4), memcpy(&v1, a[1] + 4 * g, 4), memcpy(&v2, a[2] + 4 * g, 4),
          memcpy(&v3, a[3] + 4 * g, 4);
      else v0 = quad(a[0], g, K), v1 = quad(a[1], g, K), v2 = quad(a[2], g, K), v3 = quad(a[3], g, K);
      __m512i x = _mm512_set1_epi32(v0);
      c00 = _mm512_dpbusd_epi32(c00, x, w0), c01 = _mm512_dpbusd_epi32(c01, x, w1);
      c02 = _mm512_dpbusd_epi32(c02, x, w2), c03 = _mm512_dpbusd_epi32(c03, x, w3);
      x = _mm512_set1_epi32(v1);
      c10 = _mm512_dpbusd_epi32(c10, x, w0), c11 = _mm512_dpbusd_epi32(c11, x, w1);
      c12 = _mm512_dpbusd_epi32(c12, x, w2), c13 = _mm512_dpbusd_epi32(c13, x, w3);
      x = _mm512_set1_epi32(v2);
      c20 = _mm512_dpbusd_epi32(c20, x, w0), c21 = _mm512_dpbusd_epi32(c21, x, w1);
      c22 = _mm512_dpbusd_epi32(c22, x, w2), c23 = _mm512_dpbusd_epi32(c23, x, w3);
      x = _mm512_set1_epi32(v3);
      c30 = _mm512_dpbusd_epi32(c30, x, w0), c31 = _mm512_dpbusd_epi32(c31, x, w1);
      c32 = _mm512_dpbusd_epi32(c32, x, w2), c33 = _mm512_dpbusd_epi32(c33, x, w3);
    }
    __m512i acc[4][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}};
    for (int r = 0; r < rows; r++)
      for (int q = 0; q < 4; q++) _mm512_storeu_si512(C + (i + r) * ldc + 16 * q, acc[r][q]);
  }
}

static int q_vnni_here(void) {
  static int here = -1;
  if (here < 0) here = nnrt_isa() == NNRT_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
  return here;
}
#endif

NNRT_API int nnrt_qgemm_kernel(void) {
#ifdef NNRT_QX86
  if (q_vnni_here()) return 2;
  if (nnrt_isa() != NNRT_ISA_GENERIC) return 1;
#endif
  return 0;
}

NNRT_API void nnrt_qgemm(int64_t M, int64_t N, int64_t K, const uint8_t *A, int64_t lda, const int8_t *packed,
                         int32_t *C, int64_t ldc) {
  int64_t groups = (K + 3) / 4;
  int kernel = nnrt_qgemm_kernel();
  for (int64_t j = 0; j < N; j += QNR) {
    int64_t n = N - j < QNR ? N - j : QNR;
    const int8_t *b = packed + (j / QNR) * groups * 4 * QNR;
#ifdef NNRT_QX86
    if (kernel == 2 && N - j >= 4 * QNR) {
      q_vnni4(M, K, A, lda, b, groups * 4 * QNR, C + j, ldc);
      j += 3 * QNR;
      continue;
    }
    if (kernel == 2) {
      q_vnni(M, n, K, A, lda, b, C + j, ldc);
      continue;
    }
    if (kernel == 1) {
      q_avx2(M, n, K, A, lda, b, C + j, ldc);
      continue;
    }
#endif
    (void)kernel;
    q_portable(M, n, K, A, lda, b, C + j, ldc);
  }
}

/* ------------------------------------------------- quantized layers */

NNRT_API size_t nnrt_qlayer_bytes(int64_t K, int64_t N) { return nnrt_qgemm_packed_bytes(K, N) + 8 * (size_t)N; }

/* x[0 .. n) quantized into a: x * inv rounded to the nearest (ties to
 * even) within +-127, plus 128, or 0 for a NaN or an infinity (which no
 * finite value gives). Returns whether one was. */
static inline __attribute__((always_inline)) int q_bytes(const float *x, int64_t n, float inv, uint8_t *a) {
  const float big = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer, ties to even */
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    float v = x[i], t = v * inv;
    int finite = v - v == 0;
    t = t < 127.0f ? t : 127.0f; /* NaN too: a finite number to convert */
    t = t > -127.0f ? t : -127.0f;
    bad |= !finite;
    a[i] = finite ? (uint8_t)(128 + (int)((t + big) - big)) : 0;
  }
  return bad;
}

typedef struct QJob {
  int64_t M, K, N;
  const float *x;
  float inv;
  const int8_t *packed;
  const int32_t *off;
  const float *scale;
  float *y;
  const NnrtEpilogue *epi;
  const struct NnrtWindow *win; /* a convolution's geometry, or NULL: dense */
  uint8_t *img;                 /* a convolution's input quantized (q_bytes) */
  int64_t row0;                 /* the rows' first in the whole result (a convolution's chunk) */
  int img_bad;                  /* img holds a NaN or an infinity (as 0) */
} QJob;

/* Row r of the column matrix, quantized into a: a dense row, or the
 * patch of output pixel r (padding is 0, stored as 128). Returns whether
 * it read a NaN or an infinity. */
static inline __attribute__((always_inline)) int q_row(const QJob *j, int64_t r, uint8_t *a) {
  const struct NnrtWindow *g = j->win;
  if (!g) return q_bytes(j->x + r * j->K, j->K, j->inv, a);
  int64_t ox = r % g->ow, oy = r / g->ow % g->oh, b = r / (g->ow * g->oh);
  int64_t ix0 = ox * g->sw - g->pw, span = g->kw * g->c;
  bool whole = g->dw == 1 && ix0 >= 0 && ix0 + g->kw <= g->w; /* each row of the window: one run of bytes */
  uint8_t *a0 = a;
  for (int64_t ky = 0; ky < g->kh; ky++) {
    int64_t iy = oy * g->sh - g->ph + ky * g->dh;
    if (whole && iy >= 0 && iy < g->h) {
      memcpy(a, j->img + ((b * g->h + iy) * g->w + ix0) * g->c, (size_t)span);
      a += span;
      continue;
    }
    for (int64_t kx = 0; kx < g->kw; kx++, a += g->c) {
      int64_t ix = ix0 + kx * g->dw;
      bool in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
      const uint8_t *from = in ? j->img + ((b * g->h + iy) * g->w + ix) * g->c : NULL;
      if (g->c < 16) /* a few channels: bytes, no call */
        for (int64_t c = 0; c < g->c; c++) a[c] = in ? from[c] : 128;
      else if (in) memcpy(a, from, (size_t)g->c);
      else memset(a, 128, (size_t)g->c);
    }
  }
  return j->img_bad && memchr(a0, 0, (size_t)j->K) != NULL;
}

/* Rows [lo, hi) in tiles that fit NNRT_QTILE_BYTES on the stack. */
static inline __attribute__((always_inline)) void q_rows_body(const void *ctx, int64_t lo, int64_t hi) {
  const QJob *j = ctx;
  _Alignas(64) uint8_t tile[NNRT_QTILE_BYTES];
  /* rows of A, then C 64-aligned: 64 bytes of room for the alignment
   * (K + 4 N + 64 <= NNRT_QTILE_BYTES: at least one row) */
  int64_t K = j->K, N = j->N, rows = (NNRT_QTILE_BYTES - 64) / (K + 4 * N);
  if (rows > 64) rows = 64;
  if (rows < 1) { /* outside the contract (the compiler keeps wider layers in float): NaN, never past the tile */
    for (int64_t i = (j->row0 + lo) * N; i < (j->row0 + hi) * N; i++) j->y[i] = __builtin_nanf("");
    return;
  }
  uint8_t *a = tile;
  int32_t *c = (int32_t *)(tile + ((rows * K + 63) / 64 * 64));
  for (int64_t r0 = lo; r0 < hi; r0 += rows) {
    int64_t m = hi - r0 < rows ? hi - r0 : rows;
    uint64_t bad = 0; /* bit i: row r0 + i read a NaN or an infinity (m <= 64) */
    for (int64_t i = 0; i < m; i++) bad |= (uint64_t)q_row(j, r0 + i, a + i * K) << i;
    nnrt_qgemm(m, N, K, a, K, j->packed, c, N);
    const int32_t *restrict off = j->off;
    const float *restrict scale = j->scale;
    for (int64_t i = 0; i < m; i++) {
      float *restrict y = j->y + (j->row0 + r0 + i) * N;
      const int32_t *restrict ci = c + i * N;
      if (bad >> i & 1)
        for (int64_t n = 0; n < N; n++) y[n] = __builtin_nanf("");
      else
        for (int64_t n = 0; n < N; n++) y[n] = (float)(ci[n] + off[n]) * scale[n];
    }
    if (j->epi) j->epi->fn(j->epi->ctx, j->row0 + r0, j->row0 + r0 + m, 0, N);
  }
}

static inline __attribute__((always_inline)) void q_image_body(const void *ctx, int64_t lo, int64_t hi) {
  const QJob *j = ctx;
  int64_t row = j->win->w * j->win->c;
  if (q_bytes(j->x + lo * row, (hi - lo) * row, j->inv, j->img + lo * row))
    __atomic_store_n(&((QJob *)ctx)->img_bad, 1, __ATOMIC_RELAXED);
}

/* The loops that quantize and scale, compiled for each level of
 * nnrt_isa() (the same numbers at each: no sum, no fused operation). */
#define Q_LEVELS(name)                                                                                               \
  static void name(const void *ctx, int64_t lo, int64_t hi) { name##_body(ctx, lo, hi); }                           \
  Q_LEVEL_X86(name)                                                                                                  \
  static void (*name##_at(void))(const void *, int64_t, int64_t) {                                                   \
    Q_PICK_X86(name);                                                                                                \
    return name;                                                                                                     \
  }
#ifdef NNRT_QX86
#define Q_LEVEL_X86(name)                                                                                            \
  __attribute__((target("avx2,fma"))) static void name##_avx2(const void *ctx, int64_t lo, int64_t hi) {             \
    name##_body(ctx, lo, hi);                                                                                        \
  }                                                                                                                  \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void name##_avx512(const void *ctx, int64_t lo, \
                                                                                        int64_t hi) {                \
    name##_body(ctx, lo, hi);                                                                                        \
  }
#define Q_PICK_X86(name)                                                                                             \
  if (nnrt_isa() == NNRT_ISA_AVX512) return name##_avx512;                                                           \
  if (nnrt_isa() == NNRT_ISA_AVX2) return name##_avx2
#else
#define Q_LEVEL_X86(name)
#define Q_PICK_X86(name) (void)0
#endif
Q_LEVELS(q_rows)
Q_LEVELS(q_image)

static void q_run(int nt, QJob *j, const void *blob) {
  const int8_t *packed = blob;
  j->packed = packed;
  j->off = (const int32_t *)(packed + nnrt_qgemm_packed_bytes(j->K, j->N));
  j->scale = (const float *)(j->off + j->N);
  nnrt_parallel_for(nt, j->M * j->K * j->N / 8, j->M, q_rows_at(), j);
}

NNRT_API void nnrt_qdense_f32(int nt, int64_t M, int64_t K, int64_t N, const float *x, float inv, const void *blob,
                              float *y, const NnrtEpilogue *epi) {
  QJob j = {.M = M, .K = K, .N = N, .x = x, .inv = inv, .y = y, .epi = epi};
  q_run(nt, &j, blob);
}

NNRT_API void nnrt_qconv2d_f32(int nt, int64_t n, const struct NnrtWindow *g, const float *x, float inv,
                               const void *blob, float *y, void *scratch, const NnrtEpilogue *epi) {
  int64_t chunk = g->chunk < 1 ? 1 : g->chunk, pixels = g->h * g->w * g->c;
  for (int64_t b0 = 0; b0 < n; b0 += chunk) { /* `chunk` samples' images quantized at a time */
    int64_t m = n - b0 < chunk ? n - b0 : chunk;
    QJob j = {.M = m * g->oh * g->ow, .K = g->kh * g->kw * g->c, .N = g->f, .x = x + b0 * pixels, .inv = inv,
              .y = y, .epi = epi, .win = g, .img = scratch, .row0 = b0 * g->oh * g->ow};
    nnrt_parallel_for(nt, m * pixels, m * g->h, q_image_at(), &j);
    q_run(nt, &j, blob);
  }
}
