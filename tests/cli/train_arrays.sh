# The training program of a model with two inputs and two outputs reads an
# npy array for each (npy(x: [...], y: [...]), --x and --y once each in
# order): its loss goes down and the held-out rows are classified; arrays
# of another size or count, labels the loss cannot take and --predict are
# refused with the file and what is wrong.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast

cd "$tmp" || exit 1
# 256 samples: image [6], meta [3]; digit = the argmax of image[0..3];
# score = (meta0 + meta1, image4 - meta2)
perl -e 'srand 5; for (1..256) { @i = map { rand(2) - 1 } 1..6; @m = map { rand(2) - 1 } 1..3;
  push @I, @i; push @M, @m; $b = 0; for $k (1..3) { $b = $k if $i[$k] > $i[$b] } push @D, $b;
  push @S, $m[0] + $m[1], $i[4] - $m[2] }
  open A, ">", "img.raw"; print A pack("f<*", @I); open B, ">", "meta.raw"; print B pack("f<*", @M);
  open C, ">", "digit.raw"; print C pack("q<*", @D); open E, ">", "score.raw"; print E pack("f<*", @S);
  open W, ">", "w.raw"; print W pack("f<*", map { $_ % 2 } 0..255)'
{ npy '<f4' '(256, 6)'; cat img.raw; } > img.npy
{ npy '<f4' '(256, 3)'; cat meta.raw; } > meta.npy
{ npy '<i8' '(256,)'; cat digit.raw; } > digit.npy
{ npy '<f4' '(256, 2)'; cat score.raw; } > score.npy
{ npy '<f4' '(256,)'; cat w.raw; } > w.npy
cat > two.nn <<'NN'
model TwoHeads {
  input image: [6]
  input meta: [3]
  h = concat(dense(image, 16, activation: tanh), dense(meta, 8, activation: tanh))
  output digit = dense(h, 4, activation: softmax)
  output score = dense(h, 2)
}
train TwoHeads {
  data         npy(x: ["img.npy", "meta.npy"], y: ["digit.npy", "score.npy"])
  validation   0.25
  loss         sparse_categorical_crossentropy, mse
  loss_weights 1.0, 0.5
  optimizer    adam(lr: 0.01)
  metrics      accuracy
  epochs       30
  batch        32
}
NN
"$nnc" two.nn -o two || fail "building the two-input two-output program failed"
expect 0 ./two --log log.csv
first=$(sed -n '2s/^1,\([0-9.]*\),.*/\1/p' log.csv)
last=$(sed -n '31s/^30,\([0-9.]*\),.*/\1/p' log.csv)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && b < a / 4) }' ||
  fail "the loss did not go down from epoch 1 ($first) to epoch 30 ($last)"
held_out_at_least out 64 0.85
has out "Epoch 30/30 - loss: "
./two --help > help.txt
has help.txt "(2: img.npy meta.npy)"

# the same arrays from the flags, and as validation files
expect 0 ./two --quiet --epochs 2 --x img.npy --x meta.npy --y digit.npy --y score.npy \
  --validation-x img.npy --validation-x meta.npy --validation-y digit.npy --validation-y score.npy
has out "validation: 256 samples, loss"
# errors: order, count, samples, label values, prediction
expect 1 ./two --x meta.npy --x img.npy
has err "error: meta.npy: 3 values a sample; input 0 (image) of model TwoHeads takes 6"
expect 1 ./two --x img.npy
has err "the training data of model TwoHeads needs 2 arrays of samples, one an input in order"
has err "got 1 and 2"
expect 1 ./two --y digit.npy --y img.npy
has err "img.npy: 6 values a sample; the label of output 1 (score) of model TwoHeads takes 2"
{ npy '<f4' '(255, 3)'; head -c 3060 meta.raw; } > short.npy
expect 1 ./two --x img.npy --x short.npy
has err "short.npy: 255 samples, but img.npy has 256: every array needs one row a sample"
perl -e 'print pack("q<*", (0) x 9, 7, (0) x 246)' > bad.raw
{ npy '<i8' '(256,)'; cat bad.raw; } > bad.npy
expect 1 ./two --y bad.npy --y score.npy
has err "bad.npy: sample 10: the label 7 of output digit is not a class from 0 to 3"
expect 1 ./two --validation-x img.npy --validation-y digit.npy
has err "the validation data of model TwoHeads needs 2 arrays of samples"
has err "--validation-x FILE once for each"
expect 1 ./two --load x --predict img.npy --output o.csv
has err "--predict reads one array of samples, and model TwoHeads has 2 inputs and 2 outputs"

