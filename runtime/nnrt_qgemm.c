/* nnrt_qgemm.c — quantized dense and convolution layers (nnrt.h): rows of
 * activation bytes a = q + 128 times a layer's int8 weights, summed
 * exactly in int32, then scaled to float.
 *
 * The weights are packed once (nnrt_qlayer_pack) into panels of 16
 * columns, each a run of groups of 4 rows: group g of panel p holds
 * B(4g + t, 16p + c) at byte 64 g + 4 c + t, zeros past K and N. That is
 * the operand AVX-512 VNNI's vpdpbusd takes (4 products of an unsigned
 * and a signed byte summed into each int32 lane); it sums a B, and the
 * offset -128 colsum takes the 128 back out. The AVX2 kernel flips the
 * bytes' top bit instead (a ^ 128 = q as a signed byte) and multiplies
 * |q| by B with q's sign (vpsignb, vpmaddubsw: each pair at most
 * 2 * 128 * 127, no saturation), so it needs no offset; the portable
 * kernel sums (a - 128) B. All three give the same integers, hence the
 * same floats (tests/unit/runtime.c).
 *
 * A row is read through a pointer as `runs` runs of 4 gpr bytes, run r at
 * row + off[r]: a dense layer's quantized row is one run; a convolution
 * reads each output pixel's window straight from the quantized, padded
 * image, a run for each row of the window (or each tap where the window
 * dilates across). A run may read up to 3 bytes past its end: their
 * weights are zero.
 */
#include "nnrt.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NNRT_QX86 1
#include <immintrin.h>
#endif

enum { QNR = 16, QMR = 64 }; /* columns a panel; rows a block (the NaN rows' mask) */

/* Where a block's rows are and how they are read. */
typedef struct QRows {
  const uint8_t *const *row; /* each row's first byte */
  const int64_t *off;        /* run r at row + off[r] */
  int64_t runs, gpr;         /* runs a row, groups of 4 bytes a run */
} QRows;

/* Where the results go: y(i, j) at y[i * ldy + j], columns j0 .. of the
 * layer's offsets and scales. */
typedef struct QOut {
  float *y;
  int64_t ldy;
  const int32_t *off;
  const float *scale;
} QOut;

NNRT_API size_t nnrt_qgemm_packed_bytes(int64_t K, int64_t N) {
  return (size_t)((N + QNR - 1) / QNR) * (size_t)((K + 3) / 4) * 4 * QNR;
}

NNRT_API size_t nnrt_qlayer_bytes(int64_t K, int64_t N) { return nnrt_qgemm_packed_bytes(K, N) + 8 * (size_t)N; }

NNRT_API void nnrt_qlayer_pack(int64_t K, int64_t N, const int8_t *B, int64_t ldb, const float *scale, void *blob) {
  int64_t groups = (K + 3) / 4;
  int8_t *packed = blob;
  int32_t *off = (int32_t *)(packed + nnrt_qgemm_packed_bytes(K, N));
  memset(packed, 0, nnrt_qgemm_packed_bytes(K, N));
  for (int64_t j = 0; j < N; j++) {
    int32_t sum = 0;
    int8_t *panel = packed + (j / QNR) * groups * 4 * QNR;
    for (int64_t p = 0; p < K; p++) {
      panel[(p / 4) * 4 * QNR + (j % QNR) * 4 + p % 4] = B[p * ldb + j];
      sum += B[p * ldb + j];
    }
    off[j] = -128 * sum;
  }
  memcpy(off + N, scale, sizeof(float) * (size_t)N);
}

/* A block's four rows from row i, the first again past the last of M. */
static inline void q_four(const QRows *a, int64_t i, int rows, const uint8_t **a0, const uint8_t **a1,
                          const uint8_t **a2, const uint8_t **a3) {
  *a0 = a->row[i], *a1 = a->row[i + (rows > 1)], *a2 = a->row[i + (rows > 2 ? 2 : 0)];
  *a3 = a->row[i + (rows > 3 ? 3 : 0)];
}

