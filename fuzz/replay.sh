#!/usr/bin/env bash
# replay.sh BUILD_DIR -- builds every fuzz driver into BUILD_DIR/fuzz and replays its seed corpus
# (fuzz/corpus/<name>/) once, without fuzzing. One line per driver, then "N passed, N failed";
# exits non-zero when any driver fails to build or crashes on an input.
#   replay.sh --build-only BUILD_DIR   builds the drivers and stops (used by run.sh)
#
# To add a driver: write fuzz/fuzz_<name>.c, put a few seed files in fuzz/corpus/<name>/, and add
# one line below: the name, then the project sources it links (paths from the repository root);
# a word "pkg:NAME" adds that pkg-config package's compile and link flags.
set -u

DRIVERS='
form        src/common/url.c src/common/buf.c src/common/utf8.c
url         src/common/url.c src/common/buf.c src/common/utf8.c
tmpl        src/common/tmpl.c src/common/buf.c
tmpl_value  src/common/tmpl.c src/common/buf.c
jsonv       src/common/jsonv.c src/common/err.c src/common/utf8.c
jsonrpc     src/mcp/jsonrpc.c src/common/utf8.c
catalog     src/catalog/catalog.c src/common/embedded.c
session     src/core/sessions.c src/core/core.c src/common/ttlcache.c src/catalog/catalog.c src/common/embedded.c src/common/ids.c src/common/jsonv.c src/common/url.c src/common/buf.c src/common/utf8.c src/common/err.c src/common/log.c src/common/timeutil.c src/store/store.c src/store/store_sqlite.c src/store/migrations_sqlite.c src/store/store_pg.c src/store/migrations_pg.c pkg:sqlite3 pkg:libpq
'

build_only=0
if [ "${1:-}" = "--build-only" ]; then
    build_only=1
    shift
fi
if [ $# -lt 1 ]; then
    echo "usage: fuzz/replay.sh [--build-only] BUILD_DIR" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1/fuzz"
out=$(cd "$1/fuzz" && pwd)
cd "$root" || exit 2

CC=${FUZZ_CC:-clang-14}
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu17"
CFLAGS="$CFLAGS -D_GNU_SOURCE -Isrc -Ifuzz $(pkg-config --cflags jansson)"
LIBS="$(pkg-config --libs jansson libsodium) -lpthread -lm"

passed=0
failed=0
while read -r name srcs; do
    [ -z "$name" ] && continue
    bin="$out/fuzz_$name"
    files="" pkgs=""
    for w in $srcs; do
        case $w in pkg:*) pkgs="$pkgs ${w#pkg:}" ;; *) files="$files $w" ;; esac
    done
    extra=""
    [ -n "$pkgs" ] && extra=$(pkg-config --cflags --libs $pkgs)
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -o "$bin" "fuzz/fuzz_$name.c" $files $extra $LIBS >"$out/$name.build.log" 2>&1; then
        echo "FAIL $name (build; see $out/$name.build.log)"
        failed=$((failed + 1))
        continue
    fi
    if [ "$build_only" = 1 ]; then
        echo "built $name"
        passed=$((passed + 1))
        continue
    fi
    corpus="fuzz/corpus/$name"
    n=$(find "$corpus" -type f 2>/dev/null | wc -l)
    if "$bin" -runs=0 -artifact_prefix="$out/$name-" "$corpus" >"$out/$name.replay.log" 2>&1; then
        echo "ok   $name ($n inputs)"
        passed=$((passed + 1))
    else
        echo "FAIL $name (see $out/$name.replay.log)"
        grep -m 5 -E 'ERROR|invariant|runtime error|Test unit written' "$out/$name.replay.log" |
            sed 's/^/    /'
        failed=$((failed + 1))
    fi
done <<<"$DRIVERS"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
