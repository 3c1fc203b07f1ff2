/* fuzz_jsonv.c -- jv_parse_object and every getter on arbitrary request bodies.
 * Checks: a parsed body is an object that survives a dump and reload unchanged; a refused one says
 * ERR_INVALID_JSON with a message; each getter either fails with ERR_VALIDATION and a message or
 * hands back a value of the promised type within the promised bounds; jv_only agrees with a direct
 * scan of the keys. */
#include "common/jsonv.h"
#include "common/utf8.h"
#include "fuzz.h"

static const char *const ALLOWED[] = {"user_id", "toolkits", "callback_url", "enable", NULL};

static void
check_failed(int rc, const struct err *e)
{
    FUZZ_CHECK(rc == -1);
    FUZZ_CHECK(e->code == ERR_VALIDATION);
    FUZZ_CHECK(e->message[0] != '\0');
}

static void
check_string(const json_t *obj, const char *key)
{
    for (int required = 0; required < 2; required++) {
        struct err e = {0};
        const char *out = NULL;
        int rc = jv_string(obj, key, required, 16, &out, &e);
        if (rc != 0) {
            check_failed(rc, &e);
            continue;
        }
        if (out == NULL) {
            FUZZ_CHECK(!required);
            continue;
        }
        size_t n = strlen(out);
        FUZZ_CHECK(n <= 16 && n == json_string_length(json_object_get(obj, key)));
        FUZZ_CHECK(utf8_valid(out, n));
        FUZZ_CHECK(!required || n > 0);
    }
}

static void
check_scalars(const json_t *obj, const char *key)
{
    struct err e = {0};
    int b = -7;
    int rc = jv_bool(obj, key, 0, &b, &e);
    if (rc != 0)
        check_failed(rc, &e);
    else
        FUZZ_CHECK(b == -7 || b == 0 || b == 1);

    long long n = -77;
    rc = jv_int(obj, key, 0, -5, 1000, &n, &e);
    if (rc != 0)
        check_failed(rc, &e);
    else
        FUZZ_CHECK(n == -77 || (n >= -5 && n <= 1000));

    json_t *o = NULL;
    rc = jv_object(obj, key, 0, &o, &e);
    if (rc != 0)
        check_failed(rc, &e);
    else
        FUZZ_CHECK(o == NULL || json_is_object(o));
}

static void
check_array(const json_t *obj, const char *key)
{
    struct err e = {0};
    json_t *a = NULL;
    int rc = jv_string_array(obj, key, 1, 4, 8, &a, &e);
    if (rc != 0) {
        check_failed(rc, &e);
        return;
    }
    FUZZ_CHECK(json_is_array(a) && json_array_size(a) <= 4);
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        FUZZ_CHECK(json_is_string(x));
        size_t n = json_string_length(x);
        FUZZ_CHECK(n >= 1 && n <= 8 && utf8_valid(json_string_value(x), n));
    }
}

static void
check_only(const json_t *obj)
{
    int unknown = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int known = 0;
        for (const char *const *a = ALLOWED; *a != NULL; a++)
            known |= strcmp(*a, k) == 0;
        unknown |= !known;
    }
    struct err e = {0};
    int rc = jv_only(obj, ALLOWED, "the fuzz body", &e);
    FUZZ_CHECK(rc == (unknown ? -1 : 0));
    if (rc != 0)
        check_failed(rc, &e);
}

/* Every getter on every key of obj and of its nested objects (one level), plus absent keys. */
static void
check_getters(const json_t *obj, int nested)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        check_string(obj, k);
        check_scalars(obj, k);
        check_array(obj, k);
        if (!nested && json_is_object(v))
            check_getters(v, 1);
    }
    check_string(obj, "\001absent");
    check_scalars(obj, "\001absent");
    check_only(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e = {0};
    json_t *v = jv_parse_object((const char *)data, size, &e);
    if (v == NULL) {
        FUZZ_CHECK(e.code == ERR_INVALID_JSON);
        FUZZ_CHECK(e.message[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(json_is_object(v));
    char *text = json_dumps(v, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(utf8_valid(text, strlen(text)));
    struct err e2 = {0};
    json_t *again = jv_parse_object(text, strlen(text), &e2);
    FUZZ_CHECK(again != NULL && json_equal(v, again));
    json_decref(again);
    free(text);
    check_getters(v, 0);
    json_decref(v);
    return 0;
}
