/*
 * clock_store — SLA clocks in PostgreSQL (see clock_store.h).
 *
 * Instants cross the boundary as ms since the epoch through the schema's
 * ms_ts() and ts_ms() (schema/001_init.sql), exact at the millisecond, the
 * precision of the bus.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock_store.h"
#include "cs_bus.h"
#include "cs_log.h"

const char *const SLA_STORE_COLUMNS =
    "id, coalesce(ticket_id, origin_ticket_id), number, target, priority, policy, round, state,"
    " target_minutes, target_ms, ts_ms(started_at), ts_ms(warn_at), ts_ms(deadline),"
    " ts_ms(paused_at), warned, ts_ms(met_at), ts_ms(breached_at), ts_ms(stopped_at), team,"
    " assignee, coalesce(complaint_id::text, ''), policy_id, escalation_level,"
    " ts_ms(escalate_at), service_type, tier, channel";

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

/* Length of the UTF-8 sequence at p (1..4), or 0 when it is not well formed
   (overlong forms, surrogates and code points above U+10FFFF included). */
static int s_utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xBF;
    int n;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3, lo = p[0] == 0xE0 ? 0xA0 : 0x80, hi = p[0] == 0xED ? 0x9F : 0xBF;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4, lo = p[0] == 0xF0 ? 0x90 : 0x80, hi = p[0] == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (int k = 2; k < n; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return n;
}

