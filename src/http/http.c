/* http.c -- the libmicrohttpd daemon and the request life cycle.
 * MHD calls the access handler several times per request: the first call only creates our context
 * (queueing a reply then would make MHD close keep-alive connections), the next ones deliver body
 * bytes, and the last one (no more data) dispatches. After a resume MHD calls it once more and the
 * handler's continuation runs. */
#include "http/http.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/url.h"
#include "common/utf8.h"

static struct MHD_Daemon *daemon_;
static struct http_options opts;

static const char CSP[] = "default-src 'none'; img-src 'self' data: https:; style-src 'unsafe-inline'; "
                          "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'";

static struct http_req *
req_new(struct MHD_Connection *c, const char *url, const char *method)
{
    struct http_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->conn = c;
    r->method = method;
    r->path = url;
    r->route_index = -1;
    r->app = opts.app;
    r->start_us = time_mono_us();
    buf_init(&r->body, HTTP_MAX_BODY);
    ids_new(r->request_id, sizeof r->request_id, "req_");
    return r;
}

static void
req_free(struct http_req *r)
{
    if (r->work_free != NULL && r->work != NULL)
        r->work_free(r->work);
    for (size_t i = 0; i < r->nkeep; i++)
        free(r->keep[i]);
    free(r->keep);
    free(r->set_cookie);
    buf_free(&r->body);
    free(r);
}

void *
http_keep(struct http_req *r, void *p)
{
    if (p == NULL)
        return NULL;
    if (r->nkeep == r->capkeep) {
        size_t cap = r->capkeep ? r->capkeep * 2 : 8;
        void **k = realloc(r->keep, cap * sizeof *k);
        if (k == NULL) {
            free(p);
            return NULL;
        }
        r->keep = k;
        r->capkeep = cap;
    }
    r->keep[r->nkeep++] = p;
    return p;
}

const char *
http_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
http_query(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
http_cookie(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

struct collect {
    struct kv_list *list;
    int bad;
};

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct collect *c = cls;
    const char *v = value ? value : "";
    if (c->list->n >= URL_MAX_PAIRS || !utf8_valid(key, strlen(key)) || !utf8_valid(v, strlen(v))) {
        c->bad = 1;
        return MHD_NO;
    }
    if (c->list != NULL && c->list->items != NULL) {
        struct kv *kv = &c->list->items[c->list->n++];
        kv->key = strdup(key);
        kv->val = strdup(v);
    }
    return MHD_YES;
}

int
http_query_list(struct http_req *r, struct kv_list *out)
{
    out->items = calloc(URL_MAX_PAIRS, sizeof *out->items);
    out->n = 0;
    struct collect c = {out, 0};
    if (out->items != NULL)
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
    if (out->items == NULL || c.bad) {
        kv_list_free(out);
        return -1;
    }
    return 0;
}

static enum MHD_Result
check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    int *bad = cls;
    size_t kl = strlen(key), vl = value ? strlen(value) : 0;
    if (kl > 256 || vl > 4096 || !utf8_valid(key, kl) || (value && !utf8_valid(value, vl))) {
        *bad = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

int
http_input_valid(struct http_req *r)
{
    size_t n = strlen(r->path);
    if (n > 2048 || !utf8_valid(r->path, n))
        return 0;
    int bad = 0;
    int count = MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &bad);
    return !bad && count <= URL_MAX_PAIRS;
}

void
http_client_ip(struct http_req *r, char *out, size_t outlen)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

void
http_set_cookie(struct http_req *r, const char *cookie)
{
    free(r->set_cookie);
    r->set_cookie = strdup(cookie);
}

/* Queues resp with the headers every reply carries; takes resp. */
static void
queue(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL) {
        log_error("reply", "request_id=%s error=\"cannot build response\"", r->request_id);
        return;
    }
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->set_cookie != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
    if (MHD_queue_response(r->conn, status, resp) == MHD_YES)
        r->status = status;
    MHD_destroy_response(resp);
}

static struct MHD_Response *
response_take(char *data, size_t len)
{
    return MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
}

void
http_reply_json(struct http_req *r, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        http_reply_error(r, ERR_INTERNAL, "cannot encode the response");
        return;
    }
    http_reply_json_text(r, status, text, strlen(text));
}

void
http_reply_json_text(struct http_req *r, unsigned status, char *text, size_t len)
{
    struct MHD_Response *resp = response_take(text, len);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    queue(r, status, resp);
}

