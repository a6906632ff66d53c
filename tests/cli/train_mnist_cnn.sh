# examples/mnist_cnn.nn trained on 8,000 of the MNIST digits shipped in
# examples/data reaches at least 98% on the 2,000 held out.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
gunzip -c "$ex/data/mnist-images.idx.gz" > "$tmp/mnist-images.idx" &&
  gunzip -c "$ex/data/mnist-labels.idx.gz" > "$tmp/mnist-labels.idx" || fail "gunzip failed"
"$nnc" "$ex/mnist_cnn.nn" -o "$tmp/train" || fail "building the program failed"
"$tmp/train" --images "$tmp/mnist-images.idx" --labels "$tmp/mnist-labels.idx" > "$tmp/run.txt" ||
  fail "training failed"
cat "$tmp/run.txt"
acc=$(sed -n 's/^held-out: 2000 samples, .*accuracy \([0-9.]*\)$/\1/p' "$tmp/run.txt")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.98) }' || fail "held-out accuracy '$acc' is below 0.98"
finish
