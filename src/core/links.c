/* links.c -- Connect Links: creation, the page's view, and the two ways a link completes. */
#include "core/links.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "common/ids.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/authcfg.h"
#include "core/events.h"
#include "core/inject.h"
#include "oauth/oauth.h"

static const char *const PENDING[] = {"INITIATED", "INITIALIZING", NULL};

enum attempt_kind { ATTEMPT_OAUTH, ATTEMPT_FIELDS };

struct link_attempt {
    enum attempt_kind kind;
    int decided; /* outcome known without (more) outbound work */
    int ok;
    int retry_form;
    char reason[300];
    char account_id[STORE_ID];
    char project_id[STORE_ID];
    char *callback_url;
    char *redirect;
    const struct catalog_toolkit *toolkit;
    const struct catalog_scheme *scheme;
    json_t *fields; /* connection fields: OAuth URL fields, or the whole key form */
    unsigned char token_hash[STORE_HASH];
    /* the outbound result, copied */
    int have_res;
    long status;
    int timed_out;
    char content_type[128];
    char *body;
    size_t body_len;
    char error[256];
    /* OAuth2 identity lookup: the connection waits, sealed later, while userinfo is asked */
    int identity_wait;
    json_t *pending_creds; /* secrets: wiped on free */
    json_t *pending_data;
    int64_t pending_exp;
    struct outbound_req *followup;
    char identity[200];
};

static int
is_pending(const char *status)
{
    return strcmp(status, "INITIATED") == 0 || strcmp(status, "INITIALIZING") == 0;
}

/* ---- creation ---------------------------------------------------------------------------------
 */

int
links_check_callback(struct core *c, const char *project_id, const char *url, struct err *e)
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
    if (!ok) {
        err_set(e, ERR_VALIDATION, "'callback_url' is not on this project's list of origins");
        err_fix(e, "add its origin to the project's callback_origins setting");
    }
    return ok ? 0 : -1;
}

static int
check_alias(struct core *c, const struct link_request *rq, struct err *e)
{
    if (strlen(rq->alias) > 100 || rq->alias[0] == '\0')
        return err_set(e, ERR_VALIDATION, "'alias' must be 1 to 100 characters");
    const char *users[] = {rq->user_id, NULL}, *tks[] = {rq->toolkit, NULL};
    struct st_account_query q = {
        .project_id = rq->project_id, .user_ids = users, .toolkits = tks, .limit = 1000};
    struct st_account_page page = {0};
    if (store_account_list(c->store, &q, &page) != 0)
        return err_set(e, ERR_INTERNAL, "cannot check the alias");
    int taken = 0;
    for (size_t i = 0; i < page.n; i++)
        taken |= page.items[i].alias && strcmp(page.items[i].alias, rq->alias) == 0;
    st_account_page_clear(&page);
    if (taken)
        return err_set(e, ERR_VALIDATION, "alias '%s' is already used for this user's %s accounts",
                       rq->alias, rq->toolkit);
    return 0;
}

/* Checks the request and builds the account and its link (nothing written yet); out gets the
 * ids, token and URL. The account's strings point into rq. */
