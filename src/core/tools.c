/* tools.c -- choosing the account, building tool and proxy requests with its sealed credentials,
 * keeping them on the toolkit's own hosts, and shaping the upstream answer. */
#include "core/tools.h"
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/buf.h"
#include "common/ids.h"
#include "common/url.h"
#include "common/utf8.h"
#include "core/credentials.h"
#include "core/inject.h"
#include "core/sessions.h"

#define MAX_PARAMS 64 /* proxy parameters */
#define MAX_HEADER_VALUE 4096
#define MAX_URL 4096
#define MAX_BODY (1024 * 1024) /* request bodies built from arguments or given to the proxy */
#define TOOL_TIMEOUT_MS 30000

enum run_kind { RUN_TOOL, RUN_PROXY };

/* Where a refresh and a parked request meet: the caller's wake runs once both the refresh has
 * settled and the caller has parked, so it never resumes a request that is not suspended yet.
 * Freed by the second to arrive. */
struct wake_gate {
    cred_wake_fn wake; /* NULL once the run is gone */
    void *arg;
    int arrivals;
};

struct tool_run {
    enum run_kind kind;
    char account_id[STORE_ID];
    char toolkit[STORE_ID];
    char project_id[STORE_ID];
    char log_id[STORE_ID];
    int decided; /* the outcome is known without a response */
    char error[512];
    /* rebuilding the request after a refresh: the inputs, copied ({"tool","arguments"} or
     * {"endpoint","method","parameters","body"}), and how to read the credentials */
    json_t *input;
    cred_wake_fn wake; /* NULL: never wait, never retry */
    void *wake_arg;
    int waiting;             /* for a refresh; tools_continue goes on */
    struct wake_gate *gate;  /* while waiting and not yet parked */
    int attempt;             /* of the next credentials_get */
    int64_t rejected;        /* rejected_expires_at of the next credentials_get */
    int64_t used_expires_at; /* expiry of the token the request carries */
    int oauth;               /* it carries an OAuth2 token: a 401 is worth a refresh */
    int retried;
    json_t *headers; /* response headers as an object, NULL before the response */
    /* the outbound result, copied */
    int have_res;
    long status;
    int timed_out;
    char content_type[128];
    char *body;
    size_t body_len;
    char transport[256];
};

/* ---- choosing the account -------------------------------------------------------------------- */

static int
account_usable(const struct st_account *a)
{
    return strcmp(a->status, "ACTIVE") == 0 && !a->is_disabled;
}

static const char *
account_identity(const struct st_account *a, char *buf, size_t len)
{
    json_t *d = a->data ? json_loads(a->data, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(d, "identity"));
    snprintf(buf, len, "%s", id ? id : "");
    json_decref(d);
    return buf;
}

static int
selector_matches(const struct st_account *a, const char *sel)
{
    return strcmp(a->id, sel) == 0 || (a->alias && strcmp(a->alias, sel) == 0) ||
           (a->word_id[0] && strcmp(a->word_id, sel) == 0);
}

static int
in_pins(const json_t *pins, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(pins, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
            return 1;
    }
    return 0;
}

/* The user's accounts for toolkit slug, newest first (all statuses). */
static int
user_accounts(struct core *c, const char *project_id, const char *user_id, const char *slug,
              struct st_account_page *out, struct err *e)
{
    const char *users[] = {user_id, NULL}, *tks[] = {slug, NULL};
    struct st_account_query q = {
        .project_id = project_id, .user_ids = users, .toolkits = tks, .limit = 1000};
    if (store_account_list(c->store, &q, out) != 0)
        return err_set(e, ERR_INTERNAL, "cannot read the user's accounts");
    return 0;
}

/* Appends "ca_… (alias, identity)" for a to the candidate list in b. */
static void
describe_candidate(struct buf *b, const struct st_account *a)
{
    char ident[200];
    account_identity(a, ident, sizeof ident);
    buf_printf(b, "%s%s", b->len ? ", " : "", a->id);
    if ((a->alias && a->alias[0]) || ident[0])
        buf_printf(b, " (%s%s%s)", a->alias ? a->alias : "", a->alias && ident[0] ? ", " : "",
                   ident);
}

static int
copy_account(struct core *c, const char *project_id, const char *id, struct st_account *out,
             struct err *e)
{
    return core_store_err(store_account_get(c->store, project_id, id, out), e,
                          ERR_ACCOUNT_NOT_FOUND, "connected account", id);
}

static int
not_usable(const struct st_account *a, struct err *e)
{
    err_set(e, ERR_ACCOUNT_NOT_FOUND, "connected account '%s' is %s", a->id,
            a->is_disabled ? "disabled" : a->status);
    err_fix(e, "connect the account again, or choose another one");
    return -1;
}

/* An explicit selector: an id anywhere in the project (outside sessions), or an id, alias or word
 * id among the user's accounts for the toolkit. */
static int
pick_selected(struct core *c, const char *project_id, const char *user_id,
              const struct catalog_toolkit *t, const json_t *pins, const char *sel,
              const struct st_account_page *mine, struct st_account *out, struct err *e)
{
    const struct st_account *hit = NULL;
    for (size_t i = 0; i < mine->n && hit == NULL; i++)
        if (selector_matches(&mine->items[i], sel))
            hit = &mine->items[i];
    if (hit == NULL && user_id == NULL && ids_valid(sel, "ca_")) {
        struct st_account a = {0};
        if (copy_account(c, project_id, sel, &a, e) != 0)
            return -1;
        int same = strcmp(a.toolkit, t->slug) == 0;
        if (!same) {
            err_set(e, ERR_ACCOUNT_NOT_FOUND, "connected account '%s' is a %s account, not %s", sel,
                    a.toolkit, t->slug);
            st_account_clear(&a);
            return -1;
        }
        if (!account_usable(&a)) {
            not_usable(&a, e);
            st_account_clear(&a);
            return -1;
        }
        *out = a;
        return 0;
    }
    if (hit == NULL || (pins != NULL && !in_pins(pins, hit->id))) {
        err_set(e, ERR_ACCOUNT_NOT_FOUND, "no %s account '%.100s' %s", t->slug, sel,
                hit ? "is pinned in this session" : "belongs to this user");
        err_fix(e, "pass a connected account id, alias or word id of this user's %s accounts",
                t->slug);
        return -1;
    }
    if (!account_usable(hit))
        return not_usable(hit, e);
    return copy_account(c, project_id, hit->id, out, e);
}

