/* fuzz_tmpl_value.c -- a fixed page template with a fuzzed string value: whatever the value holds,
 * the output carries exactly the markup characters of the template itself, none from the value. */
#include "common/tmpl.h"
#include "fuzz.h"

static const char page[] =
    "<p>{{v}}</p><a href=\"/x?y={{v}}\" title='{{v}}' data-v={{v}}>{{#list}}<i>{{.}}</i>{{/list}}"
    "{{^missing}}<b>{{o.v}}</b>{{/missing}}{{#o}}<s>{{v}}</s>{{/o}}</a>";

static const char markup[] = "<>\"'`=&";

static void
count_markup(const char *s, size_t counts[sizeof(markup)])
{
    memset(counts, 0, sizeof(size_t) * sizeof(markup));
    for (; *s; s++) {
        const char *m = strchr(markup, *s);
        if (m != NULL)
            counts[m - markup]++;
    }
}

/* Renders page with v = value[0..len). */
static char *
render_value(const char *value, size_t len)
{
    json_t *v = json_stringn_nocheck(value, len);
    FUZZ_CHECK(v != NULL);
    json_t *ctx = json_pack("{s:O, s:[O,O], s:{s:O}}", "v", v, "list", v, v, "o", "v", v);
    FUZZ_CHECK(ctx != NULL);
    json_decref(v);
    char err[256] = "";
    char *out = tmpl_render(page, ctx, err, sizeof(err));
    json_decref(ctx);
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t base[sizeof(markup)];
    static int have_base;
    if (!have_base) {
        char *b = render_value("", 0);
        FUZZ_CHECK(b != NULL);
        count_markup(b, base);
        free(b);
        have_base = 1;
    }
    char *out = render_value((const char *)data, size);
    FUZZ_CHECK(out != NULL); /* fuzz inputs are far below the output cap */
    size_t got[sizeof(markup)];
    count_markup(out, got);
    /* '&' legitimately grows (entities); every other markup character must match exactly */
    for (size_t i = 0; i + 1 < sizeof(markup); i++)
        if (markup[i] != '&')
            FUZZ_CHECK(got[i] == base[i]);
    free(out);
    return 0;
}
