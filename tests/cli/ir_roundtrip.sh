# The IR's text form reads back: for every example, --emit=ir printed, read
# and printed again gives the same text; the seed MLP's graph as autodiff
# built it (-d L) simplifies to the golden IR.
. "$(dirname "$0")/../cli_lib.sh"
for f in "$src"/examples/*.nn; do
  n=$(basename "$f" .nn)
  (cd "$src/examples" && "$nnc" --emit=ir "$n.nn" -o "$tmp/$n.ir") || fail "$n: --emit=ir failed"
  [ -s "$tmp/$n.ir" ] || continue # a library of layers has no graph
  expect 0 "$nnc" --emit=ir "$tmp/$n.ir"
  cmp -s "$tmp/out" "$tmp/$n.ir" || fail "$n: the IR read back prints differently"
done
cp "$src/tests/ir/seed_mlp.lowered" "$tmp/lowered.ir"
expect 0 "$nnc" --emit=ir "$tmp/lowered.ir"
cmp -s "$tmp/out" "$src/tests/ir/seed_mlp.ir" || fail "the lowered IR does not simplify to tests/ir/seed_mlp.ir"
expect 1 "$nnc" --emit=ast "$tmp/lowered.ir"
has "$tmp/err" "is IR: --emit=ast and --check-grad need a .nn program"
finish
