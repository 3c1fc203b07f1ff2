/* main.c -- the tether binary: `tether serve` and the operator commands that work on the data
 * directory (projects, keys, apps) live here; every other subcommand is the client CLI. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/authcfg.h"
#include "core/core.h"
#include "core/credentials.h"
#include "core/events.h"
#include "core/projects.h"
#include "core/refresh.h"
#include "core/waiters.h"
#include "core/webhooks.h"
#include "http/http.h"
#include "outbound/outbound.h"
#include "server/routes.h"

struct config {
    const char *listen;
    const char *public_url;
    const char *data_dir;
    const char *database;
    const char *catalog_dir;
    long link_ttl_s;
    int allow_http;
    unsigned threads;
};

static const char *
env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

static void
config_defaults(struct config *cf)
{
    cf->listen = env_or("TETHER_LISTEN", "127.0.0.1:8080");
    cf->public_url = env_or("TETHER_PUBLIC_URL", NULL);
    cf->data_dir = env_or("TETHER_DATA_DIR", "./var");
    cf->database = env_or("TETHER_DATABASE_URL", NULL);
    cf->catalog_dir = env_or("TETHER_CATALOG_DIR", NULL);
    cf->link_ttl_s = strtol(env_or("TETHER_LINK_TTL", "600"), NULL, 10);
    cf->allow_http = strcmp(env_or("TETHER_ALLOW_HTTP", "0"), "1") == 0;
    cf->threads = (unsigned)strtoul(env_or("TETHER_THREADS", "2"), NULL, 10);
}

/* Parses the flags shared by serve and the operator commands; returns optind or -1. */
static int
config_parse(struct config *cf, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},   {"public-url", required_argument, 0, 'p'},
        {"data-dir", required_argument, 0, 'd'}, {"database", required_argument, 0, 'D'},
        {"catalog-dir", required_argument, 0, 'c'}, {"link-ttl", required_argument, 0, 't'},
        {"allow-http", no_argument, 0, 'H'},     {"threads", required_argument, 0, 'T'},
        {"project", required_argument, 0, 'P'},  {"client-id", required_argument, 0, 'i'},
        {"client-secret", required_argument, 0, 's'}, {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': cf->listen = optarg; break;
        case 'p': cf->public_url = optarg; break;
        case 'd': cf->data_dir = optarg; break;
        case 'D': cf->database = optarg; break;
        case 'c': cf->catalog_dir = optarg; break;
        case 't': cf->link_ttl_s = strtol(optarg, NULL, 10); break;
        case 'H': cf->allow_http = 1; break;
        case 'T': cf->threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'P': setenv("TETHER_ADMIN_PROJECT", optarg, 1); break;
        case 'i': setenv("TETHER_ADMIN_CLIENT_ID", optarg, 1); break;
        case 's': setenv("TETHER_CLIENT_SECRET", optarg, 1); break;
        default: return -1;
        }
    }
    if (cf->link_ttl_s < 1 || cf->link_ttl_s > 7 * 24 * 3600) {
        fprintf(stderr, "tether: --link-ttl must be between 1 and 604800 seconds\n");
        return -1;
    }
    return optind;
}

/* Opens everything the services need (catalogue, vault, store); 0 or -1 after printing why. */
static int
open_core(const struct config *cf, struct core *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    if (catalog_load(cf->catalog_dir, err, sizeof err) != 0) {
        fprintf(stderr, "tether: catalogue: %s\n", err);
        return -1;
    }
    if (mkdir(cf->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "tether: cannot create data dir '%s': %s\n", cf->data_dir, strerror(errno));
        return -1;
    }
    if (vault_open(cf->data_dir, getenv("TETHER_MASTER_KEY"), &c->vault, err, sizeof err) != 0) {
        fprintf(stderr, "tether: vault: %s\n", err);
        return -1;
    }
    unsetenv("TETHER_MASTER_KEY");
    if (store_open(cf->database ? cf->database : cf->data_dir, &c->store, err, sizeof err) != 0) {
        fprintf(stderr, "tether: store: %s\n", err);
        return -1;
    }
    if (cf->public_url)
        snprintf(c->public_url, sizeof c->public_url, "%s", cf->public_url);
    else
        snprintf(c->public_url, sizeof c->public_url, "http://%s", cf->listen);
    size_t n = strlen(c->public_url);
    while (n > 0 && c->public_url[n - 1] == '/')
        c->public_url[--n] = '\0';
    c->link_ttl_ms = cf->link_ttl_s * 1000;
    core_init(c);
    return 0;
}

