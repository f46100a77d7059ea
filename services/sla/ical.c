/*
 * ical — holidays from iCalendar (see ical.h for what is accepted and why).
 *
 * One pass over the bytes: physical lines are unfolded into a fixed buffer
 * (no allocation, whatever the input), each content line is split into its
 * name, parameters and value, and a small stack of open components keeps
 * the BEGIN/END pairs honest. Only properties of a VEVENT directly inside a
 * VCALENDAR matter; those of nested components (VALARM) and of any other
 * component are read for shape and then ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ical.h"
#include "zone.h"

#define S_DEPTH_MAX 8
#define S_COMPONENT_MAX 32

typedef struct {
    int have;
    int is_date; /* VALUE=DATE or an 8-digit value */
    int64_t day;
    int line;
} s_when_t;

typedef struct {
    char stack[S_DEPTH_MAX][S_COMPONENT_MAX];
    int depth;
    int calendars;
    int events;
    /* the VEVENT being read */
    s_when_t start, end;
    int64_t duration_days;
    int have_duration, recurring, cancelled;
    int event_line;
    sla_ical_days_fn fn;
    void *ctx;
    char *err;
    size_t err_size;
} s_reader_t;

static int s_fail(s_reader_t *r, int line, const char *what)
{
    if (r->err && r->err_size)
        snprintf(r->err, r->err_size, "line %d: %s", line, what);
    return -1;
}

/* YYYYMMDD, a real date. */
static int s_date(const char *v, size_t n, int64_t *day)
{
    if (n != 8)
        return -1;
    for (size_t i = 0; i < 8; i++)
        if (v[i] < '0' || v[i] > '9')
            return -1;
    int y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
    int m = (v[4] - '0') * 10 + (v[5] - '0'), d = (v[6] - '0') * 10 + (v[7] - '0');
    if (m < 1 || m > 12 || d < 1)
        return -1;
    int64_t first = sla_days_from_civil(y, m, 1);
    int64_t next = m == 12 ? sla_days_from_civil(y + 1, 1, 1) : sla_days_from_civil(y, m + 1, 1);
    if (d > next - first)
        return -1;
    *day = first + d - 1;
    return 0;
}

/* Does the parameter list say VALUE=DATE (or VALUE=DATE-TIME)? 1 date,
   0 date-time, -1 not said. Parameters were checked for shape already. */
static int s_value_param(const char *params, size_t n)
{
    const char *p = params, *end = params + n;
    while (p < end) {
        const char *semi = p;
        int quoted = 0;
        while (semi < end && (quoted || *semi != ';')) {
            if (*semi == '"')
                quoted = !quoted;
            semi++;
        }
        size_t len = (size_t)(semi - p);
        if (len == 10 && strncasecmp(p, "VALUE=DATE", 10) == 0)
            return 1;
        if (len == 15 && strncasecmp(p, "VALUE=DATE-TIME", 15) == 0)
            return 0;
        p = semi + 1;
    }
    return -1;
}

static int s_when(s_reader_t *r, s_when_t *w, const char *prop, const char *params, size_t np,
                  const char *v, size_t nv, int line)
{
    char what[96];
    if (w->have) {
        snprintf(what, sizeof(what), "%s given twice in one event", prop);
        return s_fail(r, line, what);
    }
    int kind = s_value_param(params, np);
    if (kind == 0 || memchr(v, 'T', nv)) {
        snprintf(what, sizeof(what),
                 "%s is a date-time; only all-day events (VALUE=DATE) can be holidays", prop);
        return s_fail(r, line, what);
    }
    if (s_date(v, nv, &w->day) < 0) {
        snprintf(what, sizeof(what), "%s is not a date YYYYMMDD", prop);
        return s_fail(r, line, what);
    }
    w->have = 1;
    w->is_date = 1;
    w->line = line;
    return 0;
}

/* DURATION of whole days or weeks: P3D, P1W, P1W2D is not RFC 5545. */
static int s_duration(s_reader_t *r, const char *v, size_t n, int line)
{
    if (r->have_duration)
        return s_fail(r, line, "DURATION given twice in one event");
    if (n < 3 || n > 8 || v[0] != 'P' || (v[n - 1] != 'D' && v[n - 1] != 'W'))
        return s_fail(r, line,
                      "DURATION of an all-day event must be whole days or weeks (P3D, P1W)");
    int64_t k = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return s_fail(r, line,
                          "DURATION of an all-day event must be whole days or weeks (P3D, P1W)");
        k = k * 10 + (v[i] - '0');
    }
    r->duration_days = v[n - 1] == 'W' ? k * 7 : k;
    r->have_duration = 1;
    return 0;
}

