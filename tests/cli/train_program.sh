# The standalone training program: `nnc --emit=c` writes one C file that
# builds warning-free with nothing but libm; the seed MLP (30 inputs) trained
# on the breast-cancer table reaches at least 95% held-out accuracy; the
# same seed gives the same run; bad data gets an error naming the place.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast (the -Werror build below stays at -O2)
ex=$src/examples
cc=${CC:-cc}

(cd "$ex" && "$nnc" breast_cancer.nn --emit=c -o "$tmp/train.c") || fail "--emit=c failed"
$cc -std=c11 ${CFLAGS:-} -O2 -fopenmp -Wall -Wextra -Werror "$tmp/train.c" -o "$tmp/train" -lm ||
  fail "the C file does not build cleanly"

(cd "$ex" && "$tmp/train" > "$tmp/run1.txt") || fail "training failed"
acc=$(sed -n 's/^held-out: .*accuracy \([0-9.]*\)$/\1/p' "$tmp/run1.txt")
echo "held-out accuracy: $acc"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || fail "held-out accuracy $acc is below 0.95"
has "$tmp/run1.txt" "Epoch 1/150 - loss: "
(cd "$ex" && "$tmp/train" > "$tmp/run2.txt")
sed 's/ - [0-9.]*s - [0-9]* samples\/s - total [0-9.]*s\( - eta [0-9]*s\)\{0,1\}//' "$tmp/run1.txt" > "$tmp/a"
sed 's/ - [0-9.]*s - [0-9]* samples\/s - total [0-9.]*s\( - eta [0-9]*s\)\{0,1\}//' "$tmp/run2.txt" > "$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "two runs with one seed differ"
for threads in 1 2; do
  (cd "$ex" && "$tmp/train" --threads $threads --batch 100 --epochs 20 --save "$tmp/t$threads.st" |
    sed 's/ - [0-9.]*s - [0-9]* samples\/s - total [0-9.]*s\( - eta [0-9]*s\)\{0,1\}//' > "$tmp/t$threads.txt") || fail "training with $threads threads failed"
done
cmp -s "$tmp/t1.txt" "$tmp/t2.txt" && cmp -s "$tmp/t1.st" "$tmp/t2.st" ||
  fail "1 and 2 threads give different results"

# nnc builds the program itself with --emit=exe, or when -o has no extension
(cd "$ex" && "$nnc" breast_cancer.nn -o "$tmp/train2") || fail "-o train2 did not build a program"
(cd "$ex" && "$tmp/train2" --epochs 2 --quiet) > "$tmp/out" || fail "the built program does not run"
has "$tmp/out" "held-out: 113 samples"

# --lr changes the run; --log writes one CSV row an epoch
(cd "$ex" && "$tmp/train" --epochs 3 --lr 0.01 --log "$tmp/log.csv" --quiet > "$tmp/lr.txt") || fail "--lr/--log run failed"
(cd "$ex" && "$tmp/train" --epochs 3 --quiet > "$tmp/nolr.txt")
cmp -s "$tmp/lr.txt" "$tmp/nolr.txt" && fail "--lr 0.01 changed nothing"
has "$tmp/log.csv" "epoch,loss,accuracy,val_loss,val_accuracy,seconds"
[ "$(wc -l < "$tmp/log.csv")" -eq 4 ] || fail "--log wrote $(wc -l < "$tmp/log.csv") lines, expected 4"
expect 1 "$tmp/train" --lr -1
has "$tmp/err" "error: --lr needs a finite number above 0, got '-1'"

# precision and recall of a binary model, and an ETA while epochs remain
cat > "$tmp/pr.nn" <<'NN'
model B {
  input x: [30]
  dense(8, activation: relu)
  dense(1, activation: sigmoid)
}
train B {
  data      csv("data/breast_cancer.csv", label: "benign", header: true, normalize: true)
  loss      binary_crossentropy
  optimizer adam
  epochs    2
  metrics   accuracy, precision, recall
}
NN
"$nnc" "$tmp/pr.nn" -o "$tmp/pr" || fail "building pr failed"
(cd "$ex" && "$tmp/pr") > "$tmp/pr.txt" || fail "pr failed"
has "$tmp/pr.txt" " - precision: "
has "$tmp/pr.txt" " - recall: "
has "$tmp/pr.txt" " - eta "

