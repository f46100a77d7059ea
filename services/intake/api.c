/*
 * api — see api.h. Validation names the field at fault; nothing is stored
 * unless the whole request is valid.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "api.h"
#include "cs_config.h"
#include "cs_json.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "desk.h"
#include "fields.h"
#include "ticket.h"

static const char *const s_channels[] = {"web", "app", "onsite", "partner", NULL};
static const char *const s_urgencies[] = {"low", "medium", "high", "critical", NULL};
static const char *const s_impacts[] = {"single", "site", "multi_site", "public", NULL};
static const char *const s_types[] = {"equipment_maintenance",
                                      "process_optimisation",
                                      "safety_inspection",
                                      "environmental_compliance",
                                      "technical_consulting",
                                      "training",
                                      "data_monitoring",
                                      "product_supply",
                                      "complaint",
                                      NULL};

#define IDEM_KEY_MAX 200
#define STORE_KEY_REUSED -2

/* SHA-256 (hex) of the request body as sent: a retry sends the same bytes.
   (A canonical form would cost a second pass over bodies of tens of KB.) */
static void s_body_sha(const char *body, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)body, len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The key already names a request: the same body gives its ticket (1),
   another body STORE_KEY_REUSED (its ticket number in other), -1 on error. */
static int s_key_taken(cs_db_t *db, const char *key, const char *sha, intake_result_t *res,
                       char *other)
{
    const char *p[] = {key};
    PGresult *r = cs_db_exec(db,
                             "SELECT i.body_sha, t.id, t.number, t.customer_id"
                             " FROM idempotency_keys i JOIN tickets t ON t.id = i.ticket_id"
                             " WHERE i.key = $1",
                             1, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    int same = strcmp(PQgetvalue(r, 0, 0), sha) == 0;
    if (same) {
        memset(res, 0, sizeof(*res));
        snprintf(res->ticket_id, sizeof(res->ticket_id), "%s", PQgetvalue(r, 0, 1));
        snprintf(res->number, sizeof(res->number), "%s", PQgetvalue(r, 0, 2));
        snprintf(res->customer_id, sizeof(res->customer_id), "%s", PQgetvalue(r, 0, 3));
        res->duplicate = 1;
    } else {
        snprintf(other, INTAKE_NUMBER_LEN, "%s", PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return same ? 1 : STORE_KEY_REUSED;
}

/* One transaction: claim the idempotency key for the ticket about to be
   made (a concurrent request holding the key makes this INSERT wait for
   its commit, then find it taken), then create the ticket. 0,
   STORE_KEY_REUSED or -1. */
static int s_store(cs_http_req_t *req, const intake_request_t *rq, const char *key, const char *sha,
                   intake_result_t *res, char *other)
{
    cs_db_t *db = req->db;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cs_db_begin(db) < 0)
            return -1;
        char ticket_id[CS_UUID_LEN];
        intake_request_t with_id = *rq;
        if (key) {
            cs_uuid(ticket_id);
            with_id.ticket_id = ticket_id;
            const char *p[] = {key, sha, ticket_id};
            PGresult *r = cs_db_exec(db,
                                     "INSERT INTO idempotency_keys (key, body_sha, ticket_id)"
                                     " VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING"
                                     " RETURNING key",
                                     3, p);
            if (!r)
                goto failed;
            int claimed = PQntuples(r) == 1;
            PQclear(r);
            if (!claimed) {
                int rc = s_key_taken(db, key, sha, res, other);
                cs_db_rollback(db);
                return rc == 1 ? 0 : rc; /* the same request, another one, or -1 */
            }
        }
        if (intake_ticket_create(db, &with_id, res) < 0)
            goto failed;
        if (key && res->duplicate) { /* its external_id named an older ticket */
            const char *p[] = {key, res->ticket_id};
            if (cs_db_cmd(db, "UPDATE idempotency_keys SET ticket_id = $2 WHERE key = $1", 2, p) !=
                1)
                goto failed;
        }
        /* Never retried after the commit: when its outcome is unknown (the
           connection broke), a second attempt could store the ticket twice.
           The client is told to try again; its Idempotency-Key makes that safe. */
        return cs_db_commit(db);
    failed:;
        int unique = strcmp(cs_db_sqlstate(db), "23505") == 0;
        cs_db_rollback(db);
        if (!unique)
            return -1;
        /* a concurrent request with the same external_id won: look again */
    }
    return -1;
}

/* Idempotency-Key: 1..200 visible ASCII characters. */
static int s_idem_key(cs_http_req_t *req, cs_http_resp_t *resp, const char **out)
{
    const char *k = cs_http_header(req, "Idempotency-Key");
    *out = NULL;
    if (!k)
        return 0;
    size_t n = strlen(k);
    int ok = n >= 1 && n <= IDEM_KEY_MAX;
    for (const char *p = k; ok && *p; p++)
        ok = *p > 0x20 && *p < 0x7f;
    if (!ok) {
        cs_http_error(resp, 422, "Idempotency-Key",
                      "Idempotency-Key must be 1 to %d visible ASCII characters", IDEM_KEY_MAX);
        return -1;
    }
    *out = k;
    return 0;
}

static void s_post_request(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    intake_request_t rq = {0};
    const char *idem_key;
    char body_sha[65];
    if (s_idem_key(req, resp, &idem_key) < 0)
        goto out;
    s_body_sha(req->body, req->body_len, body_sha);
    json_t *cust = json_object_get(body, "customer");
    if (!json_is_object(cust)) {
        cs_http_error(resp, 422, "customer",
                      "customer must be an object with name and email or phone");
        goto out;
    }
    json_t *emerg = json_object_get(body, "emergency_level");
    if (fields_str(body, "channel", "channel", 32, s_channels, 1, &rq.channel, resp) < 0 ||
        fields_str(cust, "name", "customer.name", 200, NULL, 1, &rq.name, resp) < 0 ||
        fields_str(cust, "email", "customer.email", 254, NULL, 0, &rq.email, resp) < 0 ||
        fields_str(cust, "phone", "customer.phone", 32, NULL, 0, &rq.phone, resp) < 0 ||
        fields_str(cust, "company", "customer.company", 200, NULL, 0, &rq.company, resp) < 0 ||
        fields_str(cust, "industry", "customer.industry", 32, fields_industries, 0, &rq.industry,
                   resp) < 0 ||
        fields_str(cust, "tier", "customer.tier", 16, fields_tiers, 0, &rq.tier, resp) < 0 ||
        fields_str(body, "subject", "subject", 500, NULL, 1, &rq.subject, resp) < 0 ||
        fields_str(body, "description", "description", 100000, NULL, 1, &rq.body, resp) < 0 ||
        fields_str(body, "service_type", "service_type", 32, s_types, 0, &rq.requested_type, resp) <
            0 ||
        fields_str(body, "urgency", "urgency", 16, s_urgencies, 0, &rq.urgency, resp) < 0 ||
        fields_str(body, "impact", "impact", 16, s_impacts, 0, &rq.impact, resp) < 0 ||
        fields_str(body, "language", "language", 8, fields_languages, 0, &rq.language, resp) < 0 ||
        fields_str(body, "external_id", "external_id", 200, NULL, 0, &rq.external_id, resp) < 0)
        goto out;
    if (!rq.email && !rq.phone) {
        cs_http_error(resp, 422, "customer.email", "customer needs an email or a phone");
        goto out;
    }
    if (rq.email && !fields_email_ok(rq.email)) {
        cs_http_error(resp, 422, "customer.email", "customer.email is not an e-mail address");
        goto out;
    }
    char e164[PHONE_E164_MAX], ext[PHONE_EXT_MAX];
    if (rq.phone) {
        if (fields_phone(rq.phone, "customer.phone", e164, ext, resp) < 0)
            goto out;
        rq.phone = e164;
    }
    if (emerg && !json_is_null(emerg)) {
        if (!json_is_integer(emerg) || json_integer_value(emerg) < 0 ||
            json_integer_value(emerg) > 3) {
            cs_http_error(resp, 422, "emergency_level", "emergency_level must be 0, 1, 2 or 3");
            goto out;
        }
        rq.emergency_flag = (int)json_integer_value(emerg);
    }
    if (!rq.language)
        rq.language = intake_has_han(rq.subject) || intake_has_han(rq.body) ? "zh-CN" : "en";
    rq.received_at_ms = cs_now_ms();
    char trace[CS_UUID_LEN];
    cs_uuid(trace);
    rq.trace_id = trace;
    cs_log_set_trace(trace);

    intake_result_t res;
    char other[INTAKE_NUMBER_LEN] = "";
    int rc = s_store(req, &rq, idem_key, body_sha, &res, other);
    if (rc == STORE_KEY_REUSED) {
        cs_http_error(resp, 409, "Idempotency-Key",
                      "Idempotency-Key was already used with a different request (ticket %s);"
                      " use a new key for a new request",
                      other);
        goto out;
    }
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "the request could not be stored; try again");
        goto out;
    }
    cs_service_kick(svc);
    char token[DESK_TOKEN_LEN], url[160];
    desk_ticket_token(res.number, token);
    snprintf(url, sizeof(url), "/v1/requests/%s?token=%s", res.number, token);
    json_t *o = json_object();
    json_object_set_new(o, "ticket_number", json_string(res.number));
    json_object_set_new(o, "ticket_id", json_string(res.ticket_id));
    json_object_set_new(o, "status", json_string(res.duplicate ? "duplicate" : "created"));
    json_object_set_new(o, "access_token", json_string(token));
    json_object_set_new(o, "status_url", json_string(url));
    if (!res.duplicate) {
        char labels[64];
        snprintf(labels, sizeof(labels), "channel=\"%s\"", rq.channel);
        cs_counter_add("cs_intake_tickets_total", labels, 1);
        cs_info("api: %s created (%s)", res.number, rq.channel);
        snprintf(resp->location, sizeof(resp->location), "/v1/tickets/%s", res.number);
    }
    cs_http_json(resp, res.duplicate ? 200 : 201, o);
