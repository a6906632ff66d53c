# The training program's data files: a validation file evaluated after every
# epoch (val_ figures, log columns), a test file evaluated at the end, both
# overridden by flags; prediction from a file with a checkpoint into CSV
# (a table with or without the label column) and NumPy, agreeing with the
# test figures; NPY pairs for validation and prediction; and the errors.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast (the -Werror build below stays at -O2)
cc=${CC:-cc}

# the breast-cancer table (header, label column "benign") in three parts
t=$src/examples/data/breast_cancer.csv
head -401 "$t" > "$tmp/tr.csv"
{ head -1 "$t"; sed -n 402,500p "$t"; } > "$tmp/va.csv"
{ head -1 "$t"; sed -n 501,570p "$t"; } > "$tmp/te.csv"
cut -d, -f1-30 "$tmp/te.csv" > "$tmp/te_features.csv"
cat > "$tmp/bc.nn" <<'NN'
model CancerMLP {
  input x: [30]
  dense(10, activation: relu)
  dense(1, activation: sigmoid)
}
train CancerMLP {
  data       csv("tr.csv", label: "benign", header: true, normalize: true)
  validation csv("va.csv")
  test       csv("te.csv")
  loss       binary_crossentropy
  optimizer  adam(lr: 1e-3)
  epochs     20
  batch      10
  seed       1
  metrics    accuracy
}
NN
(cd "$tmp" && "$nnc" bc.nn --emit=c -o train.c) || fail "--emit=c failed"
$cc -std=c11 ${CFLAGS:-} -O2 -Wall -Wextra -Werror "$tmp/train.c" -o "$tmp/train" -lm ||
  fail "the C file does not build cleanly"
cd "$tmp" || exit 1
./train --threads 1 --save m.ckpt --log log.csv > run.txt || fail "training failed: $(tail -3 run.txt)"
tail -3 run.txt
has run.txt "Epoch 20/20 - loss: "
has run.txt " - val_loss: "
has log.csv "epoch,loss,accuracy,val_loss,val_accuracy,seconds"
acc=$(sed -n 's/^validation: 99 samples, loss [0-9.]*, accuracy \([0-9.]*\)$/\1/p' run.txt)
awk -v a="$acc" 'BEGIN { exit !(a != "" && a >= 0.9) }' || fail "validation accuracy '$acc' over 99 samples is below 0.9"
test_line=$(grep '^test: ' run.txt)
case $test_line in
  "test: 70 samples, loss "*", accuracy "*) ;;
  *) fail "no test figures over 70 samples: $test_line" ;;
esac
has train.c '.val = {.data = "va.csv", .label_name = "benign", .label_col = -1, .header = 1'

# the flags replace the files; a fraction and a file are exclusive
./train --threads 1 --epochs 1 --validation-data te.csv --test-data va.csv > swap.txt || fail "--validation-data failed"
has swap.txt "validation: 70 samples"
has swap.txt "test: 99 samples"
# a program without the files reads the flags' with its data's format (a header, the label "benign")
(cd "$src/examples" && "$nnc" breast_cancer.nn -o "$tmp/cancer") || fail "building the example failed"
./cancer --threads 1 --epochs 1 --data tr.csv --validation-data va.csv --test-data te.csv > ex.txt ||
  fail "--validation-data and --test-data with the example failed: $(cat "$tmp/ex.txt")"
has ex.txt "validation: 99 samples"
has ex.txt "test: 70 samples"
./train --threads 1 --epochs 1 --validation 0.25 > frac.txt || fail "--validation 0.25 failed"
has frac.txt "held-out: 100 samples"
./train --threads 1 --epochs 1 --validation 0 > none.txt || fail "--validation 0 failed"
grep -q "^validation: \|^held-out: \| - val_loss" none.txt && fail "--validation 0 still validates: $(tail -2 none.txt)"
expect 1 ./train --validation 0.2 --validation-data va.csv
has "$tmp/err" "error: --validation F holds out a fraction of the data and --validation-data names a file: give one of them"
cut -d, -f1-29 va.csv > narrow.csv
expect 1 ./train --validation-data narrow.csv
has "$tmp/err" "error: narrow.csv:1:1: no column of the header row has the label's name"
sed '5s/,1$/,7/; 5s/,0$/,7/' va.csv > badlabel.csv
expect 1 ./train --test-data badlabel.csv
has "$tmp/err" "error: badlabel.csv: sample 4: the label 7 is not in [0, 1] as binary_crossentropy needs"

