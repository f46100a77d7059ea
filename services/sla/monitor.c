/*
 * monitor — dispatch's ticket events and complaint's events in, sla.*
 * events out (see monitor.h).
 *
 * Every change to a clock goes through the pure model in clock.c; this file
 * only loads the row, asks the model, writes the row back, records the
 * history step and emits the event, all in the one transaction it is given
 * (the consumer's) or opens (the tick's). The history table's unique
 * indexes (a signal once per clock and round, an escalation once per
 * level) are the last guard that a signal goes out once.
 */
#include <stdlib.h>
#include <string.h>
#include "calendar_store.h"
#include "clock_store.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "monitor.h"
#include "policy_store.h"
#include "recompute.h"

#define SLA_BATCH 200 /* clocks signalled per transaction */
#define SLA_BATCHES_PER_TICK 50
#define SLA_GAUGE_EVERY_MS 10000
/* The gauges count every clock (a scan of the table): after a change, no
   sooner than this after the last count, so that a sub-second tick during
   a flood of events does not scan the table several times a second. */
#define SLA_GAUGE_AFTER_CHANGE_MS 2000
/* Instants an event may carry: 2000-01-01 .. 2100-01-01. */
#define SLA_MIN_EVENT_MS 946684800000LL
#define SLA_MAX_EVENT_MS 4102444800000LL
#define SLA_FACT_TEXT_MAX 63
#define SLA_STATUS_PENDING "pending_customer"

typedef enum {
    SLA_ON_ARM,          /* accepted, assigned, transferred, …: the clocks exist, owner current */
    SLA_ON_RESPONDED,    /* first response given (by a person) */
    SLA_ON_RESOLVED,     /* resolution given (a response too, if none was seen) */
    SLA_ON_STOP,         /* closed, terminated */
    SLA_ON_REOPENED,     /* resolution clock re-armed */
    SLA_ON_RECLASSIFIED, /* priority or service type changed: deadlines recomputed */
    SLA_ON_NOTED,        /* a note: to the customer, an update (next-update clock) */
    SLA_ON_COMPLAINT_OPENED,
    SLA_ON_COMPLAINT_ACCEPTED,
    SLA_ON_COMPLAINT_ASSIGNED,
    SLA_ON_COMPLAINT_FEEDBACK_SENT,
    SLA_ON_COMPLAINT_ESCALATED,
    SLA_ON_COMPLAINT_ARCHIVED,
    SLA_ON_COUNT
} sla_action_t;

/* Every dispatch ticket event also pauses or resumes the ticket's clocks
   when it moves the ticket into or out of pending_customer (its
   from_status / to_status), whatever the event: a hold, a customer's
   reply, an agent's answer, a resolution. */
static const struct {
    const char *type;
    sla_action_t action;
} s_subscriptions[] = {
    {"dispatch.ticket.accepted", SLA_ON_ARM},
    {"dispatch.ticket.assigned", SLA_ON_ARM},
    {"dispatch.ticket.status_changed", SLA_ON_ARM},
    {"dispatch.ticket.customer_replied", SLA_ON_ARM},
    {"dispatch.ticket.transferred", SLA_ON_ARM},
    {"dispatch.ticket.escalated", SLA_ON_ARM},
    {"dispatch.ticket.responded", SLA_ON_RESPONDED},
    {"dispatch.ticket.resolved", SLA_ON_RESOLVED},
    {"dispatch.ticket.closed", SLA_ON_STOP},
    {"dispatch.ticket.terminated", SLA_ON_STOP},
    {"dispatch.ticket.reopened", SLA_ON_REOPENED},
    {"dispatch.ticket.reclassified", SLA_ON_RECLASSIFIED},
    {"dispatch.ticket.noted", SLA_ON_NOTED},
    {"complaint.opened", SLA_ON_COMPLAINT_OPENED},
    {"complaint.accepted", SLA_ON_COMPLAINT_ACCEPTED},
    {"complaint.assigned", SLA_ON_COMPLAINT_ASSIGNED},
    {"complaint.feedback_sent", SLA_ON_COMPLAINT_FEEDBACK_SENT},
    {"complaint.escalated", SLA_ON_COMPLAINT_ESCALATED},
    {"complaint.archived", SLA_ON_COMPLAINT_ARCHIVED},
};

typedef struct {
    sla_monitor_t *monitor;
    sla_action_t action;
} s_binding_t;

/* Every clock a ticket can have, in the model's order. */
static const sla_target_t s_ticket_clocks[SLA_TICKET_CLOCKS] = {
    SLA_TARGET_FIRST_RESPONSE, SLA_TARGET_RESOLUTION, SLA_TARGET_NEXT_UPDATE};

struct sla_monitor {
    sla_calendars_t *calendars;           /* the bus thread's cache (calendar_store.h) */
    sla_policies_t *policies;             /* the bus thread's cache (policy_store.h) */
    char calendar[SLA_CALENDAR_NAME_MAX]; /* the built-in policies count on it (CS_SLA_CALENDAR) */
    sla_policy_t policy; /* minute, warning share, escalation; calendar NULL: each clock's own */
    s_binding_t bindings[SLA_ON_COUNT];
    sla_clock_row_t due[SLA_BATCH]; /* the tick's batch, reused */
    int64_t next_gauges_ms;
    int clocks_changed; /* by a handler since the gauges were refreshed */
    int bulk_arm;       /* CS_SLA_BULK_ARM: arming events in runs (s_on_arm_events) */
};

/* The facts of one dispatch event that the clocks need, checked. */
typedef struct {
    char ticket_id[CS_UUID_LEN];
    char number[SLA_NUMBER_MAX + 1];
    char priority[SLA_PRIORITY_MAX + 1];
    char from_priority[SLA_PRIORITY_MAX + 1];
    char service_type[SLA_FACT_TEXT_MAX + 1];
    char tier[SLA_FACT_TEXT_MAX + 1];
    char channel[SLA_FACT_TEXT_MAX + 1];
    char team[SLA_NAME_MAX + 1];
    char assignee[SLA_NAME_MAX + 1];
    int by_person;   /* the actor is an agent, not "system" or a service */
    int to_customer; /* .noted: the note goes to the customer */
    int enters_pending, leaves_pending;
    int64_t received_at_ms;
    int64_t at_ms;
    const char *event_id;
    const char *trace_id;
} s_ticket_t;

/* The facts of one complaint event, checked. */
typedef struct {
    char complaint_id[CS_UUID_LEN];
    char ticket_id[CS_UUID_LEN]; /* the ticket it came from, or "" */
    char number[SLA_NUMBER_MAX + 1];
    char priority[SLA_PRIORITY_MAX + 1];
    char tier[SLA_FACT_TEXT_MAX + 1];
    char team[SLA_NAME_MAX + 1];     /* owner department */
    char assignee[SLA_NAME_MAX + 1]; /* owner */
    int64_t received_at_ms;
    int64_t at_ms;
    int64_t handle_due_ms; /* 0: the policy's handling target */
    const char *event_id;
    const char *trace_id;
} s_complaint_t;