out:
    cs_log_set_trace("");
    json_decref(body);
}

/* GET /v1/requests/{number}?token= (or Authorization: Bearer): the
   customer's own view — status and the timeline of what was addressed to
   them, nothing internal. An unknown number and a wrong token get the same
   404, so the route tells a stranger nothing. */
static void s_get_request(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *number = req->param[0];
    const char *token = cs_http_query(req, "token");
    const char *auth = cs_http_header(req, "Authorization");
    if (!token && auth && strncmp(auth, "Bearer ", 7) == 0)
        token = auth + 7;
    if (!token || !*token) {
        cs_http_error(resp, 401, "token",
                      "token is required: the access token given when the request was made");
        return;
    }
    if (strlen(number) >= INTAKE_NUMBER_LEN || !desk_ticket_token_ok(number, token)) {
        cs_http_error(resp, 404, "number", "no request %.40s with this token", number);
        return;
    }
    const char *p[] = {number};
    PGresult *r =
        cs_db_exec(req->db,
                   "SELECT number, channel, subject, status,"
                   " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                   " to_char(coalesce(status_at, received_at) AT TIME ZONE 'UTC',"
                   " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                   " FROM tickets WHERE number = $1",
                   1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_http_error(resp, 404, "number", "no request %.40s with this token", number);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "number", cs_json_col(r, 0, 0));
    json_object_set_new(o, "channel", cs_json_col(r, 0, 1));
    json_object_set_new(o, "subject", cs_json_col(r, 0, 2));
    json_object_set_new(o, "status", cs_json_col(r, 0, 3));
    json_object_set_new(o, "received_at", cs_json_col(r, 0, 4));
    json_object_set_new(o, "updated_at", cs_json_col(r, 0, 5));
    json_t *history = json_array();
    json_t *first = json_object();
    json_object_set_new(first, "at", cs_json_col(r, 0, 4));
    json_object_set_new(first, "event", json_string("received"));
    json_object_set_new(first, "status", json_string("received"));
    json_array_append_new(history, first);
    PQclear(r);
    r = cs_db_exec(req->db,
                   "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                   " kind, status, message FROM ticket_timeline WHERE number = $1"
                   " ORDER BY at, event_id LIMIT 500",
                   1, p);
    for (int i = 0; r && i < PQntuples(r); i++) {
        json_t *e = json_object();
        json_object_set_new(e, "at", cs_json_col(r, i, 0));
        json_object_set_new(e, "event", cs_json_col(r, i, 1));
        json_object_set_new(e, "status", cs_json_col(r, i, 2));
        if (!PQgetisnull(r, i, 3))
            json_object_set_new(e, "message", cs_json_col(r, i, 3));
        json_array_append_new(history, e);
    }
    PQclear(r);
    json_object_set_new(o, "history", history);
    cs_http_json(resp, 200, o);
}

static void s_get_ticket(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *p[] = {req->param[0]};
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT t.number, t.channel, t.from_addr, t.from_name, t.subject, t.body,"
        " to_char(t.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " t.language, t.requested_type, t.urgency, t.impact, t.emergency_flag, t.message_id,"
        " t.attachment_count, c.id, c.name, c.email, c.phone, c.company, c.industry, c.tier, t.id"
        " FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE t.number = $1",
        1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_http_error(resp, 404, "number", "no ticket %.40s", req->param[0]);
        return;
    }
    json_t *o = json_object();
    static const char *const keys[] = {"number",         "channel", "from_addr",   "from_name",
                                       "subject",        "text",    "received_at", "language",
                                       "requested_type", "urgency", "impact"};
    for (int i = 0; i < 11; i++)
        json_object_set_new(o, keys[i], cs_json_col(r, 0, i));
    json_object_set_new(o, "emergency_level", json_integer(cs_db_get_i64(r, 0, 11)));
    json_object_set_new(o, "message_id", cs_json_col(r, 0, 12));
    json_object_set_new(o, "attachment_count", json_integer(cs_db_get_i64(r, 0, 13)));
    json_object_set_new(o, "ticket_id", cs_json_col(r, 0, 21));
    json_t *c = json_object();
    static const char *const ckeys[] = {"id",      "name",     "email", "phone",
                                        "company", "industry", "tier"};
    for (int i = 0; i < 7; i++)
        json_object_set_new(c, ckeys[i], cs_json_col(r, 0, 14 + i));
    json_object_set_new(o, "customer", c);
    char ticket_id[CS_UUID_LEN];
    snprintf(ticket_id, sizeof(ticket_id), "%s", PQgetvalue(r, 0, 21));
    PQclear(r);

    const char *q[] = {ticket_id};
    r = cs_db_exec(req->db,
                   "SELECT outcome, message_id, subject,"
                   " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                   " (SELECT json_agg(json_build_object('filename', filename, 'content_type',"
                   " content_type, 'size', size, 'sha256', sha256)) FROM attachments a"
                   " WHERE a.mail_id = mm.id)"
                   " FROM mail_messages mm WHERE ticket_id = $1 ORDER BY received_at",
                   1, q);
    json_t *mails = json_array();
    for (int i = 0; r && i < PQntuples(r); i++) {
        json_t *m = json_object();
        json_object_set_new(m, "outcome", cs_json_col(r, i, 0));
        json_object_set_new(m, "message_id", cs_json_col(r, i, 1));
        json_object_set_new(m, "subject", cs_json_col(r, i, 2));
        json_object_set_new(m, "received_at", cs_json_col(r, i, 3));
        json_t *att =
            PQgetisnull(r, i, 4) ? json_array() : json_loads(PQgetvalue(r, i, 4), 0, NULL);
        json_object_set_new(m, "attachments", att ? att : json_array());
        json_array_append_new(mails, m);
    }
    PQclear(r);
    json_object_set_new(o, "mails", mails);
    cs_http_json(resp, 200, o);
}

#define LIST_LIMIT_MAX 1000
#define LIST_OFFSET_MAX 1000000000

/* GET /v1/tickets?limit=&offset= : newest first; number breaks ties so that
   consecutive pages neither overlap nor skip. */
static void s_list_tickets(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t limit, offset;
    if (cs_http_query_int(req, resp, "limit", 50, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    char lb[24], ob[24];
    const char *p[] = {cs_db_i64(lb, limit), cs_db_i64(ob, offset)};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT number, channel, subject, language,"
                             " to_char(received_at AT TIME ZONE 'UTC',"
                             " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                             " FROM tickets ORDER BY received_at DESC, number DESC"
                             " LIMIT $1 OFFSET $2",
                             2, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *t = json_object();
        json_object_set_new(t, "number", cs_json_col(r, i, 0));
        json_object_set_new(t, "channel", cs_json_col(r, i, 1));
        json_object_set_new(t, "subject", cs_json_col(r, i, 2));
        json_object_set_new(t, "language", cs_json_col(r, i, 3));
        json_object_set_new(t, "received_at", cs_json_col(r, i, 4));
        json_array_append_new(arr, t);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "tickets", arr);
    cs_http_json(resp, 200, o);
}

static void s_stats(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r =
        cs_db_exec(req->db,
                   "SELECT (SELECT count(*) FROM tickets),"
                   " (SELECT coalesce(json_object_agg(channel, n), '{}') FROM"
                   "   (SELECT channel, count(*) n FROM tickets GROUP BY channel) a),"
                   " (SELECT count(*) FROM mail_messages WHERE outcome = 'reply'),"
                   " (SELECT count(*) FROM mail_messages WHERE outcome = 'duplicate'),"
                   " (SELECT coalesce(json_object_agg(reason, n), '{}') FROM"
                   "   (SELECT reason, count(*) n FROM mail_messages WHERE outcome = 'rejected'"
                   "    GROUP BY reason) b),"
                   " (SELECT count(*) FROM customers)",
                   0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "tickets", json_integer(cs_db_get_i64(r, 0, 0)));
    json_t *bc = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
    json_object_set_new(o, "by_channel", bc ? bc : json_object());
    json_object_set_new(o, "replies", json_integer(cs_db_get_i64(r, 0, 2)));
    json_object_set_new(o, "duplicates", json_integer(cs_db_get_i64(r, 0, 3)));
    json_t *rj = json_loads(PQgetvalue(r, 0, 4), 0, NULL);
    json_object_set_new(o, "rejected", rj ? rj : json_object());
    json_object_set_new(o, "customers", json_integer(cs_db_get_i64(r, 0, 5)));
    PQclear(r);
    cs_http_json(resp, 200, o);
}

void intake_api_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "POST", "/v1/requests", s_post_request, svc);
    cs_http_route(http, "GET", "/v1/requests/*", s_get_request, svc);
    cs_http_route(http, "GET", "/v1/tickets", s_list_tickets, svc);
    cs_http_route(http, "GET", "/v1/tickets/*", s_get_ticket, svc);
    cs_http_route(http, "GET", "/v1/stats", s_stats, svc);
}
