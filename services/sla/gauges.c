/*
 * gauges — see gauges.h.
 */
#include <stdio.h>
#include <string.h>
#include "clock.h"
#include "cs_metrics.h"
#include "gauges.h"

void sla_gauges_tick(cs_db_t *db)
{
    static int64_t next;
    static int declared;
    if (!declared) {
        declared = 1;
        cs_metric_declare("cs_sla_at_risk_clocks", "gauge",
                          "Clocks warned and still running, by target.");
        cs_metric_declare("cs_sla_open_breached_clocks", "gauge",
                          "Clocks breached whose ticket or complaint is still open, by target.");
    }
    if (!cs_gauge_due(&next))
        return;
    /* Each arm matches one partial index of 006_gauge_indexes.sql. */
    PGresult *r = cs_db_exec(db,
                             "SELECT target, count(*) FILTER (WHERE state = 'running'),"
                             " count(*) FILTER (WHERE state = 'breached') FROM clocks"
                             " WHERE (state = 'running' AND warned)"
                             " OR (state = 'breached' AND stopped_at IS NULL) GROUP BY target",
                             0, NULL);
    if (!r)
        return;
    for (int t = 0; t < SLA_TARGET_COUNT; t++) {
        const char *name = sla_target_name((sla_target_t)t);
        double risk = 0, breached = 0;
        for (int i = 0; i < PQntuples(r); i++)
            if (strcmp(cs_db_get(r, i, 0), name) == 0) {
                risk = (double)cs_db_get_i64(r, i, 1);
                breached = (double)cs_db_get_i64(r, i, 2);
            }
        char labels[64];
        snprintf(labels, sizeof(labels), "target=\"%s\"", name);
        cs_gauge_set("cs_sla_at_risk_clocks", labels, risk);
        cs_gauge_set("cs_sla_open_breached_clocks", labels, breached);
    }
    PQclear(r);
}
