/* store_sqlite.c -- the SQLite backend of the store: <dir>/tether.db in WAL mode.
 *
 * Writes: one writer thread owns the only read-write connection. A caller queues a write operation
 * (a function and its arguments, on the caller's stack) and blocks. The writer takes everything
 * queued, runs it as one BEGIN IMMEDIATE ... COMMIT batch with each operation inside its own
 * SAVEPOINT (a failing operation rolls back only itself), then wakes each caller with its own
 * result. Reads: each thread gets its own read-only connection on first use (pthread key); it is
 * closed when the thread exits or, for threads still alive, by store_close. Both kinds of
 * connection cache their prepared statements in an array indexed by a statement enum.
 *
 * All of tether's SQLite SQL lives here and in migrations_sqlite.c. Logs never carry SQL
 * parameter values. */
#include "store/store_int.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_MS 5000
#define EXPIRE_CHUNK 500 /* accounts expired per write operation */

/* ---- statements --------------------------------------------------------------------------- */

#define PROJECT_COLS "id, name, settings, created_at"
#define KEY_COLS "id, project_id, hint, created_at, revoked_at"
#define APP_COLS "toolkit, client_id, secret_enc, scopes"
#define AC_BASE_COLS                                                                               \
    "c.id, c.project_id, c.toolkit, c.auth_scheme, c.name, c.is_managed, c.disabled, "             \
    "c.client_id, c.secret_enc, c.scopes, c.extra, c.created_at, c.updated_at, "
#define AC_COLS AC_BASE_COLS "(SELECT count(*) FROM accounts a WHERE a.auth_config_id = c.id)"
/* For lookups on the connection path: the count grows with the accounts, so it is left out (0). */
#define AC_COLS_NO_COUNT AC_BASE_COLS "0"
#define SESSION_COLS "id, project_id, user_id, config, version, created_at, updated_at"
#define ACCOUNT_COLS                                                                               \
    "id, project_id, user_id, toolkit, auth_config_id, status, status_reason, is_disabled, "       \
    "alias, word_id, creds_enc, data, created_at, updated_at, connected_at, expires_at"
#define LINK_COLS                                                                                  \
    "token_hash, account_id, project_id, session_id, callback_url, state_hash, verifier_enc, "     \
    "created_at, expires_at, used_at"
#define EVENT_COLS "seq, account_id, project_id, type, status, reason, at"
#define PENDING "('INITIATED', 'INITIALIZING')"
#define WEBHOOK_COLS                                                                               \
    "id, project_id, url, events, disabled, secret_enc, prev_secret_enc, prev_until, created_at, " \
    "updated_at"
#define DELIVERY_FROM                                                                              \
    "SELECT d.seq, d.endpoint_id, d.project_id, e.seq, e.account_id, e.project_id, e.type, "      \
    "e.status, e.reason, e.at, e.detail, d.state, d.attempts, d.next_at, d.last_status, "         \
    "d.last_error, d.created_at, d.delivered_at FROM webhook_deliveries d "                       \
    "JOIN events e ON e.seq = d.event_seq "

/* ?1 project, ?2 toolkit or NULL, ?3 managed (-1 any), ?4 show disabled, ?5 search or NULL. */
#define AC_FILTER                                                                                  \
    "c.project_id = ?1 AND (?2 IS NULL OR c.toolkit = ?2) AND (?3 < 0 OR c.is_managed = ?3) "      \
    "AND (?4 OR c.disabled = 0) AND (?5 IS NULL OR instr(lower(c.name), lower(?5)) > 0 "           \
    "OR instr(lower(c.toolkit), lower(?5)) > 0)"

enum rst {
    R_BEGIN,
    R_COMMIT,
    R_PROJECT_GET,
    R_PROJECT_FIRST,
    R_PROJECT_ALL,
    R_KEY_LOOKUP,
    R_KEY_ALL,
    R_APP_GET,
    R_AC_GET,
    R_AC_NEWEST,
    R_AC_COUNT,
    R_AC_PAGE,
    R_SESSION_GET,
    R_ACCOUNT_GET,
    R_ACCOUNT_GET_ANY,
    R_ACCOUNT_ACTIVE,
    R_ACCOUNT_COUNTS,
    R_LINK_GET,
    R_EVENT_LIST,
    R_REFRESH_DUE,
    R_WEBHOOK_GET,
    R_WEBHOOK_LIST,
    R_DELIVERY_LIST,
    R_DELIVERY_GET,
    R_EVENT_DAILY,
    R_ACCOUNT_COUNTS_PROJECT,
    R__COUNT
};

static const char *const rsql[R__COUNT] = {
    [R_BEGIN] = "BEGIN",
    [R_COMMIT] = "COMMIT",
    [R_PROJECT_GET] = "SELECT " PROJECT_COLS " FROM projects WHERE id = ?1",
    [R_PROJECT_FIRST] = "SELECT " PROJECT_COLS " FROM projects ORDER BY created_at, rowid LIMIT 1",
    [R_PROJECT_ALL] = "SELECT " PROJECT_COLS " FROM projects ORDER BY created_at, rowid LIMIT ?1",
    [R_KEY_LOOKUP] = "SELECT " KEY_COLS " FROM api_keys WHERE hash = ?1 AND revoked_at = 0",
    [R_KEY_ALL] = "SELECT " KEY_COLS " FROM api_keys WHERE project_id = ?1 "
                  "ORDER BY created_at, rowid LIMIT ?2",
    [R_APP_GET] = "SELECT " APP_COLS " FROM managed_apps WHERE toolkit = ?1",
    [R_AC_GET] = "SELECT " AC_COLS_NO_COUNT " FROM auth_configs c "
                 "WHERE c.project_id = ?1 AND c.id = ?2",
    [R_AC_NEWEST] = "SELECT " AC_COLS_NO_COUNT " FROM auth_configs c WHERE c.project_id = ?1 "
                    "AND c.toolkit = ?2 AND c.disabled = 0 AND (?3 < 0 OR c.is_managed = ?3) "
                    "ORDER BY c.created_at DESC, c.id DESC LIMIT 1",
    [R_AC_COUNT] = "SELECT count(*) FROM auth_configs c WHERE " AC_FILTER,
    /* ?6/?7: the cursor (NULL on the first page); ?8: limit. */
    [R_AC_PAGE] = "SELECT " AC_COLS " FROM auth_configs c WHERE " AC_FILTER
                  " AND (?6 IS NULL OR (c.created_at, c.id) < (?6, ?7)) "
                  "ORDER BY c.created_at DESC, c.id DESC LIMIT ?8",
    [R_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions WHERE project_id = ?1 AND id = ?2",
    [R_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE project_id = ?1 AND id = ?2",
    [R_ACCOUNT_GET_ANY] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1",
    [R_ACCOUNT_ACTIVE] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE project_id = ?1 "
                         "AND user_id = ?2 AND status = 'ACTIVE' AND is_disabled = 0 "
                         "ORDER BY connected_at DESC, id DESC LIMIT 1000",
    [R_ACCOUNT_COUNTS] = "SELECT status, count(*) FROM accounts GROUP BY status ORDER BY status",
    [R_LINK_GET] = "SELECT " LINK_COLS " FROM links WHERE token_hash = ?1",
    [R_EVENT_LIST] = "SELECT " EVENT_COLS " FROM events WHERE project_id = ?1 "
                     "AND account_id = ?2 ORDER BY seq LIMIT ?3",
    /* ?1 before, ?2 now, ?3 limit */
    [R_REFRESH_DUE] = "SELECT id FROM accounts WHERE status = 'ACTIVE' AND expires_at > 0 "
                      "AND expires_at < ?1 AND refresh_not_before <= ?2 "
                      "AND refresh_lease_until <= ?2 ORDER BY expires_at LIMIT ?3",
    [R_WEBHOOK_GET] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE project_id = ?1 "
                      "AND id = ?2",
    [R_WEBHOOK_LIST] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE project_id = ?1 "
                       "ORDER BY created_at, id LIMIT ?2",
    [R_DELIVERY_LIST] = DELIVERY_FROM "WHERE d.project_id = ?1 AND d.endpoint_id = ?2 "
                        "AND (?3 = 0 OR d.seq < ?3) ORDER BY d.seq DESC LIMIT ?4",
    [R_DELIVERY_GET] = DELIVERY_FROM "WHERE d.project_id = ?1 AND d.seq = ?2",
    [R_ACCOUNT_COUNTS_PROJECT] = "SELECT status, count(*) FROM accounts WHERE project_id = ?1 "
                                 "GROUP BY status ORDER BY status",
    [R_EVENT_DAILY] = "SELECT (at / 86400000) * 86400000 AS day, status, count(*) FROM events "
                      "WHERE project_id = ?1 AND at >= ?2 GROUP BY day, status "
                      "ORDER BY day, status LIMIT ?3",
};

enum wst {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVEPOINT,
    W_ROLLBACK_TO,
    W_RELEASE,
    W_PROJECT_INSERT,
    W_PROJECT_SETTINGS,
    W_KEY_INSERT,
    W_KEY_REVOKE,
    W_APP_UPSERT,
    W_AC_INSERT,
    W_AC_DISABLE,
    W_AC_DELETE,
    W_SESSION_INSERT,
    W_SESSION_UPDATE,
    W_SESSION_DELETE,
    W_ACCOUNT_INSERT,
    W_LINK_INSERT,
    W_EVENT_INSERT,
    W_ACCOUNT_TRANSITION,
    W_ACCOUNT_ACTIVATE,
    W_ACCOUNT_STATE,
    W_ACCOUNT_SET_DISABLED,
    W_ACCOUNT_DELETE,
    W_ACCOUNT_DUE,
    W_ACCOUNT_EXPIRE,
    W_LINK_SET_STATE,
    W_LINK_BY_STATE,
    W_LINK_USE,
    W_REFRESH_CLAIM,
    W_REFRESH_SAVE,
    W_REFRESH_FAIL_SOFT,
    W_REFRESH_FAIL_HARD,
    W_EVENT_INSERT_DETAIL,
    W_RELINK,
    W_LINKS_DROP_UNUSED,
    W_WEBHOOK_COUNT,
    W_WEBHOOK_INSERT,
    W_WEBHOOK_UPDATE,
    W_WEBHOOK_ROTATE,
    W_WEBHOOK_DELETE,
    W_DELIVERY_CLAIM,
    W_DELIVERY_BY_SEQ,
    W_DELIVERY_OK,
    W_DELIVERY_FAIL,
    W_DELIVERY_REPLAY,
    W__COUNT
};

static const char *const wsql[W__COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT op",
    [W_ROLLBACK_TO] = "ROLLBACK TO op",
    [W_RELEASE] = "RELEASE op",
    [W_PROJECT_INSERT] = "INSERT INTO projects (id, name, settings, created_at) "
                         "VALUES (?1, ?2, '{}', ?3)",
    [W_PROJECT_SETTINGS] = "UPDATE projects SET settings = ?2 WHERE id = ?1",
    [W_KEY_INSERT] = "INSERT INTO api_keys (id, project_id, hash, hint, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [W_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ?3 "
                     "ELSE revoked_at END WHERE project_id = ?1 AND id = ?2",
    [W_APP_UPSERT] =
        "INSERT INTO managed_apps (toolkit, client_id, secret_enc, scopes, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (toolkit) DO UPDATE SET "
        "client_id = excluded.client_id, secret_enc = excluded.secret_enc, "
        "scopes = excluded.scopes, updated_at = excluded.updated_at",
    [W_AC_INSERT] = "INSERT INTO auth_configs (id, project_id, toolkit, auth_scheme, name, "
                    "is_managed, disabled, client_id, secret_enc, scopes, extra, created_at, "
                    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [W_AC_DISABLE] = "UPDATE auth_configs SET disabled = ?3, updated_at = ?4 "
                     "WHERE project_id = ?1 AND id = ?2",
    [W_AC_DELETE] = "DELETE FROM auth_configs WHERE project_id = ?1 AND id = ?2",
    [W_SESSION_INSERT] = "INSERT INTO sessions (" SESSION_COLS ") "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_SESSION_UPDATE] = "UPDATE sessions SET config = ?3, version = version + 1, updated_at = ?4 "
                         "WHERE project_id = ?1 AND id = ?2 RETURNING " SESSION_COLS,
    [W_SESSION_DELETE] = "DELETE FROM sessions WHERE project_id = ?1 AND id = ?2",
    [W_ACCOUNT_INSERT] = "INSERT INTO accounts (" ACCOUNT_COLS ", pending_expires_at) VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                         "?16, ?17)",
    [W_LINK_INSERT] = "INSERT INTO links (" LINK_COLS ") "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)",
    [W_EVENT_INSERT] = "INSERT INTO events (account_id, project_id, type, status, reason, at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* ?1 id, ?2 to, ?3 reason, ?4 now, ?5..?12 the from statuses (unused ones NULL). */
    [W_ACCOUNT_TRANSITION] =
        "UPDATE accounts SET status = ?2, status_reason = ?3, updated_at = ?4, "
        "connected_at = CASE WHEN ?2 = 'ACTIVE' THEN ?4 ELSE connected_at END, "
        "pending_expires_at = CASE WHEN ?2 IN " PENDING " THEN pending_expires_at ELSE 0 END "
        "WHERE id = ?1 AND status IN (?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING project_id",
    [W_ACCOUNT_ACTIVATE] = "UPDATE accounts SET status = 'ACTIVE', status_reason = NULL, "
                           "creds_enc = ?2, data = coalesce(?3, data), expires_at = ?4, "
                           "connected_at = ?5, updated_at = ?5, pending_expires_at = 0 "
                           "WHERE id = ?1 AND status IN " PENDING " RETURNING project_id",
    [W_ACCOUNT_STATE] =
        "SELECT status, is_disabled FROM accounts WHERE project_id = ?1 AND id = ?2",
    [W_ACCOUNT_SET_DISABLED] = "UPDATE accounts SET is_disabled = ?3, status = ?4, updated_at = ?5 "
                               "WHERE project_id = ?1 AND id = ?2",
    [W_ACCOUNT_DELETE] = "DELETE FROM accounts WHERE project_id = ?1 AND id = ?2 RETURNING status",
    [W_ACCOUNT_DUE] = "SELECT id, project_id FROM accounts WHERE pending_expires_at > 0 "
                      "AND pending_expires_at < ?1 AND status IN " PENDING
                      " ORDER BY pending_expires_at LIMIT ?2",
    [W_ACCOUNT_EXPIRE] = "UPDATE accounts SET status = 'EXPIRED', status_reason = 'link expired', "
                         "updated_at = ?2, pending_expires_at = 0 "
                         "WHERE id = ?1 AND status IN " PENDING,
    [W_LINK_SET_STATE] = "UPDATE links SET state_hash = ?2, verifier_enc = ?3 "
                         "WHERE token_hash = ?1 AND used_at = 0",
    [W_LINK_BY_STATE] = "SELECT " LINK_COLS " FROM links WHERE state_hash = ?1",
    [W_LINK_USE] = "UPDATE links SET used_at = ?2 WHERE token_hash = ?1 AND used_at = 0",
    /* ?1 id, ?2 owner, ?3 now, ?4 lease ms, ?5 expires_before */
    [W_REFRESH_CLAIM] =
        "UPDATE accounts SET refresh_lease_until = ?3 + ?4, refresh_lease_owner = ?2 "
        "WHERE id = ?1 AND status = 'ACTIVE' AND (refresh_lease_until <= ?3 OR "
        "refresh_lease_owner = ?2) AND expires_at < ?5 "
        "RETURNING " ACCOUNT_COLS ", refresh_failures",
    /* ?1 id, ?2 owner, ?3 creds, ?4 data, ?5 expires_at, ?6 now, ?7 refresh_at */
    [W_REFRESH_SAVE] =
        "UPDATE accounts SET creds_enc = ?3, data = coalesce(?4, data), expires_at = ?5, "
        "updated_at = ?6, refresh_lease_until = 0, refresh_lease_owner = '', "
        "refresh_failures = 0, refresh_not_before = ?7 "
        "WHERE id = ?1 AND refresh_lease_owner = ?2 AND status = 'ACTIVE' RETURNING project_id",
    /* ?1 id, ?2 owner, ?3 retry_at, ?4 now */
    [W_REFRESH_FAIL_SOFT] =
        "UPDATE accounts SET refresh_lease_until = 0, refresh_lease_owner = '', "
        "refresh_failures = refresh_failures + 1, refresh_not_before = ?3, updated_at = ?4 "
        "WHERE id = ?1 AND refresh_lease_owner = ?2 AND status = 'ACTIVE' RETURNING project_id",
    /* ?1 id, ?2 owner, ?3 reason, ?4 now */
    [W_REFRESH_FAIL_HARD] =
        "UPDATE accounts SET status = 'EXPIRED', status_reason = ?3, refresh_lease_until = 0, "
        "refresh_lease_owner = '', refresh_failures = refresh_failures + 1, updated_at = ?4 "
        "WHERE id = ?1 AND refresh_lease_owner = ?2 AND status = 'ACTIVE' RETURNING project_id",
    [W_EVENT_INSERT_DETAIL] =
        "INSERT INTO events (account_id, project_id, type, status, reason, at, detail) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* ?1 project, ?2 id, ?3 link expiry, ?4 now */
    [W_RELINK] = "UPDATE accounts SET status = 'INITIATED', status_reason = NULL, is_disabled = 0, "
                 "pending_expires_at = ?3, updated_at = ?4, refresh_lease_until = 0, "
                 "refresh_lease_owner = '', refresh_failures = 0, refresh_not_before = 0 "
                 "WHERE project_id = ?1 AND id = ?2 RETURNING project_id",
    [W_LINKS_DROP_UNUSED] = "DELETE FROM links WHERE account_id = ?1 AND used_at = 0",
    [W_WEBHOOK_COUNT] = "SELECT count(*) FROM webhook_endpoints WHERE project_id = ?1",
    [W_WEBHOOK_INSERT] = "INSERT INTO webhook_endpoints (" WEBHOOK_COLS ") "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [W_WEBHOOK_UPDATE] = "UPDATE webhook_endpoints SET url = ?3, events = ?4, disabled = ?5, "
                         "updated_at = ?6 WHERE project_id = ?1 AND id = ?2",
    [W_WEBHOOK_ROTATE] = "UPDATE webhook_endpoints SET prev_secret_enc = secret_enc, "
                         "prev_until = ?4, secret_enc = ?3 WHERE project_id = ?1 AND id = ?2",
    [W_WEBHOOK_DELETE] = "DELETE FROM webhook_endpoints WHERE project_id = ?1 AND id = ?2",
    /* ?1 owner, ?2 lease until, ?3 now, ?4 limit. Only the oldest pending delivery of an
     * (endpoint, account) pair is due, so an account's events arrive in order. */
    [W_DELIVERY_CLAIM] =
        "UPDATE webhook_deliveries SET lease_until = ?2, lease_owner = ?1 WHERE seq IN ("
        "SELECT d.seq FROM webhook_deliveries d WHERE d.state = 'pending' AND d.next_at <= ?3 "
        "AND d.lease_until <= ?3 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p "
        "WHERE p.state = 'pending' AND p.endpoint_id = d.endpoint_id "
        "AND p.account_id = d.account_id AND p.seq < d.seq) ORDER BY d.seq LIMIT ?4) "
        "RETURNING seq",
    [W_DELIVERY_BY_SEQ] = DELIVERY_FROM "WHERE d.seq = ?1",
    /* ?1 seq, ?2 owner, ?3 http status, ?4 now */
    [W_DELIVERY_OK] = "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
                      "last_status = ?3, last_error = NULL, delivered_at = ?4, lease_until = 0, "
                      "lease_owner = '' WHERE seq = ?1 AND lease_owner = ?2 AND state = 'pending'",
    /* ?1 seq, ?2 owner, ?3 http status, ?4 error, ?5 next_at (0: give up) */
    [W_DELIVERY_FAIL] =
        "UPDATE webhook_deliveries SET state = CASE WHEN ?5 = 0 THEN 'failed' ELSE 'pending' END, "
        "next_at = CASE WHEN ?5 = 0 THEN next_at ELSE ?5 END, attempts = attempts + 1, "
        "last_status = ?3, last_error = ?4, lease_until = 0, lease_owner = '' "
        "WHERE seq = ?1 AND lease_owner = ?2 AND state = 'pending'",
    /* ?1 project, ?2 seq, ?3 now */
    [W_DELIVERY_REPLAY] =
        "INSERT INTO webhook_deliveries (endpoint_id, project_id, event_seq, account_id, next_at, "
        "created_at) SELECT endpoint_id, project_id, event_seq, account_id, ?3, ?3 "
        "FROM webhook_deliveries WHERE project_id = ?1 AND seq = ?2",
};

