/* ids.h -- identifiers and secret tokens from the OS random source (libsodium).
 * Public ids: prefix + 12 characters of [A-Za-z0-9] (ca_1a2b3c4d5e6f).
 * Secret tokens: prefix + base64url(32 random bytes), 43 characters after the prefix. */
#ifndef TETHER_COMMON_IDS_H
#define TETHER_COMMON_IDS_H
#include <stddef.h>

#define IDS_MAX 64 /* room for any id or token with its prefix and NUL */

/* Writes prefix + 12 alphanumerics into out (size >= strlen(prefix) + 13). */
void ids_new(char *out, size_t outlen, const char *prefix);
/* Writes prefix + 43 base64url characters into out (size >= strlen(prefix) + 44). */
void ids_token(char *out, size_t outlen, const char *prefix);
/* Short word id for LLMs: "<toolkit>_<adjective>-<noun>", e.g. "gmail_red-castle". */
void ids_word(char *out, size_t outlen, const char *toolkit);
/* 1 when s looks like prefix + [A-Za-z0-9_-]{1,60}, else 0. Cheap syntax check before a lookup. */
int ids_valid(const char *s, const char *prefix);

#endif
