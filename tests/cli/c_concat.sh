# Concatenations and pads along a middle axis, compiled by the C backend
# at -O3 (the default), where the C compiler once vectorized a loop that
# chose between the two parts (or between x and 0) wrongly: the image of
# ones padded by two columns of zeros before and one after, the rows
# padded alike, the concatenation of x with itself along its middle axis,
# and the same padding by pad, each equal to numpy's and to the LLVM
# backend's bits.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/m.nn" <<'NN'
model M {
  input x: [9, 10, 2]
  o = x * 0.0 + 1.0
  p = concat(slice(o, axis: 1, start: 0, end: 1) * 0.0, o, slice(o, axis: 1, start: 0, end: 2) * 0.0, axis: 1)
  q = concat(slice(p, axis: 2, start: 0, end: 2) * 0.0, p, slice(p, axis: 2, start: 0, end: 1) * 0.0, axis: 2)
  output y = q
  output z = concat(x, x, axis: 2)
  output w = pad(pad(o, 1, 1, 2), 2, 2, 1)
}
NN
for b in c llvm; do
  expect 0 "$nnc" "$tmp/m.nn" --backend=$b -O3 -o "$tmp/m_$b.so"
done
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
x = np.random.RandomState(0).randn(3, 9, 10, 2).astype(np.float32)
want = [np.pad(np.ones_like(x), ((0, 0), (1, 2), (2, 1), (0, 0))), np.concatenate([x, x], 2)]
want.append(want[0])
bad = 0
for b in ("c", "llvm"):
    for name, got, w in zip("yzw", nnc.load("%s/m_%s.so" % (tmp, b)).predict_outputs([x]), want):
        if not np.array_equal(got, w):
            print("FAIL: %s (%s backend) differs at %d places" % (name, b, np.sum(got != w)))
            bad = 1
sys.exit(bad)
PY
finish
