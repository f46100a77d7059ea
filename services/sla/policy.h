/*
 * policy — which commitments a ticket or a complaint is owed.
 *
 * A policy matches on four facts of the ticket — priority, service type,
 * customer tier, channel — each either a value or "*" (any), and sets the
 * targets: first response, next-update interval, resolution, and for
 * complaints acceptance and handling, in minutes of business time (counted
 * on the policy's calendar) or of real time (counted on 7x24), and whether
 * its tickets are complex.
 *
 * Which policy applies: among the stored policies that match, the most
 * specific — the one with the most fields not "*"; between two equally
 * specific ones, the one whose specific fields rank higher in the order
 * priority > service type > tier > channel (so {P1,*,*,*} beats
 * {*,maintenance,*,*}). Two different policies can never tie: the table
 * holds one policy per match (UNIQUE), and equal specificity and rank mean
 * the same fields are specific, which on a ticket both match means the
 * same values. Only when no stored policy matches do the built-in defaults
 * apply: "default-P1" … "default-P4", matching on priority alone, with the
 * commitments of common/cs_commitment.h (first response 1 h for P1, 2 h
 * otherwise; resolution 24 h for P1/P2, 48 h otherwise), complaint
 * acceptance 24 h (CS_SLA_COMPLAINT_ACCEPT_MIN), complaint handling 72 h
 * (CS_SLA_COMPLAINT_HANDLE_MIN), next update 4 h (CS_SLA_NEXT_UPDATE_MIN),
 * on the calendar CS_SLA_CALENDAR. Stored policies always win over the
 * built-ins, so an administrator's catch-all {*,*,*,*} replaces them all;
 * storing a policy under a built-in's id overrides that built-in.
 *
 * Complex tickets: a ticket is complex when the policy it matches says so
 * (complex: true — typically a policy matching on a service type, such as
 * process optimisation, whose work takes days). Its resolution target is
 * then complex_working_days working days (default 7, DESIGN.md §1) instead
 * of resolution minutes: that many times the longest working day of the
 * policy's calendar (8 h on cn-office, 24 h on 7x24), counted on that
 * calendar whatever the unit — so 7 working days from Monday 09:00 on
 * cn-office end on the Wednesday of the next week at 09:00.
 */
#ifndef SLA_POLICY_H
#define SLA_POLICY_H
#include <stddef.h>
#include <stdint.h>
#include "calendar.h"
#include "clock.h"

typedef enum {
    SLA_FACT_PRIORITY = 0,
    SLA_FACT_SERVICE_TYPE,
    SLA_FACT_TIER,
    SLA_FACT_CHANNEL,
    SLA_FACT_COUNT
} sla_fact_t;

typedef enum { SLA_UNIT_BUSINESS = 0, SLA_UNIT_REAL } sla_unit_t;

#define SLA_POLICY_ID_MAX 63
#define SLA_FACT_MAX 63
#define SLA_POLICY_DESCRIPTION_MAX 500
#define SLA_POLICIES_MAX 1000
#define SLA_POLICY_MINUTES_MAX 525600 /* a year, as clock.c */
#define SLA_POLICY_DAYS_MAX 365

/* One policy: what it matches and what it promises. */
typedef struct {
    char id[SLA_POLICY_ID_MAX + 1];
    char match[SLA_FACT_COUNT][SLA_FACT_MAX + 1]; /* "*" = any */
    char calendar[SLA_CALENDAR_NAME_MAX];
    sla_unit_t unit;
    /* per clock target, 1..SLA_POLICY_MINUTES_MAX; for SLA_TARGET_NEXT_UPDATE
       0 means no next-update commitment */
    int64_t minutes[SLA_TARGET_COUNT];
    int complex;
    int complex_working_days; /* 1..SLA_POLICY_DAYS_MAX */
    char description[SLA_POLICY_DESCRIPTION_MAX + 1];
    int builtin; /* one of the defaults, not stored */
} sla_terms_t;

const char *sla_fact_name(sla_fact_t fact);
const char *sla_unit_name(sla_unit_t unit);
/* -1 for an unknown name. */
int sla_unit_parse(const char *name);

/* Read the defaults' configuration (cs_commitment_load() and the
   CS_SLA_COMPLAINT_ACCEPT_MIN, CS_SLA_COMPLAINT_HANDLE_MIN,
   CS_SLA_NEXT_UPDATE_MIN knobs). 0, or -1 after logging the bad one. */
int sla_policy_defaults_load(void);
/* The built-in policy for priority ("P1".."P4"; anything else is P3's) on
   calendar. */
void sla_policy_builtin(sla_terms_t *out, const char *priority, const char *calendar);
/* Is id a built-in's id ("default-P1" … "default-P4")? */
int sla_policy_is_builtin_id(const char *id);

/* Is id a policy id: 1 to 63 letters, digits, '-', '_' or '.'? */
int sla_policy_id_ok(const char *id);
/* Is v a match value: "*", or for priority P1..P4, for the others 1 to 63
   of a-z, 0-9, '_', '-'? */
int sla_policy_match_ok(sla_fact_t fact, const char *v);

/* Does t match a ticket with these facts (NULL or "" for unknown, which
   only "*" matches)? */
int sla_policy_matches(const sla_terms_t *t, const char *const facts[SLA_FACT_COUNT]);
/* How specific t is: (fields not "*") × 16 + rank bits (priority 8,
   service type 4, tier 2, channel 1); higher wins. */
int sla_policy_specificity(const sla_terms_t *t);
/* The policy of list[0..n) that applies to facts, or NULL when none
   matches (the caller then takes the built-in). */
const sla_terms_t *sla_policy_choose(const sla_terms_t *list, size_t n,
                                     const char *const facts[SLA_FACT_COUNT]);

/* The name of the calendar a clock of target counts on under t: the
   policy's calendar, or "7x24" for real minutes (a complex ticket's
   resolution always counts working days on the policy's calendar). */
const char *sla_policy_calendar_for(const sla_terms_t *t, sla_target_t target);
/* The working time (ms) t gives target on calendar (the one
   sla_policy_calendar_for() names), with minutes of minute_ms. */
int64_t sla_policy_target_ms(const sla_terms_t *t, sla_target_t target,
                             const sla_calendar_t *calendar, int64_t minute_ms);

#endif
