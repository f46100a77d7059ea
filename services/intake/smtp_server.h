/*  smtp_server - intake's SMTP/LMTP listener (the email front door).

    Why this exists: customers and partner systems mail the service desk; a mail
    transfer agent (or a mail client directly) hands the message to intake over
    SMTP (RFC 5321) or, from a local MTA, LMTP (RFC 2033). This class speaks the
    protocol and nothing else: it owns the sockets, the state machine and the
    limits, and hands every complete message to a deliver callback that the
    intake service supplies (parse MIME, commit a ticket). The 250 that tells
    the sending MTA "this mail is ours now" is written only after that callback
    returned, i.e. after the commit, so a crash before the commit makes the MTA
    retry instead of losing the mail.

    Shape: one thread, plain POSIX sockets, one poll() loop serving every
    connection. The callbacks run on that thread, one at a time: while a
    delivery commits, other connections wait (their bytes queue in the kernel).
    No ZeroMQ in here; the service wires the callback to the bus/database.

    Extensions advertised: PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME
    (RFC 6152), ENHANCEDSTATUSCODES (RFC 2034/3463), and STARTTLS (RFC 3207)
    when a certificate and key are configured (OpenSSL, TLS 1.2 or later).
    After STARTTLS the session starts afresh: the client must say EHLO/LHLO
    again, and nothing it said before counts. A STARTTLS with more input
    behind it in the same read (commands pipelined before the handshake, the
    STARTTLS command-injection trap, CVE-2011-0411) is refused with
    "554 5.5.0" and the connection closed: plaintext must never be taken as
    if it had come over TLS.

    Limits (every input is hostile; memory per connection is bounded):
    - A command line may be max_line_bytes long including its CRLF (RFC 5321
      §4.5.3.1.4: 512). A longer one is discarded up to its LF and answered
      "500 5.5.2 line too long".
    - Text lines inside DATA have no per-line limit of their own (real mailers
      exceed RFC's 1000 octets); only max_message_bytes bounds the message. A
      message over the limit is read to its end, discarded, and answered
      "552 5.3.4". Bare LF is accepted as a line end and stored as CRLF.
    - At most max_connections at once; more get "421 4.7.0" and are closed.
    - At most max_connections_per_ip at once from one client address, so one
      client cannot take every slot; more get "421 4.7.0 too many connections
      from your address" and are closed.
    - max_errors protocol errors in one session end it with "421 4.7.0".
    - A session that has not said EHLO/HELO/LHLO within greeting_timeout_ms
      of connecting gets "421 4.4.2" and is closed, whatever else it sends
      meanwhile (NOOP chatter does not extend it).
    - A session silent for idle_timeout_ms gets "421 4.4.2" and is closed
      (RFC 5321 §4.5.3.2: five minutes for commands).
    - Addresses: one '@' outside a quoted local part, non-empty local part
      and domain ("501 5.1.7" for MAIL, "501 5.1.3" for RCPT); a SIZE too
      large to count is answered like any size over the limit ("552 5.3.4").
*/
#ifndef PETROCS_INTAKE_SMTP_SERVER_H
#define PETROCS_INTAKE_SMTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Room for one reply line without CRLF (RFC 5321 §4.5.3.1.5: 512 with CRLF). */
#define SMTP_REPLY_MAX 512

/* What the client told us about one message. Valid only during the callback. */
typedef struct {
    const char *helo;      /* the EHLO/HELO/LHLO argument */
    const char *client_ip; /* numeric address of the peer */
    const char *mail_from; /* reverse-path without <>, "" for the null sender */
    const char **rcpt;     /* recipients without <> (source route removed) */
    size_t rcpt_count;
    int lmtp; /* 1 if the session said LHLO */
    int tls;  /* 1 if the message came over TLS (after STARTTLS) */
} smtp_envelope_t;

/* Called once per message after the final ".". data/len = the message with
   dot-unstuffing done and CRLF line ends kept (data is NUL-terminated after
   len bytes for convenience, but may contain NULs itself).
   Fill reply (e.g. "250 2.0.0 CS-2026-000123 created") with one full reply
   line without CRLF; reply is SMTP_REPLY_MAX bytes, replylen says so. An empty
   reply with return 0 means "250 2.0.0 OK". A reply that is not a well-formed
   2xx/4xx/5xx line is treated as an internal failure.
   LMTP: rcpt_replies is an array of rcpt_count buffers of replylen bytes, all
   "" on entry; fill rcpt_replies[i] to give recipient i its own reply, leave
   it "" to use the common reply. In SMTP mode rcpt_replies is NULL.
   Return 0, or -1 on an internal failure: the server then answers
   "451 4.3.0 ..." (temporary, the sender retries). */
