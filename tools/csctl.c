/*
 * csctl — the operator's command line (DESIGN.md §2).
 *
 *   csctl [--as SERVICE] [--no-bus] [--wait MS] status
 *                   one line per service instance: up/down, ready, version,
 *                   uptime, stream, relay, head, outbox backlog, lag, last
 *                   heartbeat and its health; below it each stream it reads
 *   csctl lag       one line per (instance, stream it reads): checkpoint,
 *                   head, lag, heartbeat age
 *   csctl replay STREAM [FROM [TO]]   the events a stream still holds, from
 *                   its publisher's replay socket, one line each
 *   csctl tickets [status=S] [assignee=A] [limit=N] [offset=N]
 *                   dispatch's tickets as a table
 *   csctl report sla|surveys|complaints [key=value...]
 *                   the services' reports (/v1/sla/report, /v1/surveys/summary,
 *                   /v1/complaints/analysis), as indented JSON
 *   csctl certs DIR [service...]   CURVE certificates as files
 *   csctl keys [service...]        CURVE keys as environment assignments
 *
 * status and lag exit 1, and say why, when any instance is down, not ready,
 * ready with warnings, silent on the bus (no heartbeat heard while its HTTP
 * answers), or when a stream an instance reads has sent no heartbeat for more
 * than 5 s (or never): a reader that hears nothing cannot know it is behind,
 * so its own "lag 0" is not to be trusted. Scripts gate on that exit status.
 *
 * Endpoints come from the same environment as the services, so csctl sees
 * what the services see: CS_<SVC>_HTTP_CONNECT (a comma list of base URLs,
 * one per instance; default http://CS_<SVC>_HOST:CS_<SVC>_HTTP_PORT),
 * CS_<SVC>_PUB_CONNECT and CS_<SVC>_REPLAY_CONNECT. With CS_BUS_CURVE=on,
 * csctl speaks CURVE with the keys of the service named by --as (in a pod:
 * the pod's own service), which every publisher admits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include "cs_bus.h"
#include "cs_config.h"
#include "cs_curve.h"
#include "cs_ids.h"

static const struct {
    const char *name;
    int port;
} s_services[] = {{"intake", 7100},    {"dispatch", 7200}, {"sla", 7300},
                  {"complaint", 7400}, {"survey", 7500},   {"notify", 7600}};
#define NSERVICES (sizeof(s_services) / sizeof(s_services[0]))
#define MAX_INSTANCES 64

/* Options that come before the command. */
static struct {
    const char *as;  /* CURVE identity (a service name) */
    int no_bus;      /* status/lag from HTTP only */
    int64_t wait_ms; /* how long to listen for heartbeats */
} s_opt = {NULL, 0, 2500};

/* ---- HTTP ---------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
} body_t;

static size_t s_collect(char *data, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t add = size * n;
    if (b->len + add > 16 * 1024 * 1024)
        return 0;
    char *nb = realloc(b->buf, b->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + b->len, data, add);
    b->buf = nb;
    b->len += add;
    b->buf[b->len] = 0;
    return add;
}

/* GET url: the body (caller frees; NULL when nothing answered) and the status
   (0 when nothing answered, with the reason in err). */
static char *s_get(const char *url, long *status, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    body_t b = {0};
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else {
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
        free(b.buf);
        b.buf = NULL;
    }
    curl_easy_cleanup(c);
    return b.buf;
}

