/* nnrt_vmath.h — the f32 elementwise functions of compiled models.
 *
 * nnrt_expf, nnrt_logf, nnrt_tanhf, nnrt_sigmoidf and nnrt_erff: float in,
 * float out, within 2 ulp of the true value over the whole float range
 * (measured maxima in docs/performance.md, checked exhaustively by
 * tests/unit/vmath.c), with IEEE behaviour at the edges: NaN propagated
 * (its payload kept, quieted), ±inf, subnormal arguments and results, and
 * the overflow and underflow thresholds where correct rounding puts them.
 *
 * Written for vectorizers: no branches (both sides computed, then
 * selected), no tables, no calls, so a loop that calls them vectorizes at
 * the full float width once they are inlined. Range reduction is
 * Cody-Waite (a constant split in two so that the first product is exact)
 * and the polynomials are evaluated by Horner's rule with every product
 * and sum rounded on its own: the results are the same bits whether the
 * compiler contracts nothing (-ffp-contract=off, as nnc builds everything)
 * and whatever the vector width, so the C and LLVM backends agree.
 *
 * One definition: this header is included by nnrt.h (static inline, so
 * each user inlines its own copy) and by nnrt_vmath.c with NNRT_VMATH
 * defined as external, whose definitions the LLVM backend's modules call
 * (inlined at -O3, where the runtime's bitcode is linked in).
 */
#ifndef NNRT_VMATH_H
#define NNRT_VMATH_H

#include <math.h>
#include <stdint.h>

#ifndef NNRT_HELPER /* as in nnrt.h */
#if defined(__GNUC__)
#define NNRT_HELPER static inline __attribute__((unused))
#else
#define NNRT_HELPER static inline
#endif
#endif
#ifndef NNRT_VMATH
#if defined(__GNUC__)
#define NNRT_VMATH static inline __attribute__((unused)) /* unused ones draw no warning (clang) */
#else
#define NNRT_VMATH static inline
#endif
#endif

NNRT_HELPER float nnrt_f32_from_bits(uint32_t u) {
  union { uint32_t u; float f; } v = {u};
  return v.f;
}

NNRT_HELPER uint32_t nnrt_f32_bits(float f) {
  union { float f; uint32_t u; } v = {f};
  return v.u;
}

/* e^x as (hi + lo) s1 s2: x = k ln 2 + r with |r| <= ln 2 / 2, e^r =
 * 1 + t by a polynomial, hi = 1 + t rounded and lo its rounding error
 * (exact: |t| < 1), 2^k = s1 s2 in two powers of two (so that 2^128 and
 * the subnormal results, rounded once by the second product, need no
 * special case). */
typedef struct NnrtExpParts {
  float hi, lo, s1, s2;
} NnrtExpParts;

NNRT_HELPER NnrtExpParts nnrt_exp_parts(float x) {
  float xc = x < 89.0f ? x : 89.0f;  /* NaN and +inf too: 2^128 overflows */
  xc = xc > -104.0f ? xc : -104.0f;  /* e^-104 rounds to 0 */
  const float shift = 0x1.8p23f;     /* adding it rounds to an integer */
  float k = (xc * 0x1.715476p0f + shift) - shift;
  float r = (xc - k * 0.693359375f) + k * 2.12194440e-4f; /* ln 2 = 0.693359375 - 2.12194440e-4 */
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float t = p * (r * r) + r, hi = 1.0f + t;
  int32_t n = (int32_t)k, h = n / 2;
  NnrtExpParts e = {hi, (1.0f - hi) + t, nnrt_f32_from_bits((uint32_t)(h + 127) << 23),
                    nnrt_f32_from_bits((uint32_t)(n - h + 127) << 23)};
  return e;
}

/* e^x */
NNRT_VMATH float nnrt_expf(float x) {
  NnrtExpParts e = nnrt_exp_parts(x);
  float y = e.hi * e.s1 * e.s2;
  return x != x ? x + x : y;
}

/* log x: x = 2^e m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled up
 * first), log m = f - f^2/2 + f^3 P(f) with f = m - 1 exact, e ln 2 added
 * in two parts. */
