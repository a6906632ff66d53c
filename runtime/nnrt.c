/* nnrt.c — the runtime's implementation (see nnrt.h). Plain C11 and libm. */
#include "nnrt.h"

#include <errno.h>
#include <math.h>
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

NNRT_API void nnrt_out_of_memory(void) {
  fprintf(stderr, "error: out of memory\n");
  exit(1);
}

NNRT_API size_t nnrt_align(size_t bytes) { return (bytes + 63) / 64 * 64; }

NNRT_API void *nnrt_alloc(size_t bytes) {
  void *p = aligned_alloc(64, nnrt_align(bytes ? bytes : 1));
  if (!p) nnrt_out_of_memory();
  memset(p, 0, nnrt_align(bytes ? bytes : 1));
  return p;
}

NNRT_API char *nnrt_workspace(char **ws, size_t *size, size_t need) {
  if (need <= *size && *ws) return *ws;
  free(*ws);
  *ws = nnrt_alloc(need);
  *size = need;
  return *ws;
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

/* -------------------------------------------------------------- data */


enum { NNRT_MAX_FIELD = 256 };

static bool csv_error(char *err, size_t errlen, const char *path, int64_t line, int64_t col,
                      const char *msg) {
  snprintf(err, errlen, "%s:%lld:%lld: %s", path, (long long)line, (long long)col, msg);
  return false;
}

/* The number of the column called `name` in the header line of f. */
static int header_column(FILE *f, const char *name, char delimiter) {
  char cell[NNRT_MAX_FIELD + 1];
  int len = 0, column = 0, found = -1;
  for (;;) {
    int c = fgetc(f);
    if (c == '\r') continue;
    if (c == delimiter || c == '\n' || c == EOF) {
      cell[len] = '\0';
      if (found < 0 && !strcmp(cell, name)) found = column;
      column++;
      len = 0;
      if (c != delimiter) break;
      continue;
    }
    if (len < NNRT_MAX_FIELD) cell[len++] = (char)c;
  }
  return found;
}

NNRT_API bool nnrt_csv_load(const char *path, const char *label_name, int label_col, bool header,
                   char delimiter, double scale, NnrtTable *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return false;
  }
  if (label_name) {
    label_col = header ? header_column(f, label_name, delimiter) : -2;
    if (label_col < 0) {
      fclose(f);
      return csv_error(err, errlen, path, 1, 1, "no column of the header row has the label's name");
    }
    header = false; /* consumed */
  }
  int64_t cap = 0, n = 0, cols = -1, line = label_name ? 2 : 1, col = 1, field_col = 1, ncols = 0;
  double *vals = NULL;
  char field[NNRT_MAX_FIELD + 1];
  int flen = 0;
  bool skipping = header, ok = true, line_has_data = false;
  for (;;) {
    int c = fgetc(f);
    if (skipping) {
      if (c == '\n') skipping = false, line++, col = 1;
      if (c == EOF) break;
      continue;
    }
    if (c == '\r') continue;
    if (c == delimiter || c == '\n' || c == EOF) {
      if (c == EOF && !line_has_data && flen == 0) break;
      field[flen] = '\0';
      char *end;
      errno = 0;
      double v = strtod(field, &end);
      while (*end == ' ' || *end == '\t') end++;
      if (flen == 0 || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        char msg[NNRT_MAX_FIELD + 64];
        snprintf(msg, sizeof msg, "expected a number, got '%s'", field);
        ok = csv_error(err, errlen, path, line, field_col, msg);
        break;
      }
      if (n == cap) {
        cap = cap ? 2 * cap : 4096;
        if (cap > ((int64_t)1 << 34)) { ok = csv_error(err, errlen, path, line, field_col, "the table is too large"); break; }
        double *nv = realloc(vals, sizeof *vals * (size_t)cap);
        if (!nv) nnrt_out_of_memory();
        vals = nv;
      }
      vals[n++] = v;
      ncols++;
      flen = 0;
      line_has_data = true;
      if (c == delimiter) {
        col++;
        field_col = col;
        continue;
      }
      if (cols < 0) cols = ncols;
      else if (ncols != cols) {
        char msg[96];
        snprintf(msg, sizeof msg, "this row has %lld fields, the first one %lld", (long long)ncols, (long long)cols);
        ok = csv_error(err, errlen, path, line, 1, msg);
        break;
      }
      ncols = 0;
      line_has_data = false;
      line++;
      col = field_col = 1;
      if (c == EOF) break;
      continue;
    }
    if (flen == NNRT_MAX_FIELD) { ok = csv_error(err, errlen, path, line, field_col, "field too long"); break; }
    field[flen++] = (char)c;
    col++;
  }
  fclose(f);
  if (ok && (cols < 2 || n == 0)) ok = csv_error(err, errlen, path, line, 1, "expected rows of at least two numbers");
  if (ok && (label_col >= cols || label_col < -1)) ok = csv_error(err, errlen, path, 1, 1, "the label column is not in the table");
  if (!ok) {
    free(vals);
    return false;
  }
  int lc = label_col < 0 ? (int)cols - 1 : label_col;
  t->rows = n / cols;
  t->width = 1;
  t->features = cols - 1;
  t->x = nnrt_alloc(sizeof(float) * (size_t)(t->rows * t->features));
  t->y = nnrt_alloc(sizeof(float) * (size_t)t->rows);
  for (int64_t r = 0; r < t->rows; r++)
    for (int64_t c = 0, k = 0; c < cols; c++) {
      double v = vals[r * cols + c];
      if (c == lc) t->y[r] = (float)v;
      else t->x[r * t->features + k++] = (float)(v * scale);
    }
  free(vals);
  return true;
}

