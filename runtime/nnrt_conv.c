/* nnrt_conv.c — the float convolution and its gradients without the
 * column matrix (nnrt.h), used by nnrt_conv2d_*_f32 (nnrt_window.inc)
 * where they apply.
 *
 * Forward: the GEMM's packed panels of A would be the im2col rows of MR
 * output pixels; here the micro-kernel broadcasts each tap's channels from
 * the NHWC image itself, through a table of MR row pointers a tap (a
 * pointer to zeros where the window leaves the image), so that neither the
 * column matrix nor A's panels are written. The weights, w[kh, kw, c, f],
 * are B's rows already: read in place when each group's filters fill whole
 * panels of NR columns, else packed into the GEMM's zero-padded panels.
 * Weight gradient: 8 channels of a tap at a pixel are a row of 8 of A
 * (cols^T), dy's rows are B, in place. Input gradient: a tile's rows of the
 * column matrix, made in a small buffer and added onto dx at once.
 *
 * Every element sums its products in the GEMM's order (K in blocks of
 * NNRT_DIRECT_KC, each block summed from zero with fused multiply-adds,
 * then added to the blocks before it), and col2im's additions keep their
 * order: the results have the same bits as the column path's on the same
 * micro-kernel, whatever the thread count. Needs the GEMM (nnrt_gemm.c)
 * for the choice of the micro-kernel. Winograd's F(2x2, 3x3) for the 3x3
 * forward convolution of stride 1 (at the end) reuses the forward
 * micro-kernel, with other bits. */
#include "nnrt.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NNRT_CONV_X86 1
#include <immintrin.h>
#endif

/* The statements on `parts` threads, t of nth, or run in place for one
 * part: no OpenMP region is entered then (one costs even when it runs
 * serially), and no worksharing loop ever (LLVM's OpenMP allocates for
 * each, as nnrt_window.c notes). */
#ifdef _OPENMP
#define NNRT_TEAM(parts, t, nth, ...)                                          \
  {                                                                            \
    if ((parts) > 1) {                                                         \
      NNRT_PRAGMA(omp parallel num_threads((int)(parts)))                      \
      {                                                                        \
        const int64_t t = omp_get_thread_num(), nth = omp_get_num_threads();  \
        __VA_ARGS__                                                            \
      }                                                                        \
    } else {                                                                   \
      const int64_t t = 0, nth = 1;                                            \
      __VA_ARGS__                                                              \
    }                                                                          \
  }
#else
#define NNRT_TEAM(parts, t, nth, ...)  \
  {                                    \
    const int64_t t = 0, nth = 1;      \
    (void)(parts);                     \
    __VA_ARGS__                        \
  }
#endif

/* the GEMM's block of K (NNRT_KC in nnrt_gemm.c), whose order the sums keep */
enum { NNRT_DIRECT_KC = 256, NNRT_DIRECT_MAXTAPS = 256, NNRT_DIRECT_MB = 96 };

/* A micro-kernel: c[MR x NR] (row stride ldc) = or += the products over
 * k in [k0, k1), k = tap * cg + channel, A(i, k) at src[tap * MR + i][channel],
 * B's row k at b + (k - k0) * ldb. */
typedef void NnrtDirect(const float *const *src, int64_t k0, int64_t k1, int64_t cg, const float *b,
                        int64_t ldb, float *c, int64_t ldc, bool add);

#ifdef NNRT_CONV_X86
__attribute__((target("avx512f"))) static void nnrt_direct_avx512(const float *const *src, int64_t k0,
                                                                  int64_t k1, int64_t cg, const float *b,
                                                                  int64_t ldb, float *c, int64_t ldc, bool add) {
#define NNRT_ROW(i)                                                   \
  {                                                                   \
    __m512 ai = _mm512_set1_ps(s##i[q]);                              \
    c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                       \
    c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                       \
  }
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
  __m512 c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  int64_t t = k0 / cg, ch = k0 - t * cg;
  for (int64_t k = k0; k < k1; t++, ch = 0) {
    const int64_t run = cg - ch < k1 - k ? cg - ch : k1 - k;
    const float *const *r = src + t * 8;
    const float *s0 = r[0] + ch, *s1 = r[1] + ch, *s2 = r[2] + ch, *s3 = r[3] + ch;
    const float *s4 = r[4] + ch, *s5 = r[5] + ch, *s6 = r[6] + ch, *s7 = r[7] + ch;
    for (int64_t q = 0; q < run; q++, b += ldb) {
      __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      NNRT_ROW(0) NNRT_ROW(1) NNRT_ROW(2) NNRT_ROW(3) NNRT_ROW(4) NNRT_ROW(5) NNRT_ROW(6) NNRT_ROW(7)
    }
    k += run;
  }
#undef NNRT_ROW
  __m512 acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                      {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  for (int i = 0; i < 8; i++) {
    if (add) {
      acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc), acc[i][0]);
      acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc + 16), acc[i][1]);
    }
    _mm512_storeu_ps(c + i * ldc, acc[i][0]);
    _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
  }
}

