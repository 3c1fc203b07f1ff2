/* vault.h -- secrets at rest (libsodium).
 * Sealed values are  key_id (1 byte) | nonce (24) | XChaCha20-Poly1305 ciphertext | tag (16),  with
 * "v1|<context>|<key_id>" as associated data so a value cannot be moved to another row or field.
 * Lookup secrets (API keys, link tokens, OAuth states) are never stored: vault_hash() gives a keyed
 * BLAKE2b-256 of them, compared in constant time with vault_equal().
 * The key file "master.key" (0600) in the data dir holds the hash key and one or more sealing keys;
 * the newest sealing key seals, every listed key opens. TETHER_MASTER_KEY may hold the same text. */
#ifndef TETHER_VAULT_H
#define TETHER_VAULT_H
#include <stddef.h>
#include <stdint.h>

struct vault;

#define VAULT_HASH_LEN 32

/* Loads dir/master.key, creating it (0600, fresh random keys) when absent. When key_text is not NULL
 * it is used instead of the file. 0 and *out, or -1 with a sentence in err. */
int vault_open(const char *dir, const char *key_text, struct vault **out, char *err, size_t errlen);
void vault_close(struct vault *v); /* wipes the keys; NULL is fine */

/* Seals pt under the newest key. *out is malloc'd (free()), *outlen its size. 0 or -1. */
int vault_seal(const struct vault *v, const char *context, const void *pt, size_t ptlen,
               unsigned char **out, size_t *outlen);
/* Opens a sealed value. *pt is malloc'd, NUL-terminated, and must be released with
 * vault_free_secret(*pt, *ptlen). -1 when the value was tampered with, moved, or its key is unknown. */
int vault_unseal(const struct vault *v, const char *context, const unsigned char *in, size_t inlen,
                 char **pt, size_t *ptlen);
void vault_free_secret(char *p, size_t len); /* wipes, then frees; NULL is fine */

/* Keyed hash for lookups: out = BLAKE2b-256(hash_key, s). */
void vault_hash(const struct vault *v, const char *s, unsigned char out[VAULT_HASH_LEN]);
int vault_equal(const unsigned char *a, const unsigned char *b, size_t n); /* constant time, 1/0 */

/* The id of the sealing key (for the rotation command and tests). */
uint8_t vault_current_kid(const struct vault *v);

/* Adds a new sealing key (id = newest + 1) to dir/master.key, replacing the file atomically. Values
 * sealed before stay readable; vaults opened afterwards seal with the new key. 0 and *new_kid, or
 * -1 with a sentence in err (no key file, unsafe mode, id 255 already used). */
int vault_rotate(const char *dir, uint8_t *new_kid, char *err, size_t errlen);

/* Re-reads dir/master.key into a running vault: sealing keys it does not know yet are added and
 * the newest becomes the sealing key (after `tether vault rotate` by another process). Keys are
 * never removed while running. Safe while other threads seal and unseal; call it from one thread
 * at a time. 0 and *added (keys added), or -1 with err (file unreadable, or a known key or the
 * hash key changed: that needs a restart). */
int vault_reload(struct vault *v, const char *dir, int *added, char *err, size_t errlen);

#endif
