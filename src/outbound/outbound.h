/* outbound.h -- the only module that talks to the network: one thread drives libcurl's multi
 * interface. Callers submit a request and get a callback on the outbound thread when it finishes
 * (success, HTTP error, timeout or transport error). Callbacks must be quick and must not block:
 * they typically stash the result and resume a suspended HTTP connection. */
#ifndef TETHER_OUTBOUND_H
#define TETHER_OUTBOUND_H
#include <stddef.h>

#define OUTBOUND_MAX_HEADERS 16

struct outbound_req {
    const char *method;                        /* "GET", "POST", ...; copied at submit */
    char *url;                                 /* owned by the request */
    char *headers[OUTBOUND_MAX_HEADERS];       /* "Name: value", owned, NULL-terminated list */
    char *body;                                /* owned, may be NULL */
    size_t body_len;
    long timeout_ms;                           /* total; default 10000 when 0 */
    long connect_timeout_ms;                   /* default 3000 when 0 */
    size_t max_response;                       /* default 1 MiB when 0 */
    int follow_redirects;                      /* 0: redirects are returned as they are */
};

struct outbound_res {
    long status;           /* HTTP status, or 0 when no response arrived */
    char content_type[128];
    char *body;            /* NUL-terminated; owned by the engine, valid during the callback */
    size_t len;
    char **headers;        /* response headers "Name: value", NULL-terminated; valid during callback */
    int timed_out;         /* 1 when the timeout fired */
    char error[256];       /* transport error sentence, "" on a response */
    long duration_ms;
};

typedef void (*outbound_cb)(void *arg, const struct outbound_res *res);

/* Starts the engine thread. allow_http: permit plain http:// (tests, local providers). 0 or -1. */
int outbound_start(int allow_http);
/* Stops the thread; in-flight requests finish with error "shutting down". */
void outbound_stop(void);

struct outbound_req *outbound_req_new(const char *method, const char *url);
int outbound_req_header(struct outbound_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void outbound_req_body(struct outbound_req *r, const char *body, size_t len); /* copies */
void outbound_req_free(struct outbound_req *r);

/* Queues r (consumed, even on failure). cb runs exactly once on the engine thread, unless this
 * returns -1 (engine stopped or full), in which case it never runs. */
int outbound_submit(struct outbound_req *r, outbound_cb cb, void *arg);
/* Runs r (consumed) to completion on the calling thread, through the engine. For background work
 * and admin commands only, never on an HTTP thread. res->body must be freed by outbound_res_clear.
 * res is filled in every case; returns 0 when an HTTP response arrived (any status), -1 otherwise
 * (transport error, timeout, engine stopped: res->status is 0 and res->error says why). */
int outbound_perform(struct outbound_req *r, struct outbound_res *res);
void outbound_res_clear(struct outbound_res *res);

#endif
