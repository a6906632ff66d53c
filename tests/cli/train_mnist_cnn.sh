# examples/mnist_cnn.nn trained on 8,000 of the MNIST digits shipped in
# examples/data reaches at least 98% on the 2,000 held out; its saliency
# over those digits falls on the strokes (tests/cli/mnist_saliency.c): the
# share of |saliency| on stroke pixels at least twice the strokes' share
# of the image.
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
finish
