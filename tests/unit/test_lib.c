/* test_lib.c -- libtether through its public header only, against a tiny HTTP server run on a
 * thread of this test (canned answers, request capture, held answers for long-polls), so no
 * external server is needed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness/test.h"
#include "tether.h"

/* ---- the fake server ---------------------------------------------------------------------- */

struct fake_req {
    char method[16];
    char path[512];
    char query[1024];
    char body[8192];
};

struct fake_resp {
    int status;
    const char *body; /* static text, or NULL with big_body */
    size_t big_body;  /* send this many bytes of a JSON string instead */
    long delay_ms;
};

typedef void (*fake_fn)(const struct fake_req *rq, int n, struct fake_resp *out);

static struct {
    int fd;
    int port;
    pthread_t th;
    fake_fn fn;
    pthread_mutex_t mu;
    int count;              /* requests seen */
    struct fake_req last;   /* the last request */
    char first_query[1024]; /* query of the first request */
} fake;

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one request (headers and a Content-Length body) into rq. 0 or -1. */
static int
read_request(int fd, struct fake_req *rq)
{
    static __thread char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (end == NULL && len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end == NULL)
        return -1;
    char target[1536] = "";
    if (sscanf(buf, "%15s %1535s", rq->method, target) != 2)
        return -1;
    char *q = strchr(target, '?');
    snprintf(rq->query, sizeof(rq->query), "%.1000s", q ? q + 1 : "");
    if (q)
        *q = '\0';
    snprintf(rq->path, sizeof(rq->path), "%.500s", target);
    const char *cl = strcasestr(buf, "content-length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < want && len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        have += (size_t)n;
        buf[len] = '\0';
    }
    snprintf(rq->body, sizeof(rq->body), "%s", end + 4);
    return 0;
}

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* the client may close first */
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void
send_response(int fd, const struct fake_resp *r)
{
    size_t len = r->body ? strlen(r->body) : r->big_body + 2;
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     r->status, len);
    write_all(fd, head, (size_t)n);
    if (r->body) {
        write_all(fd, r->body, len);
        return;
    }
    char chunk[4096];
    memset(chunk, 'a', sizeof(chunk));
    write_all(fd, "\"", 1);
    for (size_t left = r->big_body; left > 0;) {
        size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
        write_all(fd, chunk, k);
        left -= k;
    }
    write_all(fd, "\"", 1);
}

static void *
serve(void *arg)
{
    for (;;) {
        int fd = accept(fake.fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        struct fake_req rq;
        memset(&rq, 0, sizeof(rq));
        if (read_request(fd, &rq) == 0) {
            pthread_mutex_lock(&fake.mu);
            int n = fake.count++;
            fake.last = rq;
            if (n == 0)
                snprintf(fake.first_query, sizeof(fake.first_query), "%s", rq.query);
            pthread_mutex_unlock(&fake.mu);
            struct fake_resp r = {.status = 200, .body = "{}"};
            fake.fn(&rq, n, &r);
            if (r.delay_ms > 0)
                usleep((useconds_t)r.delay_ms * 1000);
            send_response(fd, &r);
        }
        close(fd);
    }
}

static void
fake_start(fake_fn fn)
{
    fake.fn = fn;
    fake.count = 0;
    fake.first_query[0] = '\0';
    pthread_mutex_init(&fake.mu, NULL);
    fake.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fake.fd, (struct sockaddr *)&a, sizeof(a));
    socklen_t al = sizeof(a);
    getsockname(fake.fd, (struct sockaddr *)&a, &al);
    fake.port = ntohs(a.sin_port);
    listen(fake.fd, 64);
    pthread_create(&fake.th, NULL, serve, NULL);
}

static void
fake_stop(void)
{
    shutdown(fake.fd, SHUT_RDWR);
    close(fake.fd);
    pthread_join(fake.th, NULL);
    pthread_mutex_destroy(&fake.mu);
}

