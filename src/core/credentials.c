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
#include "core/events.h"
#include "core/links.h"
#include "core/refresh.h"

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

/* The secrets object (public fields, sealed fields, access_token) and the token's obtained_at;
 * NULL when the sealed value cannot be opened. */
static json_t *
open_secrets(struct core *c, const struct st_account *a, int64_t *obtained_at)
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
        err_set(e, ERR_UNAVAILABLE, "the access token of '%s' expired and could not be refreshed "
                                    "yet", account_id);
        err_fix(e, "retry shortly; tether keeps trying in the background");
        return CRED_ERROR;
    }
    *out = u;
    return CRED_READY;
}

/* ---- reconnect -------------------------------------------------------------------------------- */

static int
callback_allowed(struct core *c, const char *project_id, const char *url, struct err *e)
{
    char why[160];
    if (url_check_callback(url, why, sizeof why) != 0)
        return err_set(e, ERR_VALIDATION, "'callback_url': %s", why);
    struct st_project p = {0};
    if (store_project_get(c->store, project_id, &p) != 0)
        return err_set(e, ERR_INTERNAL, "cannot read the project settings");
    json_t *settings = p.settings ? json_loads(p.settings, 0, NULL) : NULL;
    st_project_clear(&p);
    json_t *allowed = json_object_get(settings, "callback_origins");
    int ok = json_array_size(allowed) == 0;
    char *origin = ok ? NULL : url_origin(url);
    size_t i;
    json_t *v;
    json_array_foreach(allowed, i, v) if (origin && json_is_string(v) &&
                                          strcmp(json_string_value(v), origin) == 0) ok = 1;
    free(origin);
    json_decref(settings);
    if (!ok)
        return err_set(e, ERR_VALIDATION,
                       "'callback_url' is not on this project's list of origins");
    return 0;
}

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
    if (callback_url && callback_allowed(c, project_id, callback_url, e) != 0)
        return -1;
    int64_t now = time_now_ms();
    struct st_link l = {.callback_url = (char *)callback_url, .created_at = now,
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
