/*
 * cs_log — one JSON object per line on stderr (DESIGN.md §8).
 *
 * Every line carries time, level, service, instance, trace id and message.
 * Messages never carry personal data or secrets: callers log ids and numbers,
 * not names, addresses or tokens.
 */
#ifndef CS_LOG_H
#define CS_LOG_H
#include <stddef.h>

enum { CS_LOG_DEBUG = 0, CS_LOG_INFO, CS_LOG_WARN, CS_LOG_ERROR };

void cs_log_init(const char *service, const char *instance);
/* Set the trace id of the unit of work in hand, for this thread ("" clears). */
void cs_log_set_trace(const char *trace_id);
void cs_log_set_level(int level);
void cs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cs_debug(...) cs_log(CS_LOG_DEBUG, __VA_ARGS__)
#define cs_info(...) cs_log(CS_LOG_INFO, __VA_ARGS__)
#define cs_warn(...) cs_log(CS_LOG_WARN, __VA_ARGS__)
#define cs_error(...) cs_log(CS_LOG_ERROR, __VA_ARGS__)

/* Fill a caller's error buffer (err may be NULL or errlen 0: then nothing).
   The convention of every function that reports "what is wrong" to its caller. */
void cs_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Append s to buf as the inside of a JSON string (no quotes), bounded by size.
   Returns the number of bytes written (excluding NUL). */
size_t cs_json_escape(char *buf, size_t size, const char *s);

#endif
