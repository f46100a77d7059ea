/*
 * calendar — the SLA calendars behind one small interface (see calendar.h).
 *
 * Each kind of calendar supplies its two questions as function pointers:
 * 7×24, where working time is plain elapsed time, and business hours.
 *
 * A business calendar never precomputes a year: for any local day it knows
 * at once whether the day is a holiday or a make-up day (a sorted array,
 * binary search) and which intervals of wall-clock time are worked; the
 * zone turns those into instants. add() and between() walk day by day from
 * the start, so their cost is proportional to the calendar days spanned
 * (a resolution target of a few working days touches about ten), and both
 * give up beyond the calendar's years instead of looping for ever.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calendar.h"
#include "cs_db.h"
#include "ical.h"
#include "zone.h"

#define S_DAY_S 86400LL
#define S_DAY_MS 86400000LL
#define S_LINE_MAX 1024
#define S_RANGE_MAX 366

extern const cs_migration_t sla_calendar_files[];

typedef struct {
    int32_t from, to; /* seconds of the local day, from < to <= 86400 */
} s_span_t;

typedef struct {
    int32_t day;  /* local date, days since 1970-01-01 */
    char holiday; /* 1 holiday, 0 make-up working day */
    char as;      /* make-up day: whose hours (0..6) */
} s_date_t;

struct sla_calendar {
    char name[SLA_CALENDAR_NAME_MAX];
    int (*add)(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out);
    int64_t (*between)(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms);
    /* business hours only */
    sla_zone_t *zone;
    s_span_t hours[7][SLA_CALENDAR_SPANS_MAX];
    int nhours[7];
    s_date_t *dates; /* sorted by day, unique */
    size_t ndates;
};

static const char *const s_weekdays[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static void s_fail(char *err, size_t err_size, const char *what)
{
    if (err && err_size)
        snprintf(err, err_size, "%s", what);
}

/* The local dates a business calendar answers for. */
static int64_t s_day_min(void)
{
    return sla_days_from_civil(1971, 1, 1);
}
static int64_t s_day_max(void)
{
    return sla_days_from_civil(2200, 1, 1) - 1;
}

/* ---- 7×24 ----------------------------------------------------------------- */

static int s_7x24_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out)
{
    (void)self;
    if (work_ms < 0 || start_ms > INT64_MAX - work_ms)
        return -1;
    *out = start_ms + work_ms;
    return 0;
}

static int64_t s_7x24_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms)
{
    (void)self;
    if (to_ms <= from_ms)
        return 0;
    /* from_ms < to_ms, both int64: the difference can still overflow when
       they have opposite signs far apart; saturate rather than wrap. */
    if (from_ms < 0 && to_ms > INT64_MAX + from_ms)
        return INT64_MAX;
    return to_ms - from_ms;
}

/* ---- business hours: one day --------------------------------------------------- */

