# Pictures (docs/interpret.md): the training program's --plot (training
# curves as SVG, each epoch) and --confusion (the held-out confusion
# matrix), and nnc-viz's curves from a --log, saliency and Grad-CAM,
# feature maps and filters of a small MNIST CNN as PNG. The SVG is parsed
# as XML and its figures read back; each PNG is decoded (its CRCs, zlib
# stream and size checked) and the image panel compared with the digit.
. "$(dirname "$0")/../cli_lib.sh"
need_python
viz=$(dirname "$nnc")/nnc-viz
mnist_idx
cat > "$tmp/cnn.nn" <<NN
model Small {
  input pixels: [28, 28, 1]
  conv2d(8, 3, activation: relu)
  max_pool2d(2)
  flatten
  dense(10, activation: softmax)
}
train Small {
  data       idx(images: "$tmp/mnist-images.idx", labels: "$tmp/mnist-labels.idx", scale: 1 / 255, one_hot: true)
  loss       categorical_crossentropy
  optimizer  adam(lr: 2e-3)
  epochs     2
  batch      64
  validation 0.2
  metrics    accuracy
}
NN
"$nnc" "$tmp/cnn.nn" -o "$tmp/train" || fail "building the program"
(cd "$tmp" && ./train --plot curves.svg --confusion cm.svg --log log.csv --save-weights w.safetensors) > "$tmp/run.txt" ||
  fail "training: $(tail -3 "$tmp/run.txt")"
acc=$(sed -n 's/^held-out: 2000 samples, .*accuracy \([0-9.]*\)$/\1/p' "$tmp/run.txt")
"$viz" curves "$tmp/log.csv" -o "$tmp/again.svg" || fail "nnc-viz curves"
"$nnc" "$tmp/cnn.nn" -o "$tmp/libsmall.so" || fail "building the library"
"$viz" saliency "$tmp/libsmall.so" --weights "$tmp/w.safetensors" --images "$tmp/mnist-images.idx" --index 9000 \
  --count 3 --layer conv2d1 -o "$tmp/sal.png" || fail "nnc-viz saliency"
"$viz" maps "$tmp/libsmall.so" --weights "$tmp/w.safetensors" --images "$tmp/mnist-images.idx" --index 9000 \
  --layer conv2d1 -o "$tmp/maps.png" || fail "nnc-viz maps"
"$viz" filters "$tmp/libsmall.so" --weights "$tmp/w.safetensors" -o "$tmp/filters.png" || fail "nnc-viz filters"
# the writer without zlib (stored deflate blocks), as the training program's copy is built
cat > "$tmp/stored.c" <<'C'
#include <stdio.h>
#include "nnrt.h"
#include "nnrt_program.h"
int main(void) {
  static unsigned char px[300 * 250 * 3];
  for (int i = 0; i < 300 * 250 * 3; i++) px[i] = (unsigned char)(i * 7 + i / 900);
  char err[256];
  return !nnrt_png("stored.png", 300, 250, 3, px, err, sizeof err) || !nnrt_png("gray.png", 5, 3, 1, px, err, sizeof err);
}
C
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -I"$src/runtime" "$tmp/stored.c" "$src/runtime/nnrt_viz.c" "$src/runtime/nnrt.c" -o "$tmp/stored" -lm \
  -fopenmp || fail "building the stored PNG writer"
(cd "$tmp" && ./stored) || fail "writing stored PNGs"
"$py" - "$tmp" "$acc" <<'PY' || fail "the pictures"
import struct, sys, zlib
import xml.etree.ElementTree as ET
import numpy as np
tmp, acc = sys.argv[1], float(sys.argv[2])
S = "{http://www.w3.org/2000/svg}"
def texts(path):
    return [t.text for t in ET.parse(path).getroot().iter(S + "text")]
for f in ("curves.svg", "again.svg"):
    root = ET.parse(tmp + "/" + f).getroot()
    t = texts(tmp + "/" + f)
    assert "loss" in t and "accuracy" in t and "held-out" in t, (f, t)
    lines = [p.get("points").split() for p in root.iter(S + "polyline")]
    assert len(lines) == 4 and all(len(l) == 2 for l in lines), (f, lines)  # 4 series, 2 epochs
cm = texts(tmp + "/cm.svg")
head = [t for t in cm if t.startswith("held-out: 2000 samples, ")]
assert head and abs(float(head[0].split(", ")[1].split("%")[0]) / 100 - acc) < 1e-4, (head, acc)
cells = ET.parse(tmp + "/cm.svg").getroot().findall(S + "rect")
assert len(cells) == 1 + 100, len(cells)

def png(path):
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, ihdr = 8, b"", None
    while at < len(d):
        n, kind = struct.unpack(">I4s", d[at:at + 8])
        body = d[at + 8:at + 8 + n]
        assert struct.unpack(">I", d[at + 8 + n:at + 12 + n])[0] == zlib.crc32(kind + body), "CRC"
        if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
        if kind == b"IDAT": idat += body
        at += 12 + n
    w, h, depth, color = ihdr[:4]
    ch = 3 if color == 2 else 1
    raw = zlib.decompress(idat)
    assert len(raw) == h * (w * ch + 1) and all(raw[y * (w * ch + 1)] == 0 for y in range(h))
    return np.frombuffer(raw, np.uint8).reshape(h, w * ch + 1)[:, 1:].reshape(h, w, ch)

