#!/bin/sh
# docs_program.sh NNC SRCDIR — docs/language.md documents every setting of a
# train block and every flag of the training program, and lists no other:
#   - each setting `nnc --help-builtins` lists has a row "| `name` |" in the
#     settings table of docs/language.md, and each row there is a setting;
#   - each flag the programs' --help prints (a program for each data
#     reader: csv, idx, npy, cifar10, text) is written in docs/language.md (in a
#     code span), and each flag of its flags table ("| `--flag ...")
#     is printed by some program's --help.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # only --help runs: compile fast
doc=$src/docs/language.md

expect 0 "$nnc" --help-builtins
sed -n '/^Training settings:$/,$p' "$tmp/out" | sed -n 's/^  \([a-z_]*\)$/\1/p' | sort -u >"$tmp/settings"
[ -s "$tmp/settings" ] || fail "no 'Training settings:' in nnc --help-builtins"
# the table: from its header row to the first line that is not a row
awk '/^\| setting \| value \| default \|$/ { on = 1; next } on && !/^\|/ { exit } on' "$doc" |
  sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' | sort -u >"$tmp/documented"
[ -s "$tmp/documented" ] || fail "no settings table ('| setting | value | default |') in docs/language.md"
for s in $(comm -23 "$tmp/settings" "$tmp/documented"); do fail "setting '$s' is not in the settings table of docs/language.md"; done
for s in $(comm -13 "$tmp/settings" "$tmp/documented"); do fail "docs/language.md documents a setting '$s' that nnc does not know"; done

# one program a reader; their --help output together
cat >"$tmp/base.nn" <<'NN'
model Tab {
  input x: [4]
  dense(2, activation: softmax)
}
model Img {
  input x: [28, 28, 1]
  flatten
  dense(10, activation: softmax)
}
model Rgb {
  input x: [32, 32, 3]
  flatten
  dense(10, activation: softmax)
}
model Txt {
  input ids: i32[8]
  embedding(256, 4)
  dense(256)
}
NN
prog() { # NAME TRAIN-BLOCK
  { cat "$tmp/base.nn"; printf '%s\n' "$2"; } >"$tmp/$1.nn"
  expect 0 "$nnc" "$tmp/$1.nn" -o "$tmp/$1"
  expect 0 "$tmp/$1" --help
  cat "$tmp/out" >>"$tmp/help"
}
: >"$tmp/help"
prog csv 'train Tab {
  data csv("t.csv", one_hot: true, weight: "w", header: true)
  sample_weights true
  loss categorical_crossentropy
  optimizer sgd
}'
prog idx 'train Img {
  data idx(images: "i.idx", labels: "l.idx", one_hot: true)
  loss categorical_crossentropy
  optimizer sgd
  prune magnitude(sparsity: 0.5)
}'
prog npy 'train Img {
  data npy(x: "x.npy", y: "y.npy", w: "w.npy")
  sample_weights true
  loss sparse_categorical_crossentropy
  optimizer sgd
}'
prog cifar 'train Rgb {
  data cifar10("c.bin")
  loss sparse_categorical_crossentropy
  optimizer sgd
}'
prog text 'train Txt {
  data text("t.txt", steps: 8)
  loss sparse_categorical_crossentropy
  optimizer sgd
}'
# flags: lines of the option list, "  --flag ..." (several on a line allowed)
grep '^  --' "$tmp/help" | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/flags"
[ -s "$tmp/flags" ] || fail "no flags in the programs' --help"
for f in $(cat "$tmp/flags"); do
  grep -qE -- "[\` ]$f([\` =,]|\$)" "$doc" || fail "flag '$f' of the training program is not in docs/language.md"
done
grep '^| `--' "$doc" | sed 's/^| \([^|]*\)|.*/\1/' | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/doc_flags"
[ -s "$tmp/doc_flags" ] || fail "no flags table in docs/language.md"
for f in $(comm -13 "$tmp/flags" "$tmp/doc_flags"); do
  # the compiler's own flags share the page: only those no program prints and nnc --help lacks are stale
  "$nnc" --help | grep -qF -- "$f" || fail "docs/language.md documents a flag '$f' that no program or nnc knows"
done
finish
