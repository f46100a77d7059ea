/*
 * cti — the telephony gateway: the call events a PBX integration posts,
 * the caller lookup behind an agent's screen pop, call-back tickets for
 * missed calls and tickets an agent opens from a call.
 *
 *   POST /v1/cti/events                {event: new|answered|hangup, call_id, from, to,
 *                                       direction: inbound|outbound, agent, cause, at_ms}
 *   GET  /v1/cti/lookup?number=        the customer and open tickets of a number
 *   GET  /v1/cti/calls/{call_id}       one call as intake knows it
 *   POST /v1/cti/calls/{call_id}/ticket {subject, notes, service_type, urgency, impact, language}
 *
 * Events are authenticated by the shared token CS_INTAKE_CTI_TOKEN
 * (Authorization: Bearer …, compared in constant time); without it
 * configured every /v1/cti route answers 503. The other routes take the
 * token too, or a desk role (X-CS-Role in CS_INTAKE_PERSONAL_ROLES with
 * X-CS-Actor) for an agent's own client.
 *
 * Order and repetition do not matter: a call is one row keyed by its id,
 * each kind of event counts once (the first), and what the call means is
 * settled when its hang-up and its caller are both known, whichever came
 * first. The hang-up's cause decides: normal → an answered call, logged in
 * the ledger (intake.call.logged); no_answer, busy or abandoned on an
 * inbound call → a missed call: one call-back ticket (channel phone,
 * external id cti-missed:<call id>) and intake.call.missed. A withheld or
 * unusable caller number gets the event and the ledger entry but no
 * ticket: there is nobody to call back.
 */
#ifndef INTAKE_CTI_H
#define INTAKE_CTI_H
#include "cs_service.h"

void cti_register(cs_service_t *svc);

#endif
