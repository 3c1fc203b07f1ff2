/* webhooks.c -- webhook endpoints, signing, and the outbox delivery thread. */
#include "core/webhooks.h"
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/url.h"
#include "core/refresh.h"
#include "outbound/outbound.h"

#define CLAIM_BATCH 32
#define LEASE_MS 60000
#define SEND_TIMEOUT_MS 10000
#define RETRY_MAX_MS (3600 * 1000LL)
#define SECRET_BYTES 24

const char *const WEBHOOK_EVENT_TYPES[] = {
    "account.initiated", "account.active",   "account.failed",         "account.expired",
    "account.refreshed", "account.refresh_failed", "account.disabled", "account.enabled",
    "account.deleted",   "account.inactive", "account.revoked",        NULL};

/* ---- endpoints ------------------------------------------------------------------------------- */

static int
known_type(const char *t)
{
    for (size_t i = 0; WEBHOOK_EVENT_TYPES[i] != NULL; i++)
        if (strcmp(t, WEBHOOK_EVENT_TYPES[i]) == 0)
            return 1;
    return 0;
}

/* The filter as compact JSON text (malloc'd), or NULL with e. */
static char *
filter_text(const json_t *events, struct err *e)
{
    if (events != NULL && !json_is_array(events)) {
        err_set(e, ERR_VALIDATION, "'events' must be an array of event types");
        return NULL;
    }
    json_t *norm = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v) {
        const char *t = json_string_value(v);
        if (t == NULL || !known_type(t)) {
            json_decref(norm);
            err_set(e, ERR_VALIDATION, "'events[%zu]' is not a known event type", i);
            err_fix(e, "use account.active, account.expired, account.refreshed, ... "
                       "(docs/webhooks.md)");
            return NULL;
        }
        int dup = 0;
        size_t k;
        json_t *w;
        json_array_foreach(norm, k, w) dup |= strcmp(json_string_value(w), t) == 0;
        if (!dup)
            json_array_append_new(norm, json_string(t));
    }
    char *text = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    if (text == NULL)
        err_set(e, ERR_INTERNAL, "out of memory");
    return text;
}

static int
check_url(const char *url, struct err *e)
{
    char why[160];
    if (url == NULL || strlen(url) > 2048)
        return err_set(e, ERR_VALIDATION, "'url' must be an http(s) URL of at most 2048 bytes");
    if (url_check_callback(url, why, sizeof why) != 0)
        return err_set(e, ERR_VALIDATION, "'url': %s", why);
    return 0;
}

/* A fresh "whsec_..." secret sealed for endpoint id. */
static int
new_secret(struct core *c, const char *id, char secret[WEBHOOK_SECRET_MAX], unsigned char **enc,
           size_t *len)
{
    unsigned char raw[SECRET_BYTES];
    randombytes_buf(raw, sizeof raw);
    memcpy(secret, "whsec_", 6);
    sodium_bin2base64(secret + 6, WEBHOOK_SECRET_MAX - 6, raw, sizeof raw,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof raw);
    char ctx[STORE_ID + 4];
    snprintf(ctx, sizeof ctx, "wh|%s", id);
    return vault_seal(c->vault, ctx, secret, strlen(secret), enc, len);
}

int
webhooks_create(struct core *c, const char *project_id, const char *url, const json_t *events,
                int disabled, struct st_webhook *out, char secret[WEBHOOK_SECRET_MAX],
                struct err *e)
{
    if (check_url(url, e) != 0)
        return -1;
    char *filter = filter_text(events, e);
    if (filter == NULL)
        return -1;
    struct st_webhook w = {.url = (char *)url, .events = filter, .disabled = disabled};
    ids_new(w.id, sizeof w.id, "we_");
    snprintf(w.project_id, sizeof w.project_id, "%s", project_id);
    int rc = new_secret(c, w.id, secret, &w.secret_enc, &w.secret_len);
    if (rc == 0)
        rc = store_webhook_create(c->store, &w);
    free(w.secret_enc);
    free(filter);
    if (rc == STORE_CONFLICT)
        return err_set(e, ERR_CONFLICT, "a project has at most %d webhook endpoints",
                       STORE_WEBHOOKS_MAX);
    if (rc != 0)
        return err_set(e, ERR_INTERNAL, "cannot store the webhook endpoint");
    return core_store_err(store_webhook_get(c->store, project_id, w.id, out), e, ERR_NOT_FOUND,
                          "webhook", w.id);
}

