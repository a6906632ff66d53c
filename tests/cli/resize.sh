# resize (docs/language.md) against the ONNX import's Resize, which the
# backend node tests check against ONNX's reference: an image [N, 3, 6, 8]
# resized to 9 x 5 (up along one axis, down along the other) in every
# mode and coordinate mode of the language, both backends; and the
# gradient of a linear resize.
. "$(dirname "$0")/../cli_lib.sh"
need_python
cat > "$tmp/make.py" <<'PY'
import sys
import onnx
from onnx import helper, TensorProto
tmp = sys.argv[1]
combos = [("linear", "half_pixel", "round_prefer_floor"), ("linear", "align_corners", "round_prefer_floor"),
          ("linear", "asymmetric", "round_prefer_floor"), ("linear", "pytorch_half_pixel", "round_prefer_floor"),
          ("nearest", "half_pixel", "round_prefer_floor"), ("nearest", "half_pixel", "round_prefer_ceil"),
          ("nearest", "asymmetric", "floor"), ("nearest", "align_corners", "ceil")]
nn = "model R {\n  input x: [3, 6, 8]\n"
for i, (mode, coord, near) in enumerate(combos):
    args = "mode: %s, coordinates: %s, nearest: %s" % (mode, coord, near)
    nn += "  output y%d = resize(resize(x, 3, 5, %s), 2, 9, %s)\n" % (i, args, args)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 6, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode, coordinate_transformation_mode=coord,
                            nearest_mode=near)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 1.5, 0.625])
    g = helper.make_graph([node], "g", [x], [y], [scales])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "%s/r%d.onnx" % (tmp, i))
open("%s/r.nn" % tmp, "w").write(nn + "}\n")
print(len(combos))
PY
n=$("$py" "$tmp/make.py" "$tmp") || fail "making the models failed"
for b in llvm c; do
  expect 0 "$nnc" "$tmp/r.nn" --backend=$b -o "$tmp/r_$b.so"
done
i=0
while [ $i -lt "$n" ]; do
  expect 0 "$nnc" "$tmp/r$i.onnx" -o "$tmp/r$i.so"
  i=$((i + 1))
done
PYTHONPATH="$src/python" "$py" - "$tmp" "$n" > "$tmp/py.out" 2>&1 <<'PY' || fail "outputs: $(cat "$tmp/py.out")"
import sys
import numpy as np
import nnc
tmp, n = sys.argv[1], int(sys.argv[2])
x = np.random.RandomState(0).randn(2, 3, 6, 8).astype(np.float32)
want = [nnc.load("%s/r%d.so" % (tmp, i)).predict(x) for i in range(n)]
bad = 0
for b in ("llvm", "c"):
    for i, (got, w) in enumerate(zip(nnc.load("%s/r_%s.so" % (tmp, b)).predict_outputs([x]), want)):
        if got.shape != w.shape or not np.allclose(got, w, rtol=1e-5, atol=1e-6):
            print("FAIL: y%d (%s backend) differs from the imported Resize by %s" % (i, b, np.abs(got - w).max()))
            bad = 1
sys.exit(bad)
PY
cat > "$tmp/g.nn" <<'NN'
model G {
  input x: [5]
  h = reshape(dense(x, 12), [3, 4])
  output y = resize(resize(h, 2, 7, mode: linear), 1, 2, mode: linear, coordinates: align_corners)
}
NN
expect 0 "$nnc" "$tmp/g.nn" --check-grad
finish
