#!/usr/bin/env python3
"""Benchmark: events per second through the lossless bus, end to end.

A publisher (bus_node pub) commits N events to its outbox (B per transaction); its relay
numbers and publishes them; a consumer (bus_node sub) applies each one in its own transaction
together with its checkpoint. Prints commit rate at the publisher and the rate at which the
consumer had applied them all — live, then for a consumer started late that reads everything
from replay. PostgreSQL durable (fsync on). Figures only; compare within one run.

    python3 bench/bus_throughput.py [-n 20000] [-b 100]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from harness import BUILD, Postgres, Service, http, wait_for  # noqa: E402

NODE = os.path.join(BUILD, "tests/integration/bus_node")
PUB = "http://127.0.0.1:17700"
SUB = "http://127.0.0.1:17750"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-b", type=int, default=100, help="events per publisher transaction")
    args = ap.parse_args()
    var = os.path.join(BUILD, "bench-var")
    os.makedirs(var, exist_ok=True)
    pg = Postgres("bench-bus", 55498)
    pg.start(["buspub", "bussub"])
    env = dict(os.environ, CS_DB_URL=pg.conninfo(), CS_LOG_LEVEL="warn",
               CS_BUSPUB_HTTP_PORT="17700", CS_BUSPUB_PUB_PORT="17701",
               CS_BUSPUB_REPLAY_PORT="17702", CS_BUSSUB_HTTP_PORT="17750",
               CS_BUSSUB_PUB_PORT="17751", CS_BUSSUB_REPLAY_PORT="17752")
    procs = []

    def start(role):
        p = Service(role, [NODE, role], env, os.path.join(var, f"bus-{role}.log"))
        p.start()
        procs.append(p)
        wait_for(lambda: http("GET", (PUB if role == "pub" else SUB) + "/healthz")[0] == 200, 20, role)
        return p

    def applied():
        return int(pg.scalar("SELECT count(*) FROM bussub.applied"))

    try:
        n, b = args.n, args.b
        print(f"petrocs bus throughput — {n} events, {b} per publisher transaction,"
              " one consumer transaction per event, PostgreSQL durable")
        start("pub")
        sub = start("sub")
        wait_for(lambda: http("GET", SUB + "/readyz")[0] == 200, 20, "sub ready")
        t0 = time.time()
        status, body = http("POST", f"{PUB}/emit?n={n}&batch={b}", timeout=600)
        assert status == 200, body
        t1 = time.time()
        wait_for(lambda: applied() >= n, 600, "all applied", 0.05)
        t2 = time.time()
        print(f"  live:   committed {n / (t1 - t0):9.0f} events/s; consumer applied all after"
              f" {t2 - t0:6.2f} s = {n / (t2 - t0):9.0f} events/s end to end")
        sub.stop()
        pg.query("DELETE FROM bussub.applied; UPDATE bussub.inbox_checkpoint SET last_seq = 0")
        t0 = time.time()
        start("sub")
        wait_for(lambda: applied() >= n, 600, "all replayed", 0.05)
        t1 = time.time()
        print(f"  replay: a consumer started late applied all {n} in {t1 - t0:6.2f} s"
              f" = {n / (t1 - t0):9.0f} events/s (batches of up to 500 from the outbox)")
    finally:
        for p in procs:
            p.stop()
        pg.stop()


if __name__ == "__main__":
    main()
