/* Looking inside a compiled model (tests/cli/explain.sh, docs/interpret.md):
 * M_saliency against central finite differences of M_predict_outputs;
 * integrated gradients against their textbook definition (the Riemann sum
 * of saliency along the path) and completeness; Grad-CAM against its
 * definition on a map that global average pooling feeds to a dense head
 * (then d y_c / d A_k = W[k, c] / (H W), the CAM of Zhou et al.);
 * M_activation against the outputs and against the pooling it feeds; the
 * errors. Prints "ok ..." and exits 0, or says what failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libprobe.h"

enum { N = 3, IMG = 6 * 6 * 2, META = 3, OUT = 3 };
static int failures;

#define CHECK(cond, ...)              \
  do {                                \
    if (!(cond)) {                    \
      printf("FAIL: " __VA_ARGS__);   \
      printf("\n");                   \
      failures++;                     \
    }                                 \
  } while (0)

static double rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return ((*s >> 8) & 0xffff) / 32768.0 - 1;
}

static void predict(Probe_Model *m, double *img, double *meta, double *y) {
  const void *in[2] = {img, meta};
  void *out[1] = {y};
  if (Probe_predict_outputs(m, in, out, N) != 0) printf("FAIL: predict: %s\n", Probe_last_error(m)), exit(1);
}

/* err is the instance's message buffer, read after the call has failed */
static int expect_error(int rc, const char *err, const char *want) {
  if (rc == 0 || !strstr(err, want)) {
    printf("FAIL: wanted an error with \"%s\", got rc %d and \"%s\"\n", want, rc, err);
    failures++;
    return 0;
  }
  return 1;
}

