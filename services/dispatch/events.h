/*
 * events — what dispatch does when something happens elsewhere, and its
 * once-a-second work.
 *
 *   intake.ticket.created          classify, accept, assign (or queue)
 *   intake.ticket.customer_replied pending_customer → in_progress,
 *                                  resolved → reopened; always a history line
 *   sla.warning                    mark the ticket at risk (the at-risk queue)
 *   sla.breached, sla.escalated    raise the escalation level, tell the team
 *                                  lead (level 1) then the manager (2 and
 *                                  up) through dispatch.ticket.escalated,
 *                                  mark it at risk, and, if configured, give
 *                                  the ticket to another agent
 *                                  (dispatch.ticket.transferred; owner kept)
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

#include "ticket.h"

/* When a breach takes the ticket from its assignee
   (CS_DISPATCH_REASSIGN_ON_BREACH). */
typedef enum {
    EVENTS_REASSIGN_NEVER = 0,      /* never (default) */
    EVENTS_REASSIGN_FIRST_RESPONSE, /* when nobody responded in time */
    EVENTS_REASSIGN_ALWAYS          /* on any breach */
} events_reassign_t;

typedef struct {
    classify_rules_t *rules; /* the main thread's; swapped by the tick on reload */
    char region[16];         /* where queued tickets wait (CS_DISPATCH_REGION) */
    events_reassign_t reassign_on_breach;
} events_ctx_t;

/* Declare the business metrics (once, at start-up). */
void events_declare_metrics(void);

/* cs_event_fn handlers; ctx is an events_ctx_t. */
int events_on_ticket_created(cs_db_t *db, const Cs__Envelope *env, void *ctx);
int events_on_customer_replied(cs_db_t *db, const Cs__Envelope *env, void *ctx);
int events_on_sla_breached(cs_db_t *db, const Cs__Envelope *env, void *ctx);
int events_on_sla_warning(cs_db_t *db, const Cs__Envelope *env, void *ctx);

/* Announce t's emergency level (t->emergency_level > 0): a history line and
   dispatch.ticket.escalated carrying it, addressed to the manager (level 1)
   or the team lead (2, 3), so that notify pages at once. why_extra ("" for
   none) is added to the reason. 0 or -1. */
int events_emergency(cs_db_t *db, ticket_t *t, const char *actor, const char *why_extra);

/* Try to assign up to max queued tickets, most urgent first, one
   transaction each. Returns how many were assigned, or -1 on a database
   error. */
int events_drain_queue(cs_db_t *db, const events_ctx_t *ctx, int max);

#endif
