#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_config.h"
#include "cs_log.h"

const char *cs_env(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return (v && *v) ? v : dflt;
}

static void s_svc_name(char *buf, size_t size, const char *service, const char *key)
{
    snprintf(buf, size, "CS_%s_%s", service, key);
    for (char *p = buf; *p; p++) {
        if (*p == '-')
            *p = '_';
        else
            *p = (char)toupper((unsigned char)*p);
    }
}

const char *cs_env_svc(const char *service, const char *key, const char *dflt)
{
    char name[128];
    s_svc_name(name, sizeof(name), service, key);
    return cs_env(name, dflt);
}

int cs_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cs_env_int(const char *name, int64_t dflt, int64_t min, int64_t max, int64_t *out)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    if (cs_parse_int(v, min, max, out) < 0) {
        cs_error("config: %s=\"%.40s\" is not an integer in [%lld, %lld]", name, v, (long long)min,
                 (long long)max);
        return -1;
    }
    return 0;
}

int cs_env_svc_int(const char *service, const char *key, int64_t dflt, int64_t min, int64_t max,
                   int64_t *out)
{
    char name[128];
    s_svc_name(name, sizeof(name), service, key);
    return cs_env_int(name, dflt, min, max, out);
}
