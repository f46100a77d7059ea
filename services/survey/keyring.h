/*
 * keyring.h - the keys that sign and verify survey answer links.
 *
 * Why: links must survive a restart and a key rotation.  Operations give the
 * keys in CS_SURVEY_LINK_KEYS as "kid:hexkey,kid2:hexkey2": the first key
 * signs new links, all of them verify, so an old key stays listed until its
 * links have expired and is then withdrawn.  When the variable is unset, the
 * service generates one random key once and keeps it in its own schema
 * (link_keys), so links keep working across restarts without any setup.
 * The keyring is filled at start-up and read-only afterwards, so the bus
 * thread (signing) and the HTTP thread (verifying) share it without a lock.
 */
#ifndef SURVEY_KEYRING_H_INCLUDED
#define SURVEY_KEYRING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SURVEY_KEYRING_MAX 16     /* keys at once */
#define SURVEY_KEYRING_KEY_MAX 64 /* bytes per key */

typedef struct survey_keyring survey_keyring_t;

survey_keyring_t *survey_keyring_new(void);
/* Wipe the keys and free; accepts NULL and nulls the pointer. */
void survey_keyring_destroy(survey_keyring_t **self_p);

/* Add one key: kid as survey_link wants it (1..32 of A-Z a-z 0-9 . _ -),
   hex of 16..64 bytes.  The first key added signs.  0, or -1 with err
   (which never contains key material). */
int survey_keyring_add(survey_keyring_t *self, const char *kid, const char *hex, char *err,
                       size_t errlen);
/* Add every key of "kid:hex,kid2:hex2" (spaces around items allowed).
   0, or -1 with err naming the item; on error nothing is added. */
int survey_keyring_parse(survey_keyring_t *self, const char *spec, char *err, size_t errlen);
size_t survey_keyring_count(const survey_keyring_t *self);
/* The id of the signing key, or NULL when empty. */
const char *survey_keyring_signing_kid(const survey_keyring_t *self);

/* A token for invitation_id expiring at expires_at_s, signed with the first
   key (caller frees), or NULL. */
char *survey_keyring_sign(const survey_keyring_t *self, const char *invitation_id,
                          int64_t expires_at_s);
/* survey_link_key_fn over the keyring (ctx = the keyring). */
int survey_keyring_lookup(void *ctx, const char *kid, const unsigned char **key, size_t *keylen);

#endif
