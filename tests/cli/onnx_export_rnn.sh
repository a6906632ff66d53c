# --emit=onnx of recurrent layers (docs/onnx.md, "Export"): lstm, gru
# (both variants), simple_rnn, forward and reversed, every step or the
# last, from zero or from given initial states (an LSTM's h and c, a GRU's
# computed by a dense layer), stacked and bidirectional, in f32 and f64,
# written as ONNX's LSTM, GRU and RNN nodes; onnx.checker accepts the
# file and, imported again, it gives the outputs of the library it came
# from with both backends. A masked layer has no ONNX form: an error.
# PyTorch's time-major LSTMs (tests/onnx/torch: [T, N, F] inputs, states
# [layers, N, u]) imported, exported again with their layouts, and
# imported once more give PyTorch's outputs.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/r.nn" <<'NN'
model R {
  input x: [6, 3]
  input h0: [4]
  input c0: [4]
  f = lstm(x, 4, return_sequences: true, initial_state: [h0, c0])
  b = lstm(x, 4, return_sequences: true, reverse: true)
  h = concat(f, b)
  g = gru(h, 3, initial_state: dense(h0, 3))
  q = gru(h, 2, reset_after: true, return_sequences: true, reverse: true)
  output concat(g, simple_rnn(h, 2, reverse: true), flatten(q), simple_rnn(x, 3))
}
NN
sed 's/^model R {/model R64 {/; s/input \([a-z0-9]*\): \[/input \1: f64[/' "$tmp/r.nn" > "$tmp/r64.nn"
cat > "$tmp/masked.nn" <<'NN'
model Masked {
  input x: [6, 3]
  input m: [6]
  output gru(x, 2, mask: m)
}
NN
for m in r r64 masked; do
  expect 0 "$nnc" "$tmp/$m.nn" --inference-only -o "$tmp/$m.so"
done
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "weights: $(cat "$tmp/py.out")"
import sys
import nnc
for m in ("r", "r64", "masked"):
    nnc.load("%s/%s.so" % (sys.argv[1], m)).save_weights("%s/%s.safetensors" % (sys.argv[1], m))
PY
for m in r r64; do
  expect 0 "$nnc" "$tmp/$m.nn" --weights "$tmp/$m.safetensors" --emit=onnx -o "$tmp/$m.onnx"
  expect 0 "$nnc" "$tmp/$m.onnx" --inference-only -o "$tmp/${m}_llvm.so"
  expect 0 "$nnc" "$tmp/$m.onnx" --backend=c --inference-only -o "$tmp/${m}_c.so"
done
for m in lstm lstm_state; do
  expect 0 "$nnc" "$src/tests/onnx/torch/$m.onnx" -o "$tmp/${m}_back.onnx"
  expect 0 "$nnc" "$tmp/${m}_back.onnx" --inference-only -o "$tmp/${m}_back.so"
done
expect 1 "$nnc" "$tmp/masked.nn" --weights "$tmp/masked.safetensors" --emit=onnx -o "$tmp/masked.onnx"
has "$tmp/err" "has no ONNX form in nnc's export: only simple_rnn, gru and lstm without a mask are written"
PYTHONPATH="$src/python" "$py" - "$tmp" "$src/tests/cli" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import onnx
import nnc
tmp = sys.argv[1]
bad = 0
for m, dt, tol in (("r", np.float32, 1e-6), ("r64", np.float64, 1e-13)):
    model = onnx.load("%s/%s.onnx" % (tmp, m))
    onnx.checker.check_model(model, full_check=True)
    ops = sorted(n.op_type for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN"))
    if ops != ["GRU", "GRU", "LSTM", "LSTM", "RNN", "RNN"]:
        print("FAIL: %s: recurrent nodes %s" % (m, ops))
        bad = 1
    r = np.random.RandomState(0)
    x = [r.randn(3, 6, 3).astype(dt), r.randn(3, 4).astype(dt), r.randn(3, 4).astype(dt)]
    want = nnc.load("%s/%s.so" % (tmp, m)).predict(x)
    if np.abs(want).max() < 1e-3:
        print("FAIL: %s: outputs near zero" % m)
        bad = 1
    for b in ("llvm", "c"):
        got = nnc.load("%s/%s_%s.so" % (tmp, m, b)).predict(x)
        if got.dtype != want.dtype or not np.allclose(got, want, rtol=tol, atol=tol):
            print("FAIL: %s (%s backend) imported again: largest difference %g" % (m, b, np.abs(got - want).max()))
            bad = 1
t = "%s/../onnx/torch" % sys.argv[2]
for m in ("lstm", "lstm_state"):
    onnx.checker.check_model(onnx.load("%s/%s_back.onnx" % (tmp, m)), full_check=True)
    x, want = np.load("%s/%s_x.npy" % (t, m)), np.load("%s/%s_y.npy" % (t, m))
    more = [np.load("%s/%s_x%d.npy" % (t, m, i)) for i in (1, 2) if m == "lstm_state"]
    got = nnc.load("%s/%s_back.so" % (tmp, m)).predict_outputs([x] + more)[0]
    if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
        print("FAIL: PyTorch's %s exported again: largest difference %g" % (m, np.abs(got - want).max()))
        bad = 1
sys.exit(bad)
PY
finish
