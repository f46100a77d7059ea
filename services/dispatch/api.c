/*
 * api — see api.h. Each handler runs on the HTTP thread with its own
 * connection (req->db) and does its whole unit of work in one transaction:
 * lock the ticket, check, change, history, event, commit, kick the relay.
 */
#include <stdio.h>
#include <string.h>
#include "cs_config.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "api.h"
#include "routing.h"
#include "ticket.h"

/* The route context of an action: which action, on which service. */
typedef struct {
    cs_service_t *svc;
    ticket_action_t action;
} action_route_t;

static action_route_t s_action_routes[TICKET_ACTION_COUNT];

/* ---- agent actions --------------------------------------------------------------- */

/* Read {"agent", <text field>} for action a; 0, or -1 with resp filled. */
static int s_action_body(json_t *body, ticket_action_t a, const char **agent, const char **text,
                         cs_http_resp_t *resp)
{
    int required = 0;
    const char *field = ticket_action_text_field(a, &required);
    json_t *ag = json_object_get(body, "agent");
    json_t *tx = json_object_get(body, field);
    if (!json_is_string(ag) || !ticket_login_valid(json_string_value(ag))) {
        cs_http_error(resp, 422, "agent", "agent must be an agent login such as \"wang.lei\"");
        return -1;
    }
    if (tx && !json_is_null(tx) && !json_is_string(tx)) {
        cs_http_error(resp, 422, field, "%s must be a string", field);
        return -1;
    }
    const char *s = json_is_string(tx) ? json_string_value(tx) : "";
    if (required && strspn(s, " \t\r\n") == strlen(s)) {
        cs_http_error(resp, 422, field, "%s is required for %s", field, ticket_action_name(a));
        return -1;
    }
    if (json_string_length(tx) > TICKET_MESSAGE_MAX) {
        cs_http_error(resp, 422, field, "%s is longer than %d bytes", field, TICKET_MESSAGE_MAX);
        return -1;
    }
    *agent = json_string_value(ag);
    *text = s;
    return 0;
}

/* Check and apply the action to the locked ticket t. 0 applied, or -1 with
   resp filled (409, 403, 503). */
static int s_apply(cs_db_t *db, ticket_t *t, ticket_action_t a, const char *agent, const char *text,
                   cs_http_resp_t *resp)
{
    int to = ticket_action_target(a, t->status);
    if (to < 0) {
        cs_http_error(resp, 409, "status", "ticket %s is %s; it cannot be %s now", t->number,
                      ticket_status_name(t->status), ticket_action_done(a));
        return -1;
    }
    if (strcmp(agent, t->assignee) != 0 && strcmp(agent, t->owner) != 0) {
        cs_http_error(resp, 403, "agent",
                      "%s is neither the assignee nor the first-contact owner of ticket %s", agent,
                      t->number);
        return -1;
    }
    int is_message = a == TICKET_RESPOND || a == TICKET_RESOLVE;
    if (ticket_move(db, t, (ticket_status_t)to, ticket_action_event(a), agent,
                    ticket_action_name(a), is_message ? "" : text, is_message ? text : "") < 0) {
        cs_http_error(resp, 503, NULL, "database error; the action was not recorded");
        return -1;
    }
    return 0;
}

static void s_action(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const action_route_t *route = req->ctx;
    const char *number = req->param[0];
    const char *agent = NULL, *text = NULL;
    ticket_t *t = NULL;
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    if (s_action_body(body, route->action, &agent, &text, resp) < 0)
        goto out_free_body;
    if (!ticket_number_valid(number)) {
        cs_http_error(resp, 404, NULL, "no such ticket");
        goto out_free_body;
    }
    if (cs_db_begin(req->db) < 0)
        goto out_unavailable;
    int rc = ticket_load(req->db, "number", number, 1, &t);
    if (rc < 0)
        goto out_rollback_unavailable;
    if (rc == 0) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, NULL, "no ticket %s", number);
        goto out_free_body;
    }
    if (s_apply(req->db, t, route->action, agent, text, resp) < 0) {
        cs_db_rollback(req->db);
        goto out_free_ticket;
    }
    if (cs_db_commit(req->db) < 0)
        goto out_unavailable;
    cs_service_kick(route->svc);
    char labels[64];
    snprintf(labels, sizeof(labels), "action=\"%s\"", ticket_action_name(route->action));
    cs_counter_add("cs_dispatch_actions_total", labels, 1);
    cs_info("dispatch: ticket %s %s by %s -> %s", t->number, ticket_action_name(route->action),
            agent, ticket_status_name(t->status));
    cs_http_json(resp, 200, ticket_to_json(t));
    goto out_free_ticket;

