/* accounts.c -- connected accounts: list, get (with the long-poll form), enable/disable, delete,
 * and links created outside a session. */
#include "api/handlers.h"
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "common/ids.h"
#include "common/jsonv.h"
#include "common/timeutil.h"
#include "core/events.h"
#include "core/links.h"
#include "core/waiters.h"

#define MAX_WAIT_MS 60000

static int
load_or_reply(struct http_req *r, const char *id, struct st_account *a, struct st_auth_config *ac)
{
    struct core *c = api_core(r);
    int rc = ids_valid(id, "ca_") ? store_account_get(c->store, api_project(r), id, a)
                                  : STORE_NOTFOUND;
    if (rc != 0) {
        struct err e;
        core_store_err(rc, &e, ERR_ACCOUNT_NOT_FOUND, "connected account", id);
        return api_fail(r, &e);
    }
    if (ac != NULL && store_auth_config_get(c->store, api_project(r), a->auth_config_id, ac) != 0)
        memset(ac, 0, sizeof *ac);
    return 0;
}

static void
reply_account(struct http_req *r, const char *id)
{
    struct st_account a = {0};
    struct st_auth_config ac = {0};
    if (load_or_reply(r, id, &a, &ac) != 0)
        return;
    http_reply_json(r, 200, api_account_json(api_core(r), &a, ac.id[0] ? &ac : NULL));
    st_account_clear(&a);
    st_auth_config_clear(&ac);
}

static void
on_wake(void *arg)
{
    http_resume(arg);
}

static void
resume_get(struct http_req *r)
{
    reply_account(r, r->params[0]);
}

void
api_account_get(struct http_req *r)
{
    long wait_ms;
    if (api_query_int_or_reply(r, "wait_ms", 0, 0, MAX_WAIT_MS, &wait_ms) != 0)
        return;
    if (wait_ms == 0) {
        reply_account(r, r->params[0]);
        return;
    }
    struct st_account a = {0};
    if (load_or_reply(r, r->params[0], &a, NULL) != 0)
        return;
    int pending = strcmp(a.status, "INITIATED") == 0 || strcmp(a.status, "INITIALIZING") == 0;
    st_account_clear(&a);
    if (!pending) {
        reply_account(r, r->params[0]);
        return;
    }
    /* Park first, then look again: a change between the two reads still wakes us. */
    http_suspend(r, resume_get, NULL, NULL);
    if (waiters_add(r->params[0], time_mono_ms() + wait_ms, on_wake, r) != 0)
        http_resume(r); /* too many waiters: answer now with the current status */
    else if (store_account_get(api_core(r)->store, api_project(r), r->params[0], &a) == 0) {
        if (strcmp(a.status, "INITIATED") != 0 && strcmp(a.status, "INITIALIZING") != 0)
            waiters_notify(r->params[0]);
        st_account_clear(&a);
    }
}

static void
list_items(struct http_req *r, const struct st_account_page *page, json_t *items)
{
    struct core *c = api_core(r);
    struct st_auth_config ac = {0};
    for (size_t i = 0; i < page->n; i++) {
        const struct st_account *a = &page->items[i];
        if (strcmp(ac.id, a->auth_config_id) != 0) {
            st_auth_config_clear(&ac);
            if (store_auth_config_get(c->store, api_project(r), a->auth_config_id, &ac) != 0)
                memset(&ac, 0, sizeof ac);
        }
        json_array_append_new(items, api_account_json(c, a, ac.id[0] ? &ac : NULL));
    }
    st_auth_config_clear(&ac);
}

