/*
 * test_survey_link.c - what a survey answer link guarantees: it names one
 * invitation, cannot be forged or edited, expires, is bound to the purpose
 * "survey-answer", and survives key rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "survey_link.h"

static const unsigned char s_key_old[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char s_key_new[32] = "fedcba9876543210fedcba9876543210";
#define NOW 1700000000
#define IN_A_WEEK (NOW + 7 * 24 * 3600)

/* The keys the service currently accepts, as its configuration would. */
typedef struct {
    const char *ids[2];
    const unsigned char *keys[2];
    size_t keylens[2];
} keyring_t;

static int s_lookup(void *ctx, const char *key_id, const unsigned char **key, size_t *keylen)
{
    keyring_t *ring = ctx;
    for (int i = 0; i < 2; i++) {
        if (ring->ids[i] && strcmp(ring->ids[i], key_id) == 0) {
            *key = ring->keys[i];
            *keylen = ring->keylens[i];
            return 0;
        }
    }
    return -1;
}

static keyring_t s_ring_old_and_new(void)
{
    keyring_t ring = {{"2024-01", "2024-07"}, {s_key_old, s_key_new}, {32, 32}};
    return ring;
}

static int s_verify(keyring_t *ring, const char *token, int64_t now, char *inv, char *err)
{
    return survey_link_verify(s_lookup, ring, token, now, inv, SURVEY_LINK_INVITATION_ID_MAX + 1,
                              err, 128);
}

static void test_signed_link_verifies_to_its_invitation(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "5f0c2a4e-9b1d-4c3e-8a7f-1234567890ab",
                                   IN_A_WEEK);
    (void)state;
    assert_non_null(token);
    assert_int_equal(s_verify(&ring, token, NOW, inv, err), 0);
    assert_string_equal(inv, "5f0c2a4e-9b1d-4c3e-8a7f-1234567890ab");
    assert_string_equal(err, "");
    free(token);
}

static void test_token_is_url_safe_without_padding(void **state)
{
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-1", IN_A_WEEK);
    (void)state;
    assert_non_null(token);
    assert_true(strlen(token) <= SURVEY_LINK_TOKEN_MAX);
    assert_int_equal(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_"),
                     strlen(token));
    free(token);
}

