/* store_pg.c -- the PostgreSQL backend of the store, for several tether nodes on one database.
 *
 * Connections: a pool of POOL_SIZE libpq connections per node. A call borrows one for the length
 * of the operation (one statement, or one transaction for a count and its page) and gives it
 * back; a caller waits while all are lent. Each connection prepares a statement the first time it
 * runs it and keeps it. A connection found broken is reset before it is lent again; a read that
 * fails on a broken connection is retried once on the reset one (writes are not: their commit
 * may have happened).
 *
 * Writes: every operation that changes an account's status is one SQL statement (data-modifying
 * CTEs) that updates the row and inserts its events row, so both commit together; the trigger on
 * events (migrations_pg.c) sends NOTIFY tether_account with the account id in that transaction.
 * Background work is claimed with FOR UPDATE SKIP LOCKED, so two nodes never take the same row.
 *
 * Cross-node wake-ups: pg_listen() starts a thread with its own connection that LISTENs and hands
 * each notified account id to the callback. After a lost connection it reconnects, LISTENs again
 * and replays the accounts whose events were written since shortly before the loss.
 *
 * Parameters go as text (numbers formatted here) or binary (bytea); results come back binary.
 * Logs never carry parameter values. All of tether's PostgreSQL SQL lives here and in
 * migrations_pg.c. */
#include "store/store_int.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_SIZE 4
#define ARGS_MAX 32
#define EXPIRE_CHUNK 500
#define MIGRATE_LOCK 7361626973LL /* advisory lock key held while migrating */
#define REPLAY_MARGIN_MS 5000     /* events replayed from before a lost LISTEN connection */
#define REPLAY_MAX 10000
#define CHANNEL "tether_account"

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
#define EVENT_INSERT "INSERT INTO events (account_id, project_id, type, status, reason, at) "
#define WEBHOOK_COLS                                                                               \
    "id, project_id, url, events, disabled, secret_enc, prev_secret_enc, prev_until, created_at, " \
    "updated_at"
#define DELIVERY_FROM                                                                              \
    "SELECT d.seq, d.endpoint_id, d.project_id, e.seq, e.account_id, e.project_id, e.type, "       \
    "e.status, e.reason, e.at, e.detail, d.state, d.attempts, d.next_at, d.last_status, "          \
    "d.last_error, d.created_at, d.delivered_at FROM webhook_deliveries d "                        \
    "JOIN events e ON e.seq = d.event_seq "

/* $1 project, $2 toolkit or NULL, $3 managed (-1 any), $4 show disabled, $5 search or NULL. */
#define AC_FILTER                                                                                  \
    "c.project_id = $1 AND ($2::text IS NULL OR c.toolkit = $2::text) "                            \
    "AND ($3::bigint < 0 OR c.is_managed = $3::bigint) AND ($4::bigint <> 0 OR c.disabled = 0) "   \
    "AND ($5::text IS NULL OR strpos(lower(c.name), lower($5::text)) > 0 "                         \
    "OR strpos(lower(c.toolkit), lower($5::text)) > 0)"

enum sid {
    S_PROJECT_INSERT,
    S_PROJECT_GET,
    S_PROJECT_FIRST,
    S_PROJECT_ALL,
    S_PROJECT_SETTINGS,
    S_KEY_INSERT,
    S_KEY_LOOKUP,
    S_KEY_ALL,
    S_KEY_REVOKE,
    S_APP_UPSERT,
    S_APP_GET,
    S_AC_INSERT,
    S_AC_GET,
    S_AC_NEWEST,
    S_AC_COUNT,
    S_AC_PAGE,
    S_AC_DISABLE,
    S_AC_DELETE,
    S_SESSION_INSERT,
    S_SESSION_GET,
    S_SESSION_UPDATE,
    S_SESSION_DELETE,
    S_ACCOUNT_CREATE,
    S_ACCOUNT_CREATE_LINKED,
    S_ACCOUNT_GET,
    S_ACCOUNT_GET_ANY,
    S_ACCOUNT_ACTIVE,
    S_ACCOUNT_COUNTS,
    S_ACCOUNT_COUNTS_PROJECT,
    S_ACCOUNT_TRANSITION,
    S_ACCOUNT_ACTIVATE,
    S_ACCOUNT_SET_DISABLED,
    S_ACCOUNT_DELETE,
    S_ACCOUNT_EXPIRE,
    S_LINK_GET,
    S_LINK_SET_STATE,
    S_LINK_CONSUME,
    S_LINK_USE,
    S_EVENT_LIST,
    S_EVENT_DAILY,
    S_EVENT_CHANGED_SINCE,
    S_REFRESH_CLAIM,
    S_REFRESH_SAVE,
    S_REFRESH_FAIL_SOFT,
    S_REFRESH_FAIL_HARD,
    S_REFRESH_DUE,
    S_RELINK,
    S_DELETE_NOTED,
    S_PROJECT_LOCK,
    S_WEBHOOK_COUNT,
    S_WEBHOOK_INSERT,
    S_WEBHOOK_GET,
    S_WEBHOOK_LIST,
    S_WEBHOOK_UPDATE,
    S_WEBHOOK_DELETE,
    S_DELIVERY_CLAIM,
    S_DELIVERY_OK,
    S_DELIVERY_FAIL,
    S_DELIVERY_LIST,
    S_DELIVERY_GET,
    S_DELIVERY_REPLAY,
    S__COUNT
};

