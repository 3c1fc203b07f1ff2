#include "common/ttlcache.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "common/timeutil.h"

#define NLOCK 32

struct entry {
    char key[TTLCACHE_KEY];
    unsigned char val[TTLCACHE_VAL];
    size_t len;
    int64_t until;
};

struct ttlcache {
    struct entry *slots;
    size_t n;
    int64_t ttl;
    pthread_mutex_t locks[NLOCK];
};

static size_t
slot_of(const struct ttlcache *c, const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % c->n);
}

struct ttlcache *
ttlcache_new(size_t slots, int64_t ttl_ms)
{
    struct ttlcache *c = calloc(1, sizeof *c);
    if (c == NULL || (c->slots = calloc(slots, sizeof *c->slots)) == NULL) {
        free(c);
        return NULL;
    }
    c->n = slots;
    c->ttl = ttl_ms;
    for (int i = 0; i < NLOCK; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void
ttlcache_free(struct ttlcache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < NLOCK; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->slots);
    free(c);
}

int
ttlcache_get(struct ttlcache *c, const char *key, void *out, size_t len)
{
    if (c == NULL || strlen(key) >= TTLCACHE_KEY || len > TTLCACHE_VAL)
        return 0;
    size_t i = slot_of(c, key);
    pthread_mutex_lock(&c->locks[i % NLOCK]);
    struct entry *e = &c->slots[i];
    int hit = e->until > time_mono_ms() && e->len == len && strcmp(e->key, key) == 0;
    if (hit)
        memcpy(out, e->val, len);
    pthread_mutex_unlock(&c->locks[i % NLOCK]);
    return hit;
}

void
ttlcache_put(struct ttlcache *c, const char *key, const void *val, size_t len)
{
    size_t klen = strlen(key);
    if (c == NULL || klen >= TTLCACHE_KEY || len > TTLCACHE_VAL)
        return;
    size_t i = slot_of(c, key);
    pthread_mutex_lock(&c->locks[i % NLOCK]);
    struct entry *e = &c->slots[i];
    memcpy(e->key, key, klen + 1);
    memcpy(e->val, val, len);
    e->len = len;
    e->until = time_mono_ms() + c->ttl;
    pthread_mutex_unlock(&c->locks[i % NLOCK]);
}

void
ttlcache_drop(struct ttlcache *c, const char *key)
{
    if (c == NULL || strlen(key) >= TTLCACHE_KEY)
        return;
    size_t i = slot_of(c, key);
    pthread_mutex_lock(&c->locks[i % NLOCK]);
    if (strcmp(c->slots[i].key, key) == 0)
        c->slots[i].until = 0;
    pthread_mutex_unlock(&c->locks[i % NLOCK]);
}
