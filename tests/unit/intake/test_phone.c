/*
 * test_phone.c - caller numbers become E.164 whatever form a person or a
 * PBX wrote them in, so that a call finds its customer. Every expected
 * value is worked out by hand in the comment beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "phone.h"

static void s_ok(const char *text, const char *country, const char *want, const char *want_ext)
{
    char e164[PHONE_E164_MAX], ext[PHONE_EXT_MAX], err[200] = "";
    int rc = phone_e164(text, country, e164, ext, err, sizeof(err));
    if (rc != 0)
        fail_msg("\"%s\" refused: %s", text, err);
    if (strcmp(e164, want) != 0)
        fail_msg("\"%s\" gave %s, want %s", text, e164, want);
    if (strcmp(ext, want_ext) != 0)
        fail_msg("\"%s\" gave extension \"%s\", want \"%s\"", text, ext, want_ext);
}

static void s_refused(const char *text, const char *country, const char *why_contains)
{
    char e164[PHONE_E164_MAX], ext[PHONE_EXT_MAX], err[200] = "";
    int rc = phone_e164(text, country, e164, ext, err, sizeof(err));
    if (rc != -1)
        fail_msg("\"%s\" accepted as %s", text, e164);
    if (!strstr(err, why_contains))
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text, err, why_contains);
}

static void test_chinese_mobiles_in_every_spelling_are_one_number(void **state)
{
    (void)state;
    /* 11 digits starting 1[3-9]: a mobile, no trunk 0; +86 in front. */
    s_ok("13812345678", "86", "+8613812345678", "");
    s_ok("138-1234-5678", "86", "+8613812345678", "");
    s_ok("138 1234 5678", "86", "+8613812345678", "");
    /* "+86" then the 11 digits. */
    s_ok("+86 138 1234 5678", "86", "+8613812345678", "");
    /* "00" is the international prefix: 00 86 13812345678. */
    s_ok("008613812345678", "86", "+8613812345678", "");
    /* 13 digits 86 1…: the country written without + (PBXes do this). */
    s_ok("8613812345678", "86", "+8613812345678", "");
    s_ok("(+86) 199-0000-1111", "86", "+8619900001111", "");
}

static void test_chinese_landlines_drop_the_trunk_zero(void **state)
{
    (void)state;
    /* Beijing: 0 + area 10 + 8 digits → 86 10 12345678 (10 national digits). */
    s_ok("010-12345678", "86", "+861012345678", "");
    /* Shenzhen: 0 + area 755 + 8 digits → 86 755 87654321. */
    s_ok("(0755) 8765-4321", "86", "+8675587654321", "");
    /* Hangzhou with a 7-digit subscriber: 0571 8888888 → 86 571 8888888. */
    s_ok("0571-8888888", "86", "+865718888888", "");
    /* Shanghai: area 21; "(0)" after +86 is the trunk 0, not dialled. */
    s_ok("+86 (0)21 6123 4567", "86", "+862161234567", "");
    /* The same trunk 0 written without parentheses after +86. */
    s_ok("+86 021 6123 4567", "86", "+862161234567", "");
    s_ok("0086 21 6123 4567", "86", "+862161234567", "");
    /* 400 service numbers are dialled without a 0: 86 400 810 8888. */
    s_ok("400-810-8888", "86", "+864008108888", "");
}

static void test_extensions_are_split_off(void **state)
{
    (void)state;
    s_ok("010-12345678 ext 123", "86", "+861012345678", "123");
    s_ok("010-12345678 ext. 123", "86", "+861012345678", "123");
    s_ok("010-12345678x45", "86", "+861012345678", "45");
    s_ok("010-12345678#8001", "86", "+861012345678", "8001");
    s_ok("010-12345678转8001", "86", "+861012345678", "8001");
    s_ok("0755-87654321 分机 66", "86", "+8675587654321", "66");
}

static void test_foreign_numbers_keep_their_country(void **state)
{
    (void)state;
    /* London: +44 20 7946 0958 → 44 207 946 0958 (12 digits). */
    s_ok("+44 20 7946 0958", "86", "+442079460958", "");
    s_ok("0044 20 7946 0958", "86", "+442079460958", "");
    s_ok("+1 (415) 555-2671", "86", "+14155552671", "");
    /* With another default country the national trunk 0 goes: UK 020 → 44 20. */
    s_ok("020 7946 0958", "44", "+442079460958", "");
}

static void test_what_cannot_be_a_number_is_refused_with_the_reason(void **state)
{
    (void)state;
    s_refused("", "86", "no digits");
    s_refused("call me", "86", "only digits");
    s_refused("12345678", "86", "without its area code");
    s_refused("1381234567", "86", "Chinese mobile");  /* 10 digits 13x: one short */
    s_refused("12812345678", "86", "Chinese mobile"); /* 12x is no mobile prefix */
    s_refused("+86 138 1234 5678 9999", "86", "E.164 allows 7 to 15");
    s_refused("+0 123 456 789", "86", "no country code");
    s_refused("010-12345678 ext", "86", "extension without digits");
    s_refused("010-12345678 ext 123456789", "86", "extension longer");
    s_refused("13812345678+1", "86", "only digits");
    s_refused("0123456789012345678901234567890123456789012345678901234567890123456789", "86",
              "longer than");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chinese_mobiles_in_every_spelling_are_one_number),
        cmocka_unit_test(test_chinese_landlines_drop_the_trunk_zero),
        cmocka_unit_test(test_extensions_are_split_off),
        cmocka_unit_test(test_foreign_numbers_keep_their_country),
        cmocka_unit_test(test_what_cannot_be_a_number_is_refused_with_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
