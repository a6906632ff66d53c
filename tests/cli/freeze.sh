# `freeze` in a train block (docs/language.md): the named layers'
# parameters keep their values through training steps while the others
# change, in a .nn model and in an imported ONNX model fine-tuned by a
# train block (its frozen layer keeps the ONNX weights); the summary
# counts them as non-trainable; an unknown name and freezing everything
# are errors. A layer's `const` is a parameter that is never trained, as
# are the tables an import makes (a resize's). An imported model called
# as a layer in a new model (a new head) starts from its ONNX weights
# and, frozen, keeps them.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/f.nn" <<'NN'
model F {
  input x: [8]
  h = dense(x, 8, activation: tanh)
  output y = dense(h, 3)
}
train F {
  loss      mse
  optimizer adam(lr: 0.01)
  freeze    dense1
}
NN
cat > "$tmp/c.nn" <<'NN'
layer Scale(x: [n, k]) {
  const s: [k] = ones
  param b: [k] = zeros
  return x * s + b
}
model C {
  input x: [8]
  output y = Scale(dense(x, 3))
}
train C {
  loss      mse
  optimizer adam(lr: 0.01)
}
NN
cat > "$tmp/tune.nn" <<NN
import "$src/tests/onnx/models/mlp.onnx" as Net
train Net {
  loss      mse
  optimizer sgd(lr: 0.1)
  freeze    "dense1.W"
}
NN
# a new head on an imported model: the model called as a layer, its parameters frozen
cat > "$tmp/head.nn" <<NN
import "$src/tests/onnx/models/mlp.onnx" as Net
model Probe {
  input x: [8]
  output y = Net(x)
}
model Head {
  input x: [8]
  h = Net(x)
  output y = dense(relu(h), 2)
}
train Head {
  loss      mse
  optimizer sgd(lr: 0.1)
  freeze    Net1
}
NN
for m in f c tune head; do
  "$nnc" "$tmp/$m.nn" -o "$tmp/$m.so" || fail "$m.nn did not compile"
done
"$nnc" "$src/tests/onnx/models/mlp.onnx" -o "$tmp/mlp.so" || fail "mlp.onnx did not compile"
"$nnc" "$tmp/f.nn" --summary > "$tmp/summary.txt" 2>&1 || fail "--summary"
has "$tmp/summary.txt" "Trainable params: 27 (108 B)"
has "$tmp/summary.txt" "Non-trainable params: 72 (288 B)"
"$nnc" "$tmp/c.nn" --summary > "$tmp/summary.txt" 2>&1 || fail "--summary of c.nn"
has "$tmp/summary.txt" "Trainable params: 30 (120 B)"
has "$tmp/summary.txt" "Non-trainable params: 3 (12 B)"
# an imported model's resize tables are constants: only the convolutions train
printf 'import "%s" as Net\ntrain Net {\n  loss mse\n  optimizer sgd(lr: 0.1)\n}\n' \
  "$src/tests/onnx/torch/scaler.onnx" > "$tmp/scaler.nn"
"$nnc" "$tmp/scaler.nn" --summary > "$tmp/summary.txt" 2>&1 || fail "--summary of scaler.nn"
has "$tmp/summary.txt" "Trainable params: 186 (744 B)"
has "$tmp/summary.txt" "Non-trainable params: 335 (1.3 KiB)"
cat > "$tmp/t.py" <<'PY'
import sys
import numpy as np
import nnc

tmp, failed = sys.argv[1], []
r = np.random.RandomState(0)
x, y = r.randn(16, 8).astype(np.float32), r.rand(16, 3).astype(np.float32)
for lib, frozen, free in (("f", ["dense1.W", "dense1.b"], ["dense2.W", "dense2.b"]),
                          ("c", ["Scale1.s"], ["Scale1.b", "dense1.W"]),
                          ("tune", ["dense1.W"], ["dense1.b", "dense2.W", "dense2.b"])):
    m = nnc.load("%s/%s.so" % (tmp, lib))
    if lib == "tune" and not np.array_equal(m.predict(x), nnc.load("%s/mlp.so" % tmp).predict(x)):
        failed.append("tune: the imported model does not start from the ONNX weights")
    before = {p: m.get_param(p).copy() for p in frozen + free}
    losses = [m.train_step(x, y) for _ in range(5)]
    if not losses[-1] < losses[0]:
        failed.append("%s: the loss did not fall: %s" % (lib, losses))
    for p in frozen:
        if not np.array_equal(m.get_param(p), before[p]):
            failed.append("%s: frozen %s changed" % (lib, p))
    for p in free:
        if np.array_equal(m.get_param(p), before[p]):
            failed.append("%s: %s did not change" % (lib, p))
