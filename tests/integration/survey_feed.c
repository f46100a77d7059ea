/*
 * survey_feed — a test-only stand-in for dispatch or complaint, for the
 * survey rules test (tests/integration/test_survey_rules.py): the real
 * service skeleton under the name given as argv[1] ("dispatch", stream
 * dispatch-0, or "complaint", stream complaint-0), so cs-survey reads it
 * exactly as it reads the real ones, while the test chooses every fact.
 * "intake" gives notify (which reads intake's bounces) a silent intake-0.
 *
 *   POST /emit  {"type": "dispatch.ticket.closed" | ".terminated" | ".reopened"
 *                        | "complaint.feedback_sent",
 *                "ticket_id", "complaint_id", "number", "email", "phone", "name",
 *                "language", "tier", "team", "assignee", "service_type",
 *                "customer_id", "status", "reason", "at_ms"}
 *   → 200 {"emitted":1}
 *
 * Each call commits one event through the outbox, as the real service would;
 * posting the same facts twice is how a test plays a duplicate delivery.
 */
#include <stdio.h>
#include <string.h>
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {{NULL, NULL}};

static char *s_str(json_t *body, const char *key)
{
    const char *v = json_string_value(json_object_get(body, key));
    return (char *)(v ? v : "");
}

static void s_emit(cs_http_req_t *req, cs_http_resp_t *resp)
{
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *type = s_str(body, "type");
    Cs__Envelope env = CS__ENVELOPE__INIT;
    Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    Cs__ComplaintEvent ce = CS__COMPLAINT_EVENT__INIT;
    int64_t at_ms = json_integer_value(json_object_get(body, "at_ms"));
    int body_case = cs_bus_type_body(type);
    if (body_case == CS__ENVELOPE__BODY_TICKET_EVENT) {
        facts.ticket_id = s_str(body, "ticket_id");
        facts.number = s_str(body, "number");
        facts.customer_email = s_str(body, "email");
        facts.customer_phone = s_str(body, "phone");
        facts.customer_name = s_str(body, "name");
        facts.customer_id = s_str(body, "customer_id");
        facts.language = s_str(body, "language");
        facts.tier = s_str(body, "tier");
        facts.team = s_str(body, "team");
        facts.assignee = s_str(body, "assignee");
        facts.service_type = s_str(body, "service_type");
        facts.status = s_str(body, "status");
        te.facts = &facts;
        te.actor = "system";
        te.reason = s_str(body, "reason");
        te.at_ms = at_ms;
        env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
        env.ticket_event = &te;
    } else if (body_case == CS__ENVELOPE__BODY_COMPLAINT_EVENT) {
        ce.complaint_id = s_str(body, "complaint_id");
        ce.ticket_id = s_str(body, "ticket_id");
        ce.number = s_str(body, "number");
        ce.customer_email = s_str(body, "email");
        ce.customer_phone = s_str(body, "phone");
        ce.customer_name = s_str(body, "name");
        ce.customer_id = s_str(body, "customer_id");
        ce.language = s_str(body, "language");
        ce.tier = s_str(body, "tier");
        ce.owner_department = s_str(body, "team");
        ce.owner = s_str(body, "assignee");
        ce.status = "feedback_sent";
        ce.at_ms = at_ms;
        env.body_case = CS__ENVELOPE__BODY_COMPLAINT_EVENT;
        env.complaint_event = &ce;
    } else {
        cs_http_error(resp, 422, "type", "not a ticket or complaint event type");
        json_decref(body);
        return;
    }
    int rc = -1;
    if (cs_db_begin(req->db) == 0) {
        if (cs_bus_emit(req->db, type, &env) == 0 && cs_db_commit(req->db) == 0)
            rc = 0;
        else if (cs_db_in_tx(req->db))
            cs_db_rollback(req->db);
    }
    json_decref(body);
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    cs_service_kick((cs_service_t *)req->ctx);
    json_t *o = json_object();
    json_object_set_new(o, "emitted", json_integer(1));
    cs_http_json(resp, 200, o);
}

static int s_init(cs_service_t *svc)
{
    cs_http_route(cs_service_http(svc), "POST", "/emit", s_emit, svc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "dispatch") != 0 && strcmp(argv[1], "complaint") != 0 &&
                      strcmp(argv[1], "intake") != 0)) {
        fprintf(stderr, "usage: survey_feed dispatch|complaint|intake\n");
        return 2;
    }
    cs_service_def_t def = {.name = argv[1],
                            .port_base = strcmp(argv[1], "dispatch") == 0 ? 7200
                                         : strcmp(argv[1], "intake") == 0 ? 7100
                                                                          : 7400,
                            .migrations = s_migrations,
                            .init = s_init};
    return cs_service_run(&def, 1, argv);
}
