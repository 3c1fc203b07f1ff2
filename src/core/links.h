/* links.h -- Connect Links and the connection flow behind them.
 *
 *   links_create          account INITIATED + a single-use link (token shown once in the URL)
 *   links_view            what the link page shows (open, expired, used, unknown)
 *   links_begin_oauth     fresh state + PKCE verifier -> the provider's authorize URL
 *   links_callback_*      the provider's redirect: state check, code exchange (on the outbound
 *                         engine, while the HTTP request is parked), credentials sealed, ACTIVE or
 *                         FAILED, and where to send the browser
 *   links_fields_*        key-based schemes: the form's fields, an optional test request, ACTIVE
 *
 * Link tokens and OAuth states are 256-bit random values stored only as keyed hashes. */
#ifndef TETHER_CORE_LINKS_H
#define TETHER_CORE_LINKS_H
#include <jansson.h>
#include "catalog/catalog.h"
#include "common/url.h"
#include "core/core.h"
#include "outbound/outbound.h"

struct link_request {
    const char *project_id;
    const char *session_id;     /* NULL outside a session */
    const char *user_id;
    const char *toolkit;
    const char *callback_url;   /* NULL: tether's own success page */
    const char *alias;          /* NULL: none */
    const char *auth_config_id; /* pinned config, or NULL to resolve */
};

struct link_created {
    char account_id[STORE_ID];
    char token[64];
    char redirect_url[700];
    int64_t expires_at;
};

int links_create(struct core *c, const struct link_request *rq, struct link_created *out,
                 struct err *e);
/* The same without waiting for the write: 0 with out filled and done(arg, rc) to come exactly
 * once after the write committed (rc 0) or failed, on a store thread (hand off only); -1 with e
 * (done never runs) when the request is refused. Lets many link creations share one commit. */
int links_create_async(struct core *c, const struct link_request *rq, struct link_created *out,
                       void (*done)(void *arg, int rc), void *arg, struct err *e);
/* An app's callback URL: http(s), no userinfo, and on the project's callback_origins when it has
 * any. 0, or -1 with ERR_VALIDATION saying why. */
int links_check_callback(struct core *c, const char *project_id, const char *url, struct err *e);

enum link_state { LINK_OPEN, LINK_EXPIRED, LINK_USED, LINK_UNKNOWN };

struct link_view {
    enum link_state state;
    struct st_link link;
    struct st_account account;
    struct st_project project;
    struct st_auth_config auth_config;
    const struct catalog_toolkit *toolkit;
    const struct catalog_scheme *scheme;
};

/* Fills v for a token (state LINK_UNKNOWN for anything that is not a live link). -1 only on a
 * storage failure. Release with links_view_clear. */
int links_view(struct core *c, const char *token, struct link_view *v, struct err *e);
void links_view_clear(struct link_view *v);
/* The scopes the page shows and the provider is asked for (new reference). */
json_t *links_scopes(struct core *c, const struct link_view *v);

/* OAuth2: records a fresh state and verifier on the open link; *authorize_url is malloc'd.
 * fields: the page's non-secret connection fields (an object, may be NULL). */
int links_begin_oauth(struct core *c, const struct link_view *v, const json_t *fields,
                      char **authorize_url, struct err *e);

struct link_attempt; /* one callback or one key form submission in flight */

/* The provider came back. -1 (with e) only for a missing or unknown state: nothing changes and the
 * browser gets an error page. Otherwise 0 and *a; when *req is set the caller submits it to the
 * outbound engine with links_attempt_done as the callback's work and calls links_finish after;
 * when *req is NULL the outcome is already decided (provider error, replay, expired link). */
int links_callback_begin(struct core *c, const struct kv_list *query, struct link_attempt **a,
                         struct outbound_req **req, struct err *e);
/* Key-based: validates the submitted form against the scheme's fields. ERR_VALIDATION means the
 * form should be shown again with e's message. When *req is set it is the scheme's test request. */
int links_fields_begin(struct core *c, const struct link_view *v, const struct kv_list *form,
                       struct link_attempt **a, struct outbound_req **req, struct err *e);

/* Stores the outbound result in a (copies it); safe on the engine thread. */
void links_attempt_done(struct link_attempt *a, const struct outbound_res *res);
/* Decides the outcome on an HTTP thread: seals credentials and activates, or fails the account;
 * announces the change. After a successful OAuth2 exchange whose scheme has a userinfo_url the
 * account is not activated yet: links_attempt_followup then hands over the identity lookup, which
 * the caller runs like the first request (links_attempt_done as its callback's work) before calling
 * links_finish again. A failed lookup only means no identity; the account still becomes ACTIVE. */
void links_finish(struct core *c, struct link_attempt *a);
/* The pending follow-up request (the caller owns it and must submit or free it), or NULL. */
struct outbound_req *links_attempt_followup(struct link_attempt *a);

/* Outcome of a finished attempt. */
int links_attempt_ok(const struct link_attempt *a);
int links_attempt_retry_form(const struct link_attempt *a); /* key form rejected: show it again */
const char *links_attempt_reason(const struct link_attempt *a); /* "" on success */
const char *links_attempt_account(const struct link_attempt *a);
/* Who connected, as the provider's userinfo names them ("" when unknown); also stored in the
 * account's data as "identity". */
const char *links_attempt_identity(const struct link_attempt *a);
const char *links_attempt_toolkit(const struct link_attempt *a); /* slug, "" when unknown */
/* Where to send the browser (the app's callback URL with status and connected_account_id), or
 * NULL when tether shows its own page. */
const char *links_attempt_redirect(const struct link_attempt *a);
void links_attempt_free(struct link_attempt *a);

#endif
