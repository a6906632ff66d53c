# pad (docs/language.md): constant (zeros and a value), edge and reflect
# along a middle and the last axis, of f32 (a NaN inside stays where it
# is) and of i32, with both backends, equal to numpy's pad.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/p.nn" <<'NN'
model P {
  input x: [5, 3]
  input k: i32[5, 3]
  output c = pad(x, 1, 2, 1)
  output v = pad(x, 2, 1, 2, value: -1.5)
  output e = pad(x, 1, 3, 2, mode: edge)
  output r = pad(x, -2, 4, 3, mode: reflect)
  output ki = pad(pad(k, 2, 2, 1, mode: reflect), 1, 1, 0, value: 7)
}
NN
for b in llvm c; do
  expect 0 "$nnc" "$tmp/p.nn" --backend=$b -o "$tmp/p_$b.so"
done
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
r = np.random.RandomState(0)
x = r.randn(2, 5, 3).astype(np.float32)
x[0, 0, 0] = np.nan
k = r.randint(-100, 100, (2, 5, 3)).astype(np.int32)
want = [np.pad(x, ((0, 0), (2, 1), (0, 0))), np.pad(x, ((0, 0), (0, 0), (1, 2)), constant_values=-1.5),
        np.pad(x, ((0, 0), (3, 2), (0, 0)), mode="edge"), np.pad(x, ((0, 0), (4, 3), (0, 0)), mode="reflect"),
        np.pad(np.pad(k, ((0, 0), (0, 0), (2, 1)), mode="reflect"), ((0, 0), (1, 0), (0, 0)), constant_values=7)]
bad = 0
for b in ("llvm", "c"):
    for name, got, w in zip(["c", "v", "e", "r", "ki"], nnc.load("%s/p_%s.so" % (tmp, b)).predict_outputs([x, k]), want):
        if got.dtype != w.dtype or not np.array_equal(got, w, equal_nan=True):
            print("FAIL: %s (%s backend): %s" % (name, b, got))
            bad = 1
sys.exit(bad)
PY
finish
