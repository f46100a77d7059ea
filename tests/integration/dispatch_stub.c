/*
 * dispatch_stub — a stand-in for cs-dispatch in the complaint and survey
 * integration tests, used only while the real dispatch is not built.
 *
 * It speaks dispatch's side of the contract just enough for the services
 * downstream of it: it reads intake.ticket.created and answers with
 * dispatch.ticket.accepted carrying complete TicketFacts (service type = the
 * requested type, or "complaint" when the subject says 投诉/complaint); and it
 * offers dispatch's agent actions over HTTP —
 *   POST /v1/tickets/{number}/respond|resolve|close {"agent"}
 *   GET  /v1/tickets/{number}
 * — emitting dispatch.ticket.responded / .resolved / .closed.  Unlike the
 * real dispatch it checks no state: closing twice emits two close events,
 * which is exactly the re-delivery the survey test wants to see survived.
 */
#include <stdio.h>
#include <string.h>
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {
    {"001_stub_tickets",
     "CREATE TABLE stub_tickets ("
     " ticket_id uuid PRIMARY KEY, number text NOT NULL UNIQUE, channel text NOT NULL,"
     " received_at_ms bigint NOT NULL, customer_id text NOT NULL, customer_name text NOT NULL,"
     " customer_email text NOT NULL, customer_phone text NOT NULL, tier text NOT NULL,"
     " language text NOT NULL, subject text NOT NULL, service_type text NOT NULL,"
     " status text NOT NULL);"},
    {NULL, NULL}};

#define STUB_AGENT "agent.stub"

static const char *s_str(const char *s)
{
    return s ? s : "";
}

/* Fill facts from a stub_tickets row (columns in table order). */
static void s_facts(Cs__TicketFacts *f, const PGresult *r, const char *status)
{
    f->ticket_id = (char *)cs_db_get(r, 0, 0);
    f->number = (char *)cs_db_get(r, 0, 1);
    f->channel = (char *)cs_db_get(r, 0, 2);
    f->received_at_ms = cs_db_get_i64(r, 0, 3);
    f->customer_id = (char *)cs_db_get(r, 0, 4);
    f->customer_name = (char *)cs_db_get(r, 0, 5);
    f->customer_email = (char *)cs_db_get(r, 0, 6);
    f->customer_phone = (char *)cs_db_get(r, 0, 7);
    f->tier = (char *)cs_db_get(r, 0, 8);
    f->language = (char *)cs_db_get(r, 0, 9);
    f->subject = (char *)cs_db_get(r, 0, 10);
    f->service_type = (char *)cs_db_get(r, 0, 11);
    f->priority = "P3";
    f->team = "stub-team";
    f->assignee = STUB_AGENT;
    f->owner = STUB_AGENT;
    f->status = (char *)status;
}

static int s_emit(cs_db_t *db, const char *type, Cs__TicketFacts *f, const char *actor,
                  const char *message)
{
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = f;
    te.actor = (char *)actor;
    te.to_status = f->status;
    te.message = (char *)message;
    te.at_ms = cs_now_ms();
    te.first_response_minutes = 120;
    te.resolution_minutes = 2880;
    te.expected_start_ms = f->received_at_ms + 120 * 60000;
    te.rule_id = "stub";
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    env.ticket_event = &te;
    return cs_bus_emit(db, type, &env);
}

static int s_on_created(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    const Cs__TicketCreated *tc = env->ticket_created;
    const Cs__Customer *c = tc->customer;
    const char *type = s_str(tc->requested_type);
    if (!*type)
        type = strstr(s_str(tc->subject), "投诉") || strstr(s_str(tc->subject), "omplaint")
                   ? "complaint"
                   : "technical_consulting";
    char at[24];
    const char *p[] = {tc->ticket_id,
                       tc->number,
                       s_str(tc->channel),
                       cs_db_i64(at, tc->received_at_ms),
                       c ? s_str(c->customer_id) : "",
                       c ? s_str(c->name) : "",
                       c ? s_str(c->email) : "",
                       c ? s_str(c->phone) : "",
                       c ? s_str(c->tier) : "",
                       s_str(tc->language),
                       s_str(tc->subject),
                       type};
    PGresult *r = cs_db_exec(db,
                             "INSERT INTO stub_tickets VALUES ($1::uuid, $2, $3, $4, $5, $6, $7,"
                             " $8, $9, $10, $11, $12, 'assigned')"
                             " ON CONFLICT DO NOTHING RETURNING *",
                             12, p);
    if (!r)
        return -1;
    int rc = 1;
    if (PQntuples(r) == 1) {
        Cs__TicketFacts f = CS__TICKET_FACTS__INIT;
        s_facts(&f, r, "assigned");
        rc = s_emit(db, "dispatch.ticket.accepted", &f, "system", "") < 0 ? -1 : 0;
    }
    PQclear(r);
    return rc;
}

/* POST /v1/tickets/{number}/{action} */
static void s_action(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    const char *action = req->param[1];
    const char *type = NULL, *status = NULL;
    if (strcmp(action, "respond") == 0)
        type = "dispatch.ticket.responded", status = "in_progress";
    else if (strcmp(action, "resolve") == 0)
        type = "dispatch.ticket.resolved", status = "resolved";
    else if (strcmp(action, "close") == 0)
        type = "dispatch.ticket.closed", status = "closed";
    if (!type) {
        cs_http_error(resp, 404, NULL, "no such action");
        return;
    }
    if (cs_db_begin(req->db) < 0)
        goto out_error;
    PGresult *r =
        cs_db_exec(req->db, "UPDATE stub_tickets SET status = $2 WHERE number = $1 RETURNING *", 2,
                   (const char *[]){req->param[0], status});
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, "number", "no such ticket");
        return;
    }
    Cs__TicketFacts f = CS__TICKET_FACTS__INIT;
    s_facts(&f, r, status);
    int rc = s_emit(req->db, type, &f, STUB_AGENT, "stub message");
    PQclear(r);
    if (rc < 0 || cs_db_commit(req->db) < 0)
        goto out_rollback;
    cs_service_kick(svc);
    json_t *o = json_object();
    json_object_set_new(o, "number", json_string(req->param[0]));
    json_object_set_new(o, "status", json_string(status));
    cs_http_json(resp, 200, o);
    return;
out_rollback:
    cs_db_rollback(req->db);
out_error:
    cs_http_error(resp, 503, NULL, "database error");
}

/* GET /v1/tickets/{number} */
static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(req->db, "SELECT number, status FROM stub_tickets WHERE number = $1",
                             1, (const char *[]){req->param[0]});
    if (!r || PQntuples(r) == 0) {
        PQclear(r);
        cs_http_error(resp, 404, "number", "no such ticket");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "number", json_string(cs_db_get(r, 0, 0)));
    json_object_set_new(o, "status", json_string(cs_db_get(r, 0, 1)));
    json_object_set_new(o, "assignee", json_string(STUB_AGENT));
    json_object_set_new(o, "owner", json_string(STUB_AGENT));
    PQclear(r);
    cs_http_json(resp, 200, o);
}

static int s_init(cs_service_t *svc)
{
    cs_consumer_on(cs_service_consumer(svc), "intake.ticket.created", s_on_created, NULL);
    cs_http_route(cs_service_http(svc), "POST", "/v1/tickets/*/*", s_action, svc);
    cs_http_route(cs_service_http(svc), "GET", "/v1/tickets/*", s_get, svc);
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
