/*
 * monitor — dispatch's ticket events in, sla.* events out (see monitor.h).
 *
 * Every change to a clock goes through the pure model in clock.c; this file
 * only loads the row, asks the model, writes the row back, records the
 * history step and emits the event, all in the one transaction it is given
 * (the consumer's) or opens (the tick's). The history table's unique key
 * (clock, round, kind) is the last guard that a signal goes out once.
 */
#include <stdlib.h>
#include <string.h>
#include "calendar_store.h"
#include "clock_store.h"
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "monitor.h"

#define SLA_BATCH 200 /* clocks signalled per transaction */
#define SLA_BATCHES_PER_TICK 50
#define SLA_GAUGE_EVERY_MS 10000
/* Instants a ticket event may carry: 2000-01-01 .. 2100-01-01. */
#define SLA_MIN_EVENT_MS 946684800000LL
#define SLA_MAX_EVENT_MS 4102444800000LL

typedef enum {
    SLA_ON_ARM,       /* accepted, assigned: the clocks exist, owner is current */
    SLA_ON_RESPONDED, /* first response given */
    SLA_ON_RESOLVED,  /* resolution given (a response too, if none was seen) */
    SLA_ON_STOP,      /* closed, terminated */
    SLA_ON_REOPENED,  /* resolution clock re-armed */
    SLA_ON_COUNT
} sla_action_t;

static const struct {
    const char *type;
    sla_action_t action;
} s_subscriptions[] = {
    {"dispatch.ticket.accepted", SLA_ON_ARM},        {"dispatch.ticket.assigned", SLA_ON_ARM},
    {"dispatch.ticket.responded", SLA_ON_RESPONDED}, {"dispatch.ticket.resolved", SLA_ON_RESOLVED},
    {"dispatch.ticket.closed", SLA_ON_STOP},         {"dispatch.ticket.terminated", SLA_ON_STOP},
    {"dispatch.ticket.reopened", SLA_ON_REOPENED},
};

typedef struct {
    sla_monitor_t *monitor;
    sla_action_t action;
} s_binding_t;

struct sla_monitor {
    sla_calendars_t *calendars;           /* the bus thread's cache (calendar_store.h) */
    char calendar[SLA_CALENDAR_NAME_MAX]; /* new clocks count on it (CS_SLA_CALENDAR) */
    sla_policy_t policy; /* minute and warning share; calendar NULL: each clock names its own */
    s_binding_t bindings[SLA_ON_COUNT];
    sla_clock_row_t due[SLA_BATCH]; /* the tick's batch, reused */
    int64_t next_gauges_ms;
    int clocks_changed; /* by a handler since the gauges were refreshed */
};

/* The facts of one dispatch event that the clocks need, checked. */
typedef struct {
    char ticket_id[CS_UUID_LEN];
    char number[SLA_NUMBER_MAX + 1];
    char priority[SLA_PRIORITY_MAX + 1];
    char team[SLA_NAME_MAX + 1];
    char assignee[SLA_NAME_MAX + 1];
    char service_type[SLA_FACT_MAX + 1]; /* stored with the clocks, for reports */
    char tier[SLA_FACT_MAX + 1];
    char channel[SLA_FACT_MAX + 1];
    int64_t received_at_ms;
    int64_t at_ms;
    const char *event_id;
    const char *trace_id;
} s_ticket_t;

/* How clock row counts: the policy with the calendar the row names. A name
   that no longer resolves (a stored definition broken by hand) counts on
   7×24 rather than stopping the stream; the error is logged.
   0, or -1 on a database error. */
static int s_policy_for(sla_monitor_t *self, cs_db_t *db, const char *calendar,
                        sla_policy_t *policy)
{
    char err[300] = "";
    *policy = self->policy;
    int rc = sla_calendars_get(self->calendars, db, calendar, &policy->calendar, err, sizeof(err));
    if (rc < 0)
        return -1;
    if (rc == 0) {
        cs_error("sla: calendar %s unusable (%s); counting on 7x24", calendar, err);
        if (sla_calendars_get(self->calendars, NULL, "7x24", &policy->calendar, err, sizeof(err)) <=
            0)
            return -1;
    }
    return 0;
}

