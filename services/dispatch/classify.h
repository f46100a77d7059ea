/*
 * classify.h - dispatch's ticket classifier.
 *
 * Why this exists: every ticket needs a service type (which team), an
 * emergency level (1 major .. 3 general, per the service manual's emergency
 * plans) and a priority P1..P4 (urgency x impact) before it can be routed
 * and before the SLA clocks can be armed.  The words that decide these
 * belong to the business, not to the code, so they live in a versioned text
 * file (services/dispatch/rules/classify.rules) that the company edits; this
 * module only loads that file and applies it.  It is pure C: no database,
 * no bus, no clock, so the same input always gives the same answer.
 *
 * The rules file format is documented at the head of classify.rules.
 */
#ifndef CLASSIFY_H_INCLUDED
#define CLASSIFY_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits that keep a hostile or mistaken rules file from eating memory. */
#define CLASSIFY_RULES_MAX_BYTES (1024 * 1024) /* whole file */
#define CLASSIFY_RULES_MAX_LINE 1024           /* one line, bytes */
#define CLASSIFY_RULES_MAX_RULES 4096          /* rule + emergency + urgency + impact + ignore */
#define CLASSIFY_RULE_ID_MAX 63                /* fits classify_result_t.rule_id */
/* Only this many bytes of subject and of text are read; the rest of a long
 * mail body never decides anything that its first 64 KiB did not. */
#define CLASSIFY_TEXT_MAX_BYTES (64 * 1024)

typedef struct _classify_rules_t classify_rules_t;

/* Load a rules file.  On failure return NULL and write into err a message
 * naming the line, e.g. "line 12: unknown service type 'foo'". */
classify_rules_t *classify_rules_load(const char *path, char *err, size_t errlen);

/* Same, from memory (text need not be NUL-terminated). */
classify_rules_t *classify_rules_parse(const char *text, size_t len, char *err, size_t errlen);

/* The N of the file's "version N" line; recorded with every classification
 * so a decision can be explained later with the rules that made it. */
int classify_rules_version(const classify_rules_t *r);

/* Free the rules; accepts NULL and NULLs the caller's pointer. */
void classify_rules_destroy(classify_rules_t **r_p);

typedef struct {
    const char *subject;        /* matches here weigh double */
    const char *text;           /* body / description */
    const char *requested_type; /* a valid service type code wins over keywords */
    const char *channel;        /* carried for the record; not used by rules v1 */
    const char *tier;           /* "strategic" raises priority one step */
    const char *urgency;        /* low|medium|high|critical, else derived */
    const char *impact;         /* single|site|multi_site|public, else derived */
    /* any of the above may be NULL; invalid hints are ignored, never fatal */
    int emergency_flag; /* explicit flag from the request: 1..3 or 0 */
} classify_input_t;

typedef struct {
    char service_type[32];
    char priority[4];    /* "P1".."P4" */
    int emergency_level; /* 0 none, 1..3 */
    char urgency[16];
    char impact[16];
    char rule_id[64];           /* the rule that decided the type, or "requested" / "default" */
    char emergency_rule_id[64]; /* the rule that set the level, "requested", or "" if none */
} classify_result_t;

/* Classify one ticket.  Returns 0 and fills out; returns -1 only when r, in
 * or out is NULL.  Customer-supplied hints that are not valid codes are
 * ignored (the ticket is still classified), so intake never loses a ticket
 * because of a misspelt urgency. */
int classify_ticket(const classify_rules_t *r, const classify_input_t *in, classify_result_t *out);

/* 1 if code is one of the nine service type codes, else 0. */
int classify_is_service_type(const char *code);

#ifdef __cplusplus
}
#endif

#endif