__attribute__((target("avx2,fma"))) static void nnrt_direct_avx2(const float *const *src, int64_t k0,
                                                                int64_t k1, int64_t cg, const float *b,
                                                                int64_t ldb, float *c, int64_t ldc, bool add) {
#define NNRT_ROW(i)                                                   \
  {                                                                   \
    __m256 ai = _mm256_broadcast_ss(s##i + q);                        \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                       \
    c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                       \
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  int64_t t = k0 / cg, ch = k0 - t * cg;
  for (int64_t k = k0; k < k1; t++, ch = 0) {
    const int64_t run = cg - ch < k1 - k ? cg - ch : k1 - k;
    const float *const *r = src + t * 6;
    const float *s0 = r[0] + ch, *s1 = r[1] + ch, *s2 = r[2] + ch, *s3 = r[3] + ch;
    const float *s4 = r[4] + ch, *s5 = r[5] + ch;
    for (int64_t q = 0; q < run; q++, b += ldb) {
      __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      NNRT_ROW(0) NNRT_ROW(1) NNRT_ROW(2) NNRT_ROW(3) NNRT_ROW(4) NNRT_ROW(5)
    }
    k += run;
  }
#undef NNRT_ROW
  __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < 6; i++) {
    if (add) {
      acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(c + i * ldc), acc[i][0]);
      acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(c + i * ldc + 8), acc[i][1]);
    }
    _mm256_storeu_ps(c + i * ldc, acc[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
  }
}
#endif

/* One convolution's work, shared by the threads. */
typedef struct DirectJob {
  const NnrtWindow *g;
  const float *x, *w, *bp, *zeros; /* bp: the weights packed, or NULL */
  float *y;
  const NnrtEpilogue *epi;
  NnrtDirect *micro;
  int64_t mr, nr, npan;
  bool rows; /* K read a window's row at a time (direct_rows) */
} DirectJob;

/* Rows [r0, r1) of y (output pixels of the whole batch) for group gg: per
 * tile of MR pixels the table of row pointers, then the panels of B, each
 * over K block after block; the epilogue after each NNRT_DIRECT_MB rows. */
static void direct_rows(const DirectJob *j, int64_t gg, int64_t r0, int64_t r1) {
  const NnrtWindow *g = j->g;
  const int64_t H = g->h, W = g->w, C = g->c, OH = g->oh, OW = g->ow, F = g->f, KW = g->kw;
  const int64_t G = g->groups, CG = C / G, FG = F / G, R = g->kh * KW * CG;
  const int64_t mr = j->mr, nr = j->nr;
  /* the runs of K the micro-kernel reads at once: a tap's channels, or a
   * whole row of the window (KW taps of C channels, next to each other in
   * the image and in K) where every window's rows lie inside the image
   * across: the thin first layer's 3 channels become runs of 3 KW */
  const bool rows = j->rows;
  const int64_t taps = rows ? g->kh : g->kh * KW, run = rows ? KW * C : CG, tkw = rows ? 1 : KW;
  const float *src[NNRT_DIRECT_MAXTAPS * 8];
  int64_t off[NNRT_DIRECT_MAXTAPS]; /* a run's place in the image from its window's corner */
  for (int64_t t = 0; t < taps; t++) off[t] = (t / tkw * g->dh * W + t % tkw * g->dw) * C;
  const int64_t spanh = (g->kh - 1) * g->dh, spanw = (KW - 1) * g->dw;
  for (int64_t b0 = r0; b0 < r1; b0 += NNRT_DIRECT_MB) {
    const int64_t b1 = r1 - b0 < NNRT_DIRECT_MB ? r1 : b0 + NNRT_DIRECT_MB;
    int64_t nn = b0 / (OH * OW), oh = b0 / OW % OH, ow = b0 % OW; /* pixel i0 + i, kept as it moves */
    for (int64_t i0 = b0; i0 < b1; i0 += mr) {
      const int64_t mi = b1 - i0 < mr ? b1 - i0 : mr;
      for (int64_t i = 0; i < mr; i++) {
        const int64_t ih0 = oh * g->sh - g->ph, iw0 = ow * g->sw - g->pw;
        if (i >= mi) {
          for (int64_t t = 0; t < taps; t++) src[t * mr + i] = j->zeros;
          continue;
        }
        const int64_t corner = ((nn * H + ih0) * W + iw0) * C + gg * CG;
        if (ih0 >= 0 && ih0 + spanh < H && iw0 >= 0 && iw0 + spanw < W) { /* the window inside the image */
          for (int64_t t = 0; t < taps; t++) src[t * mr + i] = j->x + corner + off[t];
        } else {
          for (int64_t t = 0; t < taps; t++) {
            const int64_t ih = ih0 + t / tkw * g->dh, iw = iw0 + t % tkw * g->dw;
            src[t * mr + i] = ih >= 0 && ih < H && iw >= 0 && iw < W ? j->x + (corner + off[t]) : j->zeros;
          }
        }
        if (++ow == OW) {
          ow = 0;
          if (++oh == OH) oh = 0, nn++;
        }
      }
      for (int64_t jp = 0; jp < j->npan; jp++) {
        const int64_t col = gg * FG + jp * nr, nj = FG - jp * nr < nr ? FG - jp * nr : nr;
        /* the weights in place when their rows are whole panels, else packed */
        const int64_t ldb = j->bp ? nr : F;
        const float *b = j->bp ? j->bp + (gg * j->npan + jp) * R * nr : j->w + col;
        float tile[8 * 32];
        const bool whole = mi == mr && nj == nr;
        float *c = whole ? j->y + i0 * F + col : tile;
        const int64_t ldc = whole ? F : nr;
        for (int64_t pc = 0; pc < R; pc += NNRT_DIRECT_KC) {
          const int64_t pe = R - pc < NNRT_DIRECT_KC ? R : pc + NNRT_DIRECT_KC;
          j->micro(src, pc, pe, run, b + pc * ldb, ldb, c, ldc, pc > 0);
        }
        if (!whole)
          for (int64_t i = 0; i < mi; i++) memcpy(j->y + (i0 + i) * F + col, tile + i * nr, sizeof(float) * nj);
      }
    }
    if (j->epi) j->epi->fn(j->epi->ctx, b0, b1, gg * FG, (gg + 1) * FG);
  }
}

NNRT_API size_t nnrt_conv2d_direct_scratch(const NnrtWindow *g) {
  const int64_t nr = 32, CG = g->c / g->groups, FG = g->f / g->groups;
  return (size_t)(g->groups * ((FG + nr - 1) / nr) * nr * g->kh * g->kw * CG + g->kw * g->c + 16);
}

NNRT_API bool nnrt_conv2d_direct_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *w,
                                     float *y, float *scratch, size_t cap, const NnrtEpilogue *epi) {
#ifdef NNRT_CONV_X86
  const int nr = nnrt_sgemm_nr();
  const int64_t mr = nr == 32 ? 8 : 6, G = g->groups, CG = g->c / G, F = g->f, FG = F / G;
  const int64_t taps = g->kh * g->kw, R = taps * CG, PIX = g->oh * g->ow, chunk = g->chunk;
  /* the im2col path's smallest product, M N K, decides whether its GEMM
   * packs (the bits of the small one differ) */
  const int64_t least = (((g->batch ? g->batch : n) - 1) % chunk + 1) * PIX; /* of the whole batch */
  if ((nr != 32 && nr != 16) || n < 1 || taps > NNRT_DIRECT_MAXTAPS || nnrt_conv2d_direct_scratch(g) > cap ||
      (least * FG * R <= 16384 && R <= NNRT_DIRECT_KC))
    return false;
  const int64_t npan = (FG + nr - 1) / nr;
  float *bp = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), *zeros = bp + G * npan * R * nr;
  /* w[R, F] as panels of NR columns of each group, zero-padded; not
   * needed where each group's filters are whole panels: the rows of w
   * are then the panels' rows, read in place (w[kh, kw, c, f] is B) */
  const bool packed = FG % nr != 0;
  for (int64_t gg = 0; packed && gg < G; gg++)
    for (int64_t jp = 0; jp < npan; jp++) {
      const int64_t col = gg * FG + jp * nr, nj = FG - jp * nr < nr ? FG - jp * nr : nr;
      float *dst = bp + (gg * npan + jp) * R * nr;
      for (int64_t k = 0; k < R; k++) {
        memcpy(dst + k * nr, w + k * F + col, sizeof(float) * (size_t)nj);
        memset(dst + k * nr + nj, 0, sizeof(float) * (size_t)(nr - nj));
      }
    }
  memset(zeros, 0, sizeof(float) * (size_t)(g->kw * g->c));
  const int64_t M = n * PIX, tiles = (M + mr - 1) / mr;
  const bool rows = G == 1 && g->dw == 1 && g->pw == 0 && (g->ow - 1) * g->sw + g->kw <= g->w;
  const int64_t parts = nnrt_parts(nt, M * F * R, tiles);
  DirectJob job = {g, x, w, packed ? bp : NULL, zeros, y, epi, nr == 32 ? nnrt_direct_avx512 : nnrt_direct_avx2,
                   mr, nr, npan, rows};
  /* threads take contiguous runs of whole tiles (a row is one thread's) */
