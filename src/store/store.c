/* store.c -- the backend-neutral half of the store: picks a backend from the url, runs its
 * migrations, checks every argument (sizes capped, lists bounded, cursors decoded) and dispatches
 * through the backend's ops. Also the *_clear functions of store.h. No SQL here. */
#include "store/store_int.h"

#include "common/log.h"
#include "common/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
    const struct store_ops *ops;
    struct store_be *be;
};

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- argument checks ---------------------------------------------------------------------- */

/* 1 when s is a non-empty string shorter than cap. */
static int
fits(const char *s, size_t cap)
{
    return s != NULL && s[0] != '\0' && strnlen(s, cap) < cap;
}

/* 1 when s is NULL or at most STORE_TEXT_MAX bytes. */
static int
text_ok(const char *s)
{
    return s == NULL || strnlen(s, STORE_TEXT_MAX + 1) <= STORE_TEXT_MAX;
}

/* 1 when a blob is absent or at most STORE_TEXT_MAX bytes. */
static int
blob_ok(const unsigned char *p, size_t n)
{
    return (p == NULL && n == 0) || (p != NULL && n <= STORE_TEXT_MAX);
}

/* A caller passed something the store cannot hold: a programming error, logged, STORE_ERR. */
static int
bad_arg(const char *fn, const char *what)
{
    log_warn("store: bad argument", "fn=%s arg=%s", fn, what);
    return STORE_ERR;
}

/* Counts a NULL-terminated list; -1 when it holds more than max entries or an entry of cap bytes
 * or more. */
static int
list_len(const char *const *list, size_t max, size_t cap)
{
    if (list == NULL)
        return 0;
    size_t n = 0;
    for (; list[n] != NULL; n++) {
        if (n >= max || strnlen(list[n], cap) >= cap)
            return -1;
    }
    return (int)n;
}

static int
clamp_limit(int limit)
{
    if (limit <= 0)
        return STORE_PAGE_DEFAULT;
    return limit > STORE_PAGE_MAX ? STORE_PAGE_MAX : limit;
}

static int
status_known(const char *s)
{
    static const char *const all[] = {"INITIALIZING", "INITIATED", "ACTIVE",  "FAILED",
                                      "EXPIRED",      "INACTIVE",  "REVOKED", NULL};
    for (size_t i = 0; s != NULL && all[i] != NULL; i++) {
        if (strcmp(s, all[i]) == 0)
            return 1;
    }
    return 0;
}

/* ---- page cursors: base64url(8-byte big-endian created_at || id) ------------------------- */

static const char b64u_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64u_value(char c)
{
    const char *p = c != '\0' ? strchr(b64u_alphabet, c) : NULL;
    return p != NULL ? (int)(p - b64u_alphabet) : -1;
}

/* Encodes n bytes without padding into out (cap bytes with the NUL); -1 when it does not fit. */
static int
b64u_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t need = (n * 4 + 2) / 3;
    if (need + 1 > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64u_alphabet[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
    return 0;
}

/* Decodes unpadded base64url; -1 on a bad character, a bad length or more than cap bytes. */
static int
b64u_decode(const char *in, unsigned char *out, size_t cap, size_t *outlen)
{
    size_t len = strlen(in), o = 0;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        size_t chars = len - i >= 4 ? 4 : len - i;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = k < chars ? b64u_value(in[i + k]) : 0;
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        for (size_t k = 0; k + 1 < chars; k++) {
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(v >> (16 - 8 * k));
        }
    }
    *outlen = o;
    return 0;
}

static int
id_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return n > 0;
}

/* Writes the cursor that resumes after a row into out; -1 when it does not fit (ids longer than
 * 39 characters). */
static int
cursor_encode(int64_t created_at, const char *id, char out[STORE_ID])
{
    unsigned char raw[8 + STORE_ID];
    size_t idlen = strlen(id);
    uint64_t u = (uint64_t)created_at;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)(u >> (56 - 8 * i));
    memcpy(raw + 8, id, idlen);
    return b64u_encode(raw, 8 + idlen, out, STORE_ID);
}

/* Parses an untrusted cursor; NULL or "" is the first page. -1 when malformed. */
static int
cursor_decode(const char *s, struct store_cursor *c)
{
    memset(c, 0, sizeof *c);
    if (s == NULL || s[0] == '\0')
        return 0;
    if (strnlen(s, STORE_ID) >= STORE_ID)
        return -1;
    unsigned char raw[STORE_ID];
    size_t n;
    if (b64u_decode(s, raw, sizeof raw, &n) != 0 || n < 9 || n - 8 >= STORE_ID ||
        !id_chars_ok((const char *)raw + 8, n - 8))
        return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | raw[i];
    c->set = 1;
    c->created_at = (int64_t)u;
    memcpy(c->id, raw + 8, n - 8);
    c->id[n - 8] = '\0';
    return 0;
}