/* Requests seen so far, read under the server's lock. */
static int
fake_count(void)
{
    pthread_mutex_lock(&fake.mu);
    int n = fake.count;
    pthread_mutex_unlock(&fake.mu);
    return n;
}

static tether_client *
fake_client(void)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fake.port);
    tether_client_options o;
    tether_client_options_init(&o);
    o.base_url = url;
    o.api_key = "k";
    return tether_client_new(&o);
}

/* ---- canned handlers ---------------------------------------------------------------------- */

#define ACCT(st, reason)                                                                           \
    "{\"id\":\"ca_1\",\"status\":\"" st "\",\"status_reason\":" reason                             \
    ",\"toolkit\":{\"slug\":\"gmail\"},\"auth_config\":{\"id\":\"ac_1\"},\"user_id\":\"u\","       \
    "\"data\":{\"identity\":\"u@example.com\"}}"

static void
h_unauthorized(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->status = 401;
    r->body = "{\"error\":{\"message\":\"Invalid API key\",\"code\":10401,\"status\":401,"
              "\"request_id\":\"req_9\",\"suggested_fix\":\"use a valid key\"}}";
}

static void
h_not_json(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->body = "<html>hello</html>";
}

static void
h_big(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->body = NULL;
    r->big_body = 9u << 20;
}

/* Holds the first request (a long-poll) 300 ms, then answers ACTIVE. */
static void
h_longpoll(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->delay_ms = strstr(rq->query, "wait_ms=") ? 300 : 0;
    r->body = ACCT("ACTIVE", "null");
}

/* Answers INITIATED at once twice, then ACTIVE: a server without long-poll. */
static void
h_no_longpoll(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->body = n < 2 ? ACCT("INITIATED", "null") : ACCT("ACTIVE", "null");
}

static void
h_failed(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->body = ACCT("FAILED", "\"access_denied: the user said no\"");
}

static void
h_expired(const struct fake_req *rq, int n, struct fake_resp *r)
{
    r->body = ACCT("EXPIRED", "null");
}

/* Holds long-polls as a real server would, never finishing. */
static void
h_pending(const struct fake_req *rq, int n, struct fake_resp *r)
{
    const char *w = strstr(rq->query, "wait_ms=");
    r->delay_ms = w ? strtol(w + 8, NULL, 10) : 0;
    r->body = ACCT("INITIATED", "null");
}

/* Refuses wait_ms with 400, answers ACTIVE to a plain GET. */
static void
h_strict(const struct fake_req *rq, int n, struct fake_resp *r)
{
    if (strstr(rq->query, "wait_ms=")) {
        r->status = 400;
        r->body = "{\"error\":{\"message\":\"unknown parameter wait_ms\"}}";
        return;
    }
    r->body = ACCT("ACTIVE", "null");
}

static void
h_echo(const struct fake_req *rq, int n, struct fake_resp *r)
{
    if (strstr(rq->path, "/tool_router/session") && strcmp(rq->method, "POST") == 0 &&
        strstr(rq->path, "/link") == NULL)
        r->body = "{\"session_id\":\"trs_1\",\"mcp\":{\"type\":\"http\",\"url\":\"http://x/mcp\"},"
                  "\"config\":{\"user_id\":\"u\"}}";
    else if (strstr(rq->path, "/link"))
        r->body = "{\"connected_account_id\":\"ca_1\",\"redirect_url\":\"http://x/link/ln_1\","
                  "\"link_token\":\"ln_1\"}";
    else if (strstr(rq->path, "/toolkits"))
        r->body =
            "{\"items\":[{\"slug\":\"gmail\",\"name\":\"Gmail\",\"is_no_auth\":false,"
            "\"connected_account\":{\"id\":\"ca_1\",\"status\":\"ACTIVE\",\"auth_config\":{}}},"
            "{\"slug\":\"github\",\"name\":\"GitHub\",\"connected_account\":null}],"
            "\"next_cursor\":\"c2\",\"total_pages\":2}";
    else if (strcmp(rq->path, "/api/v3.1/connected_accounts") == 0)
        r->body = "{\"items\":[" ACCT("ACTIVE", "null") "],\"next_cursor\":null}";
    else if (strcmp(rq->method, "GET") == 0)
        r->body = ACCT("ACTIVE", "null");
    else
        r->body = "{\"success\":true}";
}

