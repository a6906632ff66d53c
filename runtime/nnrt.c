/* nnrt.c — the runtime's implementation (see nnrt.h). Plain C11 and libm. */
#include "nnrt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ random */

/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", 2011): key = seed, counter = (counter, stream). */
NNRT_API uint64_t nnrt_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
  uint32_t c[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream,
                   (uint32_t)(stream >> 32)};
  uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0], n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1];
    c[1] = (uint32_t)p1;
    c[3] = (uint32_t)p0;
    c[0] = n0;
    c[2] = n2;
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  return (uint64_t)c[0] | (uint64_t)c[1] << 32;
}

NNRT_API double nnrt_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return (double)(nnrt_rng_u64(seed, stream, counter) >> 11) * (1.0 / 9007199254740992.0);
}

NNRT_API double nnrt_normal(uint64_t seed, uint64_t stream, uint64_t i) {
  double u1 = nnrt_uniform(seed, stream, 2 * i), u2 = nnrt_uniform(seed, stream, 2 * i + 1);
  return sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2);
}

/* ------------------------------------------------------- initializers */

static const char *const init_names[] = {
  "zeros", "ones", "constant", "uniform", "normal", "glorot_uniform", "glorot_normal",
  "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
};

NNRT_API int nnrt_init_from_name(const char *name) {
  for (size_t i = 0; i < sizeof init_names / sizeof *init_names; i++)
    if (!strcmp(name, init_names[i])) return (int)i;
  return -1;
}

/* A normal truncated at two standard deviations, scaled to `stddev`
 * (Keras's variance scaling divides by 0.8796... so the truncated
 * distribution keeps the intended variance). Redraws use counters far
 * beyond any tensor's size. */
static double truncated(uint64_t seed, uint64_t stream, uint64_t i, double stddev) {
  for (uint64_t k = 0;; k++) {
    double z = nnrt_normal(seed, stream, i + (k << 40));
    if (fabs(z) <= 2) return z * stddev / 0.87962566103423978;
  }
}

NNRT_API double nnrt_init_value(NnrtInit init, const double *args, const int64_t *dims, int rank,
                       uint64_t seed, uint64_t stream, uint64_t i) {
  double fan_in = 1, fan_out = 1;
  if (rank == 1) fan_in = fan_out = (double)dims[0];
  else if (rank >= 2) { /* [..., in, out]: the leading axes are a receptive field */
    double field = 1;
    for (int d = 0; d < rank - 2; d++) field *= (double)dims[d];
    fan_in = field * (double)dims[rank - 2];
    fan_out = field * (double)dims[rank - 1];
  }
  double u = nnrt_uniform(seed, stream, i);
  switch (init) {
  case NNRT_ZEROS: return 0;
  case NNRT_ONES: return 1;
  case NNRT_CONSTANT: return args[0];
  case NNRT_UNIFORM: return args[0] + (args[1] - args[0]) * u;
  case NNRT_NORMAL: return args[0] + args[1] * nnrt_normal(seed, stream, i);
  case NNRT_GLOROT_UNIFORM: return (2 * u - 1) * sqrt(6 / (fan_in + fan_out));
  case NNRT_HE_UNIFORM: return (2 * u - 1) * sqrt(6 / fan_in);
  case NNRT_LECUN_UNIFORM: return (2 * u - 1) * sqrt(3 / fan_in);
  case NNRT_GLOROT_NORMAL: return truncated(seed, stream, i, sqrt(2 / (fan_in + fan_out)));
  case NNRT_HE_NORMAL: return truncated(seed, stream, i, sqrt(2 / fan_in));
  case NNRT_LECUN_NORMAL: return truncated(seed, stream, i, sqrt(1 / fan_in));
  }
  return 0;
}

/* --------------------------------------------------------- functions */

NNRT_API int nnrt_threads(int nt) {
#ifdef _OPENMP
  return nt > 0 ? nt : omp_get_max_threads();
#else
  return nt > 0 ? nt : 1;
#endif
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

/* -------------------------------------------------------------- GEMM */

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
enum { NNRT_KC = 256, NNRT_MC = 96, NNRT_NC = 1024, NNRT_MAXTILE = 8 * 32 };
typedef float nnrt_v8 __attribute__((vector_size(32), aligned(4), may_alias));

NNRT_API size_t nnrt_sgemm_scratch(int nt) {
  return (size_t)NNRT_KC * NNRT_NC + (size_t)nnrt_threads(nt) * NNRT_MC * NNRT_KC + 64;
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
}

/* The widest tile this processor runs (NNRT_ISA=avx2|generic narrows it,
 * for comparisons). */
static const NnrtTile *nnrt_tile(void) {
  static const NnrtTile generic = {4, 8, nnrt_micro_generic};
#ifdef NNRT_X86
  static const NnrtTile avx512 = {8, 32, nnrt_micro_avx512}, avx2 = {6, 16, nnrt_micro_avx2};
  static const NnrtTile *chosen;
  if (!chosen) {
    const char *isa = getenv("NNRT_ISA");
    bool has512 = __builtin_cpu_supports("avx512f"), has2 = __builtin_cpu_supports("avx2") &&
                                                             __builtin_cpu_supports("fma");
    if (isa && !strcmp(isa, "generic")) has512 = has2 = false;
    if (isa && !strcmp(isa, "avx2")) has512 = false;
    chosen = has512 ? &avx512 : has2 ? &avx2 : &generic;
  }
  return chosen;
#else
  return &generic;
#endif
}

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
  float *bp, *ap0;   /* packed panels of B (shared), of A (one block a member) */
  int64_t parts, rows;
  const NnrtEpilogue *epi;
} SgemmJob;

/* Member `me` of a team of `team`: the team packs B's panels together,
 * then each member computes its parts' rows (parts never share a row).
 * Alone (team 1) it passes no barrier: it may run inside another team's
 * region (a weight gradient's slices, one a thread), where a barrier
 * would bind to that team and wait on threads doing other work. */
static void sgemm_member(const SgemmJob *j, int64_t me, int64_t team) {
  const int64_t nr = j->tile->nr, N = j->N, K = j->K;
  for (int64_t jc = 0; jc < N; jc += NNRT_NC) {
    int64_t nc = N - jc < NNRT_NC ? N - jc : NNRT_NC, npan = (nc + nr - 1) / nr;
    for (int64_t pc = 0; pc < K; pc += NNRT_KC) {
      int64_t kc = K - pc < NNRT_KC ? K - pc : NNRT_KC;
      /* B[pc.., jc..] as panels of NR columns, zero-padded */
      for (int64_t jp = me; jp < npan; jp += team)
        for (int64_t p = 0; p < kc; p++) {
          int64_t col0 = jc + jp * nr;
          float *dst = j->bp + (jp * kc + p) * nr;
          if (j->bcs == 1 && col0 + nr <= N) { /* a whole row of the panel at once */
            memcpy(dst, j->B + (pc + p) * j->brs + col0, sizeof(float) * nr);
            continue;
          }
          for (int64_t c = 0; c < nr; c++)
            dst[c] = col0 + c < N ? j->B[(pc + p) * j->brs + (col0 + c) * j->bcs] : 0;
        }
#ifdef _OPENMP
      if (team > 1) {
#pragma omp barrier
      }
#endif
      for (int64_t part = me; part < j->parts; part += team)
        nnrt_sgemm_rows(j->tile, part * j->rows, (part + 1) * j->rows < j->M ? (part + 1) * j->rows : j->M, N,
                        jc, pc, kc, npan, j->A, j->ars, j->acs, j->bp, j->C, j->ldc, j->add || pc > 0,
                        j->ap0 + me * NNRT_MC * NNRT_KC, pc + kc == K ? j->epi : NULL);
#ifdef _OPENMP
      if (team > 1) {
#pragma omp barrier
      }
#endif
    }
  }
}