static int
prepare(struct core *c, const struct link_request *rq, struct st_account *a, struct st_link *l,
        struct link_created *out, struct err *e)
{
    const struct catalog_toolkit *t = catalog_get(rq->toolkit);
    if (t == NULL)
        return err_set(e, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s'", rq->toolkit);
    if (t->no_auth)
        return err_set(e, ERR_NO_AUTH_TOOLKIT, "toolkit '%s' needs no connection", t->slug);
    if (rq->callback_url && links_check_callback(c, rq->project_id, rq->callback_url, e) != 0)
        return -1;
    if (rq->alias && check_alias(c, rq, e) != 0)
        return -1;
    struct st_auth_config ac = {0};
    if (authcfg_resolve(c, rq->project_id, t, rq->auth_config_id, &ac, e) != 0)
        return -1;
    int64_t now = time_now_ms();
    *a = (struct st_account){.user_id = (char *)rq->user_id,
                             .alias = (char *)rq->alias,
                             .data = "{}",
                             .created_at = now,
                             .updated_at = now};
    ids_new(a->id, sizeof a->id, "ca_");
    snprintf(a->project_id, sizeof a->project_id, "%s", rq->project_id);
    snprintf(a->toolkit, sizeof a->toolkit, "%s", t->slug);
    snprintf(a->auth_config_id, sizeof a->auth_config_id, "%s", ac.id);
    snprintf(a->status, sizeof a->status, "INITIATED");
    ids_word(a->word_id, sizeof a->word_id, t->slug);
    st_auth_config_clear(&ac);
    *l = (struct st_link){.callback_url = (char *)rq->callback_url,
                          .created_at = now,
                          .expires_at = now + c->link_ttl_ms};
    ids_token(out->token, sizeof out->token, "ln_");
    vault_hash(c->vault, out->token, l->token_hash);
    memcpy(l->account_id, a->id, sizeof l->account_id);
    memcpy(l->project_id, a->project_id, sizeof l->project_id);
    snprintf(l->session_id, sizeof l->session_id, "%s", rq->session_id ? rq->session_id : "");
    memcpy(out->account_id, a->id, sizeof out->account_id);
    snprintf(out->redirect_url, sizeof out->redirect_url, "%s/link/%s", c->public_url, out->token);
    out->expires_at = l->expires_at;
    return 0;
}

int
links_create(struct core *c, const struct link_request *rq, struct link_created *out, struct err *e)
{
    struct st_account a;
    struct st_link l;
    if (prepare(c, rq, &a, &l, out, e) != 0)
        return -1;
    int rc = store_account_create_linked(c->store, &a, &l);
    if (rc != 0)
        return core_store_err(rc, e, ERR_ACCOUNT_NOT_FOUND, "connected account", a.id);
    log_info("account.initiated", "account=%s toolkit=%s", a.id, a.toolkit);
    return 0;
}

int
links_create_async(struct core *c, const struct link_request *rq, struct link_created *out,
                   void (*done)(void *arg, int rc), void *arg, struct err *e)
{
    struct st_account a;
    struct st_link l;
    if (prepare(c, rq, &a, &l, out, e) != 0)
        return -1;
    if (store_account_create_linked_async(c->store, &a, &l, done, arg) != 0)
        return err_set(e, ERR_UNAVAILABLE, "the store is not accepting writes");
    log_info("account.initiated", "account=%s toolkit=%s", a.id, a.toolkit);
    return 0;
}

/* ---- the page ---------------------------------------------------------------------------------
 */

int
links_view(struct core *c, const char *token, struct link_view *v, struct err *e)
{
    memset(v, 0, sizeof *v);
    v->state = LINK_UNKNOWN;
    if (!ids_valid(token, "ln_"))
        return 0;
    unsigned char hash[STORE_HASH];
    vault_hash(c->vault, token, hash);
    int rc = store_link_get(c->store, hash, &v->link);
    if (rc == STORE_NOTFOUND)
        return 0;
    if (rc == 0)
        rc = store_account_get_any(c->store, v->link.account_id, &v->account);
    if (rc == 0)
        rc = store_project_get(c->store, v->link.project_id, &v->project);
    if (rc == 0)
        rc = store_auth_config_get(c->store, v->link.project_id, v->account.auth_config_id,
                                   &v->auth_config);
    if (rc == STORE_NOTFOUND)
        return 0;
    if (rc != 0)
        return err_set(e, ERR_INTERNAL, "cannot read the link");
    v->toolkit = catalog_get(v->account.toolkit);
    v->scheme = v->toolkit ? catalog_scheme(v->toolkit, v->auth_config.auth_scheme) : NULL;
    if (v->scheme == NULL)
        v->state = LINK_UNKNOWN;
    else if (strcmp(v->account.status, "EXPIRED") == 0 || time_now_ms() > v->link.expires_at)
        v->state = LINK_EXPIRED;
    else if (v->link.used_at != 0 || !is_pending(v->account.status))
        v->state = LINK_USED;
    else
        v->state = LINK_OPEN;
    return 0;
}

void
links_view_clear(struct link_view *v)
{
    st_link_clear(&v->link);
    st_account_clear(&v->account);
    st_project_clear(&v->project);
    st_auth_config_clear(&v->auth_config);
    memset(v, 0, sizeof *v);
}

json_t *
links_scopes(struct core *c, const struct link_view *v)
{
    struct authcfg_client cl;
    if (v->scheme == NULL || v->scheme->type != CATALOG_OAUTH2 ||
        authcfg_client(c, &v->auth_config, v->scheme, &cl, NULL) != 0)
        return json_array();
    json_t *s = json_incref(cl.scopes);
    authcfg_client_clear(&cl);
    return s;
}

/* ---- OAuth2 -----------------------------------------------------------------------------------
 */

static const char **
scope_list(const json_t *arr)
{
    size_t n = json_array_size(arr);
    const char **list = calloc(n + 1, sizeof *list);
    for (size_t i = 0; list && i < n; i++)
        list[i] = json_string_value(json_array_get(arr, i));
    return list;
}

int
links_begin_oauth(struct core *c, const struct link_view *v, const json_t *fields,
                  char **authorize_url, struct err *e)
{
    if (v->state != LINK_OPEN)
        return err_set(e, ERR_GONE, "this link can no longer be used");
    struct authcfg_client cl;
    if (authcfg_client(c, &v->auth_config, v->scheme, &cl, e) != 0)
        return -1;
    char state[64], verifier[44], challenge[44];
    ids_token(state, sizeof state, "");
    oauth_pkce_pair(verifier, challenge);
    json_t *blob = json_pack("{ss so}", "verifier", verifier, "fields",
                             fields ? json_deep_copy(fields) : json_object());
    char *text = json_dumps(blob, JSON_COMPACT);
    json_decref(blob);
    char ctx[STORE_ID + 8];
    snprintf(ctx, sizeof ctx, "pkce|%s", v->account.id);
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    int rc = text ? vault_seal(c->vault, ctx, text, strlen(text), &sealed, &sealed_len) : -1;
    if (text)
        sodium_memzero(text, strlen(text));
    free(text);
    unsigned char state_hash[STORE_HASH];
    vault_hash(c->vault, state, state_hash);
    if (rc == 0)
        rc = store_link_set_state(c->store, v->link.token_hash, state_hash, sealed, sealed_len);
    free(sealed);
    const char **scopes = scope_list(cl.scopes);
    struct oauth_client oc = {cl.client_id, cl.secret, c->redirect_uri};
    *authorize_url =
        rc == 0 ? oauth_authorize_url(v->scheme, &oc, scopes, state, challenge, fields) : NULL;
    free(scopes);
    authcfg_client_clear(&cl);
    sodium_memzero(verifier, sizeof verifier);
    sodium_memzero(state, sizeof state);
    if (rc == STORE_NOTFOUND)
        return err_set(e, ERR_GONE, "this link can no longer be used");
    if (*authorize_url == NULL)
        return err_set(e, ERR_BAD_REQUEST,
                       "the sign-in address for %s cannot be built from the "
                       "fields given",
                       v->toolkit->name);
    return 0;
}

static struct link_attempt *
attempt_new(enum attempt_kind kind, const struct st_link *l, const struct st_account *acct)
{
    struct link_attempt *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->kind = kind;
    memcpy(a->account_id, acct->id, sizeof a->account_id);
    memcpy(a->project_id, acct->project_id, sizeof a->project_id);
    memcpy(a->token_hash, l->token_hash, sizeof a->token_hash);
    a->callback_url = l->callback_url ? strdup(l->callback_url) : NULL;
    a->toolkit = catalog_get(acct->toolkit);
    return a;
}

/* Marks the attempt failed; when change is set, the account goes FAILED (if still pending). */
static void fail(struct core *c, struct link_attempt *a, int change, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
fail(struct core *c, struct link_attempt *a, int change, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof a->reason, fmt, ap);
    va_end(ap);
    for (char *p = a->reason; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    a->decided = 1;
    a->ok = 0;
    if (change &&
        store_account_transition(c->store, a->account_id, PENDING, "FAILED", a->reason) == 0) {
        char q[320];
        log_info("account.failed", "account=%s reason=%s", a->account_id,
                 log_quote(a->reason, q, sizeof q));
        events_account_changed(c, a->account_id);
    }
}

/* Unseals the verifier blob of a link: verifier copied out, fields returned (new reference). */
static int
open_verifier(struct core *c, const struct st_link *l, char verifier[64], json_t **fields)
{
    char ctx[STORE_ID + 8], *pt = NULL;
    size_t n = 0;
    snprintf(ctx, sizeof ctx, "pkce|%s", l->account_id);
    if (l->verifier_enc == NULL ||
        vault_unseal(c->vault, ctx, l->verifier_enc, l->verifier_len, &pt, &n) != 0)
        return -1;
    json_t *blob = json_loads(pt, 0, NULL);
    vault_free_secret(pt, n);
    const char *v = json_string_value(json_object_get(blob, "verifier"));
    int rc = v && strlen(v) < 64 ? 0 : -1;
    if (rc == 0) {
        snprintf(verifier, 64, "%s", v);
        *fields = json_incref(json_object_get(blob, "fields"));
    }
    json_decref(blob);
    return rc;
}

static struct outbound_req *
exchange_request(struct core *c, struct link_attempt *a, const struct st_account *acct,
                 const struct st_link *l, const char *code)
{
    struct st_auth_config ac = {0};
    if (store_auth_config_get(c->store, acct->project_id, acct->auth_config_id, &ac) != 0)
        return NULL;
    a->scheme = catalog_scheme(a->toolkit, ac.auth_scheme);
    struct authcfg_client cl;
    char verifier[64];
    struct outbound_req *req = NULL;
    if (a->scheme != NULL && authcfg_client(c, &ac, a->scheme, &cl, NULL) == 0) {
        if (open_verifier(c, l, verifier, &a->fields) == 0) {
            struct oauth_client oc = {cl.client_id, cl.secret, c->redirect_uri};
            req = oauth_code_request(a->scheme, &oc, code, verifier, a->fields);
            sodium_memzero(verifier, sizeof verifier);
        }
        authcfg_client_clear(&cl);
    }
    st_auth_config_clear(&ac);
    if (req != NULL)
        req->timeout_ms = c->exchange_timeout_ms;
    return req;
}

int
links_callback_begin(struct core *c, const struct kv_list *query, struct link_attempt **out,
                     struct outbound_req **req, struct err *e)
{
    *req = NULL;
    const char *state = kv_get(query, "state");
    if (state == NULL || state[0] == '\0' || strlen(state) > 200)
        return err_set(e, ERR_BAD_REQUEST, "the provider's answer has no valid state");
    unsigned char hash[STORE_HASH];
    vault_hash(c->vault, state, hash);
    struct st_link l = {0};
    struct st_account acct = {0};
    int rc = store_link_consume_state(c->store, hash, &l);
    if (rc == 0)
        rc = store_account_get_any(c->store, l.account_id, &acct);
    if (rc != 0) {
        st_link_clear(&l);
        return err_set(e, rc == STORE_NOTFOUND ? ERR_BAD_REQUEST : ERR_INTERNAL,
                       "this sign-in is unknown or was not started here");
    }
    struct link_attempt *a = attempt_new(ATTEMPT_OAUTH, &l, &acct);
    *out = a;
    const char *error = kv_get(query, "error"), *code = kv_get(query, "code");
    if (a == NULL || a->toolkit == NULL)
        rc = err_set(e, ERR_INTERNAL, "cannot handle this sign-in");
    else if (l.used_at != 0)
        fail(c, a, 0, "this sign-in was already completed");
    else if (!is_pending(acct.status))
        fail(c, a, 0, "the connection is no longer waiting (%s)", acct.status);
    else if (time_now_ms() > l.expires_at)
        fail(c, a, 1, "the link expired before the sign-in finished");
    else if (error != NULL) {
        const char *desc = kv_get(query, "error_description");
        fail(c, a, 1, "the provider refused: %.60s%s%.160s", error, desc ? ": " : "",
             desc ? desc : "");
    } else if (code == NULL || code[0] == '\0' || strlen(code) > 2048)
        fail(c, a, 1, "the provider sent no authorization code");
    else if ((*req = exchange_request(c, a, &acct, &l, code)) == NULL)
        fail(c, a, 1, "the token request could not be built");
    st_link_clear(&l);
    st_account_clear(&acct);
    if (rc != 0) {
        links_attempt_free(a);
        *out = NULL;
    }
    return rc;
}

/* ---- key-based schemes ------------------------------------------------------------------------
 */

static int
read_fields(const struct catalog_scheme *s, const struct kv_list *form, json_t *all,
            json_t *public_fields, struct err *e)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct catalog_field *f = &s->fields[i];
        const char *v = kv_get(form, f->name);
        if (v == NULL || v[0] == '\0') {
            if (f->required)
                return err_set(e, ERR_VALIDATION, "%s is required", f->display_name);
            continue;
        }
        if (strlen(v) > 4096 || strpbrk(v, "\r\n") != NULL)
            return err_set(e, ERR_VALIDATION, "%s is not a valid value", f->display_name);
        json_object_set_new(all, f->name, json_string(v));
        if (!f->secret)
            json_object_set_new(public_fields, f->name, json_string(v));
    }
    return 0;
}

