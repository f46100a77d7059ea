/*
 * report — GET /v1/sla/report (see api.h): how well the commitments were
 * kept over a period, per team, agent, service type, priority or customer
 * tier, as JSON or CSV.
 *
 * Which clocks: those whose current round started in [from, to). A reopened
 * ticket's resolution clock counts by its latest round (the row holds it;
 * its earlier rounds stay in its history). A next-update clock counts by
 * its rounds (one per agent update to the customer): every round of it
 * that started in the period, read from its history — a round met (the
 * update came in time), breached (its deadline passed: the update came
 * late or has not come), and for a round answered, the working time from
 * its start to the update (recorded with the fulfilment). Its row adds to
 * clocks, and to open while it counts; its stop at the resolution is its
 * normal end, not a "stopped".
 *
 * Per group (and once more for all of them, "total"):
 *   clocks       the clocks of the group
 *   open         still counting and in time (running or paused)
 *   met          fulfilled in time
 *   breaches     deadline passed: fulfilled late, or not fulfilled yet
 *   stopped      the ticket was closed before the commitment was fulfilled
 *   compliance_percent   met / (met + breaches) — of the clocks that have an
 *                outcome, the share kept — 2 decimals rounded half up, null
 *                when none has one yet; the same per target
 *   <target>_count, _mean_ms, _p90_ms   business time to first response
 *                and to resolution, over the clocks fulfilled (in time or
 *                late): the working time the clock counted from its start to
 *                its fulfilment on its own calendar, time paused excluded —
 *                clock.c's sla_clock_used_ms(), the very figure the clock
 *                was judged by, not wall time. Null when the count is 0.
 *
 * Mean: rounded to the nearest ms, half up. p90: nearest rank — the value at
 * position ceil(0.9 n) of the n values sorted, i.e. the smallest value with
 * at least 90 % of the values at or below it; that is what PostgreSQL's
 * percentile_disc(0.9) answers. Chosen over percentile_cont because it is a
 * time some ticket really took, and exact on integers (no interpolation
 * between two tickets). It is computed here, in C, and not in SQL because
 * business time depends on each clock's calendar, which only calendar.c
 * knows how to count.
 *
 * The rows come through a cursor, SLA_REPORT_FETCH at a time, ordered by
 * group (bytewise), so memory holds the times of one group plus every time
 * for the totals — 8 bytes per fulfilled clock; a period holding more than
 * SLA_REPORT_MAX_CLOCKS clocks is refused rather than read.
 *
 * Parameters are hostile: each is checked and a 400 names the first bad
 * one. CSV is RFC 4180 (CRLF, quotes doubled, fields quoted when they hold
 * a comma, quote or line break); a group name starting with = + - @ or a
 * tab gets a leading ' so that a spreadsheet never runs it as a formula.
 */
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "clock_store.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "zone.h"

#define SLA_REPORT_FETCH 5000
#define SLA_REPORT_MAX_CLOCKS 5000000
#define SLA_REPORT_FIELDS (6 + 6 * SLA_TARGET_COUNT)

/* What a report may group by: the query's name and the clocks column. */
static const struct {
    const char *by;
    const char *column;
} s_groupings[] = {
    {"team", "team"},         {"agent", "assignee"}, {"service_type", "service_type"},
    {"priority", "priority"}, {"tier", "tier"},
};

/* A growable list of durations (ms). */
typedef struct {
    int64_t *v;
    size_t n, cap;
} s_series_t;

static int s_series_push(s_series_t *s, int64_t ms)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = ms;
    return 0;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The counts of one group while its rows are read. */
typedef struct {
    int64_t clocks, open, met, breaches, stopped;
    int64_t target_met[SLA_TARGET_COUNT], target_breaches[SLA_TARGET_COUNT];
    s_series_t times[SLA_TARGET_COUNT];
} s_group_t;