static void sgemm_blocked(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars, int64_t acs,
                          const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc, bool add,
                          float *scratch, const NnrtEpilogue *epi);

/* Small products (and K = 0) here, in a function small enough for a
 * compiler to inline into the caller's kernel, where the sizes and
 * strides are constants; the rest blocked and packed. */
NNRT_API void nnrt_sgemm(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                         int64_t acs, const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc,
                         bool add, float *scratch, const NnrtEpilogue *epi) {
  if (K > 0 && (M * N * K > 16384 || K > NNRT_KC)) {
    sgemm_blocked(nt, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, scratch, epi);
    return;
  }
  /* small: packing would cost more than it saves */
  for (int64_t i = 0; i < M; i++) {
    float *c = C + i * ldc;
    for (int64_t j = 0; !add && j < N; j++) c[j] = 0;
    for (int64_t p = 0; p < K; p++) {
      const float av = A[i * ars + p * acs];
      for (int64_t j = 0; j < N; j++) c[j] += av * B[p * brs + j * bcs];
    }
  }
  if (epi && M > 0 && N > 0) epi->fn(epi->ctx, 0, M, 0, N);
}

static void sgemm_blocked(int nt, int64_t M, int64_t N, int64_t K, const float *A, int64_t ars, int64_t acs,
                          const float *B, int64_t brs, int64_t bcs, float *C, int64_t ldc, bool add,
                          float *scratch, const NnrtEpilogue *epi) {
  const NnrtTile *tile = nnrt_tile();
  const int64_t mr = tile->mr;
  float *bp = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  /* rows per part: as many parts as threads, each a multiple of MR; a
   * product under 4M multiply-adds stays on one thread (a team's barriers
   * cost more than half of that saves: an LSTM step's products) */
  int64_t parts = M * N * K < ((int64_t)1 << 22) ? 1 : nnrt_parts(nt, M * N * K, (M + mr - 1) / mr);
  int64_t rows = ((M + parts - 1) / parts + mr - 1) / mr * mr;
  parts = (M + rows - 1) / rows;
  SgemmJob job = {tile, M, N, K, A, ars, acs, B, brs, bcs, C, ldc, add, bp, bp + NNRT_KC * NNRT_NC, parts, rows, epi};
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

NNRT_API void nnrt_store_f32(float *restrict dst, const float *restrict src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = nnrt_flush_f32(src[i]);
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

/* ------------------------------------------------ convolution, pooling */

/* The kernels below are written once for a type T (float, suffix f32, or
 * double, f64) and expanded for each; the order of every sum depends on
 * the geometry only. These are the pieces that differ by type: the
 * product with one signature (the double one packs nothing), and the
 * scratch one single-thread product packs in. */
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

#define NNRT_WINDOWS(T, S)                                                                                  \
/* The column copies: as block moves, which a compiler writes as a few                                      \
 * vector moves when the length is a constant (it then unrolls an element                                   \
 * loop into single elements instead). */                                                                   \
NNRT_INLINE void nnrt_fill0_##S(T *restrict d, int64_t k) { memset(d, 0, sizeof(T) * (size_t)k); }          \
                                                                                                            \
NNRT_INLINE void nnrt_copy_##S(T *restrict d, const T *restrict s, int64_t k) {                             \
  memcpy(d, s, sizeof(T) * (size_t)k);                                                                      \
}                                                                                                           \
                                                                                                            \
NNRT_INLINE void nnrt_addto_##S(T *restrict d, const T *restrict s, int64_t k) {                            \
  for (int64_t i = 0; i < k; i++) d[i] += s[i];                                                             \
}                                                                                                           \
                                                                                                            \
/* The columns of group gg for the samples from n0 on: row p holds pixel                                    \
 * p's taps (kh, kw, c), zeros where the window leaves the image. With one                                  \
 * group and no dilation across, a window's row inside the image is one                                     \
 * run of KW * C elements in both the image and the columns, copied at                                      \
 * once (a few channels per tap would otherwise cost a loop each). */                                       \
NNRT_INLINE void nnrt_im2col_##S(int nt, const NnrtWindow *g, const T *restrict x, T *restrict cols,        \
                                 int64_t n0, int64_t P, int64_t gg) {                                       \
  const int64_t H = g->h, W = g->w, C = g->c, OH = g->oh, OW = g->ow, KH = g->kh, KW = g->kw;               \
  const int64_t SH = g->sh, SW = g->sw, PH = g->ph, PW = g->pw, DH = g->dh, DW = g->dw;                     \
  const int64_t CG = C / g->groups, R = KH * KW * CG;                                                       \
  const bool runs = CG == C && DW == 1;                                                                     \
  NNRT_RANGES(nnrt_parts(nt, P * R, P), P, p0, p1,                                                          \
  for (int64_t p = p0; p < p1; p++) {                                                                       \
    const int64_t nn = n0 + p / (OH * OW), oh = p / OW % OH, ow = p % OW, iw0 = ow * SW - PW;               \
    for (int64_t kh = 0; kh < KH; kh++) {                                                                   \
      const int64_t ih = oh * SH - PH + kh * DH;                                                            \
      T *d = cols + p * R + kh * KW * CG;                                                                   \
      if (ih < 0 || ih >= H) {                                                                              \
        nnrt_fill0_##S(d, KW * CG);                                                                         \
        continue;                                                                                           \
      }                                                                                                     \
      const T *row = x + (nn * H + ih) * W * C + gg * CG;                                                   \
      if (runs && iw0 >= 0 && iw0 + KW <= W) {                                                              \
        nnrt_copy_##S(d, row + iw0 * C, KW * C);                                                            \
        continue;                                                                                           \
      }                                                                                                     \
      for (int64_t kw = 0; kw < KW; kw++) {                                                                 \
        const int64_t iw = iw0 + kw * DW;                                                                   \
        if (iw < 0 || iw >= W) nnrt_fill0_##S(d + kw * CG, CG);                                             \
        else nnrt_copy_##S(d + kw * CG, row + iw * C, CG);                                                  \
      }                                                                                                     \
    }                                                                                                       \
  })                                                                                                        \
}                                                                                                           \
                                                                                                            \
