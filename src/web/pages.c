#include "web/pages.h"
#include <stdio.h>
#include <stdlib.h>
#include "common/embedded.h"
#include "common/tmpl.h"

void
pages_reply(struct http_req *r, unsigned status, const char *name, json_t *ctx)
{
    char path[96], err[160];
    snprintf(path, sizeof path, "templates/%s.html", name);
    const struct embedded_file *f = embedded_find(path);
    char *html = f ? tmpl_render(f->data, ctx, err, sizeof err) : NULL;
    json_decref(ctx);
    if (html == NULL) {
        http_reply_error(r, ERR_INTERNAL, "cannot render the page");
        return;
    }
    http_reply_html(r, status, html);
}

void
pages_result(struct http_req *r, unsigned status, enum result_kind kind,
             const struct result_info *info)
{
    static const struct {
        const char *title, *message, *mark, *symbol;
    } text[] = {
        [RESULT_SUCCESS] = {"Connected", "Your %s account is connected.", "ok", "\u2713"},
        [RESULT_FAILURE] = {"Connection failed", "Your %s account could not be connected.", "bad",
                            "!"},
        [RESULT_EXPIRED] = {"This link has expired",
                            "Ask the app for a new link to connect your %s account.", "info",
                            "\u00d7"},
        [RESULT_USED] = {"This link was already used",
                         "Your %s connection has already been handled.", "info", "\u2022"},
        [RESULT_UNKNOWN] = {"Link not found", "This link is not valid%s.", "info", "?"},
    };
    const char *toolkit = info->toolkit ? info->toolkit : (kind == RESULT_UNKNOWN ? "" : "app");
    char message[256];
    snprintf(message, sizeof message, text[kind].message, toolkit);
    json_t *ctx = json_pack("{ss ss ss ss ss* ss* ss*}", "title", text[kind].title, "message",
                            message, "mark", text[kind].mark, "symbol", text[kind].symbol, "reason",
                            info->reason, "account_id", info->account_id, "identity",
                            info->identity && info->identity[0] ? info->identity : NULL);
    pages_reply(r, status, "result", ctx);
}
