# --weights and --inference-only (docs/install.md, "Weights built in"):
# the MNIST MLP's checkpoint and weights file built into libraries of both
# backends, an object and a training program; each instance starts from
# them, bit for bit what a load of the file gives; the inference-only
# library has no training step and is smaller; a program built with the
# weights trains as one that loads them; and the errors: a missing file, a
# tensor of another shape, a model the program lacks, several models
# without MODEL=, --inference-only for a training program, --weights for a
# dump; and -MD's rule of the files a library depends on.
. "$(dirname "$0")/../cli_lib.sh"
need_python
mnist_idx
sed "s|data/mnist-|$tmp/mnist-|g" "$src/examples/mnist_mlp.nn" > "$tmp/m.nn"
"$nnc" "$tmp/m.nn" -o "$tmp/train" || fail "building the training program failed"
"$tmp/train" --epochs 2 --save "$tmp/ck.safetensors" --save-weights "$tmp/w.safetensors" > "$tmp/train.out" 2>&1 ||
  fail "training failed: $(tail -3 "$tmp/train.out")"
llvm=false
"$nnc" --version | grep -q "LLVM" && llvm=true

"$nnc" "$tmp/m.nn" -o "$tmp/plain.so" || fail "plain.so"
"$nnc" "$tmp/m.nn" --backend=c -O1 --weights "$tmp/ck.safetensors" -o "$tmp/c_ck.so" || fail "--backend=c --weights ck"
"$nnc" "$tmp/m.nn" --backend=c -O1 --weights "MnistMLP=$tmp/w.safetensors" --inference-only -o "$tmp/c_wi.so" ||
  fail "--backend=c --weights MODEL=w --inference-only"
libs="c_ck c_wi"
if $llvm; then
  "$nnc" "$tmp/m.nn" --weights "$tmp/ck.safetensors" -o "$tmp/l_ck.so" || fail "--weights ck"
  "$nnc" "$tmp/m.nn" --weights="$tmp/w.safetensors" --inference-only -o "$tmp/l_wi.so" || fail "--weights= --inference-only"
  libs="$libs l_ck l_wi"
fi
cat > "$tmp/t.py" <<'PY'
import os, sys
import numpy as np
import nnc
tmp, libs = sys.argv[1], sys.argv[2].split()
bad = []
x = np.random.default_rng(1).random((64, 784), dtype=np.float32)
ref = nnc.load(tmp + "/plain.so")
ref.load(tmp + "/w.safetensors")
want = ref.predict(x)
for lib in libs:
    m = nnc.load("%s/%s.so" % (tmp, lib), seed=9)
    if not np.array_equal(m.predict(x), want):
        bad.append(lib + ": predictions differ from a load of the weights")
    if lib.endswith("wi") != (m._train_step_outputs is None):
        bad.append(lib + ": the training step is %s" % ("there" if m._train_step_outputs else "missing"))
    if lib.endswith("wi") and m.labels:
        bad.append(lib + ": an inference-only library has labels")
# a library without optimizer state loads a full checkpoint (its slots
# skipped), and what it saves is a weights file the full model loads
wi = nnc.load("%s/%s.so" % (tmp, libs[1]))
wi.load(tmp + "/ck.safetensors")
wi.save(tmp + "/from_wi.safetensors")
full = nnc.load(tmp + "/plain.so")
full.load(tmp + "/from_wi.safetensors")
if not np.array_equal(full.predict(x), want):
    bad.append("a weights file saved by an inference-only library gives other predictions")
size = {lib: os.path.getsize("%s/%s.so" % (tmp, lib)) for lib in libs}
for full, small in (("c_ck", "c_wi"), ("l_ck", "l_wi")):
    if full in size and not size[small] < size[full]:
        bad.append("%s (%d bytes) is not smaller than %s (%d)" % (small, size[small], full, size[full]))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
PYTHONPATH="$src/python" "$py" "$tmp/t.py" "$tmp" "$libs" > "$tmp/py.out" 2>&1 || fail "$(cat "$tmp/py.out")"

