"""The bus, end to end over real sockets, processes and PostgreSQL.

Each test runs a real publisher (bus_node pub) and consumer (bus_node sub)
built on the same service skeleton as every petrocs service, and checks in
the consumer's table that every event was applied exactly once, in order.
"""
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, metric, wait_for  # noqa: E402

NODE = os.path.join(BUILD, "tests/integration/bus_node")
PG_PORT = 55431
PUB = "http://127.0.0.1:17900"
SUB = "http://127.0.0.1:17950"
SUB2 = "http://127.0.0.1:17960"
LOGS = os.path.join(BUILD, "test-var", "bus")


class BusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("bus", PG_PORT)
        cls.pg.start(["buspub", "bussub", "bussub2"])

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        for s in ("buspub", "bussub", "bussub2"):
            self.pg.query(f"DROP SCHEMA IF EXISTS {s} CASCADE; "
                          f"CREATE SCHEMA {s} AUTHORIZATION cs_{s}")
        self.procs = []
        self.env = dict(os.environ, CS_DB_URL=self.pg.conninfo(), CS_LOG_LEVEL="info",
                        CS_BUSPUB_PUB_PORT="17901", CS_BUSPUB_REPLAY_PORT="17902")

    def tearDown(self):
        for p in self.procs:
            p.stop()

    def start(self, role, extra=None):
        env = dict(self.env, **(extra or {}))
        log = os.path.join(LOGS, f"{self.id().split('.')[-1]}-{role}.log")
        s = Service(role, [NODE, role], env, log)
        s.start()
        self.procs.append(s)
        if role != "evil":
            base = {"pub": PUB, "sub": SUB, "sub2": SUB2}[role]
            wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 20, f"{role} up")
        return s

    def emit(self, n, batch=1):
        status, body = http("POST", f"{PUB}/emit?n={n}&batch={batch}", timeout=120)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["emitted"], n)

    def applied(self):
        return int(self.pg.scalar("SELECT count(*) FROM bussub.applied"))

    def wait_applied(self, n, timeout=60):
        wait_for(lambda: self.applied() >= n, timeout, f"{n} events applied")
        time.sleep(0.3)  # anything extra would show now

    def assert_exactly_once_in_order(self, n):
        rows = self.pg.query("SELECT seq, number FROM bussub.applied ORDER BY id")
        seqs = [int(r[0]) for r in rows]
        numbers = [int(r[1]) for r in rows]
        self.assertEqual(len(rows), n, "events applied")
        self.assertEqual(seqs, list(range(1, n + 1)), "dense sequence, applied in order")
        self.assertEqual(sorted(numbers), list(range(1, n + 1)), "every event exactly once")
        head = int(self.pg.scalar("SELECT head FROM buspub.bus_stream WHERE stream='buspub-0'"))
        self.assertEqual(head, n)
        cp = int(self.pg.scalar(
            "SELECT last_seq FROM bussub.inbox_checkpoint WHERE stream='buspub-0'"))
        self.assertEqual(cp, n, "checkpoint equals the last applied sequence")

    def test_events_are_delivered_exactly_once_and_in_order(self):
        self.start("pub")
        self.start("sub")
        wait_for(lambda: http("GET", SUB + "/readyz")[0] == 200, 20, "sub ready")
        self.emit(1000, batch=1)
        self.emit(1000, batch=50)
        self.wait_applied(2000)
        self.assert_exactly_once_in_order(2000)

    def test_a_consumer_that_starts_late_catches_up_from_replay(self):
        self.start("pub")
        self.emit(1500, batch=100)
        self.start("sub")
        self.wait_applied(1500)
        self.assert_exactly_once_in_order(1500)
        self.assertGreater(metric(SUB, "cs_bus_consumed_total"), 0)

    def test_a_consumer_killed_mid_stream_loses_nothing_and_applies_nothing_twice(self):
        self.start("pub")
        sub = self.start("sub")
        total = 0
        rng = random.Random(7)
        for round_ in range(6):
            self.emit(400, batch=rng.choice([1, 10, 40]))
            total += 400
            time.sleep(rng.uniform(0.05, 0.4))
            sub.kill(signal.SIGKILL)
            before = self.applied()
            self.assertLessEqual(before, total)
            sub = self.start("sub")
        self.wait_applied(total)
        self.assert_exactly_once_in_order(total)

    def test_commits_out_of_id_order_and_rollbacks_are_numbered_exactly_once(self):
        """Pending ids are taken in one order and committed in another (16 producers
        pausing at random before commit), some transactions roll back: the relay's
        low-water mark must never pass a row that could still commit."""
        self.start("pub")
        self.start("sub")
        status, body = http("POST", f"{PUB}/emit?n=4000&batch=3&producers=16&jitter_us=3000"
                            "&abort_one_in=5", timeout=120)
        self.assertEqual(status, 200, body)
        committed = int(self.pg.scalar("SELECT sum(n) FROM buspub.emitted WHERE id > 1"))
        self.assertEqual(committed, 4000, "rolled-back transactions are retried until n commit")
        self.wait_applied(committed)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM buspub.bus_pending") == "0", 10,
                 "nothing left pending")
        rows = self.pg.query("SELECT seq, number FROM bussub.applied ORDER BY id")
        self.assertEqual([int(r[0]) for r in rows], list(range(1, committed + 1)),
                         "dense sequence, applied in order")
        numbers = sorted(int(r[1]) for r in rows)
        expected = []
        for counter, n in self.pg.query("SELECT id, n FROM buspub.emitted WHERE id > 1"):
            expected += [int(counter) * 1000000000 + i for i in range(1, int(n) + 1)]
        expected.sort()
        self.assertEqual(numbers, expected, "every committed event exactly once, no other")
        self.assertEqual(self.head(), committed)
        # written to bus_stream once a second
        wait_for(lambda: int(self.pg.scalar("SELECT low_id FROM buspub.bus_stream"
                                            " WHERE stream = 'buspub-0'")) > 0, 10,
                 "the low-water mark moved and was saved")

    def test_a_consumer_hours_of_events_late_catches_up_while_live_events_flow(self):
        """A second consumer starts 60 000 events behind (hours of a busy day) and reads
        them from replay in batches while the first keeps receiving live events: the live
        consumer never waits for the late one, and the late one gets everything once."""
        self.start("pub")
        self.start("sub")
        backlog = 60000
        self.emit(backlog, batch=1000)
        self.wait_applied(backlog, timeout=120)
        replayed_before = metric(PUB, "cs_bus_replayed_total")

        def late_applied():
            return int(self.pg.scalar("SELECT count(*) FROM bussub2.applied"))

        self.start("sub2")
        samples, live_sent = [], 0
        t0 = time.time()
        while late_applied() < backlog and time.time() - t0 < 120:
            self.emit(20, batch=20)  # the live load goes on
            live_sent += 20
            samples.append((time.time() - t0, self.applied(), late_applied(), self.head()))
            time.sleep(0.05)
        caught_up = time.time() - t0
        total = backlog + live_sent
        self.wait_applied(total)
        wait_for(lambda: late_applied() >= total, 60, "the late consumer caught up")
        during = [s for s in samples if s[2] < backlog]
        self.assertGreaterEqual(len(during), 3, "the catch-up lasted a while (the test means it)")
        live_lag = max(head - live for _, live, _, head in during)
        print(f"\n    late consumer: {backlog} events from replay in {caught_up:.1f} s"
              f" ({backlog / caught_up:.0f}/s) while {live_sent} live events flowed;"
              f" live consumer's largest lag meanwhile: {live_lag} events")
        self.assertGreater(during[-1][1], during[0][1],
                           "the live consumer kept applying while the late one replayed")
        seqs = [int(r[0]) for r in self.pg.query("SELECT seq FROM bussub2.applied ORDER BY id")]
        self.assertEqual(seqs, list(range(1, total + 1)), "late consumer: all, once, in order")
        self.assertGreaterEqual(metric(PUB, "cs_bus_replayed_total") - replayed_before, backlog,
                                "the backlog came from the replay socket")
        self.assertEqual(self.applied(), total)

    def test_a_killed_publisher_resumes_numbering_without_holes(self):
        pub = self.start("pub")
        self.start("sub")
        self.emit(300, batch=30)
        pub.kill(signal.SIGKILL)
        pub = self.start("pub")
        self.emit(300, batch=1)
        self.wait_applied(600)
        self.assert_exactly_once_in_order(600)

    def test_a_publisher_dying_between_numbering_and_publishing_loses_nothing(self):
        pub = self.start("pub", {"CS_FAULT": "relay_exit_after_commit"})
        self.start("sub")
        wait_for(lambda: http("GET", SUB + "/readyz")[0] == 200, 20, "sub ready")
        try:
            http("POST", f"{PUB}/emit?n=200&batch=200", timeout=30)
        except OSError:
            pass  # the publisher may die before it answers; the events are committed
        pub.proc.wait(timeout=30)
        self.assertEqual(pub.proc.returncode, 70, "died by the injected fault")
        head = int(self.pg.scalar("SELECT head FROM buspub.bus_stream WHERE stream='buspub-0'"))
        self.assertGreater(head, 0, "numbered before the crash")
        self.assertEqual(self.applied(), 0, "and never published live")
        self.start("pub")  # its heartbeat announces the head; the consumer asks for the rest
        self.wait_applied(200)
        self.assert_exactly_once_in_order(200)

    def test_a_slow_consumer_with_a_tiny_queue_repairs_every_gap(self):
        self.start("pub", {"CS_BUS_SNDHWM": "5"})
        self.start("sub", {"CS_BUS_RCVHWM": "1", "BUS_APPLY_DELAY_US": "300"})
        wait_for(lambda: http("GET", SUB + "/readyz")[0] == 200, 20, "sub ready")
        self.emit(2000, batch=200)
        self.wait_applied(2000, timeout=120)
        self.assert_exactly_once_in_order(2000)
        gaps = metric(SUB, "cs_bus_gaps_total")
        print(f"\n    gaps repaired by replay: {gaps:.0f}")
        self.assertGreater(gaps, 0, "the tiny queues dropped live events (repair exercised)")

    def test_an_unreadable_event_is_set_aside_and_the_stream_goes_on(self):
        self.start("pub")
        self.start("sub", {"CS_BUS_MAX_BYTES": "65536"})
        self.emit(10)
        # committed like any other event, but nobody can read them: garbage, and
        # an envelope above the consumer's size limit
        for payload in ("decode(repeat('ff', 100), 'hex')", "decode(repeat('41', 200000), 'hex')"):
            self.pg.query("INSERT INTO buspub.bus_pending (origin, topic, event_id, envelope) VALUES"
                          f" ('buspub-0', 'test.event', gen_random_uuid(), {payload})")
        self.emit(10)
        self.wait_applied(20)
        seqs = [int(r[0]) for r in self.pg.query("SELECT seq FROM bussub.applied ORDER BY id")]
        self.assertEqual(seqs, list(range(1, 11)) + list(range(13, 23)))
        dead = self.pg.query("SELECT seq, reason, length(envelope) FROM bussub.bus_dead_letter"
                             " ORDER BY seq")
        # kept as received: the relay's {stream, sequence} prefix, then the stored bytes
        self.assertEqual([(d[0], d[1]) for d in dead], [("11", "undecodable"), ("12", "too_large")])
        self.assertTrue(100 < int(dead[0][2]) < 132 and 200000 < int(dead[1][2]) < 200032, dead)
        cp = self.pg.scalar("SELECT last_seq FROM bussub.inbox_checkpoint"
                            " WHERE stream = 'buspub-0'")
        self.assertEqual(cp, "22")
        # readiness is recomputed once a second: still ready, with a warning
        ready = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and any(
            "bus_dead_letter" in w for w in r[1]["warnings"]) else None)(
                http("GET", SUB + "/readyz")), 10, "ready with a dead-letter warning")
        self.assertEqual(ready["reasons"], [])
        self.assertEqual(metric(SUB, "cs_bus_dead_letters_total"), 2)

    def test_hostile_bus_input_is_counted_and_skipped_without_harm(self):
        self.start("pub")
        env = {"CS_BUSPUB_PUB_CONNECT": "tcp://127.0.0.1:17901,tcp://127.0.0.1:17991",
               "CS_BUSPUB_REPLAY_CONNECT": "tcp://127.0.0.1:17902,tcp://127.0.0.1:17992",
               "CS_BUS_MAX_BYTES": "65536"}
        sub = self.start("sub", env)
        evil = self.start("evil", {"EVIL_ROUNDS": "40"})
        self.emit(500, batch=10)
        evil.proc.wait(timeout=60)
        self.wait_applied(500)
        self.assert_exactly_once_in_order(500)
        self.assertTrue(sub.alive(), "consumer survived hostile input")
        for reason in ("undecodable", "unknown_type", "body_mismatch"):
            self.assertGreater(metric(SUB, "cs_bus_rejected_total", f'reason="{reason}"'), 0,
                               reason)
        self.assertGreater(metric(SUB, "cs_bus_rejected_total", 'reason="bad_frames"')
                           + metric(SUB, "cs_bus_rejected_total", 'reason="bad_replay_reply"'),
                           0)
        self.assertGreater(metric(SUB, "cs_bus_rejected_total", 'reason="too_large"'), 0)
        self.assertEqual(http("GET", SUB + "/healthz")[0], 200)

    def numbered(self):
        return [int(r[0]) for r in self.pg.query(
            "SELECT seq FROM buspub.outbox WHERE origin = 'buspub-0' AND seq IS NOT NULL"
            " ORDER BY seq")]

    def head(self):
        return int(self.pg.scalar("SELECT head FROM buspub.bus_stream"
                                  " WHERE stream = 'buspub-0'") or 0)

    def test_retention_prunes_old_published_rows_in_batches_and_keeps_the_head(self):
        retention = {"CS_BUS_RETENTION_S": "2", "CS_BUS_PRUNE_BATCH": "100"}
        pub = self.start("pub", retention)
        # rows another instance's relay has not numbered yet, however old: never pruned
        for _ in range(3):
            self.pg.query("INSERT INTO buspub.bus_pending (origin, topic, event_id, envelope,"
                          " created_at) VALUES ('buspub-9', 'test.event', gen_random_uuid(),"
                          " '\\x00', now() - interval '1 day')")
        self.emit(1000, batch=100)
        wait_for(lambda: self.head() == 1000, 10, "1000 events numbered")
        seen = []
        deadline = time.time() + 30
        while time.time() < deadline:
            left = len(self.numbered())
            if not seen or seen[-1] != left:
                seen.append(left)
            if left == 1:
                break
            time.sleep(0.05)
        print(f"\n    numbered rows left as retention ran: {seen}")
        self.assertEqual(seen[-1], 1, "pruned down to the head row")
        self.assertEqual(self.numbered(), [1000], "the stream's head row stays")
        between = [n for n in seen if 1 < n < 1000]
        self.assertGreaterEqual(len(between), 2, "pruned over several ticks, not at once")
        for n in between:
            self.assertEqual((1000 - n) % 100, 0, f"whole batches of 100 ({seen})")
        self.assertEqual(metric(PUB, "cs_bus_pruned_total"), 999)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM buspub.outbox"
                                        " WHERE origin = 'buspub-9' AND seq IS NULL"), "3")
        # fresh rows stay (younger than the retention)
        self.emit(10)
        wait_for(lambda: self.head() == 1010, 10, "10 fresh events numbered")
        self.assertEqual([s for s in self.numbered() if s > 1000], list(range(1001, 1011)))
        wait_for(lambda: self.numbered() == [1010], 15, "fresh rows aged and pruned, head kept")
        # the head survives a restart; numbering goes on without a hole
        pub.stop()
        self.start("pub", retention)
        self.emit(5)
        wait_for(lambda: self.head() == 1015, 10, "5 more events numbered")
        self.assertEqual([s for s in self.numbered() if s > 1010], list(range(1011, 1016)))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM buspub.outbox WHERE"
                                        " origin = 'buspub-0' AND seq IS NULL"), "0")

    def test_a_consumer_behind_the_retention_is_not_ready_and_applies_nothing(self):
        self.start("pub", {"CS_BUS_RETENTION_S": "2"})
        self.emit(50, batch=10)
        wait_for(lambda: self.numbered() == [50], 20, "pruned down to the head row")
        sub = self.start("sub")

        def not_ready_for_pruning():
            status, body = http("GET", SUB + "/readyz")
            if status == 503 and any("pruned" in r for r in body["reasons"]):
                return body
            return None
        body = wait_for(not_ready_for_pruning, 15, "sub not ready: events pruned")
        reason = [r for r in body["reasons"] if "pruned" in r][0]
        self.assertIn("buspub-0", reason)
        self.assertIn("1..49", reason)
        # live events past the hole are not applied: nothing can prove them contiguous
        self.emit(5)
        wait_for(lambda: metric(PUB, "cs_bus_replay_requests_total", 'result="gone"') >= 2,
                 20, "the consumer asked again and was told GONE again")
        self.assertEqual(self.applied(), 0)
        self.assertEqual(self.pg.scalar("SELECT last_seq FROM bussub.inbox_checkpoint"
                                        " WHERE stream = 'buspub-0'"), "0")
        self.assertEqual(http("GET", SUB + "/readyz")[0], 503)
        with open(sub.log_path, encoding="utf-8", errors="replace") as f:
            said = f.read().count("accept their loss")
        self.assertEqual(said, 1, "the operator is told once what to do")
        # the operator accepts the loss up to the kept head row; no restart needed
        self.pg.query("UPDATE bussub.inbox_checkpoint SET last_seq = 54"
                      " WHERE stream = 'buspub-0'")
        self.wait_applied(1, timeout=20)
        seqs = [int(r[0]) for r in self.pg.query("SELECT seq FROM bussub.applied ORDER BY id")]
        self.assertEqual(seqs, [55])
        wait_for(lambda: http("GET", SUB + "/readyz")[0] == 200, 10, "sub ready again")


if __name__ == "__main__":
    os.makedirs(LOGS, exist_ok=True)
    main()
