#!/usr/bin/env bash
# lib_client.sh -- libtether against a server (see lib_stack.sh for which one): the seed's
# "Putting it together" program (examples/putting_together.c) with a user finishing each link,
# one client shared by threads, and how soon a wait returns once the user is done (the server's
# long-poll; the stub has none and is polled once a second).
set -uo pipefail
. "$(dirname "$0")/lib_stack.sh"
stack_start
U=lib_user_$$_$RANDOM
EXAMPLE=$BUILD/examples/putting_together

# ---- the seed program ----
if [ ! -x "$EXAMPLE" ]; then
    bad "examples/putting_together is built" "missing $EXAMPLE (make examples)"
elif can_play; then
    "$EXAMPLE" "$U" >"$STACK_TMP/ex" 2>"$STACK_TMP/ex.err" &
    EPID=$!
    for slug in gmail github; do
        LINE=$(wait_line "$STACK_TMP/ex" "^Connect $slug: " 20)
        check "the program prints 'Connect $slug: <url>'" test -n "$LINE"
        check "the user finishes $slug" complete_link "${LINE#Connect $slug: }" ""
    done
    wait $EPID
    check "the program exits 0" test $? = 0
    check "it listed gmail and github as pending" grep -q '^Pending: gmail, github$' "$STACK_TMP/ex"
    check "it ends with 'All toolkits connected!'" \
        test "$(tail -1 "$STACK_TMP/ex")" = "All toolkits connected!"
    expect_rc "a second run finds nothing pending" 0 timeout 20 "$EXAMPLE" "$U"
    check "second run: both connected" grep -q '^Connected: gmail, github$' "$OUT"
    check "second run: no link printed" bash -c "! grep -q '^Connect ' '$OUT'"
else
    skip "the seed program (no COMPLETE_LINK hook)"
fi

# ---- a probe program built against the library ----
PROBE=$STACK_TMP/probe
cat >"$PROBE.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tether.h>

static tether_client *client;
static const char *user;

static void *
worker(void *arg)
{
    long bad = 0;
    for (int i = 0; i < 10; i++) {
        tether_session *s = NULL;
        tether_toolkit_list *l = NULL;
        tether_account_list *al = NULL;
        tether_accounts_options o;
        tether_accounts_options_init(&o);
        const char *users[] = {user, NULL};
        o.user_ids = users;
        if (tether_session_create(client, user, NULL, &s) != 0 ||
            tether_session_toolkits(s, NULL, &l) != 0 || tether_accounts_list(client, &o, &al) != 0) {
            fprintf(stderr, "thread call failed: %s\n", tether_errmsg(client));
            bad++;
        }
        tether_account_list_free(al);
        tether_toolkit_list_free(l);
        tether_session_free(s);
    }
    return (void *)bad;
}

static long long
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
    client = tether_client_new(NULL);
    if (client == NULL || argc < 3)
        return 2;
    user = argv[2];
    int rc = 1;
    if (strcmp(argv[1], "threads") == 0) {
        pthread_t th[8];
        long bad = 0;
        for (int i = 0; i < 8; i++)
            pthread_create(&th[i], NULL, worker, NULL);
        for (int i = 0; i < 8; i++) {
            void *r;
            pthread_join(th[i], &r);
            bad += (long)r;
        }
        rc = bad != 0;
    } else if (strcmp(argv[1], "link") == 0) { /* prints the link, then waits */
        tether_session *s = NULL;
        tether_connection_request *r = NULL;
        tether_account *a = NULL;
        if (tether_session_create(client, user, NULL, &s) == 0 &&
            tether_session_authorize(s, "github", NULL, &r) == 0) {
            printf("link %s %s\n", tether_connection_request_redirect_url(r),
                   tether_connection_request_id(r));
            fflush(stdout);
            rc = tether_connection_request_wait(r, 30000, &a);
            printf("done %lld %s %s\n", wall_ms(), tether_err_name(rc),
                   a ? tether_account_status(a) : "-");
        }
        tether_account_free(a);
        tether_connection_request_free(r);
        tether_session_free(s);
    }
    tether_client_free(client);
    return rc;
}
EOF
SAN=()
[ -n "${SANITIZE:-}" ] && SAN=(-fsanitize="$SANITIZE")
if ! ${CC:-cc} -std=gnu17 -g -Wall -Werror "${SAN[@]}" -I"$ROOT/include" -o "$PROBE" "$PROBE.c" \
    "$BUILD/libtether.a" $(pkg-config --libs libcurl jansson) -lpthread 2>"$STACK_TMP/cc.err"; then
    bad "the probe builds against libtether.a and tether.h" "$(head -c 600 "$STACK_TMP/cc.err")"
    finish
    exit
fi
ok "the probe builds against libtether.a and tether.h"

expect_rc "one client shared by 8 threads" 0 "$PROBE" threads "$U"
if command -v valgrind >/dev/null && [ -z "${SANITIZE:-}" ]; then
    expect_rc "threads under valgrind: no errors, no leaks" 0 valgrind -q --error-exitcode=9 \
        --leak-check=full "$PROBE" threads "$U"
fi

if can_play; then
    "$PROBE" link "$U" >"$STACK_TMP/probe.out" 2>&1 &
    PPID_=$!
    LINE=$(wait_line "$STACK_TMP/probe.out" '^link ' 10)
    read -r _ URL CA <<<"$LINE"
    sleep 1.5 # let the wait settle into its long-poll (or polling) rhythm
    complete_link "$URL" "$CA"
    T_DONE=$(date +%s%3N)
    wait $PPID_
    check "the wait returns the ACTIVE account" grep -q '^done [0-9]* ok ACTIVE' "$STACK_TMP/probe.out"
    T_END=$(awk '/^done/ {print $2}' "$STACK_TMP/probe.out")
    LAG=$((${T_END:-0} - T_DONE))
    LIMIT=600
    [ "$STACK_MODE" = stub ] && LIMIT=1600 # the stub has no long-poll: one poll a second
    echo "# the wait returned ${LAG} ms after the user finished (limit ${LIMIT} ms)"
    check "the wait returns promptly after the user finishes" test "$LAG" -lt "$LIMIT"
else
    skip "how soon a wait returns (no COMPLETE_LINK hook)"
fi

finish
