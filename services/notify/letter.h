/*
 * letter — the words notify sends to customers, and the envelope they travel in.
 *
 * Two halves, used in this order by the notify service:
 *
 *   1. Templates.  One file per message kind and language under templates/, named
 *      <kind>.<lang>.tmpl (acceptance.zh-CN.tmpl, acceptance.en.tmpl, ...).  A file is
 *      a small header block, a blank line and the text body:
 *
 *          Subject: [{{ticket_no}}] 受理确认函 / Acceptance of your request
 *          Requires: ticket_no, customer_name, request_subject
 *
 *          尊敬的 {{customer_name}}：...
 *
 *      Every {{variable}} a template uses must be declared on its Requires line, every
 *      kind must exist in every required language (zh-CN and en), and all languages of a
 *      kind must require the same variables, so that a caller who fills the variables
 *      once for a kind can render it in any language.  All of this is checked at load
 *      time, so a broken template stops the service at start-up, not in front of a
 *      customer.  Rendering refuses to leave a blank: a declared variable that is
 *      missing or empty is an error naming it.  Values are pasted as plain text; a value
 *      that itself contains "{{x}}" is never expanded.
 *
 *   2. Composition.  letter_compose_rfc5322() turns a rendered letter into an RFC 5322
 *      message ready for a maildir or an SMTP relay: CRLF line ends, RFC 2047
 *      encoded-words for non-ASCII headers, folded header lines, a base64 UTF-8 text
 *      body (multipart/alternative when an HTML body is given), and the petrocs
 *      headers that let replies be threaded back to their ticket.
 */
#ifndef PETROCS_NOTIFY_LETTER_H
#define PETROCS_NOTIFY_LETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Limits on hostile or mistaken input; exceeding one is an error, never truncation. */
#define LETTER_TEMPLATE_FILE_MAX (64 * 1024) /* bytes in one template file */
#define LETTER_TEMPLATES_MAX 256             /* template files in one directory */
#define LETTER_VAR_NAME_MAX 64               /* [a-z0-9_] characters */
#define LETTER_VARS_MAX 64                   /* variables in one letter_vars_t */
#define LETTER_VALUE_MAX (16 * 1024)         /* bytes in one variable's value */
#define LETTER_RENDER_MAX (1024 * 1024)      /* bytes in a rendered subject or body */
#define LETTER_SUBJECT_MAX 998               /* bytes in a subject given to compose */
#define LETTER_BODY_MAX (4 * 1024 * 1024)    /* bytes in a text or HTML body */

/* ---- variables: the facts one letter is filled with ---------------------------- */

typedef struct _letter_vars_t letter_vars_t;

letter_vars_t *letter_vars_new(void);
void letter_vars_destroy(letter_vars_t **self_p);

/* Set (or replace) a variable; the name and value are copied.  Fails on a name that is
 * not [a-z0-9_]{1,64}, a value larger than LETTER_VALUE_MAX, or too many variables. */
int letter_vars_set(letter_vars_t *self, const char *name, const char *value);

/* The value of a variable, or NULL when it is not set. */
const char *letter_vars_get(const letter_vars_t *self, const char *name);

/* ---- templates ---------------------------------------------------------------- */

typedef struct _letter_templates_t letter_templates_t;

/* Load and check every *.tmpl file under dir.  Returns NULL with an error naming the
 * file (and the variable or line) when any template is malformed, uses an undeclared
 * variable, declares one it never uses, or when a kind lacks a required language. */
letter_templates_t *letter_templates_load(const char *dir, char *err, size_t errlen);
void letter_templates_destroy(letter_templates_t **self_p);

/* The variables the service fills for a kind (NULL-terminated), or NULL when no event
 * produces that kind. */
typedef const char *const *(letter_kind_vars_fn)(const char *kind);

/* Check every loaded template against what the service fills: a kind no event produces,
 * or a Requires variable the service never sets, is an error naming the file and the
 * variable — found at start-up, not as a failed letter.  0 or -1. */
int letter_templates_check(const letter_templates_t *self, letter_kind_vars_fn *vars_for, char *err,
                           size_t errlen);

/* The language a render of (kind, lang) will use: lang itself, a language with the same
 * primary tag ("zh" -> "zh-CN"), else "en".  NULL when the kind is unknown. */
const char *letter_templates_language(const letter_templates_t *self, const char *kind,
                                      const char *lang);

/* Render a letter.  On success *subject_out and *body_out are new strings the caller
 * frees.  Fails, naming every missing variable, when a declared variable is unset or
 * blank; fails on an unknown kind or a value that is not valid UTF-8.  Control characters
 * in values pasted into the subject become spaces (a subject is one line). */
int letter_render(const letter_templates_t *self, const char *kind, const char *lang,
                  const letter_vars_t *vars, char **subject_out, char **body_out, char *err,
                  size_t errlen);

/* ---- composition -------------------------------------------------------------- */

/* The HTML alternative of a rendered text body: the same words, HTML-escaped, one <p>
 * per paragraph (blank-line separated) and <br> per line break, http(s) links made
 * clickable, in a minimal UTF-8 document whose lang is lang.  New string, or NULL. */
char *letter_html_from_text(const char *text, const char *lang);

typedef struct {
    const char *addr;         /* "li.wei@example.cn": ASCII addr-spec, required */
    const char *display_name; /* "李伟" or "Li, Wei" or NULL; UTF-8 */
} letter_address_t;

typedef struct {
    letter_address_t from;
    letter_address_t to;
    const char *subject;     /* UTF-8, one line, required */
    const char *text_body;   /* UTF-8, required; LF or CRLF line ends */
    const char *html_body;   /* UTF-8 or NULL; adds a multipart/alternative */
    const char *message_id;  /* "<left@domain>", required: see letter_message_id_new */
    const char *in_reply_to; /* "<id>" or NULL */
    const char *references;  /* "<id1> <id2> ..." or NULL */
    const char *ticket_no;   /* "CS-2026-000123" or NULL -> X-Petrocs-Ticket */
    bool auto_submitted;     /* true -> Auto-Submitted: auto-generated */
    time_t date;             /* seconds since the epoch; 0 means now */
} letter_msg_t;

/* A new Message-ID "<ticket-or-kind.random@domain>", angle brackets included, caller
 * frees.  ticket_or_kind is reduced to the characters a msg-id allows.  NULL (with an
 * error) on a domain that is not a plain DNS name or when no randomness is available. */
char *letter_message_id_new(const char *ticket_or_kind, const char *domain, char *err,
                            size_t errlen);

/* The RFC 5322 message for m, NUL-terminated, with its length (excluding the NUL) in
 * *len_out; the caller frees.  NULL with an error naming the field when an address,
 * id or text is malformed (an address with spaces or CR/LF, a subject with a line
 * break, a body that is not UTF-8, ...). */
char *letter_compose_rfc5322(const letter_msg_t *m, size_t *len_out, char *err, size_t errlen);

#endif