/* A finished group: what is printed. */
typedef struct {
    int64_t clocks, open, met, breaches, stopped;
    int64_t target_met[SLA_TARGET_COUNT], target_breaches[SLA_TARGET_COUNT];
    int64_t count[SLA_TARGET_COUNT], mean_ms[SLA_TARGET_COUNT], p90_ms[SLA_TARGET_COUNT];
} s_summary_t;

/* Sorts the group's series in place. */
static void s_summarise(s_group_t *g, s_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    out->clocks = g->clocks;
    out->open = g->open;
    out->met = g->met;
    out->breaches = g->breaches;
    out->stopped = g->stopped;
    for (int t = 0; t < SLA_TARGET_COUNT; t++) {
        s_series_t *s = &g->times[t];
        out->target_met[t] = g->target_met[t];
        out->target_breaches[t] = g->target_breaches[t];
        out->count[t] = (int64_t)s->n;
        if (!s->n)
            continue;
        int64_t sum = 0, n = (int64_t)s->n;
        for (size_t i = 0; i < s->n; i++)
            sum += s->v[i];
        out->mean_ms[t] = (2 * sum + n) / (2 * n);
        qsort(s->v, s->n, sizeof(*s->v), s_cmp_i64);
        out->p90_ms[t] = s->v[(9 * n + 9) / 10 - 1]; /* rank ceil(0.9 n), from 1 */
    }
}

/* One printed field: an integer, a percentage in hundredths, or null. */
typedef enum { S_INT, S_PERCENT, S_NULL } s_kind_t;
typedef struct {
    const char *name;
    s_kind_t kind;
    int64_t value;
} s_field_t;

/* kept / (kept + missed) in hundredths of a percent, half up. */
static s_field_t s_share(const char *name, int64_t kept, int64_t missed)
{
    int64_t n = kept + missed;
    if (!n)
        return (s_field_t){name, S_NULL, 0};
    return (s_field_t){name, S_PERCENT, (2 * kept * 10000 + n) / (2 * n)};
}

static s_field_t s_ms(const char *name, int64_t count, int64_t ms)
{
    return count ? (s_field_t){name, S_INT, ms} : (s_field_t){name, S_NULL, 0};
}

/* The fields of a summary in print order: JSON keys and CSV columns alike. */
static void s_fields(const s_summary_t *s, s_field_t f[SLA_REPORT_FIELDS])
{
    static const char *const names[SLA_TARGET_COUNT][6] = {
        {"first_response_met", "first_response_breaches", "first_response_compliance_percent",
         "first_response_count", "first_response_mean_ms", "first_response_p90_ms"},
        {"resolution_met", "resolution_breaches", "resolution_compliance_percent",
         "resolution_count", "resolution_mean_ms", "resolution_p90_ms"},
        {"complaint_acceptance_met", "complaint_acceptance_breaches",
         "complaint_acceptance_compliance_percent", "complaint_acceptance_count",
         "complaint_acceptance_mean_ms", "complaint_acceptance_p90_ms"},
        {"complaint_handling_met", "complaint_handling_breaches",
         "complaint_handling_compliance_percent", "complaint_handling_count",
         "complaint_handling_mean_ms", "complaint_handling_p90_ms"},
        {"next_update_met", "next_update_breaches", "next_update_compliance_percent",
         "next_update_count", "next_update_mean_ms", "next_update_p90_ms"}};
    int k = 0;
    f[k++] = (s_field_t){"clocks", S_INT, s->clocks};
    f[k++] = (s_field_t){"open", S_INT, s->open};
    f[k++] = (s_field_t){"met", S_INT, s->met};
    f[k++] = (s_field_t){"breaches", S_INT, s->breaches};
    f[k++] = (s_field_t){"stopped", S_INT, s->stopped};
    f[k++] = s_share("compliance_percent", s->met, s->breaches);
    for (int t = 0; t < SLA_TARGET_COUNT; t++) {
        f[k++] = (s_field_t){names[t][0], S_INT, s->target_met[t]};
        f[k++] = (s_field_t){names[t][1], S_INT, s->target_breaches[t]};
        f[k++] = s_share(names[t][2], s->target_met[t], s->target_breaches[t]);
        f[k++] = (s_field_t){names[t][3], S_INT, s->count[t]};
        f[k++] = s_ms(names[t][4], s->count[t], s->mean_ms[t]);
        f[k++] = s_ms(names[t][5], s->count[t], s->p90_ms[t]);
    }
}

