/* metatools.c -- the session's tool list and its executions: the three meta tools here, toolkit
 * tools through core/tools. See metatools.h for the contract. */
#include "core/metatools.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "catalog/catalog.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/links.h"
#include "core/sessions.h"
#include "core/toolkits.h"
#include "core/tools.h"
#include "core/waiters.h"

#define SEARCH_TOOLS "COMPOSIO_SEARCH_TOOLS"
#define MANAGE_CONNECTIONS "COMPOSIO_MANAGE_CONNECTIONS"
#define WAIT_FOR_CONNECTIONS "COMPOSIO_WAIT_FOR_CONNECTIONS"
#define MAX_TOOLKITS 20 /* toolkits one meta call may name */
#define SEARCH_MAX 50   /* results one search may return */
#define SEARCH_WORDS 16
#define TOOL_VERSION "20250101_00"
#define SLUG_MAX 72 /* longest tool slug (catalogue slugs are at most 64) */

/* ---- schemas --------------------------------------------------------------------------------- */

struct meta_def {
    const char *slug;
    const char *name;
    const char *description;
    const char *input;  /* JSON Schema text */
    const char *output; /* JSON Schema text */
};

static const struct meta_def METAS[] = {
    {SEARCH_TOOLS, "Search tools",
     "Finds tools in this session's toolkits for a task. Describe what you want to do in a few "
     "words; the answer lists matching tools with their input schemas and whether each toolkit "
     "is connected for the user.",
     "{\"type\":\"object\",\"properties\":{"
     "\"query\":{\"type\":\"string\",\"description\":\"What you want to do, e.g. 'send an "
     "email' or 'list my GitHub repositories'.\"},"
     "\"toolkits\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"Only "
     "search these toolkits (slugs such as 'gmail').\"},"
     "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,\"description\":\"Most "
     "results to return (default 10).\"}},"
     "\"required\":[\"query\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"results\":{\"type\":\"array\"},"
     "\"toolkit_connection_statuses\":{\"type\":\"array\"}}}"},
    {MANAGE_CONNECTIONS, "Manage connections",
     "Connects the user's accounts for toolkits. For each toolkit the answer says either that an "
     "account is already connected (and which one) or gives a Connect Link that the user must "
     "open to sign in: show that link to the user, then call COMPOSIO_WAIT_FOR_CONNECTIONS. Set "
     "reinitiate to connect a new account even when one is already connected.",
     "{\"type\":\"object\",\"properties\":{"
     "\"toolkits\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,"
     "\"maxItems\":20,\"description\":\"Toolkit slugs to connect, e.g. ['gmail','github'].\"},"
     "\"alias\":{\"type\":\"string\",\"description\":\"A name for the new connection, to tell "
     "several accounts of one toolkit apart.\"},"
     "\"reinitiate\":{\"type\":\"boolean\",\"description\":\"Start a new connection even when "
     "one is already active.\"}},"
     "\"required\":[\"toolkits\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"results\":{\"type\":\"object\"},"
     "\"message\":{\"type\":\"string\"}}}"},
    {WAIT_FOR_CONNECTIONS, "Wait for connections",
     "Waits until the user has finished connecting the given toolkits (after "
     "COMPOSIO_MANAGE_CONNECTIONS gave them a link), for at most timeout_seconds, and reports "
     "each toolkit's connection status.",
     "{\"type\":\"object\",\"properties\":{"
     "\"toolkits\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,"
     "\"maxItems\":20,\"description\":\"Toolkit slugs to wait for.\"},"
     "\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":55,\"description\":"
     "\"How long to wait at most (default 30).\"}},"
     "\"required\":[\"toolkits\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"results\":{\"type\":\"object\"},"
     "\"all_connected\":{\"type\":\"boolean\"},\"timed_out\":{\"type\":\"boolean\"}}}"},
};
#define NMETAS ((int)(sizeof METAS / sizeof METAS[0]))

static const struct meta_def *
meta_find(const char *slug)
{
    for (int i = 0; i < NMETAS; i++)
        if (strcmp(METAS[i].slug, slug) == 0)
            return &METAS[i];
    return NULL;
}

int
metatools_is_meta(const char *slug)
{
    return slug != NULL && meta_find(slug) != NULL;
}

/* ---- what a session offers ------------------------------------------------------------------- */

/* search.enable (or "enabled") is not false. */
static int
search_enabled(const json_t *cfg)
{
    json_t *s = json_object_get(cfg, "search");
    return !json_is_false(json_object_get(s, "enable")) &&
           !json_is_false(json_object_get(s, "enabled"));
}

static int
wait_enabled(const json_t *cfg)
{
    json_t *m = json_object_get(cfg, "manage_connections");
    return session_manage_connections(cfg) &&
           !json_is_false(json_object_get(m, "enable_wait_for_connections"));
}

