/*
 * clock — the SLA clock model (see clock.h): pure functions over one
 * sla_clock_t, shared by the event handlers, the tick and the
 * API so that all three agree on what "80 %" and "breached" mean.
 */
#include <stdio.h>
#include <string.h>
#include "clock.h"

/* Instants we accept: 1970 .. 9999-12-31. Anything else is a corrupt event. */
#define SLA_MAX_INSTANT_MS 253402300799999LL
/* A year of minutes is the longest commitment cs_commitment accepts. */
#define SLA_MAX_TARGET_MINUTES 525600

static const char *const s_targets[SLA_TARGET_COUNT] = {
    "first_response", "resolution", "complaint_acceptance", "complaint_handling", "next_update"};
static const char *const s_states[SLA_CLOCK_STATE_COUNT] = {"running", "paused", "met", "breached",
                                                            "stopped"};

const char *sla_target_name(sla_target_t target)
{
    return (unsigned)target < SLA_TARGET_COUNT ? s_targets[target] : "unknown";
}

int sla_target_parse(const char *name)
{
    for (int i = 0; name && i < SLA_TARGET_COUNT; i++)
        if (strcmp(name, s_targets[i]) == 0)
            return i;
    return -1;
}

const char *sla_clock_state_name(sla_clock_state_t state)
{
    return (unsigned)state < SLA_CLOCK_STATE_COUNT ? s_states[state] : "unknown";
}

int sla_clock_state_parse(const char *name)
{
    for (int i = 0; name && i < SLA_CLOCK_STATE_COUNT; i++)
        if (strcmp(name, s_states[i]) == 0)
            return i;
    return -1;
}

static int s_instant_ok(int64_t ms)
{
    return ms >= 0 && ms <= SLA_MAX_INSTANT_MS;
}

/* Start a round from start_ms: the warn instant and the deadline on the
   policy's calendar. The clock's target_ms must be set. */
static int s_schedule(sla_clock_t *clock, const sla_policy_t *policy, int64_t start_ms)
{
    int64_t warn_work = clock->target_ms / 100 * policy->warn_percent +
                        clock->target_ms % 100 * policy->warn_percent / 100;
    int64_t warn_at, deadline;
    if (sla_calendar_add(policy->calendar, start_ms, warn_work, &warn_at) < 0 ||
        sla_calendar_add(policy->calendar, start_ms, clock->target_ms, &deadline) < 0 ||
        !s_instant_ok(deadline))
        return -1;
    clock->state = SLA_CLOCK_RUNNING;
    clock->started_at_ms = start_ms;
    clock->warn_at_ms = warn_at;
    clock->deadline_ms = deadline;
    clock->paused_at_ms = 0;
    clock->warned = 0;
    clock->met_at_ms = 0;
    clock->breached_at_ms = 0;
    clock->stopped_at_ms = 0;
    clock->escalation_level = 0;
    clock->escalate_at_ms = 0;
    return 0;
}

static int s_policy_ok(const sla_policy_t *policy, char *err, size_t err_size)
{
    if (policy->minute_ms < 1 || policy->minute_ms > 3600000 || policy->warn_percent < 1 ||
        policy->warn_percent > 99 || policy->escalate_levels < 0 ||
        policy->escalate_levels > SLA_ESCALATION_LEVELS_MAX) {
        snprintf(err, err_size, "policy out of range (minute %lld ms, warning at %d %%)",
                 (long long)policy->minute_ms, policy->warn_percent);
        return -1;
    }
    return 0;
}

