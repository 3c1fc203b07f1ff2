/* toolkits.c -- the catalogue as the toolkits API shows it. */
#include "api/handlers.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "api/api.h"
#include "catalog/catalog.h"

static json_t *
fields_json(const struct catalog_scheme *s)
{
    json_t *req = json_array(), *opt = json_array();
    for (size_t i = 0; i < s->nfields; i++) {
        const struct catalog_field *f = &s->fields[i];
        json_array_append_new(f->required ? req : opt,
                              json_pack("{ss ss ss sb ss}", "name", f->name, "displayName",
                                        f->display_name, "description", f->description,
                                        "required", f->required, "type", "string"));
    }
    return json_pack("{s{s[]s[]} s{soso}}", "auth_config_creation", "required", "optional",
                     "connected_account_initiation", "required", req, "optional", opt);
}

static json_t *
toolkit_json(struct core *c, const struct catalog_toolkit *t, int full)
{
    char logo[700];
    snprintf(logo, sizeof logo, "%s/logos/%s", c->public_url, t->logo ? t->logo : "");
    json_t *managed = json_array(), *details = json_array(), *cats = json_array();
    for (size_t i = 0; i < t->nschemes; i++) {
        const struct catalog_scheme *s = &t->schemes[i];
        if (s->type == CATALOG_NO_AUTH)
            continue;
        json_array_append_new(managed, json_string(s->type_name));
        json_array_append_new(details, json_pack("{ss ss so}", "name", t->name, "mode",
                                                 s->type_name, "fields", fields_json(s)));
    }
    for (const char *const *p = t->categories; p && *p; p++)
        json_array_append_new(cats, json_pack("{ssssss}", "id", *p, "slug", *p, "name", *p));
    json_t *o = json_pack("{ss ss s{ss ss so sI} sb sb so}", "slug", t->slug, "name", t->name,
                          "meta", "description", t->description ? t->description : "", "logo",
                          logo, "categories", cats, "tools_count",
                          (json_int_t)json_array_size(t->tools), "is_local_toolkit", 0,
                          "no_auth", t->no_auth, "composio_managed_auth_schemes", managed);
    if (full) {
        json_object_set_new(o, "auth_config_details", details);
        json_object_set_new(o, "base_url", json_string(t->base_url ? t->base_url : ""));
    } else {
        json_decref(details);
    }
    return o;
}

void
api_toolkit_list(struct http_req *r)
{
    long limit, offset;
    const char *search = http_query(r, "search"), *category = http_query(r, "category");
    if (api_query_int_or_reply(r, "limit", 100, 1, 1000, &limit) != 0 ||
        api_query_int_or_reply(r, "cursor", 0, 0, 100000, &offset) != 0)
        return;
    json_t *items = json_array();
    long total = 0;
    for (size_t i = 0; i < catalog_count(); i++) {
        const struct catalog_toolkit *t = catalog_at(i);
        if (search && !strcasestr(t->slug, search) && !strcasestr(t->name, search))
            continue;
        int in_cat = category == NULL;
        for (const char *const *p = t->categories; !in_cat && p && *p; p++)
            in_cat = strcasecmp(*p, category) == 0;
        if (!in_cat)
            continue;
        long pos = total++;
        if (pos >= offset && pos < offset + limit)
            json_array_append_new(items, toolkit_json(api_core(r), t, 0));
    }
    char next[24];
    snprintf(next, sizeof next, "%ld", offset + limit);
    http_reply_json(r, 200,
                    json_pack("{so ss? sI sI}", "items", items, "next_cursor",
                              offset + limit < total ? next : NULL, "total_pages",
                              (json_int_t)((total + limit - 1) / limit), "total_items",
                              (json_int_t)total));
}

void
api_toolkit_get(struct http_req *r)
{
    const struct catalog_toolkit *t = catalog_get(r->params[0]);
    if (t == NULL) {
        http_reply_error(r, ERR_TOOLKIT_NOT_FOUND, "unknown toolkit '%.64s'", r->params[0]);
        return;
    }
    http_reply_json(r, 200, toolkit_json(api_core(r), t, 1));
}
