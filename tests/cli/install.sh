# Installing nnc (docs/install.md): `cmake --install` into a prefix, which
# is then moved; the moved nnc compiles models with the runtime it finds
# beside itself, also with the build tree hidden (a mount namespace), while
# a copy of nnc with no runtime beside it says so; the man page covers every
# option of --help; a CMake project (find_package(nnc), nnc_add_model) and
# a pkg-config one (an object nnc wrote, linked with the runtime) get the
# same bits as the build tree's library; editing the model rebuilds it; the
# Python package runs the prefix's nnc; and
# the install manifest's files are all there is to remove.
. "$(dirname "$0")/../cli_lib.sh"
build=$(dirname "$nnc")
"$nnc" --version | grep -q "LLVM" || { echo "nnc without LLVM: the install test needs the LLVM backend"; exit 1; }
command -v pkg-config >/dev/null || { echo "pkg-config is missing (tools/setup.sh installs pkgconf)"; exit 1; }

cmake --install "$build" --prefix "$tmp/p" >"$tmp/install.log" 2>&1 || fail "cmake --install failed: $(tail -5 "$tmp/install.log")"
for f in bin/nnc lib/libnnrt.a lib/libnnrt.so lib/nnc/nnrt.bc include/nnc/nnrt.h include/nnc/nn_model_desc.h \
         lib/cmake/nnc/nncConfig.cmake lib/pkgconfig/nnrt.pc share/man/man1/nnc.1 share/doc/nnc/c-api.md \
         lib/python3/dist-packages/nnc/__init__.py; do
  [ -e "$tmp/p/$f" ] || fail "the prefix lacks $f"
