/*
 * gauges — see gauges.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_log.h"
#include "cs_metrics.h"
#include "gauges.h"

/* Groups kept at most: 8 open statuses × the service types × 4 levels is far
   below in practice; a cap keeps a flood of odd types from filling the
   process's series table. */
#define MAX_GROUPS 256

void dispatch_gauges_tick(cs_db_t *db)
{
    static int64_t next;
    static int capped_logged;
    if (!cs_gauge_due(&next))
        return;
    PGresult *r = cs_db_exec(db,
                             "SELECT status, service_type, emergency_level, count(*) FROM tickets"
                             " WHERE status IN ('new', 'accepted', 'queued', 'assigned',"
                             " 'in_progress', 'pending_customer', 'resolved', 'reopened')"
                             " GROUP BY 1, 2, 3 ORDER BY 4 DESC",
                             0, NULL);
    if (!r)
        return;
    int n = PQntuples(r);
    if (n > MAX_GROUPS) {
        if (!capped_logged++)
            cs_warn("dispatch: %d groups of open tickets; the gauge keeps the %d largest", n,
                    MAX_GROUPS);
        n = MAX_GROUPS;
    }
    char(*labels)[192] = calloc((size_t)n + 1, sizeof(*labels));
    const char **lp = calloc((size_t)n + 1, sizeof(*lp));
    double *values = calloc((size_t)n + 1, sizeof(*values));
    double queued = 0;
    for (int i = 0; labels && lp && values && i < n; i++) {
        char status[48], type[96];
        cs_metric_label_value(status, sizeof(status), cs_db_get(r, i, 0));
        cs_metric_label_value(type, sizeof(type), cs_db_get(r, i, 1));
        snprintf(labels[i], sizeof(labels[i]),
                 "status=\"%s\",service_type=\"%s\",emergency_level=\"%d\"", status, type,
                 (int)cs_db_get_i64(r, i, 2));
        lp[i] = labels[i];
        values[i] = (double)cs_db_get_i64(r, i, 3);
    }
    /* every queued group, the capped ones too */
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(cs_db_get(r, i, 0), "queued") == 0)
            queued += (double)cs_db_get_i64(r, i, 3);
    if (labels && lp && values)
        cs_gauge_set_family("cs_dispatch_open_tickets", n, lp, values);
    cs_gauge_set("cs_dispatch_queued_tickets", "", queued);
    free(labels);
    free(lp);
    free(values);
    PQclear(r);
}
