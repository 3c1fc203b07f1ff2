/* dash_webhooks.c -- the dashboard's webhook section. The store has no webhook endpoints or
 * deliveries yet, so the page says so plainly instead of showing an empty table; once the store
 * grows them, this page lists the endpoints and their recent deliveries. */
#include "api/handlers.h"
#include "web/dash.h"

void
web_dash_webhooks(struct http_req *r)
{
    struct dashboard_session s;
    if (dash_session_or_reply(r, &s) != 0)
        return;
    dash_reply(r, 200, &s, "webhooks", "Webhooks", "webhooks", json_object());
}
