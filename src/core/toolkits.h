/* toolkits.h -- which toolkits a session shows and which account each one uses: the pinned
 * account when the session pins one, else the user's most recently connected ACTIVE account. */
#ifndef TETHER_CORE_TOOLKITS_H
#define TETHER_CORE_TOOLKITS_H
#include "catalog/catalog.h"
#include "core/core.h"

struct toolkits_query {
    const char *const *only;  /* NULL-terminated slugs, or NULL for all */
    const char *search;       /* case-insensitive substring of slug or name, or NULL */
    int connected;            /* -1 any, 0 not connected, 1 connected */
    long offset;
    long limit;
};

struct toolkit_row {
    const struct catalog_toolkit *toolkit;
    int has_account;
    struct st_account account;           /* the account in use, when has_account */
    struct st_auth_config auth_config;   /* its auth config, when has_account */
    int managed_oauth;                   /* an operator app exists for the toolkit */
};

struct toolkit_page {
    struct toolkit_row *rows;
    size_t n;
    long total;
    long next_offset; /* -1 on the last page */
};

int toolkits_for_session(struct core *c, const struct st_session *s,
                         const struct toolkits_query *q, struct toolkit_page *out, struct err *e);
void toolkit_page_clear(struct toolkit_page *p);

#endif
