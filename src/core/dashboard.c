/* dashboard.c -- the dashboard's in-memory session table (see dashboard.h for the trade-offs).
 * One mutex guards a fixed array; a lookup scans it, which at DASHBOARD_MAX_SESSIONS entries of
 * 32-byte hashes costs a few microseconds and keeps the code obviously correct. */
#include "core/dashboard.h"
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include "common/ids.h"
#include "common/timeutil.h"
#include "core/projects.h"

struct entry {
    int used;
    unsigned char token_hash[VAULT_HASH_LEN];
    unsigned char key_hash[VAULT_HASH_LEN]; /* the API key it was opened with */
    struct dashboard_session s;
    int64_t last_used;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[DASHBOARD_MAX_SESSIONS];

static int
expired(const struct entry *x, int64_t now)
{
    return now >= x->s.expires_at || now - x->last_used >= DASHBOARD_IDLE_MS;
}

/* A free slot: an unused or expired one, else the one used least recently. Caller holds mu. */
static struct entry *
slot_for_new(int64_t now)
{
    struct entry *oldest = &table[0];
    for (size_t i = 0; i < DASHBOARD_MAX_SESSIONS; i++) {
        struct entry *x = &table[i];
        if (!x->used || expired(x, now))
            return x;
        if (x->last_used < oldest->last_used)
            oldest = x;
    }
    return oldest;
}

/* The live entry whose token hash is h, or NULL. Caller holds mu. */
static struct entry *
find(const unsigned char h[VAULT_HASH_LEN], int64_t now)
{
    for (size_t i = 0; i < DASHBOARD_MAX_SESSIONS; i++) {
        struct entry *x = &table[i];
        if (x->used && sodium_memcmp(x->token_hash, h, VAULT_HASH_LEN) == 0) {
            if (!expired(x, now))
                return x;
            sodium_memzero(x, sizeof *x);
            return NULL;
        }
    }
    return NULL;
}

int
dashboard_signin(struct core *c, const char *api_key, char token[DASHBOARD_TOKEN_MAX],
                 struct dashboard_session *out, struct err *e)
{
    char pid[STORE_ID];
    if (projects_authenticate(c, api_key, pid, e) != 0)
        return -1;
    struct entry x = {.used = 1};
    vault_hash(c->vault, api_key, x.key_hash);
    ids_token(token, DASHBOARD_TOKEN_MAX, "ds_");
    vault_hash(c->vault, token, x.token_hash);
    memcpy(x.s.project_id, pid, sizeof x.s.project_id);
    ids_token(x.s.csrf, sizeof x.s.csrf, "");
    x.last_used = time_now_ms();
    x.s.expires_at = x.last_used + DASHBOARD_TTL_MS;
    pthread_mutex_lock(&mu);
    *slot_for_new(x.last_used) = x;
    pthread_mutex_unlock(&mu);
    *out = x.s;
    sodium_memzero(&x, sizeof x);
    return 0;
}

int
dashboard_lookup(struct core *c, const char *token, struct dashboard_session *out)
{
    if (token == NULL || !ids_valid(token, "ds_") || strlen(token) >= DASHBOARD_TOKEN_MAX)
        return -1;
    unsigned char h[VAULT_HASH_LEN], key_hash[VAULT_HASH_LEN];
    vault_hash(c->vault, token, h);
    int64_t now = time_now_ms();
    struct dashboard_session s;
    pthread_mutex_lock(&mu);
    struct entry *x = find(h, now);
    if (x != NULL) {
        x->last_used = now;
        s = x->s;
        memcpy(key_hash, x->key_hash, sizeof key_hash);
    }
    pthread_mutex_unlock(&mu);
    if (x == NULL)
        return -1;
    struct st_api_key k = {0};
    if (store_key_lookup(c->store, key_hash, &k) != 0 || strcmp(k.project_id, s.project_id) != 0) {
        dashboard_signout(c, token); /* the key was revoked: so is the session */
        return -1;
    }
    *out = s;
    return 0;
}

void
dashboard_signout(struct core *c, const char *token)
{
    if (token == NULL || strlen(token) >= DASHBOARD_TOKEN_MAX)
        return;
    unsigned char h[VAULT_HASH_LEN];
    vault_hash(c->vault, token, h);
    pthread_mutex_lock(&mu);
    struct entry *x = find(h, time_now_ms());
    if (x != NULL)
        sodium_memzero(x, sizeof *x);
    pthread_mutex_unlock(&mu);
}

int
dashboard_csrf_ok(const struct dashboard_session *s, const char *value)
{
    size_t n = strlen(s->csrf);
    if (value == NULL || n < 20 || strlen(value) != n)
        return 0;
    return sodium_memcmp(s->csrf, value, n) == 0;
}

void
dashboard_reset(void)
{
    pthread_mutex_lock(&mu);
    sodium_memzero(table, sizeof table);
    pthread_mutex_unlock(&mu);
}
