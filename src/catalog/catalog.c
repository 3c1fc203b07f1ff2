/* catalog.c -- loads and validates the toolkit catalogue (embedded files, then an operator
 * directory), and answers lookups. Every string in the structs points into the parsed JSON, which
 * lives until catalog_free(). Validation is strict: a file is either wholly valid or the load
 * fails with "file: what is wrong". */
#include "catalog/catalog.h"
#include "common/embedded.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_LOGO_BYTES (256 * 1024)
#define MAX_DIR_FILES 4096
#define MAX_ENTRIES 4096
#define MAX_SCHEMES 8
#define MAX_FIELDS 16
#define MAX_SCOPES 64
#define MAX_CATEGORIES 16
#define MAX_HEADERS 16
#define MAX_PARAMS 16
#define MAX_TOOLS 500
#define MAX_URL 2048
#define MAX_EXPANDED 8192
#define MAX_VALUE 100
#define MAX_CREDENTIAL 8192
#define EMBED_PREFIX "catalog/toolkits/"
#define LOGO_PREFIX "catalog/logos/"

struct entry {
    struct catalog_toolkit t;
    json_t *root;
    struct catalog_scheme *schemes;
    const char **categories;
};

struct logo {
    char *name;
    char *data;
    size_t len;
};

struct tool_ref {
    const char *slug;
    const json_t *tool;
    const struct catalog_toolkit *toolkit;
};

static struct entry **entries;
static size_t nentries;
static struct logo *logos;
static size_t nlogos;
static struct tool_ref *tools;
static size_t ntools;
static json_t *empty_object; /* authorize_params of schemes that have none */

/* ---- error context -------------------------------------------------------------------------- */

struct ctx {
    const char *file;
    char *err;
    size_t errlen;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct ctx *c, const char *fmt, ...)
{
    if (c->err == NULL || c->errlen == 0)
        return -1;
    int n = snprintf(c->err, c->errlen, "%s: ", c->file);
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Formats a location ("auth_schemes[0].fields[1]") for messages; truncation is harmless. */
static void __attribute__((format(printf, 3, 4)))
where_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

/* ---- small matchers ------------------------------------------------------------------------- */

static int
is_lower_ident_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* ^[a-z0-9_]{1,max}$ */
static int
match_ident(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!is_lower_ident_char((unsigned char)s[n]) || n >= max)
            return 0;
    return n > 0;
}

/* Every byte is in the set of chars, and the length is in [1, max]. */
static int
match_set(const char *s, const char *set, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (n >= max || (!(isalnum(ch) && ch < 0x80) && strchr(set, ch) == NULL))
            return 0;
    }
    return n > 0;
}

/* Printable ASCII only (space allowed when allow_space). */
static int
is_printable(const char *s, int allow_space)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch > 0x7e || ch < 0x20 || (ch == ' ' && !allow_space))
            return 0;
    }
    return 1;
}

static int
has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ^[a-z0-9_-]{1,64}\.(svg|png)$ */
static int
valid_logo_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL || (strcmp(dot, ".svg") != 0 && strcmp(dot, ".png") != 0))
        return 0;
    size_t n = (size_t)(dot - name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_ident_char((unsigned char)name[i]) && name[i] != '-')
            return 0;
    return 1;
}

/* ---- placeholders --------------------------------------------------------------------------- */

/* Walks the {name} placeholders of s. cb gets each name (NUL-terminated copy) and its offset;
 * a non-zero return from cb stops the walk with that value. A brace that does not open a valid
 * placeholder ({[a-z0-9_]{1,48}}), or a stray '}', returns -2. */
typedef int (*ph_cb)(void *arg, const char *name, size_t pos);

static int
walk_placeholders(const char *s, ph_cb cb, void *arg)
{
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] == '}')
            return -2;
        if (s[i] != '{')
            continue;
        char name[49];
        size_t n = 0;
        size_t j = i + 1;
        while (is_lower_ident_char((unsigned char)s[j]) && n < 48)
            name[n++] = s[j++];
        if (n == 0 || s[j] != '}')
            return -2;
        name[n] = '\0';
        int rc = cb(arg, name, i);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

/* Names a template may use, as a NULL-terminated list plus optional extras. */
struct names {
    const char *list[MAX_FIELDS + 4];
    size_t n;
};

static void
names_add(struct names *ns, const char *name)
{
    if (ns->n + 1 < sizeof ns->list / sizeof ns->list[0])
        ns->list[ns->n++] = name;
    ns->list[ns->n] = NULL;
}

static int
names_has(const struct names *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->list[i], name) == 0)
            return 1;
    return 0;
}

struct ph_check {
    const struct names *allowed;
    char bad[49];
    size_t count;
};

static int
ph_check_cb(void *arg, const char *name, size_t pos)
{
    struct ph_check *pc = arg;
    pc->count++;
    if (!names_has(pc->allowed, name)) {
        snprintf(pc->bad, sizeof pc->bad, "%s", name);
        return 1;
    }
    return 0;
}

/* Checks that every placeholder of s is well formed and allowed. */
static int
check_placeholders(struct ctx *c, const char *where, const char *s, const struct names *allowed,
                   size_t *count)
{
    struct ph_check pc = {.allowed = allowed};
    int rc = walk_placeholders(s, ph_check_cb, &pc);
    if (rc == -2)
        return fail(c, "%s: malformed placeholder (use {name} with name matching [a-z0-9_]{1,48})",
                    where);
    if (rc != 0)
        return fail(c, "%s: placeholder {%s} is not a declared field", where, pc.bad);
    if (count != NULL)
        *count = pc.count;
    return 0;
}

/* ---- URL templates -------------------------------------------------------------------------- */

static int
is_loopback_host(const char *host, size_t n)
{
    return (n == 9 && memcmp(host, "127.0.0.1", 9) == 0) ||
           (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (n == 5 && memcmp(host, "[::1]", 5) == 0);
}

/* The literal tail of a host after its last placeholder must be a fixed domain of two or more
 * labels (".zendesk.com"), so a field value can pick a subdomain but never the site. */
static int
fixed_domain_tail(const char *host, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (host[i] == '}')
            start = i + 1;
    const char *t = host + start;
    size_t len = n - start;
    if (len < 4 || t[0] != '.')
        return 0;
    size_t dots = 0, label = 0;
    for (size_t i = 1; i < len; i++) {
        if (t[i] == '.') {
            if (label == 0)
                return 0;
            dots++;
            label = 0;
        } else if (isalnum((unsigned char)t[i]) || t[i] == '-') {
            label++;
        } else {
            return 0;
        }
    }
    return dots >= 1 && label > 0;
}

static int
check_port(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* Checks the authority "host[:port]" of a URL template. */
static int
check_authority(struct ctx *c, const char *where, const char *a, size_t n, int https)
{
    if (n == 0)
        return fail(c, "%s: the URL has no host", where);
    if (memchr(a, '@', n) != NULL)
        return fail(c, "%s: the URL must not hold userinfo ('@')", where);
    size_t hostlen = n;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return fail(c, "%s: bad IPv6 literal in the host", where);
        hostlen = (size_t)(close - a) + 1;
    } else {
        const char *colon = memchr(a, ':', n);
        if (colon != NULL)
            hostlen = (size_t)(colon - a);
    }
    if (hostlen < n && (a[hostlen] != ':' || !check_port(a + hostlen + 1, n - hostlen - 1)))
        return fail(c, "%s: bad port in the URL", where);
    if (!https) {
        if (!is_loopback_host(a, hostlen))
            return fail(c, "%s: http:// is only allowed for 127.0.0.1, localhost and [::1]; "
                           "use https://", where);
        return 0;
    }
    int has_ph = memchr(a, '{', hostlen) != NULL;
    if (a[0] == '[' && !is_loopback_host(a, hostlen))
        return fail(c, "%s: IP literal hosts are not allowed", where);
    for (size_t i = 0; i < hostlen && a[0] != '['; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '{' || ch == '}' || ch == '_'))
            return fail(c, "%s: bad character '%c' in the host", where, ch);
    }
    if (has_ph && !fixed_domain_tail(a, hostlen))
        return fail(c, "%s: a placeholder in the host must be followed by a fixed domain "
                       "(\"https://{subdomain}.example.com\")", where);
    return 0;
}