/* Group gg's columns of samples [n0, n0 + nc) added back onto their                                        \
 * pixels of dx (col2im), each sample by one thread, in window order (a                                     \
 * run at once where im2col copies one: its elements are distinct pixels). */                               \
NNRT_INLINE void nnrt_col2im_##S(int nt, const NnrtWindow *g, const T *restrict cols, T *restrict dx,       \
                                 int64_t n0, int64_t nc, int64_t gg) {                                      \
  const int64_t H = g->h, W = g->w, C = g->c, OH = g->oh, OW = g->ow, KH = g->kh, KW = g->kw;               \
  const int64_t SH = g->sh, SW = g->sw, PH = g->ph, PW = g->pw, DH = g->dh, DW = g->dw;                     \
  const int64_t CG = C / g->groups, R = KH * KW * CG;                                                       \
  const bool runs = CG == C && DW == 1;                                                                     \
  NNRT_RANGES(nnrt_parts(nt, nc * OH * OW * R, nc), nc, i0, i1,                                             \
  for (int64_t i = i0; i < i1; i++) {                                                                       \
    const int64_t nn = n0 + i;                                                                              \
    for (int64_t oh = 0; oh < OH; oh++)                                                                     \
      for (int64_t ow = 0; ow < OW; ow++) {                                                                 \
        const int64_t iw0 = ow * SW - PW;                                                                   \
        for (int64_t kh = 0; kh < KH; kh++) {                                                               \
          const int64_t ih = oh * SH - PH + kh * DH;                                                        \
          if (ih < 0 || ih >= H) continue;                                                                  \
          const T *src = cols + ((i * OH + oh) * OW + ow) * R + kh * KW * CG;                               \
          T *row = dx + (nn * H + ih) * W * C + gg * CG;                                                    \
          if (runs && iw0 >= 0 && iw0 + KW <= W) {                                                          \
            nnrt_addto_##S(row + iw0 * C, src, KW * C);                                                     \
            continue;                                                                                       \
          }                                                                                                 \
          for (int64_t kw = 0; kw < KW; kw++) {                                                             \
            const int64_t iw = iw0 + kw * DW;                                                               \
            if (iw >= 0 && iw < W) nnrt_addto_##S(row + iw * C, src + kw * CG, CG);                         \
          }                                                                                                 \
        }                                                                                                   \
      }                                                                                                     \
  })                                                                                                        \
}                                                                                                           \
                                                                                                            \
NNRT_WINDOW_API void nnrt_conv2d_##S(int nt, int64_t n, const NnrtWindow *g, const T *x, const T *w, T *y,  \
                                     T *scratch, const NnrtEpilogue *epi) {                                 \
  const int64_t F = g->f, G = g->groups, FG = F / G, R = g->kh * g->kw * (g->c / G);                        \
  const int64_t PIX = g->oh * g->ow, chunk = g->chunk;                                                      \
  T *cols = scratch, *pack = cols + (n < chunk ? n : chunk) * PIX * R;                                      \
  for (int64_t gg = 0; gg < G; gg++)                                                                        \
    for (int64_t n0 = 0; n0 < n; n0 += chunk) {                                                             \
      const int64_t P = (n - n0 < chunk ? n - n0 : chunk) * PIX;                                            \
      nnrt_im2col_##S(nt, g, x, cols, n0, P, gg);                                                           \
      /* y[pixels, FG] = cols[pixels, R] w[R, FG]: a block of y */                                          \
      NnrtShift shift = {epi, n0 * PIX, gg * FG};                                                           \
      NnrtEpilogue block = {nnrt_shifted, &shift};                                                          \
      nnrt_gemm_##S(nt, P, FG, R, cols, R, 1, w + gg * FG, F, 1, y + n0 * PIX * F + gg * FG, F, false,      \
                    pack, epi ? &block : NULL);                                                             \
    }                                                                                                       \
}                                                                                                           \
                                                                                                            \
NNRT_WINDOW_API void nnrt_conv2d_bx_##S(int nt, int64_t n, const NnrtWindow *g, const T *dy, const T *w,    \
                                        T *dx, T *scratch, const NnrtEpilogue *epi) {                       \
  const int64_t HWC = g->h * g->w * g->c, F = g->f, G = g->groups, FG = F / G;                              \
  const int64_t R = g->kh * g->kw * (g->c / G), PIX = g->oh * g->ow, chunk = g->chunk;                      \
  T *cols = scratch, *pack = cols + (n < chunk ? n : chunk) * PIX * R;                                      \
  for (int64_t i = 0; i < n * HWC; i++) dx[i] = 0;                                                          \
  for (int64_t gg = 0; gg < G; gg++)                                                                        \
    for (int64_t n0 = 0; n0 < n; n0 += chunk) {                                                             \
      const int64_t nc = n - n0 < chunk ? n - n0 : chunk;                                                   \
      /* cols[pixels, R] = dy[pixels, FG] w^T, then onto the pixels */                                      \
      nnrt_gemm_##S(nt, nc * PIX, R, FG, dy + n0 * PIX * F + gg * FG, F, 1, w + gg * FG, 1, F, cols, R,     \
                    false, pack, NULL);                                                                     \
      nnrt_col2im_##S(nt, g, cols, dx, n0, nc, gg);                                                         \
      if (epi && gg == G - 1) { /* the chunk's samples are final after the last group */                    \
        const int64_t C = g->c, HW = g->h * g->w;                                                           \
        NNRT_RANGES(nnrt_parts(nt, nc * HWC, nc * HW), nc * HW, r0, r1,                                     \
        if (r0 < r1) epi->fn(epi->ctx, n0 * HW + r0, n0 * HW + r1, 0, C);)                                  \
      }                                                                                                     \
    }                                                                                                       \
}                                                                                                           \
                                                                                                            \
