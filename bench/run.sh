#!/usr/bin/env bash
# bench/run.sh -- tether's benchmark. Runs eight scenarios against servers it starts on free
# loopback ports, then prints one table and writes it as Markdown to $BUILD/bench.md.
# See bench/README.md for what each scenario measures and how to read the table.
#
# Usage: BUILD=build bench/run.sh        (`make bench` installs the tools, builds, then runs this)
# Knobs (environment): BENCH_SECONDS (wrk duration per scenario, 8), BENCH_CONNS (64),
#   WAKE_RUNS (200), FLOW_SECONDS (8), FLOW_CONCURRENCY (8), WAITER_ACCOUNTS (100),
#   WAITERS_PER_ACCOUNT (100), WAITER_LINK_TTL (15), STARTUP_RUNS (5), BENCH_ONLY (scenario
#   numbers to run, e.g. "1 6"; 1-3 run together, 5 and 7 run together, 4 needs 1's account;
#   9 runs bench/nodes.sh: 1, 2 and 3 nodes on a throwaway PostgreSQL).
#
# Every process started here is stopped by its pid when the script ends, also on failure or ^C;
# the temporary directory is removed. All traffic stays on 127.0.0.1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
[ -x "$BUILD/tether" ] || { echo "bench: $BUILD/tether is not built (run make)" >&2; exit 1; }
BIN=$(realpath "$BUILD/tether")
SECS=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNS:-64}
WAITER_LINK_TTL=${WAITER_LINK_TTL:-15}
KEY=tk_live_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK
NCPU=$(nproc)
SERVER_CORE=0
CLIENT_CORE=$((NCPU > 1 ? 1 : 0))
OUT_MD=$BUILD/bench.md

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX") || exit 1
export BENCH_PIDS=$WORK/client-pids # "pid program" of processes the node clients start
ROWS=$WORK/rows
: >"$BENCH_PIDS"
: >"$ROWS"
STARTED=() # "pid:program" of everything started here
FAILED=0

# --- processes -------------------------------------------------------------------------------

# True while pid runs the named program (not exited, not a zombie, not a reused pid).
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] &&
        { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$2"
}

# Stops pid (running program) with SIGTERM, then SIGKILL after 5 s.
stop_pid() {
    local pid=$1 prog=$2
    alive "$pid" "$prog" || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        alive "$pid" "$prog" || break
        sleep 0.1
    done
    alive "$pid" "$prog" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local e p prog
    for e in "${STARTED[@]}"; do stop_pid "${e%%:*}" "${e#*:}"; done
    while read -r p prog; do [ -n "$prog" ] && stop_pid "$p" "$prog"; done <"$BENCH_PIDS"
    rm -rf "$WORK"
}
exec 3>&2 # the terminal's stderr, for the trap (it may fire inside a redirected function)
trap cleanup EXIT
trap 'echo "bench: interrupted" >&3; exit 130' INT TERM

# run_client PROGRAM COMMAND...: runs COMMAND in the background (so a signal reaches the trap at
# once) and waits for it. PROGRAM is what its command line shows once taskset/env have exec'd.
run_client() {
    local prog=$1
    shift
    "$@" &
    local pid=$!
    STARTED+=("$pid:$prog")
    wait "$pid"
}

free_port() {
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{
        console.log(s.address().port);s.close();})"
}

# start_tether NAME [serve args]: starts tether pinned to the server core with its own data dir.
# Sets T_PID and T_URL; the log is $WORK/NAME.log.
start_tether() {
    local name=$1
    shift
    mkdir -p "$WORK/$name-data"
    env -u TETHER_LISTEN -u TETHER_PUBLIC_URL -u TETHER_DATA_DIR -u TETHER_DATABASE_URL \
        -u TETHER_CATALOG_DIR -u TETHER_LINK_TTL TETHER_API_KEY="$KEY" \
        TETHER_RATE_API=0 TETHER_RATE_PAGES=0 \
        taskset -c "$SERVER_CORE" "$BIN" serve --data-dir "$WORK/$name-data" --allow-http "$@" \
        >"$WORK/$name.log" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID:$BIN")
    T_URL=
    for _ in $(seq 200); do
        T_URL=$(sed -nE 's#^tether: serving on (http://127\.0\.0\.1:[0-9]+).*#\1#p' \
            "$WORK/$name.log")
        [ -n "$T_URL" ] && curl -sf -o /dev/null "$T_URL/healthz" && return 0
        alive "$T_PID" "$BIN" || break
        sleep 0.05
    done
    echo "bench: tether ($name) did not start:" >&2
    tail -20 "$WORK/$name.log" >&2
    return 1
}

