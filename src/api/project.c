/* project.c -- the calling project's own settings (callback origins, Connect Link branding). */
#include "api/handlers.h"
#include "api/api.h"
#include "core/projects.h"

void
api_project_settings_get(struct http_req *r)
{
    json_t *s = NULL;
    struct err e;
    if (projects_settings_get(api_core(r), api_project(r), &s, &e) != 0) {
        api_fail(r, &e);
        return;
    }
    http_reply_json(r, 200, json_pack("{ssso}", "project_id", api_project(r), "settings", s));
}

void
api_project_settings_update(struct http_req *r)
{
    json_t *body, *s = NULL;
    if (api_body_or_reply(r, &body) != 0)
        return;
    struct err e;
    if (projects_settings_update(api_core(r), api_project(r), body, &s, &e) == 0)
        http_reply_json(r, 200, json_pack("{ssso}", "project_id", api_project(r), "settings", s));
    else
        api_fail(r, &e);
    json_decref(body);
}
