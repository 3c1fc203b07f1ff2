/* test_store.c -- the store against a fresh SQLite database in a temporary directory: every call,
 * project isolation, keyset pagination, compare-and-set transitions, single-use states, link
 * expiry, the event log, and concurrent writers and readers. With TETHER_TEST_DATABASE_URL set to
 * a postgres:// URL the same cases run against PostgreSQL, each from an empty schema (the cases
 * that inspect SQLite files pass trivially; test_store_pg.c has their PostgreSQL twins). */
#include "harness/test.h"
#include "common/log.h"
#include "store/store.h"

#include <ftw.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_root[64];

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* atexit: removes the temporary root and everything in it. */
static void
remove_tmp_root(void)
{
    if (tmp_root[0] != '\0')
        nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory under the test's temporary root. */
static void
fresh_dir(char *out, size_t cap)
{
    static int n;
    if (tmp_root[0] == '\0') {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/test_store.XXXXXX");
        if (mkdtemp(tmp_root) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(remove_tmp_root);
        log_set_level(LOG_WARN);
    }
    snprintf(out, cap, "%s/db%d", tmp_root, ++n);
}

/* The PostgreSQL database to test against, or NULL for SQLite. */
static const char *
pg_url(void)
{
    const char *u = getenv("TETHER_TEST_DATABASE_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* Empties the database at url: every table, function and trigger of the schema goes. */
static void
pg_reset(const char *url)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                            "CREATE SCHEMA public");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "pg_reset: %s", PQerrorMessage(c));
        exit(2);
    }
    PQclear(r);
    PQfinish(c);
}