/* Validates a URL template: https:// (http:// only for loopback hosts), no userinfo, no
 * fragment, printable, placeholders declared. A template may instead start with a {*_url}
 * placeholder, filled at run time with an origin (see catalog_expand). */
static int
check_url(struct ctx *c, const char *where, const char *url, const struct names *allowed)
{
    size_t len = strlen(url);
    if (len == 0 || len > MAX_URL)
        return fail(c, "%s: the URL must be 1 to %d characters", where, MAX_URL);
    if (!is_printable(url, 0) || strchr(url, '\\') != NULL)
        return fail(c, "%s: the URL holds spaces, control or non-ASCII characters", where);
    if (strchr(url, '#') != NULL)
        return fail(c, "%s: the URL must not have a fragment", where);
    if (check_placeholders(c, where, url, allowed, NULL) != 0)
        return -1;
    if (url[0] == '{') {
        const char *close = strchr(url, '}');
        size_t nlen = (size_t)(close - url) - 1;
        if (nlen < 4 || memcmp(close - 4, "_url", 4) != 0)
            return fail(c, "%s: only a {*_url} placeholder may stand for the scheme and host",
                        where);
        if (close[1] != '\0' && close[1] != '/')
            return fail(c, "%s: a path must follow {%.*s}", where, (int)nlen, url + 1);
        return 0;
    }
    int https = strncmp(url, "https://", 8) == 0;
    if (!https && strncmp(url, "http://", 7) != 0)
        return fail(c, "%s: the URL must start with https://", where);
    const char *a = url + (https ? 8 : 7);
    size_t n = strcspn(a, "/?");
    return check_authority(c, where, a, n, https);
}

/* ---- JSON field helpers --------------------------------------------------------------------- */

/* Fails on any key of o that is not in allowed (NULL-terminated). */
static int
check_keys(struct ctx *c, const char *where, const json_t *o, const char *const *allowed)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL)
            return fail(c, "%s: unknown key \"%s\"", where, key);
    }
    return 0;
}

/* A string member: *out is NULL when absent and optional. Length must be in [min, max] and the
 * text free of control characters. */
static int
get_str(struct ctx *c, const char *where, const json_t *o, const char *key, int required,
        size_t min, size_t max, const char **out)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL) {
        if (required)
            return fail(c, "%s: missing \"%s\"", where, key);
        return 0;
    }
    if (!json_is_string(v))
        return fail(c, "%s: \"%s\" must be a string", where, key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n != strlen(s) || has_control(s))
        return fail(c, "%s: \"%s\" holds control characters", where, key);
    if (n < min || n > max)
        return fail(c, "%s: \"%s\" must be %zu to %zu characters", where, key, min, max);
    *out = s;
    return 0;
}

static int
get_bool(struct ctx *c, const char *where, const json_t *o, const char *key, int required,
         int dflt, int *out)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (required)
            return fail(c, "%s: missing \"%s\"", where, key);
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return fail(c, "%s: \"%s\" must be true or false", where, key);
    *out = json_is_true(v);
    return 0;
}

/* An array of strings, each checked by ok(); returns a malloc'd NULL-terminated list. */
static int
get_str_list(struct ctx *c, const char *where, const json_t *o, const char *key, int required,
             size_t max, int (*ok)(const char *), const char ***out)
{
    const json_t *a = json_object_get(o, key);
    *out = NULL;
    if (a == NULL && required)
        return fail(c, "%s: missing \"%s\"", where, key);
    if (a != NULL && !json_is_array(a))
        return fail(c, "%s: \"%s\" must be an array of strings", where, key);
    size_t n = a ? json_array_size(a) : 0;
    if (n > max)
        return fail(c, "%s: \"%s\" has more than %zu items", where, key, max);
    const char **list = calloc(n + 1, sizeof *list);
    if (list == NULL)
        return fail(c, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
            !ok(json_string_value(v))) {
            free(list);
            return fail(c, "%s: \"%s\"[%zu] is not an acceptable string", where, key, i);
        }
        list[i] = json_string_value(v);
    }
    *out = list;
    return 0;
}

static int
ok_category(const char *s)
{
    return match_set(s, "_-", 48) && strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL;
}

static int
ok_scope(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 256 && is_printable(s, 0) && strchr(s, ',') == NULL;
}

/* ---- schemes -------------------------------------------------------------------------------- */

static const char *const type_names[] = {"OAUTH2", "API_KEY", "BEARER_TOKEN", "BASIC", "NO_AUTH"};

static const char *const scheme_keys[] = {
    "type", "authorize_url", "token_url", "refresh_url", "revoke_url", "userinfo_url",
    "identity_field", "scopes", "scope_separator", "pkce", "authorize_params", "token_auth",
    "fields", "inject", "test_request", "basic_auth", NULL};
static const char *const oauth_only_keys[] = {
    "authorize_url", "token_url", "refresh_url", "revoke_url", "userinfo_url", "identity_field",
    "scopes", "scope_separator", "pkce", "authorize_params", "token_auth", NULL};
static const char *const field_keys[] = {"name", "display_name", "description", "required",
                                         "secret", "source", NULL};

static int
parse_field(struct ctx *c, const char *where, const json_t *o, enum catalog_auth type,
            struct catalog_field *f)
{
    if (!json_is_object(o))
        return fail(c, "%s: must be an object", where);
    const char *source;
    if (check_keys(c, where, o, field_keys) != 0 ||
        get_str(c, where, o, "name", 1, 1, 48, &f->name) != 0 ||
        get_str(c, where, o, "display_name", 1, 1, 100, &f->display_name) != 0 ||
        get_str(c, where, o, "description", 0, 0, 500, &f->description) != 0 ||
        get_bool(c, where, o, "required", 0, 1, &f->required) != 0 ||
        get_bool(c, where, o, "secret", 0, 0, &f->secret) != 0 ||
        get_str(c, where, o, "source", 0, 1, 32, &source) != 0)
        return -1;
    if (!match_ident(f->name, 48))
        return fail(c, "%s: field name \"%s\" must match [a-z0-9_]{1,48}", where, f->name);
    if (strcmp(f->name, "access_token") == 0 || strcmp(f->name, "refresh_token") == 0 ||
        strcmp(f->name, "basic") == 0)
        return fail(c, "%s: field name \"%s\" is reserved", where, f->name);
    if (f->description == NULL)
        f->description = "";
    if (source != NULL && strcmp(source, "user") != 0 &&
        !(strcmp(source, "token_response") == 0 && type == CATALOG_OAUTH2))
        return fail(c, "%s: \"source\" must be \"user\"%s", where,
                    type == CATALOG_OAUTH2 ? " or \"token_response\"" : "");
    return 0;
}

