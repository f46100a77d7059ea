/*
 * api — see api.h. Validation names the field at fault; nothing is stored
 * unless the whole request is valid.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "cs_config.h"
#include "cs_json.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "ticket.h"

static const char *const s_channels[] = {"web", "app", "onsite", "partner", NULL};
static const char *const s_industries[] = {"oil_gas_supplier",
                                           "chemical_producer",
                                           "energy_investor",
                                           "regulator",
                                           "partner",
                                           "other",
                                           NULL};
static const char *const s_tiers[] = {"strategic", "large", "sme", NULL};
static const char *const s_urgencies[] = {"low", "medium", "high", "critical", NULL};
static const char *const s_impacts[] = {"single", "site", "multi_site", "public", NULL};
static const char *const s_languages[] = {"zh-CN", "en", NULL};
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

static int s_in(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return 1;
    return 0;
}

static void s_list(char *buf, size_t size, const char *const *set)
{
    size_t n = 0;
    buf[0] = 0;
    for (; *set && n + 1 < size; set++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", *set);
}

/* A plausible addr-spec: one '@', non-empty local part and a dotted domain,
   no spaces or control characters, at most 254 bytes. */
static int s_valid_email(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > 254)
        return 0;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return 0;
    const char *dot = strchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == 0 || s[len - 1] == '.')
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return 0;
    return 1;
}

static int s_valid_phone(const char *s)
{
    size_t digits = 0, len = strlen(s);
    if (len > 32)
        return 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (!strchr("+-() ", *p))
            return 0;
    }
    return digits >= 5;
}

/* Optional string member: NULL when absent or null; -1 (resp filled) when
   present but not a string, empty, too long, or outside `set`. */
static int s_str(json_t *obj, const char *key, const char *field, size_t max,
                 const char *const *set, int required, const char **out, cs_http_resp_t *resp)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) {
            cs_http_error(resp, 422, field, "%s is required", field);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        cs_http_error(resp, 422, field, "%s must be a string", field);
        return -1;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    const char *p = s;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (*p == 0) {
        if (!required)
            return 0;
        cs_http_error(resp, 422, field, "%s must not be empty", field);
        return -1;
    }
    if (len > max) {
        cs_http_error(resp, 422, field, "%s is longer than %zu bytes", field, max);
        return -1;
    }
    if (set && !s_in(s, set)) {
        char allowed[400];
        s_list(allowed, sizeof(allowed), set);
        cs_http_error(resp, 422, field, "%s must be one of: %s", field, allowed);
        return -1;
    }
    *out = s;
    return 0;
}

static void s_post_request(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    intake_request_t rq = {0};
    json_t *cust = json_object_get(body, "customer");
    if (!json_is_object(cust)) {
        cs_http_error(resp, 422, "customer",
                      "customer must be an object with name and email or phone");
        goto out;
    }
    json_t *emerg = json_object_get(body, "emergency_level");
    if (s_str(body, "channel", "channel", 32, s_channels, 1, &rq.channel, resp) < 0 ||
        s_str(cust, "name", "customer.name", 200, NULL, 1, &rq.name, resp) < 0 ||
        s_str(cust, "email", "customer.email", 254, NULL, 0, &rq.email, resp) < 0 ||
        s_str(cust, "phone", "customer.phone", 32, NULL, 0, &rq.phone, resp) < 0 ||
        s_str(cust, "company", "customer.company", 200, NULL, 0, &rq.company, resp) < 0 ||
        s_str(cust, "industry", "customer.industry", 32, s_industries, 0, &rq.industry, resp) < 0 ||
        s_str(cust, "tier", "customer.tier", 16, s_tiers, 0, &rq.tier, resp) < 0 ||
        s_str(body, "subject", "subject", 500, NULL, 1, &rq.subject, resp) < 0 ||
        s_str(body, "description", "description", 100000, NULL, 1, &rq.body, resp) < 0 ||
        s_str(body, "service_type", "service_type", 32, s_types, 0, &rq.requested_type, resp) < 0 ||
        s_str(body, "urgency", "urgency", 16, s_urgencies, 0, &rq.urgency, resp) < 0 ||
        s_str(body, "impact", "impact", 16, s_impacts, 0, &rq.impact, resp) < 0 ||
        s_str(body, "language", "language", 8, s_languages, 0, &rq.language, resp) < 0 ||
        s_str(body, "external_id", "external_id", 200, NULL, 0, &rq.external_id, resp) < 0)
        goto out;
    if (!rq.email && !rq.phone) {
        cs_http_error(resp, 422, "customer.email", "customer needs an email or a phone");
        goto out;
    }
    if (rq.email && !s_valid_email(rq.email)) {
        cs_http_error(resp, 422, "customer.email", "customer.email is not an e-mail address");
        goto out;
    }
    if (rq.phone && !s_valid_phone(rq.phone)) {
        cs_http_error(resp, 422, "customer.phone", "customer.phone is not a phone number");
        goto out;
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
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (cs_db_begin(req->db) < 0)
            break;
        if (intake_ticket_create(req->db, &rq, &res) < 0) {
            int unique = strcmp(cs_db_sqlstate(req->db), "23505") == 0;
            cs_db_rollback(req->db);
            if (!unique)
                break;
            continue; /* a concurrent request with the same external_id won: look again */
        }
        /* Never retried after the commit: when its outcome is unknown (the
           connection broke), a second attempt could store the ticket twice.
           The client is told to try again; an external_id makes that safe. */
        rc = cs_db_commit(req->db);
        break;
    }
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "the request could not be stored; try again");
        goto out;
    }
    cs_service_kick(svc);
    json_t *o = json_object();
    json_object_set_new(o, "ticket_number", json_string(res.number));
    json_object_set_new(o, "ticket_id", json_string(res.ticket_id));
    json_object_set_new(o, "status", json_string(res.duplicate ? "duplicate" : "created"));
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
    cs_http_route(http, "GET", "/v1/tickets", s_list_tickets, svc);
    cs_http_route(http, "GET", "/v1/tickets/*", s_get_ticket, svc);
    cs_http_route(http, "GET", "/v1/stats", s_stats, svc);
}
