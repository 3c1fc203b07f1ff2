/* sessions.c -- session create/update with config validation and normalisation. */
#include "core/sessions.h"
#include <stdio.h>
#include <string.h>
#include "catalog/catalog.h"
#include "common/ids.h"
#include "common/jsonv.h"
#include "common/url.h"

#define MAX_LIST 100

static const char *const CREATE_KEYS[] = {
    "user_id", "toolkits", "auth_configs", "connected_accounts", "manage_connections", "tools",
    "tags", "workbench", "multi_account", "preload", "search", "execute", "experimental", NULL};

/* Checks that every slug names a catalogue toolkit. */
static int
check_slugs(const json_t *list, struct err *e)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (catalog_get(json_string_value(v)) == NULL)
            return err_set(e, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s'",
                           json_string_value(v));
    }
    return 0;
}

/* toolkits: {"enable":[...]} | {"disable":[...]} | [...] -> {"enabled":[...]} / {"disabled":[...]} */
static int
norm_toolkits(const json_t *in, json_t **out, struct err *e)
{
    json_t *list = NULL;
    const char *key = "enabled";
    if (json_is_array(in)) {
        json_t *wrap = json_pack("{sO}", "enable", in);
        int rc = jv_string_array(wrap, "enable", 1, MAX_LIST, 64, &list, e);
        json_decref(wrap);
        if (rc != 0)
            return -1;
    } else if (json_is_object(in)) {
        static const char *const keys[] = {"enable", "disable", NULL};
        if (jv_only(in, keys, "'toolkits'", e) != 0)
            return -1;
        if (json_object_get(in, "enable") && json_object_get(in, "disable"))
            return err_set(e, ERR_VALIDATION, "'toolkits' takes 'enable' or 'disable', not both");
        json_t *dis = NULL;
        if (jv_string_array(in, "enable", 0, MAX_LIST, 64, &list, e) != 0 ||
            jv_string_array(in, "disable", 0, MAX_LIST, 64, &dis, e) != 0)
            return -1;
        if (dis != NULL) {
            key = "disabled";
            list = dis;
        }
    } else {
        return err_set(e, ERR_VALIDATION, "'toolkits' must be an object {\"enable\": [...]}");
    }
    if (list != NULL && check_slugs(list, e) != 0)
        return -1;
    *out = list ? json_pack("{sO}", key, list) : json_object();
    return 0;
}

static int
norm_auth_configs(struct core *c, const char *project_id, const json_t *in, json_t **out,
                  struct err *e)
{
    if (!json_is_object(in) || json_object_size(in) > MAX_LIST)
        return err_set(e, ERR_VALIDATION, "'auth_configs' must be an object {toolkit: \"ac_...\"}");
    const char *slug;
    json_t *v;
    json_object_foreach((json_t *)in, slug, v)
    {
        if (catalog_get(slug) == NULL)
            return err_set(e, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s' in 'auth_configs'",
                           slug);
        if (!json_is_string(v) || !ids_valid(json_string_value(v), "ac_"))
            return err_set(e, ERR_VALIDATION, "'auth_configs.%.64s' must be an auth config id",
                           slug);
        struct st_auth_config ac = {0};
        int rc = store_auth_config_get(c->store, project_id, json_string_value(v), &ac);
        if (rc != 0)
            return core_store_err(rc, e, ERR_AUTH_CONFIG_NOT_FOUND, "auth config",
                                  json_string_value(v));
        int same = strcmp(ac.toolkit, slug) == 0;
        st_auth_config_clear(&ac);
        if (!same)
            return err_set(e, ERR_VALIDATION, "auth config '%s' is not for toolkit '%.64s'",
                           json_string_value(v), slug);
    }
    *out = json_deep_copy(in);
    return 0;
}

