/*
 * api — GET /v1/stats and GET /v1/clocks (see api.h).
 *
 * Query parameters are hostile: a ticket number is checked for length and
 * UTF-8 before it reaches a statement, a state must be one the model knows,
 * and every listing is bounded by limit (at most 1000) and paged by offset,
 * both checked whichever way the clocks are asked for.
 */
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "clock_store.h"
#include "cs_config.h"
#include "cs_ids.h"

#define SLA_LIST_DEFAULT 100
#define SLA_LIST_MAX 1000
#define SLA_OFFSET_MAX 1000000000

/* One page of a listing: at most limit rows after skipping offset. */
typedef struct {
    int64_t limit;
    int64_t offset;
} sla_page_t;

/* ISO 8601 text for an instant, or JSON null for 0 (never happened). */
static json_t *s_instant(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    cs_iso8601(ms, buf, sizeof(buf));
    return json_string(buf);
}

int sla_api_policy_for(sla_api_t *self, cs_db_t *db, const char *calendar, sla_policy_t *out)
{
    char err[300] = "";
    *out = self->counting;
    int rc = sla_calendars_get(self->calendars, db, calendar, &out->calendar, err, sizeof(err));
    if (rc == 0)
        rc = sla_calendars_get(self->calendars, NULL, "7x24", &out->calendar, err, sizeof(err));
    return rc > 0 ? 0 : -1;
}

static json_t *s_clock_json(sla_api_t *api, cs_db_t *db, const sla_clock_row_t *row, int64_t now_ms)
{
    const sla_clock_t *c = &row->clock;
    sla_policy_t counting, *policy = &counting;
    if (sla_api_policy_for(api, db, row->policy, &counting) < 0)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(row->id));
    json_object_set_new(o, "ticket_id", json_string(row->ticket_id));
    json_object_set_new(o, "ticket_number", json_string(row->number));
    json_object_set_new(o, "target", json_string(sla_target_name(c->target)));
    json_object_set_new(o, "state", json_string(sla_clock_state_name(c->state)));
    json_object_set_new(o, "priority", json_string(row->priority));
    json_object_set_new(o, "policy", json_string(row->policy));
    json_object_set_new(o, "round", json_integer(c->round));
    json_object_set_new(o, "target_minutes", json_integer(c->target_minutes));
    json_object_set_new(o, "started_at", s_instant(c->started_at_ms));
    json_object_set_new(o, "warn_at", s_instant(c->warn_at_ms));
    json_object_set_new(o, "deadline", s_instant(c->deadline_ms));
    json_object_set_new(o, "deadline_ms", json_integer(c->deadline_ms));
    json_object_set_new(o, "warned", json_boolean(c->warned));
    json_object_set_new(o, "paused_at", s_instant(c->paused_at_ms));
    json_object_set_new(o, "met_at", s_instant(c->met_at_ms));
    json_object_set_new(o, "breached_at", s_instant(c->breached_at_ms));
    json_object_set_new(o, "stopped_at", s_instant(c->stopped_at_ms));
    json_object_set_new(o, "percent", json_integer(sla_clock_percent(c, policy, now_ms)));
    json_object_set_new(o, "working_ms_used", json_integer(sla_clock_used_ms(c, policy, now_ms)));
    json_object_set_new(o, "team", json_string(row->team));
    json_object_set_new(o, "assignee", json_string(row->assignee));
    json_object_set_new(o, "policy_id", json_string(row->policy_id));
    json_object_set_new(o, "complaint_id",
                        row->complaint_id[0] ? json_string(row->complaint_id) : json_null());
    json_object_set_new(o, "escalation_level", json_integer(c->escalation_level));
    json_object_set_new(o, "escalate_at", s_instant(c->escalate_at_ms));
    return o;
}

/* The history of every clock of one ticket (by its number, or by its id
   when by_ticket_id is set), attached to the clock objects (keyed by clock id
   in by_id). 0 or -1. */