/* ---- state -------------------------------------------------------------------------------- */

/* One thread's read-only connection. */
struct rconn {
    sqlite3 *db;
    sqlite3_stmt *st[R__COUNT];
    struct store_be *be;
    struct rconn *prev, *next;
};

/* A queued write: fn runs on the writer thread inside a savepoint; nonzero rolls it back.
 * Synchronous ops live on their caller's stack and are signalled through cv; asynchronous ones
 * (on_done set) are heap-allocated, and the writer calls on_done, then free_arg(arg) and frees
 * the op, outside its lock. */
struct wop {
    int (*fn)(struct store_be *b, void *arg);
    void *arg;
    int rc;
    int done;
    pthread_cond_t cv; /* signalled once done is set */
    void (*on_done)(void *done_arg, int rc);
    void *done_arg;
    void (*free_arg)(void *arg);
    struct wop *next;
};

struct store_be {
    char path[PATH_MAX];

    sqlite3 *wdb; /* used only by the writer thread once it runs */
    sqlite3_stmt *wst[W__COUNT];
    pthread_t writer;
    pthread_mutex_t mu;  /* guards head, tail, stopping and every queued op's rc/done */
    pthread_cond_t wake; /* to the writer: work queued or stopping */
    struct wop *head, *tail;
    int stopping;
    int64_t batches, ops; /* writer thread only; logged at close */

    pthread_key_t rkey;
    pthread_mutex_t rmu; /* guards readers */
    struct rconn *readers;
};

/* ---- errors, binding, columns ------------------------------------------------------------- */

/* Maps the connection's last error to a store code. Uniqueness clashes are STORE_CONFLICT, a
 * missing parent row STORE_NOTFOUND; anything else is logged (no parameter values) as STORE_ERR. */
static int
db_fail(sqlite3 *db, const char *what)
{
    int ext = sqlite3_extended_errcode(db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return STORE_CONFLICT;
    if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        return STORE_NOTFOUND;
    char msg[256];
    log_error("store: sqlite failure", "op=%s code=%d err=\"%s\"", what, ext,
              log_quote(sqlite3_errmsg(db), msg, sizeof msg));
    return STORE_ERR;
}

enum vt { VT_NULL, VT_INT, VT_TEXT, VT_BLOB };

/* One statement parameter. Text and blob pointers are borrowed for the statement's run. */
struct val {
    enum vt t;
    int64_t i;
    const void *p;
    size_t n;
};

#define V_INT(x) ((struct val){VT_INT, (int64_t)(x), NULL, 0})
#define V_TEXT(s) ((struct val){VT_TEXT, 0, (s), 0})
#define V_BLOB(q, len) ((struct val){VT_BLOB, 0, (q), (len)})
#define NVALS(v) ((int)(sizeof(v) / sizeof((v)[0])))

/* Binds v[0..n) to ?1..?n; NULL pointers bind SQL NULL. Values are borrowed (SQLITE_STATIC): the
 * statement is always reset before the caller's data goes away. Binding can fail only on a wrong
 * index or size, both excluded by construction (sizes are capped in store.c). */
static void
bind_vals(sqlite3_stmt *st, const struct val *v, int n)
{
    for (int k = 0; k < n; k++) {
        int i = k + 1;
        if (v[k].t == VT_INT)
            sqlite3_bind_int64(st, i, v[k].i);
        else if (v[k].p == NULL || v[k].t == VT_NULL)
            sqlite3_bind_null(st, i);
        else if (v[k].t == VT_TEXT)
            sqlite3_bind_text(st, i, v[k].p, -1, SQLITE_STATIC);
        else
            sqlite3_bind_blob64(st, i, v[k].p, v[k].n, SQLITE_STATIC);
    }
}

static void
stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void
col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t != NULL ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* *out = a copy of the text column, or of dflt when it is NULL (NULL dflt: stays NULL).
 * -1 when out of memory. */
static int
col_dup(sqlite3_stmt *st, int i, char **out, const char *dflt)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (t == NULL)
        t = dflt;
    if (t == NULL) {
        *out = NULL;
        return 0;
    }
    *out = strdup(t);
    return *out != NULL ? 0 : -1;
}

/* *out = a copy of the blob column (NULL and 0 for NULL or empty). -1 when out of memory. */
static int
col_blob(sqlite3_stmt *st, int i, unsigned char **out, size_t *len)
{
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    *out = NULL;
    *len = 0;
    if (p == NULL || n == 0)
        return 0;
    *out = malloc(n);
    if (*out == NULL)
        return -1;
    memcpy(*out, p, n);
    *len = n;
    return 0;
}

/* Copies a STORE_HASH blob column; returns 1 when present with the right size. */
static int
col_hash(sqlite3_stmt *st, int i, unsigned char out[STORE_HASH])
{
    const void *p = sqlite3_column_blob(st, i);
    if (p == NULL || sqlite3_column_bytes(st, i) != STORE_HASH) {
        memset(out, 0, STORE_HASH);
        return 0;
    }
    memcpy(out, p, STORE_HASH);
    return 1;
}

/* ---- row readers: 0, or -1 when out of memory (the struct is then cleared) ---------------- */

static int
row_project(sqlite3_stmt *st, void *out)
{
    struct st_project *p = out;
    col_copy(st, 0, p->id, sizeof p->id);
    col_copy(st, 1, p->name, sizeof p->name);
    p->created_at = sqlite3_column_int64(st, 3);
    if (col_dup(st, 2, &p->settings, "{}") != 0)
        return -1;
    return 0;
}

static void
clr_project(void *p)
{
    st_project_clear(p);
}

static int
row_key(sqlite3_stmt *st, void *out)
{
    struct st_api_key *k = out;
    col_copy(st, 0, k->id, sizeof k->id);
    col_copy(st, 1, k->project_id, sizeof k->project_id);
    col_copy(st, 2, k->hint, sizeof k->hint);
    k->created_at = sqlite3_column_int64(st, 3);
    k->revoked_at = sqlite3_column_int64(st, 4);
    return 0;
}

