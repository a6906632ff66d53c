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

finish() {
  [ $failed -eq 0 ] && echo "ok"
  exit $failed
}