sla_monitor_t *sla_monitor_new(cs_db_t *db)
{
    int64_t warn, minute_s;
    if (cs_env_int("CS_SLA_WARN_PERCENT", 80, 1, 99, &warn) < 0 ||
        cs_env_int("CS_SLA_MINUTE_SECONDS", 60, 1, 3600, &minute_s) < 0 || cs_commitment_load() < 0)
        return NULL;
    const char *calendar = cs_env("CS_SLA_CALENDAR", "7x24");
    if (!sla_calendar_name_ok(calendar)) {
        cs_error("config: CS_SLA_CALENDAR=\"%.70s\" is not a calendar name", calendar);
        return NULL;
    }
    sla_monitor_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->calendars = sla_calendars_new();
    if (!self->calendars)
        goto out_free;
    snprintf(self->calendar, sizeof(self->calendar), "%s", calendar);
    self->policy.minute_ms = minute_s * 1000;
    self->policy.warn_percent = (int)warn;
    /* The default must resolve now: a typo found at the first ticket would
       arm every clock on the fallback. */
    const sla_calendar_t *resolved;
    char err[300] = "";
    int rc = sla_calendars_get(self->calendars, db, calendar, &resolved, err, sizeof(err));
    if (rc <= 0) {
        cs_error("config: CS_SLA_CALENDAR=%s: %s", calendar,
                 rc < 0 ? "the calendars table cannot be read" : err);
        goto out_free;
    }
    cs_info("sla: new clocks count on calendar %s", calendar);
    if (minute_s != 60)
        cs_warn("sla: a minute lasts %lld s (CS_SLA_MINUTE_SECONDS, for tests and demos only)",
                (long long)minute_s);
    cs_metric_declare("cs_sla_clocks", "gauge", "SLA clocks by state.");
    cs_metric_declare("cs_sla_breaches_total", "counter", "SLA clocks breached, by target.");
    cs_metric_declare("cs_sla_warnings_total", "counter", "SLA warnings emitted, by target.");
    return self;
out_free:
    sla_calendars_destroy(&self->calendars);
    free(self);
    return NULL;
}

void sla_monitor_destroy(sla_monitor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sla_calendars_destroy(&(*self_p)->calendars);
    free(*self_p);
    *self_p = NULL;
}

const sla_policy_t *sla_monitor_policy(sla_monitor_t *self)
{
    return &self->policy;
}

const char *sla_monitor_calendar(sla_monitor_t *self)
{
    return self->calendar;
}

/* ---- reading an event --------------------------------------------------------- */

static int s_instant_ok(int64_t ms)
{
    return ms >= SLA_MIN_EVENT_MS && ms <= SLA_MAX_EVENT_MS;
}

/* A short fact of the ticket (service type, tier, channel) into dst
   (SLA_FACT_MAX + 1 bytes), or "" when it is missing or unusable. */
static void s_fact(char *dst, const char *src)
{
    if (src && sla_store_text_ok(src, SLA_FACT_MAX))
        snprintf(dst, SLA_FACT_MAX + 1, "%s", src);
}

/* Take what the clocks need from env; -1 (logged) when the event cannot be
   about a real ticket. Names that do not fit are dropped, not the event. */
static int s_ticket_from(const Cs__Envelope *env, s_ticket_t *t)
{
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te ? te->facts : NULL;
    memset(t, 0, sizeof(*t));
    if (!f || !f->ticket_id || !cs_is_uuid(f->ticket_id)) {
        cs_warn("sla: %s without a ticket id; ignored", env->type);
        return -1;
    }
    if (!f->number || !*f->number || !sla_store_text_ok(f->number, SLA_NUMBER_MAX)) {
        cs_warn("sla: %s for ticket %s without a usable number; ignored", env->type, f->ticket_id);
        return -1;
    }
    snprintf(t->ticket_id, sizeof(t->ticket_id), "%s", f->ticket_id);
    snprintf(t->number, sizeof(t->number), "%s", f->number);
    const char *prio = f->priority ? f->priority : "";
    if (strlen(prio) != 2 || prio[0] != 'P' || prio[1] < '1' || prio[1] > '4') {
        cs_warn("sla: ticket %s has no priority P1..P4; counting it as P3", t->number);
        prio = "P3";
    }
    snprintf(t->priority, sizeof(t->priority), "%s", prio);
    if (f->team && sla_store_text_ok(f->team, SLA_NAME_MAX))
        snprintf(t->team, sizeof(t->team), "%s", f->team);
    if (f->assignee && sla_store_text_ok(f->assignee, SLA_NAME_MAX))
        snprintf(t->assignee, sizeof(t->assignee), "%s", f->assignee);
    s_fact(t->service_type, f->service_type);
    s_fact(t->tier, f->tier);
    s_fact(t->channel, f->channel);
    t->at_ms = s_instant_ok(te->at_ms) ? te->at_ms : env->occurred_at_ms;
    if (!s_instant_ok(t->at_ms)) {
        cs_warn("sla: %s for ticket %s carries no plausible time; ignored", env->type, t->number);
        return -1;
    }
    t->received_at_ms = s_instant_ok(f->received_at_ms) ? f->received_at_ms : t->at_ms;
    t->event_id = env->event_id;
    t->trace_id = env->trace_id;
    return 0;
}