static void
close_core(struct core *c)
{
    core_release(c);
    store_close(c->store);
    vault_close(c->vault);
    catalog_free();
}

static void
raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int
serve(int argc, char **argv)
{
    struct config cf;
    config_defaults(&cf);
    if (config_parse(&cf, argc, argv) < 0)
        return 1;
    int64_t t0 = time_mono_us();
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread inherits the mask; main waits */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    struct core c;
    if (open_core(&cf, &c) != 0)
        return 1;
    char key[PROJECTS_KEY_MAX];
    struct err e;
    if (projects_bootstrap(&c, getenv("TETHER_API_KEY"), key, &e) != 0) {
        fprintf(stderr, "tether: cannot set up the default project: %s\n", e.message);
        return 1;
    }
    char err[256];
    routes_init();
    routes_set_limits(strtod(env_or("TETHER_RATE_API", "100000"), NULL),
                      strtod(env_or("TETHER_RATE_PAGES", "50"), NULL));
    struct http_options ho = {.listen = cf.listen, .threads = cf.threads, .app = &c,
                              .dispatch = routes_dispatch, .on_complete = routes_complete};
    /* TETHER_REFRESH_BACKGROUND=0 leaves refreshes to demand; TETHER_WEBHOOK_RETRY_MS sets the
     * first webhook retry delay (tests). The master key file is watched for rotations. */
    struct refresh_options ro = {
        .workers = (int)strtol(env_or("TETHER_REFRESH_WORKERS", "4"), NULL, 10),
        .background = strcmp(env_or("TETHER_REFRESH_BACKGROUND", "1"), "0") != 0,
        .key_dir = getenv("TETHER_MASTER_KEY") ? NULL : cf.data_dir};
    if (outbound_start(cf.allow_http) != 0 || waiters_start(50000) != 0 ||
        events_start(&c) != 0 || refresh_start(&c, &ro) != 0 ||
        webhooks_start(&c, strtoll(env_or("TETHER_WEBHOOK_RETRY_MS", "2000"), NULL, 10)) != 0 ||
        http_start(&ho, err, sizeof err) != 0) {
        fprintf(stderr, "tether: %s\n", err[0] ? err : "cannot start");
        return 1;
    }
    if (cf.public_url == NULL) { /* port 0: advertise the port actually bound */
        char host[128];
        snprintf(host, sizeof host, "%.*s", (int)(strrchr(cf.listen, ':') - cf.listen), cf.listen);
        snprintf(c.public_url, sizeof c.public_url, "http://%s:%u", host, http_port());
        core_init(&c);
    }
    log_info("started", "listen=%s public_url=%s store=%s startup_ms=%.1f", cf.listen,
             c.public_url, store_backend(c.store), (double)(time_mono_us() - t0) / 1000.0);
    if (key[0] != '\0')
        printf("tether: created the default project; its API key (shown once):\n  %s\n", key);
    printf("tether: serving on %s\n", c.public_url);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("stopping", "signal=%d", sig);
    http_quiesce();
    waiters_stop();
    outbound_stop();
    refresh_stop();
    webhooks_stop();
    events_stop();
    http_stop();
    close_core(&c);
    log_info("stopped", "%s", "clean=1");
    return 0;
}

