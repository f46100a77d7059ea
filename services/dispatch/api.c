/*
 * api — see api.h. Each handler runs on the HTTP thread with its own
 * connection (req->db) and does its whole unit of work in one transaction:
 * lock the ticket, check, change, history, event, commit, kick the relay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_config.h"
#include "cs_json.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "api.h"
#include "events.h"
#include "routing.h"
#include "ticket.h"

/* The route context of an action: which action, on which service. */
typedef struct {
    cs_service_t *svc;
    ticket_action_t action;
} action_route_t;

static action_route_t s_action_routes[TICKET_ACTION_COUNT];
static char s_region[16] = "east"; /* CS_DISPATCH_REGION: teams of unheld tickets */

/* ---- agent actions --------------------------------------------------------------- */

/* What one action request says, checked for shape (s_read_body) before the
   ticket is read. Strings point into the request's JSON body. */
typedef struct {
    const char *agent;    /* who acts */
    const char *text;     /* the action's text field ("" when absent) */
    const char *target;   /* assign: "assignee"; transfer: "to" */
    int to_customer;      /* note */
    json_t *report;       /* resolve: the report object, or NULL for a plain text */
    const char *priority; /* reclassify: NULL = unchanged */
    const char *service_type;
    int emergency_level; /* reclassify: -1 = unchanged */
} action_body_t;

static int s_blank(const char *s)
{
    return !s || strspn(s, " \t\r\n") == strlen(s);
}

/* An optional string member: NULL when absent or null; -1 with a 422 when
   it is something else or longer than max bytes. */