/* ---- clock changes ------------------------------------------------------------- */

/* Arm the ticket's clocks that do not exist yet, and keep its owner current. */
static int s_ensure_clocks(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    cs_commitment_t commit = cs_commitment_for(t->priority);
    sla_policy_t policy;
    if (s_policy_for(self, db, self->calendar, &policy) < 0)
        return -1;
    for (int target = 0; target < SLA_TARGET_COUNT; target++) {
        sla_clock_row_t row;
        memset(&row, 0, sizeof(row));
        int minutes =
            target == SLA_TARGET_FIRST_RESPONSE ? commit.response_min : commit.resolution_min;
        char err[128];
        if (sla_clock_arm(&row.clock, &policy, (sla_target_t)target, t->received_at_ms, minutes,
                          err, sizeof(err)) < 0) {
            cs_error("sla: cannot arm %s of ticket %s: %s", sla_target_name(target), t->number,
                     err);
            return 1; /* the event is unusable, not the database */
        }
        cs_uuid(row.id);
        memcpy(row.ticket_id, t->ticket_id, sizeof(row.ticket_id));
        memcpy(row.number, t->number, sizeof(row.number));
        memcpy(row.priority, t->priority, sizeof(row.priority));
        snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(policy.calendar));
        memcpy(row.team, t->team, sizeof(row.team));
        memcpy(row.assignee, t->assignee, sizeof(row.assignee));
        memcpy(row.service_type, t->service_type, sizeof(row.service_type));
        memcpy(row.tier, t->tier, sizeof(row.tier));
        memcpy(row.channel, t->channel, sizeof(row.channel));
        int rc = sla_store_arm(db, &row);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (sla_store_history(db, &row, "armed", row.clock.started_at_ms, 0, t->event_id) < 0 ||
            sla_store_emit(db, &row, "sla.armed", t->at_ms, 0, 0, t->trace_id) < 0)
            return -1;
        cs_info("sla: ticket %s %s clock armed (%s, %lld min on %s)", t->number,
                sla_target_name(target), t->priority, (long long)minutes, row.policy);
    }
    if (t->team[0] && sla_store_set_owner(db, t->ticket_id, t->team, t->assignee) < 0)
        return -1;
    return 0;
}

/* The commitment behind target was fulfilled at t->at_ms. */
static int s_fulfil(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t, sla_target_t target)
{
    sla_clock_row_t row;
    int rc = sla_store_lock(db, t->ticket_id, target, &row);
    if (rc <= 0)
        return rc;
    sla_fulfil_t outcome = sla_clock_fulfil(&row.clock, t->at_ms);
    if (outcome == SLA_FULFIL_NONE)
        return 0;
    sla_policy_t policy;
    if (sla_store_save(db, &row) < 0 || s_policy_for(self, db, row.policy, &policy) < 0)
        return -1;
    uint32_t pct = sla_clock_percent(&row.clock, &policy, t->at_ms);
    char labels[64];
    switch (outcome) {
    case SLA_FULFIL_MET:
        cs_info("sla: ticket %s %s met at %u %%", t->number, sla_target_name(target), pct);
        if (sla_store_history(db, &row, "met", t->at_ms, pct, t->event_id) == 1 &&
            sla_store_emit(db, &row, "sla.met", t->at_ms, pct, 0, t->trace_id) < 0)
            return -1;
        return 0;
    case SLA_FULFIL_LATE:
        /* The deadline passed before the tick saw it (the monitor was down
           or behind): the breach is recorded, but an escalation for work
           already done would only be noise, so no sla.breached goes out. */
        cs_info("sla: ticket %s %s fulfilled late (%u %%)", t->number, sla_target_name(target),
                pct);
        snprintf(labels, sizeof(labels), "target=\"%s\"", sla_target_name(target));
        if (sla_store_history(db, &row, "breached", row.clock.deadline_ms, 100, t->event_id) == 1)
            cs_counter_add("cs_sla_breaches_total", labels, 1);
        break;
    default:
        break;
    }
    return sla_store_history(db, &row, "fulfilled_late", t->at_ms, pct, t->event_id) < 0 ? -1 : 0;
}

