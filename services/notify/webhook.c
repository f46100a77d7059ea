/*
 * webhook — see webhook.h.  Four parts: the catalogue and signature (pure), the event as
 * JSON (protobuf-c reflection), queueing on the bus side, and the worker with its
 * circuit breaker.  The API is at the end.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "cs_config.h"
#include "cs_http.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "http_out.h"
#include "webhook.h"

/* ---- catalogue ------------------------------------------------------------------------ */

/* What notify reads (intake, dispatch, complaint, survey) and what it writes. */
const char *const webhook_types[] = {"intake.ticket.created",
                                     "intake.ticket.customer_replied",
                                     "intake.mail.rejected",
                                     "intake.customer.upserted",
                                     "intake.call.logged",
                                     "intake.call.missed",
                                     "dispatch.ticket.accepted",
                                     "dispatch.ticket.assigned",
                                     "dispatch.ticket.responded",
                                     "dispatch.ticket.status_changed",
                                     "dispatch.ticket.escalated",
                                     "dispatch.ticket.resolved",
                                     "dispatch.ticket.closed",
                                     "dispatch.ticket.reopened",
                                     "dispatch.ticket.terminated",
                                     "dispatch.ticket.customer_replied",
                                     "dispatch.ticket.reclassified",
                                     "dispatch.ticket.transferred",
                                     "dispatch.ticket.noted",
                                     "complaint.opened",
                                     "complaint.accepted",
                                     "complaint.classified",
                                     "complaint.investigating",
                                     "complaint.assigned",
                                     "complaint.feedback_sent",
                                     "complaint.resolved",
                                     "complaint.feedback_answered",
                                     "complaint.escalated",
                                     "complaint.archived",
                                     "survey.requested",
                                     "survey.answered",
                                     "survey.low_score",
                                     "survey.reminded",
                                     "survey.follow_up",
                                     "notification.sent",
                                     "notification.failed",
                                     NULL};

bool webhook_pattern_matches(const char *pattern, const char *type)
{
    if (strcmp(pattern, "*") == 0)
        return true;
    size_t n = strlen(pattern);
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
        return strncmp(type, pattern, n - 1) == 0; /* "dispatch.ticket." is a prefix */
    return strcmp(pattern, type) == 0;
}

bool webhook_pattern_valid(const char *pattern)
{
    if (!pattern || !*pattern || strlen(pattern) > 64)
        return false;
    for (size_t i = 0; webhook_types[i]; i++)
        if (webhook_pattern_matches(pattern, webhook_types[i]))
            return true;
    return false;
}

int webhook_signature(const char *secret, int64_t timestamp, const char *body, size_t len,
                      char *out, size_t size)
{
    char ts[24];
    int tn = snprintf(ts, sizeof(ts), "%lld.", (long long)timestamp);
    unsigned char *signed_text = malloc((size_t)tn + len);
    if (!signed_text || size < 68) {
        free(signed_text);
        return -1;
    }
    memcpy(signed_text, ts, (size_t)tn);
    memcpy(signed_text + tn, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    unsigned char *ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), signed_text,
                             (size_t)tn + len, mac, &mac_len);
    free(signed_text);
    if (!ok || mac_len != 32)
        return -1;
    memcpy(out, "v1=", 3);
    for (unsigned i = 0; i < mac_len; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

int webhook_config_load(webhook_config_t *cfg)
{
    return cs_env_int("CS_NOTIFY_WEBHOOK_MAX_ATTEMPTS", 10, 1, 1000, &cfg->max_attempts) < 0 ||
                   cs_env_int("CS_NOTIFY_WEBHOOK_RETRY_BASE_S", 10, 1, 86400, &cfg->retry_base_s) <
                       0 ||
                   cs_env_int("CS_NOTIFY_WEBHOOK_RETRY_MAX_S", 3600, 1, 7 * 86400,
                              &cfg->retry_max_s) < 0 ||
                   cs_env_int("CS_NOTIFY_WEBHOOK_TIMEOUT_MS", 10000, 100, 600000,
                              &cfg->timeout_ms) < 0 ||
                   cs_env_int("CS_NOTIFY_WEBHOOK_BREAKER_FAILURES", 5, 1, 1000,
                              &cfg->breaker_failures) < 0 ||
                   cs_env_int("CS_NOTIFY_WEBHOOK_BREAKER_PAUSE_S", 60, 1, 86400,
                              &cfg->breaker_pause_s) < 0
               ? -1
               : 0;
}

/* ---- the event as JSON ------------------------------------------------------------------ */

static json_t *s_message_json(const ProtobufCMessage *m, int depth);

/* One value of field f stored at p. */
static json_t *s_value_json(const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        return v ? json_string(v->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        json_t *j = json_string(s ? s : "");
        return j ? j : json_null(); /* not UTF-8: say nothing rather than garble */
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub && depth < 8 ? s_message_json(sub, depth + 1) : json_null();
    }
    default: /* bytes: none of our events carries any */
        return json_null();
    }
}

