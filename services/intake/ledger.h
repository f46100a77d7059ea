/*
 * ledger — the communication ledger and the customer-visible timeline.
 *
 * The ledger is every contact with a customer, in one time line per
 * customer and per ticket: requests (web, app, visit, partner, mail),
 * mail replies (a trigger on mail_messages, so the mail gateway needs no
 * call here), calls (cti.c), and what notify sent (notification.sent from
 * notify's stream). Each entry is recorded once: (kind, ref) is unique.
 *
 * The timeline is what a customer may see of a ticket's life: intake reads
 * dispatch's ticket events (dispatch owns the lifecycle), keeps the status
 * for GET /v1/requests/{number}, and keeps only what was addressed to the
 * customer — responses, resolution reports, notes marked to_customer — never
 * internal notes, transfers, escalations or reclassifications.
 */
#ifndef INTAKE_LEDGER_H
#define INTAKE_LEDGER_H
#include <stdint.h>
#include "cs_bus.h"
#include "cs_service.h"

/* Record one contact in the caller's transaction; a second record of the
   same (kind, ref) is ignored. at_ms 0 = now. 0 or -1. */
int ledger_add(cs_db_t *db, const char *customer_id, const char *ticket_id, const char *direction,
               const char *channel, const char *kind, const char *party, const char *summary,
               const char *ref, const char *actor, int64_t at_ms);

/* GET /v1/customers/{id}/ledger and GET /v1/tickets/{number}/ledger. */
void ledger_register(cs_service_t *svc);

/* Subscribe to dispatch's ticket events (CS_INTAKE_TIMELINE) and notify's
   notification.sent (CS_INTAKE_OUTBOUND_LEDGER). */
void ledger_subscribe(cs_consumer_t *consumer, int timeline, int outbound);

#endif
