/*
 * test_ticket — the ticket lifecycle and how an intake event becomes a
 * ticket, as the service desk expects them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cs_commitment.h"
#include "ticket.h"

#define RULES_PATH "services/dispatch/rules/classify.rules"

static ticket_status_t S(const char *name)
{
    ticket_status_t s;
    assert_int_equal(ticket_status_parse(name, &s), 0);
    return s;
}

static const char *s_after(ticket_action_t a, const char *from)
{
    int to = ticket_action_target(a, S(from));
    return to < 0 ? "refused" : ticket_status_name((ticket_status_t)to);
}

/* ---- statuses ------------------------------------------------------------------ */

static void test_every_status_has_a_name_that_parses_back(void **state)
{
    (void)state;
    const char *names[] = {"new",         "accepted",         "queued",   "assigned",
                           "in_progress", "pending_customer", "resolved", "closed",
                           "reopened",    "terminated"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), TICKET_STATUS_COUNT);
    for (int i = 0; i < TICKET_STATUS_COUNT; i++)
        assert_string_equal(ticket_status_name(S(names[i])), names[i]);
}

static void test_unknown_status_words_are_refused(void **state)
{
    (void)state;
    ticket_status_t s;
    assert_int_equal(ticket_status_parse("open", &s), -1);
    assert_int_equal(ticket_status_parse("Closed", &s), -1);
    assert_int_equal(ticket_status_parse("", &s), -1);
    assert_int_equal(ticket_status_parse(NULL, &s), -1);
    assert_string_equal(ticket_status_name((ticket_status_t)99), "?");
}

/* ---- the lifecycle --------------------------------------------------------------- */

static void test_a_new_ticket_is_accepted_then_assigned_or_queued(void **state)
{
    (void)state;
    assert_true(ticket_can_move(S("new"), S("accepted")));
    assert_true(ticket_can_move(S("accepted"), S("assigned")));
    assert_true(ticket_can_move(S("accepted"), S("queued")));
    assert_true(ticket_can_move(S("queued"), S("assigned")));
    assert_false(ticket_can_move(S("new"), S("assigned")));       /* never unaccepted */
    assert_false(ticket_can_move(S("queued"), S("in_progress"))); /* nobody to work it */
}

static void test_a_ticket_is_resolved_only_after_a_response(void **state)
{
    (void)state;
    assert_false(ticket_can_move(S("assigned"), S("resolved")));
    assert_true(ticket_can_move(S("in_progress"), S("resolved")));
    assert_true(ticket_can_move(S("pending_customer"), S("resolved")));
}

static void test_a_ticket_is_closed_only_once_resolved(void **state)
{
    (void)state;
    for (int s = 0; s < TICKET_STATUS_COUNT; s++)
        assert_int_equal(ticket_can_move((ticket_status_t)s, S("closed")), s == TICKET_RESOLVED);
}

static void test_terminated_is_final_and_closed_can_only_reopen(void **state)
{
    (void)state;
    for (int s = 0; s < TICKET_STATUS_COUNT; s++) {
        assert_false(ticket_can_move(S("terminated"), (ticket_status_t)s));
        assert_int_equal(ticket_can_move(S("closed"), (ticket_status_t)s), s == TICKET_REOPENED);
    }
}

static void test_every_unfinished_ticket_can_be_terminated(void **state)
{
    (void)state;
    for (int s = 0; s < TICKET_STATUS_COUNT; s++)
        assert_int_equal(ticket_can_move((ticket_status_t)s, S("terminated")),
                         s != TICKET_CLOSED && s != TICKET_TERMINATED);
}

static void test_nothing_moves_back_to_new(void **state)
{
    (void)state;
    for (int s = 0; s < TICKET_STATUS_COUNT; s++)
        assert_false(ticket_can_move((ticket_status_t)s, S("new")));
}

static void test_out_of_range_statuses_never_move(void **state)
{
    (void)state;
    assert_false(ticket_can_move((ticket_status_t)-1, S("accepted")));
    assert_false(ticket_can_move(S("new"), TICKET_STATUS_COUNT));
}