int sla_store_text_ok(const char *s, size_t max)
{
    if (strlen(s) > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = s_utf8_len(p);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

void sla_store_clock_id(char out[CS_UUID_LEN], const char *subject, sla_target_t target)
{
    /* As clock_uuid() in schema/005_lean_clocks.sql: the MD5 of
       "<subject>/<target>" with the version 3 and RFC 4122 variant bits. */
    char name[CS_UUID_LEN + 32];
    int len = snprintf(name, sizeof(name), "%s/%s", subject, sla_target_name(target));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (len < 0 || !EVP_Digest(name, (size_t)len, md, &mdlen, EVP_md5(), NULL) || mdlen < 16) {
        out[0] = 0; /* no id: the statements using it fail and the event is retried */
        return;
    }
    md[6] = (unsigned char)((md[6] & 0x0F) | 0x30);
    md[8] = (unsigned char)((md[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[md[i] >> 4];
        *o++ = hex[md[i] & 15];
    }
    *o = 0;
}

int sla_store_row_from(const PGresult *r, int i, sla_clock_row_t *row)
{
    memset(row, 0, sizeof(*row));
    s_copy(row->id, sizeof(row->id), cs_db_get(r, i, 0));
    s_copy(row->ticket_id, sizeof(row->ticket_id), cs_db_get(r, i, 1));
    s_copy(row->number, sizeof(row->number), cs_db_get(r, i, 2));
    int target = sla_target_parse(cs_db_get(r, i, 3));
    s_copy(row->priority, sizeof(row->priority), cs_db_get(r, i, 4));
    s_copy(row->policy, sizeof(row->policy), cs_db_get(r, i, 5));
    int state = sla_clock_state_parse(cs_db_get(r, i, 7));
    if (target < 0 || state < 0)
        return -1;
    sla_clock_t *c = &row->clock;
    c->target = (sla_target_t)target;
    c->state = (sla_clock_state_t)state;
    c->round = (int)cs_db_get_i64(r, i, 6);
    c->target_minutes = cs_db_get_i64(r, i, 8);
    c->target_ms = cs_db_get_i64(r, i, 9);
    c->started_at_ms = cs_db_get_i64(r, i, 10);
    c->warn_at_ms = cs_db_get_i64(r, i, 11);
    c->deadline_ms = cs_db_get_i64(r, i, 12);
    c->paused_at_ms = cs_db_get_i64(r, i, 13);
    c->warned = strcmp(cs_db_get(r, i, 14), "t") == 0;
    c->met_at_ms = cs_db_get_i64(r, i, 15);
    c->breached_at_ms = cs_db_get_i64(r, i, 16);
    c->stopped_at_ms = cs_db_get_i64(r, i, 17);
    s_copy(row->team, sizeof(row->team), cs_db_get(r, i, 18));
    s_copy(row->assignee, sizeof(row->assignee), cs_db_get(r, i, 19));
    s_copy(row->complaint_id, sizeof(row->complaint_id), cs_db_get(r, i, 20));
    s_copy(row->policy_id, sizeof(row->policy_id), cs_db_get(r, i, 21));
    c->escalation_level = (int)cs_db_get_i64(r, i, 22);
    c->escalate_at_ms = cs_db_get_i64(r, i, 23);
    s_copy(row->service_type, sizeof(row->service_type), cs_db_get(r, i, 24));
    s_copy(row->tier, sizeof(row->tier), cs_db_get(r, i, 25));
    s_copy(row->channel, sizeof(row->channel), cs_db_get(r, i, 26));
    return 0;
}

/* Text parameters for the mutable fields, shared by arm and save. */
typedef struct {
    char round[24], minutes[24], target_ms[24], started[24], warn_at[24], deadline[24], paused[24],
        met[24], breached[24], stopped[24], level[24], escalate_at[24];
} s_fields_t;

static void s_fields(const sla_clock_t *c, s_fields_t *f)
{
    cs_db_i64(f->round, c->round);
    cs_db_i64(f->minutes, c->target_minutes);
    cs_db_i64(f->target_ms, c->target_ms);
    cs_db_i64(f->started, c->started_at_ms);
    cs_db_i64(f->warn_at, c->warn_at_ms);
    cs_db_i64(f->deadline, c->deadline_ms);
    cs_db_i64(f->paused, c->paused_at_ms);
    cs_db_i64(f->met, c->met_at_ms);
    cs_db_i64(f->breached, c->breached_at_ms);
    cs_db_i64(f->stopped, c->stopped_at_ms);
    cs_db_i64(f->level, c->escalation_level);
    cs_db_i64(f->escalate_at, c->escalate_at_ms);
}

int sla_store_arm(cs_db_t *db, const sla_clock_row_t *row)
{
    const sla_clock_t *c = &row->clock;
    s_fields_t f;
    s_fields(c, &f);
    int complaint = row->complaint_id[0] != 0;
    const char *ticket = complaint ? NULL : row->ticket_id;
    const char *origin = complaint && row->ticket_id[0] ? row->ticket_id : NULL;
    const char *p[] = {row->id,
                       ticket,
                       row->number,
                       sla_target_name(c->target),
                       row->priority,
                       row->policy,
                       f.round,
                       sla_clock_state_name(c->state),
                       f.minutes,
                       f.target_ms,
                       f.started,
                       f.warn_at,
                       f.deadline,
                       c->warned ? "t" : "f",
                       row->team,
                       row->assignee,
                       complaint ? row->complaint_id : NULL,
                       origin,
                       row->policy_id,
                       row->service_type,
                       row->tier,
                       row->channel};
    /* The id is derived from (subject, target): the primary key makes
       arming idempotent. */
    return (int)cs_db_cmd(db,
                          "INSERT INTO clocks (id, ticket_id, number, target, priority,"
                          " policy, round, state, target_minutes, target_ms,"
                          " started_at, warn_at, deadline, warned, team, assignee,"
                          " complaint_id, origin_ticket_id, policy_id, service_type, tier, channel)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                          " ms_ts($11), ms_ts($12), ms_ts($13), $14, $15, $16, $17,"
                          " $18, $19, $20, $21, $22) ON CONFLICT (id) DO NOTHING",
                          22, p);
}

/* ---- arming in bulk ------------------------------------------------------------- */

/* A PostgreSQL array literal built as text: every element quoted (a
   backslash before " and \), NULL for a missing one. Text from outside is
   only ever an element here, never SQL. */
typedef struct {
    char *buf;
    size_t len, cap;
    int count, failed;
} s_array_t;

static void s_array_put(s_array_t *a, const char *s, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n + 2)
            cap *= 2;
        char *b = realloc(a->buf, cap);
        if (!b) {
            a->failed = 1;
            return;
        }
        a->buf = b;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = 0;
}

static void s_array_add(s_array_t *a, const char *v)
{
    s_array_put(a, a->count++ ? "," : "{", 1);
    if (!v) {
        s_array_put(a, "NULL", 4);
        return;
    }
    s_array_put(a, "\"", 1);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            s_array_put(a, "\\", 1);
        s_array_put(a, p, 1);
    }
    s_array_put(a, "\"", 1);
}

static void s_array_add_i64(s_array_t *a, int64_t v)
{
    char buf[24];
    s_array_add(a, cs_db_i64(buf, v));
}

/* The literal; "{}" when empty; NULL when memory ran out. */
static const char *s_array_text(s_array_t *a)
{
    if (a->count == 0)
        s_array_put(a, "{", 1);
    s_array_put(a, "}", 1);
    return a->failed ? NULL : a->buf;
}

static int s_id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

int sla_store_arm_many(cs_db_t *db, const sla_clock_row_t *rows, size_t n,
                       const char *const *sources, int *inserted)
{
    enum {
        ID,
        TICKET,
        NUMBER,
        TARGET,
        PRIORITY,
        POLICY,
        MINUTES,
        TARGET_MS,
        STARTED,
        WARN_AT,
        DEADLINE,
        TEAM,
        ASSIGNEE,
        POLICY_ID,
        SERVICE_TYPE,
        TIER,
        CHANNEL,
        COLUMNS
    };
    s_array_t a[COLUMNS];
    memset(a, 0, sizeof(a));
    int rc = -1;
    char *ids = NULL;
    PGresult *r = NULL;
    for (size_t i = 0; i < n; i++) {
        const sla_clock_row_t *row = &rows[i];
        const sla_clock_t *c = &row->clock;
        inserted[i] = 0;
        s_array_add(&a[ID], row->id);
        s_array_add(&a[TICKET], row->ticket_id);
        s_array_add(&a[NUMBER], row->number);
        s_array_add(&a[TARGET], sla_target_name(c->target));
        s_array_add(&a[PRIORITY], row->priority);
        s_array_add(&a[POLICY], row->policy);
        s_array_add_i64(&a[MINUTES], c->target_minutes);
        s_array_add_i64(&a[TARGET_MS], c->target_ms);
        s_array_add_i64(&a[STARTED], c->started_at_ms);
        s_array_add_i64(&a[WARN_AT], c->warn_at_ms);
        s_array_add_i64(&a[DEADLINE], c->deadline_ms);
        s_array_add(&a[TEAM], row->team);
        s_array_add(&a[ASSIGNEE], row->assignee);
        s_array_add(&a[POLICY_ID], row->policy_id);
        s_array_add(&a[SERVICE_TYPE], row->service_type);
        s_array_add(&a[TIER], row->tier);
        s_array_add(&a[CHANNEL], row->channel);
    }
    const char *p[COLUMNS];
    for (int k = 0; k < COLUMNS; k++)
        if (!(p[k] = s_array_text(&a[k])))
            goto out;
    /* Fresh ticket clocks only (sla_clock_arm_ms: round 1, running, not
       warned), in the order given, each unless its id exists. */
    r = cs_db_exec(db,
                   "INSERT INTO clocks (id, ticket_id, number, target, priority, policy, round,"
                   " state, target_minutes, target_ms, started_at, warn_at, deadline, warned, team,"
                   " assignee, policy_id, service_type, tier, channel)"
                   " SELECT id, tid, num, tgt::clock_target, prio, pol, 1, 'running', mins, tms,"
                   " ms_ts(st), ms_ts(wa), ms_ts(dl), false, team, asg, pid, svc, tier, chan"
                   " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],"
                   " $6::text[], $7::int[], $8::bigint[], $9::bigint[], $10::bigint[],"
                   " $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],"
                   " $16::text[], $17::text[]) WITH ORDINALITY"
                   " AS u(id, tid, num, tgt, prio, pol, mins, tms, st, wa, dl, team, asg, pid, svc,"
                   " tier, chan, o)"
                   " ORDER BY o ON CONFLICT (id) DO NOTHING RETURNING id",
                   COLUMNS, p);
    if (!r)
        goto out;
    /* Which rows went in: the ids returned, sorted, looked up per row. */
    int got = PQntuples(r);
    ids = malloc((size_t)(got ? got : 1) * CS_UUID_LEN);
    if (!ids)
        goto out;
    for (int i = 0; i < got; i++)
        snprintf(ids + (size_t)i * CS_UUID_LEN, CS_UUID_LEN, "%s", cs_db_get(r, i, 0));
    qsort(ids, (size_t)got, CS_UUID_LEN, s_id_cmp);
    for (size_t i = 0; i < n; i++)
        inserted[i] = got && bsearch(rows[i].id, ids, (size_t)got, CS_UUID_LEN, s_id_cmp) != NULL;
    /* Their "armed" history steps, as sla_store_history() writes them. */
    for (int k = 0; k < 4; k++)
        a[k].len = 0, a[k].count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!inserted[i])
            continue;
        s_array_add(&a[0], rows[i].id);
        s_array_add_i64(&a[1], rows[i].clock.started_at_ms);
        s_array_add(&a[2], sources[i] && cs_is_uuid(sources[i]) ? sources[i] : NULL);
        s_array_add_i64(&a[3], rows[i].clock.target_ms);
    }
    if (got > 0) {
        const char *h[4];
        for (int k = 0; k < 4; k++)
            if (!(h[k] = s_array_text(&a[k])))
                goto out;
        if (cs_db_cmd(db,
                      "INSERT INTO clock_events (clock_id, round, kind, at, percent,"
                      " source_event_id, level, target_ms, note)"
                      " SELECT id, 1, 'armed', ms_ts(at), 0, src, 0, tms, ''"
                      " FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::bigint[])"
                      " WITH ORDINALITY AS u(id, at, src, tms, o) ORDER BY o"
                      " ON CONFLICT (clock_id, round, kind) WHERE kind IN ('armed', 'warning',"
                      " 'breached', 'met', 'fulfilled_late', 'stopped') DO NOTHING",
                      4, h) < 0)
            goto out;
    }
    rc = got;
out:
    PQclear(r);
    free(ids);
    for (int k = 0; k < COLUMNS; k++)
        free(a[k].buf);
    return rc;
}