static int s_service_index(const char *name)
{
    for (size_t i = 0; i < NSERVICES; i++)
        if (strcmp(s_services[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Split a comma list into at most max strdup'ed items; the count. */
static size_t s_split(const char *list, char **items, size_t max)
{
    size_t n = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        if (*t)
            items[n++] = strdup(t);
    free(copy);
    return n;
}

static void s_free_items(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
}

/* Base URLs (no trailing slash) of every instance of service i. */
static size_t s_http_bases(size_t i, char **bases, size_t max)
{
    const char *name = s_services[i].name;
    int64_t port;
    if (cs_env_svc_int(name, "HTTP_PORT", s_services[i].port, 1, 65535, &port) < 0)
        return 0;
    char dflt[300];
    snprintf(dflt, sizeof(dflt), "http://%s:%d", cs_env_svc(name, "HOST", "127.0.0.1"), (int)port);
    size_t n = s_split(cs_env_svc(name, "HTTP_CONNECT", dflt), bases, max);
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(bases[k]);
        if (len && bases[k][len - 1] == '/')
            bases[k][len - 1] = 0;
    }
    return n;
}

/* Bus endpoints (PUB or REPLAY) of every instance of service i. */
static size_t s_bus_endpoints(size_t i, const char *key, int delta, char **eps, size_t max)
{
    const char *name = s_services[i].name;
    int64_t port;
    char pkey[32];
    snprintf(pkey, sizeof(pkey), "%s_PORT", key);
    if (cs_env_svc_int(name, pkey, s_services[i].port + delta, 1, 65535, &port) < 0)
        return 0;
    char dflt[300], ckey[32];
    snprintf(dflt, sizeof(dflt), "tcp://%s:%d", cs_env_svc(name, "HOST", "127.0.0.1"), (int)port);
    snprintf(ckey, sizeof(ckey), "%s_CONNECT", key);
    return s_split(cs_env_svc(name, ckey, dflt), eps, max);
}

/* ---- heartbeats ----------------------------------------------------------------- */

typedef struct {
    char service[32];
    char stream[64];
    char health[16];
    char version[32];
    int64_t started_at_ms;
    int64_t sent_at_ms;
    uint64_t head, lag, backlog;
} heartbeat_t;

static heartbeat_t s_hb[MAX_INSTANCES * NSERVICES];
static size_t s_nhb;

static cs_curve_t *s_curve(void)
{
    if (strcmp(cs_env("CS_BUS_CURVE", "off"), "on") != 0)
        return NULL;
    if (!s_opt.as) {
        fprintf(stderr, "csctl: CS_BUS_CURVE=on: say whose keys to use with --as SERVICE\n");
        exit(2);
    }
    cs_curve_t *c = cs_curve_new(s_opt.as, cs_env("CS_BUS_CERT_DIR", "var/certs"));
    if (!c) {
        fprintf(stderr, "csctl: no CURVE keys for %s (CS_BUS_CURVE_SECRET or CS_BUS_CERT_DIR)\n",
                s_opt.as);
        exit(2);
    }
    return c;
}

/* Listen to every instance's PUB socket for its heartbeats, until every
   instance was heard or s_opt.wait_ms passed. */
static void s_listen(cs_curve_t *curve)
{
    zsock_t *subs[NSERVICES] = {0};
    zpoller_t *poller = zpoller_new(NULL);
    size_t expected = 0;
    for (size_t i = 0; i < NSERVICES; i++) {
        char *eps[MAX_INSTANCES];
        size_t n = s_bus_endpoints(i, "PUB", 1, eps, MAX_INSTANCES);
        subs[i] = zsock_new(ZMQ_SUB);
        if (curve && cs_curve_client(curve, subs[i], s_services[i].name) < 0) {
            s_free_items(eps, n);
            continue;
        }
        char topic[64];
        snprintf(topic, sizeof(topic), "%s.hb", s_services[i].name);
        zsock_set_subscribe(subs[i], topic);
        for (size_t k = 0; k < n; k++)
            if (zsock_connect(subs[i], "%s", eps[k]) == 0)
                expected++;
        s_free_items(eps, n);
        zpoller_add(poller, subs[i]);
    }
    int64_t deadline = cs_mono_ms() + s_opt.wait_ms;
    while (s_nhb < expected) {
        int64_t left = deadline - cs_mono_ms();
        if (left <= 0)
            break;
        zsock_t *which = zpoller_wait(poller, (int)left);
        if (!which)
            break;
        zmsg_t *msg = zmsg_recv(which);
        zframe_t *topic = msg ? zmsg_first(msg) : NULL;
        zframe_t *frame = msg ? zmsg_next(msg) : NULL;
        const char *why = NULL;
        Cs__Envelope *env = frame ? cs_envelope_decode(zframe_data(frame), zframe_size(frame),
                                                       CS_BUS_DEFAULT_MAX_BYTES, &why)
                                  : NULL;
        (void)topic;
        if (env && env->body_case == CS__ENVELOPE__BODY_HEARTBEAT) {
            const Cs__Heartbeat *h = env->heartbeat;
            size_t k;
            for (k = 0; k < s_nhb; k++)
                if (strcmp(s_hb[k].stream, h->instance) == 0)
                    break;
            if (k < sizeof(s_hb) / sizeof(s_hb[0])) {
                heartbeat_t *hb = &s_hb[k];
                snprintf(hb->service, sizeof(hb->service), "%s", h->service);
                snprintf(hb->stream, sizeof(hb->stream), "%s", h->instance);
                snprintf(hb->health, sizeof(hb->health), "%s", h->health);
                snprintf(hb->version, sizeof(hb->version), "%s", h->version);
                hb->started_at_ms = h->started_at_ms;
                hb->sent_at_ms = env->occurred_at_ms;
                hb->head = h->head;
                hb->lag = h->lag;
                hb->backlog = h->outbox_backlog;
                if (k == s_nhb)
                    s_nhb++;
            }
        }
        if (env)
            cs__envelope__free_unpacked(env, NULL);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    for (size_t i = 0; i < NSERVICES; i++)
        zsock_destroy(&subs[i]);
}

static const heartbeat_t *s_heartbeat_of(const char *stream)
{
    for (size_t k = 0; k < s_nhb; k++)
        if (strcmp(s_hb[k].stream, stream) == 0)
            return &s_hb[k];
    return NULL;
}

/* "3d04h", "2h13m", "4m07s", "45s". */
static const char *s_duration(int64_t ms, char *buf, size_t size)
{
    int64_t s = ms / 1000;
    if (ms < 0)
        snprintf(buf, size, "-");
    else if (s >= 86400)
        snprintf(buf, size, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, size, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, size, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, size, "%llds", (long long)s);
    return buf;
}

/* ---- status and lag ------------------------------------------------------------- */

static const char *s_str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

static long long s_int(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A stream read is stale when its peer has been silent longer than this. */
#define HEARTBEAT_STALE_MS 5000

/* "fresh 120ms", "STALE 8000ms" or "never" for a heartbeat age. */
static const char *s_heartbeat_word(long long age_ms, char *buf, size_t size)
{
    if (age_ms < 0)
        return "never";
    snprintf(buf, size, "%s %lldms", age_ms > HEARTBEAT_STALE_MS ? "STALE" : "fresh", age_ms);
    return buf;
}

/* Print the streams an instance reads (the "reads" array of its /readyz)
   and say why any of them is stale. The number of stale streams. */
static int s_reads(const char *name, json_t *reads, int lag_only)
{
    int stale = 0;
    size_t k;
    json_t *v;
    json_array_foreach(reads, k, v)
    {
        char hb[48];
        long long age = s_int(v, "heartbeat_age_ms");
        if (!json_is_integer(json_object_get(v, "heartbeat_age_ms")))
            age = -1; /* a reader that does not say has not heard */
        if (lag_only)
            printf("%-10s ", name); /* the reader first: several services read one stream */
        else
            printf("    ");
        printf("reads %-10s %-12s checkpoint %8lld head %8lld lag %6lld heartbeat %s\n",
               s_str(v, "peer"), s_str(v, "stream"), s_int(v, "checkpoint"), s_int(v, "head"),
               s_int(v, "lag"), s_heartbeat_word(age, hb, sizeof(hb)));
        if (age < 0 || age > HEARTBEAT_STALE_MS) {
            stale++;
            if (age < 0)
                printf("    stale: %s has never heard from %s %s\n", name, s_str(v, "peer"),
                       s_str(v, "stream"));
            else
                printf("    stale: %s has heard nothing from %s %s for %lld ms (limit %d)\n", name,
                       s_str(v, "peer"), s_str(v, "stream"), age, HEARTBEAT_STALE_MS);
        }
    }
    return stale;
}

/* One instance's /readyz joined with its heartbeat, printed; 1 when it is a
   reason to exit 1, else 0. */
static int s_instance(const char *name, const char *base, int lag_only)
{
    char url[600], err[CURL_ERROR_SIZE] = "";
    long status;
    snprintf(url, sizeof(url), "%s/readyz", base);
    char *body = s_get(url, &status, err, sizeof(err));
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (!j) {
        if (!lag_only)
            printf("%-10s %-12s %-5s\n", name, "?", "down");
        printf("    down: %s answers nothing at %s (%s)\n", name, url, err[0] ? err : "not JSON");
        return 1;
    }
    int ready = json_is_true(json_object_get(j, "ready"));
    const heartbeat_t *hb = s_opt.no_bus ? NULL : s_heartbeat_of(s_str(j, "stream"));
    int bad = !ready;
    if (!lag_only) {
        char up[24], age[24];
        int64_t now = cs_now_ms();
        printf("%-10s %-12s %-5s %-6s %-8s %-7s %-5s %8lld %8lld %6lld  %-9s %s\n", name,
               s_str(j, "stream"), "up", ready ? "yes" : "NO", s_str(j, "version"),
               hb ? s_duration(now - hb->started_at_ms, up, sizeof(up)) : "-",
               json_is_true(json_object_get(j, "relay")) ? "yes" : "no", s_int(j, "head"),
               s_int(j, "outbox_backlog"), s_int(j, "lag"),
               hb ? s_duration(now - hb->sent_at_ms, age, sizeof(age)) : "-",
               hb ? hb->health : (s_opt.no_bus ? "-" : "NONE"));
    }
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(j, "reasons"), k, v)
        printf("    not ready: %s\n", json_string_value(v) ? json_string_value(v) : "?");
    if (!ready && !json_array_size(json_object_get(j, "reasons")))
        printf("    not ready: %s says so (HTTP %ld)\n", name, status);
    json_array_foreach(json_object_get(j, "warnings"), k, v)
    {
        printf("    warning: %s\n", json_string_value(v) ? json_string_value(v) : "?");
        bad = 1;
    }
    if (!s_opt.no_bus && !hb) {
        printf("    silent: no heartbeat from %s %s on the bus within %lld ms\n", name,
               s_str(j, "stream"), (long long)s_opt.wait_ms);
        bad = 1;
    }
    int stale = s_reads(name, json_object_get(j, "reads"), lag_only);
    json_decref(j);
    return bad || stale > 0;
}

/* csctl status / csctl lag: 0 when every instance is up, ready, heard on
   the bus and hears every stream it reads; 1 otherwise. */
static int s_status(int lag_only)
{
    cs_curve_t *curve = NULL;
    if (!s_opt.no_bus && !lag_only) {
        curve = s_curve();
        s_listen(curve);
    }
    int bad = 0;
    if (lag_only)
        printf("%-10s %5s %-10s %-12s %19s %13s %10s %s\n", "SERVICE", "", "PEER", "STREAM",
               "CHECKPOINT", "HEAD", "LAG", "HEARTBEAT");
    else
        printf("%-10s %-12s %-5s %-6s %-8s %-7s %-5s %8s %8s %6s  %-9s %s\n", "SERVICE", "INSTANCE",
               "UP", "READY", "VERSION", "UPTIME", "RELAY", "HEAD", "BACKLOG", "LAG", "LAST-HB",
               "HEALTH");
    for (size_t i = 0; i < NSERVICES; i++) {
        char *bases[MAX_INSTANCES];
        size_t n = s_http_bases(i, bases, MAX_INSTANCES);
        if (n == 0) {
            printf("%-10s: no HTTP endpoint configured\n", s_services[i].name);
            bad = 1;
        }
        for (size_t k = 0; k < n; k++)
            bad |= s_instance(s_services[i].name, bases[k], lag_only);
        s_free_items(bases, n);
    }
    cs_curve_destroy(&curve);
    return bad;
}

/* ---- replay --------------------------------------------------------------------- */

/* Send a ReplayRequest on dealer and receive the reply (NULL after 5 s). */
static zmsg_t *s_replay_ask(zsock_t *dealer, uint64_t from, uint64_t to)
{
    Cs__ReplayRequest req = CS__REPLAY_REQUEST__INIT;
    req.stream = "";
    req.from_seq = from;
    req.to_seq = to;
    req.max_events = 500;
    size_t len = cs__replay_request__get_packed_size(&req);
    zframe_t *f = zframe_new(NULL, len);
    cs__replay_request__pack(&req, zframe_data(f));
    zframe_send(&f, dealer, 0);
    zpoller_t *p = zpoller_new(dealer, NULL);
    zsock_t *ready = zpoller_wait(p, 5000);
    zpoller_destroy(&p);
    return ready ? zmsg_recv(dealer) : NULL;
}

/* Print one replayed event: sequence, time, type, event id, trace id, size. */
static void s_print_event(const char *seqtxt, zframe_t *f)
{
    const char *why = NULL;
    Cs__Envelope *env =
        cs_envelope_decode(zframe_data(f), zframe_size(f), CS_BUS_DEFAULT_MAX_BYTES, &why);
    if (!env) {
        printf("%8s  unreadable (%s), %zu bytes\n", seqtxt, why ? why : "?", zframe_size(f));
        return;
    }
    char at[40];
    cs_iso8601(env->occurred_at_ms, at, sizeof(at));
    printf("%8s  %s  %-32s %s  trace %s  %zu bytes\n", seqtxt, at, env->type, env->event_id,
           env->trace_id && env->trace_id[0] ? env->trace_id : "-", zframe_size(f));
    cs__envelope__free_unpacked(env, NULL);
}

/* csctl replay STREAM [FROM [TO]]: find the instance serving STREAM (the
   service is the stream's name up to its last '-'), then print its events
   FROM..TO (default: the last 20). */
static int s_replay(int argc, char **argv)
{
    if (argc < 1 || argc > 3) {
        fprintf(stderr, "usage: csctl replay STREAM [FROM [TO]]   (e.g. dispatch-0 1 100)\n");
        return 2;
    }
    const char *stream = argv[0];
    char service[64];
    snprintf(service, sizeof(service), "%s", stream);
    char *dash = strrchr(service, '-');
    if (dash)
        *dash = 0;
    int si = s_service_index(service);
    if (si < 0) {
        fprintf(stderr,
                "csctl: '%s' is not a stream of intake, dispatch, sla, complaint, survey"
                " or notify (e.g. dispatch-0)\n",
                stream);
        return 2;
    }
    int64_t from = 0, to = 0;
    if ((argc >= 2 && cs_parse_int(argv[1], 1, INT64_MAX, &from) < 0) ||
        (argc >= 3 && cs_parse_int(argv[2], 1, INT64_MAX, &to) < 0) || (to && to < from)) {
        fprintf(stderr, "csctl: FROM and TO are sequences, 1 <= FROM <= TO\n");
        return 2;
    }
    cs_curve_t *curve = s_curve();
    char *eps[MAX_INSTANCES];
    size_t n = s_bus_endpoints((size_t)si, "REPLAY", 2, eps, MAX_INSTANCES);
    int rc = 1, found = 0;
    for (size_t k = 0; k < n && !found; k++) {
        zsock_t *dealer = zsock_new(ZMQ_DEALER);
        zsock_set_linger(dealer, 0);
        if ((curve && cs_curve_client(curve, dealer, service) < 0) ||
            zsock_connect(dealer, "%s", eps[k]) < 0) {
            fprintf(stderr, "csctl: cannot connect to %s\n", eps[k]);
            zsock_destroy(&dealer);
            continue;
        }
        zmsg_t *head = s_replay_ask(dealer, 0, 0); /* the handshake: stream and head */
        char *status = head ? zmsg_popstr(head) : NULL;
        char *name = head ? zmsg_popstr(head) : NULL;
        char *headtxt = head ? zmsg_popstr(head) : NULL;
        if (!head)
            fprintf(stderr, "csctl: %s did not answer within 5 s\n", eps[k]);
        else if (status && name && headtxt && strcmp(status, "OK") == 0 &&
                 strcmp(name, stream) == 0) {
            found = 1;
            uint64_t h = strtoull(headtxt, NULL, 10);
            uint64_t first = from ? (uint64_t)from : (h > 20 ? h - 19 : 1);
            uint64_t last = to ? (uint64_t)to : h;
            printf("stream %s at %s: head %llu; events %llu..%llu\n", stream, eps[k],
                   (unsigned long long)h, (unsigned long long)first, (unsigned long long)last);
            rc = 0;
            while (h > 0 && first <= last && first <= h) {
                zmsg_t *reply = s_replay_ask(dealer, first, last);
                char *st = reply ? zmsg_popstr(reply) : NULL;
                char *detail = reply ? zmsg_popstr(reply) : NULL;
                free(reply ? zmsg_popstr(reply) : NULL);
                if (!reply || !st) {
                    fprintf(stderr, "csctl: %s stopped answering\n", eps[k]);
                    rc = 1;
                } else if (strcmp(st, "GONE") == 0) {
                    char *kept = zmsg_popstr(reply);
                    printf("events from %llu were pruned (retention); the stream holds %s..%s\n",
                           (unsigned long long)first, kept ? kept : "?", headtxt);
                    free(kept);
                    rc = 1;
                } else if (strcmp(st, "OK") != 0) {
                    fprintf(stderr, "csctl: %s refused: %s\n", eps[k], detail ? detail : "?");
                    rc = 1;
                } else {
                    uint64_t got = 0;
                    char *seq;
                    while ((seq = zmsg_popstr(reply))) {
                        zframe_t *f = zmsg_pop(reply);
                        if (f)
                            s_print_event(seq, f);
                        got = strtoull(seq, NULL, 10);
                        free(seq);
                        zframe_destroy(&f);
                    }
                    if (got < first)
                        rc = 1; /* nothing came back: stop rather than loop */
                    first = got + 1;
                }
                free(st);
                free(detail);
                zmsg_destroy(&reply);
                if (rc)
                    break;
            }
        }
        free(status);
        free(name);
        free(headtxt);
        zmsg_destroy(&head);
        zsock_destroy(&dealer);
    }
    if (!found)
        fprintf(stderr, "csctl: no instance of %s in CS_%s_REPLAY_CONNECT serves stream %s\n",
                service, service, stream);
    s_free_items(eps, n);
    cs_curve_destroy(&curve);
    return found ? rc : 1;
}

/* ---- HTTP API clients: tickets, report ------------------------------------------ */

/* GET path on the first instance of service si with key=value arguments as
   the query: the parsed JSON (NULL after printing why). */
static json_t *s_api(size_t si, const char *path, int argc, char **argv, const char *what)
{
    char *bases[MAX_INSTANCES];
    size_t n = s_http_bases(si, bases, MAX_INSTANCES);
    if (n == 0) {
        fprintf(stderr, "csctl: no HTTP endpoint for %s\n", s_services[si].name);
        return NULL;
    }
    CURL *esc = curl_easy_init();
    char url[4096];
    size_t at = (size_t)snprintf(url, sizeof(url), "%s%s", bases[0], path);
    for (int i = 0; i < argc && at < sizeof(url); i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "csctl: '%s' is not key=value\n", argv[i]);
            curl_easy_cleanup(esc);
            s_free_items(bases, n);
            return NULL;
        }
        char *k = curl_easy_escape(esc, argv[i], (int)(eq - argv[i]));
        char *v = curl_easy_escape(esc, eq + 1, 0);
        at += (size_t)snprintf(url + at, sizeof(url) - at, "%c%s=%s", i ? '&' : '?', k, v);
        curl_free(k);
        curl_free(v);
    }
    curl_easy_cleanup(esc);
    long status;
    char err[CURL_ERROR_SIZE] = "";
    char *body = s_get(url, &status, err, sizeof(err));
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    /* errors are {"error": {"field": …, "message": …}} (cs_http_error) */
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    json_t *out = NULL;
    if (!body)
        fprintf(stderr, "csctl: %s: %s answers nothing at %s (%s)\n", what, s_services[si].name,
                url, err);
    else if (status == 404)
        fprintf(stderr,
                "csctl: %s: %s answers 404 for %s: this %s has no such route (an older"
                " version?); it says: %s\n",
                what, s_services[si].name, path, s_services[si].name, msg ? msg : "nothing");
    else if (status != 200)
        fprintf(stderr, "csctl: %s: %s answers HTTP %ld: %s\n", what, s_services[si].name, status,
                msg ? msg : body);
    else if (!j)
        fprintf(stderr, "csctl: %s: %s answered something that is not JSON\n", what,
                s_services[si].name);
    else
        out = json_incref(j);
    json_decref(j);
    free(body);
    s_free_items(bases, n);
    return out;
}

/* csctl tickets [status=…] [assignee=…] [limit=…] [offset=…]: dispatch's list. */
static int s_tickets(int argc, char **argv)
{
    json_t *j = s_api((size_t)s_service_index("dispatch"), "/v1/tickets", argc, argv, "tickets");
    if (!j)
        return 1;
    printf("%-15s %-16s %-4s %-24s %-8s %-12s %-20s %s\n", "NUMBER", "STATUS", "PRIO", "TYPE",
           "CHANNEL", "ASSIGNEE", "RECEIVED", "SUBJECT");
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(j, "tickets"), k, t)
    {
        int em = (int)s_int(t, "emergency_level");
        printf("%-15s %-16s %-4s %-24s %-8s %-12s %-20.20s %s%s\n", s_str(t, "number"),
               s_str(t, "status"), s_str(t, "priority"), s_str(t, "service_type"),
               s_str(t, "channel"), s_str(t, "assignee"), s_str(t, "received_at"),
               em ? (em == 1   ? "[EMERGENCY 1] "
                     : em == 2 ? "[EMERGENCY 2] "
                               : "[EMERGENCY 3] ")
                  : "",
               s_str(t, "subject"));
    }
    printf("(%lld tickets from offset %lld)\n", s_int(j, "count"), s_int(j, "offset"));
    json_decref(j);
    return 0;
}

/* csctl report sla|surveys|complaints [key=value…]: indented JSON. */
static int s_report(int argc, char **argv)
{
    static const struct {
        const char *what, *service, *path;
    } reports[] = {{"sla", "sla", "/v1/sla/report"},
                   {"surveys", "survey", "/v1/surveys/summary"},
                   {"complaints", "complaint", "/v1/complaints/analysis"}};
    for (size_t i = 0; argc >= 1 && i < sizeof(reports) / sizeof(reports[0]); i++) {
        if (strcmp(argv[0], reports[i].what) != 0)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "report %s", reports[i].what);
        json_t *j = s_api((size_t)s_service_index(reports[i].service), reports[i].path, argc - 1,
                          argv + 1, what);
        if (!j)
            return 1;
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(j);
        return 0;
    }
    fprintf(stderr, "usage: csctl report sla|surveys|complaints [key=value...]\n");
    return 2;
}

