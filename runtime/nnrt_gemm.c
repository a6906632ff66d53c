/* nnrt_gemm.c — the matrix products generated code calls (nnrt.h): the
 * float one blocked and packed, with micro-kernels for AVX-512, AVX2 and
 * portable vectors chosen when the program runs (NNRT_ISA narrows the
 * choice); the double one plain. */
#include "nnrt.h"

#include <stdlib.h>
#include <string.h>

/* C[M x N] (+)= A[M x K] B[K x N] in float (added to C when `add`), A(i, p) at A[i * ars + p * acs],
 * B(p, j) at B[p * brs + j * bcs], C row-major with row stride ldc.
 * Blocked as in Goto and van de Geijn's GEMM: K in blocks of KC, N in
 * blocks of NC, M in blocks of up to MC rows; panels of A and B are packed
 * into `scratch` (nnrt_sgemm_scratch floats), and a register-blocked
 * micro-kernel computes MR x NR tiles of C: 8 x 32 with AVX-512, 6 x 16
 * with AVX2 and FMA, 4 x 8 of portable vector code otherwise, chosen when
 * the program runs. Small
 * products (M N K <= 16384) skip the packing. Every element of C sums its K
 * products in order, block after block, so the result does not depend on
 * how the rows are split among threads. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NNRT_X86 1
#include <immintrin.h>
#endif
/* NNRT_MAXTEAM: the most members a product splits into (each needs its own
 * packed panels of B, KC x NC floats: 64 need 70 MB at most) */
enum { NNRT_KC = 256, NNRT_MC = 96, NNRT_NC = 1024, NNRT_MAXTILE = 8 * 32, NNRT_MAXTEAM = 64 };
#if defined(__GNUC__) || defined(__clang__) /* else the portable tile is plain loops */
typedef float nnrt_v8 __attribute__((vector_size(32), aligned(4), may_alias));
#define NNRT_VECTORS 1
#endif

NNRT_API size_t nnrt_sgemm_scratch(int nt) {
  size_t team = (size_t)(nnrt_threads(nt) < NNRT_MAXTEAM ? nnrt_threads(nt) : NNRT_MAXTEAM);
  return team * (NNRT_KC * NNRT_NC + NNRT_MC * NNRT_KC) + 64;
}

/* The micro-kernels: c[MR x NR] (row stride ldc) = or += a-panel x
 * b-panel over kc, the tile's accumulators in named variables so that they
 * stay in registers. Each is compiled for its instruction set whatever
 * the file is compiled for; nnrt_tile() picks the widest the processor
 * runs, so a program built for any x86-64 still uses AVX2 or AVX-512. */
typedef void NnrtMicro(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                       int64_t ldc, bool add);
typedef struct NnrtTile {
  int mr, nr;
  NnrtMicro *micro;
} NnrtTile;

