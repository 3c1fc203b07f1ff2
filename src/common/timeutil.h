/* timeutil.h -- wall and monotonic clocks in milliseconds, ISO-8601 formatting. */
#ifndef TETHER_COMMON_TIMEUTIL_H
#define TETHER_COMMON_TIMEUTIL_H
#include <stdint.h>

int64_t time_now_ms(void);  /* wall clock, ms since the epoch */
int64_t time_mono_ms(void); /* monotonic, for durations and deadlines */
int64_t time_mono_us(void);
/* "2026-01-01T00:00:00.000Z" into out (size >= 25). */
void time_iso8601(int64_t ms, char *out);

#endif
