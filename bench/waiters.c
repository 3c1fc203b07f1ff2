/* waiters.c -- the socket side of bench scenario 6: parks many long-polls on tether and times
 * their answers. One thread, epoll, one keep-alive socket per long-poll, 127.0.0.1 only.
 *
 * Usage: waiters PORT API_KEY PER_ACCOUNT DEADLINE_S < account ids (one per line)
 * Opens PER_ACCOUNT sockets per account id, each sending
 *   GET /api/v3.1/connected_accounts/{id}?wait_ms=60000
 * Prints "sent N" once every request is written (N = requests written), then one line per
 * socket as it ends:
 *   "answer T_MS HTTP_STATUS ACCOUNT_STATUS UPDATED_AT"   T_MS: wall clock, ms with decimals
 *   "error ERRNO_TEXT"
 * and "done" (or "timeout N" with N sockets still open at DEADLINE_S). Exit status 0 unless the
 * arguments or the set-up are wrong. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_IDS 100000
#define MAX_SOCKETS 200000
#define ID_LEN 64
#define BUF_LEN 4096
#define CONNECTING_MAX 512

enum phase { CONNECTING, SENDING, READING, ENDED };

struct conn {
    int fd;
    enum phase phase;
    int id;      /* index into ids */
    size_t sent; /* request bytes written */
    size_t got;  /* response bytes read */
    char buf[BUF_LEN];
};

static char (*ids)[ID_LEN];
static int nids;
static struct conn *conns;
static int nconns;
static int port;
static const char *api_key;

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads account ids, one per line, up to MAX_IDS; ids are [A-Za-z0-9_-] only. */
static int
read_ids(void)
{
    char line[256];
    ids = calloc(MAX_IDS, sizeof *ids);
    if (ids == NULL)
        return -1;
    while (fgets(line, sizeof line, stdin) != NULL && nids < MAX_IDS) {
        size_t n = strcspn(line, "\r\n");
        if (n == 0)
            continue;
        if (n >= ID_LEN || strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789_-") < n)
            return -1;
        memcpy(ids[nids], line, n);
        ids[nids][n] = '\0';
        nids++;
    }
    return nids > 0 ? 0 : -1;
}

static int
parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void
end_conn(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->phase = ENDED;
}

static void
report_error(int ep, struct conn *c, int err)
{
    printf("error %s\n", strerror(err));
    end_conn(ep, c);
}

/* Starts a non-blocking connect for c; 0 or -1 (reported). */
static int
start_connect(int ep, struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        printf("error %s\n", strerror(errno));
        c->phase = ENDED;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(c->fd);
        printf("error %s\n", strerror(e));
        c->phase = ENDED;
        return -1;
    }
    c->phase = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        int e = errno;
        close(c->fd);
        printf("error %s\n", strerror(e));
        c->phase = ENDED;
        return -1;
    }
    return 0;
}

/* Writes (the rest of) the request. 1 when fully written, 0 to wait, -1 on error. */
static int
send_request(struct conn *c)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/v3.1/connected_accounts/%s?wait_ms=60000 HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\nx-api-key: %s\r\n\r\n",
                     ids[c->id], port, api_key);
    if (n < 0 || (size_t)n >= sizeof req)
        return -1;
    while (c->sent < (size_t)n) {
        ssize_t w = write(c->fd, req + c->sent, (size_t)n - c->sent);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)w;
    }
    return 1;
}

/* Copies the JSON string value of "key" in body into out (at most len-1 bytes); "-" if absent. */
static void
json_str(const char *body, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(body, pat);
    size_t n = 0;
    if (p != NULL) {
        p += strlen(pat);
        while (p[n] != '\0' && p[n] != '"' && n + 1 < len)
            n++;
        memcpy(out, p, n);
    }
    if (n == 0)
        memcpy(out, "-", 2);
    else
        out[n] = '\0';
}

