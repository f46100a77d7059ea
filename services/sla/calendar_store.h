/*
 * calendar_store — the named calendars of the sla schema
 * (schema/002_calendars.sql), and a cache of them parsed.
 *
 * A clock names its calendar; counting on it needs the parsed object, and
 * parsing a definition on every event would be wasteful, so each thread
 * that counts (the bus thread's monitor, the HTTP thread's API) keeps its
 * own sla_calendars_t: calendars parsed on first use, dropped all at once
 * when the table's version moves (sla_calendars_refresh, one cheap query).
 * One cache per thread means no locks, and no calendar freed while another
 * thread counts on it. A pointer from sla_calendars_get() stays valid until
 * the next refresh on the same cache.
 *
 * A name missing from the table still resolves to a built-in calendar
 * (calendar.h: "7x24", "cn-office"), so clocks keep counting on a schema
 * whose seed rows were removed by hand.
 */
#ifndef SLA_CALENDAR_STORE_H
#define SLA_CALENDAR_STORE_H
#include <stdint.h>
#include "calendar.h"
#include "cs_db.h"

#define SLA_CALENDARS_MAX 200 /* calendars the table may hold */

typedef struct sla_calendars sla_calendars_t;

sla_calendars_t *sla_calendars_new(void);
void sla_calendars_destroy(sla_calendars_t **self_p);

/* Drop every cached calendar if the table changed since the last look.
   0, or -1 on a database error (the cache is kept). */
int sla_calendars_refresh(sla_calendars_t *self, cs_db_t *db);
/* Drop every cached calendar now (after this thread wrote the table). */
void sla_calendars_forget(sla_calendars_t *self);

/* The calendar named name: 1 with *out set, 0 when there is no such
   calendar or its stored definition does not parse (err says which), -1
   on a database error. db may be NULL: built-ins only. */
int sla_calendars_get(sla_calendars_t *self, cs_db_t *db, const char *name,
                      const sla_calendar_t **out, char *err, size_t err_size);

/* ---- the table ------------------------------------------------------------------ */

/* name's stored definition (caller frees) and when it was last written:
   1 found, 0 none, -1 database error. for_update locks the row (inside the
   caller's transaction) for a read-modify-write. */
int sla_calendars_read(cs_db_t *db, const char *name, int for_update, char **definition,
                       int64_t *updated_at_ms);
/* Every calendar: name, ts_ms(updated_at), octet_length(definition),
   definition — ordered by name; NULL on a database error. Caller PQclear()s. */
PGresult *sla_calendars_list(cs_db_t *db);
/* Write name's definition (checked by the caller with sla_calendar_parse):
   1 created, 0 replaced, -1 database error, -2 the table is full. */
int sla_calendars_write(cs_db_t *db, const char *name, const char *definition);

#endif
