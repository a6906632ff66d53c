#!/bin/sh
# bench/run.sh [ROUNDS] — nnc against PyTorch and ONNX Runtime on the same
# models, side by side.
#
# Builds the models with build/nnc (as shared libraries, for this machine),
# then for every row runs nnc's runner (bench/run_nnc.c), PyTorch's
# (bench/torch_models.py, Debian's python3-torch, /usr/bin/python3) and, for
# inference, ONNX Runtime's (bench/ort_run.js: npm's onnxruntime-node under
# build/bench/node_modules, installed by tools/setup.sh bench, on the models
# torch_models.py exports) alternately ROUNDS times (default 5); each run
# reports its own median over several timed blocks, and the table shows the
# medians over the rounds, nnc's throughput and GFLOP/s, its share of the
# FMA peak measured in the same run, and the nnc/peer speed ratios. PyTorch
# runs with torch.set_num_threads(T) and OPENBLAS_NUM_THREADS=1, its best
# setting; ONNX Runtime with T intra-op threads, one inter-op thread,
# sequential execution and every graph optimization. Without a peer its
# columns say so.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=build/bench
mkdir -p "$out"
nnc=build/nnc
[ -x "$nnc" ] || { echo "bench: build nnc first (sh tools/setup.sh test, or cmake)" >&2; exit 1; }
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iruntime -o "$out/run_nnc" bench/run_nnc.c -ldl
blas=""
if cc -O3 -march=native -fopenmp -std=c11 -D_POSIX_C_SOURCE=200809L -Iruntime -o "$out/gemm" bench/gemm.c \
     -lopenblas -lm 2>/dev/null; then blas=yes; fi
# each model from both backends: the C backend's library (cc -march=native)
# and the LLVM backend's (for this machine, its default)
llvm=""
"$nnc" --version | grep -q 'llvm (LLVM' && llvm=yes
# (char_lstm256: the char LSTM over 256 steps)
sed 's/i32\[32\]/i32[256]/; s/steps: 32/steps: 256/' examples/char_lstm.nn > "$out/char_lstm256.nn"
for m in seed_mlp mnist_mlp seed_cnn char_lstm char_lstm256 reverse_transformer; do
  f=examples/$m.nn
  [ $m = char_lstm256 ] && f=$out/$m.nn
  "$nnc" --backend=c --cpu=native "$f" -o "$out/$m.so"
  [ -n "$llvm" ] && "$nnc" --backend=llvm "$f" -o "$out/$m-llvm.so"
done
torch=""
if /usr/bin/python3 -c "import torch" 2>/dev/null; then torch=yes; fi
export OPENBLAS_NUM_THREADS=1
# ONNX Runtime: the seed CNN exported once per batch size (NCHW, as PyTorch has it)
ort=""
if [ -n "$torch" ] && [ -d "$out/node_modules/onnxruntime-node" ] && command -v node > /dev/null; then
  export NODE_PATH="$out/node_modules"
  ort=yes
  for b in 1 32; do /usr/bin/python3 bench/torch_models.py seed_cnn onnx $b "$out/seed_cnn-$b.onnx"; done
fi

med() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

peak1=$("$out/gemm" peak 1 5 2>/dev/null | field peak || echo nan)
peak2=$("$out/gemm" peak 2 5 2>/dev/null | field peak || echo nan)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cpus;" \
     "FMA peak (widest vectors, measured now): $peak1 GFLOP/s at 1 thread, $peak2 at 2"
echo
echo "| work | threads | nnc µs/step (C) | nnc µs/step (LLVM) | PyTorch µs/step | ONNX Runtime µs/step | nnc samples/s | nnc GFLOP/s | % of peak | nnc/PyTorch speed (C) | (LLVM) | nnc/ORT speed (C) | (LLVM) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"