/* How clock row counts: the counting rules with the calendar the row
   names. A name that no longer resolves (a stored definition broken by
   hand) counts on 7×24 rather than stopping the stream; the error is
   logged. 0, or -1 on a database error. */
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

int sla_escalation_parse(const char *text, int64_t minute_ms, sla_policy_t *policy)
{
    policy->escalate_levels = 0;
    if (strcmp(text, "none") == 0)
        return 0;
    char buf[256];
    if (strlen(text) >= sizeof(buf))
        return -1;
    snprintf(buf, sizeof(buf), "%s", text);
    char *save = NULL;
    int64_t last = -1;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int64_t min;
        while (*tok == ' ')
            tok++;
        if (policy->escalate_levels == SLA_ESCALATION_LEVELS_MAX ||
            cs_parse_int(tok, 0, 525600, &min) < 0 || min <= last)
            return -1;
        policy->escalate_after_ms[policy->escalate_levels++] = min * minute_ms;
        last = min;
    }
    return policy->escalate_levels > 0 ? 0 : -1;
}

sla_monitor_t *sla_monitor_new(cs_db_t *db)
{
    int64_t warn, minute_s, bulk;
    if (cs_env_int("CS_SLA_WARN_PERCENT", 80, 1, 99, &warn) < 0 ||
        cs_env_int("CS_SLA_BULK_ARM", 1, 0, 1, &bulk) < 0 ||
        cs_env_int("CS_SLA_MINUTE_SECONDS", 60, 1, 3600, &minute_s) < 0 ||
        sla_policy_defaults_load() < 0)
        return NULL;
    const char *calendar = cs_env("CS_SLA_CALENDAR", "7x24");
    if (!sla_calendar_name_ok(calendar)) {
        cs_error("config: CS_SLA_CALENDAR=\"%.70s\" is not a calendar name", calendar);
        return NULL;
    }
    sla_monitor_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    const char *escalate = cs_env("CS_SLA_ESCALATE_AFTER_MIN", "0,60,240");
    if (sla_escalation_parse(escalate, minute_s * 1000, &self->policy) < 0) {
        cs_error("config: CS_SLA_ESCALATE_AFTER_MIN=\"%.70s\" is not \"none\" or up to %d"
                 " ascending minutes separated by commas (e.g. 0,60,240)",
                 escalate, SLA_ESCALATION_LEVELS_MAX);
        free(self);
        return NULL;
    }
    self->calendars = sla_calendars_new();
    self->policies = sla_policies_new(calendar);
    if (!self->calendars || !self->policies)
        goto out_free;
    snprintf(self->calendar, sizeof(self->calendar), "%s", calendar);
    self->policy.minute_ms = minute_s * 1000;
    self->policy.warn_percent = (int)warn;
    self->bulk_arm = (int)bulk;
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
    if (sla_policies_refresh(self->policies, db) < 0) {
        cs_error("sla: the policies table cannot be read");
        goto out_free;
    }
    cs_info("sla: built-in policies count on calendar %s; %d escalation level(s) after a breach",
            calendar, self->policy.escalate_levels);
    if (minute_s != 60)
        cs_warn("sla: a minute lasts %lld s (CS_SLA_MINUTE_SECONDS, for tests and demos only)",
                (long long)minute_s);
    cs_metric_declare("cs_sla_clocks", "gauge", "SLA clocks by state.");
    cs_metric_declare("cs_sla_breaches_total", "counter", "SLA clocks breached, by target.");
    cs_metric_declare("cs_sla_warnings_total", "counter", "SLA warnings emitted, by target.");
    cs_metric_declare("cs_sla_escalations_total", "counter",
                      "SLA escalation levels emitted after breaches, by target.");
    cs_metric_declare("cs_sla_recomputed_total", "counter",
                      "SLA clocks recomputed (reclassified ticket, policy or calendar change).");
    return self;
out_free:
    sla_policies_destroy(&self->policies);
    sla_calendars_destroy(&self->calendars);
    free(self);
    return NULL;
}

