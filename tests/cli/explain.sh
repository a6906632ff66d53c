# Looking inside compiled models (docs/interpret.md): saliency, integrated
# gradients, Grad-CAM and activations by name through libraries of both
# backends, against finite differences and the textbook definitions
# (tests/cli/explain_host.c); the graphs are in libraries only, not in a
# training program.
. "$(dirname "$0")/../cli_lib.sh"
for backend in llvm c; do
  lib_host $backend "$src/tests/cli/explain.nn" libprobe "$src/tests/cli/explain_host.c"
  echo "$backend: $(tail -1 "$tmp/$backend/out.txt")"
done
cat "$tmp/llvm/out.txt"
# --no-explain: a library without them
"$nnc" "$src/tests/cli/explain.nn" --no-explain -o "$tmp/plain.so" || fail "--no-explain"
grep -q 'Probe_saliency\|Probe_activation' "$tmp/plain.h" && fail "--no-explain left the functions in the header"
nm -D "$tmp/plain.so" | grep -q 'Probe_saliency' && fail "--no-explain left Probe_saliency in the library"
expect 1 "$nnc" "$src/tests/cli/explain.nn" --no-explain --emit=ir
has "$tmp/err" "--no-explain builds into code"
# a training program's C has neither graph nor function
cp "$src/examples/seed_mlp.nn" "$tmp/seed.nn"
"$nnc" "$tmp/seed.nn" --emit=c -o "$tmp/seed.c" || fail "seed_mlp to C"
grep -q 'SeedMLP_saliency\|SeedMLP_attr_run' "$tmp/seed.c" && fail "the training program has the attribution graph"
"$nnc" "$tmp/seed.nn" --emit=c --no-main -o "$tmp/seedlib.c" || fail "seed_mlp to C without main"
grep -q 'SeedMLP_saliency' "$tmp/seedlib.c" || fail "the library's C has no SeedMLP_saliency"
finish
