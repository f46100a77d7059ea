/*
 * test_case.c - the complaint_case state machine and vocabulary, as the
 * business states them: six steps in one order, the customer's answer
 * either resolves the case or sends it back to handling, every other move
 * refused with a message that names it; the priority comes from the
 * classification by the documented table.
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
}

static void test_the_acceptance_deadline_follows_the_configured_hours(void **state)
{
    (void)state;
    complaint_case_t c;
    complaint_case_open(&c, T0, 8);
    assert_int_equal(c.accept_due_ms, T0 + 8 * HOUR_MS);
}

static complaint_status_t s_next(complaint_status_t from, complaint_action_t a, int accepted)
{
    complaint_status_t to = COMPLAINT_STATUS_COUNT;
    char err[160] = "";
    if (complaint_next_status(from, a, accepted, &to, err, sizeof(err)) < 0)
        fail_msg("%s refused: %s", complaint_action_name(a), err);
    return to;
}

static void test_the_six_steps_run_in_order_and_an_accepted_answer_resolves(void **state)
{
    (void)state;
    complaint_status_t st = COMPLAINT_RECEIVED;
    st = s_next(st, COMPLAINT_ACT_ACCEPT, 0);
    assert_int_equal(st, COMPLAINT_ACCEPTED);
    st = s_next(st, COMPLAINT_ACT_CLASSIFY, 0);
    assert_int_equal(st, COMPLAINT_CLASSIFIED);
    st = s_next(st, COMPLAINT_ACT_INVESTIGATE, 0);
    assert_int_equal(st, COMPLAINT_INVESTIGATING);
    st = s_next(st, COMPLAINT_ACT_ASSIGN, 0);
    assert_int_equal(st, COMPLAINT_HANDLING);
    st = s_next(st, COMPLAINT_ACT_FEEDBACK, 0);
    assert_int_equal(st, COMPLAINT_FEEDBACK);
    st = s_next(st, COMPLAINT_ACT_ANSWER, 1);
    assert_int_equal(st, COMPLAINT_RESOLVED);
    st = s_next(st, COMPLAINT_ACT_ARCHIVE, 0);
    assert_int_equal(st, COMPLAINT_ARCHIVED);
}

static void test_an_answer_not_accepted_goes_back_to_handling(void **state)
{
    (void)state;
    assert_int_equal(s_next(COMPLAINT_FEEDBACK, COMPLAINT_ACT_ANSWER, 0), COMPLAINT_HANDLING);
    /* and from handling the feedback goes out again */
    assert_int_equal(s_next(COMPLAINT_HANDLING, COMPLAINT_ACT_FEEDBACK, 0), COMPLAINT_FEEDBACK);
}

static void test_a_case_whose_customer_never_answers_can_be_archived_from_feedback(void **state)
{
    (void)state;
    assert_int_equal(s_next(COMPLAINT_FEEDBACK, COMPLAINT_ACT_ARCHIVE, 0), COMPLAINT_ARCHIVED);
}

/* The whole table: 8 statuses x 7 actions = 56 pairs, of which exactly
   eight are steps (archive from two statuses); every other is refused and
   the message names the action, where the case stands and where the action
   may start. */
static void test_every_other_status_and_action_pair_is_refused_naming_the_move(void **state)
{
    (void)state;
    int allowed = 0;
    for (int from = 0; from < COMPLAINT_STATUS_COUNT; from++)
        for (int a = 0; a < COMPLAINT_ACT_COUNT; a++) {
            complaint_status_t to = COMPLAINT_STATUS_COUNT;
            char err[160] = "";
            int rc = complaint_next_status((complaint_status_t)from, (complaint_action_t)a, 1, &to,
                                           err, sizeof(err));
            if (rc == 0) {
                allowed++;
                continue;
            }
            assert_int_equal(to, COMPLAINT_STATUS_COUNT); /* nothing changed */
            char want[96];
            snprintf(want, sizeof(want), "cannot %s a complaint that is %s",
                     complaint_action_name((complaint_action_t)a),
                     complaint_status_name((complaint_status_t)from));
            assert_non_null(strstr(err, want));
        }
    assert_int_equal(allowed, 8);
    char err[160];
    complaint_status_t to;
    assert_int_equal(
        complaint_next_status(COMPLAINT_RECEIVED, COMPLAINT_ACT_ARCHIVE, 1, &to, err, sizeof(err)),
        -1);
    assert_string_equal(err, "cannot archive a complaint that is received: archive is a step from"
                             " feedback or resolved only");
    assert_int_equal(
        complaint_next_status(COMPLAINT_ARCHIVED, COMPLAINT_ACT_ACCEPT, 1, &to, err, sizeof(err)),
        -1);
    assert_string_equal(err, "cannot accept a complaint that is archived: accept is a step from"
                             " received only");
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
    assert_null(complaint_action_name(COMPLAINT_ACT_COUNT));
}

