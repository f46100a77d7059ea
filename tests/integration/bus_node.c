/*
 * bus_node — a publisher and a consumer built on the real service skeleton,
 * for the bus tests (tests/integration/test_bus.py).
 *
 *   bus_node pub    service "buspub": POST /emit?n=N&batch=B commits N test
 *                   events, B per transaction, numbered "1", "2", … after the
 *                   ones already emitted. &producers=P spreads them over P
 *                   threads, each on its own connection (bench/bus.py);
 *                   &rate=R paces all of them together at R events/s (their
 *                   phases spread evenly, a steady rate, not waves);
 *                   &jitter_us=J pauses up to J µs before each commit (commits
 *                   out of id order) and &abort_one_in=K rolls back about one
 *                   transaction in K (events that never existed). Each
 *                   event carries its emit time (µs since the epoch) in
 *                   TicketEvent.message, for publish → apply latency.
 *   bus_node sub    service "bussub" reading buspub: applies each event into
 *                   bussub.applied (unique per event id, with the emit time
 *                   it carries); BUS_APPLY_DELAY_US slows every apply down;
 *                   BUS_SUB_BATCH=1 applies each run of events with one
 *                   INSERT (a batch handler, cs_consumer_on_batch).
 *   bus_node sub2   the same as a second service "bussub2" (schema bussub2).
 *   bus_node evil   binds a PUB and a ROUTER like a publisher and sends
 *                   hostile envelopes: random bytes, truncated, oversized,
 *                   unknown type, wrong stream, far-future sequence.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_service.h"

/* ---- pub ---------------------------------------------------------------------- */

static const cs_migration_t s_pub_migrations[] = {
    {"001_counter", "CREATE TABLE emitted (id int PRIMARY KEY, n bigint NOT NULL);"
                    "INSERT INTO emitted VALUES (1, 0);"},
    /* one counter per bench producer (2…65), so that producers never wait on
       each other's row: numbers are id × 10^9 + n */
    {"002_producers", "INSERT INTO emitted SELECT g, 0 FROM generate_series(2, 65) g;"},
    {NULL, NULL}};

static int64_t s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct {
    cs_service_t *svc;
    cs_db_t *db;
    int counter;       /* row of emitted: 1 alone, 2… for bench producers */
    int64_t n, batch;  /* events to emit, per transaction */
    int64_t interval;  /* µs between transactions (pacing), 0 = flat out */
    int64_t jitter_us; /* a random pause before each commit: commits out of id order */
    int64_t abort_one_in; /* roll back about one transaction in this many (0: never) */
    unsigned seed;
    int64_t offset_us; /* first transaction this late: producers spread over one interval */
    int64_t done;
} producer_t;

/* Commit p->n events, p->batch per transaction, each numbered after the
   counter row's value. The relay is kicked after each commit, as a service's
   HTTP thread does. */
static void *s_produce(void *arg)
{
    producer_t *p = arg;
    char id[16];
    snprintf(id, sizeof(id), "%d", p->counter);
    int64_t next = s_wall_us() + p->offset_us;
    while (p->done < p->n) {
        if (p->interval) {
            int64_t now = s_wall_us();
            if (now < next)
                usleep((useconds_t)(next - now));
            next += p->interval;
        }
        if (cs_db_begin(p->db) < 0)
            return NULL;
        PGresult *r = cs_db_exec(p->db, "SELECT n FROM emitted WHERE id = $1 FOR UPDATE", 1,
                                 (const char *[]){id});
        if (!r)
            goto fail;
        int64_t base = cs_db_get_i64(r, 0, 0) + (p->counter > 1 ? p->counter * 1000000000LL : 0);
        PQclear(r);
        int64_t k = p->n - p->done < p->batch ? p->n - p->done : p->batch;
        for (int64_t i = 1; i <= k; i++) {
            char number[32], at[32];
            snprintf(number, sizeof(number), "%lld", (long long)(base + i));
            snprintf(at, sizeof(at), "%lld", (long long)s_wall_us());
            Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
            facts.number = number;
            Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
            te.facts = &facts;
            te.message = at;
            Cs__Envelope env = CS__ENVELOPE__INIT;
            env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
            env.ticket_event = &te;
            if (cs_bus_emit(p->db, "test.event", &env) < 0)
                goto fail;
        }
        char kb[24];
        if (cs_db_cmd(p->db, "UPDATE emitted SET n = n + $2 WHERE id = $1", 2,
                      (const char *[]){id, cs_db_i64(kb, k)}) < 0)
            goto fail;
        if (p->jitter_us)
            usleep((useconds_t)(rand_r(&p->seed) % p->jitter_us));
        if (p->abort_one_in && rand_r(&p->seed) % p->abort_one_in == 0) {
            cs_db_rollback(p->db); /* these events never existed */
            continue;
        }
        if (cs_db_commit(p->db) < 0)
            return NULL;
        cs_service_kick(p->svc);
        p->done += k;
    }
    return NULL;
fail:
    cs_db_rollback(p->db);
    return NULL;
}