#ifdef _OPENMP
  if (parts > 1) {
#pragma omp parallel num_threads((int)parts)
    {
      const int64_t t = omp_get_thread_num(), nth = omp_get_num_threads();
      const int64_t r0 = tiles * t / nth * mr, r1 = tiles * (t + 1) / nth * mr < M ? tiles * (t + 1) / nth * mr : M;
      for (int64_t gg = 0; gg < G; gg++)
        if (r0 < r1) direct_rows(&job, gg, r0, r1);
    }
    return true;
  }
#endif
  (void)parts;
  for (int64_t gg = 0; gg < G; gg++) direct_rows(&job, gg, 0, M);
  return true;
#else
  (void)nt, (void)n, (void)g, (void)x, (void)w, (void)y, (void)scratch, (void)cap, (void)epi;
  return false;
#endif
}

/* The weight gradient's micro-kernel: c[8 x 32] (row stride ldc) = or +=
 * the products over kc pixels, A(i, p) = px[p][i] (8 channels of a tap at
 * pixel p, or zeros), B's row p at b + p * ldb (the output gradient's row
 * of pixel p, in place). */
#ifdef NNRT_CONV_X86
__attribute__((target("avx512f"))) static void nnrt_direct_bw_avx512(const float *const *px, int64_t kc,
                                                                     const float *b, int64_t ldb, float *c,
                                                                     int64_t ldc, bool add) {
#define NNRT_ROW(i)                                                   \
  {                                                                   \
    __m512 ai = _mm512_set1_ps(a[i]);                                 \
    c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                       \
    c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                       \
  }
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
  __m512 c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (int64_t p = 0; p < kc; p++, b += ldb) {
    const float *a = px[p];
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    NNRT_ROW(0) NNRT_ROW(1) NNRT_ROW(2) NNRT_ROW(3) NNRT_ROW(4) NNRT_ROW(5) NNRT_ROW(6) NNRT_ROW(7)
  }
#undef NNRT_ROW
  __m512 acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                      {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  for (int i = 0; i < 8; i++) {
    if (add) {
      acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc), acc[i][0]);
      acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc + 16), acc[i][1]);
    }
    _mm512_storeu_ps(c + i * ldc, acc[i][0]);
    _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
  }
}

