/* outbound.c -- the libcurl multi engine of outbound.h.
 * One engine thread owns the multi handle, every easy handle and every in-flight job. Other threads
 * only touch the submit queue (under mu) and wake the engine with curl_multi_wakeup. Response
 * bodies may hold tokens: they are wiped before they are freed, and so are request bodies and
 * headers. */
#include "outbound/outbound.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define DEFAULT_MAX_RESPONSE (1024 * 1024)
#ifndef TETHER_VERSION
#define TETHER_VERSION "0"
#endif
#define USER_AGENT "tether/" TETHER_VERSION
#define MAX_PENDING 4096    /* queued + in flight; submits past this fail */
#define MAX_FREE_HANDLES 16 /* idle easy handles kept for reuse */
#define MAX_RESP_HEADERS 64 /* response headers kept per response; the rest are dropped */
#define MAX_RESP_HEADER_BYTES 16384
#define MAX_REQ_HEADER_LEN 8192
#define MAX_REDIRECTS 3L
#define POLL_MS 1000

struct job {
    struct outbound_req *req;
    outbound_cb cb;
    void *arg;
    char method[16];
    CURL *easy;
    struct curl_slist *hdrs;
    char *body; /* response body, NUL-terminated when len > 0 */
    size_t len, cap, max;
    int too_large;
    char **resp_headers; /* NULL-terminated, MAX_RESP_HEADERS + 1 slots */
    size_t nresp_headers, resp_header_bytes;
    int64_t started_ms;
    char errbuf[CURL_ERROR_SIZE];
    struct job *next, *prev;
};