/* Reads what is there; when the whole response is in, prints its line and ends c. */
static void
read_response(int ep, struct conn *c)
{
    for (;;) {
        if (c->got + 1 >= BUF_LEN) {
            printf("error response larger than %d bytes\n", BUF_LEN);
            end_conn(ep, c);
            return;
        }
        ssize_t r = read(c->fd, c->buf + c->got, BUF_LEN - 1 - c->got);
        if (r < 0) {
            if (errno != EAGAIN)
                report_error(ep, c, errno);
            return;
        }
        if (r == 0) {
            printf("error connection closed before the answer\n");
            end_conn(ep, c);
            return;
        }
        c->got += (size_t)r;
        c->buf[c->got] = '\0';
        char *eoh = strstr(c->buf, "\r\n\r\n");
        if (eoh == NULL)
            continue;
        char *cl = strcasestr(c->buf, "\r\ncontent-length:");
        long len;
        char num[16] = {0};
        if (cl == NULL || cl > eoh)
            len = -1;
        else {
            cl += strlen("\r\ncontent-length:");
            cl += strspn(cl, " ");
            size_t k = strspn(cl, "0123456789");
            if (k == 0 || k >= sizeof num || parse_int(memcpy(num, cl, k), 0, BUF_LEN, &len))
                len = -1;
        }
        if (len < 0) {
            printf("error no usable content-length\n");
            end_conn(ep, c);
            return;
        }
        const char *body = eoh + 4;
        if ((size_t)(c->buf + c->got - body) < (size_t)len)
            continue;
        double t = now_ms();
        long code = 0;
        char scode[4] = {0};
        if (c->got > 12)
            parse_int(memcpy(scode, c->buf + 9, 3), 100, 599, &code);
        char status[32], updated[40];
        json_str(body, "status", status, sizeof status);
        json_str(body, "updated_at", updated, sizeof updated);
        printf("answer %.3f %ld %s %s\n", t, code, status, updated);
        end_conn(ep, c);
        return;
    }
}

static void
raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

struct counts {
    int connecting; /* connects in progress */
    int sending;    /* connected, request not fully written */
    int open;       /* sockets not ended */
    int sent;       /* requests fully written */
};

/* Handles one readiness event for c and keeps k up to date. */
static void
on_event(int ep, struct conn *c, uint32_t events, struct counts *k)
{
    if (c->phase == CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        k->connecting--;
        if (err != 0) {
            report_error(ep, c, err);
            k->open--;
            return;
        }
        c->phase = SENDING;
        k->sending++;
    }
    if (c->phase == SENDING) {
        int r = send_request(c);
        if (r != 0)
            k->sending--;
        if (r < 0) {
            report_error(ep, c, errno);
            k->open--;
        } else if (r == 1) {
            c->phase = READING;
            k->sent++;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        return;
    }
    if (c->phase == READING && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        read_response(ep, c);
        if (c->phase == ENDED)
            k->open--;
    }
}

int
main(int argc, char **argv)
{
    long lport, per, deadline;
    if (argc != 5 || parse_int(argv[1], 1, 65535, &lport) != 0 ||
        parse_int(argv[3], 1, 10000, &per) != 0 || parse_int(argv[4], 1, 3600, &deadline) != 0) {
        fprintf(stderr, "usage: waiters PORT API_KEY PER_ACCOUNT DEADLINE_S < ids\n");
        return 2;
    }
    port = (int)lport;
    api_key = argv[2];
    if (strlen(api_key) > 200 || read_ids() != 0) {
        fprintf(stderr, "waiters: bad API key or account ids on stdin\n");
        return 2;
    }
    if ((long)nids * per > MAX_SOCKETS) {
        fprintf(stderr, "waiters: at most %d sockets\n", MAX_SOCKETS);
        return 2;
    }
    raise_fd_limit();
    nconns = nids * (int)per;
    conns = calloc((size_t)nconns, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || ep < 0) {
        fprintf(stderr, "waiters: out of memory\n");
        return 2;
    }
    for (int i = 0; i < nconns; i++)
        conns[i].id = i % nids;

    struct counts k = {0};
    int next = 0, announced = 0;
    double end = mono_s() + (double)deadline;
    struct epoll_event evs[256];
    while (mono_s() < end) {
        while (next < nconns && k.connecting < CONNECTING_MAX) {
            if (start_connect(ep, &conns[next++]) == 0) {
                k.connecting++;
                k.open++;
            }
        }
        if (!announced && next == nconns && k.connecting == 0 && k.sending == 0) {
            printf("sent %d\n", k.sent);
            announced = 1;
        }
        fflush(stdout);
        if (announced && k.open == 0)
            break;
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++)
            on_event(ep, evs[i].data.ptr, evs[i].events, &k);
    }
    if (k.open > 0)
        printf("timeout %d\n", k.open);
    else
        printf("done\n");
    return 0;
}