static const char *const ssql[S__COUNT] = {
    [S_PROJECT_INSERT] = "INSERT INTO projects (id, name, settings, created_at) "
                         "VALUES ($1, $2, '{}', $3)",
    [S_PROJECT_GET] = "SELECT " PROJECT_COLS " FROM projects WHERE id = $1",
    [S_PROJECT_FIRST] = "SELECT " PROJECT_COLS " FROM projects ORDER BY created_at, n LIMIT 1",
    [S_PROJECT_ALL] = "SELECT " PROJECT_COLS " FROM projects ORDER BY created_at, n LIMIT $1",
    [S_PROJECT_SETTINGS] = "UPDATE projects SET settings = $2 WHERE id = $1",
    [S_KEY_INSERT] = "INSERT INTO api_keys (id, project_id, hash, hint, created_at) "
                     "VALUES ($1, $2, $3, $4, $5)",
    [S_KEY_LOOKUP] = "SELECT " KEY_COLS " FROM api_keys WHERE hash = $1 AND revoked_at = 0",
    [S_KEY_ALL] = "SELECT " KEY_COLS " FROM api_keys WHERE project_id = $1 "
                  "ORDER BY created_at, n LIMIT $2",
    [S_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $3 "
                     "ELSE revoked_at END WHERE project_id = $1 AND id = $2",
    [S_APP_UPSERT] =
        "INSERT INTO managed_apps (toolkit, client_id, secret_enc, scopes, updated_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (toolkit) DO UPDATE SET "
        "client_id = excluded.client_id, secret_enc = excluded.secret_enc, "
        "scopes = excluded.scopes, updated_at = excluded.updated_at",
    [S_APP_GET] = "SELECT " APP_COLS " FROM managed_apps WHERE toolkit = $1",
    [S_AC_INSERT] = "INSERT INTO auth_configs (id, project_id, toolkit, auth_scheme, name, "
                    "is_managed, disabled, client_id, secret_enc, scopes, extra, created_at, "
                    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    [S_AC_GET] = "SELECT " AC_COLS_NO_COUNT " FROM auth_configs c "
                 "WHERE c.project_id = $1 AND c.id = $2",
    [S_AC_NEWEST] = "SELECT " AC_COLS_NO_COUNT " FROM auth_configs c WHERE c.project_id = $1 "
                    "AND c.toolkit = $2 AND c.disabled = 0 "
                    "AND ($3::bigint < 0 OR c.is_managed = $3::bigint) "
                    "ORDER BY c.created_at DESC, c.id DESC LIMIT 1",
    [S_AC_COUNT] = "SELECT count(*) FROM auth_configs c WHERE " AC_FILTER,
    /* $6/$7: the cursor (NULL on the first page); $8: limit. */
    [S_AC_PAGE] = "SELECT " AC_COLS " FROM auth_configs c WHERE " AC_FILTER
                  " AND ($6::bigint IS NULL OR (c.created_at, c.id) < ($6::bigint, $7::text)) "
                  "ORDER BY c.created_at DESC, c.id DESC LIMIT $8",
    [S_AC_DISABLE] = "UPDATE auth_configs SET disabled = $3, updated_at = $4 "
                     "WHERE project_id = $1 AND id = $2",
    [S_AC_DELETE] = "DELETE FROM auth_configs WHERE project_id = $1 AND id = $2",
    [S_SESSION_INSERT] = "INSERT INTO sessions (" SESSION_COLS ") "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [S_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions WHERE project_id = $1 AND id = $2",
    [S_SESSION_UPDATE] = "UPDATE sessions SET config = $3, version = version + 1, updated_at = $4 "
                         "WHERE project_id = $1 AND id = $2 RETURNING " SESSION_COLS,
    [S_SESSION_DELETE] = "DELETE FROM sessions WHERE project_id = $1 AND id = $2",
    /* $1..$17 the account (as SQLite's insert), $18 the event type. */
    [S_ACCOUNT_CREATE] =
        "WITH a AS (INSERT INTO accounts (" ACCOUNT_COLS ", pending_expires_at) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) "
        "RETURNING id, project_id, status, status_reason) " EVENT_INSERT
        "SELECT id, project_id, $18::text, status, status_reason, $19::bigint FROM a",
    /* ... and $20..$26 the link (token, session, callback, state, verifier, created, expires). */
    [S_ACCOUNT_CREATE_LINKED] =
        "WITH a AS (INSERT INTO accounts (" ACCOUNT_COLS ", pending_expires_at) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) "
        "RETURNING id, project_id, status, status_reason), "
        "l AS (INSERT INTO links (" LINK_COLS ") SELECT $20::bytea, id, project_id, $21::text, "
        "$22::text, $23::bytea, $24::bytea, $25::bigint, $26::bigint, 0 FROM a) " EVENT_INSERT
        "SELECT id, project_id, $18::text, status, status_reason, $19::bigint FROM a",
    [S_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE project_id = $1 AND id = $2",
    [S_ACCOUNT_GET_ANY] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1",
    [S_ACCOUNT_ACTIVE] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE project_id = $1 "
                         "AND user_id = $2 AND status = 'ACTIVE' AND is_disabled = 0 "
                         "ORDER BY connected_at DESC, id DESC LIMIT 1000",
    [S_ACCOUNT_COUNTS] = "SELECT status, count(*) FROM accounts GROUP BY status ORDER BY status",
    [S_ACCOUNT_COUNTS_PROJECT] = "SELECT status, count(*) FROM accounts WHERE project_id = $1 "
                                 "GROUP BY status ORDER BY status",
    /* $1 id, $2 to, $3 reason, $4 now, $5 event type, $6..$13 the from statuses (unused NULL). */
    [S_ACCOUNT_TRANSITION] =
        "WITH u AS (UPDATE accounts SET status = $2::text, status_reason = $3::text, "
        "updated_at = $4::bigint, "
        "connected_at = CASE WHEN $2::text = 'ACTIVE' THEN $4::bigint ELSE connected_at END, "
        "pending_expires_at = CASE WHEN $2::text IN " PENDING " THEN pending_expires_at ELSE 0 END "
        "WHERE id = $1 AND status IN ($6, $7, $8, $9, $10, $11, $12, $13) "
        "RETURNING id, project_id) " EVENT_INSERT
        "SELECT id, project_id, $5::text, $2::text, $3::text, $4::bigint FROM u RETURNING seq",
    [S_ACCOUNT_ACTIVATE] =
        "WITH u AS (UPDATE accounts SET status = 'ACTIVE', status_reason = NULL, "
        "creds_enc = $2, data = coalesce($3::text, data), expires_at = $4, "
        "connected_at = $5::bigint, updated_at = $5::bigint, pending_expires_at = 0 "
        "WHERE id = $1 AND status IN " PENDING " RETURNING id, project_id) " EVENT_INSERT
        "SELECT id, project_id, 'account.active', 'ACTIVE', NULL, $5::bigint FROM u RETURNING seq",
    /* Disabling an ACTIVE account makes it INACTIVE, enabling an INACTIVE one ACTIVE; a call that
     * flips nothing logs nothing. The result: 1 row when the account exists. */
    [S_ACCOUNT_SET_DISABLED] =
        "WITH cur AS (SELECT id, project_id, status, is_disabled FROM accounts "
        "WHERE project_id = $1 AND id = $2 FOR UPDATE), "
        "u AS (UPDATE accounts a SET is_disabled = $3::bigint, updated_at = $4::bigint, "
        "status = CASE WHEN $3::bigint = 1 AND cur.status = 'ACTIVE' THEN 'INACTIVE' "
        "WHEN $3::bigint = 0 AND cur.status = 'INACTIVE' THEN 'ACTIVE' ELSE cur.status END "
        "FROM cur WHERE a.id = cur.id AND cur.is_disabled <> $3::bigint "
        "RETURNING a.id, a.project_id, a.status), "
        "e AS (" EVENT_INSERT "SELECT id, project_id, CASE WHEN $3::bigint = 1 "
        "THEN 'account.disabled' ELSE 'account.enabled' END, status, NULL, $4::bigint FROM u) "
        "SELECT id FROM cur",
    [S_ACCOUNT_DELETE] =
        "WITH d AS (DELETE FROM accounts WHERE project_id = $1 AND id = $2 "
        "RETURNING id, project_id, status) " EVENT_INSERT
        "SELECT id, project_id, 'account.deleted', status, NULL, $3::bigint FROM d RETURNING seq",
    /* $1 cutoff, $2 chunk, $3 now: due accounts no other node is expiring right now. */
    [S_ACCOUNT_EXPIRE] =
        "WITH due AS (SELECT id FROM accounts WHERE pending_expires_at > 0 "
        "AND pending_expires_at < $1 AND status IN " PENDING
        " ORDER BY pending_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED), "
        "u AS (UPDATE accounts a SET status = 'EXPIRED', status_reason = 'link expired', "
        "updated_at = $3::bigint, pending_expires_at = 0 FROM due WHERE a.id = due.id "
        "RETURNING a.id, a.project_id), "
        "e AS (" EVENT_INSERT "SELECT id, project_id, 'account.expired', 'EXPIRED', "
        "'link expired', $3::bigint FROM u) SELECT id FROM u",
    [S_LINK_GET] = "SELECT " LINK_COLS " FROM links WHERE token_hash = $1",
    [S_LINK_SET_STATE] = "UPDATE links SET state_hash = $2, verifier_enc = $3 "
                         "WHERE token_hash = $1 AND used_at = 0",
    /* The locked row as it was before this statement marked it used. */
    [S_LINK_CONSUME] = "WITH l AS (SELECT " LINK_COLS " FROM links WHERE state_hash = $1 "
                       "FOR UPDATE), u AS (UPDATE links SET used_at = $2 FROM l "
                       "WHERE links.token_hash = l.token_hash AND l.used_at = 0) "
                       "SELECT " LINK_COLS " FROM l",
    [S_LINK_USE] = "UPDATE links SET used_at = $2 WHERE token_hash = $1 AND used_at = 0",
    [S_EVENT_LIST] = "SELECT " EVENT_COLS " FROM events WHERE project_id = $1 "
                     "AND account_id = $2 ORDER BY seq LIMIT $3",
    [S_EVENT_DAILY] = "SELECT (at / 86400000) * 86400000 AS day, status, count(*) FROM events "
                      "WHERE project_id = $1 AND at >= $2 GROUP BY day, status "
                      "ORDER BY day, status COLLATE \"C\" LIMIT $3",
    [S_EVENT_CHANGED_SINCE] = "SELECT DISTINCT account_id FROM events WHERE at >= $1 "
                              "AND type <> 'account.initiated' LIMIT $2",
    /* $1 id, $2 owner, $3 now, $4 lease ms, $5 expires_before. Concurrent claims queue on the
     * row lock and re-check the lease on the winner's version: one claim wins. */
    [S_REFRESH_CLAIM] = "UPDATE accounts SET refresh_lease_until = $3::bigint + $4::bigint, "
                        "refresh_lease_owner = $2 WHERE id = $1 AND status = 'ACTIVE' "
                        "AND (refresh_lease_until <= $3::bigint OR refresh_lease_owner = $2) "
                        "AND expires_at < $5 RETURNING " ACCOUNT_COLS ", refresh_failures",
    /* $1 id, $2 owner, $3 creds, $4 data, $5 expires_at, $6 now, $7 refresh_at */
    [S_REFRESH_SAVE] =
        "WITH u AS (UPDATE accounts SET creds_enc = $3, data = coalesce($4::text, data), "
        "expires_at = $5, updated_at = $6::bigint, refresh_lease_until = 0, "
        "refresh_lease_owner = '', refresh_failures = 0, refresh_not_before = $7 "
        "WHERE id = $1 AND refresh_lease_owner = $2 AND status = 'ACTIVE' "
        "RETURNING id, project_id) " EVENT_INSERT
        "SELECT id, project_id, 'account.refreshed', 'ACTIVE', NULL, $6::bigint FROM u "
        "RETURNING seq",
    /* $1 id, $2 owner, $3 retry_at, $4 now, $5 reason */
    [S_REFRESH_FAIL_SOFT] =
        "WITH u AS (UPDATE accounts SET refresh_lease_until = 0, refresh_lease_owner = '', "
        "refresh_failures = refresh_failures + 1, refresh_not_before = $3, "
        "updated_at = $4::bigint WHERE id = $1 AND refresh_lease_owner = $2 "
        "AND status = 'ACTIVE' RETURNING id, project_id) " EVENT_INSERT
        "SELECT id, project_id, 'account.refresh_failed', 'ACTIVE', $5::text, $4::bigint FROM u "
        "RETURNING seq",
    /* $1 id, $2 owner, $3 reason, $4 now */
    [S_REFRESH_FAIL_HARD] =
        "WITH u AS (UPDATE accounts SET status = 'EXPIRED', status_reason = $3::text, "
        "refresh_lease_until = 0, refresh_lease_owner = '', "
        "refresh_failures = refresh_failures + 1, updated_at = $4::bigint "
        "WHERE id = $1 AND refresh_lease_owner = $2 AND status = 'ACTIVE' "
        "RETURNING id, project_id) " EVENT_INSERT
        "SELECT id, project_id, 'account.expired', 'EXPIRED', $3::text, $4::bigint FROM u "
        "RETURNING seq",
    /* $1 before, $2 now, $3 limit */
    [S_REFRESH_DUE] = "SELECT id FROM accounts WHERE status = 'ACTIVE' AND expires_at > 0 "
                      "AND expires_at < $1 AND refresh_not_before <= $2 "
                      "AND refresh_lease_until <= $2 ORDER BY expires_at LIMIT $3",
    /* $1 project, $2 id, $3 link expiry, $4 now, $5..$11 the link (token, session, callback,
     * state, verifier, created, expires). The new link is not among the dropped ones: the DELETE
     * sees the rows from before the statement. */
    [S_RELINK] =
        "WITH u AS (UPDATE accounts SET status = 'INITIATED', status_reason = NULL, "
        "is_disabled = 0, pending_expires_at = $3, updated_at = $4::bigint, "
        "refresh_lease_until = 0, refresh_lease_owner = '', refresh_failures = 0, "
        "refresh_not_before = 0 WHERE project_id = $1 AND id = $2 RETURNING id, project_id), "
        "d AS (DELETE FROM links WHERE account_id IN (SELECT id FROM u) AND used_at = 0), "
        "l AS (INSERT INTO links (" LINK_COLS ") SELECT $5::bytea, id, project_id, $6::text, "
        "$7::text, $8::bytea, $9::bytea, $10::bigint, $11::bigint, 0 FROM u) " EVENT_INSERT
        "SELECT id, project_id, 'account.initiated', 'INITIATED', 'reconnect', $4::bigint "
        "FROM u RETURNING seq",
    /* $1 project, $2 id, $3 now, $4 detail */
    [S_DELETE_NOTED] =
        "WITH d AS (DELETE FROM accounts WHERE project_id = $1 AND id = $2 "
        "RETURNING id, project_id, status) "
        "INSERT INTO events (account_id, project_id, type, status, reason, at, detail) "
        "SELECT id, project_id, 'account.deleted', status, NULL, $3::bigint, $4::text FROM d "
        "RETURNING seq",
    [S_PROJECT_LOCK] = "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
    [S_WEBHOOK_COUNT] = "SELECT count(*) FROM webhook_endpoints WHERE project_id = $1",
    [S_WEBHOOK_INSERT] = "INSERT INTO webhook_endpoints (" WEBHOOK_COLS ") "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    [S_WEBHOOK_GET] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE project_id = $1 "
                      "AND id = $2",
    [S_WEBHOOK_LIST] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE project_id = $1 "
                       "ORDER BY created_at, id LIMIT $2",
    /* $7 a new secret or NULL (keep), $8 until when the replaced one still signs. Every
     * right-hand side reads the row as it was, so the old secret becomes the previous one. */
    [S_WEBHOOK_UPDATE] =
        "UPDATE webhook_endpoints SET url = $3, events = $4, disabled = $5, updated_at = $6, "
        "prev_secret_enc = CASE WHEN $7::bytea IS NULL THEN prev_secret_enc ELSE secret_enc END, "
        "prev_until = CASE WHEN $7::bytea IS NULL THEN prev_until ELSE $8::bigint END, "
        "secret_enc = coalesce($7::bytea, secret_enc) WHERE project_id = $1 AND id = $2",
    [S_WEBHOOK_DELETE] = "DELETE FROM webhook_endpoints WHERE project_id = $1 AND id = $2",
    /* $1 owner, $2 lease until, $3 now, $4 limit. Only the oldest pending delivery of an
     * (endpoint, account) pair is due, so an account's events arrive in order; rows another node
     * is claiming are skipped. */
    [S_DELIVERY_CLAIM] =
        "WITH c AS (SELECT d.seq FROM webhook_deliveries d WHERE d.state = 'pending' "
        "AND d.next_at <= $3::bigint AND d.lease_until <= $3::bigint "
        "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending' "
        "AND p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id AND p.seq < d.seq) "
        "ORDER BY d.seq LIMIT $4 FOR UPDATE SKIP LOCKED), "
        "u AS (UPDATE webhook_deliveries w SET lease_until = $2, lease_owner = $1 FROM c "
        "WHERE w.seq = c.seq RETURNING w.*) "
        "SELECT d.seq, d.endpoint_id, d.project_id, e.seq, e.account_id, e.project_id, e.type, "
        "e.status, e.reason, e.at, e.detail, d.state, d.attempts, d.next_at, d.last_status, "
        "d.last_error, d.created_at, d.delivered_at FROM u d JOIN events e ON e.seq = d.event_seq "
        "ORDER BY d.seq",
    /* $1 seq, $2 owner, $3 http status, $4 now */
    [S_DELIVERY_OK] = "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
                      "last_status = $3, last_error = NULL, delivered_at = $4, lease_until = 0, "
                      "lease_owner = '' WHERE seq = $1 AND lease_owner = $2 AND state = 'pending'",
    /* $1 seq, $2 owner, $3 http status, $4 error, $5 next_at (0: give up) */
    [S_DELIVERY_FAIL] =
        "UPDATE webhook_deliveries SET "
        "state = CASE WHEN $5::bigint = 0 THEN 'failed' ELSE 'pending' END, "
        "next_at = CASE WHEN $5::bigint = 0 THEN next_at ELSE $5::bigint END, "
        "attempts = attempts + 1, last_status = $3, last_error = $4, lease_until = 0, "
        "lease_owner = '' WHERE seq = $1 AND lease_owner = $2 AND state = 'pending'",
    [S_DELIVERY_LIST] =
        DELIVERY_FROM "WHERE d.project_id = $1 AND d.endpoint_id = $2 "
                      "AND ($3::bigint = 0 OR d.seq < $3::bigint) ORDER BY d.seq DESC LIMIT $4",
    [S_DELIVERY_GET] = DELIVERY_FROM "WHERE d.project_id = $1 AND d.seq = $2",
    /* $1 project, $2 seq, $3 now */
    [S_DELIVERY_REPLAY] =
        "INSERT INTO webhook_deliveries (endpoint_id, project_id, event_seq, account_id, next_at, "
        "created_at) SELECT endpoint_id, project_id, event_seq, account_id, $3, $3 "
        "FROM webhook_deliveries WHERE project_id = $1 AND seq = $2 RETURNING seq",
};

/* ---- state -------------------------------------------------------------------------------- */

struct pconn {
    PGconn *c;
    int busy;
    unsigned char prepared[S__COUNT];
};

struct store_be {
    char *url;
    pthread_mutex_t mu; /* guards the busy flags of pool */
    pthread_cond_t cv;  /* a connection was given back */
    struct pconn pool[POOL_SIZE];

    /* the LISTEN thread (pg_listen) */
    pthread_t listener;
    int listening;
    int stop_fd[2]; /* written once by close: wakes the listener */
    void (*on_change)(void *arg, const char *account_id);
    void *on_change_arg;
};

/* ---- parameters --------------------------------------------------------------------------- */

/* Statement parameters. Text values are borrowed; numbers are formatted into num. */
struct args {
    int n, cap;
    const char **v;
    int *len;
    int *fmt;
    char (*num)[24];
};

/* Fixed-size storage for prepared statements' arguments, on the caller's stack. */
struct args_buf {
    struct args a;
    const char *v[ARGS_MAX];
    int len[ARGS_MAX];
    int fmt[ARGS_MAX];
    char num[ARGS_MAX][24];
};

static struct args *
args_init(struct args_buf *ab)
{
    ab->a = (struct args){0, ARGS_MAX, ab->v, ab->len, ab->fmt, ab->num};
    return &ab->a;
}

/* Appends a text parameter; NULL is SQL NULL. */
static void
a_text(struct args *a, const char *s)
{
    if (a->n >= a->cap)
        return;
    a->v[a->n] = s;
    a->len[a->n] = 0;
    a->fmt[a->n++] = 0;
}

static void
a_int(struct args *a, int64_t x)
{
    if (a->n >= a->cap)
        return;
    snprintf(a->num[a->n], sizeof a->num[0], "%" PRId64, x);
    a_text(a, a->num[a->n]);
}

/* Appends a bytea parameter; NULL is SQL NULL. */
static void
a_blob(struct args *a, const void *p, size_t n)
{
    if (a->n >= a->cap)
        return;
    a->v[a->n] = p;
    a->len[a->n] = (int)n;
    a->fmt[a->n++] = p != NULL ? 1 : 0;
}

/* ---- errors and columns ----------------------------------------------------------------- */

/* Maps a failed result to a store code: unique violation STORE_CONFLICT, foreign-key violation
 * STORE_NOTFOUND, anything else logged (primary message only: no values) as STORE_ERR. */
static int
pg_fail(PGconn *c, const PGresult *r, const char *what)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "23505") == 0)
        return STORE_CONFLICT;
    if (state != NULL && strcmp(state, "23503") == 0)
        return STORE_NOTFOUND;
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL)
        msg = PQerrorMessage(c);
    char q[256];
    log_error("store: postgres failure", "op=%s state=%s err=\"%s\"", what,
              state != NULL ? state : "-", log_quote(msg, q, sizeof q));
    return STORE_ERR;
}

