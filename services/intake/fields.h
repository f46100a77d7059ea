/*
 * fields — checking what a client sent, one JSON member at a time, with an
 * error that names the member (customer.email, contacts[1].phone…). Every
 * intake route that takes a body uses these, so the same mistake gets the
 * same message everywhere.
 */
#ifndef INTAKE_FIELDS_H
#define INTAKE_FIELDS_H
#include <stddef.h>
#include <jansson.h>
#include "cs_http.h"
#include "phone.h"

extern const char *const fields_industries[];
extern const char *const fields_tiers[];
extern const char *const fields_languages[];

/* Is v one of set (NULL-ended)? */
int fields_in(const char *v, const char *const *set);

/* String member key of obj, reported as field: NULL when absent or null
   (422 when required), else 1..max bytes, not blank, and one of set when
   set is given. 0, or -1 with the 422 in resp. */
int fields_str(json_t *obj, const char *key, const char *field, size_t max, const char *const *set,
               int required, const char **out, cs_http_resp_t *resp);

/* A plausible addr-spec (one '@', dotted domain, no spaces), at most 254 bytes. */
int fields_email_ok(const char *s);

/* A phone number normalised to E.164 in the default country; -1 with a 422
   naming field and saying why in resp. */
int fields_phone(const char *text, const char *field, char *e164, char *ext, cs_http_resp_t *resp);

/* Refuse members of obj other than the allowed ones (NULL-ended): a typo in
   a PATCH must not pass silently. prefix names obj in the message ("" at top). */
int fields_only(json_t *obj, const char *const *allowed, const char *prefix, cs_http_resp_t *resp);

#endif