static void test_open_means_not_yet_archived(void **state)
{
    (void)state;
    assert_true(complaint_status_is_open(COMPLAINT_RECEIVED));
    assert_true(complaint_status_is_open(COMPLAINT_FEEDBACK));
    assert_true(complaint_status_is_open(COMPLAINT_RESOLVED)); /* the root cause is still owed */
    assert_false(complaint_status_is_open(COMPLAINT_ARCHIVED));
}

static void test_evidence_belongs_to_investigating_and_handling(void **state)
{
    (void)state;
    int n = 0;
    for (int s = 0; s < COMPLAINT_STATUS_COUNT; s++)
        n += complaint_evidence_allowed((complaint_status_t)s);
    assert_int_equal(n, 2);
    assert_true(complaint_evidence_allowed(COMPLAINT_INVESTIGATING));
    assert_true(complaint_evidence_allowed(COMPLAINT_HANDLING));
}

static void test_a_case_unaccepted_past_its_deadline_is_overdue(void **state)
{
    (void)state;
    complaint_case_t c;
    complaint_case_open(&c, T0, 24);
    assert_false(complaint_case_accept_overdue(&c, T0 + 24 * HOUR_MS));
    assert_true(complaint_case_accept_overdue(&c, T0 + 24 * HOUR_MS + 1));
    c.status = COMPLAINT_ACCEPTED;
    c.accepted_at_ms = T0 + 23 * HOUR_MS;
    assert_false(complaint_case_accept_overdue(&c, T0 + 100 * HOUR_MS));
    c.accepted_at_ms = T0 + 25 * HOUR_MS;
    assert_true(complaint_case_accept_overdue(&c, T0 + 25 * HOUR_MS));
}

/* The table of case.c, row by row, and the one-level raise for safety and
   environment. */
static void test_priority_follows_scope_and_urgency_and_safety_goes_one_higher(void **state)
{
    (void)state;
    static const char *const scopes[] = {"person", "site", "sites", "public"};
    static const char *const urg[] = {"low", "medium", "high"};
    static const char *const base[4][3] = {
        {"P4", "P3", "P2"}, {"P3", "P3", "P2"}, {"P3", "P2", "P1"}, {"P2", "P1", "P1"}};
    static const char *const raised[4][3] = {
        {"P3", "P2", "P1"}, {"P2", "P2", "P1"}, {"P2", "P1", "P1"}, {"P1", "P1", "P1"}};
    for (int s = 0; s < 4; s++)
        for (int u = 0; u < 3; u++) {
            assert_string_equal(complaint_priority("delivery", scopes[s], urg[u]), base[s][u]);
            assert_string_equal(complaint_priority("staff_conduct", scopes[s], urg[u]), base[s][u]);
            assert_string_equal(complaint_priority("safety", scopes[s], urg[u]), raised[s][u]);
            assert_string_equal(complaint_priority("environment", scopes[s], urg[u]), raised[s][u]);
        }
    assert_null(complaint_priority("quality", "site", "high"));
    assert_null(complaint_priority("delivery", "region", "high"));
    assert_null(complaint_priority("delivery", "site", "urgent"));
    assert_null(complaint_priority(NULL, "site", "high"));
}

