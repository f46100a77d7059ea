/*
 * outbound — what notify owes a customer when something happens to their ticket.
 *
 * An event from dispatch or survey becomes at most one outbound notification:
 *
 *   dispatch.ticket.accepted   → "acceptance"         受理确认函: number, subject, expected
 *                                                     start, the commitments
 *   dispatch.ticket.responded  → "update"             the agent's message to the customer
 *   dispatch.ticket.resolved   → "resolution"         the service report
 *   dispatch.ticket.noted      → "note"               an agent's note, when to_customer
 *   survey.requested           → "survey_invitation"  the signed survey link
 *   complaint.feedback_sent    → "complaint_feedback" the complaint handler's feedback letter
 *   complaint.escalated        → "complaint_escalation" an alert to the quality manager
 *                                                     (CS_NOTIFY_QUALITY_MANAGER)
 *   survey.reminded            → "survey_reminder"    the same link, once, 3 days later
 *
 * The rules that decide whether it may go out live here too, apart from the database,
 * so that they can be read and tested as the business states them:
 *
 *   - never mail an address that cannot answer (no-reply, noreply, do-not-reply,
 *     mailer-daemon, postmaster) or that is not a plain addr-spec: the row is kept with
 *     status "suppressed" and a reason, so an operator can see why nothing went out;
 *   - at most CS_NOTIFY_DAILY_CAP (default 40) automatic mails per recipient in any 24
 *     hours: the rest are kept with status "capped".  A mail that carries a person's
 *     own words (the agent's update) is not automatic and is never capped.
 *
 * outbound_on_event() is the bus handler: it runs inside the consumer's transaction and
 * only records the row (queued, suppressed or capped), keyed by (source event id,
 * recipient) so that a replayed event changes nothing.  Sending happens after commit,
 * in delivery.c.
 */
#ifndef PETROCS_NOTIFY_OUTBOUND_H
#define PETROCS_NOTIFY_OUTBOUND_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "envelope.pb-c.h"
#include "cs_db.h"

#define OUTBOUND_ADDR_MAX 254  /* RFC 5321 path limit, minus the brackets */
#define OUTBOUND_NAME_MAX 256  /* bytes of a display name we keep */
#define OUTBOUND_NUMBER_MAX 64 /* bytes of a ticket number */
#define OUTBOUND_MSGID_MAX 998 /* bytes of a Message-ID we thread to */
#define OUTBOUND_DEFAULT_DAILY_CAP 40
#define OUTBOUND_DEFAULT_QUALITY_MANAGER "quality.manager@petrocs.example"

typedef struct {
    const char *kind;     /* "acceptance", "update", "resolution", "note", "survey_invitation",
                             "survey_reminder", "complaint_feedback", "complaint_escalation" */
    bool automatic;       /* Auto-Submitted, counted against the daily cap */
    const char *channel;  /* "email" (s_new's default), "sms" or "voice" (static) */
    const char *language; /* "zh-CN" or "en" (static) */
    char recipient[OUTBOUND_ADDR_MAX + 1];
    char recipient_name[OUTBOUND_NAME_MAX + 1];
    char ticket_number[OUTBOUND_NUMBER_MAX + 1];
    char in_reply_to[OUTBOUND_MSGID_MAX + 1]; /* the customer's Message-ID, or "" */
    json_t *vars;                             /* template variables, every one non-blank */
} outbound_t;

/* Results of outbound_from_event(). */
#define OUTBOUND_MAIL 0     /* *out is a notification to record */
#define OUTBOUND_NONE 1     /* nothing to send for this event; why says what */
#define OUTBOUND_ERROR (-1) /* out of memory */

/* Build the notification an event asks for.  request_subject is the subject of the
 * customer's request when the event does not carry it (survey.requested), or NULL.
 * On OUTBOUND_MAIL *out is new (outbound_destroy); on OUTBOUND_NONE *why is a static
 * reason such as "no_email", "no_message", "no_ticket_number", "not_a_notification". */
int outbound_from_event(const Cs__Envelope *env, const char *request_subject, outbound_t **out,
                        const char **why);
void outbound_destroy(outbound_t **self_p);

/* Why addr must not be mailed, or NULL when it may: "invalid_address", "no_reply_address",
 * "mailer_daemon_address", "postmaster_address". */
const char *outbound_address_problem(const char *addr);

/* Does one more automatic mail to a recipient who had mails_last_day in the last 24 hours
 * go over cap? */
bool outbound_over_daily_cap(const outbound_t *self, int64_t mails_last_day, int64_t cap);

/* The language a customer is written to: "en…" → "en", anything else (Chinese, empty,
 * unknown) → "zh-CN", the company's own language. */
const char *outbound_language(const char *lang);

/* "120" minutes → "2", 90 → "1.5", 20 → "0.33": hours as the letter states them. */
void outbound_hours(uint32_t minutes, char *buf, size_t size);

/* ms since the epoch → "2026-03-02 08:15 (UTC+8)", China Standard Time. */
void outbound_local_time(int64_t ms, char *buf, size_t size);

/* ---- the bus handler ---------------------------------------------------------------- */

typedef struct {
    int64_t daily_cap;  /* CS_NOTIFY_DAILY_CAP, default 40 */
    const char *domain; /* CS_NOTIFY_DOMAIN, default petrocs.example: right of Message-IDs */
} outbound_config_t;

/* Read the configuration; 0, or -1 with the bad variable named in the log. */
int outbound_config_load(outbound_config_t *cfg);

/* cs_event_fn for dispatch.ticket.accepted/responded/resolved, survey.requested and
 * survey.reminded;
 * ctx is an outbound_config_t. */
int outbound_on_event(cs_db_t *db, const Cs__Envelope *env, void *ctx);

/* Append notification.sent / notification.failed to the outbox in the caller's
 * transaction.  0 or -1. */
int outbound_emit(cs_db_t *db, const char *type, Cs__NotificationEvent *ev);

/* Record o as a notification of env with status (queued, suppressed, capped) and
 * reason, keyed by (event, channel, recipient): 0 recorded, 1 recorded before (a
 * replay), -1 database error.  A held-back row is announced as notification.failed. */
int outbound_record(cs_db_t *db, const outbound_config_t *cfg, const Cs__Envelope *env,
                    const outbound_t *o, const char *status, const char *reason);

/* A new, empty notification of kind (static string) by e-mail; NULL out of memory. */
outbound_t *outbound_new(const char *kind, bool automatic, const char *lang);

/* The template variables every kind has a value for, for letter_templates_check():
 * NULL-terminated, or NULL for a kind no event produces. */
const char *const *outbound_kind_vars(const char *kind);

/* Count one message in cs_notify_messages_total{kind,status}. */
void outbound_count(const char *kind, const char *status);

#endif
