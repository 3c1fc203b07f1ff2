/* credentials.c -- credentials for use (refreshed first when close to expiry) and reconnect in
 * place. */
#include "core/credentials.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/url.h"
#include "core/authcfg.h"
#include "core/events.h"
#include "core/links.h"
#include "core/refresh.h"
#include "oauth/oauth.h"

static void
wipe_json(json_t *j)
{
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    json_decref(j);
}

void
credentials_clear(struct cred_use *u)
{
    if (u == NULL)
        return;
    st_account_clear(&u->account);
    if (u->secrets)
        wipe_json(u->secrets);
    memset(u, 0, sizeof *u);
}

static void
merge_strings(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v) if (json_is_string(v))
        json_object_set_new(dst, k, json_stringn(json_string_value(v), json_string_length(v)));
}

json_t *
credentials_open(struct core *c, const struct st_account *a)
{
    char ctx[STORE_ID + 4], *pt = NULL;
    size_t n = 0;
    snprintf(ctx, sizeof ctx, "ca|%s", a->id);
    if (a->creds_enc == NULL ||
        vault_unseal(c->vault, ctx, a->creds_enc, a->creds_len, &pt, &n) != 0)
        return NULL;
    json_t *creds = json_loadb(pt, n, 0, NULL);
    vault_free_secret(pt, n);
    if (!json_is_object(creds)) {
        json_decref(creds);
        return NULL;
    }
    return creds;
}

/* The secrets object (public fields, sealed fields, access_token) and the token's obtained_at;
 * NULL when the sealed value cannot be opened. */
static json_t *
open_secrets(struct core *c, const struct st_account *a, int64_t *obtained_at)
{
    json_t *creds = credentials_open(c, a);
    if (creds == NULL)
        return NULL;
    json_t *out = json_object(), *data = json_loads(a->data ? a->data : "{}", 0, NULL);
    merge_strings(out, json_object_get(data, "fields"));
    json_decref(data);
    json_t *fields = json_object_get(creds, "fields");
    merge_strings(out, fields);
    if (fields)
        wipe_json(json_incref(fields));
    json_t *at = json_object_get(creds, "access_token");
    if (json_is_string(at))
        json_object_set_new(out, "access_token",
                            json_stringn(json_string_value(at), json_string_length(at)));
    *obtained_at = json_integer_value(json_object_get(creds, "obtained_at"));
    wipe_json(creds);
    return out;
}

static int
not_active(const struct st_account *a, struct err *e)
{
    if (strcmp(a->status, "INACTIVE") == 0 || a->is_disabled) {
        err_set(e, ERR_BAD_REQUEST, "connected account '%s' is disabled", a->id);
        err_fix(e, "enable it with PATCH /api/v3.1/connected_accounts/%s/status", a->id);
        return -1;
    }
    err_set(e, ERR_BAD_REQUEST, "connected account '%s' is %s%s%.160s", a->id, a->status,
            a->status_reason ? ": " : "", a->status_reason ? a->status_reason : "");
    if (strcmp(a->status, "EXPIRED") == 0 || strcmp(a->status, "FAILED") == 0)
        err_fix(e, "reconnect it: POST /api/v3.1/connected_accounts/%s/refresh", a->id);
    return -1;
}

struct wake_box {
    cred_wake_fn wake;
    void *arg;
};

static void
on_refreshed(void *arg, enum refresh_outcome outcome, const char *reason)
{
    struct wake_box *b = arg;
    b->wake(b->arg);
    free(b);
}

