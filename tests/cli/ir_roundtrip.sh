# The IR's text form reads back: for every example, --emit=ir printed, read
# and printed again gives the same text; the seed MLP's graph as autodiff
# built it (-d L: the training step, then evaluation and inference)
# simplifies to the golden IR. IR is written as IR or dot, nothing else.
. "$(dirname "$0")/../cli_lib.sh"
for f in "$src"/examples/*.nn; do
  n=$(basename "$f" .nn)
  (cd "$src/examples" && "$nnc" --emit=ir "$n.nn" -o "$tmp/$n.ir") || fail "$n: --emit=ir failed"
  [ -s "$tmp/$n.ir" ] || continue # a library of layers has no graph
  expect 0 "$nnc" --emit=ir "$tmp/$n.ir"
  cmp -s "$tmp/out" "$tmp/$n.ir" || fail "$n: the IR read back prints differently"
done
# recurrent layers lowered for inference as scans (bodies and all) read back
# as they were printed, and simplify keeping their scans
for m in lstm gru rnn_masked; do
  (cd "$src/tests/grad" && "$nnc" -d L "$m.nn" 2>"$tmp/$m.all" >/dev/null) || fail "$m: -d L failed"
  awk '/^graph /{n++} n==1' "$tmp/$m.all" >"$tmp/$m.ir"
  grep -q '^  body 0 ([a-z_]*_step, ' "$tmp/$m.ir" || fail "$m: no scan's body in the lowered inference graph"
  expect 0 "$nnc" -d L --emit=ir "$tmp/$m.ir"
  cmp -s "$tmp/err" "$tmp/$m.ir" || fail "$m: the lowered scans read back print differently"
  grep -q ' = scan %' "$tmp/out" || fail "$m: simplify dropped the scans"
done
# a masked model's training step: its scans skip padded steps, forward
# and back (skip, adds), and read back as printed
sed '/^model Skip/,$!d' "$src/tests/grad/rnn_skip.nn" >"$tmp/skip.nn"
printf 'train Skip {\n  data npy(x: ["x.npy", "m.npy"], y: "y.npy")\n  loss mse\n  optimizer sgd(lr: 0.1)\n}\n' >>"$tmp/skip.nn"
expect 0 "$nnc" --emit=ir "$tmp/skip.nn" -o "$tmp/skip.ir"
grep -q 'skip: 1, adds: 0}' "$tmp/skip.ir" || fail "the masked layers' scans do not skip"
grep -q 'adds: [1-9]' "$tmp/skip.ir" || fail "no backward scan adds the repeated states' gradients"
expect 0 "$nnc" --emit=ir "$tmp/skip.ir"
cmp -s "$tmp/out" "$tmp/skip.ir" || fail "the skipping scans read back print differently"
awk '/^graph /{n++} n==1' "$src/tests/ir/seed_mlp.lowered" >"$tmp/lowered.ir"
grep -c '^graph SeedMLP' "$src/tests/ir/seed_mlp.lowered" | grep -qx 3 || fail "-d L dumps the training step, evaluation and inference"
expect 0 "$nnc" --emit=ir "$tmp/lowered.ir"
cmp -s "$tmp/out" "$src/tests/ir/seed_mlp.ir" || fail "the lowered IR does not simplify to tests/ir/seed_mlp.ir"
expect 1 "$nnc" --emit=ast "$tmp/lowered.ir"
has "$tmp/err" "is IR: it can be written as IR or dot"
for out in x.so x.c x.ll prog; do
  expect 1 "$nnc" "$tmp/lowered.ir" -o "$tmp/$out"
  has "$tmp/err" "the checks and the backends need a .nn program"
  [ -e "$tmp/$out" ] && fail "-o $out from IR left a file"
done
expect 0 "$nnc" --emit=dot "$tmp/lowered.ir"
has "$tmp/out" "digraph"
finish
