# An instance keeps Winograd's transform of its 3x3 filters and the
# GEMM's packed panels of a dense layer's weights for its forward runs
# and makes them anew after set_param, a load and a training step (tests/cli/kept_host.c: each prediction and evaluation after a
# change against a new instance that loads the same weights, bit for bit),
# through libraries of both backends, at 1 and 2 threads, at the
# processor's ISA level and at AVX2.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cat > "$tmp/kc.nn" <<'NN'
model Kc {
  input image: [9, 9, 16]
  conv2d(32, 3, padding: same, activation: relu)
  conv2d(40, 3, activation: relu)
  flatten
  dense(40, activation: relu)
  dense(3, activation: softmax)
}
train Kc {
  loss      sparse_categorical_crossentropy
  optimizer adam(lr: 0.01)
  batch     3
}
NN
for backend in llvm c; do
  mkdir -p "$tmp/$backend"
  "$nnc" --backend=$backend "$tmp/kc.nn" -o "$tmp/$backend/libkc.so" || fail "$backend: libkc.so"
  $cc -std=c11 ${CFLAGS:-} -I"$tmp/$backend" "$src/tests/cli/kept_host.c" -o "$tmp/$backend/host" \
    "$tmp/$backend/libkc.so" -Wl,-rpath,"$tmp/$backend" -lm || fail "$backend: host"
  for isa in "" avx2; do
    for t in 1 2; do
      NNRT_ISA=$isa "$tmp/$backend/host" $t "$tmp/$backend" > "$tmp/$backend/out.txt" 2>&1 ||
        fail "$backend ${isa:-best} $t threads: $(grep -v '^ok' "$tmp/$backend/out.txt")"
      echo "$backend ${isa:-best} $t threads: $(tail -1 "$tmp/$backend/out.txt")"
    done
  done
done
finish
