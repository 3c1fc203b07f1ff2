/* routes.h -- the route table: the only place that knows every handler. */
#ifndef TETHER_SERVER_ROUTES_H
#define TETHER_SERVER_ROUTES_H
#include "http/http.h"

/* Registers the route names with the metrics module. Call once before serving. */
void routes_init(void);
/* The http dispatcher: finds the route, checks input and the API key, runs the handler. */
void routes_dispatch(struct http_req *r);
/* Access log and metrics for a finished request. */
void routes_complete(struct http_req *r, int64_t duration_us);

#endif