static inline int32_t q_load4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The portable kernel: rows [0, M) against one panel (n <= 16 columns). */
static void q_portable(int64_t M, int64_t n, const QRows *a, const int8_t *b, QOut o) {
  for (int64_t i = 0; i < M; i++) {
    int32_t acc[QNR] = {0};
    const int8_t *bg = b;
    for (int64_t r = 0; r < a->runs; r++) {
      const uint8_t *p = a->row[i] + a->off[r];
      for (int64_t g = 0; g < a->gpr; g++, bg += 4 * QNR)
        for (int c = 0; c < QNR; c++)
          for (int t = 0; t < 4; t++) acc[c] += (p[4 * g + t] - 128) * bg[4 * c + t];
    }
    for (int64_t c = 0; c < n; c++) o.y[i * o.ldy + c] = (float)acc[c] * o.scale[c];
  }
}

#ifdef NNRT_QX86
/* AVX2: a group's 64 bytes are two vectors of 8 columns x 4 rows; each
 * row's 4 bytes, broadcast and flipped to q, multiply them as |q| times
 * B with q's sign, summed in pairs to int16 and in fours to int32
 * (vpmaddwd by ones). Four rows at once. */
/* A row's 16 sums (two vectors) scaled into its n <= 16 columns. */
__attribute__((target("avx2"))) static inline void q_store_avx2(__m256i c0, __m256i c1, const float *scale, float *y,
                                                                int64_t n) {
  __m256 v0 = _mm256_mul_ps(_mm256_cvtepi32_ps(c0), _mm256_loadu_ps(scale));
  __m256 v1 = _mm256_mul_ps(_mm256_cvtepi32_ps(c1), _mm256_loadu_ps(scale + 8));
  if (n == QNR) {
    _mm256_storeu_ps(y, v0), _mm256_storeu_ps(y + 8, v1);
    return;
  }
  float out[QNR];
  _mm256_storeu_ps(out, v0), _mm256_storeu_ps(out + 8, v1);
  memcpy(y, out, sizeof(float) * (size_t)n);
}

#define Q_AVX2_ROW(x, c0, c1)                                                                                       \
  {                                                                                                                 \
    __m256i s = (x), m = _mm256_abs_epi8(s);                                                                       \
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_maddubs_epi16(m, _mm256_sign_epi8(w0, s)), ones));          \
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_maddubs_epi16(m, _mm256_sign_epi8(w1, s)), ones));          \
  }
__attribute__((target("avx2"))) static void q_avx2(int64_t M, int64_t n, const QRows *a, const int8_t *b, QOut o) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int32_t flip = (int32_t)0x80808080u;
  float scale[QNR] = {0}; /* the panel's scales, none read past the layer's N */
  memcpy(scale, o.scale, sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < M; i += 4) {
    int rows = M - i < 4 ? (int)(M - i) : 4;
    const uint8_t *a0, *a1, *a2, *a3;
    q_four(a, i, rows, &a0, &a1, &a2, &a3);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const int8_t *bg = b;
    for (int64_t r = 0; r < a->runs; r++) {
      const uint8_t *p0 = a0 + a->off[r], *p1 = a1 + a->off[r], *p2 = a2 + a->off[r], *p3 = a3 + a->off[r];
      for (int64_t g = 0; g < a->gpr; g++, bg += 4 * QNR) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)bg), w1 = _mm256_loadu_si256((const __m256i *)(bg + 32));
        Q_AVX2_ROW(_mm256_set1_epi32(q_load4(p0 + 4 * g) ^ flip), c00, c01)
        Q_AVX2_ROW(_mm256_set1_epi32(q_load4(p1 + 4 * g) ^ flip), c10, c11)
        Q_AVX2_ROW(_mm256_set1_epi32(q_load4(p2 + 4 * g) ^ flip), c20, c21)
        Q_AVX2_ROW(_mm256_set1_epi32(q_load4(p3 + 4 * g) ^ flip), c30, c31)
      }
    }
    q_store_avx2(c00, c01, scale, o.y + i * o.ldy, n);
    if (rows > 1) q_store_avx2(c10, c11, scale, o.y + (i + 1) * o.ldy, n);
    if (rows > 2) q_store_avx2(c20, c21, scale, o.y + (i + 2) * o.ldy, n);
    if (rows > 3) q_store_avx2(c30, c31, scale, o.y + (i + 3) * o.ldy, n);
  }
}

