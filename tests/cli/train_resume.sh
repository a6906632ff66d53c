# Losing no work: a training program stopped by SIGTERM or SIGINT saves a
# checkpoint at the next step boundary with its place in the epoch (exit
# status 128 + the signal), and a run resumed from it ends with exactly the
# checkpoint of a run that was never stopped, whatever the moment of the
# signal; --save-every writes one every N epochs; --epochs that leaves
# nothing to train says so. The MNIST MLP (dropout, shuffling) trains on
# the MNIST sample.
. "$(dirname "$0")/../cli_lib.sh"
mnist_idx
"$nnc" "$src/examples/mnist_mlp.nn" -o "$tmp/mnist" || fail "building the program failed"
cd "$tmp" || exit 1
data="--images mnist-images.idx --labels mnist-labels.idx --threads 1 --quiet"
run() { ./mnist $data "$@"; }

t0=$(ms)
run --epochs 6 --save straight.st > "$tmp/straight.txt" || fail "the straight run failed"
whole=$(($(ms) - t0))
echo "the straight run took $whole ms"

cut() { rm -f "$tmp/cut.st"; exec ./mnist $data --epochs 6 --save cut.st > "$tmp/cut.txt" 2> "$tmp/cut.err"; }
for case in "TERM 400" "INT 700" "TERM 80"; do
  set -- $case
  interrupt "$1" $((whole * $2 / 1000)) cut
  want=$((128 + $([ "$1" = TERM ] && echo 15 || echo 2)))
  [ $rc -eq $want ] || fail "SIG$1 after $delay ms: exit status $rc, expected $want"
  has "$tmp/cut.err" "interrupted by SIG$1 at epoch "
  has "$tmp/cut.err" ": saved to cut.st"
  has "$tmp/cut.st" '"position":"'
  echo "SIG$1 after $delay ms: $(cat "$tmp/cut.err")"
  run --epochs 6 --load cut.st --save cut.st > "$tmp/resumed.txt" || fail "resuming after SIG$1 failed"
  cmp -s "$tmp/straight.st" "$tmp/cut.st" || fail "stopped by SIG$1 after $delay ms and resumed differs from straight"
  cmp -s "$tmp/straight.txt" "$tmp/resumed.txt" || fail "the held-out figures differ after SIG$1"
done

# without --save, a signal still stops the run at a step, saying nothing was saved
nosave() { exec ./mnist $data --epochs 6 > /dev/null 2> "$tmp/nosave.err"; }
interrupt TERM $((whole * 300 / 1000)) nosave
[ $rc -eq 143 ] || fail "SIGTERM without --save: exit status $rc"
has "$tmp/nosave.err" ": nothing saved (no --save)"

# --save-every: a checkpoint after epochs 2 and 4 of 5, which resumes
# into the straight run too
run --epochs 5 --save every.st --save-every 2 --log every.csv > /dev/null || fail "--save-every run failed"
./mnist --images mnist-images.idx --labels mnist-labels.idx --threads 1 --epochs 3 --save-every 2 --save e2.st \
  > "$tmp/e2.txt" || fail "--save-every 2 of 3 failed"
has "$tmp/e2.txt" "saved e2.st after epoch 2"
[ "$(grep -c '^saved' "$tmp/e2.txt")" -eq 1 ] || fail "--save-every 2 of 3 epochs saved more than once"
expect 1 "$tmp/mnist" --save-every 2
has "$tmp/err" "error: --save-every needs --save FILE"

# --epochs counts from the start: a 6-epoch checkpoint and --epochs 6 train nothing, and say so
run --epochs 6 --load straight.st > /dev/null 2> "$tmp/nothing.err" || fail "loading a finished checkpoint failed"
has "$tmp/nothing.err" "warning: straight.st has trained 6 epochs and --epochs is 6: there is nothing to train"

# a save killed half-way left a temporary file: the next run removes it
printf 'half a checkpoint' > "$tmp/straight.st.tmp"
run --epochs 1 --save fresh.st 2> "$tmp/tmp.err" > /dev/null || fail "run after a killed save failed"
[ -e "$tmp/straight.st.tmp" ] || fail "a .tmp of another file was removed"
printf 'half a checkpoint' > "$tmp/fresh.st.tmp"
run --epochs 1 --save fresh.st 2> "$tmp/tmp.err" > /dev/null || fail "run after a killed save failed"
has "$tmp/tmp.err" "note: removed fresh.st.tmp, left by a save that was interrupted"
[ -e "$tmp/fresh.st.tmp" ] && fail "fresh.st.tmp is still there"
finish
