/*
 * zone — IANA time zones from TZif files (RFC 8536), without TZ/tzset.
 *
 * A zone is the list of transitions of the file's version 2+ (64-bit) data
 * block, each with the UTC offset that starts there, plus the footer's POSIX
 * TZ string, which rules every instant after the last transition (the
 * "slim" files Debian may ship stop listing transitions in 2007 and leave
 * the rest to the footer). The file is hostile input like any other: every
 * count is bounded and checked against the bytes actually there before it is
 * used, and anything this reader does not understand (version 1 only files,
 * leap-second "right/" zones, malformed footers) is refused by name rather
 * than guessed at.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "zone.h"

#define S_TZIF_MAX_BYTES (1 << 20)
#define S_TIMECNT_MAX 100000
#define S_TYPECNT_MAX 256
#define S_CHARCNT_MAX 65536
#define S_FOOTER_MAX 256
#define S_UTOFF_MIN (-89999) /* RFC 8536 §3.2: -25:59:59 … +25:59:59 */
#define S_UTOFF_MAX 93599
#define S_DAY 86400LL

/* One date of a POSIX TZ rule: Jn, n or Mm.w.d, and the local time of the
   change (seconds, -167 h … +167 h as RFC 8536 §3.3.1 allows). */
typedef struct {
    char kind; /* 'J', 'N' or 'M' */
    int n;     /* J: 1..365, N: 0..365 */
    int m, w, d;
    int32_t time;
} s_rule_date_t;

typedef struct {
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    int has_dst;
    s_rule_date_t start, end;
} s_posix_t;

struct sla_zone {
    char name[SLA_ZONE_NAME_MAX];
    int64_t *times; /* transition instants, strictly ascending */
    int32_t *offs;  /* offset from times[i] on */
    size_t count;
    int32_t first_off; /* before the first transition: time type 0 */
    int has_footer;
    s_posix_t footer;
};

static void s_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || !err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ---- civil calendar ------------------------------------------------------------ */

int64_t sla_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date: count whole 400-year
   eras from a March-based year, so that February's length only matters at
   the end of the year. */
int64_t sla_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = sla_floor_div(y, 400);
    int64_t yoe = y - era * 400;                                  /* 0..399 */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void sla_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = sla_floor_div(days, 146097);
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int sla_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int64_t r = (days + 3) % 7;
    return (int)(r < 0 ? r + 7 : r);
}

static int s_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* ---- POSIX TZ strings ------------------------------------------------------------ */

/* A zone abbreviation: three or more letters, or <...> of letters, digits,
   '+' and '-'. Only its shape matters here. */
static int s_posix_name(const char **p)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
               *s == '+' || *s == '-')
            s++, n++;
        if (*s != '>' || n < 3)
            return -1;
        *p = s + 1;
        return 0;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++, n++;
    if (n < 3)
        return -1;
    *p = s;
    return 0;
}

static int s_posix_number(const char **p, int max, int *out)
{
    const char *s = *p;
    int v = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) {
        v = v * 10 + (*s - '0');
        s++, digits++;
    }
    if (!digits || v > max)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours, in seconds. */
