/*
 * cs_db — see cs_db.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include "cs_db.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"

#define STMT_CACHE 256

typedef struct {
    char *sql; /* own copy: callers may build statement text on the stack */
    uint64_t hash;
    int prepared;
} stmt_t;

struct cs_db {
    char *conninfo;
    char schema[64];
    char app_name[64];
    PGconn *conn;
    int in_tx;
    int64_t next_try_ms;
    int64_t backoff_ms;
    char sqlstate[6];
    stmt_t stmt[STMT_CACHE];
    int nstmt;
    int connections;    /* successful connects so far; all but the first are reconnects */
    double tx_start;    /* monotonic seconds of the BEGIN in hand */
    int wake_on_commit; /* this transaction wrote events: call the commit hook */
    void *deferred;     /* work deferred to COMMIT by a layer above (cs_db_deferred) */
    int failed;         /* the transaction lost work: COMMIT must not happen */
};

static int (*s_deferred_flush)(cs_db_t *, void *);
static void (*s_deferred_clear)(void *);
static void (*s_deferred_free)(void *);

void cs_db_set_deferred_ops(int (*flush)(cs_db_t *db, void *slot), void (*clear)(void *slot),
                            void (*destroy)(void *slot))
{
    s_deferred_flush = flush;
    s_deferred_clear = clear;
    s_deferred_free = destroy;
}

void **cs_db_deferred(cs_db_t *self)
{
    return &self->deferred;
}

void cs_db_set_failed(cs_db_t *self)
{
    self->failed = 1;
}

/* Monotonic seconds with sub-millisecond resolution (the latency buckets
   start at 0.5 ms). */
static double s_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A transaction ended: its time from BEGIN, by how it ended. */
static void s_observe_tx(cs_db_t *self, const char *outcome)
{
    char labels[32];
    snprintf(labels, sizeof(labels), "outcome=\"%s\"", outcome);
    cs_histogram_observe("cs_db_transaction_seconds", labels, s_mono_s() - self->tx_start);
}

static void (*s_commit_hook)(void *);
static void *s_commit_hook_ctx;

void cs_db_set_commit_hook(void (*fn)(void *ctx), void *ctx)
{
    s_commit_hook = fn;
    s_commit_hook_ctx = ctx;
}

void cs_db_wake_on_commit(cs_db_t *self)
{
    self->wake_on_commit = 1;
}

static void s_forget_statements(cs_db_t *self)
{
    for (int i = 0; i < self->nstmt; i++)
        free(self->stmt[i].sql);
    self->nstmt = 0;
}

cs_db_t *cs_db_new(const char *conninfo, const char *schema, const char *app_name)
{
    cs_db_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo ? conninfo : "");
    snprintf(self->schema, sizeof(self->schema), "%s", schema ? schema : "public");
    snprintf(self->app_name, sizeof(self->app_name), "%s", app_name ? app_name : "petrocs");
    self->backoff_ms = 100;
    return self;
}

void cs_db_destroy(cs_db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cs_db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    s_forget_statements(self);
    if (self->deferred && s_deferred_free)
        s_deferred_free(self->deferred);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

static void s_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "relation exists, skipping") are not worth a log line */
}

int cs_db_connect(cs_db_t *self)
{
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    s_forget_statements(self);
    self->in_tx = 0;
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    char options[128];
    snprintf(options, sizeof(options), "-c search_path=%s", self->schema);
    const char *vals[] = {self->conninfo, self->app_name, "5", options, NULL};
    /* expand_dbname=1: the first dbname value is parsed as a conninfo string,
       and the later keys override or add to it. */
    self->conn = PQconnectdbParams(keys, vals, 1);
    if (!self->conn || PQstatus(self->conn) != CONNECTION_OK) {
        const char *msg = self->conn ? PQerrorMessage(self->conn) : "out of memory";
        char first[256];
        snprintf(first, sizeof(first), "%s", msg);
        char *nl = strchr(first, '\n');
        if (nl)
            *nl = 0;
        cs_error("db: cannot connect (schema %s): %s", self->schema, first);
        if (self->conn)
            PQfinish(self->conn);
        self->conn = NULL;
        return -1;
    }
    PQsetNoticeProcessor(self->conn, s_notice, NULL);
    self->backoff_ms = 100;
    if (self->connections++ > 0)
        cs_counter_add("cs_db_reconnects_total", "", 1);
    return 0;
}

