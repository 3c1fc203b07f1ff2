/* mcp.c -- JSON-RPC 2.0 over Streamable HTTP for one tool-router session (see mcp.h).
 * A POST is worked through message by message; a tool call that has to wait parks the request
 * with the batch's progress in its work state and carries on from there when it resumes. */
#include "mcp/mcp.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "api/api.h"
#include "api/handlers.h"
#include "core/metatools.h"
#include "core/sessions.h"
#include "mcp/jsonrpc.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.0.0"
#endif

static const char *const VERSIONS[] = {"2025-06-18", "2025-03-26", "2024-11-05", NULL};

int
mcp_version_supported(const char *v)
{
    for (const char *const *p = VERSIONS; v != NULL && *p != NULL; p++)
        if (strcmp(*p, v) == 0)
            return 1;
    return 0;
}

/* The request's progress, kept across parks. */
struct mcp_state {
    struct st_session s;
    json_t *msgs;        /* array of the POST's messages */
    int batch;           /* the body was an array */
    size_t next;         /* index of the message being worked on */
    json_t *out;         /* responses so far */
    struct tool_exec *x; /* the tool call in flight, for msgs[next] */
};

static void
state_free(void *p)
{
    struct mcp_state *st = p;
    if (st == NULL)
        return;
    st_session_clear(&st->s);
    json_decref(st->msgs);
    json_decref(st->out);
    metatools_exec_free(st->x);
    free(st);
}

/* ---- JSON-RPC messages ----------------------------------------------------------------------- */

/* Answers the whole POST with one JSON-RPC error (no usable message in it). */
static void
reply_rpc_error(struct http_req *r, unsigned status, int code, const char *msg)
{
    http_reply_json(r, status, jsonrpc_error(NULL, code, "%s", msg));
}

/* ---- methods --------------------------------------------------------------------------------- */

static json_t *
do_initialize(json_t *id, const json_t *params)
{
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_object(params) || !json_is_string(pv))
        return jsonrpc_error(id, RPC_INVALID_PARAMS, "initialize needs params.protocolVersion");
    const char *want = json_string_value(pv);
    const char *ver = mcp_version_supported(want) ? want : MCP_LATEST_VERSION;
    return jsonrpc_result(
        id, json_pack("{ss s{s{sb}} s{ss ss ss} ss}", "protocolVersion", ver, "capabilities",
                      "tools", "listChanged", 0, "serverInfo", "name", "tether", "title", "tether",
                      "version", TETHER_VERSION, "instructions",
                      "Tools of one user's session. If a tool needs an account the user has "
                      "not connected, call COMPOSIO_MANAGE_CONNECTIONS and show the user the "
                      "link it returns."));
}

