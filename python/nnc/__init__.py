"""Models compiled by nnc, from Python: ctypes and numpy, nothing compiled.

    import nnc
    nnc.compile("model.nn", "model.so")          # runs the nnc installed with this package
    m = nnc.load("model.so")                    # the library's model (name= when it has several)
    probs = m.predict(x)                        # numpy arrays in, a numpy array out
    loss = m.train_step(x, y)
    m.save("ckpt.safetensors"); m.load("ckpt.safetensors")
    w = m.params["dense1.W"]                    # every parameter and state, by name
    m.set_param("dense1.W", w * 0.5)

Arrays are row-major, in nnc's layouts (docs/c-api.md, docs/python.md):
an input's shape is the model's with the batch first. A float array
is converted to the input's float type and an integer array to its
integer type; any other type, or a wrong shape, raises ValueError
before the library is called. Errors of the library raise NncError with
its message.
"""

import ctypes
import os
import shutil
import subprocess
import struct

import numpy as np

__all__ = ["compile", "load", "model_names", "Model", "NncError", "Tensor"]

_DTYPES = {0: np.dtype(np.float32), 1: np.dtype(np.float64), 2: np.dtype(np.int32)}


class NncError(RuntimeError):
    """An error the compiled library or nnc reported, with its message."""


class Tensor:
    """An input, output, label or parameter of a model: its name, numpy
    dtype and shape (None for the batch dimension)."""

    def __init__(self, name, dtype, shape):
        self.name, self.dtype, self.shape = name, dtype, shape

    def spec(self):
        """Its type as nnc writes it: f32[N, 784]."""
        names = {"float32": "f32", "float64": "f64", "int32": "i32"}
        return "%s[%s]" % (names[self.dtype.name], ", ".join("N" if d is None else str(d) for d in self.shape))

    def __repr__(self):
        return "Tensor(%r, %s)" % (self.name, self.spec())


class _TensorDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * 8)]


class _ModelDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("ninputs", ctypes.c_int), ("noutputs", ctypes.c_int),
                ("nparams", ctypes.c_int), ("inputs", ctypes.POINTER(_TensorDesc)),
                ("outputs", ctypes.POINTER(_TensorDesc)), ("params", ctypes.POINTER(_TensorDesc)),
                ("nlabels", ctypes.c_int), ("labels", ctypes.POINTER(_TensorDesc)),
                ("nstates", ctypes.c_int), ("states", ctypes.POINTER(_TensorDesc)),
                ("nnc_version", ctypes.c_char_p), ("abi", ctypes.c_int)]


class _ModelDesc2(ctypes.Structure):  # ABI 2 appends the layers
    _fields_ = _ModelDesc._fields_ + [("nlayers", ctypes.c_int), ("layers", ctypes.POINTER(_TensorDesc))]


def _tensors(ptr, count):
    out = []
    for i in range(count):
        d = ptr[i]
        shape = tuple(None if d.dims[k] == -1 else int(d.dims[k]) for k in range(d.rank))
        out.append(Tensor(d.name.decode(), _DTYPES[d.dtype], shape))
    return out


def _integer(value, what, low, high):
    """value as an int in [low, high], else ValueError (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError("%s is an integer from %d to %d, not %r" % (what, low, high, value))
    return int(value)


def _nnc_executable():
    """The nnc of this package's prefix (P/lib/python3/dist-packages/nnc/ ->
    P/bin/nnc), else $NNC, else nnc on the PATH."""
    here = os.path.dirname(os.path.abspath(__file__))
    mine = os.path.normpath(os.path.join(here, "..", "..", "..", "..", "bin", "nnc"))
    for path in (os.environ.get("NNC"), mine if os.access(mine, os.X_OK) else None, shutil.which("nnc")):
        if path:
            return path
    raise NncError("cannot find nnc: install it, put it on the PATH, or set NNC")


def compile(source, output, backend=None, cpu=None, options=()):
    """Compiles the .nn file `source` into `output` (a .so gives the library
    that load() takes, with its header beside it) with the installed nnc;
    returns output. NncError carries nnc's diagnostics."""
    cmd = [_nnc_executable(), os.fspath(source), "-o", os.fspath(output)]
    if backend:
        cmd.append("--backend=" + backend)
    if cpu:
        cmd.append("--cpu=" + cpu)
    cmd.extend(options)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise NncError(r.stderr.strip() or "nnc exited %d" % r.returncode)
    return output