static size_t s_value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* Every field by name; of a oneof only the member that is set. */
static json_t *s_message_json(const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *o = json_object();
    for (unsigned i = 0; o && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        json_t *v;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
            v = s_value_json(f, base + f->offset, depth);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *items = *(char *const *)(base + f->offset);
            v = json_array();
            for (size_t k = 0; v && k < n && items; k++)
                json_array_append_new(v, s_value_json(f, items + k * s_value_size(f), depth));
        } else {
            v = s_value_json(f, base + f->offset, depth);
        }
        json_object_set_new(o, f->name, v ? v : json_null());
    }
    return o;
}

json_t *webhook_event_json(const Cs__Envelope *env)
{
    json_t *data = NULL;
    const ProtobufCFieldDescriptor *f =
        env->body_case ? protobuf_c_message_descriptor_get_field(&cs__envelope__descriptor,
                                                                 (unsigned)env->body_case)
                       : NULL;
    if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *body = *(ProtobufCMessage *const *)((const char *)env + f->offset);
        data = body ? s_message_json(body, 0) : json_object();
    } else {
        data = json_object();
    }
    json_t *o = json_object();
    if (!o || !data) {
        json_decref(o);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(o, "event_id", json_string(env->event_id ? env->event_id : ""));
    json_object_set_new(o, "event_type", json_string(env->type ? env->type : ""));
    json_object_set_new(o, "occurred_at_ms", json_integer(env->occurred_at_ms));
    json_object_set_new(o, "stream", json_string(env->stream ? env->stream : ""));
    json_object_set_new(o, "sequence", json_integer((json_int_t)env->sequence));
    json_t *trace = json_string(env->trace_id ? env->trace_id : "");
    json_object_set_new(o, "trace_id", trace ? trace : json_string(""));
    json_object_set_new(o, "data", data);
    return o;
}

/* ---- queueing, in the consumer's transaction ---------------------------------------- */

int webhook_enqueue(cs_db_t *db, const Cs__Envelope *env)
{
    if (!env->type || !cs_is_uuid(env->event_id))
        return 0;
    PGresult *r = cs_db_exec(db,
                             "SELECT id, event_types FROM webhook_subscribers WHERE active"
                             " AND EXISTS (SELECT 1 FROM unnest(event_types) t"
                             "  WHERE t = '*' OR t = $1"
                             "  OR (right(t, 2) = '.*' AND starts_with($1, left(t, -1))))",
                             1, (const char *[]){env->type});
    if (!r)
        return -1;
    int rc = 0, queued = 0;
    json_t *event = PQntuples(r) ? webhook_event_json(env) : NULL;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        char id[CS_UUID_LEN];
        cs_uuid(id);
        json_object_set_new(event, "delivery_id", json_string(id));
        char *body = event ? json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body) {
            rc = -1;
            break;
        }
        int64_t n =
            cs_db_cmd(db,
                      "INSERT INTO webhook_deliveries (id, subscriber_id, source_event_id,"
                      " event_type, body) VALUES ($1, $2, $3, $4, $5)"
                      " ON CONFLICT (subscriber_id, source_event_id) DO NOTHING",
                      5, (const char *[]){id, cs_db_get(r, i, 0), env->event_id, env->type, body});
        free(body);
        if (n < 0)
            rc = -1;
        queued += n > 0;
    }
    json_decref(event);
    PQclear(r);
    if (rc == 0 && queued) {
        PGresult *w = cs_db_exec(db, "SELECT pg_notify('webhook_queued', '')", 0, NULL);
        rc = w ? 0 : -1;
        PQclear(w);
    }
    return rc;
}

/* ---- the worker ------------------------------------------------------------------------ */

struct webhook {
    const webhook_config_t *cfg;
    cs_service_t *svc;
    cs_db_t *db;
    pthread_t thread;
    int running;
    atomic_int stop;
};

