# Whatever the input bytes, nnc ends with a diagnostic and exit 1: never a
# crash (status >= 128), a hang, or unbounded memory.
. "$(dirname "$0")/../cli_lib.sh"

check_file() {
  timeout 20 "$nnc" -fsyntax-only "$1" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 1 ] || fail "$2: exit status $rc, expected 1"
  [ -s "$tmp/err" ] || fail "$2: no diagnostic"
}

# pseudo-random bytes from a fixed linear congruential sequence
awk 'BEGIN { x = 12345; for (i = 0; i < 20000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
     printf "%c", int(x / 65536) % 256 } }' > "$tmp/random.nn"
check_file "$tmp/random.nn" "random bytes"

# megabytes of binary data: thousands of errors, counted in linear time
check_file "$src/examples/data/mnist-images.idx.gz" "1.6 MB of gzip data"

# a NUL byte: the file is not text, and one error says where
head -c 5000 /dev/zero > "$tmp/zeros.nn"
check_file "$tmp/zeros.nn" "NUL bytes"
has "$tmp/err" "zeros.nn:1:1: error: not a text file: a NUL byte at byte offset 0"
[ "$(grep -c 'error:' "$tmp/err")" -eq 1 ] || fail "NUL bytes: more than one error: $(head -c 400 "$tmp/err")"
printf 'model M {\n  input x: [4]\n  ab\000cd\n}\n' > "$tmp/nul.nn"
check_file "$tmp/nul.nn" "a NUL byte on line 3"
has "$tmp/err" "nul.nn:3:5: error: not a text file: a NUL byte at byte offset 29"

# multi-megabyte inputs end in well under a second (the limits below are
# generous): binary data stops at its first NUL byte, other bytes at the
# error limit, and the source line under each error is cut to a window
gunzip -c "$src/examples/data/mnist-images.idx.gz" > "$tmp/images.nn" || fail "gunzip failed"
timeout 10 "$nnc" "$tmp/images.nn" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "7.8 MB of MNIST images: exit status $rc, expected 1"
has "$tmp/err" "images.nn:1:1: error: not a text file"
awk 'BEGIN { x = 12345; for (i = 0; i < 1000000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
     printf "%c", int(x / 65536) % 255 + 1 } }' > "$tmp/mb.nn"
cat "$tmp/mb.nn" "$tmp/mb.nn" "$tmp/mb.nn" "$tmp/mb.nn" "$tmp/mb.nn" "$tmp/mb.nn" "$tmp/mb.nn" "$tmp/mb.nn" > "$tmp/8mb.nn"
timeout 10 "$nnc" "$tmp/8mb.nn" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "8 MB of bytes without NUL: exit status $rc, expected 1"
has "$tmp/err" "too many errors, stopping"
[ "$(wc -c < "$tmp/err")" -lt 20000 ] || fail "8 MB of bytes: $(wc -c < "$tmp/err") bytes of diagnostics"
{ printf 'model M {\n  input x: [4]\n  y = x + '; head -c 1000000 /dev/zero | tr '\0' 'a'; printf ' + x\n}\n'; } > "$tmp/line.nn"
timeout 10 "$nnc" "$tmp/line.nn" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "a 1 MB line: exit status $rc, expected 1"
has "$tmp/err" "line.nn:3:11: error: unknown name"
has "$tmp/err" "    3 |   y = x + aaaa"
[ "$(wc -c < "$tmp/err")" -lt 4000 ] || fail "a 1 MB line: $(wc -c < "$tmp/err") bytes of diagnostics"

# every prefix of a real program
f=$src/examples/residual.nn
n=$(wc -c < "$f")
i=1
while [ $i -lt "$n" ]; do
  head -c $i "$f" > "$tmp/prefix.nn"
  timeout 20 "$nnc" -fsyntax-only "$tmp/prefix.nn" >/dev/null 2>&1
  rc=$?
  [ $rc -le 1 ] || fail "prefix of $i bytes: exit status $rc"
  i=$((i + 37))
done

# a file over the 16 MiB limit is refused before it is parsed
head -c 17000000 /dev/zero | tr '\0' '#' > "$tmp/big.nn"
check_file "$tmp/big.nn" "17 MB file"
has "$tmp/err" "file too large"

# one very long line of tokens is not quadratic
awk 'BEGIN { printf "model M {\n  input x: [4]\n  y = x"; for (i = 0; i < 100000; i++) printf " + x";
     printf "\n  output y\n}\n" }' > "$tmp/long.nn"
timeout 20 "$nnc" -fsyntax-only "$tmp/long.nn" > "$tmp/out" 2>&1
rc=$?
[ $rc -le 1 ] || fail "100000-term expression: exit status $rc"
finish