/* ---- tests -------------------------------------------------------------------------------- */

TEST(lib_error_table)
{
    ASSERT_EQ(TETHER_OK, 0);
    ASSERT_STR(tether_err_name(TETHER_ENOTFOUND), "not_found");
    ASSERT_STR(tether_err_name(TETHER_EFAILED), "connection_failed");
    ASSERT_STR(tether_strerror(TETHER_EUNREACHABLE), "cannot reach the server");
    ASSERT_STR(tether_strerror(12345), "unknown error");
    ASSERT_STR(tether_err_name(-999), "unknown");
    for (int code = 0; code >= TETHER_ECANCELED; code--)
        ASSERT(strcmp(tether_err_name(code), "unknown") != 0);
}

TEST(lib_version)
{
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", TETHER_VERSION_MAJOR, TETHER_VERSION_MINOR,
             TETHER_VERSION_PATCH);
    ASSERT_STR(tether_version(), want);
}

TEST(lib_client_needs_key)
{
    unsetenv("TETHER_API_KEY");
    unsetenv("COMPOSIO_API_KEY");
    tether_client *c = tether_client_new(NULL);
    ASSERT(c == NULL);
    tether_error_info e;
    tether_errinfo(NULL, &e);
    ASSERT_EQ(e.code, TETHER_EINVAL);
    ASSERT(strstr(tether_errmsg(NULL), "TETHER_API_KEY") != NULL);
}

TEST(lib_client_env_fallback)
{
    unsetenv("TETHER_API_KEY");
    unsetenv("TETHER_BASE_URL");
    setenv("COMPOSIO_API_KEY", "ck", 1);
    setenv("COMPOSIO_BASE_URL", "http://composio.example//", 1);
    tether_client *c = tether_client_new(NULL);
    ASSERT(c != NULL);
    ASSERT_STR(tether_client_base_url(c), "http://composio.example");
    tether_client_free(c);
    setenv("TETHER_BASE_URL", "https://tether.example", 1);
    c = tether_client_new(NULL);
    ASSERT(c != NULL);
    ASSERT_STR(tether_client_base_url(c), "https://tether.example");
    tether_client_free(c);
    unsetenv("TETHER_BASE_URL");
    unsetenv("COMPOSIO_BASE_URL");
    c = tether_client_new(NULL);
    ASSERT(c != NULL);
    ASSERT_STR(tether_client_base_url(c), TETHER_DEFAULT_BASE_URL);
    tether_client_free(c);
    unsetenv("COMPOSIO_API_KEY");
}

TEST(lib_client_rejects_bad_url)
{
    tether_client_options o;
    tether_client_options_init(&o);
    o.api_key = "k";
    o.base_url = "ftp://x";
    ASSERT(tether_client_new(&o) == NULL);
    ASSERT(strstr(tether_errmsg(NULL), "ftp://x") != NULL);
    o.base_url = "http://x";
    o.api_key = "a\r\nb";
    ASSERT(tether_client_new(&o) == NULL);
}

TEST(lib_null_safety)
{
    tether_client_free(NULL);
    tether_session_free(NULL);
    tether_connection_request_free(NULL);
    tether_account_free(NULL);
    tether_account_list_free(NULL);
    tether_toolkit_list_free(NULL);
    ASSERT(tether_account_id(NULL) == NULL);
    ASSERT(tether_toolkit_slug(NULL, 0) == NULL);
    ASSERT_EQ(tether_account_list_count(NULL), 0);
    ASSERT(tether_account_list_at(NULL, 0) == NULL);
    tether_account *a = (tether_account *)1;
    ASSERT_EQ(tether_account_get(NULL, "ca_1", &a), TETHER_EINVAL);
    ASSERT(a == (tether_account *)1); /* untouched on failure */
}