static int s_opt_string(json_t *body, const char *field, size_t max, const char **out,
                        cs_http_resp_t *resp)
{
    json_t *v = json_object_get(body, field);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        cs_http_error(resp, 422, field, "%s must be a string", field);
        return -1;
    }
    if (json_string_length(v) > max) {
        cs_http_error(resp, 422, field, "%s is longer than %zu bytes", field, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* resolve's report: a text, or {"work_done", "parts", "root_cause",
   "recommendations"} of which work_done is required and parts is a list of
   texts. Sets b->text (plain) or b->report (object). */
static int s_read_report(json_t *body, action_body_t *b, cs_http_resp_t *resp)
{
    json_t *rep = json_object_get(body, "report");
    if (json_is_string(rep)) {
        if (json_string_length(rep) > TICKET_MESSAGE_MAX) {
            cs_http_error(resp, 422, "report", "report is longer than %d bytes",
                          TICKET_MESSAGE_MAX);
            return -1;
        }
        b->text = json_string_value(rep);
        if (s_blank(b->text)) {
            cs_http_error(resp, 422, "report", "report is required for resolve");
            return -1;
        }
        return 0;
    }
    if (!json_is_object(rep)) {
        cs_http_error(resp, 422, "report",
                      "report is required for resolve: a text, or {\"work_done\", \"parts\","
                      " \"root_cause\", \"recommendations\"}");
        return -1;
    }
    static const char *const texts[] = {"work_done", "root_cause", "recommendations"};
    size_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(rep, texts[i]);
        char field[48];
        snprintf(field, sizeof(field), "report.%s", texts[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            cs_http_error(resp, 422, field, "%s must be a string", field);
            return -1;
        }
        if (i == 0 && s_blank(json_string_value(v))) {
            cs_http_error(resp, 422, field, "%s is required: what was done", field);
            return -1;
        }
        total += json_string_length(v);
    }
    json_t *parts = json_object_get(rep, "parts");
    if (parts && !json_is_null(parts)) {
        size_t i;
        json_t *part;
        if (!json_is_array(parts) || json_array_size(parts) > 100) {
            cs_http_error(resp, 422, "report.parts",
                          "report.parts must be a list of at most 100 texts");
            return -1;
        }
        json_array_foreach(parts, i, part)
        {
            if (!json_is_string(part) || s_blank(json_string_value(part))) {
                cs_http_error(resp, 422, "report.parts",
                              "report.parts[%zu] must be a text naming a part", i);
                return -1;
            }
            total += json_string_length(part);
        }
    }
    if (total > TICKET_MESSAGE_MAX) {
        cs_http_error(resp, 422, "report", "report is longer than %d bytes", TICKET_MESSAGE_MAX);
        return -1;
    }
    b->report = rep;
    return 0;
}

/* reclassify: priority, service_type, emergency_level; at least one. */
static int s_read_reclassify(json_t *body, action_body_t *b, cs_http_resp_t *resp)
{
    if (s_opt_string(body, "priority", 4, &b->priority, resp) < 0 ||
        s_opt_string(body, "service_type", 40, &b->service_type, resp) < 0)
        return -1;
    if (b->priority && !(strlen(b->priority) == 2 && b->priority[0] == 'P' &&
                         b->priority[1] >= '1' && b->priority[1] <= '4')) {
        cs_http_error(resp, 422, "priority", "priority must be P1, P2, P3 or P4");
        return -1;
    }
    if (b->service_type && !classify_is_service_type(b->service_type)) {
        cs_http_error(resp, 422, "service_type",
                      "service_type must be a service type code such"
                      " as equipment_maintenance");
        return -1;
    }
    json_t *em = json_object_get(body, "emergency_level");
    b->emergency_level = -1;
    if (em && !json_is_null(em)) {
        if (!json_is_integer(em) || json_integer_value(em) < 0 || json_integer_value(em) > 3) {
            cs_http_error(resp, 422, "emergency_level",
                          "emergency_level must be 0 (none) or 1, 2, 3");
            return -1;
        }
        b->emergency_level = (int)json_integer_value(em);
    }
    if (!b->priority && !b->service_type && b->emergency_level < 0) {
        cs_http_error(resp, 422, "priority",
                      "reclassify needs priority, service_type or emergency_level");
        return -1;
    }
    return 0;
}

/* Read the request body of action a; 0, or -1 with a 422 in resp. */
static int s_read_body(json_t *body, ticket_action_t a, action_body_t *b, cs_http_resp_t *resp)
{
    int required = 0;
    const char *field = ticket_action_text_field(a, &required);
    memset(b, 0, sizeof(*b));
    b->emergency_level = -1;
    json_t *ag = json_object_get(body, "agent");
    if (!json_is_string(ag) || !ticket_login_valid(json_string_value(ag))) {
        cs_http_error(resp, 422, "agent", "agent must be an agent login such as \"wang.lei\"");
        return -1;
    }
    b->agent = json_string_value(ag);
    if (a == TICKET_RESOLVE)
        return s_read_report(body, b, resp);
    if (s_opt_string(body, field, TICKET_MESSAGE_MAX, &b->text, resp) < 0)
        return -1;
    if (!b->text)
        b->text = "";
    if (required && s_blank(b->text)) {
        cs_http_error(resp, 422, field, "%s is required for %s", field, ticket_action_name(a));
        return -1;
    }
    if (a == TICKET_ASSIGN || a == TICKET_TRANSFER) {
        const char *key = a == TICKET_ASSIGN ? "assignee" : "to";
        json_t *v = json_object_get(body, key);
        if (!json_is_string(v) || !ticket_login_valid(json_string_value(v))) {
            cs_http_error(resp, 422, key, "%s must be the login of the agent who takes the ticket",
                          key);
            return -1;
        }
        b->target = json_string_value(v);
    }
    if (a == TICKET_NOTE) {
        json_t *v = json_object_get(body, "to_customer");
        if (v && !json_is_boolean(v)) {
            cs_http_error(resp, 422, "to_customer", "to_customer must be true or false");
            return -1;
        }
        b->to_customer = json_is_true(v);
    }
    if (a == TICKET_RECLASSIFY)
        return s_read_reclassify(body, b, resp);
    return 0;
}

/* ---- who may act ---- */

static int s_is_lead_of(cs_db_t *db, const char *login, const char *team)
{
    char lead[ROUTING_LOGIN_MAX];
    if (!*team || routing_team_contact(db, team, "lead", lead, sizeof(lead)) < 0)
        return 0;
    return strcmp(lead, login) == 0;
}

/* Supervisors and ops act on every ticket; a team lead on their team's. */
static int s_oversees(cs_db_t *db, const routing_person_t *who, const ticket_t *t)
{
    if (strcmp(who->role, "supervisor") == 0 || strcmp(who->role, "ops") == 0)
        return 1;
    return strcmp(who->role, "team_lead") == 0 && s_is_lead_of(db, who->login, t->team);
}

/* 0 if who may do a to t, else -1 with a 403 in resp. */
static int s_allowed(cs_db_t *db, const routing_person_t *who, ticket_action_t a, const ticket_t *t,
                     cs_http_resp_t *resp)
{
    if (a == TICKET_ASSIGN) {
        if (s_oversees(db, who, t))
            return 0;
        cs_http_error(resp, 403, "agent",
                      "%s may not assign ticket %s: only its team lead, a supervisor or ops may",
                      who->login, t->number);
        return -1;
    }
    if (a == TICKET_ACCEPT) {
        if (routing_has_skill(who->skills, t->service_type) || s_oversees(db, who, t))
            return 0;
        cs_http_error(resp, 403, "agent", "%s is not skilled in %s and cannot accept ticket %s",
                      who->login, t->service_type, t->number);
        return -1;
    }
    if (strcmp(who->login, t->assignee) == 0 || strcmp(who->login, t->owner) == 0 ||
        s_oversees(db, who, t))
        return 0;
    cs_http_error(resp, 403, "agent",
                  "%s is neither the assignee nor the first-contact owner of ticket %s", who->login,
                  t->number);
    return -1;
}

/* ---- what each action does, on the locked ticket, in the open transaction ---- */

/* The report as one text for the customer's letter and the history. */
static char *s_report_text(json_t *rep, int en)
{
    static const char *const labels[2][4] = {
        {"处理内容：", "更换备件：", "原因分析：", "改进建议："},
        {"Work done: ", "Parts: ", "Root cause: ", "Recommendations: "}};
    size_t cap = TICKET_MESSAGE_MAX + 512, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = 0;
    const char *work = json_string_value(json_object_get(rep, "work_done"));
    const char *cause = json_string_value(json_object_get(rep, "root_cause"));
    const char *advice = json_string_value(json_object_get(rep, "recommendations"));
    char parts[TICKET_MESSAGE_MAX + 1] = "";
    size_t i, plen = 0;
    json_t *part;
    json_array_foreach(json_object_get(rep, "parts"), i, part)
    {
        int n = snprintf(parts + plen, sizeof(parts) - plen, "%s%s", i ? "; " : "",
                         json_string_value(part));
        if (n < 0 || (size_t)n >= sizeof(parts) - plen)
            break; /* the list is cut at the report's bound; the row keeps it whole */
        plen += (size_t)n;
    }
    const char *values[4] = {work, parts, cause, advice};
    for (int k = 0; k < 4; k++)
        if (!s_blank(values[k]) && len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s%s", len ? "\n" : "", labels[en][k],
                                    values[k]);
    return out;
}

static int s_save_report(cs_db_t *db, const ticket_t *t, const char *agent, json_t *rep)
{
    json_t *parts = json_object_get(rep, "parts");
    char *parts_s = json_is_array(parts) ? json_dumps(parts, JSON_COMPACT) : NULL;
    const char *cause = json_string_value(json_object_get(rep, "root_cause"));
    const char *advice = json_string_value(json_object_get(rep, "recommendations"));
    const char *p[] = {t->ticket_id,
                       agent,
                       ticket_keep((ticket_t *)t,
                                   json_string_value(json_object_get(rep, "work_done")),
                                   TICKET_MESSAGE_MAX),
                       parts_s ? parts_s : "[]",
                       ticket_keep((ticket_t *)t, cause ? cause : "", TICKET_MESSAGE_MAX),
                       ticket_keep((ticket_t *)t, advice ? advice : "", TICKET_MESSAGE_MAX)};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO service_reports (ticket_id, author, work_done, parts,"
                          " root_cause, recommendations) VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
                          6, p);
    free(parts_s);
    return n == 1 ? 0 : -1;
}

/* resolve: the report row (when structured) and the move, whose message is
   the report as text. */
static int s_resolve(cs_db_t *db, ticket_t *t, const action_body_t *b)
{
    if (!b->report)
        return ticket_move(db, t, TICKET_RESOLVED, "dispatch.ticket.resolved", b->agent, "resolve",
                           "", b->text);
    char *text = s_report_text(b->report, strcmp(t->language, "en") == 0);
    if (!text)
        return -1;
    int rc = s_save_report(db, t, b->agent, b->report) < 0
                 ? -1
                 : ticket_move(db, t, TICKET_RESOLVED, "dispatch.ticket.resolved", b->agent,
                               "resolve", "", text);
    free(text);
    return rc;
}

/* accept / assign: the ticket goes to `login`, who becomes its owner if it
   has none yet; its team is the one of its type in their region. */
static int s_take(cs_db_t *db, ticket_t *t, ticket_action_t a, const action_body_t *b,
                  const routing_person_t *to)
{
    char team[64], why[256];
    if (routing_team_for(db, t->service_type, to->region, team, sizeof(team)) < 0 ||
        routing_note_assignment(db, to->login) < 0)
        return -1;
    if (*team)
        ticket_set(t, &t->team, team);
    ticket_set(t, &t->assignee, to->login);
    if (!*t->owner)
        ticket_set(t, &t->owner, to->login); /* first contact: for the ticket's life */
    if (!s_blank(b->text))
        snprintf(why, sizeof(why), "%s", b->text);
    else if (a == TICKET_ACCEPT)
        snprintf(why, sizeof(why), "accepted by %s", to->login);
    else
        snprintf(why, sizeof(why), "assigned to %s by %s", to->login, b->agent);
    return ticket_move(db, t, TICKET_ASSIGNED, "dispatch.ticket.assigned", b->agent,
                       ticket_action_name(a), why, NULL);
}

/* transfer: another assignee, the same owner, the reason kept. */
static int s_transfer(cs_db_t *db, ticket_t *t, const action_body_t *b, const routing_person_t *to)
{
    char team[64], why[TICKET_MESSAGE_MAX + 128];
    const char *from = ticket_keep(t, t->assignee, TICKET_LOGIN_MAX);
    if (routing_team_for(db, t->service_type, to->region, team, sizeof(team)) < 0 ||
        routing_note_assignment(db, to->login) < 0)
        return -1;
    if (*team)
        ticket_set(t, &t->team, team);
    ticket_set(t, &t->assignee, to->login);
    snprintf(why, sizeof(why), "%s", b->text);
    ticket_event_t ev = {.actor = b->agent,
                         .from = t->status,
                         .to = t->status,
                         .reason = why,
                         .message = from, /* whom it was taken from */
                         .escalation_level = (unsigned)t->escalation_level};
    char line[TICKET_LOGIN_MAX * 2 + 16];
    snprintf(line, sizeof(line), "%s -> %s", *from ? from : "nobody", to->login);
    if (ticket_save(db, t) < 0 ||
        ticket_history_add(db, t, b->agent, "transfer", t->status, t->status, why, line) < 0)
        return -1;
    return ticket_emit(db, t, "dispatch.ticket.transferred", &ev);
}

static int s_note(cs_db_t *db, ticket_t *t, const action_body_t *b)
{
    const char *p[] = {t->ticket_id, b->agent, b->to_customer ? "t" : "f", b->text};
    if (cs_db_cmd(db,
                  "INSERT INTO ticket_notes (ticket_id, author, to_customer, text)"
                  " VALUES ($1, $2, $3, $4)",
                  4, p) != 1 ||
        ticket_history_add(db, t, b->agent, "note", t->status, t->status,
                           b->to_customer ? "note to the customer" : "internal note", b->text) < 0)
        return -1;
    ticket_event_t ev = {.actor = b->agent,
                         .from = t->status,
                         .to = t->status,
                         .reason = b->to_customer ? "note to the customer" : "internal note",
                         .message = b->text,
                         .escalation_level = (unsigned)t->escalation_level,
                         .to_customer = b->to_customer};
    return ticket_emit(db, t, "dispatch.ticket.noted", &ev);
}

/* The priority an emergency level implies at least: the urgency it forces
   (1 critical, 2 high, 3 medium) on a single unit in the shipped matrix. */
static int s_emergency_priority(int level)
{
    return level == 1 ? 1 : level == 2 ? 2 : level == 3 ? 3 : 4;
}

/* reclassify: new priority / service type / emergency level, the
   commitments that follow, .reclassified, and .escalated when the level
   rises. 0 applied, 1 nothing changes (422 in resp), -1 error. */
static int s_reclassify(cs_db_t *db, ticket_t *t, const action_body_t *b, cs_http_resp_t *resp)
{
    const char *old_priority = ticket_keep(t, t->priority, 4);
    const char *old_type = ticket_keep(t, t->service_type, 40);
    int old_level = t->emergency_level;
    if (b->priority)
        ticket_set(t, &t->priority, b->priority);
    if (b->service_type)
        ticket_set(t, &t->service_type, b->service_type);
    if (b->emergency_level >= 0) {
        t->emergency_level = b->emergency_level;
        ticket_set(t, &t->emergency_rule_id, b->emergency_level ? "declared" : "");
        int floor = s_emergency_priority(b->emergency_level);
        if (!b->priority && t->priority[1] - '0' > floor) {
            char p[3] = {'P', (char)('0' + floor), 0};
            ticket_set(t, &t->priority, p);
        }
    }
    if (strcmp(old_priority, t->priority) == 0 && strcmp(old_type, t->service_type) == 0 &&
        old_level == t->emergency_level) {
        cs_http_error(resp, 422, "priority", "ticket %s already has these values; nothing changes",
                      t->number);
        return 1;
    }
    if (strcmp(old_type, t->service_type) != 0) {
        /* the team of the new type, in the region of whoever holds it */
        char team[64];
        routing_person_t holder;
        int found = *t->assignee ? routing_person_load(db, t->assignee, &holder) : 0;
        if (found < 0 || routing_team_for(db, t->service_type, found ? holder.region : "east", team,
                                          sizeof(team)) < 0)
            return -1;
        ticket_set(t, &t->team, team);
    }
    ticket_set_commitments(t);
    char what[256];
    snprintf(what, sizeof(what), "priority %s -> %s; service type %s -> %s; emergency %d -> %d",
             old_priority, t->priority, old_type, t->service_type, old_level, t->emergency_level);
    ticket_event_t ev = {.actor = b->agent,
                         .from = t->status,
                         .to = t->status,
                         .reason = b->text,
                         .message = what,
                         .escalation_level = (unsigned)t->escalation_level,
                         .from_priority = old_priority,
                         .from_service_type = old_type};
    if (ticket_save(db, t) < 0 ||
        ticket_history_add(db, t, b->agent, "reclassify", t->status, t->status, b->text, what) <
            0 ||
        ticket_emit(db, t, "dispatch.ticket.reclassified", &ev) < 0)
        return -1;
    if (t->emergency_level > 0 && (old_level == 0 || t->emergency_level < old_level)) {
        char extra[96];
        snprintf(extra, sizeof(extra), "declared by %s", b->agent);
        if (events_emergency(db, t, b->agent, extra) < 0)
            return -1;
    }
    return 0;
}

/* Check and apply action a to the locked ticket t. 0 applied, or -1 with
   resp filled (409, 403, 422, 503). Checked in the order of api.h. */
static int s_apply(cs_db_t *db, ticket_t *t, ticket_action_t a, const action_body_t *b,
                   cs_http_resp_t *resp)
{
    int to = ticket_action_target(a, t->status);
    if (to < 0) {
        cs_http_error(resp, 409, "status", "ticket %s is %s; it cannot be %s now", t->number,
                      ticket_status_name(t->status), ticket_action_done(a));
        return -1;
    }
    routing_person_t who, target;
    int rc = routing_person_load(db, b->agent, &who);
    if (rc < 0)
        goto out_unavailable;
    if (rc == 0) {
        cs_http_error(resp, 403, "agent", "%s is not an active agent of the desk", b->agent);
        return -1;
    }
    if (s_allowed(db, &who, a, t, resp) < 0)
        return -1;
    if (a == TICKET_ASSIGN || a == TICKET_TRANSFER) {
        const char *key = a == TICKET_ASSIGN ? "assignee" : "to";
        rc = routing_person_load(db, b->target, &target);
        if (rc < 0)
            goto out_unavailable;
        if (rc == 0) {
            cs_http_error(resp, 422, key, "%s: no active agent %s", key, b->target);
            return -1;
        }
        if (a == TICKET_TRANSFER && strcmp(b->target, t->assignee) == 0) {
            cs_http_error(resp, 422, "to", "%s already holds ticket %s", b->target, t->number);
            return -1;
        }
    }
    switch (a) {
    case TICKET_ACCEPT:
        rc = s_take(db, t, a, b, &who);
        break;
    case TICKET_ASSIGN:
        rc = s_take(db, t, a, b, &target);
        break;
    case TICKET_TRANSFER:
        rc = s_transfer(db, t, b, &target);
        break;
    case TICKET_NOTE:
        rc = s_note(db, t, b);
        break;
    case TICKET_RESOLVE:
        rc = s_resolve(db, t, b);
        break;
    case TICKET_RECLASSIFY:
        rc = s_reclassify(db, t, b, resp);
        if (rc > 0)
            return -1;
        break;
    default: {
        int is_message = a == TICKET_RESPOND;
        rc = ticket_move(db, t, (ticket_status_t)to, ticket_action_event(a), b->agent,
                         ticket_action_name(a), is_message ? "" : b->text,
                         is_message ? b->text : "");
    }
    }
    if (rc == 0)
        return 0;
out_unavailable:
    cs_http_error(resp, 503, NULL, "database error; the action was not recorded");
    return -1;
}

static void s_action(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const action_route_t *route = req->ctx;
    const char *number = req->param[0];
    action_body_t b;
    ticket_t *t = NULL;
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    if (s_read_body(body, route->action, &b, resp) < 0)
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
    if (s_apply(req->db, t, route->action, &b, resp) < 0) {
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
            b.agent, ticket_status_name(t->status));
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

/* The filters every list and queue takes: status, priority, service_type,
   team, assignee, emergency (lowest level counted, 1..3), limit, offset.
   0, or -1 with a 422 naming the parameter. */
static int s_read_filter(cs_http_req_t *req, cs_http_resp_t *resp, ticket_filter_t *f,
                         int64_t *limit, int64_t *offset)
{
    ticket_status_t st;
    const char *v;
    v = cs_http_query(req, "status");
    if (v && *v && ticket_status_parse(v, &st) < 0) {
        cs_http_error(resp, 422, "status",
                      "status must be one of new, accepted, queued,"
                      " assigned, in_progress, pending_customer, resolved, closed, reopened,"
                      " terminated");
        return -1;
    }
    f->status = v ? v : "";
    v = cs_http_query(req, "priority");
    if (v && *v && !(strlen(v) == 2 && v[0] == 'P' && v[1] >= '1' && v[1] <= '4')) {
        cs_http_error(resp, 422, "priority", "priority must be P1, P2, P3 or P4");
        return -1;
    }
    f->priority = v ? v : "";
    v = cs_http_query(req, "service_type");
    if (v && *v && !classify_is_service_type(v)) {
        cs_http_error(resp, 422, "service_type", "service_type must be a service type code");
        return -1;
    }
    f->service_type = v ? v : "";
    v = cs_http_query(req, "team");
    if (v && *v && !ticket_login_valid(v)) {
        cs_http_error(resp, 422, "team", "team must be a team code such as eqm-east");
        return -1;
    }
    f->team = v ? v : "";
    v = cs_http_query(req, "assignee");
    if (v && *v && !ticket_login_valid(v)) {
        cs_http_error(resp, 422, "assignee", "assignee must be an agent login");
        return -1;
    }
    f->assignee = v ? v : "";
    int64_t em;
    if (cs_http_query_int(req, resp, "emergency", 0, 0, 3, &em) < 0 ||
        cs_http_query_int(req, resp, "limit", 50, 1, LIST_LIMIT_MAX, limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, LIST_OFFSET_MAX, offset) < 0)
        return -1;
    f->min_emergency = (int)em;
    return 0;
}

static void s_answer_list(cs_http_req_t *req, cs_http_resp_t *resp, const char *queue,
                          const ticket_filter_t *f, int64_t limit, int64_t offset)
{
    int64_t total = 0;
    json_t *list = ticket_query_json(req->db, f, limit, offset, &total);
    if (!list) {
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    json_t *o = json_object();
    if (queue)
        json_object_set_new(o, "queue", json_string(queue));
    json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(list)));
    json_object_set_new(o, "total", json_integer(total));
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "limit", json_integer(limit));
    json_object_set_new(o, "tickets", list);
    cs_http_json(resp, 200, o);
}

