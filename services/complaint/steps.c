/*
 * steps.c - the six steps over HTTP, and the evidence of an investigation.
 *
 *   POST /v1/complaints/{id}/accept       {handler}
 *   POST /v1/complaints/{id}/classify     {handler, category, scope, urgency}
 *   POST /v1/complaints/{id}/investigate  {handler, findings?}
 *   POST /v1/complaints/{id}/assign       {handler, findings?, owner_department, owner,
 *                                          corrective_action, deadline?}
 *   POST /v1/complaints/{id}/feedback     {handler, letter}
 *   POST /v1/complaints/{id}/answer       {handler, accepted, channel: reply|call, note?}
 *   POST /v1/complaints/{id}/archive      {handler, root_cause, preventive_action}
 *   POST /v1/complaints/{id}/evidence?name=&handler=   the file as the body
 *   GET  /v1/complaints/{id}/evidence/{n}              the file back
 *
 * Each step is one transaction: lock the row, ask the state machine (case.c;
 * a refused move is 409 naming it), write the step's columns, add the
 * history row (who and when), emit the step's events, commit.  Input is
 * checked before any row is touched: 422 naming the field.
 *
 * The answer is the one step with two outcomes: accepted, the case is
 * resolved (complaint.feedback_answered, complaint.resolved); not accepted,
 * it goes back to handling one escalation level higher with a fresh
 * handling deadline (complaint.feedback_answered, complaint.escalated,
 * complaint.assigned — the last re-arms sla's handling clock).
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "case.h"
#include "case_store.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"

#define DEADLINE_MAX_MS (366LL * 24 * 3600 * 1000)
#define EVIDENCE_NAME_MAX 200
#define CONTENT_TYPE_MAX 100

typedef struct {
    complaint_action_t action;
    const char *handler;
    const char *category, *scope, *urgency, *priority; /* classify */
    const char *findings;                              /* investigate, assign */
    const char *department, *owner, *corrective;       /* assign */
    int64_t due_ms;                                    /* assign: 0 = by priority */
    const char *letter;                                /* feedback */
    int accepted;                                      /* answer */
    const char *channel, *note;                        /* answer */
    const char *root_cause, *preventive;               /* archive */
} step_input_t;

static int s_text(cs_http_resp_t *resp, const char *field, const char *value, int required,
                  size_t max)
{
    char err[160];
    if (complaint_text_check(field, value, required, max, err, sizeof(err)) == 0)
        return 0;
    cs_http_error(resp, 422, field, "%s", err);
    return -1;
}

