# ONNX import (docs/onnx.md): the models of tests/onnx/models (a dynamic
# batch, weights as initializers) compile with both backends and give the
# outputs numpy computed (1e-4 relative); --emit=nn prints a .nn program
# that compiles to a library of the same outputs; each kind of bad input
# is one clear error naming the file and the byte or the node.
. "$(dirname "$0")/../cli_lib.sh"
models="$src/tests/onnx/models"

# bad input: no crash, exit 1, one line that says what and where
expect 1 "$nnc" "$models/unknown_op.onnx"
has "$tmp/err" "node \"mystery\" (FooBar, opset 13): op FooBar is not supported"
expect 1 "$nnc" "$models/cycle.onnx"
has "$tmp/err" "node \"first\" (Add, opset 13): input 'b' is not defined before the node"
expect 1 "$nnc" "$models/external_escape.onnx"
has "$tmp/err" "external data location '../../../etc/passwd' is outside the model's folder (refused)"
expect 1 "$nnc" "$models/lstm_cell_output.onnx"
has "$tmp/err" "node \"cell_out\" (LSTM, opset 13): Y_c (the last cell state) is not supported"
expect 1 "$nnc" "$models/gru_activations.onnx"
has "$tmp/err" "node \"relu_gru\" (GRU, opset 13): activations Relu, Tanh are not supported: only ONNX's defaults, Sigmoid, Tanh for each direction"
expect 1 "$nnc" "$models/lstm_bad_weights.onnx"
has "$tmp/err" "node \"short_w\" (LSTM, opset 13): W is [1, 6, 3]; it must be [1, 8, 3]: [directions, 4 gates x hidden_size, X's features]"
# a time-major input: declared with the batch second, as the graph has it
expect 0 "$nnc" "$src/tests/onnx/torch/lstm.onnx" --emit=nn
has "$tmp/out" "input x: [9, N, 6]"
head -c 700 "$models/cnn.onnx" > "$tmp/truncated.onnx"
expect 1 "$nnc" "$tmp/truncated.onnx"
has "$tmp/err" "truncated.onnx: byte "
has "$tmp/err" "remain (truncated?)"
printf 'not a model at all, just some text\n' > "$tmp/text.onnx"
expect 1 "$nnc" "$tmp/text.onnx"
has "$tmp/err" "text.onnx: byte "
has "$tmp/err" "(this does not look like an ONNX model)"
expect 1 "$nnc" "$models/control_name.onnx"
has "$tmp/err" "node \"\\x1b[31mred\" (FooBar, opset 13)"
tr -d '\n' < "$tmp/err" | LC_ALL=C grep -q "$(printf '\033')" && fail "a terminal escape reached the message"
: > "$tmp/empty.onnx"
expect 1 "$nnc" "$tmp/empty.onnx"
has "$tmp/err" "no graph: not an ONNX model"
# a field that declares 2^60 bytes: an error, not an allocation
printf '\072\200\200\200\200\200\200\200\200\020' > "$tmp/huge.onnx"
expect 1 "$nnc" "$tmp/huge.onnx"
has "$tmp/err" "only 0 remain"
expect 1 "$nnc" "$models/missing.onnx"
has "$tmp/err" "cannot read"
expect 1 "$nnc" "$src/examples/seed_mlp.nn" --emit=nn
has "$tmp/err" "--emit=nn writes an imported ONNX model"

# a stem that is a built-in is capitalized; the outputs keep their ONNX names
cp "$models/mlp.onnx" "$tmp/lstm.onnx"
expect 0 "$nnc" "$tmp/lstm.onnx" -o "$tmp/lstm.so"
has "$tmp/lstm.h" "Lstm_create"

# --emit=nn: the model in .nn, every node named in a comment
expect 0 "$nnc" "$models/cnn.onnx" --emit=nn -o "$tmp/cnn.nn"
has "$tmp/cnn.nn" "model cnn {"
has "$tmp/cnn.nn" "input img: [3, 6, 6]"
has "$tmp/cnn.nn" "# \"/conv/Conv\" (Conv)"
has "$tmp/cnn.nn" "output logits = logits_value"

# import "model.onnx" as NAME: the imported model, its weights built in, trained by a train block
cp "$models/mlp.onnx" "$tmp/pre.onnx"
cat > "$tmp/tune.nn" <<'NN'
import "pre.onnx" as Pre