static void s_event_reset(s_reader_t *r, int line)
{
    memset(&r->start, 0, sizeof(r->start));
    memset(&r->end, 0, sizeof(r->end));
    r->duration_days = 0;
    r->have_duration = r->recurring = r->cancelled = 0;
    r->event_line = line;
}

static int s_event_end(s_reader_t *r, int line)
{
    if (r->cancelled)
        return 0;
    if (!r->start.have)
        return s_fail(r, line, "event without DTSTART");
    if (r->recurring)
        return s_fail(r, line,
                      "recurring events (RRULE/RDATE) are not supported; list each holiday");
    if (r->end.have && r->have_duration)
        return s_fail(r, line, "event with both DTEND and DURATION");
    int64_t to = r->start.day + 1;
    if (r->end.have)
        to = r->end.day;
    else if (r->have_duration)
        to = r->start.day + r->duration_days;
    if (to <= r->start.day)
        return s_fail(r, line, "event ends before it starts (DTEND is exclusive)");
    if (to - r->start.day > 366)
        return s_fail(r, line, "event longer than 366 days");
    if (++r->events > SLA_ICAL_EVENTS_MAX)
        return s_fail(r, line, "more than 10000 events");
    if (r->fn && r->fn(r->ctx, r->start.day, to) < 0)
        return -1;
    return 0;
}

static int s_is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int s_begin_end(s_reader_t *r, int begin, const char *v, size_t n, int line)
{
    if (!n || n >= S_COMPONENT_MAX)
        return s_fail(r, line, "BEGIN/END without a component name");
    for (size_t i = 0; i < n; i++)
        if (!s_is_name_char(v[i]))
            return s_fail(r, line, "BEGIN/END with a malformed component name");
    if (begin) {
        if (r->depth == 0 && !(n == 9 && strncasecmp(v, "VCALENDAR", 9) == 0))
            return s_fail(r, line, "the file must begin with BEGIN:VCALENDAR");
        if (r->depth > 0 && n == 9 && strncasecmp(v, "VCALENDAR", 9) == 0)
            return s_fail(r, line, "VCALENDAR inside a component");
        if (r->depth == S_DEPTH_MAX)
            return s_fail(r, line, "components nested too deeply");
        memcpy(r->stack[r->depth], v, n);
        r->stack[r->depth][n] = '\0';
        r->depth++;
        if (r->depth == 1)
            r->calendars++;
        if (r->depth == 2 && n == 6 && strncasecmp(v, "VEVENT", 6) == 0)
            s_event_reset(r, line);
        return 0;
    }
    if (!r->depth || strlen(r->stack[r->depth - 1]) != n ||
        strncasecmp(r->stack[r->depth - 1], v, n) != 0)
        return s_fail(r, line, "END does not match the open BEGIN");
    r->depth--;
    if (r->depth == 1 && n == 6 && strncasecmp(v, "VEVENT", 6) == 0)
        return s_event_end(r, line);
    return 0;
}

/* name *(";" param) ":" value, with quoted parameter values. */
static int s_content_line(s_reader_t *r, const char *s, size_t n, int line)
{
    size_t i = 0;
    while (i < n && s_is_name_char(s[i]))
        i++;
    if (!i)
        return s_fail(r, line, "not a content line (name:value)");
    const char *name = s;
    size_t nname = i;
    const char *params = s + i;
    int quoted = 0;
    while (i < n && (quoted || s[i] != ':')) {
        if (s[i] == '"')
            quoted = !quoted;
        i++;
    }
    if (i == n || quoted || (params < s + i && *params != ';'))
        return s_fail(r, line, "not a content line (name;params:value)");
    size_t nparams = (size_t)(s + i - params);
    if (nparams)
        params++, nparams--;
    const char *v = s + i + 1;
    size_t nv = n - i - 1;

    if (nname == 5 && strncasecmp(name, "BEGIN", 5) == 0)
        return s_begin_end(r, 1, v, nv, line);
    if (nname == 3 && strncasecmp(name, "END", 3) == 0)
        return s_begin_end(r, 0, v, nv, line);
    if (r->depth == 0)
        return s_fail(r, line, "content outside BEGIN:VCALENDAR … END:VCALENDAR");
    if (r->depth != 2 || strcasecmp(r->stack[1], "VEVENT") != 0)
        return 0;
    if (nname == 7 && strncasecmp(name, "DTSTART", 7) == 0)
        return s_when(r, &r->start, "DTSTART", params, nparams, v, nv, line);
    if (nname == 5 && strncasecmp(name, "DTEND", 5) == 0)
        return s_when(r, &r->end, "DTEND", params, nparams, v, nv, line);
    if (nname == 8 && strncasecmp(name, "DURATION", 8) == 0)
        return s_duration(r, v, nv, line);
    if ((nname == 5 && strncasecmp(name, "RRULE", 5) == 0) ||
        (nname == 5 && strncasecmp(name, "RDATE", 5) == 0))
        r->recurring = 1;
    if (nname == 6 && strncasecmp(name, "STATUS", 6) == 0 && nv == 9 &&
        strncasecmp(v, "CANCELLED", 9) == 0)
        r->cancelled = 1;
    return 0;
}