/* The body of a step, checked: 0, or -1 with a 422 in resp. */
static int s_parse(json_t *body, step_input_t *in, cs_http_resp_t *resp)
{
    char err[160];
    if (complaint_api_member(body, "handler", &in->handler, resp) < 0)
        return -1;
    if (complaint_handler_check(in->handler, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "handler", "%s", err);
        return -1;
    }
    switch (in->action) {
    case COMPLAINT_ACT_CLASSIFY:
        if (complaint_api_member(body, "category", &in->category, resp) < 0 ||
            complaint_api_member(body, "scope", &in->scope, resp) < 0 ||
            complaint_api_member(body, "urgency", &in->urgency, resp) < 0)
            return -1;
        if (!complaint_category_valid(in->category)) {
            cs_http_error(resp, 422, "category", "category must be one of %s",
                          complaint_category_list());
            return -1;
        }
        if (!complaint_scope_valid(in->scope)) {
            cs_http_error(resp, 422, "scope", "scope must be one of %s", complaint_scope_list());
            return -1;
        }
        if (!complaint_urgency_valid(in->urgency)) {
            cs_http_error(resp, 422, "urgency", "urgency must be one of %s",
                          complaint_urgency_list());
            return -1;
        }
        in->priority = complaint_priority(in->category, in->scope, in->urgency);
        return 0;
    case COMPLAINT_ACT_INVESTIGATE:
        return complaint_api_member(body, "findings", &in->findings, resp) < 0 ||
                       s_text(resp, "findings", in->findings, 0, COMPLAINT_RESOLUTION_MAX) < 0
                   ? -1
                   : 0;
    case COMPLAINT_ACT_ASSIGN: {
        const char *deadline = NULL;
        if (complaint_api_member(body, "findings", &in->findings, resp) < 0 ||
            complaint_api_member(body, "owner_department", &in->department, resp) < 0 ||
            complaint_api_member(body, "owner", &in->owner, resp) < 0 ||
            complaint_api_member(body, "corrective_action", &in->corrective, resp) < 0 ||
            complaint_api_member(body, "deadline", &deadline, resp) < 0 ||
            s_text(resp, "findings", in->findings, 0, COMPLAINT_RESOLUTION_MAX) < 0 ||
            s_text(resp, "owner_department", in->department, 1, COMPLAINT_SHORT_TEXT_MAX) < 0)
            return -1;
        if (complaint_handler_check(in->owner, err, sizeof(err)) < 0) {
            cs_http_error(resp, 422, "owner",
                          "owner must be a login: 1 to 64 letters, digits and . _ - @");
            return -1;
        }
        if (s_text(resp, "corrective_action", in->corrective, 1, COMPLAINT_RESOLUTION_MAX) < 0)
            return -1;
        if (deadline) {
            int64_t now = cs_now_ms();
            if (complaint_parse_time(deadline, &in->due_ms) < 0 || in->due_ms <= now ||
                in->due_ms > now + DEADLINE_MAX_MS) {
                cs_http_error(resp, 422, "deadline",
                              "deadline must be a time (2026-03-01T18:00:00+08:00) in the"
                              " future, within a year");
                return -1;
            }
        }
        return 0;
    }
    case COMPLAINT_ACT_FEEDBACK:
        return complaint_api_member(body, "letter", &in->letter, resp) < 0 ||
                       s_text(resp, "letter", in->letter, 1, COMPLAINT_RESOLUTION_MAX) < 0
                   ? -1
                   : 0;
    case COMPLAINT_ACT_ANSWER: {
        json_t *acc = json_object_get(body, "accepted");
        if (!json_is_boolean(acc)) {
            cs_http_error(resp, 422, "accepted",
                          "accepted must be true or false: does the customer accept the outcome?");
            return -1;
        }
        in->accepted = json_is_true(acc);
        if (complaint_api_member(body, "channel", &in->channel, resp) < 0 ||
            complaint_api_member(body, "note", &in->note, resp) < 0)
            return -1;
        if (!in->channel ||
            (strcmp(in->channel, "reply") != 0 && strcmp(in->channel, "call") != 0)) {
            cs_http_error(resp, 422, "channel",
                          "channel must be reply (the customer's answer) or call (a follow-up"
                          " call)");
            return -1;
        }
        return s_text(resp, "note", in->note, 0, COMPLAINT_RESOLUTION_MAX);
    }
    case COMPLAINT_ACT_ARCHIVE:
        if (complaint_api_member(body, "root_cause", &in->root_cause, resp) < 0 ||
            complaint_api_member(body, "preventive_action", &in->preventive, resp) < 0)
            return -1;
        if (!complaint_root_cause_valid(in->root_cause)) {
            cs_http_error(resp, 422, "root_cause", "root_cause must be one of %s",
                          complaint_root_cause_list());
            return -1;
        }
        return s_text(resp, "preventive_action", in->preventive, 1, COMPLAINT_RESOLUTION_MAX);
    default:
        return 0;
    }
}

