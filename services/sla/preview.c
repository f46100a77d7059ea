/*
 * preview — a timeline of ticket events played through clock.c (see
 * preview.h).
 *
 * Nothing here decides a deadline: every change is one of clock.c's
 * functions — the recompute from the original start on a change of targets
 * included — so a preview and a live clock cannot disagree. What this file
 * adds is the order of things (the tick's signals before each event) and a
 * history of what happened, for people to read.
 */
#include <stdio.h>
#include <string.h>
#include "preview.h"

static const char *const s_kinds[SLA_EVENT_COUNT] = {
    "created",          "agent_response", "customer_reply", "pending",  "resumed",
    "priority_changed", "resolved",       "closed",         "reopened", "policy_changed"};

const char *sla_event_kind_name(sla_event_kind_t kind)
{
    return (unsigned)kind < SLA_EVENT_COUNT ? s_kinds[kind] : "unknown";
}

int sla_event_kind_parse(const char *name)
{
    for (int i = 0; name && i < SLA_EVENT_COUNT; i++)
        if (strcmp(name, s_kinds[i]) == 0)
            return i;
    return -1;
}

static void s_step(sla_preview_clock_t *pc, const char *kind, int64_t at_ms)
{
    if (pc->nsteps == SLA_PREVIEW_STEPS_MAX) {
        pc->steps_dropped++;
        return;
    }
    pc->steps[pc->nsteps++] = (sla_preview_step_t){kind, pc->clock.round, at_ms};
}

static int64_t s_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* What the tick would have signalled up to and including
   now_ms, each signal once: the warning at its instant, the breach at the
   deadline, then each escalation level. The tick learns of a schedule when
   the clock is armed or recomputed (known_since_ms): a warning and a
   deadline that both lie before that moment reach it together, and then,
   as in sla_monitor_tick, only the breach goes out. */
static void s_advance(sla_preview_clock_t *pc, const sla_policy_t *policy, int64_t now_ms)
{
    sla_clock_t *c = &pc->clock;
    for (;;) {
        sla_due_t due = sla_clock_due(c, now_ms);
        if (due == SLA_DUE_NONE)
            return;
        if (due == SLA_DUE_BREACH && !c->warned && c->warn_at_ms < c->deadline_ms &&
            s_max(c->warn_at_ms, pc->known_since_ms) < s_max(c->deadline_ms, pc->known_since_ms))
            due = SLA_DUE_WARNING; /* the tick saw the warning share first */
        int64_t at = sla_clock_due_at(c, due);
        sla_clock_mark(c, policy, due);
        s_step(pc,
               due == SLA_DUE_WARNING  ? "warning"
               : due == SLA_DUE_BREACH ? "breached"
                                       : "escalated",
               at);
    }
}

static void s_fulfil(sla_preview_clock_t *pc, int64_t at_ms)
{
    switch (sla_clock_fulfil(&pc->clock, at_ms)) {
    case SLA_FULFIL_MET:
        s_step(pc, "met", at_ms);
        break;
    case SLA_FULFIL_LATE:
        s_step(pc, "breached", pc->clock.deadline_ms);
        s_step(pc, "fulfilled_late", at_ms);
        break;
    case SLA_FULFIL_CLOSED_BREACH:
        s_step(pc, "fulfilled_late", at_ms);
        break;
    default:
        break;
    }
}

/* Pause (pause != 0) or resume every clock that can, keeping the instant
   in the round's history as a live clock does. 0 or -1. */
static int s_pause_all(sla_preview_t *out, const sla_policy_t *policy, int pause, int64_t at_ms)
{
    for (int t = 0; t < SLA_TICKET_TARGETS; t++) {
        sla_preview_clock_t *pc = &out->clocks[t];
        int rc = pause ? sla_clock_pause(&pc->clock, at_ms)
                       : sla_clock_resume(&pc->clock, policy, at_ms);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        pc->pauses[pc->npauses++] = at_ms;
        s_step(pc, pause ? "paused" : "resumed", at_ms);
    }
    return 0;
}

