/*
 * calendar — when the SLA clock runs.
 *
 * A commitment ("first response within 2 hours") counts working time on a
 * calendar. Clocks only ever ask a calendar two questions — "when will this
 * much working time have passed after that instant?" and "how much working
 * time lies between these two instants?" — so every kind of calendar is a
 * pair of functions behind this interface and nothing in the clock model
 * changes with it.
 *
 * Two kinds exist:
 *   - 7×24: every millisecond is working time;
 *   - business hours: working intervals per weekday (several a day, e.g.
 *     08:30-12:00 and 13:00-17:30) in a named IANA time zone (default
 *     Asia/Shanghai), minus public holidays (whole local days), plus make-up
 *     working days (a Saturday or Sunday worked like a weekday: by default
 *     with Monday's hours, or those of the weekday the definition names).
 *
 * Working intervals are local wall-clock times, turned into instants through
 * the zone (zone.h), so a day across a DST change is as long as it really
 * is. A wall-clock time skipped by spring-forward means the end of the gap;
 * one that occurs twice (fall-back) means its first occurrence.
 *
 * Durations are milliseconds of working time; instants are ms since the
 * epoch (UTC). Business calendars answer for local dates in 1971..2199.
 *
 * A calendar definition is text, one statement a line, '#' starts a comment:
 *
 *     zone Asia/Shanghai                      (default Asia/Shanghai)
 *     hours mon-fri 08:30-12:00 13:00-17:30   (days: mon..sun, ranges a-b, lists a,b)
 *     hours sat 09:00-12:00                   (a day never named is closed)
 *     holiday 2026-10-01..2026-10-07 国庆节    (a date or an inclusive range; the rest a note)
 *     workday 2026-09-20 调休                  (a make-up working day, Monday's hours)
 *     workday 2026-10-10 as fri               (…or the hours of the weekday named)
 *     include cn-2026                         (an embedded holiday file: sla_calendar_data)
 *
 * or, alone on its line with no other statement, `7x24`: every moment is
 * working time (how the stored calendar "7x24" is written).
 *
 * Times are HH:MM, 00:00..24:00, intervals of a day in order and not
 * overlapping. A date may not be both a holiday and a make-up day.
 */
#ifndef SLA_CALENDAR_H
#define SLA_CALENDAR_H
#include <stddef.h>
#include <stdint.h>

typedef struct sla_calendar sla_calendar_t;

#define SLA_CALENDAR_NAME_MAX 64
#define SLA_CALENDAR_TEXT_MAX (256 * 1024) /* a definition, includes excluded */
#define SLA_CALENDAR_DATES_MAX 8192        /* holidays + make-up days */
#define SLA_CALENDAR_SPANS_MAX 8           /* working intervals per day */
#define SLA_CALENDAR_DEFAULT_ZONE "Asia/Shanghai"

/* The around-the-clock calendar: every millisecond is working time. */
sla_calendar_t *sla_calendar_new_7x24(void);
/* By name as stored with each clock: "7x24", or "cn-office" (Asia/Shanghai,
   Monday to Friday 08:30-12:00 and 13:00-17:30, mainland China holidays
   and make-up days of 2025-2027); NULL for an unknown name. */
sla_calendar_t *sla_calendar_new_named(const char *name);
/* A calendar from a definition (format above): a business calendar, or a
   7×24 one named name for a definition reading `7x24`. name: letters,
   digits, '-', '_', '.', at most 63. NULL with err filled ("line 3: …"). */
sla_calendar_t *sla_calendar_parse(const char *name, const char *text, size_t len, char *err,
                                   size_t err_size);
/* An empty business calendar in zone (NULL: Asia/Shanghai): no hours yet. */
sla_calendar_t *sla_calendar_new_business(const char *name, const char *zone, char *err,
                                          size_t err_size);
void sla_calendar_destroy(sla_calendar_t **self_p);

/* Building a business calendar (each 0, or -1 with err filled; a 7×24
   calendar refuses them all). weekday 0 = Monday … 6 = Sunday; spans like
   "08:30-12:00 13:00-17:30" replace that day's hours ("" closes the day). */
int sla_calendar_set_hours(sla_calendar_t *self, int weekday, const char *spans, char *err,
                           size_t err_size);
/* Dates as "YYYY-MM-DD"; a range is inclusive. */
int sla_calendar_add_holidays(sla_calendar_t *self, const char *from, const char *to, char *err,
                              size_t err_size);
/* as_weekday: whose hours the make-up day works (0..4; -1 = Monday). */
int sla_calendar_add_workday(sla_calendar_t *self, const char *date, int as_weekday, char *err,
                             size_t err_size);
/* Every all-day VEVENT of an iCalendar file (RFC 5545) becomes holidays;
   the number of days added, or -1 with err filled (ical.h). */
int sla_calendar_import_ical(sla_calendar_t *self, const char *text, size_t len, char *err,
                             size_t err_size);

/* Is name a calendar name: 1 to 63 letters, digits, '-', '_' or '.'? */
int sla_calendar_name_ok(const char *name);
/* The calendar's stable name, stored as each clock's policy. */
const char *sla_calendar_name(const sla_calendar_t *self);
/* The built-in definition text of a built-in calendar ("7x24",
   "cn-office"), as seeded in the calendars table; NULL for other names. */
const char *sla_calendar_builtin_text(const char *name);
/* The zone of a business calendar; NULL for 7×24. */
const char *sla_calendar_zone(const sla_calendar_t *self);
/* Is local date day (days since 1970-01-01) a working day, and how much
   working time does it hold (ms)? For reports and tests. */
int64_t sla_calendar_day_ms(const sla_calendar_t *self, int64_t day);
/* A standard working day: the longest weekday's working hours (ms), 24 h
   on 7×24, 0 for a calendar with no hours. What "N working days" mean. */
int64_t sla_calendar_standard_day_ms(const sla_calendar_t *self);

/* The instant at which work_ms of working time have passed after start_ms:
   the earliest instant by which that much has passed, so a deadline that
   uses up a day exactly falls at its closing time, and a start outside
   working hours counts from the next opening. add(t, 0) = t.
   0 with *out set, or -1 when the arguments are out of range (negative
   duration, overflow, beyond the calendar's years). */
int sla_calendar_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out);
/* Working time between from_ms and to_ms; 0 when to_ms <= from_ms.
   between(t, add(t, w)) = w for every w that add() answers. */
int64_t sla_calendar_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms);

/* The embedded holiday files (services/sla/calendars/<name>.txt, e.g.
   "cn-2026"): the text, or NULL for an unknown name. */
const char *sla_calendar_data(const char *name);

#endif
