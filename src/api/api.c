#include "api/api.h"
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include "catalog/catalog.h"
#include "common/jsonv.h"
#include "common/timeutil.h"
#include "core/sessions.h"

struct core *
api_core(struct http_req *r)
{
    return r->app;
}

const char *
api_project(struct http_req *r)
{
    return r->auth;
}

int
api_fail(struct http_req *r, const struct err *e)
{
    http_reply_err(r, e);
    return -1;
}

int
api_body_or_reply(struct http_req *r, json_t **out)
{
    if (r->body_too_large) {
        http_reply_error(r, ERR_PAYLOAD_TOO_LARGE, "the request body is larger than %d bytes",
                         HTTP_MAX_BODY);
        return -1;
    }
    const char *ct = http_header(r, "Content-Type");
    if (ct != NULL && r->body.len > 0 && strncasecmp(ct, "application/json", 16) != 0) {
        http_reply_error(r, ERR_UNSUPPORTED_MEDIA, "send the body as application/json");
        return -1;
    }
    struct err e;
    *out = jv_parse_object(r->body.data ? r->body.data : "", r->body.len, &e);
    return *out ? 0 : api_fail(r, &e);
}

int
api_query_int_or_reply(struct http_req *r, const char *name, long def, long min, long max,
                       long *out)
{
    const char *v = http_query(r, name);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < min || n > max) {
        http_reply_error(r, ERR_VALIDATION, "'%s' must be a whole number from %ld to %ld", name,
                         min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int
api_query_bool_or_reply(struct http_req *r, const char *name)
{
    const char *v = http_query(r, name);
    if (v == NULL || v[0] == '\0')
        return -1;
    if (strcmp(v, "true") == 0)
        return 1;
    if (strcmp(v, "false") == 0)
        return 0;
    http_reply_error(r, ERR_VALIDATION, "'%s' must be true or false", name);
    return -2;
}

int
api_query_list_or_reply(struct http_req *r, const char *name, size_t max, const char ***out)
{
    *out = NULL;
    const char *v = http_query(r, name);
    if (v == NULL || v[0] == '\0')
        return 0;
    char *copy = http_keep(r, strdup(v));
    const char **list = http_keep(r, calloc(max + 1, sizeof *list));
    if (copy == NULL || list == NULL) {
        http_reply_error(r, ERR_INTERNAL, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == max) {
            http_reply_error(r, ERR_VALIDATION, "'%s' lists more than %zu values", name, max);
            return -1;
        }
        while (*tok == ' ')
            tok++;
        list[n++] = tok;
    }
    *out = list;
    return 0;
}

json_t *
api_time(int64_t ms)
{
    char buf[32];
    time_iso8601(ms, buf);
    return json_string(buf);
}

static json_t *
json_or_empty(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_object();
    }
    return v;
}

json_t *
api_account_json(struct core *c, const struct st_account *a, const struct st_auth_config *ac)
{
    json_t *data = json_or_empty(a->data);
    return json_pack(
        "{ss ss ss? sb so so s{ss} s{ss ss sb sb} ss ss? ss? so s{} s{ss}}", "id", a->id, "status",
        a->status, "status_reason", a->status_reason, "is_disabled", a->is_disabled, "created_at",
        api_time(a->created_at), "updated_at", api_time(a->updated_at), "toolkit", "slug",
        a->toolkit, "auth_config", "id", a->auth_config_id, "auth_scheme",
        ac ? ac->auth_scheme : "OAUTH2", "is_composio_managed", ac ? ac->is_managed : 0,
        "is_disabled", ac ? ac->disabled : 0, "user_id", a->user_id, "alias", a->alias,
        "word_id", a->word_id[0] ? a->word_id : NULL, "data", data, "params", "experimental",
        "account_type", "PRIVATE");
}

json_t *
api_auth_config_json(const struct st_auth_config *ac)
{
    const struct catalog_toolkit *t = catalog_get(ac->toolkit);
    json_t *extra = json_or_empty(ac->extra);
    json_t *tac = json_incref(json_object_get(extra, "tool_access_config"));
    json_decref(extra);
    return json_pack("{ss ss ss sI s{ss ss} ss sb ss so ss* so so}", "id", ac->id, "name",
                     ac->name, "status", ac->disabled ? "DISABLED" : "ENABLED", "no_of_connections",
                     (json_int_t)ac->connections, "toolkit", "slug", ac->toolkit, "logo",
                     t && t->logo ? t->logo : "", "auth_scheme", ac->auth_scheme,
                     "is_composio_managed", ac->is_managed, "type",
                     ac->is_managed ? "default" : "custom", "tool_access_config",
                     tac ? tac : json_object(), "client_id", ac->client_id, "created_at",
                     api_time(ac->created_at), "last_updated_at", api_time(ac->updated_at));
}

static json_t *
router_tools(const json_t *cfg)
{
    json_t *tools = json_array();
    json_array_append_new(tools, json_string("COMPOSIO_SEARCH_TOOLS"));
    if (session_manage_connections(cfg)) {
        json_array_append_new(tools, json_string("COMPOSIO_MANAGE_CONNECTIONS"));
        json_t *m = json_object_get(cfg, "manage_connections");
        if (!json_is_false(json_object_get(m, "enable_wait_for_connections")))
            json_array_append_new(tools, json_string("COMPOSIO_WAIT_FOR_CONNECTIONS"));
    }
    return tools;
}

json_t *
api_session_json(struct core *c, const struct st_session *s)
{
    char url[700];
    snprintf(url, sizeof url, "%s/tool_router/%s/mcp", c->public_url, s->id);
    json_t *cfg = sessions_config(s);
    return json_pack("{ss s{ssss} so sI so s[] so}", "session_id", s->id, "mcp", "type", "http",
                     "url", url, "config", cfg, "config_version", (json_int_t)s->version,
                     "tool_router_tools", router_tools(cfg), "warnings", "created_at",
                     api_time(s->created_at));
}
