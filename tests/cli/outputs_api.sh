# The C API of a model with two inputs and two outputs, each output with
# its loss and weight (tests/cli/outputs_host.c), through libraries of both
# backends; the training program, which reads one input and one label,
# refuses such a model with a message that points to the library.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
cp "$src/tests/grad/loss_two_outputs.nn" "$tmp/heads.nn"
for backend in llvm c; do
  mkdir -p "$tmp/$backend"
  "$nnc" --backend=$backend "$tmp/heads.nn" -o "$tmp/$backend/libheads.so" || fail "$backend: libheads.so"
  $cc -std=c11 ${CFLAGS:-} -I"$tmp/$backend" "$src/tests/cli/outputs_host.c" -o "$tmp/$backend/host" \
    "$tmp/$backend/libheads.so" -Wl,-rpath,"$tmp/$backend" -lm || fail "$backend: host"
  "$tmp/$backend/host" > "$tmp/$backend/out.txt" || fail "$backend: $(grep -v '^ok' "$tmp/$backend/out.txt")"
  tail -1 "$tmp/$backend/out.txt"
done
expect 1 "$nnc" "$tmp/heads.nn" -o "$tmp/train"
has "$tmp/err" "the training program reads one input and one label a sample, but model 'TwoHeads' has 2 inputs and 2 outputs"
[ -e "$tmp/train" ] && fail "a program was written"
finish