int sla_store_set_owner_many(cs_db_t *db, const char *const *ticket_ids, const char *const *teams,
                             const char *const *assignees, size_t n)
{
    if (n == 0)
        return 0;
    s_array_t a[3];
    memset(a, 0, sizeof(a));
    for (size_t i = 0; i < n; i++) {
        char ids[SLA_TICKET_CLOCKS][CS_UUID_LEN];
        sla_store_ticket_ids(ids, ticket_ids[i]);
        for (int k = 0; k < SLA_TICKET_CLOCKS; k++) {
            s_array_add(&a[0], ids[k]);
            s_array_add(&a[1], teams[i]);
            s_array_add(&a[2], assignees[i]);
        }
    }
    const char *p[3];
    int rc = -1;
    for (int k = 0; k < 3; k++)
        if (!(p[k] = s_array_text(&a[k])))
            goto out;
    rc = cs_db_cmd(db,
                   "UPDATE clocks c SET team = u.team, assignee = u.asg"
                   " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, team, asg)"
                   " WHERE c.id = u.id AND (c.team <> u.team OR c.assignee <> u.asg)",
                   3, p) < 0
             ? -1
             : 0;
out:
    for (int k = 0; k < 3; k++)
        free(a[k].buf);
    return rc;
}

static int s_lock(cs_db_t *db, const char *subject, sla_target_t target, sla_clock_row_t *row)
{
    char sql[1024], id[CS_UUID_LEN];
    snprintf(sql, sizeof(sql), "SELECT %s FROM clocks WHERE id = $1 FOR UPDATE", SLA_STORE_COLUMNS);
    sla_store_clock_id(id, subject, target);
    const char *p[] = {id};
    PGresult *r = cs_db_exec(db, sql, 1, p);
    if (!r)
        return -1;
    int rc = PQntuples(r) == 0 ? 0 : sla_store_row_from(r, 0, row) == 0 ? 1 : -1;
    PQclear(r);
    return rc;
}

