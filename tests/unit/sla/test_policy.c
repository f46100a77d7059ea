/*
 * test_policy.c — which policy a ticket gets, and what it promises
 * (services/sla/policy.h).
 *
 * Specificity = (fields not "*") × 16 + rank bits, priority 8, service
 * type 4, tier 2, channel 1; higher wins. Weekdays for the working-day
 * cases (checked with `date`): 2026-01-12 Mon, 2026-01-21 Wed; January
 * 2026 after the 3rd has no holiday on cn-office.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../services/sla/clock.h"
#include "../../../services/sla/policy.h"

#define MIN (60 * 1000LL)

/* A policy matching p/s/t/c ("*" = any), with first response `fr`. */
static sla_terms_t s_policy(const char *id, const char *p, const char *s, const char *t,
                            const char *c, int64_t fr)
{
    sla_terms_t x;
    sla_policy_builtin(&x, "P3", "7x24");
    x.builtin = 0;
    snprintf(x.id, sizeof(x.id), "%s", id);
    const char *m[SLA_FACT_COUNT] = {p, s, t, c};
    for (int f = 0; f < SLA_FACT_COUNT; f++)
        snprintf(x.match[f], sizeof(x.match[f]), "%s", m[f]);
    x.minutes[SLA_TARGET_FIRST_RESPONSE] = fr;
    return x;
}

static const char *s_chosen(const sla_terms_t *list, size_t n, const char *p, const char *s,
                            const char *t, const char *c)
{
    const char *facts[SLA_FACT_COUNT] = {p, s, t, c};
    const sla_terms_t *x = sla_policy_choose(list, n, facts);
    return x ? x->id : "(none)";
}

