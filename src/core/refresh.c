/* refresh.c -- token refresh: the job queue (one job per account, callers join it), the worker
 * pool, the lease-guarded refresh itself, and the background scheduler. */
#include "core/refresh.h"
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "common/timeutil.h"
#include "core/authcfg.h"
#include "core/credentials.h"
#include "core/events.h"
#include "oauth/oauth.h"

#define LEASE_MS 60000 /* longer than any refresh request may take */
#define REQUEST_TIMEOUT_MS 15000
#define BUSY_WAIT_MS 20000 /* how long a worker waits for another node's refresh */
#define QUEUE_MAX 10000
#define DUE_BATCH 200 /* accounts queued per scheduler tick */
#define BACKOFF_BASE_MS 5000
#define BACKOFF_MAX_MS (15 * 60 * 1000)
#define WORKERS_MAX 32

struct waiter {
    refresh_done_fn done;
    void *arg;
    struct waiter *next;
};

struct job {
    char account_id[STORE_ID];
    int64_t expires_before;
    int running;
    struct waiter *waiters;
    struct job *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* to the workers: a job was queued, or stopping */
    pthread_cond_t tick; /* to the scheduler: stopping */
    struct job *head, *tail;
    size_t n;
    int running;
    int nworkers;
    pthread_t workers[WORKERS_MAX];
    int have_scheduler;
    pthread_t scheduler;
    struct core *c;
    char key_dir[1024];
    time_t key_mtime;
    char node[48];
} R = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .tick = PTHREAD_COND_INITIALIZER};

const char *
refresh_node(void)
{
    return R.node;
}

int64_t
refresh_due_at(int64_t obtained_ms, int64_t expires_ms)
{
    if (expires_ms <= 0)
        return 0;
    int64_t margin = CRED_MARGIN_MS;
    if (obtained_ms > 0 && expires_ms > obtained_ms && (expires_ms - obtained_ms) / 3 < margin)
        margin = (expires_ms - obtained_ms) / 3;
    return expires_ms - margin;
}

/* ---- the queue ------------------------------------------------------------------------------- */

static struct job *
find_job(const char *account_id)
{
    for (struct job *j = R.head; j != NULL; j = j->next)
        if (strcmp(j->account_id, account_id) == 0)
            return j;
    return NULL;
}

int
refresh_request(const char *account_id, int64_t expires_before, refresh_done_fn done, void *arg)
{
    if (account_id == NULL || strlen(account_id) >= STORE_ID)
        return -1;
    struct waiter *w = NULL;
    if (done != NULL && (w = calloc(1, sizeof *w)) == NULL)
        return -1;
    if (w != NULL) {
        w->done = done;
        w->arg = arg;
    }
    pthread_mutex_lock(&R.mu);
    struct job *j = R.running ? find_job(account_id) : NULL;
    if (j == NULL && (!R.running || R.n >= QUEUE_MAX || (j = calloc(1, sizeof *j)) == NULL)) {
        pthread_mutex_unlock(&R.mu);
        free(w);
        return -1;
    }
    if (j->account_id[0] == '\0') {
        snprintf(j->account_id, sizeof j->account_id, "%s", account_id);
        j->expires_before = expires_before;
        if (R.tail)
            R.tail->next = j;
        else
            R.head = j;
        R.tail = j;
        R.n++;
        pthread_cond_signal(&R.cv);
    } else if (!j->running && expires_before > j->expires_before) {
        j->expires_before = expires_before;
    }
    if (w != NULL) {
        w->next = j->waiters;
        j->waiters = w;
    }
    pthread_mutex_unlock(&R.mu);
    return 0;
}

