/*
 * test_letter — what a customer receives: the rendered words and the message that
 * carries them.  Composed messages are read back with GMime 3, an independent MIME
 * parser, so "it parses" means what a mail client will see, not what we meant.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../services/notify/letter.h"
#include "../../../services/notify/outbound.h"

#ifndef NOTIFY_TEMPLATES_DIR
#define NOTIFY_TEMPLATES_DIR "services/notify/templates" /* run from the repository root */
#endif

static const char TICKET[] = "CS-2026-000123";

/* ---- fixtures ------------------------------------------------------------------ */

static letter_templates_t *s_load_shipped(void)
{
    char err[512] = "";
    letter_templates_t *t = letter_templates_load(NOTIFY_TEMPLATES_DIR, err, sizeof(err));
    if (!t)
        fail_msg("shipped templates do not load: %s", err);
    return t;
}

/* Every variable any shipped template needs, as dispatch would fill them. */
static letter_vars_t *s_vars_for_ticket(void)
{
    letter_vars_t *v = letter_vars_new();
    assert_non_null(v);
    const char *kv[][2] = {
        {"ticket_no", TICKET},
        {"customer_name", "李伟"},
        {"request_subject", "加氢装置换热器泄漏检修"},
        {"service_type", "设备维护与维修"},
        {"received_at", "2026-03-02 08:15"},
        {"expected_start", "2026-03-02 09:00"},
        {"first_response_hours", "2"},
        {"resolution_hours", "48"},
        {"agent_name", "王芳"},
        {"message", "工程师已于今晨到达现场，正在更换密封垫片。"},
        {"resolved_at", "2026-03-03 16:40"},
        {"service_report", "更换 E-102 换热器管板密封垫片 4 片，试压 2.5 MPa 合格。"},
        {"survey_url", "https://survey.petrocs.example/s/AbC123"},
        {"survey_expires", "2026-03-10"},
        {"optout_url", "https://survey.petrocs.example/s/AbC123/optout"},
        {"feedback", "经调查，延误系备件运输所致，已补偿并改进调度。"},
        {"sent_at", "2026-03-04 10:00"},
        {"handler_name", "赵敏"},
        {"escalation_level", "2"},
        {"escalation_reason", "处理时限已过"},
        {"complaint_status", "investigating"},
        {"priority", "P1"},
        {"category", "服务延误"},
        {"owner", "质量部"},
        {"escalated_at", "2026-03-02 11:15"},
        {"emergency_level", "1"},
        {"reason", "emergency level 1 (declared)"},
        {"team", "maintenance-north"},
        {"staff_name", "陈刚"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(*kv); i++)
        assert_int_equal(letter_vars_set(v, kv[i][0], kv[i][1]), 0);
    return v;
}

/* A scratch template directory with the given files (name, content pairs). */
static char *s_template_dir(const char *const *files, size_t n)
{
    char *dir = strdup("/tmp/test_letter.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < n; i += 2) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(files[i + 1], f);
        fclose(f);
    }
    return dir;
}

static void s_remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* Load a scratch directory that must fail; returns the error text. */
static void s_expect_load_error(const char *const *files, size_t n, char *err, size_t errlen)
{
    char *dir = s_template_dir(files, n);
    err[0] = '\0';
    letter_templates_t *t = letter_templates_load(dir, err, errlen);
    assert_null(t);
    assert_true(strlen(err) > 0);
    s_remove_dir(dir);
}

/* ---- rendering -------------------------------------------------------------------- */

static void test_acceptance_letter_in_chinese_states_ticket_start_and_commitments(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "acceptance", "zh-CN", v, &subject, &body, err, sizeof(err)),
                     0);
    assert_string_equal(subject, "[CS-2026-000123] 受理确认函 / 加氢装置换热器泄漏检修");
    assert_non_null(strstr(body, "尊敬的李伟："));
    assert_non_null(strstr(body, "工单编号：CS-2026-000123"));
    assert_non_null(strstr(body, "预计开始服务时间：2026-03-02 09:00"));
    assert_non_null(strstr(body, "首次响应：受理后 2 小时内"));
    assert_non_null(strstr(body, "问题解决：受理后 48 小时内"));
    assert_null(strstr(body, "{{"));
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
    assert_null(t);
}

