# The LLVM backend from the command line: .ll, .bc, .s and .o from the
# output's name or --emit; every module passes LLVM's own verifier (opt
# -passes=verify); an aarch64 object for --target; a shared library linked
# by the system linker whose header is the C backend's and whose training
# steps give the bits the C backend's library gives; the errors for an
# unknown target, a missing linker, a cross-compiled .so and options that
# need the other backend. Skipped (exit 0 with a note) when nnc was built
# without LLVM, which --version must then say.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
if ! "$nnc" --version | grep -q 'llvm (LLVM'; then
  "$nnc" --version | grep -q 'built without LLVM' || fail "--version names no backend: $("$nnc" --version)"
  expect 1 "$nnc" --emit=llvm "$ex/seed_mlp.nn" -o "$tmp/m.ll"
  has "$tmp/err" "built without LLVM"
  finish
fi
bindir=${LLVM_BINDIR:-$(llvm-config --bindir 2>/dev/null)}

# every kind, by name and by --emit (the seed MLP: the seed CNN's library
# is built in cli_checksums, cli_conv_pool and backend_seed_cnn)
for kind in ll bc s o; do
  expect 0 "$nnc" "$ex/seed_mlp.nn" -o "$tmp/cnn.$kind"
  [ -s "$tmp/cnn.$kind" ] || fail "no cnn.$kind"
done
expect 0 "$nnc" --emit=llvm -O1 "$ex/mnist_mlp.nn" -o "$tmp/mnist.txt"
has "$tmp/mnist.txt" "define i8* @MnistMLP_create(i64"
# -O3 (the default) takes the runtime in, with its OpenMP regions; below,
# the kernels call the runtime's parallel-for
has "$tmp/cnn.ll" "@__kmpc_fork_call"
has "$tmp/mnist.txt" "declare void @nnrt_parallel_for"
has "$tmp/cnn.s" "SeedMLP_train_step:"
for f in "$tmp/cnn.ll" "$tmp/cnn.bc" "$tmp/mnist.txt"; do
  expect 0 "$bindir/opt" -passes=verify -disable-output "$f"
done
for o in 0 1 2 3; do
  expect 0 "$nnc" -O$o "$ex/breast_cancer.nn" -o "$tmp/bc$o.ll"
  expect 0 "$bindir/opt" -passes=verify -disable-output "$tmp/bc$o.ll"
done

# the generated loops: an epilogue's whole rows of a constant length
# (emit_llvm_loops.c) go through a copy with that length as the trip
# count: the seed MLP's first layer has rows of 10, whose bias and ReLU
# are then 8 lanes and 2 (with only run-time bounds, a vector body of 16
# that a row of 10 never enters, and every element scalar)
expect 0 "$nnc" --cpu=haswell "$ex/seed_mlp.nn" -o "$tmp/mlp-hsw.ll"
awk '/^define internal void @SeedMLP_train_epi0\(/,/^}/' "$tmp/mlp-hsw.ll" > "$tmp/epi0.ll"
has "$tmp/epi0.ll" "icmp eq i64 %4, 10"
has "$tmp/epi0.ll" "fadd <8 x float>"
has "$tmp/epi0.ll" "fadd <2 x float>"
has "$tmp/mlp-hsw.ll" '!"llvm.loop.vectorize.enable", i1 false}'
# a kernel whose epilogue reads its result (the product's C, through the
# epilogue's own pointers) does not promise LLVM that only the kernel's
# pointer reaches it: with noalias there, LLVM deleted the weight
# gradient's stores before the SGD epilogue read them
# (backend_loss_bce_probabilities, with the runtime's ThinLTO bitcode)
expect 0 "$nnc" -O0 --cpu=haswell "$ex/seed_mlp.nn" -o "$tmp/mlp0.ll"
has "$tmp/mlp0.ll" "@SeedMLP_train_k0(i64 %0, i32 %1, i64 %2, i64 %3, float* %4, float* noalias %5"

# cross-compiled objects
expect 0 "$nnc" --target=aarch64-linux-gnu "$ex/seed_mlp.nn" -o "$tmp/arm.o"
"$bindir/llvm-objdump" -f "$tmp/arm.o" > "$tmp/objdump" 2>&1
has "$tmp/objdump" "aarch64"
expect 0 "$nnc" --target=aarch64-linux-gnu --cpu=cortex-a72 --emit=asm "$ex/seed_mlp.nn" -o "$tmp/arm.s"
has "$tmp/arm.s" "SeedMLP_train_step:"
expect 0 "$nnc" --target=x86_64-linux-gnu --cpu=znver2 "$ex/seed_mlp.nn" -o "$tmp/zen.o"
"$bindir/llvm-objdump" -f "$tmp/zen.o" > "$tmp/objdump" 2>&1
has "$tmp/objdump" "x86-64"

