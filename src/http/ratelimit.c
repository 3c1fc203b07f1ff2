#include "http/ratelimit.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/timeutil.h"

#define NSLOT 16384
#define NLOCK 64

struct slot {
    uint64_t hash;
    double tokens;
    int64_t last_us;
};

struct ratelimit {
    double rate, burst;
    struct slot slots[NSLOT];
    pthread_mutex_t locks[NLOCK];
};

static uint64_t
hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1; /* 0 marks an empty slot */
}

struct ratelimit *
ratelimit_new(double rate, double burst)
{
    if (rate <= 0)
        return NULL;
    struct ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return NULL;
    rl->rate = rate;
    rl->burst = burst >= 1 ? burst : 1;
    for (int i = 0; i < NLOCK; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < NLOCK; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl);
}

int
ratelimit_take(struct ratelimit *rl, const char *key, int *retry_after)
{
    if (rl == NULL)
        return 1;
    uint64_t h = hash_key(key);
    size_t i = h % NSLOT;
    pthread_mutex_t *mu = &rl->locks[i % NLOCK];
    int64_t now = time_mono_us();
    pthread_mutex_lock(mu);
    struct slot *s = &rl->slots[i];
    if (s->hash != h) {
        s->hash = h;
        s->tokens = rl->burst;
        s->last_us = now;
    }
    s->tokens = fmin(rl->burst, s->tokens + (double)(now - s->last_us) / 1e6 * rl->rate);
    s->last_us = now;
    int ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    else
        *retry_after = (int)ceil((1.0 - s->tokens) / rl->rate);
    pthread_mutex_unlock(mu);
    return ok;
}
