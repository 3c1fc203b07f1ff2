/* buf.h -- a growable byte buffer with a hard cap set at init.
 * The buffer owns data; buf_free releases it (safe on a zeroed or freed buf). data is always
 * NUL-terminated after a successful append, so text can be read as a C string. */
#ifndef TETHER_COMMON_BUF_H
#define TETHER_COMMON_BUF_H
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass max fail with -1 and leave the buffer unchanged */
};

void buf_init(struct buf *b, size_t max);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (free() them) and resets b. Never NULL: "" for an empty buffer. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

#endif
