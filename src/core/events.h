/* events.h -- the one place an account's status change is announced. The store has already
 * written the row and its event-log entry in one transaction; this wakes local waiters (and, with
 * later backends, other nodes and webhook delivery). Also runs the link-expiry sweeper. */
#ifndef TETHER_CORE_EVENTS_H
#define TETHER_CORE_EVENTS_H
#include "core/core.h"

void events_account_changed(struct core *c, const char *account_id);

/* Starts the sweeper thread that turns INITIATED accounts with expired links into EXPIRED once a
 * second (and wakes their waiters). 0 or -1. */
int events_start(struct core *c);
void events_stop(void);
/* One sweep now (tests and the sweeper). Returns how many accounts expired, or -1. */
int events_sweep(struct core *c);

#endif