/* Two panels (32 columns, both full), two rows at once: a row's broadcast
 * and |q| serve four vectors of weights. */
#define Q_AVX2_ROW4(x, c0, c1, c2, c3)                                                                              \
  {                                                                                                                 \
    __m256i s = (x), m = _mm256_abs_epi8(s);                                                                       \
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_maddubs_epi16(m, _mm256_sign_epi8(w0, s)), ones));          \
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_maddubs_epi16(m, _mm256_sign_epi8(w1, s)), ones));          \
    c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(_mm256_maddubs_epi16(m, _mm256_sign_epi8(w2, s)), ones));          \
    c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(_mm256_maddubs_epi16(m, _mm256_sign_epi8(w3, s)), ones));          \
  }
__attribute__((target("avx2"))) static void q_avx2x2(int64_t M, const QRows *a, const int8_t *b, int64_t panel,
                                                    QOut o) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int32_t flip = (int32_t)0x80808080u;
  for (int64_t i = 0; i < M; i += 2) {
    int rows = M - i < 2 ? 1 : 2;
    const uint8_t *a0 = a->row[i], *a1 = a->row[i + (rows > 1)];
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    const int8_t *bg = b;
    for (int64_t r = 0; r < a->runs; r++) {
      const uint8_t *p0 = a0 + a->off[r], *p1 = a1 + a->off[r];
      for (int64_t g = 0; g < a->gpr; g++, bg += 4 * QNR) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)bg), w1 = _mm256_loadu_si256((const __m256i *)(bg + 32));
        __m256i w2 = _mm256_loadu_si256((const __m256i *)(bg + panel));
        __m256i w3 = _mm256_loadu_si256((const __m256i *)(bg + panel + 32));
        Q_AVX2_ROW4(_mm256_set1_epi32(q_load4(p0 + 4 * g) ^ flip), c00, c01, c02, c03)
        Q_AVX2_ROW4(_mm256_set1_epi32(q_load4(p1 + 4 * g) ^ flip), c10, c11, c12, c13)
      }
    }
    q_store_avx2(c00, c01, o.scale, o.y + i * o.ldy, QNR);
    q_store_avx2(c02, c03, o.scale + QNR, o.y + i * o.ldy + QNR, QNR);
    if (rows > 1) {
      q_store_avx2(c10, c11, o.scale, o.y + (i + 1) * o.ldy, QNR);
      q_store_avx2(c12, c13, o.scale + QNR, o.y + (i + 1) * o.ldy + QNR, QNR);
    }
  }
}
#undef Q_AVX2_ROW
#undef Q_AVX2_ROW4

/* AVX-512 VNNI: y = (float)(acc + off) * scale for one row's panel. */
__attribute__((target("avx512f,avx512vnni"))) static inline void q_store16(__m512i acc, const QOut *o, int64_t row,
                                                                          int64_t col, __mmask16 keep) {
  __m512i s = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(keep, o->off + col));
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_maskz_loadu_ps(keep, o->scale + col));
  _mm512_mask_storeu_ps(o->y + row * o->ldy + col, keep, v);
}

/* AVX-512 VNNI, one panel: a group's 64 bytes are one operand of
 * vpdpbusd, a row's 4 bytes broadcast the other; four rows at once. */
