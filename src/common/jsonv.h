/* jsonv.h -- checks for untrusted JSON request bodies, with messages that name the field.
 * Each getter returns 0 (and writes *out, or leaves it alone when an optional field is absent or
 * null) or -1 with ERR_VALIDATION set in e. Strings come back as pointers into obj. */
#ifndef TETHER_COMMON_JSONV_H
#define TETHER_COMMON_JSONV_H
#include <jansson.h>
#include <stddef.h>
#include "common/err.h"

/* Parses a request body: an object, no duplicate keys, valid UTF-8, depth <= 32. NULL with
 * ERR_INVALID_JSON in e otherwise. The caller owns the result. */
json_t *jv_parse_object(const char *data, size_t len, struct err *e);
/* -1 when obj has a key not in allowed (NULL-terminated); where names obj in the message. */
int jv_only(const json_t *obj, const char *const *allowed, const char *where, struct err *e);
int jv_string(const json_t *obj, const char *key, int required, size_t maxlen, const char **out,
              struct err *e);
int jv_bool(const json_t *obj, const char *key, int required, int *out, struct err *e);
int jv_int(const json_t *obj, const char *key, int required, long long min, long long max,
           long long *out, struct err *e);
/* An object (or NULL when absent/null and not required). */
int jv_object(const json_t *obj, const char *key, int required, json_t **out, struct err *e);
/* An array of at most maxn strings, each 1..maxlen bytes. */
int jv_string_array(const json_t *obj, const char *key, int required, size_t maxn, size_t maxlen,
                    json_t **out, struct err *e);

#endif
