/* cmd_toolkits.c -- `tether toolkits`: a session's toolkits and the connection status of each. */
#include <stdio.h>

#include "cli.h"

struct toolkits_args {
    const char *user;
    const char *session;
    char **toolkits; /* owned, from --toolkits */
    tether_toolkits_options o;
};

static void
usage(void)
{
    printf("usage: tether toolkits (--user U | --session ID) [--toolkits a,b] [--connected |\n"
           "                       --not-connected] [--search TEXT] [--limit N] [--cursor C]\n"
           "                       [--json]\n"
           "Lists the session's toolkits with the account each uses and its status.\n");
}

static int
parse_opt(struct cli_ctx *ctx, int opt, struct toolkits_args *a)
{
    long n = 0;
    switch (opt) {
    case 'u':
        a->user = optarg;
        return 0;
    case 's':
        a->session = optarg;
        return 0;
    case 't':
        cli_list_free(a->toolkits);
        a->toolkits = cli_split(optarg);
        a->o.toolkits = (const char *const *)a->toolkits;
        return a->toolkits ? 0 : cli_usage_error(ctx, "too many toolkits in --toolkits");
    case 'C':
        a->o.is_connected = 1;
        return 0;
    case 'N':
        a->o.is_connected = 0;
        return 0;
    case 'q':
        a->o.search = optarg;
        return 0;
    case 'l':
        if (cli_parse_long(optarg, 1, 1000, &n) != 0)
            return cli_usage_error(ctx, "--limit takes 1 to 1000, not '%s'", optarg);
        a->o.limit = (int)n;
        return 0;
    case 'c':
        a->o.cursor = optarg;
        return 0;
    case CLI_OPT_HELP:
        usage();
        return -1;
    }
    return CLI_EXIT_USAGE;
}

static int
parse(struct cli_ctx *ctx, int argc, char **argv, struct toolkits_args *a)
{
    static const struct option longopts[] = {{"user", required_argument, NULL, 'u'},
                                             {"session", required_argument, NULL, 's'},
                                             {"toolkits", required_argument, NULL, 't'},
                                             {"connected", no_argument, NULL, 'C'},
                                             {"not-connected", no_argument, NULL, 'N'},
                                             {"search", required_argument, NULL, 'q'},
                                             {"limit", required_argument, NULL, 'l'},
                                             {"cursor", required_argument, NULL, 'c'},
                                             CLI_COMMON_OPTIONS};
    int opt;
    optind = 0;
    while ((opt = cli_getopt(ctx, argc, argv, "u:s:t:l:c:h", longopts)) != -1) {
        int rc = parse_opt(ctx, opt, a);
        if (rc != 0)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
    if ((a->user == NULL) == (a->session == NULL))
        return cli_usage_error(ctx, "give either --user or --session");
    return 0;
}

static const char *
status_of(const tether_toolkit_list *l, size_t i)
{
    const char *st = tether_toolkit_account_status(l, i);
    if (st != NULL)
        return st;
    return tether_toolkit_is_no_auth(l, i) ? "NO_AUTH" : "-";
}

static void
print_table(const tether_toolkit_list *l)
{
    printf("%-20s %-24s %-12s %s\n", "SLUG", "NAME", "STATUS", "ACCOUNT");
    for (size_t i = 0; i < tether_toolkit_list_count(l); i++) {
        const char *name = tether_toolkit_name(l, i);
        const char *acct = tether_toolkit_account_id(l, i);
        printf("%-20s %-24s %-12s %s\n", tether_toolkit_slug(l, i), name ? name : "",
               status_of(l, i), acct ? acct : "-");
    }
    const char *next = tether_toolkit_list_next_cursor(l);
    if (next != NULL)
        printf("more: --cursor %s\n", next);
}

static int
run(struct cli_ctx *ctx, tether_client *c, const struct toolkits_args *a)
{
    tether_session *s = NULL;
    tether_toolkit_list *l = NULL;
    int rc = cli_session(c, a->session, a->user, &s);
    if (rc == 0)
        rc = tether_session_toolkits(s, &a->o, &l);
    if (rc == 0 && ctx->json)
        cli_print_json(tether_toolkit_list_json(l));
    else if (rc == 0)
        print_table(l);
    int code = rc == 0 ? CLI_EXIT_OK : cli_fail(ctx, rc);
    tether_toolkit_list_free(l);
    tether_session_free(s);
    return code;
}

int
cli_cmd_toolkits(struct cli_ctx *ctx, int argc, char **argv)
{
    struct toolkits_args a = {0};
    tether_toolkits_options_init(&a.o);
    int code = parse(ctx, argc, argv, &a);
    if (code == 0) {
        tether_client *c = cli_client(ctx, &code);
        if (c != NULL)
            code = run(ctx, c, &a);
        tether_client_free(c);
    }
    cli_list_free(a.toolkits);
    return code < 0 ? CLI_EXIT_OK : code;
}
