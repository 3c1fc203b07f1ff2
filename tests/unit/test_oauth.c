/* test_oauth.c -- PKCE, the authorize URL, token/refresh/revoke requests and token responses. */
#include "harness/test.h"
#include "oauth/oauth.h"
#include "common/url.h"

#include <sodium.h>

/* Stand-in for the catalogue's placeholder filler, used only when catalog.o is not linked in: fills
 * {name} from fields without the catalogue's value checks. */
__attribute__((weak)) char *
catalog_expand(const char *tmpl, const json_t *fields)
{
    char out[1024];
    size_t o = 0;
    for (const char *p = tmpl; *p != '\0' && o < sizeof out - 1;) {
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (end == NULL)
            return NULL;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        const char *v = json_string_value(json_object_get(fields, name));
        if (v == NULL)
            return NULL;
        size_t vl = strlen(v);
        if (o + vl >= sizeof out)
            return NULL;
        memcpy(out + o, v, vl);
        o += vl;
        p = end + 1;
    }
    out[o] = '\0';
    return strdup(out);
}

static const char *const google_scopes[] = {"openid", "email",
                                            "https://www.googleapis.com/auth/gmail.modify", NULL};

/* A scheme shaped like the gmail catalogue entry; params must outlive it. */
static struct catalog_scheme
google_scheme(json_t *params)
{
    struct catalog_scheme s;
    memset(&s, 0, sizeof s);
    s.type = CATALOG_OAUTH2;
    s.type_name = "OAUTH2";
    s.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth";
    s.token_url = "https://oauth2.googleapis.com/token";
    s.revoke_url = "https://oauth2.googleapis.com/revoke";
    s.scopes = google_scopes;
    s.scope_separator = " ";
    s.pkce = 1;
    s.authorize_params = params;
    s.token_auth = "client_secret_post";
    return s;
}

static const struct oauth_client client = {"my client", "s3cr:et&x", "https://t.example/cb?a=1"};

/* Splits url at '?' and parses the query. */
static int
parse_query(const char *url, char *base, size_t baselen, struct kv_list *q)
{
    const char *qm = strchr(url, '?');
    if (qm == NULL)
        return -1;
    snprintf(base, baselen, "%.*s", (int)(qm - url), url);
    return form_parse(qm + 1, strlen(qm + 1), q);
}

static struct outbound_res
res_of(long status, const char *ctype, const char *body)
{
    struct outbound_res r;
    memset(&r, 0, sizeof r);
    r.status = status;
    snprintf(r.content_type, sizeof r.content_type, "%s", ctype);
    r.body = (char *)body;
    r.len = strlen(body);
    return r;
}

static const char *
header_value(const struct outbound_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < OUTBOUND_MAX_HEADERS && r->headers[i] != NULL; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return r->headers[i] + n + 2;
    return NULL;
}