void sla_monitor_destroy(sla_monitor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sla_policies_destroy(&(*self_p)->policies);
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

static int s_priority_ok(const char *p)
{
    return p && strlen(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '4';
}

/* A policy fact (service type, tier, channel) as matching reads it: a
   short lowercase word, or "" (unknown, which only "*" matches). */
static void s_fact(char *dst, size_t size, const char *v)
{
    dst[0] = 0;
    if (v && sla_policy_match_ok(SLA_FACT_SERVICE_TYPE, v) && strcmp(v, "*") != 0)
        snprintf(dst, size, "%s", v);
}

/* Only a person's response counts as the first response: the automatic
   acceptance letter and other steps taken by a service do not. */
static int s_is_person(const char *actor)
{
    static const char *const services[] = {"system", "sla",    "intake",    "dispatch",
                                           "notify", "survey", "complaint", "customer"};
    if (!actor || !*actor)
        return 0;
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
        if (strcmp(actor, services[i]) == 0)
            return 0;
    return 1;
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
    if (!s_priority_ok(prio)) {
        cs_warn("sla: ticket %s has no priority P1..P4; counting it as P3", t->number);
        prio = "P3";
    }
    snprintf(t->priority, sizeof(t->priority), "%s", prio);
    if (s_priority_ok(te->from_priority))
        snprintf(t->from_priority, sizeof(t->from_priority), "%s", te->from_priority);
    s_fact(t->service_type, sizeof(t->service_type), f->service_type);
    s_fact(t->tier, sizeof(t->tier), f->tier);
    s_fact(t->channel, sizeof(t->channel), f->channel);
    if (f->team && sla_store_text_ok(f->team, SLA_NAME_MAX))
        snprintf(t->team, sizeof(t->team), "%s", f->team);
    if (f->assignee && sla_store_text_ok(f->assignee, SLA_NAME_MAX))
        snprintf(t->assignee, sizeof(t->assignee), "%s", f->assignee);
    t->by_person = s_is_person(te->actor);
    t->to_customer = te->to_customer != 0;
    const char *from = te->from_status ? te->from_status : "";
    const char *to = te->to_status ? te->to_status : "";
    t->enters_pending = strcmp(to, SLA_STATUS_PENDING) == 0;
    t->leaves_pending = strcmp(from, SLA_STATUS_PENDING) == 0 && *to && !t->enters_pending;
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

static void s_ticket_facts(const s_ticket_t *t, const char *facts[SLA_FACT_COUNT])
{
    facts[SLA_FACT_PRIORITY] = t->priority;
    facts[SLA_FACT_SERVICE_TYPE] = t->service_type;
    facts[SLA_FACT_TIER] = t->tier;
    facts[SLA_FACT_CHANNEL] = t->channel;
}

/* What a clock of target is owed under terms: its counting rules (with the
   calendar) and its working time. 0, 1 (the terms give nothing usable:
   logged), -1 database error. */
static int s_terms_for(sla_monitor_t *self, cs_db_t *db, const sla_terms_t *terms,
                       sla_target_t target, const char *what, sla_policy_t *counting,
                       int64_t *target_ms)
{
    if (s_policy_for(self, db, sla_policy_calendar_for(terms, target), counting) < 0)
        return -1;
    *target_ms = sla_policy_target_ms(terms, target, counting->calendar, self->policy.minute_ms);
    if (*target_ms < 1) {
        cs_error("sla: %s: policy %s gives %s no working time on calendar %s", what, terms->id,
                 sla_target_name(target), sla_calendar_name(counting->calendar));
        return 1;
    }
    return 0;
}

/* ---- ticket clocks ------------------------------------------------------------- */

/* Arm the ticket's clocks that do not exist yet, under the policy its
   facts match, and keep its owner current. */
static int s_ensure_clocks(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    const char *facts[SLA_FACT_COUNT];
    s_ticket_facts(t, facts);
    sla_terms_t terms;
    sla_policies_choose(self->policies, facts, &terms);
    for (int target = 0; target < SLA_TICKET_TARGETS; target++) {
        sla_clock_row_t row;
        memset(&row, 0, sizeof(row));
        sla_policy_t policy;
        int64_t target_ms;
        int rc =
            s_terms_for(self, db, &terms, (sla_target_t)target, t->number, &policy, &target_ms);
        if (rc != 0)
            return rc;
        char err[128];
        if (sla_clock_arm_ms(&row.clock, &policy, (sla_target_t)target, t->received_at_ms,
                             target_ms, err, sizeof(err)) < 0) {
            cs_error("sla: cannot arm %s of ticket %s: %s", sla_target_name(target), t->number,
                     err);
            return 1; /* the event is unusable, not the database */
        }
        sla_store_clock_id(row.id, t->ticket_id, (sla_target_t)target);
        memcpy(row.ticket_id, t->ticket_id, sizeof(row.ticket_id));
        memcpy(row.number, t->number, sizeof(row.number));
        memcpy(row.priority, t->priority, sizeof(row.priority));
        snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(policy.calendar));
        snprintf(row.policy_id, sizeof(row.policy_id), "%s", terms.id);
        memcpy(row.team, t->team, sizeof(row.team));
        memcpy(row.assignee, t->assignee, sizeof(row.assignee));
        snprintf(row.service_type, sizeof(row.service_type), "%s", t->service_type);
        snprintf(row.tier, sizeof(row.tier), "%s", t->tier);
        snprintf(row.channel, sizeof(row.channel), "%s", t->channel);
        rc = sla_store_arm(db, &row);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (sla_store_history(db, &row, "armed", row.clock.started_at_ms, 0, t->event_id) < 0 ||
            sla_store_emit(db, &row, "sla.armed", t->at_ms, 0, 0, t->trace_id) < 0)
            return -1;
        cs_info("sla: ticket %s %s clock armed (%s, policy %s, %lld min on %s)", t->number,
                sla_target_name(target), t->priority, terms.id, (long long)row.clock.target_minutes,
                row.policy);
    }
    if (t->team[0] && sla_store_set_owner(db, t->ticket_id, t->team, t->assignee) < 0)
        return -1;
    return 0;
}

/* The commitment behind row's target was fulfilled at at_ms. */
static int s_fulfil_row(sla_monitor_t *self, cs_db_t *db, sla_clock_row_t *row, int64_t at_ms,
                        const char *event_id, const char *trace_id)
{
    sla_target_t target = row->clock.target;
    sla_fulfil_t outcome = sla_clock_fulfil(&row->clock, at_ms);
    if (outcome == SLA_FULFIL_NONE)
        return 0;
    sla_policy_t policy;
    if (sla_store_save(db, row) < 0 || s_policy_for(self, db, row->policy, &policy) < 0)
        return -1;
    uint32_t pct = sla_clock_percent(&row->clock, &policy, at_ms);
    int64_t used = sla_clock_used_ms(&row->clock, &policy, at_ms);
    char labels[64];
    switch (outcome) {
    case SLA_FULFIL_MET:
        cs_info("sla: %s %s met at %u %%", row->number, sla_target_name(target), pct);
        if (sla_store_history_fulfilled(db, row, "met", at_ms, pct, event_id, used) == 1 &&
            sla_store_emit(db, row, "sla.met", at_ms, pct, 0, trace_id) < 0)
            return -1;
        return 0;
    case SLA_FULFIL_LATE:
        /* The deadline passed before the tick saw it (the monitor was down
           or behind): the breach is recorded, but an escalation for work
           already done would only be noise, so no sla.breached goes out. */
        cs_info("sla: %s %s fulfilled late (%u %%)", row->number, sla_target_name(target), pct);
        snprintf(labels, sizeof(labels), "target=\"%s\"", sla_target_name(target));
        if (sla_store_history(db, row, "breached", row->clock.deadline_ms, 100, event_id) == 1)
            cs_counter_add("cs_sla_breaches_total", labels, 1);
        break;
    default:
        break;
    }
    return sla_store_history_fulfilled(db, row, "fulfilled_late", at_ms, pct, event_id, used) < 0
               ? -1
               : 0;
}

static int s_fulfil(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t, sla_target_t target)
{
    sla_clock_row_t row;
    int rc = sla_store_lock(db, t->ticket_id, target, &row);
    if (rc <= 0)
        return rc;
    return s_fulfil_row(self, db, &row, t->at_ms, t->event_id, t->trace_id);
}

/* A counting clock stops: the ticket or complaint is finished. */
static int s_stop_row(sla_monitor_t *self, cs_db_t *db, sla_clock_row_t *row, int64_t at_ms,
                      const char *event_id)
{
    if (!sla_clock_stop(&row->clock, at_ms))
        return 0;
    sla_policy_t policy;
    if (s_policy_for(self, db, row->policy, &policy) < 0)
        return -1;
    uint32_t pct = sla_clock_percent(&row->clock, &policy, at_ms);
    if (sla_store_save(db, row) < 0 ||
        sla_store_history(db, row, "stopped", at_ms, pct, event_id) < 0)
        return -1;
    cs_info("sla: %s %s clock stopped", row->number, sla_target_name(row->clock.target));
    return 0;
}

/* The ticket's clock of target, if counting, stops. */
static int s_stop_target(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t, sla_target_t target)
{
    sla_clock_row_t row;
    int rc = sla_store_lock(db, t->ticket_id, target, &row);
    if (rc <= 0)
        return rc;
    return s_stop_row(self, db, &row, t->at_ms, t->event_id);
}

/* The ticket was closed or terminated: its counting clocks stop. */
static int s_stop(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    for (int k = 0; k < SLA_TICKET_CLOCKS; k++) {
        sla_target_t target = s_ticket_clocks[k];
        sla_clock_row_t row;
        int rc = sla_store_lock(db, t->ticket_id, (sla_target_t)target, &row);
        if (rc < 0)
            return -1;
        if (rc > 0 && s_stop_row(self, db, &row, t->at_ms, t->event_id) < 0)
            return -1;
    }
    return 0;
}

/* Waiting for the customer: pause (pause = 1) or resume row at at_ms,
   with its history step and event. */
static int s_pause_row(sla_monitor_t *self, cs_db_t *db, sla_clock_row_t *row, int pause,
                       int64_t at_ms, const char *event_id, const char *trace_id)
{
    sla_policy_t policy;
    if (s_policy_for(self, db, row->policy, &policy) < 0)
        return -1;
    int rc =
        pause ? sla_clock_pause(&row->clock, at_ms) : sla_clock_resume(&row->clock, &policy, at_ms);
    if (rc < 0) {
        cs_warn("sla: %s %s clock cannot be %s at that moment; left as it was", row->number,
                sla_target_name(row->clock.target), pause ? "paused" : "resumed");
        return 0;
    }
    if (rc == 0)
        return 0;
    uint32_t pct = sla_clock_percent(&row->clock, &policy, at_ms);
    if (sla_store_save(db, row) < 0 ||
        sla_store_history(db, row, pause ? "paused" : "resumed", at_ms, pct, event_id) < 0 ||
        sla_store_emit(db, row, pause ? "sla.paused" : "sla.resumed", at_ms, pct, 0, trace_id) < 0)
        return -1;
    cs_info("sla: %s %s clock %s at %u %%", row->number, sla_target_name(row->clock.target),
            pause ? "paused" : "resumed", pct);
    return 0;
}

static int s_pause_ticket(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t, int pause)
{
    for (int k = 0; k < SLA_TICKET_CLOCKS; k++) {
        sla_target_t target = s_ticket_clocks[k];
        sla_clock_row_t row;
        int rc = sla_store_lock(db, t->ticket_id, (sla_target_t)target, &row);
        if (rc < 0)
            return -1;
        if (rc > 0 && s_pause_row(self, db, &row, pause, t->at_ms, t->event_id, t->trace_id) < 0)
            return -1;
    }
    return 0;
}

/* A reopened ticket owes a new resolution, counted from the reopening,
   under the policy its facts match now. */
static int s_reopen(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    sla_clock_row_t row;
    int rc = sla_store_lock(db, t->ticket_id, SLA_TARGET_RESOLUTION, &row);
    if (rc <= 0)
        return rc;
    const char *facts[SLA_FACT_COUNT];
    s_ticket_facts(t, facts);
    sla_terms_t terms;
    sla_policies_choose(self->policies, facts, &terms);
    sla_policy_t policy;
    int64_t target_ms;
    rc = s_terms_for(self, db, &terms, SLA_TARGET_RESOLUTION, t->number, &policy, &target_ms);
    if (rc != 0)
        return rc;
    sla_clock_t next = row.clock;
    next.target_ms = target_ms;
    next.target_minutes = (target_ms + policy.minute_ms - 1) / policy.minute_ms;
    rc = sla_clock_rearm(&next, &policy, t->at_ms);
    if (rc <= 0)
        return rc < 0 ? 1 : 0;
    row.clock = next;
    snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(policy.calendar));
    snprintf(row.policy_id, sizeof(row.policy_id), "%s", terms.id);
    memcpy(row.priority, t->priority, sizeof(row.priority));
    if (sla_store_save(db, &row) < 0 ||
        sla_store_history(db, &row, "armed", t->at_ms, 0, t->event_id) < 0 ||
        sla_store_emit(db, &row, "sla.armed", t->at_ms, 0, 0, t->trace_id) < 0)
        return -1;
    cs_info("sla: ticket %s reopened; resolution clock re-armed (round %d)", t->number,
            row.clock.round);
    return 0;
}

/* Write row (armed just now, or re-armed as a new round) with its history
   step and sla.armed; a ticket waiting for its customer (its resolution
   clock paused) has the new round paused at once. */
static int s_next_update_armed(sla_monitor_t *self, cs_db_t *db, sla_clock_row_t *row,
                               const s_ticket_t *t, int fresh, int ticket_paused)
{
    int rc = fresh ? sla_store_arm(db, row) : sla_store_save(db, row);
    if (rc < 0 || (fresh && rc == 0))
        return rc < 0 ? -1 : 0;
    if (sla_store_history(db, row, "armed", t->at_ms, 0, t->event_id) < 0 ||
        sla_store_emit(db, row, "sla.armed", t->at_ms, 0, 0, t->trace_id) < 0)
        return -1;
    cs_info("sla: ticket %s next_update clock armed (round %d, %lld min on %s)", t->number,
            row->clock.round, (long long)row->clock.target_minutes, row->policy);
    if (ticket_paused && s_pause_row(self, db, row, 1, t->at_ms, t->event_id, t->trace_id) < 0)
        return -1;
    return 0;
}

/* An agent's update to the customer (a person's response, a note sent to
   the customer): the next-update clock's current round is fulfilled (met
   in time, or late) and a new round counts from the update; the first
   response arms the clock. Only while the ticket is open (its resolution
   clock has not stopped: a resolved or closed ticket owes no update), and
   only under a policy with a next-update target. An update no later than
   the current round's start is one already counted (a replay): nothing. */
static int s_next_update(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    sla_clock_row_t res;
    int rc = sla_store_lock(db, t->ticket_id, SLA_TARGET_RESOLUTION, &res);
    if (rc <= 0)
        return rc;
    if (res.clock.stopped_at_ms != 0)
        return 0;
    int ticket_paused = res.clock.state == SLA_CLOCK_PAUSED;
    const char *facts[SLA_FACT_COUNT];
    s_ticket_facts(t, facts);
    sla_terms_t terms;
    sla_policies_choose(self->policies, facts, &terms);
    if (terms.minutes[SLA_TARGET_NEXT_UPDATE] <= 0)
        return 0;
    sla_policy_t counting;
    int64_t target_ms;
    rc = s_terms_for(self, db, &terms, SLA_TARGET_NEXT_UPDATE, t->number, &counting, &target_ms);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    sla_clock_row_t row;
    rc = sla_store_lock(db, t->ticket_id, SLA_TARGET_NEXT_UPDATE, &row);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        memset(&row, 0, sizeof(row));
        char err[128];
        if (sla_clock_arm_ms(&row.clock, &counting, SLA_TARGET_NEXT_UPDATE, t->at_ms, target_ms,
                             err, sizeof(err)) < 0) {
            cs_error("sla: cannot arm next_update of ticket %s: %s", t->number, err);
            return 0;
        }
        sla_store_clock_id(row.id, t->ticket_id, SLA_TARGET_NEXT_UPDATE);
        memcpy(row.ticket_id, t->ticket_id, sizeof(row.ticket_id));
        memcpy(row.number, t->number, sizeof(row.number));
        memcpy(row.priority, t->priority, sizeof(row.priority));
        snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(counting.calendar));
        snprintf(row.policy_id, sizeof(row.policy_id), "%s", terms.id);
        memcpy(row.team, res.team, sizeof(row.team));
        memcpy(row.assignee, res.assignee, sizeof(row.assignee));
        memcpy(row.service_type, res.service_type, sizeof(row.service_type));
        memcpy(row.tier, res.tier, sizeof(row.tier));
        memcpy(row.channel, res.channel, sizeof(row.channel));
        return s_next_update_armed(self, db, &row, t, 1, ticket_paused);
    }
    if (row.clock.started_at_ms >= t->at_ms)
        return 0;
    if (s_fulfil_row(self, db, &row, t->at_ms, t->event_id, t->trace_id) < 0)
        return -1;
    sla_clock_t next = row.clock;
    next.target_ms = target_ms;
    next.target_minutes = (target_ms + counting.minute_ms - 1) / counting.minute_ms;
    rc = sla_clock_rearm(&next, &counting, t->at_ms);
    if (rc <= 0) {
        if (rc < 0)
            cs_warn("sla: ticket %s next_update clock cannot be re-armed at that moment",
                    t->number);
        return 0;
    }
    row.clock = next;
    snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(counting.calendar));
    snprintf(row.policy_id, sizeof(row.policy_id), "%s", terms.id);
    memcpy(row.priority, t->priority, sizeof(row.priority));
    return s_next_update_armed(self, db, &row, t, 0, ticket_paused);
}