out_rollback_unavailable:
    cs_db_rollback(req->db);
out_unavailable:
    cs_http_error(resp, 503, NULL, "database unavailable; try again");
out_free_ticket:
    ticket_destroy(&t);
out_free_body:
    json_decref(body);
}

/* ---- reading tickets ------------------------------------------------------------- */

#define LIST_LIMIT_MAX 500
#define LIST_OFFSET_MAX 1000000000

/* GET /v1/tickets?status=&assignee=&limit=&offset= : newest first, paged. */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *status = cs_http_query(req, "status");
    const char *assignee = cs_http_query(req, "assignee");
    ticket_status_t st;
    int64_t limit, offset;
    if (status && *status && ticket_status_parse(status, &st) < 0) {
        cs_http_error(resp, 422, "status",
                      "status must be one of new, accepted, queued,"
                      " assigned, in_progress, pending_customer, resolved, closed, reopened,"
                      " terminated");
        return;
    }
    if (assignee && *assignee && !ticket_login_valid(assignee)) {
        cs_http_error(resp, 422, "assignee", "assignee must be an agent login");
        return;
    }
    if (cs_http_query_int(req, resp, "limit", 50, 1, LIST_LIMIT_MAX, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, &offset) < 0)
        return;
    json_t *list =
        ticket_list_json(req->db, status ? status : "", assignee ? assignee : "", limit, offset);
    if (!list) {
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(list)));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "tickets", list);
    cs_http_json(resp, 200, o);
}

static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *number = req->param[0];
    ticket_t *t = NULL;
    if (!ticket_number_valid(number)) {
        cs_http_error(resp, 404, NULL, "no such ticket");
        return;
    }
    int rc = ticket_load(req->db, "number", number, 0, &t);
    if (rc == 0) {
        cs_http_error(resp, 404, NULL, "no ticket %s", number);
        return;
    }
    json_t *history = rc > 0 ? ticket_history_json(req->db, t->ticket_id) : NULL;
    if (!history) {
        ticket_destroy(&t);
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    json_t *o = ticket_to_json(t);
    json_object_set_new(o, "history", history);
    ticket_destroy(&t);
    cs_http_json(resp, 200, o);
}

/* ---- statistics --------------------------------------------------------------------- */

static void s_stats(cs_http_req_t *req, cs_http_resp_t *resp)
{
    /* one statement, one snapshot: the figures always add up */
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT service_type, coalesce(team, 'none'), status, priority, channel, count(*),"
        " GROUPING(service_type, team, status, priority, channel)"
        " FROM tickets GROUP BY GROUPING SETS"
        " ((service_type), (team), (status), (priority), (channel), ())",
        0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    static const char *const keys[] = {"by_type", "by_team", "by_status", "by_priority",
                                       "by_channel"};
    json_t *by[5];
    for (int k = 0; k < 5; k++)
        by[k] = json_object();
    for (int s = 0; s < TICKET_STATUS_COUNT; s++)
        json_object_set_new(by[2], ticket_status_name((ticket_status_t)s), json_integer(0));
    for (int p = 1; p <= 4; p++) {
        char name[4] = {'P', (char)('0' + p), 0};
        json_object_set_new(by[3], name, json_integer(0));
    }
    int64_t total = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t grouping = cs_db_get_i64(r, i, 6), count = cs_db_get_i64(r, i, 5);
        if (grouping == 31) {
            total = count;
            continue;
        }
        /* the one column grouped on is the one whose bit is clear */
        for (int k = 0; k < 5; k++)
            if (!(grouping & (1 << (4 - k))))
                json_object_set_new(by[k], cs_db_get(r, i, k), json_integer(count));
    }
    PQclear(r);
    int64_t open = 0;
    for (int s = 0; s < TICKET_STATUS_COUNT; s++)
        if (ticket_status_is_open((ticket_status_t)s))
            open +=
                json_integer_value(json_object_get(by[2], ticket_status_name((ticket_status_t)s)));
    json_t *o = json_object();
    json_object_set_new(o, "tickets", json_integer(total));
    json_object_set_new(o, "open", json_integer(open));
    for (int k = 0; k < 5; k++)
        json_object_set_new(o, keys[k], by[k]);
    cs_http_json(resp, 200, o);
}

