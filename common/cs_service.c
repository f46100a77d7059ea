/*
 * cs_service — see cs_service.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "cs_service.h"
#include "bus_migrations.h"

struct cs_service {
    const cs_service_def_t *def;
    char stream[64];
    char conninfo[1024];
    cs_db_t *db;
    cs_db_t *http_db;
    cs_http_t *http;
    cs_publisher_t *pub;
    cs_consumer_t *consumer;
    cs_curve_t *curve;
    void *state;
    atomic_int kick;
    int kick_fd;       /* eventfd: a kick from any thread ends the loop's poll wait */
    int relay_more;    /* the relay stopped with rows left: poll without waiting */
    int64_t next_tick; /* def->tick_ms: the next tick's instant (monotonic ms) */
    int64_t max_ready_lag;
    pthread_mutex_t ready_lock;
    char ready_json[16384];
    int ready;
    int degraded; /* not ready, or ready with warnings: heartbeats say "degraded" */
};

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int cs_service_stopping(void)
{
    return s_stop;
}

const char *cs_service_name(cs_service_t *svc)
{
    return svc->def->name;
}
const char *cs_service_stream(cs_service_t *svc)
{
    return svc->stream;
}
cs_db_t *cs_service_db(cs_service_t *svc)
{
    return svc->db;
}
cs_http_t *cs_service_http(cs_service_t *svc)
{
    return svc->http;
}
cs_consumer_t *cs_service_consumer(cs_service_t *svc)
{
    return svc->consumer;
}
void cs_service_set_state(cs_service_t *svc, void *state)
{
    svc->state = state;
}
void *cs_service_state(cs_service_t *svc)
{
    return svc->state;
}
void cs_service_kick(cs_service_t *svc)
{
    /* One write per wave of kicks: the loop clears the flag before relaying. */
    if (!atomic_exchange(&svc->kick, 1) && svc->kick_fd >= 0) {
        uint64_t one = 1;
        ssize_t n = write(svc->kick_fd, &one, sizeof(one));
        (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
    }
}

/* cs_db's commit hook: a transaction that emitted events committed. */
static void s_on_commit(void *ctx)
{
    cs_service_kick(ctx);
}
cs_db_t *cs_service_db_new(cs_service_t *svc, const char *purpose)
{
    char app[128];
    snprintf(app, sizeof(app), "%s/%s", svc->stream, purpose);
    cs_db_t *db = cs_db_new(svc->conninfo, svc->def->name, app);
    if (db && cs_db_connect(db) < 0)
        cs_warn("db: %s connection not up yet; will retry", purpose);
    return db;
}

/* The libpq connection string: CS_DB_URL, plus the service's own login
   role (CS_<SVC>_DB_USER, default cs_<svc>) and password if given. */
static void s_conninfo(cs_service_t *svc)
{
    const char *base = cs_env("CS_DB_URL", "dbname=petrocs");
    char user[64];
    snprintf(user, sizeof(user), "cs_%s", svc->def->name);
    const char *u = cs_env_svc(svc->def->name, "DB_USER", user);
    const char *pw = cs_env_svc(svc->def->name, "DB_PASSWORD", NULL);
    int n = snprintf(svc->conninfo, sizeof(svc->conninfo), "%s user=%s", base, u);
    if (pw && n > 0 && (size_t)n < sizeof(svc->conninfo)) {
        /* quote the password for conninfo syntax */
        size_t at = (size_t)n;
        at += (size_t)snprintf(svc->conninfo + at, sizeof(svc->conninfo) - at, " password='");
        for (const char *c = pw; *c && at + 3 < sizeof(svc->conninfo); c++) {
            if (*c == '\'' || *c == '\\')
                svc->conninfo[at++] = '\\';
            svc->conninfo[at++] = *c;
        }
        snprintf(svc->conninfo + at, sizeof(svc->conninfo) - at, "'");
    }
}

static int s_ready(void *ctx, char *reason, size_t size)
{
    cs_service_t *svc = ctx;
    pthread_mutex_lock(&svc->ready_lock);
    snprintf(reason, size, "%s", svc->ready_json);
    int ok = svc->ready;
    pthread_mutex_unlock(&svc->ready_lock);
    return ok;
}

/* Items of a list of JSON strings as s_update_ready builds it ("a","b"):
   the texts hold no quotes (stream names are [A-Za-z0-9._-], the rest is
   our own wording), so an item is two quotes. */
static double s_count_items(const char *list)
{
    int quotes = 0;
    for (const char *c = list; *c; c++)
        quotes += *c == '"';
    return quotes / 2;
}

/* Recompute readiness on the main thread; the HTTP thread only reads it. */
static void s_update_ready(cs_service_t *svc)
{
    int db_ok = cs_db_ok(svc->db);
    uint64_t lag = cs_consumer_lag(svc->consumer);
    char reasons[2048] = "", warnings[2048] = "";
    if (!db_ok)
        snprintf(reasons, sizeof(reasons), "\"database unreachable\"");
    int readers_ok =
        cs_consumer_health(svc->consumer, reasons, sizeof(reasons), warnings, sizeof(warnings));
    if (lag > (uint64_t)svc->max_ready_lag) {
        size_t n = strlen(reasons);
        snprintf(reasons + n, sizeof(reasons) - n, "%s\"consumer lag %llu above %lld\"",
                 n ? "," : "", (unsigned long long)lag, (long long)svc->max_ready_lag);
    }
    int ready = db_ok && readers_ok && lag <= (uint64_t)svc->max_ready_lag;
    svc->degraded = !ready || warnings[0];
    char *peers = cs_consumer_status_json(svc->consumer);
    pthread_mutex_lock(&svc->ready_lock);
    snprintf(svc->ready_json, sizeof(svc->ready_json),
             "{\"ready\":%s,\"service\":\"%s\",\"stream\":\"%s\",\"version\":\"%s\","
             "\"database\":%s,\"migrations\":true,\"lag\":%llu,\"relay\":%s,\"head\":%llu,"
             "\"outbox_backlog\":%llu,\"reasons\":[%s],\"warnings\":[%s],\"reads\":%s}",
             ready ? "true" : "false", svc->def->name, svc->stream, CS_VERSION,
             db_ok ? "true" : "false", (unsigned long long)lag,
             cs_publisher_is_relay(svc->pub) ? "true" : "false",
             (unsigned long long)cs_publisher_head(svc->pub),
             (unsigned long long)cs_publisher_backlog(svc->pub), reasons, warnings,
             peers ? peers : "[]");
    svc->ready = ready;
    pthread_mutex_unlock(&svc->ready_lock);
    free(peers);
    /* The same verdict for Prometheus; the reasons themselves (free text with
       numbers in it) stay in the /readyz body, only their counts are here. */
    cs_gauge_set("cs_service_ready", "", ready ? 1 : 0);
    cs_gauge_set("cs_service_ready_reasons", "", s_count_items(reasons));
    cs_gauge_set("cs_service_ready_warnings", "", s_count_items(warnings));
}

static int s_port(const char *svc, const char *key, int dflt, int64_t *out)
{
    return cs_env_svc_int(svc, key, dflt, 0, 65535, out);
}

/* Connect the consumer to every instance of every service it reads:
   CS_<R>_PUB_CONNECT and CS_<R>_REPLAY_CONNECT are comma lists of equal
   length (one entry per instance); by default one instance on CS_<R>_HOST
   at the default ports of R. */
static int s_connect_peers(cs_service_t *svc)
{
    static const struct {
        const char *name;
        int base;
    } known[] = {{"intake", 7100}, {"dispatch", 7200}, {"sla", 7300}, {"complaint", 7400},
                 {"survey", 7500}, {"notify", 7600},   {NULL, 0}};
    int64_t hwm;
    if (cs_env_int("CS_BUS_RCVHWM", 0, 0, 10000000, &hwm) < 0)
        return -1;
    const char *all[32];
    size_t n = 0, first_followed;
    for (const char *const *r = svc->def->reads; r && *r && n < 31; r++)
        all[n++] = *r;
    first_followed = n;
    for (const char *const *r = svc->def->follows; r && *r && n < 31; r++)
        all[n++] = *r;
    all[n] = NULL;
    for (const char *const *r = all; *r; r++) {
        int base = 0;
        for (int i = 0; known[i].name; i++)
            if (strcmp(known[i].name, *r) == 0)
                base = known[i].base;
        int64_t pub_port, rep_port;
        if (s_port(*r, "PUB_PORT", base + 1, &pub_port) < 0 ||
            s_port(*r, "REPLAY_PORT", base + 2, &rep_port) < 0)
            return -1;
        const char *host = cs_env_svc(*r, "HOST", "127.0.0.1");
        char dpub[300], drep[300];
        snprintf(dpub, sizeof(dpub), "tcp://%s:%d", host, (int)pub_port);
        snprintf(drep, sizeof(drep), "tcp://%s:%d", host, (int)rep_port);
        char *pubs = strdup(cs_env_svc(*r, "PUB_CONNECT", dpub));
        char *reps = strdup(cs_env_svc(*r, "REPLAY_CONNECT", drep));
        char *sp1 = NULL, *sp2 = NULL;
        char *p = strtok_r(pubs, ",", &sp1);
        char *q = strtok_r(reps, ",", &sp2);
        int rc = 0;
        while (p && q) {
            if (cs_consumer_add_peer(svc->consumer, *r, p, q, (int)hwm, svc->curve) < 0)
                rc = -1;
            p = strtok_r(NULL, ",", &sp1);
            q = strtok_r(NULL, ",", &sp2);
        }
        if (p || q) {
            cs_error("config: CS_%s_PUB_CONNECT and CS_%s_REPLAY_CONNECT differ in length", *r, *r);
            rc = -1;
        }
        free(pubs);
        free(reps);
        if (rc < 0)
            return -1;
        if ((size_t)(r - all) >= first_followed)
            cs_consumer_follow_only(svc->consumer, *r);
    }
    return 0;
}

static int s_setup(cs_service_t *svc)
{
    const cs_service_def_t *def = svc->def;
    const char *stream = cs_env("CS_STREAM", NULL);
    int64_t ordinal;
    if (cs_env_int("CS_INSTANCE", 0, 0, 9999, &ordinal) < 0)
        return -1;
    if (stream)
        snprintf(svc->stream, sizeof(svc->stream), "%s", stream);
    else
        snprintf(svc->stream, sizeof(svc->stream), "%s-%d", def->name, (int)ordinal);
    cs_log_init(def->name, svc->stream);
    cs_bus_set_origin(svc->stream);
    svc->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (svc->kick_fd < 0) {
        cs_error("service: eventfd: %s", strerror(errno));
        return -1;
    }
    cs_db_set_commit_hook(s_on_commit, svc);
    s_conninfo(svc);
    if (cs_env_int("CS_READY_MAX_LAG", 1000, 0, INT64_MAX, &svc->max_ready_lag) < 0)
        return -1;

    svc->db = cs_db_new(svc->conninfo, def->name, svc->stream);
    while (!s_stop && cs_db_ensure(svc->db) < 0)
        usleep(100 * 1000);
    if (s_stop)
        return -1;
    if (cs_db_migrate(svc->db, cs_bus_migrations) < 0 ||
        cs_db_migrate(svc->db, def->migrations) < 0) {
        cs_error("service: migrations failed; refusing to start");
        return -1;
    }

    const char *host = cs_env_svc(def->name, "BIND", cs_env_svc(def->name, "HOST", "127.0.0.1"));
    int64_t http_port, pub_port, rep_port, max_bytes;
    if (s_port(def->name, "HTTP_PORT", def->port_base, &http_port) < 0 ||
        s_port(def->name, "PUB_PORT", def->port_base + 1, &pub_port) < 0 ||
        s_port(def->name, "REPLAY_PORT", def->port_base + 2, &rep_port) < 0 ||
        cs_env_int("CS_BUS_MAX_BYTES", CS_BUS_DEFAULT_MAX_BYTES, 1024, 64 << 20, &max_bytes) < 0)
        return -1;
    char pub_ep[128], rep_ep[128];
    snprintf(pub_ep, sizeof(pub_ep), "tcp://%s:%d", host, (int)pub_port);
    snprintf(rep_ep, sizeof(rep_ep), "tcp://%s:%d", host, (int)rep_port);
    cs_bus_set_max_bytes((size_t)max_bytes);
    const char *curve = cs_env("CS_BUS_CURVE", "off");
    if (strcmp(curve, "on") == 0) {
        svc->curve = cs_curve_new(def->name, cs_env("CS_BUS_CERT_DIR", "var/certs"));
        if (!svc->curve)
            return -1;
    } else if (strcmp(curve, "off") != 0) {
        cs_error("config: CS_BUS_CURVE=\"%.20s\" must be on or off", curve);
        return -1;
    }
    svc->pub = cs_publisher_new(def->name, svc->stream, pub_ep, rep_ep, svc->db, svc->curve);
    if (!svc->pub)
        return -1;
    svc->consumer = cs_consumer_new(svc->db, (size_t)max_bytes);
    if (!svc->consumer || s_connect_peers(svc) < 0)
        return -1;

    svc->http = cs_http_new(def->name, host, (int)http_port, 1024 * 1024);
    svc->http_db = cs_service_db_new(svc, "http");
    if (!svc->http || !svc->http_db)
        return -1;
    cs_http_set_db(svc->http, svc->http_db);
    cs_http_set_ready(svc->http, s_ready, svc);
    if (def->init && def->init(svc) < 0) {
        cs_error("service: %s initialisation failed", def->name);
        return -1;
    }
    s_update_ready(svc);
    if (cs_http_start(svc->http) < 0)
        return -1;
    cs_info("service %s %s started (stream %s, PUB %s, replay %s)", def->name, CS_VERSION,
            svc->stream, pub_ep, rep_ep);
    return 0;
}

static void s_declare_metrics(void)
{
    cs_metric_declare("cs_bus_published_total", "counter", "Events published on this stream.");
    cs_metric_declare("cs_bus_consumed_total", "counter", "Events consumed, by stream read.");
    cs_metric_declare("cs_bus_rejected_total", "counter", "Bus messages rejected, by reason.");
    cs_metric_declare("cs_bus_duplicates_total", "counter", "Duplicate events skipped.");
    cs_metric_declare("cs_bus_gaps_total", "counter", "Sequence gaps seen (repaired by replay).");
    cs_metric_declare("cs_bus_consumer_lag", "gauge", "Events behind the publisher's head.");
    cs_metric_declare("cs_bus_outbox_backlog", "gauge", "Committed events not yet numbered.");
    cs_metric_declare("cs_bus_stream_head", "gauge", "Highest sequence of this stream.");
    cs_metric_declare("cs_bus_pruned_total", "counter",
                      "Outbox rows deleted by retention (CS_BUS_RETENTION_S).");
    cs_metric_declare("cs_bus_apply_seconds", "histogram", "Time to apply one event.");
    cs_metric_declare("cs_bus_relay_seconds", "histogram",
                      "Time of one relay pass that numbered and published events.");
    cs_metric_declare("cs_bus_apply_batch_seconds", "histogram",
                      "Time to apply one batch of replayed events.");
    cs_metric_declare("cs_http_requests_total", "counter", "HTTP requests by route and status.");
    cs_metric_declare("cs_http_request_seconds", "histogram", "HTTP request latency.");
    cs_metric_declare("cs_db_errors_total", "counter", "Failed database statements.");
    cs_metric_declare("cs_db_reconnects_total", "counter",
                      "Database connections made again after the first one.");
    cs_metric_declare("cs_db_transaction_seconds", "histogram",
                      "Time from BEGIN to the end of COMMIT or ROLLBACK, by outcome.");
    cs_metric_declare("cs_db_commit_seconds", "histogram", "Time of the COMMIT statement alone.");
    cs_metric_declare("cs_bus_emit_refused_total", "counter",
                      "Events refused at emit (larger than CS_BUS_MAX_BYTES).");
    cs_metric_declare("cs_bus_replay_requests_total", "counter",
                      "Replay requests answered by this publisher, by result.");
    cs_metric_declare("cs_bus_replayed_total", "counter", "Events sent in replay answers.");
    cs_metric_declare("cs_bus_apply_failures_total", "counter",
                      "Events whose handler failed (retried), by stream read.");
    cs_metric_declare("cs_bus_dead_letters_total", "counter",
                      "Unreadable events set aside in bus_dead_letter, by stream read.");
    cs_metric_declare("cs_bus_heartbeat_age_seconds", "gauge",
                      "Seconds since the last heartbeat heard from a stream read (since the"
                      " start when none was heard yet).");
    cs_metric_declare("cs_service_ready", "gauge",
                      "1 when /readyz answers 200, 0 when 503 (the body says why).");
    cs_metric_declare("cs_service_ready_reasons", "gauge",
                      "Reasons /readyz gives for not being ready.");
    cs_metric_declare("cs_service_ready_warnings", "gauge",
                      "Warnings /readyz gives while ready (dead letters, silent streams).");
    cs_metric_declare("cs_build_info", "gauge", "Always 1; the version of the running binary.");
    cs_metric_declare("process_start_time_seconds", "gauge",
                      "Start time of the process since the Unix epoch, in seconds.");
    /* Exported from the start, so that rate() and increase() see the first
       error or reconnect as an increase from 0. */
    cs_counter_add("cs_db_errors_total", "", 0);
    cs_counter_add("cs_db_reconnects_total", "", 0);
    cs_counter_add("cs_bus_emit_refused_total", "", 0);
    char labels[96];
    snprintf(labels, sizeof(labels), "version=\"%s\"", CS_VERSION);
    cs_gauge_set("cs_build_info", labels, 1);
    cs_gauge_set("process_start_time_seconds", "", (double)cs_now_ms() / 1000.0);
}

/* One turn of the main loop's periodic work. */
static void s_periodic(cs_service_t *svc, int64_t *next_hb, int64_t *next_relay)
{
    int64_t now = cs_mono_ms();
    int kicked = atomic_exchange(&svc->kick, 0);
    int more = svc->relay_more;
    svc->relay_more = 0;
    if (kicked || more || now >= *next_relay) {
        /* Relay until caught up, but give the loop back after 20 ms so that
           replay requests and incoming events are not starved; when cut
           short, the loop comes straight back (no poll wait). */
        int n;
        while ((n = cs_publisher_relay(svc->pub)) > 0) {
            if (cs_mono_ms() - now >= 20) {
                svc->relay_more = 1;
                break;
            }
        }
        *next_relay = now + 250;
    }
    cs_consumer_tick(svc->consumer);
    /* A service that asks for a sooner tick (sla: warnings within a second
       of their moment) gets it on its own cadence, bounded by the loop's
       50 ms poll; the others keep theirs with the heartbeat. */
    int tick_ms = svc->def->tick_ms;
    if (tick_ms > 0 && now >= svc->next_tick) {
        svc->next_tick = now + (tick_ms < 10 ? 10 : tick_ms > 1000 ? 1000 : tick_ms);
        if (svc->def->tick && cs_db_ok(svc->db))
            svc->def->tick(svc);
    }
    if (now >= *next_hb) {
        *next_hb = now + 1000;
        if (tick_ms <= 0 && svc->def->tick && cs_db_ok(svc->db))
            svc->def->tick(svc);
        /* Retention: a few small batches a second, by the active relay only,
           so that pruning never holds locks or the loop for long. */
        if (cs_db_ok(svc->db))
            cs_publisher_prune(svc->pub);
        s_update_ready(svc);
        cs_publisher_heartbeat(svc->pub, svc->degraded ? "degraded" : "ok",
                               cs_consumer_lag(svc->consumer));
    }
}

static void s_loop(cs_service_t *svc)
{
    int64_t next_hb = 0, next_relay = 0;
    size_t nsock = cs_consumer_socket_count(svc->consumer);
    zmq_pollitem_t *items = calloc(nsock + 2, sizeof(*items));
    if (!items)
        return;
    int was_ok = 1;
    while (!s_stop) {
        if (cs_db_ensure(svc->db) < 0) {
            was_ok = 0;
            usleep(100 * 1000);
            continue;
        }
        if (!was_ok) {
            /* new session: the advisory lock and cached checkpoints are gone */
            cs_publisher_reset(svc->pub);
            cs_consumer_reset(svc->consumer);
            was_ok = 1;
        }
        items[0].socket = zsock_resolve(cs_publisher_replay_sock(svc->pub));
        items[0].events = ZMQ_POLLIN;
        for (size_t i = 0; i < nsock; i++) {
            items[i + 1].socket = zsock_resolve(cs_consumer_socket(svc->consumer, i));
            items[i + 1].events = ZMQ_POLLIN;
        }
        /* The kick eventfd: a commit that wrote events, on any thread. */
        items[nsock + 1].socket = NULL;
        items[nsock + 1].fd = svc->kick_fd;
        items[nsock + 1].events = ZMQ_POLLIN;
        int rc = zmq_poll(items, (int)nsock + 2, svc->relay_more ? 0 : 50);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        if (rc > 0 && (items[nsock + 1].revents & ZMQ_POLLIN)) {
            uint64_t count;
            ssize_t n = read(svc->kick_fd, &count, sizeof(count));
            (void)n; /* the flag, not the count, says what to do */
        }
        if (rc > 0) {
            for (int k = 0; k < 64 && (items[0].revents & ZMQ_POLLIN); k++) {
                cs_publisher_on_replay(svc->pub);
                if (!(zsock_events(cs_publisher_replay_sock(svc->pub)) & ZMQ_POLLIN))
                    break;
            }
            for (size_t i = 0; i < nsock; i++) {
                if (!(items[i + 1].revents & ZMQ_POLLIN))
                    continue;
                zsock_t *s = cs_consumer_socket(svc->consumer, i);
                /* each call takes up to CS_BUS_APPLY_BATCH events: a few calls,
                   then the other sockets and the relay get their turn */
                for (int k = 0; k < 8 && !s_stop; k++) {
                    cs_consumer_on_readable(svc->consumer, i);
                    if (!(zsock_events(s) & ZMQ_POLLIN))
                        break;
                }
            }
        }
        s_periodic(svc, &next_hb, &next_relay);
    }
    free(items);
}

int cs_service_run(const cs_service_def_t *def, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* CZMQ installs its own SIGINT/SIGTERM handler; we want ours, which lets
       the loop finish the unit of work in hand. */
    zsys_handler_set(NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cs_log_init(def->name, "");
    const char *level = cs_env("CS_LOG_LEVEL", "info");
    cs_log_set_level(strcmp(level, "debug") == 0  ? CS_LOG_DEBUG
                     : strcmp(level, "warn") == 0 ? CS_LOG_WARN
                                                  : CS_LOG_INFO);
    s_declare_metrics();

    cs_service_t *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return 1;
    svc->def = def;
    svc->kick_fd = -1;
    pthread_mutex_init(&svc->ready_lock, NULL);
    int rc = 1;
    if (s_setup(svc) == 0) {
        s_loop(svc);
        rc = 0;
    }
    cs_info("service %s stopping", def->name);
    cs_http_destroy(&svc->http);
    if (def->stop)
        def->stop(svc);
    if (svc->pub && cs_db_ok(svc->db))
        while (cs_publisher_relay(svc->pub) > 0)
            ; /* flush what was committed */
    cs_consumer_destroy(&svc->consumer);
    cs_publisher_destroy(&svc->pub);
    cs_curve_destroy(&svc->curve);
    cs_db_destroy(&svc->http_db);
    cs_db_destroy(&svc->db);
    cs_db_set_commit_hook(NULL, NULL);
    if (svc->kick_fd >= 0)
        close(svc->kick_fd);
    pthread_mutex_destroy(&svc->ready_lock);
    free(svc);
    zsys_shutdown();
    return rc;
}