static struct {
    pthread_mutex_t mu;
    pthread_t thread;
    int running;                         /* accepting submits (under mu) */
    int stopping;                        /* the engine must finish up (under mu) */
    size_t pending;                      /* queued + in flight (under mu) */
    struct job *queue_head, *queue_tail; /* under mu */
    CURLM *multi;
    int allow_http;
    /* engine thread only */
    struct job *active;
    CURL *free_handles[MAX_FREE_HANDLES];
    int nfree;
} E = {.mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wipe_free(char *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

static void
wipe_free_str(char *p)
{
    if (p != NULL)
        wipe_free(p, strlen(p));
}

/* ---- requests ---- */

struct outbound_req *
outbound_req_new(const char *method, const char *url)
{
    struct outbound_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->method = method ? method : "GET";
    r->url = strdup(url ? url : "");
    if (r->url == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

int
outbound_req_header(struct outbound_req *r, const char *fmt, ...)
{
    size_t i = 0;
    while (i < OUTBOUND_MAX_HEADERS && r->headers[i] != NULL)
        i++;
    if (i >= OUTBOUND_MAX_HEADERS - 1) /* keep the last slot as the terminator */
        return -1;
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if (n > MAX_REQ_HEADER_LEN || strpbrk(line, "\r\n") != NULL || strchr(line, ':') == NULL) {
        wipe_free(line, (size_t)n);
        return -1;
    }
    r->headers[i] = line;
    return 0;
}

void
outbound_req_body(struct outbound_req *r, const char *body, size_t len)
{
    wipe_free(r->body, r->body_len);
    r->body = NULL;
    r->body_len = 0;
    if (body == NULL)
        return;
    r->body = malloc(len + 1);
    if (r->body == NULL)
        return;
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
}

void
outbound_req_free(struct outbound_req *r)
{
    if (r == NULL)
        return;
    wipe_free_str(r->url); /* may carry a credential in its query */
    for (size_t i = 0; i < OUTBOUND_MAX_HEADERS && r->headers[i] != NULL; i++)
        wipe_free_str(r->headers[i]);
    wipe_free(r->body, r->body_len);
    free(r);
}

/* ---- per-transfer callbacks (engine thread) ---- */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct job *j = userp;
    size_t n = size * nmemb;
    if (n > j->max || j->len > j->max - n) {
        j->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        while (cap < j->len + n + 1)
            cap *= 2;
        if (cap > j->max + 1)
            cap = j->max + 1;
        char *p = malloc(cap);
        if (p == NULL)
            return 0;
        if (j->len > 0)
            memcpy(p, j->body, j->len);
        wipe_free(j->body, j->cap);
        j->body = p;
        j->cap = cap;
    }
    memcpy(j->body + j->len, data, n);
    j->len += n;
    j->body[j->len] = '\0';
    return n;
}

static void
clear_resp_headers(struct job *j)
{
    for (size_t i = 0; i < j->nresp_headers; i++) {
        free(j->resp_headers[i]);
        j->resp_headers[i] = NULL;
    }
    j->nresp_headers = 0;
    j->resp_header_bytes = 0;
}

/* Keeps "Name: value" lines of the last response (a redirect or 1xx starts a new list). */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct job *j = userp;
    size_t n = size * nmemb, len = n;
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
        len--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        clear_resp_headers(j);
        return n;
    }
    if (len == 0 || memchr(data, ':', len) == NULL || memchr(data, '\0', len) != NULL)
        return n;
    if (j->nresp_headers >= MAX_RESP_HEADERS || j->resp_header_bytes + len > MAX_RESP_HEADER_BYTES)
        return n;
    if (j->resp_headers == NULL) {
        j->resp_headers = calloc(MAX_RESP_HEADERS + 1, sizeof *j->resp_headers);
        if (j->resp_headers == NULL)
            return n;
    }
    char *line = strndup(data, len);
    if (line == NULL)
        return n;
    j->resp_headers[j->nresp_headers++] = line;
    j->resp_header_bytes += len;
    return n;
}

/* ---- jobs (engine thread) ---- */

static void
job_free(struct job *j)
{
    if (j->easy != NULL) {
        if (E.nfree < MAX_FREE_HANDLES) {
            curl_easy_reset(j->easy); /* keeps connections and TLS sessions */
            E.free_handles[E.nfree++] = j->easy;
        } else {
            curl_easy_cleanup(j->easy);
        }
    }
    curl_slist_free_all(j->hdrs);
    wipe_free(j->body, j->cap);
    clear_resp_headers(j);
    free(j->resp_headers);
    outbound_req_free(j->req);
    free(j);
}

/* Runs the callback with res, then frees the job. Also drops the pending count. */
static void
job_finish(struct job *j, struct outbound_res *res)
{
    static char *no_headers[1] = {NULL};
    res->duration_ms = (long)(mono_ms() - j->started_ms);
    if (res->body == NULL) {
        res->body = (char *)"";
        res->len = 0;
    }
    if (res->headers == NULL)
        res->headers = no_headers;
    j->cb(j->arg, res);
    pthread_mutex_lock(&E.mu);
    E.pending--;
    pthread_mutex_unlock(&E.mu);
    job_free(j);
}

static void job_fail(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
job_fail(struct job *j, const char *fmt, ...)
{
    struct outbound_res res;
    memset(&res, 0, sizeof res);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.error, sizeof res.error, fmt, ap);
    va_end(ap);
    job_finish(j, &res);
}

static void
active_link(struct job *j)
{
    j->prev = NULL;
    j->next = E.active;
    if (E.active != NULL)
        E.active->prev = j;
    E.active = j;
}

static void
active_unlink(struct job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        E.active = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    j->next = j->prev = NULL;
}

static int
method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n >= sizeof((struct job *)0)->method)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return 0;
    return 1;
}