/* ---- keys ----------------------------------------------------------------------- */

/* csctl certs DIR [service...]: a CURVE certificate per service (default:
   the six) under DIR/public and DIR/secret, for CS_BUS_CURVE=on. */
static int s_certs(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "usage: csctl certs DIR [service...]\n");
        return 2;
    }
    const char *names[64];
    size_t n = 0;
    for (int i = 1; i < argc && n < 64; i++)
        names[n++] = argv[i];
    if (n == 0)
        for (size_t i = 0; i < NSERVICES; i++)
            names[n++] = s_services[i].name;
    if (cs_curve_generate(argv[0], names, n) < 0) {
        fprintf(stderr, "csctl: cannot write certificates under %s\n", argv[0]);
        return 1;
    }
    printf("wrote %zu certificates: %s/public/<service>.cert and %s/secret/<service>.cert_secret\n",
           n, argv[0], argv[0]);
    return 0;
}

/* csctl keys [service...]: a CURVE key pair per service (default: the six)
   printed as CS_BUS_CURVE_SECRET / CS_BUS_CURVE_PUBLIC_<S> lines. */
static int s_keys(int argc, char **argv)
{
    const char *names[64];
    size_t n = 0;
    for (int i = 0; i < argc && n < 64; i++)
        names[n++] = argv[i];
    if (n == 0)
        for (size_t i = 0; i < NSERVICES; i++)
            names[n++] = s_services[i].name;
    return cs_curve_print_keys(stdout, names, n) < 0 ? 1 : 0;
}