/* New priority or service type: the policy is chosen again from the new
   facts, and every clock still counting is recomputed from its original
   start (recompute.h). */
static int s_reclassify(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t)
{
    const char *facts[SLA_FACT_COUNT];
    s_ticket_facts(t, facts);
    sla_terms_t terms;
    sla_policies_choose(self->policies, facts, &terms);
    char note[160];
    snprintf(note, sizeof(note), "reclassified %s -> %s (policy %s)",
             t->from_priority[0] ? t->from_priority : "?", t->priority, terms.id);
    for (int k = 0; k < SLA_TICKET_CLOCKS; k++) {
        sla_target_t target = s_ticket_clocks[k];
        sla_clock_row_t row;
        int rc = sla_store_lock(db, t->ticket_id, (sla_target_t)target, &row);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        /* A policy without a next-update commitment leaves the round
           running under the terms it was armed with. */
        if (target == SLA_TARGET_NEXT_UPDATE && terms.minutes[SLA_TARGET_NEXT_UPDATE] <= 0)
            continue;
        sla_policy_t counting;
        int64_t target_ms;
        rc = s_terms_for(self, db, &terms, (sla_target_t)target, t->number, &counting, &target_ms);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        sla_terms_change_t change = {&counting, target_ms, t->priority, terms.id, note};
        rc = sla_recompute(db, &row, &change, t->at_ms, t->event_id, t->trace_id);
        if (rc < 0)
            return -1;
        if (rc > 0)
            cs_counter_add("cs_sla_recomputed_total", "cause=\"reclassified\"", 1);
    }
    return 0;
}