NNRT_WINDOW_API void nnrt_conv2d_bw_##S(int nt, int64_t n, const NnrtWindow *g, const T *x, const T *dy,    \
                                        T *dw, T *scratch, const NnrtEpilogue *epi) {                       \
  enum { SLICES = NNRT_CONV_SLICES };                                                                       \
  const int64_t F = g->f, G = g->groups, FG = F / G, R = g->kh * g->kw * (g->c / G);                        \
  const int64_t PIX = g->oh * g->ow, chunk = g->chunk, pack1 = nnrt_pack1_##S();                            \
  T *cols = scratch, *part = cols + (n < chunk ? n : chunk) * PIX * R, *pack = part + SLICES * R * F;       \
  for (int64_t gg = 0; gg < G; gg++)                                                                        \
    for (int64_t n0 = 0; n0 < n; n0 += chunk) {                                                             \
      const int64_t P = (n - n0 < chunk ? n - n0 : chunk) * PIX;                                            \
      nnrt_im2col_##S(nt, g, x, cols, n0, P, gg);                                                           \
      /* dw[R, FG] += cols^T dy[pixels, FG], the pixels in SLICES fixed                                     \
       * parts, each into its own partial gradient (a thread each) */                                       \
      NNRT_RANGES(nnrt_parts(nt, P * R * FG, SLICES), SLICES, s0, s1,                                       \
      for (int64_t sl = s0; sl < s1; sl++) {                                                                \
        const int64_t p0 = P * sl / SLICES, p1 = P * (sl + 1) / SLICES;                                     \
        nnrt_gemm_##S(1, R, FG, p1 - p0, cols + p0 * R, 1, R, dy + (n0 * PIX + p0) * F + gg * FG, F, 1,     \
                      part + sl * R * F + gg * FG, F, n0 > 0, pack + sl * pack1, NULL);                     \
      })                                                                                                    \
    }                                                                                                       \
  /* the slices added in order, a row of F at a time, then its epilogue */                                  \
  NNRT_RANGES(nnrt_parts(nt, R * F * SLICES, R), R, r0, r1,                                                 \
  for (int64_t r = r0; r < r1; r++) {                                                                       \
    for (int64_t i = r * F; i < (r + 1) * F; i++) {                                                         \
      T sum = part[i];                                                                                      \
      for (int64_t sl = 1; sl < SLICES; sl++) sum += part[sl * R * F + i];                                  \
      dw[i] = sum;                                                                                          \
    }                                                                                                       \
    if (epi) epi->fn(epi->ctx, r, r + 1, 0, F);                                                             \
  })                                                                                                        \
}                                                                                                           \
                                                                                                            \
/* One pixel (nn, oh, ow) of a pooling op, vectorized along the channels.                                   \
 * The window is clipped to the image (padding is left out). */                                             \
NNRT_INLINE void nnrt_pool_pixel_##S(int op, const NnrtWindow *g, const T *restrict a,                      \
                                     const T *restrict b, T *restrict y, int64_t nn, int64_t oh,            \
                                     int64_t ow) {                                                          \
  const int64_t H = g->h, W = g->w, C = g->c, KH = g->kh, KW = g->kw;                                       \
  const int64_t h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;                                           \
  const int64_t ha = h0 < 0 ? 0 : h0, hb = h0 + KH > H ? H : h0 + KH;                                       \
  const int64_t wa = w0 < 0 ? 0 : w0, wb = w0 + KW > W ? W : w0 + KW;                                       \
  const int64_t yo = ((nn * g->oh + oh) * g->ow + ow) * C;                                                  \
  switch (op) {                                                                                             \
  case NNRT_MAXPOOL: /* the first maximum in window order, or NaN */                                        \
    for (int64_t c = 0; c < C; c++) y[yo + c] = -INFINITY;                                                  \
    for (int64_t ih = ha; ih < hb; ih++)                                                                    \
      for (int64_t iw = wa; iw < wb; iw++) {                                                                \
        const T *xr = a + ((nn * H + ih) * W + iw) * C;                                                     \
        for (int64_t c = 0; c < C; c++) y[yo + c] = NNRT_MORE(xr[c], y[yo + c]) ? xr[c] : y[yo + c];        \
      }                                                                                                     \
    break;                                                                                                  \
  case NNRT_AVGPOOL: {                                                                                      \
    const T inv = (T)1 / (T)((hb - ha) * (wb - wa));                                                        \
    for (int64_t c = 0; c < C; c++) y[yo + c] = 0;                                                          \
    for (int64_t ih = ha; ih < hb; ih++)                                                                    \
      for (int64_t iw = wa; iw < wb; iw++) {                                                                \
        const T *xr = a + ((nn * H + ih) * W + iw) * C;                                                     \
        for (int64_t c = 0; c < C; c++) y[yo + c] += xr[c];                                                 \
      }                                                                                                     \
    for (int64_t c = 0; c < C; c++) y[yo + c] *= inv;                                                       \
    break;                                                                                                  \
  }                                                                                                         \
  case NNRT_MAXPOOL_B: { /* to the first maximum (or NaN) per channel, found along the channels */          \
    T m[C];                                                                                                 \
    int64_t best[C];                                                                                        \
    for (int64_t c = 0; c < C; c++) m[c] = -INFINITY, best[c] = -1;                                         \
    for (int64_t ih = ha; ih < hb; ih++)                                                                    \
      for (int64_t iw = wa; iw < wb; iw++) {                                                                \
        const int64_t xo = ((nn * H + ih) * W + iw) * C;                                                    \
        for (int64_t c = 0; c < C; c++) {                                                                   \
          const bool more = NNRT_MORE(a[xo + c], m[c]);                                                     \
          m[c] = more ? a[xo + c] : m[c];                                                                   \
          best[c] = more ? xo + c : best[c];                                                                \
        }                                                                                                   \
      }                                                                                                     \
    for (int64_t c = 0; c < C; c++)                                                                         \
      if (best[c] >= 0) y[best[c]] += m[c] != m[c] ? m[c] : b[yo + c]; /* the gradient at a NaN: NaN */     \
    break;                                                                                                  \
  }                                                                                                         \
  default: { /* NNRT_AVGPOOL_B */                                                                           \
    const T inv = (T)1 / (T)((hb - ha) * (wb - wa));                                                        \
    for (int64_t ih = ha; ih < hb; ih++)                                                                    \
      for (int64_t iw = wa; iw < wb; iw++) {                                                                \
        T *xr = y + ((nn * H + ih) * W + iw) * C;                                                           \
        for (int64_t c = 0; c < C; c++) xr[c] += a[yo + c] * inv;                                           \
      }                                                                                                     \
    break;                                                                                                  \
  }                                                                                                         \
  }                                                                                                         \
}                                                                                                           \
                                                                                                            \
/* The gradients scatter per sample, each sample by one thread. */                                          \
NNRT_WINDOW_API void nnrt_pool_##S(int nt, int64_t n, int op, const NnrtWindow *g, const T *a, const T *b,  \
                                   T *y) {                                                                  \
  const int64_t OH = g->oh, OW = g->ow, HWC = g->h * g->w * g->c;                                           \
  const int64_t work = n * OH * OW * g->c * g->kh * g->kw;                                                  \
  if (op == NNRT_MAXPOOL_B || op == NNRT_AVGPOOL_B) {                                                       \
    NNRT_RANGES(nnrt_parts(nt, work, n), n, n0, n1,                                                         \
    for (int64_t nn = n0; nn < n1; nn++) {                                                                  \
      for (int64_t i = 0; i < HWC; i++) y[nn * HWC + i] = 0;                                                \
      for (int64_t oh = 0; oh < OH; oh++)                                                                   \
        for (int64_t ow = 0; ow < OW; ow++) nnrt_pool_pixel_##S(op, g, a, b, y, nn, oh, ow);                \
    })                                                                                                      \
  } else {                                                                                                  \
    NNRT_RANGES(nnrt_parts(nt, work, n * OH), n * OH, q0, q1,                                               \
    for (int64_t q = q0; q < q1; q++)                                                                       \
      for (int64_t ow = 0; ow < OW; ow++) nnrt_pool_pixel_##S(op, g, a, b, y, q / OH, q % OH, ow);)         \
  }                                                                                                         \
}

NNRT_WINDOWS(float, f32)
NNRT_WINDOWS(double, f64)
#undef NNRT_WINDOWS
#undef NNRT_RANGES
#undef NNRT_INLINE

/* -------------------------------------------------------- checkpoints */

NNRT_API bool nnrt_error(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = path ? snprintf(err, errlen, "%s: ", path) : 0;
  if (k >= 0 && (size_t)k < errlen) vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
  va_end(ap);
  return false;
}

static int64_t tensor_bytes(const NnrtTensorInfo *t) {
  int64_t n = t->elem_size;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d];
  return n;
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

/* PATH.tmp for writing, created anew: a file left there by a save that
 * was killed is truncated, and a link there is removed, not followed. */
static FILE *create_tmp(const char *tmp) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      FILE *f = fdopen(fd, "wb");
      if (!f) close(fd);
      return f;
    }
    if (errno != ELOOP || unlink(tmp) != 0) return NULL;
  }
  return NULL;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes; NULL when
 * memory runs out. */