/* ---- open, migrate, close ----------------------------------------------------------------- */

static int
migrate_all(struct store *s, char *err, size_t errlen)
{
    int64_t cur = 0, n = 0;
    while (s->ops->migrations[n] != NULL)
        n++;
    if (s->ops->schema_version(s->be, &cur) != 0) {
        set_err(err, errlen, "cannot read the schema version of the database");
        return -1;
    }
    if (cur > n) {
        set_err(err, errlen,
                "the database schema is version %lld but this tether knows only %lld; "
                "upgrade tether",
                (long long)cur, (long long)n);
        return -1;
    }
    for (int64_t v = cur + 1; v <= n; v++) {
        if (s->ops->migrate(s->be, v, s->ops->migrations[v - 1]) != 0) {
            set_err(err, errlen, "database migration %lld failed", (long long)v);
            return -1;
        }
    }
    if (cur < n)
        log_info("store: migrated", "backend=%s from=%lld to=%lld", s->ops->name, (long long)cur,
                 (long long)n);
    return 0;
}

int
store_open(const char *url, struct store **out, char *err, size_t errlen)
{
    const struct store_ops *ops = &store__sqlite;
    const char *target = url != NULL ? url : "var";
    if (starts_with(target, "postgres://") || starts_with(target, "postgresql://"))
        ops = &store__pg; /* libpq reads the whole URL */
    else if (starts_with(target, "sqlite:"))
        target += strlen("sqlite:");
    if (target[0] == '\0') {
        set_err(err, errlen, "no database directory given");
        return -1;
    }
    if (ops->version != STORE_OPS_VERSION) {
        set_err(err, errlen, "store backend '%s' has interface version %d, expected %d", ops->name,
                ops->version, STORE_OPS_VERSION);
        return -1;
    }
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    s->ops = ops;
    if (ops->open(target, &s->be, err, errlen) != 0) {
        free(s);
        return -1;
    }
    if (migrate_all(s, err, errlen) != 0) {
        ops->close(s->be);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    s->ops->close(s->be);
    free(s);
}

const char *
store_backend(const struct store *s)
{
    return s->ops->name;
}

int
store_copy(const char *from_url, const char *to_url, int64_t *rows, char *err, size_t errlen)
{
    struct store *from = NULL, *to = NULL;
    if (from_url == NULL || to_url == NULL || rows == NULL) {
        set_err(err, errlen, "copy needs a source and a target");
        return -1;
    }
    if (store_open(from_url, &from, err, errlen) != 0)
        return -1;
    if (strcmp(store_backend(from), "sqlite") != 0) {
        store_close(from);
        set_err(err, errlen, "the source must be a SQLite data directory");
        return -1;
    }
    store_close(from);
    if (store_open(to_url, &to, err, errlen) != 0)
        return -1;
    struct st_project p = {0};
    int is_pg = strcmp(store_backend(to), "postgres") == 0;
    int rc = is_pg ? store_project_first(to, &p) : STORE_ERR;
    st_project_clear(&p);
    store_close(to);
    if (!is_pg) {
        set_err(err, errlen, "the target must be a postgres:// URL");
        return -1;
    }
    if (rc != STORE_NOTFOUND) {
        set_err(err, errlen,
                rc == 0 ? "the target database already holds data"
                        : "cannot read the target database");
        return -1;
    }
    char path[4096];
    const char *dir = starts_with(from_url, "sqlite:") ? from_url + strlen("sqlite:") : from_url;
    if ((size_t)snprintf(path, sizeof path, "%s/tether.db", dir) >= sizeof path) {
        set_err(err, errlen, "the source path is too long");
        return -1;
    }
    return store__pg_copy_from_sqlite(path, to_url, rows, err, errlen);
}

int
store_listen(struct store *s, void (*fn)(void *arg, const char *account_id), void *arg)
{
    if (fn == NULL)
        return bad_arg(__func__, "fn");
    return s->ops->listen != NULL ? s->ops->listen(s->be, fn, arg) : 0;
}

/* ---- projects and API keys ---------------------------------------------------------------- */

int
store_project_create(struct store *s, const char *id, const char *name)
{
    if (!fits(id, STORE_ID))
        return bad_arg(__func__, "id");
    if (name == NULL || strnlen(name, sizeof(((struct st_project *)0)->name)) >=
                            sizeof(((struct st_project *)0)->name))
        return bad_arg(__func__, "name");
    return s->ops->project_create(s->be, id, name);
}

int
store_project_get(struct store *s, const char *id, struct st_project *out)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->project_get(s->be, id, out);
}