int sla_clock_arm_ms(sla_clock_t *clock, const sla_policy_t *policy, sla_target_t target,
                     int64_t start_ms, int64_t target_ms, char *err, size_t err_size)
{
    memset(clock, 0, sizeof(*clock));
    if ((unsigned)target >= SLA_TARGET_COUNT) {
        snprintf(err, err_size, "unknown target %d", (int)target);
        return -1;
    }
    if (s_policy_ok(policy, err, err_size) < 0)
        return -1;
    if (target_ms < 1 || target_ms > SLA_MAX_TARGET_MINUTES * policy->minute_ms) {
        snprintf(err, err_size, "target of %lld ms is outside 1 ms..%d minutes",
                 (long long)target_ms, SLA_MAX_TARGET_MINUTES);
        return -1;
    }
    if (!s_instant_ok(start_ms)) {
        snprintf(err, err_size, "start instant %lld ms is out of range", (long long)start_ms);
        return -1;
    }
    clock->target = target;
    clock->round = 1;
    clock->target_minutes = (target_ms + policy->minute_ms - 1) / policy->minute_ms;
    clock->target_ms = target_ms;
    if (s_schedule(clock, policy, start_ms) < 0) {
        snprintf(err, err_size, "deadline out of range");
        return -1;
    }
    return 0;
}

int sla_clock_arm(sla_clock_t *clock, const sla_policy_t *policy, sla_target_t target,
                  int64_t start_ms, int64_t target_minutes, char *err, size_t err_size)
{
    memset(clock, 0, sizeof(*clock));
    if (target_minutes < 1 || target_minutes > SLA_MAX_TARGET_MINUTES) {
        snprintf(err, err_size, "target of %lld minutes is outside 1..%d",
                 (long long)target_minutes, SLA_MAX_TARGET_MINUTES);
        return -1;
    }
    if (s_policy_ok(policy, err, err_size) < 0)
        return -1;
    return sla_clock_arm_ms(clock, policy, target, start_ms, target_minutes * policy->minute_ms,
                            err, err_size);
}

int sla_clock_rearm(sla_clock_t *clock, const sla_policy_t *policy, int64_t start_ms)
{
    int stopped = clock->state == SLA_CLOCK_MET || clock->state == SLA_CLOCK_BREACHED ||
                  clock->state == SLA_CLOCK_STOPPED;
    if (!stopped || clock->stopped_at_ms == 0 || clock->stopped_at_ms > start_ms)
        return 0;
    if (!s_instant_ok(start_ms))
        return -1;
    sla_clock_t next = *clock;
    if (s_schedule(&next, policy, start_ms) < 0)
        return -1;
    next.round = clock->round + 1;
    *clock = next;
    return 1;
}

/* The instant up to which the clock has counted. */
static int64_t s_counted_until(const sla_clock_t *clock, int64_t now_ms)
{
    if (clock->stopped_at_ms)
        return clock->stopped_at_ms;
    if (clock->state == SLA_CLOCK_PAUSED)
        return clock->paused_at_ms;
    return now_ms;
}

/* Measured against the deadline rather than the start, so that time spent
   paused (which moved the deadline on) is not counted. */
int64_t sla_clock_used_ms(const sla_clock_t *clock, const sla_policy_t *policy, int64_t now_ms)
{
    if (clock->target_ms <= 0)
        return 0;
    int64_t until = s_counted_until(clock, now_ms);
    if (until <= clock->deadline_ms) {
        int64_t left = sla_calendar_between(policy->calendar, until, clock->deadline_ms);
        return left >= clock->target_ms ? 0 : clock->target_ms - left;
    }
    int64_t over = sla_calendar_between(policy->calendar, clock->deadline_ms, until);
    return over > INT64_MAX - clock->target_ms ? INT64_MAX : clock->target_ms + over;
}

uint32_t sla_clock_percent(const sla_clock_t *clock, const sla_policy_t *policy, int64_t now_ms)
{
    if (clock->target_ms <= 0)
        return 0;
    int64_t used = sla_clock_used_ms(clock, policy, now_ms);
    if (used / 100 > clock->target_ms) /* far beyond 9999 %: avoid overflow */
        return 9999;
    int64_t pct = used / clock->target_ms * 100 + used % clock->target_ms * 100 / clock->target_ms;
    return pct > 9999 ? 9999 : (uint32_t)pct;
}

