# '-' reads the program from standard input; diagnostics name it <stdin>.
. "$(dirname "$0")/../cli_lib.sh"
expect 0 sh -c "'$nnc' --emit=ast - < '$src/examples/seed_cnn.nn'"
cmp -s "$tmp/out" "$src/tests/ast/seed_cnn.ast" || fail "stdin dump differs from tests/ast/seed_cnn.ast"
printf 'model M {\n  input x: [4]\n  dens(3)\n}\n' > "$tmp/bad.nn"
expect 1 sh -c "'$nnc' - < '$tmp/bad.nn'"
has "$tmp/err" "<stdin>:3:3: error: unknown layer or function 'dens'; did you mean 'dense'?"
finish
