/*
 * test_summary.c - the satisfaction figures, checked against a set of
 * answers whose figures were worked out by hand, and against a seeded
 * pseudo-random set fed in two ways that must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "summary.h"

#define EPS 1e-9
/* cmocka 1.1.5 has no assert_double_equal: compare within eps, say both values */
#define assert_double_equal(a, b, eps)                                                             \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                                               \
            fail_msg("%s is %.12g, expected %.12g", #a, a_, b_);                                   \
    } while (0)

/* The hand-computed set: 16 invitations sent, 10 answered.
 *   satisfaction  5 5 4 4 5 3 2 5 4 1   -> 7 satisfied (4-5), sum 38
 *   recommend    10 9 8 - 9 6 0 10 7 -  -> 8 given: promoters 10 9 9 10 = 4,
 *                                          passives 8 7 = 2, detractors 6 0 = 2,
 *                                          sum 59
 * so: response rate 10/16 = 0.625, satisfied share 7/10 = 0.7 (misses 0.9),
 * NPS = (4 - 2) / 8 * 100 = 25, average satisfaction 3.8, average
 * recommend 59 / 8 = 7.375. */
static const int s_hand[10][2] = {{5, 10}, {5, 9}, {4, 8},  {4, -1}, {5, 9},
                                  {3, 6},  {2, 0}, {5, 10}, {4, 7},  {1, -1}};

static void s_hand_tally(survey_tally_t *t)
{
    survey_tally_init(t, 16);
    for (int i = 0; i < 10; i++)
        survey_tally_add(t, s_hand[i][0], s_hand[i][1], 1);
}

static void test_the_hand_computed_set_gives_the_figures_worked_out_on_paper(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    s_hand_tally(&t);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_int_equal(s.sent, 16);
    assert_int_equal(s.answered, 10);
    assert_true(s.has_response_rate);
    assert_double_equal(s.response_rate, 0.625, EPS);
    assert_true(s.has_satisfied_share);
    assert_double_equal(s.satisfied_share, 0.7, EPS);
    assert_double_equal(s.target, 0.9, EPS);
    assert_false(s.meets_target);
    assert_true(s.has_nps);
    assert_double_equal(s.nps, 25.0, EPS);
    assert_double_equal(s.avg_satisfaction, 3.8, EPS);
    assert_double_equal(s.avg_recommend, 7.375, EPS);
    assert_int_equal(t.promoters, 4);
    assert_int_equal(t.passives, 2);
    assert_int_equal(t.detractors, 2);
    assert_int_equal(t.recommend_answers, 8);
}

static void test_nine_satisfied_of_ten_meets_the_ninety_percent_target(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 10);
    survey_tally_add(&t, 5, -1, 6);
    survey_tally_add(&t, 4, -1, 3);
    survey_tally_add(&t, 3, -1, 1);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_double_equal(s.satisfied_share, 0.9, EPS);
    assert_true(s.meets_target);
    /* and 27 of 30, where floating point could round either way */
    survey_tally_init(&t, 30);
    survey_tally_add(&t, 4, -1, 27);
    survey_tally_add(&t, 2, -1, 3);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_true(s.meets_target);
}

static void test_eight_satisfied_of_nine_misses_the_target(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 9);
    survey_tally_add(&t, 5, 10, 8);
    survey_tally_add(&t, 3, 8, 1);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_double_equal(s.satisfied_share, 8.0 / 9.0, EPS);
    assert_false(s.meets_target);
}

static void test_satisfaction_three_is_not_satisfied(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 2);
    survey_tally_add(&t, 3, -1, 1);
    survey_tally_add(&t, 4, -1, 1);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_double_equal(s.satisfied_share, 0.5, EPS);
}

static void test_nps_counts_only_answers_that_gave_a_recommend_score(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 5);
    survey_tally_add(&t, 5, 9, 1);  /* promoter */
    survey_tally_add(&t, 1, -1, 3); /* no score: not in NPS */
    survey_tally_add(&t, 4, 7, 1);  /* passive */
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_double_equal(s.nps, 50.0, EPS);
    assert_double_equal(s.avg_recommend, 8.0, EPS);
    assert_double_equal(s.avg_satisfaction, (5 + 3 + 4) / 5.0, EPS);
}

static void test_nps_runs_from_minus_100_to_100(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 3);
    survey_tally_add(&t, 2, 6, 3);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_double_equal(s.nps, -100.0, EPS);
    survey_tally_init(&t, 3);
    survey_tally_add(&t, 5, 10, 3);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_double_equal(s.nps, 100.0, EPS);
}