# a library from each backend (LLVM at -O3 with the runtime in, at -O2
# with its archive): the same header, the same bits
mkdir -p "$tmp/llvm" "$tmp/llvm2" "$tmp/c"
expect 0 "$nnc" "$ex/seed_mlp.nn" -o "$tmp/llvm/libseed.so"
expect 0 "$nnc" -O2 "$ex/seed_mlp.nn" -o "$tmp/llvm2/libseed.so"
expect 0 "$nnc" --backend=c "$ex/seed_mlp.nn" -o "$tmp/c/libseed.so"
cmp -s "$tmp/llvm/libseed.h" "$tmp/c/libseed.h" || fail "the two backends' headers differ"
# no gathers or scatters: vectorized across rows of 10 (an epilogue's
# rows' loop once its row is unrolled, the runtime's small product's rows
# inlined), the AVX-512 copies gathered and scattered, slow on AMD's Zen;
# those loops carry llvm.loop.vectorize.enable false (emit_llvm_loops.c)
if command -v objdump > /dev/null; then
  n=$(objdump -d "$tmp/llvm/libseed.so" | grep -c 'vgather\|vscatter')
  [ "$n" -eq 0 ] || fail "the seed MLP's LLVM library has $n gathers and scatters"
  # the runtime's small product inlined into the AVX2 and AVX-512 copies
  # (their features include what clang implies with target("avx2,fma"),
  # emit_llvm_isa.c), and the dropout's random numbers into the kernels
  # (emit_llvm_model.c's inline_always): no call of either from a copy
  expect 0 "$nnc" "$ex/mnist_mlp.nn" -o "$tmp/llvm/libmnist.so"
  for lib in libseed libmnist; do
    calls=$(objdump -d "$tmp/llvm/$lib.so" | awk '/^[0-9a-f]+ <.*>:$/ { fn = $2 }
      /call.*<(nnrt_small_fma|nnrt_rng_u64|nnrt_uniform)>/ && fn ~ /_avx(2|512)_/ { print fn }')
    [ -z "$calls" ] || fail "$lib's level copies call the runtime's small product or random numbers: $calls"
  done
fi
nm -D --defined-only "$tmp/llvm/libseed.so" | awk '$2 == "T" { print $3 }' | grep -v '^SeedMLP_' > "$tmp/extra"
[ -s "$tmp/extra" ] && fail "the LLVM library exports unprefixed symbols: $(cat "$tmp/extra")"
cat > "$tmp/host.c" <<'HOST'
#include <math.h>
#include <stdio.h>
#include "libseed.h"
int main(void) {
  SeedMLP_Model *m = SeedMLP_create(7);
  float x[10 * 8], y[10];
  for (int step = 0; step < 200; step++) {
    for (int i = 0; i < 10; i++) {
      float s = 0;
      for (int j = 0; j < 8; j++) x[i * 8 + j] = (float)sin(step * 13 + i * 7 + j), s += x[i * 8 + j];
      y[i] = s > 0;
    }
    const void *in[1] = {x};
    printf("%a\n", SeedMLP_train_step(m, in, y, 10));
  }
  const void *in[1] = {x};
  const float *p = SeedMLP_predict(m, in, 10);
  for (int i = 0; i < 10; i++) printf("%a\n", p[i]);
  SeedMLP_free(m);
  return 0;
}
HOST
for b in llvm llvm2 c; do
  ${CC:-cc} -O1 -I"$tmp/$b" -o "$tmp/$b/host" "$tmp/host.c" -L"$tmp/$b" -lseed -Wl,-rpath,"$tmp/$b" -lm ||
    fail "building the $b host failed"
  "$tmp/$b/host" > "$tmp/$b/out" || fail "the $b host failed"
done
for b in llvm llvm2; do
  cmp -s "$tmp/$b/out" "$tmp/c/out" || fail "the $b library trains to other bits: $(diff "$tmp/$b/out" "$tmp/c/out" | head -5)"
done
[ "$(wc -l < "$tmp/llvm/out")" -eq 210 ] || fail "the host printed $(wc -l < "$tmp/llvm/out") lines"

# errors
expect 1 "$nnc" --target=foo-bar-baz "$ex/seed_mlp.nn" -o "$tmp/x.o"
has "$tmp/err" "nnc: error: unknown target 'foo-bar-baz'"
expect 1 "$nnc" --target=aarch64-linux-gnu --cpu=native "$ex/seed_mlp.nn" -o "$tmp/x.o"
has "$tmp/err" "--cpu=native names this machine's processor, which cannot run target 'aarch64-linux-gnu'"
expect 1 "$nnc" --target=aarch64-linux-gnu "$ex/seed_mlp.nn" -o "$tmp/x.so"
has "$tmp/err" "shared libraries are linked for this machine only"
[ -e "$tmp/x.so" ] && fail "a failed build left x.so"
export NNC_LD=/nonexistent/ld
expect 1 "$nnc" "$ex/seed_mlp.nn" -o "$tmp/y.so"
unset NNC_LD
has "$tmp/err" "cannot run the linker '/nonexistent/ld'"
[ -e "$tmp/y.so" ] && fail "a failed link left y.so"
expect 1 "$nnc" --backend=c "$ex/seed_mlp.nn" -o "$tmp/z.ll"
has "$tmp/err" "needs --backend=llvm"
expect 1 "$nnc" --backend=llvm "$ex/seed_mlp.nn" -o "$tmp/z.c"
has "$tmp/err" "comes from the C backend"
expect 1 "$nnc" --backend=c --target=aarch64-linux-gnu "$ex/seed_mlp.nn" -o "$tmp/z.so"
has "$tmp/err" "needs the LLVM backend"
expect 1 "$nnc" --backend=fortran "$ex/seed_mlp.nn"
has "$tmp/err" "unknown backend 'fortran'"
finish
