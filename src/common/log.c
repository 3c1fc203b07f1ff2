/* log.c -- structured log lines for log.h. Each call formats its whole line in a local buffer and
 * hands it to the kernel in one write(2), so lines from different threads never interleave. */
#include "common/log.h"
#include "common/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static volatile int log_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_set_level(enum log_level min)
{
    __atomic_store_n(&log_min, (int)min, __ATOMIC_RELAXED);
}

static int
is_bare(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\')
            return 0;
    }
    return 1;
}

/* Writes the escaped form of byte c into tmp; returns its length (1, 2 or 4). */
static unsigned
escape_byte(unsigned char c, char tmp[4])
{
    static const char hex[] = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        tmp[0] = '\\';
        tmp[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c >= 0x7f) {
        tmp[0] = '\\';
        tmp[1] = 'x';
        tmp[2] = hex[c >> 4];
        tmp[3] = hex[c & 15];
        return 4;
    }
    tmp[0] = (char)c;
    return 1;
}

static size_t
escaped_len(const unsigned char *p)
{
    char tmp[4];
    size_t n = 0;
    for (; *p; p++)
        n += escape_byte(*p, tmp);
    return n;
}

/* The result is always wrapped in double quotes. A value that does not fit is cut between escape
 * sequences (never inside one) and ends in ... before the closing quote. outlen < 3 has no room
 * for the quotes: out becomes "". A NULL s prints as "". */
char *
log_quote(const char *s, char *out, unsigned outlen)
{
    if (outlen == 0)
        return out;
    if (outlen < 3) {
        out[0] = '\0';
        return out;
    }
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t room = outlen - 3; /* bytes between the quotes */
    int cut = escaped_len(p) > room;
    size_t limit = cut ? (room > 3 ? room - 3 : 0) : room;
    size_t n = 0;
    out[n++] = '"';
    for (; *p; p++) {
        char tmp[4];
        unsigned k = escape_byte(*p, tmp);
        if (n - 1 + k > limit)
            break;
        memcpy(out + n, tmp, k);
        n += k;
    }
    for (int i = 0; cut && i < 3 && n - 1 < room; i++)
        out[n++] = '.';
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* Replaces control bytes in line[0..n) with spaces so a caller's kv cannot forge extra lines. */
static void
scrub_controls(char *line, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = ' ';
}

/* kv may be NULL for a line without key=value pairs. A msg that is not a bare word is quoted.
 * Lines longer than LOG_LINE_MAX are cut. */
void
log_msg(enum log_level level, const char *msg, const char *kv, ...)
{
    if ((int)level < __atomic_load_n(&log_min, __ATOMIC_RELAXED))
        return;
    if ((unsigned)level > LOG_ERROR)
        level = LOG_ERROR;
    char line[LOG_LINE_MAX];
    char ts[25];
    char qmsg[512];
    time_iso8601(time_now_ms(), ts);
    if (msg == NULL)
        msg = "";
    const char *m = is_bare(msg) ? msg : log_quote(msg, qmsg, sizeof(qmsg));
    int n = snprintf(line, sizeof(line), "ts=%s level=%s msg=%s", ts, level_names[level], m);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    if (kv != NULL && *kv != '\0' && len < sizeof(line) - 3) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, kv);
        int k = vsnprintf(line + len, sizeof(line) - 1 - len, kv, ap);
        va_end(ap);
        if (k > 0)
            len += (size_t)k < sizeof(line) - 2 - len ? (size_t)k : sizeof(line) - 2 - len;
    }
    scrub_controls(line, len);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
