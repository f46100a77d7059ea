/*
 * imap_poll — the second way in: a mailbox on a hosted mail service, polled
 * over IMAP (RFC 9051 / 3501 subset: LOGIN, SELECT, UID SEARCH, UID FETCH
 * BODY.PEEK[], UID STORE, UID EXPUNGE / EXPUNGE, LOGOUT), on plain TCP, with
 * STARTTLS, or over implicit TLS (imaps://), the server's certificate
 * verified (OpenSSL).
 *
 * Every message goes through mail_gateway_take, the same parser and decision
 * as SMTP. Order per message: fetch (PEEK: nothing changes on the server),
 * commit the message with its mailbox and UID (unique), then flag it \Seen
 * and \Deleted (CS_INTAKE_IMAP_AFTER=delete, the default; expunged at the end
 * of the round) or only \Seen (=seen). A crash between the commit and the
 * flag leaves the message on the server; the next round finds its UID
 * committed and only flags it. Nothing is lost (a message is flagged only
 * after its commit) or doubled (the UID is recorded in the commit).
 *
 * UIDVALIDITY is kept per mailbox (imap_mailboxes): when the server changes
 * it (the mailbox was recreated) every UID is new again; the messages still
 * there are taken again and those already taken come out as duplicates
 * (same sender, same Message-ID). In seen mode the round searches only UIDs
 * above the highest committed one (imap_mailboxes.last_uid).
 *
 * One thread, its own database connection; a round every CS_INTAKE_IMAP_POLL_S
 * seconds; a failure (server down, database down) is logged and the next
 * round tries again.
 */
#ifndef INTAKE_IMAP_POLL_H
#define INTAKE_IMAP_POLL_H
#include "cs_service.h"
#include "mail_gateway.h"

typedef struct imap_poll imap_poll_t;

/* Reads CS_INTAKE_IMAP_*; when CS_INTAKE_IMAP_URL is unset, *out = NULL and
   0. Otherwise starts the polling thread. -1 on a configuration error (the
   service does not start), with a log line naming the variable. */
int imap_poll_start(cs_service_t *svc, mail_gateway_t *gateway, imap_poll_t **out);
/* Ends the round in hand after its current message, joins, frees. Accepts NULL. */
void imap_poll_stop(imap_poll_t **self_p);

#endif
