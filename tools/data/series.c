/* series.c — noisy time series for a recurrent regressor, as NumPy files.
 *
 *   series X.npy Y.npy COUNT STEPS SEED
 *
 * writes COUNT sequences of STEPS noisy observations (float32
 * [COUNT, STEPS, 1]) and the clean value of the step after each (float32
 * [COUNT, 1]). A sequence is the sum of two sines with random amplitudes
 * (0.3..1), periods (6..25 steps) and phases, observed with Gaussian noise
 * of standard deviation 0.1. Prints two baselines' mean squared errors:
 * repeating the last observation, and predicting 0. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gen.h"

static double gauss(void) { /* Box-Muller */
  double u = uniform() + 1e-12, v = uniform();
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: series X.npy Y.npy COUNT STEPS SEED\n");
    return 2;
  }
  long count = strtol(argv[3], NULL, 10), steps = strtol(argv[4], NULL, 10);
  state = (uint64_t)strtoull(argv[5], NULL, 10) * 2 + 1;
  if (count < 1 || steps < 1 || count > 1000000 || steps > 10000) {
    fprintf(stderr, "series: COUNT in 1..1000000, STEPS in 1..10000\n");
    return 2;
  }
  FILE *fx = fopen(argv[1], "wb"), *fy = fopen(argv[2], "wb");
  if (!fx || !fy) {
    perror("series");
    return 1;
  }
  char shape[64];
  snprintf(shape, sizeof shape, "(%ld, %ld, 1)", count, steps);
  npy_header(fx, "<f4", shape);
  snprintf(shape, sizeof shape, "(%ld, 1)", count);
  npy_header(fy, "<f4", shape);
  double last = 0, zero = 0;
  for (long i = 0; i < count; i++) {
    double a[2], w[2], p[2];
    for (int k = 0; k < 2; k++)
      a[k] = 0.3 + 0.7 * uniform(), w[k] = 6.283185307179586 / (6 + 19 * uniform()),
      p[k] = 6.283185307179586 * uniform();
    float obs = 0;
    for (long t = 0; t <= steps; t++) {
      double clean = a[0] * sin(w[0] * (double)t + p[0]) + a[1] * sin(w[1] * (double)t + p[1]);
      if (t == steps) {
        float y = (float)clean;
        fwrite(&y, sizeof y, 1, fy);
        last += (clean - obs) * (clean - obs), zero += clean * clean;
        break;
      }
      obs = (float)(clean + 0.1 * gauss());
      fwrite(&obs, sizeof obs, 1, fx);
    }
  }
  fclose(fx), fclose(fy);
  printf("series: %ld sequences of %ld steps; baseline mse: last observation %.4f, zero %.4f\n", count, steps,
         last / (double)count, zero / (double)count);
  return 0;
}
