#include "core/authcfg.h"
#include <stdio.h>
#include <string.h>
#include "common/ids.h"
#include "common/jsonv.h"

static const char *const BODY_KEYS[] = {"toolkit", "auth_config", NULL};
static const char *const AC_KEYS[] = {"type",
                                      "name",
                                      "authScheme",
                                      "auth_scheme",
                                      "credentials",
                                      "proxy_config",
                                      "tool_access_config",
                                      "restrict_to_following_tools",
                                      "is_enabled_for_tool_router",
                                      NULL};
static const char *const CRED_KEYS[] = {"client_id", "client_secret", "scopes", NULL};

/* scopes as an array, or a string split on spaces and commas; NULL when absent. */
static int
parse_scopes(const json_t *creds, json_t **out, struct err *e)
{
    json_t *v = json_object_get(creds, "scopes");
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_array(v))
        return jv_string_array(creds, "scopes", 0, 50, 200, out, e) == 0 ? (json_incref(*out), 0)
                                                                          : -1;
    if (!json_is_string(v) || json_string_length(v) > 2000)
        return err_set(e, ERR_VALIDATION, "'credentials.scopes' must be a list of strings");
    json_t *arr = json_array();
    char *copy = strdup(json_string_value(v));
    for (char *save = NULL, *tok = strtok_r(copy, " ,", &save); tok != NULL;
         tok = strtok_r(NULL, " ,", &save))
        json_array_append_new(arr, json_string(tok));
    free(copy);
    *out = arr;
    return 0;
}

static int
fill_custom_oauth(struct core *c, const json_t *ac, struct st_auth_config *x, struct err *e)
{
    json_t *creds = NULL, *scopes = NULL;
    const char *id = NULL, *secret = NULL;
    if (jv_object(ac, "credentials", 1, &creds, e) != 0 ||
        jv_only(creds, CRED_KEYS, "'auth_config.credentials'", e) != 0 ||
        jv_string(creds, "client_id", 1, 512, &id, e) != 0 ||
        jv_string(creds, "client_secret", 1, 1024, &secret, e) != 0 ||
        parse_scopes(creds, &scopes, e) != 0)
        return -1;
    x->client_id = strdup(id);
    char ctx[STORE_ID + 4];
    snprintf(ctx, sizeof ctx, "ac|%s", x->id);
    if (vault_seal(c->vault, ctx, secret, strlen(secret), &x->secret_enc, &x->secret_len) != 0) {
        json_decref(scopes);
        return err_set(e, ERR_INTERNAL, "cannot seal the client secret");
    }
    x->scopes = scopes ? json_dumps(scopes, JSON_COMPACT) : NULL;
    json_decref(scopes);
    return 0;
}

static int
check_managed(struct core *c, const struct catalog_toolkit *t, const struct catalog_scheme *s,
              struct err *e)
{
    if (s->type != CATALOG_OAUTH2)
        return 0;
    struct st_managed_app app = {0};
    int rc = store_managed_app_get(c->store, t->slug, &app);
    st_managed_app_clear(&app);
    if (rc == 0)
        return 0;
    if (rc != STORE_NOTFOUND)
        return core_store_err(rc, e, ERR_NOT_FOUND, "managed app", t->slug);
    err_set(e, ERR_BAD_REQUEST, "no managed OAuth app is configured for '%s' on this server",
            t->slug);
    err_fix(e, "create a custom auth config (type use_custom_auth) with your OAuth app's "
               "client_id and client_secret, or ask the operator to run `tether apps set %s`",
            t->slug);
    return -1;
}

/* Validates the auth_config object and fills x (id and project already set). */
static int
fill(struct core *c, const struct catalog_toolkit *t, const json_t *ac, struct st_auth_config *x,
     struct err *e)
{
    const char *type = NULL, *name = NULL, *scheme_name = NULL;
    if (jv_only(ac, AC_KEYS, "'auth_config'", e) != 0 ||
        jv_string(ac, "type", 1, 64, &type, e) != 0 || jv_string(ac, "name", 0, 100, &name, e) ||
        jv_string(ac, "authScheme", 0, 32, &scheme_name, e) != 0 ||
        (scheme_name == NULL && jv_string(ac, "auth_scheme", 0, 32, &scheme_name, e) != 0))
        return -1;
    int managed = strcmp(type, "use_composio_managed_auth") == 0;
    if (!managed && strcmp(type, "use_custom_auth") != 0)
        return err_set(e, ERR_VALIDATION,
                       "'auth_config.type' must be use_custom_auth or use_composio_managed_auth");
    const struct catalog_scheme *s = catalog_scheme(t, scheme_name);
    if (s == NULL)
        return err_set(e, ERR_VALIDATION, "toolkit '%s' has no auth scheme '%.32s'", t->slug,
                       scheme_name);
    if (s->type == CATALOG_NO_AUTH)
        return err_set(e, ERR_NO_AUTH_TOOLKIT, "toolkit '%s' needs no auth config", t->slug);
    snprintf(x->toolkit, sizeof x->toolkit, "%s", t->slug);
    snprintf(x->auth_scheme, sizeof x->auth_scheme, "%s", s->type_name);
    snprintf(x->name, sizeof x->name, "%s", name ? name : t->name);
    x->is_managed = managed;
    json_t *extra = json_object();
    static const char *const kept[] = {"proxy_config", "tool_access_config",
                                       "restrict_to_following_tools", NULL};
    for (const char *const *k = kept; *k; k++)
        if (json_object_get(ac, *k))
            json_object_set(extra, *k, json_object_get(ac, *k));
    x->extra = json_dumps(extra, JSON_COMPACT);
    json_decref(extra);
    if (managed)
        return check_managed(c, t, s, e);
    if (s->type == CATALOG_OAUTH2)
        return fill_custom_oauth(c, ac, x, e);
    return 0;
}

