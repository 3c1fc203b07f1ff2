/* store_bench.c -- store throughput on a temporary SQLite database: account writes (create with a
 * link, then activate) from many threads through the single writer, then reads by id on
 * per-thread connections. Prints one line per figure. Not a test: it measures and prints.
 * Usage: store_bench [threads] [ops per thread]   (defaults 16 and 2000) */
#include "common/log.h"
#include "common/timeutil.h"
#include "store/store.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct store *s;
    int t;
    int n;
    int written; /* accounts per thread that exist, for reads */
    int errors;
};

static void
account_id(char out[STORE_ID], int t, int i)
{
    snprintf(out, STORE_ID, "ca_%02d%06d", t, i);
}

static void *
write_job(void *arg)
{
    struct job *j = arg;
    unsigned char creds[320];
    memset(creds, 0xC3, sizeof creds);
    for (int i = 0; i < j->n; i++) {
        struct st_account a = {0};
        struct st_link l = {0};
        account_id(a.id, j->t, i);
        snprintf(a.project_id, sizeof a.project_id, "pr_bench");
        snprintf(a.toolkit, sizeof a.toolkit, "gmail");
        snprintf(a.auth_config_id, sizeof a.auth_config_id, "ac_bench");
        a.user_id = (char *)"user_1";
        memcpy(l.token_hash, a.id, strlen(a.id));
        l.expires_at = time_now_ms() + 600000;
        if (store_account_create_linked(j->s, &a, &l) != 0 ||
            store_account_activate(j->s, a.id, creds, sizeof creds, NULL, 0) != 0)
            j->errors++;
    }
    return NULL;
}

/* One UPDATE of one row per call: the store's floor cost per write. */
static void *
update_job(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < j->n; i++) {
        char id[STORE_ID];
        account_id(id, j->t, i % j->written);
        if (store_account_set_disabled(j->s, "pr_bench", id, i % 2) != 0)
            j->errors++;
    }
    return NULL;
}

static void *
read_job(void *arg)
{
    struct job *j = arg;
    unsigned seed = (unsigned)j->t * 2654435761u;
    for (int i = 0; i < j->n; i++) {
        char id[STORE_ID];
        seed = seed * 1103515245u + 12345u;
        account_id(id, j->t, (int)((seed >> 8) % (unsigned)j->written));
        struct st_account a = {0};
        if (store_account_get(j->s, "pr_bench", id, &a) != 0)
            j->errors++;
        st_account_clear(&a);
    }
    return NULL;
}

/* Runs fn on nthreads threads; returns the elapsed seconds. */
static double
run(struct store *s, void *(*fn)(void *), int nthreads, int per, int written, int *errors)
{
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    struct job *jobs = calloc((size_t)nthreads, sizeof *jobs);
    if (th == NULL || jobs == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    int64_t t0 = time_mono_us();
    for (int t = 0; t < nthreads; t++) {
        jobs[t] = (struct job){.s = s, .t = t, .n = per, .written = written};
        pthread_create(&th[t], NULL, fn, &jobs[t]);
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(th[t], NULL);
        *errors += jobs[t].errors;
    }
    double secs = (double)(time_mono_us() - t0) / 1e6;
    free(th);
    free(jobs);
    return secs;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int
parse_count(const char *s, int dflt)
{
    if (s == NULL)
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end == '\0' && v > 0 && v <= 1000000) ? (int)v : dflt;
}

int
main(int argc, char **argv)
{
    int nthreads = parse_count(argc > 1 ? argv[1] : NULL, 16);
    int per = parse_count(argc > 2 ? argv[2] : NULL, 2000);
    if (nthreads > 256)
        nthreads = 256;
    char dir[] = "/tmp/store_bench.XXXXXX", err[256];
    struct store *s = NULL;
    log_set_level(getenv("STORE_BENCH_VERBOSE") ? LOG_INFO : LOG_WARN);
    if (mkdtemp(dir) == NULL || store_open(dir, &s, err, sizeof err) != 0) {
        fprintf(stderr, "store_bench: cannot open a store: %s\n", err);
        return 1;
    }
    if (store_project_create(s, "pr_bench", "bench") != 0) {
        fprintf(stderr, "store_bench: cannot create the project\n");
        return 1;
    }
    int errors = 0;
    double w = run(s, write_job, nthreads, per, 0, &errors);
    double ops = 2.0 * nthreads * per; /* create_linked + activate */
    printf("store_bench: account writes/s %.0f (%d threads, %.0f create+activate, %.2f s)\n",
           ops / w, nthreads, ops, w);
    double u = run(s, update_job, nthreads, per, per, &errors);
    printf("store_bench: status writes/s %.0f (%d threads, %d disable/enable with event, %.2f s)\n",
           (double)nthreads * per / u, nthreads, nthreads * per, u);
    double r = run(s, read_job, nthreads, per * 4, per, &errors);
    double rops = 4.0 * nthreads * per;
    printf("store_bench: reads/s %.0f (%d threads, %.0f reads, %.2f s)\n", rops / r, nthreads, rops,
           r);
    store_close(s);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (errors != 0) {
        fprintf(stderr, "store_bench: %d operations failed\n", errors);
        return 1;
    }
    return 0;
}
