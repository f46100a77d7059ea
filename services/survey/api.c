/*
 * api.c - survey's JSON API on :7500, for staff and dashboards.
 *
 *   GET /v1/surveys?ticket=NUMBER&status=&limit=&offset=
 *        the survey decision(s) of a ticket (or the newest ones, paged):
 *        status (scheduled | held | sent | answered | skipped), skip_reason,
 *        channel, send_at, sent_at, reminded_at, link, scores
 *   GET /v1/surveys/summary?from=&to=&by=team|agent|service_type|tier|month
 *        &format=json|csv
 *        over the invitations sent in [from, to): sent, answered,
 *        response_rate, satisfied_share, target (0.9), meets_target, nps,
 *        averages — in total and per group (summary.h has the definitions);
 *        month is the month of sending in CS_SURVEY_TZ
 *   GET /v1/surveys/follow-ups?status=open|done|all&limit=&offset=
 *        the phone follow-up tasks (回访), oldest open first
 *   POST /v1/surveys/follow-ups/{id}/done  {"outcome", "note", "by"}
 *        close a task with its outcome: reached | unreachable | declined |
 *        complaint_opened
 *
 * A figure with nothing to divide by is null (empty in CSV), not 0: "no
 * answers yet" must not read as "nobody satisfied".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"
#include "summary.h"
#include "survey.h"

#define LIST_LIMIT_MAX 500
#define LIST_OFFSET_MAX 1000000000
#define TICKET_FILTER_MAX 64
#define NOTE_MAX 2000
#define LOGIN_MAX 64

static json_t *s_ratio(int has, double v)
{
    return has ? json_real(v) : json_null();
}

/* One of the words in list (NULL-ended), or the default when absent; else a
   422 naming the parameter. 0 or -1. */
static int s_query_word(cs_http_req_t *req, cs_http_resp_t *resp, const char *key,
                        const char *const *list, const char *dflt, const char **out)
{
    const char *v = cs_http_query(req, key);
    *out = dflt;
    if (!v)
        return 0;
    for (size_t i = 0; list[i]; i++)
        if (strcmp(v, list[i]) == 0) {
            *out = list[i];
            return 0;
        }
    char allowed[160] = "";
    for (size_t i = 0; list[i]; i++)
        snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                 i ? ", " : "", list[i]);
    cs_http_error(resp, 422, key, "%s must be one of %s", key, allowed);
    return -1;
}

/* ---- GET /v1/surveys ---------------------------------------------------------------- */

