/* waiters.h -- parked long-poll requests, keyed by account id. A waiter's wake function runs
 * exactly once: when its account changes (waiters_notify), when its deadline passes, or when the
 * registry stops. Wake functions run on the notifying or timer thread and must only hand off (e.g.
 * resume an HTTP connection). */
#ifndef TETHER_CORE_WAITERS_H
#define TETHER_CORE_WAITERS_H
#include <stddef.h>
#include <stdint.h>

typedef void (*waiter_wake_fn)(void *arg);

/* max: the most waiters parked at once. Starts the deadline thread. 0 or -1. */
int waiters_start(size_t max);
/* Wakes every waiter, then stops the thread. */
void waiters_stop(void);

/* Parks a waiter until deadline_mono_ms (time_mono_ms clock). -1 when the cap is reached (nothing
 * parked, wake never runs). */
int waiters_add(const char *account_id, int64_t deadline_mono_ms, waiter_wake_fn wake, void *arg);
/* Wakes every waiter of the account. */
void waiters_notify(const char *account_id);
size_t waiters_count(void);

#endif