NNRT_VMATH float nnrt_logf(float x) {
  int sub = x < 0x1p-126f;
  uint32_t ix = nnrt_f32_bits(sub ? x * 0x1p23f : x) + (0x3f800000u - 0x3f3504f3u);
  float e = (float)((int32_t)(ix >> 23) - 127 - (sub ? 23 : 0));
  float f = nnrt_f32_from_bits((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
  float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = f * (z * p) - e * 2.12194440e-4f;
  y = y - 0.5f * z;
  float r = (f + y) + e * 0.693359375f;
  r = x == 0 ? -INFINITY : r;
  r = x < 0 ? NAN : r;
  r = x == INFINITY ? x : r;
  return x != x ? x + x : r;
}

/* tanh x: x + x^3 P(x^2) below 0.625, else 1 - 2 / (e^2|x| + 1) with the
 * sign of x. */
NNRT_VMATH float nnrt_tanhf(float x) {
  float a = x < 0 ? -x : x, z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = x + x * (z * p);
  float big = 1.0f - 2.0f / (nnrt_expf(a + a) + 1.0f);
  float y = a < 0.625f ? small : x < 0 ? -big : big;
  y = x == 0 ? x : y; /* -0 */
  return x != x ? x + x : y;
}

/* 1 / (1 + e^-x) from e = e^-|x| (nothing overflows): n / d with n = e
 * or 1 and d = 1 + e, corrected for the rounding errors of e (its lo
 * part) and of d to first order, so that the quotient's rounding is the
 * one error left (and e's, which the quotient damps). */
NNRT_VMATH float nnrt_sigmoidf(float x) {
  NnrtExpParts p = nnrt_exp_parts(x < 0 ? x : -x);
  float e = p.hi * p.s1 * p.s2, el = p.lo * p.s1 * p.s2;
  float d = 1.0f + e, dl = ((1.0f - d) + e) + el; /* 1 + e = d + dl; 1 - d and the sum exact */
  float q = (x < 0 ? e : 1.0f) / d;
  float y = q + ((x < 0 ? el : 0.0f) - q * dl) / d;
  return x != x ? x + x : y;
}

/* erf x: x + x S(x^2) for |x| < 1, else 1 - e^(-x^2) R(1/|x|) / |x| with
 * the sign of x (erf rounds to ±1 from |x| = 3.92 on, so |x| stops at 4).
 * S and R (in 1/|x| - 0.625, over [0.25, 1]) interpolate erf(x)/x - 1 and
 * x erfc(x) e^(x^2) at Chebyshev nodes, their coefficients rounded to
 * float; the flat R keeps the evaluation's rounding small. */
NNRT_VMATH float nnrt_erff(float x) {
  float a = x < 0 ? -x : x, t = x * x;
  float p = 0x1.4a569p-14f;
  p = p * t - 0x1.a45088p-11f;
  p = p * t + 0x1.54127p-8f;
  p = p * t - 0x1.b7fabap-6f;
  p = p * t + 0x1.ce2d1p-4f;
  p = p * t - 0x1.81273ep-2f;
  p = p * t + 0x1.06eba8p-3f;
  float small = x + x * p;
  float ac = a < 4.0f ? a : 4.0f; /* NaN too */
  ac = ac > 1.0f ? ac : 1.0f;
  float v = 1.0f / ac - 0.625f;
  float q = 0x1.7d79cp-6f;
  q = q * v - 0x1.84aa02p-5f;
  q = q * v + 0x1.7e6c8p-5f;
  q = q * v - 0x1.950638p-6f;
  q = q * v - 0x1.4e9574p-7f;
  q = q * v + 0x1.96854p-5f;
  q = q * v - 0x1.3fa1e4p-4f;
  q = q * v + 0x1.2753e2p-4f;
  q = q * v - 0x1.535c9p-10f;
  q = q * v - 0x1.5f684cp-3f;
  q = q * v + 0x1.f545fcp-2f;
  float big = 1.0f - nnrt_expf(-(ac * ac)) * q / ac;
  float y = a < 1.0f ? small : x < 0 ? -big : big;
  return x != x ? x + x : y;
}

#endif