static void
print_project(void *arg, const struct st_project *p)
{
    char when[32];
    time_iso8601(p->created_at, when);
    printf("%s\t%s\t%s\n", p->id, p->name, when);
}

static void
print_key(void *arg, const struct st_api_key *k)
{
    char when[32];
    time_iso8601(k->created_at, when);
    printf("%s\t%s...\t%s\t%s\n", k->id, k->hint, when, k->revoked_at ? "revoked" : "active");
}

static int
admin_projects(struct core *c, int argc, char **argv, int i)
{
    struct err e;
    if (i < argc && strcmp(argv[i], "create") == 0 && i + 1 < argc) {
        char pid[STORE_ID], key[PROJECTS_KEY_MAX];
        if (projects_create(c, argv[i + 1], pid, key, &e) != 0) {
            fprintf(stderr, "tether: %s\n", e.message);
            return 1;
        }
        printf("project %s\napi key (shown once): %s\n", pid, key);
        return 0;
    }
    if (i < argc && strcmp(argv[i], "list") == 0)
        return store_project_each(c->store, print_project, NULL) == 0 ? 0 : 1;
    fprintf(stderr, "usage: tether projects create NAME | list\n");
    return 1;
}

static int
admin_keys(struct core *c, int argc, char **argv, int i)
{
    const char *project = getenv("TETHER_ADMIN_PROJECT");
    struct err e;
    if (project == NULL) {
        fprintf(stderr, "tether: keys needs --project pr_...\n");
        return 1;
    }
    if (i < argc && strcmp(argv[i], "create") == 0) {
        char kid[STORE_ID], key[PROJECTS_KEY_MAX];
        if (projects_key_create(c, project, kid, key, &e) != 0) {
            fprintf(stderr, "tether: %s\n", e.message);
            return 1;
        }
        printf("key %s\napi key (shown once): %s\n", kid, key);
        return 0;
    }
    if (i < argc && strcmp(argv[i], "list") == 0)
        return store_key_each(c->store, project, print_key, NULL) == 0 ? 0 : 1;
    if (i + 1 < argc && strcmp(argv[i], "revoke") == 0) {
        int rc = store_key_revoke(c->store, project, argv[i + 1]);
        if (rc != 0)
            fprintf(stderr, "tether: key '%s' not found in project %s\n", argv[i + 1], project);
        return rc == 0 ? 0 : 1;
    }
    fprintf(stderr, "usage: tether keys create|list|revoke KEY_ID --project P\n");
    return 1;
}

static int
admin_apps(struct core *c, int argc, char **argv, int i)
{
    const char *id = getenv("TETHER_ADMIN_CLIENT_ID"), *secret = getenv("TETHER_CLIENT_SECRET");
    if (!(i + 1 < argc && strcmp(argv[i], "set") == 0 && id && secret)) {
        fprintf(stderr, "usage: tether apps set TOOLKIT --client-id ID --client-secret SECRET\n"
                        "       (or TETHER_CLIENT_SECRET in the environment)\n");
        return 1;
    }
    struct err e;
    if (authcfg_set_managed_app(c, argv[i + 1], id, secret, &e) != 0) {
        fprintf(stderr, "tether: %s\n", e.message);
        return 1;
    }
    printf("managed app for %s set\n", argv[i + 1]);
    return 0;
}

/* `tether vault rotate`: a new sealing key in master.key, then every sealed value re-sealed
 * under it. Running servers pick the new key up within a second; passes repeat until no value
 * is left under an old key, after which the old keys are no longer needed. */
