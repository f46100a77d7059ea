/*
 * survey_page.h - the survey answer page: HTML for every state of an answer
 * link, and the parser for the posted answer.
 *
 * Why: the customer opens the link on a phone, often in a mail app's
 * built-in browser, so the pages are plain HTML with a little inline CSS
 * and no JavaScript; they come in Simplified Chinese and English; every
 * value shown is HTML-escaped; the form carries no hidden fields (the link
 * itself says which invitation it is) and posts back to the same URL.
 * Pages carry <meta name="referrer" content="no-referrer"> so the token in
 * the URL does not leak to other sites.  HTTP headers (Content-Type,
 * Cache-Control: no-store, Content-Security-Policy) are the HTTP layer's job.
 */
#ifndef SURVEY_PAGE_H_INCLUDED
#define SURVEY_PAGE_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SURVEY_COMMENT_MAX_CHARS 2000 /* characters (code points), not bytes */
#define SURVEY_COMMENT_MAX_BYTES (SURVEY_COMMENT_MAX_CHARS * 4)
#define SURVEY_BODY_MAX_BYTES (32 * 1024) /* a posted form larger than this is refused */

typedef enum {
    SURVEY_LANG_ZH_CN = 0, /* the company's default */
    SURVEY_LANG_EN = 1,
} survey_lang_t;

/* "en", "en-GB", "EN_us" -> English; anything else, NULL included -> zh-CN. */
survey_lang_t survey_lang_from_tag(const char *tag);

typedef struct {
    int satisfaction;    /* 1..5; 0 = not given */
    int recommend;       /* 0..10 (would recommend us to a colleague); -1 = not given */
    int speed;           /* 1..5 response speed; 0 = not given */
    int professionalism; /* 1..5 professionalism; 0 = not given */
    char comment[SURVEY_COMMENT_MAX_BYTES + 1]; /* UTF-8, line breaks as "\n", may be "" */
    /* after a failed parse: the first field in error ("satisfaction",
     * "recommend", "comment", or "form" if the body as a whole was bad);
     * NULL after a successful parse */
    const char *bad_field;
} survey_answer_t;

/*
 * Parse an application/x-www-form-urlencoded body (percent-decoding, '+' as
 * space).  Fields: satisfaction (required, 1..5), recommend (optional,
 * 0..10), speed and professionalism (optional, 1..5), comment (optional,
 * valid UTF-8, at most 2000 characters, no
 * control characters other than tab and line breaks; CRLF becomes LF).
 * Unknown fields are ignored; a field given twice is an error.
 * Returns 0, or -1 with err naming the field ("satisfaction must be 1..5")
 * and out->bad_field set ("satisfaction", "recommend", "speed",
 * "professionalism", "comment" or "form"); fields that were valid are still filled in, so
 * the form can be shown again with what the customer entered.
 */
int survey_answer_parse(const char *body, size_t len, survey_answer_t *out, char *err,
                        size_t errlen);

/* Each page function returns a complete UTF-8 HTML document (caller frees),
 * or NULL if out of memory.  ticket_number may be NULL (then not shown). */

/* The answer form.  entered may be NULL; when it is the result of a failed
 * parse, its valid values are pre-selected and its bad_field gets a
 * message in the page's language next to that question. */
char *survey_page_form(survey_lang_t lang, const char *ticket_number,
                       const survey_answer_t *entered);

/* The same form with an opt-out link at its foot (optout_href: a URL or a
   path relative to the page, HTML-escaped here; NULL for none). */
char *survey_page_form_with_optout(survey_lang_t lang, const char *ticket_number,
                                   const survey_answer_t *entered, const char *optout_href);

/* The opt-out page: a button that posts back to the same URL (a GET never
   opts out, so a mail scanner that follows links changes nothing). */
char *survey_page_optout_confirm(survey_lang_t lang);

/* After the opt-out was recorded (also shown when it already was). */
char *survey_page_optout_done(survey_lang_t lang);

/* After a successful answer.  follow_up != 0 adds that a service manager
 * will get in touch (the caller decides, by its low-score policy). */
char *survey_page_thanks(survey_lang_t lang, const char *ticket_number, int follow_up);

/* The link was used before: show the answer that was recorded. */
char *survey_page_already_answered(survey_lang_t lang, const char *ticket_number,
                                   const survey_answer_t *recorded);

/* survey_link_verify said -2. */
char *survey_page_expired(survey_lang_t lang);

/* survey_link_verify said -1 (or the invitation is unknown). */
char *survey_page_invalid(survey_lang_t lang);

#ifdef __cplusplus
}
#endif

#endif