/* One slice's partial gradient, part[R, F] (columns of group gg), = or +=
 * the sum over pixels [q0, q1) of the batch, as the GEMM sums it: pixels in
 * blocks of NNRT_DIRECT_KC from q0, each block from zero, added on. tab:
 * taps * NNRT_DIRECT_KC pointers. */
static void direct_bw_slice(const NnrtWindow *g, const float *x, const float *dy, float *part, int64_t gg,
                            int64_t q0, int64_t q1, bool add, const float *zeros, const float **tab) {
  const int64_t H = g->h, W = g->w, C = g->c, OH = g->oh, OW = g->ow, F = g->f, KW = g->kw;
  const int64_t CG = C / g->groups, FG = F / g->groups, taps = g->kh * KW;
  for (int64_t pc = q0; pc < q1; pc += NNRT_DIRECT_KC) {
    const int64_t kc = q1 - pc < NNRT_DIRECT_KC ? q1 - pc : NNRT_DIRECT_KC;
    for (int64_t p = 0; p < kc; p++) {
      const int64_t q = pc + p, nn = q / (OH * OW), oh = q / OW % OH, ow = q % OW;
      const int64_t ih0 = oh * g->sh - g->ph, iw0 = ow * g->sw - g->pw;
      for (int64_t t = 0; t < taps; t++) {
        const int64_t ih = ih0 + t / KW * g->dh, iw = iw0 + t % KW * g->dw;
        tab[t * NNRT_DIRECT_KC + p] =
            ih >= 0 && ih < H && iw >= 0 && iw < W ? x + ((nn * H + ih) * W + iw) * C + gg * CG : zeros;
      }
    }
    for (int64_t r0 = 0; r0 < taps * CG; r0 += 8) {
      const int64_t t = r0 / CG, c0 = r0 - t * CG;
      const float *px[NNRT_DIRECT_KC];
      for (int64_t p = 0; p < kc; p++) px[p] = tab[t * NNRT_DIRECT_KC + p] + c0;
      for (int64_t j0 = 0; j0 < FG; j0 += 32)
        nnrt_direct_bw_avx512(px, kc, dy + pc * F + gg * FG + j0, F, part + r0 * F + gg * FG + j0, F,
                              add || pc > q0);
    }
  }
}
#endif

NNRT_API bool nnrt_conv2d_direct_bw_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *dy,
                                        float *part, float *scratch, size_t cap) {
#ifdef NNRT_CONV_X86
  enum { SLICES = NNRT_CONV_SLICES };
  const int64_t G = g->groups, CG = g->c / G, FG = g->f / G, taps = g->kh * g->kw, R = taps * CG;
  const int64_t PIX = g->oh * g->ow, chunk = g->chunk;
  /* the AVX-512 micro-kernel, tiles of 8 channels of one tap and 32
   * filters, room for the zeros and each slice's pointers */
  const size_t need = (size_t)CG + 16 + (size_t)SLICES * (size_t)taps * NNRT_DIRECT_KC * 2;
  if (nnrt_sgemm_nr() != 32 || n < 1 || CG % 8 || FG % 32 || need > cap) return false;
  /* every slice's product one the GEMM packs (the small one's bits differ) */
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t P = (n - n0 < chunk ? n - n0 : chunk) * PIX;
    for (int64_t sl = 0; sl < SLICES; sl++) {
      const int64_t k = P * (sl + 1) / SLICES - P * sl / SLICES;
      if (R * FG * k <= 16384 && k <= NNRT_DIRECT_KC) return false;
    }
  }
  float *zeros = scratch;
  const float **tabs = (const float **)(((uintptr_t)(scratch + CG) + 63) & ~(uintptr_t)63);
  memset(zeros, 0, sizeof(float) * (size_t)CG);
  for (int64_t gg = 0; gg < G; gg++)
    for (int64_t n0 = 0; n0 < n; n0 += chunk) {
      const int64_t P = (n - n0 < chunk ? n - n0 : chunk) * PIX, parts = nnrt_parts(nt, P * R * FG, SLICES);
      NNRT_TEAM(parts, t, nth,
      for (int64_t sl = SLICES * t / nth; sl < SLICES * (t + 1) / nth; sl++)
        direct_bw_slice(g, x, dy, part + sl * R * g->f, gg, n0 * PIX + P * sl / SLICES,
                        n0 * PIX + P * (sl + 1) / SLICES, n0 > 0, zeros, tabs + sl * taps * NNRT_DIRECT_KC);)
    }
  return true;