static int64_t
col_int(const PGresult *r, int row, int i)
{
    if (PQgetisnull(r, row, i))
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, i);
    int len = PQgetlength(r, row, i);
    uint64_t u = 0;
    for (int k = 0; k < len && k < 8; k++)
        u = u << 8 | p[k];
    if (len == 4)
        return (int32_t)(uint32_t)u;
    if (len == 2)
        return (int16_t)(uint16_t)u;
    return (int64_t)u;
}

static void
col_copy(const PGresult *r, int row, int i, char *dst, size_t cap)
{
    size_t n = PQgetisnull(r, row, i) ? 0 : (size_t)PQgetlength(r, row, i);
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, PQgetvalue(r, row, i), n);
    dst[n] = '\0';
}

/* *out = a copy of the text column, or of dflt when it is NULL (NULL dflt: stays NULL). */
static int
col_dup(const PGresult *r, int row, int i, char **out, const char *dflt)
{
    const char *t = PQgetisnull(r, row, i) ? dflt : PQgetvalue(r, row, i);
    if (t == NULL) {
        *out = NULL;
        return 0;
    }
    *out = strdup(t);
    return *out != NULL ? 0 : -1;
}

/* *out = a copy of the bytea column (NULL and 0 for NULL or empty). */
static int
col_blob(const PGresult *r, int row, int i, unsigned char **out, size_t *len)
{
    size_t n = PQgetisnull(r, row, i) ? 0 : (size_t)PQgetlength(r, row, i);
    *out = NULL;
    *len = 0;
    if (n == 0)
        return 0;
    *out = malloc(n);
    if (*out == NULL)
        return -1;
    memcpy(*out, PQgetvalue(r, row, i), n);
    *len = n;
    return 0;
}

/* Copies a STORE_HASH bytea column; 1 when present with the right size. */
static int
col_hash(const PGresult *r, int row, int i, unsigned char out[STORE_HASH])
{
    if (PQgetisnull(r, row, i) || PQgetlength(r, row, i) != STORE_HASH) {
        memset(out, 0, STORE_HASH);
        return 0;
    }
    memcpy(out, PQgetvalue(r, row, i), STORE_HASH);
    return 1;
}

/* ---- row readers: 0, or -1 when out of memory (the struct is then cleared) ---------------- */

typedef int (*row_fn)(const PGresult *r, int row, void *out);

static int
row_project(const PGresult *r, int row, void *out)
{
    struct st_project *p = out;
    col_copy(r, row, 0, p->id, sizeof p->id);
    col_copy(r, row, 1, p->name, sizeof p->name);
    p->created_at = col_int(r, row, 3);
    return col_dup(r, row, 2, &p->settings, "{}");
}

static void
clr_project(void *p)
{
    st_project_clear(p);
}

static int
row_key(const PGresult *r, int row, void *out)
{
    struct st_api_key *k = out;
    col_copy(r, row, 0, k->id, sizeof k->id);
    col_copy(r, row, 1, k->project_id, sizeof k->project_id);
    col_copy(r, row, 2, k->hint, sizeof k->hint);
    k->created_at = col_int(r, row, 3);
    k->revoked_at = col_int(r, row, 4);
    return 0;
}

static int
row_app(const PGresult *r, int row, void *out)
{
    struct st_managed_app *a = out;
    col_copy(r, row, 0, a->toolkit, sizeof a->toolkit);
    if (col_dup(r, row, 1, &a->client_id, "") != 0 ||
        col_blob(r, row, 2, &a->secret_enc, &a->secret_len) != 0 ||
        col_dup(r, row, 3, &a->scopes, NULL) != 0) {
        st_managed_app_clear(a);
        return -1;
    }
    return 0;
}

