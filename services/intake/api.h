/*
 * api — intake's HTTP API for web, app, on-site and partner requests, and
 * the read side agents and tools use.
 *
 *   POST /v1/requests          a new request → 201 {"ticket_number", ...}
 *   GET  /v1/tickets/{number}  the ticket as intake received it
 *   GET  /v1/tickets?limit=N   the latest tickets
 *   GET  /v1/stats             tickets by channel, mail outcomes
 */
#ifndef INTAKE_API_H
#define INTAKE_API_H
#include "cs_service.h"

void intake_api_register(cs_service_t *svc);

#endif
