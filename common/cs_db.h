/*
 * cs_db — one PostgreSQL connection owned by one thread.
 *
 * Each service owns one schema (DESIGN.md §5) and connects with that schema
 * as its search_path. Statements go through parameters only; every SQL text
 * is prepared once per connection the first time it is used (a transparent
 * named-statement cache), so hot paths skip the parser.
 *
 * A broken connection is noticed on the next call: cs_db_ensure() reconnects
 * with back-off, and callers retry the unit of work in hand.
 */
#ifndef CS_DB_H
#define CS_DB_H
#include <stdint.h>
#include <libpq-fe.h>

typedef struct cs_db cs_db_t;

typedef struct {
    const char *name; /* "001_init" — applied once, recorded in schema_migrations */
    const char *sql;
} cs_migration_t;

/* conninfo: a libpq connection string; schema: search_path and owner schema. */
cs_db_t *cs_db_new(const char *conninfo, const char *schema, const char *app_name);
void cs_db_destroy(cs_db_t **self_p);

/* Connect now; 0 or -1 (logged, password never logged). */
int cs_db_connect(cs_db_t *self);
/* Make sure the connection is usable, reconnecting at most once per back-off
   step (100 ms doubling up to 5 s). 0 when usable, -1 when not (yet). */
int cs_db_ensure(cs_db_t *self);
int cs_db_ok(cs_db_t *self);
PGconn *cs_db_conn(cs_db_t *self);
const char *cs_db_schema(cs_db_t *self);

/* Run sql with text parameters (NULL entries are SQL NULL). Returns a result
   with status TUPLES_OK or COMMAND_OK (caller PQclear()s it), or NULL after
   logging the error. The last error's SQLSTATE is kept for the caller. */
PGresult *cs_db_exec(cs_db_t *self, const char *sql, int nparams, const char *const *params);
/* Same with per-parameter lengths/binary formats (bytea). */
PGresult *cs_db_exec_bin(cs_db_t *self, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats, int binary_result);
/* Run a command; returns rows affected (>= 0) or -1. */
int64_t cs_db_cmd(cs_db_t *self, const char *sql, int nparams, const char *const *params);
int64_t cs_db_cmd_bin(cs_db_t *self, const char *sql, int nparams, const char *const *params,
                      const int *lengths, const int *formats);
/* SQLSTATE of the last failed statement ("" if none). */
const char *cs_db_sqlstate(cs_db_t *self);

int cs_db_begin(cs_db_t *self);
int cs_db_commit(cs_db_t *self);
void cs_db_rollback(cs_db_t *self);
int cs_db_in_tx(cs_db_t *self);
/* After-commit wake-up: cs_bus_emit() marks the transaction, and a COMMIT of
   a marked transaction calls the process's hook (cs_service wakes its relay
   with it). The hook must be async-safe with respect to the calling thread:
   any thread may commit. */
void cs_db_set_commit_hook(void (*fn)(void *ctx), void *ctx);
void cs_db_wake_on_commit(cs_db_t *self);
/* Work a layer above defers to the end of the transaction (cs_bus_emit's
   event rows, written with one statement): a slot per handle, and, for the
   process, the functions that flush a slot just before COMMIT (0, or -1
   which rolls back and fails the commit), clear it after COMMIT, ROLLBACK or
   BEGIN, and free it with the handle. */
void cs_db_set_deferred_ops(int (*flush)(cs_db_t *db, void *slot), void (*clear)(void *slot),
                            void (*destroy)(void *slot));
void **cs_db_deferred(cs_db_t *self);
/* Work of this transaction was lost (deferred work that could not be kept):
   the next cs_db_commit() rolls back and fails. */
void cs_db_set_failed(cs_db_t *self);

/* Apply the migrations in order under a transaction-level advisory lock keyed
   by the schema, recording each in schema_migrations. 0 or -1. */
int cs_db_migrate(cs_db_t *self, const cs_migration_t *list);

/* Text helpers for parameters. */
const char *cs_db_i64(char *buf, int64_t v); /* buf >= 24 */
/* Value of row/col as int64 (0 if NULL). */
int64_t cs_db_get_i64(const PGresult *r, int row, int col);
/* Value or "" when NULL. */
const char *cs_db_get(const PGresult *r, int row, int col);

/* Wait up to ms for a NOTIFY on db's connection (a session that LISTENs),
   draining what arrived; a plain sleep when there is no connection. A
   NOTIFY is a wake-up, never a delivery: callers poll their tables after. */
void cs_db_wait_notify(cs_db_t *db, int ms);

#endif
