/*
 * api.c - complaint's HTTP API on :7400: reading cases and opening one.
 *
 *   GET  /v1/complaints?status=&ticket=&source=&limit=&offset=  list, newest first
 *   POST /v1/complaints                    a handler opens a case taken by phone or visit
 *   GET  /v1/complaints/analysis?from=&to=&trend=&format=  see analysis.c
 *   GET  /v1/complaints/{id}               one case with its history, evidence, escalations
 *   POST /v1/complaints/{id}/{step}        the six steps: see steps.c
 *   GET  /v1/stats                         counts by status, open, overdue
 *
 * {id} is the complaint id (UUID) or the case number (the ticket's number
 * for a case that came with a ticket, else CP-YYYY-NNNNNN; the latest case
 * of that number).  Bad input is 422 naming the field, an unknown case 404.
 */
#include "api.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "case.h"
#include "case_store.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"

#define LIST_LIMIT_MAX 500
#define LIST_OFFSET_MAX 1000000000
#define TICKET_FILTER_MAX 64
#define IDEMPOTENCY_KEY_MAX 64

enum { K_TEXT, K_TIME, K_INT, K_BOOL };

#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* The columns of a case, as the API shows them. */
static const struct {
    const char *expr, *key;
    int kind;
} s_cols[] = {
    {"complaint_id", "complaint_id", K_TEXT},
    {"case_number", "case_number", K_TEXT},
    {"source", "source", K_TEXT},
    {"ticket_id", "ticket_id", K_TEXT},
    {"ticket_number", "ticket_number", K_TEXT},
    {"status", "status", K_TEXT},
    {"channel", "channel", K_TEXT},
    {"tier", "tier", K_TEXT},
    {"priority", "priority", K_TEXT},
    {"team", "team", K_TEXT},
    {"subject", "subject", K_TEXT},
    {"description", "description", K_TEXT},
    {"customer_id", "customer_id", K_TEXT},
    {"customer_name", "customer_name", K_TEXT},
    {"customer_email", "customer_email", K_TEXT},
    {"customer_phone", "customer_phone", K_TEXT},
    {"language", "language", K_TEXT},
    {"satisfaction", "satisfaction", K_INT},
    {"handler", "handler", K_TEXT},
    {"category", "category", K_TEXT},
    {"scope", "scope", K_TEXT},
    {"urgency", "urgency", K_TEXT},
    {"findings", "findings", K_TEXT},
    {"owner_department", "owner_department", K_TEXT},
    {"owner", "owner", K_TEXT},
    {"corrective_action", "corrective_action", K_TEXT},
    {"feedback", "feedback", K_TEXT},
    {"customer_accepted", "customer_accepted", K_BOOL},
    {"answer_channel", "answer_channel", K_TEXT},
    {"answer_note", "answer_note", K_TEXT},
    {"escalation_level", "escalation_level", K_INT},
    {"root_cause", "root_cause", K_TEXT},
    {"preventive_action", "preventive_action", K_TEXT},
    {MS("received_at"), "received_at", K_TIME},
    {MS("accept_due"), "accept_due", K_TIME},
    {MS("accepted_at"), "accepted_at", K_TIME},
    {MS("classified_at"), "classified_at", K_TIME},
    {MS("investigating_at"), "investigating_at", K_TIME},
    {MS("handling_at"), "handling_at", K_TIME},
    {MS("handle_due"), "handle_due", K_TIME},
    {MS("feedback_at"), "feedback_at", K_TIME},
    {MS("answered_at"), "answered_at", K_TIME},
    {MS("resolved_at"), "resolved_at", K_TIME},
    {MS("escalated_at"), "escalated_at", K_TIME},
    {MS("archived_at"), "archived_at", K_TIME},
};
#define NCOLS ((int)(sizeof(s_cols) / sizeof(s_cols[0])))
enum { COL_ID = 0, COL_STATUS = 5, COL_RECEIVED = 33, COL_ACCEPT_DUE = 34, COL_ACCEPTED = 35 };

static char s_select[4096]; /* "SELECT <every expr> FROM complaint_cases" */

static void s_build_select(void)
{
    size_t n = (size_t)snprintf(s_select, sizeof(s_select), "SELECT ");
    for (int i = 0; i < NCOLS; i++)
        n += (size_t)snprintf(s_select + n, sizeof(s_select) - n, "%s%s", i ? ", " : "",
                              s_cols[i].expr);
    snprintf(s_select + n, sizeof(s_select) - n, " FROM complaint_cases");
}