/* Apply one ticket event t (what action says it means), the caches
   fresh. 0 applied, 1 unusable, -1 database error. */
static int s_ticket_apply(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *t_,
                          sla_action_t action)
{
    const s_ticket_t t = *t_;
    int rc = s_ensure_clocks(self, db, &t);
    if (rc != 0)
        return rc;
    if (t.leaves_pending && s_pause_ticket(self, db, &t, 0) < 0)
        return -1;
    switch (action) {
    case SLA_ON_RESPONDED:
        if (t.by_person) {
            rc = s_fulfil(self, db, &t, SLA_TARGET_FIRST_RESPONSE);
            if (rc == 0)
                rc = s_next_update(self, db, &t);
        } else {
            cs_info("sla: ticket %s: a response by a service is no first response", t.number);
        }
        break;
    case SLA_ON_NOTED:
        if (t.by_person && t.to_customer)
            rc = s_next_update(self, db, &t);
        break;
    case SLA_ON_RESOLVED:
        rc = t.by_person ? s_fulfil(self, db, &t, SLA_TARGET_FIRST_RESPONSE) : 0;
        if (rc == 0)
            rc = s_fulfil(self, db, &t, SLA_TARGET_RESOLUTION);
        if (rc == 0)
            rc = s_stop_target(self, db, &t, SLA_TARGET_NEXT_UPDATE);
        break;
    case SLA_ON_STOP:
        rc = s_stop(self, db, &t);
        break;
    case SLA_ON_REOPENED:
        rc = s_reopen(self, db, &t);
        break;
    case SLA_ON_RECLASSIFIED:
        rc = s_reclassify(self, db, &t);
        break;
    default:
        break;
    }
    if (rc < 0)
        return -1;
    if (t.enters_pending && s_pause_ticket(self, db, &t, 1) < 0)
        return -1;
    self->clocks_changed = 1;
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
    /* A calendar or policy changed through the API counts from the next
       event on: two cheap queries (calendar_store.h, policy_store.h). */
    if (sla_calendars_refresh(self->calendars, db) < 0 ||
        sla_policies_refresh(self->policies, db) < 0)
        return -1;
    return s_ticket_apply(self, db, &t, b->action);
}

/* ---- arming in bulk ------------------------------------------------------------ */

/* A run of arming events (accepted, assigned, …: SLA_ON_ARM) whose
   tickets are all different and none of which moves its ticket into or
   out of pending_customer: their clocks are armed in two statements
   (sla_store_arm_many) and their owners kept current in a third — the
   very rows, history steps and sla.armed events that s_ensure_clocks()
   would write event after event, in the same order. */
