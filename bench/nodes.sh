#!/usr/bin/env bash
# bench/nodes.sh -- link creation and account reads with 1, 2 and 3 tether nodes on one PostgreSQL
# (a throwaway PostgreSQL 15 cluster from scripts/pg.sh, fsync on), with one SQLite node as the
# baseline. Each node gets wrk connections of its own (an even share of NODES_CONNS), as a load
# balancer would spread them; the rates of the nodes are added up.
#
# Usage: BUILD=build bench/nodes.sh     Knobs: NODES_SECONDS (per measurement, 5), NODES_CONNS
#   (total wrk connections, 48), NODES_COUNTS (node counts to run, "1 2 3").
#
# Output (stdout), for bench/run.sh to include as it is: a Markdown table with one row per setup,
#
#   | setup | link creation req/s | p99 ms | account reads req/s | p99 ms | CPU: ... |
#   |---|---|---|---|---|---|
#   | SQLite, 1 node | 1136 | 105.6 | 17859 | 55.6 | 25% / - / 74% |
#   | PostgreSQL, 2 nodes | 355 | 623.6 | 8697 | 78.0 | 11% / 16% / 71% |
#
# (the last header cell is "CPU: tether / postgres / other")
#
# followed by a blank line and one paragraph that starts with "Limits:". The CPU column is the
# share of the machine's busy CPU time during the two measurements used by the tether nodes, by
# the PostgreSQL server processes, and by everything else (mostly wrk). Progress and errors go to
# stderr. Every process started here is stopped by its pid at the end, also on failure or ^C.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
[ -x "$BUILD/tether" ] || { echo "nodes: $BUILD/tether is not built (run make)" >&2; exit 1; }
BIN=$(realpath "$BUILD/tether")
SECS=${NODES_SECONDS:-5}
CONNS=${NODES_CONNS:-48}
COUNTS=${NODES_COUNTS:-1 2 3}
KEY=tk_live_nodes_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
command -v wrk >/dev/null || { echo "nodes: wrk is missing (scripts/deps.sh bench)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tether-nodes.XXXXXX") || exit 1
PG_DIR=""
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "$PG_DIR" ] && scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_node NAME [env assignments...]: starts tether serve; sets N_PID and N_URL.
start_node() {
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    env -u TETHER_LISTEN -u TETHER_PUBLIC_URL -u TETHER_DATA_DIR -u TETHER_DATABASE_URL \
        TETHER_API_KEY="$KEY" "$@" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" \
        >"$WORK/$name.log" 2>&1 &
    N_PID=$!
    PIDS+=("$N_PID")
    N_URL=
    for _ in $(seq 200); do
        N_URL=$(sed -nE 's#^tether: serving on (http://127\.0\.0\.1:[0-9]+).*#\1#p' \
            "$WORK/$name.log")
        [ -n "$N_URL" ] && curl -sf -o /dev/null "$N_URL/healthz" && return 0
        kill -0 "$N_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "nodes: tether ($name) did not start:" >&2
    tail -20 "$WORK/$name.log" >&2
    return 1
}

stop_nodes() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
}

api() { # URL METHOD PATH [JSON]
    curl -sS -X "$2" -H "x-api-key: $KEY" ${4:+-H 'content-type: application/json' -d "$4"} \
        "$1$3"
}
jfield() { sed -nE "s/.*\"$1\":\"([^\"]+)\".*/\\1/p"; }

