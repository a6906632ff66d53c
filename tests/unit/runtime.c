/* runtime.c — the runtime's kernels and data helpers against definitions
 * written out here: the GEMM on odd sizes (1, primes, sizes that are not
 * multiples of its tiles and blocks), with transposed strides and `add`,
 * and the same bits at 1, 2 and 3 threads, and the epilogue seeing each
 * block once it is final; convolutions and their gradients (groups,
 * strides, padding, dilation, chunks) and pooling against naive loops,
 * in both types and at 1-3 threads, their epilogues given absolute
 * coordinates; stored updates flushing subnormals; per-channel
 * standardization; flip and crop augmentation. Built with the runtime compiled in, with
 * OpenMP where CMake found it, and once for the host's vector units. */
#include "nnrt.c"
#include "nnrt_random.c"
#include "nnrt_gemm.c"
#include "nnrt_qgemm.c"
#include "nnrt_conv.c"
#include "nnrt_window.c"
#include "nnrt_data.c"

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
  /* B's panels kept in a slot (as an instance keeps a parameter's): the
   * same bits when packed there and when reused, at 1 to 3 threads */
  void *kept = nnrt_alloc((size_t)nnrt_sgemm_kept_bytes(k, n));
  float *ck = malloc(sizeof *ck * (size_t)(m * ldc + 1));
  for (int t = 0; t < 3; t++) {
    memcpy(ck, c0, sizeof *c0 * (size_t)(m * ldc));
    nnrt_sgemm_kept(t + 1, m, n, k, a, ars, acs, b, brs, bcs, ck, ldc, add, scratch, NULL, kept);
    CHECK(!memcmp(c[0], ck, sizeof *c0 * (size_t)(m * ldc)), "gemm %lldx%lldx%lld with kept panels (%s): other bits",
          (long long)m, (long long)n, (long long)k, t ? "reused" : "packed");
  }
  free(kept), free(ck);
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

/* At 1024 threads a product splits into NNRT_MAXTEAM parts at most, within
 * the scratch nnrt_sgemm_scratch(1024) asks for, which stays bounded.
 * Run first: LLVM's libomp leaks a little when a team grows past one it
 * has already started (3 then 8 threads), which LeakSanitizer reports. */