#else
  (void)nt, (void)n, (void)g, (void)x, (void)dy, (void)part, (void)scratch, (void)cap;
  return false;
#endif
}

/* The input gradient's pixels [i0, i0 + mi) of sample nn, group gg: their
 * rows of the column matrix, cols[mi, R] (row stride ldt), added onto dx
 * pixel after pixel, in the order col2im adds them (nnrt_window.inc). */
static void direct_bx_scatter(const NnrtWindow *g, const float *cols, int64_t ldt, float *dx, int64_t nn,
                              int64_t i0, int64_t mi, int64_t gg) {
  const int64_t H = g->h, W = g->w, C = g->c, OW = g->ow, KW = g->kw, CG = C / g->groups;
  const bool runs = CG == C && g->dw == 1;
  for (int64_t i = 0; i < mi; i++) {
    const int64_t oh = (i0 + i) / OW, ow = (i0 + i) % OW, iw0 = ow * g->sw - g->pw;
    for (int64_t kh = 0; kh < g->kh; kh++) {
      const int64_t ih = oh * g->sh - g->ph + kh * g->dh;
      if (ih < 0 || ih >= H) continue;
      const float *src = cols + i * ldt + kh * KW * CG;
      float *row = dx + (nn * H + ih) * W * C + gg * CG;
      if (runs && iw0 >= 0 && iw0 + KW <= W) {
        for (int64_t q = 0; q < KW * C; q++) row[iw0 * C + q] += src[q];
        continue;
      }
      for (int64_t kw = 0; kw < KW; kw++) {
        const int64_t iw = iw0 + kw * g->dw;
        if (iw >= 0 && iw < W)
          for (int64_t q = 0; q < CG; q++) row[iw * C + q] += src[kw * CG + q];
      }
    }
  }
}

NNRT_API bool nnrt_conv2d_direct_bx_f32(int nt, int64_t n, const NnrtWindow *g, const float *dy, const float *w,
                                        float *dx, float *scratch, size_t cap, const NnrtEpilogue *epi) {
#ifdef NNRT_CONV_X86
  const int nr = nnrt_sgemm_nr();
  const int64_t mr = nr == 32 ? 8 : 6, G = g->groups, CG = g->c / G, F = g->f, FG = F / G;
  const int64_t R = g->kh * g->kw * CG, PIX = g->oh * g->ow, chunk = g->chunk, HWC = g->h * g->w * g->c;
  const int64_t npan = (R + nr - 1) / nr, ldt = npan * nr, least = ((n - 1) % chunk + 1) * PIX;
  const int64_t parts = nnrt_parts(nt, n * PIX * R * FG, n);
  /* w^T packed (panels of NR taps, zero-padded), then each thread's
   * column rows of a tile */
  const size_t need = (size_t)(G * ldt * FG + parts * mr * ldt + 16);
  if ((nr != 32 && nr != 16) || n < 1 || need > cap || (least * R * FG <= 16384 && FG <= NNRT_DIRECT_KC))
    return false;
  float *bp = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), *tiles = bp + G * ldt * FG;
  /* B(f, r) = w[r, gg * FG + f], as the GEMM packs it */
  for (int64_t gg = 0; gg < G; gg++)
    for (int64_t jp = 0; jp < npan; jp++)
      for (int64_t f = 0; f < FG; f++) {
        float *dst = bp + ((gg * npan + jp) * FG + f) * nr;
        for (int64_t c = 0; c < nr; c++) {
          const int64_t r = jp * nr + c;
          dst[c] = r < R ? w[r * F + gg * FG + f] : 0;
        }
      }
  NnrtDirect *micro = nr == 32 ? nnrt_direct_avx512 : nnrt_direct_avx2;
  NNRT_TEAM(parts, t, nth,
    float *tile = tiles + t * mr * ldt;
    const float *src[8];
    for (int64_t nn = n * t / nth; nn < n * (t + 1) / nth; nn++) {
      memset(dx + nn * HWC, 0, sizeof(float) * (size_t)HWC);
      for (int64_t gg = 0; gg < G; gg++)
        for (int64_t i0 = 0; i0 < PIX; i0 += mr) {
          const int64_t mi = PIX - i0 < mr ? PIX - i0 : mr;
          /* cols[pixels, R] = dy[pixels, FG] w^T: the rows of dy are A's */
          for (int64_t i = 0; i < mr; i++) src[i] = dy + (nn * PIX + i0 + (i < mi ? i : 0)) * F + gg * FG;
          for (int64_t jp = 0; jp < npan; jp++)
            for (int64_t pc = 0; pc < FG; pc += NNRT_DIRECT_KC) {
              const int64_t pe = FG - pc < NNRT_DIRECT_KC ? FG : pc + NNRT_DIRECT_KC;
              micro(src, pc, pe, FG, bp + ((gg * npan + jp) * FG + pc) * nr, nr, tile + jp * nr, ldt, pc > 0);
            }
          direct_bx_scatter(g, tile, ldt, dx, nn, i0, mi, gg);
        }
      if (epi) epi->fn(epi->ctx, nn * g->h * g->w, (nn + 1) * g->h * g->w, 0, g->c);
    })
  return true;
