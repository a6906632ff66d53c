# --check-c checks the gradient of every parameter of a model without a
# train block: a graph holds up to 16 outputs, so the 18 gradients of nine
# dense layers (and the model's output) take two gradient graphs, each
# checked, then inference.
. "$(dirname "$0")/../cli_lib.sh"

awk 'BEGIN { print "model Deep {\n  input x: [2]";
  for (i = 0; i < 9; i++) print "  dense(2, activation: tanh)";
  print "}" }' > "$tmp/deep.nn"
expect 0 "$nnc" --check-c --backend=c "$tmp/deep.nn"
[ "$(grep -c '^train Deep: 120 values, 18 parameters, 0 states compiled to C agree' "$tmp/out")" -eq 2 ] ||
  fail "not two gradient graphs checked: $(cat "$tmp/out")"
has "$tmp/out" "model Deep: 46 values, 18 parameters"
has "$tmp/out" "backend check passed"
finish
