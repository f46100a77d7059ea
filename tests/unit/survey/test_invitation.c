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

/* ---- the contact: e-mail first, else SMS, never a robot ---------------------------- */

static void s_expect_contact(const char *email, const char *phone, survey_decision_t want,
                             survey_channel_t want_channel)
{
    survey_channel_t channel = (survey_channel_t)-1;
    survey_decision_t got = survey_contact_decide(email, phone, &channel);
    if (got != want || channel != want_channel)
        fail_msg("\"%s\" / \"%s\": %s by '%s', expected %s by '%s'", email ? email : "(null)",
                 phone ? phone : "(null)", survey_decision_reason(got),
                 survey_channel_name(channel), survey_decision_reason(want),
                 survey_channel_name(want_channel));
}

static void test_a_contact_with_an_address_is_asked_by_email_even_with_a_phone(void **state)
{
    (void)state;
    s_expect_contact("li.wei@refinery.example.com", NULL, SURVEY_INVITE, SURVEY_CHANNEL_EMAIL);
    s_expect_contact("li.wei@refinery.example.com", "+86 138 0013 8000", SURVEY_INVITE,
                     SURVEY_CHANNEL_EMAIL);
}

static void test_a_contact_with_only_a_phone_is_asked_by_sms(void **state)
{
    (void)state;
    s_expect_contact(NULL, "+86 138 0013 8000", SURVEY_INVITE, SURVEY_CHANNEL_SMS);
    s_expect_contact("", "(010) 5555-0100", SURVEY_INVITE, SURVEY_CHANNEL_SMS);
    /* an address that is no mailbox falls back to the phone */
    s_expect_contact("li.wei at refinery", "13800138000", SURVEY_INVITE, SURVEY_CHANNEL_SMS);
}

static void test_a_robot_address_is_never_asked_even_with_a_phone(void **state)
{
    (void)state;
    s_expect_contact("noreply@example.com", "+86 138 0013 8000", SURVEY_SKIP_NO_REPLY,
                     SURVEY_CHANNEL_NONE);
    s_expect_contact("mailer-daemon@example.com", "13800138000", SURVEY_SKIP_MAILER_DAEMON,
                     SURVEY_CHANNEL_NONE);
    s_expect_contact("postmaster@example.com", "13800138000", SURVEY_SKIP_POSTMASTER,
                     SURVEY_CHANNEL_NONE);
}

static void test_a_contact_that_cannot_be_reached_is_never_asked(void **state)
{
    (void)state;
    s_expect_contact(NULL, NULL, SURVEY_SKIP_NO_CONTACT, SURVEY_CHANNEL_NONE);
    s_expect_contact("", "", SURVEY_SKIP_NO_CONTACT, SURVEY_CHANNEL_NONE);
    s_expect_contact("", "ask reception", SURVEY_SKIP_NO_CONTACT, SURVEY_CHANNEL_NONE);
    s_expect_contact("li.wei at refinery", "", SURVEY_SKIP_INVALID_EMAIL, SURVEY_CHANNEL_NONE);
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_NO_CONTACT), "no_contact");
}

static void test_a_phone_number_is_seven_to_fifteen_digits(void **state)
{
    (void)state;
    char d[SURVEY_PHONE_DIGITS_MAX + 1];
    assert_int_equal(survey_phone_digits("+86 138-0013-8000", d, sizeof(d)), 0);
    assert_string_equal(d, "8613800138000");
    assert_int_equal(survey_phone_digits("(010) 5555.0100", d, sizeof(d)), 0);
    assert_string_equal(d, "01055550100");
    assert_int_equal(survey_phone_digits("123456", d, sizeof(d)), -1);           /* too short */
    assert_int_equal(survey_phone_digits("1234567890123456", d, sizeof(d)), -1); /* 16 */
    assert_int_equal(survey_phone_digits("86+13800138000", d, sizeof(d)), -1);   /* '+' inside */
    assert_int_equal(survey_phone_digits("138 0013 8000 ext 2", d, sizeof(d)), -1);
    assert_int_equal(survey_phone_digits(NULL, d, sizeof(d)), -1);
}

