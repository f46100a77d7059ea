/*
 * cs_bus — see cs_bus.h for the shape; DESIGN.md §3 for the guarantee.
 *
 * Why the envelope is stored without stream and sequence: the relay numbers
 * an event only after it committed. Protobuf concatenation merges messages,
 * so at publish time we pack a two-field Envelope {stream, sequence} and send
 * it followed by the stored bytes: one valid Envelope, no re-encoding of the
 * body.
 */
#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "cs_bus.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"

#define RELAY_BATCH 500
#define REPLAY_MAX_EVENTS 500
#define REPLAY_TIMEOUT_MS 3000
#define REPLAY_MAX_BYTES (8u << 20)
#define DEALER_MAX_BYTES (72 << 20) /* one event of CS_BUS_MAX_BYTES' ceiling (64 MiB) and more */
#define STALL_MS 30000
#define RETRY_MS 1000
#define PRUNE_BATCHES_PER_TICK 3

/* ---- types ------------------------------------------------------------------ */

typedef struct {
    const char *type;
    Cs__Envelope__BodyCase body;
} type_entry_t;

static const type_entry_t s_types[] = {
    {"intake.ticket.created", CS__ENVELOPE__BODY_TICKET_CREATED},
    {"intake.ticket.customer_replied", CS__ENVELOPE__BODY_CUSTOMER_REPLIED},
    {"intake.mail.rejected", CS__ENVELOPE__BODY_MAIL_REJECTED},
    {"intake.customer.upserted", CS__ENVELOPE__BODY_CUSTOMER_UPSERTED},
    {"intake.call.logged", CS__ENVELOPE__BODY_CALL_EVENT},
    {"intake.call.missed", CS__ENVELOPE__BODY_CALL_EVENT},
    {"dispatch.ticket.accepted", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.assigned", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.responded", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.status_changed", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.escalated", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.resolved", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.closed", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.reopened", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.terminated", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.customer_replied", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"sla.armed", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.warning", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.breached", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.met", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.paused", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.resumed", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"complaint.opened", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.accepted", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.classified", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.assigned", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.feedback_sent", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.resolved", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.archived", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"survey.requested", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"survey.answered", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"survey.low_score", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"notification.sent", CS__ENVELOPE__BODY_NOTIFICATION_EVENT},
    {"notification.failed", CS__ENVELOPE__BODY_NOTIFICATION_EVENT},
    {"test.event", CS__ENVELOPE__BODY_TICKET_EVENT},
    {NULL, CS__ENVELOPE__BODY__NOT_SET},
};

static int s_is_heartbeat_type(const char *type)
{
    size_t n = strlen(type);
    return n > 3 && strcmp(type + n - 3, ".hb") == 0;
}

Cs__Envelope__BodyCase cs_bus_type_body(const char *type)
{
    if (!type)
        return CS__ENVELOPE__BODY__NOT_SET;
    if (s_is_heartbeat_type(type))
        return CS__ENVELOPE__BODY_HEARTBEAT;
    for (const type_entry_t *t = s_types; t->type; t++)
        if (strcmp(t->type, type) == 0)
            return t->body;
    return CS__ENVELOPE__BODY__NOT_SET;
}

/* Count a rejected bus message; log each kind of rejection once (the
   counter tells how often it recurs — a flood of garbage must not become a
   flood of log lines). Reasons are our own constant strings. */
static void s_count_reject(const char *why)
{
    static const char *logged[32];
    static int nlogged;
    char labels[64];
    snprintf(labels, sizeof(labels), "reason=\"%s\"", why);
    cs_counter_add("cs_bus_rejected_total", labels, 1);
    for (int i = 0; i < nlogged; i++)
        if (strcmp(logged[i], why) == 0)
            return;
    if (nlogged < 32)
        logged[nlogged++] = why;
    cs_warn("bus: rejected a message (%s); further ones are only counted in"
            " cs_bus_rejected_total{reason=\"%s\"}",
            why, why);
}

/* Whether m, or a message inside it, holds a field numbered 0. Protobuf has no
   field 0, but libprotobuf-c 1.4 accepts one whose key is written in two or
   more bytes (it checks only the first byte), keeps it as an unknown field and
   packs it back in one byte that it then refuses: such an envelope would
   decode here and never again. Found by tests/fuzz/fuzz_envelope. */
static int s_has_field_zero(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        ProtobufCMessage *const *subs = (ProtobufCMessage *const *)(base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            subs = *(ProtobufCMessage *const *const *)(base + f->offset);
        }
        for (size_t j = 0; j < n; j++)
            if (subs[j] && s_has_field_zero(subs[j]))
                return 1;
    }
    return 0;
}

