# The bits a compiled model computes, pinned: every example's library, from
# both backends, trains 3 steps on a fixed batch (tests/cli/checksum_host.c)
# at 1 and 2 threads, with each matrix-product tile the processor runs
# (NNRT_ISA=generic, avx2, and the widest); the hash of its tensors and
# prediction must be the one recorded in checksums.txt for that tile.
# (The libraries leave out the attribution graphs, --no-explain: the host
# does not call them.) A refactoring keeps these; a change that alters results on purpose
# records new ones (NNC_UPDATE=1) in a commit that says why.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}
sums=$src/tests/cli/checksums.txt
$cc -std=c11 -O1 ${CFLAGS:-} -I"$src/runtime" -o "$tmp/host" "$src/tests/cli/checksum_host.c" -ldl ||
  fail "building the host failed"
widest=avx2
grep -qw avx512f /proc/cpuinfo && widest=avx512
levels="generic avx2"
[ $widest = avx512 ] && levels="$levels avx512"
: > "$tmp/got"
# example model label-form vocabulary
while read -r file model form vocab; do
  for backend in llvm c; do
    "$nnc" --backend=$backend --no-explain "$ex/$file.nn" -o "$tmp/$file-$backend.so" 2> "$tmp/err" ||
      { fail "$file: the $backend backend failed: $(head -3 "$tmp/err")"; continue; }
  done
  for isa in $levels; do
    first=""
    for backend in llvm c; do
      for threads in 1 2; do
        h=$(NNRT_ISA=$([ $isa = avx512 ] && echo "" || echo $isa) \
            "$tmp/host" "$tmp/$file-$backend.so" $model $form $vocab 3 4 $threads "$tmp/ck" 2> "$tmp/err") ||
          fail "$file ($backend, $isa, $threads threads): $(cat "$tmp/err")"
        [ -z "$first" ] && first=$h
        [ "$h" = "$first" ] || fail "$file: $backend at $threads threads ($isa) gives $h, not the $first of llvm at 1"
      done
    done
    echo "$file $isa $first" >> "$tmp/got"
  done
done <<'LIST'
seed_mlp SeedMLP binary 0
breast_cancer CancerMLP binary 0
mnist_mlp MnistMLP onehot 0
mnist_cnn MnistCNN onehot 0
seed_cnn SeedCNN onehot 0
residual ResNetMini none 0
series_gru SeriesGRU values 0
char_lstm CharLSTM sparse 256
reverse_transformer Reverse sparse 12
LIST
if [ -n "${NNC_UPDATE:-}" ]; then
  { grep -v " $(echo $levels | sed 's/ /\\| /g') " "$sums" 2>/dev/null; cat "$tmp/got"; } | sort > "$tmp/new"
  cp "$tmp/new" "$sums"
  echo "recorded $(wc -l < "$tmp/got") checksums in $sums"
fi
while read -r file isa h; do
  want=$(awk -v f="$file" -v i="$isa" '$1 == f && $2 == i { print $3 }' "$sums")
  [ "$want" = "$h" ] || fail "$file ($isa): $h, recorded ${want:-nothing}"
done < "$tmp/got"
echo "$(wc -l < "$tmp/got") checksums match ($levels)"
finish