static int
row_app(sqlite3_stmt *st, void *out)
{
    struct st_managed_app *a = out;
    col_copy(st, 0, a->toolkit, sizeof a->toolkit);
    if (col_dup(st, 1, &a->client_id, "") != 0 ||
        col_blob(st, 2, &a->secret_enc, &a->secret_len) != 0 ||
        col_dup(st, 3, &a->scopes, NULL) != 0) {
        st_managed_app_clear(a);
        return -1;
    }
    return 0;
}

static int
row_ac(sqlite3_stmt *st, void *out)
{
    struct st_auth_config *c = out;
    col_copy(st, 0, c->id, sizeof c->id);
    col_copy(st, 1, c->project_id, sizeof c->project_id);
    col_copy(st, 2, c->toolkit, sizeof c->toolkit);
    col_copy(st, 3, c->auth_scheme, sizeof c->auth_scheme);
    col_copy(st, 4, c->name, sizeof c->name);
    c->is_managed = sqlite3_column_int(st, 5);
    c->disabled = sqlite3_column_int(st, 6);
    c->created_at = sqlite3_column_int64(st, 11);
    c->updated_at = sqlite3_column_int64(st, 12);
    c->connections = sqlite3_column_int64(st, 13);
    if (col_dup(st, 7, &c->client_id, NULL) != 0 ||
        col_blob(st, 8, &c->secret_enc, &c->secret_len) != 0 ||
        col_dup(st, 9, &c->scopes, NULL) != 0 || col_dup(st, 10, &c->extra, "{}") != 0) {
        st_auth_config_clear(c);
        return -1;
    }
    return 0;
}

static void
clr_ac(void *p)
{
    st_auth_config_clear(p);
}

static int
row_session(sqlite3_stmt *st, void *out)
{
    struct st_session *x = out;
    col_copy(st, 0, x->id, sizeof x->id);
    col_copy(st, 1, x->project_id, sizeof x->project_id);
    x->version = sqlite3_column_int64(st, 4);
    x->created_at = sqlite3_column_int64(st, 5);
    x->updated_at = sqlite3_column_int64(st, 6);
    if (col_dup(st, 2, &x->user_id, "") != 0 || col_dup(st, 3, &x->config, "{}") != 0) {
        st_session_clear(x);
        return -1;
    }
    return 0;
}

static int
row_account(sqlite3_stmt *st, void *out)
{
    struct st_account *a = out;
    col_copy(st, 0, a->id, sizeof a->id);
    col_copy(st, 1, a->project_id, sizeof a->project_id);
    col_copy(st, 3, a->toolkit, sizeof a->toolkit);
    col_copy(st, 4, a->auth_config_id, sizeof a->auth_config_id);
    col_copy(st, 5, a->status, sizeof a->status);
    a->is_disabled = sqlite3_column_int(st, 7);
    col_copy(st, 9, a->word_id, sizeof a->word_id);
    a->created_at = sqlite3_column_int64(st, 12);
    a->updated_at = sqlite3_column_int64(st, 13);
    a->connected_at = sqlite3_column_int64(st, 14);
    a->expires_at = sqlite3_column_int64(st, 15);
    if (col_dup(st, 2, &a->user_id, "") != 0 || col_dup(st, 6, &a->status_reason, NULL) != 0 ||
        col_dup(st, 8, &a->alias, NULL) != 0 ||
        col_blob(st, 10, &a->creds_enc, &a->creds_len) != 0 ||
        col_dup(st, 11, &a->data, "{}") != 0) {
        st_account_clear(a);
        return -1;
    }
    return 0;
}

static void
clr_account(void *p)
{
    st_account_clear(p);
}

static int
row_link(sqlite3_stmt *st, void *out)
{
    struct st_link *l = out;
    col_hash(st, 0, l->token_hash);
    col_copy(st, 1, l->account_id, sizeof l->account_id);
    col_copy(st, 2, l->project_id, sizeof l->project_id);
    col_copy(st, 3, l->session_id, sizeof l->session_id);
    l->has_state = col_hash(st, 5, l->state_hash);
    l->created_at = sqlite3_column_int64(st, 7);
    l->expires_at = sqlite3_column_int64(st, 8);
    l->used_at = sqlite3_column_int64(st, 9);
    if (col_dup(st, 4, &l->callback_url, NULL) != 0 ||
        col_blob(st, 6, &l->verifier_enc, &l->verifier_len) != 0) {
        st_link_clear(l);
        return -1;
    }
    return 0;
}

static int
row_event(sqlite3_stmt *st, void *out)
{
    struct st_event *e = out;
    e->seq = sqlite3_column_int64(st, 0);
    col_copy(st, 1, e->account_id, sizeof e->account_id);
    col_copy(st, 2, e->project_id, sizeof e->project_id);
    col_copy(st, 3, e->type, sizeof e->type);
    col_copy(st, 4, e->status, sizeof e->status);
    e->at = sqlite3_column_int64(st, 6);
    if (col_dup(st, 5, &e->reason, NULL) != 0) {
        st_event_clear(e);
        return -1;
    }
    return 0;
}

static void
clr_event(void *p)
{
    st_event_clear(p);
}

static int
row_count(sqlite3_stmt *st, void *out)
{
    struct store_count *c = out;
    col_copy(st, 0, c->status, sizeof c->status);
    c->n = sqlite3_column_int64(st, 1);
    return 0;
}

static int
row_int(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    return 0;
}

static int
row_id(sqlite3_stmt *st, void *out)
{
    col_copy(st, 0, out, STORE_ID);
    return 0;
}

typedef int (*row_fn)(sqlite3_stmt *st, void *out);

/* ---- stepping ----------------------------------------------------------------------------- */

/* Binds, steps once and reads the first row into out. 0, STORE_NOTFOUND (no row) or another code.
 * Leaves st reset. */
static int
step_one(sqlite3 *db, sqlite3_stmt *st, const struct val *v, int nv, row_fn fn, void *out,
         const char *what)
{
    bind_vals(st, v, nv);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW)
        ret = fn(st, out) == 0 ? 0 : STORE_ERR;
    else if (rc == SQLITE_DONE)
        ret = STORE_NOTFOUND;
    else
        ret = db_fail(db, what);
    stmt_done(st);
    return ret;
}

/* Binds and steps to the end, appending up to max rows of elsize bytes to a new array.
 * clear (may be NULL) releases one element's heap fields. Leaves st reset. */
static int
step_all(sqlite3 *db, sqlite3_stmt *st, const struct val *v, int nv, row_fn fn,
         void (*clear)(void *), size_t elsize, size_t max, void **items, size_t *n,
         const char *what)
{
    char *arr = NULL;
    size_t cnt = 0, cap = 0;
    int ret = 0, rc = SQLITE_DONE;
    bind_vals(st, v, nv);
    while (cnt < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char *grown = realloc(arr, ncap * elsize);
            if (grown == NULL) {
                ret = STORE_ERR;
                break;
            }
            arr = grown;
            cap = ncap;
        }
        memset(arr + cnt * elsize, 0, elsize);
        if (fn(st, arr + cnt * elsize) != 0) {
            ret = STORE_ERR;
            break;
        }
        cnt++;
    }
    if (ret == 0 && cnt < max && rc != SQLITE_DONE)
        ret = db_fail(db, what);
    stmt_done(st);
    if (ret != 0) {
        for (size_t i = 0; clear != NULL && i < cnt; i++)
            clear(arr + i * elsize);
        free(arr);
        return ret;
    }
    *items = arr;
    *n = cnt;
    return 0;
}

/* ---- read connections ---------------------------------------------------------------------- */

static void
rconn_free(struct rconn *rc)
{
    for (int i = 0; i < R__COUNT; i++)
        sqlite3_finalize(rc->st[i]);
    if (sqlite3_close(rc->db) != SQLITE_OK)
        log_error("store: cannot close a read connection", "err=busy");
    free(rc);
}

/* Thread-exit destructor of the pthread key: unregisters and closes the thread's connection. */
static void
rconn_thread_exit(void *p)
{
    struct rconn *rc = p;
    struct store_be *b = rc->be;
    pthread_mutex_lock(&b->rmu);
    if (rc->prev != NULL)
        rc->prev->next = rc->next;
    else
        b->readers = rc->next;
    if (rc->next != NULL)
        rc->next->prev = rc->prev;
    pthread_mutex_unlock(&b->rmu);
    rconn_free(rc);
}

/* The calling thread's read connection, opened on first use; NULL (logged) on failure. */
static struct rconn *
reader(struct store_be *b)
{
    struct rconn *rc = pthread_getspecific(b->rkey);
    if (rc != NULL)
        return rc;
    rc = calloc(1, sizeof *rc);
    if (rc == NULL)
        return NULL;
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(b->path, &rc->db, flags, NULL) != SQLITE_OK) {
        db_fail(rc->db, "open_reader");
        sqlite3_close(rc->db);
        free(rc);
        return NULL;
    }
    sqlite3_extended_result_codes(rc->db, 1);
    sqlite3_busy_timeout(rc->db, BUSY_MS);
    rc->be = b;
    pthread_mutex_lock(&b->rmu);
    rc->next = b->readers;
    if (b->readers != NULL)
        b->readers->prev = rc;
    b->readers = rc;
    pthread_mutex_unlock(&b->rmu);
    if (pthread_setspecific(b->rkey, rc) != 0) {
        rconn_thread_exit(rc);
        return NULL;
    }
    return rc;
}

static sqlite3_stmt *
prepare_cached(sqlite3 *db, sqlite3_stmt **slot, const char *sql, const char *what)
{
    if (*slot == NULL &&
        sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        db_fail(db, what);
        sqlite3_finalize(*slot);
        *slot = NULL;
    }
    return *slot;
}

/* The calling thread's cached statement id and its connection; NULL (logged) on failure. */
static sqlite3_stmt *
rprep(struct store_be *b, enum rst id, sqlite3 **db)
{
    struct rconn *rc = reader(b);
    if (rc == NULL)
        return NULL;
    *db = rc->db;
    return prepare_cached(rc->db, &rc->st[id], rsql[id], "prepare_read");
}

/* One row of read statement id into out. */
static int
read_one(struct store_be *b, enum rst id, const struct val *v, int nv, row_fn fn, void *out,
         const char *what)
{
    sqlite3 *db;
    sqlite3_stmt *st = rprep(b, id, &db);
    if (st == NULL)
        return STORE_ERR;
    return step_one(db, st, v, nv, fn, out, what);
}

static int
read_all(struct store_be *b, enum rst id, const struct val *v, int nv, row_fn fn,
         void (*clear)(void *), size_t elsize, size_t max, void **items, size_t *n,
         const char *what)
{
    sqlite3 *db;
    sqlite3_stmt *st = rprep(b, id, &db);
    if (st == NULL)
        return STORE_ERR;
    return step_all(db, st, v, nv, fn, clear, elsize, max, items, n, what);
}

/* Runs a control statement (BEGIN/COMMIT) on the calling thread's read connection. */
static int
read_ctl(struct store_be *b, enum rst id)
{
    sqlite3 *db;
    sqlite3_stmt *st = rprep(b, id, &db);
    if (st == NULL)
        return STORE_ERR;
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(db, rsql[id]);
    sqlite3_reset(st);
    return ret;
}

/* ---- the writer ---------------------------------------------------------------------------- */

static sqlite3_stmt *
wprep(struct store_be *b, enum wst id)
{
    return prepare_cached(b->wdb, &b->wst[id], wsql[id], "prepare_write");
}

/* Runs write statement id with v; need_change: STORE_NOTFOUND when no row changed. Writer only. */
static int
wrun(struct store_be *b, enum wst id, const struct val *v, int nv, int need_change,
     const char *what)
{
    sqlite3_stmt *st = wprep(b, id);
    if (st == NULL)
        return STORE_ERR;
    bind_vals(st, v, nv);
    int rc = sqlite3_step(st), ret = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = db_fail(b->wdb, what);
    else if (need_change && sqlite3_changes(b->wdb) == 0)
        ret = STORE_NOTFOUND;
    stmt_done(st);
    return ret;
}

/* One row of write statement id (a SELECT or an UPDATE ... RETURNING) into out. Writer only. */
static int
wrow(struct store_be *b, enum wst id, const struct val *v, int nv, row_fn fn, void *out,
     const char *what)
{
    sqlite3_stmt *st = wprep(b, id);
    if (st == NULL)
        return STORE_ERR;
    return step_one(b->wdb, st, v, nv, fn, out, what);
}

static int
wctl(struct store_be *b, enum wst id)
{
    return wrun(b, id, NULL, 0, 0, wsql[id]);
}

