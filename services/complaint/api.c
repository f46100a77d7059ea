/*
 * api.c - complaint's HTTP API on :7400.
 *
 *   GET  /v1/complaints?status=&ticket=&limit=&offset=   list, newest first
 *   GET  /v1/complaints/{id}                      one case with its history
 *   POST /v1/complaints/{id}/accept  {"handler"}  received -> accepted
 *   POST /v1/complaints/{id}/close   {"handler","resolution"}  accepted -> resolved
 *   GET  /v1/stats                                counts by status, open, overdue
 *
 * {id} is the complaint id (UUID) or the ticket number, so a handler who
 * only knows "CS-2026-000123" can still act.  Bad input is 422 naming the
 * field, an unknown case 404, a move the state machine refuses 409 naming
 * the current status.  Each move is one transaction: row, history, event.
 */
#include "api.h"

#include <string.h>
#include "case.h"
#include "case_store.h"
#include "cs_config.h"
#include "cs_json.h"
#include "cs_ids.h"
#include "cs_log.h"

#define LIST_LIMIT_MAX 500
#define LIST_OFFSET_MAX 1000000000
#define TICKET_FILTER_MAX 64

static void s_set_time(json_t *o, const char *key, int64_t ms)
{
    json_object_set_new(o, key, cs_json_time(ms));
}


/* Columns of s_case_select, in order. */
#define CASE_SELECT                                                                                \
    "SELECT complaint_id, ticket_id, ticket_number, status, channel, tier, priority, team,"        \
    " subject, customer_name, language, handler, resolution,"                                      \
    " (extract(epoch FROM received_at) * 1000)::bigint,"                                           \
    " (extract(epoch FROM accept_due) * 1000)::bigint,"                                            \
    " coalesce((extract(epoch FROM accepted_at) * 1000)::bigint, 0),"                              \
    " coalesce((extract(epoch FROM resolved_at) * 1000)::bigint, 0)"                               \
    " FROM complaint_cases"

static json_t *s_case_json(const PGresult *r, int row)
{
    static const char *const keys[] = {"complaint_id", "ticket_id",     "ticket_number", "status",
                                       "channel",      "tier",          "priority",      "team",
                                       "subject",      "customer_name", "language",      "handler",
                                       "resolution"};
    json_t *o = json_object();
    for (int i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++)
        json_object_set_new(o, keys[i], cs_json_str(cs_db_get(r, row, i)));
    json_object_set_new(o, "id", cs_json_str(cs_db_get(r, row, 0))); /* the contract's name for it */
    s_set_time(o, "received_at", cs_db_get_i64(r, row, 13));
    s_set_time(o, "accept_due", cs_db_get_i64(r, row, 14));
    s_set_time(o, "accepted_at", cs_db_get_i64(r, row, 15));
    s_set_time(o, "resolved_at", cs_db_get_i64(r, row, 16));
    complaint_case_t c = {0};
    complaint_status_parse(cs_db_get(r, row, 3), &c.status);
    c.accept_due_ms = cs_db_get_i64(r, row, 14);
    c.accepted_at_ms = cs_db_get_i64(r, row, 15);
    json_object_set_new(o, "accept_overdue",
                        json_boolean(complaint_case_accept_overdue(&c, cs_now_ms())));
    return o;
}

/* GET /v1/complaints: newest first, paged; complaint_id breaks ties so that
   consecutive pages neither overlap nor skip. */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *status = cs_http_query(req, "status");
    const char *ticket = NULL;
    int64_t limit, offset;
    complaint_status_t st;
    if (status && complaint_status_parse(status, &st) < 0) {
        cs_http_error(resp, 422, "status",
                      "status must be one of received, accepted,"
                      " classified, investigating, handling, feedback,"
                      " archived, resolved");
        return;
    }
    if (cs_http_query_token(req, resp, "ticket", TICKET_FILTER_MAX, &ticket) < 0 ||
        cs_http_query_int(req, resp, "limit", 100, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    char lbuf[24], obuf[24];
    const char *p[] = {status, ticket, cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset)};
    PGresult *r = cs_db_exec(req->db,
                             CASE_SELECT " WHERE ($1::text IS NULL OR status = $1)"
                                         " AND ($2::text IS NULL OR ticket_number = $2)"
                                         " ORDER BY received_at DESC, complaint_id"
                                         " LIMIT $3 OFFSET $4",
                             4, p);
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

/* GET /v1/complaints/{id} */
static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *key = req->param[0];
    const char *sql = cs_is_uuid(key) ? CASE_SELECT " WHERE complaint_id = $1::uuid"
                                      : CASE_SELECT " WHERE ticket_number = $1";
    PGresult *r = cs_db_exec(req->db, sql, 1, (const char *[]){key});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_http_error(resp, 404, "id", "no complaint with this id or ticket number");
        return;
    }
    json_t *o = s_case_json(r, 0);
    const char *id = cs_db_get(r, 0, 0);
    PGresult *h = cs_db_exec(req->db,
                             "SELECT from_status, to_status, actor, note,"
                             " (extract(epoch FROM at) * 1000)::bigint"
                             " FROM case_history WHERE complaint_id = $1::uuid ORDER BY id",
                             1, (const char *[]){id});
    PQclear(r);
    if (!h) {
        json_decref(o);
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_t *hist = json_array();
    for (int i = 0; i < PQntuples(h); i++) {
        json_t *e = json_object();
        json_object_set_new(e, "from", cs_json_str(cs_db_get(h, i, 0)));
        json_object_set_new(e, "to", cs_json_str(cs_db_get(h, i, 1)));
        json_object_set_new(e, "actor", cs_json_str(cs_db_get(h, i, 2)));
        json_object_set_new(e, "note", cs_json_str(cs_db_get(h, i, 3)));
        s_set_time(e, "at", cs_db_get_i64(h, i, 4));
        json_array_append_new(hist, e);
    }
    PQclear(h);
    json_object_set_new(o, "history", hist);
    cs_http_json(resp, 200, o);
}

