/*
 * analysis.c - GET /v1/complaints/analysis?from=&to=&trend=month|week&format=json|csv
 *
 * Why: the manual's sixth step ends with an analysis of causes across
 * complaints (5.4), so that the same complaint does not come back.  The
 * figures, over the complaints *received* in [from, to):
 *
 *   complaints              cases received in the period
 *   pareto.category/scope/root_cause
 *                           count per value, most frequent first (ties by
 *                           name), share = count / cases with a value (a
 *                           category or scope once classified, a root cause
 *                           once archived), cumulative share down the table,
 *                           vital_few while the cumulative share before the
 *                           row is under 80 %
 *   trend                   per month (default) or ISO week (Monday) of
 *                           receipt, in CS_COMPLAINT_TIME_ZONE: complaints
 *                           and the counts by category, scope, root cause
 *   repeat_customers        customers (customer id, else e-mail, else phone)
 *                           with two or more complaints, most first
 *   step_hours              per status, the mean over cases of the time a
 *                           case spent in it (its history: from entering the
 *                           status to the next step; "received" counts from
 *                           when the complaint was received); only stays that
 *                           ended count
 *   acceptance_share        archived cases whose customer accepted the
 *                           feedback / archived cases (null when none)
 *
 * from and to: a date, an RFC 3339 time or ms since the epoch; to defaults
 * to now, from to a year before to.  CSV has one row per figure:
 * section,dimension,key,period,count,share,cumulative_share,mean_hours.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "case.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"

#define YEAR_MS (365LL * 24 * 3600 * 1000)
#define SPAN_MAX_MS (10 * YEAR_MS)
#define VITAL_FEW 0.8

/* The statuses a case stays in, in the order of the steps. */
static const char *const s_steps[] = {"received", "accepted", "classified", "investigating",
                                      "handling", "feedback", "resolved"};
static const char *const s_dims[] = {"category", "scope", "root_cause"};

static double s_round4(double x)
{
    return round(x * 10000.0) / 10000.0;
}

static json_t *s_pareto(cs_db_t *db, const char *dim, const char *const *p)
{
    /* dim is one of s_dims (our constant), never request text */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT %s, count(*) FROM complaint_cases WHERE received_at >= to_timestamp($1::bigint"
             " / 1000.0) AND received_at < to_timestamp($2::bigint / 1000.0) AND %s <> ''"
             " GROUP BY 1 ORDER BY 2 DESC, 1",
             dim, dim);
    PGresult *r = cs_db_exec(db, sql, 2, p);
    if (!r)
        return NULL;
    int64_t total = 0, cum = 0;
    for (int i = 0; i < PQntuples(r); i++)
        total += cs_db_get_i64(r, i, 1);
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t n = cs_db_get_i64(r, i, 1);
        json_t *e = json_object();
        json_object_set_new(e, "key", json_string(cs_db_get(r, i, 0)));
        json_object_set_new(e, "count", json_integer(n));
        json_object_set_new(e, "share", json_real(s_round4((double)n / (double)total)));
        json_object_set_new(e, "vital_few", json_boolean((double)cum / (double)total < VITAL_FEW));
        cum += n;
        json_object_set_new(e, "cumulative_share",
                            json_real(s_round4((double)cum / (double)total)));
        json_array_append_new(a, e);
    }
    PQclear(r);
    return a;
}