/* ---- output ------------------------------------------------------------------------ */

/* A growable text buffer; on allocation failure it marks itself failed and
   ignores further writes. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} s_text_t;

static void s_put(s_text_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void s_puts(s_text_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

/* One CSV text field (RFC 4180), defused for spreadsheets. */
static void s_csv_text(s_text_t *b, const char *s)
{
    int formula = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        s_puts(b, "\"");
    if (formula)
        s_puts(b, "'");
    for (const char *p = s; *p; p++) {
        s_put(b, p, 1);
        if (*p == '"')
            s_puts(b, "\""); /* a quote inside is written twice */
    }
    if (quote)
        s_puts(b, "\"");
}

static void s_csv_field(s_text_t *b, const s_field_t *f)
{
    char num[48] = "";
    if (f->kind == S_INT)
        snprintf(num, sizeof(num), "%lld", (long long)f->value);
    else if (f->kind == S_PERCENT)
        snprintf(num, sizeof(num), "%lld.%02lld", (long long)(f->value / 100),
                 (long long)(f->value % 100));
    s_puts(b, num);
}

static void s_csv_row(s_text_t *b, const char *kind, const char *group, const s_summary_t *s)
{
    s_field_t f[SLA_REPORT_FIELDS];
    s_fields(s, f);
    s_puts(b, kind);
    s_puts(b, ",");
    s_csv_text(b, group);
    for (int i = 0; i < SLA_REPORT_FIELDS; i++) {
        s_puts(b, ",");
        s_csv_field(b, &f[i]);
    }
    s_puts(b, "\r\n");
}

static json_t *s_json_summary(const char *group, const s_summary_t *s)
{
    s_field_t f[SLA_REPORT_FIELDS];
    s_fields(s, f);
    json_t *o = json_object();
    if (group)
        json_object_set_new(o, "group", json_string(group));
    for (int i = 0; i < SLA_REPORT_FIELDS; i++) {
        json_t *v = f[i].kind == S_INT       ? json_integer(f[i].value)
                    : f[i].kind == S_PERCENT ? json_real((double)f[i].value / 100.0)
                                             : json_null();
        json_object_set_new(o, f[i].name, v);
    }
    return o;
}

/* ---- the request ------------------------------------------------------------------- */

typedef struct {
    int64_t from_ms, to_ms;
    const char *by, *column;
    int csv;
} s_params_t;

/* from= or to=: a date (YYYY-MM-DD, midnight in zone), ms since the epoch,
   or a moment with its offset. 0, or -1 with a 400 in resp. */
static int s_param_moment(cs_http_req_t *req, cs_http_resp_t *resp, const char *key,
                          const sla_zone_t *zone, int64_t *out)
{
    const char *v = cs_http_query(req, key);
    if (!v || !*v) {
        cs_http_error(resp, 400, key, "%s is required: a date (YYYY-MM-DD) or a moment", key);
        return -1;
    }
    size_t n = strlen(v), digits = strspn(v, "0123456789");
    int y, m, d, used = 0;
    if (n == 10 && sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &used) == 3 && used == 10 &&
        strspn(v, "0123456789-") == 10) {
        int64_t day = sla_days_from_civil(y, m, d), y2;
        int m2, d2;
        sla_civil_from_days(day, &y2, &m2, &d2);
        if (y >= 1971 && y <= 2199 && m2 == m && d2 == d) {
            *out = sla_zone_to_utc(zone, day * 86400) * 1000;
            return 0;
        }
    } else if (digits == n && n >= 1 && n <= 15) {
        *out = strtoll(v, NULL, 10);
        return 0;
    } else if (n <= 40) {
        json_t *s = json_string(v);
        int rc = s ? sla_api_moment(s, out) : -1;
        json_decref(s);
        if (rc == 0)
            return 0;
    }
    cs_http_error(resp, 400, key,
                  "%s must be a date (YYYY-MM-DD), a moment with its offset"
                  " (2026-03-01T08:00:00+08:00) or ms since the epoch",
                  key);
    return -1;
}

