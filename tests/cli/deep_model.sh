# A deep model compiles in memory and time linear in its depth: 3,000
# dense layers trained by Adam (about 130,000 values in the training step)
# go to C within a limit of 2 GB of address space, which a pass quadratic
# in the number of layers would exceed many times over (no time is
# measured: the timeout only stops a runaway). Also: the LLVM backend
# takes a kernel with hundreds of pointers (a deep model's fused optimizer
# updates).
. "$(dirname "$0")/../cli_lib.sh"

deep() { # deep N: N dense layers with a train block
  awk -v n="$1" 'BEGIN { print "model Deep {\n  input x: [8]";
    for (i = 0; i < n; i++) print "  dense(8, activation: relu)";
    print "  dense(1, activation: sigmoid)\n}\ntrain Deep {\n  data csv(\"d.csv\", label: last)";
    print "  loss binary_crossentropy\n  optimizer adam(lr: 1e-3)\n  epochs 1\n  batch 10\n}" }'
}
deep 3000 > "$tmp/deep.nn"

# AddressSanitizer reserves terabytes of address space: no limit there
limit=2000000
if grep -q -a __asan_init "$nnc"; then limit=unlimited; fi

( ulimit -v $limit && timeout 300 "$nnc" "$tmp/deep.nn" -o "$tmp/deep.c" ) >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "3,000 layers to C (address space $limit KB): exit status $rc: $(tail -c 400 "$tmp/err")"
has "$tmp/deep.c" "static void Deep_train_run("
has "$tmp/deep.c" "/* k2999: the code of k0 */"
( ulimit -v $limit && timeout 300 "$nnc" "$tmp/deep.nn" --emit=ir -o "$tmp/deep.ir" ) >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || fail "3,000 layers to IR: exit status $rc: $(tail -c 400 "$tmp/err")"
has "$tmp/deep.ir" "update param dense3000.W ="

if "$nnc" --version | grep -q 'llvm (LLVM'; then
  deep 20 > "$tmp/deep20.nn"
  expect 0 "$nnc" -O0 "$tmp/deep20.nn" -o "$tmp/libdeep20.so"
  [ -s "$tmp/libdeep20.so" ] || fail "no libdeep20.so"
fi
finish