#else
  (void)nt, (void)n, (void)g, (void)dy, (void)w, (void)dx, (void)scratch, (void)cap, (void)epi;
  return false;
#endif
}

/* Winograd's F(2x2, 3x3) for the float 3x3 convolution of stride 1 and
 * dilation 1 with one group: each 2x2 block of output pixels (a tile)
 * from the 4x4 input patch d under it, Y = A^T [(G g G^T) .* (B^T d B)] A.
 * The 16 elementwise products, summed over the channels, are 16 matrix
 * products V_k[tiles, C] U_k[C, F], run by the micro-kernel above with its
 * order of sums (C in blocks of NNRT_DIRECT_KC): 2.25 times fewer
 * multiply-adds than the direct kernel, and other bits. The transforms of
 * d and of the products only add and subtract, that of g adds and halves,
 * so that no compiler fuses any of them into multiply-adds, and each
 * element's sums have one order whatever the thread count.
 *
 * The tiles go in blocks of whole rows of tiles, so that a block's outputs
 * are one run of pixels, handed to the epilogue at once; a block's V and
 * products are sized to stay in the cache, and threads take contiguous
 * runs of blocks. */
#ifdef NNRT_CONV_X86
enum { NNRT_WINO_TILE = 4096 }; /* a block's tiles times C + F, the floats of each V_k and M_k */

/* where it wins over the direct kernel (docs/performance.md): enough
 * channels and filters for the products, enough tiles a sample to
 * amortize the weights' transform (a sample's, not the batch's: a
 * sample's bits must not depend on the batch it comes in) */
static bool nnrt_winograd_fits(int64_t c, int64_t f, int64_t tiles) { return c >= 16 && f >= 32 && tiles >= 4; }

typedef float nnrt_wv8 __attribute__((vector_size(32), aligned(4), may_alias));

/* the three transforms on 8 elements at once or on one, T the type, L(p)
 * the value at p, S(p, e) storing e there */
#define NNRT_WINO_W(T, L, S)                                                                  \
  {                                                                                           \
    T t[4][3];                                                                                \
    for (int j = 0; j < 3; j++) {                                                             \
      t[0][j] = L(g + j * ldg);                                                               \
      t[1][j] = (L(g + j * ldg) + L(g + (3 + j) * ldg) + L(g + (6 + j) * ldg)) * 0.5f;        \
      t[2][j] = (L(g + j * ldg) - L(g + (3 + j) * ldg) + L(g + (6 + j) * ldg)) * 0.5f;        \
      t[3][j] = L(g + (6 + j) * ldg);                                                         \
    }                                                                                         \
    for (int i = 0; i < 4; i++) {                                                             \
      S(u + (i * 4) * ldu, t[i][0]);                                                          \
      S(u + (i * 4 + 1) * ldu, (t[i][0] + t[i][1] + t[i][2]) * 0.5f);                         \
      S(u + (i * 4 + 2) * ldu, (t[i][0] - t[i][1] + t[i][2]) * 0.5f);                         \
      S(u + (i * 4 + 3) * ldu, t[i][2]);                                                      \
    }                                                                                         \
  }
#define NNRT_WINO_IN(T, L, S)                                                                 \
  {                                                                                           \
    T t[4][4];                                                                                \
    for (int j = 0; j < 4; j++) {                                                             \
      t[0][j] = L(d[j]) - L(d[8 + j]);                                                        \
      t[1][j] = L(d[4 + j]) + L(d[8 + j]);                                                    \
      t[2][j] = L(d[8 + j]) - L(d[4 + j]);                                                    \
      t[3][j] = L(d[4 + j]) - L(d[12 + j]);                                                   \
    }                                                                                         \
    for (int i = 0; i < 4; i++) {                                                             \
      S(v + (i * 4) * ldv, t[i][0] - t[i][2]);                                                \
      S(v + (i * 4 + 1) * ldv, t[i][1] + t[i][2]);                                            \
      S(v + (i * 4 + 2) * ldv, t[i][2] - t[i][1]);                                            \
      S(v + (i * 4 + 3) * ldv, t[i][1] - t[i][3]);                                            \
    }                                                                                         \
  }
