/*
 * gauges — see gauges.h.
 */
#include <stdio.h>
#include <string.h>
#include "case.h"
#include "cs_metrics.h"
#include "gauges.h"

void complaint_gauges_tick(cs_db_t *db)
{
    static int64_t next;
    if (!cs_gauge_due(&next))
        return;
    /* The open statuses as a text[] literal: {received,accepted,…}. */
    char open[256] = "{";
    for (int s = 0; s < COMPLAINT_STATUS_COUNT; s++)
        if (complaint_status_is_open((complaint_status_t)s)) {
            size_t n = strlen(open);
            snprintf(open + n, sizeof(open) - n, "%s%s", n > 1 ? "," : "",
                     complaint_status_name((complaint_status_t)s));
        }
    size_t n = strlen(open);
    snprintf(open + n, sizeof(open) - n, "}");
    const char *params[] = {open};
    PGresult *r = cs_db_exec(db,
                             "SELECT status, count(*),"
                             " count(*) FILTER (WHERE status = 'received' AND accept_due < now()),"
                             " count(*) FILTER (WHERE status = 'handling' AND handle_due < now())"
                             " FROM complaint_cases WHERE status = ANY ($1::text[])"
                             " GROUP BY status",
                             1, params);
    if (!r)
        return;
    double accept_overdue = 0, handle_overdue = 0;
    for (int s = 0; s < COMPLAINT_STATUS_COUNT; s++) {
        if (!complaint_status_is_open((complaint_status_t)s))
            continue;
        const char *name = complaint_status_name((complaint_status_t)s);
        double count = 0;
        for (int i = 0; i < PQntuples(r); i++)
            if (strcmp(cs_db_get(r, i, 0), name) == 0)
                count = (double)cs_db_get_i64(r, i, 1);
        char labels[64];
        snprintf(labels, sizeof(labels), "status=\"%s\"", name);
        cs_gauge_set("cs_complaint_open", labels, count);
    }
    for (int i = 0; i < PQntuples(r); i++) {
        accept_overdue += (double)cs_db_get_i64(r, i, 2);
        handle_overdue += (double)cs_db_get_i64(r, i, 3);
    }
    cs_gauge_set("cs_complaint_accept_overdue", "", accept_overdue);
    cs_gauge_set("cs_complaint_handle_overdue", "", handle_overdue);
    PQclear(r);
}
