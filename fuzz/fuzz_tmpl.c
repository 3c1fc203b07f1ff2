/* fuzz_tmpl.c -- tmpl_render with fuzzed template text against a fixed context. */
#include "common/tmpl.h"
#include "fuzz.h"

static json_t *ctx;

static const char ctx_json[] =
    "{\"name\":\"Ann <b>&\",\"n\":42,\"r\":2.5,\"t\":true,\"f\":false,\"z\":null,\"e\":\"\","
    "\"ea\":[],\"tags\":[\"a\",\"<x>\",\"c\"],"
    "\"items\":[{\"name\":\"one\",\"sub\":[1,2,3]},{\"name\":\"two\",\"sub\":[]}],"
    "\"app\":{\"name\":\"Acme\",\"logo\":{\"url\":\"/l.svg\"}},"
    "\"big\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx == NULL) {
        ctx = json_loads(ctx_json, 0, NULL);
        FUZZ_CHECK(ctx != NULL);
    }
    char *t = fuzz_cstr(data, size);
    char err[256] = "";
    char *out = tmpl_render(t, ctx, err, sizeof(err));
    if (out != NULL)
        FUZZ_CHECK(strlen(out) <= 1024 * 1024);
    else
        FUZZ_CHECK(err[0] != '\0');
    free(out);
    free(t);
    return 0;
}
