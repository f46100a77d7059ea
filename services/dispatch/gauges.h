/*
 * gauges — dispatch's business gauges, computed from its own tickets table
 * every CS_GAUGE_EVERY_MS (10 s) in the tick:
 *
 *   cs_dispatch_open_tickets{status, service_type, emergency_level}
 *       tickets not closed or terminated, by status, service type and
 *       emergency level (0 none, 1 major .. 3 general);
 *   cs_dispatch_queued_tickets   tickets waiting for an agent.
 *
 * One GROUP BY over the open tickets only (the tickets_status index leads
 * with status). A group that empties reads 0 (cs_gauge_set_family).
 */
#ifndef DISPATCH_GAUGES_H
#define DISPATCH_GAUGES_H
#include "cs_db.h"

/* Refresh the gauges when due; a database error leaves them as they were. */
void dispatch_gauges_tick(cs_db_t *db);

#endif