int
store_project_first(struct store *s, struct st_project *out)
{
    return s->ops->project_first(s->be, out);
}

int
store_project_each(struct store *s, void (*fn)(void *arg, const struct st_project *p), void *arg)
{
    struct st_project *items = NULL;
    size_t n = 0;
    int rc = s->ops->project_all(s->be, &items, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        fn(arg, &items[i]);
    for (size_t i = 0; i < n; i++)
        st_project_clear(&items[i]);
    free(items);
    return 0;
}

int
store_project_set_settings(struct store *s, const char *id, const char *settings_json)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (settings_json == NULL || !text_ok(settings_json))
        return bad_arg(__func__, "settings_json");
    return s->ops->project_set_settings(s->be, id, settings_json);
}

int
store_key_create(struct store *s, const char *id, const char *project_id,
                 const unsigned char hash[STORE_HASH], const char *hint)
{
    if (!fits(id, STORE_ID) || !fits(project_id, STORE_ID))
        return bad_arg(__func__, "id");
    if (hash == NULL)
        return bad_arg(__func__, "hash");
    if (hint == NULL || strnlen(hint, 16) >= 16)
        return bad_arg(__func__, "hint");
    return s->ops->key_create(s->be, id, project_id, hash, hint);
}

int
store_key_lookup(struct store *s, const unsigned char hash[STORE_HASH], struct st_api_key *out)
{
    if (hash == NULL)
        return STORE_NOTFOUND;
    return s->ops->key_lookup(s->be, hash, out);
}

int
store_key_each(struct store *s, const char *project_id,
               void (*fn)(void *arg, const struct st_api_key *k), void *arg)
{
    if (!fits(project_id, STORE_ID))
        return 0;
    struct st_api_key *items = NULL;
    size_t n = 0;
    int rc = s->ops->key_all(s->be, project_id, &items, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        fn(arg, &items[i]);
    free(items);
    return 0;
}

int
store_key_revoke(struct store *s, const char *project_id, const char *id)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->key_revoke(s->be, project_id, id);
}

/* ---- managed OAuth apps --------------------------------------------------------------------- */

int
store_managed_app_set(struct store *s, const struct st_managed_app *a)
{
    if (a == NULL || !fits(a->toolkit, STORE_ID))
        return bad_arg(__func__, "toolkit");
    if (a->client_id == NULL || !text_ok(a->client_id) || !text_ok(a->scopes) ||
        !blob_ok(a->secret_enc, a->secret_len))
        return bad_arg(__func__, "fields");
    return s->ops->managed_app_set(s->be, a);
}

int
store_managed_app_get(struct store *s, const char *toolkit, struct st_managed_app *out)
{
    if (!fits(toolkit, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->managed_app_get(s->be, toolkit, out);
}

/* ---- auth configs ---------------------------------------------------------------------------- */

int
store_auth_config_create(struct store *s, const struct st_auth_config *c)
{
    if (c == NULL || !fits(c->id, STORE_ID) || !fits(c->project_id, STORE_ID) ||
        !fits(c->toolkit, STORE_ID))
        return bad_arg(__func__, "id");
    if (!fits(c->auth_scheme, sizeof c->auth_scheme) ||
        strnlen(c->name, sizeof c->name) == sizeof c->name)
        return bad_arg(__func__, "name");
    if (!text_ok(c->client_id) || !text_ok(c->scopes) || !text_ok(c->extra) ||
        !blob_ok(c->secret_enc, c->secret_len))
        return bad_arg(__func__, "fields");
    return s->ops->auth_config_create(s->be, c);
}

int
store_auth_config_get(struct store *s, const char *project_id, const char *id,
                      struct st_auth_config *out)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->auth_config_get(s->be, project_id, id, out);
}

int
store_auth_config_newest(struct store *s, const char *project_id, const char *toolkit, int managed,
                         struct st_auth_config *out)
{
    if (!fits(project_id, STORE_ID) || !fits(toolkit, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->auth_config_newest(s->be, project_id, toolkit, managed < 0 ? -1 : !!managed,
                                      out);
}

int
store_auth_config_list(struct store *s, const struct st_auth_config_query *q,
                       struct st_auth_config_page *out)
{
    struct store_cursor cur;
    if (q == NULL || !fits(q->project_id, STORE_ID))
        return bad_arg(__func__, "project_id");
    if (cursor_decode(q->cursor, &cur) != 0)
        return STORE_NOTFOUND;
    if (!text_ok(q->toolkit) || !text_ok(q->search))
        return bad_arg(__func__, "toolkit");
    struct st_auth_config_query qq = *q;
    qq.managed = q->managed < 0 ? -1 : !!q->managed;
    if (qq.toolkit != NULL && qq.toolkit[0] == '\0')
        qq.toolkit = NULL;
    if (qq.search != NULL && qq.search[0] == '\0')
        qq.search = NULL;

    struct st_auth_config_page page = {0};
    int limit = clamp_limit(q->limit);
    int rc = s->ops->auth_config_list(s->be, &qq, &cur, limit, &page);
    if (rc != 0)
        return rc;
    int more = page.n > (size_t)limit; /* the backend read one row past the page */
    if (more) {
        st_auth_config_clear(&page.items[limit]);
        page.n = (size_t)limit;
    }
    if (more && page.n > 0) {
        const struct st_auth_config *last = &page.items[page.n - 1];
        if (cursor_encode(last->created_at, last->id, page.next_cursor) != 0) {
            st_auth_config_page_clear(&page);
            return bad_arg(__func__, "id too long for a cursor");
        }
    }
    *out = page;
    return 0;
}

int
store_auth_config_set_disabled(struct store *s, const char *project_id, const char *id,
                               int disabled)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->auth_config_set_disabled(s->be, project_id, id, !!disabled);
}

int
store_auth_config_delete(struct store *s, const char *project_id, const char *id)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->auth_config_delete(s->be, project_id, id);
}

/* ---- sessions -------------------------------------------------------------------------------- */

int
store_session_create(struct store *s, const struct st_session *x)
{
    if (x == NULL || !fits(x->id, STORE_ID) || !fits(x->project_id, STORE_ID))
        return bad_arg(__func__, "id");
    if (x->user_id == NULL || !text_ok(x->user_id) || !text_ok(x->config))
        return bad_arg(__func__, "fields");
    return s->ops->session_create(s->be, x);
}

int
store_session_get(struct store *s, const char *project_id, const char *id, struct st_session *out)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->session_get(s->be, project_id, id, out);
}