/* Newest first, paged; invitation_id breaks ties so that consecutive pages
   neither overlap nor skip. */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    static const char *const statuses[] = {"scheduled", "held",    "sent",
                                           "answered",  "skipped", NULL};
    const char *ticket = NULL, *status = NULL;
    int64_t limit, offset;
    if (cs_http_query_token(req, resp, "ticket", TICKET_FILTER_MAX, &ticket) < 0 ||
        s_query_word(req, resp, "status", statuses, NULL, &status) < 0 ||
        cs_http_query_int(req, resp, "limit", 100, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    char lbuf[24], obuf[24];
    const char *p[] = {ticket, cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset), status};
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT i.invitation_id, i.ticket_number, i.link, i.status, i.skip_reason,"
        " coalesce((extract(epoch FROM i.expires_at) * 1000)::bigint, 0),"
        " (extract(epoch FROM i.created_at) * 1000)::bigint,"
        " coalesce(a.satisfaction, 0), coalesce(a.recommend, -1), i.channel, i.trigger,"
        " coalesce((extract(epoch FROM i.send_at) * 1000)::bigint, 0),"
        " coalesce((extract(epoch FROM i.sent_at) * 1000)::bigint, 0),"
        " coalesce((extract(epoch FROM i.reminded_at) * 1000)::bigint, 0),"
        " coalesce(a.speed, 0), coalesce(a.professionalism, 0), coalesce(a.low_score, ''),"
        " coalesce(i.complaint_id::text, ''), coalesce(i.short_code, '')"
        " FROM invitations i LEFT JOIN answers a USING (invitation_id)"
        " WHERE ($1::text IS NULL OR i.ticket_number = $1)"
        " AND ($4::text IS NULL OR i.status = $4)"
        " ORDER BY i.created_at DESC, i.invitation_id LIMIT $2 OFFSET $3",
        4, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    survey_state_t *st = req->ctx;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        json_object_set_new(o, "invitation_id", cs_json_str(cs_db_get(r, i, 0)));
        json_object_set_new(o, "ticket_number", cs_json_str(cs_db_get(r, i, 1)));
        json_object_set_new(o, "complaint_id", cs_json_str_or_null(cs_db_get(r, i, 17)));
        json_object_set_new(o, "trigger", cs_json_str(cs_db_get(r, i, 10)));
        json_object_set_new(o, "status", cs_json_str(cs_db_get(r, i, 3)));
        json_object_set_new(o, "skip_reason", cs_json_str(cs_db_get(r, i, 4)));
        json_object_set_new(o, "channel", cs_json_str(cs_db_get(r, i, 9)));
        json_object_set_new(o, "link", cs_json_str(cs_db_get(r, i, 2)));
        const char *code = cs_db_get(r, i, 18);
        char shortl[SURVEY_PUBLIC_URL_MAX + 32] = "";
        if (*code)
            snprintf(shortl, sizeof(shortl), "%s/r/%s", st->public_url, code);
        json_object_set_new(o, "short_link", cs_json_str(shortl));
        json_object_set_new(o, "created_at", cs_json_time(cs_db_get_i64(r, i, 6)));
        json_object_set_new(o, "send_at", cs_json_time(cs_db_get_i64(r, i, 11)));
        json_object_set_new(o, "sent_at", cs_json_time(cs_db_get_i64(r, i, 12)));
        json_object_set_new(o, "reminded_at", cs_json_time(cs_db_get_i64(r, i, 13)));
        json_object_set_new(o, "expires_at", cs_json_time(cs_db_get_i64(r, i, 5)));
        int64_t sat = cs_db_get_i64(r, i, 7), rec = cs_db_get_i64(r, i, 8);
        int64_t speed = cs_db_get_i64(r, i, 14), prof = cs_db_get_i64(r, i, 15);
        json_object_set_new(o, "satisfaction", sat ? json_integer(sat) : json_null());
        json_object_set_new(o, "recommend", rec >= 0 ? json_integer(rec) : json_null());
        json_object_set_new(o, "speed", speed ? json_integer(speed) : json_null());
        json_object_set_new(o, "professionalism", prof ? json_integer(prof) : json_null());
        json_object_set_new(o, "low_score", cs_json_str_or_null(cs_db_get(r, i, 16)));
        json_array_append_new(list, o);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "surveys", list);
    cs_http_json(resp, 200, o);
}

/* ---- the summary -------------------------------------------------------------------- */

/* The groupings of ?by=, with their SQL expressions (constants of this file,
   never request text); $3 is the time zone. */
static const struct {
    const char *by;
    const char *expr;
} s_groups[] = {
    {"team", "i.team"},
    {"agent", "i.agent"},
    {"service_type", "i.service_type"},
    {"tier", "i.tier"},
    {"month", "to_char(i.sent_at AT TIME ZONE $3, 'YYYY-MM')"},
};

/* Tallies of the invitations sent in [from, to), one per group (expr NULL:
   one row for all).  The result, or NULL on a database error. */
static PGresult *s_tally_rows(cs_db_t *db, const char *expr, const char *from, const char *to,
                              const char *tz)
{
    char sql[1600];
    snprintf(sql, sizeof(sql),
             "SELECT %s,"
             " count(*), count(a.invitation_id),"
             " count(*) FILTER (WHERE a.satisfaction >= 4), coalesce(sum(a.satisfaction), 0),"
             " count(a.recommend), coalesce(sum(a.recommend), 0),"
             " count(*) FILTER (WHERE a.recommend >= 9),"
             " count(*) FILTER (WHERE a.recommend BETWEEN 7 AND 8),"
             " count(*) FILTER (WHERE a.recommend <= 6),"
             " count(a.speed), coalesce(sum(a.speed), 0),"
             " count(a.professionalism), coalesce(sum(a.professionalism), 0)"
             " FROM invitations i LEFT JOIN answers a USING (invitation_id)"
             " WHERE i.sent_at IS NOT NULL AND $3::text IS NOT NULL"
             " AND ($1::bigint IS NULL OR i.sent_at >= to_timestamp($1 / 1000.0))"
             " AND ($2::bigint IS NULL OR i.sent_at < to_timestamp($2 / 1000.0))"
             " GROUP BY 1 ORDER BY 1",
             expr ? expr : "''");
    return cs_db_exec(db, sql, 3, (const char *[]){from, to, tz});
}

