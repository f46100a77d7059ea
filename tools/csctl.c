/*
 * csctl — the operator's command line (DESIGN.md §2).
 *
 *   csctl status    one line per service: up/down, ready, version, stream, relay,
 *                   head, outbox backlog, lag, and each stream it reads
 *   csctl lag       one line per (service, stream it reads): who reads what,
 *                   checkpoint, head, lag, heartbeat
 *   csctl certs DIR [service...]   CURVE certificates as files
 *   csctl keys [service...]        CURVE keys as environment assignments
 *
 * Both exit 1, and say why, when any service is down or not ready, or when a
 * stream a service reads has sent no heartbeat for more than 5 s (or never):
 * a reader that hears nothing cannot know it is behind, so its own "lag 0"
 * is not to be trusted. Scripts gate on that exit status.
 *
 * Endpoints come from the same environment as the services (CS_<SVC>_HOST,
 * CS_<SVC>_HTTP_PORT), so csctl sees what the services see.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include "cs_config.h"
#include "cs_curve.h"

static const struct {
    const char *name;
    int port;
} s_services[] = {{"intake", 7100},   {"dispatch", 7200}, {"sla", 7300},
                  {"complaint", 7400}, {"survey", 7500},   {"notify", 7600}};
#define NSERVICES (sizeof(s_services) / sizeof(s_services[0]))

typedef struct {
    char *buf;
    size_t len;
} body_t;

static size_t s_collect(char *data, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t add = size * n;
    if (b->len + add > 1024 * 1024)
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

/* GET /readyz of service i: the parsed body (NULL when down) and the status. */
static json_t *s_readyz(size_t i, long *status)
{
    int64_t port;
    if (cs_env_svc_int(s_services[i].name, "HTTP_PORT", s_services[i].port, 1, 65535, &port) < 0)
        return NULL;
    const char *host = cs_env_svc(s_services[i].name, "HOST", "127.0.0.1");
    char url[256];
    snprintf(url, sizeof(url), "http://%s:%d/readyz", host, (int)port);
    CURL *c = curl_easy_init();
    body_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    json_t *j = b.buf ? json_loads(b.buf, 0, NULL) : NULL;
    free(b.buf);
    return j;
}

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

/* Print the streams service `name` reads (the "reads" array of its /readyz)
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

/* One service's /readyz, printed; 1 when it is a reason to exit 1, else 0. */
static int s_service(size_t i, int lag_only)
{
    const char *name = s_services[i].name;
    long status;
    json_t *j = s_readyz(i, &status);
    if (!j) {
        printf("%-10s %-5s\n", name, "down");
        return 1;
    }
    int ready = json_is_true(json_object_get(j, "ready"));
    if (!lag_only)
        printf("%-10s %-5s %-6s %-8s %-12s %-5s %8lld %8lld %6lld\n", name, "up",
               ready ? "yes" : "NO", s_str(j, "version"), s_str(j, "stream"),
               json_is_true(json_object_get(j, "relay")) ? "yes" : "no", s_int(j, "head"),
               s_int(j, "outbox_backlog"), s_int(j, "lag"));
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(j, "reasons"), k, v)
        printf("    not ready: %s\n", json_string_value(v) ? json_string_value(v) : "?");
    if (!ready && !json_array_size(json_object_get(j, "reasons")))
        printf("    not ready: %s says so (HTTP %ld)\n", name, status);
    int stale = s_reads(name, json_object_get(j, "reads"), lag_only);
    json_decref(j);
    return !ready || stale > 0;
}

/* csctl status / csctl lag: 0 when every service is up, ready and hears
   every stream it reads; 1 otherwise. */
static int s_status(int lag_only)
{
    int bad = 0;
    if (lag_only)
        printf("%-10s %5s %-10s %-12s %19s %13s %10s %s\n", "SERVICE", "", "PEER", "STREAM",
               "CHECKPOINT", "HEAD", "LAG", "HEARTBEAT");
    else
        printf("%-10s %-5s %-6s %-8s %-12s %-5s %8s %8s %6s\n", "SERVICE", "UP", "READY", "VERSION",
               "STREAM", "RELAY", "HEAD", "BACKLOG", "LAG");
    for (size_t i = 0; i < NSERVICES; i++)
        bad |= s_service(i, lag_only);
    return bad;
}

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

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: csctl status | lag | certs DIR [service...] | keys [service...]\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "certs") == 0)
        return s_certs(argc - 2, argv + 2);
    if (strcmp(argv[1], "keys") == 0)
        return s_keys(argc - 2, argv + 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(argv[1], "status") == 0)
        rc = s_status(0);
    else if (strcmp(argv[1], "lag") == 0)
        rc = s_status(1);
    else {
        fprintf(stderr, "csctl: unknown command '%s' (status, lag, certs, keys)\n", argv[1]);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