int
webhooks_update(struct core *c, const char *project_id, const char *id, const char *url,
                const json_t *events, int disabled, struct st_webhook *out, struct err *e)
{
    struct st_webhook w = {0};
    int rc = store_webhook_get(c->store, project_id, id, &w);
    if (rc != 0)
        return core_store_err(rc, e, ERR_NOT_FOUND, "webhook", id);
    char *filter = NULL;
    if ((url != NULL && check_url(url, e) != 0) ||
        (events != NULL && (filter = filter_text(events, e)) == NULL)) {
        st_webhook_clear(&w);
        return -1;
    }
    struct st_webhook u = w;
    u.url = url ? (char *)url : w.url;
    u.events = filter ? filter : w.events;
    u.disabled = disabled >= 0 ? disabled : w.disabled;
    u.secret_enc = NULL;
    u.secret_len = 0;
    rc = store_webhook_update(c->store, &u);
    free(filter);
    st_webhook_clear(&w);
    if (rc == 0)
        rc = store_webhook_get(c->store, project_id, id, out);
    return core_store_err(rc, e, ERR_NOT_FOUND, "webhook", id);
}

int
webhooks_rotate_secret(struct core *c, const char *project_id, const char *id,
                       char secret[WEBHOOK_SECRET_MAX], struct err *e)
{
    struct st_webhook w = {0};
    int rc = store_webhook_get(c->store, project_id, id, &w);
    if (rc != 0)
        return core_store_err(rc, e, ERR_NOT_FOUND, "webhook", id);
    struct st_webhook u = w;
    u.secret_enc = NULL;
    u.prev_secret_enc = NULL;
    u.prev_secret_len = 0;
    u.prev_until = time_now_ms() + WEBHOOK_PREV_SECRET_MS;
    rc = new_secret(c, id, secret, &u.secret_enc, &u.secret_len);
    if (rc == 0)
        rc = store_webhook_update(c->store, &u);
    free(u.secret_enc);
    st_webhook_clear(&w);
    return core_store_err(rc, e, ERR_NOT_FOUND, "webhook", id);
}

/* ---- signing and payloads -------------------------------------------------------------------- */

int
webhooks_sign(const char *secret, const char *msg_id, int64_t ts_s, const char *body, size_t len,
              char *out, size_t outlen)
{
    const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    unsigned char key[128], mac[crypto_auth_hmacsha256_BYTES];
    size_t klen = 0;
    if (sodium_base642bin(key, sizeof key, b64, strlen(b64), NULL, &klen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        klen == 0)
        return -1;
    char prefix[160];
    int n = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, (long long)ts_s);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(key, sizeof key);
    sodium_memzero(&st, sizeof st);
    if (outlen < 4 + sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL))
        return -1;
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, outlen - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

json_t *
webhooks_payload(struct core *c, const struct st_event *ev)
{
    char when[32];
    time_iso8601(ev->at, when);
    json_t *data = json_pack("{ss ss ss ss ss*}", "id", ev->account_id, "connected_account_id",
                             ev->account_id, "project_id", ev->project_id, "status", ev->status,
                             "status_reason", ev->reason);
    struct st_account a = {0};
    if (store_account_get_any(c->store, ev->account_id, &a) == 0) {
        json_object_set_new(data, "toolkit", json_pack("{ss}", "slug", a.toolkit));
        json_object_set_new(data, "user_id", json_string(a.user_id));
        json_object_set_new(data, "auth_config_id", json_string(a.auth_config_id));
        if (a.alias)
            json_object_set_new(data, "alias", json_string(a.alias));
    }
    st_account_clear(&a);
    json_t *detail = ev->detail ? json_loads(ev->detail, 0, NULL) : NULL;
    if (json_is_object(detail))
        json_object_update(data, detail);
    json_decref(detail);
    char id[40];
    snprintf(id, sizeof id, "evt_%lld", (long long)ev->seq);
    return json_pack("{ss ss ss so}", "id", id, "type", ev->type, "timestamp", when, "data", data);
}