int
credentials_get(struct core *c, const char *project_id, const char *account_id, int attempt,
                int64_t rejected_expires_at, struct cred_use *out, cred_wake_fn wake, void *arg,
                struct err *e)
{
    struct cred_use u = {0};
    int rc = ids_valid(account_id, "ca_")
                 ? store_account_get(c->store, project_id, account_id, &u.account)
                 : STORE_NOTFOUND;
    if (rc != 0)
        return core_store_err(rc, e, ERR_ACCOUNT_NOT_FOUND, "connected account", account_id);
    if (strcmp(u.account.status, "ACTIVE") != 0 || u.account.is_disabled) {
        not_active(&u.account, e);
        credentials_clear(&u);
        return CRED_ERROR;
    }
    u.toolkit = catalog_get(u.account.toolkit);
    struct st_auth_config ac = {0};
    if (u.toolkit != NULL &&
        store_auth_config_get(c->store, project_id, u.account.auth_config_id, &ac) == 0)
        u.scheme = catalog_scheme(u.toolkit, ac.auth_scheme);
    st_auth_config_clear(&ac);
    int64_t obtained = 0;
    if (u.scheme == NULL || (u.secrets = open_secrets(c, &u.account, &obtained)) == NULL) {
        credentials_clear(&u);
        return err_set(e, ERR_INTERNAL, "the credentials of '%s' cannot be opened", account_id);
    }
    u.expires_at = u.account.expires_at;
    int64_t now = time_now_ms();
    int oauth = u.scheme->type == CATALOG_OAUTH2;
    int rejected = rejected_expires_at != 0 && u.expires_at <= rejected_expires_at;
    int due = u.expires_at > 0 && now >= refresh_due_at(obtained, u.expires_at);
    if (!oauth || !(rejected || due)) {
        *out = u;
        return CRED_READY;
    }
    int64_t unless_after = u.expires_at + 1; /* refresh unless someone replaced this token */
    if (attempt == 0 && wake != NULL) {
        struct wake_box *b = malloc(sizeof *b);
        if (b != NULL) {
            b->wake = wake;
            b->arg = arg;
            if (refresh_request(account_id, unless_after, on_refreshed, b) == 0) {
                credentials_clear(&u);
                return CRED_WAIT;
            }
            free(b);
        }
    } else if (wake == NULL) {
        refresh_request(account_id, unless_after, NULL, NULL);
    }
    int expired = rejected || (u.expires_at > 0 && now >= u.expires_at);
    if (expired && wake != NULL) {
        credentials_clear(&u);
        err_set(e, ERR_UNAVAILABLE,
                "the access token of '%s' expired and could not be refreshed "
                "yet",
                account_id);
        err_fix(e, "retry shortly; tether keeps trying in the background");
        return CRED_ERROR;
    }
    *out = u;
    return CRED_READY;
}

/* ---- reconnect ------------------------------------------------------------------------------- */

int
credentials_reconnect(struct core *c, const char *project_id, const char *account_id,
                      const char *callback_url, struct link_created *out, struct err *e)
{
    struct st_account a = {0};
    int rc = ids_valid(account_id, "ca_") ? store_account_get(c->store, project_id, account_id, &a)
                                          : STORE_NOTFOUND;
    if (rc != 0)
        return core_store_err(rc, e, ERR_ACCOUNT_NOT_FOUND, "connected account", account_id);
    const struct catalog_toolkit *t = catalog_get(a.toolkit);
    st_account_clear(&a);
    if (t == NULL || t->no_auth)
        return err_set(e, ERR_BAD_REQUEST, "connected account '%s' cannot be reconnected",
                       account_id);
    if (callback_url && links_check_callback(c, project_id, callback_url, e) != 0)
        return -1;
    int64_t now = time_now_ms();
    struct st_link l = {.callback_url = (char *)callback_url,
                        .created_at = now,
                        .expires_at = now + c->link_ttl_ms};
    ids_token(out->token, sizeof out->token, "ln_");
    vault_hash(c->vault, out->token, l.token_hash);
    snprintf(l.account_id, sizeof l.account_id, "%s", account_id);
    snprintf(l.project_id, sizeof l.project_id, "%s", project_id);
    rc = store_account_relink(c->store, &l);
    if (rc != 0)
        return core_store_err(rc, e, ERR_ACCOUNT_NOT_FOUND, "connected account", account_id);
    snprintf(out->account_id, sizeof out->account_id, "%s", account_id);
    snprintf(out->redirect_url, sizeof out->redirect_url, "%s/link/%s", c->public_url, out->token);
    out->expires_at = l.expires_at;
    log_info("account.initiated", "account=%s toolkit=%s reason=reconnect", account_id, t->slug);
    events_account_changed(c, account_id);
    return 0;
}

/* ---- revocation ------------------------------------------------------------------------------ */