/* Runs one queued batch in a transaction; sets every op's rc. */
static void
run_batch(struct store_be *b, struct wop *batch)
{
    if (wctl(b, W_BEGIN) != 0) {
        for (struct wop *op = batch; op != NULL; op = op->next)
            op->rc = STORE_ERR;
        return;
    }
    int aborted = 0;
    for (struct wop *op = batch; op != NULL; op = op->next) {
        if (aborted || wctl(b, W_SAVEPOINT) != 0) {
            op->rc = STORE_ERR;
            continue;
        }
        op->rc = op->fn(b, op->arg);
        if (sqlite3_get_autocommit(b->wdb)) {
            /* A fatal error rolled back the whole transaction: nothing of this batch stands. */
            aborted = 1;
            continue;
        }
        if (op->rc != 0)
            wctl(b, W_ROLLBACK_TO);
        wctl(b, W_RELEASE);
    }
    if (!aborted && wctl(b, W_COMMIT) == 0)
        return;
    if (!sqlite3_get_autocommit(b->wdb))
        wctl(b, W_ROLLBACK);
    for (struct wop *op = batch; op != NULL; op = op->next)
        op->rc = STORE_ERR;
}

static void *
writer_main(void *arg)
{
    struct store_be *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->head == NULL && !b->stopping)
            pthread_cond_wait(&b->wake, &b->mu);
        if (b->head == NULL)
            break;
        struct wop *batch = b->head;
        b->head = b->tail = NULL;
        pthread_mutex_unlock(&b->mu);

        run_batch(b, batch);
        b->batches++;
        for (struct wop *op = batch; op != NULL; op = op->next)
            b->ops++;

        /* Asynchronous ops first, outside the lock: their callbacks only hand off. */
        struct wop *sync = NULL, **tail = &sync;
        for (struct wop *op = batch, *next; op != NULL; op = next) {
            next = op->next;
            if (op->on_done == NULL) {
                op->next = NULL;
                *tail = op;
                tail = &op->next;
                continue;
            }
            op->on_done(op->done_arg, op->rc);
            if (op->free_arg != NULL)
                op->free_arg(op->arg);
            free(op);
        }
        pthread_mutex_lock(&b->mu);
        /* Each caller waits on its own condition, so only the callers of this batch wake. The
         * op lives on its caller's stack: read next before the caller can return. */
        for (struct wop *op = sync, *next; op != NULL; op = next) {
            next = op->next;
            op->done = 1;
            pthread_cond_signal(&op->cv);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Queues fn(arg) for the writer and waits until its batch has committed or failed. */
static int
submit(struct store_be *b, int (*fn)(struct store_be *b, void *arg), void *arg)
{
    struct wop op = {.fn = fn, .arg = arg};
    pthread_cond_init(&op.cv, NULL);
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        pthread_cond_destroy(&op.cv);
        return STORE_ERR;
    }
    if (b->tail != NULL)
        b->tail->next = &op;
    else
        b->head = &op;
    b->tail = &op;
    pthread_cond_signal(&b->wake);
    while (!op.done)
        pthread_cond_wait(&op.cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&op.cv);
    return op.rc;
}

/* Queues fn(arg) and returns at once; on_done(done_arg, rc) runs on the writer thread after the
 * batch, then free_arg(arg). -1 (nothing queued, nothing called; arg not freed) when stopping. */
static int
submit_async(struct store_be *b, int (*fn)(struct store_be *b, void *arg), void *arg,
             void (*free_arg)(void *arg), void (*on_done)(void *done_arg, int rc), void *done_arg)
{
    struct wop *op = calloc(1, sizeof *op);
    if (op == NULL)
        return -1;
    *op = (struct wop){.fn = fn, .arg = arg, .on_done = on_done, .done_arg = done_arg,
                       .free_arg = free_arg};
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        free(op);
        return -1;
    }
    if (b->tail != NULL)
        b->tail->next = op;
    else
        b->head = op;
    b->tail = op;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* A write that is one statement. */
struct a_simple {
    enum wst id;
    const struct val *v;
    int nv;
    int need_change;
    const char *what;
};

static int
w_simple(struct store_be *b, void *arg)
{
    struct a_simple *a = arg;
    return wrun(b, a->id, a->v, a->nv, a->need_change, a->what);
}

static int
write_simple(struct store_be *b, enum wst id, const struct val *v, int nv, int need_change,
             const char *what)
{
    struct a_simple a = {id, v, nv, need_change, what};
    return submit(b, w_simple, &a);
}

/* Appends one account event; writer only, inside the caller's operation. */
static int
event_add(struct store_be *b, const char *account_id, const char *project_id, const char *type,
          const char *status, const char *reason, int64_t now)
{
    struct val v[] = {V_TEXT(account_id), V_TEXT(project_id), V_TEXT(type),
                      V_TEXT(status),     V_TEXT(reason),     V_INT(now)};
    return wrun(b, W_EVENT_INSERT, v, NVALS(v), 0, "event_add");
}

/* "account.<status in lower case>" */
static void
event_type(const char *status, char out[32])
{
    size_t o = 0;
    const char *prefix = "account.";
    for (const char *p = prefix; *p != '\0'; p++)
        out[o++] = *p;
    for (const char *p = status; *p != '\0' && o < 31; p++)
        out[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    out[o] = '\0';
}

/* ---- open, close, schema ------------------------------------------------------------------ */

/* mkdir -p with mode 0700 for every directory it creates. */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof tmp) {
        snprintf(err, errlen, "database directory path is too long");
        return -1;
    }
    memcpy(tmp, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory '%s': %s", tmp, strerror(errno));
            return -1;
        }
        tmp[i] = c;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "'%s' is not a directory", dir);
        return -1;
    }
    return 0;
}

static int
pragma_wal_cb(void *arg, int ncol, char **vals, char **names)
{
    int *ok = arg;
    *ok = ncol > 0 && vals[0] != NULL && strcmp(vals[0], "wal") == 0;
    return 0;
}

/* Opens the write connection and sets the connection pragmas. */
static int
open_writer(struct store_be *b, char *err, size_t errlen)
{
    /* Create the file owner-only before SQLite does; its -wal and -shm files copy the mode. */
    int fd = open(b->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open database '%s': %s", b->path, strerror(errno));
        return -1;
    }
    close(fd);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(b->path, &b->wdb, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database '%s': %s", b->path, sqlite3_errmsg(b->wdb));
        return -1;
    }
    sqlite3_extended_result_codes(b->wdb, 1);
    sqlite3_busy_timeout(b->wdb, BUSY_MS);
    int wal = 0;
    if (sqlite3_exec(b->wdb, "PRAGMA journal_mode=WAL", pragma_wal_cb, &wal, NULL) != SQLITE_OK ||
        !wal) {
        snprintf(err, errlen, "cannot switch database '%s' to WAL mode: %s", b->path,
                 sqlite3_errmsg(b->wdb));
        return -1;
    }
    /* Checkpoints every 4,000 pages (16 MiB of WAL) instead of 1,000: a page rewritten by many
     * commits reaches the database file once per checkpoint. A 16 MiB page cache keeps the
     * writer's hot index pages in memory. */
    if (sqlite3_exec(b->wdb,
                     "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                     "PRAGMA wal_autocheckpoint=4000; PRAGMA cache_size=-16384",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure database '%s': %s", b->path,
                 sqlite3_errmsg(b->wdb));
        return -1;
    }
    return 0;
}

static void
close_readers(struct store_be *b)
{
    pthread_mutex_lock(&b->rmu);
    struct rconn *rc = b->readers;
    b->readers = NULL;
    pthread_mutex_unlock(&b->rmu);
    while (rc != NULL) {
        struct rconn *next = rc->next;
        rconn_free(rc);
        rc = next;
    }
}

/* Frees b; the writer thread must not be running. */
static void
be_free(struct store_be *b)
{
    for (int i = 0; i < W__COUNT; i++)
        sqlite3_finalize(b->wst[i]);
    if (b->wdb != NULL && sqlite3_close(b->wdb) != SQLITE_OK)
        log_error("store: cannot close the write connection", "err=busy");
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->rmu);
    free(b);
}

static int
sq_open(const char *dir, struct store_be **out, char *err, size_t errlen)
{
    if (make_dirs(dir, err, errlen) != 0)
        return -1;
    struct store_be *b = calloc(1, sizeof *b);
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_mutex_init(&b->rmu, NULL);
    int n = snprintf(b->path, sizeof b->path, "%s/tether.db", dir);
    if (n < 0 || (size_t)n >= sizeof b->path) {
        snprintf(err, errlen, "database directory path is too long");
        be_free(b);
        return -1;
    }
    if (open_writer(b, err, errlen) != 0) {
        be_free(b);
        return -1;
    }
    if (pthread_key_create(&b->rkey, rconn_thread_exit) != 0) {
        snprintf(err, errlen, "cannot create a thread key");
        be_free(b);
        return -1;
    }
    if (pthread_create(&b->writer, NULL, writer_main, b) != 0) {
        snprintf(err, errlen, "cannot start the database writer thread");
        pthread_key_delete(b->rkey);
        be_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* Stops the writer after the queue drains, then closes every connection. Other threads must have
 * stopped calling the store; their read connections are closed here, and the key is deleted
 * first so that a thread exiting later does not touch freed state. */
static void
sq_close(struct store_be *b)
{
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->writer, NULL);
    log_info("store: closed", "writes=%lld batches=%lld", (long long)b->ops, (long long)b->batches);
    pthread_key_delete(b->rkey);
    close_readers(b);
    be_free(b);
}

struct a_version {
    int64_t v;
};

static int
w_schema_version(struct store_be *b, void *arg)
{
    struct a_version *a = arg;
    static const char create[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                 "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";
    if (sqlite3_exec(b->wdb, create, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(b->wdb, "schema_version");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(b->wdb, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_fail(b->wdb, "schema_version");
    }
    int rc = step_one(b->wdb, st, NULL, 0, row_int, &a->v, "schema_version");
    sqlite3_finalize(st);
    return rc;
}

static int
sq_schema_version(struct store_be *b, int64_t *out)
{
    struct a_version a = {0};
    int rc = submit(b, w_schema_version, &a);
    if (rc == 0)
        *out = a.v;
    return rc;
}

struct a_migrate {
    int64_t version;
    const char *sql;
};

static int
w_migrate(struct store_be *b, void *arg)
{
    struct a_migrate *a = arg;
    if (sqlite3_exec(b->wdb, a->sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(b->wdb, "migrate");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(b->wdb, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_fail(b->wdb, "migrate");
    }
    struct val v[] = {V_INT(a->version), V_INT(time_now_ms())};
    bind_vals(st, v, NVALS(v));
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(b->wdb, "migrate");
    sqlite3_finalize(st);
    return rc;
}

/* Each call is queued alone, so it commits as its own transaction. */
static int
sq_migrate(struct store_be *b, int64_t version, const char *sql)
{
    struct a_migrate a = {version, sql};
    return submit(b, w_migrate, &a);
}

/* ---- projects and API keys ---------------------------------------------------------------- */

static int
sq_project_create(struct store_be *b, const char *id, const char *name)
{
    struct val v[] = {V_TEXT(id), V_TEXT(name), V_INT(time_now_ms())};
    return write_simple(b, W_PROJECT_INSERT, v, NVALS(v), 0, "project_create");
}

static int
sq_project_get(struct store_be *b, const char *id, struct st_project *out)
{
    struct st_project p = {0};
    struct val v[] = {V_TEXT(id)};
    int rc = read_one(b, R_PROJECT_GET, v, NVALS(v), row_project, &p, "project_get");
    if (rc == 0)
        *out = p;
    return rc;
}

static int
sq_project_first(struct store_be *b, struct st_project *out)
{
    struct st_project p = {0};
    int rc = read_one(b, R_PROJECT_FIRST, NULL, 0, row_project, &p, "project_first");
    if (rc == 0)
        *out = p;
    return rc;
}

static int
sq_project_all(struct store_be *b, struct st_project **items, size_t *n)
{
    struct val v[] = {V_INT(STORE_EACH_MAX)};
    void *arr = NULL;
    int rc = read_all(b, R_PROJECT_ALL, v, NVALS(v), row_project, clr_project, sizeof **items,
                      STORE_EACH_MAX, &arr, n, "project_all");
    if (rc == 0)
        *items = arr;
    return rc;
}

static int
sq_project_set_settings(struct store_be *b, const char *id, const char *settings_json)
{
    struct val v[] = {V_TEXT(id), V_TEXT(settings_json)};
    return write_simple(b, W_PROJECT_SETTINGS, v, NVALS(v), 1, "project_set_settings");
}

static int
sq_key_create(struct store_be *b, const char *id, const char *project_id,
              const unsigned char hash[STORE_HASH], const char *hint)
{
    struct val v[] = {V_TEXT(id), V_TEXT(project_id), V_BLOB(hash, STORE_HASH), V_TEXT(hint),
                      V_INT(time_now_ms())};
    return write_simple(b, W_KEY_INSERT, v, NVALS(v), 0, "key_create");
}

static int
sq_key_lookup(struct store_be *b, const unsigned char hash[STORE_HASH], struct st_api_key *out)
{
    struct st_api_key k = {0};
    struct val v[] = {V_BLOB(hash, STORE_HASH)};
    int rc = read_one(b, R_KEY_LOOKUP, v, NVALS(v), row_key, &k, "key_lookup");
    if (rc == 0)
        *out = k;
    return rc;
}

static int
sq_key_all(struct store_be *b, const char *project_id, struct st_api_key **items, size_t *n)
{
    struct val v[] = {V_TEXT(project_id), V_INT(STORE_EACH_MAX)};
    void *arr = NULL;
    int rc = read_all(b, R_KEY_ALL, v, NVALS(v), row_key, NULL, sizeof **items, STORE_EACH_MAX,
                      &arr, n, "key_all");
    if (rc == 0)
        *items = arr;
    return rc;
}

static int
sq_key_revoke(struct store_be *b, const char *project_id, const char *id)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id), V_INT(time_now_ms())};
    return write_simple(b, W_KEY_REVOKE, v, NVALS(v), 1, "key_revoke");
}

/* ---- managed OAuth apps --------------------------------------------------------------------- */

static int
sq_managed_app_set(struct store_be *b, const struct st_managed_app *a)
{
    struct val v[] = {V_TEXT(a->toolkit), V_TEXT(a->client_id),
                      V_BLOB(a->secret_enc, a->secret_len), V_TEXT(a->scopes),
                      V_INT(time_now_ms())};
    return write_simple(b, W_APP_UPSERT, v, NVALS(v), 0, "managed_app_set");
}

static int
sq_managed_app_get(struct store_be *b, const char *toolkit, struct st_managed_app *out)
{
    struct st_managed_app a = {0};
    struct val v[] = {V_TEXT(toolkit)};
    int rc = read_one(b, R_APP_GET, v, NVALS(v), row_app, &a, "managed_app_get");
    if (rc == 0)
        *out = a;
    return rc;
}

/* ---- auth configs ---------------------------------------------------------------------------- */

static int
sq_auth_config_create(struct store_be *b, const struct st_auth_config *c)
{
    int64_t now = time_now_ms();
    int64_t created = c->created_at > 0 ? c->created_at : now;
    struct val v[] = {V_TEXT(c->id),
                      V_TEXT(c->project_id),
                      V_TEXT(c->toolkit),
                      V_TEXT(c->auth_scheme),
                      V_TEXT(c->name),
                      V_INT(c->is_managed ? 1 : 0),
                      V_INT(c->disabled ? 1 : 0),
                      V_TEXT(c->client_id),
                      V_BLOB(c->secret_enc, c->secret_len),
                      V_TEXT(c->scopes),
                      V_TEXT(c->extra != NULL ? c->extra : "{}"),
                      V_INT(created),
                      V_INT(c->updated_at > 0 ? c->updated_at : created)};
    return write_simple(b, W_AC_INSERT, v, NVALS(v), 0, "auth_config_create");
}

static int
sq_auth_config_get(struct store_be *b, const char *project_id, const char *id,
                   struct st_auth_config *out)
{
    struct st_auth_config c = {0};
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    int rc = read_one(b, R_AC_GET, v, NVALS(v), row_ac, &c, "auth_config_get");
    if (rc == 0)
        *out = c;
    return rc;
}

static int
sq_auth_config_newest(struct store_be *b, const char *project_id, const char *toolkit, int managed,
                      struct st_auth_config *out)
{
    struct st_auth_config c = {0};
    struct val v[] = {V_TEXT(project_id), V_TEXT(toolkit), V_INT(managed)};
    int rc = read_one(b, R_AC_NEWEST, v, NVALS(v), row_ac, &c, "auth_config_newest");
    if (rc == 0)
        *out = c;
    return rc;
}

static int
sq_auth_config_list(struct store_be *b, const struct st_auth_config_query *q,
                    const struct store_cursor *cur, int limit, struct st_auth_config_page *out)
{
    struct val v[] = {V_TEXT(q->project_id),
                      V_TEXT(q->toolkit),
                      V_INT(q->managed),
                      V_INT(q->show_disabled ? 1 : 0),
                      V_TEXT(q->search),
                      cur->set ? V_INT(cur->created_at) : V_TEXT(NULL),
                      V_TEXT(cur->set ? cur->id : NULL),
                      V_INT(limit + 1)};
    struct st_auth_config_page page = {0};
    /* Count and page from one snapshot. */
    if (read_ctl(b, R_BEGIN) != 0)
        return STORE_ERR;
    void *arr = NULL;
    int rc = read_one(b, R_AC_COUNT, v, 5, row_int, &page.total, "auth_config_count");
    if (rc == 0)
        rc = read_all(b, R_AC_PAGE, v, NVALS(v), row_ac, clr_ac, sizeof *page.items,
                      (size_t)limit + 1, &arr, &page.n, "auth_config_list");
    read_ctl(b, R_COMMIT);
    page.items = arr;
    if (rc != 0)
        return rc;
    *out = page;
    return 0;
}

static int
sq_auth_config_set_disabled(struct store_be *b, const char *project_id, const char *id,
                            int disabled)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id), V_INT(disabled), V_INT(time_now_ms())};
    return write_simple(b, W_AC_DISABLE, v, NVALS(v), 1, "auth_config_set_disabled");
}

