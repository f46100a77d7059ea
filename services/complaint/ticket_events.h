/*
 * ticket_events.h - what complaint does with dispatch's ticket events:
 * dispatch.ticket.accepted for a ticket of service type "complaint" opens
 * a complaint_case (received, accept_due = received_at + accept_hours) and
 * emits complaint.opened, once per ticket.
 */
#ifndef COMPLAINT_TICKET_EVENTS_H_INCLUDED
#define COMPLAINT_TICKET_EVENTS_H_INCLUDED

#include "cs_service.h"

/* The service's configuration, read once at start. */
typedef struct {
    int accept_hours; /* CS_COMPLAINT_ACCEPT_HOURS, default 24 */
} complaint_settings_t;

/* Register the handlers on the service's consumer; settings must outlive it. */
void complaint_ticket_events_register(cs_service_t *svc, const complaint_settings_t *settings);

#endif
