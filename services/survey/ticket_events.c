/*
 * ticket_events.c - the decision about a ticket's survey, taken when the
 * service ends.
 *
 * Why: the survey follows the service (manual 7.1), so dispatch's
 * dispatch.ticket.closed is the trigger, and so is complaint's
 * complaint.feedback_sent (the customer heard how the complaint was handled).
 * The decision is kept in one invitations row per ticket (ticket_id is
 * unique; a complaint without a ticket has its own row by complaint_id):
 *
 *   - the rules that the event alone can judge are applied here: a ticket
 *     terminated, merged or marked spam, and a contact that is a machine or
 *     cannot be reached, give a "skipped" row with the reason;
 *   - otherwise the row is "scheduled" with its send time: the event's time
 *     plus CS_SURVEY_DELAY_MIN, moved to the next daytime moment of the
 *     contact's time zone (daytime_at(), migration 002); sender.c sends it
 *     then, after the rules that depend on the moment (opt-out, quiet period).
 *
 * The same close delivered twice, a complaint's feedback for a ticket that
 * already had its decision, or a second close after a reopen finds the row
 * and changes nothing -- with one exception: a ticket reopened before its
 * invitation went out holds the invitation ("held"), and the next close
 * schedules it again from that close.  A termination turns a scheduled or
 * held invitation into a skip.  The handlers run in the consumer's
 * transaction, so a decision and the checkpoint commit together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "invitation.h"
#include "survey.h"

static const char *s_str(const char *s)
{
    return s ? s : "";
}

/* Valid UTF-8 (NULL counts as empty)?  A fact that is not would make the
   INSERT fail, and a failing event is retried for ever. */
static int s_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s_str(s);
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0 || (n == 2 && *p < 0xC2) || (n == 4 && *p > 0xF4))
            return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        if ((n == 3 && *p == 0xE0 && p[1] < 0xA0) || (n == 3 && *p == 0xED && p[1] >= 0xA0) ||
            (n == 4 && *p == 0xF0 && p[1] < 0x90) || (n == 4 && *p == 0xF4 && p[1] >= 0x90))
            return 0;
        p += n;
    }
    return 1;
}

/* What one event says about the subject of a survey. */
typedef struct {
    const char *ticket_id;    /* NULL: a complaint without a ticket */
    const char *complaint_id; /* NULL: not from a complaint */
    const char *trigger;      /* "ticket_closed" or "complaint_feedback" */
    const char *number;
    const char *email, *phone, *name, *language;
    const char *team, *agent, *service_type, *tier, *customer_id;
    const char *status, *reason; /* how the ticket ended */
    int64_t at_ms;               /* when it ended */
} subject_t;

static int s_subject_usable(const Cs__Envelope *env, const subject_t *s)
{
    if ((s->ticket_id && !cs_is_uuid(s->ticket_id)) ||
        (s->complaint_id && !cs_is_uuid(s->complaint_id)) || (!s->ticket_id && !s->complaint_id) ||
        !s->number || !s->number[0]) {
        cs_warn("survey: %s %s without a valid ticket/complaint id or number; ignored",
                s_str(env->type), s_str(env->event_id));
        return 0;
    }
    const char *texts[] = {s->number,      s->email,        s->phone,  s->name,
                           s->language,    s->team,         s->agent,  s->tier,
                           s->customer_id, s->service_type, s->status, s->reason};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (!s_utf8(texts[i])) {
            cs_warn("survey: %s %s carries text that is not UTF-8; ignored", s_str(env->type),
                    s_str(env->event_id));
            return 0;
        }
    return 1;
}

/* Record the decision for a subject: scheduled (decision SURVEY_INVITE) or
   skipped with its reason.  1 when a row was written, 0 when the subject had
   its decision already, -1 on a database error. */