done
soname=$(readelf -d "$tmp/p/lib/libnnrt.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case $soname in libnnrt.so.[0-9]*) ;; *) fail "libnnrt.so's SONAME is '$soname', not versioned" ;; esac
cp -a "$tmp/p" "$tmp/moved"
P=$tmp/moved

# nothing of the build tree: a lone copy of nnc finds no runtime
mkdir "$tmp/lone" && cp "$nnc" "$tmp/lone/nnc"
expect 1 "$tmp/lone/nnc" "$src/examples/seed_mlp.nn" -o "$tmp/lone.so"
has "$tmp/err" "cannot find the runtime's archive 'libnnrt.a' next to nnc"

# the man page has every option of --help
"$P/bin/nnc" --help > "$tmp/help"
man_text=$(sed 's/\\-/-/g' "$P/share/man/man1/nnc.1")
for opt in $(grep -o '^  -[-A-Za-z0-9]*' "$tmp/help"); do
  printf '%s\n' "$man_text" | grep -q -- "^\.B $opt" || fail "nnc.1 lacks $opt"
done

# the reference: the build tree's library, through the same host program
cat > "$tmp/app.c" <<'APP'
#include <stdio.h>
#include <string.h>
#include "seed.h"
int main(void) {
  SeedMLP_Model *m = SeedMLP_create(3);
  float x[5 * 8];
  for (int i = 0; i < 5 * 8; i++) x[i] = (float)((i * 37 % 19) - 9) / 7.0f;
  const void *in[1] = {x};
  for (int step = 0; step < 3; step++) {
    float y[5];
    for (int i = 0; i < 5; i++) y[i] = (float)(i % 2);
    if (!(SeedMLP_train_step(m, in, y, 5) >= 0)) return 1;
  }
  const float *p = SeedMLP_predict(m, in, 5);
  if (!p) return 1;
  for (int i = 0; i < 5; i++) {
    unsigned u;
    memcpy(&u, &p[i], 4);
    printf("%08x\n", u);
  }
  SeedMLP_free(m);
  return 0;
}
APP
mkdir "$tmp/ref"
"$nnc" "$src/examples/seed_mlp.nn" -o "$tmp/ref/seed.so" || fail "the build tree's nnc failed"
${CC:-cc} -I"$tmp/ref" "$tmp/app.c" "$tmp/ref/seed.so" -Wl,-rpath,"$tmp/ref" -o "$tmp/ref/app" || fail "reference app"
"$tmp/ref/app" > "$tmp/ref.txt" || fail "the reference app failed"
[ -s "$tmp/ref.txt" ] || fail "the reference app printed nothing"

# with the build tree gone: a mount namespace where an empty folder hides
# it, the moved prefix's nnc builds the library at -O3 (the runtime's
# bitcode) and -O2 (its archive), with the reference's bits
if unshare -m --propagation private true 2>/dev/null; then hide="unshare -m --propagation private"
elif unshare -rm --propagation private true 2>/dev/null; then hide="unshare -rm --propagation private"
else hide=""; fail "cannot hide the build tree: unshare -m is not permitted here"
fi
if [ -n "$hide" ]; then
  mkdir "$tmp/hidden"
  $hide sh -c 'mount -t tmpfs none "$1" && [ -z "$(ls "$1")" ] && "$2/bin/nnc" "$3" -o "$4/hidden/seed.so" &&
               "$2/bin/nnc" "$3" -O2 -o "$4/hidden/seed2.so"' hide "$build" "$P" "$src/examples/seed_mlp.nn" "$tmp" \
    > "$tmp/hidden.log" 2>&1 || fail "with the build tree hidden: $(cat "$tmp/hidden.log")"
  for so in seed seed2; do
    ${CC:-cc} -I"$tmp/ref" "$tmp/app.c" "$tmp/hidden/$so.so" -Wl,-rpath,"$tmp/hidden" -o "$tmp/hidden/app_$so" &&
      "$tmp/hidden/app_$so" > "$tmp/hidden/$so.txt" && cmp -s "$tmp/ref.txt" "$tmp/hidden/$so.txt" ||
      fail "the library built with the build tree hidden ($so) differs: $(cat "$tmp/hidden/$so.txt")"
  done
fi

# a CMake project
mkdir -p "$tmp/cm" && cp "$tmp/app.c" "$tmp/cm/app.c" && cp "$src/examples/seed_mlp.nn" "$tmp/cm/seed.nn"
printf '# layers the model may use\nlayer Twice() (x: [n, k]) -> [n, k] {\n  return x + x\n}\n' > "$tmp/cm/extra layers.nn"
sed -i '1i import "extra layers.nn"' "$tmp/cm/seed.nn"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(nnc 0.1 REQUIRED)
add_executable(app app.c)
nnc_add_model(app seed.nn)
add_executable(app_c app_c.c)
nnc_add_model(app_c seed.nn NAME seedc BACKEND c)
CM
sed 's/#include "seed.h"/#include "seedc.h"/' "$tmp/app.c" > "$tmp/cm/app_c.c"  # the C backend's, named seedc
if cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$P" >"$tmp/cm.log" 2>&1 &&
   cmake --build "$tmp/cm/b" >>"$tmp/cm.log" 2>&1; then
  "$tmp/cm/b/app" > "$tmp/cm.txt" || fail "the CMake consumer's app failed"
  cmp -s "$tmp/ref.txt" "$tmp/cm.txt" || fail "the CMake consumer's predictions differ: $(cat "$tmp/cm.txt")"
  "$tmp/cm/b/app_c" > "$tmp/cmc.txt" || fail "the CMake consumer's app_c (C backend) failed"
  cmp -s "$tmp/ref.txt" "$tmp/cmc.txt" || fail "the C backend's library (app_c) differs: $(cat "$tmp/cmc.txt")"
  # editing the model rebuilds the library: a wider first layer
  sleep 1
  sed -i 's/dense(10, activation: relu)/dense(12, activation: relu)/' "$tmp/cm/seed.nn"
  cmake --build "$tmp/cm/b" > "$tmp/cm2.log" 2>&1 || fail "the rebuild failed: $(tail -5 "$tmp/cm2.log")"
  grep -q "nnc: compiling" "$tmp/cm2.log" || fail "editing seed.nn did not recompile it"
  "$tmp/cm/b/app" > "$tmp/cm2.txt" || fail "the rebuilt app failed"
  cmp -s "$tmp/ref.txt" "$tmp/cm2.txt" && fail "the rebuilt app gives the old model's predictions"
  cmake --build "$tmp/cm/b" > "$tmp/cm3.log" 2>&1
  grep -q "nnc: compiling" "$tmp/cm3.log" && fail "an unchanged model was compiled again"
  sleep 1
  printf '# another comment\n' >> "$tmp/cm/extra layers.nn"  # a file it imports (nnc -MD)
  cmake --build "$tmp/cm/b" > "$tmp/cm4.log" 2>&1 || fail "the rebuild after an import changed failed"
  grep -q "nnc: compiling" "$tmp/cm4.log" || fail "editing an imported file did not recompile the model"
else
  fail "the CMake consumer failed: $(tail -15 "$tmp/cm.log")"
fi
# its errors: a NAME taken by another model, a WEIGHTS file that is not there
mkdir "$tmp/cme" && cp "$tmp/cm/app.c" "$tmp/cm/seed.nn" "$tmp/cm/extra layers.nn" "$tmp/cme/"
cp "$src/examples/mnist_mlp.nn" "$tmp/cme/other.nn"
printf 'cmake_minimum_required(VERSION 3.20)\nproject(e C)\nfind_package(nnc REQUIRED)\nadd_executable(a app.c)\nadd_executable(b app.c)\nnnc_add_model(a seed.nn)\nnnc_add_model(b other.nn NAME seed)\n' > "$tmp/cme/CMakeLists.txt"
cmake -S "$tmp/cme" -B "$tmp/cme/b" -DCMAKE_PREFIX_PATH="$P" > "$tmp/cme.log" 2>&1 && fail "a NAME used twice was taken"
tr -s ' \n' ' ' < "$tmp/cme.log" | grep -q "NAME seed is taken by another model" || fail "NAME twice: $(tail -5 "$tmp/cme.log")"
printf 'cmake_minimum_required(VERSION 3.20)\nproject(e C)\nfind_package(nnc REQUIRED)\nadd_executable(a app.c)\nnnc_add_model(a seed.nn WEIGHTS none.safetensors)\n' > "$tmp/cme/CMakeLists.txt"
rm -rf "$tmp/cme/b"
cmake -S "$tmp/cme" -B "$tmp/cme/b" -DCMAKE_PREFIX_PATH="$P" > "$tmp/cme.log" 2>&1 && fail "a missing WEIGHTS file was taken"
tr -s ' \n' ' ' < "$tmp/cme.log" | grep -q "the WEIGHTS file '$tmp/cme/none.safetensors' does not exist" || fail "WEIGHTS missing: $(tail -5 "$tmp/cme.log")"

# a pkg-config project: an object nnc wrote (and its header), at -O3 (the
# runtime in it) and -O2 (the runtime from libnnrt)
mkdir "$tmp/pk"
for opt in -O3 -O2; do
  "$P/bin/nnc" "$src/examples/seed_mlp.nn" $opt -o "$tmp/pk/seed.o" || fail "nnc $opt -o seed.o failed"
  [ -f "$tmp/pk/seed.h" ] || fail "no seed.h beside seed.o"
  # shellcheck disable=SC2046
  ${CC:-cc} -I"$tmp/pk" "$tmp/app.c" "$tmp/pk/seed.o" $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs nnrt) \
    -o "$tmp/pk/app" || fail "linking the pkg-config consumer ($opt) failed"
  "$tmp/pk/app" > "$tmp/pk.txt" || fail "the pkg-config consumer ($opt) failed"
  cmp -s "$tmp/ref.txt" "$tmp/pk.txt" || fail "the pkg-config consumer's predictions ($opt) differ: $(cat "$tmp/pk.txt")"
