#!/usr/bin/env bash
# cli.sh -- the client commands of the tether binary against a server (see lib_stack.sh for which
# one): output, --json, exit codes, environment fallbacks and the messages for a wrong key or an
# unreachable server.
set -uo pipefail
. "$(dirname "$0")/lib_stack.sh"
stack_start
T=$TETHER_BIN
U=cli_user_$$_$RANDOM

# ---- no server needed ----
expect_rc "version" 0 "$T" version
check "version prints the library version" grep -q '^tether [0-9]' "$OUT"
expect_rc "help" 0 "$T" help
check "help lists the client commands" grep -q 'tether connect' "$OUT"
expect_rc "unknown command is a usage error" 1 "$T" no-such-command
expect_rc "connect without a toolkit is a usage error" 1 "$T" connect --user "$U"
expect_rc "connect without --user is a usage error" 1 "$T" connect gmail
expect_rc "--wait takes seconds" 1 "$T" connect gmail --user "$U" --wait=soon
expect_rc "unknown option is a usage error" 1 "$T" toolkits --user "$U" --frobnicate
expect_rc "missing API key: exit 2" 2 env -u TETHER_API_KEY -u COMPOSIO_API_KEY "$T" toolkits --user "$U"
check "missing API key: says which variable" grep -q TETHER_API_KEY "$ERR"
expect_rc "unreachable server: exit 4" 4 env TETHER_BASE_URL=http://127.0.0.1:1 "$T" toolkits --user "$U"
check "unreachable server: clear message" grep -q 'cannot reach the server at http://127.0.0.1:1' "$ERR"
expect_rc "--base-url beats the environment" 4 "$T" accounts list --base-url http://127.0.0.1:1

# ---- against the server ----
expect_rc "wrong API key: exit 2" 2 env TETHER_API_KEY=wrong-key "$T" toolkits --user "$U"
check "wrong API key: clear message" grep -q 'rejected the API key' "$ERR"
expect_rc "COMPOSIO_* fallback" 0 env -u TETHER_API_KEY -u TETHER_BASE_URL \
    COMPOSIO_API_KEY="$TETHER_API_KEY" COMPOSIO_BASE_URL="$TETHER_BASE_URL" "$T" accounts list

expect_rc "session create" 0 "$T" session create --user "$U"
check "session create prints the id" grep -qE '^Session: +trs_' "$OUT"
expect_rc "session create --json with options" 0 "$T" session create --user "$U" --json \
    --toolkits gmail,github --no-manage-connections
SID=$(jget x.session_id <"$OUT")
check "session --json has the session id" test "${SID#trs_}" != "$SID"
check "session --json echoes manage_connections off" \
    test "$(jget 'x.config.manage_connections.enabled' <"$OUT")" = false
expect_rc "session get" 0 "$T" session get "$SID" --json
check "session get returns the same session" test "$(jget x.session_id <"$OUT")" = "$SID"
expect_rc "session get of an unknown id: exit 3" 3 "$T" session get trs_doesnotexist

expect_rc "toolkits" 0 "$T" toolkits --user "$U" --toolkits gmail,github
check "toolkits lists gmail" grep -qE '^gmail +' "$OUT"
check "toolkits shows gmail not connected" grep -qE '^gmail +Gmail +- +-' "$OUT"
expect_rc "toolkits --json" 0 "$T" toolkits --session "$SID" --json
check "toolkits --json has items" test "$(jget 'x.items.length > 0' <"$OUT")" = true

expect_rc "connect prints the link" 0 "$T" connect gmail --user "$U"
check "connect output is 'Connect gmail: URL'" grep -qE '^Connect gmail: https?://' "$OUT"
PENDING=$(awk '/^Account:/ {print $2}' "$OUT")
expect_rc "accounts get of the new account" 0 "$T" accounts get "$PENDING" --json
check "the new account is INITIATED" test "$(jget x.status <"$OUT")" = INITIATED

expect_rc "connect --wait=2 without the user: exit 5" 5 "$T" connect github --user "$U" --wait=2
check "timeout message names the status" grep -q 'still INITIATED' "$ERR"
check "no countdown when stdout is not a terminal" bash -c "! grep -q \$'\\r' '$OUT'"

if can_play; then
    "$T" connect gmail --user "$U" --wait=30 --json >"$STACK_TMP/c1" 2>"$STACK_TMP/c1.err" &
    CPID=$!
    LINE=$(wait_line "$STACK_TMP/c1" redirect_url 10)
    URL=$(jget x.redirect_url <<<"$LINE")
    CA=$(jget x.connected_account_id <<<"$LINE")
    check "the user finishes the link" complete_link "$URL" "$CA"
    wait $CPID
    check "connect --wait exits 0 once connected" test $? = 0
    check "connect --wait --json prints the ACTIVE account" \
        test "$(tail -1 "$STACK_TMP/c1" | jget x.status)" = ACTIVE
    expect_rc "toolkits after connecting" 0 "$T" toolkits --user "$U" --toolkits gmail --connected
    check "gmail is ACTIVE with the new account" grep -qE "^gmail +Gmail +ACTIVE +$CA" "$OUT"

    expect_rc "accounts list --user" 0 "$T" accounts list --user "$U" --status ACTIVE --json
    check "the list holds the account" test "$(jget "x.items.some(a => a.id === '$CA')" <"$OUT")" = true
    expect_rc "accounts disable" 0 "$T" accounts disable "$CA"
    check "disable says so" grep -q "^Disabled $CA" "$OUT"
    expect_rc "accounts get after disable" 0 "$T" accounts get "$CA" --json
    check "the account is disabled" test "$(jget x.is_disabled <"$OUT")" = true
    expect_rc "accounts enable --json" 0 "$T" accounts enable "$CA" --json
    check "enable --json reports success" test "$(jget x.success <"$OUT")" = true
    expect_rc "accounts get after enable" 0 "$T" accounts get "$CA"
    check "the account is enabled" grep -qE '^disabled: +no' "$OUT"
    expect_rc "accounts wait on an ACTIVE account returns at once" 0 "$T" accounts wait "$CA"
    expect_rc "accounts delete" 0 "$T" accounts delete "$CA"
    expect_rc "accounts get after delete: exit 3" 3 "$T" accounts get "$CA" --json
    check "--json error names the code" test "$(jget x.error.code <"$OUT")" = not_found
else
    skip "finishing links (no COMPLETE_LINK hook)"
fi

if can_deny; then
    "$T" connect github --user "$U" --wait=30 >"$STACK_TMP/c2" 2>"$STACK_TMP/c2.err" &
    CPID=$!
    LINE=$(wait_line "$STACK_TMP/c2" '^Connect github:' 10)
    CA2=$(awk '/^Account:/ {print $2}' "$STACK_TMP/c2")
    check "the user refuses" deny_link "${LINE#Connect github: }" "$CA2"
    wait $CPID
    check "a refused connection exits 6" test $? = 6
    check "the message says FAILED" grep -q 'is FAILED' "$STACK_TMP/c2.err"
else
    skip "refused links (no DENY_LINK hook)"
fi

if command -v script >/dev/null; then
    script -qec "$T connect github --user $U --wait=2" /dev/null >"$STACK_TMP/tty" 2>&1
    check "a countdown on a terminal" grep -q 's left' "$STACK_TMP/tty"
fi

finish
