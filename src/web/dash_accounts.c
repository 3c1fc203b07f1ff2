/* dash_accounts.c -- the dashboard's connected accounts: the list (filters by status and toolkit,
 * search by user id or account id, cursor pagination), one account with its event history, and
 * disable / enable / delete behind a confirmation page. Changes go through the same store calls
 * and the same event function as the REST API, so waiters and webhooks hear about them. */
#include "api/handlers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "catalog/catalog.h"
#include "common/ids.h"
#include "core/events.h"
#include "web/dash.h"

#define MAX_QUERY 256
#define MAX_EVENTS 200

static const char *const STATUSES[] = {"ACTIVE",  "INITIATED", "INITIALIZING", "FAILED",
                                       "EXPIRED", "INACTIVE",  "REVOKED",      NULL};

static int
status_known(const char *s)
{
    for (size_t i = 0; STATUSES[i] != NULL; i++)
        if (strcmp(s, STATUSES[i]) == 0)
            return 1;
    return 0;
}

static int
slug_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* A query parameter, NULL when absent or empty. */
static const char *
param(struct http_req *r, const char *name)
{
    const char *v = http_query(r, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *
toolkit_name(const char *slug)
{
    const struct catalog_toolkit *t = catalog_get(slug);
    return t != NULL && t->name != NULL ? t->name : slug;
}

/* The identity the provider reported (data.identity), or NULL. The string lives in *holder. */
static const char *
identity_of(const struct st_account *a, json_t **holder)
{
    *holder = a->data ? json_loads(a->data, 0, NULL) : NULL;
    return json_string_value(json_object_get(*holder, "identity"));
}

/* The account's page; ids are [A-Za-z0-9_-] so the path needs no encoding. */
static char *
account_href(const char *id)
{
    char path[96];
    snprintf(path, sizeof path, "/dashboard/accounts/%s", id);
    return strdup(path);
}

static json_t *
row_json(const struct st_account *a)
{
    json_t *data;
    const char *who = identity_of(a, &data);
    const char *pairs[] = {"q", a->user_id};
    char *href = account_href(a->id), *user_href = dash_query("/dashboard/accounts", pairs, 1);
    json_t *o = json_pack("{ss ss ss ss ss ss ss ss* sb ss* ss* so so}", "id", a->id, "href", href,
                          "user_id", a->user_id ? a->user_id : "", "user_href", user_href,
                          "toolkit", a->toolkit, "toolkit_name", toolkit_name(a->toolkit), "status",
                          a->status, "alias", a->alias, "disabled", a->is_disabled, "reason",
                          a->status_reason, "identity", who, "created", dash_time(a->created_at),
                          "updated", dash_time(a->updated_at));
    if (o != NULL)
        json_object_set_new(o, "cls", json_string(dash_status_class(a->status)));
    free(href);
    free(user_href);
    json_decref(data);
    return o;
}

static json_t *
status_options(const char *selected)
{
    json_t *arr = json_array();
    for (size_t i = 0; STATUSES[i] != NULL; i++)
        json_array_append_new(arr, json_pack("{ss sb}", "value", STATUSES[i], "selected",
                                             selected && strcmp(selected, STATUSES[i]) == 0));
    return arr;
}

/* Checks the list's filters; -1 after answering 400. */
static int
filters_or_reply(struct http_req *r, const struct dashboard_session *s, const char *q,
                 const char *status, const char *toolkit, const char *cursor)
{
    const char *why = NULL;
    if (q != NULL && strlen(q) > MAX_QUERY)
        why = "The search text is too long (256 characters at most).";
    else if (status != NULL && !status_known(status))
        why = "Unknown status filter.";
    else if (toolkit != NULL && !slug_ok(toolkit))
        why = "A toolkit filter is a slug like gmail.";
    else if (cursor != NULL && strlen(cursor) >= STORE_ID)
        why = "That page link is not valid.";
    if (why == NULL)
        return 0;
    dash_message(r, 400, s, "Bad request", why);
    return -1;
}

/* When q is the id of one of the project's accounts: redirects there and returns 1. */
static int
redirect_to_account(struct http_req *r, const struct dashboard_session *s, const char *q)
{
    struct st_account a = {0};
    if (q == NULL || !ids_valid(q, "ca_") ||
        store_account_get(dash_core(r)->store, s->project_id, q, &a) != 0)
        return 0;
    char *href = account_href(a.id);
    http_reply_redirect(r, href);
    free(href);
    st_account_clear(&a);
    return 1;
}

static json_t *
page_json(const struct st_account_page *page, const char *q, const char *status,
          const char *toolkit)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < page->n; i++)
        json_array_append_new(rows, row_json(&page->items[i]));
    char *next = NULL;
    if (page->next_cursor[0]) {
        const char *pairs[] = {"q",       q,       "status", status,
                               "toolkit", toolkit, "cursor", page->next_cursor};
        next = dash_query("/dashboard/accounts", pairs, 4);
    }
    const char *pairs[] = {"q", q, "status", status, "toolkit", toolkit};
    char *first = dash_query("/dashboard/accounts", pairs, 3);
    json_t *o = json_pack("{so sI ss* ss}", "rows", rows, "total", (json_int_t)page->total, "next",
                          next, "first", first);
    free(next);
    free(first);
    return o;
}

