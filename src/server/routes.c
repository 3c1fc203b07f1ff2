/* routes.c -- the route table and the dispatcher.
 * Patterns starting with "@" are API routes served under both /api/v3 and /api/v3.1; "{x}"
 * captures one path segment into req->params. The first match wins; a path that matches with
 * another method gets 405, anything else 404. */
#include "server/routes.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/handlers.h"
#include "common/log.h"
#include "core/projects.h"
#include "http/metrics.h"
#include "http/ratelimit.h"

/* AUTH_NONE: open and unlimited (health, metrics); AUTH_PAGE: open, limited per client IP;
 * AUTH_KEY: an API key, limited per project. */
enum auth { AUTH_NONE, AUTH_PAGE, AUTH_KEY };

struct route {
    const char *method;
    const char *pattern;
    http_handler handler;
    enum auth auth;
};

static const struct route ROUTES[] = {
    {"GET", "/healthz", api_healthz, AUTH_NONE},
    {"GET", "/metrics", api_metrics, AUTH_NONE},
    {"GET", "/logos/{file}", api_logo, AUTH_PAGE},
    {"GET", "/link/{token}", web_link_page, AUTH_PAGE},
    {"POST", "/link/{token}", web_link_submit, AUTH_PAGE},
    {"GET", "@/toolkits/auth/callback", web_oauth_callback, AUTH_PAGE},
    {"GET", "/dashboard", web_dash_overview, AUTH_PAGE},
    {"GET", "/dashboard/signin", web_dash_signin_page, AUTH_PAGE},
    {"POST", "/dashboard/signin", web_dash_signin, AUTH_PAGE},
    {"POST", "/dashboard/signout", web_dash_signout, AUTH_PAGE},
    {"GET", "/dashboard/accounts", web_dash_accounts, AUTH_PAGE},
    {"GET", "/dashboard/accounts/{id}", web_dash_account, AUTH_PAGE},
    {"GET", "/dashboard/accounts/{id}/{action}", web_dash_account_confirm, AUTH_PAGE},
    {"POST", "/dashboard/accounts/{id}/{action}", web_dash_account_act, AUTH_PAGE},
    {"GET", "/dashboard/auth-configs", web_dash_auth_configs, AUTH_PAGE},
    {"GET", "/dashboard/webhooks", web_dash_webhooks, AUTH_PAGE},
    {"GET", "/dashboard/branding", web_dash_branding, AUTH_PAGE},
    {"POST", "/dashboard/branding", web_dash_branding_save, AUTH_PAGE},
    {"POST", "@/tool_router/session", api_session_create, AUTH_KEY},
    {"GET", "@/tool_router/session/{id}", api_session_get, AUTH_KEY},
    {"PATCH", "@/tool_router/session/{id}", api_session_update, AUTH_KEY},
    {"DELETE", "@/tool_router/session/{id}", api_session_delete, AUTH_KEY},
    {"POST", "@/tool_router/session/{id}/link", api_session_link, AUTH_KEY},
    {"GET", "@/tool_router/session/{id}/toolkits", api_session_toolkits, AUTH_KEY},
    {"GET", "@/tool_router/session/{id}/tools", api_session_tools, AUTH_KEY},
    {"POST", "@/tool_router/session/{id}/execute", api_session_execute, AUTH_KEY},
    {"POST", "@/tool_router/session/{id}/execute_meta", api_session_execute_meta, AUTH_KEY},
    {"POST", "/tool_router/{id}/mcp", mcp_post, AUTH_KEY},
    {"POST", "@/tool_router/{id}/mcp", mcp_post, AUTH_KEY},
    {"GET", "@/connected_accounts", api_account_list, AUTH_KEY},
    {"POST", "@/connected_accounts/link", api_account_link, AUTH_KEY},
    {"GET", "@/connected_accounts/{id}", api_account_get, AUTH_KEY},
    {"DELETE", "@/connected_accounts/{id}", api_account_delete, AUTH_KEY},
    {"PATCH", "@/connected_accounts/{id}/status", api_account_status, AUTH_KEY},
    {"POST", "@/connected_accounts/{id}/refresh", api_account_refresh, AUTH_KEY},
    {"POST", "@/webhooks", api_webhook_create, AUTH_KEY},
    {"GET", "@/webhooks", api_webhook_list, AUTH_KEY},
    {"GET", "@/webhooks/{id}", api_webhook_get, AUTH_KEY},
    {"PATCH", "@/webhooks/{id}", api_webhook_update, AUTH_KEY},
    {"DELETE", "@/webhooks/{id}", api_webhook_delete, AUTH_KEY},
    {"POST", "@/webhooks/{id}/rotate_secret", api_webhook_rotate, AUTH_KEY},
    {"GET", "@/webhooks/{id}/deliveries", api_webhook_deliveries, AUTH_KEY},
    {"POST", "@/webhooks/{id}/deliveries/{did}/replay", api_webhook_replay, AUTH_KEY},
    {"POST", "@/auth_configs", api_auth_config_create, AUTH_KEY},
    {"GET", "@/auth_configs", api_auth_config_list, AUTH_KEY},
    {"GET", "@/auth_configs/{id}", api_auth_config_get, AUTH_KEY},
    {"GET", "@/project/settings", api_project_settings_get, AUTH_KEY},
    {"PATCH", "@/project/settings", api_project_settings_update, AUTH_KEY},
    {"GET", "@/toolkits", api_toolkit_list, AUTH_KEY},
    {"GET", "@/toolkits/{slug}", api_toolkit_get, AUTH_KEY},
    {"GET", "@/tools", api_tool_list, AUTH_KEY},
    {"GET", "@/tools/{slug}", api_tool_get, AUTH_KEY},
    {"POST", "@/tools/execute/proxy", api_tool_proxy, AUTH_KEY},
    {"POST", "@/tools/execute/{slug}", api_tool_execute, AUTH_KEY},
    {"POST", "@/tool_router/session/{id}/proxy_execute", api_session_proxy, AUTH_KEY},
};
#define NROUTES ((int)(sizeof ROUTES / sizeof ROUTES[0]))