static int s_attach_history(cs_db_t *db, const char *key, int by_ticket_id, json_t *by_id)
{
    /* a ticket's clocks by their derived ids (clock_store.h) */
    char ids[SLA_TICKET_CLOCKS][CS_UUID_LEN];
    if (by_ticket_id)
        sla_store_ticket_ids(ids, key);
    const char *ids3[] = {ids[0], ids[1], ids[2]};
    /* A clock's steps are indexed by kind (005_lean_clocks.sql: the
       signals, the escalations, the other steps each in a partial index),
       so each part asks for its kinds. */
    static const char *const parts[] = {
        "kind IN ('armed', 'warning', 'breached', 'met', 'fulfilled_late', 'stopped')",
        "kind = 'escalated'", "kind IN ('paused', 'resumed', 'changed')"};
    char sql[1600];
    size_t len = 0;
    for (int k = 0; k < 3; k++)
        len += (size_t)snprintf(
            sql + len, sizeof(sql) - len,
            "%s SELECT e.id, e.clock_id, e.round, e.kind, ts_ms(e.at) AS at,"
            " e.percent, e.level, e.note FROM clock_events e%s AND e.%s",
            k ? " UNION ALL" : "SELECT clock_id, round, kind, at, percent, level, note FROM (",
            by_ticket_id ? " WHERE e.clock_id IN ($1, $2, $3)"
                         : " JOIN clocks c ON c.id = e.clock_id WHERE c.number = $1",
            parts[k]);
    snprintf(sql + len, sizeof(sql) - len, ") steps ORDER BY id");
    PGresult *r =
        cs_db_exec(db, sql, by_ticket_id ? 3 : 1, by_ticket_id ? ids3 : (const char *[]){key});
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *history = json_object_get(json_object_get(by_id, cs_db_get(r, i, 0)), "history");
        if (!history)
            continue;
        json_t *step = json_object();
        json_object_set_new(step, "round", json_integer(cs_db_get_i64(r, i, 1)));
        json_object_set_new(step, "kind", json_string(cs_db_get(r, i, 2)));
        json_object_set_new(step, "at", s_instant(cs_db_get_i64(r, i, 3)));
        json_object_set_new(step, "percent", json_integer(cs_db_get_i64(r, i, 4)));
        if (cs_db_get_i64(r, i, 5))
            json_object_set_new(step, "level", json_integer(cs_db_get_i64(r, i, 5)));
        if (*cs_db_get(r, i, 6))
            json_object_set_new(step, "note", json_string(cs_db_get(r, i, 6)));
        json_array_append_new(history, step);
    }
    PQclear(r);
    return 0;
}

static void s_clocks_of_ticket(cs_http_req_t *req, cs_http_resp_t *resp, const char *number,
                               const sla_page_t *page)
{
    sla_api_t *api = req->ctx;
    if (!*number || !sla_store_text_ok(number, SLA_NUMBER_MAX)) {
        cs_http_error(resp, 422, "ticket", "ticket must be a ticket number of 1..%d bytes",
                      SLA_NUMBER_MAX);
        return;
    }
    char sql[1024], lim[24], off[24];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM clocks WHERE number = $1 ORDER BY target, id LIMIT $2 OFFSET $3",
             SLA_STORE_COLUMNS);
    PGresult *r = cs_db_exec(
        req->db, sql, 3,
        (const char *[]){number, cs_db_i64(lim, page->limit), cs_db_i64(off, page->offset)});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    int64_t now = cs_now_ms();
    json_t *clocks = json_array(), *by_id = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        sla_clock_row_t row;
        json_t *o;
        if (sla_store_row_from(r, i, &row) < 0 || !(o = s_clock_json(api, req->db, &row, now)))
            continue;
        json_object_set_new(o, "history", json_array());
        json_object_set(by_id, row.id, o);
        json_array_append_new(clocks, o);
    }
    PQclear(r);
    int rc = s_attach_history(req->db, number, 0, by_id);
    json_decref(by_id);
    if (rc < 0) {
        json_decref(clocks);
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *out = json_object();
    json_object_set_new(out, "ticket_number", json_string(number));
    json_object_set_new(out, "clocks", clocks);
    cs_http_json(resp, 200, out);
}

