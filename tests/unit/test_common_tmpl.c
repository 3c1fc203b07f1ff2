/* test_common_tmpl.c -- the HTML template renderer (tmpl.h): values, sections, escaping, limits. */
#include "common/tmpl.h"
#include "harness/test.h"

static char err[256];

/* Renders tmpl against the JSON text ctx; NULL on a render error (message in err). */
static char *
render(const char *tmpl, const char *ctx)
{
    json_t *c = json_loads(ctx, 0, NULL);
    if (c == NULL)
        return NULL;
    err[0] = '\0';
    char *s = tmpl_render(tmpl, c, err, sizeof(err));
    json_decref(c);
    return s;
}

#define ASSERT_RENDER(tmpl, ctx, want)                                                             \
    do {                                                                                           \
        char *got_ = render(tmpl, ctx);                                                            \
        if (got_ == NULL)                                                                          \
            FAIL_AT("render failed: %s", err);                                                     \
        int same_ = strcmp(got_, want) == 0;                                                       \
        if (!same_)                                                                                \
            fprintf(stderr, "  got:  %s\n  want: %s\n", got_, want);                               \
        free(got_);                                                                                \
        ASSERT(same_);                                                                             \
    } while (0)

#define ASSERT_RENDER_FAILS(tmpl, ctx, needle)                                                     \
    do {                                                                                           \
        char *got_ = render(tmpl, ctx);                                                            \
        if (got_ != NULL) {                                                                        \
            free(got_);                                                                            \
            FAIL_AT("render of %s should fail", tmpl);                                             \
        }                                                                                          \
        if (strstr(err, needle) == NULL)                                                           \
            FAIL_AT("error \"%s\" lacks \"%s\"", err, needle);                                     \
    } while (0)

TEST(tmpl_plain_text)
{
    ASSERT_RENDER("", "{}", "");
    ASSERT_RENDER("hello <b>world</b>", "{}", "hello <b>world</b>");
    ASSERT_RENDER("a { b } c }} d", "{}", "a { b } c }} d");
}

