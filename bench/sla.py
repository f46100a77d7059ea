#!/usr/bin/env python3
"""Benchmark: sla-monitor with a million open clocks (issue 6, "Tests and speed").

On one durable PostgreSQL cluster (fsync on, synchronous_commit on, track_commit_timestamp
on), with cs-sla reading a stand-in for dispatch (build/bench/sla_feed: the real service
skeleton publishing dispatch.ticket.accepted through its outbox), so every clock is armed
through sla's real path — outbox, relay, PUB/SUB, consumer, handler — one event per ticket,
two clocks per event:

1. Arming: --clocks clocks (default 1 000 000, i.e. 500 000 tickets received over the last
   30 minutes, warnings and deadlines an hour or more away), fed by 2 producer threads, 100
   events per transaction, cs-sla running ("live": feeder, relay, sla and PostgreSQL share
   the machine). Clocks armed per second, from the first commit of the feed to sla's
   checkpoint reaching the last event. Then "catch-up": cs-sla stopped, --catchup more
   clocks fed, cs-sla started: clocks armed per second from its start to its checkpoint
   reaching the last event (sla alone reading dispatch's replay).
2. Memory per open clock: cs-sla's resident set (VmRSS) growth, and PostgreSQL bytes per
   clock — the clocks table with its indexes, and what arming also writes (the history's
   "armed" rows, the sla.armed events kept for replay).
3. Warning lateness, light load: --probe tickets whose first-response warning moments are
   spread over 30 s, the million clocks still open: how long after its moment each warning
   was committed (track_commit_timestamp) — p50, p99, max.
4. Firing: --burst tickets armed like the others; once all are armed, their first-response
   warning moment is moved (one UPDATE) to a single instant 3 s ahead: warnings committed per
   second through the tick, and their lateness.
5. Restart: cs-sla stopped (SIGTERM) and started again with every clock open: seconds until
   /readyz answers 200.

Figures only, no assertion on time; compare ratios within one run.

    python3 bench/sla.py [--clocks N] [--catchup C] [--burst F] [--probe L]
"""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from harness import BUILD, Postgres, Service, http, wait_for  # noqa: E402

FEED_BIN = os.path.join(BUILD, "bench", "sla_feed")
SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
PG_PORT = 55516
FEED = "http://127.0.0.1:22210"
SLA = "http://127.0.0.1:22310"
FR_MIN = 120              # P3 first response (the default commitment)
WARN_AFTER_MS = FR_MIN * 60000 * 80 // 100  # the warning share (80 %) of it


def now_ms():
    return int(time.time() * 1000)


