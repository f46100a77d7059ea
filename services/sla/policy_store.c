/*
 * policy_store — policies in PostgreSQL and a cache of them (see
 * policy_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_log.h"
#include "policy_store.h"

#define S_COLUMNS                                                                                  \
    "id, priority, service_type, tier, channel, calendar, unit, first_response_min,"               \
    " next_update_min, resolution_min, complaint_acceptance_min, complaint_handling_min,"          \
    " complex, complex_working_days, description"

struct sla_policies {
    char default_calendar[SLA_CALENDAR_NAME_MAX];
    sla_terms_t *stored; /* ordered by id */
    size_t count;
    int64_t version, rows; /* of the table when last read; -1 never */
};

sla_policies_t *sla_policies_new(const char *default_calendar)
{
    sla_policies_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    snprintf(self->default_calendar, sizeof(self->default_calendar), "%s", default_calendar);
    self->version = self->rows = -1;
    return self;
}

void sla_policies_forget(sla_policies_t *self)
{
    free(self->stored);
    self->stored = NULL;
    self->count = 0;
    self->version = self->rows = -1;
}

void sla_policies_destroy(sla_policies_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sla_policies_forget(*self_p);
    free(*self_p);
    *self_p = NULL;
}

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

static void s_row(const PGresult *r, int i, sla_terms_t *t)
{
    memset(t, 0, sizeof(*t));
    s_copy(t->id, sizeof(t->id), cs_db_get(r, i, 0));
    for (int f = 0; f < SLA_FACT_COUNT; f++)
        s_copy(t->match[f], sizeof(t->match[f]), cs_db_get(r, i, 1 + f));
    s_copy(t->calendar, sizeof(t->calendar), cs_db_get(r, i, 5));
    t->unit =
        sla_unit_parse(cs_db_get(r, i, 6)) == SLA_UNIT_REAL ? SLA_UNIT_REAL : SLA_UNIT_BUSINESS;
    t->minutes[SLA_TARGET_FIRST_RESPONSE] = cs_db_get_i64(r, i, 7);
    t->minutes[SLA_TARGET_NEXT_UPDATE] = cs_db_get_i64(r, i, 8);
    t->minutes[SLA_TARGET_RESOLUTION] = cs_db_get_i64(r, i, 9);
    t->minutes[SLA_TARGET_COMPLAINT_ACCEPTANCE] = cs_db_get_i64(r, i, 10);
    t->minutes[SLA_TARGET_COMPLAINT_HANDLING] = cs_db_get_i64(r, i, 11);
    t->complex = strcmp(cs_db_get(r, i, 12), "t") == 0;
    t->complex_working_days = (int)cs_db_get_i64(r, i, 13);
    s_copy(t->description, sizeof(t->description), cs_db_get(r, i, 14));
}

static int s_reload(sla_policies_t *self, cs_db_t *db)
{
    PGresult *r =
        cs_db_exec(db, "SELECT " S_COLUMNS " FROM policies ORDER BY id LIMIT 1000", 0, NULL);
    if (!r)
        return -1;
    int n = PQntuples(r);
    sla_terms_t *list = n ? calloc((size_t)n, sizeof(*list)) : NULL;
    if (n && !list) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < n; i++)
        s_row(r, i, &list[i]);
    PQclear(r);
    free(self->stored);
    self->stored = list;
    self->count = (size_t)n;
    return 0;
}

int sla_policies_refresh(sla_policies_t *self, cs_db_t *db)
{
    PGresult *r =
        cs_db_exec(db, "SELECT coalesce(max(version), 0), count(*) FROM policies", 0, NULL);
    if (!r)
        return -1;
    int64_t version = cs_db_get_i64(r, 0, 0), rows = cs_db_get_i64(r, 0, 1);
    PQclear(r);
    if (version == self->version && rows == self->rows)
        return 0;
    if (s_reload(self, db) < 0)
        return -1;
    if (self->version >= 0)
        cs_info("sla: policies changed; %zu stored polic%s read again", self->count,
                self->count == 1 ? "y" : "ies");
    self->version = version;
    self->rows = rows;
    return 0;
}

