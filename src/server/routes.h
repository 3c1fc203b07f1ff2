/* routes.h -- the route table: the only place that knows every handler. */
#ifndef TETHER_SERVER_ROUTES_H
#define TETHER_SERVER_ROUTES_H
#include "http/http.h"

/* Registers the route names with the metrics module. Call once before serving. */
void routes_init(void);
/* Rate limits: API requests per project key, public pages per client IP (per second, with a burst
 * of twice that). 0 turns a limit off. */
void routes_set_limits(double api_per_s, double pages_per_s);
/* The http dispatcher: finds the route, checks input and the API key, runs the handler. */
void routes_dispatch(struct http_req *r);
/* Access log and metrics for a finished request. */
void routes_complete(struct http_req *r, int64_t duration_us);

#endif
