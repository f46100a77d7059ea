/*
 * ticket — see ticket.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cs_bus.h"
#include "cs_log.h"
#include "desk.h"
#include "phone.h"
#include "ticket.h"

int intake_has_han(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        if (*p >= 0xE3 && *p <= 0xE9 && p[1] && p[2]) {
            unsigned cp = ((unsigned)(*p & 0x0F) << 12) | ((unsigned)(p[1] & 0x3F) << 6) |
                          (unsigned)(p[2] & 0x3F);
            if (cp >= 0x3400 && cp <= 0x9FFF)
                return 1;
        }
        p++;
    }
    return 0;
}

void intake_utf8_cut(char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    s[cut] = 0;
}

char *intake_clean_line(const char *s, size_t max)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        return NULL;
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
    intake_utf8_cut(c, max);
    return c;
}

char *intake_clean_text(const char *s)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; c[i]; i++) {
        unsigned char ch = (unsigned char)c[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
            continue;
        c[j++] = (char)ch;
    }
    c[j] = 0;
    return c;
}

int intake_find_number(const char *s, char *out, size_t size)
{
    for (const char *p = s; p && *p; p++) {
        if (strncasecmp(p, "CS-", 3) != 0)
            continue;
        const char *q = p + 3;
        int ok = 1;
        for (int i = 0; i < 4 && ok; i++)
            ok = isdigit((unsigned char)q[i]);
        if (!ok || q[4] != '-')
            continue;
        const char *d = q + 5;
        size_t n = 0;
        while (isdigit((unsigned char)d[n]) && n < 12)
            n++;
        if (n < 6 || isdigit((unsigned char)d[n]))
            continue;
        if ((size_t)(d + n - p) + 1 > size)
            return 0;
        snprintf(out, size, "CS-%.*s", (int)(d + n - q), q);
        return 1;
    }
    return 0;
}

int intake_ticket_by_number(cs_db_t *db, const char *number, char *ticket_id)
{
    const char *p[] = {number};
    PGresult *r = cs_db_exec(db, "SELECT id FROM tickets WHERE number = $1", 1, p);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found)
        snprintf(ticket_id, CS_UUID_LEN, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return found ? 0 : -1;
}

/* Customer facts as stored, for the event. */
typedef struct {
    char id[CS_UUID_LEN];
    char *name, *email, *phone, *company, *industry, *tier, *language;
    int created;
} customer_row_t;

static void s_customer_free(customer_row_t *c)
{
    free(c->name);
    free(c->email);
    free(c->phone);
    free(c->company);
    free(c->industry);
    free(c->tier);
    free(c->language);
}

static void s_customer_take(customer_row_t *c, PGresult *r)
{
    snprintf(c->id, sizeof(c->id), "%s", PQgetvalue(r, 0, 0));
    c->name = strdup(cs_db_get(r, 0, 1));
    c->email = strdup(cs_db_get(r, 0, 2));
    c->phone = strdup(cs_db_get(r, 0, 3));
    c->company = strdup(cs_db_get(r, 0, 4));
    c->industry = strdup(cs_db_get(r, 0, 5));
    c->tier = strdup(cs_db_get(r, 0, 6));
    c->language = strdup(cs_db_get(r, 0, 7));
    c->created = strcmp(cs_db_get(r, 0, 8), "t") == 0;
}

#define CUSTOMER_COLS "id, name, email, phone, company, industry, tier, language"

/* The customer whose contact has this e-mail or E.164 phone; a request may
   add a phone, company, industry or tier, but never renames the record. */
