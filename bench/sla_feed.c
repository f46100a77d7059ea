/*
 * sla_feed — the dispatch side of bench/sla.py: a publisher on the real
 * service skeleton as service "dispatch" (stream dispatch-0), so that the
 * clocks cs-sla arms come through its real path: dispatch's outbox, the
 * relay, PUB/SUB, sla's consumer and its handlers.
 *
 *   POST /feed?n=N&prefix=P[&batch=B][&producers=K][&received_at_ms=R][&spread_ms=S]
 *
 * commits N dispatch.ticket.accepted events (one per ticket, each arming its
 * two clocks), B per transaction (default 100) over K threads each on its own
 * connection (default 1). Ticket i (0-based) is numbered "<P>-<i>", has a
 * random UUID, priority P3, and was received at R + i × S / N (R defaults
 * to now, S to 0), which is how the bench places warning moments. Teams,
 * agents, service types and tiers cycle through a few values so that the
 * rows are as wide as real ones. Answers {"emitted": N, "seconds": …} once
 * every event is committed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_service.h"

static const cs_migration_t s_migrations[] = {{NULL, NULL}};

typedef struct {
    cs_service_t *svc;
    cs_db_t *db;
    const char *prefix;
    int64_t first, count; /* tickets [first, first + count) of n */
    int64_t n, batch;
    int64_t received_at_ms, spread_ms;
    int64_t done;
} s_producer_t;

static const char *const s_service_types[] = {"equipment_maintenance", "safety_inspection",
                                              "environmental_compliance", "technical_consulting"};
static const char *const s_tiers[] = {"strategic", "large", "sme"};
static const char *const s_channels[] = {"email", "web", "phone", "onsite"};

static void *s_produce(void *arg)
{
    s_producer_t *p = arg;
    int64_t i = p->first, end = p->first + p->count;
    while (i < end) {
        if (cs_db_begin(p->db) < 0)
            return NULL;
        int64_t k = end - i < p->batch ? end - i : p->batch;
        for (int64_t j = 0; j < k; j++, i++) {
            char id[CS_UUID_LEN], number[64], team[32], agent[32];
            cs_uuid(id);
            snprintf(number, sizeof(number), "%s-%lld", p->prefix, (long long)i);
            snprintf(team, sizeof(team), "team-%lld", (long long)(i % 20));
            snprintf(agent, sizeof(agent), "agent-%lld", (long long)(i % 400));
            Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
            facts.ticket_id = id;
            facts.number = number;
            facts.priority = "P3";
            facts.team = team;
            facts.assignee = agent;
            facts.service_type = (char *)s_service_types[i % 4];
            facts.tier = (char *)s_tiers[i % 3];
            facts.channel = (char *)s_channels[i % 4];
            facts.received_at_ms = p->received_at_ms + (int64_t)((double)i * p->spread_ms / p->n);
            Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
            te.facts = &facts;
            te.actor = "system";
            te.at_ms = cs_now_ms();
            Cs__Envelope env = CS__ENVELOPE__INIT;
            env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
            env.ticket_event = &te;
            if (cs_bus_emit(p->db, "dispatch.ticket.accepted", &env) < 0) {
                cs_db_rollback(p->db);
                return NULL;
            }
        }
        if (cs_db_commit(p->db) < 0)
            return NULL;
        cs_service_kick(p->svc);
        p->done += k;
    }
    return NULL;
}

static void s_feed(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t n, batch, producers, received_at, spread;
    const char *prefix = cs_http_query(req, "prefix");
    if (cs_http_query_int(req, resp, "n", 0, 1, 10000000, &n) < 0 ||
        cs_http_query_int(req, resp, "batch", 100, 1, 10000, &batch) < 0 ||
        cs_http_query_int(req, resp, "producers", 1, 1, 16, &producers) < 0 ||
        cs_http_query_int(req, resp, "received_at_ms", cs_now_ms(), 946684800000LL,
                          4102444800000LL, &received_at) < 0 ||
        cs_http_query_int(req, resp, "spread_ms", 0, 0, 86400000LL * 365, &spread) < 0)
        return;
    if (!n || !prefix || !*prefix || strlen(prefix) > 20) {
        cs_http_error(resp, 400, !n ? "n" : "prefix", "give n >= 1 and a prefix of 1..20 bytes");
        return;
    }
    cs_service_t *svc = req->ctx;
    s_producer_t *prod = calloc((size_t)producers, sizeof(*prod));
    pthread_t *th = calloc((size_t)producers, sizeof(*th));
    int64_t done = 0, t0 = cs_mono_ms();
    if (!prod || !th)
        goto out;
    for (int64_t i = 0, first = 0; i < producers; i++) {
        s_producer_t *p = &prod[i];
        p->svc = svc;
        p->prefix = prefix;
        p->n = n;
        p->first = first;
        p->count = n / producers + (i < n % producers);
        first += p->count;
        p->batch = batch;
        p->received_at_ms = received_at;
        p->spread_ms = spread;
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
    json_object_set_new(o, "seconds", json_real((double)(cs_mono_ms() - t0) / 1000.0));
    cs_http_json(resp, 200, o);
}

static int s_init(cs_service_t *svc)
{
    cs_http_route(cs_service_http(svc), "POST", "/feed", s_feed, svc);
    return 0;
}

int main(int argc, char **argv)
{
    static const cs_service_def_t def = {
        .name = "dispatch", .port_base = 7200, .migrations = s_migrations, .init = s_init};
    return cs_service_run(&def, argc, argv);
}
