# The Python package (python/nnc, docs/python.md) with Debian's Python and
# numpy: a library of the MNIST MLP loads the checkpoint its training
# program wrote and reproduces that program's held-out accuracy on the
# shipped digits; bad shapes and types raise ValueError before any call,
# the library's errors NncError with its message; parameters go out and in
# by name; a training step and a checkpoint round trip; nnc.compile runs
# nnc and reports its diagnostics; examples/mnist_predict.py agrees.
. "$(dirname "$0")/../cli_lib.sh"
need_python
mnist_idx
sed "s|data/mnist-|$tmp/mnist-|g" "$src/examples/mnist_mlp.nn" > "$tmp/mnist.nn"
"$nnc" "$tmp/mnist.nn" -o "$tmp/train" || fail "building the training program failed"
"$tmp/train" --epochs 2 --save "$tmp/ck.safetensors" > "$tmp/train.out" 2>&1 || fail "training failed: $(tail -3 "$tmp/train.out")"
want=$(sed -n 's/^held-out: \(.*\)$/\1/p' "$tmp/train.out")
[ -n "$want" ] || fail "the program printed no held-out line: $(tail -3 "$tmp/train.out")"
"$nnc" "$tmp/mnist.nn" -o "$tmp/mnist.so" || fail "building the library failed"

cat > "$tmp/t.py" <<'PY'
import os
import sys
import numpy as np
import nnc

tmp, want = sys.argv[1], sys.argv[2]
failed = []
def check(ok, what):
    if not ok:
        failed.append(what)
        print("FAIL:", what)

def idx(path):
    data = open(path, "rb").read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

images, labels = idx(tmp + "/mnist-images.idx"), idx(tmp + "/mnist-labels.idx")
n = images.shape[0]
held = n - int(round(n * 0.2))
x = (images[held:].reshape(n - held, -1).astype(np.float64) * (1 / 255)).astype(np.float32)
y = labels[held:]

check(nnc.model_names(tmp + "/mnist.so") == ["MnistMLP"], "model_names")
m = nnc.load(tmp + "/mnist.so")
m.load(tmp + "/ck.safetensors")
acc = float(np.mean(np.argmax(m.predict(x), axis=1) == y))
onehot = np.eye(10, dtype=np.float32)[y]
loss = m.evaluate(x, onehot)
got = "%d samples, loss %.4f, accuracy %.4f" % (len(y), loss, acc)
print("program:", want)
print("python: ", got)
check(got == want, "held-out figures: %s against the program's %s" % (got, want))

# bad input: ValueError, and the instance unchanged
before = m.predict(x[:4])
for bad, what in [(x[:4, :783], "a row short"), (x[:4].astype(np.int32), "integers for floats"),
                  ("text", "a string"), (x[:0], "no samples"), (x[0], "no batch dimension"),
                  ([x[:4], x[:4]], "two inputs for one")]:
    try:
        m.predict(bad)
        check(False, "predict took " + what)
    except ValueError as e:
        print("ValueError (%s): %s" % (what, e))
for bad, what in [(onehot[:3], "3 labels for 4 samples"), (onehot[:4, :9], "9 classes")]:
    try:
        m.train_step(x[:4], bad)
        check(False, "train_step took " + what)
    except ValueError as e:
        print("ValueError (%s): %s" % (what, e))
check(np.array_equal(before, m.predict(x[:4])), "a refused call changed the instance")

# the library's errors
try:
    m.load(tmp + "/missing.safetensors")
    check(False, "loading a missing file")
except nnc.NncError as e:
    check("missing.safetensors" in str(e), "the error names the file: %s" % e)
try:
    m.get_param("nope")
    check(False, "an unknown parameter")
except KeyError as e:
    check("dense1.W" in str(e), "the error lists the parameters: %s" % e)

# parameters by name, a step, a checkpoint round trip
p = m.params
check(sorted(p) == ["dense1.W", "dense1.b", "dense2.W", "dense2.b"], "params: %s" % sorted(p))
check(p["dense1.W"].shape == (784, 128) and p["dense1.W"].dtype == np.float32, "dense1.W's shape and type")
m2 = nnc.load(tmp + "/mnist.so", seed=5)
m2.set_params(p)
check(np.array_equal(m.predict(x[:64]), m2.predict(x[:64])), "set_params gives the same predictions")
try:
    m2.set_param("dense1.b", np.zeros(127))
    check(False, "set_param took a wrong shape")
except ValueError:
    pass