__attribute__((target("avx512f,avx512vnni"))) static void q_vnni(int64_t M, int64_t n, const QRows *a, const int8_t *b,
                                                                 QOut o) {
  __mmask16 keep = (__mmask16)((1u << n) - 1);
  for (int64_t i = 0; i < M; i += 4) {
    int rows = M - i < 4 ? (int)(M - i) : 4;
    const uint8_t *a0, *a1, *a2, *a3;
    q_four(a, i, rows, &a0, &a1, &a2, &a3);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    const int8_t *bg = b;
    for (int64_t r = 0; r < a->runs; r++) {
      const uint8_t *p0 = a0 + a->off[r], *p1 = a1 + a->off[r], *p2 = a2 + a->off[r], *p3 = a3 + a->off[r];
      for (int64_t g = 0; g < a->gpr; g++, bg += 4 * QNR) {
        __m512i w = _mm512_loadu_si512(bg);
        c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(q_load4(p0 + 4 * g)), w);
        c1 = _mm512_dpbusd_epi32(c1, _mm512_set1_epi32(q_load4(p1 + 4 * g)), w);
        c2 = _mm512_dpbusd_epi32(c2, _mm512_set1_epi32(q_load4(p2 + 4 * g)), w);
        c3 = _mm512_dpbusd_epi32(c3, _mm512_set1_epi32(q_load4(p3 + 4 * g)), w);
      }
    }
    q_store16(c0, &o, i, 0, keep);
    if (rows > 1) q_store16(c1, &o, i + 1, 0, keep);
    if (rows > 2) q_store16(c2, &o, i + 2, 0, keep);
    if (rows > 3) q_store16(c3, &o, i + 3, 0, keep);
  }
}

/* The same over four panels at once (64 columns, all of them full):
 * sixteen accumulators, each group's four loads of weights and four
 * broadcasts feeding sixteen vpdpbusd. */
#define Q_VNNI_ROW(p, c0, c1, c2, c3)                                                                               \
  {                                                                                                                 \
    __m512i x = _mm512_set1_epi32(q_load4((p) + 4 * g));                                                            \
    c0 = _mm512_dpbusd_epi32(c0, x, w0), c1 = _mm512_dpbusd_epi32(c1, x, w1);                                     \
    c2 = _mm512_dpbusd_epi32(c2, x, w2), c3 = _mm512_dpbusd_epi32(c3, x, w3);                                     \
  }
__attribute__((target("avx512f,avx512vnni"))) static void q_vnni4(int64_t M, const QRows *a, const int8_t *b,
                                                                  int64_t panel, QOut o) {
  for (int64_t i = 0; i < M; i += 4) {
    int rows = M - i < 4 ? (int)(M - i) : 4;
    const uint8_t *a0, *a1, *a2, *a3;
    q_four(a, i, rows, &a0, &a1, &a2, &a3);
    /* sixteen accumulators by name: kept in registers by every compiler */
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
            c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    const int8_t *bg = b;
    for (int64_t r = 0; r < a->runs; r++) {
      const uint8_t *p0 = a0 + a->off[r], *p1 = a1 + a->off[r], *p2 = a2 + a->off[r], *p3 = a3 + a->off[r];
      for (int64_t g = 0; g < a->gpr; g++, bg += 4 * QNR) {
        __m512i w0 = _mm512_loadu_si512(bg), w1 = _mm512_loadu_si512(bg + panel),
                w2 = _mm512_loadu_si512(bg + 2 * panel), w3 = _mm512_loadu_si512(bg + 3 * panel);
        Q_VNNI_ROW(p0, c00, c01, c02, c03)
        Q_VNNI_ROW(p1, c10, c11, c12, c13)
        Q_VNNI_ROW(p2, c20, c21, c22, c23)
        Q_VNNI_ROW(p3, c30, c31, c32, c33)
      }
    }
#define Q_STORE4(r, c0, c1, c2, c3)                                                                                 \
  q_store16(c0, &o, i + r, 0, 0xffff), q_store16(c1, &o, i + r, 16, 0xffff), q_store16(c2, &o, i + r, 32, 0xffff),  \
      q_store16(c3, &o, i + r, 48, 0xffff)
    Q_STORE4(0, c00, c01, c02, c03);
    if (rows > 1) Q_STORE4(1, c10, c11, c12, c13);
    if (rows > 2) Q_STORE4(2, c20, c21, c22, c23);
    if (rows > 3) Q_STORE4(3, c30, c31, c32, c33);
#undef Q_STORE4
  }
}
#undef Q_VNNI_ROW

