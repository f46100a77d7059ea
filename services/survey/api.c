/*
 * api.c - survey's JSON API on :7500, for staff and dashboards.
 *
 *   GET /v1/surveys?ticket=NUMBER&limit=&offset=   the invitation decision(s)
 *        of a ticket (or the newest ones, paged): ticket_number, link, status
 *        (sent | answered | skipped), skip_reason, expires_at, answer
 *   GET /v1/surveys/summary?from=&to=      sent, answered, response_rate,
 *        satisfied_share, target (0.9), meets_target, nps, averages, over
 *        the invitations sent in [from, to) (summary.h has the definitions)
 *
 * A figure with nothing to divide by is null, not 0: "no answers yet" must
 * not read as "nobody satisfied".
 */
#include <string.h>
#include "cs_config.h"
#include "cs_json.h"
#include "cs_ids.h"
#include "summary.h"
#include "survey.h"

#define LIST_LIMIT_MAX 500
#define LIST_OFFSET_MAX 1000000000
#define TICKET_FILTER_MAX 64

static json_t *s_ratio(int has, double v)
{
    return has ? json_real(v) : json_null();
}

/* GET /v1/surveys: newest first, paged; invitation_id breaks ties so that
   consecutive pages neither overlap nor skip. */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *ticket = NULL;
    int64_t limit, offset;
    if (cs_http_query_token(req, resp, "ticket", TICKET_FILTER_MAX, &ticket) < 0 ||
        cs_http_query_int(req, resp, "limit", 100, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    char lbuf[24], obuf[24];
    const char *p[] = {ticket, cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset)};
    PGresult *r =
        cs_db_exec(req->db,
                   "SELECT i.invitation_id, i.ticket_number, i.link, i.status, i.skip_reason,"
                   " coalesce((extract(epoch FROM i.expires_at) * 1000)::bigint, 0),"
                   " (extract(epoch FROM i.created_at) * 1000)::bigint,"
                   " coalesce(a.satisfaction, 0), coalesce(a.recommend, -1)"
                   " FROM invitations i LEFT JOIN answers a USING (invitation_id)"
                   " WHERE ($1::text IS NULL OR i.ticket_number = $1)"
                   " ORDER BY i.created_at DESC, i.invitation_id LIMIT $2 OFFSET $3",
                   3, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        json_object_set_new(o, "invitation_id", cs_json_str(cs_db_get(r, i, 0)));
        json_object_set_new(o, "ticket_number", cs_json_str(cs_db_get(r, i, 1)));
        json_object_set_new(o, "link", cs_json_str(cs_db_get(r, i, 2)));
        json_object_set_new(o, "status", cs_json_str(cs_db_get(r, i, 3)));
        json_object_set_new(o, "skip_reason", cs_json_str(cs_db_get(r, i, 4)));
        json_object_set_new(o, "expires_at", cs_json_time(cs_db_get_i64(r, i, 5)));
        json_object_set_new(o, "created_at", cs_json_time(cs_db_get_i64(r, i, 6)));
        int64_t sat = cs_db_get_i64(r, i, 7), rec = cs_db_get_i64(r, i, 8);
        json_object_set_new(o, "satisfaction", sat ? json_integer(sat) : json_null());
        json_object_set_new(o, "recommend", rec >= 0 ? json_integer(rec) : json_null());
        json_array_append_new(list, o);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "surveys", list);
    cs_http_json(resp, 200, o);
}

