/*
 * clock_store — SLA clocks in PostgreSQL (schema/001_init.sql,
 * 004_policies.sql, 005_lean_clocks.sql).
 *
 * Maps a clocks row to an sla_clock_t plus the ticket facts a ClockEvent
 * carries, and back; records each clock's history; emits sla.* events.
 * Every function runs on the caller's connection and inside the caller's
 * transaction where one is needed (the consumer's, the tick's); none begins
 * or commits.
 */
#ifndef SLA_CLOCK_STORE_H
#define SLA_CLOCK_STORE_H
#include "clock.h"
#include "cs_db.h"
#include "cs_ids.h"
#include "policy.h"

#define SLA_NUMBER_MAX 64
#define SLA_PRIORITY_MAX 7
#define SLA_POLICY_MAX (SLA_CALENDAR_NAME_MAX - 1) /* the calendar's name */
#define SLA_NAME_MAX 128                           /* team, assignee */

/* One clocks row: the clock and the facts that travel with its events.
   A complaint's clock has complaint_id set, and in ticket_id the ticket
   the complaint came from ("" when none; stored as origin_ticket_id). */
typedef struct {
    char id[CS_UUID_LEN];
    char ticket_id[CS_UUID_LEN];
    char complaint_id[CS_UUID_LEN];
    char policy_id[SLA_POLICY_ID_MAX + 1];
    char number[SLA_NUMBER_MAX + 1];
    char priority[SLA_PRIORITY_MAX + 1];
    char policy[SLA_POLICY_MAX + 1];
    char team[SLA_NAME_MAX + 1];
    char assignee[SLA_NAME_MAX + 1];
    char service_type[SLA_FACT_MAX + 1]; /* ticket facts at arming, for reports */
    char tier[SLA_FACT_MAX + 1];
    char channel[SLA_FACT_MAX + 1];
    sla_clock_t clock;
} sla_clock_row_t;

/* Is s valid UTF-8 of at most max bytes? PostgreSQL refuses invalid text,
   and an event it refused would be retried for ever, so text from outside
   is checked before it reaches a statement. */
int sla_store_text_ok(const char *s, size_t max);

/* The columns every SELECT of clocks returns, in the order
   sla_store_row_from() reads them. */
extern const char *const SLA_STORE_COLUMNS;

/* Fill row from result row i of a query selecting SLA_STORE_COLUMNS.
   0, or -1 when the row holds a value the model does not know. */
int sla_store_row_from(const PGresult *r, int i, sla_clock_row_t *row);

/* The clocks a ticket can have: first response, resolution, next update. */
#define SLA_TICKET_CLOCKS 3

/* The id of subject's (a ticket's or a complaint's uuid) clock of target:
   derived, as clock_uuid() in schema/005_lean_clocks.sql computes it, so
   that the primary key finds a ticket's clocks and keeps arming idempotent. */
void sla_store_clock_id(char out[CS_UUID_LEN], const char *subject, sla_target_t target);
/* The ids of ticket_id's clocks (first response, resolution, next update). */
void sla_store_ticket_ids(char ids[SLA_TICKET_CLOCKS][CS_UUID_LEN], const char *ticket_id);

/* Insert a freshly armed clock (row->id from sla_store_clock_id) unless it
   exists:
   1 inserted, 0 already there, -1 database error. */
int sla_store_arm(cs_db_t *db, const sla_clock_row_t *row);
/* Arm rows[0..n) (fresh ticket clocks from sla_clock_arm_ms, ids from
   sla_store_clock_id, all distinct) in one statement, each unless its id
   exists, and record an "armed" history step for each one inserted
   (sources[i]: the event that armed it) in a second: the same rows and
   steps sla_store_arm() and sla_store_history() would write one by one.
   inserted[i] says which went in. Returns how many, or -1. */
int sla_store_arm_many(cs_db_t *db, const sla_clock_row_t *rows, size_t n,
                       const char *const *sources, int *inserted);
/* sla_store_set_owner() for n tickets (distinct) in one statement. 0 or -1. */
int sla_store_set_owner_many(cs_db_t *db, const char *const *ticket_ids, const char *const *teams,
                             const char *const *assignees, size_t n);
/* The ticket's clock for target, locked for update: 1 found, 0 none, -1. */
int sla_store_lock(cs_db_t *db, const char *ticket_id, sla_target_t target, sla_clock_row_t *row);
/* The same for a complaint's clock. */
int sla_store_lock_complaint(cs_db_t *db, const char *complaint_id, sla_target_t target,
                             sla_clock_row_t *row);
/* Write the clock's mutable fields back (its terms too: target, priority,
   calendar, policy id). 0 or -1. */
int sla_store_save(cs_db_t *db, const sla_clock_row_t *row);
/* Keep the team and assignee carried by the latest ticket facts. 0 or -1. */
int sla_store_set_owner(cs_db_t *db, const char *ticket_id, const char *team, const char *assignee);
/* Record one step of a clock's history for its current round, with the
   clock's target from then on: 1 recorded, 0 already recorded (the
   signals armed, warning, breached, met, fulfilled_late and stopped are
   kept once per round, escalated once per level), -1. */
int sla_store_history(cs_db_t *db, const sla_clock_row_t *row, const char *kind, int64_t at_ms,
                      uint32_t percent, const char *source_event_id);
/* The same with an escalation level (escalated) and a note (changed: why). */
int sla_store_history_ex(cs_db_t *db, const sla_clock_row_t *row, const char *kind, int64_t at_ms,
                         uint32_t percent, const char *source_event_id, int level,
                         const char *note);
/* The same for a fulfilment (met, fulfilled_late) with the working time
   the round had counted (used_ms). */
int sla_store_history_fulfilled(cs_db_t *db, const sla_clock_row_t *row, const char *kind,
                                int64_t at_ms, uint32_t percent, const char *source_event_id,
                                int64_t used_ms);
/* The pause and resume instants of the row's current round, in order
   (what sla_clock_recompute replays): a malloc'd array (caller frees; NULL
   when there are none) and *n, or -1 on a database error. */
int sla_store_pauses(cs_db_t *db, const sla_clock_row_t *row, int64_t **pauses, size_t *n);
/* Clocks (running) whose deadline (SLA_DUE_BREACH) or warn instant
   (SLA_DUE_WARNING, not yet warned) is at or before now_ms, or (breached)
   whose next escalation (SLA_DUE_ESCALATION) is, oldest first, locked
   (SKIP LOCKED), at most max. Returns the count or -1. */
int sla_store_due(cs_db_t *db, sla_due_t which, int64_t now_ms, sla_clock_row_t *rows, int max);
/* Number of the ticket's clocks now breached (the escalation level). -1 on error. */
int sla_store_breached_count(cs_db_t *db, const char *ticket_id);

/* Emit a ClockEvent of type ("sla.armed", …) for row in the open
   transaction; a complaint's clock carries its complaint_id. */
int sla_store_emit(cs_db_t *db, const sla_clock_row_t *row, const char *type, int64_t at_ms,
                   uint32_t percent, uint32_t escalation_level, const char *trace_id);

#endif