# API call with the key; prints the body. api METHOD PATH [JSON]
api() {
    if [ $# -ge 3 ]; then
        curl -sS -X "$1" -H "x-api-key: $KEY" -H 'content-type: application/json' --data "$3" \
            "$T_URL$2"
    else
        curl -sS -X "$1" -H "x-api-key: $KEY" "$T_URL$2"
    fi
}

# The string value of a top-level-or-nested "key":"value" pair in JSON on stdin (first match).
jfield() {
    sed -nE "s/.*\"$1\":\"([^\"]+)\".*/\1/p" | head -1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }

# A wrk latency figure (e.g. 812.00us, 6.73ms, 1.02s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "-" }'
}

row() { # row FIELDS... (scenario, req/s, p50, p99, cpu, rss, target, met)
    local IFS='|'
    echo "$*" >>"$ROWS"
}

# wrk_row LABEL PID MIN_RPS MAX_P99_MS URL [wrk args...]: a 1 s warm-up, then SECS seconds of
# wrk at CONNS connections from the client core; the server's CPU and RSS come from /proc/PID.
# Sets W_RPS.
wrk_row() {
    local label=$1 pid=$2 min_rps=$3 max_p99=$4 url=$5
    shift 5
    local out=$WORK/wrk.out c0 c1
    taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNS" -d1s "$@" "$url" >/dev/null 2>&1
    c0=$(cpu_ticks "$pid")
    run_client wrk taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url" \
        >"$out" 2>&1
    c1=$(cpu_ticks "$pid")
    local rps reqs p50 p99 bad cpu met
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    reqs=$(awk '/ requests in / {print $1}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    bad=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {n += 0} END {print n + 0}' "$out")
    if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
        echo "bench: wrk failed for $label:" >&2
        cat "$out" >&2
        row "$label" - - - - - "$min_rps req/s" "no (wrk failed)"
        FAILED=$((FAILED + 1))
        W_RPS=0
        return 1
    fi
    cpu=$(awk -v d=$((c1 - c0)) -v t="$CLK_TCK" -v n="$reqs" \
        'BEGIN {printf "%.1f", d * 1e6 / t / n}')
    met=$(awk -v r="$rps" -v p="$p99" -v mr="$min_rps" -v mp="$max_p99" -v b="$bad" 'BEGIN {
        ok = (b == 0) && (mr == "-" || r >= mr) && (mp == "-" || p < mp)
        print ok ? "yes" : "no" }')
    [ "$bad" -gt 0 ] && met="no ($bad non-2xx)"
    local tgt="-"
    [ "$min_rps" != - ] && tgt=">= $min_rps req/s"
    [ "$max_p99" != - ] && tgt="$tgt, p99 < $max_p99 ms"
    [ "$tgt" = - ] && [ "$bad" -eq 0 ] && met="-"
    printf '  %-46s %8s req/s  p50 %7s ms  p99 %7s ms  %7s us CPU/req  %s MB RSS\n' \
        "$label" "$rps" "$p50" "$p99" "$cpu" "$(rss_mb "$pid")"
    grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/    /'
    row "$label" "$rps" "$p50 ms" "$p99 ms" "$cpu us" "$(rss_mb "$pid") MB" "$tgt" "$met"
    W_RPS=$rps
}

# True when scenario $1 is to run (BENCH_ONLY unset, or lists it).
want() {
    [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]
}

# Runs a node client pinned to the client core; its output goes to $WORK/NAME.out, its "ROW|..."
# line to the table, the rest to the terminal. client NAME [VAR=value...] SCRIPT
client() {
    local name=$1
    shift
    run_client node taskset -c "$CLIENT_CORE" env "$@" >"$WORK/$name.out" 2>&1 ||
        FAILED=$((FAILED + 1))
    grep -v '^ROW|' "$WORK/$name.out" | sed 's/^/  /'
    sed -n 's/^ROW|//p' "$WORK/$name.out" >>"$ROWS"
}

# --- the scenarios -----------------------------------------------------------------------------

# 8. Start-up and idle RSS, first, on a server that has seen no load.
bench_startup() {
    echo "== 8. start-up and idle RSS"
    mkdir -p "$WORK/startup-data"
    client startup TETHER_BIN="$BIN" DATA_DIR="$WORK/startup-data" node bench/startup.mjs
}

