#include "common/jsonw.h"
#include <string.h>

void
jsonw_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (s == NULL) {
        buf_append(b, "null", 4);
        return;
    }
    buf_append(b, "\"", 1);
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        buf_append(b, run, (size_t)(p - run));
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t n = 2;
        if (ch == '\n')
            esc[1] = 'n';
        else if (ch == '\t')
            esc[1] = 't';
        else if (ch == '\r')
            esc[1] = 'r';
        else if (ch < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        buf_append(b, esc, n);
        run = p + 1;
    }
    buf_puts(b, run);
    buf_append(b, "\"", 1);
}

void
jsonw_key(struct buf *b, const char *key, int first)
{
    if (!first)
        buf_append(b, ",", 1);
    jsonw_str(b, key);
    buf_append(b, ":", 1);
}
