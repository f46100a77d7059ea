/*
 * test_keyring.c - survey link keys: the first configured key signs, every
 * listed key verifies (rotation), a withdrawn key's links stop working, and
 * a bad CS_SURVEY_LINK_KEYS is refused whole with a message that names the
 * item but never echoes key material.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "keyring.h"
#include "survey_link.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define INV "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"
#define NOW 1767225600LL

static int s_verify(survey_keyring_t *kr, const char *token)
{
    char id[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    return survey_link_verify(survey_keyring_lookup, kr, token, NOW, id, sizeof(id), err,
                              sizeof(err));
}

static void test_the_first_listed_key_signs_new_links(void **state)
{
    (void)state;
    char err[160];
    survey_keyring_t *kr = survey_keyring_new();
    assert_int_equal(survey_keyring_parse(kr, "k2:" KEY_B ", k1:" KEY_A, err, sizeof(err)), 0);
    assert_int_equal(survey_keyring_count(kr), 2);
    assert_string_equal(survey_keyring_signing_kid(kr), "k2");
    char *token = survey_keyring_sign(kr, INV, NOW + 86400);
    assert_non_null(token);
    assert_int_equal(s_verify(kr, token), 0);
    free(token);
    survey_keyring_destroy(&kr);
    assert_null(kr);
}

static void test_links_signed_with_the_old_key_work_while_it_is_listed(void **state)
{
    (void)state;
    char err[160];
    survey_keyring_t *old = survey_keyring_new(), *rotated = survey_keyring_new(),
                     *withdrawn = survey_keyring_new();
    assert_int_equal(survey_keyring_parse(old, "k1:" KEY_A, err, sizeof(err)), 0);
    assert_int_equal(survey_keyring_parse(rotated, "k2:" KEY_B ",k1:" KEY_A, err, sizeof(err)), 0);
    assert_int_equal(survey_keyring_parse(withdrawn, "k2:" KEY_B, err, sizeof(err)), 0);
    char *token = survey_keyring_sign(old, INV, NOW + 86400);
    assert_int_equal(s_verify(rotated, token), 0);
    assert_int_equal(s_verify(withdrawn, token), -1);
    free(token);
    survey_keyring_destroy(&old);
    survey_keyring_destroy(&rotated);
    survey_keyring_destroy(&withdrawn);
}

static void test_an_empty_keyring_signs_nothing(void **state)
{
    (void)state;
    survey_keyring_t *kr = survey_keyring_new();
    assert_null(survey_keyring_signing_kid(kr));
    assert_null(survey_keyring_sign(kr, INV, NOW));
    survey_keyring_destroy(&kr);
    survey_keyring_destroy(NULL);
}

static void test_a_bad_key_list_is_refused_whole_without_echoing_keys(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"", "item 1: expected kid:hexkey"},
        {"k1" KEY_A, "item 1: expected kid:hexkey"},
        {"k1:" KEY_A ",k2:0011", "item 2: key 'k2' must be 16..64 bytes in hex"},
        {"k1:" KEY_A ",k1:" KEY_B, "item 2: key id 'k1' given twice"},
        {"k 1:" KEY_A, "item 1: key id must be"},
        {":" KEY_A, "item 1: key id must be"},
        {"k1:" KEY_A "0", "item 1: key 'k1' must be"},
        {"k1:zz112233445566778899aabbccddeeff", "item 1: key 'k1' is not hexadecimal"},
        {"k1:" KEY_A ",", "item 2: expected kid:hexkey"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        survey_keyring_t *kr = survey_keyring_new();
        if (survey_keyring_parse(kr, bad[i].spec, err, sizeof(err)) != -1)
            fail_msg("accepted: \"%s\"", bad[i].spec);
        if (!strstr(err, bad[i].why))
            fail_msg("\"%s\": said \"%s\", expected \"%s\"", bad[i].spec, err, bad[i].why);
        assert_null(strstr(err, "00112233"));
        assert_null(strstr(err, "ffeeddcc"));
        assert_int_equal(survey_keyring_count(kr), 0);
        survey_keyring_destroy(&kr);
    }
}

static void test_a_key_added_alone_is_checked_like_a_listed_one(void **state)
{
    (void)state;
    char err[160];
    survey_keyring_t *kr = survey_keyring_new();
    assert_int_equal(survey_keyring_add(kr, "local-1", KEY_A, err, sizeof(err)), 0);
    assert_int_equal(survey_keyring_add(kr, "local-1", KEY_B, err, sizeof(err)), -1);
    assert_int_equal(survey_keyring_add(kr, NULL, KEY_B, err, sizeof(err)), -1);
    assert_int_equal(survey_keyring_add(kr, "k3", NULL, err, sizeof(err)), -1);
    assert_int_equal(survey_keyring_count(kr), 1);
    survey_keyring_destroy(&kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_first_listed_key_signs_new_links),
        cmocka_unit_test(test_links_signed_with_the_old_key_work_while_it_is_listed),
        cmocka_unit_test(test_an_empty_keyring_signs_nothing),
        cmocka_unit_test(test_a_bad_key_list_is_refused_whole_without_echoing_keys),
        cmocka_unit_test(test_a_key_added_alone_is_checked_like_a_listed_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
