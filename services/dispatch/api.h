/*
 * api — dispatch's HTTP face (port 7200 by default).
 *
 *   GET  /v1/tickets?status=&assignee=&limit=   newest first (limit ≤ 500)
 *   GET  /v1/tickets/{number}                    the ticket and its history
 *   POST /v1/tickets/{number}/respond   {"agent","message"}  → in_progress
 *   POST /v1/tickets/{number}/hold      {"agent","reason"?}  → pending_customer
 *   POST /v1/tickets/{number}/resolve   {"agent","report"}   → resolved
 *   POST /v1/tickets/{number}/close     {"agent","reason"?}  → closed
 *   POST /v1/tickets/{number}/reopen    {"agent","reason"}   → reopened
 *   POST /v1/tickets/{number}/terminate {"agent","reason"}   → terminated
 *   GET  /v1/stats      {"tickets","open","by_type","by_team","by_status",
 *                        "by_priority","by_channel"}
 *   GET  /v1/agents                       the desk, with each agent's load
 *   POST /v1/agents/{login}/presence  {"presence":"online|away|offline"}
 *
 * Answers: 200 with the ticket after an action; 404 unknown ticket or agent;
 * 409 when the lifecycle forbids the action in the ticket's status (the
 * message names the status); 403 when the agent is neither the ticket's
 * assignee nor its first-contact owner; 422 naming a missing or bad field.
 * Checked in this order: 422 (body), 404, 409, 403 — a ticket's status is
 * not a secret on the desk, and "it is queued" helps more than "not yours".
 */
#ifndef DISPATCH_API_H
#define DISPATCH_API_H
#include "cs_service.h"

/* Register the routes on the service's HTTP server. */
void api_register(cs_service_t *svc);

#endif
