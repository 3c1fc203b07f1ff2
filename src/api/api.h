/* api.h -- what the JSON handlers share: reading the request (the *_or_reply helpers answer the
 * client themselves and return -1, so handlers read straight down) and rendering the resources in
 * the shapes of the Composio v3/v3.1 API (research: composio-api.md). */
#ifndef TETHER_API_H
#define TETHER_API_H
#include <jansson.h>
#include "core/core.h"
#include "http/http.h"

/* The service context and the authenticated project of a request. */
struct core *api_core(struct http_req *r);
const char *api_project(struct http_req *r);

/* The JSON object body, or -1 after replying 400/413/415. The caller owns *out. */
int api_body_or_reply(struct http_req *r, json_t **out);
/* Replies with e and returns -1: `return api_fail(r, &e);` reads well in handlers. */
int api_fail(struct http_req *r, const struct err *e);
/* An integer query parameter in [min,max] (def when absent), or -1 after replying 400. */
int api_query_int_or_reply(struct http_req *r, const char *name, long def, long min, long max,
                           long *out);
/* A boolean query parameter: -1 absent, 0/1, or -2 after replying 400. */
int api_query_bool_or_reply(struct http_req *r, const char *name);
/* Splits a comma-joined query value into a NULL-terminated list kept by the request (NULL when
 * absent); -1 after replying 400 when it has more than max entries. */
int api_query_list_or_reply(struct http_req *r, const char *name, size_t max,
                            const char ***out);

/* The account object as JSON text appended to b: the hot path of the SDK's polling. */
void api_account_write(struct buf *b, const struct st_account *a, const struct st_auth_config *ac);
/* Renderers (new references). */
json_t *api_account_json(struct core *c, const struct st_account *a,
                         const struct st_auth_config *ac);
json_t *api_auth_config_json(const struct st_auth_config *ac);
json_t *api_session_json(struct core *c, const struct st_session *s);
json_t *api_time(int64_t ms); /* ISO-8601 string */

#endif