# a training program with the weights built in trains as one that loads them
"$nnc" "$tmp/m.nn" --weights "$tmp/w.safetensors" -o "$tmp/train_w" || fail "a program with --weights"
"$tmp/train_w" --epochs 1 > "$tmp/a.out" 2>&1 || fail "the program with the weights failed: $(tail -3 "$tmp/a.out")"
"$tmp/train" --epochs 1 --load "$tmp/w.safetensors" > "$tmp/b.out" 2>&1 || fail "the program with --load failed"
grep '^Epoch\|^held-out' "$tmp/a.out" | sed 's/ - [0-9.]*s - .*//' > "$tmp/a.txt"
grep '^Epoch\|^held-out' "$tmp/b.out" | sed 's/ - [0-9.]*s - .*//' > "$tmp/b.txt"
[ -s "$tmp/a.txt" ] && cmp -s "$tmp/a.txt" "$tmp/b.txt" || fail "built-in weights train otherwise: $(cat "$tmp/a.txt") / $(cat "$tmp/b.txt")"
if $llvm; then
  "$nnc" "$tmp/m.nn" --weights "$tmp/w.safetensors" -O0 -o "$tmp/m.o" || fail "--weights -o m.o"
  [ "$(wc -c < "$tmp/m.o")" -gt 407080 ] || fail "m.o is smaller than its weights (407,080 bytes)"
  [ -f "$tmp/m.h" ] || fail "no m.h beside m.o"
fi

# -MD: the rule make and CMake read, with the program's files and the weights
printf 'layer Twice() (x: [n, k]) -> [n, k] {\n  return x + x\n}\n' > "$tmp/my layers.nn"
(cd "$tmp" && sed '1i import "my layers.nn"' m.nn > mi.nn &&
   "$nnc" mi.nn --weights "MnistMLP=w.safetensors" -O0 -MD -o mi.so) || fail "-MD failed"
[ "$(cat "$tmp/mi.d" 2>/dev/null)" = 'mi.so: mi.nn my\ layers.nn w.safetensors' ] || fail "mi.d: $(cat "$tmp/mi.d")"
expect 1 "$nnc" "$tmp/m.nn" -MF "$tmp/x.d" -o "$tmp/e.so"
has "$tmp/err" "-MF names the file that -MD writes; add -MD"
expect 1 "$nnc" "$tmp/m.nn" -MD --emit=ir
has "$tmp/err" "-MD needs an output file (-o FILE) that is code"

# errors, each naming what is wrong
expect 1 "$nnc" "$tmp/m.nn" --weights "$tmp/none.safetensors" -o "$tmp/e.so"
has "$tmp/err" "nnc: error: --weights for model MnistMLP: $tmp/none.safetensors: cannot open: No such file or directory"
sed 's/dense(128/dense(64/' "$tmp/m.nn" > "$tmp/m64.nn"
expect 1 "$nnc" "$tmp/m64.nn" --weights "$tmp/w.safetensors" -o "$tmp/e.so"
has "$tmp/err" "tensor 'dense1.W' is F32[784, 128] in the file; the model's is F32[784, 64]"
expect 1 "$nnc" "$tmp/m.nn" --weights "Other=$tmp/w.safetensors" -o "$tmp/e.so"
has "$tmp/err" "nnc: error: --weights Other=$tmp/w.safetensors: the program has no model 'Other'"
cat "$tmp/m.nn" > "$tmp/two.nn"
printf 'model Tiny {\n  input x: [3]\n  dense(2)\n}\n' >> "$tmp/two.nn"
expect 1 "$nnc" "$tmp/two.nn" --weights "$tmp/w.safetensors" -o "$tmp/e.so"
has "$tmp/err" "the program has 2 models; say which: --weights MODEL=$tmp/w.safetensors"
"$nnc" "$tmp/two.nn" --weights "MnistMLP=$tmp/w.safetensors" --backend=c -O0 -o "$tmp/two.so" || fail "MODEL= in a program of two"
# another optimizer: Adam's slots in the checkpoint are skipped
sed 's/adam(lr: 1e-3)/sgd(lr: 0.01)/' "$tmp/m.nn" > "$tmp/sgd.nn"
"$nnc" "$tmp/sgd.nn" --weights "$tmp/ck.safetensors" --backend=c -O0 -o "$tmp/sgd.so" || fail "SGD's model from Adam's checkpoint"
expect 1 "$nnc" "$tmp/two.nn" --weights "MnistMLP=$tmp/w.safetensors" --weights "MnistMLP=$tmp/ck.safetensors" -o "$tmp/e.so"
has "$tmp/err" "--weights MnistMLP=$tmp/ck.safetensors: model MnistMLP has its weights from --weights MnistMLP=$tmp/w.safetensors already"
expect 1 "$nnc" "$tmp/m.nn" --inference-only -o "$tmp/e_train"
has "$tmp/err" "--inference-only makes a library: a training program needs its training step"
expect 1 "$nnc" "$tmp/m.nn" --weights "$tmp/w.safetensors" --emit=ir
has "$tmp/err" "--weights builds into code"
expect 1 "$nnc" "$tmp/m.nn" --weights
has "$tmp/err" "'--weights' needs a checkpoint file"
exit $failed
