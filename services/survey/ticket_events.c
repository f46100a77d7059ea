/*
 * ticket_events.c - a closed ticket brings one survey_invitation.
 *
 * Why: the survey follows the service (manual 7.1), so dispatch's
 * dispatch.ticket.closed is the trigger.  The decision (send, or skip and
 * why) is made once per ticket and kept: ticket_id is unique, so the same
 * close event delivered twice, or the ticket reopened and closed again,
 * finds the decision already taken and sends nothing.  The handler runs in
 * the consumer's transaction; survey.requested is emitted in it, so notify
 * hears of exactly the invitations that were committed.
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

static int s_facts_usable(const Cs__Envelope *env, const Cs__TicketFacts *f)
{
    if (!cs_is_uuid(s_str(f->ticket_id)) || !f->number || !f->number[0]) {
        cs_warn("survey: closed event %s without a valid ticket id or number; ignored",
                s_str(env->event_id));
        return 0;
    }
    const char *texts[] = {f->number, f->customer_email, f->customer_name, f->language,
                           f->team,   f->assignee,       f->service_type};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (!s_utf8(texts[i])) {
            cs_warn("survey: closed event %s carries text that is not UTF-8; ignored",
                    s_str(env->event_id));
            return 0;
        }
    return 1;
}

/* survey.requested for an invitation just written. */
static int s_emit_requested(cs_db_t *db, const char *id, const Cs__TicketFacts *f,
                            const char *agent, const char *link, int64_t expires_s)
{
    Cs__SurveyEvent ev = CS__SURVEY_EVENT__INIT;
    ev.invitation_id = (char *)id;
    ev.ticket_id = f->ticket_id;
    ev.number = f->number;
    ev.email = (char *)s_str(f->customer_email);
    ev.name = (char *)s_str(f->customer_name);
    ev.language = (char *)s_str(f->language);
    ev.link = (char *)link;
    ev.expires_at_ms = expires_s * 1000;
    ev.team = (char *)s_str(f->team);
    ev.agent = (char *)agent;
    ev.service_type = (char *)s_str(f->service_type);
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
    env.survey_event = &ev;
    return cs_bus_emit(db, "survey.requested", &env);
}

/* dispatch.ticket.closed */
static int s_on_ticket_closed(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    survey_state_t *st = ctx;
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te ? te->facts : NULL;
    if (!f || !s_facts_usable(env, f))
        return 1;
    survey_decision_t decision = survey_invitation_decide(f->customer_email);
    const char *agent = f->assignee && f->assignee[0] ? f->assignee : s_str(te->actor);
    if (!s_utf8(agent))
        agent = "";
    char id[CS_UUID_LEN], closed[24], expires[24];
    cs_uuid(id);
    int64_t expires_s = survey_invitation_expiry_s(cs_now_ms(), st->link_days);
    char *token = NULL, *link = NULL;
    if (decision == SURVEY_INVITE) {
        token = survey_keyring_sign(st->keys, id, expires_s);
        if (!token || asprintf(&link, "%s/s/%s", st->public_url, token) < 0) {
            free(token);
            cs_error("survey: cannot sign the link for ticket %s", f->number);
            return -1;
        }
    }
    int rc = -1;
    const char *p[] = {id,
                       f->ticket_id,
                       f->number,
                       decision == SURVEY_INVITE ? "sent" : "skipped",
                       decision == SURVEY_INVITE ? "" : survey_decision_reason(decision),
                       s_str(f->customer_email),
                       s_str(f->customer_name),
                       s_str(f->language),
                       s_str(f->team),
                       agent,
                       s_str(f->service_type),
                       link ? link : "",
                       link ? survey_keyring_signing_kid(st->keys) : "",
                       cs_db_i64(closed, te->at_ms > 0 ? te->at_ms : env->occurred_at_ms),
                       link ? cs_db_i64(expires, expires_s * 1000) : NULL};
    PGresult *r = cs_db_exec(
        db,
        "INSERT INTO invitations (invitation_id, ticket_id, ticket_number, status, skip_reason,"
        " email, name, language, team, agent, service_type, link, kid, closed_at, expires_at)"
        " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " to_timestamp($14::bigint / 1000.0), to_timestamp($15::bigint / 1000.0))"
        " ON CONFLICT (ticket_id) DO NOTHING RETURNING invitation_id",
        15, p);
    if (!r)
        goto out_free;
    int inserted = PQntuples(r) == 1;
    PQclear(r);
    if (!inserted) {
        rc = 1; /* this ticket had its decision already */
        goto out_free;
    }
    if (decision == SURVEY_INVITE && s_emit_requested(db, id, f, agent, link, expires_s) < 0)
        goto out_free;
    char labels[96];
    snprintf(labels, sizeof(labels), "outcome=\"%s\"",
             decision == SURVEY_INVITE ? "sent" : survey_decision_reason(decision));
    cs_counter_add("cs_survey_invitations_total", labels, 1);
    cs_info("survey: ticket %s: %s", f->number,
            decision == SURVEY_INVITE ? "invitation sent" : survey_decision_reason(decision));
    rc = 0;
out_free:
    free(token);
    free(link);
    return rc;
}

void survey_ticket_events_register(survey_state_t *st)
{
    cs_consumer_on(cs_service_consumer(st->svc), "dispatch.ticket.closed", s_on_ticket_closed, st);
}
