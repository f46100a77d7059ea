/*
 * test_invitation.c - the never-rules: who gets no survey invitation when a
 * ticket closes, and the reason recorded for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "invitation.h"

static void s_expect(const char *email, survey_decision_t want)
{
    survey_decision_t got = survey_invitation_decide(email);
    if (got != want)
        fail_msg("\"%s\": %s, expected %s", email ? email : "(null)", survey_decision_reason(got),
                 survey_decision_reason(want));
}

static void test_a_customer_with_an_ordinary_address_is_invited(void **state)
{
    (void)state;
    s_expect("li.wei@sinochem-client.cn", SURVEY_INVITE);
    s_expect("Procurement.Team+ops@refinery.example.com", SURVEY_INVITE);
    s_expect("张伟@例子.中国", SURVEY_INVITE);
    /* names that merely begin like a robot's are people */
    s_expect("norah@example.com", SURVEY_INVITE);
    s_expect("reply@example.com", SURVEY_INVITE);
    s_expect("postmaster.zhang@example.com", SURVEY_INVITE);
    s_expect("daemon@example.com", SURVEY_INVITE);
}

static void test_a_customer_without_an_email_address_is_never_invited(void **state)
{
    (void)state;
    s_expect(NULL, SURVEY_SKIP_NO_EMAIL);
    s_expect("", SURVEY_SKIP_NO_EMAIL);
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_NO_EMAIL), "no_email");
}

static void test_a_no_reply_address_is_never_invited_however_it_is_spelled(void **state)
{
    (void)state;
    static const char *const robots[] = {
        "noreply@example.com",      "no-reply@example.com",       "NO_REPLY@example.com",
        "No.Reply@example.com",     "donotreply@example.com",     "do-not-reply@example.com",
        "Do_Not_Reply@example.com", "noreply+alerts@example.com", "no-reply-billing@example.com",
        "dont-reply@example.com",
    };
    for (size_t i = 0; i < sizeof(robots) / sizeof(robots[0]); i++)
        s_expect(robots[i], SURVEY_SKIP_NO_REPLY);
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_NO_REPLY), "no_reply_address");
}

static void test_a_mailer_daemon_is_never_invited(void **state)
{
    (void)state;
    s_expect("MAILER-DAEMON@mx.example.com", SURVEY_SKIP_MAILER_DAEMON);
    s_expect("mailer_daemon@example.com", SURVEY_SKIP_MAILER_DAEMON);
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_MAILER_DAEMON), "mailer_daemon");
}

static void test_a_postmaster_is_never_invited(void **state)
{
    (void)state;
    s_expect("postmaster@example.com", SURVEY_SKIP_POSTMASTER);
    s_expect("PostMaster@example.com", SURVEY_SKIP_POSTMASTER);
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_POSTMASTER), "postmaster");
}

/* An address that could not reach one person — or that would add
   recipients or headers to the invitation mail — is never used. */
static void test_an_address_that_is_not_one_mailbox_is_never_invited(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "li.wei",
        "@example.com",
        "li.wei@",
        "li.wei@localhost",
        "li@wei@example.com",
        "li wei@example.com",
        "li.wei@example.com\r\nBcc: all@example.com",
        "li.wei@example.com,boss@example.com",
        "li.wei@example.com; boss@example.com",
        "Li Wei <li.wei@example.com>",
        "li.wei@.example.com",
        "li.wei@example.com.",
        "li.wei@example..com",
        "li.wei@exa\tmple.com",
        "\"li\"@example.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        s_expect(bad[i], SURVEY_SKIP_INVALID_EMAIL);
    char longest[300];
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + 254 - 12, "@example.com", 13); /* exactly 254 */
    s_expect(longest, SURVEY_INVITE);
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + 255 - 12, "@example.com", 13); /* 255 */
    s_expect(longest, SURVEY_SKIP_INVALID_EMAIL);
}

static void test_every_decision_has_a_stable_reason_code(void **state)
{
    (void)state;
    assert_string_equal(survey_decision_reason(SURVEY_INVITE), "invite");
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_INVALID_EMAIL), "invalid_email");
    assert_string_equal(survey_decision_reason(SURVEY_DECISION_COUNT), "unknown");
}

static void test_a_link_sent_today_works_for_thirty_days(void **state)
{
    (void)state;
    int64_t sent = 1767225600123LL; /* 2026-01-01T00:00:00.123Z */
    assert_int_equal(survey_invitation_expiry_s(sent, 30), 1767225600LL + 30 * 86400);
    assert_int_equal(survey_invitation_expiry_s(sent, 1), 1767225600LL + 86400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_customer_with_an_ordinary_address_is_invited),
        cmocka_unit_test(test_a_customer_without_an_email_address_is_never_invited),
        cmocka_unit_test(test_a_no_reply_address_is_never_invited_however_it_is_spelled),
        cmocka_unit_test(test_a_mailer_daemon_is_never_invited),
        cmocka_unit_test(test_a_postmaster_is_never_invited),
        cmocka_unit_test(test_an_address_that_is_not_one_mailbox_is_never_invited),
        cmocka_unit_test(test_every_decision_has_a_stable_reason_code),
        cmocka_unit_test(test_a_link_sent_today_works_for_thirty_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