TEST(oauth_pkce_rfc7636_vector)
{
    char ch[44];
    oauth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
    ASSERT_STR(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(oauth_pkce_pair_shape)
{
    char v1[44], c1[44], v2[44], c2[44], again[44];
    oauth_pkce_pair(v1, c1);
    oauth_pkce_pair(v2, c2);
    ASSERT_EQ(strlen(v1), OAUTH_VERIFIER_LEN);
    ASSERT_EQ(strlen(c1), 43);
    ASSERT(strcmp(v1, v2) != 0);
    ASSERT_EQ(strspn(v1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    oauth_pkce_challenge(v1, again);
    ASSERT_STR(again, c1);
}

TEST(oauth_authorize_url_contents)
{
    json_t *params = json_pack("{s:s, s:s, s:i, s:s}", "access_type", "offline", "prompt",
                               "consent", "ignored_number", 3, "state", "hijack");
    struct catalog_scheme s = google_scheme(params);
    char *url = oauth_authorize_url(&s, &client, NULL, "st&te=1", "CHALLENGE", NULL);
    ASSERT(url != NULL);
    char base[256];
    struct kv_list q;
    ASSERT_EQ(parse_query(url, base, sizeof base, &q), 0);
    ASSERT_STR(base, "https://accounts.google.com/o/oauth2/v2/auth");
    ASSERT_STR(kv_get(&q, "response_type"), "code");
    ASSERT_STR(kv_get(&q, "client_id"), "my client");
    ASSERT_STR(kv_get(&q, "redirect_uri"), "https://t.example/cb?a=1");
    ASSERT_STR(kv_get(&q, "scope"), "openid email https://www.googleapis.com/auth/gmail.modify");
    ASSERT_STR(kv_get(&q, "access_type"), "offline");
    ASSERT_STR(kv_get(&q, "prompt"), "consent");
    ASSERT_STR(kv_get(&q, "state"), "st&te=1");
    ASSERT_STR(kv_get(&q, "code_challenge"), "CHALLENGE");
    ASSERT_STR(kv_get(&q, "code_challenge_method"), "S256");
    ASSERT(kv_get(&q, "ignored_number") == NULL);
    ASSERT(kv_get(&q, "client_secret") == NULL);
    ASSERT_EQ(q.n, 9); /* the catalogue's "state" did not add a second one */
    /* everything is percent-encoded: no raw space, '&' inside a value, or ':' after the '?' */
    ASSERT(strchr(url, ' ') == NULL);
    ASSERT(strstr(strchr(url, '?'), "https:") == NULL);
    kv_list_free(&q);
    free(url);
    json_decref(params);
}

TEST(oauth_authorize_url_variants)
{
    json_t *params = json_object();
    struct catalog_scheme s = google_scheme(params);
    static const char *const gh_scopes[] = {"repo", "read:user", NULL};
    s.authorize_url = "https://{subdomain}.example.com/oauth/authorize?audience=api";
    s.scope_separator = ",";
    s.pkce = 0;
    json_t *fields = json_pack("{s:s}", "subdomain", "acme");
    char *url = oauth_authorize_url(&s, &client, gh_scopes, "S", "CH", fields);
    ASSERT(url != NULL);
    char base[256];
    struct kv_list q;
    ASSERT_EQ(parse_query(url, base, sizeof base, &q), 0);
    ASSERT_STR(base, "https://acme.example.com/oauth/authorize");
    ASSERT_STR(kv_get(&q, "audience"), "api");
    ASSERT_STR(kv_get(&q, "scope"), "repo,read:user");
    ASSERT(kv_get(&q, "code_challenge") == NULL);
    ASSERT(kv_get(&q, "code_challenge_method") == NULL);
    kv_list_free(&q);
    free(url);

    /* no scopes at all: no scope parameter */
    static const char *const none[] = {NULL};
    url = oauth_authorize_url(&s, &client, none, "S", NULL, fields);
    ASSERT(url != NULL);
    ASSERT_EQ(parse_query(url, base, sizeof base, &q), 0);
    ASSERT(kv_get(&q, "scope") == NULL);
    kv_list_free(&q);
    free(url);

    /* a placeholder without a value */
    ASSERT(oauth_authorize_url(&s, &client, none, "S", NULL, NULL) == NULL);
    json_decref(fields);
    json_decref(params);
}

TEST(oauth_code_request_post)
{
    json_t *params = json_object();
    struct catalog_scheme s = google_scheme(params);
    struct outbound_req *r = oauth_code_request(&s, &client, "c/o de", "VERIFIER", NULL);
    ASSERT(r != NULL);
    ASSERT_STR(r->method, "POST");
    ASSERT_STR(r->url, "https://oauth2.googleapis.com/token");
    ASSERT_STR(header_value(r, "Content-Type"), "application/x-www-form-urlencoded");
    ASSERT_STR(header_value(r, "Accept"), "application/json");
    ASSERT(header_value(r, "Authorization") == NULL);
    ASSERT_EQ(strlen(r->body), r->body_len);
    struct kv_list b;
    ASSERT_EQ(form_parse(r->body, r->body_len, &b), 0);
    ASSERT_STR(kv_get(&b, "grant_type"), "authorization_code");
    ASSERT_STR(kv_get(&b, "code"), "c/o de");
    ASSERT_STR(kv_get(&b, "redirect_uri"), "https://t.example/cb?a=1");
    ASSERT_STR(kv_get(&b, "code_verifier"), "VERIFIER");
    ASSERT_STR(kv_get(&b, "client_id"), "my client");
    ASSERT_STR(kv_get(&b, "client_secret"), "s3cr:et&x");
    ASSERT_EQ(b.n, 6);
    kv_list_free(&b);
    outbound_req_free(r);

    r = oauth_code_request(&s, &client, "code", NULL, NULL); /* no verifier: none sent */
    ASSERT(r != NULL);
    ASSERT(strstr(r->body, "code_verifier") == NULL);
    outbound_req_free(r);
    json_decref(params);
}

TEST(oauth_code_request_basic)
{
    json_t *params = json_object();
    struct catalog_scheme s = google_scheme(params);
    s.token_auth = "client_secret_basic";
    struct outbound_req *r = oauth_code_request(&s, &client, "abc", "V", NULL);
    ASSERT(r != NULL);
    const char *auth = header_value(r, "Authorization");
    ASSERT(auth != NULL);
    ASSERT(strncmp(auth, "Basic ", 6) == 0);
    unsigned char raw[128];
    size_t rawlen = 0;
    ASSERT_EQ(sodium_base642bin(raw, sizeof raw - 1, auth + 6, strlen(auth + 6), NULL, &rawlen,
                                NULL, sodium_base64_VARIANT_ORIGINAL),
              0);
    raw[rawlen] = '\0';
    ASSERT_STR((char *)raw, "my%20client:s3cr%3Aet%26x");
    struct kv_list b;
    ASSERT_EQ(form_parse(r->body, r->body_len, &b), 0);
    ASSERT(kv_get(&b, "client_secret") == NULL);
    ASSERT(kv_get(&b, "client_id") == NULL);
    ASSERT_STR(kv_get(&b, "code"), "abc");
    kv_list_free(&b);
    outbound_req_free(r);

    /* a public client has no secret: client_id in the body, no Authorization header */
    struct oauth_client pub = {"pub", NULL, "https://t.example/cb"};
    r = oauth_code_request(&s, &pub, "abc", "V", NULL);
    ASSERT(r != NULL);
    ASSERT(header_value(r, "Authorization") == NULL);
    ASSERT_EQ(form_parse(r->body, r->body_len, &b), 0);
    ASSERT_STR(kv_get(&b, "client_id"), "pub");
    ASSERT(kv_get(&b, "client_secret") == NULL);
    kv_list_free(&b);
    outbound_req_free(r);
    json_decref(params);
}

TEST(oauth_refresh_and_revoke)
{
    json_t *params = json_object();
    struct catalog_scheme s = google_scheme(params);
    struct outbound_req *r = oauth_refresh_request(&s, &client, "rt-1", NULL);
    ASSERT(r != NULL);
    ASSERT_STR(r->url, "https://oauth2.googleapis.com/token");
    struct kv_list b;
    ASSERT_EQ(form_parse(r->body, r->body_len, &b), 0);
    ASSERT_STR(kv_get(&b, "grant_type"), "refresh_token");
    ASSERT_STR(kv_get(&b, "refresh_token"), "rt-1");
    ASSERT_STR(kv_get(&b, "client_secret"), "s3cr:et&x");
    ASSERT(kv_get(&b, "redirect_uri") == NULL);
    kv_list_free(&b);
    outbound_req_free(r);

    s.refresh_url = "https://other.example/refresh";
    r = oauth_refresh_request(&s, &client, "rt-1", NULL);
    ASSERT_STR(r->url, "https://other.example/refresh");
    outbound_req_free(r);

    r = oauth_revoke_request(&s, &client, "rt-1", "refresh_token", NULL);
    ASSERT(r != NULL);
    ASSERT_STR(r->url, "https://oauth2.googleapis.com/revoke");
    ASSERT_EQ(form_parse(r->body, r->body_len, &b), 0);
    ASSERT_STR(kv_get(&b, "token"), "rt-1");
    ASSERT_STR(kv_get(&b, "token_type_hint"), "refresh_token");
    ASSERT_STR(kv_get(&b, "client_id"), "my client");
    kv_list_free(&b);
    outbound_req_free(r);

    s.revoke_url = NULL;
    ASSERT(oauth_revoke_request(&s, &client, "rt-1", NULL, NULL) == NULL);
    s.token_url = "https://{tenant}.example/token";
    ASSERT(oauth_code_request(&s, &client, "c", NULL, NULL) == NULL);
    json_decref(params);
}

TEST(oauth_parse_json)
{
    struct outbound_res res = res_of(200, "application/json; charset=utf-8",
                                     "{\"access_token\":\"at\",\"refresh_token\":\"rt\","
                                     "\"expires_in\":3600,\"scope\":\"openid email\","
                                     "\"id_token\":\"idt\",\"token_type\":\"bearer\"}");
    struct oauth_tokens t;
    char err[64], det[256];
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), 0);
    ASSERT_STR(t.access_token, "at");
    ASSERT_STR(t.refresh_token, "rt");
    ASSERT_STR(t.token_type, "bearer");
    ASSERT_STR(t.scope, "openid email");
    ASSERT_STR(t.id_token, "idt");
    ASSERT_EQ(t.expires_in, 3600);
    oauth_tokens_clear(&t);
    ASSERT(t.access_token == NULL);
    oauth_tokens_clear(&t); /* twice is fine */
}

TEST(oauth_parse_minimal_and_string_expiry)
{
    struct outbound_res res =
        res_of(200, "application/json", "  {\"access_token\":\"at\",\"expires_in\":\"7200\"}");
    struct oauth_tokens t;
    char err[64], det[256];
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), 0);
    ASSERT_STR(t.token_type, "Bearer");
    ASSERT(t.refresh_token == NULL);
    ASSERT(t.scope == NULL);
    ASSERT(t.id_token == NULL);
    ASSERT_EQ(t.expires_in, 7200);
    oauth_tokens_clear(&t);

    res = res_of(200, "application/json", "{\"access_token\":\"at\",\"expires_in\":\"soon\"}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), 0);
    ASSERT_EQ(t.expires_in, 0);
    oauth_tokens_clear(&t);
    res = res_of(200, "application/json", "{\"access_token\":\"at\",\"expires_in\":-5}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), 0);
    ASSERT_EQ(t.expires_in, 0);
    oauth_tokens_clear(&t);
    res = res_of(200, "application/json", "{\"access_token\":\"at\",\"expires_in\":3599.9}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), 0);
    ASSERT_EQ(t.expires_in, 3599);
    oauth_tokens_clear(&t);
}

TEST(oauth_parse_form)
{
    struct outbound_res res = res_of(200, "application/x-www-form-urlencoded; charset=utf-8",
                                     "access_token=gho_abc&scope=repo%2Cuser&token_type=bearer"
                                     "&expires_in=28800&refresh_token=ghr_x");
    struct oauth_tokens t;
    char err[64], det[256];
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), 0);
    ASSERT_STR(t.access_token, "gho_abc");
    ASSERT_STR(t.scope, "repo,user");
    ASSERT_STR(t.refresh_token, "ghr_x");
    ASSERT_EQ(t.expires_in, 28800);
    oauth_tokens_clear(&t);

    /* GitHub's legacy endpoint reports errors with a 200 */
    res = res_of(200, "application/x-www-form-urlencoded",
                 "error=bad_verification_code&error_description=The+code+is+wrong");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "bad_verification_code");
    ASSERT_STR(det, "The code is wrong");
}

