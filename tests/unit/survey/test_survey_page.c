/*
 * test_survey_page.c - what the customer sees when opening a survey link,
 * and how the posted answer is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "survey_page.h"

static size_t s_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("page does not contain: %s", (needle));                                       \
    } while (0)
#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        if (strstr((hay), (needle)))                                                               \
            fail_msg("page contains: %s", (needle));                                               \
    } while (0)

/* What every page must be: a whole UTF-8 document fit for a phone, with no
 * script and a referrer policy that keeps the token in the URL private. */
static void s_assert_phone_page(const char *html, const char *lang)
{
    char lang_attr[64];
    assert_non_null(html);
    assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    snprintf(lang_attr, sizeof(lang_attr), "<html lang=\"%s\">", lang);
    assert_contains(html, lang_attr);
    assert_contains(html, "<meta charset=\"utf-8\">");
    assert_contains(html,
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    assert_contains(html, "<meta name=\"referrer\" content=\"no-referrer\">");
    assert_contains(html, "<style>");
    assert_not_contains(html, "<script");
    assert_not_contains(html, "javascript:");
    assert_true(strcmp(html + strlen(html) - 8, "</html>\n") == 0);
}

/* ----------------------------------------------------------- the form */

static void test_form_in_chinese_has_both_scales_and_a_comment_box(void **state)
{
    char *html = survey_page_form(SURVEY_LANG_ZH_CN, "CS-20240612-0042", NULL);
    (void)state;
    s_assert_phone_page(html, "zh-CN");
    assert_contains(html, "服务满意度调查");
    assert_contains(html, "工单号：<strong>CS-20240612-0042</strong>");
    assert_int_equal(s_count(html, "type=\"radio\" name=\"satisfaction\""), 5);
    assert_int_equal(s_count(html, "type=\"radio\" name=\"recommend\""), 11);
    assert_contains(html, "name=\"satisfaction\" value=\"1\"");
    assert_contains(html, "name=\"satisfaction\" value=\"5\"");
    assert_contains(html, "name=\"recommend\" value=\"0\"");
    assert_contains(html, "name=\"recommend\" value=\"10\"");
    assert_contains(html, "非常满意");
    assert_contains(html, "<textarea id=\"comment\" name=\"comment\" rows=\"5\" maxlength=\"2000\">"
                          "</textarea>");
    assert_not_contains(html, " checked");
    free(html);
}

static void test_form_posts_to_its_own_url_and_hides_nothing(void **state)
{
    char *html = survey_page_form(SURVEY_LANG_EN, "CS-1", NULL);
    (void)state;
    assert_contains(html, "<form method=\"post\" accept-charset=\"utf-8\">");
    assert_not_contains(html, "action=");
    assert_not_contains(html, "type=\"hidden\"");
    /* satisfaction must be chosen, even without JavaScript */
    assert_int_equal(s_count(html, " required"), 1);
    free(html);
}

static void test_form_in_english(void **state)
{
    char *html = survey_page_form(SURVEY_LANG_EN, "CS-1", NULL);
    (void)state;
    s_assert_phone_page(html, "en");
    assert_contains(html, "<title>Service satisfaction survey</title>");
    assert_contains(html, "How likely are you to recommend us");
    assert_contains(html, "Very satisfied");
    assert_not_contains(html, "满意");
    free(html);
}

static void test_ticket_number_is_html_escaped(void **state)
{
    const char *evil = "<script>alert(\"x\")</script>&'";
    const char *escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";
    char *pages[3];
    survey_answer_t recorded = {.satisfaction = 3, .recommend = 5};
    (void)state;
    pages[0] = survey_page_form(SURVEY_LANG_ZH_CN, evil, NULL);
    pages[1] = survey_page_thanks(SURVEY_LANG_EN, evil, 0);
    pages[2] = survey_page_already_answered(SURVEY_LANG_EN, evil, &recorded);
    for (int i = 0; i < 3; i++) {
        assert_non_null(pages[i]);
        assert_contains(pages[i], escaped);
        assert_not_contains(pages[i], "<script");
        free(pages[i]);
    }
}

static void test_form_shown_again_keeps_entries_and_names_the_bad_field(void **state)
{
    survey_answer_t entered = {.satisfaction = 4, .recommend = -1, .bad_field = "recommend"};
    char *html;
    (void)state;
    strcpy(entered.comment, "</textarea><b>bold</b>");
    html = survey_page_form(SURVEY_LANG_ZH_CN, "CS-1", &entered);
    s_assert_phone_page(html, "zh-CN");
    assert_contains(html, "name=\"satisfaction\" value=\"4\" checked");
    assert_int_equal(s_count(html, " checked"), 1);
    assert_contains(html, "<p class=\"error\">推荐意愿请选择 0 到 10 之间的分数。</p>");
    assert_int_equal(s_count(html, "class=\"error\""), 1);
    assert_contains(html, "&lt;/textarea&gt;&lt;b&gt;bold&lt;/b&gt;</textarea>");
    free(html);

    entered.bad_field = "satisfaction";
    entered.satisfaction = 0;
    html = survey_page_form(SURVEY_LANG_EN, NULL, &entered);
    assert_contains(html, "Please choose a satisfaction score from 1 to 5.");
    assert_not_contains(html, "class=\"ticket\"");
    free(html);
}

/* -------------------------------------------------------- other pages */

static void test_thanks_page_mentions_follow_up_only_when_asked(void **state)
{
    char *plain = survey_page_thanks(SURVEY_LANG_ZH_CN, "CS-1", 0);
    char *follow = survey_page_thanks(SURVEY_LANG_ZH_CN, "CS-1", 1);
    (void)state;
    s_assert_phone_page(plain, "zh-CN");
    assert_contains(plain, "感谢您的评价");
    assert_not_contains(plain, "服务经理");
    assert_not_contains(plain, "<form");
    assert_contains(follow, "我们的服务经理将尽快与您联系");
    free(plain);
    free(follow);
}

static void test_already_answered_page_shows_the_recorded_answer(void **state)
{
    survey_answer_t recorded = {.satisfaction = 4, .recommend = 8};
    char *html;
    (void)state;
    strcpy(recorded.comment, "工程师很专业\n<i>谢谢</i>");
    html = survey_page_already_answered(SURVEY_LANG_ZH_CN, "CS-77", &recorded);
    s_assert_phone_page(html, "zh-CN");
    assert_contains(html, "您已提交过本次调查");
    assert_contains(html, "<strong>CS-77</strong>");
    assert_contains(html, "<dt>总体满意度</dt>\n<dd>4 / 5 &middot; 满意</dd>");
    assert_contains(html, "<dt>推荐意愿</dt>\n<dd>8 / 10</dd>");
    assert_contains(html, "<dd class=\"comment\">工程师很专业\n&lt;i&gt;谢谢&lt;/i&gt;</dd>");
    assert_not_contains(html, "<form");
    free(html);
}

static void test_already_answered_page_says_what_was_not_given(void **state)
{
    survey_answer_t recorded = {.satisfaction = 2, .recommend = -1};
    char *html = survey_page_already_answered(SURVEY_LANG_EN, "CS-77", &recorded);
    (void)state;
    assert_contains(html, "2 / 5 &middot; Dissatisfied");
    assert_contains(html, "<dt>Likelihood to recommend</dt>\n<dd>not given</dd>");
    assert_contains(html, "<dd class=\"comment\">none</dd>");
    free(html);
}

static void test_expired_and_invalid_pages_in_both_languages(void **state)
{
    char *zh_expired = survey_page_expired(SURVEY_LANG_ZH_CN);
    char *en_expired = survey_page_expired(SURVEY_LANG_EN);
    char *zh_invalid = survey_page_invalid(SURVEY_LANG_ZH_CN);
    char *en_invalid = survey_page_invalid(SURVEY_LANG_EN);
    (void)state;
    s_assert_phone_page(zh_expired, "zh-CN");
    s_assert_phone_page(en_expired, "en");
    s_assert_phone_page(zh_invalid, "zh-CN");
    s_assert_phone_page(en_invalid, "en");
    assert_contains(zh_expired, "<h1>调查链接已过期</h1>");
    assert_contains(en_expired, "<h1>This survey link has expired</h1>");
    assert_contains(zh_invalid, "<h1>调查链接无效</h1>");
    assert_contains(en_invalid, "<h1>This survey link is not valid</h1>");
    assert_not_contains(zh_expired, "<form");
    assert_not_contains(en_invalid, "<form");
    free(zh_expired);
    free(en_expired);
    free(zh_invalid);
    free(en_invalid);
}

static void test_language_tags(void **state)
{
    (void)state;
    assert_int_equal(survey_lang_from_tag("en"), SURVEY_LANG_EN);
    assert_int_equal(survey_lang_from_tag("en-GB"), SURVEY_LANG_EN);
    assert_int_equal(survey_lang_from_tag("EN_us"), SURVEY_LANG_EN);
    assert_int_equal(survey_lang_from_tag("zh-CN"), SURVEY_LANG_ZH_CN);
    assert_int_equal(survey_lang_from_tag("eng"), SURVEY_LANG_ZH_CN);
    assert_int_equal(survey_lang_from_tag("fr"), SURVEY_LANG_ZH_CN);
    assert_int_equal(survey_lang_from_tag(NULL), SURVEY_LANG_ZH_CN);
}

/* -------------------------------------------------------- form parsing */

static int s_parse(const char *body, survey_answer_t *out, char *err)
{
    return survey_answer_parse(body, strlen(body), out, err, 128);
}

static void test_full_answer_is_parsed_and_decoded(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(
        s_parse("satisfaction=4&recommend=9&comment=%E5%BE%88%E5%A5%BD+thanks%21", &a, err), 0);
    assert_int_equal(a.satisfaction, 4);
    assert_int_equal(a.recommend, 9);
    assert_string_equal(a.comment, "很好 thanks!");
    assert_null(a.bad_field);
    assert_string_equal(err, "");
}

static void test_only_satisfaction_is_required(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("satisfaction=5", &a, err), 0);
    assert_int_equal(a.satisfaction, 5);
    assert_int_equal(a.recommend, -1);
    assert_string_equal(a.comment, "");
    assert_int_equal(s_parse("satisfaction=1&recommend=&comment=", &a, err), 0);
    assert_int_equal(a.recommend, -1);
    assert_int_equal(s_parse("recommend=0&satisfaction=2", &a, err), 0);
    assert_int_equal(a.recommend, 0);
}