/* period -> {"period", "complaints", "category": {...}, "scope": {...}, "root_cause": {...}} */
static json_t *s_trend(cs_db_t *db, const char *const *p, int weekly, const char *tz)
{
    const char *q[] = {p[0], p[1], weekly ? "week" : "month", weekly ? "IYYY-\"W\"IW" : "YYYY-MM",
                       tz};
    PGresult *r = cs_db_exec(
        db,
        "WITH c AS (SELECT to_char(date_trunc($3, received_at AT TIME ZONE $5), $4) AS period,"
        " category, scope, root_cause FROM complaint_cases"
        " WHERE received_at >= to_timestamp($1::bigint / 1000.0)"
        " AND received_at < to_timestamp($2::bigint / 1000.0))"
        " SELECT period, '', '', count(*) FROM c GROUP BY 1"
        " UNION ALL SELECT period, 'category', category, count(*) FROM c WHERE category <> ''"
        " GROUP BY 1, 3"
        " UNION ALL SELECT period, 'scope', scope, count(*) FROM c WHERE scope <> '' GROUP BY 1, 3"
        " UNION ALL SELECT period, 'root_cause', root_cause, count(*) FROM c"
        " WHERE root_cause <> '' GROUP BY 1, 3"
        " ORDER BY 1, 2, 4 DESC, 3",
        5, q);
    if (!r)
        return NULL;
    json_t *a = json_array(), *cur = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *period = cs_db_get(r, i, 0), *dim = cs_db_get(r, i, 1);
        if (!cur || strcmp(json_string_value(json_object_get(cur, "period")), period) != 0) {
            cur = json_object();
            json_object_set_new(cur, "period", json_string(period));
            json_object_set_new(cur, "complaints", json_integer(0));
            for (size_t d = 0; d < 3; d++)
                json_object_set_new(cur, s_dims[d], json_object());
            json_array_append_new(a, cur);
        }
        int64_t n = cs_db_get_i64(r, i, 3);
        if (!dim[0])
            json_object_set_new(cur, "complaints", json_integer(n));
        else
            json_object_set_new(json_object_get(cur, dim), cs_db_get(r, i, 2), json_integer(n));
    }
    PQclear(r);
    return a;
}

static json_t *s_repeats(cs_db_t *db, const char *const *p)
{
    PGresult *r = cs_db_exec(
        db,
        "SELECT who, max(customer_name), count(*) FROM (SELECT coalesce(nullif(customer_id, ''),"
        " lower(nullif(customer_email, '')), nullif(customer_phone, '')) AS who, customer_name"
        " FROM complaint_cases WHERE received_at >= to_timestamp($1::bigint / 1000.0)"
        " AND received_at < to_timestamp($2::bigint / 1000.0)) c"
        " WHERE who IS NOT NULL GROUP BY who HAVING count(*) >= 2 ORDER BY 3 DESC, 1",
        2, p);
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *e = json_object();
        json_object_set_new(e, "customer", json_string(cs_db_get(r, i, 0)));
        json_object_set_new(e, "name", json_string(cs_db_get(r, i, 1)));
        json_object_set_new(e, "complaints", json_integer(cs_db_get_i64(r, i, 2)));
        json_array_append_new(a, e);
    }
    PQclear(r);
    return a;
}

static json_t *s_step_hours(cs_db_t *db, const char *const *p)
{
    /* A stay ends at the next history row of the case; per case the stays in
       one status are summed (a case sent back to handling stays twice). */
    PGresult *r = cs_db_exec(
        db,
        "WITH c AS (SELECT complaint_id, received_at FROM complaint_cases"
        " WHERE received_at >= to_timestamp($1::bigint / 1000.0)"
        " AND received_at < to_timestamp($2::bigint / 1000.0)),"
        " h AS (SELECT h.complaint_id, h.to_status,"
        " CASE WHEN h.from_status = '' THEN c.received_at ELSE h.at END AS start_at,"
        " lead(h.at) OVER (PARTITION BY h.complaint_id ORDER BY h.id) AS end_at"
        " FROM case_history h JOIN c USING (complaint_id)),"
        " s AS (SELECT complaint_id, to_status, sum(extract(epoch FROM end_at - start_at)) AS secs"
        " FROM h WHERE end_at IS NOT NULL GROUP BY 1, 2)"
        " SELECT to_status, count(*), sum(secs) FROM s GROUP BY 1",
        2, p);
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (size_t k = 0; k < sizeof(s_steps) / sizeof(s_steps[0]); k++)
        for (int i = 0; i < PQntuples(r); i++) {
            if (strcmp(cs_db_get(r, i, 0), s_steps[k]) != 0)
                continue;
            int64_t cases = cs_db_get_i64(r, i, 1);
            double secs = strtod(cs_db_get(r, i, 2), NULL);
            json_t *e = json_object();
            json_object_set_new(e, "step", json_string(s_steps[k]));
            json_object_set_new(e, "cases", json_integer(cases));
            json_object_set_new(e, "mean_hours", json_real(s_round4(secs / 3600.0 / cases)));
            json_array_append_new(a, e);
        }
    PQclear(r);
    return a;
}