static char *save_header(const NnrtTensorInfo *tensors, int n, const NnrtMeta *meta, size_t *len_out) {
  size_t cap = 1024 + 32 * NNRT_MAX_PROGRESS, len = 0;
  for (int i = 0; i < n; i++) cap += strlen(tensors[i].name) + 128 + 24 * (size_t)tensors[i].rank;
  char *h = malloc(cap);
  if (!h) return NULL;
#define PUT(...) len += (size_t)snprintf(h + len, cap - len, __VA_ARGS__)
  PUT("{\"__metadata__\":{\"format\":\"nnc\",\"kind\":\"%s\"", meta->weights ? "weights" : "checkpoint");
  if (!meta->weights) {
    PUT(",\"step\":\"%lld\",\"epoch\":\"%lld\",\"position\":\"%lld\",\"seed\":\"%llu\"", (long long)meta->step,
        (long long)meta->epoch, (long long)meta->position, (unsigned long long)meta->seed);
    if (meta->nprogress > 0) {
      PUT(",\"progress\":\"");
      for (int i = 0; i < meta->nprogress && i < NNRT_MAX_PROGRESS; i++) PUT("%s%.17g", i ? "," : "", meta->progress[i]);
      PUT("\"");
    }
  }
  PUT("}");
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    const NnrtTensorInfo *t = &tensors[i];
    PUT(",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->elem_size == 8 ? "F64" : "F32");
    for (int d = 0; d < t->rank; d++) PUT("%s%lld", d ? "," : "", (long long)t->dims[d]);
    PUT("],\"data_offsets\":[%lld,%lld]}", (long long)off, (long long)(off + tensor_bytes(t)));
    off += tensor_bytes(t);
  }
  PUT("}");
#undef PUT
  while (len % 8) h[len++] = ' ';
  *len_out = len;
  return h;
}

NNRT_API bool nnrt_save(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
                        const NnrtMeta *meta, char *err, size_t errlen) {
  size_t len = 0, plen = strlen(path) + 5;
  char *h = save_header(tensors, n, meta, &len), *tmp = malloc(plen);
  if (!h || !tmp) {
    free(h);
    free(tmp);
    return nnrt_error(err, errlen, path, "cannot write the checkpoint: out of memory");
  }
  snprintf(tmp, plen, "%s.tmp", path);
  FILE *f = create_tmp(tmp);
  bool ok = f != NULL;
  unsigned char le[8];
  for (int b = 0; b < 8; b++) le[b] = (unsigned char)((uint64_t)len >> (8 * b));
  ok = ok && fwrite(le, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
  for (int i = 0; ok && i < n; i++) /* little-endian, as x86-64 and aarch64 are */
    ok = fwrite(data[i], 1, (size_t)tensor_bytes(&tensors[i]), f) == (size_t)tensor_bytes(&tensors[i]);
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (f && fclose(f) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) ok = false;
  if (!ok) {
    nnrt_error(err, errlen, path, "cannot write the checkpoint: %s", strerror(errno));
    if (f) remove(tmp);
  } else { /* the rename itself to disk, as far as the directory allows */
    const char *slash = strrchr(path, '/');
    if (slash) tmp[slash > path ? slash - path : 1] = '\0'; /* tmp begins with path: now its directory */
    int fd = open(slash ? tmp : ".", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fsync(fd), close(fd);
  }
  free(tmp);
  free(h);
  return ok;
}

/* A small reader of the safetensors header's JSON. */
typedef struct Json {
  const char *p, *end, *start;
} Json;

static void ws(Json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) j->p++;
}

static bool eat(Json *j, char c) {
  ws(j);
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return true;
  }
  return false;
}

/* A string without escapes into out (at most cap-1 bytes). */
static bool jstring(Json *j, char *out, size_t cap) {
  if (!eat(j, '"')) return false;
  size_t n = 0;
  while (j->p < j->end && *j->p != '"') {
    if (*j->p == '\\' || n + 1 >= cap) return false;
    out[n++] = *j->p++;
  }
  if (j->p >= j->end) return false;
  j->p++;
  out[n] = '\0';
  return true;
}

static bool jint(Json *j, int64_t *out) {
  ws(j);
  int64_t v = 0;
  const char *s = j->p;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (*j->p++ - '0');
  }
  *out = v;
  return j->p > s;
}

/* A count in a metadata string: decimal digits only, at most `most`. */
static bool meta_count(const char *s, uint64_t most, uint64_t *out) {
  uint64_t v = 0;
  if (!*s) return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (most - (uint64_t)(*s - '0')) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* One tensor entry of the header. */
typedef struct Entry {
  int index;             /* into the model's tensors */
  char dtype[16];
  int64_t dims[8], rank, b0, b1;
} Entry;

static const char *shape_text(char *buf, size_t cap, const char *dtype, const int64_t *dims, int64_t rank) {
  size_t k = (size_t)snprintf(buf, cap, "%s[", dtype);
  for (int64_t d = 0; d < rank && d < 8 && k < cap; d++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)dims[d]);
  if (k < cap) snprintf(buf + k, cap - k, "]");
  return buf;
}