# row LABEL MODEL MODELNAME NNC_MODE TORCH_MODE BATCH THREADS MFLOP_PER_SAMPLE [ORT_INPUT_DIMS]
# (ORT_INPUT_DIMS: the exported model's input shape without the batch, for an
# ONNX Runtime column; its file is $out/MODEL-BATCH.onnx)
row() {
  : > "$out/a"; : > "$out/b"; : > "$out/l"; : > "$out/o"
  r=0
  while [ $r -lt "$rounds" ]; do
    "$out/run_nnc" "$out/$2.so" "$3" "$4" "$6" "$7" 5 | field us_per_step >> "$out/a"
    if [ -n "$llvm" ]; then
      "$out/run_nnc" "$out/$2-llvm.so" "$3" "$4" "$6" "$7" 5 | field us_per_step >> "$out/l"
    fi
    if [ -n "$torch" ]; then
      /usr/bin/python3 bench/torch_models.py "$2" "$5" "$6" "$7" 5 | field us_per_step >> "$out/b"
    fi
    if [ -n "$ort" ] && [ -n "${9:-}" ]; then
      node bench/ort_run.js "$out/$2-$6.onnx" "$6,$9" "$7" 5 | field us_per_step >> "$out/o"
    fi
    r=$((r + 1))
  done
  a=$(med < "$out/a"); b=$(med < "$out/b"); c=$(med < "$out/l"); o=$(med < "$out/o")
  peak=$peak1; [ "$7" = 2 ] && peak=$peak2
  awk -v l="$1" -v t="$7" -v a="$a" -v b="$b" -v c="$c" -v o="$o" -v n="$6" -v f="$8" -v p="$peak" \
      -v hasort="${9:-}" -v ort="$ort" 'BEGIN {
    best = (c != "nan" && c < a) ? c : a; g = f * n / best * 1e3;
    printf "| %s | %s | %.1f | %s | %s | %s | %.0f | %.1f | %.0f%% | %s | %s | %s | %s |\n", l, t, a,
           (c == "nan" ? "-" : sprintf("%.1f", c)), (b == "nan" ? "no PyTorch" : sprintf("%.1f", b)),
           (hasort == "" ? "-" : o == "nan" ? (ort == "" ? "no ONNX Runtime" : "failed") : sprintf("%.1f", o)),
           n / best * 1e6, g, 100 * g / p, (b == "nan" ? "-" : sprintf("%.2f×", b / a)),
           (b == "nan" || c == "nan" ? "-" : sprintf("%.2f×", b / c)),
           (o == "nan" ? "-" : sprintf("%.2f×", o / a)), (o == "nan" || c == "nan" ? "-" : sprintf("%.2f×", o / c)) }'
}

for t in 1 2; do
  row "seed MLP training, batch 10" seed_mlp SeedMLP train train 10 $t 0.00054
  row "seed MLP training, batch 256" seed_mlp SeedMLP train train 256 $t 0.00054
  row "MNIST MLP training, batch 64" mnist_mlp MnistMLP train train 64 $t 0.61
  row "seed CNN training, batch 32" seed_cnn SeedCNN train train 32 $t 30.8
  row "seed CNN inference, batch 1 (PyTorch eager)" seed_cnn SeedCNN infer infer 1 $t 10.3
  row "seed CNN inference, batch 1 (PyTorch traced+frozen)" seed_cnn SeedCNN infer frozen 1 $t 10.3 3,32,32
  row "seed CNN inference, batch 32 (PyTorch traced+frozen)" seed_cnn SeedCNN infer frozen 32 $t 10.3 3,32,32
  # the sequence models: work per sample ≈ 3 × the forward pass's products
  # (char LSTM: 32 steps of 2·(32+128)·512 + 2·128·256; reverse Transformer:
  # the projections, attention and feed-forward of 8 tokens, d 32, ff 64)
  row "char LSTM training, batch 32, 32 steps" char_lstm CharLSTM train train 32 $t 22.0
  row "char LSTM training, batch 32, 256 steps" char_lstm256 CharLSTM train train 32 $t 176.0
  row "reverse Transformer training, batch 64" reverse_transformer Reverse train train 64 $t 1.08
done

