/* url.c -- percent-coding, form parsing, URL splitting and callback URL merging for url.h.
 * Everything here treats its input as untrusted: lengths are capped, escapes are checked, and a
 * failure leaves the caller's output untouched. Allocation failure inside a function that promises
 * a string aborts; elsewhere it is reported like bad input. */
#include "common/url.h"
#include "common/buf.h"
#include "common/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_CALLBACK_MAX 2048
#define URL_MERGE_MAX (1024 * 1024)

/* ---- percent-coding ---- */

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *
xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
url_decode(const char *s, size_t len, int plus_is_space)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = len - i >= 3 ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
            if (lo < 0)
                goto fail;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            goto fail;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

static int
unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* A NULL s encodes as "". */
char *
url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL)
        s = "";
    size_t len = strlen(s);
    if (len > (SIZE_MAX - 1) / 3)
        abort();
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        abort();
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return out;
}

/* ---- form / query parsing ---- */

void
kv_list_free(struct kv_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].val);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

const char *
kv_get(const struct kv_list *l, const char *key)
{
    if (l == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].val;
    return NULL;
}

/* Decodes one form component; NULL on a bad escape, NUL, or invalid UTF-8. */
static char *
form_component(const char *s, size_t len)
{
    char *v = url_decode(s, len, 1);
    if (v != NULL && !utf8_valid(v, strlen(v))) {
        free(v);
        return NULL;
    }
    return v;
}

/* Decodes the segment s[0..len) ("k=v" or "k") into item. 0 or -1. */
static int
form_pair(const char *s, size_t len, struct kv *item)
{
    const char *eq = memchr(s, '=', len);
    size_t klen = eq ? (size_t)(eq - s) : len;
    item->key = form_component(s, klen);
    item->val = eq ? form_component(eq + 1, len - klen - 1) : xstrndup("", 0);
    if (item->key == NULL || item->val == NULL) {
        free(item->key);
        free(item->val);
        return -1;
    }
    return 0;
}

int
form_parse(const char *s, size_t len, struct kv_list *out)
{
    struct kv_list l = {NULL, 0};
    if (s == NULL)
        len = 0;
    l.items = calloc(URL_MAX_PAIRS, sizeof(*l.items));
    if (l.items == NULL)
        return -1;
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t seg = amp ? (size_t)(amp - (s + i)) : len - i;
        if (seg > 0) {
            if (l.n == URL_MAX_PAIRS || form_pair(s + i, seg, &l.items[l.n]) != 0) {
                kv_list_free(&l);
                return -1;
            }
            l.n++;
        }
        i += seg + 1;
    }
    *out = l;
    return 0;
}

/* ---- URL splitting ---- */

/* Bytes never allowed anywhere in a URL we accept: controls, space, non-ASCII, and the characters
 * browsers treat specially or that must never reach a header or an attribute unencoded. */
static int
bad_url_byte(unsigned char c)
{
    return c <= ' ' || c >= 0x7f || c == '\\' || c == '"' || c == '<' || c == '>' || c == '`';
}

static int
host_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static int
ipv6_byte(unsigned char c)
{
    return hexval(c) >= 0 || c == ':' || c == '.';
}

static char *
lower_dup(const char *s, size_t n)
{
    char *p = xstrndup(s, n);
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] - 'A' + 'a');
    return p;
}

/* Parses the scheme before "://"; returns the length consumed ("https://" -> 8) or -1. */
static int
parse_scheme(const char *u, char **scheme)
{
    if (strncasecmp(u, "https://", 8) == 0) {
        *scheme = lower_dup(u, 5);
        return 8;
    }
    if (strncasecmp(u, "http://", 7) == 0) {
        *scheme = lower_dup(u, 4);
        return 7;
    }
    return -1;
}

/* Parses ":digits" (1..65535) from s[0..n); 0 when n is 0 (no port). -1 when bad. */
static int
parse_port(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] != ':' || n < 2 || n > 6)
        return -1;
    int port = 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

/* Splits the authority a[0..n) (userinfo already removed) into host and port. 0 or -1. */
static int
parse_hostport(const char *a, size_t n, struct url_parts *p)
{
    size_t hlen;
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return -1;
        hlen = (size_t)(close - a) + 1;
        if (hlen < 4 || memchr(a + 1, ':', hlen - 2) == NULL)
            return -1;
        for (size_t i = 1; i < hlen - 1; i++)
            if (!ipv6_byte((unsigned char)a[i]))
                return -1;
    } else {
        const char *colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
        for (size_t i = 0; i < hlen; i++)
            if (!host_byte((unsigned char)a[i]))
                return -1;
    }
    int port = parse_port(a + hlen, n - hlen);
    if (port < 0)
        return -1;
    p->host = lower_dup(a, hlen);
    p->port = port;
    return 0;
}

/* Splits the part after the authority into path, query and fragment. */
static void
parse_rest(const char *r, struct url_parts *p)
{
    const char *hash = strchr(r, '#');
    size_t before = hash ? (size_t)(hash - r) : strlen(r);
    const char *q = memchr(r, '?', before);
    size_t plen = q ? (size_t)(q - r) : before;
    p->path = xstrndup(r, plen);
    p->query = q ? xstrndup(q + 1, before - plen - 1) : NULL;
    p->fragment = hash ? xstrndup(hash + 1, strlen(hash + 1)) : NULL;
}

void
url_parts_free(struct url_parts *p)
{
    if (p == NULL)
        return;
    free(p->scheme);
    free(p->host);
    free(p->path);
    free(p->query);
    free(p->fragment);
    memset(p, 0, sizeof(*p));
}

