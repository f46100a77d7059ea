/*
 * mail_gateway — what intake does with a message its SMTP/LMTP listener
 * received: parse it, decide (new ticket, reply on a ticket, duplicate, or a
 * rejection with its reason), commit, and only then answer 250 naming the
 * outcome. Runs on the SMTP thread with a database connection of its own.
 */
#ifndef INTAKE_MAIL_GATEWAY_H
#define INTAKE_MAIL_GATEWAY_H
#include "cs_service.h"
#include "smtp_server.h"

typedef struct mail_gateway mail_gateway_t;

/* Start the listener (CS_INTAKE_SMTP_PORT, default 2525). NULL on error. */
mail_gateway_t *mail_gateway_start(cs_service_t *svc);
void mail_gateway_stop(mail_gateway_t **self_p);
/* The listener's counters (for /metrics: intake's gauges.c). */
void mail_gateway_stats(mail_gateway_t *self, smtp_server_stats_t *out);

#endif