static int
sq_auth_config_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    return write_simple(b, W_AC_DELETE, v, NVALS(v), 1, "auth_config_delete");
}

/* ---- sessions -------------------------------------------------------------------------------- */

static int
sq_session_create(struct store_be *b, const struct st_session *x)
{
    int64_t now = time_now_ms();
    int64_t created = x->created_at > 0 ? x->created_at : now;
    struct val v[] = {V_TEXT(x->id),
                      V_TEXT(x->project_id),
                      V_TEXT(x->user_id),
                      V_TEXT(x->config != NULL ? x->config : "{}"),
                      V_INT(x->version > 0 ? x->version : 1),
                      V_INT(created),
                      V_INT(x->updated_at > 0 ? x->updated_at : created)};
    return write_simple(b, W_SESSION_INSERT, v, NVALS(v), 0, "session_create");
}

static int
sq_session_get(struct store_be *b, const char *project_id, const char *id, struct st_session *out)
{
    struct st_session x = {0};
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    int rc = read_one(b, R_SESSION_GET, v, NVALS(v), row_session, &x, "session_get");
    if (rc == 0)
        *out = x;
    return rc;
}

struct a_session_update {
    const struct val *v;
    int nv;
    struct st_session row;
};

static int
w_session_update(struct store_be *b, void *arg)
{
    struct a_session_update *a = arg;
    return wrow(b, W_SESSION_UPDATE, a->v, a->nv, row_session, &a->row, "session_update");
}

static int
sq_session_update(struct store_be *b, const char *project_id, const char *id,
                  const char *config_json, struct st_session *out)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id), V_TEXT(config_json), V_INT(time_now_ms())};
    struct a_session_update a = {.v = v, .nv = NVALS(v)};
    int rc = submit(b, w_session_update, &a);
    if (rc == 0 && out != NULL)
        *out = a.row;
    else
        st_session_clear(&a.row);
    return rc;
}

static int
sq_session_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    return write_simple(b, W_SESSION_DELETE, v, NVALS(v), 1, "session_delete");
}

/* ---- connected accounts: writes -------------------------------------------------------------- */

struct a_create_linked {
    const struct st_account *a;
    const struct st_link *l;
    int64_t now;
};

static int
insert_link(struct store_be *b, const struct st_account *a, const struct st_link *l, int64_t now)
{
    struct val v[] = {V_BLOB(l->token_hash, STORE_HASH),
                      V_TEXT(a->id),
                      V_TEXT(a->project_id),
                      V_TEXT(l->session_id),
                      V_TEXT(l->callback_url),
                      V_BLOB(l->has_state ? l->state_hash : NULL, STORE_HASH),
                      V_BLOB(l->verifier_enc, l->verifier_len),
                      V_INT(l->created_at > 0 ? l->created_at : now),
                      V_INT(l->expires_at)};
    return wrun(b, W_LINK_INSERT, v, NVALS(v), 0, "link_insert");
}

static int
w_create_linked(struct store_be *b, void *arg)
{
    struct a_create_linked *x = arg;
    const struct st_account *a = x->a;
    const char *status = a->status[0] != '\0' ? a->status : "INITIATED";
    int64_t created = a->created_at > 0 ? a->created_at : x->now;
    struct val v[] = {V_TEXT(a->id),
                      V_TEXT(a->project_id),
                      V_TEXT(a->user_id),
                      V_TEXT(a->toolkit),
                      V_TEXT(a->auth_config_id),
                      V_TEXT(status),
                      V_TEXT(a->status_reason),
                      V_INT(a->is_disabled ? 1 : 0),
                      V_TEXT(a->alias),
                      V_TEXT(a->word_id),
                      V_BLOB(a->creds_enc, a->creds_len),
                      V_TEXT(a->data != NULL ? a->data : "{}"),
                      V_INT(created),
                      V_INT(a->updated_at > 0 ? a->updated_at : created),
                      V_INT(a->connected_at),
                      V_INT(a->expires_at),
                      V_INT(x->l != NULL && x->l->expires_at > 0 ? x->l->expires_at : 0)};
    int rc = wrun(b, W_ACCOUNT_INSERT, v, NVALS(v), 0, "account_create");
    if (rc == 0 && x->l != NULL)
        rc = insert_link(b, a, x->l, x->now);
    if (rc != 0)
        return rc;
    char type[32];
    event_type(status, type);
    return event_add(b, a->id, a->project_id, type, status, a->status_reason, x->now);
}

static int
sq_account_create_linked(struct store_be *b, const struct st_account *a, const struct st_link *l)
{
    struct a_create_linked x = {a, l, time_now_ms()};
    return submit(b, w_create_linked, &x);
}

/* The asynchronous form keeps its own copies of the account and link. */
struct owned_create_linked {
    struct a_create_linked x;
    struct st_account a;
    struct st_link l;
};

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void *
dup_blob(const unsigned char *p, size_t n)
{
    void *q = p && n ? malloc(n) : NULL;
    if (q != NULL)
        memcpy(q, p, n);
    return q;
}

static void
owned_free(void *arg)
{
    struct owned_create_linked *o = arg;
    st_account_clear(&o->a);
    st_link_clear(&o->l);
    free(o);
}

static int
sq_account_create_linked_async(struct store_be *b, const struct st_account *a,
                               const struct st_link *l, void (*done)(void *arg, int rc),
                               void *arg)
{
    struct owned_create_linked *o = calloc(1, sizeof *o);
    if (o == NULL)
        return -1;
    o->a = *a;
    o->a.user_id = dup_or_null(a->user_id);
    o->a.status_reason = dup_or_null(a->status_reason);
    o->a.alias = dup_or_null(a->alias);
    o->a.data = dup_or_null(a->data);
    o->a.creds_enc = dup_blob(a->creds_enc, a->creds_len);
    if (l != NULL) {
        o->l = *l;
        o->l.callback_url = dup_or_null(l->callback_url);
        o->l.verifier_enc = dup_blob(l->verifier_enc, l->verifier_len);
    }
    o->x = (struct a_create_linked){&o->a, l ? &o->l : NULL, time_now_ms()};
    if (submit_async(b, w_create_linked, o, owned_free, done, arg) != 0) {
        owned_free(o);
        return -1;
    }
    return 0;
}

struct a_transition {
    const char *id;
    const char *const *from;
    const char *to;
    const char *reason;
    int64_t now;
};

static int
w_transition(struct store_be *b, void *arg)
{
    struct a_transition *x = arg;
    struct val v[4 + STORE_FROM_MAX] = {V_TEXT(x->id), V_TEXT(x->to), V_TEXT(x->reason),
                                        V_INT(x->now)};
    for (int i = 0; i < STORE_FROM_MAX; i++)
        v[4 + i] = V_TEXT(x->from[i]);
    char project[STORE_ID];
    int rc = wrow(b, W_ACCOUNT_TRANSITION, v, NVALS(v), row_id, project, "account_transition");
    if (rc != 0)
        return rc;
    char type[32];
    event_type(x->to, type);
    return event_add(b, x->id, project, type, x->to, x->reason, x->now);
}

static int
sq_account_transition(struct store_be *b, const char *id, const char *const *from, const char *to,
                      const char *reason)
{
    const char *fromv[STORE_FROM_MAX] = {0};
    for (int i = 0; i < STORE_FROM_MAX && from[i] != NULL; i++)
        fromv[i] = from[i];
    struct a_transition x = {id, fromv, to, reason, time_now_ms()};
    return submit(b, w_transition, &x);
}

struct a_activate {
    const struct val *v;
    int nv;
    const char *id;
    int64_t now;
};

static int
w_activate(struct store_be *b, void *arg)
{
    struct a_activate *x = arg;
    char project[STORE_ID];
    int rc = wrow(b, W_ACCOUNT_ACTIVATE, x->v, x->nv, row_id, project, "account_activate");
    if (rc != 0)
        return rc;
    return event_add(b, x->id, project, "account.active", "ACTIVE", NULL, x->now);
}

static int
sq_account_activate(struct store_be *b, const char *id, const unsigned char *creds_enc,
                    size_t creds_len, const char *data_json, int64_t expires_at)
{
    int64_t now = time_now_ms();
    struct val v[] = {V_TEXT(id), V_BLOB(creds_enc, creds_len), V_TEXT(data_json),
                      V_INT(expires_at), V_INT(now)};
    struct a_activate x = {v, NVALS(v), id, now};
    return submit(b, w_activate, &x);
}

struct a_set_disabled {
    const char *project_id;
    const char *id;
    int disabled;
    int64_t now;
};

struct account_state {
    char status[16];
    int is_disabled;
};

static int
row_state(sqlite3_stmt *st, void *out)
{
    struct account_state *s = out;
    col_copy(st, 0, s->status, sizeof s->status);
    s->is_disabled = sqlite3_column_int(st, 1);
    return 0;
}

