# NaN propagates through every op built on a comparison: relu and the
# activations made of it, max over axes, softmax, argmax, max pooling, the
# losses' clipping and the optimizer's clip_value, in shared libraries
# built by the C backend and (when nnc has it) the LLVM backend. The host
# (tests/cli/nan_host.c) checks each number against the definitions, and
# the two backends must print the same numbers.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cat > "$tmp/nan.nn" <<'EOF'
model Relu {
  input x: [10]
  output relu(x)
}
model Leaky {
  input x: [10]
  output leaky_relu(x, alpha: 0.25)
}
model Elu {
  input x: [10]
  output elu(x, alpha: 0.5)
}
model Softplus {
  input x: [10]
  output softplus(x)
}
model RowMax {
  input x: [4, 4]
  output max(x, axis: -1)
}
model ArgMax {
  input x: [4, 4]
  output argmax(x)
}
model Softmax {
  input x: [4, 4]
  output softmax(x)
}
model LogSoftmax {
  input x: [4, 4]
  output log_softmax(x)
}
model BatchMax {
  input x: [4]
  output max(x, axis: 0)
}
model Pool {
  input x: [4, 4, 2]
  output max_pool2d(x, 2)
}
model PoolSame {
  input x: [4, 4, 2]
  output max_pool2d(x, 3, stride: 2, padding: same)
}
model Prob {
  input x: [2]
  output abs(x)
}
train Prob {
  loss      binary_crossentropy
  optimizer sgd
}
model Huber {
  input x: [2]
  output abs(x)
}
train Huber {
  loss      huber(delta: 1.0)
  optimizer sgd
}
model Clip {
  input x: [3]
  dense(1)
}
train Clip {
  loss      mse
  optimizer sgd(clip_value: 0.5)
}
model Hidden {
  input x: [2]
  dense(2, activation: relu)
  dense(1)
}
train Hidden {
  loss      mse
  optimizer sgd
}
EOF
$cc -std=c11 -O2 $CFLAGS -I"$src/runtime" -o "$tmp/host" "$src/tests/cli/nan_host.c" -ldl -lm || fail "building the host failed"

# run BACKEND LIB [NNC OPTIONS]: the models as LIB, through the host
run() {
  name=$1 lib=$2
  shift 2
  "$nnc" "$@" "$tmp/nan.nn" -o "$tmp/$lib" 2>"$tmp/err" || { fail "$name: nnc failed: $(cat "$tmp/err")"; return; }
  "$tmp/host" "$tmp/$lib" >"$tmp/$name.txt" 2>"$tmp/$name.err" ||
    fail "$name: $(cat "$tmp/$name.err")"
}
run c libnan_c.so --backend=c
if "$nnc" --version | grep -q 'llvm (LLVM'; then
  run llvm libnan_llvm.so
  cmp -s "$tmp/c.txt" "$tmp/llvm.txt" ||
    fail "the backends give other numbers: $(diff "$tmp/c.txt" "$tmp/llvm.txt" | head -20)"
fi
finish