static int
meta_offered(const json_t *cfg, const char *slug)
{
    if (strcmp(slug, SEARCH_TOOLS) == 0)
        return search_enabled(cfg);
    if (strcmp(slug, MANAGE_CONNECTIONS) == 0)
        return session_manage_connections(cfg);
    if (strcmp(slug, WAIT_FOR_CONNECTIONS) == 0)
        return wait_enabled(cfg);
    return 0;
}

static int
in_string_array(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcasecmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

/* The session's "tools" filter for a toolkit: {slug: [..] | {"enable":[..]} | {"disable":[..]}}. */
static int
tool_allowed(const json_t *cfg, const char *toolkit, const char *tool)
{
    json_t *f = json_object_get(json_object_get(cfg, "tools"), toolkit);
    if (json_is_array(f))
        return in_string_array(f, tool);
    if (!json_is_object(f))
        return 1;
    json_t *en = json_object_get(f, "enable"), *dis = json_object_get(f, "disable");
    if (json_is_array(en))
        return in_string_array(en, tool);
    if (json_is_array(dis))
        return !in_string_array(dis, tool);
    return 1;
}

/* The toolkit tool slug names, when the session offers it: 1 and *t, else 0. */
static int
tool_offered(const json_t *cfg, const char *slug, const struct catalog_toolkit **t)
{
    const json_t *tool = catalog_tool(slug, t);
    return tool != NULL && *t != NULL && session_toolkit_enabled(cfg, (*t)->slug) &&
           tool_allowed(cfg, (*t)->slug, slug);
}

static json_t *
meta_item(const struct meta_def *m)
{
    json_t *in = json_loads(m->input, 0, NULL), *out = json_loads(m->output, 0, NULL);
    return json_pack("{ss ss ss so so s{ss ss ss} s[] s[] ss s[s] sb}", "slug", m->slug, "name",
                     m->name, "description", m->description, "input_parameters",
                     in ? in : json_object(), "output_parameters", out ? out : json_object(),
                     "toolkit", "slug", "composio", "name", "Composio", "logo", "", "tags",
                     "scopes", "version", TOOL_VERSION, "available_versions", TOOL_VERSION,
                     "no_auth", 1);
}

json_t *
metatools_list(struct core *c, const struct st_session *s)
{
    json_t *cfg = sessions_config(s), *items = json_array();
    if (cfg == NULL || items == NULL) {
        json_decref(cfg);
        json_decref(items);
        return NULL;
    }
    for (int i = 0; i < NMETAS; i++)
        if (meta_offered(cfg, METAS[i].slug))
            json_array_append_new(items, meta_item(&METAS[i]));
    for (size_t i = 0; i < catalog_count(); i++) {
        const struct catalog_toolkit *t = catalog_at(i);
        if (!session_toolkit_enabled(cfg, t->slug))
            continue;
        size_t j;
        json_t *tool;
        json_array_foreach(t->tools, j, tool)
        {
            const char *slug = json_string_value(json_object_get(tool, "slug"));
            if (slug != NULL && tool_allowed(cfg, t->slug, slug))
                json_array_append_new(items, tools_item(t, tool));
        }
    }
    json_decref(cfg);
    return items;
}

/* ---- one execution --------------------------------------------------------------------------- */

enum exec_kind { EX_SEARCH, EX_MANAGE, EX_WAIT, EX_TOOL };

struct tool_exec {
    struct core *c;
    enum exec_kind kind;
    struct st_session s; /* own copy: id, project, user, config */
    json_t *cfg;
    json_t *args;
    char slug[SLUG_MAX];
    char *account_sel;
    char via[8];
    char log_id[STORE_ID];
    int64_t t0_us;
    /* outcome */
    json_t *data;
    char *error;
    char account[256]; /* accounts used or created, comma-joined ("" none), for the log */
    int logged;
    /* COMPOSIO_WAIT_FOR_CONNECTIONS */
    char toolkits[MAX_TOOLKITS][STORE_ID];
    size_t ntk;
    int64_t deadline_ms; /* time_mono_ms */
    int64_t started_ms;
    int cannot_park;
    char pending[MAX_TOOLKITS][STORE_ID];
    size_t npending;
    /* toolkit tools */
    struct tool_run *run;
    struct outbound_req *req;
    void (*wake)(void *arg);
    void *wake_arg;
};

/* Adds an account id to the ones the log line names. */
static void
note_account(struct tool_exec *x, const char *id)
{
    size_t n = strlen(x->account);
    if (id[0] != '\0' && n + strlen(id) + 2 < sizeof x->account)
        snprintf(x->account + n, sizeof x->account - n, "%s%s", n ? "," : "", id);
}

/* Records the outcome: data (consumed; NULL means {}) and an error sentence (NULL: none). */
static void
finish(struct tool_exec *x, json_t *data, const char *error)
{
    json_decref(x->data);
    x->data = json_is_object(data) ? data : json_object();
    if (data != NULL && !json_is_object(data))
        json_decref(data);
    free(x->error);
    x->error = error ? strdup(error) : NULL;
}

static void finishf(struct tool_exec *x, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finishf(struct tool_exec *x, json_t *data, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    finish(x, data, msg);
}

/* Reads the toolkits argument (an array of slugs, or one slug) into x->toolkits, lower-cased and
 * without duplicates. 0, or -1 with the tool's error recorded. */
static int
read_toolkits(struct tool_exec *x)
{
    json_t *v = json_object_get(x->args, "toolkits");
    json_t *one = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    size_t i;
    json_t *s;
    int rc = 0;
    if (!json_is_array(one) || json_array_size(one) == 0 || json_array_size(one) > MAX_TOOLKITS) {
        finishf(x, NULL, "'toolkits' must be a list of 1 to %d toolkit slugs", MAX_TOOLKITS);
        rc = -1;
    }
    json_array_foreach(rc == 0 ? one : NULL, i, s)
    {
        const char *slug = json_string_value(s);
        size_t n = slug ? strlen(slug) : 0;
        if (n == 0 || n >= STORE_ID) {
            finishf(x, NULL, "'toolkits' must hold toolkit slugs such as \"gmail\"");
            rc = -1;
            break;
        }
        char low[STORE_ID];
        for (size_t k = 0; k <= n; k++)
            low[k] = (char)tolower((unsigned char)slug[k]);
        size_t k;
        for (k = 0; k < x->ntk && strcmp(x->toolkits[k], low) != 0; k++)
            ;
        if (k == x->ntk)
            memcpy(x->toolkits[x->ntk++], low, n + 1);
    }
    json_decref(one);
    return rc;
}

/* -1 (recording the error) when args has a key outside allowed. */
static int
only_keys(struct tool_exec *x, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(x->args, key, v)
    {
        const char *const *a;
        for (a = allowed; *a && strcmp(*a, key) != 0; a++)
            ;
        if (*a == NULL) {
            finishf(x, NULL, "unknown argument '%.64s' for %s", key, x->slug);
            return -1;
        }
    }
    return 0;
}

/* The session's row for one toolkit (its account in use, if any). 0 and *page with one row, or
 * -1 when the toolkit is not in the session (page cleared). */
static int
toolkit_row(struct tool_exec *x, const char *slug, struct toolkit_page *page)
{
    const char *only[2] = {slug, NULL};
    struct toolkits_query q = {.only = only, .connected = -1, .offset = 0, .limit = 1};
    struct err e;
    if (toolkits_for_session(x->c, &x->s, &q, page, &e) != 0 || page->n != 1) {
        toolkit_page_clear(page);
        return -1;
    }
    return 0;
}

static const char *
account_identity(const struct st_account *a, json_t **keep)
{
    *keep = a->data ? json_loads(a->data, 0, NULL) : NULL;
    return json_string_value(json_object_get(*keep, "identity"));
}

/* {"status":"connected", "connected_account_id", "alias"?, "identity"?} */
static json_t *
connected_json(const struct st_account *a)
{
    json_t *d;
    const char *ident = account_identity(a, &d);
    json_t *o = json_pack("{ss ss ss}", "status", "connected", "connected_account_id", a->id,
                          "word_id", a->word_id);
    if (a->alias)
        json_object_set_new(o, "alias", json_string(a->alias));
    if (ident)
        json_object_set_new(o, "identity", json_string(ident));
    json_decref(d);
    return o;
}

static json_t *
error_json(const char *msg)
{
    return json_pack("{ss ss}", "status", "error", "error", msg);
}

/* Where the toolkit stands before anything is done: a final per-toolkit answer (unknown, not in
 * the session, no auth needed), or NULL and *t to go on. */
static json_t *
toolkit_precheck(struct tool_exec *x, const char *slug, const struct catalog_toolkit **t)
{
    char msg[200];
    *t = catalog_get(slug);
    if (*t == NULL) {
        snprintf(msg, sizeof msg, "unknown toolkit '%.64s'", slug);
        return error_json(msg);
    }
    if (!session_toolkit_enabled(x->cfg, slug)) {
        snprintf(msg, sizeof msg, "toolkit '%.64s' is not enabled in this session", slug);
        return error_json(msg);
    }
    if ((*t)->no_auth)
        return json_pack("{ss ss}", "status", "no_auth_required", "message",
                         "this toolkit needs no connection; its tools can be used directly");
    return NULL;
}

/* COMPOSIO_MANAGE_CONNECTIONS for one toolkit. */
static json_t *
manage_one(struct tool_exec *x, const char *slug, const char *alias, int reinitiate)
{
    const struct catalog_toolkit *t;
    json_t *pre = toolkit_precheck(x, slug, &t);
    if (pre != NULL)
        return pre;
    struct toolkit_page page;
    if (toolkit_row(x, slug, &page) != 0)
        return error_json("cannot read the toolkit's connection");
    const struct toolkit_row *row = &page.rows[0];
    int active = row->has_account && strcmp(row->account.status, "ACTIVE") == 0;
    const char *pin = session_pinned_account(x->cfg, slug);
    json_t *res = NULL;
    char msg[1024];
    if (active && !reinitiate) {
        res = connected_json(&row->account);
        note_account(x, row->account.id);
    } else if (pin != NULL && !session_multi_account(x->cfg)) {
        snprintf(msg, sizeof msg,
                 "this session pins connected account %s for %s (status %s); create a session "
                 "without the pin to connect another account",
                 pin, slug, row->has_account ? row->account.status : "unknown");
        res = error_json(msg);
    }
    toolkit_page_clear(&page);
    if (res != NULL)
        return res;
    json_t *mc = json_object_get(x->cfg, "manage_connections");
    struct link_request rq = {.project_id = x->s.project_id,
                              .session_id = x->s.id,
                              .user_id = x->s.user_id,
                              .toolkit = slug,
                              .callback_url =
                                  json_string_value(json_object_get(mc, "callback_url")),
                              .alias = alias,
                              .auth_config_id = session_pinned_auth_config(x->cfg, slug)};
    struct link_created out;
    struct err e;
    if (links_create(x->c, &rq, &out, &e) != 0) {
        snprintf(msg, sizeof msg, "%s%s%s", e.message, e.fix[0] ? "; " : "", e.fix);
        return error_json(msg);
    }
    note_account(x, out.account_id);
    char when[32];
    time_iso8601(out.expires_at, when);
    snprintf(msg, sizeof msg, "Ask the user to open this link to connect %s: %s", t->name,
             out.redirect_url);
    return json_pack("{ss ss ss ss ss}", "status", "initiated", "connected_account_id",
                     out.account_id, "redirect_url", out.redirect_url, "expires_at", when,
                     "instruction", msg);
}

static void
run_manage(struct tool_exec *x)
{
    static const char *const keys[] = {"toolkits", "alias", "reinitiate", NULL};
    json_t *alias = json_object_get(x->args, "alias"), *re = json_object_get(x->args, "reinitiate");
    if (only_keys(x, keys) != 0 || read_toolkits(x) != 0)
        return;
    if ((alias && !json_is_null(alias) &&
         (!json_is_string(alias) || json_string_length(alias) == 0 ||
          json_string_length(alias) > 100)) ||
        (re && !json_is_null(re) && !json_is_boolean(re))) {
        finishf(x, NULL,
                "'alias' must be a string of 1 to 100 characters and 'reinitiate' a "
                "boolean");
        return;
    }
    json_t *results = json_object();
    size_t errors = 0, initiated = 0;
    for (size_t i = 0; i < x->ntk; i++) {
        json_t *r = manage_one(x, x->toolkits[i], json_string_value(alias), json_is_true(re));
        const char *st = json_string_value(json_object_get(r, "status"));
        st = st ? st : "error";
        errors += strcmp(st, "error") == 0;
        initiated += strcmp(st, "initiated") == 0;
        json_object_set_new(results, x->toolkits[i], r);
    }
    char msg[400];
    if (initiated > 0)
        snprintf(msg, sizeof msg,
                 "Show the user the redirect_url of each toolkit with status \"initiated\" and ask "
                 "them to open it and sign in.%s",
                 wait_enabled(x->cfg) ? " Then call " WAIT_FOR_CONNECTIONS
                                        " with those toolkits to know when they are connected."
                                      : "");
    else
        snprintf(msg, sizeof msg, "%s",
                 errors == x->ntk ? "No toolkit could be connected: see results."
                 : errors > 0     ? "Some toolkits could not be connected: see results."
                                  : "Every toolkit is connected; nothing for the user to do.");
    json_t *data = json_pack("{so ss}", "results", results, "message", msg);
    if (errors == x->ntk)
        finishf(x, data, "no toolkit could be connected: see results");
    else
        finish(x, data, NULL);
}

/* ---- COMPOSIO_WAIT_FOR_CONNECTIONS ----------------------------------------------------------- */

/* The user's newest account for the toolkit, pending only or any status. 1 and *out, or 0. */
static int
newest_account(struct tool_exec *x, const char *slug, int pending, struct st_account *out)
{
    static const char *const PENDING[] = {"INITIATED", "INITIALIZING", NULL};
    const char *users[2] = {x->s.user_id, NULL}, *tks[2] = {slug, NULL};
    struct st_account_query q = {.project_id = x->s.project_id,
                                 .user_ids = users,
                                 .toolkits = tks,
                                 .statuses = pending ? PENDING : NULL,
                                 .limit = 1};
    struct st_account_page page = {0};
    int found = store_account_list(x->c->store, &q, &page) == 0 && page.n > 0;
    if (found) {
        *out = page.items[0];
        memset(&page.items[0], 0, sizeof page.items[0]);
    }
    st_account_page_clear(&page);
    return found;
}

/* One toolkit's state; 1 when still pending (its account id added to x->pending). */
static int
wait_one(struct tool_exec *x, const char *slug, json_t **res)
{
    const struct catalog_toolkit *t;
    if ((*res = toolkit_precheck(x, slug, &t)) != NULL)
        return 0;
    struct toolkit_page page;
    if (toolkit_row(x, slug, &page) != 0) {
        *res = error_json("cannot read the toolkit's connection");
        return 0;
    }
    if (page.rows[0].has_account && strcmp(page.rows[0].account.status, "ACTIVE") == 0) {
        *res = connected_json(&page.rows[0].account);
        toolkit_page_clear(&page);
        return 0;
    }
    toolkit_page_clear(&page);
    struct st_account a = {0};
    if (newest_account(x, slug, 1, &a)) {
        *res = json_pack("{ss ss ss}", "status", "pending", "connected_account_id", a.id, "message",
                         "the user has not finished connecting yet");
        memcpy(x->pending[x->npending++], a.id, STORE_ID);
        st_account_clear(&a);
        return 1;
    }
    if (newest_account(x, slug, 0, &a)) {
        *res = json_pack("{ss ss ss*}", "status", a.status, "connected_account_id", a.id,
                         "status_reason", a.status_reason);
        st_account_clear(&a);
        return 0;
    }
    *res = json_pack("{ss ss}", "status", "not_connected", "message",
                     "no connection was started; call " MANAGE_CONNECTIONS " first");
    return 0;
}

/* Checks every toolkit; 0 finished (result recorded), 1 still waiting. */
static int
wait_check(struct tool_exec *x)
{
    json_t *results = json_object();
    x->npending = 0;
    size_t connected = 0;
    for (size_t i = 0; i < x->ntk; i++) {
        json_t *r;
        wait_one(x, x->toolkits[i], &r);
        const char *st = json_string_value(json_object_get(r, "status"));
        st = st ? st : "error";
        connected += strcmp(st, "connected") == 0 || strcmp(st, "no_auth_required") == 0;
        json_object_set_new(results, x->toolkits[i], r);
    }
    int64_t now = time_mono_ms();
    if (x->npending > 0 && now < x->deadline_ms && !x->cannot_park) {
        json_decref(results);
        return 1;
    }
    int timed_out = x->npending > 0;
    const char *msg = connected == x->ntk ? "All toolkits are connected."
                      : timed_out ? "Some toolkits are still waiting for the user; call again "
                                    "to keep waiting."
                                  : "Some toolkits are not connected; see results.";
    json_t *data = json_pack("{so sb sb sI ss}", "results", results, "all_connected",
                             connected == x->ntk, "timed_out", timed_out, "waited_ms",
                             (json_int_t)(now - x->started_ms), "message", msg);
    finish(x, data, NULL);
    return 0;
}

static int
run_wait(struct tool_exec *x)
{
    static const char *const keys[] = {"toolkits", "timeout_seconds", NULL};
    json_t *to = json_object_get(x->args, "timeout_seconds");
    json_int_t secs = METATOOLS_WAIT_DEFAULT_S;
    if (only_keys(x, keys) != 0 || read_toolkits(x) != 0)
        return 0;
    if (to != NULL && !json_is_null(to)) {
        if (!json_is_integer(to) || json_integer_value(to) < 0 ||
            json_integer_value(to) > METATOOLS_WAIT_MAX_S) {
            finishf(x, NULL, "'timeout_seconds' must be a whole number from 0 to %d",
                    METATOOLS_WAIT_MAX_S);
            return 0;
        }
        secs = json_integer_value(to);
    }
    x->started_ms = time_mono_ms();
    x->deadline_ms = x->started_ms + secs * 1000;
    return wait_check(x);
}

/* One wake shared by several waiters: the first to fire wakes the execution, the last frees it. */
struct once {
    atomic_int fired;
    atomic_int refs;
    void (*wake)(void *arg);
    void *arg;
};

static void
once_release(struct once *o)
{
    if (atomic_fetch_sub(&o->refs, 1) == 1)
        free(o);
}

static void
once_fire(void *p)
{
    struct once *o = p;
    if (atomic_exchange(&o->fired, 1) == 0)
        o->wake(o->arg);
    once_release(o);
}

static int
park_wait(struct tool_exec *x, void (*wake)(void *), void *arg)
{
    struct once *o = calloc(1, sizeof *o);
    if (o == NULL)
        return -1;
    o->wake = wake;
    o->arg = arg;
    atomic_init(&o->refs, 1); /* held while registering */
    atomic_init(&o->fired, 0);
    size_t added = 0;
    for (size_t i = 0; i < x->npending; i++) {
        atomic_fetch_add(&o->refs, 1);
        if (waiters_add(x->pending[i], x->deadline_ms, once_fire, o) == 0)
            added++;
        else
            atomic_fetch_sub(&o->refs, 1);
    }
    if (added == 0) {
        free(o);
        return -1;
    }
    /* A change between the check and the registration would go unnoticed: look once more. */
    for (size_t i = 0; i < x->npending; i++) {
        struct st_account a = {0};
        if (store_account_get(x->c->store, x->s.project_id, x->pending[i], &a) != 0)
            continue;
        int still = strcmp(a.status, "INITIATED") == 0 || strcmp(a.status, "INITIALIZING") == 0;
        st_account_clear(&a);
        if (!still)
            waiters_notify(x->pending[i]);
    }
    once_release(o);
    return 0;
}

/* ---- COMPOSIO_SEARCH_TOOLS ------------------------------------------------------------------- */

struct hit {
    const struct catalog_toolkit *t;
    const json_t *tool;
    int score;
};

static int
hit_cmp(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->score != y->score)
        return y->score - x->score;
    return strcmp(json_string_value(json_object_get(x->tool, "slug")),
                  json_string_value(json_object_get(y->tool, "slug")));
}

/* Splits q into lower-case words of 2+ letters or digits. */
static size_t
query_words(const char *q, char words[SEARCH_WORDS][48])
{
    size_t n = 0, len = 0;
    for (const char *p = q;; p++) {
        if (*p != '\0' && isalnum((unsigned char)*p)) {
            if (len < 47)
                words[n][len++] = (char)tolower((unsigned char)*p);
            continue;
        }
        if (len >= 2) {
            words[n][len] = '\0';
            if (++n == SEARCH_WORDS)
                break;
        }
        len = 0;
        if (*p == '\0')
            break;
    }
    return n;
}

static int
score_tool(const struct catalog_toolkit *t, const json_t *tool, char words[][48], size_t n)
{
    const char *slug = json_string_value(json_object_get(tool, "slug"));
    const char *name = json_string_value(json_object_get(tool, "name"));
    const char *desc = json_string_value(json_object_get(tool, "description"));
    int score = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        score += (strcasecmp(t->slug, w) == 0 || strcasecmp(t->name, w) == 0) ? 3 : 0;
        score += slug && strcasestr(slug, w) ? 3 : 0;
        score += name && strcasestr(name, w) ? 2 : 0;
        score += desc && strcasestr(desc, w) ? 1 : 0;
    }
    return score;
}