typedef int(smtp_deliver_fn)(void *ctx, const smtp_envelope_t *env, const char *data, size_t len,
                             char *reply, size_t replylen, char **rcpt_replies);

/* Group commit: the messages whose final "." arrived in the same poll round,
   on any connections, handed over together so that the callback can commit
   them in one transaction (one disk flush instead of one each). Each item
   is filled like one deliver call: reply (SMTP_REPLY_MAX bytes, "" on
   entry), rcpt_replies for LMTP, and rc 0 or -1 (-1: 451 for that one). */
typedef struct {
    smtp_envelope_t env;
    const char *data;
    size_t len;
    char *reply;
    char **rcpt_replies;
    int rc;
} smtp_delivery_t;
typedef void(smtp_deliver_batch_fn)(void *ctx, smtp_delivery_t *items, size_t n);

/* Optional, called at RCPT time with the envelope so far (rcpt_count = the
   recipients accepted before this one). Return 0 to accept, -1 to refuse: the
   reply (SMTP_REPLY_MAX bytes) may be filled with a 4xx/5xx line, otherwise
   "550 5.1.1 mailbox unavailable" is sent. */
typedef int(smtp_rcpt_check_fn)(void *ctx, const smtp_envelope_t *env, const char *rcpt,
                                char *reply, size_t replylen);

typedef struct {
    const char *bind_addr;      /* "127.0.0.1" (default), "::", or a resolvable name */
    int port;                   /* 0 = ephemeral; smtp_server_port() tells the chosen one */
    const char *hostname;       /* for the greeting and EHLO; default: gethostname() */
    size_t max_message_bytes;   /* SIZE limit; 0 = default 25 MiB */
    size_t max_recipients;      /* 0 = default 100 */
    size_t max_line_bytes;      /* command line incl. CRLF; 0 = default 512 */
    int max_connections;        /* 0 = default 100 */
    int max_connections_per_ip; /* from one client address; 0 = default 20 */
    int max_errors;             /* protocol errors before 421; 0 = default 10 */
    int greeting_timeout_ms;    /* connect to EHLO/HELO/LHLO; 0 = default 30000 */
    int idle_timeout_ms;        /* 0 = default 300000 */
    const char *tls_cert_file;  /* PEM certificate chain: STARTTLS offered when set */
    const char *tls_key_file;   /* PEM private key (default: tls_cert_file) */
    smtp_deliver_fn *deliver;   /* required */
    smtp_deliver_batch_fn *deliver_batch; /* optional: group commit (takes over from deliver) */
    void *deliver_ctx;
    smtp_rcpt_check_fn *rcpt_check; /* optional */
    void *rcpt_check_ctx;
} smtp_server_config_t;

/* Counters for /metrics; monotonic except connections_open. */
typedef struct {
    uint64_t connections_total;      /* accepted and served */
    uint64_t connections_open;       /* being served now */
    uint64_t connections_refused;    /* over max_connections or max_connections_per_ip */
    uint64_t messages_accepted;      /* final 2xx after DATA (LMTP: per recipient) */
    uint64_t messages_rejected_temp; /* final 4xx after DATA (LMTP: per recipient) */
    uint64_t messages_rejected_perm; /* final 5xx after DATA (LMTP: per recipient) */
    uint64_t recipients_rejected;    /* RCPT refused (limit, rcpt_check) */
    uint64_t protocol_errors;        /* 500/501/502/503/555 replies, long lines */
    uint64_t timeouts;               /* sessions closed for idleness or no greeting */
    uint64_t tls_sessions;           /* STARTTLS handshakes completed */
    uint64_t tls_failures;           /* handshakes failed, STARTTLS refused for pipelining */
} smtp_server_stats_t;

typedef struct _smtp_server_t smtp_server_t;

/* Binds and listens. NULL on error with err filled. */
smtp_server_t *smtp_server_new(const smtp_server_config_t *cfg, char *err, size_t errlen);
/* Starts the serving thread. 0 or -1. */
int smtp_server_start(smtp_server_t *self);
/* The port actually bound. */
int smtp_server_port(smtp_server_t *self);
/* Stops the thread (a delivery in progress finishes first), says 421 to every
   open session, closes everything, frees. Accepts NULL; nulls the pointer. */
void smtp_server_destroy(smtp_server_t **self_p);
/* Copies the counters; safe from any thread. */
void smtp_server_stats(smtp_server_t *self, smtp_server_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
