"""sla-monitor's arming in bulk gives exactly what arming one event at a time gives.

The arming events (accepted, assigned, status_changed, customer_replied, transferred,
escalated) go to a batch handler (monitor.c: s_on_arm_events) that arms a run's clocks,
writes their history and keeps their owners current in three statements; CS_SLA_BULK_ARM=0
makes the same service apply them one by one (s_on_ticket_event). Two cs-sla, each on its
own PostgreSQL cluster, one in each mode, read the same dispatch stream (fake_dispatch):
a mixed stream of arming events — duplicates, pauses and resumptions inside a run,
unusable events, owners that change, 250 new tickets in a row — and the events handled one
by one between them (responses, notes, resolutions, a reopening). Both are started only
once every event is committed, so that they catch up in batches of consecutive events (the
consumer's CS_BUS_APPLY_BATCH) and the bulk side really sees runs; its log says so.

Then every clock row, every history step and every sla.* event (its topic and its
ClockEvent, byte for byte, in stream order) must be the same on both sides. Clock ids are
derived from ticket and target (schema/005_lean_clocks.sql), so rows compare by id, and the
ids are checked against the schema's own clock_uuid().
"""
import os
import re
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, wait_for  # noqa: E402

SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
FAKE_BIN = os.path.join(BUILD, "tests", "integration", "fake_dispatch")
PG_BULK, PG_ONE = 55555, 55556
DISPATCH = "http://127.0.0.1:17200"
SLA_BULK = "http://127.0.0.1:17300"
SLA_ONE = "http://127.0.0.1:17310"
LOGS = os.path.join(BUILD, "test-var", "sla-bulk")
MIN = 60000

CLOCK_COLUMNS = ("id, ticket_id, number, target, priority, policy, round, state,"
                 " target_minutes, target_ms, started_at, warn_at, deadline, paused_at, warned,"
                 " met_at, breached_at, stopped_at, escalate_at, escalation_level, team,"
                 " assignee, policy_id, service_type, tier, channel")
HISTORY_COLUMNS = ("clock_id, round, kind, at, percent, source_event_id, level, target_ms,"
                   " note, used_ms")


