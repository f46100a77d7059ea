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

#define RELAY_BATCH_DEFAULT 500 /* CS_BUS_RELAY_BATCH: events numbered per relay transaction */
#define APPLY_BATCH_DEFAULT 200 /* CS_BUS_APPLY_BATCH: events applied per consumer transaction */
#define APPLY_BATCH_CEILING 1000
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
    {"dispatch.ticket.reclassified", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.transferred", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"dispatch.ticket.noted", CS__ENVELOPE__BODY_TICKET_EVENT},
    {"sla.armed", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.warning", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.breached", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.met", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.paused", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.resumed", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.changed", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"sla.escalated", CS__ENVELOPE__BODY_CLOCK_EVENT},
    {"complaint.opened", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.accepted", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.classified", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.investigating", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.assigned", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.feedback_sent", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.resolved", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.feedback_answered", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.escalated", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"complaint.archived", CS__ENVELOPE__BODY_COMPLAINT_EVENT},
    {"survey.requested", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"survey.answered", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"survey.low_score", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"survey.reminded", CS__ENVELOPE__BODY_SURVEY_EVENT},
    {"survey.follow_up", CS__ENVELOPE__BODY_SURVEY_EVENT},
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

/* ---- the events of a transaction, written at its end ------------------------------ */

/* cs_bus_emit() packs each event at once (a size error is the caller's at
   once) and keeps it with its handle's transaction; just before COMMIT all of
   them go to bus_pending in one statement, as three arrays in PostgreSQL's
   binary array format: one round trip and one statement per transaction
   instead of one per event. Above EMIT_FLUSH_BYTES they are written early,
   within the transaction. */
#define EMIT_FLUSH_BYTES (4u << 20)
#define OID_BYTEA 17
#define OID_TEXT 25

typedef struct {
    uint8_t *data;
    size_t len, cap;
} bytes_t;

typedef struct {
    uint32_t count;
    bytes_t topics, ids, envelopes; /* array element bodies: [int32 length][bytes] … */
} emit_batch_t;

static int s_bytes_put(bytes_t *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

static int s_bytes_put_u32(bytes_t *b, uint32_t v)
{
    uint32_t be = htonl(v);
    return s_bytes_put(b, &be, 4);
}

static int s_element(bytes_t *b, const void *data, size_t len)
{
    return s_bytes_put_u32(b, (uint32_t)len) < 0 || s_bytes_put(b, data, len) < 0 ? -1 : 0;
}

/* One-dimensional array of count elements of type oid, lower bound 1. */
static int s_array(bytes_t *out, uint32_t oid, uint32_t count, const bytes_t *body)
{
    out->len = 0;
    return s_bytes_put_u32(out, 1) < 0 || s_bytes_put_u32(out, 0) < 0 ||
                   s_bytes_put_u32(out, oid) < 0 || s_bytes_put_u32(out, count) < 0 ||
                   s_bytes_put_u32(out, 1) < 0 || s_bytes_put(out, body->data, body->len) < 0
               ? -1
               : 0;
}

static void s_batch_clear(void *slot)
{
    emit_batch_t *b = slot;
    b->count = 0;
    b->topics.len = b->ids.len = b->envelopes.len = 0;
}

static void s_batch_free(void *slot)
{
    emit_batch_t *b = slot;
    free(b->topics.data);
    free(b->ids.data);
    free(b->envelopes.data);
    free(b);
}

static int s_batch_flush(cs_db_t *db, void *slot)
{
    emit_batch_t *b = slot;
    if (b->count == 0)
        return 0;
    bytes_t arr[3] = {{0}};
    int rc = -1;
    if (s_array(&arr[0], OID_TEXT, b->count, &b->topics) < 0 ||
        s_array(&arr[1], OID_TEXT, b->count, &b->ids) < 0 ||
        s_array(&arr[2], OID_BYTEA, b->count, &b->envelopes) < 0)
        goto out;
    const char *params[] = {s_origin, (const char *)arr[0].data, (const char *)arr[1].data,
                            (const char *)arr[2].data};
    int lengths[] = {0, (int)arr[0].len, (int)arr[1].len, (int)arr[2].len};
    int formats[] = {0, 1, 1, 1};
    int64_t n = cs_db_cmd_bin(db,
                              "INSERT INTO bus_pending (origin, topic, event_id, envelope)"
                              " SELECT $1, t, e::uuid, v"
                              " FROM unnest($2::text[], $3::text[], $4::bytea[])"
                              "      WITH ORDINALITY AS u(t, e, v, o) ORDER BY o",
                              4, params, lengths, formats);
    if (n == (int64_t)b->count)
        rc = 0;
    else if (n >= 0)
        cs_error("bus: %" PRId64 " of %u events written to the outbox", n, b->count);
out:
    if (rc < 0)
        cs_db_set_failed(db); /* the events are gone from memory: no commit without them */
    for (int i = 0; i < 3; i++)
        free(arr[i].data);
    s_batch_clear(b);
    return rc;
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

    int rc = -1;
    size_t len = cs__envelope__get_packed_size(env);
    if (len > s_max_bytes) {
        /* Consumers would refuse it: better the unit of work fails here, loudly,
           than an event nobody can read. Callers bound what they put in. */
        cs_error("bus: %s event of %zu bytes is above the limit of %zu; not emitted", type, len,
                 s_max_bytes);
        cs_counter_add("cs_bus_emit_refused_total", "", 1);
        goto out;
    }
    void **slot = cs_db_deferred(db);
    if (!*slot) {
        cs_db_set_deferred_ops(s_batch_flush, s_batch_clear, s_batch_free);
        *slot = calloc(1, sizeof(emit_batch_t));
        if (!*slot)
            goto out;
    }
    emit_batch_t *b = *slot;
    uint8_t stackbuf[4096];
    uint8_t *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
    if (!buf)
        goto out;
    cs__envelope__pack(env, buf);
    int put = s_element(&b->topics, type, strlen(type)) == 0 &&
              s_element(&b->ids, env->event_id, strlen(env->event_id)) == 0 &&
              s_element(&b->envelopes, buf, len) == 0;
    if (buf != stackbuf)
        free(buf);
    if (!put) {
        /* the three arrays would no longer line up: the transaction cannot commit */
        s_batch_clear(b);
        cs_db_set_failed(db);
        goto out;
    }
    b->count++;
    cs_db_wake_on_commit(db);
    rc = b->envelopes.len >= EMIT_FLUSH_BYTES ? s_batch_flush(db, b) : 0;
out:
    if (env->event_id == event_id)
        env->event_id = NULL;
    return rc;
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
    int64_t started_at_ms;
    int64_t next_lock_try_ms;
    int64_t retention_s; /* numbered rows older than this are pruned; 0 keeps all */
    int64_t prune_batch; /* rows per pruning transaction */
    int64_t relay_batch; /* events numbered per relay transaction */
    char relay_sql[1600];
    int64_t low;            /* the low-water mark (s_relay_sql); 0 until known */
    int64_t low_saved;      /* as last written to bus_stream.low_id */
    int64_t cand_id;        /* a candidate low: the last id taken (L), -1 if none */
    int64_t cand_xid;       /* … and an xid taken after reading it (X) */
    int64_t slow_warned_at; /* monotonic ms of the last slow-pass warning */
};

/* The relay's statement, with the batch size written in (a prepared
   statement with LIMIT $n gets a generic plan that expects many rows).

   The relay's low-water mark. Pending rows are deleted as they are
   numbered, and a scan from the bottom of the (origin, id) key would step
   over every dead row until vacuum: the scan starts above low instead, an id
   at or below which every pending row is numbered or was never committed.
   A row can commit out of id order, so low only moves when that is proven.
   Every id is taken after its transaction got an xid (bus_next_id). The
   relay reads the last id taken, L, then takes an xid of its own, X
   (bus_low_candidate): every transaction that took an id <= L has an xid
   below X. L must be read under the sequence's buffer lock
   (pg_sequence_last_value): a plain SELECT from the sequence can see the
   value nextval writes into its WAL record, up to 32 ahead.
   Once a later numbering statement's snapshot has xmin > X, all of them have
   ended (a running xid below X would hold xmin at or below it), so that
   statement saw every committed row up to L: when it numbered all it saw
   (fewer than a batch), low moves to L; else to the last id it numbered, if
   lower. (A snapshot's xmax would not do for X: it is one past the last
   *completed* xid, and a running transaction may already hold a higher one.) */
static void s_relay_sql(cs_publisher_t *self)
{
    snprintf(self->relay_sql, sizeof(self->relay_sql),
             "WITH pick AS ("
             "   SELECT id FROM bus_pending WHERE origin = $1 AND id > $3::bigint"
             "   ORDER BY id LIMIT %" PRId64 "),"
             " moved AS ("
             "   DELETE FROM bus_pending p USING pick"
             "   WHERE p.origin = $1 AND p.id = pick.id"
             "   RETURNING p.id, p.topic, p.event_id, p.envelope, p.created_at),"
             " logged AS ("
             "   INSERT INTO bus_log (origin, seq, id, topic, event_id, envelope, created_at)"
             "   SELECT $1, $2::bigint + row_number() OVER (ORDER BY id), id, topic, event_id,"
             "          envelope, created_at FROM moved"
             "   RETURNING seq, id, topic, envelope),"
             " head AS ("
             "   UPDATE bus_stream SET head = head + (SELECT count(*) FROM moved),"
             "          updated_at = now()"
             "   WHERE stream = $1 AND head = $2::bigint AND EXISTS (SELECT 1 FROM moved)"
             "   RETURNING head)"
             " SELECT -1::bigint, NULL::text, NULL::bytea, (SELECT head FROM head),"
             "        pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
             " UNION ALL"
             " SELECT seq, topic, envelope, id, NULL FROM logged",
             self->relay_batch);
}

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
    self->cand_id = -1;
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
        cs_env_int("CS_BUS_PRUNE_BATCH", 1000, 1, 100000, &self->prune_batch) < 0 ||
        cs_env_int("CS_BUS_RELAY_BATCH", RELAY_BATCH_DEFAULT, 1, 10000, &self->relay_batch) < 0)
        goto fail;
    s_relay_sql(self);
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
    self->cand_id = -1;
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
    PGresult *r =
        cs_db_exec(self->db, "SELECT pg_try_advisory_lock(hashtext('relay:' || $1))", 1, p);
    if (!r)
        return -1;
    int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!got) {
        cs_warn("bus: another relay holds stream %s; not publishing", self->stream);
        return -1;
    }
    r = cs_db_exec(self->db,
                   "INSERT INTO bus_stream (stream) VALUES ($1)"
                   " ON CONFLICT (stream) DO UPDATE SET stream = EXCLUDED.stream"
                   " RETURNING head, low_id",
                   1, p);
    if (!r)
        return -1;
    self->head = (uint64_t)cs_db_get_i64(r, 0, 0);
    self->low = self->low_saved = cs_db_get_i64(r, 0, 1);
    self->cand_id = -1;
    PQclear(r);
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
    int all = PQntuples(r), rows = 0;
    seq_row_t *order = malloc(sizeof(*order) * (size_t)(all ? all : 1));
    if (!order)
        return; /* consumers repair from replay */
    for (int i = 0; i < all; i++) {
        uint64_t seq = s_be64(PQgetvalue(r, i, 0));
        if (seq == UINT64_MAX)
            continue; /* the relay statement's own row (seq -1) */
        order[rows].seq = seq;
        order[rows++].row = i;
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

/* One relay transaction: move up to relay_batch pending events above the
   low-water mark, in id order, into the log under the next sequence numbers,
   and move the head — one statement. The head in memory is the truth while
   this relay holds the stream's lock (loaded when it was taken, and again
   after any failure); the statement checks it against bus_stream all the
   same. The first row of the answer carries the new head and the
   statement's snapshot bounds (seq -1); the others are the events. */
/* What one relay pass cost: a histogram for /metrics and, when a pass took
   more than a second (a relay that falls behind its producers), one warning
   every 10 s at most with where the time went and where the scan started. */
static void s_relay_timing(cs_publisher_t *self, int rows, int64_t t0, int64_t t_stmt,
                           int64_t t_commit, int64_t t_end)
{
    cs_histogram_observe("cs_bus_relay_seconds", "", (double)(t_end - t0) / 1000.0);
    if (t_end - t0 < 1000 || t_end < self->slow_warned_at + 10000)
        return;
    self->slow_warned_at = t_end;
    cs_warn("bus: a relay pass of %s took %lld ms for %d events (statement %lld ms, commit"
            " %lld ms, publish %lld ms; scan from id %lld, head %" PRIu64 ")",
            self->stream, (long long)(t_end - t0), rows, (long long)(t_stmt - t0),
            (long long)(t_commit - t_stmt), (long long)(t_end - t_commit), (long long)self->low,
            self->head);
}

int cs_publisher_relay(cs_publisher_t *self)
{
    if (s_take_relay_lock(self) < 0)
        return 0;
    int64_t last_id = -1, last_xid = 0;
    if (self->cand_id < 0) {
        /* L, read before the numbering statement takes its snapshot */
        /* L, and an xid taken after it (bus_low_candidate, in that order):
           every transaction that took an id <= L had its xid already, below
           this one. */
        PGresult *l =
            cs_db_exec(self->db, "SELECT last_id, after_xid FROM bus_low_candidate()", 0, NULL);
        if (!l)
            return -1;
        last_id = cs_db_get_i64(l, 0, 0);
        last_xid = cs_db_get_i64(l, 0, 1);
        PQclear(l);
    }
    int64_t t0 = cs_mono_ms();
    if (cs_db_begin(self->db) < 0)
        return -1;
    /* The pending table's statistics are always stale (it fills and empties
       faster than ANALYZE runs): told it holds a few hundred rows, the planner
       would collect and sort every pending row for the next batch. Only the
       ordered walk of the (origin, id) key stays cheap at any backlog. */
    PGresult *set = PQexec(cs_db_conn(self->db),
                           "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off");
    int set_ok = PQresultStatus(set) == PGRES_COMMAND_OK;
    PQclear(set);
    if (!set_ok)
        goto fail;
    char headbuf[24], lowbuf[24];
    const char *p[] = {self->stream, cs_db_i64(headbuf, (int64_t)self->head),
                       cs_db_i64(lowbuf, self->low)};
    PGresult *r = cs_db_exec_bin(self->db, self->relay_sql, 3, p, NULL, NULL, 1);
    if (!r)
        goto fail;
    int meta = -1, rows = 0;
    int64_t top_id = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int64_t)s_be64(PQgetvalue(r, i, 0)) == -1) {
            meta = i;
            continue;
        }
        rows++;
        int64_t id = (int64_t)s_be64(PQgetvalue(r, i, 3));
        if (id > top_id)
            top_id = id;
    }
    if (meta < 0 || PQgetisnull(r, meta, 4)) {
        cs_error("bus: relay statement of %s answered without its snapshot row", self->stream);
        PQclear(r);
        goto fail;
    }
    int64_t xmin = (int64_t)s_be64(PQgetvalue(r, meta, 4));
    /* Where low may go once this transaction is settled. */
    int64_t new_low = self->low;
    int resolved = self->cand_id >= 0 && xmin > self->cand_xid;
    if (resolved) {
        int64_t upto = rows < self->relay_batch ? self->cand_id
                       : top_id < self->cand_id ? top_id
                                                : self->cand_id;
        if (upto > new_low)
            new_low = upto;
    }
    if (rows == 0) {
        PQclear(r);
        cs_db_rollback(self->db);
        goto settled;
    }
    if (PQgetisnull(r, meta, 3) || s_be64(PQgetvalue(r, meta, 3)) != self->head + (uint64_t)rows) {
        /* bus_stream says otherwise: someone moved the head by hand, or a
           second relay got in. Take the lock and the head afresh. */
        cs_error("bus: head of stream %s is not %" PRIu64 " as this relay believed; re-reading",
                 self->stream, self->head);
        PQclear(r);
        cs_db_rollback(self->db);
        PGresult *u = cs_db_exec(self->db, "SELECT pg_advisory_unlock(hashtext('relay:' || $1))", 1,
                                 (const char *[]){self->stream});
        PQclear(u);
        cs_publisher_reset(self);
        return -1;
    }
    int64_t t_stmt = cs_mono_ms();
    if (cs_db_commit(self->db) < 0) {
        PQclear(r);
        cs_publisher_reset(self); /* outcome unknown: re-read head and low */
        return -1;
    }
    int64_t t_commit = cs_mono_ms();
    self->head += (uint64_t)rows;
    /* Committed: a crash from here on loses only the live copy, which
       consumers repair from the replay socket. CS_FAULT=relay_exit_after_commit
       makes exactly that crash happen, for the fault tests. */
    if (s_fault_exit_after_commit) {
        cs_warn("bus: fault injection: exiting between numbering and publishing");
        _exit(70);
    }
    s_publish_rows(self, r);
    PQclear(r);
    s_relay_timing(self, rows, t0, t_stmt, t_commit, cs_mono_ms());
