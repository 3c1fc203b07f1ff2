/* webhooks.c -- webhook endpoints of the project, their delivery log and replay
 * (docs/webhooks.md). */
#include "api/handlers.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "common/ids.h"
#include "common/jsonv.h"
#include "core/webhooks.h"

static const char *const CREATE_KEYS[] = {"url", "events", "disabled", NULL};

static json_t *
webhook_json(const struct st_webhook *w)
{
    json_t *events = json_loads(w->events ? w->events : "[]", 0, NULL);
    return json_pack("{ss ss so sb so so}", "id", w->id, "url", w->url, "events",
                     events ? events : json_array(), "disabled", w->disabled, "created_at",
                     api_time(w->created_at), "updated_at", api_time(w->updated_at));
}

/* "dlv_<seq>" -> seq, or 0. */
static int64_t
delivery_seq(const char *id)
{
    if (id == NULL || strncmp(id, "dlv_", 4) != 0 || id[4] == '\0' || strlen(id) > 24)
        return 0;
    int64_t v = 0;
    for (const char *p = id + 4; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static json_t *
delivery_json(struct core *c, const struct st_delivery *d)
{
    char id[32], msg[32];
    snprintf(id, sizeof id, "dlv_%" PRId64, d->seq);
    snprintf(msg, sizeof msg, "msg_%" PRId64, d->event.seq);
    json_t *o = json_pack("{ss ss ss ss ss ss si sI so}", "id", id, "webhook_id", d->endpoint_id,
                          "message_id", msg, "event_type", d->event.type, "connected_account_id",
                          d->event.account_id, "state", d->state, "attempts", d->attempts,
                          "last_status", (json_int_t)d->last_status, "created_at",
                          api_time(d->created_at));
    json_object_set_new(o, "last_error", d->last_error ? json_string(d->last_error) : json_null());
    json_object_set_new(o, "next_attempt_at", strcmp(d->state, "pending") == 0
                                                  ? api_time(d->next_at)
                                                  : json_null());
    json_object_set_new(o, "delivered_at", d->delivered_at ? api_time(d->delivered_at)
                                                           : json_null());
    json_object_set_new(o, "payload", webhooks_payload(c, &d->event));
    return o;
}

static int
read_body(struct http_req *r, json_t *body, const char **url, json_t **events, int *disabled,
          int url_required, struct err *e)
{
    int flag = 0;
    *disabled = -1;
    if (jv_only(body, CREATE_KEYS, "the webhook", e) != 0 ||
        jv_string(body, "url", url_required, 2048, url, e) != 0 ||
        jv_string_array(body, "events", 0, 32, 64, events, e) != 0 ||
        jv_bool(body, "disabled", 0, &flag, e) != 0)
        return -1;
    if (json_is_boolean(json_object_get(body, "disabled")))
        *disabled = flag;
    return 0;
}

void
api_webhook_create(struct http_req *r)
{
    json_t *body, *events = NULL;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct err e;
    const char *url = NULL;
    int disabled;
    struct st_webhook w = {0};
    char secret[WEBHOOK_SECRET_MAX];
    if (read_body(r, body, &url, &events, &disabled, 1, &e) != 0 ||
        webhooks_create(api_core(r), api_project(r), url, events, disabled > 0, &w, secret,
                        &e) != 0) {
        api_fail(r, &e);
    } else {
        json_t *o = webhook_json(&w);
        json_object_set_new(o, "secret", json_string(secret));
        http_reply_json(r, 201, o);
    }
    memset(secret, 0, sizeof secret);
    st_webhook_clear(&w);
    json_decref(body);
}

void
api_webhook_list(struct http_req *r)
{
    struct st_webhook *ws = NULL;
    size_t n = 0;
    if (store_webhook_list(api_core(r)->store, api_project(r), &ws, &n) != 0) {
        http_reply_error(r, ERR_INTERNAL, "cannot list webhooks");
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, webhook_json(&ws[i]));
        st_webhook_clear(&ws[i]);
    }
    free(ws);
    http_reply_json(r, 200, json_pack("{so si}", "items", items, "total_items", (int)n));
}

static int
load_or_reply(struct http_req *r, struct st_webhook *w)
{
    int rc = ids_valid(r->params[0], "we_")
                 ? store_webhook_get(api_core(r)->store, api_project(r), r->params[0], w)
                 : STORE_NOTFOUND;
    if (rc == 0)
        return 0;
    struct err e;
    core_store_err(rc, &e, ERR_NOT_FOUND, "webhook", r->params[0]);
    return api_fail(r, &e);
}

void
api_webhook_get(struct http_req *r)
{
    struct st_webhook w = {0};
    if (load_or_reply(r, &w) != 0)
        return;
    http_reply_json(r, 200, webhook_json(&w));
    st_webhook_clear(&w);
}

void
api_webhook_update(struct http_req *r)
{
    json_t *body, *events = NULL;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct err e;
    const char *url = NULL;
    int disabled;
    struct st_webhook w = {0};
    if (read_body(r, body, &url, &events, &disabled, 0, &e) != 0 ||
        webhooks_update(api_core(r), api_project(r), r->params[0], url, events, disabled, &w,
                        &e) != 0)
        api_fail(r, &e);
    else
        http_reply_json(r, 200, webhook_json(&w));
    st_webhook_clear(&w);
    json_decref(body);
}

void
api_webhook_delete(struct http_req *r)
{
    int rc = ids_valid(r->params[0], "we_")
                 ? store_webhook_delete(api_core(r)->store, api_project(r), r->params[0])
                 : STORE_NOTFOUND;
    struct err e;
    if (core_store_err(rc, &e, ERR_NOT_FOUND, "webhook", r->params[0]) != 0)
        api_fail(r, &e);
    else
        http_reply_json(r, 200, json_pack("{sbss}", "success", 1, "id", r->params[0]));
}

void
api_webhook_rotate(struct http_req *r)
{
    char secret[WEBHOOK_SECRET_MAX];
    struct err e;
    if (webhooks_rotate_secret(api_core(r), api_project(r), r->params[0], secret, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    http_reply_json(r, 200, json_pack("{ss ss}", "id", r->params[0], "secret", secret));
    memset(secret, 0, sizeof secret);
}

void
api_webhook_deliveries(struct http_req *r)
{
    struct st_webhook w = {0};
    long limit;
    if (api_query_int_or_reply(r, "limit", 20, 1, 100, &limit) != 0 || load_or_reply(r, &w) != 0)
        return;
    st_webhook_clear(&w);
    const char *cursor = http_query(r, "cursor");
    int64_t before = cursor ? delivery_seq(cursor) : 0;
    if (cursor != NULL && before == 0) {
        http_reply_error(r, ERR_VALIDATION, "'cursor' is not a cursor from this API");
        return;
    }
    struct st_delivery *ds = NULL;
    size_t n = 0;
    if (store_delivery_list(api_core(r)->store, api_project(r), r->params[0], before, (int)limit,
                            &ds, &n) != 0) {
        http_reply_error(r, ERR_INTERNAL, "cannot read the delivery log");
        return;
    }
    json_t *items = json_array();
    char next[32] = "";
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, delivery_json(api_core(r), &ds[i]));
        if (i + 1 == n && n == (size_t)limit)
            snprintf(next, sizeof next, "dlv_%" PRId64, ds[i].seq);
        st_delivery_clear(&ds[i]);
    }
    free(ds);
    http_reply_json(r, 200, json_pack("{so ss?}", "items", items, "next_cursor",
                                      next[0] ? next : NULL));
}

void
api_webhook_replay(struct http_req *r)
{
    struct st_webhook w = {0};
    if (load_or_reply(r, &w) != 0)
        return;
    st_webhook_clear(&w);
    struct core *c = api_core(r);
    int64_t seq = delivery_seq(r->params[1]), fresh = 0;
    struct st_delivery d = {0};
    int rc = seq ? store_delivery_get(c->store, api_project(r), seq, &d) : STORE_NOTFOUND;
    if (rc == 0 && strcmp(d.endpoint_id, r->params[0]) != 0)
        rc = STORE_NOTFOUND;
    st_delivery_clear(&d);
    if (rc == 0)
        rc = store_delivery_replay(c->store, api_project(r), seq, &fresh);
    struct err e;
    if (core_store_err(rc, &e, ERR_NOT_FOUND, "delivery", r->params[1]) != 0) {
        api_fail(r, &e);
        return;
    }
    webhooks_kick();
    char id[32];
    snprintf(id, sizeof id, "dlv_%" PRId64, fresh);
    http_reply_json(r, 202, json_pack("{ss ss}", "id", id, "replay_of", r->params[1]));
}
