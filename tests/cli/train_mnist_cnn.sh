# examples/mnist_cnn.nn trained on 8,000 of the MNIST digits shipped in
# examples/data reaches at least 98% on the 2,000 held out.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
mnist_idx
"$nnc" "$ex/mnist_cnn.nn" -o "$tmp/train" || fail "building the program failed"
"$tmp/train" --images "$tmp/mnist-images.idx" --labels "$tmp/mnist-labels.idx" > "$tmp/run.txt" ||
  fail "training failed"
cat "$tmp/run.txt"
held_out_at_least "$tmp/run.txt" 2000 0.98
finish
