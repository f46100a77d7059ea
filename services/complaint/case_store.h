/*
 * case_store.h - complaint_cases rows in and out of PostgreSQL, and the
 * complaint.* events that announce them.
 *
 * Why: the bus handler (a case is opened) and the HTTP handlers (a case is
 * accepted or closed) change the same rows and announce the change the same
 * way; keeping the SQL and the event in one place keeps them in step.  All
 * functions run inside the caller's open transaction and never commit.
 */
#ifndef COMPLAINT_CASE_STORE_H_INCLUDED
#define COMPLAINT_CASE_STORE_H_INCLUDED

#include <libpq-fe.h>
#include "case.h"
#include "cs_db.h"

/* Columns of a row from case_store_lock(), in this order. */
enum {
    CASE_COL_ID = 0,
    CASE_COL_TICKET_ID,
    CASE_COL_NUMBER,
    CASE_COL_STATUS,
    CASE_COL_RECEIVED_MS,
    CASE_COL_ACCEPT_DUE_MS,
    CASE_COL_ACCEPTED_MS,
    CASE_COL_RESOLVED_MS,
    CASE_COL_HANDLER,
    CASE_COL_EMAIL,
    CASE_COL_NAME,
    CASE_COL_LANGUAGE,
    CASE_COL_RESOLUTION,
};

/* Lock one case for update, found by complaint id (a UUID) or by ticket
   number.  Returns the result (caller PQclear()s) with 0 or 1 row, or NULL
   on a database error.  When a row is there, *c is filled from it. */
PGresult *case_store_lock(cs_db_t *db, const char *id_or_number, complaint_case_t *c);

/* Write the case's status, handler and times back, record the move in
   case_history (actor, note) and emit `type` for it.  row is the locked
   row from case_store_lock(); resolution may be NULL (unchanged).  0 or -1. */
int case_store_move(cs_db_t *db, const PGresult *row, const complaint_case_t *c, const char *type,
                    const char *actor, const char *resolution);

/* Emit one ComplaintEvent of `type` with the given fields. 0 or -1. */
int case_store_emit(cs_db_t *db, const char *type, const char *complaint_id, const char *ticket_id,
                    const char *number, const complaint_case_t *c, const char *email,
                    const char *name, const char *language, const char *resolution);

#endif
