/* main.c (cli) -- the table of client subcommands and their dispatch, help and version. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(struct cli_ctx *ctx, int argc, char **argv);
    const char *summary;
};

static int cmd_version(struct cli_ctx *ctx, int argc, char **argv);
static int cmd_help(struct cli_ctx *ctx, int argc, char **argv);

static const struct command commands[] = {
    {"connect", cli_cmd_connect, "connect <toolkit> --user U [--callback URL] [--wait[=SECONDS]]"},
    {"toolkits", cli_cmd_toolkits, "toolkits --user U | --session ID  [filters]"},
    {"accounts", cli_cmd_accounts, "accounts list|get|enable|disable|delete|wait ..."},
    {"session", cli_cmd_session, "session create --user U [options] | session get ID"},
    {"version", cmd_version, "version"},
    {"help", cmd_help, "help"},
};

static void
print_usage(FILE *f)
{
    fprintf(f, "usage: tether <command> [options]\n\nclient commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  tether %s\n", commands[i].summary);
    fprintf(f, "\nserver commands: serve, projects, keys, apps, migrate (see tether(1))\n"
               "every client command takes --json and --base-url URL; the server and key come\n"
               "from TETHER_BASE_URL/TETHER_API_KEY (or COMPOSIO_BASE_URL/COMPOSIO_API_KEY).\n");
}

static int
cmd_help(struct cli_ctx *ctx, int argc, char **argv)
{
    print_usage(stdout);
    return CLI_EXIT_OK;
}

static int
cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
    int opt;
    while ((opt = cli_getopt(ctx, argc, argv, "h", (const struct option[]){CLI_COMMON_OPTIONS})) !=
           -1) {
        if (opt == CLI_OPT_HELP) {
            printf("usage: tether version [--json]\n");
            return CLI_EXIT_OK;
        }
        return CLI_EXIT_USAGE;
    }
    if (ctx->json)
        printf("{\"version\":\"%s\",\"library\":\"%s\"}\n", tether_version(), tether_version());
    else
        printf("tether %s (libtether %s)\n", tether_version(), tether_version());
    return CLI_EXIT_OK;
}

int
cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    else if (strcmp(name, "--version") == 0)
        name = "version";
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            struct cli_ctx ctx = {.cmd = commands[i].name};
            return commands[i].run(&ctx, argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "tether: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