int
tools_pick_account(struct core *c, const char *project_id, const struct st_session *session,
                   const char *user_id, const struct catalog_toolkit *t, const char *selector,
                   struct st_account *out, struct err *e)
{
    json_t *cfg = session ? sessions_config(session) : NULL;
    const json_t *pins = cfg ? session_pinned_accounts(cfg, t->slug) : NULL;
    int multi = cfg && session_multi_account(cfg);
    int explicit_sel = multi && json_is_true(json_object_get(json_object_get(cfg, "multi_account"),
                                                             "require_explicit_selection"));
    const char *user = session ? session->user_id : user_id;
    if (selector != NULL && selector[0] == '\0')
        selector = NULL;
    struct st_account_page mine = {0};
    int rc = -1;
    if (user == NULL && selector == NULL)
        err_set(e, ERR_VALIDATION, "give a connected_account_id or a user_id");
    else if (user != NULL && user_accounts(c, project_id, user, t->slug, &mine, e) != 0)
        ;
    else if (selector != NULL)
        rc = pick_selected(c, project_id, user, t, pins, selector, &mine, out, e);
    else {
        /* candidates: usable accounts, only pinned ones when the session pins some; the
         * default is the first pin, else the most recently connected */
        struct buf names;
        buf_init(&names, 900);
        const struct st_account *first = NULL;
        size_t n = 0;
        const char *pin0 = json_string_value(json_array_get(pins, 0));
        for (size_t i = 0; i < mine.n; i++) {
            const struct st_account *a = &mine.items[i];
            if (!account_usable(a) || (pins != NULL && !in_pins(pins, a->id)))
                continue;
            if (first == NULL || (pin0 && strcmp(a->id, pin0) == 0) ||
                (!(pin0 && strcmp(first->id, pin0) == 0) && a->connected_at > first->connected_at))
                first = a;
            n++;
            describe_candidate(&names, a);
        }
        if (first == NULL) {
            err_set(e, ERR_ACCOUNT_NOT_FOUND, "no active %s account %s", t->slug,
                    pins ? "among the accounts this session pins" : "for this user");
            err_fix(e, "connect a %s account first (authorize the toolkit)", t->slug);
        } else if (n > 1 && explicit_sel) {
            err_set(e, ERR_ACCOUNT_NOT_FOUND, "choose which %s account to use: %s", t->slug,
                    names.data);
            err_fix(e, "pass 'account' with one of these ids, or an account's alias or word id");
        } else {
            rc = copy_account(c, project_id, first->id, out, e);
        }
        buf_free(&names);
    }
    st_account_page_clear(&mine);
    json_decref(cfg);
    return rc;
}

/* ---- credentials ----------------------------------------------------------------------------- */

/* Copies the string members of src into dst. */
static void
merge_strings(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        if (json_is_string(v))
            json_object_set_new(dst, k, json_stringn(json_string_value(v), json_string_length(v)));
    }
}

/* The account's non-secret connection fields (data.fields), a new object. */
static json_t *
account_fields(const struct st_account *a)
{
    json_t *d = a->data ? json_loads(a->data, 0, NULL) : NULL, *out = json_object();
    merge_strings(out, json_object_get(d, "fields"));
    json_decref(d);
    return out;
}

/* Drops a JSON value holding secrets, wiping every string in it first. */
static void
secrets_free(json_t *s)
{
    const char *k;
    size_t i;
    json_t *v;
    if (json_is_string(s))
        sodium_memzero((char *)json_string_value(s), json_string_length(s));
    else if (json_is_object(s)) {
        json_object_foreach(s, k, v)
        {
            secrets_free(json_incref(v));
        }
    } else if (json_is_array(s)) {
        json_array_foreach(s, i, v)
        {
            secrets_free(json_incref(v));
        }
    }
    json_decref(s);
}

/* ---- runs ------------------------------------------------------------------------------------ */

static struct tool_run *
run_new(enum run_kind kind, const char *toolkit, const char *account_id, const char *project_id,
        cred_wake_fn wake, void *wake_arg)
{
    struct tool_run *run = calloc(1, sizeof *run);
    if (run == NULL)
        return NULL;
    run->kind = kind;
    snprintf(run->toolkit, sizeof run->toolkit, "%s", toolkit);
    snprintf(run->account_id, sizeof run->account_id, "%s", account_id ? account_id : "");
    snprintf(run->project_id, sizeof run->project_id, "%s", project_id ? project_id : "");
    ids_new(run->log_id, sizeof run->log_id, "log_");
    run->wake = wake;
    run->wake_arg = wake_arg;
    return run;
}

static void
gate_arrive(void *arg)
{
    struct wake_gate *g = arg;
    if (__atomic_add_fetch(&g->arrivals, 1, __ATOMIC_ACQ_REL) < 2)
        return;
    if (g->wake != NULL)
        g->wake(g->arg);
    free(g);
}

/* Drops what the last answer left, before the request is sent again. */
static void
run_forget_answer(struct tool_run *run)
{
    json_decref(run->headers);
    run->headers = NULL;
    if (run->body != NULL) {
        sodium_memzero(run->body, run->body_len);
        free(run->body);
    }
    run->body = NULL;
    run->body_len = 0;
    run->have_res = 0;
    run->status = 0;
    run->timed_out = 0;
    run->content_type[0] = '\0';
    run->transport[0] = '\0';
}

/* The resolved toolkit context of a call: scheme, expanded base URL, secrets. */
struct call_ctx {
    const struct catalog_toolkit *t;
    const struct catalog_scheme *scheme;
    json_t *fields;  /* public connection fields */
    json_t *secrets; /* wiped by ctx_clear */
    char *base;      /* base URL without a trailing '/' */
};

