/*
 * invitation.h - who gets a survey_invitation when a ticket closes, and
 * why not.
 *
 * Why: the service manual asks every customer for a rating after service
 * (7.1), but an invitation that cannot reach a person only bounces, loops
 * with an auto-responder or annoys a robot: a customer without an e-mail
 * address, or with an address that is a machine's (no-reply, mailer-daemon,
 * postmaster), is skipped, and the skip is recorded with its reason so that
 * "why did this customer get no survey?" has an answer.  Each ticket gets at
 * most one decision (the database keeps that promise by ticket id).
 * Pure C: no database, no clock.
 */
#ifndef SURVEY_INVITATION_H_INCLUDED
#define SURVEY_INVITATION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SURVEY_EMAIL_MAX 254 /* RFC 5321 path limit, characters */

typedef enum {
    SURVEY_INVITE = 0,         /* send an invitation */
    SURVEY_SKIP_NO_EMAIL,      /* the customer gave no e-mail address */
    SURVEY_SKIP_INVALID_EMAIL, /* the address is not a usable mailbox */
    SURVEY_SKIP_NO_REPLY,      /* no-reply / do-not-reply address */
    SURVEY_SKIP_MAILER_DAEMON, /* mailer-daemon: a bounce robot */
    SURVEY_SKIP_POSTMASTER,    /* postmaster: the mail administrator's role box */
    SURVEY_DECISION_COUNT
} survey_decision_t;

/* Decide for one customer address (may be NULL). */
survey_decision_t survey_invitation_decide(const char *email);

/* The stable reason code stored and reported for a decision: "invite",
   "no_email", "invalid_email", "no_reply_address", "mailer_daemon",
   "postmaster". */
const char *survey_decision_reason(survey_decision_t decision);

/* Expiry of a link sent at sent_at_ms that is good for `days` days, in
   seconds since the epoch (what survey_link_sign takes). */
int64_t survey_invitation_expiry_s(int64_t sent_at_ms, int days);

#endif
