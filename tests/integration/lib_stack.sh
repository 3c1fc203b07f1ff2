#!/usr/bin/env bash
# lib_stack.sh -- sourced by lib_client.sh and cli.sh: brings up a server to test the client
# library and CLI against, plays the end user on Connect Links, and counts checks.
#
# Which server (first match wins):
#   TETHER_BASE_URL + TETHER_API_KEY set   an already running server. Links are finished by the
#                                          hooks COMPLETE_LINK / DENY_LINK (commands called with
#                                          the redirect URL and the account id); with STUB=1 the
#                                          stub's own test hooks are used instead.
#   STUB=1 and STUB_SERVER=path            starts Node's stub of the Composio API (it has no
#                                          long-poll, so waits use the polling fallback).
#   otherwise                              starts the real stack: tests/node/provider.mjs (a real
#                                          OAuth2 server), a catalogue pointing gmail/github at it,
#                                          and `$TETHER_BIN serve`; links are finished over HTTP by
#                                          tests/node/lib/harness.mjs (login, consent or deny).
# Other knobs: TETHER_BIN (default $BUILD/tether), BUILD (default build).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "lib_stack.sh is sourced by lib_client.sh and cli.sh; nothing to run on its own"
    echo "0 passed, 0 failed"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD="$ROOT/$BUILD"
TETHER_BIN=${TETHER_BIN:-$BUILD/tether}
STACK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tether-it-XXXXXX")
STACK_PIDS=()
STACK_MODE=
PASS=0
FAIL=0
SKIP=0

stack_cleanup() {
    local pid
    for pid in "${STACK_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${STACK_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$STACK_TMP"
}
trap stack_cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; return 0; }
# check NAME COMMAND...: the command's success is the check.
check() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n" "command: $*"; fi; }
# expect_rc NAME WANT COMMAND...: runs the command (stdout to $OUT, stderr to $ERR), checks its
# exit code.
OUT=$STACK_TMP/out
ERR=$STACK_TMP/err
expect_rc() {
    local n=$1 want=$2 rc=0
    shift 2
    "$@" >"$OUT" 2>"$ERR" || rc=$?
    if [ "$rc" = "$want" ]; then ok "$n"; else
        bad "$n" "exit $rc, wanted $want: $* | $(head -c 400 "$ERR")"
    fi
}
skip() { SKIP=$((SKIP + 1)); echo "skip $1"; }
finish() {
    echo "$PASS passed, $FAIL failed, $SKIP skipped"
    [ "$FAIL" = 0 ]
}

# JSON field of stdin: jget 'x.items.length'
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const x=JSON.parse(s);
const v=eval(process.argv[1]);console.log(typeof v==="object"?JSON.stringify(v):String(v))})' "$1"; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{
console.log(s.address().port);s.close()})'; }

# wait_http URL SECONDS: until URL answers at all.
wait_http() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}

start_stub() {
    [ -f "${STUB_SERVER:-}" ] || { echo "STUB=1 needs STUB_SERVER=path/to/stub-server.mjs"; exit 1; }
    local port
    port=$(free_port)
    PORT=$port STUB_API_KEY=test_key STUB_QUIET=1 node "$STUB_SERVER" >"$STACK_TMP/stub.log" 2>&1 &
    STACK_PIDS+=($!)
    export TETHER_BASE_URL=http://127.0.0.1:$port TETHER_API_KEY=test_key
    wait_http "$TETHER_BASE_URL/" 10 || { echo "the stub did not start"; exit 1; }
}

# The real stack: provider, catalogue overrides, tether, and custom auth configs for the provider.
# Without tests/node's packages, tether runs alone with its built-in catalogue and links cannot be
# finished (STACK_MODE=bare).
start_provider() {
    local nd=$ROOT/tests/node
    (cd "$nd" && PORT=$1 NODE_NO_WARNINGS=1 \
        REDIRECT_URIS=http://127.0.0.1:$2/api/v3/toolkits/auth/callback \
        exec node provider.mjs) >"$STACK_TMP/provider.log" 2>&1 &
    STACK_PIDS+=($!)
    wait_http "http://127.0.0.1:$1/.well-known/openid-configuration" 15 ||
        { echo "the provider did not start"; cat "$STACK_TMP/provider.log"; exit 1; }
    node --input-type=module -e "import {writeCatalog} from '$nd/lib/harness.mjs';
        writeCatalog(process.argv[1], process.argv[2]);" "$STACK_TMP/catalog" \
        "http://127.0.0.1:$1" || exit 1
}

