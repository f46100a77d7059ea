/*
 * case_store.c - complaint_cases rows and complaint.* events (see the .h).
 */
#include "case_store.h"

#include <stdlib.h>
#include <string.h>
#include "cs_bus.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"

#define MS(col) "coalesce((extract(epoch FROM " col ") * 1000)::bigint, 0)"

static const char *s_str(const char *s)
{
    return s ? s : "";
}

int case_store_open(cs_db_t *db, const complaint_opening_t *o, char *id)
{
    complaint_case_t c;
    complaint_case_open(&c, o->received_at_ms, o->accept_hours);
    char sat[24], rbuf[24], dbuf[24];
    cs_uuid(id);
    const char *p[] = {id,
                       o->source,
                       o->source_key,
                       o->ticket_id && o->ticket_id[0] ? o->ticket_id : NULL,
                       s_str(o->ticket_number),
                       s_str(o->channel),
                       s_str(o->tier),
                       s_str(o->priority),
                       s_str(o->team),
                       s_str(o->subject),
                       s_str(o->description),
                       s_str(o->customer_id),
                       s_str(o->customer_name),
                       s_str(o->customer_email),
                       s_str(o->customer_phone),
                       s_str(o->language),
                       o->satisfaction > 0 ? cs_db_i64(sat, o->satisfaction) : NULL,
                       cs_db_i64(rbuf, c.received_at_ms),
                       cs_db_i64(dbuf, c.accept_due_ms)};
    /* COALESCE evaluates lazily: a case with a ticket takes no CP number. */
    PGresult *r = cs_db_exec(
        db,
        "INSERT INTO complaint_cases (complaint_id, source, source_key, ticket_id, ticket_number,"
        " case_number, status, channel, tier, priority, team, subject, description, customer_id,"
        " customer_name, customer_email, customer_phone, language, satisfaction, received_at,"
        " accept_due)"
        " VALUES ($1::uuid, $2, $3, $4::uuid, $5,"
        " coalesce(nullif($5, ''), 'CP-' || to_char(to_timestamp($18::bigint / 1000.0)"
        " AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(nextval('complaint_number_seq')::text, 6,"
        " '0')), 'received', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::smallint,"
        " to_timestamp($18::bigint / 1000.0), to_timestamp($19::bigint / 1000.0))"
        " ON CONFLICT (source, source_key) DO NOTHING RETURNING complaint_id",
        19, p);
    if (!r)
        return -1;
    int opened = PQntuples(r) == 1;
    PQclear(r);
    if (!opened) {
        r = cs_db_exec(db,
                       "SELECT complaint_id FROM complaint_cases WHERE source = $1"
                       " AND source_key = $2",
                       2, (const char *[]){o->source, o->source_key});
        if (!r)
            return -1;
        if (PQntuples(r) == 1)
            snprintf(id, CS_UUID_LEN, "%s", cs_db_get(r, 0, 0));
        PQclear(r);
        return 1;
    }
    if (case_store_history(db, id, "", "received", o->actor, "") < 0 ||
        case_store_emit(db, "complaint.opened", id, o->actor, NULL) < 0)
        return -1;
    cs_counter_add("cs_complaint_opened_total", "", 1);
    return 0;
}

#define LOCK_COLUMNS                                                                               \
    "SELECT complaint_id, status, priority, escalation_level, case_number FROM complaint_cases"

PGresult *case_store_lock(cs_db_t *db, const char *id_or_number, complaint_status_t *status)
{
    const char *sql = cs_is_uuid(id_or_number) ? LOCK_COLUMNS
                          " WHERE complaint_id = $1::uuid FOR UPDATE"
                                               : LOCK_COLUMNS
                          " WHERE complaint_id = (SELECT complaint_id FROM complaint_cases"
                          " WHERE case_number = $1 ORDER BY received_at DESC, complaint_id"
                          " LIMIT 1) FOR UPDATE";
    PGresult *r = cs_db_exec(db, sql, 1, (const char *[]){id_or_number});
    if (!r || PQntuples(r) == 0)
        return r;
    if (complaint_status_parse(cs_db_get(r, 0, LOCK_COL_STATUS), status) < 0)
        *status = COMPLAINT_STATUS_COUNT; /* the CHECK constraint makes this unreachable */
    return r;
}

int case_store_history(cs_db_t *db, const char *id, const char *from, const char *to,
                       const char *actor, const char *note)
{
    const char *p[] = {id, from, to, actor, s_str(note)};
    return cs_db_cmd(db,
                     "INSERT INTO case_history (complaint_id, from_status, to_status, actor, note)"
                     " VALUES ($1::uuid, $2, $3, $4, $5)",
                     5, p) == 1
               ? 0
               : -1;
}