TEST(lib_unreachable)
{
    tether_client_options o;
    tether_client_options_init(&o);
    o.api_key = "k";
    o.base_url = "http://127.0.0.1:1";
    tether_client *c = tether_client_new(&o);
    ASSERT(c != NULL);
    tether_account *a = NULL;
    int rc = tether_account_get(c, "ca_1", &a);
    tether_client_free(c);
    ASSERT_EQ(rc, TETHER_EUNREACHABLE);
    ASSERT(strstr(tether_errmsg(NULL), "127.0.0.1:1") != NULL);
}

TEST(lib_http_error_detail)
{
    fake_start(h_unauthorized);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    int rc = tether_account_get(c, "ca_1", &a);
    tether_error_info e;
    tether_errinfo(c, &e);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, TETHER_EUNAUTHORIZED);
    ASSERT_EQ(e.http_status, 401);
    ASSERT_EQ(e.server_code, 10401);
    ASSERT_STR(e.server_message, "Invalid API key");
    ASSERT_STR(e.request_id, "req_9");
    ASSERT_STR(e.suggested_fix, "use a valid key");
    ASSERT(strstr(e.message, "Invalid API key") != NULL);
}

TEST(lib_not_json_is_protocol_error)
{
    fake_start(h_not_json);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    int rc = tether_account_get(c, "ca_1", &a);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, TETHER_EPROTOCOL);
}

TEST(lib_answer_size_capped)
{
    fake_start(h_big);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    int rc = tether_account_get(c, "ca_1", &a);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, TETHER_ETOOBIG);
}

TEST(lib_wait_uses_longpoll)
{
    fake_start(h_longpoll);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    tether_wait_options o;
    tether_wait_options_init(&o);
    o.timeout_ms = 5000;
    int rc = tether_account_wait(c, "ca_1", &o, &a);
    int count = fake_count();
    char q[1024];
    memcpy(q, fake.first_query, sizeof(q));
    ASSERT_EQ(rc, 0);
    ASSERT_STR(tether_account_status(a), "ACTIVE");
    ASSERT_STR(tether_account_identity(a), "u@example.com");
    ASSERT_STR(tether_account_toolkit(a), "gmail");
    ASSERT_STR(tether_account_auth_config_id(a), "ac_1");
    tether_account_free(a);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(count, 1);
    ASSERT(strncmp(q, "wait_ms=", 8) == 0);
    ASSERT(strtol(q + 8, NULL, 10) > 4500 && strtol(q + 8, NULL, 10) <= 5000);
}

TEST(lib_wait_falls_back_to_polling)
{
    fake_start(h_no_longpoll);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    long long t0 = now_ms();
    int rc = tether_connection_request_wait(NULL, 0, &a);
    ASSERT_EQ(rc, TETHER_EINVAL);
    tether_wait_options o;
    tether_wait_options_init(&o);
    o.timeout_ms = 10000;
    rc = tether_account_wait(c, "ca_1", &o, &a);
    long long elapsed = now_ms() - t0;
    struct fake_req last = fake.last;
    int count = fake_count();
    tether_account_free(a);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(count, 3);
    ASSERT_STR(last.query, ""); /* plain GETs after the first */
    ASSERT(elapsed >= 1800 && elapsed < 4000);
}

TEST(lib_wait_failed_carries_reason)
{
    fake_start(h_failed);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    int rc = tether_account_wait(c, "ca_1", NULL, &a);
    tether_error_info e;
    tether_errinfo(c, &e);
    ASSERT_EQ(rc, TETHER_EFAILED);
    ASSERT(a == NULL);
    ASSERT_STR(e.account_status, "FAILED");
    ASSERT_STR(e.status_reason, "access_denied: the user said no");
    ASSERT(strstr(tether_errmsg(c), "access_denied") != NULL);
    tether_client_free(c);
    fake_stop();
    fake_start(h_expired);
    c = fake_client();
    rc = tether_account_wait(c, "ca_1", NULL, &a);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, TETHER_EEXPIRED);
}