int
store_session_update(struct store *s, const char *project_id, const char *id,
                     const char *config_json, struct st_session *out)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (config_json == NULL || !text_ok(config_json))
        return bad_arg(__func__, "config_json");
    return s->ops->session_update(s->be, project_id, id, config_json, out);
}

int
store_session_delete(struct store *s, const char *project_id, const char *id)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->session_delete(s->be, project_id, id);
}

/* ---- connected accounts ---------------------------------------------------------------------- */

static int
create_linked_args_ok(const struct st_account *a, const struct st_link *l)
{
    if (a == NULL || !fits(a->id, STORE_ID) || !fits(a->project_id, STORE_ID) ||
        !fits(a->toolkit, STORE_ID) || !fits(a->auth_config_id, STORE_ID))
        return bad_arg(__func__, "id");
    if (a->user_id == NULL || !text_ok(a->user_id) || !text_ok(a->alias) || !text_ok(a->data) ||
        !text_ok(a->status_reason) || strnlen(a->word_id, STORE_ID) >= STORE_ID ||
        !blob_ok(a->creds_enc, a->creds_len))
        return bad_arg(__func__, "fields");
    if (a->status[0] != '\0' && strcmp(a->status, "INITIATED") != 0 &&
        strcmp(a->status, "INITIALIZING") != 0)
        return bad_arg(__func__, "status");
    if (l != NULL && (!text_ok(l->callback_url) || !blob_ok(l->verifier_enc, l->verifier_len) ||
                      strnlen(l->session_id, STORE_ID) >= STORE_ID))
        return bad_arg(__func__, "link");
    return 0;
}

int
store_account_create_linked(struct store *s, const struct st_account *a, const struct st_link *l)
{
    int rc = create_linked_args_ok(a, l);
    return rc != 0 ? rc : s->ops->account_create_linked(s->be, a, l);
}

int
store_account_create_linked_async(struct store *s, const struct st_account *a,
                                  const struct st_link *l, void (*done)(void *arg, int rc),
                                  void *arg)
{
    if (done == NULL || create_linked_args_ok(a, l) != 0)
        return -1;
    if (s->ops->account_create_linked_async != NULL)
        return s->ops->account_create_linked_async(s->be, a, l, done, arg);
    done(arg, s->ops->account_create_linked(s->be, a, l));
    return 0;
}

int
store_account_get(struct store *s, const char *project_id, const char *id, struct st_account *out)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->account_get(s->be, project_id, id, out);
}

int
store_account_get_any(struct store *s, const char *id, struct st_account *out)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->account_get_any(s->be, id, out);
}

