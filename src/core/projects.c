#include "core/projects.h"
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "common/ids.h"

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
    struct st_api_key k = {0};
    int rc = store_key_lookup(c->store, hash, &k);
    if (rc == STORE_NOTFOUND)
        return err_set(e, ERR_UNAUTHORIZED, "invalid API key");
    if (rc != 0)
        return core_store_err(rc, e, ERR_UNAUTHORIZED, "API key", "");
    memcpy(project_id, k.project_id, STORE_ID);
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
