# simple_rnn, lstm and gru (also with reset_after) forward, compiled by
# nnc, against the textbook recurrences written out in tests/cli/rnn_ref.c
# (every state of the sequence, read forward and reversed, with padded steps
# masked, and from an initial_state given as inputs).
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}

# check CELL T D UNITS REVERSE [MASK [INIT]]
check() {
  case $1 in simple_rnn) id=0 ;; lstm) id=1 ;; gru) id=2 ;; gru_after) id=3 ;; esac
  rev=false; [ "$5" = 1 ] && rev=true
  if [ $id = 3 ]; then rev="$rev, reset_after: true"; set -- gru "$2" "$3" "$4" "$5" "${6:-0}" "${7:-0}"; fi
  mask=${6:-0}
  init=${7:-0}
  if [ "$init" = 1 ]; then
    m=""; ins=""; state=h
    [ "$mask" = 1 ] && m=", mask: m" && ins="  input m: [$2]\n"
    [ $1 = lstm ] && state="[h, c]" && ins="$ins  input h: [$4]\n  input c: [$4]\n" || ins="$ins  input h: [$4]\n"
    printf "model K {\n  input x: [%s, %s]\n$ins  output %s(x, %s, return_sequences: true, reverse: %s%s, initial_state: %s)\n}\n" \
      "$2" "$3" "$1" "$4" "$rev" "$m" "$state" > "$tmp/K.nn"
  elif [ "$mask" = 1 ]; then
    printf 'model K {\n  input x: [%s, %s]\n  input m: [%s]\n  output %s(x, %s, return_sequences: true, reverse: %s, mask: m)\n}\n' \
      "$2" "$3" "$2" "$1" "$4" "$rev" > "$tmp/K.nn"
  else
    printf 'model K {\n  input x: [%s, %s]\n  %s(%s, return_sequences: true, reverse: %s)\n}\n' \
      "$2" "$3" "$1" "$4" "$rev" > "$tmp/K.nn"
  fi
  "$nnc" --no-main "$tmp/K.nn" -o "$tmp/K.c" || { fail "nnc failed on $1"; return; }
  $cc -std=c11 -O1 -fopenmp $CFLAGS -I"$tmp" -DR_CELL=$id -DR_T=$2 -DR_D=$3 -DR_U=$4 -DR_REV=$5 -DR_MASK=$mask -DR_INIT=$init \
    -o "$tmp/ref" "$src/tests/cli/rnn_ref.c" -lm || { fail "building the reference for $1 failed"; return; }
  "$tmp/ref" || fail "$1 T=$2 D=$3 units=$4 reverse=$5 mask=$mask init=$init: compiled states differ from the textbook"
}
check simple_rnn 5 3 4 0
check simple_rnn 4 2 3 1
check lstm 6 3 5 0
check lstm 3 4 2 1
check gru 5 3 4 0
check gru 4 2 3 1
check simple_rnn 6 2 3 0 1
check lstm 6 3 4 1 1
check gru 7 2 3 0 1
check gru_after 5 3 4 0
check gru_after 4 2 3 1
check gru_after 7 2 3 0 1
check simple_rnn 4 3 3 1 0 1
check lstm 5 2 3 0 1 1
check gru 4 3 2 1 1 1
check gru_after 5 2 3 0 0 1
finish
