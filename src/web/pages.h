/* pages.h -- the HTML pages of the Connect Link flow, rendered from templates/ (compiled in). */
#ifndef TETHER_WEB_PAGES_H
#define TETHER_WEB_PAGES_H
#include <jansson.h>
#include "http/http.h"

/* Renders templates/<name>.html against ctx (consumed) and replies with it. */
void pages_reply(struct http_req *r, unsigned status, const char *name, json_t *ctx);

enum result_kind { RESULT_SUCCESS, RESULT_FAILURE, RESULT_EXPIRED, RESULT_USED, RESULT_UNKNOWN };
/* The one-card result page. toolkit (a display name), reason, account_id and identity (who
 * signed in) may be NULL. */
struct result_info {
    const char *toolkit;
    const char *reason;
    const char *account_id;
    const char *identity;
};
void pages_result(struct http_req *r, unsigned status, enum result_kind kind,
                  const struct result_info *info);

#endif
