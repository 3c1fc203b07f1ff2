/* waiters.c -- a hash of account id -> list of waiters, plus a deadline min-heap served by one
 * thread. A waiter sits in both until woken; whichever side wakes it first marks it done, the heap
 * drops done entries when they surface, and the last holder frees it. */
#include "core/waiters.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/timeutil.h"

#define NBUCKET 4096

struct waiter {
    struct waiter *next;
    char account_id[64];
    int64_t deadline;
    waiter_wake_fn wake;
    void *arg;
    int done;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct waiter *buckets[NBUCKET];
static struct waiter **heap;
static size_t nheap, capheap, nlive, maxlive;
static pthread_t timer;
static int running;

static unsigned
bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % NBUCKET;
}

static void
heap_push(struct waiter *w)
{
    size_t i = nheap++;
    while (i > 0 && heap[(i - 1) / 2]->deadline > w->deadline) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = w;
}

static struct waiter *
heap_pop(void)
{
    struct waiter *top = heap[0], *last = heap[--nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= nheap)
            break;
        if (c + 1 < nheap && heap[c + 1]->deadline < heap[c]->deadline)
            c++;
        if (last->deadline <= heap[c]->deadline)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (nheap > 0)
        heap[i] = last;
    return top;
}

/* Unlinks w from its bucket; caller holds mu. */
static void
unlink_waiter(struct waiter *w)
{
    struct waiter **pp = &buckets[bucket_of(w->account_id)];
    while (*pp != NULL && *pp != w)
        pp = &(*pp)->next;
    if (*pp == w)
        *pp = w->next;
}

/* Pops every entry whose deadline passed (or all, when stopping); wakes the live ones outside the
 * lock. Returns the next deadline, or -1. */
static int64_t
expire(int all)
{
    struct waiter *due[256];
    size_t n = 0;
    pthread_mutex_lock(&mu);
    int64_t now = time_mono_ms();
    while (nheap > 0 && n < 256 && (all || heap[0]->deadline <= now)) {
        struct waiter *w = heap_pop();
        if (w->done) {
            free(w);
            continue;
        }
        w->done = 1;
        unlink_waiter(w);
        nlive--;
        due[n++] = w;
    }
    int64_t next = nheap > 0 ? heap[0]->deadline : -1;
    if (n == 256)
        next = now;
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < n; i++) {
        due[i]->wake(due[i]->arg);
        free(due[i]);
    }
    return next;
}

static void *
timer_main(void *arg)
{
    pthread_mutex_lock(&mu);
    while (running) {
        int64_t next = nheap > 0 ? heap[0]->deadline : time_mono_ms() + 1000;
        int64_t now = time_mono_ms();
        if (next > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ms = next - now;
            ts.tv_sec += ms / 1000;
            ts.tv_nsec += (ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&cv, &mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&mu);
        expire(0);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int
waiters_start(size_t max)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    maxlive = max;
    capheap = max + 1024;
    heap = calloc(capheap, sizeof *heap);
    if (heap == NULL)
        return -1;
    running = 1;
    return pthread_create(&timer, NULL, timer_main, NULL) == 0 ? 0 : -1;
}

void
waiters_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&mu);
    running = 0;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(timer, NULL);
    while (nheap > 0)
        expire(1);
    free(heap);
    heap = NULL;
}

int
waiters_add(const char *account_id, int64_t deadline_mono_ms, waiter_wake_fn wake, void *arg)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -1;
    snprintf(w->account_id, sizeof w->account_id, "%s", account_id);
    w->deadline = deadline_mono_ms;
    w->wake = wake;
    w->arg = arg;
    pthread_mutex_lock(&mu);
    if (!running || nlive >= maxlive || nheap >= capheap) {
        pthread_mutex_unlock(&mu);
        free(w);
        return -1;
    }
    unsigned b = bucket_of(account_id);
    w->next = buckets[b];
    buckets[b] = w;
    int earliest = nheap == 0 || deadline_mono_ms < heap[0]->deadline;
    heap_push(w);
    nlive++;
    if (earliest)
        pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return 0;
}

void
waiters_notify(const char *account_id)
{
    /* In batches: the woken entries stay in the heap (which frees them), so their wake calls are
     * copied out under the lock and made after it is released. */
    for (;;) {
        struct {
            waiter_wake_fn fn;
            void *arg;
        } calls[64];
        size_t n = 0;
        pthread_mutex_lock(&mu);
        struct waiter **pp = &buckets[bucket_of(account_id)];
        while (*pp != NULL && n < 64) {
            struct waiter *w = *pp;
            if (strcmp(w->account_id, account_id) != 0) {
                pp = &w->next;
                continue;
            }
            *pp = w->next;
            w->done = 1;
            nlive--;
            calls[n].fn = w->wake;
            calls[n++].arg = w->arg;
        }
        pthread_mutex_unlock(&mu);
        for (size_t i = 0; i < n; i++)
            calls[i].fn(calls[i].arg);
        if (n < 64)
            return;
    }
}

size_t
waiters_count(void)
{
    pthread_mutex_lock(&mu);
    size_t n = nlive;
    pthread_mutex_unlock(&mu);
    return n;
}