int
links_fields_begin(struct core *c, const struct link_view *v, const struct kv_list *form,
                   struct link_attempt **out, struct outbound_req **req, struct err *e)
{
    *req = NULL;
    *out = NULL;
    if (v->state != LINK_OPEN)
        return err_set(e, ERR_GONE, "this link can no longer be used");
    json_t *all = json_object(), *pub = json_object();
    if (read_fields(v->scheme, form, all, pub, e) != 0) {
        json_decref(all);
        json_decref(pub);
        return -1;
    }
    struct link_attempt *a = attempt_new(ATTEMPT_FIELDS, &v->link, &v->account);
    a->scheme = v->scheme;
    a->fields = all;
    json_object_set_new(all, "__public", pub);
    *out = a;
    if (v->scheme->test_url == NULL)
        return 0;
    json_t *url_fields = json_deep_copy(all);
    json_object_del(url_fields, "__public");
    char *url = catalog_expand(v->scheme->test_url, url_fields);
    struct outbound_req *r =
        url ? outbound_req_new(v->scheme->test_method ? v->scheme->test_method : "GET", url) : NULL;
    free(url);
    struct err ie;
    if (r == NULL || inject_credential(v->toolkit, v->scheme, url_fields, r, &ie) != 0) {
        outbound_req_free(r);
        json_decref(url_fields);
        return err_set(e, ERR_VALIDATION, "these values do not fit %s's address", v->toolkit->name);
    }
    json_decref(url_fields);
    outbound_req_header(r, "Accept: application/json");
    r->timeout_ms = c->exchange_timeout_ms;
    *req = r;
    return 0;
}

