# examples/mnist_mlp.nn trained on 8,000 of the MNIST digits shipped in
# examples/data reaches at least 95% on the 2,000 held out, and pruned to
# 80% sparsity stays within a point of that; the IDX reader
# refuses malformed files with the file and the byte.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
mnist_idx
"$nnc" "$ex/mnist_mlp.nn" -o "$tmp/train" || fail "building the program failed"
"$tmp/train" --images "$tmp/mnist-images.idx" --labels "$tmp/mnist-labels.idx" > "$tmp/run.txt" ||
  fail "training failed"
tail -2 "$tmp/run.txt"
held_out_at_least "$tmp/run.txt" 2000 0.95

# Pruned to 80% by epoch 10 and fine-tuned for 10 more (docs/prune.md), it
# keeps its accuracy within a point of the dense model's.
sed 's/^  stop .*/  prune      magnitude(sparsity: 0.8, begin: 2, end: 10)/' "$ex/mnist_mlp.nn" > "$tmp/pruned.nn"
"$nnc" "$tmp/pruned.nn" -o "$tmp/pruned" || fail "building the pruned program failed"
"$tmp/pruned" --images "$tmp/mnist-images.idx" --labels "$tmp/mnist-labels.idx" > "$tmp/pruned.txt" ||
  fail "pruned training failed"
tail -2 "$tmp/pruned.txt"
has "$tmp/pruned.txt" "pruned: 80.00% of the 101632 weights masked are zero"
dense=$(sed -n 's/^held-out: 2000 samples, .*accuracy \([0-9.]*\)$/\1/p' "$tmp/run.txt")
held_out_at_least "$tmp/pruned.txt" 2000 "$(awk -v a="$dense" 'BEGIN { print a - 0.01 }')" "pruned (dense $dense)"

head -c 1000 "$tmp/mnist-images.idx" > "$tmp/short.idx"
expect 1 "$tmp/train" --images "$tmp/short.idx" --labels "$tmp/mnist-labels.idx" --epochs 1
has "$tmp/err" "short.idx: the header promises 10000 samples of 784 bytes, the file has 984 bytes after it"
printf 'PK\003\004 not idx' > "$tmp/zip.idx"
expect 1 "$tmp/train" --images "$tmp/zip.idx" --labels "$tmp/mnist-labels.idx" --epochs 1
has "$tmp/err" "zip.idx: byte 0: not an IDX file of unsigned bytes"
expect 1 "$tmp/train" --images "$tmp/mnist-labels.idx" --labels "$tmp/mnist-labels.idx" --epochs 1
has "$tmp/err" "samples have 1 values; model MnistMLP takes 784"
finish
