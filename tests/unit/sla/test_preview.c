/*
 * test_preview.c — a ticket's clocks through a timeline of its events
 * (services/sla/preview.h), worked out by hand on the built-in cn-office
 * calendar: Asia/Shanghai (UTC+8, no DST), Monday to Friday 08:30-12:00 and
 * 13:00-17:30 (8 h a day), mainland China holidays and make-up days.
 *
 * Weekdays (checked with `date`): 2026-01-09 Fri, 2026-01-12 Mon,
 * 2026-01-13 Tue, 2026-01-16 Fri, 2026-09-30 Wed, 2026-10-08 Thu,
 * 2026-10-10 Sat (a make-up working day). 2026-10-01..07 are holidays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../services/sla/preview.h"

#define MIN (60 * 1000LL)
#define FR SLA_TARGET_FIRST_RESPONSE
#define RES SLA_TARGET_RESOLUTION

static sla_calendar_t *s_cn;
static sla_policy_t s_office;

static int s_setup(void **state)
{
    (void)state;
    s_cn = sla_calendar_new_named("cn-office");
    s_office = (sla_policy_t){.calendar = s_cn, .minute_ms = MIN, .warn_percent = 80};
    return s_cn ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    sla_calendar_destroy(&s_cn);
    return 0;
}

/* "2026-01-09 16:00" Shanghai time → ms, by timegm (not the code under test). */
static int64_t s_sh(const char *text)
{
    int y, mo, d, h, mi;
    if (sscanf(text, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5)
        fail_msg("bad time in test: %s", text);
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return ((int64_t)timegm(&tm) - 8 * 3600) * 1000;
}

static sla_preview_event_t s_ev(sla_event_kind_t kind, const char *at)
{
    return (sla_preview_event_t){.kind = kind, .at_ms = s_sh(at)};
}

static const int64_t s_p2[SLA_TARGET_COUNT] = {120, 1440};

/* Created Friday 16:00 with a 2 h first response: 16:00-17:30 is 90 min,
   the other 30 on Monday from 08:30 → due Mon 2026-01-12 09:00. The 96-min
   warning: 90 on Friday + 6 → Mon 08:36. Read on Saturday it is running,
   90 min used (75 %): the weekend does not count. */
static void test_a_friday_afternoon_ticket_is_due_monday_morning(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {s_ev(SLA_EVENT_CREATED, "2026-01-09 16:00")};
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(
        sla_preview_run(&s_office, s_p2, ev, 1, s_sh("2026-01-10 12:00"), &out, err, sizeof(err)),
        0);
    assert_int_equal(out.clocks[FR].clock.deadline_ms, s_sh("2026-01-12 09:00"));
    assert_int_equal(out.clocks[FR].clock.warn_at_ms, s_sh("2026-01-12 08:36"));
    assert_int_equal(out.clocks[FR].clock.state, SLA_CLOCK_RUNNING);
    assert_int_equal(out.clocks[FR].used_ms, 90 * MIN);
    assert_int_equal(out.clocks[FR].percent, 75);
}

/* Created Wed 2026-09-30 16:00, before the National Day week. First
   response: 90 min Wednesday, 30 on Thu 8 October → 09:00. Resolution
   1440 min = 24 working hours: 1.5 Wed, 8 Thu (9.5), 8 Fri (17.5), then the
   make-up Saturday 10 October: 3.5 to 12:00 (21), 3 from 13:00 → 16:00. */
static void test_the_national_day_week_does_not_count_and_its_make_up_saturday_does(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {s_ev(SLA_EVENT_CREATED, "2026-09-30 16:00")};
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(sla_preview_run(&s_office, s_p2, ev, 1, 0, &out, err, sizeof(err)), 0);
    assert_int_equal(out.clocks[FR].clock.deadline_ms, s_sh("2026-10-08 09:00"));
    assert_int_equal(out.clocks[RES].clock.deadline_ms, s_sh("2026-10-10 16:00"));
    assert_int_equal(out.as_of_ms, s_sh("2026-09-30 16:00"));
}

/* Waiting for the customer stops the clock, on business hours too.
   Created Fri 2026-01-09 16:00, answered 16:30 (first response met at
   25 %), pending from 17:00 (resolution: 60 min used, 1380 left), the
   customer replies Tue 2026-01-13 10:00. The 23 h left run from Tue 10:00:
   6.5 Tuesday, 8 Wednesday (14.5), 8 Thursday (22.5), 0.5 Friday →
   due Fri 2026-01-16 09:00. At Tue 12:00: 60 + 120 = 180 min used. */
static void test_time_pending_customer_does_not_count_on_business_hours(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {
        s_ev(SLA_EVENT_CREATED, "2026-01-09 16:00"),
        s_ev(SLA_EVENT_AGENT_RESPONSE, "2026-01-09 16:30"),
        s_ev(SLA_EVENT_PENDING, "2026-01-09 17:00"),
        s_ev(SLA_EVENT_CUSTOMER_REPLY, "2026-01-13 10:00"),
    };
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(
        sla_preview_run(&s_office, s_p2, ev, 4, s_sh("2026-01-13 12:00"), &out, err, sizeof(err)),
        0);
    assert_int_equal(out.clocks[FR].clock.state, SLA_CLOCK_MET);
    assert_int_equal(out.clocks[FR].percent, 25);
    assert_int_equal(out.clocks[RES].clock.state, SLA_CLOCK_RUNNING);
    assert_int_equal(out.clocks[RES].clock.deadline_ms, s_sh("2026-01-16 09:00"));
    assert_int_equal(out.clocks[RES].used_ms, 180 * MIN);
    /* armed, paused, resumed */
    assert_int_equal(out.clocks[RES].nsteps, 3);
    assert_string_equal(out.clocks[RES].steps[1].kind, "paused");
    assert_string_equal(out.clocks[RES].steps[2].kind, "resumed");
}

/* A priority raised mid-ticket recomputes from the original start. Created
   Mon 2026-01-12 09:00 with 120 min (due 11:00, warning at 96 min = 10:36,
   not reached by 10:30); at 10:30 it becomes P1 with 60 min: due 10:00
   from the start (warning 09:48). Both lie before the change, so the tick
   meets them together at 10:30 and, as the live monitor does, signals only
   the breach (at 10:00), no late warning. The answer at 10:40 is late:
   100 min used. */
static void test_a_priority_change_recomputes_from_the_original_start(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {
        s_ev(SLA_EVENT_CREATED, "2026-01-12 09:00"),
        s_ev(SLA_EVENT_PRIORITY_CHANGED, "2026-01-12 10:30"),
        s_ev(SLA_EVENT_AGENT_RESPONSE, "2026-01-12 10:40"),
    };
    ev[1].minutes[FR] = 60;
    ev[1].minutes[RES] = 1440;
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(sla_preview_run(&s_office, s_p2, ev, 3, 0, &out, err, sizeof(err)), 0);
    const sla_preview_clock_t *fr = &out.clocks[FR];
    assert_int_equal(out.changes, 1);
    assert_int_equal(fr->clock.target_minutes, 60);
    assert_int_equal(fr->clock.deadline_ms, s_sh("2026-01-12 10:00"));
    assert_int_equal(fr->clock.warn_at_ms, s_sh("2026-01-12 09:48"));
    assert_int_equal(fr->clock.state, SLA_CLOCK_BREACHED);
    assert_int_equal(fr->clock.breached_at_ms, s_sh("2026-01-12 10:00"));
    assert_false(fr->clock.warned);
    /* armed, changed, breached, fulfilled_late */
    assert_int_equal(fr->nsteps, 4);
    assert_string_equal(fr->steps[1].kind, "changed");
    assert_int_equal(fr->steps[1].at_ms, s_sh("2026-01-12 10:30"));
    assert_string_equal(fr->steps[2].kind, "breached");
    assert_int_equal(fr->steps[2].at_ms, s_sh("2026-01-12 10:00"));
    assert_string_equal(fr->steps[3].kind, "fulfilled_late");
    assert_int_equal(fr->used_ms, 100 * MIN);
}

/* A response exactly at the deadline is in time; a reopened ticket owes a
   new resolution from the reopening. Created Mon 2026-01-12 09:00, answered
   11:00 (the deadline), resolved 14:00, reopened Tue 2026-01-13 09:00:
   round 2 of 1440 min from Tue 09:00: 3 h to 12:00, 4.5 to 17:30
   (7.5), Wed 8 (15.5), Thu 8 (23.5), Fri 0.5 → Fri 2026-01-16 09:00. */
static void test_a_reopened_ticket_owes_a_new_resolution_from_the_reopening(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {
        s_ev(SLA_EVENT_CREATED, "2026-01-12 09:00"),
        s_ev(SLA_EVENT_AGENT_RESPONSE, "2026-01-12 11:00"),
        s_ev(SLA_EVENT_RESOLVED, "2026-01-12 14:00"),
        s_ev(SLA_EVENT_REOPENED, "2026-01-13 09:00"),
    };
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(sla_preview_run(&s_office, s_p2, ev, 4, 0, &out, err, sizeof(err)), 0);
    assert_int_equal(out.clocks[FR].clock.state, SLA_CLOCK_MET);
    assert_int_equal(out.clocks[FR].percent, 100);
    assert_int_equal(out.clocks[RES].clock.round, 2);
    assert_int_equal(out.clocks[RES].clock.state, SLA_CLOCK_RUNNING);
    assert_int_equal(out.clocks[RES].clock.deadline_ms, s_sh("2026-01-16 09:00"));
}

static void test_a_closed_ticket_stops_its_clocks(void **state)
{
    (void)state;
    sla_preview_event_t ev[] = {
        s_ev(SLA_EVENT_CREATED, "2026-01-12 09:00"),
        s_ev(SLA_EVENT_CLOSED, "2026-01-12 10:00"),
    };
    sla_preview_t out;
    char err[200] = "";
    assert_int_equal(
        sla_preview_run(&s_office, s_p2, ev, 2, s_sh("2026-01-20 10:00"), &out, err, sizeof(err)),
        0);
    assert_int_equal(out.clocks[FR].clock.state, SLA_CLOCK_STOPPED);
    assert_int_equal(out.clocks[FR].used_ms, 60 * MIN);
    assert_int_equal(out.clocks[RES].clock.state, SLA_CLOCK_STOPPED);
}

static void test_a_timeline_that_makes_no_sense_is_refused_with_the_event_named(void **state)
{
    (void)state;
    sla_preview_t out;
    char err[200] = "";
    sla_preview_event_t late_start[] = {s_ev(SLA_EVENT_PENDING, "2026-01-12 09:00")};
    assert_int_equal(sla_preview_run(&s_office, s_p2, late_start, 1, 0, &out, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "event 0: the first event must be created"));
    sla_preview_event_t backwards[] = {s_ev(SLA_EVENT_CREATED, "2026-01-12 09:00"),
                                       s_ev(SLA_EVENT_PENDING, "2026-01-12 08:00")};
    assert_int_equal(sla_preview_run(&s_office, s_p2, backwards, 2, 0, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "event 1: earlier"));
    sla_preview_event_t twice[] = {s_ev(SLA_EVENT_CREATED, "2026-01-12 09:00"),
                                   s_ev(SLA_EVENT_CREATED, "2026-01-12 10:00")};
    assert_int_equal(sla_preview_run(&s_office, s_p2, twice, 2, 0, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "created once"));
    sla_preview_event_t bad_change[] = {s_ev(SLA_EVENT_CREATED, "2026-01-12 09:00"),
                                        s_ev(SLA_EVENT_PRIORITY_CHANGED, "2026-01-12 10:00")};
    assert_int_equal(sla_preview_run(&s_office, s_p2, bad_change, 2, 0, &out, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "event 1: first_response: target of 0 minutes"));
    int64_t zero[SLA_TARGET_COUNT] = {0, 60};
    assert_int_equal(sla_preview_run(&s_office, zero, late_start, 0, 0, &out, err, sizeof(err)),
                     -1);
    assert_int_equal(sla_preview_run(&s_office, zero, twice, 1, 0, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "first_response"));
    assert_int_equal(sla_preview_run(&s_office, s_p2, twice, 1, s_sh("2026-01-12 08:00"), &out, err,
                                     sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "as_of"));
}

/* Many pause/resume pairs: the history is bounded, the arithmetic exact.
   On 7×24, 240 pauses of 1 min each every 2 min from 00:00 → 240 minutes
   lost; a 1440-min resolution from 00:00 falls due at 00:00 + 1680 min. */
static void test_a_long_timeline_keeps_a_bounded_history(void **state)
{
    (void)state;
    sla_calendar_t *always = sla_calendar_new_7x24();
    sla_policy_t p = {.calendar = always, .minute_ms = MIN, .warn_percent = 80};
    static sla_preview_event_t ev[481];
    int64_t t0 = s_sh("2026-01-12 00:00");
    ev[0] = (sla_preview_event_t){.kind = SLA_EVENT_CREATED, .at_ms = t0};
    for (int i = 0; i < 240; i++) {
        ev[1 + 2 * i] = (sla_preview_event_t){.kind = SLA_EVENT_PENDING, .at_ms = t0 + 2 * i * MIN};
        ev[2 + 2 * i] =
            (sla_preview_event_t){.kind = SLA_EVENT_RESUMED, .at_ms = t0 + (2 * i + 1) * MIN};
    }
    static sla_preview_t out;
    char err[200] = "";
    int64_t minutes[SLA_TARGET_COUNT] = {600, 1440};
    assert_int_equal(sla_preview_run(&p, minutes, ev, 481, 0, &out, err, sizeof(err)), 0);
    assert_int_equal(out.clocks[RES].clock.deadline_ms, t0 + 1680 * MIN);
    assert_int_equal(out.clocks[RES].nsteps, SLA_PREVIEW_STEPS_MAX);
    assert_int_equal(out.clocks[RES].steps_dropped, 481 - SLA_PREVIEW_STEPS_MAX);
    sla_calendar_destroy(&always);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_friday_afternoon_ticket_is_due_monday_morning),
        cmocka_unit_test(test_the_national_day_week_does_not_count_and_its_make_up_saturday_does),
        cmocka_unit_test(test_time_pending_customer_does_not_count_on_business_hours),
        cmocka_unit_test(test_a_priority_change_recomputes_from_the_original_start),
        cmocka_unit_test(test_a_reopened_ticket_owes_a_new_resolution_from_the_reopening),
        cmocka_unit_test(test_a_closed_ticket_stops_its_clocks),
        cmocka_unit_test(test_a_timeline_that_makes_no_sense_is_refused_with_the_event_named),
        cmocka_unit_test(test_a_long_timeline_keeps_a_bounded_history),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
