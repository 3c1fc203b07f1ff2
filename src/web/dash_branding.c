/* dash_branding.c -- the dashboard's white-labelling form: the name, logo, accent colour and
 * support link shown on the project's Connect Link pages. It writes through the same service as
 * PATCH /api/v3.1/project/settings, so both faces accept and refuse exactly the same values. */
#include "api/handlers.h"
#include <string.h>
#include "core/projects.h"
#include "web/dash.h"

static const char *const FIELDS[] = {"name", "logo_url", "accent_color", "support_url", NULL};

/* The branding object of the settings (borrowed from settings), or NULL. */
static json_t *
branding_of(json_t *settings)
{
    json_t *b = json_object_get(settings, "branding");
    return json_is_object(b) ? b : NULL;
}

/* The form's context from a branding object (values absent from it are ""). */
static json_t *
form_json(const json_t *brand, const char *error, int saved)
{
    json_t *ctx = json_object();
    for (size_t i = 0; FIELDS[i] != NULL; i++) {
        const char *v = json_string_value(json_object_get(brand, FIELDS[i]));
        json_object_set_new(ctx, FIELDS[i], json_string(v ? v : ""));
    }
    const char *accent = json_string_value(json_object_get(ctx, "accent_color"));
    int accent_ok = accent && strlen(accent) == 7 && accent[0] == '#' &&
                    strspn(accent + 1, "0123456789abcdefABCDEF") == 6;
    json_object_set_new(ctx, "preview_accent", json_string(accent_ok ? accent : "#3b5bdb"));
    json_object_set_new(ctx, "error", error ? json_string(error) : json_null());
    json_object_set_new(ctx, "saved", json_boolean(saved));
    return ctx;
}

void
web_dash_branding(struct http_req *r)
{
    struct dashboard_session s;
    if (dash_session_or_reply(r, &s) != 0)
        return;
    json_t *settings = NULL;
    struct err e;
    if (projects_settings_get(dash_core(r), s.project_id, &settings, &e) != 0) {
        dash_message(r, 500, &s, "Cannot read the settings", e.message);
        return;
    }
    const char *saved = http_query(r, "saved");
    json_t *ctx = form_json(branding_of(settings), NULL, saved && strcmp(saved, "1") == 0);
    json_decref(settings);
    dash_reply(r, 200, &s, "branding", "Branding", "branding", ctx);
}

void
web_dash_branding_save(struct http_req *r)
{
    struct dashboard_session s;
    struct kv_list form = {0};
    if (dash_form_or_reply(r, &s, &form) != 0)
        return;
    json_t *brand = json_object();
    for (size_t i = 0; FIELDS[i] != NULL; i++) {
        const char *v = kv_get(&form, FIELDS[i]);
        if (v != NULL && v[0] != '\0')
            json_object_set_new(brand, FIELDS[i], json_string(v));
    }
    kv_list_free(&form);
    json_t *body = json_pack("{sO}", "branding", brand), *out = NULL;
    struct err e;
    if (projects_settings_update(dash_core(r), s.project_id, body, &out, &e) != 0)
        dash_reply(r, 400, &s, "branding", "Branding", "branding", form_json(brand, e.message, 0));
    else
        http_reply_redirect(r, "/dashboard/branding?saved=1");
    json_decref(out);
    json_decref(body);
    json_decref(brand);
}
