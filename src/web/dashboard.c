/* dashboard.c -- the admin dashboard's frame: sign-in and sign-out, the session cookie, the CSRF
 * check of every form, and the layout every dashboard page is rendered into.
 *
 * Cookies: "tether_dash" holds the session token (HttpOnly, SameSite=Strict, Path=/dashboard,
 * Secure when the public URL is https). The sign-in form, made before any session exists, is
 * protected by a double-submit token in "tether_dash_login". Forms of a signed-in session carry
 * the session's own CSRF token. A POST whose Sec-Fetch-Site says cross-site is refused too. */
#include "api/handlers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include "common/embedded.h"
#include "common/ids.h"
#include "common/tmpl.h"
#include "web/dash.h"

#define SESSION_COOKIE "tether_dash"
#define LOGIN_COOKIE "tether_dash_login"
#define DEFAULT_ACCENT "#3b5bdb"

struct core *
dash_core(struct http_req *r)
{
    return r->app;
}

static const char *
secure_attr(struct http_req *r)
{
    return strncmp(dash_core(r)->public_url, "https://", 8) == 0 ? "; Secure" : "";
}

static int
cross_site(struct http_req *r)
{
    const char *site = http_header(r, "sec-fetch-site");
    return site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
}

/* Renders templates/<file> against ctx (consumed): malloc'd HTML or NULL. */
static char *
render(const char *file, json_t *ctx)
{
    char path[96], err[160];
    snprintf(path, sizeof path, "templates/%s.html", file);
    const struct embedded_file *f = embedded_find(path);
    char *html = f ? tmpl_render(f->data, ctx, err, sizeof err) : NULL;
    json_decref(ctx);
    return html;
}

static void
reply_rendered(struct http_req *r, unsigned status, char *html)
{
    if (html == NULL)
        http_reply_error(r, ERR_INTERNAL, "cannot render the page");
    else
        http_reply_html(r, status, html);
}

/* ---- the session gate ------------------------------------------------------------------------ */

int
dash_session_or_reply(struct http_req *r, struct dashboard_session *s)
{
    if (dashboard_lookup(dash_core(r), http_cookie(r, SESSION_COOKIE), s) == 0)
        return 0;
    http_reply_redirect(r, "/dashboard/signin");
    return -1;
}

static void
reply_forbidden(struct http_req *r, const char *message)
{
    json_t *ctx = json_pack("{ss}", "message", message);
    reply_rendered(r, 403, render("dash_denied", ctx));
}

int
dash_form_or_reply(struct http_req *r, struct dashboard_session *s, struct kv_list *form)
{
    if (dashboard_lookup(dash_core(r), http_cookie(r, SESSION_COOKIE), s) != 0) {
        reply_forbidden(r, "You are signed out. Sign in again and retry.");
        return -1;
    }
    if (r->body_too_large || form_parse(r->body.data ? r->body.data : "", r->body.len, form)) {
        dash_message(r, 400, s, "Bad request", "The form could not be read.");
        return -1;
    }
    if (cross_site(r) || !dashboard_csrf_ok(s, kv_get(form, "csrf"))) {
        kv_list_free(form);
        reply_forbidden(r, "This form expired or did not come from this dashboard. "
                           "Go back, reload the page and try again.");
        return -1;
    }
    return 0;
}

/* ---- layout ---------------------------------------------------------------------------------- */

/* The project's branding for the frame: name and a validated accent colour. */
static json_t *
brand_json(struct core *c, const char *project_id)
{
    struct st_project p = {0};
    json_t *settings = NULL;
    if (store_project_get(c->store, project_id, &p) == 0 && p.settings != NULL)
        settings = json_loads(p.settings, 0, NULL);
    json_t *b = json_object_get(settings, "branding");
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *accent = json_string_value(json_object_get(b, "accent_color"));
    if (accent == NULL || strlen(accent) != 7 || accent[0] != '#' ||
        strspn(accent + 1, "0123456789abcdefABCDEF") != 6)
        accent = DEFAULT_ACCENT;
    json_t *o = json_pack("{ss ss ss}", "name", name ? name : (p.name[0] ? p.name : project_id),
                          "id", project_id, "accent", accent);
    json_decref(settings);
    st_project_clear(&p);
    return o;
}

static json_t *
nav_json(const char *section)
{
    static const char *const items[][3] = {
        {"overview", "/dashboard", "Overview"},
        {"accounts", "/dashboard/accounts", "Accounts"},
        {"auth-configs", "/dashboard/auth-configs", "Auth configs"},
        {"webhooks", "/dashboard/webhooks", "Webhooks"},
        {"branding", "/dashboard/branding", "Branding"},
    };
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        json_array_append_new(arr,
                              json_pack("{ss ss sb}", "href", items[i][1], "label", items[i][2],
                                        "active", section && strcmp(section, items[i][0]) == 0));
    return arr;
}