int sla_store_lock(cs_db_t *db, const char *ticket_id, sla_target_t target, sla_clock_row_t *row)
{
    return s_lock(db, ticket_id, target, row);
}

int sla_store_lock_complaint(cs_db_t *db, const char *complaint_id, sla_target_t target,
                             sla_clock_row_t *row)
{
    return s_lock(db, complaint_id, target, row);
}

int sla_store_save(cs_db_t *db, const sla_clock_row_t *row)
{
    const sla_clock_t *c = &row->clock;
    s_fields_t f;
    s_fields(c, &f);
    const char *p[] = {row->id,     sla_clock_state_name(c->state),
                       f.round,     f.started,
                       f.warn_at,   f.deadline,
                       f.paused,    c->warned ? "t" : "f",
                       f.met,       f.breached,
                       f.stopped,   f.minutes,
                       f.target_ms, row->priority,
                       row->policy, row->policy_id,
                       f.level,     f.escalate_at};
    int64_t n = cs_db_cmd(db,
                          "UPDATE clocks SET state = $2, round = $3, started_at = ms_ts($4),"
                          " warn_at = ms_ts($5), deadline = ms_ts($6), paused_at = ms_ts($7),"
                          " warned = $8, met_at = ms_ts($9), breached_at = ms_ts($10),"
                          " stopped_at = ms_ts($11), target_minutes = $12, target_ms = $13,"
                          " priority = $14, policy = $15, policy_id = $16,"
                          " escalation_level = $17, escalate_at = ms_ts($18)"
                          " WHERE id = $1",
                          18, p);
    return n == 1 ? 0 : -1;
}

