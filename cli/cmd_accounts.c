/* cmd_accounts.c -- `tether accounts list|get|enable|disable|delete|wait`: connected accounts
 * outside sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define MAX_WAIT_S 86400L

static void
usage(void)
{
    printf("usage: tether accounts list [--user U]... [--toolkit T]... [--status S]...\n"
           "                             [--limit N] [--cursor C] [--json]\n"
           "       tether accounts get|enable|disable|delete <id> [--json]\n"
           "       tether accounts wait <id> [--timeout SECONDS] [--json]\n");
}

struct list_args {
    const char **users, **toolkits, **statuses; /* vectors of borrowed argv strings */
    size_t n_users, n_toolkits, n_statuses;
    tether_accounts_options o;
};

static int
list_opt(struct cli_ctx *ctx, int opt, struct list_args *a)
{
    long n = 0;
    int rc = 0;
    switch (opt) {
    case 'u':
        rc = cli_list_push(&a->users, &a->n_users, optarg);
        break;
    case 't':
        rc = cli_list_push(&a->toolkits, &a->n_toolkits, optarg);
        break;
    case 'S':
        rc = cli_list_push(&a->statuses, &a->n_statuses, optarg);
        break;
    case 'l':
        if (cli_parse_long(optarg, 1, 1000, &n) != 0)
            return cli_usage_error(ctx, "--limit takes 1 to 1000, not '%s'", optarg);
        a->o.limit = (int)n;
        break;
    case 'c':
        a->o.cursor = optarg;
        break;
    case CLI_OPT_HELP:
        usage();
        return -1;
    default:
        return CLI_EXIT_USAGE;
    }
    return rc == 0 ? 0 : cli_usage_error(ctx, "too many filters");
}

static void
print_list(const tether_account_list *l)
{
    printf("%-20s %-14s %-18s %-12s %-8s %s\n", "ID", "TOOLKIT", "USER", "STATUS", "DISABLED",
           "IDENTITY");
    for (size_t i = 0; i < tether_account_list_count(l); i++) {
        const tether_account *a = tether_account_list_at(l, i);
        const char *tk = tether_account_toolkit(a), *user = tether_account_user_id(a);
        const char *st = tether_account_status(a), *who = tether_account_identity(a);
        printf("%-20s %-14s %-18s %-12s %-8s %s\n", tether_account_id(a), tk ? tk : "-",
               user ? user : "-", st ? st : "-", tether_account_is_disabled(a) ? "yes" : "no",
               who ? who : "-");
    }
    const char *next = tether_account_list_next_cursor(l);
    if (next != NULL)
        printf("more: --cursor %s\n", next);
}

static int
run_list(struct cli_ctx *ctx, struct list_args *a)
{
    int code = 0;
    tether_client *c = cli_client(ctx, &code);
    if (c == NULL)
        return code;
    a->o.user_ids = a->users;
    a->o.toolkit_slugs = a->toolkits;
    a->o.statuses = a->statuses;
    tether_account_list *l = NULL;
    int rc = tether_accounts_list(c, &a->o, &l);
    if (rc == 0 && ctx->json)
        cli_print_json(tether_account_list_json(l));
    else if (rc == 0)
        print_list(l);
    code = rc == 0 ? CLI_EXIT_OK : cli_fail(ctx, rc);
    tether_account_list_free(l);
    tether_client_free(c);
    return code;
}

static int
cmd_list(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"user", required_argument, NULL, 'u'},   {"toolkit", required_argument, NULL, 't'},
        {"status", required_argument, NULL, 'S'}, {"limit", required_argument, NULL, 'l'},
        {"cursor", required_argument, NULL, 'c'}, CLI_COMMON_OPTIONS};
    struct list_args a = {0};
    tether_accounts_options_init(&a.o);
    int opt, code = 0;
    optind = 0;
    while (code == 0 && (opt = cli_getopt(ctx, argc, argv, "u:t:l:c:h", longopts)) != -1)
        code = list_opt(ctx, opt, &a);
    if (code == 0 && optind != argc)
        code = cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
    if (code == 0)
        code = run_list(ctx, &a);
    free(a.users);
    free(a.toolkits);
    free(a.statuses);
    return code < 0 ? CLI_EXIT_OK : code;
}

