/* util.c (cli) -- what the client commands share: option parsing with the common options, error
 * reporting and exit codes, the client and session set-up, list parsing, printing and the
 * countdown while waiting for a connection. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define MAX_ITEMS 1000

int
cli_getopt(struct cli_ctx *ctx, int argc, char **argv, const char *shortopts,
           const struct option *longopts)
{
    opterr = 0;
    for (;;) {
        int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (opt == CLI_OPT_JSON) {
            ctx->json = 1;
        } else if (opt == CLI_OPT_BASE_URL) {
            ctx->base_url = optarg;
        } else if (opt == '?' || opt == ':') {
            const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
            cli_usage_error(ctx, "unknown option or missing value: '%s'", bad);
            return '?';
        } else {
            return opt;
        }
    }
}

int
cli_exit_code(int rc)
{
    switch (rc) {
    case TETHER_OK:
        return CLI_EXIT_OK;
    case TETHER_EINVAL:
        return CLI_EXIT_USAGE;
    case TETHER_EUNAUTHORIZED:
    case TETHER_EFORBIDDEN:
        return CLI_EXIT_AUTH;
    case TETHER_ENOTFOUND:
        return CLI_EXIT_NOT_FOUND;
    case TETHER_EUNREACHABLE:
        return CLI_EXIT_UNREACHABLE;
    case TETHER_ETIMEOUT:
    case TETHER_ECANCELED:
        return CLI_EXIT_TIMEOUT;
    case TETHER_EFAILED:
    case TETHER_EEXPIRED:
    case TETHER_EREVOKED:
        return CLI_EXIT_CONNECTION;
    case TETHER_EBADREQUEST:
    case TETHER_ECONFLICT:
    case TETHER_ERATELIMITED:
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_SERVER;
}

static const char *
hint_for(int rc, const tether_error_info *info)
{
    if (rc == TETHER_EUNREACHABLE)
        return "is the server running? Set TETHER_BASE_URL (or --base-url) to its address";
    if (rc == TETHER_EUNAUTHORIZED)
        return "check TETHER_API_KEY (or COMPOSIO_API_KEY)";
    if (rc == TETHER_EINVAL && info->http_status == 0 && strstr(info->message, "API key"))
        return "export TETHER_API_KEY=<your key>";
    return info->suggested_fix;
}

/* Sets key to s in obj when s is not NULL. */
static void
set_str(json_t *obj, const char *key, const char *s)
{
    if (s != NULL)
        json_object_set_new(obj, key, json_string(s));
}

static void
print_json_error(int rc, const tether_error_info *info)
{
    json_t *e = json_pack("{s:s, s:s, s:i}", "code", tether_err_name(rc), "message", info->message,
                          "exit_code", cli_exit_code(rc));
    if (e == NULL)
        return;
    if (info->http_status)
        json_object_set_new(e, "http_status", json_integer(info->http_status));
    set_str(e, "server_message", info->server_message);
    set_str(e, "request_id", info->request_id);
    set_str(e, "suggested_fix", info->suggested_fix);
    set_str(e, "account_id", info->account_id);
    set_str(e, "account_status", info->account_status);
    set_str(e, "status_reason", info->status_reason);
    json_t *root = json_pack("{s:o}", "error", e);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (text != NULL)
        cli_print_json(text);
    free(text);
    json_decref(root);
}

int
cli_fail(const struct cli_ctx *ctx, int rc)
{
    tether_error_info info;
    tether_errinfo(NULL, &info);
    const char *msg = info.message[0] ? info.message : tether_strerror(rc);
    fprintf(stderr, "tether %s: %s\n", ctx->cmd, msg);
    const char *hint = hint_for(rc, &info);
    if (hint != NULL && hint[0])
        fprintf(stderr, "hint: %s\n", hint);
    if (ctx->json)
        print_json_error(rc, &info);
    return cli_exit_code(rc);
}

int
cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tether %s: ", ctx->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'tether %s --help')\n", ctx->cmd);
    return CLI_EXIT_USAGE;
}