static PGresult *s_customer_by_contact(cs_db_t *db, const intake_request_t *rq, const char *phone)
{
    const char *p[] = {rq->email ? rq->email : phone, rq->phone, rq->company, rq->industry,
                       rq->tier};
    /* Two texts, so that each is planned on its own index (a prepared
       statement's generic plan cannot pick one of two by a parameter). */
#define BY_CONTACT(match)                                                                          \
    "WITH k AS (SELECT customer_id FROM contacts WHERE " match                                     \
    "   ORDER BY is_primary DESC, created_at LIMIT 1),"                                            \
    " u AS (UPDATE customers c SET phone = coalesce(c.phone, $2),"                                 \
    "   company = coalesce($3, c.company), industry = coalesce($4, c.industry),"                   \
    "   tier = coalesce($5, c.tier), updated_at = now()"                                           \
    "   FROM k WHERE c.id = k.customer_id"                                                         \
    "   AND (c.phone IS NULL AND $2::text IS NOT NULL"                                             \
    "     OR c.company IS DISTINCT FROM coalesce($3, c.company)"                                   \
    "     OR c.industry IS DISTINCT FROM coalesce($4, c.industry)"                                 \
    "     OR c.tier IS DISTINCT FROM coalesce($5, c.tier))"                                        \
    "   RETURNING c.id, c.name, c.email, c.phone, c.company, c.industry, c.tier, c.language)"      \
    " SELECT *, false FROM u UNION ALL"                                                            \
    " SELECT c.id, c.name, c.email, c.phone, c.company, c.industry, c.tier, c.language, false"     \
    " FROM customers c JOIN k ON c.id = k.customer_id WHERE NOT EXISTS (SELECT 1 FROM u)"
    /* Written only when the request adds something: most requests come
       from known customers and change nothing. */
    if (rq->email)
        return cs_db_exec(db, BY_CONTACT("lower(email) = lower($1)"), 5, p);
    return cs_db_exec(db, BY_CONTACT("phone = $1"), 5, p);
#undef BY_CONTACT
}

static PGresult *s_customer_by_id(cs_db_t *db, const char *id)
{
    const char *p[] = {id};
    return cs_db_exec(db,
                      "SELECT " CUSTOMER_COLS ", false FROM customers"
                      " WHERE id = $1 AND merged_into IS NULL",
                      1, p);
}

/* The customer registry is the truth about a customer: found by id, or by a
   contact's e-mail or phone, or made new with the person as its primary
   contact. */
static int s_customer_upsert(cs_db_t *db, const intake_request_t *rq, customer_row_t *c)
{
    char id[CS_UUID_LEN], e164[PHONE_E164_MAX] = "", ext[PHONE_EXT_MAX] = "";
    cs_uuid(id);
    if (rq->phone && phone_e164(rq->phone, desk_config()->country, e164, ext, NULL, 0) < 0)
        e164[0] = 0; /* kept as given on the customer; no contact phone */
    const char *phone = e164[0] ? e164 : rq->phone;
    const char *name =
        rq->name && *rq->name ? rq->name : (rq->email ? rq->email : (phone ? phone : "unknown"));
    const char *p[] = {id,          name,         rq->email, phone,
                       rq->company, rq->industry, rq->tier,  rq->language ? rq->language : "zh-CN"};
    PGresult *r = NULL;
    if (rq->customer_id)
        r = s_customer_by_id(db, rq->customer_id);
    else if ((rq->email && *rq->email) || e164[0])
        r = s_customer_by_contact(db, rq, e164[0] ? e164 : NULL);
    if (r && PQntuples(r) == 0 && !rq->customer_id) {
        PQclear(r);
        r = NULL;
        if (rq->email && *rq->email) {
            r = cs_db_exec(db,
                           "INSERT INTO customers (id, name, email, phone, company, industry, tier,"
                           " language) VALUES ($1, $2, lower($3), $4, $5, coalesce($6, 'other'),"
                           " coalesce($7, 'sme'), $8)"
                           " ON CONFLICT (lower(email)) WHERE email IS NOT NULL DO UPDATE SET"
                           " phone = coalesce(EXCLUDED.phone, customers.phone),"
                           " company = coalesce($5, customers.company),"
                           " industry = coalesce($6, customers.industry),"
                           " tier = coalesce($7, customers.tier), updated_at = now()"
                           " RETURNING " CUSTOMER_COLS ", (xmax = 0)",
                           8, p);
        } else {
            r = cs_db_exec(db,
                           "INSERT INTO customers (id, name, email, phone, company, industry,"
                           " tier, language) VALUES ($1, $2, $3, $4, $5, coalesce($6, 'other'),"
                           " coalesce($7, 'sme'), $8) RETURNING " CUSTOMER_COLS ", true",
                           8, p);
        }
    } else if (!r && !rq->customer_id) {
        /* neither e-mail nor a normalisable phone: the phone as given */
        const char *q[] = {rq->phone};
        r = cs_db_exec(db,
                       "SELECT " CUSTOMER_COLS ", false FROM customers WHERE phone = $1"
                       " AND merged_into IS NULL ORDER BY created_at LIMIT 1",
                       1, q);
        if (r && PQntuples(r) == 0) {
            PQclear(r);
            r = cs_db_exec(db,
                           "INSERT INTO customers (id, name, email, phone, company, industry,"
                           " tier, language) VALUES ($1, $2, $3, $4, $5, coalesce($6, 'other'),"
                           " coalesce($7, 'sme'), $8) RETURNING " CUSTOMER_COLS ", true",
                           8, p);
        }
    }
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    s_customer_take(c, r);
    PQclear(r);
    if (!c->created)
        return 0;
    char contact[CS_UUID_LEN];
    cs_uuid(contact);
    const char *k[] = {
        contact, c->id, name, rq->email, e164[0] ? e164 : NULL, ext[0] ? ext : NULL, c->language};
    return cs_db_cmd(db,
                     "INSERT INTO contacts (id, customer_id, name, email, phone, phone_ext,"
                     " language, is_primary) VALUES ($1, $2, $3, lower($4), $5, $6, $7, true)",
                     7, k) == 1
               ? 0
               : -1;
}