static int s_decide(cs_db_t *db, survey_state_t *st, const subject_t *s, survey_decision_t d,
                    survey_channel_t channel)
{
    char id[CS_UUID_LEN], at[24], delay[16], dstart[8], dend[8];
    char key[SURVEY_CONTACT_KEY_MAX + 1] = "";
    if (d == SURVEY_INVITE && survey_contact_key(channel, s->email, s->phone, key, sizeof(key)) < 0)
        d = SURVEY_SKIP_NO_CONTACT; /* survey_contact_decide said it was usable: not reached */
    cs_uuid(id);
    snprintf(delay, sizeof(delay), "%d", st->delay_min);
    snprintf(dstart, sizeof(dstart), "%d", st->day_start);
    snprintf(dend, sizeof(dend), "%d", st->day_end);
    const char *p[] = {id,
                       s->ticket_id,
                       s->complaint_id,
                       s->trigger,
                       s->number,
                       d == SURVEY_INVITE ? "scheduled" : "skipped",
                       d == SURVEY_INVITE ? "" : survey_decision_reason(d),
                       s_str(s->email),
                       s_str(s->phone),
                       s_str(s->name),
                       s_str(s->language),
                       s_str(s->team),
                       s_str(s->agent),
                       s_str(s->service_type),
                       s_str(s->tier),
                       s_str(s->customer_id),
                       survey_channel_name(channel),
                       key,
                       cs_db_i64(at, s->at_ms),
                       delay,
                       st->tz,
                       dstart,
                       dend};
    /* a ticket's row is reopened for scheduling only when it was held by a
       reopen and this is the ticket's own close */
    const char *sql =
        s->ticket_id
            ? "INSERT INTO invitations (invitation_id, ticket_id, complaint_id, trigger,"
              " ticket_number, status, skip_reason, email, phone, name, language, team, agent,"
              " service_type, tier, customer_id, channel, contact_key, closed_at, send_at)"
              " SELECT $1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
              " $14, $15, $16, $17, $18, c, CASE WHEN $6 = 'scheduled' THEN"
              " daytime_at(c + make_interval(mins => $20::int), $21, $22::int, $23::int) END"
              " FROM (SELECT to_timestamp($19::bigint / 1000.0) AS c) AS closed"
              /* a complaint's row already kept under another ticket: nothing new */
              " WHERE $3::uuid IS NULL OR NOT EXISTS (SELECT 1 FROM invitations"
              " WHERE complaint_id = $3::uuid)"
              " ON CONFLICT (ticket_id) DO UPDATE SET status = EXCLUDED.status,"
              " skip_reason = EXCLUDED.skip_reason, closed_at = EXCLUDED.closed_at,"
              " send_at = EXCLUDED.send_at, email = EXCLUDED.email, phone = EXCLUDED.phone,"
              " name = EXCLUDED.name, language = EXCLUDED.language, team = EXCLUDED.team,"
              " agent = EXCLUDED.agent, service_type = EXCLUDED.service_type,"
              " tier = EXCLUDED.tier, channel = EXCLUDED.channel,"
              " contact_key = EXCLUDED.contact_key"
              " WHERE invitations.status = 'held' AND EXCLUDED.trigger = 'ticket_closed'"
              " RETURNING invitation_id"
            : "INSERT INTO invitations (invitation_id, ticket_id, complaint_id, trigger,"
              " ticket_number, status, skip_reason, email, phone, name, language, team, agent,"
              " service_type, tier, customer_id, channel, contact_key, closed_at, send_at)"
              " SELECT $1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
              " $14, $15, $16, $17, $18, c, CASE WHEN $6 = 'scheduled' THEN"
              " daytime_at(c + make_interval(mins => $20::int), $21, $22::int, $23::int) END"
              " FROM (SELECT to_timestamp($19::bigint / 1000.0) AS c) AS closed"
              " ON CONFLICT (complaint_id) DO NOTHING RETURNING invitation_id";
    PGresult *r = cs_db_exec(db, sql, 23, p);
    if (!r)
        return -1;
    int written = PQntuples(r) == 1;
    PQclear(r);
    if (!written)
        return 0;
    char labels[96];
    snprintf(labels, sizeof(labels), "outcome=\"%s\"",
             d == SURVEY_INVITE ? "scheduled" : survey_decision_reason(d));
    cs_counter_add("cs_survey_invitations_total", labels, 1);
    cs_info("survey: %s %s: %s", s->ticket_id ? "ticket" : "complaint", s->number,
            d == SURVEY_INVITE ? "invitation scheduled" : survey_decision_reason(d));
    return 1;
}

/* The facts of a dispatch ticket event as a subject; 0, or 1 to ignore. */
static int s_ticket_subject(const Cs__Envelope *env, subject_t *s)
{
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te ? te->facts : NULL;
    memset(s, 0, sizeof(*s));
    if (!f) {
        cs_warn("survey: %s %s without ticket facts; ignored", s_str(env->type),
                s_str(env->event_id));
        return 1;
    }
    s->ticket_id = s_str(f->ticket_id);
    s->trigger = "ticket_closed";
    s->number = f->number;
    s->email = f->customer_email;
    s->phone = f->customer_phone;
    s->name = f->customer_name;
    s->language = f->language;
    s->team = f->team;
    s->agent = f->assignee && f->assignee[0] ? f->assignee : s_str(te->actor);
    s->service_type = f->service_type;
    s->tier = f->tier;
    s->customer_id = f->customer_id;
    s->status = f->status;
    s->reason = te->reason;
    s->at_ms = te->at_ms > 0 ? te->at_ms : env->occurred_at_ms;
    return s_subject_usable(env, s) ? 0 : 1;
}