static void test_missing_satisfaction_is_refused(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("recommend=7&comment=ok", &a, err), -1);
    assert_string_equal(err, "satisfaction is required");
    assert_string_equal(a.bad_field, "satisfaction");
    assert_int_equal(a.recommend, 7); /* kept for showing the form again */
    assert_string_equal(a.comment, "ok");
    assert_int_equal(s_parse("", &a, err), -1);
    assert_string_equal(err, "satisfaction is required");
    assert_int_equal(s_parse("satisfaction=", &a, err), -1);
    assert_string_equal(err, "satisfaction is required");
}

static void test_satisfaction_must_be_1_to_5(void **state)
{
    static const char *bad[] = {"satisfaction=0",      "satisfaction=6",   "satisfaction=-1",
                                "satisfaction=+4",     "satisfaction=4.5", "satisfaction=abc",
                                "satisfaction=%34%00", "satisfaction=100"};
    survey_answer_t a;
    char err[128];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(s_parse(bad[i], &a, err), -1);
        assert_string_equal(err, "satisfaction must be 1..5");
        assert_string_equal(a.bad_field, "satisfaction");
    }
}

static void test_recommend_must_be_0_to_10(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("satisfaction=3&recommend=11", &a, err), -1);
    assert_string_equal(err, "recommend must be 0..10");
    assert_string_equal(a.bad_field, "recommend");
    assert_int_equal(a.satisfaction, 3);
    assert_int_equal(s_parse("satisfaction=3&recommend=ten", &a, err), -1);
    assert_string_equal(err, "recommend must be 0..10");
    assert_int_equal(s_parse("satisfaction=3&recommend=10", &a, err), 0);
    assert_int_equal(a.recommend, 10);
}