int main(void) {
  Probe_Model *m = Probe_create(7);
  unsigned seed = 11;
  double img[N * IMG], meta[N * META], y[N * OUT], base_img[N * IMG], base_meta[N * META];
  for (int i = 0; i < N * IMG; i++) img[i] = rnd(&seed), base_img[i] = 0.3 * rnd(&seed);
  for (int i = 0; i < N * META; i++) meta[i] = rnd(&seed), base_meta[i] = 0.3 * rnd(&seed);
  const void *in[2] = {img, meta};
  int32_t target[N] = {0, 2, 1};

  /* saliency against central differences, every input value of every sample */
  double g_img[N * IMG], g_meta[N * META], worst = 0;
  void *g[2] = {g_img, g_meta};
  CHECK(Probe_saliency(m, in, N, target, g) == 0, "saliency: %s", Probe_last_error(m));
  double *xs[2] = {img, meta}, *gs[2] = {g_img, g_meta};
  int sizes[2] = {IMG, META};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < N; i++)
      for (int j = 0; j < sizes[k]; j++) {
        double *x = &xs[k][i * sizes[k] + j], keep = *x, h = 1e-5, hi, lo;
        *x = keep + h;
        predict(m, img, meta, y);
        hi = y[i * OUT + target[i]];
        *x = keep - h;
        predict(m, img, meta, y);
        lo = y[i * OUT + target[i]];
        *x = keep;
        double fd = (hi - lo) / (2 * h), d = fabs(fd - gs[k][i * sizes[k] + j]) / (fabs(fd) > 1 ? fabs(fd) : 1);
        if (d > worst) worst = d;
      }
  CHECK(worst < 1e-7, "saliency against finite differences: largest difference %.3g", worst);
  printf("ok saliency: %d values against central differences, largest difference %.2g\n", N * (IMG + META), worst);

  /* no target: each sample's largest output */
  predict(m, img, meta, y);
  int32_t best[N];
  for (int i = 0; i < N; i++) {
    best[i] = 0;
    for (int c = 1; c < OUT; c++)
      if (y[i * OUT + c] > y[i * OUT + best[i]]) best[i] = c;
  }
  double a_img[N * IMG], a_meta[N * META];
  void *a[2] = {a_img, a_meta};
  CHECK(Probe_saliency(m, in, N, NULL, a) == 0 && Probe_saliency(m, in, N, best, g) == 0, "saliency, no target");
  CHECK(!memcmp(a_img, g_img, sizeof a_img) && !memcmp(a_meta, g_meta, sizeof a_meta),
        "saliency without a target differs from the largest output's");
  void *only_meta[2] = {NULL, a_meta};
  CHECK(Probe_saliency(m, in, N, best, only_meta) == 0 && !memcmp(a_meta, g_meta, sizeof a_meta),
        "saliency of one input alone");

  /* integrated gradients: the definition, (x - b) times the mean of the
   * gradients at b + k/S (x - b), k = 1..S, from a baseline and from zeros */
  enum { S = 16 };
  for (int zero = 0; zero < 2; zero++) {
    const void *base[2] = {base_img, base_meta};
    double ig_img[N * IMG], ig_meta[N * META], acc_img[N * IMG] = {0}, acc_meta[N * META] = {0};
    void *ig[2] = {ig_img, ig_meta};
    CHECK(Probe_integrated_gradients(m, in, zero ? NULL : base, N, target, S, ig) == 0, "integrated_gradients: %s",
          Probe_last_error(m));
    for (int k = 1; k <= S; k++) {
      double p_img[N * IMG], p_meta[N * META];
      for (int i = 0; i < N * IMG; i++) p_img[i] = (zero ? 0 : base_img[i]) + k / (double)S * (img[i] - (zero ? 0 : base_img[i]));
      for (int i = 0; i < N * META; i++) p_meta[i] = (zero ? 0 : base_meta[i]) + k / (double)S * (meta[i] - (zero ? 0 : base_meta[i]));
      const void *p[2] = {p_img, p_meta};
      CHECK(Probe_saliency(m, p, N, target, g) == 0, "saliency on the path");
      for (int i = 0; i < N * IMG; i++) acc_img[i] += g_img[i];
      for (int i = 0; i < N * META; i++) acc_meta[i] += g_meta[i];
    }
    double d = 0;
    for (int i = 0; i < N * IMG; i++)
      d = fmax(d, fabs(ig_img[i] - (img[i] - (zero ? 0 : base_img[i])) * acc_img[i] / S));
    for (int i = 0; i < N * META; i++)
      d = fmax(d, fabs(ig_meta[i] - (meta[i] - (zero ? 0 : base_meta[i])) * acc_meta[i] / S));
    CHECK(d < 1e-12, "integrated gradients against their definition: %.3g", d);
  }
  /* completeness: the attributions add up to y(x) - y(0) for the target */
  double ig_img[N * IMG], ig_meta[N * META], y0[N * OUT], zi[N * IMG] = {0}, zm[N * META] = {0}, gap = 0;
  void *ig[2] = {ig_img, ig_meta};
  CHECK(Probe_integrated_gradients(m, in, NULL, N, target, 4000, ig) == 0, "integrated_gradients, 4000 steps");
  predict(m, img, meta, y);
  predict(m, zi, zm, y0);
  for (int i = 0; i < N; i++) {
    double sum = 0, want = y[i * OUT + target[i]] - y0[i * OUT + target[i]];
    for (int j = 0; j < IMG; j++) sum += ig_img[i * IMG + j];
    for (int j = 0; j < META; j++) sum += ig_meta[i * META + j];
    gap = fmax(gap, fabs(sum - want) / fmax(1, fabs(want)));
  }
  CHECK(gap < 2e-3, "integrated gradients' completeness: %.3g", gap);
  printf("ok integrated gradients: the definition at %d steps, with and without a baseline; completeness at 4000 "
         "steps within %.2g\n", S, gap);

  /* Grad-CAM on conv2d2 (2 x 2 x 5), read by global average pooling and
   * the dense head: relu(sum_k W[k, t] / 4 * A_k) */
  double A[N * 20], W[8 * 3];
  float cam[N * 4], cam2[N * 4];
  CHECK(Probe_activation(m, in, N, "conv2d2", A, sizeof A) == 0, "activation conv2d2: %s", Probe_last_error(m));
  CHECK(Probe_get_param(m, "dense1.W", W, sizeof W) == 0, "dense1.W");
  CHECK(Probe_gradcam(m, in, N, "conv2d2", target, cam) == 0, "gradcam: %s", Probe_last_error(m));
  CHECK(Probe_gradcam(m, in, N, "c2", target, cam2) == 0 && !memcmp(cam, cam2, sizeof cam), "gradcam by c2");
  double worst_cam = 0, most = 0;
  for (int i = 0; i < N; i++)
    for (int p = 0; p < 4; p++) {
      double s = 0;
      for (int k = 0; k < 5; k++) s += W[k * 3 + target[i]] / 4 * A[(i * 4 + p) * 5 + k];
      s = s > 0 ? s : 0;
      most = fmax(most, s);
      worst_cam = fmax(worst_cam, fabs(s - cam[i * 4 + p]));
    }
  CHECK(worst_cam < 1e-6 * fmax(1, most) && most > 0, "Grad-CAM against CAM: %.3g (largest %.3g)", worst_cam, most);
  float cam1[N * 36];
  CHECK(Probe_gradcam(m, in, N, "conv2d1", NULL, cam1) == 0, "gradcam conv2d1: %s", Probe_last_error(m));
  printf("ok Grad-CAM: conv2d2 against CAM within %.2g\n", worst_cam);

  /* activations: the head's is the output; g is the mean of conv2d2 */
  double head[N * OUT], gap_v[N * 5], gd = 0;
  CHECK(Probe_activation(m, in, N, "dense1", head, sizeof head) == 0 && !memcmp(head, y, sizeof head),
        "activation dense1 is not the output");
  CHECK(Probe_activation(m, in, N, "g", gap_v, sizeof gap_v) == 0, "activation g");
  for (int i = 0; i < N; i++)
    for (int k = 0; k < 5; k++) {
      double s = 0;
      for (int p = 0; p < 4; p++) s += A[(i * 4 + p) * 5 + k];
      gd = fmax(gd, fabs(s / 4 - gap_v[i * 5 + k]));
    }
  CHECK(gd < 1e-12, "activation g against the mean of conv2d2: %.3g", gd);
  const NnModelDesc *d = Probe_describe();
  CHECK(d->abi == 2 && d->nlayers == 7 && !strcmp(d->layers[3].name, "conv2d2") && d->layers[3].dims[3] == 5,
        "the descriptor's layers");
  printf("ok activations: %d layers described\n", d->nlayers);

  /* errors */
  int32_t bad[N] = {0, 3, 1};
  expect_error(Probe_saliency(m, in, N, bad, g), Probe_last_error(m),
               "saliency: the target of sample 1 is 3, outside 0 to 2 (output output0 has 3 values a sample)");
  expect_error(Probe_gradcam(m, in, N, "conv9", NULL, cam), Probe_last_error(m),
               "gradcam: model Probe has no layer 'conv9'; its layers: conv2d1, c1, p, conv2d2, c2, g, dense1");
  expect_error(Probe_gradcam(m, in, N, "g", NULL, cam), Probe_last_error(m),
               "gradcam: layer 'g' is not a feature map [N, height, width, channels] of floats");
  expect_error(Probe_activation(m, in, N, "g", gap_v, sizeof gap_v - 8), Probe_last_error(m),
               "activation: layer 'g' of 3 samples takes 120 bytes, not 112");
  expect_error(Probe_activation(m, in, N, NULL, gap_v, sizeof gap_v), Probe_last_error(m),
               "activation: no layer name (NULL)");
  expect_error(Probe_integrated_gradients(m, in, NULL, N, NULL, 0, ig), Probe_last_error(m),
               "integrated_gradients: 0 steps is outside 1 to 100000");
  expect_error(Probe_saliency(m, in, 0, NULL, g), Probe_last_error(m), "saliency: a batch of 0 samples is outside 1");
  expect_error(Probe_saliency(m, in, N, NULL, NULL), Probe_last_error(m), "saliency: no outputs (NULL)");
  int rc = Probe_gradcam(NULL, in, N, "c2", NULL, cam); /* then the message: a thread's, made by the failure */
  expect_error(rc, Probe_last_error(NULL), "gradcam: no model (NULL)");
  Probe_free(m);

  /* token ids have no gradient; the numbers beside them do */
  Mixed_Model *x = Mixed_create(3);
  int32_t ids[2 * 4] = {1, 2, 3, 4, 9, 0, 5, 5};
  float nums[2 * 3] = {0.5f, -1, 2, 0, 1, -0.5f}, gi[2 * 4], gn[2 * 3];
  const void *xin[2] = {ids, nums};
  void *both[2] = {gi, gn}, *numbers[2] = {NULL, gn};
  expect_error(Mixed_saliency(x, xin, 2, NULL, both), Mixed_last_error(x),
               "saliency: input 0 (ids) holds integers (token ids), which have no gradient; pass NULL for it");
  CHECK(Mixed_saliency(x, xin, 2, NULL, numbers) == 0 && (gn[0] != 0 || gn[1] != 0), "Mixed saliency: %s",
        Mixed_last_error(x));
  float e[2 * 8], e2[2 * 11], p[2 * 2];
  const NnModelDesc *md = Mixed_describe();
  const char *names[] = {"embedding1", "e", "e@2", "dense1", "p"}; /* a name given again: e@2; a named output */
  CHECK(md->nlayers == 5, "Mixed has %d layers", md->nlayers);
  for (int i = 0; i < 5 && i < md->nlayers; i++) CHECK(!strcmp(md->layers[i].name, names[i]), "layer %d is %s", i, md->layers[i].name);
  CHECK(Mixed_activation(x, xin, 2, "e", e, sizeof e) == 0, "Mixed activation e: %s", Mixed_last_error(x));
  CHECK(Mixed_activation(x, xin, 2, "e@2", e2, sizeof e2) == 0 && !memcmp(e2, e, 8 * sizeof(float)) &&
            !memcmp(e2 + 11, e + 8, 8 * sizeof(float)) && e2[8] == nums[0],
        "Mixed activation e@2: the concatenation of e and x");
  CHECK(Mixed_activation(x, xin, 2, "p", p, sizeof p) == 0 && !memcmp(p, Mixed_predict(x, xin, 2), sizeof p),
        "Mixed activation p: the output");
  Mixed_free(x);
  printf("ok errors\n");
  if (failures) return 1;
  printf("ok: attribution and activations\n");
  return 0;
}
