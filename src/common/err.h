/* err.h -- the one error table. Every failure a client can see has a name, an HTTP status, a
 * numeric code (1803 is Composio's "connected account not found", which the official SDK maps to
 * its own error class) and a slug. Services fill a struct err; the HTTP error funnel renders it.
 * New codes go at the end; numbers are never reused. */
#ifndef TETHER_COMMON_ERR_H
#define TETHER_COMMON_ERR_H
#include <stddef.h>

#define ERR_TABLE(X)                                                                               \
    X(OK, 200, 0, "ok")                                                                            \
    X(BAD_REQUEST, 400, 1001, "bad_request")                                                       \
    X(INVALID_JSON, 400, 1002, "invalid_json")                                                     \
    X(VALIDATION, 400, 1003, "validation_failed")                                                  \
    X(UNAUTHORIZED, 401, 1101, "unauthorized")                                                     \
    X(FORBIDDEN, 403, 1102, "forbidden")                                                           \
    X(NOT_FOUND, 404, 1200, "not_found")                                                           \
    X(SESSION_NOT_FOUND, 404, 1201, "session_not_found")                                           \
    X(TOOLKIT_NOT_FOUND, 404, 1202, "toolkit_not_found")                                           \
    X(AUTH_CONFIG_NOT_FOUND, 404, 1203, "auth_config_not_found")                                   \
    X(ACCOUNT_NOT_FOUND, 404, 1803, "connected_account_not_found")                                 \
    X(METHOD_NOT_ALLOWED, 405, 1005, "method_not_allowed")                                         \
    X(CONFLICT, 409, 1300, "conflict")                                                             \
    X(GONE, 410, 1301, "gone")                                                                     \
    X(PAYLOAD_TOO_LARGE, 413, 1006, "payload_too_large")                                           \
    X(UNSUPPORTED_MEDIA, 415, 1007, "unsupported_media_type")                                      \
    X(RATE_LIMITED, 429, 1400, "rate_limited")                                                     \
    X(INTERNAL, 500, 1500, "internal_error")                                                       \
    X(UPSTREAM, 502, 1502, "upstream_error")                                                       \
    X(UNAVAILABLE, 503, 1501, "unavailable")                                                       \
    X(TOOL_NOT_FOUND, 404, 1204, "tool_not_found")                                                 \
    X(NO_AUTH_TOOLKIT, 400, 1004, "toolkit_needs_no_auth")

enum err_code {
#define ERR_ENUM(name, status, code, slug) ERR_##name,
    ERR_TABLE(ERR_ENUM)
#undef ERR_ENUM
        ERR_COUNT
};

/* What went wrong, for the person reading the response. Fill with err_set; message and fix are
 * plain sentences without secrets. */
struct err {
    enum err_code code;
    char message[256];
    char fix[192]; /* suggested fix, "" when there is nothing useful to say */
};

/* Sets e (NULL is fine) and returns -1, so services can `return err_set(e, ...)`. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a suggested fix to an error already set. */
void err_fix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

unsigned err_http_status(enum err_code c);
int err_number(enum err_code c);
const char *err_slug(enum err_code c);

#endif