static void test_longest_ids_still_fit_the_token_limit(void **state)
{
    char key_id[SURVEY_LINK_KEY_ID_MAX + 1], inv[SURVEY_LINK_INVITATION_ID_MAX + 1];
    char out[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    keyring_t ring = {{key_id, NULL}, {s_key_new, NULL}, {32, 0}};
    char *token;
    (void)state;
    memset(key_id, 'k', sizeof(key_id) - 1);
    key_id[sizeof(key_id) - 1] = '\0';
    memset(inv, 'i', sizeof(inv) - 1);
    inv[sizeof(inv) - 1] = '\0';
    token = survey_link_sign(s_key_new, 32, key_id, inv, IN_A_WEEK);
    assert_non_null(token);
    assert_true(strlen(token) <= SURVEY_LINK_TOKEN_MAX);
    assert_int_equal(s_verify(&ring, token, NOW, out, err), 0);
    assert_string_equal(out, inv);
    free(token);
}

/* Changing any one character of the token must break it. */
static void test_every_single_character_change_is_refused(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-42", IN_A_WEEK);
    size_t len;
    (void)state;
    assert_non_null(token);
    len = strlen(token);
    for (size_t i = 0; i < len; i++) {
        char saved = token[i];
        token[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(s_verify(&ring, token, NOW, inv, err), -1);
        assert_string_equal(inv, "");
        token[i] = saved;
    }
    assert_int_equal(s_verify(&ring, token, NOW, inv, err), 0);
    free(token);
}

static void test_wrong_key_is_refused(void **state)
{
    /* the service thinks key "2024-07" is the old key */
    keyring_t ring = {{"2024-07", NULL}, {s_key_old, NULL}, {32, 0}};
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-1", IN_A_WEEK);
    (void)state;
    assert_int_equal(s_verify(&ring, token, NOW, inv, err), -1);
    assert_string_equal(err, "signature does not match");
    free(token);
}

static void test_unknown_key_id_is_refused(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2023-01", "inv-1", IN_A_WEEK);
    (void)state;
    assert_int_equal(s_verify(&ring, token, NOW, inv, err), -1);
    assert_string_equal(err, "unknown key id '2023-01'");
    free(token);
}

static void test_link_expires_at_its_expiry_second(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-7", IN_A_WEEK);
    (void)state;
    assert_int_equal(s_verify(&ring, token, IN_A_WEEK - 1, inv, err), 0);
    assert_int_equal(s_verify(&ring, token, IN_A_WEEK, inv, err), -2);
    assert_string_equal(err, "link expired");
    assert_string_equal(inv, "inv-7"); /* genuine, so the caller may log it */
    assert_int_equal(s_verify(&ring, token, IN_A_WEEK + 86400, inv, err), -2);
    free(token);
}

static void test_expired_forgery_is_called_forged_not_expired(void **state)
{
    keyring_t ring = {{"2024-07", NULL}, {s_key_old, NULL}, {32, 0}};
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-7", NOW - 10);
    (void)state;
    assert_int_equal(s_verify(&ring, token, NOW, inv, err), -1);
    assert_string_equal(inv, "");
    free(token);
}

static void test_rotated_keys_old_links_work_until_the_old_key_is_withdrawn(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *old_link = survey_link_sign(s_key_old, 32, "2024-01", "inv-old", IN_A_WEEK);
    char *new_link = survey_link_sign(s_key_new, 32, "2024-07", "inv-new", IN_A_WEEK);
    (void)state;
    assert_int_equal(s_verify(&ring, old_link, NOW, inv, err), 0);
    assert_string_equal(inv, "inv-old");
    assert_int_equal(s_verify(&ring, new_link, NOW, inv, err), 0);
    assert_string_equal(inv, "inv-new");

    ring.ids[0] = NULL; /* old key withdrawn */
    assert_int_equal(s_verify(&ring, old_link, NOW, inv, err), -1);
    assert_int_equal(s_verify(&ring, new_link, NOW, inv, err), 0);
    free(old_link);
    free(new_link);
}

static void test_garbage_tokens_are_refused(void **state)
{
    static const char *garbage[] = {
        "",
        "a",
        "!!!!",
        "====",
        "abc=",
        "AAAA",
        "AQEx",
        "with space",
        "ab+/cd",
        "%41%42",
        "\xe4\xbd\xa0\xe5\xa5\xbd",
        "AQFrAWk" /* version 1, key "k", invitation "i", then nothing */,
    };
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    (void)state;
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        assert_int_equal(s_verify(&ring, garbage[i], NOW, inv, err), -1);
    assert_int_equal(s_verify(&ring, NULL, NOW, inv, err), -1);
    assert_string_equal(err, "no token");
}

static void test_padded_token_is_refused(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128], padded[300];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-1", IN_A_WEEK);
    (void)state;
    snprintf(padded, sizeof(padded), "%s=", token);
    assert_int_equal(s_verify(&ring, padded, NOW, inv, err), -1);
    assert_string_equal(err, "token is not base64url");
    free(token);
}

static void test_oversized_token_is_refused_before_decoding(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *big = malloc(100000);
    (void)state;
    memset(big, 'A', 99999);
    big[99999] = '\0';
    assert_int_equal(s_verify(&ring, big, NOW, inv, err), -1);
    assert_string_equal(err, "token longer than 256 characters");
    free(big);
}

static void test_small_invitation_buffer_is_refused(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[4], err[128];
    char *token = survey_link_sign(s_key_new, 32, "2024-07", "inv-12345", IN_A_WEEK);
    (void)state;
    assert_int_equal(
        survey_link_verify(s_lookup, &ring, token, NOW, inv, sizeof(inv), err, sizeof(err)), -1);
    assert_string_equal(err, "invitation id buffer too small");
    free(token);
}

static void test_sign_refuses_weak_keys_and_unsafe_ids(void **state)
{
    char long_id[SURVEY_LINK_INVITATION_ID_MAX + 2];
    (void)state;
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_null(survey_link_sign(s_key_new, 15, "k", "inv-1", IN_A_WEEK));
    assert_null(survey_link_sign(NULL, 32, "k", "inv-1", IN_A_WEEK));
    assert_null(survey_link_sign(s_key_new, 32, "", "inv-1", IN_A_WEEK));
    assert_null(survey_link_sign(s_key_new, 32, "k", "", IN_A_WEEK));
    assert_null(survey_link_sign(s_key_new, 32, "k", "<script>", IN_A_WEEK));
    assert_null(survey_link_sign(s_key_new, 32, "k", "inv/../1", IN_A_WEEK));
    assert_null(survey_link_sign(s_key_new, 32, "k", long_id, IN_A_WEEK));
    assert_null(survey_link_sign(s_key_new, 32, "k", "inv-1", 0));
    assert_null(survey_link_sign(s_key_new, 32, NULL, "inv-1", IN_A_WEEK));
}

/* Build a token by hand from the layout documented in survey_link.h. */
static char *s_hand_made_token(const char *purpose, size_t purpose_len)
{
    unsigned char payload[128], msg[160], mac[32];
    unsigned int maclen;
    size_t n = 0;
    uint64_t expiry = IN_A_WEEK;
    char b64[256];
    char *out;

    payload[n++] = 1;
    payload[n++] = 7;
    memcpy(payload + n, "2024-07", 7), n += 7;
    payload[n++] = 5;
    memcpy(payload + n, "inv-9", 5), n += 5;
    for (int shift = 56; shift >= 0; shift -= 8)
        payload[n++] = (unsigned char)(expiry >> shift);
    memcpy(msg, purpose, purpose_len);
    memcpy(msg + purpose_len, payload, n);
    HMAC(EVP_sha256(), s_key_new, 32, msg, purpose_len + n, mac, &maclen);
    memcpy(payload + n, mac, 32), n += 32;

    EVP_EncodeBlock((unsigned char *)b64, payload, (int)n);
    out = strdup(b64);
    for (char *p = out; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    return out;
}

static void test_token_layout_is_as_documented(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *made = s_hand_made_token("survey-answer\0", 14);
    char *signed_token = survey_link_sign(s_key_new, 32, "2024-07", "inv-9", IN_A_WEEK);
    (void)state;
    assert_string_equal(made, signed_token);
    assert_int_equal(s_verify(&ring, made, NOW, inv, err), 0);
    free(made);
    free(signed_token);
}

static void test_mac_for_another_purpose_does_not_verify(void **state)
{
    keyring_t ring = s_ring_old_and_new();
    char inv[SURVEY_LINK_INVITATION_ID_MAX + 1], err[128];
    char *no_purpose = s_hand_made_token("", 0);
    char *other = s_hand_made_token("password-reset\0", 15);
    (void)state;
    assert_int_equal(s_verify(&ring, no_purpose, NOW, inv, err), -1);
    assert_string_equal(err, "signature does not match");
    assert_int_equal(s_verify(&ring, other, NOW, inv, err), -1);
    free(no_purpose);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_link_verifies_to_its_invitation),
        cmocka_unit_test(test_token_is_url_safe_without_padding),
        cmocka_unit_test(test_longest_ids_still_fit_the_token_limit),
        cmocka_unit_test(test_every_single_character_change_is_refused),
        cmocka_unit_test(test_wrong_key_is_refused),
        cmocka_unit_test(test_unknown_key_id_is_refused),
        cmocka_unit_test(test_link_expires_at_its_expiry_second),
        cmocka_unit_test(test_expired_forgery_is_called_forged_not_expired),
        cmocka_unit_test(test_rotated_keys_old_links_work_until_the_old_key_is_withdrawn),
        cmocka_unit_test(test_garbage_tokens_are_refused),
        cmocka_unit_test(test_padded_token_is_refused),
        cmocka_unit_test(test_oversized_token_is_refused_before_decoding),
        cmocka_unit_test(test_small_invitation_buffer_is_refused),
        cmocka_unit_test(test_sign_refuses_weak_keys_and_unsafe_ids),
        cmocka_unit_test(test_token_layout_is_as_documented),
        cmocka_unit_test(test_mac_for_another_purpose_does_not_verify),
    };
    return cmocka_run_group_tests_name("survey_link", tests, NULL, NULL);
}