static struct store *
open_fresh(void)
{
    char dir[128], err[256];
    struct store *s = NULL;
    fresh_dir(dir, sizeof dir);
    if (pg_url() != NULL)
        pg_reset(pg_url());
    if (store_open(pg_url() != NULL ? pg_url() : dir, &s, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    return s;
}

static void
hash_of(unsigned char h[STORE_HASH], unsigned v, unsigned char kind)
{
    memset(h, 0, STORE_HASH);
    h[0] = kind;
    for (int i = 0; i < 4; i++)
        h[1 + i] = (unsigned char)(v >> (8 * i));
}

/* A pending account with a link that expires at link_expires (token hash from n). */
static int
add_account(struct store *s, const char *project, const char *id, const char *user,
            const char *toolkit, int64_t created_at, unsigned n, int64_t link_expires)
{
    struct st_account a = {0};
    struct st_link l = {0};
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.project_id, sizeof a.project_id, "%s", project);
    snprintf(a.toolkit, sizeof a.toolkit, "%s", toolkit);
    snprintf(a.auth_config_id, sizeof a.auth_config_id, "ac_%s", toolkit);
    snprintf(a.word_id, sizeof a.word_id, "%s_red-castle", toolkit);
    a.user_id = (char *)user;
    a.created_at = created_at;
    hash_of(l.token_hash, n, 'T');
    l.expires_at = link_expires;
    l.callback_url = (char *)"https://app.example/done?x=1";
    return store_account_create_linked(s, &a, &l);
}

static int64_t
event_count(struct store *s, const char *project, const char *account)
{
    struct st_event *ev = NULL;
    size_t n = 0;
    if (store_event_list(s, project, account, 1000, &ev, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        st_event_clear(&ev[i]);
    free(ev);
    return (int64_t)n;
}

/* The type of the account's last event, into out. */
static void
last_event(struct store *s, const char *project, const char *account, char out[32])
{
    struct st_event *ev = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (store_event_list(s, project, account, 1000, &ev, &n) != 0 || n == 0)
        return;
    snprintf(out, 32, "%s", ev[n - 1].type);
    for (size_t i = 0; i < n; i++)
        st_event_clear(&ev[i]);
    free(ev);
}

/* ---- open and migrations ------------------------------------------------------------------- */

TEST(store_open_migrate_reopen)
{
    char dir[128], url[160], err[256], path[200];
    struct store *s = NULL;
    if (pg_url() != NULL)
        return; /* SQLite files */
    fresh_dir(dir, sizeof dir);
    snprintf(url, sizeof url, "sqlite:%s/nested/deeper", dir);
    ASSERT_EQ(store_open(url, &s, err, sizeof err), 0);
    ASSERT_STR(store_backend(s), "sqlite");
    ASSERT_EQ(store_project_create(s, "pr_1", "One"), 0);
    store_close(s);

    snprintf(path, sizeof path, "%s/nested/deeper", dir);
    struct stat sb;
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/nested/deeper/tether.db", dir);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0077, 0);

    /* Reopen by plain directory: migrations are not run twice, data is kept. */
    snprintf(url, sizeof url, "%s/nested/deeper", dir);
    ASSERT_EQ(store_open(url, &s, err, sizeof err), 0);
    struct st_project p = {0};
    ASSERT_EQ(store_project_get(s, "pr_1", &p), 0);
    ASSERT_STR(p.name, "One");
    st_project_clear(&p);
    store_close(s);

    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &st, NULL),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
    ASSERT(sqlite3_column_int(st, 0) >= 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST(store_open_refuses)
{
    char err[256] = "";
    struct store *s = NULL;
    ASSERT_EQ(store_open("postgres://u@127.0.0.1:1/tether?connect_timeout=2", &s, err, sizeof err),
              -1);
    ASSERT(strstr(err, "PostgreSQL") != NULL);
    ASSERT_EQ(store_open("sqlite:", &s, err, sizeof err), -1);
    ASSERT_EQ(store_open("/dev/null/x", &s, err, sizeof err), -1);
    ASSERT(err[0] != '\0');
    ASSERT(s == NULL);
}

TEST(store_open_newer_schema_refused)
{
    char dir[128], path[200], err[256] = "";
    struct store *s = NULL;
    if (pg_url() != NULL)
        return; /* SQLite files */
    fresh_dir(dir, sizeof dir);
    ASSERT_EQ(store_open(dir, &s, err, sizeof err), 0);
    store_close(s);
    snprintf(path, sizeof path, "%s/tether.db", dir);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (9999, 0)", NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    ASSERT_EQ(store_open(dir, &s, err, sizeof err), -1);
    ASSERT(strstr(err, "9999") != NULL);
}

/* ---- projects and keys ----------------------------------------------------------------------- */

static void
count_project(void *arg, const struct st_project *p)
{
    (*(int *)arg)++;
}

TEST(store_projects)
{
    struct store *s = open_fresh();
    struct st_project p = {0};
    ASSERT_EQ(store_project_first(s, &p), STORE_NOTFOUND);
    ASSERT_EQ(store_project_create(s, "pr_a", "Alpha"), 0);
    usleep(2000);
    ASSERT_EQ(store_project_create(s, "pr_b", "Beta"), 0);
    ASSERT_EQ(store_project_create(s, "pr_a", "Again"), STORE_CONFLICT);
    ASSERT_EQ(store_project_get(s, "pr_zz", &p), STORE_NOTFOUND);
    ASSERT_EQ(store_project_first(s, &p), 0);
    ASSERT_STR(p.id, "pr_a");
    ASSERT_STR(p.settings, "{}");
    ASSERT(p.created_at > 0);
    st_project_clear(&p);
    ASSERT_EQ(store_project_set_settings(s, "pr_b", "{\"callback_origins\":[]}"), 0);
    ASSERT_EQ(store_project_set_settings(s, "pr_zz", "{}"), STORE_NOTFOUND);
    ASSERT_EQ(store_project_get(s, "pr_b", &p), 0);
    ASSERT_STR(p.settings, "{\"callback_origins\":[]}");
    st_project_clear(&p);
    int n = 0;
    ASSERT_EQ(store_project_each(s, count_project, &n), 0);
    ASSERT_EQ(n, 2);
    st_project_clear(&p); /* safe twice */
    store_close(s);
}

struct key_seen {
    int n;
    int revoked;
};

static void
see_key(void *arg, const struct st_api_key *k)
{
    struct key_seen *ks = arg;
    ks->n++;
    if (k->revoked_at != 0)
        ks->revoked++;
}

TEST(store_keys)
{
    struct store *s = open_fresh();
    unsigned char h1[STORE_HASH], h2[STORE_HASH], h3[STORE_HASH];
    hash_of(h1, 1, 'K');
    hash_of(h2, 2, 'K');
    hash_of(h3, 3, 'K');
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    ASSERT_EQ(store_key_create(s, "ak_1", "pr_a", h1, "tk_live_Ab12"), 0);
    ASSERT_EQ(store_key_create(s, "ak_2", "pr_b", h2, "tk_live_Cd34"), 0);
    ASSERT_EQ(store_key_create(s, "ak_3", "pr_a", h1, "tk_live_Ab12"), STORE_CONFLICT);
    ASSERT_EQ(store_key_create(s, "ak_4", "pr_nope", h3, "tk_live_x"), STORE_NOTFOUND);

    struct st_api_key k = {0};
    ASSERT_EQ(store_key_lookup(s, h1, &k), 0);
    ASSERT_STR(k.id, "ak_1");
    ASSERT_STR(k.project_id, "pr_a");
    ASSERT_STR(k.hint, "tk_live_Ab12");
    ASSERT_EQ(k.revoked_at, 0);
    ASSERT_EQ(store_key_lookup(s, h3, &k), STORE_NOTFOUND);

    /* Project B cannot revoke project A's key. */
    ASSERT_EQ(store_key_revoke(s, "pr_b", "ak_1"), STORE_NOTFOUND);
    ASSERT_EQ(store_key_lookup(s, h1, &k), 0);
    ASSERT_EQ(store_key_revoke(s, "pr_a", "ak_1"), 0);
    ASSERT_EQ(store_key_revoke(s, "pr_a", "ak_1"), 0); /* idempotent */
    ASSERT_EQ(store_key_lookup(s, h1, &k), STORE_NOTFOUND);

    struct key_seen ks = {0};
    ASSERT_EQ(store_key_each(s, "pr_a", see_key, &ks), 0);
    ASSERT_EQ(ks.n, 1);
    ASSERT_EQ(ks.revoked, 1);
    store_close(s);
}

TEST(store_managed_apps)
{
    struct store *s = open_fresh();
    struct st_managed_app a = {0}, got = {0};
    unsigned char sec[40];
    memset(sec, 7, sizeof sec);
    snprintf(a.toolkit, sizeof a.toolkit, "gmail");
    a.client_id = (char *)"cid-1";
    a.secret_enc = sec;
    a.secret_len = sizeof sec;
    ASSERT_EQ(store_managed_app_get(s, "gmail", &got), STORE_NOTFOUND);
    ASSERT_EQ(store_managed_app_set(s, &a), 0);
    ASSERT_EQ(store_managed_app_get(s, "gmail", &got), 0);
    ASSERT_STR(got.client_id, "cid-1");
    ASSERT_EQ(got.secret_len, sizeof sec);
    ASSERT(memcmp(got.secret_enc, sec, sizeof sec) == 0);
    ASSERT(got.scopes == NULL);
    st_managed_app_clear(&got);
    a.client_id = (char *)"cid-2";
    a.scopes = (char *)"[\"email\"]";
    ASSERT_EQ(store_managed_app_set(s, &a), 0);
    ASSERT_EQ(store_managed_app_get(s, "gmail", &got), 0);
    ASSERT_STR(got.client_id, "cid-2");
    ASSERT_STR(got.scopes, "[\"email\"]");
    st_managed_app_clear(&got);
    store_close(s);
}

/* ---- auth configs ---------------------------------------------------------------------------- */

static int
add_config(struct store *s, const char *project, const char *id, const char *toolkit,
           const char *name, int managed, int64_t created_at)
{
    struct st_auth_config c = {0};
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.project_id, sizeof c.project_id, "%s", project);
    snprintf(c.toolkit, sizeof c.toolkit, "%s", toolkit);
    snprintf(c.auth_scheme, sizeof c.auth_scheme, "OAUTH2");
    snprintf(c.name, sizeof c.name, "%s", name);
    c.is_managed = managed;
    c.created_at = created_at;
    if (!managed) {
        static unsigned char sec[] = {1, 2, 3};
        c.client_id = (char *)"my-client";
        c.secret_enc = sec;
        c.secret_len = sizeof sec;
    }
    return store_auth_config_create(s, &c);
}

TEST(store_auth_configs)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    ASSERT_EQ(add_config(s, "pr_a", "ac_1", "gmail", "Gmail managed", 1, 1000), 0);
    ASSERT_EQ(add_config(s, "pr_a", "ac_2", "gmail", "My Gmail app", 0, 2000), 0);
    ASSERT_EQ(add_config(s, "pr_a", "ac_3", "github", "GitHub", 1, 3000), 0);
    ASSERT_EQ(add_config(s, "pr_b", "ac_4", "gmail", "B's gmail", 1, 4000), 0);
    ASSERT_EQ(add_config(s, "pr_a", "ac_1", "gmail", "dup", 1, 1000), STORE_CONFLICT);

    struct st_auth_config c = {0};
    ASSERT_EQ(store_auth_config_get(s, "pr_a", "ac_2", &c), 0);
    ASSERT_STR(c.client_id, "my-client");
    ASSERT_EQ(c.secret_len, 3);
    ASSERT_STR(c.extra, "{}");
    ASSERT_EQ(c.is_managed, 0);
    ASSERT_EQ(c.connections, 0);
    st_auth_config_clear(&c);
    ASSERT_EQ(store_auth_config_get(s, "pr_b", "ac_2", &c), STORE_NOTFOUND);

    ASSERT_EQ(store_auth_config_newest(s, "pr_a", "gmail", -1, &c), 0);
    ASSERT_STR(c.id, "ac_2");
    st_auth_config_clear(&c);
    ASSERT_EQ(store_auth_config_newest(s, "pr_a", "gmail", 1, &c), 0);
    ASSERT_STR(c.id, "ac_1");
    st_auth_config_clear(&c);
    ASSERT_EQ(store_auth_config_set_disabled(s, "pr_a", "ac_2", 1), 0);
    ASSERT_EQ(store_auth_config_set_disabled(s, "pr_b", "ac_1", 1), STORE_NOTFOUND);
    ASSERT_EQ(store_auth_config_newest(s, "pr_a", "gmail", 0, &c), STORE_NOTFOUND);
    ASSERT_EQ(store_auth_config_newest(s, "pr_a", "gmail", -1, &c), 0);
    ASSERT_STR(c.id, "ac_1");
    st_auth_config_clear(&c);

    /* get leaves connections out (it is on the connection path); the list counts them */
    ASSERT_EQ(add_account(s, "pr_a", "ca_1", "u1", "gmail", 0, 1, 0), 0);
    ASSERT_EQ(store_auth_config_get(s, "pr_a", "ac_gmail", &c), STORE_NOTFOUND);
    ASSERT_EQ(add_config(s, "pr_a", "ac_gmail", "gmail", "counted", 1, 5000), 0);
    ASSERT_EQ(store_auth_config_get(s, "pr_a", "ac_gmail", &c), 0);
    ASSERT_EQ(c.connections, 0);
    st_auth_config_clear(&c);
    struct st_auth_config_query cq = {.project_id = "pr_a", .toolkit = "gmail", .managed = -1,
                                      .limit = 10};
    struct st_auth_config_page cp = {0};
    ASSERT_EQ(store_auth_config_list(s, &cq, &cp), 0);
    int64_t counted = -1;
    for (size_t i = 0; i < cp.n; i++)
        if (strcmp(cp.items[i].id, "ac_gmail") == 0)
            counted = cp.items[i].connections;
    st_auth_config_page_clear(&cp);
    ASSERT_EQ(counted, 1);

    struct st_auth_config_query q = {.project_id = "pr_a", .managed = -1, .limit = 2};
    struct st_auth_config_page pg = {0};
    ASSERT_EQ(store_auth_config_list(s, &q, &pg), 0);
    ASSERT_EQ(pg.total, 3); /* ac_2 is disabled */
    ASSERT_EQ(pg.n, 2);
    ASSERT_STR(pg.items[0].id, "ac_gmail");
    ASSERT_STR(pg.items[1].id, "ac_3");
    ASSERT(pg.next_cursor[0] != '\0');
    char cursor[STORE_ID];
    memcpy(cursor, pg.next_cursor, sizeof cursor);
    st_auth_config_page_clear(&pg);
    q.cursor = cursor;
    ASSERT_EQ(store_auth_config_list(s, &q, &pg), 0);
    ASSERT_EQ(pg.n, 1);
    ASSERT_STR(pg.items[0].id, "ac_1");
    ASSERT_STR(pg.next_cursor, "");
    st_auth_config_page_clear(&pg);

    struct st_auth_config_query q2 = {
        .project_id = "pr_a", .managed = 0, .show_disabled = 1, .toolkit = "gmail", .limit = 10};
    ASSERT_EQ(store_auth_config_list(s, &q2, &pg), 0);
    ASSERT_EQ(pg.total, 1);
    ASSERT_STR(pg.items[0].id, "ac_2");
    st_auth_config_page_clear(&pg);
    struct st_auth_config_query q3 = {
        .project_id = "pr_a", .managed = -1, .show_disabled = 1, .search = "GITH", .limit = 10};
    ASSERT_EQ(store_auth_config_list(s, &q3, &pg), 0);
    ASSERT_EQ(pg.total, 1);
    ASSERT_STR(pg.items[0].id, "ac_3");
    st_auth_config_page_clear(&pg);
    q3.cursor = "not a cursor!";
    ASSERT_EQ(store_auth_config_list(s, &q3, &pg), STORE_NOTFOUND);

    ASSERT_EQ(store_auth_config_delete(s, "pr_b", "ac_3"), STORE_NOTFOUND);
    ASSERT_EQ(store_auth_config_delete(s, "pr_a", "ac_3"), 0);
    ASSERT_EQ(store_auth_config_get(s, "pr_a", "ac_3", &c), STORE_NOTFOUND);
    store_close(s);
}

/* ---- sessions -------------------------------------------------------------------------------- */

TEST(store_sessions)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    struct st_session x = {0}, got = {0};
    snprintf(x.id, sizeof x.id, "trs_1");
    snprintf(x.project_id, sizeof x.project_id, "pr_a");
    x.user_id = (char *)"user_123";
    x.config = (char *)"{\"toolkits\":[\"gmail\"]}";
    ASSERT_EQ(store_session_create(s, &x), 0);
    ASSERT_EQ(store_session_create(s, &x), STORE_CONFLICT);
    ASSERT_EQ(store_session_get(s, "pr_a", "trs_1", &got), 0);
    ASSERT_STR(got.user_id, "user_123");
    ASSERT_EQ(got.version, 1);
    st_session_clear(&got);
    ASSERT_EQ(store_session_get(s, "pr_b", "trs_1", &got), STORE_NOTFOUND);
    ASSERT_EQ(store_session_update(s, "pr_b", "trs_1", "{}", &got), STORE_NOTFOUND);
    ASSERT_EQ(store_session_update(s, "pr_a", "trs_1", "{\"v\":2}", &got), 0);
    ASSERT_EQ(got.version, 2);
    ASSERT_STR(got.config, "{\"v\":2}");
    ASSERT_STR(got.user_id, "user_123");
    st_session_clear(&got);
    ASSERT_EQ(store_session_update(s, "pr_a", "trs_1", "{\"v\":3}", NULL), 0);
    ASSERT_EQ(store_session_get(s, "pr_a", "trs_1", &got), 0);
    ASSERT_EQ(got.version, 3);
    st_session_clear(&got);
    ASSERT_EQ(store_session_delete(s, "pr_b", "trs_1"), STORE_NOTFOUND);
    ASSERT_EQ(store_session_delete(s, "pr_a", "trs_1"), 0);
    ASSERT_EQ(store_session_delete(s, "pr_a", "trs_1"), STORE_NOTFOUND);
    store_close(s);
}

/* ---- accounts, links, events ---------------------------------------------------------------- */

TEST(store_account_lifecycle)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_1", "u1", "gmail", 0, 1, INT64_MAX / 2), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_1", "u1", "gmail", 0, 2, 0), STORE_CONFLICT);
    ASSERT_EQ(add_account(s, "pr_a", "ca_2", "u1", "gmail", 0, 1, 0), STORE_CONFLICT); /* link */
    ASSERT_EQ(add_account(s, "pr_nope", "ca_3", "u1", "gmail", 0, 3, 0), STORE_NOTFOUND);

    struct st_account a = {0};
    ASSERT_EQ(store_account_get(s, "pr_b", "ca_1", &a), STORE_NOTFOUND);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_2", &a), STORE_NOTFOUND);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_1", &a), 0);
    ASSERT_STR(a.status, "INITIATED");
    ASSERT_STR(a.user_id, "u1");
    ASSERT_STR(a.data, "{}");
    ASSERT_STR(a.word_id, "gmail_red-castle");
    ASSERT(a.creds_enc == NULL);
    ASSERT(a.status_reason == NULL);
    ASSERT_EQ(a.connected_at, 0);
    st_account_clear(&a);
    ASSERT_EQ(store_account_get_any(s, "ca_1", &a), 0);
    ASSERT_STR(a.project_id, "pr_a");
    st_account_clear(&a);

    unsigned char th[STORE_HASH];
    hash_of(th, 1, 'T');
    struct st_link l = {0};
    ASSERT_EQ(store_link_get(s, th, &l), 0);
    ASSERT_STR(l.account_id, "ca_1");
    ASSERT_STR(l.project_id, "pr_a");
    ASSERT_STR(l.callback_url, "https://app.example/done?x=1");
    ASSERT_EQ(l.has_state, 0);
    ASSERT_EQ(l.used_at, 0);
    st_link_clear(&l);

    unsigned char creds[64];
    memset(creds, 0xAB, sizeof creds);
    ASSERT_EQ(store_account_activate(s, "ca_1", creds, sizeof creds, "{\"scopes\":\"x\"}", 99), 0);
    ASSERT_EQ(store_account_activate(s, "ca_1", creds, sizeof creds, NULL, 0), STORE_NOTFOUND);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_1", &a), 0);
    ASSERT_STR(a.status, "ACTIVE");
    ASSERT_EQ(a.creds_len, sizeof creds);
    ASSERT(memcmp(a.creds_enc, creds, sizeof creds) == 0);
    ASSERT_STR(a.data, "{\"scopes\":\"x\"}");
    ASSERT_EQ(a.expires_at, 99);
    ASSERT(a.connected_at > 0);
    st_account_clear(&a);
    char type[32];
    last_event(s, "pr_a", "ca_1", type);
    ASSERT_STR(type, "account.active");

    /* disable / enable */
    ASSERT_EQ(store_account_set_disabled(s, "pr_b", "ca_1", 1), STORE_NOTFOUND);
    ASSERT_EQ(store_account_set_disabled(s, "pr_a", "ca_1", 1), 0);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_1", &a), 0);
    ASSERT_STR(a.status, "INACTIVE");
    ASSERT_EQ(a.is_disabled, 1);
    st_account_clear(&a);
    last_event(s, "pr_a", "ca_1", type);
    ASSERT_STR(type, "account.disabled");
    int64_t before = event_count(s, "pr_a", "ca_1");
    ASSERT_EQ(store_account_set_disabled(s, "pr_a", "ca_1", 1), 0); /* no change, no event */
    ASSERT_EQ(event_count(s, "pr_a", "ca_1"), before);
    ASSERT_EQ(store_account_set_disabled(s, "pr_a", "ca_1", 0), 0);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_1", &a), 0);
    ASSERT_STR(a.status, "ACTIVE");
    ASSERT_EQ(a.is_disabled, 0);
    st_account_clear(&a);
    last_event(s, "pr_a", "ca_1", type);
    ASSERT_STR(type, "account.enabled");

    /* compare-and-set */
    const char *const from_pending[] = {"INITIATED", "INITIALIZING", NULL};
    const char *const from_active[] = {"ACTIVE", NULL};
    before = event_count(s, "pr_a", "ca_1");
    ASSERT_EQ(store_account_transition(s, "ca_1", from_pending, "FAILED", "nope"), STORE_NOTFOUND);
    ASSERT_EQ(event_count(s, "pr_a", "ca_1"), before);
    ASSERT_EQ(store_account_transition(s, "ca_1", from_active, "EXPIRED", "refresh failed"), 0);
    ASSERT_EQ(store_account_transition(s, "ca_1", from_active, "EXPIRED", "again"), STORE_NOTFOUND);
    ASSERT_EQ(store_account_transition(s, "ca_nope", from_active, "EXPIRED", NULL), STORE_NOTFOUND);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_1", &a), 0);
    ASSERT_STR(a.status, "EXPIRED");
    ASSERT_STR(a.status_reason, "refresh failed");
    st_account_clear(&a);
    ASSERT_EQ(event_count(s, "pr_a", "ca_1"), before + 1);

    struct st_event *ev = NULL;
    size_t n = 0;
    ASSERT_EQ(store_event_list(s, "pr_a", "ca_1", 100, &ev, &n), 0);
    ASSERT_EQ(n, 5);
    ASSERT_STR(ev[0].type, "account.initiated");
    ASSERT_STR(ev[0].status, "INITIATED");
    ASSERT_STR(ev[4].type, "account.expired");
    ASSERT_STR(ev[4].reason, "refresh failed");
    ASSERT(ev[0].seq < ev[4].seq);
    for (size_t i = 0; i < n; i++)
        st_event_clear(&ev[i]);
    free(ev);
    ASSERT_EQ(store_event_list(s, "pr_b", "ca_1", 100, &ev, &n), 0);
    ASSERT_EQ(n, 0);
    free(ev);

    /* delete keeps the events and drops the link */
    ASSERT_EQ(store_account_delete(s, "pr_b", "ca_1"), STORE_NOTFOUND);
    ASSERT_EQ(store_account_delete(s, "pr_a", "ca_1"), 0);
    ASSERT_EQ(store_account_delete(s, "pr_a", "ca_1"), STORE_NOTFOUND);
    ASSERT_EQ(store_account_get_any(s, "ca_1", &a), STORE_NOTFOUND);
    ASSERT_EQ(store_link_get(s, th, &l), STORE_NOTFOUND);
    last_event(s, "pr_a", "ca_1", type);
    ASSERT_STR(type, "account.deleted");
    store_close(s);
}