static int
set_method(struct job *j)
{
    struct outbound_req *r = j->req;
    CURL *e = j->easy;
    int has_body = r->body != NULL;
    if (strcmp(j->method, "GET") == 0 && !has_body)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
    if (strcmp(j->method, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -1;
    if (strcmp(j->method, "POST") == 0 || has_body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(has_body ? r->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, has_body ? r->body : "");
    }
    if (strcmp(j->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
    return 0;
}

/* Configures j->easy for j->req. 0, or -1 with a sentence in j->errbuf. */
static int
job_setup(struct job *j)
{
    struct outbound_req *r = j->req;
    const char *protos = E.allow_http ? "http,https" : "https";
    j->easy = E.nfree > 0 ? E.free_handles[--E.nfree] : curl_easy_init();
    if (j->easy == NULL) {
        snprintf(j->errbuf, sizeof j->errbuf, "cannot create a transfer");
        return -1;
    }
    for (size_t i = 0; i < OUTBOUND_MAX_HEADERS && r->headers[i] != NULL; i++) {
        struct curl_slist *l = curl_slist_append(j->hdrs, r->headers[i]);
        if (l == NULL) {
            snprintf(j->errbuf, sizeof j->errbuf, "out of memory");
            return -1;
        }
        j->hdrs = l;
    }
    struct curl_slist *l = curl_slist_append(j->hdrs, "Expect:");
    if (l != NULL)
        j->hdrs = l;
    CURL *e = j->easy;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->follow_redirects ? 1L : 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRECTS) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                            r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                            r->connect_timeout_ms > 0 ? r->connect_timeout_ms
                                                      : DEFAULT_CONNECT_TIMEOUT_MS) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->max) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, j) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, j) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK; /* unless set */
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, j) != CURLE_OK;
    if (bad || set_method(j) != 0) {
        snprintf(j->errbuf, sizeof j->errbuf, "cannot configure the transfer");
        return -1;
    }
    j->errbuf[0] = '\0';
    return 0;
}

static void
job_start(struct job *j)
{
    if (!method_ok(j->method)) {
        job_fail(j, "invalid HTTP method");
        return;
    }
    if (job_setup(j) != 0) {
        job_fail(j, "%s", j->errbuf);
        return;
    }
    if (curl_multi_add_handle(E.multi, j->easy) != CURLM_OK) {
        job_fail(j, "cannot start the transfer");
        return;
    }
    active_link(j);
}