/* Write the step's columns.  1 done, 0 refused (resp filled), -1 error. */
static int s_write(cs_db_t *db, const step_input_t *in, const char *id, complaint_status_t to,
                   int64_t due_ms, cs_http_resp_t *resp, char *note, size_t notesize)
{
    const char *st = complaint_status_name(to);
    char due[24];
    int64_t n = -1;
    note[0] = '\0';
    switch (in->action) {
    case COMPLAINT_ACT_ACCEPT: {
        const char *p[] = {id, st, in->handler};
        n = cs_db_cmd(db,
                      "UPDATE complaint_cases SET status = $2, handler = $3, accepted_at = now(),"
                      " updated_at = now() WHERE complaint_id = $1::uuid",
                      3, p);
        break;
    }
    case COMPLAINT_ACT_CLASSIFY: {
        const char *p[] = {id, st, in->category, in->scope, in->urgency, in->priority};
        snprintf(note, notesize, "%s / %s / %s -> %s", in->category, in->scope, in->urgency,
                 in->priority);
        n = cs_db_cmd(db,
                      "UPDATE complaint_cases SET status = $2, category = $3, scope = $4,"
                      " urgency = $5, priority = $6, classified_at = now(), updated_at = now()"
                      " WHERE complaint_id = $1::uuid",
                      6, p);
        break;
    }
    case COMPLAINT_ACT_INVESTIGATE: {
        const char *p[] = {id, st, in->findings};
        n = cs_db_cmd(db,
                      "UPDATE complaint_cases SET status = $2, investigating_at = now(),"
                      " findings = coalesce($3, findings), updated_at = now()"
                      " WHERE complaint_id = $1::uuid",
                      3, p);
        break;
    }
    case COMPLAINT_ACT_ASSIGN: {
        const char *p[] = {id,
                           st,
                           in->findings,
                           in->department,
                           in->owner,
                           in->corrective,
                           cs_db_i64(due, due_ms)};
        snprintf(note, notesize, "%s / %s", in->department, in->owner);
        /* findings are what the investigation found: in this body or recorded before */
        n = cs_db_cmd(db,
                      "UPDATE complaint_cases SET status = $2,"
                      " findings = coalesce(nullif(btrim($3), ''), findings),"
                      " owner_department = $4, owner = $5, corrective_action = $6,"
                      " handle_due = to_timestamp($7::bigint / 1000.0), handling_at = now(),"
                      " updated_at = now() WHERE complaint_id = $1::uuid"
                      " AND coalesce(nullif(btrim($3), ''), nullif(btrim(findings), ''))"
                      " IS NOT NULL",
                      7, p);
        if (n == 0) {
            cs_http_error(resp, 422, "findings",
                          "findings are required: say what the investigation found");
            return 0;
        }
        break;
    }
    case COMPLAINT_ACT_FEEDBACK: {
        const char *p[] = {id, st, in->letter};
        n = cs_db_cmd(db,
                      "UPDATE complaint_cases SET status = $2, feedback = $3, feedback_at = now(),"
                      " updated_at = now() WHERE complaint_id = $1::uuid",
                      3, p);
        break;
    }
    case COMPLAINT_ACT_ANSWER: {
        const char *p[] = {id, st, in->channel, in->note ? in->note : "", cs_db_i64(due, due_ms)};
        snprintf(note, notesize, "%s by %s", in->accepted ? "accepted" : "not accepted",
                 in->channel);
        n = cs_db_cmd(db,
                      in->accepted
                          ? "UPDATE complaint_cases SET status = $2, customer_accepted = true,"
                            " answered_at = now(), resolved_at = now(), answer_channel = $3,"
                            " answer_note = $4, updated_at = now() WHERE complaint_id = $1::uuid"
                          : "UPDATE complaint_cases SET status = $2, customer_accepted = false,"
                            " answered_at = now(), answer_channel = $3, answer_note = $4,"
                            " handling_at = now(), handle_due = to_timestamp($5::bigint / 1000.0),"
                            " updated_at = now() WHERE complaint_id = $1::uuid",
                      in->accepted ? 4 : 5, p);
        break;
    }
    case COMPLAINT_ACT_ARCHIVE: {
        const char *p[] = {id, st, in->root_cause, in->preventive};
        snprintf(note, notesize, "root cause %s", in->root_cause);
        n = cs_db_cmd(db,
                      "UPDATE complaint_cases SET status = $2, root_cause = $3,"
                      " preventive_action = $4, archived_at = now(), updated_at = now()"
                      " WHERE complaint_id = $1::uuid",
                      4, p);
        break;
    }
    default:
        break;
    }
    return n == 1 ? 1 : -1;
}