TEST(store_active_for_user)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    const char *ids[] = {"ca_1", "ca_2", "ca_3", "ca_4"};
    for (unsigned i = 0; i < 4; i++)
        ASSERT_EQ(add_account(s, "pr_a", ids[i], "u1", "gmail", 0, i + 1, 0), 0);
    ASSERT_EQ(add_account(s, "pr_b", "ca_9", "u1", "gmail", 0, 9, 0), 0);
    /* activate 3, 1, 2 in that order; 4 stays pending; 2 gets disabled */
    ASSERT_EQ(store_account_activate(s, "ca_3", NULL, 0, NULL, 0), 0);
    usleep(3000);
    ASSERT_EQ(store_account_activate(s, "ca_1", NULL, 0, NULL, 0), 0);
    usleep(3000);
    ASSERT_EQ(store_account_activate(s, "ca_2", NULL, 0, NULL, 0), 0);
    ASSERT_EQ(store_account_activate(s, "ca_9", NULL, 0, NULL, 0), 0);
    ASSERT_EQ(store_account_set_disabled(s, "pr_a", "ca_2", 1), 0);
    struct st_account_page pg = {0};
    ASSERT_EQ(store_account_active_for_user(s, "pr_a", "u1", &pg), 0);
    ASSERT_EQ(pg.n, 2);
    ASSERT_EQ(pg.total, 2);
    ASSERT_STR(pg.items[0].id, "ca_1");
    ASSERT_STR(pg.items[1].id, "ca_3");
    st_account_page_clear(&pg);
    ASSERT_EQ(store_account_active_for_user(s, "pr_a", "u2", &pg), 0);
    ASSERT_EQ(pg.n, 0);
    st_account_page_clear(&pg);
    store_close(s);
}