/* Checks that an account exists in the project, belongs to the user and to the toolkit. */
static int
check_account(struct core *c, const char *project_id, const char *user_id, const char *slug,
              const char *id, struct err *e)
{
    if (!ids_valid(id, "ca_"))
        return err_set(e, ERR_VALIDATION, "'connected_accounts.%.64s' must hold account ids", slug);
    struct st_account a = {0};
    int rc = store_account_get(c->store, project_id, id, &a);
    if (rc != 0)
        return core_store_err(rc, e, ERR_ACCOUNT_NOT_FOUND, "connected account", id);
    int ok_user = strcmp(a.user_id, user_id) == 0, ok_tk = strcmp(a.toolkit, slug) == 0;
    st_account_clear(&a);
    if (!ok_user)
        return err_set(e, ERR_VALIDATION, "connected account '%s' belongs to another user", id);
    if (!ok_tk)
        return err_set(e, ERR_VALIDATION, "connected account '%s' is not a '%.64s' account", id,
                       slug);
    return 0;
}

/* connected_accounts: {toolkit: "ca_" | ["ca_", ...]} -> {toolkit: ["ca_", ...]} */
static int
norm_accounts(struct core *c, const char *project_id, const char *user_id, int multi,
              const json_t *in, json_t **out, struct err *e)
{
    if (!json_is_object(in) || json_object_size(in) > MAX_LIST)
        return err_set(e, ERR_VALIDATION,
                       "'connected_accounts' must be an object {toolkit: [\"ca_...\"]}");
    json_t *res = json_object();
    const char *slug;
    json_t *v;
    json_object_foreach((json_t *)in, slug, v)
    {
        json_t *ids = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
        json_object_set_new(res, slug, ids);
        if (catalog_get(slug) == NULL) {
            json_decref(res);
            return err_set(e, ERR_TOOLKIT_NOT_FOUND,
                           "unknown toolkit '%.64s' in 'connected_accounts'", slug);
        }
        if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 10) {
            json_decref(res);
            return err_set(e, ERR_VALIDATION,
                           "'connected_accounts.%.64s' must be an account id or a list of 1 to "
                           "10 ids", slug);
        }
        if (!multi && json_array_size(ids) > 1) {
            json_decref(res);
            err_set(e, ERR_VALIDATION, "only one account per toolkit may be pinned ('%.64s')",
                    slug);
            err_fix(e, "enable multi_account to pin several accounts of one toolkit");
            return -1;
        }
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id)
        {
            if (!json_is_string(id) ||
                check_account(c, project_id, user_id, slug, json_string_value(id), e) != 0) {
                if (!json_is_string(id))
                    err_set(e, ERR_VALIDATION, "'connected_accounts.%.64s' must hold strings",
                            slug);
                json_decref(res);
                return -1;
            }
        }
    }
    *out = res;
    return 0;
}

/* manage_connections: {enable, callback_url?, enable_wait_for_connections?} or a boolean. */
static int
norm_manage(const json_t *in, json_t **out, struct err *e)
{
    if (json_is_boolean(in)) {
        *out = json_pack("{sb}", "enabled", json_is_true(in));
        return 0;
    }
    static const char *const keys[] = {"enable", "callback_url", "enable_wait_for_connections",
                                       NULL};
    if (!json_is_object(in) || jv_only(in, keys, "'manage_connections'", e) != 0)
        return json_is_object(in) ? -1
                                  : err_set(e, ERR_VALIDATION,
                                            "'manage_connections' must be an object or boolean");
    int enable = 1, wait = 1;
    const char *cb = NULL;
    if (jv_bool(in, "enable", 0, &enable, e) != 0 ||
        jv_bool(in, "enable_wait_for_connections", 0, &wait, e) != 0 ||
        jv_string(in, "callback_url", 0, 2048, &cb, e) != 0)
        return -1;
    char why[160];
    if (cb != NULL && url_check_callback(cb, why, sizeof why) != 0)
        return err_set(e, ERR_VALIDATION, "'manage_connections.callback_url': %s", why);
    *out = json_pack("{sbsb}", "enabled", enable, "enable_wait_for_connections", wait);
    if (cb != NULL)
        json_object_set_new(*out, "callback_url", json_string(cb));
    return 0;
}

