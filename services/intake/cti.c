/*
 * cti — see cti.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_bus.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cti.h"
#include "desk.h"
#include "fields.h"
#include "ledger.h"
#include "ticket.h"

#define CALL_ID_MAX 128
#define NUMBER_TEXT_MAX 64
#define AGENT_MAX 32
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char *const s_events[] = {"new", "answered", "hangup", NULL};
static const char *const s_directions[] = {"inbound", "outbound", NULL};
static const char *const s_causes[] = {"normal", "no_answer", "busy", "abandoned", NULL};

/* ---- who may call ---------------------------------------------------------------- */

static _Atomic int64_t s_unconfigured_logged_ms; /* HTTP threads share it */

/* The shared token (events), or for the other routes also a desk role. */
static int s_auth(cs_http_req_t *req, cs_http_resp_t *resp, int desk_role_ok)
{
    const desk_config_t *cfg = desk_config();
    if (!cfg->cti_token[0]) {
        int64_t now = cs_mono_ms();
        if (!s_unconfigured_logged_ms || now - s_unconfigured_logged_ms > 60000) {
            s_unconfigured_logged_ms = now;
            cs_warn("cti: a request was refused because the telephony gateway has no token;"
                    " set CS_INTAKE_CTI_TOKEN (16 characters or more, shared with the PBX"
                    " integration) and restart intake");
        }
        cs_http_error(resp, 503, NULL,
                      "the telephony gateway is not configured: set CS_INTAKE_CTI_TOKEN");
        return -1;
    }
    const char *auth = cs_http_header(req, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        if (desk_equal(auth + 7, cfg->cti_token))
            return 0;
        cs_warn("cti: a request from %s carried a wrong token", req->client_ip);
        cs_http_error(resp, 401, "Authorization", "the CTI token is not valid");
        return -1;
    }
    if (desk_role_ok) {
        const char *role = cs_http_header(req, "X-CS-Role");
        if (role && desk_role_in(role, cfg->personal_roles) && cs_http_header(req, "X-CS-Actor"))
            return 0;
    }
    cs_http_error(resp, 401, "Authorization",
                  desk_role_ok ? "Authorization: Bearer <CTI token>, or a desk role, is required"
                               : "Authorization: Bearer <CTI token> is required");
    return -1;
}

/* ---- events ------------------------------------------------------------------------ */

typedef struct {
    const char *event, *call_id, *from, *to, *direction, *agent, *cause;
    int64_t at_ms;
} call_event_t;

static int s_visible_ascii(const char *s)
{
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f)
            return 0;
    return 1;
}

static int s_parse_event(json_t *b, call_event_t *e, cs_http_resp_t *resp)
{
    static const char *const allowed[] = {"event", "call_id", "from",  "to", "direction",
                                          "agent", "cause",   "at_ms", NULL};
    memset(e, 0, sizeof(*e));
    if (fields_only(b, allowed, "", resp) < 0 ||
        fields_str(b, "event", "event", 16, s_events, 1, &e->event, resp) < 0 ||
        fields_str(b, "call_id", "call_id", CALL_ID_MAX, NULL, 1, &e->call_id, resp) < 0 ||
        fields_str(b, "from", "from", NUMBER_TEXT_MAX, NULL, 0, &e->from, resp) < 0 ||
        fields_str(b, "to", "to", NUMBER_TEXT_MAX, NULL, 0, &e->to, resp) < 0 ||
        fields_str(b, "direction", "direction", 16, s_directions, 0, &e->direction, resp) < 0 ||
        fields_str(b, "agent", "agent", AGENT_MAX, NULL, 0, &e->agent, resp) < 0 ||
        fields_str(b, "cause", "cause", 16, s_causes, 0, &e->cause, resp) < 0)
        return -1;
    if (!s_visible_ascii(e->call_id)) {
        cs_http_error(resp, 422, "call_id", "call_id must be visible ASCII without spaces");
        return -1;
    }
    if (e->agent && !s_visible_ascii(e->agent)) {
        cs_http_error(resp, 422, "agent", "agent must be an extension without spaces");
        return -1;
    }
    if (strcmp(e->event, "new") == 0 && (!e->from || !e->to || !e->direction)) {
        cs_http_error(resp, 422,
                      !e->from ? "from"
                      : !e->to ? "to"
                               : "direction",
                      "a new call needs from, to and direction");
        return -1;
    }
    if (strcmp(e->event, "hangup") == 0 && !e->cause) {
        cs_http_error(resp, 422, "cause",
                      "a hang-up needs its cause: normal, no_answer, busy or abandoned");
        return -1;
    }
    json_t *at = json_object_get(b, "at_ms");
    int64_t now = cs_now_ms();
    e->at_ms = now;
    if (at && !json_is_null(at)) {
        /* within a year back and a day ahead: a PBX clock, not nonsense */
        if (!json_is_integer(at) || json_integer_value(at) < now - 366LL * 86400000 ||
            json_integer_value(at) > now + 86400000) {
            cs_http_error(resp, 422, "at_ms",
                          "at_ms must be the event time in ms since the epoch (UTC)");
            return -1;
        }
        e->at_ms = json_integer_value(at);
    }
    return 0;
}

