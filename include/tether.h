/* tether.h -- libtether, the C client of the tether connection broker.
 *
 * It speaks the REST routes tether shares with Composio's v3.1 API (sessions, Connect Links,
 * connected accounts), so it works against tether and against any server with the same routes.
 * It owns HTTP, JSON and waiting; it keeps no server state and no global mutable state besides
 * curl's one-time global initialisation.
 *
 * Conventions, for every call below:
 * - Calls return 0 (TETHER_OK) or a negative TETHER_E* code. Output parameters are written only
 *   on success. After a failure, tether_errmsg() and tether_errinfo() give the detail.
 * - Ownership is stated on each call. Objects the caller receives are freed with the named
 *   _free function; every _free function accepts NULL. Strings returned by accessors are
 *   borrowed: they live exactly as long as the object they came from, and are NULL when the
 *   server did not send the field.
 * - A tether_client is thread-safe: any number of threads may use one client at once. Objects
 *   made from it (sessions, requests, accounts, lists) are not locked: use each one from one
 *   thread at a time. Sessions and connection requests keep a pointer to their client, so the
 *   client must outlive them.
 * - Option structs are filled by their _init() function before use. Fields are only ever
 *   appended, so code that calls _init() keeps working across versions.
 *
 * Build with `pkg-config --cflags --libs tether` (libcurl, jansson and pthreads underneath). */
#ifndef TETHER_H
#define TETHER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TETHER_VERSION_MAJOR 0
#define TETHER_VERSION_MINOR 1
#define TETHER_VERSION_PATCH 0

/* Server used when neither the options nor the environment name one. */
#define TETHER_DEFAULT_BASE_URL "http://127.0.0.1:8080"
/* Wait used by tether_connection_request_wait() when timeout_ms <= 0 (the seed's default). */
#define TETHER_DEFAULT_WAIT_MS 60000L

/* ---- errors ------------------------------------------------------------------------------- */

/* The one error table: XX(NAME, value, "name", "sentence"). Appended to, never renumbered. */
#define TETHER_ERRNO_MAP(XX)                                                                       \
    XX(OK, 0, "ok", "success")                                                                     \
    XX(EINVAL, -1, "invalid_argument", "invalid argument")                                         \
    XX(EUNAUTHORIZED, -2, "unauthorized", "the server rejected the API key")                       \
    XX(ENOTFOUND, -3, "not_found", "not found")                                                    \
    XX(EUNREACHABLE, -4, "unreachable", "cannot reach the server")                                 \
    XX(ETIMEOUT, -5, "timeout", "timed out")                                                       \
    XX(EFAILED, -6, "connection_failed", "the connection failed")                                  \
    XX(EEXPIRED, -7, "connection_expired", "the connection expired")                               \
    XX(ESERVER, -8, "server_error", "the server reported an internal error")                       \
    XX(EPROTOCOL, -9, "protocol_error", "the server's answer cannot be understood")                \
    XX(ENOMEM, -10, "out_of_memory", "out of memory")                                              \
    XX(EBADREQUEST, -11, "bad_request", "the server refused the request")                          \
    XX(EFORBIDDEN, -12, "forbidden", "the API key may not do this")                                \
    XX(ECONFLICT, -13, "conflict", "the request conflicts with the server's state")                \
    XX(ERATELIMITED, -14, "rate_limited", "too many requests")                                     \
    XX(EREVOKED, -15, "connection_revoked", "the connection was revoked")                          \
    XX(ETOOBIG, -16, "too_big", "the server's answer is too large")                                \
    XX(ECANCELED, -17, "canceled", "canceled by the caller")

typedef enum tether_error {
#define TETHER_ERR_ENUM_(name, value, id, msg) TETHER_##name = value,
    TETHER_ERRNO_MAP(TETHER_ERR_ENUM_)
#undef TETHER_ERR_ENUM_
} tether_error;

typedef struct tether_client tether_client;
typedef struct tether_session tether_session;
typedef struct tether_connection_request tether_connection_request;
typedef struct tether_account tether_account;
typedef struct tether_account_list tether_account_list;
typedef struct tether_toolkit_list tether_toolkit_list;

/* Static sentence for a code; "unknown error" for a code not in the table. Added in 0.1. */
const char *tether_strerror(int code);
/* Static snake_case name of a code ("not_found"); "unknown" for a code not in the table.
 * Added in 0.1. */
const char *tether_err_name(int code);