static void s_emit(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t n = 0, batch = 1, producers = 1, rate = 0;
    const char *ns = cs_http_query(req, "n");
    const char *bs = cs_http_query(req, "batch");
    const char *ps = cs_http_query(req, "producers");
    const char *rs = cs_http_query(req, "rate");
    if (!ns || cs_parse_int(ns, 1, 10000000, &n) < 0) {
        cs_http_error(resp, 400, "n", "n must be an integer in [1, 10000000]");
        return;
    }
    if (bs && cs_parse_int(bs, 1, 10000, &batch) < 0) {
        cs_http_error(resp, 400, "batch", "batch must be an integer in [1, 10000]");
        return;
    }
    if (ps && cs_parse_int(ps, 1, 64, &producers) < 0) {
        cs_http_error(resp, 400, "producers", "producers must be an integer in [1, 64]");
        return;
    }
    if (rs && cs_parse_int(rs, 1, 10000000, &rate) < 0) {
        cs_http_error(resp, 400, "rate", "rate must be an integer in [1, 10000000] events/s");
        return;
    }
    int64_t jitter = 0, abort_one_in = 0;
    const char *js = cs_http_query(req, "jitter_us");
    const char *as = cs_http_query(req, "abort_one_in");
    if (js && cs_parse_int(js, 0, 1000000, &jitter) < 0) {
        cs_http_error(resp, 400, "jitter_us", "jitter_us must be an integer in [0, 1000000]");
        return;
    }
    if (as && cs_parse_int(as, 0, 1000, &abort_one_in) < 0) {
        cs_http_error(resp, 400, "abort_one_in", "abort_one_in must be an integer in [0, 1000]");
        return;
    }
    cs_service_t *svc = req->ctx;
    producer_t *prod = calloc((size_t)producers, sizeof(*prod));
    pthread_t *th = calloc((size_t)producers, sizeof(*th));
    int64_t done = 0;
    if (!prod || !th)
        goto out;
    for (int64_t i = 0; i < producers; i++) {
        producer_t *p = &prod[i];
        p->svc = svc;
        p->counter = producers == 1 ? 1 : (int)i + 2;
        p->n = n / producers + (i < n % producers);
        p->batch = batch;
        /* each producer's share of the rate, in transactions */
        p->interval = rate ? (int64_t)(1e6 * (double)batch * (double)producers / (double)rate) : 0;
        /* Paced producers that all started at once would commit in waves (64
           transactions in the same millisecond, then nothing for an interval):
           a bench of bursts, not of a steady rate. Spread their phases. */
        p->offset_us = p->interval * i / producers;
        p->jitter_us = jitter;
        p->abort_one_in = abort_one_in;
        p->seed = (unsigned)(i + 1) * 2654435761u;
        p->db = producers == 1 ? req->db : cs_service_db_new(svc, "producer");
    }
    for (int64_t i = 0; i < producers; i++)
        pthread_create(&th[i], NULL, s_produce, &prod[i]);
    for (int64_t i = 0; i < producers; i++) {
        pthread_join(th[i], NULL);
        done += prod[i].done;
        if (producers > 1)
            cs_db_destroy(&prod[i].db);
    }
out:
    free(prod);
    free(th);
    if (done < n) {
        cs_http_error(resp, 503, NULL, "database error after %lld events", (long long)done);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "emitted", json_integer(done));
    cs_http_json(resp, 200, o);
}

static int s_pub_init(cs_service_t *svc)
{
    cs_http_route(cs_service_http(svc), "POST", "/emit", s_emit, svc);
    return 0;
}

/* ---- sub ---------------------------------------------------------------------- */