webhook_t *webhook_new(const webhook_config_t *cfg, cs_service_t *svc)
{
    webhook_t *self = calloc(1, sizeof(*self));
    if (self) {
        self->cfg = cfg;
        self->svc = svc;
    }
    return self;
}

enum { W_ID, W_SUB, W_TYPE, W_BODY, W_ATTEMPTS, W_URL, W_SECRET, W_BREAKER, W_FAILURES };

static int64_t s_backoff(const webhook_config_t *cfg, int64_t attempts)
{
    int64_t wait = cfg->retry_base_s;
    for (int64_t i = 1; i < attempts && wait < cfg->retry_max_s; i++)
        wait *= 2;
    return wait < cfg->retry_max_s ? wait : cfg->retry_max_s;
}

/* POST the delivery in row r; returns the http_out result and fills status/reply. */
static int s_post(webhook_t *self, const PGresult *r, long *status, char *reply, size_t rlen,
                  char *err, size_t elen)
{
    const char *body = cs_db_get(r, 0, W_BODY);
    int64_t now = (int64_t)time(NULL);
    char sig[80], h_sig[128], h_ts[64], h_id[96], h_type[128];
    if (webhook_signature(cs_db_get(r, 0, W_SECRET), now, body, strlen(body), sig, sizeof(sig)) <
        0) {
        cs_errf(err, elen, "cannot sign the delivery");
        return HTTP_OUT_TEMPORARY;
    }
    snprintf(h_sig, sizeof(h_sig), "X-Petrocs-Signature: %s", sig);
    snprintf(h_ts, sizeof(h_ts), "X-Petrocs-Timestamp: %lld", (long long)now);
    snprintf(h_id, sizeof(h_id), "X-Petrocs-Delivery: %s", cs_db_get(r, 0, W_ID));
    snprintf(h_type, sizeof(h_type), "X-Petrocs-Event: %s", cs_db_get(r, 0, W_TYPE));
    const char *headers[] = {"Content-Type: application/json",
                             "User-Agent: petrocs-notify",
                             h_id,
                             h_type,
                             h_ts,
                             h_sig,
                             NULL};
    return http_out_post(cs_db_get(r, 0, W_URL), headers, body, strlen(body),
                         (long)self->cfg->timeout_ms, status, reply, rlen, err, elen);
}

