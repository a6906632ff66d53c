# The training program's callbacks and epoch line: early stopping on a
# plateau of val_loss with the best weights restored, the learning rate
# halved on a plateau (shown in the line with the schedule's warm-up),
# the best checkpoint by val_accuracy, their events in the line and the
# log, their flags; a run stopped after K epochs, or by a signal within an
# epoch, and resumed with --load decides as a straight one and ends with
# the same bits; the progress bar on a terminal.
. "$(dirname "$0")/../cli_lib.sh"
cd "$tmp" || exit 1

awk 'BEGIN { srand(5); for (i = 0; i < 400; i++) { a = rand(); b = rand(); c = rand();
             y = (a + 0.8 * b - 0.5 * c + 0.3 * (rand() - 0.5) > 0.65) ? 1 : 0
             printf "%.5f,%.5f,%.5f,%d\n", a, b, c, y } }' > cls.csv
cat > cls.nn <<'NN'
model Cls {
  input x: [3]
  dense(16, activation: relu)
  dropout(0.2)
  dense(1, activation: sigmoid)
}
train Cls {
  data       csv("cls.csv", label: last)
  loss       binary_crossentropy
  optimizer  adam(lr: 0.05)
  epochs     60
  batch      16
  validation 0.25
  metrics    accuracy
  schedule   warmup(2)
  stop       plateau(val_loss, patience: 4, min_delta: 0.001, restore_best: true)
  reduce_lr  plateau(val_loss, factor: 0.5, patience: 2, min_lr: 0.001)
  save       best(val_accuracy, path: "best.ckpt")
}
NN
"$nnc" cls.nn -o cls || fail "building cls failed"
run() { ./cls --threads 1 "$@"; }

# the straight run
run --save straight.st --log log.csv > straight.txt || fail "the straight run failed"
has straight.txt "Epoch 1/60 - loss: "
has straight.txt " - lr: 0.025 - "   # warmup(2): half the rate in the first epoch
has straight.txt " samples/s - total "
has straight.txt " - reduced lr to 0.025 (val_loss: no improvement for 2 epochs)"
has straight.txt " - saved best (val_accuracy "
has straight.txt "early stop: val_loss has not improved by more than 0.001 for 4 epochs (best "
has straight.txt "; restoring the weights of epoch "
grep -q "stopping:" straight.txt && fail "the stop rule's line without a stop rule"
has log.csv "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr,events"
has log.csv ',"reduced lr to 0.025 (val_loss: no improvement for 2 epochs)"'
has log.csv '; early stop"'
[ -s straight.st.best ] || fail "restore_best kept no straight.st.best next to the checkpoint"
[ -s best.ckpt ] || fail "save best wrote no best.ckpt"
epochs=$(grep -c '^Epoch' straight.txt)
[ "$epochs" -lt 60 ] || fail "early stopping did not stop: $epochs epochs"
# the rate after a reduction is the one the next epoch shows
awk '/reduced lr to/ { for (i = 1; i <= NF; i++) if ($i == "to") want = $(i + 1); next }
     want != "" && /^Epoch/ { for (i = 1; i <= NF; i++) if ($i == "lr:") got = $(i + 1); if (got != want) bad = 1; want = "" }
     END { exit bad }' straight.txt || fail "an epoch after a reduction does not show the reduced rate"
# the restored weights are the best epoch's: the held-out loss is its val_loss
best=$(sed -n 's/.*restoring the weights of epoch \([0-9]*\)$/\1/p' straight.txt)
want=$(sed -n "s|^Epoch $best/60 - .* val_loss: \([0-9.]*\) .*|\1|p" straight.txt)
has straight.txt "held-out: 100 samples, loss $want,"
# best.ckpt holds the epoch with the highest val_accuracy (the first of them)
top=$(awk '/^Epoch/ { for (i = 1; i <= NF; i++) if ($i == "val_accuracy:" && $(i + 1) > m) { m = $(i + 1); e = $2 } }
           END { sub("/.*", "", e); print e " " m }' straight.txt)
run --load best.ckpt --epochs "${top% *}" > fromBest.txt 2> fromBest.err || fail "loading best.ckpt failed"
has fromBest.err "best.ckpt has trained ${top% *} epochs"
has fromBest.txt "accuracy ${top#* }"

# stopped after K epochs and resumed: the same events, the same bits
events() { sed -e 's|^Epoch \([0-9]*\)/[0-9]*|Epoch \1|' -e 's/ - [0-9.]*s - [0-9]* samples\/s - total [0-9.]*s\( - eta [0-9]*s\)\{0,1\}//' \
               -e '/^held-out/d' -e '/^Model: "/,/^Training step arena/d' -e '/^---*$/d' "$@"; }
events straight.txt > straight.events
for k in 5 12 19; do
  rm -f cut.st cut.st.best
  run --epochs $k --save cut.st > cut1.txt || fail "the run of $k epochs failed"
  run --load cut.st --save cut.st > cut2.txt || fail "resuming after $k epochs failed"
  cmp -s straight.st cut.st || fail "stopped after $k epochs and resumed: the checkpoint differs from the straight run's"
  cmp -s straight.st.best cut.st.best || fail "stopped after $k epochs and resumed: the best weights differ"
  events cut1.txt cut2.txt > cut.events
  cmp -s straight.events cut.events || fail "stopped after $k epochs and resumed: other events: $(diff straight.events cut.events | head -5)"
done
# stopped by a signal within an epoch and resumed: the same events, the
# same bits (a longer run: 120000 samples a step at a time, about 2 s)
awk 'BEGIN { srand(7); for (i = 0; i < 150000; i++) { a = rand(); b = rand(); c = rand();
             y = (a + 0.8 * b - 0.5 * c + 0.6 * (rand() - 0.5) > 0.65) ? 1 : 0
             printf "%.5f,%.5f,%.5f,%d\n", a, b, c, y } }' > big.csv
