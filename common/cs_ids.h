/*
 * cs_ids — identifiers: random UUIDs (version 4) and clock readings.
 */
#ifndef CS_IDS_H
#define CS_IDS_H
#include <stddef.h>
#include <stdint.h>

#define CS_UUID_LEN 37 /* 36 chars + NUL */

/* Fill buf (>= CS_UUID_LEN) with a random version-4 UUID. */
void cs_uuid(char *buf);
/* Is s a canonical UUID text (36 chars, hex and dashes)? */
int cs_is_uuid(const char *s);
/* Cryptographically random bytes; 0 or -1. */
int cs_random(void *buf, size_t len);
/* Wall clock in ms since the epoch (UTC), and a monotonic clock in ms. */
int64_t cs_now_ms(void);
int64_t cs_mono_ms(void);
/* ms since epoch → "2026-12-03T08:00:00.000Z" (buf >= 32). */
void cs_iso8601(int64_t ms, char *buf, size_t size);

#endif