static void
ctx_clear(struct call_ctx *x)
{
    json_decref(x->fields);
    if (x->secrets)
        secrets_free(x->secrets);
    free(x->base);
    memset(x, 0, sizeof *x);
}

/* The account of a toolkit that needs one (*out zeroed for a no-auth toolkit), as
 * tools_pick_account. */
static int
pick(struct core *c, const char *project_id, const struct st_session *session, const char *user_id,
     const struct catalog_toolkit *t, const char *selector, struct st_account *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (t->no_auth)
        return 0;
    return tools_pick_account(c, project_id, session, user_id, t, selector, out, e);
}

/* The run's account's credentials into x. With a wake, a token that needs a refresh first makes
 * the run wait (CRED_WAIT, the gate armed); see credentials_get. */
static int
run_credentials(struct core *c, struct tool_run *run, struct call_ctx *x, struct err *e)
{
    struct wake_gate *g = run->wake ? calloc(1, sizeof *g) : NULL;
    if (g != NULL) {
        g->wake = run->wake;
        g->arg = run->wake_arg;
    }
    struct cred_use use = {0};
    int rc = credentials_get(c, run->project_id, run->account_id, run->attempt, run->rejected, &use,
                             g ? gate_arrive : NULL, g, e);
    if (rc == CRED_WAIT) {
        run->gate = g;
        run->waiting = 1;
        return CRED_WAIT;
    }
    free(g);
    if (rc != CRED_READY)
        return CRED_ERROR;
    x->scheme = use.scheme;
    x->secrets = json_deep_copy(use.secrets);
    x->fields = account_fields(&use.account);
    run->used_expires_at = use.expires_at;
    run->oauth = use.scheme != NULL && use.scheme->type == CATALOG_OAUTH2;
    credentials_clear(&use);
    if (x->secrets == NULL)
        return err_set(e, ERR_INTERNAL, "out of memory");
    return CRED_READY;
}

/* Everything the run's request needs from its toolkit and account: CRED_READY, CRED_WAIT (the
 * run waits for a refresh) or CRED_ERROR with e. */
static int
ctx_open(struct core *c, struct tool_run *run, struct call_ctx *x, struct err *e)
{
    const struct catalog_toolkit *t = x->t;
    if (t->no_auth) {
        x->scheme = catalog_scheme(t, NULL);
        x->fields = json_object();
        x->secrets = json_object();
    } else {
        int rc = run_credentials(c, run, x, e);
        if (rc != CRED_READY)
            return rc;
    }
    x->base = catalog_expand(t->base_url, x->fields);
    if (x->base == NULL)
        return err_set(e, ERR_BAD_REQUEST,
                       "the %s API address cannot be built from the account's fields", t->name);
    size_t n = strlen(x->base);
    while (n > 0 && x->base[n - 1] == '/')
        x->base[--n] = '\0';
    return CRED_READY;
}

/* Puts the credential and the toolkit's headers on r. */
static int
ctx_inject(const struct call_ctx *x, struct outbound_req *r, struct err *e)
{
    if (x->scheme == NULL)
        return 0;
    return inject_credential(x->t, x->scheme, x->secrets, r, e);
}

/* ---- tools: arguments against the schema ----------------------------------------------------- */

static int
type_ok(const char *type, const json_t *v)
{
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) ||
               (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return 1;
}

static int
check_value(const char *name, const json_t *schema, const json_t *v, char *why, size_t len)
{
    const json_t *type = json_object_get(schema, "type");
    if (json_is_string(type) && !type_ok(json_string_value(type), v)) {
        snprintf(why, len, "argument '%.64s' must be of type %s", name, json_string_value(type));
        return -1;
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        int found = 0;
        size_t i;
        json_t *x;
        json_array_foreach(en, i, x)
        {
            found |= json_equal(x, v);
        }
        if (!found) {
            snprintf(why, len, "argument '%.64s' is not one of the allowed values", name);
            return -1;
        }
    }
    const json_t *mn = json_object_get(schema, "minimum"), *mx = json_object_get(schema, "maximum");
    if (json_is_number(v) &&
        ((json_is_number(mn) && json_number_value(v) < json_number_value(mn)) ||
         (json_is_number(mx) && json_number_value(v) > json_number_value(mx)))) {
        snprintf(why, len, "argument '%.64s' is out of range", name);
        return -1;
    }
    return 0;
}

/* Checks args against the tool's input_parameters: known names, required ones present, types,
 * enums and ranges of the top level. 0, or -1 with a sentence in why. */
static int
check_args(const json_t *tool, const json_t *args, char *why, size_t len)
{
    const json_t *in = json_object_get(tool, "input_parameters");
    const json_t *props = json_object_get(in, "properties");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(in, "required"), i, r)
    {
        const json_t *v = json_object_get(args, json_string_value(r));
        if (v == NULL || json_is_null(v)) {
            snprintf(why, len, "argument '%.64s' is required", json_string_value(r));
            return -1;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v)
    {
        const json_t *schema = json_object_get(props, k);
        if (schema == NULL) {
            snprintf(why, len, "unknown argument '%.64s'", k);
            return -1;
        }
        if (!json_is_null(v) && check_value(k, schema, v, why, len) != 0)
            return -1;
    }
    return 0;
}

/* A scalar argument as query or path text (malloc'd), or NULL for values that have none. */
static char *
arg_text(const json_t *v)
{
    char num[64];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return strdup(num);
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return strdup(num);
    }
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    if (json_is_array(v)) {
        struct buf b;
        buf_init(&b, MAX_URL);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            char *s = json_is_array(x) || json_is_object(x) ? NULL : arg_text(x);
            int rc = s ? buf_printf(&b, "%s%s", i ? "," : "", s) : -1;
            free(s);
            if (rc != 0) {
                buf_free(&b);
                return NULL;
            }
        }
        return buf_take(&b);
    }
    if (json_is_object(v))
        return json_dumps(v, JSON_COMPACT);
    return NULL;
}

