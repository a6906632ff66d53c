# conv2d and pooling forward, compiled by nnc, against naive loops written
# out in tests/cli/window_ref.c: strides, valid/same/explicit padding,
# dilation, groups and depthwise, odd and prime sizes, windows wider than
# their stride; 1 and 2 threads give the same bits.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}

# check LAYER MACROS...: model K = one layer on a [H, W, C] image
check() {
  layer=$1; shift
  hwc=$(echo "$*" | sed -n 's/.*-DR_H=\([0-9]*\) -DR_W=\([0-9]*\) -DR_C=\([0-9]*\).*/\1, \2, \3/p')
  printf 'model K {\n  input x: [%s]\n  %s\n}\n' "$hwc" "$layer" > "$tmp/K.nn"
  "$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || { fail "nnc failed on: $layer"; return; }
  $cc -std=c11 -O2 -fopenmp $CFLAGS -I"$tmp" "$@" -o "$tmp/ref" "$src/tests/cli/window_ref.c" -lm ||
    { fail "building the reference for '$layer' failed"; return; }
  "$tmp/ref" || fail "$layer: compiled output differs from the naive loops"
}
conv="-DR_OP=0 -DR_DH=1 -DR_DW=1 -DR_SAME=0 -DR_PH=0 -DR_PW=0"
check "conv2d(8, 3, use_bias: false)" $conv -DR_H=9 -DR_W=7 -DR_C=3 -DR_KH=3 -DR_KW=3 -DR_SH=1 -DR_SW=1 -DR_F=8
check "conv2d(5, [3, 2], stride: [2, 3], use_bias: false)" $conv -DR_H=13 -DR_W=11 -DR_C=2 -DR_KH=3 -DR_KW=2 -DR_SH=2 -DR_SW=3 -DR_F=5
check "conv2d(7, 3, stride: 2, padding: same, use_bias: false)" -DR_OP=0 -DR_DH=1 -DR_DW=1 -DR_SAME=1 \
  -DR_H=11 -DR_W=10 -DR_C=5 -DR_KH=3 -DR_KW=3 -DR_SH=2 -DR_SW=2 -DR_F=7
check "conv2d(4, [5, 3], padding: [2, 1], dilation: [1, 2], use_bias: false)" -DR_OP=0 -DR_SAME=0 \
  -DR_PH=2 -DR_PW=1 -DR_DH=1 -DR_DW=2 -DR_H=8 -DR_W=9 -DR_C=3 -DR_KH=5 -DR_KW=3 -DR_SH=1 -DR_SW=1 -DR_F=4
check "conv2d(6, 3, groups: 2, dilation: 2, padding: same, use_bias: false)" -DR_OP=0 -DR_SAME=1 \
  -DR_DH=2 -DR_DW=2 -DR_H=10 -DR_W=10 -DR_C=4 -DR_KH=3 -DR_KW=3 -DR_SH=1 -DR_SW=1 -DR_F=6 -DR_G=2
check "conv2d(6, 3, groups: 3, padding: same, use_bias: false)" -DR_OP=0 -DR_SAME=1 -DR_DH=1 -DR_DW=1 \
  -DR_H=7 -DR_W=5 -DR_C=3 -DR_KH=3 -DR_KW=3 -DR_SH=1 -DR_SW=1 -DR_F=6 -DR_G=3
check "conv2d(40, 1, use_bias: false)" $conv -DR_H=1 -DR_W=1 -DR_C=37 -DR_KH=1 -DR_KW=1 -DR_SH=1 -DR_SW=1 -DR_F=40
check "conv2d(19, 3, use_bias: false)" $conv -DR_H=17 -DR_W=23 -DR_C=29 -DR_KH=3 -DR_KW=3 -DR_SH=1 -DR_SW=1 -DR_F=19
pool="-DR_DH=1 -DR_DW=1 -DR_SAME=0 -DR_PH=0 -DR_PW=0"
check "max_pool2d(2)" -DR_OP=1 $pool -DR_H=9 -DR_W=8 -DR_C=5 -DR_KH=2 -DR_KW=2 -DR_SH=2 -DR_SW=2
check "max_pool2d(3, stride: 2, padding: same)" -DR_OP=1 -DR_DH=1 -DR_DW=1 -DR_SAME=1 -DR_H=11 -DR_W=7 -DR_C=3 -DR_KH=3 -DR_KW=3 -DR_SH=2 -DR_SW=2
check "max_pool2d([3, 2], stride: 1, padding: [1, 1])" -DR_OP=1 -DR_DH=1 -DR_DW=1 -DR_SAME=0 -DR_PH=1 -DR_PW=1 \
  -DR_H=5 -DR_W=6 -DR_C=2 -DR_KH=3 -DR_KW=2 -DR_SH=1 -DR_SW=1
check "avg_pool2d(3, stride: 1, padding: 1)" -DR_OP=2 -DR_DH=1 -DR_DW=1 -DR_SAME=0 -DR_PH=1 -DR_PW=1 \
  -DR_H=7 -DR_W=6 -DR_C=4 -DR_KH=3 -DR_KW=3 -DR_SH=1 -DR_SW=1
check "avg_pool2d([2, 3], padding: same)" -DR_OP=2 -DR_DH=1 -DR_DW=1 -DR_SAME=1 -DR_H=9 -DR_W=10 -DR_C=3 -DR_KH=2 -DR_KW=3 -DR_SH=2 -DR_SW=3
finish