/* Two panels (32 columns, both full): eight accumulators. */
#define Q_VNNI2_ROW(p, c0, c1)                                                                                      \
  {                                                                                                                 \
    __m512i x = _mm512_set1_epi32(q_load4((p) + 4 * g));                                                            \
    c0 = _mm512_dpbusd_epi32(c0, x, w0), c1 = _mm512_dpbusd_epi32(c1, x, w1);                                     \
  }
__attribute__((target("avx512f,avx512vnni"))) static void q_vnni2(int64_t M, const QRows *a, const int8_t *b,
                                                                  int64_t panel, QOut o) {
  for (int64_t i = 0; i < M; i += 4) {
    int rows = M - i < 4 ? (int)(M - i) : 4;
    const uint8_t *a0, *a1, *a2, *a3;
    q_four(a, i, rows, &a0, &a1, &a2, &a3);
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const int8_t *bg = b;
    for (int64_t r = 0; r < a->runs; r++) {
      const uint8_t *p0 = a0 + a->off[r], *p1 = a1 + a->off[r], *p2 = a2 + a->off[r], *p3 = a3 + a->off[r];
      for (int64_t g = 0; g < a->gpr; g++, bg += 4 * QNR) {
        __m512i w0 = _mm512_loadu_si512(bg), w1 = _mm512_loadu_si512(bg + panel);
        Q_VNNI2_ROW(p0, c00, c01)
        Q_VNNI2_ROW(p1, c10, c11)
        Q_VNNI2_ROW(p2, c20, c21)
        Q_VNNI2_ROW(p3, c30, c31)
      }
    }
    q_store16(c00, &o, i, 0, 0xffff), q_store16(c01, &o, i, 16, 0xffff);
    if (rows > 1) q_store16(c10, &o, i + 1, 0, 0xffff), q_store16(c11, &o, i + 1, 16, 0xffff);
    if (rows > 2) q_store16(c20, &o, i + 2, 0, 0xffff), q_store16(c21, &o, i + 2, 16, 0xffff);
    if (rows > 3) q_store16(c30, &o, i + 3, 0, 0xffff), q_store16(c31, &o, i + 3, 16, 0xffff);
  }
}
#undef Q_VNNI2_ROW

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

/* Rows [0, M) (M <= QMR) of a block against all N columns of the layer. */
static void q_block(int64_t M, int64_t N, const QRows *a, const void *blob, float *y, int64_t ldy) {
  const int8_t *packed = blob;
  int64_t panel = a->runs * a->gpr * 4 * QNR, K = a->runs * a->gpr * 4;
  const int32_t *off = (const int32_t *)(packed + nnrt_qgemm_packed_bytes(K, N));
  const float *scale = (const float *)(off + N);
  int kernel = nnrt_qgemm_kernel();
  for (int64_t j = 0; j < N; j += QNR) {
    int64_t n = N - j < QNR ? N - j : QNR;
    const int8_t *b = packed + (j / QNR) * panel;
    QOut o = {y + j, ldy, off + j, scale + j};
#ifdef NNRT_QX86
    if (kernel == 2 && N - j >= 4 * QNR) {
      q_vnni4(M, a, b, panel, o);
      j += 3 * QNR;
      continue;
    }
    if (kernel == 2 && N - j >= 2 * QNR) {
      q_vnni2(M, a, b, panel, o);
      j += QNR;
      continue;
    }
    if (kernel == 2) {
      q_vnni(M, n, a, b, o);
      continue;
    }
    if (kernel == 1 && N - j >= 2 * QNR) {
      q_avx2x2(M, a, b, panel, o);
      j += QNR;
      continue;
    }
    if (kernel == 1) {
      q_avx2(M, n, a, b, o);
      continue;
    }
#endif
    (void)kernel;
    q_portable(M, n, a, b, o);
  }
}