static int
norm_multi(const json_t *in, json_t **out, struct err *e)
{
    static const char *const keys[] = {"enable", "max_accounts_per_toolkit",
                                       "require_explicit_selection", NULL};
    if (!json_is_object(in))
        return err_set(e, ERR_VALIDATION, "'multi_account' must be an object");
    if (jv_only(in, keys, "'multi_account'", e) != 0)
        return -1;
    int enable = 0, explicit_sel = -1;
    long long max = 5;
    if (jv_bool(in, "enable", 0, &enable, e) != 0 ||
        jv_int(in, "max_accounts_per_toolkit", 0, 2, 10, &max, e) != 0 ||
        jv_bool(in, "require_explicit_selection", 0, &explicit_sel, e) != 0)
        return -1;
    if (explicit_sel < 0)
        explicit_sel = enable;
    *out = json_pack("{sbsIsb}", "enabled", enable, "max_accounts_per_toolkit", (json_int_t)max,
                     "require_explicit_selection", explicit_sel);
    return 0;
}

/* Keys echoed as given once their type is checked (tools, tags, workbench, ...). */
static int
norm_passthrough(const char *key, const json_t *in, json_t **out, struct err *e)
{
    if (!json_is_object(in) && !(strcmp(key, "tags") == 0 && json_is_array(in)))
        return err_set(e, ERR_VALIDATION, "'%s' must be an object", key);
    *out = json_deep_copy(in);
    return 0;
}

static json_t *
default_config(const char *user_id)
{
    return json_pack("{ss s{sb} s{sb} s{s[]} s{sb} s{sbsb} s{} s{} s{}}", "user_id", user_id,
                     "execute", "enable_multi_execute", 1, "search", "enable", 1, "preload",
                     "tools", "workbench", "enable", 0, "manage_connections", "enabled", 1,
                     "enable_wait_for_connections", 1, "auth_configs", "connected_accounts",
                     "toolkits");
}

static int
multi_enabled(const json_t *body, const json_t *cfg)
{
    json_t *m = json_object_get(body, "multi_account");
    if (json_is_object(m))
        return json_is_true(json_object_get(m, "enable"));
    return session_multi_account(cfg);
}

/* Applies the request-shaped keys of body onto cfg (which holds user_id). */
static int
apply(struct core *c, const char *project_id, const json_t *body, json_t *cfg, struct err *e)
{
    const char *user_id = json_string_value(json_object_get(cfg, "user_id"));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "user_id") == 0 || json_is_null(v))
            continue;
        json_t *out = NULL;
        int rc;
        if (strcmp(key, "toolkits") == 0)
            rc = norm_toolkits(v, &out, e);
        else if (strcmp(key, "auth_configs") == 0)
            rc = norm_auth_configs(c, project_id, v, &out, e);
        else if (strcmp(key, "connected_accounts") == 0)
            rc = norm_accounts(c, project_id, user_id, multi_enabled(body, cfg), v, &out, e);
        else if (strcmp(key, "manage_connections") == 0)
            rc = norm_manage(v, &out, e);
        else if (strcmp(key, "multi_account") == 0)
            rc = norm_multi(v, &out, e);
        else
            rc = norm_passthrough(key, v, &out, e);
        if (rc != 0)
            return -1;
        json_object_set_new(cfg, key, out);
    }
    return 0;
}

static int
save_new(struct core *c, const char *project_id, const char *user_id, json_t *cfg,
         struct st_session *out, struct err *e)
{
    struct st_session x = {0};
    ids_new(x.id, sizeof x.id, "trs_");
    snprintf(x.project_id, sizeof x.project_id, "%s", project_id);
    x.user_id = (char *)user_id;
    x.config = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    x.version = 1;
    int rc = x.config ? store_session_create(c->store, &x) : STORE_ERR;
    free(x.config);
    if (rc != 0)
        return core_store_err(rc, e, ERR_SESSION_NOT_FOUND, "session", x.id);
    return sessions_get(c, project_id, x.id, out, e);
}