/* Disabling an ACTIVE account makes it INACTIVE; enabling an INACTIVE one makes it ACTIVE. Other
 * statuses only flip the flag. A call that changes nothing logs no event. */
static int
w_set_disabled(struct store_be *b, void *arg)
{
    struct a_set_disabled *x = arg;
    struct account_state cur;
    struct val key[] = {V_TEXT(x->project_id), V_TEXT(x->id)};
    int rc = wrow(b, W_ACCOUNT_STATE, key, NVALS(key), row_state, &cur, "account_state");
    if (rc != 0 || cur.is_disabled == x->disabled)
        return rc;
    const char *status = cur.status;
    if (x->disabled && strcmp(cur.status, "ACTIVE") == 0)
        status = "INACTIVE";
    else if (!x->disabled && strcmp(cur.status, "INACTIVE") == 0)
        status = "ACTIVE";
    struct val v[] = {V_TEXT(x->project_id), V_TEXT(x->id), V_INT(x->disabled), V_TEXT(status),
                      V_INT(x->now)};
    rc = wrun(b, W_ACCOUNT_SET_DISABLED, v, NVALS(v), 1, "account_set_disabled");
    if (rc != 0)
        return rc;
    return event_add(b, x->id, x->project_id, x->disabled ? "account.disabled" : "account.enabled",
                     status, NULL, x->now);
}

static int
sq_account_set_disabled(struct store_be *b, const char *project_id, const char *id, int disabled)
{
    struct a_set_disabled x = {project_id, id, disabled, time_now_ms()};
    return submit(b, w_set_disabled, &x);
}

struct a_delete {
    const char *project_id;
    const char *id;
    int64_t now;
};

static int
w_delete(struct store_be *b, void *arg)
{
    struct a_delete *x = arg;
    char status[STORE_ID];
    struct val v[] = {V_TEXT(x->project_id), V_TEXT(x->id)};
    int rc = wrow(b, W_ACCOUNT_DELETE, v, NVALS(v), row_id, status, "account_delete");
    if (rc != 0)
        return rc;
    status[15] = '\0';
    return event_add(b, x->id, x->project_id, "account.deleted", status, NULL, x->now);
}

static int
sq_account_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct a_delete x = {project_id, id, time_now_ms()};
    return submit(b, w_delete, &x);
}

struct due {
    char id[STORE_ID];
    char project_id[STORE_ID];
};

static int
row_due(sqlite3_stmt *st, void *out)
{
    struct due *d = out;
    col_copy(st, 0, d->id, sizeof d->id);
    col_copy(st, 1, d->project_id, sizeof d->project_id);
    return 0;
}

struct a_expire {
    int64_t cutoff;
    int64_t now;
    struct due *rows; /* the chunk expired by this operation */
    size_t n;
};

static int
w_expire_chunk(struct store_be *b, void *arg)
{
    struct a_expire *x = arg;
    sqlite3_stmt *st = wprep(b, W_ACCOUNT_DUE);
    if (st == NULL)
        return STORE_ERR;
    struct val v[] = {V_INT(x->cutoff), V_INT(EXPIRE_CHUNK)};
    void *arr = NULL;
    int rc = step_all(b->wdb, st, v, NVALS(v), row_due, NULL, sizeof *x->rows, EXPIRE_CHUNK, &arr,
                      &x->n, "account_expire_due");
    x->rows = arr;
    for (size_t i = 0; rc == 0 && i < x->n; i++) {
        struct val u[] = {V_TEXT(x->rows[i].id), V_INT(x->now)};
        rc = wrun(b, W_ACCOUNT_EXPIRE, u, NVALS(u), 0, "account_expire");
        if (rc == 0)
            rc = event_add(b, x->rows[i].id, x->rows[i].project_id, "account.expired", "EXPIRED",
                           "link expired", x->now);
    }
    return rc;
}

/* Expires in chunks of EXPIRE_CHUNK, one transaction each, until no due account is left. */
static int
sq_account_expire_due(struct store_be *b, int64_t now_ms, char (**ids)[STORE_ID], size_t *n)
{
    char(*all)[STORE_ID] = NULL;
    size_t total = 0;
    for (;;) {
        struct a_expire x = {now_ms, time_now_ms(), NULL, 0};
        int rc = submit(b, w_expire_chunk, &x);
        if (rc == 0 && x.n > 0) {
            char(*grown)[STORE_ID] = realloc(all, (total + x.n) * sizeof *all);
            if (grown == NULL) {
                rc = STORE_ERR;
            } else {
                all = grown;
                for (size_t i = 0; i < x.n; i++)
                    memcpy(all[total + i], x.rows[i].id, STORE_ID);
                total += x.n;
            }
        }
        size_t got = x.n;
        free(x.rows);
        if (rc != 0) {
            /* Earlier chunks are committed; report them rather than lose track of them. */
            if (total > 0)
                break;
            free(all);
            return rc;
        }
        if (got < EXPIRE_CHUNK)
            break;
    }
    *ids = all;
    *n = total;
    return 0;
}

/* ---- connected accounts: reads --------------------------------------------------------------- */

static int
sq_account_get(struct store_be *b, const char *project_id, const char *id, struct st_account *out)
{
    struct st_account a = {0};
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    int rc = read_one(b, R_ACCOUNT_GET, v, NVALS(v), row_account, &a, "account_get");
    if (rc == 0)
        *out = a;
    return rc;
}

static int
sq_account_get_any(struct store_be *b, const char *id, struct st_account *out)
{
    struct st_account a = {0};
    struct val v[] = {V_TEXT(id)};
    int rc = read_one(b, R_ACCOUNT_GET_ANY, v, NVALS(v), row_account, &a, "account_get_any");
    if (rc == 0)
        *out = a;
    return rc;
}

static int
sq_account_active_for_user(struct store_be *b, const char *project_id, const char *user_id,
                           struct st_account_page *out)
{
    struct st_account_page page = {0};
    struct val v[] = {V_TEXT(project_id), V_TEXT(user_id)};
    void *arr = NULL;
    int rc = read_all(b, R_ACCOUNT_ACTIVE, v, NVALS(v), row_account, clr_account,
                      sizeof *page.items, STORE_PAGE_MAX, &arr, &page.n, "account_active_for_user");
    if (rc != 0)
        return rc;
    page.items = arr;
    page.total = (int64_t)page.n;
    *out = page;
    return 0;
}

/* The WHERE clause of an account list, built with one placeholder per value. */
struct where {
    struct buf sql;
    struct val *v;
    int nv;
};

/* Appends " AND col IN (?, ...)" for a non-empty list. */
static int
where_in(struct where *w, const char *col, const char *const *list)
{
    if (list == NULL || list[0] == NULL)
        return 0;
    if (buf_printf(&w->sql, " AND %s IN (", col) != 0)
        return -1;
    for (size_t i = 0; list[i] != NULL; i++) {
        if (buf_puts(&w->sql, i == 0 ? "?" : ", ?") != 0)
            return -1;
        w->v[w->nv++] = V_TEXT(list[i]);
    }
    return buf_puts(&w->sql, ")");
}

static int
where_build(struct where *w, const struct st_account_query *q)
{
    w->v[w->nv++] = V_TEXT(q->project_id);
    if (buf_puts(&w->sql, "project_id = ?") != 0 || where_in(w, "user_id", q->user_ids) != 0 ||
        where_in(w, "toolkit", q->toolkits) != 0 ||
        where_in(w, "auth_config_id", q->auth_config_ids) != 0 ||
        where_in(w, "status", q->statuses) != 0)
        return -1;
    return 0;
}

