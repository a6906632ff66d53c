# examples/mnist_cnn.nn trained on 8,000 of the MNIST digits shipped in
# examples/data reaches at least 98% on the 2,000 held out; its saliency
# over those digits falls on the strokes (tests/cli/mnist_saliency.c): the
# share of |saliency| on stroke pixels at least twice the strokes' share
# of the image; quantized to int8, it stays within half a point of f32
# with weights 3.5 times smaller.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}
mnist_idx
"$nnc" "$ex/mnist_cnn.nn" -o "$tmp/train" || fail "building the program failed"
"$tmp/train" --images "$tmp/mnist-images.idx" --labels "$tmp/mnist-labels.idx" \
  --save-weights "$tmp/cnn.safetensors" > "$tmp/run.txt" || fail "training failed"
cat "$tmp/run.txt"
held_out_at_least "$tmp/run.txt" 2000 0.98
"$nnc" "$ex/mnist_cnn.nn" --inference-only --weights "$tmp/cnn.safetensors" -o "$tmp/libcnn.so" ||
  fail "building the trained library failed"
$cc -std=c11 ${CFLAGS:-} -I"$tmp" "$src/tests/cli/mnist_saliency.c" -o "$tmp/saliency" "$tmp/libcnn.so" \
  -Wl,-rpath,"$tmp" -lm || fail "building mnist_saliency"
"$tmp/saliency" "$tmp/mnist-images.idx" "$tmp/mnist-labels.idx" 2000 > "$tmp/saliency.txt" ||
  fail "saliency off the strokes: $(cat "$tmp/saliency.txt")"
cat "$tmp/saliency.txt"
# int8 (docs/quantize.md): scales from the training digits, within half a
# point of f32 on the 2,000 held out, weights 3.5 times smaller
need_python
sed "s|data/mnist-|$tmp/mnist-|g" "$ex/mnist_cnn.nn" > "$tmp/cnn.nn"
"$nnc" "$tmp/cnn.nn" --weights "$tmp/cnn.safetensors" --quantize int8 --calibrate data -o "$tmp/libcnn8.so" \
  2> "$tmp/int8.txt" || fail "quantizing the trained CNN: $(cat "$tmp/int8.txt")"
cat "$tmp/int8.txt"
ratio=$(sed -n 's/.*f32 [0-9]* (\([0-9.]*\)x smaller, scales included)$/\1/p' "$tmp/int8.txt")
awk -v r="$ratio" 'BEGIN { exit !(r != "" && r >= 3.5) }' || fail "int8 weights ${ratio}x smaller, not 3.5"
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/int8_acc.txt" 2>&1 <<'PY' || fail "int8 accuracy: $(cat "$tmp/int8_acc.txt")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
x = (np.fromfile(tmp + "/mnist-images.idx", np.uint8)[16:].reshape(-1, 28, 28, 1)[-2000:] / 255).astype(np.float32)
y = np.fromfile(tmp + "/mnist-labels.idx", np.uint8)[8:][-2000:]
a32 = np.mean(nnc.load(tmp + "/libcnn.so").predict(x).argmax(1) == y)
a8 = np.mean(nnc.load(tmp + "/libcnn8.so").predict(x).argmax(1) == y)
print("held-out accuracy: f32 %.4f, int8 %.4f" % (a32, a8))
sys.exit(0 if a8 >= a32 - 0.005 else 1)
PY
cat "$tmp/int8_acc.txt"
finish
