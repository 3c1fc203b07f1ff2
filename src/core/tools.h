/* tools.h -- running a toolkit's tools and raw API calls with one connected account, whose
 * credentials never leave the server.
 *
 *   tools_pick_account   which account a call uses: an explicit selector (id, alias or word id),
 *                        else the session's pin, else the user's most recently connected ACTIVE
 *                        account; multi-account sessions with explicit selection refuse to guess
 *   tools_begin          a catalogue tool (JSON Schema input + HTTP template) -> outbound request
 *   tools_proxy_begin    a raw API call relative to the toolkit's base URL -> outbound request
 *   tools_done           stores the outbound result (engine thread)
 *   tools_result         the reply body, built on an HTTP thread
 *
 * The asynchronous pattern (as in web/link.c): on an HTTP thread call tools_begin (or
 * tools_proxy_begin). On 0 with *req set, suspend the HTTP request, then
 * outbound_submit(*req, cb, ctx) where cb calls tools_done(run, res) and http_resume; when
 * outbound_submit fails (-1, cb never runs) call tools_fail(run, ...) instead and reply at once. On
 * resume, reply with tools_result(run) and tools_run_free(run). On 0 with *req NULL the outcome is
 * already decided (e.g. arguments that do not fit the tool's schema): call tools_result at once.
 * On -1 nothing was started and e says why (ERR_ACCOUNT_NOT_FOUND, code 1803, when no usable
 * account exists or a choice is required; the message then lists the candidates).
 *
 * Refresh and retry (only for calls that give a wake; without one a token near its expiry gets a
 * refresh started, the call goes out with the current token and a 401 is the answer):
 *   - When the account's token has to be refreshed first, tools_begin / tools_proxy_begin return
 *     0 with *req NULL and tools_run_waiting(run) true: suspend the request, then call
 *     tools_parked(run). wake(wake_arg) runs exactly once, on another thread and never before
 *     tools_parked, once the refresh settled; it must only resume the request (http_resume).
 *   - On every resume call tools_continue before replying. It gives the next request to submit
 *     (after a wait, or once after a 401 from the provider of an OAuth2 account: the token is
 *     refreshed first unless someone already replaced it), or waits again (run waiting: park and
 *     tools_parked as above), or 0 with *req NULL and the run not waiting: reply with
 *     tools_result. -1 (e set) only when a wait ended without usable credentials and there is no
 *     answer to show: reply with e.
 * So a caller loops: begin -> (submit | park) -> resume -> continue -> (submit | park | reply).
 *
 * Outbound requests never follow redirects; a redirect comes back as the response it is. Proxy
 * endpoints are resolved against the toolkit's base URL; an absolute URL is accepted only when its
 * scheme, host and port equal the base URL's, it has no userinfo, and its host is not an IP
 * literal (unless the base URL itself is a loopback address, as in tests). */
#ifndef TETHER_CORE_TOOLS_H
#define TETHER_CORE_TOOLS_H
#include <jansson.h>
#include "catalog/catalog.h"
#include "core/core.h"
#include "core/credentials.h"
#include "outbound/outbound.h"

#define TOOLS_MAX_RESPONSE (4 * 1024 * 1024) /* upstream bodies above this fail the call */

/* Picks the account for toolkit t. Exactly one of session / user_id is used: with a session, its
 * user, pins and multi-account settings apply; without one, user_id (may be NULL when selector
 * names an account id) limits the search. selector (NULL or "": none) is a "ca_" id, an alias or a
 * word id of one of the user's accounts for t. The chosen account must be ACTIVE and enabled.
 * 0 and *out (st_account_clear it), or -1 with e: ERR_ACCOUNT_NOT_FOUND when nothing fits or a
 * multi-account session requires a choice (message and fix list the candidates as
 * "ca_… (alias, identity)"), ERR_INTERNAL on storage failure. */
int tools_pick_account(struct core *c, const char *project_id, const struct st_session *session,
                       const char *user_id, const struct catalog_toolkit *t, const char *selector,
                       struct st_account *out, struct err *e);

struct tool_run; /* one tool or proxy call in flight; owned by the caller, tools_run_free */

struct tool_call {
    const char *project_id;
    const struct st_session *session; /* NULL outside a session (then user_id / account) */
    const char *user_id;              /* outside a session; may be NULL when account is an id */
    const char *account;              /* selector: "ca_…", alias or word id; NULL: default */
    const char *tool_slug;   /* a catalogue tool, e.g. "GITHUB_GET_THE_AUTHENTICATED_USER" */
    const json_t *arguments; /* an object, or NULL for {} (copied into the run) */
    cred_wake_fn wake;       /* NULL: never wait for a refresh, never retry (see above) */
    void *wake_arg;
};