#ifdef NNRT_X86
__attribute__((target("avx512f"))) static void nnrt_micro_avx512(int64_t kc, const float *restrict a,
                                                                 const float *restrict b, float *restrict c,
                                                                 int64_t ldc, bool add) {
#define NNRT_ROW(i)                                                   \
  {                                                                   \
    __m512 ai = _mm512_set1_ps(a[p * 8 + i]);                         \
    c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                       \
    c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                       \
  }
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
  __m512 c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (int64_t p = 0; p < kc; p++) {
    __m512 b0 = _mm512_load_ps(b + p * 32), b1 = _mm512_load_ps(b + p * 32 + 16);
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

__attribute__((target("avx2,fma"))) static void nnrt_micro_avx2(int64_t kc, const float *restrict a,
                                                                const float *restrict b, float *restrict c,
                                                                int64_t ldc, bool add) {
#define NNRT_ROW(i)                                                   \
  {                                                                   \
    __m256 ai = _mm256_broadcast_ss(a + p * 6 + i);                   \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                       \
    c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                       \
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < kc; p++) {
    __m256 b0 = _mm256_load_ps(b + p * 16), b1 = _mm256_load_ps(b + p * 16 + 8);
    NNRT_ROW(0) NNRT_ROW(1) NNRT_ROW(2) NNRT_ROW(3) NNRT_ROW(4) NNRT_ROW(5)
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

static void nnrt_micro_generic(int64_t kc, const float *restrict a, const float *restrict b,
                               float *restrict c, int64_t ldc, bool add) {
#ifndef NNRT_VECTORS /* the same sums, element by element (a compiler without vector types) */
  float acc[4][8] = {{0}};
  for (int64_t p = 0; p < kc; p++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 8; j++) acc[i][j] += a[p * 4 + i] * b[p * 8 + j];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) c[i * ldc + j] = add ? acc[i][j] + c[i * ldc + j] : acc[i][j];
#else
  nnrt_v8 c0 = {0}, c1 = c0, c2 = c0, c3 = c0;
  for (int64_t p = 0; p < kc; p++) {
    nnrt_v8 bv = *(const nnrt_v8 *)(b + p * 8);
    const float *ap = a + p * 4;
    c0 += ap[0] * bv;
    c1 += ap[1] * bv;
    c2 += ap[2] * bv;
    c3 += ap[3] * bv;
  }
  nnrt_v8 acc[4] = {c0, c1, c2, c3};
  for (int i = 0; i < 4; i++) {
    nnrt_v8 *ci = (nnrt_v8 *)(c + i * ldc);
    if (add) acc[i] += *ci;
    *ci = acc[i];
  }
#endif
}

/* The widest tile this processor runs (nnrt_isa(): NNRT_ISA=avx2|generic
 * narrows it, for comparisons). */
static const NnrtTile *nnrt_tile(void) {
  static const NnrtTile generic = {4, 8, nnrt_micro_generic};
#ifdef NNRT_X86
  static const NnrtTile avx512 = {8, 32, nnrt_micro_avx512}, avx2 = {6, 16, nnrt_micro_avx2};
  int isa = nnrt_isa();
  return isa == NNRT_ISA_AVX512 ? &avx512 : isa == NNRT_ISA_AVX2 ? &avx2 : &generic;
#else
  return &generic;
#endif
}

NNRT_API int nnrt_sgemm_nr(void) { return nnrt_tile()->nr; }

/* Rows [r0, end) of C for one block of K (pc, kc) and N (jc, npan panels
 * packed in bp): A's rows packed into ap, then the micro-kernel per tile. */
static void nnrt_sgemm_rows(const NnrtTile *tile, int64_t r0, int64_t end, int64_t N, int64_t jc,
                            int64_t pc, int64_t kc, int64_t npan, const float *A, int64_t ars, int64_t acs,
                            const float *bp, float *C, int64_t ldc, bool add, float *ap,
                            const NnrtEpilogue *epi) {
  const int64_t mr = tile->mr, nr = tile->nr;
  for (int64_t ic = r0; ic < end; ic += NNRT_MC) {
    int64_t mc = end - ic < NNRT_MC ? end - ic : NNRT_MC, mpan = (mc + mr - 1) / mr;
    for (int64_t ip = 0; ip < mpan; ip++) {
      int64_t row0 = ic + ip * mr;
      if (row0 + mr <= end && ars == 1) { /* A stored transposed: columns are rows */
        for (int64_t p = 0; p < kc; p++)
          memcpy(ap + (ip * kc + p) * mr, A + row0 + (pc + p) * acs, sizeof(float) * mr);
      } else if (row0 + mr <= end && acs == 1) { /* rows of A: a transposing copy, 8 columns at a time */
        const float *src = A + row0 * ars + pc;
        float *dst = ap + ip * kc * mr;
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8)
          for (int64_t i = 0; i < mr; i++)
            for (int64_t q = 0; q < 8; q++) dst[(p + q) * mr + i] = src[i * ars + p + q];
        for (; p < kc; p++)
          for (int64_t i = 0; i < mr; i++) dst[p * mr + i] = src[i * ars + p];
      } else if (row0 + mr <= end) {
        for (int64_t i = 0; i < mr; i++) {
          const float *src = A + (row0 + i) * ars + pc * acs;
          for (int64_t p = 0; p < kc; p++) ap[(ip * kc + p) * mr + i] = src[p * acs];
        }
      } else {
        for (int64_t p = 0; p < kc; p++)
          for (int64_t i = 0; i < mr; i++) {
            int64_t row = row0 + i;
            ap[(ip * kc + p) * mr + i] = row < end ? A[row * ars + (pc + p) * acs] : 0;
          }
      }
    }
    for (int64_t jp = 0; jp < npan; jp++)
      for (int64_t ip = 0; ip < mpan; ip++) {
        int64_t i0 = ic + ip * mr, j0 = jc + jp * nr;
        const float *a = ap + ip * kc * mr, *b = bp + jp * kc * nr;
        if (i0 + mr <= end && j0 + nr <= N) {
          tile->micro(kc, a, b, C + i0 * ldc + j0, ldc, add);
          continue;
        }
        /* an edge tile: through a full tile on the stack */
        float t[NNRT_MAXTILE] = {0};
        int64_t mi = end - i0 < mr ? end - i0 : mr, nj = N - j0 < nr ? N - j0 : nr;
        for (int64_t i = 0; i < mi; i++)
          for (int64_t j = 0; j < nj; j++) t[i * nr + j] = C[(i0 + i) * ldc + j0 + j];
        tile->micro(kc, a, b, t, nr, add);
        for (int64_t i = 0; i < mi; i++)
          for (int64_t j = 0; j < nj; j++) C[(i0 + i) * ldc + j0 + j] = t[i * nr + j];
      }
    if (epi) epi->fn(epi->ctx, ic, ic + mc, jc, jc + (N - jc < NNRT_NC ? N - jc : NNRT_NC));
  }
}

/* One product's work for a team. */
typedef struct SgemmJob {
  const NnrtTile *tile;
  int64_t M, N, K;
  const float *A;
  int64_t ars, acs;
  const float *B;
  int64_t brs, bcs;
  float *C;
  int64_t ldc;
  bool add;
  float *pack;       /* per member: B's panels (KC x NC), then one block of A (MC x KC) */
  int64_t parts, rows;
  const NnrtEpilogue *epi;
  const float *kept; /* all of B's panels, block (jc, pc) at jc K + pc npan NR; or NULL */
} SgemmJob;

/* B[pc.., jc..] (kc rows, npan panels) as panels of NR columns, zero-padded, into dst. */
static void sgemm_pack_b(const SgemmJob *j, int64_t jc, int64_t pc, int64_t kc, int64_t npan, float *dst) {
  const int64_t nr = j->tile->nr, N = j->N;
  for (int64_t jp = 0; jp < npan; jp++)
    for (int64_t p = 0; p < kc; p++) {
      int64_t col0 = jc + jp * nr;
      float *d = dst + (jp * kc + p) * nr;
      if (j->bcs == 1 && col0 + nr <= N) { /* a whole row of the panel at once */
        memcpy(d, j->B + (pc + p) * j->brs + col0, sizeof(float) * nr);
        continue;
      }
      for (int64_t c = 0; c < nr; c++) d[c] = col0 + c < N ? j->B[(pc + p) * j->brs + (col0 + c) * j->bcs] : 0;
    }
}

/* Member `me` of a team of `team` computes its parts' rows (parts never
 * share a row) with B's panels packed into its own buffer: the members
 * share nothing they write, so a product is one fork and one join, with
 * no barrier between them for a late member to stall the others at (on
 * a loaded host, two barriers per block of K made it 3 times slower).
 * Each member packs all of B's block, which costs K N copies against
 * M N K / team multiply-adds: under 2% when a part has 64 rows or more. */
static void sgemm_member(const SgemmJob *j, int64_t me, int64_t team) {
  const int64_t nr = j->tile->nr, N = j->N, K = j->K;
  float *bp = j->pack + me * ((int64_t)NNRT_KC * NNRT_NC + NNRT_MC * NNRT_KC), *ap = bp + NNRT_KC * NNRT_NC;
  for (int64_t part = me; part < j->parts; part += team) {
    const int64_t r0 = part * j->rows, r1 = (part + 1) * j->rows < j->M ? (part + 1) * j->rows : j->M;
    for (int64_t jc = 0; jc < N; jc += NNRT_NC) {
      int64_t nc = N - jc < NNRT_NC ? N - jc : NNRT_NC, npan = (nc + nr - 1) / nr;
      for (int64_t pc = 0; pc < K; pc += NNRT_KC) {
        int64_t kc = K - pc < NNRT_KC ? K - pc : NNRT_KC;
        const float *b = j->kept ? j->kept + jc * K + pc * npan * nr : bp;
        if (!j->kept) sgemm_pack_b(j, jc, pc, kc, npan, bp);
        nnrt_sgemm_rows(j->tile, r0, r1, N, jc, pc, kc, npan, j->A, j->ars, j->acs, b, j->C, j->ldc,
                        j->add || pc > 0, ap, pc + kc == K ? j->epi : NULL);
      }
    }
  }
}

static void sgemm_blocked(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars, int64_t acs,
                          const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc, bool add,
                          float *scratch, const NnrtEpilogue *epi, void *kept);

/* A small product's rows, with the micro-kernels' arithmetic: each
 * element's K (<= NNRT_KC) products summed from zero in order, fused
 * multiply-adds where the tile uses them (FMA), then added to C when
 * `add`. So a row of C has the same bits whichever way the product goes,
 * whatever M is: a sample's result does not depend on the batch around it
 * (the model API splits a batch into slices that run at once). Inlined
 * into a kernel of the LLVM backend with N and K constants, the j loops
 * unroll whole and clang would vectorize the rows' loop across rows with
 * gathers and scatters, and a j loop over a B read `bcs` apart with
 * gathers; AMD's Zen runs both slowly, so those loops are kept scalar
 * (the unrolled row left to the SLP vectorizer) and a contiguous B has a
 * loop of its own. Same arithmetic, same order per element. */
#ifdef __clang__
#define NNRT_ROWS_SCALAR _Pragma("clang loop vectorize(disable)")
#else
#define NNRT_ROWS_SCALAR
#endif
#define NNRT_SMALL_ROWS(FMA)                                                   \
  NNRT_ROWS_SCALAR                                                             \
  for (int64_t i = 0; i < M; i++)                                              \
    for (int64_t j0 = 0; j0 < N; j0 += 64) {                                   \
      const int64_t nj = N - j0 < 64 ? N - j0 : 64;                            \
      float acc[64], *c = C + i * ldc + j0;                                    \
      for (int64_t j = 0; j < nj; j++) acc[j] = 0;                             \
      for (int64_t p = 0; p < K; p++) {                                        \
        const float av = A[i * ars + p * acs], *b = B + p * brs + j0 * bcs;    \
        if (bcs == 1) {                                                        \
          for (int64_t j = 0; j < nj; j++) acc[j] = FMA(av, b[j], acc[j]);     \
        } else {                                                               \
          NNRT_ROWS_SCALAR                                                     \
          for (int64_t j = 0; j < nj; j++) acc[j] = FMA(av, b[j * bcs], acc[j]); \
        }                                                                      \
      }                                                                        \
      for (int64_t j = 0; j < nj; j++) c[j] = add ? c[j] + acc[j] : acc[j];    \
    }
#define NNRT_MULADD(a, b, c) ((c) + (a) * (b))
#ifdef NNRT_X86
__attribute__((target("avx2,fma"))) static inline void nnrt_small_fma(int64_t M, int64_t N, int64_t K,
                                                                      const float *A, int64_t ars, int64_t acs,
                                                                      const float *B, int64_t brs, int64_t bcs,
                                                                      float *C, int64_t ldc, bool add) {
  NNRT_SMALL_ROWS(__builtin_fmaf)
}
#endif

/* Small products (and K = 0) here, in a function small enough for a
 * compiler to inline into the caller's kernel, where the sizes and
 * strides are constants; the rest blocked and packed. */
NNRT_API void nnrt_sgemm(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                         int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                         bool add, float *scratch, const NnrtEpilogue *epi) {
  if (K > 0 && (M * N * K > 16384 || K > NNRT_KC)) {
    sgemm_blocked(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, scratch, epi, NULL);
    return;
  }
  /* small: packing would cost more than it saves */
#ifdef NNRT_X86
  if (nnrt_isa() != NNRT_ISA_GENERIC) { /* the AVX2 and AVX-512 tiles fuse */
    nnrt_small_fma(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add);
  } else
#endif
  {
    NNRT_SMALL_ROWS(NNRT_MULADD)
  }
  if (epi && M > 0 && N > 0) epi->fn(epi->ctx, 0, M, 0, N);
}

NNRT_API bool nnrt_sgemm_packed(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                                int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                                bool add, float *scratch, const NnrtEpilogue *epi, void *kept) {
  if (!kept || !(K > 0 && (M * N * K > 16384 || K > NNRT_KC))) return false; /* nnrt_sgemm's small case */
  sgemm_blocked(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, scratch, epi, kept);
  return true;
}

NNRT_API void nnrt_sgemm_kept(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                              int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                              bool add, float *scratch, const NnrtEpilogue *epi, void *kept) {
  if (!nnrt_sgemm_packed(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, scratch, epi, kept))
    nnrt_sgemm(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, scratch, epi);
}

static void sgemm_blocked(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars, int64_t acs,
                          const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc, bool add,
                          float *scratch, const NnrtEpilogue *epi, void *kept) {
  const NnrtTile *tile = nnrt_tile();
  const int64_t mr = tile->mr;
  float *bp = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  /* rows per part: as many parts as threads, each a multiple of MR; a
   * product under 4M multiply-adds stays on one thread (waking a team
   * costs more than half of that saves: an LSTM step's products) */
  int64_t most = (M + mr - 1) / mr < NNRT_MAXTEAM ? (M + mr - 1) / mr : NNRT_MAXTEAM;
  int64_t parts = M * N * K < ((int64_t)1 << 22) ? 1 : nnrt_parts(nt, M * N * K, most);
  int64_t rows = ((M + parts - 1) / parts + mr - 1) / mr * mr;
  parts = (M + rows - 1) / rows;
  SgemmJob job = {tile, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, bp, parts, rows, epi, NULL};
  /* B's panels kept: made once (the slot's header: NR, K, N and B's
   * strides it was made for; zeroed when the parameters change), the
   * same panels every member would pack */
  int64_t *made = kept && 64 + 4 * K * ((N + 31) / 32 * 32) <= nnrt_sgemm_kept_bytes(K, N) ? kept : NULL;
  if (made) {
    const int64_t nr = tile->nr, stamp[5] = {nr, K, N, brs, bcs};
    float *all = (float *)((char *)kept + 64);
    if (memcmp(made, stamp, sizeof stamp) != 0) {
      for (int64_t jc = 0; jc < N; jc += NNRT_NC)
        for (int64_t pc = 0; pc < K; pc += NNRT_KC) {
          const int64_t nc = N - jc < NNRT_NC ? N - jc : NNRT_NC, npan = (nc + nr - 1) / nr;
          sgemm_pack_b(&job, jc, pc, K - pc < NNRT_KC ? K - pc : NNRT_KC, npan, all + jc * K + pc * npan * nr);
        }
      memcpy(made, stamp, sizeof stamp);
    }
    job.kept = all;
  }
  /* one team for the whole product (none for one part: an OpenMP region
   * costs even when it runs serially) */
#ifdef _OPENMP
  if (parts > 1) {
#pragma omp parallel num_threads((int)parts)
    sgemm_member(&job, omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  sgemm_member(&job, 0, 1);
}

/* The same product in double, unblocked: rows of C accumulate rows of B
 * in order p = 0..K-1 (f64 graphs are for checking, not for speed). */
NNRT_API void nnrt_dgemm(int nt, int64_t M, int64_t N, int64_t K, const double *A, int64_t ars,
                         int64_t acs, const double *B, int64_t brs, int64_t bcs, double *C, int64_t ldc,
                         bool add, const NnrtEpilogue *epi) {
  (void)nt;
  NNRT_PARFOR(nt, M * N * K,
  for (int64_t i = 0; i < M; i++) {
    double *c = C + i * ldc;
    for (int64_t j = 0; !add && j < N; j++) c[j] = 0;
    for (int64_t p = 0; p < K; p++) {
      const double av = A[i * ars + p * acs];
      for (int64_t j = 0; j < N; j++) c[j] += av * B[p * brs + j * bcs];
    }
    if (epi && N > 0) epi->fn(epi->ctx, i, i + 1, 0, N);
  })
}