Cs__Envelope *cs_envelope_decode(const uint8_t *data, size_t len, size_t max_bytes,
                                 const char **why)
{
    if (len > max_bytes) {
        *why = "too_large";
        return NULL;
    }
    Cs__Envelope *env = cs__envelope__unpack(NULL, len, data);
    if (env && s_has_field_zero(&env->base)) {
        cs__envelope__free_unpacked(env, NULL);
        env = NULL;
    }
    if (!env) {
        *why = "undecodable";
        return NULL;
    }
    Cs__Envelope__BodyCase want = cs_bus_type_body(env->type);
    if (want == CS__ENVELOPE__BODY__NOT_SET) {
        *why = "unknown_type";
        cs__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    if (env->body_case != want) {
        *why = "body_mismatch";
        cs__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    return env;
}

/* ---- emitting ------------------------------------------------------------------ */

static char s_origin[64] = "unset-0";
static size_t s_max_bytes = CS_BUS_DEFAULT_MAX_BYTES;

void cs_bus_set_max_bytes(size_t max_bytes)
{
    s_max_bytes = max_bytes;
}

void cs_bus_set_origin(const char *stream)
{
    snprintf(s_origin, sizeof(s_origin), "%s", stream);
}

const char *cs_bus_origin(void)
{
    return s_origin;
}

int cs_bus_emit(cs_db_t *db, const char *type, Cs__Envelope *env)
{
    assert(cs_db_in_tx(db));
    char event_id[CS_UUID_LEN];
    if (!env->event_id || !*env->event_id) {
        cs_uuid(event_id);
        env->event_id = event_id;
    }
    env->type = (char *)type;
    if (!env->occurred_at_ms)
        env->occurred_at_ms = cs_now_ms();
    env->schema_version = CS_BUS_SCHEMA_VERSION;
    if (!env->trace_id)
        env->trace_id = "";
    env->stream = "";
    env->sequence = 0;
    assert(cs_bus_type_body(type) == env->body_case);

    size_t len = cs__envelope__get_packed_size(env);
    if (len > s_max_bytes) {
        /* Consumers would refuse it: better the unit of work fails here, loudly,
           than an event nobody can read. Callers bound what they put in. */
        cs_error("bus: %s event of %zu bytes is above the limit of %zu; not emitted", type, len,
                 s_max_bytes);
        cs_counter_add("cs_bus_emit_refused_total", "", 1);
        return -1;
    }
    uint8_t stackbuf[4096];
    uint8_t *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
    if (!buf)
        return -1;
    cs__envelope__pack(env, buf);
    const char *params[] = {s_origin, type, env->event_id, (const char *)buf};
    int lengths[] = {0, 0, 0, (int)len};
    int formats[] = {0, 0, 0, 1};
    PGresult *r = cs_db_exec_bin(db,
                                 "INSERT INTO outbox (origin, topic, event_id, envelope)"
                                 " VALUES ($1, $2, $3, $4)",
                                 4, params, lengths, formats, 0);
    if (buf != stackbuf)
        free(buf);
    if (env->event_id == event_id)
        env->event_id = NULL;
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* ---- publisher ------------------------------------------------------------------ */

struct cs_publisher {
    char service[32];
    char stream[64];
    zsock_t *pub;
    zsock_t *replay;
    cs_db_t *db;
    uint64_t head;
    uint64_t backlog;
    int relay_locked;
    int listening;
    int64_t started_at_ms;
    int64_t next_lock_try_ms;
    int64_t retention_s; /* numbered rows older than this are pruned; 0 keeps all */
    int64_t prune_batch; /* rows per pruning transaction */
};

static int s_fault_exit_after_commit;

cs_publisher_t *cs_publisher_new(const char *service, const char *stream, const char *pub_ep,
                                 const char *replay_ep, cs_db_t *db, cs_curve_t *curve)
{
    s_fault_exit_after_commit = strcmp(cs_env("CS_FAULT", ""), "relay_exit_after_commit") == 0;
    cs_publisher_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    snprintf(self->service, sizeof(self->service), "%s", service);
    snprintf(self->stream, sizeof(self->stream), "%s", stream);
    self->db = db;
    self->started_at_ms = cs_now_ms();
    self->pub = zsock_new(ZMQ_PUB);
    self->replay = zsock_new(ZMQ_ROUTER);
    if (!self->pub || !self->replay)
        goto fail;
    /* A generous send high-water mark; whatever a slow subscriber still
       misses is repaired from the replay socket. */
    int64_t hwm = 100000;
    if (cs_env_int("CS_BUS_SNDHWM", 100000, 1, 100000000, &hwm) < 0)
        goto fail;
    zsock_set_sndhwm(self->pub, (int)hwm);
    if (cs_env_int("CS_BUS_RETENTION_S", CS_BUS_DEFAULT_RETENTION_S, 0, INT32_MAX,
                   &self->retention_s) < 0 ||
        cs_env_int("CS_BUS_PRUNE_BATCH", 1000, 1, 100000, &self->prune_batch) < 0)
        goto fail;
    zsock_set_linger(self->pub, 1000);
    zsock_set_linger(self->replay, 0);
    zsock_set_router_mandatory(self->replay, 0);
    if (curve) {
        cs_curve_server(curve, self->pub);
        cs_curve_server(curve, self->replay);
    }
    if (zsock_bind(self->pub, "%s", pub_ep) < 0) {
        cs_error("bus: cannot bind PUB %s: %s", pub_ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zsock_bind(self->replay, "%s", replay_ep) < 0) {
        cs_error("bus: cannot bind replay %s: %s", replay_ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    return self;
fail:
    zsock_destroy(&self->pub);
    zsock_destroy(&self->replay);
    free(self);
    return NULL;
}

void cs_publisher_destroy(cs_publisher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cs_publisher_t *self = *self_p;
    zsock_destroy(&self->pub);
    zsock_destroy(&self->replay);
    free(self);
    *self_p = NULL;
}

zsock_t *cs_publisher_replay_sock(cs_publisher_t *self)
{
    return self->replay;
}

uint64_t cs_publisher_head(cs_publisher_t *self)
{
    return self->head;
}

uint64_t cs_publisher_backlog(cs_publisher_t *self)
{
    return self->backlog;
}

int cs_publisher_is_relay(cs_publisher_t *self)
{
    return self->relay_locked;
}

void cs_publisher_reset(cs_publisher_t *self)
{
    self->relay_locked = 0;
    self->listening = 0;
}

/* One relay per stream: a session advisory lock on the publisher's
   connection fences a second instance started with the same stream name. */
static int s_take_relay_lock(cs_publisher_t *self)
{
    if (self->relay_locked)
        return 0;
    int64_t now = cs_mono_ms();
    if (now < self->next_lock_try_ms)
        return -1;
    self->next_lock_try_ms = now + 2000;
    const char *p[] = {self->stream};
    PGresult *r = cs_db_exec(self->db, "SELECT pg_try_advisory_lock(hashtext('relay:' || $1))",
                             1, p);
    if (!r)
        return -1;
    int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!got) {
        cs_warn("bus: another relay holds stream %s; not publishing", self->stream);
        return -1;
    }
    r = cs_db_exec(self->db, "SELECT head FROM bus_stream WHERE stream = $1", 1, p);
    if (!r)
        return -1;
    self->head = PQntuples(r) ? (uint64_t)cs_db_get_i64(r, 0, 0) : 0;
    PQclear(r);
    if (!self->listening) {
        PGresult *l = PQexec(cs_db_conn(self->db), "LISTEN cs_outbox");
        self->listening = l && PQresultStatus(l) == PGRES_COMMAND_OK;
        PQclear(l);
    }
    self->relay_locked = 1;
    cs_info("bus: relay for stream %s active, head %" PRIu64, self->stream, self->head);
    return 0;
}

static uint64_t s_be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

/* Build the wire envelope: a packed {stream, sequence} prefix followed by
   the stored bytes (protobuf merges concatenated messages). */
static zframe_t *s_wire_frame(const char *stream, uint64_t seq, const void *stored, size_t len)
{
    Cs__Envelope head = CS__ENVELOPE__INIT;
    head.stream = (char *)stream;
    head.sequence = seq;
    size_t plen = cs__envelope__get_packed_size(&head);
    zframe_t *frame = zframe_new(NULL, plen + len);
    if (!frame)
        return NULL;
    cs__envelope__pack(&head, zframe_data(frame));
    memcpy(zframe_data(frame) + plen, stored, len);
    return frame;
}

typedef struct {
    uint64_t seq;
    int row;
} seq_row_t;

static int s_cmp_seq(const void *a, const void *b)
{
    const seq_row_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void s_publish_rows(cs_publisher_t *self, PGresult *r)
{
    int rows = PQntuples(r);
    seq_row_t *order = malloc(sizeof(*order) * (size_t)rows);
    if (!order)
        return; /* consumers repair from replay */
    for (int i = 0; i < rows; i++) {
        order[i].seq = s_be64(PQgetvalue(r, i, 0));
        order[i].row = i;
    }
    qsort(order, (size_t)rows, sizeof(*order), s_cmp_seq);
    for (int i = 0; i < rows; i++) {
        int row = order[i].row;
        zframe_t *topic = zframe_new(PQgetvalue(r, row, 1), (size_t)PQgetlength(r, row, 1));
        zframe_t *body = s_wire_frame(self->stream, order[i].seq, PQgetvalue(r, row, 2),
                                      (size_t)PQgetlength(r, row, 2));
        if (topic && body) {
            zframe_send(&topic, self->pub, ZFRAME_MORE);
            zframe_send(&body, self->pub, 0);
        }
        zframe_destroy(&topic);
        zframe_destroy(&body);
    }
    free(order);
    cs_counter_add("cs_bus_published_total", "", rows);
}

int cs_publisher_relay(cs_publisher_t *self)
{
    if (s_take_relay_lock(self) < 0)
        return 0;
    /* Drain wake-ups; the query below is the truth. */
    PGconn *conn = cs_db_conn(self->db);
    PQconsumeInput(conn);
    PGnotify *n;
    while ((n = PQnotifies(conn)))
        PQfreemem(n);

    if (cs_db_begin(self->db) < 0)
        return -1;
    char headbuf[24], batchbuf[24], newhead[24];
    const char *p1[] = {self->stream};
    PGresult *r = cs_db_exec(self->db,
                             "INSERT INTO bus_stream (stream) VALUES ($1)"
                             " ON CONFLICT (stream) DO UPDATE SET stream = EXCLUDED.stream"
                             " RETURNING head",
                             1, p1);
    if (!r)
        goto fail;
    uint64_t head = (uint64_t)cs_db_get_i64(r, 0, 0);
    PQclear(r);
    const char *p2[] = {self->stream, cs_db_i64(headbuf, (int64_t)head),
                        cs_db_i64(batchbuf, RELAY_BATCH)};
    r = cs_db_exec_bin(self->db,
                       "UPDATE outbox o SET seq = n.seq"
                       " FROM (SELECT id, $2::bigint + row_number() OVER (ORDER BY id) AS seq"
                       "       FROM (SELECT id FROM outbox WHERE origin = $1 AND seq IS NULL"
                       "             ORDER BY id LIMIT $3 FOR UPDATE) b) n"
                       " WHERE o.id = n.id RETURNING o.seq, o.topic, o.envelope",
                       3, p2, NULL, NULL, 1);
    if (!r)
        goto fail;
    int rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        cs_db_rollback(self->db);
        self->head = head;
        return 0;
    }
    const char *p3[] = {self->stream, cs_db_i64(newhead, (int64_t)(head + (uint64_t)rows))};
    if (cs_db_cmd(self->db, "UPDATE bus_stream SET head = $2, updated_at = now() WHERE stream = $1",
                  2, p3) < 0) {
        PQclear(r);
        goto fail;
    }
    if (cs_db_commit(self->db) < 0) {
        PQclear(r);
        return -1;
    }
    self->head = head + (uint64_t)rows;
    /* Committed: a crash from here on loses only the live copy, which
       consumers repair from the replay socket. CS_FAULT=relay_exit_after_commit
       makes exactly that crash happen, for the fault tests. */
    if (s_fault_exit_after_commit) {
        cs_warn("bus: fault injection: exiting between numbering and publishing");
        _exit(70);
    }
    s_publish_rows(self, r);
    PQclear(r);
    return rows;
fail:
    cs_db_rollback(self->db);
    return -1;
}

/* One pruning batch: delete up to prune_batch numbered rows older than the
   retention, taken from the bottom of the stream in sequence order and
   stopping at the first row still young, so that what stays is always one
   contiguous range ending at the head (replay answers GONE below it, never
   a hole in the middle). The head row itself always stays. The (origin, seq)
   unique index serves the scan; unnumbered rows are never touched. */
static int64_t s_prune_batch(cs_publisher_t *self)
{
    char rb[24], bb[24];
    const char *p[] = {self->stream, cs_db_i64(rb, self->retention_s),
                       cs_db_i64(bb, self->prune_batch)};
    return cs_db_cmd(self->db,
                     "WITH b AS (SELECT id, seq, created_at FROM outbox"
                     "           WHERE origin = $1 AND seq IS NOT NULL"
                     "             AND seq < (SELECT head FROM bus_stream WHERE stream = $1)"
                     "           ORDER BY seq LIMIT $3),"
                     " young AS (SELECT min(seq) AS seq FROM b"
                     "           WHERE created_at >= now() - $2::bigint * interval '1 second')"
                     " DELETE FROM outbox o USING b"
                     " WHERE o.id = b.id"
                     "   AND b.seq < coalesce((SELECT seq FROM young), 9223372036854775807)",
                     3, p);
}

int64_t cs_publisher_prune(cs_publisher_t *self)
{
    if (!self->relay_locked || self->retention_s == 0)
        return 0;
    int64_t total = 0;
    for (int i = 0; i < PRUNE_BATCHES_PER_TICK; i++) {
        int64_t n = s_prune_batch(self);
        if (n < 0)
            return -1;
        total += n;
        if (n < self->prune_batch)
            break;
    }
    if (total > 0)
        cs_counter_add("cs_bus_pruned_total", "", (double)total);
    return total;
}

/* Reply [identity][status][stream][head][envelope...] to a replay request. */
static void s_replay_reply(cs_publisher_t *self, zframe_t *identity, const char *status,
                           const char *detail, PGresult *rows)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &identity);
    zmsg_addstr(msg, status);
    zmsg_addstr(msg, detail ? detail : self->stream);
    zmsg_addstrf(msg, "%" PRIu64, self->head);
    /* Each event travels as [sequence][envelope], so that a consumer knows
       which sequence an envelope it cannot decode was, and can set it aside
       instead of asking for it forever. A reply carries at most
       REPLAY_MAX_BYTES (and always at least one event). */
    size_t bytes = 0;
    for (int i = 0; rows && i < PQntuples(rows); i++) {
        size_t len = (size_t)PQgetlength(rows, i, 1);
        if (i > 0 && bytes + len > REPLAY_MAX_BYTES)
            break;
        bytes += len;
        uint64_t seq = s_be64(PQgetvalue(rows, i, 0));
        zframe_t *f = s_wire_frame(self->stream, seq, PQgetvalue(rows, i, 1), len);
        if (!f)
            break;
        zmsg_addstrf(msg, "%" PRIu64, seq);
        zmsg_append(msg, &f);
    }
    zmsg_send(&msg, self->replay);
}

/* A consumer stuck below the retained range asks again every few seconds:
   warn once a minute, not at every request. */
static void s_log_gone(cs_publisher_t *self, uint64_t from, uint64_t first)
{
    static int64_t last_log;
    if (last_log && cs_mono_ms() - last_log < 60000)
        return;
    last_log = cs_mono_ms();
    cs_warn("bus: replay of %s from %" PRIu64 " asked for pruned events (kept from %" PRIu64
            "); answered GONE",
            self->stream, from, first);
}

void cs_publisher_on_replay(cs_publisher_t *self)
{
    zmsg_t *msg = zmsg_recv(self->replay);
    if (!msg)
        return;
    zframe_t *identity = zmsg_pop(msg);
    zframe_t *req_frame = zmsg_pop(msg);
    Cs__ReplayRequest *req = NULL;
    if (!identity || !req_frame || zframe_size(req_frame) > 1024 ||
        !(req = cs__replay_request__unpack(NULL, zframe_size(req_frame), zframe_data(req_frame)))) {
        cs_counter_add("cs_bus_replay_requests_total", "result=\"bad_request\"", 1);
        if (identity)
            s_replay_reply(self, identity, "ERR", "undecodable replay request", NULL);
        goto out;
    }
    if (req->stream[0] && strcmp(req->stream, self->stream) != 0) {
        cs_counter_add("cs_bus_replay_requests_total", "result=\"wrong_stream\"", 1);
        s_replay_reply(self, identity, "ERR", "unknown stream", NULL);
        goto out;
    }
    /* Refresh the head so that a consumer is told the committed truth even
       when this instance is not the active relay. */
    const char *ps[] = {self->stream};
    PGresult *h = cs_db_exec(self->db, "SELECT head FROM bus_stream WHERE stream = $1", 1, ps);
    if (!h) {
        s_replay_reply(self, identity, "ERR", "database unavailable", NULL);
        goto out;
    }
    if (PQntuples(h))
        self->head = (uint64_t)cs_db_get_i64(h, 0, 0);
    PQclear(h);
    if (req->from_seq == 0 || req->from_seq > self->head) {
        cs_counter_add("cs_bus_replay_requests_total", "result=\"head\"", 1);
        s_replay_reply(self, identity, "OK", NULL, NULL);
        goto out;
    }
    uint64_t to = req->to_seq && req->to_seq < self->head ? req->to_seq : self->head;
    uint32_t max = req->max_events && req->max_events < REPLAY_MAX_EVENTS ? req->max_events
                                                                          : REPLAY_MAX_EVENTS;
    char fb[24], tb[24], mb[24];
    const char *p[] = {self->stream, cs_db_i64(fb, (int64_t)req->from_seq),
                       cs_db_i64(tb, (int64_t)to), cs_db_i64(mb, max)};
    PGresult *r = cs_db_exec_bin(self->db,
                                 "SELECT seq, envelope FROM outbox"
                                 " WHERE origin = $1 AND seq >= $2 AND seq <= $3"
                                 " ORDER BY seq LIMIT $4",
                                 4, p, NULL, NULL, 1);
    if (!r) {
        s_replay_reply(self, identity, "ERR", "database unavailable", NULL);
        goto out;
    }
    if (PQntuples(r) == 0 || s_be64(PQgetvalue(r, 0, 0)) != req->from_seq) {
        /* Pruned by retention (or deleted by hand): say where what we still
           hold begins, so that the consumer can tell an operator what is lost. */
        uint64_t first = PQntuples(r) ? s_be64(PQgetvalue(r, 0, 0)) : self->head + 1;
        cs_counter_add("cs_bus_replay_requests_total", "result=\"gone\"", 1);
        s_log_gone(self, req->from_seq, first);
        PQclear(r);
        zmsg_t *gone = zmsg_new();
        zmsg_append(gone, &identity);
        zmsg_addstr(gone, "GONE");
        zmsg_addstr(gone, self->stream);
        zmsg_addstrf(gone, "%" PRIu64, self->head);
        zmsg_addstrf(gone, "%" PRIu64, first);
        zmsg_send(&gone, self->replay);
        goto out;
    }
    cs_counter_add("cs_bus_replay_requests_total", "result=\"ok\"", 1);
    cs_counter_add("cs_bus_replayed_total", "", PQntuples(r));
    s_replay_reply(self, identity, "OK", NULL, r);
    PQclear(r);
out:
    if (req)
        cs__replay_request__free_unpacked(req, NULL);
    zframe_destroy(&req_frame);
    zmsg_destroy(&msg);
}

void cs_publisher_heartbeat(cs_publisher_t *self, const char *health, uint64_t lag)
{
    const char *p[] = {self->stream};
    PGresult *r = cs_db_exec(self->db,
                             "SELECT count(*) FROM outbox WHERE origin = $1 AND seq IS NULL", 1,
                             p);
    if (r) {
        self->backlog = (uint64_t)cs_db_get_i64(r, 0, 0);
        PQclear(r);
    }
    cs_gauge_set("cs_bus_outbox_backlog", "", (double)self->backlog);
    cs_gauge_set("cs_bus_stream_head", "", (double)self->head);

    Cs__Heartbeat hb = CS__HEARTBEAT__INIT;
    hb.service = self->service;
    hb.instance = self->stream;
    hb.head = self->head;
    hb.health = (char *)health;
    hb.lag = lag;
    hb.version = CS_VERSION;
    hb.started_at_ms = self->started_at_ms;
    hb.outbox_backlog = self->backlog;
    char type[64];
    snprintf(type, sizeof(type), "%s.hb", self->service);
    char event_id[CS_UUID_LEN];
    cs_uuid(event_id);
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.event_id = event_id;
    env.stream = self->stream;
    env.sequence = 0;
    env.occurred_at_ms = cs_now_ms();
    env.type = type;
    env.trace_id = "";
    env.schema_version = CS_BUS_SCHEMA_VERSION;
    env.body_case = CS__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    size_t len = cs__envelope__get_packed_size(&env);
    zframe_t *body = zframe_new(NULL, len);
    zframe_t *topic = zframe_new(type, strlen(type));
    if (body && topic) {
        cs__envelope__pack(&env, zframe_data(body));
        zframe_send(&topic, self->pub, ZFRAME_MORE);
        zframe_send(&body, self->pub, 0);
    }
    zframe_destroy(&topic);
    zframe_destroy(&body);
}

/* ---- consumer ------------------------------------------------------------------ */

typedef struct {
    char type[64];
    cs_event_fn *fn;
    void *ctx;
} handler_t;

typedef struct {
    char name[32];
    char pub_ep[256];
    char replay_ep[256];
    zsock_t *sub;
    zsock_t *dealer;
    char stream[64];     /* learned from the publisher; "" until the handshake */
    int synced;          /* checkpoint loaded for stream */
    uint64_t cp;         /* last sequence applied */
    uint64_t persisted;  /* last sequence written to inbox_checkpoint */
    uint64_t head;       /* publisher's head as last told */
    int64_t replay_sent; /* monotonic ms of the request in flight, 0 if none */
    int64_t retry_at;    /* after a failed apply: no work before this (monotonic ms) */
    int64_t last_hb;     /* wall ms of the last heartbeat */
    char health[16];
    int gone;            /* the publisher no longer has what we need */
    uint64_t gone_first; /* the first sequence it still holds (0: not told) */
    int64_t progress_at; /* monotonic ms when the checkpoint last moved (or we were level) */
    uint64_t dead_letters;
} peer_t;

#define MAX_HANDLERS 64

struct cs_consumer {
    cs_db_t *db;
    size_t max_bytes;
    peer_t *peers;
    size_t npeers;
    handler_t handlers[MAX_HANDLERS];
    size_t nhandlers;
    int64_t next_flush;
};

cs_consumer_t *cs_consumer_new(cs_db_t *db, size_t max_bytes)
{
    cs_consumer_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->db = db;
    self->max_bytes = max_bytes ? max_bytes : CS_BUS_DEFAULT_MAX_BYTES;
    return self;
}

void cs_consumer_destroy(cs_consumer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cs_consumer_t *self = *self_p;
    for (size_t i = 0; i < self->npeers; i++) {
        zsock_destroy(&self->peers[i].sub);
        zsock_destroy(&self->peers[i].dealer);
    }
    free(self->peers);
    free(self);
    *self_p = NULL;
}

int cs_consumer_add_peer(cs_consumer_t *self, const char *name, const char *pub_ep,
                         const char *replay_ep, int rcvhwm, cs_curve_t *curve)
{
    peer_t *np = realloc(self->peers, sizeof(*np) * (self->npeers + 1));
    if (!np)
        return -1;
    self->peers = np;
    peer_t *p = &self->peers[self->npeers];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->pub_ep, sizeof(p->pub_ep), "%s", pub_ep);
    snprintf(p->replay_ep, sizeof(p->replay_ep), "%s", replay_ep);
    snprintf(p->health, sizeof(p->health), "unknown");
    p->sub = zsock_new(ZMQ_SUB);
    p->dealer = zsock_new(ZMQ_DEALER);
    if (!p->sub || !p->dealer)
        goto fail;
    /* Two caps. ZMQ_MAXMSGSIZE bounds the memory libzmq will spend on one
       message, far above any event a publisher can emit (cs_bus_emit refuses
       more than CS_BUS_MAX_BYTES, itself at most 64 MiB): libzmq treats a
       message above it as a protocol error and closes the connection for
       good, without reconnecting, so a lower cap would let one oversized
       event end a subscription. The business limit is the explicit check in
       cs_envelope_decode(), which counts the event as too_large; replay then
       sets it aside (s_dead_letter). */
    zsock_set_maxmsgsize(p->sub, DEALER_MAX_BYTES);
    zsock_set_maxmsgsize(p->dealer, DEALER_MAX_BYTES);
    if (rcvhwm > 0)
        zsock_set_rcvhwm(p->sub, rcvhwm);
    zsock_set_linger(p->dealer, 0);
    zsock_set_subscribe(p->sub, "");
    if (curve && (cs_curve_client(curve, p->sub, name) < 0 ||
                  cs_curve_client(curve, p->dealer, name) < 0))
        goto fail;
    if (zsock_connect(p->sub, "%s", pub_ep) < 0 || zsock_connect(p->dealer, "%s", replay_ep) < 0) {
        cs_error("bus: cannot connect to %s (%s, %s)", name, pub_ep, replay_ep);
        goto fail;
    }
    self->npeers++;
    return 0;
fail:
    zsock_destroy(&p->sub);
    zsock_destroy(&p->dealer);
    return -1;
}

void cs_consumer_on(cs_consumer_t *self, const char *type, cs_event_fn *fn, void *ctx)
{
    assert(self->nhandlers < MAX_HANDLERS);
    handler_t *h = &self->handlers[self->nhandlers++];
    snprintf(h->type, sizeof(h->type), "%s", type);
    h->fn = fn;
    h->ctx = ctx;
}

size_t cs_consumer_socket_count(cs_consumer_t *self)
{
    return self->npeers * 2;
}

zsock_t *cs_consumer_socket(cs_consumer_t *self, size_t i)
{
    peer_t *p = &self->peers[i / 2];
    return i % 2 ? p->dealer : p->sub;
}

static void s_request(peer_t *p, uint64_t from, uint64_t to)
{
    Cs__ReplayRequest req = CS__REPLAY_REQUEST__INIT;
    req.stream = p->synced ? p->stream : "";
    req.from_seq = from;
    req.to_seq = to;
    req.max_events = REPLAY_MAX_EVENTS;
    uint8_t buf[256];
    size_t len = cs__replay_request__pack(&req, buf);
    zframe_t *f = zframe_new(buf, len);
    if (f && zframe_send(&f, p->dealer, ZFRAME_DONTWAIT) == 0)
        p->replay_sent = cs_mono_ms();
    zframe_destroy(&f);
}

static void s_labels(char *buf, size_t size, const peer_t *p)
{
    snprintf(buf, size, "peer=\"%s\",stream=\"%s\"", p->name, p->stream[0] ? p->stream : "?");
}

/* Load (or create) the checkpoint of stream for peer p. */
static int s_load_checkpoint(cs_consumer_t *self, peer_t *p)
{
    const char *params[] = {p->stream};
    if (cs_db_cmd(self->db,
                  "INSERT INTO inbox_checkpoint (stream) VALUES ($1) ON CONFLICT DO NOTHING", 1,
                  params) < 0)
        return -1;
    PGresult *r = cs_db_exec(self->db, "SELECT last_seq FROM inbox_checkpoint WHERE stream = $1",
                             1, params);
    if (!r)
        return -1;
    p->cp = p->persisted = (uint64_t)cs_db_get_i64(r, 0, 0);
    PQclear(r);
    r = cs_db_exec(self->db, "SELECT count(*) FROM bus_dead_letter WHERE stream = $1", 1, params);
    if (!r)
        return -1;
    p->dead_letters = (uint64_t)cs_db_get_i64(r, 0, 0);
    PQclear(r);
    p->synced = 1;
    p->progress_at = cs_mono_ms();
    cs_info("bus: reading %s stream %s from sequence %" PRIu64, p->name, p->stream, p->cp + 1);
    return 0;
}

static const handler_t *s_handler(cs_consumer_t *self, const char *type)
{
    for (size_t i = 0; i < self->nhandlers; i++)
        if (strcmp(self->handlers[i].type, type) == 0)
            return &self->handlers[i];
    return NULL;
}

/* Apply env (sequence cp+1) and advance the checkpoint in one transaction.
   0 applied, -1 not applied (will be retried from replay). */
static int s_apply(cs_consumer_t *self, peer_t *p, const Cs__Envelope *env)
{
    char labels[160];
    s_labels(labels, sizeof(labels), p);
    const handler_t *h = s_handler(self, env->type);
    if (!h) {
        /* Not of interest: advance in memory; the next transaction or the
           periodic flush records it. */
        p->cp = env->sequence;
        p->progress_at = cs_mono_ms();
        cs_counter_add("cs_bus_consumed_total", labels, 1);
        return 0;
    }
    if (cs_db_ensure(self->db) < 0)
        return -1;
    cs_log_set_trace(env->trace_id);
    int64_t t0 = cs_mono_ms();
    char seqbuf[24], prevbuf[24];
    const char *params[] = {p->stream, cs_db_i64(seqbuf, (int64_t)env->sequence),
                            cs_db_i64(prevbuf, (int64_t)p->persisted)};
    if (cs_db_begin(self->db) < 0)
        goto fail;
    int64_t n = cs_db_cmd(self->db,
                          "UPDATE inbox_checkpoint SET last_seq = $2, updated_at = now()"
                          " WHERE stream = $1 AND last_seq = $3",
                          3, params);
    if (n != 1) {
        /* Someone else moved this checkpoint (a second consumer of the same
           partition, or a restore): start again from what the database says. */
        cs_db_rollback(self->db);
        if (n == 0) {
            cs_warn("bus: checkpoint of %s moved under us; reloading", p->stream);
            p->synced = 0;
        }
        goto fail_quiet;
    }
    int rc = h->fn(self->db, env, h->ctx);
    if (rc < 0) {
        cs_db_rollback(self->db);
        cs_warn("bus: %s seq %" PRIu64 " (%s) not applied; will retry", p->stream,
                env->sequence, env->type);
        goto fail;
    }
    if (cs_db_commit(self->db) < 0)
        goto fail;
    p->cp = p->persisted = env->sequence;
    p->progress_at = cs_mono_ms();
    cs_counter_add("cs_bus_consumed_total", labels, 1);
    cs_histogram_observe("cs_bus_apply_seconds", "", (double)(cs_mono_ms() - t0) / 1000.0);
    cs_log_set_trace("");
    return 0;
fail:
    cs_counter_add("cs_bus_apply_failures_total", labels, 1);
fail_quiet:
    cs_log_set_trace("");
    p->retry_at = cs_mono_ms() + RETRY_MS;
    p->replay_sent = 0;
    return -1;
}

/* One envelope frame from SUB. What cannot be read is counted and dropped:
   its sequence is unknown, and the gap it leaves is repaired from replay,
   where a still unreadable event is set aside (s_dead_letter). */
static void s_deliver_live(cs_consumer_t *self, peer_t *p, zframe_t *frame)
{
    const char *why = NULL;
    Cs__Envelope *env =
        cs_envelope_decode(zframe_data(frame), zframe_size(frame), self->max_bytes, &why);
    if (!env) {
        s_count_reject(why);
        return;
    }
    if (env->body_case == CS__ENVELOPE__BODY_HEARTBEAT) {
        if (p->synced && strcmp(env->stream, p->stream) == 0) {
            p->last_hb = cs_now_ms();
            snprintf(p->health, sizeof(p->health), "%s", env->heartbeat->health);
            p->head = env->heartbeat->head;
        } else if (!p->synced) {
            p->last_hb = cs_now_ms();
        }
        goto out;
    }
    if (!p->synced || cs_mono_ms() < p->retry_at)
        goto out; /* replay will bring it once we know where we stand */
    if (strcmp(env->stream, p->stream) != 0) {
        s_count_reject("wrong_stream");
        goto out;
    }
    char labels[160];
    s_labels(labels, sizeof(labels), p);
    if (env->sequence <= p->cp) {
        cs_counter_add("cs_bus_duplicates_total", labels, 1);
        goto out;
    }
    if (env->sequence > p->cp + 1) {
        cs_counter_add("cs_bus_gaps_total", labels, 1);
        if (!p->replay_sent)
            s_request(p, p->cp + 1, 0);
        goto out;
    }
    if (env->sequence > p->head)
        p->head = env->sequence;
    s_apply(self, p, env);
out:
    cs__envelope__free_unpacked(env, NULL);
}

/* Set aside the event at seq (cp + 1) that cannot be read, and move the
   checkpoint past it, in one transaction: one bad event never stops a stream,
   and its bytes stay for an operator. 0 or -1 (retried later). */
static int s_dead_letter(cs_consumer_t *self, peer_t *p, uint64_t seq, const char *reason,
                         const void *data, size_t len)
{
    char seqbuf[24], prevbuf[24];
    const char *params[] = {p->stream, cs_db_i64(seqbuf, (int64_t)seq),
                            cs_db_i64(prevbuf, (int64_t)p->persisted)};
    int lengths[] = {0, 0, 0, 0, (int)len}; /* row[] below uses lengths + 1 */
    int formats[] = {0, 0, 0, 0, 1};
    if (cs_db_ensure(self->db) < 0 || cs_db_begin(self->db) < 0)
        goto fail;
    if (cs_db_cmd(self->db,
                  "UPDATE inbox_checkpoint SET last_seq = $2, updated_at = now()"
                  " WHERE stream = $1 AND last_seq = $3",
                  3, params) != 1) {
        cs_db_rollback(self->db);
        p->synced = 0;
        goto fail;
    }
    const char *row[] = {p->stream, seqbuf, reason, data};
    PGresult *r = cs_db_exec_bin(self->db,
                                 "INSERT INTO bus_dead_letter (stream, seq, reason, envelope)"
                                 " VALUES ($1, $2, $3, $4) ON CONFLICT (stream, seq) DO NOTHING",
                                 4, row, lengths + 1, formats + 1, 0);
    if (!r) {
        cs_db_rollback(self->db);
        goto fail;
    }
    PQclear(r);
    if (cs_db_commit(self->db) < 0)
        goto fail;
    p->cp = p->persisted = seq;
    p->progress_at = cs_mono_ms();
    p->dead_letters++;
    char labels[200];
    snprintf(labels, sizeof(labels), "stream=\"%s\",reason=\"%s\"", p->stream, reason);
    cs_counter_add("cs_bus_dead_letters_total", labels, 1);
    cs_error("bus: %s sequence %" PRIu64 " cannot be read (%s, %zu bytes); set aside in"
             " bus_dead_letter and skipped — an operator should look at it",
             p->stream, seq, reason, len);
    return 0;
fail:
    p->retry_at = cs_mono_ms() + RETRY_MS;
    p->replay_sent = 0;
    return -1;
}

/* A replayed envelope that may be applied at seq: decoded, not a heartbeat,
   of this stream and of this sequence. NULL (and why) otherwise. */
static Cs__Envelope *s_replayed_env(cs_consumer_t *self, peer_t *p, uint64_t seq, zframe_t *frame,
                                    const char **why)
{
    *why = NULL;
    Cs__Envelope *env =
        cs_envelope_decode(zframe_data(frame), zframe_size(frame), self->max_bytes, why);
    if (!env)
        return NULL;
    if (env->body_case == CS__ENVELOPE__BODY_HEARTBEAT)
        *why = "heartbeat_in_replay";
    else if (strcmp(env->stream, p->stream) != 0)
        *why = "wrong_stream";
    else if (env->sequence != seq)
        *why = "sequence_mismatch";
    if (*why) {
        cs__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    return env;
}

/* Apply n consecutive events (cp+1 … cp+n) and move the checkpoint once, in
   one transaction: replay and catch-up pay one durable commit per batch, not
   per event. 0, or -1 with nothing applied (the caller then goes one by one,
   so that a failing event is isolated and retried on its own). */
static int s_apply_batch(cs_consumer_t *self, peer_t *p, Cs__Envelope **envs, size_t n)
{
    if (cs_db_ensure(self->db) < 0)
        return -1;
    int64_t t0 = cs_mono_ms();
    uint64_t last = envs[n - 1]->sequence;
    char seqbuf[24], prevbuf[24];
    const char *params[] = {p->stream, cs_db_i64(seqbuf, (int64_t)last),
                            cs_db_i64(prevbuf, (int64_t)p->persisted)};
    if (cs_db_begin(self->db) < 0)
        return -1;
    int64_t moved = cs_db_cmd(self->db,
                              "UPDATE inbox_checkpoint SET last_seq = $2, updated_at = now()"
                              " WHERE stream = $1 AND last_seq = $3",
                              3, params);
    if (moved != 1) {
        cs_db_rollback(self->db);
        if (moved == 0)
            p->synced = 0;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const handler_t *h = s_handler(self, envs[i]->type);
        if (!h)
            continue;
        cs_log_set_trace(envs[i]->trace_id);
        int rc = h->fn(self->db, envs[i], h->ctx);
        cs_log_set_trace("");
        if (rc < 0) {
            cs_db_rollback(self->db);
            return -1;
        }
    }
    if (cs_db_commit(self->db) < 0)
        return -1;
    p->cp = p->persisted = last;
    p->progress_at = cs_mono_ms();
    char labels[160];
    s_labels(labels, sizeof(labels), p);
    cs_counter_add("cs_bus_consumed_total", labels, (double)n);
    cs_histogram_observe("cs_bus_apply_batch_seconds", "", (double)(cs_mono_ms() - t0) / 1000.0);
    return 0;
}

/* One [sequence][envelope] pair of a replay reply. Returns 0 to go on with
   the reply, -1 to drop the rest of it (not applicable now). */
static int s_deliver_replayed(cs_consumer_t *self, peer_t *p, const char *seqtext, zframe_t *frame)
{
    int64_t seq;
    if (cs_parse_int(seqtext, 1, INT64_MAX, &seq) < 0) {
        s_count_reject("bad_replay_reply");
        return -1;
    }
    char labels[160];
    s_labels(labels, sizeof(labels), p);
    if ((uint64_t)seq <= p->cp) {
        cs_counter_add("cs_bus_duplicates_total", labels, 1);
        return 0;
    }
    if ((uint64_t)seq != p->cp + 1)
        return -1; /* a hole in the reply: ask again from the checkpoint */
    const char *why = NULL;
    Cs__Envelope *env = s_replayed_env(self, p, (uint64_t)seq, frame, &why);
    int rc;
    if (!env) {
        s_count_reject(why);
        rc = s_dead_letter(self, p, (uint64_t)seq, why, zframe_data(frame), zframe_size(frame));
    } else {
        rc = s_apply(self, p, env);
    }
    if (env)
        cs__envelope__free_unpacked(env, NULL);
    return rc;
}

/* Stream names come from the network: letters, digits, '-', '_' and '.' only. */
static int s_valid_stream(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* The publisher pruned (retention, CS_BUS_RETENTION_S) events this consumer
   has not applied yet: [GONE][stream][head][first kept]. Nothing past the
   checkpoint can be proven contiguous, so nothing is applied; the service
   reports itself not ready (cs_consumer_health) and says once what an
   operator must do. The checkpoint is re-read while gone (cs_consumer_tick),
   so that an operator's decision takes effect without a restart. */
static void s_on_gone(cs_consumer_t *self, peer_t *p, zmsg_t *msg)
{
    (void)self;
    char *first = zmsg_popstr(msg);
    int64_t f = 0;
    if (!first || cs_parse_int(first, 1, INT64_MAX, &f) < 0 || (uint64_t)f <= p->cp + 1)
        f = 0; /* an older publisher, or nonsense: we only know it is gone */
    free(first);
    p->gone_first = (uint64_t)f;
    if (p->gone)
        return;
    p->gone = 1;
    if (f)
        cs_error("bus: %s pruned events %" PRIu64 "..%" PRIu64 " of stream %s before this"
                 " consumer applied them (the publisher keeps CS_BUS_RETENTION_S); nothing past"
                 " %" PRIu64 " is applied and the service is not ready. An operator must either"
                 " restore those events into the outbox of %s, or accept their loss with"
                 " UPDATE inbox_checkpoint SET last_seq = %" PRIu64 " WHERE stream = '%s'"
                 " in this service's schema (picked up without a restart)",
                 p->name, p->cp + 1, (uint64_t)f - 1, p->stream, p->cp, p->name,
                 (uint64_t)f - 1, p->stream);
    else
        cs_error("bus: %s no longer holds events after %" PRIu64 " of stream %s; nothing"
                 " past it is applied and the service is not ready. An operator must restore"
                 " the missing events or move inbox_checkpoint.last_seq of %s past them",
                 p->name, p->cp, p->stream, p->stream);
}

/* While gone: an operator may have moved the checkpoint (see s_on_gone). */
static void s_reread_checkpoint(cs_consumer_t *self, peer_t *p)
{
    const char *params[] = {p->stream};
    PGresult *r = cs_db_exec(self->db, "SELECT last_seq FROM inbox_checkpoint WHERE stream = $1",
                             1, params);
    if (!r)
        return;
    uint64_t cp = PQntuples(r) ? (uint64_t)cs_db_get_i64(r, 0, 0) : p->persisted;
    PQclear(r);
    if (cp == p->persisted)
        return;
    cs_warn("bus: checkpoint of %s moved from %" PRIu64 " to %" PRIu64 " by an operator", p->stream,
            p->persisted, cp);
    p->cp = p->persisted = cp;
    p->progress_at = cs_mono_ms();
}

#define APPLY_BATCH 200

/* The [sequence][envelope] pairs of an OK replay reply, in order: runs of
   applicable events go in batches (s_apply_batch); anything else — a
   duplicate, a hole, an unreadable event, a batch that failed — goes one by
   one through s_deliver_replayed / s_apply. Stops at the first event that
   could not be applied; the rest will be asked for again. */
static void s_deliver_reply_events(cs_consumer_t *self, peer_t *p, zmsg_t *msg)
{
    size_t n = zmsg_size(msg) / 2;
    char **seqtext = calloc(n ? n : 1, sizeof(*seqtext));
    zframe_t **frame = calloc(n ? n : 1, sizeof(*frame));
    Cs__Envelope *envs[APPLY_BATCH];
    if (!seqtext || !frame)
        goto out;
    for (size_t i = 0; i < n; i++) {
        seqtext[i] = zmsg_popstr(msg);
        frame[i] = zmsg_pop(msg);
    }
    size_t i = 0;
    while (i < n && seqtext[i] && frame[i] && cs_mono_ms() >= p->retry_at) {
        size_t k = 0;
        while (i + k < n && k < APPLY_BATCH && seqtext[i + k] && frame[i + k]) {
            int64_t seq;
            const char *why;
            if (cs_parse_int(seqtext[i + k], 1, INT64_MAX, &seq) < 0 ||
                (uint64_t)seq != p->cp + 1 + k)
                break;
            Cs__Envelope *env = s_replayed_env(self, p, (uint64_t)seq, frame[i + k], &why);
            if (!env)
                break;
            envs[k++] = env;
        }
        int stop = 0;
        if (k >= 2) {
            if (s_apply_batch(self, p, envs, k) < 0)
                for (size_t m = 0; m < k && s_apply(self, p, envs[m]) == 0; m++)
                    ;
            stop = p->cp != envs[k - 1]->sequence;
            i += k;
        } else {
            stop = s_deliver_replayed(self, p, seqtext[i], frame[i]) < 0;
            i++;
        }
        for (size_t m = 0; m < k; m++)
            cs__envelope__free_unpacked(envs[m], NULL);
        if (stop)
            break;
    }
out:
    for (size_t i = 0; seqtext && frame && i < n; i++) {
        free(seqtext[i]);
        zframe_destroy(&frame[i]);
    }
    free(seqtext);
    free(frame);
}

static void s_on_reply(cs_consumer_t *self, peer_t *p)
{
    zmsg_t *msg = zmsg_recv(p->dealer);
    if (!msg)
        return;
    char *status = zmsg_popstr(msg);
    char *stream = zmsg_popstr(msg);
    char *head = zmsg_popstr(msg);
    int64_t h = 0;
    if (!status || !stream || !head || cs_parse_int(head, 0, INT64_MAX, &h) < 0) {
        s_count_reject("bad_replay_reply");
        goto out;
    }
    p->replay_sent = 0;
    if (strcmp(status, "GONE") == 0 && p->synced) {
        s_on_gone(self, p, msg);
        p->retry_at = cs_mono_ms() + RETRY_MS * 5;
        goto out;
    }
    if (strcmp(status, "OK") != 0) {
        cs_warn("bus: replay request to %s refused: %s", p->name, stream);
        p->retry_at = cs_mono_ms() + RETRY_MS * 5;
        goto out;
    }
    if (!s_valid_stream(stream) || strlen(stream) >= sizeof(p->stream)) {
        s_count_reject("bad_replay_reply");
        goto out;
    }
    if (p->synced && strcmp(stream, p->stream) != 0) {
        cs_warn("bus: %s now serves stream %s instead of %s; re-reading", p->name, stream,
                p->stream);
        p->synced = 0;
    }
    if (!p->synced) {
        snprintf(p->stream, sizeof(p->stream), "%s", stream);
        if (s_load_checkpoint(self, p) < 0) {
            p->retry_at = cs_mono_ms() + RETRY_MS;
            goto out;
        }
    }
    p->head = (uint64_t)h;
    if (p->gone && (zmsg_size(msg) > 0 || p->cp >= p->head)) {
        p->gone = 0;
        cs_info("bus: %s readable again from %" PRIu64, p->stream, p->cp + 1);
    }
    s_deliver_reply_events(self, p, msg);
    if (p->cp < p->head && cs_mono_ms() >= p->retry_at)
        s_request(p, p->cp + 1, 0);
out:
    free(status);
    free(stream);
    free(head);
    zmsg_destroy(&msg);
}

void cs_consumer_on_readable(cs_consumer_t *self, size_t i)
{
    peer_t *p = &self->peers[i / 2];
    if (i % 2) {
        s_on_reply(self, p);
        return;
    }
    /* Live: [topic][envelope]; the topic only serves subscription filters. */
    zmsg_t *msg = zmsg_recv(p->sub);
    if (!msg)
        return;
    if (zmsg_size(msg) != 2) {
        s_count_reject("bad_frames");
    } else {
        zframe_t *topic = zmsg_first(msg);
        zframe_t *body = zmsg_next(msg);
        (void)topic;
        s_deliver_live(self, p, body);
    }
    zmsg_destroy(&msg);
}

static void s_flush(cs_consumer_t *self, peer_t *p)
{
    if (!p->synced || p->cp <= p->persisted)
        return;
    char a[24], b[24];
    const char *params[] = {p->stream, cs_db_i64(a, (int64_t)p->cp),
                            cs_db_i64(b, (int64_t)p->persisted)};
    int64_t n = cs_db_cmd(self->db,
                          "UPDATE inbox_checkpoint SET last_seq = $2, updated_at = now()"
                          " WHERE stream = $1 AND last_seq = $3",
                          3, params);
    if (n == 1)
        p->persisted = p->cp;
    else if (n == 0)
        p->synced = 0;
}

void cs_consumer_tick(cs_consumer_t *self)
{
    int64_t now = cs_mono_ms();
    int flush = now >= self->next_flush;
    if (flush)
        self->next_flush = now + 1000;
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        char labels[160];
        s_labels(labels, sizeof(labels), p);
        cs_gauge_set("cs_bus_consumer_lag", labels,
                     (double)(p->head > p->cp ? p->head - p->cp : 0));
        if (p->replay_sent && now - p->replay_sent > REPLAY_TIMEOUT_MS)
            p->replay_sent = 0; /* lost or publisher down: ask again */
        if (p->replay_sent || now < p->retry_at)
            continue;
        if (cs_db_ensure(self->db) < 0)
            continue;
        if (p->synced && p->gone)
            s_reread_checkpoint(self, p);
        if (!p->synced)
            s_request(p, 0, 0); /* handshake: which stream, which head */
        else if (p->head > p->cp)
            s_request(p, p->cp + 1, 0);
        if (flush)
            s_flush(self, p);
    }
}

uint64_t cs_consumer_lag(cs_consumer_t *self)
{
    uint64_t lag = 0;
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i].head > self->peers[i].cp)
            lag += self->peers[i].head - self->peers[i].cp;
    return lag;
}

int cs_consumer_synced(cs_consumer_t *self)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (!self->peers[i].synced || self->peers[i].gone)
            return 0;
    return 1;
}

