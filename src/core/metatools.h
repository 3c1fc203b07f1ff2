/* metatools.h -- what a tool-router session offers an agent, and running it.
 *
 * Owns the meta tools COMPOSIO_SEARCH_TOOLS, COMPOSIO_MANAGE_CONNECTIONS and
 * COMPOSIO_WAIT_FOR_CONNECTIONS (their JSON Schemas and what they do), which tools a session lists
 * (its search and manage_connections settings, enabled toolkits, per-toolkit tool filters), and the
 * life of one execution: its log_id, its outcome, its log line. The toolkits' own tools are run by
 * core/tools (HTTP calls with the account's credentials); Connect Links come from core/links.
 * The wire formats belong to the faces (api/session_tools.c for REST, mcp/ for MCP).
 *
 * Nothing here blocks. An execution that has to wait -- COMPOSIO_WAIT_FOR_CONNECTIONS until its
 * toolkits settle, a toolkit tool until its account's token is refreshed and its HTTP call
 * returns (and once more after a 401: core/tools.h) -- reports "in flight"; the face
 * parks its request (http_suspend), calls metatools_exec_park with a wake function, and when that
 * runs (once, on any thread) resumes and calls metatools_exec_step. */
#ifndef TETHER_CORE_METATOOLS_H
#define TETHER_CORE_METATOOLS_H
#include <jansson.h>
#include "core/core.h"

#define METATOOLS_WAIT_MAX_S 55 /* COMPOSIO_WAIT_FOR_CONNECTIONS timeout_seconds cap */
#define METATOOLS_WAIT_DEFAULT_S 30

/* Every tool the session offers, in order: the meta tools it enables, then the tools of its
 * enabled toolkits by toolkit slug. Items have the strict tool shape of the Composio API (slug,
 * name, description, input_parameters, output_parameters, toolkit{slug,name,logo}, tags, scopes,
 * version, available_versions, no_auth; never a null member). A new array, or NULL when the
 * session's config cannot be read (out of memory). */
json_t *metatools_list(struct core *c, const struct st_session *s);

/* 1 when slug is one of the meta tools above (whether or not a session enables it). */
int metatools_is_meta(const char *slug);

struct exec_call {
    const char *project_id;
    const struct st_session *session; /* copied by metatools_exec_start */
    const char *slug;                 /* a meta tool or a toolkit tool */
    const json_t *arguments;          /* an object, or NULL for {} (copied) */
    const char *account;              /* toolkit tools: "ca_…", alias or word id; NULL: default */
    const char *via;                  /* "rest" or "mcp", for the log line */
};

struct tool_exec; /* one execution, owned by the face until metatools_exec_free */

/* Starts an execution. Returns 0 when it is finished (read metatools_exec_result), 1 when it is
 * in flight (park, then step), or -1 when nothing ran: ERR_TOOL_NOT_FOUND when the session does
 * not offer slug (unknown, a meta tool it turns off, a toolkit it disables), ERR_VALIDATION when
 * arguments is not an object, ERR_INTERNAL. A tool that runs and fails is not -1: its result
 * carries the error. */
int metatools_exec_start(struct core *c, const struct exec_call *call, struct tool_exec **x,
                         struct err *e);
/* Arranges for wake(arg) to run exactly once, on any thread, when the execution can go on. 0, or
 * -1 when that could not be arranged (wake never runs; the next step finishes at once with what is
 * known). Call once per "in flight" answer, after parking the request. */
int metatools_exec_park(struct tool_exec *x, void (*wake)(void *arg), void *arg);
/* Goes on after the wake: 0 finished, 1 in flight again (park again). */
int metatools_exec_step(struct tool_exec *x);
/* The finished result {"data":{…},"error":null|"…","log_id":"log_…"} (a new reference). The first
 * call logs the execution: log_id, project, user, session, tool, account, outcome, duration. */
json_t *metatools_exec_result(struct tool_exec *x);
void metatools_exec_free(struct tool_exec *x); /* NULL is fine */

#endif