static void s_usage(void)
{
    fprintf(stderr,
            "usage: csctl [--as SERVICE] [--no-bus] [--wait MS] COMMAND\n"
            "  status                      every instance: up, ready, version, uptime, lag,\n"
            "                              backlog, heartbeat (exit 1 when unhealthy)\n"
            "  lag                         every stream read, by reader\n"
            "  replay STREAM [FROM [TO]]   the events a stream holds (default: the last 20)\n"
            "  tickets [status=S] [assignee=A] [limit=N] [offset=N]\n"
            "  report sla|surveys|complaints [key=value...]\n"
            "  certs DIR [service...]      CURVE certificates as files\n"
            "  keys [service...]           CURVE keys as environment assignments\n");
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--no-bus") == 0)
            s_opt.no_bus = 1;
        else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc && s_service_index(argv[i + 1]) >= 0)
            s_opt.as = argv[++i];
        else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc &&
                 cs_parse_int(argv[i + 1], 0, 60000, &s_opt.wait_ms) == 0)
            i++;
        else if (strcmp(argv[i], "--help") == 0) {
            s_usage();
            return 0;
        } else {
            fprintf(stderr, "csctl: bad option %s (--as needs a service name, --wait 0..60000)\n",
                    argv[i]);
            return 2;
        }
    }
    if (i >= argc || strcmp(argv[i], "help") == 0) {
        s_usage();
        return i >= argc ? 2 : 0;
    }
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **args = argv + i + 1;
    if (strcmp(cmd, "certs") == 0)
        return s_certs(rest, args);
    if (strcmp(cmd, "keys") == 0)
        return s_keys(rest, args);
    zsys_init();
    zsys_set_logstream(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(cmd, "status") == 0)
        rc = s_status(0);
    else if (strcmp(cmd, "lag") == 0)
        rc = s_status(1);
    else if (strcmp(cmd, "replay") == 0)
        rc = s_replay(rest, args);
    else if (strcmp(cmd, "tickets") == 0)
        rc = s_tickets(rest, args);
    else if (strcmp(cmd, "report") == 0)
        rc = s_report(rest, args);
    else {
        fprintf(stderr,
                "csctl: unknown command '%s' (status, lag, replay, tickets, report, certs,"
                " keys)\n",
                cmd);
        rc = 2;
    }
    curl_global_cleanup();
    zsys_shutdown();
    return rc;
}