/* The header of an IDX file of unsigned bytes: dims[0] samples of
 * per = dims[1] * ... bytes. Returns the header's size, or 0 with err set. */
static long idx_header(FILE *f, const char *path, int want_dims, int64_t *count, int64_t *per,
                       char *err, size_t errlen) {
  unsigned char h[4], b[4];
  if (fseek(f, 0, SEEK_END) != 0) return 0;
  long size = ftell(f);
  rewind(f);
  if (size < 8 || fread(h, 1, 4, f) != 4 || h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] < 1 ||
      h[3] > 8 || (want_dims && h[3] != want_dims)) {
    snprintf(err, errlen, "%s: byte 0: not an IDX file of unsigned bytes%s", path,
             want_dims ? " with one label a sample" : "");
    return 0;
  }
  int64_t dims[8], prod = 1;
  for (int d = 0; d < h[3]; d++) {
    if (fread(b, 1, 4, f) != 4) {
      snprintf(err, errlen, "%s: byte %d: the header is cut short", path, 4 + 4 * d);
      return 0;
    }
    dims[d] = (int64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    if (d > 0) {
      prod *= dims[d];
      if (dims[d] == 0 || prod > ((int64_t)1 << 31)) {
        snprintf(err, errlen, "%s: byte %d: sample size out of range", path, 4 + 4 * d);
        return 0;
      }
    }
  }
  long header = 4 + 4L * h[3];
  if (dims[0] == 0 || (double)dims[0] * (double)prod != (double)(size - header)) {
    snprintf(err, errlen, "%s: the header promises %lld samples of %lld bytes, the file has %ld bytes after it",
             path, (long long)dims[0], (long long)prod, size - header);
    return 0;
  }
  *count = dims[0];
  *per = prod;
  return header;
}

NNRT_API bool nnrt_idx_load(const char *images, const char *labels, double scale, NnrtTable *t,
                            char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *fi = fopen(images, "rb"), *fl = fopen(labels, "rb");
  bool ok = fi && fl;
  if (!fi) snprintf(err, errlen, "%s: cannot open: %s", images, strerror(errno));
  else if (!fl) snprintf(err, errlen, "%s: cannot open: %s", labels, strerror(errno));
  int64_t n = 0, per = 0, nl = 0, one = 0;
  ok = ok && idx_header(fi, images, 0, &n, &per, err, errlen) &&
       idx_header(fl, labels, 1, &nl, &one, err, errlen);
  if (ok && nl != n) {
    snprintf(err, errlen, "%s: %lld labels for the %lld samples of %s", labels, (long long)nl,
             (long long)n, images);
    ok = false;
  }
  if (ok) {
    t->rows = n;
    t->width = 1;
    t->features = per;
    t->x = nnrt_alloc(sizeof(float) * (size_t)(n * per));
    t->y = nnrt_alloc(sizeof(float) * (size_t)n);
    unsigned char *row = malloc((size_t)per);
    if (!row) nnrt_out_of_memory();
    for (int64_t r = 0; ok && r < n; r++) {
      ok = fread(row, 1, (size_t)per, fi) == (size_t)per;
      for (int64_t j = 0; ok && j < per; j++) t->x[r * per + j] = (float)(row[j] * scale);
    }
    for (int64_t r = 0; ok && r < n; r++) {
      int c = fgetc(fl);
      ok = c != EOF;
      t->y[r] = (float)c;
    }
    free(row);
    if (!ok) snprintf(err, errlen, "%s: cannot read the data", images);
  }
  if (fi) fclose(fi);
  if (fl) fclose(fl);
  if (!ok) nnrt_table_free(t);
  return ok;
}