static int
row_ac(const PGresult *r, int row, void *out)
{
    struct st_auth_config *c = out;
    col_copy(r, row, 0, c->id, sizeof c->id);
    col_copy(r, row, 1, c->project_id, sizeof c->project_id);
    col_copy(r, row, 2, c->toolkit, sizeof c->toolkit);
    col_copy(r, row, 3, c->auth_scheme, sizeof c->auth_scheme);
    col_copy(r, row, 4, c->name, sizeof c->name);
    c->is_managed = (int)col_int(r, row, 5);
    c->disabled = (int)col_int(r, row, 6);
    c->created_at = col_int(r, row, 11);
    c->updated_at = col_int(r, row, 12);
    c->connections = col_int(r, row, 13);
    if (col_dup(r, row, 7, &c->client_id, NULL) != 0 ||
        col_blob(r, row, 8, &c->secret_enc, &c->secret_len) != 0 ||
        col_dup(r, row, 9, &c->scopes, NULL) != 0 || col_dup(r, row, 10, &c->extra, "{}") != 0) {
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
row_session(const PGresult *r, int row, void *out)
{
    struct st_session *x = out;
    col_copy(r, row, 0, x->id, sizeof x->id);
    col_copy(r, row, 1, x->project_id, sizeof x->project_id);
    x->version = col_int(r, row, 4);
    x->created_at = col_int(r, row, 5);
    x->updated_at = col_int(r, row, 6);
    if (col_dup(r, row, 2, &x->user_id, "") != 0 || col_dup(r, row, 3, &x->config, "{}") != 0) {
        st_session_clear(x);
        return -1;
    }
    return 0;
}

static int
row_account(const PGresult *r, int row, void *out)
{
    struct st_account *a = out;
    col_copy(r, row, 0, a->id, sizeof a->id);
    col_copy(r, row, 1, a->project_id, sizeof a->project_id);
    col_copy(r, row, 3, a->toolkit, sizeof a->toolkit);
    col_copy(r, row, 4, a->auth_config_id, sizeof a->auth_config_id);
    col_copy(r, row, 5, a->status, sizeof a->status);
    a->is_disabled = (int)col_int(r, row, 7);
    col_copy(r, row, 9, a->word_id, sizeof a->word_id);
    a->created_at = col_int(r, row, 12);
    a->updated_at = col_int(r, row, 13);
    a->connected_at = col_int(r, row, 14);
    a->expires_at = col_int(r, row, 15);
    if (col_dup(r, row, 2, &a->user_id, "") != 0 ||
        col_dup(r, row, 6, &a->status_reason, NULL) != 0 ||
        col_dup(r, row, 8, &a->alias, NULL) != 0 ||
        col_blob(r, row, 10, &a->creds_enc, &a->creds_len) != 0 ||
        col_dup(r, row, 11, &a->data, "{}") != 0) {
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
row_link(const PGresult *r, int row, void *out)
{
    struct st_link *l = out;
    col_hash(r, row, 0, l->token_hash);
    col_copy(r, row, 1, l->account_id, sizeof l->account_id);
    col_copy(r, row, 2, l->project_id, sizeof l->project_id);
    col_copy(r, row, 3, l->session_id, sizeof l->session_id);
    l->has_state = col_hash(r, row, 5, l->state_hash);
    l->created_at = col_int(r, row, 7);
    l->expires_at = col_int(r, row, 8);
    l->used_at = col_int(r, row, 9);
    if (col_dup(r, row, 4, &l->callback_url, NULL) != 0 ||
        col_blob(r, row, 6, &l->verifier_enc, &l->verifier_len) != 0) {
        st_link_clear(l);
        return -1;
    }
    return 0;
}

static int
row_event(const PGresult *r, int row, void *out)
{
    struct st_event *e = out;
    e->seq = col_int(r, row, 0);
    col_copy(r, row, 1, e->account_id, sizeof e->account_id);
    col_copy(r, row, 2, e->project_id, sizeof e->project_id);
    col_copy(r, row, 3, e->type, sizeof e->type);
    col_copy(r, row, 4, e->status, sizeof e->status);
    e->at = col_int(r, row, 6);
    if (col_dup(r, row, 5, &e->reason, NULL) != 0) {
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
row_day(const PGresult *r, int row, void *out)
{
    struct st_event_day *d = out;
    d->day = col_int(r, row, 0);
    col_copy(r, row, 1, d->status, sizeof d->status);
    d->n = col_int(r, row, 2);
    return 0;
}

static int
row_count(const PGresult *r, int row, void *out)
{
    struct store_count *c = out;
    col_copy(r, row, 0, c->status, sizeof c->status);
    c->n = col_int(r, row, 1);
    return 0;
}

static int
row_int(const PGresult *r, int row, void *out)
{
    *(int64_t *)out = col_int(r, row, 0);
    return 0;
}

static int
row_id(const PGresult *r, int row, void *out)
{
    col_copy(r, row, 0, out, STORE_ID);
    return 0;
}

/* ---- the pool ------------------------------------------------------------------------------ */

/* Server notices (NOTICE, WARNING) are not errors; failures arrive as results. */
static void
ignore_notice(void *arg, const char *message)
{
}

/* Opens a connection to url; NULL with the reason in err. */
static PGconn *
pg_connect(const char *url, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(url);
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, ignore_notice, NULL);
        return c;
    }
    const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s", (int)n, m);
    PQfinish(c);
    return NULL;
}

/* Makes pc usable: connects it on first use, resets it when broken. 0 or STORE_ERR (logged). */
static int
pc_ready(struct store_be *b, struct pconn *pc)
{
    if (pc->c != NULL && PQstatus(pc->c) == CONNECTION_OK)
        return 0;
    memset(pc->prepared, 0, sizeof pc->prepared);
    if (pc->c != NULL) {
        PQreset(pc->c);
        if (PQstatus(pc->c) == CONNECTION_OK)
            return 0;
        PQfinish(pc->c);
        pc->c = NULL;
    }
    char err[256];
    pc->c = pg_connect(b->url, err, sizeof err);
    if (pc->c == NULL) {
        char q[300];
        log_error("store: postgres connection failed", "err=\"%s\"", log_quote(err, q, sizeof q));
        return STORE_ERR;
    }
    return 0;
}

/* Borrows a connection, waiting while every one is lent; NULL (logged) when none can be made
 * usable. */
static struct pconn *
acquire(struct store_be *b)
{
    pthread_mutex_lock(&b->mu);
    struct pconn *pc = NULL;
    for (;;) {
        for (int i = 0; i < POOL_SIZE && pc == NULL; i++) {
            if (!b->pool[i].busy)
                pc = &b->pool[i];
        }
        if (pc != NULL)
            break;
        pthread_cond_wait(&b->cv, &b->mu);
    }
    pc->busy = 1;
    pthread_mutex_unlock(&b->mu);
    if (pc_ready(b, pc) != 0) {
        pthread_mutex_lock(&b->mu);
        pc->busy = 0;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return NULL;
    }
    return pc;
}

static void
release(struct store_be *b, struct pconn *pc)
{
    pthread_mutex_lock(&b->mu);
    pc->busy = 0;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* ---- running statements ------------------------------------------------------------------ */

/* Runs prepared statement id (preparing it on this connection first if needed), or the dynamic
 * sql when id is S__COUNT. 0 and *res (a command or rows result, PQclear it) or a store code. */
static int
pc_exec(struct pconn *pc, enum sid id, const char *sql, const struct args *a, PGresult **res,
        const char *what)
{
    PGresult *r;
    int n = a != NULL ? a->n : 0;
    const char *const *v = a != NULL ? a->v : NULL;
    const int *len = a != NULL ? a->len : NULL, *fmt = a != NULL ? a->fmt : NULL;
    if (id == S__COUNT) {
        r = PQexecParams(pc->c, sql, n, NULL, v, len, fmt, 1);
    } else {
        char name[16];
        snprintf(name, sizeof name, "t%d", (int)id);
        if (!pc->prepared[id]) {
            r = PQprepare(pc->c, name, ssql[id], 0, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                int rc = pg_fail(pc->c, r, what);
                PQclear(r);
                return rc;
            }
            PQclear(r);
            pc->prepared[id] = 1;
        }
        r = PQexecPrepared(pc->c, name, n, v, len, fmt, 1);
    }
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = pg_fail(pc->c, r, what);
        PQclear(r);
        return rc;
    }
    *res = r;
    return 0;
}

/* Runs a statement without parameters or results (BEGIN, COMMIT, ROLLBACK). */
static int
pc_ctl(struct pconn *pc, const char *sql)
{
    PGresult *r = PQexec(pc->c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_fail(pc->c, r, sql);
    PQclear(r);
    return rc;
}

/* Reads up to max rows of r into a new array of elsize-byte elements. */
static int
rows_take(const PGresult *r, row_fn fn, void (*clear)(void *), size_t elsize, size_t max,
          void **items, size_t *n)
{
    size_t cnt = (size_t)PQntuples(r);
    if (cnt > max)
        cnt = max;
    char *arr = calloc(cnt > 0 ? cnt : 1, elsize);
    if (arr == NULL)
        return STORE_ERR;
    for (size_t i = 0; i < cnt; i++) {
        if (fn(r, (int)i, arr + i * elsize) != 0) {
            for (size_t k = 0; clear != NULL && k < i; k++)
                clear(arr + k * elsize);
            free(arr);
            return STORE_ERR;
        }
    }
    *items = arr;
    *n = cnt;
    return 0;
}

/* One query on a borrowed connection: retry != 0 runs it once more when the connection broke
 * (reads only). fn reads the first row into out (STORE_NOTFOUND when there is none); with fn
 * NULL, need_change asks for at least one affected row. */
struct query {
    enum sid id;
    const char *sql; /* when id is S__COUNT */
    const struct args *a;
    int retry;
    row_fn fn;
    void *out;
    int need_change;
    const char *what;
};

static int
pc_query(struct pconn *pc, const struct query *q)
{
    PGresult *r = NULL;
    int rc = pc_exec(pc, q->id, q->sql, q->a, &r, q->what);
    if (rc != 0)
        return rc;
    if (q->fn != NULL) {
        if (PQntuples(r) == 0)
            rc = STORE_NOTFOUND;
        else if (q->fn(r, 0, q->out) != 0)
            rc = STORE_ERR;
    } else if (q->need_change) {
        const char *t = PQcmdTuples(r);
        rc = (t[0] == '\0' || strcmp(t, "0") == 0) ? STORE_NOTFOUND : 0;
    }
    PQclear(r);
    return rc;
}

static int
run(struct store_be *b, const struct query *q)
{
    for (int attempt = 0;; attempt++) {
        struct pconn *pc = acquire(b);
        if (pc == NULL)
            return STORE_ERR;
        int rc = pc_query(pc, q);
        int broken = PQstatus(pc->c) != CONNECTION_OK;
        release(b, pc);
        if (rc == STORE_ERR && broken && q->retry && attempt == 0)
            continue;
        return rc;
    }
}

/* One row of statement id into out (rows: 0 or STORE_NOTFOUND). */
static int
q_one(struct store_be *b, enum sid id, const struct args *a, int retry, row_fn fn, void *out,
      const char *what)
{
    struct query q = {id, NULL, a, retry, fn, out, 0, what};
    return run(b, &q);
}

/* A statement whose result rows are not read; need_change: STORE_NOTFOUND when none changed. */
static int
q_cmd(struct store_be *b, enum sid id, const struct args *a, int need_change, const char *what)
{
    struct query q = {id, NULL, a, 0, NULL, NULL, need_change, what};
    return run(b, &q);
}

static int
pc_all(struct pconn *pc, enum sid id, const char *sql, const struct args *a, row_fn fn,
       void (*clear)(void *), size_t elsize, size_t max, void **items, size_t *n, const char *what)
{
    PGresult *r = NULL;
    int rc = pc_exec(pc, id, sql, a, &r, what);
    if (rc == 0)
        rc = rows_take(r, fn, clear, elsize, max, items, n);
    PQclear(r);
    return rc;
}

/* Every row (up to max) of statement id into a new array. */
static int
q_all(struct store_be *b, enum sid id, const struct args *a, int retry, row_fn fn,
      void (*clear)(void *), size_t elsize, size_t max, void **items, size_t *n, const char *what)
{
    for (int attempt = 0;; attempt++) {
        struct pconn *pc = acquire(b);
        if (pc == NULL)
            return STORE_ERR;
        int rc = pc_all(pc, id, NULL, a, fn, clear, elsize, max, items, n, what);
        int broken = PQstatus(pc->c) != CONNECTION_OK;
        release(b, pc);
        if (rc == STORE_ERR && broken && retry && attempt == 0)
            continue;
        return rc;
    }
}

/* "account.<status in lower case>" */
static void
event_type(const char *status, char out[32])
{
    size_t o = 0;
    for (const char *p = "account."; *p != '\0'; p++)
        out[o++] = *p;
    for (const char *p = status; *p != '\0' && o < 31; p++)
        out[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    out[o] = '\0';
}

/* ---- open, close, schema ------------------------------------------------------------------ */

static void
be_free(struct store_be *b)
{
    for (int i = 0; i < POOL_SIZE; i++)
        PQfinish(b->pool[i].c);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->url);
    free(b);
}

/* url: the whole postgres:// URL (libpq reads it as it is). Connects the first pool connection
 * now so that a wrong URL fails at start. */
static int
pg_open(const char *url, struct store_be **out, char *err, size_t errlen)
{
    struct store_be *b = calloc(1, sizeof *b);
    if (b == NULL || (b->url = strdup(url)) == NULL) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->stop_fd[0] = b->stop_fd[1] = -1;
    b->pool[0].c = pg_connect(url, err, errlen);
    if (b->pool[0].c == NULL) {
        be_free(b);
        return -1;
    }
    if (PQserverVersion(b->pool[0].c) < 110000) {
        snprintf(err, errlen, "PostgreSQL 11 or newer is needed (server is %d)",
                 PQserverVersion(b->pool[0].c));
        be_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static void listener_stop(struct store_be *b);

/* Other threads must have stopped using the store. */
static void
pg_close(struct store_be *b)
{
    listener_stop(b);
    be_free(b);
}

/* Runs sql (several statements allowed, no parameters) on pc. */
static int
pc_script(struct pconn *pc, const char *sql, const char *what)
{
    PGresult *r = PQexec(pc->c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : pg_fail(pc->c, r, what);
    PQclear(r);
    return rc;
}

/* Takes the migration lock inside a transaction on pc. */
static int
pc_begin_locked(struct pconn *pc)
{
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", MIGRATE_LOCK);
    return pc_script(pc, sql, "migrate_lock");
}

static int
pc_version(struct pconn *pc, int64_t *out)
{
    struct query q = {S__COUNT, "SELECT coalesce(max(version), 0) FROM schema_version",
                      NULL,     0,
                      row_int,  out,
                      0,        "schema_version"};
    return pc_query(pc, &q);
}

static int
pg_schema_version(struct store_be *b, int64_t *out)
{
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    int rc = pc_begin_locked(pc);
    if (rc == 0)
        rc = pc_script(pc,
                       "CREATE TABLE IF NOT EXISTS schema_version ("
                       "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                       "schema_version");
    if (rc == 0)
        rc = pc_version(pc, out);
    if (rc == 0)
        rc = pc_ctl(pc, "COMMIT");
    else
        pc_ctl(pc, "ROLLBACK");
    release(b, pc);
    return rc;
}

/* Applies one migration unless another node already did (both under the advisory lock). */
static int
pg_migrate(struct store_be *b, int64_t version, const char *sql)
{
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    int64_t cur = 0;
    int rc = pc_begin_locked(pc);
    if (rc == 0)
        rc = pc_version(pc, &cur);
    if (rc == 0 && cur < version) {
        rc = pc_script(pc, sql, "migrate");
        if (rc == 0) {
            struct args_buf ab;
            struct args *a = args_init(&ab);
            a_int(a, version);
            a_int(a, time_now_ms());
            struct query q = {
                S__COUNT, "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                a,        0,
                NULL,     NULL,
                0,        "migrate"};
            rc = pc_query(pc, &q);
        }
    }
    if (rc == 0)
        rc = pc_ctl(pc, "COMMIT");
    else
        pc_ctl(pc, "ROLLBACK");
    release(b, pc);
    return rc;
}

/* ---- projects and API keys ---------------------------------------------------------------- */

static int
pg_project_create(struct store_be *b, const char *id, const char *name)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, name);
    a_int(a, time_now_ms());
    return q_cmd(b, S_PROJECT_INSERT, a, 0, "project_create");
}

static int
pg_project_get(struct store_be *b, const char *id, struct st_project *out)
{
    struct st_project p = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    int rc = q_one(b, S_PROJECT_GET, a, 1, row_project, &p, "project_get");
    if (rc == 0)
        *out = p;
    return rc;
}

static int
pg_project_first(struct store_be *b, struct st_project *out)
{
    struct st_project p = {0};
    int rc = q_one(b, S_PROJECT_FIRST, NULL, 1, row_project, &p, "project_first");
    if (rc == 0)
        *out = p;
    return rc;
}

static int
pg_project_all(struct store_be *b, struct st_project **items, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_int(a, STORE_EACH_MAX);
    void *arr = NULL;
    int rc = q_all(b, S_PROJECT_ALL, a, 1, row_project, clr_project, sizeof **items, STORE_EACH_MAX,
                   &arr, n, "project_all");
    if (rc == 0)
        *items = arr;
    return rc;
}

static int
pg_project_set_settings(struct store_be *b, const char *id, const char *settings_json)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, settings_json);
    return q_cmd(b, S_PROJECT_SETTINGS, a, 1, "project_set_settings");
}

static int
pg_key_create(struct store_be *b, const char *id, const char *project_id,
              const unsigned char hash[STORE_HASH], const char *hint)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, project_id);
    a_blob(a, hash, STORE_HASH);
    a_text(a, hint);
    a_int(a, time_now_ms());
    return q_cmd(b, S_KEY_INSERT, a, 0, "key_create");
}

static int
pg_key_lookup(struct store_be *b, const unsigned char hash[STORE_HASH], struct st_api_key *out)
{
    struct st_api_key k = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_blob(a, hash, STORE_HASH);
    int rc = q_one(b, S_KEY_LOOKUP, a, 1, row_key, &k, "key_lookup");
    if (rc == 0)
        *out = k;
    return rc;
}

static int
pg_key_all(struct store_be *b, const char *project_id, struct st_api_key **items, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_int(a, STORE_EACH_MAX);
    void *arr = NULL;
    int rc = q_all(b, S_KEY_ALL, a, 1, row_key, NULL, sizeof **items, STORE_EACH_MAX, &arr, n,
                   "key_all");
    if (rc == 0)
        *items = arr;
    return rc;
}

static int
pg_key_revoke(struct store_be *b, const char *project_id, const char *id)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    a_int(a, time_now_ms());
    return q_cmd(b, S_KEY_REVOKE, a, 1, "key_revoke");
}

/* ---- managed OAuth apps --------------------------------------------------------------------- */

static int
pg_managed_app_set(struct store_be *b, const struct st_managed_app *m)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, m->toolkit);
    a_text(a, m->client_id);
    a_blob(a, m->secret_enc, m->secret_len);
    a_text(a, m->scopes);
    a_int(a, time_now_ms());
    return q_cmd(b, S_APP_UPSERT, a, 0, "managed_app_set");
}