/* A number as stored: E.164 when it is one, else the text as given (an
   internal extension, "anonymous"). */
static const char *s_number(const char *text, char *e164, char *ext)
{
    if (!text)
        return NULL;
    if (phone_e164(text, desk_config()->country, e164, ext, NULL, 0) == 0)
        return e164;
    return text;
}

/* The call as stored, for settling. */
typedef struct {
    char direction[16], from[NUMBER_TEXT_MAX + 1], to[NUMBER_TEXT_MAX + 1];
    char agent[AGENT_MAX + 1], outcome[16], customer_id[CS_UUID_LEN];
    char ticket_id[CS_UUID_LEN];
    int64_t started_ms, answered_ms, ended_ms;
    int logged, has_missed_ticket;
} call_row_t;

static int s_load(cs_db_t *db, const char *call_id, call_row_t *c)
{
    const char *p[] = {call_id};
    PGresult *r = cs_db_exec(db,
                             "SELECT coalesce(direction, ''), coalesce(from_number, ''),"
                             " coalesce(to_number, ''), coalesce(agent, ''), coalesce(outcome, ''),"
                             " coalesce(customer_id::text, ''),"
                             " (extract(epoch FROM coalesce(started_at, answered_at, ended_at))"
                             "  * 1000)::bigint,"
                             " (extract(epoch FROM answered_at) * 1000)::bigint,"
                             " (extract(epoch FROM ended_at) * 1000)::bigint,"
                             " logged, missed_ticket_id IS NOT NULL, coalesce(ticket_id::text, '')"
                             " FROM calls WHERE call_id = $1",
                             1, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    memset(c, 0, sizeof(*c));
    snprintf(c->direction, sizeof(c->direction), "%s", PQgetvalue(r, 0, 0));
    snprintf(c->from, sizeof(c->from), "%s", PQgetvalue(r, 0, 1));
    snprintf(c->to, sizeof(c->to), "%s", PQgetvalue(r, 0, 2));
    snprintf(c->agent, sizeof(c->agent), "%s", PQgetvalue(r, 0, 3));
    snprintf(c->outcome, sizeof(c->outcome), "%s", PQgetvalue(r, 0, 4));
    snprintf(c->customer_id, sizeof(c->customer_id), "%s", PQgetvalue(r, 0, 5));
    c->started_ms = cs_db_get_i64(r, 0, 6);
    c->answered_ms = cs_db_get_i64(r, 0, 7);
    c->ended_ms = cs_db_get_i64(r, 0, 8);
    c->logged = strcmp(PQgetvalue(r, 0, 9), "t") == 0;
    c->has_missed_ticket = strcmp(PQgetvalue(r, 0, 10), "t") == 0;
    snprintf(c->ticket_id, sizeof(c->ticket_id), "%s", PQgetvalue(r, 0, 11));
    PQclear(r);
    return 0;
}

static int s_emit_call(cs_db_t *db, const char *type, const char *call_id, const call_row_t *c,
                       const char *caller, const char *callee, const char *number)
{
    Cs__CallEvent ce = CS__CALL_EVENT__INIT;
    ce.call_id = (char *)call_id;
    ce.caller = (char *)caller;
    ce.callee = (char *)callee;
    ce.customer_id = (char *)c->customer_id;
    ce.started_at_ms = c->started_ms;
    ce.duration_s = c->answered_ms && c->ended_ms > c->answered_ms
                        ? (uint32_t)((c->ended_ms - c->answered_ms) / 1000)
                        : 0;
    ce.ticket_number = (char *)(number ? number : "");
    ce.direction = (char *)c->direction;
    ce.agent = (char *)c->agent;
    ce.outcome = (char *)c->outcome;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_CALL_EVENT;
    env.call_event = &ce;
    return cs_bus_emit(db, type, &env);
}

/* The call-back ticket of a missed call (once: its external id is the call's). */
static int s_callback_ticket(cs_db_t *db, const char *call_id, const call_row_t *c,
                             const char *caller, intake_result_t *res)
{
    char external[CALL_ID_MAX + 16], subject[160], body[1024], when[32];
    cs_iso8601(c->ended_ms ? c->ended_ms : c->started_ms, when, sizeof(when));
    snprintf(external, sizeof(external), "cti-missed:%s", call_id);
    snprintf(subject, sizeof(subject), "未接来电，请回电 / Missed call, please call back: %s",
             caller);
    snprintf(body, sizeof(body),
             "来电 %s 于 %s (UTC) 未接通（%s），请回电。\n"
             "Missed call from %s at %s (UTC), %s; please call back.\n"
             "Call id: %s; called number: %s",
             caller, when, c->outcome, caller, when, c->outcome, call_id, c->to);
    char trace[CS_UUID_LEN];
    cs_uuid(trace);
    intake_request_t rq = {0};
    rq.channel = "phone";
    rq.phone = caller;
    rq.customer_id = c->customer_id[0] ? c->customer_id : NULL;
    rq.subject = subject;
    rq.body = body;
    rq.language = "zh-CN";
    rq.external_id = external;
    rq.received_at_ms = c->ended_ms ? c->ended_ms : cs_now_ms();
    rq.trace_id = trace;
    return intake_ticket_create(db, &rq, res);
}

/* Settle a call whose hang-up and caller are known: log it, or make its
   call-back ticket; once (calls.logged). */
static int s_settle(cs_db_t *db, const char *call_id, int *settled)
{
    call_row_t c;
    *settled = 0;
    if (s_load(db, call_id, &c) < 0)
        return -1;
    if (c.logged || !c.outcome[0] || !c.direction[0] || !c.from[0] || !c.to[0])
        return 0; /* not over yet, or not all facts in yet */
    int inbound = strcmp(c.direction, "inbound") == 0;
    const char *caller = c.from, *party = inbound ? c.from : c.to;
    int missed = strcmp(c.outcome, "answered") != 0;
    char summary[300];
    const char *number = NULL;
    intake_result_t res = {0};
    if (missed && inbound && caller[0] == '+') {
        if (s_callback_ticket(db, call_id, &c, caller, &res) < 0)
            return -1;
        number = res.number;
        if (!c.customer_id[0])
            snprintf(c.customer_id, sizeof(c.customer_id), "%s", res.customer_id);
        const char *p[] = {call_id, res.ticket_id, c.customer_id};
        if (cs_db_cmd(db,
                      "UPDATE calls SET missed_ticket_id = $2, customer_id = $3 WHERE call_id = $1",
                      3, p) != 1)
            return -1;
    }
    if (missed && inbound)
        snprintf(summary, sizeof(summary), "missed call (%s)%s%s", c.outcome,
                 number ? ", call-back ticket " : ", no number to call back", number ? number : "");
    else if (missed)
        snprintf(summary, sizeof(summary), "outbound call not answered (%s)", c.outcome);
    else
        snprintf(summary, sizeof(summary), "%s call, %d s%s%s", c.direction,
                 c.answered_ms && c.ended_ms > c.answered_ms
                     ? (int)((c.ended_ms - c.answered_ms) / 1000)
                     : 0,
                 c.agent[0] ? ", agent " : "", c.agent);
    const char *kind = missed && inbound ? "call_missed" : "call";
    const char *ticket_id = number ? res.ticket_id : (c.ticket_id[0] ? c.ticket_id : NULL);
    if (ledger_add(db, c.customer_id, ticket_id, inbound ? "inbound" : "outbound", "call", kind,
                   party, summary, call_id, c.agent[0] ? c.agent : NULL,
                   c.started_ms ? c.started_ms : c.ended_ms) < 0)
        return -1;
    const char *p[] = {call_id};
    if (cs_db_cmd(db, "UPDATE calls SET logged = true WHERE call_id = $1", 1, p) != 1)
        return -1;
    if (s_emit_call(db, missed && inbound ? "intake.call.missed" : "intake.call.logged", call_id,
                    &c, c.from, c.to, number) < 0)
        return -1;
    *settled = missed && inbound ? 2 : 1;
    return 0;
}

/* Apply one event in the caller's transaction: 1 applied, 0 a repeat, -1 error. */
static int s_apply(cs_db_t *db, const call_event_t *e, int *settled)
{
    char at[24], fe[PHONE_E164_MAX], fx[PHONE_EXT_MAX], te[PHONE_E164_MAX], tx[PHONE_EXT_MAX];
    cs_db_i64(at, e->at_ms);
    const char *k[] = {e->call_id};
    if (cs_db_cmd(db, "INSERT INTO calls (call_id) VALUES ($1) ON CONFLICT DO NOTHING", 1, k) < 0)
        return -1;
    PGresult *r = cs_db_exec(db, "SELECT 1 FROM calls WHERE call_id = $1 FOR UPDATE", 1, k);
    if (!r)
        return -1;
    PQclear(r);
    const char *q[] = {e->call_id, e->event, at};
    r = cs_db_exec(db,
                   "INSERT INTO call_events (call_id, event, at) VALUES ($1, $2,"
                   " to_timestamp($3::bigint / 1000.0)) ON CONFLICT DO NOTHING RETURNING 1",
                   3, q);
    if (!r)
        return -1;
    int fresh = PQntuples(r) == 1;
    PQclear(r);
    if (!fresh)
        return 0;
    const char *from = s_number(e->from, fe, fx), *to = s_number(e->to, te, tx);
    const char *is_new = strcmp(e->event, "new") == 0 ? "t" : "f";
    const char *is_ans = strcmp(e->event, "answered") == 0 ? "t" : "f";
    const char *is_end = strcmp(e->event, "hangup") == 0 ? "t" : "f";
    const char *outcome =
        !e->cause ? NULL : (strcmp(e->cause, "normal") == 0 ? "answered" : e->cause);
    const char *p[] = {e->call_id, e->direction, from,   to,     from == fe && fx[0] ? fx : NULL,
                       e->agent,   at,           is_new, is_ans, is_end,
                       outcome,    e->cause};
    /* The caller (inbound: from; outbound: to) finds the customer by contact. */
    if (cs_db_cmd(db,
                  "UPDATE calls SET direction = coalesce(direction, $2),"
                  " from_number = coalesce(from_number, $3), to_number = coalesce(to_number, $4),"
                  " caller_ext = coalesce(caller_ext, $5), agent = coalesce($6, agent),"
                  " started_at = CASE WHEN $8::boolean THEN to_timestamp($7::bigint / 1000.0)"
                  "   ELSE started_at END,"
                  " answered_at = CASE WHEN $9::boolean THEN to_timestamp($7::bigint / 1000.0)"
                  "   ELSE answered_at END,"
                  " ended_at = CASE WHEN $10::boolean THEN to_timestamp($7::bigint / 1000.0)"
                  "   ELSE ended_at END,"
                  " outcome = coalesce(outcome, $11), cause = coalesce(cause, $12),"
                  " updated_at = now() WHERE call_id = $1",
                  12, p) != 1)
        return -1;
    if (cs_db_cmd(db,
                  "UPDATE calls c SET customer_id = k.customer_id FROM (SELECT x.customer_id"
                  " FROM contacts x JOIN calls c2 ON c2.call_id = $1 AND x.phone ="
                  "   CASE c2.direction WHEN 'outbound' THEN c2.to_number ELSE c2.from_number END"
                  " ORDER BY x.is_primary DESC, x.created_at LIMIT 1) k"
                  " WHERE c.call_id = $1 AND c.customer_id IS NULL",
                  1, k) < 0)
        return -1;
    return s_settle(db, e->call_id, settled) < 0 ? -1 : 1;
}

/* POST /v1/cti/events */
static void s_post_event(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    if (s_auth(req, resp, 0) < 0)
        return;
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    call_event_t e;
    if (s_parse_event(b, &e, resp) < 0)
        goto out;
    int rc = -1, settled = 0;
    for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
        if (cs_db_begin(req->db) < 0)
            break;
        rc = s_apply(req->db, &e, &settled);
        if (rc < 0) {
            /* two first events of one call at once: the loser sees the row next time */
            int retry = strcmp(cs_db_sqlstate(req->db), "23505") == 0 ||
                        strcmp(cs_db_sqlstate(req->db), "40P01") == 0;
            cs_db_rollback(req->db);
            if (!retry)
                break;
            continue;
        }
        if (cs_db_commit(req->db) < 0)
            rc = -1;
        break;
    }
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "the call event could not be stored; send it again");
        goto out;
    }
    if (settled)
        cs_service_kick(svc);
    char labels[80];
    snprintf(labels, sizeof(labels), "event=\"%s\",result=\"%s\"", e.event,
             rc == 0 ? "repeat" : "applied");
    cs_counter_add("cs_intake_cti_events_total", labels, 1);
    if (settled == 2)
        cs_counter_add("cs_intake_calls_total", "outcome=\"missed\"", 1);
    else if (settled == 1)
        cs_counter_add("cs_intake_calls_total", "outcome=\"logged\"", 1);
    json_t *o = json_object();
    json_object_set_new(o, "call_id", json_string(e.call_id));
    json_object_set_new(o, "event", json_string(e.event));
    json_object_set_new(o, "status", json_string(rc == 0 ? "repeat" : "applied"));
    cs_http_json(resp, rc == 0 ? 200 : 202, o);
