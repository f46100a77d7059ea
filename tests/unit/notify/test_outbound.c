/*
 * test_outbound — which letter an event asks for, in which language, to whom, with which
 * facts; and the rules that hold a mail back (never mail a no-reply address, at most N
 * automatic mails a day).  The letters are rendered with the shipped templates, so "the
 * variables are right" means what the customer would read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../services/notify/delivery.h"
#include "../../../services/notify/letter.h"
#include "../../../services/notify/outbound.h"

#define TEMPLATES "services/notify/templates" /* tests run from the repository root */

/* 2026-03-02 08:15 in Beijing = 00:15 UTC */
static const int64_t RECEIVED_MS = 1772410500000LL;

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct {
    Cs__TicketFacts facts;
    Cs__TicketEvent te;
    Cs__SurveyEvent se;
    Cs__Envelope env;
} event_t;

static event_t *s_ticket_event(const char *type)
{
    event_t *e = calloc(1, sizeof(*e));
    cs__ticket_facts__init(&e->facts);
    cs__ticket_event__init(&e->te);
    cs__envelope__init(&e->env);
    e->facts.ticket_id = "6f1c2a3e-0000-4000-8000-000000000001";
    e->facts.number = "CS-2026-000123";
    e->facts.received_at_ms = RECEIVED_MS;
    e->facts.customer_name = "李伟";
    e->facts.customer_email = "li.wei@sinochem-example.cn";
    e->facts.language = "zh-CN";
    e->facts.subject = "加氢装置换热器泄漏检修";
    e->facts.service_type = "equipment_maintenance";
    e->facts.priority = "P3";
    e->facts.assignee = "wang.fang";
    e->facts.message_id = "<CAF123@mail.sinochem-example.cn>";
    e->te.facts = &e->facts;
    e->te.actor = "wang.fang";
    e->te.first_response_minutes = 120;
    e->te.resolution_minutes = 2880;
    e->te.expected_start_ms = RECEIVED_MS + 120 * 60000LL;
    e->env.event_id = "9d2b1c4e-0000-4000-8000-000000000002";
    e->env.type = (char *)type;
    e->env.occurred_at_ms = RECEIVED_MS;
    e->env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    e->env.ticket_event = &e->te;
    return e;
}

static event_t *s_survey_event(void)
{
    event_t *e = calloc(1, sizeof(*e));
    cs__survey_event__init(&e->se);
    cs__envelope__init(&e->env);
    e->se.number = "CS-2026-000123";
    e->se.email = "li.wei@sinochem-example.cn";
    e->se.name = "李伟";
    e->se.language = "zh-CN";
    e->se.link = "http://127.0.0.1:7500/s/AbC123";
    e->se.opt_out_link = "http://127.0.0.1:7500/s/AbC123/optout";
    e->se.expires_at_ms = RECEIVED_MS + 30LL * 86400000;
    e->env.event_id = "9d2b1c4e-0000-4000-8000-000000000003";
    e->env.type = "survey.requested";
    e->env.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
    e->env.survey_event = &e->se;
    return e;
}

static outbound_t *s_mail_for(event_t *e, const char *subject)
{
    outbound_t *o = NULL;
    const char *why = NULL;
    int rc = outbound_from_event(&e->env, subject, &o, &why);
    if (rc != OUTBOUND_MAIL)
        fail_msg("expected a notification, got %d (%s)", rc, why ? why : "-");
    return o;
}

static const char *s_var(const outbound_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o->vars, name));
    if (!v)
        fail_msg("variable %s not set", name);
    return v;
}

/* Render o with the shipped templates, as the delivery worker will. */
static void s_render(const outbound_t *o, char **subject, char **body)
{
    char err[512] = "";
    letter_templates_t *t = letter_templates_load(TEMPLATES, err, sizeof(err));
    if (!t)
        fail_msg("templates: %s", err);
    letter_vars_t *vars = letter_vars_new();
    const char *key;
    json_t *value;
    json_object_foreach(o->vars, key, value)
    {
        assert_int_equal(letter_vars_set(vars, key, json_string_value(value)), 0);
    }
    if (letter_render(t, o->kind, o->language, vars, subject, body, err, sizeof(err)) < 0)
        fail_msg("render %s/%s: %s", o->kind, o->language, err);
    letter_vars_destroy(&vars);
    letter_templates_destroy(&t);
}

