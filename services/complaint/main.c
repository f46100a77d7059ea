/*
 * cs-complaint — the six-step complaint process (DESIGN.md §2).
 *
 * Reads dispatch (a complaint ticket opens a case), survey (a low score
 * opens a follow-up case) and sla (a complaint clock's warning or breach
 * escalates the case to the quality manager): events.c.  Handlers open
 * cases taken by phone or visit and move every case through the six steps
 * over HTTP (api.c, steps.c); analysis.c answers the analysis of causes.
 * Once a second the tick publishes how many cases are open and overdue,
 * for the operations dashboard.
 */
#include <stdio.h>
#include <string.h>
#include "api.h"
#include "cs_config.h"
#include "cs_db.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "events.h"
#include "gauges.h"

extern const cs_migration_t complaint_migrations[];

static complaint_settings_t s_settings;
static complaint_api_t s_api;

/* An IANA zone name as PostgreSQL takes it ("Asia/Shanghai", "UTC"): it
   reaches SQL as a parameter, this only keeps obvious nonsense out. */
static int s_zone_ok(const char *z)
{
    size_t n = strlen(z);
    if (n == 0 || n >= sizeof(s_settings.time_zone))
        return 0;
    for (const char *p = z; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/_+-", *p)))
            return 0;
    return 1;
}

static int s_init(cs_service_t *svc)
{
    static const int handle_defaults[4] = {24, 72, 72, 168};
    int64_t v;
    if (cs_env_int("CS_COMPLAINT_ACCEPT_HOURS", 24, 1, 24 * 30, &v) < 0)
        return -1;
    s_settings.accept_hours = (int)v;
    for (int i = 0; i < 4; i++) {
        char name[40];
        snprintf(name, sizeof(name), "CS_COMPLAINT_HANDLE_HOURS_P%d", i + 1);
        if (cs_env_int(name, handle_defaults[i], 1, 24 * 90, &v) < 0)
            return -1;
        s_settings.handle_hours[i] = (int)v;
    }
    const char *zone = cs_env("CS_COMPLAINT_TIME_ZONE", "Asia/Shanghai");
    if (!s_zone_ok(zone)) {
        cs_error("config: CS_COMPLAINT_TIME_ZONE must be a time zone name such as Asia/Shanghai");
        return -1;
    }
    snprintf(s_settings.time_zone, sizeof(s_settings.time_zone), "%s", zone);
    cs_metric_declare("cs_complaint_open", "gauge", "Complaint cases not yet archived, by status.");
    cs_metric_declare("cs_complaint_accept_overdue", "gauge",
                      "Complaint cases still unaccepted past their acceptance deadline.");
    cs_metric_declare("cs_complaint_handle_overdue", "gauge",
                      "Complaint cases still in handling past their handling deadline.");
    cs_metric_declare("cs_complaint_opened_total", "counter", "Complaint cases opened.");
    cs_metric_declare("cs_complaint_escalations_total", "counter",
                      "Complaint escalations (SLA warnings and breaches, feedback not accepted).");
    complaint_events_register(svc, &s_settings);
    s_api.svc = svc;
    s_api.settings = &s_settings;
    complaint_api_register(&s_api);
    return 0;
}

static void s_tick(cs_service_t *svc)
{
    complaint_gauges_tick(cs_service_db(svc));
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"dispatch", "survey", "sla", NULL};
    static const cs_service_def_t def = {.name = "complaint",
                                         .port_base = 7400,
                                         .migrations = complaint_migrations,
                                         .reads = reads,
                                         .init = s_init,
                                         .tick = s_tick};
    return cs_service_run(&def, argc, argv);
}