static void test_acceptance_letter_in_english_states_ticket_start_and_commitments(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    letter_vars_set(v, "request_subject", "Heat exchanger leak at HDS unit");
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "acceptance", "en", v, &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(
        subject, "[CS-2026-000123] Acceptance confirmation / Heat exchanger leak at HDS unit");
    assert_non_null(strstr(body, "Ticket number:   CS-2026-000123"));
    assert_non_null(strstr(body, "Expected start:  2026-03-02 09:00"));
    assert_non_null(strstr(body, "first response within 2 hours"));
    assert_non_null(strstr(body, "resolution within 48 hours"));
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_every_kind_renders_in_both_languages_with_ticket_in_subject(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    /* every kind an event produces (outbound_kind_vars), in both languages */
    const char *kinds[] = {"acceptance",
                           "update",
                           "note",
                           "resolution",
                           "survey_invitation",
                           "survey_reminder",
                           "complaint_feedback",
                           "complaint_escalation",
                           "emergency_alert",
                           "escalation_alert"};
    const char *langs[] = {"zh-CN", "en"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
        assert_non_null(outbound_kind_vars(kinds[k]));
        for (size_t l = 0; l < 2; l++) {
            char *subject, *body, err[256] = "";
            int rc = letter_render(t, kinds[k], langs[l], v, &subject, &body, err, sizeof(err));
            if (rc)
                fail_msg("%s.%s: %s", kinds[k], langs[l], err);
            assert_memory_equal(subject, "[CS-2026-000123] ", 17);
            assert_null(strstr(subject, "{{"));
            assert_null(strstr(body, "{{"));
            free(subject);
            free(body);
        }
    }
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_resolution_letter_carries_the_service_report(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "resolution", "zh-CN", v, &subject, &body, err, sizeof(err)),
                     0);
    assert_non_null(strstr(subject, "服务完成确认函"));
    assert_non_null(strstr(body, "更换 E-102 换热器管板密封垫片 4 片，试压 2.5 MPa 合格。"));
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_unknown_language_falls_back_to_english_and_zh_reaches_zh_cn(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    assert_string_equal(letter_templates_language(t, "acceptance", "fr"), "en");
    assert_string_equal(letter_templates_language(t, "acceptance", NULL), "en");
    assert_string_equal(letter_templates_language(t, "acceptance", "zh"), "zh-CN");
    assert_string_equal(letter_templates_language(t, "acceptance", "zh_cn"), "zh-CN");
    assert_string_equal(letter_templates_language(t, "acceptance", "EN-gb"), "en");
    assert_null(letter_templates_language(t, "no_such_kind", "en"));

    letter_vars_t *v = s_vars_for_ticket();
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "acceptance", "fr", v, &subject, &body, err, sizeof(err)), 0);
    assert_non_null(strstr(subject, "Acceptance confirmation"));
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_render_fails_naming_the_missing_variable(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = letter_vars_new();
    letter_vars_set(v, "ticket_no", TICKET);
    letter_vars_set(v, "customer_name", "李伟");
    letter_vars_set(v, "request_subject", "泄漏");
    letter_vars_set(v, "service_type", "设备维护");
    letter_vars_set(v, "received_at", "2026-03-02 08:15");
    letter_vars_set(v, "first_response_hours", "2");
    letter_vars_set(v, "resolution_hours", "48");
    char *subject = (char *)1, *body = (char *)1, err[256] = "";
    assert_int_equal(letter_render(t, "acceptance", "zh-CN", v, &subject, &body, err, sizeof(err)),
                     -1);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err, "acceptance.zh-CN.tmpl: missing variable: expected_start");
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_blank_value_counts_as_missing_so_no_letter_has_a_gap(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    letter_vars_set(v, "expected_start", "  \t");
    letter_vars_set(v, "resolution_hours", "");
    char *subject, *body, err[256] = "";
    assert_int_equal(letter_render(t, "acceptance", "en", v, &subject, &body, err, sizeof(err)),
                     -1);
    assert_string_equal(err,
                        "acceptance.en.tmpl: missing variables: expected_start, resolution_hours");
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_value_is_pasted_as_text_never_expanded(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    letter_vars_set(v, "request_subject", "{{ticket_no}} {{customer_name}}");
    letter_vars_set(v, "customer_name", "{{resolution_hours}}");
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "acceptance", "en", v, &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(
        subject, "[CS-2026-000123] Acceptance confirmation / {{ticket_no}} {{customer_name}}");
    assert_non_null(strstr(body, "Dear {{resolution_hours}},"));
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_line_breaks_in_a_subject_value_become_spaces(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    letter_vars_set(v, "request_subject", "Leak\r\nBcc: victim@example.com\t again");
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "update", "en", v, &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(
        subject, "[CS-2026-000123] Update on your request / Leak Bcc: victim@example.com again");
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_render_refuses_unknown_kind_and_invalid_utf8_value(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    char *subject, *body, err[256] = "";
    assert_int_equal(letter_render(t, "invoice", "en", v, &subject, &body, err, sizeof(err)), -1);
    assert_string_equal(err, "no template for letter kind 'invoice'");
    letter_vars_set(v, "message", "bad \xC3\x28 byte");
    assert_int_equal(letter_render(t, "update", "en", v, &subject, &body, err, sizeof(err)), -1);
    assert_string_equal(err, "update.en.tmpl: variable 'message' is not valid UTF-8");
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

static void test_vars_refuse_bad_names_and_oversized_values(void **state)
{
    (void)state;
    letter_vars_t *v = letter_vars_new();
    assert_int_equal(letter_vars_set(v, "Ticket", "x"), -1);
    assert_int_equal(letter_vars_set(v, "", "x"), -1);
    assert_int_equal(letter_vars_set(v, "a-b", "x"), -1);
    char *big = malloc(LETTER_VALUE_MAX + 2);
    memset(big, 'x', LETTER_VALUE_MAX + 1);
    big[LETTER_VALUE_MAX + 1] = '\0';
    assert_int_equal(letter_vars_set(v, "big", big), -1);
    free(big);
    assert_int_equal(letter_vars_set(v, "ok", "1"), 0);
    assert_int_equal(letter_vars_set(v, "ok", "2"), 0);
    assert_string_equal(letter_vars_get(v, "ok"), "2");
    assert_null(letter_vars_get(v, "missing"));
    letter_vars_destroy(&v);
    assert_null(v);
    letter_vars_destroy(&v);
}

/* ---- loading ---------------------------------------------------------------------- */

#define S_GOOD_ZH "Subject: [{{ticket_no}}] 通知\nRequires: ticket_no\n\n工单 {{ticket_no}}\n"
#define S_GOOD_EN "Subject: [{{ticket_no}}] Notice\nRequires: ticket_no\n\nTicket {{ticket_no}}\n"

static void test_load_fails_on_variable_not_declared_naming_file_and_variable(void **state)
{
    (void)state;
    const char *files[] = {"notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
                           "Subject: [{{ticket_no}}] Notice\nRequires: ticket_no\n\n"
                           "Dear {{customer_name}}, ticket {{ticket_no}}\n"};
    char err[512];
    s_expect_load_error(files, 4, err, sizeof(err));
    assert_string_equal(err, "notice.en.tmpl:4: variable 'customer_name' is used but not "
                             "declared in Requires");
}

static void test_load_fails_on_variable_declared_but_never_used(void **state)
{
    (void)state;
    const char *files[] = {
        "notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
        "Subject: Notice\nRequires: ticket_no, agent_name\n\nTicket {{ticket_no}}\n"};
    char err[512];
    s_expect_load_error(files, 4, err, sizeof(err));
    assert_string_equal(
        err, "notice.en.tmpl: variable 'agent_name' is declared in Requires but never used");
}

/* A missing variable is a start-up error: the shipped templates ask only for what the
 * events fill, and a company's edit asking for more stops the service, naming it. */
static void test_shipped_templates_ask_only_for_variables_events_fill(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    char err[512] = "";
    if (letter_templates_check(t, outbound_kind_vars, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    letter_templates_destroy(&t);
}

static void test_check_fails_on_a_variable_no_event_fills(void **state)
{
    (void)state;
    const char *files[] = {"acceptance.en.tmpl",
                           "Subject: [{{ticket_no}}] Accepted\nRequires: ticket_no, contract_no\n\n"
                           "{{ticket_no}} under contract {{contract_no}}\n",
                           "acceptance.zh-CN.tmpl",
                           "Subject: [{{ticket_no}}] 受理\nRequires: ticket_no, contract_no\n\n"
                           "{{ticket_no}} 合同 {{contract_no}}\n"};
    char *dir = s_template_dir(files, 4);
    char err[512] = "";
    letter_templates_t *t = letter_templates_load(dir, err, sizeof(err));
    assert_non_null(t); /* well-formed on its own ... */
    assert_int_equal(letter_templates_check(t, outbound_kind_vars, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Requires 'contract_no', which no acceptance event fills"));
    assert_non_null(strstr(err, ".tmpl"));
    letter_templates_destroy(&t);
    s_remove_dir(dir);
}

static void test_check_fails_on_a_kind_no_event_produces(void **state)
{
    (void)state;
    const char *files[] = {"notice.en.tmpl", S_GOOD_EN, "notice.zh-CN.tmpl", S_GOOD_EN};
    char *dir = s_template_dir(files, 4);
    char err[512] = "";
    letter_templates_t *t = letter_templates_load(dir, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(letter_templates_check(t, outbound_kind_vars, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no event produces a letter of kind 'notice'"));
    letter_templates_destroy(&t);
    s_remove_dir(dir);
}

/* The HTML part says the same words, escaped, with links clickable. */
static void test_html_part_escapes_text_and_links_urls(void **state)
{
    (void)state;
    char *html = letter_html_from_text(
        "尊敬的 <李伟> & co：\n请填写问卷：https://survey.petrocs.example/s/AbC?x=1&y=2。\n\n"
        "petrocs",
        "zh-CN");
    assert_non_null(html);
    assert_non_null(strstr(html, "<html lang=\"zh-CN\">"));
    assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(html, "<p>尊敬的 &lt;李伟&gt; &amp; co：<br>"));
    assert_non_null(strstr(html, "<a href=\"https://survey.petrocs.example/s/AbC?x=1&amp;y=2\">"));
    assert_non_null(strstr(html, "</a>。</p>"));
    assert_non_null(strstr(html, "<p>petrocs</p>"));
    assert_null(strstr(html, "<李伟>"));
    free(html);
}

static void test_load_fails_when_a_kind_lacks_a_language(void **state)
{
    (void)state;
    const char *files[] = {"notice.en.tmpl", S_GOOD_EN};
    char err[512];
    s_expect_load_error(files, 2, err, sizeof(err));
    assert_string_equal(err,
                        "kind 'notice' has no zh-CN template (expected file notice.zh-CN.tmpl)");
}

static void test_load_fails_when_languages_require_different_variables(void **state)
{
    (void)state;
    const char *files[] = {"notice.en.tmpl", S_GOOD_EN, "notice.zh-CN.tmpl",
                           "Subject: [{{ticket_no}}] 通知\nRequires: ticket_no, agent_name\n\n"
                           "{{agent_name}} {{ticket_no}}\n"};
    char err[512];
    s_expect_load_error(files, 4, err, sizeof(err));
    assert_non_null(strstr(err, "notice.zh-CN.tmpl requires variable 'agent_name' but "
                                "notice.en.tmpl does not"));
}

static void test_load_fails_on_malformed_template_files(void **state)
{
    (void)state;
    char err[512];
    const char *unclosed[] = {"notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
                              "Subject: x\nRequires: ticket_no\n\nline\n{{ticket_no}\n"};
    s_expect_load_error(unclosed, 4, err, sizeof(err));
    assert_string_equal(err, "notice.en.tmpl:5: malformed placeholder (expected {{name}} with "
                             "a-z, 0-9, _)");
    const char *no_subject[] = {"notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
                                "Requires: ticket_no\n\n{{ticket_no}}\n"};
    s_expect_load_error(no_subject, 4, err, sizeof(err));
    assert_string_equal(err, "notice.en.tmpl: missing or empty Subject: line");
    const char *no_blank[] = {"notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
                              "Subject: x\nRequires: ticket_no"};
    s_expect_load_error(no_blank, 4, err, sizeof(err));
    assert_string_equal(err, "notice.en.tmpl: no blank line between the headers and the body");
    const char *latin1[] = {"notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
                            "Subject: caf\xE9\nRequires: ticket_no\n\n{{ticket_no}}\n"};
    s_expect_load_error(latin1, 4, err, sizeof(err));
    assert_string_equal(err, "notice.en.tmpl: not valid UTF-8 text");
    const char *bad_name[] = {"Notice.en.tmpl", S_GOOD_EN};
    s_expect_load_error(bad_name, 2, err, sizeof(err));
    assert_non_null(strstr(err, "Notice.en.tmpl: name must be <kind>.<lang>.tmpl"));
    const char *none[] = {"readme.txt", "not a template"};
    s_expect_load_error(none, 2, err, sizeof(err));
    assert_non_null(strstr(err, "no *.tmpl templates found"));

    assert_null(letter_templates_load("/nonexistent/templates", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/templates: cannot open template directory"));
}

static void test_crlf_template_loads_and_renders_with_lf(void **state)
{
    (void)state;
    const char *files[] = {"notice.zh-CN.tmpl", S_GOOD_ZH, "notice.en.tmpl",
                           "# comment\r\nSubject: [{{ticket_no}}] Notice\r\nRequires: ticket_no\r\n"
                           "\r\nTicket {{ ticket_no }}\r\nend\r\n"};
    char *dir = s_template_dir(files, 4);
    char err[256] = "";
    letter_templates_t *t = letter_templates_load(dir, err, sizeof(err));
    assert_non_null(t);
    letter_vars_t *v = s_vars_for_ticket();
    char *subject, *body;
    assert_int_equal(letter_render(t, "notice", "en", v, &subject, &body, err, sizeof(err)), 0);
    assert_string_equal(subject, "[CS-2026-000123] Notice");
    assert_string_equal(body, "Ticket CS-2026-000123\nend\n");
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
    s_remove_dir(dir);
}

/* ---- composition ------------------------------------------------------------------- */

static GMimeMessage *s_parse(const char *raw, size_t len)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    assert_non_null(msg);
    return msg;
}

/* Text as a reader sees it: CRLF turned back into LF. */
static char *s_lf(const char *s)
{
    char *out = strdup(s);
    size_t w = 0;
    for (size_t r = 0; out[r]; r++)
        if (!(out[r] == '\r' && out[r + 1] == '\n'))
            out[w++] = out[r];
    out[w] = '\0';
    return out;
}

static char *s_part_text(GMimeObject *part)
{
    assert_true(GMIME_IS_TEXT_PART(part));
    char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
    char *lf = s_lf(text);
    g_free(text);
    return lf;
}

static letter_msg_t s_sample_msg(void)
{
    letter_msg_t m = {
        .from = {"service@petrocs.example", "petrocs 客户服务中心"},
        .to = {"li.wei@sinochem-customer.example.cn", "李伟"},
        .subject = "[CS-2026-000123] 受理确认函 / 加氢装置换热器泄漏检修",
        .text_body = "尊敬的李伟：\n\n您的工单已受理。\nTicket accepted.\n",
        .message_id = "<CS-2026-000123.0123456789abcdef@notify.petrocs.example>",
        .ticket_no = TICKET,
        .auto_submitted = true,
        .date = 1767225600, /* 2026-01-01 00:00:00 UTC, a Thursday */
    };
    return m;
}

static void test_composed_letter_parses_back_to_the_same_chinese_subject_and_body(void **state)
{
    (void)state;
    letter_msg_t m = s_sample_msg();
    size_t len = 0;
    char err[256] = "";
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    assert_int_equal(strlen(raw), len);

    GMimeMessage *msg = s_parse(raw, len);
    assert_string_equal(g_mime_message_get_subject(msg), m.subject);
    assert_string_equal(g_mime_message_get_message_id(msg),
                        "CS-2026-000123.0123456789abcdef@notify.petrocs.example");
    InternetAddressList *from = g_mime_message_get_from(msg);
    InternetAddress *f = internet_address_list_get_address(from, 0);
    assert_string_equal(internet_address_get_name(f), "petrocs 客户服务中心");
    assert_string_equal(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(f)),
                        "service@petrocs.example");
    InternetAddressList *to = g_mime_message_get_to(msg);
    InternetAddress *t = internet_address_list_get_address(to, 0);
    assert_string_equal(internet_address_get_name(t), "李伟");
    assert_string_equal(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(t)),
                        "li.wei@sinochem-customer.example.cn");
    GMimeObject *o = GMIME_OBJECT(msg);
    assert_string_equal(g_mime_object_get_header(o, "X-Petrocs-Ticket"), TICKET);
    assert_string_equal(g_mime_object_get_header(o, "Auto-Submitted"), "auto-generated");
    assert_string_equal(g_mime_object_get_header(o, "MIME-Version"), "1.0");
    assert_string_equal(g_mime_object_get_header(o, "Date"), "Thu, 01 Jan 2026 00:00:00 +0000");

    GMimeObject *body = g_mime_message_get_body(msg);
    GMimeContentType *ct = g_mime_object_get_content_type(body);
    assert_true(g_mime_content_type_is_type(ct, "text", "plain"));
    assert_string_equal(g_mime_object_get_content_type_parameter(body, "charset"), "UTF-8");
    assert_int_equal(g_mime_part_get_content_encoding(GMIME_PART(body)),
                     GMIME_CONTENT_ENCODING_BASE64);
    char *text = s_part_text(body);
    assert_string_equal(text, m.text_body);
    free(text);
    g_object_unref(msg);
    free(raw);
}

/* RFC 2047 Q decoding: "_" is a space, "=XX" a byte. */
static guchar *s_q_decode(const char *q, gsize *len)
{
    guchar *out = g_malloc(strlen(q) + 1);
    gsize n = 0;
    for (const char *c = q; *c; c++) {
        unsigned byte;
        if (*c == '_')
            out[n++] = ' ';
        else if (*c == '=' && sscanf(c + 1, "%2x", &byte) == 1) {
            out[n++] = (guchar)byte;
            c += 2;
        } else
            out[n++] = (guchar)*c;
    }
    *len = n;
    return out;
}

/* Every line CRLF-terminated and under 78 characters; every encoded-word at most 75
 * characters and decoding, on its own, to whole UTF-8 characters. */
static void s_check_header_block(const char *raw, size_t len)
{
    const char *end = strstr(raw, "\r\n\r\n");
    assert_non_null(end);
    for (size_t i = 0; i < len; i++)
        if (raw[i] == '\n')
            assert_true(i > 0 && raw[i - 1] == '\r');
    const char *line = raw;
    while (line <= end) {
        const char *eol = strstr(line, "\r\n");
        size_t n = (size_t)(eol - line);
        if (n >= 78)
            fail_msg("header line of %zu characters: %.*s", n, (int)n, line);
        const char *p = line;
        while ((p = strstr(p, "=?")) && p < eol) {
            const char *q = strstr(p + 2, "?=");
            assert_non_null(q);
            assert_true(q < eol);
            size_t wl = (size_t)(q + 2 - p);
            if (wl > 75)
                fail_msg("encoded-word of %zu characters", wl);
            assert_true(memcmp(p, "=?UTF-8?B?", 10) == 0 || memcmp(p, "=?UTF-8?Q?", 10) == 0);
            char *payload = strndup(p + 10, wl - 12);
            gsize dl = 0;
            guchar *decoded =
                p[8] == 'B' ? g_base64_decode(payload, &dl) : s_q_decode(payload, &dl);
            if (!g_utf8_validate((const char *)decoded, (gssize)dl, NULL))
                fail_msg("encoded-word splits a UTF-8 character: %.*s", (int)wl, p);
            g_free(decoded);
            free(payload);
            p = q + 2;
        }
        line = eol + 2;
    }
}

static void test_long_headers_fold_under_78_and_encoded_words_keep_characters_whole(void **state)
{
    (void)state;
    letter_msg_t m = s_sample_msg();
    m.subject =
        "[CS-2026-000123] 受理确认函 / 中国石化某炼油厂二号常减压蒸馏装置加热炉炉管结焦导致出口温度"
        "波动以及相关仪表联锁频繁误动作的综合排查与处理申请 (urgent, level 1) 🔥 emoji";
    m.from.display_name =
        "中国石油化工股份有限公司某某分公司客户服务中心华东区域运营部值班工程师组";
    m.references = "<a1.0000000000000000@mail.example.cn> <b2.1111111111111111@mail.example.cn> "
                   "<c3.2222222222222222@mail.example.cn>";
    m.in_reply_to = "<c3.2222222222222222@mail.example.cn>";
    size_t len;
    char err[256];
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    s_check_header_block(raw, len);
    GMimeMessage *msg = s_parse(raw, len);
    assert_string_equal(g_mime_message_get_subject(msg), m.subject);
    InternetAddress *f = internet_address_list_get_address(g_mime_message_get_from(msg), 0);
    assert_string_equal(internet_address_get_name(f), m.from.display_name);
    assert_string_equal(g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To"),
                        "<c3.2222222222222222@mail.example.cn>");
    GMimeReferences *refs =
        g_mime_references_parse(NULL, g_mime_object_get_header(GMIME_OBJECT(msg), "References"));
    assert_int_equal(g_mime_references_length(refs), 3);
    assert_string_equal(g_mime_references_get_message_id(refs, 2),
                        "c3.2222222222222222@mail.example.cn");
    g_mime_references_free(refs);
    g_object_unref(msg);
    free(raw);
}

static void test_ascii_subject_stays_readable_and_folds_at_spaces(void **state)
{
    (void)state;
    letter_msg_t m = s_sample_msg();
    m.subject = "[CS-2026-000123] Acceptance confirmation / Heat exchanger leak at the "
                "hydrodesulfurisation unit, train B, during the spring turnaround";
    size_t len;
    char err[256];
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    s_check_header_block(raw, len);
    const char *subject = strstr(raw, "\r\nSubject: [CS-2026-000123] Acceptance confirmation");
    assert_non_null(subject);
    const char *next_field = strstr(subject + 2, "\r\nMessage-ID:");
    assert_non_null(next_field);
    assert_null(memmem(subject, (size_t)(next_field - subject), "=?", 2));
    GMimeMessage *msg = s_parse(raw, len);
    assert_string_equal(g_mime_message_get_subject(msg), m.subject);
    g_object_unref(msg);
    free(raw);
}

/* "Q3" then Chinese has character boundaries only at 2, 5, 8, ...: no base64 word can
 * end without padding, which GMime-style decoders would truncate. */
static void test_ascii_glued_to_chinese_survives_decoders_that_join_encoded_words(void **state)
{
    (void)state;
    letter_msg_t m = s_sample_msg();
    m.subject =
        "Q3季度加氢装置换热器泄漏检修以及二号常减压蒸馏装置加热炉炉管结焦处理申请和后续跟踪";
    m.to.display_name = "A中国石油化工股份有限公司华东分公司客户服务中心值班工程师组";
    size_t len;
    char err[256];
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    s_check_header_block(raw, len);
    GMimeMessage *msg = s_parse(raw, len);
    assert_string_equal(g_mime_message_get_subject(msg), m.subject);
    InternetAddress *t = internet_address_list_get_address(g_mime_message_get_to(msg), 0);
    assert_string_equal(internet_address_get_name(t), m.to.display_name);
    g_object_unref(msg);
    free(raw);
}

static void test_display_names_with_specials_are_quoted_and_read_back(void **state)
{
    (void)state;
    letter_msg_t m = s_sample_msg();
    m.to.display_name = "Wei, Li \"Sinochem\"";
    m.from.display_name = "petrocs Service Desk";
    size_t len;
    char err[256];
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    assert_non_null(strstr(
        raw, "\r\nTo: \"Wei, Li \\\"Sinochem\\\"\" <li.wei@sinochem-customer.example.cn>\r\n"));
    assert_non_null(strstr(raw, "\r\nFrom: petrocs Service Desk <service@petrocs.example>\r\n"));
    GMimeMessage *msg = s_parse(raw, len);
    InternetAddress *t = internet_address_list_get_address(g_mime_message_get_to(msg), 0);
    assert_string_equal(internet_address_get_name(t), "Wei, Li \"Sinochem\"");
    g_object_unref(msg);
    free(raw);
}

static void test_html_body_makes_a_multipart_alternative(void **state)
{
    (void)state;
    letter_msg_t m = s_sample_msg();
    m.html_body = "<p>尊敬的李伟：</p>\n<p>您的工单 <b>CS-2026-000123</b> 已受理。</p>\n";
    m.auto_submitted = false;
    size_t len;
    char err[256];
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    assert_null(strstr(raw, "Auto-Submitted"));
    GMimeMessage *msg = s_parse(raw, len);
    GMimeObject *body = g_mime_message_get_body(msg);
    assert_true(GMIME_IS_MULTIPART(body));
    assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(body), "multipart",
                                            "alternative"));
    GMimeMultipart *mp = GMIME_MULTIPART(body);
    assert_int_equal(g_mime_multipart_get_count(mp), 2);
    GMimeObject *plain = g_mime_multipart_get_part(mp, 0);
    GMimeObject *html = g_mime_multipart_get_part(mp, 1);
    assert_true(
        g_mime_content_type_is_type(g_mime_object_get_content_type(plain), "text", "plain"));
    assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(html), "text", "html"));
    char *text = s_part_text(plain);
    assert_string_equal(text, m.text_body);
    free(text);
    text = s_part_text(html);
    assert_string_equal(text, m.html_body);
    free(text);
    g_object_unref(msg);
    free(raw);
}

static void test_compose_refuses_header_injection_and_malformed_fields(void **state)
{
    (void)state;
    char err[256];
    size_t len;
    letter_msg_t m = s_sample_msg();
    m.subject = "Hello\r\nBcc: victim@example.com";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "subject contains a line break or control character");

    m = s_sample_msg();
    m.to.addr = "li.wei@example.cn\r\nBcc: victim@example.com";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "to address is missing or malformed");

    m = s_sample_msg();
    m.from.display_name = "Desk\nBcc: x@y.z";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "from display name contains a line break or control character");

    m = s_sample_msg();
    m.message_id = "no-brackets@petrocs.example";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "message_id is missing or not of the form <left@domain>");

    m = s_sample_msg();
    m.ticket_no = "CS 1\r\nX: y";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "ticket_no must be 1-64 of A-Z a-z 0-9 - _ .");

    m = s_sample_msg();
    m.text_body = "caf\xE9";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "text body is not valid UTF-8");

    m = s_sample_msg();
    m.to.addr = "li wei@example.cn";
    assert_null(letter_compose_rfc5322(&m, &len, err, sizeof(err)));
    assert_string_equal(err, "to address is missing or malformed");
}

