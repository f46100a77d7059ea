/*
 * test_clock.c — the SLA clock's rules, as tests (services/sla/clock.h,
 * calendar.h, and the text check of clock_store.h).
 *
 * All clocks start at 2026-12-03 08:00 UTC on the 7×24 calendar with real
 * 60-second minutes and a warning at 80 %, unless a test says otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../../services/sla/calendar.h"
#include "../../../services/sla/clock.h"
#include "../../../services/sla/clock_store.h"

#define MIN (60 * 1000LL)
#define T0 1796284800000LL /* 2026-12-03T08:00:00Z */

static sla_calendar_t *s_cal;
static sla_policy_t s_policy;

static int s_setup(void **state)
{
    (void)state;
    s_cal = sla_calendar_new_7x24();
    s_policy = (sla_policy_t){.calendar = s_cal, .minute_ms = MIN, .warn_percent = 80};
    return s_cal ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    sla_calendar_destroy(&s_cal);
    assert_null(s_cal);
    return 0;
}

/* A first-response clock of `minutes` armed at T0. */
static sla_clock_t s_armed(int64_t minutes)
{
    sla_clock_t c;
    char err[128] = "";
    assert_int_equal(
        sla_clock_arm(&c, &s_policy, SLA_TARGET_FIRST_RESPONSE, T0, minutes, err, sizeof(err)), 0);
    return c;
}

/* ---- calendar ----------------------------------------------------------------- */

static void test_7x24_calendar_counts_every_minute_of_nights_and_weekends(void **state)
{
    (void)state;
    int64_t out;
    /* Friday 2026-12-04 22:00 UTC + 48 h lands on Sunday 22:00. */
    int64_t fri = T0 + 38 * 60 * MIN;
    assert_int_equal(sla_calendar_add(s_cal, fri, 48 * 60 * MIN, &out), 0);
    assert_int_equal(out, fri + 48 * 60 * MIN);
    assert_int_equal(sla_calendar_between(s_cal, fri, out), 48 * 60 * MIN);
    assert_string_equal(sla_calendar_name(s_cal), "7x24");
}

static void test_calendar_refuses_negative_durations_and_overflow(void **state)
{
    (void)state;
    int64_t out = 42;
    assert_int_equal(sla_calendar_add(s_cal, T0, -1, &out), -1);
    assert_int_equal(sla_calendar_add(s_cal, INT64_MAX - 5, 10, &out), -1);
    assert_int_equal(out, 42);
    assert_int_equal(sla_calendar_between(s_cal, T0, T0 - MIN), 0);
}

static void test_calendar_is_found_by_its_stored_name_only(void **state)
{
    (void)state;
    sla_calendar_t *c = sla_calendar_new_named("7x24");
    assert_non_null(c);
    sla_calendar_destroy(&c);
    assert_null(sla_calendar_new_named("business-hours"));
    assert_null(sla_calendar_new_named(NULL));
    sla_calendar_destroy(NULL); /* accepted */
}

/* ---- arming -------------------------------------------------------------------- */

static void test_p3_first_response_of_two_hours_is_due_at_ten_and_warns_at_nine_36(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(c.state, SLA_CLOCK_RUNNING);
    assert_int_equal(c.round, 1);
    assert_int_equal(c.started_at_ms, T0);
    assert_int_equal(c.deadline_ms, T0 + 120 * MIN);
    assert_int_equal(c.warn_at_ms, T0 + 96 * MIN);
    assert_false(c.warned);
    assert_int_equal(c.met_at_ms, 0);
    assert_int_equal(c.breached_at_ms, 0);
}

static void test_warning_share_of_an_odd_target_is_exact_to_the_millisecond(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(7); /* 80 % of 7 min = 5 min 36 s */
    assert_int_equal(c.warn_at_ms, T0 + 5 * MIN + 36000);
}

static void test_a_scaled_minute_shrinks_a_target_for_tests_and_demos(void **state)
{
    (void)state;
    sla_policy_t fast = s_policy;
    fast.minute_ms = 1000; /* CS_SLA_MINUTE_SECONDS=1 */
    sla_clock_t c;
    char err[128];
    assert_int_equal(sla_clock_arm(&c, &fast, SLA_TARGET_RESOLUTION, T0, 10, err, sizeof(err)), 0);
    assert_int_equal(c.target_minutes, 10);
    assert_int_equal(c.deadline_ms, T0 + 10000);
    assert_int_equal(c.warn_at_ms, T0 + 8000);
}