struct counts {
    int64_t active, initiated, other;
};

static void
see_count(void *arg, const char *status, int64_t n)
{
    struct counts *c = arg;
    if (strcmp(status, "ACTIVE") == 0)
        c->active += n;
    else if (strcmp(status, "INITIATED") == 0)
        c->initiated += n;
    else
        c->other += n;
}

/* Walks every page of q; checks order, no repeats, and that the pages add up to total. */
static int
walk_pages(struct store *s, struct st_account_query q, int64_t expect_total)
{
    char cursor[STORE_ID] = "";
    int64_t seen = 0, prev_created = q.order_asc ? INT64_MIN : INT64_MAX;
    char prev_id[STORE_ID] = "";
    for (int pages = 0; pages < 1000; pages++) {
        struct st_account_page pg = {0};
        q.cursor = cursor[0] ? cursor : NULL;
        if (store_account_list(s, &q, &pg) != 0)
            return -1;
        if (pg.total != expect_total)
            return -2;
        for (size_t i = 0; i < pg.n; i++) {
            const struct st_account *a = &pg.items[i];
            int cmp = a->created_at == prev_created ? strcmp(a->id, prev_id)
                                                    : (a->created_at > prev_created ? 1 : -1);
            if (seen > 0 && (q.order_asc ? cmp <= 0 : cmp >= 0))
                return -3;
            prev_created = a->created_at;
            snprintf(prev_id, sizeof prev_id, "%s", a->id);
            seen++;
        }
        if ((int)pg.n > q.limit)
            return -4;
        snprintf(cursor, sizeof cursor, "%s", pg.next_cursor);
        st_account_page_clear(&pg);
        if (cursor[0] == '\0')
            break;
    }
    return seen == expect_total ? 0 : -5;
}