/* The cursor of tools/list: an offset written by us; -1 when it is not one. */
static long
read_cursor(const json_t *params)
{
    json_t *c = json_object_get(params, "cursor");
    if (c == NULL || json_is_null(c))
        return 0;
    const char *s = json_string_value(c);
    if (s == NULL || s[0] == '\0' || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
        return -1;
    return strtol(s, NULL, 10);
}

static json_t *
do_tools_list(struct http_req *r, struct mcp_state *st, json_t *id, const json_t *params)
{
    long off = read_cursor(params);
    if (off < 0)
        return jsonrpc_error(id, RPC_INVALID_PARAMS,
                             "params.cursor is not a cursor from this server");
    json_t *all = metatools_list(api_core(r), &st->s);
    if (all == NULL)
        return jsonrpc_error(id, RPC_INTERNAL_ERROR, "cannot list the session's tools");
    json_t *tools = json_array();
    size_t n = json_array_size(all);
    for (size_t i = (size_t)off; i < n && i < (size_t)off + MCP_PAGE; i++) {
        json_t *it = json_array_get(all, i);
        json_array_append_new(tools, json_pack("{sO sO sO sO}", "name", json_object_get(it, "slug"),
                                               "title", json_object_get(it, "name"), "description",
                                               json_object_get(it, "description"), "inputSchema",
                                               json_object_get(it, "input_parameters")));
    }
    json_t *res = json_pack("{so}", "tools", tools);
    if ((size_t)off + MCP_PAGE < n) {
        char next[24];
        snprintf(next, sizeof next, "%ld", off + MCP_PAGE);
        json_object_set_new(res, "nextCursor", json_string(next));
    }
    json_decref(all);
    return jsonrpc_result(id, res);
}

/* A finished execution as a tools/call result: its {data, error, log_id} as text. */
static json_t *
call_result(json_t *id, struct tool_exec *x)
{
    json_t *body = metatools_exec_result(x);
    char *text = json_dumps(body, JSON_COMPACT);
    int is_error = json_is_string(json_object_get(body, "error"));
    json_decref(body);
    if (text == NULL)
        return jsonrpc_error(id, RPC_INTERNAL_ERROR, "out of memory");
    json_t *res =
        json_pack("{s[{ss ss}] sb}", "content", "type", "text", "text", text, "isError", is_error);
    free(text);
    return jsonrpc_result(id, res);
}

/* tools/call: a response, or NULL when the call is in flight (st->x set). */
static json_t *
do_tools_call(struct http_req *r, struct mcp_state *st, json_t *id, const json_t *params)
{
    json_t *name = json_object_get(params, "name"), *args = json_object_get(params, "arguments");
    if (!json_is_object(params) || !json_is_string(name))
        return jsonrpc_error(id, RPC_INVALID_PARAMS, "tools/call needs params.name");
    if (args != NULL && !json_is_null(args) && !json_is_object(args))
        return jsonrpc_error(id, RPC_INVALID_PARAMS, "params.arguments must be an object");
    struct exec_call call = {.project_id = api_project(r),
                             .session = &st->s,
                             .slug = json_string_value(name),
                             .arguments = json_is_object(args) ? args : NULL,
                             .via = "mcp"};
    struct tool_exec *x = NULL;
    struct err e;
    int rc = metatools_exec_start(api_core(r), &call, &x, &e);
    if (rc < 0)
        return jsonrpc_error(id,
                             e.code == ERR_TOOL_NOT_FOUND || e.code == ERR_VALIDATION
                                 ? RPC_INVALID_PARAMS
                                 : RPC_INTERNAL_ERROR,
                             "%s%s%s", e.message, e.fix[0] ? "; " : "", e.fix);
    if (rc == 1) {
        st->x = x;
        return NULL;
    }
    json_t *res = call_result(id, x);
    metatools_exec_free(x);
    return res;
}

/* Works on one message: a response (new reference), NULL for none, or NULL with st->x set when a
 * tool call is in flight. */
static json_t *
handle(struct http_req *r, struct mcp_state *st, json_t *msg)
{
    json_t *id, *err = NULL;
    const char *method;
    int k = jsonrpc_classify(msg, &id, &method, &err);
    if (k != 0)
        return err;
    if (id == NULL)
        return NULL; /* notifications (initialized, cancelled, ...) need no answer */
    json_t *params = json_object_get(msg, "params");
    if (params != NULL && !json_is_object(params))
        return jsonrpc_error(id, RPC_INVALID_PARAMS, "params must be an object");
    if (strcmp(method, "initialize") == 0)
        return do_initialize(id, params);
    if (strcmp(method, "ping") == 0)
        return jsonrpc_result(id, json_object());
    if (strcmp(method, "tools/list") == 0)
        return do_tools_list(r, st, id, params);
    if (strcmp(method, "tools/call") == 0)
        return do_tools_call(r, st, id, params);
    return jsonrpc_error(id, RPC_METHOD_NOT_FOUND, "method '%.100s' is not supported", method);
}

/* ---- the request ----------------------------------------------------------------------------- */

static void run(struct http_req *r, struct mcp_state *st);

static void
on_wake(void *arg)
{
    http_resume(arg);
}

static void
on_resume(struct http_req *r)
{
    struct mcp_state *st = r->work;
    if (metatools_exec_step(st->x) == 1) {
        http_suspend(r, on_resume, st, state_free);
        if (metatools_exec_park(st->x, on_wake, r) != 0)
            http_resume(r);
        return;
    }
    json_t *msg = json_array_get(st->msgs, st->next);
    json_array_append_new(st->out, call_result(json_object_get(msg, "id"), st->x));
    metatools_exec_free(st->x);
    st->x = NULL;
    st->next++;
    run(r, st);
}

/* Answers the POST once every message is worked on. */
static void
reply(struct http_req *r, struct mcp_state *st)
{
    size_t n = json_array_size(st->out);
    if (n == 0)
        http_reply_bytes(r, 202, "application/json", "", 0, NULL);
    else
        http_reply_json(r, 200,
                        st->batch ? json_incref(st->out) : json_incref(json_array_get(st->out, 0)));
}

static void
run(struct http_req *r, struct mcp_state *st)
{
    while (st->next < json_array_size(st->msgs)) {
        json_t *res = handle(r, st, json_array_get(st->msgs, st->next));
        if (st->x != NULL) {
            http_suspend(r, on_resume, st, state_free);
            if (metatools_exec_park(st->x, on_wake, r) != 0)
                http_resume(r);
            return;
        }
        if (res != NULL)
            json_array_append_new(st->out, res);
        st->next++;
    }
    reply(r, st);
}

/* The body as a list of messages, or -1 after answering with a JSON-RPC error. */
static int
messages_or_reply(struct http_req *r, json_t **msgs, int *batch)
{
    const char *ct = http_header(r, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
        http_reply_json(
            r, 415,
            jsonrpc_error(NULL, RPC_INVALID_REQUEST, "send JSON-RPC messages as application/json"));
        return -1;
    }
    const char *pv = http_header(r, "MCP-Protocol-Version");
    if (pv != NULL && !mcp_version_supported(pv)) {
        http_reply_json(r, 400,
                        jsonrpc_error(NULL, RPC_INVALID_REQUEST,
                                      "unsupported MCP-Protocol-Version '%.40s'", pv));
        return -1;
    }
    json_t *err = NULL;
    if (jsonrpc_parse(r->body.data, r->body.len, MCP_MAX_BATCH, msgs, batch, &err) != 0) {
        http_reply_json(r, 400, err);
        return -1;
    }
    return 0;
}

void
mcp_post(struct http_req *r)
{
    json_t *msgs;
    int batch;
    if (messages_or_reply(r, &msgs, &batch) != 0)
        return;
    struct mcp_state *st = calloc(1, sizeof *st);
    struct err e;
    if (st == NULL || (st->out = json_array()) == NULL) {
        free(st);
        json_decref(msgs);
        reply_rpc_error(r, 500, RPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    st->msgs = msgs;
    st->batch = batch;
    if (sessions_get(api_core(r), api_project(r), r->params[0], &st->s, &e) != 0) {
        state_free(st);
        api_fail(r, &e);
        return;
    }
    r->work = st;
    r->work_free = state_free;
    run(r, st);
}