/* dispatch.ticket.closed */
static int s_on_ticket_closed(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    subject_t s;
    survey_channel_t channel = SURVEY_CHANNEL_NONE;
    if (s_ticket_subject(env, &s))
        return 1;
    survey_decision_t d = survey_ticket_decide(s.status, s.reason);
    if (d == SURVEY_INVITE)
        d = survey_contact_decide(s.email, s.phone, &channel);
    return s_decide(db, ctx, &s, d, channel) < 0 ? -1 : 0;
}

/* dispatch.ticket.terminated: a ticket that was not served is never
   surveyed; an invitation not yet sent (a complaint's, or one held by a
   reopen) is withdrawn with that reason. */
static int s_on_ticket_terminated(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    subject_t s;
    if (s_ticket_subject(env, &s))
        return 1;
    survey_decision_t d = survey_ticket_decide(s.status, s.reason);
    if (d == SURVEY_INVITE)
        d = SURVEY_SKIP_TERMINATED;
    const char *p[] = {s.ticket_id, survey_decision_reason(d)};
    int withdrawn = cs_db_cmd(db,
                              "UPDATE invitations SET status = 'skipped', skip_reason = $2,"
                              " send_at = NULL WHERE ticket_id = $1::uuid"
                              " AND status IN ('scheduled', 'held')",
                              2, p);
    if (withdrawn < 0)
        return -1;
    if (withdrawn > 0) {
        cs_info("survey: ticket %s %s: the invitation not yet sent is withdrawn", s.number,
                survey_decision_reason(d));
        return 0;
    }
    return s_decide(db, ctx, &s, d, SURVEY_CHANNEL_NONE) < 0 ? -1 : 0;
}

/* dispatch.ticket.reopened: the service goes on, so an invitation not yet
   sent waits for the next close. */
static int s_on_ticket_reopened(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    subject_t s;
    if (s_ticket_subject(env, &s))
        return 1;
    int held = cs_db_cmd(db,
                         "UPDATE invitations SET status = 'held', send_at = NULL"
                         " WHERE ticket_id = $1::uuid AND status = 'scheduled'"
                         " AND trigger = 'ticket_closed'",
                         1, (const char *[]){s.ticket_id});
    if (held > 0)
        cs_info("survey: ticket %s reopened: its invitation waits for the next close", s.number);
    return held < 0 ? -1 : 0;
}

/* complaint.feedback_sent: the customer heard the outcome of a complaint;
   ask how it was handled (one survey per ticket all the same). */
static int s_on_complaint_feedback(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const Cs__ComplaintEvent *ce = env->complaint_event;
    survey_channel_t channel = SURVEY_CHANNEL_NONE;
    if (!ce) {
        cs_warn("survey: %s without a complaint; ignored", s_str(env->event_id));
        return 1;
    }
    subject_t s = {
        .ticket_id = ce->ticket_id && ce->ticket_id[0] ? ce->ticket_id : NULL,
        .complaint_id = ce->complaint_id && ce->complaint_id[0] ? ce->complaint_id : NULL,
        .trigger = "complaint_feedback",
        .number = ce->number,
        .email = ce->customer_email,
        .phone = ce->customer_phone,
        .name = ce->customer_name,
        .language = ce->language,
        .team = ce->owner_department,
        .agent = ce->owner && ce->owner[0] ? ce->owner : ce->handler,
        .service_type = "complaint",
        .tier = ce->tier,
        .customer_id = ce->customer_id,
        .at_ms = ce->at_ms > 0 ? ce->at_ms : env->occurred_at_ms,
    };
    if (!s_subject_usable(env, &s))
        return 1;
    survey_decision_t d = survey_contact_decide(s.email, s.phone, &channel);
    return s_decide(db, ctx, &s, d, channel) < 0 ? -1 : 0;
}

void survey_ticket_events_register(survey_state_t *st)
{
    cs_consumer_t *c = cs_service_consumer(st->svc);
    cs_consumer_on(c, "dispatch.ticket.closed", s_on_ticket_closed, st);
    cs_consumer_on(c, "dispatch.ticket.terminated", s_on_ticket_terminated, st);
    cs_consumer_on(c, "dispatch.ticket.reopened", s_on_ticket_reopened, st);
    cs_consumer_on(c, "complaint.feedback_sent", s_on_complaint_feedback, st);
}
