/* ids.c -- random identifiers and secret tokens for ids.h, drawn from libsodium's CSPRNG.
 * A buffer too small for the result gets "" (or nothing when outlen is 0): callers size their
 * buffers with IDS_MAX, so this only guards against misuse. */
#include "common/ids.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDS_RAND_LEN 12
#define IDS_TOKEN_BYTES 32
#define IDS_MAX_SUFFIX 60

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static const char *const adjectives[] = {
    "amber", "bold",  "brave", "bright", "calm",   "clever", "cosmic", "crisp",
    "dusty", "eager", "fair",  "fancy",  "gentle", "golden", "green",  "happy",
    "jolly", "keen",  "lucky", "mellow", "misty",  "noble",  "proud",  "quick",
    "quiet", "red",   "rapid", "silver", "sunny",  "swift",  "tidy",   "witty",
};

static const char *const nouns[] = {
    "anchor", "badger", "beacon", "canyon",  "castle", "cedar",   "comet",  "coral",
    "falcon", "forest", "garden", "harbor",  "island", "lantern", "maple",  "meadow",
    "mesa",   "otter",  "pebble", "pine",    "planet", "prairie", "raven",  "river",
    "rocket", "summit", "spruce", "thunder", "tiger",  "valley",  "willow", "zephyr",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
ensure_sodium(void)
{
    static int ready;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        if (sodium_init() < 0)
            abort(); /* no random source: nothing secure can be generated */
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
}

/* Copies prefix into out; returns its length, or -1 (out set to "") when prefix plus need more
 * bytes (NUL included) do not fit. */
static int
put_prefix(char *out, size_t outlen, const char *prefix, size_t need)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    if (outlen == 0)
        return -1;
    if (plen >= outlen || outlen - plen < need) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, prefix ? prefix : "", plen);
    return (int)plen;
}

void
ids_new(char *out, size_t outlen, const char *prefix)
{
    int p = put_prefix(out, outlen, prefix, IDS_RAND_LEN + 1);
    if (p < 0)
        return;
    ensure_sodium();
    /* One call to the random source per id (each call is a system call): bytes at or above 248
     * (= 4 * 62) are dropped so every character stays uniform. */
    unsigned char r[48];
    int n = 0;
    while (n < IDS_RAND_LEN) {
        randombytes_buf(r, sizeof r);
        for (size_t i = 0; i < sizeof r && n < IDS_RAND_LEN; i++)
            if (r[i] < 248)
                out[p + n++] = alnum[r[i] % 62];
    }
    out[p + IDS_RAND_LEN] = '\0';
}

void
ids_token(char *out, size_t outlen, const char *prefix)
{
    size_t b64len =
        sodium_base64_ENCODED_LEN(IDS_TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int p = put_prefix(out, outlen, prefix, b64len);
    if (p < 0)
        return;
    ensure_sodium();
    unsigned char raw[IDS_TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out + p, outlen - (size_t)p, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void
ids_word(char *out, size_t outlen, const char *toolkit)
{
    if (outlen == 0)
        return;
    ensure_sodium();
    const char *adj = adjectives[randombytes_uniform(NELEM(adjectives))];
    const char *noun = nouns[randombytes_uniform(NELEM(nouns))];
    int n = snprintf(out, outlen, "%s_%s-%s", toolkit ? toolkit : "", adj, noun);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = '\0';
}

static int
id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int
ids_valid(const char *s, const char *prefix)
{
    if (s == NULL || prefix == NULL)
        return 0;
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0)
        return 0;
    const char *rest = s + plen;
    size_t n = 0;
    for (; rest[n]; n++)
        if (n >= IDS_MAX_SUFFIX || !id_char((unsigned char)rest[n]))
            return 0;
    return n >= 1;
}
