# lib.sh -- helpers for the bash integration tests: a tether server on a free loopback port with a
# temp data dir (stopped by pid on exit, even on failure), assertions that count, and a closing
# "N passed, N failed" line. Source it, then call start_tether, then check/expect_* and finish.
set -uo pipefail
TETHER_BIN=${TETHER_BIN:-build/tether}
T_PASSED=0 T_FAILED=0
T_PIDS=()
T_TMP=$(mktemp -d)
cleanup() {
  for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${T_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$T_TMP"
}
trap cleanup EXIT

ok()   { T_PASSED=$((T_PASSED + 1)); echo "ok   $1"; }
bad()  { T_FAILED=$((T_FAILED + 1)); echo "FAIL $1${2:+: $2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "$T_PASSED passed, $T_FAILED failed"; [ "$T_FAILED" -eq 0 ]; }

# start_tether [extra serve flags...]: sets URL, KEY, DATA, LOG.
start_tether() {
  DATA=$T_TMP/data.$RANDOM; LOG=$T_TMP/tether.$RANDOM.log
  KEY=${KEY:-tk_test_$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)}
  TETHER_API_KEY=$KEY "$TETHER_BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" "$@" >"$LOG.out" 2>"$LOG" &
  T_PIDS+=($!)
  TETHER_PID=$!
  for _ in $(seq 100); do
    URL=$(sed -nE 's/^tether: serving on (http[^ ]+)$/\1/p' "$LOG.out" 2>/dev/null)
    [ -n "$URL" ] && curl -fsS "$URL/healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "tether did not start"; cat "$LOG"; return 1
}

stop_tether() { kill -TERM "$TETHER_PID"; wait "$TETHER_PID" 2>/dev/null; }

# api METHOD PATH [JSON] -> sets STATUS and BODY
api() {
  local method=$1 path=$2 data=${3:-}
  local args=(-sS -o "$T_TMP/body" -w '%{http_code}' -X "$method" -H "x-api-key: $KEY")
  [ -n "$data" ] && args+=(-H 'content-type: application/json' --data-binary "$data")
  STATUS=$(curl "${args[@]}" "$URL$path"); BODY=$(cat "$T_TMP/body")
}
# jget EXPR: reads a field from BODY with node (present wherever the tests run)
jget() { node -e 'const b=JSON.parse(process.argv[1]);const v=eval("b"+process.argv[2]);console.log(typeof v==="object"?JSON.stringify(v):v)' "$BODY" "$1"; }
expect_status() { # name expected
  if [ "$STATUS" = "$2" ]; then ok "$1"; else bad "$1" "status $STATUS, want $2: ${BODY:0:300}"; fi
}
expect_error_shape() { # name: BODY must be {"error":{message,code,status,request_id}}
  if node -e 'const b=JSON.parse(process.argv[1]);const e=b.error;if(!e||typeof e.message!=="string"||typeof e.code!=="number"||e.status!=+process.argv[2]||!/^req_/.test(e.request_id))process.exit(1)' "$BODY" "$STATUS" 2>/dev/null; then
    ok "$1"; else bad "$1" "bad error shape: ${BODY:0:300}"; fi
}
