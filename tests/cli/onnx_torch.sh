# Models exported by PyTorch (tools/onnx_torch_models.py; committed with
# their inputs and PyTorch's outputs, so no PyTorch is needed here): each
# compiles with both backends and gives PyTorch's outputs within 1e-4
# relative: an MLP, a CNN, a small ResNet, a Transformer encoder, a small
# U-Net with a transposed convolution and a bilinear upsampling, an LSTM
# classifier with PyTorch's defaults (time-major: its input is [T, N, F],
# as ONNX Runtime takes it) and a GRU classifier (batch first, two layers,
# both directions, the final states), a ViT's input (a class token
# expanded to the batch and concatenated before the sequence), an LSTM of
# two layers and both directions whose initial states are inputs
# ([4, N, 5] each: the batch second, as PyTorch has them), resizes by
# 1.5 (bilinear, align_corners), to a size (nearest, bilinear) and by 0.5
# (bicubic). The encoder's batch-first attention merges the batch with the
# heads ([T, N * heads, D / heads]): it runs at any batch (1, 3, 4 and 8
# samples here, each sample's outputs PyTorch's), also pre-norm with a
# causal mask, and over a sequence of one step.
. "$(dirname "$0")/../cli_lib.sh"
need_python
models="$src/tests/onnx/torch"
for model in mlp cnn resnet transformer unet lstm gru tokens lstm_state scaler causal one_token; do
  for backend in llvm c; do
    expect 0 "$nnc" "$models/$model.onnx" --backend=$backend --inference-only --no-explain -o "$tmp/${model}_$backend.so"
  done
done
PYTHONPATH="$src/python" "$py" - "$models" "$tmp" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
m, tmp = sys.argv[1], sys.argv[2]
bad = 0
for model in ("mlp", "cnn", "resnet", "transformer", "unet", "lstm", "gru", "tokens", "lstm_state", "scaler", "causal",
              "one_token"):
    x, want = np.load("%s/%s_x.npy" % (m, model)), np.load("%s/%s_y.npy" % (m, model))
    for backend in ("llvm", "c"):
        lib = nnc.load("%s/%s_%s.so" % (tmp, model, backend))
        more = [np.load("%s/%s_x%d.npy" % (m, model, i)) for i in (1, 2) if model == "lstm_state"]
        got = lib.predict_outputs([x] + more)[0]
        err = np.max(np.abs(got - want) / (np.abs(want) + 1e-3))
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            print("FAIL: %s (%s): relative error %g" % (model, backend, err))
            bad = 1
        if model in ("transformer", "causal", "one_token"):  # other batches: each sample's outputs
            for xs, ws in ((x[:1], want[:1]), (x[:3], want[:3]), (np.concatenate([x, x[::-1]]), np.concatenate([want, want[::-1]]))):
                if not np.allclose(lib.predict(xs), ws, rtol=1e-4, atol=1e-5):
                    print("FAIL: %s (%s) at a batch of %d" % (model, backend, len(xs)))
                    bad = 1
sys.exit(bad)
PY
finish