TEST(lib_wait_times_out)
{
    fake_start(h_pending);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    tether_wait_options o;
    tether_wait_options_init(&o);
    o.timeout_ms = 700;
    long long t0 = now_ms();
    int rc = tether_account_wait(c, "ca_1", &o, &a);
    long long elapsed = now_ms() - t0;
    int count = fake_count();
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, TETHER_ETIMEOUT);
    ASSERT(elapsed >= 650 && elapsed < 2000);
    ASSERT_EQ(count, 1); /* one held request, no fallback */
}

static int
cancel_on_second_tick(void *ud, long remaining_ms, const char *status)
{
    int *ticks = ud;
    return ++*ticks >= 2;
}

TEST(lib_wait_tick_and_cancel)
{
    fake_start(h_pending);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    int ticks = 0;
    tether_wait_options o;
    tether_wait_options_init(&o);
    o.timeout_ms = 30000;
    o.on_tick = cancel_on_second_tick;
    o.userdata = &ticks;
    long long t0 = now_ms();
    int rc = tether_account_wait(c, "ca_1", &o, &a);
    long long elapsed = now_ms() - t0;
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, TETHER_ECANCELED);
    ASSERT_EQ(ticks, 2);
    ASSERT(elapsed >= 1800 && elapsed < 4000); /* long-polls held one second each */
}

TEST(lib_wait_strict_server)
{
    fake_start(h_strict);
    tether_client *c = fake_client();
    tether_account *a = NULL;
    int rc = tether_account_wait(c, "ca_1", NULL, &a);
    int count = fake_count();
    tether_account_free(a);
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(count, 2);
}

TEST(lib_session_request_body)
{
    fake_start(h_echo);
    tether_client *c = fake_client();
    const char *tks[] = {"gmail", "github", NULL};
    tether_pin pins[] = {{"gmail", "ca_a"}, {"gmail", "ca_b"}};
    tether_pin acs[] = {{"github", "ac_1"}};
    tether_session_options o;
    tether_session_options_init(&o);
    o.manage_connections = 0;
    o.toolkits = tks;
    o.connected_accounts = pins;
    o.n_connected_accounts = 2;
    o.auth_configs = acs;
    o.n_auth_configs = 1;
    tether_session *s = NULL;
    int rc = tether_session_create(c, "user_1", &o, &s);
    struct fake_req rq = fake.last;
    ASSERT_EQ(rc, 0);
    ASSERT_STR(rq.path, "/api/v3.1/tool_router/session");
    ASSERT(strstr(rq.body, "\"user_id\":\"user_1\"") != NULL);
    ASSERT(strstr(rq.body, "\"manage_connections\":{\"enable\":false}") != NULL);
    ASSERT(strstr(rq.body, "\"toolkits\":{\"enable\":[\"gmail\",\"github\"]}") != NULL);
    ASSERT(strstr(rq.body, "\"connected_accounts\":{\"gmail\":[\"ca_a\",\"ca_b\"]}") != NULL);
    ASSERT(strstr(rq.body, "\"auth_configs\":{\"github\":\"ac_1\"}") != NULL);
    ASSERT_STR(tether_session_id(s), "trs_1");
    ASSERT_STR(tether_session_mcp_url(s), "http://x/mcp");
    ASSERT_STR(tether_session_user_id(s), "u");

    tether_authorize_options ao;
    tether_authorize_options_init(&ao);
    ao.callback_url = "https://app/cb?a=1&b=2";
    ao.alias = "work";
    tether_connection_request *r = NULL;
    rc = tether_session_authorize(s, "gmail", &ao, &r);
    rq = fake.last;
    ASSERT_EQ(rc, 0);
    ASSERT_STR(rq.path, "/api/v3.1/tool_router/session/trs_1/link");
    ASSERT(strstr(rq.body, "\"callback_url\":\"https://app/cb?a=1&b=2\"") != NULL);
    ASSERT(strstr(rq.body, "\"alias\":\"work\"") != NULL);
    ASSERT_STR(tether_connection_request_id(r), "ca_1");
    ASSERT_STR(tether_connection_request_redirect_url(r), "http://x/link/ln_1");
    ASSERT_STR(tether_connection_request_link_token(r), "ln_1");

    tether_toolkits_options to;
    tether_toolkits_options_init(&to);
    to.limit = 5;
    to.cursor = "c 1";
    to.toolkits = tks;
    to.is_connected = 1;
    tether_toolkit_list *l = NULL;
    rc = tether_session_toolkits(s, &to, &l);
    rq = fake.last;
    ASSERT_EQ(rc, 0);
    ASSERT_STR(rq.query, "limit=5&cursor=c%201&toolkits=gmail%2Cgithub&is_connected=true");
    ASSERT_EQ(tether_toolkit_list_count(l), 2);
    ASSERT(tether_toolkit_is_active(l, 0));
    ASSERT_STR(tether_toolkit_account_id(l, 0), "ca_1");
    ASSERT(!tether_toolkit_is_active(l, 1));
    ASSERT(tether_toolkit_account_id(l, 1) == NULL);
    ASSERT(tether_toolkit_slug(l, 2) == NULL);
    ASSERT_STR(tether_toolkit_list_next_cursor(l), "c2");
    ASSERT_EQ(tether_toolkit_list_total_pages(l), 2);
    tether_toolkit_list_free(l);
    tether_connection_request_free(r);
    tether_session_free(s);
    tether_client_free(c);
    fake_stop();
}

