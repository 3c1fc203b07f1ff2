#include "api/api.h"
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include "catalog/catalog.h"
#include "common/jsonv.h"
#include "common/jsonw.h"
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

static void
put_str(struct buf *b, const char *key, const char *v)
{
    jsonw_key(b, key, 0);
    jsonw_str(b, v);
}

static void
put_time(struct buf *b, const char *key, int64_t ms)
{
    char t[32];
    time_iso8601(ms, t);
    put_str(b, key, t);
}

void
api_account_write(struct buf *b, const struct st_account *a, const struct st_auth_config *ac)
{
    buf_append(b, "{", 1);
    jsonw_key(b, "id", 1);
    jsonw_str(b, a->id);
    put_str(b, "status", a->status);
    put_str(b, "status_reason", a->status_reason);
    buf_printf(b, ",\"is_disabled\":%s", a->is_disabled ? "true" : "false");
    put_time(b, "created_at", a->created_at);
    put_time(b, "updated_at", a->updated_at);
    buf_puts(b, ",\"toolkit\":{\"slug\":");
    jsonw_str(b, a->toolkit);
    buf_puts(b, "},\"auth_config\":{\"id\":");
    jsonw_str(b, a->auth_config_id);
    put_str(b, "auth_scheme", ac ? ac->auth_scheme : "OAUTH2");
    buf_printf(b, ",\"is_composio_managed\":%s,\"is_disabled\":%s}",
               ac && ac->is_managed ? "true" : "false", ac && ac->disabled ? "true" : "false");
    put_str(b, "user_id", a->user_id);
    put_str(b, "alias", a->alias);
    put_str(b, "word_id", a->word_id[0] ? a->word_id : NULL);
    /* data is JSON text the server wrote itself; anything else is shown as {} */
    int data_ok = a->data != NULL && a->data[0] == '{';
    buf_puts(b, ",\"data\":");
    buf_puts(b, data_ok ? a->data : "{}");
    buf_puts(b, ",\"params\":{},\"experimental\":{\"account_type\":\"PRIVATE\"}}");
}

json_t *
api_account_json(struct core *c, const struct st_account *a, const struct st_auth_config *ac)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    api_account_write(&b, a, ac);
    json_t *v = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    buf_free(&b);
    return v ? v : json_pack("{ssss}", "id", a->id, "status", a->status);
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
    if (!json_is_false(json_object_get(json_object_get(cfg, "search"), "enable")))
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
