/* wait.c -- waiting for a connected account to leave INITIALIZING/INITIATED. It long-polls
 * (GET /connected_accounts/{id}?wait_ms=N) while the server holds requests, and falls back to
 * one plain GET a second, like the official SDK, once the server shows it answers at once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tether_int.h"

#define LONGPOLL_MAX_MS 60000 /* the most a server is asked to hold one request */
#define TICK_MS 1000          /* on_tick period, and the polling period */

struct waiter {
    tether_client *c;
    const char *id;
    const tether_wait_options *o;
    struct tether__str path;
    long long deadline;
    int longpoll; /* 1 until the server shows it does not hold requests */
    char status[32];
};

void
tether_wait_options_init(tether_wait_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->timeout_ms = TETHER_DEFAULT_WAIT_MS;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* Looks at one answer: 1 with *out set when ACTIVE, 0 to keep waiting, or a code for a final
 * bad status or an answer without a status. */
static int
judge(struct waiter *w, json_t *j, tether_account **out)
{
    const char *st = tether__jstr(j, "status");
    if (st == NULL)
        return tether__fail(TETHER_EPROTOCOL, "the answer for account %s has no status", w->id);
    snprintf(w->status, sizeof(w->status), "%s", st);
    if (strcmp(st, "ACTIVE") == 0) {
        int rc = tether__account_new(j, out);
        return rc == 0 ? 1 : rc;
    }
    const char *reason = tether__jstr(j, "status_reason");
    if (strcmp(st, "FAILED") == 0)
        return tether__fail_account(TETHER_EFAILED, w->id, st, reason);
    if (strcmp(st, "EXPIRED") == 0)
        return tether__fail_account(TETHER_EEXPIRED, w->id, st, reason);
    if (strcmp(st, "REVOKED") == 0)
        return tether__fail_account(TETHER_EREVOKED, w->id, st, reason);
    return 0; /* INITIALIZING, INITIATED, INACTIVE, unknown: keep waiting like the SDK */
}

/* One GET, long-polling for wait_ms when > 0. */
static int
fetch(struct waiter *w, long wait_ms, json_t **out)
{
    char query[32] = "";
    if (wait_ms > 0)
        snprintf(query, sizeof(query), "wait_ms=%ld", wait_ms);
    return tether__request(w->c, "GET", w->path.p, query, NULL, wait_ms, out);
}

/* How long the next request may be held: 0 for a plain GET. */
static long
next_wait(const struct waiter *w, long remaining)
{
    if (!w->longpoll || remaining <= 0)
        return 0;
    long cap = w->o->on_tick ? TICK_MS : LONGPOLL_MAX_MS;
    return remaining < cap ? remaining : cap;
}

/* One round: a request and its judgement. 1 done (*out set), 0 go on, or a code. */
static int
round_trip(struct waiter *w, tether_account **out)
{
    long long t0 = tether__now_ms();
    long wait_ms = next_wait(w, (long)(w->deadline - t0));
    json_t *j = NULL;
    int rc = fetch(w, wait_ms, &j);
    if (rc == TETHER_EBADREQUEST && wait_ms > 0) {
        w->longpoll = 0; /* a strict server that refuses wait_ms: plain GETs from now on */
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = judge(w, j, out);
    json_decref(j);
    long elapsed = (long)(tether__now_ms() - t0);
    long quick = wait_ms / 2 < TICK_MS ? wait_ms / 2 : TICK_MS;
    if (rc == 0 && wait_ms >= 200 && elapsed < quick)
        w->longpoll = 0; /* answered at once with nothing new: the server ignores wait_ms */
    return rc;
}

static int
wait_loop(struct waiter *w, tether_account **out)
{
    for (;;) {
        int rc = round_trip(w, out);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        long remaining = (long)(w->deadline - tether__now_ms());
        if (remaining <= 0)
            return tether__fail(TETHER_ETIMEOUT, "account %s is still %s after %ld ms", w->id,
                                w->status, w->o->timeout_ms);
        if (w->o->on_tick && w->o->on_tick(w->o->userdata, remaining, w->status) != 0)
            return tether__fail(TETHER_ECANCELED, "waiting for account %s was canceled", w->id);
        if (!w->longpoll)
            sleep_ms(remaining < TICK_MS ? remaining : TICK_MS);
    }
}

int
tether_account_wait(tether_client *c, const char *account_id, const tether_wait_options *opts,
                    tether_account **out)
{
    if (c == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_account_wait: NULL client or output");
    int rc = tether__check_arg(account_id, "connected account id");
    if (rc != 0)
        return rc;
    tether_wait_options o;
    tether_wait_options_init(&o);
    if (opts != NULL)
        o = *opts;
    if (o.timeout_ms <= 0)
        o.timeout_ms = TETHER_DEFAULT_WAIT_MS;
    struct waiter w = {.c = c, .id = account_id, .o = &o, .longpoll = 1, .status = "INITIATED"};
    w.deadline = tether__now_ms() + o.timeout_ms;
    tether__str_init(&w.path, TETHER__MAX_URL);
    if (tether__str_puts(&w.path, "/connected_accounts/") != 0 ||
        tether__str_escape(&w.path, account_id) != 0) {
        tether__str_free(&w.path);
        return tether__fail(TETHER_ENOMEM, "out of memory");
    }
    rc = wait_loop(&w, out);
    tether__str_free(&w.path);
    return rc;
}
