/*
 * survey_link.h - signed, expiring answer links for survey invitations.
 *
 * Why: a survey invitation goes out by mail or SMS as a link that the
 * customer opens without logging in.  The link must name exactly one
 * invitation, must not be guessable or editable (change the invitation id
 * and the signature breaks), must stop working after its expiry, and must
 * only be good for answering a survey (the HMAC covers the purpose string
 * "survey-answer", so a MAC made with the same key for another purpose never
 * verifies here).  Keys rotate: the token names its key id, and the verifier
 * asks the caller for that key, so old links keep working while the old key
 * is still offered and stop when it is withdrawn.
 *
 * Token = base64url without padding of (all integers big-endian):
 *     u8  format version (1)
 *     u8  key id length K (1..SURVEY_LINK_KEY_ID_MAX), K bytes key id
 *     u8  invitation id length N (1..SURVEY_LINK_INVITATION_ID_MAX), N bytes
 *     i64 expires_at_s (seconds since the epoch, UTC)
 *     32  HMAC-SHA256(key, "survey-answer" 0x00 <all bytes above>)
 * Ids use only A-Z a-z 0-9 . _ - so they can be logged and put in URLs as
 * they are.  Nothing in the token is secret; it is only unforgeable.
 */
#ifndef SURVEY_LINK_H_INCLUDED
#define SURVEY_LINK_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SURVEY_LINK_PURPOSE "survey-answer"
#define SURVEY_LINK_KEY_ID_MAX 32
#define SURVEY_LINK_INVITATION_ID_MAX 64
#define SURVEY_LINK_KEY_MIN 16    /* bytes; 32 random bytes recommended */
#define SURVEY_LINK_TOKEN_MAX 256 /* longest token verify will look at, characters */

/* Find the key for key_id.  Return 0 and set *key / *keylen (owned by the
 * caller of survey_link_verify, valid for the duration of the call), or -1
 * if the key id is unknown or withdrawn. */
typedef int(survey_link_key_fn)(void *ctx, const char *key_id, const unsigned char **key,
                                size_t *keylen);

/* Sign one invitation's answer link.  Returns the token (caller frees), or
 * NULL if key is shorter than SURVEY_LINK_KEY_MIN, an id is empty, too long
 * or uses other characters than A-Z a-z 0-9 . _ -, or expires_at_s < 1. */
char *survey_link_sign(const unsigned char *key, size_t keylen, const char *key_id,
                       const char *invitation_id, int64_t expires_at_s);

/* Check a token from a URL.  Returns
 *    0  authentic and not expired: invitation_id_out holds the invitation id
 *   -1  forged, malformed, unknown key id, oversized (err says which)
 *   -2  authentic but expired (now_s >= expiry); invitation_id_out is filled
 *       too, so the caller can log which invitation it was
 * The signature is checked before the expiry, so "expired" is only ever
 * said of a genuine link.  invitation_id_out needs room for
 * SURVEY_LINK_INVITATION_ID_MAX + 1 bytes. */
int survey_link_verify(survey_link_key_fn *lookup, void *lookup_ctx, const char *token,
                       int64_t now_s, char *invitation_id_out, size_t outlen, char *err,
                       size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
