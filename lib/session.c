/* session.c -- tool-router sessions (create, open) and authorize, which turns a session and a
 * toolkit into a connection request: the new account's id and its Connect Link. */
#include <stdlib.h>
#include <string.h>

#include "tether_int.h"

#define MAX_LIST 1000 /* entries taken from one NULL-terminated list or pin array */

struct tether_connection_request {
    tether_client *c;
    json_t *j;
    char *json;
    const char *id;           /* borrowed from j */
    const char *redirect_url; /* borrowed from j */
};

static int
no_memory(void)
{
    return tether__fail(TETHER_ENOMEM, "out of memory");
}

void
tether_session_options_init(tether_session_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->manage_connections = 1;
}

void
tether_authorize_options_init(tether_authorize_options *opts)
{
    memset(opts, 0, sizeof(*opts));
}

/* Sets b[key] = {"enable": [list...]}. 0 or a code. */
static int
add_enable_list(json_t *b, const char *key, const char *const *list, const char *what)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return no_memory();
    for (size_t i = 0; list[i] != NULL; i++) {
        int rc = i >= MAX_LIST ? tether__fail(TETHER_EINVAL, "more than %d %s", MAX_LIST, what)
                               : tether__check_arg(list[i], what);
        if (rc == 0 && json_array_append_new(arr, json_string(list[i])) != 0)
            rc = tether__fail(TETHER_EINVAL, "%s '%s' is not valid UTF-8", what, list[i]);
        if (rc != 0) {
            json_decref(arr);
            return rc;
        }
    }
    json_t *obj = json_pack("{s:o}", "enable", arr);
    if (obj == NULL || json_object_set_new(b, key, obj) != 0)
        return no_memory();
    return 0;
}

/* Adds one pin to map: map[toolkit] = id, or appended to map[toolkit] = [...] with as_arrays. */
static int
add_pin(json_t *map, const tether_pin *pin, int as_arrays, const char *what)
{
    int rc = tether__check_arg(pin->toolkit, "toolkit slug");
    if (rc == 0)
        rc = tether__check_arg(pin->id, what);
    if (rc != 0)
        return rc;
    json_t *v = json_string(pin->id);
    if (v == NULL)
        return tether__fail(TETHER_EINVAL, "%s '%s' is not valid UTF-8", what, pin->id);
    json_t *arr = json_object_get(map, pin->toolkit);
    if (!as_arrays)
        rc = json_object_set_new(map, pin->toolkit, v);
    else if (json_is_array(arr))
        rc = json_array_append_new(arr, v);
    else
        rc = json_object_set_new(map, pin->toolkit, json_pack("[o]", v));
    return rc == 0 ? 0 : no_memory();
}

