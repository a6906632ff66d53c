/* runtime.c — the runtime's kernels and data helpers against definitions
 * written out here: the GEMM on odd sizes (1, primes, sizes that are not
 * multiples of its tiles and blocks), with transposed strides and `add`,
 * and the same bits at 1, 2 and 3 threads, and the epilogue seeing each
 * block once it is final; stored updates flushing subnormals; per-channel standardization;
 * flip and crop augmentation. Built with the runtime compiled in, with
 * OpenMP where CMake found it, and once for the host's vector units. */
#include "nnrt.c"

static int failures;

#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) {                            \
      fprintf(stderr, "FAIL: " __VA_ARGS__);  \
      fprintf(stderr, "\n");                  \
      failures++;                             \
    }                                         \
  } while (0)

static float rnd(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(*s >> 11) / 9007199254740992.0 * 2 - 1);
}

/* An epilogue that copies each block it is given and counts its visits:
 * every element must be visited once, after its last change. */
typedef struct Seen { const float *c; int64_t ldc; float *copy; int *visits; } Seen;

static void see(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const Seen *s = ctx;
  for (int64_t i = r0; i < r1; i++)
    for (int64_t j = c0; j < c1; j++) {
      s->copy[i * s->ldc + j] = s->c[i * s->ldc + j];
      s->visits[i * s->ldc + j]++;
    }
}

/* C = A B (+ C) with A stored transposed when ta, B when tb. */
static void gemm_case(int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool add) {
  uint64_t s = (uint64_t)(m * 1000003 + n * 1009 + k);
  float *a = malloc(sizeof *a * (size_t)(m * k + 1)), *b = malloc(sizeof *b * (size_t)(k * n + 1));
  int64_t ldc = n + 3;   /* a row stride wider than the row */
  float *c0 = malloc(sizeof *c0 * (size_t)(m * ldc + 1)), *c[3];
  for (int64_t i = 0; i < m * k; i++) a[i] = rnd(&s);
  for (int64_t i = 0; i < k * n; i++) b[i] = rnd(&s);
  for (int64_t i = 0; i < m * ldc; i++) c0[i] = rnd(&s);
  int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1;
  float *scratch = malloc(sizeof(float) * nnrt_sgemm_scratch(3));
  for (int t = 0; t < 3; t++) {
    c[t] = malloc(sizeof *c[t] * (size_t)(m * ldc + 1));
    memcpy(c[t], c0, sizeof *c0 * (size_t)(m * ldc));
    nnrt_sgemm(t + 1, m, n, k, a, ars, acs, b, brs, bcs, c[t], ldc, add, scratch, NULL);
  }
  double worst = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < ldc; j++) {
      if (j >= n) { /* beyond the row: untouched */
        CHECK(c[0][i * ldc + j] == c0[i * ldc + j], "gemm %lldx%lldx%lld wrote past a row",
              (long long)m, (long long)n, (long long)k);
        continue;
      }
      double want = add ? c0[i * ldc + j] : 0, mag = fabs(want);
      for (int64_t p = 0; p < k; p++) {
        double prod = (double)a[i * ars + p * acs] * b[p * brs + j * bcs];
        want += prod;
        mag += fabs(prod);
      }
      worst = fmax(worst, fabs(c[0][i * ldc + j] - want) / (mag + 1e-30));
    }
  CHECK(worst < 1e-5, "gemm %lldx%lldx%lld%s%s%s: relative error %g", (long long)m, (long long)n,
        (long long)k, ta ? " A^T" : "", tb ? " B^T" : "", add ? " add" : "", worst);
  for (int t = 1; t < 3; t++)
    CHECK(!memcmp(c[0], c[t], sizeof *c0 * (size_t)(m * ldc)),
          "gemm %lldx%lldx%lld: %d threads give other bits than 1", (long long)m, (long long)n, (long long)k,
          t + 1);
  /* with an epilogue at 2 threads: the same product, each element seen
   * once and final when seen */
  float *ce = malloc(sizeof *ce * (size_t)(m * ldc + 1)), *copy = calloc((size_t)(m * ldc + 1), sizeof *copy);
  int *visits = calloc((size_t)(m * ldc + 1), sizeof *visits);
  memcpy(ce, c0, sizeof *c0 * (size_t)(m * ldc));
  Seen seen = {ce, ldc, copy, visits};
  NnrtEpilogue epi = {see, &seen};
  nnrt_sgemm(2, m, n, k, a, ars, acs, b, brs, bcs, ce, ldc, add, scratch, &epi);
  int wrong = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++)
      wrong += visits[i * ldc + j] != 1 || copy[i * ldc + j] != ce[i * ldc + j] || ce[i * ldc + j] != c[0][i * ldc + j];
  CHECK(!wrong, "gemm %lldx%lldx%lld: %d elements not seen once, final, by the epilogue", (long long)m,
        (long long)n, (long long)k, wrong);
  free(ce), free(copy), free(visits);
  for (int t = 0; t < 3; t++) free(c[t]);
  free(a), free(b), free(c0), free(scratch);
}

static void test_gemm(void) {
  static const int64_t sizes[] = {1, 2, 5, 7, 16, 17, 97, 131, 300};
  for (int i = 0; i < 9; i++)
    for (int j = 0; j < 9; j++)
      gemm_case(sizes[i], sizes[(j + 3) % 9], sizes[j], (i + j) % 2, (i + j) % 3 == 0, j % 2);
  gemm_case(200, 1100, 37, false, false, false);   /* N over one NC block */
  gemm_case(33, 19, 600, true, false, true);       /* K over two KC blocks */
  gemm_case(4, 4, 0, false, false, false);         /* K = 0: zeros */
}

