/*
 * desk — who is asking, and what they may see: the settings intake's desk
 * routes share (default country, the CTI token, the roles allowed to read
 * personal fields, the key that signs ticket access tokens), the caller's
 * identity from the gateway's headers, and the audit of every read of
 * personal fields.
 *
 * Identity: until petrocs has its own authentication (issue 11), the caller
 * is named by two headers a trusted reverse proxy sets after it has
 * authenticated the user — X-CS-Actor (the login) and X-CS-Role. intake
 * believes them, so it must never be reachable except through that proxy,
 * which must also drop these headers from what clients send.
 *
 * Personal fields (a contact's name, e-mail, phone, a customer's address,
 * the other party of a ledger entry) are shown only to a role listed in
 * CS_INTAKE_PERSONAL_ROLES, when the caller names itself and gives a reason
 * (?reason=); each customer record shown that way is one personal_reads row.
 */
#ifndef INTAKE_DESK_H
#define INTAKE_DESK_H
#include <stddef.h>
#include <jansson.h>
#include "cs_http.h"

#define DESK_TOKEN_LEN 44 /* base64url of 32 bytes (43) + NUL */
#define DESK_REASON_MAX 200

typedef struct {
    char country[4];          /* CS_INTAKE_DEFAULT_COUNTRY, digits */
    char cti_token[256];      /* CS_INTAKE_CTI_TOKEN, "" when not configured */
    char personal_roles[256]; /* CS_INTAKE_PERSONAL_ROLES, comma list */
    char merge_roles[256];    /* CS_INTAKE_MERGE_ROLES, comma list */
} desk_config_t;

/* Read the configuration and the ticket access key (CS_INTAKE_ACCESS_KEY,
   else one made once and kept in intake.settings). 0 or -1 (logged). */
int desk_init(cs_db_t *db);
const desk_config_t *desk_config(void);

/* Equal strings, in time that depends on neither's content. */
int desk_equal(const char *a, const char *b);

/* The ticket access token of a ticket number (HMAC-SHA256 under the access
   key, purpose "ticket-access"), base64url, into out[DESK_TOKEN_LEN]. */
void desk_ticket_token(const char *number, char *out);
/* Does token open ticket number? Constant time. */
int desk_ticket_token_ok(const char *number, const char *token);

typedef struct {
    const char *actor;  /* X-CS-Actor or NULL */
    const char *role;   /* X-CS-Role or NULL */
    const char *reason; /* ?reason= or NULL */
    int personal;       /* may see personal fields in this request */
    char withheld[200]; /* why not, when not */
} desk_viewer_t;

/* The caller of req; reason_dflt is used when ?reason= is absent (NULL:
   none). Returns -1 with a 422 in resp when a header or the reason is
   malformed. */
int desk_viewer(cs_http_req_t *req, cs_http_resp_t *resp, const char *reason_dflt,
                desk_viewer_t *v);
/* Is role in the comma list? */
int desk_role_in(const char *role, const char *list);
/* Record that v read customer_id's personal fields through route. 0 / -1. */
int desk_audit(cs_db_t *db, cs_http_req_t *req, const desk_viewer_t *v, const char *customer_id,
               const char *route);
/* Set "personal_fields" on an answer: "shown" or why they were withheld. */
void desk_mark(json_t *o, const desk_viewer_t *v);
/* A personal column of r: its value when v may see it, else null (also for SQL NULL). */
json_t *desk_personal(const desk_viewer_t *v, const PGresult *r, int row, int col);

/* Ledger channel of a ticket channel: email → mail, onsite → visit, phone → call. */
const char *desk_ledger_channel(const char *ticket_channel);

#endif