static int s_check_bytes(s_reader_t *r, const char *s, size_t n, int line)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return s_fail(r, line, c == '\r' ? "a bare carriage return" : "a control character");
    }
    return 0;
}

int sla_ical_holidays(const char *text, size_t len, sla_ical_days_fn fn, void *ctx, char *err,
                      size_t err_size)
{
    s_reader_t r = {.fn = fn, .ctx = ctx, .err = err, .err_size = err_size};
    if (!text)
        return s_fail(&r, 0, "no iCalendar text");
    if (len > SLA_ICAL_MAX_BYTES)
        return s_fail(&r, 0, "iCalendar file larger than 1 MiB");
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3; /* a UTF-8 byte order mark */
    char buf[SLA_ICAL_LINE_MAX];
    size_t have = 0;
    int logical_line = 0, open = 0;
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (s_check_bytes(&r, line, n, lineno) < 0)
            return -1;
        if (n && (line[0] == ' ' || line[0] == '\t')) { /* folded: continues the last line */
            if (!open)
                return s_fail(&r, lineno, "a folded continuation without a line before it");
            if (have + n - 1 > sizeof(buf))
                return s_fail(&r, logical_line, "an unfolded line longer than 8 KiB");
            memcpy(buf + have, line + 1, n - 1);
            have += n - 1;
            continue;
        }
        if (open && have && s_content_line(&r, buf, have, logical_line) < 0)
            return -1;
        if (n > sizeof(buf))
            return s_fail(&r, lineno, "a line longer than 8 KiB");
        memcpy(buf, line, n);
        have = n;
        open = 1;
        logical_line = lineno;
    }
    if (open && have && s_content_line(&r, buf, have, logical_line) < 0)
        return -1;
    if (!r.calendars)
        return s_fail(&r, lineno, "no BEGIN:VCALENDAR");
    if (r.depth)
        return s_fail(&r, lineno, "the file ends inside a component (missing END)");
    return r.events;
}

/* ---- as definition text ---------------------------------------------------------- */

typedef struct {
    char *text;
    size_t len, cap;
    const char *note;
    char *err;
    size_t err_size;
} s_lines_t;

static int s_line_of(void *arg, int64_t from_day, int64_t to_day_excl)
{
    s_lines_t *out = arg;
    int64_t y[2];
    int m[2], d[2];
    sla_civil_from_days(from_day, &y[0], &m[0], &d[0]);
    sla_civil_from_days(to_day_excl - 1, &y[1], &m[1], &d[1]);
    if (y[0] < 1971 || y[1] > 2199) {
        snprintf(out->err, out->err_size, "a holiday outside the years 1971..2199");
        return -1;
    }
    /* At most 10 000 events of one line each (ical.h): the buffer is
       bounded by the event limit, never by the file's say-so. */
    char line[160];
    int n = snprintf(line, sizeof(line), "holiday %04d-%02d-%02d..%04d-%02d-%02d %s\n", (int)y[0],
                     m[0], d[0], (int)y[1], m[1], d[1], out->note);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        snprintf(out->err, out->err_size, "note too long");
        return -1;
    }
    if (out->len + (size_t)n + 1 > out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 4096;
        char *grown = realloc(out->text, cap);
        if (!grown) {
            snprintf(out->err, out->err_size, "out of memory");
            return -1;
        }
        out->text = grown;
        out->cap = cap;
    }
    memcpy(out->text + out->len, line, (size_t)n + 1);
    out->len += (size_t)n;
    return 0;
}

char *sla_ical_definition(const char *text, size_t len, const char *note, int *events, char *err,
                          size_t err_size)
{
    s_lines_t out = {.note = note ? note : "", .err = err, .err_size = err_size};
    if (strlen(out.note) > 80 || strpbrk(out.note, "\r\n#")) {
        snprintf(err, err_size, "note: at most 80 bytes on one line, no '#'");
        return NULL;
    }
    int n = sla_ical_holidays(text, len, s_line_of, &out, err, err_size);
    if (n < 0) {
        free(out.text);
        return NULL;
    }
    if (!out.text && !(out.text = calloc(1, 1))) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (events)
        *events = n;
    return out.text;
}