#define NNRT_WINO_OUT(T, L, S)                                                                \
  {                                                                                           \
    T s[2][4];                                                                                \
    for (int j = 0; j < 4; j++) {                                                             \
      s[0][j] = L(m + j * ldm) + L(m + (4 + j) * ldm) + L(m + (8 + j) * ldm);                 \
      s[1][j] = L(m + (4 + j) * ldm) - L(m + (8 + j) * ldm) - L(m + (12 + j) * ldm);          \
    }                                                                                         \
    for (int i = 0; i < 2; i++) {                                                             \
      if (dst[2 * i]) S(dst[2 * i], s[i][0] + s[i][1] + s[i][2]);                             \
      if (dst[2 * i + 1]) S(dst[2 * i + 1], s[i][1] - s[i][2] - s[i][3]);                     \
    }                                                                                         \
  }
#define NNRT_LV(p) (*(const nnrt_wv8 *)((p) + e))
#define NNRT_SV(p, x) (*(nnrt_wv8 *)((p) + e) = (x))
#define NNRT_LS(p) ((p)[e])
#define NNRT_SS(p, x) ((p)[e] = (x))

/* U_k[c, f] = (G g G^T)_k of w[3][3][C][F]'s channel c and filter f, into
 * uk[k * ldu + c * nr] of f's panel, zero past F */
static void wino_weights(const float *w, int64_t C, int64_t F, int64_t nr, int64_t npan, float *uk, int64_t ldu) {
  const int64_t ldg = C * F;
  for (int64_t c = 0; c < C; c++)
    for (int64_t jp = 0; jp < npan; jp++) {
      const float *g = w + c * F + jp * nr;
      float *u = uk + (jp * C + c) * nr;
      const int64_t nj = F - jp * nr < nr ? F - jp * nr : nr;
      int64_t e = 0;
      for (; e + 8 <= nj; e += 8) NNRT_WINO_W(nnrt_wv8, NNRT_LV, NNRT_SV)
      for (; e < nj; e++) NNRT_WINO_W(float, NNRT_LS, NNRT_SS)
      for (int k = 0; k < 16; k++) memset(u + k * ldu + nj, 0, sizeof(float) * (size_t)(nr - nj));
    }
}

/* V_k = (B^T d B)_k of a tile's 16 input pixels d[16] (C channels each) into v[k * ldv] */
static void wino_input(const float *const d[16], int64_t C, float *v, int64_t ldv) {
  int64_t e = 0;
  for (; e + 8 <= C; e += 8) NNRT_WINO_IN(nnrt_wv8, NNRT_LV, NNRT_SV)
  for (; e < C; e++) NNRT_WINO_IN(float, NNRT_LS, NNRT_SS)
}

/* A^T m A of a tile's 16 products (F filters each, m[k * ldm]) into its
 * 2x2 pixels dst[4] (NULL: past the result's edge) */
static void wino_output(const float *m, int64_t ldm, int64_t F, float *const dst[4]) {
  int64_t e = 0;
  for (; e + 8 <= F; e += 8) NNRT_WINO_OUT(nnrt_wv8, NNRT_LV, NNRT_SV)
  for (; e < F; e++) NNRT_WINO_OUT(float, NNRT_LS, NNRT_SS)
}
#undef NNRT_WINO_W
#undef NNRT_WINO_IN
#undef NNRT_WINO_OUT
#undef NNRT_LV
#undef NNRT_SV
#undef NNRT_LS
#undef NNRT_SS

typedef struct WinoJob {
  const NnrtWindow *g;
  const float *x, *u, *zeros; /* U_k at u + k * uk */
  float *y;
  const NnrtEpilogue *epi;
  NnrtDirect *micro;
  int64_t mr, nr, npan;
  int64_t tw, th, rows, rb;       /* tiles across and down, rows of tiles in all and a block */
  int64_t uk, vk, mk;             /* the floats from one U_k, V_k, M_k to the next */
} WinoJob;

