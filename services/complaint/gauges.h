/*
 * gauges — complaint's business gauges, from complaint_cases every
 * CS_GAUGE_EVERY_MS (10 s) in the tick:
 *
 *   cs_complaint_open{status}        cases not yet archived, by status (every
 *                                    open status, 0 when none);
 *   cs_complaint_accept_overdue      received, past the acceptance deadline;
 *   cs_complaint_handle_overdue      in handling, past the handling deadline.
 *
 * One GROUP BY over the open cases (the complaint_cases_status index leads
 * with status), so they are right after a restart too.
 */
#ifndef COMPLAINT_GAUGES_H
#define COMPLAINT_GAUGES_H
#include "cs_db.h"

/* Refresh the gauges when due; a database error leaves them as they were. */
void complaint_gauges_tick(cs_db_t *db);

#endif