static void test_message_id_names_ticket_and_is_unique(void **state)
{
    (void)state;
    char err[256];
    char *a = letter_message_id_new(TICKET, "notify.petrocs.example", err, sizeof(err));
    char *b = letter_message_id_new(TICKET, "notify.petrocs.example", err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a),
                     strlen("<CS-2026-000123.>") + 32 + strlen("@notify.petrocs.example"));
    assert_memory_equal(a, "<CS-2026-000123.", 16);
    assert_string_equal(a + 16 + 32, "@notify.petrocs.example>");
    char *k = letter_message_id_new("survey_invitation", "petrocs.example", err, sizeof(err));
    assert_memory_equal(k, "<survey_invitation.", 19);
    /* the id is accepted by compose as it is */
    letter_msg_t m = s_sample_msg();
    m.message_id = k;
    size_t len;
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    free(raw);
    assert_null(letter_message_id_new(TICKET, "bad domain>", err, sizeof(err)));
    assert_string_equal(err, "message-id domain is missing or not a DNS name");
    free(a);
    free(b);
    free(k);
}

static void test_rendered_acceptance_letter_composes_and_reads_back(void **state)
{
    (void)state;
    letter_templates_t *t = s_load_shipped();
    letter_vars_t *v = s_vars_for_ticket();
    char *subject, *body, err[256];
    assert_int_equal(letter_render(t, "acceptance", "zh-CN", v, &subject, &body, err, sizeof(err)),
                     0);
    char *id = letter_message_id_new(TICKET, "notify.petrocs.example", err, sizeof(err));
    letter_msg_t m = s_sample_msg();
    m.subject = subject;
    m.text_body = body;
    m.message_id = id;
    size_t len;
    char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
    assert_non_null(raw);
    s_check_header_block(raw, len);
    GMimeMessage *msg = s_parse(raw, len);
    assert_string_equal(g_mime_message_get_subject(msg), subject);
    char *text = s_part_text(g_mime_message_get_body(msg));
    assert_string_equal(text, body);
    free(text);
    g_object_unref(msg);
    free(raw);
    free(id);
    free(subject);
    free(body);
    letter_vars_destroy(&v);
    letter_templates_destroy(&t);
}

