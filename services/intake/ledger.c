/*
 * ledger — see ledger.h.
 */
#include <stdio.h>
#include <string.h>
#include "cs_http.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"
#include "desk.h"
#include "ledger.h"

#define PAGE_MAX 500

int ledger_add(cs_db_t *db, const char *customer_id, const char *ticket_id, const char *direction,
               const char *channel, const char *kind, const char *party, const char *summary,
               const char *ref, const char *actor, int64_t at_ms)
{
    char at[24];
    const char *p[] = {customer_id && *customer_id ? customer_id : NULL,
                       ticket_id && *ticket_id ? ticket_id : NULL,
                       direction,
                       channel,
                       kind,
                       party && *party ? party : NULL,
                       summary,
                       ref,
                       actor && *actor ? actor : NULL,
                       cs_db_i64(at, at_ms > 0 ? at_ms : cs_now_ms())};
    return cs_db_cmd(db,
                     "INSERT INTO ledger (customer_id, ticket_id, direction, channel, kind, party,"
                     " summary, ref, actor, at) VALUES ($1, $2, $3, $4, $5, $6, left($7, 300), $8,"
                     " $9, to_timestamp($10::bigint / 1000.0))"
                     " ON CONFLICT (kind, ref) DO NOTHING",
                     10, p) >= 0
               ? 0
               : -1;
}

/* ---- reading ---------------------------------------------------------------- */

#define LEDGER_COLS                                                                                \
    "l.id, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), l.direction,"    \
    " l.channel, l.kind, l.summary, t.number, l.actor, l.party, l.customer_id"

static json_t *s_entries(PGresult *r, const desk_viewer_t *v)
{
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *e = json_object();
        json_object_set_new(e, "id", json_integer(cs_db_get_i64(r, i, 0)));
        json_object_set_new(e, "at", cs_json_col(r, i, 1));
        json_object_set_new(e, "direction", cs_json_col(r, i, 2));
        json_object_set_new(e, "channel", cs_json_col(r, i, 3));
        json_object_set_new(e, "kind", cs_json_col(r, i, 4));
        json_object_set_new(e, "summary", cs_json_col(r, i, 5));
        json_object_set_new(e, "ticket_number", cs_json_col(r, i, 6));
        json_object_set_new(e, "actor", cs_json_col(r, i, 7));
        json_object_set_new(e, "party", desk_personal(v, r, i, 8));
        json_array_append_new(arr, e);
    }
    return arr;
}

static int s_page(cs_http_req_t *req, cs_http_resp_t *resp, char *lb, char *ob, int64_t *offset)
{
    int64_t limit;
    if (cs_http_query_int(req, resp, "limit", 50, 1, PAGE_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, 1000000000, offset) < 0)
        return -1;
    cs_db_i64(lb, limit);
    cs_db_i64(ob, *offset);
    return 0;
}

/* GET /v1/customers/{id}/ledger?limit=&offset=&reason= : newest first. */
static void s_customer_ledger(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *id = req->param[0];
    desk_viewer_t v;
    char lb[24], ob[24];
    int64_t offset;
    if (!cs_is_uuid(id)) {
        cs_http_error(resp, 404, "id", "no customer %.40s", id);
        return;
    }
    if (desk_viewer(req, resp, NULL, &v) < 0 || s_page(req, resp, lb, ob, &offset) < 0)
        return;
    const char *q[] = {id};
    PGresult *r = cs_db_exec(req->db, "SELECT merged_into FROM customers WHERE id = $1", 1, q);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_http_error(resp, 404, "id", "no customer %s", id);
        return;
    }
    if (!PQgetisnull(r, 0, 0)) {
        snprintf(resp->location, sizeof(resp->location), "/v1/customers/%s/ledger",
                 PQgetvalue(r, 0, 0));
        json_t *o = json_object();
        json_object_set_new(o, "merged_into", cs_json_col(r, 0, 0));
        PQclear(r);
        cs_http_json(resp, 301, o);
        return;
    }
    PQclear(r);
    const char *p[] = {id, lb, ob};
    r = cs_db_exec(req->db,
                   "SELECT " LEDGER_COLS " FROM ledger l LEFT JOIN tickets t ON t.id = l.ticket_id"
                   " WHERE l.customer_id = $1 ORDER BY l.at DESC, l.id DESC LIMIT $2 OFFSET $3",
                   3, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) > 0 && desk_audit(req->db, req, &v, id, "GET /v1/customers/*/ledger") < 0) {
        PQclear(r);
        cs_http_error(resp, 503, NULL, "the read could not be recorded; nothing is shown");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "customer_id", json_string(id));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "entries", s_entries(r, &v));
    desk_mark(o, &v);
    PQclear(r);
    cs_http_json(resp, 200, o);
}