# with per-sample weights: the odd samples alone train
sed -e 's|y: \["digit.npy", "score.npy"\])|y: ["digit.npy", "score.npy"], w: "w.npy")\n  sample_weights true|' two.nn > tw.nn
"$nnc" tw.nn -o tw || fail "building the weighted program failed"
expect 0 ./tw --quiet
has out "held-out: 64 samples"
expect 1 ./tw --w short.npy
has err "short.npy: sample weights are one value a sample"

# one input, two outputs: x a file
sed -e 's|  input meta: \[3\]||' -e 's|dense(meta, 8, activation: tanh)|dense(image, 8, activation: relu)|' \
  -e 's|x: \["img.npy", "meta.npy"\]|x: "img.npy"|' two.nn > one.nn
"$nnc" one.nn -o one || fail "building the one-input two-output program failed"
expect 0 ./one --epochs 3
has out "Epoch 3/3 - loss: "

# one-hot labels for categorical_crossentropy, validation and test files
# in the train block; the metrics measure the first output
perl -e 'open F, "<", "digit.raw"; binmode F; read F, $b, 2048;
  print pack("f<*", map { $c = $_; map { $_ == $c ? 1 : 0 } 0..3 } unpack "q<*", $b)' > oh.raw
{ npy '<f4' '(256, 4)'; cat oh.raw; } > oh.npy
sed -e 's|"digit.npy"|"oh.npy"|' -e 's|sparse_categorical_crossentropy|categorical_crossentropy|' \
  -e 's|validation   0.25|validation npy(x: ["img.npy", "meta.npy"], y: ["oh.npy", "score.npy"])\n  test npy(x: ["img.npy", "meta.npy"], y: ["oh.npy", "score.npy"])|' \
  -e 's|metrics      accuracy|metrics categorical_accuracy|' two.nn > oh.nn
"$nnc" oh.nn -o oh || fail "building the one-hot program failed"
expect 0 ./oh
acc=$(sed -n 's/^test: 256 samples, loss [0-9.]*, categorical_accuracy \([0-9.]*\)$/\1/p' out)
awk -v a="$acc" 'BEGIN { exit !(a != "" && a >= 0.9) }' || fail "test categorical_accuracy '$acc': $(tail -2 out)"
has out "validation: 256 samples"

# token ids: an input that indexes an embedding holds ids of its vocabulary
perl -e 'srand 2; print pack("l<*", map { int(rand(10)) } 1..768)' > ids.raw
{ npy '<i4' '(256, 3)'; cat ids.raw; } > ids.npy
{ npy '<i4' '(256, 3)'; perl -e 'print pack("l<*", (1) x 100, 12, (1) x 667)'; } > badids.npy
cat > emb.nn <<'NN'
model E {
  input ids: i32[3]
  input meta: [3]
  h = concat(flatten(embedding(ids, 10, 4)), dense(meta, 4, activation: tanh))
  output digit = dense(h, 4, activation: softmax)
  output score = dense(h, 2)
}
train E {
  data      npy(x: ["ids.npy", "meta.npy"], y: ["digit.npy", "score.npy"])
  loss      sparse_categorical_crossentropy, mse
  optimizer adam(lr: 0.01)
  epochs    2
}
NN
"$nnc" emb.nn -o emb || fail "building the embedding program failed"
expect 0 ./emb --quiet
expect 1 ./emb --quiet --x badids.npy --x meta.npy
has err "badids.npy: sample 34, value 2: the token id 12 is outside the vocabulary [0, 10) of input ids"
finish