/* Parses "<sub> <id> [options]", with --timeout for wait. 0, -1 after help, or an exit code. */
static int
parse_one(struct cli_ctx *ctx, int argc, char **argv, const char **id, long *timeout_s)
{
    static const struct option longopts[] = {{"timeout", required_argument, NULL, 'T'},
                                             CLI_COMMON_OPTIONS};
    int opt;
    optind = 0;
    while ((opt = cli_getopt(ctx, argc, argv, "h", longopts)) != -1) {
        if (opt == CLI_OPT_HELP) {
            usage();
            return -1;
        }
        if (opt != 'T' || timeout_s == NULL)
            return opt == 'T' ? cli_usage_error(ctx, "--timeout is only for wait") : CLI_EXIT_USAGE;
        if (cli_parse_long(optarg, 1, MAX_WAIT_S, timeout_s) != 0)
            return cli_usage_error(ctx, "--timeout takes seconds (1 to %ld)", MAX_WAIT_S);
    }
    if (optind != argc - 1)
        return cli_usage_error(ctx, "expected exactly one connected account id");
    *id = argv[optind];
    return 0;
}

/* The one-account actions and their past tense for human output. */
static int
act(tether_client *c, const char *sub, const char *id, tether_account **out)
{
    if (strcmp(sub, "get") == 0)
        return tether_account_get(c, id, out);
    if (strcmp(sub, "enable") == 0)
        return tether_account_enable(c, id);
    if (strcmp(sub, "disable") == 0)
        return tether_account_disable(c, id);
    return tether_account_delete(c, id);
}

static void
print_done(const struct cli_ctx *ctx, const char *sub, const char *id)
{
    if (ctx->json) {
        json_t *o = json_pack("{s:b, s:s, s:s}", "success", 1, "id", id, "action", sub);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (text != NULL)
            cli_print_json(text);
        free(text);
        json_decref(o);
        return;
    }
    const char *done = strcmp(sub, "enable") == 0    ? "Enabled"
                       : strcmp(sub, "disable") == 0 ? "Disabled"
                                                     : "Deleted";
    printf("%s %s\n", done, id);
}

static int
cmd_one(struct cli_ctx *ctx, const char *sub, int argc, char **argv)
{
    const char *id = NULL;
    long timeout_s = TETHER_DEFAULT_WAIT_MS / 1000;
    int is_wait = strcmp(sub, "wait") == 0;
    int code = parse_one(ctx, argc, argv, &id, is_wait ? &timeout_s : NULL);
    if (code != 0)
        return code < 0 ? CLI_EXIT_OK : code;
    tether_client *c = cli_client(ctx, &code);
    if (c == NULL)
        return code;
    tether_account *a = NULL;
    int rc = is_wait ? cli_wait(ctx, c, id, timeout_s, &a) : act(c, sub, id, &a);
    if (rc == 0 && a != NULL && ctx->json)
        cli_print_json(tether_account_json(a));
    else if (rc == 0 && a != NULL)
        cli_print_account(a);
    else if (rc == 0)
        print_done(ctx, sub, id);
    code = rc == 0 ? CLI_EXIT_OK : cli_fail(ctx, rc);
    tether_account_free(a);
    tether_client_free(c);
    return code;
}

int
cli_cmd_accounts(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const subs[][2] = {
        {"get", "accounts get"},         {"enable", "accounts enable"},
        {"disable", "accounts disable"}, {"delete", "accounts delete"},
        {"wait", "accounts wait"},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "list") == 0) {
        ctx->cmd = "accounts list";
        return cmd_list(ctx, argc - 1, argv + 1);
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(argv[1], subs[i][0]) == 0) {
            ctx->cmd = subs[i][1];
            return cmd_one(ctx, subs[i][0], argc - 1, argv + 1);
        }
    }
    return cli_usage_error(ctx,
                           "unknown subcommand '%s' (list, get, enable, disable, delete, "
                           "wait)",
                           argv[1]);
}