/* A finished transfer: builds the result from the easy handle and runs the callback. */
static void
job_done(struct job *j, CURLcode rc)
{
    struct outbound_res res;
    memset(&res, 0, sizeof res);
    active_unlink(j);
    curl_multi_remove_handle(E.multi, j->easy);
    if (j->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(res.error, sizeof res.error, "response too large");
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        res.timed_out = 1;
        snprintf(res.error, sizeof res.error, "timed out: %.240s",
                 j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        snprintf(res.error, sizeof res.error, "URL scheme not allowed (%s only)",
                 E.allow_http ? "http and https" : "https");
    } else if (rc != CURLE_OK) {
        snprintf(res.error, sizeof res.error, "%s",
                 j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
    } else {
        char *ct = NULL;
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &res.status);
        if (curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
            snprintf(res.content_type, sizeof res.content_type, "%s", ct);
        res.body = j->body;
        res.len = j->len;
        res.headers = j->resp_headers;
    }
    job_finish(j, &res);
}

/* ---- the engine thread ---- */

static struct job *
take_queue(int *stopping)
{
    pthread_mutex_lock(&E.mu);
    struct job *q = E.queue_head;
    E.queue_head = E.queue_tail = NULL;
    *stopping = E.stopping;
    pthread_mutex_unlock(&E.mu);
    return q;
}

static void
drain_messages(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(E.multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        CURLcode rc = m->data.result;
        if (priv != NULL)
            job_done((struct job *)(void *)priv, rc);
    }
}

static void
shut_down(struct job *queued)
{
    while (queued != NULL) {
        struct job *next = queued->next;
        job_fail(queued, "shutting down");
        queued = next;
    }
    while (E.active != NULL) {
        struct job *j = E.active;
        active_unlink(j);
        curl_multi_remove_handle(E.multi, j->easy);
        job_fail(j, "shutting down");
    }
}

static void *
engine_main(void *unused)
{
    for (;;) {
        int stopping = 0, still = 0;
        struct job *q = take_queue(&stopping);
        if (stopping) {
            shut_down(q);
            break;
        }
        while (q != NULL) {
            struct job *next = q->next;
            job_start(q);
            q = next;
        }
        curl_multi_perform(E.multi, &still);
        drain_messages();
        curl_multi_poll(E.multi, NULL, 0, POLL_MS, NULL);
    }
    while (E.nfree > 0)
        curl_easy_cleanup(E.free_handles[--E.nfree]);
    return NULL;
}

static void
global_init(void)
{
    global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int
outbound_start(int allow_http)
{
    pthread_once(&global_once, global_init);
    if (!global_ok)
        return -1;
    pthread_mutex_lock(&E.mu);
    if (E.running || E.multi != NULL) {
        pthread_mutex_unlock(&E.mu);
        return -1;
    }
    E.multi = curl_multi_init();
    if (E.multi == NULL) {
        pthread_mutex_unlock(&E.mu);
        return -1;
    }
    E.allow_http = allow_http;
    E.stopping = 0;
    E.pending = 0;
    if (pthread_create(&E.thread, NULL, engine_main, NULL) != 0) {
        curl_multi_cleanup(E.multi);
        E.multi = NULL;
        pthread_mutex_unlock(&E.mu);
        return -1;
    }
    E.running = 1;
    pthread_mutex_unlock(&E.mu);
    return 0;
}

void
outbound_stop(void)
{
    pthread_mutex_lock(&E.mu);
    if (!E.running) {
        pthread_mutex_unlock(&E.mu);
        return;
    }
    E.running = 0;
    E.stopping = 1;
    curl_multi_wakeup(E.multi);
    pthread_mutex_unlock(&E.mu);
    pthread_join(E.thread, NULL);
    pthread_mutex_lock(&E.mu);
    curl_multi_cleanup(E.multi);
    E.multi = NULL;
    pthread_mutex_unlock(&E.mu);
}

int
outbound_submit(struct outbound_req *r, outbound_cb cb, void *arg)
{
    if (r == NULL)
        return -1;
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL || cb == NULL) {
        free(j);
        outbound_req_free(r);
        return -1;
    }
    j->req = r;
    j->cb = cb;
    j->arg = arg;
    snprintf(j->method, sizeof j->method, "%s", r->method ? r->method : "GET");
    j->max = r->max_response > 0 ? r->max_response : DEFAULT_MAX_RESPONSE;
    j->started_ms = mono_ms();
    pthread_mutex_lock(&E.mu);
    if (!E.running || E.pending >= MAX_PENDING) {
        pthread_mutex_unlock(&E.mu);
        outbound_req_free(r);
        free(j);
        return -1;
    }
    if (E.queue_tail != NULL)
        E.queue_tail->next = j;
    else
        E.queue_head = j;
    E.queue_tail = j;
    E.pending++;
    curl_multi_wakeup(E.multi); /* under mu, so the multi handle cannot be cleaned up meanwhile */
    pthread_mutex_unlock(&E.mu);
    return 0;
}

/* ---- the blocking form ---- */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    struct outbound_res *res;
};

static char **
copy_headers(char *const *h)
{
    size_t n = 0;
    while (h != NULL && h[n] != NULL)
        n++;
    char **out = calloc(n + 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(h[i]);
        if (out[i] == NULL)
            break;
    }
    return out;
}

static void
on_perform_done(void *arg, const struct outbound_res *res)
{
    struct waiter *w = arg;
    struct outbound_res *out = w->res;
    *out = *res;
    out->body = malloc(res->len + 1);
    if (out->body != NULL) {
        memcpy(out->body, res->body, res->len);
        out->body[res->len] = '\0';
    } else {
        out->len = 0;
    }
    out->headers = copy_headers(res->headers);
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

int
outbound_perform(struct outbound_req *r, struct outbound_res *res)
{
    struct waiter w = {.done = 0, .res = res};
    memset(res, 0, sizeof *res);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    if (outbound_submit(r, on_perform_done, &w) != 0) {
        snprintf(res->error, sizeof res->error, "the outbound engine is not running or is full");
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cond);
        return -1;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cond);
    return res->status > 0 ? 0 : -1;
}

void
outbound_res_clear(struct outbound_res *res)
{
    if (res == NULL)
        return;
    wipe_free(res->body, res->len);
    for (size_t i = 0; res->headers != NULL && res->headers[i] != NULL; i++)
        free(res->headers[i]);
    free(res->headers);
    memset(res, 0, sizeof *res);
}