TEST(store_account_pagination)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    const char *toolkits[] = {"gmail", "github", "slack"};
    const char *users[] = {"alice", "bob"};
    for (unsigned i = 0; i < 250; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%04u", (i * 7919) % 1000); /* ids not in time order */
        /* ten accounts share each created_at, so ties are broken by id */
        ASSERT_EQ(add_account(s, "pr_a", id, users[i % 2], toolkits[i % 3], 1000 + i / 10, i, 0),
                  0);
        if (i % 4 == 0)
            ASSERT_EQ(store_account_activate(s, id, NULL, 0, NULL, 0), 0);
    }
    for (unsigned i = 0; i < 5; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_b%u", i);
        ASSERT_EQ(add_account(s, "pr_b", id, "alice", "gmail", 1000, 10000 + i, 0), 0);
    }

    struct st_account_query q = {.project_id = "pr_a", .limit = 20};
    ASSERT_EQ(walk_pages(s, q, 250), 0);
    q.order_asc = 1;
    q.limit = 33;
    ASSERT_EQ(walk_pages(s, q, 250), 0);

    const char *const alice[] = {"alice", NULL};
    const char *const gm_sl[] = {"gmail", "slack", NULL};
    const char *const active[] = {"ACTIVE", NULL};
    struct st_account_query f = {.project_id = "pr_a", .user_ids = alice, .limit = 7};
    ASSERT_EQ(walk_pages(s, f, 125), 0);
    int64_t want = 0;
    for (unsigned i = 0; i < 250; i++)
        want += (i % 2 == 0) && (i % 3 != 1);
    f.toolkits = gm_sl;
    ASSERT_EQ(walk_pages(s, f, want), 0);
    want = 0;
    for (unsigned i = 0; i < 250; i++)
        want += (i % 2 == 0) && (i % 3 != 1) && (i % 4 == 0);
    f.statuses = active;
    f.order_asc = 1;
    ASSERT_EQ(walk_pages(s, f, want), 0);

    const char *const acs[] = {"ac_github", NULL};
    struct st_account_query g = {.project_id = "pr_a", .auth_config_ids = acs, .limit = 1000};
    struct st_account_page pg = {0};
    ASSERT_EQ(store_account_list(s, &g, &pg), 0);
    ASSERT_EQ(pg.n, 83);
    ASSERT_STR(pg.next_cursor, "");
    for (size_t i = 0; i < pg.n; i++)
        ASSERT_STR(pg.items[i].toolkit, "github");
    st_account_page_clear(&pg);

    /* project isolation */
    struct st_account_query b = {.project_id = "pr_b", .limit = 100};
    ASSERT_EQ(walk_pages(s, b, 5), 0);

    /* bad input */
    q.cursor = "!!!";
    ASSERT_EQ(store_account_list(s, &q, &pg), STORE_NOTFOUND);
    q.cursor = "QQ";
    ASSERT_EQ(store_account_list(s, &q, &pg), STORE_NOTFOUND);
    const char *many[131];
    for (int i = 0; i < 130; i++)
        many[i] = "x";
    many[130] = NULL;
    struct st_account_query m = {.project_id = "pr_a", .user_ids = many, .limit = 5};
    ASSERT_EQ(store_account_list(s, &m, &pg), STORE_NOTFOUND);
    many[100] = NULL;
    ASSERT_EQ(store_account_list(s, &m, &pg), 0);
    ASSERT_EQ(pg.total, 0);
    st_account_page_clear(&pg);

    struct counts c = {0};
    ASSERT_EQ(store_account_count_by_status(s, see_count, &c), 0);
    ASSERT_EQ(c.active, 63);
    ASSERT_EQ(c.initiated, 187 + 5);
    ASSERT_EQ(c.other, 0);
    store_close(s);
}

