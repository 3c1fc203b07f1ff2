/* link.c -- the Connect Link page, its form, and the OAuth callback. */
#include "api/handlers.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "common/ids.h"
#include "common/url.h"
#include "core/links.h"
#include "web/pages.h"

#define CSRF_COOKIE "tether_csrf"

static struct core *
core_of(struct http_req *r)
{
    return r->app;
}

/* 1 when field i is filled from the token response: never asked, never taken from a form. */
static int
from_provider(const struct catalog_scheme *s, size_t i)
{
    const char *src = catalog_field_source(s, i);
    return src != NULL && strcmp(src, "token_response") == 0;
}

static json_t *
fields_json(const struct catalog_scheme *s, int oauth)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->nfields; i++) {
        const struct catalog_field *f = &s->fields[i];
        if (oauth && (f->secret || from_provider(s, i)))
            continue;
        json_array_append_new(arr, json_pack("{ss ss ss sb sb}", "name", f->name, "display_name",
                                             f->display_name, "description", f->description,
                                             "required", f->required, "secret", f->secret));
    }
    return arr;
}

/* The project as the page shows it: branding name, logo, support link and accent colour (a
 * checked #rrggbb, else tether's own). */
static json_t *
project_json(const struct st_project *p)
{
    json_t *settings = p->settings ? json_loads(p->settings, 0, NULL) : NULL;
    json_t *brand = json_object_get(settings, "branding");
    const char *name = json_string_value(json_object_get(brand, "name"));
    const char *logo = json_string_value(json_object_get(brand, "logo_url"));
    const char *support = json_string_value(json_object_get(brand, "support_url"));
    const char *color = json_string_value(json_object_get(brand, "accent_color"));
    int color_ok = color && strlen(color) == 7 && color[0] == '#' &&
                   strspn(color + 1, "0123456789abcdefABCDEF") == 6;
    json_t *o = json_pack("{ss ss* ss* ss}", "name", name ? name : p->name, "logo_url", logo,
                          "support_url", support, "accent", color_ok ? color : "#3b5bdb");
    json_decref(settings);
    return o;
}

/* Renders the open link's page with a fresh CSRF cookie; error (may be NULL) is shown above the
 * form. */
static void
reply_form(struct http_req *r, const struct link_view *v, const char *token, const char *error,
           unsigned status)
{
    struct core *c = core_of(r);
    char csrf[64], cookie[160], action[128], logo[700];
    ids_token(csrf, sizeof csrf, "");
    snprintf(cookie, sizeof cookie, CSRF_COOKIE "=%s; Path=/link; HttpOnly; SameSite=Strict", csrf);
    http_set_cookie(r, cookie);
    snprintf(action, sizeof action, "/link/%s", token);
    snprintf(logo, sizeof logo, "/logos/%s", v->toolkit->logo ? v->toolkit->logo : "");
    int oauth = v->scheme->type == CATALOG_OAUTH2;
    json_t *scopes = links_scopes(c, v);
    json_t *project = project_json(&v->project);
    const char *accent = json_string_value(json_object_get(project, "accent"));
    json_t *ctx = json_pack("{so s{ss ss} sb so sb so ss ss ss* ss}", "project", project, "toolkit",
                            "name", v->toolkit->name, "logo_url", logo, "oauth", oauth, "scopes",
                            scopes, "has_scopes", json_array_size(scopes) > 0, "fields",
                            fields_json(v->scheme, oauth), "action", action, "csrf", csrf, "error",
                            error, "accent", accent);
    pages_reply(r, status, "link", ctx);
}

static void
reply_closed(struct http_req *r, const struct link_view *v)
{
    const char *name = v->toolkit ? v->toolkit->name : NULL;
    switch (v->state) {
    case LINK_EXPIRED:
        pages_result(r, 410, RESULT_EXPIRED, &(struct result_info){.toolkit = name});
        break;
    case LINK_USED:
        pages_result(r, 410, RESULT_USED,
                     &(struct result_info){.toolkit = name, .reason = v->account.status_reason});
        break;
    default:
        pages_result(r, 404, RESULT_UNKNOWN, &(struct result_info){0});
    }
}

void
web_link_page(struct http_req *r)
{
    struct link_view v;
    struct err e;
    if (links_view(core_of(r), r->params[0], &v, &e) != 0) {
        pages_result(r, 500, RESULT_FAILURE,
                     &(struct result_info){.reason = "the link could not be read"});
        return;
    }
    if (v.state == LINK_OPEN)
        reply_form(r, &v, r->params[0], NULL, 200);
    else
        reply_closed(r, &v);
    links_view_clear(&v);
}

/* Sends the browser on after a finished attempt: the app's callback, the form again, or a page. */
static void
answer_attempt(struct http_req *r, struct link_attempt *a, const char *token)
{
    if (links_attempt_retry_form(a) && token != NULL) {
        struct link_view v;
        struct err e;
        if (links_view(core_of(r), token, &v, &e) == 0 && v.state == LINK_OPEN) {
            reply_form(r, &v, token, links_attempt_reason(a), 400);
            links_view_clear(&v);
            return;
        }
        links_view_clear(&v);
    }
    if (links_attempt_redirect(a) != NULL) {
        http_reply_redirect(r, links_attempt_redirect(a));
        return;
    }
    const struct catalog_toolkit *t = catalog_get(links_attempt_toolkit(a));
    struct result_info info = {.toolkit = t ? t->name : NULL,
                               .account_id = links_attempt_account(a)};
    if (links_attempt_ok(a)) {
        info.identity = links_attempt_identity(a);
        pages_result(r, 200, RESULT_SUCCESS, &info);
    } else {
        info.reason = links_attempt_reason(a);
        pages_result(r, 400, RESULT_FAILURE, &info);
    }
}