/* ---- the delivery thread --------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* kicks and stop */
    pthread_cond_t done_cv; /* outbound results */
    int running;
    int kicked;
    int started;
    pthread_t thread;
    struct core *c;
    int64_t base_ms;
    char owner[STORE_OWNER];
} W = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
       .done_cv = PTHREAD_COND_INITIALIZER};

struct attempt {
    struct st_delivery *d;
    int finished;
    long status;
    char error[200];
    int *pending;
};

static void
on_sent(void *arg, const struct outbound_res *res)
{
    struct attempt *a = arg;
    pthread_mutex_lock(&W.mu);
    a->status = res->status;
    if (res->status == 0)
        snprintf(a->error, sizeof a->error, "%.190s", res->timed_out ? "timed out" : res->error);
    else if (res->status < 200 || res->status > 299)
        snprintf(a->error, sizeof a->error, "HTTP %ld", res->status);
    a->finished = 1;
    (*a->pending)--;
    pthread_cond_broadcast(&W.done_cv);
    pthread_mutex_unlock(&W.mu);
}

/* Adds the signature header (one "v1,..." per live secret); -1 when no secret opens. */
static int
sign_request(struct core *c, const struct st_webhook *w, const char *msg_id, int64_t ts,
             const char *body, size_t len, struct outbound_req *r)
{
    char ctx[STORE_ID + 4], header[400] = "";
    snprintf(ctx, sizeof ctx, "wh|%s", w->id);
    const unsigned char *enc[2] = {w->secret_enc, w->prev_secret_enc};
    size_t elen[2] = {w->secret_len, w->prev_secret_len};
    int live[2] = {1, w->prev_secret_enc != NULL && w->prev_until > time_now_ms()};
    size_t used = 0;
    for (int i = 0; i < 2; i++) {
        char *secret = NULL, sig[120];
        size_t n = 0;
        if (!live[i] || enc[i] == NULL || vault_unseal(c->vault, ctx, enc[i], elen[i], &secret,
                                                       &n) != 0)
            continue;
        if (webhooks_sign(secret, msg_id, ts, body, len, sig, sizeof sig) == 0)
            used += (size_t)snprintf(header + used, sizeof header - used, "%s%s",
                                     used ? " " : "", sig);
        vault_free_secret(secret, n);
    }
    if (used == 0)
        return -1;
    return outbound_req_header(r, "webhook-signature: %s", header);
}

/* The signed request for d, or NULL with why. */
static struct outbound_req *
build(struct core *c, const struct st_delivery *d, char *why, size_t whylen)
{
    struct st_webhook w = {0};
    if (store_webhook_get(c->store, d->project_id, d->endpoint_id, &w) != 0) {
        snprintf(why, whylen, "the endpoint is gone");
        return NULL;
    }
    json_t *p = webhooks_payload(c, &d->event);
    char *body = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    char msg_id[40];
    snprintf(msg_id, sizeof msg_id, "msg_%lld", (long long)d->event.seq);
    int64_t ts = time_now_ms() / 1000;
    struct outbound_req *r = body && !w.disabled ? outbound_req_new("POST", w.url) : NULL;
    if (r != NULL) {
        outbound_req_body(r, body, strlen(body));
        outbound_req_header(r, "Content-Type: application/json");
        outbound_req_header(r, "User-Agent: tether-webhooks");
        outbound_req_header(r, "webhook-id: %s", msg_id);
        outbound_req_header(r, "webhook-timestamp: %lld", (long long)ts);
        if (sign_request(c, &w, msg_id, ts, body, strlen(body), r) != 0) {
            outbound_req_free(r);
            r = NULL;
            snprintf(why, whylen, "the endpoint's secret cannot be opened");
        }
        if (r != NULL) {
            r->timeout_ms = SEND_TIMEOUT_MS;
            r->follow_redirects = 0;
        }
    } else {
        snprintf(why, whylen, w.disabled ? "the endpoint is disabled" : "out of memory");
    }
    free(body);
    st_webhook_clear(&w);
    return r;
}

static int64_t
retry_at(const struct st_delivery *d, int64_t now)
{
    int64_t delay = W.base_ms;
    for (int i = 0; i < d->attempts && delay < RETRY_MAX_MS; i++)
        delay *= 2;
    if (delay > RETRY_MAX_MS)
        delay = RETRY_MAX_MS;
    delay += (int64_t)randombytes_uniform((uint32_t)(delay / 10 + 1));
    int64_t at = now + delay;
    return at - d->created_at > WEBHOOK_RETRY_WINDOW_MS ? 0 : at; /* 0: give up */
}

