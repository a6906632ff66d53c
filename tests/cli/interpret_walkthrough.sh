# The walk-through of docs/interpret.md, its lines run as they are written
# there (nnc and nnc-viz from PATH, in a copy of examples/): each file it
# names is made, every SVG parses as XML and every PNG starts as one, and
# the int8 library's report names its layers.
. "$(dirname "$0")/../cli_lib.sh"
need_python
doc=$src/docs/interpret.md
sed -n '/^## Walk-through$/,/^## /p' "$doc" | sed -n '/^```sh$/,/^```$/p' | sed '1d;$d' > "$tmp/steps.sh"
[ "$(wc -l < "$tmp/steps.sh")" -ge 8 ] || fail "no walk-through in docs/interpret.md: $(cat "$tmp/steps.sh")"
cp -r "$src/examples" "$tmp/ex"
mkdir -p "$tmp/bin" && ln -s "$nnc" "$tmp/bin/nnc" && ln -s "$(dirname "$nnc")/nnc-viz" "$tmp/bin/nnc-viz"
(cd "$tmp/ex" && PATH="$tmp/bin:$PATH" sh -ex "$tmp/steps.sh") > "$tmp/run.txt" 2>&1 || fail "the walk-through: $(tail -5 "$tmp/run.txt")"
for f in curves.svg confusion.svg log.svg layers.svg saliency.png maps.png filters.png libcnn.so libcnn.h libcnn8.so int8.txt; do
  [ -s "$tmp/ex/$f" ] || fail "the walk-through made no $f"
done
"$py" - "$tmp/ex" <<'PY' || fail "a picture of the walk-through is not one"
import sys, xml.etree.ElementTree as ET
for f in ("curves.svg", "confusion.svg", "log.svg", "layers.svg"):
    ET.parse(sys.argv[1] + "/" + f)
for f in ("saliency.png", "maps.png", "filters.png"):
    assert open(sys.argv[1] + "/" + f, "rb").read(8) == b"\x89PNG\r\n\x1a\n", f
PY
grep -q "held-out: 2000 samples" "$tmp/run.txt" || fail "the training printed no held-out figures"
grep -q "^quantized MnistCNN to int8: 4 of its 4 products and convolutions" "$tmp/ex/int8.txt" ||
  fail "the int8 report: $(cat "$tmp/ex/int8.txt")"
finish
