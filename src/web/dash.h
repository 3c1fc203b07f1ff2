/* dash.h -- what the dashboard's pages share (web/dashboard.c): the session gate, CSRF-checked
 * forms, the page layout and small formatting helpers. Pages are templates/dash_<name>.html
 * rendered inside templates/dash_layout.html; every value is escaped by the template. */
#ifndef TETHER_WEB_DASH_H
#define TETHER_WEB_DASH_H
#include <jansson.h>
#include "common/url.h"
#include "core/dashboard.h"
#include "http/http.h"

#define DASH_PAGE_SIZE 50

struct core *dash_core(struct http_req *r);

/* The signed-in session of a GET, or -1 after redirecting to the sign-in page. */
int dash_session_or_reply(struct http_req *r, struct dashboard_session *s);
/* For a POST: the session, the parsed form (kv_list_free it on success) and a valid CSRF token;
 * -1 after answering (403 page, or 400 when the form cannot be read). */
int dash_form_or_reply(struct http_req *r, struct dashboard_session *s, struct kv_list *form);

/* Renders templates/dash_<name>.html against ctx (consumed) inside the layout, with section
 * ("overview", "accounts", ...) marked in the navigation. */
void dash_reply(struct http_req *r, unsigned status, const struct dashboard_session *s,
                const char *section, const char *title, const char *name, json_t *ctx);
/* A page with one message (not found, bad input). */
void dash_message(struct http_req *r, unsigned status, const struct dashboard_session *s,
                  const char *title, const char *message);

/* "2026-05-14 09:30 UTC" (or "" for 0) as a JSON string. */
json_t *dash_time(int64_t ms);
/* The CSS class suffix of an account status ("active", "failed", ...; "other" when unknown). */
const char *dash_status_class(const char *status);
/* A query string "?k=v&..." of the non-empty values of n pairs, percent-encoded (malloc'd). */
char *dash_query(const char *path, const char *const *pairs, size_t n);

#endif
