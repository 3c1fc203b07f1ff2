/* cli.h -- the client half of the tether command line: connect, toolkits, accounts, session,
 * version, help. Built only on the public library (tether.h); it never reaches into the server or
 * into lib/. The server's own subcommands (serve, projects, keys, apps, migrate) are dispatched
 * by src/main.c and are not handled here.
 *
 * Exit codes (documented in docs/tether.1 and docs/cli.md):
 *   0 ok, 1 usage or invalid argument, 2 API key missing or rejected, 3 not found,
 *   4 server unreachable, 5 timed out, 6 connection FAILED, EXPIRED or REVOKED,
 *   7 server or protocol error, 8 request refused by the server (400, 409, 422, 429). */
#ifndef TETHER_CLI_H
#define TETHER_CLI_H

#include <getopt.h>

#include "tether.h"

/* Runs one client subcommand. [in] argc, argv: as main() got them, argv[1] the subcommand
 * ("connect", "toolkits", ...). Prints to stdout/stderr and returns the exit code. */
int cli_main(int argc, char **argv);

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,
    CLI_EXIT_AUTH = 2,
    CLI_EXIT_NOT_FOUND = 3,
    CLI_EXIT_UNREACHABLE = 4,
    CLI_EXIT_TIMEOUT = 5,
    CLI_EXIT_CONNECTION = 6,
    CLI_EXIT_SERVER = 7,
    CLI_EXIT_REFUSED = 8,
};

/* What every command shares: the global options, parsed by cli_getopt(). */
struct cli_ctx {
    const char *cmd;      /* "connect", "accounts list", ... for messages */
    int json;             /* --json */
    const char *base_url; /* --base-url, or NULL for the environment */
};

/* The options every command accepts, to end each command's getopt table with. */
#define CLI_OPT_JSON 0x1000
#define CLI_OPT_BASE_URL 0x1001
#define CLI_OPT_HELP 'h'
/* clang-format off */
#define CLI_COMMON_OPTIONS                                                                         \
    {"json", no_argument, NULL, CLI_OPT_JSON},                                                     \
    {"base-url", required_argument, NULL, CLI_OPT_BASE_URL},                                       \
    {"help", no_argument, NULL, CLI_OPT_HELP},                                                     \
    {NULL, 0, NULL, 0}
/* clang-format on */

/* getopt_long over argv (argv[0] is the command word), handling the common options itself.
 * Returns the option as getopt_long does, -1 at the end, or '?' after printing an error.
 * CLI_OPT_HELP is returned to the caller, which prints its usage. */
int cli_getopt(struct cli_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* Exit code for a TETHER_E* code. */
int cli_exit_code(int rc);

/* Reports a failed library call (rc) on stderr, with a hint for an unreachable server or a bad
 * key; with --json also writes {"error":{...}} on stdout. Returns cli_exit_code(rc). */
int cli_fail(const struct cli_ctx *ctx, int rc);

/* Prints "tether <cmd>: <message>" and the usage hint on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A client from the environment and --base-url. NULL after reporting; *exit_code is then set. */
tether_client *cli_client(const struct cli_ctx *ctx, int *exit_code);

/* Opens --session ID, or creates a session for --user (manage_connections on). 0 with *out
 * set (caller frees with tether_session_free), or a TETHER_E* code. */
int cli_session(tether_client *c, const char *session_id, const char *user_id,
                tether_session **out);

/* Parses a whole decimal number in [min, max]. 0 or -1. */
int cli_parse_long(const char *s, long min, long max, long *out);

/* A NULL-terminated vector of the comma-separated items of s (empty items dropped). Caller
 * frees with cli_list_free. NULL when memory ran out or there are more than 1000 items. */
char **cli_split(const char *s);
void cli_list_free(char **list);

/* Appends item to a NULL-terminated vector (*list may be NULL); 0 or -1. Does not copy item. */
int cli_list_push(const char ***list, size_t *n, const char *item);

/* Prints a JSON text followed by a newline, and flushes. */
void cli_print_json(const char *json);

/* Prints an account as "key: value" lines (human output). */
void cli_print_account(const tether_account *a);

/* Waits for account_id with a countdown on a terminal. 0 and *out, or a TETHER_E* code. */
int cli_wait(const struct cli_ctx *ctx, tether_client *c, const char *account_id, long timeout_s,
             tether_account **out);

/* The commands: argv[0] is the command word. Each returns an exit code. */
int cli_cmd_connect(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_toolkits(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_accounts(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_session(struct cli_ctx *ctx, int argc, char **argv);

#endif
