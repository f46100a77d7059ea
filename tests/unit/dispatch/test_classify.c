/*
 * test_classify.c - the classifier's specification, as tests.
 *
 * Most tests run against the shipped rules file (services/dispatch/rules/
 * classify.rules), because that file is what the business relies on: if an
 * edit to it changes how a sample ticket is classified, a test here says so.
 * Parser tests use small inline rule texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "classify.h"

#ifndef CLASSIFY_RULES_PATH
#define CLASSIFY_RULES_PATH "services/dispatch/rules/classify.rules"
#endif

static classify_rules_t *s_rules;

static int s_setup(void **state)
{
    char err[256] = "";
    const char *path = getenv("CLASSIFY_RULES") ? getenv("CLASSIFY_RULES") : CLASSIFY_RULES_PATH;
    (void)state;
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

/* Classify a ticket with only a subject and a text. */
static classify_result_t s_classify(const char *subject, const char *text)
{
    classify_input_t in = {.subject = subject, .text = text};
    classify_result_t out;
    assert_int_equal(classify_ticket(s_rules, &in, &out), 0);
    return out;
}

static const char *s_type_of(const char *subject, const char *text)
{
    static classify_result_t out;
    out = s_classify(subject, text);
    return out.service_type;
}

/* ------------------------------------------------------- the rules file */

static void test_shipped_rules_file_loads_with_its_version(void **state)
{
    (void)state;
    assert_int_equal(classify_rules_version(s_rules), 2);
}

/* ------------------------------------------------ service types, zh + en */

static void test_pump_vibration_is_equipment_maintenance(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "离心泵振动大，请派人检修");
    assert_string_equal(r.service_type, "equipment_maintenance");
    assert_string_equal(r.rule_id, "eq-jianxiu");
    assert_string_equal(s_type_of("Feed pump",
                                  "The feed pump is vibrating badly, please send a fitter to "
                                  "repair it"),
                        "equipment_maintenance");
}

static void test_yield_and_energy_is_process_optimisation(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "希望对常减压装置进行工艺优化，降低能耗"),
                        "process_optimisation");
    assert_string_equal(s_type_of(NULL, "How can we optimise the cracker yield and cut energy "
                                        "consumption?"),
                        "process_optimisation");
}

static void test_hazop_and_hidden_dangers_is_safety_inspection(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "申请对储罐区进行年度安全检查，排查隐患"),
                        "safety_inspection");
    assert_string_equal(s_type_of("HAZOP", "Please schedule a HAZOP review and safety "
                                           "inspection of unit 3"),
                        "safety_inspection");
}

static void test_permits_and_emissions_is_environmental_compliance(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "请协助办理排污许可证延续"), "environmental_compliance");
    assert_string_equal(s_type_of(NULL, "We need help with the annual emissions figures for our "
                                        "environmental permit"),
                        "environmental_compliance");
}

/* Decision recorded in classify.rules: online emission monitoring belongs
 * to the environmental team, not to data_monitoring. */
static void test_voc_online_monitoring_anomaly_is_environmental_compliance(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "VOC排放在线监测数据异常");
    assert_string_equal(r.service_type, "environmental_compliance");
    assert_string_equal(r.rule_id, "env-online-monitoring");
    assert_int_equal(r.emergency_level, 0);
}

static void test_plain_data_anomaly_is_data_monitoring(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "DCS历史数据趋势异常，需要数据分析"), "data_monitoring");
    assert_string_equal(s_type_of(NULL, "The SCADA dashboard shows odd sensor trends"),
                        "data_monitoring");
}

static void test_advice_questions_are_technical_consulting(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "想咨询一下加氢催化剂的选型");
    assert_string_equal(r.service_type, "technical_consulting");
    assert_string_equal(r.rule_id, "tc-zixun");
    assert_string_equal(s_type_of(NULL, "We would like advice on catalyst selection"),
                        "technical_consulting");
}

static void test_courses_are_training(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "需要为新员工安排操作培训课程"), "training");
    assert_string_equal(s_type_of(NULL, "Please arrange a training course for new operators"),
                        "training");
}

static void test_orders_and_deliveries_are_product_supply(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "询问下月柴油供货计划和报价"), "product_supply");
    assert_string_equal(s_type_of(NULL, "When will the diesel shipment for purchase order 4711 "
                                        "be delivered?"),
                        "product_supply");
}

