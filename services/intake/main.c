/*
 * cs-intake — the front door (DESIGN.md §2): the SMTP/LMTP mail gateway and
 * the HTTP API for web, app, on-site and partner requests; the customer
 * registry; ticket numbers. Publishes stream intake-N.
 */
#include "api.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "gauges.h"
#include "mail_gateway.h"

extern const cs_migration_t intake_migrations[];

static mail_gateway_t *s_mail;

static int s_init(cs_service_t *svc)
{
    cs_metric_declare("cs_intake_tickets_total", "counter", "Tickets created, by channel.");
    cs_metric_declare("cs_intake_mail_total", "counter",
                      "Messages received by the mail gateway, by outcome and reason.");
    intake_api_register(svc);
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
    static const cs_service_def_t def = {
        .name = "intake",
        .port_base = 7100,
        .migrations = intake_migrations,
        .reads = NULL,
        .init = s_init,
        .tick = s_tick,
        .stop = s_stop,
    };
    return cs_service_run(&def, argc, argv);
}