TEST(lib_accounts_calls)
{
    fake_start(h_echo);
    tether_client *c = fake_client();
    const char *users[] = {"a", "b c", NULL};
    const char *sts[] = {"ACTIVE", NULL};
    tether_accounts_options o;
    tether_accounts_options_init(&o);
    o.user_ids = users;
    o.statuses = sts;
    o.limit = 10;
    tether_account_list *l = NULL;
    int rc = tether_accounts_list(c, &o, &l);
    struct fake_req rq = fake.last;
    ASSERT_EQ(rc, 0);
    ASSERT_STR(rq.query, "user_ids=a%2Cb%20c&statuses=ACTIVE&limit=10");
    ASSERT_EQ(tether_account_list_count(l), 1);
    ASSERT_STR(tether_account_id(tether_account_list_at(l, 0)), "ca_1");
    ASSERT(tether_account_list_next_cursor(l) == NULL);
    tether_account_list_free(l);

    ASSERT_EQ(tether_account_disable(c, "ca/1"), 0);
    rq = fake.last;
    ASSERT_STR(rq.method, "PATCH");
    ASSERT_STR(rq.path, "/api/v3.1/connected_accounts/ca%2F1/status");
    ASSERT_STR(rq.body, "{\"enabled\":false}");
    ASSERT_EQ(tether_account_enable(c, "ca_1"), 0);
    ASSERT_STR(fake.last.body, "{\"enabled\":true}");
    ASSERT_EQ(tether_account_delete(c, "ca_1"), 0);
    ASSERT_STR(fake.last.method, "DELETE");
    ASSERT_EQ(tether_account_delete(c, ""), TETHER_EINVAL);
    tether_client_free(c);
    fake_stop();
}

static void *
hammer(void *arg)
{
    tether_client *c = arg;
    intptr_t bad = 0;
    for (int i = 0; i < 25; i++) {
        tether_account *a = NULL;
        if (tether_account_get(c, "ca_1", &a) != 0 || strcmp(tether_account_id(a), "ca_1") != 0)
            bad++;
        tether_account_free(a);
    }
    return (void *)bad;
}

TEST(lib_client_shared_by_threads)
{
    fake_start(h_echo);
    tether_client *c = fake_client();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, c);
    intptr_t bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        bad += (intptr_t)r;
    }
    int count = fake_count();
    tether_client_free(c);
    fake_stop();
    ASSERT_EQ(bad, 0);
    ASSERT_EQ(count, 100);
}

TEST_MAIN()