mlp = nnc.load("%s/mlp.so" % tmp)
probe, head = nnc.load("%s/head.so" % tmp, "Probe"), nnc.load("%s/head.so" % tmp, "Head")
if not np.array_equal(probe.predict(x), mlp.predict(x)):
    failed.append("head: the imported model called as a layer does not give the ONNX model's outputs")
names = ["dense1.W", "dense1.b", "dense2.W", "dense2.b"]
for p in names:
    if not np.array_equal(head.get_param("Net1." + p), mlp.get_param(p)):
        failed.append("head: Net1.%s does not start from the ONNX weights" % p)
before = {p: head.get_param(p).copy() for p in ["Net1." + n for n in names] + ["dense1.W"]}
losses = [head.train_step(x, y[:, :2]) for _ in range(5)]
if not losses[-1] < losses[0]:
    failed.append("head: the loss did not fall: %s" % losses)
for p, v in before.items():
    if np.array_equal(head.get_param(p), v) != p.startswith("Net1."):
        failed.append("head: %s %s" % (p, "changed" if p.startswith("Net1.") else "did not change"))
for f in failed:
    print("FAIL:", f)
sys.exit(1 if failed else 0)
PY
PYTHONPATH="$src/python" "$py" "$tmp/t.py" "$tmp" || fail "the Python checks failed"

# the new head, trained, exported to ONNX (--model names it among the program's three) and imported again
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "head training: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
h = nnc.load("%s/head.so" % tmp, "Head")
x = np.random.RandomState(0).randn(6, 8).astype(np.float32)
for _ in range(3):
    h.train_step(x, np.ones((6, 2), np.float32))
h.save_weights("%s/hw.safetensors" % tmp)
np.save("%s/hx.npy" % tmp, x)
np.save("%s/hy.npy" % tmp, h.predict(x))
PY
expect 1 "$nnc" "$tmp/head.nn" --weights "Head=$tmp/hw.safetensors" --emit=onnx -o "$tmp/head.onnx"
has "$tmp/err" "--emit=onnx writes one model; the program has several (Net, Probe, Head): name one with --model=NAME"
expect 1 "$nnc" "$tmp/head.nn" --weights "Head=$tmp/hw.safetensors" --emit=onnx --model=Nope -o "$tmp/head.onnx"
has "$tmp/err" "--model=Nope: the program has no such model (it has Net, Probe, Head)"
expect 1 "$nnc" "$tmp/head.nn" --model=Head -o "$tmp/x.so"
has "$tmp/err" "--model=Head names the model --emit=onnx writes; this run writes no ONNX file"
expect 0 "$nnc" "$tmp/head.nn" --weights "Head=$tmp/hw.safetensors" --emit=onnx --model=Head -o "$tmp/head.onnx"
expect 0 "$nnc" "$tmp/head.onnx" -o "$tmp/head_back.so"
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "head exported: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
got = nnc.load("%s/head_back.so" % tmp).predict(np.load("%s/hx.npy" % tmp))
assert np.array_equal(got, np.load("%s/hy.npy" % tmp)), got
PY

sed 's/freeze    dense1$/freeze    dense3/' "$tmp/f.nn" > "$tmp/unknown.nn"
expect 1 "$nnc" "$tmp/unknown.nn" -o "$tmp/u.so"
has "$tmp/err" "unknown.nn:9:13: error: model 'F' has no layer or parameter 'dense3' to freeze (did you mean 'dense1'?)"
sed 's/freeze    dense1$/freeze    dense1, dense2/' "$tmp/f.nn" > "$tmp/all.nn"
expect 1 "$nnc" "$tmp/all.nn" -o "$tmp/a.so"
has "$tmp/err" "all.nn:9:3: error: 'freeze' leaves no parameter of model 'F' to train"
exit $failed
