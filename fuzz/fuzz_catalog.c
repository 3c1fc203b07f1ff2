/* fuzz_catalog.c -- the catalogue loader on an arbitrary operator toolkit file (--catalog-dir).
 * The input is written as the only file of a temporary directory (named after its "slug" when
 * that is a plain identifier, so that valid entries get past the name check); the embedded table
 * holds no toolkits, only a few logos the seeds name.
 * Checks: a refused file has a message; an accepted one is the only entry, found by its slug,
 * with at least one scheme, every field and tool reachable; placeholder expansion and credential
 * building either refuse or give printable text without CR/LF. */
#include <jansson.h>
#include <unistd.h>
#include "catalog/catalog.h"
#include "common/embedded.h"
#include "fuzz.h"

const struct embedded_file embedded_files[] = {
    {"catalog/logos/fuzz.svg", "<svg/>", 6},
    {"catalog/logos/hubspot.svg", "<svg/>", 6},
    {"catalog/logos/linear.svg", "<svg/>", 6},
    {"catalog/logos/openweathermap.svg", "<svg/>", 6},
    {"catalog/logos/sendgrid.svg", "<svg/>", 6},
    {"catalog/logos/twilio.svg", "<svg/>", 6},
    {"catalog/logos/zendesk.svg", "<svg/>", 6},
    {"catalog/logos/hackernews.svg", "<svg/>", 6},
    {NULL, NULL, 0},
};

static char dir[64];
static char file[160];

static void
cleanup(void)
{
    if (file[0] != '\0')
        unlink(file);
    rmdir(dir);
}

static void
setup(void)
{
    if (dir[0] != '\0')
        return;
    snprintf(dir, sizeof dir, "%s", "/tmp/tether-fuzz-catalog.XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    atexit(cleanup);
}

/* The file name for the input: "<slug>.json" when its slug is [a-z0-9_]{1,40}, else fuzz.json. */
static void
name_for(const uint8_t *data, size_t size, char *out, size_t outlen)
{
    const char *slug = "fuzz";
    json_t *v = json_loadb((const char *)data, size, 0, NULL);
    const char *s = json_string_value(json_object_get(v, "slug"));
    if (s != NULL && strlen(s) >= 1 && strlen(s) <= 40 &&
        strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s))
        slug = s;
    snprintf(out, outlen, "%s/%s.json", dir, slug);
    json_decref(v);
}

static int
printable_line(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static void
check_entry(void)
{
    FUZZ_CHECK(catalog_count() == 1);
    const struct catalog_toolkit *t = catalog_at(0);
    FUZZ_CHECK(t != NULL && catalog_at(1) == NULL);
    FUZZ_CHECK(t->slug != NULL && catalog_get(t->slug) == t);
    FUZZ_CHECK(t->name != NULL && t->tools != NULL && json_is_array(t->tools));
    FUZZ_CHECK(t->nschemes >= 1 && t->schemes != NULL);
    FUZZ_CHECK(json_is_object(catalog_headers(t)));
    json_t *fields = json_pack("{ss ss}", "subdomain", "acme", "region", "eu");
    json_t *creds = json_pack("{ss ss ss ss ss}", "access_token", "tok", "api_key", "key",
                              "username", "user", "password", "pw", "subdomain", "acme");
    char *base = t->base_url ? catalog_expand(t->base_url, fields) : NULL;
    FUZZ_CHECK(base == NULL || printable_line(base));
    free(base);
    for (size_t i = 0; i < t->nschemes; i++) {
        const struct catalog_scheme *s = &t->schemes[i];
        FUZZ_CHECK(s->type_name != NULL && catalog_scheme(t, s->type_name) != NULL);
        FUZZ_CHECK(s->nfields <= 16 && (s->nfields == 0 || s->fields != NULL));
        for (size_t f = 0; f < s->nfields; f++) {
            FUZZ_CHECK(s->fields[f].name != NULL && catalog_field_source(s, f) != NULL);
        }
        char *cred = catalog_credential(s, creds);
        FUZZ_CHECK(cred == NULL || printable_line(cred));
        free(cred);
    }
    size_t i;
    json_t *tool;
    json_array_foreach(t->tools, i, tool)
    {
        const char *slug = json_string_value(json_object_get(tool, "slug"));
        const struct catalog_toolkit *owner = NULL;
        FUZZ_CHECK(slug != NULL && catalog_tool(slug, &owner) == tool && owner == t);
    }
    json_decref(fields);
    json_decref(creds);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (file[0] != '\0')
        unlink(file);
    name_for(data, size, file, sizeof file);
    FILE *f = fopen(file, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    char err[512] = "";
    if (catalog_load(dir, err, sizeof err) == 0)
        check_entry();
    else
        FUZZ_CHECK(err[0] != '\0');
    catalog_free();
    return 0;
}