static void
test_without_answers_the_ratios_are_not_available_and_the_target_is_not_met(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 4);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_true(s.has_response_rate);
    assert_double_equal(s.response_rate, 0.0, EPS);
    assert_false(s.has_satisfied_share);
    assert_false(s.has_nps);
    assert_false(s.has_avg_satisfaction);
    assert_false(s.has_avg_recommend);
    assert_false(s.meets_target);
    survey_tally_init(&t, 0);
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_false(s.has_response_rate);
}

static void test_scores_out_of_range_are_set_aside_not_counted(void **state)
{
    (void)state;
    survey_tally_t t;
    s_hand_tally(&t);
    survey_tally_add(&t, 0, 5, 1);
    survey_tally_add(&t, 6, 5, 1);
    survey_tally_add(&t, 5, 11, 1);
    survey_tally_add(&t, 5, 5, 0);
    survey_tally_add(&t, 5, 5, -3);
    assert_int_equal(t.rejected, 3);
    assert_int_equal(t.answered, 10);
    assert_int_equal(t.satisfied, 7);
}

/* A seeded set of 5,000 answers fed one by one and as GROUP BY counts must
   give identical figures, all within their ranges. */
static uint32_t s_seed = 20260101;
static uint32_t s_next(void)
{
    s_seed = s_seed * 1664525u + 1013904223u;
    return s_seed >> 8;
}

static void test_a_seeded_set_gives_the_same_figures_one_by_one_and_grouped(void **state)
{
    (void)state;
    int64_t grid[6][12] = {{0}}; /* [satisfaction][recommend + 1] */
    survey_tally_t one, grouped;
    survey_summary_t a, b;
    survey_tally_init(&one, 7000);
    survey_tally_init(&grouped, 7000);
    int64_t satisfied = 0, promoters = 0, detractors = 0, scored = 0;
    for (int i = 0; i < 5000; i++) {
        int sat = 1 + (int)(s_next() % 5);
        int rec = (int)(s_next() % 12) - 1; /* -1 = not given */
        survey_tally_add(&one, sat, rec, 1);
        grid[sat][rec + 1]++;
        satisfied += sat >= 4;
        if (rec >= 0) {
            scored++;
            promoters += rec >= 9;
            detractors += rec <= 6;
        }
    }
    for (int sat = 1; sat <= 5; sat++)
        for (int rec = -1; rec <= 10; rec++)
            survey_tally_add(&grouped, sat, rec, grid[sat][rec + 1]);
    survey_summary_compute(&one, SURVEY_SATISFIED_TARGET, &a);
    survey_summary_compute(&grouped, SURVEY_SATISFIED_TARGET, &b);
    assert_int_equal(a.answered, 5000);
    assert_double_equal(a.response_rate, 5000.0 / 7000.0, EPS);
    assert_double_equal(a.satisfied_share, (double)satisfied / 5000.0, EPS);
    assert_double_equal(a.nps, 100.0 * (double)(promoters - detractors) / (double)scored, EPS);
    assert_double_equal(a.satisfied_share, b.satisfied_share, EPS);
    assert_double_equal(a.nps, b.nps, EPS);
    assert_double_equal(a.avg_satisfaction, b.avg_satisfaction, EPS);
    assert_double_equal(a.avg_recommend, b.avg_recommend, EPS);
    assert_true(a.avg_satisfaction >= 1 && a.avg_satisfaction <= 5);
    assert_true(a.nps >= -100 && a.nps <= 100);
}

static void test_low_scores_are_one_and_two(void **state)
{
    (void)state;
    assert_false(survey_is_low_score(0));
    assert_true(survey_is_low_score(1));
    assert_true(survey_is_low_score(2));
    assert_false(survey_is_low_score(3));
    assert_false(survey_is_low_score(5));
}

static void test_a_low_score_is_satisfaction_two_or_less_or_a_detractor_who_complains(void **state)
{
    (void)state;
    assert_string_equal(survey_low_score_reason(2, 10, ""), "satisfaction");
    assert_string_equal(survey_low_score_reason(1, -1, NULL), "satisfaction");
    assert_string_equal(survey_low_score_reason(4, 6, "工程师响应太慢"), "comment");
    assert_string_equal(survey_low_score_reason(3, 0, "We will complain to your manager"),
                        "comment");
    assert_null(survey_low_score_reason(4, 7, "响应太慢"));         /* a passive: not a detractor */
    assert_null(survey_low_score_reason(4, -1, "太慢了"));          /* no recommend score given */
    assert_null(survey_low_score_reason(3, 5, "总体还行，差不多")); /* no complaint word */
    assert_null(survey_low_score_reason(5, 10, "投诉处理得很好"));  /* a promoter */
}