static int
in_string_list(const json_t *list, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

/* The tool's path with {placeholders} filled from args; the names used are added to used. */
static char *
tool_path(const char *tmpl, const json_t *args, json_t *used, char *why, size_t len)
{
    json_t *vals = json_object();
    for (const char *p = strchr(tmpl, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (end == NULL || end - p > 65)
            break;
        char name[66];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        char *s = arg_text(json_object_get(args, name));
        if (s != NULL)
            json_object_set_new(vals, name, json_string(s));
        free(s);
        json_object_set_new(used, name, json_true());
    }
    char *path = catalog_expand(tmpl, vals);
    json_decref(vals);
    if (path == NULL)
        snprintf(why, len,
                 "a path argument is missing or holds characters other than letters, "
                 "digits, '.', '_' and '-'");
    return path;
}

static int
append_query(struct buf *b, int *first, const char *name, const char *value)
{
    char *k = url_encode(name), *v = url_encode(value);
    int rc = buf_printf(b, "%c%s=%s", *first ? '?' : '&', k, v);
    *first = 0;
    free(k);
    free(v);
    return rc;
}

/* Builds the tool's request (without credentials). NULL with why on bad arguments. */
static struct outbound_req *
tool_request(const struct call_ctx *x, const json_t *tool, const json_t *args, char *why,
             size_t len)
{
    const json_t *http = json_object_get(tool, "http");
    const char *method = json_string_value(json_object_get(http, "method"));
    const char *body_kind = json_string_value(json_object_get(http, "body"));
    const json_t *query = json_object_get(http, "query");
    method = method ? method : "GET";
    int want_body = body_kind ? strcmp(body_kind, "json") == 0
                              : strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0;
    json_t *used = json_object();
    char *path = tool_path(json_string_value(json_object_get(http, "path")), args, used, why, len);
    struct buf url;
    buf_init(&url, MAX_URL);
    int first = 1, rc = path ? buf_printf(&url, "%s%s", x->base, path) : -1;
    free(path);
    json_t *body = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v)
    {
        if (rc != 0 || json_is_null(v) || json_object_get(used, k))
            continue;
        if (in_string_list(query, k)) {
            char *s = arg_text(v);
            rc = s ? append_query(&url, &first, k, s) : -1;
            free(s);
        } else {
            json_object_set(body, k, v);
        }
    }
    json_decref(used);
    struct outbound_req *r = NULL;
    if (rc == 0)
        r = outbound_req_new(method, url.data);
    else if (why[0] == '\0')
        snprintf(why, len, "the arguments make a request that is too large");
    buf_free(&url);
    if (r != NULL && want_body) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (text == NULL || strlen(text) > MAX_BODY) {
            snprintf(why, len, "the arguments make a request body that is too large");
            outbound_req_free(r);
            r = NULL;
        } else {
            outbound_req_body(r, text, strlen(text));
            outbound_req_header(r, "Content-Type: application/json");
        }
        free(text);
    }
    json_decref(body);
    return r;
}

/* The tool request of run from its input and x, credentials and all. 0 and *req, 0 with the run
 * decided (arguments that make no request), or -1 with e. */
static int
tool_build(const struct call_ctx *x, struct tool_run *run, struct outbound_req **req, struct err *e)
{
    const json_t *tool = catalog_tool(json_string_value(json_object_get(run->input, "tool")), NULL);
    const json_t *args = json_object_get(run->input, "arguments");
    char why[300] = "";
    struct outbound_req *o = tool ? tool_request(x, tool, args, why, sizeof why) : NULL;
    if (o == NULL) {
        tools_fail(run, why[0] ? why : "the tool is no longer in the catalogue");
        return 0;
    }
    if (ctx_inject(x, o, e) != 0) {
        outbound_req_free(o);
        return -1;
    }
    outbound_req_header(o, "Accept: application/json");
    *req = o;
    return 0;
}

static int proxy_build(const struct call_ctx *x, struct tool_run *run, struct outbound_req **req,
                       struct err *e);

/* Reads the credentials and builds the run's request. 0 with *req set, with the run waiting for
 * a refresh, or with the run decided; -1 with e. */
static int
run_build(struct core *c, struct tool_run *run, struct outbound_req **req, struct err *e)
{
    struct call_ctx x = {.t = catalog_get(run->toolkit)};
    *req = NULL;
    if (x.t == NULL)
        return err_set(e, ERR_TOOLKIT_NOT_FOUND, "toolkit '%s' is no longer in the catalogue",
                       run->toolkit);
    int rc = ctx_open(c, run, &x, e);
    if (rc == CRED_READY)
        rc = run->kind == RUN_TOOL ? tool_build(&x, run, req, e) : proxy_build(&x, run, req, e);
    else if (rc == CRED_WAIT)
        rc = 0;
    ctx_clear(&x);
    if (*req != NULL) {
        (*req)->follow_redirects = 0;
        (*req)->timeout_ms = TOOL_TIMEOUT_MS;
        (*req)->max_response = TOOLS_MAX_RESPONSE;
    }
    return rc;
}

/* Builds the first request of a new run; frees it on -1. */
static int
run_begin(struct core *c, struct tool_run *r, struct tool_run **run, struct outbound_req **req,
          struct err *e)
{
    if (run_build(c, r, req, e) != 0) {
        tools_run_free(r);
        return -1;
    }
    *run = r;
    return 0;
}

int
tools_begin(struct core *c, const struct tool_call *in, struct tool_run **run,
            struct outbound_req **req, struct err *e)
{
    *run = NULL;
    *req = NULL;
    const struct catalog_toolkit *t = NULL;
    const json_t *tool = catalog_tool(in->tool_slug, &t);
    json_t *cfg = in->session ? sessions_config(in->session) : NULL;
    int enabled = tool && (cfg == NULL || session_toolkit_enabled(cfg, t->slug));
    json_decref(cfg);
    if (!enabled)
        return err_set(e, ERR_TOOL_NOT_FOUND, "unknown tool '%.100s'",
                       in->tool_slug ? in->tool_slug : "");
    const json_t *args = in->arguments;
    if (args != NULL && !json_is_null(args) && !json_is_object(args))
        return err_set(e, ERR_VALIDATION, "'arguments' must be an object");
    struct st_account a;
    if (pick(c, in->project_id, in->session, in->user_id, t, in->account, &a, e) != 0)
        return -1;
    struct tool_run *r = run_new(RUN_TOOL, t->slug, a.id, in->project_id, in->wake, in->wake_arg);
    st_account_clear(&a);
    json_t *copy = json_is_object(args) ? json_deep_copy(args) : json_object();
    if (r != NULL && copy != NULL)
        r->input = json_pack("{ss so}", "tool", in->tool_slug, "arguments", copy);
    else
        json_decref(copy);
    if (r == NULL || r->input == NULL) {
        tools_run_free(r);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    char why[300] = "";
    if (check_args(tool, json_object_get(r->input, "arguments"), why, sizeof why) != 0) {
        tools_fail(r, why);
        *run = r;
        return 0;
    }
    return run_begin(c, r, run, req, e);
}

/* ---- proxy: keeping the request on the toolkit's hosts --------------------------------------- */

static int
effective_port(const struct url_parts *p)
{
    return p->port ? p->port : strcmp(p->scheme, "https") == 0 ? 443 : 80;
}

static int
is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "[::1]") == 0;
}