static void test_complaint_words_win_over_the_subject_complained_about(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "投诉：维修人员态度差，泵修完还是坏的");
    assert_string_equal(r.service_type, "complaint");
    assert_string_equal(r.rule_id, "cp-tousu");
    assert_string_equal(s_type_of("Late repair", "This is unacceptable. The pump repair is two "
                                                 "weeks late."),
                        "complaint");
    assert_string_equal(s_type_of(NULL, "对上次检修服务很不满意"), "complaint");
    assert_string_equal(s_type_of(NULL, "We want to complain about the repair crew"), "complaint");
}

/* "不满足要求" means "does not meet the requirement", not displeasure. */
static void test_does_not_meet_requirement_is_not_a_complaint(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "换热器出口温度不满足设计要求，需要检修"),
                        "equipment_maintenance");
}

static void test_traditional_chinese_is_understood(void **state)
{
    (void)state;
    assert_string_equal(s_type_of(NULL, "壓縮機故障，請安排維修"), "equipment_maintenance");
    assert_string_equal(s_type_of(NULL, "我要投訴你們的服務"), "complaint");
}

static void test_nothing_matched_defaults_to_technical_consulting(void **state)
{
    (void)state;
    classify_result_t r = s_classify("你好", "请回电");
    assert_string_equal(r.service_type, "technical_consulting");
    assert_string_equal(r.rule_id, "default");
    r = s_classify(NULL, NULL);
    assert_string_equal(r.service_type, "technical_consulting");
    assert_string_equal(r.rule_id, "default");
}

static void test_subject_matches_weigh_double(void **state)
{
    (void)state;
    /* 数据 (2) in the subject counts 4 and beats 检修 (3) in the text... */
    assert_string_equal(s_type_of("数据", "检修"), "data_monitoring");
    /* ...while in the text it counts 2 and loses. */
    assert_string_equal(s_type_of("检修", "数据"), "equipment_maintenance");
}

static void test_english_is_case_insensitive_and_fullwidth_folds(void **state)
{
    (void)state;
    assert_string_equal(s_type_of("PUMP REPAIR", NULL), "equipment_maintenance");
    assert_string_equal(s_type_of("ＨＡＺＯＰ审查", NULL), "safety_inspection");
}

static void test_english_words_match_whole_words_unless_starred(void **state)
{
    (void)state;
    /* "fire" is not in "fired heater" nor "firewall" */
    assert_int_equal(s_classify(NULL, "Fired heater tubes need inspection").emergency_level, 0);
    assert_int_equal(s_classify(NULL, "Firewall rules for the DCS").emergency_level, 0);
    /* "leak*" accepts "leaking" */
    classify_result_t r = s_classify(NULL, "Flange on line 12 is leaking");
    assert_int_equal(r.emergency_level, 2);
    assert_string_equal(r.emergency_rule_id, "em2-leak");
}

/* ------------------------------------------------------ emergency levels */

static void test_explosion_and_fire_are_level_1_critical_p1(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "装置区发生爆炸");
    assert_int_equal(r.emergency_level, 1);
    assert_string_equal(r.emergency_rule_id, "em1-baozha");
    assert_string_equal(r.urgency, "critical");
    assert_string_equal(r.priority, "P1");

    r = s_classify("Fire in the tank farm", NULL);
    assert_int_equal(r.emergency_level, 1);
    assert_string_equal(r.emergency_rule_id, "em1-fire");

    assert_int_equal(s_classify(NULL, "罐区着火了").emergency_level, 1);
    assert_int_equal(s_classify(NULL, "现场发生人员伤亡").emergency_level, 1);
}

static void test_leak_injury_release_shutdown_are_level_2_high(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "3号罐底部泄漏");
    assert_int_equal(r.emergency_level, 2);
    assert_string_equal(r.emergency_rule_id, "em2-xielou");
    assert_string_equal(r.urgency, "high");
    assert_string_equal(r.priority, "P2");

    assert_int_equal(s_classify(NULL, "One operator was injured").emergency_level, 2);
    assert_int_equal(s_classify(NULL, "一名操作工受伤").emergency_level, 2);
    assert_int_equal(s_classify(NULL, "废气排放超标").emergency_level, 2);
    assert_int_equal(s_classify(NULL, "Environmental release at the jetty").emergency_level, 2);
    assert_int_equal(s_classify(NULL, "全线停产").emergency_level, 2);
    assert_int_equal(s_classify(NULL, "Unplanned plant shutdown").emergency_level, 2);
}

