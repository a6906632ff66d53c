# nnc and the C compiler: it runs without a shell, so a quote and a blank
# in -o's name are plain bytes; a compile error prints the compiler's own
# message once, then nnc's error with the command, and leaves nothing
# behind, with no retry and no word about OpenMP; a compiler without
# OpenMP (a wrapper that rejects -fopenmp) gets a note that says so and
# a serial build that works; clang builds the standalone C without a
# warning.
. "$(dirname "$0")/../cli_lib.sh"
ex=$src/examples
cc=${CC:-cc}

dir="$tmp/it's a dir"
mkdir -p "$dir"
(cd "$ex" && "$nnc" breast_cancer.nn -o "$dir/tr'ain me") || fail "-o with a quote and a blank: no program"
(cd "$ex" && "$dir/tr'ain me" --epochs 1 > "$tmp/run.txt") || fail "the program built under a quoted name failed"
has "$tmp/run.txt" "held-out: "
cat > "$tmp/host.c" <<'HOST'
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *so = argc == 2 ? dlopen(argv[1], RTLD_NOW) : NULL;
  void *(*create)(uint64_t) = so ? (void *(*)(uint64_t))dlsym(so, "SeedMLP_create") : NULL;
  void (*destroy)(void *) = so ? (void (*)(void *))dlsym(so, "SeedMLP_free") : NULL;
  void *m = create && destroy ? create(1) : NULL;
  if (!m) return 1;
  destroy(m);
  puts("loaded");
  return 0;
}
HOST
$cc -std=c11 -o "$tmp/host" "$tmp/host.c" -ldl || fail "building the host failed"
expect 0 "$nnc" --backend=c "$ex/seed_mlp.nn" -o "$dir/lib m'.so"
[ -f "$dir/lib m'.h" ] || fail "no header beside the quoted library"
"$tmp/host" "$dir/lib m'.so" > "$tmp/out" || fail "the library built under a quoted name does not load"

# a compile error: the compiler's message once, nnc's line, exit 1, no file, no OpenMP note
cat > "$tmp/badcc" <<EOF2
#!/bin/sh
case "\$*" in *nnc-tmp.c*) echo "model.c:1:1: error: broken on purpose" >&2; exit 1 ;; esac
exec $cc "\$@"
EOF2
chmod +x "$tmp/badcc"
for out in "$dir/bad prog" "$dir/bad'lib.so"; do
  expect 1 env CC="$tmp/badcc" "$nnc" --backend=c "$ex/seed_mlp.nn" -o "$out"
  [ "$(grep -c 'broken on purpose' "$tmp/err")" -eq 1 ] || fail "the compiler's message not printed once: $(cat "$tmp/err")"
  has "$tmp/err" "nnc: error: the C compiler failed (exit status 1): $tmp/badcc -std=c11 -ffp-contract=off -O3"
  grep -q 'OpenMP' "$tmp/err" && fail "a compile error talks about OpenMP: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 2 ] || fail "more than the two lines: $(cat "$tmp/err")"
done
[ "$(ls "$dir" | grep -c bad)" -eq 0 ] || fail "a failed build left files: $(ls "$dir")"

# CC split on blanks, CFLAGS too; a compiler that does not start is said so
expect 0 env CC="env $cc" CFLAGS="-g  -O1" "$nnc" --backend=c "$ex/seed_mlp.nn" -o "$tmp/split.so"
expect 1 env CC="$tmp/no such cc" "$nnc" --backend=c "$ex/seed_mlp.nn" -o "$tmp/none.so"
has "$tmp/err" "nnc: error: the C compiler failed (could not start: "
grep -q 'OpenMP' "$tmp/err" && fail "a missing compiler is taken for one without OpenMP"

# a compiler without OpenMP: the truthful note once, and a serial build that works
cat > "$tmp/noomp" <<EOF2
#!/bin/sh
case " \$* " in *" -fopenmp "*) echo "cc: error: unsupported option '-fopenmp'" >&2; exit 1 ;; esac
exec $cc "\$@"
EOF2
chmod +x "$tmp/noomp"
(cd "$ex" && CC="$tmp/noomp" "$nnc" breast_cancer.nn -o "$dir/serial" 2> "$tmp/err") || fail "no serial build"
[ "$(cat "$tmp/err")" = "nnc: note: CC has no OpenMP ($tmp/noomp -fopenmp failed on a test file): the loops run serially" ] ||
  fail "not the one note: $(cat "$tmp/err")"
(cd "$ex" && "$dir/serial" --epochs 1 > "$tmp/run.txt") || fail "the serial program failed"
has "$tmp/run.txt" "held-out: "

# the standalone C builds warning-free with clang too (--check-c builds with -Wall -Wextra -Werror):
# the runtime's helpers a model does not call draw no -Wunused-function
if command -v clang > /dev/null; then
  (cd "$ex" && CC=clang "$nnc" breast_cancer.nn --check-c > "$tmp/out" 2> "$tmp/err") ||
    fail "--check-c with clang: $(grep -m3 error "$tmp/out" "$tmp/err")"
  has "$tmp/out" "backend check passed"
fi
finish