static void s_clocks_in_state(cs_http_req_t *req, cs_http_resp_t *resp, const char *state,
                              const sla_page_t *page)
{
    sla_api_t *api = req->ctx;
    if (sla_clock_state_parse(state) < 0) {
        cs_http_error(resp, 422, "state",
                      "state must be one of running, paused, met, breached, stopped");
        return;
    }
    char sql[1024], lim[24], off[24];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM clocks WHERE state = $1 ORDER BY deadline DESC, id"
             " LIMIT $2 OFFSET $3",
             SLA_STORE_COLUMNS);
    PGresult *r = cs_db_exec(
        req->db, sql, 3,
        (const char *[]){state, cs_db_i64(lim, page->limit), cs_db_i64(off, page->offset)});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    int64_t now = cs_now_ms();
    json_t *clocks = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        sla_clock_row_t row;
        json_t *o;
        if (sla_store_row_from(r, i, &row) == 0 && (o = s_clock_json(api, req->db, &row, now)))
            json_array_append_new(clocks, o);
    }
    PQclear(r);
    json_t *out = json_object();
    json_object_set_new(out, "state", json_string(state));
    json_object_set_new(out, "offset", json_integer(page->offset));
    json_object_set_new(out, "clocks", clocks);
    cs_http_json(resp, 200, out);
}

/* GET /v1/clocks?ticket=NUMBER or ?state=STATE, with limit= and offset=
   checked the same way for both. */