static void s_item(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_item(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 4 >= size)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(buf + n, size - n, "%s\"%s\"", n ? "," : "", text);
}

int cs_consumer_health(cs_consumer_t *self, char *reasons, size_t rsize, char *warnings,
                       size_t wsize)
{
    int ok = 1;
    int64_t mono = cs_mono_ms(), now = cs_now_ms();
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        if (!p->synced) {
            s_item(reasons, rsize, "not yet in contact with %s at %s", p->name, p->replay_ep);
            ok = 0;
            continue;
        }
        if (p->gone && p->gone_first) {
            s_item(reasons, rsize,
                   "%s: events %" PRIu64 "..%" PRIu64 " were pruned at the publisher before"
                   " they were applied; stopped at %" PRIu64 " (operator action needed, see log)",
                   p->stream, p->cp + 1, p->gone_first - 1, p->cp);
            ok = 0;
        } else if (p->gone) {
            s_item(reasons, rsize,
                   "%s: events after %" PRIu64 " were pruned at the publisher before they were"
                   " applied (operator action needed, see log)",
                   p->stream, p->cp);
            ok = 0;
        }
        if (p->cp >= p->head)
            p->progress_at = mono;
        else if (mono - p->progress_at > STALL_MS) {
            s_item(reasons, rsize, "%s: stalled at %" PRIu64 " of %" PRIu64 " for %llds",
                   p->stream, p->cp, p->head, (long long)((mono - p->progress_at) / 1000));
            ok = 0;
        }
        if (!p->last_hb || now - p->last_hb > 10000)
            s_item(warnings, wsize, "no heartbeat from %s for %s", p->stream,
                   p->last_hb ? "over 10 s" : "ever");
        if (p->dead_letters)
            s_item(warnings, wsize, "%s: %" PRIu64 " event(s) set aside in bus_dead_letter",
                   p->stream, p->dead_letters);
    }
    return ok;
}

