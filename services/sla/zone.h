/*
 * zone — a named IANA time zone, read from its TZif file, for the business
 * calendars.
 *
 * Why not setenv("TZ") + localtime_r: the TZ variable is process-global, so
 * two calendars in different zones (or a preview request on the HTTP thread
 * while the tick runs) would race. A zone here is an immutable object built
 * once from /usr/share/zoneinfo/<name> (RFC 8536: version 2+ 64-bit data,
 * and the footer's POSIX TZ string for instants after the last transition);
 * every lookup after that is pure arithmetic, safe from any thread.
 *
 * Instants are seconds since the epoch (UTC, no leap seconds); "local"
 * seconds are the wall-clock reading expressed the same way (local date and
 * time as if it were UTC). Days are days since 1970-01-01 (negative before).
 */
#ifndef SLA_ZONE_H
#define SLA_ZONE_H
#include <stddef.h>
#include <stdint.h>

typedef struct sla_zone sla_zone_t;

#define SLA_ZONE_NAME_MAX 64

/* Load zone `name` (e.g. "Asia/Shanghai") from dir, or from
   /usr/share/zoneinfo when dir is NULL. The name is checked (letters,
   digits, '_', '-', '+', components separated by '/', no "..") before any
   file is opened. NULL with err filled on any failure. */
sla_zone_t *sla_zone_load(const char *dir, const char *name, char *err, size_t err_size);
/* Build a zone from the bytes of a TZif file (tests, fuzzing). */
sla_zone_t *sla_zone_from_tzif(const char *name, const uint8_t *data, size_t len, char *err,
                               size_t err_size);
/* Build a zone from a POSIX TZ string alone ("CST-8", "EST5EDT,M3.2.0,M11.1.0"). */
sla_zone_t *sla_zone_from_posix(const char *name, const char *tz, char *err, size_t err_size);
void sla_zone_destroy(sla_zone_t **self_p);

const char *sla_zone_name(const sla_zone_t *self);
/* UTC offset (seconds east of UTC) in effect at utc_s; when until_s is not
   NULL it receives the next instant at which the offset may change
   (INT64_MAX when never). */
int32_t sla_zone_offset(const sla_zone_t *self, int64_t utc_s, int64_t *until_s);
/* The instant of local wall-clock time local_s. A reading skipped by a
   spring-forward gap maps to the end of the gap (the first instant whose
   reading is later); a reading that occurs twice (fall-back) maps to its
   first occurrence. */
int64_t sla_zone_to_utc(const sla_zone_t *self, int64_t local_s);

/* Proleptic Gregorian calendar arithmetic. */
int64_t sla_days_from_civil(int64_t y, int m, int d);
void sla_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 = Monday … 6 = Sunday. */
int sla_weekday(int64_t days);
/* Floor division, for days from seconds. */
int64_t sla_floor_div(int64_t a, int64_t b);

#endif