static void s_tally_from_row(const PGresult *r, int row, survey_tally_t *t)
{
    survey_tally_init(t, cs_db_get_i64(r, row, 1));
    t->answered = cs_db_get_i64(r, row, 2);
    t->satisfied = cs_db_get_i64(r, row, 3);
    t->satisfaction_sum = cs_db_get_i64(r, row, 4);
    t->recommend_answers = cs_db_get_i64(r, row, 5);
    t->recommend_sum = cs_db_get_i64(r, row, 6);
    t->promoters = cs_db_get_i64(r, row, 7);
    t->passives = cs_db_get_i64(r, row, 8);
    t->detractors = cs_db_get_i64(r, row, 9);
    t->speed_answers = cs_db_get_i64(r, row, 10);
    t->speed_sum = cs_db_get_i64(r, row, 11);
    t->professionalism_answers = cs_db_get_i64(r, row, 12);
    t->professionalism_sum = cs_db_get_i64(r, row, 13);
}

/* The all-time tally (no rows: all zero). 0 or -1. */
static int s_tally_all(cs_db_t *db, const char *from, const char *to, const char *tz,
                       survey_tally_t *t)
{
    PGresult *r = s_tally_rows(db, NULL, from, to, tz);
    if (!r)
        return -1;
    if (PQntuples(r) == 1)
        s_tally_from_row(r, 0, t);
    else
        survey_tally_init(t, 0);
    PQclear(r);
    return 0;
}

int survey_satisfied_share(cs_db_t *db, double *share)
{
    survey_tally_t t;
    survey_summary_t s;
    if (s_tally_all(db, NULL, NULL, "UTC", &t) < 0)
        return -1;
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    if (!s.has_satisfied_share)
        return 1;
    *share = s.satisfied_share;
    return 0;
}

/* The figures of one tally as JSON members of o. */
static void s_figures_json(json_t *o, const survey_tally_t *t)
{
    survey_summary_t s;
    survey_summary_compute(t, SURVEY_SATISFIED_TARGET, &s);
    json_object_set_new(o, "sent", json_integer(s.sent));
    json_object_set_new(o, "answered", json_integer(s.answered));
    json_object_set_new(o, "response_rate", s_ratio(s.has_response_rate, s.response_rate));
    json_object_set_new(o, "satisfied", json_integer(t->satisfied));
    json_object_set_new(o, "satisfied_share", s_ratio(s.has_satisfied_share, s.satisfied_share));
    json_object_set_new(o, "target", json_real(s.target));
    json_object_set_new(o, "meets_target", json_boolean(s.meets_target));
    json_object_set_new(o, "nps", s_ratio(s.has_nps, s.nps));
    json_object_set_new(o, "promoters", json_integer(t->promoters));
    json_object_set_new(o, "passives", json_integer(t->passives));
    json_object_set_new(o, "detractors", json_integer(t->detractors));
    json_object_set_new(o, "avg_satisfaction", s_ratio(s.has_avg_satisfaction, s.avg_satisfaction));
    json_object_set_new(o, "avg_recommend", s_ratio(s.has_avg_recommend, s.avg_recommend));
    json_object_set_new(o, "avg_speed", s_ratio(s.has_avg_speed, s.avg_speed));
    json_object_set_new(o, "avg_professionalism",
                        s_ratio(s.has_avg_professionalism, s.avg_professionalism));
}

/* ---- CSV ---------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} csv_t;

static void s_csv_put(csv_t *c, const char *s, size_t n)
{
    if (c->failed)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *grown = realloc(c->data, cap);
        if (!grown) {
            c->failed = 1;
            return;
        }
        c->data = grown;
        c->cap = cap;
    }
    memcpy(c->data + c->len, s, n);
    c->len += n;
    c->data[c->len] = '\0';
}

/* One text cell (RFC 4180 quoting).  A cell that a spreadsheet would read
   as a formula (= + - @ at its start) gets a leading apostrophe: team and
   agent names come from outside. */
static void s_csv_text(csv_t *c, const char *s)
{
    s_csv_put(c, "\"", 1);
    if (*s && strchr("=+-@\t\r", *s))
        s_csv_put(c, "'", 1);
    for (const char *p = s; *p; p++) {
        s_csv_put(c, p, 1);
        if (*p == '"')
            s_csv_put(c, "\"", 1); /* a quote is written twice */
    }
    s_csv_put(c, "\"", 1);
}