/* ---- links ----------------------------------------------------------------------------------- */

TEST(store_link_states)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_1", "u1", "gmail", 0, 1, INT64_MAX / 2), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_2", "u1", "gmail", 0, 2, INT64_MAX / 2), 0);
    unsigned char t1[STORE_HASH], t2[STORE_HASH], s1[STORE_HASH], s2[STORE_HASH], s3[STORE_HASH],
        nope[STORE_HASH];
    hash_of(t1, 1, 'T');
    hash_of(t2, 2, 'T');
    hash_of(s1, 1, 'S');
    hash_of(s2, 2, 'S');
    hash_of(s3, 3, 'S');
    hash_of(nope, 99, 'T');
    unsigned char ver[48];
    memset(ver, 0x5A, sizeof ver);

    ASSERT_EQ(store_link_set_state(s, nope, s1, ver, sizeof ver), STORE_NOTFOUND);
    ASSERT_EQ(store_link_set_state(s, t1, s1, ver, sizeof ver), 0);
    ASSERT_EQ(store_link_set_state(s, t2, s1, ver, sizeof ver), STORE_CONFLICT);
    ASSERT_EQ(store_link_set_state(s, t1, s2, ver, 10), 0); /* replaces s1 */

    struct st_link l = {0};
    ASSERT_EQ(store_link_consume_state(s, s1, &l), STORE_NOTFOUND);
    ASSERT_EQ(store_link_consume_state(s, s2, &l), 0);
    ASSERT_EQ(l.used_at, 0);
    ASSERT_STR(l.account_id, "ca_1");
    ASSERT_EQ(l.has_state, 1);
    ASSERT(memcmp(l.state_hash, s2, STORE_HASH) == 0);
    ASSERT(memcmp(l.token_hash, t1, STORE_HASH) == 0);
    ASSERT_EQ(l.verifier_len, 10);
    st_link_clear(&l);
    ASSERT_EQ(store_link_consume_state(s, s2, &l), 0);
    ASSERT(l.used_at != 0);
    st_link_clear(&l);
    ASSERT_EQ(store_link_get(s, t1, &l), 0);
    ASSERT(l.used_at != 0);
    st_link_clear(&l);
    ASSERT_EQ(store_link_set_state(s, t1, s3, ver, sizeof ver), STORE_NOTFOUND); /* used */
    ASSERT_EQ(store_link_mark_used(s, t1), STORE_NOTFOUND);
    ASSERT_EQ(store_link_mark_used(s, t2), 0);
    ASSERT_EQ(store_link_mark_used(s, t2), STORE_NOTFOUND);
    ASSERT_EQ(store_link_mark_used(s, nope), STORE_NOTFOUND);
    store_close(s);
}

