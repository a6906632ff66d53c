/* Saliency of the trained MNIST CNN over the held-out digits (the last
 * `held` images of an IDX file, as the training program holds them out):
 * the mean share of |saliency| on stroke pixels (input > 0.5) against the
 * stroke's mean share of the image, which a model that looks at the
 * digit's strokes makes at least twice as large (tests/cli/train_mnist_cnn.sh,
 * docs/interpret.md). Usage: mnist_saliency IMAGES LABELS HELD. Prints the
 * figures; exits 0 when the ratio is at least 2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "libcnn.h"

static unsigned char *read_file(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  if (!f || fseek(f, 0, SEEK_END) || (*size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) return NULL;
  unsigned char *b = malloc((size_t)*size);
  if (!b || fread(b, 1, (size_t)*size, f) != (size_t)*size) return NULL;
  fclose(f);
  return b;
}

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: mnist_saliency IMAGES LABELS HELD\n"), 2;
  long isize, lsize, held = atol(argv[3]);
  unsigned char *im = read_file(argv[1], &isize), *lb = read_file(argv[2], &lsize);
  if (!im || !lb || isize < 16 || lsize < 8) return fprintf(stderr, "cannot read the IDX files\n"), 1;
  long count = lsize - 8;
  if (isize != 16 + count * 784 || held < 1 || held > count) return fprintf(stderr, "unexpected IDX sizes\n"), 1;
  MnistCNN_Model *m = MnistCNN_create(0);
  enum { B = 100 };
  static float x[B * 784], g[B * 784];
  int32_t target[B];
  double on_stroke = 0, stroke = 0;
  long seen = 0, right = 0;
  for (long at = count - held; at < count; at += B) {
    int n = (int)(count - at < B ? count - at : B);
    for (long i = 0; i < (long)n * 784; i++) x[i] = im[16 + at * 784 + i] / 255.0f;
    for (int i = 0; i < n; i++) target[i] = lb[8 + at + i];
    const void *in[1] = {x};
    void *out[1] = {g};
    if (MnistCNN_saliency(m, in, n, target, out) != 0)
      return fprintf(stderr, "saliency: %s\n", MnistCNN_last_error(m)), 1;
    const float *p = MnistCNN_predict(m, in, n);
    for (int i = 0; i < n; i++) {
      double all = 0, on = 0;
      int pixels = 0, best = 0;
      for (int j = 0; j < 784; j++) {
        double a = fabs(g[i * 784 + j]);
        all += a;
        if (x[i * 784 + j] > 0.5f) on += a, pixels++;
      }
      for (int c = 1; c < 10; c++)
        if (p[i * 10 + c] > p[i * 10 + best]) best = c;
      right += best == target[i];
      if (all > 0) on_stroke += on / all, stroke += pixels / 784.0, seen++;
    }
  }
  double share = on_stroke / (double)seen, area = stroke / (double)seen;
  printf("held-out digits: %ld (accuracy %.4f); stroke pixels (input > 0.5): %.1f%% of the image, %.1f%% of the "
         "|saliency| of the true class: %.2fx\n", seen, right / (double)held, 100 * area, 100 * share, share / area);
  MnistCNN_free(m);
  return share >= 2 * area ? 0 : 1;
}
