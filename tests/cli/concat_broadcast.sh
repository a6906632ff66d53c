# concat of unbatched tensors with batched ones (docs/language.md): the
# unbatched ones, of one axis less, are the same for every sample (a
# class token before a sequence, a row after it), with both backends
# against numpy (the errors: tests/err/concat_unbatched.nn).
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/t.nn" <<'NN'
layer Tokens(x) {
  param cls: [1, 4] = uniform
  param tail: [2, 4] = uniform
  return concat(cls, x, tail, axis: -2)
}
model T {
  input x: [5, 4]
  output Tokens(x)
}
NN
for b in llvm c; do
  expect 0 "$nnc" "$tmp/t.nn" --backend=$b -o "$tmp/t_$b.so"
done
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
bad = 0
x = np.random.RandomState(0).randn(3, 5, 4).astype(np.float32)
for b in ("llvm", "c"):
    m = nnc.load("%s/t_%s.so" % (tmp, b))
    cls, tail = m.get_param("Tokens1.cls"), m.get_param("Tokens1.tail")
    want = np.concatenate([np.broadcast_to(cls, (3, 1, 4)), x, np.broadcast_to(tail, (3, 2, 4))], axis=1)
    got = m.predict(x)
    if got.shape != (3, 8, 4) or not np.array_equal(got, want) or not np.any(cls):
        print("FAIL (%s): %s" % (b, got))
        bad = 1
sys.exit(bad)
PY
finish
