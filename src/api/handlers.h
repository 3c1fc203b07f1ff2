/* handlers.h -- every HTTP handler of the faces (api/, web/, mcp/), for the route table. */
#ifndef TETHER_API_HANDLERS_H
#define TETHER_API_HANDLERS_H
#include "http/http.h"

/* api/sessions.c */
void api_session_create(struct http_req *r);
void api_session_get(struct http_req *r);
void api_session_update(struct http_req *r);
void api_session_delete(struct http_req *r);
void api_session_link(struct http_req *r);
void api_session_toolkits(struct http_req *r);
/* api/accounts.c */
void api_account_list(struct http_req *r);
void api_account_get(struct http_req *r);
void api_account_delete(struct http_req *r);
void api_account_status(struct http_req *r);
void api_account_link(struct http_req *r);
void api_account_refresh(struct http_req *r);
/* api/webhooks.c */
void api_webhook_create(struct http_req *r);
void api_webhook_list(struct http_req *r);
void api_webhook_get(struct http_req *r);
void api_webhook_update(struct http_req *r);
void api_webhook_delete(struct http_req *r);
void api_webhook_rotate(struct http_req *r);
void api_webhook_deliveries(struct http_req *r);
void api_webhook_replay(struct http_req *r);
/* api/auth_configs.c */
void api_auth_config_create(struct http_req *r);
void api_auth_config_list(struct http_req *r);
void api_auth_config_get(struct http_req *r);
/* api/toolkits.c */
void api_toolkit_list(struct http_req *r);
void api_toolkit_get(struct http_req *r);
/* api/tools.c */
void api_tool_list(struct http_req *r);
void api_tool_get(struct http_req *r);
void api_tool_execute(struct http_req *r);
void api_tool_proxy(struct http_req *r);
void api_session_proxy(struct http_req *r);
/* api/project.c */
void api_project_settings_get(struct http_req *r);
void api_project_settings_update(struct http_req *r);
/* api/session_tools.c */
void api_session_tools(struct http_req *r);
void api_session_execute(struct http_req *r);
void api_session_execute_meta(struct http_req *r);
/* mcp/mcp.c */
void mcp_post(struct http_req *r);
/* api/system.c */
void api_healthz(struct http_req *r);
void api_metrics(struct http_req *r);
void api_logo(struct http_req *r);
/* web/link.c */
void web_link_page(struct http_req *r);
void web_link_submit(struct http_req *r);
void web_oauth_callback(struct http_req *r);
/* web/dashboard.c, web/dash_*.c: the admin dashboard */
void web_dash_signin_page(struct http_req *r);
void web_dash_signin(struct http_req *r);
void web_dash_signout(struct http_req *r);
void web_dash_overview(struct http_req *r);
void web_dash_accounts(struct http_req *r);
void web_dash_account(struct http_req *r);
void web_dash_account_confirm(struct http_req *r);
void web_dash_account_act(struct http_req *r);
void web_dash_auth_configs(struct http_req *r);
void web_dash_webhooks(struct http_req *r);
void web_dash_branding(struct http_req *r);
void web_dash_branding_save(struct http_req *r);

#endif