static json_t *
connection_status(struct tool_exec *x, const struct catalog_toolkit *t)
{
    json_t *o = json_pack("{ss sb}", "toolkit", t->slug, "no_auth", t->no_auth);
    struct toolkit_page page;
    int active = 0;
    if (!t->no_auth && toolkit_row(x, t->slug, &page) == 0) {
        const struct toolkit_row *row = &page.rows[0];
        active = row->has_account && strcmp(row->account.status, "ACTIVE") == 0;
        if (active)
            json_object_set_new(o, "connected_account_id", json_string(row->account.id));
        toolkit_page_clear(&page);
    }
    json_object_set_new(o, "connected", json_boolean(active || t->no_auth));
    return o;
}

static void
search_results(struct tool_exec *x, struct hit *hits, size_t nhits, json_int_t limit)
{
    qsort(hits, nhits, sizeof *hits, hit_cmp);
    json_t *results = json_array(), *statuses = json_array();
    const struct catalog_toolkit *seen[SEARCH_MAX];
    size_t nseen = 0;
    for (size_t i = 0; i < nhits && (json_int_t)i < limit; i++) {
        json_t *tool = (json_t *)hits[i].tool;
        json_array_append_new(
            results, json_pack("{sO sO sO ss sO}", "slug", json_object_get(tool, "slug"), "name",
                               json_object_get(tool, "name"), "description",
                               json_object_get(tool, "description"), "toolkit", hits[i].t->slug,
                               "input_parameters", json_object_get(tool, "input_parameters")));
        size_t k;
        for (k = 0; k < nseen && seen[k] != hits[i].t; k++)
            ;
        if (k == nseen) {
            seen[nseen++] = hits[i].t;
            json_array_append_new(statuses, connection_status(x, hits[i].t));
        }
    }
    const char *msg = json_array_size(results) == 0 ? "No tool matched; try other words."
                                                    : "Call a tool by its slug. For a toolkit that "
                                                      "is not connected, call " MANAGE_CONNECTIONS
                                                      " first.";
    finish(x,
           json_pack("{so so ss}", "results", results, "toolkit_connection_statuses", statuses,
                     "message", msg),
           NULL);
}