/* The header of a .npy file: element type and size, sample count and
 * values a sample. Returns the data's offset, or 0 with err set. */
/* One CIFAR-10 binary batch appended to t (rows already counted). */
static bool cifar_file(const char *path, double scale, NnrtTable *t, int64_t *row, char *err,
                       size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return false;
  }
  unsigned char rec[3073];
  bool ok = true;
  for (int64_t k = 0; ok && fread(rec, 1, sizeof rec, f) == sizeof rec; k++, (*row)++) {
    if (rec[0] > 9) {
      snprintf(err, errlen, "%s: byte %lld: the label %d is not a CIFAR-10 class (0 to 9)", path,
               (long long)k * 3073, rec[0]);
      ok = false;
    }
    t->y[*row] = rec[0];
    for (int64_t ch = 0; ch < 3; ch++) /* planes of 1024 bytes -> pixels of 3 channels */
      for (int64_t i = 0; i < 1024; i++) t->x[*row * 3072 + i * 3 + ch] = (float)(rec[1 + ch * 1024 + i] * scale);
  }
  fclose(f);
  return ok;
}

/* The byte length of a CIFAR-10 batch: whole records, at least one. */
static int64_t cifar_records(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  fclose(f);
  if (size <= 0 || size % 3073) {
    snprintf(err, errlen, "%s: %ld bytes is not a whole number of CIFAR-10 records (3073 bytes: a label "
             "and 32x32x3 pixels)", path, size < 0 ? 0 : size);
    return -1;
  }
  return size / 3073;
}

NNRT_API bool nnrt_cifar_load(const char *path, double scale, NnrtTable *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  char files[5][4096];
  int nfiles = 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) { /* the training batches of the official archive */
    for (int i = 1; i <= 5; i++) {
      snprintf(files[nfiles], sizeof files[nfiles], "%s/data_batch_%d.bin", path, i);
      if (stat(files[nfiles], &st) == 0) nfiles++;
    }
    if (!nfiles) {
      snprintf(err, errlen, "%s: no data_batch_1.bin ... data_batch_5.bin in this directory", path);
      return false;
    }
  } else {
    snprintf(files[nfiles++], sizeof files[0], "%s", path);
  }
  int64_t rows = 0, row = 0;
  for (int i = 0; i < nfiles; i++) {
    int64_t k = cifar_records(files[i], err, errlen);
    if (k < 0) return false;
    rows += k;
  }
  t->rows = rows;
  t->width = 1;
  t->features = 3072;
  t->x = nnrt_alloc(sizeof(float) * (size_t)rows * 3072);
  t->y = nnrt_alloc(sizeof(float) * (size_t)rows);
  bool ok = true;
  for (int i = 0; ok && i < nfiles; i++) ok = cifar_file(files[i], scale, t, &row, err, errlen);
  if (ok && row != rows) {
    snprintf(err, errlen, "%s: the file changed while it was read", path);
    ok = false;
  }
  if (!ok) nnrt_table_free(t);
  return ok;
}

