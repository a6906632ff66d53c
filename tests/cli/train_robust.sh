# The training program under bad input and bad luck: flags without their
# values, learning rates that are not finite, batch sizes past any memory,
# labels and token ids the loss or the embedding cannot take (the file and
# sample named), a diverging run (stopped at its step, nothing saved, the
# last good checkpoint kept; --check-finite names the first tensor that
# stops being finite), the stop rule on the metric it names and every
# metric printed and logged, and a C compiler older than C11.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast
ex=$src/examples
cc=${CC:-cc}
cd "$tmp" || exit 1

# a regression whose tanh units diverge under a large rate
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { a = 1000 + 400 * rand(); b = 0.01 * rand();
             printf "%.4f,%.6f,%.6f\n", a, b, (a - 1200) / 40 + 500 * b } }' > reg.csv
cat > reg.nn <<'NN'
model Reg {
  input x: [2]
  dense(8, activation: tanh)
  dense(1)
}
train Reg {
  data       csv("reg.csv", label: last, normalize: true)
  loss       mse
  optimizer  sgd(lr: 0.01)
  epochs     40
  batch      16
  validation 0.2
  metrics    mae, mse
  stop       when val_mae < 2
}
NN
"$nnc" reg.nn -o reg || fail "building reg failed"

# flags
expect 1 ./reg --save --quiet
has "$tmp/err" "error: --save needs a value, not the option '--quiet'"
expect 1 ./reg --quiet --save
has "$tmp/err" "error: --save needs a value"
[ -e "$tmp/--quiet" ] && fail "--save --quiet wrote a file named --quiet"
for lr in inf nan -inf 0 1e999; do
  expect 1 ./reg --lr $lr
  has "$tmp/err" "error: --lr needs a finite number above 0, got '$lr'"
done
expect 1 ./reg --threads 5000
has "$tmp/err" "error: --threads needs at most 1024"
expect 1 ./reg --epochs 1x
has "$tmp/err" "error: --epochs needs an integer of at least 0, got '1x'"
# a batch beyond any memory is one batch of every row, sizes unwrapped
expect 0 ./reg --batch 4611686018427387904 --epochs 2 --quiet
has "$tmp/out" "held-out: 60 samples, loss "

# every metric printed and logged under its name; the stop rule watches val_mae
./reg --log log.csv > run.txt || fail "the regression failed"
has log.csv "epoch,loss,mae,mse,val_loss,val_mae,val_mse,seconds"
has run.txt " - mae: "
has run.txt " - val_mse: "
has run.txt "stopping: val_mae < 2"
has run.txt ", mae "
awk '/^Epoch/ { for (i = 1; i <= NF; i++) if ($i == "val_mae:") v = $(i + 1); n++; last = v; if (v < 2 && !/stopping/) early++ }
     END { exit !(last < 2 && early == 1) }' run.txt ||
  fail "the stop rule did not stop at the first epoch with val_mae < 2: $(grep -c Epoch run.txt) epochs"

# divergence: the step is named, nothing saved, the good checkpoint kept
./reg --epochs 2 --quiet --save good.st > /dev/null || fail "a good run failed"
cp good.st good0.st
expect 1 ./reg --lr 1 --save good.st
has "$tmp/err" "error: step "
has "$tmp/err" ": the loss is inf; training stops, and nothing is saved (--check-finite names"
cmp -s good.st good0.st || fail "the diverged run overwrote the last good checkpoint"
sed 's/sgd(lr: 0.01)/adam(lr: 0.01)/' reg.nn > rega.nn
"$nnc" rega.nn -o rega || fail "building rega failed"
expect 1 ./rega --lr 1e37 --check-finite
has "$tmp/err" "after it adam.m.dense1.W[0, 0] is nan: the gradient of dense1.W (or its update) was not finite"

# precision and recall: the stop rule compares the recall, not the accuracy
cat > bin.nn <<'NN'
model B {
  input x: [30]
  dense(4, activation: relu)
  dense(1, activation: sigmoid)
}
train B {
  data       csv("breast_cancer.csv", label: "benign", header: true, normalize: true)
  loss       binary_crossentropy
  optimizer  adam(lr: 1e-3)
  epochs     60
  batch      32
  validation 0.2
  metrics    accuracy, precision, recall
  stop       when recall >= 0.97
}
NN
cp "$ex/data/breast_cancer.csv" .
"$nnc" bin.nn -o bin || fail "building bin failed"
./bin --log bin.csv > bin.txt || fail "bin failed"
has bin.csv "epoch,loss,accuracy,precision,recall,val_loss,val_accuracy,val_precision,val_recall,seconds"
has bin.txt "stopping: recall >= 0.97"
awk '/^Epoch/ { for (i = 1; i <= NF; i++) if ($i == "recall:") r = $(i + 1); if (r >= 0.97) hit++ }
     END { exit !(hit == 1 && r >= 0.97) }' bin.txt || fail "stopped at the wrong epoch: $(tail -2 bin.txt)"

# labels: binary cross-entropy takes [0, 1]
sed '5s/,1$/,2/; 5s/,0$/,2/' breast_cancer.csv > two.csv
expect 1 ./bin --data two.csv
has "$tmp/err" "error: two.csv: sample 4: the label 2 is not in [0, 1] as binary_crossentropy needs"

# token ids: an embedding of 50 rows refuses 999 and -4, naming the sample
cat > tok.nn <<'NN'
model Tok {
  input ids: i32[3]
  e = embedding(ids, 50, 4)
  output dense(flatten(e), 2, activation: softmax)
}
train Tok {
  data      npy(x: "x.npy", y: "y.npy")
  loss      sparse_categorical_crossentropy
  optimizer adam
  epochs    1
}
NN
"$nnc" tok.nn -o tok 2>/dev/null || fail "building tok failed"
for bad in 999 -4; do
  { npy '<i4' '(4, 3)'; perl -e "print pack('l<*', 1, 2, 3, 4, 5, 6, 7, $bad, 9, 10, 11, 12)"; } > x.npy
  { npy '<i4' '(4,)'; perl -e 'print pack("l<*", 0, 1, 0, 1)'; } > y.npy
  expect 1 ./tok
  has "$tmp/err" "error: x.npy: sample 3, value 2: the token id $bad is outside the vocabulary [0, 50) of model Tok"
done

# the generated C is C11: an older standard stops at an #error, not a crash
"$nnc" reg.nn --emit=c -o reg.c || fail "--emit=c failed"
$cc -std=c99 -c reg.c -o reg99.o 2> c99.err && fail "the C built as C99"
has c99.err "this file is C11"
finish