/* Sets b[key] to the map of n pins. 0 or a code. */
static int
add_pin_map(json_t *b, const char *key, const tether_pin *pins, size_t n, int as_arrays,
            const char *what)
{
    if (n > MAX_LIST)
        return tether__fail(TETHER_EINVAL, "more than %d %s", MAX_LIST, what);
    if (pins == NULL)
        return tether__fail(TETHER_EINVAL, "%zu %s given but the array is NULL", n, what);
    json_t *map = json_object();
    if (map == NULL || json_object_set_new(b, key, map) != 0)
        return no_memory();
    for (size_t i = 0; i < n; i++) {
        int rc = add_pin(map, &pins[i], as_arrays, what);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The create body into *out (caller decrefs). 0 or a code. */
static int
create_body(const char *user_id, const tether_session_options *o, json_t **out)
{
    json_t *b = json_pack("{s:s, s:{s:b}}", "user_id", user_id, "manage_connections", "enable",
                          o->manage_connections != 0);
    if (b == NULL)
        return tether__fail(TETHER_EINVAL, "user id '%s' is not valid UTF-8", user_id);
    int rc = 0;
    if (o->toolkits != NULL)
        rc = add_enable_list(b, "toolkits", o->toolkits, "toolkit slug");
    if (rc == 0 && o->n_connected_accounts > 0)
        rc = add_pin_map(b, "connected_accounts", o->connected_accounts, o->n_connected_accounts, 1,
                         "connected account id");
    if (rc == 0 && o->n_auth_configs > 0)
        rc =
            add_pin_map(b, "auth_configs", o->auth_configs, o->n_auth_configs, 0, "auth config id");
    if (rc != 0) {
        json_decref(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Wraps a session answer. Consumes j. */
static int
session_wrap(tether_client *c, json_t *j, tether_session **out)
{
    const char *id = tether__jstr(j, "session_id");
    if (id == NULL || id[0] == '\0') {
        json_decref(j);
        return tether__fail(TETHER_EPROTOCOL, "the session answer has no session_id");
    }
    tether_session *s = calloc(1, sizeof(*s));
    char *text = json_dumps(j, JSON_COMPACT);
    if (s == NULL || text == NULL) {
        free(s);
        free(text);
        json_decref(j);
        return no_memory();
    }
    s->c = c;
    s->j = j;
    s->json = text;
    s->id = id;
    *out = s;
    return 0;
}

int
tether_session_create(tether_client *c, const char *user_id, const tether_session_options *opts,
                      tether_session **out)
{
    if (c == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_session_create: NULL client or output");
    int rc = tether__check_arg(user_id, "user id");
    if (rc != 0)
        return rc;
    tether_session_options defaults;
    if (opts == NULL) {
        tether_session_options_init(&defaults);
        opts = &defaults;
    }
    json_t *body = NULL;
    rc = create_body(user_id, opts, &body);
    if (rc != 0)
        return rc;
    json_t *j = NULL;
    rc = tether__request(c, "POST", "/tool_router/session", NULL, body, 0, &j);
    json_decref(body);
    return rc != 0 ? rc : session_wrap(c, j, out);
}

int
tether__session_path(struct tether__str *p, const char *id, const char *suffix)
{
    tether__str_init(p, TETHER__MAX_URL);
    if (tether__str_puts(p, "/tool_router/session/") != 0 || tether__str_escape(p, id) != 0 ||
        tether__str_puts(p, suffix) != 0) {
        tether__str_free(p);
        return no_memory();
    }
    return 0;
}

int
tether_session_open(tether_client *c, const char *session_id, tether_session **out)
{
    if (c == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_session_open: NULL client or output");
    int rc = tether__check_arg(session_id, "session id");
    struct tether__str path;
    if (rc == 0)
        rc = tether__session_path(&path, session_id, "");
    if (rc != 0)
        return rc;
    json_t *j = NULL;
    rc = tether__request(c, "GET", path.p, NULL, NULL, 0, &j);
    tether__str_free(&path);
    return rc != 0 ? rc : session_wrap(c, j, out);
}

void
tether_session_free(tether_session *s)
{
    if (s == NULL)
        return;
    json_decref(s->j);
    free(s->json);
    free(s);
}

const char *
tether_session_id(const tether_session *s)
{
    return s ? s->id : NULL;
}

const char *
tether_session_user_id(const tether_session *s)
{
    return s ? tether__jstr(json_object_get(s->j, "config"), "user_id") : NULL;
}

const char *
tether_session_mcp_url(const tether_session *s)
{
    return s ? tether__jstr(json_object_get(s->j, "mcp"), "url") : NULL;
}

const char *
tether_session_json(const tether_session *s)
{
    return s ? s->json : NULL;
}

/* ---- authorize ---------------------------------------------------------------------------- */

static int
link_body(const char *toolkit, const tether_authorize_options *o, json_t **out)
{
    json_t *b = json_pack("{s:s}", "toolkit", toolkit);
    if (b == NULL)
        return tether__fail(TETHER_EINVAL, "toolkit '%s' is not valid UTF-8", toolkit);
    int rc = 0;
    if (o->callback_url != NULL) {
        rc = tether__check_arg(o->callback_url, "callback URL");
        if (rc == 0 && json_object_set_new(b, "callback_url", json_string(o->callback_url)) != 0)
            rc = tether__fail(TETHER_EINVAL, "callback URL is not valid UTF-8");
    }
    if (rc == 0 && o->alias != NULL) {
        rc = tether__check_arg(o->alias, "alias");
        if (rc == 0 && json_object_set_new(b, "alias", json_string(o->alias)) != 0)
            rc = tether__fail(TETHER_EINVAL, "alias is not valid UTF-8");
    }
    if (rc != 0) {
        json_decref(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Wraps a link answer. Consumes j. */
static int
request_wrap(tether_client *c, json_t *j, tether_connection_request **out)
{
    const char *id = tether__jstr(j, "connected_account_id");
    const char *url = tether__jstr(j, "redirect_url");
    if (id == NULL || id[0] == '\0' || url == NULL) {
        json_decref(j);
        return tether__fail(TETHER_EPROTOCOL,
                            "the link answer lacks connected_account_id or redirect_url");
    }
    tether_connection_request *r = calloc(1, sizeof(*r));
    char *text = json_dumps(j, JSON_COMPACT);
    if (r == NULL || text == NULL) {
        free(r);
        free(text);
        json_decref(j);
        return no_memory();
    }
    *r = (tether_connection_request){.c = c, .j = j, .json = text, .id = id, .redirect_url = url};
    *out = r;
    return 0;
}

int
tether_session_authorize(tether_session *s, const char *toolkit,
                         const tether_authorize_options *opts, tether_connection_request **out)
{
    if (s == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_session_authorize: NULL session or output");
    tether_authorize_options defaults;
    if (opts == NULL) {
        tether_authorize_options_init(&defaults);
        opts = &defaults;
    }
    json_t *body = NULL;
    int rc = tether__check_arg(toolkit, "toolkit slug");
    if (rc == 0)
        rc = link_body(toolkit, opts, &body);
    struct tether__str path = {0};
    if (rc == 0)
        rc = tether__session_path(&path, s->id, "/link");
    json_t *j = NULL;
    if (rc == 0)
        rc = tether__request(s->c, "POST", path.p, NULL, body, 0, &j);
    json_decref(body);
    tether__str_free(&path);
    return rc != 0 ? rc : request_wrap(s->c, j, out);
}

void
tether_connection_request_free(tether_connection_request *r)
{
    if (r == NULL)
        return;
    json_decref(r->j);
    free(r->json);
    free(r);
}

const char *
tether_connection_request_id(const tether_connection_request *r)
{
    return r ? r->id : NULL;
}

const char *
tether_connection_request_redirect_url(const tether_connection_request *r)
{
    return r ? r->redirect_url : NULL;
}

const char *
tether_connection_request_link_token(const tether_connection_request *r)
{
    return r ? tether__jstr(r->j, "link_token") : NULL;
}

const char *
tether_connection_request_json(const tether_connection_request *r)
{
    return r ? r->json : NULL;
}

int
tether_connection_request_wait(tether_connection_request *r, long timeout_ms, tether_account **out)
{
    if (r == NULL)
        return tether__fail(TETHER_EINVAL, "tether_connection_request_wait: NULL request");
    tether_wait_options o;
    tether_wait_options_init(&o);
    if (timeout_ms > 0)
        o.timeout_ms = timeout_ms;
    return tether_account_wait(r->c, r->id, &o, out);
}
