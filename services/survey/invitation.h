/*
 * invitation.h - who gets a survey_invitation when a ticket closes (or a
 * complaint's feedback went out), by which channel, and why not.
 *
 * Why: the service manual asks every customer for a rating after service
 * (7.1), but an invitation that cannot reach a person only bounces, loops
 * with an auto-responder or annoys a robot: a customer without an e-mail
 * address, or with an address that is a machine's (no-reply, mailer-daemon,
 * postmaster), is skipped, and the skip is recorded with its reason so that
 * "why did this customer get no survey?" has an answer.  Each ticket gets at
 * most one decision (the database keeps that promise by ticket id).
 *
 * The whole list of "never" reasons, in the order they are judged:
 *   at the close (survey_ticket_decide, survey_contact_decide):
 *     terminated / merged / spam    the ticket did not end in a service
 *     no_reply_address, mailer_daemon, postmaster
 *                                   the requester is a machine: no channel at all
 *     invalid_email / no_contact    no address and no phone to reach a person
 *   when it is due (sender.c, against the database):
 *     opted_out                     the contact used an opt-out link
 *     surveyed_recently             the contact had an invitation within the quiet
 *                                   period (CS_SURVEY_QUIET_DAYS, default 30)
 * A contact with a usable e-mail address is asked by e-mail; one without (none,
 * or not a mailbox) but with a phone number is asked by SMS.
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
    SURVEY_SKIP_NO_CONTACT,    /* neither an e-mail address nor a phone number */
    SURVEY_SKIP_TERMINATED,    /* the ticket was terminated, not served */
    SURVEY_SKIP_MERGED,        /* the ticket was merged into another one */
    SURVEY_SKIP_SPAM,          /* the ticket was marked spam */
    SURVEY_SKIP_OPTED_OUT,     /* the contact asked for no more surveys */
    SURVEY_SKIP_RECENTLY,      /* the contact was surveyed within the quiet period */
    SURVEY_DECISION_COUNT
} survey_decision_t;

#define SURVEY_PHONE_DIGITS_MAX 15 /* E.164 */
#define SURVEY_CONTACT_KEY_MAX (SURVEY_EMAIL_MAX + 8)

typedef enum { SURVEY_CHANNEL_NONE = 0, SURVEY_CHANNEL_EMAIL, SURVEY_CHANNEL_SMS } survey_channel_t;

/* Decide for one customer address (may be NULL). */
survey_decision_t survey_invitation_decide(const char *email);

/* Decide for a contact with an address and a phone (either may be NULL):
   SURVEY_INVITE with *channel EMAIL or SMS, or the skip (*channel NONE).
   A robot address is a skip even with a phone (a machine opened the
   ticket); a missing or unusable address falls back to the phone. */
survey_decision_t survey_contact_decide(const char *email, const char *phone,
                                        survey_channel_t *channel);

/* Did the ticket end in a service?  status is the ticket's status in the
   event's facts, reason the close/terminate reason (either may be NULL).
   terminated: status "terminated"; merged: status "merged" or a reason that
   begins with "merged" / "duplicate" / "合并" / "重复"; spam: status "spam" or
   a reason that begins with "spam" / "垃圾".  SURVEY_INVITE otherwise. */
survey_decision_t survey_ticket_decide(const char *status, const char *reason);

/* The digits of a phone number ("+86 138-0013-8000" -> "8613800138000"):
   7..15 digits, only digits, spaces, '-', '.', '(', ')' and a leading '+'.
   0, or -1 when it is no usable number. */
int survey_phone_digits(const char *phone, char *out, size_t size);

/* The key that names a contact across tickets, for opt-outs and the quiet
   period: "email:<address in lower case>" or "phone:<digits>".  0 or -1. */
int survey_contact_key(survey_channel_t channel, const char *email, const char *phone, char *out,
                       size_t size);

const char *survey_channel_name(survey_channel_t channel); /* "", "email", "sms" */

/* The stable reason code stored and reported for a decision: "invite",
   "no_email", "invalid_email", "no_reply_address", "mailer_daemon",
   "postmaster", "no_contact", "terminated", "merged", "spam", "opted_out",
   "surveyed_recently". */
const char *survey_decision_reason(survey_decision_t decision);

/* Expiry of a link sent at sent_at_ms that is good for `days` days, in
   seconds since the epoch (what survey_link_sign takes). */
int64_t survey_invitation_expiry_s(int64_t sent_at_ms, int days);

#endif