sla_due_t sla_clock_due(const sla_clock_t *clock, int64_t now_ms)
{
    if (clock->state == SLA_CLOCK_BREACHED) {
        if (!clock->stopped_at_ms && clock->escalate_at_ms && now_ms >= clock->escalate_at_ms)
            return SLA_DUE_ESCALATION;
        return SLA_DUE_NONE;
    }
    if (clock->state != SLA_CLOCK_RUNNING)
        return SLA_DUE_NONE;
    if (now_ms >= clock->deadline_ms)
        return SLA_DUE_BREACH;
    if (!clock->warned && now_ms >= clock->warn_at_ms)
        return SLA_DUE_WARNING;
    return SLA_DUE_NONE;
}

int64_t sla_clock_due_at(const sla_clock_t *clock, sla_due_t due)
{
    switch (due) {
    case SLA_DUE_WARNING:
        return clock->warn_at_ms;
    case SLA_DUE_BREACH:
        return clock->deadline_ms;
    case SLA_DUE_ESCALATION:
        return clock->escalate_at_ms;
    default:
        return 0;
    }
}

/* The moment of escalation level (index) k+1 after the breach, 0 if none. */
static int64_t s_escalation_at(const sla_clock_t *clock, const sla_policy_t *policy, int k)
{
    if (k >= policy->escalate_levels || k >= SLA_ESCALATION_LEVELS_MAX)
        return 0;
    int64_t at = clock->breached_at_ms + policy->escalate_after_ms[k];
    return at > 0 ? at : 1;
}

void sla_clock_mark(sla_clock_t *clock, const sla_policy_t *policy, sla_due_t due)
{
    if (due == SLA_DUE_WARNING) {
        clock->warned = 1;
    } else if (due == SLA_DUE_BREACH) {
        clock->state = SLA_CLOCK_BREACHED;
        clock->breached_at_ms = clock->deadline_ms;
        clock->escalation_level = 0;
        clock->escalate_at_ms = s_escalation_at(clock, policy, 0);
    } else if (due == SLA_DUE_ESCALATION) {
        clock->escalation_level++;
        clock->escalate_at_ms = s_escalation_at(clock, policy, clock->escalation_level);
    }
}

sla_fulfil_t sla_clock_fulfil(sla_clock_t *clock, int64_t at_ms)
{
    switch (clock->state) {
    case SLA_CLOCK_RUNNING:
    case SLA_CLOCK_PAUSED: {
        /* A paused clock's deadline has not yet moved for this pause: it was
           in time if it paused in time. */
        int64_t counted = clock->state == SLA_CLOCK_PAUSED ? clock->paused_at_ms : at_ms;
        clock->paused_at_ms = 0;
        clock->stopped_at_ms = at_ms;
        if (counted <= clock->deadline_ms) {
            clock->state = SLA_CLOCK_MET;
            clock->met_at_ms = at_ms;
            return SLA_FULFIL_MET;
        }
        clock->state = SLA_CLOCK_BREACHED;
        clock->breached_at_ms = clock->deadline_ms;
        return SLA_FULFIL_LATE;
    }
    case SLA_CLOCK_BREACHED:
        if (clock->stopped_at_ms)
            return SLA_FULFIL_NONE;
        clock->stopped_at_ms = at_ms;
        clock->escalate_at_ms = 0; /* fulfilled: nobody left to escalate to */
        return SLA_FULFIL_CLOSED_BREACH;
    default:
        return SLA_FULFIL_NONE;
    }
}

int sla_clock_stop(sla_clock_t *clock, int64_t at_ms)
{
    if (clock->state == SLA_CLOCK_RUNNING || clock->state == SLA_CLOCK_PAUSED) {
        clock->state = SLA_CLOCK_STOPPED;
        clock->paused_at_ms = 0;
        clock->stopped_at_ms = at_ms;
        return 1;
    }
    if (clock->state == SLA_CLOCK_BREACHED && !clock->stopped_at_ms) {
        clock->stopped_at_ms = at_ms;
        clock->escalate_at_ms = 0;
        return 1;
    }
    return 0;
}

