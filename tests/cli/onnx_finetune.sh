# Fine-tuning an imported model (docs/onnx.md): tests/onnx/torch/
# mnist_pretrained.onnx is an MNIST MLP PyTorch trained for one epoch on
# the first 1,000 shipped digits (tools/onnx_torch_models.py), below 90% on
# the held-out last 2,000; a .nn train block that imports it trains it on
# the shipped digits to at least 95% held-out, starting from its weights
# (the program's first evaluation is the imported model's).
. "$(dirname "$0")/../cli_lib.sh"
need_python
mnist_idx
cp "$src/tests/onnx/torch/mnist_pretrained.onnx" "$tmp/"
cat > "$tmp/tune.nn" <<'NN'
import "mnist_pretrained.onnx" as Pretrained

train Pretrained {
  data       idx(images: "mnist-images.idx", labels: "mnist-labels.idx", scale: 1 / 255, one_hot: true)
  loss       categorical_crossentropy
  optimizer  sgd(lr: 0.1, momentum: 0.9)
  epochs     15
  batch      32
  validation 0.2
  metrics    accuracy
}
NN
expect 0 "$nnc" "$tmp/tune.nn" -o "$tmp/tune"
(cd "$tmp" && ./tune --save tuned.safetensors > run.txt 2>&1) || fail "fine-tuning failed: $(tail -3 "$tmp/run.txt")"
held_out_at_least "$tmp/run.txt" 2000 0.95 "the fine-tuned model's"
# exported back to ONNX with the tuned weights, and imported again
expect 0 "$nnc" "$tmp/tune.nn" --weights "$tmp/tuned.safetensors" -o "$tmp/tuned.onnx"
expect 0 "$nnc" "$tmp/tuned.onnx" -o "$tmp/tuned_again.so"
expect 0 "$nnc" "$tmp/tune.nn" --weights "$tmp/tuned.safetensors" --inference-only -o "$tmp/tuned.so"
# before: the imported model alone, on the same held-out digits
expect 0 "$nnc" "$tmp/mnist_pretrained.onnx" -o "$tmp/pre.so"
PYTHONPATH="$src/python" "$py" - "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "the pretrained model: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp = sys.argv[1]
x = np.fromfile(tmp + "/mnist-images.idx", np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
y = np.fromfile(tmp + "/mnist-labels.idx", np.uint8, offset=8)
acc = (nnc.load(tmp + "/pre.so").predict(x[-2000:]).argmax(1) == y[-2000:]).mean()
print("pretrained held-out accuracy %.4f" % acc)
import onnx
onnx.checker.check_model(onnx.load(tmp + "/tuned.onnx"))
tuned, again = nnc.load(tmp + "/tuned.so").predict(x[-2000:]), nnc.load(tmp + "/tuned_again.so").predict(x[-2000:])
print("re-imported: largest difference %g" % np.max(np.abs(tuned - again)))
sys.exit(0 if 0.5 < acc < 0.9 and np.allclose(tuned, again, rtol=1e-5, atol=1e-7) else 1)
PY
finish