/* Sends one claimed batch concurrently and records each outcome. */
static void
deliver(struct core *c, struct st_delivery *ds, size_t n)
{
    struct attempt *as = calloc(n, sizeof *as);
    if (as == NULL)
        return; /* the leases lapse and the deliveries are claimed again */
    int pending = 0;
    for (size_t i = 0; i < n; i++) {
        as[i].d = &ds[i];
        as[i].pending = &pending;
        struct outbound_req *r = build(c, &ds[i], as[i].error, sizeof as[i].error);
        if (r == NULL) {
            as[i].finished = 1;
            continue;
        }
        pthread_mutex_lock(&W.mu);
        pending++;
        pthread_mutex_unlock(&W.mu);
        if (outbound_submit(r, on_sent, &as[i]) != 0) {
            pthread_mutex_lock(&W.mu);
            pending--;
            as[i].finished = 1;
            snprintf(as[i].error, sizeof as[i].error, "the outbound engine is not running");
            pthread_mutex_unlock(&W.mu);
        }
    }
    pthread_mutex_lock(&W.mu);
    while (pending > 0)
        pthread_cond_wait(&W.done_cv, &W.mu);
    pthread_mutex_unlock(&W.mu);
    int64_t now = time_now_ms();
    for (size_t i = 0; i < n; i++) {
        int ok = as[i].status >= 200 && as[i].status <= 299;
        int64_t next = ok ? 0 : retry_at(&ds[i], now);
        if (store_delivery_finish(c->store, ds[i].seq, W.owner, ok, as[i].status,
                                  ok ? NULL : as[i].error, next) != 0)
            log_warn("webhook.lost_lease", "delivery=%lld", (long long)ds[i].seq);
        char q[220];
        log_msg(ok ? LOG_DEBUG : LOG_INFO, ok ? "webhook.delivered" : "webhook.failed",
                "delivery=%lld endpoint=%s type=%s status=%ld error=%s retry=%s",
                (long long)ds[i].seq, ds[i].endpoint_id, ds[i].event.type, as[i].status,
                log_quote(ok ? "" : as[i].error, q, sizeof q),
                ok ? "no" : next ? "yes" : "gave up");
    }
    free(as);
}

static void *
delivery_main(void *arg)
{
    struct core *c = arg;
    for (;;) {
        pthread_mutex_lock(&W.mu);
        int running = W.running;
        pthread_mutex_unlock(&W.mu);
        if (!running)
            break;
        struct st_delivery *ds = NULL;
        size_t n = 0;
        if (store_delivery_claim(c->store, W.owner, time_now_ms(), LEASE_MS, CLAIM_BATCH, &ds,
                                 &n) == 0 &&
            n > 0) {
            deliver(c, ds, n);
            for (size_t i = 0; i < n; i++)
                st_delivery_clear(&ds[i]);
            free(ds);
            continue;
        }
        free(ds);
        pthread_mutex_lock(&W.mu);
        if (W.running && !W.kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 500 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&W.cv, &W.mu, &ts);
        }
        W.kicked = 0;
        pthread_mutex_unlock(&W.mu);
    }
    return NULL;
}

int
webhooks_start(struct core *c, int64_t retry_base_ms)
{
    W.c = c;
    W.base_ms = retry_base_ms > 0 ? retry_base_ms : 2000;
    snprintf(W.owner, sizeof W.owner, "%s/webhooks", refresh_node()[0] ? refresh_node() : "node");
    W.running = 1;
    W.started = pthread_create(&W.thread, NULL, delivery_main, c) == 0;
    if (!W.started)
        W.running = 0;
    return W.started ? 0 : -1;
}

void
webhooks_stop(void)
{
    pthread_mutex_lock(&W.mu);
    W.running = 0;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
    if (W.started)
        pthread_join(W.thread, NULL);
    W.started = 0;
}

void
webhooks_kick(void)
{
    pthread_mutex_lock(&W.mu);
    W.kicked = 1;
    pthread_cond_signal(&W.cv);
    pthread_mutex_unlock(&W.mu);
}
