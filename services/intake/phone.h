/*
 * phone — telephone numbers as people and PBXes write them, turned into
 * E.164 ("+8613812345678") so that a caller is matched to a customer
 * whatever form either side used.
 *
 * Accepted: a leading "+" or "00" (international), or a national number
 * in the default country (CS_INTAKE_DEFAULT_COUNTRY, "86"): a trunk "0"
 * before an area code is dropped ("010-1234 5678" → +861012345678), a
 * Chinese mobile (11 digits, 1[3-9]…) needs none, "400"/"800" service
 * numbers are national too, and "86" before a mobile is taken as the
 * country. Spaces, dashes, dots, parentheses and a "(0)" after the country
 * code are ignored; an extension after "ext", "x", "#", "," or "转" is
 * split off. What cannot be a number (letters, too few or too many digits,
 * a Chinese landline without its area code) is refused with the reason.
 */
#ifndef INTAKE_PHONE_H
#define INTAKE_PHONE_H
#include <stddef.h>

#define PHONE_E164_MAX 17 /* "+" 15 digits NUL */
#define PHONE_EXT_MAX 9   /* 8 digits NUL */

/* Normalise text into e164 (PHONE_E164_MAX) and ext (PHONE_EXT_MAX, "" when
   none). country: the default country calling code as digits ("86").
   0, or -1 with a reason for a person in err. */
int phone_e164(const char *text, const char *country, char *e164, char *ext, char *err,
               size_t errlen);

#endif
