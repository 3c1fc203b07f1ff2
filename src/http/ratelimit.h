/* ratelimit.h -- token buckets keyed by a short string (a client IP, an API key's project), in a
 * fixed-size table: memory stays bounded whatever the number of clients; when two keys collide on
 * a slot the older bucket is replaced, which can only make a limit more lenient, never stricter. */
#ifndef TETHER_HTTP_RATELIMIT_H
#define TETHER_HTTP_RATELIMIT_H

struct ratelimit;

/* rate tokens per second, up to burst. NULL when rate <= 0 (no limit). */
struct ratelimit *ratelimit_new(double rate, double burst);
void ratelimit_free(struct ratelimit *rl);
/* Takes one token for key: 1 when allowed; 0 when limited, with the seconds to wait in
 * *retry_after. A NULL limiter allows everything. Thread-safe. */
int ratelimit_take(struct ratelimit *rl, const char *key, int *retry_after);

#endif
