/* projects.h -- tenants and their API keys.
 * API keys are "tk_live_" + 43 random base64url characters, shown once; only a keyed hash is kept. */
#ifndef TETHER_CORE_PROJECTS_H
#define TETHER_CORE_PROJECTS_H
#include <stddef.h>
#include <jansson.h>
#include "core/core.h"

#define PROJECTS_KEY_MAX 64

/* On first start: creates the default project with env_key (when not NULL/empty) as its API key, or
 * with a generated one copied to new_key (new_key[0] stays '\0' when nothing was generated).
 * When the default project exists and env_key is given but unknown, env_key is added as a key. */
int projects_bootstrap(struct core *c, const char *env_key, char new_key[PROJECTS_KEY_MAX],
                       struct err *e);
/* Which project an API key belongs to: 0 and project_id filled, or -1 (ERR_UNAUTHORIZED). */
int projects_authenticate(struct core *c, const char *api_key, char project_id[STORE_ID],
                          struct err *e);
/* A new project with a first API key (copied to key, shown once). */
int projects_create(struct core *c, const char *name, char project_id[STORE_ID],
                    char key[PROJECTS_KEY_MAX], struct err *e);
/* A new API key for a project (copied to key, shown once); key_id receives the ak_ id. */
int projects_key_create(struct core *c, const char *project_id, char key_id[STORE_ID],
                        char key[PROJECTS_KEY_MAX], struct err *e);

#endif

/* Project settings, set by the project's own key:
 *   {"callback_origins": ["https://app.example", ...]   -- when non-empty, callback URLs must be on
 *                                                          one of these origins
 *    "branding": {"name","logo_url","accent_color","support_url"}}  -- Connect Link pages
 * body replaces the keys it names. *out receives the new settings (new reference). */
int projects_settings_update(struct core *c, const char *project_id, const json_t *body,
                             json_t **out, struct err *e);
int projects_settings_get(struct core *c, const char *project_id, json_t **out, struct err *e);