int
store_account_list(struct store *s, const struct st_account_query *q, struct st_account_page *out)
{
    struct store_cursor cur;
    if (q == NULL || !fits(q->project_id, STORE_ID))
        return bad_arg(__func__, "project_id");
    if (cursor_decode(q->cursor, &cur) != 0)
        return STORE_NOTFOUND;
    /* Entries that cannot exist (too long) simply match nothing; too many entries is refused. */
    if (list_len(q->user_ids, STORE_LIST_MAX, STORE_TEXT_MAX) < 0 ||
        list_len(q->toolkits, STORE_LIST_MAX, STORE_TEXT_MAX) < 0 ||
        list_len(q->auth_config_ids, STORE_LIST_MAX, STORE_TEXT_MAX) < 0 ||
        list_len(q->statuses, STORE_LIST_MAX, STORE_TEXT_MAX) < 0)
        return STORE_NOTFOUND;

    struct st_account_page page = {0};
    int limit = clamp_limit(q->limit);
    int rc = s->ops->account_list(s->be, q, &cur, limit, &page);
    if (rc != 0)
        return rc;
    int more = page.n > (size_t)limit; /* the backend read one row past the page */
    if (more) {
        st_account_clear(&page.items[limit]);
        page.n = (size_t)limit;
    }
    if (more && page.n > 0) {
        const struct st_account *last = &page.items[page.n - 1];
        if (cursor_encode(last->created_at, last->id, page.next_cursor) != 0) {
            st_account_page_clear(&page);
            return bad_arg(__func__, "id too long for a cursor");
        }
    }
    *out = page;
    return 0;
}

int
store_account_active_for_user(struct store *s, const char *project_id, const char *user_id,
                              struct st_account_page *out)
{
    if (!fits(project_id, STORE_ID) || user_id == NULL || !text_ok(user_id))
        return bad_arg(__func__, "id");
    return s->ops->account_active_for_user(s->be, project_id, user_id, out);
}

int
store_account_transition(struct store *s, const char *id, const char *const *from, const char *to,
                         const char *reason)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    int nfrom = list_len(from, STORE_FROM_MAX, STORE_ID);
    if (nfrom <= 0)
        return bad_arg(__func__, "from");
    if (!status_known(to))
        return bad_arg(__func__, "to");
    if (!text_ok(reason))
        return bad_arg(__func__, "reason");
    return s->ops->account_transition(s->be, id, from, to, reason);
}

int
store_account_activate(struct store *s, const char *id, const unsigned char *creds_enc,
                       size_t creds_len, const char *data_json, int64_t expires_at)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (!blob_ok(creds_enc, creds_len) || !text_ok(data_json))
        return bad_arg(__func__, "fields");
    return s->ops->account_activate(s->be, id, creds_enc, creds_len, data_json,
                                    expires_at > 0 ? expires_at : 0);
}

int
store_account_set_disabled(struct store *s, const char *project_id, const char *id, int disabled)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->account_set_disabled(s->be, project_id, id, !!disabled);
}

int
store_account_delete(struct store *s, const char *project_id, const char *id)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    return s->ops->account_delete(s->be, project_id, id);
}

int
store_account_expire_due(struct store *s, int64_t now_ms, char (**ids)[STORE_ID], size_t *n)
{
    if (ids == NULL || n == NULL)
        return bad_arg(__func__, "ids");
    return s->ops->account_expire_due(s->be, now_ms, ids, n);
}

