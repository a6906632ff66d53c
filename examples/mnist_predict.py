"""Predicts the held-out MNIST digits with a trained model, from Python.

    nnc mnist_mlp.nn -o train && ./train --save ck.safetensors   # in examples/, data gunzipped
    nnc mnist_mlp.nn -o mnist.so
    PYTHONPATH=../python /usr/bin/python3 mnist_predict.py mnist.so ck.safetensors

prints the held-out accuracy, which is the training program's (the last
20% of the digits, as its `validation 0.2` holds out), and a few
predictions. With nnc installed, PYTHONPATH=PREFIX/lib/python3/dist-packages.
"""
import sys

import numpy as np

import nnc


def idx(path):
    """An IDX file (MNIST's format) as a numpy array."""
    data = open(path, "rb").read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main(library, checkpoint, images="data/mnist-images.idx", labels="data/mnist-labels.idx"):
    x, y = idx(images), idx(labels)
    n = len(y)
    held = n - int(round(n * 0.2))
    # the train block's scale: 1 / 255, in double, then to float
    x = (x[held:].reshape(n - held, -1).astype(np.float64) * (1 / 255)).astype(np.float32)
    y = y[held:]
    model = nnc.load(library)
    model.load(checkpoint)
    print(model)
    predicted = np.argmax(model.predict(x), axis=1)
    print("held-out: %d samples, accuracy %.4f" % (len(y), np.mean(predicted == y)))
    print("first ten: predicted", predicted[:10].tolist(), "true", y[:10].tolist())


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: mnist_predict.py LIBRARY.so CHECKPOINT [IMAGES.idx LABELS.idx]")
    main(*sys.argv[1:])