void sla_store_ticket_ids(char ids[SLA_TICKET_CLOCKS][CS_UUID_LEN], const char *ticket_id)
{
    static const sla_target_t targets[SLA_TICKET_CLOCKS] = {
        SLA_TARGET_FIRST_RESPONSE, SLA_TARGET_RESOLUTION, SLA_TARGET_NEXT_UPDATE};
    for (int i = 0; i < SLA_TICKET_CLOCKS; i++)
        sla_store_clock_id(ids[i], ticket_id, targets[i]);
}

int sla_store_set_owner(cs_db_t *db, const char *ticket_id, const char *team, const char *assignee)
{
    char ids[SLA_TICKET_CLOCKS][CS_UUID_LEN];
    sla_store_ticket_ids(ids, ticket_id);
    const char *p[] = {ids[0], ids[1], ids[2], team, assignee};
    int64_t n = cs_db_cmd(db,
                          "UPDATE clocks SET team = $4, assignee = $5"
                          " WHERE id IN ($1, $2, $3) AND (team <> $4 OR assignee <> $5)",
                          5, p);
    return n < 0 ? -1 : 0;
}

static int s_history(cs_db_t *db, const sla_clock_row_t *row, const char *kind, int64_t at_ms,
                     uint32_t percent, const char *source_event_id, int level, const char *note,
                     int64_t used_ms)
{
    /* The conflict targets name the partial unique indexes of
       004_policies.sql: signals once per round, escalations once per level;
       pauses, resumptions and changes may repeat. */
    static const char *const once[] = {"armed", "warning",        "breached",
                                       "met",   "fulfilled_late", "stopped"};
    const char *conflict = "";
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
        if (strcmp(kind, once[i]) == 0)
            conflict = " ON CONFLICT (clock_id, round, kind) WHERE kind IN ('armed', 'warning',"
                       " 'breached', 'met', 'fulfilled_late', 'stopped') DO NOTHING";
    if (strcmp(kind, "escalated") == 0)
        conflict = " ON CONFLICT (clock_id, round, level) WHERE kind = 'escalated' DO NOTHING";
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO clock_events (clock_id, round, kind, at, percent, source_event_id,"
             " level, target_ms, note, used_ms)"
             " VALUES ($1, $2, $3, ms_ts($4), $5, $6, $7, $8, $9, $10)%s",
             conflict);
    char round[24], at[24], pct[24], lv[24], target[24], used[24];
    const char *p[] = {row->id,
                       cs_db_i64(round, row->clock.round),
                       kind,
                       cs_db_i64(at, at_ms),
                       cs_db_i64(pct, percent),
                       source_event_id && cs_is_uuid(source_event_id) ? source_event_id : NULL,
                       cs_db_i64(lv, level),
                       cs_db_i64(target, row->clock.target_ms),
                       note ? note : "",
                       used_ms >= 0 ? cs_db_i64(used, used_ms) : NULL};
    return (int)cs_db_cmd(db, sql, 10, p);
}

int sla_store_history_ex(cs_db_t *db, const sla_clock_row_t *row, const char *kind, int64_t at_ms,
                         uint32_t percent, const char *source_event_id, int level, const char *note)
{
    return s_history(db, row, kind, at_ms, percent, source_event_id, level, note, -1);
}

int sla_store_history_fulfilled(cs_db_t *db, const sla_clock_row_t *row, const char *kind,
                                int64_t at_ms, uint32_t percent, const char *source_event_id,
                                int64_t used_ms)
{
    return s_history(db, row, kind, at_ms, percent, source_event_id, 0, NULL, used_ms);
}

int sla_store_history(cs_db_t *db, const sla_clock_row_t *row, const char *kind, int64_t at_ms,
                      uint32_t percent, const char *source_event_id)
{
    return sla_store_history_ex(db, row, kind, at_ms, percent, source_event_id, 0, NULL);
}

