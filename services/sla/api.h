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
 *
 * And the calendars and the preview (calendar_api.c):
 *
 *   GET  /v1/sla/calendars               every calendar: name, updated_at, bytes
 *   GET  /v1/sla/calendars/{name}        its definition, kind, zone
 *   PUT  /v1/sla/calendars/{name}        a definition (text/plain, or JSON
 *                                        {"definition": "..."}); 422 naming the line
 *   POST /v1/sla/calendars/{name}/ical   an iCalendar file's all-day events
 *                                        added to it as holidays
 *   POST /v1/sla/preview                 a timeline of ticket events through
 *                                        the clocks (preview.h)
 *
 * A PUT of a calendar (or an iCalendar import) recomputes, in the same
 * transaction, every open clock counting on it (recompute.h).
 *
 * And the policies (policy_api.c, policy.h):
 *
 *   GET    /v1/sla/policies[?priority=&service_type=&tier=&channel=]
 *                                        stored and built-in policies; with
 *                                        facts, also the one that applies
 *   GET    /v1/sla/policies/{id}         one policy
 *   PUT    /v1/sla/policies/{id}[?apply=new|running]
 *                                        create or replace (400 naming the
 *                                        field); apply=running recomputes
 *                                        the open clocks it set
 *   DELETE /v1/sla/policies/{id}         remove a stored policy
 *
 * And what a supervisor reads (this file and report.c):
 *
 *   GET /v1/sla/tickets/{id}             one ticket's clocks (id: its UUID or
 *                                        its number): due time, business time
 *                                        remaining, state, percent used,
 *                                        warned/breached, facts, history
 *   GET /v1/sla/report?from=&to=&by=team|agent|service_type|priority|tier
 *                      [&format=json|csv][&tz=ZONE]
 *                                        compliance, time to first response,
 *                                        to resolution and to each update
 *                                        (mean, p90, in business time) and
 *                                        breaches per group of the clocks
 *                                        started in [from, to); next_update
 *                                        by rounds (report.c)
 */
#ifndef SLA_API_H
#define SLA_API_H
#include "calendar_store.h"
#include "clock.h"
#include "cs_http.h"
#include "policy_store.h"

/* What the HTTP thread's handlers share; used on that thread only. */
typedef struct {
    sla_policy_t counting; /* minute, warning share, escalation; each clock names its calendar */
    char default_calendar[SLA_CALENDAR_NAME_MAX]; /* CS_SLA_CALENDAR */
    sla_calendars_t *calendars;                   /* the HTTP thread's cache */
    sla_policies_t *policies;                     /* the HTTP thread's cache */
} sla_api_t;

/* Register every route. counting's calendar is not used. NULL on failure.
   Destroy only after the server has stopped. */
sla_api_t *sla_api_new(cs_http_t *http, const sla_policy_t *counting, const char *default_calendar);
void sla_api_destroy(sla_api_t **self_p);

/* How a stored clock counts: counting with the calendar it names (7×24
   when that name does not resolve). 0, or -1 on a database error. */
int sla_api_policy_for(sla_api_t *self, cs_db_t *db, const char *calendar, sla_policy_t *out);

/* The calendar and preview routes (calendar_api.c). */
void sla_calendar_api_register(cs_http_t *http, sla_api_t *api);
/* A moment as JSON: "2026-01-09T16:00:00+08:00" (seconds, fraction and 'T'
   optional — a space will do — and an offset or Z required), or an integer
   of ms since the epoch. 0 with *out set, or -1 (calendar_api.c). */
int sla_api_moment(const json_t *v, int64_t *out);

/* The compliance report route (report.c). */
void sla_report_register(cs_http_t *http, sla_api_t *api);

/* The policy routes (policy_api.c). */
void sla_policy_api_register(cs_http_t *http, sla_api_t *api);

/* Recompute, in the caller's transaction, every open clock counting on
   calendar (just corrected; its name is the clocks' calendar), or set by
   policy t (just changed). The number of clocks recomputed, or -1. */
int sla_api_recompute_calendar(sla_api_t *api, cs_db_t *db, const sla_calendar_t *calendar,
                               int64_t now_ms);
int sla_api_recompute_policy(sla_api_t *api, cs_db_t *db, const sla_terms_t *t, int64_t now_ms);

#endif