static void test_arming_refuses_targets_and_instants_out_of_range(void **state)
{
    (void)state;
    sla_clock_t c;
    char err[128] = "";
    assert_int_equal(
        sla_clock_arm(&c, &s_policy, SLA_TARGET_FIRST_RESPONSE, T0, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "0 minutes"));
    assert_int_equal(
        sla_clock_arm(&c, &s_policy, SLA_TARGET_FIRST_RESPONSE, T0, 525601, err, sizeof(err)), -1);
    assert_int_equal(
        sla_clock_arm(&c, &s_policy, SLA_TARGET_FIRST_RESPONSE, -1, 60, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "start instant"));
    assert_int_equal(sla_clock_arm(&c, &s_policy, (sla_target_t)7, T0, 60, err, sizeof(err)), -1);
    sla_policy_t bad = s_policy;
    bad.warn_percent = 100;
    assert_int_equal(sla_clock_arm(&c, &bad, SLA_TARGET_FIRST_RESPONSE, T0, 60, err, sizeof(err)),
                     -1);
}

/* ---- percent and thresholds ------------------------------------------------------ */

static void test_percent_elapsed_is_the_share_of_the_target_used(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0), 0);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 - MIN), 0);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 60 * MIN), 50);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 96 * MIN), 80);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 96 * MIN - 1), 79); /* floor */
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 120 * MIN), 100);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 180 * MIN), 150);
    assert_int_equal(sla_clock_percent(&c, &s_policy, INT64_MAX), 9999);
}

static void test_nothing_is_due_before_the_warning_share(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_due(&c, T0 + 96 * MIN - 1), SLA_DUE_NONE);
}

static void test_warning_is_due_at_80_percent_and_only_once(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_due(&c, T0 + 96 * MIN), SLA_DUE_WARNING);
    sla_clock_mark(&c, &s_policy, SLA_DUE_WARNING);
    assert_true(c.warned);
    assert_int_equal(c.state, SLA_CLOCK_RUNNING);
    assert_int_equal(sla_clock_due(&c, T0 + 100 * MIN), SLA_DUE_NONE);
}

static void test_breach_is_due_at_100_percent_and_only_once(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_mark(&c, &s_policy, SLA_DUE_WARNING);
    assert_int_equal(sla_clock_due(&c, T0 + 120 * MIN - 1), SLA_DUE_NONE);
    assert_int_equal(sla_clock_due(&c, T0 + 120 * MIN), SLA_DUE_BREACH);
    sla_clock_mark(&c, &s_policy, SLA_DUE_BREACH);
    assert_int_equal(c.state, SLA_CLOCK_BREACHED);
    assert_int_equal(c.breached_at_ms, T0 + 120 * MIN);
    assert_int_equal(sla_clock_due(&c, T0 + 500 * MIN), SLA_DUE_NONE);
}

static void
test_a_clock_found_past_its_deadline_unwarned_is_breached_without_a_warning(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120); /* the monitor was down from 09:00 to 11:00 */
    assert_int_equal(sla_clock_due(&c, T0 + 180 * MIN), SLA_DUE_BREACH);
}

/* ---- fulfilment, stop ---------------------------------------------------------- */

static void test_a_response_in_time_meets_the_clock_and_freezes_its_percent(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_fulfil(&c, T0 + 30 * MIN), SLA_FULFIL_MET);
    assert_int_equal(c.state, SLA_CLOCK_MET);
    assert_int_equal(c.met_at_ms, T0 + 30 * MIN);
    assert_int_equal(c.stopped_at_ms, T0 + 30 * MIN);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 600 * MIN), 25);
    assert_int_equal(sla_clock_due(&c, T0 + 600 * MIN), SLA_DUE_NONE);
}

static void test_a_response_exactly_at_the_deadline_is_in_time(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_fulfil(&c, T0 + 120 * MIN), SLA_FULFIL_MET);
}

static void test_a_repeated_response_changes_nothing(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_fulfil(&c, T0 + 30 * MIN);
    sla_clock_t before = c;
    assert_int_equal(sla_clock_fulfil(&c, T0 + 40 * MIN), SLA_FULFIL_NONE);
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_a_late_response_not_yet_seen_by_the_tick_is_a_breach_at_the_deadline(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_fulfil(&c, T0 + 150 * MIN), SLA_FULFIL_LATE);
    assert_int_equal(c.state, SLA_CLOCK_BREACHED);
    assert_int_equal(c.breached_at_ms, T0 + 120 * MIN);
    assert_int_equal(c.met_at_ms, 0);
    assert_int_equal(c.stopped_at_ms, T0 + 150 * MIN);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 999 * MIN), 125);
}

