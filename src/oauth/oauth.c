/* oauth.c -- the OAuth2 client side of oauth.h: PKCE, the authorize URL, token and revocation
 * requests, and token response parsing. Pure functions: no I/O, no globals. Every buffer that held
 * a secret (client secret, code, verifier, tokens) is wiped before it is freed. */
#include "oauth/oauth.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/url.h"

#define MAX_PAIRS 48        /* form/query pairs in one request */
#define MAX_EXTRA_PARAMS 32 /* authorize_params taken from the catalogue */
#define MAX_SCOPE_LEN 4096
#define MAX_TOKEN_FIELD 16384    /* longest token or field value accepted from a provider */
#define MAX_EXPIRES_IN 315360000 /* ten years: longer values are clamped */

struct pair {
    const char *key;
    const char *val;
};

static void
wipe_free(char *p)
{
    if (p != NULL) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

/* ---- PKCE ---- */

void
oauth_pkce_challenge(const char *verifier, char challenge[44])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)verifier, strlen(verifier));
    sodium_bin2base64(challenge, 44, digest, sizeof digest,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void
oauth_pkce_pair(char verifier[44], char challenge[44])
{
    unsigned char raw[32];
    if (sodium_init() < 0)
        abort(); /* no usable randomness: nothing safe can be done */
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(verifier, 44, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    oauth_pkce_challenge(verifier, challenge);
}

/* ---- form encoding ---- */

/* "k1=v1&k2=v2" with every key and value percent-encoded, built in one allocation so no partial
 * copy of a secret is left behind by a realloc. *len gets its length. NULL on OOM. */
static char *
form_encode(const struct pair *p, size_t n, size_t *len)
{
    char *enc[2 * MAX_PAIRS];
    size_t total = 0, pos = 0;
    char *out = NULL;
    if (n > MAX_PAIRS)
        return NULL;
    for (size_t i = 0; i < 2 * n; i++) {
        enc[i] = url_encode(i % 2 ? p[i / 2].val : p[i / 2].key);
        total += strlen(enc[i]) + 1; /* '=' or '&' */
    }
    out = malloc(total + 1);
    for (size_t i = 0; out != NULL && i < 2 * n; i++) {
        size_t l = strlen(enc[i]);
        if (i > 0)
            out[pos++] = i % 2 ? '=' : '&';
        memcpy(out + pos, enc[i], l);
        pos += l;
    }
    for (size_t i = 0; i < 2 * n; i++)
        wipe_free(enc[i]);
    if (out == NULL)
        return NULL;
    out[pos] = '\0';
    *len = pos;
    return out;
}

/* A URL template with {placeholders} filled; NULL when it cannot be. */
static char *
expand_url(const char *tmpl, const json_t *fields)
{
    if (tmpl == NULL || tmpl[0] == '\0')
        return NULL;
    if (strchr(tmpl, '{') != NULL)
        return catalog_expand(tmpl, fields);
    return strdup(tmpl);
}

/* ---- the authorize URL ---- */

static char *
join_scopes(const char *const *scopes, const char *sep)
{
    size_t total = 1, seplen = strlen(sep);
    for (size_t i = 0; scopes != NULL && scopes[i] != NULL; i++)
        total += strlen(scopes[i]) + seplen;
    if (total > MAX_SCOPE_LEN)
        return NULL;
    char *out = malloc(total);
    size_t pos = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; scopes != NULL && scopes[i] != NULL; i++) {
        if (scopes[i][0] == '\0')
            continue;
        if (pos > 0) {
            memcpy(out + pos, sep, seplen);
            pos += seplen;
        }
        size_t l = strlen(scopes[i]);
        memcpy(out + pos, scopes[i], l);
        pos += l;
    }
    out[pos] = '\0';
    return out;
}

/* Parameters tether sets itself; a catalogue entry cannot override them. */
static int
reserved_param(const char *k)
{
    static const char *const names[] = {"response_type",
                                        "client_id",
                                        "redirect_uri",
                                        "scope",
                                        "state",
                                        "code_challenge",
                                        "code_challenge_method",
                                        "client_secret",
                                        NULL};
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(k, names[i]) == 0)
            return 1;
    return 0;
}

/* base + ('?' or '&') + query, or NULL (a template with a fragment is refused). */
static char *
append_query(const char *base, const char *query)
{
    if (strchr(base, '#') != NULL)
        return NULL;
    const char *q = strchr(base, '?');
    size_t blen = strlen(base);
    const char *sep = "?";
    if (q != NULL)
        sep = (base[blen - 1] == '?' || base[blen - 1] == '&') ? "" : "&";
    char *out = NULL;
    if (asprintf(&out, "%s%s%s", base, sep, query) < 0)
        return NULL;
    return out;
}