/* The columns of an event, in the order s_fill() reads them. */
enum {
    EV_ID = 0,
    EV_TICKET,
    EV_NUMBER,
    EV_STATUS,
    EV_HANDLER,
    EV_ACCEPT_DUE,
    EV_EMAIL,
    EV_NAME,
    EV_LANGUAGE,
    EV_FEEDBACK,
    EV_HANDLE_DUE,
    EV_RECEIVED,
    EV_SOURCE,
    EV_CATEGORY,
    EV_SCOPE,
    EV_URGENCY,
    EV_PRIORITY,
    EV_DEPARTMENT,
    EV_OWNER,
    EV_LEVEL,
    EV_ACCEPTED,
    EV_ROOT_CAUSE,
    EV_CUSTOMER_ID,
    EV_TIER,
    EV_PHONE
};

/* clang-format off */
static const char *s_event_sql =
    "SELECT complaint_id, coalesce(ticket_id::text, ''), case_number, status, handler,"
    " " MS("accept_due") ", customer_email, customer_name, language, feedback,"
    " " MS("handle_due") ", " MS("received_at") ", source, category, scope, urgency, priority,"
    " owner_department, owner, escalation_level, coalesce(customer_accepted, false),"
    " root_cause, customer_id, tier, customer_phone"
    " FROM complaint_cases WHERE complaint_id = $1::uuid";
/* clang-format on */

int case_store_emit(cs_db_t *db, const char *type, const char *id, const char *actor,
                    const char *text)
{
    PGresult *r = cs_db_exec(db, s_event_sql, 1, (const char *[]){id});
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_error("complaint: case %s vanished before %s", id, type);
        return -1;
    }
#define COL(c) ((char *)cs_db_get(r, 0, (c)))
    Cs__ComplaintEvent ev = CS__COMPLAINT_EVENT__INIT;
    ev.complaint_id = COL(EV_ID);
    ev.ticket_id = COL(EV_TICKET);
    ev.number = COL(EV_NUMBER);
    ev.status = COL(EV_STATUS);
    ev.handler = COL(EV_HANDLER);
    ev.accept_due_ms = cs_db_get_i64(r, 0, EV_ACCEPT_DUE);
    ev.at_ms = cs_now_ms();
    ev.customer_email = COL(EV_EMAIL);
    ev.customer_name = COL(EV_NAME);
    ev.language = COL(EV_LANGUAGE);
    ev.resolution = text ? (char *)text : COL(EV_FEEDBACK);
    ev.handle_due_ms = cs_db_get_i64(r, 0, EV_HANDLE_DUE);
    ev.received_at_ms = cs_db_get_i64(r, 0, EV_RECEIVED);
    ev.source = COL(EV_SOURCE);
    ev.category = COL(EV_CATEGORY);
    ev.scope = COL(EV_SCOPE);
    ev.urgency = COL(EV_URGENCY);
    ev.priority = COL(EV_PRIORITY);
    ev.owner_department = COL(EV_DEPARTMENT);
    ev.owner = COL(EV_OWNER);
    ev.escalation_level = (uint32_t)cs_db_get_i64(r, 0, EV_LEVEL);
    ev.customer_accepted = strcmp(cs_db_get(r, 0, EV_ACCEPTED), "t") == 0;
    ev.root_cause = COL(EV_ROOT_CAUSE);
    ev.customer_id = COL(EV_CUSTOMER_ID);
    ev.tier = COL(EV_TIER);
    ev.customer_phone = COL(EV_PHONE);
    ev.actor = (char *)s_str(actor);
#undef COL
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_COMPLAINT_EVENT;
    env.complaint_event = &ev;
    int rc = cs_bus_emit(db, type, &env);
    PQclear(r);
    return rc;
}

int case_store_escalate(cs_db_t *db, const char *id, const char *key, const char *reason,
                        const char *actor)
{
    const char *p[] = {id, key, reason, actor};
    PGresult *r =
        cs_db_exec(db,
                   "WITH up AS (UPDATE complaint_cases SET escalation_level = escalation_level + 1,"
                   " escalated_at = now(), updated_at = now() WHERE complaint_id = $1::uuid"
                   " AND NOT EXISTS (SELECT 1 FROM case_escalations WHERE complaint_id = $1::uuid"
                   " AND key = $2) RETURNING escalation_level, status)"
                   " INSERT INTO case_escalations (complaint_id, key, level, reason, actor)"
                   " SELECT $1::uuid, $2, escalation_level, $3, $4 FROM up RETURNING level,"
                   " (SELECT status FROM up)",
                   4, p);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 1;
    }
    char note[300];
    snprintf(note, sizeof(note), "escalated to level %s: %s", cs_db_get(r, 0, 0), reason);
    char status[32];
    snprintf(status, sizeof(status), "%s", cs_db_get(r, 0, 1));
    PQclear(r);
    if (case_store_history(db, id, status, status, actor, note) < 0 ||
        case_store_emit(db, "complaint.escalated", id, actor, reason) < 0)
        return -1;
    cs_counter_add("cs_complaint_escalations_total", "", 1);
    cs_info("complaint: case %s escalated (%s)", id, key);
    return 0;
}
