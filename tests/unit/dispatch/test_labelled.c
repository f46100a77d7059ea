/*
 * test_labelled — the shipped rules against a labelled set of requests
 * (tests/data/dispatch/labelled.tsv: 114 requests written by hand for issue
 * 5, Chinese and English, labelled with what the service desk would decide).
 *
 * Prints the share classified right, per service type and in all, and every
 * miss, so that an edit of the rules file shows what it gained and lost. The
 * floors asserted are below what the rules reach today (see the figures the
 * test prints) and are justified at their definition.
 *
 * Honesty note: the rules v1 got 100 of 114 (87.7 %) right on this set when
 * it was written; rules v2 added general phrases for what it missed
 * (incident words for a type, fire-safety installations, lightning
 * protection, planned stops as non-emergencies) and gets 109 of 114. A set
 * the rules were tuned on flatters them, hence a floor well below that.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

#define RULES_PATH "services/dispatch/rules/classify.rules"
#define LABELLED_PATH "tests/data/dispatch/labelled.tsv"

/* Service type: 85 %. Keyword rules cannot read intent, and the set holds
   honest hard cases (a noise problem that "neighbours complained about", a
   safety course that is training, not an inspection); a routed ticket that
   lands on the wrong team costs one transfer, not a lost request. Below
   85 % more than one ticket in seven would need one, which the desk would
   notice: that is the regression this floor guards. */
#define TYPE_FLOOR 0.85
/* Emergencies: every labelled incident must be recognised as one (level
   > 0): a missed fire is the worst error the classifier can make. False
   alarms page people at night, so at most 3 of the ~100 calm requests (3 %)
   may raise one: the set holds three the words cannot tell apart (a
   complaint about a past shutdown, in each language, and a discharge "over
   the limit", which the rules file deliberately treats as an environmental
   release). */
#define FALSE_ALARMS_MAX 3

typedef struct {
    int total, right;
} tally_t;

static const char *const s_types[] = {
    "equipment_maintenance",    "process_optimisation", "safety_inspection",
    "environmental_compliance", "technical_consulting", "training",
    "data_monitoring",          "product_supply",       "complaint"};
#define NTYPES (sizeof(s_types) / sizeof(s_types[0]))

static int s_type_index(const char *t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(s_types[i], t) == 0)
            return (int)i;
    return -1;
}

static void test_the_rules_classify_the_labelled_set(void **state)
{
    (void)state;
    char err[256] = "";
    classify_rules_t *r = classify_rules_load(RULES_PATH, err, sizeof(err));
    if (!r)
        fail_msg("rules: %s", err);
    FILE *f = fopen(LABELLED_PATH, "r");
    if (!f)
        fail_msg("cannot open %s (tests run from the repository root)", LABELLED_PATH);
    char line[4096];
    tally_t all = {0}, by_type[NTYPES] = {{0}};
    int incidents = 0, incidents_seen = 0, calm = 0, false_alarms = 0, lineno = 0, zh = 0, en = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!*line || *line == '#')
            continue;
        char *save = NULL;
        char *type = strtok_r(line, "\t", &save);
        char *level = strtok_r(NULL, "\t", &save);
        char *subject = strtok_r(NULL, "\t", &save);
        char *text = strtok_r(NULL, "\t", &save);
        if (!type || !level || !subject || !text || s_type_index(type) < 0)
            fail_msg("%s:%d: expected <type> <level> <subject> <text>", LABELLED_PATH, lineno);
        /* a request with any byte >= 0x80 in its subject is counted as Chinese */
        int chinese = 0;
        for (const unsigned char *c = (const unsigned char *)subject; *c; c++)
            chinese |= *c >= 0x80;
        chinese ? zh++ : en++;
        classify_input_t in = {.subject = subject, .text = text};
        classify_result_t out;
        assert_int_equal(classify_ticket(r, &in, &out), 0);
        int ti = s_type_index(type);
        int ok = strcmp(out.service_type, type) == 0;
        all.total++;
        all.right += ok;
        by_type[ti].total++;
        by_type[ti].right += ok;
        if (!ok)
            printf("  miss line %d: %s -> %s (rule %s): %s\n", lineno, type, out.service_type,
                   out.rule_id, subject);
        if (strcmp(level, "-") != 0) {
            int want = atoi(level);
            if (want > 0) {
                incidents++;
                incidents_seen += out.emergency_level > 0;
                if (out.emergency_level == 0)
                    printf("  missed incident line %d: %s\n", lineno, subject);
            } else {
                calm++;
                false_alarms += out.emergency_level > 0;
                if (out.emergency_level > 0)
                    printf("  false alarm line %d (level %d, rule %s): %s\n", lineno,
                           out.emergency_level, out.emergency_rule_id, subject);
            }
        }
    }
    fclose(f);
    for (size_t i = 0; i < NTYPES; i++)
        printf("  %-26s %2d/%2d\n", s_types[i], by_type[i].right, by_type[i].total);
    double share = all.total ? (double)all.right / all.total : 0;
    printf("classified right: %d of %d requests (%.1f %%; %d Chinese, %d English);"
           " incidents recognised %d of %d; false alarms %d of %d\n",
           all.right, all.total, 100.0 * share, zh, en, incidents_seen, incidents, false_alarms,
           calm);
    assert_true(all.total >= 100);
    assert_true(zh >= 40 && en >= 40);
    assert_true(share >= TYPE_FLOOR);
    assert_int_equal(incidents_seen, incidents);
    assert_true(false_alarms <= FALSE_ALARMS_MAX);
    classify_rules_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_rules_classify_the_labelled_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
