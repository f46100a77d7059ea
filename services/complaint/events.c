/*
 * events.c - cases opened and escalated from the bus (see events.h).
 *
 * Why: a complaint reaches us three ways and two of them are events; the
 * acceptance and handling deadlines are sla's clocks, and their warnings
 * and breaches are what makes the quality manager look.  Every handler runs
 * inside the consumer's transaction and is keyed by a business key (ticket,
 * survey invitation, clock event), so a replayed or re-delivered event finds
 * its work done and changes nothing.
 */
#include "events.h"

#include <stdio.h>
#include <string.h>
#include "case.h"
#include "case_store.h"
#include "cs_ids.h"
#include "cs_log.h"

static const char *s_str(const char *s)
{
    return s ? s : "";
}

static int s_all_utf8(const char *const *texts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!complaint_text_is_utf8(texts[i]))
            return 0;
    return 1;
}

static int64_t s_received(int64_t at_ms, const Cs__Envelope *env)
{
    if (at_ms > 0)
        return at_ms;
    return env->occurred_at_ms > 0 ? env->occurred_at_ms : cs_now_ms();
}

/* dispatch.ticket.accepted / .reclassified: a complaint ticket opens a case. */
static int s_on_ticket(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const complaint_settings_t *settings = ctx;
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te ? te->facts : NULL;
    if (!f || strcmp(s_str(f->service_type), "complaint") != 0)
        return 1;
    if (!cs_is_uuid(s_str(f->ticket_id)) || !f->number || !f->number[0]) {
        cs_warn("complaint: %s event %s without a valid ticket id or number; ignored", env->type,
                s_str(env->event_id));
        return 1;
    }
    const char *texts[] = {f->number,         f->channel,        f->tier,        f->priority,
                           f->team,           f->subject,        f->customer_id, f->customer_name,
                           f->customer_email, f->customer_phone, f->language};
    if (!s_all_utf8(texts, sizeof(texts) / sizeof(texts[0]))) {
        cs_warn("complaint: %s event %s carries text that is not UTF-8; ignored", env->type,
                s_str(env->event_id));
        return 1;
    }
    complaint_opening_t o = {.source = "ticket",
                             .source_key = f->ticket_id,
                             .ticket_id = f->ticket_id,
                             .ticket_number = f->number,
                             .channel = f->channel,
                             .tier = f->tier,
                             .priority = f->priority,
                             .team = f->team,
                             .subject = f->subject,
                             .customer_id = f->customer_id,
                             .customer_name = f->customer_name,
                             .customer_email = f->customer_email,
                             .customer_phone = f->customer_phone,
                             .language = f->language,
                             .received_at_ms = s_received(f->received_at_ms, env),
                             .accept_hours = settings->accept_hours,
                             .actor = "system"};
    char id[CS_UUID_LEN];
    int rc = case_store_open(db, &o, id);
    if (rc == 0)
        cs_info("complaint: case %s opened for ticket %s", id, f->number);
    return rc;
}

/* survey.low_score: a follow-up case linked to the ticket, once per invitation. */
static int s_on_low_score(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const complaint_settings_t *settings = ctx;
    const Cs__SurveyEvent *se = env->survey_event;
    if (!se)
        return 1;
    const char *key =
        se->invitation_id && se->invitation_id[0] ? se->invitation_id : s_str(env->event_id);
    const char *ticket = s_str(se->ticket_id);
    if (!key[0] || strlen(key) > 64 || (ticket[0] && !cs_is_uuid(ticket)) ||
        strlen(s_str(se->number)) > 64) {
        cs_warn("complaint: survey.low_score %s without a usable invitation or ticket; ignored",
                s_str(env->event_id));
        return 1;
    }
    const char *texts[] = {key,         se->number, se->email, se->name,        se->language,
                           se->comment, se->team,   se->agent, se->service_type};
    if (!s_all_utf8(texts, sizeof(texts) / sizeof(texts[0]))) {
        cs_warn("complaint: survey.low_score %s carries text that is not UTF-8; ignored",
                s_str(env->event_id));
        return 1;
    }
    char subject[96];
    snprintf(subject, sizeof(subject), "low satisfaction score %u/5 on %s", se->satisfaction,
             se->number && se->number[0] ? se->number : "a survey");
    complaint_opening_t o = {
        .source = "survey",
        .source_key = key,
        .ticket_id = ticket,
        .ticket_number = se->number,
        .channel = "survey",
        .team = se->team,
        .subject = subject,
        .description = se->comment,
        .customer_name = se->name,
        .customer_email = se->email,
        .language = se->language,
        .satisfaction = se->satisfaction >= 1 && se->satisfaction <= 5 ? (int)se->satisfaction : 0,
        .received_at_ms = s_received(0, env),
        .accept_hours = settings->accept_hours,
        .actor = "system"};
    char id[CS_UUID_LEN];
    int rc = case_store_open(db, &o, id);
    if (rc == 0)
        cs_info("complaint: follow-up case %s opened from a low survey score", id);
    return rc;
}

/* sla.breached / .escalated on a complaint clock: an overdue complaint goes
   to the quality manager — escalate the case while it still stands in the
   step the clock watches. The breach and sla's level 1 (which comes with
   it) are one escalation; each later level of sla's is one more. A warning
   is not an escalation (the deadline is near, not passed). */
static int s_on_clock(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__ClockEvent *ce = env->clock_event;
    if (!ce || !cs_is_uuid(s_str(ce->complaint_id)))
        return 1;
    complaint_status_t watched;
    const char *target = s_str(ce->target);
    if (strcmp(target, "complaint_acceptance") == 0)
        watched = COMPLAINT_RECEIVED;
    else if (strcmp(target, "complaint_handling") == 0)
        watched = COMPLAINT_HANDLING;
    else
        return 1;
    complaint_status_t status;
    PGresult *row = case_store_lock(db, ce->complaint_id, &status);
    if (!row)
        return -1;
    int known = PQntuples(row) == 1;
    PQclear(row);
    if (!known) {
        cs_warn("complaint: %s for unknown case %s; ignored", env->type, ce->complaint_id);
        return 1;
    }
    if (status != watched) {
        cs_info("complaint: %s on %s for case %s, which is %s now; nothing to escalate", env->type,
                target, ce->complaint_id, complaint_status_name(status));
        return 1;
    }
    const char *clock = cs_is_uuid(s_str(ce->clock_id)) ? ce->clock_id : s_str(env->event_id);
    char key[160], reason[200];
    unsigned level = ce->escalation_level > 1 ? ce->escalation_level : 1;
    snprintf(key, sizeof(key), "%s:overdue:%u", clock, level);
    const char *what = level == 1 ? "deadline passed" : "still overdue";
    snprintf(reason, sizeof(reason), "%s: %s %s", env->type, target, what);
    return case_store_escalate(db, ce->complaint_id, key, reason, "sla");
}

void complaint_events_register(cs_service_t *svc, const complaint_settings_t *settings)
{
    cs_consumer_t *c = cs_service_consumer(svc);
    cs_consumer_on(c, "dispatch.ticket.accepted", s_on_ticket, (void *)settings);
    cs_consumer_on(c, "dispatch.ticket.reclassified", s_on_ticket, (void *)settings);
    cs_consumer_on(c, "survey.low_score", s_on_low_score, (void *)settings);
    cs_consumer_on(c, "sla.breached", s_on_clock, (void *)settings);
    cs_consumer_on(c, "sla.escalated", s_on_clock, (void *)settings);
}