struct attempt_work {
    struct link_attempt *attempt;
    char token[64];
};

static void
work_free(void *p)
{
    struct attempt_work *w = p;
    links_attempt_free(w->attempt);
    free(w);
}

static void
on_outbound_done(void *arg, const struct outbound_res *res)
{
    struct http_req *r = arg;
    struct attempt_work *w = r->work;
    links_attempt_done(w->attempt, res);
    http_resume(r);
}

static void on_resume(struct http_req *r);

/* Parks r (again) while req runs on the outbound engine; resumes into on_resume. */
static void
park(struct http_req *r, struct attempt_work *w, struct outbound_req *req)
{
    http_suspend(r, on_resume, w, work_free);
    if (outbound_submit(req, on_outbound_done, r) != 0) {
        struct outbound_res res = {0};
        snprintf(res.error, sizeof res.error, "the outbound engine is not running");
        links_attempt_done(w->attempt, &res);
        http_resume(r);
    }
}

static void
on_resume(struct http_req *r)
{
    struct attempt_work *w = r->work;
    links_finish(core_of(r), w->attempt);
    struct outbound_req *next = links_attempt_followup(w->attempt);
    if (next != NULL)
        park(r, w, next); /* the identity lookup, then links_finish again */
    else
        answer_attempt(r, w->attempt, w->token[0] ? w->token : NULL);
}

/* Runs the attempt: parks the request while req (if any) is on the outbound engine. */
static void
run_attempt(struct http_req *r, struct link_attempt *a, struct outbound_req *req, const char *token)
{
    struct attempt_work *w = calloc(1, sizeof *w);
    if (w == NULL) {
        outbound_req_free(req);
        links_attempt_free(a);
        http_reply_error(r, ERR_INTERNAL, "out of memory");
        return;
    }
    w->attempt = a;
    snprintf(w->token, sizeof w->token, "%s", token ? token : "");
    if (req == NULL) {
        r->work = w;
        r->work_free = work_free;
        on_resume(r);
        return;
    }
    park(r, w, req);
}

static int
csrf_ok(struct http_req *r, const struct kv_list *form)
{
    const char *cookie = http_cookie(r, CSRF_COOKIE), *field = kv_get(form, "csrf");
    if (cookie == NULL || field == NULL || strlen(cookie) != strlen(field) || strlen(field) < 20)
        return 0;
    return sodium_memcmp(cookie, field, strlen(field)) == 0;
}

static json_t *
oauth_fields(const struct catalog_scheme *s, const struct kv_list *form)
{
    json_t *o = json_object();
    for (size_t i = 0; i < s->nfields; i++) {
        const char *v = kv_get(form, s->fields[i].name);
        if (!s->fields[i].secret && !from_provider(s, i) && v != NULL && v[0] != '\0' &&
            strlen(v) <= 200)
            json_object_set_new(o, s->fields[i].name, json_string(v));
    }
    return o;
}

static void
submit_open(struct http_req *r, const struct link_view *v, const struct kv_list *form)
{
    struct err e;
    if (v->scheme->type == CATALOG_OAUTH2) {
        json_t *fields = oauth_fields(v->scheme, form);
        char *url = NULL;
        if (links_begin_oauth(core_of(r), v, fields, &url, &e) == 0)
            http_reply_redirect(r, url);
        else
            reply_form(r, v, r->params[0], e.message, 400);
        free(url);
        json_decref(fields);
        return;
    }
    struct link_attempt *a = NULL;
    struct outbound_req *req = NULL;
    if (links_fields_begin(core_of(r), v, form, &a, &req, &e) != 0)
        reply_form(r, v, r->params[0], e.message, 400);
    else
        run_attempt(r, a, req, r->params[0]);
}

void
web_link_submit(struct http_req *r)
{
    struct kv_list form = {0};
    if (r->body_too_large || form_parse(r->body.data ? r->body.data : "", r->body.len, &form)) {
        pages_result(r, 400, RESULT_FAILURE,
                     &(struct result_info){.reason = "the form could not be read"});
        return;
    }
    struct link_view v;
    struct err e;
    if (links_view(core_of(r), r->params[0], &v, &e) != 0)
        pages_result(r, 500, RESULT_FAILURE,
                     &(struct result_info){.reason = "the link could not be read"});
    else if (v.state != LINK_OPEN)
        reply_closed(r, &v);
    else if (!csrf_ok(r, &form))
        reply_form(r, &v, r->params[0], "Your session on this page expired; please try again.",
                   403);
    else
        submit_open(r, &v, &form);
    links_view_clear(&v);
    kv_list_free(&form);
}

void
web_oauth_callback(struct http_req *r)
{
    struct kv_list q = {0};
    if (http_query_list(r, &q) != 0) {
        pages_result(r, 400, RESULT_FAILURE,
                     &(struct result_info){.reason = "the provider's answer could not be read"});
        return;
    }
    struct link_attempt *a = NULL;
    struct outbound_req *req = NULL;
    struct err e;
    if (links_callback_begin(core_of(r), &q, &a, &req, &e) != 0)
        pages_result(r, 400, RESULT_FAILURE, &(struct result_info){.reason = e.message});
    else
        run_attempt(r, a, req, NULL);
    kv_list_free(&q);
}