int webhook_deliver_next(webhook_t *self, cs_db_t *db)
{
    if (cs_db_begin(db) < 0)
        return -1;
    /* A subscriber whose breaker is open is skipped until its pause ends. */
    PGresult *r = cs_db_exec(
        db,
        "SELECT d.id, d.subscriber_id, d.event_type, d.body, d.attempts, s.url, s.secret,"
        " s.breaker, s.consecutive_failures"
        " FROM webhook_deliveries d JOIN webhook_subscribers s ON s.id = d.subscriber_id"
        " WHERE d.status IN ('queued', 'deferred') AND d.next_attempt_at <= now() AND s.active"
        " AND (s.breaker = 'closed' OR s.paused_until IS NULL OR s.paused_until <= now())"
        " ORDER BY d.next_attempt_at, d.created_at LIMIT 1 FOR UPDATE OF d, s SKIP LOCKED",
        0, NULL);
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return cs_db_commit(db) < 0 ? -1 : 0;
    }
    int probing = strcmp(cs_db_get(r, 0, W_BREAKER), "closed") != 0;
    long status = 0;
    char reply[512] = "", err[512] = "";
    int rc = s_post(self, r, &status, reply, sizeof(reply), err, sizeof(err));
    int64_t attempts = cs_db_get_i64(r, 0, W_ATTEMPTS) + 1;
    const char *outcome = rc == HTTP_OUT_SENT ? "delivered"
                          : rc == HTTP_OUT_PERMANENT || attempts >= self->cfg->max_attempts
                              ? "failed"
                              : "deferred";
    char attempts_s[24], wait_s[24], status_s[24];
    cs_db_i64(attempts_s, attempts);
    cs_db_i64(wait_s, s_backoff(self->cfg, attempts));
    cs_db_i64(status_s, status);
    const char *detail = rc == HTTP_OUT_SENT ? "" : (reply[0] ? reply : err);
    if (cs_db_cmd(db,
                  "UPDATE webhook_deliveries SET status = $2, attempts = $3,"
                  " next_attempt_at = CASE WHEN $2 = 'deferred'"
                  "  THEN now() + make_interval(secs => $4::bigint) ELSE next_attempt_at END,"
                  " last_status_code = $5, last_error = $6,"
                  " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1",
                  6,
                  (const char *[]){cs_db_get(r, 0, W_ID), outcome, attempts_s, wait_s, status_s,
                                   detail}) != 1)
        goto out_clear;
    /* The breaker: a success closes it; a failure counts, and the threshold-th failure in a
     * row — or a failed probe — opens it for the pause. */
    int64_t failures = rc == HTTP_OUT_SENT ? 0 : cs_db_get_i64(r, 0, W_FAILURES) + 1;
    const char *breaker = rc == HTTP_OUT_SENT                                  ? "closed"
                          : probing || failures >= self->cfg->breaker_failures ? "open"
                                                                               : "closed";
    char failures_s[24], pause_s[24];
    cs_db_i64(failures_s, failures);
    cs_db_i64(pause_s, self->cfg->breaker_pause_s);
    if (cs_db_cmd(db,
                  "UPDATE webhook_subscribers SET consecutive_failures = $2, breaker = $3,"
                  " paused_until = CASE WHEN $3 = 'open'"
                  "  THEN now() + make_interval(secs => $4::bigint) END, updated_at = now()"
                  " WHERE id = $1",
                  4, (const char *[]){cs_db_get(r, 0, W_SUB), failures_s, breaker, pause_s}) != 1)
        goto out_clear;
    if (cs_db_commit(db) < 0)
        goto out_clear;
    char labels[48];
    snprintf(labels, sizeof(labels), "status=\"%s\"", outcome);
    cs_counter_add("cs_notify_webhook_deliveries_total", labels, 1);
    if (strcmp(breaker, "open") == 0 && (probing || failures == self->cfg->breaker_failures))
        cs_warn("notify: webhook subscriber %s paused for %llds after %lld failures in a row"
                " (last: %.40s)",
                cs_db_get(r, 0, W_SUB), (long long)self->cfg->breaker_pause_s, (long long)failures,
                detail);
    else if (probing && rc == HTTP_OUT_SENT)
        cs_info("notify: webhook subscriber %s answers again; breaker closed",
                cs_db_get(r, 0, W_SUB));
    PQclear(r);
    return 1;
out_clear:
    PQclear(r);
out_rollback:
    if (cs_db_in_tx(db))
        cs_db_rollback(db);
    return -1;
}

void webhook_metrics(cs_db_t *db)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT id, breaker <> 'closed', name FROM webhook_subscribers"
                             " ORDER BY created_at LIMIT 200",
                             0, NULL);
    for (int i = 0; r && i < PQntuples(r); i++) {
        char labels[160];
        snprintf(labels, sizeof(labels), "subscriber=\"%s\"", cs_db_get(r, i, 0));
        cs_gauge_set("cs_notify_webhook_breaker_open", labels,
                     strcmp(cs_db_get(r, i, 1), "t") == 0 ? 1 : 0);
    }
    PQclear(r);
    r = cs_db_exec(db,
                   "SELECT count(*) FROM webhook_deliveries WHERE status IN ('queued', 'deferred')",
                   0, NULL);
    if (r)
        cs_gauge_set("cs_notify_webhook_queue_depth", "", (double)cs_db_get_i64(r, 0, 0));
    PQclear(r);
}

static void *s_worker(void *arg)
{
    webhook_t *self = arg;
    int listening_pid = 0;
    while (!atomic_load(&self->stop) && !cs_service_stopping()) {
        if (cs_db_ensure(self->db) < 0) {
            usleep(200 * 1000);
            continue;
        }
        int pid = PQbackendPID(cs_db_conn(self->db));
        if (pid != listening_pid) {
            if (cs_db_cmd(self->db, "LISTEN webhook_queued", 0, NULL) < 0)
                continue;
            listening_pid = pid;
        }
        int n = 0;
        for (int i = 0; i < 100 && !atomic_load(&self->stop); i++)
            if ((n = webhook_deliver_next(self, self->db)) <= 0)
                break;
        if (n <= 0)
            cs_db_wait_notify(self->db, n < 0 ? 200 : 1000);
    }
    return NULL;
}