/* A string member of the body: NULL when absent; -1 (and 422) when present
   but not a string. */
static int s_member(json_t *body, const char *key, const char **out, cs_http_resp_t *resp)
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

enum { MOVE_ACCEPT, MOVE_CLOSE };

/* The body of accept and close: handler (and resolution for close),
   checked before any row is touched. */
static json_t *s_move_body(cs_http_req_t *req, cs_http_resp_t *resp, int move, const char **handler,
                           const char **resolution)
{
    char err[128];
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return NULL;
    if (s_member(body, "handler", handler, resp) < 0 ||
        (move == MOVE_CLOSE && s_member(body, "resolution", resolution, resp) < 0))
        goto out_free_body;
    if (complaint_handler_check(*handler, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "handler", "%s", err);
        goto out_free_body;
    }
    if (move == MOVE_CLOSE && complaint_resolution_check(*resolution, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "resolution", "%s", err);
        goto out_free_body;
    }
    return body;
out_free_body:
    json_decref(body);
    return NULL;
}

/* POST /v1/complaints/{id}/accept and /close: lock, ask the state machine,
   write, announce — one transaction. */
static void s_move(cs_http_req_t *req, cs_http_resp_t *resp, int move)
{
    cs_service_t *svc = req->ctx;
    const char *handler = NULL, *resolution = NULL;
    char err[128];
    json_t *body = s_move_body(req, resp, move, &handler, &resolution);
    if (!body)
        return;
    if (cs_db_begin(req->db) < 0)
        goto out_db_error;
    complaint_case_t c;
    PGresult *row = case_store_lock(req->db, req->param[0], &c);
    if (!row)
        goto out_rollback;
    if (PQntuples(row) == 0) {
        cs_http_error(resp, 404, "id", "no complaint with this id or ticket number");
        goto out_refused;
    }
    int rc = move == MOVE_ACCEPT ? complaint_case_accept(&c, handler, cs_now_ms(), err, sizeof(err))
                                 : complaint_case_close(&c, handler, cs_now_ms(), err, sizeof(err));
    if (rc < 0) {
        cs_http_error(resp, 409, "status", "%s", err);
        goto out_refused;
    }
    const char *type = move == MOVE_ACCEPT ? "complaint.accepted" : "complaint.resolved";
    if (case_store_move(req->db, row, &c, type, handler, resolution) < 0)
        goto out_clear_rollback;
    char id[CS_UUID_LEN];
    snprintf(id, sizeof(id), "%s", cs_db_get(row, 0, CASE_COL_ID));
    PQclear(row);
    if (cs_db_commit(req->db) < 0)
        goto out_db_error;
    cs_service_kick(svc);
    cs_info("complaint: case %s %s", id, complaint_status_name(c.status));
    json_decref(body);
    /* answer with the case as it now stands */
    req->param[0] = id;
    s_get(req, resp);
    return;

out_refused:
    PQclear(row);
    cs_db_rollback(req->db);
    json_decref(body);
    return;
out_clear_rollback:
    PQclear(row);
out_rollback:
    cs_db_rollback(req->db);
out_db_error:
    json_decref(body);
    cs_http_error(resp, 503, NULL, "database error, try again");
}

static void s_accept(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_move(req, resp, MOVE_ACCEPT);
}

static void s_close(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_move(req, resp, MOVE_CLOSE);
}

/* GET /v1/stats */
static void s_stats(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(req->db,
                             "SELECT status, count(*),"
                             " count(*) FILTER (WHERE status = 'received' AND accept_due < now())"
                             " FROM complaint_cases GROUP BY status",
                             0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_t *by_status = json_object();
    int64_t total = 0, open = 0, overdue = 0;
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
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "complaints", json_integer(total));
    json_object_set_new(o, "open", json_integer(open));
    json_object_set_new(o, "accept_overdue", json_integer(overdue));
    json_object_set_new(o, "by_status", by_status);
    cs_http_json(resp, 200, o);
}

void complaint_api_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "GET", "/v1/complaints", s_list, svc);
    cs_http_route(http, "GET", "/v1/complaints/*", s_get, svc);
    cs_http_route(http, "POST", "/v1/complaints/*/accept", s_accept, svc);
    cs_http_route(http, "POST", "/v1/complaints/*/close", s_close, svc);
    cs_http_route(http, "GET", "/v1/stats", s_stats, svc);
}
