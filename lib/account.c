/* account.c -- connected accounts: the account object and its fields, get, list, enable,
 * disable and delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether_int.h"

struct tether_account_list {
    json_t *j;
    char *json;
    size_t n;
    struct tether_account *items; /* n entries, each holding a reference into j */
};

int
tether__account_init(struct tether_account *a, json_t *j)
{
    const char *id = tether__jstr(j, "id");
    if (!json_is_object(j) || id == NULL || id[0] == '\0')
        return tether__fail(TETHER_EPROTOCOL, "an account in the answer has no id");
    a->json = json_dumps(j, JSON_COMPACT);
    if (a->json == NULL)
        return tether__fail(TETHER_ENOMEM, "out of memory");
    a->j = json_incref(j);
    return 0;
}

void
tether__account_clear(struct tether_account *a)
{
    json_decref(a->j);
    free(a->json);
    a->j = NULL;
    a->json = NULL;
}

int
tether__account_new(json_t *j, tether_account **out)
{
    tether_account *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return tether__fail(TETHER_ENOMEM, "out of memory");
    int rc = tether__account_init(a, j);
    if (rc != 0) {
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void
tether_account_free(tether_account *a)
{
    if (a == NULL)
        return;
    tether__account_clear(a);
    free(a);
}

/* "/connected_accounts/{id}{suffix}" into p (initialised here). 0 or a code. */
static int
account_path(struct tether__str *p, const char *id, const char *suffix)
{
    int rc = tether__check_arg(id, "connected account id");
    if (rc != 0)
        return rc;
    tether__str_init(p, TETHER__MAX_URL);
    if (tether__str_puts(p, "/connected_accounts/") != 0 || tether__str_escape(p, id) != 0 ||
        tether__str_puts(p, suffix) != 0) {
        tether__str_free(p);
        return tether__fail(TETHER_ENOMEM, "out of memory");
    }
    return 0;
}

int
tether_account_get(tether_client *c, const char *account_id, tether_account **out)
{
    if (c == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_account_get: NULL client or output");
    struct tether__str path;
    int rc = account_path(&path, account_id, "");
    if (rc != 0)
        return rc;
    json_t *j = NULL;
    rc = tether__request(c, "GET", path.p, NULL, NULL, 0, &j);
    tether__str_free(&path);
    if (rc != 0)
        return rc;
    rc = tether__account_new(j, out);
    json_decref(j);
    return rc;
}

/* A call whose answer only says it worked ({"success":true}). */
static int
account_action(tether_client *c, const char *method, const char *account_id, const char *suffix,
               json_t *body)
{
    if (c == NULL)
        return tether__fail(TETHER_EINVAL, "NULL client");
    struct tether__str path;
    int rc = account_path(&path, account_id, suffix);
    if (rc != 0)
        return rc;
    json_t *j = NULL;
    rc = tether__request(c, method, path.p, NULL, body, 0, &j);
    if (rc == 0 && json_is_false(json_object_get(j, "success")))
        rc = tether__fail(TETHER_ESERVER, "%s %s: the server answered success=false", method,
                          path.p);
    tether__str_free(&path);
    json_decref(j);
    return rc;
}

static int
set_enabled(tether_client *c, const char *account_id, int enabled)
{
    json_t *body = json_pack("{s:b}", "enabled", enabled);
    if (body == NULL)
        return tether__fail(TETHER_ENOMEM, "out of memory");
    int rc = account_action(c, "PATCH", account_id, "/status", body);
    json_decref(body);
    return rc;
}

int
tether_account_enable(tether_client *c, const char *account_id)
{
    return set_enabled(c, account_id, 1);
}

int
tether_account_disable(tether_client *c, const char *account_id)
{
    return set_enabled(c, account_id, 0);
}

int
tether_account_delete(tether_client *c, const char *account_id)
{
    return account_action(c, "DELETE", account_id, "", NULL);
}

/* ---- fields ------------------------------------------------------------------------------- */

static const char *
field(const tether_account *a, const char *key)
{
    return a ? tether__jstr(a->j, key) : NULL;
}

static const char *
nested(const tether_account *a, const char *obj, const char *key)
{
    return a ? tether__jstr(json_object_get(a->j, obj), key) : NULL;
}

const char *
tether_account_id(const tether_account *a)
{
    return field(a, "id");
}

const char *
tether_account_status(const tether_account *a)
{
    return field(a, "status");
}

const char *
tether_account_status_reason(const tether_account *a)
{
    return field(a, "status_reason");
}

const char *
tether_account_toolkit(const tether_account *a)
{
    const char *slug = nested(a, "toolkit", "slug");
    return slug ? slug : field(a, "toolkit_slug");
}

const char *
tether_account_user_id(const tether_account *a)
{
    return field(a, "user_id");
}

const char *
tether_account_auth_config_id(const tether_account *a)
{
    return nested(a, "auth_config", "id");
}

const char *
tether_account_alias(const tether_account *a)
{
    return field(a, "alias");
}

const char *
tether_account_word_id(const tether_account *a)
{
    return field(a, "word_id");
}

const char *
tether_account_identity(const tether_account *a)
{
    return nested(a, "data", "identity");
}

const char *
tether_account_created_at(const tether_account *a)
{
    return field(a, "created_at");
}

const char *
tether_account_updated_at(const tether_account *a)
{
    return field(a, "updated_at");
}

int
tether_account_is_disabled(const tether_account *a)
{
    return a ? json_is_true(json_object_get(a->j, "is_disabled")) : 0;
}

const char *
tether_account_json(const tether_account *a)
{
    return a ? a->json : NULL;
}

/* ---- list --------------------------------------------------------------------------------- */

void
tether_accounts_options_init(tether_accounts_options *opts)
{
    memset(opts, 0, sizeof(*opts));
}

static int
accounts_query(const tether_accounts_options *o, struct tether__str *q)
{
    if (o->limit < 0)
        return tether__fail(TETHER_EINVAL, "limit %d is negative", o->limit);
    int rc = tether__query_add_list(q, "user_ids", o->user_ids);
    if (rc == 0)
        rc = tether__query_add_list(q, "toolkit_slugs", o->toolkit_slugs);
    if (rc == 0)
        rc = tether__query_add_list(q, "statuses", o->statuses);
    if (rc == 0 && o->limit > 0) {
        char num[24];
        snprintf(num, sizeof(num), "%d", o->limit);
        rc = tether__query_add(q, "limit", num);
    }
    if (rc == 0)
        rc = tether__query_add(q, "cursor", o->cursor);
    return rc;
}

/* Fills l's items from the array. 0 or a code; l->n counts the items filled. */
static int
fill_items(tether_account_list *l, json_t *items)
{
    size_t n = json_array_size(items);
    if (n == 0)
        return 0;
    l->items = calloc(n, sizeof(*l->items));
    if (l->items == NULL)
        return tether__fail(TETHER_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = tether__account_init(&l->items[i], json_array_get(items, i));
        if (rc != 0)
            return rc;
        l->n++;
    }
    return 0;
}

/* Wraps a list answer. Consumes j. */
static int
account_list_wrap(json_t *j, tether_account_list **out)
{
    json_t *items = json_object_get(j, "items");
    if (!json_is_array(items)) {
        json_decref(j);
        return tether__fail(TETHER_EPROTOCOL, "the accounts answer has no items array");
    }
    tether_account_list *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        json_decref(j);
        return tether__fail(TETHER_ENOMEM, "out of memory");
    }
    l->j = j;
    l->json = json_dumps(j, JSON_COMPACT);
    int rc = l->json ? fill_items(l, items) : tether__fail(TETHER_ENOMEM, "out of memory");
    if (rc != 0) {
        tether_account_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int
tether_accounts_list(tether_client *c, const tether_accounts_options *opts,
                     tether_account_list **out)
{
    if (c == NULL || out == NULL)
        return tether__fail(TETHER_EINVAL, "tether_accounts_list: NULL client or output");
    tether_accounts_options defaults;
    if (opts == NULL) {
        tether_accounts_options_init(&defaults);
        opts = &defaults;
    }
    struct tether__str q;
    tether__str_init(&q, TETHER__MAX_URL);
    int rc = accounts_query(opts, &q);
    json_t *j = NULL;
    if (rc == 0)
        rc = tether__request(c, "GET", "/connected_accounts", q.p, NULL, 0, &j);
    tether__str_free(&q);
    return rc != 0 ? rc : account_list_wrap(j, out);
}

void
tether_account_list_free(tether_account_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        tether__account_clear(&l->items[i]);
    free(l->items);
    free(l->json);
    json_decref(l->j);
    free(l);
}

size_t
tether_account_list_count(const tether_account_list *l)
{
    return l ? l->n : 0;
}

const tether_account *
tether_account_list_at(const tether_account_list *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}

const char *
tether_account_list_next_cursor(const tether_account_list *l)
{
    const char *cur = l ? tether__jstr(l->j, "next_cursor") : NULL;
    return cur && cur[0] ? cur : NULL;
}

const char *
tether_account_list_json(const tether_account_list *l)
{
    return l ? l->json : NULL;
}