out:
    json_decref(b);
}

/* ---- reading ---------------------------------------------------------------------------- */

/* GET /v1/cti/lookup?number=&reason= : one index probe on contacts.phone,
   one on tickets (customer, open). */
static void s_lookup(cs_http_req_t *req, cs_http_resp_t *resp)
{
    desk_viewer_t v;
    if (s_auth(req, resp, 1) < 0 || desk_viewer(req, resp, "screen pop", &v) < 0)
        return;
    const char *number = cs_http_query(req, "number");
    char e164[PHONE_E164_MAX], ext[PHONE_EXT_MAX];
    if (!number) {
        cs_http_error(resp, 422, "number", "number is required");
        return;
    }
    if (fields_phone(number, "number", e164, ext, resp) < 0)
        return;
    const char *p[] = {e164};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT c.id, c.company, c.tier, c.industry, c.region, c.language,"
                             " k.name, k.title, k.id"
                             " FROM contacts k JOIN customers c ON c.id = k.customer_id"
                             " WHERE k.phone = $1 AND c.merged_into IS NULL"
                             " ORDER BY k.is_primary DESC, k.created_at LIMIT 1",
                             1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "number", json_string(e164));
    if (PQntuples(r) != 1) {
        PQclear(r);
        json_object_set_new(o, "matched", json_false());
        json_object_set_new(o, "customer", json_null());
        json_object_set_new(o, "open_tickets", json_array());
        cs_http_json(resp, 200, o);
        return;
    }
    char id[CS_UUID_LEN];
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    json_t *c = json_object();
    json_object_set_new(c, "id", cs_json_col(r, 0, 0));
    json_object_set_new(c, "organisation", cs_json_col(r, 0, 1));
    json_object_set_new(c, "tier", cs_json_col(r, 0, 2));
    json_object_set_new(c, "industry", cs_json_col(r, 0, 3));
    json_object_set_new(c, "region", cs_json_col(r, 0, 4));
    json_object_set_new(c, "language", cs_json_col(r, 0, 5));
    json_t *k = json_object();
    json_object_set_new(k, "id", cs_json_col(r, 0, 8));
    json_object_set_new(k, "name", desk_personal(&v, r, 0, 6));
    json_object_set_new(k, "title", cs_json_col(r, 0, 7));
    json_object_set_new(c, "contact", k);
    PQclear(r);
    const char *q[] = {id};
    r = cs_db_exec(req->db,
                   "SELECT number, subject, status, channel, " TS(
                       "received_at") " FROM tickets WHERE customer_id = $1 AND status NOT IN "
                                      "('closed', 'terminated')"
                                      " ORDER BY received_at DESC LIMIT 20",
                   1, q);
    if (!r) {
        json_decref(c);
        json_decref(o);
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *t = json_object();
        json_object_set_new(t, "number", cs_json_col(r, i, 0));
        json_object_set_new(t, "subject", cs_json_col(r, i, 1));
        json_object_set_new(t, "status", cs_json_col(r, i, 2));
        json_object_set_new(t, "channel", cs_json_col(r, i, 3));
        json_object_set_new(t, "received_at", cs_json_col(r, i, 4));
        json_array_append_new(arr, t);
    }
    PQclear(r);
    if (desk_audit(req->db, req, &v, id, "GET /v1/cti/lookup") < 0) {
        json_decref(c);
        json_decref(o);
        json_decref(arr);
        cs_http_error(resp, 503, NULL, "the read could not be recorded; nothing is shown");
        return;
    }
    json_object_set_new(o, "matched", json_true());
    json_object_set_new(o, "customer", c);
    json_object_set_new(o, "open_tickets", arr);
    desk_mark(o, &v);
    cs_http_json(resp, 200, o);
}