/* ---- finishing --------------------------------------------------------------------------------
 */

void
links_attempt_done(struct link_attempt *a, const struct outbound_res *res)
{
    if (a->body) {
        sodium_memzero(a->body, a->body_len);
        free(a->body);
        a->body = NULL;
        a->body_len = 0;
    }
    a->have_res = 1;
    a->status = res->status;
    a->timed_out = res->timed_out;
    snprintf(a->content_type, sizeof a->content_type, "%s", res->content_type);
    snprintf(a->error, sizeof a->error, "%s", res->error);
    a->body = res->body ? malloc(res->len + 1) : NULL;
    if (a->body != NULL) {
        memcpy(a->body, res->body, res->len);
        a->body[res->len] = '\0';
        a->body_len = res->len;
    }
}

static void
activate(struct core *c, struct link_attempt *a, json_t *creds, json_t *data, int64_t expires_at)
{
    char ctx[STORE_ID + 4];
    snprintf(ctx, sizeof ctx, "ca|%s", a->account_id);
    char *text = json_dumps(creds, JSON_COMPACT), *dtext = json_dumps(data, JSON_COMPACT);
    unsigned char *sealed = NULL;
    size_t n = 0;
    int rc = text ? vault_seal(c->vault, ctx, text, strlen(text), &sealed, &n) : -1;
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    if (rc == 0 && dtext)
        rc = store_account_activate(c->store, a->account_id, sealed, n, dtext, expires_at);
    free(sealed);
    free(dtext);
    if (rc != 0) {
        fail(c, a, 0, "the connection was no longer waiting when the sign-in finished");
        return;
    }
    a->decided = a->ok = 1;
    log_info("account.active", "account=%s toolkit=%s", a->account_id, a->toolkit->slug);
    events_account_changed(c, a->account_id);
}

