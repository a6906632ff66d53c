# Threads never change the bits: the seed CNN and the MNIST MLP, as
# libraries of both backends, trained and run at 1, 2 and 3 threads, with
# the count changed between calls, and from four application threads at
# once, each with its own instance, and predictions of batches of 1, 2, 3,
# 5 and 32, which at 2 and 3 threads run as slices of samples at once
# (the sample split) from 2 or 3 samples on (tests/cli/threads_host.c).
# The sizes are large enough that the products, the convolutions and the
# loops are split among threads.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}
for backend in c llvm; do
  mkdir -p "$tmp/$backend"
  "$nnc" --backend=$backend -O1 "$ex/seed_cnn.nn" -o "$tmp/$backend/libcnn.so" || fail "$backend: libcnn.so"
  "$nnc" --backend=$backend -O1 "$ex/mnist_mlp.nn" -o "$tmp/$backend/libmnist.so" || fail "$backend: libmnist.so"
  $cc -std=c11 -Wall -Wextra -Werror ${CFLAGS:-} -I"$tmp/$backend" "$src/tests/cli/threads_host.c" \
    -o "$tmp/$backend/host" "$tmp/$backend/libcnn.so" "$tmp/$backend/libmnist.so" \
    -Wl,-rpath,"$tmp/$backend" -pthread -lm || fail "$backend: host"
  "$tmp/$backend/host" > "$tmp/$backend/out.txt" || fail "$backend: $(grep -v '^ok' "$tmp/$backend/out.txt")"
  [ "$(grep -c '^ok' "$tmp/$backend/out.txt")" -eq 15 ] || fail "$backend: $(cat "$tmp/$backend/out.txt")"
done
# the plan allows the split only where each sample is computed from itself
# alone: not for an output less the batch's mean, for one less its own
for f in "mean(x, axis: 0)|0" "mean(x, axis: 1, keepdims: true)|1"; do
  printf 'model M {\n  input x: [4]\n  output x - %s\n}\n' "${f%|*}" > "$tmp/m.nn"
  "$nnc" --emit=c --no-main "$tmp/m.nn" | grep -q "sample_split = ${f#*|}," ||
    fail "x - ${f%|*}: not sample_split = ${f#*|}"
done
# a recurrent layer's loop keeps each sample's rows its own: split too
printf 'model R {\n  input x: [6, 3]\n  output gru(lstm(x, 4, return_sequences: true), 2)\n}\n' > "$tmp/r.nn"
"$nnc" --emit=c --no-main "$tmp/r.nn" | grep -q "sample_split = 1," || fail "a recurrent model: not sample_split = 1"
finish