def pct(values, p):
    """Nearest rank, as the report computes it."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, -(-len(v) * p // 100) - 1)]


class Bench:
    def __init__(self, args):
        self.args = args
        self.var = os.path.join(BUILD, "bench-var")
        os.makedirs(self.var, exist_ok=True)
        self.pg = Postgres("bench-sla", PG_PORT, durable=True,
                           options="-c track_commit_timestamp=on -c max_wal_size=4GB")
        self.env = None
        self.feed = None
        self.sla = None
        self.events = 0  # dispatch events fed so far = the head of dispatch-0

    # ---- processes ---------------------------------------------------------------------
    def start(self):
        self.pg.start(["dispatch", "sla"])
        self.env = dict(os.environ, CS_DB_URL=self.pg.conninfo(), CS_LOG_LEVEL="warn",
                        CS_DISPATCH_HTTP_PORT="22210", CS_DISPATCH_PUB_PORT="22211",
                        CS_DISPATCH_REPLAY_PORT="22212", CS_SLA_HTTP_PORT="22310",
                        CS_SLA_PUB_PORT="22311", CS_SLA_REPLAY_PORT="22312",
                        CS_SLA_COMPLAINT_CLOCKS="0", CS_BUS_RETENTION_S="0")
        self.feed = Service("feed", [FEED_BIN], self.env, os.path.join(self.var, "sla-feed.log"))
        self.feed.start()
        wait_for(lambda: http("GET", FEED + "/healthz")[0] == 200, 30, "feed up")
        self.start_sla()

    def start_sla(self):
        self.sla = Service("sla", [SLA_BIN], self.env, os.path.join(self.var, "sla-sla.log"))
        t0 = time.time()
        self.sla.start()
        wait_for(lambda: http("GET", SLA + "/readyz", timeout=2)[0] == 200, 120, "sla ready",
                 interval=0.02)
        return time.time() - t0

    def stop(self):
        for p in (self.sla, self.feed):
            if p:
                p.stop()
        self.pg.stop()

    def rss_bytes(self):
        with open(f"/proc/{self.sla.proc.pid}/status") as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1)) * 1024

    # ---- feeding -----------------------------------------------------------------------
    def feed_tickets(self, n, prefix, received_at_ms=None, spread_ms=0, producers=2):
        q = f"n={n}&prefix={prefix}&batch=100&producers={producers}&spread_ms={spread_ms}"
        if received_at_ms is not None:
            q += f"&received_at_ms={received_at_ms}"
        status, out = http("POST", FEED + "/feed?" + q, timeout=3600)
        if status != 200:
            raise AssertionError(f"feed failed: {status} {out}")
        self.events += n
        return out["seconds"]

    def applied(self):
        v = self.pg.scalar("SELECT last_seq FROM sla.inbox_checkpoint WHERE stream = 'dispatch-0'")
        return int(v) if v else 0

    def wait_applied(self, timeout):
        t0 = time.time()
        while self.applied() < self.events:
            if time.time() - t0 > timeout:
                raise AssertionError(f"sla applied {self.applied()} of {self.events} events")
            time.sleep(0.05)
        return time.time()

    def sizes(self):
        row = self.pg.query(
            "SELECT pg_relation_size('sla.clocks'), pg_indexes_size('sla.clocks'),"
            " pg_total_relation_size('sla.clocks'), pg_total_relation_size('sla.clock_events'),"
            " pg_total_relation_size('sla.bus_log') + pg_total_relation_size('sla.bus_pending')")[0]
        return [int(x) for x in row]

    def index_sizes(self):
        return self.pg.query("SELECT indexrelname, pg_relation_size(indexrelid)"
                             " FROM pg_stat_user_indexes WHERE schemaname = 'sla'"
                             " AND relname = 'clocks' ORDER BY 2 DESC")

    def warnings(self, prefix):
        """Lateness (ms) of each first-response warning of the tickets named prefix-*:
        commit time of the history row minus the warning moment."""
        rows = self.pg.query(
            "SELECT (extract(epoch FROM pg_xact_commit_timestamp(e.xmin) - e.at) * 1000)::bigint,"
            " sla.ts_ms(pg_xact_commit_timestamp(e.xmin))"
            " FROM sla.clock_events e JOIN sla.clocks c ON c.id = e.clock_id"
            f" WHERE e.kind = 'warning' AND c.number LIKE '{prefix}-%'")
        return [int(r[0]) for r in rows], [int(r[1]) for r in rows]

    # ---- the phases --------------------------------------------------------------------
    def run(self):
        a = self.args
        out = []
        self.start()
        rss0, size0 = self.rss_bytes(), self.sizes()
        tickets = a.clocks // 2

        # 1. arming: tickets received over the last 30 minutes (distinct instants, as real
        # ones: equal keys would flatter the indexes through B-tree deduplication); their
        # first warnings fall due from 66 minutes on, long after the bench.
        t0 = time.time()
        feed_s = self.feed_tickets(tickets, "A", received_at_ms=now_ms() - 1800000,
                                   spread_ms=1800000)
        t_end = self.wait_applied(3600)
        arm_s = t_end - t0
        clocks = int(self.pg.scalar("SELECT count(*) FROM sla.clocks"))
        out.append(("tickets fed (dispatch events committed)",
                    f"{tickets:,} in {feed_s:.1f} s = {tickets / feed_s:,.0f} events/s"))
        out.append(("clocks armed through the real path",
                    f"{clocks:,} in {arm_s:.1f} s = {clocks / arm_s:,.0f} clocks/s"
                    f" ({tickets / arm_s:,.0f} events/s)"))

        # 2. memory
        time.sleep(3)  # a few ticks: the gauges' count over every clock included
        rss1, size1 = self.rss_bytes(), self.sizes()
        d = [s1 - s0 for s0, s1 in zip(size0, size1)]
        out.append(("cs-sla RSS", f"{rss0 / 2**20:.1f} MiB before, {rss1 / 2**20:.1f} MiB after"
                    f" = {(rss1 - rss0) / clocks:.1f} bytes per open clock"))
        out.append(("PostgreSQL clocks table (heap)", f"{d[0] / clocks:.0f} bytes per clock"))
        out.append(("PostgreSQL clocks indexes (all)", f"{d[1] / clocks:.0f} bytes per clock"))
        for name, size in self.index_sizes():
            out.append((f"    index {name}", f"{int(size) / clocks:.0f} bytes per clock"))
        out.append(("PostgreSQL clocks table + indexes", f"{d[2] / clocks:.0f} bytes per clock"))
        out.append(("  + history (clock_events 'armed')", f"{d[3] / clocks:.0f} bytes per clock"))
        out.append(("  + sla.armed events kept for replay", f"{d[4] / clocks:.0f} bytes per clock"))
        out.append(("PostgreSQL all of it", f"{sum(d[2:]) / clocks:.0f} bytes per clock"))

        # 1b. arming, catch-up: sla down while a.catchup clocks are fed, then started
        if a.catchup:
            self.sla.stop()
            before = int(self.pg.scalar("SELECT count(*) FROM sla.clocks"))
            self.feed_tickets(a.catchup // 2, "C", received_at_ms=now_ms() - 1800000,
                              spread_ms=1800000)
            t0 = time.time()
            self.start_sla()
            t_end = self.wait_applied(3600)
            n = int(self.pg.scalar("SELECT count(*) FROM sla.clocks")) - before
            out.insert(2, ("clocks armed, catch-up (sla started after the feed)",
                           f"{n:,} in {t_end - t0:.1f} s = {n / (t_end - t0):,.0f} clocks/s"
                           f" ({n / 2 / (t_end - t0):,.0f} events/s)"))

        # 3. lateness, light load: a.probe warnings spread over 30 s from 5 s ahead
        first = now_ms() + 5000
        self.feed_tickets(a.probe, "L", received_at_ms=first - WARN_AFTER_MS, spread_ms=30000,
                          producers=1)
        time.sleep(max(0, (first + 30000 - now_ms()) / 1000) + 3)
        late, _ = wait_for(lambda: (lambda w: w if len(w[0]) >= a.probe else None)(
            self.warnings("L")), 60, "every probe warning")
        out.append((f"warning lateness, {a.probe} spread over 30 s",
                    f"p50 {pct(late, 50)} ms, p99 {pct(late, 99)} ms, max {max(late)} ms"))

        # 4. firing: a.burst tickets armed like the others (warnings 96 minutes away); once
        # every one is armed, their first-response warning moment is moved by hand to one
        # instant 3 s ahead, so that what is timed is the tick alone, not the arming.
        self.feed_tickets(a.burst, "B")
        self.wait_applied(3600)
        due = now_ms() + 3000
        self.pg.query(f"UPDATE sla.clocks SET warn_at = sla.ms_ts({due})"
                      " WHERE number LIKE 'B-%' AND target = 'first_response'")
        wait_for(lambda: len(self.warnings("B")[0]) >= a.burst, 600, "every burst warning",
                 interval=0.5)
        late, committed = self.warnings("B")
        fire_s = (max(committed) - due) / 1000
        out.append((f"firing, {a.burst:,} warnings due at once",
                    f"all committed {fire_s:.2f} s after their moment = "
                    f"{a.burst / fire_s:,.0f} warnings/s"))
        out.append(("  their lateness", f"p50 {pct(late, 50)} ms, p99 {pct(late, 99)} ms,"
                    f" max {max(late)} ms"))

        # 5. restart with every clock open
        open_clocks = int(self.pg.scalar(
            "SELECT count(*) FROM sla.clocks WHERE state IN ('running', 'paused')"))
        t0 = time.time()
        self.sla.stop()
        stop_s = time.time() - t0
        ready_s = self.start_sla()
        out.append((f"restart with {open_clocks:,} open clocks",
                    f"stopped in {stop_s:.2f} s; /readyz 200 after {ready_s:.2f} s"))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clocks", type=int, default=1000000, help="clocks to arm (2 per ticket)")
    ap.add_argument("--catchup", type=int, default=200000,
                    help="clocks armed by a restarted sla (0: skip)")
    ap.add_argument("--burst", type=int, default=20000, help="warnings due at one instant")
    ap.add_argument("--probe", type=int, default=300, help="warnings spread over 30 s")
    args = ap.parse_args()
    if not (os.path.exists(FEED_BIN) and os.path.exists(SLA_BIN)):
        sys.exit("build first: make build")
    b = Bench(args)
    try:
        rows = b.run()
    finally:
        b.stop()
    print(f"\nbench/sla.py --clocks {args.clocks} --catchup {args.catchup} --burst {args.burst}"
          f" --probe {args.probe}"
          f"  ({time.strftime('%Y-%m-%d %H:%M')}, durable)")
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