# prediction: the checkpoint's model on a file, nothing trained
./train --load m.ckpt --predict te.csv --output p_label.csv > pred.txt || fail "--predict failed"
has pred.txt "predicted 70 samples of te.csv into p_label.csv"
./train --load m.ckpt --predict te_features.csv --output p_features.csv --quiet || fail "--predict without labels failed"
cmp -s p_label.csv p_features.csv || fail "the table with and without its label column predict differently"
[ "$(wc -l < p_label.csv)" -eq 70 ] || fail "p_label.csv has $(wc -l < p_label.csv) rows, not 70"
# the predictions give the test figures (loss and accuracy to 4 places)
want=$(echo "$test_line" | sed 's/^test: 70 samples, //')
got=$(tail -n +2 te.csv | awk -F, '{print $NF}' | paste -d, p_label.csv - | awk -F, '{
  p = $1; y = $2; q = p < 1e-7 ? 1e-7 : p > 1 - 1e-7 ? 1 - 1e-7 : p
  s -= y * log(q) + (1 - y) * log(1 - q); c += (p > 0.5) == (y > 0.5)
} END { printf "loss %.4f, accuracy %.4f", s / NR, c / NR }')
[ "$got" = "$want" ] || fail "the predictions give '$got', the test figures are '$want'"
./train --load m.ckpt --predict te.csv --output p.npy --quiet || fail "--predict to .npy failed"
head -c 80 p.npy | grep -qF "{'descr': '<f4', 'fortran_order': False, 'shape': (70, 1), }" ||
  fail "p.npy's header: $(head -c 80 p.npy)"
[ "$(wc -c < p.npy)" -eq $((128 + 70 * 4)) ] || fail "p.npy has $(wc -c < p.npy) bytes"
first=$(od -An -t f4 -j 128 -N 4 p.npy | tr -d ' ')
awk -v a="$first" -v b="$(head -1 p_label.csv)" 'BEGIN { exit !(a - b < 1e-6 && b - a < 1e-6) }' ||
  fail "the first .npy prediction $first is not the CSV's $(head -1 p_label.csv)"
expect 1 ./train --predict te.csv --output x.csv
has "$tmp/err" "error: --predict needs --load FILE, the checkpoint or weights file to predict with"
expect 1 ./train --load m.ckpt --predict te.csv
has "$tmp/err" "error: --predict needs --output FILE (CSV, or NumPy when it ends in .npy)"
expect 1 ./train --output x.csv
has "$tmp/err" "error: --output is where --predict FILE writes its predictions; give --predict"
cut -d, -f1-29 te_features.csv > f29.csv
expect 1 ./train --load m.ckpt --predict f29.csv --output x.csv
has "$tmp/err" "error: f29.csv:2:1: this row has 29 fields; model CancerMLP takes 30 features (or 31 with the training data's label column)"
sed '3s/^[^,]*,/abc,/' te_features.csv > word.csv
expect 1 ./train --load m.ckpt --predict word.csv --output x.csv
has "$tmp/err" "error: word.csv:3:1: expected a number, got 'abc'"
expect 1 ./train --load m.ckpt --predict te.csv --output x.csv --epochs 5
has "$tmp/err" "error: --epochs is for training, and --predict trains nothing; drop one of them"
tail -n +2 te_features.csv > noheader.csv  # the training data has a header row: its first row would be lost
expect 1 ./train --load m.ckpt --predict noheader.csv --output x.csv
has "$tmp/err" "error: noheader.csv:1:1: this row is numbers, but the training data has a header row (header: true)"
./train --load m.ckpt --predict te.csv --output p.NPY --quiet || fail "--predict to .NPY failed"
cmp -s p.npy p.NPY || fail "--output p.NPY is not the NumPy file p.npy is"
expect 1 ./train --load nothing.ckpt --predict te.csv --output x.csv
has "$tmp/err" "nothing.ckpt"
expect 1 ./train --load m.ckpt --predict te.csv --output "$tmp/no/such/dir.csv"
has "$tmp/err" "dir.csv: cannot write: "

# NPY pairs: --validation-x/--validation-y, and prediction from x alone
for part in a:1 b:2; do
  name=${part%:*}
  perl -e 'srand $ARGV[0]; for (1..200) { push @x, rand(2) - 1, rand(2) - 1 } print pack("f<*", @x)' "${part#*:}" > x$name.raw
  perl -e 'open F, "<", $ARGV[0]; binmode F; read F, $b, 1600; @x = unpack "f<*", $b;
           print pack("q<*", map { $x[2*$_] + $x[2*$_+1] > 0 ? 1 : 0 } 0..199)' x$name.raw > y$name.raw
  { npy '<f4' '(200, 2)'; cat x$name.raw; } > x$name.npy
  { npy '<i8' '(200,)'; cat y$name.raw; } > y$name.npy
