/*
 * events — see events.h.
 */
#include <stdio.h>
#include <string.h>
#include "cs_log.h"
#include "cs_metrics.h"
#include "events.h"
#include "routing.h"
#include "ticket.h"

void events_declare_metrics(void)
{
    cs_metric_declare("cs_dispatch_tickets_total", "counter",
                      "Tickets accepted, by channel and service type.");
    cs_metric_declare("cs_dispatch_assignments_total", "counter",
                      "Tickets given to an agent, by service type.");
    cs_metric_declare("cs_dispatch_queued_total", "counter",
                      "Tickets queued because no agent fitted, by service type.");
    cs_metric_declare("cs_dispatch_escalations_total", "counter", "Escalations after SLA breach.");
    cs_metric_declare("cs_dispatch_emergencies_total", "counter",
                      "Tickets declared emergencies (level 1 major .. 3 general), by level.");
    cs_metric_declare("cs_dispatch_rules_reloads_total", "counter",
                      "Classification rules files reloaded (result=ok|error).");
    cs_metric_declare("cs_dispatch_actions_total", "counter", "Agent actions, by action.");
    cs_metric_declare("cs_dispatch_events_ignored_total", "counter",
                      "Events not applied (invalid, duplicate, unknown ticket), by reason.");
    cs_metric_declare("cs_dispatch_open_tickets", "gauge",
                      "Tickets not closed or terminated, by status, service type and emergency"
                      " level (0 none, 1 major .. 3 general).");
    cs_metric_declare("cs_dispatch_queued_tickets", "gauge", "Tickets waiting for an agent.");
}

static int s_ignored(const char *reason)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
    cs_counter_add("cs_dispatch_events_ignored_total", labels, 1);
    return 1;
}

/* ---- intake.ticket.created ---------------------------------------------------- */

/* Accept the new ticket t (inserted, status new): route it, then write the
   moves and emit accepted (+ assigned) in this transaction. */
static int s_accept(cs_db_t *db, ticket_t *t, const char *region)
{
    char why[160];
    int routed = routing_assign(db, t, region, NULL);
    if (routed < 0)
        return -1;
    snprintf(why, sizeof(why), "classified %s %s by rule %s (rules v%d)", t->service_type,
             t->priority, t->rule_id, t->rules_version);
    if (ticket_history_add(db, t, "system", "accept", TICKET_NEW, TICKET_ACCEPTED, why, NULL) < 0)
        return -1;
    ticket_event_t ev = {.actor = "system", .from = TICKET_NEW, .reason = why};
    if (routed == 0) {
        /* nobody fits: one event, accepted, saying the ticket waits */
        t->status = TICKET_QUEUED;
        ev.to = TICKET_QUEUED;
        snprintf(why, sizeof(why), "no online agent with skill %s and free capacity",
                 t->service_type);
        if (ticket_save(db, t) < 0 ||
            ticket_history_add(db, t, "system", "queue", TICKET_ACCEPTED, TICKET_QUEUED, why,
                               NULL) < 0 ||
            ticket_emit(db, t, "dispatch.ticket.accepted", &ev) < 0)
            return -1;
        return 0;
    }
    t->status = TICKET_ACCEPTED;
    ev.to = TICKET_ACCEPTED;
    if (ticket_emit(db, t, "dispatch.ticket.accepted", &ev) < 0)
        return -1;
    snprintf(why, sizeof(why), "least-loaded online agent skilled in %s", t->service_type);
    return ticket_move(db, t, TICKET_ASSIGNED, "dispatch.ticket.assigned", "system", "assign", why,
                       NULL);
}

int events_on_ticket_created(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const events_ctx_t *c = ctx;
    char err[128];
    ticket_t *t = ticket_from_created(env->ticket_created, c->rules, err, sizeof(err));
    if (!t) {
        cs_warn("dispatch: event %s not a ticket: %s", env->event_id, err);
        return s_ignored("invalid");
    }
    int rc = ticket_insert(db, t);
    if (rc == 0) {
        cs_info("dispatch: ticket %s already known; event %s ignored", t->number, env->event_id);
        ticket_destroy(&t);
        return s_ignored("duplicate");
    }
    if (rc > 0)
        rc = s_accept(db, t, c->region);
    if (rc == 0 && t->emergency_level > 0)
        rc = events_emergency(db, t, "system", "");
    if (rc == 0) {
        char labels[128];
        snprintf(labels, sizeof(labels), "channel=\"%s\",type=\"%s\"", t->channel, t->service_type);
        cs_counter_add("cs_dispatch_tickets_total", labels, 1);
        snprintf(labels, sizeof(labels), "type=\"%s\"", t->service_type);
        cs_counter_add(t->status == TICKET_QUEUED ? "cs_dispatch_queued_total"
                                                  : "cs_dispatch_assignments_total",
                       labels, 1);
        cs_info("dispatch: ticket %s %s %s %s", t->number, t->service_type, t->priority,
                ticket_status_name(t->status));
    }
    ticket_destroy(&t);
    return rc < 0 ? -1 : 0;
}