static json_t *s_case_json(const PGresult *r, int row)
{
    json_t *o = json_object();
    for (int i = 0; i < NCOLS; i++) {
        json_t *v;
        int null = PQgetisnull(r, row, i);
        switch (s_cols[i].kind) {
        case K_TIME:
            v = cs_json_time(null ? 0 : cs_db_get_i64(r, row, i));
            break;
        case K_INT:
            v = null ? json_null() : json_integer(cs_db_get_i64(r, row, i));
            break;
        case K_BOOL:
            v = null ? json_null() : json_boolean(strcmp(cs_db_get(r, row, i), "t") == 0);
            break;
        default:
            v = null ? cs_json_str("") : cs_json_str(cs_db_get(r, row, i));
        }
        json_object_set_new(o, s_cols[i].key, v);
    }
    json_object_set_new(o, "id", cs_json_str(cs_db_get(r, row, COL_ID))); /* the contract's name */
    complaint_case_t c = {0};
    complaint_status_parse(cs_db_get(r, row, COL_STATUS), &c.status);
    c.accept_due_ms = cs_db_get_i64(r, row, COL_ACCEPT_DUE);
    c.accepted_at_ms = PQgetisnull(r, row, COL_ACCEPTED) ? 0 : cs_db_get_i64(r, row, COL_ACCEPTED);
    json_object_set_new(o, "accept_overdue",
                        json_boolean(complaint_case_accept_overdue(&c, cs_now_ms())));
    return o;
}

/* GET /v1/complaints: newest first, paged; complaint_id breaks ties so that
   consecutive pages neither overlap nor skip. */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *status = cs_http_query(req, "status"), *source = cs_http_query(req, "source");
    const char *ticket = NULL;
    int64_t limit, offset;
    complaint_status_t st;
    if (status && complaint_status_parse(status, &st) < 0) {
        cs_http_error(resp, 422, "status",
                      "status must be one of received, accepted, classified, investigating,"
                      " handling, feedback, resolved, archived");
        return;
    }
    if (source && strcmp(source, "ticket") != 0 && strcmp(source, "survey") != 0 &&
        strcmp(source, "direct") != 0) {
        cs_http_error(resp, 422, "source", "source must be one of ticket, survey, direct");
        return;
    }
    if (cs_http_query_token(req, resp, "ticket", TICKET_FILTER_MAX, &ticket) < 0 ||
        cs_http_query_int(req, resp, "limit", 100, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    char sql[4608], lbuf[24], obuf[24];
    snprintf(sql, sizeof(sql),
             "%s WHERE ($1::text IS NULL OR status = $1)"
             " AND ($2::text IS NULL OR ticket_number = $2 OR case_number = $2)"
             " AND ($3::text IS NULL OR source = $3)"
             " ORDER BY received_at DESC, complaint_id LIMIT $4 OFFSET $5",
             s_select);
    const char *p[] = {status, ticket, source, cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset)};
    PGresult *r = cs_db_exec(req->db, sql, 5, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, s_case_json(r, i));
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "complaints", list);
    cs_http_json(resp, 200, o);
}

/* Rows of a per-case query as an array of objects with the given keys
   (times are ms columns whose key ends in "_at"). NULL on a database error. */
static json_t *s_rows(cs_db_t *db, const char *sql, const char *id, const char *const *keys,
                      int nkeys)
{
    PGresult *r = cs_db_exec(db, sql, 1, (const char *[]){id});
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *e = json_object();
        for (int k = 0; k < nkeys; k++) {
            size_t n = strlen(keys[k]);
            if (n > 3 && strcmp(keys[k] + n - 3, "_at") == 0)
                json_object_set_new(e, keys[k], cs_json_time(cs_db_get_i64(r, i, k)));
            else if (strcmp(keys[k], "size") == 0 || strcmp(keys[k], "level") == 0 ||
                     strcmp(keys[k], "n") == 0)
                json_object_set_new(e, keys[k], json_integer(cs_db_get_i64(r, i, k)));
            else
                json_object_set_new(e, keys[k], cs_json_str(cs_db_get(r, i, k)));
        }
        json_array_append_new(a, e);
    }
    PQclear(r);
    return a;
}

