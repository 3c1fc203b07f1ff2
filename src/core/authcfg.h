/* authcfg.h -- auth configs: how a project signs its users in to one toolkit. Custom configs carry
 * the project's own OAuth client (the secret sealed in the vault); managed ones use the operator's
 * app for that toolkit (see `tether apps set`) or, for key-based toolkits, need nothing. */
#ifndef TETHER_CORE_AUTHCFG_H
#define TETHER_CORE_AUTHCFG_H
#include <jansson.h>
#include "catalog/catalog.h"
#include "core/core.h"

/* body: {"toolkit":{"slug"},"auth_config":{"type":"use_custom_auth"|"use_composio_managed_auth",
 * "name"?, "authScheme"?, "credentials"?:{"client_id","client_secret","scopes"?}, ...}}. */
int authcfg_create(struct core *c, const char *project_id, const json_t *body,
                   struct st_auth_config *out, struct err *e);
int authcfg_get(struct core *c, const char *project_id, const char *id, struct st_auth_config *out,
                struct err *e);
/* The fields of a config that account responses show (id, toolkit, auth_scheme, is_managed,
 * disabled), from a short-lived cache; other fields are left zero. 0 or a STORE_* code. */
int authcfg_summary(struct core *c, const char *project_id, const char *id,
                    struct st_auth_config *out);
/* The config a new connection to toolkit uses: the pinned one (must be enabled and for that
 * toolkit), else the project's newest enabled one, else a managed one created on first use, else
 * ERR_BAD_REQUEST saying how to create one. */
int authcfg_resolve(struct core *c, const char *project_id, const struct catalog_toolkit *t,
                    const char *pinned_id, struct st_auth_config *out, struct err *e);

/* The OAuth client of an OAUTH2 config. client_id and secret are malloc'd; the secret must be
 * released with vault_free_secret(secret, strlen(secret)). scopes is a new reference to an array
 * (the config's, the managed app's, or the catalogue's defaults). */
struct authcfg_client {
    char *client_id;
    char *secret;
    json_t *scopes;
};
int authcfg_client(struct core *c, const struct st_auth_config *ac,
                   const struct catalog_scheme *s, struct authcfg_client *out, struct err *e);
void authcfg_client_clear(struct authcfg_client *cl);

/* Operator command: sets the managed OAuth app of a toolkit. */
int authcfg_set_managed_app(struct core *c, const char *toolkit, const char *client_id,
                            const char *client_secret, struct err *e);

#endif
