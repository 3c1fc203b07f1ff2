/* toolkits.c -- a page of a session's toolkits with the connection status of each: which account
 * the session uses for it, and whether that account is ACTIVE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether_int.h"

struct tether_toolkit_list {
    json_t *j;     /* the server's answer */
    json_t *items; /* borrowed from j, an array */
    char *json;
};

void
tether_toolkits_options_init(tether_toolkits_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->is_connected = -1;
}

static int
toolkits_query(const tether_toolkits_options *o, struct tether__str *q)
{
    char num[24];
    int rc = 0;
    if (o->limit < 0)
        return tether__fail(TETHER_EINVAL, "limit %d is negative", o->limit);
    if (o->limit > 0) {
        snprintf(num, sizeof(num), "%d", o->limit);
        rc = tether__query_add(q, "limit", num);
    }
    if (rc == 0)
        rc = tether__query_add(q, "cursor", o->cursor);
    if (rc == 0)
        rc = tether__query_add_list(q, "toolkits", o->toolkits);
    if (rc == 0 && o->is_connected >= 0)
        rc = tether__query_add(q, "is_connected", o->is_connected ? "true" : "false");
    if (rc == 0)
        rc = tether__query_add(q, "search", o->search);
    return rc;
}

/* Wraps a toolkits answer. Consumes j. */
static int
list_wrap(json_t *j, tether_toolkit_list **out)
{
    json_t *items = json_object_get(j, "items");
    size_t i;
    json_t *it;
    int ok = json_is_array(items);
    json_array_foreach(items, i, it)
    {
        if (tether__jstr(it, "slug") == NULL)
            ok = 0;
    }
    if (!ok) {
        json_decref(j);
        return tether__fail(TETHER_EPROTOCOL, "the toolkits answer has no items with slugs");
    }
    tether_toolkit_list *l = calloc(1, sizeof(*l));
    char *text = json_dumps(j, JSON_COMPACT);
    if (l == NULL || text == NULL) {
        free(l);
        free(text);
        json_decref(j);
        return tether__fail(TETHER_ENOMEM, "out of memory");
    }
    *l = (tether_toolkit_list){.j = j, .items = items, .json = text};
    *out = l;
    return 0;
}

int
tether_session_toolkits(tether_session *s, const tether_toolkits_options *opts,
                        tether_toolkit_list **out)
{
    if (s == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_session_toolkits: NULL session or output");
    tether_toolkits_options defaults;
    if (opts == NULL) {
        tether_toolkits_options_init(&defaults);
        opts = &defaults;
    }
    struct tether__str q, path = {0};
    tether__str_init(&q, TETHER__MAX_URL);
    int rc = toolkits_query(opts, &q);
    if (rc == 0)
        rc = tether__session_path(&path, s->id, "/toolkits");
    json_t *j = NULL;
    if (rc == 0)
        rc = tether__request(s->c, "GET", path.p, q.p, NULL, 0, &j);
    tether__str_free(&q);
    tether__str_free(&path);
    return rc != 0 ? rc : list_wrap(j, out);
}

void
tether_toolkit_list_free(tether_toolkit_list *l)
{
    if (l == NULL)
        return;
    json_decref(l->j);
    free(l->json);
    free(l);
}

size_t
tether_toolkit_list_count(const tether_toolkit_list *l)
{
    return l ? json_array_size(l->items) : 0;
}

const char *
tether_toolkit_list_next_cursor(const tether_toolkit_list *l)
{
    const char *cur = l ? tether__jstr(l->j, "next_cursor") : NULL;
    return cur && cur[0] ? cur : NULL;
}

int
tether_toolkit_list_total_pages(const tether_toolkit_list *l)
{
    return l ? (int)json_integer_value(json_object_get(l->j, "total_pages")) : 0;
}

const char *
tether_toolkit_list_json(const tether_toolkit_list *l)
{
    return l ? l->json : NULL;
}

static const json_t *
item(const tether_toolkit_list *l, size_t i)
{
    return l ? json_array_get(l->items, i) : NULL;
}

/* The item's connected_account object, NULL when none. */
static const json_t *
account_of(const tether_toolkit_list *l, size_t i)
{
    const json_t *a = json_object_get(item(l, i), "connected_account");
    return json_is_object(a) ? a : NULL;
}

const char *
tether_toolkit_slug(const tether_toolkit_list *l, size_t i)
{
    return tether__jstr(item(l, i), "slug");
}

const char *
tether_toolkit_name(const tether_toolkit_list *l, size_t i)
{
    return tether__jstr(item(l, i), "name");
}

int
tether_toolkit_is_no_auth(const tether_toolkit_list *l, size_t i)
{
    return json_is_true(json_object_get(item(l, i), "is_no_auth"));
}

int
tether_toolkit_is_active(const tether_toolkit_list *l, size_t i)
{
    const char *st = tether__jstr(account_of(l, i), "status");
    return st != NULL && strcmp(st, "ACTIVE") == 0;
}

const char *
tether_toolkit_account_id(const tether_toolkit_list *l, size_t i)
{
    return tether__jstr(account_of(l, i), "id");
}

const char *
tether_toolkit_account_status(const tether_toolkit_list *l, size_t i)
{
    return tether__jstr(account_of(l, i), "status");
}
