/* arena_host.c — a host for kernels.sh: the arena a compiled model reports
 * is what it allocates, and training steps allocate nothing once it has
 * grown. Linked with the seed CNN's library (SeedCNN). Counts the C
 * library's allocation calls made while steps run (glibc's own entry
 * points do the work). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "seed_cnn.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static long calls;
void *malloc(size_t n) { calls++; return __libc_malloc(n); }
void *calloc(size_t k, size_t n) { calls++; return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { calls++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { calls++; return __libc_memalign(a, n); }

int main(void) {
  enum { BATCH = 32 };
  static float x[BATCH * 32 * 32 * 3], y[BATCH * 10];
  for (int i = 0; i < BATCH * 32 * 32 * 3; i++) x[i] = (float)(i % 97) / 97;
  for (int i = 0; i < BATCH; i++) y[i * 10 + i % 10] = 1;
  const void *in[1] = {x};
  int bad = 0;
  for (int threads = 1; threads <= 2; threads++) {
    SeedCNN_Model *m = SeedCNN_create(1);
    SeedCNN_set_threads(m, threads);
    SeedCNN_train_step(m, in, y, BATCH);
    size_t have = SeedCNN_workspace_bytes(m), want = SeedCNN_arena_bytes(BATCH, threads);
    printf("threads %d: arena %zu bytes planned, %zu held\n", threads, want, have);
    if (have != want) bad = 1;
    long before = calls;
    for (int i = 0; i < 5; i++) SeedCNN_train_step(m, in, y, i % 2 ? BATCH : 7);
    if (calls != before) {
      printf("threads %d: 5 steps made %ld allocation calls\n", threads, calls - before);
      bad = 1;
    }
    if (SeedCNN_workspace_bytes(m) != have) bad = 1;
    SeedCNN_free(m);
  }
  puts(bad ? "FAIL" : "ok");
  return bad;
}