/* The metadata's fields, checked: meta's counters, or false with err. */
static bool read_meta(Json *j, const char *path, NnrtMeta *meta, char *err, size_t errlen) {
  char key[64], val[1024], format[16] = "", kind[16] = "checkpoint";
  bool step = false, epoch = false;
  if (!eat(j, '{')) return nnrt_error(err, errlen, path, "malformed __metadata__ near byte %ld", 8 + (long)(j->p - j->start));
  if (eat(j, '}')) return nnrt_error(err, errlen, path, "__metadata__ has no \"format\": \"nnc\"");
  do {
    if (!jstring(j, key, sizeof key) || !eat(j, ':') || !jstring(j, val, sizeof val))
      return nnrt_error(err, errlen, path, "malformed __metadata__ near byte %ld (its values are strings)",
                     8 + (long)(j->p - j->start));
    uint64_t v;
    bool counter = !strcmp(key, "step") || !strcmp(key, "epoch") || !strcmp(key, "position");
    if (!strcmp(key, "format") || !strcmp(key, "kind")) {
      snprintf(!strcmp(key, "format") ? format : kind, sizeof format, "%.15s", val);
    } else if (counter || !strcmp(key, "seed")) {
      if (!meta_count(val, counter ? (uint64_t)INT64_MAX : UINT64_MAX, &v))
        return nnrt_error(err, errlen, path, "the metadata's %s \"%.40s\" is not a whole number from 0 to %s", key, val,
                       counter ? "2^63 - 1" : "2^64 - 1");
      if (key[0] == 's' && key[1] == 't') meta->step = (int64_t)v, step = true;
      else if (key[0] == 'e') meta->epoch = (int64_t)v, epoch = true;
      else if (key[0] == 'p') meta->position = (int64_t)v;
      else meta->seed = v, meta->has_seed = true;
    } else if (!strcmp(key, "progress")) {
      const char *s = val;
      for (meta->nprogress = 0; *s; meta->nprogress++) {
        char *end;
        double x = strtod(s, &end);
        if (end == s || !isfinite(x) || meta->nprogress == NNRT_MAX_PROGRESS || (*end && *end != ','))
          return nnrt_error(err, errlen, path, "the metadata's progress \"%.40s\" is not a list of at most %d finite numbers",
                         val, NNRT_MAX_PROGRESS);
        meta->progress[meta->nprogress] = x;
        s = *end ? end + 1 : end;
      }
    } /* other keys (a tool's notes) are left alone */
  } while (eat(j, ','));
  if (!eat(j, '}')) return nnrt_error(err, errlen, path, "malformed __metadata__ near byte %ld", 8 + (long)(j->p - j->start));
  if (strcmp(format, "nnc") != 0)
    return nnrt_error(err, errlen, path, "the metadata's format is \"%s\", not \"nnc\"", format);
  meta->weights = !strcmp(kind, "weights");
  if (!meta->weights && strcmp(kind, "checkpoint") != 0)
    return nnrt_error(err, errlen, path, "the metadata's kind \"%s\" is neither \"checkpoint\" nor \"weights\"", kind);
  if (!meta->weights && (!step || !epoch))
    return nnrt_error(err, errlen, path, "the checkpoint's metadata lacks its %s counter", step ? "epoch" : "step");
  return true;
}

/* The header's tensor entries (every one the model has, once each) into
 * e[0..*count); false with err. */
static bool read_entries(Json *j, const char *path, const NnrtTensorInfo *tensors, int n, Entry *e, int *count,
                         char *seen, NnrtMeta *meta, bool *has_meta, char *err, size_t errlen) {
  char key[256], word[64];
  int next = 0; /* files list the tensors in the model's order: try the next one first */
  if (!eat(j, '{')) goto bad;
  if (eat(j, '}')) return true;
  do {
    if (!jstring(j, key, sizeof key) || !eat(j, ':')) goto bad;
    if (!strcmp(key, "__metadata__")) {
      if (*has_meta) return nnrt_error(err, errlen, path, "__metadata__ appears twice");
      *has_meta = true;
      if (!read_meta(j, path, meta, err, errlen)) return false;
      continue;
    }
    int i = next < n && !strcmp(tensors[next].name, key) ? next : 0;
    while (i < n && strcmp(tensors[i].name, key) != 0) i++;
    if (i == n) return nnrt_error(err, errlen, path, "tensor '%s' is not in this model", key);
    if (seen[i]) return nnrt_error(err, errlen, path, "tensor '%s' appears twice", key);
    seen[i] = 1;
    next = i + 1;
    Entry *t = &e[(*count)++];
    memset(t, 0, sizeof *t);
    t->index = i;
    t->b0 = t->b1 = -1;
    if (!eat(j, '{')) goto bad;
    do {
      if (!jstring(j, word, sizeof word) || !eat(j, ':')) goto bad;
      if (!strcmp(word, "dtype")) {
        if (!jstring(j, t->dtype, sizeof t->dtype)) goto bad;
      } else if (!strcmp(word, "shape") || !strcmp(word, "data_offsets")) {
        bool shape = word[0] == 's';
        int64_t k = 0, v;
        if (!eat(j, '[')) goto bad;
        if (!eat(j, ']')) {
          do {
            if (!jint(j, &v)) goto bad;
            if (shape && k < 8) t->dims[k] = v;
            else if (!shape && k < 2) *(k ? &t->b1 : &t->b0) = v;
            k++;
          } while (eat(j, ','));
          if (!eat(j, ']')) goto bad;
        }
        if (shape) t->rank = k;
        else if (k != 2) goto bad;
      } else {
        goto bad;
      }
    } while (eat(j, ','));
    if (!eat(j, '}') || t->b0 < 0 || !t->dtype[0]) goto bad;
  } while (eat(j, ','));
  if (eat(j, '}')) return true;
bad:
  return nnrt_error(err, errlen, path, "malformed header near byte %ld", 8 + (long)(j->p - j->start));
}

/* Each entry's type and shape, and offsets that tile the data region
 * exactly, in order, each aligned to its element. */
static bool check_entries(const char *path, const NnrtTensorInfo *tensors, int n, int slots, const Entry *e,
                          int count, const char *seen, bool weights, int64_t data_bytes, int *order, char *err,
                          size_t errlen) {
  char a[160], b[160];
  for (int k = 0; k < count; k++) {
    const NnrtTensorInfo *t = &tensors[e[k].index];
    const char *want = t->elem_size == 8 ? "F64" : "F32";
    bool same = e[k].rank == t->rank && !strcmp(e[k].dtype, want);
    for (int d = 0; same && d < t->rank; d++) same = e[k].dims[d] == t->dims[d];
    if (!same)
      return nnrt_error(err, errlen, path, "tensor '%s' is %s in the file; the model's is %s", t->name,
                     shape_text(a, sizeof a, e[k].dtype, e[k].dims, e[k].rank),
                     shape_text(b, sizeof b, want, t->dims, t->rank));
    if (weights && e[k].index >= n - slots)
      return nnrt_error(err, errlen, path, "tensor '%s' is an optimizer's slot, which a weights-only file does not hold",
                     t->name);
    if (e[k].b1 - e[k].b0 != tensor_bytes(t))
      return nnrt_error(err, errlen, path, "tensor '%s': its data offsets [%lld, %lld] hold %lld bytes; %s needs %lld",
                     t->name, (long long)e[k].b0, (long long)e[k].b1, (long long)(e[k].b1 - e[k].b0),
                     shape_text(b, sizeof b, want, t->dims, t->rank), (long long)tensor_bytes(t));
    if (e[k].b0 % t->elem_size)
      return nnrt_error(err, errlen, path, "tensor '%s': its data offset %lld is not a multiple of its element's %d bytes",
                     t->name, (long long)e[k].b0, t->elem_size);
    order[k] = k;
  }
  for (int i = 0; i < n - (weights ? slots : 0); i++)
    if (!seen[i]) return nnrt_error(err, errlen, path, "tensor '%s' is missing", tensors[i].name);
  for (int k = 1; k < count; k++) { /* by offset: an insertion sort, quick on the usual order */
    int x = order[k], at = k;
    for (; at > 0 && e[order[at - 1]].b0 > e[x].b0; at--) order[at] = order[at - 1];
    order[at] = x;
  }
  int64_t at = 0;
  for (int k = 0; k < count; k++) {
    const Entry *x = &e[order[k]];
    if (x->b0 != at)
      return nnrt_error(err, errlen, path, "tensor '%s': its data starts at %lld, %s %lld", tensors[x->index].name,
                     (long long)x->b0, x->b0 < at ? "inside the previous tensor's, which ends at" : "leaving a gap after",
                     (long long)at);
    at = x->b1;
  }
  if (at != data_bytes)
    return nnrt_error(err, errlen, path, "the tensors' data ends at byte %lld of the %lld bytes of data", (long long)at,
                   (long long)data_bytes);
  return true;
}

