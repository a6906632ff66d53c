# The tables the LLVM backend lays out field by field (NnrtModelDef,
# NnrtTensorInfo, NnModelDesc, NnTensorDesc) against the runtime's types:
# tests/cli/layout_host.c reads every field of each through nnrt.h, from a
# library of each backend, and they must agree (the C backend's are laid
# out by the C compiler). nnc itself checks the offsets of each table
# against the runtime's when it builds one (emit_llvm_model.c), so a drift
# also fails every LLVM build. Skipped when nnc was built without LLVM.
# (The tables are data: each library is built at -O0 or -O1, quick.)
. "$(dirname "$0")/../cli_lib.sh"
"$nnc" --version | grep -q 'llvm (LLVM' || { echo "skipped: nnc was built without LLVM"; finish; }
cc=${CC:-cc}
$cc -std=c11 ${CFLAGS:-} -I"$src/runtime" -o "$tmp/host" "$src/tests/cli/layout_host.c" -ldl ||
  fail "building the host failed"
# a language model (the generation fields and step, token ids, an ignored label), an MLP,
# a CNN, a model with two outputs (a label each), one with sample weights
# and one with class weights
cat > "$tmp/lm.nn" <<'NN'
model Lm {
  input ids: i32[6]
  e = embedding(ids, 12, 4)
  output dense(lstm(e, 5, return_sequences: true), 12, activation: softmax)
}
train Lm {
  loss      sparse_categorical_crossentropy(ignore_label: -1)
  optimizer adam(lr: 0.01)
}
NN
cat > "$tmp/cw.nn" <<'NN'
model Cw {
  input x: [4]
  dense(3, activation: softmax)
}
train Cw {
  loss         sparse_categorical_crossentropy
  class_weight 1, 2.5, 0.25
  optimizer    sgd
}
NN
while read -r file model; do
  "$nnc" --backend=c -O0 "$file" -o "$tmp/$model-c.so" 2> "$tmp/err" ||
    fail "$model: the C backend failed: $(head -3 "$tmp/err")"
  "$nnc" --backend=llvm -O1 "$file" -o "$tmp/$model-llvm.so" 2> "$tmp/err" ||
    fail "$model: the LLVM backend failed: $(head -3 "$tmp/err")"
  "$tmp/host" "$tmp/$model-c.so" "$tmp/$model-llvm.so" $model || fail "$model: the tables differ"
done <<LIST
$tmp/lm.nn Lm
$src/examples/seed_mlp.nn SeedMLP
$src/examples/mnist_cnn.nn MnistCNN
$src/tests/grad/loss_two_outputs.nn TwoHeads
$src/tests/grad/loss_sample_weights.nn Weighted
$tmp/cw.nn Cw
LIST
finish