int
store_account_count_by_status(struct store *s, void (*fn)(void *arg, const char *status, int64_t n),
                              void *arg)
{
    struct store_count *items = NULL;
    size_t n = 0;
    int rc = s->ops->account_counts(s->be, &items, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        fn(arg, items[i].status, items[i].n);
    free(items);
    return 0;
}

int
store_account_count_project(struct store *s, const char *project_id,
                            void (*fn)(void *arg, const char *status, int64_t n), void *arg)
{
    if (!fits(project_id, STORE_ID))
        return 0;
    if (s->ops->account_counts_project == NULL)
        return bad_arg(__func__, "backend without this operation");
    struct store_count *items = NULL;
    size_t n = 0;
    int rc = s->ops->account_counts_project(s->be, project_id, &items, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        fn(arg, items[i].status, items[i].n);
    free(items);
    return 0;
}

/* ---- Connect Links --------------------------------------------------------------------------- */

int
store_link_get(struct store *s, const unsigned char token_hash[STORE_HASH], struct st_link *out)
{
    if (token_hash == NULL)
        return STORE_NOTFOUND;
    return s->ops->link_get(s->be, token_hash, out);
}

int
store_link_set_state(struct store *s, const unsigned char token_hash[STORE_HASH],
                     const unsigned char state_hash[STORE_HASH], const unsigned char *verifier_enc,
                     size_t verifier_len)
{
    if (token_hash == NULL)
        return STORE_NOTFOUND;
    if (state_hash == NULL || !blob_ok(verifier_enc, verifier_len))
        return bad_arg(__func__, "state");
    return s->ops->link_set_state(s->be, token_hash, state_hash, verifier_enc, verifier_len);
}

int
store_link_consume_state(struct store *s, const unsigned char state_hash[STORE_HASH],
                         struct st_link *out)
{
    if (state_hash == NULL)
        return STORE_NOTFOUND;
    return s->ops->link_consume_state(s->be, state_hash, out);
}

int
store_link_mark_used(struct store *s, const unsigned char token_hash[STORE_HASH])
{
    if (token_hash == NULL)
        return STORE_NOTFOUND;
    return s->ops->link_mark_used(s->be, token_hash);
}

/* ---- account events ----------------------------------------------------------------------- */

int
store_event_list(struct store *s, const char *project_id, const char *account_id, int limit,
                 struct st_event **out, size_t *n)
{
    if (out == NULL || n == NULL)
        return bad_arg(__func__, "out");
    if (!fits(project_id, STORE_ID) || !fits(account_id, STORE_ID)) {
        *out = NULL;
        *n = 0;
        return 0;
    }
    int lim = limit <= 0 ? STORE_PAGE_MAX : clamp_limit(limit);
    return s->ops->event_list(s->be, project_id, account_id, lim, out, n);
}

#define DAY_MS (24 * 3600 * 1000LL)
#define DAILY_MAX_DAYS 366
#define DAILY_MAX_ROWS (DAILY_MAX_DAYS * 8)

int
store_event_daily(struct store *s, const char *project_id, int64_t since_ms,
                  struct st_event_day **out, size_t *n)
{
    if (out == NULL || n == NULL)
        return bad_arg(__func__, "out");
    *out = NULL;
    *n = 0;
    if (!fits(project_id, STORE_ID))
        return 0;
    if (s->ops->event_daily == NULL)
        return bad_arg(__func__, "backend without event_daily");
    int64_t floor = time_now_ms() - DAILY_MAX_DAYS * DAY_MS;
    return s->ops->event_daily(s->be, project_id, since_ms < floor ? floor : since_ms,
                               DAILY_MAX_ROWS, out, n);
}

/* ---- *_clear ------------------------------------------------------------------------------ */

/* Frees a sealed blob after wiping it; sealed values are not plaintext, but cost nothing to wipe.
 */
static void
free_sealed(unsigned char *p, size_t n)
{
    if (p != NULL)
        explicit_bzero(p, n);
    free(p);
}

void
st_project_clear(struct st_project *p)
{
    if (p == NULL)
        return;
    free(p->settings);
    memset(p, 0, sizeof *p);
}

void
st_managed_app_clear(struct st_managed_app *a)
{
    if (a == NULL)
        return;
    free(a->client_id);
    free_sealed(a->secret_enc, a->secret_len);
    free(a->scopes);
    memset(a, 0, sizeof *a);
}

void
st_auth_config_clear(struct st_auth_config *c)
{
    if (c == NULL)
        return;
    free(c->client_id);
    free_sealed(c->secret_enc, c->secret_len);
    free(c->scopes);
    free(c->extra);
    memset(c, 0, sizeof *c);
}

void
st_auth_config_page_clear(struct st_auth_config_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        st_auth_config_clear(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

void
st_session_clear(struct st_session *x)
{
    if (x == NULL)
        return;
    free(x->user_id);
    free(x->config);
    memset(x, 0, sizeof *x);
}

void
st_account_clear(struct st_account *a)
{
    if (a == NULL)
        return;
    free(a->user_id);
    free(a->status_reason);
    free(a->alias);
    free_sealed(a->creds_enc, a->creds_len);
    free(a->data);
    memset(a, 0, sizeof *a);
}

void
st_account_page_clear(struct st_account_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        st_account_clear(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

void
st_link_clear(struct st_link *l)
{
    if (l == NULL)
        return;
    free(l->callback_url);
    free_sealed(l->verifier_enc, l->verifier_len);
    memset(l, 0, sizeof *l);
}

void
st_event_clear(struct st_event *e)
{
    if (e == NULL)
        return;
    free(e->reason);
    free(e->detail);
    memset(e, 0, sizeof *e);
}

/* ---- credential lifecycle, webhooks, key rotation (migration 2) --------------------------- */

static int
owner_ok(const char *owner)
{
    return fits(owner, STORE_OWNER);
}

static int
page_limit(int limit)
{
    return limit <= 0 ? STORE_PAGE_DEFAULT : limit > STORE_PAGE_MAX ? STORE_PAGE_MAX : limit;
}

int
store_account_refresh_claim(struct store *s, const char *id, const char *owner, int64_t now_ms,
                            int64_t lease_ms, int64_t expires_before, struct st_account *out,
                            int *failures)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (!owner_ok(owner) || lease_ms <= 0 || out == NULL)
        return bad_arg(__func__, "owner");
    int f = 0;
    if (s->ops->account_refresh_claim == NULL)
        return bad_arg(__func__, "backend without this operation");
    int rc = s->ops->account_refresh_claim(s->be, id, owner, now_ms, lease_ms, expires_before, out,
                                           &f);
    if (rc == 0 && failures != NULL)
        *failures = f;
    return rc;
}

int
store_account_refresh_save(struct store *s, const char *id, const char *owner,
                           const unsigned char *creds_enc, size_t creds_len,
                           const char *data_json, int64_t expires_at, int64_t refresh_at)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (!owner_ok(owner) || creds_enc == NULL || !blob_ok(creds_enc, creds_len) ||
        !text_ok(data_json))
        return bad_arg(__func__, "fields");
    if (s->ops->account_refresh_save == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->account_refresh_save(s->be, id, owner, creds_enc, creds_len, data_json,
                                        expires_at > 0 ? expires_at : 0,
                                        refresh_at > 0 ? refresh_at : 0);
}

int
store_account_refresh_fail(struct store *s, const char *id, const char *owner, int expire,
                           const char *reason, int64_t retry_at)
{
    if (!fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (!owner_ok(owner) || !text_ok(reason))
        return bad_arg(__func__, "fields");
    if (s->ops->account_refresh_fail == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->account_refresh_fail(s->be, id, owner, !!expire, reason, retry_at);
}

int
store_account_refresh_due(struct store *s, int64_t before_ms, int64_t now_ms, int limit,
                          char (**ids)[STORE_ID], size_t *n)
{
    if (ids == NULL || n == NULL)
        return bad_arg(__func__, "ids");
    if (s->ops->account_refresh_due == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->account_refresh_due(s->be, before_ms, now_ms, page_limit(limit), ids, n);
}

int
store_account_relink(struct store *s, const struct st_link *l)
{
    if (l == NULL || !fits(l->account_id, STORE_ID) || !fits(l->project_id, STORE_ID))
        return STORE_NOTFOUND;
    if (!text_ok(l->callback_url) || !blob_ok(l->verifier_enc, l->verifier_len) ||
        strnlen(l->session_id, STORE_ID) >= STORE_ID || l->expires_at <= 0)
        return bad_arg(__func__, "link");
    if (s->ops->account_relink == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->account_relink(s->be, l);
}

int
store_account_delete_noted(struct store *s, const char *project_id, const char *id,
                           const char *detail_json)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (!text_ok(detail_json))
        return bad_arg(__func__, "detail");
    if (s->ops->account_delete_noted == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->account_delete_noted(s->be, project_id, id, detail_json);
}

static int
webhook_ok(const struct st_webhook *w)
{
    return w != NULL && fits(w->id, STORE_ID) && fits(w->project_id, STORE_ID) &&
           w->url != NULL && text_ok(w->url) && w->events != NULL && text_ok(w->events) &&
           blob_ok(w->secret_enc, w->secret_len);
}

int
store_webhook_create(struct store *s, const struct st_webhook *w)
{
    if (!webhook_ok(w) || w->secret_enc == NULL)
        return bad_arg(__func__, "webhook");
    if (s->ops->webhook_create == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->webhook_create(s->be, w);
}

int
store_webhook_get(struct store *s, const char *project_id, const char *id, struct st_webhook *out)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (s->ops->webhook_get == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->webhook_get(s->be, project_id, id, out);
}

int
store_webhook_list(struct store *s, const char *project_id, struct st_webhook **out, size_t *n)
{
    if (out == NULL || n == NULL)
        return bad_arg(__func__, "out");
    *out = NULL;
    *n = 0;
    if (!fits(project_id, STORE_ID))
        return 0;
    if (s->ops->webhook_list == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->webhook_list(s->be, project_id, out, n);
}

int
store_webhook_update(struct store *s, const struct st_webhook *w)
{
    if (w == NULL || !fits(w->id, STORE_ID) || !fits(w->project_id, STORE_ID))
        return STORE_NOTFOUND;
    if (!webhook_ok(w))
        return bad_arg(__func__, "webhook");
    if (s->ops->webhook_update == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->webhook_update(s->be, w);
}

int
store_webhook_delete(struct store *s, const char *project_id, const char *id)
{
    if (!fits(project_id, STORE_ID) || !fits(id, STORE_ID))
        return STORE_NOTFOUND;
    if (s->ops->webhook_delete == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->webhook_delete(s->be, project_id, id);
}

int
store_delivery_claim(struct store *s, const char *owner, int64_t now_ms, int64_t lease_ms,
                     int limit, struct st_delivery **out, size_t *n)
{
    if (!owner_ok(owner) || lease_ms <= 0 || out == NULL || n == NULL)
        return bad_arg(__func__, "owner");
    *out = NULL;
    *n = 0;
    if (s->ops->delivery_claim == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->delivery_claim(s->be, owner, now_ms, lease_ms, page_limit(limit), out, n);
}

int
store_delivery_finish(struct store *s, int64_t seq, const char *owner, int ok, long http_status,
                      const char *error, int64_t next_at)
{
    if (!owner_ok(owner) || !text_ok(error))
        return bad_arg(__func__, "owner");
    if (s->ops->delivery_finish == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->delivery_finish(s->be, seq, owner, !!ok, http_status, error,
                                   next_at > 0 ? next_at : 0);
}

int
store_delivery_list(struct store *s, const char *project_id, const char *endpoint_id,
                    int64_t before_seq, int limit, struct st_delivery **out, size_t *n)
{
    if (out == NULL || n == NULL)
        return bad_arg(__func__, "out");
    *out = NULL;
    *n = 0;
    if (!fits(project_id, STORE_ID) || !fits(endpoint_id, STORE_ID))
        return 0;
    if (s->ops->delivery_list == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->delivery_list(s->be, project_id, endpoint_id, before_seq > 0 ? before_seq : 0,
                                 page_limit(limit), out, n);
}

int
store_delivery_get(struct store *s, const char *project_id, int64_t seq, struct st_delivery *out)
{
    if (!fits(project_id, STORE_ID) || seq <= 0)
        return STORE_NOTFOUND;
    if (s->ops->delivery_get == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->delivery_get(s->be, project_id, seq, out);
}

int
store_delivery_replay(struct store *s, const char *project_id, int64_t seq, int64_t *new_seq)
{
    if (!fits(project_id, STORE_ID) || seq <= 0)
        return STORE_NOTFOUND;
    if (new_seq == NULL)
        return bad_arg(__func__, "new_seq");
    if (s->ops->delivery_replay == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->delivery_replay(s->be, project_id, seq, new_seq);
}

int
store_sealed_page(struct store *s, enum st_sealed_kind kind, const unsigned char *after,
                  size_t after_len, int limit, struct st_sealed **out, size_t *n)
{
    if (out == NULL || n == NULL || (int)kind < 0 || kind >= SEALED__COUNT ||
        after_len > STORE_ID || (after_len > 0 && after == NULL))
        return bad_arg(__func__, "kind");
    *out = NULL;
    *n = 0;
    if (s->ops->sealed_page == NULL)
        return bad_arg(__func__, "backend without this operation");
    return s->ops->sealed_page(s->be, kind, after, after_len, page_limit(limit), out, n);
}

int
store_sealed_replace(struct store *s, enum st_sealed_kind kind, const struct st_sealed *items,
                     unsigned char *const *new_enc, const size_t *new_len, size_t n,
                     size_t *replaced)
{
    if ((int)kind < 0 || kind >= SEALED__COUNT || n > STORE_PAGE_MAX || replaced == NULL ||
        (n > 0 && (items == NULL || new_enc == NULL || new_len == NULL)))
        return bad_arg(__func__, "kind");
    for (size_t i = 0; i < n; i++) {
        if (items[i].key_len == 0 || items[i].key_len > STORE_ID || new_enc[i] == NULL ||
            !blob_ok(new_enc[i], new_len[i]) || !blob_ok(items[i].enc, items[i].len))
            return bad_arg(__func__, "items");
    }
    *replaced = 0;
    if (s->ops->sealed_replace == NULL)
        return bad_arg(__func__, "backend without this operation");
    return n == 0 ? 0 : s->ops->sealed_replace(s->be, kind, items, new_enc, new_len, n, replaced);
}

void
st_webhook_clear(struct st_webhook *w)
{
    if (w == NULL)
        return;
    free(w->url);
    free(w->events);
    free_sealed(w->secret_enc, w->secret_len);
    free_sealed(w->prev_secret_enc, w->prev_secret_len);
    memset(w, 0, sizeof *w);
}

void
st_delivery_clear(struct st_delivery *d)
{
    if (d == NULL)
        return;
    st_event_clear(&d->event);
    free(d->last_error);
    memset(d, 0, sizeof *d);
}

void
st_sealed_clear(struct st_sealed *x)
{
    if (x == NULL)
        return;
    free_sealed(x->enc, x->len);
    memset(x, 0, sizeof *x);
}
