/*
 * api — sla-monitor's HTTP face (on :7300 by default):
 *
 *   GET /v1/stats                    {"clocks":{"armed","running","paused","met",
 *                                     "warning","breached","stopped"}}
 *   GET /v1/clocks?ticket=NUMBER     the ticket's clocks, each with its history
 *   GET /v1/clocks?state=STATE[&limit=N]
 *                                    clocks in one state (running, paused, met,
 *                                    breached, stopped), latest deadline first
 *
 * "armed" counts every clock ever armed; "warning" the running clocks past
 * their warning share. Read-only: every handler runs one query on the HTTP
 * thread's connection and needs no transaction.
 */
#ifndef SLA_API_H
#define SLA_API_H
#include "clock.h"
#include "cs_http.h"

/* Register the routes; policy (the clocks' calendar and minute) must outlive
   the server. */
void sla_api_register(cs_http_t *http, const sla_policy_t *policy);

#endif