static long npy_header(FILE *f, const char *path, char *type, int *size, int64_t *count,
                       int64_t *per, char *err, size_t errlen) {
  unsigned char m[10];
  if (fseek(f, 0, SEEK_END) != 0) return 0;
  long fsize = ftell(f);
  rewind(f);
  if (fsize < 10 || fread(m, 1, 10, f) != 10 || memcmp(m, "\x93NUMPY", 6) != 0 || m[6] < 1 || m[6] > 3) {
    snprintf(err, errlen, "%s: byte 0: not a NumPy .npy file", path);
    return 0;
  }
  long hlen = m[8] | m[9] << 8, start = 10;
  if (m[6] > 1) { /* 4-byte header length */
    unsigned char b[2];
    if (fread(b, 1, 2, f) != 2) return snprintf(err, errlen, "%s: byte 10: cut short", path), 0;
    hlen |= (long)b[0] << 16 | (long)b[1] << 24;
    start = 12;
  }
  if (hlen <= 0 || hlen > 65536 || start + hlen > fsize) {
    snprintf(err, errlen, "%s: byte 8: the header length %ld exceeds the file", path, hlen);
    return 0;
  }
  char h[65537];
  if (fread(h, 1, (size_t)hlen, f) != (size_t)hlen) return snprintf(err, errlen, "%s: cannot read", path), 0;
  h[hlen] = '\0';
  const char *d = strstr(h, "'descr':"), *fo = strstr(h, "'fortran_order':"), *sh = strstr(h, "'shape':");
  if (!d || !fo || !sh) {
    snprintf(err, errlen, "%s: byte %ld: the header lacks descr, fortran_order or shape", path, start);
    return 0;
  }
  if (strncmp(fo + 16 + strspn(fo + 16, " "), "False", 5) != 0) {
    snprintf(err, errlen, "%s: Fortran-ordered arrays are not read; save in C order", path);
    return 0;
  }
  d += 8 + strspn(d + 8, " ");
  static const struct { const char *descr; char type; int size; } types[] = {
    {"'<f4'", 'f', 4}, {"'<f8'", 'f', 8}, {"'|u1'", 'u', 1}, {"'<i4'", 'i', 4}, {"'<i8'", 'i', 8},
  };
  *size = 0;
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (!strncmp(d, types[i].descr, strlen(types[i].descr))) *type = types[i].type, *size = types[i].size;
  if (!*size) {
    int len = *d == '\'' ? (int)strcspn(d + 1, "'") + 2 : 0;
    snprintf(err, errlen, "%s: element type %.*s is not float32, float64, uint8, int32 or int64", path,
             len > 12 ? 12 : len, d);
    return 0;
  }
  sh += 8 + strspn(sh + 8, " ");
  if (*sh != '(') return snprintf(err, errlen, "%s: malformed shape", path), 0;
  int64_t dims[8], nd = 0;
  const char *q = sh + 1;
  for (;;) {
    while (*q == ' ' || *q == ',') q++;
    if (*q == ')') break;
    char *end;
    long long v = strtoll(q, &end, 10);
    if (end == q || v < 0 || v > ((int64_t)1 << 31) || nd == 8)
      return snprintf(err, errlen, "%s: malformed shape", path), 0;
    dims[nd++] = v;
    q = end;
  }
  if (nd < 1) return snprintf(err, errlen, "%s: an array of samples needs at least one axis", path), 0;
  *count = dims[0];
  *per = 1;
  for (int i = 1; i < nd && *per <= ((int64_t)1 << 31); i++) *per *= dims[i];
  long data = start + hlen;
  if (*per > ((int64_t)1 << 31) || (double)*count * (double)*per * *size != (double)(fsize - data)) {
    snprintf(err, errlen, "%s: the shape promises %lld samples of %lld values, the file has %ld bytes of data",
             path, (long long)*count, (long long)*per, fsize - data);
    return 0;
  }
  return data;
}

static double npy_value(const unsigned char *p, char type, int size) {
  if (type == 'u') return p[0];
  if (type == 'f' && size == 4) { float v; memcpy(&v, p, 4); return v; }
  if (type == 'f') { double v; memcpy(&v, p, 8); return v; }
  if (size == 4) { int32_t v; memcpy(&v, p, 4); return v; }
  int64_t v;
  memcpy(&v, p, 8);
  return (double)v;
}

NNRT_API bool nnrt_npy_load(const char *x, const char *y, double scale, NnrtTable *t, char *err,
                            size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *fx = fopen(x, "rb"), *fy = fopen(y, "rb");
  bool ok = fx && fy;
  if (!fx) snprintf(err, errlen, "%s: cannot open: %s", x, strerror(errno));
  else if (!fy) snprintf(err, errlen, "%s: cannot open: %s", y, strerror(errno));
  char tx = 0, ty = 0;
  int sx = 0, sy = 0;
  int64_t n = 0, per = 0, ny = 0, one = 0;
  ok = ok && npy_header(fx, x, &tx, &sx, &n, &per, err, errlen) &&
       npy_header(fy, y, &ty, &sy, &ny, &one, err, errlen);
  if (ok && ny != n) {
    snprintf(err, errlen, "%s: expected labels for %lld samples, got %lld", y, (long long)n, (long long)ny);
    ok = false;
  }
  if (ok) {
    t->rows = n;
    t->width = one; /* labels a sample: 1, or a sequence's */
    t->features = per;
    t->x = nnrt_alloc(sizeof(float) * (size_t)(n * per) + 1);
    t->y = nnrt_alloc(sizeof(float) * (size_t)(n * one) + 1);
    unsigned char buf[8];
    for (int64_t i = 0; ok && i < n * per; i++) {
      ok = fread(buf, 1, (size_t)sx, fx) == (size_t)sx;
      double v = npy_value(buf, tx, sx) * scale;
      if (ok && !isfinite(v)) {
        snprintf(err, errlen, "%s: sample %lld: not a finite number", x, (long long)(i / per + 1));
        ok = false;
        break;
      }
      t->x[i] = (float)v;
    }
    for (int64_t i = 0; ok && i < n * one; i++) {
      ok = fread(buf, 1, (size_t)sy, fy) == (size_t)sy;
      double v = npy_value(buf, ty, sy);
      if (ok && !isfinite(v)) {
        snprintf(err, errlen, "%s: sample %lld: not a finite number", y, (long long)(i / one) + 1);
        ok = false;
      }
      t->y[i] = (float)v;
    }
    if (!ok && !*err) snprintf(err, errlen, "%s: cannot read the data", x);
  }
  if (fx) fclose(fx);
  if (fy) fclose(fy);
  if (!ok) nnrt_table_free(t);
  return ok;
}

