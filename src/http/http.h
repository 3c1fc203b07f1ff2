/* http.h -- inbound HTTP on libmicrohttpd: the request context, the reply functions (including the
 * one error funnel), suspend/resume, and the daemon itself.
 *
 * A handler receives a struct http_req and must, before returning, either queue exactly one reply
 * (http_reply_*) or suspend the request (http_suspend). Everything a handler allocates for the
 * request can be handed to http_keep() and dies with the request. Handlers run on the daemon's
 * threads: they may read and write the store, but never wait on the network. */
#ifndef TETHER_HTTP_H
#define TETHER_HTTP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/err.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_BODY (256 * 1024)

struct MHD_Connection;
struct http_req;

typedef void (*http_handler)(struct http_req *req);

/* Called for every request once its body is in. The dispatcher (the route table) finds the handler
 * and sets req->route_index for metrics. */
typedef void (*http_dispatch_fn)(struct http_req *req);

struct http_req {
    struct MHD_Connection *conn;
    const char *method;          /* owned by the daemon, valid for the request */
    const char *path;            /* decoded path without the query */
    struct buf body;             /* capped at HTTP_MAX_BODY */
    int body_too_large;
    const char *params[HTTP_MAX_PARAMS]; /* path parameters filled by the router, in order */
    int route_index;             /* for metrics; -1 until routed */
    void *app;                   /* the service context given to http_start */
    void *auth;                  /* set by the router's authentication step (a project) */
    char request_id[24];
    int64_t start_us;
    unsigned status;             /* status of the queued reply, 0 before */
    /* suspend/resume */
    int suspended;
    http_handler on_resume;
    void *work;                  /* the handler's state while suspended */
    void (*work_free)(void *work);
    char *set_cookie;            /* Set-Cookie value for the next reply, owned */
    int retry_after;             /* seconds, for a 429 */
    /* request-scoped allocations */
    void **keep;
    size_t nkeep, capkeep;
};

struct http_options {
    const char *listen;          /* "127.0.0.1:8080" or "[::1]:8080" */
    unsigned threads;            /* poll threads, default 2 */
    unsigned max_connections;    /* default 20000 */
    unsigned conn_timeout_s;     /* idle timeout, default 30 */
    void *app;
    http_dispatch_fn dispatch;
    void (*on_complete)(struct http_req *req, int64_t duration_us); /* metrics and access log */
};

/* Starts the daemon. 0, or -1 with a sentence in err. */
int http_start(const struct http_options *o, char *err, size_t errlen);
/* Stops accepting new connections; requests in flight go on. */
void http_quiesce(void);
/* Stops the daemon (after http_quiesce and after every parked request was resumed). */
void http_stop(void);
/* The port actually bound (useful with port 0). */
unsigned http_port(void);

/* ---- request access --------------------------------------------------------------------------- */

const char *http_header(struct http_req *r, const char *name);
/* A query argument (decoded), or NULL. Arguments with invalid UTF-8 are treated by the router as a
 * bad request before handlers run, so handlers can trust the text. */
const char *http_query(struct http_req *r, const char *name);
const char *http_cookie(struct http_req *r, const char *name);
/* All query arguments as a list (copies; kv_list_free it). -1 when there are more than
 * URL_MAX_PAIRS or one is not valid UTF-8. */
struct kv_list;
int http_query_list(struct http_req *r, struct kv_list *out);
/* 1 when the decoded path and every query argument is valid UTF-8 within size limits. */
int http_input_valid(struct http_req *r);
/* The peer's IP address as text ("127.0.0.1", "::1"); "" when unknown. */
void http_client_ip(struct http_req *r, char *out, size_t outlen);
/* Hands p to the request: free()d when the request ends. Returns p. */
void *http_keep(struct http_req *r, void *p);

/* ---- replies (each queues the one response of the request) ------------------------------------ */

void http_reply_json(struct http_req *r, unsigned status, json_t *body); /* consumes body */
/* JSON already encoded; consumes text (malloc'd). */
void http_reply_json_text(struct http_req *r, unsigned status, char *text, size_t len);
/* The error funnel: {"error":{"message","code","status","request_id","suggested_fix"}}, logged and
 * counted. */
void http_reply_err(struct http_req *r, const struct err *e);
void http_reply_error(struct http_req *r, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 429 through the funnel, with Retry-After. */
void http_reply_limited(struct http_req *r, int retry_after_s);
/* HTML page with CSP (no external sources), frame-ancestors 'none', no-store. Consumes html. */
void http_reply_html(struct http_req *r, unsigned status, char *html);
void http_reply_redirect(struct http_req *r, const char *location);
/* Any bytes; the data is copied. extra_header may be NULL or "Name: value". */
void http_reply_bytes(struct http_req *r, unsigned status, const char *content_type,
                      const void *data, size_t len, const char *cache_control);
/* Adds a Set-Cookie header to the reply queued next. The value is copied. */
void http_set_cookie(struct http_req *r, const char *cookie);

/* ---- suspend and resume ----------------------------------------------------------------------- */

/* Parks the request: the handler returns without replying. Later, any thread calls http_resume;
 * then on_resume runs on a daemon thread and must reply or suspend again. work (may be NULL) is
 * the handler's state; work_free (may be NULL) is called when the request ends. */
void http_suspend(struct http_req *r, http_handler on_resume, void *work, void (*work_free)(void *));
/* Thread-safe; call exactly once per http_suspend. */
void http_resume(struct http_req *r);

#endif
