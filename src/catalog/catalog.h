/* catalog.h -- the toolkit catalogue: one JSON file per toolkit (catalog/toolkits/<slug>.json),
 * compiled into the binary, plus an operator directory (--catalog-dir) whose files add entries or
 * replace those with the same slug. Loaded once at start, read-only afterwards, so lookups need no
 * locks. The format is documented in docs/catalogue.md. */
#ifndef TETHER_CATALOG_H
#define TETHER_CATALOG_H
#include <jansson.h>
#include <stddef.h>

enum catalog_auth {
    CATALOG_OAUTH2,
    CATALOG_API_KEY,
    CATALOG_BEARER_TOKEN,
    CATALOG_BASIC,
    CATALOG_NO_AUTH,
};

struct catalog_field {
    const char *name;         /* "api_key", "subdomain" */
    const char *display_name; /* "API key" */
    const char *description;  /* may be "" */
    int required;
    int secret;               /* 1: shown as a password input, stored only in the vault */
};

struct catalog_scheme {
    enum catalog_auth type;
    const char *type_name;        /* "OAUTH2", "API_KEY", "BEARER_TOKEN", "BASIC", "NO_AUTH" */
    /* OAUTH2 only (NULL otherwise); URLs may hold {field} placeholders */
    const char *authorize_url;
    const char *token_url;
    const char *refresh_url;      /* NULL: token_url */
    const char *revoke_url;       /* NULL: no revocation */
    const char *userinfo_url;     /* NULL: no identity lookup */
    const char *identity_field;   /* dotted path in the userinfo JSON: "email", "login", "user.name" */
    const char *const *scopes;    /* default scopes, NULL-terminated */
    const char *scope_separator;  /* " " unless the provider wants "," */
    int pkce;                     /* 1: send S256; 0: the provider must not get PKCE */
    const json_t *authorize_params; /* object of extra string parameters, never NULL (maybe empty) */
    const char *token_auth;       /* "client_secret_post" or "client_secret_basic" */
    /* every scheme */
    const struct catalog_field *fields; /* connection fields the Connect Link asks for */
    size_t nfields;
    /* how a credential goes on an API request */
    const char *inject_in;        /* "header" or "query" */
    const char *inject_name;      /* "Authorization", "X-Api-Key", "api_key" */
    const char *inject_format;    /* "Bearer {access_token}", "{api_key}", "Basic {basic}" */
    /* key-based schemes: optional request that proves the credential works (NULL: none) */
    const char *test_method;
    const char *test_url;
};

struct catalog_toolkit {
    const char *slug;
    const char *name;
    const char *description;
    const char *logo;             /* file name under catalog/logos, e.g. "gmail.svg" */
    const char *const *categories;/* NULL-terminated */
    const char *base_url;         /* API base for the proxy; may hold {field} placeholders */
    const struct catalog_scheme *schemes;
    size_t nschemes;
    int no_auth;                  /* 1 when the only scheme is NO_AUTH */
    const json_t *tools;          /* array of tool objects (docs/catalogue.md), never NULL */
    const json_t *raw;            /* the whole entry as loaded */
};

/* Loads the embedded entries, then every *.json in extra_dir (NULL: none). A file that fails
 * validation stops the load: -1 with "file: what is wrong" in err. Safe to call once. */
int catalog_load(const char *extra_dir, char *err, size_t errlen);
void catalog_free(void);

size_t catalog_count(void);
const struct catalog_toolkit *catalog_at(size_t i); /* sorted by slug; NULL past the end */
const struct catalog_toolkit *catalog_get(const char *slug);
/* The scheme of this type name ("OAUTH2"), or the first scheme when type_name is NULL. */
const struct catalog_scheme *catalog_scheme(const struct catalog_toolkit *t, const char *type_name);

/* Fills {name} placeholders in tmpl from fields (an object of strings). Values must match
 * [A-Za-z0-9._-]{1,100} so a field can never change a URL's host or path shape. A malloc'd string,
 * or NULL when a placeholder has no acceptable value. */
char *catalog_expand(const char *tmpl, const json_t *fields);

/* A logo's bytes and content type, from extra_dir first, then the embedded files. 0 or -1. */
int catalog_logo(const char *file, const char **data, size_t *len, const char **content_type);

/* Added with the loader. */

/* The toolkit's fixed request headers ({"Notion-Version":"2022-06-28"}): an object of strings,
 * never NULL for a loaded toolkit (maybe empty). Sent on proxy, tool, userinfo and test
 * requests. */
const json_t *catalog_headers(const struct catalog_toolkit *t);

/* Where field i of s gets its value: "user" (the Connect Link asks for it) or "token_response"
 * (OAUTH2 only: copied from the token response member of the same name, e.g. Salesforce's
 * instance_url; the Connect Link must not ask for it). */
const char *catalog_field_source(const struct catalog_scheme *s, size_t i);

/* A tool object by its slug across the whole catalogue (tool slugs are unique), and its toolkit
 * in *toolkit (may be NULL). NULL when unknown. */
const json_t *catalog_tool(const char *slug, const struct catalog_toolkit **toolkit);

/* The value to put on a request for s: inject_format with {placeholders} filled from creds (an
 * object of strings: "access_token" for OAUTH2, the scheme's field values otherwise) and, for
 * BASIC, {basic} = base64(username ":" password) built from the scheme's basic_auth templates
 * (default "{username}" and "{password}"). Values must be printable ASCII (no CR/LF), 1 to 8192
 * bytes. A malloc'd string (a secret: wipe before free; for inject_in "query" the caller
 * percent-encodes it), or NULL when a value is missing or unacceptable. */
char *catalog_credential(const struct catalog_scheme *s, const json_t *creds);

#endif
