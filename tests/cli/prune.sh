# Magnitude pruning during training (docs/prune.md): the MNIST MLP with
# `prune magnitude(...)` ends with exactly the scheduled fraction of each
# kernel at zero, its masks in the checkpoint (0 where the weight is 0,
# 1 elsewhere) and not in a weights-only file, a resumed run the same bits
# as a straight one; bad flags are refused. (The accuracy a pruned model
# keeps is checked in train_mnist.sh.)
. "$(dirname "$0")/../cli_lib.sh"
mnist_idx
sed -e 's/^  stop .*/  prune      magnitude(sparsity: 0.8, begin: 2, end: 4)/' -e 's/^  epochs .*/  epochs     6/' \
  "$src/examples/mnist_mlp.nn" > "$tmp/pruned.nn"
"$nnc" "$tmp/pruned.nn" -o "$tmp/train" || fail "building the program failed"
data="--images $tmp/mnist-images.idx --labels $tmp/mnist-labels.idx"
"$tmp/train" $data --save "$tmp/full.ckpt" --save-weights "$tmp/w.safetensors" --save-sparse "$tmp/s.safetensors" \
  > "$tmp/run.txt" || fail "training failed"
has "$tmp/run.txt" "Pruning masks: 397.0 KiB (101,632 weights to 80% sparsity by epoch 4)"
has "$tmp/run.txt" "Epoch 1/6 - loss:"
grep "^Epoch 1/6" "$tmp/run.txt" | grep -q "sparsity: 0.0000" || fail "epoch 1 is pruned: $(grep '^Epoch 1/' "$tmp/run.txt")"
grep "^Epoch 4/6" "$tmp/run.txt" | grep -q "sparsity: 0.8000" || fail "epoch 4 is not at 0.8: $(grep '^Epoch 4/' "$tmp/run.txt")"
has "$tmp/run.txt" "pruned: 80.00% of the 101632 weights masked are zero"

# tensors FILE: each tensor's name, its values' count and zeros, and for a
# mask whether it is 0 exactly where its weight is.
tensors() {
  perl -e 'local $/; open F, "<", $ARGV[0] or die; binmode F; $b = <F>;
    $n = unpack("Q<", substr($b, 0, 8)); $h = substr($b, 8, $n);
    while ($h =~ /"([^"]+)":\{"dtype":"F32","shape":\[[0-9,]*\],"data_offsets":\[(\d+),(\d+)\]\}/g) {
      @{$v{$1}} = unpack("f<*", substr($b, 8 + $n + $2, $3 - $2)); push @names, $1 }
    for $t (@names) {
      @x = @{$v{$t}}; $z = grep { $_ == 0 } @x; $line = "$t " . scalar(@x) . " $z";
      if ($t =~ /^prune\.mask\.(.*)/) {
        $ok = 1; @w = @{$v{$1}};
        for $i (0 .. $#x) { $ok = 0 unless ($x[$i] == 0 || $x[$i] == 1) && (($x[$i] == 0) == ($w[$i] == 0)) }
        $line .= $ok ? " matches" : " differs" }
      print "$line\n" }' "$1"
}
tensors "$tmp/full.ckpt" > "$tmp/full.txt"
tensors "$tmp/w.safetensors" > "$tmp/w.txt"
# floor(0.8 n) of each kernel; the biases are not pruned
has "$tmp/full.txt" "dense1.W 100352 80281"
has "$tmp/full.txt" "dense2.W 1280 1024"
has "$tmp/full.txt" "prune.mask.dense1.W 100352 80281 matches"
has "$tmp/full.txt" "prune.mask.dense2.W 1280 1024 matches"
has "$tmp/w.txt" "dense1.W 100352 80281"
grep -q prune "$tmp/w.txt" && fail "the weights-only file holds masks: $(grep prune "$tmp/w.txt")"

# the compact file: each pruned kernel as its nonzero values and a bitmap,
# under a quarter of the dense file; loaded, it predicts the same bits
wbytes=$(wc -c < "$tmp/w.safetensors") sbytes=$(wc -c < "$tmp/s.safetensors")
[ $((sbytes * 4)) -lt "$wbytes" ] || fail "the sparse file has $sbytes bytes, the dense one $wbytes"
has "$tmp/s.safetensors" '"dense1.W.values":{"dtype":"F32","shape":[20071]'
has "$tmp/s.safetensors" '"dense1.W.bitmap":{"dtype":"U8","shape":[784,16]'
for f in w s; do
  "$tmp/train" $data --load "$tmp/$f.safetensors" --predict "$tmp/mnist-images.idx" --output "$tmp/$f.csv" > /dev/null ||
    fail "predicting with $f.safetensors failed"
