/*
 * survey.h - the survey service's state, shared by its parts: the bus
 * handlers that decide and schedule invitations (ticket_events.c), the
 * sender that sends them when due and reminds once (sender.c), the answer
 * and opt-out pages (answer.c) and the JSON API (api.c).  Filled once in
 * main.c's init and read-only afterwards, except summary_dirty (an atomic
 * flag the HTTP thread raises after an answer so the tick refreshes the
 * gauge).
 */
#ifndef SURVEY_SURVEY_H_INCLUDED
#define SURVEY_SURVEY_H_INCLUDED

#include <stdatomic.h>
#include "cs_service.h"
#include "keyring.h"

#define SURVEY_PUBLIC_URL_MAX 200

typedef struct {
    cs_service_t *svc;
    survey_keyring_t *keys;
    char public_url[SURVEY_PUBLIC_URL_MAX + 1]; /* CS_SURVEY_PUBLIC_URL, no trailing '/' */
    int link_days;                              /* CS_SURVEY_LINK_DAYS */
    int delay_min;      /* CS_SURVEY_DELAY_MIN: from close to invitation (120) */
    char tz[64];        /* CS_SURVEY_TZ: the contacts' time zone (Asia/Shanghai) */
    int day_start;      /* CS_SURVEY_DAY_START: first daytime hour (9) */
    int day_end;        /* CS_SURVEY_DAY_END: daytime ends at this hour (20; 24 = midnight) */
    int quiet_days;     /* CS_SURVEY_QUIET_DAYS: no second survey within (30) */
    int remind_after_h; /* CS_SURVEY_REMIND_AFTER_H: the one reminder (72; 0 = none) */
    atomic_int summary_dirty;
} survey_state_t;

#define SURVEY_STRATEGIC_TIER "strategic"

/* dispatch.ticket.closed / .reopened / .terminated, complaint.feedback_sent
   -> one decision per ticket (ticket_events.c). */
void survey_ticket_events_register(survey_state_t *st);
/* Send the invitations that are due and the reminders (sender.c); from the
   tick, on the main connection.  Returns how many events were emitted. */
int survey_sender_run(survey_state_t *st, cs_db_t *db);
/* Append a survey event to the outbox in the caller's transaction (sender.c). */
int survey_emit(cs_db_t *db, const char *type, Cs__SurveyEvent *ev);
/* Insert a phone follow-up task (reason "strategic" or "low_score") for an
   invitation and emit survey.follow_up, in the caller's transaction; ev
   carries the invitation's facts.  0 (also when the task existed) or -1. */
int survey_follow_up_create(cs_db_t *db, const char *invitation_id, const char *reason,
                            Cs__SurveyEvent *ev);
/* GET/POST /s/{token}, /s/{token}/optout, GET /r/{code} (answer.c). */
void survey_answer_register(survey_state_t *st);
/* GET /v1/surveys, GET /v1/surveys/summary, follow-up tasks (api.c). */
void survey_api_register(survey_state_t *st);
/* The all-time satisfied share for the gauge: 0 with *share set, 1 when
   there are no answers yet, -1 on a database error (api.c). */
int survey_satisfied_share(cs_db_t *db, double *share);

#endif