static int s_params(cs_http_req_t *req, cs_http_resp_t *resp, s_params_t *p)
{
    memset(p, 0, sizeof(*p));
    const char *tz = cs_http_query(req, "tz");
    char err[200] = "";
    sla_zone_t *zone = sla_zone_load(NULL, tz ? tz : SLA_CALENDAR_DEFAULT_ZONE, err, sizeof(err));
    if (!zone) {
        cs_http_error(resp, 400, "tz", "tz must name a time zone (e.g. Asia/Shanghai)");
        return -1;
    }
    int rc = s_param_moment(req, resp, "from", zone, &p->from_ms) < 0 ||
                     s_param_moment(req, resp, "to", zone, &p->to_ms) < 0
                 ? -1
                 : 0;
    sla_zone_destroy(&zone);
    if (rc < 0)
        return -1;
    if (p->to_ms <= p->from_ms) {
        cs_http_error(resp, 400, "to", "to must be after from");
        return -1;
    }
    const char *by = cs_http_query(req, "by");
    for (size_t i = 0; by && i < sizeof(s_groupings) / sizeof(s_groupings[0]); i++)
        if (strcmp(by, s_groupings[i].by) == 0) {
            p->by = s_groupings[i].by;
            p->column = s_groupings[i].column;
        }
    if (!p->by) {
        cs_http_error(resp, 400, "by",
                      "by must be one of team, agent, service_type, priority, tier");
        return -1;
    }
    const char *format = cs_http_query(req, "format");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        cs_http_error(resp, 400, "format", "format must be json or csv");
        return -1;
    }
    p->csv = format && strcmp(format, "csv") == 0;
    return 0;
}

/* Everything one report run holds. */
typedef struct {
    sla_api_t *api;
    cs_db_t *db;
    const s_params_t *params;
    s_group_t group, total;
    char key[SLA_NAME_MAX + 1]; /* the group being read */
    int have_group;
    int64_t rows;
    json_t *groups; /* JSON: the finished groups */
    s_text_t csv;   /* CSV: the text so far */
} s_run_t;

static void s_group_free(s_group_t *g)
{
    for (int t = 0; t < SLA_TARGET_COUNT; t++)
        free(g->times[t].v);
    memset(g, 0, sizeof(*g));
}

/* Print the group read so far and start an empty one. */
static void s_flush_group(s_run_t *run)
{
    if (!run->have_group)
        return;
    s_summary_t s;
    s_summarise(&run->group, &s);
    if (run->params->csv)
        s_csv_row(&run->csv, "group", run->key, &s);
    else
        json_array_append_new(run->groups, s_json_summary(run->key, &s));
    s_group_free(&run->group);
    run->have_group = 0;
}

/* Count a next-update clock (its row in state, its rounds' outcomes as
   "kind:used_ms" items, "-" for none) into its group and the total. */
