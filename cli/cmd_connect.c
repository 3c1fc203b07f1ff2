/* cmd_connect.c -- `tether connect <toolkit>`: authorize a toolkit for a user, print the Connect
 * Link and, with --wait, wait for the user to finish (a countdown on a terminal). */
#include <stdio.h>

#include "cli.h"

#define MAX_WAIT_S 86400L

struct connect_args {
    const char *toolkit;
    const char *user;
    const char *session;
    tether_authorize_options auth;
    long wait_s; /* 0: do not wait */
};

static void
usage(void)
{
    printf("usage: tether connect <toolkit> (--user U | --session ID) [--callback URL]\n"
           "                      [--alias NAME] [--wait[=SECONDS]] [--json]\n"
           "Prints the Connect Link for <toolkit>; with --wait (default 60 seconds) waits for\n"
           "the user to finish and prints the connected account.\n");
}

/* 0 parsed, -1 help printed, or an exit code (> 0) after an error. */
static int
parse(struct cli_ctx *ctx, int argc, char **argv, struct connect_args *a)
{
    static const struct option longopts[] = {
        {"user", required_argument, NULL, 'u'},     {"session", required_argument, NULL, 's'},
        {"callback", required_argument, NULL, 'c'}, {"alias", required_argument, NULL, 'a'},
        {"wait", optional_argument, NULL, 'w'},     CLI_COMMON_OPTIONS};
    int opt;
    optind = 0;
    while ((opt = cli_getopt(ctx, argc, argv, "u:s:c:a:h", longopts)) != -1) {
        switch (opt) {
        case 'u':
            a->user = optarg;
            break;
        case 's':
            a->session = optarg;
            break;
        case 'c':
            a->auth.callback_url = optarg;
            break;
        case 'a':
            a->auth.alias = optarg;
            break;
        case 'w':
            a->wait_s = TETHER_DEFAULT_WAIT_MS / 1000;
            if (optarg != NULL && cli_parse_long(optarg, 1, MAX_WAIT_S, &a->wait_s) != 0)
                return cli_usage_error(ctx, "--wait takes seconds (1 to %ld), not '%s'", MAX_WAIT_S,
                                       optarg);
            break;
        case CLI_OPT_HELP:
            usage();
            return -1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 && a->wait_s > 0)
        return cli_usage_error(ctx, "expected exactly one toolkit slug (a wait is --wait=SECONDS)");
    if (optind != argc - 1)
        return cli_usage_error(ctx, "expected exactly one toolkit slug");
    a->toolkit = argv[optind];
    if ((a->user == NULL) == (a->session == NULL))
        return cli_usage_error(ctx, "give either --user or --session");
    return 0;
}

static void
print_link(const struct cli_ctx *ctx, const struct connect_args *a,
           const tether_connection_request *r)
{
    if (ctx->json) {
        cli_print_json(tether_connection_request_json(r));
        return;
    }
    printf("Connect %s: %s\n", a->toolkit, tether_connection_request_redirect_url(r));
    printf("Account: %s (INITIATED)\n", tether_connection_request_id(r));
    fflush(stdout);
}

static void
print_connected(const struct cli_ctx *ctx, const tether_account *acct)
{
    if (ctx->json) {
        cli_print_json(tether_account_json(acct));
        return;
    }
    const char *who = tether_account_identity(acct);
    if (who != NULL)
        printf("Connected: %s (%s)\n", tether_account_id(acct), who);
    else
        printf("Connected: %s\n", tether_account_id(acct));
}

static int
run(struct cli_ctx *ctx, tether_client *c, const struct connect_args *a)
{
    tether_session *s = NULL;
    tether_connection_request *r = NULL;
    tether_account *acct = NULL;
    int rc = cli_session(c, a->session, a->user, &s);
    if (rc == 0)
        rc = tether_session_authorize(s, a->toolkit, &a->auth, &r);
    if (rc == 0) {
        print_link(ctx, a, r);
        if (a->wait_s > 0)
            rc = cli_wait(ctx, c, tether_connection_request_id(r), a->wait_s, &acct);
    }
    if (rc == 0 && acct != NULL)
        print_connected(ctx, acct);
    int code = rc == 0 ? CLI_EXIT_OK : cli_fail(ctx, rc);
    tether_account_free(acct);
    tether_connection_request_free(r);
    tether_session_free(s);
    return code;
}

int
cli_cmd_connect(struct cli_ctx *ctx, int argc, char **argv)
{
    struct connect_args a = {0};
    tether_authorize_options_init(&a.auth);
    int rc = parse(ctx, argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int code = 0;
    tether_client *c = cli_client(ctx, &code);
    if (c == NULL)
        return code;
    code = run(ctx, c, &a);
    tether_client_free(c);
    return code;
}
