#include "http/metrics.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* Statuses we keep separate counters for; anything else counts as its class ("2xx"...). */
static const unsigned STATUSES[] = {200, 201, 204, 302, 400, 401, 403, 404, 405,
                                    409, 410, 413, 415, 429, 500, 502, 503};
#define NSTATUS (sizeof STATUSES / sizeof STATUSES[0])
#define NSLOT (NSTATUS + 5) /* + 1xx..5xx classes */

/* Upper bounds of the latency buckets, in microseconds. */
static const int64_t BUCKETS[] = {250,   500,    1000,   2500,   5000,    10000,
                                  25000, 50000, 100000, 250000, 1000000, 10000000};
#define NBUCKET (sizeof BUCKETS / sizeof BUCKETS[0])

static const char *const *route_names;
static int nroutes;
static _Atomic uint64_t *counts; /* (nroutes + 1) * NSLOT */
static _Atomic uint64_t hist[NBUCKET + 1];
static _Atomic uint64_t hist_sum_us, hist_count;

void
metrics_init(const char *const *names, int n)
{
    route_names = names;
    nroutes = n;
    counts = calloc((size_t)(n + 1) * NSLOT, sizeof *counts);
}

static int
slot(unsigned status)
{
    for (unsigned i = 0; i < NSTATUS; i++)
        if (STATUSES[i] == status)
            return (int)i;
    unsigned cls = status / 100;
    return (int)NSTATUS + (cls >= 1 && cls <= 5 ? (int)cls - 1 : 4);
}

void
metrics_observe(int route_index, unsigned status, int64_t duration_us)
{
    if (counts == NULL)
        return;
    int r = (route_index >= 0 && route_index < nroutes) ? route_index : nroutes;
    atomic_fetch_add_explicit(&counts[r * NSLOT + slot(status)], 1, memory_order_relaxed);
    unsigned b = 0;
    while (b < NBUCKET && duration_us > BUCKETS[b])
        b++;
    atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist_sum_us, (uint64_t)duration_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist_count, 1, memory_order_relaxed);
}

static void
status_label(unsigned s, char *out, size_t n)
{
    static const char *cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    if (s < NSTATUS)
        snprintf(out, n, "%u", STATUSES[s]);
    else
        snprintf(out, n, "%s", cls[s - NSTATUS]);
}

void
metrics_render(struct buf *out)
{
    buf_puts(out, "# HELP tether_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE tether_http_requests_total counter\n");
    for (int r = 0; counts != NULL && r <= nroutes; r++) {
        for (unsigned s = 0; s < NSLOT; s++) {
            uint64_t v = atomic_load_explicit(&counts[r * NSLOT + s], memory_order_relaxed);
            if (v == 0)
                continue;
            char st[8];
            status_label(s, st, sizeof st);
            buf_printf(out, "tether_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                       r < nroutes ? route_names[r] : "unmatched", st, (unsigned long long)v);
        }
    }
    buf_puts(out, "# HELP tether_http_request_duration_seconds Time to answer a request.\n"
                  "# TYPE tether_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (unsigned b = 0; b <= NBUCKET; b++) {
        cum += atomic_load_explicit(&hist[b], memory_order_relaxed);
        if (b < NBUCKET)
            buf_printf(out, "tether_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                       (double)BUCKETS[b] / 1e6, (unsigned long long)cum);
        else
            buf_printf(out, "tether_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                       (unsigned long long)cum);
    }
    buf_printf(out, "tether_http_request_duration_seconds_sum %.6f\n",
               (double)atomic_load(&hist_sum_us) / 1e6);
    buf_printf(out, "tether_http_request_duration_seconds_count %llu\n",
               (unsigned long long)atomic_load(&hist_count));
}
