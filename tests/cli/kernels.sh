# The code generator's plan: kernel counts after fusion, epilogues and
# views (folded transposes and expands, reshapes as aliases) for the seed
# models (a regression of any fails here), identical kernels written once,
# one kernel per value without fusion,
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
check "$ex/seed_mlp.nn" "plan SeedMLP: 10 kernels for 98 values (10 fused loops); arena 1792 bytes + 384 a sample"
check "$ex/mnist_mlp.nn" "plan MnistMLP: 17 kernels for 90 values (11 fused loops); arena 1221568 bytes + 2240 a sample"
# (normalize: true: the input's standardization is the first kernel)
check "$ex/seed_cnn.nn" "plan SeedCNN: 39 kernels for 204 values (24 fused loops); arena 1923200 bytes + 502592 a sample"
check "$ex/mnist_cnn.nn" "plan MnistCNN: 33 kernels for 168 values (19 fused loops); arena 2700736 bytes + 358208 a sample"
got=$(plan --no-fuse "$ex/seed_mlp.nn")
case $got in "plan SeedMLP: 100 kernels for 100 values (0 fused loops);"*) ;; *) fail "--no-fuse: '$got'" ;; esac
"$nnc" -d K "$ex/seed_mlp.nn" 2>"$tmp/plan.txt" >/dev/null
# bias and activation after the product; the weight's Adam update after its gradient
has "$tmp/plan.txt" "matmul+    f32[N, 10]  %3..%5"
has "$tmp/plan.txt" "matmul+    f32[8, 10]  %48..%77, stores %62 %66 %77 (15 values)"
"$nnc" -d K "$ex/seed_cnn.nn" 2>"$tmp/plan.txt" >/dev/null
has "$tmp/plan.txt" "fused      f32[N, 32, 32, 3]  %3..%4, stores %4"
has "$tmp/plan.txt" "conv2d+    f32[N, 30, 30, 32]  %7..%9"
has "$tmp/plan.txt" "conv2d_bw+ f32[3, 3, 64, 128]"
has "$tmp/plan.txt" "sum+       f32[64]"
# inference: each 2x2 max-pooling fused into its convolution, whose result
# is stored a band of samples at a time (before: 10 kernels, 0 bytes +
# 156288 a sample)
has "$tmp/plan.txt" "plan SeedCNN: 7 kernels for 20 values (6 fused loops); arena 131072 bytes + 41088 a sample"
has "$tmp/plan.txt" "conv2d+    f32[N, 15, 15, 32]  %7..%10, stores %9 %10 (%9: a band of 1 sample)"

# an unrolled LSTM's steps are the same kernels: each is written once
printf 'model R {\n  input x: [6, 3]\n  lstm(4, return_sequences: true)\n}\n' > "$tmp/R.nn"
"$nnc" --no-main --unroll "$tmp/R.nn" -o "$tmp/R.c" || fail "nnc failed on an LSTM"
shared=$(grep -c "the code of k" "$tmp/R.c")
[ "$shared" -ge 20 ] || fail "only $shared of the LSTM's kernels share code"
# as a loop: one step's kernels (a body) and one call of the runtime's
# loop, in each of the file's 3 copies (AVX-512, AVX2, its own)
"$nnc" --no-main "$tmp/R.nn" -o "$tmp/R.c" || fail "nnc failed on an LSTM"
calls=$(grep -c "nnrt_scan(R_infer" "$tmp/R.c")
[ "$calls" -eq 3 ] || fail "$calls calls of nnrt_scan, not 3"
[ "$(grep -c "the code of k" "$tmp/R.c")" -eq 0 ] || fail "the loop's kernels repeat"
# an embedding's gradient sums rows in the workspace, not in memory of its own
"$nnc" --no-main "$src/tests/grad/loss_token_cce.nn" -o "$tmp/E.c" || fail "nnc failed on an embedding"
has "$tmp/E.c" "double *acc = (double *)(void *)s;"

"$nnc" "$ex/seed_cnn.nn" -o "$tmp/seed_cnn.so" || fail "building the library failed"
$cc -std=c11 -O1 $CFLAGS -I"$tmp" -o "$tmp/host" "$src/tests/cli/arena_host.c" "$tmp/seed_cnn.so" \
  -Wl,-rpath,"$tmp" || fail "building the host failed"
"$tmp/host" > "$tmp/host.txt" || fail "arena: $(cat "$tmp/host.txt")"
cat "$tmp/host.txt"
finish
