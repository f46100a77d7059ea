/*
 * gauges — the SMTP/LMTP listener's counters on /metrics, copied from
 * smtp_server_stats() once a second in intake's tick:
 *
 *   cs_intake_smtp_connections_total{result="accepted"|"refused"}
 *       sessions served, and connections answered 421 over the limits;
 *   cs_intake_smtp_connections_open            sessions being served now;
 *   cs_intake_smtp_timeouts_total              sessions closed for idleness;
 *   cs_intake_smtp_messages_total{result="accepted"|"deferred"|"rejected"}
 *       final replies after DATA: 2xx, 4xx, 5xx (LMTP: one per recipient);
 *   cs_intake_smtp_recipients_rejected_total   RCPT refused;
 *   cs_intake_smtp_protocol_errors_total       5xx to bad commands, long lines.
 *
 * What happened to each message (ticket, reply, duplicate, rejected with its
 * reason) is cs_intake_mail_total, counted by the gateway.
 */
#ifndef INTAKE_GAUGES_H
#define INTAKE_GAUGES_H
#include "mail_gateway.h"

void intake_gauges_tick(mail_gateway_t *mail);

#endif
