/*
 * events — what dispatch does when something happens elsewhere, and its
 * once-a-second work.
 *
 *   intake.ticket.created          classify, accept, assign (or queue)
 *   intake.ticket.customer_replied pending_customer → in_progress,
 *                                  resolved → reopened; always a history line
 *   sla.breached                   escalate (dispatch.ticket.escalated)
 *   tick                           give queued tickets to agents who now fit;
 *                                  the open/queued gauges
 *
 * Every handler runs inside the consumer's transaction and is idempotent by
 * business key (ticket_id; ticket + reply; ticket + target + level), so an
 * event applied twice changes nothing the second time.
 */
#ifndef DISPATCH_EVENTS_H
#define DISPATCH_EVENTS_H
#include "cs_bus.h"
#include "cs_db.h"
#include "classify.h"

typedef struct {
    classify_rules_t *rules;
    char region[16]; /* where queued tickets wait (CS_DISPATCH_REGION) */
} events_ctx_t;

/* Declare the business metrics (once, at start-up). */
void events_declare_metrics(void);

/* cs_event_fn handlers; ctx is an events_ctx_t. */
int events_on_ticket_created(cs_db_t *db, const Cs__Envelope *env, void *ctx);
int events_on_customer_replied(cs_db_t *db, const Cs__Envelope *env, void *ctx);
int events_on_sla_breached(cs_db_t *db, const Cs__Envelope *env, void *ctx);

/* Try to assign up to max queued tickets, most urgent first, one
   transaction each. Returns how many were assigned, or -1 on a database
   error. */
int events_drain_queue(cs_db_t *db, const events_ctx_t *ctx, int max);
/* Refresh the gauges of open and queued tickets from the database. */
void events_update_gauges(cs_db_t *db);

#endif