void sla_policies_choose(sla_policies_t *self, const char *const facts[SLA_FACT_COUNT],
                         sla_terms_t *out)
{
    const sla_terms_t *t = sla_policy_choose(self->stored, self->count, facts);
    if (t)
        *out = *t;
    else
        sla_policy_builtin(out, facts[SLA_FACT_PRIORITY], self->default_calendar);
}

int sla_policies_get(sla_policies_t *self, const char *id, sla_terms_t *out)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->stored[i].id, id) == 0) {
            *out = self->stored[i];
            return 1;
        }
    if (!sla_policy_is_builtin_id(id))
        return 0;
    sla_policy_builtin(out, id + 8, self->default_calendar);
    return 1;
}

const sla_terms_t *sla_policies_stored(sla_policies_t *self, size_t *n)
{
    *n = self->count;
    return self->stored;
}

int sla_policies_write(cs_db_t *db, const sla_terms_t *t, char *other, size_t other_size)
{
    const char *same[] = {t->id, t->match[0], t->match[1], t->match[2], t->match[3]};
    PGresult *r = cs_db_exec(db,
                             "SELECT (SELECT id FROM policies WHERE id <> $1 AND priority = $2"
                             " AND service_type = $3 AND tier = $4 AND channel = $5 LIMIT 1),"
                             " (SELECT count(*) FROM policies),"
                             " EXISTS (SELECT 1 FROM policies WHERE id = $1)",
                             5, same);
    if (!r)
        return -1;
    int clash = !PQgetisnull(r, 0, 0);
    if (clash)
        s_copy(other, other_size, cs_db_get(r, 0, 0));
    int64_t rows = cs_db_get_i64(r, 0, 1);
    int exists = strcmp(cs_db_get(r, 0, 2), "t") == 0;
    PQclear(r);
    if (clash)
        return -3;
    if (!exists && rows >= SLA_POLICIES_MAX)
        return -2;
    char m[SLA_TARGET_COUNT][24], days[24];
    for (int i = 0; i < SLA_TARGET_COUNT; i++)
        cs_db_i64(m[i], t->minutes[i]);
    const char *p[] = {t->id,
                       t->match[0],
                       t->match[1],
                       t->match[2],
                       t->match[3],
                       t->calendar,
                       sla_unit_name(t->unit),
                       m[SLA_TARGET_FIRST_RESPONSE],
                       m[SLA_TARGET_NEXT_UPDATE],
                       m[SLA_TARGET_RESOLUTION],
                       m[SLA_TARGET_COMPLAINT_ACCEPTANCE],
                       m[SLA_TARGET_COMPLAINT_HANDLING],
                       t->complex ? "t" : "f",
                       cs_db_i64(days, t->complex_working_days),
                       t->description};
    int64_t n = cs_db_cmd(db,
                          "INSERT INTO policies (" S_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6,"
                          " $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                          " ON CONFLICT (id) DO UPDATE SET priority = $2, service_type = $3,"
                          " tier = $4, channel = $5, calendar = $6, unit = $7,"
                          " first_response_min = $8, next_update_min = $9, resolution_min = $10,"
                          " complaint_acceptance_min = $11, complaint_handling_min = $12,"
                          " complex = $13, complex_working_days = $14, description = $15,"
                          " version = nextval('policy_versions'), updated_at = now()",
                          15, p);
    if (n < 0)
        return -1;
    return exists ? 0 : 1;
}

int sla_policies_delete(cs_db_t *db, const char *id)
{
    int64_t n = cs_db_cmd(db, "DELETE FROM policies WHERE id = $1", 1, (const char *[]){id});
    return n < 0 ? -1 : n > 0 ? 1 : 0;
}