/* GET /v1/cti/calls/{call_id} */
static void s_get_call(cs_http_req_t *req, cs_http_resp_t *resp)
{
    if (s_auth(req, resp, 1) < 0)
        return;
    const char *p[] = {req->param[0]};
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT c.call_id, c.direction, c.agent, c.outcome, c.cause, c.customer_id,"
        " " TS("c.started_at") ", " TS("c.answered_at") ", " TS(
            "c.ended_at") ","
                          " m.number, t.number, c.logged,"
                          " (SELECT json_agg(event ORDER BY at) FROM call_events e WHERE e.call_id "
                          "= c.call_id)"
                          " FROM calls c LEFT JOIN tickets m ON m.id = c.missed_ticket_id"
                          " LEFT JOIN tickets t ON t.id = c.ticket_id WHERE c.call_id = $1",
        1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        cs_http_error(resp, 404, "call_id", "no call %.64s", req->param[0]);
        return;
    }
    static const char *const keys[] = {"call_id",  "direction",       "agent",      "outcome",
                                       "cause",    "customer_id",     "started_at", "answered_at",
                                       "ended_at", "callback_ticket", "ticket"};
    json_t *o = json_object();
    for (int i = 0; i < 11; i++)
        json_object_set_new(o, keys[i], cs_json_col(r, 0, i));
    json_object_set_new(o, "settled", json_boolean(strcmp(PQgetvalue(r, 0, 11), "t") == 0));
    json_t *ev = PQgetisnull(r, 0, 12) ? NULL : json_loads(PQgetvalue(r, 0, 12), 0, NULL);
    json_object_set_new(o, "events", ev ? ev : json_array());
    PQclear(r);
    cs_http_json(resp, 200, o);
}