# CPU ticks used so far by the given pids and their threads (children not included).
ticks_of() {
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}
pg_pids() {
    local pm
    pm=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || return 0
    echo "$pm" $(ps -o pid= --ppid "$pm")
}
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# wrk_all SCRIPT_OR_- PATH URL...: one wrk per URL in parallel (CONNS split evenly) after a 1 s
# warm-up; sets W_RPS (sum) and W_P99 (the worst node's p99, ms).
ms_of() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
        else if (v ~ /s$/) n *= 1000; printf "%.1f", n }'
}
wrk_all() {
    local script=$1 path=$2
    shift 2
    local per=$((CONNS / $#)) i=0 u args=()
    [ "$per" -ge 1 ] || per=1
    [ "$script" != - ] && args=(-s "$script")
    local pids=()
    for u in "$@"; do # warm-up
        wrk -t1 -c"$per" -d1s "${args[@]}" -H "x-api-key: $KEY" "$u$path" >/dev/null 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    pids=()
    for u in "$@"; do
        i=$((i + 1))
        wrk -t1 -c"$per" -d"${SECS}s" --latency "${args[@]}" -H "x-api-key: $KEY" "$u$path" \
            >"$WORK/wrk.$i" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    W_RPS=0 W_P99=0
    for i in $(seq "$#"); do
        local rps p99
        rps=$(awk '/^Requests\/sec/{printf "%d", $2}' "$WORK/wrk.$i")
        p99=$(ms_of "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.$i")")
        grep -qE 'Non-2xx|Socket errors' "$WORK/wrk.$i" &&
            echo "nodes: wrk $i: $(grep -E 'Non-2xx|Socket errors' "$WORK/wrk.$i")" >&2
        W_RPS=$((W_RPS + ${rps:-0}))
        W_P99=$(awk -v a="$W_P99" -v b="$p99" 'BEGIN { print (b > a ? b : a) }')
    done
}

# measure LABEL URL...: link creation then reads, spread over the given nodes; prints a row.
measure() {
    local label=$1
    shift
    local first=$1 sid ca
    api "$first" POST /api/v3.1/auth_configs '{"toolkit":{"slug":"github"},"auth_config":{"type":
        "use_custom_auth","authScheme":"OAUTH2","credentials":{"client_id":"cid",
        "client_secret":"csecret"}}}' >/dev/null
    sid=$(api "$first" POST /api/v3.1/tool_router/session '{"user_id":"bench"}' | jfield session_id)
    ca=$(api "$first" POST "/api/v3.1/tool_router/session/$sid/link" \
        '{"toolkit":"github","callback_url":"https://app.example/cb"}' |
        jfield connected_account_id)
    if [ -z "$sid" ] || [ -z "$ca" ]; then
        echo "nodes: $label: could not create the session and account" >&2
        echo "| $label | - | - | - | - | - |"
        return
    fi
    local t0 p0 b0
    t0=$(ticks_of "${PIDS[@]}") p0=$(ticks_of $(pg_pids)) b0=$(busy_ticks)
    echo "nodes: $label: link creation" >&2
    wrk_all bench/link.lua "/api/v3.1/tool_router/session/$sid/link" "$@"
    local link_rps=$W_RPS link_p99=$W_P99
    echo "nodes: $label: account reads" >&2
    wrk_all - "/api/v3.1/connected_accounts/$ca" "$@"
    local t1 p1 b1
    t1=$(ticks_of "${PIDS[@]}") p1=$(ticks_of $(pg_pids)) b1=$(busy_ticks)
    local cpu
    cpu=$(awk -v t=$((t1 - t0)) -v p=$((p1 - p0)) -v b=$((b1 - b0)) -v pg="$PG_DIR" 'BEGIN {
        if (b <= 0) b = 1; o = b - t - (pg != "" ? p : 0); if (o < 0) o = 0;
        ps = (pg != "" && p > 0) ? sprintf("%d%%", 100 * p / b) : "-";
        printf "%d%% / %s / %d%%", 100 * t / b, ps, 100 * o / b }')
    echo "| $label | $link_rps | $link_p99 | $W_RPS | $W_P99 | $cpu |"
}

echo "nodes: SQLite baseline" >&2
ROWS=$WORK/rows
: >"$ROWS"
start_node sqlite && measure "SQLite, 1 node" "$N_URL" >>"$ROWS"
stop_nodes

PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tether-nodes-pg.XXXXXX")
if ! PG_URL=$(TETHER_PG_OPTS="-c fsync=on -c shared_buffers=128MB" scripts/pg.sh start "$PG_DIR" \
    2>"$WORK/pg.log"); then
    cat "$WORK/pg.log" >&2
    PG_DIR=""
    echo "nodes: no PostgreSQL cluster; only the SQLite row" >&2
    COUNTS=""
fi
for n in $COUNTS; do
    echo "nodes: PostgreSQL, $n node(s)" >&2
    db=$(scripts/pg.sh newdb "$PG_URL") || break
    urls=()
    start_node pg${n}_1 TETHER_DATABASE_URL="$db" || break
    urls+=("$N_URL")
    mk=$(cat "$WORK/pg${n}_1/master.key")
    for i in $(seq 2 "$n"); do
        start_node "pg${n}_$i" TETHER_DATABASE_URL="$db" TETHER_MASTER_KEY="$mk" || break 2
        urls+=("$N_URL")
    done
    measure "PostgreSQL, $n node$([ "$n" -gt 1 ] && echo s)" "${urls[@]}" >>"$ROWS"
    stop_nodes
done

printf '| setup | link creation req/s | p99 ms | account reads req/s | p99 ms | %s |\n' \
    "CPU: tether / postgres / other"
echo "|---|---|---|---|---|---|"
cat "$ROWS"
echo
# The disk's WAL flush rate, to tell whether commits wait for the disk.
FSYNC=$(timeout 30 /usr/lib/postgresql/15/bin/pg_test_fsync -s 1 -f "$WORK/fsync.test" 2>/dev/null |
    awk '$1 == "fdatasync" { printf "%d", $2; exit }')
echo "Limits: a link creation is about three lookups (API key, session, auth config) and one" \
    "committed transaction (account, link and event rows; fsync on, this disk does" \
    "${FSYNC:-an unknown number of} WAL flushes/s), a read about two statements. Every statement" \
    "is a loopback round trip to a PostgreSQL backend process and a node has at most 4 in flight" \
    "(its connection pool), so one node's writes are bound by round-trip latency times 4; more" \
    "nodes bring more connections, hence more commits in flight, which PostgreSQL flushes" \
    "together. Beyond that the bound is CPU: on this $(nproc)-core machine every node, the" \
    "PostgreSQL processes and wrk share the same cores (the CPU column; \"other\" is wrk and" \
    "anything else running), so extra nodes only split it. The SQLite row is the same work" \
    "in-process on one node. Nodes pay off when each has its own machine and the database has" \
    "cores and a disk of its own."