static int
parse_fields(struct ctx *c, const char *where, const json_t *s, struct catalog_scheme *out,
             struct names *ns)
{
    const json_t *a = json_object_get(s, "fields");
    if (a == NULL)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > MAX_FIELDS)
        return fail(c, "%s: \"fields\" must be an array of at most %d objects", where,
                    MAX_FIELDS);
    size_t n = json_array_size(a);
    struct catalog_field *fs = calloc(n ? n : 1, sizeof *fs);
    if (fs == NULL)
        return fail(c, "out of memory");
    out->fields = fs;
    out->nfields = n;
    for (size_t i = 0; i < n; i++) {
        char w[160];
        where_fmt(w, sizeof w, "%s.fields[%zu]", where, i);
        if (parse_field(c, w, json_array_get(a, i), out->type, &fs[i]) != 0)
            return -1;
        if (names_has(ns, fs[i].name))
            return fail(c, "%s: duplicate field \"%s\"", w, fs[i].name);
        names_add(ns, fs[i].name);
    }
    return 0;
}

static int
check_params(struct ctx *c, const char *where, json_t *s)
{
    static const char *const reserved[] = {"response_type", "client_id", "redirect_uri", "scope",
                                           "state", "code_challenge", "code_challenge_method",
                                           NULL};
    json_t *p = json_object_get(s, "authorize_params");
    if (p == NULL)
        return 0;
    if (!json_is_object(p) || json_object_size(p) > MAX_PARAMS)
        return fail(c, "%s: \"authorize_params\" must be an object of at most %d strings", where,
                    MAX_PARAMS);
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v) {
        if (!match_set(key, "_.-", 64))
            return fail(c, "%s: authorize_params: bad parameter name \"%s\"", where, key);
        for (size_t i = 0; reserved[i] != NULL; i++)
            if (strcmp(reserved[i], key) == 0)
                return fail(c, "%s: authorize_params: \"%s\" is set by tether", where, key);
        if (!json_is_string(v) || json_string_length(v) > 256 ||
            !is_printable(json_string_value(v), 1))
            return fail(c, "%s: authorize_params.%s must be a printable string", where, key);
    }
    return 0;
}

static int
ok_identity_path(const char *s)
{
    if (strlen(s) > 128 || s[0] == '.' || ends_with(s, ".") || strstr(s, "..") != NULL)
        return 0;
    return match_set(s, "_.", 128);
}

static int
parse_oauth(struct ctx *c, const char *where, json_t *s, struct catalog_scheme *out,
            const struct names *ns)
{
    char w[160];
    const char *sep, *tauth;
    if (get_str(c, where, s, "authorize_url", 1, 1, MAX_URL, &out->authorize_url) != 0 ||
        get_str(c, where, s, "token_url", 1, 1, MAX_URL, &out->token_url) != 0 ||
        get_str(c, where, s, "refresh_url", 0, 1, MAX_URL, &out->refresh_url) != 0 ||
        get_str(c, where, s, "revoke_url", 0, 1, MAX_URL, &out->revoke_url) != 0 ||
        get_str(c, where, s, "userinfo_url", 0, 1, MAX_URL, &out->userinfo_url) != 0 ||
        get_str(c, where, s, "identity_field", 0, 1, 128, &out->identity_field) != 0 ||
        get_str(c, where, s, "scope_separator", 0, 1, 1, &sep) != 0 ||
        get_str(c, where, s, "token_auth", 0, 1, 32, &tauth) != 0 ||
        get_bool(c, where, s, "pkce", 1, 0, &out->pkce) != 0)
        return -1;
    const struct {
        const char *key, *val;
    } urls[] = {{"authorize_url", out->authorize_url}, {"token_url", out->token_url},
                {"refresh_url", out->refresh_url},     {"revoke_url", out->revoke_url},
                {"userinfo_url", out->userinfo_url}};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        where_fmt(w, sizeof w, "%s.%s", where, urls[i].key);
        if (urls[i].val != NULL && check_url(c, w, urls[i].val, ns) != 0)
            return -1;
    }
    if ((out->userinfo_url == NULL) != (out->identity_field == NULL))
        return fail(c, "%s: \"userinfo_url\" and \"identity_field\" go together", where);
    if (out->identity_field != NULL && !ok_identity_path(out->identity_field))
        return fail(c, "%s: \"identity_field\" must be a dotted path like \"user.email\"", where);
    if (sep != NULL && strcmp(sep, " ") != 0 && strcmp(sep, ",") != 0)
        return fail(c, "%s: \"scope_separator\" must be \" \" or \",\"", where);
    out->scope_separator = sep ? sep : " ";
    if (tauth != NULL && strcmp(tauth, "client_secret_post") != 0 &&
        strcmp(tauth, "client_secret_basic") != 0)
        return fail(c, "%s: \"token_auth\" must be \"client_secret_post\" or "
                       "\"client_secret_basic\"", where);
    out->token_auth = tauth ? tauth : "client_secret_post";
    const char **scopes;
    if (get_str_list(c, where, s, "scopes", 1, MAX_SCOPES, ok_scope, &scopes) != 0)
        return -1;
    out->scopes = scopes;
    if (check_params(c, where, s) != 0)
        return -1;
    out->authorize_params = json_object_get(s, "authorize_params");
    return 0;
}

/* The inject object, or the scheme type's default; placeholders must be credential names. */
static int
parse_inject(struct ctx *c, const char *where, const json_t *s, struct catalog_scheme *out,
             const struct names *ns)
{
    static const char *const keys[] = {"in", "name", "format", NULL};
    const json_t *inj = json_object_get(s, "inject");
    char w[160];
    where_fmt(w, sizeof w, "%s.inject", where);
    if (out->type == CATALOG_NO_AUTH) {
        if (inj != NULL)
            return fail(c, "%s: a NO_AUTH scheme injects nothing", w);
        return 0;
    }
    if (inj == NULL) {
        out->inject_in = "header";
        out->inject_name = "Authorization";
        if (out->type == CATALOG_OAUTH2)
            out->inject_format = "Bearer {access_token}";
        else if (out->type == CATALOG_BEARER_TOKEN)
            out->inject_format = "Bearer {token}";
        else if (out->type == CATALOG_BASIC)
            out->inject_format = "Basic {basic}";
        else
            return fail(c, "%s: missing \"inject\"", where);
    } else {
        if (!json_is_object(inj))
            return fail(c, "%s: must be an object", w);
        if (check_keys(c, w, inj, keys) != 0 ||
            get_str(c, w, inj, "in", 1, 1, 16, &out->inject_in) != 0 ||
            get_str(c, w, inj, "name", 1, 1, 64, &out->inject_name) != 0 ||
            get_str(c, w, inj, "format", 1, 1, 256, &out->inject_format) != 0)
            return -1;
        int header = strcmp(out->inject_in, "header") == 0;
        if (!header && strcmp(out->inject_in, "query") != 0)
            return fail(c, "%s: \"in\" must be \"header\" or \"query\"", w);
        if (!match_set(out->inject_name, header ? "-" : "_.-", 64))
            return fail(c, "%s: bad %s name \"%s\"", w, header ? "header" : "query parameter",
                        out->inject_name);
        if (!is_printable(out->inject_format, 1))
            return fail(c, "%s: \"format\" must be printable ASCII", w);
    }
    struct names creds = *ns;
    if (out->type == CATALOG_OAUTH2)
        names_add(&creds, "access_token");
    if (out->type == CATALOG_BASIC)
        names_add(&creds, "basic");
    size_t count = 0;
    if (check_placeholders(c, w, out->inject_format, &creds, &count) != 0)
        return -1;
    if (count == 0)
        return fail(c, "%s: \"format\" must use the credential, e.g. \"Bearer {access_token}\"", w);
    return 0;
}