cat > big.nn <<'NN'
model Big {
  input x: [3]
  dense(128, activation: relu)
  dropout(0.1)
  dense(1, activation: sigmoid)
}
train Big {
  data       csv("big.csv", label: last)
  loss       binary_crossentropy
  optimizer  sgd(lr: 0.01, momentum: 0.9)
  epochs     12
  batch      1
  validation 0.2
  metrics    accuracy
  stop       plateau(val_loss, patience: 3, min_delta: 0.0005, restore_best: true)
  reduce_lr  plateau(val_loss, factor: 0.5, patience: 1, min_delta: 0.0005)
  save       best(val_loss, path: "bigbest.ckpt")
}
NN
"$nnc" big.nn -o big || fail "building big failed"
t0=$(ms)
./big --threads 1 --save big.st > big.txt || fail "the straight run of big failed"
whole=$(($(ms) - t0))
echo "the straight run of big took $whole ms"
has big.txt "reduced lr to "
has big.txt "; restoring the weights of epoch "
cp bigbest.ckpt straightbest.ckpt
events big.txt > big.events
cut() { rm -f cut.st cut.st.best bigbest.ckpt; exec ./big --threads 1 --save cut.st > cut1.txt 2> cut.err; }
for case in "TERM 250" "INT 550"; do
  set -- $case
  interrupt "$1" $((whole * $2 / 1000)) cut
  [ $rc -gt 128 ] || fail "SIG$1 after $delay ms: exit status $rc"
  has cut.err "interrupted by SIG$1 at epoch "
  ./big --threads 1 --load cut.st --save cut.st > cut2.txt || fail "resuming big after SIG$1 failed"
  cmp -s big.st cut.st || fail "stopped by SIG$1 after $delay ms and resumed: the checkpoint differs from the straight run's"
  cmp -s big.st.best cut.st.best || fail "stopped by SIG$1 after $delay ms and resumed: the best weights differ"
  cmp -s straightbest.ckpt bigbest.ckpt || fail "stopped by SIG$1 after $delay ms and resumed: the best checkpoint differs"
  events cut1.txt cut2.txt > cut.events
  cmp -s big.events cut.events || fail "stopped by SIG$1 and resumed: other events: $(diff big.events cut.events | head -5)"
done

# a run that stopped early has nothing left to train, as one that trained
# its epochs; more patience goes on
run --load straight.st > again.txt 2> again.err || fail "loading an early-stopped checkpoint failed"
has again.err "warning: straight.st stopped early after epoch $epochs (val_loss had not improved for 4 epochs, patience 4): there is nothing to train"
grep -q '^Epoch' again.txt && fail "an early-stopped run trained on"
run --load straight.st --patience 6 --epochs $((epochs + 1)) > more.txt || fail "going on with --patience 6 failed"
has more.txt "Epoch $((epochs + 1))/$((epochs + 1)) - loss: "

