/* vault.c -- secrets at rest: the key file, sealing and opening values, keyed lookup hashes.
 * All key material lives in one sodium_malloc'd (guarded, mlocked) block that is made read-only
 * after loading and wiped by vault_close. The key file text is wiped as soon as it is parsed. */
#include "vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define KEY_HEX_LEN (KEY_LEN * 2)
#define MAX_KEY_TEXT 32768 /* 256 lines of "255 <64 hex>" fit easily */
#define MAX_CONTEXT 1024
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HEADER_LEN (1 + NONCE_LEN)
#define KEY_FILE "master.key"

struct vault {
    unsigned char hash_key[KEY_LEN];
    unsigned char keys[256][KEY_LEN]; /* indexed by kid; kid 0 is never used */
    unsigned char present[256];
    uint8_t current; /* the highest kid: it seals */
};

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Parses a kid "1".."255" from s[0..len). 0 on success. */
static int
parse_kid(const char *s, size_t len, unsigned *out)
{
    if (len == 0 || len > 3 || s[0] == '0')
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 255)
        return -1;
    *out = v;
    return 0;
}

static int
parse_hex_key(const char *s, size_t len, unsigned char out[KEY_LEN])
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (len != KEY_HEX_LEN)
        return -1;
    if (sodium_hex2bin(out, KEY_LEN, s, len, NULL, &bin_len, &end) != 0)
        return -1;
    return bin_len == KEY_LEN && end == s + len ? 0 : -1;
}

/* One line: "hash <hex>" or "<kid> <hex>". Blank lines and '#' comments are skipped. */
static int
parse_line(struct vault *v, const char *line, size_t len, int lineno, int *have_hash, char *err,
           size_t errlen)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (len == 0 || line[0] == '#')
        return 0;
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL) {
        set_err(err, errlen, "master key line %d: expected '<id> <64 hex digits>'", lineno);
        return -1;
    }
    size_t name_len = (size_t)(sp - line);
    const char *hex = sp + 1;
    size_t hex_len = len - name_len - 1;
    while (hex_len > 0 && *hex == ' ') {
        hex++;
        hex_len--;
    }
    if (name_len == 4 && memcmp(line, "hash", 4) == 0) {
        if (*have_hash) {
            set_err(err, errlen, "master key line %d: a second 'hash' key", lineno);
            return -1;
        }
        if (parse_hex_key(hex, hex_len, v->hash_key) != 0) {
            set_err(err, errlen, "master key line %d: the key must be 64 hex digits", lineno);
            return -1;
        }
        *have_hash = 1;
        return 0;
    }
    unsigned kid;
    if (parse_kid(line, name_len, &kid) != 0) {
        set_err(err, errlen, "master key line %d: the key id must be 'hash' or 1..255", lineno);
        return -1;
    }
    if (v->present[kid]) {
        set_err(err, errlen, "master key line %d: key id %u is listed twice", lineno, kid);
        return -1;
    }
    if (parse_hex_key(hex, hex_len, v->keys[kid]) != 0) {
        set_err(err, errlen, "master key line %d: the key must be 64 hex digits", lineno);
        return -1;
    }
    v->present[kid] = 1;
    if (kid > v->current)
        v->current = (uint8_t)kid;
    return 0;
}

static int
parse_key_text(struct vault *v, const char *text, size_t len, char *err, size_t errlen)
{
    int have_hash = 0, lineno = 0;
    size_t pos = 0;
    if (len > MAX_KEY_TEXT) {
        set_err(err, errlen, "master key text is larger than %d bytes", MAX_KEY_TEXT);
        return -1;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (memchr(text + pos, '\0', line_len) != NULL) {
            set_err(err, errlen, "master key line %d: contains a NUL byte", lineno);
            return -1;
        }
        if (parse_line(v, text + pos, line_len, lineno, &have_hash, err, errlen) != 0)
            return -1;
        pos += line_len + (nl ? 1 : 0);
    }
    if (!have_hash) {
        set_err(err, errlen, "master key has no 'hash <64 hex digits>' line");
        return -1;
    }
    if (v->current == 0) {
        set_err(err, errlen, "master key has no sealing key ('<id 1..255> <64 hex digits>')");
        return -1;
    }
    return 0;
}

