/*
 * policy_store — the policies of the sla schema (schema/004_policies.sql)
 * and a per-thread cache of them.
 *
 * Like calendar_store: each thread that arms or recomputes clocks (the bus
 * thread's monitor, the HTTP thread's API) keeps its own sla_policies_t,
 * reloaded whole when the table's version or row count moves — one cheap
 * query per look. The table holds at most SLA_POLICIES_MAX policies, so
 * choosing is a scan of an array in memory.
 */
#ifndef SLA_POLICY_STORE_H
#define SLA_POLICY_STORE_H
#include "cs_db.h"
#include "policy.h"

typedef struct sla_policies sla_policies_t;

/* default_calendar: the calendar of the built-ins (CS_SLA_CALENDAR). */
sla_policies_t *sla_policies_new(const char *default_calendar);
void sla_policies_destroy(sla_policies_t **self_p);

/* Reload the cache if the table changed since the last look. 0, or -1 on
   a database error (the cache is kept). */
int sla_policies_refresh(sla_policies_t *self, cs_db_t *db);
/* Drop the cache now (after this thread wrote the table). */
void sla_policies_forget(sla_policies_t *self);

/* The policy that applies to facts: the most specific stored policy that
   matches, else the built-in for the facts' priority. */
void sla_policies_choose(sla_policies_t *self, const char *const facts[SLA_FACT_COUNT],
                         sla_terms_t *out);
/* The policy named id (stored, else built-in): 1 found, 0 none. */
int sla_policies_get(sla_policies_t *self, const char *id, sla_terms_t *out);
/* The stored policies, ordered by id; *n set. Valid until the next refresh. */
const sla_terms_t *sla_policies_stored(sla_policies_t *self, size_t *n);

/* ---- the table ------------------------------------------------------------------ */

/* Insert or replace t (checked by the caller). 1 created, 0 replaced, -1
   database error, -2 the table is full, -3 another policy (named in
   other) has the same match. */
int sla_policies_write(cs_db_t *db, const sla_terms_t *t, char *other, size_t other_size);
/* 1 deleted, 0 no such stored policy, -1 database error. */
int sla_policies_delete(cs_db_t *db, const char *id);

#endif