/* The events of a step, in order. */
static int s_announce(cs_db_t *db, const step_input_t *in, const char *id)
{
    switch (in->action) {
    case COMPLAINT_ACT_ACCEPT:
        return case_store_emit(db, "complaint.accepted", id, in->handler, NULL);
    case COMPLAINT_ACT_CLASSIFY:
        return case_store_emit(db, "complaint.classified", id, in->handler, NULL);
    case COMPLAINT_ACT_INVESTIGATE:
        return case_store_emit(db, "complaint.investigating", id, in->handler, NULL);
    case COMPLAINT_ACT_ASSIGN:
        return case_store_emit(db, "complaint.assigned", id, in->handler, NULL);
    case COMPLAINT_ACT_FEEDBACK:
        return case_store_emit(db, "complaint.feedback_sent", id, in->handler, NULL);
    case COMPLAINT_ACT_ARCHIVE:
        return case_store_emit(db, "complaint.archived", id, in->handler, NULL);
    case COMPLAINT_ACT_ANSWER:
        break;
    default:
        return -1;
    }
    if (case_store_emit(db, "complaint.feedback_answered", id, in->handler, NULL) < 0)
        return -1;
    if (in->accepted)
        return case_store_emit(db, "complaint.resolved", id, in->handler, NULL);
    char key[CS_UUID_LEN + 8] = "answer:", reason[96];
    cs_uuid(key + strlen(key));
    snprintf(reason, sizeof(reason), "the customer did not accept the feedback (%s)", in->channel);
    if (case_store_escalate(db, id, key, reason, in->handler) < 0)
        return -1;
    return case_store_emit(db, "complaint.assigned", id, in->handler, NULL);
}

static void s_step(cs_http_req_t *req, cs_http_resp_t *resp, complaint_action_t action)
{
    complaint_api_t *api = req->ctx;
    step_input_t in = {.action = action};
    char err[200], note[400], id[CS_UUID_LEN];
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    if (s_parse(body, &in, resp) < 0)
        goto out;
    if (cs_db_begin(req->db) < 0)
        goto out_db;
    complaint_status_t from, to;
    PGresult *row = case_store_lock(req->db, req->param[0], &from);
    if (!row)
        goto out_rollback;
    if (PQntuples(row) == 0) {
        PQclear(row);
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, "id", "no complaint with this id or number");
        goto out;
    }
    snprintf(id, sizeof(id), "%s", cs_db_get(row, 0, LOCK_COL_ID));
    int64_t due_ms = in.due_ms;
    if (!due_ms)
        due_ms = cs_now_ms() + (int64_t)complaint_handle_hours(
                                   api->settings, cs_db_get(row, 0, LOCK_COL_PRIORITY)) *
                                   3600 * 1000;
    PQclear(row);
    if (complaint_next_status(from, action, in.accepted, &to, err, sizeof(err)) < 0) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 409, "status", "%s", err);
        goto out;
    }
    int rc = s_write(req->db, &in, id, to, due_ms, resp, note, sizeof(note));
    if (rc == 0) {
        cs_db_rollback(req->db);
        goto out;
    }
    if (rc < 0 ||
        case_store_history(req->db, id, complaint_status_name(from), complaint_status_name(to),
                           in.handler, note) < 0 ||
        s_announce(req->db, &in, id) < 0)
        goto out_rollback;
    if (cs_db_commit(req->db) < 0)
        goto out_db;
    cs_service_kick(api->svc);
    cs_info("complaint: case %s %s -> %s by %s", id, complaint_status_name(from),
            complaint_status_name(to), in.handler);
    json_decref(body);
    complaint_api_answer_case(req, resp, id, 200);
    return;
out_rollback:
    cs_db_rollback(req->db);
out_db:
    cs_http_error(resp, 503, NULL, "database error, try again");
out:
    json_decref(body);
}