train Pre {
  data      csv("tune.csv", label: last, one_hot: true)
  loss      categorical_crossentropy
  optimizer sgd(lr: 0.1)
  epochs    3
  batch     4
}
NN
awk 'BEGIN { srand(3); for (i = 0; i < 40; i++) { s = 0; for (j = 0; j < 8; j++) { v = rand() - 0.5; s += v; printf "%.4f,", v } print (s > 0 ? 2 : 0) } }' > "$tmp/tune.csv"
expect 0 "$nnc" --emit=ast "$tmp/tune.nn"
has "$tmp/out" "model Pre"
has "$tmp/out" "dense1.W             f32[8, 16]                     built in"
expect 0 "$nnc" "$tmp/tune.nn" -o "$tmp/tune"
(cd "$tmp" && ./tune > tune.out 2>&1) || fail "the fine-tuning program failed: $(tail -3 "$tmp/tune.out")"
has "$tmp/tune.out" "Epoch 3/3"
printf 'import "cnn.nn" as Other\n' > "$tmp/as_nn.nn"
expect 1 "$nnc" "$tmp/as_nn.nn"
has "$tmp/err" "'as' names the model of an imported .onnx file"
printf 'import "pre.onnx" like Pre\n' > "$tmp/like.nn"
expect 1 "$nnc" "$tmp/like.nn"
has "$tmp/err" "unexpected 'like' after the import's path; write 'import \"pre.onnx\" as NAME'"
printf 'import "pre.onnx" as relu\n' > "$tmp/as_builtin.nn"
expect 1 "$nnc" "$tmp/as_builtin.nn"
has "$tmp/err" "as_builtin.nn:1:22: error: 'relu' is a built-in name; call the imported model something else"
printf 'import "pre.onnx" as A\nimport "pre.onnx" as B\nimport "pre.onnx" as A\n' > "$tmp/twice.nn"
expect 0 "$nnc" --emit=ast "$tmp/twice.nn"                  # two models of one file; the same name twice is one
has "$tmp/out" "model A"
has "$tmp/out" "model B"
cp "$models/unknown_op.onnx" "$tmp/unknown.onnx"
printf 'import "unknown.onnx" as U\n' > "$tmp/imp_bad.nn"
expect 1 "$nnc" "$tmp/imp_bad.nn"
has "$tmp/err" "op FooBar is not supported"
has "$tmp/err" "imp_bad.nn:1:1: note: imported here"

# the batch axis as data: --batch=K is the way out; a merged batch is not an output
expect 1 "$nnc" "$models/batch_as_data.onnx" -o "$tmp/x.so"
has "$tmp/err" "(Softmax, opset 13): this op along the batch axis (axis 0) is not supported (the graph uses the batch axis as data: --batch=K compiles it for batches of K)"
expect 1 "$nnc" "$models/merged_output.onnx" -o "$tmp/x.so"
has "$tmp/err" "output 'y' merges the batch with another axis (a reshape to [N * k, ...]): not supported"

# --emit=onnx: the weights are needed, a file is needed
expect 1 "$nnc" "$src/examples/seed_mlp.nn" --emit=onnx -o "$tmp/x.onnx"
has "$tmp/err" "--emit=onnx needs the weights: 'dense1.W' has none (--weights FILE)"
expect 1 "$nnc" "$models/cnn.onnx" --emit=onnx
has "$tmp/err" "--emit=onnx writes a file: name it with -o FILE.onnx"
# export back: the imported CNN (NCHW at its edges, NHWC inside) written as ONNX and imported again
expect 0 "$nnc" "$models/cnn.onnx" -o "$tmp/back.onnx"
expect 0 "$nnc" "$tmp/back.onnx" -o "$tmp/back.so"

need_python
# asymmetric padding (0 before, 2 after): the excess as explicit zeros
expect 0 "$nnc" "$models/asymmetric_pad.onnx" -o "$tmp/asym.so"
# dilated windows: two averages and a max (against the loops below)
expect 0 "$nnc" "$models/dilated_pools.onnx" -o "$tmp/dilated_llvm.so"
expect 0 "$nnc" "$models/dilated_pools.onnx" --backend=c -o "$tmp/dilated_c.so"
# an output as large as the batch (torch.full((x.shape[0], 3), 2.5)), whatever x holds
expect 0 "$nnc" "$models/batch_constant_output.onnx" -o "$tmp/full.so"
# x.reshape(-1, 4) of [N, 6, 4]: the batch merged with the next axis, a Linear, and back
for model in mlp cnn merged; do
  expect 0 "$nnc" "$models/$model.onnx" -o "$tmp/${model}_llvm.so"
  expect 0 "$nnc" "$models/$model.onnx" --backend=c -o "$tmp/${model}_c.so"