static void
run_search(struct tool_exec *x)
{
    static const char *const keys[] = {"query", "toolkits", "limit", NULL};
    json_t *q = json_object_get(x->args, "query"), *lim = json_object_get(x->args, "limit");
    if (only_keys(x, keys) != 0)
        return;
    if (!json_is_string(q) || json_string_length(q) == 0 || json_string_length(q) > 500) {
        finishf(x, NULL, "'query' must be a string of 1 to 500 characters");
        return;
    }
    if (lim != NULL && !json_is_null(lim) &&
        (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
         json_integer_value(lim) > SEARCH_MAX)) {
        finishf(x, NULL, "'limit' must be a whole number from 1 to %d", SEARCH_MAX);
        return;
    }
    if (json_object_get(x->args, "toolkits") != NULL && read_toolkits(x) != 0)
        return;
    char words[SEARCH_WORDS][48];
    size_t nw = query_words(json_string_value(q), words);
    size_t cap = 64, nhits = 0;
    struct hit *hits = malloc(cap * sizeof *hits);
    for (size_t i = 0; hits != NULL && i < catalog_count(); i++) {
        const struct catalog_toolkit *t = catalog_at(i);
        size_t k;
        for (k = 0; k < x->ntk && strcmp(x->toolkits[k], t->slug) != 0; k++)
            ;
        if (!session_toolkit_enabled(x->cfg, t->slug) || (x->ntk > 0 && k == x->ntk))
            continue;
        size_t j;
        json_t *tool;
        json_array_foreach(t->tools, j, tool)
        {
            const char *slug = json_string_value(json_object_get(tool, "slug"));
            int sc =
                slug && tool_allowed(x->cfg, t->slug, slug) ? score_tool(t, tool, words, nw) : 0;
            if (sc == 0)
                continue;
            if (nhits == cap) {
                struct hit *h = realloc(hits, 2 * cap * sizeof *hits);
                if (h == NULL)
                    break;
                hits = h;
                cap *= 2;
            }
            hits[nhits++] = (struct hit){t, tool, sc};
        }
    }
    if (hits == NULL) {
        finishf(x, NULL, "out of memory");
        return;
    }
    search_results(x, hits, nhits, lim && json_is_integer(lim) ? json_integer_value(lim) : 10);
    free(hits);
}

