#!/bin/sh
# ebnf_in_step.sh NNC SRCDIR — grammar/nn.ebnf is in step with grammar/parser.y.
#
# Fails, printing what is missing, when
#   1. a rule (nonterminal) of parser.y is not defined in nn.ebnf, except the
#      helpers listed in HELPERS below;
#   2. a keyword or operator of parser.y is not a terminal of nn.ebnf: the
#      quoted aliases of %token ("'model'", "'->'", ...) and the character
#      tokens used in the rules ('(', '+', ...);
#   3. a named token that the rules use (IDENT, INT, FLOAT, STRING, NEWLINE)
#      is not defined in nn.ebnf;
#   4. a terminal of nn.ebnf's syntax part (before the "Lexical tokens"
#      heading) is not a token of parser.y (a keyword dropped from the
#      parser but left in the EBNF);
#   5. nn.ebnf uses a name that it does not define.
# With KEEP=1 the intermediate files are kept in $TMPDIR (or /tmp).
# Comments, strings, character literals and actions of parser.y are skipped;
# so are comments, terminals and ? special sequences ? of nn.ebnf.
#
# Only sh, grep, sed, awk, sort and comm are used. NNC is not needed.
set -u
src=${2:?usage: ebnf_in_step.sh NNC SRCDIR}
y=$src/grammar/parser.y
ebnf=$src/grammar/nn.ebnf
for f in "$y" "$ebnf"; do
  [ -r "$f" ] || { echo "FAIL: cannot read $f"; exit 1; }
done

# Rules of parser.y that nn.ebnf writes inline instead of as rules of their
# own, each with the reason. Keep this list short.
HELPERS='
ret_opt      written as [ "->" , type ] in layer_decl
lparams_opt  written as [ lparams , [ "," ] ] in layer_decl
args_opt     written as [ args , [ "," ] ] in primary
exprs_opt    written as [ exprs , [ "," ] ] in type and primary
nl_opt       written as { NEWLINE } in layer_decl, model_decl, train_decl
'

tmp=${TMPDIR:-/tmp}/ebnf_in_step.$$
mkdir "$tmp" || exit 1
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT INT TERM

# --- parser.y: one token per line from the rules section (between the first
# two %% lines), without comments and actions. Kinds: "id NAME",
# "char X" ('X' literals), "str TEXT" ("..." aliases used in rules), "punct P".
awk '
function flush() { if (id != "") { print "id " id; id = "" } }
BEGIN { section = 0; incomment = 0; depth = 0 }
/^%%/ { section++; next }
section != 1 { next }
{
  line = $0; n = length(line); i = 1
  while (i <= n) {
    c = substr(line, i, 1); c2 = substr(line, i, 2)
    if (incomment) {
      if (c2 == "*/") { incomment = 0; i += 2 } else i++
      continue
    }
    if (c2 == "/*") { flush(); incomment = 1; i += 2; continue }
    if (c2 == "//") { flush(); break }
    if (c == "\047" || c == "\"") {          # char literal or string
      flush(); q = c; j = i + 1; text = ""
      while (j <= n && substr(line, j, 1) != q) {
        if (substr(line, j, 1) == "\\") { text = text substr(line, j, 2); j += 2 }
        else { text = text substr(line, j, 1); j++ }
      }
      if (depth == 0) print (q == "\"" ? "str " : "char ") text
      i = j + 1; continue
    }
    if (c == "{") { flush(); depth++; i++; continue }
    if (c == "}") { flush(); if (depth > 0) depth--; i++; continue }
    if (depth > 0) { i++; continue }
    if (c ~ /[A-Za-z0-9_.%]/) { id = id c; i++; continue }
    flush()
    if (c ~ /[:|;]/) print "punct " c
    i++
  }
  flush()
}
END { flush() }
' "$y" >"$tmp/ytokens"

# Rules: a name followed by a bare ":".
awk '{ if (prev ~ /^id / && $0 == "punct :") print substr(prev, 4); prev = $0 }' \
  "$tmp/ytokens" | sort -u >"$tmp/yrules"
if [ ! -s "$tmp/yrules" ]; then
  echo "FAIL: found no rules in $y (has its layout changed?)"
  exit 1
fi

# Tokens: quoted aliases of %token lines ("'model'" -> model), and the
# character literals of the rules.
sed -n 's/^%token//p' "$y" | grep -o "\"'[^']*'\"" | sed "s/^\"'//; s/'\"\$//" \
  >"$tmp/yterms"
sed -n 's/^char //p' "$tmp/ytokens" >>"$tmp/yterms"
sed -n "s/^str '\\(.*\\)'\$/\\1/p" "$tmp/ytokens" >>"$tmp/yterms"
sort -u -o "$tmp/yterms" "$tmp/yterms"

