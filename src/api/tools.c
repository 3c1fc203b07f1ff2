/* tools.c -- the catalogue's tools, running them with a chosen account, and the API proxy
 * (outside sessions and in a session). Calls to the toolkit's API are parked on the outbound
 * engine; the reply is built when the answer is in. */
#include "api/handlers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "api/api.h"
#include "catalog/catalog.h"
#include "common/jsonv.h"
#include "common/log.h"
#include "core/sessions.h"
#include "core/tools.h"

/* ---- listing --------------------------------------------------------------------------------- */

static int
listed(const json_t *tool, const struct catalog_toolkit *t, const char *search, const char **slugs)
{
    const char *slug = json_string_value(json_object_get(tool, "slug"));
    if (slugs != NULL) {
        int hit = 0;
        for (const char **p = slugs; *p && !hit; p++)
            hit = strcasecmp(*p, slug) == 0;
        if (!hit)
            return 0;
    }
    if (search == NULL || search[0] == '\0')
        return 1;
    const char *name = json_string_value(json_object_get(tool, "name"));
    const char *desc = json_string_value(json_object_get(tool, "description"));
    return strcasestr(slug, search) || (name && strcasestr(name, search)) ||
           (desc && strcasestr(desc, search)) || strcasestr(t->slug, search);
}

void
api_tool_list(struct http_req *r)
{
    long limit, offset;
    const char **toolkits, **slugs;
    const char *search = http_query(r, "search");
    if (api_query_int_or_reply(r, "limit", 20, 1, 1000, &limit) != 0 ||
        api_query_int_or_reply(r, "cursor", 0, 0, 10000000, &offset) != 0 ||
        api_query_list_or_reply(r, "toolkit_slug", 100, &toolkits) != 0 ||
        api_query_list_or_reply(r, "tool_slugs", 500, &slugs) != 0)
        return;
    json_t *items = json_array();
    long total = 0;
    for (size_t i = 0; i < catalog_count(); i++) {
        const struct catalog_toolkit *t = catalog_at(i);
        int want = toolkits == NULL;
        for (const char **p = toolkits; p && *p && !want; p++)
            want = strcasecmp(*p, t->slug) == 0;
        size_t k;
        json_t *tool;
        json_array_foreach(want ? t->tools : NULL, k, tool)
        {
            if (!listed(tool, t, search, slugs))
                continue;
            long pos = total++;
            if (pos >= offset && pos < offset + limit)
                json_array_append_new(items, tools_item(t, tool));
        }
    }
    char next[24];
    snprintf(next, sizeof next, "%ld", offset + limit);
    http_reply_json(r, 200,
                    json_pack("{so ss? sI sI sI}", "items", items, "next_cursor",
                              offset + limit < total ? next : NULL, "total_pages",
                              (json_int_t)((total + limit - 1) / limit), "current_page",
                              (json_int_t)(offset / limit + 1), "total_items", (json_int_t)total));
}

void
api_tool_get(struct http_req *r)
{
    const struct catalog_toolkit *t = NULL;
    const json_t *tool = catalog_tool(r->params[0], &t);
    if (tool == NULL) {
        http_reply_error(r, ERR_TOOL_NOT_FOUND, "unknown tool '%.100s'", r->params[0]);
        return;
    }
    http_reply_json(r, 200, tools_item(t, tool));
}

/* ---- running a call while the request is parked ---------------------------------------------- */

static void
run_free(void *p)
{
    tools_run_free(p);
}

static void
on_answer(void *arg, const struct outbound_res *res)
{
    struct http_req *r = arg;
    tools_done(r->work, res);
    http_resume(r);
}

/* Replies with the run's result and logs the call (never its arguments or answer). */
static void
reply_result(struct http_req *r, struct tool_run *run)
{
    json_t *res = tools_result(run);
    json_t *status = json_object_get(res, "status");
    if (status != NULL)
        log_info("proxy.call", "request_id=%s toolkit=%s account=%s status=%lld", r->request_id,
                 tools_run_toolkit(run), tools_run_account(run),
                 (long long)json_integer_value(status));
    else
        log_info("tool.call", "request_id=%s log_id=%s toolkit=%s account=%s successful=%s",
                 r->request_id, json_string_value(json_object_get(res, "log_id")),
                 tools_run_toolkit(run), tools_run_account(run),
                 json_is_true(json_object_get(res, "successful")) ? "true" : "false");
    http_reply_json(r, 200, res);
}

/* A refresh the run waited for has settled (any thread). */
static void
on_wake(void *arg)
{
    http_resume(arg);
}

static void park(struct http_req *r, struct tool_run *run, struct outbound_req *req);

/* The answer is in or a refresh settled: send the next request, wait again, or reply. */
static void
on_resume(struct http_req *r)
{
    struct tool_run *run = r->work;
    struct outbound_req *req;
    struct err e;
    if (tools_continue(api_core(r), run, &req, &e) != 0)
        api_fail(r, &e);
    else if (req != NULL || tools_run_waiting(run))
        park(r, run, req);
    else
        reply_result(r, run);
}

/* Parks r until req (consumed) is answered, or, with req NULL, until the run's refresh settles. */
static void
park(struct http_req *r, struct tool_run *run, struct outbound_req *req)
{
    http_suspend(r, on_resume, run, run_free);
    if (req == NULL)
        tools_parked(run);
    else if (outbound_submit(req, on_answer, r) != 0) {
        tools_fail(run, "the outbound engine is not running");
        http_resume(r);
    }
}