static json_t *s_summary(cs_db_t *db, const char *const *p)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT count(*), count(*) FILTER (WHERE category <> ''),"
                             " count(*) FILTER (WHERE status = 'archived'),"
                             " count(*) FILTER (WHERE status = 'archived' AND customer_accepted)"
                             " FROM complaint_cases"
                             " WHERE received_at >= to_timestamp($1::bigint / 1000.0)"
                             " AND received_at < to_timestamp($2::bigint / 1000.0)",
                             2, p);
    if (!r)
        return NULL;
    int64_t archived = cs_db_get_i64(r, 0, 2), accepted = cs_db_get_i64(r, 0, 3);
    json_t *o = json_object();
    json_object_set_new(o, "complaints", json_integer(cs_db_get_i64(r, 0, 0)));
    json_object_set_new(o, "classified", json_integer(cs_db_get_i64(r, 0, 1)));
    json_object_set_new(o, "archived", json_integer(archived));
    json_object_set_new(o, "closed_with_acceptance", json_integer(accepted));
    json_object_set_new(o, "acceptance_share",
                        archived ? json_real(s_round4((double)accepted / (double)archived))
                                 : json_null());
    PQclear(r);
    return o;
}

/* ---- CSV ---------------------------------------------------------------------- */

/* One field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void s_csv_field(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputs(last ? "\r\n" : ",", f);
}

static void s_csv_row(FILE *f, const char *section, const char *dim, const char *key,
                      const char *period, json_t *count, json_t *share, json_t *cum, json_t *hours)
{
    char b[4][32];
    json_t *v[4] = {count, share, cum, hours};
    for (int i = 0; i < 4; i++) {
        b[i][0] = '\0';
        if (json_is_integer(v[i]))
            snprintf(b[i], sizeof(b[i]), "%lld", (long long)json_integer_value(v[i]));
        else if (json_is_real(v[i]))
            snprintf(b[i], sizeof(b[i]), "%.4f", json_real_value(v[i]));
    }
    s_csv_field(f, section, 0);
    s_csv_field(f, dim, 0);
    s_csv_field(f, key, 0);
    s_csv_field(f, period, 0);
    for (int i = 0; i < 4; i++)
        s_csv_field(f, b[i], i == 3);
}

static char *s_csv(json_t *o, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fputs("section,dimension,key,period,count,share,cumulative_share,mean_hours\r\n", f);
    static const char *const totals[] = {"complaints", "classified", "archived",
                                         "closed_with_acceptance"};
    for (size_t i = 0; i < 4; i++)
        s_csv_row(f, "summary", "", totals[i], "", json_object_get(o, totals[i]), NULL, NULL, NULL);
    s_csv_row(f, "summary", "", "acceptance_share", "", NULL,
              json_object_get(o, "acceptance_share"), NULL, NULL);
    json_t *pareto = json_object_get(o, "pareto");
    for (size_t d = 0; d < 3; d++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(pareto, s_dims[d]), i, e)
        {
            s_csv_row(f, "pareto", s_dims[d], json_string_value(json_object_get(e, "key")), "",
                      json_object_get(e, "count"), json_object_get(e, "share"),
                      json_object_get(e, "cumulative_share"), NULL);
        }
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "trend"), i, e)
    {
        const char *period = json_string_value(json_object_get(e, "period"));
        s_csv_row(f, "trend", "", "complaints", period, json_object_get(e, "complaints"), NULL,
                  NULL, NULL);
        for (size_t d = 0; d < 3; d++) {
            const char *k;
            json_t *n;
            json_object_foreach(json_object_get(e, s_dims[d]), k, n)
            {
                s_csv_row(f, "trend", s_dims[d], k, period, n, NULL, NULL, NULL);
            }
        }
    }
    json_array_foreach(json_object_get(o, "repeat_customers"), i, e)
    {
        s_csv_row(f, "repeat_customers", "customer",
                  json_string_value(json_object_get(e, "customer")), "",
                  json_object_get(e, "complaints"), NULL, NULL, NULL);
    }
    json_array_foreach(json_object_get(o, "step_hours"), i, e)
    {
        s_csv_row(f, "step_hours", "step", json_string_value(json_object_get(e, "step")), "",
                  json_object_get(e, "cases"), NULL, NULL, json_object_get(e, "mean_hours"));
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- the route ------------------------------------------------------------------- */

