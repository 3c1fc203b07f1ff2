/* utf8.c -- strict UTF-8 validation for utf8.h (RFC 3629 well-formed byte sequences). */
#include "common/utf8.h"

/* Length of the sequence that starts with lead byte c, or 0 when c cannot start one. */
static int
seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0; /* continuation byte, overlong 2-byte lead (c0/c1), or above U+10FFFF */
}

/* 1 when the second byte b is allowed after lead c: this check rules out overlong 3- and 4-byte
 * forms, the surrogates U+D800..U+DFFF, and code points above U+10FFFF. */
static int
second_ok(unsigned char c, unsigned char b)
{
    switch (c) {
    case 0xe0:
        return b >= 0xa0 && b <= 0xbf;
    case 0xed:
        return b >= 0x80 && b <= 0x9f;
    case 0xf0:
        return b >= 0x90 && b <= 0xbf;
    case 0xf4:
        return b >= 0x80 && b <= 0x8f;
    default:
        return b >= 0x80 && b <= 0xbf;
    }
}

int
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == 0)
            return 0;
        int n = seq_len(c);
        if (n == 0 || (size_t)n > len - i)
            return 0;
        if (n > 1 && !second_ok(c, p[i + 1]))
            return 0;
        for (int k = 2; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        i += (size_t)n;
    }
    return 1;
}