void
web_dash_accounts(struct http_req *r)
{
    struct dashboard_session s;
    if (dash_session_or_reply(r, &s) != 0)
        return;
    const char *q = param(r, "q"), *status = param(r, "status"), *toolkit = param(r, "toolkit");
    const char *cursor = param(r, "cursor"), *deleted = param(r, "deleted");
    if (filters_or_reply(r, &s, q, status, toolkit, cursor) != 0 || redirect_to_account(r, &s, q))
        return;
    const char *users[] = {q, NULL}, *statuses[] = {status, NULL}, *tks[] = {toolkit, NULL};
    struct st_account_query aq = {.project_id = s.project_id,
                                  .user_ids = q ? users : NULL,
                                  .statuses = status ? statuses : NULL,
                                  .toolkits = toolkit ? tks : NULL,
                                  .cursor = cursor,
                                  .limit = DASH_PAGE_SIZE};
    struct st_account_page page = {0};
    int rc = store_account_list(dash_core(r)->store, &aq, &page);
    if (rc != 0) {
        dash_message(r, rc == STORE_NOTFOUND ? 400 : 500, &s, "Cannot list accounts",
                     rc == STORE_NOTFOUND ? "That page link is not valid."
                                          : "The accounts could not be read. Try again.");
        return;
    }
    json_t *ctx = page_json(&page, q, status, toolkit);
    st_account_page_clear(&page);
    json_object_set_new(ctx, "statuses", status_options(status));
    json_object_set_new(ctx, "q", json_string(q ? q : ""));
    json_object_set_new(ctx, "toolkit", json_string(toolkit ? toolkit : ""));
    json_object_set_new(ctx, "filtered", json_boolean(q || status || toolkit));
    if (deleted != NULL && ids_valid(deleted, "ca_"))
        json_object_set_new(ctx, "deleted", json_string(deleted));
    dash_reply(r, 200, &s, "accounts", "Accounts", "accounts", ctx);
}

/* ---- one account -------------------------------------------------------------------------- */

/* Loads the account of params[0]; -1 after answering 404. */
static int
load_or_reply(struct http_req *r, const struct dashboard_session *s, struct st_account *a)
{
    const char *id = r->params[0];
    if (ids_valid(id, "ca_") && store_account_get(dash_core(r)->store, s->project_id, id, a) == 0)
        return 0;
    dash_message(r, 404, s, "Account not found",
                 "No connected account of this project has that id. It may have been deleted.");
    return -1;
}

static json_t *
events_json(struct core *c, const char *project_id, const char *id)
{
    struct st_event *ev = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (store_event_list(c->store, project_id, id, MAX_EVENTS, &ev, &n) != 0)
        return arr;
    for (size_t i = n; i-- > 0;) /* newest first */
        json_array_append_new(arr,
                              json_pack("{so ss ss ss ss*}", "at", dash_time(ev[i].at), "type",
                                        ev[i].type, "status", ev[i].status, "cls",
                                        dash_status_class(ev[i].status), "reason", ev[i].reason));
    for (size_t i = 0; i < n; i++)
        st_event_clear(&ev[i]);
    free(ev);
    return arr;
}

static const char *
auth_config_name(struct core *c, const struct st_account *a, struct st_auth_config *ac)
{
    if (store_auth_config_get(c->store, a->project_id, a->auth_config_id, ac) != 0)
        return NULL;
    return ac->name;
}

static const char *
done_notice(const char *done)
{
    if (done == NULL)
        return NULL;
    if (strcmp(done, "disable") == 0)
        return "The account is disabled: tools can no longer use it.";
    if (strcmp(done, "enable") == 0)
        return "The account is enabled again.";
    return NULL;
}