images = np.frombuffer(open(tmp + "/mnist-images.idx", "rb").read()[16:], np.uint8).reshape(-1, 28, 28)
sal = png(tmp + "/sal.png")
assert sal.shape == (8 + 3 * (28 * 4 + 8), 8 + 3 * (28 * 4 + 8), 3), sal.shape
for i in range(3):  # the image panel is the digit, scaled from its lowest to its highest value
    d = images[9000 + i].astype(float)
    want = np.round(255 * (d - d.min()) / (d.max() - d.min()))
    y0 = 8 + i * (28 * 4 + 8)
    got = sal[y0:y0 + 112:4, 8:8 + 112:4, 0].astype(float)
    assert np.abs(got - want).max() <= 1, i
    heat = sal[y0:y0 + 112, 8 + 120:8 + 232].astype(int)
    assert heat.max() == 255 and (heat[..., 0] > 0).mean() > 0.2, i  # the saliency panel is not blank
stored = png(tmp + "/stored.png")  # 225,000 bytes: four stored blocks
i = np.arange(300 * 250 * 3)
assert np.array_equal(stored.reshape(-1), ((i * 7 + i // 900) % 256).astype(np.uint8)), "stored pixels"
assert png(tmp + "/gray.png").shape == (3, 5, 1)
maps, filters = png(tmp + "/maps.png"), png(tmp + "/filters.png")
assert maps.shape == (4 + 26 * 4 + 4, 8 * (26 * 4 + 4) + 4, 3), maps.shape
assert filters.shape == (6 + 3 * 12 + 6, 8 * (3 * 12 + 6) + 6, 3), filters.shape
print("ok: curves, confusion (accuracy %.4f), saliency %s, maps %s, filters %s" % (acc, sal.shape, maps.shape, filters.shape))
PY
# the layer graph: a residual model's skip connections are edges past its convolutions
cp "$src/examples/residual.nn" "$src/examples/layers.nn" "$tmp/"
expect 0 "$nnc" "$tmp/residual.nn" --emit=layers
for edge in 'image.* -> .*conv2d1' 'h.* -> .*ResBlock1.conv2d1' 'h\\n.* -> .*ResBlock1 = h@2' 'ResBlock1 = h@2.* -> .*ResBlock2 = r' \
            'features.* -> .*dense2'; do
  "$py" - "$tmp/out" "$edge" <<'PY' || fail "no edge $edge in the layer graph: $(cat "$tmp/out")"
import re, sys
text = open(sys.argv[1]).read()
label = dict(re.findall(r'(m\d+_v\d+) \[label="([^"]*)"', text))
edges = ["%s -> %s" % (label[a], label[b]) for a, b in re.findall(r'(m\d+_v\d+) -> (m\d+_v\d+);', text)]
sys.exit(0 if any(re.search(sys.argv[2], e) for e in edges) else 1)
PY
done
"$nnc" "$tmp/residual.nn" -o "$tmp/res.svg" || fail "drawing the layer graph"
"$py" -c "import sys, xml.etree.ElementTree as ET; t = ''.join(ET.parse(sys.argv[1]).getroot().itertext()); sys.exit(0 if 'ResBlock2 = r' in t and 'f32[N, 28, 28, 16]' in t else 1)" "$tmp/res.svg" ||
  fail "the drawn layer graph lacks its layers"
expect 1 env PATH=/nonexistent "$nnc" "$tmp/residual.nn" -o "$tmp/res2.svg"
has "$tmp/err" "nnc: error: drawing the layer graph needs Graphviz's dot (Debian: apt-get install graphviz); --emit=layers writes its text"
[ -e "$tmp/res2.svg" ] && fail "a failed drawing left a file"

# errors
expect 1 "$viz" saliency "$tmp/libsmall.so" --images "$tmp/mnist-labels.idx" -o "$tmp/x.png"
has "$tmp/err" "nnc-viz: error: '$tmp/mnist-labels.idx' holds 1 values a sample, the model's input 784"
expect 1 "$viz" saliency "$tmp/libsmall.so" --images "$tmp/mnist-images.idx" --scale abc -o "$tmp/x.png"
has "$tmp/err" "nnc-viz: error: --scale takes a number, not 'abc'"
expect 1 "$viz" maps "$tmp/libsmall.so" --images "$tmp/mnist-images.idx" --layer dense1 -o "$tmp/x.png"
has "$tmp/err" "nnc-viz: error: layer 'dense1' is not a float32 feature map [N, H, W, C] of this model"
expect 1 "$viz" saliency "$tmp/libsmall.so" --images "$tmp/mnist-images.idx" --index 9999 --count 2 -o "$tmp/x.png"
has "$tmp/err" "has fewer samples than --index and --count ask"
expect 1 "$viz" curves "$tmp/mnist-labels.idx" -o "$tmp/x.svg"
has "$tmp/err" "nnc-viz: error: '$tmp/mnist-labels.idx' is not a training log: its first line is not the training program's --log header (epoch,loss,...)"
expect 1 "$viz" curves "$tmp/missing.csv" -o "$tmp/x.svg"
has "$tmp/err" "nnc-viz: error: cannot read '$tmp/missing.csv'"
expect 2 "$viz" paint "$tmp/libsmall.so" -o "$tmp/x.png"
has "$tmp/err" "usage: nnc-viz curves LOG.csv -o FILE.svg"
sed 's/categorical_crossentropy/mse/; s/metrics    accuracy/metrics    mae/; s/dense(10, activation: softmax)/dense(1)/; s/, one_hot: true//' "$tmp/cnn.nn" > "$tmp/reg.nn"
"$nnc" "$tmp/reg.nn" -o "$tmp/reg" || fail "building a regression program"
expect 1 sh -c "cd '$tmp' && ./reg --epochs 1 --confusion cm2.svg"
has "$tmp/err" "error: --confusion draws the held-out samples' classes: this model's output holds no classes"
finish
