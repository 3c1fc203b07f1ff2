/* store.h -- everything tether keeps: projects, API keys, managed OAuth apps, auth configs,
 * sessions, connected accounts, Connect Links and the account event log.
 * One interface, several backends (store_sqlite.c now, PostgreSQL later); nothing outside
 * src/store/ sees SQL. Callers include only this header.
 *
 * Threads: every call is safe from any thread. Reads run on a per-thread read connection; writes
 * are handed to one writer thread that commits in batches and the call returns once its batch is
 * durable (WAL, synchronous=NORMAL), so a read right after a write sees it.
 *
 * Results: 0 on success, STORE_NOTFOUND when the row (in that project) does not exist or a
 * compare-and-set found another state, STORE_CONFLICT on a uniqueness clash, STORE_ERR on a
 * database failure (logged by the store). Output structs are written only on success and own their
 * heap fields: release them with the matching *_clear function (safe on zeroed structs).
 * Secrets arrive already sealed by the vault (the *_enc blobs) or as keyed hashes. */
#ifndef TETHER_STORE_H
#define TETHER_STORE_H
#include <stddef.h>
#include <stdint.h>

#define STORE_NOTFOUND (-2)
#define STORE_CONFLICT (-3)
#define STORE_ERR (-1)

#define STORE_ID 64    /* ids and short names: "ca_1a2b3c4d5e6f", toolkit slugs, statuses */
#define STORE_HASH 32  /* keyed hashes from the vault */

struct store;

/* Opens the backend named by url: NULL or "sqlite:<dir>" or a directory path → SQLite file
 * <dir>/tether.db; "postgres://..." → PostgreSQL (when built in). Runs pending migrations.
 * 0 and *out, or -1 with a sentence in err. */