NNRT_API bool nnrt_text_load(const char *path, int64_t steps, NnrtTable *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return false;
  }
  size_t cap = 1 << 16, len = 0, got;
  unsigned char *text = malloc(cap);
  if (!text) nnrt_out_of_memory();
  while ((got = fread(text + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      if (cap > ((size_t)1 << 40)) break; /* a terabyte of text: enough */
      unsigned char *more = realloc(text, cap *= 2);
      if (!more) nnrt_out_of_memory();
      text = more;
    }
  }
  bool failed = ferror(f);
  fclose(f);
  int64_t rows = steps > 0 && len > 0 ? (int64_t)((len - 1) / (size_t)steps) : 0;
  if (failed || rows < 1) {
    if (failed) snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    else snprintf(err, errlen, "%s: %zu bytes: too short for one sequence of %lld characters and the one after",
                  path, len, (long long)steps);
    free(text);
    return false;
  }
  t->rows = rows;
  t->features = t->width = steps;
  t->x = nnrt_alloc(sizeof(float) * (size_t)(rows * steps));
  t->y = nnrt_alloc(sizeof(float) * (size_t)(rows * steps));
  for (int64_t i = 0; i < rows * steps; i++) t->x[i] = text[i], t->y[i] = text[i + 1];
  free(text);
  return true;
}

NNRT_API void nnrt_table_free(NnrtTable *t) {
  free(t->x);
  free(t->y);
  memset(t, 0, sizeof *t);
}

NNRT_API void nnrt_standardize(NnrtTable *t, int64_t fit_rows, int64_t channels) {
  if (channels < 1 || t->features % channels) channels = t->features;
  int64_t per = t->features / channels, fit = fit_rows * per;
  for (int64_t j = 0; j < channels; j++) {
    double mean = 0, var = 0;
    for (int64_t r = 0; r < fit_rows; r++)
      for (int64_t k = 0; k < per; k++) mean += t->x[r * t->features + k * channels + j];
    mean /= (double)(fit ? fit : 1);
    for (int64_t r = 0; r < fit_rows; r++)
      for (int64_t k = 0; k < per; k++) {
        double d = t->x[r * t->features + k * channels + j] - mean;
        var += d * d;
      }
    double sd = sqrt(var / (double)(fit ? fit : 1));
    if (sd == 0) sd = 1;
    for (int64_t r = 0; r < t->rows; r++)
      for (int64_t k = 0; k < per; k++) {
        float *v = &t->x[r * t->features + k * channels + j];
        *v = (float)((*v - mean) / sd);
      }
  }
}

NNRT_API void nnrt_augment(float *x, int64_t n, int64_t h, int64_t w, int64_t c, bool flip, int64_t pad,
                           uint64_t seed, uint64_t first, float *tmp) {
  const uint64_t stream = (uint64_t)3 << 61;
  for (int64_t i = 0; i < n; i++) {
    float *img = x + i * h * w * c;
    uint64_t k = (first + (uint64_t)i) * 3;
    bool mirror = flip && nnrt_uniform(seed, stream, k) < 0.5;
    int64_t dy = pad ? (int64_t)(nnrt_rng_u64(seed, stream, k + 1) % (uint64_t)(2 * pad + 1)) - pad : 0;
    int64_t dx = pad ? (int64_t)(nnrt_rng_u64(seed, stream, k + 2) % (uint64_t)(2 * pad + 1)) - pad : 0;
    if (!mirror && !dy && !dx) continue;
    memcpy(tmp, img, sizeof *tmp * (size_t)(h * w * c));
    for (int64_t r = 0; r < h; r++)
      for (int64_t q = 0; q < w; q++) {
        int64_t sr = r + dy, sq = (mirror ? w - 1 - q : q) + dx;
        bool in = sr >= 0 && sr < h && sq >= 0 && sq < w;
        for (int64_t ch = 0; ch < c; ch++) img[(r * w + q) * c + ch] = in ? tmp[(sr * w + sq) * c + ch] : 0;
      }
  }
}

