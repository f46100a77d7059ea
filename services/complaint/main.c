/*
 * cs-complaint — the six-step complaint process (DESIGN.md §2).
 *
 * Reads dispatch: a ticket accepted with service type "complaint" opens a
 * case.  Handlers accept and close cases over HTTP (api.c).  Once a second
 * the tick publishes how many cases are open and how many are past their
 * acceptance deadline, for the operations dashboard.
 */
#include "api.h"
#include "cs_config.h"
#include "cs_db.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "ticket_events.h"

extern const cs_migration_t complaint_migrations[];

static complaint_settings_t s_settings;

static int s_init(cs_service_t *svc)
{
    int64_t hours;
    if (cs_env_int("CS_COMPLAINT_ACCEPT_HOURS", 24, 1, 24 * 30, &hours) < 0)
        return -1;
    s_settings.accept_hours = (int)hours;
    cs_metric_declare("cs_complaint_open", "gauge",
                      "Complaint cases neither resolved nor archived.");
    cs_metric_declare("cs_complaint_accept_overdue", "gauge",
                      "Complaint cases still unaccepted past their acceptance deadline.");
    cs_metric_declare("cs_complaint_opened_total", "counter", "Complaint cases opened.");
    complaint_ticket_events_register(svc, &s_settings);
    complaint_api_register(svc);
    return 0;
}

/* Refresh the gauges from the table, so they are right after a restart too. */
static void s_tick(cs_service_t *svc)
{
    PGresult *r =
        cs_db_exec(cs_service_db(svc),
                   "SELECT count(*) FILTER (WHERE status NOT IN ('resolved', 'archived')),"
                   " count(*) FILTER (WHERE status = 'received' AND accept_due < now())"
                   " FROM complaint_cases",
                   0, NULL);
    if (!r)
        return;
    cs_gauge_set("cs_complaint_open", "", (double)cs_db_get_i64(r, 0, 0));
    cs_gauge_set("cs_complaint_accept_overdue", "", (double)cs_db_get_i64(r, 0, 1));
    PQclear(r);
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"dispatch", NULL};
    static const cs_service_def_t def = {.name = "complaint",
                                         .port_base = 7400,
                                         .migrations = complaint_migrations,
                                         .reads = reads,
                                         .init = s_init,
                                         .tick = s_tick};
    return cs_service_run(&def, argc, argv);
}
