/* utf8.h -- strict UTF-8 validation (no overlongs, no surrogates, nothing above U+10FFFF). */
#ifndef TETHER_COMMON_UTF8_H
#define TETHER_COMMON_UTF8_H
#include <stddef.h>

/* 1 when s[0..len) is valid UTF-8 without NUL bytes, else 0. */
int utf8_valid(const char *s, size_t len);

#endif
