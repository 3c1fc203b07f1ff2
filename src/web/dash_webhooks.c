/* dash_webhooks.c -- the dashboard's webhook section: the project's endpoints (URL, event filter,
 * state; never the signing secret) and each one's most recent deliveries with their outcome. Read
 * only: endpoints are managed through the /webhooks API (docs/webhooks.md). */
#include "api/handlers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "web/dash.h"

#define RECENT_DELIVERIES 10

static const char *
delivery_class(const char *state)
{
    if (strcmp(state, "delivered") == 0)
        return "active";
    if (strcmp(state, "failed") == 0)
        return "failed";
    return "pending";
}

static json_t *
deliveries_json(struct core *c, const char *project_id, const char *endpoint_id)
{
    struct st_delivery *d = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (store_delivery_list(c->store, project_id, endpoint_id, 0, RECENT_DELIVERIES, &d, &n) != 0)
        return arr;
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "dlv_%lld", (long long)d[i].seq);
        json_array_append_new(
            arr, json_pack("{ss ss ss ss ss si so ss* so so}", "id", id, "type", d[i].event.type,
                           "account_id", d[i].event.account_id, "state", d[i].state, "cls",
                           delivery_class(d[i].state), "attempts", d[i].attempts, "last_status",
                           d[i].last_status ? json_integer(d[i].last_status) : json_null(),
                           "last_error", d[i].last_error, "created", dash_time(d[i].created_at),
                           "delivered", dash_time(d[i].delivered_at)));
        st_delivery_clear(&d[i]);
    }
    free(d);
    return arr;
}

/* The filter for people: "every event" for an empty list, else the types comma-joined. */
static json_t *
filter_json(const char *events)
{
    json_t *arr = events ? json_loads(events, 0, NULL) : NULL, *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            json_array_append(out, v);
    }
    json_decref(arr);
    return out;
}

void
web_dash_webhooks(struct http_req *r)
{
    struct dashboard_session s;
    if (dash_session_or_reply(r, &s) != 0)
        return;
    struct core *c = dash_core(r);
    struct st_webhook *w = NULL;
    size_t n = 0;
    if (store_webhook_list(c->store, s.project_id, &w, &n) != 0) {
        dash_message(r, 500, &s, "Cannot list webhooks", "The endpoints could not be read.");
        return;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rows, json_pack("{ss ss so sb so so}", "id", w[i].id, "url",
                                              w[i].url ? w[i].url : "", "events",
                                              filter_json(w[i].events), "disabled", w[i].disabled,
                                              "created", dash_time(w[i].created_at), "deliveries",
                                              deliveries_json(c, s.project_id, w[i].id)));
        st_webhook_clear(&w[i]);
    }
    free(w);
    dash_reply(r, 200, &s, "webhooks", "Webhooks", "webhooks",
               json_pack("{so si}", "endpoints", rows, "recent", RECENT_DELIVERIES));
}
