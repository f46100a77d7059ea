/*
 * cs_config — configuration from the environment, checked.
 *
 * Every figure in petrocs is configuration with an embedded default, read
 * from environment variables (which is what container platforms give us).
 * A value that does not parse is an error naming the variable; the service
 * refuses to start rather than run on a silently wrong figure.
 */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H
#include <stdint.h>

/* The value of NAME, or dflt when unset or empty. */
const char *cs_env(const char *name, const char *dflt);
/* Per-service variable: CS_<SERVICE>_<KEY> (upper-cased), e.g. CS_INTAKE_HTTP_PORT. */
const char *cs_env_svc(const char *service, const char *key, const char *dflt);
/* Integer in [min, max]; 0 ok, -1 with a logged error naming the variable. */
int cs_env_int(const char *name, int64_t dflt, int64_t min, int64_t max, int64_t *out);
int cs_env_svc_int(const char *service, const char *key, int64_t dflt, int64_t min, int64_t max,
                   int64_t *out);
/* Parse a decimal integer strictly (whole string, no overflow). */
int cs_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
