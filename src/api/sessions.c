/* sessions.c -- tool-router sessions: create, read, update, delete, Connect Link, toolkits. */
#include "api/handlers.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "catalog/catalog.h"
#include "common/jsonv.h"
#include "core/credentials.h"
#include "core/links.h"
#include "core/sessions.h"
#include "core/toolkits.h"

void
api_session_create(struct http_req *r)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct st_session s = {0};
    struct err e;
    if (sessions_create(api_core(r), api_project(r), body, &s, &e) == 0)
        http_reply_json(r, 201, api_session_json(api_core(r), &s));
    else
        http_reply_err(r, &e);
    json_decref(body);
    st_session_clear(&s);
}

void
api_session_get(struct http_req *r)
{
    struct st_session s = {0};
    struct err e;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &s, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    http_reply_json(r, 200, api_session_json(api_core(r), &s));
    st_session_clear(&s);
}

void
api_session_update(struct http_req *r)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct st_session s = {0};
    struct err e;
    if (sessions_update(api_core(r), api_project(r), r->params[0], body, &s, &e) == 0)
        http_reply_json(r, 200, api_session_json(api_core(r), &s));
    else
        http_reply_err(r, &e);
    json_decref(body);
    st_session_clear(&s);
}

void
api_session_delete(struct http_req *r)
{
    struct err e;
    if (sessions_delete(api_core(r), api_project(r), r->params[0], &e) != 0) {
        api_fail(r, &e);
        return;
    }
    http_reply_json(r, 200, json_pack("{sssb}", "session_id", r->params[0], "deleted", 1));
}

static const char *const LINK_KEYS[] = {"toolkit",      "callback_url",         "alias",
                                        "experimental", "connected_account_id", NULL};

/* Multi-account sessions cap the user's ACTIVE accounts per toolkit; replies 400 at the cap. */
static int
at_account_limit(struct http_req *r, const struct st_session *s, const json_t *cfg,
                 const char *toolkit)
{
    json_int_t max = json_integer_value(
        json_object_get(json_object_get(cfg, "multi_account"), "max_accounts_per_toolkit"));
    struct st_account_page active = {0};
    if (max <= 0 ||
        store_account_active_for_user(api_core(r)->store, api_project(r), s->user_id, &active) != 0)
        return 0;
    json_int_t n = 0;
    for (size_t i = 0; i < active.n; i++)
        n += strcmp(active.items[i].toolkit, toolkit) == 0;
    st_account_page_clear(&active);
    if (n < max)
        return 0;
    struct err e;
    err_set(&e, ERR_BAD_REQUEST,
            "user already has %lld connected %s accounts (the session allows %lld)", (long long)n,
            toolkit, (long long)max);
    err_fix(&e, "disable or delete one, or raise multi_account.max_accounts_per_toolkit");
    return api_fail(r, &e) != 0;
}

/* Reads the link body and checks it against the session; fills rq. */
static int
link_request_or_reply(struct http_req *r, const json_t *body, const struct st_session *s,
                      const json_t *cfg, struct link_request *rq)
{
    struct err e;
    const char *toolkit = NULL, *cb = NULL, *alias = NULL;
    if (jv_only(body, LINK_KEYS, "the link request", &e) != 0 ||
        jv_string(body, "toolkit", 1, 64, &toolkit, &e) != 0 ||
        jv_string(body, "callback_url", 0, 2048, &cb, &e) != 0 ||
        jv_string(body, "alias", 0, 100, &alias, &e) != 0)
        return api_fail(r, &e);
    if (catalog_get(toolkit) == NULL) {
        err_set(&e, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s'", toolkit);
        return api_fail(r, &e);
    }
    if (!session_toolkit_enabled(cfg, toolkit)) {
        err_set(&e, ERR_BAD_REQUEST, "toolkit '%s' is not enabled in this session", toolkit);
        return api_fail(r, &e);
    }
    const char *reconnect = NULL;
    if (jv_string(body, "connected_account_id", 0, 64, &reconnect, &e) != 0)
        return api_fail(r, &e);
    /* reconnecting an account in place is checked by reconnect_or_reply; pins stay */
    if (reconnect == NULL && session_pinned_account(cfg, toolkit) != NULL &&
        !session_multi_account(cfg)) {
        err_set(&e, ERR_BAD_REQUEST, "this session pins a connected account for '%s'", toolkit);
        err_fix(&e, "create a session without the pin, or update its connected_accounts");
        return api_fail(r, &e);
    }
    if (reconnect == NULL && session_multi_account(cfg) && at_account_limit(r, s, cfg, toolkit))
        return -1;
    *rq = (struct link_request){.project_id = api_project(r),
                                .session_id = s->id,
                                .user_id = s->user_id,
                                .toolkit = toolkit,
                                .callback_url = cb,
                                .alias = alias,
                                .auth_config_id = session_pinned_auth_config(cfg, toolkit)};
    return 0;
}

/* Reconnect in place: a fresh link for one of the session user's accounts of this toolkit; the
 * account keeps its id, alias and pins. Replies either way. */
static void
reconnect_or_reply(struct http_req *r, const struct st_session *s, const char *toolkit,
                   const char *account_id, const char *callback_url)
{
    struct st_account a = {0};
    struct err e;
    struct link_created out;
    int rc = store_account_get(api_core(r)->store, api_project(r), account_id, &a);
    if (rc != 0)
        core_store_err(rc, &e, ERR_ACCOUNT_NOT_FOUND, "connected account", account_id);
    else if (strcmp(a.user_id, s->user_id) != 0 || strcmp(a.toolkit, toolkit) != 0)
        err_set(&e, ERR_VALIDATION, "connected account '%s' is not this user's %s account",
                account_id, toolkit);
    else if (credentials_reconnect(api_core(r), api_project(r), account_id, callback_url, &out,
                                   &e) == 0)
        rc = 1;
    st_account_clear(&a);
    if (rc != 1) {
        api_fail(r, &e);
        return;
    }
    http_reply_json(r, 201,
                    json_pack("{ss ss ss so}", "connected_account_id", account_id, "redirect_url",
                              out.redirect_url, "link_token", out.token, "expires_at",
                              api_time(out.expires_at)));
}

/* A link being written: the request waits parked while its write shares a commit with others. */
struct link_work {
    struct link_created out;
    int rc;
    struct err e;
};

static void
on_link_written(void *arg, int rc)
{
    struct http_req *r = arg;
    ((struct link_work *)r->work)->rc = rc;
    http_resume(r);
}

static void
link_written(struct http_req *r)
{
    struct link_work *w = r->work;
    if (w->rc != 0) {
        api_fail(r, &w->e);
        return;
    }
    http_reply_json(r, 201,
                    json_pack("{ss ss ss so}", "connected_account_id", w->out.account_id,
                              "redirect_url", w->out.redirect_url, "link_token", w->out.token,
                              "expires_at", api_time(w->out.expires_at)));
}

static void
create_link(struct http_req *r, const struct link_request *rq)
{
    struct link_work *w = calloc(1, sizeof *w);
    if (w == NULL) {
        http_reply_error(r, ERR_INTERNAL, "out of memory");
        return;
    }
    err_set(&w->e, ERR_INTERNAL, "the connected account could not be saved");
    http_suspend(r, link_written, w, free);
    if (links_create_async(api_core(r), rq, &w->out, on_link_written, r, &w->e) != 0) {
        w->rc = -1;
        http_resume(r);
    }
}

void
api_session_link(struct http_req *r)
{
    struct st_session s = {0};
    struct err e;
    json_t *body = NULL, *cfg = NULL;
    struct link_request rq;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &s, &e) != 0)
        api_fail(r, &e);
    else if (api_body_or_reply(r, &body) == 0 &&
             link_request_or_reply(r, body, &s, cfg = sessions_config(&s), &rq) == 0) {
        const char *reconnect = json_string_value(json_object_get(body, "connected_account_id"));
        if (reconnect != NULL)
            reconnect_or_reply(r, &s, rq.toolkit, reconnect, rq.callback_url);
        else
            create_link(r, &rq);
    }
    json_decref(body);
    json_decref(cfg);
    st_session_clear(&s);
}