done
cat > sum.nn <<'NN'
model Sum {
  input x: [2]
  dense(1, activation: sigmoid)
}
train Sum {
  data       npy(x: "xa.npy", y: "ya.npy")
  validation npy(x: "xb.npy", y: "yb.npy")
  loss       binary_crossentropy
  optimizer  adam(lr: 0.05)
  epochs     20
  batch      16
  metrics    accuracy
}
NN
"$nnc" sum.nn -o sum || fail "building the NPY program failed"
./sum --threads 1 --save-weights sum.w > sum.txt || fail "training on NPY failed"
acc=$(sed -n 's/^validation: 200 samples, .*accuracy \([0-9.]*\)$/\1/p' sum.txt)
awk -v a="$acc" 'BEGIN { exit !(a != "" && a >= 0.9) }' || fail "NPY validation accuracy '$acc' is below 0.9"
./sum --threads 1 --epochs 1 --validation-x xa.npy --validation-y ya.npy --test-x xb.npy --test-y yb.npy > sw.txt ||
  fail "--validation-x/--test-x failed"
has sw.txt "test: 200 samples"
expect 1 ./sum --test-x xb.npy
has "$tmp/err" "error: the test data needs both files: --test-x FILE --test-y FILE"
./sum --load sum.w --predict xb.npy --output s.csv --quiet || fail "--predict from .npy failed"
[ "$(wc -l < s.csv)" -eq 200 ] || fail "s.csv has $(wc -l < s.csv) rows"
od -An -v -t d8 -w8 yb.raw > yb.txt
right=$(paste -d, s.csv yb.txt | awk -F, '{ c += ($1 > 0.5) == ($2 + 0 > 0.5) } END { print c }')
[ "${right:-0}" -ge 180 ] || fail "the .npy predictions are right for $right of 200 samples"
expect 1 ./sum --load sum.w --predict ya.npy --output s.csv
has "$tmp/err" "ya.npy: samples have 1 values; model Sum takes 2"

# IDX: the MNIST images alone; CIFAR-10: a batch file, its labels ignored
mnist_idx
sed -e "s|data/mnist-images.idx|$tmp/mnist-images.idx|; s|data/mnist-labels.idx|$tmp/mnist-labels.idx|" \
  "$src/examples/mnist_mlp.nn" > mnist.nn
"$nnc" mnist.nn -o mnist || fail "building the MNIST program failed"
./mnist --epochs 0 --quiet --save-weights mnist.w > /dev/null || fail "saving MNIST's initial weights failed"
./mnist --load mnist.w --predict mnist-images.idx --output digits.npy --quiet || fail "--predict from IDX failed"
head -c 80 digits.npy | grep -qF "'shape': (10000, 10), }" || fail "digits.npy's header: $(head -c 80 digits.npy)"
./mnist --epochs 0 --quiet --validation-images mnist-images.idx --validation-labels mnist-labels.idx > iv.txt ||
  fail "--validation-images failed"
has iv.txt "validation: 10000 samples, loss "
expect 1 ./mnist --load mnist.w --predict mnist-labels.idx --output digits.npy
has "$tmp/err" "mnist-labels.idx: samples have 1 values; model MnistMLP takes 784"
perl -e 'for $k (0..2) { print pack("C", $k), pack("C*", map { ($k * 7 + $_) % 256 } 0..3071) }' > three.bin
cat > pix.nn <<'NN'
model Pix {
  input image: [32, 32, 3]
  flatten
  dense(10, activation: softmax)
}
train Pix {
  data      cifar10("three.bin", scale: 1 / 255)
  loss      sparse_categorical_crossentropy
  optimizer adam
  epochs    0
}
NN
"$nnc" pix.nn -o pix || fail "building the CIFAR-10 program failed"
./pix --quiet --save-weights pix.w > /dev/null || fail "saving the CIFAR-10 model failed"
./pix --load pix.w --predict three.bin --output pix.csv --quiet || fail "--predict from a CIFAR-10 batch failed"
[ "$(wc -l < pix.csv)" -eq 3 ] && [ "$(head -1 pix.csv | tr ',' '\n' | wc -l)" -eq 10 ] ||
  fail "pix.csv is not 3 rows of 10: $(cat pix.csv)"
finish