# 1-3. The read, list and write paths on one server (writes last, so reads see a small table).
# Keeps scenario 1's response body in $WORK/account.json for scenario 4; sets READ_RPS.
bench_api() {
    echo "== 1-3. API throughput (wrk, $CONNS connections, $SECS s each)"
    start_tether api --listen 127.0.0.1:0 || { FAILED=$((FAILED + 1)); return; }
    local sid sid2 ca
    api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"github"},"auth_config":{"type":
        "use_custom_auth","authScheme":"OAUTH2","credentials":{"client_id":"cid",
        "client_secret":"csecret"}}}' >/dev/null
    sid=$(api POST /api/v3.1/tool_router/session '{"user_id":"bench_reads"}' | jfield session_id)
    ca=$(api POST "/api/v3.1/tool_router/session/$sid/link" \
        '{"toolkit":"github","callback_url":"https://app.example/cb"}' |
        jfield connected_account_id)
    sid2=$(api POST /api/v3.1/tool_router/session '{"user_id":"bench_links"}' | jfield session_id)
    if [ -z "$sid" ] || [ -z "$ca" ] || [ -z "$sid2" ]; then
        echo "bench: could not create the session and account" >&2
        FAILED=$((FAILED + 1))
    else
        api GET "/api/v3.1/connected_accounts/$ca" >"$WORK/account.json"
        wrk_row "1. GET connected_accounts/{id}" "$T_PID" 40000 10 \
            "$T_URL/api/v3.1/connected_accounts/$ca" -H "x-api-key: $KEY"
        READ_RPS=$W_RPS
        wrk_row "3. GET session/{id}/toolkits" "$T_PID" - - \
            "$T_URL/api/v3.1/tool_router/session/$sid/toolkits" -H "x-api-key: $KEY"
        wrk_row "2. POST session/{id}/link" "$T_PID" 10000 10 \
            "$T_URL/api/v3.1/tool_router/session/$sid2/link" -H "x-api-key: $KEY" \
            -s bench/link.lua
    fi
    stop_pid "$T_PID" "$BIN"
}

# 4. nginx serving a static file the size of scenario 1's body: the machine's ceiling.
bench_nginx() {
    [ -s "$WORK/account.json" ] || { echo "bench: scenario 4 needs scenario 1" >&2; return; }
    echo "== 4. nginx ceiling (same body size, same wrk settings)"
    local ng=$WORK/nginx port pid
    mkdir -p "$ng/www" "$ng/tmp"
    cp "$WORK/account.json" "$ng/www/account.json"
    port=$(free_port)
    cat >"$ng/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /account.json { root $ng/www; default_type application/json; }
    }
}
EOF
    taskset -c "$SERVER_CORE" nginx -p "$ng/" -c "$ng/nginx.conf" -e "$ng/error.log" \
        >"$ng/out.log" 2>&1 &
    pid=$!
    STARTED+=("$pid:nginx")
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/account.json" && break
        sleep 0.05
    done
    if ! curl -sf -o /dev/null "http://127.0.0.1:$port/account.json"; then
        echo "bench: nginx did not start:" >&2
        cat "$ng/out.log" "$ng/error.log" >&2 2>/dev/null
        FAILED=$((FAILED + 1))
        stop_pid "$pid" nginx
        return
    fi
    wrk_row "4. nginx, static $(stat -c %s "$ng/www/account.json")-byte JSON" "$pid" - - \
        "http://127.0.0.1:$port/account.json"
    stop_pid "$pid" nginx
    if [ "${W_RPS:-0}" -gt 0 ] && [ "${READ_RPS:-0}" -gt 0 ]; then
        local ratio
        ratio=$(awk -v a="$READ_RPS" -v b="$W_RPS" 'BEGIN {printf "%.0f", 100 * a / b}')
        echo "  tether reads (scenario 1) = $ratio% of nginx"
        row "4. tether reads (1) as % of nginx" "$ratio%" - - - - ">= 50%" \
            "$([ "$ratio" -ge 50 ] && echo yes || echo no)"
    fi
}

# 5 and 7. The OAuth flow against oidc-provider, which runs on the client core with the clients.
bench_oauth() {
    echo "== 5, 7. OAuth flows against oidc-provider"
    local tport pport issuer pid
    tport=$(free_port)
    pport=$(free_port)
    issuer=http://127.0.0.1:$pport
    taskset -c "$CLIENT_CORE" env PORT="$pport" NODE_NO_WARNINGS=1 \
        REDIRECT_URIS="http://127.0.0.1:$tport/api/v3/toolkits/auth/callback" \
        node tests/node/provider.mjs >"$WORK/provider.log" 2>&1 &
    pid=$!
    STARTED+=("$pid:provider.mjs")
    for _ in $(seq 200); do
        grep -q "provider ready" "$WORK/provider.log" && break
        sleep 0.05
    done
    if grep -q "provider ready" "$WORK/provider.log" &&
        DIR="$WORK/catalog" ISSUER="$issuer" node --input-type=module -e \
            "import { writeCatalog } from '$PWD/tests/node/lib/harness.mjs';
             writeCatalog(process.env.DIR, process.env.ISSUER);" &&
        start_tether oauth --listen "127.0.0.1:$tport" --catalog-dir "$WORK/catalog"; then
        local s
        for s in wake flows; do
            want "$([ $s = wake ] && echo 5 || echo 7)" || continue
            client "$s" TETHER_URL="$T_URL" TETHER_API_KEY="$KEY" TETHER_PID="$T_PID" \
                node "bench/$s.mjs"
        done
        stop_pid "$T_PID" "$BIN"
    else
        echo "bench: the OAuth stack did not start:" >&2
        tail -20 "$WORK/provider.log" >&2
        FAILED=$((FAILED + 1))
    fi
    stop_pid "$pid" provider.mjs
}