#define STEP_ROUTE(fn, action)                                                                     \
    static void fn(cs_http_req_t *req, cs_http_resp_t *resp)                                       \
    {                                                                                              \
        s_step(req, resp, action);                                                                 \
    }
STEP_ROUTE(s_accept, COMPLAINT_ACT_ACCEPT)
STEP_ROUTE(s_classify, COMPLAINT_ACT_CLASSIFY)
STEP_ROUTE(s_investigate, COMPLAINT_ACT_INVESTIGATE)
STEP_ROUTE(s_assign, COMPLAINT_ACT_ASSIGN)
STEP_ROUTE(s_feedback, COMPLAINT_ACT_FEEDBACK)
STEP_ROUTE(s_answer, COMPLAINT_ACT_ANSWER)
STEP_ROUTE(s_archive, COMPLAINT_ACT_ARCHIVE)

/* ---- evidence --------------------------------------------------------------------- */

/* A file name as people give it: text without control characters or path
   separators, 1..EVIDENCE_NAME_MAX bytes. */
static int s_name_ok(const char *name, char *err, size_t errlen)
{
    if (complaint_text_check("name", name, 1, EVIDENCE_NAME_MAX, err, errlen) < 0)
        return 0;
    if (strpbrk(name, "/\\\t\r\n")) {
        snprintf(err, errlen, "name must be a file name without / or \\");
        return 0;
    }
    return 1;
}

/* type/subtype with token characters, as in a Content-Type without parameters. */
static int s_content_type_ok(const char *t)
{
    size_t n = strlen(t);
    const char *slash = strchr(t, '/');
    if (n == 0 || n > CONTENT_TYPE_MAX || !slash || slash == t || !slash[1] ||
        strchr(slash + 1, '/'))
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/!#$&^_.+-", *p)))
            return 0;
    return 1;
}

/* POST /v1/complaints/{id}/evidence?name=&handler= */
static void s_evidence_add(cs_http_req_t *req, cs_http_resp_t *resp)
{
    complaint_api_t *api = req->ctx;
    const char *name = cs_http_query(req, "name"), *handler = cs_http_query(req, "handler");
    char err[200], id[CS_UUID_LEN], type[CONTENT_TYPE_MAX + 1];
    if (complaint_handler_check(handler, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "handler", "%s", err);
        return;
    }
    if (!s_name_ok(name, err, sizeof(err))) {
        cs_http_error(resp, 422, "name", "%s", err);
        return;
    }
    const char *ct = cs_http_header(req, "Content-Type");
    size_t tl = ct ? strcspn(ct, ";") : 0;
    while (tl > 0 && ct[tl - 1] == ' ')
        tl--;
    snprintf(type, sizeof(type), "%.*s", (int)(tl < sizeof(type) ? tl : sizeof(type) - 1),
             ct ? ct : "");
    if (!ct || tl == 0)
        snprintf(type, sizeof(type), "application/octet-stream");
    else if (tl > CONTENT_TYPE_MAX || !s_content_type_ok(type)) {
        cs_http_error(resp, 422, "Content-Type", "Content-Type must be a media type (image/jpeg)");
        return;
    }
    if (req->body_len == 0) {
        cs_http_error(resp, 422, "body", "the evidence file is empty");
        return;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1], size[24];
    SHA256((const unsigned char *)req->body, req->body_len, digest);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (cs_db_begin(req->db) < 0)
        goto out_db;
    complaint_status_t status;
    PGresult *row = case_store_lock(req->db, req->param[0], &status);
    if (!row)
        goto out_rollback;
    if (PQntuples(row) == 0) {
        PQclear(row);
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, "id", "no complaint with this id or number");
        return;
    }
    snprintf(id, sizeof(id), "%s", cs_db_get(row, 0, LOCK_COL_ID));
    PQclear(row);
    if (!complaint_evidence_allowed(status)) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 409, "status",
                      "cannot attach evidence to a complaint that is %s: evidence belongs to"
                      " investigating or handling",
                      complaint_status_name(status));
        return;
    }
    const char *p[] = {id,  name,      type,   cs_db_i64(size, (int64_t)req->body_len),
                       hex, req->body, handler};
    int lengths[] = {0, 0, 0, 0, 0, (int)req->body_len, 0};
    int formats[] = {0, 0, 0, 0, 0, 1, 0};
    PGresult *r = cs_db_exec_bin(req->db,
                                 "INSERT INTO case_evidence (complaint_id, name, content_type,"
                                 " size, sha256, data, added_by)"
                                 " VALUES ($1::uuid, $2, $3, $4::integer, $5, $6, $7) RETURNING id",
                                 7, p, lengths, formats, 0);
    if (!r)
        goto out_rollback;
    char n[24], note[300];
    snprintf(n, sizeof(n), "%s", cs_db_get(r, 0, 0));
    PQclear(r);
    snprintf(note, sizeof(note), "evidence %s sha256 %s", n, hex);
    const char *st = complaint_status_name(status);
    if (case_store_history(req->db, id, st, st, handler, note) < 0)
        goto out_rollback;
    if (cs_db_commit(req->db) < 0)
        goto out_db;
    (void)api;
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(strtoll(n, NULL, 10)));
    json_object_set_new(o, "complaint_id", json_string(id));
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "content_type", json_string(type));
    json_object_set_new(o, "size", json_integer((json_int_t)req->body_len));
    json_object_set_new(o, "sha256", json_string(hex));
    json_object_set_new(o, "added_by", json_string(handler));
    cs_http_json(resp, 201, o);
    return;