NNRT_API void nnrt_qgemm(int64_t M, int64_t N, int64_t K, const uint8_t *A, int64_t lda, const void *blob, float *y,
                         int64_t ldy) {
  const uint8_t *row[QMR];
  const int64_t zero = 0;
  QRows a = {row, &zero, 1, (K + 3) / 4};
  for (int64_t i0 = 0; i0 < M; i0 += QMR) {
    int64_t m = M - i0 < QMR ? M - i0 : QMR;
    for (int64_t i = 0; i < m; i++) row[i] = A + (i0 + i) * lda;
    q_block(m, N, &a, blob, y + i0 * ldy, ldy);
  }
}

/* ------------------------------------------------- quantized layers */

#ifdef NNRT_QX86
/* q_bytes (below) eight at a time with AVX2 (at both x86 levels), which compilers do not
 * vectorize from C (the clamps' comparisons could trap): the same bytes
 * (vcvtps2dq rounds to the nearest, ties to even, as the sum with 1.5 *
 * 2^23 does; a NaN clamps to 127 before its byte is zeroed). Returns
 * how many it did and ORs whether one was not finite into *bad. */
__attribute__((target("avx2"))) static int64_t q_bytes_avx2(const float *x, int64_t n, float inv, uint8_t *a,
                                                            int *bad) {
  const __m256 vinv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
  const __m256 zero = _mm256_setzero_ps();
  const __m256i shift = _mm256_set1_epi32(128);
  __m256 fin = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i), f = _mm256_cmp_ps(_mm256_sub_ps(v, v), zero, _CMP_EQ_OQ);
    __m256 t = _mm256_max_ps(_mm256_min_ps(_mm256_mul_ps(v, vinv), hi), lo); /* NaN: min gives 127 */
    __m256i q = _mm256_and_si256(_mm256_add_epi32(_mm256_cvtps_epi32(t), shift), _mm256_castps_si256(f));
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i *)(a + i), _mm_packus_epi16(w, w));
    fin = _mm256_and_ps(fin, f);
  }
  *bad |= _mm256_movemask_ps(fin) != 0xff;
  return i;
}
#endif

/* x[0 .. n) quantized into a: x * inv rounded to the nearest (ties to
 * even) within +-127, plus 128, or 0 for a NaN or an infinity (which no
 * finite value gives). Returns whether one was. `level`: nnrt_isa()'s,
 * a constant where it is inlined. */
