/* dash_auth_configs.c -- the dashboard's list of auth configs: how the project signs users in to
 * each toolkit, with the number of accounts using each one. Read-only; search by name or toolkit,
 * cursor pagination. */
#include "api/handlers.h"
#include <stdlib.h>
#include <string.h>
#include "catalog/catalog.h"
#include "web/dash.h"

#define MAX_SEARCH 100

static json_t *
config_json(const struct st_auth_config *ac)
{
    const struct catalog_toolkit *t = catalog_get(ac->toolkit);
    return json_pack("{ss ss ss ss ss sb sb sI so}", "id", ac->id, "name", ac->name, "toolkit",
                     ac->toolkit, "toolkit_name", t && t->name ? t->name : ac->toolkit, "scheme",
                     ac->auth_scheme, "managed", ac->is_managed, "disabled", ac->disabled,
                     "connections", (json_int_t)ac->connections, "created",
                     dash_time(ac->created_at));
}

void
web_dash_auth_configs(struct http_req *r)
{
    struct dashboard_session s;
    if (dash_session_or_reply(r, &s) != 0)
        return;
    const char *q = http_query(r, "q"), *cursor = http_query(r, "cursor");
    q = q && q[0] ? q : NULL;
    cursor = cursor && cursor[0] ? cursor : NULL;
    if ((q && strlen(q) > MAX_SEARCH) || (cursor && strlen(cursor) >= STORE_ID)) {
        dash_message(r, 400, &s, "Bad request", "The search or the page link is not valid.");
        return;
    }
    struct st_auth_config_query aq = {.project_id = s.project_id,
                                      .managed = -1,
                                      .show_disabled = 1,
                                      .search = q,
                                      .cursor = cursor,
                                      .limit = DASH_PAGE_SIZE};
    struct st_auth_config_page page = {0};
    int rc = store_auth_config_list(dash_core(r)->store, &aq, &page);
    if (rc != 0) {
        dash_message(r, rc == STORE_NOTFOUND ? 400 : 500, &s, "Cannot list auth configs",
                     rc == STORE_NOTFOUND ? "That page link is not valid."
                                          : "The auth configs could not be read. Try again.");
        return;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < page.n; i++)
        json_array_append_new(rows, config_json(&page.items[i]));
    char *next = NULL;
    if (page.next_cursor[0]) {
        const char *pairs[] = {"q", q, "cursor", page.next_cursor};
        next = dash_query("/dashboard/auth-configs", pairs, 2);
    }
    json_t *ctx = json_pack("{so sI ss ss*}", "rows", rows, "total", (json_int_t)page.total, "q",
                            q ? q : "", "next", next);
    free(next);
    st_auth_config_page_clear(&page);
    dash_reply(r, 200, &s, "auth-configs", "Auth configs", "auth_configs", ctx);
}
