/* test_lifecycle_store.c -- the store operations of migration 2 against a fresh SQLite database
 * (or TETHER_TEST_DATABASE_URL's PostgreSQL): the refresh lease (claim, save, fail, due),
 * reconnect in place, the webhook outbox fed in the event's transaction with per-account order,
 * the delivery log and replay, delete with detail, and the sealed-value pages of key rotation. */
#include "harness/test.h"
#include "common/log.h"
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct store *
open_fresh(void)
{
    static int n;
    char dir[128], err[256];
    const char *pg = getenv("TETHER_TEST_DATABASE_URL");
    log_set_level(LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/test_lifecycle.%d.%d", (int)getpid(), ++n);
    struct store *s = NULL;
    if (store_open(pg && pg[0] ? pg : dir, &s, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    return s;
}

static void
cleanup(struct store *s)
{
    store_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/test_lifecycle.%d.*", (int)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A project pr_t and an ACTIVE account id with sealed creds "c1" expiring at exp. */
static void
make_account(struct store *s, const char *id, int64_t exp, unsigned char token_byte)
{
    store_project_create(s, "pr_t", "test");
    struct st_account a = {.user_id = "u1", .alias = "work", .data = "{}"};
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.project_id, sizeof a.project_id, "pr_t");
    snprintf(a.toolkit, sizeof a.toolkit, "gmail");
    snprintf(a.auth_config_id, sizeof a.auth_config_id, "ac_x");
    struct st_link l = {.expires_at = now_ms() + 60000};
    memset(l.token_hash, token_byte, sizeof l.token_hash);
    if (store_account_create_linked(s, &a, &l) != 0 ||
        store_account_activate(s, id, (const unsigned char *)"\x01" "c1", 3, "{}", exp) != 0) {
        fprintf(stderr, "make_account %s failed\n", id);
        exit(2);
    }
}

TEST(refresh_lease_is_single_flight)
{
    struct store *s = open_fresh();
    int64_t now = now_ms(), exp = now + 1000;
    make_account(s, "ca_1", exp, 1);
    struct st_account a = {0};
    int failures = -1;
    ASSERT_EQ(store_account_refresh_claim(s, "ca_1", "node/a", now, 60000, INT64_MAX, &a,
                                          &failures), 0);
    ASSERT_EQ(failures, 0);
    ASSERT_EQ((int)a.creds_len, 3);
    st_account_clear(&a);
    ASSERT_EQ(store_account_refresh_claim(s, "ca_1", "node/b", now, 60000, INT64_MAX, &a, NULL),
              STORE_NOTFOUND);
    /* the holder may claim again; a lapsed lease is free for anyone */
    ASSERT_EQ(store_account_refresh_claim(s, "ca_1", "node/a", now, 60000, INT64_MAX, &a, NULL),
              0);
    st_account_clear(&a);
    ASSERT_EQ(store_account_refresh_save(s, "ca_1", "node/b", (const unsigned char *)"\x01" "c2", 3,
                                         NULL, exp + 5000, 0),
              STORE_NOTFOUND);
    ASSERT_EQ(store_account_refresh_save(s, "ca_1", "node/a", (const unsigned char *)"\x01" "c2", 3,
                                         NULL, exp + 5000, exp + 4000),
              0);
    ASSERT_EQ(store_account_get(s, "pr_t", "ca_1", &a), 0);
    ASSERT_EQ(a.expires_at, exp + 5000);
    ASSERT(memcmp(a.creds_enc, "\x01" "c2", 3) == 0);
    st_account_clear(&a);
    /* no longer needed: the token expires after expires_before */
    ASSERT_EQ(store_account_refresh_claim(s, "ca_1", "node/b", now, 60000, exp + 5000, &a, NULL),
              STORE_NOTFOUND);
    /* the scheduler leaves it alone until refresh_at */
    char(*ids)[STORE_ID] = NULL;
    size_t n = 9;
    ASSERT_EQ(store_account_refresh_due(s, now + 3600000, now, 10, &ids, &n), 0);
    ASSERT_EQ((int)n, 0);
    free(ids);
    ASSERT_EQ(store_account_refresh_due(s, now + 3600000, exp + 4001, 10, &ids, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT_STR(ids[0], "ca_1");
    free(ids);
    struct st_event *ev = NULL;
    ASSERT_EQ(store_event_list(s, "pr_t", "ca_1", 100, &ev, &n), 0);
    ASSERT_STR(ev[n - 1].type, "account.refreshed");
    for (size_t i = 0; i < n; i++)
        st_event_clear(&ev[i]);
    free(ev);
    cleanup(s);
}

TEST(refresh_failures_soft_then_hard)
{
    struct store *s = open_fresh();
    int64_t now = now_ms();
    make_account(s, "ca_2", now + 1000, 2);
    struct st_account a = {0};
    int failures = 0;
    ASSERT_EQ(store_account_refresh_claim(s, "ca_2", "o", now, 60000, INT64_MAX, &a, NULL), 0);
    st_account_clear(&a);
    ASSERT_EQ(store_account_refresh_fail(s, "ca_2", "other", 0, "x", now + 5000), STORE_NOTFOUND);
    ASSERT_EQ(store_account_refresh_fail(s, "ca_2", "o", 0, "HTTP 500", now + 5000), 0);
    ASSERT_EQ(store_account_refresh_claim(s, "ca_2", "o", now, 60000, INT64_MAX, &a, &failures),
              0);
    st_account_clear(&a);
    ASSERT_EQ(failures, 1);
    ASSERT_EQ(store_account_refresh_fail(s, "ca_2", "o", 1, "invalid_grant", 0), 0);
    ASSERT_EQ(store_account_get(s, "pr_t", "ca_2", &a), 0);
    ASSERT_STR(a.status, "EXPIRED");
    ASSERT_STR(a.status_reason, "invalid_grant");
    st_account_clear(&a);
    ASSERT_EQ(store_account_refresh_claim(s, "ca_2", "o", now, 60000, INT64_MAX, &a, NULL),
              STORE_NOTFOUND);
    cleanup(s);
}

TEST(relink_keeps_the_account)
{
    struct store *s = open_fresh();
    int64_t now = now_ms();
    make_account(s, "ca_3", now + 1000, 3);
    ASSERT_EQ(store_account_transition(s, "ca_3", (const char *const[]){"ACTIVE", NULL},
                                       "EXPIRED", "gone"),
              0);
    struct st_link l = {.expires_at = now + 60000};
    memset(l.token_hash, 33, sizeof l.token_hash);
    snprintf(l.account_id, sizeof l.account_id, "ca_3");
    snprintf(l.project_id, sizeof l.project_id, "pr_t");
    ASSERT_EQ(store_account_relink(s, &l), 0);
    struct st_account a = {0};
    ASSERT_EQ(store_account_get(s, "pr_t", "ca_3", &a), 0);
    ASSERT_STR(a.status, "INITIATED");
    ASSERT_STR(a.alias, "work");
    st_account_clear(&a);
    unsigned char old[STORE_HASH];
    memset(old, 3, sizeof old);
    struct st_link got = {0};
    ASSERT_EQ(store_link_get(s, old, &got), STORE_NOTFOUND);
    ASSERT_EQ(store_link_get(s, l.token_hash, &got), 0);
    st_link_clear(&got);
    /* the new link completes it as usual */
    ASSERT_EQ(store_account_activate(s, "ca_3", (const unsigned char *)"\x01z", 2, NULL, 0), 0);
    snprintf(l.account_id, sizeof l.account_id, "ca_none");
    ASSERT_EQ(store_account_relink(s, &l), STORE_NOTFOUND);
    cleanup(s);
}

static struct st_webhook
endpoint(const char *id, const char *events)
{
    struct st_webhook w = {.url = "http://127.0.0.1:1/h", .events = (char *)events,
                           .secret_enc = (unsigned char *)"\x01sec", .secret_len = 4};
    snprintf(w.id, sizeof w.id, "%s", id);
    snprintf(w.project_id, sizeof w.project_id, "pr_t");
    return w;
}

static void
free_deliveries(struct st_delivery *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        st_delivery_clear(&d[i]);
    free(d);
}

TEST(outbox_order_retry_and_replay)
{
    struct store *s = open_fresh();
    int64_t now = now_ms();
    make_account(s, "ca_4", now + 100000, 4);
    make_account(s, "ca_5", now + 100000, 5);
    struct st_webhook w = endpoint("we_1", "[\"account.disabled\",\"account.deleted\"]");
    ASSERT_EQ(store_webhook_create(s, &w), 0);
    ASSERT_EQ(store_account_set_disabled(s, "pr_t", "ca_4", 1), 0);
    ASSERT_EQ(store_account_set_disabled(s, "pr_t", "ca_4", 0), 0); /* filtered out */
    ASSERT_EQ(store_account_set_disabled(s, "pr_t", "ca_4", 1), 0);
    ASSERT_EQ(store_account_set_disabled(s, "pr_t", "ca_5", 1), 0);
    struct st_delivery *d = NULL;
    size_t n = 0;
    int64_t t = now_ms() + 10;
    ASSERT_EQ(store_delivery_claim(s, "n/w", t, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 2); /* the oldest of each account only */
    ASSERT_STR(d[0].event.account_id, "ca_4");
    ASSERT_STR(d[0].event.type, "account.disabled");
    ASSERT_STR(d[1].event.account_id, "ca_5");
    int64_t first = d[0].seq, other = d[1].seq;
    free_deliveries(d, n);
    /* leased: nothing more to claim, not even by another owner */
    ASSERT_EQ(store_delivery_claim(s, "n/x", t, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 0);
    free(d);
    ASSERT_EQ(store_delivery_finish(s, first, "n/x", 1, 200, NULL, 0), STORE_NOTFOUND);
    ASSERT_EQ(store_delivery_finish(s, first, "n/w", 0, 503, "HTTP 503", t + 1000), 0);
    ASSERT_EQ(store_delivery_finish(s, other, "n/w", 1, 204, NULL, 0), 0);
    ASSERT_EQ(store_delivery_claim(s, "n/w", t, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 0); /* ca_4's first waits for its retry; its second waits behind it */
    free(d);
    ASSERT_EQ(store_delivery_claim(s, "n/w", t + 1001, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT_EQ(d[0].seq, first);
    ASSERT_EQ(d[0].attempts, 1);
    free_deliveries(d, n);
    ASSERT_EQ(store_delivery_finish(s, first, "n/w", 1, 200, NULL, 0), 0);
    ASSERT_EQ(store_delivery_claim(s, "n/w", t + 1001, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT(d[0].seq > first);
    int64_t second = d[0].seq;
    free_deliveries(d, n);
    ASSERT_EQ(store_delivery_finish(s, second, "n/w", 0, 0, "refused", 0), 0); /* gave up */
    ASSERT_EQ(store_delivery_list(s, "pr_t", "we_1", 0, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 3);
    ASSERT_EQ(d[0].seq, other); /* newest first */
    ASSERT_EQ(d[1].seq, second);
    ASSERT_STR(d[1].state, "failed");
    ASSERT_STR(d[2].state, "delivered");
    ASSERT_EQ(d[2].attempts, 2);
    free_deliveries(d, n);
    int64_t fresh = 0;
    ASSERT_EQ(store_delivery_replay(s, "pr_t", second, &fresh), 0);
    ASSERT(fresh > second);
    ASSERT_EQ(store_delivery_replay(s, "pr_other", second, &fresh), STORE_NOTFOUND);
    ASSERT_EQ(store_delivery_claim(s, "n/w", now_ms() + 10, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT_EQ(d[0].seq, fresh);
    free_deliveries(d, n);
    /* delete with detail: the detail travels with the event */
    ASSERT_EQ(store_account_delete_noted(s, "pr_t", "ca_5", "{\"revocation\":{\"ok\":true}}"), 0);
    ASSERT_EQ(store_delivery_claim(s, "n/w", now_ms() + 10, 60000, 10, &d, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT_STR(d[0].event.type, "account.deleted");
    ASSERT(d[0].event.detail != NULL && strstr(d[0].event.detail, "revocation") != NULL);
    free_deliveries(d, n);
    cleanup(s);
}

TEST(webhook_crud_and_rotation)
{
    struct store *s = open_fresh();
    store_project_create(s, "pr_t", "test");
    struct st_webhook w = endpoint("we_2", "[]");
    ASSERT_EQ(store_webhook_create(s, &w), 0);
    ASSERT_EQ(store_webhook_create(s, &w), STORE_CONFLICT);
    w.url = "https://example.test/x";
    w.disabled = 1;
    w.secret_enc = (unsigned char *)"\x01new";
    w.prev_until = 12345;
    ASSERT_EQ(store_webhook_update(s, &w), 0);
    struct st_webhook got = {0};
    ASSERT_EQ(store_webhook_get(s, "pr_t", "we_2", &got), 0);
    ASSERT_STR(got.url, "https://example.test/x");
    ASSERT_EQ(got.disabled, 1);
    ASSERT(memcmp(got.secret_enc, "\x01new", 4) == 0);
    ASSERT(got.prev_secret_enc && memcmp(got.prev_secret_enc, "\x01sec", 4) == 0);
    ASSERT_EQ(got.prev_until, 12345);
    st_webhook_clear(&got);
    struct st_webhook *all = NULL;
    size_t n = 0;
    ASSERT_EQ(store_webhook_list(s, "pr_t", &all, &n), 0);
    ASSERT_EQ((int)n, 1);
    st_webhook_clear(&all[0]);
    free(all);
    ASSERT_EQ(store_webhook_delete(s, "pr_t", "we_2"), 0);
    ASSERT_EQ(store_webhook_delete(s, "pr_t", "we_2"), STORE_NOTFOUND);
    cleanup(s);
}

TEST(sealed_pages_and_compare_and_set)
{
    struct store *s = open_fresh();
    make_account(s, "ca_6", 0, 6);
    make_account(s, "ca_7", 0, 7);
    struct st_sealed *items = NULL;
    size_t n = 0;
    ASSERT_EQ(store_sealed_page(s, SEALED_ACCOUNT, NULL, 0, 1, &items, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT_STR(items[0].ref, "ca_6");
    unsigned char after[STORE_ID];
    size_t after_len = items[0].key_len;
    memcpy(after, items[0].key, after_len);
    unsigned char *fresh[1] = {(unsigned char *)"\x02new"};
    size_t len[1] = {4}, replaced = 9;
    struct st_sealed wrong = items[0];
    wrong.enc = (unsigned char *)"\x01zz";
    ASSERT_EQ(store_sealed_replace(s, SEALED_ACCOUNT, &wrong, fresh, len, 1, &replaced), 0);
    ASSERT_EQ((int)replaced, 0); /* changed meanwhile: left alone */
    ASSERT_EQ(store_sealed_replace(s, SEALED_ACCOUNT, items, fresh, len, 1, &replaced), 0);
    ASSERT_EQ((int)replaced, 1);
    st_sealed_clear(&items[0]);
    free(items);
    ASSERT_EQ(store_sealed_page(s, SEALED_ACCOUNT, after, after_len, 10, &items, &n), 0);
    ASSERT_EQ((int)n, 1);
    ASSERT_STR(items[0].ref, "ca_7");
    st_sealed_clear(&items[0]);
    free(items);
    struct st_account a = {0};
    ASSERT_EQ(store_account_get(s, "pr_t", "ca_6", &a), 0);
    ASSERT(a.creds_len == 4 && memcmp(a.creds_enc, "\x02new", 4) == 0);
    st_account_clear(&a);
    /* links are keyed by their token hash (a blob) */
    ASSERT_EQ(store_sealed_page(s, SEALED_LINK, NULL, 0, 10, &items, &n), 0);
    ASSERT_EQ((int)n, 0); /* no verifier sealed yet */
    free(items);
    cleanup(s);
}

TEST_MAIN()
