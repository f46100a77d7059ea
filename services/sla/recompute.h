/*
 * recompute — a stored clock recomputed under new terms, from its round's
 * original start with its pauses replayed (clock.h: sla_clock_recompute),
 * written back with a "changed" step in its history and an sla.changed
 * event, in the caller's transaction.
 *
 * Three things recompute open clocks: dispatch.ticket.reclassified (new
 * priority or service type: the policy is chosen again; monitor.c), a
 * corrected calendar (PUT /v1/sla/calendars/{name}: every open clock on
 * it), and a changed policy applied to running clocks (PUT
 * /v1/sla/policies/{id}?apply=running: every open clock it set). Only
 * clocks still counting (running or paused) are recomputed: one met,
 * stopped or already breached keeps its outcome, and a signal already
 * given (warning, breach) is never given again. A recomputed deadline that
 * has already passed is signalled by the next tick, at that deadline.
 */
#ifndef SLA_RECOMPUTE_H
#define SLA_RECOMPUTE_H
#include "clock_store.h"

/* The terms a clock is recomputed under. */
typedef struct {
    const sla_policy_t *counting; /* minute, warning share, escalation; the calendar */
    int64_t target_ms;            /* working time of the target */
    const char *priority;         /* NULL: unchanged */
    const char *policy_id;        /* NULL: unchanged */
    const char *note;             /* why, for the history ("reclassified P3 -> P1") */
} sla_terms_change_t;

/* Recompute row (locked by the caller) under change at at_ms. 1 changed
   (row updated, history and event written), 0 nothing to do (not
   counting, or nothing differs; a history that cannot be replayed is
   logged and left alone), -1 database error. */
int sla_recompute(cs_db_t *db, sla_clock_row_t *row, const sla_terms_change_t *change,
                  int64_t at_ms, const char *source_event_id, const char *trace_id);

#endif