tether_client *
cli_client(const struct cli_ctx *ctx, int *exit_code)
{
    tether_client_options o;
    tether_client_options_init(&o);
    o.base_url = ctx->base_url;
    tether_client *c = tether_client_new(&o);
    if (c == NULL) {
        tether_error_info info;
        tether_errinfo(NULL, &info);
        int rc = info.code ? info.code : TETHER_ENOMEM;
        /* a missing key is an authorization problem for the user, not a usage one */
        if (rc == TETHER_EINVAL && strstr(info.message, "API key") != NULL) {
            cli_fail(ctx, rc);
            *exit_code = CLI_EXIT_AUTH;
        } else {
            *exit_code = cli_fail(ctx, rc);
        }
    }
    return c;
}

int
cli_session(tether_client *c, const char *session_id, const char *user_id, tether_session **out)
{
    if (session_id != NULL)
        return tether_session_open(c, session_id, out);
    return tether_session_create(c, user_id, NULL, out);
}

int
cli_parse_long(const char *s, long min, long max, long *out)
{
    if (s == NULL || s[0] == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

void
cli_list_free(char **list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; list[i] != NULL; i++)
        free(list[i]);
    free(list);
}

char **
cli_split(const char *s)
{
    char **list = calloc(MAX_ITEMS + 1, sizeof(*list));
    size_t n = 0;
    const char *p = s;
    while (list != NULL && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && n == MAX_ITEMS)
            goto fail;
        if (len > 0) {
            list[n] = strndup(p, len);
            if (list[n++] == NULL)
                goto fail;
        }
        p += len + (comma != NULL);
    }
    return list;
fail:
    cli_list_free(list);
    return NULL;
}

int
cli_list_push(const char ***list, size_t *n, const char *item)
{
    if (*n >= MAX_ITEMS)
        return -1;
    const char **grown = realloc(*list, (*n + 2) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    grown[(*n)++] = item;
    grown[*n] = NULL;
    *list = grown;
    return 0;
}

void
cli_print_json(const char *json)
{
    fputs(json, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static void
print_field(const char *key, const char *value)
{
    if (value != NULL)
        printf("%-14s %s\n", key, value);
}

void
cli_print_account(const tether_account *a)
{
    print_field("id:", tether_account_id(a));
    print_field("status:", tether_account_status(a));
    print_field("reason:", tether_account_status_reason(a));
    print_field("toolkit:", tether_account_toolkit(a));
    print_field("user:", tether_account_user_id(a));
    print_field("identity:", tether_account_identity(a));
    print_field("alias:", tether_account_alias(a));
    print_field("word id:", tether_account_word_id(a));
    print_field("auth config:", tether_account_auth_config_id(a));
    print_field("disabled:", tether_account_is_disabled(a) ? "yes" : "no");
    print_field("created:", tether_account_created_at(a));
    print_field("updated:", tether_account_updated_at(a));
}

/* The countdown on a terminal: rewrites one line each second. */
static int
countdown(void *userdata, long remaining_ms, const char *status)
{
    const char *id = userdata;
    printf("\r\033[KWaiting for %s (%s): %lds left", id, status, (remaining_ms + 999) / 1000);
    fflush(stdout);
    return 0;
}

int
cli_wait(const struct cli_ctx *ctx, tether_client *c, const char *account_id, long timeout_s,
         tether_account **out)
{
    tether_wait_options o;
    tether_wait_options_init(&o);
    o.timeout_ms = timeout_s * 1000;
    int live = !ctx->json && isatty(STDOUT_FILENO);
    if (live) {
        o.on_tick = countdown;
        o.userdata = (void *)account_id;
        countdown(o.userdata, o.timeout_ms, "INITIATED");
    } else if (!ctx->json) {
        printf("Waiting up to %lds for %s...\n", timeout_s, account_id);
        fflush(stdout);
    }
    int rc = tether_account_wait(c, account_id, &o, out);
    if (live) {
        printf("\r\033[K");
        fflush(stdout);
    }
    return rc;
}
