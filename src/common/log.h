/* log.h -- structured log lines on stderr: ts=... level=... msg=... key=value ...
 * Never pass secrets (tokens, codes, keys, client secrets): log an id or log_hint() instead. */
#ifndef TETHER_COMMON_LOG_H
#define TETHER_COMMON_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);
/* kv is a printf format for the key=value part; values with spaces must be quoted by the caller
 * (use log_quote for untrusted text). Pass NULL for no key=value part ("" trips -Wformat). */
void log_msg(enum log_level level, const char *msg, const char *kv, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies s into out as a safe log value: printable ASCII only, quotes and backslashes escaped,
 * cut at outlen-1. Returns out. */
char *log_quote(const char *s, char *out, unsigned outlen);

#define log_info(msg, ...) log_msg(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_msg(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_msg(LOG_ERROR, msg, __VA_ARGS__)

#endif