/* GET /v1/tickets/{number}/ledger?limit=&offset=&reason= */
static void s_ticket_ledger(cs_http_req_t *req, cs_http_resp_t *resp)
{
    desk_viewer_t v;
    char lb[24], ob[24];
    int64_t offset;
    if (desk_viewer(req, resp, NULL, &v) < 0 || s_page(req, resp, lb, ob, &offset) < 0)
        return;
    const char *q[] = {req->param[0]};
    PGresult *r =
        cs_db_exec(req->db, "SELECT id, customer_id FROM tickets WHERE number = $1", 1, q);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_http_error(resp, 404, "number", "no ticket %.40s", req->param[0]);
        return;
    }
    char ticket_id[CS_UUID_LEN], customer_id[CS_UUID_LEN];
    snprintf(ticket_id, sizeof(ticket_id), "%s", PQgetvalue(r, 0, 0));
    snprintf(customer_id, sizeof(customer_id), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    const char *p[] = {ticket_id, lb, ob};
    r = cs_db_exec(req->db,
                   "SELECT " LEDGER_COLS " FROM ledger l LEFT JOIN tickets t ON t.id = l.ticket_id"
                   " WHERE l.ticket_id = $1 ORDER BY l.at DESC, l.id DESC LIMIT $2 OFFSET $3",
                   3, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) > 0 &&
        desk_audit(req->db, req, &v, customer_id, "GET /v1/tickets/*/ledger") < 0) {
        PQclear(r);
        cs_http_error(resp, 503, NULL, "the read could not be recorded; nothing is shown");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "ticket_number", json_string(req->param[0]));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "entries", s_entries(r, &v));
    desk_mark(o, &v);
    PQclear(r);
    cs_http_json(resp, 200, o);
}

void ledger_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "GET", "/v1/customers/*/ledger", s_customer_ledger, svc);
    cs_http_route(http, "GET", "/v1/tickets/*/ledger", s_ticket_ledger, svc);
}

/* ---- from the bus ------------------------------------------------------------- */

/* What of a dispatch event the customer sees: the kind in the timeline and
   whether its message is for them. NULL: nothing (internal). */
static const char *s_visible(const Cs__Envelope *env, const Cs__TicketEvent *te, int *message)
{
    static const struct {
        const char *type, *kind;
        int message;
    } map[] = {{"dispatch.ticket.accepted", "accepted", 0},
               {"dispatch.ticket.assigned", "assigned", 0},
               {"dispatch.ticket.responded", "responded", 1},
               {"dispatch.ticket.status_changed", "status_changed", 0},
               {"dispatch.ticket.resolved", "resolved", 1},
               {"dispatch.ticket.closed", "closed", 0},
               {"dispatch.ticket.reopened", "reopened", 0},
               {"dispatch.ticket.terminated", "terminated", 1},
               {"dispatch.ticket.noted", "note", 1},
               {"dispatch.ticket.customer_replied", "customer_replied", 0},
               {NULL, NULL, 0}};
    for (int i = 0; map[i].type; i++) {
        if (strcmp(env->type, map[i].type) != 0)
            continue;
        if (strcmp(map[i].kind, "note") == 0 && !te->to_customer)
            return NULL; /* an internal note stays on the desk */
        *message = map[i].message;
        return map[i].kind;
    }
    return NULL;
}

/* dispatch.ticket.*: the status (a later event never overwritten by an
   earlier one that arrives late) and the customer-visible timeline. */
