/* gemm.c — nnc's GEMM (the runtime's nnrt_sgemm) against OpenBLAS's
 * cblas_sgemm on square float matrices, and the machine's FMA peak.
 *
 *   gemm N THREADS REPS [nnc|openblas]
 *                            prints nnc= and openblas= GFLOP/s (medians),
 *                            or only the one named (bench/run.sh runs
 *                            each in its own process, alternately: in one
 *                            process OpenBLAS's threads, spinning after
 *                            a call, starve the next OpenMP team on a
 *                            2-CPU machine, and the reverse)
 *   gemm peak THREADS REPS   prints peak= GFLOP/s: 12 independent FMA
 *                            accumulators per thread, nothing from memory,
 *                            as wide as the build targets (AVX-512 or AVX2)
 */
#include "nnrt.c"
#include "nnrt_gemm.c"
#include <cblas.h>
#include <immintrin.h>
#include "bench.h"

void openblas_set_num_threads(int);

/* The widest FMA the build targets: 16 floats with AVX-512, else 8. */
#ifdef __AVX512F__
enum { LANES = 16 };
static double peak_thread(long iters) {
  __m512 c[12], a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
  for (int i = 0; i < 12; i++) c[i] = _mm512_set1_ps((float)i);
  for (long k = 0; k < iters; k++)
    for (int i = 0; i < 12; i++) c[i] = _mm512_fmadd_ps(a, c[i], b);
  float s = 0;
  for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(c[i]);
  return s;
}
#else
enum { LANES = 8 };
__attribute__((target("avx2,fma"))) static double peak_thread(long iters) {
  __m256 c[12], a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(0.9999999f);
  for (int i = 0; i < 12; i++) c[i] = _mm256_set1_ps((float)i);
  for (long k = 0; k < iters; k++)
    for (int i = 0; i < 12; i++) c[i] = _mm256_fmadd_ps(a, c[i], b);
  float s = 0, out[8];
  for (int i = 0; i < 12; i++) {
    _mm256_storeu_ps(out, c[i]);
    s += out[0];
  }
  return s;
}
#endif

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: gemm N|peak THREADS REPS [nnc|openblas]\n");
    return 2;
  }
  int threads = atoi(argv[2]), reps = atoi(argv[3]);
  double *t1 = malloc(sizeof *t1 * (size_t)reps), *t2 = malloc(sizeof *t2 * (size_t)reps);
  if (!strcmp(argv[1], "peak")) {
    long iters = 20000000;
    for (int r = 0; r < reps; r++) {
      double t0 = now(), sink = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : sink)
      for (int t = 0; t < threads; t++) sink += peak_thread(iters);
      t1[r] = (double)iters * 12 * 2 * LANES * threads / (now() - t0) / 1e9;
      if (sink == 42) puts("");
    }
    qsort(t1, (size_t)reps, sizeof *t1, cmp);
    printf("peak=%.1f\n", t1[reps / 2]);
    return 0;
  }
  int64_t n = atoll(argv[1]);
  float *a = nnrt_alloc(sizeof(float) * (size_t)(n * n)), *b = nnrt_alloc(sizeof(float) * (size_t)(n * n));
  float *c = nnrt_alloc(sizeof(float) * (size_t)(n * n));
  float *scratch = nnrt_alloc(sizeof(float) * nnrt_sgemm_scratch(threads));
  for (int64_t i = 0; i < n * n; i++) a[i] = (float)(i % 13) / 13, b[i] = (float)(i % 7) / 7;
  openblas_set_num_threads(threads);
  double flop = 2.0 * (double)n * (double)n * (double)n;
  int inner = n <= 256 ? 20 : n <= 512 ? 4 : 1;
  const char *only = argc > 4 ? argv[4] : "";
  bool nnc = strcmp(only, "openblas") != 0, blas = strcmp(only, "nnc") != 0;
  for (int r = 0; r < reps; r++) { /* interleaved */
    double t0 = now();
    for (int i = 0; nnc && i < inner; i++)
      nnrt_sgemm(threads, n, n, n, a, n, 1, b, n, 1, c, n, false, scratch, NULL);
    t1[r] = flop * inner / (now() - t0) / 1e9;
    t0 = now();
    for (int i = 0; blas && i < inner; i++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1, a, (int)n, b, (int)n, 0,
                  c, (int)n);
    t2[r] = flop * inner / (now() - t0) / 1e9;
  }
  qsort(t1, (size_t)reps, sizeof *t1, cmp);
  qsort(t2, (size_t)reps, sizeof *t2, cmp);
  if (nnc) printf("nnc=%.1f ", t1[reps / 2]);
  if (blas) printf("openblas=%.1f", t2[reps / 2]);
  printf("\n");
  return 0;
}