# flags and bad input
expect 0 "$tmp/train" --help
has "$tmp/out" "--epochs N"
expect 1 "$tmp/train" --epochs -3
has "$tmp/err" "error: --epochs needs an integer of at least 0"
expect 1 "$tmp/train" --data "$tmp/none.csv"
has "$tmp/err" "error: $tmp/none.csv: cannot open: No such file or directory"
printf 'a,b,c\n1,2,0\n3,x,1\n' > "$tmp/bad.csv"
expect 1 "$tmp/train" --data "$tmp/bad.csv"
has "$tmp/err" "error: $tmp/bad.csv:1:1: no column of the header row has the label's name"
head -3 "$ex/data/breast_cancer.csv" > "$tmp/ragged.csv"
echo "1,2,3" >> "$tmp/ragged.csv"
expect 1 "$tmp/train" --data "$tmp/ragged.csv"
has "$tmp/err" "ragged.csv:4:1: this row has 3 fields, the first one 31"
head -2 "$ex/data/breast_cancer.csv" > "$tmp/word.csv"
sed -n 3p "$ex/data/breast_cancer.csv" | sed 's/^[^,]*,/1,oops,/' >> "$tmp/word.csv"
expect 1 "$tmp/train" --data "$tmp/word.csv"
has "$tmp/err" "word.csv:3:"
has "$tmp/err" "expected a number, got 'oops'"
sed 's/oops/nan/' "$tmp/word.csv" > "$tmp/nan.csv"
expect 1 "$tmp/train" --data "$tmp/nan.csv"
has "$tmp/err" "nan.csv:3:3: expected a number, got 'nan'"
sed 's/oops/-inf/' "$tmp/word.csv" > "$tmp/inf.csv"
expect 1 "$tmp/train" --data "$tmp/inf.csv"
has "$tmp/err" "inf.csv:3:3: expected a number, got '-inf'"

# save -> load -> continue gives exactly the run straight through
(cd "$ex" && "$tmp/train" --epochs 6 --quiet --save "$tmp/a.st" &&
  "$tmp/train" --epochs 3 --quiet --save "$tmp/b.st" &&
  "$tmp/train" --epochs 6 --quiet --load "$tmp/b.st" --save "$tmp/c.st") > /dev/null || fail "checkpoint runs failed"
cmp -s "$tmp/a.st" "$tmp/c.st" || fail "training 3 + 3 epochs through a checkpoint differs from 6 straight"
[ -e "$tmp/a.st.tmp" ] && fail "a save left its temporary file"
has "$tmp/a.st" '"step":"276","epoch":"6"'

# bad checkpoints: an error naming the file, nothing loaded
head -c 200 "$tmp/a.st" > "$tmp/short.st"
expect 1 "$tmp/train" --data "$ex/data/breast_cancer.csv" --load "$tmp/short.st"
has "$tmp/err" "short.st: the header length "
has "$tmp/err" " at byte 0 exceeds the file"
printf 'not a checkpoint at all' > "$tmp/junk.st"
expect 1 "$tmp/train" --data "$ex/data/breast_cancer.csv" --load "$tmp/junk.st"
has "$tmp/err" "junk.st: the header length"
sed 's/"dense1.W":{"dtype":"F32","shape":\[30,10\]/"dense1.W":{"dtype":"F32","shape":[10,30]/' "$tmp/a.st" > "$tmp/shape.st"
expect 1 "$tmp/train" --data "$ex/data/breast_cancer.csv" --load "$tmp/shape.st"
has "$tmp/err" "shape.st: tensor 'dense1.W' is F32[10, 30] in the file; the model's is F32[30, 10]"
sed 's/"dense2.b"/"dense9.b"/' "$tmp/a.st" > "$tmp/name.st"
expect 1 "$tmp/train" --data "$ex/data/breast_cancer.csv" --load "$tmp/name.st"
has "$tmp/err" "tensor 'dense9.b' is not in this model"

# a model without a train block has no program to build
expect 1 "$nnc" "$ex/residual.nn" --emit=exe -o "$tmp/none"
has "$tmp/err" "has no train block"
[ -e "$tmp/none" ] && fail "a failed build left a file"
finish
