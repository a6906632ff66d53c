# The batch's place in the caller's arrays (docs/language.md): a model
# declaring `input x: [5, N, 3]` and `output y: [5, N, 4] = ...` takes and
# returns time-major arrays through the C API (the Python package over
# it), with both backends: its outputs and its training losses equal
# those of the same model declared batch first, fed the transposed
# arrays; the descriptor puts -1 at the batch's axis; errors for a
# misplaced N.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/tm.nn" <<'NN'
model Seq {
  input x: [5, N, 3]
  h = lstm(x, 4, return_sequences: true)
  output y: [5, N, 4] = h
  output last = dense(lstm(x, 4), 2)
}
train Seq {
  loss      mse, mse
  optimizer sgd(lr: 0.1)
}
NN
sed -e 's/\[5, N, 3\]/[5, 3]/' -e 's/output y: \[5, N, 4\] = h/output y = h/' "$tmp/tm.nn" > "$tmp/bf.nn"
for backend in c llvm; do
  for m in tm bf; do
    "$nnc" --backend=$backend "$tmp/$m.nn" -o "$tmp/$m-$backend.so" || fail "$backend: $m.nn"
  done
done
cat > "$tmp/t.py" <<'PY'
import sys
import numpy as np
import nnc

tmp = sys.argv[1]
failed = []
for backend in ("c", "llvm"):
    tm = nnc.load("%s/tm-%s.so" % (tmp, backend), seed=3)
    bf = nnc.load("%s/bf-%s.so" % (tmp, backend), seed=3)
    shapes = [t.shape for t in tm.inputs + tm.outputs + tm.labels]
    if shapes != [(5, None, 3), (5, None, 4), (None, 2), (5, None, 4), (None, 2)]:
        failed.append("%s: the descriptor's shapes are %s" % (backend, shapes))
    r = np.random.RandomState(0)
    x = r.randn(5, 7, 3).astype(np.float32)
    y, last = r.randn(5, 7, 4).astype(np.float32), r.randn(7, 2).astype(np.float32)
    a, b = tm.predict_outputs([x]), bf.predict_outputs([x.transpose(1, 0, 2).copy()])
    if not (np.array_equal(a[0], b[0].transpose(1, 0, 2)) and np.array_equal(a[1], b[1])):
        failed.append("%s: time-major outputs differ from the batch-first model's" % backend)
    if not np.array_equal(tm.predict(x), a[0]):
        failed.append("%s: predict differs from predict_outputs" % backend)
    for step in range(3):
        la = tm.train_step([x], [y, last])
        lb = bf.train_step([x.transpose(1, 0, 2).copy()], [y.transpose(1, 0, 2).copy(), last])
        if la != lb:
            failed.append("%s: step %d's loss %r differs from %r" % (backend, step, la, lb))
    if tm.evaluate([x], [y, last]) != bf.evaluate([x.transpose(1, 0, 2).copy()], [y.transpose(1, 0, 2).copy(), last]):
        failed.append("%s: evaluations differ" % backend)
    print(backend, "ok" if not failed else "failed")
for f in failed:
    print("FAIL:", f)
sys.exit(1 if failed else 0)
PY
PYTHONPATH="$src/python" "$py" "$tmp/t.py" "$tmp" || fail "the Python checks failed"

# exported to ONNX, time-major at both ends: the file's input and output [5, N, 3] and [5, N, 2]
printf 'model T {\n  input x: [5, N, 3]\n  output y: [5, N, 2] = slice(x * 2.0 + 1.0, -1, 1)\n}\n' > "$tmp/export.nn"
expect 0 "$nnc" "$tmp/export.nn" --emit=onnx -o "$tmp/tm.onnx"
expect 0 "$nnc" "$tmp/tm.onnx" -o "$tmp/tm_back.so"
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "time-major export: $(cat "$tmp/py.out")"
import sys
import numpy as np
import onnx
import nnc
tmp = sys.argv[1]
m = onnx.load(tmp + "/tm.onnx")
onnx.checker.check_model(m, full_check=True)
dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (m.graph.input[0], m.graph.output[0])]
assert dims == [[5, "N", 3], [5, "N", 2]], dims
x = np.random.RandomState(0).randn(5, 4, 3).astype(np.float32)
got = nnc.load(tmp + "/tm_back.so").predict(x)
want = (2 * x + 1)[:, :, 1:]
assert got.shape == (5, 4, 2) and np.allclose(got, want, rtol=1e-5, atol=1e-5), got
PY

# errors
printf 'model A {\n  input x: [N, 5, N]\n  output dense(x, 2)\n}\n' > "$tmp/twice.nn"
expect 1 "$nnc" "$tmp/twice.nn" -o "$tmp/a.so"
has "$tmp/err" "twice.nn:2:19: error: the batch dimension 'N' appears twice"
printf 'model A {\n  input x: [5, 3]\n  output y: [5, 2] = dense(x, 2)\n}\n' > "$tmp/unnamed.nn"
expect 1 "$nnc" "$tmp/unnamed.nn" -o "$tmp/a.so"
has "$tmp/err" "unnamed.nn:3:22: error: output 'y' is f32[N, 5, 2]; its declared layout [5, 2] must name the batch N"
printf 'model A {\n  input x: [5, 3]\n  output y: [N, 2, 5] = dense(x, 2)\n}\n' > "$tmp/other.nn"
expect 1 "$nnc" "$tmp/other.nn" -o "$tmp/a.so"
has "$tmp/err" "other.nn:3:25: error: output 'y' is f32[N, 5, 2]; its declared layout [N, 2, 5] holds other dimensions or another type"
printf 'layer L(x) {\n  param W: [N, 3]\n  return x\n}\nmodel A {\n  input x: [3]\n  output L(x)\n}\n' > "$tmp/param.nn"
expect 1 "$nnc" "$tmp/param.nn" -o "$tmp/a.so"
has "$tmp/err" "param.nn:2:13: error: unknown name 'N'"
exit $failed