int webhook_start(webhook_t *self)
{
    self->db = cs_service_db_new(self->svc, "webhook");
    if (!self->db)
        return -1;
    atomic_store(&self->stop, 0);
    if (pthread_create(&self->thread, NULL, s_worker, self) != 0) {
        cs_db_destroy(&self->db);
        return -1;
    }
    self->running = 1;
    return 0;
}

void webhook_destroy(webhook_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    webhook_t *self = *self_p;
    if (self->running) {
        atomic_store(&self->stop, 1);
        pthread_join(self->thread, NULL);
        cs_db_destroy(&self->db);
    }
    free(self);
    *self_p = NULL;
}

/* ---- the API ------------------------------------------------------------------------- */

static int s_uuid_param(cs_http_req_t *req, cs_http_resp_t *resp)
{
    if (req->nparams < 1 || !cs_is_uuid(req->param[0])) {
        cs_http_error(resp, 404, "id", "no such webhook subscriber");
        return -1;
    }
    return 0;
}

static json_t *s_subscriber_json(const PGresult *r, int i)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(cs_db_get(r, i, 0)));
    json_object_set_new(o, "name", json_string(cs_db_get(r, i, 1)));
    json_object_set_new(o, "url", json_string(cs_db_get(r, i, 2)));
    json_t *types = json_loads(cs_db_get(r, i, 3), 0, NULL);
    json_object_set_new(o, "event_types", types ? types : json_array());
    json_object_set_new(o, "active", json_boolean(strcmp(cs_db_get(r, i, 4), "t") == 0));
    json_object_set_new(o, "breaker", json_string(cs_db_get(r, i, 5)));
    json_object_set_new(o, "consecutive_failures", json_integer(cs_db_get_i64(r, i, 6)));
    json_object_set_new(o, "paused_until",
                        PQgetisnull(r, i, 7) ? json_null() : json_string(cs_db_get(r, i, 7)));
    json_object_set_new(o, "created_at", json_string(cs_db_get(r, i, 8)));
    return o;
}

#define S_SUBSCRIBER_COLS                                                                          \
    "id, name, url, array_to_json(event_types)::text, active, breaker, consecutive_failures,"      \
    " to_char(paused_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                 \
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A URL we may POST to: http(s), printable ASCII, no spaces, bounded. */
static int s_url_ok(const char *url)
{
    size_t n = strlen(url);
    if (n < 10 || n > WEBHOOK_URL_MAX ||
        (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (url[i] <= ' ' || url[i] > '~')
            return 0;
    return 1;
}

/* POST /v1/webhooks {"url", "event_types": [...], "secret"?, "name"?} */
static void s_create(cs_http_req_t *req, cs_http_resp_t *resp)
{
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    const char *url = json_string_value(json_object_get(body, "url"));
    json_t *types = json_object_get(body, "event_types");
    json_t *jsecret = json_object_get(body, "secret"), *jname = json_object_get(body, "name");
    const char *name = jname ? json_string_value(jname) : "";
    char secret[WEBHOOK_SECRET_MAX + 1];
    if (!url || !s_url_ok(url)) {
        cs_http_error(resp, 422, "url",
                      "url must be an http:// or https:// URL of at most %d"
                      " printable characters",
                      WEBHOOK_URL_MAX);
        goto out;
    }
    if (!json_is_array(types) || json_array_size(types) == 0 ||
        json_array_size(types) > WEBHOOK_TYPES_MAX) {
        cs_http_error(resp, 422, "event_types", "event_types must be a list of 1..%d event types",
                      WEBHOOK_TYPES_MAX);
        goto out;
    }
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        if (!webhook_pattern_valid(json_string_value(t))) {
            cs_http_error(resp, 422, "event_types",
                          "event_types[%zu] names no event notify can send (an exact type such"
                          " as dispatch.ticket.escalated, a family such as dispatch.ticket.*,"
                          " or *)",
                          i);
            goto out;
        }
    }
    if (!name || strlen(name) > 200) {
        cs_http_error(resp, 422, "name", "name must be a string of at most 200 bytes");
        goto out;
    }
    if (jsecret) {
        const char *s = json_string_value(jsecret);
        size_t n = s ? strlen(s) : 0;
        int printable = 1;
        for (size_t k = 0; k < n; k++)
            printable &= s[k] > ' ' && s[k] <= '~';
        if (n < 16 || n > WEBHOOK_SECRET_MAX || !printable) {
            cs_http_error(resp, 422, "secret",
                          "secret must be 16..%d printable characters without spaces",
                          WEBHOOK_SECRET_MAX);
            goto out;
        }
        snprintf(secret, sizeof(secret), "%s", s);
    } else {
        unsigned char raw[32];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
            cs_http_error(resp, 503, NULL, "no randomness for a secret");
            goto out;
        }
        for (size_t k = 0; k < sizeof(raw); k++)
            snprintf(secret + 2 * k, 3, "%02x", raw[k]);
    }
    char id[CS_UUID_LEN];
    cs_uuid(id);
    char *types_json = json_dumps(types, JSON_COMPACT);
    PGresult *r = types_json ? cs_db_exec(req->db,
                                          "INSERT INTO webhook_subscribers (id, name, url, secret,"
                                          " event_types) SELECT $1, $2, $3, $4,"
                                          " array(SELECT json_array_elements_text($5::json))"
                                          " RETURNING " S_SUBSCRIBER_COLS,
                                          5, (const char *[]){id, name, url, secret, types_json})
                             : NULL;
    free(types_json);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        goto out;
    }
    json_t *o = s_subscriber_json(r, 0);
    PQclear(r);
    json_object_set_new(o, "secret", json_string(secret)); /* shown once, at creation */
    cs_http_json(resp, 201, o);
    cs_info("notify: webhook subscriber %s created", id);
