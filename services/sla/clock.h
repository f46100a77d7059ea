/*
 * clock — one SLA clock: a commitment (first response, resolution, next
 * update) of one ticket, or of one complaint (acceptance, handling), counted
 * on a calendar from a start instant to a deadline.
 *
 * Life of a clock:
 *
 *     running ──fulfilled in time──► met
 *        │  ▲ ──fulfilled late / deadline passes──► breached
 *        ▼  │ ──ticket closed or terminated──► stopped
 *     paused
 *
 * Crossing the warning share of the target (CS_SLA_WARN_PERCENT, 80 %) sets
 * the warned flag once; passing the deadline makes the clock breached once;
 * a breached clock still open then climbs its escalation levels, one at each
 * delay after the deadline (CS_SLA_ESCALATE_AFTER_MIN), each once.
 * A reopened ticket re-arms its resolution clock, and each update to the
 * customer its next-update clock: a new round with fresh flags. A change of
 * targets or of calendar recomputes a counting clock from its round's start
 * with its pauses replayed (sla_clock_recompute). Everything here is pure
 * arithmetic on the struct, so the service's SQL, the preview and the tests
 * agree on one definition.
 *
 * "Minutes" of a target are minute_ms long (60 000 in production; the
 * CS_SLA_MINUTE_SECONDS test/demo knob shortens them).
 */
#ifndef SLA_CLOCK_H
#define SLA_CLOCK_H
#include <stddef.h>
#include <stdint.h>
#include "calendar.h"

typedef enum {
    SLA_TARGET_FIRST_RESPONSE = 0, /* a ticket's clocks … */
    SLA_TARGET_RESOLUTION,
    SLA_TARGET_COMPLAINT_ACCEPTANCE, /* … and a complaint's */
    SLA_TARGET_COMPLAINT_HANDLING,
    SLA_TARGET_NEXT_UPDATE, /* a ticket's, armed at its first response */
    SLA_TARGET_COUNT
} sla_target_t;

/* The targets a ticket is armed with when it arrives: first response and
   resolution (its next-update clock comes with its first response). */
#define SLA_TICKET_TARGETS 2
#define SLA_ESCALATION_LEVELS_MAX 9

typedef enum {
    SLA_CLOCK_RUNNING = 0,
    SLA_CLOCK_PAUSED,
    SLA_CLOCK_MET,
    SLA_CLOCK_BREACHED,
    SLA_CLOCK_STOPPED,
    SLA_CLOCK_STATE_COUNT
} sla_clock_state_t;

/* How clocks are counted: the calendar, the length of a minute, the share
   of the target at which a warning goes out, and the escalation levels
   after a breach (level k+1 at escalate_after_ms[k] of real time after the
   deadline; none when escalate_levels is 0). */
typedef struct {
    const sla_calendar_t *calendar;
    int64_t minute_ms; /* 60000 unless scaled for a test or demo */
    int warn_percent;  /* 1..99 */
    int escalate_levels;
    int64_t escalate_after_ms[SLA_ESCALATION_LEVELS_MAX]; /* ascending */
} sla_policy_t;

typedef struct {
    sla_target_t target;
    sla_clock_state_t state;
    int round; /* 1, then +1 each time a reopened ticket re-arms it */
    int64_t target_minutes;
    int64_t target_ms; /* working time allowed: target_minutes * minute_ms */
    int64_t started_at_ms;
    int64_t warn_at_ms; /* instant the warning share is reached */
    int64_t deadline_ms;
    int64_t paused_at_ms; /* 0 unless paused */
    int warned;
    int64_t met_at_ms;      /* 0 unless met */
    int64_t breached_at_ms; /* 0 unless breached (= the deadline) */
    int64_t stopped_at_ms;  /* when the clock stopped counting (met, fulfilled late,
                               ticket closed); 0 while it counts */
    int escalation_level;   /* escalation levels signalled since the breach */
    int64_t escalate_at_ms; /* the next level's moment; 0 when none is due */
} sla_clock_t;

/* What a threshold check or a fulfilment found. */
typedef enum {
    SLA_DUE_NONE = 0,  /* nothing to signal */
    SLA_DUE_WARNING,   /* warning share crossed, not yet warned */
    SLA_DUE_BREACH,    /* deadline passed while running */
    SLA_DUE_ESCALATION /* breached, still open, next escalation moment passed */
} sla_due_t;