static void test_workload_is_what_an_agent_still_has_to_do(void **state)
{
    (void)state;
    assert_true(ticket_status_is_workload(S("assigned")));
    assert_true(ticket_status_is_workload(S("in_progress")));
    assert_true(ticket_status_is_workload(S("pending_customer")));
    assert_true(ticket_status_is_workload(S("reopened")));
    assert_false(ticket_status_is_workload(S("queued")));
    assert_false(ticket_status_is_workload(S("resolved")));
    assert_false(ticket_status_is_workload(S("closed")));
    assert_true(ticket_status_is_open(S("resolved")));
    assert_false(ticket_status_is_open(S("closed")));
    assert_false(ticket_status_is_open(S("terminated")));
}

/* ---- agent actions ----------------------------------------------------------------- */

static void test_respond_puts_the_ticket_in_progress(void **state)
{
    (void)state;
    assert_string_equal(s_after(TICKET_RESPOND, "assigned"), "in_progress");
    assert_string_equal(s_after(TICKET_RESPOND, "in_progress"), "in_progress");
    assert_string_equal(s_after(TICKET_RESPOND, "pending_customer"), "in_progress");
    assert_string_equal(s_after(TICKET_RESPOND, "reopened"), "in_progress");
    assert_string_equal(s_after(TICKET_RESPOND, "queued"), "refused");
    assert_string_equal(s_after(TICKET_RESPOND, "resolved"), "refused");
    assert_string_equal(s_after(TICKET_RESPOND, "closed"), "refused");
}

static void test_resolve_close_reopen_follow_the_lifecycle(void **state)
{
    (void)state;
    assert_string_equal(s_after(TICKET_RESOLVE, "in_progress"), "resolved");
    assert_string_equal(s_after(TICKET_RESOLVE, "assigned"), "refused");
    assert_string_equal(s_after(TICKET_RESOLVE, "resolved"), "refused");
    assert_string_equal(s_after(TICKET_CLOSE, "resolved"), "closed");
    assert_string_equal(s_after(TICKET_CLOSE, "in_progress"), "refused");
    assert_string_equal(s_after(TICKET_CLOSE, "closed"), "refused");
    assert_string_equal(s_after(TICKET_REOPEN, "closed"), "reopened");
    assert_string_equal(s_after(TICKET_REOPEN, "resolved"), "reopened");
    assert_string_equal(s_after(TICKET_REOPEN, "in_progress"), "refused");
    assert_string_equal(s_after(TICKET_HOLD, "in_progress"), "pending_customer");
    assert_string_equal(s_after(TICKET_HOLD, "assigned"), "refused");
    assert_string_equal(s_after(TICKET_TERMINATE, "terminated"), "refused");
}

static void test_every_allowed_action_is_a_legal_move(void **state)
{
    (void)state;
    for (int a = 0; a < TICKET_ACTION_COUNT; a++)
        for (int s = 0; s < TICKET_STATUS_COUNT; s++) {
            int to = ticket_action_target((ticket_action_t)a, (ticket_status_t)s);
            if (to < 0)
                continue;
            if (ticket_action_keeps_status((ticket_action_t)a))
                assert_int_equal(to, s);
            else
                assert_true(ticket_can_move((ticket_status_t)s, (ticket_status_t)to));
        }
}

/* The whole table, written out by hand from the lifecycle of issue 5: for
   each action, the statuses it is allowed in; every other pair is refused. */