/* Fresh key text: a hash key and sealing key 1. *out is malloc'd; wipe it before freeing. */
static char *
new_key_text(size_t *len)
{
    unsigned char key[KEY_LEN];
    char hex[KEY_HEX_LEN + 1];
    size_t cap = 2 * (KEY_HEX_LEN + 8);
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    int n = snprintf(text, cap, "hash %s\n", hex);
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    n += snprintf(text + n, cap - (size_t)n, "1 %s\n", hex);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    *len = (size_t)n;
    return text;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes text, synced, to a private (0600) temporary file in dir whose name goes to tmp. 0, or -1
 * with err (nothing left behind). */
static int
write_temp_key_file(const char *dir, char tmp[4096], const char *text, size_t len, char *err,
                    size_t errlen)
{
    int n = snprintf(tmp, 4096, "%s/.%s.%ld.tmp", dir, KEY_FILE, (long)getpid());
    if (n < 0 || n >= 4096) {
        set_err(err, errlen, "data directory path is too long");
        return -1;
    }
    (void)unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, text, len) != 0 || fsync(fd) != 0) {
        set_err(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    return 0;
}

/* Writes text to a private temporary file and links it into place, so a reader never sees a
 * half-written key file. 0 when this call created the file, 1 when another process won the race,
 * -1 on error. */
static int
create_key_file(const char *dir, const char *path, const char *text, size_t len, char *err,
                size_t errlen)
{
    char tmp[4096];
    if (write_temp_key_file(dir, tmp, text, len, err, errlen) != 0)
        return -1;
    int rc = link(tmp, path);
    int saved = errno;
    unlink(tmp);
    if (rc != 0 && saved == EEXIST)
        return 1;
    if (rc != 0) {
        set_err(err, errlen, "cannot create '%s': %s", path, strerror(saved));
        return -1;
    }
    fsync_dir(dir);
    return 0;
}

/* Reads the key file into a malloc'd buffer (wipe before freeing). 0, 1 when it does not exist, or
 * -1 with err set (including a file that group or others may read). */
static int
read_key_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 1;
    if (fd < 0) {
        set_err(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "'%s' is not a regular file", path);
        close(fd);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        set_err(err, errlen, "'%s' is readable by group or others (mode %03o); run chmod 600 on it",
                path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    if (st.st_size > MAX_KEY_TEXT) {
        set_err(err, errlen, "'%s' is larger than %d bytes", path, MAX_KEY_TEXT);
        close(fd);
        return -1;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t len = 0;
    if (text == NULL) {
        set_err(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    *out = text;
    *outlen = len;
    return 0;
}

/* The key file's text: read, or created with fresh keys. Same return convention as read_key_file
 * minus the 1. */
static int
load_or_create(const char *dir, char **text, size_t *len, char *err, size_t errlen)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, KEY_FILE);
    if (n < 0 || (size_t)n >= sizeof path) {
        set_err(err, errlen, "data directory path is too long");
        return -1;
    }
    int rc = read_key_file(path, text, len, err, errlen);
    if (rc != 1)
        return rc;
    size_t new_len = 0;
    char *fresh = new_key_text(&new_len);
    if (fresh == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    rc = create_key_file(dir, path, fresh, new_len, err, errlen);
    if (rc == 0) {
        *text = fresh;
        *len = new_len;
        return 0;
    }
    sodium_memzero(fresh, new_len);
    free(fresh);
    if (rc < 0)
        return -1;
    rc = read_key_file(path, text, len, err, errlen); /* lost the race: use the winner's keys */
    if (rc == 1)
        set_err(err, errlen, "'%s' vanished while it was being created", path);
    return rc == 0 ? 0 : -1;
}

/* Writes text to a fresh temporary file in dir and renames it over path. 0 or -1 with err. */
static int
replace_key_file(const char *dir, const char *path, const char *text, size_t len, char *err,
                 size_t errlen)
{
    char tmp[4096];
    if (write_temp_key_file(dir, tmp, text, len, err, errlen) != 0)
        return -1;
    if (rename(tmp, path) != 0) {
        set_err(err, errlen, "cannot replace '%s': %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir(dir);
    return 0;
}

/* The existing text plus a line for a new sealing key with id kid. malloc'd, wipe before free. */
static char *
append_key_line(const char *text, size_t len, unsigned kid, size_t *outlen)
{
    unsigned char key[KEY_LEN];
    char hex[KEY_HEX_LEN + 1];
    size_t cap = len + KEY_HEX_LEN + 16;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    memcpy(out, text, len);
    size_t pos = len;
    if (pos > 0 && out[pos - 1] != '\n')
        out[pos++] = '\n';
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    int n = snprintf(out + pos, cap - pos, "%u %s\n", kid, hex);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    *outlen = pos + (size_t)n;
    return out;
}

int
vault_rotate(const char *dir, uint8_t *new_kid, char *err, size_t errlen)
{
    char path[4096];
    char *text = NULL, *next = NULL;
    size_t len = 0, next_len = 0;
    int rc = -1;
    if (sodium_init() < 0) {
        set_err(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    int n = snprintf(path, sizeof path, "%s/%s", dir, KEY_FILE);
    if (n < 0 || (size_t)n >= sizeof path) {
        set_err(err, errlen, "data directory path is too long");
        return -1;
    }
    int r = read_key_file(path, &text, &len, err, errlen);
    if (r == 1)
        set_err(err, errlen, "'%s' does not exist; start the server once to create it", path);
    if (r != 0)
        return -1;
    struct vault *v = sodium_malloc(sizeof *v);
    if (v == NULL) {
        set_err(err, errlen, "cannot allocate locked memory for the keys");
        goto out;
    }
    memset(v, 0, sizeof *v);
    if (parse_key_text(v, text, len, err, errlen) != 0)
        goto out;
    if (v->current == 255) {
        set_err(err, errlen, "key id 255 is already in use; no further rotation is possible");
        goto out;
    }
    unsigned kid = (unsigned)v->current + 1;
    next = append_key_line(text, len, kid, &next_len);
    if (next == NULL) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    if (replace_key_file(dir, path, next, next_len, err, errlen) != 0)
        goto out;
    *new_kid = (uint8_t)kid;
    rc = 0;
out:
    if (v != NULL)
        sodium_free(v);
    if (next != NULL) {
        sodium_memzero(next, next_len);
        free(next);
    }
    sodium_memzero(text, len);
    free(text);
    return rc;
}

int
vault_open(const char *dir, const char *key_text, struct vault **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (sodium_init() < 0) {
        set_err(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (key_text != NULL) {
        len = strlen(key_text);
        text = malloc(len + 1);
        if (text == NULL) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        memcpy(text, key_text, len + 1);
    } else if (dir == NULL || load_or_create(dir, &text, &len, err, errlen) != 0) {
        if (dir == NULL)
            set_err(err, errlen, "no data directory and no master key text");
        return -1;
    }
    struct vault *v = sodium_malloc(sizeof *v);
    if (v == NULL) {
        sodium_memzero(text, len);
        free(text);
        set_err(err, errlen, "cannot allocate locked memory for the keys");
        return -1;
    }
    memset(v, 0, sizeof *v);
    int rc = parse_key_text(v, text, len, err, errlen);
    sodium_memzero(text, len);
    free(text);
    if (rc != 0) {
        sodium_free(v);
        return -1;
    }
    sodium_mprotect_readonly(v);
    *out = v;
    return 0;
}

void
vault_close(struct vault *v)
{
    if (v != NULL)
        sodium_free(v); /* makes the block writable again and wipes it */
}

/* "v1|<context>|<kid>" into ad. Its length, or 0 when context is too long. */
static size_t
make_ad(char *ad, size_t adlen, const char *context, unsigned kid)
{
    if (context == NULL)
        context = "";
    int n = snprintf(ad, adlen, "v1|%s|%u", context, kid);
    if (n < 0 || (size_t)n >= adlen)
        return 0;
    return (size_t)n;
}

int
vault_seal(const struct vault *v, const char *context, const void *pt, size_t ptlen,
           unsigned char **out, size_t *outlen)
{
    char ad[MAX_CONTEXT + 16];
    unsigned kid = v->current;
    size_t adlen = make_ad(ad, sizeof ad, context, kid);
    if (adlen == 0 || ptlen > SIZE_MAX - HEADER_LEN - TAG_LEN)
        return -1;
    size_t total = HEADER_LEN + ptlen + TAG_LEN;
    unsigned char *buf = malloc(total);
    if (buf == NULL)
        return -1;
    buf[0] = (unsigned char)kid;
    randombytes_buf(buf + 1, NONCE_LEN);
    unsigned long long ctlen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + HEADER_LEN, &ctlen, pt, ptlen,
                                               (const unsigned char *)ad, adlen, NULL, buf + 1,
                                               v->keys[kid]);
    *out = buf;
    *outlen = HEADER_LEN + (size_t)ctlen;
    return 0;
}

int
vault_unseal(const struct vault *v, const char *context, const unsigned char *in, size_t inlen,
             char **pt, size_t *ptlen)
{
    char ad[MAX_CONTEXT + 16];
    if (in == NULL || inlen < HEADER_LEN + TAG_LEN)
        return -1;
    unsigned kid = in[0];
    if (kid == 0 || !v->present[kid])
        return -1;
    size_t adlen = make_ad(ad, sizeof ad, context, kid);
    if (adlen == 0)
        return -1;
    size_t maxlen = inlen - HEADER_LEN - TAG_LEN;
    char *buf = malloc(maxlen + 1);
    if (buf == NULL)
        return -1;
    unsigned long long n = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)buf, &n, NULL, in + HEADER_LEN,
                                                   inlen - HEADER_LEN, (const unsigned char *)ad,
                                                   adlen, in + 1, v->keys[kid]) != 0) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *pt = buf;
    *ptlen = (size_t)n;
    return 0;
}

void
vault_free_secret(char *p, size_t len)
{
    if (p == NULL)
        return;
    sodium_memzero(p, len);
    free(p);
}

void
vault_hash(const struct vault *v, const char *s, unsigned char out[VAULT_HASH_LEN])
{
    if (s == NULL)
        s = "";
    crypto_generichash(out, VAULT_HASH_LEN, (const unsigned char *)s, strlen(s), v->hash_key,
                       KEY_LEN);
}

int
vault_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

uint8_t
vault_current_kid(const struct vault *v)
{
    return v->current;
}

int
vault_reload(struct vault *v, const char *dir, int *added, char *err, size_t errlen)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    *added = 0;
    snprintf(path, sizeof path, "%s/%s", dir, KEY_FILE);
    int rc = read_key_file(path, &text, &len, err, errlen);
    if (rc != 0) {
        if (rc == 1)
            set_err(err, errlen, "'%s' does not exist", path);
        return -1;
    }
    struct vault *next = sodium_malloc(sizeof *next);
    if (next == NULL) {
        sodium_memzero(text, len);
        free(text);
        set_err(err, errlen, "cannot allocate locked memory for the keys");
        return -1;
    }
    memset(next, 0, sizeof *next);
    rc = parse_key_text(next, text, len, err, errlen);
    sodium_memzero(text, len);
    free(text);
    if (rc == 0 && sodium_memcmp(next->hash_key, v->hash_key, KEY_LEN) != 0) {
        set_err(err, errlen, "the hash key in '%s' changed; restart to use it", path);
        rc = -1;
    }
    for (unsigned kid = 1; rc == 0 && kid < 256; kid++) {
        if (next->present[kid] && v->present[kid] &&
            sodium_memcmp(next->keys[kid], v->keys[kid], KEY_LEN) != 0) {
            set_err(err, errlen, "key id %u in '%s' changed; restart to use it", kid, path);
            rc = -1;
        }
    }
    if (rc == 0) {
        sodium_mprotect_readwrite(v);
        for (unsigned kid = 1; kid < 256; kid++) {
            if (!next->present[kid] || v->present[kid])
                continue;
            memcpy(v->keys[kid], next->keys[kid], KEY_LEN);
            __atomic_store_n(&v->present[kid], 1, __ATOMIC_RELEASE);
            (*added)++;
        }
        if (next->current > v->current)
            __atomic_store_n(&v->current, next->current, __ATOMIC_RELEASE);
        sodium_mprotect_readonly(v);
    }
    sodium_free(next);
    return rc;
}