/* ---- toolkit tools --------------------------------------------------------------------------- */

/* The tools module's body {"data","error","successful","log_id"} as our outcome. */
static void
take_tool_result(struct tool_exec *x)
{
    json_t *r = tools_result(x->run);
    const char *log_id = json_string_value(json_object_get(r, "log_id"));
    if (log_id != NULL && strlen(log_id) < sizeof x->log_id)
        snprintf(x->log_id, sizeof x->log_id, "%s", log_id);
    note_account(x, tools_run_account(x->run));
    json_t *err = json_object_get(r, "error");
    finish(x, json_incref(json_object_get(r, "data")),
           json_is_string(err)                               ? json_string_value(err)
           : json_is_false(json_object_get(r, "successful")) ? "the tool call failed"
                                                             : NULL);
    json_decref(r);
}

/* A refresh the run waited for has settled (any thread): the face's wake, set by the park. */
static void
tool_woke(void *arg)
{
    struct tool_exec *x = arg;
    x->wake(x->wake_arg);
}

/* Finishes with a failure to start or go on. */
static void
finish_err(struct tool_exec *x, const struct err *e)
{
    if (e->fix[0])
        finishf(x, NULL, "%.255s; %.191s", e->message, e->fix);
    else
        finish(x, NULL, e->message);
}

