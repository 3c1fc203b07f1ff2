#include "common/jsonv.h"
#include <string.h>

static int
depth_ok(const json_t *v, int depth)
{
    if (depth > 32)
        return 0;
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (!depth_ok(x, depth + 1)) return 0;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (!depth_ok(x, depth + 1)) return 0;
    }
    return 1;
}

json_t *
jv_parse_object(const char *data, size_t len, struct err *e)
{
    if (len == 0) {
        err_set(e, ERR_INVALID_JSON, "the request body is empty; send a JSON object");
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        err_set(e, ERR_INVALID_JSON, "malformed JSON at line %d column %d: %s", je.line, je.column,
                je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        err_set(e, ERR_INVALID_JSON, "the request body must be a JSON object");
        return NULL;
    }
    if (!depth_ok(v, 0)) {
        json_decref(v);
        err_set(e, ERR_INVALID_JSON, "the request body is nested too deeply");
        return NULL;
    }
    return v;
}

int
jv_only(const json_t *obj, const char *const *allowed, const char *where, struct err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            return err_set(e, ERR_VALIDATION, "unknown field '%.64s' in %s", k, where);
    }
    return 0;
}

/* 1 when present and not null, 0 when absent or null (error set when required). */
static int
present(const json_t *obj, const char *key, int required, json_t **v, struct err *e)
{
    *v = json_object_get(obj, key);
    if (*v != NULL && !json_is_null(*v))
        return 1;
    if (required)
        return err_set(e, ERR_VALIDATION, "'%s' is required", key);
    return 0;
}

int
jv_string(const json_t *obj, const char *key, int required, size_t maxlen, const char **out,
          struct err *e)
{
    json_t *v;
    int p = present(obj, key, required, &v, e);
    if (p <= 0)
        return p;
    if (!json_is_string(v))
        return err_set(e, ERR_VALIDATION, "'%s' must be a string", key);
    size_t n = json_string_length(v);
    if (n > maxlen)
        return err_set(e, ERR_VALIDATION, "'%s' is longer than %zu bytes", key, maxlen);
    if (required && n == 0)
        return err_set(e, ERR_VALIDATION, "'%s' must not be empty", key);
    *out = json_string_value(v);
    return 0;
}

int
jv_bool(const json_t *obj, const char *key, int required, int *out, struct err *e)
{
    json_t *v;
    int p = present(obj, key, required, &v, e);
    if (p <= 0)
        return p;
    if (!json_is_boolean(v))
        return err_set(e, ERR_VALIDATION, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

int
jv_int(const json_t *obj, const char *key, int required, long long min, long long max,
       long long *out, struct err *e)
{
    json_t *v;
    int p = present(obj, key, required, &v, e);
    if (p <= 0)
        return p;
    if (!json_is_integer(v))
        return err_set(e, ERR_VALIDATION, "'%s' must be an integer", key);
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return err_set(e, ERR_VALIDATION, "'%s' must be between %lld and %lld", key, min, max);
    *out = n;
    return 0;
}

int
jv_object(const json_t *obj, const char *key, int required, json_t **out, struct err *e)
{
    json_t *v;
    int p = present(obj, key, required, &v, e);
    if (p <= 0)
        return p;
    if (!json_is_object(v))
        return err_set(e, ERR_VALIDATION, "'%s' must be an object", key);
    *out = v;
    return 0;
}

int
jv_string_array(const json_t *obj, const char *key, int required, size_t maxn, size_t maxlen,
                json_t **out, struct err *e)
{
    json_t *v;
    int p = present(obj, key, required, &v, e);
    if (p <= 0)
        return p;
    if (!json_is_array(v))
        return err_set(e, ERR_VALIDATION, "'%s' must be an array of strings", key);
    if (json_array_size(v) > maxn)
        return err_set(e, ERR_VALIDATION, "'%s' has more than %zu entries", key, maxn);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > maxlen)
            return err_set(e, ERR_VALIDATION, "'%s' must hold strings of 1 to %zu bytes", key,
                           maxlen);
    }
    *out = v;
    return 0;
}
