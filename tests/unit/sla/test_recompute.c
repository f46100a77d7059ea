/*
 * test_recompute.c — a clock recomputed from its original start with its
 * pauses replayed (sla_clock_recompute), escalation levels after a breach,
 * and the preview's new timeline kinds going through the same functions.
 *
 * 7×24 cases start at T0 = 2026-12-03 08:00 UTC ("00:00" below means T0).
 * Business cases use cn-office: Asia/Shanghai, Mon-Fri 08:30-12:00 and
 * 13:00-17:30; 2026-01-09 is a Friday, 2026-01-13 a Tuesday, 2026-01-15 a
 * Thursday (checked with `date`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../services/sla/clock.h"
#include "../../../services/sla/preview.h"

#define MIN (60 * 1000LL)
#define T0 1796284800000LL /* 2026-12-03T08:00:00Z */
#define FR SLA_TARGET_FIRST_RESPONSE
#define RES SLA_TARGET_RESOLUTION

static sla_calendar_t *s_7x24, *s_cn;
static sla_policy_t s_always, s_office;

static int s_setup(void **state)
{
    (void)state;
    s_7x24 = sla_calendar_new_7x24();
    s_cn = sla_calendar_new_named("cn-office");
    s_always = (sla_policy_t){.calendar = s_7x24, .minute_ms = MIN, .warn_percent = 80};
    s_office = (sla_policy_t){.calendar = s_cn, .minute_ms = MIN, .warn_percent = 80};
    return s_7x24 && s_cn ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    sla_calendar_destroy(&s_7x24);
    sla_calendar_destroy(&s_cn);
    return 0;
}

