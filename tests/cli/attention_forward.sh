# Multi-head attention forward, compiled by nnc, against softmax(Q K^T /
# sqrt(d) + masks) V computed in tests/cli/attention_ref.c: self and
# cross-attention, causal, a padding mask (one sample all padding).
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}

# check T D HEADS S C CROSS CAUSAL MASK
check() {
  args="$3"
  [ "$6" = 1 ] && args="$args, context: c"
  [ "$7" = 1 ] && args="$args, causal: true"
  [ "$8" = 1 ] && args="$args, mask: keep"
  printf 'model K {\n  input x: [%s, %s]\n  input c: [%s, %s]\n  input keep: [%s]\n  output attention(x, %s)\n}\n' \
    "$1" "$2" "$4" "$5" "$4" "$args" > "$tmp/K.nn"
  "$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || { fail "nnc failed on attention(x, $args)"; return; }
  $cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" -DR_T=$1 -DR_D=$2 -DR_H=$3 -DR_S=$4 -DR_C=$5 -DR_CROSS=$6 \
    -DR_CAUSAL=$7 -DR_MASK=$8 -o "$tmp/ref" "$src/tests/cli/attention_ref.c" -lm ||
    { fail "building the reference for attention(x, $args) failed"; return; }
  "$tmp/ref" || fail "attention(x, $args): compiled output differs from the explicit softmax"
}
check 5 8 2 5 3 0 0 0
check 6 6 3 6 4 0 1 0
check 4 8 4 7 5 1 0 1
check 5 6 1 5 2 0 1 1
finish
