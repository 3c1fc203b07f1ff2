/* credentials.h -- an account's credentials, ready for use on an outbound request.
 *
 * credentials_get opens the sealed credentials of an ACTIVE account and, when its access token is
 * within the refresh margin of its expiry (or was just rejected with a 401), makes sure it is
 * refreshed first -- exactly once across threads and nodes (core/refresh.h). It never waits on the
 * network: when a refresh is needed it answers CRED_WAIT and later calls wake(arg) once, from
 * another thread, so an HTTP handler can park its request (http_suspend) and resume it from wake.
 *
 *     rc = credentials_get(c, project, account, 0, 0, &use, on_wake, req, &e);
 *     CRED_READY -> inject use.secrets, run the request, credentials_clear(&use)
 *     CRED_WAIT  -> http_suspend(req, ...); on resume call again with attempt + 1
 *     CRED_ERROR -> reply with e
 *
 * After a 401 from the provider, call again with rejected_expires_at = use.expires_at used for
 * that call (or 1 when it was 0): the token is refreshed unless someone already replaced it. */
#ifndef TETHER_CORE_CREDENTIALS_H
#define TETHER_CORE_CREDENTIALS_H
#include <jansson.h>
#include <stdint.h>
#include "catalog/catalog.h"
#include "core/core.h"
#include "outbound/outbound.h"

/* Refresh a token when less than this is left (or a third of its lifetime, if shorter). */
#define CRED_MARGIN_MS 60000

enum cred_result { CRED_READY = 0, CRED_WAIT = 1, CRED_ERROR = -1 };

typedef void (*cred_wake_fn)(void *arg);

struct cred_use {
    struct st_account account;              /* the row the secrets came from */
    const struct catalog_toolkit *toolkit;
    const struct catalog_scheme *scheme;    /* the account's auth scheme */
    json_t *secrets;   /* object of strings: access_token (OAuth2) or the scheme's fields, plus
                          the public connection fields; wiped by credentials_clear */
    int64_t expires_at; /* the access token's expiry (ms), 0 when unknown */
};
void credentials_clear(struct cred_use *u); /* safe on a zeroed struct */

/* The account's sealed credentials as a JSON object (new reference; its strings are secrets:
 * wipe them before releasing), or NULL when there are none or they cannot be opened. */
json_t *credentials_open(struct core *c, const struct st_account *a);

/* Usable credentials for account_id in project_id.
 *   CRED_READY: *out filled.
 *   CRED_WAIT: a refresh is running; wake(arg) runs exactly once (refresh done or failed, or a
 *     deadline of a few seconds passed) and the caller then calls again with attempt + 1. Nothing
 *     is written to out. Only when wake is not NULL; with wake NULL a needed refresh is started
 *     and the current (perhaps expiring) credentials are returned as CRED_READY.
 *   CRED_ERROR: e is set -- ERR_ACCOUNT_NOT_FOUND, ERR_VALIDATION/ERR_BAD_REQUEST when the
 *     account is not ACTIVE (EXPIRED, INACTIVE, ...; the message says which and why), or
 *     ERR_INTERNAL when the credentials cannot be opened.
 * From attempt 1 on, a refresh that is still not done does not wait again: a still-valid token is
 * returned, an expired one is CRED_ERROR ("could not be refreshed"). rejected_expires_at: 0
 * normally; see the header comment for the 401 retry. */
int credentials_get(struct core *c, const char *project_id, const char *account_id, int attempt,
                    int64_t rejected_expires_at, struct cred_use *out, cred_wake_fn wake,
                    void *arg, struct err *e);

/* Reconnect in place: a fresh Connect Link for an existing account (any status), which becomes
 * INITIATED again and keeps its id, alias, user, auth config and session pins. callback_url may
 * be NULL. out as links_create. */
struct link_created;
int credentials_reconnect(struct core *c, const char *project_id, const char *account_id,
                          const char *callback_url, struct link_created *out, struct err *e);

/* Revocation at the provider (RFC 7009) before an account is deleted: the requests to run, in
 * order (refresh token first, it ends the whole grant at most providers; then the access token),
 * at most 2, with their token_type_hint in hints. 0 when there is nothing to revoke (not OAuth2,
 * no revoke_url in the catalogue, no credentials). The caller owns and submits the requests. */
int credentials_revoke_requests(struct core *c, const struct st_account *a,
                                struct outbound_req *reqs[2], const char *hints[2]);

/* Key rotation: re-seals every sealed value of the store (credentials, PKCE verifiers, client
 * secrets, webhook secrets) that is not under the vault's current key, in batches through the
 * writer; a value rewritten meanwhile is left alone (it was sealed with a current key by its
 * writer, or is picked up by the next pass). One pass; *resealed counts values re-sealed,
 * *stale values still under an old key after the pass (changed meanwhile), *unreadable values no
 * key opens. 0 or -1 on a store failure. */
int credentials_reseal_pass(struct core *c, size_t *resealed, size_t *stale, size_t *unreadable);

#endif
