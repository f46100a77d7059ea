/*
 * survey.h - the survey service's state, shared by its parts: the bus
 * handler that sends invitations (ticket_events.c), the answer pages
 * (answer.c) and the JSON API (api.c).  Filled once in main.c's init and
 * read-only afterwards, except summary_dirty (an atomic flag the HTTP
 * thread raises after an answer so the tick refreshes the gauge).
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
    atomic_int summary_dirty;
} survey_state_t;

/* dispatch.ticket.closed -> one invitation per ticket (ticket_events.c). */
void survey_ticket_events_register(survey_state_t *st);
/* GET/POST /s/{token} (answer.c). */
void survey_answer_register(survey_state_t *st);
/* GET /v1/surveys, GET /v1/surveys/summary (api.c). */
void survey_api_register(survey_state_t *st);
/* The all-time satisfied share for the gauge: 0 with *share set, 1 when
   there are no answers yet, -1 on a database error (api.c). */
int survey_satisfied_share(cs_db_t *db, double *share);

#endif
