/* reverse.c — a synthetic translation task: a digit sequence to the same
 * digits reversed, as NumPy files for an encoder-decoder.
 *
 *   reverse X.npy Y.npy COUNT LENGTH SEED
 *
 * Tokens: 0 padding, 1 the start of the target, 2 + d for digit d. Each
 * sample of X (int32 [COUNT, 2 * LENGTH]) is LENGTH source digits, then the
 * decoder's input: 1 and the first LENGTH - 1 target tokens (the target
 * shifted right, for teacher forcing); Y (int32 [COUNT, LENGTH]) is the
 * target: the source reversed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gen.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: reverse X.npy Y.npy COUNT LENGTH SEED\n");
    return 2;
  }
  long count = strtol(argv[3], NULL, 10), length = strtol(argv[4], NULL, 10);
  state = (uint64_t)strtoull(argv[5], NULL, 10) * 2 + 1;
  if (count < 1 || count > 1000000 || length < 1 || length > 1000) {
    fprintf(stderr, "reverse: COUNT in 1..1000000, LENGTH in 1..1000\n");
    return 2;
  }
  FILE *fx = fopen(argv[1], "wb"), *fy = fopen(argv[2], "wb");
  if (!fx || !fy) {
    perror("reverse");
    return 1;
  }
  char shape[64];
  snprintf(shape, sizeof shape, "(%ld, %ld)", count, 2 * length);
  npy_header(fx, "<i4", shape);
  snprintf(shape, sizeof shape, "(%ld, %ld)", count, length);
  npy_header(fy, "<i4", shape);
  int32_t *src = malloc(sizeof *src * (size_t)length);
  if (!src) return 1;
  for (long i = 0; i < count; i++) {
    for (long t = 0; t < length; t++) src[t] = 2 + (int32_t)next(10);
    fwrite(src, sizeof *src, (size_t)length, fx);
    int32_t start = 1;
    fwrite(&start, sizeof start, 1, fx);
    for (long t = 0; t + 1 < length; t++) fwrite(&src[length - 1 - t], sizeof *src, 1, fx);
    for (long t = 0; t < length; t++) fwrite(&src[length - 1 - t], sizeof *src, 1, fy);
  }
  free(src);
  fclose(fx), fclose(fy);
  return 0;
}