static int s_on_ticket_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__TicketEvent *te = env->ticket_event;
    if (!te || !te->facts || !te->facts->number || !*te->facts->number)
        return 1;
    const Cs__TicketFacts *f = te->facts;
    int64_t at_ms = te->at_ms > 0 ? te->at_ms : env->occurred_at_ms;
    char at[24];
    cs_db_i64(at, at_ms);
    if (f->status && *f->status) {
        const char *p[] = {f->number, f->status, at};
        if (cs_db_cmd(
                db,
                "UPDATE tickets SET status = $2, status_at = to_timestamp($3::bigint / 1000.0)"
                " WHERE number = $1 AND (status_at IS NULL"
                " OR status_at <= to_timestamp($3::bigint / 1000.0))",
                3, p) < 0)
            return -1;
    }
    int with_message = 0;
    const char *kind = s_visible(env, te, &with_message);
    if (!kind)
        return 0;
    const char *message = NULL;
    if (with_message) {
        if (strcmp(kind, "terminated") == 0)
            message = te->reason && *te->reason ? te->reason : NULL;
        else
            message = te->message && *te->message ? te->message : NULL;
    }
    const char *status = strcmp(kind, "status_changed") == 0 && te->to_status && *te->to_status
                             ? te->to_status
                             : (f->status ? f->status : "");
    const char *p[] = {env->event_id, f->number, at, kind, status, message};
    return cs_db_cmd(db,
                     "INSERT INTO ticket_timeline (event_id, number, at, kind, status, message)"
                     " VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), $4, $5, $6)"
                     " ON CONFLICT (event_id) DO NOTHING",
                     6, p) >= 0
               ? 0
               : -1;
}

/* Letters to staff (escalation alerts) are no contact with the customer. */
static int s_staff_kind(const char *kind)
{
    return strstr(kind, "escalation") || strstr(kind, "alert");
}

/* notify's notification.sent: an outbound entry for the ticket's customer,
   or for the customer whose contact the recipient is. */
static int s_on_notification(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__NotificationEvent *ne = env->notification_event;
    if (!ne || !ne->notification_id || !*ne->notification_id || !ne->kind || s_staff_kind(ne->kind))
        return 1;
    const char *recipient = ne->recipient ? ne->recipient : "";
    const char *p[] = {ne->ticket_number ? ne->ticket_number : "", recipient};
    PGresult *r =
        cs_db_exec(db,
                   "SELECT t.id::text, t.customer_id::text, left(t.subject, 200) FROM tickets t"
                   " WHERE t.number = $1"
                   " UNION ALL"
                   " SELECT NULL, k.customer_id::text, NULL FROM contacts k"
                   " WHERE $1 = '' AND k.email IS NOT NULL AND lower(k.email) = lower($2)"
                   " LIMIT 1",
                   2, p);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return 1; /* neither a ticket of ours nor a contact of a customer */
    }
    char ticket_id[CS_UUID_LEN], customer_id[CS_UUID_LEN], summary[1024];
    snprintf(ticket_id, sizeof(ticket_id), "%s", cs_db_get(r, 0, 0));
    snprintf(customer_id, sizeof(customer_id), "%s", cs_db_get(r, 0, 1));
    snprintf(summary, sizeof(summary), "%.60s%s%s", ne->kind, PQgetisnull(r, 0, 2) ? "" : ": ",
             cs_db_get(r, 0, 2));
    PQclear(r);
    const char *channel = strchr(recipient, '@') ? "mail" : "sms";
    return ledger_add(db, customer_id, ticket_id, "outbound", channel, ne->kind, recipient, summary,
                      ne->notification_id, "notify", env->occurred_at_ms);
}

void ledger_subscribe(cs_consumer_t *consumer, int timeline, int outbound)
{
    static const char *const types[] = {
        "dispatch.ticket.accepted",         "dispatch.ticket.assigned",
        "dispatch.ticket.responded",        "dispatch.ticket.status_changed",
        "dispatch.ticket.escalated",        "dispatch.ticket.resolved",
        "dispatch.ticket.closed",           "dispatch.ticket.reopened",
        "dispatch.ticket.terminated",       "dispatch.ticket.reclassified",
        "dispatch.ticket.transferred",      "dispatch.ticket.noted",
        "dispatch.ticket.customer_replied", NULL};
    for (int i = 0; timeline && types[i]; i++)
        cs_consumer_on(consumer, types[i], s_on_ticket_event, NULL);
    if (outbound)
        cs_consumer_on(consumer, "notification.sent", s_on_notification, NULL);
}
