/*
 * routing — see routing.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_log.h"
#include "routing.h"

int routing_has_skill(const char *skills, const char *service_type)
{
    if (!skills || !service_type || !*service_type)
        return 0;
    size_t n = strlen(service_type);
    for (const char *p = skills; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, service_type, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

int routing_fits(const routing_agent_t *a, const char *service_type)
{
    return a->online && a->load < a->capacity && routing_has_skill(a->skills, service_type);
}

/* Does a deserve the next ticket before b? Fewer open tickets first; then
   the longer wait since the last ticket (never = longest); then the login,
   so that the same state always gives the same answer. */
static int s_before(const routing_agent_t *a, const routing_agent_t *b)
{
    if (a->load != b->load)
        return a->load < b->load;
    if (a->last_assigned_ms != b->last_assigned_ms)
        return a->last_assigned_ms < b->last_assigned_ms;
    return strcmp(a->login, b->login) < 0;
}

int routing_pick(const routing_agent_t *agents, size_t n, const char *service_type)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!routing_fits(&agents[i], service_type))
            continue;
        if (best < 0 || s_before(&agents[i], &agents[best]))
            best = (int)i;
    }
    return best;
}

int routing_presence_valid(const char *p)
{
    return p && (strcmp(p, "available") == 0 || strcmp(p, "busy") == 0 || strcmp(p, "away") == 0 ||
                 strcmp(p, "offline") == 0);
}

int routing_role_valid(const char *r)
{
    return r && (strcmp(r, "agent") == 0 || strcmp(r, "team_lead") == 0 ||
                 strcmp(r, "supervisor") == 0 || strcmp(r, "ops") == 0);
}

/* ---- with the database ---------------------------------------------------------- */

int routing_team_for(cs_db_t *db, const char *service_type, const char *region, char *team,
                     size_t size)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT code FROM teams WHERE service_type = $1"
                             " ORDER BY (region = $2) DESC, code LIMIT 1",
                             2, (const char *[]){service_type, region});
    if (!r)
        return -1;
    snprintf(team, size, "%s", PQntuples(r) ? cs_db_get(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

/* The agents skilled in service_type with their open load, rows locked.
   "online" = available and on the shift of their region's team. */
static routing_agent_t *s_load_candidates(cs_db_t *db, const char *service_type, size_t *n)
{
    PGresult *r = cs_db_exec(
        db,
        "SELECT a.login, a.region, array_to_string(a.skills, ','),"
        " a.presence = 'available' AND team_on_shift((SELECT code FROM teams"
        "   WHERE service_type = $1 AND region = a.region), now()),"
        " a.capacity, (SELECT count(*) FROM tickets t WHERE t.assignee = a.login"
        "   AND t.status IN ('assigned', 'in_progress', 'pending_customer', 'reopened')),"
        " coalesce((extract(epoch FROM a.last_assigned_at) * 1000)::bigint, 0)"
        " FROM agents a WHERE a.active AND $1 = ANY (a.skills)"
        " ORDER BY a.login FOR UPDATE OF a",
        1, (const char *[]){service_type});
    if (!r)
        return NULL;
    *n = (size_t)PQntuples(r);
    routing_agent_t *agents = calloc(*n ? *n : 1, sizeof(*agents));
    for (size_t i = 0; agents && i < *n; i++) {
        routing_agent_t *a = &agents[i];
        snprintf(a->login, sizeof(a->login), "%s", cs_db_get(r, (int)i, 0));
        snprintf(a->region, sizeof(a->region), "%s", cs_db_get(r, (int)i, 1));
        snprintf(a->skills, sizeof(a->skills), "%s", cs_db_get(r, (int)i, 2));
        a->online = strcmp(cs_db_get(r, (int)i, 3), "t") == 0;
        a->capacity = (int)cs_db_get_i64(r, (int)i, 4);
        a->load = (int)cs_db_get_i64(r, (int)i, 5);
        a->last_assigned_ms = cs_db_get_i64(r, (int)i, 6);
    }
    PQclear(r);
    return agents;
}

int routing_assign(cs_db_t *db, ticket_t *t, const char *default_region, const char *exclude)
{
    size_t n = 0;
    char team[64];
    routing_agent_t *agents = s_load_candidates(db, t->service_type, &n);
    if (!agents)
        return -1;
    for (size_t k = 0; exclude && k < n; k++)
        if (strcmp(agents[k].login, exclude) == 0)
            agents[k].online = 0;
    int rc = -1;
    int i = routing_pick(agents, n, t->service_type);
    const char *region = i >= 0 ? agents[i].region : default_region;
    if (routing_team_for(db, t->service_type, region, team, sizeof(team)) < 0)
        goto out_free_agents;
    ticket_set(t, &t->team, team);
    if (i < 0) {
        rc = 0;
        goto out_free_agents;
    }
    if (routing_note_assignment(db, agents[i].login) < 0)
        goto out_free_agents;
    ticket_set(t, &t->assignee, agents[i].login);
    if (!*t->owner)
        ticket_set(t, &t->owner, agents[i].login); /* first contact: for the ticket's life */
    rc = 1;
out_free_agents:
    free(agents);
    return rc;
}

int routing_note_assignment(cs_db_t *db, const char *login)
{
    return cs_db_cmd(db,
                     "UPDATE agents SET last_assigned_at = clock_timestamp(),"
                     " assigned_total = assigned_total + 1 WHERE login = $1",
                     1, (const char *[]){login}) == 1
               ? 0
               : -1;
}

int routing_person_load(cs_db_t *db, const char *login, routing_person_t *out)
{
    memset(out, 0, sizeof(*out));
    PGresult *r = cs_db_exec(db,
                             "SELECT login, region, role, array_to_string(skills, ',')"
                             " FROM agents WHERE login = $1 AND active",
                             1, (const char *[]){login});
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        snprintf(out->login, sizeof(out->login), "%s", cs_db_get(r, 0, 0));
        snprintf(out->region, sizeof(out->region), "%s", cs_db_get(r, 0, 1));
        snprintf(out->role, sizeof(out->role), "%s", cs_db_get(r, 0, 2));
        snprintf(out->skills, sizeof(out->skills), "%s", cs_db_get(r, 0, 3));
    }
    PQclear(r);
    return found;
}

int routing_team_contact(cs_db_t *db, const char *team, const char *which, char *login, size_t size)
{
    int lead = strcmp(which, "lead") == 0;
    PGresult *r = cs_db_exec(db,
                             lead ? "SELECT coalesce(lead, '') FROM teams WHERE code = $1"
                                  : "SELECT coalesce(manager, '') FROM teams WHERE code = $1",
                             1, (const char *[]){team ? team : ""});
    if (!r)
        return -1;
    snprintf(login, size, "%s", PQntuples(r) ? cs_db_get(r, 0, 0) : "");
    PQclear(r);
    return 0;
}
