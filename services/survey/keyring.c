/*
 * keyring.c - survey link keys (see keyring.h).
 */
#include "keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "survey_link.h"

typedef struct {
    char kid[SURVEY_LINK_KEY_ID_MAX + 1];
    unsigned char key[SURVEY_KEYRING_KEY_MAX];
    size_t len;
} link_key_t;

struct survey_keyring {
    link_key_t keys[SURVEY_KEYRING_MAX];
    size_t count;
};

survey_keyring_t *survey_keyring_new(void)
{
    return calloc(1, sizeof(survey_keyring_t));
}

void survey_keyring_destroy(survey_keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    OPENSSL_cleanse(*self_p, sizeof(**self_p));
    free(*self_p);
    *self_p = NULL;
}

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int s_kid_ok(const char *kid, size_t n)
{
    if (n == 0 || n > SURVEY_LINK_KEY_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Add kid (klen bytes) with the key in hex (hlen chars). */
static int s_add(survey_keyring_t *self, const char *kid, size_t klen, const char *hex, size_t hlen,
                 char *err, size_t errlen)
{
    if (!s_kid_ok(kid, klen)) {
        snprintf(err, errlen, "key id must be 1..%d of A-Z a-z 0-9 . _ -", SURVEY_LINK_KEY_ID_MAX);
        return -1;
    }
    for (size_t i = 0; i < self->count; i++)
        if (strlen(self->keys[i].kid) == klen && memcmp(self->keys[i].kid, kid, klen) == 0) {
            snprintf(err, errlen, "key id '%.*s' given twice", (int)klen, kid);
            return -1;
        }
    if (self->count == SURVEY_KEYRING_MAX) {
        snprintf(err, errlen, "at most %d link keys", SURVEY_KEYRING_MAX);
        return -1;
    }
    if (hlen % 2 || hlen / 2 < SURVEY_LINK_KEY_MIN || hlen / 2 > SURVEY_KEYRING_KEY_MAX) {
        snprintf(err, errlen, "key '%.*s' must be %d..%d bytes in hex", (int)klen, kid,
                 SURVEY_LINK_KEY_MIN, SURVEY_KEYRING_KEY_MAX);
        return -1;
    }
    link_key_t *k = &self->keys[self->count];
    for (size_t i = 0; i < hlen / 2; i++) {
        int hi = s_hex(hex[2 * i]), lo = s_hex(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(k, sizeof(*k));
            snprintf(err, errlen, "key '%.*s' is not hexadecimal", (int)klen, kid);
            return -1;
        }
        k->key[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(k->kid, kid, klen);
    k->kid[klen] = '\0';
    k->len = hlen / 2;
    self->count++;
    return 0;
}

int survey_keyring_add(survey_keyring_t *self, const char *kid, const char *hex, char *err,
                       size_t errlen)
{
    return s_add(self, kid, kid ? strlen(kid) : 0, hex, hex ? strlen(hex) : 0, err, errlen);
}

static void s_trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int survey_keyring_parse(survey_keyring_t *self, const char *spec, char *err, size_t errlen)
{
    size_t before = self->count;
    const char *p = spec ? spec : "";
    int item = 0;
    for (;;) {
        item++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        char why[128];
        if (!colon) {
            snprintf(err, errlen, "CS_SURVEY_LINK_KEYS item %d: expected kid:hexkey", item);
            goto out_undo;
        }
        const char *kid = p, *hex = colon + 1;
        size_t klen = (size_t)(colon - p), hlen = n - klen - 1;
        s_trim(&kid, &klen);
        s_trim(&hex, &hlen);
        if (s_add(self, kid, klen, hex, hlen, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "CS_SURVEY_LINK_KEYS item %d: %s", item, why);
            goto out_undo;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
out_undo:
    OPENSSL_cleanse(&self->keys[before], (self->count - before) * sizeof(link_key_t));
    self->count = before;
    return -1;
}

size_t survey_keyring_count(const survey_keyring_t *self)
{
    return self->count;
}

const char *survey_keyring_signing_kid(const survey_keyring_t *self)
{
    return self->count ? self->keys[0].kid : NULL;
}

char *survey_keyring_sign(const survey_keyring_t *self, const char *invitation_id,
                          int64_t expires_at_s)
{
    if (!self->count)
        return NULL;
    const link_key_t *k = &self->keys[0];
    return survey_link_sign(k->key, k->len, k->kid, invitation_id, expires_at_s);
}

int survey_keyring_lookup(void *ctx, const char *kid, const unsigned char **key, size_t *keylen)
{
    const survey_keyring_t *self = ctx;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->keys[i].kid, kid) == 0) {
            *key = self->keys[i].key;
            *keylen = self->keys[i].len;
            return 0;
        }
    return -1;
}
