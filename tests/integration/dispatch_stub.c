/*
 * dispatch_stub — a stand-in for dispatch in notify's integration test
 * (tests/integration/test_notify.py), for as long as the real one is not built.
 *
 * It is a service named "dispatch" on the real skeleton (so notify reads it exactly as it
 * will read dispatch) that does the one thing notify needs from dispatch: for every
 * intake.ticket.created it emits dispatch.ticket.accepted with complete facts and the
 * P3 commitments, once per ticket id.  No classification, no routing, no agents.
 *
 *   POST /emit/responded?ticket=NUMBER&message=TEXT  emits dispatch.ticket.responded
 *                                                    for a ticket it accepted
 *   POST /emit/escalated?ticket=NUMBER&emergency_level=N&escalation_level=N
 *        &escalated_to=LOGIN&team=TEAM               emits dispatch.ticket.escalated
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {
    {"001_stub", "CREATE TABLE stub_tickets (ticket_id text PRIMARY KEY, number text UNIQUE,"
                 " facts bytea NOT NULL);"},
    {NULL, NULL}};

static int s_emit(cs_db_t *db, const char *type, Cs__TicketEvent *te)
{
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    env.ticket_event = te;
    return cs_bus_emit(db, type, &env);
}

static int s_on_created(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__TicketCreated *tc = env->ticket_created;
    Cs__Customer empty = CS__CUSTOMER__INIT;
    const Cs__Customer *c = tc->customer ? tc->customer : &empty;
    Cs__TicketFacts f = CS__TICKET_FACTS__INIT;
    f.ticket_id = tc->ticket_id;
    f.number = tc->number;
    f.channel = tc->channel;
    f.received_at_ms = tc->received_at_ms;
    f.customer_id = c->customer_id;
    f.customer_name = c->name;
    f.customer_email = c->email;
    f.customer_phone = c->phone;
    f.tier = c->tier;
    f.language = *tc->language ? tc->language : c->language;
    f.subject = tc->subject;
    f.service_type = *tc->requested_type ? tc->requested_type : "technical_consulting";
    f.priority = "P3";
    f.status = "queued";
    f.message_id = tc->message_id;

    size_t len = cs__ticket_facts__get_packed_size(&f);
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        return -1;
    cs__ticket_facts__pack(&f, buf);
    const char *p[] = {tc->ticket_id, tc->number, (const char *)buf};
    int lengths[] = {0, 0, (int)len}, formats[] = {0, 0, 1};
    PGresult *r = cs_db_exec_bin(db,
                                 "INSERT INTO stub_tickets VALUES ($1, $2, $3)"
                                 " ON CONFLICT DO NOTHING RETURNING ticket_id",
                                 3, p, lengths, formats, 0);
    free(buf);
    if (!r)
        return -1;
    int fresh = PQntuples(r) == 1;
    PQclear(r);
    if (!fresh)
        return 1;
    cs_commitment_t cm = cs_commitment_for("P3");
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = &f;
    te.actor = "system";
    te.to_status = "queued";
    te.at_ms = env->occurred_at_ms;
    te.first_response_minutes = (uint32_t)cm.response_min;
    te.resolution_minutes = (uint32_t)cm.resolution_min;
    te.expected_start_ms = tc->received_at_ms + cm.response_min * 60000LL;
    te.rule_id = "stub";
    return s_emit(db, "dispatch.ticket.accepted", &te);
}

static unsigned s_uint(cs_http_req_t *req, const char *key)
{
    const char *v = cs_http_query(req, key);
    return v ? (unsigned)strtoul(v, NULL, 10) : 0;
}

static void s_emit_for(cs_http_req_t *req, cs_http_resp_t *resp, int escalated)
{
    const char *number = cs_http_query(req, "ticket");
    const char *message = cs_http_query(req, "message");
    if (!number || (!escalated && !message)) {
        cs_http_error(resp, 400, "ticket", "ticket (and message) are required");
        return;
    }
    if (cs_db_begin(req->db) < 0)
        goto fail;
    PGresult *r = cs_db_exec_bin(req->db, "SELECT facts FROM stub_tickets WHERE number = $1", 1,
                                 (const char *[]){number}, NULL, NULL, 1);
    if (!r)
        goto fail_tx;
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, "ticket", "unknown ticket");
        return;
    }
    Cs__TicketFacts *f = cs__ticket_facts__unpack(NULL, (size_t)PQgetlength(r, 0, 0),
                                                  (const uint8_t *)PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!f)
        goto fail_tx;
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = f;
    te.actor = "wang.fang";
    te.message = (char *)(message ? message : "");
    te.at_ms = 0;
    const char *team = cs_http_query(req, "team");
    char *own_team = f->team;
    if (escalated) {
        f->emergency_level = s_uint(req, "emergency_level");
        if (team)
            f->team = (char *)team; /* borrowed: restored before the free below */
        te.actor = "system";
        te.escalation_level = s_uint(req, "escalation_level");
        const char *to = cs_http_query(req, "escalated_to");
        te.escalated_to = (char *)(to ? to : "");
        te.reason = f->emergency_level ? "emergency declared by the stub" : "resolution breached";
    }
    int rc =
        s_emit(req->db, escalated ? "dispatch.ticket.escalated" : "dispatch.ticket.responded", &te);
    f->team = own_team; /* never free the query string */
    cs__ticket_facts__free_unpacked(f, NULL);
    if (rc < 0 || cs_db_commit(req->db) < 0)
        goto fail_tx;
    cs_service_kick(req->ctx);
    cs_http_json(resp, 200, json_pack("{s:s}", "ticket_number", number));
    return;
fail_tx:
    cs_db_rollback(req->db);
fail:
    cs_http_error(resp, 503, NULL, "database error");
}

static void s_responded(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_emit_for(req, resp, 0);
}

static void s_escalated(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_emit_for(req, resp, 1);
}

static int s_init(cs_service_t *svc)
{
    if (cs_commitment_load() < 0)
        return -1;
    cs_consumer_on(cs_service_consumer(svc), "intake.ticket.created", s_on_created, NULL);
    cs_http_route(cs_service_http(svc), "POST", "/emit/responded", s_responded, svc);
    cs_http_route(cs_service_http(svc), "POST", "/emit/escalated", s_escalated, svc);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"intake", NULL};
    static const cs_service_def_t def = {.name = "dispatch",
                                         .port_base = 7200,
                                         .migrations = s_migrations,
                                         .reads = reads,
                                         .init = s_init};
    return cs_service_run(&def, argc, argv);
}