int
sessions_create(struct core *c, const char *project_id, const json_t *body,
                struct st_session *out, struct err *e)
{
    const char *user_id = NULL;
    if (jv_only(body, CREATE_KEYS, "the session request", e) != 0 ||
        jv_string(body, "user_id", 1, 256, &user_id, e) != 0)
        return -1;
    json_t *cfg = default_config(user_id);
    int rc = apply(c, project_id, body, cfg, e);
    if (rc == 0)
        rc = save_new(c, project_id, user_id, cfg, out, e);
    json_decref(cfg);
    return rc;
}

int
sessions_get(struct core *c, const char *project_id, const char *id, struct st_session *out,
             struct err *e)
{
    if (!ids_valid(id, "trs_"))
        return err_set(e, ERR_SESSION_NOT_FOUND, "session '%.64s' not found", id);
    return core_store_err(store_session_get(c->store, project_id, id, out), e,
                          ERR_SESSION_NOT_FOUND, "session", id);
}

int
sessions_update(struct core *c, const char *project_id, const char *id, const json_t *body,
                struct st_session *out, struct err *e)
{
    if (jv_only(body, CREATE_KEYS, "the session update", e) != 0)
        return -1;
    struct st_session cur = {0};
    if (sessions_get(c, project_id, id, &cur, e) != 0)
        return -1;
    json_t *uid = json_object_get(body, "user_id");
    if (uid != NULL && !(json_is_string(uid) && strcmp(json_string_value(uid), cur.user_id) == 0)) {
        st_session_clear(&cur);
        return err_set(e, ERR_VALIDATION, "a session's user_id cannot change");
    }
    json_t *cfg = sessions_config(&cur);
    int rc = apply(c, project_id, body, cfg, e);
    if (rc == 0) {
        char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
        rc = core_store_err(text ? store_session_update(c->store, project_id, id, text, out)
                                 : STORE_ERR,
                            e, ERR_SESSION_NOT_FOUND, "session", id);
        free(text);
    }
    json_decref(cfg);
    st_session_clear(&cur);
    return rc;
}

int
sessions_delete(struct core *c, const char *project_id, const char *id, struct err *e)
{
    if (!ids_valid(id, "trs_"))
        return err_set(e, ERR_SESSION_NOT_FOUND, "session '%.64s' not found", id);
    return core_store_err(store_session_delete(c->store, project_id, id), e,
                          ERR_SESSION_NOT_FOUND, "session", id);
}

json_t *
sessions_config(const struct st_session *s)
{
    json_t *cfg = s->config ? json_loads(s->config, 0, NULL) : NULL;
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = default_config(s->user_id ? s->user_id : "");
    }
    return cfg;
}

const json_t *
session_enabled_list(const json_t *cfg)
{
    return json_object_get(json_object_get(cfg, "toolkits"), "enabled");
}

int
session_toolkit_enabled(const json_t *cfg, const char *slug)
{
    json_t *tk = json_object_get(cfg, "toolkits");
    json_t *list = json_object_get(tk, "enabled");
    int want = 1;
    if (list == NULL) {
        list = json_object_get(tk, "disabled");
        want = 0;
    }
    if (list == NULL)
        return 1;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (strcmp(json_string_value(v), slug) == 0) return want;
    return !want;
}

const json_t *
session_pinned_accounts(const json_t *cfg, const char *slug)
{
    return json_object_get(json_object_get(cfg, "connected_accounts"), slug);
}

const char *
session_pinned_account(const json_t *cfg, const char *slug)
{
    return json_string_value(json_array_get(session_pinned_accounts(cfg, slug), 0));
}

const char *
session_pinned_auth_config(const json_t *cfg, const char *slug)
{
    return json_string_value(json_object_get(json_object_get(cfg, "auth_configs"), slug));
}

int
session_manage_connections(const json_t *cfg)
{
    json_t *m = json_object_get(json_object_get(cfg, "manage_connections"), "enabled");
    return m == NULL || json_is_true(m);
}

int
session_multi_account(const json_t *cfg)
{
    return json_is_true(json_object_get(json_object_get(cfg, "multi_account"), "enabled"));
}