static void test_a_response_to_a_breached_clock_closes_the_breach_once(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_mark(&c, &s_policy, SLA_DUE_BREACH);
    assert_int_equal(sla_clock_fulfil(&c, T0 + 130 * MIN), SLA_FULFIL_CLOSED_BREACH);
    assert_int_equal(c.state, SLA_CLOCK_BREACHED);
    assert_int_equal(c.stopped_at_ms, T0 + 130 * MIN);
    assert_int_equal(sla_clock_fulfil(&c, T0 + 140 * MIN), SLA_FULFIL_NONE);
    assert_int_equal(c.stopped_at_ms, T0 + 130 * MIN);
}

static void test_closing_a_ticket_stops_its_running_clock_but_not_a_met_one(void **state)
{
    (void)state;
    sla_clock_t running = s_armed(120), met = s_armed(120);
    sla_clock_fulfil(&met, T0 + 10 * MIN);
    assert_int_equal(sla_clock_stop(&running, T0 + 50 * MIN), 1);
    assert_int_equal(running.state, SLA_CLOCK_STOPPED);
    assert_int_equal(sla_clock_due(&running, T0 + 500 * MIN), SLA_DUE_NONE);
    assert_int_equal(sla_clock_stop(&running, T0 + 60 * MIN), 0);
    assert_int_equal(sla_clock_stop(&met, T0 + 50 * MIN), 0);
    assert_int_equal(met.state, SLA_CLOCK_MET);
}

/* ---- reopen --------------------------------------------------------------------- */

static void test_reopening_rearms_a_met_resolution_clock_as_a_new_round(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_mark(&c, &s_policy, SLA_DUE_WARNING);
    sla_clock_fulfil(&c, T0 + 100 * MIN);
    int64_t reopen = T0 + 24 * 60 * MIN;
    assert_int_equal(sla_clock_rearm(&c, &s_policy, reopen), 1);
    assert_int_equal(c.round, 2);
    assert_int_equal(c.state, SLA_CLOCK_RUNNING);
    assert_int_equal(c.started_at_ms, reopen);
    assert_int_equal(c.deadline_ms, reopen + 120 * MIN);
    assert_false(c.warned);
    assert_int_equal(c.met_at_ms, 0);
    assert_int_equal(c.stopped_at_ms, 0);
    assert_int_equal(sla_clock_due(&c, reopen + 96 * MIN), SLA_DUE_WARNING);
}

static void test_a_repeated_reopen_event_does_not_rearm_twice(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_fulfil(&c, T0 + 100 * MIN);
    assert_int_equal(sla_clock_rearm(&c, &s_policy, T0 + 200 * MIN), 1);
    assert_int_equal(sla_clock_rearm(&c, &s_policy, T0 + 200 * MIN), 0);
    /* resolved again, then the old reopen replayed: older than the stop */
    sla_clock_fulfil(&c, T0 + 250 * MIN);
    assert_int_equal(sla_clock_rearm(&c, &s_policy, T0 + 200 * MIN), 0);
    assert_int_equal(c.round, 2);
    assert_int_equal(c.state, SLA_CLOCK_MET);
}

static void test_a_breach_still_open_is_not_rearmed(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_mark(&c, &s_policy, SLA_DUE_BREACH);
    assert_int_equal(sla_clock_rearm(&c, &s_policy, T0 + 300 * MIN), 0);
    assert_int_equal(c.state, SLA_CLOCK_BREACHED);
}

/* ---- pause ----------------------------------------------------------------------- */

static void test_time_spent_paused_moves_the_deadline_and_does_not_count(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_pause(&c, T0 + 30 * MIN), 1);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 80 * MIN), 25);
    assert_int_equal(sla_clock_due(&c, T0 + 200 * MIN), SLA_DUE_NONE);
    assert_int_equal(sla_clock_resume(&c, &s_policy, T0 + 90 * MIN), 1);
    assert_int_equal(c.deadline_ms, T0 + 180 * MIN);
    assert_int_equal(c.warn_at_ms, T0 + 156 * MIN);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 150 * MIN), 75);
    assert_int_equal(sla_clock_pause(&c, T0 + 150 * MIN), 1);
    assert_int_equal(sla_clock_pause(&c, T0 + 151 * MIN), 0);
}

static void test_a_response_while_paused_in_time_meets_the_clock(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    sla_clock_pause(&c, T0 + 30 * MIN);
    assert_int_equal(sla_clock_fulfil(&c, T0 + 300 * MIN), SLA_FULFIL_MET);
    assert_int_equal(c.state, SLA_CLOCK_MET);
    assert_int_equal(c.paused_at_ms, 0);
}