static int
pg_managed_app_get(struct store_be *b, const char *toolkit, struct st_managed_app *out)
{
    struct st_managed_app m = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, toolkit);
    int rc = q_one(b, S_APP_GET, a, 1, row_app, &m, "managed_app_get");
    if (rc == 0)
        *out = m;
    return rc;
}

/* ---- auth configs ---------------------------------------------------------------------------- */

static int
pg_auth_config_create(struct store_be *b, const struct st_auth_config *c)
{
    int64_t now = time_now_ms();
    int64_t created = c->created_at > 0 ? c->created_at : now;
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, c->id);
    a_text(a, c->project_id);
    a_text(a, c->toolkit);
    a_text(a, c->auth_scheme);
    a_text(a, c->name);
    a_int(a, c->is_managed ? 1 : 0);
    a_int(a, c->disabled ? 1 : 0);
    a_text(a, c->client_id);
    a_blob(a, c->secret_enc, c->secret_len);
    a_text(a, c->scopes);
    a_text(a, c->extra != NULL ? c->extra : "{}");
    a_int(a, created);
    a_int(a, c->updated_at > 0 ? c->updated_at : created);
    return q_cmd(b, S_AC_INSERT, a, 0, "auth_config_create");
}

static int
pg_auth_config_get(struct store_be *b, const char *project_id, const char *id,
                   struct st_auth_config *out)
{
    struct st_auth_config c = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    int rc = q_one(b, S_AC_GET, a, 1, row_ac, &c, "auth_config_get");
    if (rc == 0)
        *out = c;
    return rc;
}

static int
pg_auth_config_newest(struct store_be *b, const char *project_id, const char *toolkit, int managed,
                      struct st_auth_config *out)
{
    struct st_auth_config c = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, toolkit);
    a_int(a, managed);
    int rc = q_one(b, S_AC_NEWEST, a, 1, row_ac, &c, "auth_config_newest");
    if (rc == 0)
        *out = c;
    return rc;
}

/* Count and page from one snapshot: a read-only repeatable-read transaction on one connection. */
static int
pg_auth_config_list(struct store_be *b, const struct st_auth_config_query *q,
                    const struct store_cursor *cur, int limit, struct st_auth_config_page *out)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, q->project_id);
    a_text(a, q->toolkit);
    a_int(a, q->managed);
    a_int(a, q->show_disabled ? 1 : 0);
    a_text(a, q->search);
    struct args count = *a; /* the first five */
    if (cur->set)
        a_int(a, cur->created_at);
    else
        a_text(a, NULL);
    a_text(a, cur->set ? cur->id : NULL);
    a_int(a, limit + 1);

    struct st_auth_config_page page = {0};
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    int rc = pc_ctl(pc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc == 0) {
        struct query cq = {S_AC_COUNT, NULL,        &count, 0,
                           row_int,    &page.total, 0,      "auth_config_count"};
        void *arr = NULL;
        rc = pc_query(pc, &cq);
        if (rc == 0)
            rc = pc_all(pc, S_AC_PAGE, NULL, a, row_ac, clr_ac, sizeof *page.items,
                        (size_t)limit + 1, &arr, &page.n, "auth_config_list");
        page.items = arr;
        pc_ctl(pc, rc == 0 ? "COMMIT" : "ROLLBACK");
    }
    release(b, pc);
    if (rc != 0)
        return rc;
    *out = page;
    return 0;
}

static int
pg_auth_config_set_disabled(struct store_be *b, const char *project_id, const char *id,
                            int disabled)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    a_int(a, disabled);
    a_int(a, time_now_ms());
    return q_cmd(b, S_AC_DISABLE, a, 1, "auth_config_set_disabled");
}

static int
pg_auth_config_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    return q_cmd(b, S_AC_DELETE, a, 1, "auth_config_delete");
}

/* ---- sessions -------------------------------------------------------------------------------- */

static int
pg_session_create(struct store_be *b, const struct st_session *x)
{
    int64_t now = time_now_ms();
    int64_t created = x->created_at > 0 ? x->created_at : now;
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, x->id);
    a_text(a, x->project_id);
    a_text(a, x->user_id);
    a_text(a, x->config != NULL ? x->config : "{}");
    a_int(a, x->version > 0 ? x->version : 1);
    a_int(a, created);
    a_int(a, x->updated_at > 0 ? x->updated_at : created);
    return q_cmd(b, S_SESSION_INSERT, a, 0, "session_create");
}

static int
pg_session_get(struct store_be *b, const char *project_id, const char *id, struct st_session *out)
{
    struct st_session x = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    int rc = q_one(b, S_SESSION_GET, a, 1, row_session, &x, "session_get");
    if (rc == 0)
        *out = x;
    return rc;
}

static int
pg_session_update(struct store_be *b, const char *project_id, const char *id,
                  const char *config_json, struct st_session *out)
{
    struct st_session x = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    a_text(a, config_json);
    a_int(a, time_now_ms());
    int rc = q_one(b, S_SESSION_UPDATE, a, 0, row_session, &x, "session_update");
    if (rc == 0 && out != NULL)
        *out = x;
    else
        st_session_clear(&x);
    return rc;
}

static int
pg_session_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    return q_cmd(b, S_SESSION_DELETE, a, 1, "session_delete");
}

/* ---- connected accounts: writes -------------------------------------------------------------- */

static int
pg_account_create_linked(struct store_be *b, const struct st_account *acc, const struct st_link *l)
{
    int64_t now = time_now_ms();
    const char *status = acc->status[0] != '\0' ? acc->status : "INITIATED";
    int64_t created = acc->created_at > 0 ? acc->created_at : now;
    char type[32];
    event_type(status, type);
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, acc->id);
    a_text(a, acc->project_id);
    a_text(a, acc->user_id);
    a_text(a, acc->toolkit);
    a_text(a, acc->auth_config_id);
    a_text(a, status);
    a_text(a, acc->status_reason);
    a_int(a, acc->is_disabled ? 1 : 0);
    a_text(a, acc->alias);
    a_text(a, acc->word_id);
    a_blob(a, acc->creds_enc, acc->creds_len);
    a_text(a, acc->data != NULL ? acc->data : "{}");
    a_int(a, created);
    a_int(a, acc->updated_at > 0 ? acc->updated_at : created);
    a_int(a, acc->connected_at);
    a_int(a, acc->expires_at);
    a_int(a, l != NULL && l->expires_at > 0 ? l->expires_at : 0);
    a_text(a, type);
    a_int(a, now);
    if (l == NULL)
        return q_cmd(b, S_ACCOUNT_CREATE, a, 0, "account_create");
    a_blob(a, l->token_hash, STORE_HASH);
    a_text(a, l->session_id);
    a_text(a, l->callback_url);
    a_blob(a, l->has_state ? l->state_hash : NULL, STORE_HASH);
    a_blob(a, l->verifier_enc, l->verifier_len);
    a_int(a, l->created_at > 0 ? l->created_at : now);
    a_int(a, l->expires_at);
    return q_cmd(b, S_ACCOUNT_CREATE_LINKED, a, 0, "account_create");
}

static int
pg_account_transition(struct store_be *b, const char *id, const char *const *from, const char *to,
                      const char *reason)
{
    char type[32];
    event_type(to, type);
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, to);
    a_text(a, reason);
    a_int(a, time_now_ms());
    a_text(a, type);
    int i = 0;
    for (; i < STORE_FROM_MAX && from[i] != NULL; i++)
        a_text(a, from[i]);
    for (; i < STORE_FROM_MAX; i++)
        a_text(a, NULL);
    return q_cmd(b, S_ACCOUNT_TRANSITION, a, 1, "account_transition");
}

static int
pg_account_activate(struct store_be *b, const char *id, const unsigned char *creds_enc,
                    size_t creds_len, const char *data_json, int64_t expires_at)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_blob(a, creds_enc, creds_len);
    a_text(a, data_json);
    a_int(a, expires_at);
    a_int(a, time_now_ms());
    return q_cmd(b, S_ACCOUNT_ACTIVATE, a, 1, "account_activate");
}

static int
pg_account_set_disabled(struct store_be *b, const char *project_id, const char *id, int disabled)
{
    char got[STORE_ID];
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    a_int(a, disabled);
    a_int(a, time_now_ms());
    return q_one(b, S_ACCOUNT_SET_DISABLED, a, 0, row_id, got, "account_set_disabled");
}

static int
pg_account_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    a_int(a, time_now_ms());
    return q_cmd(b, S_ACCOUNT_DELETE, a, 1, "account_delete");
}

/* Expires in chunks of EXPIRE_CHUNK, one statement (and transaction) each, until no due account
 * is left that another node is not expiring at the same moment. */
