/*
 * survey_link.c - sign and verify survey answer links (see survey_link.h
 * for the token layout and why it looks like this).
 *
 * The verifier treats the token as hostile: it refuses anything longer than
 * SURVEY_LINK_TOKEN_MAX before decoding, decodes strictly (no padding, no
 * foreign characters, no non-zero spare bits, so each payload has exactly
 * one spelling), checks every length against the bytes present, and
 * compares MACs in constant time.  All work is on the stack.
 */
#include "survey_link.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define FORMAT_VERSION 1
#define MAC_LEN 32
/* version + two lengths + ids + expiry + MAC */
#define PAYLOAD_MAX                                                                                \
    (1 + 1 + SURVEY_LINK_KEY_ID_MAX + 1 + SURVEY_LINK_INVITATION_ID_MAX + 8 + MAC_LEN)
#define PAYLOAD_MIN (1 + 1 + 1 + 1 + 1 + 8 + MAC_LEN)

static const char s_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void s_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* An id is 1..max bytes of A-Z a-z 0-9 . _ - */
static bool s_valid_id(const char *id, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* base64url without padding; out has room for 4 * ceil(len / 3) + 1. */
static void s_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = s_b64url[v >> 18 & 63];
        out[o++] = s_b64url[v >> 12 & 63];
        out[o++] = s_b64url[v >> 6 & 63];
        out[o++] = s_b64url[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = s_b64url[v >> 18 & 63];
        out[o++] = s_b64url[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = s_b64url[v >> 18 & 63];
        out[o++] = s_b64url[v >> 12 & 63];
        out[o++] = s_b64url[v >> 6 & 63];
    }
    out[o] = '\0';
}

static int s_b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict decode: returns the byte count, or -1 on a foreign character, an
 * impossible length, non-zero spare bits, or more than outcap bytes. */
static long s_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;

    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = s_b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (unsigned)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    return (long)o;
}

/* HMAC-SHA256 over purpose, a zero byte, then the signed bytes. */
static int s_mac(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                 unsigned char mac[MAC_LEN])
{
    unsigned char buf[sizeof(SURVEY_LINK_PURPOSE) + PAYLOAD_MAX];
    unsigned int maclen = 0;

    if (len > PAYLOAD_MAX || keylen > 1024)
        return -1;
    memcpy(buf, SURVEY_LINK_PURPOSE, sizeof(SURVEY_LINK_PURPOSE)); /* includes the NUL */
    memcpy(buf + sizeof(SURVEY_LINK_PURPOSE), msg, len);
    if (!HMAC(EVP_sha256(), key, (int)keylen, buf, sizeof(SURVEY_LINK_PURPOSE) + len, mac,
              &maclen) ||
        maclen != MAC_LEN)
        return -1;
    return 0;
}

char *survey_link_sign(const unsigned char *key, size_t keylen, const char *key_id,
                       const char *invitation_id, int64_t expires_at_s)
{
    unsigned char payload[PAYLOAD_MAX];
    size_t klen, ilen, n = 0;
    uint64_t expiry = (uint64_t)expires_at_s;
    char *token;

    if (!key || keylen < SURVEY_LINK_KEY_MIN || !key_id || !invitation_id || expires_at_s < 1)
        return NULL;
    klen = strnlen(key_id, SURVEY_LINK_KEY_ID_MAX + 1);
    ilen = strnlen(invitation_id, SURVEY_LINK_INVITATION_ID_MAX + 1);
    if (!s_valid_id(key_id, klen, SURVEY_LINK_KEY_ID_MAX) ||
        !s_valid_id(invitation_id, ilen, SURVEY_LINK_INVITATION_ID_MAX))
        return NULL;

    payload[n++] = FORMAT_VERSION;
    payload[n++] = (unsigned char)klen;
    memcpy(payload + n, key_id, klen);
    n += klen;
    payload[n++] = (unsigned char)ilen;
    memcpy(payload + n, invitation_id, ilen);
    n += ilen;
    for (int shift = 56; shift >= 0; shift -= 8)
        payload[n++] = (unsigned char)(expiry >> shift);
    if (s_mac(key, keylen, payload, n, payload + n) < 0)
        return NULL;
    n += MAC_LEN;

    token = malloc(4 * ((n + 2) / 3) + 1);
    if (!token)
        return NULL;
    s_b64url_encode(payload, n, token);
    OPENSSL_cleanse(payload, sizeof(payload));
    return token;
}

