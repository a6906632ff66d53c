/* vmath.c — the f32 functions of runtime/nnrt_vmath.h against libm.
 *
 * test_vmath [STRIDE [NAME]]: every STRIDE-th float bit pattern (default
 * 97; 1 is all 2^32), then the special values (±0, ±inf, NaNs with payloads, the
 * smallest and largest subnormals and normals, the overflow and underflow
 * thresholds and their neighbours), through each function. The reference
 * is libm's double function (the runtime's nnrt_sigmoid for the sigmoid),
 * whose error is far below a float's ulp, so the bound holds against the
 * true value: the error in units of the last place of the float result
 * (ulp(y) = 2^(e-23) for |y| in [2^e, 2^(e+1)), 2^-149 below the normals)
 * must be at most 2. Exactly, with the sign: a NaN argument gives that NaN
 * quieted (its payload kept), any other NaN result a NaN; where the
 * rounded reference or the result is 0 or ±inf the two are the same bits
 * (so the thresholds of overflow and underflow are where correct rounding
 * puts them, and signed zeros survive). Prints each function's largest
 * error and where, and "N passed, N failed"; with NAME, that function only.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnrt.h"

typedef struct Fn {
  const char *name;
  float (*f)(float);
  double (*ref)(double);
} Fn;

static float expf_(float x) { return nnrt_expf(x); }
static float logf_(float x) { return nnrt_logf(x); }
static float tanhf_(float x) { return nnrt_tanhf(x); }
static float sigmoidf_(float x) { return nnrt_sigmoidf(x); }
static float erff_(float x) { return nnrt_erff(x); }

static const Fn fns[] = {
    {"exp", expf_, exp},
    {"log", logf_, log},
    {"tanh", tanhf_, tanh},
    {"sigmoid", sigmoidf_, nnrt_sigmoid},
    {"erf", erff_, erf},
};

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* The error of got in ulps of the float nearest to `want`, or -1 when
 * got is not allowed at all (the exact cases above). */
static double ulps(float x, float got, double want) {
  float w = (float)want;
  if (x != x) return bits(got) == (bits(x) | 0x00400000u) ? 0 : -1;
  if (want != want) return got != got ? 0 : -1;
  if (got != got) return -1;
  if (w == 0 || isinf(w) || got == 0 || isinf(got)) return bits(got) == bits(w) ? 0 : -1;
  int e;
  frexp(w, &e); /* |w| in [2^(e-1), 2^e) */
  double ulp = ldexp(1, (e - 1 < -126 ? -126 : e - 1) - 23);
  return fabs((double)got - want) / ulp;
}

typedef struct Worst {
  double err;
  float x;
  long bad; /* arguments over the bound or not allowed */
} Worst;

static void one(const Fn *fn, float x, Worst *w) {
  double e = ulps(x, fn->f(x), fn->ref((double)x));
  if (e < 0 || e > 2) {
    if (w->bad++ < 5)
      printf("  %s(%a) = %a, want %a (%s)\n", fn->name, (double)x, (double)fn->f(x), fn->ref((double)x),
             e < 0 ? "not allowed" : "over 2 ulp");
  }
  if (e > w->err || e < 0) w->err = e < 0 ? INFINITY : e, w->x = x;
}

int main(int argc, char **argv) {
  uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 10) : 97;
  if (stride < 1) stride = 1;
  static const uint32_t special[] = {
      0x00000000, 0x80000000, 0x7f800000, 0xff800000,         /* ±0, ±inf */
      0x7fc00000, 0xffc00000, 0x7fc12345, 0x7f800001, 0xff812345, /* NaNs, quiet and signalling */
      0x00000001, 0x80000001, 0x007fffff, 0x807fffff,         /* subnormals */
      0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff,         /* normals */
      0x3f800000, 0xbf800000, 0x3f7fffff, 0x3f800001,         /* ±1 and 1's neighbours */
      0x42b17217, 0x42b17218, 0x42b17216,                     /* exp's overflow threshold 88.7228 */
      0xc2cff1b4, 0xc2cff1b5, 0xc2cff1b3,                     /* exp's underflow threshold -103.97 */
      0xc2aeac4f, 0xc2aeac50, 0xc2aeac4e,                     /* exp's first subnormal result */
      0x3f200000, 0xbf200000, 0x3f1fffff, 0xbf1fffff,         /* tanh's 0.625 */
      0x41102cb4, 0xc1102cb4, 0x41102cb3, 0x41102cb5,         /* tanh's 1 */
      0x3f7fffff, 0xbf7fffff, 0x40800000, 0x407ae148,         /* erf's 1 and 4, erf's 1 from 3.92 */
  };
  int passed = 0, failed = 0;
  for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
    if (argc > 2 && strcmp(argv[2], fns[k].name) != 0) continue;
    Worst w = {0, 0, 0};
    for (uint64_t u = 0; u < (1ull << 32); u += stride) one(&fns[k], from_bits((uint32_t)u), &w);
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) one(&fns[k], from_bits(special[i]), &w);
    /* a neighbourhood of 2^-126, 1 and the thresholds, every pattern */
    for (uint32_t u = 0x3f7f0000; u < 0x3f810000; u++) one(&fns[k], from_bits(u), &w);
    printf("%s %-8s max %.3f ulp at %a (every %llu-th float and the specials)\n", w.bad ? "FAIL" : "ok  ",
           fns[k].name, w.err, (double)w.x, (unsigned long long)stride);
    w.bad ? failed++ : passed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0 || passed == 0;
}
