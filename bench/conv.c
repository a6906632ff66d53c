/* conv.c — the float 3x3 convolution's kernels on the seed CNN's layers
 * (examples/seed_cnn.nn): Winograd's F(2x2, 3x3) against the direct
 * kernel (runtime/nnrt_conv.c), one thread, no epilogue.
 *
 *   conv BATCH REPS   prints, per layer, the median CPU time of a call
 *                     (CLOCK_PROCESS_CPUTIME_ID: the machine's other
 *                     load counts less) for each kernel, the two run
 *                     alternately, and "-" where Winograd's declines
 *
 * Built as bench/run.sh builds bench/gemm.c:
 *   cc -O3 -march=native -fopenmp -std=c11 -D_POSIX_C_SOURCE=200809L -Iruntime -o build/bench/conv bench/conv.c -lm */
#include "nnrt.c"
#include "nnrt_gemm.c"
#include "nnrt_conv.c"

#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

int main(int argc, char **argv) {
  const int64_t n = argc > 1 ? atol(argv[1]) : 32;
  const int reps = argc > 2 ? atoi(argv[2]) : 21;
  const NnrtWindow layers[] = {
      {.h = 32, .w = 32, .c = 3, .oh = 30, .ow = 30, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
       .groups = 1, .chunk = 1},
      {.h = 15, .w = 15, .c = 32, .oh = 13, .ow = 13, .f = 64, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
       .groups = 1, .chunk = 1},
      {.h = 6, .w = 6, .c = 64, .oh = 4, .ow = 4, .f = 128, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
       .groups = 1, .chunk = 1},
  };
  for (size_t l = 0; l < sizeof layers / sizeof *layers; l++) {
    const NnrtWindow *g = &layers[l];
    const int64_t R = 9 * g->c, nx = n * g->h * g->w * g->c, ny = n * g->oh * g->ow * g->f;
    const size_t cap = (size_t)(g->oh * g->ow * R) + nnrt_sgemm_scratch(1);
    float *x = malloc(sizeof *x * (size_t)nx), *w = malloc(sizeof *w * (size_t)(R * g->f));
    float *y = malloc(sizeof *y * (size_t)ny), *scratch = malloc(sizeof *scratch * cap);
    for (int64_t i = 0; i < nx; i++) x[i] = (float)(i % 17) * 0.1f - 0.8f;
    for (int64_t i = 0; i < R * g->f; i++) w[i] = (float)(i % 13) * 0.01f - 0.06f;
    double td[101], tw[101];
    int calls = (int)(2000000 / (ny * R / 64 + 1)) + 1; /* a few ms a sample */
    bool wino = true;
    for (int r = 0; r < reps && r < 101; r++) {
      double t0 = cpu_now();
      for (int c = 0; c < calls; c++) nnrt_conv2d_direct_f32(1, n, g, x, w, y, scratch, cap, NULL);
      double t1 = cpu_now();
      for (int c = 0; c < calls && wino; c++) wino = nnrt_conv2d_winograd_f32(1, n, g, x, w, y, scratch, cap, NULL, NULL);
      double t2 = cpu_now();
      td[r] = (t1 - t0) / calls, tw[r] = (t2 - t1) / calls;
    }
    qsort(td, (size_t)reps, sizeof *td, cmp), qsort(tw, (size_t)reps, sizeof *tw, cmp);
    const double mac = (double)ny * (double)R;
    printf("conv %lldx%lldx%lld -> %lldx%lldx%lld batch %lld: direct %.1f us (%.0f GFLOP/s)", (long long)g->h,
           (long long)g->w, (long long)g->c, (long long)g->oh, (long long)g->ow, (long long)g->f, (long long)n,
           td[reps / 2] * 1e6, 2 * mac / td[reps / 2] * 1e-9);
    if (wino) printf(", winograd %.1f us (%.2fx)\n", tw[reps / 2] * 1e6, td[reps / 2] / tw[reps / 2]);
    else printf(", winograd -\n");
    free(x), free(w), free(y), free(scratch);
  }
  return 0;
}
