/*
 * preview — a timeline of ticket events played through clock.c (see
 * preview.h).
 *
 * Nothing here decides a deadline: every change is one of clock.c's
 * functions, so a preview and a live clock cannot disagree. What this file
 * adds is the order of things — the tick's signals before each event, the
 * replay from the original start when the targets change — and a history
 * of what happened, for people to read.
 */
#include <stdio.h>
#include <string.h>
#include "preview.h"

static const char *const s_kinds[SLA_EVENT_COUNT] = {
    "created",          "agent_response", "customer_reply", "pending", "resumed",
    "priority_changed", "resolved",       "closed",         "reopened"};

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

/* What the once-a-second tick would have signalled up to and including
   now_ms: the warning at its instant, then the breach at the deadline. */
static void s_advance(sla_preview_clock_t *pc, int64_t now_ms)
{
    sla_clock_t *c = &pc->clock;
    for (;;) {
        sla_due_t due = sla_clock_due(c, now_ms);
        if (due == SLA_DUE_NONE)
            return;
        if (due == SLA_DUE_BREACH && !c->warned && c->warn_at_ms < c->deadline_ms)
            due = SLA_DUE_WARNING; /* the tick saw the warning share first */
        sla_clock_mark(c, due);
        if (due == SLA_DUE_WARNING)
            s_step(pc, "warning", c->warn_at_ms);
        else
            s_step(pc, "breached", c->deadline_ms);
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

/* Apply one event (never "created" or "priority_changed", which the
   caller handles) at e->at_ms to both clocks. 0 or -1 (out of range). */
static int s_apply(sla_preview_t *out, const sla_policy_t *policy, const sla_preview_event_t *e)
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
        for (int t = 0; t < SLA_TARGET_COUNT; t++) {
            int rc = sla_clock_pause(&out->clocks[t].clock, e->at_ms);
            if (rc < 0)
                return -1;
            if (rc > 0)
                s_step(&out->clocks[t], "paused", e->at_ms);
        }
        return 0;
    case SLA_EVENT_CUSTOMER_REPLY:
    case SLA_EVENT_RESUMED:
        for (int t = 0; t < SLA_TARGET_COUNT; t++) {
            int rc = sla_clock_resume(&out->clocks[t].clock, policy, e->at_ms);
            if (rc < 0)
                return -1;
            if (rc > 0)
                s_step(&out->clocks[t], "resumed", e->at_ms);
        }
        return 0;
    case SLA_EVENT_CLOSED:
        for (int t = 0; t < SLA_TARGET_COUNT; t++)
            if (sla_clock_stop(&out->clocks[t].clock, e->at_ms))
                s_step(&out->clocks[t], "stopped", e->at_ms);
        return 0;
    case SLA_EVENT_REOPENED: {
        int rc = sla_clock_rearm(&res->clock, policy, e->at_ms);
        if (rc < 0)
            return -1;
        if (rc > 0)
            s_step(res, "armed", e->at_ms);
        return 0;
    }
    default:
        return 0;
    }
}

/* Arm both clocks at the creation and play events[1..upto), priority
   changes among them ignored (the targets given supersede them). */
static int s_play(sla_preview_t *out, const sla_policy_t *policy,
                  const int64_t minutes[SLA_TARGET_COUNT], const sla_preview_event_t *events,
                  size_t upto, char *err, size_t err_size)
{
    for (int t = 0; t < SLA_TARGET_COUNT; t++) {
        sla_preview_clock_t *pc = &out->clocks[t];
        memset(pc, 0, sizeof(*pc));
        char why[128] = "";
        if (sla_clock_arm(&pc->clock, policy, (sla_target_t)t, events[0].at_ms, minutes[t], why,
                          sizeof(why)) < 0) {
            snprintf(err, err_size, "%s: %s", sla_target_name((sla_target_t)t), why);
            return -1;
        }
        s_step(pc, "armed", events[0].at_ms);
    }
    for (size_t i = 1; i < upto; i++) {
        if (events[i].kind == SLA_EVENT_PRIORITY_CHANGED)
            continue;
        for (int t = 0; t < SLA_TARGET_COUNT; t++)
            s_advance(&out->clocks[t], events[i].at_ms - 1);
        if (s_apply(out, policy, &events[i]) < 0) {
            snprintf(err, err_size, "event %zu: a deadline beyond the calendar's years", i);
            return -1;
        }
    }
    return 0;
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
        if (e->kind == SLA_EVENT_PRIORITY_CHANGED && ++changes > SLA_PREVIEW_CHANGES_MAX) {
            snprintf(err, err_size, "event %zu: more than %d priority changes", i,
                     SLA_PREVIEW_CHANGES_MAX);
            return -1;
        }
    }
    if (as_of_ms && (as_of_ms < events[n - 1].at_ms || as_of_ms > SLA_PREVIEW_MAX_MS)) {
        snprintf(err, err_size, "as_of: not before the last event and not after 2100");
        return -1;
    }
    return 0;
}

int sla_preview_run(const sla_policy_t *policy, const int64_t minutes[SLA_TARGET_COUNT],
                    const sla_preview_event_t *events, size_t n, int64_t as_of_ms,
                    sla_preview_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    if (s_check(events, n, as_of_ms, err, err_size) < 0)
        return -1;
    int64_t targets[SLA_TARGET_COUNT];
    memcpy(targets, minutes, sizeof(targets));
    if (s_play(out, policy, targets, events, 1, err, err_size) < 0)
        return -1;
    for (size_t i = 1; i < n; i++) {
        const sla_preview_event_t *e = &events[i];
        if (e->kind != SLA_EVENT_PRIORITY_CHANGED) {
            for (int t = 0; t < SLA_TARGET_COUNT; t++)
                s_advance(&out->clocks[t], e->at_ms - 1);
            if (s_apply(out, policy, e) < 0) {
                snprintf(err, err_size, "event %zu: a deadline beyond the calendar's years", i);
                return -1;
            }
            continue;
        }
        /* Recompute from the original start: everything before the change
           replayed with the new targets. */
        memcpy(targets, e->minutes, sizeof(targets));
        char why[160] = "";
        if (s_play(out, policy, targets, events, i, why, sizeof(why)) < 0) {
            snprintf(err, err_size, "event %zu: %s", i, why);
            return -1;
        }
        for (int t = 0; t < SLA_TARGET_COUNT; t++) {
            s_advance(&out->clocks[t], e->at_ms - 1);
            s_step(&out->clocks[t], "changed", e->at_ms);
        }
        out->changes++;
    }
    out->as_of_ms = as_of_ms ? as_of_ms : events[n - 1].at_ms;
    for (int t = 0; t < SLA_TARGET_COUNT; t++) {
        sla_preview_clock_t *pc = &out->clocks[t];
        s_advance(pc, out->as_of_ms);
        pc->used_ms = sla_clock_used_ms(&pc->clock, policy, out->as_of_ms);
        pc->percent = sla_clock_percent(&pc->clock, policy, out->as_of_ms);
    }
    return 0;
}
