/*
 * delivery — take queued notifications out of the database and into the world.
 *
 * A worker thread with its own database connection delivers what outbound.c queued:
 * it renders the letter (letter.h templates in the customer's language), composes the
 * RFC 5322 message with the Message-ID chosen at queue time (text and, unless
 * CS_NOTIFY_HTML=0, an HTML alternative), and writes it to the maildir
 * (CS_NOTIFY_MAILDIR, default var/mail) or hands it to the relay at CS_NOTIFY_SMTP_URL
 * (mail_out.h).  An SMS or voice alert (channel sms / voice) goes to the HTTP gateway
 * instead (gateway.h), its text the rendered subject line.  Then, in one transaction
 * with the row still locked:
 *
 *     queued/deferred → sent       (notification.sent)
 *                     → deferred   4xx / no answer / disk trouble: next_attempt_at moves
 *                                  out by CS_NOTIFY_RETRY_BASE_S doubling per attempt, up
 *                                  to CS_NOTIFY_RETRY_MAX_S
 *                     → failed     5xx, a letter that cannot be rendered, or the
 *                                  CS_NOTIFY_MAX_ATTEMPTS-th temporary failure
 *                                  (notification.failed)
 *     sent                → bounced    later, when intake reports a non-delivery report
 *                                  naming the Message-ID (delivery_on_bounce)
 *
 * Why a thread and not the service tick: a relay that does not answer holds a send for
 * up to its time-out, and the main loop must keep consuming, relaying and sending
 * heartbeats meanwhile.  The worker sleeps on LISTEN notify_queued — outbound.c's
 * pg_notify() in the consumer's transaction wakes it exactly when the row commits — with
 * a one-second poll as the fallback (a NOTIFY is a wake-up, not a delivery).
 *
 * Guarantee: at least once to the outside.  The row is locked (FOR UPDATE SKIP LOCKED,
 * so two instances never send the same row at once) while the mail goes out, and its new
 * status commits after the relay or the maildir accepted the message.  A crash, a kill -9
 * or a lost database connection between the two leaves the row queued, and it is sent
 * again.  The other order — commit "sent" first, then send — would lose the mail instead,
 * and the relay does not take part in our transaction, so one of the two must be chosen;
 * a customer who gets a duplicate acceptance letter is better served than one who gets
 * none.  The duplicate carries the same Message-ID (chosen at queue time), so mail
 * clients and archives can recognise it.  The window is the length of one send.
 */
#ifndef PETROCS_NOTIFY_DELIVERY_H
#define PETROCS_NOTIFY_DELIVERY_H

#include <stdint.h>
#include "cs_service.h"
#include "gateway.h"
#include "letter.h"
#include "mail_out.h"

typedef struct {
    const char *maildir;  /* CS_NOTIFY_MAILDIR, used when smtp_url is NULL */
    const char *smtp_url; /* CS_NOTIFY_SMTP_URL or NULL */
    char from_name[256];  /* parsed from CS_NOTIFY_FROM */
    char from_addr[255];
    int64_t max_attempts;        /* CS_NOTIFY_MAX_ATTEMPTS, default 8 */
    int64_t retry_base_s;        /* CS_NOTIFY_RETRY_BASE_S, default 60 */
    int64_t retry_max_s;         /* CS_NOTIFY_RETRY_MAX_S, default 21600 (6 h) */
    mail_out_smtp_config_t smtp; /* CS_NOTIFY_SMTP_USER, _PASSWORD, _STARTTLS, _CA_FILE,
                                    _HELO, _CONNECT_TIMEOUT_MS, _TIMEOUT_MS */
    bool html;                   /* CS_NOTIFY_HTML (default 1): add an HTML alternative */
    gateway_config_t gateway;    /* SMS and voice (gateway.h) */
} delivery_config_t;

/* Read the configuration; 0, or -1 with the bad variable named in the log. */
int delivery_config_load(delivery_config_t *cfg);

/* Split "Petrocs 客户服务 <service@petrocs.example>" (or a bare address) into display
 * name and address.  -1 when there is no plain address or a part does not fit. */
int delivery_parse_mailbox(const char *text, char *name, size_t name_size, char *addr,
                           size_t addr_size);

/* Seconds to wait after the attempts-th failed attempt (1, 2, …): base doubling, capped. */
int64_t delivery_backoff_s(const delivery_config_t *cfg, int64_t attempts);

typedef struct delivery delivery_t;

/* cfg and templates must outlive the object. */
delivery_t *delivery_new(const delivery_config_t *cfg, const letter_templates_t *templates,
                         cs_service_t *svc);
void delivery_destroy(delivery_t **self_p);

/* Deliver the next due notification on db: 1 one was handled (whatever its outcome),
 * 0 nothing is due, -1 database error. */
int delivery_next(delivery_t *self, cs_db_t *db);

/* The bus handler for intake.mail.rejected: a bounce whose returned Message-ID is one of
 * ours marks that notification "bounced", with the report's status and text, and emits
 * notification.failed.  0 marked, 1 not ours / not a bounce, -1 database error. */
int delivery_on_bounce(cs_db_t *db, const Cs__Envelope *env);

/* Start / stop the worker thread (its own connection).  0 or -1. */
int delivery_start(delivery_t *self);
void delivery_stop(delivery_t *self);

#endif
