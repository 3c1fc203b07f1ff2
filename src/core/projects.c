#include "core/projects.h"
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "common/ids.h"
#include "common/jsonv.h"
#include "common/url.h"
#include <stdlib.h>

static int
add_key(struct core *c, const char *project_id, const char *key, char key_id[STORE_ID],
        struct err *e)
{
    unsigned char hash[VAULT_HASH_LEN];
    vault_hash(c->vault, key, hash);
    char hint[16];
    snprintf(hint, sizeof hint, "%.12s", key);
    ids_new(key_id, STORE_ID, "ak_");
    int rc = store_key_create(c->store, key_id, project_id, hash, hint);
    return core_store_err(rc, e, ERR_NOT_FOUND, "API key", key_id);
}

int
projects_bootstrap(struct core *c, const char *env_key, char new_key[PROJECTS_KEY_MAX],
                   struct err *e)
{
    new_key[0] = '\0';
    struct st_project p = {0};
    int rc = store_project_first(c->store, &p);
    char kid[STORE_ID];
    if (rc == 0) {
        char pid[STORE_ID];
        st_project_clear(&p);
        if (env_key == NULL || env_key[0] == '\0' ||
            projects_authenticate(c, env_key, pid, NULL) == 0)
            return 0;
        return add_key(c, p.id, env_key, kid, e);
    }
    if (rc != STORE_NOTFOUND)
        return core_store_err(rc, e, ERR_NOT_FOUND, "project", "default");
    char pid[STORE_ID];
    ids_new(pid, sizeof pid, "pr_");
    rc = store_project_create(c->store, pid, "default");
    if (rc != 0)
        return core_store_err(rc, e, ERR_NOT_FOUND, "project", pid);
    if (env_key != NULL && env_key[0] != '\0')
        return add_key(c, pid, env_key, kid, e);
    ids_token(new_key, PROJECTS_KEY_MAX, "tk_live_");
    return add_key(c, pid, new_key, kid, e);
}

int
projects_authenticate(struct core *c, const char *api_key, char project_id[STORE_ID],
                      struct err *e)
{
    if (api_key == NULL || api_key[0] == '\0')
        return err_set(e, ERR_UNAUTHORIZED, "missing API key: send it in the x-api-key header");
    if (strlen(api_key) > 200)
        return err_set(e, ERR_UNAUTHORIZED, "invalid API key");
    unsigned char hash[VAULT_HASH_LEN];
    vault_hash(c->vault, api_key, hash);
    char hex[2 * VAULT_HASH_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    if (ttlcache_get(c->key_cache, hex, project_id, STORE_ID))
        return 0;
    struct st_api_key k = {0};
    int rc = store_key_lookup(c->store, hash, &k);
    if (rc == STORE_NOTFOUND)
        return err_set(e, ERR_UNAUTHORIZED, "invalid API key");
    if (rc != 0)
        return core_store_err(rc, e, ERR_UNAUTHORIZED, "API key", "");
    memcpy(project_id, k.project_id, STORE_ID);
    ttlcache_put(c->key_cache, hex, project_id, STORE_ID);
    return 0;
}

int
projects_create(struct core *c, const char *name, char project_id[STORE_ID],
                char key[PROJECTS_KEY_MAX], struct err *e)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 100)
        return err_set(e, ERR_VALIDATION, "a project name of 1 to 100 characters is required");
    ids_new(project_id, STORE_ID, "pr_");
    int rc = store_project_create(c->store, project_id, name);
    if (rc != 0)
        return core_store_err(rc, e, ERR_NOT_FOUND, "project", project_id);
    char kid[STORE_ID];
    ids_token(key, PROJECTS_KEY_MAX, "tk_live_");
    return add_key(c, project_id, key, kid, e);
}

int
projects_key_create(struct core *c, const char *project_id, char key_id[STORE_ID],
                    char key[PROJECTS_KEY_MAX], struct err *e)
{
    struct st_project p = {0};
    int rc = store_project_get(c->store, project_id, &p);
    if (rc != 0)
        return core_store_err(rc, e, ERR_NOT_FOUND, "project", project_id);
    st_project_clear(&p);
    ids_token(key, PROJECTS_KEY_MAX, "tk_live_");
    return add_key(c, project_id, key, key_id, e);
}