static int
parse_test_request(struct ctx *c, const char *where, const json_t *s, struct catalog_scheme *out,
                   const struct names *ns)
{
    static const char *const keys[] = {"method", "url", NULL};
    const json_t *t = json_object_get(s, "test_request");
    if (t == NULL)
        return 0;
    char w[160];
    where_fmt(w, sizeof w, "%s.test_request", where);
    if (out->type == CATALOG_OAUTH2 || out->type == CATALOG_NO_AUTH)
        return fail(c, "%s: only key-based schemes have a test request", w);
    if (!json_is_object(t))
        return fail(c, "%s: must be an object", w);
    if (check_keys(c, w, t, keys) != 0 ||
        get_str(c, w, t, "method", 1, 1, 8, &out->test_method) != 0 ||
        get_str(c, w, t, "url", 1, 1, MAX_URL, &out->test_url) != 0)
        return -1;
    if (strcmp(out->test_method, "GET") != 0 && strcmp(out->test_method, "POST") != 0)
        return fail(c, "%s: \"method\" must be GET or POST", w);
    char uw[192];
    where_fmt(uw, sizeof uw, "%s.url", w);
    return check_url(c, uw, out->test_url, ns);
}

static int
parse_basic_auth(struct ctx *c, const char *where, const json_t *s, const struct names *ns)
{
    static const char *const keys[] = {"username", "password", NULL};
    const json_t *b = json_object_get(s, "basic_auth");
    char w[160];
    where_fmt(w, sizeof w, "%s.basic_auth", where);
    if (b == NULL) {
        if (!names_has(ns, "username") || !names_has(ns, "password"))
            return fail(c, "%s: a BASIC scheme declares \"username\" and \"password\" fields, "
                           "or a \"basic_auth\" object", where);
        return 0;
    }
    if (!json_is_object(b))
        return fail(c, "%s: must be an object", w);
    const char *u, *p;
    if (check_keys(c, w, b, keys) != 0 || get_str(c, w, b, "username", 1, 1, 256, &u) != 0 ||
        get_str(c, w, b, "password", 1, 0, 256, &p) != 0)
        return -1;
    if (!is_printable(u, 0) || !is_printable(p, 0) || strchr(u, ':') != NULL)
        return fail(c, "%s: username and password must be printable, without ':' in the "
                       "username", w);
    if (check_placeholders(c, w, u, ns, NULL) != 0 || check_placeholders(c, w, p, ns, NULL) != 0)
        return -1;
    return 0;
}

static int
scheme_type(const char *name, enum catalog_auth *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type_names[i], name) == 0) {
            *out = (enum catalog_auth)i;
            return 0;
        }
    return -1;
}

static int
parse_scheme(struct ctx *c, const char *where, json_t *s, struct catalog_scheme *out)
{
    if (!json_is_object(s))
        return fail(c, "%s: must be an object", where);
    if (check_keys(c, where, s, scheme_keys) != 0 ||
        get_str(c, where, s, "type", 1, 1, 32, &out->type_name) != 0)
        return -1;
    if (scheme_type(out->type_name, &out->type) != 0)
        return fail(c, "%s: unknown type \"%s\" (OAUTH2, API_KEY, BEARER_TOKEN, BASIC, NO_AUTH)",
                    where, out->type_name);
    out->type_name = type_names[out->type];
    if (out->type != CATALOG_OAUTH2)
        for (size_t i = 0; oauth_only_keys[i] != NULL; i++)
            if (json_object_get(s, oauth_only_keys[i]) != NULL)
                return fail(c, "%s: \"%s\" is for OAUTH2 schemes only", where,
                            oauth_only_keys[i]);
    if (out->type == CATALOG_NO_AUTH && json_object_get(s, "fields") != NULL)
        return fail(c, "%s: a NO_AUTH scheme has no fields", where);
    if (out->type != CATALOG_BASIC && json_object_get(s, "basic_auth") != NULL)
        return fail(c, "%s: \"basic_auth\" is for BASIC schemes only", where);
    struct names ns = {.n = 0};
    ns.list[0] = NULL;
    if (parse_fields(c, where, s, out, &ns) != 0)
        return -1;
    if (out->type == CATALOG_OAUTH2 && parse_oauth(c, where, s, out, &ns) != 0)
        return -1;
    if (out->type == CATALOG_API_KEY && out->nfields == 0)
        return fail(c, "%s: an API_KEY scheme declares its key in \"fields\"", where);
    if (out->type == CATALOG_BASIC && parse_basic_auth(c, where, s, &ns) != 0)
        return -1;
    if (parse_inject(c, where, s, out, &ns) != 0 || parse_test_request(c, where, s, out, &ns) != 0)
        return -1;
    if (out->authorize_params == NULL)
        out->authorize_params = empty_object;
    return 0;
}

/* ---- tools ---------------------------------------------------------------------------------- */

static int
check_schema(struct ctx *c, const char *where, json_t *schema, int input)
{
    if (!json_is_object(schema))
        return fail(c, "%s: must be a JSON Schema object", where);
    const json_t *type = json_object_get(schema, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "object") != 0)
        return fail(c, "%s: \"type\" must be \"object\"", where);
    json_t *props = json_object_get(schema, "properties");
    if (!json_is_object(props))
        return fail(c, "%s: \"properties\" must be an object", where);
    const char *key;
    json_t *v;
    json_object_foreach(props, key, v) {
        if (!json_is_object(v))
            return fail(c, "%s: properties.%s must be a schema object", where, key);
        const json_t *t = json_object_get(v, "type");
        if (t != NULL && !json_is_string(t) && !json_is_array(t))
            return fail(c, "%s: properties.%s.type must be a string or an array", where, key);
    }
    json_t *req = json_object_get(schema, "required");
    if (req == NULL) {
        if (input)
            json_object_set_new(schema, "required", json_array());
        return 0;
    }
    if (!json_is_array(req))
        return fail(c, "%s: \"required\" must be an array of strings", where);
    for (size_t i = 0; i < json_array_size(req); i++) {
        const json_t *r = json_array_get(req, i);
        if (!json_is_string(r))
            return fail(c, "%s: \"required\" must be an array of strings", where);
        if (json_object_get(props, json_string_value(r)) == NULL)
            return fail(c, "%s: required \"%s\" is not a property", where, json_string_value(r));
    }
    return 0;
}

static int
in_string_array(const json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_is_string(json_array_get(a, i)) &&
            strcmp(json_string_value(json_array_get(a, i)), s) == 0)
            return 1;
    return 0;
}