/* Hosts written as addresses: IPv6 literals, dotted or plain numbers, hex or octal forms. */
static int
is_ip_literal(const char *host)
{
    if (host[0] == '[')
        return 1;
    const char *last = strrchr(host, '.');
    last = last ? last + 1 : host;
    if (last[0] == '\0') /* trailing dot: judge the label before it */
        return 0;
    if (strncasecmp(last, "0x", 2) == 0)
        return 1;
    return strspn(last, "0123456789") == strlen(last);
}

/* Checks an absolute URL against the base: same scheme, host and port; no userinfo; no IP
 * literal unless the base is loopback. */
static int
same_site(const char *url, const char *base, struct err *e)
{
    struct url_parts u, b;
    if (url_parse(url, &u) != 0)
        return err_set(e, ERR_VALIDATION, "'endpoint' is not a valid URL");
    if (url_parse(base, &b) != 0) {
        url_parts_free(&u);
        return err_set(e, ERR_INTERNAL, "the toolkit's base URL is not valid");
    }
    int rc = 0;
    if (u.has_userinfo)
        rc = err_set(e, ERR_FORBIDDEN, "'endpoint' must not contain a user name or password");
    else if (u.host[0] == '\0' || strcmp(u.host, b.host) != 0 || strcmp(u.scheme, b.scheme) != 0 ||
             effective_port(&u) != effective_port(&b))
        rc = err_set(e, ERR_FORBIDDEN, "'endpoint' must be on the toolkit's own host (%.200s)",
                     b.host);
    else if (is_ip_literal(u.host) && !is_loopback(b.host))
        rc = err_set(e, ERR_FORBIDDEN, "'endpoint' must not address a host by IP");
    else if (u.fragment != NULL)
        rc = err_set(e, ERR_VALIDATION, "'endpoint' must not have a fragment");
    if (rc != 0)
        err_fix(e, "use a path relative to the toolkit's API base URL, such as \"/users/me\"");
    url_parts_free(&u);
    url_parts_free(&b);
    return rc;
}

static int
has_dot_segment(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        int starts = p == path || p[-1] == '/';
        int ends = p[2] == '\0' || p[2] == '/' || p[2] == '?';
        if (starts && ends)
            return 1;
    }
    return strcasestr(path, "%2e%2e") != NULL || strcasestr(path, ".%2e") != NULL ||
           strcasestr(path, "%2e.") != NULL;
}

/* The full URL of a proxy endpoint (malloc'd), or NULL with e. */
static char *
proxy_url(const char *base, const char *endpoint, struct err *e)
{
    size_t n = strlen(endpoint);
    if (n == 0 || n > MAX_URL) {
        err_set(e, ERR_VALIDATION, "'endpoint' must be 1 to %d characters", MAX_URL);
        return NULL;
    }
    char *url = NULL;
    if (strncasecmp(endpoint, "http://", 7) == 0 || strncasecmp(endpoint, "https://", 8) == 0) {
        url = strdup(endpoint);
    } else if (strstr(endpoint, "://") != NULL || endpoint[0] == '\\' ||
               strncmp(endpoint, "//", 2) == 0) {
        err_set(e, ERR_FORBIDDEN, "'endpoint' must be a path or a URL on the toolkit's host");
        return NULL;
    } else {
        struct buf b;
        buf_init(&b, MAX_URL * 2);
        if (buf_printf(&b, "%s%s%s", base, endpoint[0] == '/' ? "" : "/", endpoint) == 0)
            url = buf_take(&b);
        buf_free(&b);
    }
    if (url == NULL) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    struct url_parts p;
    int bad = same_site(url, base, e) != 0;
    if (!bad && url_parse(url, &p) == 0) {
        if (has_dot_segment(p.path))
            bad = err_set(e, ERR_VALIDATION, "'endpoint' must not contain '..' segments") != 0;
        url_parts_free(&p);
    }
    if (bad) {
        free(url);
        return NULL;
    }
    return url;
}

static int
header_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 64)
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    static const char *const banned[] = {"host",       "content-length", "transfer-encoding",
                                         "connection", "cookie",         "proxy-authorization",
                                         "te",         "upgrade",        "expect",
                                         NULL};
    for (const char *const *b = banned; *b; b++)
        if (strcasecmp(n, *b) == 0)
            return 0;
    return 1;
}

static int
header_value_ok(const char *v)
{
    size_t n = strlen(v);
    if (n > MAX_HEADER_VALUE)
        return 0;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return 0;
    return 1;
}

/* Applies the proxy parameters: query ones onto url (b), header ones onto hdrs (array of
 * "Name: value"). *has_ct is set when a Content-Type is given. */