static void s_csv_num(csv_t *c, int has, const char *fmt, double v)
{
    char buf[48] = "";
    if (has)
        snprintf(buf, sizeof(buf), fmt, v);
    s_csv_put(c, ",", 1);
    s_csv_put(c, buf, strlen(buf));
}

static void s_csv_int(csv_t *c, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), ",%lld", (long long)v);
    s_csv_put(c, buf, strlen(buf));
}

static const char s_csv_header[] =
    "by,group,sent,answered,response_rate,satisfied,satisfied_share,target,meets_target,nps,"
    "promoters,passives,detractors,avg_satisfaction,avg_recommend,avg_speed,"
    "avg_professionalism\r\n";

static void s_csv_row(csv_t *c, const char *by, const char *group, const survey_tally_t *t)
{
    survey_summary_t s;
    survey_summary_compute(t, SURVEY_SATISFIED_TARGET, &s);
    s_csv_put(c, by, strlen(by));
    s_csv_put(c, ",", 1);
    s_csv_text(c, group);
    s_csv_int(c, s.sent);
    s_csv_int(c, s.answered);
    s_csv_num(c, s.has_response_rate, "%.4f", s.response_rate);
    s_csv_int(c, t->satisfied);
    s_csv_num(c, s.has_satisfied_share, "%.4f", s.satisfied_share);
    s_csv_num(c, 1, "%.2f", s.target);
    s_csv_put(c, s.meets_target ? ",true" : ",false", s.meets_target ? 5 : 6);
    s_csv_num(c, s.has_nps, "%.2f", s.nps);
    s_csv_int(c, t->promoters);
    s_csv_int(c, t->passives);
    s_csv_int(c, t->detractors);
    s_csv_num(c, s.has_avg_satisfaction, "%.2f", s.avg_satisfaction);
    s_csv_num(c, s.has_avg_recommend, "%.2f", s.avg_recommend);
    s_csv_num(c, s.has_avg_speed, "%.2f", s.avg_speed);
    s_csv_num(c, s.has_avg_professionalism, "%.2f", s.avg_professionalism);
    s_csv_put(c, "\r\n", 2);
}

/* ---- GET /v1/surveys/summary -------------------------------------------------------- */

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

/* Decisions not (yet) sent, in the period by decision time: skipped by reason,
   scheduled and held.  A JSON object, or NULL on a database error. */
static json_t *s_unsent(cs_db_t *db, const char *from, const char *to, int64_t *skipped)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT status, skip_reason, count(*) FROM invitations"
                             " WHERE status IN ('skipped', 'scheduled', 'held')"
                             " AND ($1::bigint IS NULL OR created_at >= to_timestamp($1 / 1000.0))"
                             " AND ($2::bigint IS NULL OR created_at < to_timestamp($2 / 1000.0))"
                             " GROUP BY 1, 2 ORDER BY 1, 2",
                             2, (const char *[]){from, to});
    if (!r)
        return NULL;
    json_t *reasons = json_object();
    int64_t scheduled = 0, held = 0;
    *skipped = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *status = cs_db_get(r, i, 0);
        int64_t n = cs_db_get_i64(r, i, 2);
        if (strcmp(status, "skipped") == 0) {
            *skipped += n;
            json_object_set_new(reasons, cs_db_get(r, i, 1), json_integer(n));
        } else if (strcmp(status, "scheduled") == 0) {
            scheduled += n;
        } else {
            held += n;
        }
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "skipped", json_integer(*skipped));
    json_object_set_new(o, "skipped_by_reason", reasons);
    json_object_set_new(o, "scheduled", json_integer(scheduled));
    json_object_set_new(o, "held", json_integer(held));
    return o;
}

