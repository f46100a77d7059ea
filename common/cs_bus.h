/*
 * cs_bus — the lossless bus of DESIGN.md §3: outbox, relay, replay, inbox
 * checkpoint, gap repair and heartbeats, over ZeroMQ PUB/SUB + ROUTER/DEALER.
 *
 * Publisher side (one per service instance, main thread):
 *   cs_bus_emit()            — inside the caller's transaction: the event exists
 *                              when the business change commits (bus_pending),
 *                              and the commit wakes the relay (cs_db hook).
 *   cs_publisher_relay()     — numbers committed rows densely and publishes them.
 *   cs_publisher_on_replay() — serves [status][stream][head][envelope…] ranges.
 *   cs_publisher_heartbeat() — head, health and lag, every second.
 *
 * Consumer side (main thread): one cs_peer per publisher instance it reads
 * (SUB + DEALER). An event is applied together with the checkpoint update in
 * one transaction — under load a run of consecutive events (up to
 * CS_BUS_APPLY_BATCH, live or replayed) shares one transaction and one
 * checkpoint move; a sequence at or below the checkpoint is a duplicate; a
 * jump, a heartbeat head above the checkpoint, or start-up asks the replay
 * socket for what is missing.
 */
#ifndef CS_BUS_H
#define CS_BUS_H
#include <czmq.h>
#include "envelope.pb-c.h"
#include "cs_curve.h"
#include "cs_db.h"

#define CS_BUS_SCHEMA_VERSION 1
#define CS_BUS_DEFAULT_MAX_BYTES (1024 * 1024)
#define CS_BUS_DEFAULT_RETENTION_S (14 * 24 * 3600) /* CS_BUS_RETENTION_S */

/* ---- envelopes ---------------------------------------------------------- */

/* Body case an event type must carry, or 0 (NOT_SET) for an unknown type. */
Cs__Envelope__BodyCase cs_bus_type_body(const char *type);

/* Decode one envelope frame: size cap, unpack, known type, matching body.
   Returns the envelope (free with cs__envelope__free_unpacked(e, NULL)) or
   NULL with *why set to a stable reason ("too_large", "undecodable",
   "unknown_type", "body_mismatch"). */
Cs__Envelope *cs_envelope_decode(const uint8_t *data, size_t len, size_t max_bytes,
                                 const char **why);

/* ---- emitting ------------------------------------------------------------ */

/* The instance stream this process publishes as (e.g. "dispatch-0"). */
void cs_bus_set_origin(const char *stream);
/* The largest envelope cs_bus_emit() will write (consumers refuse larger). */
void cs_bus_set_max_bytes(size_t max_bytes);
const char *cs_bus_origin(void);

/* Append an event to the outbox inside the caller's open transaction.
   env must have its body set; type, event id, occurred-at, schema version
   and trace id are filled here when empty. 0 or -1. */
int cs_bus_emit(cs_db_t *db, const char *type, Cs__Envelope *env);

/* ---- publisher ------------------------------------------------------------ */

typedef struct cs_publisher cs_publisher_t;

/* Bind PUB and ROUTER endpoints (e.g. "tcp://127.0.0.1:7201"), as CURVE
   servers when curve is not NULL. */
cs_publisher_t *cs_publisher_new(const char *service, const char *stream, const char *pub_ep,
                                 const char *replay_ep, cs_db_t *db, cs_curve_t *curve);
void cs_publisher_destroy(cs_publisher_t **self_p);
zsock_t *cs_publisher_replay_sock(cs_publisher_t *self);
/* Number and publish up to one batch (CS_BUS_RELAY_BATCH, 500): pending
   events move from bus_pending to bus_log under the next sequence numbers in
   one transaction. Returns events published, or -1 on a database error.
   Takes the stream's advisory lock first (one relay per stream). */
int cs_publisher_relay(cs_publisher_t *self);
/* Retention: delete bus_log rows older than CS_BUS_RETENTION_S
   (0 keeps them all), CS_BUS_PRUNE_BATCH (1000) rows per transaction, at
   most a few batches per call, oldest sequence first and never the head row
   nor a pending event. Only the active relay prunes. Called once a second;
   returns rows deleted, or -1 on a database error. */