done
# the round trip: the text and the weights written beside it make the same library
[ -f "$tmp/cnn.safetensors" ] || fail "--emit=nn -o cnn.nn wrote no cnn.safetensors"
expect 0 "$nnc" "$tmp/cnn.nn" --weights "$tmp/cnn.safetensors" -o "$tmp/cnn_text.so"
expect 0 "$nnc" "$models/cnn.onnx" --emit=nn -o - 
[ ! -f "$tmp/-.safetensors" ] || fail "--emit=nn -o - wrote a weights file"
expect 1 "$nnc" "$src/examples/seed_mlp.nn" --batch=4
has "$tmp/err" "--batch fixes an ONNX model's batch"
expect 1 "$nnc" "$models/cnn.onnx" --batch=0
has "$tmp/err" "'--batch' takes a batch size from 1"
PYTHONPATH="$src/python" "$py" - "$models" "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
m, tmp = sys.argv[1], sys.argv[2]
bad = 0
for model in ("mlp", "cnn", "merged"):
    x, want = np.load("%s/%s_x.npy" % (m, model)), np.load("%s/%s_y.npy" % (m, model))
    for backend in ("llvm", "c"):
        got = nnc.load("%s/%s_%s.so" % (tmp, model, backend)).predict(x)
        err = np.max(np.abs(got - want) / (np.abs(want) + 1e-6))
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-6):
            print("FAIL: %s (%s): %s against %s, relative error %g" % (model, backend, got.shape, want.shape, err))
            bad = 1
        one = nnc.load("%s/%s_%s.so" % (tmp, model, backend)).predict(x[:1])   # any batch size
        if not np.allclose(one, want[:1], rtol=1e-4, atol=1e-6):
            print("FAIL: %s (%s) at batch 1" % (model, backend))
            bad = 1
import onnx
onnx.checker.check_model(onnx.load("%s/back.onnx" % tmp))
x, want = np.load("%s/cnn_x.npy" % m), np.load("%s/cnn_y.npy" % m)
if not np.allclose(nnc.load("%s/back.so" % tmp).predict(x), want, rtol=1e-5, atol=1e-6):
    print("FAIL: the CNN exported to ONNX and imported again differs")
    bad = 1
names = [t.name for t in nnc.load("%s/cnn_llvm.so" % tmp).outputs] + [t.name for t in nnc.load("%s/mlp_c.so" % tmp).outputs]
if names != ["logits", "probs"]:
    print("FAIL: the outputs are named %s, not the graphs' logits and probs" % names)
    bad = 1
img = np.random.RandomState(0).randn(2, 1, 5, 5).astype(np.float32)
padded = np.pad(img, ((0, 0), (0, 0), (0, 2), (0, 2)))
want = np.array([[[[padded[n, 0, i:i + 3, j:j + 3].sum() for j in range(5)] for i in range(5)]] for n in range(2)])
if not np.allclose(nnc.load("%s/asym.so" % tmp).predict(img), want, rtol=1e-5, atol=1e-5):
    print("FAIL: the Conv with asymmetric padding differs from numpy's")
    bad = 1
def pool(x, k, d, s, pads, counted=0, ceil=0, mx=False):  # ONNX's windows, cell by cell
    size = [(n + pads[a] + pads[a + 2] - d[a] * (k[a] - 1) - 1) / s[a] + 1 for a, n in enumerate(x.shape[2:])]
    size = [int(np.ceil(v)) if ceil else int(v) for v in size]
    size = [o - 1 if ceil and (o - 1) * s[a] >= x.shape[2 + a] + pads[a] else o for a, o in enumerate(size)]
    y = np.zeros(x.shape[:2] + tuple(size))
    for oy in range(size[0]):
        for ox in range(size[1]):
            vals, cnt = [], 0
            for i in range(k[0]):
                for j in range(k[1]):
                    py, px = oy * s[0] - pads[0] + i * d[0], ox * s[1] - pads[1] + j * d[1]
                    inside = 0 <= py < x.shape[2] and 0 <= px < x.shape[3]
                    vals += [x[:, :, py, px]] if inside else []
                    cnt += inside or (counted and -pads[0] <= py < x.shape[2] + pads[2] and -pads[1] <= px < x.shape[3] + pads[3])
            y[:, :, oy, ox] = np.max(vals, 0) if mx else np.sum(vals, 0) / cnt
    return y
x = np.random.RandomState(1).randn(3, 2, 9, 10).astype(np.float32)
wants = [pool(x, [3, 2], [2, 3], [2, 1], [1, 2, 2, 1]), pool(x, [3, 2], [2, 3], [1, 2], [1, 0, 2, 1], counted=1),
         pool(x, [3, 3], [2, 2], [2, 2], [1, 1, 1, 1], ceil=1, mx=True)]
for backend in ("llvm", "c"):
    for i, (got, want) in enumerate(zip(nnc.load("%s/dilated_%s.so" % (tmp, backend)).predict_outputs([x]), wants)):
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
            print("FAIL: dilated window y%d (%s) differs from the loops'" % (i, backend))
            bad = 1
x = np.array([[1, np.nan, np.inf, -np.inf]] * 5, np.float32)
got = nnc.load("%s/full.so" % tmp).predict(x)
if got.shape != (5, 3) or not np.all(got == 2.5):
    print("FAIL: the constant output as large as the batch is %s" % got)
    bad = 1
x, want = np.load("%s/cnn_x.npy" % m), np.load("%s/cnn_y.npy" % m)
got = nnc.load("%s/cnn_text.so" % tmp).predict(x)
if not np.array_equal(got, nnc.load("%s/cnn_llvm.so" % tmp).predict(x)):
    print("FAIL: .onnx -> .nn -> .so is not the .onnx's library")
    bad = 1
sys.exit(bad)
PY
finish