void cs_consumer_reset(cs_consumer_t *self)
{
    for (size_t i = 0; i < self->npeers; i++) {
        self->peers[i].synced = 0;
        self->peers[i].replay_sent = 0;
    }
}

char *cs_consumer_status_json(cs_consumer_t *self)
{
    size_t cap = 256 + self->npeers * 512;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n = (size_t)snprintf(buf, cap, "[");
    int64_t now = cs_now_ms();
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        n += (size_t)snprintf(buf + n, cap - n,
                              "%s{\"peer\":\"%s\",\"stream\":\"%s\",\"synced\":%s,\"gone\":%s,"
                              "\"dead_letters\":%" PRIu64 ","
                              "\"checkpoint\":%" PRIu64 ",\"head\":%" PRIu64
                              ",\"lag\":%" PRIu64 ",\"health\":\"%s\",\"heartbeat_age_ms\":%lld}",
                              i ? "," : "", p->name, p->stream, p->synced ? "true" : "false",
                              p->gone ? "true" : "false", p->dead_letters, p->cp, p->head,
                              p->head > p->cp ? p->head - p->cp : 0, p->health,
                              p->last_hb ? (long long)(now - p->last_hb) : -1LL);
    }
    snprintf(buf + n, cap - n, "]");
    return buf;
}