static const cs_migration_t s_sub_migrations[] = {
    {"001_applied", "CREATE TABLE applied ("
                    " id bigserial PRIMARY KEY,"
                    " stream text NOT NULL, seq bigint NOT NULL, number bigint NOT NULL,"
                    " event_id uuid NOT NULL UNIQUE,"
                    " emitted_us bigint,"
                    " at timestamptz NOT NULL DEFAULT now());"},
    {NULL, NULL}};

static int64_t s_delay_us;

static int s_on_test_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    (void)ctx;
    if (s_delay_us)
        usleep((useconds_t)s_delay_us);
    char seq[24];
    const char *number = env->ticket_event->facts ? env->ticket_event->facts->number : "0";
    const char *at = env->ticket_event->message && *env->ticket_event->message
                         ? env->ticket_event->message
                         : NULL;
    const char *p[] = {env->stream, cs_db_i64(seq, (int64_t)env->sequence), number,
                       env->event_id, at};
    /* No ON CONFLICT: a second application must fail loudly, not hide. */
    return cs_db_cmd(db,
                     "INSERT INTO applied (stream, seq, number, event_id, emitted_us)"
                     " VALUES ($1, $2, $3, $4, $5)",
                     5, p) == 1
               ? 0
               : -1;
}

/* The same as a batch handler (BUS_SUB_BATCH=1): one INSERT for the whole
   run, the values passed as arrays in stream order. */
static int s_on_test_events(cs_db_t *db, const Cs__Envelope *const *envs, size_t n, void *ctx)
{
    (void)ctx;
    size_t cap = 64 + n * 48;
    char *seqs = malloc(cap), *numbers = malloc(cap), *ids = malloc(cap), *ats = malloc(cap);
    int rc = -1;
    if (!seqs || !numbers || !ids || !ats)
        goto out;
    size_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        const Cs__TicketEvent *te = envs[i]->ticket_event;
        const char *number = te->facts ? te->facts->number : "0";
        const char *at = te->message && *te->message ? te->message : "NULL";
        const char *sep = i ? "," : "{";
        /* bounded: each value is a number of at most 20 digits or a UUID */
        if (strlen(number) > 20 || strlen(at) > 20 || strlen(envs[i]->event_id) > 36)
            goto out;
        a += (size_t)snprintf(seqs + a, cap - a, "%s%llu", sep,
                              (unsigned long long)envs[i]->sequence);
        b += (size_t)snprintf(numbers + b, cap - b, "%s%s", sep, number);
        c += (size_t)snprintf(ids + c, cap - c, "%s%s", sep, envs[i]->event_id);
        d += (size_t)snprintf(ats + d, cap - d, "%s%s", sep, at);
    }
    snprintf(seqs + a, cap - a, "}");
    snprintf(numbers + b, cap - b, "}");
    snprintf(ids + c, cap - c, "}");
    snprintf(ats + d, cap - d, "}");
    const char *p[] = {envs[0]->stream, seqs, numbers, ids, ats};
    int64_t rows = cs_db_cmd(db,
                             "INSERT INTO applied (stream, seq, number, event_id, emitted_us)"
                             " SELECT $1, s, n, e, u FROM unnest($2::bigint[], $3::bigint[],"
                             " $4::uuid[], $5::bigint[]) WITH ORDINALITY AS t(s, n, e, u, o)"
                             " ORDER BY o",
                             5, p);
    rc = rows == (int64_t)n ? 0 : -1;
out:
    free(seqs);
    free(numbers);
    free(ids);
    free(ats);
    return rc;
}

static int s_sub_init(cs_service_t *svc)
{
    int64_t batch = 0;
    if (cs_env_int("BUS_APPLY_DELAY_US", 0, 0, 10000000, &s_delay_us) < 0 ||
        cs_env_int("BUS_SUB_BATCH", 0, 0, 1, &batch) < 0)
        return -1;
    if (batch)
        cs_consumer_on_batch(cs_service_consumer(svc), "test.event", s_on_test_events, NULL);
    else
        cs_consumer_on(cs_service_consumer(svc), "test.event", s_on_test_event, NULL);
    return 0;
}

/* ---- evil --------------------------------------------------------------------- */

static void s_send(zsock_t *pub, const char *topic, const void *data, size_t len)
{
    zframe_t *t = zframe_new(topic, strlen(topic));
    zframe_t *b = zframe_new(data, len);
    zframe_send(&t, pub, ZFRAME_MORE);
    zframe_send(&b, pub, 0);
}

static size_t s_pack(Cs__Envelope *env, uint8_t *buf, size_t size)
{
    size_t len = cs__envelope__get_packed_size(env);
    if (len > size)
        return 0;
    return cs__envelope__pack(env, buf);
}