static void s_analysis(cs_http_req_t *req, cs_http_resp_t *resp)
{
    complaint_api_t *api = req->ctx;
    const char *from_s = cs_http_query(req, "from"), *to_s = cs_http_query(req, "to");
    const char *trend = cs_http_query(req, "trend"), *format = cs_http_query(req, "format");
    int64_t from, to = cs_now_ms();
    if (to_s && complaint_parse_time(to_s, &to) < 0) {
        cs_http_error(resp, 422, "to",
                      "to must be a date (2026-01-01), a time"
                      " (2026-01-01T00:00:00+08:00) or ms since the epoch");
        return;
    }
    from = to - YEAR_MS;
    if (from_s && complaint_parse_time(from_s, &from) < 0) {
        cs_http_error(resp, 422, "from",
                      "from must be a date (2026-01-01), a time"
                      " (2026-01-01T00:00:00+08:00) or ms since the epoch");
        return;
    }
    if (from >= to || to - from > SPAN_MAX_MS) {
        cs_http_error(resp, 422, "from", "from must be before to, at most ten years before");
        return;
    }
    if (trend && strcmp(trend, "month") != 0 && strcmp(trend, "week") != 0) {
        cs_http_error(resp, 422, "trend", "trend must be month or week");
        return;
    }
    if (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0) {
        cs_http_error(resp, 422, "format", "format must be json or csv");
        return;
    }
    int weekly = trend && strcmp(trend, "week") == 0;
    char fb[24], tb[24];
    const char *p[] = {cs_db_i64(fb, from), cs_db_i64(tb, to)};
    json_t *o = s_summary(req->db, p);
    json_t *pareto = json_object();
    int ok = o != NULL;
    for (size_t d = 0; ok && d < 3; d++) {
        json_t *t = s_pareto(req->db, s_dims[d], p);
        ok = t != NULL;
        json_object_set_new(pareto, s_dims[d], t ? t : json_null());
    }
    json_t *tr = ok ? s_trend(req->db, p, weekly, api->settings->time_zone) : NULL;
    json_t *rep = tr ? s_repeats(req->db, p) : NULL;
    json_t *steps = rep ? s_step_hours(req->db, p) : NULL;
    if (!steps) {
        json_decref(o);
        json_decref(pareto);
        json_decref(tr);
        json_decref(rep);
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    json_object_set_new(o, "from", cs_json_time(from));
    json_object_set_new(o, "to", cs_json_time(to));
    json_object_set_new(o, "time_zone", json_string(api->settings->time_zone));
    json_object_set_new(o, "trend_unit", json_string(weekly ? "week" : "month"));
    json_object_set_new(o, "pareto", pareto);
    json_object_set_new(o, "trend", tr);
    json_object_set_new(o, "repeat_customers", rep);
    json_object_set_new(o, "step_hours", steps);
    if (format && strcmp(format, "csv") == 0) {
        size_t len = 0;
        char *csv = s_csv(o, &len);
        json_decref(o);
        if (!csv) {
            cs_http_error(resp, 500, NULL, "out of memory");
            return;
        }
        cs_http_body(resp, 200, "text/csv; charset=utf-8", csv, len);
        return;
    }
    cs_http_json(resp, 200, o);
}

void complaint_analysis_register(complaint_api_t *api)
{
    cs_http_route(cs_service_http(api->svc), "GET", "/v1/complaints/analysis", s_analysis, api);
}