/* The scheme's fields with source "token_response", copied from the token response's JSON into
 * fields (strings only; catalog_expand checks them again wherever they are used). A value of that
 * name from anywhere else is dropped. */
static void
token_fields(const struct link_attempt *a, json_t *fields)
{
    json_t *tr = a->body ? json_loadb(a->body, a->body_len, 0, NULL) : NULL;
    for (size_t i = 0; i < a->scheme->nfields; i++) {
        const char *src = catalog_field_source(a->scheme, i);
        if (src == NULL || strcmp(src, "token_response") != 0)
            continue;
        json_object_del(fields, a->scheme->fields[i].name); /* only the provider sets it */
        json_t *v = json_object_get(tr, a->scheme->fields[i].name);
        if (json_is_string(v) && json_string_length(v) <= 2048)
            json_object_set(fields, a->scheme->fields[i].name, v);
    }
    json_decref(tr);
}

/* The userinfo request for a fresh access token, or NULL when the scheme has none. */
static struct outbound_req *
identity_request(struct core *c, const struct link_attempt *a, const char *access_token,
                 const json_t *fields)
{
    const struct catalog_scheme *s = a->scheme;
    if (s->userinfo_url == NULL || s->identity_field == NULL)
        return NULL;
    char *url = catalog_expand(s->userinfo_url, fields);
    struct outbound_req *r = url ? outbound_req_new("GET", url) : NULL;
    free(url);
    json_t *secrets = json_deep_copy(fields);
    json_object_set_new(secrets, "access_token", json_string(access_token));
    if (r != NULL && inject_credential(a->toolkit, s, secrets, r, NULL) != 0) {
        outbound_req_free(r);
        r = NULL;
    }
    json_t *at = json_object_get(secrets, "access_token");
    if (json_is_string(at))
        sodium_memzero((char *)json_string_value(at), json_string_length(at));
    json_decref(secrets);
    if (r != NULL) {
        outbound_req_header(r, "Accept: application/json");
        r->timeout_ms = c->exchange_timeout_ms < 5000 ? c->exchange_timeout_ms : 5000;
        r->follow_redirects = 0;
    }
    return r;
}

