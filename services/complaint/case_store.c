/*
 * case_store.c - complaint_cases rows and complaint.* events (see the .h).
 */
#include "case_store.h"

#include <string.h>
#include "cs_bus.h"
#include "cs_ids.h"
#include "cs_log.h"

#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* The columns of a locked case, in the order of the CASE_COL_* indexes. */
#define LOCK_COLUMNS                                                                               \
    "SELECT complaint_id, ticket_id, ticket_number, status, " MS("received_at") ", "               \
    MS("accept_due") ", coalesce(" MS("accepted_at") ", 0), coalesce(" MS("resolved_at") ", 0),"  \
    " handler, customer_email, customer_name, language, resolution FROM complaint_cases"

/* clang-format off */
static const char *s_lock_by_id = LOCK_COLUMNS " WHERE complaint_id = $1::uuid FOR UPDATE";
static const char *s_lock_by_number = LOCK_COLUMNS " WHERE ticket_number = $1 FOR UPDATE";
/* clang-format on */

PGresult *case_store_lock(cs_db_t *db, const char *id_or_number, complaint_case_t *c)
{
    const char *sql = cs_is_uuid(id_or_number) ? s_lock_by_id : s_lock_by_number;
    PGresult *r = cs_db_exec(db, sql, 1, (const char *[]){id_or_number});
    if (!r || PQntuples(r) == 0)
        return r;
    memset(c, 0, sizeof(*c));
    if (complaint_status_parse(cs_db_get(r, 0, CASE_COL_STATUS), &c->status) < 0)
        c->status = COMPLAINT_STATUS_COUNT; /* the CHECK constraint makes this unreachable */
    c->received_at_ms = cs_db_get_i64(r, 0, CASE_COL_RECEIVED_MS);
    c->accept_due_ms = cs_db_get_i64(r, 0, CASE_COL_ACCEPT_DUE_MS);
    c->accepted_at_ms = cs_db_get_i64(r, 0, CASE_COL_ACCEPTED_MS);
    c->resolved_at_ms = cs_db_get_i64(r, 0, CASE_COL_RESOLVED_MS);
    snprintf(c->handler, sizeof(c->handler), "%s", cs_db_get(r, 0, CASE_COL_HANDLER));
    return r;
}

static const char *s_ms_or_null(char *buf, int64_t ms)
{
    return ms ? cs_db_i64(buf, ms) : NULL;
}

int case_store_move(cs_db_t *db, const PGresult *row, const complaint_case_t *c, const char *type,
                    const char *actor, const char *resolution)
{
    const char *id = cs_db_get(row, 0, CASE_COL_ID);
    const char *from = cs_db_get(row, 0, CASE_COL_STATUS);
    const char *to = complaint_status_name(c->status);
    char acc[24], res[24];
    const char *p[] = {id,
                       to,
                       c->handler,
                       s_ms_or_null(acc, c->accepted_at_ms),
                       s_ms_or_null(res, c->resolved_at_ms),
                       resolution};
    if (cs_db_cmd(db,
                  "UPDATE complaint_cases SET status = $2, handler = $3,"
                  " accepted_at = to_timestamp($4::bigint / 1000.0),"
                  " resolved_at = to_timestamp($5::bigint / 1000.0),"
                  " resolution = coalesce($6, resolution), updated_at = now()"
                  " WHERE complaint_id = $1::uuid",
                  6, p) != 1)
        return -1;
    const char *h[] = {id, from, to, actor, resolution ? resolution : ""};
    if (cs_db_cmd(db,
                  "INSERT INTO case_history (complaint_id, from_status, to_status, actor, note)"
                  " VALUES ($1::uuid, $2, $3, $4, $5)",
                  5, h) != 1)
        return -1;
    return case_store_emit(db, type, id, cs_db_get(row, 0, CASE_COL_TICKET_ID),
                           cs_db_get(row, 0, CASE_COL_NUMBER), c, cs_db_get(row, 0, CASE_COL_EMAIL),
                           cs_db_get(row, 0, CASE_COL_NAME), cs_db_get(row, 0, CASE_COL_LANGUAGE),
                           resolution ? resolution : cs_db_get(row, 0, CASE_COL_RESOLUTION));
}

int case_store_emit(cs_db_t *db, const char *type, const char *complaint_id, const char *ticket_id,
                    const char *number, const complaint_case_t *c, const char *email,
                    const char *name, const char *language, const char *resolution)
{
    Cs__ComplaintEvent ev = CS__COMPLAINT_EVENT__INIT;
    ev.complaint_id = (char *)complaint_id;
    ev.ticket_id = (char *)ticket_id;
    ev.number = (char *)number;
    ev.status = (char *)complaint_status_name(c->status);
    ev.handler = (char *)c->handler;
    ev.accept_due_ms = c->accept_due_ms;
    ev.at_ms = cs_now_ms();
    ev.customer_email = (char *)(email ? email : "");
    ev.customer_name = (char *)(name ? name : "");
    ev.language = (char *)(language ? language : "");
    ev.resolution = (char *)(resolution ? resolution : "");
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_COMPLAINT_EVENT;
    env.complaint_event = &ev;
    return cs_bus_emit(db, type, &env);
}