static int s_posix_hms(const char **p, int max_hours, int32_t *out)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (s_posix_number(&s, max_hours, &h) < 0)
        return -1;
    if (*s == ':') {
        s++;
        if (s_posix_number(&s, 59, &m) < 0)
            return -1;
        if (*s == ':') {
            s++;
            if (s_posix_number(&s, 59, &sec) < 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    *p = s;
    return 0;
}

static int s_posix_date(const char **p, s_rule_date_t *date)
{
    const char *s = *p;
    memset(date, 0, sizeof(*date));
    if (*s == 'J') {
        s++;
        date->kind = 'J';
        if (s_posix_number(&s, 365, &date->n) < 0 || date->n < 1)
            return -1;
    } else if (*s == 'M') {
        s++;
        date->kind = 'M';
        if (s_posix_number(&s, 12, &date->m) < 0 || date->m < 1 || *s++ != '.' ||
            s_posix_number(&s, 5, &date->w) < 0 || date->w < 1 || *s++ != '.' ||
            s_posix_number(&s, 6, &date->d) < 0)
            return -1;
    } else {
        date->kind = 'N';
        if (s_posix_number(&s, 365, &date->n) < 0)
            return -1;
    }
    date->time = 2 * 3600;
    if (*s == '/') {
        s++;
        if (s_posix_hms(&s, 167, &date->time) < 0)
            return -1;
    }
    *p = s;
    return 0;
}

/* std offset [dst [offset] ,start[/time],end[/time]] — POSIX offsets count
   west of UTC, so they are negated into the usual east-positive offsets. */
static int s_posix_parse(const char *tz, s_posix_t *out)
{
    const char *p = tz;
    int32_t v;
    memset(out, 0, sizeof(*out));
    if (s_posix_name(&p) < 0 || s_posix_hms(&p, 24, &v) < 0)
        return -1;
    out->std_off = -v;
    if (!*p)
        return 0;
    if (s_posix_name(&p) < 0)
        return -1;
    out->has_dst = 1;
    out->dst_off = out->std_off + 3600;
    if (*p && *p != ',') {
        if (s_posix_hms(&p, 24, &v) < 0)
            return -1;
        out->dst_off = -v;
    }
    /* Daylight time without rules would leave the dates to the C library's
       taste; zic always writes them, so anything else is refused. */
    if (*p++ != ',' || s_posix_date(&p, &out->start) < 0 || *p++ != ',' ||
        s_posix_date(&p, &out->end) < 0 || *p)
        return -1;
    return 0;
}

/* Local seconds of a rule date in year y. */
static int64_t s_rule_local(int64_t y, const s_rule_date_t *r)
{
    int64_t day;
    if (r->kind == 'J') {
        day = sla_days_from_civil(y, 1, 1) + r->n - 1;
        if (s_is_leap(y) && r->n >= 60)
            day++;
    } else if (r->kind == 'N') {
        day = sla_days_from_civil(y, 1, 1) + r->n;
    } else {
        int64_t first = sla_days_from_civil(y, r->m, 1);
        int64_t next =
            r->m == 12 ? sla_days_from_civil(y + 1, 1, 1) : sla_days_from_civil(y, r->m + 1, 1);
        int wd = (sla_weekday(first) + 1) % 7; /* Sunday = 0 as in the rule */
        day = first + (r->d - wd + 7) % 7 + (int64_t)(r->w - 1) * 7;
        while (day >= next)
            day -= 7;
    }
    return day * S_DAY + r->time;
}

typedef struct {
    int64_t at;
    int32_t off;
    int is_start;
} s_change_t;

/* Offset at utc_s under the footer rule: the changes of the years around it,
   in order (an end and a start at the same instant leave daylight time on,
   as in all-year DST), and the last one at or before utc_s. */
static int32_t s_footer_offset(const s_posix_t *f, int64_t utc_s, int64_t *until_s)
{
    if (!f->has_dst) {
        if (until_s)
            *until_s = INT64_MAX;
        return f->std_off;
    }
    int64_t y;
    int m, d;
    sla_civil_from_days(sla_floor_div(utc_s + f->std_off, S_DAY), &y, &m, &d);
    s_change_t ch[10];
    size_t n = 0;
    for (int64_t yy = y - 2; yy <= y + 2; yy++) {
        ch[n++] = (s_change_t){s_rule_local(yy, &f->end) - f->dst_off, f->std_off, 0};
        ch[n++] = (s_change_t){s_rule_local(yy, &f->start) - f->std_off, f->dst_off, 1};
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: ten entries */
        for (size_t j = i;
             j > 0 && (ch[j - 1].at > ch[j].at ||
                       (ch[j - 1].at == ch[j].at && ch[j - 1].is_start > ch[j].is_start));
             j--) {
            s_change_t t = ch[j];
            ch[j] = ch[j - 1];
            ch[j - 1] = t;
        }
    int32_t off = ch[n - 1].off; /* unreachable fallback: utc_s lies inside */
    int64_t until = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (ch[i].at <= utc_s) {
            off = ch[i].off;
        } else {
            until = ch[i].at;
            break;
        }
    }
    if (until_s)
        *until_s = until;
    return off;
}

/* ---- TZif ------------------------------------------------------------------------ */

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t s_be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)s_be32(p) << 32 | s_be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} s_counts_t;