out_rollback:
    cs_db_rollback(req->db);
out_db:
    cs_http_error(resp, 503, NULL, "database error, try again");
}

/* GET /v1/complaints/{id}/evidence/{n} */
static void s_evidence_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t n;
    if (cs_parse_int(req->param[1], 1, INT64_MAX, &n) < 0) {
        cs_http_error(resp, 404, "n", "no such evidence");
        return;
    }
    const char *key = req->param[0];
    const char *sql =
        cs_is_uuid(key)
            ? "SELECT content_type, data FROM case_evidence WHERE complaint_id = $1::uuid"
              " AND id = $2::bigint"
            : "SELECT e.content_type, e.data FROM case_evidence e JOIN complaint_cases c"
              " USING (complaint_id) WHERE c.case_number = $1 AND e.id = $2::bigint";
    PGresult *r =
        cs_db_exec_bin(req->db, sql, 2, (const char *[]){key, req->param[1]}, NULL, NULL, 1);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_http_error(resp, 404, "n", "no such evidence on this complaint");
        return;
    }
    size_t len = (size_t)PQgetlength(r, 0, 1);
    char *data = malloc(len ? len : 1);
    if (!data) {
        PQclear(r);
        cs_http_error(resp, 500, NULL, "out of memory");
        return;
    }
    memcpy(data, PQgetvalue(r, 0, 1), len);
    char type[CONTENT_TYPE_MAX + 1];
    snprintf(type, sizeof(type), "%.*s", PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0));
    PQclear(r);
    cs_http_body(resp, 200, type, data, len);
}

void complaint_steps_register(complaint_api_t *api)
{
    cs_http_t *http = cs_service_http(api->svc);
    cs_http_route(http, "POST", "/v1/complaints/*/accept", s_accept, api);
    cs_http_route(http, "POST", "/v1/complaints/*/classify", s_classify, api);
    cs_http_route(http, "POST", "/v1/complaints/*/investigate", s_investigate, api);
    cs_http_route(http, "POST", "/v1/complaints/*/assign", s_assign, api);
    cs_http_route(http, "POST", "/v1/complaints/*/feedback", s_feedback, api);
    cs_http_route(http, "POST", "/v1/complaints/*/answer", s_answer, api);
    cs_http_route(http, "POST", "/v1/complaints/*/archive", s_archive, api);
    cs_http_route(http, "POST", "/v1/complaints/*/evidence", s_evidence_add, api);
    cs_http_route(http, "GET", "/v1/complaints/*/evidence/*", s_evidence_get, api);
}
