/*
 * case.h - the complaint_case state machine and the business's vocabulary.
 *
 * Why: the service manual (5.4) runs every complaint through six steps —
 * accept (within 24 h), classify (content, scope of impact, urgency →
 * priority), investigate, handle (owner department + deadline), feed back
 * to the customer, archive.  Each step is a status and each handler's verb
 * an action; one table says which action moves which status where:
 *
 *     action       from                     to
 *     accept       received                 accepted
 *     classify     accepted                 classified
 *     investigate  classified               investigating
 *     assign       investigating            handling
 *     feedback     handling                 feedback       (the letter goes out)
 *     answer       feedback                 resolved       (customer accepts)
 *                                           handling       (not accepted: escalated)
 *     archive      feedback, resolved       archived
 *
 * Every other pair is refused, and the refusal names the move so that the
 * API can answer 409 with something a handler understands.  The priority of
 * a complaint is derived from its classification (complaint_priority()).
 * This module is pure C: no database, no bus, no clock of its own.
 */
#ifndef COMPLAINT_CASE_H_INCLUDED
#define COMPLAINT_CASE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef enum {
    COMPLAINT_RECEIVED = 0,  /* opened (ticket, survey or handler), not yet accepted */
    COMPLAINT_ACCEPTED,      /* step 1: a handler has accepted it */
    COMPLAINT_CLASSIFIED,    /* step 2: category, scope, urgency, priority */
    COMPLAINT_INVESTIGATING, /* step 3: findings and evidence being gathered */
    COMPLAINT_HANDLING,      /* step 4: owner department, owner, deadline, corrective action */
    COMPLAINT_FEEDBACK,      /* step 5: the feedback letter went out, awaiting the answer */
    COMPLAINT_ARCHIVED,      /* step 6: root cause and preventive action recorded */
    COMPLAINT_RESOLVED,      /* the customer accepted the outcome; to be archived */
    COMPLAINT_STATUS_COUNT
} complaint_status_t;

typedef enum {
    COMPLAINT_ACT_ACCEPT = 0,
    COMPLAINT_ACT_CLASSIFY,
    COMPLAINT_ACT_INVESTIGATE,
    COMPLAINT_ACT_ASSIGN,
    COMPLAINT_ACT_FEEDBACK,
    COMPLAINT_ACT_ANSWER,
    COMPLAINT_ACT_ARCHIVE,
    COMPLAINT_ACT_COUNT
} complaint_action_t;

#define COMPLAINT_HANDLER_MAX 64      /* bytes of a handler's login */
#define COMPLAINT_RESOLUTION_MAX 8000 /* bytes of a long text (findings, letter, …) */
#define COMPLAINT_SHORT_TEXT_MAX 200  /* bytes of a short text (department, owner, …) */

/* "received", "accepted", … ; NULL for a value out of range. */
const char *complaint_status_name(complaint_status_t status);
/* The status called name; 0, or -1 when the name is not one of ours. */
int complaint_status_parse(const char *name, complaint_status_t *out);
/* Is the case still open (not archived)? A resolved case is open until
   archived: its root cause is still owed. */
int complaint_status_is_open(complaint_status_t status);

/* "accept", "classify", … ; NULL out of range. */
const char *complaint_action_name(complaint_action_t action);

/* The status `action` moves a case in `from` to.  For the answer,
   customer_accepted picks resolved (1) or back to handling (0).  0 with *to
   set, or -1 with err naming the refused move (nothing to change). */
int complaint_next_status(complaint_status_t from, complaint_action_t action, int customer_accepted,
                          complaint_status_t *to, char *err, size_t errlen);

/* May evidence be attached to a case in this status (investigating or
   handling)? 1 or 0. */
int complaint_evidence_allowed(complaint_status_t status);

/* ---- classification ------------------------------------------------------- */

/* The closed vocabularies: 1 when value is one of them, else 0 (NULL too). */
int complaint_category_valid(const char *value);
int complaint_scope_valid(const char *value);
int complaint_urgency_valid(const char *value);
int complaint_root_cause_valid(const char *value);
/* Comma-separated lists for error messages. */
const char *complaint_category_list(void);
const char *complaint_scope_list(void);
const char *complaint_urgency_list(void);
const char *complaint_root_cause_list(void);

/* The priority a classification gives, "P1".."P4", or NULL when one of the
   three is not valid.  Scope × urgency gives the base (table in case.c);
   safety and environment complaints go one level higher (P1 stays P1). */
const char *complaint_priority(const char *category, const char *scope, const char *urgency);

/* ---- the acceptance deadline -------------------------------------------- */

/* One case, as much as the acceptance deadline needs of it. */
typedef struct {
    complaint_status_t status;
    int64_t received_at_ms;
    int64_t accept_due_ms;
    int64_t accepted_at_ms; /* 0 until accepted */
} complaint_case_t;

/* Open a case for a complaint received at received_at_ms, due to be
   accepted accept_hours later. */
void complaint_case_open(complaint_case_t *c, int64_t received_at_ms, int accept_hours);
/* Was the case accepted after its deadline (or is it still unaccepted past
   it at now_ms)? 1 or 0. */
int complaint_case_accept_overdue(const complaint_case_t *c, int64_t now_ms);

/* ---- input checks ----------------------------------------------------------- */

/* Check a handler's login: 1..64 bytes of letters, digits and . _ - @.
   0, or -1 with err saying what is wrong. */
int complaint_handler_check(const char *handler, char *err, size_t errlen);
/* Check a text field called `field`: valid UTF-8 without control
   characters other than tab and line breaks, at most max bytes; when
   required, something visible.  NULL counts as empty.  0, or -1 with err. */
int complaint_text_check(const char *field, const char *value, int required, size_t max, char *err,
                         size_t errlen);

/* Is s valid UTF-8 (NULL counts as valid, empty)? 1 or 0.  Facts from the
   bus are checked with it before they reach a text column. */
int complaint_text_is_utf8(const char *s);

/* A time from a query string or body: ms since the epoch ("1767225600000"),
   a date ("2026-01-01", midnight UTC) or an RFC 3339 time
   ("2026-01-01T08:00:00Z", "2026-01-01T08:00+08:00", fractions allowed).
   0 with *ms set, or -1. */
int complaint_parse_time(const char *s, int64_t *ms);

#endif