static const s_date_t *s_date_find(const sla_calendar_t *self, int64_t day)
{
    size_t lo = 0, hi = self->ndates;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->dates[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->ndates && self->dates[lo].day == day ? &self->dates[lo] : NULL;
}

/* Which weekday's hours local day `day` works: -1 for none (a holiday). */
static int s_day_hours(const sla_calendar_t *self, int64_t day)
{
    const s_date_t *d = s_date_find(self, day);
    if (d)
        return d->holiday ? -1 : d->as;
    return sla_weekday(day);
}

/* The working intervals of local day `day` as instants (ms), in order and
   not overlapping; the count. One offset lookup serves the whole day unless
   the zone changes offset within it. */
static int s_day_spans(const sla_calendar_t *self, int64_t day, int64_t out[][2])
{
    int wd = s_day_hours(self, day);
    if (wd < 0 || !self->nhours[wd])
        return 0;
    int64_t midnight = day * S_DAY_S;
    int64_t u0 = sla_zone_to_utc(self->zone, midnight), until;
    int32_t off = sla_zone_offset(self->zone, u0, &until);
    int n = 0;
    for (int i = 0; i < self->nhours[wd]; i++) {
        int64_t at[2], local[2] = {midnight + self->hours[wd][i].from,
                                   midnight + self->hours[wd][i].to};
        for (int k = 0; k < 2; k++) {
            int64_t u = local[k] - off;
            at[k] = (u >= u0 && u < until) ? u : sla_zone_to_utc(self->zone, local[k]);
        }
        if (n && at[0] < out[n - 1][1] / 1000)
            at[0] = out[n - 1][1] / 1000; /* a fall-back hour counted once */
        if (at[1] <= at[0])
            continue; /* wholly inside a spring-forward gap */
        out[n][0] = at[0] * 1000;
        out[n][1] = at[1] * 1000;
        n++;
    }
    return n;
}

/* The local day of instant ms. */
static int64_t s_local_day(const sla_calendar_t *self, int64_t ms)
{
    int64_t s = sla_floor_div(ms, 1000);
    return sla_floor_div(s + sla_zone_offset(self->zone, s, NULL), S_DAY_S);
}

int64_t sla_calendar_day_ms(const sla_calendar_t *self, int64_t day)
{
    if (!self->zone)
        return S_DAY_MS;
    if (day < s_day_min() || day > s_day_max())
        return 0;
    int64_t spans[SLA_CALENDAR_SPANS_MAX][2], sum = 0;
    int n = s_day_spans(self, day, spans);
    for (int i = 0; i < n; i++)
        sum += spans[i][1] - spans[i][0];
    return sum;
}

/* ---- business hours: the two questions ------------------------------------------- */

static int s_biz_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out)
{
    if (work_ms < 0)
        return -1;
    if (work_ms == 0) {
        *out = start_ms;
        return 0;
    }
    /* Bound the instant before any arithmetic on it (year 1971 … 2199). */
    if (start_ms < 31536000000LL || start_ms > 7258118400000LL)
        return -1;
    int64_t day = s_local_day(self, start_ms) - 1, last = s_day_max();
    if (day < s_day_min() - 1 || work_ms / S_DAY_MS > last - day)
        return -1; /* more working time than the calendar's days could hold */
    for (; day <= last; day++) {
        int64_t spans[SLA_CALENDAR_SPANS_MAX][2];
        int n = s_day_spans(self, day, spans);
        for (int i = 0; i < n; i++) {
            if (spans[i][1] <= start_ms)
                continue;
            int64_t from = spans[i][0] > start_ms ? spans[i][0] : start_ms;
            if (work_ms <= spans[i][1] - from) {
                *out = from + work_ms;
                return 0;
            }
            work_ms -= spans[i][1] - from;
        }
    }
    return -1;
}

static int64_t s_biz_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms)
{
    const int64_t lo = 31536000000LL, hi = 7258118400000LL; /* 1971 … 2200 */
    if (from_ms < lo)
        from_ms = lo;
    if (to_ms > hi)
        to_ms = hi;
    if (to_ms <= from_ms)
        return 0;
    int64_t first = s_local_day(self, from_ms) - 1, last = s_local_day(self, to_ms) + 1, sum = 0;
    if (first < s_day_min())
        first = s_day_min();
    if (last > s_day_max())
        last = s_day_max();
    for (int64_t day = first; day <= last; day++) {
        int64_t spans[SLA_CALENDAR_SPANS_MAX][2];
        int n = s_day_spans(self, day, spans);
        for (int i = 0; i < n; i++) {
            int64_t a = spans[i][0] > from_ms ? spans[i][0] : from_ms;
            int64_t b = spans[i][1] < to_ms ? spans[i][1] : to_ms;
            if (b > a)
                sum += b - a;
        }
    }
    return sum;
}

/* ---- construction ---------------------------------------------------------------- */

static int s_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!n || n >= SLA_CALENDAR_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

sla_calendar_t *sla_calendar_new_7x24(void)
{
    sla_calendar_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    snprintf(self->name, sizeof(self->name), "7x24");
    self->add = s_7x24_add;
    self->between = s_7x24_between;
    return self;
}