/* ---- what each event becomes ------------------------------------------------------------ */

static void
test_an_accepted_ticket_gets_an_acceptance_letter_with_number_start_and_commitments(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.accepted");
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(o->kind, "acceptance");
    assert_true(o->automatic);
    assert_string_equal(o->language, "zh-CN");
    assert_string_equal(o->recipient, "li.wei@sinochem-example.cn");
    assert_string_equal(o->ticket_number, "CS-2026-000123");
    assert_string_equal(o->in_reply_to, "<CAF123@mail.sinochem-example.cn>");
    assert_string_equal(s_var(o, "request_subject"), "加氢装置换热器泄漏检修");
    assert_string_equal(s_var(o, "service_type"), "设备维护与维修");
    assert_string_equal(s_var(o, "received_at"), "2026-03-02 08:15 (UTC+8)");
    assert_string_equal(s_var(o, "expected_start"), "2026-03-02 10:15 (UTC+8)");
    assert_string_equal(s_var(o, "first_response_hours"), "2");
    assert_string_equal(s_var(o, "resolution_hours"), "48");

    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(subject, "[CS-2026-000123]"));
    assert_non_null(strstr(subject, "受理确认函"));
    assert_non_null(strstr(body, "尊敬的李伟"));
    assert_non_null(strstr(body, "预计开始服务时间：2026-03-02 10:15 (UTC+8)"));
    assert_non_null(strstr(body, "受理后 2 小时内"));
    assert_non_null(strstr(body, "受理后 48 小时内"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    assert_null(o);
    free(e);
}

static void test_an_english_speaking_customer_is_written_to_in_english(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.accepted");
    e->facts.language = "en-GB";
    e->facts.customer_name = "Sarah Miller";
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(o->language, "en");
    assert_string_equal(s_var(o, "service_type"), "Equipment maintenance and repair");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(subject, "[CS-2026-000123]"));
    assert_non_null(strstr(body, "Sarah Miller"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
}

static void test_a_customer_without_a_language_is_written_to_in_chinese(void **state)
{
    (void)state;
    assert_string_equal(outbound_language(""), "zh-CN");
    assert_string_equal(outbound_language(NULL), "zh-CN");
    assert_string_equal(outbound_language("zh"), "zh-CN");
    assert_string_equal(outbound_language("EN"), "en");
    assert_string_equal(outbound_language("en_US"), "en");
    assert_string_equal(outbound_language("enx"), "zh-CN");
}

static void test_missing_commitments_come_from_the_commitment_table_for_the_priority(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.accepted");
    e->facts.priority = "P1";
    e->te.first_response_minutes = 0;
    e->te.resolution_minutes = 0;
    e->te.expected_start_ms = 0;
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(s_var(o, "first_response_hours"), "1");
    assert_string_equal(s_var(o, "resolution_hours"), "24");
    assert_string_equal(s_var(o, "expected_start"), "2026-03-02 09:15 (UTC+8)");
    outbound_destroy(&o);
    free(e);
}

static void test_blank_facts_never_leave_a_blank_in_the_letter(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.accepted");
    e->facts.customer_name = "  ";
    e->facts.subject = "";
    e->facts.service_type = "";
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(s_var(o, "customer_name"), "客户");
    assert_string_equal(s_var(o, "request_subject"), "您的服务申请");
    assert_string_equal(s_var(o, "service_type"), "一般服务申请");
    char *subject, *body;
    s_render(o, &subject, &body); /* renders: no declared variable is blank */
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
}

static void test_an_agent_response_becomes_an_update_carrying_the_agents_message(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.responded");
    e->te.message = "工程师已于今晨到达现场，正在更换密封垫片。";
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(o->kind, "update");
    assert_false(o->automatic); /* a person's words, not an automatic mail */
    assert_string_equal(s_var(o, "agent_name"), "wang.fang");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(body, "工程师已于今晨到达现场，正在更换密封垫片。"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
}

static void test_a_response_without_a_message_sends_nothing(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.responded");
    e->te.message = " \n";
    outbound_t *o = NULL;
    const char *why = NULL;
    assert_int_equal(outbound_from_event(&e->env, NULL, &o, &why), OUTBOUND_NONE);
    assert_null(o);
    assert_string_equal(why, "no_message");
    free(e);
}

static void
test_a_note_to_the_customer_becomes_a_note_letter_and_an_internal_one_nothing(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.noted");
    e->te.message = "备件已发出，预计周四到厂。";
    e->te.to_customer = true;
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(o->kind, "note");
    assert_false(o->automatic); /* an agent's own words */
    assert_string_equal(s_var(o, "agent_name"), "wang.fang");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(subject, "[CS-2026-000123]"));
    assert_non_null(strstr(body, "备件已发出，预计周四到厂。"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    e->te.to_customer = false;
    const char *why = NULL;
    assert_int_equal(outbound_from_event(&e->env, NULL, &o, &why), OUTBOUND_NONE);
    assert_null(o);
    assert_string_equal(why, "internal_note");
    free(e);
}

static void test_a_resolved_ticket_gets_a_resolution_letter_with_the_service_report(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.resolved");
    e->te.message = "更换 E-102 换热器管板密封垫片 4 片，试压 2.5 MPa 合格。";
    e->te.at_ms = RECEIVED_MS + 3600000;
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(o->kind, "resolution");
    assert_true(o->automatic);
    assert_string_equal(s_var(o, "resolved_at"), "2026-03-02 09:15 (UTC+8)");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(subject, "[CS-2026-000123]"));
    assert_non_null(strstr(body, "试压 2.5 MPa 合格"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
}

static void test_a_survey_request_becomes_an_invitation_with_the_link(void **state)
{
    (void)state;
    event_t *e = s_survey_event();
    outbound_t *o = s_mail_for(e, "加氢装置换热器泄漏检修");
    assert_string_equal(o->kind, "survey_invitation");
    assert_true(o->automatic);
    assert_string_equal(s_var(o, "survey_url"), "http://127.0.0.1:7500/s/AbC123");
    assert_string_equal(s_var(o, "survey_expires"), "2026-04-01");
    assert_string_equal(s_var(o, "request_subject"), "加氢装置换热器泄漏检修");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(body, "http://127.0.0.1:7500/s/AbC123"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
}

static void test_a_survey_reminder_is_its_own_kind_with_the_same_link_and_the_opt_out(void **state)
{
    (void)state;
    event_t *e = s_survey_event();
    e->env.type = "survey.reminded";
    outbound_t *o = s_mail_for(e, "加氢装置换热器泄漏检修");
    assert_string_equal(o->kind, "survey_reminder");
    assert_true(o->automatic);
    assert_string_equal(s_var(o, "survey_url"), "http://127.0.0.1:7500/s/AbC123");
    assert_string_equal(s_var(o, "optout_url"), "http://127.0.0.1:7500/s/AbC123/optout");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(subject, "满意度调查提醒"));
    assert_non_null(strstr(body, "http://127.0.0.1:7500/s/AbC123/optout"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
}

static void test_a_survey_request_for_an_unknown_subject_names_the_request_neutrally(void **state)
{
    (void)state;
    event_t *e = s_survey_event();
    e->se.language = "en";
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(s_var(o, "request_subject"), "your service request");
    outbound_destroy(&o);
    free(e);
}

static void test_a_customer_without_an_email_address_gets_no_letter(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.accepted");
    e->facts.customer_email = "";
    outbound_t *o = NULL;
    const char *why = NULL;
    assert_int_equal(outbound_from_event(&e->env, NULL, &o, &why), OUTBOUND_NONE);
    assert_string_equal(why, "no_email");
    free(e);
}

static void test_events_that_are_not_letters_are_ignored(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.assigned");
    outbound_t *o = NULL;
    const char *why = NULL;
    assert_int_equal(outbound_from_event(&e->env, NULL, &o, &why), OUTBOUND_NONE);
    assert_string_equal(why, "not_a_notification");
    e->env.type = "dispatch.ticket.accepted";
    e->te.facts = NULL; /* hostile: an accepted event without facts */
    assert_int_equal(outbound_from_event(&e->env, NULL, &o, &why), OUTBOUND_NONE);
    free(e);
}

static void test_a_message_that_is_not_utf8_is_replaced_not_pasted(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.resolved");
    e->te.message = "\xff\xfe broken";
    outbound_t *o = s_mail_for(e, NULL);
    assert_string_equal(s_var(o, "service_report"), "您申请的服务已完成。");
    outbound_destroy(&o);
    free(e);
}

static void test_an_overlong_report_is_cut_at_a_character_boundary_and_still_renders(void **state)
{
    (void)state;
    size_t n = 100 * 1000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(big + i, "检", 3);
    big[n - n % 3] = '\0';
    event_t *e = s_ticket_event("dispatch.ticket.resolved");
    e->te.message = big;
    outbound_t *o = s_mail_for(e, NULL);
    const char *report = s_var(o, "service_report");
    assert_true(strlen(report) <= LETTER_VALUE_MAX);
    assert_non_null(strstr(report, "检 [...]"));
    char *subject, *body;
    s_render(o, &subject, &body);
    free(subject);
    free(body);
    outbound_destroy(&o);
    free(e);
    free(big);
}

/* ---- never mail ---------------------------------------------------------------------------- */

static void test_no_reply_addresses_are_never_mailed(void **state)
{
    (void)state;
    const char *never[] = {"noreply@sinopec-example.com", "no-reply@example.cn",
                           "No-Reply+billing@example.cn", "no_reply@example.cn",
                           "donotreply@example.cn",       "do-not-reply@example.cn",
                           "noreply-invoices@example.cn"};
    for (size_t i = 0; i < sizeof(never) / sizeof(*never); i++)
        assert_string_equal(outbound_address_problem(never[i]), "no_reply_address");
}

static void test_mailer_daemon_and_postmaster_are_never_mailed(void **state)
{
    (void)state;
    assert_string_equal(outbound_address_problem("MAILER-DAEMON@mx.example.cn"),
                        "mailer_daemon_address");
    assert_string_equal(outbound_address_problem("postmaster@example.cn"), "postmaster_address");
    assert_string_equal(outbound_address_problem("Postmaster@example.cn"), "postmaster_address");
}

static void test_ordinary_addresses_may_be_mailed(void **state)
{
    (void)state;
    const char *ok[] = {"li.wei@sinochem-example.cn", "reply@example.cn",
                        "postmaster.li@example.cn", "noreplyson@example.cn",
                        "o'brien+ops@petro-example.co.uk"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
        assert_null(outbound_address_problem(ok[i]));
}

static void test_addresses_that_are_not_plain_addr_specs_are_never_mailed(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "li wei@example.cn",
                         "li.wei@",
                         "@example.cn",
                         "a@b@example.cn",
                         "li.wei@example.cn\r\nBcc: x@evil.example",
                         "li..wei@example.cn",
                         ".li@example.cn",
                         "<li.wei@example.cn>",
                         "li.wei@-example.cn",
                         "li.wei@example..cn",
                         "\"li wei\"@example.cn",
                         "李伟@example.cn"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_string_equal(outbound_address_problem(bad[i]), "invalid_address");
    assert_string_equal(outbound_address_problem(NULL), "invalid_address");
}

/* ---- the daily cap ------------------------------------------------------------------------ */

static void
test_the_fortieth_automatic_mail_of_a_day_goes_and_the_forty_first_is_capped(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.accepted");
    outbound_t *o = s_mail_for(e, NULL);
    assert_false(outbound_over_daily_cap(o, 39, OUTBOUND_DEFAULT_DAILY_CAP));
    assert_true(outbound_over_daily_cap(o, 40, OUTBOUND_DEFAULT_DAILY_CAP));
    assert_true(outbound_over_daily_cap(o, 1, 0)); /* cap 0: no automatic mail at all */
    outbound_destroy(&o);
    free(e);
}

static void test_an_agents_update_is_never_capped(void **state)
{
    (void)state;
    event_t *e = s_ticket_event("dispatch.ticket.responded");
    e->te.message = "Please find the inspection plan attached.";
    outbound_t *o = s_mail_for(e, NULL);
    assert_false(outbound_over_daily_cap(o, 1000, OUTBOUND_DEFAULT_DAILY_CAP));
    outbound_destroy(&o);
    free(e);
}

/* ---- figures as the letter states them ----------------------------------------------------- */

static void test_commitments_are_stated_in_hours(void **state)
{
    (void)state;
    char b[24];
    outbound_hours(120, b, sizeof(b));
    assert_string_equal(b, "2");
    outbound_hours(2880, b, sizeof(b));
    assert_string_equal(b, "48");
    outbound_hours(90, b, sizeof(b));
    assert_string_equal(b, "1.5");
    outbound_hours(20, b, sizeof(b));
    assert_string_equal(b, "0.33");
}

static void test_times_are_stated_in_china_standard_time(void **state)
{
    (void)state;
    char b[48];
    outbound_local_time(0, b, sizeof(b));
    assert_string_equal(b, "1970-01-01 08:00 (UTC+8)");
    outbound_local_time(RECEIVED_MS, b, sizeof(b));
    assert_string_equal(b, "2026-03-02 08:15 (UTC+8)");
}

/* ---- delivery's pure parts ---------------------------------------------------------------- */

static void test_the_default_sender_splits_into_name_and_address(void **state)
{
    (void)state;
    char name[256], addr[255];
    assert_int_equal(delivery_parse_mailbox("Petrocs 客户服务 <service@petrocs.example>", name,
                                            sizeof(name), addr, sizeof(addr)),
                     0);
    assert_string_equal(name, "Petrocs 客户服务");
    assert_string_equal(addr, "service@petrocs.example");
    assert_int_equal(
        delivery_parse_mailbox("service@petrocs.example", name, sizeof(name), addr, sizeof(addr)),
        0);
    assert_string_equal(name, "");
    assert_int_equal(
        delivery_parse_mailbox("Petrocs <not an address>", name, sizeof(name), addr, sizeof(addr)),
        -1);
    assert_int_equal(
        delivery_parse_mailbox("Petrocs <a@b.cn> trailing", name, sizeof(name), addr, sizeof(addr)),
        -1);
}

static void test_retries_back_off_doubling_up_to_the_ceiling(void **state)
{
    (void)state;
    delivery_config_t cfg = {.retry_base_s = 60, .retry_max_s = 3600};
    assert_int_equal(delivery_backoff_s(&cfg, 1), 60);
    assert_int_equal(delivery_backoff_s(&cfg, 2), 120);
    assert_int_equal(delivery_backoff_s(&cfg, 3), 240);
    assert_int_equal(delivery_backoff_s(&cfg, 7), 3600);
    assert_int_equal(delivery_backoff_s(&cfg, 1000), 3600);
}

/* ---- complaint letters ---------------------------------------------------------------- */

static void s_complaint_env(Cs__ComplaintEvent *ce, Cs__Envelope *env, const char *type)
{
    cs__complaint_event__init(ce);
    cs__envelope__init(env);
    ce->complaint_id = "6f1c2a3e-0000-4000-8000-00000000000c";
    ce->number = "CS-2026-000123";
    ce->status = "feedback";
    ce->customer_email = "li.wei@sinochem-example.cn";
    ce->customer_name = "李伟";
    ce->language = "en";
    ce->resolution = "The carrier mis-scheduled; we re-delivered and changed carriers.";
    ce->actor = "chen.jing";
    ce->at_ms = RECEIVED_MS;
    env->event_id = "9d2b1c4e-0000-4000-8000-00000000000c";
    env->type = (char *)type;
    env->body_case = CS__ENVELOPE__BODY_COMPLAINT_EVENT;
    env->complaint_event = ce;
}

static void test_complaint_feedback_goes_to_the_customer_with_the_handlers_letter(void **state)
{
    (void)state;
    Cs__ComplaintEvent ce;
    Cs__Envelope env;
    s_complaint_env(&ce, &env, "complaint.feedback_sent");
    outbound_t *o = NULL;
    const char *why = NULL;
    assert_int_equal(outbound_from_event(&env, NULL, &o, &why), OUTBOUND_MAIL);
    assert_string_equal(o->kind, "complaint_feedback");
    assert_false(o->automatic); /* a person's words: never capped */
    assert_string_equal(o->recipient, "li.wei@sinochem-example.cn");
    assert_string_equal(o->language, "en");
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_string_equal(subject, "[CS-2026-000123] Our response to your complaint");
    assert_non_null(strstr(body, "we re-delivered and changed carriers."));
    assert_non_null(strstr(body, "chen.jing, 2026-03-02 08:15 (UTC+8)"));
    free(subject);
    free(body);
    outbound_destroy(&o);
    ce.resolution = "";
    assert_int_equal(outbound_from_event(&env, NULL, &o, &why), OUTBOUND_NONE);
    assert_string_equal(why, "no_message");
}

static void test_a_complaint_escalation_alerts_the_quality_manager_in_chinese(void **state)
{
    (void)state;
    Cs__ComplaintEvent ce;
    Cs__Envelope env;
    s_complaint_env(&ce, &env, "complaint.escalated");
    ce.status = "received";
    ce.escalation_level = 2;
    ce.resolution = "sla.breached: complaint_acceptance deadline passed";
    outbound_t *o = NULL;
    const char *why = NULL;
    assert_int_equal(outbound_from_event(&env, NULL, &o, &why), OUTBOUND_MAIL);
    assert_string_equal(o->kind, "complaint_escalation");
    assert_string_equal(o->recipient, OUTBOUND_DEFAULT_QUALITY_MANAGER);
    assert_string_equal(o->language, "zh-CN"); /* the company's language, not the customer's */
    char *subject, *body;
    s_render(o, &subject, &body);
    assert_non_null(strstr(subject, "[CS-2026-000123] 投诉升级（第 2 级）"));
    assert_non_null(strstr(body, "未分类")); /* not yet classified */
    free(subject);
    free(body);
    outbound_destroy(&o);
    env.type = "complaint.accepted"; /* no letter for the other steps */
    assert_int_equal(outbound_from_event(&env, NULL, &o, &why), OUTBOUND_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_an_accepted_ticket_gets_an_acceptance_letter_with_number_start_and_commitments),
        cmocka_unit_test(test_an_english_speaking_customer_is_written_to_in_english),
        cmocka_unit_test(test_a_customer_without_a_language_is_written_to_in_chinese),
        cmocka_unit_test(test_missing_commitments_come_from_the_commitment_table_for_the_priority),
        cmocka_unit_test(test_blank_facts_never_leave_a_blank_in_the_letter),
        cmocka_unit_test(test_an_agent_response_becomes_an_update_carrying_the_agents_message),
        cmocka_unit_test(test_a_response_without_a_message_sends_nothing),
        cmocka_unit_test(
            test_a_note_to_the_customer_becomes_a_note_letter_and_an_internal_one_nothing),
        cmocka_unit_test(test_a_resolved_ticket_gets_a_resolution_letter_with_the_service_report),
        cmocka_unit_test(test_a_survey_request_becomes_an_invitation_with_the_link),
        cmocka_unit_test(test_a_survey_reminder_is_its_own_kind_with_the_same_link_and_the_opt_out),
        cmocka_unit_test(test_a_survey_request_for_an_unknown_subject_names_the_request_neutrally),
        cmocka_unit_test(test_a_customer_without_an_email_address_gets_no_letter),
        cmocka_unit_test(test_events_that_are_not_letters_are_ignored),
        cmocka_unit_test(test_a_message_that_is_not_utf8_is_replaced_not_pasted),
        cmocka_unit_test(test_an_overlong_report_is_cut_at_a_character_boundary_and_still_renders),
        cmocka_unit_test(test_no_reply_addresses_are_never_mailed),
        cmocka_unit_test(test_mailer_daemon_and_postmaster_are_never_mailed),
        cmocka_unit_test(test_ordinary_addresses_may_be_mailed),
        cmocka_unit_test(test_addresses_that_are_not_plain_addr_specs_are_never_mailed),
        cmocka_unit_test(
            test_the_fortieth_automatic_mail_of_a_day_goes_and_the_forty_first_is_capped),
        cmocka_unit_test(test_an_agents_update_is_never_capped),
        cmocka_unit_test(test_commitments_are_stated_in_hours),
        cmocka_unit_test(test_times_are_stated_in_china_standard_time),
        cmocka_unit_test(test_the_default_sender_splits_into_name_and_address),
        cmocka_unit_test(test_retries_back_off_doubling_up_to_the_ceiling),
        cmocka_unit_test(test_complaint_feedback_goes_to_the_customer_with_the_handlers_letter),
        cmocka_unit_test(test_a_complaint_escalation_alerts_the_quality_manager_in_chinese),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
