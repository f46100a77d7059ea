/*
 * webhook — outbound webhooks for the company's other systems (ERP, chat, paging).
 *
 * A subscriber (webhook_subscribers, edited through the API in webhook.c) names a URL,
 * a secret and the event types it wants: exact types ("dispatch.ticket.escalated"),
 * a family ("dispatch.ticket.*") or everything ("*"), from the catalogue of what
 * notify reads and writes (webhook_type_known).  Each matching event becomes one
 * delivery per subscriber, queued in the consumer's transaction (so a replayed event
 * queues nothing twice: the key is (subscriber, event id)) with its JSON body fixed then:
 *
 *     {"delivery_id":"…","event_id":"…","event_type":"dispatch.ticket.escalated",
 *      "occurred_at_ms":…,"stream":"dispatch-0","sequence":42,"trace_id":"…",
 *      "data":{ …the event's protobuf body, field by field… }}
 *
 * A worker thread POSTs it, signed (docs/notify.md):
 *
 *     X-Petrocs-Delivery:  the delivery id (the same on every retry)
 *     X-Petrocs-Event:     the event type
 *     X-Petrocs-Timestamp: seconds since the epoch, when this attempt was signed
 *     X-Petrocs-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 *
 * A 2xx answer delivers it.  Anything else is retried with back-off
 * (CS_NOTIFY_WEBHOOK_RETRY_BASE_S doubling up to _RETRY_MAX_S) until
 * CS_NOTIFY_WEBHOOK_MAX_ATTEMPTS, and a 4xx other than 408/429 fails at once.  After
 * CS_NOTIFY_WEBHOOK_BREAKER_FAILURES failures in a row the subscriber's circuit breaker
 * opens: nothing is sent to it for CS_NOTIFY_WEBHOOK_BREAKER_PAUSE_S, then one delivery
 * probes it (half-open); success closes the breaker, failure opens it again.  Deliveries
 * wait while it is open; none is lost.  /metrics shows cs_notify_webhook_breaker_open
 * per subscriber and cs_notify_webhook_deliveries_total by status.
 */
#ifndef PETROCS_NOTIFY_WEBHOOK_H
#define PETROCS_NOTIFY_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "cs_db.h"
#include "cs_service.h"
#include "envelope.pb-c.h"

#define WEBHOOK_SECRET_MAX 256
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_TYPES_MAX 64

typedef struct {
    int64_t max_attempts;     /* CS_NOTIFY_WEBHOOK_MAX_ATTEMPTS, default 10 */
    int64_t retry_base_s;     /* CS_NOTIFY_WEBHOOK_RETRY_BASE_S, default 10 */
    int64_t retry_max_s;      /* CS_NOTIFY_WEBHOOK_RETRY_MAX_S, default 3600 */
    int64_t timeout_ms;       /* CS_NOTIFY_WEBHOOK_TIMEOUT_MS, default 10000 */
    int64_t breaker_failures; /* CS_NOTIFY_WEBHOOK_BREAKER_FAILURES, default 5 */
    int64_t breaker_pause_s;  /* CS_NOTIFY_WEBHOOK_BREAKER_PAUSE_S, default 60 */
} webhook_config_t;

int webhook_config_load(webhook_config_t *cfg);

/* Event types a subscriber may choose (NULL-terminated), and whether a pattern names any
 * of them: an exact type, "<prefix>.*" or "*". */
extern const char *const webhook_types[];
bool webhook_pattern_valid(const char *pattern);
bool webhook_pattern_matches(const char *pattern, const char *type);

/* "v1=<hex>" for body signed at timestamp with secret, into out (at least 68 bytes). */
int webhook_signature(const char *secret, int64_t timestamp, const char *body, size_t len,
                      char *out, size_t size);

/* The event as JSON (the "data" object is the protobuf body, field by field); NULL on
 * out of memory.  Caller decrefs. */
json_t *webhook_event_json(const Cs__Envelope *env);

/* Queue a delivery of env for every active subscriber that chose its type, in the
 * caller's transaction.  0, or -1 on a database error. */
int webhook_enqueue(cs_db_t *db, const Cs__Envelope *env);

/* The worker: its own connection and thread. */
typedef struct webhook webhook_t;
webhook_t *webhook_new(const webhook_config_t *cfg, cs_service_t *svc);
int webhook_start(webhook_t *self);
void webhook_destroy(webhook_t **self_p);

/* Deliver the next due delivery on db: 1 handled, 0 nothing due, -1 database error. */
int webhook_deliver_next(webhook_t *self, cs_db_t *db);

/* Gauges for /metrics (breaker state per subscriber, queue depth); from the service tick. */
void webhook_metrics(cs_db_t *db);

/* The API: /v1/webhooks... */
void webhook_api_register(cs_service_t *svc);

#endif
