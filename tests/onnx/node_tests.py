#!/usr/bin/python3
"""Runs ONNX's backend tests (Debian's libonnx-testdata) through nnc.

    /usr/bin/python3 tests/onnx/node_tests.py NNC OUTDIR [PATTERN...] [--backend c|llvm|both]

Each test's model.onnx is compiled by NNC into a shared library (the
backends alternate from test to test unless --backend says one), run on
test_data_set_0's inputs with the nnc Python package (the C backend at
-O0, whose compile dominates the run, the LLVM one at -O1), and its outputs are
compared with the expected ones within ONNX's tolerance (rtol 1e-3, atol
1e-7; integers exactly). PATTERN selects tests by glob (default: the
families listed in FAMILIES). A test is

  pass         its outputs match;
  fail         nnc compiled it and the outputs differ, or the library
               failed, or nnc reported anything but "not supported";
  unsupported  nnc said which op, attribute or form is not supported: the
               reason is printed.

The node tests pass every tensor as a graph input, weights included; nnc
needs weights, shapes and axes known when it compiles (they become
parameters or are folded), so the inputs that an op reads as such (a
Conv's W and B, a Reshape's shape, ...: KNOWN below) are made initializers
of a copy of the model, with the test's values, before it is compiled.
Prints one line a test and a table a family; exits 1 when a test fails.
"""
import fnmatch
import glob
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
import nnc  # noqa: E402

DATA = "/usr/share/libonnx-testdata/data"

# node inputs read as known values: op -> input indices
KNOWN = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "BatchNormalization": (1, 2, 3, 4),
    "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2), "Reshape": (1,), "Slice": (1, 2, 3, 4),
    "Unsqueeze": (1,), "Squeeze": (1,), "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,),
    "ReduceMin": (1,), "ReduceProd": (1,), "ReduceL1": (1,), "ReduceL2": (1,), "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,), "ReduceLogSum": (1,), "Clip": (1, 2), "PRelu": (1,), "Gather": (1,), "GatherElements": (1,),
    "ConstantOfShape": (0,), "Pad": (1, 2), "Resize": (1, 2, 3), "Upsample": (1,), "Expand": (1,), "Tile": (1,),
    "Split": (1,), "TopK": (1,), "Range": (0, 1, 2), "OneHot": (1, 2), "Dropout": (1, 2), "Embedding": (0,),
    "LSTM": (1, 2, 3, 4, 5, 6, 7), "GRU": (1, 2, 3, 4, 5), "RNN": (1, 2, 3, 4, 5),
}

# the families the conformance table reports, by test name prefix
FAMILIES = [
    "abs", "acos", "add", "and", "argmax", "asin", "atan", "averagepool", "basic_conv", "batchnorm", "cast",
    "ceil", "celu", "clip", "concat", "constant", "constantofshape", "conv", "convtranspose", "cos", "div",
    "dropout", "elu", "equal", "erf", "exp", "expand", "flatten", "floor", "gather", "gemm", "globalaveragepool",
    "globalmaxpool", "greater", "gru", "hardsigmoid", "hardswish", "identity", "instancenorm", "layer_normalization",
    "leakyrelu", "less", "log",
    "logsoftmax", "lstm", "matmul", "max", "maxpool", "mean", "min", "mul", "neg", "pad", "pow", "prelu",
    "reciprocal", "reduce", "relu", "reshape", "resize", "rnn", "selu", "shape", "sigmoid", "sign", "sin",
    "simple_rnn", "slice", "softmax", "softplus", "softsign", "split", "sqrt", "squeeze", "sub", "sum", "tanh",
    "transpose",
    "unsqueeze", "where",
]


def family(name):
    base = name[5:] if name.startswith("test_") else name
    if base in ("constant_pad", "edge_pad", "reflect_pad"):
        return "pad"
    best = None
    for f in FAMILIES:
        if base == f or base.startswith(f + "_") or (f == "reduce" and base.startswith("reduce")):
            if best is None or len(f) > len(best):
                best = f
    return best


