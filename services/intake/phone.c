/*
 * phone — see phone.h. One pass splits the text into the number's digits
 * and the extension's; the rules of the country decide the rest.
 */
#include <stdio.h>
#include <string.h>
#include "cs_log.h"
#include "phone.h"

#define TEXT_MAX 64
#define DIGITS_MAX 24

/* Does p start an extension marker? Returns its length, or 0. */
static size_t s_ext_marker(const char *p)
{
    static const char *const markers[] = {"ext.",
                                          "ext",
                                          "EXT.",
                                          "EXT",
                                          "Ext.",
                                          "Ext",
                                          "x",
                                          "X",
                                          "#",
                                          ",",
                                          ";",
                                          "\xE8\xBD\xAC",             /* 转 */
                                          "\xE5\x88\x86\xE6\x9C\xBA", /* 分机 */
                                          NULL};
    for (const char *const *m = markers; *m; m++)
        if (strncmp(p, *m, strlen(*m)) == 0)
            return strlen(*m);
    return 0;
}

/* The national significant number of a Chinese number (after "86"): a
   mobile 1[3-9] + 9 digits; Beijing 10 + 8 digits; a two-digit area code
   2x + 8 digits; a three-digit area code + 7 or 8 digits; 400/800 + 7. */
static int s_valid_cn(const char *n, char *err, size_t errlen)
{
    size_t len = strlen(n);
    if (n[0] == '1') {
        if (len == 11 && n[1] >= '3' && n[1] <= '9')
            return 0;
        if (len == 10 && n[1] == '0')
            return 0;
        cs_errf(err, errlen,
                "is neither a Chinese mobile number (11 digits, 13x-19x) nor a"
                " Beijing number (010 and 8 digits)");
        return -1;
    }
    if ((strncmp(n, "400", 3) == 0 || strncmp(n, "800", 3) == 0) && len == 10)
        return 0;
    if (n[0] == '2' && len == 10)
        return 0;
    if (n[0] >= '3' && n[0] <= '9' && (len == 10 || len == 11))
        return 0;
    cs_errf(err, errlen, "is not a Chinese landline number (area code and 7 or 8 digits)");
    return -1;
}

int phone_e164(const char *text, const char *country, char *e164, char *ext, char *err,
               size_t errlen)
{
    char digits[DIGITS_MAX + 1], extd[PHONE_EXT_MAX];
    size_t nd = 0, ne = 0;
    int plus = 0, in_ext = 0;
    e164[0] = ext[0] = 0;
    if (!text || strlen(text) > TEXT_MAX) {
        cs_errf(err, errlen, "is missing or longer than %d characters", TEXT_MAX);
        return -1;
    }
    for (const char *p = text; *p;) {
        unsigned char c = (unsigned char)*p;
        size_t m;
        if (c >= '0' && c <= '9') {
            if (in_ext) {
                if (ne + 1 >= sizeof(extd)) {
                    cs_errf(err, errlen, "has an extension longer than %d digits",
                            PHONE_EXT_MAX - 1);
                    return -1;
                }
                extd[ne++] = (char)c;
            } else {
                if (nd >= DIGITS_MAX) {
                    cs_errf(err, errlen, "has too many digits");
                    return -1;
                }
                digits[nd++] = (char)c;
            }
            p++;
        } else if (c == '+' && nd == 0 && !plus && !in_ext) {
            plus = 1;
            p++;
        } else if (c == '(' && p[1] == '0' && p[2] == ')' && nd > 0 && !in_ext) {
            p += 3; /* "+86 (0)10 …": the trunk 0 shown for national callers */
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' ||
                   c == '\t' || (in_ext && c == ':')) {
            p++;
        } else if (!in_ext && nd > 0 && (m = s_ext_marker(p)) > 0) {
            in_ext = 1;
            p += m;
        } else {
            cs_errf(err, errlen,
                    "may hold only digits, '+', spaces, dashes, parentheses and an"
                    " extension");
            return -1;
        }
    }
    digits[nd] = extd[ne] = 0;
    if (nd == 0) {
        cs_errf(err, errlen, "has no digits");
        return -1;
    }
    if (in_ext && ne == 0) {
        cs_errf(err, errlen, "names an extension without digits");
        return -1;
    }

    /* Country code + national number, as one digit string. */
    char full[DIGITS_MAX + 8];
    const char *d = digits;
    if (plus) {
        snprintf(full, sizeof(full), "%s", d);
    } else if (strncmp(d, "00", 2) == 0) {
        snprintf(full, sizeof(full), "%s", d + 2);
    } else if (strcmp(country, "86") == 0) {
        size_t len = strlen(d);
        if (d[0] == '0') {
            snprintf(full, sizeof(full), "86%s", d + 1);
        } else if (len >= 7 && len <= 8) {
            cs_errf(err, errlen, "is a landline number without its area code (e.g. 010, 0755)");
            return -1;
        } else if (len == 13 && strncmp(d, "861", 3) == 0) {
            snprintf(full, sizeof(full), "%s", d); /* 86 before a mobile: the country */
        } else if (d[0] == '1' || strncmp(d, "400", 3) == 0 || strncmp(d, "800", 3) == 0) {
            snprintf(full, sizeof(full), "86%s", d);
        } else {
            cs_errf(err, errlen,
                    "is not a Chinese number: give the area code with its 0, or the"
                    " country with + or 00");
            return -1;
        }
    } else {
        snprintf(full, sizeof(full), "%s%s", country, d[0] == '0' ? d + 1 : d);
    }

    /* "+86 010 …": a trunk 0 written after the country code is not dialled. */
    if (strncmp(full, "860", 3) == 0)
        memmove(full + 2, full + 3, strlen(full + 3) + 1);
    if (full[0] == '0') {
        cs_errf(err, errlen, "has no country code after + or 00");
        return -1;
    }
    size_t len = strlen(full);
    if (len < 7 || len > 15) {
        cs_errf(err, errlen, "has %zu digits with its country code; E.164 allows 7 to 15", len);
        return -1;
    }
    if (strncmp(full, "86", 2) == 0 && s_valid_cn(full + 2, err, errlen) < 0)
        return -1;
    snprintf(e164, PHONE_E164_MAX, "+%.15s", full); /* len checked: 7..15 */
    snprintf(ext, PHONE_EXT_MAX, "%s", extd);
    return 0;
}
