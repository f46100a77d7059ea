/*
 * mail_follow — see mail_follow.h.
 *
 * Events of different streams arrive in any order, and one stream's may be
 * replayed: writes are upserts, and a ticket's state only moves to an event
 * at least as recent as the one it holds (event_at).
 */
#include <stdio.h>
#include <string.h>
#include "cs_bus.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "mail_follow.h"

/* The status an event of dispatch leaves the ticket in, from its type. */
static const char *s_status_of(const char *type)
{
    static const char *const map[][2] = {{"dispatch.ticket.resolved", "resolved"},
                                         {"dispatch.ticket.closed", "closed"},
                                         {"dispatch.ticket.reopened", "reopened"},
                                         {"dispatch.ticket.terminated", "terminated"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (type && strcmp(type, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static int s_on_ticket_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__TicketEvent *te = env->ticket_event;
    const char *status = s_status_of(env->type);
    if (!te || !te->facts || !status || !cs_is_uuid(te->facts->ticket_id))
        return 1;
    int64_t at = te->at_ms > 0 ? te->at_ms : env->occurred_at_ms;
    char at_text[24];
    const char *p[] = {te->facts->ticket_id, status, cs_db_i64(at_text, at)};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO ticket_states (ticket_id, status, closed_at, event_at)"
                          " VALUES ($1, $2, CASE WHEN $2 IN ('closed', 'terminated')"
                          " THEN to_timestamp($3::bigint / 1000.0) END,"
                          " to_timestamp($3::bigint / 1000.0))"
                          " ON CONFLICT (ticket_id) DO UPDATE SET status = EXCLUDED.status,"
                          " closed_at = EXCLUDED.closed_at, event_at = EXCLUDED.event_at,"
                          " updated_at = now() WHERE ticket_states.event_at <= EXCLUDED.event_at",
                          3, p);
    return n < 0 ? -1 : 0;
}

/* "<id@domain>" or "id@domain" → "id@domain" in out; 0, or -1 if unusable. */
static int s_bare_id(const char *id, char *out, size_t size)
{
    if (!id)
        return -1;
    size_t n = strlen(id);
    if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
        id++;
        n -= 2;
    }
    if (n == 0 || n >= size || memchr(id, '<', n) || memchr(id, '>', n) || !memchr(id, '@', n))
        return -1;
    memcpy(out, id, n);
    out[n] = '\0';
    return 0;
}

static int s_on_notification_sent(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__NotificationEvent *ne = env->notification_event;
    char id[1000];
    if (!ne || s_bare_id(ne->message_id, id, sizeof(id)) < 0 || !ne->notification_id ||
        !*ne->notification_id)
        return 1; /* an SMS or call has no Message-ID */
    const char *p[] = {id, ne->notification_id,
                       ne->ticket_number && *ne->ticket_number ? ne->ticket_number : NULL, ne->kind,
                       ne->recipient};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO notify_letters (message_id, notification_id, ticket_number,"
                          " kind, recipient) VALUES ($1, $2, $3, $4, $5)"
                          " ON CONFLICT (message_id) DO NOTHING",
                          5, p);
    return n < 0 ? -1 : 0;
}

void mail_follow_register(cs_service_t *svc)
{
    cs_consumer_t *c = cs_service_consumer(svc);
    cs_consumer_on(c, "dispatch.ticket.resolved", s_on_ticket_event, NULL);
    cs_consumer_on(c, "dispatch.ticket.closed", s_on_ticket_event, NULL);
    cs_consumer_on(c, "dispatch.ticket.reopened", s_on_ticket_event, NULL);
    cs_consumer_on(c, "dispatch.ticket.terminated", s_on_ticket_event, NULL);
    cs_consumer_on(c, "notification.sent", s_on_notification_sent, NULL);
}