TEST(store_expire_due)
{
    struct store *s = open_fresh();
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    ASSERT_EQ(store_project_create(s, "pr_b", "B"), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_old1", "u1", "gmail", 0, 1, 1000), 0);
    ASSERT_EQ(add_account(s, "pr_b", "ca_old2", "u1", "gmail", 0, 2, 2000), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_new", "u1", "gmail", 0, 3, 9000), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_done", "u1", "gmail", 0, 4, 1000), 0);
    ASSERT_EQ(add_account(s, "pr_a", "ca_failed", "u1", "gmail", 0, 5, 1000), 0);
    ASSERT_EQ(store_account_activate(s, "ca_done", NULL, 0, NULL, 0), 0);
    const char *const pend[] = {"INITIATED", NULL};
    ASSERT_EQ(store_account_transition(s, "ca_failed", pend, "FAILED", "denied"), 0);
    /* Many due accounts: more than one chunk. */
    for (unsigned i = 0; i < 1100; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_m%u", i);
        ASSERT_EQ(add_account(s, "pr_a", id, "u9", "slack", 0, 100 + i, 500 + i), 0);
    }

    char(*ids)[STORE_ID] = NULL;
    size_t n = 0;
    ASSERT_EQ(store_account_expire_due(s, 5000, &ids, &n), 0);
    ASSERT_EQ(n, 1102);
    int saw1 = 0, saw2 = 0;
    for (size_t i = 0; i < n; i++) {
        saw1 += strcmp(ids[i], "ca_old1") == 0;
        saw2 += strcmp(ids[i], "ca_old2") == 0;
    }
    ASSERT_EQ(saw1, 1);
    ASSERT_EQ(saw2, 1);
    free(ids);

    struct st_account a = {0};
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_old1", &a), 0);
    ASSERT_STR(a.status, "EXPIRED");
    ASSERT_STR(a.status_reason, "link expired");
    st_account_clear(&a);
    char type[32];
    last_event(s, "pr_b", "ca_old2", type);
    ASSERT_STR(type, "account.expired");
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_new", &a), 0);
    ASSERT_STR(a.status, "INITIATED");
    st_account_clear(&a);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_done", &a), 0);
    ASSERT_STR(a.status, "ACTIVE");
    st_account_clear(&a);
    ASSERT_EQ(store_account_get(s, "pr_a", "ca_failed", &a), 0);
    ASSERT_STR(a.status, "FAILED");
    st_account_clear(&a);

    ids = NULL;
    ASSERT_EQ(store_account_expire_due(s, 5000, &ids, &n), 0);
    ASSERT_EQ(n, 0);
    free(ids);
    ASSERT_EQ(store_account_expire_due(s, 10000, &ids, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_STR(ids[0], "ca_new");
    free(ids);
    store_close(s);
}

/* Every successful status change has exactly one event, and a failed one none, because both are
 * written in one transaction: check the totals straight from the database file. */
TEST(store_events_match_changes)
{
    char dir[128], path[200], err[256];
    struct store *s = NULL;
    if (pg_url() != NULL)
        return; /* SQLite files */
    fresh_dir(dir, sizeof dir);
    ASSERT_EQ(store_open(dir, &s, err, sizeof err), 0);
    ASSERT_EQ(store_project_create(s, "pr_a", "A"), 0);
    int changes = 0;
    const char *const pend[] = {"INITIATED", NULL};
    for (unsigned i = 0; i < 40; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%u", i);
        ASSERT_EQ(add_account(s, "pr_a", id, "u", "gmail", 0, i, 0), 0);
        changes++;
        if (i % 2 == 0) {
            ASSERT_EQ(store_account_activate(s, id, NULL, 0, NULL, 0), 0);
            changes++;
        }
        int rc = store_account_transition(s, id, pend, "FAILED", "x");
        ASSERT_EQ(rc, i % 2 == 0 ? STORE_NOTFOUND : 0);
        changes += rc == 0;
        if (i % 5 == 0) {
            ASSERT_EQ(store_account_delete(s, "pr_a", id), 0);
            changes++;
        }
    }
    store_close(s);
    snprintf(path, sizeof path, "%s/tether.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), changes);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 500

struct worker {
    struct store *s;
    int t;
    int errors;
    int shared_wins;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    char project[STORE_ID];
    snprintf(project, sizeof project, "pr_t%d", w->t);
    if (store_project_create(w->s, project, "T") != 0)
        w->errors++;
    /* Every thread races for one id: exactly one wins, the others get STORE_CONFLICT. */
    int rc = store_project_create(w->s, "pr_shared", "S");
    if (rc == 0)
        w->shared_wins++;
    else if (rc != STORE_CONFLICT)
        w->errors++;
    for (int i = 0; i < PER_THREAD; i++) {
        char id[STORE_ID];
        snprintf(id, sizeof id, "ca_%d_%d", w->t, i);
        unsigned n = (unsigned)(w->t * 100000 + i);
        if (add_account(w->s, project, id, "u", "gmail", 0, n, 0) != 0) {
            w->errors++;
            continue;
        }
        if (i % 2 == 0 && store_account_activate(w->s, id, NULL, 0, NULL, 0) != 0)
            w->errors++;
        struct st_account a = {0};
        if (store_account_get(w->s, project, id, &a) != 0 ||
            strcmp(a.status, i % 2 == 0 ? "ACTIVE" : "INITIATED") != 0)
            w->errors++;
        st_account_clear(&a);
    }
    return NULL;
}

TEST(store_concurrent_writers_and_readers)
{
    struct store *s = open_fresh();
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct worker){.s = s, .t = t};
        ASSERT_EQ(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    int errors = 0, wins = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        errors += w[t].errors;
        wins += w[t].shared_wins;
    }
    ASSERT_EQ(errors, 0);
    ASSERT_EQ(wins, 1);
    struct counts c = {0};
    ASSERT_EQ(store_account_count_by_status(s, see_count, &c), 0);
    ASSERT_EQ(c.active, THREADS * PER_THREAD / 2);
    ASSERT_EQ(c.initiated, THREADS * PER_THREAD / 2);
    struct st_account_query q = {.project_id = "pr_t3", .limit = 1};
    struct st_account_page pg = {0};
    ASSERT_EQ(store_account_list(s, &q, &pg), 0);
    ASSERT_EQ(pg.total, PER_THREAD);
    st_account_page_clear(&pg);
    ASSERT_EQ(event_count(s, "pr_t3", "ca_3_10"), 2);
    store_close(s);
}

TEST_MAIN()
