/*
 * monitor — sla-monitor's work on the bus: dispatch's ticket events arm,
 * fulfil, stop and re-arm clocks; the once-a-second tick turns clocks whose
 * warning share or deadline has passed into sla.warning / sla.breached.
 *
 * Handlers are idempotent by (ticket_id, target): any dispatch event about
 * a ticket first makes sure its two clocks exist (armed from the facts the
 * event carries), so a response seen before the acceptance is not lost —
 * the clocks are created then and the first-response clock is met at once;
 * the late acceptance finds them and changes nothing.
 *
 * Calendars: a new clock counts on the calendar CS_SLA_CALENDAR names
 * (default 7x24) and stores that name with itself (clocks.policy); every
 * later step of the clock counts on the calendar it names, resolved through
 * the calendars table (calendar_store.h) and cached; the tick notices a
 * changed table within a second.
 */
#ifndef SLA_MONITOR_H
#define SLA_MONITOR_H
#include "clock.h"
#include "cs_bus.h"

typedef struct sla_monitor sla_monitor_t;

/* Read the configuration (CS_SLA_WARN_PERCENT, CS_SLA_MINUTE_SECONDS, the
   commitment table, CS_SLA_CALENDAR — the calendar new clocks count on,
   default "7x24", which must resolve through db now); NULL after logging
   what is wrong. */
sla_monitor_t *sla_monitor_new(cs_db_t *db);
void sla_monitor_destroy(sla_monitor_t **self_p);
/* The minute and warning share clocks count with; its calendar is NULL:
   each clock counts on the calendar it names (clocks.policy). */
const sla_policy_t *sla_monitor_policy(sla_monitor_t *self);
/* The calendar new clocks count on (CS_SLA_CALENDAR). */
const char *sla_monitor_calendar(sla_monitor_t *self);

/* Register the dispatch.ticket.* handlers on the consumer. */
void sla_monitor_subscribe(sla_monitor_t *self, cs_consumer_t *consumer);

/* Signal every clock due at now_ms, one transaction per batch; then refresh
   the cs_sla_clocks gauges when something changed or a while has passed.
   Returns the number of signals emitted, or -1 after a database error. */
int sla_monitor_tick(sla_monitor_t *self, cs_db_t *db, int64_t now_ms);

#endif
