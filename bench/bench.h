/* bench.h — the clock and the comparison of doubles (for qsort, the
 * medians) that the bench programs share. Their build lines define
 * _POSIX_C_SOURCE (clock_gettime) or use the compiler's GNU default. */
#ifndef BENCH_H
#define BENCH_H
#include <time.h>

static inline double clock_seconds(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static inline double now(void) { return clock_seconds(CLOCK_MONOTONIC); }
static inline double cpu_now(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

static inline int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
#endif
