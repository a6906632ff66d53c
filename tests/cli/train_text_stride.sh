# text(path, steps, stride: S): row r starts at byte r * S, so 1,100 bytes
# give 1,090 windows of 10 at stride 1 and 364 at stride 3 (109 without a
# stride); with a held-out fraction, the training windows that share bytes
# with the first held-out one are left out. A short training runs, and
# --predict refuses a text model with a clear message.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast
head -c 1100 "$src/tests/cli/train_text_stride.sh" > "$tmp/t.txt"
[ "$(wc -c < "$tmp/t.txt")" -eq 1100 ] || fail "the test text is not 1100 bytes"
model() {
  cat <<NN
model Tiny {
  input ids: i32[10]
  embedding(256, 8)
  dense(256, activation: softmax)
}
train Tiny {
  data       text("t.txt", steps: 10$1)
  validation 0.1
  loss       sparse_categorical_crossentropy
  optimizer  adam(lr: 0.01)
  epochs     2
  batch      64
  metrics    accuracy
}
NN
}
cd "$tmp" || exit 1
model ", stride: 1" > s1.nn
model ", stride: 3" > s3.nn
model "" > s10.nn
for s in 1 3 10; do
  "$nnc" s$s.nn -o s$s || fail "building the stride-$s program failed"
done
./s1 --threads 1 --generate 10 > s1.txt || fail "training at stride 1 failed: $(tail -2 s1.txt)"
tail -4 s1.txt
has s1.txt "text: 1090 windows of 10 bytes, one every 1: 972 to train, 109 held out, 9 left out between them (they overlap the held-out text)"
has s1.txt "held-out: 109 samples, loss "
has s1.txt "Epoch 2/2 - loss: "
has s1.txt "sample (temperature 0.7):"
./s3 --threads 1 --epochs 0 --generate 0 > s3.txt || fail "stride 3 failed"
has s3.txt "text: 364 windows of 10 bytes, one every 3: 325 to train, 36 held out, 3 left out between them"
has s3.txt "held-out: 36 samples"
# without a stride the windows do not overlap: nothing is left out, as before
./s10 --threads 1 --epochs 0 --generate 0 > s10.txt || fail "no stride failed"
grep -q "^text: " s10.txt && fail "windows that do not overlap left rows out: $(cat s10.txt)"
has s10.txt "held-out: 10 samples"
# without a held-out fraction every window trains
./s1 --threads 1 --epochs 0 --generate 0 --validation 0 > all.txt || fail "--validation 0 failed"
grep -q "^text: \|^held-out" all.txt && fail "--validation 0 held rows out: $(cat all.txt)"
expect 1 ./s1 --load nothing --predict t.txt --output p.csv
has "$tmp/err" "error: --predict reads samples for models of a csv, idx, npy or cifar10 data source; a text model writes text with --generate N (and --prompt TEXT)"
sed 's/stride: 1/stride: 0/' s1.nn > s0.nn
expect 1 "$nnc" s0.nn -o s0
has "$tmp/err" "'stride' of 'text' must be at least 1, got 0"
finish
