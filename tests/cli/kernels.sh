# The code generator's plan: kernel counts after fusion and transpose
# folding for the seed models (a regression of either fails here), one kernel per value without fusion,
# and the arena: what a compiled model reports is what it allocates, and
# its training steps allocate nothing once it has grown.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}

plan() { "$nnc" -d K "$@" 2>&1 >/dev/null | head -1; }
check() {
  got=$(plan "$1")
  [ "$got" = "$2" ] || fail "$(basename "$1"): '$got', expected '$2'"
}
check "$ex/seed_mlp.nn" "plan SeedMLP: 22 kernels for 102 values (12 fused loops); arena 1792 bytes + 384 a sample"
check "$ex/mnist_mlp.nn" "plan MnistMLP: 33 kernels for 98 values (11 fused loops); arena 1221568 bytes + 2240 a sample"
check "$ex/seed_cnn.nn" "plan SeedCNN: 65 kernels for 210 values (23 fused loops); arena 1922752 bytes + 487680 a sample"
check "$ex/mnist_cnn.nn" "plan MnistCNN: 57 kernels for 176 values (19 fused loops); arena 2700736 bytes + 344832 a sample"
got=$(plan --no-fuse "$ex/seed_mlp.nn")
case $got in "plan SeedMLP: 100 kernels for 100 values (0 fused loops);"*) ;; *) fail "--no-fuse: '$got'" ;; esac
"$nnc" -d K "$ex/seed_mlp.nn" 2>"$tmp/plan.txt" >/dev/null
has "$tmp/plan.txt" "fused      f32[8, 10]"

"$nnc" "$ex/seed_cnn.nn" -o "$tmp/seed_cnn.so" || fail "building the library failed"
$cc -std=c11 -O1 $CFLAGS -I"$tmp" -o "$tmp/host" "$src/tests/cli/arena_host.c" "$tmp/seed_cnn.so" \
  -Wl,-rpath,"$tmp" || fail "building the host failed"
"$tmp/host" > "$tmp/host.txt" || fail "arena: $(cat "$tmp/host.txt")"
cat "$tmp/host.txt"
finish
