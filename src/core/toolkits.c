#include "core/toolkits.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/authcfg.h"
#include "core/sessions.h"

static int
in_list(const char *const *list, const char *slug)
{
    for (; list && *list; list++)
        if (strcmp(*list, slug) == 0)
            return 1;
    return 0;
}

static int
matches_search(const struct catalog_toolkit *t, const char *search)
{
    return search == NULL || search[0] == '\0' || strcasestr(t->slug, search) != NULL ||
           strcasestr(t->name, search) != NULL;
}

/* The account a session uses for t: pinned, else the newest ACTIVE of the user. */
static int
account_in_use(struct core *c, const struct st_session *s, const json_t *cfg,
               const struct st_account_page *active, const struct catalog_toolkit *t,
               struct st_account *out)
{
    const char *pinned = session_pinned_account(cfg, t->slug);
    if (pinned != NULL)
        return store_account_get(c->store, s->project_id, pinned, out) == 0;
    for (size_t i = 0; i < active->n; i++) {
        const struct st_account *a = &active->items[i];
        if (strcmp(a->toolkit, t->slug) != 0)
            continue;
        return store_account_get(c->store, s->project_id, a->id, out) == 0;
    }
    return 0;
}

static int
listed(const json_t *cfg, const struct catalog_toolkit *t, const struct toolkits_query *q)
{
    if (!session_toolkit_enabled(cfg, t->slug))
        return 0;
    if (q->only != NULL && !in_list(q->only, t->slug))
        return 0;
    return matches_search(t, q->search);
}

static void
fill_row(struct core *c, const struct st_session *s, const json_t *cfg,
         const struct st_account_page *active, struct toolkit_row *row)
{
    const struct catalog_toolkit *t = row->toolkit;
    if (!t->no_auth && account_in_use(c, s, cfg, active, t, &row->account)) {
        row->has_account = 1;
        if (authcfg_summary(c, s->project_id, row->account.auth_config_id, &row->auth_config) !=
            0)
            snprintf(row->auth_config.auth_scheme, sizeof row->auth_config.auth_scheme, "OAUTH2");
    }
    struct st_managed_app app = {0};
    row->managed_oauth = store_managed_app_get(c->store, t->slug, &app) == 0;
    st_managed_app_clear(&app);
}

int
toolkits_for_session(struct core *c, const struct st_session *s, const struct toolkits_query *q,
                     struct toolkit_page *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    out->next_offset = -1;
    struct st_account_page active = {0};
    if (store_account_active_for_user(c->store, s->project_id, s->user_id, &active) != 0)
        return err_set(e, ERR_INTERNAL, "cannot read the user's accounts");
    json_t *cfg = sessions_config(s);
    out->rows = calloc((size_t)q->limit + 1, sizeof *out->rows);
    for (size_t i = 0; out->rows != NULL && i < catalog_count(); i++) {
        const struct catalog_toolkit *t = catalog_at(i);
        if (!listed(cfg, t, q))
            continue;
        struct toolkit_row row = {.toolkit = t};
        if (q->connected >= 0) {
            fill_row(c, s, cfg, &active, &row);
            int is_active = row.has_account && strcmp(row.account.status, "ACTIVE") == 0;
            if (is_active != q->connected) {
                st_account_clear(&row.account);
                st_auth_config_clear(&row.auth_config);
                continue;
            }
        }
        long pos = out->total++;
        if (pos < q->offset || pos >= q->offset + q->limit) {
            st_account_clear(&row.account);
            st_auth_config_clear(&row.auth_config);
            continue;
        }
        if (q->connected < 0)
            fill_row(c, s, cfg, &active, &row);
        out->rows[out->n++] = row;
    }
    if (q->offset + q->limit < out->total)
        out->next_offset = q->offset + q->limit;
    json_decref(cfg);
    st_account_page_clear(&active);
    return out->rows ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
}

void
toolkit_page_clear(struct toolkit_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        st_account_clear(&p->rows[i].account);
        st_auth_config_clear(&p->rows[i].auth_config);
    }
    free(p->rows);
    memset(p, 0, sizeof *p);
}