done
cmp -s "$tmp/w.csv" "$tmp/s.csv" || fail "the sparse file predicts otherwise than the dense one"
cp "$tmp/s.safetensors" "$tmp/bad.safetensors" # one more bit in dense2.W's bitmap, the file's last byte
perl -e 'open F, "+<", $ARGV[0] or die; seek F, -1, 2; read F, $c, 1; seek F, -1, 2; print F chr(ord($c) ^ 1)' \
  "$tmp/bad.safetensors"
expect 1 "$tmp/train" $data --load "$tmp/bad.safetensors" --predict "$tmp/mnist-images.idx" --output "$tmp/b.csv"
has "$tmp/err" "bad.safetensors: tensor 'dense2.W.bitmap' marks 257 elements; its values are 256"
sed 's/"dense2.W.values"/"dense2.W.valuez"/' "$tmp/s.safetensors" > "$tmp/bad.safetensors"
expect 1 "$tmp/train" $data --load "$tmp/bad.safetensors" --predict "$tmp/mnist-images.idx" --output "$tmp/b.csv"
has "$tmp/err" "bad.safetensors: tensor 'dense2.W.valuez' is not in this model"
# the bitmap keeps the kernel's shape (its rows' bits packed): another shape is refused
sed 's/"dense1.W.bitmap":{"dtype":"U8","shape":\[784,16\]/"dense1.W.bitmap":{"dtype":"U8","shape":[392,32]/' \
  "$tmp/s.safetensors" > "$tmp/bad.safetensors"
expect 1 "$tmp/train" $data --load "$tmp/bad.safetensors" --predict "$tmp/mnist-images.idx" --output "$tmp/b.csv"
has "$tmp/err" "tensor 'dense1.W.bitmap' is U8[392, 32]; the bitmap of F32[784, 128] is U8[784, 16]"

# a run resumed between pruning epochs ends with the straight run's bits
"$tmp/train" $data --quiet --epochs 3 --save "$tmp/half.ckpt" > /dev/null || fail "3 epochs failed"
"$tmp/train" $data --quiet --load "$tmp/half.ckpt" --save "$tmp/resumed.ckpt" > /dev/null || fail "resuming failed"
cmp -s "$tmp/full.ckpt" "$tmp/resumed.ckpt" || fail "the resumed run differs from the straight one"

# a checkpoint keeps --sparsity: the resumed run prunes to it
"$tmp/train" $data --epochs 3 --sparsity 0.5 --save "$tmp/s50.ckpt" > /dev/null 2> "$tmp/err" || fail "--sparsity 0.5 for 3 epochs"
has "$tmp/err" "warning: training ended after epoch 3, before pruning's last (epoch 4):"
"$tmp/train" $data --load "$tmp/s50.ckpt" > "$tmp/s50.txt" || fail "resuming the --sparsity 0.5 run failed"
has "$tmp/s50.txt" "pruning to 0.5 sparsity by epoch 4 ($tmp/s50.ckpt; the train block's is 0.8)"
has "$tmp/s50.txt" "pruned: 50.00% of the 101632 weights masked are zero"
# a mask that is neither 0 nor 1 is refused (one element of dense2.W's: 0.5)
set_mask() { # VALUE: the first element of dense2.W's mask in full.ckpt
  perl -e 'local $/; open F, "+<", $ARGV[0] or die; binmode F; $b = <F>; $n = unpack("Q<", substr($b, 0, 8));
    substr($b, 8, $n) =~ /"prune\.mask\.dense2\.W":\{[^}]*"data_offsets":\[(\d+),/ or die;
    seek F, 8 + $n + $1, 0; print F pack("f<", $ARGV[1])' "$tmp/full.ckpt" "$1"
}
for v in 0.5 -1; do
  set_mask $v
  expect 1 "$tmp/train" $data --load "$tmp/full.ckpt" --epochs 7
  has "$tmp/err" "full.ckpt: prune.mask.dense2.W[0] is $v; a pruning mask holds 0 and 1"
done

# --sparsity replaces the setting's; 0 trains the dense model
"$tmp/train" $data --epochs 4 --sparsity 0.5 > "$tmp/half.txt" || fail "--sparsity 0.5 failed"
has "$tmp/half.txt" "pruned: 50.00% of the 101632 weights masked are zero"
"$tmp/train" $data --epochs 2 --sparsity 0 > "$tmp/dense.txt" || fail "--sparsity 0 failed"
has "$tmp/dense.txt" "pruned: 0.00% of the 101632 weights masked are zero"
expect 1 "$tmp/train" $data --sparsity 1
has "$tmp/err" "error: --sparsity needs"
expect 1 "$tmp/train" $data --sparsity 0.5 --predict x.csv --output y.csv --load "$tmp/w.safetensors"
has "$tmp/err" "--sparsity is for training"
"$nnc" "$src/examples/mnist_mlp.nn" -o "$tmp/dense" || fail "building the dense program failed"
expect 1 "$tmp/dense" $data --sparsity 0.5
has "$tmp/err" "error: --sparsity sets the train block's 'prune magnitude(...)', and this one prunes nothing"
finish
