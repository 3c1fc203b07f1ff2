#!/usr/bin/env bash
# tests/run.sh [unit|fuzz|integration|node|pg]... -- runs the test suites against $BUILD (default
# build) and prints one closing line "N passed, N failed, N skipped". pg starts a throwaway
# PostgreSQL 15 cluster (scripts/pg.sh), runs the store tests, the REST API test, the SDK connect
# test and the three-node test against it, and stops it. Under SANITIZE the server binary is
# instrumented; any sanitizer report written by any process fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in /*) BUILD_ABS=$BUILD ;; *) BUILD_ABS=$PWD/$BUILD ;; esac
export TETHER_BIN=$BUILD_ABS/tether
export ARTIFACTS_DIR=${ARTIFACTS_DIR:-$PWD/$BUILD/artifacts}
mkdir -p "$ARTIFACTS_DIR"
suites=("$@"); [ ${#suites[@]} -eq 0 ] && suites=(unit fuzz integration node pg)
passed=0 failed=0 skipped=0
failures=()

san_dir=$(mktemp -d)
PG_DIR=""
trap 'rm -rf "$san_dir"; [ -n "$PG_DIR" ] && scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1' EXIT
if [ -n "${SANITIZE:-}" ]; then
  export ASAN_OPTIONS="log_path=$san_dir/asan:detect_leaks=1:abort_on_error=0"
  export UBSAN_OPTIONS="log_path=$san_dir/ubsan:print_stacktrace=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
fi

# Reads "N passed, N failed[, N skipped]" (plain harness) or node's TAP summary from a log.
count() {
  local log=$1 name=$2 rc=$3 p f s
  if line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1) && [ -n "$line" ]; then
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  elif grep -qE '^# pass [0-9]+' "$log"; then
    p=$(grep -E '^# pass ' "$log" | tail -1 | awk '{print $3}')
    f=$(grep -E '^# fail ' "$log" | tail -1 | awk '{print $3}')
    s=$(( $(grep -E '^# skipped ' "$log" | tail -1 | awk '{print $3}') + 0 ))
  else
    p=0; f=1; s=0
  fi
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  [ "$f" -gt 0 ] && failures+=("$name")
  printf '  %-40s %s passed, %s failed, %s skipped\n' "$name" "$p" "$f" "$s"
}

run_one() { # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  "$@" >"$log" 2>&1; local rc=$?
  count "$log" "$name" "$rc"
  if [ "$rc" -ne 0 ] || grep -qE '^(FAIL|not ok)' "$log"; then
    echo "---- $name output (tail) ----"; tail -60 "$log"; echo "----"
  fi
  rm -f "$log"
}

for suite in "${suites[@]}"; do
  case "$suite" in
  unit)
    echo "== unit"
    for t in "$BUILD"/tests/test_*; do [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"; done ;;
  fuzz)
    echo "== fuzz corpus replay"
    if [ -n "${SANITIZE:-}" ]; then echo "  (replayed in the plain pass; drivers carry their own sanitizers)"
    elif command -v clang-14 >/dev/null && [ -x fuzz/replay.sh ]; then run_one "fuzz/replay" fuzz/replay.sh "$BUILD/fuzz"
    else echo "  fuzz: clang-14 missing"; skipped=$((skipped + 1)); fi ;;
  integration)
    echo "== integration"
    # Executable files are tests; the others are libraries they source.
    for t in tests/integration/*.sh; do [ -x "$t" ] && run_one "integration/$(basename "$t" .sh)" bash "$t"; done ;;
  node)
    echo "== node (official SDKs, oidc-provider, browser)"
    if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
      (cd tests/node && npm ci --no-audit --no-fund --loglevel=error) || { failed=$((failed + 1)); failures+=("npm ci"); continue; }
      touch tests/node/node_modules
    fi
    for t in tests/node/*.test.mjs; do
      [ -f "$t" ] && run_one "node/$(basename "$t" .test.mjs)" \
        node --test --test-reporter=tap --test-timeout=300000 "$t"
    done ;;
  pg)
    echo "== pg (PostgreSQL 15: store, REST API, SDK connect, three nodes)"
    PG_DIR=$(mktemp -d) # pg.sh hands it to the postgres user and removes it on stop
    if ! pg_url=$(scripts/pg.sh start "$PG_DIR" 2>"$ARTIFACTS_DIR/pg-start.log"); then
      cat "$ARTIFACTS_DIR/pg-start.log"; failed=$((failed + 1)); failures+=("pg cluster"); continue
    fi
    [ -d tests/node/node_modules ] || (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
    for t in test_store test_store_pg; do
      run_one "pg/unit/$t" env TETHER_TEST_DATABASE_URL="$(scripts/pg.sh newdb "$pg_url")" "$BUILD/tests/$t"
    done
    run_one "pg/integration/api" env TETHER_DATABASE_URL="$(scripts/pg.sh newdb "$pg_url")" \
      bash tests/integration/api.sh
    for t in sdk_connect multinode; do
      run_one "pg/node/$t" env TETHER_TEST_DATABASE_URL="$pg_url" \
        node --test --test-reporter=tap --test-timeout=300000 "tests/node/$t.test.mjs"
    done
    scripts/pg.sh stop "$PG_DIR"; PG_DIR="" ;;
  *) echo "unknown suite $suite"; exit 2 ;;
  esac
done

if [ -n "$(ls -A "$san_dir" 2>/dev/null)" ]; then
  echo "== sanitizer reports"; for f in "$san_dir"/*; do echo "-- $f"; head -40 "$f"; done
  failed=$((failed + 1)); failures+=("sanitizer")
fi
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
