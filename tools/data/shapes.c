/* shapes.c — a learnable stand-in for CIFAR-10, in its binary format.
 *
 *   shapes OUT.bin COUNT SEED
 *
 * writes COUNT records of a label byte and 32x32x3 pixel bytes, plane by
 * plane (red, green, blue) as in CIFAR-10's data_batch_N.bin. Each image
 * is noise with one shape on it; the class (0 to 9) is the shape's colour
 * (red, green, blue, yellow, cyan: class % 5) and kind (a filled square or
 * a hollow one: class / 5), at a random place. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gen.h"

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: shapes OUT.bin COUNT SEED\n");
    return 2;
  }
  long count = strtol(argv[2], NULL, 10);
  state = (uint64_t)strtoull(argv[3], NULL, 10) * 2 + 1;
  FILE *f = fopen(argv[1], "wb");
  if (!f || count < 1) {
    fprintf(stderr, "shapes: cannot write %s records to %s\n", argv[2], argv[1]);
    return 1;
  }
  static const int colour[5][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}};
  for (long n = 0; n < count; n++) {
    unsigned char rec[3073];
    int k = (int)next(10), side = 8 + (int)next(5), y0 = (int)next(32 - side), x0 = (int)next(32 - side);
    rec[0] = (unsigned char)k;
    for (int i = 0; i < 3072; i++) rec[1 + i] = (unsigned char)next(96);
    for (int y = y0; y < y0 + side; y++)
      for (int x = x0; x < x0 + side; x++) {
        int edge = y < y0 + 2 || y >= y0 + side - 2 || x < x0 + 2 || x >= x0 + side - 2;
        if (k / 5 == 1 && !edge) continue;
        for (int c = 0; c < 3; c++)
          if (colour[k % 5][c]) rec[1 + c * 1024 + y * 32 + x] = (unsigned char)(160 + next(96));
      }
    if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) return 1;
  }
  return fclose(f) == 0 ? 0 : 1;
}
