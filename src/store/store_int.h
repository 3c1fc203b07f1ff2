/* store_int.h -- the contract between store.c and the storage backends; internal to src/store/.
 * store.c checks arguments, clamps limits, encodes and decodes page cursors, runs migrations and
 * dispatches through a backend's const struct store_ops. A backend runs the queries: it receives
 * arguments already checked, follows store.h's result codes, writes out-parameters only on
 * success and logs its own database failures (never the values of SQL parameters). */
#ifndef TETHER_STORE_INT_H
#define TETHER_STORE_INT_H
#include "store/store.h"

#define STORE_OPS_VERSION 1
#define STORE_LIST_MAX 100       /* entries in one filter list (user_ids, toolkits, ...) */
#define STORE_FROM_MAX 8         /* statuses in a transition's from list */
#define STORE_PAGE_MAX 1000      /* rows in one page */
#define STORE_PAGE_DEFAULT 20    /* rows when the caller passes a limit <= 0 */
#define STORE_TEXT_MAX (1 << 20) /* bytes in one JSON text or sealed blob */
#define STORE_EACH_MAX 10000     /* rows handed to one *_each callback loop */

struct store_be; /* a backend's own state */

/* The sort key of the last row of the previous page; set is 0 on the first page. */
struct store_cursor {
    int set;
    int64_t created_at;
    char id[STORE_ID];
};

/* One status and its count, for store_account_count_by_status. */
struct store_count {
    char status[16];
    int64_t n;
};

/* One backend. Functions mirror store.h with struct store_be in place of struct store; the
 * differences are noted. Lists come back as malloc'd arrays the caller releases with the matching
 * *_clear on each element and free() on the array. */
struct store_ops {
    int version; /* STORE_OPS_VERSION */
    const char *name;
    const char *const *migrations; /* NULL-terminated; [i] brings the schema to version i + 1 */

    /* target: the backend-specific part of the url (a directory for SQLite). */
    int (*open)(const char *target, struct store_be **out, char *err, size_t errlen);
    void (*close)(struct store_be *b);
    /* The highest applied migration, 0 for a new database (creates the version table). */
    int (*schema_version)(struct store_be *b, int64_t *out);
    /* Runs sql and records version, in one transaction. */
    int (*migrate)(struct store_be *b, int64_t version, const char *sql);

    int (*project_create)(struct store_be *b, const char *id, const char *name);
    int (*project_get)(struct store_be *b, const char *id, struct st_project *out);
    int (*project_first)(struct store_be *b, struct st_project *out);
    /* Oldest first, at most STORE_EACH_MAX. */
    int (*project_all)(struct store_be *b, struct st_project **items, size_t *n);
    int (*project_set_settings)(struct store_be *b, const char *id, const char *settings_json);

    int (*key_create)(struct store_be *b, const char *id, const char *project_id,
                      const unsigned char hash[STORE_HASH], const char *hint);
    int (*key_lookup)(struct store_be *b, const unsigned char hash[STORE_HASH],
                      struct st_api_key *out);
    int (*key_all)(struct store_be *b, const char *project_id, struct st_api_key **items,
                   size_t *n);
    int (*key_revoke)(struct store_be *b, const char *project_id, const char *id);

    int (*managed_app_set)(struct store_be *b, const struct st_managed_app *a);
    int (*managed_app_get)(struct store_be *b, const char *toolkit, struct st_managed_app *out);

    int (*auth_config_create)(struct store_be *b, const struct st_auth_config *c);
    int (*auth_config_get)(struct store_be *b, const char *project_id, const char *id,
                           struct st_auth_config *out);
    int (*auth_config_newest)(struct store_be *b, const char *project_id, const char *toolkit,
                              int managed, struct st_auth_config *out);
    /* Fills items (up to limit + 1 of them: one more than the page tells store.c that rows
     * follow), n and total. store.c trims the page and makes next_cursor. limit is clamped. */
    int (*auth_config_list)(struct store_be *b, const struct st_auth_config_query *q,
                            const struct store_cursor *cur, int limit,
                            struct st_auth_config_page *out);
    int (*auth_config_set_disabled)(struct store_be *b, const char *project_id, const char *id,
                                    int disabled);
    int (*auth_config_delete)(struct store_be *b, const char *project_id, const char *id);

    int (*session_create)(struct store_be *b, const struct st_session *x);
    int (*session_get)(struct store_be *b, const char *project_id, const char *id,
                       struct st_session *out);
    int (*session_update)(struct store_be *b, const char *project_id, const char *id,
                          const char *config_json, struct st_session *out);
    int (*session_delete)(struct store_be *b, const char *project_id, const char *id);

