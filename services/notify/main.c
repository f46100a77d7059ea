/*
 * cs-notify — every outbound message petrocs sends (DESIGN.md §2).
 *
 * Reads dispatch (accepted → acceptance letter 受理确认函, responded → update, resolved →
 * resolution letter, escalated → alerts to staff by e-mail, SMS and voice), survey
 * (requested → survey invitation, reminded → survey reminder), complaint (feedback_sent → the
 * feedback letter, escalated → an alert to the quality manager) and intake (mail.rejected → a
 * bounce marks the message it names).  Every event of those streams may also go to webhook
 * subscribers.  The bus handlers (s_on_event below, outbound.c, alert.c, webhook.c) only
 * record rows in the consumer's transaction; the delivery worker (delivery.c) and the
 * webhook worker (webhook.c) send after commit and record each outcome.  api.c answers
 * operators.
 */
#include <stdlib.h>
#include <string.h>
#include "alert.h"
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
#include "webhook.h"

extern const cs_migration_t notify_migrations[];

static struct {
    outbound_config_t outbound;
    delivery_config_t delivery;
    alert_config_t alert;
    webhook_config_t webhook;
    letter_templates_t *templates;
    delivery_t *worker;
    webhook_t *webhooks;
    int mail_out_ready;
} s_notify;

/* The events that become letters (outbound.c maps each to its kind). */
static const char *const s_letter_types[] = {
    "dispatch.ticket.accepted", "dispatch.ticket.responded", "dispatch.ticket.resolved",
    "dispatch.ticket.noted",    "survey.requested",          "survey.reminded",
    "complaint.feedback_sent",  "complaint.escalated",       NULL};

static int s_is_letter_type(const char *type)
{
    for (size_t i = 0; s_letter_types[i]; i++)
        if (strcmp(s_letter_types[i], type) == 0)
            return 1;
    return 0;
}

/* The one bus handler: letters, alerts, bounces, then webhooks — all in the consumer's
 * transaction, so an event is either wholly recorded or offered again. */
static int s_on_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    int rc = 1;
    if (s_is_letter_type(env->type))
        rc = outbound_on_event(db, env, &s_notify.outbound);
    else if (strcmp(env->type, "dispatch.ticket.escalated") == 0)
        rc = alert_on_escalated(db, env, &s_notify.alert);
    else if (strcmp(env->type, "intake.mail.rejected") == 0)
        rc = delivery_on_bounce(db, env);
    if (rc < 0 || webhook_enqueue(db, env) < 0)
        return -1;
    return rc;
}

/* Everything that can be wrong with the configuration is found here, before the service
 * takes a single event: bad figures, a broken template, a domain no Message-ID can use. */
static int s_load_config(void)
{
    if (cs_commitment_load() < 0 || outbound_config_load(&s_notify.outbound) < 0 ||
        delivery_config_load(&s_notify.delivery) < 0 ||
        alert_config_load(&s_notify.alert, &s_notify.outbound) < 0 ||
        webhook_config_load(&s_notify.webhook) < 0)
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
    if (letter_templates_check(s_notify.templates, outbound_kind_vars, err, sizeof(err)) < 0) {
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
    cs_metric_declare("cs_notify_webhook_deliveries_total", "counter",
                      "Webhook delivery attempts by outcome (delivered, deferred, failed).");
    cs_metric_declare("cs_notify_webhook_breaker_open", "gauge",
                      "1 while a webhook subscriber's circuit breaker holds its deliveries.");
    cs_metric_declare("cs_notify_webhook_queue_depth", "gauge",
                      "Webhook deliveries queued or deferred.");
    cs_consumer_t *consumer = cs_service_consumer(svc);
    /* every type a webhook may want (a superset of the letter types) */
    for (size_t i = 0; webhook_types[i]; i++)
        if (strncmp(webhook_types[i], "notification.", 13) != 0)
            cs_consumer_on(consumer, webhook_types[i], s_on_event, NULL);
    for (size_t i = 0; s_letter_types[i]; i++) /* in case the catalogue lacks one */
        if (!webhook_pattern_valid(s_letter_types[i]))
            cs_consumer_on(consumer, s_letter_types[i], s_on_event, NULL);
    api_register(svc);
    s_notify.worker = delivery_new(&s_notify.delivery, s_notify.templates, svc);
    if (!s_notify.worker || delivery_start(s_notify.worker) < 0) {
        cs_error("notify: cannot start the delivery worker");
        return -1;
    }
    s_notify.webhooks = webhook_new(&s_notify.webhook, svc);
    if (!s_notify.webhooks || webhook_start(s_notify.webhooks) < 0) {
        cs_error("notify: cannot start the webhook worker");
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
    webhook_metrics(cs_service_db(svc));
}

static void s_stop(cs_service_t *svc)
{
    (void)svc;
    delivery_destroy(&s_notify.worker);
    webhook_destroy(&s_notify.webhooks);
    letter_templates_destroy(&s_notify.templates);
    if (s_notify.mail_out_ready)
        mail_out_shutdown();
    s_notify.mail_out_ready = 0;
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"intake", "dispatch", "survey", "complaint", NULL};
    static const cs_service_def_t def = {.name = "notify",
                                         .port_base = 7600,
                                         .migrations = notify_migrations,
                                         .reads = reads,
                                         .init = s_init,
                                         .tick = s_tick,
                                         .stop = s_stop};
    return cs_service_run(&def, argc, argv);
}