# restore_best across a resume needs the best weights next to the checkpoint
run --epochs 12 --save lost.st > /dev/null || fail "the run of 12 epochs failed"
rm -f lost.st.best
expect 1 ./cls --threads 1 --load lost.st
has "$tmp/err" "restore_best needs the weights of epoch "
cp straight.st.best lost.st.best   # the best of another run: another epoch
expect 1 ./cls --threads 1 --load lost.st
has "$tmp/err" "error: lost.st.best holds the weights of epoch "
has "$tmp/err" ", but lost.st's best epoch is "
# a state no program writes (a rate's scale of -1) is refused
perl -e 'local $/; open F, "<", "straight.st" or die; binmode F; my $b = <F>; my $n = unpack("Q<", substr($b, 0, 8));
         my $h = substr($b, 8, $n); my $d = substr($b, 8 + $n);
         $h =~ s/("progress":")((?:[^,"]*,){17})[^,"]*/$1$2-1/ or die "no progress";
         $h .= " " while length($h) % 8; open O, ">", "forged.st" or die; binmode O; print O pack("Q<", length $h), $h, $d' ||
  fail "forging forged.st failed"
expect 1 ./cls --threads 1 --load forged.st --epochs 70
has "$tmp/err" "error: forged.st: its callbacks' state is not one this program wrote"

# flags
expect 0 ./cls --no-early-stop --no-reduce-lr --epochs 30
[ "$(grep -c '^Epoch' "$tmp/out")" -eq 30 ] || fail "--no-early-stop did not train every epoch"
grep -q "reduced lr\|early stop" "$tmp/out" && fail "--no-early-stop --no-reduce-lr still stopped or reduced"
expect 0 ./cls --patience 1 --save-best other.ckpt
has "$tmp/out" "for 1 epoch (best"
has "$tmp/out" "to other.ckpt"
[ -s other.ckpt ] || fail "--save-best other.ckpt wrote nothing"
expect 1 ./cls --save-best "$tmp/no/such/dir/b.ckpt"
has "$tmp/err" "no/such/dir/b.ckpt.best: cannot write the checkpoint: "
expect 1 ./cls --save-best
has "$tmp/err" "error: --save-best needs a value"
expect 1 ./cls --validation 0
has "$tmp/err" "error: early stopping watches a val_ figure, but --validation 0 holds out no rows"
expect 1 ./cls --patience -1
has "$tmp/err" "error: --patience needs an integer of at least 0, got '-1'"
expect 0 ./cls --help
for flag in --patience --no-early-stop --no-reduce-lr --save-best; do has "$tmp/out" "  $flag"; done

# a stop rule and a plateau together; --save-best without a save setting
# watches val_loss; no lr in the line without a schedule or a reduction
cat > both.nn <<'NN'
model Cls {
  input x: [3]
  dense(8, activation: relu)
  dense(1, activation: sigmoid)
}
train Cls {
  data       csv("cls.csv", label: last)
  loss       binary_crossentropy
  optimizer  adam(lr: 0.05)
  epochs     40
  validation 0.25
  stop       when loss < 0.3
  stop       plateau(loss, patience: 2)
}
NN
"$nnc" both.nn -o both || fail "building both failed"
expect 0 ./both --save-best b.ckpt
has "$tmp/out" "stopping: loss < 0.3"
has "$tmp/out" " - saved best (val_loss "
grep -q " - lr: " "$tmp/out" && fail "the rate shown without a schedule or a reduction"
expect 0 ./both --no-early-stop --epochs 3
[ "$(grep -c '^Epoch' "$tmp/out")" -eq 3 ] || fail "--no-early-stop did not turn the stop rule off"
# the rate the epoch line shows follows every schedule, in the order written
cat > sched.nn <<'NN'
model Cls {
  input x: [3]
  dense(1, activation: sigmoid)
}
train Cls {
  data      csv("cls.csv", label: last)
  loss      binary_crossentropy
  optimizer sgd(lr: 1)
  epochs    4
  schedule  warmup(2), step(every: 2, factor: 0.5), exponential(rate: 0.5), cosine(epochs: 4, min_lr: 0.1)
}
NN
"$nnc" sched.nn -o sched || fail "building sched failed"
expect 0 ./sched
for lr in "1/4 .* lr: 0.5 " "2/4 .* lr: 0.4414 " "3/4 .* lr: 0.1125 " "4/4 .* lr: 0.09451 "; do
  grep -q "^Epoch $lr" "$tmp/out" || fail "no epoch line matches 'Epoch $lr': $(grep "^Epoch ${lr%% *}" "$tmp/out")"
done
cat > plain.nn <<'NN'
model Cls {
  input x: [3]
  dense(1, activation: sigmoid)
}
train Cls {
  data      csv("cls.csv", label: last)
  loss      binary_crossentropy
  optimizer adam
}
NN
"$nnc" plain.nn -o plain || fail "building plain failed"
expect 1 ./plain --patience 3
has "$tmp/err" "error: --patience: the train block has no early stopping (stop plateau(...))"

# on a terminal, a progress bar redrawn within the epoch, cleared before the line
if command -v script > /dev/null 2>&1; then
  script -qec "./cls --epochs 2 --batch 4" /dev/null > tty.txt 2>&1 || fail "the run under script failed"
  has tty.txt "] - ETA "
  grep -q "$(printf '\r')Epoch 2/2 - loss: " tty.txt || has tty.txt "Epoch 2/2 - loss: "
  ./cls --epochs 2 --batch 4 > notty.txt || fail "the run without a terminal failed"
  grep -q "ETA" notty.txt && fail "a progress bar written to a file"
fi
finish
