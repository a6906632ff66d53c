/* nnrt_random.c — counter-based random numbers (Philox4x32-10) and the
 * parameter initializers of the .nn language (nnrt.h). A number depends
 * only on (seed, stream, counter), so a seed gives the same tensors in
 * every backend, at every thread count. */
#include "nnrt.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ random */

/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", 2011): key = seed, counter = (counter, stream). */
NNRT_API uint64_t nnrt_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
  uint32_t c[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream,
                   (uint32_t)(stream >> 32)};
  uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0], n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1];
    c[1] = (uint32_t)p1;
    c[3] = (uint32_t)p0;
    c[0] = n0;
    c[2] = n2;
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  return (uint64_t)c[0] | (uint64_t)c[1] << 32;
}

NNRT_API double nnrt_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return (double)(nnrt_rng_u64(seed, stream, counter) >> 11) * (1.0 / 9007199254740992.0);
}

NNRT_API double nnrt_normal(uint64_t seed, uint64_t stream, uint64_t i) {
  double u1 = nnrt_uniform(seed, stream, 2 * i), u2 = nnrt_uniform(seed, stream, 2 * i + 1);
  return sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2);
}

/* ------------------------------------------------------- initializers */

static const char *const init_names[] = {
  "zeros", "ones", "constant", "uniform", "normal", "glorot_uniform", "glorot_normal",
  "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
};

NNRT_API int nnrt_init_from_name(const char *name) {
  for (size_t i = 0; i < sizeof init_names / sizeof *init_names; i++)
    if (!strcmp(name, init_names[i])) return (int)i;
  return -1;
}

/* A normal truncated at two standard deviations, scaled to `stddev`
 * (Keras's variance scaling divides by 0.8796... so the truncated
 * distribution keeps the intended variance). Redraws use counters far
 * beyond any tensor's size. */
static double truncated(uint64_t seed, uint64_t stream, uint64_t i, double stddev) {
  for (uint64_t k = 0;; k++) {
    double z = nnrt_normal(seed, stream, i + (k << 40));
    if (fabs(z) <= 2) return z * stddev / 0.87962566103423978;
  }
}

NNRT_API double nnrt_init_value(NnrtInit init, const double *args, const int64_t *dims, int rank,
                       uint64_t seed, uint64_t stream, uint64_t i) {
  double fan_in = 1, fan_out = 1;
  if (rank == 1) fan_in = fan_out = (double)dims[0];
  else if (rank >= 2) { /* [..., in, out]: the leading axes are a receptive field */
    double field = 1;
    for (int d = 0; d < rank - 2; d++) field *= (double)dims[d];
    fan_in = field * (double)dims[rank - 2];
    fan_out = field * (double)dims[rank - 1];
  }
  double u = nnrt_uniform(seed, stream, i);
  switch (init) {
  case NNRT_ZEROS: return 0;
  case NNRT_ONES: return 1;
  case NNRT_CONSTANT: return args[0];
  case NNRT_UNIFORM: return args[0] + (args[1] - args[0]) * u;
  case NNRT_NORMAL: return args[0] + args[1] * nnrt_normal(seed, stream, i);
  case NNRT_GLOROT_UNIFORM: return (2 * u - 1) * sqrt(6 / (fan_in + fan_out));
  case NNRT_HE_UNIFORM: return (2 * u - 1) * sqrt(6 / fan_in);
  case NNRT_LECUN_UNIFORM: return (2 * u - 1) * sqrt(3 / fan_in);
  case NNRT_GLOROT_NORMAL: return truncated(seed, stream, i, sqrt(2 / (fan_in + fan_out)));
  case NNRT_HE_NORMAL: return truncated(seed, stream, i, sqrt(2 / fan_in));
  case NNRT_LECUN_NORMAL: return truncated(seed, stream, i, sqrt(1 / fan_in));
  }
  return 0;
}