void
dash_reply(struct http_req *r, unsigned status, const struct dashboard_session *s,
           const char *section, const char *title, const char *name, json_t *ctx)
{
    char file[64];
    snprintf(file, sizeof file, "dash_%s", name);
    if (json_is_object(ctx))
        json_object_set_new(ctx, "csrf", json_string(s->csrf));
    char *body = render(file, ctx);
    if (body == NULL) {
        http_reply_error(r, ERR_INTERNAL, "cannot render the page");
        return;
    }
    json_t *frame = json_pack("{ss so so ss ss}", "title", title, "project",
                              brand_json(dash_core(r), s->project_id), "nav", nav_json(section),
                              "csrf", s->csrf, "body", body);
    free(body);
    reply_rendered(r, status, render("dash_layout", frame));
}

void
dash_message(struct http_req *r, unsigned status, const struct dashboard_session *s,
             const char *title, const char *message)
{
    dash_reply(r, status, s, NULL, title, "message",
               json_pack("{ss ss}", "title", title, "message", message));
}

/* ---- helpers --------------------------------------------------------------------------------- */

json_t *
dash_time(int64_t ms)
{
    if (ms <= 0)
        return json_string("");
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char out[32];
    if (gmtime_r(&t, &tm) == NULL || strftime(out, sizeof out, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        return json_string("");
    return json_string(out);
}

const char *
dash_status_class(const char *status)
{
    static const char *const map[][2] = {
        {"ACTIVE", "active"},   {"INITIATED", "pending"}, {"INITIALIZING", "pending"},
        {"FAILED", "failed"},   {"EXPIRED", "expired"},   {"INACTIVE", "inactive"},
        {"REVOKED", "revoked"},
    };
    for (size_t i = 0; status != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(status, map[i][0]) == 0)
            return map[i][1];
    return "other";
}

char *
dash_query(const char *path, const char *const *pairs, size_t n)
{
    struct buf b;
    buf_init(&b, 16 * 1024);
    int bad = buf_puts(&b, path);
    char sep = '?';
    for (size_t i = 0; i < n; i++) {
        const char *v = pairs[2 * i + 1];
        if (v == NULL || v[0] == '\0')
            continue;
        char *enc = url_encode(v);
        bad |= buf_printf(&b, "%c%s=%s", sep, pairs[2 * i], enc);
        free(enc);
        sep = '&';
    }
    if (bad) {
        buf_free(&b);
        return strdup(path);
    }
    return buf_take(&b);
}

/* ---- sign-in and sign-out -------------------------------------------------------------------- */

static void
reply_signin(struct http_req *r, unsigned status, const char *error)
{
    char csrf[64], cookie[200];
    ids_token(csrf, sizeof csrf, "");
    snprintf(cookie, sizeof cookie,
             LOGIN_COOKIE "=%s; Path=/dashboard/signin; HttpOnly; SameSite=Strict; Max-Age=3600%s",
             csrf, secure_attr(r));
    http_set_cookie(r, cookie);
    json_t *ctx = json_pack("{ss ss*}", "csrf", csrf, "error", error);
    reply_rendered(r, status, render("dash_signin", ctx));
}

void
web_dash_signin_page(struct http_req *r)
{
    struct dashboard_session s;
    if (dashboard_lookup(dash_core(r), http_cookie(r, SESSION_COOKIE), &s) == 0)
        http_reply_redirect(r, "/dashboard");
    else
        reply_signin(r, 200, NULL);
}

static int
login_csrf_ok(struct http_req *r, const struct kv_list *form)
{
    const char *cookie = http_cookie(r, LOGIN_COOKIE), *field = kv_get(form, "csrf");
    if (cross_site(r) || cookie == NULL || field == NULL || strlen(field) < 20 ||
        strlen(cookie) != strlen(field))
        return 0;
    return sodium_memcmp(cookie, field, strlen(field)) == 0;
}

void
web_dash_signin(struct http_req *r)
{
    struct kv_list form = {0};
    if (r->body_too_large || form_parse(r->body.data ? r->body.data : "", r->body.len, &form)) {
        reply_signin(r, 400, "The form could not be read.");
        return;
    }
    struct dashboard_session s;
    struct err e;
    char token[DASHBOARD_TOKEN_MAX], cookie[256];
    if (!login_csrf_ok(r, &form)) {
        reply_signin(r, 403, "This form expired. Please try again.");
    } else if (dashboard_signin(dash_core(r), kv_get(&form, "api_key"), token, &s, &e) != 0) {
        reply_signin(r, 401, "That API key is not valid.");
    } else {
        snprintf(cookie, sizeof cookie,
                 SESSION_COOKIE "=%s; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
                 token, (long long)(DASHBOARD_TTL_MS / 1000), secure_attr(r));
        http_set_cookie(r, cookie);
        sodium_memzero(cookie, sizeof cookie);
        sodium_memzero(token, sizeof token);
        http_reply_redirect(r, "/dashboard");
    }
    kv_list_free(&form);
}

void
web_dash_signout(struct http_req *r)
{
    struct dashboard_session s;
    struct kv_list form = {0};
    if (dash_form_or_reply(r, &s, &form) != 0)
        return;
    kv_list_free(&form);
    dashboard_signout(dash_core(r), http_cookie(r, SESSION_COOKIE));
    char cookie[160];
    snprintf(cookie, sizeof cookie,
             SESSION_COOKIE "=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0%s",
             secure_attr(r));
    http_set_cookie(r, cookie);
    http_reply_redirect(r, "/dashboard/signin");
}