start_real() {
    local pport tport catalog=()
    [ -x "$TETHER_BIN" ] || { echo "no tether binary at $TETHER_BIN"; exit 1; }
    tport=$(free_port)
    if [ -d "$ROOT/tests/node/node_modules/oidc-provider" ]; then
        pport=$(free_port)
        start_provider "$pport" "$tport"
        catalog=(--catalog-dir "$STACK_TMP/catalog")
    else
        STACK_MODE=bare
        echo "# tests/node packages missing (npm ci): links will not be finished"
    fi
    export TETHER_API_KEY=tk_live_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export TETHER_BASE_URL=http://127.0.0.1:$tport
    env -u TETHER_LISTEN -u TETHER_PUBLIC_URL -u TETHER_DATABASE_URL "$TETHER_BIN" serve \
        --listen "127.0.0.1:$tport" --data-dir "$STACK_TMP/data" "${catalog[@]}" \
        --allow-http >"$STACK_TMP/tether.log" 2>&1 &
    STACK_PIDS+=($!)
    wait_http "$TETHER_BASE_URL/healthz" 15 ||
        { echo "tether did not start"; cat "$STACK_TMP/tether.log"; exit 1; }
    local slug
    for slug in gmail github; do
        curl -sf -o /dev/null -X POST "$TETHER_BASE_URL/api/v3.1/auth_configs" \
            -H "x-api-key: $TETHER_API_KEY" -H 'content-type: application/json' \
            -d "{\"toolkit\":{\"slug\":\"$slug\"},\"auth_config\":{\"type\":\"use_custom_auth\",
                 \"authScheme\":\"OAUTH2\",\"credentials\":{\"client_id\":\"tether-post\",
                 \"client_secret\":\"tether-post-secret\"}}}" ||
            { echo "cannot create the $slug auth config"; exit 1; }
    done
}

stack_start() {
    if [ -n "${TETHER_BASE_URL:-}" ] && [ -n "${TETHER_API_KEY:-}" ]; then
        STACK_MODE=external
        [ "${STUB:-}" = 1 ] && STACK_MODE=stub
    elif [ "${STUB:-}" = 1 ]; then
        STACK_MODE=stub
        start_stub
    else
        STACK_MODE=real
        start_real
    fi
    echo "# server: $TETHER_BASE_URL ($STACK_MODE)"
}

# Plays the user through a Connect Link. complete_link URL ID | deny_link URL ID.
play_link() {
    local deny=$1 url=$2 id=$3
    case $STACK_MODE in
    stub)
        if [ "$deny" = 1 ]; then
            curl -sf -o /dev/null -X POST "$TETHER_BASE_URL/_stub/accounts/$id" \
                -d '{"status":"FAILED"}'
        else
            curl -sf -o /dev/null "$url"
        fi
        ;;
    real)
        node --input-type=module -e "import {completeConnectLink} from
            '$ROOT/tests/node/lib/harness.mjs';
            const r = await completeConnectLink(process.argv[1], {deny: process.argv[2] === '1',
                login: 'alice'});
            if (process.argv[2] !== '1' && !r.location && r.status >= 400) { console.error(r.steps.join('\n')); process.exit(1); }" \
            "$url" "$deny" >/dev/null
        ;;
    *)
        local hook=${COMPLETE_LINK:-}
        [ "$deny" = 1 ] && hook=${DENY_LINK:-}
        [ -n "$hook" ] || { echo "no COMPLETE_LINK/DENY_LINK hook for this server" >&2; return 1; }
        $hook "$url" "$id"
        ;;
    esac
}
complete_link() { play_link 0 "$@"; }
deny_link() { play_link 1 "$@"; }
can_play() { [ "$STACK_MODE" = stub ] || [ "$STACK_MODE" = real ] || [ -n "${COMPLETE_LINK:-}" ]; }
can_deny() { [ "$STACK_MODE" = stub ] || [ "$STACK_MODE" = real ] || [ -n "${DENY_LINK:-}" ]; }

# wait_line FILE REGEX SECONDS: prints the first matching line once the file has one.
wait_line() {
    local i line
    for ((i = 0; i < $3 * 10; i++)); do
        line=$(grep -m1 -E "$2" "$1" 2>/dev/null) && { echo "$line"; return 0; }
        sleep 0.1
    done
    return 1
}
