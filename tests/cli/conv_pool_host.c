/* conv_pool_host.c — a host for conv_pool.sh: the ConvPool model's
 * predictions (tests/cli/conv_pool.nn, libconv_pool.so) for batches of 1, 5
 * and 7 at 1, 2 and 3 threads. The thread count must not change the bits;
 * the 1-thread predictions go to the file argv[1], for conv_pool.sh to
 * compare with another build's. Prints "ok" or what failed; exits 1 on a
 * failure. */
#include <stdio.h>
#include <string.h>
#include "libconv_pool.h"

enum { IN = 26 * 25 * 16, OUT = 33020, MOST = 7 };

static float x[MOST * IN], first[MOST * OUT];

int main(int argc, char **argv) {
  static const int batches[] = {1, 5, 7};
  FILE *f = argc > 1 ? fopen(argv[1], "wb") : NULL;
  if (!f) return puts("usage: conv_pool_host OUT"), 1;
  for (int i = 0; i < MOST * IN; i++) x[i] = (float)((i * 37 % 101) - 50) / 25;
  const void *in[1] = {x};
  int bad = 0;
  for (int b = 0; b < 3; b++) {
    int n = batches[b];
    for (int threads = 1; threads <= 3; threads++) {
      ConvPool_Model *m = ConvPool_create(7);
      ConvPool_set_threads(m, threads);
      const float *y = ConvPool_predict(m, in, n);
      if (!y) {
        printf("n %d, %d threads: %s\n", n, threads, ConvPool_last_error(m));
        bad = 1;
      } else if (threads == 1) {
        memcpy(first, y, sizeof(float) * (size_t)(n * OUT));
        fwrite(y, sizeof(float), (size_t)(n * OUT), f);
      } else if (memcmp(first, y, sizeof(float) * (size_t)(n * OUT))) {
        printf("n %d: %d threads give other bits than 1\n", n, threads);
        bad = 1;
      }
      ConvPool_free(m);
    }
  }
  fclose(f);
  puts(bad ? "FAIL" : "ok");
  return bad;
}