/* "2026-01-12 09:00" Shanghai time → ms, by timegm (not the code under test). */
static int64_t s_sh(const char *text)
{
    int y, mo, d, h, mi;
    if (sscanf(text, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5)
        fail_msg("bad time in test: %s", text);
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return ((int64_t)timegm(&tm) - 8 * 3600) * 1000;
}

/* all: {*,*,*,*} = 0; p1: {P1,*,*,*} = 16+8 = 24; p1_strategic:
   {P1,*,strategic,*} = 32+8+2 = 42; maint_strategic_email:
   {*,maintenance,strategic,email} = 48+4+2+1 = 55. */
static void test_the_most_specific_matching_policy_wins(void **state)
{
    (void)state;
    sla_terms_t list[] = {
        s_policy("all", "*", "*", "*", "*", 300),
        s_policy("p1", "P1", "*", "*", "*", 60),
        s_policy("p1-strategic", "P1", "*", "strategic", "*", 30),
        s_policy("maint-strategic-email", "*", "maintenance", "strategic", "email", 45),
    };
    assert_int_equal(sla_policy_specificity(&list[0]), 0);
    assert_int_equal(sla_policy_specificity(&list[1]), 24);
    assert_int_equal(sla_policy_specificity(&list[2]), 42);
    assert_int_equal(sla_policy_specificity(&list[3]), 55);
    /* all four match: three specific fields beat two */
    assert_string_equal(s_chosen(list, 4, "P1", "maintenance", "strategic", "email"),
                        "maint-strategic-email");
    /* by phone the 3-field one no longer matches: P1 + strategic (42) wins */
    assert_string_equal(s_chosen(list, 4, "P1", "maintenance", "strategic", "phone"),
                        "p1-strategic");
    assert_string_equal(s_chosen(list, 4, "P1", "training", "sme", "web"), "p1");
    assert_string_equal(s_chosen(list, 4, "P4", "training", "sme", "web"), "all");
}

/* Equally specific policies: the rank decides, whatever the order of the
   list. {P2,*,*,*} = 24 beats {*,maintenance,*,*} = 20; {*,*,large,*} = 18
   beats {*,*,*,web} = 17. */
static void test_equally_specific_policies_are_ranked_priority_service_tier_channel(void **state)
{
    (void)state;
    sla_terms_t a[] = {s_policy("by-service", "*", "maintenance", "*", "*", 90),
                       s_policy("by-priority", "P2", "*", "*", "*", 60)};
    sla_terms_t b[] = {a[1], a[0]};
    assert_string_equal(s_chosen(a, 2, "P2", "maintenance", "", ""), "by-priority");
    assert_string_equal(s_chosen(b, 2, "P2", "maintenance", "", ""), "by-priority");
    sla_terms_t c[] = {s_policy("by-channel", "*", "*", "*", "web", 90),
                       s_policy("by-tier", "*", "*", "large", "*", 60)};
    sla_terms_t d[] = {c[1], c[0]};
    assert_string_equal(s_chosen(c, 2, "P3", "", "large", "web"), "by-tier");
    assert_string_equal(s_chosen(d, 2, "P3", "", "large", "web"), "by-tier");
    assert_int_equal(sla_policy_specificity(&c[0]), 17);
    assert_int_equal(sla_policy_specificity(&c[1]), 18);
}

/* A fact the ticket does not carry (NULL or "") only meets "*". */
static void test_an_unknown_fact_only_matches_a_wildcard(void **state)
{
    (void)state;
    sla_terms_t list[] = {s_policy("strategic", "*", "*", "strategic", "*", 30)};
    assert_string_equal(s_chosen(list, 1, "P1", "maintenance", "", "web"), "(none)");
    assert_string_equal(s_chosen(list, 1, "P1", "maintenance", NULL, "web"), "(none)");
    assert_string_equal(s_chosen(list, 1, "P1", "maintenance", "strategic", NULL), "strategic");
    assert_null(sla_policy_choose(NULL, 0, (const char *[]){"P1", "", "", ""}));
}

/* Built-ins follow DESIGN.md through cs_commitment: P1 answers in 60 min
   and resolves in 24 h (1440); P3 in 120 and 48 h (2880); complaints are
   accepted in 24 h (1440) and handled in 72 h (4320); an unknown priority
   is P3's. */
static void test_the_builtin_defaults_follow_the_commitments(void **state)
{
    (void)state;
    assert_int_equal(sla_policy_defaults_load(), 0);
    sla_terms_t t;
    sla_policy_builtin(&t, "P1", "cn-office");
    assert_string_equal(t.id, "default-P1");
    assert_string_equal(t.match[SLA_FACT_PRIORITY], "P1");
    assert_string_equal(t.match[SLA_FACT_TIER], "*");
    assert_string_equal(t.calendar, "cn-office");
    assert_int_equal(t.minutes[SLA_TARGET_FIRST_RESPONSE], 60);
    assert_int_equal(t.minutes[SLA_TARGET_RESOLUTION], 1440);
    assert_int_equal(t.minutes[SLA_TARGET_COMPLAINT_ACCEPTANCE], 1440);
    assert_int_equal(t.minutes[SLA_TARGET_COMPLAINT_HANDLING], 4320);
    assert_int_equal(t.complex_working_days, 7);
    assert_true(t.builtin);
    sla_policy_builtin(&t, "urgent", "7x24");
    assert_string_equal(t.id, "default-P3");
    assert_int_equal(t.minutes[SLA_TARGET_FIRST_RESPONSE], 120);
    assert_int_equal(t.minutes[SLA_TARGET_RESOLUTION], 2880);
    assert_true(sla_policy_is_builtin_id("default-P4"));
    assert_false(sla_policy_is_builtin_id("default-P5"));
    assert_false(sla_policy_is_builtin_id("strategic"));
}

/* A complex ticket owes 7 working days: 7 × 480 min (cn-office's 8-hour
   day) = 3360 min of working time. From Mon 2026-01-12 09:00: Monday has
   7.5 h left (09:00-12:00, 13:00-17:30), Tue-Fri 4 × 8 = 32 (39.5), Mon 19
   8 (47.5), Tue 20 8 (55.5), Wed 21 the last 0.5 h → 09:00: the same time
   seven working days later. On 7x24 a working day is 24 h: 10080 min. */
static void test_a_complex_ticket_owes_working_days_on_the_policy_calendar(void **state)
{
    (void)state;
    sla_calendar_t *cn = sla_calendar_new_named("cn-office");
    sla_calendar_t *always = sla_calendar_new_7x24();
    sla_terms_t t = s_policy("process", "*", "process_optimisation", "*", "*", 120);
    snprintf(t.calendar, sizeof(t.calendar), "cn-office");
    t.unit = SLA_UNIT_REAL;
    t.complex = 1;
    t.complex_working_days = 7;
    assert_int_equal(sla_calendar_standard_day_ms(cn), 480 * MIN);
    /* working days count on the policy's calendar even in real minutes;
       its first response counts real time */
    assert_string_equal(sla_policy_calendar_for(&t, SLA_TARGET_RESOLUTION), "cn-office");
    assert_string_equal(sla_policy_calendar_for(&t, SLA_TARGET_FIRST_RESPONSE), "7x24");
    int64_t ms = sla_policy_target_ms(&t, SLA_TARGET_RESOLUTION, cn, MIN);
    assert_int_equal(ms, 3360 * MIN);
    assert_int_equal(sla_policy_target_ms(&t, SLA_TARGET_FIRST_RESPONSE, always, MIN), 120 * MIN);
    sla_policy_t counting = {.calendar = cn, .minute_ms = MIN, .warn_percent = 80};
    sla_clock_t c;
    char err[128] = "";
    assert_int_equal(sla_clock_arm_ms(&c, &counting, SLA_TARGET_RESOLUTION,
                                      s_sh("2026-01-12 09:00"), ms, err, sizeof(err)),
                     0);
    assert_int_equal(c.deadline_ms, s_sh("2026-01-21 09:00"));
    assert_int_equal(c.target_minutes, 3360);
    assert_int_equal(sla_policy_target_ms(&t, SLA_TARGET_RESOLUTION, always, MIN), 10080 * MIN);
    /* not complex: the resolution minutes */
    t.complex = 0;
    assert_int_equal(sla_policy_target_ms(&t, SLA_TARGET_RESOLUTION, cn, MIN),
                     t.minutes[SLA_TARGET_RESOLUTION] * MIN);
    sla_calendar_destroy(&cn);
    sla_calendar_destroy(&always);
}

static void test_ids_and_match_values_from_outside_are_checked(void **state)
{
    (void)state;
    assert_true(sla_policy_id_ok("p1-strategic.v2"));
    assert_false(sla_policy_id_ok(""));
    assert_false(sla_policy_id_ok("a b"));
    assert_false(sla_policy_id_ok("x'; DROP TABLE policies; --"));
    char long_id[80];
    memset(long_id, 'a', 64);
    long_id[64] = 0;
    assert_false(sla_policy_id_ok(long_id));
    assert_true(sla_policy_match_ok(SLA_FACT_PRIORITY, "*"));
    assert_true(sla_policy_match_ok(SLA_FACT_PRIORITY, "P4"));
    assert_false(sla_policy_match_ok(SLA_FACT_PRIORITY, "P5"));
    assert_false(sla_policy_match_ok(SLA_FACT_PRIORITY, "p1"));
    assert_true(sla_policy_match_ok(SLA_FACT_SERVICE_TYPE, "equipment_maintenance"));
    assert_false(sla_policy_match_ok(SLA_FACT_TIER, "Strategic"));
    assert_false(sla_policy_match_ok(SLA_FACT_CHANNEL, ""));
    assert_false(sla_policy_match_ok(SLA_FACT_CHANNEL, NULL));
    assert_int_equal(sla_unit_parse("business"), SLA_UNIT_BUSINESS);
    assert_int_equal(sla_unit_parse("real"), SLA_UNIT_REAL);
    assert_int_equal(sla_unit_parse("hours"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_most_specific_matching_policy_wins),
        cmocka_unit_test(test_equally_specific_policies_are_ranked_priority_service_tier_channel),
        cmocka_unit_test(test_an_unknown_fact_only_matches_a_wildcard),
        cmocka_unit_test(test_the_builtin_defaults_follow_the_commitments),
        cmocka_unit_test(test_a_complex_ticket_owes_working_days_on_the_policy_calendar),
        cmocka_unit_test(test_ids_and_match_values_from_outside_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