static void test_a_field_given_twice_is_refused(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("satisfaction=4&satisfaction=1", &a, err), -1);
    assert_string_equal(err, "satisfaction given twice");
    assert_int_equal(s_parse("satisfaction=4&comment=a&comment=b", &a, err), -1);
    assert_string_equal(err, "comment given twice");
}

static void test_unknown_fields_are_ignored(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("submit=Send&satisfaction=3&utm_source=mail&&=x&flag", &a, err), 0);
    assert_int_equal(a.satisfaction, 3);
}

static void test_bad_percent_encoding_is_refused(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("satisfaction=3&comment=%zz", &a, err), -1);
    assert_string_equal(err, "form is not correctly percent-encoded");
    assert_string_equal(a.bad_field, "form");
    assert_int_equal(s_parse("satisfaction=3&comment=abc%4", &a, err), -1);
    assert_string_equal(err, "form is not correctly percent-encoded");
    assert_int_equal(s_parse("satisfaction=3&comment=abc%", &a, err), -1);
}

static void test_comment_line_breaks_become_lf_and_edges_are_trimmed(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("satisfaction=3&comment=+%20first%0D%0Asecond%0Dthird%0A+", &a, err),
                     0);
    assert_string_equal(a.comment, "first\nsecond\nthird");
}

