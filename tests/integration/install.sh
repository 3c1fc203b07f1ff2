#!/usr/bin/env bash
# install.sh -- `make install PREFIX=...` into a temp prefix installs the library (shared and
# static), header, pkg-config file, binary and man page; the C example builds with nothing but
# pkg-config and runs; the library's unit tests are clean under valgrind.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh
BUILD=${BUILD:-build}
prefix=$T_TMP/prefix
check "make install succeeds" make -s install BUILD="$BUILD" PREFIX="$prefix" SANITIZE="${SANITIZE:-}" >/dev/null
for f in bin/tether lib/libtether.a lib/libtether.so lib/libtether.so.0 include/tether.h \
         lib/pkgconfig/tether.pc share/man/man1/tether.1; do
  check "installed $f" [ -e "$prefix/$f" ]
done
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
san=(); [ -n "${SANITIZE:-}" ] && san=(-fsanitize="$SANITIZE")
check "example builds with pkg-config alone" \
  cc "${san[@]}" -o "$T_TMP/example" examples/putting_together.c $(pkg-config --cflags --libs tether)
check "example links the installed shared library" \
  bash -c "LD_LIBRARY_PATH='$prefix/lib' ldd '$T_TMP/example' | grep -q '$prefix/lib/libtether.so'"
out=$(LD_LIBRARY_PATH=$prefix/lib TETHER_API_KEY=k TETHER_BASE_URL=http://127.0.0.1:9 "$T_TMP/example" 2>&1)
check "example reports an unreachable server clearly" grep -qi 'unreachable\|connect' <<<"$out"
check "man page renders" bash -c "MANWIDTH=80 man -l '$prefix/share/man/man1/tether.1' 2>/dev/null | grep -q 'tether' || grep -q '^.TH' '$prefix/share/man/man1/tether.1'"
if command -v valgrind >/dev/null && [ -z "${SANITIZE:-}" ] && [ -x "$BUILD/tests/test_lib" ]; then
  check "library unit tests clean under valgrind" \
    bash -c "valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 '$BUILD/tests/test_lib' >/dev/null"
fi
finish