static inline __attribute__((always_inline)) int q_bytes(const float *x, int64_t n, float inv, uint8_t *a,
                                                         int level) {
  const float big = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer, ties to even */
  int bad = 0;
  int64_t i = 0;
#ifdef NNRT_QX86
  if (level != NNRT_ISA_GENERIC) i = q_bytes_avx2(x, n, inv, a, &bad);
#endif
  (void)level;
  for (; i < n; i++) {
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
  const void *blob;
  float *y;
  const NnrtEpilogue *epi;
  /* a convolution's: its geometry, the chunk's image quantized with its
   * padding (hp x wp pixels a sample), the runs' offsets and length */
  const struct NnrtWindow *win;
  uint8_t *img;
  int64_t hp, wp, run, row0; /* row0: the chunk's first row in the whole result */
  QRows rows;
  int64_t roff[NNRT_QMAXRUNS];
  int img_bad; /* img holds a NaN or an infinity (as 0) */
} QJob;

/* Whether the window at p reads a NaN or an infinity (a 0 byte). */
static bool q_window_bad(const QJob *j, const uint8_t *p) {
  for (int64_t r = 0; r < j->rows.runs; r++)
    if (memchr(p + j->roff[r], 0, (size_t)j->run)) return true;
  return false;
}

/* Rows [lo, hi) of the result, QMR at a time (a dense layer: as many as
 * fit NNRT_QTILE_BYTES quantized on the stack). */
static inline __attribute__((always_inline)) void q_rows_body(const void *ctx, int64_t lo, int64_t hi, int level) {
  const QJob *j = ctx;
  const struct NnrtWindow *g = j->win;
  const uint8_t *row[QMR];
  QRows a = j->rows;
  a.row = row;
  int64_t K = j->K, N = j->N, K4 = a.gpr * 4, step = QMR;
  _Alignas(64) uint8_t tile[NNRT_QTILE_BYTES];
  if (!g) {
    step = NNRT_QTILE_BYTES / K4 < QMR ? NNRT_QTILE_BYTES / K4 : QMR;
    if (step < 1) { /* outside the contract (the compiler keeps wider layers in float): NaN, never past the tile */
      for (int64_t i = lo * N; i < hi * N; i++) j->y[i] = __builtin_nanf("");
      return;
    }
  }
  int64_t ox = 0, oy = 0, b = 0; /* a convolution's pixel r0 + i, kept as it moves */
  if (g) ox = lo % g->ow, oy = lo / g->ow % g->oh, b = lo / (g->ow * g->oh);
  for (int64_t r0 = lo; r0 < hi; r0 += step) {
    int64_t m = hi - r0 < step ? hi - r0 : step;
    uint64_t bad = 0; /* bit i: row r0 + i read a NaN or an infinity (m <= 64) */
    for (int64_t i = 0; i < m; i++) {
      if (!g) {
        uint8_t *t = tile + i * K4;
        bad |= (uint64_t)q_bytes(j->x + (r0 + i) * K, K, j->inv, t, level) << i;
        for (int64_t p = K; p < K4; p++) t[p] = 128;
        row[i] = t;
        continue;
      }
      row[i] = j->img + ((b * j->hp + oy * g->sh) * j->wp + ox * g->sw) * g->c;
      if (j->img_bad) bad |= (uint64_t)q_window_bad(j, row[i]) << i;
      if (++ox == g->ow) {
        ox = 0;
        if (++oy == g->oh) oy = 0, b++;
      }
    }
    float *y = j->y + (j->row0 + r0) * N;
    q_block(m, N, &a, j->blob, y, N);
    for (int64_t i = 0; bad && i < m; i++)
      if (bad >> i & 1)
        for (int64_t n = 0; n < N; n++) y[i * N + n] = __builtin_nanf("");
    if (j->epi) j->epi->fn(j->epi->ctx, j->row0 + r0, j->row0 + r0 + m, 0, N);
  }
}

/* Rows [lo, hi) of the padded image (hp a sample): the image's rows
 * quantized between their padding (at once where there is none across),
 * the padding's rows 128 (zero). */
static inline __attribute__((always_inline)) void q_image_body(const void *ctx, int64_t lo, int64_t hi, int level) {
  const QJob *j = ctx;
  const struct NnrtWindow *g = j->win;
  int64_t C = g->c, wrow = j->wp * C, right = (j->wp - g->pw - g->w) * C;
  int bad = 0;
  for (int64_t r = lo; r < hi;) {
    uint8_t *d = j->img + r * wrow;
    int64_t b = r / j->hp, iy = r % j->hp - g->ph;
    if (iy < 0 || iy >= g->h) {
      memset(d, 128, (size_t)wrow);
      r++;
      continue;
    }
    /* rows of this sample's image up to hi, at once where nothing pads them across */
    int64_t rows = g->pw == 0 && right == 0 ? (hi < r + g->h - iy ? hi - r : g->h - iy) : 1;
    memset(d, 128, (size_t)(g->pw * C));
    bad |= q_bytes(j->x + (b * g->h + iy) * g->w * C, rows * g->w * C, j->inv, d + g->pw * C, level);
    memset(d + (g->pw + g->w) * C, 128, (size_t)right);
    r += rows;
  }
  if (bad) __atomic_store_n(&((QJob *)ctx)->img_bad, 1, __ATOMIC_RELAXED);
}

/* The loops that quantize and scale, compiled for each level of
 * nnrt_isa() (the same numbers at each: no sum, no fused operation). */
#define Q_LEVELS(name)                                                                                               \
  static void name(const void *ctx, int64_t lo, int64_t hi) { name##_body(ctx, lo, hi, NNRT_ISA_GENERIC); }          \
  Q_LEVEL_X86(name)                                                                                                  \
  static void (*name##_at(void))(const void *, int64_t, int64_t) {                                                   \
    Q_PICK_X86(name);                                                                                                \
    return name;                                                                                                     \
  }
#ifdef NNRT_QX86
#define Q_LEVEL_X86(name)                                                                                            \
  __attribute__((target("avx2,fma"))) static void name##_avx2(const void *ctx, int64_t lo, int64_t hi) {             \
    name##_body(ctx, lo, hi, NNRT_ISA_AVX2);                                                                         \
  }                                                                                                                  \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void name##_avx512(const void *ctx, int64_t lo, \
                                                                                        int64_t hi) {                \
    name##_body(ctx, lo, hi, NNRT_ISA_AVX512);                                                                       \
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

NNRT_API void nnrt_qdense_f32(int nt, int64_t M, int64_t K, int64_t N, const float *x, float inv, const void *blob,
                              float *y, const NnrtEpilogue *epi) {
  static const int64_t zero = 0;
  QJob j = {.M = M, .K = K, .N = N, .x = x, .inv = inv, .blob = blob, .y = y, .epi = epi,
            .rows = {NULL, &zero, 1, (K + 3) / 4}};
  nnrt_parallel_for(nt, M * K * N / 8, M, q_rows_at(), &j);
}

NNRT_API void nnrt_qconv2d_f32(int nt, int64_t n, const struct NnrtWindow *g, const float *x, float inv,
                               const void *blob, float *y, void *scratch, const NnrtEpilogue *epi) {
  int64_t chunk = g->chunk < 1 ? 1 : g->chunk, runs = nnrt_qconv2d_runs(g->kh, g->kw, g->dw);
  int64_t run = nnrt_qconv2d_run(g->kw, g->c, g->dw), K = nnrt_qconv2d_terms(g->kh, g->kw, g->c, g->dw);
  QJob j = {.K = K, .N = g->f, .inv = inv, .blob = blob, .y = y, .epi = epi, .win = g, .img = scratch, .run = run,
            .hp = nnrt_qconv2d_padded(g->h, g->ph, g->oh, g->sh, g->kh, g->dh),
            .wp = nnrt_qconv2d_padded(g->w, g->pw, g->ow, g->sw, g->kw, g->dw)};
  if (runs > NNRT_QMAXRUNS) { /* outside the contract (the compiler keeps such layers in float) */
    for (int64_t i = 0; i < n * g->oh * g->ow * g->f; i++) y[i] = __builtin_nanf("");
    return;
  }
  for (int64_t r = 0; r < runs; r++)
    j.roff[r] = g->dw == 1 ? r * g->dh * j.wp * g->c : (r / g->kw * g->dh * j.wp + r % g->kw * g->dw) * g->c;
  j.rows = (QRows){NULL, j.roff, runs, (run + 3) / 4};
  for (int64_t b0 = 0; b0 < n; b0 += chunk) { /* `chunk` samples' images quantized at a time */
    int64_t m = n - b0 < chunk ? n - b0 : chunk;
    j.M = m * g->oh * g->ow, j.x = x + b0 * g->h * g->w * g->c, j.row0 = b0 * g->oh * g->ow, j.img_bad = 0;
    nnrt_parallel_for(nt, m * j.hp * j.wp * g->c, m * j.hp, q_image_at(), &j);
    nnrt_parallel_for(nt, j.M * K * j.N / 8, j.M, q_rows_at(), &j);
  }
}

#ifndef NNRT_NO_WINDOW
NNRT_WINDOW_API void nnrt_qconv2d_pool_f32(int nt, int64_t n, const NnrtWindow *g, const NnrtWindow *p, int op,
                                           int64_t band, const float *x, float inv, const void *blob, float *t,
                                           float *z, void *scratch, const NnrtEpilogue *epi) {
  const int64_t hwc = g->h * g->w * g->c, pooled = p->oh * p->ow * p->f;
  for (int64_t s0 = 0; s0 < n; s0 += band) {
    const int64_t b = n - s0 < band ? n - s0 : band;
    nnrt_qconv2d_f32(nt, b, g, x + s0 * hwc, inv, blob, t, scratch, epi);
    nnrt_pool_f32(nt, b, op, p, t, NULL, z + s0 * pooled);
  }
}
#endif