static int
proxy_params(const struct call_ctx *x, const json_t *params, struct buf *url, json_t *hdrs,
             int *has_ct, struct err *e)
{
    if (params == NULL || json_is_null(params))
        return 0;
    if (!json_is_array(params) || json_array_size(params) > MAX_PARAMS)
        return err_set(e, ERR_VALIDATION,
                       "'parameters' must be a list of at most %d {name, type, value}", MAX_PARAMS);
    int first = strchr(url->data, '?') == NULL;
    const char *cred = x->scheme && x->scheme->inject_format &&
                               !(x->scheme->inject_in && strcmp(x->scheme->inject_in, "query") == 0)
                           ? (x->scheme->inject_name ? x->scheme->inject_name : "Authorization")
                           : NULL;
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *type = json_string_value(json_object_get(p, "type"));
        if (type == NULL)
            type = json_string_value(json_object_get(p, "in"));
        char *value = arg_text(json_object_get(p, "value"));
        int rc = 0;
        if (name == NULL || type == NULL || value == NULL || strlen(name) > 256)
            rc =
                err_set(e, ERR_VALIDATION, "'parameters[%zu]' needs a name, a type and a value", i);
        else if (strcmp(type, "query") == 0)
            rc = append_query(url, &first, name, value) == 0
                     ? 0
                     : err_set(e, ERR_VALIDATION, "the query parameters are too long");
        else if (strcmp(type, "header") != 0)
            rc = err_set(e, ERR_VALIDATION, "'parameters[%zu].type' must be header or query", i);
        else if (!header_name_ok(name) || (cred && strcasecmp(name, cred) == 0))
            rc = err_set(e, ERR_VALIDATION, "header '%.64s' cannot be set on a proxied request",
                         name);
        else if (!header_value_ok(value))
            rc = err_set(e, ERR_VALIDATION, "header '%.64s' has an invalid value", name);
        else {
            char line[MAX_HEADER_VALUE + 80];
            snprintf(line, sizeof line, "%s: %s", name, value);
            json_array_append_new(hdrs, json_string(line));
            *has_ct |= strcasecmp(name, "content-type") == 0;
        }
        free(value);
        if (rc != 0)
            return -1;
    }
    if (json_array_size(hdrs) > OUTBOUND_MAX_HEADERS - 6)
        return err_set(e, ERR_VALIDATION, "too many header parameters (at most %d)",
                       OUTBOUND_MAX_HEADERS - 6);
    return 0;
}

static int
method_ok(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", NULL};
    for (const char *const *p = ok; m && *p; p++)
        if (strcmp(m, *p) == 0)
            return 1;
    return 0;
}

/* Puts the proxy body on r: a string as it is, anything else as JSON. */
static int
proxy_body(struct outbound_req *r, const json_t *body, int has_ct, struct err *e)
{
    if (body == NULL || json_is_null(body))
        return 0;
    char *text = json_is_string(body) ? strdup(json_string_value(body))
                                      : json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = json_is_string(body) ? json_string_length(body) : text ? strlen(text) : 0;
    int rc = 0;
    if (text == NULL || n > MAX_BODY)
        rc = err_set(e, ERR_PAYLOAD_TOO_LARGE, "the body is larger than %d bytes", MAX_BODY);
    else {
        outbound_req_body(r, text, n);
        if (!has_ct)
            outbound_req_header(r, "Content-Type: %s",
                                json_is_string(body) ? "text/plain; charset=utf-8"
                                                     : "application/json");
    }
    free(text);
    return rc;
}

static const struct catalog_toolkit *
proxy_toolkit(struct core *c, const struct proxy_call *in, struct err *e)
{
    if (in->session != NULL || (in->account == NULL && in->toolkit != NULL)) {
        const struct catalog_toolkit *t = in->toolkit ? catalog_get(in->toolkit) : NULL;
        if (t == NULL)
            err_set(e, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s'",
                    in->toolkit ? in->toolkit : "");
        return t;
    }
    if (in->account == NULL || !ids_valid(in->account, "ca_")) {
        err_set(e, ERR_ACCOUNT_NOT_FOUND, "connected account '%.64s' not found",
                in->account ? in->account : "");
        return NULL;
    }
    struct st_account a = {0};
    if (copy_account(c, in->project_id, in->account, &a, e) != 0)
        return NULL;
    const struct catalog_toolkit *t = catalog_get(a.toolkit);
    if (t == NULL)
        err_set(e, ERR_TOOLKIT_NOT_FOUND, "toolkit '%s' is no longer in the catalogue", a.toolkit);
    else if (in->toolkit != NULL && strcmp(in->toolkit, t->slug) != 0) {
        err_set(e, ERR_VALIDATION, "connected account '%s' is not a %.64s account", a.id,
                in->toolkit);
        t = NULL;
    }
    st_account_clear(&a);
    return t;
}

/* Builds the proxied request once the context is loaded. */
static struct outbound_req *
proxy_request(const struct call_ctx *x, const struct proxy_call *in, struct err *e)
{
    char *url = proxy_url(x->base, in->endpoint, e);
    if (url == NULL)
        return NULL;
    struct buf b;
    buf_init(&b, MAX_URL * 3);
    json_t *hdrs = json_array();
    int has_ct = 0;
    int rc = buf_puts(&b, url);
    free(url);
    if (rc != 0)
        err_set(e, ERR_VALIDATION, "'endpoint' is too long");
    else
        rc = proxy_params(x, in->parameters, &b, hdrs, &has_ct, e);
    struct outbound_req *r = rc == 0 ? outbound_req_new(in->method, b.data) : NULL;
    buf_free(&b);
    size_t i;
    json_t *h;
    json_array_foreach(hdrs, i, h)
    {
        if (r != NULL && outbound_req_header(r, "%s", json_string_value(h)) != 0) {
            outbound_req_free(r);
            r = NULL;
            err_set(e, ERR_VALIDATION, "a header parameter cannot be sent");
        }
    }
    json_decref(hdrs);
    if (r != NULL && (proxy_body(r, in->body, has_ct, e) != 0 || ctx_inject(x, r, e) != 0)) {
        outbound_req_free(r);
        r = NULL;
    }
    return r;
}

static int
proxy_build(const struct call_ctx *x, struct tool_run *run, struct outbound_req **req,
            struct err *e)
{
    const json_t *v = run->input;
    struct proxy_call in = {
        .endpoint = json_string_value(json_object_get(v, "endpoint")),
        .method = json_string_value(json_object_get(v, "method")),
        .parameters = json_object_get(v, "parameters"),
        .body = json_object_get(v, "body"),
    };
    *req = proxy_request(x, &in, e);
    return *req ? 0 : -1;
}