/* The tick had not yet signalled a warning share reached before the pause:
   it stays due where it was, only the deadline moves. 120 min armed at T0:
   warn at +96; paused at +100, resumed at +130 (30 min lost): deadline
   +150, warning still +96. */
static void test_a_warning_share_reached_before_the_pause_stays_where_it_was(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_pause(&c, T0 + 100 * MIN), 1);
    assert_int_equal(sla_clock_resume(&c, &s_policy, T0 + 130 * MIN), 1);
    assert_int_equal(c.warn_at_ms, T0 + 96 * MIN);
    assert_int_equal(c.deadline_ms, T0 + 150 * MIN);
    assert_int_equal(sla_clock_due(&c, T0 + 131 * MIN), SLA_DUE_WARNING);
}

static void test_a_resumption_before_its_pause_is_refused(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(120);
    assert_int_equal(sla_clock_pause(&c, T0 + 60 * MIN), 1);
    assert_int_equal(sla_clock_resume(&c, &s_policy, T0 + 59 * MIN), -1);
    assert_int_equal(c.state, SLA_CLOCK_PAUSED);
    assert_int_equal(c.deadline_ms, T0 + 120 * MIN);
}

/* On cn-office (Mon-Fri 08:30-12:00 13:00-17:30, Asia/Shanghai) only the
   working hours of a pause count. T0 is Thursday 2026-12-03 16:00 +08:00.
   A 120-minute clock: 90 min on Thursday to 17:30, 30 on Friday → due Fri
   09:00; its 96-minute warning at Fri 08:36. Paused at Thu 17:00 (60 min
   used) and resumed Mon 2026-12-07 10:00: the 60 minutes left run from
   10:00 → due Mon 11:00; the warning needs 36 more → Mon 10:36. Time paused
   over Friday and the weekend is not used time: still 60 min on Saturday. */
static void test_a_pause_on_business_hours_moves_the_deadline_by_working_hours_only(void **state)
{
    (void)state;
    sla_calendar_t *cn = sla_calendar_new_named("cn-office");
    assert_non_null(cn);
    sla_policy_t office = {.calendar = cn, .minute_ms = MIN, .warn_percent = 80};
    sla_clock_t c;
    char err[128] = "";
    const int64_t H = 60 * MIN, THU_16 = T0, MON_10 = T0 + (4 * 24 - 6) * H;
    assert_int_equal(
        sla_clock_arm(&c, &office, SLA_TARGET_FIRST_RESPONSE, THU_16, 120, err, sizeof(err)), 0);
    assert_int_equal(c.deadline_ms, THU_16 + 17 * H); /* Fri 09:00 */
    assert_int_equal(c.warn_at_ms, THU_16 + 16 * H + 36 * MIN);
    assert_int_equal(sla_clock_pause(&c, THU_16 + H), 1);
    assert_int_equal(sla_clock_used_ms(&c, &office, THU_16 + 44 * H), 60 * MIN);
    assert_int_equal(sla_clock_percent(&c, &office, THU_16 + 44 * H), 50);
    assert_int_equal(sla_clock_due(&c, THU_16 + 44 * H), SLA_DUE_NONE);
    assert_int_equal(sla_clock_resume(&c, &office, MON_10), 1);
    assert_int_equal(c.deadline_ms, MON_10 + H);
    assert_int_equal(c.warn_at_ms, MON_10 + 36 * MIN);
    assert_int_equal(sla_clock_used_ms(&c, &office, MON_10 + 30 * MIN), 90 * MIN);
    assert_int_equal(sla_clock_fulfil(&c, MON_10 + H), SLA_FULFIL_MET);
    sla_calendar_destroy(&cn);
}

/* Past the deadline, used time keeps counting beyond the target. */
static void test_used_time_runs_beyond_the_target_after_the_deadline(void **state)
{
    (void)state;
    sla_clock_t c = s_armed(60);
    assert_int_equal(sla_clock_used_ms(&c, &s_policy, T0 + 15 * MIN), 15 * MIN);
    assert_int_equal(sla_clock_used_ms(&c, &s_policy, T0 + 90 * MIN), 90 * MIN);
    assert_int_equal(sla_clock_percent(&c, &s_policy, T0 + 90 * MIN), 150);
    sla_clock_stop(&c, T0 + 100 * MIN);
    assert_int_equal(sla_clock_used_ms(&c, &s_policy, T0 + 500 * MIN), 100 * MIN);
}