/* ---- the desk ------------------------------------------------------------------------- */

static void s_agents(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT a.login, a.name, a.region, array_to_string(a.skills, ','), a.capacity,"
        " a.presence, (SELECT count(*) FROM tickets t WHERE t.assignee = a.login"
        "   AND t.status IN ('assigned', 'in_progress', 'pending_customer', 'reopened')),"
        " a.assigned_total FROM agents a WHERE a.active ORDER BY a.login",
        0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *a = json_object();
        json_t *skills = json_array();
        char buf[ROUTING_SKILLS_MAX];
        snprintf(buf, sizeof(buf), "%s", cs_db_get(r, i, 3));
        char *save = NULL;
        for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save))
            json_array_append_new(skills, json_string(s));
        json_object_set_new(a, "login", json_string(cs_db_get(r, i, 0)));
        json_object_set_new(a, "name", json_string(cs_db_get(r, i, 1)));
        json_object_set_new(a, "region", json_string(cs_db_get(r, i, 2)));
        json_object_set_new(a, "skills", skills);
        json_object_set_new(a, "capacity", json_integer(cs_db_get_i64(r, i, 4)));
        json_object_set_new(a, "presence", json_string(cs_db_get(r, i, 5)));
        json_object_set_new(a, "load", json_integer(cs_db_get_i64(r, i, 6)));
        json_object_set_new(a, "assigned_total", json_integer(cs_db_get_i64(r, i, 7)));
        json_array_append_new(list, a);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "agents", list);
    cs_http_json(resp, 200, o);
}

/* Presence decides who can take tickets; going online lets the next tick
   give queued tickets out. */
static void s_presence(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *login = req->param[0];
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *presence = json_string_value(json_object_get(body, "presence"));
    if (!routing_presence_valid(presence)) {
        cs_http_error(resp, 422, "presence", "presence must be online, away or offline");
        goto out_free_body;
    }
    if (!ticket_login_valid(login)) {
        cs_http_error(resp, 404, NULL, "no such agent");
        goto out_free_body;
    }
    int64_t n = cs_db_cmd(req->db,
                          "UPDATE agents SET presence = $2, updated_at = now()"
                          " WHERE login = $1 AND active",
                          2, (const char *[]){login, presence});
    if (n < 0)
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
    else if (n == 0)
        cs_http_error(resp, 404, NULL, "no agent %s", login);
    else {
        json_t *o = json_object();
        json_object_set_new(o, "login", json_string(login));
        json_object_set_new(o, "presence", json_string(presence));
        cs_http_json(resp, 200, o);
        cs_info("dispatch: agent %s is %s", login, presence);
    }
out_free_body:
    json_decref(body);
}

void api_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "GET", "/v1/tickets", s_list, svc);
    cs_http_route(http, "GET", "/v1/tickets/*", s_get, svc);
    for (int a = 0; a < TICKET_ACTION_COUNT; a++) {
        char pattern[64];
        s_action_routes[a] = (action_route_t){svc, (ticket_action_t)a};
        snprintf(pattern, sizeof(pattern), "/v1/tickets/*/%s",
                 ticket_action_name((ticket_action_t)a));
        cs_http_route(http, "POST", pattern, s_action, &s_action_routes[a]);
    }
    cs_http_route(http, "GET", "/v1/stats", s_stats, svc);
    cs_http_route(http, "GET", "/v1/agents", s_agents, svc);
    cs_http_route(http, "POST", "/v1/agents/*/presence", s_presence, svc);
}