/* GET /v1/tickets?status=&assignee=&…&limit=&offset= : newest first, paged. */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    ticket_filter_t f = {0};
    int64_t limit, offset;
    if (s_read_filter(req, resp, &f, &limit, &offset) < 0)
        return;
    s_answer_list(req, resp, NULL, &f, limit, offset);
}

/* GET /v1/queues/{mine,team,unassigned,at-risk}: open tickets, most urgent
   and oldest first (emergencies, then breached, then priority, then age).
   mine needs agent= (assignee or first-contact owner); team needs team=. */
static void s_queue(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *queue = req->ctx;
    ticket_filter_t f = {0};
    int64_t limit, offset;
    if (s_read_filter(req, resp, &f, &limit, &offset) < 0)
        return;
    f.open_only = 1;
    f.queue_order = 1;
    const char *agent = cs_http_query(req, "agent");
    if (agent && !ticket_login_valid(agent)) {
        cs_http_error(resp, 422, "agent", "agent must be an agent login");
        return;
    }
    if (strcmp(queue, "mine") == 0) {
        if (!agent) {
            cs_http_error(resp, 422, "agent", "agent is required: whose tickets");
            return;
        }
        f.mine = agent;
    } else if (strcmp(queue, "team") == 0) {
        if (!*f.team) {
            cs_http_error(resp, 422, "team", "team is required: which team's tickets");
            return;
        }
    } else if (strcmp(queue, "unassigned") == 0) {
        f.unassigned_only = 1;
    } else {
        f.at_risk_only = 1;
    }
    s_answer_list(req, resp, queue, &f, limit, offset);
}

