/*
 * test_case.c - the complaint_case state machine, as the business states it:
 * a complaint is accepted within 24 hours of receipt, then closed with a
 * resolution; every other move is refused and says where the case stands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "case.h"

#define HOUR_MS (3600LL * 1000)
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

static void test_a_new_case_is_received_and_due_for_acceptance_24_hours_after_receipt(void **state)
{
    (void)state;
    complaint_case_t c;
    complaint_case_open(&c, T0, 24);
    assert_int_equal(c.status, COMPLAINT_RECEIVED);
    assert_int_equal(c.accept_due_ms, T0 + 24 * HOUR_MS);
    assert_int_equal(c.accepted_at_ms, 0);
    assert_string_equal(c.handler, "");
}

static void test_the_acceptance_deadline_follows_the_configured_hours(void **state)
{
    (void)state;
    complaint_case_t c;
    complaint_case_open(&c, T0, 8);
    assert_int_equal(c.accept_due_ms, T0 + 8 * HOUR_MS);
}

static void test_a_received_case_is_accepted_by_its_handler(void **state)
{
    (void)state;
    complaint_case_t c;
    char err[128] = "";
    complaint_case_open(&c, T0, 24);
    assert_int_equal(complaint_case_accept(&c, "li.wei", T0 + HOUR_MS, err, sizeof(err)), 0);
    assert_int_equal(c.status, COMPLAINT_ACCEPTED);
    assert_string_equal(c.handler, "li.wei");
    assert_int_equal(c.accepted_at_ms, T0 + HOUR_MS);
}

static void test_an_accepted_case_is_closed_as_resolved(void **state)
{
    (void)state;
    complaint_case_t c;
    char err[128] = "";
    complaint_case_open(&c, T0, 24);
    assert_int_equal(complaint_case_accept(&c, "li.wei", T0 + HOUR_MS, err, sizeof(err)), 0);
    assert_int_equal(complaint_case_close(&c, "li.wei", T0 + 5 * HOUR_MS, err, sizeof(err)), 0);
    assert_int_equal(c.status, COMPLAINT_RESOLVED);
    assert_int_equal(c.resolved_at_ms, T0 + 5 * HOUR_MS);
    assert_false(complaint_status_is_open(c.status));
}

static void test_a_case_cannot_be_closed_before_it_is_accepted(void **state)
{
    (void)state;
    complaint_case_t c;
    char err[128] = "";
    complaint_case_open(&c, T0, 24);
    assert_int_equal(complaint_case_close(&c, "li.wei", T0, err, sizeof(err)), -1);
    assert_int_equal(c.status, COMPLAINT_RECEIVED);
    assert_int_equal(c.resolved_at_ms, 0);
    assert_string_equal(err, "cannot close a complaint that is received");
}

static void test_a_case_cannot_be_accepted_twice_and_the_first_handler_stays(void **state)
{
    (void)state;
    complaint_case_t c;
    char err[128] = "";
    complaint_case_open(&c, T0, 24);
    assert_int_equal(complaint_case_accept(&c, "li.wei", T0 + 1, err, sizeof(err)), 0);
    assert_int_equal(complaint_case_accept(&c, "zhang.san", T0 + 2, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot accept a complaint that is accepted");
    assert_string_equal(c.handler, "li.wei");
    assert_int_equal(c.accepted_at_ms, T0 + 1);
}

static void test_a_resolved_case_can_be_neither_accepted_nor_closed_again(void **state)
{
    (void)state;
    complaint_case_t c;
    char err[128] = "";
    complaint_case_open(&c, T0, 24);
    complaint_case_accept(&c, "li.wei", T0 + 1, err, sizeof(err));
    complaint_case_close(&c, "li.wei", T0 + 2, err, sizeof(err));
    assert_int_equal(complaint_case_accept(&c, "li.wei", T0 + 3, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot accept a complaint that is resolved");
    assert_int_equal(complaint_case_close(&c, "li.wei", T0 + 3, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot close a complaint that is resolved");
    assert_int_equal(c.resolved_at_ms, T0 + 2);
}

/* Exactly two moves are enabled today; every other pair of the eight
   statuses is refused, the later six-step moves included. */
