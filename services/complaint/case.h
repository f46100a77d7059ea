/*
 * case.h - the complaint_case state machine.
 *
 * Why: the service manual (5.4) runs every complaint through six steps —
 * accept (within 24 h), classify, investigate, handle, feed back to the
 * customer, archive.  The statuses of all six steps are declared here so
 * that the database, the API and the events already speak their names; the
 * transitions enabled today are the short path the business runs first:
 *
 *     received --accept--> accepted --close--> resolved
 *
 * Every other move is refused, and the refusal names the current status so
 * that the API can answer 409 with something a handler understands.  This
 * module is pure C: no database, no bus, no clock of its own.
 */
#ifndef COMPLAINT_CASE_H_INCLUDED
#define COMPLAINT_CASE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef enum {
    COMPLAINT_RECEIVED = 0,  /* opened from a complaint ticket, not yet accepted */
    COMPLAINT_ACCEPTED,      /* step 1: a handler has accepted it */
    COMPLAINT_CLASSIFIED,    /* step 2 (declared for later) */
    COMPLAINT_INVESTIGATING, /* step 3 (declared for later) */
    COMPLAINT_HANDLING,      /* step 4 (declared for later) */
    COMPLAINT_FEEDBACK,      /* step 5 (declared for later) */
    COMPLAINT_ARCHIVED,      /* step 6 (declared for later) */
    COMPLAINT_RESOLVED,      /* closed with a resolution */
    COMPLAINT_STATUS_COUNT
} complaint_status_t;

#define COMPLAINT_HANDLER_MAX 64      /* bytes of a handler's login */
#define COMPLAINT_RESOLUTION_MAX 8000 /* bytes of a resolution text */

/* "received", "accepted", … ; NULL for a value out of range. */
const char *complaint_status_name(complaint_status_t status);
/* The status called name; 0, or -1 when the name is not one of ours. */
int complaint_status_parse(const char *name, complaint_status_t *out);
/* Is the case still open (neither resolved nor archived)? */
int complaint_status_is_open(complaint_status_t status);
/* May a case move from one status to the other today? 1 or 0. */
int complaint_transition_allowed(complaint_status_t from, complaint_status_t to);

/* One case, as much as the state machine needs of it. */
typedef struct {
    complaint_status_t status;
    int64_t received_at_ms;
    int64_t accept_due_ms;
    int64_t accepted_at_ms; /* 0 until accepted */
    int64_t resolved_at_ms; /* 0 until resolved */
    char handler[COMPLAINT_HANDLER_MAX + 1];
} complaint_case_t;

/* Open a case for a complaint received at received_at_ms, due to be
   accepted accept_hours later. */
void complaint_case_open(complaint_case_t *c, int64_t received_at_ms, int accept_hours);

/* Check a handler's login: 1..64 bytes of letters, digits and . _ - @.
   0, or -1 with err saying what is wrong. */
int complaint_handler_check(const char *handler, char *err, size_t errlen);
/* Check a resolution text: non-empty after trimming, at most
   COMPLAINT_RESOLUTION_MAX bytes, valid UTF-8 without control characters
   other than tab and line breaks. 0, or -1 with err. */
int complaint_resolution_check(const char *resolution, char *err, size_t errlen);

/* Is s valid UTF-8 (NULL counts as valid, empty)? 1 or 0.  Facts from the
   bus are checked with it before they reach a text column. */
int complaint_text_is_utf8(const char *s);

/* Accept the case: received -> accepted, recording the handler and time.
   0, or -1 with err naming the current status (nothing changed). */
int complaint_case_accept(complaint_case_t *c, const char *handler, int64_t now_ms, char *err,
                          size_t errlen);
/* Close the case: accepted -> resolved.  0, or -1 with err naming the
   current status (nothing changed). */
int complaint_case_close(complaint_case_t *c, const char *handler, int64_t now_ms, char *err,
                         size_t errlen);
/* Was the case accepted after its deadline (or is it still unaccepted past
   it at now_ms)? 1 or 0. */
int complaint_case_accept_overdue(const complaint_case_t *c, int64_t now_ms);

#endif
