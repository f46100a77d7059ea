/*
 * fake_complaint — a test-only stand-in for the complaint service on the
 * real service skeleton (service "complaint", stream complaint-0), for the
 * tests of sla's complaint clocks (tests/integration/test_sla_policies.py)
 * while they must run without complaint's business logic.
 *
 *   POST /emit  {"type":"opened|accepted|classified|assigned|feedback_sent|
 *                        escalated|resolved|archived|…",
 *                "complaint_id","ticket_id","number","priority","tier",
 *                "received_at_ms","at_ms","handle_due_ms",
 *                "owner_department","owner","escalation_level"}
 *   → 200 {"emitted":1}
 *
 * Each call commits one complaint.<type> event through the outbox, as the
 * complaint service would.
 */
#include <stdio.h>
#include <string.h>
#include "cs_config.h"
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {{NULL, NULL}};

static const char *s_str(json_t *body, const char *key)
{
    const char *v = json_string_value(json_object_get(body, key));
    return v ? v : "";
}

static void s_emit(cs_http_req_t *req, cs_http_resp_t *resp)
{
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    char type[64];
    snprintf(type, sizeof(type), "complaint.%s", s_str(body, "type"));
    if (cs_bus_type_body(type) != CS__ENVELOPE__BODY_COMPLAINT_EVENT) {
        cs_http_error(resp, 422, "type", "not a complaint event");
        json_decref(body);
        return;
    }
    Cs__ComplaintEvent ce = CS__COMPLAINT_EVENT__INIT;
    ce.complaint_id = (char *)s_str(body, "complaint_id");
    ce.ticket_id = (char *)s_str(body, "ticket_id");
    ce.number = (char *)s_str(body, "number");
    ce.priority = (char *)s_str(body, "priority");
    ce.tier = (char *)s_str(body, "tier");
    ce.owner_department = (char *)s_str(body, "owner_department");
    ce.owner = (char *)s_str(body, "owner");
    ce.actor = "system";
    ce.received_at_ms = json_integer_value(json_object_get(body, "received_at_ms"));
    ce.at_ms = json_integer_value(json_object_get(body, "at_ms"));
    ce.handle_due_ms = json_integer_value(json_object_get(body, "handle_due_ms"));
    ce.escalation_level = (uint32_t)json_integer_value(json_object_get(body, "escalation_level"));
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_COMPLAINT_EVENT;
    env.complaint_event = &ce;
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
    static const cs_service_def_t def = {
        .name = "complaint", .port_base = 7400, .migrations = s_migrations, .init = s_init};
    return cs_service_run(&def, argc, argv);
}
