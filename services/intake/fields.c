/*
 * fields — see fields.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "desk.h"
#include "fields.h"

const char *const fields_industries[] = {"oil_gas_supplier",
                                         "chemical_producer",
                                         "energy_investor",
                                         "regulator",
                                         "partner",
                                         "other",
                                         NULL};
const char *const fields_tiers[] = {"strategic", "large", "sme", NULL};
const char *const fields_languages[] = {"zh-CN", "en", NULL};

int fields_in(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return 1;
    return 0;
}

static void s_list(char *buf, size_t size, const char *const *set)
{
    size_t n = 0;
    buf[0] = 0;
    for (; *set && n + 1 < size; set++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", *set);
}

int fields_email_ok(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > 254)
        return 0;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return 0;
    const char *dot = strchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == 0 || s[len - 1] == '.')
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return 0;
    return 1;
}

int fields_str(json_t *obj, const char *key, const char *field, size_t max, const char *const *set,
               int required, const char **out, cs_http_resp_t *resp)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) {
            cs_http_error(resp, 422, field, "%s is required", field);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        cs_http_error(resp, 422, field, "%s must be a string", field);
        return -1;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    const char *p = s;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (*p == 0) {
        if (!required)
            return 0;
        cs_http_error(resp, 422, field, "%s must not be empty", field);
        return -1;
    }
    if (len > max) {
        cs_http_error(resp, 422, field, "%s is longer than %zu bytes", field, max);
        return -1;
    }
    if (strlen(s) != len) {
        cs_http_error(resp, 422, field, "%s must not contain NUL characters", field);
        return -1;
    }
    if (set && !fields_in(s, set)) {
        char allowed[400];
        s_list(allowed, sizeof(allowed), set);
        cs_http_error(resp, 422, field, "%s must be one of: %s", field, allowed);
        return -1;
    }
    *out = s;
    return 0;
}

int fields_phone(const char *text, const char *field, char *e164, char *ext, cs_http_resp_t *resp)
{
    char why[160];
    if (phone_e164(text, desk_config()->country, e164, ext, why, sizeof(why)) < 0) {
        cs_http_error(resp, 422, field, "%s %s", field, why);
        return -1;
    }
    return 0;
}

int fields_only(json_t *obj, const char *const *allowed, const char *prefix, cs_http_resp_t *resp)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (!fields_in(key, allowed)) {
            char list[400];
            s_list(list, sizeof(list), allowed);
            cs_http_error(resp, 422, key, "%s%.64s is not a field here (fields: %s)", prefix, key,
                          list);
            return -1;
        }
    }
    return 0;
}