/* The ticket was closed or terminated: its counting clocks stop. */
static int s_stop(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    for (int target = 0; target < SLA_TARGET_COUNT; target++) {
        sla_clock_row_t row;
        int rc = sla_store_lock(db, t->ticket_id, (sla_target_t)target, &row);
        if (rc < 0)
            return -1;
        if (rc == 0 || !sla_clock_stop(&row.clock, t->at_ms))
            continue;
        sla_policy_t policy;
        if (s_policy_for(self, db, row.policy, &policy) < 0)
            return -1;
        uint32_t pct = sla_clock_percent(&row.clock, &policy, t->at_ms);
        if (sla_store_save(db, &row) < 0 ||
            sla_store_history(db, &row, "stopped", t->at_ms, pct, t->event_id) < 0)
            return -1;
        cs_info("sla: ticket %s %s clock stopped", t->number, sla_target_name(target));
    }
    return 0;
}

/* A reopened ticket owes a new resolution, counted from the reopening. */
static int s_reopen(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    sla_clock_row_t row;
    int rc = sla_store_lock(db, t->ticket_id, SLA_TARGET_RESOLUTION, &row);
    if (rc <= 0)
        return rc;
    sla_policy_t policy;
    if (s_policy_for(self, db, row.policy, &policy) < 0)
        return -1;
    rc = sla_clock_rearm(&row.clock, &policy, t->at_ms);
    if (rc <= 0)
        return rc < 0 ? 1 : 0;
    if (sla_store_save(db, &row) < 0 ||
        sla_store_history(db, &row, "armed", t->at_ms, 0, t->event_id) < 0 ||
        sla_store_emit(db, &row, "sla.armed", t->at_ms, 0, 0, t->trace_id) < 0)
        return -1;
    cs_info("sla: ticket %s reopened; resolution clock re-armed (round %d)", t->number,
            row.clock.round);
    return 0;
}

/* One handler for every dispatch.ticket.* event; ctx says what it means. */
static int s_on_ticket_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const s_binding_t *b = ctx;
    sla_monitor_t *self = b->monitor;
    s_ticket_t t;
    if (s_ticket_from(env, &t) < 0)
        return 1;
    int rc = s_ensure_clocks(self, db, &t);
    if (rc != 0)
        return rc;
    switch (b->action) {
    case SLA_ON_RESPONDED:
        rc = s_fulfil(self, db, &t, SLA_TARGET_FIRST_RESPONSE);
        break;
    case SLA_ON_RESOLVED:
        rc = s_fulfil(self, db, &t, SLA_TARGET_FIRST_RESPONSE);
        if (rc == 0)
            rc = s_fulfil(self, db, &t, SLA_TARGET_RESOLUTION);
        break;
    case SLA_ON_STOP:
        rc = s_stop(self, db, &t);
        break;
    case SLA_ON_REOPENED:
        rc = s_reopen(self, db, &t);
        break;
    default:
        break;
    }
    if (rc < 0)
        return -1;
    self->clocks_changed = 1;
    return 0;
}

void sla_monitor_subscribe(sla_monitor_t *self, cs_consumer_t *consumer)
{
    for (int a = 0; a < SLA_ON_COUNT; a++)
        self->bindings[a] = (s_binding_t){self, (sla_action_t)a};
    for (size_t i = 0; i < sizeof(s_subscriptions) / sizeof(s_subscriptions[0]); i++)
        cs_consumer_on(consumer, s_subscriptions[i].type, s_on_ticket_event,
                       &self->bindings[s_subscriptions[i].action]);
}

/* ---- the tick ------------------------------------------------------------------ */

/* Signal one batch of clocks due for `which` in one transaction. Returns the
   number of clocks the query found (a full batch means: call again), or -1;
   *signalled counts the events emitted. */
