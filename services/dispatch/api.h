/*
 * api — dispatch's HTTP face (port 7200 by default). The whole API, with
 * bodies and answers, is docs/api/dispatch.openapi.yaml; in short:
 *
 *   GET  /v1/tickets?status=&priority=&service_type=&team=&assignee=&emergency=&limit=&offset=
 *   GET  /v1/tickets/{number}            the ticket, its text, history, notes, reports
 *   POST /v1/tickets/{number}/{action}   accept, assign, respond, hold, resume, transfer,
 *                                        note, reclassify, resolve, close, reopen, terminate
 *   GET  /v1/queues/{mine,team,unassigned,at-risk}   open tickets, most urgent first
 *   GET  /v1/agents, POST /v1/agents/{login}/presence
 *   GET  /v1/teams,  PUT /v1/teams/{code}/shifts
 *   GET  /v1/stats
 *
 * Answers: 200 with the ticket after an action; 404 unknown ticket or agent;
 * 409 when the lifecycle forbids the action in the ticket's status (the
 * message names the status and the action); 403 when the actor may not
 * (assignee and first-contact owner act on a ticket; the lead of its team,
 * supervisors and ops on every ticket; assign is for leads and up; accept
 * for agents skilled in the ticket's type); 422 naming a missing or bad
 * field. Checked in this order: 422 (body), 404, 409, 403 — a ticket's
 * status is not a secret on the desk, and "it is queued" helps more than
 * "not yours". Assign, accept and transfer are people's decisions: they do
 * not check presence, shifts or capacity, which bind automatic routing only.
 */
#ifndef DISPATCH_API_H
#define DISPATCH_API_H
#include "cs_service.h"

/* Register the routes on the service's HTTP server. */
void api_register(cs_service_t *svc);

#endif