int cs_db_ok(cs_db_t *self)
{
    return self->conn && PQstatus(self->conn) == CONNECTION_OK;
}

int cs_db_ensure(cs_db_t *self)
{
    if (cs_db_ok(self))
        return 0;
    int64_t now = cs_mono_ms();
    if (now < self->next_try_ms)
        return -1;
    if (self->conn)
        cs_warn("db: connection to schema %s lost, reconnecting", self->schema);
    if (cs_db_connect(self) == 0) {
        cs_info("db: connected (schema %s)", self->schema);
        return 0;
    }
    self->next_try_ms = now + self->backoff_ms;
    self->backoff_ms = self->backoff_ms * 2 > 5000 ? 5000 : self->backoff_ms * 2;
    return -1;
}

PGconn *cs_db_conn(cs_db_t *self)
{
    return self->conn;
}

const char *cs_db_schema(cs_db_t *self)
{
    return self->schema;
}

const char *cs_db_sqlstate(cs_db_t *self)
{
    return self->sqlstate;
}

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Name of the prepared statement for sql, preparing it on first use.
   Returns NULL when the cache is full (the caller falls back to unnamed). */
static const char *s_prepare(cs_db_t *self, const char *sql, int nparams, char *name, size_t size)
{
    uint64_t h = s_hash(sql);
    for (int i = 0; i < self->nstmt; i++) {
        if (self->stmt[i].hash == h && strcmp(self->stmt[i].sql, sql) == 0) {
            snprintf(name, size, "cs%d", i);
            return name;
        }
    }
    if (self->nstmt >= STMT_CACHE)
        return NULL;
    int i = self->nstmt;
    snprintf(name, size, "cs%d", i);
    PGresult *r = PQprepare(self->conn, name, sql, nparams, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL; /* the exec path reports the error with the statement */
    }
    PQclear(r);
    self->stmt[i].sql = strdup(sql);
    if (!self->stmt[i].sql)
        return NULL;
    self->stmt[i].hash = h;
    self->nstmt++;
    return name;
}

static void s_report(cs_db_t *self, PGresult *r, const char *sql)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(self->sqlstate, sizeof(self->sqlstate), "%s", state ? state : "");
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = self->conn ? PQerrorMessage(self->conn) : "no connection";
    char first[300];
    snprintf(first, sizeof(first), "%s", msg);
    char *nl = strchr(first, '\n');
    if (nl)
        *nl = 0;
    /* unique violations are expected by callers that race on purpose; keep quiet */
    if (strcmp(self->sqlstate, "23505") != 0 && strcmp(self->sqlstate, "40001") != 0)
        cs_error("db: %s [%s] in: %.120s", first, self->sqlstate, sql);
    cs_counter_add("cs_db_errors_total", "", 1);
}

PGresult *cs_db_exec_bin(cs_db_t *self, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats, int binary_result)
{
    self->sqlstate[0] = 0;
    if (!self->conn) {
        snprintf(self->sqlstate, sizeof(self->sqlstate), "08003");
        return NULL;
    }
    char name[16];
    const char *stmt = s_prepare(self, sql, nparams, name, sizeof(name));
    PGresult *r;
    if (stmt)
        r = PQexecPrepared(self->conn, stmt, nparams, params, lengths, formats, binary_result);
    else
        r = PQexecParams(self->conn, sql, nparams, NULL, params, lengths, formats, binary_result);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    s_report(self, r, sql);
    PQclear(r);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        self->in_tx = 0;
        s_forget_statements(self);
    }
    return NULL;
}

PGresult *cs_db_exec(cs_db_t *self, const char *sql, int nparams, const char *const *params)
{
    return cs_db_exec_bin(self, sql, nparams, params, NULL, NULL, 0);
}

int64_t cs_db_cmd(cs_db_t *self, const char *sql, int nparams, const char *const *params)
{
    return cs_db_cmd_bin(self, sql, nparams, params, NULL, NULL);
}

int64_t cs_db_cmd_bin(cs_db_t *self, const char *sql, int nparams, const char *const *params,
                      const int *lengths, const int *formats)
{
    PGresult *r = cs_db_exec_bin(self, sql, nparams, params, lengths, formats, 0);
    if (!r)
        return -1;
    const char *n = PQcmdTuples(r);
    int64_t rows = (n && *n) ? strtoll(n, NULL, 10) : 0;
    PQclear(r);
    return rows;
}