/* The display name at the scheme's identity_field (a dotted path) of the userinfo answer. */
static void
read_identity(struct link_attempt *a)
{
    if (!a->have_res || a->status < 200 || a->status > 299 || a->body == NULL)
        return;
    json_t *root = json_loadb(a->body, a->body_len, 0, NULL), *v = root;
    char path[128];
    snprintf(path, sizeof path, "%s", a->scheme->identity_field);
    for (char *seg = path, *dot; v != NULL && seg != NULL; seg = dot ? dot + 1 : NULL) {
        dot = strchr(seg, '.');
        if (dot)
            *dot = '\0';
        v = json_object_get(v, seg);
    }
    if (json_is_string(v) && json_string_length(v) > 0)
        snprintf(a->identity, sizeof a->identity, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(a->identity, sizeof a->identity, "%lld", (long long)json_integer_value(v));
    for (char *p = a->identity; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    json_decref(root);
}

/* Second round: adds the identity (when the lookup worked) and activates. */
static void
finish_identity(struct core *c, struct link_attempt *a)
{
    read_identity(a);
    /* a cut in the middle of a UTF-8 sequence would make the data unreadable: drop it then */
    json_t *id = a->identity[0] ? json_string(a->identity) : NULL;
    if (id != NULL)
        json_object_set_new(a->pending_data, "identity", id);
    else
        a->identity[0] = '\0';
    activate(c, a, a->pending_creds, a->pending_data, a->pending_exp);
}

static void
finish_oauth(struct core *c, struct link_attempt *a)
{
    struct outbound_res res = {
        .status = a->status, .body = a->body, .len = a->body_len, .timed_out = a->timed_out};
    snprintf(res.content_type, sizeof res.content_type, "%s", a->content_type);
    snprintf(res.error, sizeof res.error, "%s", a->error);
    struct oauth_tokens t = {0};
    char code[64], detail[200];
    if (oauth_parse_token_response(&res, &t, code, sizeof code, detail, sizeof detail) != 0) {
        fail(c, a, 1, "the token exchange failed: %s: %s", code, detail);
        return;
    }
    int64_t now = time_now_ms(), exp = t.expires_in > 0 ? now + t.expires_in * 1000 : 0;
    json_t *creds =
        json_pack("{ss ss* ss ss* ss* sI sI}", "access_token", t.access_token, "refresh_token",
                  t.refresh_token, "token_type", t.token_type, "scope", t.scope, "id_token",
                  t.id_token, "obtained_at", (json_int_t)now, "expires_at", (json_int_t)exp);
    json_t *fields = a->fields ? json_deep_copy(a->fields) : json_object();
    token_fields(a, fields);
    json_t *data =
        json_pack("{ss* ss sI sb so}", "scope", t.scope, "token_type", t.token_type, "expires_at",
                  (json_int_t)exp, "has_refresh_token", t.refresh_token != NULL, "fields", fields);
    a->followup = creds && data ? identity_request(c, a, t.access_token, fields) : NULL;
    oauth_tokens_clear(&t);
    if (a->followup != NULL) {
        a->identity_wait = 1;
        a->pending_creds = creds;
        a->pending_data = data;
        a->pending_exp = exp;
        return;
    }
    activate(c, a, creds, data, exp);
    json_decref(creds);
    json_decref(data);
}

static void
finish_fields(struct core *c, struct link_attempt *a)
{
    if (a->have_res && (a->status < 200 || a->status > 299)) {
        a->retry_form = 1;
        a->decided = 1;
        if (a->status == 401 || a->status == 403)
            snprintf(a->reason, sizeof a->reason,
                     "%s rejected these credentials (HTTP %ld); check them and try again",
                     a->toolkit->name, a->status);
        else
            snprintf(a->reason, sizeof a->reason,
                     "%s could not confirm these credentials (%s); try again", a->toolkit->name,
                     a->status ? "unexpected answer" : "no answer");
        return;
    }
    if (store_link_mark_used(c->store, a->token_hash) != 0) {
        fail(c, a, 0, "this link was already used");
        return;
    }
    json_t *pub = json_incref(json_object_get(a->fields, "__public"));
    json_object_del(a->fields, "__public");
    json_t *creds = json_pack("{sO}", "fields", a->fields);
    json_t *data = json_pack("{sO}", "fields", pub);
    activate(c, a, creds, data, 0);
    json_decref(creds);
    json_decref(data);
    json_decref(pub);
}

void
links_finish(struct core *c, struct link_attempt *a)
{
    if (!a->decided) {
        if (a->identity_wait)
            finish_identity(c, a);
        else if (a->kind == ATTEMPT_OAUTH)
            finish_oauth(c, a);
        else
            finish_fields(c, a);
    }
    if (a->followup != NULL)
        return; /* the caller runs the identity lookup and calls links_finish again */
    if (a->callback_url == NULL || a->retry_form)
        return;
    struct kv params[2] = {{"status", a->ok ? "success" : "failed"},
                           {"connected_account_id", a->account_id}};
    a->redirect = url_merge_params(a->callback_url, params, 2);
}

int
links_attempt_ok(const struct link_attempt *a)
{
    return a->ok;
}

int
links_attempt_retry_form(const struct link_attempt *a)
{
    return a->retry_form;
}

const char *
links_attempt_reason(const struct link_attempt *a)
{
    return a->reason;
}

const char *
links_attempt_account(const struct link_attempt *a)
{
    return a->account_id;
}

struct outbound_req *
links_attempt_followup(struct link_attempt *a)
{
    struct outbound_req *r = a->followup;
    a->followup = NULL;
    return r;
}

const char *
links_attempt_toolkit(const struct link_attempt *a)
{
    return a->toolkit ? a->toolkit->slug : "";
}

const char *
links_attempt_identity(const struct link_attempt *a)
{
    return a->identity;
}

const char *
links_attempt_redirect(const struct link_attempt *a)
{
    return a->redirect;
}

void
links_attempt_free(struct link_attempt *a)
{
    if (a == NULL)
        return;
    free(a->callback_url);
    free(a->redirect);
    json_decref(a->fields);
    outbound_req_free(a->followup);
    json_decref(a->pending_data);
    if (a->pending_creds != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(a->pending_creds, k, v) if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
        json_decref(a->pending_creds);
    }
    if (a->body) {
        sodium_memzero(a->body, a->body_len);
        free(a->body);
    }
    free(a);
}
