/* fuzz_url.c -- url_parse, url_check_callback, url_origin, url_merge_params and url_encode on
 * arbitrary strings (callback URLs come from API clients). */
#include "common/url.h"
#include "fuzz.h"

static void
check_parts(const struct url_parts *p)
{
    FUZZ_CHECK(strcmp(p->scheme, "http") == 0 || strcmp(p->scheme, "https") == 0);
    for (const char *h = p->host; *h; h++)
        FUZZ_CHECK(!(*h >= 'A' && *h <= 'Z') && *h != '@' && *h != '/');
    FUZZ_CHECK(p->port >= 0 && p->port <= 65535);
    FUZZ_CHECK(p->path[0] == '\0' || p->path[0] == '/');
    FUZZ_CHECK(strchr(p->path, '?') == NULL && strchr(p->path, '#') == NULL);
    FUZZ_CHECK(p->query == NULL || strchr(p->query, '#') == NULL);
}

/* The merged URL still parses, keeps the fragment, and its status value is ours. */
static void
check_merge(const char *url, const struct url_parts *orig)
{
    struct kv params[] = {{"status", "success"}, {"connected_account_id", "ca_<x y&z>"}};
    char *m = url_merge_params(url, params, 2);
    FUZZ_CHECK(m != NULL);
    struct url_parts p;
    if (strlen(m) <= URL_MAX_LEN) {
        FUZZ_CHECK(url_parse(m, &p) == 0);
        FUZZ_CHECK(strcmp(p.host, orig->host) == 0 && p.port == orig->port);
        FUZZ_CHECK(p.query != NULL);
        FUZZ_CHECK((p.fragment == NULL) == (orig->fragment == NULL));
        FUZZ_CHECK(p.fragment == NULL || strcmp(p.fragment, orig->fragment) == 0);
        struct kv_list l;
        if (form_parse(p.query, strlen(p.query), &l) == 0) {
            FUZZ_CHECK(strcmp(kv_get(&l, "status"), "success") == 0);
            FUZZ_CHECK(strcmp(kv_get(&l, "connected_account_id"), "ca_<x y&z>") == 0);
            kv_list_free(&l);
        }
        url_parts_free(&p);
    }
    free(m);
}

static void
check_origin(const char *url)
{
    char *o = url_origin(url);
    if (o == NULL)
        return;
    FUZZ_CHECK(strncmp(o, "http://", 7) == 0 || strncmp(o, "https://", 8) == 0);
    char *again = url_origin(o);
    FUZZ_CHECK(again != NULL && strcmp(again, o) == 0);
    free(again);
    free(o);
}

static void
check_encode(const char *s)
{
    char *e = url_encode(s);
    char *d = url_decode(e, strlen(e), 0);
    FUZZ_CHECK(d != NULL && strcmp(d, s) == 0);
    free(d);
    free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_cstr(data, size);
    struct url_parts p;
    int parsed = url_parse(url, &p) == 0;
    char err[128] = "";
    int ok = url_check_callback(url, err, sizeof(err)) == 0;
    FUZZ_CHECK(ok || err[0] != '\0');
    if (ok)
        FUZZ_CHECK(parsed && !p.has_userinfo && p.host[0] != '\0');
    if (parsed) {
        check_parts(&p);
        check_merge(url, &p);
        url_parts_free(&p);
    } else {
        FUZZ_CHECK(url_merge_params(url, NULL, 0) == NULL);
    }
    check_origin(url);
    check_encode(url);
    free(url);
    return 0;
}