struct path_check {
    const json_t *props;
    const json_t *required;
    const json_t *query;
    char bad[49];
    int why; /* 1 not a property, 2 not required, 3 also in query */
};

static int
path_check_cb(void *arg, const char *name, size_t pos)
{
    struct path_check *pc = arg;
    snprintf(pc->bad, sizeof pc->bad, "%s", name);
    if (json_object_get(pc->props, name) == NULL)
        pc->why = 1;
    else if (!in_string_array(pc->required, name))
        pc->why = 2;
    else if (in_string_array(pc->query, name))
        pc->why = 3;
    return pc->why;
}

static int
check_tool_http(struct ctx *c, const char *where, json_t *tool)
{
    static const char *const keys[] = {"method", "path", "query", "body", NULL};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    json_t *h = json_object_get(tool, "http");
    char w[160];
    where_fmt(w, sizeof w, "%s.http", where);
    if (!json_is_object(h))
        return fail(c, "%s: missing or not an object", w);
    const char *method, *path, *body;
    if (check_keys(c, w, h, keys) != 0 || get_str(c, w, h, "method", 1, 1, 8, &method) != 0 ||
        get_str(c, w, h, "path", 1, 1, 512, &path) != 0 ||
        get_str(c, w, h, "body", 0, 1, 8, &body) != 0)
        return -1;
    size_t m = 0;
    while (methods[m] != NULL && strcmp(methods[m], method) != 0)
        m++;
    if (methods[m] == NULL)
        return fail(c, "%s: \"method\" must be GET, POST, PUT, PATCH or DELETE", w);
    if (path[0] != '/' || !is_printable(path, 0) || strpbrk(path, "?#\\") != NULL ||
        strstr(path, "..") != NULL)
        return fail(c, "%s: \"path\" must start with '/' and hold no query, fragment or '..'", w);
    if (body != NULL && strcmp(body, "json") != 0 && strcmp(body, "none") != 0)
        return fail(c, "%s: \"body\" must be \"json\" or \"none\"", w);
    if (body == NULL)
        json_object_set_new(h, "body", json_string(m == 0 || m == 4 ? "none" : "json"));
    json_t *input = json_object_get(tool, "input_parameters");
    const json_t *props = json_object_get(input, "properties");
    json_t *query = json_object_get(h, "query");
    if (query == NULL) {
        query = json_array();
        json_object_set_new(h, "query", query);
    }
    if (!json_is_array(query))
        return fail(c, "%s: \"query\" must be an array of argument names", w);
    for (size_t i = 0; i < json_array_size(query); i++) {
        const json_t *q = json_array_get(query, i);
        if (!json_is_string(q) || json_object_get(props, json_string_value(q)) == NULL)
            return fail(c, "%s: query[%zu] is not an input property", w, i);
    }
    struct path_check pc = {.props = props,
                            .required = json_object_get(input, "required"),
                            .query = query};
    int rc = walk_placeholders(path, path_check_cb, &pc);
    if (rc == -2)
        return fail(c, "%s: malformed placeholder in \"path\"", w);
    if (rc == 1)
        return fail(c, "%s: path placeholder {%s} is not an input property", w, pc.bad);
    if (rc == 2)
        return fail(c, "%s: path placeholder {%s} must be required", w, pc.bad);
    if (rc == 3)
        return fail(c, "%s: {%s} is both in the path and in the query", w, pc.bad);
    return 0;
}

static int
check_tool(struct ctx *c, const char *where, json_t *tool, const char *prefix)
{
    static const char *const keys[] = {"slug", "name", "description", "input_parameters",
                                       "output_parameters", "http", "tags", NULL};
    if (!json_is_object(tool))
        return fail(c, "%s: must be an object", where);
    const char *slug, *name, *desc;
    const char **tags;
    if (check_keys(c, where, tool, keys) != 0 ||
        get_str(c, where, tool, "slug", 1, 1, 64, &slug) != 0 ||
        get_str(c, where, tool, "name", 1, 1, 200, &name) != 0 ||
        get_str(c, where, tool, "description", 1, 0, 4000, &desc) != 0)
        return -1;
    if (!match_set(slug, "_", 64) || strpbrk(slug, "abcdefghijklmnopqrstuvwxyz") != NULL ||
        strncmp(slug, prefix, strlen(prefix)) != 0 || strlen(slug) == strlen(prefix))
        return fail(c, "%s: tool slug \"%s\" must match [A-Z0-9_]{1,64} and start with \"%s\"",
                    where, slug, prefix);
    if (get_str_list(c, where, tool, "tags", 0, 32, ok_category, &tags) != 0)
        return -1;
    free(tags);
    char w[160];
    where_fmt(w, sizeof w, "%s.input_parameters", where);
    if (check_schema(c, w, json_object_get(tool, "input_parameters"), 1) != 0)
        return -1;
    json_t *outp = json_object_get(tool, "output_parameters");
    if (outp == NULL) {
        outp = json_pack("{s:s, s:{}}", "type", "object", "properties");
        json_object_set_new(tool, "output_parameters", outp);
    }
    where_fmt(w, sizeof w, "%s.output_parameters", where);
    if (check_schema(c, w, outp, 0) != 0)
        return -1;
    return check_tool_http(c, where, tool);
}

static int
check_tools(struct ctx *c, json_t *root, const char *slug)
{
    json_t *tl = json_object_get(root, "tools");
    if (tl == NULL) {
        json_object_set_new(root, "tools", json_array());
        return 0;
    }
    if (!json_is_array(tl) || json_array_size(tl) > MAX_TOOLS)
        return fail(c, "\"tools\" must be an array of at most %d tools", MAX_TOOLS);
    char prefix[64];
    size_t n = 0;
    for (; slug[n] != '\0' && n + 2 < sizeof prefix; n++)
        prefix[n] = (char)toupper((unsigned char)slug[n]);
    prefix[n++] = '_';
    prefix[n] = '\0';
    for (size_t i = 0; i < json_array_size(tl); i++) {
        char w[160];
        where_fmt(w, sizeof w, "tools[%zu]", i);
        if (check_tool(c, w, json_array_get(tl, i), prefix) != 0)
            return -1;
        const char *ts = json_string_value(json_object_get(json_array_get(tl, i), "slug"));
        for (size_t j = 0; j < i; j++)
            if (strcmp(ts, json_string_value(json_object_get(json_array_get(tl, j), "slug"))) ==
                0)
                return fail(c, "%s: duplicate tool slug \"%s\"", w, ts);
    }
    return 0;
}

/* ---- toolkits ------------------------------------------------------------------------------- */

static const char *const toolkit_keys[] = {"slug",    "name",         "description",
                                           "logo",    "categories",   "base_url",
                                           "headers", "auth_schemes", "tools",
                                           NULL};

static int
logo_exists(const char *name)
{
    for (size_t i = 0; i < nlogos; i++)
        if (strcmp(logos[i].name, name) == 0)
            return 1;
    char path[96];
    snprintf(path, sizeof path, LOGO_PREFIX "%s", name);
    return embedded_find(path) != NULL;
}