static void test_the_most_severe_matching_level_wins(void **state)
{
    (void)state;
    /* 装置停车 (2) contains 停车 (3) */
    classify_result_t r = s_classify(NULL, "催化装置停车");
    assert_int_equal(r.emergency_level, 2);
    assert_string_equal(r.emergency_rule_id, "em2-zhuangzhi");
    /* a leak that caught fire is a fire */
    r = s_classify("泄漏", "泄漏后着火");
    assert_int_equal(r.emergency_level, 1);
    assert_string_equal(r.emergency_rule_id, "em1-zhaohuo");
}

static void test_a_unit_stop_is_level_3_medium(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "压缩机停车，原因不明");
    assert_int_equal(r.emergency_level, 3);
    assert_string_equal(r.emergency_rule_id, "em3-tingche");
    assert_string_equal(r.urgency, "medium");
    assert_string_equal(r.priority, "P3");
}

static void test_ignored_phrases_raise_no_emergency(void **state)
{
    (void)state;
    assert_int_equal(s_classify(NULL, "检查后无泄漏").emergency_level, 0);
    assert_int_equal(s_classify(NULL, "No leaks found during the check").emergency_level, 0);
    assert_int_equal(s_classify(NULL, "下月计划停车检修").emergency_level, 0);
    assert_int_equal(s_classify(NULL, "停车场照明坏了").emergency_level, 0);
    classify_result_t r = s_classify(NULL, "Please organise a fire drill for the control room");
    assert_int_equal(r.emergency_level, 0);
    assert_string_equal(r.service_type, "training");
    r = s_classify(NULL, "LDAR 泄漏检测季度报告");
    assert_int_equal(r.emergency_level, 0);
    assert_string_equal(r.service_type, "environmental_compliance");
}

static void test_explicit_emergency_flag_counts_as_a_match(void **state)
{
    (void)state;
    classify_input_t in = {.text = "请来一下", .emergency_flag = 2};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_int_equal(r.emergency_level, 2);
    assert_string_equal(r.emergency_rule_id, "requested");
    assert_string_equal(r.urgency, "high");

    /* words more severe than the flag win */
    in.text = "发生爆炸";
    in.emergency_flag = 3;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_int_equal(r.emergency_level, 1);
    assert_string_equal(r.emergency_rule_id, "em1-baozha");

    /* a flag out of 1..3 is ignored */
    in.text = "请来一下";
    in.emergency_flag = 7;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_int_equal(r.emergency_level, 0);
    assert_string_equal(r.emergency_rule_id, "");
}

/* ------------------------------------------------ urgency, impact, matrix */

/* A request that says nothing of urgency is a normal one: medium × single = P3. */
static void test_routine_request_is_medium_single_p3(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "离心泵振动大，请派人检修");
    assert_string_equal(r.urgency, "medium");
    assert_string_equal(r.impact, "single");
    assert_string_equal(r.priority, "P3");
}

/* Only the customer's explicit choice lowers urgency below normal. */
static void test_explicit_low_urgency_gives_p4(void **state)
{
    (void)state;
    classify_input_t in = {.text = "下周安排即可", .urgency = "low"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.urgency, "low");
    assert_string_equal(r.priority, "P4");
}

static void test_urgent_words_make_urgency_high(void **state)
{
    (void)state;
    assert_string_equal(s_classify(NULL, "请尽快派人检修").urgency, "high");
    assert_string_equal(s_classify(NULL, "紧急：泵坏了").priority, "P2");
    assert_string_equal(s_classify("URGENT", "pump broken").urgency, "high");
    assert_string_equal(s_classify(NULL, "Please repair ASAP").urgency, "high");
    /* "not urgent" is not read as urgent; it stays normal */
    assert_string_equal(s_classify(NULL, "不紧急，下周安排即可").urgency, "medium");
}

static void test_impact_words_widen_impact(void **state)
{
    (void)state;
    classify_result_t r = s_classify(NULL, "周边居民反映有异味");
    assert_string_equal(r.impact, "public");
    assert_int_equal(r.emergency_level, 3);
    assert_string_equal(r.urgency, "medium");
    assert_string_equal(r.priority, "P2");
}