static json_t *
toolkit_item(struct core *c, const struct toolkit_row *row)
{
    const struct catalog_toolkit *t = row->toolkit;
    char logo[700];
    snprintf(logo, sizeof logo, "%s/logos/%s", c->public_url, t->logo ? t->logo : "");
    json_t *schemes = json_array();
    for (size_t i = 0; i < t->nschemes; i++) {
        const struct catalog_scheme *sc = &t->schemes[i];
        if (sc->type != CATALOG_NO_AUTH && (sc->type != CATALOG_OAUTH2 || row->managed_oauth))
            json_array_append_new(schemes, json_string(sc->type_name));
    }
    json_t *acct = json_null();
    if (row->has_account) {
        const struct st_account *a = &row->account;
        acct =
            json_pack("{ss ss so ss s{ss ss sb}}", "id", a->id, "status", a->status, "created_at",
                      api_time(a->created_at), "user_id", a->user_id, "auth_config", "id",
                      a->auth_config_id, "auth_scheme", row->auth_config.auth_scheme,
                      "is_composio_managed", row->auth_config.is_managed);
    }
    return json_pack("{ss ss sb sb s{ssss} so so}", "slug", t->slug, "name", t->name, "is_no_auth",
                     t->no_auth, "enabled", 1, "meta", "logo", logo, "description",
                     t->description ? t->description : "", "composio_managed_auth_schemes", schemes,
                     "connected_account", acct);
}

static json_t *
toolkit_page_json(struct core *c, const struct toolkit_page *p, long limit, long offset)
{
    json_t *items = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(items, toolkit_item(c, &p->rows[i]));
    char next[24];
    snprintf(next, sizeof next, "%ld", p->next_offset);
    return json_pack("{so ss? sI sI sI}", "items", items, "next_cursor",
                     p->next_offset >= 0 ? next : NULL, "total_pages",
                     (json_int_t)((p->total + limit - 1) / limit), "current_page",
                     (json_int_t)(offset / limit + 1), "total_items", (json_int_t)p->total);
}

void
api_session_toolkits(struct http_req *r)
{
    long limit, offset;
    const char **only;
    int connected = api_query_bool_or_reply(r, "is_connected");
    const char *search = http_query(r, "search");
    if (connected == -2 || api_query_int_or_reply(r, "limit", 20, 1, 1000, &limit) != 0 ||
        api_query_int_or_reply(r, "cursor", 0, 0, 1000000, &offset) != 0 ||
        api_query_list_or_reply(r, "toolkits", 100, &only) != 0)
        return;
    struct st_session s = {0};
    struct err e;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &s, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    struct toolkits_query q = {
        .only = only, .search = search, .connected = connected, .offset = offset, .limit = limit};
    struct toolkit_page page;
    if (toolkits_for_session(api_core(r), &s, &q, &page, &e) == 0)
        http_reply_json(r, 200, toolkit_page_json(api_core(r), &page, limit, offset));
    else
        api_fail(r, &e);
    toolkit_page_clear(&page);
    st_session_clear(&s);
}