static void test_comment_must_be_clean_utf8_text(void **state)
{
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(s_parse("satisfaction=3&comment=%E5%BE", &a, err), -1);
    assert_string_equal(err, "comment is not valid UTF-8");
    assert_string_equal(a.bad_field, "comment");
    assert_int_equal(s_parse("satisfaction=3&comment=%C0%AF", &a, err), -1);
    assert_string_equal(err, "comment is not valid UTF-8");
    assert_int_equal(s_parse("satisfaction=3&comment=a%00b", &a, err), -1);
    assert_string_equal(err, "comment contains control characters");
    assert_int_equal(s_parse("satisfaction=3&comment=%1B%5B31m", &a, err), -1);
    assert_string_equal(err, "comment contains control characters");
    assert_int_equal(a.satisfaction, 3);
    assert_string_equal(a.comment, "");
}

static void test_comment_is_at_most_2000_characters(void **state)
{
    /* 2000 Chinese characters are fine even though they are 6000 bytes */
    size_t cap = 32 + 2001 * 9 + 1;
    char *body = malloc(cap);
    survey_answer_t *a = malloc(sizeof(*a));
    char err[128];
    size_t n;
    (void)state;
    n = (size_t)sprintf(body, "satisfaction=3&comment=");
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(body + n, "%%E5%%A5%%BD");
    assert_int_equal(survey_answer_parse(body, n, a, err, sizeof(err)), 0);
    assert_int_equal(strlen(a->comment), 6000);
    n += (size_t)sprintf(body + n, "x");
    assert_int_equal(survey_answer_parse(body, n, a, err, sizeof(err)), -1);
    assert_string_equal(err, "comment must be at most 2000 characters");
    free(body);
    free(a);
}

static void test_oversized_body_is_refused(void **state)
{
    size_t len = SURVEY_BODY_MAX_BYTES + 1;
    char *body = malloc(len);
    survey_answer_t a;
    char err[128];
    (void)state;
    memset(body, 'a', len);
    memcpy(body, "satisfaction=3&x=", 17);
    assert_int_equal(survey_answer_parse(body, len, &a, err, sizeof(err)), -1);
    assert_string_equal(err, "form body larger than 32768 bytes");
    assert_string_equal(a.bad_field, "form");
    free(body);
}

static void test_body_length_is_honoured_without_a_terminator(void **state)
{
    const char raw[] = {'s', 'a', 't', 'i', 's', 'f', 'a', 'c', 't', 'i', 'o', 'n', '=', '2', '9'};
    survey_answer_t a;
    char err[128];
    (void)state;
    assert_int_equal(survey_answer_parse(raw, 14, &a, err, sizeof(err)), 0);
    assert_int_equal(a.satisfaction, 2);
    assert_int_equal(survey_answer_parse(NULL, 0, &a, err, sizeof(err)), -1);
    assert_string_equal(err, "satisfaction is required");
}

/* ------------------------------------- speed, professionalism, opt-out */

static void test_form_asks_for_speed_and_professionalism_and_links_the_opt_out(void **state)
{
    (void)state;
    char *html =
        survey_page_form_with_optout(SURVEY_LANG_ZH_CN, "CS-2026-000123", NULL, "AbC\"<x>/optout");
    s_assert_phone_page(html, "zh-CN");
    for (int v = 1; v <= 5; v++) {
        char want[80];
        snprintf(want, sizeof(want), "name=\"speed\" value=\"%d\"", v);
        assert_contains(html, want);
        snprintf(want, sizeof(want), "name=\"professionalism\" value=\"%d\"", v);
        assert_contains(html, want);
    }
    assert_contains(html, "响应速度");
    assert_contains(html, "专业水平");
    assert_contains(html, "<a href=\"AbC&quot;&lt;x&gt;/optout\">不再接收满意度调查</a>");
    free(html);
    html = survey_page_form(SURVEY_LANG_EN, NULL, NULL);
    assert_not_contains(html, "<a href");
    free(html);
}