TEST(oauth_parse_errors)
{
    struct oauth_tokens t;
    char err[64], det[256];
    struct outbound_res res = res_of(400, "application/json",
                                     "{\"error\":\"invalid_grant\","
                                     "\"error_description\":\"grant request is invalid\"}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_grant");
    ASSERT_STR(det, "grant request is invalid");

    res = res_of(401, "application/json", "{\"error\":\"invalid_client\"}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_client");
    ASSERT(strstr(det, "401") != NULL);

    res = res_of(200, "text/html", "<html>hello</html>");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_response");

    res = res_of(200, "application/json", "{\"access_token\":");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_response");

    res = res_of(200, "application/json", "[\"access_token\"]");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_response");

    res = res_of(200, "application/json", "{\"access_token\":42}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_response");
    ASSERT(strstr(det, "access_token") != NULL);

    res = res_of(502, "text/html", "<html>bad gateway</html>");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "http_502");

    res = res_of(400, "application/problem+json", "{\"title\":\"Bad Request\",\"detail\":\"x\"}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "http_400");
    ASSERT_STR(det, "x");

    res = res_of(400, "application/json", "{\"error\":\"bad\\u0001code\"}");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "bad?code");

    res = res_of(0, "", "");
    snprintf(res.error, sizeof res.error, "Connection refused");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "unreachable");
    ASSERT(strstr(det, "Connection refused") != NULL);
    res.timed_out = 1;
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "timeout");

    res = res_of(204, "", "");
    ASSERT_EQ(oauth_parse_token_response(&res, &t, err, sizeof err, det, sizeof det), -1);
    ASSERT_STR(err, "invalid_response");
}

TEST_MAIN()
