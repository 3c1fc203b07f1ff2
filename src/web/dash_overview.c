/* dash_overview.c -- the dashboard's first page: accounts per status now, and a chart of the
 * status changes of the last CHART_DAYS days drawn as inline SVG on the server (no script). The
 * chart's numbers come from the event log (store_event_daily); this file only turns them into
 * rectangle geometry for templates/dash_overview.html. */
#include "api/handlers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/timeutil.h"
#include "web/dash.h"

#define CHART_DAYS 14
#define DAY_MS (24 * 3600 * 1000LL)
#define CHART_W 700
#define CHART_H 200
#define PLOT_LEFT 40
#define PLOT_TOP 10
#define PLOT_W (CHART_W - PLOT_LEFT - 10)
#define PLOT_H (CHART_H - PLOT_TOP - 28)

/* The stacking order of the chart and the order of the tiles. */
static const char *const CLASSES[] = {"active",   "pending", "failed", "expired",
                                      "inactive", "revoked", "other"};
#define NCLASSES (sizeof CLASSES / sizeof CLASSES[0])
static const char *const LABELS[NCLASSES] = {"Active",   "Pending", "Failed", "Expired",
                                             "Disabled", "Revoked", "Other"};
static const char *const STATUSES[] = {"ACTIVE",   "INITIATED", "FAILED",      "EXPIRED",
                                       "INACTIVE", "REVOKED",   "INITIALIZING"};
#define NSTATUSES (sizeof STATUSES / sizeof STATUSES[0])

static size_t
class_index(const char *status)
{
    const char *cls = dash_status_class(status);
    for (size_t i = 0; i < NCLASSES; i++)
        if (strcmp(cls, CLASSES[i]) == 0)
            return i;
    return NCLASSES - 1;
}

static void
add_count(void *arg, const char *status, int64_t n)
{
    int64_t *per = arg;
    per[class_index(status)] += n;
}

/* Accounts per class: one grouped count, or (a backend without it) one count per status. */
static void
count_classes(struct core *c, const char *project_id, int64_t per[NCLASSES])
{
    if (store_account_count_project(c->store, project_id, add_count, per) == 0)
        return;
    memset(per, 0, NCLASSES * sizeof per[0]);
    for (size_t i = 0; i < NSTATUSES; i++) {
        const char *one[] = {STATUSES[i], NULL};
        struct st_account_query q = {.project_id = project_id, .statuses = one, .limit = 1};
        struct st_account_page page = {0};
        if (store_account_list(c->store, &q, &page) == 0)
            add_count(per, STATUSES[i], page.total);
        st_account_page_clear(&page);
    }
}

static json_t *
tiles_json(struct core *c, const char *project_id, int64_t *total)
{
    int64_t per[NCLASSES] = {0};
    count_classes(c, project_id, per);
    *total = 0; /* the statuses are exhaustive: their sum is every account */
    for (size_t i = 0; i < NCLASSES; i++)
        *total += per[i];
    json_t *arr = json_array();
    for (size_t i = 0; i + 1 < NCLASSES; i++) {
        const char *status = i == 1 ? "INITIATED" : STATUSES[i];
        json_array_append_new(arr, json_pack("{ss ss sI ss}", "cls", CLASSES[i], "label", LABELS[i],
                                             "n", (json_int_t)per[i], "status", status));
    }
    return arr;
}

static void
day_label(int64_t day_ms, char out[16], const char *fmt)
{
    time_t t = (time_t)(day_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 16, fmt, &tm) == 0)
        out[0] = '\0';
}

/* Stacked bars of one day: one rect per non-zero class, bottom up. */
static void
day_bars(json_t *rects, int64_t day_ms, const int64_t counts[NCLASSES], int x, int w, int64_t max)
{
    char date[16], title[96];
    day_label(day_ms, date, "%Y-%m-%d");
    int base = PLOT_TOP + PLOT_H;
    for (size_t k = 0; k < NCLASSES; k++) {
        if (counts[k] == 0)
            continue;
        int h = (int)(counts[k] * PLOT_H / max);
        if (h < 1)
            h = 1;
        base -= h;
        snprintf(title, sizeof title, "%s: %lld %s", date, (long long)counts[k], LABELS[k]);
        json_array_append_new(rects, json_pack("{si si si si ss ss}", "x", x, "y", base, "w", w,
                                               "h", h, "cls", CLASSES[k], "title", title));
    }
}

static json_t *
chart_json(struct core *c, const char *project_id)
{
    int64_t today = time_now_ms() / DAY_MS * DAY_MS, first = today - (CHART_DAYS - 1) * DAY_MS;
    int64_t counts[CHART_DAYS][NCLASSES] = {{0}}, max = 0, sum = 0;
    struct st_event_day *days = NULL;
    size_t n = 0;
    int failed = store_event_daily(c->store, project_id, first, &days, &n) != 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = (days[i].day - first) / DAY_MS;
        if (d >= 0 && d < CHART_DAYS)
            counts[d][class_index(days[i].status)] += days[i].n;
    }
    free(days);
    for (int d = 0; d < CHART_DAYS; d++) {
        int64_t t = 0;
        for (size_t k = 0; k < NCLASSES; k++)
            t += counts[d][k];
        max = t > max ? t : max;
        sum += t;
    }
    json_t *rects = json_array(), *labels = json_array();
    int slot = PLOT_W / CHART_DAYS, w = slot * 7 / 10;
    for (int d = 0; d < CHART_DAYS; d++) {
        int x = PLOT_LEFT + d * slot + (slot - w) / 2;
        if (max > 0)
            day_bars(rects, first + d * DAY_MS, counts[d], x, w, max);
        char label[16];
        day_label(first + d * DAY_MS, label, "%m-%d");
        if (d % 2 == 1 || d == CHART_DAYS - 1)
            json_array_append_new(labels, json_pack("{si ss}", "x", x + w / 2, "text", label));
    }
    json_t *legend = json_array();
    for (size_t k = 0; k < NCLASSES; k++)
        json_array_append_new(legend, json_pack("{ss ss}", "cls", CLASSES[k], "label", LABELS[k]));
    return json_pack("{si si si si si si sI sI so so so sb sb}", "w", CHART_W, "h", CHART_H, "left",
                     PLOT_LEFT, "top", PLOT_TOP, "bottom", PLOT_TOP + PLOT_H, "right",
                     PLOT_LEFT + PLOT_W, "max", (json_int_t)max, "sum", (json_int_t)sum, "rects",
                     rects, "labels", labels, "legend", legend, "empty", max == 0, "failed",
                     failed);
}

void
web_dash_overview(struct http_req *r)
{
    struct dashboard_session s;
    if (dash_session_or_reply(r, &s) != 0)
        return;
    struct core *c = dash_core(r);
    int64_t total = 0;
    json_t *tiles = tiles_json(c, s.project_id, &total);
    json_t *ctx = json_pack("{so sI so sI}", "tiles", tiles, "total", (json_int_t)total, "chart",
                            chart_json(c, s.project_id), "days", (json_int_t)CHART_DAYS);
    dash_reply(r, 200, &s, "overview", "Overview", "overview", ctx);
}