/* 0 finished, 1 in flight (x->req, or a refresh the run waits for, waits for park). */
static int
run_tool(struct tool_exec *x)
{
    struct tool_call in = {.project_id = x->s.project_id,
                           .session = &x->s,
                           .user_id = x->s.user_id,
                           .account = x->account_sel,
                           .tool_slug = x->slug,
                           .arguments = x->args,
                           .wake = tool_woke,
                           .wake_arg = x};
    struct err e;
    if (tools_begin(x->c, &in, &x->run, &x->req, &e) != 0) {
        finish_err(x, &e);
        return 0;
    }
    if (x->req == NULL && !tools_run_waiting(x->run)) {
        take_tool_result(x);
        return 0;
    }
    return 1;
}

/* After a wake: the next request (after a refresh, or the one retry after a 401), another wait,
 * or the result. 0 finished, 1 in flight. */
static int
tool_step(struct tool_exec *x)
{
    struct err e;
    if (tools_continue(x->c, x->run, &x->req, &e) != 0) {
        finish_err(x, &e);
        return 0;
    }
    if (x->req != NULL || tools_run_waiting(x->run))
        return 1;
    take_tool_result(x);
    return 0;
}

static void
tool_done(void *arg, const struct outbound_res *res)
{
    struct tool_exec *x = arg;
    tools_done(x->run, res);
    x->wake(x->wake_arg);
}