/* GET /v1/tickets/{number}: what dispatch knows — the ticket, the request's
   text as intake carried it, history, notes and service reports. */
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
    json_t *notes = history ? ticket_notes_json(req->db, t->ticket_id) : NULL;
    json_t *reports = notes ? ticket_reports_json(req->db, t->ticket_id) : NULL;
    if (!reports) {
        json_decref(history);
        json_decref(notes);
        ticket_destroy(&t);
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    json_t *o = ticket_to_json(t);
    json_object_set_new(o, "description", json_string(t->description));
    json_object_set_new(o, "requested_type", cs_json_str_or_null(t->requested_type));
    json_object_set_new(o, "message_id", cs_json_str_or_null(t->message_id));
    json_object_set_new(o, "history", history);
    json_object_set_new(o, "notes", notes);
    json_object_set_new(o, "reports", reports);
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
        " a.assigned_total, a.role FROM agents a WHERE a.active ORDER BY a.login",
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
        json_object_set_new(a, "role", json_string(cs_db_get(r, i, 8)));
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

/* Presence decides who can take tickets; becoming available lets the next
   tick give queued tickets out. "online" is the older word for available. */
static void s_presence(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *login = req->param[0];
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *presence = json_string_value(json_object_get(body, "presence"));
    if (presence && strcmp(presence, "online") == 0)
        presence = "available";
    if (!routing_presence_valid(presence)) {
        cs_http_error(resp, 422, "presence", "presence must be available, busy, away or offline");
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

/* ---- teams and their shifts ------------------------------------------------------------- */

static void s_teams(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT t.code, t.name, t.name_en, t.service_type, t.region, coalesce(t.lead, ''),"
        " coalesce(t.manager, ''), t.time_zone, team_on_shift(t.code, now()),"
        " coalesce((SELECT json_agg(json_build_object('weekday', s.weekday,"
        "   'starts', to_char(s.starts, 'HH24:MI'), 'ends', to_char(s.ends, 'HH24:MI'))"
        "   ORDER BY s.weekday, s.starts) FROM team_shifts s WHERE s.team = t.code), '[]'),"
        " (SELECT count(*) FROM tickets k WHERE k.team = t.code"
        "   AND k.status NOT IN ('closed', 'terminated'))"
        " FROM teams t ORDER BY t.code",
        0, NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable; try again");
        return;
    }
    static const char *const keys[] = {"code",   "name", "name_en", "service_type",
                                       "region", "lead", "manager", "time_zone"};
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int k = 0; k < 8; k++)
            json_object_set_new(o, keys[k],
                                k == 5 || k == 6 ? cs_json_str_or_null(cs_db_get(r, i, k))
                                                 : json_string(cs_db_get(r, i, k)));
        json_t *shifts = json_loads(cs_db_get(r, i, 9), 0, NULL);
        json_object_set_new(o, "on_shift", json_boolean(strcmp(cs_db_get(r, i, 8), "t") == 0));
        json_object_set_new(o, "shifts", shifts ? shifts : json_array());
        json_object_set_new(o, "open", json_integer(cs_db_get_i64(r, i, 10)));
        json_array_append_new(list, o);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "teams", list);
    cs_http_json(resp, 200, o);
}

