/*
 * ticket — dispatch's ticket: its state machine and its persistence.
 *
 * Why one module: every change of a ticket is the same unit of work — check
 * the move is legal, write the row, write who/when/why into the history, and
 * emit the event carrying the ticket's complete facts — all in the caller's
 * transaction. Keeping the rules of the lifecycle next to the code that
 * writes it means no path can change a status without a history line and an
 * event.
 *
 * Lifecycle (only these moves are legal; everything else is refused):
 *
 *   new ──► accepted ──► assigned ──► in_progress ◄──► pending_customer
 *              │            ▲  │          │                  │
 *              └─► queued ──┘  │          ▼                  ▼
 *                     ▲────────┘       resolved ──► closed ──► reopened
 *                                         └──────────────────────┘
 *   reopened ──► in_progress | resolved;  any open status ──► terminated.
 *
 * A ticket_t's text fields point into memory the ticket owns (one arena per
 * ticket, freed by ticket_destroy), so a ticket is one unit to free.
 */
#ifndef DISPATCH_TICKET_H
#define DISPATCH_TICKET_H
#include <stdint.h>
#include <jansson.h>
#include "cs_db.h"
#include "intake.pb-c.h"
#include "classify.h"

/* ---- the state machine (pure) -------------------------------------------- */

typedef enum {
    TICKET_NEW = 0,
    TICKET_ACCEPTED,
    TICKET_QUEUED,
    TICKET_ASSIGNED,
    TICKET_IN_PROGRESS,
    TICKET_PENDING_CUSTOMER,
    TICKET_RESOLVED,
    TICKET_CLOSED,
    TICKET_REOPENED,
    TICKET_TERMINATED,
    TICKET_STATUS_COUNT
} ticket_status_t;

/* "in_progress" for TICKET_IN_PROGRESS; "?" for a value out of range. */
const char *ticket_status_name(ticket_status_t s);
/* 0 and *out set, or -1 when name is not a status. */
int ticket_status_parse(const char *name, ticket_status_t *out);
/* 1 if the lifecycle allows from → to, else 0. */
int ticket_can_move(ticket_status_t from, ticket_status_t to);
/* 1 if a ticket in s counts against its assignee's capacity. */
int ticket_status_is_workload(ticket_status_t s);
/* 1 if a ticket in s is not finished (everything but closed/terminated). */
int ticket_status_is_open(ticket_status_t s);

/* What an agent can do to a ticket. An action either moves the ticket to
   its target status (legal exactly where the lifecycle allows that move, and
   only from the statuses the action names, when it names some), or leaves
   the status as it is (transfer, note, reclassify: legal in the statuses the
   action names). */
typedef enum {
    TICKET_RESPOND = 0, /* tell the customer something: → in_progress */
    TICKET_HOLD,        /* wait for the customer: → pending_customer */
    TICKET_RESOLVE,     /* the service report: → resolved */
    TICKET_CLOSE,       /* → closed */
    TICKET_REOPEN,      /* → reopened */
    TICKET_TERMINATE,   /* contract end, scope change, customer request, breach */
    TICKET_ACCEPT,      /* an agent takes an unassigned ticket: → assigned */
    TICKET_ASSIGN,      /* a lead gives an unassigned ticket to an agent: → assigned */
    TICKET_TRANSFER,    /* another assignee, same owner, with a reason */
    TICKET_NOTE,        /* an internal note, or one sent to the customer */
    TICKET_RESUME,      /* the customer is no longer awaited: pending_customer → in_progress */
    TICKET_RECLASSIFY,  /* another priority, service type or emergency level */
    TICKET_ACTION_COUNT
} ticket_action_t;

const char *ticket_action_name(ticket_action_t a);
/* The action as it reads after "cannot be": "responded to", "put on hold",
   "resolved", "closed", "reopened", "terminated", "accepted", … */
const char *ticket_action_done(ticket_action_t a);
int ticket_action_parse(const char *name, ticket_action_t *out);
/* The status the action leads to from `from` (from itself for actions that
   keep the status), or -1 when it is not allowed there. */
int ticket_action_target(ticket_action_t a, ticket_status_t from);
/* 1 if the action leaves the status as it is (transfer, note, reclassify). */
int ticket_action_keeps_status(ticket_action_t a);
/* The event type the action emits ("dispatch.ticket.responded"). */
const char *ticket_action_event(ticket_action_t a);
/* The request field carrying the action's text ("message", "report",
   "reason", "text") and whether it is required. */
const char *ticket_action_text_field(ticket_action_t a, int *required);

/* ---- the ticket ------------------------------------------------------------ */

/* Bounds on what a ticket stores, in bytes of UTF-8. */
#define TICKET_NUMBER_MAX 40
#define TICKET_SUBJECT_MAX 1000
#define TICKET_DESCRIPTION_MAX 8000
#define TICKET_NAME_MAX 200
#define TICKET_MESSAGE_MAX 16000
#define TICKET_LOGIN_MAX 64

typedef struct ticket_arena ticket_arena_t;

