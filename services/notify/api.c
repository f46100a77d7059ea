/*
 * api — see api.h.  Read-only: every write in notify comes from the bus or the
 * delivery worker, so these handlers need no transaction of their own.
 */
#include <string.h>
#include <jansson.h>
#include "api.h"
#include "cs_config.h"
#include "outbound.h"

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

/* GET /v1/notifications?ticket=NUMBER&limit=&offset= : a ticket's
   notifications, oldest first, paged; id breaks ties between rows created in
   the same transaction so that pages neither overlap nor skip. */
static void s_notifications(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *number = cs_http_query(req, "ticket");
    int64_t limit, offset;
    if (!number || !s_plausible_number(number)) {
        cs_http_error(resp, 422, "ticket", "ticket must be a ticket number (1..%d characters)",
                      OUTBOUND_NUMBER_MAX);
        return;
    }
    if (cs_http_query_int(req, resp, "limit", API_ROWS_MAX, 1, API_ROWS_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, API_OFFSET_MAX, &offset) < 0)
        return;
    char lbuf[24], obuf[24];
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT id, kind, recipient, language, status, reason, attempts,"
        " to_char(next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " message_id, smtp_reply,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        " FROM notifications WHERE ticket_number = $1 ORDER BY created_at, id"
        " LIMIT $2 OFFSET $3",
        3, (const char *[]){number, cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset)});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    static const char *const names[] = {"id",         "kind",       "recipient",  "language",
                                        "status",     "reason",     "attempts",   "next_attempt_at",
                                        "message_id", "smtp_reply", "created_at", "sent_at"};
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r) && i < API_ROWS_MAX; i++) {
        json_t *row = json_object();
        for (int c = 0; c < (int)(sizeof(names) / sizeof(*names)); c++) {
            json_t *v = c == 6                 ? json_integer(cs_db_get_i64(r, i, c))
                        : PQgetisnull(r, i, c) ? json_null()
                                               : json_string(PQgetvalue(r, i, c));
            json_object_set_new(row, names[c], v ? v : json_null());
        }
        json_array_append_new(list, row);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "ticket_number", json_string(number));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "notifications", list);
    cs_http_json(resp, 200, o);
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
}