# Named tokens the rules use whose alias is not a quoted literal.
sed -n 's/^%token//p' "$y" | awk '
  { for (i = 1; i <= NF; i++) {
      if ($i ~ /^<.*>$/) continue
      if ($i ~ /^[A-Z_][A-Z0-9_]*$/) { name = $i; literal[name] = 0; continue }
      if ($i ~ /^"\047/) literal[name] = 1
  } }
  END { for (t in literal) if (!literal[t]) print t }' | sort -u >"$tmp/ynamed"
sed -n 's/^id //p' "$tmp/ytokens" | sort -u >"$tmp/yids"
comm -12 "$tmp/ynamed" "$tmp/yids" | grep -v -x -e END -e error >"$tmp/yneeded"

# --- nn.ebnf: tokens without comments; "def NAME" for definitions, "use
# NAME" for references, "term TEXT" for terminals (with "syn" or "lex"
# telling which part of the file they are in).
awk '
BEGIN { incomment = 0; part = "syn" }
/\(\*[ =]*Lexical tokens/ { part = "lex" }
{
  line = $0; n = length(line); i = 1
  while (i <= n) {
    c = substr(line, i, 1); c2 = substr(line, i, 2)
    if (c2 == "(*") { incomment++; i += 2; continue }   # ISO comments nest
    if (incomment) {
      if (c2 == "*)") { incomment--; i += 2 } else i++
      continue
    }
    if (c == "\"" || c == "\047" || c == "?") {   # terminal or special sequence
      j = i + 1
      while (j <= n && substr(line, j, 1) != c) j++
      if (c != "?") print "term " part " " substr(line, i + 1, j - i - 1)
      i = j + 1; continue
    }
    if (c ~ /[A-Za-z_]/) {
      j = i
      while (j <= n && substr(line, j, 1) ~ /[A-Za-z0-9_]/) j++
      print "name " substr(line, i, j - i)
      i = j; continue
    }
    if (c == "=") print "punct ="
    i++
  }
}' "$ebnf" >"$tmp/etokens"
if grep -q '^term lex' "$tmp/etokens"; then :; else
  echo "FAIL: $ebnf has no '(* ===== Lexical tokens' heading before its lexical part"
  exit 1
fi
awk '{
  if (prev ~ /^name / && $0 == "punct =") print "def " substr(prev, 6)
  else if (prev ~ /^name /) print "use " substr(prev, 6)
  prev = $0
} END { if (prev ~ /^name /) print "use " substr(prev, 6) }' "$tmp/etokens" >"$tmp/enames"
sed -n 's/^def //p' "$tmp/enames" | sort -u >"$tmp/edefs"
sed -n 's/^use //p' "$tmp/enames" | sort -u >"$tmp/euses"
sed -n 's/^term [a-z]* //p' "$tmp/etokens" | sort -u >"$tmp/eterms"
sed -n 's/^term syn //p' "$tmp/etokens" | sort -u >"$tmp/esynterms"

printf '%s\n' "$HELPERS" | awk 'NF { print $1 }' | sort -u >"$tmp/helpers"

status=0
report() { # title file
  if [ -s "$2" ]; then
    echo "FAIL: $1:"
    sed 's/^/  /' "$2"
    status=1
  fi
}

# 1. rules
comm -23 "$tmp/yrules" "$tmp/helpers" | comm -23 - "$tmp/edefs" >"$tmp/missing"
report "rules of parser.y not defined in nn.ebnf (define them, or list them in HELPERS with a reason)" "$tmp/missing"
comm -23 "$tmp/helpers" "$tmp/yrules" >"$tmp/stale"
report "HELPERS names that are no longer rules of parser.y (remove them from the list)" "$tmp/stale"
comm -12 "$tmp/helpers" "$tmp/edefs" >"$tmp/both"
report "HELPERS names that nn.ebnf does define (remove them from the list)" "$tmp/both"

# 2. keywords and operators
comm -23 "$tmp/yterms" "$tmp/eterms" >"$tmp/missing"
report "keywords/operators of parser.y missing as terminals in nn.ebnf" "$tmp/missing"

# 3. named tokens
comm -23 "$tmp/yneeded" "$tmp/edefs" >"$tmp/missing"
report "named tokens of parser.y (IDENT, INT, ...) not defined in nn.ebnf" "$tmp/missing"

# 4. terminals of the syntax part that parser.y does not have
comm -23 "$tmp/esynterms" "$tmp/yterms" >"$tmp/extra"
report "terminals of nn.ebnf's syntax part that are not tokens of parser.y" "$tmp/extra"

# 5. undefined names in nn.ebnf
comm -23 "$tmp/euses" "$tmp/edefs" >"$tmp/undef"
report "names used in nn.ebnf but not defined there" "$tmp/undef"

if [ $status -eq 0 ]; then
  echo "ok: nn.ebnf defines the $(wc -l <"$tmp/yrules" | tr -d ' ') rules of parser.y" \
       "($(wc -l <"$tmp/helpers" | tr -d ' ') written inline) and its $(wc -l <"$tmp/yterms" | tr -d ' ') keywords/operators"
fi
exit $status
