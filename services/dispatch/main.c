/*
 * cs-dispatch — the ticket lifecycle authority (DESIGN.md §2).
 *
 * Wiring only: load the classification rules and the commitments, register
 * the event handlers (events.c) and the HTTP routes (api.c), and give the
 * once-a-second tick the queue and the gauges. Configuration:
 *   CS_DISPATCH_RULES   rules file (services/dispatch/rules/classify.rules)
 *   CS_DISPATCH_REGION  region whose teams hold queued tickets (east)
 *   CS_COMMIT_P*_*      commitments (cs_commitment.h)
 */
#include <stdio.h>
#include <string.h>
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_service.h"
#include "api.h"
#include "events.h"

extern const cs_migration_t dispatch_migrations[];

static events_ctx_t s_ctx;

static int s_init(cs_service_t *svc)
{
    char err[256] = "";
    const char *path = cs_env_svc("dispatch", "RULES", "services/dispatch/rules/classify.rules");
    const char *region = cs_env_svc("dispatch", "REGION", "east");
    if (strlen(region) >= sizeof(s_ctx.region) ||
        strspn(region, "abcdefghijklmnopqrstuvwxyz") != strlen(region)) {
        cs_error("config: CS_DISPATCH_REGION must be a short lower-case region code");
        return -1;
    }
    snprintf(s_ctx.region, sizeof(s_ctx.region), "%s", region);
    if (cs_commitment_load() < 0)
        return -1;
    s_ctx.rules = classify_rules_load(path, err, sizeof(err));
    if (!s_ctx.rules) {
        cs_error("config: classification rules %s: %s", path, err);
        return -1;
    }
    cs_info("dispatch: classification rules v%d loaded", classify_rules_version(s_ctx.rules));
    events_declare_metrics();
    cs_consumer_t *consumer = cs_service_consumer(svc);
    cs_consumer_on(consumer, "intake.ticket.created", events_on_ticket_created, &s_ctx);
    cs_consumer_on(consumer, "intake.ticket.customer_replied", events_on_customer_replied, &s_ctx);
    cs_consumer_on(consumer, "sla.breached", events_on_sla_breached, &s_ctx);
    api_register(svc);
    return 0;
}

static void s_tick(cs_service_t *svc)
{
    cs_db_t *db = cs_service_db(svc);
    if (events_drain_queue(db, &s_ctx, 50) < 0)
        cs_warn("dispatch: queue not drained (database error); next tick retries");
    events_update_gauges(db);
}

static void s_stop(cs_service_t *svc)
{
    (void)svc;
    classify_rules_destroy(&s_ctx.rules);
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"intake", "sla", NULL};
    static const cs_service_def_t def = {.name = "dispatch",
                                         .port_base = 7200,
                                         .migrations = dispatch_migrations,
                                         .reads = reads,
                                         .init = s_init,
                                         .tick = s_tick,
                                         .stop = s_stop};
    return cs_service_run(&def, argc, argv);
}