done

# two models' objects in one program: each object defines only its model's
# API (its runtime inside is internal), and its header says the nnc version
# and ABI that M_describe reports
"$P/bin/nnc" "$src/examples/seed_mlp.nn" -o "$tmp/pk/seed.o" && "$P/bin/nnc" "$src/examples/mnist_mlp.nn" -o "$tmp/pk/mn.o" ||
  fail "two objects"
for o in seed:SeedMLP mn:MnistMLP; do
  other=$(nm -g --defined-only "$tmp/pk/${o%%:*}.o" | awk '{ print $3 }' | grep -v "^${o#*:}_")
  [ -z "$other" ] || fail "${o%%:*}.o defines global symbols besides its model's: $other"
done
cat > "$tmp/pk/two.c" <<'TWO'
#include <stdio.h>
#include <string.h>
#include "seed.h"
#include "mn.h"
int main(void) {
  SeedMLP_Model *a = SeedMLP_create(1);
  MnistMLP_Model *b = MnistMLP_create(1);
  static float x[784];
  const void *in[1] = {x};
  const NnModelDesc *d = MnistMLP_describe();
  int ok = a && b && SeedMLP_predict(a, in, 1) && MnistMLP_predict(b, in, 1) &&
           !strcmp(d->nnc_version, MnistMLP_NNC_VERSION) && d->abi == MnistMLP_ABI && d->abi == NN_MODEL_ABI;
  printf("%s %s %d\n", ok ? "ok" : "FAIL", d->nnc_version, d->abi);
  SeedMLP_free(a), MnistMLP_free(b);
  return !ok;
}
TWO
# shellcheck disable=SC2046
${CC:-cc} -I"$tmp/pk" "$tmp/pk/two.c" "$tmp/pk/seed.o" "$tmp/pk/mn.o" $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --libs nnrt) \
  -o "$tmp/pk/two" || fail "linking two models' objects into one program failed"
"$tmp/pk/two" > "$tmp/two.txt" || fail "the program of two models failed: $(cat "$tmp/two.txt")"
[ "$(cat "$tmp/two.txt")" = "ok $("$P/bin/nnc" --version | sed -n 's/^nnc //p') 2" ] || fail "two: $(cat "$tmp/two.txt")"

# the Python package from the prefix, running the prefix's nnc (no NNC, no
# PATH): it finds P/bin/nnc from its own place
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  (cd "$tmp" && env -u NNC PATH=/usr/bin:/bin PYTHONPATH="$P/lib/python3/dist-packages" /usr/bin/python3 -c "
import nnc, numpy as np
assert nnc.__file__.startswith('$P/'), nnc.__file__
nnc.compile('$src/examples/seed_mlp.nn', 'py_seed.so')
m = nnc.load('py_seed.so', seed=3)
print(m.predict(np.zeros((2, 8), np.float32)).shape)
") > "$tmp/py.txt" 2>&1 || fail "the installed Python package failed: $(cat "$tmp/py.txt")"
  grep -q "^(2, 1)$" "$tmp/py.txt" || fail "the installed Python package printed $(cat "$tmp/py.txt")"
else
  fail "Debian's python3-numpy is missing (tools/setup.sh test installs it)"
fi

# uninstalling: the manifest names every file installed
xargs rm -f < "$build/install_manifest.txt"
left=$(find "$tmp/p" -type f -o -type l)
[ -z "$left" ] || fail "files the manifest does not name: $left"
exit $failed