/* A deterministic mix of the text customers and agents type: ASCII words, specials,
 * Chinese, 4-byte emoji, words too long to fold, text that looks like encoded-words. */
static void s_random_text(char *out, size_t max, unsigned *seed)
{
    static const char *const pieces[] = {
        "CS-2026-000123",
        "Leak",
        "at",
        "unit",
        "B,",
        "\"quoted\"",
        "(urgent)",
        "a<b>",
        "x@y",
        "受理",
        "确认函",
        "加氢装置",
        "换热器泄漏",
        "，",
        "。",
        "🔥",
        "😀",
        "=?UTF-8?B?eA==?=",
        "?=",
        "hydrodesulfurisation-unit-heat-exchanger-train-b-spring-turnaround-2026-q2-extra",
        "中国石油化工股份有限公司华东分公司客户服务中心值班工程师组",
        "Ä",
        "ñ",
        "-",
        "/"};
    size_t n = 0, words = 1 + (size_t)(rand_r(seed) % 18);
    out[0] = '\0';
    for (size_t i = 0; i < words; i++) {
        const char *w = pieces[(size_t)rand_r(seed) % (sizeof(pieces) / sizeof(*pieces))];
        if (n + strlen(w) + 2 >= max)
            break;
        n += (size_t)sprintf(out + n, "%s%s", n ? " " : "", w);
    }
}

