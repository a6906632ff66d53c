# The driver's options: help, version, -fsyntax-only, --emit, -o, -d, usage errors.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples

expect 0 "$nnc" --help
has "$tmp/out" "usage: nnc [options] FILE.nn"
has "$tmp/out" "-fsyntax-only"
expect 0 "$nnc" --version
has "$tmp/out" "nnc 0.1.0"
expect 0 "$nnc" --help-builtins
has "$tmp/out" "conv2d(x, filters, kernel, stride = 1, padding = valid"

# checking produces nothing on success
expect 0 "$nnc" -fsyntax-only "$ex/seed_cnn.nn"
[ -s "$tmp/out" ] || [ -s "$tmp/err" ] && fail "-fsyntax-only printed something"
expect 0 "$nnc" "$ex/seed_cnn.nn"

# --emit=ast to standard output and to a file give the golden dump
expect 0 "$nnc" --emit=ast "$ex/seed_mlp.nn"
cmp -s "$tmp/out" "$src/tests/ast/seed_mlp.ast" || fail "--emit=ast differs from tests/ast/seed_mlp.ast"
expect 0 "$nnc" --emit=ast "$ex/seed_mlp.nn" -o "$tmp/m.ast"
cmp -s "$tmp/m.ast" "$src/tests/ast/seed_mlp.ast" || fail "-o m.ast differs from the golden dump"
expect 0 "$nnc" "$ex/seed_mlp.nn" -o "$tmp/n.ast"
cmp -s "$tmp/n.ast" "$src/tests/ast/seed_mlp.ast" || fail "'-o n.ast' did not choose --emit=ast"

# --emit=ir and --emit=dot: the training step, its parts told apart
expect 0 "$nnc" --emit=ir "$ex/seed_mlp.nn"
has "$tmp/out" "graph SeedMLP (training step"
has "$tmp/out" "# backward"
has "$tmp/out" "update param dense2.b ="
expect 0 "$nnc" --emit=dot "$ex/seed_mlp.nn"
has "$tmp/out" 'digraph "SeedMLP" {'
has "$tmp/out" 'fillcolor=lightpink'
has "$tmp/out" 'label="backward"'
[ "$(grep -c -- '->' "$tmp/out")" -gt 100 ] || fail "--emit=dot has too few edges"
cp "$tmp/out" "$tmp/emitted.dot"
expect 0 "$nnc" -o "$tmp/m.dot" "$ex/seed_mlp.nn"
cmp -s "$tmp/m.dot" "$tmp/emitted.dot" || fail "'-o m.dot' did not choose --emit=dot"

# -d dumps to standard error after the named stages
expect 0 "$nnc" -d PS -fsyntax-only "$ex/seed_mlp.nn"
has "$tmp/err" "(model SeedMLP"
has "$tmp/err" "(layer-stmt = dense(10, activation: relu))"
has "$tmp/err" "model SeedMLP (sequential)"

# usage errors: exit 1 with a message naming the problem
expect 1 "$nnc"
has "$tmp/err" "nnc: error: no input file"
expect 1 "$nnc" "$ex/seed_mlp.nn" -o -
has "$tmp/err" "'-o -' writes text to standard output: it needs --emit=nn, ast, ir, dot, layers, svg, c, llvm or asm"
expect 0 "$nnc" "$ex/seed_mlp.nn" --emit=ir -o -
has "$tmp/out" "graph SeedMLP (training step"
expect 1 "$nnc" --frobnicate "$ex/seed_mlp.nn"
has "$tmp/err" "unknown option '--frobnicate'"
expect 1 "$nnc" "$ex/seed_mlp.nn" "$ex/seed_cnn.nn"
has "$tmp/err" "more than one input file"
expect 1 "$nnc" --emit=wasm "$ex/seed_mlp.nn"
has "$tmp/err" "unknown --emit kind 'wasm'"
expect 1 "$nnc" -d Q "$ex/seed_mlp.nn"
has "$tmp/err" "unknown dump letter 'Q'"
expect 1 "$nnc" "$ex/seed_mlp.nn" -o
has "$tmp/err" "'-o' needs a file name"
expect 1 "$nnc" "$ex/seed_mlp.nn" -o "$tmp/model.dll"
has "$tmp/err" "cannot build '$tmp/model.dll'"
[ -e "$tmp/model.dll" ] && fail "a failed build left $tmp/model.dll"
# --cpu: the processor a program is built for; a name goes to the shell
expect 0 "$nnc" --cpu=x86-64 "$ex/seed_mlp.nn" -o "$tmp/portable"
[ -x "$tmp/portable" ] || fail "--cpu=x86-64 built no program"
expect 1 "$nnc" "--cpu=native;touch $tmp/owned" "$ex/seed_mlp.nn" -o "$tmp/p2"
has "$tmp/err" "nnc: error: bad --cpu name 'native;touch"
[ -e "$tmp/owned" ] && fail "--cpu ran a shell command"
expect 1 "$nnc" "--cpu=" "$ex/seed_mlp.nn"
has "$tmp/err" "bad --cpu name ''"

expect 1 "$nnc" "$tmp/does-not-exist.nn"
has "$tmp/err" "nnc: error: cannot read '$tmp/does-not-exist.nn': No such file or directory"
expect 1 "$nnc" --emit=ast "$ex/seed_mlp.nn" -o "$tmp/no/such/dir/out.ast"
has "$tmp/err" "cannot write"
# every -d dump whatever is written: each graph of the set (training
# step, evaluation, inference; a library's attribution and layers graphs
# too) lowered, simplified and planned
for out in x.so x.c x.ll prog x.ir; do
  expect 0 "$nnc" -d LOK "$ex/seed_mlp.nn" -o "$tmp/$out"
  case $out in x.so | x.ll) graphs=5 ;; *) graphs=3 ;; esac
  [ "$(grep -c '^graph SeedMLP' "$tmp/err")" = $((2 * graphs)) ] || fail "-d LO with -o $out: not every graph dumped twice"
  [ "$(grep -c '^plan SeedMLP' "$tmp/err")" = $graphs ] || fail "-d K with -o $out: not every graph's plan"
done
expect 0 "$nnc" -d K --no-fuse "$ex/seed_mlp.nn"
has "$tmp/err" "plan SeedMLP: 100 kernels for 100 values (0 fused loops)"
# no cap on the number of models: 70 of them, each lowered and dumped
for i in $(seq 1 70); do printf 'model M%d {\n  input x: [2]\n  dense(1)\n}\n' "$i"; done >"$tmp/many.nn"
expect 0 "$nnc" -d L "$tmp/many.nn"
[ "$(grep -c '^graph M' "$tmp/err")" = 70 ] || fail "-d L of 70 models: not every model dumped"
expect 0 "$nnc" --emit=ir "$tmp/many.nn"
has "$tmp/out" "graph M70 (inference"
finish
