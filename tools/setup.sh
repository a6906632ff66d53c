#!/bin/sh
# tools/setup.sh demo|test|bench — set up a fresh Debian 12 machine, build
# nnc, and run the demo (print the seed CNN's layer shapes, then compile the
# seed MLP for the breast-cancer table, train it and print its held-out
# accuracy), the whole test suite, or the benchmark against PyTorch
# (bench/run.sh; installs python3-torch, libopenblas-dev, bc, nodejs and npm
# as well, and npm's onnxruntime-node under build/bench: ONNX Runtime's CPU
# library ships inside that package, so its install script, which fetches
# GPU libraries, is not run); the test suite installs qemu-user, binutils and
# tcc as well, for tests/cli/portable.sh.
#
# Installs missing packages with apt-get when run as root; otherwise it names
# what is missing and stops. The test suite is built twice: with the system
# compiler (warnings are errors) and with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer, which also builds the libFuzzer target; the
# sanitized suite leaves out the tests labelled slow (trainings, the largest
# backend checks, the math sweeps over the floats), which the
# plain build has run.
set -eu
cd "$(dirname "$0")/.."
what=${1:-demo}

packages="cmake make gcc flex bison clang llvm-dev libomp-dev libclang-rt-dev diffutils pkgconf zlib1g-dev"
[ "$what" = test ] && packages="$packages qemu-user binutils tcc python3-numpy python3-torch python3-onnx libonnx-testdata graphviz" # portable.sh, python.sh, torch_interop.sh, onnx/, viz.sh (dot)
[ "$what" = bench ] && packages="$packages python3-torch libopenblas-dev bc nodejs npm"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tools/setup.sh: missing packages:$missing" >&2
    echo "install them with: sudo apt-get install$missing" >&2
    exit 1
  fi
  echo "installing:$missing"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DNNC_WERROR=ON >/dev/null
cmake --build build -j "$jobs"

case $what in
  demo)
    echo "== nnc --emit=ast examples/seed_cnn.nn   (every layer's output shape)"
    build/nnc --emit=ast examples/seed_cnn.nn
    echo "== nnc examples/breast_cancer.nn -o build/train_cancer && build/train_cancer"
    build/nnc examples/breast_cancer.nn -o build/train_cancer
    (cd examples && ../build/train_cancer)
    ;;
  test)
    CC=clang cmake -S . -B build-asan -DNNC_WERROR=ON -DNNC_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$jobs"
    ctest --test-dir build --output-on-failure -j "$jobs"
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE slow
    ;;
  bench)
    if [ ! -d build/bench/node_modules/onnxruntime-node ]; then
      mkdir -p build/bench
      (cd build/bench && npm install --no-audit --no-fund --ignore-scripts onnxruntime-node)
    fi
    sh bench/run.sh
    ;;
  *)
    echo "usage: tools/setup.sh demo|test|bench" >&2
    exit 2
    ;;
esac
