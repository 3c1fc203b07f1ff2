/* ttlcache.h -- a small fixed-size cache of short values under string keys, each entry valid for a
 * fixed time. For hot read paths whose source of truth is the store (API key -> project, auth
 * config summaries): a change made elsewhere becomes visible within the TTL. Thread-safe; memory is
 * allocated once. Keys longer than TTLCACHE_KEY-1 bytes are never cached. */
#ifndef TETHER_COMMON_TTLCACHE_H
#define TETHER_COMMON_TTLCACHE_H
#include <stddef.h>
#include <stdint.h>

#define TTLCACHE_KEY 80
#define TTLCACHE_VAL 96

struct ttlcache;

struct ttlcache *ttlcache_new(size_t slots, int64_t ttl_ms);
void ttlcache_free(struct ttlcache *c);
/* Copies the value (at most TTLCACHE_VAL bytes) into out; 1 on a fresh hit, 0 otherwise. */
int ttlcache_get(struct ttlcache *c, const char *key, void *out, size_t len);
void ttlcache_put(struct ttlcache *c, const char *key, const void *val, size_t len);
/* Forgets one key (after a local change). */
void ttlcache_drop(struct ttlcache *c, const char *key);

#endif
