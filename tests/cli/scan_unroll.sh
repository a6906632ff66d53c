# Recurrent layers as loops (scan) against the same layers unrolled
# (--unroll): a reversed LSTM, a GRU of each variant, a simple RNN, stacked,
# trained 3 steps (forward and backward through time) and then predicting
# give the same numbers within float rounding, at 1 and 2 threads. And a
# loop's cost does not grow with the steps: the char LSTM with 32 and with
# 512 steps has as many IR values, and its library about the same size.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
$cc -std=c11 -O1 ${CFLAGS:-} -I"$src/runtime" -o "$tmp/host" "$src/tests/cli/checksum_host.c" -ldl ||
  fail "building the host failed"
cat > "$tmp/seq.nn" <<'NN'
model Seq {
  input x: [8, 3]
  s = lstm(x, 8, return_sequences: true, reverse: true)
  t = gru(s, 6, return_sequences: true, reset_after: true)
  u = simple_rnn(t, 5)
  output dense(concat(u, gru(x, 4)), 2)
}

train Seq {
  data       npy(x: "x.npy", y: "y.npy")
  loss       mse
  optimizer  adam(lr: 0.01)
  batch      4
}
NN
"$nnc" --backend=c -O0 "$tmp/seq.nn" -o "$tmp/loop.so" 2> "$tmp/err" || fail "the loop build failed: $(head -3 "$tmp/err")"
"$nnc" --backend=c -O0 --unroll "$tmp/seq.nn" -o "$tmp/unrolled.so" 2> "$tmp/err" ||
  fail "the unrolled build failed: $(head -3 "$tmp/err")"
for threads in 1 2; do
  for lib in loop unrolled; do
    CHECKSUM_VALUES=1 "$tmp/host" "$tmp/$lib.so" Seq values 0 3 4 $threads "$tmp/ck" > "$tmp/$lib-$threads" 2> "$tmp/err" ||
      fail "$lib at $threads threads: $(cat "$tmp/err")"
  done
  [ "$(wc -l < "$tmp/loop-$threads")" -eq 8 ] || fail "the loop's prediction has $(wc -l < "$tmp/loop-$threads") values, not 8"
  paste "$tmp/loop-$threads" "$tmp/unrolled-$threads" |
    awk '{ d = $1 - $2; if (d < 0) d = -d; m = ($2 < 0 ? -$2 : $2); if (d > 1e-5 * m + 1e-6) { print; bad = 1 } } END { exit bad }' > "$tmp/diff" ||
    fail "at $threads threads the loop and the unrolled layers differ (loop, unrolled): $(head -3 "$tmp/diff")"
done
cmp -s "$tmp/loop-1" "$tmp/loop-2" || fail "the loop's results differ between 1 and 2 threads"

# the cost of 512 steps is that of 32
sed 's/i32\[32\]/i32[512]/; s/steps: 32/steps: 512/' "$src/examples/char_lstm.nn" > "$tmp/long.nn"
for t in 32 512; do
  f=$src/examples/char_lstm.nn
  [ $t = 512 ] && f=$tmp/long.nn
  "$nnc" --emit=ir "$f" -o "$tmp/ir$t" 2> "$tmp/err" || fail "--emit=ir of $t steps failed: $(head -3 "$tmp/err")"
  "$nnc" --backend=c -O0 "$f" -o "$tmp/lib$t.so" 2> "$tmp/err" || fail "the build of $t steps failed: $(head -3 "$tmp/err")"
done
v32=$(grep -c ' = ' "$tmp/ir32"); v512=$(grep -c ' = ' "$tmp/ir512")
[ "$v32" -eq "$v512" ] || fail "the IR has $v32 values at 32 steps and $v512 at 512"
s32=$(wc -c < "$tmp/lib32.so"); s512=$(wc -c < "$tmp/lib512.so")
[ $((s512 * 2)) -le $((s32 * 3)) ] || fail "the library is $s32 bytes at 32 steps and $s512 at 512"
exit $failed