/* "HH:MM" (00:00 .. 23:59) → 1; else 0. */
static int s_clock_valid(const char *s)
{
    return s && strlen(s) == 5 && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
           s[2] == ':' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' &&
           (s[0] < '2' || s[1] <= '3');
}

/* Check the shifts list of a PUT; 0, or -1 with a 422 naming the entry. */
static int s_read_shifts(json_t *shifts, cs_http_resp_t *resp)
{
    size_t i;
    json_t *sh;
    if (!json_is_array(shifts) || json_array_size(shifts) > 7 * 6) {
        cs_http_error(resp, 422, "shifts",
                      "shifts must be a list (at most 42) of {\"weekday\": 1..7, \"starts\":"
                      " \"HH:MM\", \"ends\": \"HH:MM\"}; an empty list means 7x24");
        return -1;
    }
    json_array_foreach(shifts, i, sh)
    {
        json_t *wd = json_object_get(sh, "weekday");
        const char *st = json_string_value(json_object_get(sh, "starts"));
        const char *en = json_string_value(json_object_get(sh, "ends"));
        if (!json_is_integer(wd) || json_integer_value(wd) < 1 || json_integer_value(wd) > 7) {
            cs_http_error(resp, 422, "shifts", "shifts[%zu].weekday must be 1 (Monday) .. 7", i);
            return -1;
        }
        if (!s_clock_valid(st) || !s_clock_valid(en)) {
            cs_http_error(resp, 422, "shifts", "shifts[%zu].starts and .ends must be HH:MM", i);
            return -1;
        }
    }
    return 0;
}