int
authcfg_create(struct core *c, const char *project_id, const json_t *body,
               struct st_auth_config *out, struct err *e)
{
    json_t *tk = NULL, *ac = NULL;
    const char *slug = NULL;
    if (jv_only(body, BODY_KEYS, "the auth config request", e) != 0 ||
        jv_object(body, "toolkit", 1, &tk, e) != 0 || jv_string(tk, "slug", 1, 64, &slug, e) != 0 ||
        jv_object(body, "auth_config", 0, &ac, e) != 0)
        return -1;
    const struct catalog_toolkit *t = catalog_get(slug);
    if (t == NULL)
        return err_set(e, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s'", slug);
    json_t *dflt = ac ? NULL : json_pack("{ss}", "type", "use_composio_managed_auth");
    struct st_auth_config x = {0};
    ids_new(x.id, sizeof x.id, "ac_");
    snprintf(x.project_id, sizeof x.project_id, "%s", project_id);
    int rc = fill(c, t, ac ? ac : dflt, &x, e);
    json_decref(dflt);
    if (rc == 0)
        rc = core_store_err(store_auth_config_create(c->store, &x), e, ERR_AUTH_CONFIG_NOT_FOUND,
                            "auth config", x.id);
    if (rc == 0)
        rc = authcfg_get(c, project_id, x.id, out, e);
    st_auth_config_clear(&x);
    return rc;
}

int
authcfg_get(struct core *c, const char *project_id, const char *id, struct st_auth_config *out,
            struct err *e)
{
    if (!ids_valid(id, "ac_"))
        return err_set(e, ERR_AUTH_CONFIG_NOT_FOUND, "auth config '%.64s' not found", id);
    return core_store_err(store_auth_config_get(c->store, project_id, id, out), e,
                          ERR_AUTH_CONFIG_NOT_FOUND, "auth config", id);
}

struct summary {
    char toolkit[STORE_ID];
    char auth_scheme[24];
    unsigned char is_managed, disabled;
};

int
authcfg_summary(struct core *c, const char *project_id, const char *id,
                struct st_auth_config *out)
{
    char key[TTLCACHE_KEY];
    struct summary s;
    memset(out, 0, sizeof *out);
    snprintf(key, sizeof key, "%s|%s", project_id, id);
    if (!ttlcache_get(c->ac_cache, key, &s, sizeof s)) {
        struct st_auth_config full = {0};
        int rc = store_auth_config_get(c->store, project_id, id, &full);
        if (rc != 0)
            return rc;
        memset(&s, 0, sizeof s);
        snprintf(s.toolkit, sizeof s.toolkit, "%s", full.toolkit);
        snprintf(s.auth_scheme, sizeof s.auth_scheme, "%s", full.auth_scheme);
        s.is_managed = (unsigned char)full.is_managed;
        s.disabled = (unsigned char)full.disabled;
        st_auth_config_clear(&full);
        ttlcache_put(c->ac_cache, key, &s, sizeof s);
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->project_id, sizeof out->project_id, "%s", project_id);
    memcpy(out->toolkit, s.toolkit, sizeof out->toolkit);
    memcpy(out->auth_scheme, s.auth_scheme, sizeof out->auth_scheme);
    out->is_managed = s.is_managed;
    out->disabled = s.disabled;
    return 0;
}

static int
create_managed(struct core *c, const char *project_id, const struct catalog_toolkit *t,
               struct st_auth_config *out, struct err *e)
{
    json_t *body = json_pack("{s{ss}s{ss}}", "toolkit", "slug", t->slug, "auth_config", "type",
                             "use_composio_managed_auth");
    struct err inner = {0};
    int rc = authcfg_create(c, project_id, body, out, &inner);
    json_decref(body);
    if (rc == 0)
        return 0;
    if (inner.code != ERR_BAD_REQUEST) {
        *e = inner;
        return -1;
    }
    err_set(e, ERR_BAD_REQUEST, "no auth config for toolkit '%s' in this project", t->slug);
    err_fix(e, "create one with POST /api/v3.1/auth_configs {\"toolkit\":{\"slug\":\"%s\"},"
               "\"auth_config\":{\"type\":\"use_custom_auth\",\"credentials\":{...}}}",
            t->slug);
    return -1;
}

int
authcfg_resolve(struct core *c, const char *project_id, const struct catalog_toolkit *t,
                const char *pinned_id, struct st_auth_config *out, struct err *e)
{
    if (pinned_id != NULL) {
        if (authcfg_get(c, project_id, pinned_id, out, e) != 0)
            return -1;
        if (strcmp(out->toolkit, t->slug) != 0 || out->disabled) {
            st_auth_config_clear(out);
            return err_set(e, ERR_BAD_REQUEST, "auth config '%s' is %s", pinned_id,
                           out->disabled ? "disabled" : "for another toolkit");
        }
        return 0;
    }
    int rc = store_auth_config_newest(c->store, project_id, t->slug, -1, out);
    if (rc == 0)
        return 0;
    if (rc != STORE_NOTFOUND)
        return core_store_err(rc, e, ERR_AUTH_CONFIG_NOT_FOUND, "auth config", t->slug);
    return create_managed(c, project_id, t, out, e);
}

static json_t *
scopes_from(const char *text, const struct catalog_scheme *s)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_array(v))
        return v;
    json_decref(v);
    json_t *arr = json_array();
    for (const char *const *p = s->scopes; p && *p; p++)
        json_array_append_new(arr, json_string(*p));
    return arr;
}

