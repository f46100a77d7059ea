/*
 * policy — matching a ticket to its policy, and what the policy promises
 * (see policy.h). Pure functions and one table of defaults read from the
 * environment at start-up, like common/cs_commitment.c.
 */
#include <stdio.h>
#include <string.h>
#include "cs_commitment.h"
#include "cs_config.h"
#include "policy.h"

static const char *const s_facts[SLA_FACT_COUNT] = {"priority", "service_type", "tier", "channel"};
static const char *const s_units[] = {"business", "real"};

/* Complaint and next-update defaults (minutes), for the built-ins. */
static int64_t s_accept_min = 24 * 60, s_handle_min = 72 * 60, s_next_update_min = 4 * 60;

const char *sla_fact_name(sla_fact_t fact)
{
    return (unsigned)fact < SLA_FACT_COUNT ? s_facts[fact] : "unknown";
}

const char *sla_unit_name(sla_unit_t unit)
{
    return unit == SLA_UNIT_REAL ? s_units[1] : s_units[0];
}

int sla_unit_parse(const char *name)
{
    for (int i = 0; name && i < 2; i++)
        if (strcmp(name, s_units[i]) == 0)
            return i;
    return -1;
}

int sla_policy_defaults_load(void)
{
    if (cs_commitment_load() < 0 ||
        cs_env_int("CS_SLA_COMPLAINT_ACCEPT_MIN", 24 * 60, 1, SLA_POLICY_MINUTES_MAX,
                   &s_accept_min) < 0 ||
        cs_env_int("CS_SLA_COMPLAINT_HANDLE_MIN", 72 * 60, 1, SLA_POLICY_MINUTES_MAX,
                   &s_handle_min) < 0 ||
        cs_env_int("CS_SLA_NEXT_UPDATE_MIN", 4 * 60, 0, SLA_POLICY_MINUTES_MAX,
                   &s_next_update_min) < 0)
        return -1;
    return 0;
}

static int s_priority_ok(const char *p)
{
    return p && strlen(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '4';
}

void sla_policy_builtin(sla_terms_t *out, const char *priority, const char *calendar)
{
    const char *prio = s_priority_ok(priority) ? priority : "P3";
    cs_commitment_t c = cs_commitment_for(prio);
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "default-%s", prio);
    snprintf(out->match[SLA_FACT_PRIORITY], sizeof(out->match[0]), "%s", prio);
    for (int f = SLA_FACT_SERVICE_TYPE; f < SLA_FACT_COUNT; f++)
        snprintf(out->match[f], sizeof(out->match[f]), "*");
    snprintf(out->calendar, sizeof(out->calendar), "%s", calendar);
    out->unit = SLA_UNIT_BUSINESS;
    out->minutes[SLA_TARGET_FIRST_RESPONSE] = c.response_min;
    out->minutes[SLA_TARGET_RESOLUTION] = c.resolution_min;
    out->minutes[SLA_TARGET_COMPLAINT_ACCEPTANCE] = s_accept_min;
    out->minutes[SLA_TARGET_COMPLAINT_HANDLING] = s_handle_min;
    out->minutes[SLA_TARGET_NEXT_UPDATE] = s_next_update_min;
    out->complex = 0;
    out->complex_working_days = 7;
    snprintf(out->description, sizeof(out->description),
             "built-in: the commitments of %s (DESIGN.md; CS_COMMIT_* and CS_SLA_* knobs)", prio);
    out->builtin = 1;
}

int sla_policy_is_builtin_id(const char *id)
{
    return id && strncmp(id, "default-", 8) == 0 && s_priority_ok(id + 8);
}

int sla_policy_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > SLA_POLICY_ID_MAX)
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int sla_policy_match_ok(sla_fact_t fact, const char *v)
{
    if (!v)
        return 0;
    if (strcmp(v, "*") == 0)
        return 1;
    if (fact == SLA_FACT_PRIORITY)
        return s_priority_ok(v);
    size_t n = strlen(v);
    return n >= 1 && n <= SLA_FACT_MAX && strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int sla_policy_matches(const sla_terms_t *t, const char *const facts[SLA_FACT_COUNT])
{
    for (int f = 0; f < SLA_FACT_COUNT; f++) {
        if (strcmp(t->match[f], "*") == 0)
            continue;
        if (!facts[f] || strcmp(t->match[f], facts[f]) != 0)
            return 0;
    }
    return 1;
}

int sla_policy_specificity(const sla_terms_t *t)
{
    int count = 0, rank = 0;
    for (int f = 0; f < SLA_FACT_COUNT; f++)
        if (strcmp(t->match[f], "*") != 0) {
            count++;
            rank |= 8 >> f;
        }
    return count * 16 + rank;
}

const sla_terms_t *sla_policy_choose(const sla_terms_t *list, size_t n,
                                     const char *const facts[SLA_FACT_COUNT])
{
    const sla_terms_t *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < n; i++) {
        if (!sla_policy_matches(&list[i], facts))
            continue;
        int score = sla_policy_specificity(&list[i]);
        /* Equal scores cannot both match (policy.h); the id keeps the
           choice deterministic even on a table that broke the rule. */
        if (score > best_score || (score == best_score && strcmp(list[i].id, best->id) < 0)) {
            best = &list[i];
            best_score = score;
        }
    }
    return best;
}

const char *sla_policy_calendar_for(const sla_terms_t *t, sla_target_t target)
{
    if (t->complex && target == SLA_TARGET_RESOLUTION)
        return t->calendar;
    return t->unit == SLA_UNIT_REAL ? "7x24" : t->calendar;
}

int64_t sla_policy_target_ms(const sla_terms_t *t, sla_target_t target,
                             const sla_calendar_t *calendar, int64_t minute_ms)
{
    if ((unsigned)target >= SLA_TARGET_COUNT)
        return 0;
    if (t->complex && target == SLA_TARGET_RESOLUTION) {
        /* Whole minutes of a standard day (8 h = 480 on cn-office), so
           that a scaled minute (CS_SLA_MINUTE_SECONDS) scales days too. */
        int64_t day_minutes = sla_calendar_standard_day_ms(calendar) / 60000;
        return day_minutes * t->complex_working_days * minute_ms;
    }
    return t->minutes[target] * minute_ms;
}