/* Transaction control goes through plain PQexec: no parameters, nothing to prepare. */
static int s_simple(cs_db_t *self, const char *sql)
{
    if (!self->conn)
        return -1;
    PGresult *r = PQexec(self->conn, sql);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        s_report(self, r, sql);
    PQclear(r);
    return ok ? 0 : -1;
}

int cs_db_begin(cs_db_t *self)
{
    double t0 = s_mono_s();
    if (s_simple(self, "BEGIN") < 0)
        return -1;
    self->tx_start = t0;
    self->in_tx = 1;
    self->wake_on_commit = 0;
    self->failed = 0;
    if (self->deferred && s_deferred_clear)
        s_deferred_clear(self->deferred);
    return 0;
}

int cs_db_commit(cs_db_t *self)
{
    if (self->failed) {
        cs_error("db: transaction marked failed (work deferred to its end was lost); rolled back");
        cs_db_rollback(self);
        return -1;
    }
    if (self->deferred && s_deferred_flush && s_deferred_flush(self, self->deferred) < 0) {
        cs_db_rollback(self);
        return -1;
    }
    int timed = self->in_tx;
    if (self->deferred && s_deferred_clear)
        s_deferred_clear(self->deferred);
    self->in_tx = 0;
    int wake = self->wake_on_commit;
    self->wake_on_commit = 0;
    double t0 = s_mono_s();
    int rc = s_simple(self, "COMMIT");
    if (timed) {
        cs_histogram_observe("cs_db_commit_seconds", "", s_mono_s() - t0);
        s_observe_tx(self, rc == 0 ? "commit" : "error");
    }
    /* On a failed COMMIT too: the outcome is unknown, and a needless
       wake-up costs one query. */
    if (wake && s_commit_hook)
        s_commit_hook(s_commit_hook_ctx);
    return rc;
}

void cs_db_rollback(cs_db_t *self)
{
    if (self->in_tx)
        s_observe_tx(self, "rollback");
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        (void)s_simple(self, "ROLLBACK");
    self->in_tx = 0;
    self->wake_on_commit = 0;
    self->failed = 0;
    if (self->deferred && s_deferred_clear)
        s_deferred_clear(self->deferred);
}

int cs_db_in_tx(cs_db_t *self)
{
    return self->in_tx;
}

int cs_db_migrate(cs_db_t *self, const cs_migration_t *list)
{
    if (cs_db_begin(self) < 0)
        return -1;
    const char *p[] = {self->schema};
    PGresult *r =
        cs_db_exec(self, "SELECT pg_advisory_xact_lock(hashtext('migrate:' || $1))", 1, p);
    if (!r)
        goto fail;
    PQclear(r);
    r = PQexec(self->conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                           " name text PRIMARY KEY,"
                           " applied_at timestamptz NOT NULL DEFAULT now())");
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        s_report(self, r, "CREATE TABLE schema_migrations");
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    for (const cs_migration_t *m = list; m && m->name; m++) {
        const char *q[] = {m->name};
        r = cs_db_exec(self, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, q);
        if (!r)
            goto fail;
        int done = PQntuples(r) > 0;
        PQclear(r);
        if (done)
            continue;
        /* Migrations are multi-statement scripts of our own, never input: the
           simple-query protocol runs them whole, inside this transaction. */
        r = PQexec(self->conn, m->sql);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            s_report(self, r, m->name);
            PQclear(r);
            goto fail;
        }
        PQclear(r);
        if (cs_db_cmd(self, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, q) < 0)
            goto fail;
        cs_info("db: applied migration %s to schema %s", m->name, self->schema);
    }
    return cs_db_commit(self);
fail:
    cs_db_rollback(self);
    return -1;
}

const char *cs_db_i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

int64_t cs_db_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *cs_db_get(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return "";
    return PQgetvalue(r, row, col);
}

void cs_db_wait_notify(cs_db_t *db, int ms)
{
    PGconn *conn = cs_db_conn(db);
    struct pollfd pfd = {.fd = conn ? PQsocket(conn) : -1, .events = POLLIN};
    if (pfd.fd < 0) {
        usleep((useconds_t)ms * 1000);
        return;
    }
    if (poll(&pfd, 1, ms) > 0 && PQconsumeInput(conn)) {
        PGnotify *n;
        while ((n = PQnotifies(conn)))
            PQfreemem(n);
    }
}
