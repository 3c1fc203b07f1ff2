#include "core/events.h"
#include <pthread.h>
#include <stdlib.h>
#include "common/log.h"
#include "common/timeutil.h"
#include "core/waiters.h"
#include "core/webhooks.h"

static pthread_t sweeper;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int running;

void
events_account_changed(struct core *c, const char *account_id)
{
    waiters_notify(account_id);
    webhooks_kick(); /* its event is already in the outbox: same transaction */
}

int
events_sweep(struct core *c)
{
    char(*ids)[STORE_ID] = NULL;
    size_t n = 0;
    if (store_account_expire_due(c->store, time_now_ms(), &ids, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        log_info("account.expired", "account=%s reason=\"link expired\"", ids[i]);
        events_account_changed(c, ids[i]);
    }
    free(ids);
    return (int)n;
}

static void *
sweep_main(void *arg)
{
    struct core *c = arg;
    pthread_mutex_lock(&mu);
    while (running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&cv, &mu, &ts);
        if (!running)
            break;
        pthread_mutex_unlock(&mu);
        events_sweep(c);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* A status change committed by another node (PostgreSQL LISTEN/NOTIFY): wake local waiters. */
static void
on_remote_change(void *arg, const char *account_id)
{
    waiters_notify(account_id);
}

int
events_start(struct core *c)
{
    if (store_listen(c->store, on_remote_change, c) != 0)
        return -1;
    running = 1;
    return pthread_create(&sweeper, NULL, sweep_main, c) == 0 ? 0 : -1;
}

void
events_stop(void)
{
    pthread_mutex_lock(&mu);
    if (!running) {
        pthread_mutex_unlock(&mu);
        return;
    }
    running = 0;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(sweeper, NULL);
}
