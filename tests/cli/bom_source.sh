# A source file that starts with a UTF-8 byte-order mark (as some Windows
# editors write it) compiles as the same file without it, from a path, as an
# import and from standard input; a mark anywhere else is still a stray
# byte.
. "$(dirname "$0")/../cli_lib.sh"
cd "$tmp" || exit 1
mkdir data && cp "$src/examples/breast_cancer.nn" plain.nn
{ printf '\357\273\277'; cat plain.nn; } > bom.nn
expect 0 "$nnc" --emit=ast plain.nn
cp "$tmp/out" plain.ast
expect 0 "$nnc" --emit=ast bom.nn
cmp -s plain.ast "$tmp/out" || fail "the BOM file's AST differs from the plain file's"
expect 0 "$nnc" --emit=ast - < bom.nn
cmp -s plain.ast "$tmp/out" || fail "the BOM file read from standard input differs"
expect 0 "$nnc" bom.nn -o train.c
[ -s train.c ] || fail "no training program from the BOM file"

# an imported file with a mark: the error's column counts from after it
printf '\357\273\277layer L(x) { return dens(x) }\n' > lib.nn
printf 'import "lib.nn"\nmodel M { input x: [4]; L() }\n' > main.nn
expect 1 "$nnc" main.nn
has "$tmp/err" "lib.nn:1:21: error: unknown"

# elsewhere the mark is not ignored
{ printf 'model M { input x: [4]; dense(2) }\n'; printf '\357\273\277\n'; } > middle.nn
expect 1 "$nnc" middle.nn
has "$tmp/err" "middle.nn:2:1: error: stray non-ASCII character in program"
finish