int sla_store_pauses(cs_db_t *db, const sla_clock_row_t *row, int64_t **pauses, size_t *n)
{
    char round[24];
    const char *p[] = {row->id, cs_db_i64(round, row->clock.round)};
    *pauses = NULL;
    *n = 0;
    PGresult *r = cs_db_exec(db,
                             "SELECT ts_ms(at) FROM clock_events WHERE clock_id = $1"
                             " AND round = $2 AND kind IN ('paused', 'resumed') ORDER BY at, id",
                             2, p);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    if (rows > 0) {
        *pauses = malloc((size_t)rows * sizeof(**pauses));
        if (!*pauses) {
            PQclear(r);
            return -1;
        }
        for (int i = 0; i < rows; i++)
            (*pauses)[i] = cs_db_get_i64(r, i, 0);
        *n = (size_t)rows;
    }
    PQclear(r);
    return 0;
}

int sla_store_due(cs_db_t *db, sla_due_t which, int64_t now_ms, sla_clock_row_t *rows, int max)
{
    /* The WHERE clauses match the partial indexes clocks_breach_due and
       clocks_warning_due, so the planner reads only the due entries however
       many clocks are running. */
    char sql[1400];
    if (which == SLA_DUE_BREACH)
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM clocks WHERE state = 'running' AND deadline <= ms_ts($1)"
                 " ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED",
                 SLA_STORE_COLUMNS);
    else if (which == SLA_DUE_ESCALATION)
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM clocks WHERE state = 'breached' AND escalate_at IS NOT NULL"
                 " AND escalate_at <= ms_ts($1) ORDER BY escalate_at LIMIT $2"
                 " FOR UPDATE SKIP LOCKED",
                 SLA_STORE_COLUMNS);
    else
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM clocks WHERE state = 'running' AND NOT warned"
                 " AND warn_at <= ms_ts($1) ORDER BY warn_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                 SLA_STORE_COLUMNS);
    char now[24], lim[24];
    const char *p[] = {cs_db_i64(now, now_ms), cs_db_i64(lim, max)};
    PGresult *r = cs_db_exec(db, sql, 2, p);
    if (!r)
        return -1;
    int n = 0;
    for (int i = 0; i < PQntuples(r) && n < max; i++) {
        if (sla_store_row_from(r, i, &rows[n]) == 0)
            n++;
        else
            cs_error("sla: a clock row holds an unknown target or state; skipped");
    }
    PQclear(r);
    return n;
}

int sla_store_breached_count(cs_db_t *db, const char *ticket_id)
{
    char ids[SLA_TICKET_CLOCKS][CS_UUID_LEN];
    sla_store_ticket_ids(ids, ticket_id);
    PGresult *r = cs_db_exec(db,
                             "SELECT count(*) FROM clocks WHERE id IN ($1, $2, $3)"
                             " AND state = 'breached'",
                             3, (const char *[]){ids[0], ids[1], ids[2]});
    if (!r)
        return -1;
    int n = (int)cs_db_get_i64(r, 0, 0);
    PQclear(r);
    return n;
}

int sla_store_emit(cs_db_t *db, const sla_clock_row_t *row, const char *type, int64_t at_ms,
                   uint32_t percent, uint32_t escalation_level, const char *trace_id)
{
    Cs__ClockEvent ce = CS__CLOCK_EVENT__INIT;
    ce.clock_id = (char *)row->id;
    ce.ticket_id = (char *)row->ticket_id;
    ce.number = (char *)row->number;
    ce.target = (char *)sla_target_name(row->clock.target);
    ce.priority = (char *)row->priority;
    ce.started_at_ms = row->clock.started_at_ms;
    ce.deadline_ms = row->clock.deadline_ms;
    ce.at_ms = at_ms;
    ce.percent = percent;
    ce.escalation_level = escalation_level;
    ce.team = (char *)row->team;
    ce.assignee = (char *)row->assignee;
    ce.policy = (char *)row->policy;
    ce.service_type = (char *)row->service_type;
    ce.tier = (char *)row->tier;
    ce.complaint_id = (char *)row->complaint_id;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_CLOCK_EVENT;
    env.clock_event = &ce;
    env.trace_id = (char *)(trace_id ? trace_id : "");
    return cs_bus_emit(db, type, &env);
}