sla_calendar_t *sla_calendar_new_business(const char *name, const char *zone, char *err,
                                          size_t err_size)
{
    if (!s_name_ok(name)) {
        s_fail(err, err_size, "calendar name: 1 to 63 letters, digits, '-', '_' or '.'");
        return NULL;
    }
    char why[200] = "";
    sla_zone_t *z = sla_zone_load(NULL, zone ? zone : SLA_CALENDAR_DEFAULT_ZONE, why, sizeof(why));
    if (!z) {
        s_fail(err, err_size, why);
        return NULL;
    }
    sla_calendar_t *self = calloc(1, sizeof(*self));
    if (!self) {
        sla_zone_destroy(&z);
        s_fail(err, err_size, "out of memory");
        return NULL;
    }
    snprintf(self->name, sizeof(self->name), "%s", name);
    self->zone = z;
    self->add = s_biz_add;
    self->between = s_biz_between;
    return self;
}

void sla_calendar_destroy(sla_calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sla_zone_destroy(&(*self_p)->zone);
    free((*self_p)->dates);
    free(*self_p);
    *self_p = NULL;
}

const char *sla_calendar_name(const sla_calendar_t *self)
{
    return self->name;
}

const char *sla_calendar_zone(const sla_calendar_t *self)
{
    return self->zone ? sla_zone_name(self->zone) : NULL;
}

int sla_calendar_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out)
{
    return self->add(self, start_ms, work_ms, out);
}

int64_t sla_calendar_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms)
{
    return self->between(self, from_ms, to_ms);
}

/* ---- hours and dates ---------------------------------------------------------------- */

/* "HH:MM" exactly, 00:00..24:00; seconds of the day. */
static int s_parse_time(const char *s, size_t n, int32_t *out)
{
    if (n != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m))
        return -1;
    *out = h * 3600 + m * 60;
    return 0;
}

/* Whitespace-separated "HH:MM-HH:MM" intervals, ascending, not overlapping. */
static int s_parse_spans(const char *text, s_span_t *spans, int *count, char *err, size_t err_size)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \t");
        int32_t a, b;
        if (len != 11 || p[5] != '-' || s_parse_time(p, 5, &a) < 0 ||
            s_parse_time(p + 6, 5, &b) < 0 || a >= b) {
            snprintf(err, err_size, "not a working interval HH:MM-HH:MM: %.*s",
                     (int)(len > 40 ? 40 : len), p);
            return -1;
        }
        if (n == SLA_CALENDAR_SPANS_MAX) {
            snprintf(err, err_size, "more than %d working intervals in a day",
                     SLA_CALENDAR_SPANS_MAX);
            return -1;
        }
        if (n && a < spans[n - 1].to) {
            snprintf(err, err_size, "working intervals out of order or overlapping: %.*s",
                     (int)len, p);
            return -1;
        }
        spans[n++] = (s_span_t){a, b};
        p += len;
    }
    *count = n;
    return 0;
}

int sla_calendar_set_hours(sla_calendar_t *self, int weekday, const char *spans, char *err,
                           size_t err_size)
{
    s_span_t parsed[SLA_CALENDAR_SPANS_MAX];
    int n;
    if (!self->zone) {
        s_fail(err, err_size, "the 7x24 calendar has no hours to set");
        return -1;
    }
    if (weekday < 0 || weekday > 6 || !spans) {
        s_fail(err, err_size, "weekday must be 0 (Monday) to 6 (Sunday)");
        return -1;
    }
    if (s_parse_spans(spans, parsed, &n, err, err_size) < 0)
        return -1;
    memcpy(self->hours[weekday], parsed, sizeof(parsed[0]) * (size_t)n);
    self->nhours[weekday] = n;
    return 0;
}

/* "YYYY-MM-DD", a real date in 1971..2199; days since the epoch. */
static int s_parse_date(const char *s, size_t n, int64_t *day)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int v[10];
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v[i] = s[i] - '0';
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    int m = v[5] * 10 + v[6], d = v[8] * 10 + v[9];
    if (y < 1971 || y > 2199 || m < 1 || m > 12 || d < 1)
        return -1;
    int64_t day0 = sla_days_from_civil(y, m, 1);
    int64_t next = m == 12 ? sla_days_from_civil(y + 1, 1, 1) : sla_days_from_civil(y, m + 1, 1);
    if (d > next - day0)
        return -1;
    *day = day0 + d - 1;
    return 0;
}

