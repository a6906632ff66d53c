# nnc --summary prints each model as Keras's model.summary(): golden
# summaries of examples/seed_cnn.nn and of a model with long names, states
# and an expression (tests/summary/), columns aligned whatever the names'
# lengths; the training program prints the same summary at its start,
# and not with --quiet.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast
for f in "$src/examples/seed_cnn.nn" "$src/examples/breast_cancer.nn" "$src/tests/summary/long_names.nn"; do
  name=$(basename "$f" .nn)
  expect 0 "$nnc" --summary "$f"
  cp "$tmp/out" "$tmp/$name.txt"
  cmp -s "$tmp/$name.txt" "$src/tests/summary/$name.txt" ||
    fail "the summary of $name differs from tests/summary/$name.txt: $(diff "$tmp/$name.txt" "$src/tests/summary/$name.txt" | head -10)"
  # every line of the table as wide as its rules; each column starts where its heading does
  awk '/^Layer \(type\)/ { shape = index($0, "Output Shape"); width = length($0); table = 1; next }
       /^=+$/ { if (length($0) != width) bad = bad " rule"; if (++rules == 2) table = 0; next }
       table && rules == 1 {
         if (length($0) != width) bad = bad " width:" NR
         if (substr($0, shape - 2, 3) !~ /^  \(/) bad = bad " shape:" NR
         if ($NF !~ /^[0-9,]+$/) bad = bad " count:" NR
       }
       END { if (bad != "" || rules != 2) { print "misaligned:" bad; exit 1 } }' "$tmp/$name.txt" ||
    fail "the summary of $name is not aligned: $(cat "$tmp/$name.txt")"
done
has "$tmp/long_names.txt" "Non-trainable params: 32 (128 B)"
has "$tmp/long_names.txt" "Optimizer state: 1.7 KiB (sgd: 1 slot a trainable parameter)"
has "$tmp/seed_cnn.txt" "Total params: 160,208 (625.8 KiB)"
has "$tmp/breast_cancer.txt" "Non-trainable params: 60 (240 B)"
# a model that another model calls keeps its own rows (dense1, not the caller's Enc2.dense1)
printf 'model Enc {\n  input x: [4]\n  dense(8)\n  dense(3)\n}\nmodel Top {\n  input x: [4]\n  output y = Enc(x) + Enc(x)\n}\n' > "$tmp/calls.nn"
expect 0 "$nnc" --summary "$tmp/calls.nn"
has "$tmp/out" "dense1 (dense)  (None, 8)          40"
has "$tmp/out" "Enc2 (Enc)"

# with an option that stops before the graphs: an error, not nothing
expect 1 "$nnc" --summary -fsyntax-only "$src/examples/seed_mlp.nn"
has "$tmp/err" "--summary needs the model's graphs, which -fsyntax-only stops before"
expect 1 "$nnc" --emit=ast --summary "$src/examples/seed_mlp.nn"
has "$tmp/err" "which --emit=ast stops before"

# the program prints it before training, unless --quiet
(cd "$src/examples" && "$nnc" breast_cancer.nn -o "$tmp/train") || fail "building the program failed"
"$nnc" --summary "$src/examples/breast_cancer.nn" > "$tmp/want.txt"
(cd "$src/examples" && "$tmp/train" --epochs 1 --threads 1) > "$tmp/run.txt" || fail "the program failed"
head -n "$(wc -l < "$tmp/want.txt")" "$tmp/run.txt" > "$tmp/head.txt"
cmp -s "$tmp/head.txt" "$tmp/want.txt" || fail "the program does not start with the summary: $(head -5 "$tmp/run.txt")"
(cd "$src/examples" && "$tmp/train" --epochs 1 --threads 1 --quiet) > "$tmp/quiet.txt" || fail "--quiet failed"
grep -q "^Model: " "$tmp/quiet.txt" && fail "--quiet printed the summary"
# several models: one summary each, a blank line between
cat "$src/examples/seed_mlp.nn" "$src/tests/summary/long_names.nn" > "$tmp/two.nn"
expect 0 "$nnc" --summary "$tmp/two.nn"
[ "$(grep -c '^Model: ' "$tmp/out")" -eq 2 ] || fail "two models gave $(grep -c '^Model: ' "$tmp/out") summaries"
has "$tmp/out" 'Model: "SeedMLP"'
finish
