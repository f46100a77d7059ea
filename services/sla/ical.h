/*
 * ical — public holidays out of an iCalendar file (RFC 5545).
 *
 * Holiday calendars are published as .ics feeds; the one thing the SLA
 * needs from them is which whole days are off. Every VEVENT whose DTSTART
 * is a date (DTSTART;VALUE=DATE:20261001) is a holiday from that date up to
 * DTEND (exclusive; RFC 5545 §3.6.1), or for DURATION (whole days or weeks),
 * or for the one day when neither is given. Cancelled events are skipped.
 *
 * The file is hostile: at most 1 MiB, lines folded (CRLF or LF followed by a
 * space or tab) are unfolded into at most 8 KiB, a bare CR, a control
 * character or a NUL byte is an error, components must nest and close, and
 * anything that would silently lose or invent days — an event at a time of
 * day, a recurring event (RRULE/RDATE), a DTEND not after DTSTART, more than
 * 366 days in one event, more than 10 000 events — is refused with the line
 * it was found on.
 */
#ifndef SLA_ICAL_H
#define SLA_ICAL_H
#include <stddef.h>
#include <stdint.h>

#define SLA_ICAL_MAX_BYTES (1024 * 1024)
#define SLA_ICAL_LINE_MAX 8192
#define SLA_ICAL_EVENTS_MAX 10000

/* Called once per holiday event (fn may be NULL: only count and check) with its days: from_day up
   to to_day_excl, days since 1970-01-01. Return 0 to go on, -1 to stop (fill err yourself). */
typedef int (*sla_ical_days_fn)(void *ctx, int64_t from_day, int64_t to_day_excl);

/* The number of holiday events passed to fn, or -1 with err filled
   ("line 12: ..."). */
int sla_ical_holidays(const char *text, size_t len, sla_ical_days_fn fn, void *ctx, char *err,
                      size_t err_size);

/* The holidays of an iCalendar file as calendar definition lines
   ("holiday 2026-10-01..2026-10-07 <note>\n", calendar.h), so that an
   import can be stored as text with the rest of a definition. A string the
   caller frees (*events set to the number of events), or NULL with err
   filled; days outside 1971..2199 are refused. */
char *sla_ical_definition(const char *text, size_t len, const char *note, int *events, char *err,
                          size_t err_size);

#endif
