/* test_outbound.c -- the libcurl engine against a tiny HTTP server on a loopback port: answers,
 * errors, timeouts, size caps, dropped and refused connections, concurrency and shutdown. */
#include "harness/test.h"
#include "outbound/outbound.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the test server: one detached thread per connection, "Connection: close" replies ---- */

static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void
reply(int fd, int status, const char *ctype, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Test: yes\r\nConnection: close\r\n\r\n",
                     status, ctype, len);
    if (send_all(fd, head, (size_t)n) == 0)
        send_all(fd, body, len);
}

/* Reads the request head and any Content-Length body into req (NUL-terminated). Its length. */
static size_t
read_request(int fd, char *req, size_t cap)
{
    size_t len = 0;
    char *end = NULL;
    while (len < cap - 1) {
        ssize_t r = recv(fd, req + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
        if (end == NULL)
            continue;
        const char *cl = strcasestr(req, "\r\nContent-Length:");
        size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
        if (len >= (size_t)(end + 4 - req) + want)
            break;
    }
    req[len] = '\0';
    return len;
}

/* Routes: /json, /500, /hang, /huge, /bigcl, /close, /echo, /redirect, /slow. */
static void
serve(int fd)
{
    char req[16384];
    size_t len = read_request(fd, req, sizeof req);
    char path[128] = "";
    sscanf(req, "%*s %127s", path);
    if (strcmp(path, "/json") == 0) {
        reply(fd, 200, "application/json", "{\"ok\":true}", 11);
    } else if (strcmp(path, "/500") == 0) {
        reply(fd, 500, "text/plain", "boom", 4);
    } else if (strcmp(path, "/hang") == 0) {
        char c;
        while (recv(fd, &c, 1, 0) > 0) /* until the client gives up */
            ;
    } else if (strcmp(path, "/huge") == 0 || strcmp(path, "/bigcl") == 0) {
        size_t n = 2 * 1024 * 1024;
        char *big = malloc(n);
        memset(big, 'a', n);
        if (strcmp(path, "/huge") == 0) { /* no Content-Length: the cap must hit mid-stream */
            const char *h =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
            if (send_all(fd, h, strlen(h)) == 0)
                send_all(fd, big, n);
        } else {
            reply(fd, 200, "text/plain", big, n);
        }
        free(big);
    } else if (strcmp(path, "/close") == 0) {
        /* nothing: close at once */
    } else if (strcmp(path, "/echo") == 0) {
        reply(fd, 200, "text/plain", req, len);
    } else if (strcmp(path, "/redirect") == 0) {
        const char *h = "HTTP/1.1 302 Found\r\nLocation: /json\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n";
        send_all(fd, h, strlen(h));
    } else if (strcmp(path, "/slow") == 0) {
        usleep(100 * 1000);
        reply(fd, 200, "application/json", "{\"slow\":true}", 13);
    } else {
        reply(fd, 404, "text/plain", "nope", 4);
    }
}

static void *
conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve(fd);
    close(fd);
    return NULL;
}

static void *
accept_main(void *unused)
{
    for (;;) {
        int fd = accept(srv_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, conn_main, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&at);
    }
}