static void test_a_contact_is_the_same_whatever_the_case_or_the_spacing(void **state)
{
    (void)state;
    char a[SURVEY_CONTACT_KEY_MAX + 1], b[SURVEY_CONTACT_KEY_MAX + 1];
    assert_int_equal(
        survey_contact_key(SURVEY_CHANNEL_EMAIL, "Li.Wei@Refinery.Example.com", NULL, a, sizeof(a)),
        0);
    assert_int_equal(
        survey_contact_key(SURVEY_CHANNEL_EMAIL, "li.wei@refinery.example.COM", NULL, b, sizeof(b)),
        0);
    assert_string_equal(a, "email:li.wei@refinery.example.com");
    assert_string_equal(a, b);
    assert_int_equal(
        survey_contact_key(SURVEY_CHANNEL_SMS, NULL, "+86 138 0013 8000", a, sizeof(a)), 0);
    assert_int_equal(survey_contact_key(SURVEY_CHANNEL_SMS, NULL, "86-13800138000", b, sizeof(b)),
                     0);
    assert_string_equal(a, "phone:8613800138000");
    assert_string_equal(a, b);
    assert_int_equal(survey_contact_key(SURVEY_CHANNEL_NONE, "x@y.cn", "13800138000", a, sizeof(a)),
                     -1);
}

/* ---- the ticket: served, or terminated / merged / spam -------------------------------- */

static void test_a_ticket_that_was_not_served_is_never_surveyed(void **state)
{
    (void)state;
    assert_int_equal(survey_ticket_decide("closed", ""), SURVEY_INVITE);
    assert_int_equal(survey_ticket_decide("closed", "customer confirmed"), SURVEY_INVITE);
    assert_int_equal(survey_ticket_decide(NULL, NULL), SURVEY_INVITE);
    assert_int_equal(survey_ticket_decide("terminated", "contract expired"),
                     SURVEY_SKIP_TERMINATED);
    assert_int_equal(survey_ticket_decide("merged", ""), SURVEY_SKIP_MERGED);
    assert_int_equal(survey_ticket_decide("closed", "Merged into CS-2026-000042"),
                     SURVEY_SKIP_MERGED);
    assert_int_equal(survey_ticket_decide("closed", "duplicate of CS-2026-000042"),
                     SURVEY_SKIP_MERGED);
    assert_int_equal(survey_ticket_decide("closed", " 合并至 CS-2026-000042"), SURVEY_SKIP_MERGED);
    assert_int_equal(survey_ticket_decide("closed", "重复工单"), SURVEY_SKIP_MERGED);
    assert_int_equal(survey_ticket_decide("SPAM", ""), SURVEY_SKIP_SPAM);
    assert_int_equal(survey_ticket_decide("closed", "spam"), SURVEY_SKIP_SPAM);
    assert_int_equal(survey_ticket_decide("closed", "垃圾邮件"), SURVEY_SKIP_SPAM);
    /* the words count at the start of the reason only */
    assert_int_equal(survey_ticket_decide("closed", "not spam, a real leak"), SURVEY_INVITE);
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_TERMINATED), "terminated");
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_MERGED), "merged");
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_SPAM), "spam");
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_OPTED_OUT), "opted_out");
    assert_string_equal(survey_decision_reason(SURVEY_SKIP_RECENTLY), "surveyed_recently");
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
        cmocka_unit_test(test_a_contact_with_an_address_is_asked_by_email_even_with_a_phone),
        cmocka_unit_test(test_a_contact_with_only_a_phone_is_asked_by_sms),
        cmocka_unit_test(test_a_robot_address_is_never_asked_even_with_a_phone),
        cmocka_unit_test(test_a_contact_that_cannot_be_reached_is_never_asked),
        cmocka_unit_test(test_a_phone_number_is_seven_to_fifteen_digits),
        cmocka_unit_test(test_a_contact_is_the_same_whatever_the_case_or_the_spacing),
        cmocka_unit_test(test_a_ticket_that_was_not_served_is_never_surveyed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