static void test_gemm_team(void) {
  CHECK(nnrt_sgemm_scratch(1024) == nnrt_sgemm_scratch(NNRT_MAXTEAM) &&
        nnrt_sgemm_scratch(NNRT_MAXTEAM) < nnrt_sgemm_scratch(2) * NNRT_MAXTEAM,
        "gemm: the scratch of 1024 threads is not that of %d", NNRT_MAXTEAM);
  enum { M = 1100, N = 40, K = 300 };
  uint64_t s = 5;
  float *a = malloc(sizeof *a * M * K), *b = malloc(sizeof *b * K * N), *c1 = malloc(sizeof *c1 * M * N);
  float *cmany = malloc(sizeof *cmany * M * N), *scratch = malloc(sizeof(float) * nnrt_sgemm_scratch(1024));
  for (int i = 0; i < M * K; i++) a[i] = rnd(&s);
  for (int i = 0; i < K * N; i++) b[i] = rnd(&s);
  nnrt_sgemm(1, M, N, K, a, K, 1, b, N, 1, c1, N, false, scratch, NULL);
  nnrt_sgemm(1024, M, N, K, a, K, 1, b, N, 1, cmany, N, false, scratch, NULL);
  CHECK(!memcmp(c1, cmany, sizeof *c1 * M * N), "gemm %dx%dx%d: 1024 threads give other bits than 1", M, N, K);
  free(a), free(b), free(c1), free(cmany), free(scratch);
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
  double mean[2], sd[2];
  nnrt_standardize_stats(&t, 2, 2, mean, sd);
  /* channel 0 over rows 0-1: 1, 3, 5, 7 (mean 4, sd sqrt(5)); channel 1: 10..70 */
  CHECK(mean[0] == 4 && fabs(sd[0] - sqrt(5)) < 1e-12, "standardize: channel 0 is not mean 4, sd sqrt(5)");
  CHECK(mean[1] == 40 && fabs(sd[1] - sqrt(500)) < 1e-12, "standardize: channel 1 is not mean 40, sd sqrt(500)");
  CHECK(x[8] == 100, "standardize: the table changed");
  float y[4] = {2, 2, 2, 2};
  NnrtTable u = {.rows = 2, .features = 2, .x = y};
  nnrt_standardize_stats(&u, 2, 2, mean, sd);
  CHECK(mean[0] == 2 && sd[0] == 1 && sd[1] == 1, "standardize: a constant feature does not get sd 1");
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

/* ------------------------------------------------ convolution, pooling */

/* An epilogue over a result seen as rows of `cols`, given absolute
 * coordinates: it copies what it sees and counts visits. */
typedef struct SeenAt { const void *y; bool f64; int64_t cols; double *copy; int *visits; } SeenAt;

static void see_at(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const SeenAt *s = ctx;
  for (int64_t i = r0; i < r1; i++)
    for (int64_t j = c0; j < c1; j++) {
      int64_t at = i * s->cols + j;
      s->copy[at] = s->f64 ? ((const double *)s->y)[at] : ((const float *)s->y)[at];
      s->visits[at]++;
    }
}

/* conv2d (op 0), conv2d_bx (1), conv2d_bw (2) on g for n samples, as the
 * definitions: every output pixel, tap and channel of its group. */
static void conv_naive(int op, const NnrtWindow *g, int64_t n, const double *x, const double *w,
                       const double *dy, double *out) {
  int64_t CG = g->c / g->groups, FG = g->f / g->groups;
  for (int64_t nn = 0; nn < n; nn++)
    for (int64_t oh = 0; oh < g->oh; oh++)
      for (int64_t ow = 0; ow < g->ow; ow++)
        for (int64_t f = 0; f < g->f; f++) {
          int64_t yo = ((nn * g->oh + oh) * g->ow + ow) * g->f + f, gg = f / FG;
          double acc = 0;
          for (int64_t kh = 0; kh < g->kh; kh++)
            for (int64_t kw = 0; kw < g->kw; kw++) {
              int64_t ih = oh * g->sh - g->ph + kh * g->dh, iw = ow * g->sw - g->pw + kw * g->dw;
              if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
              for (int64_t c = 0; c < CG; c++) {
                int64_t xo = ((nn * g->h + ih) * g->w + iw) * g->c + gg * CG + c;
                int64_t wo = ((kh * g->kw + kw) * CG + c) * g->f + f;
                if (op == 0) acc += x[xo] * w[wo];
                else if (op == 1) out[xo] += dy[yo] * w[wo];
                else out[wo] += x[xo] * dy[yo];
              }
            }
          if (op == 0) out[yo] = acc;
        }
}

/* Runs convolution op in type f32 or f64 at nt threads with an epilogue;
 * returns the result in double and checks the epilogue saw each element
 * once, final. */
static double *conv_run(int op, bool f64, int nt, const NnrtWindow *g, int64_t n, const double *in0,
                        int64_t n0, const double *in1, int64_t n1, int64_t nout) {
  int64_t R = g->kh * g->kw * (g->c / g->groups), rows = (n < g->chunk ? n : g->chunk) * g->oh * g->ow * R;
  int64_t slices = op == 2 ? NNRT_CONV_SLICES : 0;
  size_t es = f64 ? sizeof(double) : sizeof(float);
  int64_t scratch = rows + slices * R * g->f +
                    (f64 ? 0 : op == 2 ? slices * (int64_t)nnrt_sgemm_scratch(1) : (int64_t)nnrt_sgemm_scratch(nt));
  void *a = malloc(es * (size_t)n0), *b = malloc(es * (size_t)n1), *y = malloc(es * (size_t)nout);
  void *s = malloc(es * (size_t)scratch);
  for (int64_t i = 0; i < n0; i++)
    if (f64) ((double *)a)[i] = in0[i];
    else ((float *)a)[i] = (float)in0[i];
  for (int64_t i = 0; i < n1; i++)
    if (f64) ((double *)b)[i] = in1[i];
    else ((float *)b)[i] = (float)in1[i];
  double *copy = calloc((size_t)nout, sizeof *copy), *out = malloc(sizeof *out * (size_t)nout);
  int *visits = calloc((size_t)nout, sizeof *visits);
  SeenAt seen = {y, f64, op == 1 ? g->c : g->f, copy, visits};
  NnrtEpilogue epi = {see_at, &seen};
  if (f64) {
    void (*fn)(int, int64_t, const NnrtWindow *, const double *, const double *, double *, double *,
               const NnrtEpilogue *) = op == 0 ? nnrt_conv2d_f64 : op == 1 ? nnrt_conv2d_bx_f64 : nnrt_conv2d_bw_f64;
    fn(nt, n, g, a, b, y, s, &epi);
  } else {
    void (*fn)(int, int64_t, const NnrtWindow *, const float *, const float *, float *, float *,
               const NnrtEpilogue *) = op == 0 ? nnrt_conv2d_f32 : op == 1 ? nnrt_conv2d_bx_f32 : nnrt_conv2d_bw_f32;
    fn(nt, n, g, a, b, y, s, &epi);
  }
  int wrong = 0;
  for (int64_t i = 0; i < nout; i++) {
    out[i] = f64 ? ((double *)y)[i] : ((float *)y)[i];
    wrong += visits[i] != 1 || copy[i] != out[i];
  }
  CHECK(!wrong, "conv op %d %s: %d elements not seen once, final, by the epilogue", op, f64 ? "f64" : "f32", wrong);
  free(a), free(b), free(y), free(s), free(copy), free(visits);
  return out;
}

static void conv_case(const NnrtWindow *g, int64_t n) {
  int64_t nx = n * g->h * g->w * g->c, nw = g->kh * g->kw * (g->c / g->groups) * g->f;
  int64_t ny = n * g->oh * g->ow * g->f;
  uint64_t s = (uint64_t)(nx * 31 + nw);
  double *x = malloc(sizeof *x * (size_t)nx), *w = malloc(sizeof *w * (size_t)nw);
  double *dy = malloc(sizeof *dy * (size_t)ny);
  for (int64_t i = 0; i < nx; i++) x[i] = rnd(&s);
  for (int64_t i = 0; i < nw; i++) w[i] = rnd(&s);
  for (int64_t i = 0; i < ny; i++) dy[i] = rnd(&s);
  static const char *names[] = {"conv2d", "conv2d_bx", "conv2d_bw"};
  for (int op = 0; op < 3; op++) {
    int64_t nout = op == 0 ? ny : op == 1 ? nx : nw;
    double *want = calloc((size_t)nout, sizeof *want);
    conv_naive(op, g, n, x, w, dy, want);
    const double *in0 = op == 1 ? dy : x, *in1 = op == 2 ? dy : w;
    int64_t n0 = op == 1 ? ny : nx, n1 = op == 2 ? ny : nw;
    for (int f64 = 0; f64 < 2; f64++) {
      double *got[3], worst = 0;
      for (int t = 0; t < 3; t++) got[t] = conv_run(op, f64, t + 1, g, n, in0, n0, in1, n1, nout);
      for (int64_t i = 0; i < nout; i++) worst = fmax(worst, fabs(got[0][i] - want[i]) / (1 + fabs(want[i])));
      CHECK(worst < (f64 ? 1e-12 : 1e-5), "%s %s: relative error %g", names[op], f64 ? "f64" : "f32", worst);
      for (int t = 1; t < 3; t++)
        CHECK(!memcmp(got[0], got[t], sizeof(double) * (size_t)nout), "%s %s: %d threads give other bits than 1",
              names[op], f64 ? "f64" : "f32", t + 1);
      for (int t = 0; t < 3; t++) free(got[t]);
    }
    free(want);
  }
  free(x), free(w), free(dy);
}

/* Pooling op on g as the definitions: the window's cells inside the image,
 * the first maximum in window order. */
static void pool_naive(int op, const NnrtWindow *g, int64_t n, const double *x, const double *dy, double *out) {
  for (int64_t nn = 0; nn < n; nn++)
    for (int64_t oh = 0; oh < g->oh; oh++)
      for (int64_t ow = 0; ow < g->ow; ow++)
        for (int64_t c = 0; c < g->c; c++) {
          int64_t yo = ((nn * g->oh + oh) * g->ow + ow) * g->c + c, best = -1, count = 0;
          double m = -INFINITY, sum = 0;
          for (int pass = 0; pass < 2; pass++)
            for (int64_t kh = 0; kh < g->kh; kh++)
              for (int64_t kw = 0; kw < g->kw; kw++) {
                int64_t ih = oh * g->sh - g->ph + kh * g->dh, iw = ow * g->sw - g->pw + kw * g->dw;
                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                int64_t xo = ((nn * g->h + ih) * g->w + iw) * g->c + c;
                if (pass == 0) {
                  count++;
                  if (x[xo] > m) m = x[xo], best = xo;
                  sum += x[xo];
                } else if (op == NNRT_AVGPOOL_B) {
                  out[xo] += dy[yo] / (double)count;
                }
              }
          if (op == NNRT_MAXPOOL) out[yo] = m;
          else if (op == NNRT_AVGPOOL) out[yo] = sum / (double)count;
          else if (op == NNRT_MAXPOOL_B && best >= 0) out[best] += dy[yo];
        }
}

static void pool_case(const NnrtWindow *g, int64_t n) {
  int64_t nx = n * g->h * g->w * g->c, ny = n * g->oh * g->ow * g->c;
  uint64_t s = (uint64_t)nx;
  double *x = malloc(sizeof *x * (size_t)nx), *dy = malloc(sizeof *dy * (size_t)ny);
  for (int64_t i = 0; i < nx; i++) x[i] = (double)(float)rnd(&s);
  for (int64_t i = 0; i < nx; i += 7) x[i] = x[i / 2];   /* ties: the first maximum wins */
  for (int64_t i = 0; i < ny; i++) dy[i] = (double)(float)rnd(&s);
  static const char *names[] = {"maxpool", "avgpool", "maxpool_b", "avgpool_b"};
  for (int op = NNRT_MAXPOOL; op <= NNRT_AVGPOOL_B; op++) {
    bool grad = op == NNRT_MAXPOOL_B || op == NNRT_AVGPOOL_B;
    int64_t nout = grad ? nx : ny;
    double *want = calloc((size_t)nout, sizeof *want), *yd = malloc(sizeof *yd * (size_t)nout);
    pool_naive(op, g, n, x, dy, want);
    const double *a = op == NNRT_AVGPOOL_B ? dy : x;
    int64_t na = op == NNRT_AVGPOOL_B ? ny : nx;
    float *af = malloc(sizeof *af * (size_t)na), *bf = malloc(sizeof *bf * (size_t)ny);
    float *yf[2] = {malloc(sizeof(float) * (size_t)nout), malloc(sizeof(float) * (size_t)nout)};
    for (int64_t i = 0; i < na; i++) af[i] = (float)a[i];
    for (int64_t i = 0; i < ny; i++) bf[i] = (float)dy[i];
    for (int t = 0; t < 2; t++) nnrt_pool_f32(t + 1, n, op, g, af, bf, yf[t]);
    nnrt_pool_f64(2, n, op, g, a, dy, yd);
    double wf = 0, wd = 0;
    for (int64_t i = 0; i < nout; i++) {
      wf = fmax(wf, fabs(yf[0][i] - want[i]));
      wd = fmax(wd, fabs(yd[i] - want[i]));
    }
    /* a maximum is one of the values, exactly */
    double tol = op == NNRT_MAXPOOL ? 0 : 1e-5;
    CHECK(wf <= tol && wd <= (op == NNRT_MAXPOOL ? 0 : 1e-12), "%s: error %g (f32), %g (f64)", names[op], wf, wd);
    CHECK(!memcmp(yf[0], yf[1], sizeof(float) * (size_t)nout), "%s: 2 threads give other bits than 1", names[op]);
    free(want), free(yd), free(af), free(bf), free(yf[0]), free(yf[1]);
  }
  free(x), free(dy);
}

/* The float convolution straight from the image against the column
 * matrix's path (im2col, then the GEMM on the whole chunk, as nnrt_conv2d_f32
 * did before): the same bits, at 1 to 3 threads, wherever it applies; with
 * the portable micro-kernel it declines and the column path runs. */
static void direct_case(const NnrtWindow *g, int64_t n) {
  const int64_t G = g->groups, CG = g->c / G, FG = g->f / G, R = g->kh * g->kw * CG, PIX = g->oh * g->ow;
  const int64_t nx = n * g->h * g->w * g->c, nw = R * g->f, ny = n * PIX * g->f;
  uint64_t s = (uint64_t)(nx * 17 + nw);
  float *x = malloc(sizeof *x * (size_t)nx), *w = malloc(sizeof *w * (size_t)nw);
  float *want = malloc(sizeof *want * (size_t)ny);
  for (int64_t i = 0; i < nx; i++) x[i] = rnd(&s);
  for (int64_t i = 0; i < nw; i++) w[i] = rnd(&s);
  const size_t cap = (size_t)((n < g->chunk ? n : g->chunk) * PIX * R) + nnrt_sgemm_scratch(3);
  float *scratch = malloc(sizeof(float) * cap), *got = malloc(sizeof *got * (size_t)ny);
  for (int64_t gg = 0; gg < G; gg++)
    for (int64_t n0 = 0; n0 < n; n0 += g->chunk) {
      const int64_t P = (n - n0 < g->chunk ? n - n0 : g->chunk) * PIX;
      nnrt_im2col_f32(1, g, x, scratch, n0, P, gg);
      nnrt_sgemm(1, P, FG, R, scratch, R, 1, w + gg * FG, g->f, 1, want + n0 * PIX * g->f + gg * FG, g->f, false,
                 scratch + P * R, NULL);
    }
  /* a product the GEMM would not pack (its bits differ): declined */
  const int64_t least = ((n - 1) % g->chunk + 1) * PIX;
  const bool small = least * FG * R <= 16384 && R <= 256;
  for (int nt = 1; nt <= 3; nt++) {
    for (int64_t i = 0; i < ny; i++) got[i] = NAN;
    bool done = nnrt_conv2d_direct_f32(nt, n, g, x, w, got, scratch, cap, NULL);
    CHECK(done == (nnrt_sgemm_nr() >= 16 && !small), "direct conv %lldx%lldx%lld (%lld groups): %s", (long long)g->h,
          (long long)g->w, (long long)g->c, (long long)G, done ? "ran with the portable kernel" : "declined");
    if (done)
      CHECK(!memcmp(got, want, sizeof *got * (size_t)ny),
            "direct conv %lldx%lldx%lld -> %lld (%lld groups) at %d threads: other bits than im2col", (long long)g->h,
            (long long)g->w, (long long)g->c, (long long)g->f, (long long)G, nt);
  }
  /* the weight gradient's slices against im2col and a GEMM a slice (as
   * nnrt_conv2d_bw_f32 sums them), where the direct kernel applies */
  enum { SL = NNRT_CONV_SLICES };
  float *dy = malloc(sizeof *dy * (size_t)ny), *pwant = malloc(sizeof *pwant * (size_t)(SL * nw));
  float *pgot = malloc(sizeof *pgot * (size_t)(SL * nw)), *pack = malloc(sizeof(float) * nnrt_sgemm_scratch(1));
  for (int64_t i = 0; i < ny; i++) dy[i] = rnd(&s);
  bool bw_small = false;
  for (int64_t gg = 0; gg < G; gg++)
    for (int64_t n0 = 0; n0 < n; n0 += g->chunk) {
      const int64_t P = (n - n0 < g->chunk ? n - n0 : g->chunk) * PIX;
      nnrt_im2col_f32(1, g, x, scratch, n0, P, gg);
      for (int64_t sl = 0; sl < SL; sl++) {
        const int64_t p0 = P * sl / SL, p1 = P * (sl + 1) / SL;
        bw_small |= R * FG * (p1 - p0) <= 16384 && p1 - p0 <= 256;
        nnrt_sgemm(1, R, FG, p1 - p0, scratch + p0 * R, 1, R, dy + (n0 * PIX + p0) * g->f + gg * FG, g->f, 1,
                   pwant + sl * nw + gg * FG, g->f, n0 > 0, pack, NULL);
      }
    }
  const bool bw_runs = nnrt_sgemm_nr() == 32 && CG % 8 == 0 && FG % 32 == 0 && !bw_small;
  for (int nt = 1; nt <= 3; nt++) {
    for (int64_t i = 0; i < SL * nw; i++) pgot[i] = NAN;
    bool done = nnrt_conv2d_direct_bw_f32(nt, n, g, x, dy, pgot, scratch, cap);
    CHECK(done == bw_runs, "direct conv gradient %lldx%lldx%lld: %s", (long long)g->h, (long long)g->w,
          (long long)g->c, done ? "ran" : "declined");
    if (done)
      CHECK(!memcmp(pgot, pwant, sizeof *pgot * (size_t)(SL * nw)),
            "direct conv gradient %lldx%lldx%lld -> %lld at %d threads: other bits than im2col", (long long)g->h,
            (long long)g->w, (long long)g->c, (long long)g->f, nt);
  }
  /* the input gradient against dy w^T and col2im (nnrt_conv2d_bx_f32's
   * column path), with its epilogue seeing every row once */
  const int64_t least_bx = ((n - 1) % g->chunk + 1) * PIX;
  const bool bx_runs = nnrt_sgemm_nr() >= 16 && !(least_bx * R * FG <= 16384 && FG <= 256);
  float *xwant = calloc((size_t)nx, sizeof *xwant), *xgot = malloc(sizeof *xgot * (size_t)nx);
  for (int64_t gg = 0; gg < G; gg++)
    for (int64_t n0 = 0; n0 < n; n0 += g->chunk) {
      const int64_t nc = n - n0 < g->chunk ? n - n0 : g->chunk;
      nnrt_sgemm(1, nc * PIX, R, FG, dy + n0 * PIX * g->f + gg * FG, g->f, 1, w + gg * FG, 1, g->f, scratch, R, false,
                 scratch + nc * PIX * R, NULL);
      nnrt_col2im_f32(1, g, scratch, xwant, n0, nc, gg);
    }
  for (int nt = 1; nt <= 3; nt++) {
    for (int64_t i = 0; i < nx; i++) xgot[i] = NAN;
    double *copy = calloc((size_t)nx, sizeof *copy);
    int *visits = calloc((size_t)nx, sizeof *visits);
    SeenAt seen = {xgot, false, g->c, copy, visits};
    NnrtEpilogue epi = {see_at, &seen};
    bool done = nnrt_conv2d_direct_bx_f32(nt, n, g, dy, w, xgot, scratch, cap, &epi);
    CHECK(done == bx_runs, "direct conv input gradient %lldx%lldx%lld: %s", (long long)g->h, (long long)g->w,
          (long long)g->c, done ? "ran" : "declined");
    int wrong = 0;
    for (int64_t i = 0; done && i < nx; i++) wrong += visits[i] != 1 || copy[i] != xgot[i];
    if (done)
      CHECK(!memcmp(xgot, xwant, sizeof *xgot * (size_t)nx) && !wrong,
            "direct conv input gradient %lldx%lldx%lld -> %lld at %d threads: other bits than col2im, or %d "
            "elements not seen once, final, by the epilogue",
            (long long)g->h, (long long)g->w, (long long)g->c, (long long)g->f, nt, wrong);
    free(copy), free(visits);
  }
  free(xwant), free(xgot);
  free(dy), free(pwant), free(pgot), free(pack);
  /* too little scratch: declined, nothing written */
  for (int64_t i = 0; i < ny; i++) got[i] = 0;
  CHECK(!nnrt_conv2d_direct_f32(1, n, g, x, w, got, scratch, nnrt_conv2d_direct_scratch(g) - 1, NULL) && got[0] == 0,
        "direct conv: ran in too little scratch");
  free(x), free(w), free(want), free(scratch), free(got);
}

static void test_direct(void) {
  /* the seed CNN's layers, at a batch that is not a multiple of the tile */
  direct_case(&(NnrtWindow){.h = 32, .w = 32, .c = 3, .oh = 30, .ow = 30, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                            .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 3);
  direct_case(&(NnrtWindow){.h = 15, .w = 15, .c = 32, .oh = 13, .ow = 13, .f = 64, .kh = 3, .kw = 3, .sh = 1,
                            .sw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 4}, 5);
  direct_case(&(NnrtWindow){.h = 6, .w = 6, .c = 64, .oh = 4, .ow = 4, .f = 128, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                            .dh = 1, .dw = 1, .groups = 1, .chunk = 8}, 1);
  /* odd channels and filters (edge tiles), K over two blocks, padding, stride 2 */
  direct_case(&(NnrtWindow){.h = 11, .w = 9, .c = 37, .oh = 6, .ow = 5, .f = 45, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                            .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 3}, 4);
  /* groups, dilation, a window clipped on every side, stride 1 and 2 apart */
  direct_case(&(NnrtWindow){.h = 9, .w = 10, .c = 12, .oh = 9, .ow = 5, .f = 42, .kh = 3, .kw = 2, .sh = 1, .sw = 2,
                            .ph = 2, .pw = 1, .dh = 2, .dw = 3, .groups = 3, .chunk = 5}, 3);
  /* a window's rows read whole, padding and dilation only along the height */
  direct_case(&(NnrtWindow){.h = 7, .w = 9, .c = 5, .oh = 3, .ow = 7, .f = 33, .kh = 3, .kw = 3, .sh = 2, .sw = 1,
                            .ph = 1, .dh = 2, .dw = 1, .groups = 1, .chunk = 2}, 3);
  /* more filters than a block of K for the input gradient's product */
  direct_case(&(NnrtWindow){.h = 5, .w = 6, .c = 8, .oh = 3, .ow = 4, .f = 300, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                            .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 3);
  /* the gradient's tiles: padding, strides, dilation, 2 groups of 16 channels and 32 filters, several chunks */
  direct_case(&(NnrtWindow){.h = 9, .w = 10, .c = 32, .oh = 9, .ow = 5, .f = 64, .kh = 3, .kw = 2, .sh = 1, .sw = 2,
                            .ph = 2, .pw = 1, .dh = 2, .dw = 3, .groups = 2, .chunk = 3}, 7);
  /* 1x1 in 4 groups; one channel a group (a small product: declined) */
  direct_case(&(NnrtWindow){.h = 8, .w = 8, .c = 16, .oh = 8, .ow = 8, .f = 16, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
                            .dh = 1, .dw = 1, .groups = 4, .chunk = 40}, 41);
  direct_case(&(NnrtWindow){.h = 8, .w = 8, .c = 16, .oh = 8, .ow = 8, .f = 16, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
                            .dh = 1, .dw = 1, .groups = 16, .chunk = 1}, 40);
}

static void test_windows(void) {
  /* groups, strides, padding and dilation, chunks of 2 samples of 5 */
  NnrtWindow small = {.h = 7, .w = 6, .c = 4, .oh = 4, .ow = 6, .f = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1,
                      .ph = 1, .pw = 1, .dh = 1, .dw = 2, .groups = 2, .chunk = 2};
  conv_case(&small, 5);
  /* large enough for the packed product and split work */
  NnrtWindow big = {.h = 20, .w = 20, .c = 8, .oh = 20, .ow = 20, .f = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                    .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 3};
  conv_case(&big, 7);
  /* windows clipped by padding at both ends, overlapping windows */
  NnrtWindow pool = {.h = 7, .w = 5, .c = 5, .oh = 4, .ow = 3, .f = 5, .kh = 3, .kw = 2, .sh = 2, .sw = 2,
                     .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1};
  pool_case(&pool, 3);
  NnrtWindow pool2 = {.h = 30, .w = 30, .c = 32, .oh = 15, .ow = 15, .f = 32, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                      .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1};
  pool_case(&pool2, 4);
  /* dilated windows, padding past half the window */
  NnrtWindow pool3 = {.h = 9, .w = 8, .c = 3, .oh = 5, .ow = 3, .f = 3, .kh = 3, .kw = 2, .sh = 2, .sw = 3,
                      .ph = 2, .pw = 1, .dh = 2, .dw = 3, .groups = 1};
  pool_case(&pool3, 2);
}

/* Winograd's F(2x2, 3x3) against the definition in double: each output
 * within 1e-6 of the sum of its products' magnitudes (the direct kernel's
 * float sums are within about 2e-7 of it), the same bits at 1 to 3
 * threads, the epilogue seeing each element once, final; declined where
 * it does not apply (`runs` false) or the scratch is short. */
static void winograd_case(const NnrtWindow *g, int64_t n, bool runs) {
  const int64_t R = 9 * g->c, PIX = g->oh * g->ow;
  const int64_t nx = n * g->h * g->w * g->c, nw = R * g->f, ny = n * PIX * g->f;
  uint64_t s = (uint64_t)(nx * 31 + nw);
  float *x = malloc(sizeof *x * (size_t)nx), *w = malloc(sizeof *w * (size_t)nw);
  double *xd = calloc((size_t)nx, sizeof *xd), *wd = calloc((size_t)nw, sizeof *wd);
  double *want = malloc(sizeof *want * (size_t)ny), *mag = malloc(sizeof *mag * (size_t)ny);
  for (int64_t i = 0; i < nx; i++) x[i] = rnd(&s), xd[i] = x[i];
  for (int64_t i = 0; i < nw; i++) w[i] = rnd(&s), wd[i] = w[i];
  conv_naive(0, g, n, xd, wd, NULL, want);
  for (int64_t i = 0; i < nx; i++) xd[i] = fabs(xd[i]);
  for (int64_t i = 0; i < nw; i++) wd[i] = fabs(wd[i]);
  conv_naive(0, g, n, xd, wd, NULL, mag);
  const size_t cap = (size_t)((n < g->chunk ? n : g->chunk) * PIX * R) + nnrt_sgemm_scratch(1);
  float *scratch = malloc(sizeof(float) * cap), *got[3];
  for (int nt = 1; nt <= 3; nt++) {
    float *y = got[nt - 1] = malloc(sizeof *y * (size_t)ny);
    for (int64_t i = 0; i < ny; i++) y[i] = NAN;
    double *copy = calloc((size_t)ny, sizeof *copy);
    int *visits = calloc((size_t)ny, sizeof *visits);
    SeenAt seen = {y, false, g->f, copy, visits};
    NnrtEpilogue epi = {see_at, &seen};
    bool done = nnrt_conv2d_winograd_f32(nt, n, g, x, w, y, scratch, cap, &epi, NULL);
    CHECK(done == (runs && nnrt_sgemm_nr() >= 16), "winograd %lldx%lldx%lld -> %lld: %s", (long long)g->h,
          (long long)g->w, (long long)g->c, (long long)g->f, done ? "ran" : "declined");
    if (!done) {
      free(copy), free(visits);
      continue;
    }
    double worst = 0;
    int wrong = 0;
    for (int64_t i = 0; i < ny; i++) {
      double e = fabs(y[i] - want[i]) / (mag[i] > 0 ? mag[i] : 1);
      worst = e > worst || e != e ? e : worst;
      wrong += visits[i] != 1 || copy[i] != y[i];
    }
    CHECK(worst <= 1e-6 && !wrong,
          "winograd %lldx%lldx%lld -> %lldx%lldx%lld at %d threads: error %g of the magnitudes, %d elements not seen "
          "once, final, by the epilogue",
          (long long)g->h, (long long)g->w, (long long)g->c, (long long)g->oh, (long long)g->ow, (long long)g->f, nt,
          worst, wrong);
    if (nt > 1)
      CHECK(!memcmp(y, got[0], sizeof *y * (size_t)ny), "winograd %lldx%lldx%lld: %d threads give other bits than 1",
            (long long)g->h, (long long)g->w, (long long)g->c, nt);
    free(copy), free(visits);
  }
  /* the filters' transform kept in a slot (as an instance keeps it): the
   * same bits when made there and when reused, at 1 to 3 threads; the
   * slot is what a later call reads (new filters unseen until it is
   * zeroed, as an instance zeroes it when its parameters change) */
  const size_t kb = (size_t)nnrt_winograd_kept_bytes(g->c, g->f);
  if (runs && nnrt_sgemm_nr() >= 16 && kb > 0) {
    void *kept = nnrt_alloc(kb);
    float *y = malloc(sizeof *y * (size_t)ny);
    for (int nt = 1; nt <= 3; nt++) {
      CHECK(nnrt_conv2d_winograd_f32(nt, n, g, x, w, y, scratch, cap, NULL, kept) &&
                !memcmp(y, got[0], sizeof *y * (size_t)ny),
            "winograd %lldx%lldx%lld with a kept transform (%s) at %d threads: other bits", (long long)g->h,
            (long long)g->w, (long long)g->c, nt == 1 ? "made" : "reused", nt);
    }
    w[0] += 1;
    nnrt_conv2d_winograd_f32(1, n, g, x, w, y, scratch, cap, NULL, kept);
    CHECK(!memcmp(y, got[0], sizeof *y * (size_t)ny), "winograd: a kept transform was made again");
    memset(kept, 0, kb);
    nnrt_conv2d_winograd_f32(2, n, g, x, w, y, scratch, cap, NULL, kept);
    float *fresh = malloc(sizeof *fresh * (size_t)ny);
    nnrt_conv2d_winograd_f32(1, n, g, x, w, fresh, scratch, cap, NULL, NULL);
    CHECK(memcmp(y, got[0], sizeof *y * (size_t)ny) && !memcmp(y, fresh, sizeof *y * (size_t)ny),
          "winograd: a zeroed kept transform was not made anew from the new filters");
    w[0] -= 1;
    free(kept), free(y), free(fresh);
  }
  /* too little scratch: declined, nothing written */
  got[0][0] = 0;
  CHECK(!nnrt_conv2d_winograd_f32(1, n, g, x, w, got[0], scratch, 16 * 9, NULL, NULL) && got[0][0] == 0,
        "winograd: ran in too little scratch");
  for (int i = 0; i < 3; i++) free(got[i]);
  free(x), free(w), free(xd), free(wd), free(want), free(mag), free(scratch);
}

static void test_winograd(void) {
  /* the seed CNN's second and third layers: odd 13x13 outputs, a batch of 3 and 5 */
  winograd_case(&(NnrtWindow){.h = 15, .w = 15, .c = 32, .oh = 13, .ow = 13, .f = 64, .kh = 3, .kw = 3, .sh = 1,
                              .sw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 4}, 3, true);
  winograd_case(&(NnrtWindow){.h = 6, .w = 6, .c = 64, .oh = 4, .ow = 4, .f = 128, .kh = 3, .kw = 3, .sh = 1,
                              .sw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 8}, 5, true);
  /* padding on every side, odd sizes across and down, channels and
   * filters not multiples of 8, rows of tiles over several blocks */
  winograd_case(&(NnrtWindow){.h = 9, .w = 7, .c = 21, .oh = 9, .ow = 7, .f = 43, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                              .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 7, true);
  winograd_case(&(NnrtWindow){.h = 40, .w = 3, .c = 17, .oh = 40, .ow = 1, .f = 32, .kh = 3, .kw = 3, .sh = 1,
                              .sw = 1, .ph = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 1}, 2, true);
  /* channels over two blocks of the sums, uneven padding */
  winograd_case(&(NnrtWindow){.h = 5, .w = 6, .c = 264, .oh = 5, .ow = 4, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                              .ph = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 2, true);
  /* declined: few channels, a stride, groups, dilation, a 3x2 window, too few tiles */
  winograd_case(&(NnrtWindow){.h = 32, .w = 32, .c = 3, .oh = 30, .ow = 30, .f = 32, .kh = 3, .kw = 3, .sh = 1,
                              .sw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 2, false);
  winograd_case(&(NnrtWindow){.h = 9, .w = 9, .c = 16, .oh = 4, .ow = 4, .f = 32, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                              .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 2, false);
  winograd_case(&(NnrtWindow){.h = 9, .w = 9, .c = 32, .oh = 7, .ow = 7, .f = 64, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                              .dh = 1, .dw = 1, .groups = 2, .chunk = 2}, 2, false);
  winograd_case(&(NnrtWindow){.h = 9, .w = 9, .c = 16, .oh = 5, .ow = 5, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                              .dh = 2, .dw = 2, .groups = 1, .chunk = 2}, 2, false);
  winograd_case(&(NnrtWindow){.h = 4, .w = 4, .c = 16, .oh = 2, .ow = 2, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                              .dh = 1, .dw = 1, .groups = 1, .chunk = 2}, 1, false);
}

/* An epilogue for conv_pool_case: a bias and relu over rows of y. */
typedef struct BiasRelu {
  float *y;
  const float *bias;
  int64_t cols;
} BiasRelu;

static void bias_relu(const void *ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const BiasRelu *e = ctx;
  for (int64_t r = r0; r < r1; r++)
    for (int64_t c = c0; c < c1; c++) {
      float v = e->y[r * e->cols + c] + e->bias[c];
      e->y[r * e->cols + c] = v > 0 ? v : 0;
    }
}

/* nnrt_conv2d_pool_f32 over bands of `band` samples against the
 * convolution (with a bias and relu as its epilogue) over all n samples
 * and then the pooling p: the same bits at 1 to 3 threads, each band
 * taking the whole batch's kernel (Winograd's needs 8 tiles: a band of
 * one sample of a 2x2 result has 1). */
static void conv_pool_case(const NnrtWindow *g, const NnrtWindow *p, int op, int64_t n, int64_t band) {
  const int64_t R = g->kh * g->kw * (g->c / g->groups), ny = n * g->oh * g->ow * g->f;
  const int64_t nx = n * g->h * g->w * g->c, nz = n * p->oh * p->ow * p->f;
  uint64_t s = (uint64_t)(nx * 31 + R);
  float *x = malloc(sizeof *x * (size_t)nx), *w = malloc(sizeof *w * (size_t)(R * g->f)), *bias = malloc(sizeof *bias * (size_t)g->f);
  for (int64_t i = 0; i < nx; i++) x[i] = rnd(&s);
  for (int64_t i = 0; i < R * g->f; i++) w[i] = rnd(&s);
  for (int64_t i = 0; i < g->f; i++) bias[i] = rnd(&s);
  const size_t cap = (size_t)((n < g->chunk ? n : g->chunk) * g->oh * g->ow * R) + nnrt_sgemm_scratch(3);
  float *scratch = malloc(sizeof(float) * cap), *y = malloc(sizeof *y * (size_t)ny);
  float *want = malloc(sizeof *want * (size_t)nz), *got = malloc(sizeof *got * (size_t)nz);
  float *t = malloc(sizeof *t * (size_t)(band * g->oh * g->ow * g->f));
  BiasRelu whole = {y, bias, g->f}, part = {t, bias, g->f};
  nnrt_conv2d_f32(1, n, g, x, w, y, scratch, &(NnrtEpilogue){bias_relu, &whole});
  nnrt_pool_f32(1, n, op, p, y, NULL, want);
  /* without a kept slot, then with one (zeroed: made by the first call, read by the next) */
  void *kept = calloc(1, (size_t)nnrt_winograd_kept_bytes(g->c, g->f));
  for (int nt = 1; nt <= 6; nt++) {
    for (int64_t i = 0; i < nz; i++) got[i] = NAN;
    nnrt_conv2d_pool_f32((nt - 1) % 3 + 1, n, g, p, op, band, x, w, t, got, scratch,
                         &(NnrtEpilogue){bias_relu, &part}, nt > 3 ? kept : NULL);
    CHECK(!memcmp(got, want, sizeof *got * (size_t)nz),
          "conv %lldx%lldx%lld -> %lld, pooled %lldx%lld, %lld samples in bands of %lld, %d threads%s: other bits",
          (long long)g->h, (long long)g->w, (long long)g->c, (long long)g->f, (long long)p->kh, (long long)p->kw,
          (long long)n, (long long)band, (nt - 1) % 3 + 1, nt > 3 ? ", kept" : "");
  }
  free(x), free(w), free(bias), free(scratch), free(y), free(want), free(got), free(t), free(kept);
}

static void test_conv_pool(void) {
  /* the seed CNN's layers: Winograd's (13x13: odd, the last row and column
   * dropped; 4x4, 2x2: fewer than 8 tiles a band), the direct kernel (3 channels) */
  NnrtWindow l1 = {.h = 32, .w = 32, .c = 3, .oh = 30, .ow = 30, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                   .dh = 1, .dw = 1, .groups = 1, .chunk = 86};
  NnrtWindow l2 = {.h = 15, .w = 15, .c = 32, .oh = 13, .ow = 13, .f = 64, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                   .dh = 1, .dw = 1, .groups = 1, .chunk = 4};
  NnrtWindow l3 = {.h = 6, .w = 6, .c = 64, .oh = 4, .ow = 4, .f = 128, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                   .dh = 1, .dw = 1, .groups = 1, .chunk = 8};
  NnrtWindow l4 = {.h = 4, .w = 4, .c = 16, .oh = 2, .ow = 2, .f = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                   .dh = 1, .dw = 1, .groups = 1, .chunk = 2};
  /* filters no multiple of the vector width, a stride, padding */
  NnrtWindow l5 = {.h = 11, .w = 9, .c = 37, .oh = 6, .ow = 5, .f = 45, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                   .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1, .chunk = 3};
  NnrtWindow p1 = {.h = 30, .w = 30, .c = 32, .oh = 15, .ow = 15, .f = 32, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  NnrtWindow p2 = {.h = 13, .w = 13, .c = 64, .oh = 6, .ow = 6, .f = 64, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  NnrtWindow p3 = {.h = 4, .w = 4, .c = 128, .oh = 2, .ow = 2, .f = 128, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  NnrtWindow p4 = {.h = 2, .w = 2, .c = 32, .oh = 1, .ow = 1, .f = 32, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  NnrtWindow p5 = {.h = 6, .w = 5, .c = 45, .oh = 2, .ow = 2, .f = 45, .kh = 3, .kw = 2, .sh = 3, .sw = 2, .dh = 1, .dw = 1};
  conv_pool_case(&l1, &p1, NNRT_MAXPOOL, 3, 1);
  conv_pool_case(&l2, &p2, NNRT_MAXPOOL, 5, 2);
  conv_pool_case(&l3, &p3, NNRT_AVGPOOL, 5, 1);
  conv_pool_case(&l4, &p4, NNRT_MAXPOOL, 9, 1);
  conv_pool_case(&l5, &p5, NNRT_AVGPOOL, 4, 3);
  conv_pool_case(&l5, &p5, NNRT_MAXPOOL, 1, 1);
}

/* The int8 product against int64 sums of the unpacked operands, scaled:
 * sizes around the panel (16) and group (4) widths, strides, the extremes
 * (bytes 0 and 255, weights +-127, over the longest K). Every kernel
 * exactly: the same integers, converted and scaled alike. */
static void test_qgemm(void) {
  static const int64_t sizes[][3] = {{1, 1, 1},  {1, 16, 4},  {3, 17, 5},  {4, 15, 3},   {5, 33, 64},
                                     {7, 1, 129}, {2, 50, 7}, {9, 16, 1},  {13, 48, 300}, {32, 10, 800},
                                     {6, 70, 37}, {9, 128, 300}, {3, 64, 5}, {70, 80, 9}, {5, 32, 9}, {11, 112, 20}}; /* N >= 32: two or four panels at once */
  uint64_t s = 7;
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes + 1; t++) {
    bool extreme = t == sizeof sizes / sizeof *sizes;
    int64_t M = extreme ? 5 : sizes[t][0], N = extreme ? 19 : sizes[t][1], K = extreme ? 65536 : sizes[t][2];
    int64_t lda = K + 1, ldb = N + 2, ldy = N + 1;
    uint8_t *A = malloc((size_t)(M * lda + 3)); /* rows read in fours: up to 3 bytes past K */
    int8_t *B = malloc((size_t)(K * ldb));
    float *y = malloc(sizeof(float) * (size_t)(M * ldy)), *scale = malloc(sizeof(float) * (size_t)N);
    void *blob = malloc(nnrt_qlayer_bytes(K, N));
    for (int64_t i = 0; i < M * lda + 3; i++) A[i] = extreme ? (i % 5 ? 255 : 0) : (uint8_t)(rnd(&s) * 127.9 + 128);
    for (int64_t i = 0; i < K * ldb; i++) B[i] = extreme ? (int8_t)(i % 7 ? -127 : 127) : (int8_t)(rnd(&s) * 127);
    for (int64_t j = 0; j < N; j++) scale[j] = extreme ? 1 : (float)(0.001 + 0.01 * (double)(j % 7));
    for (int64_t i = 0; i < M * ldy; i++) y[i] = -7;
    nnrt_qlayer_pack(K, N, B, ldb, scale, blob);
    nnrt_qgemm(M, N, K, A, lda, blob, y, ldy);
    int bad = 0;
    for (int64_t j = 0; j < N; j++)
      for (int64_t i = 0; i < M; i++) {
        int64_t want = 0;
        for (int64_t p = 0; p < K; p++) want += (int64_t)(A[i * lda + p] - 128) * B[p * ldb + j];
        float w = (float)(int32_t)want * scale[j];
        bad += y[i * ldy + j] != w;
      }
    for (int64_t i = 0; i < M; i++) bad += y[i * ldy + N] != -7; /* past N: untouched */
    CHECK(!bad, "qgemm %lldx%lldx%lld (kernel %d): %d wrong", (long long)M, (long long)N, (long long)K,
          nnrt_qgemm_kernel(), bad);
    free(A), free(B), free(y), free(scale), free(blob);
  }
}

/* The int8 convolution against sums over each window of the quantized
 * image (padding 0): padded, strided, dilated (down and across: a run a
 * tap), thin; in chunks of 2 samples; the scratch exactly as large as
 * nnrt.h says (under the sanitizer, a read past it fails); a NaN gives
 * NaN in the rows whose windows read it, and only there. */
static void test_qconv(void) {
  /* h w c f kh kw sh sw ph pw dh dw */
  static const int64_t geo[][12] = {{7, 6, 1, 32, 3, 3, 1, 1, 0, 0, 1, 1}, {6, 5, 3, 17, 3, 2, 2, 1, 1, 1, 1, 1},
                                    {8, 9, 5, 64, 2, 3, 1, 2, 0, 2, 2, 2}, {5, 5, 6, 20, 1, 2, 1, 1, 0, 1, 1, 3},
                                    {9, 4, 2, 33, 4, 1, 3, 1, 2, 0, 1, 1}};
  uint64_t s = 11;
  for (size_t t = 0; t < sizeof geo / sizeof *geo; t++) {
    const int64_t *a = geo[t], n = 3;
    NnrtWindow g = {.h = a[0], .w = a[1], .c = a[2], .f = a[3], .kh = a[4], .kw = a[5], .sh = a[6], .sw = a[7],
                    .ph = a[8], .pw = a[9], .dh = a[10], .dw = a[11], .groups = 1, .chunk = 2};
    g.oh = (g.h + 2 * g.ph - (g.kh - 1) * g.dh - 1) / g.sh + 1, g.ow = (g.w + 2 * g.pw - (g.kw - 1) * g.dw - 1) / g.sw + 1;
    int64_t K = g.kh * g.kw * g.c, KP = nnrt_qconv2d_terms(g.kh, g.kw, g.c, g.dw), run = nnrt_qconv2d_run(g.kw, g.c, g.dw);
    int64_t run4 = (run + 3) / 4 * 4, rows = n * g.oh * g.ow;
    int64_t img = nnrt_qconv2d_padded(g.h, g.ph, g.oh, g.sh, g.kh, g.dh) * nnrt_qconv2d_padded(g.w, g.pw, g.ow, g.sw, g.kw, g.dw) * g.c;
    float *x = malloc(sizeof(float) * (size_t)(n * g.h * g.w * g.c)), *y = malloc(sizeof(float) * (size_t)(rows * g.f));
    float *scale = malloc(sizeof(float) * (size_t)g.f);
    int8_t *w = malloc((size_t)(K * g.f)), *wp = calloc((size_t)(KP * g.f), 1);
    void *blob = malloc(nnrt_qlayer_bytes(KP, g.f)), *scratch = malloc((size_t)(g.chunk * img + 64));
    for (int64_t i = 0; i < n * g.h * g.w * g.c; i++) x[i] = rnd(&s) * 3;
    const int64_t nan_at = t == 1 ? ((1 * g.h + 2) * g.w + 3) * g.c : -1; /* sample 1, pixel (2, 3) */
    if (nan_at >= 0) x[nan_at] = NAN;
    for (int64_t i = 0; i < K * g.f; i++) w[i] = (int8_t)(rnd(&s) * 127);
    for (int64_t j = 0; j < g.f; j++) scale[j] = (float)(0.01 * (double)(j % 5 + 1));
    for (int64_t p = 0; p < KP; p++) /* the runs' rows, each padded to a multiple of 4 */
      if (p % run4 < run)
        for (int64_t j = 0; j < g.f; j++) wp[p * g.f + j] = w[(p / run4 * run + p % run4) * g.f + j];
    nnrt_qlayer_pack(KP, g.f, wp, g.f, scale, blob);
    const float inv = 127 / 3.0f;
    nnrt_qconv2d_f32(1, n, &g, x, inv, blob, y, scratch, NULL);
    int bad = 0, nans = 0;
    for (int64_t r = 0; r < rows; r++) {
      int64_t ox = r % g.ow, oy = r / g.ow % g.oh, b = r / (g.ow * g.oh);
      bool reads_nan = false;
      for (int64_t j = 0; j < g.f; j++) {
        int64_t sum = 0;
        for (int64_t ky = 0; ky < g.kh; ky++)
          for (int64_t kx = 0; kx < g.kw; kx++)
            for (int64_t c = 0; c < g.c; c++) {
              int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              int64_t at = ((b * g.h + iy) * g.w + ix) * g.c + c;
              float v = x[at] * inv;
              reads_nan |= at == nan_at;
              v = v < 127 ? v : 127, v = v > -127 ? v : -127;
              sum += (int64_t)nearbyintf(v) * w[((ky * g.kw + kx) * g.c + c) * g.f + j];
            }
        float want = (float)(int32_t)sum * scale[j], got = y[r * g.f + j];
        if (reads_nan) nans += got != got;
        else bad += got != want;
      }
    }
    CHECK(!bad, "qconv2d geometry %zu (kernel %d): %d wrong", t, nnrt_qgemm_kernel(), bad);
    CHECK(nan_at < 0 || nans > 0, "qconv2d geometry %zu: no NaN from the NaN pixel", t);
    free(x), free(y), free(scale), free(w), free(wp), free(blob), free(scratch);
  }
}

int main(void) {
  test_qgemm();
  test_qconv();
  test_gemm_team();
  test_gemm();
  test_windows();
  test_direct();
  test_winograd();
  test_conv_pool();
  test_store();
  test_standardize();
  test_augment();
  if (!failures) printf("ok\n");
  return failures != 0;
}