static int
check_headers(struct ctx *c, json_t *root)
{
    static const char *const banned[] = {"authorization", "host", "content-length",
                                         "transfer-encoding", "connection", "cookie", NULL};
    json_t *h = json_object_get(root, "headers");
    if (h == NULL) {
        json_object_set_new(root, "headers", json_object());
        return 0;
    }
    if (!json_is_object(h) || json_object_size(h) > MAX_HEADERS)
        return fail(c, "\"headers\" must be an object of at most %d strings", MAX_HEADERS);
    const char *key;
    json_t *v;
    json_object_foreach(h, key, v) {
        if (!match_set(key, "-", 64))
            return fail(c, "headers: bad header name \"%s\"", key);
        for (size_t i = 0; banned[i] != NULL; i++)
            if (strcasecmp(banned[i], key) == 0)
                return fail(c, "headers: \"%s\" cannot be a fixed header", key);
        if (!json_is_string(v) || json_string_length(v) > 512 ||
            !is_printable(json_string_value(v), 1))
            return fail(c, "headers.%s must be a printable string", key);
    }
    return 0;
}

static void
entry_free(struct entry *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; e->schemes != NULL && i < e->t.nschemes; i++) {
        free((void *)e->schemes[i].scopes);
        free((void *)e->schemes[i].fields);
    }
    free(e->schemes);
    free(e->categories);
    json_decref(e->root);
    free(e);
}

static int
parse_schemes(struct ctx *c, struct entry *e)
{
    json_t *a = json_object_get(e->root, "auth_schemes");
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > MAX_SCHEMES)
        return fail(c, "\"auth_schemes\" must be an array of 1 to %d schemes", MAX_SCHEMES);
    size_t n = json_array_size(a);
    e->schemes = calloc(n, sizeof *e->schemes);
    if (e->schemes == NULL)
        return fail(c, "out of memory");
    e->t.schemes = e->schemes;
    for (size_t i = 0; i < n; i++) {
        char w[160];
        where_fmt(w, sizeof w, "auth_schemes[%zu]", i);
        e->t.nschemes = i + 1;
        if (parse_scheme(c, w, json_array_get(a, i), &e->schemes[i]) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (e->schemes[j].type == e->schemes[i].type)
                return fail(c, "%s: a second %s scheme", w, e->schemes[i].type_name);
    }
    e->t.no_auth = n == 1 && e->schemes[0].type == CATALOG_NO_AUTH;
    return 0;
}

/* base_url placeholders must be fields of every scheme, since any scheme may be in use. */
static int
check_base_url(struct ctx *c, struct entry *e)
{
    for (size_t i = 0; i < e->t.nschemes; i++) {
        struct names ns = {.n = 0};
        ns.list[0] = NULL;
        for (size_t f = 0; f < e->schemes[i].nfields; f++)
            names_add(&ns, e->schemes[i].fields[f].name);
        char w[160];
        where_fmt(w, sizeof w, "base_url (with auth_schemes[%zu])", i);
        if (check_url(c, w, e->t.base_url, &ns) != 0)
            return -1;
    }
    return 0;
}

static int
parse_toolkit(struct ctx *c, struct entry *e, const char *stem)
{
    json_t *r = e->root;
    struct catalog_toolkit *t = &e->t;
    if (check_keys(c, "toolkit", r, toolkit_keys) != 0 ||
        get_str(c, "toolkit", r, "slug", 1, 1, 48, &t->slug) != 0)
        return -1;
    if (!match_ident(t->slug, 48))
        return fail(c, "slug \"%s\" must match [a-z0-9_]{1,48}", t->slug);
    if (strcmp(t->slug, stem) != 0)
        return fail(c, "slug \"%s\" must equal the file name \"%s\"", t->slug, stem);
    if (get_str(c, "toolkit", r, "name", 1, 1, 100, &t->name) != 0 ||
        get_str(c, "toolkit", r, "description", 1, 0, 1000, &t->description) != 0 ||
        get_str(c, "toolkit", r, "logo", 0, 1, 80, &t->logo) != 0 ||
        get_str(c, "toolkit", r, "base_url", 1, 1, MAX_URL, &t->base_url) != 0)
        return -1;
    if (t->logo == NULL)
        t->logo = "";
    else if (!valid_logo_name(t->logo))
        return fail(c, "logo \"%s\" must match [a-z0-9_-]{1,64}.(svg|png)", t->logo);
    else if (!logo_exists(t->logo))
        return fail(c, "logo \"%s\" is neither in the catalogue directory nor built in",
                    t->logo);
    if (get_str_list(c, "toolkit", r, "categories", 0, MAX_CATEGORIES, ok_category,
                     &e->categories) != 0)
        return -1;
    t->categories = e->categories;
    if (check_headers(c, r) != 0 || parse_schemes(c, e) != 0 || check_base_url(c, e) != 0 ||
        check_tools(c, r, t->slug) != 0)
        return -1;
    t->tools = json_object_get(r, "tools");
    t->raw = r;
    return 0;
}

/* Parses and validates one file; *out owns the JSON. */
static int
load_entry(struct ctx *c, const char *data, size_t len, const char *stem, struct entry **out)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return fail(c, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(c, "the file must hold one JSON object");
    }
    struct entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        json_decref(root);
        return fail(c, "out of memory");
    }
    e->root = root;
    if (parse_toolkit(c, e, stem) != 0) {
        entry_free(e);
        return -1;
    }
    *out = e;
    return 0;
}

/* Adds e, replacing an entry with the same slug. */
static int
add_entry(struct ctx *c, struct entry *e)
{
    for (size_t i = 0; i < nentries; i++)
        if (strcmp(entries[i]->t.slug, e->t.slug) == 0) {
            entry_free(entries[i]);
            entries[i] = e;
            return 0;
        }
    if (nentries >= MAX_ENTRIES) {
        entry_free(e);
        return fail(c, "more than %d toolkits", MAX_ENTRIES);
    }
    if (nentries % 64 == 0) {
        struct entry **grown = realloc(entries, (nentries + 64) * sizeof *grown);
        if (grown == NULL) {
            entry_free(e);
            return fail(c, "out of memory");
        }
        entries = grown;
    }
    entries[nentries++] = e;
    return 0;
}

/* ---- loading -------------------------------------------------------------------------------- */

static int
load_embedded(char *err, size_t errlen)
{
    size_t plen = strlen(EMBED_PREFIX);
    for (const struct embedded_file *f = embedded_files; f->name != NULL; f++) {
        if (strncmp(f->name, EMBED_PREFIX, plen) != 0 || !ends_with(f->name, ".json") ||
            strchr(f->name + plen, '/') != NULL)
            continue;
        char stem[64];
        size_t n = strlen(f->name) - plen - 5;
        snprintf(stem, sizeof stem, "%.*s", (int)n, f->name + plen);
        struct ctx c = {f->name, err, errlen};
        struct entry *e;
        if (load_entry(&c, f->data, f->len, stem, &e) != 0 || add_entry(&c, e) != 0)
            return -1;
    }
    return 0;
}

