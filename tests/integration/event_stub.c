/*
 * event_stub — a stand-in publisher for complaint's integration test
 * (tests/integration/test_complaint.py): a service on the real skeleton,
 * named by its first argument ("survey" or "sla"), so that complaint reads
 * its stream exactly as it reads the real one.  It reads nothing.
 *
 *   event_stub survey   POST /emit {"type": "survey.low_score", "fields": {...}}
 *   event_stub sla      POST /emit {"type": "sla.breached", "fields": {...}}
 *
 * fields are the SurveyEvent / ClockEvent fields by their proto names
 * (strings, integers, booleans); the event is committed to the outbox and
 * published by the relay like any other.  Answers {"event_id": ...}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_bus.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {{"001_stub", "CREATE TABLE stub_emitted (n int);"},
                                              {NULL, NULL}};

/* Set the scalar fields of msg from the JSON object; -1 naming a bad one. */
static int s_fill(ProtobufCMessage *msg, json_t *fields, char *err, size_t errlen)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v)
    {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED) {
            snprintf(err, errlen, "no field %s", key);
            return -1;
        }
        void *at = (char *)msg + f->offset;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            if (!json_is_string(v))
                goto bad;
            *(char **)at = strdup(json_string_value(v));
            break;
        case PROTOBUF_C_TYPE_INT64:
            if (!json_is_integer(v))
                goto bad;
            *(int64_t *)at = json_integer_value(v);
            break;
        case PROTOBUF_C_TYPE_UINT32:
            if (!json_is_integer(v))
                goto bad;
            *(uint32_t *)at = (uint32_t)json_integer_value(v);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (!json_is_boolean(v))
                goto bad;
            *(protobuf_c_boolean *)at = json_is_true(v);
            break;
        default:
            goto bad;
        }
        continue;
    bad:
        snprintf(err, errlen, "field %s has the wrong type", key);
        return -1;
    }
    return 0;
}

static void s_emit(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    char err[160] = "";
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *type = json_string_value(json_object_get(body, "type"));
    json_t *fields = json_object_get(body, "fields");
    Cs__SurveyEvent se = CS__SURVEY_EVENT__INIT;
    Cs__ClockEvent ce = CS__CLOCK_EVENT__INIT;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    ProtobufCMessage *msg;
    if (type && strncmp(type, "survey.", 7) == 0) {
        env.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
        env.survey_event = &se;
        msg = &se.base;
    } else if (type && strncmp(type, "sla.", 4) == 0) {
        env.body_case = CS__ENVELOPE__BODY_CLOCK_EVENT;
        env.clock_event = &ce;
        msg = &ce.base;
    } else {
        cs_http_error(resp, 422, "type", "type must be survey.* or sla.*");
        json_decref(body);
        return;
    }
    int rc = json_is_object(fields) ? s_fill(msg, fields, err, sizeof(err)) : 0;
    if (rc == 0 && cs_db_begin(req->db) == 0) {
        rc = cs_bus_emit(req->db, type, &env) < 0 || cs_db_commit(req->db) < 0 ? -1 : 0;
        if (rc < 0) {
            cs_db_rollback(req->db);
            snprintf(err, sizeof(err), "cannot emit");
        }
    } else if (rc == 0) {
        rc = -1;
        snprintf(err, sizeof(err), "database");
    }
    /* free the strings s_fill duplicated: only string fields point to heap */
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_STRING) {
            char **s = (char **)((char *)msg + d->fields[i].offset);
            if (*s && *s != (char *)protobuf_c_empty_string)
                free(*s);
        }
    if (rc < 0) {
        cs_http_error(resp, 422, "fields", "%s", err);
    } else {
        cs_service_kick(svc);
        cs_http_json(resp, 200, json_pack("{s:s}", "event_id", env.event_id ? env.event_id : ""));
    }
    json_decref(body);
}

static int s_init(cs_service_t *svc)
{
    cs_http_route(cs_service_http(svc), "POST", "/emit", s_emit, svc);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {NULL};
    if (argc < 2 || (strcmp(argv[1], "survey") != 0 && strcmp(argv[1], "sla") != 0)) {
        fprintf(stderr, "usage: event_stub survey|sla\n");
        return 2;
    }
    cs_service_def_t def = {.name = argv[1],
                            .port_base = strcmp(argv[1], "sla") == 0 ? 7300 : 7500,
                            .migrations = s_migrations,
                            .reads = reads,
                            .init = s_init};
    return cs_service_run(&def, argc, argv);
}