out:
    json_decref(body);
}

static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = cs_db_exec(
        req->db, "SELECT " S_SUBSCRIBER_COLS " FROM webhook_subscribers ORDER BY created_at, id", 0,
        NULL);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, s_subscriber_json(r, i));
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "webhooks", list);
    cs_http_json(resp, 200, o);
}

static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    if (s_uuid_param(req, resp) < 0)
        return;
    PGresult *r =
        cs_db_exec(req->db, "SELECT " S_SUBSCRIBER_COLS " FROM webhook_subscribers WHERE id = $1",
                   1, (const char *[]){req->param[0]});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    if (PQntuples(r) == 0)
        cs_http_error(resp, 404, "id", "no such webhook subscriber");
    else
        cs_http_json(resp, 200, s_subscriber_json(r, 0));
    PQclear(r);
}

static void s_delete(cs_http_req_t *req, cs_http_resp_t *resp)
{
    if (s_uuid_param(req, resp) < 0)
        return;
    int64_t n = cs_db_cmd(req->db, "DELETE FROM webhook_subscribers WHERE id = $1", 1,
                          (const char *[]){req->param[0]});
    if (n < 0)
        cs_http_error(resp, 503, NULL, "database unavailable");
    else if (n == 0)
        cs_http_error(resp, 404, "id", "no such webhook subscriber");
    else
        cs_http_json(resp, 200, json_pack("{s:s}", "deleted", req->param[0]));
}

/* GET /v1/webhooks/{id}/deliveries?limit= : newest first */
static void s_deliveries(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t limit;
    if (s_uuid_param(req, resp) < 0 ||
        cs_http_query_int(req, resp, "limit", 100, 1, 500, &limit) < 0)
        return;
    char lbuf[24];
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT id, source_event_id, event_type, status, attempts, last_status_code, last_error,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " to_char(delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        " FROM webhook_deliveries WHERE subscriber_id = $1"
        " ORDER BY created_at DESC, id LIMIT $2",
        2, (const char *[]){req->param[0], cs_db_i64(lbuf, limit)});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    static const char *const names[] = {"id",         "event_id",   "event_type",
                                        "status",     "attempts",   "last_status_code",
                                        "last_error", "created_at", "delivered_at"};
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_object();
        for (int c = 0; c < 9; c++)
            json_object_set_new(row, names[c],
                                c == 4 || c == 5       ? json_integer(cs_db_get_i64(r, i, c))
                                : PQgetisnull(r, i, c) ? json_null()
                                                       : json_string(PQgetvalue(r, i, c)));
        json_array_append_new(list, row);
    }
    PQclear(r);
    json_t *o = json_object();
    json_object_set_new(o, "deliveries", list);
    cs_http_json(resp, 200, o);
}

void webhook_api_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "POST", "/v1/webhooks", s_create, svc);
    cs_http_route(http, "GET", "/v1/webhooks", s_list, svc);
    cs_http_route(http, "GET", "/v1/webhooks/*", s_get, svc);
    cs_http_route(http, "DELETE", "/v1/webhooks/*", s_delete, svc);
    cs_http_route(http, "GET", "/v1/webhooks/*/deliveries", s_deliveries, svc);
}