int
authcfg_client(struct core *c, const struct st_auth_config *ac, const struct catalog_scheme *s,
               struct authcfg_client *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    char ctx[STORE_ID + 8];
    size_t n = 0;
    if (!ac->is_managed) {
        snprintf(ctx, sizeof ctx, "ac|%s", ac->id);
        if (ac->client_id == NULL || ac->secret_enc == NULL ||
            vault_unseal(c->vault, ctx, ac->secret_enc, ac->secret_len, &out->secret, &n) != 0)
            return err_set(e, ERR_INTERNAL, "auth config '%s' has no usable OAuth client", ac->id);
        out->client_id = strdup(ac->client_id);
        out->scopes = scopes_from(ac->scopes, s);
        return 0;
    }
    struct st_managed_app app = {0};
    int rc = store_managed_app_get(c->store, ac->toolkit, &app);
    if (rc != 0)
        return err_set(e, ERR_BAD_REQUEST, "no managed OAuth app is configured for '%s'",
                       ac->toolkit);
    snprintf(ctx, sizeof ctx, "app|%s", ac->toolkit);
    rc = vault_unseal(c->vault, ctx, app.secret_enc, app.secret_len, &out->secret, &n);
    if (rc == 0) {
        out->client_id = strdup(app.client_id);
        out->scopes = scopes_from(ac->scopes ? ac->scopes : app.scopes, s);
    }
    st_managed_app_clear(&app);
    return rc == 0 ? 0 : err_set(e, ERR_INTERNAL, "cannot open the managed app's secret");
}

void
authcfg_client_clear(struct authcfg_client *cl)
{
    free(cl->client_id);
    if (cl->secret != NULL)
        vault_free_secret(cl->secret, strlen(cl->secret));
    json_decref(cl->scopes);
    memset(cl, 0, sizeof *cl);
}

int
authcfg_set_managed_app(struct core *c, const char *toolkit, const char *client_id,
                        const char *client_secret, struct err *e)
{
    const struct catalog_toolkit *t = catalog_get(toolkit);
    if (t == NULL || catalog_scheme(t, "OAUTH2") == NULL)
        return err_set(e, ERR_VALIDATION, "'%s' is not an OAuth2 toolkit of the catalogue",
                       toolkit);
    struct st_managed_app app = {0};
    snprintf(app.toolkit, sizeof app.toolkit, "%s", toolkit);
    app.client_id = (char *)client_id;
    char ctx[STORE_ID + 8];
    snprintf(ctx, sizeof ctx, "app|%s", toolkit);
    if (vault_seal(c->vault, ctx, client_secret, strlen(client_secret), &app.secret_enc,
                   &app.secret_len) != 0)
        return err_set(e, ERR_INTERNAL, "cannot seal the client secret");
    int rc = store_managed_app_set(c->store, &app);
    free(app.secret_enc);
    return core_store_err(rc, e, ERR_NOT_FOUND, "managed app", toolkit);
}
