# tools/nnc_torch.py against Debian's python3-torch: a convolutional model
# (conv2d, batch_norm, dense) and a sequence model (embedding, lstm, gru
# with reset_after, simple_rnn, layer_norm, dense) move their weights from an nnc
# library to PyTorch modules of the same layers, which then compute the
# library's predictions; weights changed in PyTorch come back as a weights
# file the library loads and agrees with; and the round trip keeps every
# bit.
. "$(dirname "$0")/../cli_lib.sh"
need_python torch
cat > "$tmp/img.nn" <<'NN'
model Img {
  input x: [8, 8, 3]
  conv2d(4, 3, activation: relu)
  batch_norm
  flatten
  dense(6, activation: tanh)
  dense(3)
}
NN
cat > "$tmp/seq.nn" <<'NN'
model Seq {
  input ids: i32[5]
  embedding(10, 4)
  lstm(6, return_sequences: true)
  gru(5, reset_after: true, return_sequences: true)
  simple_rnn(4)
  layer_norm
  dense(2)
}
NN
for m in img seq; do
  "$nnc" "$tmp/$m.nn" -O0 -o "$tmp/$m.so" || fail "building $m.so failed"
done
cat > "$tmp/t.py" <<'PY'
import sys
import numpy as np
import torch
from torch import nn
import nnc
import nnc_torch

tmp = sys.argv[1]
bad = []
torch.manual_seed(0)
rng = np.random.default_rng(0)

class Img(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, eps=1e-3)
        self.d1, self.d2 = nn.Linear(6 * 6 * 4, 6), nn.Linear(6, 3)
    def forward(self, x):  # x NHWC, as nnc's
        y = self.bn(torch.relu(self.conv(x.permute(0, 3, 1, 2))))
        return self.d2(torch.tanh(self.d1(y.permute(0, 2, 3, 1).flatten(1))))

class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.gru = nn.GRU(6, 5, batch_first=True)
        self.rnn = nn.RNN(5, 4, batch_first=True)
        self.norm = nn.LayerNorm(4)
        self.d = nn.Linear(4, 2)
    def forward(self, ids):
        h, _ = self.lstm(self.emb(ids.long()))
        h, _ = self.gru(h)
        h, _ = self.rnn(h)
        return self.d(self.norm(h[:, -1]))

for name, module, x in (("img", Img(), rng.standard_normal((7, 8, 8, 3)).astype(np.float32)),
                        ("seq", Seq(), rng.integers(0, 10, (7, 5)).astype(np.int32))):
    module.eval()
    m = nnc.load("%s/%s.so" % (tmp, name), seed=3)
    if name == "img":  # batch statistics other than the initial ones
        m.set_param("batch_norm1.moving_mean", rng.standard_normal(4).astype(np.float32) * 0.1)
        m.set_param("batch_norm1.moving_var", rng.random(4).astype(np.float32) + 0.5)
    w = "%s/%s_w.safetensors" % (tmp, name)
    m.save_weights(w)
    nnc_torch.to_torch(w, module)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    if not np.allclose(got, m.predict(x), rtol=1e-5, atol=1e-6):
        bad.append("%s: PyTorch with nnc's weights gives %s, nnc %s" % (name, got[0], m.predict(x)[0]))
    back = "%s/%s_back.safetensors" % (tmp, name)
    nnc_torch.from_torch(module, w, back)
    a, _ = nnc_torch.read(w)
    b, _ = nnc_torch.read(back)
    if list(a) != list(b) or any(not np.array_equal(a[k], b[k]) for k in a):
        bad.append("%s: the round trip changed the weights" % name)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
        want = module(torch.from_numpy(x)).numpy()
    changed = "%s/%s_changed.safetensors" % (tmp, name)
    nnc_torch.from_torch(module, w, changed)
    m.load(changed)
    if not np.allclose(want, m.predict(x), rtol=1e-5, atol=1e-6):
        bad.append("%s: nnc with PyTorch's changed weights gives %s, PyTorch %s" % (name, m.predict(x)[0], want[0]))
    try:
        nnc_torch.to_torch(w, nn.Sequential(nn.Linear(3, 3)))
        bad.append("%s: a module of other layers was taken" % name)
    except ValueError as e:
        print("ValueError:", e)
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
PYTHONPATH="$src/python:$src/tools" "$py" "$tmp/t.py" "$tmp" > "$tmp/py.out" 2>&1 || fail "$(cat "$tmp/py.out")"
exit $failed
