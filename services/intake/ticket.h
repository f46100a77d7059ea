/*
 * ticket — intake's records: customers found or created by contact, tickets
 * with human numbers, and the intake.* events that announce them.
 *
 * Both gateways (mail_gateway.c, api.c) describe what arrived as an
 * intake_request_t and call these functions inside their own transaction, so
 * the ticket, the customer and the outbox event commit together.
 */
#ifndef INTAKE_TICKET_H
#define INTAKE_TICKET_H
#include <stdint.h>
#include "cs_db.h"
#include "cs_ids.h"

#define INTAKE_NUMBER_LEN 32
#define INTAKE_BUS_TEXT_MAX 8192 /* request text carried on the bus */

typedef struct {
    const char *channel; /* email, web, app, onsite, partner, phone */
    /* the customer as the request describes them */
    const char *name, *email, *phone, *company, *industry, *tier;
    const char *language; /* zh-CN or en */
    const char *subject, *body;
    const char *requested_type, *urgency, *impact; /* NULL when not given */
    int emergency_flag;
    const char *message_id, *external_id;
    const char *from_addr, *from_name;
    int attachment_count;
    int64_t received_at_ms;
    const char *trace_id;
    const char *customer_id; /* a known customer (a matched caller), or NULL: by contact */
    const char *ticket_id;   /* the new ticket's id when the caller chose it, or NULL */
} intake_request_t;

typedef struct {
    char ticket_id[CS_UUID_LEN];
    char number[INTAKE_NUMBER_LEN];
    int duplicate; /* the external id or Message-ID was already a ticket */
    char customer_id[CS_UUID_LEN];
} intake_result_t;

/* Find or create the customer and the ticket, and emit intake.ticket.created
   (and intake.customer.upserted for a new customer). Inside the caller's
   transaction. 0 or -1. A repeated external_id gives the existing ticket
   with duplicate = 1 and emits nothing.
   The customer is rq->customer_id when given, else the customer whose
   contact has the e-mail (or, without one, the phone in E.164), else a new
   customer with that person as its primary contact. The request enters the
   communication ledger (except a phone ticket: its call is the entry). */
int intake_ticket_create(cs_db_t *db, const intake_request_t *rq, intake_result_t *out);

/* The ticket with this number: 0 and its id, or -1 when none. */
int intake_ticket_by_number(cs_db_t *db, const char *number, char *ticket_id);

/* Find a ticket number (CS-2026-000123, any letter case) anywhere in s and
   write it in its canonical upper-case form; 1 found, 0 not. */
int intake_find_number(const char *s, char *out, size_t size);

/* Does s contain a Han character (U+3400–U+9FFF)? Decides zh-CN vs en. */
int intake_has_han(const char *s);

/* Cut s to at most max bytes on a UTF-8 character boundary (in place). */
void intake_utf8_cut(char *s, size_t max);

/* Copies made safe to store and to show: a line (subject, name) has every
   control character turned into a space and is cut to max bytes; a text
   keeps line feeds and tabs, drops carriage returns and other control
   characters. NULL in, NULL out; caller frees. */
char *intake_clean_line(const char *s, size_t max);
char *intake_clean_text(const char *s);

#define INTAKE_SUBJECT_MAX 1000
#define INTAKE_NAME_MAX 200

#endif
