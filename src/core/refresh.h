/* refresh.h -- OAuth2 token refresh, single-flight per account.
 *
 * A small pool of worker threads runs refreshes with outbound_perform (never an HTTP thread).
 * Each refresh first claims the account's lease in the store (compare-and-set), so two workers,
 * or two nodes, never refresh one token at once; the rotated refresh token is saved in the same
 * sealed value, in the same transaction, as the new access token. Requests for an account whose
 * refresh is queued or running join it, so N callers cause one provider call.
 *
 * Failure policy: a transport error, a timeout, a 5xx or an unreadable answer leaves the account
 * ACTIVE and is retried with exponential backoff (the failure count lives in the row);
 * invalid_grant, unauthorized_client, a revoked grant, or a missing refresh token once the access
 * token has expired makes it EXPIRED with a status_reason. Every outcome is an event.
 *
 * A scheduler thread looks once a second for tokens nearing expiry and queues them (at most a
 * bounded batch per tick; the pool bounds concurrency, so a burst is spread out). */
#ifndef TETHER_CORE_REFRESH_H
#define TETHER_CORE_REFRESH_H
#include <stdint.h>
#include "core/core.h"

enum refresh_outcome {
    REFRESH_DONE,        /* a new token was saved */
    REFRESH_NOT_NEEDED,  /* someone else refreshed it meanwhile, or it is still fresh */
    REFRESH_RETRY,       /* transient failure: still ACTIVE, retried later; reason says why */
    REFRESH_EXPIRED,     /* the grant is gone: the account is now EXPIRED */
    REFRESH_UNAVAILABLE, /* not ACTIVE, not OAuth2, no refresh token yet, or stopped */
};

/* Runs once a refresh request is settled, on a worker thread; must only hand off. */
typedef void (*refresh_done_fn)(void *arg, enum refresh_outcome outcome, const char *reason);

struct refresh_options {
    int workers;            /* concurrent refreshes, default 4 */
    int background;         /* 1: run the scheduler (default); 0: on demand only */
    const char *key_dir;    /* data dir whose master.key is re-read when it changes, or NULL */
};

/* Starts the workers and, unless disabled, the scheduler. 0 or -1. */
int refresh_start(struct core *c, const struct refresh_options *o);
/* Stops every thread; requests still queued settle with REFRESH_UNAVAILABLE. */
void refresh_stop(void);

/* Queues a refresh of account_id unless its token expires at or after expires_before (INT64_MAX
 * forces one). done (may be NULL) runs exactly once, unless this returns -1 (not started, queue
 * full). Requests for an account already queued or running join that refresh. */
int refresh_request(const char *account_id, int64_t expires_before, refresh_done_fn done,
                    void *arg);

/* The background margin of a token obtained at obtained_ms (0: unknown) expiring at expires_ms:
 * refresh once less than min(CRED_MARGIN_MS, a third of its lifetime) is left. */
int64_t refresh_due_at(int64_t obtained_ms, int64_t expires_ms);

/* The lease owner name of this process ("<host>-<pid>-<random>"), for tests and logs. */
const char *refresh_node(void);

#endif