static void test_shipped_matrix_gives_the_agreed_priorities(void **state)
{
    static const char *urgencies[] = {"low", "medium", "high", "critical"};
    static const char *impacts[] = {"single", "site", "multi_site", "public"};
    static const char *expected[4][4] = {
        {"P4", "P3", "P3", "P2"},
        {"P3", "P3", "P2", "P2"},
        {"P2", "P2", "P1", "P1"},
        {"P1", "P1", "P1", "P1"},
    };
    (void)state;
    for (int u = 0; u < 4; u++) {
        for (int i = 0; i < 4; i++) {
            classify_input_t in = {.text = "x", .urgency = urgencies[u], .impact = impacts[i]};
            classify_result_t r;
            assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
            assert_string_equal(r.urgency, urgencies[u]);
            assert_string_equal(r.impact, impacts[i]);
            assert_string_equal(r.priority, expected[u][i]);
        }
    }
}

static void test_given_urgency_and_impact_are_used_as_given(void **state)
{
    (void)state;
    classify_input_t in = {.text = "请尽快检修", .urgency = "low", .impact = "site"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.urgency, "low");
    assert_string_equal(r.impact, "site");
    assert_string_equal(r.priority, "P3");
}

static void test_an_emergency_is_never_downgraded_by_a_given_urgency(void **state)
{
    (void)state;
    classify_input_t in = {.text = "发生爆炸", .urgency = "low"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.urgency, "critical");
    assert_string_equal(r.priority, "P1");
}

static void test_invalid_urgency_and_impact_hints_are_ignored(void **state)
{
    (void)state;
    classify_input_t in = {.text = "请尽快检修", .urgency = "very high", .impact = "galaxy"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.urgency, "high");
    assert_string_equal(r.impact, "single");
}

static void test_missing_matrix_cell_gets_the_default_priority(void **state)
{
    char err[128];
    const char *text = "version 2\nmatrix low single P4\ndefault priority P2\n";
    classify_rules_t *r = classify_rules_parse(text, strlen(text), err, sizeof(err));
    classify_input_t in = {.urgency = "high", .impact = "public"};
    classify_result_t out;
    (void)state;
    assert_non_null(r);
    assert_int_equal(classify_ticket(r, &in, &out), 0);
    assert_string_equal(out.priority, "P2");
    in.urgency = "low", in.impact = "single";
    assert_int_equal(classify_ticket(r, &in, &out), 0);
    assert_string_equal(out.priority, "P4");
    classify_rules_destroy(&r);

    /* without a default line the default is P3 */
    text = "version 2\n";
    r = classify_rules_parse(text, strlen(text), err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(classify_ticket(r, &in, &out), 0);
    assert_string_equal(out.priority, "P3");
    classify_rules_destroy(&r);
}

/* ------------------------------------------------------------ tier */

static void test_strategic_customer_is_raised_one_step(void **state)
{
    (void)state;
    classify_input_t in = {.text = "离心泵振动大，请派人检修", .tier = "strategic"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.priority, "P2"); /* P3 for others */

    in.tier = "Strategic";
    in.urgency = "high";
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.priority, "P1"); /* P2 for others */

    in.tier = "large";
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.priority, "P2");
}

static void test_strategic_customer_never_goes_above_p1(void **state)
{
    (void)state;
    classify_input_t in = {.text = "发生爆炸", .tier = "strategic"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.priority, "P1");
}

/* ------------------------------------------------------- requested type */

static void test_requested_service_type_wins_over_keywords(void **state)
{
    (void)state;
    classify_input_t in = {.subject = "投诉", .text = "泵坏了", .requested_type = "training"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.service_type, "training");
    assert_string_equal(r.rule_id, "requested");
}

static void test_invalid_requested_type_falls_back_to_keywords(void **state)
{
    (void)state;
    classify_input_t in = {.text = "泵坏了，请检修", .requested_type = "pumps"};
    classify_result_t r;
    assert_int_equal(classify_ticket(s_rules, &in, &r), 0);
    assert_string_equal(r.service_type, "equipment_maintenance");
    assert_string_equal(r.rule_id, "eq-jianxiu");
}