/* RFC 5322 unfolding (drop CR LF before white space).  GMime leaves folds inside an
 * address's display name as they were on the wire, so names are compared unfolded. */
static char *s_unfold(const char *s)
{
    char *out = strdup(s);
    size_t w = 0;
    for (size_t r = 0; out[r]; r++)
        if (!(out[r] == '\r' || (out[r] == '\n' && (out[r + 1] == ' ' || out[r + 1] == '\t'))))
            out[w++] = out[r];
    out[w] = '\0';
    return out;
}

static void test_any_subject_and_display_name_round_trip_within_line_limits(void **state)
{
    (void)state;
    unsigned seed = 20260302;
    for (int i = 0; i < 400; i++) {
        char subject[600], name[200];
        s_random_text(subject, sizeof(subject), &seed);
        s_random_text(name, sizeof(name), &seed);
        letter_msg_t m = s_sample_msg();
        m.subject = subject;
        m.to.display_name = name;
        size_t len;
        char err[256] = "";
        char *raw = letter_compose_rfc5322(&m, &len, err, sizeof(err));
        if (!raw)
            fail_msg("compose failed for subject '%s' / name '%s': %s", subject, name, err);
        s_check_header_block(raw, len);
        GMimeMessage *msg = s_parse(raw, len);
        if (strcmp(g_mime_message_get_subject(msg), subject) != 0)
            fail_msg("subject '%s' read back as '%s'", subject, g_mime_message_get_subject(msg));
        InternetAddress *t = internet_address_list_get_address(g_mime_message_get_to(msg), 0);
        char *read_back = s_unfold(t ? internet_address_get_name(t) : "-");
        if (strcmp(read_back, name) != 0)
            fail_msg("name '%s' read back as '%s'", name, read_back);
        free(read_back);
        g_object_unref(msg);
        free(raw);
    }
}