static char *names[NROUTES];
static struct ratelimit *api_limit, *page_limit;

void
routes_set_limits(double api_per_s, double pages_per_s)
{
    api_limit = ratelimit_new(api_per_s, api_per_s * 2);
    page_limit = ratelimit_new(pages_per_s, pages_per_s * 2);
}

void
routes_init(void)
{
    for (int i = 0; i < NROUTES; i++) {
        const char *p = ROUTES[i].pattern;
        size_t n = strlen(ROUTES[i].method) + strlen(p) + 8;
        names[i] = malloc(n);
        snprintf(names[i], n, "%s %s%s", ROUTES[i].method, p[0] == '@' ? "/api" : "",
                 p[0] == '@' ? p + 1 : p);
    }
    metrics_init((const char *const *)names, NROUTES);
}

/* Matches path against pattern segment by segment. scratch receives a copy of the path cut into
 * segments; params point into it. */
static int
match(const char *pattern, const char *path, char *scratch, size_t len,
      const char *params[HTTP_MAX_PARAMS])
{
    size_t n = strlen(path);
    if (n + 1 > len || path[0] != '/')
        return 0;
    memcpy(scratch, path, n + 1);
    char *segs[16];
    int nseg = 0;
    for (char *p = scratch + 1;;) {
        if (nseg == 16)
            return 0;
        segs[nseg++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    int i = 0, np = 0;
    for (const char *pp = pattern + 1;; i++) {
        const char *end = strchr(pp, '/');
        size_t plen = end ? (size_t)(end - pp) : strlen(pp);
        if (i >= nseg)
            return 0;
        if (pp[0] == '{') {
            if (segs[i][0] == '\0' || np == HTTP_MAX_PARAMS)
                return 0;
            params[np++] = segs[i];
        } else if (strlen(segs[i]) != plen || strncmp(pp, segs[i], plen) != 0) {
            return 0;
        }
        if (end == NULL)
            break;
        pp = end + 1;
    }
    return i + 1 == nseg;
}

/* The path relative to the API prefix, or NULL when it is not under /api/v3 or /api/v3.1. */
static const char *
api_tail(const char *path)
{
    if (strncmp(path, "/api/v3.1/", 10) == 0)
        return path + 9;
    if (strncmp(path, "/api/v3/", 8) == 0)
        return path + 7;
    return NULL;
}

static int
find(struct http_req *r, char *scratch, size_t len, int *method_mismatch)
{
    const char *tail = api_tail(r->path);
    for (int i = 0; i < NROUTES; i++) {
        const struct route *rt = &ROUTES[i];
        int api = rt->pattern[0] == '@';
        const char *target = api ? tail : r->path;
        const char *params[HTTP_MAX_PARAMS] = {0};
        if (target == NULL || !match(api ? rt->pattern + 1 : rt->pattern, target, scratch, len,
                                     params))
            continue;
        if (strcmp(rt->method, r->method) != 0) {
            *method_mismatch = 1;
            continue;
        }
        memcpy(r->params, params, sizeof params);
        return i;
    }
    return -1;
}

static int
authenticate(struct http_req *r)
{
    char pid[STORE_ID];
    struct err e;
    if (projects_authenticate(r->app, http_header(r, "x-api-key"), pid, &e) != 0) {
        http_reply_err(r, &e);
        return -1;
    }
    r->auth = http_keep(r, strdup(pid));
    return 0;
}

void
routes_dispatch(struct http_req *r)
{
    if (!http_input_valid(r)) {
        http_reply_error(r, ERR_BAD_REQUEST, "the URL is too long or not valid UTF-8");
        return;
    }
    char *scratch = http_keep(r, malloc(strlen(r->path) + 1));
    int mismatch = 0;
    int i = scratch ? find(r, scratch, strlen(r->path) + 1, &mismatch) : -1;
    if (i < 0) {
        if (mismatch)
            http_reply_error(r, ERR_METHOD_NOT_ALLOWED, "%s is not allowed on this path",
                             r->method);
        else
            http_reply_error(r, ERR_NOT_FOUND, "no route for %s %.200s", r->method, r->path);
        return;
    }
    r->route_index = i;
    if (r->body_too_large) {
        http_reply_error(r, ERR_PAYLOAD_TOO_LARGE, "the request body is larger than %d bytes",
                         HTTP_MAX_BODY);
        return;
    }
    int retry = 0;
    if (ROUTES[i].auth == AUTH_KEY) {
        if (authenticate(r) != 0)
            return;
        if (!ratelimit_take(api_limit, r->auth, &retry)) {
            http_reply_limited(r, retry);
            return;
        }
    } else if (ROUTES[i].auth == AUTH_PAGE) {
        char ip[64];
        http_client_ip(r, ip, sizeof ip);
        if (!ratelimit_take(page_limit, ip, &retry)) {
            http_reply_limited(r, retry);
            return;
        }
    }
    ROUTES[i].handler(r);
}

void
routes_complete(struct http_req *r, int64_t duration_us)
{
    metrics_observe(r->route_index, r->status, duration_us);
    if (r->route_index == 0)
        return; /* health checks stay out of the log */
    log_msg(LOG_DEBUG, "request", "request_id=%s method=%s route=\"%s\" status=%u dur_us=%lld",
            r->request_id, r->method, r->route_index >= 0 ? names[r->route_index] : "unmatched",
            r->status, (long long)duration_us);
}
