/* putting_together.c -- the "Putting it together" pattern of manual auth management, in C:
 * make sure a user has connected every toolkit an agent needs before the agent starts.
 *
 *   TETHER_API_KEY=... TETHER_BASE_URL=http://127.0.0.1:8080 ./putting_together [user_id]
 *
 * Creates a session with in-chat auth turned off, lists the required toolkits' connection
 * status, and for each one that is not connected prints its Connect Link and waits (up to 60 s)
 * for the user to finish. Exits 0 when all are connected, 1 otherwise. */
#include <stdio.h>
#include <string.h>

#include <tether.h>

static const char *const required_toolkits[] = {"gmail", "github", NULL};

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "%s failed: %s (%s)\n", what, tether_errmsg(NULL), tether_err_name(rc));
    return 1;
}

/* 1 when slug is an ACTIVE toolkit in l. */
static int
is_connected(const tether_toolkit_list *l, const char *slug)
{
    for (size_t i = 0; i < tether_toolkit_list_count(l); i++)
        if (strcmp(tether_toolkit_slug(l, i), slug) == 0 && tether_toolkit_is_active(l, i))
            return 1;
    return 0;
}

/* Prints "label: a, b" for the required toolkits whose connection state is want. Returns how
 * many were printed. */
static int
print_group(const char *label, const tether_toolkit_list *l, int want)
{
    int n = 0;
    printf("%s:", label);
    for (size_t i = 0; required_toolkits[i] != NULL; i++) {
        if (is_connected(l, required_toolkits[i]) == want)
            printf("%s %s", n++ ? "," : "", required_toolkits[i]);
    }
    printf("%s\n", n ? "" : " (none)");
    return n;
}

/* The seed's loop body: authorize, print the link, wait for the connection. */
static int
connect_one(tether_session *session, const char *slug)
{
    tether_connection_request *req = NULL;
    int rc = tether_session_authorize(session, slug, NULL, &req);
    if (rc != 0)
        return fail("authorize", rc);
    printf("Connect %s: %s\n", slug, tether_connection_request_redirect_url(req));
    fflush(stdout);

    tether_account *account = NULL;
    rc = tether_connection_request_wait(req, TETHER_DEFAULT_WAIT_MS, &account);
    tether_connection_request_free(req);
    if (rc != 0)
        return fail("wait_for_connection", rc);
    printf("Connected %s: %s\n", slug, tether_account_id(account));
    tether_account_free(account);
    return 0;
}

static int
run(tether_client *client, const char *user_id)
{
    tether_session_options so;
    tether_session_options_init(&so);
    so.manage_connections = 0; /* disable in-chat auth prompts */
    tether_session *session = NULL;
    int rc = tether_session_create(client, user_id, &so, &session);
    if (rc != 0)
        return fail("create session", rc);

    tether_toolkits_options to;
    tether_toolkits_options_init(&to);
    to.toolkits = required_toolkits;
    tether_toolkit_list *toolkits = NULL;
    rc = tether_session_toolkits(session, &to, &toolkits);
    if (rc != 0) {
        tether_session_free(session);
        return fail("toolkits", rc);
    }
    print_group("Connected", toolkits, 1);
    print_group("Pending", toolkits, 0);
    fflush(stdout);

    int status = 0;
    for (size_t i = 0; status == 0 && required_toolkits[i] != NULL; i++) {
        if (!is_connected(toolkits, required_toolkits[i]))
            status = connect_one(session, required_toolkits[i]);
    }
    if (status == 0)
        printf("All toolkits connected!\n");
    tether_toolkit_list_free(toolkits);
    tether_session_free(session);
    return status;
}

int
main(int argc, char **argv)
{
    const char *user_id = argc > 1 ? argv[1] : "user_123";
    tether_client *client = tether_client_new(NULL); /* TETHER_API_KEY, TETHER_BASE_URL */
    if (client == NULL) {
        tether_error_info e;
        tether_errinfo(NULL, &e);
        return fail("tether_client_new", e.code);
    }
    int status = run(client, user_id);
    tether_client_free(client);
    return status;
}
