/* dashboard.h -- sign-in sessions of the admin dashboard. Owns the session table; does not render
 * pages or read cookies (web/dashboard.c does).
 *
 * An operator signs in with one of the project's API keys. The browser then holds a random session
 * token (a cookie); the server keeps only the keyed hash of that token, mapped to the project, the
 * hash of the API key used, a per-session CSRF token and the expiry times. The table lives in
 * memory: a restart signs everyone out, and with several nodes behind a load balancer a session
 * is only known to the node that created it (sticky sessions, or sign in again). In exchange no
 * session secret ever reaches the database, and sign-out is immediate. Every lookup checks again
 * that the API key is still valid, so revoking a key ends the sessions opened with it.
 *
 * Sessions last DASHBOARD_IDLE_MS without use and DASHBOARD_TTL_MS at most. The table holds at
 * most DASHBOARD_MAX_SESSIONS; when full, the session used least recently is dropped. */
#ifndef TETHER_CORE_DASHBOARD_H
#define TETHER_CORE_DASHBOARD_H
#include "core/core.h"

#define DASHBOARD_TOKEN_MAX 64 /* "ds_" + 43 characters + NUL fits */
#define DASHBOARD_CSRF_MAX 48
#define DASHBOARD_TTL_MS (8 * 3600 * 1000LL)
#define DASHBOARD_IDLE_MS (60 * 60 * 1000LL)
#define DASHBOARD_MAX_SESSIONS 1024

struct dashboard_session {
    char project_id[STORE_ID];
    char csrf[DASHBOARD_CSRF_MAX]; /* the token every form of this session must carry */
    int64_t expires_at;            /* absolute end, ms since the epoch */
};

/* Signs in with an API key: 0 with a new session token in token (shown to the browser once) and
 * the session in *out, or -1 with ERR_UNAUTHORIZED (wrong or revoked key) in e. */
int dashboard_signin(struct core *c, const char *api_key, char token[DASHBOARD_TOKEN_MAX],
                     struct dashboard_session *out, struct err *e);
/* The live session for a token (NULL or garbage is fine): 0 and *out, or -1 when unknown,
 * expired, or its API key was revoked. A successful lookup extends the idle timeout. */
int dashboard_lookup(struct core *c, const char *token, struct dashboard_session *out);
/* Ends the session of token (no-op when unknown). */
void dashboard_signout(struct core *c, const char *token);
/* 1 when the form value equals the session's CSRF token (constant-time), else 0. */
int dashboard_csrf_ok(const struct dashboard_session *s, const char *value);
/* Drops every session (tests and shutdown). */
void dashboard_reset(void);

#endif
