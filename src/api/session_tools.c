/* session_tools.c -- a session's tools over REST: the paged list (GET …/tools) and executions
 * (POST …/execute and its alias …/execute_meta), answered in the strict {data, error, log_id}
 * shape. Executions that wait (COMPOSIO_WAIT_FOR_CONNECTIONS, toolkit tools) park the request. */
#include "api/handlers.h"
#include <stdio.h>
#include <string.h>
#include "api/api.h"
#include "common/jsonv.h"
#include "core/metatools.h"
#include "core/sessions.h"

#define TOOLS_PAGE_MAX 1000

void
api_session_tools(struct http_req *r)
{
    long limit, offset;
    if (api_query_int_or_reply(r, "limit", 500, 1, TOOLS_PAGE_MAX, &limit) != 0 ||
        api_query_int_or_reply(r, "cursor", 0, 0, 1000000, &offset) != 0)
        return;
    struct st_session s = {0};
    struct err e;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &s, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    json_t *all = metatools_list(api_core(r), &s);
    st_session_clear(&s);
    if (all == NULL) {
        http_reply_error(r, ERR_INTERNAL, "cannot list the session's tools");
        return;
    }
    long total = (long)json_array_size(all);
    json_t *items = json_array();
    for (long i = offset; i < total && i < offset + limit; i++)
        json_array_append(items, json_array_get(all, (size_t)i));
    json_decref(all);
    char next[24];
    snprintf(next, sizeof next, "%ld", offset + limit);
    http_reply_json(r, 200,
                    json_pack("{so ss? sI sI sI}", "items", items, "next_cursor",
                              offset + limit < total ? next : NULL, "total_pages",
                              (json_int_t)((total + limit - 1) / limit), "current_page",
                              (json_int_t)(offset / limit + 1), "total_items", (json_int_t)total));
}

static void
reply_result(struct http_req *r, struct tool_exec *x)
{
    http_reply_json(r, 200, metatools_exec_result(x));
}

static void
on_wake(void *arg)
{
    http_resume(arg);
}

static void
exec_free(void *x)
{
    metatools_exec_free(x);
}

/* Parks r until the execution can go on; answers at once when it cannot be parked. */
static void park(struct http_req *r, struct tool_exec *x);

static void
on_resume(struct http_req *r)
{
    struct tool_exec *x = r->work;
    if (metatools_exec_step(x) == 1)
        park(r, x);
    else
        reply_result(r, x);
}

static void
park(struct http_req *r, struct tool_exec *x)
{
    http_suspend(r, on_resume, x, exec_free);
    if (metatools_exec_park(x, on_wake, r) != 0)
        http_resume(r);
}

static const char *const EXEC_KEYS[] = {
    "tool_slug", "slug",          "arguments",    "account", "enable_auto_workbench_offload",
    "version",   "allow_tracing", "experimental", NULL};

/* Reads the execute body into call; meta_only: the execute_meta alias, which runs meta tools. */
static int
exec_call_or_reply(struct http_req *r, const json_t *body, int meta_only, struct exec_call *call)
{
    struct err e;
    const char *slug = NULL, *alt = NULL;
    json_t *args = NULL;
    if (jv_only(body, EXEC_KEYS, "the execute request", &e) != 0 ||
        jv_string(body, "tool_slug", 0, 128, &slug, &e) != 0 ||
        jv_string(body, "slug", 0, 128, &alt, &e) != 0 ||
        jv_object(body, "arguments", 0, &args, &e) != 0 ||
        jv_string(body, "account", 0, 256, &call->account, &e) != 0)
        return api_fail(r, &e);
    call->slug = slug ? slug : alt;
    call->arguments = args;
    if (call->slug == NULL || call->slug[0] == '\0') {
        http_reply_error(r, ERR_VALIDATION, "'tool_slug' is required");
        return -1;
    }
    if (meta_only && !metatools_is_meta(call->slug)) {
        http_reply_error(r, ERR_VALIDATION, "'%.128s' is not a meta tool; use /execute",
                         call->slug);
        return -1;
    }
    return 0;
}

static void
execute(struct http_req *r, int meta_only)
{
    json_t *body;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct st_session s = {0};
    struct err e;
    struct exec_call call = {.project_id = api_project(r), .session = &s, .via = "rest"};
    struct tool_exec *x = NULL;
    int rc = -1;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &s, &e) != 0)
        api_fail(r, &e);
    else if (exec_call_or_reply(r, body, meta_only, &call) == 0 &&
             (rc = metatools_exec_start(api_core(r), &call, &x, &e)) < 0)
        api_fail(r, &e);
    if (rc == 0) {
        reply_result(r, x);
        metatools_exec_free(x);
    } else if (rc == 1) {
        park(r, x);
    }
    json_decref(body);
    st_session_clear(&s);
}

void
api_session_execute(struct http_req *r)
{
    execute(r, 0);
}

void
api_session_execute_meta(struct http_req *r)
{
    execute(r, 1);
}