int sla_clock_pause(sla_clock_t *clock, int64_t at_ms)
{
    if (clock->state != SLA_CLOCK_RUNNING)
        return 0;
    if (!s_instant_ok(at_ms))
        return -1;
    if (at_ms >= clock->deadline_ms)
        return 0; /* already late: its breach is due, waiting cannot undo it */
    clock->state = SLA_CLOCK_PAUSED;
    clock->paused_at_ms = at_ms;
    return 1;
}

/* Working time that passed while paused moves the deadline on: the time
   left at the pause, counted from the resumption, ends where the old
   deadline plus the paused working time ends. A warning share already
   reached before the pause stays where it was (it has been or is about to
   be signalled); a later one moves like the deadline. */
int sla_clock_resume(sla_clock_t *clock, const sla_policy_t *policy, int64_t at_ms)
{
    if (clock->state != SLA_CLOCK_PAUSED)
        return 0;
    if (!s_instant_ok(at_ms) || at_ms < clock->paused_at_ms)
        return -1;
    int64_t paused = sla_calendar_between(policy->calendar, clock->paused_at_ms, at_ms);
    int64_t warn_at = clock->warn_at_ms, deadline;
    if ((warn_at > clock->paused_at_ms &&
         sla_calendar_add(policy->calendar, clock->warn_at_ms, paused, &warn_at) < 0) ||
        sla_calendar_add(policy->calendar, clock->deadline_ms, paused, &deadline) < 0 ||
        !s_instant_ok(deadline))
        return -1;
    clock->warn_at_ms = warn_at;
    clock->deadline_ms = deadline;
    clock->state = SLA_CLOCK_RUNNING;
    clock->paused_at_ms = 0;
    return 1;
}

/* Arm a copy afresh at the round's start with the new target, replay the
   pauses through the same pause/resume as live clocks, and keep what has
   been signalled. Nothing is written to *clock unless all of it worked. */
int sla_clock_recompute(sla_clock_t *clock, const sla_policy_t *policy, int64_t target_ms,
                        const int64_t *pauses, size_t npauses)
{
    if (clock->state != SLA_CLOCK_RUNNING && clock->state != SLA_CLOCK_PAUSED)
        return 0;
    if (target_ms < 1 || target_ms > SLA_MAX_TARGET_MINUTES * policy->minute_ms ||
        policy->minute_ms < 1)
        return -1;
    sla_clock_t next = *clock;
    next.target_ms = target_ms;
    next.target_minutes = (target_ms + policy->minute_ms - 1) / policy->minute_ms;
    if (s_schedule(&next, policy, clock->started_at_ms) < 0)
        return -1;
    if ((npauses % 2 == 1) != (clock->state == SLA_CLOCK_PAUSED))
        return -1; /* the history and the state disagree */
    for (size_t i = 0; i < npauses; i++) {
        if (pauses[i] < next.started_at_ms || (i && pauses[i] < pauses[i - 1]))
            return -1; /* a history out of order is not replayed */
        if (i % 2 == 0 && pauses[i] >= next.deadline_ms) {
            /* Under the new terms the deadline passed before this pause: the
               clock was late before it waited, so it runs on, past its
               deadline, and the tick signals the breach at that deadline. */
            next.state = SLA_CLOCK_RUNNING;
            next.paused_at_ms = 0;
            break;
        }
        int rc = i % 2 == 0 ? sla_clock_pause(&next, pauses[i])
                            : sla_clock_resume(&next, policy, pauses[i]);
        if (rc < 0)
            return -1;
    }
    next.warned = clock->warned;
    *clock = next;
    return 1;
}
