/*
 * test_channels — the pure rules behind SMS/voice alerts and outbound webhooks:
 * gateway body templates and their escaping, the alert channel list, how an HTTP answer
 * is classified for retry, which event types a subscriber may choose, the signature a
 * receiver checks, and the JSON an event becomes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../../services/notify/alert.h"
#include "../../../services/notify/gateway.h"
#include "../../../services/notify/http_out.h"
#include "../../../services/notify/webhook.h"

/* ---- gateway ------------------------------------------------------------------------ */

static void test_json_body_escapes_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    char *body = gateway_render("{\"to\":\"{{to}}\",\"text\":\"{{text}}\",\"id\":\"{{id}}\"}",
                                GATEWAY_ESCAPE_JSON, "+8613800138000",
                                "[CS-2026-000123] 一级紧急事件：\"E-102\" \\ 泄漏\n", "abc",
                                "CS-2026-000123", "sms");
    assert_non_null(body);
    assert_string_equal(body, "{\"to\":\"+8613800138000\",\"text\":\"[CS-2026-000123] "
                              "一级紧急事件：\\\"E-102\\\" \\\\ 泄漏\\u000a\",\"id\":\"abc\"}");
    free(body);
}

static void test_form_body_percent_encodes_every_value(void **state)
{
    (void)state;
    char *body = gateway_render("to={{to}}&msg={{text}}&ch={{channel}}", GATEWAY_ESCAPE_FORM,
                                "+8613800138000", "a b&c=中", "id", "T", "voice");
    assert_non_null(body);
    /* "中" is E4 B8 AD in UTF-8 */
    assert_string_equal(body, "to=%2B8613800138000&msg=a%20b%26c%3D%E4%B8%AD&ch=voice");
    free(body);
}