static void test_every_action_in_every_status_by_hand(void **state)
{
    (void)state;
    static const struct {
        ticket_action_t action;
        const char *allowed; /* space-separated statuses, each followed by a space */
    } table[] = {
        {TICKET_RESPOND, "assigned in_progress pending_customer reopened "},
        {TICKET_HOLD, "in_progress "},
        {TICKET_RESOLVE, "in_progress pending_customer reopened "},
        {TICKET_CLOSE, "resolved "},
        {TICKET_REOPEN, "resolved closed "},
        {TICKET_TERMINATE,
         "new accepted queued assigned in_progress pending_customer resolved reopened "},
        {TICKET_ACCEPT, "accepted queued "},
        {TICKET_ASSIGN, "accepted queued "},
        {TICKET_TRANSFER, "assigned in_progress pending_customer reopened "},
        {TICKET_NOTE, "new accepted queued assigned in_progress pending_customer resolved closed "
                      "reopened "},
        {TICKET_RESUME, "pending_customer "},
        {TICKET_RECLASSIFY,
         "new accepted queued assigned in_progress pending_customer resolved reopened "},
    };
    assert_int_equal(sizeof(table) / sizeof(table[0]), TICKET_ACTION_COUNT);
    int allowed_pairs = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        for (int s = 0; s < TICKET_STATUS_COUNT; s++) {
            char word[32], hay[160];
            snprintf(word, sizeof(word), " %s ", ticket_status_name((ticket_status_t)s));
            snprintf(hay, sizeof(hay), " %s", table[i].allowed);
            int expect = strstr(hay, word) != NULL;
            int got = ticket_action_target(table[i].action, (ticket_status_t)s) >= 0;
            if (expect != got)
                fail_msg("%s in %s: expected %s", ticket_action_name(table[i].action),
                         ticket_status_name((ticket_status_t)s), expect ? "allowed" : "refused");
            allowed_pairs += got;
        }
    /* 4+1+3+1+2+8+2+2+4+9+1+8 = 45 of the 120 pairs are allowed */
    assert_int_equal(allowed_pairs, 45);
}

static void test_resume_leads_back_to_work_and_transfer_keeps_the_status(void **state)
{
    (void)state;
    assert_string_equal(s_after(TICKET_RESUME, "pending_customer"), "in_progress");
    assert_string_equal(s_after(TICKET_RESUME, "in_progress"), "refused");
    assert_string_equal(s_after(TICKET_TRANSFER, "pending_customer"), "pending_customer");
    assert_string_equal(s_after(TICKET_TRANSFER, "queued"), "refused");
    assert_string_equal(s_after(TICKET_ACCEPT, "queued"), "assigned");
    assert_string_equal(s_after(TICKET_ACCEPT, "assigned"), "refused");
    assert_string_equal(s_after(TICKET_NOTE, "closed"), "closed");
    assert_string_equal(s_after(TICKET_NOTE, "terminated"), "refused");
    assert_string_equal(ticket_action_event(TICKET_TRANSFER), "dispatch.ticket.transferred");
    assert_string_equal(ticket_action_event(TICKET_NOTE), "dispatch.ticket.noted");
    assert_string_equal(ticket_action_event(TICKET_RECLASSIFY), "dispatch.ticket.reclassified");
    assert_string_equal(ticket_action_event(TICKET_RESUME), "dispatch.ticket.status_changed");
}

static void test_actions_emit_the_contracted_events(void **state)
{
    (void)state;
    assert_string_equal(ticket_action_event(TICKET_RESPOND), "dispatch.ticket.responded");
    assert_string_equal(ticket_action_event(TICKET_RESOLVE), "dispatch.ticket.resolved");
    assert_string_equal(ticket_action_event(TICKET_CLOSE), "dispatch.ticket.closed");
    assert_string_equal(ticket_action_event(TICKET_REOPEN), "dispatch.ticket.reopened");
    assert_string_equal(ticket_action_event(TICKET_TERMINATE), "dispatch.ticket.terminated");
    int required = 0;
    assert_string_equal(ticket_action_text_field(TICKET_RESPOND, &required), "message");
    assert_true(required);
    assert_string_equal(ticket_action_text_field(TICKET_RESOLVE, &required), "report");
    assert_true(required);
    ticket_action_text_field(TICKET_CLOSE, &required);
    assert_false(required);
    ticket_action_t a;
    assert_int_equal(ticket_action_parse("resolve", &a), 0);
    assert_int_equal(a, TICKET_RESOLVE);
    assert_int_equal(ticket_action_parse("delete", &a), -1);
}