/* Record day as a holiday or a make-up day, keeping the array sorted. The
   same statement twice is harmless; a day both off and on is an error. */
static int s_date_put(sla_calendar_t *self, int64_t day, int holiday, int as, char *err,
                      size_t err_size)
{
    size_t lo = 0, hi = self->ndates;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->dates[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < self->ndates && self->dates[lo].day == day) {
        s_date_t *d = &self->dates[lo];
        if (d->holiday != holiday) {
            int64_t y;
            int m, dd;
            sla_civil_from_days(day, &y, &m, &dd);
            snprintf(err, err_size, "%04d-%02d-%02d is both a holiday and a make-up working day",
                     (int)y, m, dd);
            return -1;
        }
        d->as = (char)as;
        return 0;
    }
    if (self->ndates >= SLA_CALENDAR_DATES_MAX) {
        snprintf(err, err_size, "more than %d holidays and make-up days", SLA_CALENDAR_DATES_MAX);
        return -1;
    }
    /* Grow in steps of 64: a year of one country is about 40 entries. */
    if (self->ndates % 64 == 0) {
        s_date_t *grown = realloc(self->dates, (self->ndates + 64) * sizeof(*grown));
        if (!grown) {
            s_fail(err, err_size, "out of memory");
            return -1;
        }
        self->dates = grown;
    }
    memmove(self->dates + lo + 1, self->dates + lo, (self->ndates - lo) * sizeof(*self->dates));
    self->dates[lo] = (s_date_t){(int32_t)day, (char)holiday, (char)as};
    self->ndates++;
    return 0;
}

static int s_holiday_range(sla_calendar_t *self, int64_t from, int64_t to, char *err,
                           size_t err_size)
{
    if (to < from || to - from >= S_RANGE_MAX) {
        s_fail(err, err_size, "a holiday range runs forward and spans at most 366 days");
        return -1;
    }
    for (int64_t d = from; d <= to; d++)
        if (s_date_put(self, d, 1, 0, err, err_size) < 0)
            return -1;
    return 0;
}

int sla_calendar_add_holidays(sla_calendar_t *self, const char *from, const char *to, char *err,
                              size_t err_size)
{
    int64_t a, b;
    if (!self->zone) {
        s_fail(err, err_size, "the 7x24 calendar has no holidays");
        return -1;
    }
    if (!from || s_parse_date(from, strlen(from), &a) < 0 ||
        s_parse_date(to ? to : from, strlen(to ? to : from), &b) < 0) {
        s_fail(err, err_size, "dates are YYYY-MM-DD in 1971..2199");
        return -1;
    }
    return s_holiday_range(self, a, b, err, err_size);
}

int sla_calendar_add_workday(sla_calendar_t *self, const char *date, int as_weekday, char *err,
                             size_t err_size)
{
    int64_t day;
    if (!self->zone) {
        s_fail(err, err_size, "the 7x24 calendar has no make-up days");
        return -1;
    }
    if (!date || s_parse_date(date, strlen(date), &day) < 0) {
        s_fail(err, err_size, "dates are YYYY-MM-DD in 1971..2199");
        return -1;
    }
    if (as_weekday < -1 || as_weekday > 4) {
        s_fail(err, err_size, "a make-up day works the hours of a weekday, Monday to Friday");
        return -1;
    }
    return s_date_put(self, day, 0, as_weekday < 0 ? 0 : as_weekday, err, err_size);
}

/* ---- iCalendar --------------------------------------------------------------------- */

typedef struct {
    sla_calendar_t *calendar;
    int days;
    char *err;
    size_t err_size;
} s_ical_ctx_t;

