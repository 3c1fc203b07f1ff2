/* timeutil.c -- clocks and ISO-8601 formatting for timeutil.h. */
#include "common/timeutil.h"

#include <time.h>

static int64_t
clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
time_now_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000;
}

int64_t
time_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t
time_mono_us(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000;
}

/* Writes v as exactly width decimal digits, zero-padded (v is in range by construction). */
static void
put_digits(char *out, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Always writes 24 characters and a NUL. Times before the epoch or past year 9999 clamp to those
 * bounds so the width never changes. */
void
time_iso8601(int64_t ms, char *out)
{
    const int64_t max_ms = 253402300799999; /* 9999-12-31T23:59:59.999Z */
    if (ms < 0)
        ms = 0;
    if (ms > max_ms)
        ms = max_ms;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    put_digits(out, tm.tm_year + 1900, 4);
    out[4] = '-';
    put_digits(out + 5, tm.tm_mon + 1, 2);
    out[7] = '-';
    put_digits(out + 8, tm.tm_mday, 2);
    out[10] = 'T';
    put_digits(out + 11, tm.tm_hour, 2);
    out[13] = ':';
    put_digits(out + 14, tm.tm_min, 2);
    out[16] = ':';
    put_digits(out + 17, tm.tm_sec, 2);
    out[19] = '.';
    put_digits(out + 20, (int)(ms % 1000), 3);
    out[23] = 'Z';
    out[24] = '\0';
}