/* Reads a regular file of at most max bytes into a NUL-terminated malloc'd buffer. */
static int
read_file(struct ctx *c, const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(c, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (size_t)st.st_size > max) {
        close(fd);
        return fail(c, "not a regular file of at most %zu bytes", max);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return fail(c, "out of memory");
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(buf);
        return fail(c, "short read");
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The sorted names of the directory's non-hidden entries. */
static int
list_dir(struct ctx *c, const char *dir, char ***out, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return fail(c, "cannot open the catalogue directory: %s", strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n >= MAX_DIR_FILES) {
            closedir(d);
            free_names(names, n);
            return fail(c, "more than %d files", MAX_DIR_FILES);
        }
        char **grown = realloc(names, (n + 1) * sizeof *names);
        char *copy = strdup(de->d_name);
        if (grown == NULL || copy == NULL) {
            free(copy);
            closedir(d);
            free_names(grown ? grown : names, n);
            return fail(c, "out of memory");
        }
        names = grown;
        names[n++] = copy;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *count = n;
    return 0;
}

static int
load_dir_file(const char *dir, const char *name, int logo_pass, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        struct ctx c0 = {name, err, errlen};
        return fail(&c0, "path too long");
    }
    struct ctx c = {path, err, errlen};
    int is_json = ends_with(name, ".json");
    if (logo_pass ? !valid_logo_name(name) : !is_json)
        return 0;
    char *data;
    size_t len;
    if (logo_pass) {
        if (read_file(&c, path, MAX_LOGO_BYTES, &data, &len) != 0)
            return -1;
        struct logo *grown = realloc(logos, (nlogos + 1) * sizeof *logos);
        char *copy = strdup(name);
        if (grown == NULL || copy == NULL) {
            free(copy);
            free(data);
            if (grown != NULL)
                logos = grown;
            return fail(&c, "out of memory");
        }
        logos = grown;
        logos[nlogos++] = (struct logo){copy, data, len};
        return 0;
    }
    char stem[64];
    size_t n = strlen(name) - 5;
    if (n == 0 || n > 48)
        return fail(&c, "the file name must be <slug>.json with a slug of 1 to 48 characters");
    snprintf(stem, sizeof stem, "%.*s", (int)n, name);
    if (read_file(&c, path, MAX_FILE_BYTES, &data, &len) != 0)
        return -1;
    struct entry *e;
    int rc = load_entry(&c, data, len, stem, &e);
    free(data);
    if (rc != 0)
        return -1;
    return add_entry(&c, e);
}

static int
cmp_entry(const void *a, const void *b)
{
    return strcmp((*(struct entry *const *)a)->t.slug, (*(struct entry *const *)b)->t.slug);
}

static int
cmp_tool(const void *a, const void *b)
{
    return strcmp(((const struct tool_ref *)a)->slug, ((const struct tool_ref *)b)->slug);
}

/* The global tool index; a tool slug must be unique across toolkits. */
static int
index_tools(char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < nentries; i++)
        total += json_array_size(entries[i]->t.tools);
    struct ctx c = {"catalogue", err, errlen};
    tools = calloc(total ? total : 1, sizeof *tools);
    if (tools == NULL)
        return fail(&c, "out of memory");
    for (size_t i = 0; i < nentries; i++)
        for (size_t j = 0; j < json_array_size(entries[i]->t.tools); j++) {
            const json_t *tool = json_array_get(entries[i]->t.tools, j);
            tools[ntools++] = (struct tool_ref){
                json_string_value(json_object_get(tool, "slug")), tool, &entries[i]->t};
        }
    if (ntools > 0)
        qsort(tools, ntools, sizeof *tools, cmp_tool);
    for (size_t i = 1; i < ntools; i++)
        if (strcmp(tools[i - 1].slug, tools[i].slug) == 0)
            return fail(&c, "tool %s is defined by both %s and %s", tools[i].slug,
                        tools[i - 1].toolkit->slug, tools[i].toolkit->slug);
    return 0;
}

/* Order: the directory's logos (toolkit files may name them), the embedded toolkits, then the
 * directory's toolkits, which replace embedded ones with the same slug. */
int
catalog_load(const char *extra_dir, char *err, size_t errlen)
{
    catalog_free();
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    empty_object = json_object();
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (extra_dir != NULL) {
        struct ctx c = {extra_dir, err, errlen};
        rc = list_dir(&c, extra_dir, &names, &n);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = load_dir_file(extra_dir, names[i], 1, err, errlen);
    if (rc == 0)
        rc = load_embedded(err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = load_dir_file(extra_dir, names[i], 0, err, errlen);
    free_names(names, n);
    if (rc == 0 && nentries > 0)
        qsort(entries, nentries, sizeof *entries, cmp_entry);
    if (rc == 0)
        rc = index_tools(err, errlen);
    if (rc != 0)
        catalog_free();
    return rc;
}

void
catalog_free(void)
{
    for (size_t i = 0; i < nentries; i++)
        entry_free(entries[i]);
    free(entries);
    entries = NULL;
    nentries = 0;
    for (size_t i = 0; i < nlogos; i++) {
        free(logos[i].name);
        free(logos[i].data);
    }
    free(logos);
    logos = NULL;
    nlogos = 0;
    free(tools);
    tools = NULL;
    ntools = 0;
    json_decref(empty_object);
    empty_object = NULL;
}

/* ---- lookups -------------------------------------------------------------------------------- */

size_t
catalog_count(void)
{
    return nentries;
}

const struct catalog_toolkit *
catalog_at(size_t i)
{
    return i < nentries ? &entries[i]->t : NULL;
}

const struct catalog_toolkit *
catalog_get(const char *slug)
{
    if (slug == NULL)
        return NULL;
    size_t lo = 0, hi = nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(slug, entries[mid]->t.slug);
        if (c == 0)
            return &entries[mid]->t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct catalog_scheme *
catalog_scheme(const struct catalog_toolkit *t, const char *type_name)
{
    if (t == NULL || t->nschemes == 0)
        return NULL;
    if (type_name == NULL)
        return &t->schemes[0];
    for (size_t i = 0; i < t->nschemes; i++)
        if (strcmp(t->schemes[i].type_name, type_name) == 0)
            return &t->schemes[i];
    return NULL;
}

const json_t *
catalog_headers(const struct catalog_toolkit *t)
{
    return t ? json_object_get(t->raw, "headers") : NULL;
}

const char *
catalog_field_source(const struct catalog_scheme *s, size_t i)
{
    for (size_t e = 0; e < nentries; e++) {
        const struct entry *en = entries[e];
        if (s < en->schemes || s >= en->schemes + en->t.nschemes)
            continue;
        const json_t *sj = json_array_get(json_object_get(en->root, "auth_schemes"),
                                          (size_t)(s - en->schemes));
        const json_t *f = json_array_get(json_object_get(sj, "fields"), i);
        const json_t *src = json_object_get(f, "source");
        return json_is_string(src) ? json_string_value(src) : "user";
    }
    return "user";
}

const json_t *
catalog_tool(const char *slug, const struct catalog_toolkit **toolkit)
{
    if (slug == NULL)
        return NULL;
    struct tool_ref key = {.slug = slug};
    const struct tool_ref *r =
        ntools ? bsearch(&key, tools, ntools, sizeof *tools, cmp_tool) : NULL;
    if (r == NULL)
        return NULL;
    if (toolkit != NULL)
        *toolkit = r->toolkit;
    return r->tool;
}

/* ---- expansion ------------------------------------------------------------------------------ */

/* [A-Za-z0-9._-]{1,100}, and never "." or anything with ".." (no path climbing). */
static int
ok_plain_value(const char *v)
{
    return match_set(v, "._-", MAX_VALUE) && strcmp(v, ".") != 0 && strstr(v, "..") == NULL;
}

/* "https://host[:port]" with a DNS-style host (http only for loopback hosts); one trailing '/'
 * is tolerated and dropped. Returns the length to copy, or 0 when unacceptable. */
static size_t
ok_origin_value(const char *v)
{
    size_t len = strlen(v);
    if (len > 0 && v[len - 1] == '/')
        len--;
    int https = strncmp(v, "https://", 8) == 0;
    if (!https && strncmp(v, "http://", 7) != 0)
        return 0;
    const char *h = v + (https ? 8 : 7);
    size_t n = len - (size_t)(h - v);
    if (n == 0 || n > 253)
        return 0;
    const char *colon = memchr(h, ':', n);
    size_t hostlen = colon ? (size_t)(colon - h) : n;
    if (colon != NULL && !check_port(colon + 1, n - hostlen - 1))
        return 0;
    if (hostlen == 0 || h[0] == '.' || h[0] == '-' || h[hostlen - 1] == '.')
        return 0;
    for (size_t i = 0; i < hostlen; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!((isalnum(ch) && ch < 0x80) || ch == '.' || ch == '-'))
            return 0;
        if (ch == '.' && h[i + 1] == '.')
            return 0;
    }
    if (!https && !is_loopback_host(h, hostlen))
        return 0;
    return len;
}

/* Value of a credential placeholder: printable ASCII, no CR/LF, at most MAX_CREDENTIAL bytes. */
static size_t
ok_credential_value(const char *v)
{
    size_t n = strlen(v);
    return n > 0 && n <= MAX_CREDENTIAL && is_printable(v, 1) ? n : 0;
}

enum expand_mode { EXPAND_URL, EXPAND_CREDENTIAL };

struct expander {
    const json_t *vals;
    enum expand_mode mode;
    const char *tmpl;
    char *out;
    size_t len;
    size_t cap;
    size_t copied; /* template bytes consumed so far */
};

static int
out_append(struct expander *x, const char *p, size_t n)
{
    if (x->len + n >= x->cap)
        return 1;
    memcpy(x->out + x->len, p, n);
    x->len += n;
    x->out[x->len] = '\0';
    return 0;
}

static int
expand_cb(void *arg, const char *name, size_t pos)
{
    struct expander *x = arg;
    const json_t *v = json_object_get(x->vals, name);
    if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)))
        return 1;
    const char *s = json_string_value(v);
    size_t n;
    if (x->mode == EXPAND_CREDENTIAL)
        n = ok_credential_value(s);
    else if (pos == 0 && ends_with(name, "_url"))
        n = ok_origin_value(s);
    else
        n = ok_plain_value(s) ? strlen(s) : 0;
    if (n == 0)
        return 1;
    if (out_append(x, x->tmpl + x->copied, pos - x->copied) != 0 || out_append(x, s, n) != 0)
        return 1;
    x->copied = pos + strlen(name) + 2;
    return 0;
}