/* PUT /v1/teams/{code}/shifts {"agent", "time_zone"?, "shifts": [...]}:
   replaces the team's shift calendar; a supervisor, ops or the team's
   lead may. The queue is drained by the next tick if someone is now on
   shift. */
static void s_put_shifts(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *team = req->param[0];
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *agent = json_string_value(json_object_get(body, "agent"));
    json_t *tzv = json_object_get(body, "time_zone");
    const char *tz = json_string_value(tzv);
    json_t *shifts = json_object_get(body, "shifts");
    routing_person_t who;
    if (!ticket_login_valid(agent)) {
        cs_http_error(resp, 422, "agent", "agent must be an agent login such as \"ma.jun\"");
        goto out_free_body;
    }
    if (tzv && (!tz || strlen(tz) == 0 || strlen(tz) > 64 ||
                strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
                    strlen(tz))) {
        cs_http_error(resp, 422, "time_zone",
                      "time_zone must be a zone name such as Asia/Shanghai");
        goto out_free_body;
    }
    if (s_read_shifts(shifts, resp) < 0)
        goto out_free_body;
    if (!ticket_login_valid(team)) {
        cs_http_error(resp, 404, NULL, "no such team");
        goto out_free_body;
    }
    if (cs_db_begin(req->db) < 0)
        goto out_unavailable;
    PGresult *r = cs_db_exec(req->db,
                             "SELECT coalesce(lead, ''), $2::text IS NULL OR EXISTS (SELECT 1"
                             " FROM pg_timezone_names WHERE name = $2)"
                             " FROM teams WHERE code = $1 FOR UPDATE",
                             2, (const char *[]){team, tz});
    if (!r)
        goto out_rollback_unavailable;
    int found = PQntuples(r) == 1;
    int lead = found && strcmp(cs_db_get(r, 0, 0), agent) == 0;
    int tz_ok = found && strcmp(cs_db_get(r, 0, 1), "t") == 0;
    PQclear(r);
    if (!found) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, NULL, "no team %s", team);
        goto out_free_body;
    }
    if (!tz_ok) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 422, "time_zone", "unknown time zone %s", tz);
        goto out_free_body;
    }
    int rc = routing_person_load(req->db, agent, &who);
    if (rc < 0)
        goto out_rollback_unavailable;
    if (rc == 0 || !(lead || strcmp(who.role, "supervisor") == 0 || strcmp(who.role, "ops") == 0)) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 403, "agent",
                      "%s may not change the shifts of %s: its lead, a supervisor or ops may",
                      agent, team);
        goto out_free_body;
    }
    if (cs_db_cmd(req->db, "DELETE FROM team_shifts WHERE team = $1", 1, (const char *[]){team}) <
            0 ||
        (tz && cs_db_cmd(req->db, "UPDATE teams SET time_zone = $2 WHERE code = $1", 2,
                         (const char *[]){team, tz}) != 1))
        goto out_rollback_unavailable;
    size_t i;
    json_t *sh;
    json_array_foreach(shifts, i, sh)
    {
        char wd[24];
        const char *p[] = {team, cs_db_i64(wd, json_integer_value(json_object_get(sh, "weekday"))),
                           json_string_value(json_object_get(sh, "starts")),
                           json_string_value(json_object_get(sh, "ends"))};
        if (cs_db_cmd(req->db,
                      "INSERT INTO team_shifts (team, weekday, starts, ends)"
                      " VALUES ($1, $2, $3::time, $4::time) ON CONFLICT (team, weekday, starts)"
                      " DO UPDATE SET ends = EXCLUDED.ends",
                      4, p) < 0)
            goto out_rollback_unavailable;
    }
    if (cs_db_commit(req->db) < 0)
        goto out_unavailable;
    cs_info("dispatch: shifts of team %s set by %s (%zu)", team, agent, json_array_size(shifts));
    s_teams(req, resp);
    goto out_free_body;

