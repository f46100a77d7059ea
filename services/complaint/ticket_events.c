/*
 * ticket_events.c - open a complaint_case when dispatch accepts a complaint.
 *
 * Why: dispatch classifies every ticket; a ticket whose service type is
 * "complaint" starts the six-step complaint process here, with the 24-hour
 * acceptance deadline counted from when the customer's request was received
 * (not from when this event arrived).  The handler runs inside the
 * consumer's transaction; the ticket id is the business key, so a replayed
 * or re-delivered event finds the case already there and changes nothing.
 */
#include "ticket_events.h"

#include <string.h>
#include "case.h"
#include "case_store.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"

static const char *s_str(const char *s)
{
    return s ? s : "";
}

/* dispatch.ticket.accepted: open a case for a complaint ticket. */
static int s_on_ticket_accepted(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const complaint_settings_t *settings = ctx;
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te ? te->facts : NULL;
    if (!f || strcmp(s_str(f->service_type), "complaint") != 0)
        return 1;
    if (!cs_is_uuid(s_str(f->ticket_id)) || !f->number || !f->number[0]) {
        cs_warn("complaint: accepted event %s without a valid ticket id or number; ignored",
                s_str(env->event_id));
        return 1;
    }
    const char *texts[] = {f->number,         f->channel, f->tier,        f->priority,
                           f->team,           f->subject, f->customer_id, f->customer_name,
                           f->customer_email, f->language};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (!complaint_text_is_utf8(texts[i])) {
            cs_warn("complaint: accepted event %s carries text that is not UTF-8; ignored",
                    s_str(env->event_id));
            return 1;
        }
    int64_t received = f->received_at_ms > 0 ? f->received_at_ms : env->occurred_at_ms;
    if (received <= 0)
        received = cs_now_ms();
    complaint_case_t c;
    complaint_case_open(&c, received, settings->accept_hours);

    char id[CS_UUID_LEN], rbuf[24], dbuf[24];
    cs_uuid(id);
    const char *p[] = {id,
                       f->ticket_id,
                       f->number,
                       s_str(f->channel),
                       s_str(f->tier),
                       s_str(f->priority),
                       s_str(f->team),
                       s_str(f->subject),
                       s_str(f->customer_id),
                       s_str(f->customer_name),
                       s_str(f->customer_email),
                       s_str(f->language),
                       cs_db_i64(rbuf, c.received_at_ms),
                       cs_db_i64(dbuf, c.accept_due_ms)};
    PGresult *r = cs_db_exec(
        db,
        "INSERT INTO complaint_cases (complaint_id, ticket_id, ticket_number, status, channel,"
        " tier, priority, team, subject, customer_id, customer_name, customer_email, language,"
        " received_at, accept_due)"
        " VALUES ($1::uuid, $2::uuid, $3, 'received', $4, $5, $6, $7, $8, $9, $10, $11, $12,"
        " to_timestamp($13::bigint / 1000.0), to_timestamp($14::bigint / 1000.0))"
        " ON CONFLICT (ticket_id) DO NOTHING RETURNING complaint_id",
        14, p);
    if (!r)
        return -1;
    int opened = PQntuples(r) == 1;
    PQclear(r);
    if (!opened)
        return 1; /* this ticket's case exists already */
    if (cs_db_cmd(db,
                  "INSERT INTO case_history (complaint_id, from_status, to_status, actor)"
                  " VALUES ($1::uuid, '', 'received', 'system')",
                  1, (const char *[]){id}) != 1)
        return -1;
    if (case_store_emit(db, "complaint.opened", id, f->ticket_id, f->number, &c, f->customer_email,
                        f->customer_name, f->language, "") < 0)
        return -1;
    cs_counter_add("cs_complaint_opened_total", "", 1);
    cs_info("complaint: case %s opened for ticket %s", id, f->number);
    return 0;
}

void complaint_ticket_events_register(cs_service_t *svc, const complaint_settings_t *settings)
{
    cs_consumer_on(cs_service_consumer(svc), "dispatch.ticket.accepted", s_on_ticket_accepted,
                   (void *)settings);
}