static int
pg_account_expire_due(struct store_be *b, int64_t now_ms, char (**ids)[STORE_ID], size_t *n)
{
    char(*all)[STORE_ID] = NULL;
    size_t total = 0;
    for (;;) {
        struct args_buf ab;
        struct args *a = args_init(&ab);
        a_int(a, now_ms);
        a_int(a, EXPIRE_CHUNK);
        a_int(a, time_now_ms());
        void *arr = NULL;
        size_t got = 0;
        int rc = q_all(b, S_ACCOUNT_EXPIRE, a, 0, row_id, NULL, STORE_ID, EXPIRE_CHUNK, &arr, &got,
                       "account_expire_due");
        if (rc == 0 && got > 0) {
            char(*grown)[STORE_ID] = realloc(all, (total + got) * sizeof *all);
            if (grown == NULL) {
                rc = STORE_ERR;
            } else {
                all = grown;
                memcpy(all[total], arr, got * STORE_ID);
                total += got;
            }
        }
        free(arr);
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
pg_account_get(struct store_be *b, const char *project_id, const char *id, struct st_account *out)
{
    struct st_account acc = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    int rc = q_one(b, S_ACCOUNT_GET, a, 1, row_account, &acc, "account_get");
    if (rc == 0)
        *out = acc;
    return rc;
}

static int
pg_account_get_any(struct store_be *b, const char *id, struct st_account *out)
{
    struct st_account acc = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    int rc = q_one(b, S_ACCOUNT_GET_ANY, a, 1, row_account, &acc, "account_get_any");
    if (rc == 0)
        *out = acc;
    return rc;
}

static int
pg_account_active_for_user(struct store_be *b, const char *project_id, const char *user_id,
                           struct st_account_page *out)
{
    struct st_account_page page = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, user_id);
    void *arr = NULL;
    int rc = q_all(b, S_ACCOUNT_ACTIVE, a, 1, row_account, clr_account, sizeof *page.items,
                   STORE_PAGE_MAX, &arr, &page.n, "account_active_for_user");
    if (rc != 0)
        return rc;
    page.items = arr;
    page.total = (int64_t)page.n;
    *out = page;
    return 0;
}

/* Appends " AND col IN ($k, ...)" for a non-empty list. */
static int
where_in(struct buf *sql, struct args *a, const char *col, const char *const *list)
{
    if (list == NULL || list[0] == NULL)
        return 0;
    if (buf_printf(sql, " AND %s IN (", col) != 0)
        return -1;
    for (size_t i = 0; list[i] != NULL; i++) {
        a_text(a, list[i]);
        if (buf_printf(sql, i == 0 ? "$%d" : ", $%d", a->n) != 0)
            return -1;
    }
    return buf_puts(sql, ")");
}

static int
where_build(struct buf *sql, struct args *a, const struct st_account_query *q)
{
    a_text(a, q->project_id);
    if (buf_puts(sql, "project_id = $1") != 0 || where_in(sql, a, "user_id", q->user_ids) != 0 ||
        where_in(sql, a, "toolkit", q->toolkits) != 0 ||
        where_in(sql, a, "auth_config_id", q->auth_config_ids) != 0 ||
        where_in(sql, a, "status", q->statuses) != 0)
        return -1;
    return 0;
}

/* The page query after the count's WHERE clause; appends its own parameters to a. */
static int
page_sql(struct buf *sql, const char *where, struct args *a, const struct store_cursor *cur,
         int asc, int limit)
{
    int bad = buf_printf(sql, "SELECT " ACCOUNT_COLS " FROM accounts WHERE %s", where);
    if (cur->set) {
        a_int(a, cur->created_at);
        a_text(a, cur->id);
        bad |= buf_printf(sql, " AND (created_at, id) %s ($%d::bigint, $%d::text)", asc ? ">" : "<",
                          a->n - 1, a->n);
    }
    a_int(a, limit + 1);
    bad |= buf_printf(sql, " ORDER BY created_at %s, id %s LIMIT $%d", asc ? "ASC" : "DESC",
                      asc ? "ASC" : "DESC", a->n);
    return bad ? -1 : 0;
}

static int
account_list_run(struct store_be *b, const char *count_sql, const struct args *count,
                 const char *sql, const struct args *a, int limit, struct st_account_page *page)
{
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    int rc = pc_ctl(pc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc == 0) {
        struct query cq = {S__COUNT, count_sql,    count, 0,
                           row_int,  &page->total, 0,     "account_count"};
        void *arr = NULL;
        rc = pc_query(pc, &cq);
        if (rc == 0)
            rc = pc_all(pc, S__COUNT, sql, a, row_account, clr_account, sizeof *page->items,
                        (size_t)limit + 1, &arr, &page->n, "account_list");
        page->items = arr;
        pc_ctl(pc, rc == 0 ? "COMMIT" : "ROLLBACK");
    }
    release(b, pc);
    return rc;
}

static int
pg_account_list(struct store_be *b, const struct st_account_query *q,
                const struct store_cursor *cur, int limit, struct st_account_page *out)
{
    /* project, four lists, the cursor pair and the limit */
    int cap = 1 + 4 * STORE_LIST_MAX + 3;
    struct args a = {0,
                     cap,
                     calloc((size_t)cap, sizeof(char *)),
                     calloc((size_t)cap, sizeof(int)),
                     calloc((size_t)cap, sizeof(int)),
                     calloc((size_t)cap, 24)};
    struct buf where, count, sql;
    buf_init(&where, 32 * 1024);
    buf_init(&count, 64 * 1024);
    buf_init(&sql, 64 * 1024);
    struct st_account_page page = {0};
    int rc = STORE_ERR;
    if (a.v != NULL && a.len != NULL && a.fmt != NULL && a.num != NULL &&
        where_build(&where, &a, q) == 0 &&
        buf_printf(&count, "SELECT count(*) FROM accounts WHERE %s", where.data) == 0) {
        struct args ca = a;
        if (page_sql(&sql, where.data, &a, cur, q->order_asc, limit) == 0)
            rc = account_list_run(b, count.data, &ca, sql.data, &a, limit, &page);
    }
    buf_free(&where);
    buf_free(&count);
    buf_free(&sql);
    free(a.v);
    free(a.len);
    free(a.fmt);
    free(a.num);
    if (rc != 0)
        return rc;
    *out = page;
    return 0;
}

static int
pg_account_counts(struct store_be *b, struct store_count **items, size_t *n)
{
    void *arr = NULL;
    int rc = q_all(b, S_ACCOUNT_COUNTS, NULL, 1, row_count, NULL, sizeof **items, 64, &arr, n,
                   "account_counts");
    if (rc == 0)
        *items = arr;
    return rc;
}

static int
pg_account_counts_project(struct store_be *b, const char *project_id, struct store_count **items,
                          size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    void *arr = NULL;
    int rc = q_all(b, S_ACCOUNT_COUNTS_PROJECT, a, 1, row_count, NULL, sizeof **items, 64, &arr, n,
                   "account_counts_project");
    if (rc == 0)
        *items = arr;
    return rc;
}

/* ---- Connect Links --------------------------------------------------------------------------- */

static int
pg_link_get(struct store_be *b, const unsigned char token_hash[STORE_HASH], struct st_link *out)
{
    struct st_link l = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_blob(a, token_hash, STORE_HASH);
    int rc = q_one(b, S_LINK_GET, a, 1, row_link, &l, "link_get");
    if (rc == 0)
        *out = l;
    return rc;
}

static int
pg_link_set_state(struct store_be *b, const unsigned char token_hash[STORE_HASH],
                  const unsigned char state_hash[STORE_HASH], const unsigned char *verifier_enc,
                  size_t verifier_len)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_blob(a, token_hash, STORE_HASH);
    a_blob(a, state_hash, STORE_HASH);
    a_blob(a, verifier_enc, verifier_len);
    return q_cmd(b, S_LINK_SET_STATE, a, 1, "link_set_state");
}

static int
pg_link_consume_state(struct store_be *b, const unsigned char state_hash[STORE_HASH],
                      struct st_link *out)
{
    struct st_link l = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_blob(a, state_hash, STORE_HASH);
    a_int(a, time_now_ms());
    int rc = q_one(b, S_LINK_CONSUME, a, 0, row_link, &l, "link_consume_state");
    if (rc == 0)
        *out = l;
    return rc;
}

static int
pg_link_mark_used(struct store_be *b, const unsigned char token_hash[STORE_HASH])
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_blob(a, token_hash, STORE_HASH);
    a_int(a, time_now_ms());
    return q_cmd(b, S_LINK_USE, a, 1, "link_mark_used");
}

/* ---- events --------------------------------------------------------------------------------- */

static int
pg_event_list(struct store_be *b, const char *project_id, const char *account_id, int limit,
              struct st_event **out, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, account_id);
    a_int(a, limit);
    void *arr = NULL;
    int rc = q_all(b, S_EVENT_LIST, a, 1, row_event, clr_event, sizeof **out, (size_t)limit, &arr,
                   n, "event_list");
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
pg_event_daily(struct store_be *b, const char *project_id, int64_t since_ms, size_t max,
               struct st_event_day **out, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_int(a, since_ms);
    a_int(a, (int64_t)max);
    void *arr = NULL;
    int rc =
        q_all(b, S_EVENT_DAILY, a, 1, row_day, NULL, sizeof **out, max, &arr, n, "event_daily");
    if (rc == 0 && *n == 0) {
        free(arr);
        arr = NULL;
    }
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
row_claimed(const PGresult *r, int row, void *out)
{
    struct claimed *x = out;
    if (row_account(r, row, x->a) != 0)
        return -1;
    x->failures = (int)col_int(r, row, 16);
    return 0;
}

static int
pg_account_refresh_claim(struct store_be *b, const char *id, const char *owner, int64_t now_ms,
                         int64_t lease_ms, int64_t expires_before, struct st_account *out,
                         int *failures)
{
    struct st_account acc = {0};
    struct claimed c = {&acc, 0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, owner);
    a_int(a, now_ms);
    a_int(a, lease_ms);
    a_int(a, expires_before);
    int rc = q_one(b, S_REFRESH_CLAIM, a, 0, row_claimed, &c, "refresh_claim");
    if (rc != 0)
        return rc;
    *out = acc;
    if (failures != NULL)
        *failures = c.failures;
    return 0;
}

static int
pg_account_refresh_save(struct store_be *b, const char *id, const char *owner,
                        const unsigned char *creds_enc, size_t creds_len, const char *data_json,
                        int64_t expires_at, int64_t refresh_at)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, owner);
    a_blob(a, creds_enc, creds_len);
    a_text(a, data_json);
    a_int(a, expires_at);
    a_int(a, time_now_ms());
    a_int(a, refresh_at);
    return q_cmd(b, S_REFRESH_SAVE, a, 1, "refresh_save");
}

static int
pg_account_refresh_fail(struct store_be *b, const char *id, const char *owner, int expire,
                        const char *reason, int64_t retry_at)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, id);
    a_text(a, owner);
    if (expire) {
        a_text(a, reason);
        a_int(a, time_now_ms());
        return q_cmd(b, S_REFRESH_FAIL_HARD, a, 1, "refresh_fail");
    }
    a_int(a, retry_at);
    a_int(a, time_now_ms());
    a_text(a, reason);
    return q_cmd(b, S_REFRESH_FAIL_SOFT, a, 1, "refresh_fail");
}

static int
pg_account_refresh_due(struct store_be *b, int64_t before_ms, int64_t now_ms, int limit,
                       char (**ids)[STORE_ID], size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_int(a, before_ms);
    a_int(a, now_ms);
    a_int(a, limit);
    void *arr = NULL;
    int rc = q_all(b, S_REFRESH_DUE, a, 1, row_id, NULL, STORE_ID, (size_t)limit, &arr, n,
                   "refresh_due");
    if (rc == 0)
        *ids = arr;
    return rc;
}

static int
pg_account_relink(struct store_be *b, const struct st_link *l)
{
    int64_t now = time_now_ms();
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, l->project_id);
    a_text(a, l->account_id);
    a_int(a, l->expires_at);
    a_int(a, now);
    a_blob(a, l->token_hash, STORE_HASH);
    a_text(a, l->session_id);
    a_text(a, l->callback_url);
    a_blob(a, l->has_state ? l->state_hash : NULL, STORE_HASH);
    a_blob(a, l->verifier_enc, l->verifier_len);
    a_int(a, l->created_at > 0 ? l->created_at : now);
    a_int(a, l->expires_at);
    return q_cmd(b, S_RELINK, a, 1, "account_relink");
}

static int
pg_account_delete_noted(struct store_be *b, const char *project_id, const char *id,
                        const char *detail_json)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    a_int(a, time_now_ms());
    a_text(a, detail_json);
    return q_cmd(b, S_DELETE_NOTED, a, 1, "account_delete");
}

/* ---- webhook endpoints ---- */

static int
row_webhook(const PGresult *r, int row, void *out)
{
    struct st_webhook *w = out;
    col_copy(r, row, 0, w->id, sizeof w->id);
    col_copy(r, row, 1, w->project_id, sizeof w->project_id);
    w->disabled = (int)col_int(r, row, 4);
    w->prev_until = col_int(r, row, 7);
    w->created_at = col_int(r, row, 8);
    w->updated_at = col_int(r, row, 9);
    if (col_dup(r, row, 2, &w->url, "") != 0 || col_dup(r, row, 3, &w->events, "[]") != 0 ||
        col_blob(r, row, 5, &w->secret_enc, &w->secret_len) != 0 ||
        col_blob(r, row, 6, &w->prev_secret_enc, &w->prev_secret_len) != 0) {
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

/* Under the project's row lock, so that nodes creating endpoints at once respect the cap. */
static int
webhook_create_tx(struct pconn *pc, const struct st_webhook *w)
{
    char got[STORE_ID];
    int64_t count = 0, now = time_now_ms();
    struct args_buf kb;
    struct args *k = args_init(&kb);
    a_text(k, w->project_id);
    struct query lock = {S_PROJECT_LOCK, NULL, k, 0, row_id, got, 0, "webhook_create"};
    struct query cnt = {S_WEBHOOK_COUNT, NULL, k, 0, row_int, &count, 0, "webhook_create"};
    int rc = pc_query(pc, &lock);
    if (rc != 0 && rc != STORE_NOTFOUND)
        return rc;
    if ((rc = pc_query(pc, &cnt)) != 0)
        return rc;
    if (count >= STORE_WEBHOOKS_MAX)
        return STORE_CONFLICT;
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, w->id);
    a_text(a, w->project_id);
    a_text(a, w->url);
    a_text(a, w->events);
    a_int(a, w->disabled ? 1 : 0);
    a_blob(a, w->secret_enc, w->secret_len);
    a_blob(a, w->prev_secret_enc, w->prev_secret_len);
    a_int(a, w->prev_until);
    a_int(a, w->created_at > 0 ? w->created_at : now);
    a_int(a, w->updated_at > 0 ? w->updated_at : now);
    struct query ins = {S_WEBHOOK_INSERT, NULL, a, 0, NULL, NULL, 0, "webhook_create"};
    return pc_query(pc, &ins);
}

static int
pg_webhook_create(struct store_be *b, const struct st_webhook *w)
{
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    int rc = pc_ctl(pc, "BEGIN");
    if (rc == 0) {
        rc = webhook_create_tx(pc, w);
        if (rc == 0)
            rc = pc_ctl(pc, "COMMIT");
        else
            pc_ctl(pc, "ROLLBACK");
    }
    release(b, pc);
    return rc;
}

static int
pg_webhook_get(struct store_be *b, const char *project_id, const char *id, struct st_webhook *out)
{
    struct st_webhook w = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    int rc = q_one(b, S_WEBHOOK_GET, a, 1, row_webhook, &w, "webhook_get");
    if (rc == 0)
        *out = w;
    return rc;
}

static int
pg_webhook_list(struct store_be *b, const char *project_id, struct st_webhook **out, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_int(a, STORE_WEBHOOKS_MAX);
    void *arr = NULL;
    int rc = q_all(b, S_WEBHOOK_LIST, a, 1, row_webhook, clr_webhook, sizeof **out,
                   STORE_WEBHOOKS_MAX, &arr, n, "webhook_list");
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
pg_webhook_update(struct store_be *b, const struct st_webhook *w)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, w->project_id);
    a_text(a, w->id);
    a_text(a, w->url);
    a_text(a, w->events);
    a_int(a, w->disabled ? 1 : 0);
    a_int(a, time_now_ms());
    a_blob(a, w->secret_enc, w->secret_len);
    a_int(a, w->prev_until);
    return q_cmd(b, S_WEBHOOK_UPDATE, a, 1, "webhook_update");
}

