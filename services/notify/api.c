/*
 * api — see api.h.  The delivery log is read-only here (every write to it comes from the
 * bus or the workers); the staff, duty-list and webhook routes each write with one
 * statement, so none needs a transaction of its own.
 */
#include <ctype.h>
#include <string.h>
#include <jansson.h>
#include "api.h"
#include "cs_config.h"
#include "outbound.h"
#include "webhook.h"

#define API_ROWS_MAX 500 /* a ticket with more notifications than this is a bug elsewhere */
#define API_OFFSET_MAX 1000000000

/* A ticket number as we store them: short, visible ASCII, nothing else. */
static int s_plausible_number(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OUTBOUND_NUMBER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

/* GET /v1/notifications?ticket=NUMBER | recipient=ADDR | message_id=<ID>, &limit=&offset= :
   the delivery log, oldest first, paged; id breaks ties between rows created in the same
   transaction so that pages neither overlap nor skip.  At least one filter: the log of
   every message ever sent is not one page. */
static void s_notifications(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *number = cs_http_query(req, "ticket");
    const char *recipient = NULL, *message_id = NULL;
    int64_t limit, offset;
    if (cs_http_query_token(req, resp, "recipient", OUTBOUND_ADDR_MAX, &recipient) < 0 ||
        cs_http_query_token(req, resp, "message_id", OUTBOUND_MSGID_MAX, &message_id) < 0)
        return;
    if ((number || (!recipient && !message_id)) && (!number || !s_plausible_number(number))) {
        cs_http_error(resp, 422, "ticket",
                      "ticket must be a ticket number (1..%d characters), or give recipient or"
                      " message_id",
                      OUTBOUND_NUMBER_MAX);
        return;
    }
    if (cs_http_query_int(req, resp, "limit", API_ROWS_MAX, 1, API_ROWS_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, API_OFFSET_MAX, &offset) < 0)
        return;
    char lbuf[24], obuf[24];
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT id, kind, channel, recipient, language, status, reason, attempts,"
        " to_char(next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " message_id, smtp_reply,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " to_char(bounced_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " ticket_number, source_type"
        " FROM notifications WHERE ($1 = '' OR ticket_number = $1)"
        " AND ($4 = '' OR lower(recipient) = lower($4)) AND ($5 = '' OR message_id = $5)"
        " ORDER BY created_at, id LIMIT $2 OFFSET $3",
        5,
        (const char *[]){number ? number : "", cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset),
                         recipient ? recipient : "", message_id ? message_id : ""});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    static const char *const names[] = {
        "id",      "kind",       "channel",         "recipient",  "language",   "status",
        "reason",  "attempts",   "next_attempt_at", "message_id", "smtp_reply", "created_at",
        "sent_at", "bounced_at", "ticket_number",   "source_type"};
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r) && i < API_ROWS_MAX; i++) {
        json_t *row = json_object();
        for (int c = 0; c < (int)(sizeof(names) / sizeof(*names)); c++) {
            json_t *v = c == 7                 ? json_integer(cs_db_get_i64(r, i, c))
                        : PQgetisnull(r, i, c) ? json_null()
                                               : json_string(PQgetvalue(r, i, c));
            json_object_set_new(row, names[c], v ? v : json_null());
        }
        json_array_append_new(list, row);
    }
    PQclear(r);
    json_t *o = json_object();
    if (number)
        json_object_set_new(o, "ticket_number", json_string(number));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "notifications", list);
    cs_http_json(resp, 200, o);
}

/* ---- staff and the duty list (alert.h) ------------------------------------------------- */

static int s_login_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* "+86 138-0013-8000" → "+8613800138000"; -1 when it is not an E.164 number. */
static int s_phone(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '-' || *p == '(' || *p == ')' || *p == '.')
            continue;
        if (o + 1 >= size || !((o == 0 && *p == '+') || (o > 0 && isdigit((unsigned char)*p))))
            return -1;
        out[o++] = *p;
    }
    out[o] = '\0';
    return o >= 7 && o <= 16 && out[1] != '0' ? 0 : -1;
}