/* Tally the invitations sent in [from, to) (NULL = open end). 0 or -1. */
static int s_tally(cs_db_t *db, const char *from, const char *to, survey_tally_t *t,
                   int64_t *skipped)
{
    const char *p[] = {from, to};
    PGresult *r =
        cs_db_exec(db,
                   "SELECT count(*) FILTER (WHERE status <> 'skipped'),"
                   " count(*) FILTER (WHERE status = 'skipped')"
                   " FROM invitations"
                   " WHERE ($1::bigint IS NULL OR created_at >= to_timestamp($1 / 1000.0))"
                   " AND ($2::bigint IS NULL OR created_at < to_timestamp($2 / 1000.0))",
                   2, p);
    if (!r)
        return -1;
    survey_tally_init(t, cs_db_get_i64(r, 0, 0));
    if (skipped)
        *skipped = cs_db_get_i64(r, 0, 1);
    PQclear(r);
    r = cs_db_exec(db,
                   "SELECT a.satisfaction, coalesce(a.recommend, -1), count(*)"
                   " FROM answers a JOIN invitations i USING (invitation_id)"
                   " WHERE ($1::bigint IS NULL OR i.created_at >= to_timestamp($1 / 1000.0))"
                   " AND ($2::bigint IS NULL OR i.created_at < to_timestamp($2 / 1000.0))"
                   " GROUP BY 1, 2",
                   2, p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        survey_tally_add(t, (int)cs_db_get_i64(r, i, 0), (int)cs_db_get_i64(r, i, 1),
                         cs_db_get_i64(r, i, 2));
    PQclear(r);
    return 0;
}

int survey_satisfied_share(cs_db_t *db, double *share)
{
    survey_tally_t t;
    survey_summary_t s;
    if (s_tally(db, NULL, NULL, &t, NULL) < 0)
        return -1;
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    if (!s.has_satisfied_share)
        return 1;
    *share = s.satisfied_share;
    return 0;
}

/* A from/to query parameter as ms text for SQL; 0, or -1 after a 422. */
static int s_bound(cs_http_req_t *req, cs_http_resp_t *resp, const char *key, char *buf,
                   const char **out)
{
    const char *v = cs_http_query(req, key);
    int64_t ms;
    *out = NULL;
    if (!v || !*v)
        return 0;
    if (survey_parse_time(v, &ms) < 0) {
        cs_http_error(resp, 422, key,
                      "%s must be a date (2026-01-31), a UTC time (2026-01-31T08:00:00Z) or"
                      " milliseconds since 1970",
                      key);
        return -1;
    }
    *out = cs_db_i64(buf, ms);
    return 0;
}

/* GET /v1/surveys/summary */
static void s_summary(cs_http_req_t *req, cs_http_resp_t *resp)
{
    char fbuf[24], tbuf[24];
    const char *from, *to;
    if (s_bound(req, resp, "from", fbuf, &from) < 0 || s_bound(req, resp, "to", tbuf, &to) < 0)
        return;
    survey_tally_t t;
    survey_summary_t s;
    int64_t skipped = 0;
    if (s_tally(req->db, from, to, &t, &skipped) < 0) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    json_t *o = json_object();
    json_object_set_new(o, "sent", json_integer(s.sent));
    json_object_set_new(o, "answered", json_integer(s.answered));
    json_object_set_new(o, "skipped", json_integer(skipped));
    json_object_set_new(o, "response_rate", s_ratio(s.has_response_rate, s.response_rate));
    json_object_set_new(o, "satisfied_share", s_ratio(s.has_satisfied_share, s.satisfied_share));
    json_object_set_new(o, "target", json_real(s.target));
    json_object_set_new(o, "meets_target", json_boolean(s.meets_target));
    json_object_set_new(o, "nps", s_ratio(s.has_nps, s.nps));
    json_object_set_new(o, "avg_satisfaction", s_ratio(s.has_avg_satisfaction, s.avg_satisfaction));
    json_object_set_new(o, "avg_recommend", s_ratio(s.has_avg_recommend, s.avg_recommend));
    json_object_set_new(o, "promoters", json_integer(t.promoters));
    json_object_set_new(o, "passives", json_integer(t.passives));
    json_object_set_new(o, "detractors", json_integer(t.detractors));
    cs_http_json(resp, 200, o);
}

void survey_api_register(survey_state_t *st)
{
    cs_http_t *http = cs_service_http(st->svc);
    cs_http_route(http, "GET", "/v1/surveys", s_list, st);
    cs_http_route(http, "GET", "/v1/surveys/summary", s_summary, st);
}