/* Detail of the last failed call made by the calling thread. Like errno, read it right after a
 * call failed; successful calls do not clear it. The detail is kept per thread, so one client
 * can be shared by threads without their errors mixing.
 * [in] c  the client the call was made on, or NULL (for example after tether_client_new()
 *         returned NULL); accepted for symmetry, the detail is the thread's.
 * Returns a sentence that includes the server's message, or the account's status and
 * status_reason when a wait ended in FAILED/EXPIRED/REVOKED. Never NULL ("" before any failure).
 * Valid until the thread's next failed call. Added in 0.1. */
const char *tether_errmsg(const tether_client *c);

/* Everything known about the thread's last failure. All strings are borrowed, valid until the
 * thread's next failed call, and NULL when not known. Fields are only appended. */
typedef struct tether_error_info {
    int code;                   /* TETHER_E* */
    const char *message;        /* as tether_errmsg(); never NULL */
    long http_status;           /* 0 when no HTTP answer was received */
    long server_code;           /* "error.code" of the server's body, 0 if none */
    const char *server_message; /* "error.message" */
    const char *request_id;     /* "error.request_id" */
    const char *suggested_fix;  /* "error.suggested_fix" */
    const char *account_id;     /* set by waits */
    const char *account_status; /* set by waits: "FAILED", "EXPIRED", "REVOKED" */
    const char *status_reason;  /* set by waits: the account's status_reason */
} tether_error_info;

/* Fill *out with the thread's last failure. [in] c as for tether_errmsg(). [out] out.
 * Added in 0.1. */
void tether_errinfo(const tether_client *c, tether_error_info *out);

/* "0.1.0": the library's version, static. Added in 0.1. */
const char *tether_version(void);

/* ---- client ------------------------------------------------------------------------------- */

typedef struct tether_client_options {
    /* Server root, without "/api/v3.1". NULL: $TETHER_BASE_URL, then $COMPOSIO_BASE_URL, then
     * TETHER_DEFAULT_BASE_URL. Must be http:// or https://. */
    const char *base_url;
    /* Sent as x-api-key. NULL: $TETHER_API_KEY, then $COMPOSIO_API_KEY. Required. */
    const char *api_key;
    long connect_timeout_ms; /* default 10000 */
    long request_timeout_ms; /* per request, default 60000; long-polls add their wait to it */
    const char *user_agent;  /* NULL: "libtether/<version>" */
} tether_client_options;

/* Defaults into *opts: NULL strings (read from the environment by tether_client_new()) and the
 * timeouts above. Added in 0.1. */
void tether_client_options_init(tether_client_options *opts);

/* A new client. [in] opts may be NULL (all defaults). The strings in opts are copied; opts can
 * be discarded afterwards. Returns the client (caller frees with tether_client_free()), or NULL
 * with the detail in tether_errmsg(NULL)/tether_errinfo(NULL, ...): TETHER_EINVAL when no API
 * key is set or the base URL is not http(s), TETHER_ENOMEM. No request is made. Added in 0.1. */
tether_client *tether_client_new(const tether_client_options *opts);
void tether_client_free(tether_client *c);

/* The resolved base URL (borrowed, lives with c), for messages. Added in 0.1. */
const char *tether_client_base_url(const tether_client *c);

/* ---- sessions ----------------------------------------------------------------------------- */

/* A (toolkit, id) pair for pinned accounts and auth configs. */
typedef struct tether_pin {
    const char *toolkit; /* slug, e.g. "gmail" */
    const char *id;      /* "ca_..." or "ac_..." */
} tether_pin;

typedef struct tether_session_options {
    int manage_connections;               /* 1 (default) or 0: whether in-chat auth is offered */
    const char *const *toolkits;          /* NULL-terminated slugs to enable; NULL: all toolkits */
    const tether_pin *connected_accounts; /* accounts the session must use; several entries */
    size_t n_connected_accounts;          /*   for one toolkit are sent as one array */
    const tether_pin *auth_configs;       /* auth config to use per toolkit */
    size_t n_auth_configs;
} tether_session_options;

/* Defaults: manage_connections 1, everything else empty. Added in 0.1. */
void tether_session_options_init(tether_session_options *opts);

/* Create a session for user_id (POST /tool_router/session).
 * [in] c, user_id (non-empty), opts (NULL: defaults; strings are not kept).
 * [out] out: the session; caller frees with tether_session_free(). It refers to c.
 * Errors: EINVAL, the HTTP errors (EUNAUTHORIZED, EUNREACHABLE, EBADREQUEST, ...), EPROTOCOL
 * when the answer has no session_id. Added in 0.1. */