void
web_dash_account(struct http_req *r)
{
    struct dashboard_session s;
    struct st_account a = {0};
    if (dash_session_or_reply(r, &s) != 0 || load_or_reply(r, &s, &a) != 0)
        return;
    struct core *c = dash_core(r);
    struct st_auth_config ac = {0};
    const char *ac_name = auth_config_name(c, &a, &ac);
    json_t *ctx = row_json(&a);
    json_object_set_new(ctx, "auth_config_id", json_string(a.auth_config_id));
    json_object_set_new(ctx, "auth_config_name", ac_name ? json_string(ac_name) : json_null());
    json_object_set_new(ctx, "word_id", json_string(a.word_id));
    json_object_set_new(ctx, "connected", dash_time(a.connected_at));
    json_object_set_new(ctx, "expires", dash_time(a.expires_at));
    json_object_set_new(ctx, "events", events_json(c, s.project_id, a.id));
    const char *notice = done_notice(param(r, "done"));
    json_object_set_new(ctx, "notice", notice ? json_string(notice) : json_null());
    st_auth_config_clear(&ac);
    st_account_clear(&a);
    dash_reply(r, 200, &s, "accounts", "Account", "account", ctx);
}

/* ---- disable / enable / delete ------------------------------------------------------------- */

enum action { ACT_DISABLE, ACT_ENABLE, ACT_DELETE, ACT_UNKNOWN };

static enum action
action_of(const char *s)
{
    if (strcmp(s, "disable") == 0)
        return ACT_DISABLE;
    if (strcmp(s, "enable") == 0)
        return ACT_ENABLE;
    if (strcmp(s, "delete") == 0)
        return ACT_DELETE;
    return ACT_UNKNOWN;
}

static const char *const ACT_TEXT[][3] = {
    [ACT_DISABLE] = {"disable", "Disable this account?",
                     "Tools and sessions stop using it until it is enabled again. The "
                     "credentials are kept."},
    [ACT_ENABLE] = {"enable", "Enable this account?", "Tools and sessions may use it again."},
    [ACT_DELETE] = {"delete", "Delete this account?",
                    "The connection and its stored credentials are removed for good. The user "
                    "has to connect again. This cannot be undone."},
};

/* The action of params[1]; ACT_UNKNOWN after answering 404. */
static enum action
action_or_reply(struct http_req *r, const struct dashboard_session *s)
{
    enum action act = action_of(r->params[1]);
    if (act == ACT_UNKNOWN)
        dash_message(r, 404, s, "Not found", "There is no such action on an account.");
    return act;
}

void
web_dash_account_confirm(struct http_req *r)
{
    struct dashboard_session s;
    struct st_account a = {0};
    enum action act;
    if (dash_session_or_reply(r, &s) != 0 || (act = action_or_reply(r, &s)) == ACT_UNKNOWN ||
        load_or_reply(r, &s, &a) != 0)
        return;
    json_t *ctx = row_json(&a);
    char action[128];
    snprintf(action, sizeof action, "/dashboard/accounts/%s/%s", a.id, ACT_TEXT[act][0]);
    json_object_set_new(ctx, "action", json_string(action));
    json_object_set_new(ctx, "verb", json_string(ACT_TEXT[act][0]));
    json_object_set_new(ctx, "question", json_string(ACT_TEXT[act][1]));
    json_object_set_new(ctx, "explain", json_string(ACT_TEXT[act][2]));
    json_object_set_new(ctx, "danger", json_boolean(act != ACT_ENABLE));
    st_account_clear(&a);
    dash_reply(r, 200, &s, "accounts", ACT_TEXT[act][1], "confirm", ctx);
}

void
web_dash_account_act(struct http_req *r)
{
    struct dashboard_session s;
    struct kv_list form = {0};
    struct st_account a = {0};
    enum action act;
    if (dash_form_or_reply(r, &s, &form) != 0)
        return;
    kv_list_free(&form);
    if ((act = action_or_reply(r, &s)) == ACT_UNKNOWN || load_or_reply(r, &s, &a) != 0)
        return;
    struct core *c = dash_core(r);
    int rc = act == ACT_DELETE
                 ? store_account_delete(c->store, s.project_id, a.id)
                 : store_account_set_disabled(c->store, s.project_id, a.id, act == ACT_DISABLE);
    if (rc != 0 && rc != STORE_NOTFOUND) {
        st_account_clear(&a);
        dash_message(r, 500, &s, "Not changed", "The account could not be changed. Try again.");
        return;
    }
    events_account_changed(c, a.id);
    char where[160];
    if (act == ACT_DELETE)
        snprintf(where, sizeof where, "/dashboard/accounts?deleted=%s", a.id);
    else
        snprintf(where, sizeof where, "/dashboard/accounts/%s?done=%s", a.id, ACT_TEXT[act][0]);
    st_account_clear(&a);
    http_reply_redirect(r, where);
}
