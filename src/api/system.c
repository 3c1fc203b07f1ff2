/* system.c -- health, metrics and the catalogue's logos. */
#include "api/handlers.h"
#include <stdlib.h>
#include "api/api.h"
#include "catalog/catalog.h"
#include "common/buf.h"
#include "core/waiters.h"
#include "http/metrics.h"

void
api_healthz(struct http_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_reply_bytes(r, 200, "application/json", ok, sizeof ok - 1, NULL);
}

static void
add_status(void *arg, const char *status, int64_t n)
{
    buf_printf(arg, "tether_connected_accounts{status=\"%s\"} %lld\n", status, (long long)n);
}

void
api_metrics(struct http_req *r)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    metrics_render(&b);
    buf_puts(&b, "# HELP tether_connected_accounts Connected accounts by status.\n"
                 "# TYPE tether_connected_accounts gauge\n");
    store_account_count_by_status(api_core(r)->store, add_status, &b);
    buf_printf(&b,
               "# HELP tether_parked_waiters Long-poll requests waiting for a status change.\n"
               "# TYPE tether_parked_waiters gauge\ntether_parked_waiters %zu\n",
               waiters_count());
    http_reply_bytes(r, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len, NULL);
    buf_free(&b);
}

void
api_logo(struct http_req *r)
{
    const char *data, *ctype;
    size_t len;
    if (catalog_logo(r->params[0], &data, &len, &ctype) != 0) {
        http_reply_error(r, ERR_NOT_FOUND, "no such logo");
        return;
    }
    http_reply_bytes(r, 200, ctype, data, len, "public, max-age=86400");
}
