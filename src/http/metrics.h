/* metrics.h -- request counters by route and status, and a latency histogram, rendered in the
 * Prometheus text format. Lock-free (atomic counters); routes are registered once at start. */
#ifndef TETHER_HTTP_METRICS_H
#define TETHER_HTTP_METRICS_H
#include <stdint.h>
#include "common/buf.h"

/* names[i] labels route i (e.g. "GET /api/connected_accounts/{id}"); the array must outlive the
 * process. Index n is used for requests that matched no route. */
void metrics_init(const char *const *names, int n);
void metrics_observe(int route_index, unsigned status, int64_t duration_us);
/* Appends the request series to out. */
void metrics_render(struct buf *out);

#endif