/* New targets: every clock still counting is recomputed from its round's
   start (sla_clock_recompute, the live clocks' function). 0 or -1. */
static int s_change(sla_preview_t *out, const sla_policy_t *policy,
                    const int64_t minutes[SLA_TICKET_TARGETS], int64_t at_ms)
{
    for (int t = 0; t < SLA_TICKET_TARGETS; t++) {
        sla_preview_clock_t *pc = &out->clocks[t];
        int rc = sla_clock_recompute(&pc->clock, policy, minutes[t] * policy->minute_ms, pc->pauses,
                                     pc->npauses);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            pc->known_since_ms = at_ms;
            s_step(pc, "changed", at_ms);
        }
    }
    return 0;
}

/* Apply one event (never "created") at e->at_ms to both clocks; targets[]
   are the ticket's targets now (changed by priority_changed and
   policy_changed). 0 or -1 (out of range). */
static int s_apply(sla_preview_t *out, const sla_policy_t *policy, const sla_preview_event_t *e,
                   int64_t targets[SLA_TICKET_TARGETS])
{
    sla_preview_clock_t *fr = &out->clocks[SLA_TARGET_FIRST_RESPONSE];
    sla_preview_clock_t *res = &out->clocks[SLA_TARGET_RESOLUTION];
    switch (e->kind) {
    case SLA_EVENT_AGENT_RESPONSE:
        s_fulfil(fr, e->at_ms);
        return 0;
    case SLA_EVENT_RESOLVED:
        s_fulfil(fr, e->at_ms);
        s_fulfil(res, e->at_ms);
        return 0;
    case SLA_EVENT_PENDING:
        return s_pause_all(out, policy, 1, e->at_ms);
    case SLA_EVENT_CUSTOMER_REPLY:
    case SLA_EVENT_RESUMED:
        return s_pause_all(out, policy, 0, e->at_ms);
    case SLA_EVENT_CLOSED:
        for (int t = 0; t < SLA_TICKET_TARGETS; t++)
            if (sla_clock_stop(&out->clocks[t].clock, e->at_ms))
                s_step(&out->clocks[t], "stopped", e->at_ms);
        return 0;
    case SLA_EVENT_REOPENED: {
        /* A new round under the ticket's present targets. */
        sla_clock_t next = res->clock;
        next.target_minutes = targets[SLA_TARGET_RESOLUTION];
        next.target_ms = targets[SLA_TARGET_RESOLUTION] * policy->minute_ms;
        int rc = sla_clock_rearm(&next, policy, e->at_ms);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            res->clock = next;
            res->npauses = 0;
            res->known_since_ms = e->at_ms;
            s_step(res, "armed", e->at_ms);
        }
        return 0;
    }
    case SLA_EVENT_PRIORITY_CHANGED:
    case SLA_EVENT_POLICY_CHANGED:
        memcpy(targets, e->minutes, sizeof(e->minutes));
        return s_change(out, policy, targets, e->at_ms);
    default:
        return 0;
    }
}

/* The timeline's shape: created first and only once, moments in range and
   in order, targets of a change in range. */