void
http_reply_err(struct http_req *r, const struct err *e)
{
    unsigned status = err_http_status(e->code);
    struct err safe = *e;
    if (!utf8_valid(safe.message, strlen(safe.message)))
        snprintf(safe.message, sizeof safe.message, "%s", err_slug(e->code));
    if (!utf8_valid(safe.fix, strlen(safe.fix)))
        safe.fix[0] = '\0';
    e = &safe;
    json_t *body = json_pack("{s:{s:s,s:i,s:i,s:s,s:s,s:[]}}", "error", "message", e->message,
                             "code", err_number(e->code), "status", (int)status, "request_id",
                             r->request_id, "suggested_fix", e->fix, "errors");
    log_msg(status >= 500 ? LOG_ERROR : LOG_INFO, "error", "request_id=%s status=%u code=%s",
            r->request_id, status, err_slug(e->code));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return;
    struct MHD_Response *resp = response_take(text, strlen(text));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* The official SDK retries 5xx, 408, 409 and 429; say no where a retry cannot help. */
    if (status >= 500 || status == 409)
        MHD_add_response_header(resp, "x-should-retry", "false");
    if (status == 429 && r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    queue(r, status, resp);
}

void
http_reply_error(struct http_req *r, enum err_code code, const char *fmt, ...)
{
    struct err e = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    http_reply_err(r, &e);
}

void
http_reply_limited(struct http_req *r, int retry_after_s)
{
    r->retry_after = retry_after_s > 0 ? retry_after_s : 1;
    http_reply_error(r, ERR_RATE_LIMITED, "too many requests; retry in %d s", r->retry_after);
}

void
http_reply_html(struct http_req *r, unsigned status, char *html)
{
    struct MHD_Response *resp = response_take(html, strlen(html));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    queue(r, status, resp);
}

void
http_reply_redirect(struct http_req *r, const char *location)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    queue(r, 302, resp);
}

void
http_reply_bytes(struct http_req *r, unsigned status, const char *content_type, const void *data,
                 size_t len, const char *cache_control)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            cache_control ? cache_control : "no-store");
    queue(r, status, resp);
}

void
http_suspend(struct http_req *r, http_handler on_resume, void *work, void (*work_free)(void *))
{
    r->on_resume = on_resume;
    r->work = work;
    r->work_free = work_free;
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
}

void
http_resume(struct http_req *r)
{
    MHD_resume_connection(r->conn);
}

/* Runs the dispatcher or the continuation; makes sure something is queued unless suspended. */
static void
run(struct http_req *r)
{
    if (r->suspended) {
        r->suspended = 0;
        r->on_resume(r);
    } else {
        opts.dispatch(r);
    }
    if (!r->suspended && r->status == 0)
        http_reply_error(r, ERR_INTERNAL, "the request was not answered");
}

/* 1 when the body's framing is one MHD reads: no Transfer-Encoding, or exactly "chunked". Any
 * other coding leaves the body length unknown (RFC 9112 6.3 asks for a 400 and a close); MHD would
 * wait for the peer to close and then drop the request without an answer. */
static int
framing_ok(struct MHD_Connection *c)
{
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te == NULL || strcasecmp(te, "chunked") == 0;
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct http_req *r = *con_cls;
    if (r == NULL) {
        r = req_new(c, url, method);
        *con_cls = r;
        if (r != NULL && !framing_ok(c))
            http_reply_error(r, ERR_BAD_REQUEST, "unsupported Transfer-Encoding; send the body "
                                                 "with Content-Length or chunked");
        return r ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        if (!r->body_too_large && buf_append(&r->body, upload, *upload_size) != 0)
            r->body_too_large = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status != 0)
        return MHD_YES;
    run(r);
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;
    if (r == NULL)
        return;
    if (opts.on_complete != NULL)
        opts.on_complete(r, time_mono_us() - r->start_us);
    req_free(r);
    *con_cls = NULL;
}

static int
parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "--listen '%s' is not host:port", listen);
        return -1;
    }
    memcpy(host, listen, colon - listen);
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        snprintf(err, errlen, "--listen '%s' has a bad port", listen);
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1)
            return 0;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (strcmp(host, "localhost") == 0)
            snprintf(host, sizeof host, "127.0.0.1");
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1)
            return 0;
    }
    snprintf(err, errlen, "--listen '%s': the host must be an IP address", listen);
    return -1;
}

static void
on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    char q[300];
    log_msg(LOG_DEBUG, "mhd", "detail=%s", log_quote(line, q, sizeof q));
}

int
http_start(const struct http_options *o, char *err, size_t errlen)
{
    opts = *o;
    if (opts.threads == 0)
        opts.threads = 2;
    if (opts.max_connections == 0)
        opts.max_connections = 20000;
    if (opts.conn_timeout_s == 0)
        opts.conn_timeout_s = 30;
    struct sockaddr_storage ss;
    if (parse_listen(o->listen, &ss, err, errlen) != 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    daemon_ = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, opts.threads, MHD_OPTION_CONNECTION_LIMIT,
        opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, opts.conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error,
        NULL, MHD_OPTION_END);
    if (daemon_ == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", o->listen, strerror(errno));
        return -1;
    }
    return 0;
}

unsigned
http_port(void)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void
http_quiesce(void)
{
    if (daemon_ != NULL) {
        MHD_socket s = MHD_quiesce_daemon(daemon_);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

void
http_stop(void)
{
    if (daemon_ == NULL)
        return;
    usleep(100 * 1000); /* let resumed requests write their answers */
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
