#!/usr/bin/python3
"""Exports small PyTorch models to ONNX for tests/onnx/torch (Debian's
python3-torch): each NAME.onnx with a dynamic batch, an input batch
NAME_x.npy and PyTorch's outputs for it, NAME_y.npy. The suite compares
nnc's outputs with these files and needs no PyTorch.

    /usr/bin/python3 tools/onnx_torch_models.py tests/onnx/torch
"""
import os
import sys

import numpy as np
import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 5),
                                 nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c_out)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c_out)
        self.short = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                      if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.short(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layers = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class CNN(nn.Module):  # the seed CNN's shape at a smaller size, pooling and dropout as exported
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                               nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 2 * 2, 10),
                               nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.f(x)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Linear(6, 16)
        self.enc = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        return self.out(self.enc(self.emb(x)).mean(dim=1))


class CausalEncoder(nn.Module):  # pre-norm, a causal mask (a constant [1, T, T] beside the heads' scores)
    def __init__(self):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=True)
        self.register_buffer("mask", torch.triu(torch.full((5, 5), float("-inf")), 1))

    def forward(self, x):
        return self.enc(x, src_mask=self.mask).flatten(1)


class OneToken(nn.Module):  # attention over a sequence of one step: a decoder's next token
    def __init__(self):
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.att(x, x, x, need_weights=False)[0].flatten(1)


class UNet(nn.Module):  # two levels: a transposed convolution up, a bilinear upsampling up, skip concatenations
    def __init__(self):
        super().__init__()
        conv = lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU())  # noqa: E731
        self.d1, self.d2, self.mid = conv(3, 8), conv(8, 16), conv(16, 16)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(16, 16, 2, stride=2)
        self.u2 = conv(32, 8)
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.u1 = conv(16, 8)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(self.pool(a))
        m = self.mid(self.pool(b))
        u = self.u2(torch.cat([self.up2(m), b], 1))
        return self.out(self.u1(torch.cat([self.up1(u), a], 1)))


class LSTMClassifier(nn.Module):  # PyTorch's defaults: time-major [T, N, F], the last step classified
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, 12)
        self.fc = nn.Linear(12, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[-1])


class GRUClassifier(nn.Module):  # batch first, two layers, both directions, the final states classified
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(6, 10, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(torch.cat([h[-2], h[-1]], 1))


class Tokens(nn.Module):  # a ViT's input: a class token expanded to the batch, a learned position table
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 8)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.pos = nn.Parameter(torch.randn(1, 5, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), self.proj(x)], 1) + self.pos
        return self.head(torch.tanh(h).mean(1) + h[:, 0])


class LSTMState(nn.Module):  # time-major, two layers, both directions, the initial states given as inputs
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, 5, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(10, 3)

    def forward(self, x, h0, c0):
        y, _ = self.rnn(x, (h0, c0))
        return self.fc(y[-1])


class Scaler(nn.Module):  # resizes by factors that are not whole, by a size, down, bicubic
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        f = nn.functional.interpolate
        a = f(torch.relu(self.c1(x)), scale_factor=1.5, mode="bilinear", align_corners=True)
        b = f(self.c2(a), size=(7, 5), mode="nearest")
        return f(b, scale_factor=0.5, mode="bicubic", align_corners=False) + f(b, size=(3, 2), mode="bilinear")


MODELS = {
    "mlp": (MLP, (20,)),
    "cnn": (CNN, (3, 14, 14)),
    "resnet": (ResNet, (3, 16, 16)),
    "transformer": (Encoder, (7, 6)),
    "unet": (UNet, (3, 16, 16)),
    "lstm": (LSTMClassifier, (9, 6)),  # [T, F] of each sample: the batch goes second
    "gru": (GRUClassifier, (9, 6)),
    "tokens": (Tokens, (4, 6)),
    "lstm_state": (LSTMState, (7, 6)),  # and h0, c0 [4, N, 5]: inputs x, x1, x2
    "scaler": (Scaler, (3, 6, 8)),
    "causal": (CausalEncoder, (5, 16)),
    "one_token": (OneToken, (1, 8)),
}
TIME_MAJOR = {"lstm", "lstm_state"}


def export(name, out):
    torch.manual_seed(0)
    cls, shape = MODELS[name]
    m = cls().eval()
    for mod in m.modules():  # running statistics that are not 0 and 1
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
    x = torch.randn((4,) + shape)
    if name in TIME_MAJOR:
        x = x.transpose(0, 1).contiguous()
    xs = (x, torch.randn(4, 4, 5), torch.randn(4, 4, 5)) if name == "lstm_state" else (x,)
    names = ["x", "x1", "x2"][:len(xs)]
    with torch.no_grad():
        y = m(*xs)
    path = os.path.join(out, name + ".onnx")
    axes = {n: {1: "batch"} for n in names[1:]}
    axes.update({"x": {1 if name in TIME_MAJOR else 0: "batch"}, "y": {0: "batch"}})
    torch.onnx.export(m, xs, path, input_names=names, output_names=["y"], opset_version=14, dynamic_axes=axes)
    for n, a in zip(names, xs):
        np.save(os.path.join(out, "%s_%s.npy" % (name, n)), a.numpy())
    np.save(os.path.join(out, name + "_y.npy"), y.numpy())


def digits():
    """The shipped MNIST digits (examples/data), scaled to [0, 1]."""
    import gzip
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "data")
    with gzip.open(os.path.join(root, "mnist-images.idx.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
    with gzip.open(os.path.join(root, "mnist-labels.idx.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


def mnist_pretrained(out):
    """An MNIST MLP trained for one epoch on the first 1,000 digits (SGD),
    below 90% on the held-out last 2,000, for the fine-tuning test."""
    torch.manual_seed(0)
    x, y = digits()
    m = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10), nn.Softmax(dim=1))
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    xt, yt = torch.from_numpy(x[:1000]), torch.from_numpy(y[:1000])
    for i in range(0, 1000, 10):
        opt.zero_grad()
        loss = nn.functional.nll_loss(torch.log(m(xt[i:i + 10]) + 1e-9), yt[i:i + 10])
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        acc = (m(torch.from_numpy(x[-2000:])).argmax(1).numpy() == y[-2000:]).mean()
    print("mnist_pretrained: held-out accuracy %.4f" % acc)
    torch.onnx.export(m, xt[:2], os.path.join(out, "mnist_pretrained.onnx"), input_names=["pixels"],
                      output_names=["probs"], opset_version=13, dynamic_axes={"pixels": {0: "N"}, "probs": {0: "N"}})


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/onnx/torch"
    os.makedirs(out, exist_ok=True)
    for name in sys.argv[2:] or list(MODELS) + ["mnist_pretrained"]:
        mnist_pretrained(out) if name == "mnist_pretrained" else export(name, out)