static int s_check(const sla_preview_event_t *events, size_t n, int64_t as_of_ms, char *err,
                   size_t err_size)
{
    if (n == 0 || n > SLA_PREVIEW_EVENTS_MAX) {
        snprintf(err, err_size, "events: 1 to %d events, the first one created",
                 SLA_PREVIEW_EVENTS_MAX);
        return -1;
    }
    int changes = 0;
    for (size_t i = 0; i < n; i++) {
        const sla_preview_event_t *e = &events[i];
        if ((unsigned)e->kind >= SLA_EVENT_COUNT) {
            snprintf(err, err_size, "event %zu: unknown kind", i);
            return -1;
        }
        if ((i == 0) != (e->kind == SLA_EVENT_CREATED)) {
            snprintf(err, err_size, "event %zu: %s", i,
                     i == 0 ? "the first event must be created" : "a ticket is created once");
            return -1;
        }
        if (e->at_ms < SLA_PREVIEW_MIN_MS || e->at_ms > SLA_PREVIEW_MAX_MS) {
            snprintf(err, err_size, "event %zu: its moment is outside 2000..2100", i);
            return -1;
        }
        if (i && e->at_ms < events[i - 1].at_ms) {
            snprintf(err, err_size, "event %zu: earlier than the event before it", i);
            return -1;
        }
        if (e->kind != SLA_EVENT_PRIORITY_CHANGED && e->kind != SLA_EVENT_POLICY_CHANGED)
            continue;
        if (++changes > SLA_PREVIEW_CHANGES_MAX) {
            snprintf(err, err_size, "event %zu: more than %d priority or policy changes", i,
                     SLA_PREVIEW_CHANGES_MAX);
            return -1;
        }
        for (int t = 0; t < SLA_TICKET_TARGETS; t++)
            if (e->minutes[t] < 1 || e->minutes[t] > SLA_PREVIEW_TARGET_MAX) {
                snprintf(err, err_size, "event %zu: %s: target of %lld minutes is outside 1..%d", i,
                         sla_target_name((sla_target_t)t), (long long)e->minutes[t],
                         SLA_PREVIEW_TARGET_MAX);
                return -1;
            }
    }
    if (as_of_ms && (as_of_ms < events[n - 1].at_ms || as_of_ms > SLA_PREVIEW_MAX_MS)) {
        snprintf(err, err_size, "as_of: not before the last event and not after 2100");
        return -1;
    }
    return 0;
}

int sla_preview_run(const sla_policy_t *policy, const int64_t minutes[SLA_TICKET_TARGETS],
                    const sla_preview_event_t *events, size_t n, int64_t as_of_ms,
                    sla_preview_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    if (s_check(events, n, as_of_ms, err, err_size) < 0)
        return -1;
    int64_t targets[SLA_TICKET_TARGETS];
    memcpy(targets, minutes, sizeof(targets));
    for (int t = 0; t < SLA_TICKET_TARGETS; t++) {
        sla_preview_clock_t *pc = &out->clocks[t];
        char why[128] = "";
        if (sla_clock_arm(&pc->clock, policy, (sla_target_t)t, events[0].at_ms, targets[t], why,
                          sizeof(why)) < 0) {
            snprintf(err, err_size, "%s: %s", sla_target_name((sla_target_t)t), why);
            return -1;
        }
        pc->known_since_ms = events[0].at_ms;
        s_step(pc, "armed", events[0].at_ms);
    }
    for (size_t i = 1; i < n; i++) {
        const sla_preview_event_t *e = &events[i];
        for (int t = 0; t < SLA_TICKET_TARGETS; t++)
            s_advance(&out->clocks[t], policy, e->at_ms - 1);
        if (s_apply(out, policy, e, targets) < 0) {
            snprintf(err, err_size, "event %zu: a deadline beyond the calendar's years", i);
            return -1;
        }
        if (e->kind == SLA_EVENT_PRIORITY_CHANGED || e->kind == SLA_EVENT_POLICY_CHANGED)
            out->changes++;
    }
    out->as_of_ms = as_of_ms ? as_of_ms : events[n - 1].at_ms;
    for (int t = 0; t < SLA_TICKET_TARGETS; t++) {
        sla_preview_clock_t *pc = &out->clocks[t];
        s_advance(pc, policy, out->as_of_ms);
        pc->used_ms = sla_clock_used_ms(&pc->clock, policy, out->as_of_ms);
        pc->percent = sla_clock_percent(&pc->clock, policy, out->as_of_ms);
    }
    return 0;
}
