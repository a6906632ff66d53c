# Compiled models as libraries: `-o NAME.so` builds a shared library and
# NAME.h; two different models link into one program (as .so files, and as
# --no-main C files) and train in two threads at once, each instance alone
# giving the same bits as it does with the other thread running. The host
# also drives them through the descriptor, gets and sets parameters by
# name, and saves and loads checkpoints.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}
"$nnc" "$ex/seed_mlp.nn" -o "$tmp/libseed.so" || fail "building libseed.so failed"
"$nnc" "$ex/mnist_mlp.nn" -o "$tmp/libmnist.so" || fail "building libmnist.so failed"
[ -f "$tmp/libseed.h" ] && [ -f "$tmp/libmnist.h" ] || fail "no headers beside the libraries"
exported=$(nm -D --defined-only "$tmp/libseed.so" | awk '$2 == "T" { print $3 }' | grep -v '^SeedMLP_')
[ -z "$exported" ] || fail "libseed.so exports unprefixed symbols: $exported"

cat > "$tmp/host.c" <<'HOST'
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "libseed.h"
#include "libmnist.h"

static int passed, failed;
static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  ok ? passed++ : failed++;
}

/* 300 steps of the seed MLP on a fixed, learnable task; returns the last loss. */
static double train_seed(void) {
  SeedMLP_Model *m = SeedMLP_create(7);
  float x[10 * 8], y[10];
  double loss = 0;
  for (int step = 0; step < 300; step++) {
    for (int i = 0; i < 10; i++) {
      float s = 0;
      for (int j = 0; j < 8; j++) x[i * 8 + j] = (float)sin(step * 13 + i * 7 + j), s += x[i * 8 + j];
      y[i] = s > 0;
    }
    const void *in[1] = {x};
    loss = SeedMLP_train_step(m, in, y, 10);
  }
  SeedMLP_free(m);
  return loss;
}

static double train_mnist(void) {
  MnistMLP_Model *m = MnistMLP_create(3);
  static float x[8 * 784], y[8 * 10];
  double loss = 0;
  for (int step = 0; step < 20; step++) {
    memset(y, 0, sizeof y);
    for (int i = 0; i < 8; i++) {
      for (int j = 0; j < 784; j++) x[i * 784 + j] = (float)((j * (i + 1) + step) % 17) / 17;
      y[i * 10 + i % 10] = 1;
    }
    const void *in[1] = {x};
    loss = MnistMLP_train_step(m, in, y, 8);
  }
  MnistMLP_free(m);
  return loss;
}

static double seed_result, mnist_result;
static void *seed_thread(void *arg) { (void)arg; seed_result = train_seed(); return NULL; }
static void *mnist_thread(void *arg) { (void)arg; mnist_result = train_mnist(); return NULL; }

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  double seed_alone = train_seed(), mnist_alone = train_mnist();
  pthread_t a, b;
  pthread_create(&a, NULL, seed_thread, NULL);
  pthread_create(&b, NULL, mnist_thread, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  check(seed_result == seed_alone && mnist_result == mnist_alone,
        "two models in two threads give the bits each gives alone");
  check(seed_alone < 0.35, "the seed MLP learns its task");

  const NnModelDesc *d = SeedMLP_describe();
  check(d->ninputs == 1 && d->inputs[0].rank == 2 && d->inputs[0].dims[0] == -1 &&
        d->inputs[0].dims[1] == 8 && d->noutputs == 1 && d->nparams == 4 &&
        !strcmp(d->params[0].name, "dense1.W") && d->params[0].dims[1] == 10,
        "the descriptor lists inputs, outputs and parameters with their shapes");

  SeedMLP_Model *m = SeedMLP_create(1);
  float w[80], w2[80];
  check(SeedMLP_get_param(m, "dense1.W", w, sizeof w) == 0, "get a parameter by name");
  for (int i = 0; i < 80; i++) w[i] = (float)i / 80;
  SeedMLP_set_param(m, "dense1.W", w, sizeof w);
  SeedMLP_get_param(m, "dense1.W", w2, sizeof w2);
  check(!memcmp(w, w2, sizeof w) && SeedMLP_get_param(m, "dense9.W", w, sizeof w) == -1 &&
        SeedMLP_get_param(m, "dense1.W", w, 4) == -1, "set a parameter; wrong names and sizes are refused");
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/m.safetensors", dir);
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const void *in[1] = {x};
  float before = *(const float *)SeedMLP_predict(m, in, 1);
  SeedMLP_Model *m2 = SeedMLP_create(99);
  check(SeedMLP_save(m, path, err, sizeof err) == 0 && SeedMLP_load(m2, path, err, sizeof err) == 0 &&
        *(const float *)SeedMLP_predict(m2, in, 1) == before, "save, then load into another instance");
  SeedMLP_free(m);
  SeedMLP_free(m2);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
HOST
(cd "$tmp" && $cc -std=c11 ${CFLAGS:-} host.c -o host ./libseed.so ./libmnist.so -Wl,-rpath,"$tmp" -pthread -lm) ||
  fail "the host does not build against the two libraries"
(cd "$tmp" && ./host "$tmp") > "$tmp/host.out" || fail "the host failed: $(cat "$tmp/host.out")"
cat "$tmp/host.out"

# the same models as C files without a main, linked into one program
"$nnc" "$ex/seed_mlp.nn" --emit=c --no-main -o "$tmp/seed.c" || fail "--no-main seed"
"$nnc" "$ex/mnist_mlp.nn" --emit=c --no-main -o "$tmp/mnist.c" || fail "--no-main mnist"
(cd "$tmp" && $cc -std=c11 -Wall -Wextra -Werror ${CFLAGS:-} host.c seed.c mnist.c -o host2 -pthread -lm) ||
  fail "two models' C files do not link into one program"
(cd "$tmp" && ./host2 "$tmp") > "$tmp/host2.out" || fail "host2 failed: $(cat "$tmp/host2.out")"
has "$tmp/host2.out" "6 passed, 0 failed"
finish