def prepare(test_dir, out_dir):
    """A copy of the model with KNOWN inputs as initializers; returns the
    path and the runtime inputs' names."""
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    g = model.graph
    inits = {t.name for t in g.initializer}
    names = [i.name for i in g.input if i.name not in inits]
    data_dir = os.path.join(test_dir, "test_data_set_0")
    values = {}
    for k, n in enumerate(names):
        p = os.path.join(data_dir, "input_%d.pb" % k)
        try:
            values[n] = numpy_helper.to_array(onnx.load_tensor(p))
        except Exception:  # a sequence, an optional, ...: nnc refuses the model
            pass
    known = set()
    for node in g.node:
        for k in KNOWN.get(node.op_type, ()):
            if node.op_type == "Gather" and node.input[0] in inits:
                continue  # a lookup in a table of weights (an embedding): the ids stay inputs
            if k < len(node.input) and node.input[k] in values:
                known.add(node.input[k])
    keep = [i for i in g.input if i.name not in known]
    for n in sorted(known):
        g.initializer.append(numpy_helper.from_array(values[n], n))
    del g.input[:]
    g.input.extend(keep)
    path = os.path.join(out_dir, "model.onnx")
    onnx.save(model, path)
    runtime = [n for n in names if n not in known]
    return path, [values.get(n) for n in runtime]


def expected(test_dir, count):
    d = os.path.join(test_dir, "test_data_set_0")
    return [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_%d.pb" % k))) for k in range(count)]


def feed(t, a):
    """An ONNX array for nnc's input t: as it is when the first axis is the
    batch, with a sample axis added when the whole tensor is one sample."""
    if a.dtype.kind == "b":
        a = a.astype(np.float32)  # nnc's booleans are 0 and 1 in float
    elif a.dtype.kind in "iu":
        a = a.astype(np.int32)
    if len(t.shape) == a.ndim + 1:
        a = a[None]
    return a


def run_test(nncexe, test_dir, out_dir, backend):
    os.makedirs(out_dir, exist_ok=True)
    path, inputs = prepare(test_dir, out_dir)
    lib = os.path.join(out_dir, "model.so")
    cmd = [nncexe, path, "-o", lib, "-O0" if backend == "c" else "-O1", "--backend=" + backend, "--inference-only",
           "--no-explain"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[0]
        msg = msg.split("): ", 1)[-1] if "not supported" in msg else msg
        return ("unsupported" if "not supported" in msg else "fail"), msg
    try:
        m = nnc.load(lib)
        xs = [feed(t, a) for t, a in zip(m.inputs, inputs)]
        outs = m.predict_outputs(xs if len(xs) > 1 else xs[0])
    except Exception as e:  # the library's or the package's error
        return "fail", "run: %s" % e
    try:
        want = expected(test_dir, len(outs))
    except Exception as e:
        return "fail", "the expected outputs: %s" % e
    for k, (o, w) in enumerate(zip(outs, want)):
        if o.size != w.size:
            return "fail", "output %d has %d values, ONNX's %d" % (k, o.size, w.size)
        o = o.reshape(w.shape)
        if w.dtype.kind in "iub":
            ok = np.array_equal(o.astype(np.int64), w.astype(np.int64))
        else:
            ok = np.allclose(o, w, rtol=1e-3, atol=1e-7, equal_nan=True)
        if not ok:
            err = np.max(np.abs(o.astype(np.float64) - w.astype(np.float64)))
            return "fail", "output %d differs by up to %.3g" % (k, err)
    return "pass", ""


def main(argv):
    backend = "both"
    if "--backend" in argv:
        i = argv.index("--backend")
        backend = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) < 3:
        print(__doc__)
        return 2
    nncexe, out_root, patterns = argv[1], argv[2], argv[3:]
    tests = []
    for suite in ("node", "pytorch-converted", "pytorch-operator"):
        for d in sorted(glob.glob(os.path.join(DATA, suite, "test_*"))):
            name = os.path.basename(d)
            fam = family(name) if suite == "node" else suite
            if patterns:
                if not any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(suite + "/" + name, p) for p in patterns):
                    continue
            elif fam is None:
                continue
            tests.append((suite, name, d, fam or suite))
    counts, failed = {}, 0
    for i, (suite, name, d, fam) in enumerate(tests):
        b = backend if backend != "both" else ("c" if i % 2 == 0 else "llvm")
        status, why = run_test(nncexe, d, os.path.join(out_root, suite, name), b)
        c = counts.setdefault(fam, {"pass": 0, "fail": 0, "unsupported": 0})
        c[status] += 1
        failed += status == "fail"
        print("%-11s %s/%s [%s]%s" % (status, suite, name, b, ": " + why if why else ""), flush=True)
    print("\n| family | pass | fail | unsupported |\n|---|---|---|---|")
    total = {"pass": 0, "fail": 0, "unsupported": 0}
    for fam in sorted(counts):
        c = counts[fam]
        for k in total:
            total[k] += c[k]
        print("| %s | %d | %d | %d |" % (fam, c["pass"], c["fail"], c["unsupported"]))
    print("| all | %d | %d | %d |" % (total["pass"], total["fail"], total["unsupported"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