/* The fields of a decoded token; pointers into the decoded bytes. */
typedef struct {
    char key_id[SURVEY_LINK_KEY_ID_MAX + 1];
    char invitation_id[SURVEY_LINK_INVITATION_ID_MAX + 1];
    int64_t expires_at_s;
    size_t signed_len; /* bytes covered by the MAC */
    const unsigned char *mac;
} link_fields_t;

/* Split decoded bytes into fields; every length is checked against what is
 * actually there, and the total must be exact (no trailing bytes). */
static int s_split(const unsigned char *p, size_t len, link_fields_t *f, char *err, size_t errlen)
{
    size_t n = 0, klen, ilen;
    uint64_t expiry = 0;

    if (len < PAYLOAD_MIN || p[0] != FORMAT_VERSION) {
        s_set_err(err, errlen, "token is malformed");
        return -1;
    }
    n = 1;
    klen = p[n++];
    if (n + klen + 1 > len || !s_valid_id((const char *)p + n, klen, SURVEY_LINK_KEY_ID_MAX))
        goto out_malformed;
    memcpy(f->key_id, p + n, klen);
    f->key_id[klen] = '\0';
    n += klen;
    ilen = p[n++];
    if (n + ilen > len || !s_valid_id((const char *)p + n, ilen, SURVEY_LINK_INVITATION_ID_MAX))
        goto out_malformed;
    memcpy(f->invitation_id, p + n, ilen);
    f->invitation_id[ilen] = '\0';
    n += ilen;
    if (n + 8 + MAC_LEN != len)
        goto out_malformed;
    for (int i = 0; i < 8; i++)
        expiry = expiry << 8 | p[n++];
    f->expires_at_s = (int64_t)expiry;
    f->signed_len = n;
    f->mac = p + n;
    return 0;

out_malformed:
    s_set_err(err, errlen, "token is malformed");
    return -1;
}

int survey_link_verify(survey_link_key_fn *lookup, void *lookup_ctx, const char *token,
                       int64_t now_s, char *invitation_id_out, size_t outlen, char *err,
                       size_t errlen)
{
    unsigned char payload[PAYLOAD_MAX];
    unsigned char mac[MAC_LEN];
    const unsigned char *key = NULL;
    size_t keylen = 0, toklen;
    link_fields_t f;
    long n;
    int rc = -1;

    if (err && errlen)
        err[0] = '\0';
    if (invitation_id_out && outlen)
        invitation_id_out[0] = '\0';
    if (!lookup || !token || !invitation_id_out) {
        s_set_err(err, errlen, "no token");
        return -1;
    }
    toklen = strnlen(token, SURVEY_LINK_TOKEN_MAX + 1);
    if (toklen > SURVEY_LINK_TOKEN_MAX) {
        s_set_err(err, errlen, "token longer than %d characters", SURVEY_LINK_TOKEN_MAX);
        return -1;
    }
    n = s_b64url_decode(token, toklen, payload, sizeof(payload));
    if (n < 0) {
        s_set_err(err, errlen, "token is not base64url");
        return -1;
    }
    if (s_split(payload, (size_t)n, &f, err, errlen) < 0)
        return -1;
    if (lookup(lookup_ctx, f.key_id, &key, &keylen) != 0 || !key || keylen < SURVEY_LINK_KEY_MIN) {
        s_set_err(err, errlen, "unknown key id '%s'", f.key_id);
        return -1;
    }
    if (s_mac(key, keylen, payload, f.signed_len, mac) < 0) {
        s_set_err(err, errlen, "cannot compute signature");
        goto out_cleanse;
    }
    if (CRYPTO_memcmp(mac, f.mac, MAC_LEN) != 0) {
        s_set_err(err, errlen, "signature does not match");
        goto out_cleanse;
    }
    if (outlen <= strlen(f.invitation_id)) {
        s_set_err(err, errlen, "invitation id buffer too small");
        goto out_cleanse;
    }
    memcpy(invitation_id_out, f.invitation_id, strlen(f.invitation_id) + 1);
    if (now_s >= f.expires_at_s) {
        s_set_err(err, errlen, "link expired");
        rc = -2;
        goto out_cleanse;
    }
    rc = 0;
out_cleanse:
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}