static void test_standardize(void) {
  /* 3 rows of 2 pixels x 2 channels; fitted on the first 2 rows */
  float x[12] = {1, 10, 3, 30, 5, 50, 7, 70, 100, 1000, -1, 0};
  NnrtTable t = {.rows = 3, .features = 4, .x = x};
  nnrt_standardize(&t, 2, 2);
  /* channel 0 over rows 0-1: 1, 3, 5, 7 (mean 4, sd sqrt(5)); channel 1: 10..70 */
  CHECK(fabs(x[0] - (1 - 4) / sqrt(5)) < 1e-6 && fabs(x[6] - (7 - 4) / sqrt(5)) < 1e-6,
        "standardize: channel 0 is not (x - 4) / sqrt(5)");
  CHECK(fabs(x[1] - (10 - 40) / sqrt(500)) < 1e-6, "standardize: channel 1 is not (x - 40) / sqrt(500)");
  CHECK(fabs(x[8] - (100 - 4) / sqrt(5)) < 1e-4, "standardize: a held-out row is not transformed alike");
  float y[4] = {2, 2, 2, 2};
  NnrtTable u = {.rows = 2, .features = 2, .x = y};
  nnrt_standardize(&u, 2, 2);
  CHECK(y[0] == 0 && y[3] == 0, "standardize: a constant feature does not become 0");
}

static void test_augment(void) {
  enum { H = 5, W = 4, C = 2, N = 64 };
  static float x[N * H * W * C], orig[N * H * W * C], again[N * H * W * C], tmp[H * W * C];
  for (int i = 0; i < N * H * W * C; i++) orig[i] = (float)(i % (H * W * C) + 1);
  memcpy(x, orig, sizeof x);
  nnrt_augment(x, N, H, W, C, true, 0, 9, 100, tmp);
  int flipped = 0;
  for (int i = 0; i < N; i++) {
    const float *img = x + i * H * W * C, *src = orig + i * H * W * C;
    bool same = !memcmp(img, src, sizeof tmp), mirror = true;
    for (int r = 0; r < H; r++)
      for (int q = 0; q < W; q++)
        for (int c = 0; c < C; c++) mirror &= img[(r * W + q) * C + c] == src[(r * W + W - 1 - q) * C + c];
    CHECK(same || mirror, "flip: image %d is neither itself nor its mirror", i);
    flipped += !same;
  }
  CHECK(flipped > N / 4 && flipped < 3 * N / 4, "flip: %d of %d images mirrored", flipped, N);
  /* crop: every image is a shift of the original by at most 2 each way, zeros coming in */
  memcpy(x, orig, sizeof x);
  nnrt_augment(x, N, H, W, C, false, 2, 9, 100, tmp);
  int moved = 0;
  for (int i = 0; i < N; i++) {
    const float *img = x + i * H * W * C, *src = orig + i * H * W * C;
    bool found = false;
    for (int dy = -2; dy <= 2 && !found; dy++)
      for (int dx = -2; dx <= 2 && !found; dx++) {
        bool ok = true;
        for (int r = 0; r < H; r++)
          for (int q = 0; q < W; q++)
            for (int c = 0; c < C; c++) {
              int sr = r + dy, sq = q + dx;
              float want = sr >= 0 && sr < H && sq >= 0 && sq < W ? src[(sr * W + sq) * C + c] : 0;
              ok &= img[(r * W + q) * C + c] == want;
            }
        found = ok;
        moved += ok && (dy || dx);
      }
    CHECK(found, "crop: image %d is not a shift of the original", i);
  }
  CHECK(moved > N / 2, "crop: only %d of %d images moved", moved, N);
  /* the same seed and counter give the same images; another counter others */
  memcpy(again, orig, sizeof again);
  nnrt_augment(again, N, H, W, C, false, 2, 9, 100, tmp);
  CHECK(!memcmp(x, again, sizeof x), "crop: the same seed gives other images");
  memcpy(again, orig, sizeof again);
  nnrt_augment(again, N, H, W, C, false, 2, 9, 100 + N, tmp);
  CHECK(memcmp(x, again, sizeof x) != 0, "crop: the next samples get the same shifts");
}

/* Stored updates: subnormal floats become zero of their sign, the rest is
 * copied bit for bit (the smallest normal, infinities, NaN). */
static void test_store(void) {
  const float src[8] = {1e-39f, -1e-39f, 0x1p-126f, -0x1p-126f, 0x1.fffffcp-127f, INFINITY, NAN, 3.5f};
  float dst[8];
  nnrt_store_f32(dst, src, 8);
  CHECK(dst[0] == 0 && !signbit(dst[0]) && dst[1] == 0 && signbit(dst[1]), "store: subnormals are not zeros");
  CHECK(dst[4] == 0, "store: the largest subnormal is kept");
  CHECK(!memcmp(dst + 2, src + 2, 2 * sizeof *dst) && !memcmp(dst + 5, src + 5, 3 * sizeof *dst),
        "store: a normal number, an infinity or NaN changed");
}

int main(void) {
  test_gemm();
  test_store();
  test_standardize();
  test_augment();
  if (!failures) printf("ok\n");
  return failures != 0;
}