static int64_t s_sh(const char *text)
{
    int y, mo, d, h, mi;
    if (sscanf(text, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5)
        fail_msg("bad time in test: %s", text);
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return ((int64_t)timegm(&tm) - 8 * 3600) * 1000;
}

static sla_clock_t s_armed(const sla_policy_t *p, int64_t start, int64_t minutes)
{
    sla_clock_t c;
    char err[128] = "";
    assert_int_equal(sla_clock_arm(&c, p, RES, start, minutes, err, sizeof(err)), 0);
    return c;
}

/* 120 min from 00:00, paused 00:30, resumed 01:30 (deadline 03:00). The
   priority rises: 60 min from the original start is due 01:00; the pause
   at 00:30 still came before it, so its hour counts again → 02:00. The
   warning share (48 min → 00:48) lay after the pause start: it moves by
   the same hour → 01:48. */
static void test_a_recompute_counts_from_the_original_start_and_keeps_the_pauses(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(&s_always, T0, 120);
    assert_int_equal(sla_clock_pause(&c, T0 + 30 * MIN), 1);
    assert_int_equal(sla_clock_resume(&c, &s_always, T0 + 90 * MIN), 1);
    assert_int_equal(c.deadline_ms, T0 + 180 * MIN);
    int64_t pauses[] = {T0 + 30 * MIN, T0 + 90 * MIN};
    assert_int_equal(sla_clock_recompute(&c, &s_always, 60 * MIN, pauses, 2), 1);
    assert_int_equal(c.state, SLA_CLOCK_RUNNING);
    assert_int_equal(c.started_at_ms, T0);
    assert_int_equal(c.target_minutes, 60);
    assert_int_equal(c.deadline_ms, T0 + 120 * MIN);
    assert_int_equal(c.warn_at_ms, T0 + 108 * MIN);
    /* and back to 120: the same as never changed */
    assert_int_equal(sla_clock_recompute(&c, &s_always, 120 * MIN, pauses, 2), 1);
    assert_int_equal(c.deadline_ms, T0 + 180 * MIN);
}

/* 120 min from 00:00, paused at 01:30 and still paused. Lowered to 60
   min, the deadline (01:00) passed before the pause: the clock was late
   before it waited, so it runs again past its deadline and the next tick
   breaches it at 01:00. */
static void test_a_pause_after_the_new_deadline_does_not_hide_the_breach(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(&s_always, T0, 120);
    assert_int_equal(sla_clock_pause(&c, T0 + 90 * MIN), 1);
    int64_t pauses[] = {T0 + 90 * MIN};
    assert_int_equal(sla_clock_recompute(&c, &s_always, 60 * MIN, pauses, 1), 1);
    assert_int_equal(c.state, SLA_CLOCK_RUNNING);
    assert_int_equal(c.paused_at_ms, 0);
    assert_int_equal(c.deadline_ms, T0 + 60 * MIN);
    assert_int_equal(sla_clock_due(&c, T0 + 91 * MIN), SLA_DUE_BREACH);
    assert_int_equal(sla_clock_due_at(&c, SLA_DUE_BREACH), T0 + 60 * MIN);
}

/* On business hours. Created Fri 2026-01-09 16:00 with 1440 min (24
   working hours), pending from Fri 17:00 to Tue 2026-01-13 10:00. Lowered
   to 960 min (16 h): 1 h was used before the pause (16:00-17:00), 15 h are
   left from Tue 10:00: 2 to 12:00, 4.5 to 17:30 (6.5), Wed 8 (14.5), Thu
   0.5 → Thu 2026-01-15 09:00. The same by the other road: fresh from the
   start the deadline is Tue 16:00 (1.5 Fri + 8 Mon + 6.5 Tue); the pause
   held 0.5 (Fri) + 8 (Mon) + 1.5 (Tue to 10:00) = 10 working hours, and
   Tue 16:00 + 10 h is Thu 09:00. */
static void test_a_business_hours_recompute_replays_the_pause_in_working_time(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(&s_office, s_sh("2026-01-09 16:00"), 1440);
    int64_t pauses[] = {s_sh("2026-01-09 17:00"), s_sh("2026-01-13 10:00")};
    assert_int_equal(sla_clock_pause(&c, pauses[0]), 1);
    assert_int_equal(sla_clock_resume(&c, &s_office, pauses[1]), 1);
    assert_int_equal(c.deadline_ms, s_sh("2026-01-16 09:00"));
    assert_int_equal(sla_clock_recompute(&c, &s_office, 960 * MIN, pauses, 2), 1);
    assert_int_equal(c.deadline_ms, s_sh("2026-01-15 09:00"));
    /* a corrected calendar: the same clock on 7×24 counts the pause's 89 h
       too — 1 h used, 15 h left from Tue 10:00 → Wed 01:00 */
    assert_int_equal(sla_clock_recompute(&c, &s_always, 960 * MIN, pauses, 2), 1);
    assert_int_equal(c.deadline_ms, s_sh("2026-01-14 01:00"));
}

/* Signals given stay given; clocks that stopped counting keep their
   outcome; a history that contradicts the state is not replayed. */
static void test_only_counting_clocks_with_a_consistent_history_are_recomputed(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(&s_always, T0, 100);
    sla_clock_mark(&c, &s_always, SLA_DUE_WARNING);
    assert_int_equal(sla_clock_recompute(&c, &s_always, 1000 * MIN, NULL, 0), 1);
    assert_true(c.warned); /* 80 % of 1000 is far away, but the warning went out */
    assert_int_equal(c.deadline_ms, T0 + 1000 * MIN);
    sla_clock_t met = s_armed(&s_always, T0, 100);
    assert_int_equal(sla_clock_fulfil(&met, T0 + 10 * MIN), SLA_FULFIL_MET);
    sla_clock_t before = met;
    assert_int_equal(sla_clock_recompute(&met, &s_always, 5 * MIN, NULL, 0), 0);
    assert_memory_equal(&met, &before, sizeof(met));
    sla_clock_t paused = s_armed(&s_always, T0, 100);
    assert_int_equal(sla_clock_pause(&paused, T0 + MIN), 1);
    before = paused;
    assert_int_equal(sla_clock_recompute(&paused, &s_always, 50 * MIN, NULL, 0), -1);
    int64_t backwards[] = {T0 + 5 * MIN, T0 + 2 * MIN, T0 + 6 * MIN};
    assert_int_equal(sla_clock_recompute(&paused, &s_always, 50 * MIN, backwards, 3), -1);
    assert_memory_equal(&paused, &before, sizeof(paused));
    assert_int_equal(sla_clock_recompute(&paused, &s_always, 0, NULL, 0), -1);
}

/* Levels at 0, 60 and 240 min after the deadline (60 min from 00:00 → due
   01:00): level 1 at 01:00, 2 at 02:00, 3 at 05:00, each once; a clock
   fulfilled late (or stopped) escalates no further. */
static void test_escalation_levels_come_at_their_delays_after_the_breach_once_each(void **state)
{
    (void)state;
    sla_policy_t p = s_always;
    p.escalate_levels = 3;
    p.escalate_after_ms[0] = 0;
    p.escalate_after_ms[1] = 60 * MIN;
    p.escalate_after_ms[2] = 240 * MIN;
    sla_clock_t c = s_armed(&p, T0, 60);
    assert_int_equal(sla_clock_due(&c, T0 + 60 * MIN), SLA_DUE_BREACH);
    sla_clock_mark(&c, &p, SLA_DUE_BREACH);
    assert_int_equal(c.escalate_at_ms, T0 + 60 * MIN);
    assert_int_equal(sla_clock_due(&c, T0 + 60 * MIN), SLA_DUE_ESCALATION);
    assert_int_equal(sla_clock_due_at(&c, SLA_DUE_ESCALATION), T0 + 60 * MIN);
    sla_clock_mark(&c, &p, SLA_DUE_ESCALATION);
    assert_int_equal(c.escalation_level, 1);
    assert_int_equal(c.escalate_at_ms, T0 + 120 * MIN);
    assert_int_equal(sla_clock_due(&c, T0 + 119 * MIN), SLA_DUE_NONE);
    /* the monitor was down from 01:30 to 06:00: both levels are due now */
    assert_int_equal(sla_clock_due(&c, T0 + 360 * MIN), SLA_DUE_ESCALATION);
    sla_clock_mark(&c, &p, SLA_DUE_ESCALATION);
    assert_int_equal(c.escalate_at_ms, T0 + 300 * MIN);
    assert_int_equal(sla_clock_due(&c, T0 + 360 * MIN), SLA_DUE_ESCALATION);
    sla_clock_mark(&c, &p, SLA_DUE_ESCALATION);
    assert_int_equal(c.escalation_level, 3);
    assert_int_equal(c.escalate_at_ms, 0);
    assert_int_equal(sla_clock_due(&c, T0 + 10000 * MIN), SLA_DUE_NONE);
    /* fulfilled late after level 1: nothing further */
    sla_clock_t d = s_armed(&p, T0, 60);
    sla_clock_mark(&d, &p, SLA_DUE_BREACH);
    sla_clock_mark(&d, &p, SLA_DUE_ESCALATION);
    assert_int_equal(sla_clock_fulfil(&d, T0 + 70 * MIN), SLA_FULFIL_CLOSED_BREACH);
    assert_int_equal(d.escalate_at_ms, 0);
    assert_int_equal(sla_clock_due(&d, T0 + 10000 * MIN), SLA_DUE_NONE);
    /* no levels configured: a breach is the last signal */
    sla_clock_t e = s_armed(&s_always, T0, 60);
    sla_clock_mark(&e, &s_always, SLA_DUE_BREACH);
    assert_int_equal(sla_clock_due(&e, T0 + 10000 * MIN), SLA_DUE_NONE);
}

static sla_preview_event_t s_ev(sla_event_kind_t kind, const char *at)
{
    return (sla_preview_event_t){.kind = kind, .at_ms = s_sh(at)};
}

/* The preview takes pending, the customer's reply and a policy change
   through the live functions: the case of the business-hours recompute
   above as a timeline. P2 (120 / 1440), answered Fri 16:30 (met), pending
   Fri 17:00, the customer replies Tue 10:00 (deadline Fri 16 09:00), the
   policy changes at Tue 11:00 to 120 / 960 → Thu 2026-01-15 09:00. The
   met first response keeps its outcome. */
static void test_the_preview_recomputes_a_policy_change_like_a_live_clock(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {
        s_ev(SLA_EVENT_CREATED, "2026-01-09 16:00"),
        s_ev(SLA_EVENT_AGENT_RESPONSE, "2026-01-09 16:30"),
        s_ev(SLA_EVENT_PENDING, "2026-01-09 17:00"),
        s_ev(SLA_EVENT_CUSTOMER_REPLY, "2026-01-13 10:00"),
        s_ev(SLA_EVENT_POLICY_CHANGED, "2026-01-13 11:00"),
    };
    ev[4].minutes[FR] = 120;
    ev[4].minutes[RES] = 960;
    static const int64_t p2[SLA_TICKET_TARGETS] = {120, 1440};
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(sla_preview_run(&s_office, p2, ev, 5, 0, &out, err, sizeof(err)), 0);
    const sla_preview_clock_t *res = &out.clocks[RES];
    assert_int_equal(out.changes, 1);
    assert_int_equal(res->clock.deadline_ms, s_sh("2026-01-15 09:00"));
    assert_int_equal(res->clock.target_minutes, 960);
    assert_int_equal(res->nsteps, 4); /* armed, paused, resumed, changed */
    assert_string_equal(res->steps[3].kind, "changed");
    assert_int_equal(out.clocks[FR].clock.state, SLA_CLOCK_MET);
    assert_int_equal(out.clocks[FR].nsteps, 2); /* armed, met: no change for a met clock */
    /* 1 h before the pause + Tue 10:00-11:00 = 2 h of 16 used */
    assert_int_equal(res->used_ms, 120 * MIN);
    /* a reopening after the resolution counts the new target: resolved
       Thu 2026-01-15 08:45, reopened at 09:00 → 960 min from Thu 09:00:
       Thu 3 + 4.5 (7.5), Fri 8 (15.5), Mon 2026-01-19 0.5 → 09:00 */
    sla_preview_event_t more[7];
    memcpy(more, ev, sizeof(ev));
    more[5] = s_ev(SLA_EVENT_RESOLVED, "2026-01-15 08:45");
    more[6] = s_ev(SLA_EVENT_REOPENED, "2026-01-15 09:00");
    assert_int_equal(sla_preview_run(&s_office, p2, more, 7, 0, &out, err, sizeof(err)), 0);
    assert_int_equal(out.clocks[RES].clock.round, 2);
    assert_int_equal(out.clocks[RES].clock.deadline_ms, s_sh("2026-01-19 09:00"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_recompute_counts_from_the_original_start_and_keeps_the_pauses),
        cmocka_unit_test(test_a_pause_after_the_new_deadline_does_not_hide_the_breach),
        cmocka_unit_test(test_a_business_hours_recompute_replays_the_pause_in_working_time),
        cmocka_unit_test(test_only_counting_clocks_with_a_consistent_history_are_recomputed),
        cmocka_unit_test(test_escalation_levels_come_at_their_delays_after_the_breach_once_each),
        cmocka_unit_test(test_the_preview_recomputes_a_policy_change_like_a_live_clock),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