/* Binds 127.0.0.1:0 and returns the chosen port; fd gets the socket. */
static int
bind_ephemeral(int *fd)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(*fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    if (getsockname(*fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    return ntohs(a.sin_port);
}

static void
server_start(void)
{
    if (srv_fd >= 0)
        return;
    srv_port = bind_ephemeral(&srv_fd);
    listen(srv_fd, 128);
    pthread_create(&srv_thread, NULL, accept_main, NULL);
}

static void
server_stop(void)
{
    shutdown(srv_fd, SHUT_RDWR);
    pthread_join(srv_thread, NULL);
    close(srv_fd);
    srv_fd = -1;
}

static char *
url_for(const char *path)
{
    char *u = NULL;
    if (asprintf(&u, "http://127.0.0.1:%d%s", srv_port, path) < 0)
        return NULL;
    return u;
}

static struct outbound_req *
req_for(const char *method, const char *path)
{
    char *u = url_for(path);
    struct outbound_req *r = outbound_req_new(method, u);
    free(u);
    return r;
}

/* ---- tests ---- */

TEST(outbound_req_building)
{
    struct outbound_req *r = outbound_req_new("POST", "https://example.test/x");
    ASSERT(r != NULL);
    ASSERT_EQ(outbound_req_header(r, "Accept: %s", "application/json"), 0);
    ASSERT_EQ(outbound_req_header(r, "Bad: a\r\nInjected: b"), -1);
    ASSERT_EQ(outbound_req_header(r, "no colon"), -1);
    for (int i = 1; i < OUTBOUND_MAX_HEADERS - 1; i++)
        ASSERT_EQ(outbound_req_header(r, "X-%d: v", i), 0);
    ASSERT_EQ(outbound_req_header(r, "X-Over: v"), -1);
    ASSERT(r->headers[OUTBOUND_MAX_HEADERS - 1] == NULL);
    outbound_req_body(r, "a=1", 3);
    outbound_req_body(r, "b=22", 4);
    ASSERT_STR(r->body, "b=22");
    ASSERT_EQ(r->body_len, 4);
    outbound_req_free(r);
    outbound_req_free(NULL);
}

TEST(outbound_not_started)
{
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(outbound_req_new("GET", "http://127.0.0.1:1/"), &res), -1);
    ASSERT(res.error[0] != '\0');
    outbound_res_clear(&res);
}

TEST(outbound_json_200)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(req_for("GET", "/json"), &res), 0);
    ASSERT_EQ(res.status, 200);
    ASSERT_STR(res.body, "{\"ok\":true}");
    ASSERT_EQ(res.len, 11);
    ASSERT_STR(res.content_type, "application/json");
    ASSERT_STR(res.error, "");
    int found = 0;
    for (size_t i = 0; res.headers && res.headers[i]; i++)
        if (strcmp(res.headers[i], "X-Test: yes") == 0)
            found = 1;
    ASSERT(found);
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_post_echo)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_req *r = req_for("POST", "/echo");
    outbound_req_header(r, "Content-Type: application/x-www-form-urlencoded");
    outbound_req_header(r, "X-Custom: 42");
    outbound_req_body(r, "grant_type=refresh_token&x=1", 28);
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(r, &res), 0);
    ASSERT_EQ(res.status, 200);
    ASSERT(strncmp(res.body, "POST /echo HTTP/1.1\r\n", 21) == 0);
    ASSERT(strstr(res.body, "\r\nX-Custom: 42\r\n") != NULL);
    ASSERT(strstr(res.body, "\r\nContent-Type: application/x-www-form-urlencoded\r\n") != NULL);
    ASSERT(strstr(res.body, "\r\n\r\ngrant_type=refresh_token&x=1") != NULL);
    ASSERT(strstr(res.body, "Expect:") == NULL);
    outbound_res_clear(&res);

    r = req_for("DELETE", "/echo");
    ASSERT_EQ(outbound_perform(r, &res), 0);
    ASSERT(strncmp(res.body, "DELETE /echo HTTP/1.1\r\n", 23) == 0);
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_http_500)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(req_for("GET", "/500"), &res), 0);
    ASSERT_EQ(res.status, 500);
    ASSERT_STR(res.body, "boom");
    ASSERT_EQ(res.timed_out, 0);
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_timeout)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_req *r = req_for("GET", "/hang");
    r->timeout_ms = 300;
    struct outbound_res res;
    int64_t t0 = now_ms();
    ASSERT_EQ(outbound_perform(r, &res), -1);
    int64_t took = now_ms() - t0;
    ASSERT_EQ(res.status, 0);
    ASSERT_EQ(res.timed_out, 1);
    ASSERT(strstr(res.error, "timed out") != NULL);
    ASSERT(took >= 250 && took < 1000);
    ASSERT(res.duration_ms >= 250);
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_size_cap)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_res res;
    struct outbound_req *r = req_for("GET", "/huge");
    r->max_response = 64 * 1024;
    ASSERT_EQ(outbound_perform(r, &res), -1);
    ASSERT_EQ(res.status, 0);
    ASSERT_STR(res.error, "response too large");
    outbound_res_clear(&res);
    r = req_for("GET", "/bigcl"); /* default 1 MiB cap, announced by Content-Length */
    ASSERT_EQ(outbound_perform(r, &res), -1);
    ASSERT_STR(res.error, "response too large");
    outbound_res_clear(&res);
    r = req_for("GET", "/huge");
    r->max_response = 4 * 1024 * 1024;
    ASSERT_EQ(outbound_perform(r, &res), 0);
    ASSERT_EQ(res.len, 2 * 1024 * 1024);
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_closed_and_refused)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(req_for("GET", "/close"), &res), -1);
    ASSERT_EQ(res.status, 0);
    ASSERT_EQ(res.timed_out, 0);
    ASSERT(res.error[0] != '\0');
    outbound_res_clear(&res);

    int fd;
    int port = bind_ephemeral(&fd);
    close(fd); /* nobody listens there now */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    int64_t t0 = now_ms();
    ASSERT_EQ(outbound_perform(outbound_req_new("GET", url), &res), -1);
    ASSERT(now_ms() - t0 < 1000);
    ASSERT_EQ(res.status, 0);
    ASSERT_EQ(res.timed_out, 0);
    ASSERT(res.error[0] != '\0');
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_redirects)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(req_for("GET", "/redirect"), &res), 0);
    ASSERT_EQ(res.status, 302);
    outbound_res_clear(&res);
    struct outbound_req *r = req_for("GET", "/redirect");
    r->follow_redirects = 1;
    ASSERT_EQ(outbound_perform(r, &res), 0);
    ASSERT_EQ(res.status, 200);
    ASSERT_STR(res.body, "{\"ok\":true}");
    outbound_res_clear(&res);
    outbound_stop();
}