static void test_a_refused_action_reads_as_english_after_cannot_be(void **state)
{
    (void)state;
    /* "ticket CS-2026-000001 is closed; it cannot be <done> now" */
    assert_string_equal(ticket_action_done(TICKET_RESPOND), "responded to");
    assert_string_equal(ticket_action_done(TICKET_HOLD), "put on hold");
    assert_string_equal(ticket_action_done(TICKET_RESOLVE), "resolved");
    assert_string_equal(ticket_action_done(TICKET_CLOSE), "closed");
    assert_string_equal(ticket_action_done(TICKET_REOPEN), "reopened");
    assert_string_equal(ticket_action_done(TICKET_TERMINATE), "terminated");
    assert_string_equal(ticket_action_done(TICKET_ACTION_COUNT), "?");
}

/* ---- text from outside ------------------------------------------------------------------ */

static void test_clean_text_keeps_chinese_and_replaces_broken_bytes(void **state)
{
    (void)state;
    char out[64];
    ticket_clean_text(out, sizeof(out), "储罐泄漏", 100);
    assert_string_equal(out, "储罐泄漏");
    ticket_clean_text(out, sizeof(out),
                      "a\xff\xfe"
                      "b",
                      100);
    assert_string_equal(out, "a??b");
    ticket_clean_text(out, sizeof(out), "\xe5\xad", 100); /* truncated 3-byte character */
    assert_string_equal(out, "??");
    ticket_clean_text(out, sizeof(out), "\xc0\xaf", 100); /* overlong '/' */
    assert_string_equal(out, "??");
    ticket_clean_text(out, sizeof(out), "\xed\xa0\x80", 100); /* a UTF-16 surrogate */
    assert_string_equal(out, "???");
}

static void test_clean_text_blanks_control_characters_but_keeps_lines(void **state)
{
    (void)state;
    char out[64];
    ticket_clean_text(out, sizeof(out), "a\x1b[31mb\r\nc\td", 100);
    assert_string_equal(out, "a [31mb \nc\td");
}

static void test_clean_text_never_cuts_a_character_in_half(void **state)
{
    (void)state;
    char out[64];
    /* 泄 is three bytes: a bound of 4 keeps one character, not one and a third */
    assert_int_equal(ticket_clean_text(out, sizeof(out), "泄漏", 4), 3);
    assert_string_equal(out, "泄");
    assert_int_equal(ticket_clean_text(out, 3, "abcdef", 100), 2); /* the buffer bounds too */
    assert_string_equal(out, "ab");
}

static void test_ticket_numbers_and_logins_have_a_safe_shape(void **state)
{
    (void)state;
    assert_true(ticket_number_valid("CS-2026-000123"));
    assert_false(ticket_number_valid(""));
    assert_false(ticket_number_valid("CS 1"));
    assert_false(ticket_number_valid("../etc"));
    assert_false(ticket_number_valid("CS-2026-00000000000000000000000000000000001"));
    assert_true(ticket_login_valid("wang.lei"));
    assert_false(ticket_login_valid("Wang.Lei"));
    assert_false(ticket_login_valid("wang lei"));
    assert_false(ticket_login_valid("王磊"));
    assert_false(ticket_login_valid(NULL));
}

/* ---- from intake's event ------------------------------------------------------------------ */

static classify_rules_t *s_rules;

static int s_setup(void **state)
{
    (void)state;
    char err[256];
    const char *path = getenv("CLASSIFY_RULES") ? getenv("CLASSIFY_RULES") : RULES_PATH;
    s_rules = classify_rules_load(path, err, sizeof(err));
    if (!s_rules)
        fprintf(stderr, "cannot load %s: %s\n", path, err);
    return s_rules ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    classify_rules_destroy(&s_rules);
    return 0;
}

