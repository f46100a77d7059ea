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
LOGS = os.path.join(BUILD, "test-var", "bus")


class BusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("bus", PG_PORT)
        cls.pg.start(["buspub", "bussub"])

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        for s in ("buspub", "bussub"):
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
            base = PUB if role == "pub" else SUB
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
            self.pg.query("INSERT INTO buspub.outbox (origin, topic, event_id, envelope) VALUES"
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


if __name__ == "__main__":
    os.makedirs(LOGS, exist_ok=True)
    main()