/* Builds the tool's request with the chosen account's credentials. Errors (-1, e):
 * ERR_TOOL_NOT_FOUND for an unknown slug (or a toolkit the session disables),
 * ERR_ACCOUNT_NOT_FOUND as in tools_pick_account, ERR_VALIDATION for arguments that are not an
 * object, ERR_INTERNAL. Arguments that break the tool's schema give 0 with *req NULL and a result
 * whose error says what is wrong; a run that waits for a refresh also has *req NULL (then
 * tools_run_waiting). A toolkit with no auth needs no account. */
int tools_begin(struct core *c, const struct tool_call *in, struct tool_run **run,
                struct outbound_req **req, struct err *e);

struct proxy_call {
    const char *project_id;
    const struct st_session *session; /* NULL outside a session */
    const char *toolkit;              /* in a session: which toolkit; outside: NULL (the account
                                         fixes it; when given it must match) */
    const char *account;              /* outside a session: the connected_account_id (required);
                                         in a session: optional selector as in tool_call */
    const char *endpoint;             /* "/path?x=1" relative to base_url, or an absolute URL on
                                         the toolkit's own host */
    const char *method;               /* GET POST PUT DELETE PATCH (HEAD allowed) */
    const json_t *parameters; /* array of {"name","type":"header"|"query","value"} or NULL */
    const json_t *body;       /* NULL: none; a string: sent raw; else sent as JSON */
    cred_wake_fn wake;        /* as in tool_call; the inputs are copied into the run */
    void *wake_arg;
};

/* Builds the proxy request. Errors (-1, e): ERR_VALIDATION (bad method, endpoint, parameters),
 * ERR_FORBIDDEN (endpoint outside the toolkit's hosts), ERR_ACCOUNT_NOT_FOUND,
 * ERR_TOOLKIT_NOT_FOUND, ERR_INTERNAL. *req NULL on 0 only while the run waits for a refresh
 * (and then errors in the request itself come from tools_continue). */
int tools_proxy_begin(struct core *c, const struct proxy_call *in, struct tool_run **run,
                      struct outbound_req **req, struct err *e);

/* 1 while the run waits for a refresh of its account's token (see the header comment). */
int tools_run_waiting(const struct tool_run *run);
/* The caller has suspended its request: the wake may run now (at once, on this thread, when the
 * refresh already settled). Call once per waiting answer; the run may be gone when it returns. */
void tools_parked(struct tool_run *run);
/* After a resume: the next request of the run, if any (see the header comment). 0 with *req set
 * (submit it as before), 0 with the run waiting (park), 0 with neither (reply tools_result), or
 * -1 with e: ERR_UNAVAILABLE when the token expired and could not be refreshed, ERR_BAD_REQUEST
 * when the account is no longer ACTIVE, or the errors of tools_begin / tools_proxy_begin. */
int tools_continue(struct core *c, struct tool_run *run, struct outbound_req **req, struct err *e);

/* Copies what the run needs from res. Safe on the outbound engine thread; call once. */
void tools_done(struct tool_run *run, const struct outbound_res *res);
/* Records a failure to submit (outbound_submit returned -1) as the run's outcome. */
void tools_fail(struct tool_run *run, const char *why);

/* The reply body (a new reference), on an HTTP thread after tools_done or tools_fail:
 *   tool:  {"data":{…},"error":null|"sentence","successful":bool,"log_id":"log_…"}
 *          data is the upstream JSON object (a non-object is wrapped as {"result":…}; non-JSON
 *          text as {"text":"…"}); an upstream status >= 400, a transport error or a timeout is
 *          successful:false with error saying so (data then holds the upstream body if any).
 *   proxy: {"status":N,"data":…,"headers":{…}}: data is the parsed JSON, or the text as a
 *          string; a body that is neither gives data null and "binary_data":{"content_type",
 *          "size","url"} where url is a data: URL (base64), since tether keeps no files. Header
 *          names are lower-cased. On transport failure: status 0, data null, headers {} and
 *          "error" saying why. */
json_t *tools_result(struct tool_run *run);
/* The account the run uses ("" for a no-auth toolkit) and its toolkit slug. */
const char *tools_run_account(const struct tool_run *run);
const char *tools_run_toolkit(const struct tool_run *run);
void tools_run_free(struct tool_run *run); /* NULL is fine */

/* A catalogue tool as the API lists it (GET /tools/{slug}, session tools): slug, name,
 * description, input_parameters, output_parameters, toolkit{slug,name,logo}, tags, scopes,
 * version, available_versions, no_auth; never a null member. New reference. */
json_t *tools_item(const struct catalog_toolkit *t, const json_t *tool);

#endif