int main(void)
{
    g_mime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acceptance_letter_in_chinese_states_ticket_start_and_commitments),
        cmocka_unit_test(test_acceptance_letter_in_english_states_ticket_start_and_commitments),
        cmocka_unit_test(test_every_kind_renders_in_both_languages_with_ticket_in_subject),
        cmocka_unit_test(test_resolution_letter_carries_the_service_report),
        cmocka_unit_test(test_unknown_language_falls_back_to_english_and_zh_reaches_zh_cn),
        cmocka_unit_test(test_render_fails_naming_the_missing_variable),
        cmocka_unit_test(test_blank_value_counts_as_missing_so_no_letter_has_a_gap),
        cmocka_unit_test(test_value_is_pasted_as_text_never_expanded),
        cmocka_unit_test(test_line_breaks_in_a_subject_value_become_spaces),
        cmocka_unit_test(test_render_refuses_unknown_kind_and_invalid_utf8_value),
        cmocka_unit_test(test_vars_refuse_bad_names_and_oversized_values),
        cmocka_unit_test(test_load_fails_on_variable_not_declared_naming_file_and_variable),
        cmocka_unit_test(test_load_fails_on_variable_declared_but_never_used),
        cmocka_unit_test(test_shipped_templates_ask_only_for_variables_events_fill),
        cmocka_unit_test(test_check_fails_on_a_variable_no_event_fills),
        cmocka_unit_test(test_check_fails_on_a_kind_no_event_produces),
        cmocka_unit_test(test_html_part_escapes_text_and_links_urls),
        cmocka_unit_test(test_load_fails_when_a_kind_lacks_a_language),
        cmocka_unit_test(test_load_fails_when_languages_require_different_variables),
        cmocka_unit_test(test_load_fails_on_malformed_template_files),
        cmocka_unit_test(test_crlf_template_loads_and_renders_with_lf),
        cmocka_unit_test(test_composed_letter_parses_back_to_the_same_chinese_subject_and_body),
        cmocka_unit_test(test_long_headers_fold_under_78_and_encoded_words_keep_characters_whole),
        cmocka_unit_test(test_ascii_subject_stays_readable_and_folds_at_spaces),
        cmocka_unit_test(test_any_subject_and_display_name_round_trip_within_line_limits),
        cmocka_unit_test(test_ascii_glued_to_chinese_survives_decoders_that_join_encoded_words),
        cmocka_unit_test(test_display_names_with_specials_are_quoted_and_read_back),
        cmocka_unit_test(test_html_body_makes_a_multipart_alternative),
        cmocka_unit_test(test_compose_refuses_header_injection_and_malformed_fields),
        cmocka_unit_test(test_message_id_names_ticket_and_is_unique),
        cmocka_unit_test(test_rendered_acceptance_letter_composes_and_reads_back),
    };
    int failed = cmocka_run_group_tests_name("notify/letter", tests, NULL, NULL);
    g_mime_shutdown();
    return failed;
}