static int s_signal_batch(sla_monitor_t *self, cs_db_t *db, sla_due_t which, int64_t now_ms,
                          int *signalled)
{
    int breaches[SLA_TARGET_COUNT] = {0}, warnings[SLA_TARGET_COUNT] = {0};
    if (cs_db_begin(db) < 0)
        return -1;
    int n = sla_store_due(db, which, now_ms, self->due, SLA_BATCH);
    if (n < 0)
        goto out_rollback;
    for (int i = 0; i < n; i++) {
        sla_clock_row_t *row = &self->due[i];
        if (sla_clock_due(&row->clock, now_ms) != which)
            continue; /* past both thresholds in the warning pass: the breach comes next */
        sla_clock_mark(&row->clock, which);
        int64_t at = which == SLA_DUE_BREACH ? row->clock.deadline_ms : row->clock.warn_at_ms;
        sla_policy_t policy;
        if (s_policy_for(self, db, row->policy, &policy) < 0)
            goto out_rollback;
        uint32_t pct = sla_clock_percent(&row->clock, &policy, at);
        const char *kind = which == SLA_DUE_BREACH ? "breached" : "warning";
        if (sla_store_save(db, row) < 0)
            goto out_rollback;
        int rc = sla_store_history(db, row, kind, at, pct, NULL);
        if (rc < 0)
            goto out_rollback;
        if (rc == 0)
            continue;
        int level = 0;
        if (which == SLA_DUE_BREACH && (level = sla_store_breached_count(db, row->ticket_id)) < 0)
            goto out_rollback;
        char type[32];
        snprintf(type, sizeof(type), "sla.%s", kind);
        if (sla_store_emit(db, row, type, at, pct, (uint32_t)level, NULL) < 0)
            goto out_rollback;
        (which == SLA_DUE_BREACH ? breaches : warnings)[row->clock.target]++;
        cs_info("sla: ticket %s %s %s at %u %%", row->number, sla_target_name(row->clock.target),
                kind, pct);
    }
    if (cs_db_commit(db) < 0)
        return -1;
    for (int t = 0; t < SLA_TARGET_COUNT; t++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "target=\"%s\"", sla_target_name(t));
        if (breaches[t])
            cs_counter_add("cs_sla_breaches_total", labels, breaches[t]);
        if (warnings[t])
            cs_counter_add("cs_sla_warnings_total", labels, warnings[t]);
        *signalled += breaches[t] + warnings[t];
    }
    return n;
out_rollback:
    cs_db_rollback(db);
    return -1;
}

static void s_refresh_gauges(cs_db_t *db)
{
    PGresult *r = cs_db_exec(db, "SELECT state, count(*) FROM clocks GROUP BY state", 0, NULL);
    if (!r)
        return;
    int64_t counts[SLA_CLOCK_STATE_COUNT] = {0};
    for (int i = 0; i < PQntuples(r); i++) {
        int s = sla_clock_state_parse(cs_db_get(r, i, 0));
        if (s >= 0)
            counts[s] = cs_db_get_i64(r, i, 1);
    }
    PQclear(r);
    for (int s = 0; s < SLA_CLOCK_STATE_COUNT; s++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "state=\"%s\"", sla_clock_state_name(s));
        cs_gauge_set("cs_sla_clocks", labels, (double)counts[s]);
    }
}

int sla_monitor_tick(sla_monitor_t *self, cs_db_t *db, int64_t now_ms)
{
    /* Breaches first: a clock past its deadline gets no late warning. */
    static const sla_due_t passes[] = {SLA_DUE_BREACH, SLA_DUE_WARNING};
    int signalled = 0;
    /* A calendar changed through the API counts from here on (for clocks
       armed, resumed or re-armed after the change). */
    if (sla_calendars_refresh(self->calendars, db) < 0)
        return -1;
    for (size_t p = 0; p < 2; p++) {
        for (int b = 0; b < SLA_BATCHES_PER_TICK; b++) {
            int n = s_signal_batch(self, db, passes[p], now_ms, &signalled);
            if (n < 0)
                return -1;
            if (n < SLA_BATCH)
                break;
        }
    }
    if (signalled > 0 || self->clocks_changed || now_ms >= self->next_gauges_ms) {
        self->clocks_changed = 0;
        s_refresh_gauges(db);
        self->next_gauges_ms = now_ms + SLA_GAUGE_EVERY_MS;
    }
    return signalled;
}