NNRT_API void nnrt_shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    int64_t j = (int64_t)(nnrt_rng_u64(seed, ((uint64_t)1 << 62) + (uint64_t)epoch, (uint64_t)i) % (uint64_t)(i + 1));
    int64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

NNRT_API double nnrt_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* -------------------------------------------------------- checkpoints */


static bool fail_at(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(err, errlen, "%s: ", path);
  if (k >= 0 && (size_t)k < errlen) vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
  va_end(ap);
  return false;
}

static int64_t tensor_bytes(const NnrtTensorInfo *t) {
  int64_t n = t->elem_size;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d];
  return n;
}

NNRT_API bool nnrt_save(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
               int64_t step, int64_t epoch, char *err, size_t errlen) {
  /* the JSON header, padded with spaces to a multiple of 8 bytes */
  size_t cap = 256 + (size_t)n * 256, len = 0;
  char *h = malloc(cap);
  if (!h) nnrt_out_of_memory();
  len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"nnc\",\"step\":\"%lld\",\"epoch\":\"%lld\"}",
                          (long long)step, (long long)epoch);
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    const NnrtTensorInfo *t = &tensors[i];
    len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
                            t->elem_size == 8 ? "F64" : "F32");
    for (int d = 0; d < t->rank; d++)
      len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                            (long long)(off + tensor_bytes(t)));
    off += tensor_bytes(t);
  }
  len += (size_t)snprintf(h + len, cap - len, "}");
  while (len % 8) h[len++] = ' ';
  size_t plen = strlen(path) + 5;
  char *tmp = malloc(plen);
  if (!tmp) nnrt_out_of_memory();
  snprintf(tmp, plen, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
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
    fail_at(err, errlen, path, "cannot write the checkpoint: %s", strerror(errno));
    remove(tmp);
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

NNRT_API bool nnrt_load(const char *path, const NnrtTensorInfo *tensors, void *const *data, int n,
               int64_t *step, int64_t *epoch, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail_at(err, errlen, path, "cannot open: %s", strerror(errno));
  bool ok = false;
  char *h = NULL;
  unsigned char le[8];
  int64_t *found = calloc((size_t)n + 1, sizeof *found), *offs = calloc(2 * (size_t)n + 2, sizeof *offs);
  if (!found || !offs) nnrt_out_of_memory();
  if (fseek(f, 0, SEEK_END) != 0) goto io;
  long size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) goto io;
  if (size < 8 || fread(le, 1, 8, f) != 8) {
    fail_at(err, errlen, path, "too short for a safetensors file (%ld bytes)", size);
    goto done;
  }
  uint64_t hlen = 0;
  for (int b = 0; b < 8; b++) hlen |= (uint64_t)le[b] << (8 * b);
  if (hlen > (uint64_t)size - 8 || hlen > ((uint64_t)1 << 26)) {
    fail_at(err, errlen, path, "the header length %llu at byte 0 exceeds the file", (unsigned long long)hlen);
    goto done;
  }
  h = malloc(hlen + 1);
  if (!h) nnrt_out_of_memory();
  if (fread(h, 1, hlen, f) != hlen) goto io;
  Json j = {.p = h, .end = h + hlen, .start = h};
  char key[256], word[64];
  int64_t data_bytes = (int64_t)size - 8 - (int64_t)hlen;
  *step = *epoch = 0;
  if (!eat(&j, '{')) goto bad;
  do {
    if (!jstring(&j, key, sizeof key) || !eat(&j, ':') || !eat(&j, '{')) goto bad;
    if (!strcmp(key, "__metadata__")) {
      do {
        char val[64];
        if (!jstring(&j, word, sizeof word) || !eat(&j, ':') || !jstring(&j, val, sizeof val)) goto bad;
        if (!strcmp(word, "step")) *step = strtoll(val, NULL, 10);
        if (!strcmp(word, "epoch")) *epoch = strtoll(val, NULL, 10);
      } while (eat(&j, ','));
      if (!eat(&j, '}')) goto bad;
      continue;
    }
    int i = 0;
    while (i < n && strcmp(tensors[i].name, key) != 0) i++;
    if (i == n) {
      fail_at(err, errlen, path, "tensor '%s' is not in this model", key);
      goto done;
    }
    if (found[i]) {
      fail_at(err, errlen, path, "tensor '%s' appears twice", key);
      goto done;
    }
    found[i] = 1;
    int64_t dims[8], nd = 0, b0 = -1, b1 = -1;
    char dtype[16] = "";
    do {
      if (!jstring(&j, word, sizeof word) || !eat(&j, ':')) goto bad;
      if (!strcmp(word, "dtype")) {
        if (!jstring(&j, dtype, sizeof dtype)) goto bad;
      } else if (!strcmp(word, "shape") || !strcmp(word, "data_offsets")) {
        bool shape = word[0] == 's';
        int64_t k = 0, v;
        if (!eat(&j, '[')) goto bad;
        if (!eat(&j, ']')) {
          do {
            if (!jint(&j, &v)) goto bad;
            if (shape && nd < 8) dims[nd] = v;
            if (shape) nd++;
            else if (k == 0) b0 = v;
            else if (k == 1) b1 = v;
            k++;
          } while (eat(&j, ','));
          if (!eat(&j, ']')) goto bad;
        }
        if (!shape && k != 2) goto bad;
      } else {
        goto bad;
      }
    } while (eat(&j, ','));
    if (!eat(&j, '}')) goto bad;
    const NnrtTensorInfo *t = &tensors[i];
    const char *want = t->elem_size == 8 ? "F64" : "F32";
    bool same = nd == t->rank && !strcmp(dtype, want);
    for (int d = 0; same && d < nd; d++) same = dims[d] == t->dims[d];
    if (!same) {
      fail_at(err, errlen, path, "tensor '%s' has another type or shape than the model's %s", key, want);
      goto done;
    }
    if (b0 < 0 || b1 - b0 != tensor_bytes(t) || b1 > data_bytes) {
      fail_at(err, errlen, path, "tensor '%s': its data offsets [%lld, %lld] do not fit the %lld bytes of data",
              key, (long long)b0, (long long)b1, (long long)data_bytes);
      goto done;
    }
    offs[2 * i] = b0;
    offs[2 * i + 1] = b1;
  } while (eat(&j, ','));
  if (!eat(&j, '}')) goto bad;
  for (int i = 0; i < n; i++)
    if (!found[i]) {
      fail_at(err, errlen, path, "tensor '%s' is missing", tensors[i].name);
      goto done;
    }
  /* everything checked: now read the data */
  for (int i = 0; i < n; i++) {
    if (fseek(f, 8 + (long)hlen + (long)offs[2 * i], SEEK_SET) != 0 ||
        fread(data[i], 1, (size_t)tensor_bytes(&tensors[i]), f) != (size_t)tensor_bytes(&tensors[i]))
      goto io;
  }
  ok = true;
  goto done;
bad:
  fail_at(err, errlen, path, "malformed header near byte %ld", 8 + (long)(j.p - j.start));
  goto done;
io:
  fail_at(err, errlen, path, "cannot read: %s", ferror(f) ? strerror(errno) : "the file is truncated");
done:
  fclose(f);
  free(h);
  free(found);
  free(offs);
  return ok;
}