static int
norm_origins(const json_t *in, json_t **out, struct err *e)
{
    if (!json_is_array(in) || json_array_size(in) > 50)
        return err_set(e, ERR_VALIDATION, "'callback_origins' must be a list of up to 50 origins");
    json_t *res = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        char *origin = json_is_string(v) ? url_origin(json_string_value(v)) : NULL;
        int exact = origin && strcmp(origin, json_string_value(v)) == 0;
        if (!exact) {
            free(origin);
            json_decref(res);
            return err_set(e, ERR_VALIDATION,
                           "'callback_origins' entries must be origins like https://app.example");
        }
        json_array_append_new(res, json_string(origin));
        free(origin);
    }
    *out = res;
    return 0;
}

static int
valid_https(const char *s)
{
    char why[128];
    return strncmp(s, "https://", 8) == 0 && url_check_callback(s, why, sizeof why) == 0;
}

static int
norm_branding(const json_t *in, json_t **out, struct err *e)
{
    static const char *const keys[] = {"name", "logo_url", "accent_color", "support_url", NULL};
    const char *name = NULL, *logo = NULL, *accent = NULL, *support = NULL;
    if (!json_is_object(in))
        return err_set(e, ERR_VALIDATION, "'branding' must be an object");
    if (jv_only(in, keys, "'branding'", e) != 0 || jv_string(in, "name", 0, 80, &name, e) != 0 ||
        jv_string(in, "logo_url", 0, 2048, &logo, e) != 0 ||
        jv_string(in, "accent_color", 0, 7, &accent, e) != 0 ||
        jv_string(in, "support_url", 0, 2048, &support, e) != 0)
        return -1;
    if (logo && !valid_https(logo))
        return err_set(e, ERR_VALIDATION, "'branding.logo_url' must be an https URL");
    if (support && !valid_https(support))
        return err_set(e, ERR_VALIDATION, "'branding.support_url' must be an https URL");
    if (accent && !(strlen(accent) == 7 && accent[0] == '#' &&
                    strspn(accent + 1, "0123456789abcdefABCDEF") == 6))
        return err_set(e, ERR_VALIDATION, "'branding.accent_color' must look like #1a2b3c");
    *out = json_deep_copy(in);
    return 0;
}

int
projects_settings_get(struct core *c, const char *project_id, json_t **out, struct err *e)
{
    struct st_project p = {0};
    int rc = store_project_get(c->store, project_id, &p);
    if (rc != 0)
        return core_store_err(rc, e, ERR_NOT_FOUND, "project", project_id);
    *out = p.settings ? json_loads(p.settings, 0, NULL) : NULL;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = json_object();
    }
    st_project_clear(&p);
    return 0;
}

int
projects_settings_update(struct core *c, const char *project_id, const json_t *body,
                         json_t **out, struct err *e)
{
    static const char *const keys[] = {"callback_origins", "branding", NULL};
    json_t *origins = NULL, *brand = NULL, *settings = NULL;
    if (jv_only(body, keys, "the settings", e) != 0)
        return -1;
    json_t *o = json_object_get(body, "callback_origins"), *b = json_object_get(body, "branding");
    if ((o && norm_origins(o, &origins, e) != 0) || (b && norm_branding(b, &brand, e) != 0) ||
        projects_settings_get(c, project_id, &settings, e) != 0) {
        json_decref(origins);
        json_decref(brand);
        return -1;
    }
    if (origins)
        json_object_set_new(settings, "callback_origins", origins);
    if (brand)
        json_object_set_new(settings, "branding", brand);
    char *text = json_dumps(settings, JSON_COMPACT);
    int rc = text ? store_project_set_settings(c->store, project_id, text) : STORE_ERR;
    free(text);
    if (rc != 0) {
        json_decref(settings);
        return core_store_err(rc, e, ERR_NOT_FOUND, "project", project_id);
    }
    *out = settings;
    return 0;
}
