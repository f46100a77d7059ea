/*
 * test_routing — who takes the next ticket: online, skilled, with room;
 * least loaded first; round robin among equals; nobody → the queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "routing.h"

static routing_agent_t s_agent(const char *login, const char *skills, int load, int capacity,
                               int64_t last_assigned_ms)
{
    routing_agent_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.login, sizeof(a.login), "%s", login);
    snprintf(a.skills, sizeof(a.skills), "%s", skills);
    snprintf(a.region, sizeof(a.region), "east");
    a.online = 1;
    a.load = load;
    a.capacity = capacity;
    a.last_assigned_ms = last_assigned_ms;
    return a;
}

static const char *s_pick(const routing_agent_t *agents, size_t n, const char *type)
{
    int i = routing_pick(agents, n, type);
    return i < 0 ? "queue" : agents[i].login;
}

static void test_skills_match_whole_service_type_codes(void **state)
{
    (void)state;
    assert_true(routing_has_skill("equipment_maintenance,safety_inspection", "safety_inspection"));
    assert_true(routing_has_skill("complaint", "complaint"));
    assert_false(routing_has_skill("training", "train"));
    assert_false(routing_has_skill("data_monitoring", "data"));
    assert_false(routing_has_skill("", "training"));
    assert_false(routing_has_skill("training", ""));
    assert_false(routing_has_skill(NULL, "training"));
}

static void test_the_least_loaded_skilled_agent_takes_the_ticket(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("wang.lei", "equipment_maintenance", 3, 6, 100),
        s_agent("zhang.wei", "equipment_maintenance,data_monitoring", 1, 6, 900),
        s_agent("sun.qiang", "equipment_maintenance", 2, 6, 50),
    };
    assert_string_equal(s_pick(desk, 3, "equipment_maintenance"), "zhang.wei");
}

static void test_an_agent_without_the_skill_never_gets_the_ticket(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("li.na", "technical_consulting", 0, 8, 0),
        s_agent("xu.li", "complaint", 5, 6, 0),
    };
    assert_string_equal(s_pick(desk, 2, "complaint"), "xu.li");
}

static void test_agents_away_or_offline_are_passed_over(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("wu.haoran", "training", 0, 4, 0),
        s_agent("li.na", "training", 7, 8, 0),
    };
    desk[0].online = 0;
    assert_string_equal(s_pick(desk, 2, "training"), "li.na");
}

static void test_an_agent_at_capacity_takes_no_more(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("liu.yang", "safety_inspection", 5, 5, 0),
        s_agent("wang.lei", "safety_inspection", 6, 6, 0),
    };
    assert_string_equal(s_pick(desk, 2, "safety_inspection"), "queue");
    desk[1].capacity = 7;
    assert_string_equal(s_pick(desk, 2, "safety_inspection"), "wang.lei");
}

static void test_nobody_skilled_means_the_ticket_is_queued(void **state)
{
    (void)state;
    routing_agent_t desk[] = {s_agent("huang.tao", "product_supply", 0, 10, 0)};
    assert_string_equal(s_pick(desk, 1, "environmental_compliance"), "queue");
    assert_string_equal(s_pick(desk, 0, "product_supply"), "queue");
}

static void test_equal_load_goes_to_whoever_waited_longest(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("chen.jing", "complaint", 2, 8, 5000),
        s_agent("zhou.qian", "complaint", 2, 8, 3000),
        s_agent("xu.li", "complaint", 2, 6, 4000),
    };
    assert_string_equal(s_pick(desk, 3, "complaint"), "zhou.qian");
}

static void test_never_assigned_counts_as_waited_longest(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("yang.fan", "process_optimisation", 0, 6, 1000),
        s_agent("sun.qiang", "process_optimisation", 0, 5, 0),
    };
    assert_string_equal(s_pick(desk, 2, "process_optimisation"), "sun.qiang");
}

/* A quiet desk with three free agents shares six tickets out in turn,
   two each, in the same order both rounds. */
static void test_a_quiet_desk_takes_turns_round_robin(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("chen.jing", "technical_consulting", 0, 8, 0),
        s_agent("li.na", "technical_consulting", 0, 8, 0),
        s_agent("huang.tao", "technical_consulting", 0, 10, 0),
    };
    const char *expected[] = {"chen.jing", "huang.tao", "li.na", "chen.jing", "huang.tao", "li.na"};
    int64_t clock = 1000;
    for (int k = 0; k < 6; k++) {
        int i = routing_pick(desk, 3, "technical_consulting");
        assert_true(i >= 0);
        assert_string_equal(desk[i].login, expected[k]);
        /* each resolves at once, so loads stay equal and only turns decide */
        desk[i].last_assigned_ms = clock++;
    }
}

static void test_load_beats_turn_order(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("zhao.min", "data_monitoring", 1, 6, 0),
        s_agent("zhang.wei", "data_monitoring", 0, 6, 99999),
    };
    assert_string_equal(s_pick(desk, 2, "data_monitoring"), "zhang.wei");
}

static void test_the_same_desk_always_gives_the_same_answer(void **state)
{
    (void)state;
    routing_agent_t desk[] = {
        s_agent("b.agent", "training", 0, 4, 0),
        s_agent("a.agent", "training", 0, 4, 0),
    };
    assert_string_equal(s_pick(desk, 2, "training"), "a.agent"); /* the login breaks ties */
}

static void test_presence_values(void **state)
{
    (void)state;
    assert_true(routing_presence_valid("available"));
    assert_true(routing_presence_valid("busy"));
    assert_true(routing_presence_valid("away"));
    assert_true(routing_presence_valid("offline"));
    assert_false(routing_presence_valid("online")); /* the API's alias, not a stored value */
    assert_false(routing_presence_valid("Available"));
    assert_false(routing_presence_valid(""));
    assert_false(routing_presence_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skills_match_whole_service_type_codes),
        cmocka_unit_test(test_the_least_loaded_skilled_agent_takes_the_ticket),
        cmocka_unit_test(test_an_agent_without_the_skill_never_gets_the_ticket),
        cmocka_unit_test(test_agents_away_or_offline_are_passed_over),
        cmocka_unit_test(test_an_agent_at_capacity_takes_no_more),
        cmocka_unit_test(test_nobody_skilled_means_the_ticket_is_queued),
        cmocka_unit_test(test_equal_load_goes_to_whoever_waited_longest),
        cmocka_unit_test(test_never_assigned_counts_as_waited_longest),
        cmocka_unit_test(test_a_quiet_desk_takes_turns_round_robin),
        cmocka_unit_test(test_load_beats_turn_order),
        cmocka_unit_test(test_the_same_desk_always_gives_the_same_answer),
        cmocka_unit_test(test_presence_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