/* The proxy inputs a run keeps, copied; NULL when out of memory. */
static json_t *
proxy_input(const struct proxy_call *in)
{
    json_t *params = in->parameters ? json_deep_copy(in->parameters) : json_null();
    json_t *body = in->body ? json_deep_copy(in->body) : json_null();
    if (params == NULL || body == NULL) {
        json_decref(params);
        json_decref(body);
        return NULL;
    }
    return json_pack("{ss ss so so}", "endpoint", in->endpoint, "method", in->method, "parameters",
                     params, "body", body);
}

int
tools_proxy_begin(struct core *c, const struct proxy_call *in, struct tool_run **run,
                  struct outbound_req **req, struct err *e)
{
    *run = NULL;
    *req = NULL;
    if (!method_ok(in->method))
        return err_set(e, ERR_VALIDATION, "'method' must be GET, POST, PUT, DELETE or PATCH");
    if (in->endpoint == NULL)
        return err_set(e, ERR_VALIDATION, "'endpoint' is required");
    const struct catalog_toolkit *t = proxy_toolkit(c, in, e);
    if (t == NULL)
        return -1;
    json_t *cfg = in->session ? sessions_config(in->session) : NULL;
    int enabled = cfg == NULL || session_toolkit_enabled(cfg, t->slug);
    json_decref(cfg);
    if (!enabled)
        return err_set(e, ERR_BAD_REQUEST, "toolkit '%s' is not enabled in this session", t->slug);
    struct st_account a;
    if (pick(c, in->project_id, in->session, NULL, t, in->account, &a, e) != 0)
        return -1;
    struct tool_run *r = run_new(RUN_PROXY, t->slug, a.id, in->project_id, in->wake, in->wake_arg);
    st_account_clear(&a);
    if (r == NULL || (r->input = proxy_input(in)) == NULL) {
        tools_run_free(r);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    return run_begin(c, r, run, req, e);
}

/* ---- waiting and retrying -------------------------------------------------------------------- */

int
tools_run_waiting(const struct tool_run *run)
{
    return run->waiting;
}

void
tools_parked(struct tool_run *run)
{
    struct wake_gate *g = run->gate;
    run->gate = NULL;
    if (g != NULL)
        gate_arrive(g);
}

/* 1 when the answer is a 401 worth one forced refresh and a second try. */
static int
retry_due(const struct tool_run *run)
{
    return run->wake != NULL && run->oauth && !run->retried && !run->decided && run->have_res &&
           run->status == 401;
}

int
tools_continue(struct core *c, struct tool_run *run, struct outbound_req **req, struct err *e)
{
    *req = NULL;
    if (run->waiting) { /* the refresh settled: take what is there now, without waiting again */
        run->waiting = 0;
        run->attempt++;
        run->rejected = run->retried ? run->used_expires_at : 0; /* never resend a refused one */
    } else if (retry_due(run)) { /* refresh unless someone already replaced the refused token */
        run->retried = 1;
        run->attempt = 0;
        run->rejected = run->used_expires_at ? run->used_expires_at : 1;
    } else {
        return 0;
    }
    int rc = run_build(c, run, req, e);
    if (*req != NULL)
        run_forget_answer(run);
    else if (rc != 0 && run->have_res)
        rc = 0; /* no fresh token for the second try: the provider's 401 stands */
    return rc;
}

/* ---- results --------------------------------------------------------------------------------- */

static json_t *
headers_json(char **lines)
{
    json_t *o = json_object();
    for (size_t i = 0; lines != NULL && lines[i] != NULL; i++) {
        const char *colon = strchr(lines[i], ':');
        if (colon == NULL || colon == lines[i] || (size_t)(colon - lines[i]) > 128)
            continue;
        char name[130];
        size_t n = (size_t)(colon - lines[i]);
        for (size_t k = 0; k < n; k++)
            name[k] =
                (char)((lines[i][k] >= 'A' && lines[i][k] <= 'Z') ? lines[i][k] + 32 : lines[i][k]);
        name[n] = '\0';
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!utf8_valid(name, n) || !utf8_valid(v, strlen(v)))
            continue;
        json_t *old = json_object_get(o, name);
        if (json_is_string(old)) { /* repeated headers are joined as HTTP allows */
            char *joined = NULL;
            if (asprintf(&joined, "%s, %s", json_string_value(old), v) >= 0) {
                json_object_set_new(o, name, json_string(joined));
                free(joined);
            }
        } else {
            json_object_set_new(o, name, json_string(v));
        }
    }
    return o;
}

void
tools_done(struct tool_run *run, const struct outbound_res *res)
{
    run->have_res = 1;
    run->status = res->status;
    run->timed_out = res->timed_out;
    snprintf(run->content_type, sizeof run->content_type, "%s", res->content_type);
    snprintf(run->transport, sizeof run->transport, "%s", res->error);
    run->headers = headers_json(res->headers);
    if (res->body != NULL && res->len > 0) {
        run->body = malloc(res->len + 1);
        if (run->body != NULL) {
            memcpy(run->body, res->body, res->len);
            run->body[res->len] = '\0';
            run->body_len = res->len;
        }
    }
}

void
tools_fail(struct tool_run *run, const char *why)
{
    run->decided = 1;
    snprintf(run->error, sizeof run->error, "%s", why ? why : "the call could not be made");
}

static int
is_json_type(const char *ct)
{
    return strncasecmp(ct, "application/json", 16) == 0 || strcasestr(ct, "+json") != NULL;
}

static int
is_text_type(const char *ct)
{
    static const char *const text[] = {"text/",
                                       "application/xml",
                                       "application/javascript",
                                       "application/x-www-form-urlencoded",
                                       "application/xhtml",
                                       NULL};
    if (ct[0] == '\0' || strcasestr(ct, "+xml") != NULL)
        return 1;
    for (const char *const *p = text; *p; p++)
        if (strncasecmp(ct, *p, strlen(*p)) == 0)
            return 1;
    return 0;
}