int store_open(const char *url, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_backend(const struct store *s); /* "sqlite" / "postgres" */
/* Calls fn(arg, account_id) on a store thread whenever another process sharing the database
 * (another tether node) commits an account event other than account.initiated, and, after a lost
 * database connection is restored, for every account that had such an event since shortly before
 * the loss. fn must only hand off (wake waiters). At most once per store; stopped by store_close.
 * The SQLite backend has no other writers and calls nothing. 0 or -1. */
int store_listen(struct store *s, void (*fn)(void *arg, const char *account_id), void *arg);
/* Copies a SQLite store (from_url as for store_open) into a PostgreSQL one (to_url): both are
 * migrated to this binary's schema first; the target must hold no project yet. All rows go in one
 * transaction, so a failed copy leaves the target as it was. *rows: rows copied. 0, or -1 with a
 * sentence in err. */
int store_copy(const char *from_url, const char *to_url, int64_t *rows, char *err, size_t errlen);

/* ---- projects and API keys ---------------------------------------------------------------- */

struct st_project {
    char id[STORE_ID];
    char name[128];
    char *settings; /* JSON object text: {"callback_origins":[...], "branding":{...}} */
    int64_t created_at;
};
void st_project_clear(struct st_project *p);

int store_project_create(struct store *s, const char *id, const char *name);
int store_project_get(struct store *s, const char *id, struct st_project *out);
int store_project_first(struct store *s, struct st_project *out); /* oldest project */
/* Calls fn for each project, oldest first. */
int store_project_each(struct store *s, void (*fn)(void *arg, const struct st_project *p), void *arg);
int store_project_set_settings(struct store *s, const char *id, const char *settings_json);

struct st_api_key {
    char id[STORE_ID];
    char project_id[STORE_ID];
    char hint[16];        /* first characters of the key, for listing ("tk_live_Ab12") */
    int64_t created_at;
    int64_t revoked_at;   /* 0 while valid */
};

int store_key_create(struct store *s, const char *id, const char *project_id,
                     const unsigned char hash[STORE_HASH], const char *hint);
/* The valid (not revoked) key with this hash; out->project_id tells the tenant. */
int store_key_lookup(struct store *s, const unsigned char hash[STORE_HASH], struct st_api_key *out);
int store_key_each(struct store *s, const char *project_id,
                   void (*fn)(void *arg, const struct st_api_key *k), void *arg);
int store_key_revoke(struct store *s, const char *project_id, const char *id);

/* ---- managed OAuth apps (operator level, one per toolkit) ----------------------------------- */

struct st_managed_app {
    char toolkit[STORE_ID];
    char *client_id;
    unsigned char *secret_enc; /* sealed client secret, context "app|<toolkit>" */
    size_t secret_len;
    char *scopes;              /* JSON array text or NULL (catalogue defaults) */
};
void st_managed_app_clear(struct st_managed_app *a);
int store_managed_app_set(struct store *s, const struct st_managed_app *a); /* upsert */
int store_managed_app_get(struct store *s, const char *toolkit, struct st_managed_app *out);

/* ---- auth configs ----------------------------------------------------------------------------- */

struct st_auth_config {
    char id[STORE_ID];
    char project_id[STORE_ID];
    char toolkit[STORE_ID];
    char auth_scheme[24];      /* "OAUTH2", "API_KEY", ... */
    char name[128];
    int is_managed;            /* 1: uses the operator's app (or needs none) */
    int disabled;
    char *client_id;           /* custom OAuth2 only, else NULL */
    unsigned char *secret_enc; /* sealed, context "ac|<id>"; NULL when none */
    size_t secret_len;
    char *scopes;              /* JSON array text or NULL (catalogue defaults) */
    char *extra;               /* JSON object text: other fields the app sent; never NULL on read */
    int64_t created_at;
    int64_t updated_at;
    int64_t connections;       /* filled by list only: accounts using it (get and newest are on
                                  the connection path and leave it 0; count with
                                  store_account_list filtered by auth_config_ids) */
};
void st_auth_config_clear(struct st_auth_config *c);

int store_auth_config_create(struct store *s, const struct st_auth_config *c);
int store_auth_config_get(struct store *s, const char *project_id, const char *id,
                          struct st_auth_config *out);
/* The newest enabled config of the project for the toolkit; managed: -1 any, 0 custom, 1 managed.
 * connections is not filled (0): this lookup is on every new connection's path. */
int store_auth_config_newest(struct store *s, const char *project_id, const char *toolkit,
                             int managed, struct st_auth_config *out);
struct st_auth_config_query {
    const char *project_id;
    const char *toolkit;       /* NULL: all */
    int managed;               /* -1 any, 0, 1 */
    int show_disabled;
    const char *search;        /* substring of name or toolkit, NULL: none */
    const char *cursor;        /* from a previous page, NULL: first page */
    int limit;                 /* 1..1000 */
};
struct st_auth_config_page {
    struct st_auth_config *items;
    size_t n;
    char next_cursor[STORE_ID]; /* "" when there is no next page */
    int64_t total;
};
void st_auth_config_page_clear(struct st_auth_config_page *p);
int store_auth_config_list(struct store *s, const struct st_auth_config_query *q,
                           struct st_auth_config_page *out);
int store_auth_config_set_disabled(struct store *s, const char *project_id, const char *id,
                                   int disabled);
int store_auth_config_delete(struct store *s, const char *project_id, const char *id);

/* ---- sessions --------------------------------------------------------------------------------- */

struct st_session {
    char id[STORE_ID];
    char project_id[STORE_ID];
    char *user_id;
    char *config;       /* JSON object text, the normalised session config */
    int64_t version;    /* config_version, starts at 1, +1 per update */
    int64_t created_at;
    int64_t updated_at;
};
void st_session_clear(struct st_session *x);

int store_session_create(struct store *s, const struct st_session *x);
int store_session_get(struct store *s, const char *project_id, const char *id,
                      struct st_session *out);
/* Replaces the config and bumps the version; out (may be NULL) receives the new row. */
int store_session_update(struct store *s, const char *project_id, const char *id,
                         const char *config_json, struct st_session *out);
int store_session_delete(struct store *s, const char *project_id, const char *id);

/* ---- connected accounts ----------------------------------------------------------------------- */

struct st_account {
    char id[STORE_ID];
    char project_id[STORE_ID];
    char *user_id;
    char toolkit[STORE_ID];
    char auth_config_id[STORE_ID];
    char status[16];           /* INITIALIZING INITIATED ACTIVE FAILED EXPIRED INACTIVE REVOKED */
    char *status_reason;       /* NULL when none */
    int is_disabled;
    char *alias;               /* NULL when none */
    char word_id[STORE_ID];
    unsigned char *creds_enc;  /* sealed credentials JSON, context "ca|<id>"; NULL until ACTIVE */
    size_t creds_len;
    char *data;                /* JSON object text, non-secret: scopes, identity, token expiry;
                                  never NULL on read */
    int64_t created_at;
    int64_t updated_at;
    int64_t connected_at;      /* when it last became ACTIVE, 0 before */
    int64_t expires_at;        /* access token expiry (ms), 0 when unknown or none */
};
void st_account_clear(struct st_account *a);

struct st_link {
    unsigned char token_hash[STORE_HASH];
    char account_id[STORE_ID];
    char project_id[STORE_ID];
    char session_id[STORE_ID];     /* "" when created outside a session */
    char *callback_url;            /* NULL: show tether's own success page */
    int has_state;
    unsigned char state_hash[STORE_HASH];
    unsigned char *verifier_enc;   /* sealed PKCE verifier, context "pkce|<account id>" */
    size_t verifier_len;
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at;               /* 0 while unused */
};
void st_link_clear(struct st_link *l);

/* Creates the account (status INITIATED) and its link in one transaction, and logs the event. */
int store_account_create_linked(struct store *s, const struct st_account *a,
                                const struct st_link *l);
/* The same write without waiting for it: returns 0 at once and done(arg, rc) runs exactly once
 * after the transaction committed (rc 0) or failed (rc < 0), on a store thread, so it must only
 * hand off (e.g. resume an HTTP request). a and l are copied. -1 (done never runs) for bad
 * arguments or a stopping store. With an asynchronous writer many such writes share one commit;
 * other backends run the write first and call done before returning. */
int store_account_create_linked_async(struct store *s, const struct st_account *a,
                                      const struct st_link *l, void (*done)(void *arg, int rc),
                                      void *arg);
int store_account_get(struct store *s, const char *project_id, const char *id,
                      struct st_account *out);
/* By id alone, for the callback and background work that have no project yet. */
int store_account_get_any(struct store *s, const char *id, struct st_account *out);

struct st_account_query {
    const char *project_id;
    const char *const *user_ids;        /* NULL-terminated lists; NULL: no filter */
    const char *const *toolkits;
    const char *const *auth_config_ids;
    const char *const *statuses;
    int order_asc;                      /* 0: newest first (default), 1: oldest first */
    const char *cursor;
    int limit;                          /* 1..1000 */
};
struct st_account_page {
    struct st_account *items;
    size_t n;
    char next_cursor[STORE_ID];
    int64_t total;
};
void st_account_page_clear(struct st_account_page *p);
int store_account_list(struct store *s, const struct st_account_query *q,
                       struct st_account_page *out);
/* The user's ACTIVE, enabled accounts, most recently connected first (up to 1000). */
int store_account_active_for_user(struct store *s, const char *project_id, const char *user_id,
                                  struct st_account_page *out);

/* Compare-and-set of the status: only when the current status is one of from (NULL-terminated).
 * reason may be NULL. Logs the event in the same transaction. STORE_NOTFOUND when the row is gone
 * or its status was not in from. */
int store_account_transition(struct store *s, const char *id, const char *const *from,
                             const char *to, const char *reason);
/* INITIATED/INITIALIZING -> ACTIVE with sealed credentials and data, one transaction with the
 * event. STORE_NOTFOUND when the account was no longer pending. */
int store_account_activate(struct store *s, const char *id, const unsigned char *creds_enc,
                           size_t creds_len, const char *data_json, int64_t expires_at);
int store_account_set_disabled(struct store *s, const char *project_id, const char *id,
                               int disabled);
int store_account_delete(struct store *s, const char *project_id, const char *id);
/* INITIATED/INITIALIZING accounts whose link expired before now_ms become EXPIRED (reason
 * "link expired"). Their ids are appended to *ids (malloc'd array of STORE_ID strings, *n count;
 * free(*ids)). */
int store_account_expire_due(struct store *s, int64_t now_ms, char (**ids)[STORE_ID], size_t *n);
/* Counts of accounts by status over all projects, for /metrics: fn(status, count). */
int store_account_count_by_status(struct store *s,
                                  void (*fn)(void *arg, const char *status, int64_t n), void *arg);
/* Counts of one project's accounts by status (the dashboard): fn(status, count) for each status
 * the project has, in name order. */
int store_account_count_project(struct store *s, const char *project_id,
                                void (*fn)(void *arg, const char *status, int64_t n), void *arg);

/* ---- Connect Links ---------------------------------------------------------------------------- */

int store_link_get(struct store *s, const unsigned char token_hash[STORE_HASH], struct st_link *out);
/* Records a fresh OAuth state (hash) and sealed verifier on an unused link, replacing any earlier
 * pair. STORE_NOTFOUND when the link is gone or used. */
int store_link_set_state(struct store *s, const unsigned char token_hash[STORE_HASH],
                         const unsigned char state_hash[STORE_HASH],
                         const unsigned char *verifier_enc, size_t verifier_len);
/* Finds the link by state hash and marks it used in the same transaction. 0 and *out (used_at is
 * the time before this call, so 0 means this call consumed it), STORE_NOTFOUND for an unknown
 * state. A second call with the same state returns the link with used_at != 0. */
int store_link_consume_state(struct store *s, const unsigned char state_hash[STORE_HASH],
                             struct st_link *out);
/* Marks a link used (key-based flows). STORE_NOTFOUND when it was already used. */
int store_link_mark_used(struct store *s, const unsigned char token_hash[STORE_HASH]);

/* ---- account events ----------------------------------------------------------------------- */

struct st_event {
    int64_t seq;
    char account_id[STORE_ID];
    char project_id[STORE_ID];
    char type[32];       /* "account.initiated", "account.active", "account.failed", ... */
    char status[16];
    char *reason;
    int64_t at;
    char *detail;        /* JSON object text or NULL: extra facts (a revocation's outcome) */
};
void st_event_clear(struct st_event *e);
/* Events of one account, oldest first (up to limit). */
int store_event_list(struct store *s, const char *project_id, const char *account_id, int limit,
                     struct st_event **out, size_t *n);

/* One bar of the dashboard's chart: how many events of a project moved an account to status on
 * one UTC day. */
struct st_event_day {
    int64_t day;        /* start of the UTC day, ms since the epoch */
    char status[16];
    int64_t n;
};
/* A project's events since since_ms (no earlier than 366 days ago), counted per UTC day and
 * status, oldest day first, statuses in name order. *out is a malloc'd array (free() it; NULL when
 * *n is 0). */
int store_event_daily(struct store *s, const char *project_id, int64_t since_ms,
                      struct st_event_day **out, size_t *n);

/* ---- credential lifecycle (migration 2) ------------------------------------------------------
 * Refresh runs single-flight per account through a lease held in the account row, so two threads
 * or two nodes never refresh one token at once. The lease is claimed by compare-and-set and is
 * released by refresh_save or refresh_fail; a lease that is never released lapses at its time. */

#define STORE_OWNER 64 /* lease owner names: "<node>/<worker>", at most 63 bytes */

/* Claims the refresh lease of an ACTIVE account for owner until now_ms + lease_ms, but only when
 * the lease is free (unset, lapsed or already owner's) and the access token still needs it:
 * expires_at < expires_before (pass INT64_MAX to force). 0 and *out (the row as claimed, with its
 * sealed credentials) and *failures (refresh failures since the last success; may be NULL);
 * STORE_NOTFOUND when the account is not ACTIVE, someone else holds the lease, or the token no
 * longer needs refreshing (the caller re-reads the row to tell which). */
int store_account_refresh_claim(struct store *s, const char *id, const char *owner, int64_t now_ms,
                                int64_t lease_ms, int64_t expires_before, struct st_account *out,
                                int *failures);
/* Saves a refreshed credential (the rotated refresh token in the same sealed value as the new
 * access token), data and expiry, while owner holds the lease of the still ACTIVE account; clears
 * the lease and the failure count, sets the time before which the background scheduler leaves
 * the account alone to refresh_at (0: none), and logs "account.refreshed" (status ACTIVE), all in
 * one transaction. STORE_NOTFOUND when the lease was lost or the account changed status. */
int store_account_refresh_save(struct store *s, const char *id, const char *owner,
                               const unsigned char *creds_enc, size_t creds_len,
                               const char *data_json, int64_t expires_at, int64_t refresh_at);
/* Records a failed refresh by the lease owner and clears the lease. expire != 0 (the grant is
 * gone: invalid_grant, revoked): the account becomes EXPIRED with reason, logging
 * "account.expired". Otherwise it stays ACTIVE, the failure count grows by one, the background
 * scheduler leaves it alone until retry_at, and "account.refresh_failed" is logged with reason.
 * STORE_NOTFOUND when the lease was lost. */
int store_account_refresh_fail(struct store *s, const char *id, const char *owner, int expire,
                               const char *reason, int64_t retry_at);
/* ACTIVE accounts with a known expiry before before_ms whose lease is free at now_ms and whose
 * retry time (refresh_fail's retry_at, refresh_save's refresh_at) has passed, soonest expiry
 * first, at most limit (1..1000). *ids as in store_account_expire_due (free it). */
int store_account_refresh_due(struct store *s, int64_t before_ms, int64_t now_ms, int limit,
                              char (**ids)[STORE_ID], size_t *n);

/* Reconnect in place: the existing account l->account_id of project l->project_id (any status)
 * becomes INITIATED again with the fresh link l, keeping its id, user, toolkit, auth config, alias
 * and credentials row (sealed credentials stay until the new ones replace them); its other unused
 * links are dropped, its lease, failure count and retry time are reset, and "account.initiated"
 * with reason "reconnect" is logged, in one transaction. STORE_NOTFOUND: no such account. */
int store_account_relink(struct store *s, const struct st_link *l);
/* As store_account_delete; detail_json (JSON object text, may be NULL) goes on the
 * "account.deleted" event (the outcome of revoking the grant at the provider). */
int store_account_delete_noted(struct store *s, const char *project_id, const char *id,
                               const char *detail_json);

/* ---- webhooks (migration 2) -------------------------------------------------------------------
 * The outbox: every events row of a project creates, in the same transaction, one pending
 * delivery per enabled endpoint of that project whose filter lists the event's type (an empty
 * filter takes every type). The SQLite backend does it with a trigger on events. */

struct st_webhook {
    char id[STORE_ID];              /* "we_..." */
    char project_id[STORE_ID];
    char *url;
    char *events;                   /* JSON array text of event types; "[]": every type */
    int disabled;
    unsigned char *secret_enc;      /* sealed signing secret ("whsec_..."), context "wh|<id>" */
    size_t secret_len;
    unsigned char *prev_secret_enc; /* the secret before the last rotation, NULL when none */
    size_t prev_secret_len;
    int64_t prev_until;             /* the previous secret also signs until then (ms), 0: never */
    int64_t created_at;
    int64_t updated_at;
};
void st_webhook_clear(struct st_webhook *w);

#define STORE_WEBHOOKS_MAX 100 /* endpoints per project */

/* STORE_CONFLICT when the project already has STORE_WEBHOOKS_MAX endpoints. */
int store_webhook_create(struct store *s, const struct st_webhook *w);
int store_webhook_get(struct store *s, const char *project_id, const char *id,
                      struct st_webhook *out);
/* The project's endpoints, oldest first; *out malloc'd (st_webhook_clear each, free the array). */
int store_webhook_list(struct store *s, const char *project_id, struct st_webhook **out,
                       size_t *n);
/* Replaces url, events and disabled of w->id in w->project_id. When w->secret_enc is set it
 * becomes the secret and the current one becomes the previous secret until w->prev_until. */
int store_webhook_update(struct store *s, const struct st_webhook *w);
/* Deletes the endpoint and its deliveries. */
int store_webhook_delete(struct store *s, const char *project_id, const char *id);

struct st_delivery {
    int64_t seq;                 /* the delivery's id */
    char endpoint_id[STORE_ID];
    char project_id[STORE_ID];
    struct st_event event;       /* what is delivered */
    char state[16];              /* "pending", "delivered", "failed" (gave up) */
    int attempts;
    int64_t next_at;             /* when a pending delivery is due */
    long last_status;            /* HTTP status of the last attempt, 0 when none arrived */
    char *last_error;            /* NULL when none */
    int64_t created_at;
    int64_t delivered_at;        /* 0 until delivered */
};
void st_delivery_clear(struct st_delivery *d);

/* Claims up to limit (1..1000) due deliveries for owner until now_ms + lease_ms: pending, next_at
 * <= now_ms, lease free, and the oldest pending delivery of its endpoint and account (so each
 * endpoint receives an account's events in order). Oldest first; *out malloc'd. */
int store_delivery_claim(struct store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                         int limit, struct st_delivery **out, size_t *n);
/* Records one attempt by the lease owner and releases the lease: ok -> delivered; otherwise
 * attempts + 1 and pending again from next_at, or failed for good when next_at is 0. error may be
 * NULL. STORE_NOTFOUND when the lease was lost. */
int store_delivery_finish(struct store *s, int64_t seq, const char *owner, int ok,
                          long http_status, const char *error, int64_t next_at);
/* An endpoint's delivery log, newest first, seq < before_seq (0: from the newest), at most limit
 * (1..1000). */
int store_delivery_list(struct store *s, const char *project_id, const char *endpoint_id,
                        int64_t before_seq, int limit, struct st_delivery **out, size_t *n);
int store_delivery_get(struct store *s, const char *project_id, int64_t seq,
                       struct st_delivery *out);
/* Queues the delivery's event again to the same endpoint as a new pending delivery due now;
 * *new_seq is its id. STORE_NOTFOUND when there is no such delivery in the project. */
int store_delivery_replay(struct store *s, const char *project_id, int64_t seq, int64_t *new_seq);

/* ---- vault key rotation --------------------------------------------------------------------
 * Every sealed column, for re-sealing under a new key. */

enum st_sealed_kind {
    SEALED_ACCOUNT,      /* accounts.creds_enc, context "ca|<ref>" */
    SEALED_LINK,         /* links.verifier_enc, context "pkce|<ref>" (ref: the account id) */
    SEALED_AUTH_CONFIG,  /* auth_configs.secret_enc, context "ac|<ref>" */
    SEALED_APP,          /* managed_apps.secret_enc, context "app|<ref>" (ref: the toolkit) */
    SEALED_WEBHOOK,      /* webhook endpoints' secret, context "wh|<ref>" */
    SEALED_WEBHOOK_PREV, /* webhook endpoints' previous secret, context "wh|<ref>" */
    SEALED__COUNT
};

struct st_sealed {
    unsigned char key[STORE_ID]; /* the row's key: id text (no NUL) or a link's token hash */
    size_t key_len;
    char ref[STORE_ID];          /* the id inside the value's vault context */
    unsigned char *enc;
    size_t len;
};
void st_sealed_clear(struct st_sealed *x);

/* Rows of one kind holding a value, in key order after the key after[0..after_len) (after_len 0:
 * from the first), at most limit (1..1000). *out malloc'd. */
int store_sealed_page(struct store *s, enum st_sealed_kind kind, const unsigned char *after,
                      size_t after_len, int limit, struct st_sealed **out, size_t *n);
/* In one transaction, sets each row items[i] to new_enc[i] (new_len[i] bytes), but only where the
 * row still holds items[i].enc: a value rewritten meanwhile (a refresh) is left alone. *replaced
 * counts the rows changed. n at most 1000. */
int store_sealed_replace(struct store *s, enum st_sealed_kind kind, const struct st_sealed *items,
                         unsigned char *const *new_enc, const size_t *new_len, size_t n,
                         size_t *replaced);

#endif