static void s_summary(cs_http_req_t *req, cs_http_resp_t *resp)
{
    static const char *const bys[] = {"team", "agent", "service_type", "tier", "month", NULL};
    static const char *const formats[] = {"json", "csv", NULL};
    survey_state_t *st = req->ctx;
    char fbuf[24], tbuf[24];
    const char *from, *to, *by, *format;
    if (s_bound(req, resp, "from", fbuf, &from) < 0 || s_bound(req, resp, "to", tbuf, &to) < 0 ||
        s_query_word(req, resp, "by", bys, NULL, &by) < 0 ||
        s_query_word(req, resp, "format", formats, "json", &format) < 0)
        return;
    const char *expr = NULL;
    for (size_t i = 0; by && i < sizeof(s_groups) / sizeof(*s_groups); i++)
        if (strcmp(s_groups[i].by, by) == 0)
            expr = s_groups[i].expr;
    survey_tally_t total;
    PGresult *groups = NULL;
    int64_t skipped = 0;
    json_t *unsent = NULL;
    if (s_tally_all(req->db, from, to, st->tz, &total) < 0 ||
        (expr && !(groups = s_tally_rows(req->db, expr, from, to, st->tz))) ||
        !(unsent = s_unsent(req->db, from, to, &skipped))) {
        PQclear(groups);
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (strcmp(format, "csv") == 0) {
        csv_t c = {0};
        s_csv_put(&c, s_csv_header, strlen(s_csv_header));
        s_csv_row(&c, "all", "", &total);
        for (int i = 0; groups && i < PQntuples(groups); i++) {
            survey_tally_t t;
            s_tally_from_row(groups, i, &t);
            s_csv_row(&c, by, cs_db_get(groups, i, 0), &t);
        }
        PQclear(groups);
        json_decref(unsent);
        if (c.failed) {
            free(c.data);
            cs_http_error(resp, 500, NULL, "out of memory");
            return;
        }
        cs_http_body(resp, 200, "text/csv; charset=utf-8", c.data, c.len);
        return;
    }
    json_t *o = json_object();
    s_figures_json(o, &total);
    json_object_update(o, unsent);
    json_decref(unsent);
    if (groups) {
        json_t *list = json_array();
        for (int i = 0; i < PQntuples(groups); i++) {
            survey_tally_t t;
            json_t *g = json_object();
            s_tally_from_row(groups, i, &t);
            json_object_set_new(g, "group", cs_json_str(cs_db_get(groups, i, 0)));
            s_figures_json(g, &t);
            json_array_append_new(list, g);
        }
        PQclear(groups);
        json_object_set_new(o, "by", json_string(by));
        json_object_set_new(o, "groups", list);
    }
    cs_http_json(resp, 200, o);
}

/* ---- follow-up tasks ---------------------------------------------------------------- */

#define FOLLOW_UP_COLUMNS                                                                          \
    "f.follow_up_id, f.reason, f.status, f.outcome, f.note, f.done_by,"                            \
    " (extract(epoch FROM f.created_at) * 1000)::bigint,"                                          \
    " coalesce((extract(epoch FROM f.done_at) * 1000)::bigint, 0), i.invitation_id,"               \
    " i.ticket_number, i.name, i.phone, i.email, i.tier, i.team, i.agent,"                         \
    " coalesce(a.satisfaction, 0), coalesce(a.recommend, -1), coalesce(a.comment, ''),"            \
    " i.language"

static json_t *s_follow_up_json(const PGresult *r, int i)
{
    json_t *o = json_object();
    static const char *const text[] = {"follow_up_id", "reason", "status",
                                       "outcome",      "note",   "done_by"};
    for (int k = 0; k < 6; k++)
        json_object_set_new(o, text[k], cs_json_str(cs_db_get(r, i, k)));
    json_object_set_new(o, "created_at", cs_json_time(cs_db_get_i64(r, i, 6)));
    json_object_set_new(o, "done_at", cs_json_time(cs_db_get_i64(r, i, 7)));
    static const char *const facts[] = {"invitation_id", "ticket_number", "name", "phone",
                                        "email",         "tier",          "team", "agent"};
    for (int k = 0; k < 8; k++)
        json_object_set_new(o, facts[k], cs_json_str(cs_db_get(r, i, 8 + k)));
    int64_t sat = cs_db_get_i64(r, i, 16), rec = cs_db_get_i64(r, i, 17);
    json_object_set_new(o, "satisfaction", sat ? json_integer(sat) : json_null());
    json_object_set_new(o, "recommend", rec >= 0 ? json_integer(rec) : json_null());
    json_object_set_new(o, "comment", cs_json_str(cs_db_get(r, i, 18)));
    json_object_set_new(o, "language", cs_json_str(cs_db_get(r, i, 19)));
    return o;
}

/* GET /v1/surveys/follow-ups: open ones oldest first (the next call to make). */
static void s_follow_ups(cs_http_req_t *req, cs_http_resp_t *resp)
{
    static const char *const statuses[] = {"open", "done", "all", NULL};
    const char *status;
    int64_t limit, offset;
    if (s_query_word(req, resp, "status", statuses, "open", &status) < 0 ||
        cs_http_query_int(req, resp, "limit", 100, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    char lbuf[24], obuf[24];
    const char *p[] = {status, cs_db_i64(lbuf, limit), cs_db_i64(obuf, offset)};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT " FOLLOW_UP_COLUMNS
                             " FROM follow_ups f JOIN invitations i USING (invitation_id)"
                             " LEFT JOIN answers a USING (invitation_id)"
                             " WHERE $1 = 'all' OR f.status = $1"
                             " ORDER BY f.created_at, f.follow_up_id LIMIT $2 OFFSET $3",
                             3, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, s_follow_up_json(r, i));
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "follow_ups", list);
    cs_http_json(resp, 200, o);
}

/* Is s valid UTF-8 without control characters other than tab and newline,
   of at most max code points? */
static int s_clean_text(const char *s, size_t max)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0 || (n == 1 && ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7F)))
            return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += n;
        if (++chars > max)
            return 0;
    }
    return 1;
}