/* Removes j from the queue; the caller holds the lock. */
static void
unlink_job(struct job *j)
{
    struct job **pp = &R.head, *prev = NULL;
    while (*pp != NULL && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = j->next;
    if (R.tail == j)
        R.tail = prev;
    R.n--;
}

static void
settle(struct job *j, enum refresh_outcome outcome, const char *reason)
{
    pthread_mutex_lock(&R.mu);
    unlink_job(j);
    struct waiter *w = j->waiters;
    j->waiters = NULL;
    pthread_mutex_unlock(&R.mu);
    while (w != NULL) {
        struct waiter *next = w->next;
        w->done(w->arg, outcome, reason);
        free(w);
        w = next;
    }
    free(j);
}

/* ---- one refresh ----------------------------------------------------------------------------- */

struct ctx {
    struct core *c;
    char owner[STORE_OWNER];
    struct st_account a;
    int failures;
    char reason[300];
};

static int64_t
backoff(int failures)
{
    int64_t d = BACKOFF_BASE_MS;
    for (int i = 0; i < failures && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS)
        d = BACKOFF_MAX_MS;
    return d + (int64_t)randombytes_uniform((uint32_t)(d / 5 + 1)); /* spread retries out */
}

/* Records a failure (the lease is released) and announces it. */
static enum refresh_outcome
fail(struct ctx *x, int expire, int64_t retry_at)
{
    int rc =
        store_account_refresh_fail(x->c->store, x->a.id, x->owner, expire, x->reason, retry_at);
    if (rc != 0)
        log_warn("refresh.lost", "account=%s rc=%d", x->a.id, rc);
    char q[320];
    log_info(expire ? "account.expired" : "account.refresh_failed", "account=%s reason=%s", x->a.id,
             log_quote(x->reason, q, sizeof q));
    events_account_changed(x->c, x->a.id);
    return expire ? REFRESH_EXPIRED : REFRESH_RETRY;
}

static enum refresh_outcome
soft_fail(struct ctx *x)
{
    return fail(x, 0, time_now_ms() + backoff(x->failures));
}

/* Wipes the strings of a credentials object and drops it. */
static void
creds_free(json_t *j)
{
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    json_decref(j);
}

static int
is_grant_gone(const char *code)
{
    return strcmp(code, "invalid_grant") == 0 || strcmp(code, "unauthorized_client") == 0;
}

/* Seals the new credentials (keeping the old refresh token, scope and id token when the provider
 * sent none) and saves them under the lease. */
static enum refresh_outcome
save(struct ctx *x, json_t *old, const struct oauth_tokens *t)
{
    int64_t now = time_now_ms(), exp = t->expires_in > 0 ? now + t->expires_in * 1000 : 0;
    const char *rt = t->refresh_token ? t->refresh_token
                                      : json_string_value(json_object_get(old, "refresh_token"));
    const char *scope = t->scope ? t->scope : json_string_value(json_object_get(old, "scope"));
    const char *idt =
        t->id_token ? t->id_token : json_string_value(json_object_get(old, "id_token"));
    json_t *creds =
        json_pack("{ss ss* ss ss* ss* sI sI}", "access_token", t->access_token, "refresh_token", rt,
                  "token_type", t->token_type, "scope", scope, "id_token", idt, "obtained_at",
                  (json_int_t)now, "expires_at", (json_int_t)exp);
    json_t *data = json_loads(x->a.data ? x->a.data : "{}", 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    json_object_set_new(data, "expires_at", json_integer(exp));
    json_object_set_new(data, "token_type", json_string(t->token_type));
    json_object_set_new(data, "has_refresh_token", json_boolean(rt != NULL));
    if (scope)
        json_object_set_new(data, "scope", json_string(scope));
    char *text = creds ? json_dumps(creds, JSON_COMPACT) : NULL, *dtext = json_dumps(data, 0);
    creds_free(creds);
    json_decref(data);
    char ctx[STORE_ID + 4];
    snprintf(ctx, sizeof ctx, "ca|%s", x->a.id);
    unsigned char *sealed = NULL;
    size_t n = 0;
    int rc = text && dtext ? vault_seal(x->c->vault, ctx, text, strlen(text), &sealed, &n) : -1;
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    if (rc == 0)
        rc = store_account_refresh_save(x->c->store, x->a.id, x->owner, sealed, n, dtext, exp,
                                        refresh_due_at(now, exp));
    free(sealed);
    free(dtext);
    if (rc != 0) {
        /* The provider may have rotated the refresh token we could not save: say so loudly. */
        log_error("refresh.save_failed", "account=%s rc=%d", x->a.id, rc);
        snprintf(x->reason, sizeof x->reason, "the refreshed token could not be saved");
        return REFRESH_RETRY;
    }
    log_info("account.refreshed", "account=%s expires_in_s=%lld", x->a.id,
             (long long)t->expires_in);
    events_account_changed(x->c, x->a.id);
    return REFRESH_DONE;
}

/* The token request for the claimed account, or NULL with x->reason and *expire set. */
static struct outbound_req *
build_request(struct ctx *x, json_t *creds, int *expire)
{
    const struct catalog_toolkit *t = catalog_get(x->a.toolkit);
    struct st_auth_config ac = {0};
    const struct catalog_scheme *s = NULL;
    if (t != NULL &&
        store_auth_config_get(x->c->store, x->a.project_id, x->a.auth_config_id, &ac) == 0)
        s = catalog_scheme(t, ac.auth_scheme);
    const char *rt = json_string_value(json_object_get(creds, "refresh_token"));
    struct outbound_req *r = NULL;
    *expire = 0;
    if (s == NULL || s->type != CATALOG_OAUTH2) {
        snprintf(x->reason, sizeof x->reason, "the account's auth scheme cannot be refreshed");
    } else if (rt == NULL || rt[0] == '\0') {
        snprintf(x->reason, sizeof x->reason,
                 "the access token expired and the provider issued no refresh token");
        *expire = x->a.expires_at > 0 && time_now_ms() >= x->a.expires_at;
    } else {
        struct authcfg_client cl;
        struct err e;
        if (authcfg_client(x->c, &ac, s, &cl, &e) != 0) {
            snprintf(x->reason, sizeof x->reason, "%s", e.message);
        } else {
            struct oauth_client oc = {cl.client_id, cl.secret, x->c->redirect_uri};
            json_t *d = json_loads(x->a.data ? x->a.data : "{}", 0, NULL);
            r = oauth_refresh_request(s, &oc, rt, json_object_get(d, "fields"));
            json_decref(d);
            authcfg_client_clear(&cl);
            if (r == NULL)
                snprintf(x->reason, sizeof x->reason, "the token request could not be built");
        }
    }
    st_auth_config_clear(&ac);
    if (r != NULL) {
        r->timeout_ms = REQUEST_TIMEOUT_MS;
        r->follow_redirects = 0;
    }
    return r;
}

/* Runs the refresh of a claimed account. */
static enum refresh_outcome
run_claimed(struct ctx *x)
{
    json_t *creds = credentials_open(x->c, &x->a);
    if (creds == NULL) {
        snprintf(x->reason, sizeof x->reason, "the credentials cannot be opened");
        return fail(x, 0, time_now_ms() + BACKOFF_MAX_MS);
    }
    int expire = 0;
    struct outbound_req *r = build_request(x, creds, &expire);
    if (r == NULL) {
        creds_free(creds);
        return fail(x, expire,
                    expire                ? 0
                    : x->a.expires_at > 0 ? x->a.expires_at
                                          : time_now_ms() + BACKOFF_MAX_MS);
    }
    struct outbound_res res;
    int rc = outbound_perform(r, &res);
    struct oauth_tokens t = {0};
    char code[64] = "", detail[200] = "";
    enum refresh_outcome out;
    if (rc != 0) {
        snprintf(x->reason, sizeof x->reason, "the token endpoint did not answer: %s",
                 res.timed_out ? "timed out" : res.error);
        out = soft_fail(x);
    } else if (oauth_parse_token_response(&res, &t, code, sizeof code, detail, sizeof detail) ==
               0) {
        out = save(x, creds, &t);
    } else {
        snprintf(x->reason, sizeof x->reason, "refresh refused: %s: %.200s", code, detail);
        out = res.status >= 400 && res.status < 500 && is_grant_gone(code) ? fail(x, 1, 0)
                                                                           : soft_fail(x);
    }
    oauth_tokens_clear(&t);
    if (res.body)
        sodium_memzero(res.body, res.len);
    outbound_res_clear(&res);
    creds_free(creds);
    return out;
}

/* Why the claim failed, from a fresh read: gone, not ACTIVE, or no longer needed (0 then means
 * someone else holds the lease). */
static int
why_unclaimed(struct core *c, const char *id, int64_t expires_before, enum refresh_outcome *out,
              char *reason, size_t len)
{
    struct st_account a = {0};
    if (store_account_get_any(c->store, id, &a) != 0) {
        snprintf(reason, len, "the account no longer exists");
        *out = REFRESH_UNAVAILABLE;
        return 1;
    }
    int decided = 1;
    if (strcmp(a.status, "EXPIRED") == 0) {
        snprintf(reason, len, "%s", a.status_reason ? a.status_reason : "expired");
        *out = REFRESH_EXPIRED;
    } else if (strcmp(a.status, "ACTIVE") != 0) {
        snprintf(reason, len, "the account is %s", a.status);
        *out = REFRESH_UNAVAILABLE;
    } else if (a.expires_at >= expires_before) {
        *out = REFRESH_NOT_NEEDED;
    } else {
        decided = 0;
    }
    st_account_clear(&a);
    return decided;
}

static enum refresh_outcome
run_job(struct core *c, const char *owner, const struct job *j, char *reason, size_t len)
{
    struct ctx x = {.c = c};
    snprintf(x.owner, sizeof x.owner, "%s", owner);
    int64_t give_up = time_mono_ms() + BUSY_WAIT_MS;
    enum refresh_outcome out = REFRESH_UNAVAILABLE;
    reason[0] = '\0';
    for (;;) {
        int rc = store_account_refresh_claim(c->store, j->account_id, owner, time_now_ms(),
                                             LEASE_MS, j->expires_before, &x.a, &x.failures);
        if (rc == 0)
            break;
        if (rc != STORE_NOTFOUND) {
            snprintf(reason, len, "the store failed");
            return REFRESH_RETRY;
        }
        if (why_unclaimed(c, j->account_id, j->expires_before, &out, reason, len))
            return out;
        if (time_mono_ms() > give_up || !__atomic_load_n(&R.running, __ATOMIC_ACQUIRE)) {
            snprintf(reason, len, "another refresh of this account is still running");
            return REFRESH_RETRY;
        }
        usleep(100 * 1000); /* another node holds the lease: wait for its outcome */
    }
    out = run_claimed(&x);
    snprintf(reason, len, "%s", x.reason);
    st_account_clear(&x.a);
    return out;
}

static void *
worker_main(void *arg)
{
    char owner[STORE_OWNER];
    snprintf(owner, sizeof owner, "%s/w%d", R.node, (int)(intptr_t)arg);
    pthread_mutex_lock(&R.mu);
    for (;;) {
        struct job *j = NULL;
        while (R.running) {
            for (j = R.head; j != NULL && j->running; j = j->next)
                ;
            if (j != NULL)
                break;
            pthread_cond_wait(&R.cv, &R.mu);
        }
        if (!R.running)
            break;
        j->running = 1;
        pthread_mutex_unlock(&R.mu);
        char reason[300];
        enum refresh_outcome out = run_job(R.c, owner, j, reason, sizeof reason);
        settle(j, out, reason);
        pthread_mutex_lock(&R.mu);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

/* ---- the scheduler --------------------------------------------------------------------------- */

/* Picks up a master.key rewritten by `tether vault rotate`. */
static void
watch_key(void)
{
    if (R.key_dir[0] == '\0')
        return;
    char path[1100], err[256];
    snprintf(path, sizeof path, "%s/master.key", R.key_dir);
    struct stat st;
    if (stat(path, &st) != 0 || st.st_mtime == R.key_mtime)
        return;
    int added = 0;
    if (vault_reload(R.c->vault, R.key_dir, &added, err, sizeof err) != 0) {
        log_warn("vault.reload_failed", "err=\"%s\"", err);
    } else if (added > 0) {
        log_info("vault.reloaded", "keys_added=%d sealing_kid=%u", added,
                 (unsigned)vault_current_kid(R.c->vault));
    }
    R.key_mtime = st.st_mtime;
}

static void
schedule_due(void)
{
    char(*ids)[STORE_ID] = NULL;
    size_t n = 0;
    int64_t now = time_now_ms();
    if (store_account_refresh_due(R.c->store, now + CRED_MARGIN_MS, now, DUE_BATCH, &ids, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct st_account a = {0};
        if (store_account_get_any(R.c->store, ids[i], &a) == 0 && a.expires_at > 0)
            refresh_request(ids[i], a.expires_at + 1, NULL, NULL); /* unless replaced meanwhile */
        st_account_clear(&a);
    }
    free(ids);
}

static void *
scheduler_main(void *arg)
{
    int background = (int)(intptr_t)arg;
    pthread_mutex_lock(&R.mu);
    while (R.running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&R.tick, &R.mu, &ts);
        if (!R.running)
            break;
        pthread_mutex_unlock(&R.mu);
        watch_key();
        if (background)
            schedule_due();
        pthread_mutex_lock(&R.mu);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

int
refresh_start(struct core *c, const struct refresh_options *o)
{
    char host[32] = "node";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(R.node, sizeof R.node, "%.20s-%d-%08x", host, (int)getpid(), randombytes_random());
    R.c = c;
    R.nworkers = o && o->workers > 0 ? (o->workers > WORKERS_MAX ? WORKERS_MAX : o->workers) : 4;
    snprintf(R.key_dir, sizeof R.key_dir, "%s", o && o->key_dir ? o->key_dir : "");
    struct stat st;
    char path[1100];
    snprintf(path, sizeof path, "%s/master.key", R.key_dir);
    R.key_mtime = R.key_dir[0] && stat(path, &st) == 0 ? st.st_mtime : 0;
    R.running = 1;
    int started = 0;
    for (; started < R.nworkers; started++)
        if (pthread_create(&R.workers[started], NULL, worker_main, (void *)(intptr_t)started) != 0)
            break;
    R.nworkers = started;
    int background = o == NULL || o->background;
    R.have_scheduler =
        pthread_create(&R.scheduler, NULL, scheduler_main, (void *)(intptr_t)background) == 0;
    if (started == 0 || !R.have_scheduler) {
        refresh_stop();
        return -1;
    }
    return 0;
}

void
refresh_stop(void)
{
    pthread_mutex_lock(&R.mu);
    int was = R.running;
    R.running = 0;
    pthread_cond_broadcast(&R.cv);
    pthread_cond_broadcast(&R.tick);
    pthread_mutex_unlock(&R.mu);
    if (!was && R.nworkers == 0)
        return;
    for (int i = 0; i < R.nworkers; i++)
        pthread_join(R.workers[i], NULL);
    R.nworkers = 0;
    if (R.have_scheduler)
        pthread_join(R.scheduler, NULL);
    R.have_scheduler = 0;
    /* settle whatever is still queued */
    for (;;) {
        pthread_mutex_lock(&R.mu);
        struct job *j = R.head;
        pthread_mutex_unlock(&R.mu);
        if (j == NULL)
            break;
        settle(j, REFRESH_UNAVAILABLE, "shutting down");
    }
}
