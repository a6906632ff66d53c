# Checkpoints a reader must refuse, each with the file and the reason:
# tensor data that overlaps, leaves gaps or is not aligned to its element;
# metadata of the wrong type or range, or none; a FIFO (which must not
# block the reader), a directory; an optimizer's slot in a weights-only
# file. A save never writes through a link left at PATH.tmp. Weights-only
# files (--save-weights) start a new training from their weights.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cd "$tmp" || exit 1
cp "$ex/data/breast_cancer.csv" data.csv
"$nnc" "$ex/breast_cancer.nn" -o train || fail "building the program failed"
./train --data data.csv --epochs 2 --quiet --save good.st --save-weights w.st > /dev/null || fail "training failed"

# forge OUT PERL: good.st with its JSON header ($h) edited by PERL and its
# length set again; PERL may also edit the data ($d).
forge() {
  perl -e 'local $/; open F, "<", "good.st" or die; binmode F; my $b = <F>; my $n = unpack("Q<", substr($b, 0, 8));
           our $h = substr($b, 8, $n); our $d = substr($b, 8 + $n); eval $ARGV[1]; die $@ if $@;
           $h .= " " while length($h) % 8; open O, ">", $ARGV[0] or die; binmode O; print O pack("Q<", length $h), $h, $d' \
    "$1" "$2" || fail "forging $1 failed"
}
refused() { # refused FILE MESSAGE: --load FILE fails with MESSAGE
  expect 1 ./train --data data.csv --epochs 3 --quiet --load "$1"
  has "$tmp/err" "error: $1: $2"
}
forge overlap.st '$h =~ s/"dense1.b":\{"dtype":"F32","shape":\[10\],"data_offsets":\[1200,1240\]/"dense1.b":{"dtype":"F32","shape":[10],"data_offsets":[0,40]/'
refused overlap.st "tensor 'dense1.b': its data starts at 0, inside the previous tensor's, which ends at 1200"
forge unaligned.st '$h =~ s/\[1280,1284\]/[1281,1285]/'
refused unaligned.st "tensor 'dense2.b': its data offset 1281 is not a multiple of its element's 4 bytes"
forge gap.st '$h =~ s/\[1284,1404\]/[1288,1408]/; $h =~ s/\[1404,1524\]/[1408,1528]/; $d .= "\0" x 4'
refused gap.st "tensor 'normalize.mean': its data starts at 1288, leaving a gap after 1284"
forge extra.st '$d .= "\0" x 8'
refused extra.st "the tensors' data ends at byte 4092 of the 4100 bytes of data"
forge size.st '$h =~ s/\[1200,1240\]/[1200,1244]/'
refused size.st "tensor 'dense1.b': its data offsets [1200, 1244] hold 44 bytes; F32[10] needs 40"
forge step.st '$h =~ s/"step":"92"/"step":"abc"/'
refused step.st "the metadata's step \"abc\" is not a whole number from 0 to 2^63 - 1"
forge epoch.st '$h =~ s/"epoch":"2"/"epoch":"-5"/'
refused epoch.st "the metadata's epoch \"-5\" is not a whole number from 0 to 2^63 - 1"
forge nometa.st '$h =~ s/"__metadata__":\{[^}]*\},//'
refused nometa.st "no __metadata__ with \"format\": \"nnc\": not a checkpoint or weights file of nnc"
forge format.st '$h =~ s/"format":"nnc"/"format":"pt"/'
refused format.st "the metadata's format is \"pt\", not \"nnc\""
forge kind.st '$h =~ s/"kind":"checkpoint"/"kind":"model"/'
refused kind.st "the metadata's kind \"model\" is neither \"checkpoint\" nor \"weights\""
forge nocount.st '$h =~ s/"step":"92",//'
refused nocount.st "the checkpoint's metadata lacks its step counter"
forge slots.st '$h =~ s/"kind":"checkpoint"/"kind":"weights"/'
refused slots.st "tensor 'adam.m.dense1.W' is an optimizer's slot, which a weights-only file does not hold"
forge dtype.st '$h =~ s/"dense2.b":\{"dtype":"F32"/"dense2.b":{"dtype":"F64"/'
refused dtype.st "tensor 'dense2.b' is F64[1] in the file; the model's is F32[1]"
mkdir dir.st
refused dir.st "is a directory, not a file"
mkfifo fifo.st
timeout 10 ./train --data data.csv --epochs 3 --quiet --load fifo.st > out 2> err
[ $? -eq 1 ] || fail "a FIFO as checkpoint: exit status $? (124: it blocked)"
has err "error: fifo.st: is not a regular file (a FIFO, a socket or a device)"
refused none.st "cannot open: No such file or directory"

# a weights-only file: no optimizer state, no counters; it starts a new training
has w.st '"kind":"weights"'
grep -q 'adam\.' w.st && fail "the weights file holds the optimizer's slots"
grep -q '"step"' w.st && fail "the weights file holds counters"
./train --data data.csv --epochs 1 --load w.st > fromw.txt || fail "training from weights failed"
has fromw.txt "Epoch 1/1 - loss: "

# a link at PATH.tmp is replaced, never written through
echo "keep me" > victim
ln -s victim linked.st.tmp
./train --data data.csv --epochs 1 --quiet --save linked.st > /dev/null || fail "saving past a link failed"
[ "$(cat victim)" = "keep me" ] || fail "the save wrote through linked.st.tmp"
[ -L linked.st.tmp ] && fail "the link is still there"
finish