static void test_only_received_to_accepted_and_accepted_to_resolved_are_allowed(void **state)
{
    (void)state;
    int allowed = 0;
    for (int from = 0; from < COMPLAINT_STATUS_COUNT; from++)
        for (int to = 0; to < COMPLAINT_STATUS_COUNT; to++)
            allowed +=
                complaint_transition_allowed((complaint_status_t)from, (complaint_status_t)to);
    assert_int_equal(allowed, 2);
    assert_true(complaint_transition_allowed(COMPLAINT_RECEIVED, COMPLAINT_ACCEPTED));
    assert_true(complaint_transition_allowed(COMPLAINT_ACCEPTED, COMPLAINT_RESOLVED));
    assert_false(complaint_transition_allowed(COMPLAINT_ACCEPTED, COMPLAINT_CLASSIFIED));
    assert_false(complaint_transition_allowed(COMPLAINT_RECEIVED, COMPLAINT_RESOLVED));
    assert_false(complaint_transition_allowed(COMPLAINT_RESOLVED, COMPLAINT_ACCEPTED));
}

static void test_the_six_step_statuses_are_named_as_the_business_names_them(void **state)
{
    (void)state;
    static const char *const names[] = {"received", "accepted", "classified", "investigating",
                                        "handling", "feedback", "archived",   "resolved"};
    for (int i = 0; i < COMPLAINT_STATUS_COUNT; i++) {
        complaint_status_t st;
        assert_string_equal(complaint_status_name((complaint_status_t)i), names[i]);
        assert_int_equal(complaint_status_parse(names[i], &st), 0);
        assert_int_equal(st, i);
    }
    complaint_status_t st;
    assert_int_equal(complaint_status_parse("closed", &st), -1);
    assert_int_equal(complaint_status_parse("", &st), -1);
    assert_int_equal(complaint_status_parse(NULL, &st), -1);
    assert_null(complaint_status_name(COMPLAINT_STATUS_COUNT));
}

static void test_open_means_neither_resolved_nor_archived(void **state)
{
    (void)state;
    assert_true(complaint_status_is_open(COMPLAINT_RECEIVED));
    assert_true(complaint_status_is_open(COMPLAINT_ACCEPTED));
    assert_true(complaint_status_is_open(COMPLAINT_FEEDBACK));
    assert_false(complaint_status_is_open(COMPLAINT_RESOLVED));
    assert_false(complaint_status_is_open(COMPLAINT_ARCHIVED));
}

static void test_a_case_unaccepted_past_its_deadline_is_overdue(void **state)
{
    (void)state;
    complaint_case_t c;
    char err[128];
    complaint_case_open(&c, T0, 24);
    assert_false(complaint_case_accept_overdue(&c, T0 + 24 * HOUR_MS));
    assert_true(complaint_case_accept_overdue(&c, T0 + 24 * HOUR_MS + 1));
    complaint_case_accept(&c, "li.wei", T0 + 23 * HOUR_MS, err, sizeof(err));
    assert_false(complaint_case_accept_overdue(&c, T0 + 100 * HOUR_MS));
    complaint_case_open(&c, T0, 24);
    complaint_case_accept(&c, "li.wei", T0 + 25 * HOUR_MS, err, sizeof(err));
    assert_true(complaint_case_accept_overdue(&c, T0 + 25 * HOUR_MS));
}