/* Prepares dynamic SQL on the read connection (not cached: its shape varies). */
static sqlite3_stmt *
prepare_dynamic(struct store_be *b, const char *sql, sqlite3 **db)
{
    struct rconn *rc = reader(b);
    sqlite3_stmt *st = NULL;
    if (rc == NULL)
        return NULL;
    *db = rc->db;
    if (sqlite3_prepare_v3(rc->db, sql, -1, 0, &st, NULL) != SQLITE_OK) {
        db_fail(rc->db, "prepare_account_list");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static int
account_count(struct store_be *b, const struct where *w, int64_t *total)
{
    struct buf sql;
    sqlite3 *db;
    buf_init(&sql, 64 * 1024);
    if (buf_printf(&sql, "SELECT count(*) FROM accounts WHERE %s", w->sql.data) != 0) {
        buf_free(&sql);
        return STORE_ERR;
    }
    sqlite3_stmt *st = prepare_dynamic(b, sql.data, &db);
    buf_free(&sql);
    if (st == NULL)
        return STORE_ERR;
    int rc = step_one(db, st, w->v, w->nv, row_int, total, "account_count");
    sqlite3_finalize(st);
    return rc;
}

static int
account_page(struct store_be *b, struct where *w, const struct store_cursor *cur, int asc,
             int limit, struct st_account_page *page)
{
    struct buf sql;
    sqlite3 *db;
    buf_init(&sql, 64 * 1024);
    int bad = buf_printf(&sql, "SELECT " ACCOUNT_COLS " FROM accounts WHERE %s", w->sql.data);
    if (cur->set) {
        bad |= buf_printf(&sql, " AND (created_at, id) %s (?, ?)", asc ? ">" : "<");
        w->v[w->nv++] = V_INT(cur->created_at);
        w->v[w->nv++] = V_TEXT(cur->id);
    }
    bad |= buf_printf(&sql, " ORDER BY created_at %s, id %s LIMIT ?", asc ? "ASC" : "DESC",
                      asc ? "ASC" : "DESC");
    w->v[w->nv++] = V_INT(limit + 1);
    sqlite3_stmt *st = bad ? NULL : prepare_dynamic(b, sql.data, &db);
    buf_free(&sql);
    if (st == NULL)
        return STORE_ERR;
    void *arr = NULL;
    int rc = step_all(db, st, w->v, w->nv, row_account, clr_account, sizeof *page->items,
                      (size_t)limit + 1, &arr, &page->n, "account_list");
    sqlite3_finalize(st);
    page->items = arr;
    return rc;
}

static int
sq_account_list(struct store_be *b, const struct st_account_query *q,
                const struct store_cursor *cur, int limit, struct st_account_page *out)
{
    struct where w = {.nv = 0};
    struct st_account_page page = {0};
    /* project, four lists, the cursor pair and the limit */
    w.v = calloc(1 + 4 * STORE_LIST_MAX + 3, sizeof *w.v);
    if (w.v == NULL)
        return STORE_ERR;
    buf_init(&w.sql, 32 * 1024);
    int rc = where_build(&w, q) == 0 ? 0 : STORE_ERR;
    if (rc == 0)
        rc = read_ctl(b, R_BEGIN); /* count and page from one snapshot */
    if (rc == 0) {
        rc = account_count(b, &w, &page.total);
        if (rc == 0)
            rc = account_page(b, &w, cur, q->order_asc, limit, &page);
        read_ctl(b, R_COMMIT);
    }
    buf_free(&w.sql);
    free(w.v);
    if (rc != 0)
        return rc;
    *out = page;
    return 0;
}

static int
sq_account_counts(struct store_be *b, struct store_count **items, size_t *n)
{
    void *arr = NULL;
    int rc = read_all(b, R_ACCOUNT_COUNTS, NULL, 0, row_count, NULL, sizeof **items, 64, &arr, n,
                      "account_counts");
    if (rc == 0)
        *items = arr;
    return rc;
}

/* ---- Connect Links --------------------------------------------------------------------------- */

static int
sq_link_get(struct store_be *b, const unsigned char token_hash[STORE_HASH], struct st_link *out)
{
    struct st_link l = {0};
    struct val v[] = {V_BLOB(token_hash, STORE_HASH)};
    int rc = read_one(b, R_LINK_GET, v, NVALS(v), row_link, &l, "link_get");
    if (rc == 0)
        *out = l;
    return rc;
}

static int
sq_link_set_state(struct store_be *b, const unsigned char token_hash[STORE_HASH],
                  const unsigned char state_hash[STORE_HASH], const unsigned char *verifier_enc,
                  size_t verifier_len)
{
    struct val v[] = {V_BLOB(token_hash, STORE_HASH), V_BLOB(state_hash, STORE_HASH),
                      V_BLOB(verifier_enc, verifier_len)};
    return write_simple(b, W_LINK_SET_STATE, v, NVALS(v), 1, "link_set_state");
}

struct a_consume {
    const unsigned char *state_hash;
    int64_t now;
    struct st_link row;
};

static int
w_consume(struct store_be *b, void *arg)
{
    struct a_consume *x = arg;
    struct val v[] = {V_BLOB(x->state_hash, STORE_HASH)};
    int rc = wrow(b, W_LINK_BY_STATE, v, NVALS(v), row_link, &x->row, "link_consume_state");
    if (rc != 0 || x->row.used_at != 0)
        return rc;
    struct val u[] = {V_BLOB(x->row.token_hash, STORE_HASH), V_INT(x->now)};
    return wrun(b, W_LINK_USE, u, NVALS(u), 0, "link_consume_state");
}

static int
sq_link_consume_state(struct store_be *b, const unsigned char state_hash[STORE_HASH],
                      struct st_link *out)
{
    struct a_consume x = {.state_hash = state_hash, .now = time_now_ms()};
    int rc = submit(b, w_consume, &x);
    if (rc == 0)
        *out = x.row;
    else
        st_link_clear(&x.row);
    return rc;
}

static int
sq_link_mark_used(struct store_be *b, const unsigned char token_hash[STORE_HASH])
{
    struct val v[] = {V_BLOB(token_hash, STORE_HASH), V_INT(time_now_ms())};
    return write_simple(b, W_LINK_USE, v, NVALS(v), 1, "link_mark_used");
}

/* ---- events --------------------------------------------------------------------------------- */

static int
sq_event_list(struct store_be *b, const char *project_id, const char *account_id, int limit,
              struct st_event **out, size_t *n)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(account_id), V_INT(limit)};
    void *arr = NULL;
    int rc = read_all(b, R_EVENT_LIST, v, NVALS(v), row_event, clr_event, sizeof **out,
                      (size_t)limit, &arr, n, "event_list");
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
row_day(sqlite3_stmt *st, void *out)
{
    struct st_event_day *d = out;
    d->day = sqlite3_column_int64(st, 0);
    col_copy(st, 1, d->status, sizeof d->status);
    d->n = sqlite3_column_int64(st, 2);
    return 0;
}

static int
sq_account_counts_project(struct store_be *b, const char *project_id, struct store_count **items,
                          size_t *n)
{
    struct val v[] = {V_TEXT(project_id)};
    void *arr = NULL;
    int rc = read_all(b, R_ACCOUNT_COUNTS_PROJECT, v, NVALS(v), row_count, NULL, sizeof **items,
                      64, &arr, n, "account_counts_project");
    if (rc == 0)
        *items = arr;
    return rc;
}

static int
sq_event_daily(struct store_be *b, const char *project_id, int64_t since_ms, size_t max,
               struct st_event_day **out, size_t *n)
{
    struct val v[] = {V_TEXT(project_id), V_INT(since_ms), V_INT((int64_t)max)};
    void *arr = NULL;
    int rc = read_all(b, R_EVENT_DAILY, v, NVALS(v), row_day, NULL, sizeof **out, max, &arr, n,
                      "event_daily");
    if (rc == 0)
        *out = arr;
    return rc;
}

/* ---- credential lifecycle, webhooks, key rotation (migration 2) ------------------------------ */

/* An account row followed by its refresh_failures column. */
struct claimed {
    struct st_account *a;
    int failures;
};

static int
row_claimed(sqlite3_stmt *st, void *out)
{
    struct claimed *x = out;
    if (row_account(st, x->a) != 0)
        return -1;
    x->failures = sqlite3_column_int(st, 16);
    return 0;
}

struct a_claim {
    const struct val *v;
    int nv;
    struct claimed *out;
};

static int
w_refresh_claim(struct store_be *b, void *arg)
{
    struct a_claim *x = arg;
    return wrow(b, W_REFRESH_CLAIM, x->v, x->nv, row_claimed, x->out, "refresh_claim");
}

static int
sq_account_refresh_claim(struct store_be *b, const char *id, const char *owner, int64_t now_ms,
                         int64_t lease_ms, int64_t expires_before, struct st_account *out,
                         int *failures)
{
    struct val v[] = {V_TEXT(id), V_TEXT(owner), V_INT(now_ms), V_INT(lease_ms),
                      V_INT(expires_before)};
    struct st_account a = {0};
    struct claimed c = {&a, 0};
    struct a_claim x = {v, NVALS(v), &c};
    int rc = submit(b, w_refresh_claim, &x);
    if (rc != 0)
        return rc;
    *out = a;
    *failures = c.failures;
    return 0;
}

static int
event_add_detail(struct store_be *b, const char *account_id, const char *project_id,
                 const char *type, const char *status, const char *reason, const char *detail,
                 int64_t now)
{
    struct val v[] = {V_TEXT(account_id), V_TEXT(project_id), V_TEXT(type),  V_TEXT(status),
                      V_TEXT(reason),     V_INT(now),         V_TEXT(detail)};
    return wrun(b, W_EVENT_INSERT_DETAIL, v, NVALS(v), 0, "event_add");
}

/* One UPDATE ... RETURNING project_id on an account, then its event. */
struct a_account_event {
    enum wst id;
    const struct val *v;
    int nv;
    const char *account_id;
    const char *type;
    const char *status;
    const char *reason;
    int64_t now;
};

static int
w_account_event(struct store_be *b, void *arg)
{
    struct a_account_event *x = arg;
    char project[STORE_ID];
    int rc = wrow(b, x->id, x->v, x->nv, row_id, project, x->type);
    if (rc != 0)
        return rc;
    return event_add_detail(b, x->account_id, project, x->type, x->status, x->reason, NULL,
                            x->now);
}

static int
sq_account_refresh_save(struct store_be *b, const char *id, const char *owner,
                        const unsigned char *creds_enc, size_t creds_len, const char *data_json,
                        int64_t expires_at, int64_t refresh_at)
{
    int64_t now = time_now_ms();
    struct val v[] = {V_TEXT(id),        V_TEXT(owner),     V_BLOB(creds_enc, creds_len),
                      V_TEXT(data_json), V_INT(expires_at), V_INT(now),
                      V_INT(refresh_at)};
    struct a_account_event x = {W_REFRESH_SAVE, v,    NVALS(v), id, "account.refreshed",
                                "ACTIVE",       NULL, now};
    return submit(b, w_account_event, &x);
}

static int
sq_account_refresh_fail(struct store_be *b, const char *id, const char *owner, int expire,
                        const char *reason, int64_t retry_at)
{
    int64_t now = time_now_ms();
    struct val hard[] = {V_TEXT(id), V_TEXT(owner), V_TEXT(reason), V_INT(now)};
    struct val soft[] = {V_TEXT(id), V_TEXT(owner), V_INT(retry_at), V_INT(now)};
    struct a_account_event x = {W_REFRESH_FAIL_SOFT, soft, NVALS(soft), id,
                                "account.refresh_failed", "ACTIVE", reason, now};
    if (expire) {
        x.id = W_REFRESH_FAIL_HARD;
        x.v = hard;
        x.type = "account.expired";
        x.status = "EXPIRED";
    }
    return submit(b, w_account_event, &x);
}

static int
sq_account_refresh_due(struct store_be *b, int64_t before_ms, int64_t now_ms, int limit,
                       char (**ids)[STORE_ID], size_t *n)
{
    struct val v[] = {V_INT(before_ms), V_INT(now_ms), V_INT(limit)};
    void *arr = NULL;
    int rc = read_all(b, R_REFRESH_DUE, v, NVALS(v), row_id, NULL, STORE_ID, (size_t)limit, &arr,
                      n, "refresh_due");
    if (rc == 0)
        *ids = arr;
    return rc;
}

struct a_relink {
    const struct st_link *l;
    int64_t now;
};

static int
w_relink(struct store_be *b, void *arg)
{
    struct a_relink *x = arg;
    const struct st_link *l = x->l;
    char project[STORE_ID];
    struct val v[] = {V_TEXT(l->project_id), V_TEXT(l->account_id), V_INT(l->expires_at),
                      V_INT(x->now)};
    int rc = wrow(b, W_RELINK, v, NVALS(v), row_id, project, "account_relink");
    struct val drop[] = {V_TEXT(l->account_id)};
    if (rc == 0)
        rc = wrun(b, W_LINKS_DROP_UNUSED, drop, NVALS(drop), 0, "account_relink");
    struct st_account a = {0};
    snprintf(a.id, sizeof a.id, "%s", l->account_id);
    snprintf(a.project_id, sizeof a.project_id, "%s", l->project_id);
    if (rc == 0)
        rc = insert_link(b, &a, l, x->now);
    if (rc != 0)
        return rc;
    return event_add_detail(b, l->account_id, l->project_id, "account.initiated", "INITIATED",
                            "reconnect", NULL, x->now);
}

static int
sq_account_relink(struct store_be *b, const struct st_link *l)
{
    struct a_relink x = {l, time_now_ms()};
    return submit(b, w_relink, &x);
}

struct a_delete_noted {
    const char *project_id;
    const char *id;
    const char *detail;
    int64_t now;
};

static int
w_delete_noted(struct store_be *b, void *arg)
{
    struct a_delete_noted *x = arg;
    char status[STORE_ID];
    struct val v[] = {V_TEXT(x->project_id), V_TEXT(x->id)};
    int rc = wrow(b, W_ACCOUNT_DELETE, v, NVALS(v), row_id, status, "account_delete");
    if (rc != 0)
        return rc;
    status[15] = '\0';
    return event_add_detail(b, x->id, x->project_id, "account.deleted", status, NULL, x->detail,
                            x->now);
}

static int
sq_account_delete_noted(struct store_be *b, const char *project_id, const char *id,
                        const char *detail_json)
{
    struct a_delete_noted x = {project_id, id, detail_json, time_now_ms()};
    return submit(b, w_delete_noted, &x);
}

/* ---- webhook endpoints ---- */

static int
row_webhook(sqlite3_stmt *st, void *out)
{
    struct st_webhook *w = out;
    col_copy(st, 0, w->id, sizeof w->id);
    col_copy(st, 1, w->project_id, sizeof w->project_id);
    w->disabled = sqlite3_column_int(st, 4);
    w->prev_until = sqlite3_column_int64(st, 7);
    w->created_at = sqlite3_column_int64(st, 8);
    w->updated_at = sqlite3_column_int64(st, 9);
    if (col_dup(st, 2, &w->url, "") != 0 || col_dup(st, 3, &w->events, "[]") != 0 ||
        col_blob(st, 5, &w->secret_enc, &w->secret_len) != 0 ||
        col_blob(st, 6, &w->prev_secret_enc, &w->prev_secret_len) != 0) {
        st_webhook_clear(w);
        return -1;
    }
    return 0;
}

static void
clr_webhook(void *p)
{
    st_webhook_clear(p);
}

static int
w_webhook_create(struct store_be *b, void *arg)
{
    const struct st_webhook *w = arg;
    int64_t count = 0;
    struct val key[] = {V_TEXT(w->project_id)};
    int rc = wrow(b, W_WEBHOOK_COUNT, key, NVALS(key), row_int, &count, "webhook_create");
    if (rc != 0)
        return rc;
    if (count >= STORE_WEBHOOKS_MAX)
        return STORE_CONFLICT;
    int64_t now = time_now_ms();
    struct val v[] = {V_TEXT(w->id),
                      V_TEXT(w->project_id),
                      V_TEXT(w->url),
                      V_TEXT(w->events),
                      V_INT(w->disabled ? 1 : 0),
                      V_BLOB(w->secret_enc, w->secret_len),
                      V_BLOB(w->prev_secret_enc, w->prev_secret_len),
                      V_INT(w->prev_until),
                      V_INT(w->created_at > 0 ? w->created_at : now),
                      V_INT(w->updated_at > 0 ? w->updated_at : now)};
    return wrun(b, W_WEBHOOK_INSERT, v, NVALS(v), 0, "webhook_create");
}

static int
sq_webhook_create(struct store_be *b, const struct st_webhook *w)
{
    return submit(b, w_webhook_create, (void *)w);
}

static int
sq_webhook_get(struct store_be *b, const char *project_id, const char *id, struct st_webhook *out)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    struct st_webhook w = {0};
    int rc = read_one(b, R_WEBHOOK_GET, v, NVALS(v), row_webhook, &w, "webhook_get");
    if (rc == 0)
        *out = w;
    return rc;
}

static int
sq_webhook_list(struct store_be *b, const char *project_id, struct st_webhook **out, size_t *n)
{
    struct val v[] = {V_TEXT(project_id), V_INT(STORE_WEBHOOKS_MAX)};
    void *arr = NULL;
    int rc = read_all(b, R_WEBHOOK_LIST, v, NVALS(v), row_webhook, clr_webhook, sizeof **out,
                      STORE_WEBHOOKS_MAX, &arr, n, "webhook_list");
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
w_webhook_update(struct store_be *b, void *arg)
{
    const struct st_webhook *w = arg;
    int64_t now = time_now_ms();
    struct val v[] = {V_TEXT(w->project_id), V_TEXT(w->id), V_TEXT(w->url), V_TEXT(w->events),
                      V_INT(w->disabled ? 1 : 0), V_INT(now)};
    int rc = wrun(b, W_WEBHOOK_UPDATE, v, NVALS(v), 1, "webhook_update");
    if (rc != 0 || w->secret_enc == NULL)
        return rc;
    struct val r[] = {V_TEXT(w->project_id), V_TEXT(w->id), V_BLOB(w->secret_enc, w->secret_len),
                      V_INT(w->prev_until)};
    return wrun(b, W_WEBHOOK_ROTATE, r, NVALS(r), 1, "webhook_rotate");
}

static int
sq_webhook_update(struct store_be *b, const struct st_webhook *w)
{
    return submit(b, w_webhook_update, (void *)w);
}

static int
sq_webhook_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(id)};
    return write_simple(b, W_WEBHOOK_DELETE, v, NVALS(v), 1, "webhook_delete");
}

/* ---- deliveries ---- */

