# examples/series_gru.nn: a GRU regressor trained on noisy time series made
# here (tools/data/series.c) reaches a held-out mean squared error under
# 0.04, where repeating the last observation scores about 0.13; 1 and 2
# threads give the same figures.
. "$(dirname "$0")/../cli_lib.sh"
cc=${CC:-cc}
$cc -O2 -o "$tmp/series" "$src/tools/data/series.c" -lm || fail "building the generator failed"
mkdir -p "$tmp/data"
"$tmp/series" "$tmp/data/series-x.npy" "$tmp/data/series-y.npy" 4000 24 1 > "$tmp/baseline.txt" ||
  fail "making the series failed"
cat "$tmp/baseline.txt"
"$nnc" "$src/examples/series_gru.nn" -o "$tmp/train" || fail "building the GRU program failed"
(cd "$tmp" && ./train --epochs 10 --threads 1) > "$tmp/run1.txt" || fail "training failed"
(cd "$tmp" && ./train --epochs 10 --threads 2) > "$tmp/run2.txt" || fail "training at 2 threads failed"
tail -1 "$tmp/run1.txt"
mse=$(sed -n 's/^held-out: 800 samples, loss \([0-9.]*\).*$/\1/p' "$tmp/run1.txt")
awk -v m="$mse" 'BEGIN { exit !(m != "" && m < 0.04) }' || fail "held-out mse '$mse' is not under 0.04"
[ "$(tail -1 "$tmp/run1.txt")" = "$(tail -1 "$tmp/run2.txt")" ] || fail "2 threads: $(tail -1 "$tmp/run2.txt")"
finish
