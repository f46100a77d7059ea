/*
 * cs-dispatch — the ticket lifecycle authority (DESIGN.md §2).
 *
 * Wiring only: load the classification rules and the commitments, register
 * the event handlers (events.c) and the HTTP routes (api.c), and give the
 * once-a-second tick the queue, the gauges and the rules file watch.
 * Configuration:
 *   CS_DISPATCH_RULES   rules file (services/dispatch/rules/classify.rules);
 *                       reloaded when it changes (a broken edit is logged and
 *                       the rules in force are kept)
 *   CS_DISPATCH_REGION  region whose teams hold queued tickets (east)
 *   CS_DISPATCH_REASSIGN_ON_BREACH  never | first_response | always (never)
 *   CS_COMMIT_P*_*      commitments (cs_commitment.h)
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "api.h"
#include "events.h"
#include "gauges.h"

extern const cs_migration_t dispatch_migrations[];

static events_ctx_t s_ctx;
static const char *s_rules_path;
static struct stat s_rules_stat; /* of the file the rules in force came from */
static int64_t s_rules_checked_ms;

/* 1 if the file looks changed since the rules in force were read. */
static int s_rules_changed(const struct stat *now)
{
    return now->st_mtim.tv_sec != s_rules_stat.st_mtim.tv_sec ||
           now->st_mtim.tv_nsec != s_rules_stat.st_mtim.tv_nsec ||
           now->st_size != s_rules_stat.st_size || now->st_ino != s_rules_stat.st_ino;
}

/* Reload the rules file when it changed: every 2 s at most, on the main
   thread, which is the only reader of s_ctx.rules (the consumer's handlers
   and the tick), so the swap needs no lock. A file that does not parse is
   reported once and the rules in force stay. */
static void s_rules_watch(void)
{
    int64_t now_ms = cs_now_ms();
    if (now_ms - s_rules_checked_ms < 2000)
        return;
    s_rules_checked_ms = now_ms;
    struct stat st;
    if (stat(s_rules_path, &st) < 0 || !s_rules_changed(&st))
        return;
    s_rules_stat = st;
    char err[256] = "";
    classify_rules_t *fresh = classify_rules_load(s_rules_path, err, sizeof(err));
    if (!fresh) {
        cs_error("dispatch: classification rules %s not reloaded: %s; v%d stays in force",
                 s_rules_path, err, classify_rules_version(s_ctx.rules));
        cs_counter_add("cs_dispatch_rules_reloads_total", "result=\"error\"", 1);
        return;
    }
    cs_info("dispatch: classification rules v%d reloaded (was v%d)", classify_rules_version(fresh),
            classify_rules_version(s_ctx.rules));
    classify_rules_destroy(&s_ctx.rules);
    s_ctx.rules = fresh;
    cs_counter_add("cs_dispatch_rules_reloads_total", "result=\"ok\"", 1);
}

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
    const char *reassign = cs_env_svc("dispatch", "REASSIGN_ON_BREACH", "never");
    if (strcmp(reassign, "never") == 0)
        s_ctx.reassign_on_breach = EVENTS_REASSIGN_NEVER;
    else if (strcmp(reassign, "first_response") == 0)
        s_ctx.reassign_on_breach = EVENTS_REASSIGN_FIRST_RESPONSE;
    else if (strcmp(reassign, "always") == 0)
        s_ctx.reassign_on_breach = EVENTS_REASSIGN_ALWAYS;
    else {
        cs_error("config: CS_DISPATCH_REASSIGN_ON_BREACH must be never, first_response or always");
        return -1;
    }
    if (cs_commitment_load() < 0)
        return -1;
    s_rules_path = path;
    if (stat(path, &s_rules_stat) < 0)
        memset(&s_rules_stat, 0, sizeof(s_rules_stat));
    s_rules_checked_ms = cs_now_ms();
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
    cs_consumer_on(consumer, "sla.escalated", events_on_sla_breached, &s_ctx);
    cs_consumer_on(consumer, "sla.warning", events_on_sla_warning, &s_ctx);
    api_register(svc);
    return 0;
}

static void s_tick(cs_service_t *svc)
{
    cs_db_t *db = cs_service_db(svc);
    s_rules_watch();
    if (events_drain_queue(db, &s_ctx, 50) < 0)
        cs_warn("dispatch: queue not drained (database error); next tick retries");
    dispatch_gauges_tick(db);
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