static void test_a_handler_is_a_plain_login(void **state)
{
    (void)state;
    char err[128];
    char longest[COMPLAINT_HANDLER_MAX + 2];
    assert_int_equal(complaint_handler_check("li.wei", err, sizeof(err)), 0);
    assert_int_equal(complaint_handler_check("ops-2@petrocs", err, sizeof(err)), 0);
    assert_int_equal(complaint_handler_check(NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "handler is required");
    assert_int_equal(complaint_handler_check("", err, sizeof(err)), -1);
    assert_int_equal(complaint_handler_check("li wei", err, sizeof(err)), -1);
    assert_int_equal(complaint_handler_check("li\nwei", err, sizeof(err)), -1);
    assert_int_equal(complaint_handler_check("李伟", err, sizeof(err)), -1);
    memset(longest, 'a', sizeof(longest));
    longest[COMPLAINT_HANDLER_MAX] = '\0';
    assert_int_equal(complaint_handler_check(longest, err, sizeof(err)), 0);
    longest[COMPLAINT_HANDLER_MAX] = 'a';
    longest[COMPLAINT_HANDLER_MAX + 1] = '\0';
    assert_int_equal(complaint_handler_check(longest, err, sizeof(err)), -1);
}

static void test_a_resolution_says_something_in_clean_utf8(void **state)
{
    (void)state;
    char err[128];
    static char big[COMPLAINT_RESOLUTION_MAX + 2];
    assert_int_equal(
        complaint_resolution_check("已更换阀门并补发货物。\nRefund issued.", err, sizeof(err)), 0);
    assert_int_equal(complaint_resolution_check(NULL, err, sizeof(err)), -1);
    assert_int_equal(complaint_resolution_check(" \n\t ", err, sizeof(err)), -1);
    assert_string_equal(err, "resolution is required: say how the complaint was resolved");
    assert_int_equal(complaint_resolution_check("bad \xC3\x28 byte", err, sizeof(err)), -1);
    assert_string_equal(err, "resolution must be valid UTF-8");
    assert_int_equal(complaint_resolution_check("overlong \xC0\xAF", err, sizeof(err)), -1);
    assert_int_equal(complaint_resolution_check("surrogate \xED\xA0\x80", err, sizeof(err)), -1);
    assert_int_equal(complaint_resolution_check("bell \a", err, sizeof(err)), -1);
    assert_string_equal(err, "resolution must not contain control characters");
    memset(big, 'x', sizeof(big) - 1);
    big[COMPLAINT_RESOLUTION_MAX] = '\0';
    assert_int_equal(complaint_resolution_check(big, err, sizeof(err)), 0);
    big[COMPLAINT_RESOLUTION_MAX] = 'x';
    assert_int_equal(complaint_resolution_check(big, err, sizeof(err)), -1);
}

static void test_facts_that_are_not_utf8_are_recognised(void **state)
{
    (void)state;
    assert_true(complaint_text_is_utf8(NULL));
    assert_true(complaint_text_is_utf8(""));
    assert_true(complaint_text_is_utf8("中国石化 㛃 䶮"));
    assert_false(complaint_text_is_utf8("\xFF"));
    assert_false(complaint_text_is_utf8("cut \xE4\xB8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_new_case_is_received_and_due_for_acceptance_24_hours_after_receipt),
        cmocka_unit_test(test_the_acceptance_deadline_follows_the_configured_hours),
        cmocka_unit_test(test_a_received_case_is_accepted_by_its_handler),
        cmocka_unit_test(test_an_accepted_case_is_closed_as_resolved),
        cmocka_unit_test(test_a_case_cannot_be_closed_before_it_is_accepted),
        cmocka_unit_test(test_a_case_cannot_be_accepted_twice_and_the_first_handler_stays),
        cmocka_unit_test(test_a_resolved_case_can_be_neither_accepted_nor_closed_again),
        cmocka_unit_test(test_only_received_to_accepted_and_accepted_to_resolved_are_allowed),
        cmocka_unit_test(test_the_six_step_statuses_are_named_as_the_business_names_them),
        cmocka_unit_test(test_open_means_neither_resolved_nor_archived),
        cmocka_unit_test(test_a_case_unaccepted_past_its_deadline_is_overdue),
        cmocka_unit_test(test_a_handler_is_a_plain_login),
        cmocka_unit_test(test_a_resolution_says_something_in_clean_utf8),
        cmocka_unit_test(test_facts_that_are_not_utf8_are_recognised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
