#!/bin/sh
# run_test.sh MODE NNC FILE [EXPECTED] — one test of the nnc front end.
#
#   golden  `nnc --emit=ast FILE` exits 0 and prints exactly the file EXPECTED
#   error   `nnc FILE` (every check, autodiff included, no output) exits 1
#           and prints on standard error exactly the lines of FILE that start
#           with '#> '
#   accept  `nnc --emit=ast FILE` exits 0 and prints exactly those lines
#   warn    `nnc FILE` exits 0 and prints exactly those lines on standard error
#   ir      `nnc --emit=ir FILE` exits 0 and prints exactly the file EXPECTED
#   lowered `nnc -d L FILE` exits 0 and dumps exactly the file EXPECTED: the
#           IR as autodiff left it, before simplification
#
# nnc runs in FILE's directory with FILE's bare name, so diagnostics read
# "name.nn:LINE:COL: ...". With NNC_UPDATE=1 the expectations are rewritten
# from the actual output instead (review the diff before committing it).
set -u
mode=$1 nnc=$2 file=$3
dir=$(dirname "$file")
base=$(basename "$file")
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

case $mode in
  golden|accept) args="--emit=ast" want_rc=0 ;;
  error) args="" want_rc=1 ;;
  warn) args="" want_rc=0 ;;
  ir) args="--emit=ir" want_rc=0 ;;
  lowered) args="-d L" want_rc=0 ;;
  *) echo "run_test.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac

(cd "$dir" && "$nnc" $args "$base" >"$tmp/out" 2>"$tmp/err")
rc=$?
case $mode in error|warn|lowered) actual=$tmp/err ;; *) actual=$tmp/out ;; esac

if [ "$mode" = golden ] || [ "$mode" = ir ] || [ "$mode" = lowered ]; then
  expected=$4
else
  expected=$tmp/expected
  sed -n -e 's/^#> //p' -e 's/^#>$//p' "$file" >"$expected"
fi

if [ "${NNC_UPDATE:-}" = 1 ]; then
  if [ -n "${4:-}" ]; then
    cp "$actual" "$expected"
  else
    grep -v -e '^#> ' -e '^#>$' "$file" >"$tmp/body"
    { cat "$tmp/body"; sed -e 's/^/#> /' -e 's/^#> $/#>/' "$actual"; } >"$file"
  fi
  echo "updated $file"
  exit 0
fi

status=0
if [ $rc -ne $want_rc ]; then
  echo "FAIL: exit status $rc, expected $want_rc"
  status=1
fi
if ! diff -u "$expected" "$actual"; then
  echo "FAIL: output differs from the expectation (- expected, + actual)"
  status=1
fi
if { [ "$mode" = golden ] || [ "$mode" = accept ] || [ "$mode" = ir ]; } && [ -s "$tmp/err" ]; then
  echo "FAIL: unexpected messages on standard error:"
  cat "$tmp/err"
  status=1
fi
[ $status -eq 0 ] && echo "ok: $base"
exit $status