typedef enum {
    SLA_FULFIL_NONE = 0,     /* not counting (already met, stopped, or breached earlier) */
    SLA_FULFIL_MET,          /* in time: now met */
    SLA_FULFIL_LATE,         /* after the deadline the tick had not yet seen: now breached */
    SLA_FULFIL_CLOSED_BREACH /* already breached and still open: now fulfilled, late */
} sla_fulfil_t;

const char *sla_target_name(sla_target_t target);
/* -1 for an unknown name. */
int sla_target_parse(const char *name);
const char *sla_clock_state_name(sla_clock_state_t state);
int sla_clock_state_parse(const char *name);

/* Arm a fresh clock (round 1, running) starting at start_ms for
   target_minutes. 0, or -1 with err filled when the figures are out of range. */
int sla_clock_arm(sla_clock_t *clock, const sla_policy_t *policy, sla_target_t target,
                  int64_t start_ms, int64_t target_minutes, char *err, size_t err_size);
/* The same for a target given in ms of working time (a complaint's handling
   deadline fixed by its owner); target_minutes is then rounded up. */
int sla_clock_arm_ms(sla_clock_t *clock, const sla_policy_t *policy, sla_target_t target,
                     int64_t start_ms, int64_t target_ms, char *err, size_t err_size);
/* Re-arm after a reopen: a new round from start_ms with the same target,
   flags cleared. Only a clock that has stopped counting, no earlier than
   start_ms, can be re-armed (a repeated reopen event changes nothing):
   1 re-armed, 0 nothing to do, -1 out of range. */
int sla_clock_rearm(sla_clock_t *clock, const sla_policy_t *policy, int64_t start_ms);

/* Share of the target used at now_ms, in whole percent (floor; may exceed
   100; capped at 9999). A clock that stopped counts up to when it stopped;
   a paused one up to when it paused. */
uint32_t sla_clock_percent(const sla_clock_t *clock, const sla_policy_t *policy, int64_t now_ms);
/* Working time of the target used at now_ms (ms), counted the same way:
   up to the pause or the stop, time spent paused excluded, beyond the
   target once the deadline has passed. */
int64_t sla_clock_used_ms(const sla_clock_t *clock, const sla_policy_t *policy, int64_t now_ms);

/* Which threshold, if any, the clock has crossed at now_ms and not yet
   signalled. A clock past both reports only the breach: a warning after the
   deadline helps nobody. A breached clock not yet stopped reports its next
   escalation level once that level's moment has passed. */
sla_due_t sla_clock_due(const sla_clock_t *clock, int64_t now_ms);
/* The moment of the signal sla_clock_due() reports (the warn instant, the
   deadline, the escalation moment). */
int64_t sla_clock_due_at(const sla_clock_t *clock, sla_due_t due);
/* Record the signal sla_clock_due() reported: warned; breached (and the
   first escalation moment scheduled from policy); one level more (and the
   next moment, if the policy has another level). */
void sla_clock_mark(sla_clock_t *clock, const sla_policy_t *policy, sla_due_t due);

/* The commitment was fulfilled at at_ms (a response, a resolution). */
sla_fulfil_t sla_clock_fulfil(sla_clock_t *clock, int64_t at_ms);
/* The ticket was closed or terminated at at_ms: a counting clock stops.
   1 stopped, 0 it was not counting. */
int sla_clock_stop(sla_clock_t *clock, int64_t at_ms);

/* Pause a running clock (waiting for the customer); resuming moves the warn
   instant (unless it was reached before the pause) and the deadline on by
   the working time spent paused — on a business calendar only the working
   hours of the pause count, so a pause over a night or weekend moves the
   deadline by the hours actually lost. A clock whose deadline has passed
   does not pause: it was late before it waited, and its breach is due
   (sla_clock_recompute replays pauses the same way). 1 changed, 0 not in
   the right state, -1 out of range (a resumption before the pause
   included). */
int sla_clock_pause(sla_clock_t *clock, int64_t at_ms);
int sla_clock_resume(sla_clock_t *clock, const sla_policy_t *policy, int64_t at_ms);

/* Recompute a counting (running or paused) clock for a new target of
   target_ms working time and/or policy's calendar, from its round's
   original start, as if they had applied all along: the clock is armed
   afresh at started_at_ms and its pauses are replayed — pauses[] holds the
   round's pause and resume instants in order (pause, resume, pause, …; an
   odd count means it is paused now). Signals already given are kept (the
   warned flag; a clock is never un-breached: a breached one is not
   counting). 1 recomputed, 0 not counting, -1 out of range (the clock is
   left as it was). */
int sla_clock_recompute(sla_clock_t *clock, const sla_policy_t *policy, int64_t target_ms,
                        const int64_t *pauses, size_t npauses);

#endif
