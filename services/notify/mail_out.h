/*
 * mail_out — hand a composed RFC 5322 message to the world.
 *
 * Two transports, chosen by configuration:
 *
 *   - a maildir, the default on a machine with nothing configured: every letter lands
 *     as one file under <root>/new/, written by the maildir protocol (tmp/, fsync,
 *     link into new/), so a reader never sees half a message and a crash never loses
 *     an acknowledged one;
 *   - an SMTP relay through libcurl (smtp:// or smtps://, STARTTLS, AUTH, timeouts).
 *     The result tells the caller whether to give up (-1, the relay said 5xx) or to
 *     try again later (-2, 4xx or no answer), which is what notify's retry queue needs.
 *
 * Neither function keeps state between calls; both are safe to call from any thread
 * once mail_out_init() has run.
 */
#ifndef PETROCS_NOTIFY_MAIL_OUT_H
#define PETROCS_NOTIFY_MAIL_OUT_H

#include <stdbool.h>
#include <stddef.h>

#define MAIL_OUT_RCPT_MAX 100                   /* recipients in one SMTP transaction */
#define MAIL_OUT_MESSAGE_MAX (32 * 1024 * 1024) /* bytes in one message */

/* Results of mail_out_smtp(). */
#define MAIL_OUT_SENT 0
#define MAIL_OUT_PERMANENT (-1) /* 5xx, or a configuration the relay will never accept */
#define MAIL_OUT_TEMPORARY (-2) /* 4xx, connection failure, timeout: retry later */

typedef enum {
    MAIL_OUT_STARTTLS_NONE,     /* never upgrade (smtps:// is TLS from the start anyway) */
    MAIL_OUT_STARTTLS_OPTIONAL, /* upgrade when the relay offers it */
    MAIL_OUT_STARTTLS_REQUIRED, /* refuse to send in clear */
} mail_out_starttls_t;

typedef struct {
    const char *url;  /* "smtp://relay.example.com:587" or "smtps://...:465" */
    const char *helo; /* name announced in EHLO, or NULL for libcurl's default */
    mail_out_starttls_t starttls;
    const char *username; /* NULL: no AUTH */
    const char *password;
    const char *ca_file;     /* CA bundle for the relay's certificate, NULL: system store */
    bool tls_no_verify;      /* tests only: accept any certificate */
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* whole transaction; 0: 60 s */
} mail_out_smtp_config_t;

/* Global libcurl set-up; call once at start-up before any thread sends.  0 / -1. */
int mail_out_init(void);
void mail_out_shutdown(void);

/* Deliver msg into the maildir at maildir_root (tmp/, new/ and cur/ are created when
 * missing).  On success path_out holds the path of the file under new/. */
int mail_out_maildir(const char *maildir_root, const char *msg, size_t len, char *path_out,
                     size_t path_len, char *err, size_t errlen);

/* Send msg to every recipient through the relay in cfg.  from and rcpt are bare
 * addr-specs ("a@b.cn").  Returns MAIL_OUT_SENT, MAIL_OUT_PERMANENT or
 * MAIL_OUT_TEMPORARY; reply_out gets the relay's last reply ("250 2.0.0 Ok: queued",
 * "451 4.3.0 try later"), or "" when there was none, and err says what failed. */
int mail_out_smtp(const mail_out_smtp_config_t *cfg, const char *from, const char *const *rcpt,
                  size_t nrcpt, const char *msg, size_t len, char *reply_out, size_t reply_len,
                  char *err, size_t errlen);

#endif