static int s_ical_day(void *arg, int64_t from_day, int64_t to_day_excl)
{
    s_ical_ctx_t *ctx = arg;
    if (from_day < s_day_min() || to_day_excl - 1 > s_day_max()) {
        s_fail(ctx->err, ctx->err_size, "a holiday outside 1971..2199");
        return -1;
    }
    if (s_holiday_range(ctx->calendar, from_day, to_day_excl - 1, ctx->err, ctx->err_size) < 0)
        return -1;
    ctx->days += (int)(to_day_excl - from_day);
    return 0;
}

int sla_calendar_import_ical(sla_calendar_t *self, const char *text, size_t len, char *err,
                             size_t err_size)
{
    if (!self->zone) {
        s_fail(err, err_size, "the 7x24 calendar has no holidays");
        return -1;
    }
    /* All or nothing: a file rejected half-way leaves the calendar as it was. */
    s_date_t *saved = NULL;
    size_t nsaved = self->ndates;
    if (nsaved) {
        saved = malloc(nsaved * sizeof(*saved));
        if (!saved) {
            s_fail(err, err_size, "out of memory");
            return -1;
        }
        memcpy(saved, self->dates, nsaved * sizeof(*saved));
    }
    s_ical_ctx_t ctx = {self, 0, err, err_size};
    int rc = sla_ical_holidays(text, len, s_ical_day, &ctx, err, err_size);
    if (rc < 0) {
        if (nsaved)
            memcpy(self->dates, saved, nsaved * sizeof(*saved));
        self->ndates = nsaved;
    }
    free(saved);
    return rc < 0 ? -1 : ctx.days;
}

/* ---- the definition language ---------------------------------------------------------- */

const char *sla_calendar_data(const char *name)
{
    if (!name)
        return NULL;
    size_t n = strlen(name);
    for (const cs_migration_t *f = sla_calendar_files; f->name; f++)
        if (strncmp(f->name, name, n) == 0 && strcmp(f->name + n, ".txt") == 0)
            return f->sql;
    return NULL;
}

typedef struct {
    const char *p, *end;
} s_cursor_t;

/* The next whitespace-separated word of a line. */
static int s_word(s_cursor_t *c, const char **w, size_t *n)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
    if (c->p >= c->end)
        return 0;
    *w = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    *n = (size_t)(c->p - *w);
    return 1;
}

static int s_weekday_of(const char *w, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (n == 3 && strncmp(w, s_weekdays[i], 3) == 0)
            return i;
    return -1;
}

/* "mon-fri", "sat", "mon,wed,fri", "mon-wed,sat": a bit per weekday. */
static int s_parse_days(const char *w, size_t n, int *mask)
{
    *mask = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && w[j] != ',')
            j++;
        int a, b;
        if (j - i == 3) {
            a = b = s_weekday_of(w + i, 3);
        } else if (j - i == 7 && w[i + 3] == '-') {
            a = s_weekday_of(w + i, 3);
            b = s_weekday_of(w + i + 4, 3);
        } else {
            return -1;
        }
        if (a < 0 || b < 0 || b < a)
            return -1;
        for (int d = a; d <= b; d++)
            *mask |= 1 << d;
        i = j + 1;
        if (j < n && i == n)
            return -1; /* trailing comma */
    }
    return *mask ? 0 : -1;
}

typedef struct {
    sla_calendar_t *calendar;
    char zone[SLA_ZONE_NAME_MAX];
    int seen_zone;
} s_parse_t;

static int s_stmt_hours(s_parse_t *ps, s_cursor_t *c, char *err, size_t err_size)
{
    const char *w;
    size_t n;
    int mask;
    if (!s_word(c, &w, &n) || s_parse_days(w, n, &mask) < 0) {
        s_fail(err, err_size, "hours: name the days (mon..sun, a range mon-fri, a list sat,sun)");
        return -1;
    }
    char spans[S_LINE_MAX] = "";
    s_cursor_t probe = *c;
    if (!s_word(&probe, &w, &n)) {
        s_fail(err, err_size, "hours: give intervals HH:MM-HH:MM, or 'closed'");
        return -1;
    }
    int closed = n == 6 && strncmp(w, "closed", 6) == 0;
    if (closed && s_word(&probe, &w, &n)) {
        s_fail(err, err_size, "hours: 'closed' stands alone");
        return -1;
    }
    if (!closed) {
        size_t len = (size_t)(c->end - c->p);
        memcpy(spans, c->p, len); /* len < S_LINE_MAX: the line was checked */
        spans[len] = '\0';
    }
    for (int d = 0; d < 7; d++)
        if ((mask & (1 << d)) && sla_calendar_set_hours(ps->calendar, d, spans, err, err_size) < 0)
            return -1;
    return 0;
}

