/* auth_configs.c -- create, list and read auth configs. */
#include "api/handlers.h"
#include <string.h>
#include "api/api.h"
#include "core/authcfg.h"

void
api_auth_config_create(struct http_req *r)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct st_auth_config ac = {0};
    struct err e;
    if (authcfg_create(api_core(r), api_project(r), body, &ac, &e) == 0)
        http_reply_json(r, 201,
                        json_pack("{s{ss ss sb} s{ss}}", "auth_config", "id", ac.id, "auth_scheme",
                                  ac.auth_scheme, "is_composio_managed", ac.is_managed, "toolkit",
                                  "slug", ac.toolkit));
    else
        api_fail(r, &e);
    st_auth_config_clear(&ac);
    json_decref(body);
}

void
api_auth_config_get(struct http_req *r)
{
    struct st_auth_config ac = {0};
    struct err e;
    if (authcfg_get(api_core(r), api_project(r), r->params[0], &ac, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    const char *ids[] = {ac.id, NULL};
    struct st_account_query q = {.project_id = api_project(r), .auth_config_ids = ids, .limit = 1};
    struct st_account_page page = {0};
    if (store_account_list(api_core(r)->store, &q, &page) == 0)
        ac.connections = page.total;
    st_account_page_clear(&page);
    http_reply_json(r, 200, api_auth_config_json(&ac));
    st_auth_config_clear(&ac);
}

void
api_auth_config_list(struct http_req *r)
{
    long limit;
    int managed = api_query_bool_or_reply(r, "is_composio_managed");
    int show_disabled = api_query_bool_or_reply(r, "show_disabled");
    if (managed == -2 || show_disabled == -2 ||
        api_query_int_or_reply(r, "limit", 20, 1, 1000, &limit) != 0)
        return;
    struct st_auth_config_query q = {.project_id = api_project(r),
                                     .toolkit = http_query(r, "toolkit_slug"),
                                     .managed = managed,
                                     .show_disabled = show_disabled == 1,
                                     .search = http_query(r, "search"),
                                     .cursor = http_query(r, "cursor"),
                                     .limit = (int)limit};
    struct st_auth_config_page page = {0};
    int rc = store_auth_config_list(api_core(r)->store, &q, &page);
    if (rc != 0) {
        http_reply_error(r, rc == STORE_NOTFOUND ? ERR_VALIDATION : ERR_INTERNAL,
                         rc == STORE_NOTFOUND ? "'cursor' is not a cursor from this API"
                                              : "cannot list auth configs");
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.n; i++)
        json_array_append_new(items, api_auth_config_json(&page.items[i]));
    http_reply_json(r, 200,
                    json_pack("{so ss? sI sI}", "items", items, "next_cursor",
                              page.next_cursor[0] ? page.next_cursor : NULL, "total_pages",
                              (json_int_t)((page.total + limit - 1) / limit), "total_items",
                              (json_int_t)page.total));
    st_auth_config_page_clear(&page);
}