/* The body as JSON when it is JSON (of any type), else NULL. */
static json_t *
body_json(const struct tool_run *run)
{
    if (run->body == NULL)
        return NULL;
    json_t *v = json_loadb(run->body, run->body_len, JSON_DECODE_ANY, NULL);
    if (v == NULL && !is_json_type(run->content_type))
        return NULL;
    return v;
}

static json_t *
body_text(const struct tool_run *run)
{
    if (run->body == NULL)
        return json_string("");
    if (!utf8_valid(run->body, run->body_len))
        return NULL;
    return json_stringn(run->body, run->body_len);
}

static char *
base64_of(const char *data, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(n);
    if (out != NULL)
        sodium_bin2base64(out, n, (const unsigned char *)data, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* A short excerpt of the upstream body for an error sentence. */
static void
excerpt(const struct tool_run *run, char *out, size_t len)
{
    out[0] = '\0';
    if (run->body == NULL || !utf8_valid(run->body, run->body_len))
        return;
    json_t *v = json_loadb(run->body, run->body_len, 0, NULL);
    const char *msg = json_string_value(json_object_get(v, "message"));
    if (msg == NULL)
        msg = json_string_value(json_object_get(v, "error_description"));
    if (msg == NULL)
        msg = json_string_value(json_object_get(v, "error"));
    snprintf(out, len, "%.200s", msg ? msg : run->body);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    json_decref(v);
}

static json_t *
tool_result(struct tool_run *run)
{
    char error[600] = "";
    json_t *data = NULL;
    if (run->decided)
        snprintf(error, sizeof error, "%s", run->error);
    else if (!run->have_res || run->status == 0)
        snprintf(error, sizeof error, "%s %s",
                 run->timed_out ? "the upstream API timed out:"
                                : "the upstream API is unreachable:",
                 run->transport);
    if (run->have_res && run->status != 0) {
        json_t *v = body_json(run);
        if (json_is_object(v))
            data = json_incref(v);
        else if (v != NULL)
            data = json_pack("{sO}", "result", v);
        else {
            json_t *t = body_text(run);
            data = t ? json_pack("{so}", "text", t)
                     : json_pack("{sI}", "size", (json_int_t)run->body_len);
        }
        json_decref(v);
        if (run->status >= 300) {
            char ex[220];
            excerpt(run, ex, sizeof ex);
            snprintf(error, sizeof error, "the upstream API answered HTTP %ld%s%s", run->status,
                     ex[0] ? ": " : "", ex);
        }
    }
    return json_pack("{so so sb ss}", "data", data ? data : json_object(), "error",
                     error[0] ? json_string(error) : json_null(), "successful", error[0] == '\0',
                     "log_id", run->log_id);
}

static json_t *
proxy_result(struct tool_run *run)
{
    if (run->decided || !run->have_res || run->status == 0) {
        char error[600];
        if (run->decided)
            snprintf(error, sizeof error, "%s", run->error);
        else
            snprintf(error, sizeof error, "%s %s",
                     run->timed_out ? "timed out:" : "unreachable:", run->transport);
        return json_pack("{sI sn s{} ss}", "status", (json_int_t)0, "data", "headers", "error",
                         error);
    }
    json_t *out = json_pack("{sI so}", "status", (json_int_t)run->status, "headers",
                            run->headers ? json_incref(run->headers) : json_object());
    json_t *v = body_json(run);
    json_t *text = v == NULL && is_text_type(run->content_type) ? body_text(run) : NULL;
    if (v == NULL && text == NULL && run->body != NULL) {
        /* binary: inline as a data URL, since tether keeps no files */
        char *b64 = base64_of(run->body, run->body_len);
        const char *ct = run->content_type[0] ? run->content_type : "application/octet-stream";
        char *url = NULL;
        if (b64 != NULL && asprintf(&url, "data:%s;base64,%s", ct, b64) < 0)
            url = NULL;
        json_object_set_new(out, "data", json_null());
        json_object_set_new(out, "binary_data",
                            json_pack("{ss sI ss*}", "content_type", ct, "size",
                                      (json_int_t)run->body_len, "url", url));
        free(url);
        free(b64);
    } else {
        json_object_set_new(out, "data", v ? v : text ? text : json_null());
        if (v != NULL)
            json_decref(text);
    }
    return out;
}

json_t *
tools_result(struct tool_run *run)
{
    return run->kind == RUN_TOOL ? tool_result(run) : proxy_result(run);
}

const char *
tools_run_account(const struct tool_run *run)
{
    return run->account_id;
}

const char *
tools_run_toolkit(const struct tool_run *run)
{
    return run->toolkit;
}

void
tools_run_free(struct tool_run *run)
{
    if (run == NULL)
        return;
    if (run->gate != NULL) { /* waiting, never parked: the refresh side frees the gate */
        run->gate->wake = NULL;
        tools_parked(run);
    }
    run_forget_answer(run);
    json_decref(run->input);
    free(run);
}

/* ---- listing --------------------------------------------------------------------------------- */

static json_t *
string_array(const json_t *v)
{
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (json_is_string(x))
            json_array_append(out, x);
    }
    return out;
}

static json_t *
schema_or_empty(const json_t *v)
{
    if (json_is_object(v) && json_object_size(v) > 0)
        return json_incref((json_t *)v);
    return json_pack("{ss s{}}", "type", "object", "properties");
}

json_t *
tools_item(const struct catalog_toolkit *t, const json_t *tool)
{
    const char *desc = json_string_value(json_object_get(tool, "description"));
    return json_pack(
        "{ss ss ss so so s{ss ss ss} so s[] ss s[s] sb}", "slug",
        json_string_value(json_object_get(tool, "slug")), "name",
        json_string_value(json_object_get(tool, "name")), "description", desc ? desc : "",
        "input_parameters", schema_or_empty(json_object_get(tool, "input_parameters")),
        "output_parameters", schema_or_empty(json_object_get(tool, "output_parameters")), "toolkit",
        "slug", t->slug, "name", t->name, "logo", t->logo ? t->logo : "", "tags",
        string_array(json_object_get(tool, "tags")), "scopes", "version", "20250101_00",
        "available_versions", "20250101_00", "no_auth", t->no_auth);
}
