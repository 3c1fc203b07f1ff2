#include "core/inject.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"
#include "common/url.h"

static int
add_query(struct outbound_req *r, const char *name, const char *value)
{
    char *k = url_encode(name), *v = url_encode(value);
    struct buf b;
    buf_init(&b, 16384);
    int rc = buf_printf(&b, "%s%c%s=%s", r->url, strchr(r->url, '?') ? '&' : '?', k, v);
    free(k);
    sodium_memzero(v, strlen(v));
    free(v);
    if (rc != 0) {
        buf_free(&b);
        return -1;
    }
    free(r->url);
    r->url = buf_take(&b);
    return 0;
}

int
inject_credential(const struct catalog_toolkit *t, const struct catalog_scheme *s,
                  const json_t *secrets, struct outbound_req *r, struct err *e)
{
    const json_t *fixed = catalog_headers(t);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fixed, k, v)
    {
        if (json_is_string(v))
            outbound_req_header(r, "%s: %s", k, json_string_value(v));
    }
    if (s->type == CATALOG_NO_AUTH || s->inject_format == NULL)
        return 0;
    char *value = catalog_credential(s, secrets);
    if (value == NULL)
        return err_set(e, ERR_BAD_REQUEST, "the connection lacks a credential this toolkit needs");
    int rc = 0;
    if (s->inject_in != NULL && strcmp(s->inject_in, "query") == 0)
        rc = add_query(r, s->inject_name, value);
    else
        rc = outbound_req_header(r, "%s: %s", s->inject_name ? s->inject_name : "Authorization",
                                 value);
    sodium_memzero(value, strlen(value));
    free(value);
    return rc == 0 ? 0 : err_set(e, ERR_BAD_REQUEST, "the credential does not fit the request");
}
