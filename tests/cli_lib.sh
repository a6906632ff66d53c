# cli_lib.sh — helpers for tests/cli/*.sh, which run as: sh TEST NNC SRCDIR
# Each check prints what failed; the test exits non-zero if any check failed.
nnc=$1
src=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() { echo "FAIL: $*"; failed=1; }

# expect RC COMMAND...: runs COMMAND, keeps stdout/stderr in $tmp/out, $tmp/err.
expect() {
  want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want; stderr: $(head -c 400 "$tmp/err")"
}

# has FILE TEXT: FILE contains the fixed string TEXT.
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2': $(head -c 400 "$1")"; }

# mnist_idx: the MNIST sample of examples/data, gunzipped to
# $tmp/mnist-images.idx and $tmp/mnist-labels.idx.
mnist_idx() {
  gunzip -c "$src/examples/data/mnist-images.idx.gz" > "$tmp/mnist-images.idx" &&
    gunzip -c "$src/examples/data/mnist-labels.idx.gz" > "$tmp/mnist-labels.idx" || fail "gunzip failed"
}

# held_out_at_least FILE SAMPLES MIN [WHAT]: a training program's output
# FILE ends with held-out figures over SAMPLES samples, accuracy >= MIN.
held_out_at_least() {
  acc=$(sed -n "s/^held-out: $2 samples, .*accuracy \([0-9.]*\)\$/\1/p" "$1")
  awk -v a="$acc" -v m="$3" 'BEGIN { exit !(a != "" && a >= m) }' ||
    fail "${4:-held-out} accuracy '$acc' over $2 samples is below $3: $(tail -2 "$1")"
}

# lib_host BACKEND MODEL.nn LIB HOST.c: the model built by BACKEND into
# $tmp/BACKEND/LIB.so (LIB.h beside it), HOST.c linked against it into
# $tmp/BACKEND/host and run, its output in $tmp/BACKEND/out.txt; a failure
# says which step, and for the host the lines it printed but "ok ...".
lib_host() {
  mkdir -p "$tmp/$1"
  "$nnc" --backend="$1" "$2" -o "$tmp/$1/$3.so" || { fail "$1: $3.so"; return; }
  ${CC:-cc} -std=c11 ${CFLAGS:-} -I"$tmp/$1" "$4" -o "$tmp/$1/host" "$tmp/$1/$3.so" -Wl,-rpath,"$tmp/$1" -lm ||
    { fail "$1: host"; return; }
  "$tmp/$1/host" > "$tmp/$1/out.txt" || fail "$1: $(grep -v '^ok' "$tmp/$1/out.txt")"
}

# npy DESCR SHAPE [FORTRAN]: a NumPy .npy version 1.0 header, padded to 64
# bytes as NumPy writes it (FORTRAN: fortran_order, False unless given).
npy() {
  perl -e '$h = "{\x27descr\x27: \x27$ARGV[0]\x27, \x27fortran_order\x27: $ARGV[2], \x27shape\x27: $ARGV[1], }";
           $h .= " " x (63 - (10 + length($h)) % 64) . "\n";
           print "\x93NUMPY\x01\x00", pack("v", length $h), $h' "$1" "$2" "${3:-False}"
}

# ms: the clock in milliseconds.
ms() { echo $(($(date +%s%N) / 1000000)); }

# interrupt SIG DELAY_MS FUNCTION: runs FUNCTION in the background (it must
# exec the program, so that the signal reaches it) and sends it SIG after
# DELAY_MS; if the run ended first (exit status 0: a quicker moment of the
# machine), tries again at half the delay, up to four times. Leaves the exit
# status in rc and the last delay in delay. Timing a straight run and
# passing fractions of it keeps the moments inside the run on any machine.
interrupt() {
  delay=$2
  for try in 1 2 3 4; do
    $3 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -"$1" $pid 2> /dev/null
    wait $pid
    rc=$?
    [ $rc -ne 0 ] && return 0
    delay=$((delay / 2))
  done
}

finish() {
  [ $failed -eq 0 ] && echo "ok"
  exit $failed
}

# need_python [MODULE...]: Debian's Python (/usr/bin/python3, as $py) with
# numpy and the modules named, else the test fails saying which package.
need_python() {
  py=/usr/bin/python3
  for m in numpy "$@"; do
    "$py" -c "import $m" 2>/dev/null || { echo "Debian's python3-$m is missing (tools/setup.sh test installs it)"; exit 1; }
  done
}
