/* accounts.c -- connected accounts: list, get (with the long-poll form), enable/disable, delete,
 * and links created outside a session. */
#include "api/handlers.h"
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "common/ids.h"
#include "common/jsonv.h"
#include "common/timeutil.h"
#include "core/credentials.h"
#include "core/authcfg.h"
#include "core/events.h"
#include "core/links.h"
#include "core/refresh.h"
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
    if (ac != NULL && authcfg_summary(c, api_project(r), a->auth_config_id, ac) != 0)
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
    struct buf b;
    buf_init(&b, 1 << 20);
    api_account_write(&b, &a, ac.id[0] ? &ac : NULL);
    size_t len = b.len;
    http_reply_json_text(r, 200, buf_take(&b), len);
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
            if (authcfg_summary(c, api_project(r), a->auth_config_id, &ac) != 0)
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

/* Delete: the grant is revoked at the provider first (best effort, off the HTTP thread), then the
 * row goes and the outcome is reported in the response and on the account.deleted event. */
struct delete_work {
    struct outbound_req *reqs[2];
    const char *hints[2];
    int n, next;
    json_t *results; /* [{"token_type_hint","status","ok","error"}] */
    long status;
    char error[200];
};

static void
delete_work_free(void *p)
{
    struct delete_work *w = p;
    for (int i = 0; i < 2; i++)
        outbound_req_free(w->reqs[i]);
    json_decref(w->results);
    free(w);
}

static void
finish_delete(struct http_req *r, json_t *revocation)
{
    json_t *wrap = json_pack("{sO}", "revocation", revocation);
    char *detail = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
    int rc = store_account_delete_noted(api_core(r)->store, api_project(r), r->params[0], detail);
    free(detail);
    if (rc != 0) {
        struct err e;
        core_store_err(rc, &e, ERR_ACCOUNT_NOT_FOUND, "connected account", r->params[0]);
        api_fail(r, &e);
        json_decref(revocation);
        return;
    }
    events_account_changed(api_core(r), r->params[0]);
    http_reply_json(r, 200, json_pack("{sb ss so}", "success", 1, "id", r->params[0],
                                      "revocation", revocation));
}

static void
on_revoked(void *arg, const struct outbound_res *res)
{
    struct http_req *r = arg;
    struct delete_work *w = r->work;
    w->status = res->status;
    snprintf(w->error, sizeof w->error, "%.190s",
             res->status == 0 ? (res->timed_out ? "timed out" : res->error) : "");
    http_resume(r);
}

/* Submits the next revocation request; the request must be suspended first. */
static void
revoke_next(struct http_req *r)
{
    struct delete_work *w = r->work;
    struct outbound_req *q = w->reqs[w->next];
    w->reqs[w->next] = NULL;
    if (outbound_submit(q, on_revoked, r) != 0) {
        w->status = 0;
        snprintf(w->error, sizeof w->error, "the outbound engine is not running");
        http_resume(r);
    }
}

static void
resume_delete(struct http_req *r)
{
    struct delete_work *w = r->work;
    int ok = w->status >= 200 && w->status <= 299;
    json_array_append_new(w->results,
                          json_pack("{ss sI sb ss*}", "token_type_hint", w->hints[w->next],
                                    "status", (json_int_t)w->status, "ok", ok, "error",
                                    ok ? NULL : w->error[0] ? w->error : "refused"));
    if (++w->next < w->n) {
        http_suspend(r, resume_delete, w, delete_work_free);
        revoke_next(r);
        return;
    }
    int all = 1;
    size_t i;
    json_t *v;
    json_array_foreach(w->results, i, v) all &= json_is_true(json_object_get(v, "ok"));
    finish_delete(r, json_pack("{sb sb sO}", "attempted", 1, "ok", all, "results", w->results));
}

void
api_account_delete(struct http_req *r)
{
    struct st_account a = {0};
    if (load_or_reply(r, r->params[0], &a, NULL) != 0)
        return;
    struct delete_work *w = calloc(1, sizeof *w);
    if (w != NULL)
        w->n = credentials_revoke_requests(api_core(r), &a, w->reqs, w->hints);
    st_account_clear(&a);
    if (w == NULL || w->n == 0) {
        free(w);
        finish_delete(r, json_pack("{sb sb ss}", "attempted", 0, "ok", 0, "reason",
                                   "the provider offers no revocation, or there is no token"));
        return;
    }
    w->results = json_array();
    http_suspend(r, resume_delete, w, delete_work_free);
    revoke_next(r);
}

/* POST /connected_accounts/{id}/refresh: an ACTIVE OAuth2 account with a refresh token is
 * refreshed now; any other account (or one whose grant turns out to be gone) gets a reconnect
 * link: {"id","status","redirect_url"}. */
struct refresh_work {
    enum refresh_outcome outcome;
    char reason[300];
};