def varint(buf, i):
    v, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def clock_event_bytes(envelope):
    """The ClockEvent (field 60) of an Envelope, as raw protobuf bytes."""
    i = 0
    while i < len(envelope):
        key, i = varint(envelope, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(envelope, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = varint(envelope, i)
            if field == 60:
                return bytes(envelope[i:i + n])
            i += n
        else:
            raise AssertionError(f"wire type {wire} in an envelope")
    return None


class SlaBulkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(LOGS, exist_ok=True)
        cls.procs = []
        cls.pg_bulk = Postgres("sla-bulk-a", PG_BULK)
        cls.pg_bulk.start(["dispatch", "sla"])
        cls.pg_one = Postgres("sla-bulk-b", PG_ONE)
        cls.pg_one.start(["sla"])
        common = dict(os.environ, CS_LOG_LEVEL="info", CS_SLA_COMPLAINT_CLOCKS="0",
                      CS_DISPATCH_HTTP_PORT="17200", CS_DISPATCH_PUB_PORT="17201",
                      CS_DISPATCH_REPLAY_PORT="17202")
        cls.env_dispatch = dict(common, CS_DB_URL=cls.pg_bulk.conninfo())
        cls.env_bulk = dict(common, CS_DB_URL=cls.pg_bulk.conninfo(), CS_SLA_BULK_ARM="1",
                            CS_SLA_HTTP_PORT="17300", CS_SLA_PUB_PORT="17301",
                            CS_SLA_REPLAY_PORT="17302")
        cls.env_one = dict(common, CS_DB_URL=cls.pg_one.conninfo(), CS_SLA_BULK_ARM="0",
                           CS_SLA_HTTP_PORT="17310", CS_SLA_PUB_PORT="17311",
                           CS_SLA_REPLAY_PORT="17312")
        cls.start("dispatch", FAKE_BIN, cls.env_dispatch, DISPATCH)
        cls.events = 0
        cls.feed()
        cls.start("sla-bulk", SLA_BIN, cls.env_bulk, SLA_BULK)
        cls.start("sla-one", SLA_BIN, cls.env_one, SLA_ONE)
        for pg in (cls.pg_bulk, cls.pg_one):
            wait_for(lambda: cls.applied(pg) >= cls.events, 120, "every event applied")
            wait_for(lambda: int(pg.scalar("SELECT count(*) FROM sla.bus_pending")) == 0, 30,
                     "sla's events numbered")

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.stop()
        cls.pg_bulk.stop()
        cls.pg_one.stop()

    @classmethod
    def start(cls, name, binary, env, base):
        s = Service(name, [binary], env, os.path.join(LOGS, f"{name}.log"))
        s.start()
        cls.procs.append(s)
        wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 20, f"{name} up")
        return s

    @staticmethod
    def applied(pg):
        v = pg.scalar("SELECT last_seq FROM sla.inbox_checkpoint WHERE stream = 'dispatch-0'")
        return int(v) if v else 0

    @classmethod
    def emit(cls, kind, ticket, at_ms, **extra):
        status, out = http("POST", DISPATCH + "/emit", dict(ticket, type=kind, at_ms=at_ms,
                                                            **extra))
        assert status == 200, out
        cls.events += 1

    @classmethod
    def feed(cls):
        base = int(time.time() * 1000) - 30 * MIN  # every deadline hours away: no tick signal

        def ticket(i, **facts):
            tid = str(uuid.uuid4())
            return dict({"ticket_id": tid, "number": f"BK-{i}", "priority": "P3",
                         "received_at_ms": base + i * 1000, "team": "field",
                         "assignee": "agent.li", "service_type": "maintenance", "tier": "sme",
                         "channel": "email"}, **facts)
        t = {i: ticket(i) for i in range(1, 9)}
        t[3]["priority"] = "urgent"  # not P1..P4: counted as P3
        t[4]["team"], t[4]["assignee"] = "", ""
        at = base + 60000
        cls.emit("accepted", t[1], at)
        cls.emit("accepted", t[2], at + 1)
        cls.emit("accepted", t[3], at + 2)
        cls.emit("accepted", t[4], at + 3)
        cls.emit("accepted", t[1], at + 4)  # a replay inside the run
        cls.emit("accepted", t[8], at + 5, no_facts=True)  # unusable: ignored
        cls.emit("accepted", t[8], at + 6, number_hex="ff fe".replace(" ", ""))  # unusable
        cls.emit("assigned", dict(t[1], team="lab", assignee="agent.wang"), at + 10)
        cls.emit("assigned", dict(t[5], team="desk", assignee="agent.zhao"), at + 11)  # arms
        cls.emit("assigned", dict(t[2], assignee="agent.qian"), at + 12)
        cls.emit("status_changed", t[2], at + 20, from_status="in_progress",
                 to_status="pending_customer")  # pauses, inside a run of status changes
        cls.emit("status_changed", t[3], at + 21, from_status="assigned",
                 to_status="in_progress")
        cls.emit("status_changed", t[6], at + 22, from_status="assigned",
                 to_status="in_progress")  # arms t6
        cls.emit("customer_replied", t[2], at + 30 * 1000, from_status="pending_customer",
                 to_status="in_progress")  # resumes
        cls.emit("customer_replied", t[4], at + 31 * 1000)
        cls.emit("responded", dict(t[1], team="lab", assignee="agent.wang"), at + 40 * 1000)
        cls.emit("noted", dict(t[1], team="lab", assignee="agent.wang"), at + 50 * 1000,
                 to_customer=True)
        cls.emit("noted", dict(t[1], team="lab", assignee="agent.wang"), at + 51 * 1000)
        cls.emit("transferred", dict(t[1], team="plant", assignee="agent.sun"), at + 60 * 1000)
        cls.emit("escalated", t[7], at + 61 * 1000)  # arms t7
        cls.emit("transferred", dict(t[4], team="plant", assignee="agent.sun"), at + 62 * 1000)
        cls.emit("resolved", dict(t[5], team="desk", assignee="agent.zhao"), at + 70 * 1000)
        cls.emit("closed", dict(t[5], team="desk", assignee="agent.zhao"), at + 71 * 1000)
        cls.emit("reopened", dict(t[5], team="desk", assignee="agent.zhao"), at + 72 * 1000)
        for i in range(250):  # two runs: 200 (CS_BUS_APPLY_BATCH) and 50
            cls.emit("accepted", ticket(100 + i, team=f"team-{i % 7}",
                                        assignee=f"agent-{i % 13}"), at + 80 * 1000 + i)
        cls.emit("assigned", dict(t[1], team="plant", assignee="agent.sun"), at + 90 * 1000)
        cls.emit("assigned", ticket(99), at + 91 * 1000)

    def rows(self, pg, sql):
        return pg.query(sql)

    def test_every_clock_row_is_the_same(self):
        sql = f"SELECT {CLOCK_COLUMNS} FROM sla.clocks ORDER BY id"
        bulk, one = self.rows(self.pg_bulk, sql), self.rows(self.pg_one, sql)
        # 8 named tickets less the unusable t8 = 7, + 250 + 1 (BK-99): 2 clocks each, and
        # t1's next-update clock (armed by its response)
        self.assertEqual(len(one), 2 * 258 + 1)
        self.assertEqual(bulk, one)

    def test_every_history_step_is_the_same(self):
        sql = f"SELECT {HISTORY_COLUMNS} FROM sla.clock_events ORDER BY id"
        bulk, one = self.rows(self.pg_bulk, sql), self.rows(self.pg_one, sql)
        self.assertGreater(len(one), 2 * 258)
        self.assertEqual(bulk, one)

    def test_every_sla_event_is_the_same_in_the_same_order(self):
        sql = "SELECT topic, encode(envelope, 'hex') FROM sla.bus_log ORDER BY seq"

        def events(pg):
            return [(topic, clock_event_bytes(bytes.fromhex(hexenv)))
                    for topic, hexenv in self.rows(pg, sql)]
        bulk, one = events(self.pg_bulk), events(self.pg_one)
        # 517 clocks armed, + t1's next update re-armed by the note, + t5's resolution
        # re-armed by the reopening; a pause and a resumption of t2's two clocks; t1's
        # first response and next update met, t5's first response and resolution met
        counts = {}
        for topic, _ in one:
            counts[topic] = counts.get(topic, 0) + 1
        self.assertEqual(counts, {"sla.armed": 519, "sla.paused": 2, "sla.resumed": 2,
                                  "sla.met": 4})
        self.assertEqual(bulk, one)

    def test_clock_ids_are_the_schemas_clock_uuid(self):
        n = self.pg_bulk.scalar("SELECT count(*) FROM sla.clocks WHERE id <>"
                                " sla.clock_uuid(coalesce(ticket_id, complaint_id), target::text)")
        self.assertEqual(int(n), 0)

    def test_the_bulk_side_armed_in_runs(self):
        with open(os.path.join(LOGS, "sla-bulk.log")) as f:
            runs = [int(m.group(1)) for m in re.finditer(r"(\d+) arming events in one run", f.read())]
        with open(os.path.join(LOGS, "sla-one.log")) as f:
            self.assertNotIn("in one run", f.read())
        # how the catch-up cuts the stream into batches is the consumer's business; the 250
        # new tickets in a row come in at most a few runs, one of them long
        self.assertGreaterEqual(max(runs), 50, runs)

    def test_owners_followed_the_last_assignment(self):
        rows = self.pg_bulk.query("SELECT target, team, assignee FROM sla.clocks"
                                  " WHERE number = 'BK-1' ORDER BY target")
        self.assertEqual(rows, [["first_response", "plant", "agent.sun"],
                                ["resolution", "plant", "agent.sun"],
                                ["next_update", "plant", "agent.sun"]])


if __name__ == "__main__":
    main()