void
api_account_list(struct http_req *r)
{
    long limit;
    struct st_account_query q = {.project_id = api_project(r), .cursor = http_query(r, "cursor")};
    const char *order = http_query(r, "order_direction");
    if (api_query_int_or_reply(r, "limit", 20, 1, 1000, &limit) != 0 ||
        api_query_list_or_reply(r, "user_ids", 100, (const char ***)&q.user_ids) != 0 ||
        api_query_list_or_reply(r, "toolkit_slugs", 100, (const char ***)&q.toolkits) != 0 ||
        api_query_list_or_reply(r, "auth_config_ids", 100, (const char ***)&q.auth_config_ids) ||
        api_query_list_or_reply(r, "statuses", 10, (const char ***)&q.statuses) != 0)
        return;
    q.limit = (int)limit;
    q.order_asc = order != NULL && strcmp(order, "asc") == 0;
    if (q.cursor != NULL && strlen(q.cursor) >= STORE_ID) {
        http_reply_error(r, ERR_VALIDATION, "'cursor' is not a cursor from this API");
        return;
    }
    struct st_account_page page = {0};
    int rc = store_account_list(api_core(r)->store, &q, &page);
    if (rc != 0) {
        http_reply_error(r, rc == STORE_NOTFOUND ? ERR_VALIDATION : ERR_INTERNAL,
                         rc == STORE_NOTFOUND ? "'cursor' is not a cursor from this API"
                                              : "cannot list connected accounts");
        return;
    }
    json_t *items = json_array();
    list_items(r, &page, items);
    http_reply_json(r, 200,
                    json_pack("{so ss? sI sI}", "items", items, "next_cursor",
                              page.next_cursor[0] ? page.next_cursor : NULL, "total_pages",
                              (json_int_t)((page.total + limit - 1) / limit), "total_items",
                              (json_int_t)page.total));
    st_account_page_clear(&page);
}

void
api_account_delete(struct http_req *r)
{
    struct st_account a = {0};
    if (load_or_reply(r, r->params[0], &a, NULL) != 0)
        return;
    st_account_clear(&a);
    int rc = store_account_delete(api_core(r)->store, api_project(r), r->params[0]);
    if (rc != 0) {
        struct err e;
        core_store_err(rc, &e, ERR_ACCOUNT_NOT_FOUND, "connected account", r->params[0]);
        api_fail(r, &e);
        return;
    }
    events_account_changed(api_core(r), r->params[0]);
    http_reply_json(r, 200, json_pack("{sbss}", "success", 1, "id", r->params[0]));
}

void
api_account_status(struct http_req *r)
{
    static const char *const keys[] = {"enabled", NULL};
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct err e;
    int enabled = 0;
    struct st_account a = {0};
    if (jv_only(body, keys, "the status request", &e) != 0 ||
        jv_bool(body, "enabled", 1, &enabled, &e) != 0)
        api_fail(r, &e);
    else if (load_or_reply(r, r->params[0], &a, NULL) == 0) {
        int rc = store_account_set_disabled(api_core(r)->store, api_project(r), r->params[0],
                                            !enabled);
        if (rc != 0 && rc != STORE_NOTFOUND) {
            core_store_err(rc, &e, ERR_ACCOUNT_NOT_FOUND, "connected account", r->params[0]);
            api_fail(r, &e);
        } else {
            events_account_changed(api_core(r), r->params[0]);
            http_reply_json(r, 200, json_pack("{sb}", "success", 1));
        }
        st_account_clear(&a);
    }
    json_decref(body);
}

static const char *const LINK_KEYS[] = {"auth_config_id", "user_id", "callback_url", "alias",
                                        "experimental", NULL};

/* POST /connected_accounts/link: a Connect Link outside any session. */
void
api_account_link(struct http_req *r)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct err e;
    struct st_auth_config ac = {0};
    struct link_request rq = {.project_id = api_project(r)};
    struct link_created out;
    if (jv_only(body, LINK_KEYS, "the link request", &e) != 0 ||
        jv_string(body, "auth_config_id", 1, 64, &rq.auth_config_id, &e) != 0 ||
        jv_string(body, "user_id", 1, 256, &rq.user_id, &e) != 0 ||
        jv_string(body, "callback_url", 0, 2048, &rq.callback_url, &e) != 0 ||
        jv_string(body, "alias", 0, 100, &rq.alias, &e) != 0 ||
        core_store_err(ids_valid(rq.auth_config_id, "ac_")
                           ? store_auth_config_get(api_core(r)->store, rq.project_id,
                                                   rq.auth_config_id, &ac)
                           : STORE_NOTFOUND,
                       &e, ERR_AUTH_CONFIG_NOT_FOUND, "auth config", rq.auth_config_id) != 0)
        api_fail(r, &e);
    else if ((rq.toolkit = ac.toolkit), links_create(api_core(r), &rq, &out, &e) != 0)
        api_fail(r, &e);
    else
        http_reply_json(r, 201,
                        json_pack("{ss ss ss so}", "connected_account_id", out.account_id,
                                  "redirect_url", out.redirect_url, "link_token", out.token,
                                  "expires_at", api_time(out.expires_at)));
    st_auth_config_clear(&ac);
    json_decref(body);
}
