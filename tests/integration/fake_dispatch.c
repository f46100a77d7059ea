/*
 * fake_dispatch — a test-only stand-in for dispatch on the real service
 * skeleton (service "dispatch", stream dispatch-0), for tests of the
 * services that read dispatch (tests/integration/test_sla.py) while they
 * must run without dispatch's business logic.
 *
 *   POST /emit  {"type":"accepted|assigned|responded|resolved|closed|
 *                        terminated|reopened|escalated|status_changed|
 *                        reclassified|…",
 *                "ticket_id","number","priority","received_at_ms","at_ms",
 *                "team","assignee","status",
 *                "service_type","tier","channel" (facts),
 *                "actor" (default: the assignee if any, else "system"),
 *                "from_status","to_status","from_priority","from_service_type",
 *                "number_hex" (optional: raw bytes of the number, for
 *                              hostile-input tests),
 *                "no_facts" (optional: true sends a TicketEvent without facts),
 *                "to_customer" (optional: true for a .noted sent to the customer)}
 *   → 200 {"emitted":1}
 *
 * Each call commits one dispatch.ticket.<type> event through the outbox,
 * exactly as dispatch would; sending the same business event twice is how a
 * test plays an upstream replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_config.h"
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {{NULL, NULL}};

static const char *s_str(json_t *body, const char *key)
{
    const char *v = json_string_value(json_object_get(body, key));
    return v ? v : "";
}

/* Hex text to bytes, NUL-terminated; NULL when malformed or too long. */
static char *s_unhex(const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2 || n > 512)
        return NULL;
    char *out = calloc(1, n / 2 + 1);
    for (size_t i = 0; out && i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (char)v;
    }
    return out;
}

static void s_emit(cs_http_req_t *req, cs_http_resp_t *resp)
{
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    char type[64];
    snprintf(type, sizeof(type), "dispatch.ticket.%s", s_str(body, "type"));
    if (cs_bus_type_body(type) != CS__ENVELOPE__BODY_TICKET_EVENT) {
        cs_http_error(resp, 422, "type", "not a dispatch ticket event");
        json_decref(body);
        return;
    }
    char *raw_number = NULL;
    if (*s_str(body, "number_hex") && !(raw_number = s_unhex(s_str(body, "number_hex")))) {
        cs_http_error(resp, 422, "number_hex", "not hex");
        json_decref(body);
        return;
    }
    Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
    facts.ticket_id = (char *)s_str(body, "ticket_id");
    facts.number = raw_number ? raw_number : (char *)s_str(body, "number");
    facts.priority = (char *)s_str(body, "priority");
    facts.team = (char *)s_str(body, "team");
    facts.assignee = (char *)s_str(body, "assignee");
    facts.status = (char *)s_str(body, "status");
    facts.service_type = (char *)s_str(body, "service_type");
    facts.tier = (char *)s_str(body, "tier");
    facts.channel = (char *)s_str(body, "channel");
    facts.received_at_ms = json_integer_value(json_object_get(body, "received_at_ms"));
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = json_is_true(json_object_get(body, "no_facts")) ? NULL : &facts;
    te.actor = (char *)(*s_str(body, "actor") ? s_str(body, "actor")
                        : *facts.assignee     ? facts.assignee
                                              : "system");
    te.from_status = (char *)s_str(body, "from_status");
    te.to_status = (char *)s_str(body, "to_status");
    te.from_priority = (char *)s_str(body, "from_priority");
    te.from_service_type = (char *)s_str(body, "from_service_type");
    te.at_ms = json_integer_value(json_object_get(body, "at_ms"));
    te.to_customer = json_is_true(json_object_get(body, "to_customer"));
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    env.ticket_event = &te;
    int rc = -1;
    if (cs_db_begin(req->db) == 0) {
        if (cs_bus_emit(req->db, type, &env) == 0 && cs_db_commit(req->db) == 0)
            rc = 0;
        else if (cs_db_in_tx(req->db))
            cs_db_rollback(req->db);
    }
    free(raw_number);
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
        .name = "dispatch", .port_base = 7200, .migrations = s_migrations, .init = s_init};
    return cs_service_run(&def, argc, argv);
}
