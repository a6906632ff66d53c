# The seed CNN (examples/seed_cnn.nn, the tutorial's CIFAR-10 network)
# trains on CIFAR-10-format batches made here (tools/data/shapes.c: ten
# classes of coloured shapes on noise), read from the archive's directory
# layout, with augmentation and per-channel normalization; malformed
# batches are refused with the file and byte.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}

$cc -O2 -o "$tmp/shapes" "$src/tools/data/shapes.c" || fail "building the generator failed"
mkdir -p "$tmp/cifar-10-batches-bin"
"$tmp/shapes" "$tmp/cifar-10-batches-bin/data_batch_1.bin" 1500 1 &&
  "$tmp/shapes" "$tmp/cifar-10-batches-bin/data_batch_2.bin" 1500 2 || fail "making the batches failed"

# the example as shipped, its data path pointed at the generated batches
sed -e 's|"data/cifar-10-batches-bin"|"cifar-10-batches-bin"|' "$ex/seed_cnn.nn" > "$tmp/seed_cnn.nn"
"$nnc" "$tmp/seed_cnn.nn" -o "$tmp/train" || fail "building the seed CNN program failed"
"$tmp/train" --help > "$tmp/help.txt"
has "$tmp/help.txt" "--data PATH"
(cd "$tmp" && ./train --epochs 4 --validation 0.2) > "$tmp/run.txt" || fail "training the seed CNN failed"
cat "$tmp/run.txt"
held_out_at_least "$tmp/run.txt" 600 0.95

# one batch file given directly; an augmented run differs from a plain one
"$tmp/train" --data "$tmp/cifar-10-batches-bin/data_batch_2.bin" --epochs 1 --validation 0.2 > "$tmp/one.txt" ||
  fail "training on one batch file failed"
has "$tmp/one.txt" "held-out: 300 samples"
sed -e 's|^  augment .*$||' "$tmp/seed_cnn.nn" > "$tmp/plain.nn"
"$nnc" "$tmp/plain.nn" -o "$tmp/plain" || fail "building the plain program failed"
"$tmp/plain" --data "$tmp/cifar-10-batches-bin/data_batch_2.bin" --epochs 1 --validation 0.2 > "$tmp/plain.txt"
[ "$(grep held-out "$tmp/one.txt")" = "$(grep held-out "$tmp/plain.txt")" ] && fail "augmentation changed nothing"

# batch norm's running statistics travel in the checkpoint: a program
# that loads it and trains no further evaluates the held-out images exactly
# as the run that saved it (inference uses the running statistics)
cat > "$tmp/bn.nn" <<'NN'
model BN {
  input image: [32, 32, 3]
  conv2d(8, 3, stride: 2, use_bias: false)
  batch_norm(momentum: 0.9)
  relu
  max_pool2d(2)
  global_avg_pool2d
  dense(10, activation: softmax)
}
train BN {
  data cifar10("cifar-10-batches-bin/data_batch_1.bin", scale: 1 / 255, one_hot: true)
  loss categorical_crossentropy
  optimizer adam(lr: 0.01)
  epochs 2
  validation 0.2
  metrics accuracy
}
NN
"$nnc" "$tmp/bn.nn" -o "$tmp/bn" || fail "building the batch-norm program failed"
(cd "$tmp" && ./bn --save bn.st > bn1.txt && ./bn --load bn.st > bn2.txt) || fail "the batch-norm runs failed"
grep -q "moving_mean" "$tmp/bn.st" || fail "the checkpoint has no moving_mean"
[ "$(grep held-out "$tmp/bn1.txt")" = "$(grep held-out "$tmp/bn2.txt")" ] ||
  fail "held-out figures after loading differ: $(grep held-out "$tmp/bn1.txt") vs $(grep held-out "$tmp/bn2.txt")"
grep -q '^Epoch' "$tmp/bn2.txt" && fail "the loaded run trained again"

# malformed batches
head -c 5000 "$tmp/cifar-10-batches-bin/data_batch_1.bin" > "$tmp/short.bin"
expect 1 "$tmp/train" --data "$tmp/short.bin" --epochs 1
has "$tmp/err" "short.bin: 5000 bytes is not a whole number of CIFAR-10 records (3073 bytes: a label and 32x32x3 pixels)"
{ head -c 3073 "$tmp/cifar-10-batches-bin/data_batch_1.bin"; printf '\014'; head -c 3072 /dev/zero; } > "$tmp/label.bin"
expect 1 "$tmp/train" --data "$tmp/label.bin" --epochs 1
has "$tmp/err" "label.bin: byte 3073: the label 12 is not a CIFAR-10 class (0 to 9)"
mkdir "$tmp/empty"
expect 1 "$tmp/train" --data "$tmp/empty" --epochs 1
has "$tmp/err" "empty: no data_batch_1.bin ... data_batch_5.bin in this directory"
expect 1 "$tmp/train" --data "$tmp/missing" --epochs 1
has "$tmp/err" "missing: cannot open: No such file or directory"
finish