typedef struct {
    const char *ticket_id;
    const char *number;
    const char *channel;
    int64_t received_at_ms;
    const char *customer_id;
    const char *customer_name;
    const char *customer_email;
    const char *customer_phone;
    const char *customer_company;
    const char *tier;
    const char *language;
    const char *subject;
    const char *description;
    const char *message_id;
    const char *requested_type;
    /* classification */
    const char *service_type;
    const char *urgency;
    const char *impact;
    const char *priority;
    int emergency_level;
    const char *rule_id;
    const char *emergency_rule_id; /* the rule that set the level, "requested", or "" */
    int rules_version;
    /* routing */
    const char *team;     /* "" when none */
    const char *assignee; /* "" when none */
    const char *owner;    /* first-contact owner; "" until first assigned */
    ticket_status_t status;
    int escalation_level;
    /* commitments (cs_commitment_for(priority) when accepted) */
    int first_response_minutes;
    int resolution_minutes;
    int64_t expected_start_ms;
    /* read from the database only */
    const char *at_risk;        /* "", "warning", "breached" (from sla events) */
    const char *at_risk_target; /* first_response, resolution, or "" */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    ticket_arena_t *arena;
} ticket_t;

/* A new ticket (status new) from intake's event, classified with rules.
   Text is copied, cut to the bounds above at a character boundary, with
   invalid UTF-8 and control characters replaced. NULL with err set when the
   event cannot become a ticket (no valid ticket id, no number). */
ticket_t *ticket_from_created(const Cs__TicketCreated *tc, const classify_rules_t *rules, char *err,
                              size_t errlen);
void ticket_destroy(ticket_t **self_p);

/* Copy s (bounded, cleaned) into the ticket's arena and point *field at it. */
void ticket_set(ticket_t *self, const char **field, const char *s);
/* A cleaned copy of at most max bytes of s that lives as long as the ticket
   ("" when memory is short). */
const char *ticket_keep(ticket_t *self, const char *s, size_t max);

/* Copy at most max bytes of src into dst (size > 0) as valid UTF-8 without
   control characters other than tab and newline, never splitting a
   character. Returns the length written. */
size_t ticket_clean_text(char *dst, size_t size, const char *src, size_t max);
/* 1 if s can be a ticket number: 1..TICKET_NUMBER_MAX of A-Z a-z 0-9 - _. */
int ticket_number_valid(const char *s);
/* 1 if s can be an agent login: 1..TICKET_LOGIN_MAX of a-z 0-9 . _ -. */
int ticket_login_valid(const char *s);

/* ---- persistence (inside the caller's transaction) ------------------------ */

/* Insert a new ticket. 1 inserted, 0 already known (same id or number), -1 error. */
int ticket_insert(cs_db_t *db, const ticket_t *self);
/* Load by "number" or "ticket_id", optionally locking the row (FOR UPDATE).
   1 found (*out set), 0 not found, -1 database error. */
int ticket_load(cs_db_t *db, const char *by, const char *key, int lock, ticket_t **out);
/* Write status, routing, escalation, classification, commitments and the
   time stamps the status implies (a finished or reopened ticket is no longer
   at risk). */
int ticket_save(cs_db_t *db, const ticket_t *self);
/* Append a history line: who (actor), what (action), from → to, why (reason). */
int ticket_history_add(cs_db_t *db, const ticket_t *self, const char *actor, const char *action,
                       ticket_status_t from, ticket_status_t to, const char *reason,
                       const char *message);

/* What an emitted TicketEvent says besides the ticket's facts. */
typedef struct {
    const char *actor;
    ticket_status_t from;
    ticket_status_t to;
    const char *reason;
    const char *message;
    unsigned escalation_level;
    const char *from_priority;     /* .reclassified */
    const char *from_service_type; /* .reclassified */
    int to_customer;               /* .noted */
    const char *escalated_to;      /* .escalated: the login told */
} ticket_event_t;

/* Emit type (a dispatch.ticket.* event) carrying the ticket's complete facts,
   its commitments (response and resolution minutes, expected start) and the
   classification rule that decided its type. */
int ticket_emit(cs_db_t *db, const ticket_t *self, const char *type, const ticket_event_t *ev);

/* One move: save the ticket in status `to`, add the history line, emit type.
   The caller has checked the move is legal (asserted here). */
int ticket_move(cs_db_t *db, ticket_t *self, ticket_status_t to, const char *type,
                const char *actor, const char *action, const char *reason, const char *message);

/* State the commitments that follow from the ticket's priority (response,
   resolution, expected start counted from its receipt). */
void ticket_set_commitments(ticket_t *self);

/* The ticket as the API shows it, and its history (oldest first). */
json_t *ticket_to_json(const ticket_t *self);
json_t *ticket_history_json(cs_db_t *db, const char *ticket_id);
/* Notes and service reports of a ticket, oldest first; NULL on a database error. */
json_t *ticket_notes_json(cs_db_t *db, const char *ticket_id);
json_t *ticket_reports_json(cs_db_t *db, const char *ticket_id);

/* A filter over tickets; "" / 0 means any. */
typedef struct {
    const char *status;
    const char *priority;
    const char *service_type;
    const char *team;
    const char *assignee; /* assignee = this login */
    const char *mine;     /* assignee or first-contact owner = this login */
    int open_only;        /* not closed, not terminated */
    int unassigned_only;  /* new, accepted, queued */
    int at_risk_only;     /* an SLA warning or breach seen */
    int min_emergency;    /* emergency level 1..3 at least */
    int queue_order;      /* most urgent and oldest first, instead of newest first */
} ticket_filter_t;

/* Tickets matching f, at most limit after skipping offset (ties broken by
   number, so pages never overlap); *total (if given) is how many match in
   all. NULL on a database error. */
json_t *ticket_query_json(cs_db_t *db, const ticket_filter_t *f, int64_t limit, int64_t offset,
                          int64_t *total);
/* Tickets newest first, filtered by status and assignee ("" = any). */
json_t *ticket_list_json(cs_db_t *db, const char *status, const char *assignee, int64_t limit,
                         int64_t offset);

#endif