char *
oauth_authorize_url(const struct catalog_scheme *s, const struct oauth_client *c,
                    const char *const *scopes, const char *state, const char *challenge,
                    const json_t *url_fields)
{
    struct pair p[MAX_PAIRS];
    size_t n = 0, qlen = 0;
    char *url = NULL, *query = NULL, *joined = NULL, *base = NULL;
    if (c == NULL || c->client_id == NULL || state == NULL)
        return NULL;
    base = expand_url(s->authorize_url, url_fields);
    if (base == NULL)
        return NULL;
    joined =
        join_scopes(scopes ? scopes : s->scopes, s->scope_separator ? s->scope_separator : " ");
    if (joined == NULL)
        goto out;
    p[n++] = (struct pair){"response_type", "code"};
    p[n++] = (struct pair){"client_id", c->client_id};
    if (c->redirect_uri != NULL)
        p[n++] = (struct pair){"redirect_uri", c->redirect_uri};
    if (joined[0] != '\0')
        p[n++] = (struct pair){"scope", joined};
    const char *k;
    json_t *v;
    size_t extra = 0;
    json_object_foreach((json_t *)s->authorize_params, k, v)
    {
        if (!json_is_string(v) || reserved_param(k) || extra == MAX_EXTRA_PARAMS)
            continue;
        p[n++] = (struct pair){k, json_string_value(v)};
        extra++;
    }
    p[n++] = (struct pair){"state", state};
    if (s->pkce && challenge != NULL) {
        p[n++] = (struct pair){"code_challenge", challenge};
        p[n++] = (struct pair){"code_challenge_method", "S256"};
    }
    query = form_encode(p, n, &qlen);
    if (query != NULL)
        url = append_query(base, query);
out:
    free(query);
    free(joined);
    free(base);
    return url;
}

/* ---- token endpoint requests ---- */

static int
uses_basic(const struct catalog_scheme *s, const struct oauth_client *c)
{
    return c->client_secret != NULL && s->token_auth != NULL &&
           strcmp(s->token_auth, "client_secret_basic") == 0;
}

