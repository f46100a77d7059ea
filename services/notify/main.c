/*
 * cs-notify — every letter petrocs writes to a customer (DESIGN.md §2).
 *
 * Reads dispatch (accepted → acceptance letter 受理确认函, responded → update, resolved →
 * resolution letter), survey (requested → survey invitation, reminded → survey reminder)
 * and complaint (feedback_sent → the feedback letter, escalated → an alert to the quality
 * manager).  The bus handlers
 * (outbound.c) only record a queued notification in the consumer's transaction; the
 * delivery worker (delivery.c) sends it after commit and records the outcome with
 * notification.sent / notification.failed.  api.c answers operators.
 */
#include <stdlib.h>
#include "api.h"
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "delivery.h"
#include "letter.h"
#include "mail_out.h"
#include "outbound.h"

extern const cs_migration_t notify_migrations[];

static struct {
    outbound_config_t outbound;
    delivery_config_t delivery;
    letter_templates_t *templates;
    delivery_t *worker;
    int mail_out_ready;
} s_notify;

/* Everything that can be wrong with the configuration is found here, before the service
 * takes a single event: bad figures, a broken template, a domain no Message-ID can use. */
static int s_load_config(void)
{
    if (cs_commitment_load() < 0 || outbound_config_load(&s_notify.outbound) < 0 ||
        delivery_config_load(&s_notify.delivery) < 0)
        return -1;
    char err[512];
    char *probe = letter_message_id_new("probe", s_notify.outbound.domain, err, sizeof(err));
    if (!probe) {
        cs_error("config: CS_NOTIFY_DOMAIN: %s", err);
        return -1;
    }
    free(probe);
    const char *dir = cs_env("CS_NOTIFY_TEMPLATES", "services/notify/templates");
    s_notify.templates = letter_templates_load(dir, err, sizeof(err));
    if (!s_notify.templates) {
        cs_error("config: CS_NOTIFY_TEMPLATES (%s): %s", dir, err);
        return -1;
    }
    return 0;
}

static int s_init(cs_service_t *svc)
{
    if (s_load_config() < 0)
        return -1;
    if (mail_out_init() < 0) {
        cs_error("notify: mail transport initialisation failed");
        return -1;
    }
    s_notify.mail_out_ready = 1;
    cs_metric_declare("cs_notify_messages_total", "counter",
                      "Customer notifications by kind and status (queued, sent, deferred, "
                      "failed, suppressed, capped).");
    cs_metric_declare("cs_notify_queue_depth", "gauge",
                      "Notifications queued or deferred, waiting for delivery.");
    cs_consumer_t *consumer = cs_service_consumer(svc);
    static const char *const types[] = {"dispatch.ticket.accepted", "dispatch.ticket.responded",
                                        "dispatch.ticket.resolved", "dispatch.ticket.noted",
                                        "survey.requested",         "survey.reminded",
                                        "complaint.feedback_sent",  "complaint.escalated"};
    for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
        cs_consumer_on(consumer, types[i], outbound_on_event, &s_notify.outbound);
    api_register(svc);
    s_notify.worker = delivery_new(&s_notify.delivery, s_notify.templates, svc);
    if (!s_notify.worker || delivery_start(s_notify.worker) < 0) {
        cs_error("notify: cannot start the delivery worker");
        return -1;
    }
    cs_info("notify: delivering to %s",
            s_notify.delivery.smtp_url ? "the SMTP relay" : s_notify.delivery.maildir);
    return 0;
}

/* The queue depth, for dashboards: a growing queue means the relay is refusing. */
static void s_tick(cs_service_t *svc)
{
    PGresult *r = cs_db_exec(cs_service_db(svc),
                             "SELECT count(*) FROM notifications"
                             " WHERE status IN ('queued', 'deferred')",
                             0, NULL);
    if (r)
        cs_gauge_set("cs_notify_queue_depth", "", (double)cs_db_get_i64(r, 0, 0));
    PQclear(r);
}

static void s_stop(cs_service_t *svc)
{
    (void)svc;
    delivery_destroy(&s_notify.worker);
    letter_templates_destroy(&s_notify.templates);
    if (s_notify.mail_out_ready)
        mail_out_shutdown();
    s_notify.mail_out_ready = 0;
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"dispatch", "survey", "complaint", NULL};
    static const cs_service_def_t def = {.name = "notify",
                                         .port_base = 7600,
                                         .migrations = notify_migrations,
                                         .reads = reads,
                                         .init = s_init,
                                         .tick = s_tick,
                                         .stop = s_stop};
    return cs_service_run(&def, argc, argv);
}