static int
pg_webhook_delete(struct store_be *b, const char *project_id, const char *id)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, id);
    return q_cmd(b, S_WEBHOOK_DELETE, a, 1, "webhook_delete");
}

/* ---- deliveries ---- */

static int
row_delivery(const PGresult *r, int row, void *out)
{
    struct st_delivery *d = out;
    d->seq = col_int(r, row, 0);
    col_copy(r, row, 1, d->endpoint_id, sizeof d->endpoint_id);
    col_copy(r, row, 2, d->project_id, sizeof d->project_id);
    d->event.seq = col_int(r, row, 3);
    col_copy(r, row, 4, d->event.account_id, sizeof d->event.account_id);
    col_copy(r, row, 5, d->event.project_id, sizeof d->event.project_id);
    col_copy(r, row, 6, d->event.type, sizeof d->event.type);
    col_copy(r, row, 7, d->event.status, sizeof d->event.status);
    d->event.at = col_int(r, row, 9);
    col_copy(r, row, 11, d->state, sizeof d->state);
    d->attempts = (int)col_int(r, row, 12);
    d->next_at = col_int(r, row, 13);
    d->last_status = (long)col_int(r, row, 14);
    d->created_at = col_int(r, row, 16);
    d->delivered_at = col_int(r, row, 17);
    if (col_dup(r, row, 8, &d->event.reason, NULL) != 0 ||
        col_dup(r, row, 10, &d->event.detail, NULL) != 0 ||
        col_dup(r, row, 15, &d->last_error, NULL) != 0) {
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

static int
pg_delivery_claim(struct store_be *b, const char *owner, int64_t now_ms, int64_t lease_ms,
                  int limit, struct st_delivery **out, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, owner);
    a_int(a, now_ms + lease_ms);
    a_int(a, now_ms);
    a_int(a, limit);
    void *arr = NULL;
    int rc = q_all(b, S_DELIVERY_CLAIM, a, 0, row_delivery, clr_delivery, sizeof **out,
                   (size_t)limit, &arr, n, "delivery_claim");
    if (rc == 0 && *n == 0) {
        free(arr);
        arr = NULL;
    }
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
pg_delivery_finish(struct store_be *b, int64_t seq, const char *owner, int ok, long http_status,
                   const char *error, int64_t next_at)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_int(a, seq);
    a_text(a, owner);
    a_int(a, http_status);
    if (ok) {
        a_int(a, time_now_ms());
        return q_cmd(b, S_DELIVERY_OK, a, 1, "delivery_finish");
    }
    a_text(a, error);
    a_int(a, next_at);
    return q_cmd(b, S_DELIVERY_FAIL, a, 1, "delivery_finish");
}

static int
pg_delivery_list(struct store_be *b, const char *project_id, const char *endpoint_id,
                 int64_t before_seq, int limit, struct st_delivery **out, size_t *n)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_text(a, endpoint_id);
    a_int(a, before_seq);
    a_int(a, limit);
    void *arr = NULL;
    int rc = q_all(b, S_DELIVERY_LIST, a, 1, row_delivery, clr_delivery, sizeof **out,
                   (size_t)limit, &arr, n, "delivery_list");
    if (rc == 0)
        *out = arr;
    return rc;
}

static int
pg_delivery_get(struct store_be *b, const char *project_id, int64_t seq, struct st_delivery *out)
{
    struct st_delivery d = {0};
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_int(a, seq);
    int rc = q_one(b, S_DELIVERY_GET, a, 1, row_delivery, &d, "delivery_get");
    if (rc == 0)
        *out = d;
    return rc;
}

static int
pg_delivery_replay(struct store_be *b, const char *project_id, int64_t seq, int64_t *new_seq)
{
    int64_t got = 0;
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_text(a, project_id);
    a_int(a, seq);
    a_int(a, time_now_ms());
    int rc = q_one(b, S_DELIVERY_REPLAY, a, 0, row_int, &got, "delivery_replay");
    if (rc == 0)
        *new_seq = got;
    return rc;
}

/* ---- sealed values, for key rotation ---- */

struct sealed_col {
    const char *table, *key, *ref, *col, *key_type;
};

static const struct sealed_col SEALED_COLS[SEALED__COUNT] = {
    [SEALED_ACCOUNT] = {"accounts", "id", "id", "creds_enc", "text"},
    [SEALED_LINK] = {"links", "token_hash", "account_id", "verifier_enc", "bytea"},
    [SEALED_AUTH_CONFIG] = {"auth_configs", "id", "id", "secret_enc", "text"},
    [SEALED_APP] = {"managed_apps", "toolkit", "toolkit", "secret_enc", "text"},
    [SEALED_WEBHOOK] = {"webhook_endpoints", "id", "id", "secret_enc", "text"},
    [SEALED_WEBHOOK_PREV] = {"webhook_endpoints", "id", "id", "prev_secret_enc", "text"},
};

static int
row_sealed(const PGresult *r, int row, void *out)
{
    struct st_sealed *x = out;
    size_t kn = PQgetisnull(r, row, 0) ? 0 : (size_t)PQgetlength(r, row, 0);
    if (kn == 0 || kn > sizeof x->key)
        return -1;
    memcpy(x->key, PQgetvalue(r, row, 0), kn);
    x->key_len = kn;
    col_copy(r, row, 1, x->ref, sizeof x->ref);
    return col_blob(r, row, 2, &x->enc, &x->len);
}

static void
clr_sealed(void *p)
{
    st_sealed_clear(p);
}

/* Appends a row key as its column's type (text or bytea); NULL when len is 0. */
static void
a_key(struct args *a, const struct sealed_col *c, const unsigned char *key, size_t len, char *text,
      size_t cap)
{
    if (len == 0) {
        a_text(a, NULL);
    } else if (strcmp(c->key_type, "bytea") == 0) {
        a_blob(a, key, len);
    } else {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(text, key, n);
        text[n] = '\0';
        a_text(a, text);
    }
}

static int
pg_sealed_page(struct store_be *b, enum st_sealed_kind kind, const unsigned char *after,
               size_t after_len, int limit, struct st_sealed **out, size_t *n)
{
    const struct sealed_col *c = &SEALED_COLS[kind];
    char sql[400], text[STORE_ID + 1];
    snprintf(sql, sizeof sql,
             "SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL AND ($1::%s IS NULL OR %s > $1::%s) "
             "ORDER BY %s LIMIT $2",
             c->key, c->ref, c->col, c->table, c->col, c->key_type, c->key, c->key_type, c->key);
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_key(a, c, after, after_len, text, sizeof text);
    a_int(a, limit);
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    void *arr = NULL;
    int rc = pc_all(pc, S__COUNT, sql, a, row_sealed, clr_sealed, sizeof **out, (size_t)limit, &arr,
                    n, "sealed_page");
    release(b, pc);
    if (rc == 0)
        *out = arr;
    return rc;
}

/* One transaction: each row changes only where it still holds the value read. */
static int
sealed_replace_tx(struct pconn *pc, const struct sealed_col *c, const struct st_sealed *items,
                  unsigned char *const *new_enc, const size_t *new_len, size_t n, size_t *replaced)
{
    char sql[300], text[STORE_ID + 1];
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = $2 WHERE %s = $1::%s AND %s = $3", c->table,
             c->col, c->key, c->key_type, c->col);
    for (size_t i = 0; i < n; i++) {
        struct args_buf ab;
        struct args *a = args_init(&ab);
        a_key(a, c, items[i].key, items[i].key_len, text, sizeof text);
        a_blob(a, new_enc[i], new_len[i]);
        a_blob(a, items[i].enc, items[i].len);
        PGresult *r = NULL;
        int rc = pc_exec(pc, S__COUNT, sql, a, &r, "sealed_replace");
        if (rc != 0)
            return rc;
        *replaced += strcmp(PQcmdTuples(r), "1") == 0;
        PQclear(r);
    }
    return 0;
}

static int
pg_sealed_replace(struct store_be *b, enum st_sealed_kind kind, const struct st_sealed *items,
                  unsigned char *const *new_enc, const size_t *new_len, size_t n, size_t *replaced)
{
    size_t count = 0;
    struct pconn *pc = acquire(b);
    if (pc == NULL)
        return STORE_ERR;
    int rc = pc_ctl(pc, "BEGIN");
    if (rc == 0) {
        rc = sealed_replace_tx(pc, &SEALED_COLS[kind], items, new_enc, new_len, n, &count);
        if (rc == 0)
            rc = pc_ctl(pc, "COMMIT");
        else
            pc_ctl(pc, "ROLLBACK");
    }
    release(b, pc);
    if (rc == 0)
        *replaced = count;
    return rc;
}

/* ---- LISTEN/NOTIFY -------------------------------------------------------------------------- */

/* Hands every account that had a status event since since_ms to the callback: what a node may
 * have missed while its LISTEN connection was down. */
static void
listener_replay(struct store_be *b, int64_t since_ms)
{
    struct args_buf ab;
    struct args *a = args_init(&ab);
    a_int(a, since_ms);
    a_int(a, REPLAY_MAX);
    void *arr = NULL;
    size_t n = 0;
    if (q_all(b, S_EVENT_CHANGED_SINCE, a, 1, row_id, NULL, STORE_ID, REPLAY_MAX, &arr, &n,
              "listen_replay") != 0)
        return;
    char(*ids)[STORE_ID] = arr;
    for (size_t i = 0; i < n; i++)
        b->on_change(b->on_change_arg, ids[i]);
    if (n > 0)
        log_info("store: replayed changes after reconnecting", "accounts=%zu", n);
    free(arr);
}