# the tutorial's whole job in one process: wall time of the process
echo
echo "| the tutorial job: seed MLP, 150 epochs × 77 steps of 10, one process | nnc s | PyTorch s (import included) | speed ratio |"
echo "|---|---|---|---|"
: > "$out/a"; : > "$out/b"
r=0
while [ $r -lt "$rounds" ]; do
  s=$(date +%s.%N); "$out/run_nnc" "$out/seed_mlp.so" SeedMLP job 10 1 1 > /dev/null; e=$(date +%s.%N)
  echo "$e - $s" | bc >> "$out/a"
  if [ -n "$torch" ]; then
    s=$(date +%s.%N); /usr/bin/python3 bench/torch_models.py seed_mlp job 10 1 1 > /dev/null; e=$(date +%s.%N)
    echo "$e - $s" | bc >> "$out/b"
  fi
  r=$((r + 1))
done
a=$(med < "$out/a"); b=$(med < "$out/b")
awk -v a="$a" -v b="$b" 'BEGIN { printf "| 1 thread | %.3f | %s | %s |\n", a, (b == "nan" ? "no PyTorch" : sprintf("%.2f", b)),
  (b == "nan" ? "-" : sprintf("%.0f×", b / a)) }'

# peak memory of a training run (seed CNN, batch 32)
echo
nm=$("$out/run_nnc" "$out/seed_cnn.so" SeedCNN train 32 1 3 | field maxrss_kb)
tm=nan
[ -n "$torch" ] && tm=$(/usr/bin/python3 bench/torch_models.py seed_cnn train 32 1 3 | field maxrss_kb)
awk -v a="$nm" -v b="$tm" 'BEGIN { printf "peak RSS training the seed CNN (batch 32): nnc %.1f MB, PyTorch %s MB%s\n",
  a / 1024, (b == "nan" ? "-" : sprintf("%.1f", b / 1024)), (b == "nan" ? "" : sprintf(" (%.1f%%)", 100 * a / b)) }'

# compile time: the seed CNN to a shared library at -O2, each backend
echo
echo "| compile time, seed CNN to .so at -O2 | C backend (cc) s | LLVM backend s |"
echo "|---|---|---|"
: > "$out/a"; : > "$out/l"
r=0
while [ $r -lt "$rounds" ]; do
  s=$(date +%s.%N); "$nnc" --backend=c -O2 examples/seed_cnn.nn -o "$out/ct.so"; e=$(date +%s.%N)
  echo "$e - $s" | bc >> "$out/a"
  if [ -n "$llvm" ]; then
    s=$(date +%s.%N); "$nnc" --backend=llvm -O2 examples/seed_cnn.nn -o "$out/ct.so"; e=$(date +%s.%N)
    echo "$e - $s" | bc >> "$out/l"
  fi
  r=$((r + 1))
done
awk -v a="$(med < "$out/a")" -v c="$(med < "$out/l")" 'BEGIN {
  printf "| median of the rounds | %.2f | %s |\n", a, (c == "nan" ? "no LLVM" : sprintf("%.2f", c)) }'

# GEMM against OpenBLAS
if [ -n "$blas" ]; then
  echo
  echo "| GEMM n | threads | nnc GFLOP/s | OpenBLAS GFLOP/s | nnc/OpenBLAS |"
  echo "|---|---|---|---|---|"
  for t in 1 2; do
    for n in 256 512 1024; do
      : > "$out/a"; : > "$out/b"
      r=0
      while [ $r -lt "$rounds" ]; do   # each library in its own process, alternately
        "$out/gemm" $n $t 3 nnc | field nnc >> "$out/a"
        "$out/gemm" $n $t 3 openblas | field openblas >> "$out/b"
        r=$((r + 1))
      done
      awk -v n=$n -v t=$t -v a="$(med < "$out/a")" -v b="$(med < "$out/b")" 'BEGIN {
        printf "| %s | %s | %.1f | %.1f | %.0f%% |\n", n, t, a, b, 100 * a / b }'
    done
  done
else
  echo "no OpenBLAS (libopenblas-dev): the GEMM rows are missing"
fi