/* POST /v1/cti/calls/{call_id}/ticket: an agent opens a ticket from an
   answered call (channel phone), once per call. */
static void s_call_ticket(cs_http_req_t *req, cs_http_resp_t *resp)
{
    static const char *const allowed[] = {"subject", "notes",    "service_type", "urgency",
                                          "impact",  "language", "agent",        NULL};
    static const char *const urgencies[] = {"low", "medium", "high", "critical", NULL};
    static const char *const impacts[] = {"single", "site", "multi_site", "public", NULL};
    cs_service_t *svc = req->ctx;
    const char *call_id = req->param[0];
    if (s_auth(req, resp, 1) < 0)
        return;
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    intake_request_t rq = {0};
    const char *agent = NULL;
    if (fields_only(b, allowed, "", resp) < 0 ||
        fields_str(b, "subject", "subject", 500, NULL, 1, &rq.subject, resp) < 0 ||
        fields_str(b, "notes", "notes", 100000, NULL, 1, &rq.body, resp) < 0 ||
        fields_str(b, "service_type", "service_type", 32, NULL, 0, &rq.requested_type, resp) < 0 ||
        fields_str(b, "urgency", "urgency", 16, urgencies, 0, &rq.urgency, resp) < 0 ||
        fields_str(b, "impact", "impact", 16, impacts, 0, &rq.impact, resp) < 0 ||
        fields_str(b, "language", "language", 8, fields_languages, 0, &rq.language, resp) < 0 ||
        fields_str(b, "agent", "agent", AGENT_MAX, NULL, 0, &agent, resp) < 0)
        goto out;
    if (!agent)
        agent = cs_http_header(req, "X-CS-Actor");
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable, try again");
        goto out;
    }
    const char *k[] = {call_id};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT direction, from_number, to_number, customer_id,"
                             " answered_at IS NOT NULL OR outcome = 'answered',"
                             " (SELECT number FROM tickets WHERE id = missed_ticket_id)"
                             " FROM calls WHERE call_id = $1 FOR UPDATE",
                             1, k);
    if (!r) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 503, NULL, "database error");
        goto out;
    }
    if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 4), "t") != 0) {
        if (PQntuples(r) != 1)
            cs_http_error(resp, 404, "call_id", "no call %.64s", call_id);
        else if (!PQgetisnull(r, 0, 5))
            cs_http_error(resp, 409, "call_id", "call %.64s was missed; its call-back ticket is %s",
                          call_id, PQgetvalue(r, 0, 5));
        else
            cs_http_error(resp, 409, "call_id", "call %.64s was not answered", call_id);
        PQclear(r);
        cs_db_rollback(req->db);
        goto out;
    }
    char caller[NUMBER_TEXT_MAX + 1], customer[CS_UUID_LEN], external[CALL_ID_MAX + 16],
        trace[CS_UUID_LEN];
    int outbound = strcmp(PQgetvalue(r, 0, 0), "outbound") == 0;
    snprintf(caller, sizeof(caller), "%s", PQgetvalue(r, 0, outbound ? 2 : 1));
    snprintf(customer, sizeof(customer), "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    if (!customer[0] && caller[0] != '+') {
        cs_db_rollback(req->db);
        cs_http_error(resp, 409, "call_id",
                      "the caller of %.64s is neither a customer nor a usable number", call_id);
        goto out;
    }
    snprintf(external, sizeof(external), "cti-call:%s", call_id);
    cs_uuid(trace);
    rq.channel = "phone";
    rq.phone = caller[0] == '+' ? caller : NULL;
    rq.customer_id = customer[0] ? customer : NULL;
    rq.external_id = external;
    if (!rq.language)
        rq.language = intake_has_han(rq.subject) || intake_has_han(rq.body) ? "zh-CN" : "en";
    rq.received_at_ms = cs_now_ms();
    rq.trace_id = trace;
    intake_result_t res;
    if (intake_ticket_create(req->db, &rq, &res) < 0) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 503, NULL, "the ticket could not be stored; try again");
        goto out;
    }
    const char *p[] = {call_id, res.ticket_id, res.customer_id};
    if (cs_db_cmd(req->db,
                  "UPDATE calls SET ticket_id = $2, customer_id = coalesce(customer_id, $3::uuid)"
                  " WHERE call_id = $1",
                  3, p) != 1 ||
        cs_db_cmd(req->db,
                  "UPDATE ledger SET ticket_id = $2, customer_id = coalesce(customer_id, $3::uuid)"
                  " WHERE kind = 'call' AND ref = $1",
                  3, p) < 0 ||
        cs_db_commit(req->db) < 0) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 503, NULL, "the ticket could not be stored; try again");
        goto out;
    }
    cs_service_kick(svc);
    if (!res.duplicate) {
        cs_counter_add("cs_intake_tickets_total", "channel=\"phone\"", 1);
        cs_info("cti: %s opened from call %s by %s", res.number, call_id, agent ? agent : "?");
    }
    char token[DESK_TOKEN_LEN];
    desk_ticket_token(res.number, token);
    json_t *o = json_object();
    json_object_set_new(o, "ticket_number", json_string(res.number));
    json_object_set_new(o, "ticket_id", json_string(res.ticket_id));
    json_object_set_new(o, "status", json_string(res.duplicate ? "duplicate" : "created"));
    json_object_set_new(o, "access_token", json_string(token));
    cs_http_json(resp, res.duplicate ? 200 : 201, o);
out:
    json_decref(b);
}

void cti_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_metric_declare("cs_intake_cti_events_total", "counter",
                      "Call events received from the PBX, by event and result (applied, repeat).");
    cs_metric_declare(
        "cs_intake_calls_total", "counter",
        "Calls settled: logged (answered, or outbound) or missed (call-back ticket).");
    cs_http_route(http, "POST", "/v1/cti/events", s_post_event, svc);
    cs_http_route(http, "GET", "/v1/cti/lookup", s_lookup, svc);
    cs_http_route(http, "GET", "/v1/cti/calls/*", s_get_call, svc);
    cs_http_route(http, "POST", "/v1/cti/calls/*/ticket", s_call_ticket, svc);
}