/* Replies at once when the outcome is decided, else parks r with the run (owned from here). */
static void
run_call(struct http_req *r, struct tool_run *run, struct outbound_req *req)
{
    if (req == NULL && !tools_run_waiting(run)) {
        reply_result(r, run);
        tools_run_free(run);
        return;
    }
    park(r, run, req);
}

/* ---- tools ----------------------------------------------------------------------------------- */

/* Members of the Composio bodies that would bring other credentials or files: refused when set.
 * -1 after replying. */
static int
unsupported_or_reply(struct http_req *r, const json_t *body)
{
    static const char *const keys[] = {"binary_body", "custom_auth_params",
                                       "custom_connection_data", NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(body, *k);
        if (v != NULL && !json_is_null(v)) {
            http_reply_error(r, ERR_VALIDATION,
                             "'%s' is not supported: calls use the connected "
                             "account's own credentials",
                             *k);
            return -1;
        }
    }
    return 0;
}

static const char *const EXECUTE_KEYS[] = {"connected_account_id",
                                           "arguments",
                                           "user_id",
                                           "version",
                                           "allow_tracing",
                                           "custom_auth_params",
                                           "custom_connection_data",
                                           "text",
                                           "entity_id",
                                           NULL};

void
api_tool_execute(struct http_req *r)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct err e;
    const char *account = NULL, *user = NULL, *entity = NULL, *text = NULL;
    json_t *args = NULL;
    if (jv_only(body, EXECUTE_KEYS, "the execute request", &e) != 0 ||
        jv_string(body, "connected_account_id", 0, 64, &account, &e) != 0 ||
        jv_string(body, "user_id", 0, 256, &user, &e) != 0 ||
        jv_string(body, "entity_id", 0, 256, &entity, &e) != 0 ||
        jv_string(body, "text", 0, 4000, &text, &e) != 0 ||
        jv_object(body, "arguments", 0, &args, &e) != 0) {
        json_decref(body);
        api_fail(r, &e);
        return;
    }
    if (unsupported_or_reply(r, body) != 0) {
        json_decref(body);
        return;
    }
    if (text != NULL && args == NULL) {
        json_decref(body);
        http_reply_error(r, ERR_VALIDATION, "'text' is not supported; send 'arguments'");
        return;
    }
    struct tool_call in = {.project_id = api_project(r),
                           .user_id = user ? user : entity,
                           .account = account,
                           .tool_slug = r->params[0],
                           .arguments = args,
                           .wake = on_wake,
                           .wake_arg = r};
    struct tool_run *run;
    struct outbound_req *req;
    if (tools_begin(api_core(r), &in, &run, &req, &e) != 0)
        api_fail(r, &e);
    else
        run_call(r, run, req);
    json_decref(body);
}

/* ---- proxy ----------------------------------------------------------------------------------- */

static const char *const PROXY_KEYS[] = {"endpoint",
                                         "method",
                                         "connected_account_id",
                                         "body",
                                         "parameters",
                                         "toolkit_slug",
                                         "account",
                                         "binary_body",
                                         "custom_auth_params",
                                         "custom_connection_data",
                                         NULL};

/* Reads a proxy body into *in (pointers into body). -1 after replying. */
static int
proxy_call_or_reply(struct http_req *r, const json_t *body, struct proxy_call *in)
{
    struct err e;
    const char *endpoint = NULL, *method = NULL, *account = NULL, *toolkit = NULL, *sel = NULL;
    if (jv_only(body, PROXY_KEYS, "the proxy request", &e) != 0 ||
        jv_string(body, "endpoint", 1, 4096, &endpoint, &e) != 0 ||
        jv_string(body, "method", 1, 16, &method, &e) != 0 ||
        jv_string(body, "connected_account_id", 0, 64, &account, &e) != 0 ||
        jv_string(body, "account", 0, 100, &sel, &e) != 0 ||
        jv_string(body, "toolkit_slug", 0, 64, &toolkit, &e) != 0)
        return api_fail(r, &e);
    if (unsupported_or_reply(r, body) != 0)
        return -1;
    *in = (struct proxy_call){.project_id = api_project(r),
                              .toolkit = toolkit,
                              .account = account ? account : sel,
                              .endpoint = endpoint,
                              .method = method,
                              .parameters = json_object_get(body, "parameters"),
                              .body = json_object_get(body, "body"),
                              .wake = on_wake,
                              .wake_arg = r};
    return 0;
}

static void
start_proxy(struct http_req *r, const struct proxy_call *in)
{
    struct err e;
    struct tool_run *run;
    struct outbound_req *req;
    if (tools_proxy_begin(api_core(r), in, &run, &req, &e) != 0)
        api_fail(r, &e);
    else
        run_call(r, run, req);
}

void
api_tool_proxy(struct http_req *r)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct proxy_call in;
    if (proxy_call_or_reply(r, body, &in) == 0) {
        if (in.account == NULL && in.toolkit == NULL)
            http_reply_error(r, ERR_VALIDATION, "'connected_account_id' is required");
        else
            start_proxy(r, &in);
    }
    json_decref(body);
}

void
api_session_proxy(struct http_req *r)
{
    struct st_session s = {0};
    struct err e;
    json_t *body = NULL;
    struct proxy_call in;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &s, &e) != 0)
        api_fail(r, &e);
    else if (api_body_or_reply(r, &body) == 0 && proxy_call_or_reply(r, body, &in) == 0) {
        in.session = &s;
        if (in.toolkit == NULL)
            http_reply_error(r, ERR_VALIDATION, "'toolkit_slug' is required");
        else
            start_proxy(r, &in);
    }
    json_decref(body);
    st_session_clear(&s);
}