/* ---- intake.ticket.customer_replied --------------------------------------------- */

int events_on_customer_replied(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__CustomerReplied *cr = env->customer_replied;
    ticket_t *t = NULL;
    int rc = ticket_load(db, "ticket_id", cr->ticket_id, 1, &t);
    if (rc <= 0)
        return rc < 0 ? -1 : s_ignored("unknown_ticket");
    char key[64];
    const char *reply_key =
        cr->message_id && *cr->message_id
            ? ticket_keep(t, cr->message_id, 998)
            : (snprintf(key, sizeof(key), "at:%lld", (long long)cr->received_at_ms), key);
    char at[24];
    const char *p[] = {t->ticket_id, reply_key, cs_db_i64(at, cr->received_at_ms)};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO customer_replies (ticket_id, reply_key, received_at)"
                          " VALUES ($1, $2, to_timestamp($3::bigint / 1000.0))"
                          " ON CONFLICT DO NOTHING",
                          3, p);
    if (n <= 0) {
        ticket_destroy(&t);
        return n < 0 ? -1 : s_ignored("duplicate");
    }
    const char *text = ticket_keep(t, cr->text, TICKET_MESSAGE_MAX);
    if (t->status == TICKET_PENDING_CUSTOMER)
        rc = ticket_move(db, t, TICKET_IN_PROGRESS, "dispatch.ticket.status_changed", "customer",
                         "customer_reply", "the customer replied", text);
    else if (t->status == TICKET_RESOLVED)
        rc = ticket_move(db, t, TICKET_REOPENED, "dispatch.ticket.reopened", "customer",
                         "customer_reply", "the customer replied after resolution", text);
    else if (t->status == TICKET_CLOSED && cr->reopen_closed)
        /* intake judged the closure recent enough (CS_INTAKE_REOPEN_DAYS); an
           older one gets a new ticket from intake and never comes here */
        rc = ticket_move(db, t, TICKET_REOPENED, "dispatch.ticket.reopened", "customer",
                         "customer_reply", "the customer replied soon after closure", text);
    else
        rc = ticket_history_add(db, t, "customer", "customer_reply", t->status, t->status,
                                "the customer replied", text);
    ticket_destroy(&t);
    return rc < 0 ? -1 : 0;
}

/* ---- sla.breached ------------------------------------------------------------------ */

/* target as a short word, or "unknown" */
static const char *s_target(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 32 || strspn(s, "abcdefghijklmnopqrstuvwxyz_") != n)
        return "unknown";
    return s;
}

/* Who hears of an escalation: the team lead at level 1, the manager above
   (the lead when the team has no manager, and the other way round). */
static int s_escalation_contact(cs_db_t *db, const ticket_t *t, int level, char *login, size_t size)
{
    const char *first = level <= 1 ? "lead" : "manager";
    const char *second = level <= 1 ? "manager" : "lead";
    if (routing_team_contact(db, t->team, first, login, size) < 0)
        return -1;
    if (!*login && routing_team_contact(db, t->team, second, login, size) < 0)
        return -1;
    return 0;
}

int events_emergency(cs_db_t *db, ticket_t *t, const char *actor, const char *why_extra)
{
    /* a major incident goes to the manager at once, the others to the lead */
    char contact[ROUTING_LOGIN_MAX], why[256];
    if (s_escalation_contact(db, t, t->emergency_level == 1 ? 2 : 1, contact, sizeof(contact)) < 0)
        return -1;
    snprintf(why, sizeof(why), "emergency level %d (%s)%s%s", t->emergency_level,
             *t->emergency_rule_id ? t->emergency_rule_id : "declared", *why_extra ? "; " : "",
             why_extra);
    ticket_event_t ev = {.actor = actor,
                         .from = t->status,
                         .to = t->status,
                         .reason = why,
                         .escalation_level = (unsigned)t->escalation_level,
                         .escalated_to = contact};
    if (ticket_history_add(db, t, actor, "emergency", t->status, t->status, why, NULL) < 0 ||
        ticket_emit(db, t, "dispatch.ticket.escalated", &ev) < 0)
        return -1;
    char labels[48];
    snprintf(labels, sizeof(labels), "level=\"%d\"", t->emergency_level);
    cs_counter_add("cs_dispatch_emergencies_total", labels, 1);
    cs_warn("dispatch: ticket %s emergency level %d; %s told", t->number, t->emergency_level,
            *contact ? contact : "nobody (no lead or manager)");
    return 0;
}