/* "Basic base64(urlenc(id):urlenc(secret))" as an Authorization header on r. 0 or -1. */
static int
add_basic_auth(struct outbound_req *r, const struct oauth_client *c)
{
    char *id = url_encode(c->client_id);
    char *secret = url_encode(c->client_secret);
    char *joined = NULL, *b64 = NULL;
    int rc = -1;
    size_t jlen = strlen(id) + 1 + strlen(secret);
    joined = malloc(jlen + 1);
    if (joined == NULL)
        goto out;
    snprintf(joined, jlen + 1, "%s:%s", id, secret);
    size_t b64len = sodium_base64_ENCODED_LEN(jlen, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(b64len);
    if (b64 == NULL)
        goto out;
    sodium_bin2base64(b64, b64len, (const unsigned char *)joined, jlen,
                      sodium_base64_VARIANT_ORIGINAL);
    rc = outbound_req_header(r, "Authorization: Basic %s", b64);
out:
    wipe_free(b64);
    wipe_free(joined);
    wipe_free(secret);
    wipe_free(id);
    return rc;
}

/* POSTs grant pairs to url (consumed) with client authentication per the scheme. */
static struct outbound_req *
token_post(char *url, const struct catalog_scheme *s, const struct oauth_client *c, struct pair *p,
           size_t n)
{
    if (url == NULL || c == NULL || c->client_id == NULL) {
        free(url);
        return NULL;
    }
    int basic = uses_basic(s, c);
    if (!basic) {
        p[n++] = (struct pair){"client_id", c->client_id};
        if (c->client_secret != NULL)
            p[n++] = (struct pair){"client_secret", c->client_secret};
    }
    struct outbound_req *r = outbound_req_new("POST", url);
    free(url);
    if (r == NULL)
        return NULL;
    size_t len = 0;
    r->body = form_encode(p, n, &len);
    r->body_len = len;
    if (r->body == NULL ||
        outbound_req_header(r, "Content-Type: application/x-www-form-urlencoded") != 0 ||
        outbound_req_header(r, "Accept: application/json") != 0 ||
        (basic && add_basic_auth(r, c) != 0)) {
        outbound_req_free(r);
        return NULL;
    }
    return r;
}

struct outbound_req *
oauth_code_request(const struct catalog_scheme *s, const struct oauth_client *c, const char *code,
                   const char *verifier, const json_t *url_fields)
{
    struct pair p[8];
    size_t n = 0;
    if (code == NULL)
        return NULL;
    p[n++] = (struct pair){"grant_type", "authorization_code"};
    p[n++] = (struct pair){"code", code};
    if (c != NULL && c->redirect_uri != NULL)
        p[n++] = (struct pair){"redirect_uri", c->redirect_uri};
    if (verifier != NULL)
        p[n++] = (struct pair){"code_verifier", verifier};
    return token_post(expand_url(s->token_url, url_fields), s, c, p, n);
}

struct outbound_req *
oauth_refresh_request(const struct catalog_scheme *s, const struct oauth_client *c,
                      const char *refresh_token, const json_t *url_fields)
{
    struct pair p[8];
    size_t n = 0;
    if (refresh_token == NULL)
        return NULL;
    p[n++] = (struct pair){"grant_type", "refresh_token"};
    p[n++] = (struct pair){"refresh_token", refresh_token};
    const char *url = s->refresh_url ? s->refresh_url : s->token_url;
    return token_post(expand_url(url, url_fields), s, c, p, n);
}

struct outbound_req *
oauth_revoke_request(const struct catalog_scheme *s, const struct oauth_client *c,
                     const char *token, const char *hint, const json_t *url_fields)
{
    struct pair p[8];
    size_t n = 0;
    if (token == NULL || s->revoke_url == NULL)
        return NULL;
    p[n++] = (struct pair){"token", token};
    if (hint != NULL)
        p[n++] = (struct pair){"token_type_hint", hint};
    return token_post(expand_url(s->revoke_url, url_fields), s, c, p, n);
}

/* ---- token responses ---- */

/* A parsed response body: a JSON object or a form. */
struct fields {
    json_t *json;
    struct kv_list form;
    int is_form;
};

static void
fields_free(struct fields *f)
{
    const char *k;
    json_t *v;
    json_object_foreach(f->json, k, v)
    {
        if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(f->json);
    for (size_t i = 0; i < f->form.n; i++)
        if (f->form.items[i].val != NULL)
            sodium_memzero(f->form.items[i].val, strlen(f->form.items[i].val));
    if (f->is_form)
        kv_list_free(&f->form);
}

static int
ctype_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* 0 with f filled, or -1 when the body is neither a JSON object nor a form. */
static int
fields_parse(const struct outbound_res *res, struct fields *f)
{
    memset(f, 0, sizeof *f);
    const char *b = res->body ? res->body : "";
    size_t len = res->body ? res->len : 0, i = 0;
    while (i < len && isspace((unsigned char)b[i]))
        i++;
    if (i < len && b[i] == '{') {
        f->json = json_loadb(b, len, 0, NULL);
        if (json_is_object(f->json))
            return 0;
        json_decref(f->json);
        f->json = NULL;
        return -1;
    }
    if ((ctype_is(res->content_type, "application/x-www-form-urlencoded") ||
         ctype_is(res->content_type, "text/plain")) &&
        len > 0 && memchr(b, '=', len) != NULL && form_parse(b, len, &f->form) == 0) {
        f->is_form = 1;
        return 0;
    }
    return -1;
}

/* A field's string value (NULL when absent, not a string, or longer than MAX_TOKEN_FIELD). */
static const char *
field_str(const struct fields *f, const char *name)
{
    const char *v = NULL;
    if (f->is_form)
        v = kv_get(&f->form, name);
    else
        v = json_string_value(json_object_get(f->json, name));
    if (v != NULL && strlen(v) > MAX_TOKEN_FIELD)
        return NULL;
    return v;
}

/* expires_in as a number or a numeric string; 0 when absent or unusable. */
static int64_t
field_expires(const struct fields *f)
{
    const char *s = NULL;
    double d = 0;
    if (!f->is_form) {
        json_t *v = json_object_get(f->json, "expires_in");
        if (json_is_integer(v))
            d = (double)json_integer_value(v);
        else if (json_is_real(v))
            d = json_real_value(v);
        else
            s = json_string_value(v);
    } else {
        s = kv_get(&f->form, "expires_in");
    }
    if (s != NULL) {
        while (*s == ' ')
            s++;
        int64_t acc = 0;
        size_t i = 0;
        for (; s[i] >= '0' && s[i] <= '9' && i < 12; i++)
            acc = acc * 10 + (s[i] - '0');
        while (s[i] == ' ')
            i++;
        d = (i > 0 && s[i] == '\0') ? (double)acc : 0;
    }
    if (!isfinite(d) || d <= 0)
        return 0;
    return d > MAX_EXPIRES_IN ? MAX_EXPIRES_IN : (int64_t)d;
}

/* Copies untrusted text into out as printable ASCII, cut to fit. */
static void
copy_sane(char *out, size_t outlen, const char *s)
{
    size_t i = 0;
    if (outlen == 0)
        return;
    for (; s != NULL && s[i] != '\0' && i + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    out[i] = '\0';
}

static void say(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *out, size_t outlen, const char *fmt, ...)
{
    if (out == NULL || outlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

static char *
dup_or_null(const char *s, int *oom)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

/* Fills out from a success response. 0, or -1 on OOM (out left clear). */
static int
take_tokens(const struct fields *f, struct oauth_tokens *out)
{
    int oom = 0;
    const char *type = field_str(f, "token_type");
    memset(out, 0, sizeof *out);
    out->access_token = dup_or_null(field_str(f, "access_token"), &oom);
    out->refresh_token = dup_or_null(field_str(f, "refresh_token"), &oom);
    out->token_type = dup_or_null(type && type[0] ? type : "Bearer", &oom);
    out->scope = dup_or_null(field_str(f, "scope"), &oom);
    out->id_token = dup_or_null(field_str(f, "id_token"), &oom);
    out->expires_in = field_expires(f);
    if (oom) {
        oauth_tokens_clear(out);
        return -1;
    }
    return 0;
}

/* The provider's own error: "error" plus "error_description" (or a problem+json detail). */
static void
provider_error(const struct outbound_res *res, const struct fields *f, const char *code,
               char *error, size_t errlen, char *detail, size_t detlen)
{
    const char *desc = field_str(f, "error_description");
    if (desc == NULL)
        desc = field_str(f, "detail");
    if (desc == NULL)
        desc = field_str(f, "message");
    if (code != NULL)
        copy_sane(error, errlen, code);
    else
        say(error, errlen, "http_%ld", res->status);
    if (desc != NULL && desc[0] != '\0')
        copy_sane(detail, detlen, desc);
    else if (code != NULL)
        say(detail, detlen, "the provider answered HTTP %ld with error '%s'", res->status, error);
    else
        say(detail, detlen, "the provider answered HTTP %ld", res->status);
}

int
oauth_parse_token_response(const struct outbound_res *res, struct oauth_tokens *out, char *error,
                           size_t errlen, char *detail, size_t detlen)
{
    struct fields f;
    say(error, errlen, "%s", "");
    say(detail, detlen, "%s", "");
    if (res->status == 0) {
        say(error, errlen, "%s", res->timed_out ? "timeout" : "unreachable");
        say(detail, detlen, "cannot reach the provider: %s",
            res->error[0] ? res->error : "no response");
        return -1;
    }
    int ok2xx = res->status >= 200 && res->status < 300;
    if (fields_parse(res, &f) != 0) {
        if (ok2xx) {
            say(error, errlen, "invalid_response");
            say(detail, detlen, "the provider's token response is neither JSON nor a form");
        } else {
            say(error, errlen, "http_%ld", res->status);
            say(detail, detlen, "the provider answered HTTP %ld", res->status);
        }
        return -1;
    }
    int rc = -1;
    const char *code = field_str(&f, "error");
    const char *at = field_str(&f, "access_token");
    if ((code != NULL && code[0] != '\0') || !ok2xx) {
        provider_error(res, &f, code && code[0] ? code : NULL, error, errlen, detail, detlen);
    } else if (at == NULL || at[0] == '\0') {
        say(error, errlen, "invalid_response");
        say(detail, detlen, "the provider's token response has no access_token");
    } else if (take_tokens(&f, out) != 0) {
        say(error, errlen, "invalid_response");
        say(detail, detlen, "out of memory while reading the token response");
    } else {
        rc = 0;
    }
    fields_free(&f);
    return rc;
}

void
oauth_tokens_clear(struct oauth_tokens *t)
{
    if (t == NULL)
        return;
    wipe_free(t->access_token);
    wipe_free(t->refresh_token);
    wipe_free(t->token_type);
    wipe_free(t->scope);
    wipe_free(t->id_token);
    memset(t, 0, sizeof *t);
}
