/*
 * cs_log — JSON lines on stderr. One write(2) per line so that lines from
 * several threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>
#include "cs_log.h"

static char s_service[32] = "cs";
static char s_instance[48] = "";
static int s_level = CS_LOG_INFO;
static __thread char s_trace[64];

static const char *s_level_name[] = {"debug", "info", "warn", "error"};

void cs_log_init(const char *service, const char *instance)
{
    snprintf(s_service, sizeof(s_service), "%s", service ? service : "cs");
    snprintf(s_instance, sizeof(s_instance), "%s", instance ? instance : "");
}

void cs_log_set_trace(const char *trace_id)
{
    snprintf(s_trace, sizeof(s_trace), "%s", trace_id ? trace_id : "");
}

void cs_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void cs_log_set_level(int level)
{
    s_level = level;
}

size_t cs_json_escape(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    if (size == 0)
        return 0;
    for (; s && *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else if (c == '\r') {
            buf[n++] = '\\';
            buf[n++] = 'r';
        } else if (c == '\t') {
            buf[n++] = '\\';
            buf[n++] = 't';
        } else if (c < 0x20) {
            n += (size_t)snprintf(buf + n, size - n, "\\u%04x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n] = 0;
    return n;
}

void cs_log(int level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    if (level < 0 || level > CS_LOG_ERROR)
        level = CS_LOG_ERROR;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    char line[4096 + 512];
    char emsg[4096];
    cs_json_escape(emsg, sizeof(emsg), msg);
    int n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",\"service\":\"%s\","
                     "\"instance\":\"%s\",\"trace_id\":\"%s\",\"msg\":\"%s\"}\n",
                     ts, (int)(tv.tv_usec / 1000), s_level_name[level], s_service, s_instance,
                     s_trace, emsg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}
