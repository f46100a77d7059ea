/*
 * bus_node — a publisher and a consumer built on the real service skeleton,
 * for the bus tests (tests/integration/test_bus.py).
 *
 *   bus_node pub    service "buspub": POST /emit?n=N&batch=B commits N test
 *                   events, B per transaction, numbered "1", "2", … after the
 *                   ones already emitted.
 *   bus_node sub    service "bussub" reading buspub: applies each event into
 *                   bussub.applied (unique per event id); BUS_APPLY_DELAY_US
 *                   slows every apply down.
 *   bus_node evil   binds a PUB and a ROUTER like a publisher and sends
 *                   hostile envelopes: random bytes, truncated, oversized,
 *                   unknown type, wrong stream, far-future sequence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_service.h"

/* ---- pub ---------------------------------------------------------------------- */

static const cs_migration_t s_pub_migrations[] = {
    {"001_counter", "CREATE TABLE emitted (id int PRIMARY KEY, n bigint NOT NULL);"
                    "INSERT INTO emitted VALUES (1, 0);"},
    {NULL, NULL}};

static void s_emit(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t n = 0, batch = 1;
    const char *ns = cs_http_query(req, "n");
    const char *bs = cs_http_query(req, "batch");
    if (!ns || cs_parse_int(ns, 1, 1000000, &n) < 0) {
        cs_http_error(resp, 400, "n", "n must be an integer in [1, 1000000]");
        return;
    }
    if (bs && cs_parse_int(bs, 1, 10000, &batch) < 0) {
        cs_http_error(resp, 400, "batch", "batch must be an integer in [1, 10000]");
        return;
    }
    int64_t done = 0;
    while (done < n) {
        if (cs_db_begin(req->db) < 0)
            goto fail;
        PGresult *r = cs_db_exec(req->db, "UPDATE emitted SET n = n + $1 WHERE id = 1 RETURNING n",
                                 1, (const char *[]){"0"});
        if (!r)
            goto fail_tx;
        int64_t base = cs_db_get_i64(r, 0, 0);
        PQclear(r);
        int64_t k = n - done < batch ? n - done : batch;
        for (int64_t i = 1; i <= k; i++) {
            char number[32];
            snprintf(number, sizeof(number), "%lld", (long long)(base + i));
            Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
            facts.number = number;
            Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
            te.facts = &facts;
            Cs__Envelope env = CS__ENVELOPE__INIT;
            env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
            env.ticket_event = &te;
            if (cs_bus_emit(req->db, "test.event", &env) < 0)
                goto fail_tx;
        }
        char kb[24];
        if (cs_db_cmd(req->db, "UPDATE emitted SET n = n + $1 WHERE id = 1", 1,
                      (const char *[]){cs_db_i64(kb, k)}) < 0)
            goto fail_tx;
        if (cs_db_commit(req->db) < 0)
            goto fail;
        done += k;
    }
    json_t *o = json_object();
    json_object_set_new(o, "emitted", json_integer(done));
    cs_http_json(resp, 200, o);
    return;
fail_tx:
    cs_db_rollback(req->db);
fail:
    cs_http_error(resp, 503, NULL, "database error after %lld events", (long long)done);
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
    const char *p[] = {env->stream, cs_db_i64(seq, (int64_t)env->sequence), number,
                       env->event_id};
    /* No ON CONFLICT: a second application must fail loudly, not hide. */
    return cs_db_cmd(db,
                     "INSERT INTO applied (stream, seq, number, event_id)"
                     " VALUES ($1, $2, $3, $4)",
                     4, p) == 1
               ? 0
               : -1;
}

static int s_sub_init(cs_service_t *svc)
{
    if (cs_env_int("BUS_APPLY_DELAY_US", 0, 0, 10000000, &s_delay_us) < 0)
        return -1;
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
        fprintf(stderr, "usage: bus_node pub|sub|evil\n");
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
    if (strcmp(argv[1], "evil") == 0)
        return s_evil();
    fprintf(stderr, "usage: bus_node pub|sub|evil\n");
    return 2;
}