static int s_emit_customer(cs_db_t *db, const customer_row_t *c, Cs__Customer *msg,
                           const char *trace)
{
    Cs__CustomerUpserted up = CS__CUSTOMER_UPSERTED__INIT;
    up.customer = msg;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.trace_id = (char *)trace;
    env.body_case = CS__ENVELOPE__BODY_CUSTOMER_UPSERTED;
    env.customer_upserted = &up;
    (void)c;
    return cs_bus_emit(db, "intake.customer.upserted", &env);
}

static const char *s_nz(const char *s)
{
    return s ? s : "";
}

int intake_ticket_create(cs_db_t *db, const intake_request_t *rq, intake_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (rq->external_id) {
        const char *p[] = {rq->external_id};
        PGresult *r = cs_db_exec(
            db, "SELECT id, number, customer_id FROM tickets WHERE external_id = $1", 1, p);
        if (!r)
            return -1;
        if (PQntuples(r) == 1) {
            snprintf(out->ticket_id, sizeof(out->ticket_id), "%s", PQgetvalue(r, 0, 0));
            snprintf(out->number, sizeof(out->number), "%s", PQgetvalue(r, 0, 1));
            snprintf(out->customer_id, sizeof(out->customer_id), "%s", PQgetvalue(r, 0, 2));
            out->duplicate = 1;
            PQclear(r);
            return 0;
        }
        PQclear(r);
    }
    /* What arrived is bounded and made safe before it is stored or sent on:
       no control characters in lines, no subject or name of megabytes. */
    intake_request_t clean = *rq;
    char *subject = intake_clean_line(rq->subject ? rq->subject : "", INTAKE_SUBJECT_MAX);
    char *name = intake_clean_line(rq->name, INTAKE_NAME_MAX);
    char *from_name = intake_clean_line(rq->from_name, INTAKE_NAME_MAX);
    char *company = intake_clean_line(rq->company, INTAKE_NAME_MAX);
    char *body = intake_clean_text(rq->body ? rq->body : "");
    customer_row_t c = {0};
    int rc = -1;
    if (!subject || !body)
        goto out;
    clean.subject = subject;
    clean.name = name;
    clean.from_name = from_name;
    clean.company = company;
    clean.body = body;
    rq = &clean;
    if (s_customer_upsert(db, rq, &c) < 0)
        goto out;
    snprintf(out->ticket_id, sizeof(out->ticket_id), "%s", rq->ticket_id ? rq->ticket_id : "");
    if (!rq->ticket_id)
        cs_uuid(out->ticket_id);

    /* One statement: the next number of the year (in the company's time
       zone: CS-2026-000123), the ticket, and its entry in the ledger (a
       phone ticket has none: its call is the entry). */
    char received[24], emerg[24], attach[24];
    const char *language = rq->language ? rq->language : c.language;
    const char *party = rq->from_addr ? rq->from_addr : (rq->email ? rq->email : rq->phone);
    const char *p[] = {out->ticket_id,
                       rq->channel,
                       c.id,
                       rq->from_addr,
                       rq->from_name,
                       s_nz(rq->subject),
                       s_nz(rq->body),
                       rq->requested_type,
                       rq->urgency,
                       rq->impact,
                       cs_db_i64(emerg, rq->emergency_flag),
                       language,
                       rq->message_id,
                       rq->external_id,
                       cs_db_i64(attach, rq->attachment_count),
                       cs_db_i64(received, rq->received_at_ms),
                       strcmp(rq->channel, "phone") == 0 ? NULL : desk_ledger_channel(rq->channel),
                       party};
    PGresult *r = cs_db_exec(
        db,
        "WITH n AS (INSERT INTO ticket_numbers (year, last) VALUES"
        "   (extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int, 1)"
        "   ON CONFLICT (year) DO UPDATE SET last = ticket_numbers.last + 1 RETURNING year, last),"
        " t AS (INSERT INTO tickets (id, number, channel, customer_id, from_addr, from_name,"
        "   subject, body, requested_type, urgency, impact, emergency_flag, language,"
        "   message_id, external_id, attachment_count, received_at)"
        "   SELECT $1, 'CS-' || n.year || '-' || CASE WHEN n.last < 1000000"
        "     THEN lpad(n.last::text, 6, '0') ELSE n.last::text END,"
        "     $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
        "     to_timestamp($16::bigint / 1000.0) FROM n"
        "   RETURNING id, number, customer_id, subject, received_at),"
        " l AS (INSERT INTO ledger (customer_id, ticket_id, direction, channel, kind, party,"
        "   summary, ref, at) SELECT customer_id, id, 'inbound', $17, 'request', $18,"
        "   left(subject, 300), id::text, received_at FROM t WHERE $17::text IS NOT NULL"
        "   ON CONFLICT (kind, ref) DO NOTHING)"
        " SELECT number FROM t",
        18, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        goto out;
    }
    snprintf(out->number, sizeof(out->number), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(out->customer_id, sizeof(out->customer_id), "%s", c.id);

    Cs__Customer cust = CS__CUSTOMER__INIT;
    cust.customer_id = c.id;
    cust.name = c.name;
    cust.email = c.email;
    cust.phone = c.phone;
    cust.company = c.company;
    cust.industry = c.industry;
    cust.tier = c.tier;
    cust.language = c.language;
    if (c.created && s_emit_customer(db, &c, &cust, rq->trace_id) < 0)
        goto out;

    char *text = strdup(s_nz(rq->body));
    if (!text)
        goto out;
    intake_utf8_cut(text, INTAKE_BUS_TEXT_MAX);
    Cs__TicketCreated tc = CS__TICKET_CREATED__INIT;
    tc.ticket_id = out->ticket_id;
    tc.number = out->number;
    tc.channel = (char *)rq->channel;
    tc.received_at_ms = rq->received_at_ms;
    tc.customer = &cust;
    tc.subject = (char *)s_nz(rq->subject);
    tc.text = text;
    tc.requested_type = (char *)s_nz(rq->requested_type);
    tc.urgency = (char *)s_nz(rq->urgency);
    tc.impact = (char *)s_nz(rq->impact);
    tc.emergency_flag = (uint32_t)rq->emergency_flag;
    tc.message_id = (char *)s_nz(rq->message_id);
    tc.language = (char *)language;
    tc.attachment_count = (uint32_t)rq->attachment_count;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.trace_id = (char *)rq->trace_id;
    env.body_case = CS__ENVELOPE__BODY_TICKET_CREATED;
    env.ticket_created = &tc;
    rc = cs_bus_emit(db, "intake.ticket.created", &env);
    free(text);
out:
    s_customer_free(&c);
    free(subject);
    free(name);
    free(from_name);
    free(company);
    free(body);
    return rc;
}
