/* test_common_log.c -- structured log lines (log.h) and clocks/formatting (timeutil.h). */
#include "common/log.h"
#include "common/timeutil.h"
#include "harness/test.h"

#include <pthread.h>
#include <unistd.h>

/* Runs fn with stderr sent to a temp file; returns what was written (free it). */
static char *
capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    if (f == NULL)
        return NULL;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(f), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    long n = ftell(f);
    if (n < 0)
        n = 0;
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

static void
emit_info(void)
{
    log_set_level(LOG_INFO);
    log_info("listening", "addr=%s port=%d", "127.0.0.1", 8080);
}

TEST(log_line_shape)
{
    char *s = capture(emit_info);
    ASSERT(s != NULL);
    ASSERT(strncmp(s, "ts=", 3) == 0);
    ASSERT_EQ(strlen(s), strlen("ts=2026-01-01T00:00:00.000Z level=info msg=listening "
                                "addr=127.0.0.1 port=8080\n"));
    ASSERT(s[26] == 'Z');
    ASSERT_STR(s + 27, " level=info msg=listening addr=127.0.0.1 port=8080\n");
    free(s);
}

static void
emit_filtered(void)
{
    log_set_level(LOG_WARN);
    log_info("hidden", "a=%d", 1);
    log_msg(LOG_DEBUG, "hidden", NULL);
    log_warn("shown", "b=%d", 2);
    log_error("also shown", NULL);
    log_set_level(LOG_INFO);
}

TEST(log_level_filter_and_quoted_msg)
{
    char *s = capture(emit_filtered);
    ASSERT(s != NULL);
    ASSERT(strstr(s, "hidden") == NULL);
    ASSERT(strstr(s, " level=warn msg=shown b=2\n") != NULL);
    ASSERT(strstr(s, " level=error msg=\"also shown\"\n") != NULL);
    free(s);
}

static void
emit_injection(void)
{
    log_info("x", "v=%s", "evil\nts=forged level=error");
}

TEST(log_kv_cannot_forge_lines)
{
    char *s = capture(emit_injection);
    ASSERT(s != NULL);
    ASSERT(strchr(s, '\n') == s + strlen(s) - 1);
    free(s);
}

static void
emit_long(void)
{
    char big[20000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_info("long", "v=%s", big);
}

TEST(log_long_line_is_cut_with_newline)
{
    char *s = capture(emit_long);
    ASSERT(s != NULL);
    size_t n = strlen(s);
    ASSERT(n <= 8192);
    ASSERT(n > 8000);
    ASSERT(s[n - 1] == '\n');
    free(s);
}

static void *
log_thread(void *arg)
{
    for (int i = 0; i < 200; i++)
        log_info("t", "thread=%d i=%d pad=%s", (int)(long)arg, i,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

static void
emit_threads(void)
{
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, log_thread, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}

TEST(log_lines_do_not_interleave)
{
    char *s = capture(emit_threads);
    ASSERT(s != NULL);
    int lines = 0;
    for (char *p = s, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        ASSERT(strncmp(p, "ts=", 3) == 0);
        ASSERT(strncmp(nl - 36, "pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 36) == 0);
        lines++;
    }
    ASSERT_EQ(lines, 800);
    free(s);
}

TEST(log_quote_escapes)
{
    char out[128];
    ASSERT_STR(log_quote("plain", out, sizeof(out)), "\"plain\"");
    ASSERT_STR(log_quote("a \"b\" \\c", out, sizeof(out)), "\"a \\\"b\\\" \\\\c\"");
    ASSERT_STR(log_quote("l1\nl2\r\t\x7f", out, sizeof(out)), "\"l1\\x0al2\\x0d\\x09\\x7f\"");
    ASSERT_STR(log_quote("caf\xc3\xa9", out, sizeof(out)), "\"caf\\xc3\\xa9\"");
    ASSERT_STR(log_quote("", out, sizeof(out)), "\"\"");
    ASSERT_STR(log_quote(NULL, out, sizeof(out)), "\"\"");
}

TEST(log_quote_truncates_safely)
{
    char out[12];
    ASSERT_STR(log_quote("abcdefghijklmnop", out, sizeof(out)), "\"abcdef...\"");
    ASSERT_STR(log_quote("abcdefghi", out, sizeof(out)), "\"abcdefghi\"");
    ASSERT_STR(log_quote("\n\n\n\n", out, sizeof(out)), "\"\\x0a...\"");
    ASSERT_STR(log_quote("\"\"\"\"\"", out, sizeof(out)), "\"\\\"\\\"\\\"...\"");
    char tiny[3];
    ASSERT_STR(log_quote("abc", tiny, sizeof(tiny)), "\"\"");
    char two[2];
    ASSERT_STR(log_quote("abc", two, sizeof(two)), "");
    char five[5];
    ASSERT_STR(log_quote("abcdef", five, sizeof(five)), "\"..\"");
}

TEST(log_quote_never_overflows)
{
    char s[256];
    for (int i = 0; i < 255; i++)
        s[i] = (char)(i + 1);
    s[255] = '\0';
    for (unsigned len = 0; len < 40; len++) {
        char out[48];
        memset(out, 'Z', sizeof(out));
        log_quote(s, out, len);
        ASSERT(out[len] == 'Z' || len >= sizeof(out));
        if (len > 0) {
            ASSERT(strlen(out) < len);
            for (char *p = out; *p; p++)
                ASSERT(*p >= 0x20 && *p < 0x7f);
        }
    }
}

TEST(time_iso8601_formats)
{
    char out[25];
    time_iso8601(0, out);
    ASSERT_STR(out, "1970-01-01T00:00:00.000Z");
    time_iso8601(1767225600000LL, out);
    ASSERT_STR(out, "2026-01-01T00:00:00.000Z");
    time_iso8601(1767225600000LL + 86399999LL, out);
    ASSERT_STR(out, "2026-01-01T23:59:59.999Z");
    time_iso8601(951782400123LL, out); /* leap day */
    ASSERT_STR(out, "2000-02-29T00:00:00.123Z");
    time_iso8601(-5, out);
    ASSERT_STR(out, "1970-01-01T00:00:00.000Z");
    time_iso8601(INT64_MAX, out);
    ASSERT_STR(out, "9999-12-31T23:59:59.999Z");
}

TEST(time_clocks_move_forward)
{
    int64_t now = time_now_ms();
    ASSERT(now > 1700000000000LL);
    int64_t m1 = time_mono_ms(), u1 = time_mono_us();
    usleep(2000);
    int64_t m2 = time_mono_ms(), u2 = time_mono_us();
    ASSERT(m2 >= m1 + 1);
    ASSERT(u2 >= u1 + 1500);
    ASSERT(u1 / 1000 >= m1 - 1);
}

TEST_MAIN()
