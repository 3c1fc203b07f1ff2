/* url.h -- percent-decoding, query/form parsing, URL checks and callback URL merging.
 * Every function here treats its input as untrusted. Returned strings are malloc'd (free()). */
#ifndef TETHER_COMMON_URL_H
#define TETHER_COMMON_URL_H
#include <stddef.h>

struct kv {
    char *key;
    char *val;
};

struct kv_list {
    struct kv *items;
    size_t n;
};

#define URL_MAX_PAIRS 64
#define URL_MAX_LEN 4096

/* Parses "a=1&b=x%20y" (plus is a space). Pairs without '=' get "" as value; empty segments are
 * skipped. Fails (-1, out untouched) on a bad %-escape, invalid UTF-8 or NUL after decoding, or more
 * than URL_MAX_PAIRS pairs. On success out owns copies: kv_list_free(out). */
int form_parse(const char *s, size_t len, struct kv_list *out);
void kv_list_free(struct kv_list *l);
/* The first value for key, or NULL. */
const char *kv_get(const struct kv_list *l, const char *key);

/* Percent-decodes s[0..len) into a new string; plus_is_space turns '+' into ' '. NULL on a bad
 * escape or a decoded NUL. */
char *url_decode(const char *s, size_t len, int plus_is_space);
/* Percent-encodes everything but RFC 3986 unreserved characters. Never NULL. */
char *url_encode(const char *s);

struct url_parts {
    char *scheme; /* lower-cased: "http" / "https" */
    char *host;   /* lower-cased; an IPv6 literal keeps its brackets */
    int port;     /* explicit port, or 0 */
    char *path;   /* "" or starting with '/' */
    char *query;  /* without '?', NULL when absent */
    char *fragment;
    int has_userinfo;
};
/* Splits an absolute http(s) URL. -1 (out untouched) when it is not one, is longer than URL_MAX_LEN,
 * or has spaces, control characters or a bad port. */
int url_parse(const char *url, struct url_parts *out);
void url_parts_free(struct url_parts *p);

/* Checks an app's callback URL: absolute http(s), a host, no userinfo, no control characters or
 * spaces, at most 2048 bytes. 0, or -1 with a human sentence in err. */
int url_check_callback(const char *url, char *err, size_t errlen);
/* "https://host[:port]" (default ports dropped), or NULL when url does not parse. */
char *url_origin(const char *url);
/* Appends params to url's query (before any fragment), keeping the app's own parameters except
 * those with the same names as params, which are replaced. Values are percent-encoded. */
char *url_merge_params(const char *url, const struct kv *params, size_t n);

#endif
