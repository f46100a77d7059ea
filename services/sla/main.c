/*
 * cs-sla — sla-monitor (DESIGN.md §2): a clock per commitment per ticket,
 * armed from dispatch's events, warnings at CS_SLA_WARN_PERCENT (80 %) and
 * breaches at the deadline, published as sla.* events.
 *
 * Wiring only: clock.c is the model, calendar.c the working-time calendars,
 * monitor.c the event handlers and the tick, clock_store.c the SQL, api.c
 * the HTTP routes.
 *
 * Configuration beyond the skeleton's: CS_SLA_WARN_PERCENT (1..99, default
 * 80); CS_COMMIT_P{1..4}_{RESPONSE,RESOLUTION}_MIN (cs_commitment.h) and
 * CS_SLA_COMPLAINT_ACCEPT_MIN, CS_SLA_COMPLAINT_HANDLE_MIN,
 * CS_SLA_NEXT_UPDATE_MIN — the built-in policies (policy.h);
 * CS_SLA_CALENDAR (default 7x24) — the built-in policies' calendar;
 * CS_SLA_ESCALATE_AFTER_MIN (default 0,60,240) — escalation levels after a
 * breach; CS_SLA_COMPLAINT_CLOCKS (default 1) — read the complaint stream
 * (0 where no complaint service runs, e.g. tests of sla alone);
 * CS_SLA_TICK_MS (default 200) — how often the tick looks for clocks due;
 * CS_SLA_BULK_ARM (default 1) — arming events a run at a time (0: one by one);
 * CS_SLA_MINUTE_SECONDS (default 60) — the length of a commitment "minute",
 * a knob for tests and demos only, so a 2-hour target can pass in seconds.
 */
#include "api.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_service.h"
#include "gauges.h"
#include "monitor.h"

extern const cs_migration_t sla_migrations[];

static sla_monitor_t *s_monitor;
static sla_api_t *s_api;

static int s_init(cs_service_t *svc)
{
    s_monitor = sla_monitor_new(cs_service_db(svc));
    if (!s_monitor)
        return -1;
    sla_monitor_subscribe(s_monitor, cs_service_consumer(svc));
    s_api = sla_api_new(cs_service_http(svc), sla_monitor_policy(s_monitor),
                        sla_monitor_calendar(s_monitor));
    return s_api ? 0 : -1;
}

static void s_tick(cs_service_t *svc)
{
    sla_monitor_tick(s_monitor, cs_service_db(svc), cs_now_ms());
    sla_gauges_tick(cs_service_db(svc));
}

static void s_stop(cs_service_t *svc)
{
    (void)svc;
    /* The HTTP server (whose handlers use the api) is already gone. */
    sla_api_destroy(&s_api);
    sla_monitor_destroy(&s_monitor);
}

int main(int argc, char **argv)
{
    static const char *reads[] = {"dispatch", "complaint", NULL};
    int64_t complaint_clocks;
    if (cs_env_int("CS_SLA_COMPLAINT_CLOCKS", 1, 0, 1, &complaint_clocks) < 0)
        return 2;
    if (!complaint_clocks)
        reads[1] = NULL;
    /* Warnings and breaches go out within a tick of their moment: 200 ms by
       default (the skeleton's tick is otherwise once a second). */
    int64_t tick_ms;
    if (cs_env_int("CS_SLA_TICK_MS", 200, 10, 1000, &tick_ms) < 0)
        return 2;
    const cs_service_def_t def = {.name = "sla",
                                  .port_base = 7300,
                                  .migrations = sla_migrations,
                                  .reads = reads,
                                  .init = s_init,
                                  .tick = s_tick,
                                  .tick_ms = (int)tick_ms,
                                  .stop = s_stop};
    return cs_service_run(&def, argc, argv);
}