static int s_stmt_holiday(s_parse_t *ps, s_cursor_t *c, char *err, size_t err_size)
{
    const char *w;
    size_t n;
    int64_t a, b;
    if (!s_word(c, &w, &n) || !((n == 10 && s_parse_date(w, 10, &a) == 0 && (b = a, 1)) ||
                                (n == 22 && w[10] == '.' && w[11] == '.' &&
                                 s_parse_date(w, 10, &a) == 0 && s_parse_date(w + 12, 10, &b) == 0))) {
        s_fail(err, err_size, "holiday: a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD");
        return -1;
    }
    return s_holiday_range(ps->calendar, a, b, err, err_size); /* the rest is a note */
}

static int s_stmt_workday(s_parse_t *ps, s_cursor_t *c, char *err, size_t err_size)
{
    const char *w;
    size_t n;
    int64_t day;
    int as = 0;
    if (!s_word(c, &w, &n) || s_parse_date(w, n, &day) < 0) {
        s_fail(err, err_size, "workday: a date YYYY-MM-DD");
        return -1;
    }
    s_cursor_t probe = *c;
    if (s_word(&probe, &w, &n) && n == 2 && strncmp(w, "as", 2) == 0) {
        if (!s_word(&probe, &w, &n) || (as = s_weekday_of(w, n)) < 0 || as > 4) {
            s_fail(err, err_size, "workday: 'as' names a weekday mon..fri");
            return -1;
        }
    }
    return s_date_put(ps->calendar, day, 0, as, err, err_size); /* the rest is a note */
}

static int s_parse_text(s_parse_t *ps, const char *origin, const char *text, size_t len,
                        int nested, char *err, size_t err_size);

static int s_stmt_include(s_parse_t *ps, s_cursor_t *c, char *err, size_t err_size)
{
    const char *w;
    size_t n;
    char name[SLA_CALENDAR_NAME_MAX];
    if (!s_word(c, &w, &n) || n >= sizeof(name)) {
        s_fail(err, err_size, "include: name an embedded holiday file, e.g. cn-2026");
        return -1;
    }
    memcpy(name, w, n);
    name[n] = '\0';
    const char *data = sla_calendar_data(name);
    if (!data) {
        snprintf(err, err_size, "include: no embedded holiday file named %s", name);
        return -1;
    }
    return s_parse_text(ps, name, data, strlen(data), 1, err, err_size);
}

static int s_stmt_zone(s_parse_t *ps, s_cursor_t *c, char *err, size_t err_size)
{
    const char *w;
    size_t n;
    if (ps->seen_zone) {
        s_fail(err, err_size, "zone: given twice");
        return -1;
    }
    if (!s_word(c, &w, &n) || n >= sizeof(ps->zone)) {
        s_fail(err, err_size, "zone: name an IANA time zone, e.g. Asia/Shanghai");
        return -1;
    }
    memcpy(ps->zone, w, n);
    ps->zone[n] = '\0';
    ps->seen_zone = 1;
    return 0;
}

