/*
 * events.h - what complaint does with the events it reads:
 *
 *   dispatch.ticket.accepted / .reclassified  a ticket of service type
 *       "complaint" opens a case (source ticket), once per ticket;
 *   survey.low_score  opens a follow-up case linked to the ticket (source
 *       survey), once per survey invitation;
 *   sla.warning / sla.breached / sla.escalated on a complaint clock
 *       (complaint_acceptance while the case is still received,
 *       complaint_handling while it is still in handling) escalate the case
 *       to the quality manager: complaint.escalated, once per clock event.
 */
#ifndef COMPLAINT_EVENTS_H_INCLUDED
#define COMPLAINT_EVENTS_H_INCLUDED

#include "cs_service.h"
#include "settings.h"

/* Register the handlers on the service's consumer; settings must outlive it. */
void complaint_events_register(cs_service_t *svc, const complaint_settings_t *settings);

#endif