void complaint_api_answer_case(cs_http_req_t *req, cs_http_resp_t *resp, const char *key,
                               int status)
{
    char sql[4608];
    snprintf(sql, sizeof(sql), "%s WHERE %s", s_select,
             cs_is_uuid(key) ? "complaint_id = $1::uuid"
                             : "case_number = $1 ORDER BY received_at DESC, complaint_id LIMIT 1");
    PGresult *r = cs_db_exec(req->db, sql, 1, (const char *[]){key});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_http_error(resp, 404, "id", "no complaint with this id or number");
        return;
    }
    json_t *o = s_case_json(r, 0);
    char id[CS_UUID_LEN];
    snprintf(id, sizeof(id), "%s", cs_db_get(r, 0, COL_ID));
    PQclear(r);
    static const char *const hkeys[] = {"from", "to", "actor", "note", "at"};
    static const char *const ekeys[] = {"n",      "name",     "content_type", "size",
                                        "sha256", "added_by", "added_at"};
    static const char *const xkeys[] = {"level", "reason", "actor", "at"};
    json_t *hist = s_rows(req->db,
                          "SELECT from_status, to_status, actor, note, " MS(
                              "at") " FROM case_history WHERE complaint_id = $1::uuid ORDER BY id",
                          id, hkeys, 5);
    json_t *evidence =
        s_rows(req->db,
               "SELECT id, name, content_type, size, sha256, added_by, " MS(
                   "added_at") " FROM case_evidence WHERE complaint_id = $1::uuid ORDER BY id",
               id, ekeys, 7);
    json_t *esc =
        s_rows(req->db,
               "SELECT level, reason, actor, " MS(
                   "at") " FROM case_escalations WHERE complaint_id = $1::uuid ORDER BY level",
               id, xkeys, 4);
    if (!hist || !evidence || !esc) {
        json_decref(o);
        json_decref(hist);
        json_decref(evidence);
        json_decref(esc);
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_object_set_new(o, "history", hist);
    json_object_set_new(o, "evidence", evidence);
    json_object_set_new(o, "escalations", esc);
    cs_http_json(resp, status, o);
}

/* GET /v1/complaints/{id} */
static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    complaint_api_answer_case(req, resp, req->param[0], 200);
}

int complaint_api_member(json_t *body, const char *key, const char **out, cs_http_resp_t *resp)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        cs_http_error(resp, 422, key, "%s must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* A plain e-mail address: something@host.tld, no spaces or controls. */
static int s_email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || strlen(s) > 254)
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7F || *p == '<' || *p == '>' || *p == ',')
            return 0;
    return 1;
}

/* A telephone number: digits with + - ( ) space, 3..40 bytes. */
static int s_phone_ok(const char *s)
{
    size_t n = strlen(s), digits = 0;
    if (n < 3 || n > 40)
        return 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (!strchr("+-() ", *p))
            return 0;
    }
    return digits >= 3;
}

/* POST /v1/complaints: a handler who took a complaint by phone or on a
   visit opens the case.  An Idempotency-Key header makes a retried request
   answer with the case it opened the first time (200) instead of a second
   case (201). */