static int s_count_rounds(s_run_t *run, int state, const char *rounds)
{
    s_group_t *gs[] = {&run->group, &run->total};
    const sla_target_t nu = SLA_TARGET_NEXT_UPDATE;
    for (int k = 0; k < 2; k++) {
        gs[k]->clocks++;
        if (state == SLA_CLOCK_RUNNING || state == SLA_CLOCK_PAUSED)
            gs[k]->open++;
    }
    for (const char *p = rounds; p && *p;) {
        const char *colon = strchr(p, ':');
        if (!colon)
            break;
        size_t kind_len = (size_t)(colon - p);
        char *end;
        long long used = strtoll(colon + 1, &end, 10);
        int has_time = end != colon + 1;
        int met = kind_len == 3 && strncmp(p, "met", 3) == 0;
        int breached = kind_len == 8 && strncmp(p, "breached", 8) == 0;
        for (int k = 0; k < 2; k++) {
            s_group_t *g = gs[k];
            if (met)
                g->met++, g->target_met[nu]++;
            else if (breached)
                g->breaches++, g->target_breaches[nu]++;
            if (!breached && has_time && s_series_push(&g->times[nu], (int64_t)used) < 0)
                return -1;
        }
        const char *comma = strchr(colon, ',');
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* Count one clock row (the cursor's columns) into its group and the total.
   0, -1 on a database or memory error. */
static int s_count(s_run_t *run, const PGresult *r, int i)
{
    const char *key = cs_db_get(r, i, 0);
    int target = sla_target_parse(cs_db_get(r, i, 1));
    int state = sla_clock_state_parse(cs_db_get(r, i, 2));
    if (target < 0 || state < 0)
        return 0; /* a value the model does not know: not counted */
    if (!run->have_group || strcmp(key, run->key) != 0) {
        s_flush_group(run);
        snprintf(run->key, sizeof(run->key), "%s", key);
        run->have_group = 1;
    }
    sla_clock_t c = {.target = (sla_target_t)target,
                     .state = (sla_clock_state_t)state,
                     .target_ms = cs_db_get_i64(r, i, 3),
                     .deadline_ms = cs_db_get_i64(r, i, 4),
                     .paused_at_ms = cs_db_get_i64(r, i, 5),
                     .stopped_at_ms = cs_db_get_i64(r, i, 6)};
    if (target == SLA_TARGET_NEXT_UPDATE)
        return s_count_rounds(run, state, cs_db_get(r, i, 9));
    int fulfilled = state == SLA_CLOCK_MET || (state == SLA_CLOCK_BREACHED && c.stopped_at_ms &&
                                               strcmp(cs_db_get(r, i, 8), "t") == 0);
    int64_t used = 0;
    if (fulfilled) {
        sla_policy_t policy;
        if (sla_api_policy_for(run->api, run->db, cs_db_get(r, i, 7), &policy) < 0)
            return -1;
        used = sla_clock_used_ms(&c, &policy, c.stopped_at_ms);
    }
    s_group_t *gs[] = {&run->group, &run->total};
    for (int k = 0; k < 2; k++) {
        s_group_t *g = gs[k];
        g->clocks++;
        if (state == SLA_CLOCK_RUNNING || state == SLA_CLOCK_PAUSED)
            g->open++;
        else if (state == SLA_CLOCK_MET)
            g->met++, g->target_met[target]++;
        else if (state == SLA_CLOCK_BREACHED)
            g->breaches++, g->target_breaches[target]++;
        else
            g->stopped++;
        if (fulfilled && s_series_push(&g->times[target], used) < 0)
            return -1;
    }
    return 0;
}

/* Read the period's clocks through a cursor. 0, -1 on a database or memory
   error, -2 when the period holds too many clocks. */
static int s_read(s_run_t *run)
{
    char sql[2000], from[24], to[24];
    /* The column comes from s_groupings (a fixed name, never request text). */
    snprintf(sql, sizeof(sql),
             "DECLARE sla_report NO SCROLL CURSOR FOR"
             " SELECT c.%s, c.target, c.state, c.target_ms, ts_ms(c.deadline),"
             " ts_ms(c.paused_at), ts_ms(c.stopped_at), c.policy,"
             " EXISTS (SELECT 1 FROM clock_events e WHERE e.clock_id = c.id"
             "         AND e.round = c.round AND e.kind = 'fulfilled_late'),"
             " CASE WHEN c.target = 'next_update' THEN"
             "  (SELECT coalesce(string_agg(e.kind || ':' || coalesce(e.used_ms::text, '-'), ','"
             "                              ORDER BY e.round, e.kind), '')"
             "   FROM clock_events e WHERE e.clock_id = c.id"
             "   AND e.kind IN ('met', 'breached', 'fulfilled_late')"
             "   AND e.round >= (SELECT coalesce(min(a.round), c.round) FROM clock_events a"
             "                   WHERE a.clock_id = c.id AND a.kind = 'armed'"
             "                   AND a.at >= ms_ts($1))) END"
             " FROM clocks c WHERE c.started_at >= ms_ts($1) AND c.started_at < ms_ts($2)"
             " ORDER BY c.%s COLLATE \"C\"",
             run->params->column, run->params->column);
    const char *p[] = {cs_db_i64(from, run->params->from_ms), cs_db_i64(to, run->params->to_ms)};
    if (cs_db_cmd(run->db, sql, 2, p) < 0)
        return -1;
    char fetch[64];
    snprintf(fetch, sizeof(fetch), "FETCH %d FROM sla_report", SLA_REPORT_FETCH);
    for (;;) {
        PGresult *r = cs_db_exec(run->db, fetch, 0, NULL);
        if (!r)
            return -1;
        int n = PQntuples(r);
        run->rows += n;
        if (run->rows > SLA_REPORT_MAX_CLOCKS) {
            PQclear(r);
            return -2;
        }
        for (int i = 0; i < n; i++)
            if (s_count(run, r, i) < 0) {
                PQclear(r);
                return -1;
            }
        PQclear(r);
        if (n < SLA_REPORT_FETCH)
            return 0;
    }
}

static void s_get_report(cs_http_req_t *req, cs_http_resp_t *resp)
{
    s_params_t params;
    if (s_params(req, resp, &params) < 0)
        return;
    s_run_t run = {.api = req->ctx, .db = req->db, .params = &params};
    if (sla_calendars_refresh(run.api->calendars, req->db) < 0 || cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    run.groups = json_array();
    if (params.csv) {
        s_puts(&run.csv, "row,");
        s_puts(&run.csv, params.by);
        s_summary_t none = {0};
        s_field_t f[SLA_REPORT_FIELDS];
        s_fields(&none, f);
        for (int i = 0; i < SLA_REPORT_FIELDS; i++) {
            s_puts(&run.csv, ",");
            s_puts(&run.csv, f[i].name);
        }
        s_puts(&run.csv, "\r\n");
    }
    int rc = s_read(&run);
    cs_db_rollback(req->db); /* read only: nothing to keep, the cursor goes */
    if (rc == 0)
        s_flush_group(&run);
    s_summary_t total;
    s_summarise(&run.total, &total);
    s_group_free(&run.group);
    s_group_free(&run.total);
    if (rc == -2) {
        cs_http_error(resp, 400, "from", "the period holds more than %d clocks: narrow it",
                      SLA_REPORT_MAX_CLOCKS);
    } else if (rc < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
    } else if (params.csv) {
        s_csv_row(&run.csv, "total", "", &total);
        if (run.csv.failed) {
            cs_http_error(resp, 503, NULL, "out of memory");
        } else {
            cs_http_body(resp, 200, "text/csv; charset=utf-8; header=present", run.csv.s,
                         run.csv.len);
            run.csv.s = NULL;
        }
    } else {
        char from[40], to[40];
        cs_iso8601(params.from_ms, from, sizeof(from));
        cs_iso8601(params.to_ms, to, sizeof(to));
        json_t *out = json_object();
        json_object_set_new(out, "from", json_string(from));
        json_object_set_new(out, "to", json_string(to));
        json_object_set_new(out, "by", json_string(params.by));
        json_object_set_new(out, "p90", json_string("nearest rank (percentile_disc)"));
        json_object_set_new(out, "groups", run.groups);
        run.groups = NULL;
        json_object_set_new(out, "total", s_json_summary(NULL, &total));
        /* Percentages keep their two decimals as written, not as binary
           fractions (66.67, not 66.670000000000002). */
        char *body = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_decref(out);
        if (body)
            cs_http_body(resp, 200, "application/json", body, strlen(body));
        else
            cs_http_error(resp, 503, NULL, "out of memory");
    }
    json_decref(run.groups);
    free(run.csv.s);
}

void sla_report_register(cs_http_t *http, sla_api_t *api)
{
    cs_http_route(http, "GET", "/v1/sla/report", s_get_report, api);
}
