/*
 * calendar_store — named calendars in PostgreSQL and a per-thread cache of
 * them parsed (see calendar_store.h).
 *
 * The cache is a small array searched by name: a service holds a handful
 * of calendars (the table is capped at SLA_CALENDARS_MAX), and only names
 * that resolved are kept, so a stream of requests for unknown names costs
 * a query each but never memory.
 */
#include <stdlib.h>
#include <string.h>
#include "calendar_store.h"
#include "cs_log.h"

typedef struct {
    char name[SLA_CALENDAR_NAME_MAX];
    sla_calendar_t *calendar;
} s_entry_t;

struct sla_calendars {
    s_entry_t entries[SLA_CALENDARS_MAX + 8]; /* the table's and the built-ins */
    int count;
    int64_t version, rows; /* of the table when last looked at; -1 never */
};

sla_calendars_t *sla_calendars_new(void)
{
    sla_calendars_t *self = calloc(1, sizeof(*self));
    if (self)
        self->version = self->rows = -1;
    return self;
}

void sla_calendars_forget(sla_calendars_t *self)
{
    for (int i = 0; i < self->count; i++)
        sla_calendar_destroy(&self->entries[i].calendar);
    self->count = 0;
}

void sla_calendars_destroy(sla_calendars_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sla_calendars_forget(*self_p);
    free(*self_p);
    *self_p = NULL;
}

int sla_calendars_refresh(sla_calendars_t *self, cs_db_t *db)
{
    PGresult *r =
        cs_db_exec(db, "SELECT coalesce(max(version), 0), count(*) FROM calendars", 0, NULL);
    if (!r)
        return -1;
    int64_t version = cs_db_get_i64(r, 0, 0), rows = cs_db_get_i64(r, 0, 1);
    PQclear(r);
    if (version != self->version || rows != self->rows) {
        if (self->count)
            cs_info("sla: calendars changed; %d cached calendar(s) will be read again",
                    self->count);
        sla_calendars_forget(self);
        self->version = version;
        self->rows = rows;
    }
    return 0;
}

/* Parse name from the table, or take the built-in: 1, 0 (err), -1. */
static int s_load(cs_db_t *db, const char *name, sla_calendar_t **out, char *err, size_t err_size)
{
    char *definition = NULL;
    int64_t at;
    int rc = db ? sla_calendars_read(db, name, 0, &definition, &at) : 0;
    if (rc < 0)
        return -1;
    if (rc == 0) {
        *out = sla_calendar_new_named(name);
        if (!*out)
            snprintf(err, err_size, "no calendar named %s", name);
        return *out ? 1 : 0;
    }
    char why[256] = "";
    *out = sla_calendar_parse(name, definition, strlen(definition), why, sizeof(why));
    free(definition);
    if (!*out) {
        snprintf(err, err_size, "stored calendar %s does not parse: %s", name, why);
        cs_error("sla: %s", err);
        return 0;
    }
    return 1;
}

int sla_calendars_get(sla_calendars_t *self, cs_db_t *db, const char *name,
                      const sla_calendar_t **out, char *err, size_t err_size)
{
    if (!name || !*name || strlen(name) >= SLA_CALENDAR_NAME_MAX) {
        snprintf(err, err_size, "a calendar name is 1 to %d bytes", SLA_CALENDAR_NAME_MAX - 1);
        return 0;
    }
    for (int i = 0; i < self->count; i++)
        if (strcmp(self->entries[i].name, name) == 0) {
            *out = self->entries[i].calendar;
            return 1;
        }
    if (self->count == (int)(sizeof(self->entries) / sizeof(self->entries[0]))) {
        snprintf(err, err_size, "more calendars in use than %d", self->count);
        return 0;
    }
    sla_calendar_t *calendar = NULL;
    int rc = s_load(db, name, &calendar, err, err_size);
    if (rc <= 0)
        return rc;
    s_entry_t *e = &self->entries[self->count++];
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->calendar = calendar;
    *out = calendar;
    return 1;
}

/* ---- the table ------------------------------------------------------------------ */

int sla_calendars_read(cs_db_t *db, const char *name, int for_update, char **definition,
                       int64_t *updated_at_ms)
{
    PGresult *r = cs_db_exec(db,
                             for_update ? "SELECT definition, ts_ms(updated_at) FROM calendars"
                                          " WHERE name = $1 FOR UPDATE"
                                        : "SELECT definition, ts_ms(updated_at) FROM calendars"
                                          " WHERE name = $1",
                             1, (const char *[]){name});
    if (!r)
        return -1;
    int found = PQntuples(r) > 0;
    if (found) {
        *definition = strdup(cs_db_get(r, 0, 0));
        *updated_at_ms = cs_db_get_i64(r, 0, 1);
    }
    PQclear(r);
    if (found && !*definition)
        return -1;
    return found;
}

PGresult *sla_calendars_list(cs_db_t *db)
{
    return cs_db_exec(db,
                      "SELECT name, ts_ms(updated_at), octet_length(definition), definition"
                      " FROM calendars ORDER BY name LIMIT 1000",
                      0, NULL);
}

int sla_calendars_write(cs_db_t *db, const char *name, const char *definition)
{
    /* One statement: a new name is taken only while the table has room; an
       existing one is always replaced, with a fresh version. */
    char max[24];
    PGresult *r =
        cs_db_exec(db,
                   "INSERT INTO calendars (name, definition) SELECT $1, $2"
                   " WHERE (SELECT count(*) FROM calendars) < $3::int"
                   "    OR EXISTS (SELECT 1 FROM calendars WHERE name = $1)"
                   " ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition,"
                   " version = nextval('calendar_versions'), updated_at = now()"
                   " RETURNING (xmax = 0)",
                   3, (const char *[]){name, definition, cs_db_i64(max, SLA_CALENDARS_MAX)});
    if (!r)
        return -1;
    int rc = PQntuples(r) == 0 ? -2 : strcmp(cs_db_get(r, 0, 0), "t") == 0 ? 1 : 0;
    PQclear(r);
    return rc;
}