static void test_speed_and_professionalism_are_optional_and_1_to_5(void **state)
{
    (void)state;
    survey_answer_t a;
    char err[128];
    const char *body = "satisfaction=4&speed=5&professionalism=3";
    assert_int_equal(survey_answer_parse(body, strlen(body), &a, err, sizeof(err)), 0);
    assert_int_equal(a.speed, 5);
    assert_int_equal(a.professionalism, 3);
    body = "satisfaction=4";
    assert_int_equal(survey_answer_parse(body, strlen(body), &a, err, sizeof(err)), 0);
    assert_int_equal(a.speed, 0);
    assert_int_equal(a.professionalism, 0);
    body = "satisfaction=4&speed=0";
    assert_int_equal(survey_answer_parse(body, strlen(body), &a, err, sizeof(err)), -1);
    assert_string_equal(a.bad_field, "speed");
    assert_string_equal(err, "speed must be 1..5");
    body = "satisfaction=4&professionalism=6";
    assert_int_equal(survey_answer_parse(body, strlen(body), &a, err, sizeof(err)), -1);
    assert_string_equal(a.bad_field, "professionalism");
    body = "satisfaction=4&speed=2&speed=3";
    assert_int_equal(survey_answer_parse(body, strlen(body), &a, err, sizeof(err)), -1);
    assert_string_equal(a.bad_field, "speed");
    /* the form shown again names the field in the page's language */
    body = "satisfaction=4&speed=9";
    survey_answer_parse(body, strlen(body), &a, err, sizeof(err));
    char *html = survey_page_form(SURVEY_LANG_EN, NULL, &a);
    assert_contains(html, "Please choose a response speed score from 1 to 5.");
    free(html);
}

static void test_the_recorded_answer_shows_speed_and_professionalism(void **state)
{
    (void)state;
    survey_answer_t a;
    memset(&a, 0, sizeof(a));
    a.satisfaction = 4;
    a.recommend = -1;
    a.speed = 5;
    char *html = survey_page_already_answered(SURVEY_LANG_EN, "CS-1", &a);
    assert_contains(html, "<dt>Response speed</dt>\n<dd>5 / 5</dd>");
    assert_contains(html, "<dt>Professionalism</dt>\n<dd>not given</dd>");
    free(html);
}

static void test_opt_out_pages_post_without_script_in_both_languages(void **state)
{
    (void)state;
    char *html = survey_page_optout_confirm(SURVEY_LANG_ZH_CN);
    s_assert_phone_page(html, "zh-CN");
    assert_contains(html, "<form method=\"post\">");
    assert_contains(html, "确认退订");
    free(html);
    html = survey_page_optout_confirm(SURVEY_LANG_EN);
    s_assert_phone_page(html, "en");
    assert_contains(html, "Stop survey invitations");
    free(html);
    html = survey_page_optout_done(SURVEY_LANG_EN);
    s_assert_phone_page(html, "en");
    assert_not_contains(html, "<form");
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_in_chinese_has_both_scales_and_a_comment_box),
        cmocka_unit_test(test_form_posts_to_its_own_url_and_hides_nothing),
        cmocka_unit_test(test_form_in_english),
        cmocka_unit_test(test_ticket_number_is_html_escaped),
        cmocka_unit_test(test_form_shown_again_keeps_entries_and_names_the_bad_field),
        cmocka_unit_test(test_thanks_page_mentions_follow_up_only_when_asked),
        cmocka_unit_test(test_already_answered_page_shows_the_recorded_answer),
        cmocka_unit_test(test_already_answered_page_says_what_was_not_given),
        cmocka_unit_test(test_expired_and_invalid_pages_in_both_languages),
        cmocka_unit_test(test_language_tags),
        cmocka_unit_test(test_full_answer_is_parsed_and_decoded),
        cmocka_unit_test(test_only_satisfaction_is_required),
        cmocka_unit_test(test_missing_satisfaction_is_refused),
        cmocka_unit_test(test_satisfaction_must_be_1_to_5),
        cmocka_unit_test(test_recommend_must_be_0_to_10),
        cmocka_unit_test(test_a_field_given_twice_is_refused),
        cmocka_unit_test(test_unknown_fields_are_ignored),
        cmocka_unit_test(test_bad_percent_encoding_is_refused),
        cmocka_unit_test(test_comment_line_breaks_become_lf_and_edges_are_trimmed),
        cmocka_unit_test(test_comment_must_be_clean_utf8_text),
        cmocka_unit_test(test_comment_is_at_most_2000_characters),
        cmocka_unit_test(test_oversized_body_is_refused),
        cmocka_unit_test(test_body_length_is_honoured_without_a_terminator),
        cmocka_unit_test(test_form_asks_for_speed_and_professionalism_and_links_the_opt_out),
        cmocka_unit_test(test_speed_and_professionalism_are_optional_and_1_to_5),
        cmocka_unit_test(test_the_recorded_answer_shows_speed_and_professionalism),
        cmocka_unit_test(test_opt_out_pages_post_without_script_in_both_languages),
    };
    return cmocka_run_group_tests_name("survey_page", tests, NULL, NULL);
}