static void s_get_clocks(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *ticket = cs_http_query(req, "ticket");
    const char *state = cs_http_query(req, "state");
    sla_api_t *api = req->ctx;
    sla_page_t page;
    if (sla_calendars_refresh(api->calendars, req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    if (ticket && state) {
        cs_http_error(resp, 422, "state", "give either ticket or state, not both");
        return;
    }
    if (cs_http_query_int(req, resp, "limit", SLA_LIST_DEFAULT, 1, SLA_LIST_MAX, &page.limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, SLA_OFFSET_MAX, &page.offset) < 0)
        return;
    if (ticket)
        s_clocks_of_ticket(req, resp, ticket, &page);
    else if (state)
        s_clocks_in_state(req, resp, state, &page);
    else
        cs_http_error(resp, 422, "ticket", "give ticket=NUMBER or state=STATE");
}

/* ---- GET /v1/sla/tickets/{id} ---------------------------------------------------- */

/* Does the clock still count (running, paused, or breached and not yet
   fulfilled nor closed)? Only such a clock has time remaining. */
static int s_counting(const sla_clock_t *c)
{
    return c->state == SLA_CLOCK_RUNNING || c->state == SLA_CLOCK_PAUSED ||
           (c->state == SLA_CLOCK_BREACHED && !c->stopped_at_ms);
}

/* One clock of the ticket view: the listing's fields plus what an agent
   reads first — when it is due, the business time left (on the clock's own
   calendar, time paused excluded: the model's used time, not wall time;
   negative once overdue; null when the clock no longer counts) and the
   facts the reports group by. */
static json_t *s_ticket_clock_json(sla_api_t *api, cs_db_t *db, const sla_clock_row_t *row,
                                   int64_t now_ms)
{
    json_t *o = s_clock_json(api, db, row, now_ms);
    if (!o)
        return NULL;
    const sla_clock_t *c = &row->clock;
    int64_t used = json_integer_value(json_object_get(o, "working_ms_used"));
    json_object_set_new(o, "due_at", s_instant(c->deadline_ms));
    json_object_set_new(o, "counting", json_boolean(s_counting(c)));
    json_object_set_new(o, "remaining_ms",
                        s_counting(c) ? json_integer(c->target_ms - used) : json_null());
    json_object_set_new(o, "target_ms", json_integer(c->target_ms));
    json_object_set_new(o, "breached", json_boolean(c->state == SLA_CLOCK_BREACHED));
    json_object_set_new(o, "service_type", json_string(row->service_type));
    json_object_set_new(o, "tier", json_string(row->tier));
    json_object_set_new(o, "channel", json_string(row->channel));
    json_object_set_new(o, "history", json_array());
    return o;
}

/* GET /v1/sla/tickets/{id}: id is the ticket's UUID or its number. */
static void s_get_ticket(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    const char *id = req->nparams > 0 ? req->param[0] : "";
    if (!*id || !sla_store_text_ok(id, SLA_NUMBER_MAX)) {
        cs_http_error(resp, 400, "id",
                      "id must be a ticket id (UUID) or a ticket number of 1..%d bytes",
                      SLA_NUMBER_MAX);
        return;
    }
    if (sla_calendars_refresh(api->calendars, req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    int by_ticket_id = cs_is_uuid(id);
    char sql[1024], ids[SLA_TICKET_CLOCKS][CS_UUID_LEN];
    if (by_ticket_id) {
        /* the ticket's clocks by their derived ids (clock_store.h) */
        sla_store_ticket_ids(ids, id);
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM clocks WHERE id IN ($1, $2, $3) ORDER BY ticket_id, target",
                 SLA_STORE_COLUMNS);
    } else {
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM clocks WHERE number = $1 ORDER BY ticket_id, target",
                 SLA_STORE_COLUMNS);
    }
    PGresult *r = by_ticket_id
                      ? cs_db_exec(req->db, sql, 3, (const char *[]){ids[0], ids[1], ids[2]})
                      : cs_db_exec(req->db, sql, 1, (const char *[]){id});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_http_error(resp, 404, "id", "no clocks for ticket %s", id);
        return;
    }
    int64_t now = cs_now_ms();
    json_t *clocks = json_array(), *by_id = json_object();
    char ticket_id[CS_UUID_LEN] = "", number[SLA_NUMBER_MAX + 1] = "";
    for (int i = 0; i < PQntuples(r); i++) {
        sla_clock_row_t row;
        json_t *o;
        /* A number is one ticket's; should two tickets ever share one, the
           view shows the first of them, whole, rather than a mixture. */
        if (sla_store_row_from(r, i, &row) < 0 ||
            (*ticket_id && strcmp(row.ticket_id, ticket_id) != 0) ||
            !(o = s_ticket_clock_json(api, req->db, &row, now)))
            continue;
        snprintf(ticket_id, sizeof(ticket_id), "%s", row.ticket_id);
        snprintf(number, sizeof(number), "%s", row.number);
        json_object_set(by_id, row.id, o);
        json_array_append_new(clocks, o);
    }
    PQclear(r);
    /* The history by the ticket id found: a number given twice to two
       tickets must not mix their histories. */
    int rc = *ticket_id ? s_attach_history(req->db, ticket_id, 1, by_id) : 0;
    json_decref(by_id);
    if (rc < 0) {
        json_decref(clocks);
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *out = json_object();
    json_object_set_new(out, "ticket_id", json_string(ticket_id));
    json_object_set_new(out, "ticket_number", json_string(number));
    json_object_set_new(out, "as_of", s_instant(now));
    json_object_set_new(out, "clocks", clocks);
    cs_http_json(resp, 200, out);
}

static void s_get_stats(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(req->db,
                             "SELECT count(*),"
                             " count(*) FILTER (WHERE state = 'running'),"
                             " count(*) FILTER (WHERE state = 'paused'),"
                             " count(*) FILTER (WHERE state = 'met'),"
                             " count(*) FILTER (WHERE state = 'running' AND warned),"
                             " count(*) FILTER (WHERE state = 'breached'),"
                             " count(*) FILTER (WHERE state = 'stopped')"
                             " FROM clocks",
                             0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    static const char *const keys[] = {"armed",   "running",  "paused", "met",
                                       "warning", "breached", "stopped"};
    json_t *clocks = json_object();
    for (int i = 0; i < 7; i++)
        json_object_set_new(clocks, keys[i], json_integer(cs_db_get_i64(r, 0, i)));
    PQclear(r);
    json_t *out = json_object();
    json_object_set_new(out, "clocks", clocks);
    cs_http_json(resp, 200, out);
}

sla_api_t *sla_api_new(cs_http_t *http, const sla_policy_t *counting, const char *default_calendar)
{
    sla_api_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->calendars = sla_calendars_new();
    self->policies = sla_policies_new(default_calendar);
    if (!self->calendars || !self->policies) {
        sla_calendars_destroy(&self->calendars);
        sla_policies_destroy(&self->policies);
        free(self);
        return NULL;
    }
    self->counting = *counting;
    self->counting.calendar = NULL;
    snprintf(self->default_calendar, sizeof(self->default_calendar), "%s", default_calendar);
    cs_http_route(http, "GET", "/v1/stats", s_get_stats, self);
    cs_http_route(http, "GET", "/v1/clocks", s_get_clocks, self);
    cs_http_route(http, "GET", "/v1/sla/tickets/*", s_get_ticket, self);
    sla_report_register(http, self);
    sla_calendar_api_register(http, self);
    sla_policy_api_register(http, self);
    return self;
}

void sla_api_destroy(sla_api_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sla_calendars_destroy(&(*self_p)->calendars);
    sla_policies_destroy(&(*self_p)->policies);
    free(*self_p);
    *self_p = NULL;
}