/* ---- names and text ---------------------------------------------------------------- */

static void test_targets_and_states_are_stored_by_their_business_names(void **state)
{
    (void)state;
    assert_string_equal(sla_target_name(SLA_TARGET_FIRST_RESPONSE), "first_response");
    assert_int_equal(sla_target_parse("resolution"), SLA_TARGET_RESOLUTION);
    assert_int_equal(sla_target_parse("Resolution"), -1);
    assert_int_equal(sla_target_parse(NULL), -1);
    for (int s = 0; s < SLA_CLOCK_STATE_COUNT; s++)
        assert_int_equal(sla_clock_state_parse(sla_clock_state_name(s)), s);
    assert_int_equal(sla_clock_state_parse("warning"), -1);
    assert_string_equal(sla_clock_state_name((sla_clock_state_t)99), "unknown");
}

static void test_text_from_outside_must_be_valid_utf8_within_its_length(void **state)
{
    (void)state;
    assert_true(sla_store_text_ok("T-20261203-0001", 64));
    assert_true(sla_store_text_ok("设备维修组", 64));
    assert_true(sla_store_text_ok("\xF0\x9F\x9B\xA2", 4)); /* U+1F6E2 oil drum */
    assert_false(sla_store_text_ok("abcdef", 5));
    assert_false(sla_store_text_ok("\xC3", 64));             /* truncated */
    assert_false(sla_store_text_ok("\xC0\xAF", 64));         /* overlong '/' */
    assert_false(sla_store_text_ok("\xED\xA0\x80", 64));     /* surrogate */
    assert_false(sla_store_text_ok("\xF4\x90\x80\x80", 64)); /* above U+10FFFF */
    assert_false(sla_store_text_ok("\xFF", 64));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_7x24_calendar_counts_every_minute_of_nights_and_weekends),
        cmocka_unit_test(test_calendar_refuses_negative_durations_and_overflow),
        cmocka_unit_test(test_calendar_is_found_by_its_stored_name_only),
        cmocka_unit_test(test_p3_first_response_of_two_hours_is_due_at_ten_and_warns_at_nine_36),
        cmocka_unit_test(test_warning_share_of_an_odd_target_is_exact_to_the_millisecond),
        cmocka_unit_test(test_a_scaled_minute_shrinks_a_target_for_tests_and_demos),
        cmocka_unit_test(test_arming_refuses_targets_and_instants_out_of_range),
        cmocka_unit_test(test_percent_elapsed_is_the_share_of_the_target_used),
        cmocka_unit_test(test_nothing_is_due_before_the_warning_share),
        cmocka_unit_test(test_warning_is_due_at_80_percent_and_only_once),
        cmocka_unit_test(test_breach_is_due_at_100_percent_and_only_once),
        cmocka_unit_test(
            test_a_clock_found_past_its_deadline_unwarned_is_breached_without_a_warning),
        cmocka_unit_test(test_a_response_in_time_meets_the_clock_and_freezes_its_percent),
        cmocka_unit_test(test_a_response_exactly_at_the_deadline_is_in_time),
        cmocka_unit_test(test_a_repeated_response_changes_nothing),
        cmocka_unit_test(test_a_late_response_not_yet_seen_by_the_tick_is_a_breach_at_the_deadline),
        cmocka_unit_test(test_a_response_to_a_breached_clock_closes_the_breach_once),
        cmocka_unit_test(test_closing_a_ticket_stops_its_running_clock_but_not_a_met_one),
        cmocka_unit_test(test_reopening_rearms_a_met_resolution_clock_as_a_new_round),
        cmocka_unit_test(test_a_repeated_reopen_event_does_not_rearm_twice),
        cmocka_unit_test(test_a_breach_still_open_is_not_rearmed),
        cmocka_unit_test(test_time_spent_paused_moves_the_deadline_and_does_not_count),
        cmocka_unit_test(test_a_response_while_paused_in_time_meets_the_clock),
        cmocka_unit_test(test_a_warning_share_reached_before_the_pause_stays_where_it_was),
        cmocka_unit_test(test_a_resumption_before_its_pause_is_refused),
        cmocka_unit_test(test_a_pause_on_business_hours_moves_the_deadline_by_working_hours_only),
        cmocka_unit_test(test_used_time_runs_beyond_the_target_after_the_deadline),
        cmocka_unit_test(test_targets_and_states_are_stored_by_their_business_names),
        cmocka_unit_test(test_text_from_outside_must_be_valid_utf8_within_its_length),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