static void test_complaint_words_in_chinese_and_english(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "我要投诉",         "对结果不满",         "响应很慢",        "处理拖延了三天",
        "客服推诿",         "回答敷衍",           "非常失望",        "服务态度差",
        "态度不好",         "问题没有解决",       "不专业",          "再也不用了",
        "COMPLAINT filed",  "I complained twice", "terrible",        "Awful service",
        "poorly done",      "too slow",           "Unacceptable!",   "disappointed",
        "rude engineer",    "worst ever",         "useless",         "unprofessional",
        "still unresolved", "never again",        "we were ignored",
    };
    static const char *const no[] = {
        "很好", "差不多", "满意", "great, thanks", "spoor of a fox", "", "ok",
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
        if (!survey_has_complaint_word(yes[i]))
            fail_msg("no complaint word found in \"%s\"", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
        if (survey_has_complaint_word(no[i]))
            fail_msg("a complaint word found in \"%s\"", no[i]);
    /* English words count at a word's start: "slowdown" does, "spoor" does not */
    assert_true(survey_has_complaint_word("the slowdown hurt us"));
    assert_false(survey_has_complaint_word(NULL));
}

static void test_speed_and_professionalism_average_over_the_answers_that_gave_them(void **state)
{
    (void)state;
    survey_tally_t t;
    survey_summary_t s;
    survey_tally_init(&t, 4);
    survey_tally_add(&t, 4, 8, 3);
    /* 3 answers; speed given by two (5 and 2: mean 3.5), professionalism by none */
    t.speed_answers = 2;
    t.speed_sum = 7;
    survey_summary_compute(&t, SURVEY_SATISFIED_TARGET, &s);
    assert_true(s.has_avg_speed);
    assert_true(s.avg_speed > 3.4999 && s.avg_speed < 3.5001);
    assert_false(s.has_avg_professionalism);
}

static void test_period_bounds_are_dates_utc_times_or_milliseconds(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(survey_parse_time("2026-01-01", &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(survey_parse_time("2026-01-01T08:00:00Z", &ms), 0);
    assert_int_equal(ms, 1767225600000LL + 8 * 3600000LL);
    assert_int_equal(survey_parse_time("2026-01-01T08:00:00.250+08:00", &ms), 0);
    assert_int_equal(ms, 1767225600000LL + 250);
    assert_int_equal(survey_parse_time("2024-02-29", &ms), 0);
    assert_int_equal(ms, 1709164800000LL);
    assert_int_equal(survey_parse_time("1767225600000", &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
}

static void test_period_bounds_that_are_not_times_are_refused(void **state)
{
    (void)state;
    int64_t ms;
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "2026-13-01",
                                      "2026-02-30",
                                      "2025-02-29",
                                      "2026-01-01T",
                                      "2026-01-01T25:00:00Z",
                                      "2026-01-01T08:00:00",
                                      "2026-01-01T08:00Z",
                                      "2026-01-01 08:00:00Z",
                                      "2026-1-1",
                                      "1e12",
                                      "-5",
                                      "99999999999999999999",
                                      "2026-01-01T08:00:00.Z",
                                      "2026-01-01T08:00:00+8",
                                      "2026-01-01xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    assert_int_equal(survey_parse_time(NULL, &ms), -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (survey_parse_time(bad[i], &ms) != -1)
            fail_msg("accepted as a time: \"%s\"", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_hand_computed_set_gives_the_figures_worked_out_on_paper),
        cmocka_unit_test(test_nine_satisfied_of_ten_meets_the_ninety_percent_target),
        cmocka_unit_test(test_eight_satisfied_of_nine_misses_the_target),
        cmocka_unit_test(test_satisfaction_three_is_not_satisfied),
        cmocka_unit_test(test_nps_counts_only_answers_that_gave_a_recommend_score),
        cmocka_unit_test(test_nps_runs_from_minus_100_to_100),
        cmocka_unit_test(
            test_without_answers_the_ratios_are_not_available_and_the_target_is_not_met),
        cmocka_unit_test(test_scores_out_of_range_are_set_aside_not_counted),
        cmocka_unit_test(test_a_seeded_set_gives_the_same_figures_one_by_one_and_grouped),
        cmocka_unit_test(test_low_scores_are_one_and_two),
        cmocka_unit_test(test_a_low_score_is_satisfaction_two_or_less_or_a_detractor_who_complains),
        cmocka_unit_test(test_complaint_words_in_chinese_and_english),
        cmocka_unit_test(test_speed_and_professionalism_average_over_the_answers_that_gave_them),
        cmocka_unit_test(test_period_bounds_are_dates_utc_times_or_milliseconds),
        cmocka_unit_test(test_period_bounds_that_are_not_times_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
