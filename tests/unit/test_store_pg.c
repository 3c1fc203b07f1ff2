/* test_store_pg.c -- what only the PostgreSQL backend does: migrations shared by nodes that start
 * together, the events row of every status change (counted in the database), change notices
 * between two stores on one database (LISTEN/NOTIFY) including after a lost connection, the
 * expiry sweep claimed with SKIP LOCKED by two nodes at once, and recovery of pooled connections
 * the server dropped. test_store.c runs the common cases on both backends.
 * Needs TETHER_TEST_DATABASE_URL (a postgres:// URL whose database the tests may empty); without
 * it every case is skipped. */
#include "harness/test.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
pg_url(void)
{
    const char *u = getenv("TETHER_TEST_DATABASE_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* Runs sql on a connection of its own; returns the first value of the first row as a number
 * (0 when there is none). Exits on failure. */
static int64_t
sql_num(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url());
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "sql_num: %s", PQerrorMessage(c));
        exit(2);
    }
    int64_t v = 0;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static void
reset(void)
{
    sql_num("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

static struct store *
open_store(void)
{
    char err[256];
    struct store *s = NULL;
    if (store_open(pg_url(), &s, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    return s;
}

static int
add_account(struct store *s, const char *project, const char *id, unsigned n, int64_t link_expires)
{
    struct st_account a = {0};
    struct st_link l = {0};
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.project_id, sizeof a.project_id, "%s", project);
    snprintf(a.toolkit, sizeof a.toolkit, "gmail");
    snprintf(a.auth_config_id, sizeof a.auth_config_id, "ac_gmail");
    a.user_id = (char *)"u1";
    l.token_hash[0] = 'T';
    memcpy(l.token_hash + 1, &n, sizeof n);
    l.expires_at = link_expires;
    return store_account_create_linked(s, &a, &l);
}

/* ---- migrations ------------------------------------------------------------------------------ */

TEST(pg_migrate_reopen_and_newer_refused)
{
    reset();
    struct store *s = open_store();
    ASSERT_STR(store_backend(s), "postgres");
    ASSERT_EQ(store_project_create(s, "pr_1", "One"), 0);
    store_close(s);
    s = open_store();
    struct st_project p = {0};
    ASSERT_EQ(store_project_get(s, "pr_1", &p), 0);
    ASSERT_STR(p.name, "One");
    st_project_clear(&p);
    store_close(s);
    int64_t n = sql_num("SELECT count(*) FROM schema_version");
    ASSERT(n >= 1);
    ASSERT_EQ(sql_num("SELECT max(version) FROM schema_version"), n);

    sql_num("INSERT INTO schema_version VALUES (9999, 0)");
    char err[256] = "";
    s = NULL;
    ASSERT_EQ(store_open(pg_url(), &s, err, sizeof err), -1);
    ASSERT(strstr(err, "9999") != NULL);
    ASSERT(s == NULL);
}

static void *
open_close(void *arg)
{
    char err[256];
    struct store *s = NULL;
    *(int *)arg = store_open(pg_url(), &s, err, sizeof err);
    if (s != NULL)
        store_close(s);
    return NULL;
}

/* Nodes that start together on an empty database: each migration is applied once. */
TEST(pg_concurrent_first_open)
{
    reset();
    pthread_t th[4];
    int rc[4];
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, open_close, &rc[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(rc[i], 0);
    ASSERT_EQ(sql_num("SELECT count(*) FROM schema_version"),
              sql_num("SELECT max(version) FROM schema_version"));
}

/* Every successful status change has exactly one events row, a refused one none. */
TEST(pg_events_match_changes)
{
    reset();
    struct store *s = open_store();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    int changes = 0;
    const char *const pend[] = {"INITIATED", NULL};
    for (unsigned i = 0; i < 40; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%u", i);
        ASSERT_EQ(add_account(s, "pr_a", id, i, 0), 0);
        changes++;
        if (i % 2 == 0) {
            ASSERT_EQ(store_account_activate(s, id, NULL, 0, NULL, 0), 0);
            changes++;
        }
        int rc = store_account_transition(s, id, pend, "FAILED", "x");
        ASSERT_EQ(rc, i % 2 == 0 ? STORE_NOTFOUND : 0);
        changes += rc == 0;
        if (i % 5 == 0) {
            ASSERT_EQ(store_account_set_disabled(s, "pr_a", id, 1), 0);
            ASSERT_EQ(store_account_set_disabled(s, "pr_a", id, 1), 0); /* no change */
            changes++;
            ASSERT_EQ(store_account_delete(s, "pr_a", id), 0);
            changes++;
        }
    }
    ASSERT_EQ(add_account(s, "pr_a", "ca_1", 999, 0), STORE_CONFLICT);
    ASSERT_EQ(add_account(s, "pr_nope", "ca_x", 998, 0), STORE_NOTFOUND);
    store_close(s);
    ASSERT_EQ(sql_num("SELECT count(*) FROM events"), changes);
    ASSERT_EQ(sql_num("SELECT count(*) FROM accounts WHERE id = 'ca_x'"), 0);
}

/* ---- change notices -------------------------------------------------------------------------- */

struct heard {
    pthread_mutex_t mu;
    char ids[64][STORE_ID];
    int64_t at_us[64];
    int n;
};

static void
on_change(void *arg, const char *account_id)
{
    struct heard *h = arg;
    pthread_mutex_lock(&h->mu);
    if (h->n < 64) {
        snprintf(h->ids[h->n], STORE_ID, "%s", account_id);
        h->at_us[h->n++] = time_mono_us();
    }
    pthread_mutex_unlock(&h->mu);
}

/* Waits up to ms for id to be heard; its time (µs) or -1. */
static int64_t
heard_wait(struct heard *h, const char *id, int ms)
{
    for (int waited = 0; waited <= ms; waited += 5) {
        pthread_mutex_lock(&h->mu);
        for (int i = 0; i < h->n; i++) {
            if (strcmp(h->ids[i], id) == 0) {
                int64_t at = h->at_us[i];
                pthread_mutex_unlock(&h->mu);
                return at;
            }
        }
        pthread_mutex_unlock(&h->mu);
        usleep(5000);
    }
    return -1;
}

TEST(pg_listen_hears_other_node)
{
    reset();
    struct store *a = open_store(), *b = open_store();
    struct heard h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ASSERT_EQ(store_listen(a, on_change, &h), 0);
    ASSERT_EQ(store_listen(a, on_change, &h), -1); /* once */
    usleep(200 * 1000);                            /* the LISTEN is in place */
    ASSERT_EQ(store_project_create(b, "pr_a", "A"), 0);
    ASSERT_EQ(add_account(b, "pr_a", "ca_quiet", 1, 0), 0);
    ASSERT_EQ(add_account(b, "pr_a", "ca_1", 2, 0), 0);
    int64_t t0 = time_mono_us();
    ASSERT_EQ(store_account_activate(b, "ca_1", NULL, 0, NULL, 0), 0);
    int64_t at = heard_wait(&h, "ca_1", 3000);
    ASSERT(at > 0);
    fprintf(stderr, "  notice heard %.2f ms after the commit returned\n",
            (double)(at - t0) / 1000.0);
    ASSERT_EQ(heard_wait(&h, "ca_quiet", 0), -1); /* creation is not announced */
    for (int i = 0; i < 5; i++) {                 /* warm: statements prepared, connections open */
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_w%d", i);
        ASSERT_EQ(add_account(b, "pr_a", id, 10 + (unsigned)i, 0), 0);
        t0 = time_mono_us();
        ASSERT_EQ(store_account_activate(b, id, NULL, 0, NULL, 0), 0);
        at = heard_wait(&h, id, 3000);
        ASSERT(at > 0);
        fprintf(stderr, "  warm notice heard %.2f ms after the commit returned\n",
                (double)(at - t0) / 1000.0);
    }
    const char *const act[] = {"ACTIVE", NULL};
    ASSERT_EQ(store_account_transition(b, "ca_1", act, "EXPIRED", "gone"), 0);
    ASSERT_EQ(store_account_delete(b, "pr_a", "ca_quiet"), 0);
    ASSERT(heard_wait(&h, "ca_quiet", 3000) > 0);
    store_close(b);
    store_close(a);
}

/* A node whose LISTEN connection is cut reconnects and replays what it may have missed. */
TEST(pg_listen_replays_after_reconnect)
{
    reset();
    struct store *a = open_store(), *b = open_store();
    struct heard h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ASSERT_EQ(store_project_create(b, "pr_a", "A"), 0);
    ASSERT_EQ(add_account(b, "pr_a", "ca_1", 1, 0), 0);
    ASSERT_EQ(store_listen(a, on_change, &h), 0);
    usleep(200 * 1000);
    log_set_level(LOG_ERROR);
    ASSERT_EQ(sql_num("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"),
              1);
    ASSERT_EQ(store_account_activate(b, "ca_1", NULL, 0, NULL, 0), 0);
    ASSERT(heard_wait(&h, "ca_1", 8000) > 0);
    log_set_level(LOG_WARN);
    store_close(b);
    store_close(a);
}

/* ---- background work shared by nodes --------------------------------------------------------- */

struct sweep {
    struct store *s;
    char (*ids)[STORE_ID];
    size_t n;
    int rc;
};

static void *
sweep_main(void *arg)
{
    struct sweep *w = arg;
    w->rc = store_account_expire_due(w->s, 1000000, &w->ids, &w->n);
    return NULL;
}

static int
cmp_id(const void *x, const void *y)
{
    return strcmp(x, y);
}

TEST(pg_expire_sweep_claimed_once)
{
    reset();
    struct store *a = open_store(), *b = open_store();
    ASSERT_EQ(store_project_create(a, "pr_a", "A"), 0);
    PGconn *c = PQconnectdb(pg_url());
    /* 1600 due accounts, inserted in bulk */
    PGresult *r = PQexec(c, "INSERT INTO accounts (id, project_id, user_id, toolkit, "
                            "auth_config_id, status, created_at, updated_at, pending_expires_at) "
                            "SELECT 'ca_' || i, 'pr_a', 'u', 'gmail', 'ac', 'INITIATED', 1, 1, "
                            "500 + i FROM generate_series(1, 1600) i");
    ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    struct sweep w[2] = {{.s = a}, {.s = b}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, sweep_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ(w[0].rc, 0);
    ASSERT_EQ(w[1].rc, 0);
    fprintf(stderr, "  node A expired %zu, node B %zu\n", w[0].n, w[1].n);
    ASSERT_EQ(w[0].n + w[1].n, 1600);
    char(*all)[STORE_ID] = calloc(1600, STORE_ID);
    ASSERT(all != NULL);
    memcpy(all, w[0].ids, w[0].n * STORE_ID);
    memcpy(all[w[0].n], w[1].ids, w[1].n * STORE_ID);
    qsort(all, 1600, STORE_ID, cmp_id);
    int dups = 0;
    for (int i = 1; i < 1600; i++)
        dups += strcmp(all[i - 1], all[i]) == 0;
    free(all);
    free(w[0].ids);
    free(w[1].ids);
    ASSERT_EQ(dups, 0);
    ASSERT_EQ(sql_num("SELECT count(*) FROM events WHERE type = 'account.expired'"), 1600);
    ASSERT_EQ(sql_num("SELECT count(*) FROM accounts WHERE status = 'EXPIRED'"), 1600);
    store_close(b);
    store_close(a);
}

/* The server drops every pooled connection: reads recover on their own. */
TEST(pg_pool_survives_dropped_connections)
{
    reset();
    struct store *s = open_store();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    log_set_level(LOG_ERROR + 1);
    sql_num("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    struct st_project p = {0};
    for (int i = 0; i < 8; i++) {
        ASSERT_EQ(store_project_get(s, "pr_a", &p), 0);
        st_project_clear(&p);
    }
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    log_set_level(LOG_WARN);
    store_close(s);
}

/* ---- credential lifecycle and webhooks across nodes ------------------------------------------ */

struct claimer {
    struct store *s;
    char owner[32];
    int wins, errors;
};

static void *
claim_main(void *arg)
{
    struct claimer *c = arg;
    for (int i = 0; i < 25; i++) {
        struct st_account a = {0};
        int failures = 0;
        int rc = store_account_refresh_claim(c->s, "ca_r", c->owner, time_now_ms(), 60000,
                                             INT64_MAX, &a, &failures);
        if (rc == 0)
            c->wins++;
        else if (rc != STORE_NOTFOUND)
            c->errors++;
        st_account_clear(&a);
    }
    return NULL;
}

/* 200 claims from two nodes (8 threads): one lease; save releases it with one event. */
TEST(pg_refresh_lease_single_flight)
{
    reset();
    struct store *a = open_store(), *b = open_store();
    ASSERT_EQ(store_project_create(a, "pr_a", "A"), 0);
    ASSERT_EQ(add_account(a, "pr_a", "ca_r", 1, 0), 0);
    ASSERT_EQ(store_account_activate(a, "ca_r", NULL, 0, NULL, 1000), 0);
    struct claimer c[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        c[i] = (struct claimer){.s = i % 2 ? b : a};
        snprintf(c[i].owner, sizeof c[i].owner, "node%d/w%d", i % 2, i);
        ASSERT_EQ(pthread_create(&th[i], NULL, claim_main, &c[i]), 0);
    }
    int wins = 0, errors = 0, winner = -1;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        wins += c[i].wins > 0;
        errors += c[i].errors;
        if (c[i].wins > 0)
            winner = i;
    }
    ASSERT_EQ(errors, 0);
    ASSERT_EQ(wins, 1); /* only one owner ever held it (re-claims by the owner are allowed) */
    unsigned char creds[8] = "newcreds";
    ASSERT_EQ(store_account_refresh_save(b, "ca_r", "someone/else", creds, 8, NULL, 5000, 0),
              STORE_NOTFOUND);
    ASSERT_EQ(
        store_account_refresh_save(b, "ca_r", c[winner].owner, creds, 8, "{\"r\":1}", 5000, 0), 0);
    struct st_account got = {0};
    ASSERT_EQ(store_account_get(a, "pr_a", "ca_r", &got), 0);
    ASSERT_EQ(got.expires_at, 5000);
    ASSERT_STR(got.data, "{\"r\":1}");
    st_account_clear(&got);
    ASSERT_EQ(sql_num("SELECT count(*) FROM events WHERE type = 'account.refreshed'"), 1);
    /* the lease is free again; a soft failure keeps it ACTIVE, a hard one expires it */
    int failures = -1;
    ASSERT_EQ(store_account_refresh_claim(a, "ca_r", "n/1", time_now_ms(), 1000, INT64_MAX, &got,
                                          &failures),
              0);
    st_account_clear(&got);
    ASSERT_EQ(failures, 0);
    ASSERT_EQ(store_account_refresh_fail(a, "ca_r", "n/1", 0, "timeout", 1), 0);
    char(*ids)[STORE_ID] = NULL;
    size_t n = 0;
    ASSERT_EQ(store_account_refresh_due(b, 6000, time_now_ms(), 10, &ids, &n), 0);
    ASSERT_EQ(n, 1);
    free(ids);
    ASSERT_EQ(store_account_refresh_claim(b, "ca_r", "n/2", time_now_ms(), 1000, INT64_MAX, &got,
                                          &failures),
              0);
    st_account_clear(&got);
    ASSERT_EQ(failures, 1);
    ASSERT_EQ(store_account_refresh_fail(b, "ca_r", "n/2", 1, "invalid_grant", 0), 0);
    ASSERT_EQ(store_account_get(a, "pr_a", "ca_r", &got), 0);
    ASSERT_STR(got.status, "EXPIRED");
    ASSERT_STR(got.status_reason, "invalid_grant");
    st_account_clear(&got);

    /* reconnect in place, then a noted delete */
    struct st_link l = {0};
    snprintf(l.account_id, sizeof l.account_id, "ca_r");
    snprintf(l.project_id, sizeof l.project_id, "pr_a");
    l.token_hash[0] = 'R';
    l.expires_at = time_now_ms() + 60000;
    ASSERT_EQ(store_account_relink(a, &l), 0);
    ASSERT_EQ(store_account_get(a, "pr_a", "ca_r", &got), 0);
    ASSERT_STR(got.status, "INITIATED");
    st_account_clear(&got);
    ASSERT_EQ(sql_num("SELECT count(*) FROM links WHERE account_id = 'ca_r'"), 1);
    snprintf(l.project_id, sizeof l.project_id, "pr_zz");
    ASSERT_EQ(store_account_relink(a, &l), STORE_NOTFOUND);
    ASSERT_EQ(store_account_delete_noted(b, "pr_a", "ca_r", "{\"revoked\":true}"), 0);
    ASSERT_EQ(sql_num("SELECT count(*) FROM events WHERE type = 'account.deleted' "
                      "AND detail = '{\"revoked\":true}'"),
              1);
    store_close(b);
    store_close(a);
}

struct dclaimer {
    struct store *s;
    char owner[32];
    int64_t seqs[400];
    int n, errors;
};

static void *
dclaim_main(void *arg)
{
    struct dclaimer *c = arg;
    for (int round = 0; round < 200 && c->n < 400; round++) {
        struct st_delivery *d = NULL;
        size_t n = 0;
        if (store_delivery_claim(c->s, c->owner, time_now_ms(), 60000, 7, &d, &n) != 0) {
            c->errors++;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (c->n < 400)
                c->seqs[c->n++] = d[i].seq;
            if (store_delivery_finish(c->s, d[i].seq, c->owner, 1, 200, NULL, 0) != 0)
                c->errors++;
            st_delivery_clear(&d[i]);
        }
        free(d);
        if (n == 0 && round > 20)
            break;
    }
    return NULL;
}

static int
cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The outbox: events become deliveries; two nodes claim them with no delivery sent twice. */
TEST(pg_webhook_outbox_claimed_once)
{
    reset();
    struct store *a = open_store(), *b = open_store();
    ASSERT_EQ(store_project_create(a, "pr_a", "A"), 0);
    struct st_webhook w = {0};
    unsigned char sec[4] = {1, 2, 3, 4};
    snprintf(w.id, sizeof w.id, "we_1");
    snprintf(w.project_id, sizeof w.project_id, "pr_a");
    w.url = (char *)"https://hooks.example/x";
    w.events = (char *)"[]";
    w.secret_enc = sec;
    w.secret_len = sizeof sec;
    ASSERT_EQ(store_webhook_create(a, &w), 0);
    ASSERT_EQ(store_webhook_create(b, &w), STORE_CONFLICT);
    snprintf(w.id, sizeof w.id, "we_2");
    w.events = (char *)"[\"account.active\"]";
    ASSERT_EQ(store_webhook_create(b, &w), 0);
    w.secret_enc = (unsigned char *)"new!";
    w.prev_until = 77;
    ASSERT_EQ(store_webhook_update(a, &w), 0);
    struct st_webhook got = {0};
    ASSERT_EQ(store_webhook_get(b, "pr_a", "we_2", &got), 0);
    ASSERT_EQ(got.prev_until, 77);
    ASSERT_EQ(got.prev_secret_len, 4);
    ASSERT(memcmp(got.secret_enc, "new!", 4) == 0);
    st_webhook_clear(&got);
    for (unsigned i = 0; i < 100; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%u", i);
        ASSERT_EQ(add_account(a, "pr_a", id, i, 0), 0);
        ASSERT_EQ(store_account_activate(b, id, NULL, 0, NULL, 0), 0);
    }
    /* we_1 takes every event (200), we_2 only account.active (100) */
    ASSERT_EQ(sql_num("SELECT count(*) FROM webhook_deliveries"), 300);
    struct dclaimer c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct dclaimer){.s = i % 2 ? b : a};
        snprintf(c[i].owner, sizeof c[i].owner, "node%d/d%d", i % 2, i);
        ASSERT_EQ(pthread_create(&th[i], NULL, dclaim_main, &c[i]), 0);
    }
    int64_t *all = calloc(1600, sizeof *all);
    int total = 0, errors = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        errors += c[i].errors;
        memcpy(all + total, c[i].seqs, (size_t)c[i].n * sizeof *all);
        total += c[i].n;
    }
    ASSERT_EQ(errors, 0);
    ASSERT_EQ(total, 300);
    qsort(all, (size_t)total, sizeof *all, cmp_i64);
    int dups = 0;
    for (int i = 1; i < total; i++)
        dups += all[i] == all[i - 1];
    free(all);
    ASSERT_EQ(dups, 0);
    ASSERT_EQ(sql_num("SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"), 300);
    struct st_delivery *d = NULL;
    size_t n = 0;
    ASSERT_EQ(store_delivery_list(a, "pr_a", "we_2", 0, 1000, &d, &n), 0);
    ASSERT_EQ(n, 100);
    int64_t first = d[99].seq, again = 0;
    ASSERT_STR(d[0].event.type, "account.active");
    for (size_t i = 0; i < n; i++)
        st_delivery_clear(&d[i]);
    free(d);
    ASSERT_EQ(store_delivery_replay(b, "pr_a", first, &again), 0);
    ASSERT(again > first);
    struct st_delivery one = {0};
    ASSERT_EQ(store_delivery_get(a, "pr_a", again, &one), 0);
    ASSERT_STR(one.state, "pending");
    st_delivery_clear(&one);
    ASSERT_EQ(store_delivery_replay(b, "pr_zz", first, &again), STORE_NOTFOUND);
    ASSERT_EQ(store_webhook_delete(a, "pr_a", "we_1"), 0);
    ASSERT_EQ(sql_num("SELECT count(*) FROM webhook_deliveries"), 101);
    store_close(b);
    store_close(a);
}

/* Key rotation's pages and compare-and-set replacement. */
TEST(pg_sealed_page_and_replace)
{
    reset();
    struct store *s = open_store();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    unsigned char old[3] = {9, 9, 9};
    for (unsigned i = 0; i < 5; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%u", i);
        ASSERT_EQ(add_account(s, "pr_a", id, i, 0), 0);
        ASSERT_EQ(store_account_activate(s, id, old, sizeof old, NULL, 0), 0);
    }
    struct st_sealed *x = NULL;
    size_t n = 0;
    ASSERT_EQ(store_sealed_page(s, SEALED_ACCOUNT, NULL, 0, 3, &x, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STR(x[0].ref, "ca_0");
    struct st_sealed *y = NULL;
    size_t m = 0;
    ASSERT_EQ(store_sealed_page(s, SEALED_ACCOUNT, x[2].key, x[2].key_len, 3, &y, &m), 0);
    ASSERT_EQ(m, 2);
    ASSERT_STR(y[1].ref, "ca_4");
    unsigned char fresh[2] = {1, 1};
    unsigned char *encs[3] = {fresh, fresh, fresh};
    size_t lens[3] = {2, 2, 2};
    ASSERT_EQ(store_account_activate(s, "ca_1", NULL, 0, NULL, 0), STORE_NOTFOUND);
    size_t replaced = 0;
    ASSERT_EQ(store_sealed_replace(s, SEALED_ACCOUNT, x, encs, lens, 3, &replaced), 0);
    ASSERT_EQ(replaced, 3);
    ASSERT_EQ(store_sealed_replace(s, SEALED_ACCOUNT, x, encs, lens, 3, &replaced), 0);
    ASSERT_EQ(replaced, 0); /* no longer the values read */
    for (size_t i = 0; i < n; i++)
        st_sealed_clear(&x[i]);
    for (size_t i = 0; i < m; i++)
        st_sealed_clear(&y[i]);
    free(x);
    free(y);
    ASSERT_EQ(store_sealed_page(s, SEALED_LINK, NULL, 0, 10, &x, &n), 0);
    ASSERT_EQ(n, 0);
    free(x);
    store_close(s);
}

/* ---- tether db copy -------------------------------------------------------------------------- */

TEST(pg_copy_from_sqlite)
{
    reset();
    char dir[] = "/tmp/test_store_pg.XXXXXX", err[512] = "";
    ASSERT(mkdtemp(dir) != NULL);
    struct store *q = NULL;
    ASSERT_EQ(store_open(dir, &q, err, sizeof err), 0);
    ASSERT_EQ(store_project_create(q, "pr_a", "Alpha"), 0);
    unsigned char h[STORE_HASH] = {'K', 1};
    ASSERT_EQ(store_key_create(q, "ak_1", "pr_a", h, "tk_live_Ab"), 0);
    struct st_webhook w = {0};
    unsigned char sec[3] = {1, 2, 3};
    snprintf(w.id, sizeof w.id, "we_1");
    snprintf(w.project_id, sizeof w.project_id, "pr_a");
    w.url = (char *)"https://hooks.example/x";
    w.events = (char *)"[]";
    w.secret_enc = sec;
    w.secret_len = sizeof sec;
    ASSERT_EQ(store_webhook_create(q, &w), 0);
    unsigned char creds[5] = {0, 1, 2, 0, 3};
    for (unsigned i = 0; i < 30; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%u", i);
        ASSERT_EQ(add_account(q, "pr_a", id, i, 0), 0);
        if (i % 2 == 0)
            ASSERT_EQ(store_account_activate(q, id, creds, sizeof creds, "{\"x\":1}", 7), 0);
    }
    store_close(q);

    int64_t rows = 0;
    ASSERT_EQ(store_copy(dir, pg_url(), &rows, err, sizeof err), 0);
    fprintf(stderr, "  copied %lld rows\n", (long long)rows);
    /* 1 project, 1 key, 1 endpoint, 30 accounts, 30 links, 45 events, 45 deliveries */
    ASSERT_EQ(rows, 153);
    ASSERT_EQ(store_copy(dir, pg_url(), &rows, err, sizeof err), -1);
    ASSERT(strstr(err, "already") != NULL);
    ASSERT_EQ(store_copy(pg_url(), pg_url(), &rows, err, sizeof err), -1);

    struct store *s = open_store();
    struct st_api_key k = {0};
    ASSERT_EQ(store_key_lookup(s, h, &k), 0);
    ASSERT_STR(k.project_id, "pr_a");
    struct st_account a = {0};
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_4", &a), 0);
    ASSERT_STR(a.status, "ACTIVE");
    ASSERT_EQ(a.creds_len, sizeof creds);
    ASSERT(memcmp(a.creds_enc, creds, sizeof creds) == 0);
    ASSERT_EQ(a.expires_at, 7);
    st_account_clear(&a);
    unsigned char th[STORE_HASH] = {'T'};
    unsigned n3 = 3;
    memcpy(th + 1, &n3, sizeof n3);
    struct st_link l = {0};
    ASSERT_EQ(store_link_get(s, th, &l), 0);
    ASSERT_STR(l.account_id, "ca_3");
    st_link_clear(&l);
    /* new rows continue after the copied ones */
    ASSERT_EQ(store_account_activate(s, "ca_3", NULL, 0, NULL, 0), 0);
    ASSERT_EQ(sql_num("SELECT max(seq) FROM events"), 46);
    ASSERT_EQ(sql_num("SELECT max(seq) FROM webhook_deliveries"), 46);
    ASSERT_EQ(sql_num("SELECT count(*) FROM webhook_deliveries"), 46);
    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
}

int
main(int argc, char **argv)
{
    if (pg_url() == NULL) {
        printf("0 passed, 0 failed, %d skipped (TETHER_TEST_DATABASE_URL is not set)\n",
               test_count);
        return 0;
    }
    log_set_level(LOG_WARN);
    int passed = 0, nfailed = 0;
    for (int i = 0; i < test_count; i++) {
        if (argc > 1 && strstr(test_cases[i].name, argv[1]) == NULL)
            continue;
        int failed = 0;
        test_cases[i].fn(&failed);
        printf("%s %s\n", failed ? "FAIL" : "ok  ", test_cases[i].name);
        if (failed)
            nfailed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, nfailed);
    return nfailed ? 1 : 0;
}