int
credentials_revoke_requests(struct core *c, const struct st_account *a,
                            struct outbound_req *reqs[2], const char *hints[2])
{
    const struct catalog_toolkit *t = catalog_get(a->toolkit);
    struct st_auth_config ac = {0};
    const struct catalog_scheme *s = NULL;
    if (t != NULL && store_auth_config_get(c->store, a->project_id, a->auth_config_id, &ac) == 0)
        s = catalog_scheme(t, ac.auth_scheme);
    int n = 0;
    struct authcfg_client cl;
    if (s == NULL || s->type != CATALOG_OAUTH2 || s->revoke_url == NULL || a->creds_enc == NULL ||
        authcfg_client(c, &ac, s, &cl, NULL) != 0) {
        st_auth_config_clear(&ac);
        return 0;
    }
    char ctx[STORE_ID + 4], *pt = NULL;
    size_t len = 0;
    snprintf(ctx, sizeof ctx, "ca|%s", a->id);
    json_t *creds = NULL;
    if (vault_unseal(c->vault, ctx, a->creds_enc, a->creds_len, &pt, &len) == 0) {
        creds = json_loadb(pt, len, 0, NULL);
        vault_free_secret(pt, len);
    }
    json_t *data = json_loads(a->data ? a->data : "{}", 0, NULL);
    struct oauth_client oc = {cl.client_id, cl.secret, c->redirect_uri};
    static const char *const kinds[2] = {"refresh_token", "access_token"};
    for (int i = 0; i < 2; i++) {
        const char *tok = json_string_value(json_object_get(creds, kinds[i]));
        struct outbound_req *r =
            tok && tok[0]
                ? oauth_revoke_request(s, &oc, tok, kinds[i], json_object_get(data, "fields"))
                : NULL;
        if (r == NULL)
            continue;
        r->timeout_ms = 10000;
        r->follow_redirects = 0;
        hints[n] = kinds[i];
        reqs[n++] = r;
    }
    if (creds)
        wipe_json(creds);
    json_decref(data);
    authcfg_client_clear(&cl);
    st_auth_config_clear(&ac);
    return n;
}

/* ---- key rotation ---------------------------------------------------------------------------- */

static const char *const SEALED_PREFIX[SEALED__COUNT] = {
    [SEALED_ACCOUNT] = "ca", [SEALED_LINK] = "pkce",  [SEALED_AUTH_CONFIG] = "ac",
    [SEALED_APP] = "app",    [SEALED_WEBHOOK] = "wh", [SEALED_WEBHOOK_PREV] = "wh",
};

#define RESEAL_BATCH 200

/* Re-seals the old-key values of one page; counts as credentials_reseal_pass. */
static int
reseal_page(struct core *c, enum st_sealed_kind kind, struct st_sealed *items, size_t n,
            size_t *resealed, size_t *stale, size_t *unreadable)
{
    uint8_t kid = vault_current_kid(c->vault);
    struct st_sealed *old = calloc(n ? n : 1, sizeof *old);
    unsigned char **enc = calloc(n ? n : 1, sizeof *enc);
    size_t *len = calloc(n ? n : 1, sizeof *len), m = 0;
    int rc = old && enc && len ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (items[i].len == 0 || items[i].enc[0] == kid)
            continue;
        char ctx[STORE_ID + 8], *pt = NULL;
        size_t ptlen = 0;
        snprintf(ctx, sizeof ctx, "%s|%s", SEALED_PREFIX[kind], items[i].ref);
        if (vault_unseal(c->vault, ctx, items[i].enc, items[i].len, &pt, &ptlen) != 0) {
            (*unreadable)++;
            continue;
        }
        if (vault_seal(c->vault, ctx, pt, ptlen, &enc[m], &len[m]) == 0)
            old[m++] = items[i]; /* shallow: items keeps ownership */
        vault_free_secret(pt, ptlen);
    }
    size_t done = 0;
    if (rc == 0 && m > 0 && store_sealed_replace(c->store, kind, old, enc, len, m, &done) != 0)
        rc = -1;
    *resealed += done;
    *stale += m - done;
    for (size_t i = 0; enc && i < m; i++)
        free(enc[i]);
    free(old);
    free(enc);
    free(len);
    return rc;
}

int
credentials_reseal_pass(struct core *c, size_t *resealed, size_t *stale, size_t *unreadable)
{
    *resealed = *stale = *unreadable = 0;
    for (int k = 0; k < SEALED__COUNT; k++) {
        unsigned char after[STORE_ID];
        size_t after_len = 0;
        for (;;) {
            struct st_sealed *items = NULL;
            size_t n = 0;
            if (store_sealed_page(c->store, (enum st_sealed_kind)k, after, after_len, RESEAL_BATCH,
                                  &items, &n) != 0)
                return -1;
            int rc = reseal_page(c, (enum st_sealed_kind)k, items, n, resealed, stale, unreadable);
            if (n > 0) {
                memcpy(after, items[n - 1].key, items[n - 1].key_len);
                after_len = items[n - 1].key_len;
            }
            for (size_t i = 0; i < n; i++)
                st_sealed_clear(&items[i]);
            free(items);
            if (rc != 0)
                return -1;
            if (n < RESEAL_BATCH)
                break;
        }
    }
    return 0;
}
