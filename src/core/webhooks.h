/* webhooks.h -- per-project webhook endpoints and the delivery of the outbox.
 *
 * Every account event of a project becomes, in the transaction that wrote it, one pending
 * delivery per enabled endpoint whose filter lists its type (store.h). A delivery thread claims
 * due deliveries with a lease (so two nodes never send one twice), signs each the Standard
 * Webhooks way (webhook-id, webhook-timestamp, webhook-signature: "v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>", one signature per live secret) and POSTs it through the outbound engine.
 * A 2xx is delivered; anything else is retried with exponential backoff for 24 hours, then
 * marked failed. An endpoint gets one account's events in order. docs/webhooks.md has the API. */
#ifndef TETHER_CORE_WEBHOOKS_H
#define TETHER_CORE_WEBHOOKS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

#define WEBHOOK_SECRET_MAX 64          /* "whsec_" + base64 of 24 bytes, with the NUL */
#define WEBHOOK_RETRY_WINDOW_MS (24LL * 3600 * 1000)
#define WEBHOOK_PREV_SECRET_MS (24LL * 3600 * 1000) /* the old secret signs this long too */

/* The event types an endpoint may subscribe to, NULL-terminated. */
extern const char *const WEBHOOK_EVENT_TYPES[];

/* Checks url (http or https, no userinfo, at most 2048 bytes) and events (NULL or an array of
 * known types, each at most once) and, for create, makes a fresh secret (returned once in
 * secret). The stored filter is a compact JSON array ("[]": every type). */
int webhooks_create(struct core *c, const char *project_id, const char *url, const json_t *events,
                    int disabled, struct st_webhook *out, char secret[WEBHOOK_SECRET_MAX],
                    struct err *e);
/* url NULL, events NULL or disabled < 0 keep the current value. out receives the new row. */
int webhooks_update(struct core *c, const char *project_id, const char *id, const char *url,
                    const json_t *events, int disabled, struct st_webhook *out, struct err *e);
/* A new secret; the previous one keeps signing for WEBHOOK_PREV_SECRET_MS. */
int webhooks_rotate_secret(struct core *c, const char *project_id, const char *id,
                           char secret[WEBHOOK_SECRET_MAX], struct err *e);

/* The signature header value for one secret ("whsec_<base64>"): "v1,<base64>". -1 when the
 * secret is malformed. */
int webhooks_sign(const char *secret, const char *msg_id, int64_t ts_s, const char *body,
                  size_t len, char *out, size_t outlen);
/* The JSON body delivered for an event (new reference). */
json_t *webhooks_payload(struct core *c, const struct st_event *ev);

/* Starts the delivery thread; retry_base_ms is the first retry delay (default 2000 when <= 0;
 * it doubles up to an hour). 0 or -1. */
int webhooks_start(struct core *c, int64_t retry_base_ms);
void webhooks_stop(void);
/* Wakes the delivery thread (an event was written). Cheap; any thread. */
void webhooks_kick(void);

#endif