static int
park_tool(struct tool_exec *x, void (*wake)(void *), void *arg)
{
    struct outbound_req *req = x->req;
    x->req = NULL;
    x->wake = wake;
    x->wake_arg = arg;
    if (req == NULL) { /* waiting for a refresh */
        tools_parked(x->run);
        return 0;
    }
    if (outbound_submit(req, tool_done, x) != 0) {
        tools_fail(x->run, "the server is too busy to make the call now");
        return -1;
    }
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static int
copy_session(struct tool_exec *x, const struct st_session *s)
{
    x->s = *s;
    x->s.user_id = strdup(s->user_id ? s->user_id : "");
    x->s.config = s->config ? strdup(s->config) : NULL;
    x->cfg = sessions_config(s);
    return x->s.user_id && (x->s.config || !s->config) && x->cfg ? 0 : -1;
}

int
metatools_exec_start(struct core *c, const struct exec_call *call, struct tool_exec **out,
                     struct err *e)
{
    const struct catalog_toolkit *t = NULL;
    if (call->arguments != NULL && !json_is_object(call->arguments))
        return err_set(e, ERR_VALIDATION, "'arguments' must be an object");
    if (call->slug == NULL || strlen(call->slug) >= SLUG_MAX)
        return err_set(e, ERR_TOOL_NOT_FOUND, "no tool named '%.72s'",
                       call->slug ? call->slug : "");
    struct tool_exec *x = calloc(1, sizeof *x);
    if (x == NULL || copy_session(x, call->session) != 0) {
        metatools_exec_free(x);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    x->c = c;
    x->t0_us = time_mono_us();
    snprintf(x->slug, sizeof x->slug, "%s", call->slug);
    snprintf(x->via, sizeof x->via, "%s", call->via ? call->via : "rest");
    ids_new(x->log_id, sizeof x->log_id, "log_");
    x->args = call->arguments ? json_deep_copy(call->arguments) : json_object();
    x->account_sel = call->account && call->account[0] ? strdup(call->account) : NULL;
    if (metatools_is_meta(x->slug) && !meta_offered(x->cfg, x->slug)) {
        err_set(e, ERR_TOOL_NOT_FOUND, "%s is not available in this session", x->slug);
        if (strcmp(x->slug, SEARCH_TOOLS) != 0)
            err_fix(e, "the session was created with manage_connections disabled: the app "
                       "connects accounts in its own UI (or update the session to enable it)");
        metatools_exec_free(x);
        return -1;
    }
    if (!metatools_is_meta(x->slug) && !tool_offered(x->cfg, x->slug, &t)) {
        err_set(e, ERR_TOOL_NOT_FOUND, "no tool named '%s' in this session", x->slug);
        err_fix(e, "list the session's tools, or search with " SEARCH_TOOLS);
        metatools_exec_free(x);
        return -1;
    }
    *out = x;
    if (strcmp(x->slug, MANAGE_CONNECTIONS) == 0) {
        x->kind = EX_MANAGE;
        run_manage(x);
        return 0;
    }
    if (strcmp(x->slug, WAIT_FOR_CONNECTIONS) == 0) {
        x->kind = EX_WAIT;
        return run_wait(x);
    }
    if (strcmp(x->slug, SEARCH_TOOLS) == 0) {
        x->kind = EX_SEARCH;
        run_search(x);
        return 0;
    }
    x->kind = EX_TOOL;
    return run_tool(x);
}

int
metatools_exec_park(struct tool_exec *x, void (*wake)(void *arg), void *arg)
{
    int in_flight = x->req != NULL || (x->run != NULL && tools_run_waiting(x->run));
    int rc = x->kind == EX_WAIT                ? park_wait(x, wake, arg)
             : x->kind == EX_TOOL && in_flight ? park_tool(x, wake, arg)
                                               : -1;
    if (rc != 0)
        x->cannot_park = 1;
    return rc;
}

int
metatools_exec_step(struct tool_exec *x)
{
    if (x->kind == EX_WAIT)
        return wait_check(x);
    if (x->kind == EX_TOOL && x->run != NULL && x->data == NULL)
        return tool_step(x);
    if (x->data == NULL)
        finish(x, NULL, "the execution was interrupted");
    return 0;
}

static void
log_exec(struct tool_exec *x)
{
    char user[96], why[160];
    log_info("tool.executed",
             "log_id=%s project=%s session=%s user=%s tool=%s account=%s via=%s outcome=%s "
             "error=%s dur_ms=%.1f",
             x->log_id, x->s.project_id, x->s.id, log_quote(x->s.user_id, user, sizeof user),
             x->slug, x->account[0] ? x->account : "-", x->via, x->error ? "error" : "ok",
             log_quote(x->error ? x->error : "", why, sizeof why),
             (double)(time_mono_us() - x->t0_us) / 1000.0);
}

json_t *
metatools_exec_result(struct tool_exec *x)
{
    if (x->data == NULL)
        finish(x, NULL, "the execution did not finish");
    if (!x->logged) {
        x->logged = 1;
        log_exec(x);
    }
    return json_pack("{sO ss? ss}", "data", x->data, "error", x->error, "log_id", x->log_id);
}

void
metatools_exec_free(struct tool_exec *x)
{
    if (x == NULL)
        return;
    free(x->s.user_id);
    free(x->s.config);
    json_decref(x->cfg);
    json_decref(x->args);
    json_decref(x->data);
    free(x->error);
    free(x->account_sel);
    tools_run_free(x->run);
    outbound_req_free(x->req);
    free(x);
}