/* ---------------------------------------------------- compiled models */

NNRT_API NnrtModel *nnrt_model_create(const NnrtModelDef *def, uint64_t seed) {
  NnrtModel *m = calloc(1, sizeof *m);
  if (!m) nnrt_out_of_memory();
  int n = def->nparams + def->nstates;
  m->def = def;
  m->params = nnrt_alloc(sizeof(void *) * (size_t)(n + 1));
  m->states = m->params + def->nparams;
  m->seed = seed;
  m->lr = def->base_lr;
  for (int i = 0; i < n; i++) {
    const NnrtTensorInfo *t = &def->tensors[i];
    int64_t count = tensor_bytes(t) / t->elem_size;
    uint64_t stream = i < def->nparams ? (uint64_t)i : ((uint64_t)1 << 20) + (uint64_t)(i - def->nparams);
    void *p = m->params[i] = nnrt_alloc((size_t)tensor_bytes(t));
    for (int64_t j = 0; j < count; j++) {
      double v = nnrt_init_value((NnrtInit)t->init, t->init_args, t->dims, t->rank, seed, stream, (uint64_t)j);
      if (t->elem_size == 8) ((double *)p)[j] = v;
      else ((float *)p)[j] = (float)v;
    }
  }
  return m;
}

NNRT_API void nnrt_model_free(NnrtModel *m) {
  if (!m) return;
  for (int i = 0; i < m->def->nparams + m->def->nstates; i++) free(m->params[i]);
  free(m->params);
  free(m->ws);
  free(m);
}

NNRT_API int nnrt_model_save(NnrtModel *m, const char *path, char *err, size_t errlen) {
  return nnrt_save(path, m->def->tensors, m->params, m->def->nparams + m->def->nstates, m->step, m->epoch,
                   err, errlen) ? 0 : -1;
}

