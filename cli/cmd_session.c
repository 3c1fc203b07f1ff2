/* cmd_session.c -- `tether session create|get`: make a session for a user (toolkits, in-chat
 * auth, pinned accounts and auth configs) or show an existing one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_PINS 1000

struct create_args {
    const char *user;
    char **toolkits; /* owned, from --toolkits */
    tether_pin *accounts, *configs;
    size_t n_accounts, n_configs;
    tether_session_options o;
};

static void
usage(void)
{
    printf("usage: tether session create --user U [--toolkits a,b] [--no-manage-connections]\n"
           "                             [--account TOOLKIT=ca_...]... [--auth-config "
           "TOOLKIT=ac_...]...\n"
           "                             [--json]\n"
           "       tether session get <session id> [--json]\n");
}

/* Appends "toolkit=id" (pointing into arg) to *pins. 0 or an exit code. */
static int
add_pin(struct cli_ctx *ctx, char *arg, tether_pin **pins, size_t *n)
{
    char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return cli_usage_error(ctx, "expected TOOLKIT=ID, not '%s'", arg);
    if (*n >= MAX_PINS)
        return cli_usage_error(ctx, "more than %d pins", MAX_PINS);
    tether_pin *grown = realloc(*pins, (*n + 1) * sizeof(*grown));
    if (grown == NULL)
        return cli_usage_error(ctx, "out of memory");
    *eq = '\0';
    grown[(*n)++] = (tether_pin){.toolkit = arg, .id = eq + 1};
    *pins = grown;
    return 0;
}

static int
create_opt(struct cli_ctx *ctx, int opt, struct create_args *a)
{
    switch (opt) {
    case 'u':
        a->user = optarg;
        return 0;
    case 't':
        cli_list_free(a->toolkits);
        a->toolkits = cli_split(optarg);
        a->o.toolkits = (const char *const *)a->toolkits;
        return a->toolkits ? 0 : cli_usage_error(ctx, "too many toolkits in --toolkits");
    case 'M':
        a->o.manage_connections = 0;
        return 0;
    case 'A':
        return add_pin(ctx, optarg, &a->accounts, &a->n_accounts);
    case 'C':
        return add_pin(ctx, optarg, &a->configs, &a->n_configs);
    case CLI_OPT_HELP:
        usage();
        return -1;
    }
    return CLI_EXIT_USAGE;
}

static void
print_session(const struct cli_ctx *ctx, const tether_session *s)
{
    if (ctx->json) {
        cli_print_json(tether_session_json(s));
        return;
    }
    const char *user = tether_session_user_id(s), *mcp = tether_session_mcp_url(s);
    printf("Session: %s\n", tether_session_id(s));
    if (user != NULL)
        printf("User:    %s\n", user);
    if (mcp != NULL)
        printf("MCP:     %s\n", mcp);
}

static int
run_create(struct cli_ctx *ctx, struct create_args *a)
{
    int code = 0;
    tether_client *c = cli_client(ctx, &code);
    if (c == NULL)
        return code;
    a->o.connected_accounts = a->accounts;
    a->o.n_connected_accounts = a->n_accounts;
    a->o.auth_configs = a->configs;
    a->o.n_auth_configs = a->n_configs;
    tether_session *s = NULL;
    int rc = tether_session_create(c, a->user, &a->o, &s);
    if (rc == 0)
        print_session(ctx, s);
    code = rc == 0 ? CLI_EXIT_OK : cli_fail(ctx, rc);
    tether_session_free(s);
    tether_client_free(c);
    return code;
}

static int
cmd_create(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"user", required_argument, NULL, 'u'},
                                             {"toolkits", required_argument, NULL, 't'},
                                             {"no-manage-connections", no_argument, NULL, 'M'},
                                             {"account", required_argument, NULL, 'A'},
                                             {"auth-config", required_argument, NULL, 'C'},
                                             CLI_COMMON_OPTIONS};
    struct create_args a = {0};
    tether_session_options_init(&a.o);
    int opt, code = 0;
    optind = 0;
    while (code == 0 && (opt = cli_getopt(ctx, argc, argv, "u:t:h", longopts)) != -1)
        code = create_opt(ctx, opt, &a);
    if (code == 0 && optind != argc)
        code = cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
    if (code == 0 && a.user == NULL)
        code = cli_usage_error(ctx, "--user is required");
    if (code == 0)
        code = run_create(ctx, &a);
    cli_list_free(a.toolkits);
    free(a.accounts);
    free(a.configs);
    return code < 0 ? CLI_EXIT_OK : code;
}

static int
cmd_get(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_OPTIONS};
    int opt;
    optind = 0;
    while ((opt = cli_getopt(ctx, argc, argv, "h", longopts)) != -1) {
        if (opt != CLI_OPT_HELP)
            return CLI_EXIT_USAGE;
        usage();
        return CLI_EXIT_OK;
    }
    if (optind != argc - 1)
        return cli_usage_error(ctx, "expected exactly one session id");
    int code = 0;
    tether_client *c = cli_client(ctx, &code);
    if (c == NULL)
        return code;
    tether_session *s = NULL;
    int rc = tether_session_open(c, argv[optind], &s);
    if (rc == 0)
        print_session(ctx, s);
    code = rc == 0 ? CLI_EXIT_OK : cli_fail(ctx, rc);
    tether_session_free(s);
    tether_client_free(c);
    return code;
}

int
cli_cmd_session(struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "create") == 0) {
        ctx->cmd = "session create";
        return cmd_create(ctx, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "get") == 0) {
        ctx->cmd = "session get";
        return cmd_get(ctx, argc - 1, argv + 1);
    }
    return cli_usage_error(ctx, "unknown subcommand '%s' (create, get)", argv[1]);
}
