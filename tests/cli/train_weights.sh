# The training program with sample_weights true reads a weight a sample
# from the data (a csv column, an npy file): weights 2 on the first half of
# the rows and 0 on the rest train, in one full batch, to the same bits as
# the first half alone; validation files are weighted too; bad weights are
# refused with the file and the line or sample.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast


# 64 rows a,b,y,w: two different linear rules, the second half weighing 0
perl -e 'srand 3; for $i (0..63) { $a = rand(2) - 1; $b = rand(2) - 1;
  $y = $i < 32 ? 2 * $a - $b : -$a + 0.5 * $b; printf "%.6f,%.6f,%.6f,%d\n", $a, $b, $y, $i < 32 ? 2 : 0 }' > "$tmp/w.csv"
head -32 "$tmp/w.csv" | cut -d, -f1-3 > "$tmp/half.csv"
cut -d, -f1-3 "$tmp/w.csv" > "$tmp/all.csv"
cat > "$tmp/w.nn" <<'NN'
model Reg {
  input x: [2]
  dense(1)
}
train Reg {
  data           csv("w.csv", label: 2, weight: 3)
  sample_weights true
  loss           mse
  optimizer      adam(lr: 0.05)
  epochs         20
  batch          64
  shuffle        false
}
NN
sed -e 's|csv("w.csv", label: 2, weight: 3)|csv("half.csv")|' -e '/sample_weights/d' -e 's/batch          64/batch 32/' \
  "$tmp/w.nn" > "$tmp/half.nn"
sed -e 's|csv("w.csv", label: 2, weight: 3)|csv("all.csv")|' -e '/sample_weights/d' "$tmp/w.nn" > "$tmp/all.nn"
for m in w half all; do "$nnc" "$tmp/$m.nn" -o "$tmp/$m" || fail "building $m failed"; done
cd "$tmp" || exit 1
./w --quiet --save-weights w.st || fail "training with weights failed"
./half --quiet --save-weights half.st || fail "training on half the rows failed"
./all --quiet --save-weights all.st || fail "training on all the rows failed"
cmp -s w.st half.st || fail "weights 2 and 0 do not train as the first half of the rows alone"
cmp -s w.st all.st && fail "the weights changed nothing: the same bits as all the rows unweighted"
./w --help > help.txt
has help.txt "--weight COLUMN"

# the column by name, from the flag; the weights in an npy file give the same bits
{ echo "a,b,y,w"; cat w.csv; } > wh.csv
sed -e 's|csv("w.csv", label: 2, weight: 3)|csv("wh.csv", label: "y", header: true)|' w.nn > named.nn
"$nnc" named.nn -o named || fail "building named failed"
expect 1 ./named --quiet
has "$tmp/err" "no sample weights: the train block says sample_weights true; give --weight COLUMN"
expect 0 ./named --quiet --weight w --save-weights named.st
cmp -s w.st named.st || fail "--weight w (by name) trains otherwise than weight: 3"
expect 1 ./named --quiet --weight z
has "$tmp/err" "wh.csv:1:1: no column of the header row has the sample weights' name"
expect 1 ./named --quiet --weight 2
has "$tmp/err" "the sample weights' column is the label's"

perl -e 'open F, "<", $ARGV[0]; while (<F>) { chomp; @f = split /,/; push @x, @f[0, 1]; push @y, $f[2]; push @w, $f[3] }
  open X, ">", "x.raw"; print X pack("f<*", @x); open Y, ">", "y.raw"; print Y pack("f<*", @y);
  open W, ">", "wt.raw"; print W pack("f<*", @w)' w.csv
{ npy '<f4' '(64, 2)'; cat x.raw; } > x.npy
{ npy '<f4' '(64,)'; cat y.raw; } > y.npy
{ npy '<f4' '(64, 1)'; cat wt.raw; } > wt.npy
sed -e 's|csv("w.csv", label: 2, weight: 3)|npy(x: "x.npy", y: "y.npy", w: "wt.npy")|' w.nn > wn.nn
"$nnc" wn.nn -o wn || fail "building the npy program failed"
expect 0 ./wn --quiet --save-weights wn.st
cmp -s w.st wn.st || fail "npy weights train otherwise than the same csv column"
./wn --help > help.txt
has help.txt "--w FILE"

# validation files are weighted as the training data: weights 2 and 0
# give the loss of the weighted half alone
sed -e 's|  epochs         20|  epochs 0\n  validation csv("w.csv")|' w.nn > val.nn
sed -e 's|  epochs         20|  epochs 0\n  validation csv("half.csv")|' half.nn > valh.nn
"$nnc" val.nn -o val && "$nnc" valh.nn -o valh || fail "building the validation programs failed"
./val --quiet > val.txt; ./valh --quiet > valh.txt
has val.txt "validation: 64 samples, loss"
[ "$(sed 's/.*loss //' val.txt)" = "$(sed 's/.*loss //' valh.txt)" ] ||
  fail "the weighted validation loss is not the half's: $(cat val.txt) / $(cat valh.txt)"
expect 0 ./wn --quiet --epochs 0 --validation-x x.npy --validation-y y.npy --validation-w wt.npy
[ "$(sed 's/.*loss //' out)" = "$(sed 's/.*loss //' valh.txt)" ] || fail "npy validation weights: $(cat out)"
expect 0 ./wn --quiet --epochs 0 --validation-x x.npy --validation-y y.npy
has "$tmp/out" "validation: 64 samples"

# bad weights
sed '3s/,2$/,-1/' w.csv > neg.csv
expect 1 ./w --data neg.csv
has "$tmp/err" "neg.csv:3:29: the sample weight -1 is negative; weights are finite numbers of at least 0"
sed '5s/,2$/,nan/' w.csv > nan.csv
expect 1 ./w --data nan.csv
has "$tmp/err" "nan.csv:5:"
{ npy '<f4' '(64,)'; perl -e 'print pack("f<*", (1) x 10, -0.5, (1) x 53)'; } > neg.npy
expect 1 ./wn --w neg.npy
has "$tmp/err" "neg.npy: sample 11: the weight -0.5 is not a finite number of at least 0"
{ npy '<f4' '(63,)'; perl -e 'print pack("f<*", (1) x 63)'; } > short.npy
expect 1 ./wn --w short.npy
has "$tmp/err" "short.npy: expected weights for 64 samples, got 63"
{ npy '<f4' '(64, 2)'; perl -e 'print pack("f<*", (1) x 128)'; } > wide.npy
expect 1 ./wn --w wide.npy
has "$tmp/err" "wide.npy: sample weights are one value a sample"
sed -e 's|, w: "wt.npy"||' wn.nn > now.nn
"$nnc" now.nn -o now || fail "building now failed"
expect 1 ./now
has "$tmp/err" "no sample weights: the train block says sample_weights true; give --w FILE"

# readers without weights: the program is refused
sed -e 's|csv("w.csv", label: 2, weight: 3)|idx(images: "i.idx", labels: "l.idx")|' w.nn > idx.nn
expect 1 "$nnc" idx.nn -o idx
has "$tmp/err" "'sample_weights true': the training program reads each sample's weight from the data"
finish