# 6. Many parked long-polls on a fresh server whose links expire while they wait.
bench_waiters() {
    echo "== 6. parked long-polls (links expire $WAITER_LINK_TTL s after creation)"
    ${CC:-cc} -std=gnu17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$WORK/waiters" \
        bench/waiters.c || { FAILED=$((FAILED + 1)); return; }
    start_tether waiters --listen 127.0.0.1:0 --link-ttl "$WAITER_LINK_TTL" ||
        { FAILED=$((FAILED + 1)); return; }
    client waiters TETHER_URL="$T_URL" TETHER_API_KEY="$KEY" TETHER_PID="$T_PID" \
        WAITERS_BIN="$WORK/waiters" LINK_TTL="$WAITER_LINK_TTL" node bench/waiters.mjs
    stop_pid "$T_PID" "$BIN"
}

# Prints the rows as an aligned table and writes them as Markdown to $OUT_MD.
print_table() {
    local head="scenario|req/s|p50|p99|server CPU/req|server RSS|target|met" note r
    sort -t'|' -k1,1 -V "$ROWS" >"$WORK/sorted"
    note="$NCPU cores: tether pinned to core $SERVER_CORE; wrk, the node clients and oidc-provider"
    note="$note on core $CLIENT_CORE. Both share one machine, so other load skews every figure."
    note="$note Load average $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end;"
    note="$note $(($(date +%s) - T_START)) s in all."
    echo
    echo "tether benchmark -- $note"
    { echo "$head"; cat "$WORK/sorted"; } | awk -F'|' '
        { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
          if (NF > nf) nf = NF }
        END {
            for (r = 1; r <= NR; r++) {
                line = ""
                for (i = 1; i <= nf; i++) line = line sprintf("%-*s  ", w[i], cell[r, i])
                sub(/ +$/, "", line); print line
                if (r > 1) continue
                line = ""
                for (i = 1; i <= nf; i++) { d = sprintf("%*s", w[i], ""); gsub(/ /, "-", d)
                                            line = line d "  " }
                sub(/ +$/, "", line); print line
            } }'
    {
        echo "# tether benchmark"
        echo
        echo "$note"
        echo
        echo "| ${head//|/ | } |"
        echo "|---|---:|---:|---:|---:|---:|---|---|"
        while IFS= read -r r; do echo "| ${r//|/ | } |"; done <"$WORK/sorted"
    } >"$OUT_MD"
    echo
    echo "bench: table written to $OUT_MD"
}

# --- main --------------------------------------------------------------------------------------

for tool in wrk nginx node npm curl taskset; do
    command -v "$tool" >/dev/null ||
        { echo "bench: $tool is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
if [ ! -d tests/node/node_modules/oidc-provider ]; then
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" -lt 10300 ]; then
    echo "bench: ulimit -n is $(ulimit -n); scenario 6 needs about 10,300 descriptors" >&2
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
echo "bench: $NCPU cores; tether pinned to core $SERVER_CORE, load generators to core" \
    "$CLIENT_CORE; both share this machine (load average at start: $LOAD0)"

want 8 && bench_startup
{ want 1 || want 2 || want 3 || want 4; } && bench_api
want 4 && bench_nginx
{ want 5 || want 7; } && bench_oauth
want 6 && bench_waiters
print_table
# 9: several nodes on one PostgreSQL (bench/nodes.sh prints its own Markdown table and limits)
if want 9; then
    echo
    echo "== 9. link creation and account reads with 1, 2 and 3 nodes on PostgreSQL"
    if BUILD=$BUILD bench/nodes.sh >"$WORK/nodes.md"; then
        cat "$WORK/nodes.md"
        { echo; echo "## Several nodes"; echo; cat "$WORK/nodes.md"; } >>"$OUT_MD"
    else
        echo "bench: the multi-node scenario did not run to completion" >&2
        FAILED=$((FAILED + 1))
    fi
fi
[ "$FAILED" -eq 0 ] || { echo "bench: $FAILED scenario(s) did not run to completion" >&2; exit 1; }
