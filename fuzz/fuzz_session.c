/* fuzz_session.c -- session config validation and normalisation (sessions_create, then
 * sessions_update with the same body) on arbitrary request bodies, against a real SQLite store in a
 * temporary directory and the shipped catalogue. The store holds one project, a github auth config
 * (ac_fuzzgithub) and one github account of user "u" (ca_fuzzaccount), so that pins can succeed.
 * Checks: a refusal is a 4xx (never an internal error) with a message; an accepted body gives a
 * stored config that is an object carrying the user, that the config queries read without trouble,
 * and that an update of the same body either applies (version 2) or is refused with a 4xx. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "catalog/catalog.h"
#include "common/embedded.h"
#include "common/jsonv.h"
#include "core/sessions.h"
#include "fuzz.h"

/* No embedded files: the catalogue is read from a copy of catalog/ (the driver runs from the
 * repository root, as replay.sh and run.sh do). */
const struct embedded_file embedded_files[] = {{NULL, NULL, 0}};

#define PROJECT "prj_fuzz"
static struct core core;
static char work[64];

static void
copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (d == NULL)
        abort();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/%s", from, de->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        if (in == NULL || out == NULL)
            abort();
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, n, out) != n)
                abort();
        fclose(in);
        fclose(out);
    }
    closedir(d);
}

/* Removes dir and the files in it (no deeper levels exist). */
static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.' || de->d_name[1] == '-')
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void
cleanup(void)
{
    char p[96];
    store_close(core.store);
    core.store = NULL;
    catalog_free();
    snprintf(p, sizeof p, "%s/catalog", work);
    remove_dir(p);
    snprintf(p, sizeof p, "%s/data", work);
    remove_dir(p);
    rmdir(work);
}

static void
seed_store(void)
{
    FUZZ_CHECK(store_project_create(core.store, PROJECT, "fuzz") == 0);
    struct st_auth_config ac = {.id = "ac_fuzzgithub", .project_id = PROJECT, .toolkit = "github",
                                .auth_scheme = "OAUTH2", .name = "fuzz", .is_managed = 1,
                                .extra = "{}"};
    FUZZ_CHECK(store_auth_config_create(core.store, &ac) == 0);
    struct st_account a = {.id = "ca_fuzzaccount", .project_id = PROJECT, .user_id = "u",
                           .toolkit = "github", .auth_config_id = "ac_fuzzgithub",
                           .status = "INITIATED", .word_id = "github_fuzz", .data = "{}"};
    struct st_link l = {.account_id = "ca_fuzzaccount", .project_id = PROJECT,
                        .expires_at = INT64_MAX / 2};
    FUZZ_CHECK(store_account_create_linked(core.store, &a, &l) == 0);
}

static void
setup(void)
{
    if (core.store != NULL)
        return;
    snprintf(work, sizeof work, "%s", "/tmp/tether-fuzz-session.XXXXXX");
    if (mkdtemp(work) == NULL)
        abort();
    atexit(cleanup);
    char cat[96], db[96], err[256] = "";
    snprintf(cat, sizeof cat, "%s/catalog", work);
    snprintf(db, sizeof db, "%s/data", work);
    if (mkdir(cat, 0700) != 0 || mkdir(db, 0700) != 0)
        abort();
    copy_dir("catalog/toolkits", cat);
    copy_dir("catalog/logos", cat);
    if (catalog_load(cat, err, sizeof err) != 0 ||
        store_open(db, &core.store, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_session: %s\n", err);
        abort();
    }
    seed_store();
}

static void
check_refusal(const struct err *e)
{
    unsigned status = err_http_status(e->code);
    FUZZ_CHECK(status >= 400 && status < 500);
    FUZZ_CHECK(e->message[0] != '\0');
}

static void
check_config(const struct st_session *s, const json_t *body)
{
    json_t *cfg = sessions_config(s);
    FUZZ_CHECK(json_is_object(cfg));
    const char *uid = json_string_value(json_object_get(cfg, "user_id"));
    const char *want = json_string_value(json_object_get(body, "user_id"));
    FUZZ_CHECK(uid != NULL && want != NULL && strcmp(uid, want) == 0);
    FUZZ_CHECK(strcmp(s->user_id, uid) == 0);
    static const char *const slugs[] = {"github", "gmail", "hackernews", "nope"};
    for (size_t i = 0; i < sizeof slugs / sizeof slugs[0]; i++) {
        int on = session_toolkit_enabled(cfg, slugs[i]);
        FUZZ_CHECK(on == 0 || on == 1);
        const char *pin = session_pinned_account(cfg, slugs[i]);
        FUZZ_CHECK(pin == NULL || strcmp(pin, "ca_fuzzaccount") == 0);
        (void)session_pinned_accounts(cfg, slugs[i]);
        (void)session_pinned_auth_config(cfg, slugs[i]);
    }
    (void)session_enabled_list(cfg);
    int m = session_manage_connections(cfg), multi = session_multi_account(cfg);
    FUZZ_CHECK((m == 0 || m == 1) && (multi == 0 || multi == 1));
    json_decref(cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    struct err e = {0};
    json_t *body = jv_parse_object((const char *)data, size, &e);
    if (body == NULL)
        return 0;
    struct st_session s = {0};
    if (sessions_create(&core, PROJECT, body, &s, &e) != 0) {
        check_refusal(&e);
        json_decref(body);
        return 0;
    }
    FUZZ_CHECK(s.version == 1);
    check_config(&s, body);
    struct st_session u = {0};
    struct err e2 = {0};
    if (sessions_update(&core, PROJECT, s.id, body, &u, &e2) == 0) {
        FUZZ_CHECK(u.version == 2);
        check_config(&u, body);
        st_session_clear(&u);
    } else {
        check_refusal(&e2);
    }
    FUZZ_CHECK(sessions_delete(&core, PROJECT, s.id, &e) == 0);
    st_session_clear(&s);
    json_decref(body);
    return 0;
}
