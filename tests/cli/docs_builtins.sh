#!/bin/sh
# docs_builtins.sh NNC SRCDIR — docs/language.md documents every built-in.
#
# Reads the table of built-ins from `NNC --help-builtins`, whose entries are
# lines like
#     dense(x, units, activation = none, ...)
# and fails, naming what is missing, when docs/language.md
#   - has no signature `name(` (in backticks) for a built-in;
#   - has signatures of a built-in but none of those lines names one of its
#     arguments;
#   - does not contain the exact signature as --help-builtins prints it, in
#     backticks (so a changed default is noticed too).
#
# Only sh, grep, sed, awk, sort and comm are used.
set -u
nnc=${1:?usage: docs_builtins.sh NNC SRCDIR}
src=${2:?usage: docs_builtins.sh NNC SRCDIR}
doc=$src/docs/language.md
[ -r "$doc" ] || { echo "FAIL: cannot read $doc"; exit 1; }

tmp=${TMPDIR:-/tmp}/docs_builtins.$$
mkdir "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! "$nnc" --help-builtins >"$tmp/help" 2>"$tmp/err"; then
  echo "FAIL: '$nnc --help-builtins' failed:"
  cat "$tmp/err"
  exit 1
fi
# Entries: two spaces, a name, "(", arguments, ")".
grep '^  [A-Za-z_][A-Za-z0-9_]*(.*)$' "$tmp/help" | sed 's/^  //' | sort -u >"$tmp/sigs"
if [ ! -s "$tmp/sigs" ]; then
  echo "FAIL: found no built-ins in the output of '$nnc --help-builtins'"
  exit 1
fi

status=0
n=0
while IFS= read -r sig; do
  n=$((n + 1))
  name=${sig%%(*}
  # Lines of the document with a signature of this built-in.
  grep -F "\`$name(" "$doc" >"$tmp/lines"
  if [ ! -s "$tmp/lines" ]; then
    echo "FAIL: built-in '$name' is not documented (no \`$name(...)\` in docs/language.md)"
    status=1
    continue
  fi
  # Argument names: the text between the parentheses, strings blanked out,
  # split at commas, each up to " = ".
  args=$(printf '%s\n' "$sig" | sed 's/^[^(]*(//; s/)$//; s/"[^"]*"/S/g' |
         awk -F, '{ for (i = 1; i <= NF; i++) { a = $i; sub(/=.*/, "", a); gsub(/ /, "", a)
                                                if (a != "") print a } }')
  for a in $args; do
    if ! grep -q -E "(^|[^A-Za-z0-9_])$a([^A-Za-z0-9_]|\$)" "$tmp/lines"; then
      echo "FAIL: argument '$a' of built-in '$name' is not documented with it"
      status=1
    fi
  done
  if ! grep -q -F "\`$sig\`" "$doc"; then
    echo "FAIL: docs/language.md lacks the signature of '$name' as nnc prints it: \`$sig\`"
    status=1
  fi
done <"$tmp/sigs"

[ $status -eq 0 ] && echo "ok: docs/language.md documents all $n built-in signatures"
exit $status
