/*
 * preview — a ticket's clocks played through a timeline of its events,
 * without the database: what POST /v1/sla/preview answers.
 *
 * Administrators use it to check a calendar or targets before applying
 * them; tests use it to pin the arithmetic. It runs the very functions of
 * clock.c that live clocks run (arm, pause, resume, fulfil, stop, re-arm,
 * due/mark), in the order the monitor would: before each event every
 * running clock is brought up to the event's moment (a warning at its warn
 * instant, a breach at its deadline, as the tick would have
 * signalled them), then the event is applied.
 *
 * Events (each with its moment, in order, the first one "created"):
 *   created           both clocks armed (first response, resolution)
 *   agent_response    a person answered: the first-response clock is fulfilled
 *   customer_reply    the customer answered: paused clocks resume
 *   pending           waiting for the customer: running clocks pause
 *   resumed           paused clocks resume
 *   priority_changed  new targets; each clock still counting is recomputed
 *                     from its round's original start with its pauses
 *                     replayed (sla_clock_recompute, as a live clock on
 *                     dispatch.ticket.reclassified); a clock already met,
 *                     breached or stopped keeps its outcome, and a later
 *                     re-arm counts the new target
 *   policy_changed    the same for a policy whose targets changed (PUT
 *                     /v1/sla/policies/{id}?apply=running)
 *   resolved          the first-response clock (if still open) and the
 *                     resolution clock are fulfilled
 *   closed            running clocks stop
 *   reopened          the resolution clock is re-armed as a new round
 */
#ifndef SLA_PREVIEW_H
#define SLA_PREVIEW_H
#include <stddef.h>
#include <stdint.h>
#include "clock.h"

#define SLA_PREVIEW_EVENTS_MAX 500
#define SLA_PREVIEW_CHANGES_MAX 20    /* priority or policy changes */
#define SLA_PREVIEW_STEPS_MAX 256     /* history steps kept per clock */
#define SLA_PREVIEW_TARGET_MAX 525600 /* minutes: a year, as clock.c */
/* Moments a preview accepts: 2000-01-01 .. 2100-01-01, as the monitor. */
#define SLA_PREVIEW_MIN_MS 946684800000LL
#define SLA_PREVIEW_MAX_MS 4102444800000LL

typedef enum {
    SLA_EVENT_CREATED = 0,
    SLA_EVENT_AGENT_RESPONSE,
    SLA_EVENT_CUSTOMER_REPLY,
    SLA_EVENT_PENDING,
    SLA_EVENT_RESUMED,
    SLA_EVENT_PRIORITY_CHANGED,
    SLA_EVENT_RESOLVED,
    SLA_EVENT_CLOSED,
    SLA_EVENT_REOPENED,
    SLA_EVENT_POLICY_CHANGED,
    SLA_EVENT_COUNT
} sla_event_kind_t;

typedef struct {
    sla_event_kind_t kind;
    int64_t at_ms;
    int64_t minutes[SLA_TICKET_TARGETS]; /* priority_changed, policy_changed: the new targets */
} sla_preview_event_t;

/* One step of a clock's history: armed, paused, resumed, warning,
   breached, escalated, met, fulfilled_late, stopped, changed. */
typedef struct {
    const char *kind;
    int round;
    int64_t at_ms;
} sla_preview_step_t;

typedef struct {
    sla_clock_t clock;
    int64_t used_ms;  /* working time used at the preview's moment */
    uint32_t percent; /* the same as a share of the target */
    sla_preview_step_t steps[SLA_PREVIEW_STEPS_MAX];
    int nsteps;
    int steps_dropped; /* steps beyond SLA_PREVIEW_STEPS_MAX, not kept */
    /* What a live clock keeps in its history for a recompute: the current
       round's pause and resume instants, and since when the tick has known
       the clock's present schedule (its arming or last recompute). */
    int64_t pauses[SLA_PREVIEW_EVENTS_MAX];
    size_t npauses;
    int64_t known_since_ms;
} sla_preview_clock_t;

typedef struct {
    int64_t as_of_ms; /* the moment the clocks are read at */
    int changes;      /* priority or policy changes applied */
    sla_preview_clock_t clocks[SLA_TICKET_TARGETS];
} sla_preview_t;

const char *sla_event_kind_name(sla_event_kind_t kind);
/* -1 for an unknown name. */
int sla_event_kind_parse(const char *name);

/* Play events[0..n) with targets minutes[] (working minutes, first
   response and resolution) on policy's calendar, and read the clocks at
   as_of_ms (0: the last event's moment; never before it). 0 with *out
   filled, or -1 with err naming what is wrong ("event 3: …"). */
int sla_preview_run(const sla_policy_t *policy, const int64_t minutes[SLA_TICKET_TARGETS],
                    const sla_preview_event_t *events, size_t n, int64_t as_of_ms,
                    sla_preview_t *out, char *err, size_t err_size);

#endif
