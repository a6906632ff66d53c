# The training program reads MNIST digits as float32 NHWC images from a
# NumPy .npy file (scaled already) with uint8 labels, and the CNN reaches
# its held-out bar in one epoch. A training (labelled slow: it runs once,
# in the plain build); the .npy reader's float32 and uint8 paths run
# sanitized in train_npy.sh.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples

mnist_idx
{ npy '|u1' '(10000,)'; tail -c +9 "$tmp/mnist-labels.idx"; } > "$tmp/y.npy"
# images as float32 NHWC (10000, 28, 28, 1), already scaled, for the CNN
tail -c +17 "$tmp/mnist-images.idx" | perl -e 'binmode STDIN; local $/; $b = <STDIN>;
  print pack("f<*", map { $_ / 255 } unpack("C*", $b))' > "$tmp/xcnn.raw"
{ npy '<f4' '(10000, 28, 28, 1)'; cat "$tmp/xcnn.raw"; } > "$tmp/xcnn.npy"
sed -e 's|idx(images: "data/mnist-images.idx", labels: "data/mnist-labels.idx",|npy(x: "xcnn.npy", y: "y.npy",|' \
  -e 's|scale: 1 / 255, ||' "$ex/mnist_cnn.nn" > "$tmp/cnn.nn"
"$nnc" "$tmp/cnn.nn" -o "$tmp/cnn" || fail "building the MNIST CNN program failed"
(cd "$tmp" && ./cnn --epochs 1) > "$tmp/cnn.txt" || fail "training the CNN on float32 images failed"
tail -1 "$tmp/cnn.txt"
held_out_at_least "$tmp/cnn.txt" 2000 0.9 "CNN held-out"
finish
