/*
 * test_metrics.c - what /metrics says: a family refreshed as a whole, counters
 * copied in, label values escaped, NaN spelled as the text format wants, and
 * histograms with their buckets.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "cs_metrics.h"

static int s_setup(void **state)
{
    (void)state;
    cs_metrics_reset();
    return 0;
}

/* The rendered text contains line (a whole line). */
static void s_has_line(const char *line)
{
    char *text = cs_metrics_render();
    assert_non_null(text);
    size_t n = strlen(line);
    int found = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == 0))
            found = 1;
    if (!found)
        fail_msg("no line \"%s\" in:\n%s", line, text);
    free(text);
}

static void test_a_family_set_as_a_whole_zeroes_the_groups_that_emptied(void **state)
{
    (void)state;
    cs_metric_declare("t_open", "gauge", "Open things.");
    const char *first[] = {"status=\"new\"", "status=\"queued\""};
    const double v1[] = {3, 2};
    cs_gauge_set_family("t_open", 2, first, v1);
    s_has_line("t_open{status=\"new\"} 3");
    s_has_line("t_open{status=\"queued\"} 2");
    /* the next refresh has no queued group: it reads 0, not its last value */
    const char *second[] = {"status=\"new\"", "status=\"assigned\""};
    const double v2[] = {1, 4};
    cs_gauge_set_family("t_open", 2, second, v2);
    s_has_line("t_open{status=\"new\"} 1");
    s_has_line("t_open{status=\"queued\"} 0");
    s_has_line("t_open{status=\"assigned\"} 4");
    /* an empty refresh: every group 0 */
    cs_gauge_set_family("t_open", 0, NULL, NULL);
    assert_true(cs_metric_value("t_open", "status=\"assigned\"") == 0);
    s_has_line("# TYPE t_open gauge");
}

static void test_another_family_is_left_alone(void **state)
{
    (void)state;
    cs_gauge_set("t_other", "status=\"new\"", 7);
    const char *l[] = {"status=\"new\""};
    const double v[] = {1};
    cs_gauge_set_family("t_open", 1, l, v);
    s_has_line("t_other{status=\"new\"} 7");
    s_has_line("t_open{status=\"new\"} 1");
}

static void test_a_counter_copied_in_takes_the_value(void **state)
{
    (void)state;
    cs_metric_declare("t_sessions_total", "counter", "Sessions.");
    cs_counter_set("t_sessions_total", "result=\"accepted\"", 5);
    cs_counter_set("t_sessions_total", "result=\"accepted\"", 9);
    s_has_line("# TYPE t_sessions_total counter");
    s_has_line("t_sessions_total{result=\"accepted\"} 9");
}

static void test_nan_and_infinities_are_spelled_as_the_text_format_wants(void **state)
{
    (void)state;
    cs_gauge_set("t_ratio", "", NAN);
    cs_gauge_set("t_up", "", INFINITY);
    cs_gauge_set("t_down", "", -INFINITY);
    s_has_line("t_ratio NaN");
    s_has_line("t_up +Inf");
    s_has_line("t_down -Inf");
}

static void test_label_values_are_escaped_and_cut_to_fit(void **state)
{
    (void)state;
    char out[32];
    cs_metric_label_value(out, sizeof(out), "a\"b\\c\nd");
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    cs_metric_label_value(out, 8, "abcdefghijkl");
    /* a character is taken while an escape pair and the NUL would still fit
       (n + 3 < 8): n = 0..4, five characters */
    assert_string_equal(out, "abcde");
    cs_metric_label_value(out, sizeof(out), NULL);
    assert_string_equal(out, "");
}

static void test_a_histogram_counts_into_every_bucket_at_or_above(void **state)
{
    (void)state;
    cs_metric_declare("t_seconds", "histogram", "Latency.");
    cs_histogram_observe("t_seconds", "outcome=\"commit\"", 0.003);
    cs_histogram_observe("t_seconds", "outcome=\"commit\"", 0.2);
    /* 0.003 s falls in le=0.005 and above; 0.2 s in le=0.25 and above */
    s_has_line("t_seconds_bucket{outcome=\"commit\",le=\"0.0025\"} 0");
    s_has_line("t_seconds_bucket{outcome=\"commit\",le=\"0.005\"} 1");
    s_has_line("t_seconds_bucket{outcome=\"commit\",le=\"0.1\"} 1");
    s_has_line("t_seconds_bucket{outcome=\"commit\",le=\"0.25\"} 2");
    s_has_line("t_seconds_bucket{outcome=\"commit\",le=\"+Inf\"} 2");
    s_has_line("t_seconds_count{outcome=\"commit\"} 2");
    s_has_line("t_seconds_sum{outcome=\"commit\"} 0.203");
}

static void test_a_gauge_is_due_at_once_then_after_its_interval(void **state)
{
    (void)state;
    int64_t next = 0;
    assert_int_equal(cs_gauge_due(&next), 1);
    assert_int_equal(cs_gauge_due(&next), 0);
    assert_true(next > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a_family_set_as_a_whole_zeroes_the_groups_that_emptied,
                               s_setup),
        cmocka_unit_test_setup(test_another_family_is_left_alone, s_setup),
        cmocka_unit_test_setup(test_a_counter_copied_in_takes_the_value, s_setup),
        cmocka_unit_test_setup(test_nan_and_infinities_are_spelled_as_the_text_format_wants,
                               s_setup),
        cmocka_unit_test_setup(test_label_values_are_escaped_and_cut_to_fit, s_setup),
        cmocka_unit_test_setup(test_a_histogram_counts_into_every_bucket_at_or_above, s_setup),
        cmocka_unit_test_setup(test_a_gauge_is_due_at_once_then_after_its_interval, s_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