static void test_the_vocabularies_are_closed(void **state)
{
    (void)state;
    static const char *const cats[] = {"product_quality",      "delivery",     "service_response",
                                       "technical_competence", "safety",       "environment",
                                       "contract_billing",     "staff_conduct"};
    for (size_t i = 0; i < 8; i++)
        assert_true(complaint_category_valid(cats[i]));
    assert_false(complaint_category_valid("Delivery"));
    assert_false(complaint_category_valid(""));
    assert_true(complaint_scope_valid("public"));
    assert_false(complaint_scope_valid("world"));
    assert_true(complaint_urgency_valid("medium"));
    assert_false(complaint_urgency_valid("critical"));
    assert_true(complaint_root_cause_valid("logistics"));
    assert_true(complaint_root_cause_valid("no_fault"));
    assert_false(complaint_root_cause_valid("bad luck"));
    assert_false(complaint_root_cause_valid(NULL));
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

static void test_a_text_field_says_something_in_clean_utf8(void **state)
{
    (void)state;
    char err[128];
    static char big[COMPLAINT_RESOLUTION_MAX + 2];
    assert_int_equal(complaint_text_check("letter", "已更换阀门并补发货物。\nRefund issued.", 1,
                                          COMPLAINT_RESOLUTION_MAX, err, sizeof(err)),
                     0);
    assert_int_equal(complaint_text_check("letter", NULL, 1, 10, err, sizeof(err)), -1);
    assert_string_equal(err, "letter is required");
    assert_int_equal(complaint_text_check("note", NULL, 0, 10, err, sizeof(err)), 0);
    assert_int_equal(complaint_text_check("letter", " \n\t ", 1, 10, err, sizeof(err)), -1);
    assert_int_equal(complaint_text_check("note", " \n\t ", 0, 10, err, sizeof(err)), 0);
    assert_int_equal(complaint_text_check("letter", "bad \xC3\x28 byte", 1, 99, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "letter must be valid UTF-8");
    assert_int_equal(complaint_text_check("x", "overlong \xC0\xAF", 1, 99, err, sizeof(err)), -1);
    assert_int_equal(complaint_text_check("x", "surrogate \xED\xA0\x80", 1, 99, err, sizeof(err)),
                     -1);
    assert_int_equal(complaint_text_check("letter", "bell \a", 1, 99, err, sizeof(err)), -1);
    assert_string_equal(err, "letter must not contain control characters");
    memset(big, 'x', sizeof(big) - 1);
    big[COMPLAINT_RESOLUTION_MAX] = '\0';
    assert_int_equal(
        complaint_text_check("letter", big, 1, COMPLAINT_RESOLUTION_MAX, err, sizeof(err)), 0);
    big[COMPLAINT_RESOLUTION_MAX] = 'x';
    assert_int_equal(
        complaint_text_check("letter", big, 1, COMPLAINT_RESOLUTION_MAX, err, sizeof(err)), -1);
    assert_string_equal(err, "letter must be at most 8000 bytes");
}

/* 2026-01-31T20:00:00Z = T0 + 30 days + 20 h = 1767225600000 + 2592000000 + 72000000. */
static void test_times_are_read_as_dates_rfc3339_or_milliseconds(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(complaint_parse_time("2026-01-01", &ms), 0);
    assert_int_equal(ms, T0);
    assert_int_equal(complaint_parse_time("2026-01-31T20:00:00Z", &ms), 0);
    assert_int_equal(ms, 1769889600000LL);
    assert_int_equal(complaint_parse_time("2026-02-01T04:00+08:00", &ms), 0);
    assert_int_equal(ms, 1769889600000LL);
    assert_int_equal(complaint_parse_time("2026-01-31T20:00:00.250Z", &ms), 0);
    assert_int_equal(ms, 1769889600250LL);
    assert_int_equal(complaint_parse_time("1767225600000", &ms), 0);
    assert_int_equal(ms, T0);
    static const char *const bad[] = {"",
                                      "2026-13-01",
                                      "2026-02-30",
                                      "2026-01-01T",
                                      "2026-01-01T25:00Z",
                                      "2026-01-01T10:00",
                                      "2026-01-01T10:00:00+0800",
                                      "2026-01-01T1",
                                      "yesterday",
                                      "2026-01-01T10:00:00Z junk",
                                      "1969-12-31"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (complaint_parse_time(bad[i], &ms) == 0)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(complaint_parse_time(NULL, &ms), -1);
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
        cmocka_unit_test(test_the_six_steps_run_in_order_and_an_accepted_answer_resolves),
        cmocka_unit_test(test_an_answer_not_accepted_goes_back_to_handling),
        cmocka_unit_test(test_a_case_whose_customer_never_answers_can_be_archived_from_feedback),
        cmocka_unit_test(test_every_other_status_and_action_pair_is_refused_naming_the_move),
        cmocka_unit_test(test_the_six_step_statuses_are_named_as_the_business_names_them),
        cmocka_unit_test(test_open_means_not_yet_archived),
        cmocka_unit_test(test_evidence_belongs_to_investigating_and_handling),
        cmocka_unit_test(test_a_case_unaccepted_past_its_deadline_is_overdue),
        cmocka_unit_test(test_priority_follows_scope_and_urgency_and_safety_goes_one_higher),
        cmocka_unit_test(test_the_vocabularies_are_closed),
        cmocka_unit_test(test_a_handler_is_a_plain_login),
        cmocka_unit_test(test_a_text_field_says_something_in_clean_utf8),
        cmocka_unit_test(test_facts_that_are_not_utf8_are_recognised),
        cmocka_unit_test(test_times_are_read_as_dates_rfc3339_or_milliseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
