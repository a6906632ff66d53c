/* qgemm.c — the int8 product (nnrt_qgemm: uint8 x int8, int32 sums scaled to float) against
 * the float one (nnrt_sgemm) on the same shapes, one thread, in one
 * process: the kernels of int8 quantization (docs/performance.md).
 *
 *   cc -O3 -fopenmp -Iruntime bench/qgemm.c -o qgemm -lm
 *   ./qgemm M K N [REPS]      C[M x N] = A[M x K] B[K x N], medians of REPS
 *   NNRT_ISA=avx2 ./qgemm ...  both products at the AVX2 level
 */
#define NNRT_NO_WINDOW /* the products alone */
#include "nnrt.c"
#include "nnrt_gemm.c"
#include "nnrt_qgemm.c"
#include "bench.h"

int main(int argc, char **argv) {
  if (argc < 4) return fprintf(stderr, "usage: qgemm M K N [REPS]\n"), 2;
  int64_t M = atoll(argv[1]), K = atoll(argv[2]), N = atoll(argv[3]), reps = argc > 4 ? atoll(argv[4]) : 21;
  if (M < 1 || K < 1 || K > 65536 || N < 1 || reps < 1 || reps > 1000) return fprintf(stderr, "bad sizes\n"), 2;
  float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
  float *C = malloc(sizeof(float) * (size_t)(M * N)), *S = malloc(sizeof(float) * nnrt_sgemm_scratch(1));
  uint8_t *a = malloc((size_t)(M * K + 3)) /* rows read in fours */;
  int8_t *b = malloc((size_t)(K * N));
  void *P = malloc(nnrt_qlayer_bytes(K, N));
  float *c = malloc(sizeof(float) * (size_t)(M * N)), *scale = malloc(sizeof(float) * (size_t)N);
  double *ts = malloc(sizeof(double) * (size_t)reps), *tq = malloc(sizeof(double) * (size_t)reps);
  if (!A || !B || !C || !S || !a || !b || !P || !c || !scale || !ts || !tq) return fprintf(stderr, "out of memory\n"), 1;
  for (int64_t i = 0; i < M * K; i++) A[i] = (float)(i % 7), a[i] = (uint8_t)(i % 251);
  a[M * K] = a[M * K + 1] = a[M * K + 2] = 0;
  for (int64_t i = 0; i < K * N; i++) B[i] = (float)(i % 5), b[i] = (int8_t)(i % 255 - 127);
  for (int64_t j = 0; j < N; j++) scale[j] = 1;
  nnrt_qlayer_pack(K, N, b, N, scale, P);
  for (int64_t r = 0; r < reps; r++) { /* alternately */
    double t = now();
    nnrt_sgemm(1, M, N, K, A, K, 1, B, N, 1, C, N, false, S, NULL);
    ts[r] = now() - t;
    t = now();
    nnrt_qgemm(M, N, K, a, K, P, c, N);
    tq[r] = now() - t;
  }
  qsort(ts, (size_t)reps, sizeof *ts, cmp);
  qsort(tq, (size_t)reps, sizeof *tq, cmp);
  double s = ts[reps / 2], q = tq[reps / 2], ops = 2.0 * (double)M * (double)N * (double)K;
  printf("%lldx%lldx%lld: f32 %.3f ms (%.0f GFLOP/s), int8 kernel %d %.3f ms (%.0f GOP/s), int8/f32 speed %.2f\n",
         (long long)M, (long long)K, (long long)N, s * 1e3, ops / s / 1e9, nnrt_qgemm_kernel(), q * 1e3, ops / q / 1e9,
         s / q);
  return 0;
}
