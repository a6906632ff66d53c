# Pooling fused into the convolution before it (compiler/plan.c's
# plan_pools) on tests/cli/conv_pool.nn: the plan fuses what it should and
# its arena holds a band of the convolution's result instead of all of it;
# both backends against the reference evaluator (nnc --check-c: 1 and 2
# threads and unfused the same bits, the LLVM backend's the C's); and each
# backend's library, fused and unfused, at every ISA level, for batches
# of 1, 5 and 7 at 1 to 3 threads: the same bits.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
nn=$src/tests/cli/conv_pool.nn

"$nnc" -d K "$nn" 2>"$tmp/plan.txt" >/dev/null || fail "nnc -d K failed"
# fused: a, b, c, d, e (the pooling is the kernel's last member)
has "$tmp/plan.txt" "conv2d+    f32[N, 12, 11, 40]  %3..%6, stores %5 %6 (%5: a band of 1 sample)"
has "$tmp/plan.txt" "conv2d+    f32[N, 6, 6, 20]  %9..%11, stores %10 %11 (%10: a band of 11 samples)"
has "$tmp/plan.txt" "conv2d+    f32[N, 8, 8, 37]  %14..%17"
has "$tmp/plan.txt" "conv2d+    f32[N, 6, 6, 64]  %20..%23, stores %22 %23 (%22: a band of 3 samples)"
has "$tmp/plan.txt" "conv2d+    f32[N, 13, 12, 33]  %26..%28"
# not: a window other than its stride, a result read twice, a residual
has "$tmp/plan.txt" "maxpool    f32[N, 23, 22, 24]  %34"
has "$tmp/plan.txt" "maxpool    f32[N, 4, 4, 32]  %39"
has "$tmp/plan.txt" "maxpool    f32[N, 13, 12, 16]  %46"
# the plan and its arena (before the fusion: 24 kernels, 0 bytes + 427456
# a sample; first fit now puts the pooled results low and the chain of
# concatenations above them; the seed CNN's arena shrinks: kernels.sh)
has "$tmp/plan.txt" "plan ConvPool: 19 kernels for 38 values (8 fused loops); arena 129792 bytes + 470080 a sample"

expect 0 "$nnc" --check-c "$nn"
has "$tmp/out" "backend check passed"

backends=c
"$nnc" --version | grep -q 'llvm (LLVM' && backends="c llvm"
for b in $backends; do
  for how in fused unfused; do
    d=$tmp/$b-$how
    mkdir -p "$d"
    flag=""
    [ $how = unfused ] && flag=--no-fuse
    "$nnc" --backend=$b $flag "$nn" -o "$d/libconv_pool.so" || { fail "nnc --backend=$b $flag failed"; continue; }
    $cc -std=c11 -O1 $CFLAGS -I"$d" -o "$d/host" "$src/tests/cli/conv_pool_host.c" "$d/libconv_pool.so" \
      -Wl,-rpath,"$d" || fail "building the $b $how host failed"
  done
  for isa in best avx2 generic; do
    for how in fused unfused; do
      d=$tmp/$b-$how
      NNRT_ISA=$isa "$d/host" "$d/$isa.bin" > "$d/$isa.txt" || fail "$b $how $isa: $(cat "$d/$isa.txt")"
    done
    cmp -s "$tmp/$b-fused/$isa.bin" "$tmp/$b-unfused/$isa.bin" || fail "$b at $isa: fused and unfused differ"
  done
done
[ -f "$tmp/c-fused/best.bin" ] && [ -f "$tmp/llvm-fused/best.bin" ] &&
  { cmp -s "$tmp/c-fused/best.bin" "$tmp/llvm-fused/best.bin" || fail "the C and LLVM libraries differ"; }
finish
