/*
 * gauges — sla's business gauges, from its clocks table every
 * CS_GAUGE_EVERY_MS (10 s) in the tick, for every target (first_response,
 * resolution, complaint_acceptance, complaint_handling; 0 when none):
 *
 *   cs_sla_at_risk_clocks{target}        warned and still running: the
 *                                        commitments that may break next;
 *   cs_sla_open_breached_clocks{target}  breached, and the ticket or
 *                                        complaint not yet closed.
 *
 * (cs_sla_clocks{state} counts every clock by state, history included.)
 */
#ifndef SLA_GAUGES_H
#define SLA_GAUGES_H
#include "cs_db.h"

/* Refresh the gauges when due; a database error leaves them as they were. */
void sla_gauges_tick(cs_db_t *db);

#endif