static void
reply_reconnect(struct http_req *r, const char *reason)
{
    struct link_created out;
    struct err e;
    if (credentials_reconnect(api_core(r), api_project(r), r->params[0],
                              http_query(r, "redirect_url"), &out, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    http_reply_json(r, 200, json_pack("{ss ss ss ss* ss}", "id", r->params[0], "status",
                                      "INITIATED", "redirect_url", out.redirect_url,
                                      "status_reason", reason, "link_token", out.token));
}

static void
on_refresh_done(void *arg, enum refresh_outcome outcome, const char *reason)
{
    struct http_req *r = arg;
    struct refresh_work *w = r->work;
    w->outcome = outcome;
    snprintf(w->reason, sizeof w->reason, "%s", reason ? reason : "");
    http_resume(r);
}

static void
resume_refresh(struct http_req *r)
{
    struct refresh_work *w = r->work;
    if (w->outcome == REFRESH_DONE || w->outcome == REFRESH_NOT_NEEDED)
        http_reply_json(r, 200, json_pack("{ss ss sn sb}", "id", r->params[0], "status", "ACTIVE",
                                          "redirect_url", "refreshed", 1));
    else if (w->outcome == REFRESH_RETRY)
        http_reply_error(r, ERR_UPSTREAM, "the token was not refreshed: %.200s; the account "
                                          "stays ACTIVE and tether retries", w->reason);
    else if (w->outcome == REFRESH_EXPIRED) /* the next call hands out a reconnect link */
        http_reply_json(r, 200, json_pack("{ss ss sn ss}", "id", r->params[0], "status",
                                          "EXPIRED", "redirect_url", "status_reason", w->reason));
    else
        reply_reconnect(r, w->reason[0] ? w->reason : NULL);
}

static int
refreshable(struct core *c, const struct st_account *a)
{
    const struct catalog_toolkit *t = catalog_get(a->toolkit);
    struct st_auth_config ac = {0};
    const struct catalog_scheme *s = NULL;
    if (t != NULL && store_auth_config_get(c->store, a->project_id, a->auth_config_id, &ac) == 0)
        s = catalog_scheme(t, ac.auth_scheme);
    st_auth_config_clear(&ac);
    json_t *d = json_loads(a->data ? a->data : "{}", 0, NULL);
    int has_rt = json_is_true(json_object_get(d, "has_refresh_token"));
    json_decref(d);
    return s != NULL && s->type == CATALOG_OAUTH2 && has_rt && strcmp(a->status, "ACTIVE") == 0 &&
           !a->is_disabled;
}

void
api_account_refresh(struct http_req *r)
{
    /* The official SDK sends {} or {"validate_credentials": bool}; anything else is refused. */
    static const char *const keys[] = {"validate_credentials", NULL};
    struct err e;
    int validate = 0;
    if (r->body.len > 0 || r->body_too_large) {
        json_t *body;
        if (api_body_or_reply(r, &body) != 0)
            return;
        int rc = jv_only(body, keys, "the refresh request", &e) != 0 ||
                 jv_bool(body, "validate_credentials", 0, &validate, &e) != 0;
        json_decref(body);
        if (rc) {
            api_fail(r, &e);
            return;
        }
    }
    struct st_account a = {0};
    if (load_or_reply(r, r->params[0], &a, NULL) != 0)
        return;
    int can = refreshable(api_core(r), &a);
    st_account_clear(&a);
    if (!can) {
        reply_reconnect(r, NULL);
        return;
    }
    struct refresh_work *w = calloc(1, sizeof *w);
    if (w == NULL) {
        http_reply_error(r, ERR_INTERNAL, "out of memory");
        return;
    }
    http_suspend(r, resume_refresh, w, free);
    if (refresh_request(r->params[0], INT64_MAX, on_refresh_done, r) != 0) {
        w->outcome = REFRESH_RETRY;
        snprintf(w->reason, sizeof w->reason, "the refresh queue is full or stopped");
        http_resume(r);
    }
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
                                        "experimental", "connected_account_id", NULL};

/* Reconnect in place through the link route: the account must belong to this auth config and
 * user; it keeps its id, alias and pins (docs/lifecycle.md). */
static void
link_reconnect(struct http_req *r, const struct link_request *rq, const char *account_id)
{
    struct st_account a = {0};
    struct link_created out;
    struct err e;
    if (load_or_reply(r, account_id, &a, NULL) != 0)
        return;
    int same = strcmp(a.auth_config_id, rq->auth_config_id) == 0 &&
               strcmp(a.user_id, rq->user_id) == 0;
    st_account_clear(&a);
    if (!same)
        http_reply_error(r, ERR_VALIDATION, "connected account '%s' belongs to another auth "
                                            "config or user", account_id);
    else if (credentials_reconnect(api_core(r), rq->project_id, account_id, rq->callback_url,
                                   &out, &e) != 0)
        api_fail(r, &e);
    else
        http_reply_json(r, 201,
                        json_pack("{ss ss ss so}", "connected_account_id", out.account_id,
                                  "redirect_url", out.redirect_url, "link_token", out.token,
                                  "expires_at", api_time(out.expires_at)));
}

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
    const char *reconnect = NULL;
    if (jv_only(body, LINK_KEYS, "the link request", &e) != 0 ||
        jv_string(body, "connected_account_id", 0, 64, &reconnect, &e) != 0 ||
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
    else if (reconnect != NULL)
        link_reconnect(r, &rq, reconnect);
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