static int
admin_vault(struct core *c, const char *data_dir, int argc, char **argv, int i)
{
    if (!(i < argc && strcmp(argv[i], "rotate") == 0)) {
        fprintf(stderr, "usage: tether vault rotate [--data-dir DIR]\n");
        return 1;
    }
    char err[256];
    uint8_t kid = 0;
    int added = 0;
    if (vault_rotate(data_dir, &kid, err, sizeof err) != 0 ||
        vault_reload(c->vault, data_dir, &added, err, sizeof err) != 0) {
        fprintf(stderr, "tether: vault: %s\n", err);
        return 1;
    }
    printf("new sealing key %u\n", (unsigned)kid);
    fflush(stdout);
    sleep(2); /* running servers reload the key file once a second */
    size_t total = 0, resealed = 0, stale = 0, unreadable = 0;
    for (int pass = 0; pass < 30; pass++) {
        if (credentials_reseal_pass(c, &resealed, &stale, &unreadable) != 0) {
            fprintf(stderr, "tether: vault: the store failed during re-sealing\n");
            return 1;
        }
        total += resealed;
        if (resealed == 0 && stale == 0)
            break;
        usleep(200 * 1000);
    }
    printf("re-sealed %zu values under key %u; %zu unreadable\n", total, (unsigned)kid,
           unreadable);
    return unreadable == 0 && stale == 0 ? 0 : 1;
}

static int
admin(int argc, char **argv)
{
    struct config cf;
    config_defaults(&cf);
    int i = config_parse(&cf, argc, argv);
    if (i < 0)
        return 1;
    struct core c;
    if (open_core(&cf, &c) != 0)
        return 1;
    int rc;
    if (strcmp(argv[1], "projects") == 0)
        rc = admin_projects(&c, argc, argv, i);
    else if (strcmp(argv[1], "keys") == 0)
        rc = admin_keys(&c, argc, argv, i);
    else if (strcmp(argv[1], "vault") == 0)
        rc = admin_vault(&c, cf.data_dir, argc, argv, i);
    else
        rc = admin_apps(&c, argc, argv, i);
    close_core(&c);
    return rc;
}

/* `tether migrate`: brings the database (--database URL, else the SQLite file in --data-dir) to
 * this binary's schema and exits. Nodes that start or migrate together take turns on one lock. */
static int
admin_migrate(int argc, char **argv)
{
    struct config cf;
    config_defaults(&cf);
    if (config_parse(&cf, argc, argv) < 0)
        return 1;
    char err[256];
    struct store *s = NULL;
    if (store_open(cf.database ? cf.database : cf.data_dir, &s, err, sizeof err) != 0) {
        fprintf(stderr, "tether: migrate: %s\n", err);
        return 1;
    }
    printf("tether: the %s database is up to date\n", store_backend(s));
    store_close(s);
    return 0;
}

/* `tether db copy --from DIR --to postgres://...`: a SQLite data directory into an empty
 * PostgreSQL database (the master key file stays in DIR: give the nodes the same key). */
static int
admin_db(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    int ok = argc >= 3 && strcmp(argv[2], "copy") == 0 && (argc - 3) % 2 == 0;
    for (int i = 3; ok && i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--from") == 0)
            from = argv[i + 1];
        else if (strcmp(argv[i], "--to") == 0)
            to = argv[i + 1];
        else
            ok = 0;
    }
    if (!ok || from == NULL || to == NULL) {
        fprintf(stderr, "usage: tether db copy --from DATA_DIR --to postgres://...\n");
        return 1;
    }
    char err[512];
    int64_t rows = 0;
    if (store_copy(from, to, &rows, err, sizeof err) != 0) {
        fprintf(stderr, "tether: db copy: %s\n", err);
        return 1;
    }
    printf("tether: copied %lld rows into PostgreSQL\n", (long long)rows);
    return 0;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "tether: libsodium failed to initialise\n");
        return 1;
    }
    if (getenv("TETHER_LOG_DEBUG"))
        log_set_level(LOG_DEBUG);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
        return admin_migrate(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "db") == 0)
        return admin_db(argc, argv);
    if (argc >= 2 && (strcmp(argv[1], "projects") == 0 || strcmp(argv[1], "keys") == 0 ||
                      strcmp(argv[1], "apps") == 0 || strcmp(argv[1], "vault") == 0))
        return admin(argc, argv);
    return cli_main(argc, argv);
}