int tether_session_create(tether_client *c, const char *user_id, const tether_session_options *opts,
                          tether_session **out);

/* Open an existing session by id (GET /tool_router/session/{id}). [out] out as above.
 * ENOTFOUND when the server does not know it. Added in 0.1. */
int tether_session_open(tether_client *c, const char *session_id, tether_session **out);

void tether_session_free(tether_session *s);

const char *tether_session_id(const tether_session *s);      /* "trs_..." never NULL */
const char *tether_session_user_id(const tether_session *s); /* from config.user_id */
const char *tether_session_mcp_url(const tether_session *s); /* mcp.url */
/* The server's whole answer as compact JSON (borrowed). */
const char *tether_session_json(const tether_session *s);

/* ---- authorize and wait ------------------------------------------------------------------- */

typedef struct tether_authorize_options {
    const char *callback_url; /* where the user lands afterwards; NULL: none */
    const char *alias;        /* a name for the new account; NULL: none */
} tether_authorize_options;

/* Defaults: both NULL. Added in 0.1. */
void tether_authorize_options_init(tether_authorize_options *opts);

/* Start connecting the session's user to a toolkit (POST /tool_router/session/{id}/link).
 * The server creates a new account in INITIATED and a Connect Link for it.
 * [in] s, toolkit (slug), opts (NULL: defaults; not kept).
 * [out] out: the request; caller frees with tether_connection_request_free(). It refers to the
 *       session's client, not to s, so s may be freed first.
 * Errors: EINVAL, ENOTFOUND (unknown toolkit), EBADREQUEST, the HTTP errors, EPROTOCOL.
 * Added in 0.1. */
int tether_session_authorize(tether_session *s, const char *toolkit,
                             const tether_authorize_options *opts, tether_connection_request **out);

void tether_connection_request_free(tether_connection_request *r);
const char *tether_connection_request_id(const tether_connection_request *r); /* "ca_..." */
const char *tether_connection_request_redirect_url(const tether_connection_request *r);
const char *tether_connection_request_link_token(const tether_connection_request *r);
const char *tether_connection_request_json(const tether_connection_request *r);

/* Called about once a second while a wait runs. [in] remaining_ms until the timeout, status of
 * the account at the last check ("INITIATED", ...). Return 0 to go on, non-zero to stop the wait
 * with TETHER_ECANCELED. Runs on the waiting thread. */
typedef int (*tether_wait_fn)(void *userdata, long remaining_ms, const char *status);

typedef struct tether_wait_options {
    long timeout_ms;        /* <= 0: TETHER_DEFAULT_WAIT_MS */
    tether_wait_fn on_tick; /* NULL: none */
    void *userdata;         /* passed to on_tick */
} tether_wait_options;

/* Defaults: TETHER_DEFAULT_WAIT_MS, no callback. Added in 0.1. */
void tether_wait_options_init(tether_wait_options *opts);

/* Wait until account_id leaves INITIALIZING/INITIATED. Uses the server's long-poll
 * (GET /connected_accounts/{id}?wait_ms=N); a server that answers at once instead is polled
 * once a second, like the official SDK. INACTIVE and unknown statuses keep waiting.
 * [in] c, account_id, opts (NULL: defaults).
 * [out] out: the ACTIVE account; caller frees with tether_account_free().
 * Errors: EFAILED, EEXPIRED or EREVOKED when the account ended so (tether_errinfo() carries
 * account_status and status_reason); ETIMEOUT when the time ran out; ECANCELED when on_tick
 * asked to stop; ENOTFOUND for an unknown account; the HTTP errors. Added in 0.1. */
int tether_account_wait(tether_client *c, const char *account_id, const tether_wait_options *opts,
                        tether_account **out);

/* The seed's wait_for_connection(timeout): tether_account_wait() on the request's account with
 * timeout_ms (<= 0: 60000) and no callback. Added in 0.1. */
int tether_connection_request_wait(tether_connection_request *r, long timeout_ms,
                                   tether_account **out);

/* ---- session toolkits --------------------------------------------------------------------- */

typedef struct tether_toolkits_options {
    int limit;                   /* page size; 0: the server's default */
    const char *cursor;          /* from tether_toolkit_list_next_cursor(); NULL: first page */
    const char *const *toolkits; /* NULL-terminated slugs to keep; NULL: all */
    int is_connected;            /* -1 (default): all; 1: only connected; 0: only not */
    const char *search;          /* NULL: none */
} tether_toolkits_options;