/* Does the configuration take a breached ticket from its assignee? */
static int s_reassigns(const events_ctx_t *c, const char *target)
{
    return c->reassign_on_breach == EVENTS_REASSIGN_ALWAYS ||
           (c->reassign_on_breach == EVENTS_REASSIGN_FIRST_RESPONSE &&
            strcmp(target, "first_response") == 0);
}

/* Give the breached ticket t to another agent who fits, keeping its owner.
   0 done or nobody else fits (t unchanged), -1 database error. */
static int s_reassign(cs_db_t *db, ticket_t *t, const events_ctx_t *c, const char *target)
{
    if (!ticket_status_is_workload(t->status) || !*t->assignee)
        return 0;
    char from[ROUTING_LOGIN_MAX], team[64];
    snprintf(from, sizeof(from), "%s", t->assignee);
    snprintf(team, sizeof(team), "%s", t->team);
    int rc = routing_assign(db, t, c->region, from);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        ticket_set(t, &t->team, team); /* nobody else: it stays where it is */
        return 0;
    }
    char why[160];
    snprintf(why, sizeof(why), "%s commitment breached; taken from %s", target, from);
    ticket_event_t ev = {.actor = "sla",
                         .from = t->status,
                         .to = t->status,
                         .reason = why,
                         .escalation_level = (unsigned)t->escalation_level};
    if (ticket_save(db, t) < 0 ||
        ticket_history_add(db, t, "sla", "transfer", t->status, t->status, why, NULL) < 0 ||
        ticket_emit(db, t, "dispatch.ticket.transferred", &ev) < 0)
        return -1;
    cs_warn("dispatch: ticket %s reassigned from %s to %s after a breach", t->number, from,
            t->assignee);
    return 0;
}

/* Mark the ticket at risk (kind warning or breached) for the at-risk queue;
   a breach is never downgraded to a warning. */
static int s_mark_risk(cs_db_t *db, const ticket_t *t, const char *kind, const char *target)
{
    return cs_db_cmd(db,
                     "UPDATE tickets SET at_risk = $2, at_risk_target = $3,"
                     " at_risk_at = now() WHERE ticket_id = $1"
                     " AND NOT (at_risk = 'breached' AND $2 = 'warning')",
                     3, (const char *[]){t->ticket_id, kind, target}) < 0
               ? -1
               : 0;
}

int events_on_sla_warning(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__ClockEvent *ce = env->clock_event;
    ticket_t *t = NULL;
    int rc = ticket_load(db, "ticket_id", ce->ticket_id, 1, &t);
    if (rc <= 0)
        return rc < 0 ? -1 : s_ignored("unknown_ticket");
    if (!ticket_status_is_open(t->status) || t->status == TICKET_RESOLVED) {
        ticket_destroy(&t);
        return s_ignored("ticket_finished");
    }
    const char *target = s_target(ce->target);
    const char *p[] = {t->ticket_id, target, ticket_keep(t, ce->clock_id, 64)};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO risk_marks (ticket_id, target, kind, clock_id)"
                          " VALUES ($1, $2, 'warning', $3) ON CONFLICT DO NOTHING",
                          3, p);
    if (n <= 0) {
        ticket_destroy(&t);
        return n < 0 ? -1 : s_ignored("duplicate");
    }
    char why[128];
    snprintf(why, sizeof(why), "%s commitment at %u %% of its time", target, ce->percent);
    rc = (s_mark_risk(db, t, "warning", target) < 0 ||
          ticket_history_add(db, t, "sla", "warning", t->status, t->status, why, NULL) < 0)
             ? -1
             : 0;
    ticket_destroy(&t);
    return rc;
}

