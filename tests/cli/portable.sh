# The default outputs run on any x86-64 and use AVX2 or AVX-512 where the
# processor has them (docs/performance.md, "Target"): the default library
# of each backend and a default training program, run under qemu-user as
# a processor without AVX (Nehalem) and as one with AVX2 and FMA (Haswell;
# qemu emulates no AVX-512), must run and give the pinned bits of that
# level (tests/cli/checksums.txt), the same bits as NNRT_ISA at that level
# here; no AVX instruction lies outside the functions of a level's copy;
# the copies exist; a compiler without GCC's extensions (tcc) gets one
# version with the generic bits; and a library built for Haswell dies
# under Nehalem (so qemu would catch one). Needs Debian's qemu-user and
# tcc (tools/setup.sh test installs them).
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}
case $(uname -m) in x86_64) ;; *) echo "not an x86-64 machine: nothing to check"; finish ;; esac
qemu=$(command -v qemu-x86_64) ||
  { fail "qemu-x86_64 is missing: install Debian's qemu-user (sh tools/setup.sh test does)"; finish; }
command -v objdump > /dev/null || { fail "objdump is missing: install binutils"; finish; }
# run CPU COMMAND...: COMMAND under qemu as processor CPU (its warnings
# about host features TCG lacks dropped)
run() {
  cpu=$1; shift
  "$qemu" -cpu "$cpu" "$@" 2> "$tmp/qerr"; rc=$?
  grep -v "TCG doesn't support requested feature" "$tmp/qerr" >&2
  return $rc
}
$cc -std=c11 -O1 ${CFLAGS:-} -I"$src/runtime" -o "$tmp/host" "$src/tests/cli/checksum_host.c" -ldl ||
  fail "building the host failed"

# avx_outside LIB: the functions of LIB with AVX instructions (VEX or EVEX:
# a v-mnemonic, ymm/zmm or mask registers) that are no level's copy
avx_outside() {
  objdump -d --no-show-raw-insn "$1" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; next }
    /^ +[0-9a-f]+:\t/ {
      n = split($0, part, "\t"); ins = part[3]; split(ins, w, " ")
      if ((w[1] ~ /^v/ || ins ~ /%[yz]mm|%k[0-7]/) && fn !~ /_avx(2|512)[_.>]/) bad[fn]++
    }
    END { for (f in bad) printf "%s (%d) ", f, bad[f] }'
}
# uses LIB FUNCTION-PATTERN REGISTER: some function matching the pattern uses the register kind
uses() {
  objdump -d --no-show-raw-insn "$1" | awk -v pat="$2" -v reg="$3" '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; next }
    fn ~ pat && index($0, reg) { found = 1 }
    END { exit !found }'
}
pinned() { awk -v f="$1" -v i="$2" '$1 == f && $2 == i { print $3 }' "$src/tests/cli/checksums.txt"; }

# the default library of each backend
for backend in llvm c; do
  lib=$tmp/seed_cnn-$backend.so
  "$nnc" --backend=$backend "$ex/seed_cnn.nn" -o "$lib" || { fail "$backend: building the library failed"; continue; }
  bad=$(avx_outside "$lib")
  [ -z "$bad" ] || fail "$backend: AVX instructions outside the level copies: $bad"
  uses "$lib" "^<SeedCNN_train_avx512_" "%zmm" || fail "$backend: no AVX-512 copy of the training step uses zmm registers"
  uses "$lib" "^<SeedCNN_train_avx2_" "%ymm" || fail "$backend: no AVX2 copy of the training step uses ymm registers"
  for level in generic:Nehalem avx2:Haswell; do
    isa=${level%:*} cpu=${level#*:}
    want=$(pinned seed_cnn $isa)
    here=$(NNRT_ISA=$isa "$tmp/host" "$lib" SeedCNN onehot 0 3 4 1 "$tmp/ck") || fail "$backend, NNRT_ISA=$isa: the host failed"
    there=$(run $cpu "$tmp/host" "$lib" SeedCNN onehot 0 3 4 1 "$tmp/ck") ||
      fail "$backend: the library does not run on $cpu (exit status $?)"
    [ "$here" = "$want" ] || fail "$backend, NNRT_ISA=$isa: $here, pinned $want"
    [ "$there" = "$want" ] || fail "$backend on $cpu: $there, pinned $want for $isa"
  done
  echo "$backend: runs on Nehalem and Haswell with the pinned bits, AVX only in the level copies"
done

# a C11 compiler without GCC's extensions (TinyCC: no target pragmas, no
# vector types) builds the C file as one version with the generic bits
command -v tcc > /dev/null || fail "tcc is missing: install Debian's tcc (sh tools/setup.sh test does)"
"$nnc" --backend=c --no-main "$ex/seed_cnn.nn" -o "$tmp/seed_cnn.c" || fail "writing the C failed"
if tcc -std=c11 -shared -o "$tmp/seed_cnn-tcc.so" "$tmp/seed_cnn.c" -lm; then
  h=$("$tmp/host" "$tmp/seed_cnn-tcc.so" SeedCNN onehot 0 3 4 1 "$tmp/ck") || fail "the library tcc built failed"
  [ "$h" = "$(pinned seed_cnn generic)" ] || fail "tcc's library: $h, pinned $(pinned seed_cnn generic) (generic)"
  objdump -t "$tmp/seed_cnn-tcc.so" | grep -q "_avx2_" && fail "tcc's library has the level copies"
else
  fail "tcc does not build the C file"
fi

# a library for one processor is not portable, and qemu says so
"$nnc" --backend=c --cpu=haswell "$ex/seed_mlp.nn" -o "$tmp/haswell.so" || fail "--cpu=haswell failed"
run Nehalem "$tmp/host" "$tmp/haswell.so" SeedMLP binary 0 3 4 1 "$tmp/ck" > /dev/null 2>&1 &&
  fail "a library built for Haswell runs on Nehalem: qemu does not check the instruction set"

# the default training program (C backend): a few hundred MNIST digits, one
# epoch, its output and saved weights the same bits as here at that level
mnist_idx
perl -e 'for ([$ARGV[0], 16, 784], [$ARGV[1], 8, 1]) {
           my ($f, $head, $size) = @$_; open my $in, "<", "$f.idx" or die; binmode $in;
           read $in, my $h, $head; substr($h, 4, 4) = pack "N", 300; read $in, my $d, 300 * $size;
           open my $out, ">", "$f-300.idx" or die; binmode $out; print $out $h, $d }' \
  "$tmp/mnist-images" "$tmp/mnist-labels" || fail "cutting the MNIST sample failed"
"$nnc" "$ex/mnist_cnn.nn" -o "$tmp/train" || fail "building the program failed"
train() {
  "$@" "$tmp/train" --images "$tmp/mnist-images-300.idx" --labels "$tmp/mnist-labels-300.idx" --epochs 1 \
    --save "$tmp/w.st" > "$tmp/out.txt" || return 1
  sed 's/ - [0-9.]*s - [0-9]* samples\/s - total [0-9.]*s\( - eta [0-9]*s\)\{0,1\}//' "$tmp/out.txt"
  cat "$tmp/w.st"
}
for level in generic:Nehalem avx2:Haswell; do
  isa=${level%:*} cpu=${level#*:}
  train env NNRT_ISA=$isa > "$tmp/here" || fail "the program failed with NNRT_ISA=$isa"
  train run $cpu > "$tmp/there" || fail "the program does not run on $cpu"
  has "$tmp/there" "held-out: 60 samples"
  cmp -s "$tmp/here" "$tmp/there" || fail "the program on $cpu differs from NNRT_ISA=$isa here"
done
finish
