/*
 * cs_service — the skeleton every petrocs service stands on (DESIGN.md §8).
 *
 * cs_service_run() reads the configuration, connects to PostgreSQL (waiting
 * with back-off while it is down), applies the bus and service migrations,
 * binds the publisher (PUB + replay), connects to the services it reads,
 * starts the HTTP server with /healthz, /readyz and /metrics, then runs the
 * main loop: replay requests, incoming events, the relay, heartbeats, and
 * the service's own tick (once a second, or every tick_ms). SIGTERM/SIGINT end the loop after
 * the unit of work in hand; the relay is flushed before exit.
 *
 * Threads: the main loop owns one database connection (events, relay,
 * replay, tick); the HTTP server owns another. A service that runs more
 * threads (intake's SMTP listener) opens its own with cs_service_db_new().
 */
#ifndef CS_SERVICE_H
#define CS_SERVICE_H
#include "cs_bus.h"
#include "cs_db.h"
#include "cs_http.h"

typedef struct cs_service cs_service_t;

typedef struct {
    const char *name;                 /* "dispatch": schema, stream prefix, env prefix */
    int port_base;                    /* HTTP = base, PUB = base+1, replay = base+2 */
    const cs_migration_t *migrations; /* the service's own, after the bus tables */
    const char *const *reads;         /* services whose streams it consumes (NULL-ended) */
    const char *const *follows;       /* consumed too, but readiness never waits for them
                                         (cs_consumer_follow_only); NULL-ended */
    int (*init)(cs_service_t *svc);   /* register handlers and routes; 0 or -1 */
    void (*tick)(cs_service_t *svc);  /* on the main thread: once a second, or … */
    int tick_ms;                      /* … every tick_ms (10..1000) when not 0; the heartbeat,
                                         the readiness check and retention stay once a second */
    void (*stop)(cs_service_t *svc);  /* before exit */
} cs_service_def_t;

int cs_service_run(const cs_service_def_t *def, int argc, char **argv);

const char *cs_service_name(cs_service_t *svc);
const char *cs_service_stream(cs_service_t *svc);
cs_db_t *cs_service_db(cs_service_t *svc); /* main-loop connection */
cs_http_t *cs_service_http(cs_service_t *svc);
cs_consumer_t *cs_service_consumer(cs_service_t *svc);
/* A new, connected database handle for a thread of the service's own. */
cs_db_t *cs_service_db_new(cs_service_t *svc, const char *purpose);
void cs_service_set_state(cs_service_t *svc, void *state);
void *cs_service_state(cs_service_t *svc);
/* Ask the main loop to run the relay soon (after a commit on another thread). */
void cs_service_kick(cs_service_t *svc);
int cs_service_stopping(void);

#endif
