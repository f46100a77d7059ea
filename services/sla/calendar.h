/*
 * calendar — when the SLA clock runs.
 *
 * A commitment ("first response within 2 hours") counts working time on a
 * calendar: around the clock (7×24) for now; business hours with holidays
 * and a time zone later. Clocks only ever ask a calendar two questions —
 * "when will this much working time have passed after that instant?" and
 * "how much working time lies between these two instants?" — so a new kind
 * of calendar is a new pair of functions behind this interface and nothing
 * in the clock model changes.
 *
 * Durations are milliseconds of working time; instants are ms since the
 * epoch (UTC).
 */
#ifndef SLA_CALENDAR_H
#define SLA_CALENDAR_H
#include <stdint.h>

typedef struct sla_calendar sla_calendar_t;

/* The around-the-clock calendar: every millisecond is working time. */
sla_calendar_t *sla_calendar_new_7x24(void);
/* By name as stored with each clock ("7x24"); NULL for an unknown name. */
sla_calendar_t *sla_calendar_new_named(const char *name);
void sla_calendar_destroy(sla_calendar_t **self_p);

/* The calendar's stable name, stored as each clock's policy. */
const char *sla_calendar_name(const sla_calendar_t *self);
/* The instant at which work_ms of working time have passed after start_ms.
   0 with *out set, or -1 when the arguments are out of range (negative
   duration, overflow). */
int sla_calendar_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out);
/* Working time between from_ms and to_ms; 0 when to_ms <= from_ms. */
int64_t sla_calendar_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms);

#endif
