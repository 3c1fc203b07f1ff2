/* core.h -- the service context shared by every core service, and the few rules they all follow.
 * Services validate what they are given, do their work through the store and the vault, and report
 * failures as a struct err (common/err.h) that the faces render. They never see HTTP. */
#ifndef TETHER_CORE_H
#define TETHER_CORE_H
#include <stdint.h>
#include "common/err.h"
#include "common/ttlcache.h"
#include "store/store.h"
#include "vault/vault.h"

struct core {
    struct store *store;
    struct vault *vault;
    char public_url[512];    /* no trailing slash */
    char redirect_uri[600];  /* public_url + "/api/v3/toolkits/auth/callback" */
    int64_t link_ttl_ms;     /* how long a Connect Link stays usable */
    int64_t exchange_timeout_ms; /* token exchange and key test requests */
    struct ttlcache *key_cache;  /* API key hash -> project id (core_init makes it) */
    struct ttlcache *ac_cache;   /* auth config summaries for account rendering */
};

/* Fills the derived fields (redirect_uri, caches) after public_url is set; safe to call again. */
void core_init(struct core *c);
/* Frees what core_init made. */
void core_release(struct core *c);

/* Maps a store result to an error: STORE_NOTFOUND -> nf with "<what> '<id>' not found",
 * anything else negative -> ERR_INTERNAL. Returns -1 (or 0 when rc is 0). */
int core_store_err(int rc, struct err *e, enum err_code nf, const char *what, const char *id);

#endif