/* POST /v1/surveys/follow-ups/{id}/done */
static void s_follow_up_done(cs_http_req_t *req, cs_http_resp_t *resp)
{
    static const char *const outcomes[] = {"reached", "unreachable", "declined", "complaint_opened",
                                           NULL};
    const char *id = req->param[0];
    if (!cs_is_uuid(id)) {
        cs_http_error(resp, 404, NULL, "no such follow-up task");
        return;
    }
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *outcome = json_string_value(json_object_get(body, "outcome"));
    const char *note = json_string_value(json_object_get(body, "note"));
    const char *by = json_string_value(json_object_get(body, "by"));
    int known = 0, bad = 1;
    for (size_t i = 0; outcome && outcomes[i]; i++)
        known |= strcmp(outcome, outcomes[i]) == 0;
    if (!known)
        cs_http_error(resp, 422, "outcome",
                      "outcome must be reached, unreachable, declined or complaint_opened");
    else if (json_object_get(body, "note") && (!note || !s_clean_text(note, NOTE_MAX)))
        cs_http_error(resp, 422, "note", "note must be text of at most %d characters", NOTE_MAX);
    else if (!by || !*by || !s_clean_text(by, LOGIN_MAX) || strchr(by, '\n') || strchr(by, '\t'))
        cs_http_error(resp, 422, "by", "by must name who called (1..%d characters)", LOGIN_MAX);
    else
        bad = 0;
    if (bad) {
        json_decref(body);
        return;
    }
    const char *p[] = {id, outcome, note ? note : "", by};
    int n = cs_db_cmd(req->db,
                      "UPDATE follow_ups SET status = 'done', outcome = $2, note = $3,"
                      " done_by = $4, done_at = now()"
                      " WHERE follow_up_id = $1::uuid AND status = 'open'",
                      4, p);
    if (n == 1)
        cs_info("survey: follow-up %s done: %s", id, outcome);
    json_decref(body); /* outcome, note and by were its strings */
    if (n < 0) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    PGresult *r = cs_db_exec(req->db,
                             "SELECT " FOLLOW_UP_COLUMNS
                             " FROM follow_ups f JOIN invitations i USING (invitation_id)"
                             " LEFT JOIN answers a USING (invitation_id)"
                             " WHERE f.follow_up_id = $1::uuid",
                             1, (const char *[]){id});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (PQntuples(r) == 0)
        cs_http_error(resp, 404, NULL, "no such follow-up task");
    else if (n == 0)
        cs_http_error(resp, 409, "status", "the follow-up task is done already (%s)",
                      cs_db_get(r, 0, 3));
    else
        cs_http_json(resp, 200, s_follow_up_json(r, 0));
    PQclear(r);
}

void survey_api_register(survey_state_t *st)
{
    cs_http_t *http = cs_service_http(st->svc);
    cs_http_route(http, "GET", "/v1/surveys", s_list, st);
    cs_http_route(http, "GET", "/v1/surveys/summary", s_summary, st);
    cs_http_route(http, "GET", "/v1/surveys/follow-ups", s_follow_ups, st);
    cs_http_route(http, "POST", "/v1/surveys/follow-ups/*/done", s_follow_up_done, st);
}
