/* test_common_url.c -- percent-coding, form parsing, URL splitting, callback checks, merging. */
#include "common/url.h"
#include "harness/test.h"

static int
parse(const char *s, struct kv_list *l)
{
    return form_parse(s, strlen(s), l);
}

TEST(url_decode_basics)
{
    char *s = url_decode("a%20b+c%2Bd", 11, 1);
    ASSERT_STR(s, "a b c+d");
    free(s);
    s = url_decode("a+b", 3, 0);
    ASSERT_STR(s, "a+b");
    free(s);
    s = url_decode("%e2%82%AC", 9, 0);
    ASSERT_STR(s, "\xe2\x82\xac");
    free(s);
    s = url_decode("", 0, 1);
    ASSERT_STR(s, "");
    free(s);
}

TEST(url_decode_rejects_bad_escapes)
{
    ASSERT(url_decode("%", 1, 1) == NULL);
    ASSERT(url_decode("%4", 2, 1) == NULL);
    ASSERT(url_decode("abc%", 4, 1) == NULL);
    ASSERT(url_decode("%zz", 3, 1) == NULL);
    ASSERT(url_decode("%4g", 3, 1) == NULL);
    ASSERT(url_decode("%00", 3, 1) == NULL);
    ASSERT(url_decode("a\0b", 3, 1) == NULL);
    /* the length bounds the read: "%41" cut at 2 is a bad escape, not "A" */
    ASSERT(url_decode("%41", 2, 1) == NULL);
}

TEST(url_encode_unreserved_only)
{
    char *s = url_encode("AZaz09-._~");
    ASSERT_STR(s, "AZaz09-._~");
    free(s);
    s = url_encode("a b&c=d/e?f#g+h%\xc3\xa9");
    ASSERT_STR(s, "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25%C3%A9");
    free(s);
    s = url_encode("");
    ASSERT_STR(s, "");
    free(s);
    s = url_encode(NULL);
    ASSERT_STR(s, "");
    free(s);
}

TEST(url_encode_decode_roundtrip)
{
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    char *e = url_encode(all);
    char *d = url_decode(e, strlen(e), 0);
    ASSERT_STR(d, all);
    free(e);
    free(d);
}

TEST(form_parse_basics)
{
    struct kv_list l;
    ASSERT_EQ(parse("a=1&b=x%20y&c=p+q&flag&&d=&=e", &l), 0);
    ASSERT_EQ(l.n, 6);
    ASSERT_STR(kv_get(&l, "a"), "1");
    ASSERT_STR(kv_get(&l, "b"), "x y");
    ASSERT_STR(kv_get(&l, "c"), "p q");
    ASSERT_STR(kv_get(&l, "flag"), "");
    ASSERT_STR(kv_get(&l, "d"), "");
    ASSERT_STR(kv_get(&l, ""), "e");
    ASSERT(kv_get(&l, "missing") == NULL);
    kv_list_free(&l);
    ASSERT(l.items == NULL);
    ASSERT_EQ(l.n, 0);
}

TEST(form_parse_first_value_and_equals_in_value)
{
    struct kv_list l;
    ASSERT_EQ(parse("k=1&k=2&x=a=b", &l), 0);
    ASSERT_STR(kv_get(&l, "k"), "1");
    ASSERT_STR(kv_get(&l, "x"), "a=b");
    kv_list_free(&l);
}

TEST(form_parse_empty_input)
{
    struct kv_list l;
    ASSERT_EQ(parse("", &l), 0);
    ASSERT_EQ(l.n, 0);
    kv_list_free(&l);
    ASSERT_EQ(parse("&&&", &l), 0);
    ASSERT_EQ(l.n, 0);
    kv_list_free(&l);
}

