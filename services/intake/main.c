/*
 * cs-intake — the front door (DESIGN.md §2): the SMTP/LMTP mail gateway and
 * the HTTP API for web, app, on-site and partner requests; the telephony
 * gateway (CTI); the customer registry and the communication ledger;
 * ticket numbers. Publishes stream intake-N.
 *
 * Reads dispatch's stream for the customer-visible status and timeline of
 * each ticket (CS_INTAKE_TIMELINE, default 1) and notify's for the letters
 * sent, which enter the ledger (CS_INTAKE_OUTBOUND_LEDGER, default 1); 0
 * where that service does not run, else /readyz waits for it.
 *
 * The HTTP API runs on CS_INTAKE_HTTP_THREADS threads (default 4), each with
 * its own database connection: its handlers keep no state between requests.
 */
#include "api.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "cti.h"
#include "desk.h"
#include "gauges.h"
#include "ledger.h"
#include "mail_gateway.h"
#include "registry.h"

extern const cs_migration_t intake_migrations[];

static mail_gateway_t *s_mail;
static int64_t s_timeline = 1, s_outbound = 1;

/* A connection for each HTTP pool thread. */
static cs_db_t *s_http_db(void *ctx)
{
    return cs_service_db_new(ctx, "http");
}

static int s_init(cs_service_t *svc)
{
    int64_t threads;
    if (cs_env_svc_int("intake", "HTTP_THREADS", 4, 1, 64, &threads) < 0)
        return -1;
    /* Requests commit in parallel, so PostgreSQL flushes many in one WAL write. */
    cs_http_set_threads(cs_service_http(svc), (int)threads, s_http_db, svc);
    cs_metric_declare("cs_intake_tickets_total", "counter", "Tickets created, by channel.");
    cs_metric_declare("cs_intake_mail_total", "counter",
                      "Messages received by the mail gateway, by outcome and reason.");
    if (desk_init(cs_service_db(svc)) < 0)
        return -1;
    cs_metric_declare("cs_intake_mail_received_total", "counter",
                      "Messages the mail gateway committed, by way in (smtp, lmtp, imap) and TLS.");
    intake_api_register(svc);
    registry_register(svc);
    cti_register(svc);
    ledger_register(svc);
    ledger_subscribe(cs_service_consumer(svc), (int)s_timeline, (int)s_outbound);
    s_mail = mail_gateway_start(svc);
    return s_mail ? 0 : -1;
}

static void s_tick(cs_service_t *svc)
{
    (void)svc;
    intake_gauges_tick(s_mail);
}

static void s_stop(cs_service_t *svc)
{
    (void)svc;
    mail_gateway_stop(&s_mail);
}

int main(int argc, char **argv)
{
    /* followed, not depended on: intake takes requests while they are down
       (mail_follow.h); CS_INTAKE_TIMELINE=0 / CS_INTAKE_OUTBOUND_LEDGER=0 stop
       reading them */
    static const char *follows[3];
    int n = 0;
    if (cs_env_int("CS_INTAKE_TIMELINE", 1, 0, 1, &s_timeline) < 0 ||
        cs_env_int("CS_INTAKE_OUTBOUND_LEDGER", 1, 0, 1, &s_outbound) < 0)
        return 2;
    if (s_timeline)
        follows[n++] = "dispatch";
    if (s_outbound)
        follows[n++] = "notify";
    follows[n] = NULL;
    const cs_service_def_t def = {
        .name = "intake",
        .port_base = 7100,
        .migrations = intake_migrations,
        .reads = NULL,
        .follows = follows,
        .init = s_init,
        .tick = s_tick,
        .stop = s_stop,
    };
    return cs_service_run(&def, argc, argv);
}
