/*
 * mail_gateway — what intake does with a message one of its ways in
 * received (the SMTP/LMTP listener, the IMAP poller): parse it, decide (new
 * ticket, reply on a ticket, follow-up of a ticket closed too long ago,
 * duplicate, or a rejection with its reason), commit, and only then answer
 * naming the outcome. Each way in calls mail_gateway_take on a database
 * connection of its own.
 *
 * The decision, in order: unparseable → parse_error; a delivery-status
 * report → bounce (matched to the letter notify sent, by the returned
 * Message-ID); an auto-reply, bulk or list mail → auto_reply / bulk; no
 * usable From → no_sender; from one of our own addresses, or one of our own
 * letters coming back → loop; the same sender's Message-ID again →
 * duplicate; over the sender's rate limit → quarantine (kept, releasable);
 * an answer to a ticket (In-Reply-To / References against notify's letters
 * and the mails intake took, else the number in the subject) → reply, which
 * reopens a ticket closed less than CS_INTAKE_REOPEN_DAYS ago; an answer to
 * one closed longer ago (or terminated) → a new ticket following it up;
 * anything else → a new ticket. Every outcome is a row of mail_messages.
 */
#ifndef INTAKE_MAIL_GATEWAY_H
#define INTAKE_MAIL_GATEWAY_H
#include <stdint.h>
#include "cs_service.h"
#include "smtp_server.h"

typedef struct mail_gateway mail_gateway_t;

/* How a message came in. */
typedef struct {
    const char *source;        /* "smtp", "lmtp" or "imap" */
    const char *envelope_from; /* reverse-path ("" for the null sender) */
    int tls;                   /* 1 if it came over TLS */
    const char *imap_mailbox;  /* for imap: the mailbox key and the message's UID */
    int64_t imap_uid;
} mail_origin_t;

/* Runs inside the transaction that records the message, just before the
   commit (the IMAP poller advances its UID there). 0 or -1 (rolls back). */
typedef int(mail_in_tx_fn)(cs_db_t *db, void *ctx);

/* Start the listener (CS_INTAKE_SMTP_PORT, default 2525), the IMAP poller
   when CS_INTAKE_IMAP_URL is set, the bus handlers that keep ticket states
   and notify's letters, and the quarantine routes. NULL on error. */
mail_gateway_t *mail_gateway_start(cs_service_t *svc);
void mail_gateway_stop(mail_gateway_t **self_p);
/* The listener's counters (for /metrics: intake's gauges.c). */
void mail_gateway_stats(mail_gateway_t *self, smtp_server_stats_t *out);

/* Parse, decide, record and commit one message on db (a connection of the
   caller's thread). in_tx may be NULL. Fills reply with the line an SMTP
   server would answer ("250 2.0.0 CS-2026-000123 created"). 0 when
   committed, -1 when not (nothing is stored: the sender must try again). */
int mail_gateway_take(mail_gateway_t *self, cs_db_t *db, const mail_origin_t *origin,
                      const char *data, size_t len, mail_in_tx_fn *in_tx, void *in_tx_ctx,
                      char *reply, size_t replylen);

#endif