def model_names(path):
    """The models a library nnc built holds: the names of its exported
    NAME_describe functions, read from its ELF dynamic symbol table."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("%s: not a 64-bit little-endian ELF shared library" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = []
    for sh in sections:
        if sh[1] != 11:  # SHT_DYNSYM
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], 24):
            st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", data, off)
            if st_shndx == 0 or st_info & 15 != 2:  # defined functions
                continue
            end = data.index(b"\0", strtab[4] + st_name)
            name = data[strtab[4] + st_name:end].decode()
            if name.endswith("_describe"):
                names.append(name[: -len("_describe")])
    return sorted(names)


def load(path, name=None, seed=0, threads=None):
    """A new instance of the model in the library at `path` (its only one,
    or the one called `name`), parameters from their initializers drawing
    from `seed`."""
    path = os.path.abspath(os.fspath(path))
    if name is None:
        names = model_names(path)
        if len(names) != 1:
            raise ValueError("%s holds %s: say which with name=" % (path, ", ".join(names) or "no model"))
        name = names[0]
    return Model(ctypes.CDLL(path), name, seed, threads)


class Model:
    """An instance of a compiled model. Instances are independent; one
    instance must not be used by two threads at once."""

    def __init__(self, lib, name, seed=0, threads=None):
        self._lib, self.name = lib, name
        P, I64, D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double

        def fn(suffix, restype, *argtypes):
            f = getattr(lib, "%s_%s" % (name, suffix), None)
            if f is not None:
                f.restype, f.argtypes = restype, list(argtypes)
            return f

        self._describe = fn("describe", ctypes.POINTER(_ModelDesc))
        if self._describe is None:
            raise ValueError("the library has no model %r" % name)
        self._create = fn("create", P, ctypes.c_uint64)
        self._free = fn("free", None, P)
        self._last_error = fn("last_error", ctypes.c_char_p, P)
        self._set_threads = fn("set_threads", ctypes.c_int, P, ctypes.c_int)
        self._set_lr = fn("set_lr", ctypes.c_int, P, D)
        self._set_epoch = fn("set_epoch", ctypes.c_int, P, I64)
        self._predict_outputs = fn("predict_outputs", ctypes.c_int, P, P, P, I64)
        self._train_step_outputs = fn("train_step_outputs", D, P, P, P, P, I64)
        self._evaluate_outputs = fn("evaluate_outputs", D, P, P, P, P, I64)
        for what in ("save", "save_weights", "save_sparse", "load"):
            setattr(self, "_" + what, fn(what, ctypes.c_int, P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t))
        self._get_param = fn("get_param", ctypes.c_int, P, ctypes.c_char_p, P, ctypes.c_size_t)
        self._set_param = fn("set_param", ctypes.c_int, P, ctypes.c_char_p, P, ctypes.c_size_t)
        self._generate = fn("generate", ctypes.c_int, P, P, I64, I64, D, ctypes.c_uint64, P)
        self._saliency = fn("saliency", ctypes.c_int, P, P, I64, P, P)
        self._integrated_gradients = fn("integrated_gradients", ctypes.c_int, P, P, P, I64, P, I64, P)
        self._gradcam = fn("gradcam", ctypes.c_int, P, P, I64, ctypes.c_char_p, P, P)
        self._activation = fn("activation", ctypes.c_int, P, P, I64, ctypes.c_char_p, P, ctypes.c_size_t)
        d = self._describe().contents
        self.inputs = _tensors(d.inputs, d.ninputs)
        self.outputs = _tensors(d.outputs, d.noutputs)
        self.labels = _tensors(d.labels, d.nlabels)
        self.nnc_version, self.abi = d.nnc_version.decode(), d.abi
        if self.abi not in (1, 2):
            raise NncError("%s was compiled for ABI %d (nnc %s); this package reads ABI 1 and 2"
                           % (name, self.abi, self.nnc_version))
        self.layers = []
        if self.abi >= 2:
            d2 = ctypes.cast(self._describe(), ctypes.POINTER(_ModelDesc2)).contents
            self.layers = _tensors(d2.layers, d2.nlayers)
        self._params = _tensors(d.params, d.nparams) + _tensors(d.states, d.nstates)
        self._m = self._create(ctypes.c_uint64(_integer(seed, "seed", 0, 2**64 - 1)))
        if not self._m:
            raise NncError(self._error(None) or "%s_create failed" % name)
        if threads is not None:
            self.threads = threads

    def __del__(self):
        m, self._m = getattr(self, "_m", None), None
        if m and self._free:
            self._free(m)

    def _error(self, m):
        msg = self._last_error(m)
        return msg.decode() if msg else ""

    def _check(self, ok):
        if not ok:
            raise NncError(self._error(self._m) or "%s: the call failed" % self.name)

    def _loss(self, loss):
        """A NaN loss with a message is an error; without one, the model's
        own (a diverging step), returned as it is."""
        if loss != loss and self._error(self._m):
            raise NncError(self._error(self._m))
        return loss

    def __repr__(self):
        return "<nnc.Model %s: inputs %s, outputs %s>" % (self.name, self.inputs, self.outputs)

    # ---------------------------------------------------------- arrays in
    def _array(self, x, t, what, n=None):
        """x as t's dtype, C-contiguous, with t's shape (the batch: n, or
        taken from x); returns (array, n)."""
        a = np.asarray(x)
        if a.dtype.kind not in "fiub" or (a.dtype.kind == "f") != (t.dtype.kind == "f"):
            raise ValueError("%s %r is %s: an array of %s numbers, not of %s" % (what, t.name, t.spec(),
                                                                              t.dtype.name, a.dtype))
        if a.ndim != len(t.shape):
            raise ValueError("%s %r is %s, not an array of shape %s" % (what, t.name, t.spec(), a.shape))
        for k, (have, want) in enumerate(zip(a.shape, t.shape)):
            if want is None:
                if n is None:
                    n = have
                elif have != n:
                    raise ValueError("%s %r has %d samples, the first input %d" % (what, t.name, have, n))
            elif have != want:
                raise ValueError("%s %r is %s, not an array of shape %s" % (what, t.name, t.spec(), a.shape))
        if a.dtype.kind != "f":
            if a.size and (a.min() < np.iinfo(t.dtype).min or a.max() > np.iinfo(t.dtype).max):
                raise ValueError("%s %r has values outside %s" % (what, t.name, t.dtype.name))
        return np.ascontiguousarray(a, dtype=t.dtype), n

    def _inputs(self, x):
        several = isinstance(x, (list, tuple)) and (len(self.inputs) > 1 or any(
            isinstance(a, np.ndarray) for a in x))  # a list of arrays: inputs; of numbers: one array
        xs = list(x) if several else [x]
        if len(xs) != len(self.inputs):
            raise ValueError("%s takes %d input%s, not %d" % (self.name, len(self.inputs),
                                                          "" if len(self.inputs) == 1 else "s", len(xs)))
        arrays, n = [], None
        for t, a in zip(self.inputs, xs):
            a, n = self._array(a, t, "input", n)
            arrays.append(a)
        if n is None or n < 1:
            raise ValueError("an empty batch")
        ptrs = (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])
        return arrays, ptrs, n

    def _labels(self, y, n):
        if not self.labels:
            raise ValueError("%s takes no labels: it was built without a training step" % self.name)
        several = isinstance(y, (list, tuple)) and (len(self.labels) > 1 or any(
            isinstance(a, np.ndarray) for a in y))
        ys = list(y) if several else [y]
        if len(ys) != len(self.labels):
            raise ValueError("%s takes %d labels, not %d" % (self.name, len(self.labels), len(ys)))
        arrays = [self._array(a, t, "label", n)[0] for t, a in zip(self.labels, ys)]
        return arrays, (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])

    def _weights(self, sample_weight, n):
        if sample_weight is None:
            return None, None
        w = np.ascontiguousarray(sample_weight, dtype=np.float32)
        if w.shape != (n,):
            raise ValueError("sample_weight has shape %s, not (%d,)" % (w.shape, n))
        return w, w.ctypes.data

    # ------------------------------------------------------------- calls
    def predict(self, x):
        """The first output for a batch (x: an array, or a list of arrays
        for a model with several inputs)."""
        return self.predict_outputs(x)[0]

    def predict_outputs(self, x):
        """Every output for a batch, as a list of arrays."""
        if self._predict_outputs is None:
            raise NncError("%s has no inference graph" % self.name)
        keep, ptrs, n = self._inputs(x)
        outs = [np.empty(tuple(n if d is None else d for d in t.shape), dtype=t.dtype) for t in self.outputs]
        optrs = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
        self._check(self._predict_outputs(self._m, ptrs, optrs, n) == 0)
        return outs

    def _labelled(self, fn, what, x, y, sample_weight):
        """A call with inputs, labels and sample weights: its loss."""
        if fn is None:
            raise NncError("%s has no %s (no train block, or built with --inference-only)" % (self.name, what))
        keep, ptrs, n = self._inputs(x)
        keep_y, yptrs = self._labels(y, n)
        keep_w, w = self._weights(sample_weight, n)
        return self._loss(fn(self._m, ptrs, yptrs, w, n))

    def train_step(self, x, y, sample_weight=None):
        """One training step on a batch; the batch's loss."""
        return self._labelled(self._train_step_outputs, "training step", x, y, sample_weight)

    def evaluate(self, x, y, sample_weight=None):
        """The loss on a batch in inference mode, without an update."""
        return self._labelled(self._evaluate_outputs, "evaluation", x, y, sample_weight)

    def _file(self, f, path):
        err = ctypes.create_string_buffer(1024)
        if f(self._m, os.fsencode(os.fspath(path)), err, len(err)) != 0:
            raise NncError(err.value.decode() or self._error(self._m))

    def save(self, path):
        """A checkpoint (safetensors): weights, optimizer state, counters."""
        self._file(self._save, path)

    def save_weights(self, path):
        """The weights and the model's states only."""
        self._file(self._save_weights, path)

    def save_sparse(self, path):
        """The weights as save_weights writes them, each tensor that is
        mostly zeros (pruned) as its nonzero values and a bitmap."""
        if self._save_sparse is None:
            raise NncError("this library predates save_sparse: build it again with nnc")
        self._file(self._save_sparse, path)

    def load(self, path):
        """A checkpoint or weights file; on an error nothing changes."""
        self._file(self._load, path)

    def _param_desc(self, name):
        for t in self._params:
            if t.name == name:
                return t
        raise KeyError("%s has no parameter or state %r (it has %s)" % (self.name, name,
                                                                      ", ".join(t.name for t in self._params)))

    def get_param(self, name):
        """A copy of parameter or state `name` ("dense1.W")."""
        t = self._param_desc(name)
        a = np.empty(t.shape, dtype=t.dtype)
        self._check(self._get_param(self._m, name.encode(), a.ctypes.data, a.nbytes) == 0)
        return a

    def set_param(self, name, value):
        """Sets parameter or state `name` from an array of its shape."""
        t = self._param_desc(name)
        a, _ = self._array(value, t, "parameter")
        self._check(self._set_param(self._m, name.encode(), a.ctypes.data, a.nbytes) == 0)

    @property
    def params(self):
        """Every parameter and state as a dict of arrays (copies: set them
        with set_param or set_params)."""
        return {t.name: self.get_param(t.name) for t in self._params}

    def set_params(self, params):
        """Sets each parameter or state the dict names."""
        for k, v in params.items():
            self.set_param(k, v)

    def describe(self):
        """The model's inputs, outputs, labels and parameters as Tensors, and
        the nnc version and ABI it was compiled with."""
        return {"name": self.name, "inputs": list(self.inputs), "outputs": list(self.outputs),
                "labels": list(self.labels), "params": list(self._params), "layers": list(self.layers),
                "nnc_version": self.nnc_version, "abi": self.abi}

    @property
    def threads(self):
        return self._threads if hasattr(self, "_threads") else 0

    @threads.setter
    def threads(self, n):
        """Threads for the instance's loops (0: OpenMP's default)."""
        n = _integer(n, "threads", 0, 1024)
        self._check(self._set_threads(self._m, n) == 0)
        self._threads = n

    # ------------------------------------------- looking inside (interpret.md)
    def _targets(self, target, n):
        """None, one index for every sample, or one a sample: int32 [n]."""
        if target is None:
            return None, None
        a = np.asarray(target)
        if a.dtype.kind not in "iu" or a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n):
            raise ValueError("a target is an integer index into output %r, or one a sample (%d), not %r"
                             % (self.outputs[0].name, n, target))
        if a.size and (a.min() < 0 or a.max() > 2**31 - 1):
            raise ValueError("target %d is outside output %r" % (a.min() if a.min() < 0 else a.max(),
                                                                  self.outputs[0].name))
        t = np.ascontiguousarray(np.broadcast_to(a, (n,)), dtype=np.int32)
        return t, t.ctypes.data

    def _layer(self, layer):
        if not isinstance(layer, str):
            raise TypeError("a layer is named by a string (one of .layers), not %r" % (layer,))
        return layer.encode()

    def _attribution(self, fn, what, x, *before):
        """out arrays like the floating-point inputs (None for token ids)."""
        if fn is None:
            raise NncError("%s has no %s: it has no floating-point input or feature map, or its first output is "
                           "not floating-point, or the library was built as a training program, with --no-explain or "
                           "with --quantize" % (self.name, what))
        keep, ptrs, n = self._inputs(x)
        outs = [np.empty(a.shape, dtype=a.dtype) if a.dtype.kind == "f" else None for a in keep]
        optrs = (ctypes.c_void_p * len(outs))(*[o.ctypes.data if o is not None else None for o in outs])
        return keep, ptrs, n, outs, optrs

    def saliency(self, x, target=None):
        """The gradient of each sample's target output (an index into one
        sample of the first output, a class; None: its largest) with respect
        to each floating-point input: one array per input (None for token
        ids), or one array for a model with one input."""
        keep, ptrs, n, outs, optrs = self._attribution(self._saliency, "saliency", x)
        t, tp = self._targets(target, n)
        self._check(self._saliency(self._m, ptrs, n, tp, optrs) == 0)
        return outs if len(outs) > 1 else outs[0]

    def integrated_gradients(self, x, baseline=None, target=None, steps=50):
        """Integrated gradients from baseline (None: zeros) to x, the right
        Riemann sum over `steps` points."""
        keep, ptrs, n, outs, optrs = self._attribution(self._integrated_gradients, "integrated gradients", x)
        bkeep, bptrs = None, None
        if baseline is not None:  # a list may hold None for an input: zeros (token ids stay as they are)
            bs = list(baseline) if len(self.inputs) > 1 else [baseline]
            if len(bs) != len(self.inputs):
                raise ValueError("the baseline has %d arrays, the model %d inputs" % (len(bs), len(self.inputs)))
            bkeep = [None if b is None else self._array(b, t, "baseline", n)[0] for t, b in zip(self.inputs, bs)]
            bptrs = (ctypes.c_void_p * len(bkeep))(*[None if b is None else b.ctypes.data for b in bkeep])
        t, tp = self._targets(target, n)
        steps = _integer(steps, "steps", 1, 100000)
        self._check(self._integrated_gradients(self._m, ptrs, bptrs, n, tp, steps, optrs) == 0)
        return outs if len(outs) > 1 else outs[0]

    def gradcam(self, x, layer, target=None):
        """Grad-CAM on feature map `layer` (\"conv2d2\"): float32 [n, H, W]."""
        if self._gradcam is None:
            raise NncError("%s has no Grad-CAM (no attribution graph)" % self.name)
        keep, ptrs, n = self._inputs(x)
        L = [t for t in self.layers if t.name == layer]
        if len(L) != 1 or len(L[0].shape) != 4:
            self._check(self._gradcam(self._m, ptrs, n, self._layer(layer), None, None) == 0)
        t, tp = self._targets(target, n)
        out = np.empty((n, L[0].shape[1], L[0].shape[2]), dtype=np.float32)
        self._check(self._gradcam(self._m, ptrs, n, self._layer(layer), tp, out.ctypes.data) == 0)
        return out

    def activation(self, x, layer):
        """The value of layer `layer` (one of .layers: \"conv2d1\", a named
        statement) for the batch, computed anew."""
        if self._activation is None:
            raise NncError("%s has no layers graph (built as a training program, with --no-explain or with "
                           "--quantize)" % self.name)
        keep, ptrs, n = self._inputs(x)
        L = [t for t in self.layers if t.name == layer]
        if not L:
            self._check(self._activation(self._m, ptrs, n, self._layer(layer), None, 0) == 0)
        out = np.empty(tuple(n if d is None else d for d in L[0].shape), dtype=L[0].dtype)
        self._check(self._activation(self._m, ptrs, n, self._layer(layer), out.ctypes.data, out.nbytes) == 0)
        return out

    def set_lr(self, lr):
        """The learning rate the schedules start from."""
        self._check(self._set_lr(self._m, float(lr)) == 0)

    def set_epoch(self, epoch):
        """The epoch that learning-rate schedules see."""
        self._check(self._set_epoch(self._m, _integer(epoch, "epoch", 0, 2**63 - 1)) == 0)

    def generate(self, prompt, count, temperature=0.0, seed=0):
        """For a causal language model: `count` more token ids after `prompt`."""
        if self._generate is None:
            raise NncError("%s is not a model that generates" % self.name)
        p = np.ascontiguousarray(prompt, dtype=np.int32)
        count, seed = _integer(count, "count", 0, 2**31 - 1), _integer(seed, "seed", 0, 2**64 - 1)
        if p.ndim != 1 or p.size < 1:
            raise ValueError("a prompt is a non-empty 1-D array of token ids")
        out = np.empty(count, dtype=np.int32)
        self._check(self._generate(self._m, p.ctypes.data, p.size, count, float(temperature), seed,
                                   out.ctypes.data) == 0)
        return out