static int
row_delivery(sqlite3_stmt *st, void *out)
{
    struct st_delivery *d = out;
    d->seq = sqlite3_column_int64(st, 0);
    col_copy(st, 1, d->endpoint_id, sizeof d->endpoint_id);
    col_copy(st, 2, d->project_id, sizeof d->project_id);
    d->event.seq = sqlite3_column_int64(st, 3);
    col_copy(st, 4, d->event.account_id, sizeof d->event.account_id);
    col_copy(st, 5, d->event.project_id, sizeof d->event.project_id);
    col_copy(st, 6, d->event.type, sizeof d->event.type);
    col_copy(st, 7, d->event.status, sizeof d->event.status);
    d->event.at = sqlite3_column_int64(st, 9);
    col_copy(st, 11, d->state, sizeof d->state);
    d->attempts = sqlite3_column_int(st, 12);
    d->next_at = sqlite3_column_int64(st, 13);
    d->last_status = (long)sqlite3_column_int64(st, 14);
    d->created_at = sqlite3_column_int64(st, 16);
    d->delivered_at = sqlite3_column_int64(st, 17);
    if (col_dup(st, 8, &d->event.reason, NULL) != 0 ||
        col_dup(st, 10, &d->event.detail, NULL) != 0 ||
        col_dup(st, 15, &d->last_error, NULL) != 0) {
        st_delivery_clear(d);
        return -1;
    }
    return 0;
}

static void
clr_delivery(void *p)
{
    st_delivery_clear(p);
}

struct a_dclaim {
    const char *owner;
    int64_t now, lease_ms;
    int limit;
    struct st_delivery *items;
    size_t n;
};

static int
w_delivery_claim(struct store_be *b, void *arg)
{
    struct a_dclaim *x = arg;
    struct val v[] = {V_TEXT(x->owner), V_INT(x->now + x->lease_ms), V_INT(x->now),
                      V_INT(x->limit)};
    sqlite3_stmt *st = wprep(b, W_DELIVERY_CLAIM);
    if (st == NULL)
        return STORE_ERR;
    void *seqs = NULL;
    size_t nseq = 0;
    int rc = step_all(b->wdb, st, v, NVALS(v), row_int, NULL, sizeof(int64_t), (size_t)x->limit,
                      &seqs, &nseq, "delivery_claim");
    if (rc != 0)
        return rc;
    x->items = nseq ? calloc(nseq, sizeof *x->items) : NULL;
    if (nseq > 0 && x->items == NULL) {
        free(seqs);
        return STORE_ERR;
    }
    for (size_t i = 0; i < nseq && rc == 0; i++) {
        struct val k[] = {V_INT(((int64_t *)seqs)[i])};
        rc = wrow(b, W_DELIVERY_BY_SEQ, k, NVALS(k), row_delivery, &x->items[x->n],
                  "delivery_claim");
        if (rc == 0)
            x->n++;
    }
    free(seqs);
    if (rc != 0) {
        for (size_t i = 0; i < x->n; i++)
            st_delivery_clear(&x->items[i]);
        free(x->items);
        x->items = NULL;
        x->n = 0;
    }
    return rc;
}

/* The claim's rows are ordered by seq: RETURNING gives no order, so sort them here. */
static int
cmp_delivery(const void *a, const void *b)
{
    int64_t x = ((const struct st_delivery *)a)->seq, y = ((const struct st_delivery *)b)->seq;
    return x < y ? -1 : x > y;
}

static int
sq_delivery_claim(struct store_be *b, const char *owner, int64_t now_ms, int64_t lease_ms,
                  int limit, struct st_delivery **out, size_t *n)
{
    struct a_dclaim x = {owner, now_ms, lease_ms, limit, NULL, 0};
    int rc = submit(b, w_delivery_claim, &x);
    if (rc != 0) {
        for (size_t i = 0; i < x.n; i++)
            st_delivery_clear(&x.items[i]);
        free(x.items);
        return rc;
    }
    if (x.n > 1)
        qsort(x.items, x.n, sizeof *x.items, cmp_delivery);
    *out = x.items;
    *n = x.n;
    return 0;
}

static int
sq_delivery_finish(struct store_be *b, int64_t seq, const char *owner, int ok, long http_status,
                   const char *error, int64_t next_at)
{
    int64_t now = time_now_ms();
    if (ok) {
        struct val v[] = {V_INT(seq), V_TEXT(owner), V_INT(http_status), V_INT(now)};
        return write_simple(b, W_DELIVERY_OK, v, NVALS(v), 1, "delivery_finish");
    }
    struct val v[] = {V_INT(seq), V_TEXT(owner), V_INT(http_status), V_TEXT(error),
                      V_INT(next_at)};
    return write_simple(b, W_DELIVERY_FAIL, v, NVALS(v), 1, "delivery_finish");
}

static int
sq_delivery_list(struct store_be *b, const char *project_id, const char *endpoint_id,
                 int64_t before_seq, int limit, struct st_delivery **out, size_t *n)
{
    struct val v[] = {V_TEXT(project_id), V_TEXT(endpoint_id), V_INT(before_seq), V_INT(limit)};
    void *arr = NULL;
    int rc = read_all(b, R_DELIVERY_LIST, v, NVALS(v), row_delivery, clr_delivery, sizeof **out,
                      (size_t)limit, &arr, n, "delivery_list");
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
sq_delivery_get(struct store_be *b, const char *project_id, int64_t seq, struct st_delivery *out)
{
    struct val v[] = {V_TEXT(project_id), V_INT(seq)};
    struct st_delivery d = {0};
    int rc = read_one(b, R_DELIVERY_GET, v, NVALS(v), row_delivery, &d, "delivery_get");
    if (rc == 0)
        *out = d;
    return rc;
}

struct a_replay {
    const char *project_id;
    int64_t seq;
    int64_t new_seq;
};

static int
w_delivery_replay(struct store_be *b, void *arg)
{
    struct a_replay *x = arg;
    struct val v[] = {V_TEXT(x->project_id), V_INT(x->seq), V_INT(time_now_ms())};
    int rc = wrun(b, W_DELIVERY_REPLAY, v, NVALS(v), 1, "delivery_replay");
    if (rc == 0)
        x->new_seq = sqlite3_last_insert_rowid(b->wdb);
    return rc;
}

static int
sq_delivery_replay(struct store_be *b, const char *project_id, int64_t seq, int64_t *new_seq)
{
    struct a_replay x = {project_id, seq, 0};
    int rc = submit(b, w_delivery_replay, &x);
    if (rc == 0)
        *new_seq = x.new_seq;
    return rc;
}

/* ---- sealed values, for key rotation ---- */

struct sealed_col {
    const char *table, *key, *ref, *col;
    int key_blob;
};

static const struct sealed_col SEALED_COLS[SEALED__COUNT] = {
    [SEALED_ACCOUNT] = {"accounts", "id", "id", "creds_enc", 0},
    [SEALED_LINK] = {"links", "token_hash", "account_id", "verifier_enc", 1},
    [SEALED_AUTH_CONFIG] = {"auth_configs", "id", "id", "secret_enc", 0},
    [SEALED_APP] = {"managed_apps", "toolkit", "toolkit", "secret_enc", 0},
    [SEALED_WEBHOOK] = {"webhook_endpoints", "id", "id", "secret_enc", 0},
    [SEALED_WEBHOOK_PREV] = {"webhook_endpoints", "id", "id", "prev_secret_enc", 0},
};

static int
row_sealed(sqlite3_stmt *st, void *out)
{
    struct st_sealed *x = out;
    const void *k = sqlite3_column_blob(st, 0);
    size_t kn = (size_t)sqlite3_column_bytes(st, 0);
    if (k == NULL || kn == 0 || kn > sizeof x->key)
        return -1;
    memcpy(x->key, k, kn);
    x->key_len = kn;
    col_copy(st, 1, x->ref, sizeof x->ref);
    return col_blob(st, 2, &x->enc, &x->len);
}

static void
clr_sealed(void *p)
{
    st_sealed_clear(p);
}

/* Binds a row key as the column's type (text or blob); NULL when len is 0. */
static struct val
key_val(const struct sealed_col *c, const unsigned char *key, size_t len, char *text, size_t cap)
{
    if (len == 0)
        return (struct val){VT_NULL, 0, NULL, 0};
    if (c->key_blob)
        return V_BLOB(key, len);
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(text, key, n);
    text[n] = '\0';
    return V_TEXT(text);
}

static int
sq_sealed_page(struct store_be *b, enum st_sealed_kind kind, const unsigned char *after,
               size_t after_len, int limit, struct st_sealed **out, size_t *n)
{
    const struct sealed_col *c = &SEALED_COLS[kind];
    char sql[400], text[STORE_ID + 1];
    snprintf(sql, sizeof sql,
             "SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL AND (?1 IS NULL OR %s > ?1) "
             "ORDER BY %s LIMIT ?2",
             c->key, c->ref, c->col, c->table, c->col, c->key, c->key);
    sqlite3 *db;
    sqlite3_stmt *st = prepare_dynamic(b, sql, &db);
    if (st == NULL)
        return STORE_ERR;
    struct val v[] = {key_val(c, after, after_len, text, sizeof text), V_INT(limit)};
    void *arr = NULL;
    int rc = step_all(db, st, v, NVALS(v), row_sealed, clr_sealed, sizeof **out, (size_t)limit,
                      &arr, n, "sealed_page");
    sqlite3_finalize(st);
    if (rc == 0)
        *out = arr;
    return rc;
}

struct a_sealed_replace {
    const struct sealed_col *c;
    const struct st_sealed *items;
    unsigned char *const *new_enc;
    const size_t *new_len;
    size_t n;
    size_t replaced;
};

static int
w_sealed_replace(struct store_be *b, void *arg)
{
    struct a_sealed_replace *x = arg;
    const struct sealed_col *c = x->c;
    char sql[300], text[STORE_ID + 1];
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?2 WHERE %s = ?1 AND %s = ?3", c->table, c->col,
             c->key, c->col);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(b->wdb, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_fail(b->wdb, "sealed_replace");
    }
    int rc = 0;
    for (size_t i = 0; i < x->n && rc == 0; i++) {
        const struct st_sealed *it = &x->items[i];
        struct val v[] = {key_val(c, it->key, it->key_len, text, sizeof text),
                          V_BLOB(x->new_enc[i], x->new_len[i]), V_BLOB(it->enc, it->len)};
        bind_vals(st, v, NVALS(v));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(b->wdb, "sealed_replace");
        else
            x->replaced += (size_t)sqlite3_changes(b->wdb);
        stmt_done(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int
sq_sealed_replace(struct store_be *b, enum st_sealed_kind kind, const struct st_sealed *items,
                  unsigned char *const *new_enc, const size_t *new_len, size_t n,
                  size_t *replaced)
{
    struct a_sealed_replace x = {&SEALED_COLS[kind], items, new_enc, new_len, n, 0};
    int rc = submit(b, w_sealed_replace, &x);
    if (rc == 0)
        *replaced = x.replaced;
    return rc;
}

const struct store_ops store__sqlite = {
    .version = STORE_OPS_VERSION,
    .name = "sqlite",
    .migrations = store__sqlite_migrations,
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .project_create = sq_project_create,
    .project_get = sq_project_get,
    .project_first = sq_project_first,
    .project_all = sq_project_all,
    .project_set_settings = sq_project_set_settings,
    .key_create = sq_key_create,
    .key_lookup = sq_key_lookup,
    .key_all = sq_key_all,
    .key_revoke = sq_key_revoke,
    .managed_app_set = sq_managed_app_set,
    .managed_app_get = sq_managed_app_get,
    .auth_config_create = sq_auth_config_create,
    .auth_config_get = sq_auth_config_get,
    .auth_config_newest = sq_auth_config_newest,
    .auth_config_list = sq_auth_config_list,
    .auth_config_set_disabled = sq_auth_config_set_disabled,
    .auth_config_delete = sq_auth_config_delete,
    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_update = sq_session_update,
    .session_delete = sq_session_delete,
    .account_create_linked = sq_account_create_linked,
    .account_create_linked_async = sq_account_create_linked_async,
    .account_get = sq_account_get,
    .account_get_any = sq_account_get_any,
    .account_list = sq_account_list,
    .account_active_for_user = sq_account_active_for_user,
    .account_transition = sq_account_transition,
    .account_activate = sq_account_activate,
    .account_set_disabled = sq_account_set_disabled,
    .account_delete = sq_account_delete,
    .account_expire_due = sq_account_expire_due,
    .account_counts = sq_account_counts,
    .link_get = sq_link_get,
    .link_set_state = sq_link_set_state,
    .link_consume_state = sq_link_consume_state,
    .link_mark_used = sq_link_mark_used,
    .event_list = sq_event_list,
    .event_daily = sq_event_daily,
    .account_counts_project = sq_account_counts_project,
    .account_refresh_claim = sq_account_refresh_claim,
    .account_refresh_save = sq_account_refresh_save,
    .account_refresh_fail = sq_account_refresh_fail,
    .account_refresh_due = sq_account_refresh_due,
    .account_relink = sq_account_relink,
    .account_delete_noted = sq_account_delete_noted,
    .webhook_create = sq_webhook_create,
    .webhook_get = sq_webhook_get,
    .webhook_list = sq_webhook_list,
    .webhook_update = sq_webhook_update,
    .webhook_delete = sq_webhook_delete,
    .delivery_claim = sq_delivery_claim,
    .delivery_finish = sq_delivery_finish,
    .delivery_list = sq_delivery_list,
    .delivery_get = sq_delivery_get,
    .delivery_replay = sq_delivery_replay,
    .sealed_page = sq_sealed_page,
    .sealed_replace = sq_sealed_replace,
};