static int s_evil(void)
{
    zsys_handler_set(NULL);
    const char *pub_ep = cs_env("EVIL_PUB", "tcp://127.0.0.1:17991");
    const char *rep_ep = cs_env("EVIL_REPLAY", "tcp://127.0.0.1:17992");
    int64_t rounds;
    if (cs_env_int("EVIL_ROUNDS", 20, 1, 100000, &rounds) < 0)
        return 1;
    zsock_t *pub = zsock_new(ZMQ_PUB);
    zsock_t *rep = zsock_new(ZMQ_ROUTER);
    if (zsock_bind(pub, "%s", pub_ep) < 0 || zsock_bind(rep, "%s", rep_ep) < 0) {
        fprintf(stderr, "evil: cannot bind\n");
        return 1;
    }
    uint8_t buf[4096];
    static uint8_t big[2 * 1024 * 1024];
    memset(big, 0x41, sizeof(big));
    Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
    facts.number = "evil";
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = &facts;
    for (int64_t r = 0; r < rounds; r++) {
        /* 1. random bytes */
        cs_random(buf, 200);
        s_send(pub, "evil.random", buf, 200);
        /* 2. a valid envelope of unknown type */
        Cs__Envelope env = CS__ENVELOPE__INIT;
        env.event_id = "00000000-0000-4000-8000-000000000001";
        env.stream = "evil-0";
        env.sequence = 1;
        env.type = "evil.unknown.type";
        env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
        env.ticket_event = &te;
        size_t len = s_pack(&env, buf, sizeof(buf));
        s_send(pub, "evil.unknown.type", buf, len);
        /* 3. the same, truncated mid-field */
        env.type = "test.event";
        len = s_pack(&env, buf, sizeof(buf));
        s_send(pub, "test.event", buf, len / 2);
        /* 5. body that does not match the type */
        env.type = "sla.armed";
        len = s_pack(&env, buf, sizeof(buf));
        s_send(pub, "sla.armed", buf, len);
        /* 6. too many frames */
        zstr_sendm(pub, "a");
        zstr_sendm(pub, "b");
        zstr_send(pub, "c");
        /* 7. oversized (above the consumer's CS_BUS_MAX_BYTES): last, since
           libzmq drops the connection that carried it */
        if (r % 4 == 3)
            s_send(pub, "test.event", big, sizeof(big));
        /* answer replay requests with garbage, never with events */
        zmsg_t *m;
        while ((m = zmsg_recv_nowait(rep))) {
            zframe_t *id = zmsg_pop(m);
            zmsg_t *out = zmsg_new();
            zmsg_append(out, &id);
            zmsg_addstr(out, r % 2 ? "OK" : "WHAT");
            zmsg_addstr(out, r % 2 ? "bad stream name!" : "x");
            zmsg_addstr(out, "not-a-number");
            zmsg_send(&out, rep);
            zmsg_destroy(&m);
        }
        zclock_sleep(50);
    }
    zsock_destroy(&pub);
    zsock_destroy(&rep);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bus_node pub|sub|sub2|evil\n");
        return 2;
    }
    if (strcmp(argv[1], "pub") == 0) {
        static const cs_service_def_t def = {.name = "buspub",
                                             .port_base = 17900,
                                             .migrations = s_pub_migrations,
                                             .init = s_pub_init};
        return cs_service_run(&def, argc, argv);
    }
    if (strcmp(argv[1], "sub") == 0) {
        static const char *const reads[] = {"buspub", NULL};
        static const cs_service_def_t def = {.name = "bussub",
                                             .port_base = 17950,
                                             .migrations = s_sub_migrations,
                                             .reads = reads,
                                             .init = s_sub_init};
        return cs_service_run(&def, argc, argv);
    }
    if (strcmp(argv[1], "sub2") == 0) {
        /* a second, independent consumer of buspub (its own schema and checkpoints) */
        static const char *const reads[] = {"buspub", NULL};
        static const cs_service_def_t def = {.name = "bussub2",
                                             .port_base = 17960,
                                             .migrations = s_sub_migrations,
                                             .reads = reads,
                                             .init = s_sub_init};
        return cs_service_run(&def, argc, argv);
    }
    if (strcmp(argv[1], "evil") == 0)
        return s_evil();
    fprintf(stderr, "usage: bus_node pub|sub|evil\n");
    return 2;
}
