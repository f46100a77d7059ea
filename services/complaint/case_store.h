/*
 * case_store.h - complaint_cases rows in and out of PostgreSQL, and the
 * complaint.* events that announce them.
 *
 * Why: the bus handlers (a case is opened from a ticket or a survey, an
 * SLA clock escalates it) and the HTTP handlers (a handler moves it through
 * the six steps) change the same rows and announce the change the same
 * way.  Every event is built from the row as it stands after the change,
 * so each one carries the whole case (what sla, notify and any later
 * reader need) and never a stale field.  All functions run inside the
 * caller's open transaction and never commit.
 */
#ifndef COMPLAINT_CASE_STORE_H_INCLUDED
#define COMPLAINT_CASE_STORE_H_INCLUDED

#include <libpq-fe.h>
#include "case.h"
#include "cs_db.h"

/* What a new case starts from.  Texts may be NULL (empty); ticket_id NULL
   when the case has no ticket. */
typedef struct {
    const char *source;     /* "ticket", "survey", "direct" */
    const char *source_key; /* unique per source: ticket id, invitation id, case id */
    const char *ticket_id;
    const char *ticket_number;
    const char *channel, *tier, *priority, *team, *subject, *description;
    const char *customer_id, *customer_name, *customer_email, *customer_phone, *language;
    int satisfaction; /* 1..5 from a survey, 0 when none */
    int64_t received_at_ms;
    int accept_hours;
    const char *actor; /* "system" for the bus, the handler's login for the API */
} complaint_opening_t;

/* Open a case: insert it (once per source key), record its first step and
   emit complaint.opened.  id (CS_UUID_LEN) receives the case id.
   0 opened, 1 it existed already (id is the existing case's), -1 error. */
int case_store_open(cs_db_t *db, const complaint_opening_t *o, char *id);

/* Columns of a row from case_store_lock(), in this order. */
enum {
    LOCK_COL_ID = 0,
    LOCK_COL_STATUS,
    LOCK_COL_PRIORITY,
    LOCK_COL_LEVEL,
    LOCK_COL_NUMBER,
};

/* Lock one case for update, found by complaint id (a UUID) or by case
   number (the ticket's number or CP-…; the latest case of that number).
   Returns the result (caller PQclear()s) with 0 or 1 row, or NULL on a
   database error.  When a row is there, *status is set from it. */
PGresult *case_store_lock(cs_db_t *db, const char *id_or_number, complaint_status_t *status);

/* Record a step in case_history: from -> to by actor, with a note. 0 or -1. */
int case_store_history(cs_db_t *db, const char *id, const char *from, const char *to,
                       const char *actor, const char *note);

/* Emit one ComplaintEvent of `type` for case id, built from its row.
   text goes in the event's resolution field when not NULL (the reason of
   an escalation); else the field carries the feedback letter.  0 or -1. */
int case_store_emit(cs_db_t *db, const char *type, const char *id, const char *actor,
                    const char *text);

/* Raise the case's escalation level by one for the reason `key` (once per
   key), record it and emit complaint.escalated with the reason.
   0 raised, 1 this key raised it before, -1 error. */
int case_store_escalate(cs_db_t *db, const char *id, const char *key, const char *reason,
                        const char *actor);

#endif
