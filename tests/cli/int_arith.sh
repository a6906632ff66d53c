# Integer arithmetic (docs/language.md, "Integer arithmetic"): i32
# tensors under + - * /, unary minus, abs, sign, maximum, minimum, pow,
# greater, where and int(), with both backends, against numpy's exact
# values converted as the language says: toward zero, saturated at i32's
# bounds (a division by zero gives the bound of its sign, 0 / 0 gives 0),
# NaN as 0; and the reference evaluator agrees (--check-c).
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/i.nn" <<'NN'
model M {
  input x: i32[6]
  input y: i32[6]
  input f: [6]
  output s = x + y * 3 - 1
  output q = x / y
  output m = maximum(x, y) - minimum(x, 2) + abs(-x) + sign(y)
  output p = pow(x, 2)
  output g = where(greater(x, y), x, y)
  output c = int(f)
  output back = float(x) * f
}
NN
for b in llvm c; do
  expect 0 "$nnc" "$tmp/i.nn" --backend=$b -o "$tmp/i_$b.so"
done
expect 0 "$nnc" "$tmp/i.nn" --check-c
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
lo, hi = -2 ** 31, 2 ** 31 - 1
def i32(v):  # the exact value (a float, maybe inf or nan) as i32 gives it, kept in float64
    v = np.asarray(v, np.float64)
    return np.where(np.isnan(v), 0, np.clip(np.trunc(np.nan_to_num(v, posinf=hi, neginf=lo)), lo, hi))
x = np.array([[7, -7, 5, hi, lo, 0], [1, 2, 3, 4, 5, 6]], np.int32)
y = np.array([[2, 2, 0, 2, -1, 0], [3, -3, 1, 1, 2, 2]], np.int32)
f = np.array([[1.5, -1.5, np.nan, 1e10, -1e10, 2.99], [0, -0.5, 3.7, -3.7, 1e-3, 7]], np.float32)
X, Y = x.astype(np.float64), y.astype(np.float64)
with np.errstate(divide="ignore", invalid="ignore"):
    q = i32(X / Y)
s = i32(i32(i32(X + i32(Y * 3))) - 1)
m = i32(i32(i32(np.maximum(X, Y) - np.minimum(X, 2)) + i32(np.abs(i32(-X)))) + np.sign(Y))
want = {k: v.astype(np.int32) for k, v in (("s", s), ("q", q), ("m", m), ("p", i32(X ** 2)), ("c", i32(f)))}
want.update({"g": np.where(X > Y, x, y), "back": x.astype(np.float32) * f})
bad = 0
for b in ("llvm", "c"):
    lib = nnc.load("%s/i_%s.so" % (tmp, b))
    for t, got in zip(lib.outputs, lib.predict_outputs([x, y, f])):
        w = want[t.name]
        if got.dtype != w.dtype or not np.array_equal(got, w, equal_nan=True):
            print("FAIL: %s (%s): %s, not %s" % (t.name, b, got.tolist(), w.tolist()))
            bad = 1
sys.exit(bad)
PY
finish