for bad in (lambda: setattr(m, "threads", 2**32 + 2), lambda: setattr(m, "threads", "2"),
            lambda: nnc.load(tmp + "/mnist.so", seed=-1), lambda: m.predict([x[:2], x[:2]])):
    try:
        bad()
        check(False, "a bad thread count, seed or input count was taken")
    except ValueError as e:
        print("ValueError:", e)
m.threads = 1
l1 = m.train_step(x[:32], onehot[:32])
check(np.isfinite(l1) and not np.array_equal(p["dense1.W"], m.get_param("dense1.W")), "a step updates the weights")
m.save(tmp + "/ck2.safetensors")
m2.load(tmp + "/ck2.safetensors")
check(m.train_step(x[32:64], onehot[32:64]) == m2.train_step(x[32:64], onehot[32:64]),
      "a checkpoint carries the optimizer state: the next steps agree")
w = m.get_param("dense1.W")
w[np.abs(w) < np.quantile(np.abs(w), 0.8)] = 0  # a pruned kernel, saved compact
m.set_param("dense1.W", w)
m.save_sparse(tmp + "/sparse.safetensors")
m2.load(tmp + "/sparse.safetensors")
check(np.array_equal(m2.get_param("dense1.W"), w) and np.array_equal(m2.get_param("dense2.W"), m.get_param("dense2.W"))
      and os.path.getsize(tmp + "/sparse.safetensors") < 160000, "save_sparse and load")
d = m.describe()
check(d["inputs"][0].shape == (None, 784) and d["labels"][0].dtype == np.float32, "describe: %s" % d)

# looking inside: layers by name, saliency, integrated gradients
check([t.name for t in m.layers] == ["dense1", "dropout1", "dense2"] and m.layers[0].shape == (None, 128),
      "layers: %s" % m.layers)
h = m.activation(x[:4], "dense1")
check(h.shape == (4, 128) and np.array_equal(m.activation(x[:4], "dense2"), m.predict(x[:4])), "activation")
s = m.saliency(x[:4], target=y[:4])
check(s.shape == (4, 784) and s.dtype == np.float32 and np.abs(s).sum() > 0, "saliency: %s" % (s.shape,))
ig = m.integrated_gradients(x[:4], target=y[:4], steps=8)
check(ig.shape == (4, 784) and np.all(ig[x[:4] == 0] == 0), "integrated gradients are 0 where x is the baseline")
check(np.array_equal(m.integrated_gradients(x[:4], baseline=np.zeros((4, 784), np.float32), target=y[:4], steps=8), ig),
      "a baseline of zeros is the default")
for bad in (lambda: m.activation(x[:4], "dense9"), lambda: m.saliency(x[:4], target=10)):
    try:
        bad()
        check(False, "a bad layer or target was taken")
    except nnc.NncError as e:
        print("NncError:", e)
for bad in (2**32 + 3, 1.9, [1, 2], -1):
    try:
        m.saliency(x[:4], target=bad)
        check(False, "saliency took the target %r" % (bad,))
    except ValueError as e:
        print("ValueError:", e)
try:
    m.gradcam(x[:4], 3)
    check(False, "a layer named by a number")
except TypeError as e:
    print("TypeError:", e)

# compile: nnc's diagnostics as an NncError
open(tmp + "/bad.nn", "w").write("model M {\n  input x: [4]\n  dens(3)\n}\n")
try:
    nnc.compile(tmp + "/bad.nn", tmp + "/bad.so")
    check(False, "compiling a bad model")
except nnc.NncError as e:
    check("bad.nn:3:3: error: unknown layer or function 'dens'" in str(e), "compile's error: %s" % e)
out = nnc.compile(tmp + "/mnist.nn", tmp + "/again.so", backend="c")
check(nnc.load(out).predict(x[:2]).shape == (2, 10), "a library nnc.compile built")
sys.exit(1 if failed else 0)
PY
NNC="$nnc" PYTHONPATH="$src/python" "$py" "$tmp/t.py" "$tmp" "$want" > "$tmp/py.out" 2>&1 ||
  fail "the Python checks failed: $(cat "$tmp/py.out")"
# the example script prints the same held-out accuracy
acc=$(echo "$want" | sed 's/.*accuracy //')
(cd "$tmp" && PYTHONPATH="$src/python" "$py" "$src/examples/mnist_predict.py" mnist.so ck.safetensors \
   mnist-images.idx mnist-labels.idx) > "$tmp/ex.out" 2>&1 || fail "examples/mnist_predict.py failed: $(cat "$tmp/ex.out")"
grep -q "^held-out: 2000 samples, accuracy $acc\$" "$tmp/ex.out" || fail "mnist_predict.py: $(cat "$tmp/ex.out")"
exit $failed
