#include "core/core.h"
#include <stdio.h>

void
core_init(struct core *c)
{
    snprintf(c->redirect_uri, sizeof c->redirect_uri, "%s/api/v3/toolkits/auth/callback",
             c->public_url);
    if (c->link_ttl_ms <= 0)
        c->link_ttl_ms = 600000;
    if (c->exchange_timeout_ms <= 0)
        c->exchange_timeout_ms = 10000;
    /* Revoking a key or disabling an auth config takes effect within these TTLs. */
    if (c->key_cache == NULL)
        c->key_cache = ttlcache_new(4096, 2000);
    if (c->ac_cache == NULL)
        c->ac_cache = ttlcache_new(4096, 1000);
}

void
core_release(struct core *c)
{
    ttlcache_free(c->key_cache);
    ttlcache_free(c->ac_cache);
    c->key_cache = c->ac_cache = NULL;
}

int
core_store_err(int rc, struct err *e, enum err_code nf, const char *what, const char *id)
{
    if (rc == 0)
        return 0;
    if (rc == STORE_NOTFOUND)
        return err_set(e, nf, "%s '%s' not found", what, id ? id : "");
    if (rc == STORE_CONFLICT)
        return err_set(e, ERR_CONFLICT, "%s '%s' already exists", what, id ? id : "");
    return err_set(e, ERR_INTERNAL, "storage failure while reading %s", what);
}
