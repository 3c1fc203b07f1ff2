/* tether_int.h -- what the files of libtether share and nothing else: the client's layout, the
 * thread's error detail, a capped string builder, the HTTP+JSON transport and the account object.
 * Never installed; the public contract is include/tether.h. */
#ifndef TETHER_LIB_INT_H
#define TETHER_LIB_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "tether.h"

#define TETHER__MAX_URL 4096        /* base URL plus path and query */
#define TETHER__MAX_ARG 1024        /* one id, slug, key or URL given by the caller */
#define TETHER__MAX_BODY (8u << 20) /* largest answer read from the server */
#define TETHER__API_PREFIX "/api/v3.1"

#define TETHER__POOL 8 /* idle easy handles kept for their open connections */

/* The client: immutable after tether_client_new() apart from curl's share object (DNS and TLS
 * sessions; it locks itself through locks[]) and the pool of idle easy handles (under pool_mu).
 * Connections are reused through the pooled handles, never shared between threads: curl's
 * shared connection cache is not safe across threads. */
struct tether_client {
    char *base_url; /* no trailing slash */
    char *api_key;
    char *user_agent;
    long connect_timeout_ms;
    long request_timeout_ms;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_mu;
    CURL *pool[TETHER__POOL];
    int npool;
};

/* ---- error detail (error.c) ----
 * Each sets the calling thread's detail and returns code, so callers write
 * `return tether__fail(TETHER_EINVAL, "...")`. */
int tether__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The server answered status with body (may be NULL or not an error object). */
int tether__fail_http(long status, const json_t *body, const char *method, const char *path);
/* A wait ended with the account in a final bad status. */
int tether__fail_account(int code, const char *account_id, const char *status, const char *reason);

/* ---- capped string builder (str.c) ----
 * Appends fail with -1 when the text would pass max or memory runs out; s->p stays a valid
 * NUL-terminated string (or NULL before the first append). tether__str_free accepts a zeroed str.
 */
struct tether__str {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
};
void tether__str_init(struct tether__str *s, size_t max);
int tether__str_add(struct tether__str *s, const void *data, size_t n);
int tether__str_puts(struct tether__str *s, const char *text);
int tether__str_printf(struct tether__str *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Percent-encodes everything but RFC 3986 unreserved characters. */
int tether__str_escape(struct tether__str *s, const char *text);
void tether__str_free(struct tether__str *s);

/* Query parameters: "&key=value" (no "&" first), value escaped; a NULL value or empty list adds
 * nothing. A list is one comma-joined value, the comma escaped as %2C. 0 or TETHER_EINVAL. */
int tether__query_add(struct tether__str *q, const char *key, const char *value);
int tether__query_add_list(struct tether__str *q, const char *key, const char *const *list);

/* Checks a caller-supplied string: non-NULL, non-empty, at most TETHER__MAX_ARG bytes.
 * Returns 0 or TETHER_EINVAL with the detail naming what. */
int tether__check_arg(const char *value, const char *what);

/* ---- transport (http.c) ----
 * One request to base_url + "/api/v3.1" + path (path and query already escaped; query NULL for
 * none). body (borrowed, may be NULL) is sent as JSON. extra_timeout_ms lengthens the request's
 * timeout (for long-polls). On a 2xx answer, *out receives the parsed JSON (caller decrefs; an
 * empty body gives an empty object) and 0 is returned. Otherwise returns a TETHER_E* with the
 * thread's detail set; *out is untouched. */
int tether__request(tether_client *c, const char *method, const char *path, const char *query,
                    json_t *body, long extra_timeout_ms, json_t **out);

/* ---- sessions (session.c) ---- */
struct tether_session {
    tether_client *c; /* not owned */
    json_t *j;        /* the server's answer */
    char *json;       /* compact text of j */
    const char *id;   /* borrowed from j */
};
/* "/tool_router/session/{id}{suffix}" with id escaped, into p (initialised here; caller frees
 * with tether__str_free). 0 or a code. */
int tether__session_path(struct tether__str *p, const char *id, const char *suffix);

/* ---- accounts (account.c) ---- */
struct tether_account {
    json_t *j;  /* a reference */
    char *json; /* compact text of j */
};
/* A new account holding a reference to j (which must be an object with a string "id").
 * Returns 0, TETHER_EPROTOCOL or TETHER_ENOMEM. *out is the caller's (tether_account_free). */
int tether__account_new(json_t *j, tether_account **out);
/* Fills *a in place (for lists); 0 or an error. Release with tether__account_clear. */
int tether__account_init(struct tether_account *a, json_t *j);
void tether__account_clear(struct tether_account *a);

/* Borrowed string member of a JSON object, NULL when missing or not a string. */
const char *tether__jstr(const json_t *obj, const char *key);

/* Monotonic milliseconds. */
long long tether__now_ms(void);

#endif