NNRT_API int nnrt_model_load(NnrtModel *m, const char *path, char *err, size_t errlen) {
  int n = m->def->nparams + m->def->nstates;
  int64_t step = 0, epoch = 0;
  void **d = nnrt_alloc(sizeof(void *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) d[i] = nnrt_alloc((size_t)tensor_bytes(&m->def->tensors[i]));
  bool ok = nnrt_load(path, m->def->tensors, d, n, &step, &epoch, err, errlen);
  for (int i = 0; i < n; i++) {
    if (ok) {
      free(m->params[i]);
      m->params[i] = d[i];
    } else {
      free(d[i]);
    }
  }
  free(d);
  if (ok) m->step = step, m->epoch = epoch;
  return ok ? 0 : -1;
}

static void *model_tensor(NnrtModel *m, const char *name, size_t bytes) {
  for (int i = 0; i < m->def->nparams + m->def->nstates; i++) {
    const NnrtTensorInfo *t = &m->def->tensors[i];
    if (strcmp(t->name, name) == 0) return (size_t)tensor_bytes(t) == bytes ? m->params[i] : NULL;
  }
  return NULL;
}

NNRT_API int nnrt_model_get_param(NnrtModel *m, const char *name, void *out, size_t bytes) {
  void *p = model_tensor(m, name, bytes);
  if (!p) return -1;
  memcpy(out, p, bytes);
  return 0;
}

NNRT_API int nnrt_model_set_param(NnrtModel *m, const char *name, const void *in, size_t bytes) {
  void *p = model_tensor(m, name, bytes);
  if (!p) return -1;
  memcpy(p, in, bytes);
  return 0;
}

NNRT_API double nnrt_model_train_step(NnrtModel *m, const void *const *inputs, const void *label, int64_t n) {
  m->step++;
  m->def->run[NNRT_TRAIN](m, n, inputs, label);
  return m->loss;
}

NNRT_API double nnrt_model_evaluate(NnrtModel *m, const void *const *inputs, const void *label, int64_t n) {
  m->def->run[NNRT_EVAL](m, n, inputs, label);
  return m->loss;
}

NNRT_API const void *nnrt_model_predict(NnrtModel *m, const void *const *inputs, int64_t n) {
  m->def->run[NNRT_INFER](m, n, inputs, NULL);
  return m->out[0];
}

NNRT_API size_t nnrt_model_arena_bytes(const NnrtModelDef *def, int64_t n, int threads) {
  size_t most = 0;
  for (int k = 0; k < 3; k++) {
    size_t bytes = def->arena[k] ? def->arena[k](n, threads) : 0;
    if (bytes > most) most = bytes;
  }
  return most;
}

NNRT_API size_t nnrt_model_workspace_bytes(const NnrtModel *m) { return m->ws ? m->ws_size : 0; }

NNRT_API void nnrt_model_set_threads(NnrtModel *m, int threads) { m->threads = threads > 0 ? threads : 0; }

NNRT_API void nnrt_model_set_lr(NnrtModel *m, double lr) { m->lr = lr; }

NNRT_API int nnrt_model_generate(NnrtModel *m, const int32_t *prompt, int64_t len, int64_t count,
                                 double temperature, uint64_t seed, int32_t *out) {
  const NnrtModelDef *def = m ? m->def : NULL;
  if (!def || def->gen_steps < 1 || len < 1 || count < 0 || !prompt || (count > 0 && !out) ||
      !(temperature >= 0))
    return -1;
  /* a window of the last `steps` tokens; the scores of its last one, s */
  int64_t steps = def->gen_steps, classes = def->gen_classes;
  double *s = nnrt_alloc(sizeof(double) * (size_t)classes + sizeof(int32_t) * (size_t)steps);
  int32_t *window = (int32_t *)(s + classes);
  for (int64_t i = 0; i < count; i++) {
    int64_t total = len + i, seen = total < steps ? total : steps;
    for (int64_t j = 0; j < steps; j++) {
      int64_t at = total - seen + j; /* the text so far: prompt, then out */
      window[j] = j >= seen ? 0 : at < len ? prompt[at] : out[at - len];
    }
    const void *inputs[1] = {window};
    const char *row = (const char *)nnrt_model_predict(m, inputs, 1);
    double top = -INFINITY;
    int32_t best = 0;
    for (int64_t c = 0; c < classes; c++) {
      int64_t at = (seen - 1) * classes + c;
      double p = def->gen_dtype == 1 ? ((const double *)row)[at] : (double)((const float *)row)[at];
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
  return 0;
}