static void s_open(cs_http_req_t *req, cs_http_resp_t *resp)
{
    complaint_api_t *api = req->ctx;
    char err[160];
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *handler, *channel, *subject, *description, *language;
    const char *name = NULL, *email = NULL, *phone = NULL, *customer_id = NULL;
    json_t *cust = json_object_get(body, "customer");
    if (complaint_api_member(body, "handler", &handler, resp) < 0 ||
        complaint_api_member(body, "channel", &channel, resp) < 0 ||
        complaint_api_member(body, "subject", &subject, resp) < 0 ||
        complaint_api_member(body, "description", &description, resp) < 0 ||
        complaint_api_member(body, "language", &language, resp) < 0)
        goto out;
    if (!json_is_object(cust)) {
        cs_http_error(resp, 422, "customer",
                      "customer must be an object with name and email"
                      " or phone");
        goto out;
    }
    if (complaint_api_member(cust, "name", &name, resp) < 0 ||
        complaint_api_member(cust, "email", &email, resp) < 0 ||
        complaint_api_member(cust, "phone", &phone, resp) < 0 ||
        complaint_api_member(cust, "id", &customer_id, resp) < 0)
        goto out;
    if (complaint_handler_check(handler, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "handler", "%s", err);
        goto out;
    }
    if (!channel || (strcmp(channel, "phone") != 0 && strcmp(channel, "visit") != 0)) {
        cs_http_error(resp, 422, "channel", "channel must be phone or visit");
        goto out;
    }
    static const struct {
        const char *field;
        int required;
        size_t max;
    } texts[] = {{"subject", 1, COMPLAINT_SHORT_TEXT_MAX},
                 {"description", 0, COMPLAINT_RESOLUTION_MAX},
                 {"customer.name", 1, COMPLAINT_SHORT_TEXT_MAX},
                 {"customer.id", 0, 64},
                 {"language", 0, 16}};
    const char *values[] = {subject, description, name, customer_id, language};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (complaint_text_check(texts[i].field, values[i], texts[i].required, texts[i].max, err,
                                 sizeof(err)) < 0) {
            cs_http_error(resp, 422, texts[i].field, "%s", err);
            goto out;
        }
    if ((!email || !email[0]) && (!phone || !phone[0])) {
        cs_http_error(resp, 422, "customer.email",
                      "customer.email or customer.phone is required: the feedback must reach"
                      " the customer");
        goto out;
    }
    if (email && email[0] && !s_email_ok(email)) {
        cs_http_error(resp, 422, "customer.email", "customer.email is not an e-mail address");
        goto out;
    }
    if (phone && phone[0] && !s_phone_ok(phone)) {
        cs_http_error(resp, 422, "customer.phone",
                      "customer.phone must be 3 to 40 digits, spaces and + - ( )");
        goto out;
    }
    const char *idem = cs_http_header(req, "Idempotency-Key");
    char key[CS_UUID_LEN + 8];
    if (idem) {
        size_t n = strlen(idem);
        int ok = n > 0 && n <= IDEMPOTENCY_KEY_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = idem[i] > ' ' && idem[i] < 0x7F;
        if (!ok) {
            cs_http_error(resp, 422, "Idempotency-Key",
                          "Idempotency-Key must be 1 to 64 visible ASCII characters");
            goto out;
        }
    } else {
        cs_uuid(key);
        idem = key;
    }
    complaint_opening_t o = {.source = "direct",
                             .source_key = idem,
                             .ticket_number = NULL,
                             .channel = channel,
                             .subject = subject,
                             .description = description,
                             .customer_id = customer_id,
                             .customer_name = name,
                             .customer_email = email,
                             .customer_phone = phone,
                             .language = language && language[0] ? language : "zh-CN",
                             .received_at_ms = cs_now_ms(),
                             .accept_hours = api->settings->accept_hours,
                             .actor = handler};
    char id[CS_UUID_LEN];
    if (cs_db_begin(req->db) < 0)
        goto out_db;
    int rc = case_store_open(req->db, &o, id);
    if (rc < 0 || cs_db_commit(req->db) < 0) {
        cs_db_rollback(req->db);
        goto out_db;
    }
    cs_service_kick(api->svc);
    if (rc == 0)
        cs_info("complaint: case %s opened by %s (%s)", id, handler, channel);
    json_decref(body);
    complaint_api_answer_case(req, resp, id, rc == 0 ? 201 : 200);
    return;
out_db:
    cs_http_error(resp, 503, NULL, "database error, try again");
out:
    json_decref(body);
}

/* GET /v1/stats */
static void s_stats(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(req->db,
                             "SELECT status, count(*),"
                             " count(*) FILTER (WHERE status = 'received' AND accept_due < now()),"
                             " count(*) FILTER (WHERE status = 'handling' AND handle_due < now())"
                             " FROM complaint_cases GROUP BY status",
                             0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_t *by_status = json_object();
    int64_t total = 0, open = 0, overdue = 0, handle_overdue = 0;
    for (int i = 0; i < COMPLAINT_STATUS_COUNT; i++)
        json_object_set_new(by_status, complaint_status_name((complaint_status_t)i),
                            json_integer(0));
    for (int i = 0; i < PQntuples(r); i++) {
        complaint_status_t st;
        int64_t n = cs_db_get_i64(r, i, 1);
        if (complaint_status_parse(cs_db_get(r, i, 0), &st) < 0)
            continue;
        json_object_set_new(by_status, complaint_status_name(st), json_integer(n));
        total += n;
        if (complaint_status_is_open(st))
            open += n;
        overdue += cs_db_get_i64(r, i, 2);
        handle_overdue += cs_db_get_i64(r, i, 3);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "complaints", json_integer(total));
    json_object_set_new(o, "open", json_integer(open));
    json_object_set_new(o, "accept_overdue", json_integer(overdue));
    json_object_set_new(o, "handle_overdue", json_integer(handle_overdue));
    json_object_set_new(o, "by_status", by_status);
    cs_http_json(resp, 200, o);
}

void complaint_api_register(complaint_api_t *api)
{
    cs_http_t *http = cs_service_http(api->svc);
    s_build_select();
    cs_http_route(http, "GET", "/v1/complaints", s_list, api);
    cs_http_route(http, "POST", "/v1/complaints", s_open, api);
    complaint_analysis_register(api); /* before /v1/complaints/{id}: "analysis" is no id */
    cs_http_route(http, "GET", "/v1/complaints/*", s_get, api);
    complaint_steps_register(api);
    cs_http_route(http, "GET", "/v1/stats", s_stats, api);
}
