# max_pool2d and avg_pool2d with dilation and with padding past half the
# window (docs/language.md): both backends against a numpy definition
# (the cells of each window inside the image; an average over them alone),
# a NaN inside the image winning its windows; and a window that holds
# padding alone is an error (tests/err/pool_padding_alone.nn). The max
# pools export to ONNX (MaxPool's dilations) and import again with the
# same outputs; a dilated average has no ONNX form at opset 13: an error.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/p.nn" <<'NN'
model P {
  input x: [9, 8, 3]
  output a = max_pool2d(x, [3, 2], stride: [2, 3], padding: [2, 1], dilation: [2, 3])
  output b = avg_pool2d(x, [3, 2], stride: [2, 3], padding: [2, 1], dilation: [2, 3])
  output c = max_pool2d(x, 2, stride: 1, dilation: 3)
  output d = avg_pool2d(x, 3, stride: 2, padding: 2)
  output e = max_pool2d(x, 3, stride: 1, padding: same, dilation: 2)
}
NN
for b in llvm c; do
  expect 0 "$nnc" "$tmp/p.nn" --backend=$b -o "$tmp/p_$b.so"
done
expect 1 "$nnc" "$tmp/p.nn" --emit=onnx -o "$tmp/p.onnx"
has "$tmp/err" "a dilated avg_pool2d (value %2) has no ONNX form before opset 19; nnc writes opset 13"
grep -v avg_pool2d "$tmp/p.nn" > "$tmp/pm.nn"
expect 0 "$nnc" "$tmp/pm.nn" --emit=onnx -o "$tmp/pm.onnx"
expect 0 "$nnc" "$tmp/pm.onnx" -o "$tmp/pm_back.so"
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]

def pool(x, k, s, lo, hi, d, mx):
    n, h, w, c = x.shape
    oh = (h + lo[0] + hi[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + lo[1] + hi[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    y = np.zeros((n, oh, ow, c), np.float64)
    for i in range(oh):
        for j in range(ow):
            rows = [i * s[0] - lo[0] + a * d[0] for a in range(k[0])]
            cols = [j * s[1] - lo[1] + b * d[1] for b in range(k[1])]
            cells = [x[:, r, q, :].astype(np.float64) for r in rows for q in cols if 0 <= r < h and 0 <= q < w]
            st = np.stack(cells)
            if mx:
                m = st.max(axis=0)
                y[:, i, j, :] = np.where(np.isnan(st).any(axis=0), np.nan, m)
            else:
                y[:, i, j, :] = st.mean(axis=0)
    return y

r = np.random.RandomState(1)
x = r.randn(2, 9, 8, 3).astype(np.float32)
x[1, 4, 3, 2] = np.nan
want = [pool(x, (3, 2), (2, 3), (2, 1), (2, 1), (2, 3), True), pool(x, (3, 2), (2, 3), (2, 1), (2, 1), (2, 3), False),
        pool(x, (2, 2), (1, 1), (0, 0), (0, 0), (3, 3), True), pool(x, (3, 3), (2, 2), (2, 2), (2, 2), (1, 1), False),
        pool(x, (3, 3), (1, 1), (2, 2), (2, 2), (2, 2), True)]
bad = 0
for b in ("llvm", "c"):
    for name, got, w in zip("abcde", nnc.load("%s/p_%s.so" % (tmp, b)).predict_outputs([x]), want):
        if got.shape != w.shape or not np.allclose(got, w, rtol=1e-6, atol=1e-6, equal_nan=True):
            print("FAIL: %s (%s backend): shape %s against %s\n%s\n%s" % (name, b, got.shape, w.shape, got, w))
            bad = 1
back = nnc.load("%s/pm_back.so" % tmp).predict_outputs([x])
for name, got, w in zip("ace", back, [want[0], want[2], want[4]]):
    if not np.allclose(got, w, rtol=1e-6, atol=1e-6, equal_nan=True):
        print("FAIL: %s exported and imported again: %s" % (name, got))
        bad = 1
sys.exit(bad)
PY
finish