int64_t cs_publisher_prune(cs_publisher_t *self);
/* Answer one request waiting on the replay socket. A range that starts
   below what retention kept gets [GONE][stream][head][first kept]. */
void cs_publisher_on_replay(cs_publisher_t *self);
void cs_publisher_heartbeat(cs_publisher_t *self, const char *health, uint64_t lag);
uint64_t cs_publisher_head(cs_publisher_t *self);
uint64_t cs_publisher_backlog(cs_publisher_t *self);
int cs_publisher_is_relay(cs_publisher_t *self);
/* Forget database-session state after a reconnect (advisory lock, head). */
void cs_publisher_reset(cs_publisher_t *self);

/* ---- consumer -------------------------------------------------------------- */

/* An event handler runs inside the consumer's transaction on db.
   Return 0 applied, 1 not of interest (checkpoint still advances), -1 failed
   (rolled back and retried later). */
typedef int(cs_event_fn)(cs_db_t *db, const Cs__Envelope *env, void *ctx);
/* A batch handler: n consecutive events of its type (stream order), in the
   consumer's transaction. 0 applied, -1 failed (all of the consumer's
   transaction rolls back; the events are then offered again one at a time,
   n = 1, so that a failing one is isolated). For consumers that can apply
   many events in one statement. */
typedef int(cs_events_fn)(cs_db_t *db, const Cs__Envelope *const *envs, size_t n, void *ctx);

typedef struct cs_consumer cs_consumer_t;

cs_consumer_t *cs_consumer_new(cs_db_t *db, size_t max_bytes);
void cs_consumer_destroy(cs_consumer_t **self_p);
/* Read a publisher instance. name: its service ("intake"); as its CURVE
   client when curve is not NULL. 0 or -1. */
int cs_consumer_add_peer(cs_consumer_t *self, const char *name, const char *pub_ep,
                         const char *replay_ep, int rcvhwm, cs_curve_t *curve);
/* Marks every peer added under name as followed, not depended on: its
   events are applied exactly like any other's, but a followed stream that
   is out of reach, stalled or pruned is a warning of cs_consumer_health, not
   a reason, and its lag is not counted by cs_consumer_lag. For a service
   that must keep serving while the peer is down (intake follows dispatch). */
void cs_consumer_follow_only(cs_consumer_t *self, const char *name);
/* Handlers of an event type; several may be registered for one type (each
   gets the event, in registration order, in the same transaction). */
void cs_consumer_on(cs_consumer_t *self, const char *type, cs_event_fn *fn, void *ctx);
void cs_consumer_on_batch(cs_consumer_t *self, const char *type, cs_events_fn *fn, void *ctx);
/* Sockets to poll; the caller passes a readable one to cs_consumer_on_readable(). */
size_t cs_consumer_socket_count(cs_consumer_t *self);
zsock_t *cs_consumer_socket(cs_consumer_t *self, size_t i);
void cs_consumer_on_readable(cs_consumer_t *self, size_t i);
/* Periodic work: start-up handshakes, replay time-outs, retries, checkpoint flush. */
void cs_consumer_tick(cs_consumer_t *self);
/* Total events behind known heads (followed peers left out), and whether
   every peer has been reached. */
uint64_t cs_consumer_lag(cs_consumer_t *self);
int cs_consumer_synced(cs_consumer_t *self);
/* Readiness of the reading side. Appends JSON string items ("…",) to
   reasons (what makes the service not ready: a stream never reached, pruned
   events, a checkpoint stalled below the head for 30 s) and to warnings
   (heartbeats older than 10 s, events set aside as dead letters). Returns 1
   when there is no reason. */
int cs_consumer_health(cs_consumer_t *self, char *reasons, size_t rsize, char *warnings,
                       size_t wsize);
/* Forget cached checkpoints after a database reconnect. */
void cs_consumer_reset(cs_consumer_t *self);
/* Status of each peer as JSON for /readyz and csctl (caller frees). */
char *cs_consumer_status_json(cs_consumer_t *self);

#endif