static int s_arm_run(sla_monitor_t *self, cs_db_t *db, const s_ticket_t *ts, size_t n,
                     sla_clock_row_t *rows, const char **sources, int *inserted,
                     const char **owners, const char **teams, const char **assignees)
{
    size_t nrows = 0, nowners = 0;
    int *usable = calloc(n ? n : 1, sizeof(*usable));
    size_t *first = calloc(n ? n : 1, sizeof(*first)); /* ts[i]'s rows: first[i] .. first[i+1] */
    int rc = -1;
    if (!usable || !first)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const s_ticket_t *t = &ts[i];
        const char *facts[SLA_FACT_COUNT];
        s_ticket_facts(t, facts);
        sla_terms_t terms;
        sla_policies_choose(self->policies, facts, &terms);
        first[i] = nrows;
        usable[i] = 1;
        for (int target = 0; target < SLA_TICKET_TARGETS && usable[i]; target++) {
            sla_clock_row_t *row = &rows[nrows];
            memset(row, 0, sizeof(*row));
            sla_policy_t policy;
            int64_t target_ms;
            int r =
                s_terms_for(self, db, &terms, (sla_target_t)target, t->number, &policy, &target_ms);
            if (r < 0)
                goto out;
            char err[128];
            if (r > 0 || sla_clock_arm_ms(&row->clock, &policy, (sla_target_t)target,
                                          t->received_at_ms, target_ms, err, sizeof(err)) < 0) {
                if (r == 0)
                    cs_error("sla: cannot arm %s of ticket %s: %s", sla_target_name(target),
                             t->number, err);
                usable[i] = 0; /* as s_ensure_clocks: the rows before stand, no owner update */
                break;
            }
            sla_store_clock_id(row->id, t->ticket_id, (sla_target_t)target);
            memcpy(row->ticket_id, t->ticket_id, sizeof(row->ticket_id));
            memcpy(row->number, t->number, sizeof(row->number));
            memcpy(row->priority, t->priority, sizeof(row->priority));
            snprintf(row->policy, sizeof(row->policy), "%s", sla_calendar_name(policy.calendar));
            snprintf(row->policy_id, sizeof(row->policy_id), "%s", terms.id);
            memcpy(row->team, t->team, sizeof(row->team));
            memcpy(row->assignee, t->assignee, sizeof(row->assignee));
            snprintf(row->service_type, sizeof(row->service_type), "%s", t->service_type);
            snprintf(row->tier, sizeof(row->tier), "%s", t->tier);
            snprintf(row->channel, sizeof(row->channel), "%s", t->channel);
            sources[nrows] = t->event_id;
            nrows++;
        }
    }
    int armed = nrows > 0 ? sla_store_arm_many(db, rows, nrows, sources, inserted) : 0;
    if (armed < 0)
        goto out;
    if (n > 1)
        cs_info("sla: %zu arming events in one run: %d clocks armed", n, armed);
    for (size_t i = 0; i < n; i++) {
        const s_ticket_t *t = &ts[i];
        size_t end = i + 1 < n ? first[i + 1] : nrows;
        int all_new = end - first[i] == SLA_TICKET_TARGETS;
        for (size_t k = first[i]; k < end; k++) {
            sla_clock_row_t *row = &rows[k];
            if (!inserted[k]) {
                all_new = 0;
                continue;
            }
            if (sla_store_emit(db, row, "sla.armed", t->at_ms, 0, 0, t->trace_id) < 0)
                goto out;
            cs_info("sla: ticket %s %s clock armed (%s, policy %s, %lld min on %s)", t->number,
                    sla_target_name(row->clock.target), t->priority, row->policy_id,
                    (long long)row->clock.target_minutes, row->policy);
        }
        /* Clocks armed just now carry this event's owner already. */
        if (usable[i] && t->team[0] && !all_new) {
            owners[nowners] = t->ticket_id;
            teams[nowners] = t->team;
            assignees[nowners] = t->assignee;
            nowners++;
        }
    }
    if (sla_store_set_owner_many(db, owners, teams, assignees, nowners) < 0)
        goto out;
    self->clocks_changed = 1;
    rc = 0;
out:
    free(usable);
    free(first);
    return rc;
}

/* The batch handler of the arming events (cs_consumer_on_batch): runs of
   them go through s_arm_run; an event that pauses or resumes, or a second
   event about a ticket already in the run, closes the run and is applied
   on its own — so the outcome is exactly that of s_on_ticket_event() event
   after event (tests/integration/test_sla_bulk.py compares both). */
static int s_on_arm_events(cs_db_t *db, const Cs__Envelope *const *envs, size_t n, void *ctx)
{
    const s_binding_t *b = ctx;
    sla_monitor_t *self = b->monitor;
    if (sla_calendars_refresh(self->calendars, db) < 0 ||
        sla_policies_refresh(self->policies, db) < 0)
        return -1;
    s_ticket_t *ts = calloc(n, sizeof(*ts));
    sla_clock_row_t *rows = calloc(n * SLA_TICKET_TARGETS, sizeof(*rows));
    const char **strs = calloc(n * (SLA_TICKET_TARGETS + 3), sizeof(*strs));
    int *inserted = calloc(n * SLA_TICKET_TARGETS, sizeof(*inserted));
    int rc = -1;
    if (!ts || !rows || !strs || !inserted)
        goto out;
    const char **sources = strs, **owners = strs + n * SLA_TICKET_TARGETS;
    const char **teams = owners + n, **assignees = teams + n;
    size_t run = 0;
    for (size_t i = 0; i <= n; i++) {
        s_ticket_t *t = &ts[run];
        int alone = 0, usable = 0;
        if (i < n) {
            usable = s_ticket_from(envs[i], t) == 0;
            alone = usable && (t->enters_pending || t->leaves_pending);
            for (size_t k = 0; usable && !alone && k < run; k++)
                alone = strcmp(ts[k].ticket_id, t->ticket_id) == 0;
        }
        if ((i == n || alone) && run > 0) {
            /* the run so far goes first; the event stays at ts[run] */
            if (s_arm_run(self, db, ts, run, rows, sources, inserted, owners, teams, assignees) < 0)
                goto out;
            if (i < n)
                ts[0] = *t;
            run = 0;
        }
        if (i == n || !usable)
            continue;
        if (alone) {
            if (s_ticket_apply(self, db, &ts[0], b->action) < 0)
                goto out;
            continue;
        }
        run++;
    }
    rc = 0;
out:
    free(ts);
    free(rows);
    free(strs);
    free(inserted);
    return rc;
}

/* ---- complaint clocks ---------------------------------------------------------- */

static int s_complaint_from(const Cs__Envelope *env, s_complaint_t *c)
{
    const Cs__ComplaintEvent *ce = env->complaint_event;
    memset(c, 0, sizeof(*c));
    if (!ce || !ce->complaint_id || !cs_is_uuid(ce->complaint_id)) {
        cs_warn("sla: %s without a complaint id; ignored", env->type);
        return -1;
    }
    snprintf(c->complaint_id, sizeof(c->complaint_id), "%s", ce->complaint_id);
    if (ce->ticket_id && cs_is_uuid(ce->ticket_id))
        snprintf(c->ticket_id, sizeof(c->ticket_id), "%s", ce->ticket_id);
    /* The complaint's number names its clocks; its id when it has none. */
    const char *number = ce->number && *ce->number && sla_store_text_ok(ce->number, SLA_NUMBER_MAX)
                             ? ce->number
                             : c->complaint_id;
    snprintf(c->number, sizeof(c->number), "%s", number);
    snprintf(c->priority, sizeof(c->priority), "%s",
             s_priority_ok(ce->priority) ? ce->priority : "P3");
    s_fact(c->tier, sizeof(c->tier), ce->tier);
    if (ce->owner_department && sla_store_text_ok(ce->owner_department, SLA_NAME_MAX))
        snprintf(c->team, sizeof(c->team), "%s", ce->owner_department);
    if (ce->owner && sla_store_text_ok(ce->owner, SLA_NAME_MAX))
        snprintf(c->assignee, sizeof(c->assignee), "%s", ce->owner);
    c->at_ms = s_instant_ok(ce->at_ms) ? ce->at_ms : env->occurred_at_ms;
    if (!s_instant_ok(c->at_ms)) {
        cs_warn("sla: %s for complaint %s carries no plausible time; ignored", env->type,
                c->number);
        return -1;
    }
    c->received_at_ms = s_instant_ok(ce->received_at_ms) && ce->received_at_ms <= c->at_ms
                            ? ce->received_at_ms
                            : c->at_ms;
    /* A handling deadline the owner set, when it lies after the event. */
    if (s_instant_ok(ce->handle_due_ms) && ce->handle_due_ms > c->at_ms)
        c->handle_due_ms = ce->handle_due_ms;
    c->event_id = env->event_id;
    c->trace_id = env->trace_id;
    return 0;
}