static int s_header(const uint8_t *p, size_t left, s_counts_t *c)
{
    if (left < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    c->isut = s_be32(p + 20);
    c->isstd = s_be32(p + 24);
    c->leap = s_be32(p + 28);
    c->time = s_be32(p + 32);
    c->type = s_be32(p + 36);
    c->chars = s_be32(p + 40);
    return 0;
}

static int s_counts_sane(const s_counts_t *c, char *err, size_t err_size)
{
    if (c->time > S_TIMECNT_MAX || c->type < 1 || c->type > S_TYPECNT_MAX || c->chars < 1 ||
        c->chars > S_CHARCNT_MAX || (c->isstd && c->isstd != c->type) ||
        (c->isut && c->isut != c->type)) {
        s_err(err, err_size, "TZif counts out of range");
        return -1;
    }
    if (c->leap) {
        s_err(err, err_size, "TZif file carries leap seconds (a right/ zone); use the plain zone");
        return -1;
    }
    return 0;
}

static size_t s_block_size(const s_counts_t *c, size_t time_size)
{
    return (size_t)c->time * (time_size + 1) + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (time_size + 4) + c->isstd + c->isut;
}

/* Transitions and types of the 64-bit block at p (size already checked). */
static int s_load_block(sla_zone_t *z, const uint8_t *p, const s_counts_t *c, char *err,
                        size_t err_size)
{
    const uint8_t *times = p, *idx = p + (size_t)c->time * 8, *types = idx + c->time;
    int32_t utoff[S_TYPECNT_MAX];
    for (uint32_t i = 0; i < c->type; i++) {
        utoff[i] = (int32_t)s_be32(types + (size_t)i * 6);
        if (utoff[i] < S_UTOFF_MIN || utoff[i] > S_UTOFF_MAX || types[i * 6 + 4] > 1 ||
            types[i * 6 + 5] >= c->chars) {
            s_err(err, err_size, "TZif time type out of range");
            return -1;
        }
    }
    z->first_off = utoff[0];
    z->count = c->time;
    if (!c->time)
        return 0;
    z->times = calloc(c->time, sizeof(*z->times));
    z->offs = calloc(c->time, sizeof(*z->offs));
    if (!z->times || !z->offs) {
        s_err(err, err_size, "out of memory reading a zone");
        return -1;
    }
    for (uint32_t i = 0; i < c->time; i++) {
        z->times[i] = s_be64(times + (size_t)i * 8);
        if ((i && z->times[i] <= z->times[i - 1]) || idx[i] >= c->type) {
            s_err(err, err_size, "TZif transitions out of order or of an unknown type");
            return -1;
        }
        z->offs[i] = utoff[idx[i]];
    }
    return 0;
}

static int s_load_footer(sla_zone_t *z, const uint8_t *p, size_t left, char *err, size_t err_size)
{
    if (left < 2 || p[0] != '\n') {
        s_err(err, err_size, "TZif footer missing");
        return -1;
    }
    const uint8_t *nl = memchr(p + 1, '\n', left - 1);
    if (!nl || (size_t)(nl - p - 1) > S_FOOTER_MAX) {
        s_err(err, err_size, "TZif footer unterminated or too long");
        return -1;
    }
    size_t n = (size_t)(nl - p - 1);
    if (!n)
        return 0; /* no rule: the last transition's offset holds for ever */
    char tz[S_FOOTER_MAX + 1];
    memcpy(tz, p + 1, n);
    tz[n] = '\0';
    if (memchr(tz, '\0', n) || s_posix_parse(tz, &z->footer) < 0) {
        s_err(err, err_size, "TZif footer is not a POSIX TZ string this reader knows");
        return -1;
    }
    z->has_footer = 1;
    return 0;
}

static sla_zone_t *s_zone_new(const char *name)
{
    sla_zone_t *z = calloc(1, sizeof(*z));
    if (z)
        snprintf(z->name, sizeof(z->name), "%s", name ? name : "");
    return z;
}

sla_zone_t *sla_zone_from_tzif(const char *name, const uint8_t *data, size_t len, char *err,
                               size_t err_size)
{
    s_counts_t c1, c2;
    if (!data || s_header(data, len, &c1) < 0) {
        s_err(err, err_size, "not a TZif file");
        return NULL;
    }
    if (data[4] < '2') {
        s_err(err, err_size, "TZif version 1 file: version 2 or later needed");
        return NULL;
    }
    if (s_counts_sane(&c1, err, err_size) < 0)
        return NULL;
    size_t off = 44 + s_block_size(&c1, 4);
    if (off > len || s_header(data + off, len - off, &c2) < 0) {
        s_err(err, err_size, "TZif file truncated before its 64-bit data");
        return NULL;
    }
    if (s_counts_sane(&c2, err, err_size) < 0)
        return NULL;
    off += 44;
    size_t block = s_block_size(&c2, 8);
    if (block > len - off) {
        s_err(err, err_size, "TZif file truncated");
        return NULL;
    }
    sla_zone_t *z = s_zone_new(name);
    if (!z) {
        s_err(err, err_size, "out of memory reading a zone");
        return NULL;
    }
    if (s_load_block(z, data + off, &c2, err, err_size) < 0 ||
        s_load_footer(z, data + off + block, len - off - block, err, err_size) < 0)
        sla_zone_destroy(&z);
    return z;
}

sla_zone_t *sla_zone_from_posix(const char *name, const char *tz, char *err, size_t err_size)
{
    s_posix_t f;
    if (!tz || strlen(tz) > S_FOOTER_MAX || s_posix_parse(tz, &f) < 0) {
        s_err(err, err_size, "not a POSIX TZ string: %.60s", tz ? tz : "(null)");
        return NULL;
    }
    sla_zone_t *z = s_zone_new(name);
    if (!z) {
        s_err(err, err_size, "out of memory");
        return NULL;
    }
    z->footer = f;
    z->has_footer = 1;
    z->first_off = f.std_off;
    return z;
}

/* Letters, digits, '_', '-', '+' in non-empty components joined by '/':
   nothing that can climb out of the zoneinfo directory. */
static int s_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0, comp = 0;
    if (!len || len >= SLA_ZONE_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (ch == '/') {
            if (!comp)
                return 0;
            comp = 0;
            continue;
        }
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '+'))
            return 0;
        comp++;
    }
    return comp > 0;
}