TEST(outbound_https_only)
{
    server_start();
    ASSERT_EQ(outbound_start(0), 0);
    struct outbound_res res;
    ASSERT_EQ(outbound_perform(req_for("GET", "/json"), &res), -1);
    ASSERT_EQ(res.status, 0);
    ASSERT(strstr(res.error, "https") != NULL);
    outbound_res_clear(&res);
    ASSERT_EQ(outbound_perform(outbound_req_new("GET", "ftp://127.0.0.1/x"), &res), -1);
    outbound_res_clear(&res);
    ASSERT_EQ(outbound_perform(outbound_req_new("GET", "file:///etc/passwd"), &res), -1);
    ASSERT_EQ(res.len, 0);
    outbound_res_clear(&res);
    ASSERT_EQ(outbound_perform(outbound_req_new("G ET", "https://127.0.0.1/"), &res), -1);
    ASSERT_STR(res.error, "invalid HTTP method");
    outbound_res_clear(&res);
    outbound_stop();
}

/* ---- concurrency ---- */

static pthread_mutex_t cnt_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cnt_cond = PTHREAD_COND_INITIALIZER;
static int cnt_done, cnt_ok, cnt_shutdown;

static void
count_cb(void *arg, const struct outbound_res *res)
{
    pthread_mutex_lock(&cnt_mu);
    cnt_done++;
    if (res->status == 200 && strcmp(res->body, "{\"slow\":true}") == 0)
        cnt_ok++;
    if (strcmp(res->error, "shutting down") == 0)
        cnt_shutdown++;
    pthread_cond_broadcast(&cnt_cond);
    pthread_mutex_unlock(&cnt_mu);
}

static void *
submitter(void *unused)
{
    for (int i = 0; i < 10; i++)
        outbound_submit(req_for("GET", "/slow"), count_cb, NULL);
    return NULL;
}

static int
wait_count(int want, int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    pthread_mutex_lock(&cnt_mu);
    while (cnt_done < want)
        if (pthread_cond_timedwait(&cnt_cond, &cnt_mu, &dl) != 0)
            break;
    int n = cnt_done;
    pthread_mutex_unlock(&cnt_mu);
    return n;
}

TEST(outbound_fifty_concurrent)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    cnt_done = cnt_ok = cnt_shutdown = 0;
    pthread_t t[5];
    int64_t t0 = now_ms();
    for (int i = 0; i < 5; i++)
        pthread_create(&t[i], NULL, submitter, NULL);
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(wait_count(50, 10000), 50);
    ASSERT_EQ(cnt_ok, 50);
    /* each answer takes 100 ms; run one after another they would need 5 s */
    ASSERT(now_ms() - t0 < 2500);
    outbound_stop();
}

TEST(outbound_stop_finishes_pending)
{
    server_start();
    ASSERT_EQ(outbound_start(1), 0);
    cnt_done = cnt_ok = cnt_shutdown = 0;
    for (int i = 0; i < 5; i++) {
        struct outbound_req *r = req_for("GET", "/hang");
        ASSERT_EQ(outbound_submit(r, count_cb, NULL), 0);
    }
    usleep(100 * 1000);
    outbound_stop();
    ASSERT_EQ(cnt_done, 5);
    ASSERT_EQ(cnt_shutdown, 5);
    /* stopped: submits fail and never call back */
    ASSERT_EQ(outbound_submit(req_for("GET", "/json"), count_cb, NULL), -1);
    ASSERT_EQ(cnt_done, 5);
    outbound_stop(); /* twice is fine */
    server_stop();
}

TEST_MAIN()