/* The policy of a complaint: its priority and tier, service type
   "complaint", channel unknown. */
static void s_complaint_terms(sla_monitor_t *self, const s_complaint_t *c, sla_terms_t *terms)
{
    const char *facts[SLA_FACT_COUNT] = {c->priority, "complaint", c->tier, ""};
    sla_policies_choose(self->policies, facts, terms);
}

/* What the complaint's clock of target counts: the handling deadline its
   owner set (real time, on 7x24), else the policy's target. 0, 1, -1. */
static int s_complaint_counting(sla_monitor_t *self, cs_db_t *db, const s_complaint_t *c,
                                sla_target_t target, int64_t start_ms, sla_policy_t *counting,
                                int64_t *target_ms, char *policy_id, size_t policy_id_size)
{
    if (target == SLA_TARGET_COMPLAINT_HANDLING && c->handle_due_ms > start_ms) {
        if (s_policy_for(self, db, "7x24", counting) < 0)
            return -1;
        *target_ms = c->handle_due_ms - start_ms;
        snprintf(policy_id, policy_id_size, "owner-deadline");
        return 0;
    }
    sla_terms_t terms;
    s_complaint_terms(self, c, &terms);
    snprintf(policy_id, policy_id_size, "%s", terms.id);
    return s_terms_for(self, db, &terms, target, c->number, counting, target_ms);
}

/* Arm the complaint's clock of target from start_ms unless it exists:
   1 armed, 0 it existed, -1 database error. */
static int s_complaint_arm(sla_monitor_t *self, cs_db_t *db, const s_complaint_t *c,
                           sla_target_t target, int64_t start_ms)
{
    sla_clock_row_t row;
    memset(&row, 0, sizeof(row));
    sla_policy_t counting;
    int64_t target_ms;
    int rc = s_complaint_counting(self, db, c, target, start_ms, &counting, &target_ms,
                                  row.policy_id, sizeof(row.policy_id));
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    char err[128];
    if (sla_clock_arm_ms(&row.clock, &counting, target, start_ms, target_ms, err, sizeof(err)) <
        0) {
        cs_error("sla: cannot arm %s of complaint %s: %s", sla_target_name(target), c->number, err);
        return 0;
    }
    sla_store_clock_id(row.id, c->complaint_id, target);
    memcpy(row.complaint_id, c->complaint_id, sizeof(row.complaint_id));
    memcpy(row.ticket_id, c->ticket_id, sizeof(row.ticket_id));
    memcpy(row.number, c->number, sizeof(row.number));
    memcpy(row.priority, c->priority, sizeof(row.priority));
    snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(counting.calendar));
    memcpy(row.team, c->team, sizeof(row.team));
    memcpy(row.assignee, c->assignee, sizeof(row.assignee));
    rc = sla_store_arm(db, &row);
    if (rc <= 0)
        return rc;
    if (sla_store_history(db, &row, "armed", start_ms, 0, c->event_id) < 0 ||
        sla_store_emit(db, &row, "sla.armed", c->at_ms, 0, 0, c->trace_id) < 0)
        return -1;
    cs_info("sla: complaint %s %s clock armed (%lld min on %s)", c->number, sla_target_name(target),
            (long long)row.clock.target_minutes, row.policy);
    return 1;
}

/* Back to handling: the current round ends (stopped if it still counted)
   and a new one starts at the escalation, with the owner's new deadline
   or the policy's target. */
static int s_complaint_rearm(sla_monitor_t *self, cs_db_t *db, const s_complaint_t *c)
{
    sla_clock_row_t row;
    int rc = sla_store_lock_complaint(db, c->complaint_id, SLA_TARGET_COMPLAINT_HANDLING, &row);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return s_complaint_arm(self, db, c, SLA_TARGET_COMPLAINT_HANDLING, c->at_ms) < 0 ? -1 : 0;
    if (row.clock.stopped_at_ms > c->at_ms || row.clock.started_at_ms >= c->at_ms)
        return 0; /* a replay of an escalation already applied */
    if (s_stop_row(self, db, &row, c->at_ms, c->event_id) < 0)
        return -1;
    sla_policy_t counting;
    int64_t target_ms;
    char policy_id[SLA_POLICY_ID_MAX + 1];
    rc = s_complaint_counting(self, db, c, SLA_TARGET_COMPLAINT_HANDLING, c->at_ms, &counting,
                              &target_ms, policy_id, sizeof(policy_id));
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    sla_clock_t next = row.clock;
    next.target_ms = target_ms;
    next.target_minutes = (target_ms + counting.minute_ms - 1) / counting.minute_ms;
    rc = sla_clock_rearm(&next, &counting, c->at_ms);
    if (rc <= 0)
        return 0;
    row.clock = next;
    snprintf(row.policy, sizeof(row.policy), "%s", sla_calendar_name(counting.calendar));
    snprintf(row.policy_id, sizeof(row.policy_id), "%s", policy_id);
    if (c->team[0])
        memcpy(row.team, c->team, sizeof(row.team));
    if (c->assignee[0])
        memcpy(row.assignee, c->assignee, sizeof(row.assignee));
    if (sla_store_save(db, &row) < 0 ||
        sla_store_history(db, &row, "armed", c->at_ms, 0, c->event_id) < 0 ||
        sla_store_emit(db, &row, "sla.armed", c->at_ms, 0, 0, c->trace_id) < 0)
        return -1;
    cs_info("sla: complaint %s back to handling; handling clock re-armed (round %d)", c->number,
            row.clock.round);
    return 0;
}

static int s_complaint_fulfil(sla_monitor_t *self, cs_db_t *db, const s_complaint_t *c,
                              sla_target_t target)
{
    sla_clock_row_t row;
    int rc = sla_store_lock_complaint(db, c->complaint_id, target, &row);
    if (rc <= 0)
        return rc;
    return s_fulfil_row(self, db, &row, c->at_ms, c->event_id, c->trace_id);
}

static int s_complaint_stop(sla_monitor_t *self, cs_db_t *db, const s_complaint_t *c)
{
    for (int target = SLA_TARGET_COMPLAINT_ACCEPTANCE; target < SLA_TARGET_COUNT; target++) {
        sla_clock_row_t row;
        int rc = sla_store_lock_complaint(db, c->complaint_id, (sla_target_t)target, &row);
        if (rc < 0)
            return -1;
        if (rc > 0 && s_stop_row(self, db, &row, c->at_ms, c->event_id) < 0)
            return -1;
    }
    return 0;
}

