# The training program reads NumPy .npy arrays: MNIST digits as uint8 with
# uint8 labels and a float32 table with int64 labels; malformed files are
# refused with the file and what is wrong. (The same digits as float32
# NHWC images for the CNN: train_npy_cnn.sh.)
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples

mnist_idx
{ npy '|u1' '(10000, 28, 28)'; tail -c +17 "$tmp/mnist-images.idx"; } > "$tmp/x.npy"
{ npy '|u1' '(10000,)'; tail -c +9 "$tmp/mnist-labels.idx"; } > "$tmp/y.npy"
sed -e 's|idx(images: "data/mnist-images.idx", labels: "data/mnist-labels.idx",|npy(x: "x.npy", y: "y.npy",|' \
  "$ex/mnist_mlp.nn" > "$tmp/mnist.nn"
"$nnc" "$tmp/mnist.nn" -o "$tmp/train" || fail "building the MNIST program failed"
"$tmp/train" --help > "$tmp/help.txt"
has "$tmp/help.txt" "--x FILE"
"$tmp/train" --x "$tmp/x.npy" --y "$tmp/y.npy" --epochs 1 > "$tmp/run.txt" || fail "training on MNIST failed"
tail -1 "$tmp/run.txt"
held_out_at_least "$tmp/run.txt" 2000 0.85

# float32 samples (x0, x1), int64 label: whether x0 + x1 > 0
perl -e 'srand 7; for (1..400) { push @x, rand(2) - 1, rand(2) - 1 }
         print pack("f<*", @x)' > "$tmp/xf.raw"
perl -e 'open F, "<", $ARGV[0]; binmode F; read F, $b, 3200; @x = unpack "f<*", $b;
         print pack("q<*", map { $x[2*$_] + $x[2*$_+1] > 0 ? 1 : 0 } 0..399)' "$tmp/xf.raw" > "$tmp/yf.raw"
{ npy '<f4' '(400, 2)'; cat "$tmp/xf.raw"; } > "$tmp/xf.npy"
{ npy '<i8' '(400,)'; cat "$tmp/yf.raw"; } > "$tmp/yf.npy"
cat > "$tmp/sum.nn" <<'NN'
model Sum {
  input x: [2]
  dense(1, activation: sigmoid)
}
train Sum {
  data npy(x: "xf.npy", y: "yf.npy")
  loss binary_crossentropy
  optimizer adam(lr: 0.05)
  epochs 30
  batch 16
  validation 0.25
  metrics accuracy
}
NN
"$nnc" "$tmp/sum.nn" -o "$tmp/sum" || fail "building the float32 program failed"
(cd "$tmp" && ./sum --quiet) > "$tmp/sum.txt" || fail "training on float32 data failed"
held_out_at_least "$tmp/sum.txt" 100 0.95 "float32 held-out"

head -c 1000 "$tmp/x.npy" > "$tmp/short.npy"
expect 1 "$tmp/train" --x "$tmp/short.npy" --y "$tmp/y.npy" --epochs 1
has "$tmp/err" "short.npy: the shape promises 10000 samples of 784 values, the file has 872 bytes of data"
printf 'PK\003\004 not npy' > "$tmp/zip.npy"
expect 1 "$tmp/train" --x "$tmp/zip.npy" --y "$tmp/y.npy" --epochs 1
has "$tmp/err" "zip.npy: byte 0: not a NumPy .npy file"
{ npy '<f2' '(400, 2)'; head -c 1600 "$tmp/xf.raw"; } > "$tmp/half.npy"
expect 1 "$tmp/sum" --x "$tmp/half.npy" --y "$tmp/yf.npy" --epochs 1
has "$tmp/err" "half.npy: element type '<f2' is not float32, float64, uint8, int32 or int64"
{ npy '<f4' '(400, 2)' True; cat "$tmp/xf.raw"; } > "$tmp/fortran.npy"
expect 1 "$tmp/sum" --x "$tmp/fortran.npy" --y "$tmp/yf.npy" --epochs 1
has "$tmp/err" "fortran.npy: Fortran-ordered arrays are not read; save in C order"
{ npy '<f4' '(400, 2)'; head -c 100 "$tmp/xf.raw"; perl -e 'print pack("f<", 9**9**9 / 9**9**9)'; tail -c +105 "$tmp/xf.raw"; } > "$tmp/nan.npy"
expect 1 "$tmp/sum" --x "$tmp/nan.npy" --y "$tmp/yf.npy" --epochs 1
has "$tmp/err" "nan.npy: sample 13, value 2: "
has "$tmp/err" "nan is not a finite number"
{ npy '<f8' '(400,)'; perl -e 'print pack("d<*", (0) x 399, 9**9**9)'; } > "$tmp/inf.npy"
expect 1 "$tmp/sum" --x "$tmp/xf.npy" --y "$tmp/inf.npy" --epochs 1
has "$tmp/err" "inf.npy: sample 400: the label inf is not a finite number"
expect 1 "$tmp/sum" --x "$tmp/xf.npy" --y "$tmp/y.npy" --epochs 1
has "$tmp/err" "y.npy: expected labels for 400 samples, got 10000"
expect 1 "$tmp/sum" --x "$tmp/x.npy" --y "$tmp/y.npy" --epochs 1
has "$tmp/err" "samples have 784 values; model Sum takes 2"
{ npy '<i8' '(400, 2)'; perl -e 'print pack("q<*", (1) x 800)'; } > "$tmp/two.npy"
expect 1 "$tmp/sum" --x "$tmp/xf.npy" --y "$tmp/two.npy" --epochs 1
has "$tmp/err" "two.npy: 2 labels a sample; model Sum needs 1"
expect 1 "$tmp/sum" --x "$tmp/xf.npy"
has "$tmp/err" "yf.npy: cannot open"
finish