    int (*account_create_linked)(struct store_be *b, const struct st_account *a,
                                 const struct st_link *l);
    /* optional (NULL: store.c runs account_create_linked and calls done) */
    int (*account_create_linked_async)(struct store_be *b, const struct st_account *a,
                                       const struct st_link *l,
                                       void (*done)(void *arg, int rc), void *arg);
    int (*account_get)(struct store_be *b, const char *project_id, const char *id,
                       struct st_account *out);
    int (*account_get_any)(struct store_be *b, const char *id, struct st_account *out);
    /* As auth_config_list; the query's lists hold at most STORE_LIST_MAX entries each. */
    int (*account_list)(struct store_be *b, const struct st_account_query *q,
                        const struct store_cursor *cur, int limit, struct st_account_page *out);
    int (*account_active_for_user)(struct store_be *b, const char *project_id, const char *user_id,
                                   struct st_account_page *out);
    /* from holds 1..STORE_FROM_MAX statuses. */
    int (*account_transition)(struct store_be *b, const char *id, const char *const *from,
                              const char *to, const char *reason);
    int (*account_activate)(struct store_be *b, const char *id, const unsigned char *creds_enc,
                            size_t creds_len, const char *data_json, int64_t expires_at);
    int (*account_set_disabled)(struct store_be *b, const char *project_id, const char *id,
                                int disabled);
    int (*account_delete)(struct store_be *b, const char *project_id, const char *id);
    int (*account_expire_due)(struct store_be *b, int64_t now_ms, char (**ids)[STORE_ID],
                              size_t *n);
    int (*account_counts)(struct store_be *b, struct store_count **items, size_t *n);

    int (*link_get)(struct store_be *b, const unsigned char token_hash[STORE_HASH],
                    struct st_link *out);
    int (*link_set_state)(struct store_be *b, const unsigned char token_hash[STORE_HASH],
                          const unsigned char state_hash[STORE_HASH],
                          const unsigned char *verifier_enc, size_t verifier_len);
    int (*link_consume_state)(struct store_be *b, const unsigned char state_hash[STORE_HASH],
                              struct st_link *out);
    int (*link_mark_used)(struct store_be *b, const unsigned char token_hash[STORE_HASH]);

    /* limit is already clamped to 1..STORE_PAGE_MAX. */
    int (*event_list)(struct store_be *b, const char *project_id, const char *account_id, int limit,
                      struct st_event **out, size_t *n);
    /* since_ms is already clamped; at most max rows. */
    int (*event_daily)(struct store_be *b, const char *project_id, int64_t since_ms, size_t max,
                       struct st_event_day **out, size_t *n);
    /* One project's account_counts. */
    int (*account_counts_project)(struct store_be *b, const char *project_id,
                                  struct store_count **items, size_t *n);

    /* ---- migration 2: credential lifecycle, webhooks, key rotation (store.h has the contracts;
     * arguments are checked and limits clamped by store.c) ---- */
    int (*account_refresh_claim)(struct store_be *b, const char *id, const char *owner,
                                 int64_t now_ms, int64_t lease_ms, int64_t expires_before,
                                 struct st_account *out, int *failures);
    int (*account_refresh_save)(struct store_be *b, const char *id, const char *owner,
                                const unsigned char *creds_enc, size_t creds_len,
                                const char *data_json, int64_t expires_at, int64_t refresh_at);
    int (*account_refresh_fail)(struct store_be *b, const char *id, const char *owner, int expire,
                                const char *reason, int64_t retry_at);
    int (*account_refresh_due)(struct store_be *b, int64_t before_ms, int64_t now_ms, int limit,
                               char (**ids)[STORE_ID], size_t *n);
    int (*account_relink)(struct store_be *b, const struct st_link *l);
    int (*account_delete_noted)(struct store_be *b, const char *project_id, const char *id,
                                const char *detail_json);

    int (*webhook_create)(struct store_be *b, const struct st_webhook *w);
    int (*webhook_get)(struct store_be *b, const char *project_id, const char *id,
                       struct st_webhook *out);
    int (*webhook_list)(struct store_be *b, const char *project_id, struct st_webhook **out,
                        size_t *n);
    int (*webhook_update)(struct store_be *b, const struct st_webhook *w);
    int (*webhook_delete)(struct store_be *b, const char *project_id, const char *id);

    int (*delivery_claim)(struct store_be *b, const char *owner, int64_t now_ms, int64_t lease_ms,
                          int limit, struct st_delivery **out, size_t *n);
    int (*delivery_finish)(struct store_be *b, int64_t seq, const char *owner, int ok,
                           long http_status, const char *error, int64_t next_at);
    int (*delivery_list)(struct store_be *b, const char *project_id, const char *endpoint_id,
                         int64_t before_seq, int limit, struct st_delivery **out, size_t *n);
    int (*delivery_get)(struct store_be *b, const char *project_id, int64_t seq,
                        struct st_delivery *out);
    int (*delivery_replay)(struct store_be *b, const char *project_id, int64_t seq,
                           int64_t *new_seq);

    int (*sealed_page)(struct store_be *b, enum st_sealed_kind kind, const unsigned char *after,
                       size_t after_len, int limit, struct st_sealed **out, size_t *n);
    int (*sealed_replace)(struct store_be *b, enum st_sealed_kind kind,
                          const struct st_sealed *items, unsigned char *const *new_enc,
                          const size_t *new_len, size_t n, size_t *replaced);

    /* Cross-node change notices (store_listen); NULL: the backend has no other nodes to hear. */
    int (*listen)(struct store_be *b, void (*fn)(void *arg, const char *account_id), void *arg);
};

extern const struct store_ops store__sqlite;
extern const char *const store__sqlite_migrations[]; /* migrations_sqlite.c */
extern const struct store_ops store__pg;             /* store_pg.c */
extern const char *const store__pg_migrations[];     /* migrations_pg.c */

/* store_copy's work (store_pg.c): every row of every table of the SQLite file into the migrated,
 * empty PostgreSQL database, in one transaction. 0, or -1 with a sentence in err. */
int store__pg_copy_from_sqlite(const char *sqlite_path, const char *pg_url, int64_t *rows,
                               char *err, size_t errlen);

#endif