sla_zone_t *sla_zone_load(const char *dir, const char *name, char *err, size_t err_size)
{
    if (!s_name_ok(name)) {
        s_err(err, err_size, "not a time zone name: %.60s", name ? name : "(null)");
        return NULL;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        s_err(err, err_size, "unknown time zone %s (%s)", name, strerror(errno));
        return NULL;
    }
    struct stat st;
    uint8_t *buf = NULL;
    sla_zone_t *z = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > S_TZIF_MAX_BYTES) {
        s_err(err, err_size, "time zone %s: not a regular file of at most 1 MiB", name);
        goto out_close;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        s_err(err, err_size, "time zone %s: out of memory", name);
        goto out_close;
    }
    size_t have = 0;
    while (have < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    char why[160] = "";
    z = sla_zone_from_tzif(name, buf, have, why, sizeof(why));
    if (!z)
        s_err(err, err_size, "time zone %s: %s", name, why);
    free(buf);
out_close:
    close(fd);
    return z;
}

void sla_zone_destroy(sla_zone_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->times);
    free((*self_p)->offs);
    free(*self_p);
    *self_p = NULL;
}

const char *sla_zone_name(const sla_zone_t *self)
{
    return self->name;
}

/* ---- lookups ---------------------------------------------------------------------- */

int32_t sla_zone_offset(const sla_zone_t *self, int64_t utc_s, int64_t *until_s)
{
    size_t n = self->count;
    if (n && utc_s < self->times[0]) {
        if (until_s)
            *until_s = self->times[0];
        return self->first_off;
    }
    if (!n || utc_s >= self->times[n - 1]) {
        if (self->has_footer)
            return s_footer_offset(&self->footer, utc_s, until_s);
        if (until_s)
            *until_s = INT64_MAX;
        return n ? self->offs[n - 1] : self->first_off;
    }
    size_t lo = 0, hi = n - 1; /* times[lo] <= utc_s < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->times[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    if (until_s)
        *until_s = self->times[hi];
    return self->offs[lo];
}

/* Walk the stretches of constant offset that could hold local_s (offsets
   stay within ±26 h): the first stretch whose wall clock reaches local_s
   gives the answer — inside it when the reading occurs there, at its start
   when the reading was skipped by a gap. */
int64_t sla_zone_to_utc(const sla_zone_t *self, int64_t local_s)
{
    const int64_t reach = 27 * 3600;
    int64_t at = local_s - reach;
    for (int guard = 0; guard < 64 && at <= local_s + reach; guard++) {
        int64_t until;
        int32_t off = sla_zone_offset(self, at, &until);
        if (at + off > local_s)
            return at; /* skipped: the gap ends at this stretch's start */
        int64_t u = local_s - off;
        if (u < until)
            return u;
        at = until;
    }
    return local_s - sla_zone_offset(self, local_s, NULL); /* not reached for sane zones */
}
