# The C API of a model with two inputs and two outputs, each output with
# its loss and weight (tests/cli/outputs_host.c), through libraries of both
# backends; the training program, which reads one input and one label,
# refuses such a model with a message that points to the library. Sample
# and class weights (tests/cli/weights_host.c): the weighted losses against
# a computation by hand; a training program with class_weight.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cp "$src/tests/grad/loss_two_outputs.nn" "$tmp/heads.nn"
cat > "$tmp/cw.nn" <<'NN'
model Cw {
  input x: [5]
  dense(8, activation: tanh)
  dense(3, activation: softmax)
}
train Cw {
  data         csv("cw.csv", label: last)
  loss         sparse_categorical_crossentropy
  class_weight 1, 5, 0.5
  optimizer    adam(lr: 0.01)
  epochs       3
  batch        8
  metrics      accuracy
}
NN
for backend in llvm c; do
  lib_host $backend "$tmp/heads.nn" libheads "$src/tests/cli/outputs_host.c"
  tail -1 "$tmp/$backend/out.txt"
  "$nnc" --backend=$backend "$tmp/cw.nn" -o "$tmp/$backend/libcw.so" || fail "$backend: libcw.so"
  $cc -std=c11 ${CFLAGS:-} -I"$tmp/$backend" "$src/tests/cli/weights_host.c" -o "$tmp/$backend/whost" \
    "$tmp/$backend/libcw.so" -Wl,-rpath,"$tmp/$backend" -lm || fail "$backend: weights host"
  "$tmp/$backend/whost" > "$tmp/$backend/wout.txt" || fail "$backend: $(grep -v '^ok' "$tmp/$backend/wout.txt")"
  tail -1 "$tmp/$backend/wout.txt"
done
expect 1 "$nnc" "$tmp/heads.nn" -o "$tmp/train"
has "$tmp/err" "the training program reads a model with several inputs or outputs from npy arrays, npy(x: [...], y: [...]), one an input and one an output, but model 'TwoHeads' has 2 inputs and 2 outputs and no data"
[ -e "$tmp/train" ] && fail "a program was written"
# the training program weighs its steps by class_weight
awk 'BEGIN { srand(4); for (i = 0; i < 60; i++) { c = i % 3; printf "%.3f,%.3f,%.3f,%.3f,%.3f,%d\n",
             rand() + (c == 0), rand() + (c == 1), rand() + (c == 2), rand(), rand(), c } }' > "$tmp/cw.csv"
"$nnc" "$tmp/cw.nn" -o "$tmp/cw" || fail "building the class-weighted program"
(cd "$tmp" && ./cw) > "$tmp/cw.txt" 2>&1 || fail "training with class_weight: $(tail -3 "$tmp/cw.txt")"
has "$tmp/cw.txt" "Epoch 3/3"
(cd "$tmp" && ./cw --help) > "$tmp/cw_help.txt" 2>&1
has "$tmp/cw_help.txt" "Each step weighs a sample by its class (class_weight): 1, 5, 0.5"
finish
