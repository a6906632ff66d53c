#!/usr/bin/python3
"""Writes the small ONNX files of tests/onnx/models (Debian's python3-onnx).

    /usr/bin/python3 tools/onnx_test_models.py tests/onnx/models

mlp.onnx, cnn.onnx and merged.onnx are models with a dynamic batch and seeded weights,
with an input batch (NAME_x.npy) and the outputs numpy computes for it
(NAME_y.npy); the others are bad input for the import's error tests.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    onnx.checker.check_model(model)
    onnx.save(model, path)


def tensor(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def mlp(out):
    rng = np.random.default_rng(1)
    w1, b1 = rng.normal(0, 0.5, (16, 8)), rng.normal(0, 0.1, 16)  # PyTorch's Linear: weight [out, in]
    w2, b2 = rng.normal(0, 0.5, (3, 16)), rng.normal(0, 0.1, 3)
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], name="/fc1/Gemm", transB=1),
        helper.make_node("Relu", ["h"], ["hr"], name="/relu/Relu"),
        helper.make_node("Gemm", ["hr", "fc2.weight", "fc2.bias"], ["z"], name="/fc2/Gemm", transB=1),
        helper.make_node("Softmax", ["z"], ["probs"], name="/softmax/Softmax", axis=1),
    ]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
                          [tensor("fc1.weight", w1), tensor("fc1.bias", b1), tensor("fc2.weight", w2),
                           tensor("fc2.bias", b2)])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnc tests"),
         os.path.join(out, "mlp.onnx"))
    x = rng.normal(0, 1, (5, 8)).astype(np.float32)
    w1, b1, w2, b2 = (a.astype(np.float32) for a in (w1, b1, w2, b2))
    z = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.save(os.path.join(out, "mlp_x.npy"), x)
    np.save(os.path.join(out, "mlp_y.npy"), (e / e.sum(axis=1, keepdims=True)).astype(np.float32))


def conv2d_nchw(x, w, b, pad):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, f, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,fc->nfhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return y + b[None, :, None, None]


def cnn(out):
    rng = np.random.default_rng(2)
    w, b = rng.normal(0, 0.3, (4, 3, 3, 3)), rng.normal(0, 0.1, 4)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.1, 4)
    mean, var = rng.normal(0, 0.1, 4), rng.uniform(0.5, 1.5, 4)
    wd, bd = rng.normal(0, 0.3, (2, 4 * 3 * 3)), rng.normal(0, 0.1, 2)
    nodes = [
        helper.make_node("Conv", ["img", "conv.weight", "conv.bias"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
                         ["bn"], name="/bn/BatchNormalization", epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["r"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="/Flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", 3, 6, 6])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
                          [tensor("conv.weight", w), tensor("conv.bias", b), tensor("bn.weight", gamma),
                           tensor("bn.bias", beta), tensor("bn.running_mean", mean), tensor("bn.running_var", var),
                           tensor("fc.weight", wd), tensor("fc.bias", bd)])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnc tests"),
         os.path.join(out, "cnn.onnx"))
    x = rng.normal(0, 1, (3, 3, 6, 6)).astype(np.float32)
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    y = conv2d_nchw(x.astype(np.float64), f32(w), f32(b), 1)
    s = lambda a: f32(a)[None, :, None, None]  # noqa: E731
    y = np.maximum((y - s(mean)) / np.sqrt(s(var) + 1e-5) * s(gamma) + s(beta), 0)
    y = y.reshape(3, 4, 3, 2, 3, 2).max(axis=(3, 5)).reshape(3, -1)
    np.save(os.path.join(out, "cnn_x.npy"), x)
    np.save(os.path.join(out, "cnn_y.npy"), (y @ f32(wd).T + f32(bd)).astype(np.float32))


def bad(out):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    op13 = [helper.make_opsetid("", 13)]
    g = helper.make_graph([helper.make_node("FooBar", ["x"], ["y"], name="mystery")], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "unknown_op.onnx"))
    # a node name with a terminal's escape sequence, an op nnc lacks
    g = helper.make_graph([helper.make_node("FooBar", ["x"], ["y"], name="\x1b[31mred")], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "control_name.onnx"))
    # a cycle: a reads b, b reads a
    g = helper.make_graph([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                           helper.make_node("Relu", ["a"], ["b"], name="second"),
                           helper.make_node("Identity", ["b"], ["y"], name="last")], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "cycle.onnx"))
    # weights stored outside the model's folder
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add_w")], "g", [x], [y], [w])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "external_escape.onnx"))
    # asymmetric padding: explicit zeros before nnc's symmetric conv2d
    img = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", 1, 5, 5])
    o = helper.make_tensor_value_info("o", TensorProto.FLOAT, ["N", 1, 5, 5])
    g = helper.make_graph([helper.make_node("Conv", ["img", "k"], ["o"], name="odd_pad", pads=[0, 0, 2, 2],
                                            kernel_shape=[3, 3])], "g", [img], [o],
                          [tensor("k", np.ones((1, 1, 3, 3)))])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "asymmetric_pad.onnx"))
    # an LSTM whose last cell state is an output (nnc's lstm returns the states h);
    # a GRU whose X is batch first but whose layout says time-major is fine, its
    # activations are not ONNX's defaults
    seq = helper.make_tensor_value_info("seq", TensorProto.FLOAT, [5, "N", 3])
    yc = helper.make_tensor_value_info("yc", TensorProto.FLOAT, [1, "N", 2])
    r = np.random.RandomState(0)
    g = helper.make_graph([helper.make_node("LSTM", ["seq", "W", "R"], ["", "", "yc"], name="cell_out", hidden_size=2)],
                          "g", [seq], [yc], [tensor("W", r.randn(1, 8, 3)), tensor("R", r.randn(1, 8, 2))])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "lstm_cell_output.onnx"))
    yh = helper.make_tensor_value_info("yh", TensorProto.FLOAT, [1, "N", 2])
    g = helper.make_graph([helper.make_node("GRU", ["seq", "W", "R"], ["", "yh"], name="relu_gru", hidden_size=2,
                                            activations=["Relu", "Tanh"])],
                          "g", [seq], [yh], [tensor("W", r.randn(1, 6, 3)), tensor("R", r.randn(1, 6, 2))])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "gru_activations.onnx"))
    g = helper.make_graph([helper.make_node("LSTM", ["seq", "W", "R"], ["", "yh"], name="short_w", hidden_size=2)],
                          "g", [seq], [yh], [tensor("W", r.randn(1, 6, 3)), tensor("R", r.randn(1, 8, 2))])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "lstm_bad_weights.onnx"))
    # dilated windows: averages (padding excluded and counted, opset 19) and a max with ceil_mode
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 9, 10])
    ys = [helper.make_tensor_value_info("y%d" % i, TensorProto.FLOAT, None) for i in range(3)]
    g = helper.make_graph([helper.make_node("AveragePool", ["x"], ["y0"], kernel_shape=[3, 2], dilations=[2, 3],
                                            strides=[2, 1], pads=[1, 2, 2, 1]),
                           helper.make_node("AveragePool", ["x"], ["y1"], kernel_shape=[3, 2], dilations=[2, 3],
                                            strides=[1, 2], pads=[1, 0, 2, 1], count_include_pad=1),
                           helper.make_node("MaxPool", ["x"], ["y2"], kernel_shape=[3, 3], dilations=[2, 2],
                                            strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)], "g", [x], ys)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]), os.path.join(out, "dilated_pools.onnx"))
    # torch.full((x.shape[0], 3), 2.5) as an output: a constant as large as the batch
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3])
    g = helper.make_graph([helper.make_node("Shape", ["x"], ["s"]),
                           helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
                           helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
                           helper.make_node("Concat", ["n1", "three"], ["sz"], axis=0),
                           helper.make_node("ConstantOfShape", ["sz"], ["z"],
                                            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.5]))],
                          "g", [x], [z], [helper.make_tensor("zero", TensorProto.INT64, [], [0]),
                                          helper.make_tensor("zero1", TensorProto.INT64, [1], [0]),
                                          helper.make_tensor("three", TensorProto.INT64, [1], [3])])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "batch_constant_output.onnx"))
    # a softmax across the samples: the batch axis as data
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=0)], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "batch_as_data.onnx"))
    # x.reshape(x.shape[0] * 6, 4) as an output: the batch merged with the next axis
    x3 = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", 4])
    g = helper.make_graph([helper.make_node("Shape", ["x"], ["s"]),
                           helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
                           helper.make_node("Mul", ["n", "six"], ["n6"]),
                           helper.make_node("Unsqueeze", ["n6", "zero1"], ["n1"]),
                           helper.make_node("Concat", ["n1", "four"], ["sz"], axis=0),
                           helper.make_node("Reshape", ["x", "sz"], ["y"])],
                          "g", [x3], [y], [helper.make_tensor("zero", TensorProto.INT64, [], [0]),
                                           helper.make_tensor("zero1", TensorProto.INT64, [1], [0]),
                                           helper.make_tensor("six", TensorProto.INT64, [], [6]),
                                           helper.make_tensor("four", TensorProto.INT64, [1], [4])])
    onnx.save(helper.make_model(g, opset_imports=op13), os.path.join(out, "merged_output.onnx"))


def merged(out):
    """x.reshape(-1, 4) of [N, 6, 4], a Linear, relu, and back to [N, 18]."""
    rng = np.random.default_rng(3)
    w, b = rng.normal(0, 0.5, (3, 4)), rng.normal(0, 0.1, 3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 18])
    g = helper.make_graph([helper.make_node("Reshape", ["x", "rows"], ["r"]),
                           helper.make_node("Gemm", ["r", "w", "b"], ["h"], transB=1),
                           helper.make_node("Relu", ["h"], ["a"]),
                           helper.make_node("Shape", ["x"], ["s"]),
                           helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
                           helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
                           helper.make_node("Concat", ["n1", "minus1"], ["sz"], axis=0),
                           helper.make_node("Reshape", ["a", "sz"], ["y"])],
                          "g", [x], [y], [helper.make_tensor("rows", TensorProto.INT64, [2], [-1, 4]),
                                          tensor("w", w), tensor("b", b),
                                          helper.make_tensor("zero", TensorProto.INT64, [], [0]),
                                          helper.make_tensor("zero1", TensorProto.INT64, [1], [0]),
                                          helper.make_tensor("minus1", TensorProto.INT64, [1], [-1])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnc tests"),
         os.path.join(out, "merged.onnx"))
    xs = rng.normal(0, 1, (5, 6, 4)).astype(np.float32)
    h = xs.reshape(-1, 4).astype(np.float64) @ np.float32(w).T.astype(np.float64) + np.float32(b)
    np.save(os.path.join(out, "merged_x.npy"), xs)
    np.save(os.path.join(out, "merged_y.npy"), np.maximum(h, 0).reshape(5, 18).astype(np.float32))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/onnx/models"
    os.makedirs(out, exist_ok=True)
    mlp(out)
    cnn(out)
    merged(out)
    bad(out)
