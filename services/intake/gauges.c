/*
 * gauges — see gauges.h.
 */
#include "cs_metrics.h"
#include "gauges.h"

void intake_gauges_tick(mail_gateway_t *mail)
{
    static int declared;
    if (!declared) {
        declared = 1;
        cs_metric_declare("cs_intake_smtp_connections_total", "counter",
                          "SMTP/LMTP connections: served (accepted) or refused over the limits.");
        cs_metric_declare("cs_intake_smtp_connections_open", "gauge",
                          "SMTP/LMTP sessions being served now.");
        cs_metric_declare("cs_intake_smtp_timeouts_total", "counter",
                          "SMTP/LMTP sessions closed for idleness or no greeting.");
        cs_metric_declare("cs_intake_smtp_messages_total", "counter",
                          "Final replies after DATA: accepted 2xx, deferred 4xx, rejected 5xx.");
        cs_metric_declare("cs_intake_smtp_recipients_rejected_total", "counter",
                          "RCPT commands refused.");
        cs_metric_declare("cs_intake_smtp_protocol_errors_total", "counter",
                          "Protocol errors answered (bad commands, long lines).");
    }
    if (!mail)
        return;
    smtp_server_stats_t st;
    mail_gateway_stats(mail, &st);
    cs_counter_set("cs_intake_smtp_connections_total", "result=\"accepted\"",
                   (double)st.connections_total);
    cs_counter_set("cs_intake_smtp_connections_total", "result=\"refused\"",
                   (double)st.connections_refused);
    cs_gauge_set("cs_intake_smtp_connections_open", "", (double)st.connections_open);
    cs_counter_set("cs_intake_smtp_timeouts_total", "", (double)st.timeouts);
    cs_counter_set("cs_intake_smtp_messages_total", "result=\"accepted\"",
                   (double)st.messages_accepted);
    cs_counter_set("cs_intake_smtp_messages_total", "result=\"deferred\"",
                   (double)st.messages_rejected_temp);
    cs_counter_set("cs_intake_smtp_messages_total", "result=\"rejected\"",
                   (double)st.messages_rejected_perm);
    cs_counter_set("cs_intake_smtp_recipients_rejected_total", "", (double)st.recipients_rejected);
    cs_counter_set("cs_intake_smtp_protocol_errors_total", "", (double)st.protocol_errors);
}