static char *
expand(const char *tmpl, const json_t *vals, enum expand_mode mode)
{
    if (tmpl == NULL)
        return NULL;
    struct expander x = {.vals = vals, .mode = mode, .tmpl = tmpl, .cap = MAX_EXPANDED + 1};
    x.out = malloc(x.cap);
    if (x.out == NULL)
        return NULL;
    x.out[0] = '\0';
    if (walk_placeholders(tmpl, expand_cb, &x) != 0 ||
        out_append(&x, tmpl + x.copied, strlen(tmpl + x.copied)) != 0) {
        explicit_bzero(x.out, x.cap);
        free(x.out);
        return NULL;
    }
    return x.out;
}

char *
catalog_expand(const char *tmpl, const json_t *fields)
{
    return expand(tmpl, fields, EXPAND_URL);
}

/* base64(username ":" password) from the scheme's basic_auth templates. */
static char *
basic_value(const struct catalog_scheme *s, const json_t *creds)
{
    const json_t *b = NULL;
    for (size_t e = 0; e < nentries && b == NULL; e++) {
        const struct entry *en = entries[e];
        if (s >= en->schemes && s < en->schemes + en->t.nschemes)
            b = json_object_get(json_array_get(json_object_get(en->root, "auth_schemes"),
                                               (size_t)(s - en->schemes)),
                                "basic_auth");
    }
    const char *ut = b ? json_string_value(json_object_get(b, "username")) : "{username}";
    const char *pt = b ? json_string_value(json_object_get(b, "password")) : "{password}";
    char *u = expand(ut, creds, EXPAND_CREDENTIAL);
    char *p = *pt ? expand(pt, creds, EXPAND_CREDENTIAL) : strdup("");
    char *out = NULL;
    if (u != NULL && p != NULL && strchr(u, ':') == NULL) {
        size_t ul = strlen(u), pl = strlen(p);
        char *pair = malloc(ul + pl + 2);
        size_t b64len = sodium_base64_ENCODED_LEN(ul + pl + 1, sodium_base64_VARIANT_ORIGINAL);
        out = malloc(b64len);
        if (pair != NULL && out != NULL) {
            memcpy(pair, u, ul);
            pair[ul] = ':';
            memcpy(pair + ul + 1, p, pl);
            sodium_bin2base64(out, b64len, (const unsigned char *)pair, ul + pl + 1,
                              sodium_base64_VARIANT_ORIGINAL);
            explicit_bzero(pair, ul + pl + 1);
        } else {
            free(out);
            out = NULL;
        }
        free(pair);
    }
    if (u != NULL)
        explicit_bzero(u, strlen(u));
    if (p != NULL)
        explicit_bzero(p, strlen(p));
    free(u);
    free(p);
    return out;
}

char *
catalog_credential(const struct catalog_scheme *s, const json_t *creds)
{
    if (s == NULL || s->inject_format == NULL || !json_is_object(creds))
        return NULL;
    json_t *vals = json_object();
    if (vals == NULL || json_object_update(vals, (json_t *)creds) != 0) {
        json_decref(vals);
        return NULL;
    }
    if (s->type == CATALOG_BASIC) {
        char *b = basic_value(s, creds);
        if (b == NULL) {
            json_decref(vals);
            return NULL;
        }
        json_object_set_new(vals, "basic", json_string(b));
        explicit_bzero(b, strlen(b));
        free(b);
    }
    char *out = expand(s->inject_format, vals, EXPAND_CREDENTIAL);
    const json_t *basic = json_object_get(vals, "basic");
    if (s->type == CATALOG_BASIC && json_is_string(basic))
        explicit_bzero((char *)json_string_value(basic), json_string_length(basic));
    json_decref(vals);
    return out;
}

/* ---- logos ---------------------------------------------------------------------------------- */

int
catalog_logo(const char *file, const char **data, size_t *len, const char **content_type)
{
    if (file == NULL || !valid_logo_name(file))
        return -1;
    const char *type = ends_with(file, ".svg") ? "image/svg+xml" : "image/png";
    for (size_t i = 0; i < nlogos; i++)
        if (strcmp(logos[i].name, file) == 0) {
            *data = logos[i].data;
            *len = logos[i].len;
            *content_type = type;
            return 0;
        }
    char path[96];
    snprintf(path, sizeof path, LOGO_PREFIX "%s", file);
    const struct embedded_file *f = embedded_find(path);
    if (f == NULL)
        return -1;
    *data = f->data;
    *len = f->len;
    *content_type = type;
    return 0;
}
