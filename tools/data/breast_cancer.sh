#!/bin/sh
# breast_cancer.sh — writes examples/data/breast_cancer.csv, the Wisconsin
# diagnostic breast-cancer table (569 rows, 30 features, label 1 = benign,
# 0 = malignant), from Debian's python3-sklearn package, which ships it.
# The table is small and committed; this script is how it was made.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download python3-sklearn >/dev/null && dpkg-deb -x python3-sklearn_*.deb x)
src=$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv
out=examples/data/breast_cancer.csv
{
  # sklearn's first line is "569,30,malignant,benign"; name the columns instead
  printf 'f1'; i=2; while [ $i -le 30 ]; do printf ',f%d' $i; i=$((i + 1)); done; printf ',benign\n'
  tail -n +2 "$src"
} > "$out"
echo "wrote $out ($(($(wc -l < "$out") - 1)) rows)"
