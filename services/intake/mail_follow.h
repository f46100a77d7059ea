/*
 * mail_follow — what intake learns from the streams it follows (never
 * waiting for them: intake takes mail while dispatch or notify is down).
 *
 * - dispatch.ticket.resolved / .closed / .reopened / .terminated keep
 *   ticket_states: whether a reply reopens a ticket (closed less than
 *   CS_INTAKE_REOPEN_DAYS ago) or opens a new one following it up.
 * - notification.sent keeps notify_letters: the Message-ID of every letter
 *   notify sent, so that an answer quoting it joins the letter's ticket, a
 *   bounce quoting it is matched to the letter, and the letter itself coming
 *   back in is a loop.
 */
#ifndef INTAKE_MAIL_FOLLOW_H
#define INTAKE_MAIL_FOLLOW_H
#include "cs_service.h"

/* Register the handlers on the service's consumer. */
void mail_follow_register(cs_service_t *svc);

#endif