TEST(form_parse_respects_len)
{
    struct kv_list l;
    ASSERT_EQ(form_parse("a=1&b=2", 3, &l), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_STR(kv_get(&l, "a"), "1");
    kv_list_free(&l);
}

TEST(form_parse_rejects_hostile)
{
    struct kv_list l = {(struct kv *)0x1, 77};
    ASSERT_EQ(parse("a=%zz", &l), -1);
    ASSERT_EQ(parse("a=%", &l), -1);
    ASSERT_EQ(parse("a=1&b=%2", &l), -1);
    ASSERT_EQ(parse("%zz=1", &l), -1);
    ASSERT_EQ(parse("a=x%00y", &l), -1);
    ASSERT_EQ(parse("a=%c0%af", &l), -1);    /* overlong */
    ASSERT_EQ(parse("a=%ed%a0%80", &l), -1); /* surrogate */
    ASSERT_EQ(parse("a=%ff", &l), -1);
    ASSERT_EQ(parse("%ff=1", &l), -1);
    ASSERT_EQ(form_parse("a=b\0c", 5, &l), -1); /* raw NUL */
    /* out untouched on failure */
    ASSERT(l.items == (struct kv *)0x1);
    ASSERT_EQ(l.n, 77);
}

TEST(form_parse_pair_limit)
{
    char s[64 * 4 + 8];
    size_t n = 0;
    for (int i = 0; i < URL_MAX_PAIRS; i++) {
        s[n++] = 'k';
        s[n++] = '=';
        s[n++] = 'v';
        s[n++] = '&';
    }
    s[n] = '\0';
    struct kv_list l;
    ASSERT_EQ(form_parse(s, n, &l), 0);
    ASSERT_EQ(l.n, URL_MAX_PAIRS);
    kv_list_free(&l);
    s[n++] = 'x';
    s[n] = '\0';
    ASSERT_EQ(form_parse(s, n, &l), -1);
}

TEST(form_parse_huge_value)
{
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    ASSERT(s != NULL);
    memcpy(s, "k=", 2);
    memset(s + 2, 'v', n - 2);
    s[n] = '\0';
    struct kv_list l;
    ASSERT_EQ(form_parse(s, n, &l), 0);
    ASSERT_EQ(strlen(kv_get(&l, "k")), n - 2);
    kv_list_free(&l);
    free(s);
}

TEST(kv_list_free_null_safe)
{
    kv_list_free(NULL);
    struct kv_list l = {NULL, 0};
    kv_list_free(&l);
    ASSERT(kv_get(NULL, "a") == NULL);
}

TEST(url_parse_full)
{
    struct url_parts p;
    ASSERT_EQ(url_parse("HTTPS://App.Example.COM:8443/cb/x?a=1&b=2#Frag", &p), 0);
    ASSERT_STR(p.scheme, "https");
    ASSERT_STR(p.host, "app.example.com");
    ASSERT_EQ(p.port, 8443);
    ASSERT_STR(p.path, "/cb/x");
    ASSERT_STR(p.query, "a=1&b=2");
    ASSERT_STR(p.fragment, "Frag");
    ASSERT_EQ(p.has_userinfo, 0);
    url_parts_free(&p);
}

TEST(url_parse_minimal)
{
    struct url_parts p;
    ASSERT_EQ(url_parse("http://a.example", &p), 0);
    ASSERT_STR(p.scheme, "http");
    ASSERT_STR(p.host, "a.example");
    ASSERT_EQ(p.port, 0);
    ASSERT_STR(p.path, "");
    ASSERT(p.query == NULL);
    ASSERT(p.fragment == NULL);
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://a.example?", &p), 0);
    ASSERT_STR(p.path, "");
    ASSERT_STR(p.query, "");
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://a.example#", &p), 0);
    ASSERT(p.query == NULL);
    ASSERT_STR(p.fragment, "");
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://a.example#x?y", &p), 0);
    ASSERT(p.query == NULL);
    ASSERT_STR(p.fragment, "x?y");
    url_parts_free(&p);
}

TEST(url_parse_ipv6)
{
    struct url_parts p;
    ASSERT_EQ(url_parse("http://[::1]:8080/x", &p), 0);
    ASSERT_STR(p.host, "[::1]");
    ASSERT_EQ(p.port, 8080);
    ASSERT_STR(p.path, "/x");
    url_parts_free(&p);
    ASSERT_EQ(url_parse("https://[2001:DB8::A]/", &p), 0);
    ASSERT_STR(p.host, "[2001:db8::a]");
    ASSERT_EQ(p.port, 0);
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://[::ffff:127.0.0.1]/", &p), 0);
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://[::1/x", &p), -1);
    ASSERT_EQ(url_parse("http://[]/x", &p), -1);
    ASSERT_EQ(url_parse("http://[evil.com]/x", &p), -1);
    ASSERT_EQ(url_parse("http://[::1]x/", &p), -1);
    ASSERT_EQ(url_parse("http://[::1]:/", &p), -1);
    ASSERT_EQ(url_parse("http://[fe80::1%25eth0]/", &p), -1);
}

TEST(url_parse_userinfo)
{
    struct url_parts p;
    ASSERT_EQ(url_parse("https://user@host.example/x", &p), 0);
    ASSERT_EQ(p.has_userinfo, 1);
    ASSERT_STR(p.host, "host.example");
    url_parts_free(&p);
    ASSERT_EQ(url_parse("https://good.example:pw@evil.example/", &p), 0);
    ASSERT_EQ(p.has_userinfo, 1);
    ASSERT_STR(p.host, "evil.example");
    url_parts_free(&p);
    ASSERT_EQ(url_parse("https://a@b@evil.example/", &p), 0);
    ASSERT_EQ(p.has_userinfo, 1);
    ASSERT_STR(p.host, "evil.example");
    url_parts_free(&p);
    /* an '@' after the authority is just part of the path or query */
    ASSERT_EQ(url_parse("https://host.example/a@b?c=d@e", &p), 0);
    ASSERT_EQ(p.has_userinfo, 0);
    ASSERT_STR(p.host, "host.example");
    url_parts_free(&p);
}

TEST(url_parse_ports)
{
    struct url_parts p;
    ASSERT_EQ(url_parse("http://h:1/", &p), 0);
    ASSERT_EQ(p.port, 1);
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://h:65535", &p), 0);
    ASSERT_EQ(p.port, 65535);
    url_parts_free(&p);
    ASSERT_EQ(url_parse("http://h:0/", &p), -1);
    ASSERT_EQ(url_parse("http://h:65536/", &p), -1);
    ASSERT_EQ(url_parse("http://h:99999999999/", &p), -1);
    ASSERT_EQ(url_parse("http://h:-1/", &p), -1);
    ASSERT_EQ(url_parse("http://h:80a/", &p), -1);
    ASSERT_EQ(url_parse("http://h:/", &p), -1);
    ASSERT_EQ(url_parse("http://h:80:81/", &p), -1);
}

TEST(url_parse_rejects)
{
    struct url_parts p = {0};
    ASSERT_EQ(url_parse(NULL, &p), -1);
    ASSERT_EQ(url_parse("", &p), -1);
    ASSERT_EQ(url_parse("javascript:alert(1)", &p), -1);
    ASSERT_EQ(url_parse("JavaScript://%0aalert(1)", &p), -1);
    ASSERT_EQ(url_parse("data:text/html,<script>", &p), -1);
    ASSERT_EQ(url_parse("ftp://host/", &p), -1);
    ASSERT_EQ(url_parse("//host/path", &p), -1);
    ASSERT_EQ(url_parse("/relative", &p), -1);
    ASSERT_EQ(url_parse("http:/host", &p), -1);
    ASSERT_EQ(url_parse("http:host", &p), -1);
    ASSERT_EQ(url_parse("https://ho st/", &p), -1);
    ASSERT_EQ(url_parse("https://host/a b", &p), -1);
    ASSERT_EQ(url_parse(" https://host/", &p), -1);
    ASSERT_EQ(url_parse("https://host/\r\nSet-Cookie: x", &p), -1);
    ASSERT_EQ(url_parse("https://host/\t", &p), -1);
    ASSERT_EQ(url_parse("https://host/\x7f", &p), -1);
    ASSERT_EQ(url_parse("https://h\xc3\xa9st/", &p), -1);
    ASSERT_EQ(url_parse("https://evil.example\\@good.example/", &p), -1);
    ASSERT_EQ(url_parse("https://host/\"><script>", &p), -1);
    ASSERT_EQ(url_parse("https://ho!st/", &p), -1);
    ASSERT_EQ(url_parse("https://ho%2fst/", &p), -1);
    ASSERT(p.scheme == NULL);
}

TEST(url_parse_length_cap)
{
    char *u = malloc(URL_MAX_LEN + 2);
    ASSERT(u != NULL);
    memcpy(u, "https://a.example/", 18);
    memset(u + 18, 'a', URL_MAX_LEN - 18);
    u[URL_MAX_LEN] = '\0';
    struct url_parts p;
    ASSERT_EQ(url_parse(u, &p), 0);
    url_parts_free(&p);
    u[URL_MAX_LEN] = 'a';
    u[URL_MAX_LEN + 1] = '\0';
    ASSERT_EQ(url_parse(u, &p), -1);
    free(u);
}

TEST(url_parts_free_twice)
{
    struct url_parts p;
    ASSERT_EQ(url_parse("http://a/b", &p), 0);
    url_parts_free(&p);
    url_parts_free(&p);
    url_parts_free(NULL);
}

TEST(url_check_callback_accepts)
{
    char err[128] = "";
    ASSERT_EQ(url_check_callback("https://app.example/cb?x=1#f", err, sizeof(err)), 0);
    ASSERT_EQ(url_check_callback("http://localhost:3000/done", err, sizeof(err)), 0);
    ASSERT_EQ(url_check_callback("http://[::1]:8080/x", err, sizeof(err)), 0);
    ASSERT_EQ(url_check_callback("http://127.0.0.1/", err, sizeof(err)), 0);
}

TEST(url_check_callback_rejects)
{
    char err[128];
    const char *bad[] = {
        "",
        "javascript:alert(1)",
        "javascript://example.com/%0aalert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:x",
        "file:///etc/passwd",
        "//evil.example/",
        "/relative/path",
        "https://user@host.example/",
        "https://user:pass@host.example/",
        "https://good.example@evil.example/",
        "http:///nohost",
        "https://host.example/a b",
        "https://host.example/\nx",
        "https://host.example\\@evil.example/",
        "https://host:0/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (url_check_callback(bad[i], err, sizeof(err)) != -1)
            FAIL_AT("accepted %s", bad[i]);
        ASSERT(err[0] != '\0');
    }
    ASSERT_EQ(url_check_callback(NULL, err, sizeof(err)), -1);
    ASSERT_EQ(url_check_callback("https://user@host/", NULL, 0), -1);
    url_check_callback("https://user@host/", err, sizeof(err));
    ASSERT(strstr(err, "user") != NULL);
}

TEST(url_check_callback_length)
{
    char u[2100];
    memcpy(u, "https://a.example/", 18);
    memset(u + 18, 'a', 2048 - 18);
    u[2048] = '\0';
    char err[128];
    ASSERT_EQ(url_check_callback(u, err, sizeof(err)), 0);
    u[2048] = 'a';
    u[2049] = '\0';
    ASSERT_EQ(url_check_callback(u, err, sizeof(err)), -1);
    ASSERT(strstr(err, "2048") != NULL);
}

TEST(url_check_callback_small_err)
{
    char err[4];
    ASSERT_EQ(url_check_callback("ftp://x/", err, sizeof(err)), -1);
    ASSERT_EQ(strlen(err), 3);
}

TEST(url_origin_drops_default_ports)
{
    char *o = url_origin("https://App.Example:443/x?y#z");
    ASSERT_STR(o, "https://app.example");
    free(o);
    o = url_origin("http://a.example:80/");
    ASSERT_STR(o, "http://a.example");
    free(o);
    o = url_origin("http://a.example:443/");
    ASSERT_STR(o, "http://a.example:443");
    free(o);
    o = url_origin("https://a.example:80");
    ASSERT_STR(o, "https://a.example:80");
    free(o);
    o = url_origin("http://[::1]:8080/x");
    ASSERT_STR(o, "http://[::1]:8080");
    free(o);
    o = url_origin("https://user@a.example/");
    ASSERT_STR(o, "https://a.example");
    free(o);
    ASSERT(url_origin("javascript:alert(1)") == NULL);
    ASSERT(url_origin("http:///x") == NULL);
    ASSERT(url_origin(NULL) == NULL);
}

static char *
merge1(const char *url, const char *k, const char *v)
{
    struct kv p = {(char *)k, (char *)v};
    return url_merge_params(url, &p, 1);
}

TEST(url_merge_keeps_query_and_fragment)
{
    char *s = merge1("https://a.example/cb?x=1#frag", "status", "success");
    ASSERT_STR(s, "https://a.example/cb?x=1&status=success#frag");
    free(s);
}

TEST(url_merge_no_query_empty_query)
{
    char *s = merge1("https://a.example/cb", "status", "success");
    ASSERT_STR(s, "https://a.example/cb?status=success");
    free(s);
    s = merge1("https://a.example/cb?", "status", "success");
    ASSERT_STR(s, "https://a.example/cb?status=success");
    free(s);
    s = merge1("https://a.example", "status", "success");
    ASSERT_STR(s, "https://a.example?status=success");
    free(s);
    s = merge1("https://a.example/cb#", "a", "b");
    ASSERT_STR(s, "https://a.example/cb?a=b#");
    free(s);
    s = merge1("https://a.example/cb?#f", "a", "b");
    ASSERT_STR(s, "https://a.example/cb?a=b#f");
    free(s);
}

TEST(url_merge_replaces_same_names)
{
    struct kv ps[] = {{"status", "success"}, {"connected_account_id", "ca_abc123"}};
    char *s = url_merge_params(
        "https://a.example/cb?status=pending&keep=1&&status=x&st=2&Status=3#f", ps, 2);
    ASSERT_STR(s, "https://a.example/cb?keep=1&st=2&Status=3&status=success&"
                  "connected_account_id=ca_abc123#f");
    free(s);
    /* an encoded name counts as the same name */
    s = merge1("https://a.example/cb?st%61tus=old&x=%zz", "status", "new");
    ASSERT_STR(s, "https://a.example/cb?x=%zz&status=new");
    free(s);
}

TEST(url_merge_encodes_values)
{
    struct kv ps[] = {{"msg", "a b&c=d#e?f/\xc3\xa9"}, {"k y", "v"}, {"empty", NULL}};
    char *s = url_merge_params("http://[::1]:8080/x?y=%20", ps, 3);
    ASSERT_STR(s, "http://[::1]:8080/x?y=%20&msg=a%20b%26c%3Dd%23e%3Ff%2F%C3%A9&k%20y=v&empty=");
    free(s);
}

TEST(url_merge_zero_params)
{
    char *s = url_merge_params("https://a.example/p?a=1&&b=2#x", NULL, 0);
    ASSERT_STR(s, "https://a.example/p?a=1&b=2#x");
    free(s);
}

TEST(url_merge_rejects_bad_urls)
{
    ASSERT(merge1("javascript:alert(1)", "a", "b") == NULL);
    ASSERT(merge1("https://a.example/ x", "a", "b") == NULL);
    ASSERT(merge1(NULL, "a", "b") == NULL);
}

TEST(url_merge_fragment_with_question_mark)
{
    char *s = merge1("https://a.example/cb#/route?x=1", "status", "failed");
    ASSERT_STR(s, "https://a.example/cb?status=failed#/route?x=1");
    free(s);
}

TEST_MAIN()
