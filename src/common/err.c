#include "common/err.h"
#include <stdarg.h>
#include <stdio.h>

static const struct {
    unsigned status;
    int number;
    const char *slug;
} table[] = {
#define ERR_ROW(name, status, code, slug) {status, code, slug},
    ERR_TABLE(ERR_ROW)
#undef ERR_ROW
};

int
err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
    if (e == NULL)
        return -1;
    e->code = code;
    e->fix[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

void
err_fix(struct err *e, const char *fmt, ...)
{
    if (e == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->fix, sizeof e->fix, fmt, ap);
    va_end(ap);
}

unsigned
err_http_status(enum err_code c)
{
    return c < ERR_COUNT ? table[c].status : 500;
}

int
err_number(enum err_code c)
{
    return c < ERR_COUNT ? table[c].number : 1500;
}

const char *
err_slug(enum err_code c)
{
    return c < ERR_COUNT ? table[c].slug : "internal_error";
}
