# The MNIST CNN shipped into apps (docs/install.md): its training program
# reaches at least 98% held-out accuracy and saves a checkpoint; nnc is
# installed into a prefix; a CMake project (nnc_add_model with WEIGHTS and
# INFERENCE_ONLY) and a pkg-config one (an object with --weights) each run
# the digits through the model with the weights built in and no file at
# run time: both give the training program's predictions (--predict, bit
# for bit) and its held-out accuracy, which the installed Python package
# reproduces with the CMake project's library.
. "$(dirname "$0")/../cli_lib.sh"
build=$(dirname "$nnc")
"$nnc" --version | grep -q "LLVM" || { echo "nnc without LLVM: this test needs the LLVM backend"; exit 1; }
mnist_idx
sed "s|data/mnist-|$tmp/mnist-|g" "$src/examples/mnist_cnn.nn" > "$tmp/cnn.nn"
"$nnc" "$tmp/cnn.nn" -o "$tmp/train" || fail "building the training program failed"
"$tmp/train" --save "$tmp/ck.safetensors" > "$tmp/train.out" 2>&1 || fail "training failed: $(tail -3 "$tmp/train.out")"
held_out_at_least "$tmp/train.out" 2000 0.98 "the MNIST CNN's"
acc=$(sed -n 's/^held-out: 2000 samples, .*accuracy \([0-9.]*\)$/\1/p' "$tmp/train.out")
"$tmp/train" --load "$tmp/ck.safetensors" --predict "$tmp/mnist-images.idx" --output "$tmp/pred.npy" > "$tmp/pred.out" 2>&1 ||
  fail "--predict failed: $(tail -3 "$tmp/pred.out")"
tail -c 400000 "$tmp/pred.npy" > "$tmp/pred.f32"  # 10,000 digits x 10 scores after the header

cmake --install "$build" --prefix "$tmp/p" > "$tmp/install.log" 2>&1 || fail "cmake --install failed: $(tail -3 "$tmp/install.log")"
P=$tmp/p

cat > "$tmp/app.c" <<'APP'
/* The MNIST CNN on every digit of an IDX file, 100 at a time: its scores
 * (raw float32) to argv[2], and the accuracy over the last 2,000 digits,
 * which the training program holds out. */
#include <stdio.h>
#include <stdlib.h>
#include "cnn.h"
int main(int argc, char **argv) {
  FILE *fi = fopen(argv[1], "rb"), *fl = fopen(argv[3], "rb"), *out = fopen(argv[2], "wb");
  unsigned char h[16], lh[8];
  if (!fi || !fl || !out || fread(h, 1, 16, fi) != 16 || fread(lh, 1, 8, fl) != 8) return 1;
  int n = h[4] << 24 | h[5] << 16 | h[6] << 8 | h[7], correct = 0, held = n - 2000;
  MnistCNN_Model *m = MnistCNN_create(0);
  static unsigned char px[100 * 784], lab[100];
  static float x[100 * 784];
  for (int at = 0; at < n; at += 100) {
    int k = n - at < 100 ? n - at : 100;
    if (fread(px, 784, (size_t)k, fi) != (size_t)k || fread(lab, 1, (size_t)k, fl) != (size_t)k) return 1;
    for (int i = 0; i < k * 784; i++) x[i] = (float)(px[i] * (1 / 255.0));
    const void *in[1] = {x};
    const float *p = MnistCNN_predict(m, in, k);
    if (!p) {
      fprintf(stderr, "%s\n", MnistCNN_last_error(m));
      return 1;
    }
    fwrite(p, sizeof(float), (size_t)k * 10, out);
    for (int i = 0; i < k; i++) {
      int best = 0;
      for (int c = 1; c < 10; c++)
        if (p[i * 10 + c] > p[i * 10 + best]) best = c;
      correct += at + i >= held && best == lab[i];
    }
  }
  printf("held-out: 2000 samples, accuracy %.4f\n", correct / 2000.0);
  MnistCNN_free(m);
  return fclose(out) != 0;
}
APP

# CMake: the library built with the weights, inference only
mkdir "$tmp/cm" && cp "$tmp/app.c" "$tmp/cm/" && cp "$tmp/cnn.nn" "$tmp/cm/cnn.nn"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(digits C)
find_package(nnc REQUIRED)
add_executable(app app.c)
nnc_add_model(app cnn.nn WEIGHTS $tmp/ck.safetensors INFERENCE_ONLY)
CM
if cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$P" > "$tmp/cm.log" 2>&1 &&
   cmake --build "$tmp/cm/b" >> "$tmp/cm.log" 2>&1; then
  mv "$tmp/ck.safetensors" "$tmp/ck.moved"  # nothing read at run time
  "$tmp/cm/b/app" "$tmp/mnist-images.idx" "$tmp/cm.f32" "$tmp/mnist-labels.idx" > "$tmp/cm.out" ||
    fail "the CMake app failed: $(cat "$tmp/cm.out")"
  mv "$tmp/ck.moved" "$tmp/ck.safetensors"
  grep -qx "held-out: 2000 samples, accuracy $acc" "$tmp/cm.out" || fail "the CMake app: $(cat "$tmp/cm.out"), the program $acc"
  cmp -s "$tmp/cm.f32" "$tmp/pred.f32" || fail "the CMake app's scores differ from the program's --predict"
else
  fail "the CMake project failed: $(tail -15 "$tmp/cm.log")"
fi

# Python, the installed package: the library the CMake project built
(cd "$tmp" && PYTHONPATH="$P/lib/python3/dist-packages" /usr/bin/python3 -c "
import numpy as np, nnc
data = open('mnist-images.idx', 'rb').read()
x = np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28, 1)[-2000:]
y = np.frombuffer(open('mnist-labels.idx', 'rb').read(), np.uint8, offset=8)[-2000:]
m = nnc.load('cm/b/nnc_models/cnn.so')
p = m.predict((x.astype(np.float64) * (1 / 255)).astype(np.float32))
print('held-out: 2000 samples, accuracy %.4f' % np.mean(np.argmax(p, axis=1) == y))
") > "$tmp/py.out" 2>&1 || fail "the Python check failed: $(cat "$tmp/py.out")"
grep -qx "held-out: 2000 samples, accuracy $acc" "$tmp/py.out" || fail "Python: $(cat "$tmp/py.out"), the program $acc"

# pkg-config: an object with the weights, and the runtime
mkdir "$tmp/pk"
"$P/bin/nnc" "$tmp/cnn.nn" --weights "$tmp/ck.safetensors" -o "$tmp/pk/cnn.o" || fail "nnc --weights -o cnn.o failed"
# shellcheck disable=SC2046
${CC:-cc} -I"$tmp/pk" "$tmp/app.c" "$tmp/pk/cnn.o" $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs nnrt) \
  -o "$tmp/pk/app" || fail "linking the pkg-config app failed"
"$tmp/pk/app" "$tmp/mnist-images.idx" "$tmp/pk.f32" "$tmp/mnist-labels.idx" > "$tmp/pk.out" ||
  fail "the pkg-config app failed: $(cat "$tmp/pk.out")"
grep -qx "held-out: 2000 samples, accuracy $acc" "$tmp/pk.out" || fail "the pkg-config app: $(cat "$tmp/pk.out"), the program $acc"
cmp -s "$tmp/pk.f32" "$tmp/pred.f32" || fail "the pkg-config app's scores differ from the program's --predict"
exit $failed