NNRT_API bool nnrt_load(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n, int slots,
                        NnrtMeta *meta, char *err, size_t errlen) {
  memset(meta, 0, sizeof *meta);
  FILE *f = nnrt_open_regular(path, err, errlen);
  if (!f) return false;
  bool ok = false, has_meta = false;
  char *h = NULL;
  unsigned char le[8];
  Entry *e = calloc((size_t)n + 1, sizeof *e);
  int *order = calloc((size_t)n + 1, sizeof *order), count = 0;
  char *seen = calloc((size_t)n + 1, 1);
  struct stat st;
  if (!e || !order || !seen) {
    nnrt_error(err, errlen, path, "out of memory");
    goto done;
  }
  if (fstat(fileno(f), &st) != 0) goto io;
  int64_t size = (int64_t)st.st_size;
  if (size < 8 || fread(le, 1, 8, f) != 8) {
    nnrt_error(err, errlen, path, "too short for a safetensors file (%lld bytes)", (long long)size);
    goto done;
  }
  uint64_t hlen = 0;
  for (int b = 0; b < 8; b++) hlen |= (uint64_t)le[b] << (8 * b);
  if (hlen > (uint64_t)size - 8 || hlen > ((uint64_t)1 << 26)) {
    nnrt_error(err, errlen, path, "the header length %llu at byte 0 exceeds the file", (unsigned long long)hlen);
    goto done;
  }
  if (!(h = malloc(hlen + 1))) {
    nnrt_error(err, errlen, path, "out of memory");
    goto done;
  }
  if (fread(h, 1, hlen, f) != hlen) goto io;
  Json j = {.p = h, .end = h + hlen, .start = h};
  if (!read_entries(&j, path, tensors, n, e, &count, seen, meta, &has_meta, err, errlen)) goto done;
  if (!has_meta) {
    nnrt_error(err, errlen, path, "no __metadata__ with \"format\": \"nnc\": not a checkpoint or weights file of nnc");
    goto done;
  }
  if (!check_entries(path, tensors, n, slots, e, count, seen, meta->weights, size - 8 - (int64_t)hlen, order, err,
                     errlen))
    goto done;
  /* everything checked: now read the data, in the file's order */
  for (int k = 0; k < count; k++) {
    const Entry *x = &e[order[k]];
    size_t bytes = (size_t)(x->b1 - x->b0);
    if (fread(data[x->index], 1, bytes, f) != bytes) goto io;
  }
  ok = true;
  goto done;
io:
  nnrt_error(err, errlen, path, "cannot read: %s", ferror(f) ? strerror(errno) : "the file is cut short");
done:
  fclose(f);
  free(h);
  free(e);
  free(order);
  free(seen);
  return ok;
}

/* ---------------------------------------------------- compiled models */

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
    int64_t count = tensor_bytes(ti) / ti->elem_size;
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
  for (int i = 0; m && m->params && i < n; i++)
    if (!(m->params[i] = nnrt_alloc((size_t)tensor_bytes(&def->tensors[i])))) {
      model_fail(NULL, "create: out of memory for %s (%lld bytes)", def->tensors[i].name,
                 (long long)tensor_bytes(&def->tensors[i]));
      m->def = def;
      nnrt_model_free(m);
      return NULL;
    }
  if (!m || !m->params) {
    if (m) free(m);
    return model_fail(NULL, "create: out of memory"), NULL;
  }
  m->def = def;
  m->states = m->params + def->nparams;
  m->seed = seed;
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
  free(m);
}

/* The error of a call on a NULL instance. */
#define NEED_MODEL(m, what, ret)                                   \
  do {                                                             \
    if (!(m)) return model_fail(NULL, "%s: no model (NULL)", what), ret; \
  } while (0)

static int save_as(NnrtModel *m, const char *path, bool weights, char *err, size_t errlen) {
  const char *what = weights ? "save_weights" : "save";
  NEED_MODEL(m, what, -1);
  if (!path) model_fail(m, "%s: no path (NULL)", what);
  else {
    NnrtMeta meta = {.weights = weights, .step = m->step, .epoch = m->epoch, .position = m->position,
                     .seed = m->seed, .has_seed = true, .nprogress = m->nprogress};
    memcpy(meta.progress, m->progress, sizeof meta.progress);
    int n = m->def->nparams + m->def->nstates - (weights ? m->def->nslots : 0);
    if (nnrt_save(path, m->def->tensors, m->params, n, &meta, m->error, sizeof m->error)) return model_ok(m);
  }
  if (err && errlen) snprintf(err, errlen, "%s", m->error);
  return -1;
}

NNRT_API int nnrt_model_save(NnrtModel *m, const char *path, char *err, size_t errlen) {
  return save_as(m, path, false, err, errlen);
}

NNRT_API int nnrt_model_save_weights(NnrtModel *m, const char *path, char *err, size_t errlen) {
  return save_as(m, path, true, err, errlen);
}

NNRT_API int nnrt_model_load(NnrtModel *m, const char *path, char *err, size_t errlen) {
  NEED_MODEL(m, "load", -1);
  int n = m->def->nparams + m->def->nstates, slots = m->def->nslots;
  NnrtMeta meta;
  /* into new tensors, which replace the instance's only when all is read */
  void **d = path ? calloc((size_t)n + 1, sizeof *d) : NULL;
  bool ok = d != NULL;
  for (int i = 0; ok && i < n; i++) ok = (d[i] = nnrt_alloc((size_t)tensor_bytes(&m->def->tensors[i]))) != NULL;
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
  m->nprogress = meta.weights ? 0 : meta.nprogress;
  memcpy(m->progress, meta.progress, sizeof m->progress);
  return model_ok(m);
}

