/*
 * mail_parse — turn one raw RFC 5322 message into the facts intake needs to open or update a
 * ticket: thread ids (Message-ID / In-Reply-To / References), who wrote it, what it says (as
 * UTF-8 text, whatever charset the customer's client used), what is attached, and whether it
 * is a person writing or a machine (auto-reply, bulk/list mail, delivery failure report).
 *
 * Built on GMime 3. Every message is hostile input: the parser never aborts on bad bytes, it
 * replaces them; every output string is valid UTF-8 without NUL; work is bounded by the
 * input size and by the caps below.
 */
#ifndef PETROCS_INTAKE_MAIL_PARSE_H
#define PETROCS_INTAKE_MAIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Larger messages are refused: intake's SMTP listener enforces a smaller limit anyway. */
#define MAIL_PARSE_MAX_INPUT (64u * 1024u * 1024u)
/* The body text handed to the ticket is cut (on a character boundary) at this many bytes. */
#define MAIL_PARSE_MAX_TEXT (1024u * 1024u)
/* Attachments listed beyond this count are dropped (attachment_truncated is set). */
#define MAIL_PARSE_MAX_ATTACHMENTS 256u
/* MIME nesting deeper than this is not walked. */
#define MAIL_PARSE_MAX_DEPTH 32

typedef struct {
    char *filename;     /* UTF-8, decoded (RFC 2047 / RFC 2231), may be NULL */
    char *content_type; /* "application/pdf" (lower case) */
    size_t size;        /* decoded byte count */
    char sha256[65];    /* hex of decoded content */
    int inline_part;    /* 1 if Content-Disposition inline / has Content-ID */
} mail_attachment_t;

typedef enum {
    MAIL_KIND_NORMAL = 0,
    MAIL_KIND_AUTO_REPLY,
    MAIL_KIND_BULK,
    MAIL_KIND_BOUNCE
} mail_kind_t;

typedef struct {
    char *message_id;  /* without <>, NULL if none */
    char *in_reply_to; /* without <>, first id, or NULL */
    char **references; /* NULL-terminated array of ids without <> (may be empty) */
    char *subject;     /* decoded UTF-8, "" if none */
    char *from_addr;   /* lower-cased addr-spec, NULL if none/unparseable */
    char *from_name;   /* decoded UTF-8 display name or NULL */
    char *reply_to_addr;
    char *to_addr;   /* first To address */
    int64_t date_ms; /* Date header as ms since epoch UTC, 0 if missing/unparseable */
    char *text;      /* UTF-8 body text: text/plain preferred, else HTML converted to readable
                        text; "" if none */
    char *language;  /* "zh-CN" if the subject/text contains CJK Han characters, else "en" */
    mail_kind_t kind;
    char *kind_reason; /* e.g. "Auto-Submitted: auto-replied", "Precedence: bulk",
                          "X-Autoreply", "delivery-status report"; NULL for NORMAL */
    /* for MAIL_KIND_BOUNCE: what the report says */
    char *bounce_original_message_id; /* from the returned message/rfc822 or
                                         text/rfc822-headers part, if present */
    char *bounce_recipient;           /* Final-Recipient / Original-Recipient addr */
    char *bounce_status;              /* e.g. "5.1.1" */
    mail_attachment_t *attachments;
    size_t attachment_count;
    /* added fields */
    int text_truncated;       /* 1 if text was cut at MAIL_PARSE_MAX_TEXT */
    int attachment_truncated; /* 1 if attachments beyond MAIL_PARSE_MAX_ATTACHMENTS were dropped */
} mail_parsed_t;

/* Parse raw RFC 5322 bytes. Returns 0 and fills *out, or -1 with a message in err naming what
   is wrong (e.g. "no header section"). Never crashes on any input; bounded work. */
int mail_parse(const char *raw, size_t len, mail_parsed_t *out, char *err, size_t errlen);
/* Frees the fields, leaves *m zeroed. Accepts NULL. */
void mail_parsed_free(mail_parsed_t *m);
/* g_mime_init once; idempotent and thread-safe. mail_parse calls it too. */
void mail_parse_init(void);

/* Name of a kind for logs and the bus: "normal", "auto_reply", "bulk", "bounce". */
const char *mail_kind_name(mail_kind_t kind);

#endif
