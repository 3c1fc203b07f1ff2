/* oauth.h -- the OAuth2 client side, as pure functions over strings: PKCE, the authorize URL, the
 * token request (authorization_code and refresh_token grants), parsing token responses, and the
 * RFC 7009 revocation request. No I/O here: requests are built for the outbound engine and responses
 * are parsed from its result. */
#ifndef TETHER_OAUTH_H
#define TETHER_OAUTH_H
#include <stddef.h>
#include <stdint.h>
#include "catalog/catalog.h"
#include "outbound/outbound.h"

#define OAUTH_VERIFIER_LEN 43 /* base64url of 32 random bytes */

/* A fresh verifier and its S256 challenge (each NUL-terminated, 44 bytes). */
void oauth_pkce_pair(char verifier[44], char challenge[44]);
void oauth_pkce_challenge(const char *verifier, char challenge[44]);

struct oauth_client {
    const char *client_id;
    const char *client_secret;   /* may be NULL for public clients */
    const char *redirect_uri;
};

/* The provider URL the browser is sent to: response_type=code, client_id, redirect_uri, scope
 * (scopes joined with the scheme's separator), state, code_challenge + S256 when the scheme uses
 * PKCE, and the scheme's authorize_params. url_fields fills {placeholders} (may be NULL).
 * A malloc'd string, or NULL when the URL template cannot be filled. */
char *oauth_authorize_url(const struct catalog_scheme *s, const struct oauth_client *c,
                          const char *const *scopes, const char *state, const char *challenge,
                          const json_t *url_fields);

/* Token requests for the outbound engine (NULL when a URL template cannot be filled). Client
 * authentication follows s->token_auth: client_secret_post puts id and secret in the form body,
 * client_secret_basic in an Authorization header (each part form-encoded, RFC 6749 2.3.1). */
struct outbound_req *oauth_code_request(const struct catalog_scheme *s, const struct oauth_client *c,
                                        const char *code, const char *verifier,
                                        const json_t *url_fields);
struct outbound_req *oauth_refresh_request(const struct catalog_scheme *s,
                                           const struct oauth_client *c, const char *refresh_token,
                                           const json_t *url_fields);
/* RFC 7009: token + token_type_hint, client authenticated as for the token endpoint. */
struct outbound_req *oauth_revoke_request(const struct catalog_scheme *s,
                                          const struct oauth_client *c, const char *token,
                                          const char *hint, const json_t *url_fields);

struct oauth_tokens {
    char *access_token;  /* malloc'd, wipe with oauth_tokens_clear */
    char *refresh_token; /* NULL when none was issued */
    char *token_type;    /* "Bearer" when the provider said nothing */
    char *scope;         /* granted scopes as sent, NULL when absent */
    char *id_token;      /* NULL when absent */
    int64_t expires_in;  /* seconds, 0 when absent; string values are accepted */
};

/* Parses a token endpoint response (JSON, or form-encoded as older providers send). For a 2xx with
 * an access_token: 0. Otherwise -1, with error (the OAuth "error" code, or "invalid_response" /
 * "http_<status>") and a human sentence in detail. */
int oauth_parse_token_response(const struct outbound_res *res, struct oauth_tokens *out,
                               char *error, size_t errlen, char *detail, size_t detlen);
void oauth_tokens_clear(struct oauth_tokens *t); /* wipes and frees; safe on a zeroed struct */

#endif