static void test_service_type_codes(void **state)
{
    static const char *codes[] = {
        "equipment_maintenance",    "process_optimisation", "safety_inspection",
        "environmental_compliance", "technical_consulting", "training",
        "data_monitoring",          "product_supply",       "complaint",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_true(classify_is_service_type(codes[i]));
    assert_false(classify_is_service_type("Complaint"));
    assert_false(classify_is_service_type("complaint "));
    assert_false(classify_is_service_type(""));
    assert_false(classify_is_service_type(NULL));
}

/* --------------------------------------------------------- hostile input */

static void test_only_the_first_64k_of_text_is_read(void **state)
{
    size_t n = CLASSIFY_TEXT_MAX_BYTES + 100;
    char *text = malloc(n + 1);
    classify_result_t r;
    (void)state;
    assert_non_null(text);
    memset(text, 'a', n);
    memcpy(text + n - 6, "爆炸", 6);
    text[n] = '\0';
    r = s_classify(NULL, text);
    assert_int_equal(r.emergency_level, 0);
    memcpy(text + 10, " fire ", 6);
    r = s_classify(NULL, text);
    assert_int_equal(r.emergency_level, 1);
    free(text);
}

static void test_invalid_utf8_in_ticket_text_is_harmless(void **state)
{
    (void)state;
    classify_result_t r = s_classify("\xff\xfe\xef\xbc", "\xe6\xb3\x84\x80 leak \xc0");
    assert_int_equal(r.emergency_level, 2);
}

static void test_null_arguments_are_refused(void **state)
{
    classify_input_t in = {0};
    classify_result_t out;
    (void)state;
    assert_int_equal(classify_ticket(NULL, &in, &out), -1);
    assert_int_equal(classify_ticket(s_rules, NULL, &out), -1);
    assert_int_equal(classify_ticket(s_rules, &in, NULL), -1);
    classify_rules_destroy(NULL);
}

/* ------------------------------------------------------------ parser */

/* Parse text that must fail and check the error names the line. */
static void s_assert_parse_error(const char *text, const char *expected)
{
    char err[256] = "";
    classify_rules_t *r = classify_rules_parse(text, strlen(text), err, sizeof(err));
    if (r)
        classify_rules_destroy(&r);
    assert_null(r);
    assert_string_equal(err, expected);
}

static void test_unknown_service_type_is_refused_naming_the_line(void **state)
{
    (void)state;
    s_assert_parse_error("version 1\n# comment\n\nrule a1 foo 3 pump\n",
                         "line 4: unknown service type 'foo'");
}

static void test_malformed_rules_are_refused_naming_the_line(void **state)
{
    (void)state;
    s_assert_parse_error("rule a1 training 3 course\n",
                         "line 1: the first line must be 'version N'");
    s_assert_parse_error("", "line 1: no 'version N' line");
    s_assert_parse_error("version x\n", "line 1: version must be a positive integer");
    s_assert_parse_error("version 1\nversion 2\n", "line 2: version given twice");
    s_assert_parse_error("version 1\nrule a1 training 0 course\n",
                         "line 2: weight '0' must be an integer 1..100");
    s_assert_parse_error("version 1\nrule a1 training 3x course\n",
                         "line 2: weight '3x' must be an integer 1..100");
    s_assert_parse_error("version 1\nrule a1 training 3\n", "line 2: rule 'a1' has no phrase");
    s_assert_parse_error("version 1\nrule a1 training 3 course\nrule a1 training 2 class\n",
                         "line 3: duplicate rule id 'a1' (first on line 2)");
    s_assert_parse_error("version 1\nrule requested training 3 course\n",
                         "line 2: rule id 'requested' is reserved");
    s_assert_parse_error("version 1\nrule a/b training 3 course\n",
                         "line 2: rule id 'a/b' may only use A-Z a-z 0-9 _ . -");
    s_assert_parse_error("version 1\nemergency e1 4 boom\n",
                         "line 2: emergency level '4' must be 1, 2 or 3");
    s_assert_parse_error("version 1\nurgency u1 extreme now\n",
                         "line 2: unknown urgency 'extreme'");
    s_assert_parse_error("version 1\nimpact i1 world everyone\n", "line 2: unknown impact 'world'");
    s_assert_parse_error("version 1\nmatrix high site P5\n",
                         "line 2: priority 'P5' must be P1..P4");
    s_assert_parse_error("version 1\nmatrix high site P1\nmatrix high site P2\n",
                         "line 3: matrix cell high/site given twice (first on line 2)");
    s_assert_parse_error("version 1\ndefault colour blue\n", "line 2: unknown default 'colour'");
    s_assert_parse_error("version 1\nkeyword k1 training 3 course\n",
                         "line 2: unknown directive 'keyword'");
    s_assert_parse_error("version 1\nrule a1 training 3 co*rse\n",
                         "line 2: '*' is only allowed at the end of a phrase");
    s_assert_parse_error("version 1\nrule a1 training 3 \xe6\xb3\n",
                         "line 2: phrase of rule 'a1' is not valid UTF-8");
}

static void test_oversized_lines_and_nul_bytes_are_refused(void **state)
{
    char text[CLASSIFY_RULES_MAX_LINE + 64];
    char err[128];
    classify_rules_t *r;
    (void)state;
    strcpy(text, "version 1\nrule a1 training 3 ");
    size_t n = strlen(text);
    memset(text + n, 'x', sizeof(text) - n - 1);
    text[sizeof(text) - 1] = '\0';
    s_assert_parse_error(text, "line 2: longer than 1024 bytes");

    r = classify_rules_parse("version 1\nrule a1 tr\0ining 3 x\n", 30, err, sizeof(err));
    assert_null(r);
    assert_string_equal(err, "line 2: contains a NUL byte");
}

static void test_windows_line_endings_and_bom_are_accepted(void **state)
{
    const char *text = "\xEF\xBB\xBFversion 7\r\nrule t1 training 3 course*\r\n";
    char err[128] = "";
    classify_rules_t *r = classify_rules_parse(text, strlen(text), err, sizeof(err));
    classify_input_t in = {.text = "two COURSES"};
    classify_result_t out;
    (void)state;
    assert_non_null(r);
    assert_int_equal(classify_rules_version(r), 7);
    assert_int_equal(classify_ticket(r, &in, &out), 0);
    assert_string_equal(out.service_type, "training");
    assert_string_equal(out.rule_id, "t1");
    classify_rules_destroy(&r);
    assert_null(r);
}

static void test_equal_scores_go_to_the_type_whose_rule_comes_first(void **state)
{
    const char *text = "version 1\n"
                       "rule b1 training 2 drill\n"
                       "rule a1 safety_inspection 2 check\n";
    char err[128];
    classify_rules_t *r = classify_rules_parse(text, strlen(text), err, sizeof(err));
    classify_input_t in = {.text = "check the drill"};
    classify_result_t out;
    (void)state;
    assert_non_null(r);
    assert_int_equal(classify_ticket(r, &in, &out), 0);
    assert_string_equal(out.service_type, "training");
    classify_rules_destroy(&r);
}

/* The tier lines decide how far a tier raises the priority:
   medium x single is P3 in this matrix; large raises 2 steps -> P1;
   strategic 3 steps -> P0, held at P1; sme 0 -> P3; no tier -> P3. */
static void test_tier_lines_raise_the_priority_by_their_steps_never_above_p1(void **state)
{
    const char *text = "version 3\n"
                       "default urgency medium\n"
                       "matrix medium single P3\n"
                       "tier strategic 3\n"
                       "tier large 2\n"
                       "tier sme 0\n";
    char err[128] = "";
    classify_rules_t *r = classify_rules_parse(text, strlen(text), err, sizeof(err));
    classify_result_t out;
    (void)state;
    assert_non_null(r);
    static const struct {
        const char *tier, *priority;
    } cases[] = {{"strategic", "P1"}, {"large", "P1"}, {"sme", "P3"}, {"", "P3"}, {NULL, "P3"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        classify_input_t in = {.text = "a question", .tier = cases[i].tier};
        assert_int_equal(classify_ticket(r, &in, &out), 0);
        assert_string_equal(out.priority, cases[i].priority);
    }
    classify_rules_destroy(&r);
    s_assert_parse_error("version 1\ntier gold 1\n", "line 2: unknown tier 'gold'");
    s_assert_parse_error("version 1\ntier sme 4\n", "line 2: tier steps '4' must be 0..3");
    s_assert_parse_error("version 1\ntier sme 1\ntier sme 0\n",
                         "line 3: tier sme given twice (first on line 2)");
}

static void test_missing_rules_file_is_reported(void **state)
{
    char err[256] = "";
    (void)state;
    assert_null(classify_rules_load("/nonexistent/classify.rules", err, sizeof(err)));
    assert_string_equal(err, "cannot open '/nonexistent/classify.rules': No such file or "
                             "directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_rules_file_loads_with_its_version),
        cmocka_unit_test(test_pump_vibration_is_equipment_maintenance),
        cmocka_unit_test(test_yield_and_energy_is_process_optimisation),
        cmocka_unit_test(test_hazop_and_hidden_dangers_is_safety_inspection),
        cmocka_unit_test(test_permits_and_emissions_is_environmental_compliance),
        cmocka_unit_test(test_voc_online_monitoring_anomaly_is_environmental_compliance),
        cmocka_unit_test(test_plain_data_anomaly_is_data_monitoring),
        cmocka_unit_test(test_advice_questions_are_technical_consulting),
        cmocka_unit_test(test_courses_are_training),
        cmocka_unit_test(test_orders_and_deliveries_are_product_supply),
        cmocka_unit_test(test_complaint_words_win_over_the_subject_complained_about),
        cmocka_unit_test(test_does_not_meet_requirement_is_not_a_complaint),
        cmocka_unit_test(test_traditional_chinese_is_understood),
        cmocka_unit_test(test_nothing_matched_defaults_to_technical_consulting),
        cmocka_unit_test(test_subject_matches_weigh_double),
        cmocka_unit_test(test_english_is_case_insensitive_and_fullwidth_folds),
        cmocka_unit_test(test_english_words_match_whole_words_unless_starred),
        cmocka_unit_test(test_explosion_and_fire_are_level_1_critical_p1),
        cmocka_unit_test(test_leak_injury_release_shutdown_are_level_2_high),
        cmocka_unit_test(test_the_most_severe_matching_level_wins),
        cmocka_unit_test(test_a_unit_stop_is_level_3_medium),
        cmocka_unit_test(test_ignored_phrases_raise_no_emergency),
        cmocka_unit_test(test_explicit_emergency_flag_counts_as_a_match),
        cmocka_unit_test(test_routine_request_is_medium_single_p3),
        cmocka_unit_test(test_explicit_low_urgency_gives_p4),
        cmocka_unit_test(test_urgent_words_make_urgency_high),
        cmocka_unit_test(test_impact_words_widen_impact),
        cmocka_unit_test(test_shipped_matrix_gives_the_agreed_priorities),
        cmocka_unit_test(test_given_urgency_and_impact_are_used_as_given),
        cmocka_unit_test(test_an_emergency_is_never_downgraded_by_a_given_urgency),
        cmocka_unit_test(test_invalid_urgency_and_impact_hints_are_ignored),
        cmocka_unit_test(test_missing_matrix_cell_gets_the_default_priority),
        cmocka_unit_test(test_strategic_customer_is_raised_one_step),
        cmocka_unit_test(test_strategic_customer_never_goes_above_p1),
        cmocka_unit_test(test_requested_service_type_wins_over_keywords),
        cmocka_unit_test(test_invalid_requested_type_falls_back_to_keywords),
        cmocka_unit_test(test_service_type_codes),
        cmocka_unit_test(test_only_the_first_64k_of_text_is_read),
        cmocka_unit_test(test_invalid_utf8_in_ticket_text_is_harmless),
        cmocka_unit_test(test_null_arguments_are_refused),
        cmocka_unit_test(test_unknown_service_type_is_refused_naming_the_line),
        cmocka_unit_test(test_malformed_rules_are_refused_naming_the_line),
        cmocka_unit_test(test_oversized_lines_and_nul_bytes_are_refused),
        cmocka_unit_test(test_windows_line_endings_and_bom_are_accepted),
        cmocka_unit_test(test_equal_scores_go_to_the_type_whose_rule_comes_first),
        cmocka_unit_test(test_tier_lines_raise_the_priority_by_their_steps_never_above_p1),
        cmocka_unit_test(test_missing_rules_file_is_reported),
    };
    return cmocka_run_group_tests_name("classify", tests, s_setup, s_teardown);
}
