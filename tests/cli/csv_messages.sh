# The training program reading a CSV table it cannot use: each problem gets
# its own reason, with the file, line and column. A table separated by ';'
# or tabs read with ',' (and the reverse) suggests the delimiter to write in
# the .nn file; an empty file and a directory say so; a file with no rows
# after its header says so. What it accepts: CRLF line ends, blank lines
# (at the end or in the middle, skipped as pandas does) and a UTF-8
# byte-order mark before the first row or the header.
. "$(dirname "$0")/../cli_lib.sh"
export CFLAGS="${CFLAGS:-} -O0" # its programs train tiny models: build them fast
cd "$tmp" || exit 1

cat > m.nn <<'NN'
model M {
  input x: [2]
  dense(1, activation: sigmoid)
}
train M {
  data      csv("t.csv", label: last)
  loss      binary_crossentropy
  optimizer sgd(lr: 0.1)
  epochs    1
  batch     4
}
NN
sed -e 's/label: last)/label: "y", header: true)/' m.nn > named.nn
sed -e 's/label: last)/label: last, delimiter: ";")/' m.nn > semi.nn
"$nnc" m.nn -o m || fail "building m failed"
"$nnc" named.nn -o named || fail "building named failed"
"$nnc" semi.nn -o semi || fail "building semi failed"

rows='0.1,0.2,0\n0.9,0.8,1\n0.2,0.1,0\n0.7,0.9,1\n'
printf "$rows" > good.csv
expect 0 ./m --data good.csv --quiet

# ';' and tabs where ',' was expected: the delimiter to write
printf "$rows" | tr ',' ';' > semi.csv
expect 1 ./m --data semi.csv
has "$tmp/err" "semi.csv:1:1: expected a number, got '0.1;0.2;0'; are the columns separated by ';', not ','? then write csv(..., delimiter: \";\") in the .nn file"
expect 0 ./semi --data semi.csv --quiet
printf "$rows" | tr ',' '\t' > tab.csv
expect 1 ./m --data tab.csv
has "$tmp/err" "tab.csv:1:1: expected a number, got '0.1"
has "$tmp/err" "are the columns separated by tabs, not ','? then write csv(..., delimiter: \"\\t\")"
# the reverse: ',' read with ';', and a decimal comma is mentioned
expect 1 ./semi --data good.csv
has "$tmp/err" "good.csv:1:1: expected a number, got '0.1,0.2,0'; are the columns separated by ',', not ';'? then write csv(..., delimiter: \",\") in the .nn file (numbers are written with '.' as the decimal point)"
# a long row of ';' fields is one field too long for ','
awk 'BEGIN { for (r = 0; r < 4; r++) { for (i = 0; i < 60; i++) printf "0.12345;"; print r % 2 } }' > wide.csv
expect 1 ./m --data wide.csv
has "$tmp/err" "wide.csv:1:1: field too long; are the columns separated by ';', not ','?"
# a header with ';' and the label named
{ echo "a;b;y"; printf "$rows" | tr ',' ';'; } > semi_header.csv
expect 1 ./named --data semi_header.csv
has "$tmp/err" "semi_header.csv:1:1: no column of the header row has the label's name; are the columns separated by ';', not ','?"

# empty, a directory, a header and nothing else
: > empty.csv
expect 1 ./m --data empty.csv
has "$tmp/err" "empty.csv: the file is empty: expected a table of numbers"
mkdir dir.csv
expect 1 ./m --data dir.csv
has "$tmp/err" "dir.csv: is a directory, not a file"
echo "a,b,y" > header_only.csv
expect 1 ./named --data header_only.csv
has "$tmp/err" "header_only.csv: has no rows of numbers after its header"
printf '\n\n' > blank_only.csv
expect 1 ./m --data blank_only.csv
has "$tmp/err" "blank_only.csv: has no rows of numbers"

# accepted: CRLF, blank lines at the end and in the middle, a byte-order mark
printf "$rows" | sed 's/$/\r/' > crlf.csv
expect 0 ./m --data crlf.csv --quiet
printf "0.1,0.2,0\n\n0.9,0.8,1\n  \n0.2,0.1,0\n0.7,0.9,1\n\n\r\n\n" > blanks.csv
expect 0 ./m --data blanks.csv --validation 0.5
has "$tmp/out" "held-out: 2 samples"
{ printf '\357\273\277'; printf "$rows"; } > bom.csv
expect 0 ./m --data bom.csv --quiet
{ printf '\357\273\277a,b,y\r\n'; printf "$rows" | sed 's/$/\r/'; } > bom_header.csv
expect 0 ./named --data bom_header.csv --quiet
# a bad field after a skipped blank line is reported on its own line
printf "0.1,0.2,0\n\n0.9,x,1\n" > bad.csv
expect 1 ./m --data bad.csv
has "$tmp/err" "bad.csv:3:5: expected a number, got 'x'"
finish