/* Defaults: limit 0, is_connected -1, the rest NULL. Added in 0.1. */
void tether_toolkits_options_init(tether_toolkits_options *opts);

/* One page of the session's toolkits and their connection status
 * (GET /tool_router/session/{id}/toolkits). [in] s, opts (NULL: defaults).
 * [out] out: caller frees with tether_toolkit_list_free(). Added in 0.1. */
int tether_session_toolkits(tether_session *s, const tether_toolkits_options *opts,
                            tether_toolkit_list **out);

void tether_toolkit_list_free(tether_toolkit_list *l);
size_t tether_toolkit_list_count(const tether_toolkit_list *l);
/* NULL when there is no further page. */
const char *tether_toolkit_list_next_cursor(const tether_toolkit_list *l);
int tether_toolkit_list_total_pages(const tether_toolkit_list *l); /* 0 when not sent */
const char *tether_toolkit_list_json(const tether_toolkit_list *l);
/* Per item; i < count, or the call returns NULL/0. */
const char *tether_toolkit_slug(const tether_toolkit_list *l, size_t i);
const char *tether_toolkit_name(const tether_toolkit_list *l, size_t i);
int tether_toolkit_is_no_auth(const tether_toolkit_list *l, size_t i);
/* 1 when the account the session uses for this toolkit is ACTIVE. */
int tether_toolkit_is_active(const tether_toolkit_list *l, size_t i);
const char *tether_toolkit_account_id(const tether_toolkit_list *l, size_t i);     /* or NULL */
const char *tether_toolkit_account_status(const tether_toolkit_list *l, size_t i); /* or NULL */

/* ---- connected accounts ------------------------------------------------------------------- */

/* GET /connected_accounts/{id}. [out] out: caller frees with tether_account_free().
 * ENOTFOUND for an unknown id. Added in 0.1. */
int tether_account_get(tether_client *c, const char *account_id, tether_account **out);

/* PATCH /connected_accounts/{id}/status with enabled true/false. Added in 0.1. */
int tether_account_enable(tether_client *c, const char *account_id);
int tether_account_disable(tether_client *c, const char *account_id);
/* DELETE /connected_accounts/{id}. Added in 0.1. */
int tether_account_delete(tether_client *c, const char *account_id);

void tether_account_free(tether_account *a);
const char *tether_account_id(const tether_account *a); /* never NULL */
const char *tether_account_status(const tether_account *a);
const char *tether_account_status_reason(const tether_account *a);
const char *tether_account_toolkit(const tether_account *a); /* toolkit.slug */
const char *tether_account_user_id(const tether_account *a);
const char *tether_account_auth_config_id(const tether_account *a);
const char *tether_account_alias(const tether_account *a);
const char *tether_account_word_id(const tether_account *a);
/* data.identity: the upstream account's display name (an e-mail address, a login). */
const char *tether_account_identity(const tether_account *a);
const char *tether_account_created_at(const tether_account *a);
const char *tether_account_updated_at(const tether_account *a);
int tether_account_is_disabled(const tether_account *a);
/* The account object as compact JSON (borrowed). */
const char *tether_account_json(const tether_account *a);

typedef struct tether_accounts_options {
    const char *const *user_ids; /* NULL-terminated filters, each NULL for none */
    const char *const *toolkit_slugs;
    const char *const *statuses;
    int limit;          /* 0: the server's default */
    const char *cursor; /* NULL: first page */
} tether_accounts_options;

/* Defaults: no filters, limit 0, first page. Added in 0.1. */
void tether_accounts_options_init(tether_accounts_options *opts);

/* One page of connected accounts (GET /connected_accounts). [in] opts (NULL: defaults).
 * [out] out: caller frees with tether_account_list_free(). Added in 0.1. */
int tether_accounts_list(tether_client *c, const tether_accounts_options *opts,
                         tether_account_list **out);

void tether_account_list_free(tether_account_list *l);
size_t tether_account_list_count(const tether_account_list *l);
/* Borrowed: lives as long as l. NULL when i >= count. */
const tether_account *tether_account_list_at(const tether_account_list *l, size_t i);
const char *tether_account_list_next_cursor(const tether_account_list *l);
const char *tether_account_list_json(const tether_account_list *l);

#ifdef __cplusplus
}
#endif
#endif
