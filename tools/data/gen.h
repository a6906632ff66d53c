/* gen.h — what the data generators share: a seeded xorshift64* stream
 * (good enough for test data) and a NumPy .npy header. */
#include <stdint.h>
#include <stdio.h>

static uint64_t state;

static inline uint64_t next64(void) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

static inline unsigned next(unsigned bound) { return (unsigned)(next64() >> 33) % bound; } /* [0, bound) */

static inline double uniform(void) { return (double)(next64() >> 11) / 9007199254740992.0; } /* [0, 1) */

/* A version 1.0 .npy header for C-ordered data of type `descr` ('<f4',
 * '<i4') and the given shape ("(4000, 24, 1)"), padded to 64 bytes. */
static inline void npy_header(FILE *f, const char *descr, const char *shape) {
  char h[160];
  int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
  while ((10 + len + 1) % 64) h[len++] = ' ';
  h[len++] = '\n';
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(len & 255, f), fputc(len >> 8, f);
  fwrite(h, 1, (size_t)len, f);
}
