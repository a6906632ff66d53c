"""nnc checkpoints and PyTorch modules of the same layers (docs/python.md,
"PyTorch"): numpy and Debian's python3-torch, no nnc library needed.

    import nnc_torch
    nnc_torch.to_torch("ck.safetensors", module)               # nnc -> module's parameters
    nnc_torch.from_torch(module, "ck.safetensors", "w.safetensors")  # and back, a weights file

or from the shell: python3 nnc_torch.py show ck.safetensors

The nnc model's layers pair with the module's leaf modules that hold
parameters, in order: dense with nn.Linear, conv2d with nn.Conv2d,
embedding with nn.Embedding, simple_rnn with nn.RNN, lstm with nn.LSTM,
gru (reset_after: true) with nn.GRU, batch_norm with nn.BatchNorm1d/2d,
layer_norm with nn.LayerNorm. Layouts: nnc's dense W is [in, out]
(Linear's weight is its transpose), conv2d's W [kh, kw, in, out] (Conv2d's
[out, in, kh, kw]); recurrent W, U are [in, gates*units] (PyTorch's
weight_ih_l0, weight_hh_l0 their transposes), with one bias b where
PyTorch has two (b_ih + b_hh); the LSTM's gates are i, f, g, o in both;
the GRU's are z, r, h in nnc and r, z, n in PyTorch, with rb the recurrent
bias. A checkpoint's optimizer slots are not carried over.
"""
import json
import struct
import sys

import numpy as np

_DT = {"F32": np.float32, "F64": np.float64}


def read(path):
    """A safetensors file as (dict name -> array in the file's order, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    n, = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b0, b1 = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b0:8 + n + b1], dtype=_DT[e["dtype"]]).reshape(e["shape"]).copy()
    return out, meta


def write(path, tensors):
    """An nnc weights-only file of the tensors (name -> array), in order."""
    header, at, blobs = {"__metadata__": {"format": "nnc", "kind": "weights"}}, 0, []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}[a.dtype]
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        blobs.append(a.tobytes())
        at += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def _layers(tensors):
    """The model's own tensors grouped by layer ("dense1.W" -> "dense1"), in
    order; an optimizer's slots ("adam.m.dense1.W") left out."""
    groups = {}
    for name, a in tensors.items():
        if name.count(".") == 1:
            layer, p = name.split(".")
            groups.setdefault(layer, {})[p] = name
    return list(groups.items())


def _leaves(module):
    return [m for m in module.modules() if not list(m.children()) and
            (list(m.parameters(recurse=False)) or list(m.buffers(recurse=False)))]


def _gru_swap(a, axis):
    """z, r, h blocks <-> r, z, n: the first two swapped (its own inverse)."""
    z, r, h = np.split(a, 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def _pairs(tensors, module):
    layers, leaves = _layers(tensors), _leaves(module)
    if len(layers) != len(leaves):
        raise ValueError("the checkpoint has %d layers (%s), the module %d with parameters (%s)" % (
            len(layers), ", ".join(l for l, _ in layers), len(leaves), ", ".join(type(m).__name__ for m in leaves)))
    return zip(layers, leaves)


def _mapping(kind, names):
    """(nnc tensor, torch attribute, to_torch, from_torch) for a layer."""
    t = lambda a: a.T  # noqa: E731
    same = lambda a: a  # noqa: E731
    conv_to = lambda a: a.transpose(3, 2, 0, 1)  # noqa: E731
    conv_from = lambda a: a.transpose(2, 3, 1, 0)  # noqa: E731
    if kind == "Linear":
        return [("W", "weight", t, t), ("b", "bias", same, same)]
    if kind == "Conv2d":
        return [("W", "weight", conv_to, conv_from), ("b", "bias", same, same)]
    if kind == "Embedding":
        return [("W", "weight", same, same)]
    if kind in ("RNN", "LSTM"):
        return [("W", "weight_ih_l0", t, t), ("U", "weight_hh_l0", t, t), ("b", "bias_ih_l0", same, None),
                (None, "bias_hh_l0", None, None)]
    if kind == "GRU":
        if "rb" not in names:
            raise ValueError("a gru without reset_after: true has no PyTorch equivalent (nn.GRU resets after the product)")
        sw_t = lambda a: _gru_swap(a.T, 0)  # noqa: E731
        sw_back = lambda a: _gru_swap(a, 0).T  # noqa: E731
        sw = lambda a: _gru_swap(a, 0)  # noqa: E731
        return [("W", "weight_ih_l0", sw_t, sw_back), ("U", "weight_hh_l0", sw_t, sw_back), ("b", "bias_ih_l0", sw, sw),
                ("rb", "bias_hh_l0", sw, sw)]
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return [("gamma", "weight", same, same), ("beta", "bias", same, same),
                ("moving_mean", "running_mean", same, same), ("moving_var", "running_var", same, same)]
    if kind == "LayerNorm":
        return [("gamma", "weight", same, same), ("beta", "bias", same, same)]
    raise ValueError("no mapping for %s" % kind)


def to_torch(path, module):
    """Sets the module's parameters (and batch-norm statistics) from an nnc
    checkpoint or weights file."""
    import torch
    tensors, _ = read(path)
    for (layer, names), m in _pairs(tensors, module):
        for ours, attr, to, _ in _mapping(type(m).__name__, names):
            target = getattr(m, attr)
            if ours is None:  # the second bias PyTorch adds: ours is one
                value = np.zeros(tuple(target.shape))
            elif ours not in names:
                if target is None:
                    continue
                raise ValueError("%s (%s) has %s, which %s lacks" % (layer, type(m).__name__, attr, layer))
            else:
                value = to(tensors[names[ours]])
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError("%s.%s is %s for %s.%s of shape %s" % (layer, ours, value.shape,
                                                                        type(m).__name__, attr, tuple(target.shape)))
            with torch.no_grad():
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def from_torch(module, template, path):
    """Writes a weights file of the module's parameters in the layout and
    order of the nnc checkpoint `template` (its other tensors as they are)."""
    tensors, _ = read(template)
    out = {k: v for k, v in tensors.items() if k.count(".") == 1}
    for (layer, names), m in _pairs(tensors, module):
        table = _mapping(type(m).__name__, names)
        extra = {attr: getattr(m, attr).detach().cpu().numpy() for ours, attr, _, _ in table if ours is None}
        for ours, attr, _, back in table:
            if ours is None or ours not in names:
                continue
            value = getattr(m, attr).detach().cpu().numpy()
            if back is None:  # one bias from PyTorch's two
                value = value + sum(extra.values())
            else:
                value = back(value)
            out[names[ours]] = np.asarray(value, dtype=tensors[names[ours]].dtype).reshape(tensors[names[ours]].shape)
    write(path, out)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "show":
        sys.exit("usage: nnc_torch.py show FILE.safetensors")
    tensors, meta = read(sys.argv[2])
    print(meta)
    for name, a in tensors.items():
        print("%-32s %s %s" % (name, a.dtype, list(a.shape)))