int events_on_sla_breached(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const events_ctx_t *c = ctx;
    const Cs__ClockEvent *ce = env->clock_event;
    ticket_t *t = NULL;
    int rc = ticket_load(db, "ticket_id", ce->ticket_id, 1, &t);
    if (rc <= 0)
        return rc < 0 ? -1 : s_ignored("unknown_ticket");
    if (!ticket_status_is_open(t->status)) {
        ticket_destroy(&t);
        return s_ignored("ticket_finished");
    }
    /* sla.breached raises the ticket one level; sla.escalated (sla's own
       levels, at CS_SLA_ESCALATE_AFTER_MIN after a breach) names the level
       its clock has reached, which escalates only when the ticket is not
       there yet: sla's level 1 comes with the breach that already raised it. */
    if (ce->escalation_level && (int)ce->escalation_level <= t->escalation_level) {
        ticket_destroy(&t);
        return s_ignored("level_reached");
    }
    int level = ce->escalation_level ? (int)ce->escalation_level : t->escalation_level + 1;
    if (level > 9)
        level = 9;
    const char *target = s_target(ce->target);
    char lv[24];
    const char *p[] = {t->ticket_id, target, cs_db_i64(lv, level),
                       ticket_keep(t, ce->clock_id, 64)};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO escalations (ticket_id, target, escalation_level, clock_id)"
                          " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                          4, p);
    if (n <= 0) {
        ticket_destroy(&t);
        return n < 0 ? -1 : s_ignored("duplicate");
    }
    if (level > t->escalation_level)
        t->escalation_level = level;
    char contact[ROUTING_LOGIN_MAX], why[192];
    rc = s_escalation_contact(db, t, level, contact, sizeof(contact));
    snprintf(why, sizeof(why), "%s commitment breached; escalation level %d%s%s", target, level,
             *contact ? "; told " : "", contact);
    ticket_event_t ev = {.actor = "sla",
                         .from = t->status,
                         .to = t->status,
                         .reason = why,
                         .escalation_level = (unsigned)level,
                         .escalated_to = contact};
    if (rc == 0)
        rc = (ticket_save(db, t) < 0 || s_mark_risk(db, t, "breached", target) < 0 ||
              ticket_history_add(db, t, "sla", "escalate", t->status, t->status, why, NULL) < 0 ||
              ticket_emit(db, t, "dispatch.ticket.escalated", &ev) < 0)
                 ? -1
                 : 0;
    if (rc == 0 && s_reassigns(c, target))
        rc = s_reassign(db, t, c, target);
    if (rc == 0) {
        cs_counter_add("cs_dispatch_escalations_total", "", 1);
        cs_warn("dispatch: ticket %s escalated to level %d (%s)", t->number, level, target);
    }
    ticket_destroy(&t);
    return rc;
}

/* ---- the queue ---------------------------------------------------------------------- */

/* Give one queued ticket to an agent if one fits now: 1 assigned, 0 not,
   -1 database error. Its own transaction. */
static int s_assign_queued(cs_db_t *db, const char *ticket_id, const char *region)
{
    ticket_t *t = NULL;
    if (cs_db_begin(db) < 0)
        return -1;
    int rc = ticket_load(db, "ticket_id", ticket_id, 1, &t);
    if (rc > 0 && t->status == TICKET_QUEUED)
        rc = routing_assign(db, t, region, NULL);
    else if (rc > 0)
        rc = 0; /* taken meanwhile (terminated, or another instance) */
    if (rc > 0) {
        char why[160];
        snprintf(why, sizeof(why), "an agent skilled in %s became free", t->service_type);
        rc = ticket_move(db, t, TICKET_ASSIGNED, "dispatch.ticket.assigned", "system", "assign",
                         why, NULL) < 0
                 ? -1
                 : 1;
    }
    if (rc > 0 && cs_db_commit(db) < 0)
        rc = -1;
    else if (rc <= 0)
        cs_db_rollback(db);
    if (rc > 0) {
        char labels[64];
        snprintf(labels, sizeof(labels), "type=\"%s\"", t->service_type);
        cs_counter_add("cs_dispatch_assignments_total", labels, 1);
        cs_info("dispatch: queued ticket %s assigned", t->number);
    }
    ticket_destroy(&t);
    return rc;
}

int events_drain_queue(cs_db_t *db, const events_ctx_t *ctx, int max)
{
    char lim[24];
    PGresult *r = cs_db_exec(db,
                             "SELECT ticket_id FROM tickets WHERE status = 'queued'"
                             " ORDER BY priority, emergency_level = 0, emergency_level,"
                             " received_at LIMIT $1",
                             1, (const char *[]){cs_db_i64(lim, max)});
    if (!r)
        return -1;
    int assigned = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int rc = s_assign_queued(db, cs_db_get(r, i, 0), ctx->region);
        if (rc < 0) {
            assigned = -1;
            break;
        }
        assigned += rc;
    }
    PQclear(r);
    return assigned;
}
