/*
 * cs_civil — dates of the proleptic Gregorian calendar as day counts, for
 * the services that read "YYYY-MM-DD" from a request (complaint's and
 * survey's report periods). sla's calendars have their own, with time
 * zones (services/sla/zone.h).
 */
#ifndef CS_CIVIL_H
#define CS_CIVIL_H
#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (negative before); m 1..12, d 1..31. */
int64_t cs_days_from_civil(int64_t y, int m, int d);
/* Days in month m (1..12) of year y; 0 for a month out of range. */
int cs_days_in_month(int64_t y, int m);

#endif