/* Tensor `name` of exactly `bytes` bytes, or NULL with m's error set. */
static void *model_tensor(NnrtModel *m, const char *what, const char *name, const void *buf, size_t bytes) {
  if (!name || !buf) return model_fail(m, "%s: no %s (NULL)", what, name ? "buffer" : "name"), NULL;
  for (int i = 0; i < m->def->nparams + m->def->nstates; i++) {
    const NnrtTensorInfo *t = &m->def->tensors[i];
    if (strcmp(t->name, name) != 0) continue;
    if ((size_t)tensor_bytes(t) == bytes) return m->params[i];
    return model_fail(m, "%s: '%s' has %lld bytes, not %zu", what, name, (long long)tensor_bytes(t), bytes), NULL;
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
  return model_ok(m);
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
  for (int k = 0; k < 3; k++) {
    size_t bytes = def->arena[k] ? def->arena[k](n, threads) : 0;
    if (bytes > most) most = bytes;
  }
  return most;
}

NNRT_API int nnrt_model_reserve(NnrtModel *m, int k, int64_t n) {
  const NnrtModelDef *def = m->def;
  if (n < 1 || n > def->max_batch)
    return model_fail(m, "a batch of %lld samples is outside 1 to %lld, the most model %s can address", (long long)n,
                      (long long)def->max_batch, def->name);
  size_t need = def->arena[k](n, m->threads);
  if (need <= m->ws_size && m->ws) return 0;
  char *ws = nnrt_alloc(need);
  if (!ws)
    return model_fail(m, "out of memory: a batch of %lld samples needs %zu bytes of workspace", (long long)n, need);
  free(m->ws);
  m->ws = ws;
  m->ws_size = need;
  return 0;
}

/* Whether the inputs' token ids and, when `labelled`, the label are ones
 * the model takes; false with m's error naming the sample. */
static bool check_batch(NnrtModel *m, const char *what, const void *const *inputs, bool labelled, const void *label,
                        int64_t n) {
  const NnrtModelDef *def = m->def;
  const NnModelDesc *desc = def->desc;
  if (!inputs) return model_fail(m, "%s: no inputs (NULL)", what), false;
  for (int i = 0; i < desc->ninputs; i++) {
    if (!inputs[i]) return model_fail(m, "%s: input %d (%s) is NULL", what, i, desc->inputs[i].name), false;
    if (i >= 16 || def->vocab[i] < 1) continue;
    int64_t per = 1;
    for (int d = 1; d < desc->inputs[i].rank; d++) per *= desc->inputs[i].dims[d];
    const int32_t *ids = inputs[i];
    for (int64_t j = 0; j < n * per; j++)
      if (ids[j] < 0 || ids[j] >= def->vocab[i])
        return model_fail(m, "%s: input %d (%s), sample %lld, position %lld: the token id %d is outside the "
                          "vocabulary [0, %lld)", what, i, desc->inputs[i].name, (long long)(j / per),
                          (long long)(j % per), ids[j], (long long)def->vocab[i]), false;
  }
  if (!labelled || def->label_kind == NNRT_LABEL_NONE) return true;
  if (!label) return model_fail(m, "%s: no label (NULL)", what), false;
  for (int64_t j = 0; j < n * def->label_size; j++) {
    double y = def->label_dtype == 2 ? ((const int32_t *)label)[j]
               : def->label_dtype == 1 ? ((const double *)label)[j] : ((const float *)label)[j];
    bool ok = def->label_kind == NNRT_LABEL_CLASSES
                  ? (y >= 0 && y < (double)def->label_classes) || (def->label_has_ignore && y == (double)def->label_ignore)
                  : def->label_kind == NNRT_LABEL_UNIT ? y >= 0 && y <= 1 : isfinite(y);
    if (!ok)
      return model_fail(m, "%s: the label of sample %lld%s is %g, not %s", what, (long long)(j / def->label_size),
                        def->label_size > 1 ? " (one of its values)" : "", y,
                        def->label_kind == NNRT_LABEL_CLASSES ? "a class id of the model's output"
                        : def->label_kind == NNRT_LABEL_UNIT ? "in [0, 1] as the loss needs"
                                                             : "a finite number"), false;
  }
  return true;
}

/* Graph k over a batch: the instance, the graph and the arguments checked,
 * the workspace grown. */
static bool ready(NnrtModel *m, int k, const char *what, const void *const *inputs, const void *label, int64_t n) {
  if (!m) return model_fail(NULL, "%s: no model (NULL)", what), false;
  if (!m->def->run[k]) return model_fail(m, "%s: model %s has no %s graph", what, m->def->name, what), false;
  if (n < 1 || n > m->def->max_batch)
    return model_fail(m, "%s: a batch of %lld samples is outside 1 to %lld, the most model %s can address", what,
                      (long long)n, (long long)m->def->max_batch, m->def->name), false;
  return check_batch(m, what, inputs, k != NNRT_INFER, label, n) && nnrt_model_reserve(m, k, n) == 0;
}

NNRT_API double nnrt_model_train_step(NnrtModel *m, const void *const *inputs, const void *label, int64_t n) {
  if (!ready(m, NNRT_TRAIN, "train_step", inputs, label, n)) return NAN;
  m->step++;
  m->def->run[NNRT_TRAIN](m, n, inputs, label);
  model_ok(m);
  return m->loss;
}

NNRT_API double nnrt_model_evaluate(NnrtModel *m, const void *const *inputs, const void *label, int64_t n) {
  if (!ready(m, NNRT_EVAL, "evaluate", inputs, label, n)) return NAN;
  m->def->run[NNRT_EVAL](m, n, inputs, label);
  model_ok(m);
  return m->loss;
}

NNRT_API const void *nnrt_model_predict(NnrtModel *m, const void *const *inputs, int64_t n) {
  if (!ready(m, NNRT_INFER, "predict", inputs, NULL, n)) return NULL;
  m->def->run[NNRT_INFER](m, n, inputs, NULL);
  model_ok(m);
  return m->out[0];
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
  int32_t *window = (int32_t *)(s + classes);
  for (int64_t i = 0; i < count; i++) {
    int64_t total = len + i, seen = total < steps ? total : steps;
    for (int64_t j = 0; j < steps; j++) {
      int64_t at = total - seen + j; /* the text so far: prompt, then out */
      window[j] = j >= seen ? 0 : at < len ? prompt[at] : out[at - len];
    }
    const void *inputs[1] = {window};
    const char *row = (const char *)nnrt_model_predict(m, inputs, 1);
    if (!row) {
      free(s);
      return -1;
    }
    double top = -INFINITY;
    int32_t best = 0;
    for (int64_t c = 0; c < classes; c++) {
      int64_t at = (seen - 1) * classes + c;
      double p = def->gen_dtype == 1 ? ((const double *)row)[at] : (double)((const float *)row)[at];
      if (isnan(p)) {
        free(s);
        return model_fail(m, "generate: the model's score of token %lld at step %lld is nan", (long long)c,
                          (long long)i);
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
    out[i] = best;
  }
  free(s);
  return model_ok(m);
}
