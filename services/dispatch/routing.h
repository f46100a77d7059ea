/*
 * routing — who takes a ticket: teams, agents and assignment.
 *
 * Why: a ticket must reach a person who can do the work and has room for
 * it, fairly. The rule, in the desk's words:
 *   - only agents who are available (not busy, away or offline), on shift
 *     (the shift calendar of their region's team for the ticket's service
 *     type; a team without shifts works 7×24), have the ticket's service
 *     type among their skills and hold fewer open tickets than their
 *     capacity can take it;
 *   - of those, the one with the fewest open tickets takes it;
 *   - among equally loaded agents, the one who was given a ticket longest
 *     ago (never counts as longest) — a round robin, so that a quiet desk
 *     shares work out in turn instead of always giving it to the same person;
 *   - nobody fits → the ticket waits in the queue of its service type's team
 *     and is given out as soon as someone fits (routing_drain_queue);
 *   - the first agent a ticket is given to becomes its first-contact owner
 *     (首问负责制) and stays so for the ticket's life.
 * The ticket's team is the team of its service type in the agent's region
 * (for a queued ticket: in the default region, CS_DISPATCH_REGION).
 *
 * routing_pick() is the rule alone (pure, tested by itself); the rest reads
 * and writes the agents and teams tables in the caller's transaction.
 */
#ifndef DISPATCH_ROUTING_H
#define DISPATCH_ROUTING_H
#include <stddef.h>
#include <stdint.h>
#include "cs_db.h"
#include "ticket.h"

#define ROUTING_LOGIN_MAX 64
#define ROUTING_SKILLS_MAX 512

typedef struct {
    char login[ROUTING_LOGIN_MAX];
    char region[16];
    char skills[ROUTING_SKILLS_MAX]; /* service type codes, comma-separated */
    int online;                      /* presence == available, and on shift */
    int capacity;                    /* open tickets at most */
    int load;                        /* open tickets now */
    int64_t last_assigned_ms;        /* 0 = never */
} routing_agent_t;

/* 1 if the comma-separated skills list holds service_type exactly. */
int routing_has_skill(const char *skills, const char *service_type);
/* 1 if the agent may take a ticket of service_type now. */
int routing_fits(const routing_agent_t *agent, const char *service_type);
/* Index of the agent who takes the next ticket of service_type, or -1 when
   nobody fits (the ticket is queued). */
int routing_pick(const routing_agent_t *agents, size_t n, const char *service_type);

/* Presence values an agent can have: available, busy, away, offline. */
int routing_presence_valid(const char *presence);
/* Roles on the desk: agent, team_lead, supervisor, ops. */
int routing_role_valid(const char *role);

/* ---- with the database (inside the caller's transaction) -------------------- */

/* Give the ticket to the agent routing_pick chooses, locking the candidates'
   rows so that two assigners never overfill one agent. On success sets
   t->assignee, t->team and, if unset, t->owner, records the assignment on
   the agent and returns 1; returns 0 when nobody fits (t->team is then the
   queue's team) and -1 on a database error. Does not change t->status.
   exclude (NULL for none) is an agent who must not be chosen (the one a
   breached ticket is taken from). */
int routing_assign(cs_db_t *db, ticket_t *t, const char *default_region, const char *exclude);

/* One person of the desk, as the API checks an actor or a target. */
typedef struct {
    char login[ROUTING_LOGIN_MAX];
    char region[16];
    char role[16];
    char skills[ROUTING_SKILLS_MAX];
} routing_person_t;

/* Load an active agent by login: 1 found, 0 not, -1 database error. */
int routing_person_load(cs_db_t *db, const char *login, routing_person_t *out);
/* Record that login was given a ticket (round robin; assigned_total). */
int routing_note_assignment(cs_db_t *db, const char *login);
/* The lead or the manager of team (which: "lead" or "manager"); "" if none. */
int routing_team_contact(cs_db_t *db, const char *team, const char *which, char *login,
                         size_t size);

/* The team of service_type in region (or in any region when none there).
   Writes "" when there is no team for the type. 0 or -1. */
int routing_team_for(cs_db_t *db, const char *service_type, const char *region, char *team,
                     size_t size);

#endif