static Cs__Customer s_customer(void)
{
    Cs__Customer c = CS__CUSTOMER__INIT;
    c.customer_id = "7f1c2d3e-0000-4000-8000-000000000001";
    c.name = "周建国";
    c.email = "zhou.jianguo@example-chem.cn";
    c.phone = "+86 21 5555 0101";
    c.company = "华东某化工有限公司";
    c.tier = "large";
    c.language = "zh-CN";
    return c;
}

static Cs__TicketCreated s_created(Cs__Customer *c)
{
    Cs__TicketCreated tc = CS__TICKET_CREATED__INIT;
    tc.ticket_id = "0b9a7c1e-1111-4222-8333-444455556666";
    tc.number = "CS-2026-000123";
    tc.channel = "web";
    tc.received_at_ms = 1764806400000; /* 2025-12-04T00:00:00Z */
    tc.customer = c;
    tc.subject = "3号储罐区VOC在线监测数据异常";
    tc.text = "今天上午开始在线监测数据持续超标，请尽快安排人员。";
    return tc;
}

static void test_an_intake_request_becomes_a_new_classified_ticket(void **state)
{
    (void)state;
    Cs__Customer c = s_customer();
    Cs__TicketCreated tc = s_created(&c);
    char err[128];
    ticket_t *t = ticket_from_created(&tc, s_rules, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(t->status, TICKET_NEW);
    assert_string_equal(t->number, "CS-2026-000123");
    assert_string_equal(t->channel, "web");
    assert_string_equal(t->customer_name, "周建国");
    assert_string_equal(t->tier, "large");
    /* the rules file: online VOC monitoring is an environmental permit matter */
    assert_string_equal(t->service_type, "environmental_compliance");
    assert_string_equal(t->rule_id, "env-online-monitoring"); /* the reason is kept */
    assert_int_equal(t->rules_version, classify_rules_version(s_rules));
    assert_string_equal(t->assignee, "");
    assert_string_equal(t->owner, "");
    ticket_destroy(&t);
    assert_null(t);
}

static void test_commitments_follow_the_priority(void **state)
{
    (void)state;
    Cs__Customer c = s_customer();
    Cs__TicketCreated tc = s_created(&c);
    tc.subject = "请问润滑油的储存温度";
    tc.text = "";
    tc.urgency = "critical";
    tc.impact = "multi_site";
    char err[128];
    ticket_t *t = ticket_from_created(&tc, s_rules, err, sizeof(err));
    assert_non_null(t);
    cs_commitment_t cm = cs_commitment_for(t->priority);
    assert_string_equal(t->priority, "P1");
    assert_int_equal(t->first_response_minutes, 60); /* P1: first response within 1 h */
    assert_int_equal(t->resolution_minutes, cm.resolution_min);
    assert_true(t->expected_start_ms == tc.received_at_ms + 60 * 60000LL);
    ticket_destroy(&t);
}

static void test_the_customer_chosen_service_type_wins(void **state)
{
    (void)state;
    Cs__Customer c = s_customer();
    Cs__TicketCreated tc = s_created(&c);
    tc.requested_type = "training";
    char err[128];
    ticket_t *t = ticket_from_created(&tc, s_rules, err, sizeof(err));
    assert_non_null(t);
    assert_string_equal(t->service_type, "training");
    assert_string_equal(t->rule_id, "requested");
    ticket_destroy(&t);
}

static void test_an_event_without_a_valid_ticket_id_or_number_is_refused(void **state)
{
    (void)state;
    Cs__Customer c = s_customer();
    Cs__TicketCreated tc = s_created(&c);
    char err[128] = "";
    tc.ticket_id = "not-a-uuid";
    assert_null(ticket_from_created(&tc, s_rules, err, sizeof(err)));
    assert_non_null(strstr(err, "ticket_id"));
    tc = s_created(&c);
    tc.number = "CS 2026'; DROP TABLE tickets";
    assert_null(ticket_from_created(&tc, s_rules, err, sizeof(err)));
    assert_non_null(strstr(err, "number"));
}

static void test_hostile_event_text_is_bounded_and_made_valid(void **state)
{
    (void)state;
    Cs__Customer c = s_customer();
    c.name = "\xff\xfe 王\x01";
    c.tier = "platinum";
    c.language = "fr";
    Cs__TicketCreated tc = s_created(&c);
    tc.channel = "carrier-pigeon";
    size_t big = 1 << 20;
    char *subject = malloc(big + 1);
    assert_non_null(subject);
    memset(subject, 'x', big);
    subject[big] = 0;
    tc.subject = subject;
    tc.emergency_flag = 77;
    char err[128];
    ticket_t *t = ticket_from_created(&tc, s_rules, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(strlen(t->subject), TICKET_SUBJECT_MAX);
    assert_string_equal(t->customer_name, "?? 王 ");
    assert_string_equal(t->tier, "");          /* not a tier */
    assert_string_equal(t->language, "zh-CN"); /* the default */
    assert_string_equal(t->channel, "other");
    assert_int_equal(t->emergency_level, 0); /* an impossible flag is ignored */
    ticket_destroy(&t);
    free(subject);
}

static void test_a_missing_customer_still_makes_a_ticket(void **state)
{
    (void)state;
    Cs__TicketCreated tc = s_created(NULL);
    tc.language = "en";
    char err[128];
    ticket_t *t = ticket_from_created(&tc, s_rules, err, sizeof(err));
    assert_non_null(t);
    assert_string_equal(t->customer_email, "");
    assert_string_equal(t->language, "en");
    ticket_destroy(&t);
}

static void test_destroy_accepts_null(void **state)
{
    (void)state;
    ticket_t *t = NULL;
    ticket_destroy(&t);
    ticket_destroy(NULL);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_has_a_name_that_parses_back),
        cmocka_unit_test(test_unknown_status_words_are_refused),
        cmocka_unit_test(test_a_new_ticket_is_accepted_then_assigned_or_queued),
        cmocka_unit_test(test_a_ticket_is_resolved_only_after_a_response),
        cmocka_unit_test(test_a_ticket_is_closed_only_once_resolved),
        cmocka_unit_test(test_terminated_is_final_and_closed_can_only_reopen),
        cmocka_unit_test(test_every_unfinished_ticket_can_be_terminated),
        cmocka_unit_test(test_nothing_moves_back_to_new),
        cmocka_unit_test(test_out_of_range_statuses_never_move),
        cmocka_unit_test(test_workload_is_what_an_agent_still_has_to_do),
        cmocka_unit_test(test_respond_puts_the_ticket_in_progress),
        cmocka_unit_test(test_resolve_close_reopen_follow_the_lifecycle),
        cmocka_unit_test(test_every_allowed_action_is_a_legal_move),
        cmocka_unit_test(test_every_action_in_every_status_by_hand),
        cmocka_unit_test(test_resume_leads_back_to_work_and_transfer_keeps_the_status),
        cmocka_unit_test(test_actions_emit_the_contracted_events),
        cmocka_unit_test(test_a_refused_action_reads_as_english_after_cannot_be),
        cmocka_unit_test(test_clean_text_keeps_chinese_and_replaces_broken_bytes),
        cmocka_unit_test(test_clean_text_blanks_control_characters_but_keeps_lines),
        cmocka_unit_test(test_clean_text_never_cuts_a_character_in_half),
        cmocka_unit_test(test_ticket_numbers_and_logins_have_a_safe_shape),
        cmocka_unit_test(test_an_intake_request_becomes_a_new_classified_ticket),
        cmocka_unit_test(test_commitments_follow_the_priority),
        cmocka_unit_test(test_the_customer_chosen_service_type_wins),
        cmocka_unit_test(test_an_event_without_a_valid_ticket_id_or_number_is_refused),
        cmocka_unit_test(test_hostile_event_text_is_bounded_and_made_valid),
        cmocka_unit_test(test_a_missing_customer_still_makes_a_ticket),
        cmocka_unit_test(test_destroy_accepts_null),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
