#!/usr/bin/env python3
"""Benchmark: the lossless bus side by side with raw ZeroMQ and with PostgreSQL itself.

In one run, on one durable PostgreSQL cluster (fsync on, synchronous_commit on):

1. pgbench: transactions of one 100-row INSERT, 1 and 8 clients — what the cluster can write.
2. raw CZMQ PUB -> SUB between two processes (build/bench/bus_raw), the message size of the
   petrocs events below — what the transport can carry with no durability at all.
3. petrocs: producers (1, 8, 64 threads of bus_node pub, each on its own connection) commit
   events to the outbox; the relay numbers and publishes them; a consumer (bus_node sub)
   applies each into a table with its checkpoint. Unbatched: one event per producer, relay and
   consumer transaction. Batched: relay numbering up to 500 per transaction and consumer apply
   up to 200 (the defaults), producers committing 1 or 100 events per transaction.
4. Latency: producers paced at half the best batched rate (and at a low rate), publish -> apply
   p50/p99, measured from the emit call (wall clock, before the producer's commit) to the
   commit of the consumer's transaction (track_commit_timestamp).
5. A consumer started late reads everything from replay.

Figures only, no assertion on time; compare ratios within one run.

    python3 bench/bus.py [--quick]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from harness import BUILD, Postgres, Service, http, wait_for  # noqa: E402

NODE = os.path.join(BUILD, "tests/integration/bus_node")
RAW = os.path.join(BUILD, "bench/bus_raw")
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
PG_PORT = 55497
PUB = "http://127.0.0.1:17800"
SUB = "http://127.0.0.1:17850"


class Bench:
    def __init__(self, quick):
        self.quick = quick
        self.var = os.path.join(BUILD, "bench-var")
        os.makedirs(self.var, exist_ok=True)
        self.pg = Postgres("bench-bus2", PG_PORT, durable=True,
                           options="-c track_commit_timestamp=on -c max_wal_size=4GB")
        self.procs = {}

    # ---- processes -------------------------------------------------------------------------
    def env(self, batched, sub_batch=False):
        env = dict(os.environ, CS_DB_URL=self.pg.conninfo(), CS_LOG_LEVEL="warn",
                   CS_BUSPUB_HTTP_PORT="17800", CS_BUSPUB_PUB_PORT="17801",
                   CS_BUSPUB_REPLAY_PORT="17802", CS_BUSSUB_HTTP_PORT="17850",
                   CS_BUSSUB_PUB_PORT="17851", CS_BUSSUB_REPLAY_PORT="17852",
                   CS_BUS_RETENTION_S="0")
        if not batched:
            env.update(CS_BUS_RELAY_BATCH="1", CS_BUS_APPLY_BATCH="1")
        if sub_batch:
            env.update(BUS_SUB_BATCH="1")
        return env

    def start(self, role, batched, sub_batch=False):
        url = PUB if role == "pub" else SUB
        p = Service(role, [NODE, role], self.env(batched, sub_batch),
                    os.path.join(self.var, f"bus2-{role}.log"))
        p.start()
        self.procs[role] = p
        wait_for(lambda: http("GET", url + "/healthz")[0] == 200, 30, role)

    def stop(self, role):
        p = self.procs.pop(role, None)
        if p:
            p.stop()

    def restart_both(self, batched, sub_batch=False):
        self.stop("sub")
        self.stop("pub")
        self.start("pub", batched)
        self.start("sub", batched, sub_batch)
        wait_for(lambda: http("GET", SUB + "/readyz")[0] == 200, 30, "sub ready")

    def applied_max_id(self):
        return int(self.pg.scalar("SELECT coalesce(max(id), 0) FROM bussub.applied"))

    def applied_since(self, since):
        return int(self.pg.scalar(f"SELECT count(*) FROM bussub.applied WHERE id > {since}"))

    # ---- measurements ------------------------------------------------------------------------
    def pgbench(self, clients, seconds):
        script = os.path.join(self.var, "insert100.sql")
        with open(script, "w") as f:
            f.write("INSERT INTO pgb (k, payload) SELECT g, repeat('x', 120)"
                    " FROM generate_series(1, 100) g;\n")
        self.pg.query("CREATE TABLE IF NOT EXISTS public.pgb (id bigserial PRIMARY KEY,"
                      " k int NOT NULL, payload text NOT NULL)")
        out = subprocess.run(
            [PGBENCH, "-n", "-f", script, "-c", str(clients), "-j", str(min(clients, 2)),
             "-T", str(seconds), "-h", self.pg.sock, "-p", str(PG_PORT), "-U", "postgres",
             "petrocs"], capture_output=True, text=True, check=True).stdout
        tps = [line for line in out.splitlines() if line.startswith("tps")][0]
        rate = float(tps.split("=")[1].split()[0])
        self.pg.query("TRUNCATE public.pgb")
        return rate * 100

    def raw(self, n, size, rate=0):
        out = subprocess.run([RAW, "-n", str(n), "-s", str(size), "-r", str(rate), "-p", "17890"],
                             capture_output=True, text=True, check=True, timeout=300).stdout
        return json.loads(out)

    def envelope_size(self):
        rows = self.pg.query("SELECT avg(octet_length(envelope))::int FROM buspub.outbox")
        return int(rows[0][0]) + 16  # + the {stream, sequence} prefix put on at publish

    def run(self, n, producers, batch, rate=0):
        """Emit n events and wait until all are applied; events/s end to end and latency."""
        since = self.applied_max_id()
        t0 = time.time()
        q = f"n={n}&batch={batch}&producers={producers}" + (f"&rate={rate}" if rate else "")
        status, body = http("POST", f"{PUB}/emit?{q}", timeout=1200)
        assert status == 200, body
        t1 = time.time()
        wait_for(lambda: self.applied_since(since) >= n, 1200, "all applied", 0.25)
        row = self.pg.query(
            "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY lat),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY lat)"
            " FROM (SELECT xmin, extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6"
            "        - emitted_us AS lat FROM bussub.applied WHERE id > %d) a" % since)[0]
        t_end = float(row[0])
        return {"committed": n / (t1 - t0), "end_to_end": n / (t_end - t0),
                "p50_ms": float(row[1]) / 1000, "p99_ms": float(row[2]) / 1000}

    def late_consumer(self, n, sub_batch):
        self.stop("sub")
        self.pg.query("DELETE FROM bussub.applied; UPDATE bussub.inbox_checkpoint SET last_seq = 0")
        t0 = time.time()
        self.start("sub", True, sub_batch)
        wait_for(lambda: self.applied_since(0) >= n, 1200, "all replayed", 0.25)
        t_end = float(self.pg.scalar(
            "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM bussub.applied"))
        return n / (t_end - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer events, shorter runs")
    args = ap.parse_args()
    b = Bench(args.quick)
    scale = 0.2 if args.quick else 1.0
    pg_seconds = 5 if args.quick else 10
    b.pg.start(["buspub", "bussub"])
    pub_log = os.path.join(b.var, "bus2-pub.log")
    log_from = os.path.getsize(pub_log) if os.path.exists(pub_log) else 0
    try:
        print("petrocs bus benchmark — durable PostgreSQL (fsync on, synchronous_commit on),"
              f" {os.cpu_count()} cores, everything on this machine")
        pgb = {c: b.pgbench(c, pg_seconds) for c in (1, 8)}
        print(f"\npgbench, one 100-row INSERT per transaction: {pgb[1]:,.0f} rows/s with 1 client,"
              f" {pgb[8]:,.0f} rows/s with 8")

        results = {}
        b.restart_both(False)
        b.run(200, 1, 1)  # warm up; also gives the envelope size
        size = b.envelope_size()
        # (relay/consumer batching, consumer handler, events per producer transaction, events)
        modes = [("unbatched", "per event", 1, 10000),
                 ("batched", "per event", 1, 20000),
                 ("batched", "per event", 100, 200000),
                 ("batched", "batch", 100, 400000)]
        for mode, handler, pbatch, n in modes:
            b.restart_both(mode == "batched", handler == "batch")
            for producers in (1, 8, 64):
                results[(mode, handler, producers, pbatch)] = b.run(int(n * scale), producers, pbatch)

        raw_n = int(500000 * scale)
        raw = b.raw(raw_n, size)
        print(f"\nraw CZMQ PUB -> SUB, {size}-byte messages, flat out: {raw['received']:,} of"
              f" {raw['sent']:,} received, {raw['events_per_s']:,.0f} events/s"
              f" (p50 {raw['p50_us'] / 1000:.2f} ms, p99 {raw['p99_us'] / 1000:.2f} ms — queueing)")
        print("\npetrocs publish -> apply, durable, end to end (events/s; ratio to raw received/s):")
        print(f"  {'relay/consumer':<15} {'handler':<9} {'producers':>9} {'events/tx':>9} {'committed/s':>12}"
              f" {'applied/s':>10} {'vs raw':>7} {'p50 ms':>8} {'p99 ms':>8}")
        for (mode, handler, producers, pbatch), r in results.items():
            print(f"  {mode:<15} {handler:<9} {producers:>9} {pbatch:>9} {r['committed']:>12,.0f}"
                  f" {r['end_to_end']:>10,.0f} {r['end_to_end'] / raw['events_per_s']:>7.3f}"
                  f" {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}")
        best_key = max(results, key=lambda k: results[k]["end_to_end"])
        best = results[best_key]["end_to_end"]
        print(f"\n  best batched rate {best:,.0f} events/s = {best / pgb[1]:.2f} of pgbench 1 client,"
              f" {best / pgb[8]:.2f} of pgbench 8 clients (rows/s)")

        b.restart_both(best_key[0] == "batched", best_key[1] == "batch")
        print(f"\nlatency, producers paced ({best_key[0]}, {best_key[1]} handler):")
        for rate, producers, pbatch in ((int(best / 2), best_key[2], best_key[3]), (1000, 8, 1)):
            n = max(2000, int(rate * 8 * scale))
            r = b.run(n, producers, pbatch, rate=rate)
            rr = b.raw(n, size, rate=rate)
            print(f"  {producers} producers x {pbatch} events/tx at {rate:>7,} events/s: applied {r['end_to_end']:>8,.0f}/s,"
                  f" p50 {r['p50_ms']:6.2f} ms, p99 {r['p99_ms']:6.2f} ms;"
                  f"  raw p50 {rr['p50_us'] / 1000:6.3f} ms, p99 {rr['p99_us'] / 1000:6.3f} ms")
        total = b.applied_since(0)
        print(f"\na consumer started late, all {total:,} events from replay:"
              f" {b.late_consumer(total, False):,.0f} events/s with the per-event handler")
        # A relay pass over a second is logged (cs_bus.c s_relay_timing): say so here.
        with open(pub_log, "rb") as f:
            f.seek(log_from)
            slow = [line for line in f.read().decode("utf-8", "replace").splitlines()
                    if "relay pass" in line]
        print(f"\nrelay passes over 1 s logged during this run: {len(slow)}"
              + (f" (first: {json.loads(slow[0])['msg']})" if slow else ""))
    finally:
        for role in list(b.procs):
            b.stop(role)
        b.pg.stop()


if __name__ == "__main__":
    main()
