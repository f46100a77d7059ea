/*
 * monitor — sla-monitor's work on the bus: dispatch's ticket events arm,
 * fulfil, pause, resume, recompute, stop and re-arm ticket clocks;
 * complaint's events do the same for complaint clocks; the tick (every
 * CS_SLA_TICK_MS, 200 ms by default) turns clocks whose warning share,
 * deadline or escalation moment has passed into sla.warning / sla.breached
 * / sla.escalated.
 *
 * Ticket clocks (first_response, resolution), armed from received_at under
 * the policy the ticket's facts match (policy.h), and next_update, armed by
 * the first response:
 *   - a ticket entering pending_customer (any event whose to_status says
 *     so) pauses its counting clocks (sla.paused); leaving it (an agent's
 *     resume or answer, the customer's reply — from_status
 *     pending_customer) resumes them (sla.resumed);
 *   - dispatch.ticket.responded meets the first-response clock only when
 *     its actor is a person (not "system" nor a service): the automatic
 *     acceptance letter is no first response;
 *   - dispatch.ticket.reclassified chooses the policy again from the new
 *     facts and recomputes every counting clock from its original start,
 *     pauses kept (recompute.h; sla.changed);
 *   - a reopened ticket re-arms its resolution clock as a new round;
 *   - next_update (the policy's next-update minutes; none when 0): a
 *     person's first response arms it; each later update to the customer
 *     (a person's response, dispatch.ticket.noted with to_customer) fulfils
 *     its round and starts a new one from the update, while the ticket is
 *     open (its resolution clock not stopped); resolved, closed and
 *     terminated stop it.
 * The arming events (accepted, assigned, status_changed, customer_replied,
 * transferred, escalated) go to a batch handler: a run of them arms its
 * tickets' clocks in a few statements (clock_store.h: sla_store_arm_many)
 * with exactly the outcome of the one-by-one handler, which CS_SLA_BULK_ARM=0
 * selects instead.
 * Complaint clocks (complaint_acceptance, complaint_handling):
 *   complaint.opened arms acceptance from received_at (24 h by default),
 *   .accepted meets it; .assigned arms handling (the owner's handle_due
 *   when given, on real time, else the policy's target), .feedback_sent
 *   meets it, .escalated re-arms it as a new round (back to handling), and
 *   .archived stops them all.
 * Escalation: a breached clock still open climbs one level at each delay
 * of CS_SLA_ESCALATE_AFTER_MIN (default "0,60,240" minutes after the
 * deadline; "none" for no levels), each level emitted once as sla.escalated
 * with its escalation_level — after a restart, every level whose moment
 * passed while the monitor was down goes out at once, once.
 *
 * Handlers are idempotent by (ticket_id, target) — a clock's id is derived
 * from them (clock_store.h): any dispatch event about a ticket first makes
 * sure its first-response and resolution clocks exist (armed from the facts the
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

/* Read the configuration (CS_SLA_WARN_PERCENT, CS_SLA_MINUTE_SECONDS,
   CS_SLA_ESCALATE_AFTER_MIN, the built-in policies' knobs, CS_SLA_CALENDAR
   — the calendar of the built-in policies, default "7x24", which must
   resolve through db now); NULL after logging what is wrong. */
sla_monitor_t *sla_monitor_new(cs_db_t *db);
void sla_monitor_destroy(sla_monitor_t **self_p);
/* The minute and warning share clocks count with; its calendar is NULL:
   each clock counts on the calendar it names (clocks.policy). */
const sla_policy_t *sla_monitor_policy(sla_monitor_t *self);
/* The calendar new clocks count on (CS_SLA_CALENDAR). */
const char *sla_monitor_calendar(sla_monitor_t *self);

/* Parse an escalation list ("0,60,240": ascending minutes of minute_ms
   after the deadline, at most SLA_ESCALATION_LEVELS_MAX; "none") into
   policy's escalation fields. 0 or -1. */
int sla_escalation_parse(const char *text, int64_t minute_ms, sla_policy_t *policy);

/* Register the dispatch.ticket.* and complaint.* handlers on the consumer. */
void sla_monitor_subscribe(sla_monitor_t *self, cs_consumer_t *consumer);

/* Signal every clock due at now_ms, one transaction per batch; then refresh
   the cs_sla_clocks gauges when something changed or a while has passed.
   Returns the number of signals emitted, or -1 after a database error. */
int sla_monitor_tick(sla_monitor_t *self, cs_db_t *db, int64_t now_ms);

#endif