settled:
    /* Only now — the rows below new_low are numbered for good. */
    self->low = new_low;
    if (resolved)
        self->cand_id = -1;
    else if (self->cand_id < 0) {
        self->cand_id = last_id;
        self->cand_xid = last_xid;
    }
    return rows;
fail:
    cs_db_rollback(self->db);
    return -1;
}

/* One pruning batch: delete up to prune_batch numbered rows older than the
   retention, taken from the bottom of the stream in sequence order and
   stopping at the first row still young, so that what stays is always one
   contiguous range ending at the head (replay answers GONE below it, never
   a hole in the middle). The head row itself always stays. bus_log's
   (origin, seq) key serves the scan; pending events are never touched. */
static int64_t s_prune_batch(cs_publisher_t *self)
{
    char rb[24], bb[24];
    const char *p[] = {self->stream, cs_db_i64(rb, self->retention_s),
                       cs_db_i64(bb, self->prune_batch)};
    return cs_db_cmd(self->db,
                     "WITH b AS (SELECT seq, created_at FROM bus_log"
                     "           WHERE origin = $1"
                     "             AND seq < (SELECT head FROM bus_stream WHERE stream = $1)"
                     "           ORDER BY seq LIMIT $3),"
                     " young AS (SELECT min(seq) AS seq FROM b"
                     "           WHERE created_at >= now() - $2::bigint * interval '1 second')"
                     " DELETE FROM bus_log l USING b"
                     " WHERE l.origin = $1 AND l.seq = b.seq"
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
                                 "SELECT seq, envelope FROM bus_log"
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
    if (self->relay_locked && self->low > self->low_saved) {
        /* Lagging behind memory is safe (a lower mark only scans more). */
        char lb[24];
        const char *pl[] = {self->stream, cs_db_i64(lb, self->low)};
        if (cs_db_cmd(self->db,
                      "UPDATE bus_stream SET low_id = $2 WHERE stream = $1 AND low_id < $2", 2,
                      pl) >= 0)
            self->low_saved = self->low;
    }
    PGresult *r = cs_db_exec(self->db, "SELECT count(*) FROM bus_pending WHERE origin = $1", 1, p);
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
    cs_event_fn *fn;        /* one event, or */
    cs_events_fn *batch_fn; /* a run of consecutive events of this type */
    void *ctx;
    int next; /* the next handler of the same type (registration order), -1 */
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
    int64_t added_at;    /* wall ms when the peer was added (the age before any heartbeat) */
    char health[16];
    int gone;            /* the publisher no longer has what we need */
    int follow_only;     /* health problems are warnings, lag not counted */
    uint64_t gone_first; /* the first sequence it still holds (0: not told) */
    int64_t progress_at; /* monotonic ms when the checkpoint last moved (or we were level) */
    uint64_t dead_letters;
} peer_t;

#define MAX_HANDLERS 128

struct cs_consumer {
    cs_db_t *db;
    size_t max_bytes;
    peer_t *peers;
    size_t npeers;
    handler_t handlers[MAX_HANDLERS];
    size_t nhandlers;
    int64_t next_flush;
    size_t apply_batch; /* most events applied in one transaction */
    Cs__Envelope **run; /* the run of consecutive events being gathered */
};

cs_consumer_t *cs_consumer_new(cs_db_t *db, size_t max_bytes)
{
    cs_consumer_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->db = db;
    self->max_bytes = max_bytes ? max_bytes : CS_BUS_DEFAULT_MAX_BYTES;
    int64_t batch;
    if (cs_env_int("CS_BUS_APPLY_BATCH", APPLY_BATCH_DEFAULT, 1, APPLY_BATCH_CEILING, &batch) < 0) {
        free(self);
        return NULL;
    }
    self->apply_batch = (size_t)batch;
    self->run = calloc(self->apply_batch, sizeof(*self->run));
    if (!self->run) {
        free(self);
        return NULL;
    }
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
    free(self->run);
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
    p->added_at = cs_now_ms();
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
    if (curve &&
        (cs_curve_client(curve, p->sub, name) < 0 || cs_curve_client(curve, p->dealer, name) < 0))
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

/* A new handler for type, chained after those already registered for it:
   two parts of a service may both want an event (intake's ledger and its
   mail threading both read notification.sent), and each gets it, in
   registration order, in the same transaction. */
static handler_t *s_add_handler(cs_consumer_t *self, const char *type, void *ctx)
{
    assert(self->nhandlers < MAX_HANDLERS);
    int at = (int)self->nhandlers++;
    handler_t *h = &self->handlers[at];
    snprintf(h->type, sizeof(h->type), "%s", type);
    h->ctx = ctx;
    h->next = -1;
    for (int i = 0; i < at; i++)
        if (strcmp(self->handlers[i].type, h->type) == 0 && self->handlers[i].next < 0) {
            self->handlers[i].next = at;
            cs_info("bus: %s has more than one handler; each gets it, in order", h->type);
            break;
        }
    return h;
}

void cs_consumer_on(cs_consumer_t *self, const char *type, cs_event_fn *fn, void *ctx)
{
    s_add_handler(self, type, ctx)->fn = fn;
}

void cs_consumer_on_batch(cs_consumer_t *self, const char *type, cs_events_fn *fn, void *ctx)
{
    s_add_handler(self, type, ctx)->batch_fn = fn;
}

/* Run the handlers of the type on envs[0..n), all of that type, in
   registration order: a batch handler takes them at once, an event handler
   one after the other. -1 as soon as one fails. */
static int s_call(const cs_consumer_t *self, const handler_t *h, cs_db_t *db,
                  const Cs__Envelope *const *envs, size_t n)
{
    for (; h; h = h->next >= 0 ? &self->handlers[h->next] : NULL) {
        if (h->batch_fn) {
            cs_log_set_trace(envs[0]->trace_id);
            int rc = h->batch_fn(db, envs, n, h->ctx);
            cs_log_set_trace("");
            if (rc < 0)
                return -1;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            cs_log_set_trace(envs[i]->trace_id);
            int rc = h->fn(db, envs[i], h->ctx);
            cs_log_set_trace("");
            if (rc < 0)
                return -1;
        }
    }
    return 0;
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
    PGresult *r =
        cs_db_exec(self->db, "SELECT last_seq FROM inbox_checkpoint WHERE stream = $1", 1, params);
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
    int rc = s_call(self, h, self->db, &env, 1);
    if (rc < 0) {
        cs_db_rollback(self->db);
        cs_warn("bus: %s seq %" PRIu64 " (%s) not applied; will retry", p->stream, env->sequence,
                env->type);
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

/* One live [topic][envelope] message, checked: a decoded event of the
   stream we read, or NULL when there is nothing to apply (rejected and
   counted, a heartbeat taken in, or not the moment: not yet synced or
   waiting after a failure — replay brings those). What cannot be read is
   dropped: its sequence is unknown, and the gap it leaves is repaired from
   replay, where a still unreadable event is set aside (s_dead_letter). */
static Cs__Envelope *s_live_env(cs_consumer_t *self, peer_t *p, zmsg_t *msg)
{
    if (zmsg_size(msg) != 2) {
        s_count_reject("bad_frames");
        return NULL;
    }
    zframe_t *frame = zmsg_last(msg); /* the topic only serves subscription filters */
    const char *why = NULL;
    Cs__Envelope *env =
        cs_envelope_decode(zframe_data(frame), zframe_size(frame), self->max_bytes, &why);
    if (!env) {
        s_count_reject(why);
        return NULL;
    }
    if (env->body_case == CS__ENVELOPE__BODY_HEARTBEAT) {
        if (p->synced && strcmp(env->stream, p->stream) == 0) {
            p->last_hb = cs_now_ms();
            snprintf(p->health, sizeof(p->health), "%s", env->heartbeat->health);
            p->head = env->heartbeat->head;
        } else if (!p->synced) {
            p->last_hb = cs_now_ms();
        }
        goto drop;
    }
    if (!p->synced || cs_mono_ms() < p->retry_at)
        goto drop; /* replay will bring it once we know where we stand */
    if (strcmp(env->stream, p->stream) != 0) {
        s_count_reject("wrong_stream");
        goto drop;
    }
    return env;
drop:
    cs__envelope__free_unpacked(env, NULL);
    return NULL;
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
    char labels[160];
    s_labels(labels, sizeof(labels), p);
    uint64_t last = envs[n - 1]->sequence;
    size_t handled = 0;
    for (size_t i = 0; i < n; i++)
        handled += s_handler(self, envs[i]->type) != NULL;
    if (!handled) {
        /* Nothing of interest: advance in memory, flushed with the next
           transaction or by the periodic flush (as s_apply does). */
        p->cp = last;
        p->progress_at = cs_mono_ms();
        cs_counter_add("cs_bus_consumed_total", labels, (double)n);
        return 0;
    }
    if (cs_db_ensure(self->db) < 0)
        return -1;
    int64_t t0 = cs_mono_ms();
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
    /* In stream order; consecutive events of one type go to its handler
       together (a batch handler takes them in one call). */
    for (size_t i = 0; i < n;) {
        const handler_t *h = s_handler(self, envs[i]->type);
        size_t k = 1;
        while (i + k < n && strcmp(envs[i + k]->type, envs[i]->type) == 0)
            k++;
        if (h && s_call(self, h, self->db, (const Cs__Envelope *const *)envs + i, k) < 0) {
            cs_db_rollback(self->db);
            return -1;
        }
        i += k;
    }
    if (cs_db_commit(self->db) < 0)
        return -1;
    p->cp = p->persisted = last;
    p->progress_at = cs_mono_ms();
    cs_counter_add("cs_bus_consumed_total", labels, (double)n);
    cs_histogram_observe("cs_bus_apply_batch_seconds", "", (double)(cs_mono_ms() - t0) / 1000.0);
    return 0;
}

/* Apply envs[0..n), consecutive events from cp+1: in one transaction when
   there are several, and one by one when that fails, so that a failing event
   is isolated and retried on its own while those before it are kept.
   Returns how many were applied; the envelopes stay the caller's. */
static size_t s_apply_run(cs_consumer_t *self, peer_t *p, Cs__Envelope **envs, size_t n)
{
    if (n == 0)
        return 0;
    if (n >= 2 && s_apply_batch(self, p, envs, n) == 0)
        return n;
    size_t m = 0;
    while (m < n && p->synced && s_apply(self, p, envs[m]) == 0)
        m++;
    return m;
}

static void s_free_run(Cs__Envelope **envs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cs__envelope__free_unpacked(envs[i], NULL);
}

/* A heartbeat's topic ends in ".hb" (the rest of the frame is not trusted:
   s_live_env still checks the envelope). */
static int s_heartbeat_topic(zmsg_t *msg)
{
    zframe_t *topic = zmsg_first(msg);
    size_t n = topic ? zframe_size(topic) : 0;
    return n >= 3 && memcmp(zframe_data(topic) + n - 3, ".hb", 3) == 0;
}

/* Live events: what is already queued on SUB is gathered into runs of
   consecutive events and each run applied in one transaction (up to
   CS_BUS_APPLY_BATCH), so that under load the consumer pays one durable
   commit per batch, not per event. Nothing waits for a batch to fill: an
   event alone on the socket is applied at once. A sequence past the run
   is a gap: the run is applied, then the rest asked of the replay socket. */
static void s_on_live(cs_consumer_t *self, peer_t *p)
{
    Cs__Envelope **run = self->run;
    size_t n = 0;
    char labels[160];
    s_labels(labels, sizeof(labels), p);
    for (size_t m = 0; m < self->apply_batch; m++) {
        if (m > 0 && !(zsock_events(p->sub) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv(p->sub);
        if (!msg)
            break;
        if (p->synced && p->replay_sent && p->head > p->cp + self->apply_batch &&
            !s_heartbeat_topic(msg)) {
            /* Catching up from replay: live events are far ahead and would be
               dropped as gaps after decoding. Drop them unread, so that a live
               flood does not starve the replay (a 60 000-event flood between
               two replay replies cut catch-up from 15 000 to 3 000 events/s);
               heartbeats still bring the head. */
            zmsg_destroy(&msg);
            continue;
        }
        Cs__Envelope *env = s_live_env(self, p, msg);
        zmsg_destroy(&msg);
        if (!env)
            continue;
        if (env->sequence <= p->cp + n) {
            cs_counter_add("cs_bus_duplicates_total", labels, 1);
            cs__envelope__free_unpacked(env, NULL);
            continue;
        }
        if (env->sequence > p->cp + n + 1) {
            s_apply_run(self, p, run, n);
            s_free_run(run, n);
            n = 0;
            if (env->sequence > p->cp + 1) {
                cs_counter_add("cs_bus_gaps_total", labels, 1);
                if (!p->replay_sent && cs_mono_ms() >= p->retry_at)
                    s_request(p, p->cp + 1, 0);
            }
            cs__envelope__free_unpacked(env, NULL);
            continue;
        }
        if (env->sequence > p->head)
            p->head = env->sequence;
        run[n++] = env;
    }
    s_apply_run(self, p, run, n);
    s_free_run(run, n);
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
                 p->name, p->cp + 1, (uint64_t)f - 1, p->stream, p->cp, p->name, (uint64_t)f - 1,
                 p->stream);
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
    PGresult *r =
        cs_db_exec(self->db, "SELECT last_seq FROM inbox_checkpoint WHERE stream = $1", 1, params);
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
    Cs__Envelope **envs = self->run;
    if (!seqtext || !frame)
        goto out;
    for (size_t i = 0; i < n; i++) {
        seqtext[i] = zmsg_popstr(msg);
        frame[i] = zmsg_pop(msg);
    }
    size_t i = 0;
    while (i < n && seqtext[i] && frame[i] && cs_mono_ms() >= p->retry_at) {
        size_t k = 0;
        while (i + k < n && k < self->apply_batch && seqtext[i + k] && frame[i + k]) {
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
            stop = s_apply_run(self, p, envs, k) < k;
            i += k;
        } else {
            stop = s_deliver_replayed(self, p, seqtext[i], frame[i]) < 0;
            i++;
        }
        s_free_run(envs, k);
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
    s_on_live(self, p);
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
    int64_t now = cs_mono_ms(), wall = cs_now_ms();
    int flush = now >= self->next_flush;
    if (flush)
        self->next_flush = now + 1000;
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        char labels[160];
        s_labels(labels, sizeof(labels), p);
        cs_gauge_set("cs_bus_consumer_lag", labels,
                     (double)(p->head > p->cp ? p->head - p->cp : 0));
        if (p->stream[0]) /* labelled by stream: only once the handshake named it */
            cs_gauge_set("cs_bus_heartbeat_age_seconds", labels,
                         (double)(wall - (p->last_hb ? p->last_hb : p->added_at)) / 1000.0);
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

void cs_consumer_follow_only(cs_consumer_t *self, const char *name)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (strcmp(self->peers[i].name, name) == 0)
            self->peers[i].follow_only = 1;
}

uint64_t cs_consumer_lag(cs_consumer_t *self)
{
    uint64_t lag = 0;
    for (size_t i = 0; i < self->npeers; i++)
        if (!self->peers[i].follow_only && self->peers[i].head > self->peers[i].cp)
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

static void s_item(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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

int cs_consumer_health(cs_consumer_t *self, char *reasons_all, size_t rsize_all, char *warnings,
                       size_t wsize)
{
    int ok = 1;
    int64_t mono = cs_mono_ms(), now = cs_now_ms();
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        /* a followed peer's problems are told, but never make us unready */
        char *reasons = p->follow_only ? warnings : reasons_all;
        size_t rsize = p->follow_only ? wsize : rsize_all;
        int ignored = 1, *okp = p->follow_only ? &ignored : &ok;
        if (!p->synced) {
            s_item(reasons, rsize, "not yet in contact with %s at %s", p->name, p->replay_ep);
            *okp = 0;
            continue;
        }
        if (p->gone && p->gone_first) {
            s_item(reasons, rsize,
                   "%s: events %" PRIu64 "..%" PRIu64 " were pruned at the publisher before"
                   " they were applied; stopped at %" PRIu64 " (operator action needed, see log)",
                   p->stream, p->cp + 1, p->gone_first - 1, p->cp);
            *okp = 0;
        } else if (p->gone) {
            s_item(reasons, rsize,
                   "%s: events after %" PRIu64 " were pruned at the publisher before they were"
                   " applied (operator action needed, see log)",
                   p->stream, p->cp);
            *okp = 0;
        }
        if (p->cp >= p->head)
            p->progress_at = mono;
        else if (mono - p->progress_at > STALL_MS) {
            s_item(reasons, rsize, "%s: stalled at %" PRIu64 " of %" PRIu64 " for %llds", p->stream,
                   p->cp, p->head, (long long)((mono - p->progress_at) / 1000));
            *okp = 0;
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
                              "\"checkpoint\":%" PRIu64 ",\"head\":%" PRIu64 ",\"lag\":%" PRIu64
                              ",\"health\":\"%s\",\"heartbeat_age_ms\":%lld}",
                              i ? "," : "", p->name, p->stream, p->synced ? "true" : "false",
                              p->gone ? "true" : "false", p->dead_letters, p->cp, p->head,
                              p->head > p->cp ? p->head - p->cp : 0, p->health,
                              p->last_hb ? (long long)(now - p->last_hb) : -1LL);
    }
    snprintf(buf + n, cap - n, "]");
    return buf;
}
