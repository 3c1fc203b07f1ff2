/* str.c -- the library's capped string builder, percent-encoding and small JSON/time helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tether_int.h"

void
tether__str_init(struct tether__str *s, size_t max)
{
    s->p = NULL;
    s->len = 0;
    s->cap = 0;
    s->max = max;
}

/* Makes room for n more bytes plus the terminator. 0 or -1. */
static int
reserve(struct tether__str *s, size_t n)
{
    if (n > s->max || s->len > s->max - n)
        return -1;
    size_t need = s->len + n + 1;
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (p == NULL)
        return -1;
    s->p = p;
    s->cap = cap;
    return 0;
}

int
tether__str_add(struct tether__str *s, const void *data, size_t n)
{
    if (reserve(s, n) != 0)
        return -1;
    if (n > 0)
        memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
    return 0;
}

int
tether__str_puts(struct tether__str *s, const char *text)
{
    return tether__str_add(s, text, strlen(text));
}

int
tether__str_printf(struct tether__str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(s, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
    return 0;
}

static int
unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

int
tether__str_escape(struct tether__str *s, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int rc = unreserved(*p) ? tether__str_add(s, p, 1) : tether__str_add(s, enc, 3);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void
tether__str_free(struct tether__str *s)
{
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}

int
tether__check_arg(const char *value, const char *what)
{
    if (value == NULL || value[0] == '\0')
        return tether__fail(TETHER_EINVAL, "missing %s", what);
    if (strnlen(value, TETHER__MAX_ARG + 1) > TETHER__MAX_ARG)
        return tether__fail(TETHER_EINVAL, "%s is longer than %d bytes", what, TETHER__MAX_ARG);
    return 0;
}

const char *
tether__jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

long long
tether__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Separator before the next parameter: nothing for the first. */
static int
query_sep(struct tether__str *q)
{
    return q->len > 0 ? tether__str_add(q, "&", 1) : 0;
}

int
tether__query_add(struct tether__str *q, const char *key, const char *value)
{
    if (value == NULL)
        return 0;
    int rc = tether__check_arg(value, key);
    if (rc != 0)
        return rc;
    if (query_sep(q) != 0 || tether__str_printf(q, "%s=", key) != 0 ||
        tether__str_escape(q, value) != 0)
        return tether__fail(TETHER_EINVAL, "the query is longer than %zu bytes", q->max);
    return 0;
}

int
tether__query_add_list(struct tether__str *q, const char *key, const char *const *list)
{
    if (list == NULL || list[0] == NULL)
        return 0;
    if (query_sep(q) != 0 || tether__str_printf(q, "%s=", key) != 0)
        return tether__fail(TETHER_EINVAL, "the query is longer than %zu bytes", q->max);
    for (size_t i = 0; list[i] != NULL; i++) {
        int rc = tether__check_arg(list[i], key);
        if (rc != 0)
            return rc;
        if ((i > 0 && tether__str_puts(q, "%2C") != 0) || tether__str_escape(q, list[i]) != 0)
            return tether__fail(TETHER_EINVAL, "the query is longer than %zu bytes", q->max);
    }
    return 0;
}