TEST(tmpl_values)
{
    ASSERT_RENDER("Hi {{name}}!", "{\"name\":\"Ann\"}", "Hi Ann!");
    ASSERT_RENDER("{{ name }}", "{\"name\":\"Ann\"}", "Ann");
    ASSERT_RENDER("{{n}} {{r}} {{t}} {{f}} {{z}}",
                  "{\"n\":-42,\"r\":1.5,\"t\":true,\"f\":false,\"z\":null}", "-42 1.5 true false ");
    ASSERT_RENDER("[{{missing}}]", "{}", "[]");
    ASSERT_RENDER("[{{obj}}][{{arr}}]", "{\"obj\":{\"a\":1},\"arr\":[1]}", "[][]");
    ASSERT_RENDER("{{a.b.c}}|{{a.x}}|{{a.b.c.d}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "deep||");
    ASSERT_RENDER("{{_k-1}}", "{\"_k-1\":\"ok\"}", "ok");
}

TEST(tmpl_escapes_values)
{
    ASSERT_RENDER("{{v}}", "{\"v\":\"<script>alert('x')</script>\"}",
                  "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    ASSERT_RENDER("{{v}}", "{\"v\":\"& < > \\\" ' ` =\"}",
                  "&amp; &lt; &gt; &quot; &#39; &#96; &#61;");
    ASSERT_RENDER("{{v}}", "{\"v\":\"&amp;\"}", "&amp;amp;");
    ASSERT_RENDER("{{{v}}}", "{\"v\":\"<b>raw</b>\"}", "<b>raw</b>");
    ASSERT_RENDER("{{{ v }}}", "{\"v\":\"<i>\"}", "<i>");
}

TEST(tmpl_xss_payloads_in_attributes)
{
    const char *payloads[] = {
        "\"><script>alert(1)</script>",
        "' onmouseover='alert(1)",
        "\" onfocus=\"alert(1)\" autofocus=\"",
        "` onerror=`alert(1)",
        "x onerror=alert(1)",
        "</title><svg/onload=alert(1)>",
        "<img src=x onerror=alert(1)>",
        "{{name}}",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        json_t *c = json_pack("{s:s, s:s}", "v", payloads[i], "name", "SECRET");
        char *s = tmpl_render("<a title=\"{{v}}\" data-x='{{v}}'>{{v}}</a>", c, err, sizeof(err));
        json_decref(c);
        ASSERT(s != NULL);
        /* the only markup characters left are the template's own */
        size_t lt = 0, gt = 0, dq = 0, sq = 0, bt = 0, eq = 0;
        for (const char *p = s; *p; p++) {
            lt += *p == '<';
            gt += *p == '>';
            dq += *p == '"';
            sq += *p == '\'';
            bt += *p == '`';
            eq += *p == '=';
        }
        int ok = lt == 2 && gt == 2 && dq == 2 && sq == 2 && bt == 0 && eq == 2;
        ok = ok && strstr(s, "SECRET") == NULL; /* values are never re-expanded */
        if (!ok)
            fprintf(stderr, "  payload %zu -> %s\n", i, s);
        free(s);
        ASSERT(ok);
    }
}

TEST(tmpl_javascript_url_is_escaped_not_blocked)
{
    /* the renderer escapes; blocking javascript: URLs is url_check_callback's job */
    ASSERT_RENDER("<a href=\"{{u}}\">", "{\"u\":\"javascript:alert(\\\"x\\\")\"}",
                  "<a href=\"javascript:alert(&quot;x&quot;)\">");
}

TEST(tmpl_escape_function)
{
    char *s = tmpl_escape("a&b<c>d\"e'f`g=h");
    ASSERT_STR(s, "a&amp;b&lt;c&gt;d&quot;e&#39;f&#96;g&#61;h");
    free(s);
    s = tmpl_escape("");
    ASSERT_STR(s, "");
    free(s);
    s = tmpl_escape(NULL);
    ASSERT_STR(s, "");
    free(s);
    s = tmpl_escape("caf\xc3\xa9 \xf0\x9f\x98\x80");
    ASSERT_STR(s, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    free(s);
}

TEST(tmpl_sections_arrays)
{
    ASSERT_RENDER("<ul>{{#items}}<li>{{name}}</li>{{/items}}</ul>",
                  "{\"items\":[{\"name\":\"a\"},{\"name\":\"<b>\"}]}",
                  "<ul><li>a</li><li>&lt;b&gt;</li></ul>");
    ASSERT_RENDER("{{#tags}}[{{.}}]{{/tags}}", "{\"tags\":[\"x\",\"y&z\",3]}", "[x][y&amp;z][3]");
    ASSERT_RENDER(
        "{{#items}}{{name}}@{{app}} {{/items}}",
        "{\"app\":\"Acme\",\"items\":[{\"name\":\"a\"},{\"name\":\"b\",\"app\":\"Own\"}]}",
        "a@Acme b@Own ");
    ASSERT_RENDER("{{#a}}{{#b}}{{x}}{{y}};{{/b}}{{/a}}",
                  "{\"y\":\"Y\",\"a\":[{\"x\":1,\"b\":[{},{\"x\":2}]}]}", "1Y;2Y;");
}

TEST(tmpl_sections_truthiness)
{
    const char *ctx = "{\"t\":true,\"f\":false,\"n\":null,\"e\":\"\",\"ea\":[],\"s\":\"x\","
                      "\"z\":0,\"o\":{\"k\":\"v\"},\"eo\":{}}";
    ASSERT_RENDER(
        "{{#t}}T{{/t}}{{#f}}F{{/f}}{{#n}}N{{/n}}{{#e}}E{{/e}}{{#ea}}A{{/ea}}{{#m}}M{{/m}}", ctx,
        "T");
    ASSERT_RENDER("{{#s}}S{{.}}{{/s}}{{#z}}Z{{/z}}{{#o}}O{{k}}{{/o}}{{#eo}}EO{{/eo}}", ctx,
                  "SxZOvEO");
    ASSERT_RENDER(
        "{{^t}}T{{/t}}{{^f}}F{{/f}}{{^n}}N{{/n}}{{^e}}E{{/e}}{{^ea}}A{{/ea}}{{^m}}M{{/m}}", ctx,
        "FNEAM");
    ASSERT_RENDER("{{^s}}S{{/s}}{{^z}}Z{{/z}}{{^o}}O{{/o}}", ctx, "");
}

TEST(tmpl_dotted_sections)
{
    ASSERT_RENDER(
        "{{#app.logo}}<img src=\"{{app.logo}}\">{{/app.logo}}{{^app.name}}none{{/app.name}}",
        "{\"app\":{\"logo\":\"/l.svg\"}}", "<img src=\"/l.svg\">none");
}

TEST(tmpl_null_context)
{
    char *s = tmpl_render("a{{x}}b{{#y}}c{{/y}}{{^y}}d{{/y}}{{.}}", NULL, err, sizeof(err));
    ASSERT_STR(s, "abd");
    free(s);
}

TEST(tmpl_errors)
{
    ASSERT_RENDER_FAILS("{{#a}}x", "{}", "never closed");
    ASSERT_RENDER_FAILS("x{{/a}}", "{}", "no open section");
    ASSERT_RENDER_FAILS("{{#a}}{{/b}}", "{}", "does not match");
    ASSERT_RENDER_FAILS("{{#a}}{{#b}}{{/a}}{{/b}}", "{}", "does not match");
    ASSERT_RENDER_FAILS("{{a", "{}", "unterminated");
    ASSERT_RENDER_FAILS("{{{a}}", "{}", "unterminated");
    ASSERT_RENDER_FAILS("{{}}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{ }}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{#}}{{/}}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{a b}}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{>partial}}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{!comment}}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{&a}}", "{}", "bad tag");
    ASSERT_RENDER_FAILS("{{#a}}{{{/a}}}", "{}", "bad tag");
    /* a skipped section is still checked */
    ASSERT_RENDER_FAILS("{{#missing}}{{/other}}{{/missing}}", "{}", "does not match");
    char *s = tmpl_render(NULL, NULL, err, sizeof(err));
    ASSERT(s == NULL);
    ASSERT(tmpl_render("{{#a}}", NULL, NULL, 0) == NULL);
}

TEST(tmpl_nesting_limit)
{
    char t[1024];
    size_t n = 0;
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{#s%d}}", i);
    t[n++] = 'x';
    for (int i = 15; i >= 0; i--)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{/s%d}}", i);
    t[n] = '\0';
    char *s =
        render(t, "{\"s0\":1,\"s1\":1,\"s2\":1,\"s3\":1,\"s4\":1,\"s5\":1,\"s6\":1,\"s7\":1,"
                  "\"s8\":1,\"s9\":1,\"s10\":1,\"s11\":1,\"s12\":1,\"s13\":1,\"s14\":1,\"s15\":1}");
    ASSERT_STR(s, "x");
    free(s);
    n = 0;
    for (int i = 0; i < 17; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{#s%d}}", i);
    for (int i = 16; i >= 0; i--)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{/s%d}}", i);
    t[n] = '\0';
    ASSERT_RENDER_FAILS(t, "{}", "deeper than 16");
}

TEST(tmpl_output_cap)
{
    size_t n = 600 * 1024;
    char *big = malloc(n + 1);
    ASSERT(big != NULL);
    memset(big, 'a', n);
    big[n] = '\0';
    json_t *c = json_pack("{s:s, s:[i,i]}", "v", big, "two", 1, 2);
    char *s = tmpl_render("{{v}}", c, err, sizeof(err));
    ASSERT(s != NULL);
    ASSERT_EQ(strlen(s), n);
    free(s);
    s = tmpl_render("{{#two}}{{v}}{{/two}}", c, err, sizeof(err));
    ASSERT(s == NULL);
    ASSERT(strstr(err, "1 MiB") != NULL);
    /* escaping grows output: 300 KiB of '<' is 1.2 MB escaped */
    memset(big, '<', 300 * 1024);
    big[300 * 1024] = '\0';
    json_object_set_new(c, "v", json_string(big));
    s = tmpl_render("{{v}}", c, err, sizeof(err));
    ASSERT(s == NULL);
    s = tmpl_render("{{{v}}}", c, err, sizeof(err));
    ASSERT(s != NULL);
    free(s);
    json_decref(c);
    free(big);
}

TEST(tmpl_work_is_bounded)
{
    /* 16 nested empty sections over a 100-element array would loop 100^16 times */
    json_t *arr = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *c = json_pack("{s:o}", "a", arr);
    char t[512];
    size_t n = 0;
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{#a}}");
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{/a}}");
    t[n] = '\0';
    char *s = tmpl_render(t, c, err, sizeof(err));
    ASSERT(s == NULL);
    ASSERT(strstr(err, "too much work") != NULL);
    json_decref(c);
}

TEST(tmpl_value_with_braces_not_expanded)
{
    ASSERT_RENDER("{{a}}", "{\"a\":\"{{b}}\",\"b\":\"no\"}", "{{b}}");
    ASSERT_RENDER("{{a}}", "{\"a\":\"caf\\u00e9\"}", "caf\xc3\xa9");
}

TEST(tmpl_nul_in_value_does_not_cut_output)
{
    json_t *c = json_pack("{s:s%}", "v", "a\0<b", (size_t)4);
    char *s = tmpl_render("[{{v}}]", c, err, sizeof(err));
    ASSERT_STR(s, "[a\xef\xbf\xbd&lt;b]");
    free(s);
    json_decref(c);
}

TEST_MAIN()