static void test_body_template_with_an_unknown_placeholder_is_refused(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(
        gateway_check_template("{\"to\":\"{{to}}\",\"t\":\"{{ticket_no}}\"}", err, sizeof(err)), 0);
    assert_int_equal(gateway_check_template("{\"to\":\"{{phone}}\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "{{phone}}"));
    assert_int_equal(gateway_check_template("{{to", err, sizeof(err)), -1);
    assert_int_equal(gateway_check_template("", err, sizeof(err)), -1);
}

static void test_body_larger_than_the_limit_is_not_rendered(void **state)
{
    (void)state;
    char *big = malloc(GATEWAY_BODY_MAX + 1);
    memset(big, 'x', GATEWAY_BODY_MAX);
    big[GATEWAY_BODY_MAX] = '\0';
    assert_null(gateway_render("{{text}}", GATEWAY_ESCAPE_NONE, "+1", big, "i", "t", "sms"));
    free(big);
}

static void test_content_type_chooses_the_escaping(void **state)
{
    (void)state;
    assert_int_equal(gateway_escape_for("application/json; charset=utf-8"), GATEWAY_ESCAPE_JSON);
    assert_int_equal(gateway_escape_for("application/x-www-form-urlencoded"), GATEWAY_ESCAPE_FORM);
    assert_int_equal(gateway_escape_for("text/plain"), GATEWAY_ESCAPE_NONE);
}

/* ---- alerts and retries --------------------------------------------------------------- */

static void test_escalation_channel_list_is_parsed_strictly(void **state)
{
    (void)state;
    bool e, s, v;
    assert_int_equal(alert_parse_channels("email,sms", &e, &s, &v), 0);
    assert_true(e && s && !v);
    assert_int_equal(alert_parse_channels(" voice ", &e, &s, &v), 0);
    assert_true(!e && !s && v);
    assert_int_equal(alert_parse_channels("email,fax", &e, &s, &v), -1);
    assert_int_equal(alert_parse_channels("", &e, &s, &v), -1);
    assert_int_equal(alert_parse_channels(",,", &e, &s, &v), -1);
}

static void test_http_answers_are_retried_only_when_retrying_can_help(void **state)
{
    (void)state;
    assert_int_equal(http_out_classify(200), HTTP_OUT_SENT);
    assert_int_equal(http_out_classify(204), HTTP_OUT_SENT);
    assert_int_equal(http_out_classify(0), HTTP_OUT_TEMPORARY); /* no answer */
    assert_int_equal(http_out_classify(503), HTTP_OUT_TEMPORARY);
    assert_int_equal(http_out_classify(429), HTTP_OUT_TEMPORARY); /* slow down */
    assert_int_equal(http_out_classify(408), HTTP_OUT_TEMPORARY);
    assert_int_equal(http_out_classify(400), HTTP_OUT_PERMANENT);
    assert_int_equal(http_out_classify(401), HTTP_OUT_PERMANENT);
    assert_int_equal(http_out_classify(302), HTTP_OUT_PERMANENT); /* redirects not followed */
}

/* ---- webhooks ------------------------------------------------------------------------- */

static void test_subscribers_choose_exact_types_families_or_everything(void **state)
{
    (void)state;
    assert_true(webhook_pattern_valid("dispatch.ticket.escalated"));
    assert_true(webhook_pattern_valid("dispatch.ticket.*"));
    assert_true(webhook_pattern_valid("notification.*"));
    assert_true(webhook_pattern_valid("*"));
    assert_false(webhook_pattern_valid("dispatch.ticket.exploded"));
    assert_false(webhook_pattern_valid("sla.*")); /* notify does not read sla */
    assert_false(webhook_pattern_valid(""));
    assert_false(webhook_pattern_valid("dispatch.*.escalated"));
    assert_true(webhook_pattern_matches("dispatch.ticket.*", "dispatch.ticket.escalated"));
    assert_false(webhook_pattern_matches("dispatch.ticket.*", "dispatch.tickets.x"));
    assert_false(webhook_pattern_matches("dispatch.ticket.accepted", "dispatch.ticket.assigned"));
}

static void test_signature_is_hmac_sha256_of_timestamp_dot_body(void **state)
{
    (void)state;
    char sig[80];
    /* Worked out independently with Python:
     *   hmac.new(b"whsec-test-0123456789", b'1767225600.{"a":1}', hashlib.sha256).hexdigest() */
    assert_int_equal(
        webhook_signature("whsec-test-0123456789", 1767225600, "{\"a\":1}", 7, sig, sizeof(sig)),
        0);
    assert_string_equal(sig, "v1=bf8a289966db450aba057a631f4a7664f9315b54ae97f4a839b691b7231cdd70");
    /* a different timestamp signs differently: a replayed old request does not verify */
    char other[80];
    webhook_signature("whsec-test-0123456789", 1767225601, "{\"a\":1}", 7, other, sizeof(other));
    assert_string_not_equal(sig, other);
}

static void test_an_event_becomes_json_field_by_field(void **state)
{
    (void)state;
    Cs__TicketFacts f = CS__TICKET_FACTS__INIT;
    f.number = "CS-2026-000123";
    f.customer_name = "李伟";
    f.emergency_level = 1;
    f.priority = "P1";
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = &f;
    te.escalated_to = "chen.gang";
    te.to_customer = 1;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.event_id = "0b9f1c2e-7a51-4d55-9c1c-2d1f6b7f8a90";
    env.type = "dispatch.ticket.escalated";
    env.stream = "dispatch-0";
    env.sequence = 42;
    env.occurred_at_ms = 1767225600123;
    env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    env.ticket_event = &te;
    json_t *j = webhook_event_json(&env);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event_type")),
                        "dispatch.ticket.escalated");
    assert_int_equal(json_integer_value(json_object_get(j, "sequence")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "occurred_at_ms")), 1767225600123);
    json_t *data = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(data, "escalated_to")), "chen.gang");
    assert_true(json_is_true(json_object_get(data, "to_customer")));
    json_t *facts = json_object_get(data, "facts");
    assert_string_equal(json_string_value(json_object_get(facts, "number")), "CS-2026-000123");
    assert_string_equal(json_string_value(json_object_get(facts, "customer_name")), "李伟");
    assert_int_equal(json_integer_value(json_object_get(facts, "emergency_level")), 1);
    assert_string_equal(json_string_value(json_object_get(facts, "team")), ""); /* unset */
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_body_escapes_quotes_backslashes_and_control_characters),
        cmocka_unit_test(test_form_body_percent_encodes_every_value),
        cmocka_unit_test(test_body_template_with_an_unknown_placeholder_is_refused),
        cmocka_unit_test(test_body_larger_than_the_limit_is_not_rendered),
        cmocka_unit_test(test_content_type_chooses_the_escaping),
        cmocka_unit_test(test_escalation_channel_list_is_parsed_strictly),
        cmocka_unit_test(test_http_answers_are_retried_only_when_retrying_can_help),
        cmocka_unit_test(test_subscribers_choose_exact_types_families_or_everything),
        cmocka_unit_test(test_signature_is_hmac_sha256_of_timestamp_dot_body),
        cmocka_unit_test(test_an_event_becomes_json_field_by_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
