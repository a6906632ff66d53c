#!/bin/sh
# bench/quantize.sh [ROUNDS] — the MNIST CNN's int8 library against its
# f32 library, side by side (docs/quantize.md, docs/performance.md).
#
# Trains examples/mnist_cnn.nn as the README says (its digits in
# examples/data), builds the trained weights into an f32 library
# (--inference-only) and an int8 one (--quantize int8 --calibrate data),
# each from both backends, then runs bench/run_nnc.c's inference at batch
# 32 on each, alternately ROUNDS times (default 5), at 1 and 2 threads, at
# the processor's widest level and with NNRT_ISA=avx2 (no VNNI); each run
# reports its median over 7 timed blocks, the table the medians over the
# rounds and the int8/f32 speed ratio. Also prints the int8 report (each
# layer's error, the weights' bytes).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=build/bench/quantize
mkdir -p "$out"
nnc=$PWD/build/nnc
[ -x "$nnc" ] || { echo "bench: build nnc first (sh tools/setup.sh test, or cmake)" >&2; exit 1; }
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iruntime -o "$out/run_nnc" bench/run_nnc.c -ldl
mkdir -p "$out/data"
gunzip -c examples/data/mnist-images.idx.gz > "$out/data/mnist-images.idx"
gunzip -c examples/data/mnist-labels.idx.gz > "$out/data/mnist-labels.idx"
cp examples/mnist_cnn.nn "$out/"
cd "$out"
"$nnc" mnist_cnn.nn -o train
./train --save-weights cnn.safetensors | tail -1
llvm=""
"$nnc" --version | grep -q 'llvm (LLVM' && llvm=yes
for b in c llvm; do
  [ $b = llvm ] && [ -z "$llvm" ] && continue
  "$nnc" mnist_cnn.nn --backend=$b --weights cnn.safetensors --inference-only -o f32-$b.so
  "$nnc" mnist_cnn.nn --backend=$b --weights cnn.safetensors --quantize int8 --calibrate data -o int8-$b.so 2> report.txt
done
cat report.txt
echo
ls -l f32-c.so int8-c.so | awk '{ print $9 ": " $5 " bytes" }'
echo

med() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cpus; int8 kernel here: $(grep -q avx512_vnni /proc/cpuinfo && echo 'AVX-512 VNNI' || echo 'AVX2')"
echo
echo "| backend | level | threads | f32 µs/batch | int8 µs/batch | int8/f32 speed |"
echo "|---|---|---|---|---|---|"
for b in c llvm; do
  [ $b = llvm ] && [ -z "$llvm" ] && continue
  for level in best avx2; do
    for t in 1 2; do
      : > f; : > q
      for r in $(seq "$rounds"); do
        if [ $level = best ]; then isa=""; else isa=avx2; fi
        NNRT_ISA=$isa ./run_nnc ./f32-$b.so MnistCNN infer 32 $t 7 | field us_per_step >> f
        NNRT_ISA=$isa ./run_nnc ./int8-$b.so MnistCNN infer 32 $t 7 | field us_per_step >> q
      done
      fm=$(med < f); qm=$(med < q)
      echo "| $b | $level | $t | $fm | $qm | $(awk -v a="$fm" -v b="$qm" 'BEGIN { printf "%.2f", a / b }') |"
    done
  done
done
