/* http.c -- the library's one way to talk to the server: a JSON request over a curl easy handle
 * taken from the client's pool (keeping its connections open for the next call; DNS and TLS
 * sessions shared through the client's CURLSH), an answer capped at TETHER__MAX_BODY, and every
 * failure turned into a TETHER_E* code with the thread's detail. */
#include <stdlib.h>
#include <string.h>

#include "tether_int.h"

struct reply {
    struct tether__str body;
    int too_big;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct reply *r = userdata;
    size_t n = size * nmemb;
    if (tether__str_add(&r->body, data, n) != 0) {
        r->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return n;
}

/* Headers for a request; NULL when memory ran out. Caller frees with curl_slist_free_all. */
static struct curl_slist *
make_headers(const tether_client *c, int has_body)
{
    struct tether__str key;
    tether__str_init(&key, TETHER__MAX_ARG + 32);
    if (tether__str_printf(&key, "x-api-key: %s", c->api_key) != 0)
        return NULL;
    struct curl_slist *h = curl_slist_append(NULL, key.p);
    explicit_bzero(key.p, key.len);
    tether__str_free(&key);
    struct curl_slist *next = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    if (next != NULL && has_body)
        next = curl_slist_append(next, "Content-Type: application/json");
    if (next == NULL) {
        curl_slist_free_all(h);
        return NULL;
    }
    return next;
}

static int
fail_transport(const tether_client *c, CURLcode cc, const char *errbuf, const struct reply *r,
               long timeout_ms)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_OUT_OF_MEMORY:
        return tether__fail(TETHER_ENOMEM, "out of memory in a request to %s", c->base_url);
    case CURLE_WRITE_ERROR:
        if (r->too_big)
            return tether__fail(TETHER_ETOOBIG, "the answer from %s is larger than %u bytes",
                                c->base_url, TETHER__MAX_BODY);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        return tether__fail(TETHER_ETIMEOUT, "no answer from %s within %ld ms", c->base_url,
                            timeout_ms);
    default:
        break;
    }
    return tether__fail(TETHER_EUNREACHABLE, "cannot reach the server at %s: %s", c->base_url, why);
}

/* Parses a 2xx answer. Empty → {}. */
static int
parse_ok(const struct reply *r, const char *method, const char *path, json_t **out)
{
    if (r->body.len == 0) {
        *out = json_object();
        return *out ? 0 : tether__fail(TETHER_ENOMEM, "out of memory");
    }
    json_error_t jerr;
    json_t *j = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return tether__fail(TETHER_EPROTOCOL, "%s %s: the answer is not JSON (%s)", method, path,
                            jerr.text);
    *out = j;
    return 0;
}

static int
set_options(CURL *h, const tether_client *c, const char *method, const char *url,
            const char *payload, struct curl_slist *hdrs, struct reply *r, char *errbuf,
            long timeout_ms)
{
    CURLcode cc = CURLE_OK;
    cc |= curl_easy_setopt(h, CURLOPT_URL, url);
    cc |= curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    cc |= curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    cc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    cc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    cc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    cc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (payload != NULL)
        cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    else if (strcmp(method, "GET") == 0)
        cc |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    return cc == CURLE_OK ? 0 : -1;
}

static int
build_url(const tether_client *c, const char *path, const char *query, struct tether__str *url)
{
    tether__str_init(url, TETHER__MAX_URL);
    if (tether__str_printf(url, "%s%s%s", c->base_url, TETHER__API_PREFIX, path) != 0 ||
        (query != NULL && query[0] && tether__str_printf(url, "?%s", query) != 0))
        return tether__fail(TETHER_EINVAL, "the request URL is longer than %d bytes",
                            TETHER__MAX_URL);
    return 0;
}

/* Performs the prepared request and turns the outcome into a code. */
static int
perform(CURL *h, const tether_client *c, const char *method, const char *path, struct reply *r,
        const char *errbuf, long timeout_ms, json_t **out)
{
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK)
        return fail_transport(c, cc, errbuf, r, timeout_ms);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return parse_ok(r, method, path, out);
    json_t *body = r->body.len ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    int rc = tether__fail_http(status, body, method, path);
    json_decref(body);
    return rc;
}

/* An easy handle for one request: an idle one from the pool (with its open connections), or a
 * new one. NULL when memory ran out. */
static CURL *
handle_get(tether_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_mu);
    if (c->npool > 0)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->pool_mu);
    return h ? h : curl_easy_init();
}

/* Returns h to the pool, or cleans it up when the pool is full. Accepts NULL. */
static void
handle_put(tether_client *c, CURL *h)
{
    if (h == NULL)
        return;
    curl_easy_reset(h);
    pthread_mutex_lock(&c->pool_mu);
    if (c->npool < TETHER__POOL) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_mu);
    if (h != NULL)
        curl_easy_cleanup(h);
}

int
tether__request(tether_client *c, const char *method, const char *path, const char *query,
                json_t *body, long extra_timeout_ms, json_t **out)
{
    struct tether__str url;
    int rc = build_url(c, path, query, &url);
    if (rc != 0)
        return rc;
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdrs = make_headers(c, body != NULL);
    CURL *h = handle_get(c);
    struct reply r = {.too_big = 0};
    tether__str_init(&r.body, TETHER__MAX_BODY);
    char errbuf[CURL_ERROR_SIZE] = "";
    long timeout_ms = c->request_timeout_ms + (extra_timeout_ms > 0 ? extra_timeout_ms : 0);

    if ((body != NULL && payload == NULL) || hdrs == NULL || h == NULL)
        rc = tether__fail(TETHER_ENOMEM, "out of memory preparing %s %s", method, path);
    else if (set_options(h, c, method, url.p, payload, hdrs, &r, errbuf, timeout_ms) != 0)
        rc = tether__fail(TETHER_ENOMEM, "cannot set up the request %s %s", method, path);
    else
        rc = perform(h, c, method, path, &r, errbuf, timeout_ms, out);

    handle_put(c, h);
    curl_slist_free_all(hdrs);
    free(payload);
    tether__str_free(&r.body);
    tether__str_free(&url);
    return rc;
}
