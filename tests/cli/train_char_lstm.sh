# examples/char_lstm.nn, shortened (sequences of 16, an LSTM of 64) so
# that it builds and trains in the suite: the text() reader on the GPL-3
# text that every Debian system has, held-out bits per character under
# 3.6 after 14 epochs (8 for uniform bytes; about 4 for single-letter
# frequencies), a seeded sample after a prompt, the same figures and
# sample at 1 and 2 threads, and the reader's errors.
. "$(dirname "$0")/../cli_lib.sh"
sed -e 's/i32\[32\]/i32[16]/' -e 's/steps: 32/steps: 16/' -e 's/lstm(128/lstm(64/' \
  "$src/examples/char_lstm.nn" > "$tmp/lm.nn"
"$nnc" "$tmp/lm.nn" -o "$tmp/train" || fail "building the language model failed"
"$tmp/train" --help > "$tmp/help.txt"
has "$tmp/help.txt" "--generate N"
"$tmp/train" --epochs 14 --threads 1 --generate 60 --prompt "This License" > "$tmp/run.txt" || fail "training failed"
tail -3 "$tmp/run.txt"
bits=$(sed -n 's/^held-out: .* \([0-9.]*\) bits per character$/\1/p' "$tmp/run.txt")
awk -v b="$bits" 'BEGIN { exit !(b != "" && b < 3.6) }' || fail "held-out bits per character '$bits' are not under 3.6"
has "$tmp/run.txt" "sample (temperature 0.7):"
has "$tmp/run.txt" "This License"
# the same seed, the same figures and sample, at 1 thread and at 2
"$tmp/train" --epochs 2 --threads 1 --generate 40 --quiet > "$tmp/one.txt"
"$tmp/train" --epochs 2 --threads 2 --generate 40 --quiet > "$tmp/two.txt"
cmp -s "$tmp/one.txt" "$tmp/two.txt" || fail "2 threads differ: $(cat "$tmp/one.txt" "$tmp/two.txt")"
printf 'ab' > "$tmp/short.txt"
expect 1 "$tmp/train" --data "$tmp/short.txt"
has "$tmp/err" "short.txt: 2 bytes: too short for one sequence of 16 characters and the one after"
expect 1 "$tmp/train" --temperature -1
has "$tmp/err" "--temperature needs a finite number of at least 0, got '-1'"
finish
