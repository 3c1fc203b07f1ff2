/* sessions.h -- tool-router sessions: one user's agent session and its configuration (toolkits
 * enabled or disabled, in-chat connection management, pinned accounts and auth configs,
 * multi-account settings). The config is stored normalised, in the response's spelling
 * ("enabled"/"disabled"), and echoed back to the app. */
#ifndef TETHER_CORE_SESSIONS_H
#define TETHER_CORE_SESSIONS_H
#include <jansson.h>
#include "core/core.h"

/* body is the create request ({"user_id", "toolkits", "manage_connections", ...}). Every id and
 * slug it names is checked. 0 and *out (st_session_clear it), or -1 with e. */
int sessions_create(struct core *c, const char *project_id, const json_t *body,
                    struct st_session *out, struct err *e);
int sessions_get(struct core *c, const char *project_id, const char *id, struct st_session *out,
                 struct err *e);
/* body holds request-shaped keys; each one given replaces that part of the config. */
int sessions_update(struct core *c, const char *project_id, const char *id, const json_t *body,
                    struct st_session *out, struct err *e);
int sessions_delete(struct core *c, const char *project_id, const char *id, struct err *e);

/* Queries over a session's parsed config (sessions_config: a new reference, never NULL). */
json_t *sessions_config(const struct st_session *s);
int session_toolkit_enabled(const json_t *cfg, const char *slug);
/* Whether the session names its toolkits explicitly (then only those are listed). */
const json_t *session_enabled_list(const json_t *cfg);
const char *session_pinned_account(const json_t *cfg, const char *slug); /* first pin, or NULL */
const json_t *session_pinned_accounts(const json_t *cfg, const char *slug); /* array or NULL */
const char *session_pinned_auth_config(const json_t *cfg, const char *slug);
int session_manage_connections(const json_t *cfg);
int session_multi_account(const json_t *cfg);

#endif
