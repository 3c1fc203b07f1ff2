/* error.c -- the error table's sentences and names, and the calling thread's detail of its last
 * failure. The detail lives in fixed thread-local buffers, so recording an error never allocates
 * and a thread's exit leaks nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tether_int.h"

struct err_detail {
    int code;
    long http_status;
    long server_code;
    char message[1024];
    char server_message[512];
    char request_id[128];
    char suggested_fix[512];
    char account_id[128];
    char account_status[32];
    char status_reason[512];
};

static __thread struct err_detail tls_err;

const char *
tether_strerror(int code)
{
    switch (code) {
#define TETHER_ERR_MSG_(name, value, id, msg)                                                      \
    case value:                                                                                    \
        return msg;
        TETHER_ERRNO_MAP(TETHER_ERR_MSG_)
#undef TETHER_ERR_MSG_
    }
    return "unknown error";
}

const char *
tether_err_name(int code)
{
    switch (code) {
#define TETHER_ERR_NAME_(name, value, id, msg)                                                     \
    case value:                                                                                    \
        return id;
        TETHER_ERRNO_MAP(TETHER_ERR_NAME_)
#undef TETHER_ERR_NAME_
    }
    return "unknown";
}

const char *
tether_errmsg(const tether_client *c)
{
    return tls_err.message;
}

static const char *
or_null(const char *s)
{
    return s[0] ? s : NULL;
}

void
tether_errinfo(const tether_client *c, tether_error_info *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    out->code = tls_err.code;
    out->message = tls_err.message;
    out->http_status = tls_err.http_status;
    out->server_code = tls_err.server_code;
    out->server_message = or_null(tls_err.server_message);
    out->request_id = or_null(tls_err.request_id);
    out->suggested_fix = or_null(tls_err.suggested_fix);
    out->account_id = or_null(tls_err.account_id);
    out->account_status = or_null(tls_err.account_status);
    out->status_reason = or_null(tls_err.status_reason);
}

/* Copies src (may be NULL) into dst of size n, truncated, always terminated. */
static void
copy_field(char *dst, size_t n, const char *src)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void
reset(int code)
{
    memset(&tls_err, 0, sizeof(tls_err));
    tls_err.code = code;
}

int
tether__fail(int code, const char *fmt, ...)
{
    reset(code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err.message, sizeof(tls_err.message), fmt, ap);
    va_end(ap);
    return code;
}

static int
code_for_status(long status)
{
    switch (status) {
    case 400:
    case 413:
    case 422:
        return TETHER_EBADREQUEST;
    case 401:
        return TETHER_EUNAUTHORIZED;
    case 403:
        return TETHER_EFORBIDDEN;
    case 404:
        return TETHER_ENOTFOUND;
    case 409:
        return TETHER_ECONFLICT;
    case 429:
        return TETHER_ERATELIMITED;
    }
    return status >= 500 ? TETHER_ESERVER : TETHER_EPROTOCOL;
}

int
tether__fail_http(long status, const json_t *body, const char *method, const char *path)
{
    int code = code_for_status(status);
    reset(code);
    tls_err.http_status = status;
    const json_t *e = json_is_object(body) ? json_object_get(body, "error") : NULL;
    const char *msg = NULL;
    if (json_is_object(e)) {
        msg = tether__jstr(e, "message");
        tls_err.server_code = (long)json_integer_value(json_object_get(e, "code"));
        copy_field(tls_err.request_id, sizeof(tls_err.request_id), tether__jstr(e, "request_id"));
        copy_field(tls_err.suggested_fix, sizeof(tls_err.suggested_fix),
                   tether__jstr(e, "suggested_fix"));
    } else if (json_is_string(e)) {
        msg = json_string_value(e);
    } else if (json_is_object(body)) {
        msg = tether__jstr(body, "message");
    }
    copy_field(tls_err.server_message, sizeof(tls_err.server_message), msg);
    if (msg != NULL && msg[0] != '\0')
        snprintf(tls_err.message, sizeof(tls_err.message), "%s: %s (HTTP %ld on %s %s)",
                 tether_strerror(code), msg, status, method, path);
    else
        snprintf(tls_err.message, sizeof(tls_err.message), "%s (HTTP %ld on %s %s)",
                 tether_strerror(code), status, method, path);
    return code;
}

int
tether__fail_account(int code, const char *account_id, const char *status, const char *reason)
{
    reset(code);
    copy_field(tls_err.account_id, sizeof(tls_err.account_id), account_id);
    copy_field(tls_err.account_status, sizeof(tls_err.account_status), status);
    copy_field(tls_err.status_reason, sizeof(tls_err.status_reason), reason);
    if (reason != NULL && reason[0] != '\0')
        snprintf(tls_err.message, sizeof(tls_err.message), "connection %s is %s: %s", account_id,
                 status, reason);
    else
        snprintf(tls_err.message, sizeof(tls_err.message), "connection %s is %s", account_id,
                 status);
    return code;
}