out_rollback_unavailable:
    cs_db_rollback(req->db);
out_unavailable:
    cs_http_error(resp, 503, NULL, "database unavailable; try again");
out_free_body:
    json_decref(body);
}

static const char *const s_queues[] = {"mine", "team", "unassigned", "at-risk"};

void api_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    snprintf(s_region, sizeof(s_region), "%s", cs_env_svc("dispatch", "REGION", "east"));
    cs_http_route(http, "GET", "/v1/tickets", s_list, svc);
    cs_http_route(http, "GET", "/v1/tickets/*", s_get, svc);
    for (int a = 0; a < TICKET_ACTION_COUNT; a++) {
        char pattern[64];
        s_action_routes[a] = (action_route_t){svc, (ticket_action_t)a};
        snprintf(pattern, sizeof(pattern), "/v1/tickets/*/%s",
                 ticket_action_name((ticket_action_t)a));
        cs_http_route(http, "POST", pattern, s_action, &s_action_routes[a]);
    }
    for (size_t q = 0; q < sizeof(s_queues) / sizeof(*s_queues); q++) {
        char pattern[64];
        snprintf(pattern, sizeof(pattern), "/v1/queues/%s", s_queues[q]);
        cs_http_route(http, "GET", pattern, s_queue, (void *)s_queues[q]);
    }
    cs_http_route(http, "GET", "/v1/stats", s_stats, svc);
    cs_http_route(http, "GET", "/v1/agents", s_agents, svc);
    cs_http_route(http, "POST", "/v1/agents/*/presence", s_presence, svc);
    cs_http_route(http, "GET", "/v1/teams", s_teams, svc);
    cs_http_route(http, "PUT", "/v1/teams/*/shifts", s_put_shifts, svc);
}
