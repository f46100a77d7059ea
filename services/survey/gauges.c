/*
 * gauges — see gauges.h.
 */
#include <math.h>
#include <stdio.h>
#include "cs_metrics.h"
#include "gauges.h"
#include "summary.h"

#define WINDOW_DAYS 30

void survey_gauges_tick(cs_db_t *db, int link_days)
{
    static int64_t next;
    static int declared;
    if (!declared) {
        declared = 1;
        cs_metric_declare("cs_survey_answers_last_30d", "gauge",
                          "Survey answers recorded in the last 30 days.");
        cs_metric_declare("cs_survey_satisfied_answers_last_30d", "gauge",
                          "Survey answers of the last 30 days with satisfaction 4-5.");
        cs_metric_declare("cs_survey_satisfied_ratio_last_30d", "gauge",
                          "Satisfied share of the last 30 days' answers (target 0.9); NaN"
                          " without answers.");
    }
    if (!cs_gauge_due(&next))
        return;
    char days[24], window[24];
    const char *params[] = {cs_db_i64(days, WINDOW_DAYS + link_days),
                            cs_db_i64(window, WINDOW_DAYS)};
    PGresult *r = cs_db_exec(db,
                             "SELECT a.satisfaction, count(*) FROM invitations i"
                             " JOIN answers a ON a.invitation_id = i.invitation_id"
                             " WHERE i.sent_at > now() - make_interval(days => $1::int)"
                             " AND a.answered_at > now() - make_interval(days => $2::int)"
                             " GROUP BY a.satisfaction",
                             2, params);
    if (!r)
        return;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 0);
    for (int i = 0; i < PQntuples(r); i++)
        survey_tally_add(&t, (int)cs_db_get_i64(r, i, 0), -1, cs_db_get_i64(r, i, 1));
    PQclear(r);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    cs_gauge_set("cs_survey_answers_last_30d", "", (double)t.answered);
    cs_gauge_set("cs_survey_satisfied_answers_last_30d", "", (double)t.satisfied);
    cs_gauge_set("cs_survey_satisfied_ratio_last_30d", "",
                 s.has_satisfied_share ? s.satisfied_share : NAN);
}