/* One handler for the complaint.* events sla keeps clocks for. */
static int s_on_complaint_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const s_binding_t *b = ctx;
    sla_monitor_t *self = b->monitor;
    s_complaint_t c;
    if (s_complaint_from(env, &c) < 0)
        return 1;
    if (sla_calendars_refresh(self->calendars, db) < 0 ||
        sla_policies_refresh(self->policies, db) < 0)
        return -1;
    /* Every step of a complaint presumes it was received: the acceptance
       clock exists whatever event is seen first. */
    int rc = s_complaint_arm(self, db, &c, SLA_TARGET_COMPLAINT_ACCEPTANCE, c.received_at_ms);
    if (rc < 0)
        return -1;
    switch (b->action) {
    case SLA_ON_COMPLAINT_ACCEPTED:
        rc = s_complaint_fulfil(self, db, &c, SLA_TARGET_COMPLAINT_ACCEPTANCE);
        break;
    case SLA_ON_COMPLAINT_ASSIGNED:
        rc = s_complaint_arm(self, db, &c, SLA_TARGET_COMPLAINT_HANDLING, c.at_ms);
        break;
    case SLA_ON_COMPLAINT_FEEDBACK_SENT:
        rc = s_complaint_fulfil(self, db, &c, SLA_TARGET_COMPLAINT_HANDLING);
        break;
    case SLA_ON_COMPLAINT_ESCALATED:
        rc = s_complaint_rearm(self, db, &c);
        break;
    case SLA_ON_COMPLAINT_ARCHIVED:
        rc = s_complaint_stop(self, db, &c);
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
    for (size_t i = 0; i < sizeof(s_subscriptions) / sizeof(s_subscriptions[0]); i++) {
        sla_action_t a = s_subscriptions[i].action;
        if (a == SLA_ON_ARM && self->bulk_arm)
            cs_consumer_on_batch(consumer, s_subscriptions[i].type, s_on_arm_events,
                                 &self->bindings[a]);
        else
            cs_consumer_on(consumer, s_subscriptions[i].type,
                           a >= SLA_ON_COMPLAINT_OPENED ? s_on_complaint_event : s_on_ticket_event,
                           &self->bindings[a]);
    }
}

/* ---- the tick ------------------------------------------------------------------ */

static const char *s_due_kind(sla_due_t due)
{
    return due == SLA_DUE_BREACH ? "breached" : due == SLA_DUE_WARNING ? "warning" : "escalated";
}

/* Signal one step (which) of row, due at now_ms, and count it. 1
   signalled, 0 already signalled (the history said so), -1. */
static int s_signal(cs_db_t *db, sla_clock_row_t *row, sla_due_t which, const sla_policy_t *policy,
                    int counts[3][SLA_TARGET_COUNT])
{
    int64_t at = sla_clock_due_at(&row->clock, which);
    sla_clock_mark(&row->clock, policy, which);
    uint32_t pct = sla_clock_percent(&row->clock, policy, at);
    const char *kind = s_due_kind(which);
    if (sla_store_save(db, row) < 0)
        return -1;
    int level = which == SLA_DUE_ESCALATION ? row->clock.escalation_level : 0;
    int rc = sla_store_history_ex(db, row, kind, at, pct, NULL, level, NULL);
    if (rc <= 0)
        return rc;
    if (which == SLA_DUE_BREACH) {
        /* The ticket's escalation level as dispatch reads it: how many of
           its clocks are breached now. */
        level = row->complaint_id[0] ? 1 : sla_store_breached_count(db, row->ticket_id);
        if (level < 0)
            return -1;
    }
    char type[32];
    snprintf(type, sizeof(type), "sla.%s", which == SLA_DUE_ESCALATION ? "escalated" : kind);
    if (sla_store_emit(db, row, type, at, pct, (uint32_t)level, NULL) < 0)
        return -1;
    counts[which - 1][row->clock.target]++;
    if (which == SLA_DUE_ESCALATION)
        cs_warn("sla: %s %s escalated to level %d", row->number, sla_target_name(row->clock.target),
                level);
    else
        cs_info("sla: %s %s %s at %u %%", row->number, sla_target_name(row->clock.target), kind,
                pct);
    return 1;
}

/* Signal one batch of clocks due for `which` in one transaction. Returns the
   number of clocks the query found (a full batch means: call again), or -1;
   *signalled counts the events emitted. */
static int s_signal_batch(sla_monitor_t *self, cs_db_t *db, sla_due_t which, int64_t now_ms,
                          int *signalled)
{
    static const char *const metrics[3] = {"cs_sla_warnings_total", "cs_sla_breaches_total",
                                           "cs_sla_escalations_total"};
    int counts[3][SLA_TARGET_COUNT];
    memset(counts, 0, sizeof(counts));
    if (cs_db_begin(db) < 0)
        return -1;
    int n = sla_store_due(db, which, now_ms, self->due, SLA_BATCH);
    if (n < 0)
        goto out_rollback;
    for (int i = 0; i < n; i++) {
        sla_clock_row_t *row = &self->due[i];
        sla_policy_t policy;
        if (s_policy_for(self, db, row->policy, &policy) < 0)
            goto out_rollback;
        /* Several escalation levels may have come due while the monitor
           was down: each goes out now, once, in order. */
        while (sla_clock_due(&row->clock, now_ms) == which) {
            if (s_signal(db, row, which, &policy, counts) < 0)
                goto out_rollback;
            if (which != SLA_DUE_ESCALATION)
                break;
        }
    }
    if (cs_db_commit(db) < 0)
        return -1;
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < SLA_TARGET_COUNT; t++) {
            if (!counts[k][t])
                continue;
            char labels[64];
            snprintf(labels, sizeof(labels), "target=\"%s\"", sla_target_name(t));
            cs_counter_add(metrics[k], labels, counts[k][t]);
            *signalled += counts[k][t];
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
    /* Breaches first: a clock past its deadline gets no late warning; then
       the escalations, a breach of this very tick's included. */
    static const sla_due_t passes[] = {SLA_DUE_BREACH, SLA_DUE_WARNING, SLA_DUE_ESCALATION};
    int signalled = 0;
    /* A calendar changed through the API counts from here on. */
    if (sla_calendars_refresh(self->calendars, db) < 0)
        return -1;
    for (size_t p = 0; p < sizeof(passes) / sizeof(passes[0]); p++) {
        for (int b = 0; b < SLA_BATCHES_PER_TICK; b++) {
            int n = s_signal_batch(self, db, passes[p], now_ms, &signalled);
            if (n < 0)
                return -1;
            if (n < SLA_BATCH)
                break;
        }
    }
    if (signalled > 0)
        self->clocks_changed = 1;
    if (now_ms >= self->next_gauges_ms ||
        (self->clocks_changed &&
         now_ms >= self->next_gauges_ms - SLA_GAUGE_EVERY_MS + SLA_GAUGE_AFTER_CHANGE_MS)) {
        self->clocks_changed = 0;
        s_refresh_gauges(db);
        self->next_gauges_ms = now_ms + SLA_GAUGE_EVERY_MS;
    }
    return signalled;
}