/* Connects and LISTENs; NULL when that fails (logged once per outage by the caller). */
static PGconn *
listener_connect(struct store_be *b, char *err, size_t errlen)
{
    PGconn *c = pg_connect(b->url, err, errlen);
    if (c == NULL)
        return NULL;
    PGresult *r = PQexec(c, "LISTEN " CHANNEL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "LISTEN failed: %s", PQerrorMessage(c));
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Waits up to ms for the stop pipe or the connection's socket; 1 when stopping. */
static int
listener_wait(struct store_be *b, PGconn *c, int ms)
{
    struct pollfd fds[2] = {{b->stop_fd[0], POLLIN, 0}, {c != NULL ? PQsocket(c) : -1, POLLIN, 0}};
    int rc = poll(fds, c != NULL ? 2 : 1, ms);
    return rc > 0 && (fds[0].revents & POLLIN) != 0;
}

/* Drains the notifications that arrived; -1 when the connection is lost. */
static int
listener_drain(struct store_be *b, PGconn *c)
{
    if (!PQconsumeInput(c))
        return -1;
    PGnotify *nt;
    while ((nt = PQnotifies(c)) != NULL) {
        if (nt->extra != NULL && nt->extra[0] != '\0' && strlen(nt->extra) < STORE_ID)
            b->on_change(b->on_change_arg, nt->extra);
        PQfreemem(nt);
    }
    return PQstatus(c) == CONNECTION_OK ? 0 : -1;
}

static void *
listener_main(void *arg)
{
    struct store_be *b = arg;
    PGconn *c = NULL;
    int64_t last_ok = time_now_ms(); /* the LISTEN was surely in place until then */
    int backoff = 100, logged = 0, first = 1;
    for (;;) {
        if (c == NULL) {
            char err[256];
            c = listener_connect(b, err, sizeof err);
            if (c == NULL) {
                if (!logged) {
                    char q[300];
                    log_warn("store: LISTEN connection down, retrying", "err=\"%s\"",
                             log_quote(err, q, sizeof q));
                    logged = 1;
                }
                if (listener_wait(b, NULL, backoff))
                    break;
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            if (!first) {
                log_info("store: LISTEN connection restored", "%s", "channel=" CHANNEL);
                listener_replay(b, last_ok - REPLAY_MARGIN_MS);
            }
            first = 0;
            logged = 0;
            backoff = 100;
        }
        if (listener_wait(b, c, 1000))
            break;
        if (listener_drain(b, c) != 0) {
            PQfinish(c);
            c = NULL;
            continue;
        }
        last_ok = time_now_ms();
    }
    PQfinish(c);
    return NULL;
}

static int
pg_listen(struct store_be *b, void (*fn)(void *arg, const char *account_id), void *arg)
{
    if (b->listening)
        return -1;
    if (pipe(b->stop_fd) != 0)
        return -1;
    b->on_change = fn;
    b->on_change_arg = arg;
    if (pthread_create(&b->listener, NULL, listener_main, b) != 0) {
        close(b->stop_fd[0]);
        close(b->stop_fd[1]);
        b->stop_fd[0] = b->stop_fd[1] = -1;
        return -1;
    }
    b->listening = 1;
    return 0;
}

static void
listener_stop(struct store_be *b)
{
    if (!b->listening)
        return;
    ssize_t w = write(b->stop_fd[1], "x", 1);
    (void)w;
    pthread_join(b->listener, NULL);
    close(b->stop_fd[0]);
    close(b->stop_fd[1]);
    b->listening = 0;
}

const struct store_ops store__pg = {
    .version = STORE_OPS_VERSION,
    .name = "postgres",
    .migrations = store__pg_migrations,
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .migrate = pg_migrate,
    .project_create = pg_project_create,
    .project_get = pg_project_get,
    .project_first = pg_project_first,
    .project_all = pg_project_all,
    .project_set_settings = pg_project_set_settings,
    .key_create = pg_key_create,
    .key_lookup = pg_key_lookup,
    .key_all = pg_key_all,
    .key_revoke = pg_key_revoke,
    .managed_app_set = pg_managed_app_set,
    .managed_app_get = pg_managed_app_get,
    .auth_config_create = pg_auth_config_create,
    .auth_config_get = pg_auth_config_get,
    .auth_config_newest = pg_auth_config_newest,
    .auth_config_list = pg_auth_config_list,
    .auth_config_set_disabled = pg_auth_config_set_disabled,
    .auth_config_delete = pg_auth_config_delete,
    .session_create = pg_session_create,
    .session_get = pg_session_get,
    .session_update = pg_session_update,
    .session_delete = pg_session_delete,
    .account_create_linked = pg_account_create_linked,
    .account_get = pg_account_get,
    .account_get_any = pg_account_get_any,
    .account_list = pg_account_list,
    .account_active_for_user = pg_account_active_for_user,
    .account_transition = pg_account_transition,
    .account_activate = pg_account_activate,
    .account_set_disabled = pg_account_set_disabled,
    .account_delete = pg_account_delete,
    .account_expire_due = pg_account_expire_due,
    .account_counts = pg_account_counts,
    .link_get = pg_link_get,
    .link_set_state = pg_link_set_state,
    .link_consume_state = pg_link_consume_state,
    .link_mark_used = pg_link_mark_used,
    .event_list = pg_event_list,
    .event_daily = pg_event_daily,
    .account_counts_project = pg_account_counts_project,
    .account_refresh_claim = pg_account_refresh_claim,
    .account_refresh_save = pg_account_refresh_save,
    .account_refresh_fail = pg_account_refresh_fail,
    .account_refresh_due = pg_account_refresh_due,
    .account_relink = pg_account_relink,
    .account_delete_noted = pg_account_delete_noted,
    .webhook_create = pg_webhook_create,
    .webhook_get = pg_webhook_get,
    .webhook_list = pg_webhook_list,
    .webhook_update = pg_webhook_update,
    .webhook_delete = pg_webhook_delete,
    .delivery_claim = pg_delivery_claim,
    .delivery_finish = pg_delivery_finish,
    .delivery_list = pg_delivery_list,
    .delivery_get = pg_delivery_get,
    .delivery_replay = pg_delivery_replay,
    .sealed_page = pg_sealed_page,
    .sealed_replace = pg_sealed_replace,
    .listen = pg_listen,
};

/* ---- copying a SQLite database in --------------------------------------------------------- */

#define COPY_TABLES_MAX 64

/* The tables of the SQLite file, in an order that inserts parents before children (from the
 * PostgreSQL schema's foreign keys). */
struct copy_plan {
    char names[COPY_TABLES_MAX][64];
    int n;
};

static int
copy_list_tables(sqlite3 *db, struct copy_plan *p, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                           "LIKE 'sqlite_%' AND name <> 'schema_version' ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the SQLite schema: %s", sqlite3_errmsg(db));
        return -1;
    }
    p->n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (p->n >= COPY_TABLES_MAX || t == NULL || strlen(t) >= sizeof p->names[0]) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "unexpected tables in the SQLite database");
            return -1;
        }
        snprintf(p->names[p->n++], sizeof p->names[0], "%s", t);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Reorders p so that every table comes after the tables it references in PostgreSQL. */
static int
copy_order(PGconn *c, struct copy_plan *p, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT conrelid::regclass::text, confrelid::regclass::text "
                            "FROM pg_constraint WHERE contype = 'f' "
                            "AND connamespace = 'public'::regnamespace");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "cannot read the PostgreSQL schema: %s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    struct copy_plan out = {.n = 0};
    int placed[COPY_TABLES_MAX] = {0};
    for (int round = 0; round < p->n && out.n < p->n; round++) {
        for (int i = 0; i < p->n; i++) {
            int ready = !placed[i];
            for (int k = 0; ready && k < PQntuples(r); k++) {
                if (strcmp(PQgetvalue(r, k, 0), p->names[i]) != 0 ||
                    strcmp(PQgetvalue(r, k, 1), p->names[i]) == 0)
                    continue;
                for (int j = 0; j < p->n; j++) {
                    if (!placed[j] && strcmp(PQgetvalue(r, k, 1), p->names[j]) == 0)
                        ready = 0;
                }
            }
            if (ready) {
                placed[i] = 1;
                memcpy(out.names[out.n++], p->names[i], sizeof p->names[0]);
            }
        }
    }
    PQclear(r);
    if (out.n != p->n) {
        snprintf(err, errlen, "the tables' foreign keys form a cycle");
        return -1;
    }
    *p = out;
    return 0;
}

/* "INSERT INTO t (c1, ...) VALUES ($1, ...)" from the SQLite table's columns; the column count
 * or -1. */
static int
copy_insert_sql(sqlite3 *db, const char *table, struct buf *ins, struct buf *sel)
{
    sqlite3_stmt *st = NULL;
    char q[128];
    snprintf(q, sizeof q, "PRAGMA table_info(\"%s\")", table);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int n = 0, bad = buf_printf(ins, "INSERT INTO \"%s\" (", table);
    bad |= buf_puts(sel, "SELECT ");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 1);
        bad |= buf_printf(ins, "%s\"%s\"", n ? ", " : "", col != NULL ? col : "");
        bad |= buf_printf(sel, "%s\"%s\"", n ? ", " : "", col != NULL ? col : "");
        n++;
    }
    sqlite3_finalize(st);
    bad |= buf_puts(ins, ") VALUES (");
    for (int i = 1; i <= n; i++)
        bad |= buf_printf(ins, i > 1 ? ", $%d" : "$%d", i);
    bad |= buf_puts(ins, ")");
    bad |= buf_printf(sel, " FROM \"%s\"", table);
    return bad || n == 0 || n > ARGS_MAX ? -1 : n;
}

/* Copies one table row by row through a prepared insert; adds the rows to *rows. */
static int
copy_table(sqlite3 *db, PGconn *c, const char *table, int64_t *rows, char *err, size_t errlen)
{
    struct buf ins, sel;
    buf_init(&ins, 16 * 1024);
    buf_init(&sel, 16 * 1024);
    int ncol = copy_insert_sql(db, table, &ins, &sel);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    /* rowid order keeps insertion order (identity columns follow it); tables without rowid
     * have none to keep. */
    if (ncol > 0 && buf_puts(&sel, " ORDER BY rowid") == 0 &&
        sqlite3_prepare_v2(db, sel.data, -1, &st, NULL) != SQLITE_OK) {
        sel.len -= strlen(" ORDER BY rowid");
        sel.data[sel.len] = '\0';
        sqlite3_prepare_v2(db, sel.data, -1, &st, NULL);
    }
    PGresult *r = ncol > 0 ? PQprepare(c, "", ins.data, 0, NULL) : NULL;
    if (st == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "cannot copy table %s: %s", table,
                 r != NULL ? PQerrorMessage(c) : "unreadable in SQLite");
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct args_buf ab;
        struct args *a = args_init(&ab);
        for (int i = 0; i < ncol; i++) {
            int t = sqlite3_column_type(st, i);
            if (t == SQLITE_NULL)
                a_text(a, NULL);
            else if (t == SQLITE_BLOB)
                a_blob(a, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
            else
                a_text(a, (const char *)sqlite3_column_text(st, i));
        }
        PGresult *x = PQexecPrepared(c, "", a->n, a->v, a->len, a->fmt, 0);
        int ok = PQresultStatus(x) == PGRES_COMMAND_OK;
        PQclear(x);
        if (!ok) {
            snprintf(err, errlen, "cannot copy a row of table %s: %s", table, PQerrorMessage(c));
            goto out;
        }
        (*rows)++;
    }
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read table %s: %s", table, sqlite3_errmsg(db));
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    sqlite3_finalize(st);
    buf_free(&ins);
    buf_free(&sel);
    return rc;
}

/* Moves every identity column's sequence past the values copied in. */
static int
copy_fix_identities(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = 'public' AND is_identity = 'YES'");
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        char q[512];
        const char *t = PQgetvalue(r, i, 0), *col = PQgetvalue(r, i, 1);
        snprintf(q, sizeof q,
                 "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'), "
                 "coalesce((SELECT max(\"%s\") FROM \"%s\"), 0) + 1, false)",
                 t, col, col, t);
        PGresult *x = PQexec(c, q);
        rc = PQresultStatus(x) == PGRES_TUPLES_OK ? 0 : -1;
        PQclear(x);
    }
    if (rc != 0)
        snprintf(err, errlen, "cannot set the identity sequences: %s", PQerrorMessage(c));
    PQclear(r);
    return rc;
}

/* Runs one control statement; -1 with PostgreSQL's message in err. */
static int
copy_ctl(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        snprintf(err, errlen, "%s failed: %s", sql, PQerrorMessage(c));
    return ok ? 0 : -1;
}

static int
copy_tables(sqlite3 *db, PGconn *c, const struct copy_plan *p, int64_t *rows, char *err,
            size_t errlen)
{
    char q[160];
    /* Triggers stay quiet while rows are copied: the events trigger would announce old changes
     * and queue their webhooks a second time. */
    for (int i = 0; i < p->n; i++) {
        snprintf(q, sizeof q, "ALTER TABLE \"%s\" DISABLE TRIGGER USER", p->names[i]);
        if (copy_ctl(c, q, err, errlen) != 0)
            return -1;
    }
    for (int i = 0; i < p->n; i++) {
        if (copy_table(db, c, p->names[i], rows, err, errlen) != 0)
            return -1;
    }
    for (int i = 0; i < p->n; i++) {
        snprintf(q, sizeof q, "ALTER TABLE \"%s\" ENABLE TRIGGER USER", p->names[i]);
        if (copy_ctl(c, q, err, errlen) != 0)
            return -1;
    }
    return copy_fix_identities(c, err, errlen);
}

int
store__pg_copy_from_sqlite(const char *sqlite_path, const char *pg_url, int64_t *rows, char *err,
                           size_t errlen)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open '%s': %s", sqlite_path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    PGconn *c = pg_connect(pg_url, err, errlen);
    struct copy_plan plan;
    int rc = -1;
    *rows = 0;
    /* One read transaction on each side: a consistent source, an all-or-nothing target. */
    if (c != NULL && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
        copy_list_tables(db, &plan, err, errlen) == 0 && copy_order(c, &plan, err, errlen) == 0 &&
        copy_ctl(c, "BEGIN", err, errlen) == 0) {
        rc = copy_tables(db, c, &plan, rows, err, errlen);
        if (rc == 0)
            rc = copy_ctl(c, "COMMIT", err, errlen);
        else
            copy_ctl(c, "ROLLBACK", err, errlen);
    }
    PQfinish(c);
    sqlite3_close(db);
    return rc;
}