/* An optional string member: "" when absent; -1 (422 in resp) when not a string or too long. */
static int s_member(cs_http_resp_t *resp, json_t *body, const char *key, size_t max,
                    const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) > max) {
        cs_http_error(resp, 422, key, "%s must be a string of at most %zu bytes", key, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

#define S_STAFF_COLS "login, name, email, sms, voice, language, lead_of"

static json_t *s_staff_json(const PGresult *r, int i)
{
    static const char *const names[] = {"login", "name",     "email",  "sms",
                                        "voice", "language", "lead_of"};
    json_t *o = json_object();
    for (int c = 0; c < 7; c++)
        json_object_set_new(o, names[c], json_string(cs_db_get(r, i, c)));
    return o;
}

/* PUT /v1/staff/{login} {"name","email","sms","voice","language","lead_of"} */
static void s_staff_put(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *login = req->param[0];
    if (!s_login_ok(login)) {
        cs_http_error(resp, 422, "login", "login must be 1..64 of A-Z a-z 0-9 . _ -");
        return;
    }
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *name, *email, *sms_in, *voice_in, *lang, *lead_of;
    char sms[20] = "", voice[20] = "";
    if (s_member(resp, body, "name", 200, &name) < 0 ||
        s_member(resp, body, "email", OUTBOUND_ADDR_MAX, &email) < 0 ||
        s_member(resp, body, "sms", 40, &sms_in) < 0 ||
        s_member(resp, body, "voice", 40, &voice_in) < 0 ||
        s_member(resp, body, "language", 8, &lang) < 0 ||
        s_member(resp, body, "lead_of", 64, &lead_of) < 0)
        goto out;
    if (*email && outbound_address_problem(email)) {
        cs_http_error(resp, 422, "email", "email must be a plain address that can receive mail");
        goto out;
    }
    if (*sms_in && s_phone(sms_in, sms, sizeof(sms)) < 0) {
        cs_http_error(resp, 422, "sms", "sms must be an international number (+86 138 0013 8000)");
        goto out;
    }
    if (*voice_in && s_phone(voice_in, voice, sizeof(voice)) < 0) {
        cs_http_error(resp, 422, "voice",
                      "voice must be an international number (+86 10 5555 0101)");
        goto out;
    }
    if (*lang && strcmp(lang, "zh-CN") != 0 && strcmp(lang, "en") != 0) {
        cs_http_error(resp, 422, "language", "language must be zh-CN or en");
        goto out;
    }
    for (const char *c = name; *c; c++) {
        if ((unsigned char)*c < ' ') {
            cs_http_error(resp, 422, "name", "name must be one line of text");
            goto out;
        }
    }
    PGresult *r = cs_db_exec(
        req->db,
        "INSERT INTO staff (login, name, email, sms, voice, language, lead_of)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (login) DO UPDATE SET name = $2, email = $3, sms = $4, voice = $5,"
        " language = $6, lead_of = $7, updated_at = now() RETURNING " S_STAFF_COLS,
        7, (const char *[]){login, name, email, sms, voice, *lang ? lang : "zh-CN", lead_of});
    if (!r)
        cs_http_error(resp, 503, NULL, "database unavailable");
    else
        cs_http_json(resp, 200, s_staff_json(r, 0));
    PQclear(r);
out:
    json_decref(body);
}

static void s_staff_list(cs_http_req_t *req, cs_http_resp_t *resp, int duty_only)
{
    PGresult *r = cs_db_exec(req->db,
                             duty_only ? "SELECT " S_STAFF_COLS " FROM staff"
                                         " JOIN duty_list USING (login) ORDER BY login"
                                       : "SELECT " S_STAFF_COLS " FROM staff ORDER BY login",
                             0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, s_staff_json(r, i));
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, duty_only ? "duty" : "staff", list);
    cs_http_json(resp, 200, o);
}

static void s_staff_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_staff_list(req, resp, 0);
}

static void s_duty_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_staff_list(req, resp, 1);
}

/* DELETE /v1/staff/{login}, PUT /v1/duty/{login}, DELETE /v1/duty/{login} */
static void s_staff_change(cs_http_req_t *req, cs_http_resp_t *resp, const char *sql)
{
    const char *login = req->param[0];
    if (!s_login_ok(login)) {
        cs_http_error(resp, 422, "login", "login must be 1..64 of A-Z a-z 0-9 . _ -");
        return;
    }
    int64_t n = cs_db_cmd(req->db, sql, 1, (const char *[]){login});
    if (n < 0)
        cs_http_error(resp, 503, NULL, "database unavailable");
    else if (n == 0)
        cs_http_error(resp, 404, "login", "%s is not known here (PUT /v1/staff/%s first)", login,
                      login);
    else
        cs_http_json(resp, 200, json_pack("{s:s}", "login", login));
}

static void s_staff_delete(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_staff_change(req, resp, "DELETE FROM staff WHERE login = $1");
}

static void s_duty_put(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_staff_change(req, resp,
                   "INSERT INTO duty_list (login) SELECT login FROM staff WHERE login = $1"
                   " ON CONFLICT (login) DO UPDATE SET added_at = duty_list.added_at");
}

static void s_duty_delete(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_staff_change(req, resp, "DELETE FROM duty_list WHERE login = $1");
}

/* {"value": count, ...} from a two-column GROUP BY. */
static json_t *s_counts(cs_db_t *db, const char *sql)
{
    PGresult *r = cs_db_exec(db, sql, 0, NULL);
    if (!r)
        return NULL;
    json_t *o = json_object();
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(o, PQgetvalue(r, i, 0), json_integer(cs_db_get_i64(r, i, 1)));
    PQclear(r);
    return o;
}

static void s_stats(cs_http_req_t *req, cs_http_resp_t *resp)
{
    json_t *by_kind =
        s_counts(req->db, "SELECT kind, count(*) FROM notifications GROUP BY kind ORDER BY kind");
    json_t *by_status = s_counts(
        req->db, "SELECT status, count(*) FROM notifications GROUP BY status ORDER BY status");
    if (!by_kind || !by_status) {
        json_decref(by_kind);
        json_decref(by_status);
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "by_kind", by_kind);
    json_object_set_new(o, "by_status", by_status);
    cs_http_json(resp, 200, o);
}

void api_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "GET", "/v1/notifications", s_notifications, svc);
    cs_http_route(http, "GET", "/v1/stats", s_stats, svc);
    cs_http_route(http, "GET", "/v1/staff", s_staff_get, svc);
    cs_http_route(http, "PUT", "/v1/staff/*", s_staff_put, svc);
    cs_http_route(http, "DELETE", "/v1/staff/*", s_staff_delete, svc);
    cs_http_route(http, "GET", "/v1/duty", s_duty_get, svc);
    cs_http_route(http, "PUT", "/v1/duty/*", s_duty_put, svc);
    cs_http_route(http, "DELETE", "/v1/duty/*", s_duty_delete, svc);
    webhook_api_register(svc);
}