/* Also rejects (besides url.h's list) non-ASCII bytes and \ " < > `, which have no place in a URI
 * and which browsers handle in surprising ways. The host may be empty ("http:///x"); callers that
 * need one check it. */
int
url_parse(const char *url, struct url_parts *out)
{
    if (url == NULL)
        return -1;
    size_t len = strnlen(url, URL_MAX_LEN + 1);
    if (len > URL_MAX_LEN)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (bad_url_byte((unsigned char)url[i]))
            return -1;
    struct url_parts p = {0};
    int off = parse_scheme(url, &p.scheme);
    if (off < 0)
        return -1;
    const char *a = url + off;
    size_t alen = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (a[i] == '@')
            at = a + i;
    if (at != NULL) {
        p.has_userinfo = 1;
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    if (parse_hostport(a, alen, &p) != 0) {
        url_parts_free(&p);
        return -1;
    }
    parse_rest(a + alen, &p);
    *out = p;
    return 0;
}

/* ---- callback URLs ---- */

static int
fail_msg(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    return -1;
}

int
url_check_callback(const char *url, char *err, size_t errlen)
{
    if (url == NULL || *url == '\0')
        return fail_msg(err, errlen, "callback URL is empty");
    size_t len = strnlen(url, URL_CALLBACK_MAX + 1);
    if (len > URL_CALLBACK_MAX)
        return fail_msg(err, errlen, "callback URL is longer than 2048 bytes");
    for (size_t i = 0; i < len; i++)
        if (bad_url_byte((unsigned char)url[i]))
            return fail_msg(err, errlen,
                            "callback URL contains spaces, control characters or characters that "
                            "must be percent-encoded");
    struct url_parts p;
    if (url_parse(url, &p) != 0)
        return fail_msg(err, errlen, "callback URL must be an absolute http or https URL");
    int rc = 0;
    if (p.host[0] == '\0')
        rc = fail_msg(err, errlen, "callback URL has no host");
    else if (p.has_userinfo)
        rc = fail_msg(err, errlen, "callback URL must not contain a user name or password");
    url_parts_free(&p);
    return rc;
}

static int
default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

char *
url_origin(const char *url)
{
    struct url_parts p;
    if (url_parse(url, &p) != 0)
        return NULL;
    char *o = NULL;
    if (p.host[0] != '\0') {
        struct buf b;
        buf_init(&b, URL_MAX_LEN + 16);
        int rc = buf_printf(&b, "%s://%s", p.scheme, p.host);
        if (rc == 0 && p.port != 0 && p.port != default_port(p.scheme))
            rc = buf_printf(&b, ":%d", p.port);
        o = rc == 0 ? buf_take(&b) : NULL;
        buf_free(&b);
    }
    url_parts_free(&p);
    return o;
}

/* ---- merging parameters into a URL ---- */

/* 1 when the raw query segment seg[0..len) has a key equal to one of params' names. */
static int
replaced(const char *seg, size_t len, const struct kv *params, size_t n)
{
    const char *eq = memchr(seg, '=', len);
    char *key = url_decode(seg, eq ? (size_t)(eq - seg) : len, 1);
    if (key == NULL)
        return 0; /* not decodable: cannot be one of ours, keep it verbatim */
    int hit = 0;
    for (size_t i = 0; i < n && !hit; i++)
        hit = params[i].key != NULL && strcmp(params[i].key, key) == 0;
    free(key);
    return hit;
}

/* Appends the separator before a parameter: '?' for the first, '&' after. */
static int
put_sep(struct buf *b, int *first)
{
    int rc = buf_append(b, *first ? "?" : "&", 1);
    *first = 0;
    return rc;
}

/* Copies the app's query segments q[0..len) that params do not replace. */
static int
keep_app_params(struct buf *b, const char *q, size_t len, const struct kv *params, size_t n,
                int *first)
{
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(q + i, '&', len - i);
        size_t seg = amp ? (size_t)(amp - (q + i)) : len - i;
        if (seg > 0 && !replaced(q + i, seg, params, n))
            if (put_sep(b, first) != 0 || buf_append(b, q + i, seg) != 0)
                return -1;
        i += seg + 1;
    }
    return 0;
}

static int
add_params(struct buf *b, const struct kv *params, size_t n, int *first)
{
    for (size_t i = 0; i < n; i++) {
        if (params[i].key == NULL)
            continue;
        char *k = url_encode(params[i].key);
        char *v = url_encode(params[i].val);
        int rc = put_sep(b, first);
        if (rc == 0)
            rc = buf_printf(b, "%s=%s", k, v);
        free(k);
        free(v);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The app's URL text is kept as written (only empty query segments are dropped). NULL when url
 * does not parse as an absolute http(s) URL. Params with a NULL key are skipped; a NULL value is
 * encoded as "". */
char *
url_merge_params(const char *url, const struct kv *params, size_t n)
{
    struct url_parts p;
    if (url_parse(url, &p) != 0)
        return NULL;
    url_parts_free(&p);
    const char *hash = strchr(url, '#');
    size_t before = hash ? (size_t)(hash - url) : strlen(url);
    const char *q = memchr(url, '?', before);
    size_t base = q ? (size_t)(q - url) : before;
    struct buf b;
    buf_init(&b, URL_MERGE_MAX);
    int first = 1;
    int rc = buf_append(&b, url, base);
    if (rc == 0 && q != NULL)
        rc = keep_app_params(&b, q + 1, before - base - 1, params, n, &first);
    if (rc == 0)
        rc = add_params(&b, params, n, &first);
    if (rc == 0 && hash != NULL)
        rc = buf_puts(&b, hash);
    char *res = rc == 0 ? buf_take(&b) : NULL;
    buf_free(&b);
    return res;
}
