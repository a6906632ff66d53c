/* padded.c — a batch of short sequences padded to a model's compiled
 * length: the training step and the prediction of a 512-step masked LSTM
 * (the model below) with every sequence of the batch `len` tokens long
 * and 0 after, for each len given; best of 3 each.
 *
 *   cat > /tmp/padb/padded.nn <<'NN'
 *   model P {
 *     input ids: i32[512]
 *     e = embedding(ids, 256, 64)
 *     h = lstm(e, 128, return_sequences: true, mask: sign(float(ids)))
 *     output dense(h, 256, activation: softmax)
 *   }
 *   train P {
 *     loss       sparse_categorical_crossentropy
 *     optimizer  adam(lr: 0.001)
 *   }
 *   NN
 *   build/nnc --backend=c /tmp/padb/padded.nn -o /tmp/padb/libpadded.so
 *   cc -O2 -std=c11 -I/tmp/padb bench/padded.c -o /tmp/padb/padded /tmp/padb/libpadded.so -Wl,-rpath,/tmp/padb
 *   /tmp/padb/padded 512 256 64 8
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"
#include "libpadded.h"

enum { N = 32, T = 512 };

int main(int argc, char **argv) {
  static int32_t ids[N * T], y[N * T];
  P_Model *m = P_create(1);
  if (!m) return 1;
  for (int a = 1; a < argc; a++) {
    int len = atoi(argv[a]);
    for (int i = 0; i < N * T; i++) ids[i] = i % T < len ? 1 + (i * 7919) % 255 : 0, y[i] = (i * 31) % 256;
    const void *in[1] = {ids};
    double train = 1e30, predict = 1e30;
    for (int r = 0; r < 3; r++) {
      double t0 = now(), t;
      P_train_step(m, in, y, N);
      if ((t = now() - t0) < train) train = t;
      t0 = now();
      if (!P_predict(m, in, N)) {
        fprintf(stderr, "%s\n", P_last_error(m));
        return 1;
      }
      if ((t = now() - t0) < predict) predict = t;
    }
    printf("length %3d: training step %.1f ms, prediction %.1f ms\n", len, 1e3 * train, 1e3 * predict);
  }
  P_free(m);
  return 0;
}