/* One statement; nested (an included holiday file) allows dates only. */
static int s_statement(s_parse_t *ps, const char *line, size_t len, int nested, char *err,
                       size_t err_size)
{
    s_cursor_t c = {line, line + len};
    const char *w;
    size_t n;
    if (!s_word(&c, &w, &n))
        return 0;
    if (n == 7 && strncmp(w, "holiday", 7) == 0)
        return s_stmt_holiday(ps, &c, err, err_size);
    if (n == 7 && strncmp(w, "workday", 7) == 0)
        return s_stmt_workday(ps, &c, err, err_size);
    if (!nested && n == 5 && strncmp(w, "hours", 5) == 0)
        return s_stmt_hours(ps, &c, err, err_size);
    if (!nested && n == 4 && strncmp(w, "zone", 4) == 0)
        return s_stmt_zone(ps, &c, err, err_size);
    if (!nested && n == 7 && strncmp(w, "include", 7) == 0)
        return s_stmt_include(ps, &c, err, err_size);
    snprintf(err, err_size, "unknown statement '%.*s' (%s)", (int)(n > 20 ? 20 : n), w,
             nested ? "a holiday file has holiday and workday lines"
                    : "zone, hours, holiday, workday or include");
    return -1;
}

/* Line by line: '\n' or "\r\n" ends a line, '#' starts a comment. */
static int s_parse_text(s_parse_t *ps, const char *origin, const char *text, size_t len,
                        int nested, char *err, size_t err_size)
{
    size_t pos = 0;
    int lineno = 0;
    if (memchr(text, '\0', len)) {
        snprintf(err, err_size, "%s: contains a NUL byte", origin);
        return -1;
    }
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        char why[200] = "";
        if (n >= S_LINE_MAX)
            snprintf(why, sizeof(why), "line longer than %d bytes", S_LINE_MAX - 1);
        const char *hash = memchr(line, '#', n);
        if (hash)
            n = (size_t)(hash - line);
        if (!why[0] && memchr(line, '\r', n))
            snprintf(why, sizeof(why), "a carriage return inside a line");
        if (why[0] || s_statement(ps, line, n, nested, why, sizeof(why)) < 0) {
            if (err && err_size)
                snprintf(err, err_size, "%s line %d: %s", origin, lineno, why);
            return -1;
        }
    }
    return 0;
}

sla_calendar_t *sla_calendar_parse(const char *name, const char *text, size_t len, char *err,
                                   size_t err_size)
{
    if (!text || len > SLA_CALENDAR_TEXT_MAX) {
        s_fail(err, err_size, "a calendar definition is at most 256 KiB of text");
        return NULL;
    }
    if (!s_name_ok(name)) {
        s_fail(err, err_size, "calendar name: 1 to 63 letters, digits, '-', '_' or '.'");
        return NULL;
    }
    /* Hours and dates do not depend on the zone: collect them on a calendar
       in the default zone, then switch zone once the whole text is read. */
    sla_calendar_t *self = sla_calendar_new_business(name, NULL, err, err_size);
    if (!self)
        return NULL;
    s_parse_t ps = {.calendar = self};
    if (s_parse_text(&ps, "calendar", text, len, 0, err, err_size) < 0)
        goto out_destroy;
    if (ps.seen_zone && strcmp(ps.zone, SLA_CALENDAR_DEFAULT_ZONE) != 0) {
        char why[200] = "";
        sla_zone_t *z = sla_zone_load(NULL, ps.zone, why, sizeof(why));
        if (!z) {
            snprintf(err, err_size, "zone: %s", why);
            goto out_destroy;
        }
        sla_zone_destroy(&self->zone);
        self->zone = z;
    }
    int hours = 0;
    for (int d = 0; d < 7; d++)
        hours += self->nhours[d];
    if (!hours) {
        s_fail(err, err_size, "a business calendar needs working hours on at least one weekday");
        goto out_destroy;
    }
    return self;
out_destroy:
    sla_calendar_destroy(&self);
    return NULL;
}

/* The built-in calendars by name. */
static const char s_cn_office[] = "zone Asia/Shanghai\n"
                                  "hours mon-fri 08:30-12:00 13:00-17:30\n"
                                  "include cn-2025\n"
                                  "include cn-2026\n"
                                  "include cn-2027\n";

sla_calendar_t *sla_calendar_new_named(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "7x24") == 0)
        return sla_calendar_new_7x24();
    if (strcmp(name, "cn-office") == 0)
        return sla_calendar_parse(name, s_cn_office, sizeof(s_cn_office) - 1, NULL, 0);
    return NULL;
}