/* Blocks [b0, b1), in work: V_k[tiles][C] at work + k * vk, then the products M_k[tiles][npan * nr]. */
static void wino_blocks(const WinoJob *j, int64_t b0, int64_t b1, float *work) {
  const NnrtWindow *g = j->g;
  const int64_t H = g->h, W = g->w, C = g->c, OH = g->oh, OW = g->ow, F = g->f, tw = j->tw, th = j->th;
  const int64_t mr = j->mr, nr = j->nr, ldm = j->npan * nr, vk = j->vk, mk = j->mk;
  float *v = work, *m = work + 16 * vk;
  for (int64_t b = b0; b < b1; b++) {
    const int64_t q0 = b * j->rb, q1 = q0 + j->rb < j->rows ? q0 + j->rb : j->rows, tiles = (q1 - q0) * tw;
    for (int64_t t = 0; t < tiles; t++) {
      const int64_t q = q0 + t / tw, nn = q / th, ih0 = q % th * 2 - g->ph, iw0 = t % tw * 2 - g->pw;
      const float *d[16];
      for (int r = 0; r < 16; r++) {
        const int64_t ih = ih0 + r / 4, iw = iw0 + r % 4;
        d[r] = ih >= 0 && ih < H && iw >= 0 && iw < W ? j->x + ((nn * H + ih) * W + iw) * C : j->zeros;
      }
      wino_input(d, C, v + t * C, vk);
    }
    for (int64_t k = 0; k < 16; k++)
      for (int64_t jp = 0; jp < j->npan; jp++) /* a panel of U_k kept in the cache for all tiles */
        for (int64_t i0 = 0; i0 < tiles; i0 += mr) {
          const float *src[8];
          for (int64_t i = 0; i < mr; i++) src[i] = i0 + i < tiles ? v + k * vk + (i0 + i) * C : j->zeros;
          for (int64_t pc = 0; pc < C; pc += NNRT_DIRECT_KC) {
            const int64_t pe = C - pc < NNRT_DIRECT_KC ? C : pc + NNRT_DIRECT_KC;
            j->micro(src, pc, pe, C, j->u + k * j->uk + (jp * C + pc) * nr, nr, m + k * mk + i0 * ldm + jp * nr,
                     ldm, pc > 0);
          }
      }
    for (int64_t t = 0; t < tiles; t++) {
      const int64_t q = q0 + t / tw, nn = q / th, oh = q % th * 2, ow = t % tw * 2;
      float *dst[4];
      for (int r = 0; r < 4; r++)
        dst[r] = oh + r / 2 < OH && ow + r % 2 < OW ? j->y + ((nn * OH + oh + r / 2) * OW + ow + r % 2) * F : NULL;
      wino_output(m + t * ldm, mk, F, dst);
    }
    if (j->epi) {
      const int64_t last = (q1 - 1) % th * 2 + 2;
      j->epi->fn(j->epi->ctx, (q0 / th * OH + q0 % th * 2) * OW, ((q1 - 1) / th * OH + (last < OH ? last : OH)) * OW,
                 0, F);
    }
  }
}
#endif

NNRT_API bool nnrt_conv2d_winograd_f32(int nt, int64_t n, const NnrtWindow *g, const float *x, const float *w,
                                       float *y, float *scratch, size_t cap, const NnrtEpilogue *epi, void *kept) {
#ifdef NNRT_CONV_X86
  const int nr = nnrt_sgemm_nr();
  const int64_t mr = nr == 32 ? 8 : 6, C = g->c, F = g->f, tw = (g->ow + 1) / 2, th = (g->oh + 1) / 2;
  if ((nr != 32 && nr != 16) || g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 || g->dh != 1 || g->dw != 1 ||
      g->groups != 1 || n < 1 || !nnrt_winograd_fits(C, F, tw * th))
    return false;
  const int64_t npan = (F + nr - 1) / nr, ldm = npan * nr, rows = n * th, all = (g->batch ? g->batch : n) * th;
  /* a block about NNRT_WINO_TILE tiles, at least a row of them (sized for
   * the whole batch, of which a call may have a band: the same choice) */
  int64_t rb = NNRT_WINO_TILE / (C + ldm) / tw;
  rb = rb < 1 ? 1 : rb > all ? all : rb;
  /* V_k and M_k of a block, whole tiles of MR rows, an odd number of cache
   * lines apart: the 16 of a tile then fall in 16 different sets of the
   * cache (a multiple of 4 KiB apart, they evict each other) */
  const int64_t tbr = (rb * tw + mr - 1) / mr * mr, blocks = (rows + rb - 1) / rb;
  const int64_t uk = (C * ldm / 16 | 1) * 16, vk = ((tbr * C + 15) / 16 | 1) * 16, mk = ((tbr * ldm + 15) / 16 | 1) * 16;
  const size_t shared = (size_t)(16 * uk + C + 16), per = (size_t)(16 * (vk + mk));
  if (shared + per > cap) return false;
  int64_t parts = nnrt_parts(nt, n * tw * th * 16 * C * ldm, blocks);
  if ((size_t)parts > (cap - shared) / per) parts = (int64_t)((cap - shared) / per);
  float *u = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), *zeros = u + 16 * uk, *work = zeros + C;
  /* the transform in the instance's slot: its header's first word is the
   * tile's NR it was made for, 0 until it is (the slot is zeroed when the
   * parameters change); the scratch keeps its layout either way */
  int64_t *made = kept && 64 + 16 * uk * (int64_t)sizeof(float) <= nnrt_winograd_kept_bytes(C, F) ? kept : NULL;
  if (made) u = (float *)((char *)kept + 64);
  if (!made || *made != nr) wino_weights(w, C, F, nr, npan, u, uk);
  if (made) *made = nr;
  memset(zeros, 0, sizeof(float) * (size_t)C);
  WinoJob job = {g,  x,  u,    zeros, y,    epi, nr == 32 ? nnrt_direct_avx512 : nnrt_direct_avx2,
                 mr, nr, npan, tw,    th,   rows, rb, uk, vk, mk};
  NNRT_TEAM(parts, t, nth, wino_blocks(&job, blocks * t / nth, blocks * (t + 1) / nth, work + (size_t)t * per);)
  return true;
#else
  (void)nt, (void)n, (void)g, (void)x, (void)w, (void)y, (void)scratch, (void)cap, (void)epi, (void)kept;
  return false;
#endif
}
#undef NNRT_TEAM
