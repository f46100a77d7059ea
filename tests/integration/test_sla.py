"""sla-monitor over real sockets, processes and PostgreSQL.

cs-sla reads a stand-in for dispatch (fake_dispatch: the real service
skeleton publishing dispatch.ticket.* events through its outbox), so these
tests pin down sla's own rules whatever dispatch's state: two clocks armed
per ticket, warning then breach exactly once, met on response, idempotence
under repeated and out-of-order events, and survival of kill -9.

Minutes are shortened with CS_SLA_MINUTE_SECONDS=1 (a test/demo knob): a P3
ticket here owes a first response within 5 "minutes" (5 s) and a resolution
within 8; a P2 ticket within 60 and 120, which no test waits for.
"""
import os
import signal
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, metric, wait_for  # noqa: E402

SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
FAKE_BIN = os.path.join(BUILD, "tests", "integration", "fake_dispatch")
PG_PORT = 55473
SLA = "http://127.0.0.1:17330"
DISPATCH = "http://127.0.0.1:17320"
LOGS = os.path.join(BUILD, "test-var", "sla")


def now_ms():
    return int(time.time() * 1000)


class SlaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(LOGS, exist_ok=True)
        cls.pg = Postgres("sla", PG_PORT)
        cls.pg.start(["dispatch", "sla"])
        cls.env = dict(os.environ, CS_DB_URL=cls.pg.conninfo(), CS_LOG_LEVEL="info",
                       CS_DISPATCH_HTTP_PORT="17320", CS_DISPATCH_PUB_PORT="17321",
                       CS_DISPATCH_REPLAY_PORT="17322",
                       CS_SLA_HTTP_PORT="17330", CS_SLA_PUB_PORT="17331",
                       CS_SLA_COMPLAINT_CLOCKS="0", CS_SLA_REPLAY_PORT="17332",
                       CS_SLA_MINUTE_SECONDS="1",
                       CS_COMMIT_P3_RESPONSE_MIN="5", CS_COMMIT_P3_RESOLUTION_MIN="8",
                       CS_COMMIT_P2_RESPONSE_MIN="60", CS_COMMIT_P2_RESOLUTION_MIN="120")
        cls.procs = []
        cls.dispatch = cls.start("dispatch", FAKE_BIN, DISPATCH)
        cls.sla = cls.start("sla", SLA_BIN, SLA)
        wait_for(lambda: http("GET", SLA + "/readyz")[0] == 200, 20, "sla ready")

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.stop()
        cls.pg.stop()

    @classmethod
    def start(cls, name, binary, base):
        log = os.path.join(LOGS, f"{name}.log")
        s = Service(name, [binary], cls.env, log)
        s.start()
        cls.procs.append(s)
        wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 20, f"{name} up")
        return s

    # ---- helpers ---------------------------------------------------------------

    def ticket(self, priority="P2", received_at_ms=None):
        n = uuid.uuid4()
        return {"ticket_id": str(n), "number": "T-" + n.hex[:10].upper(),
                "priority": priority, "received_at_ms": received_at_ms or now_ms(),
                "team": "field-service", "assignee": "agent.li"}

    def emit(self, kind, ticket, at_ms=None, **extra):
        body = dict(ticket, type=kind, at_ms=at_ms or now_ms(), **extra)
        status, out = http("POST", DISPATCH + "/emit", body)
        self.assertEqual(status, 200, out)

    def clocks(self, ticket):
        status, body = http("GET", f"{SLA}/v1/clocks?ticket={ticket['number']}")
        self.assertEqual(status, 200, body)
        return {c["target"]: c for c in body["clocks"]}

    def wait_clocks(self, ticket, pred, what, timeout=20):
        return wait_for(lambda: (lambda c: c if pred(c) else None)(self.clocks(ticket)),
                        timeout, what)

    def emitted(self, ticket):
        """sla.* events in sla's outbox that name this ticket, by type."""
        rows = self.pg.query(
            "SELECT topic, count(*) FROM sla.outbox WHERE position(convert_to("
            f"'{ticket['ticket_id']}', 'UTF8') IN envelope) > 0 GROUP BY topic")
        return {r[0]: int(r[1]) for r in rows}

    def emitted_in_order(self, ticket, target):
        rows = self.pg.query(
            "SELECT topic FROM sla.outbox WHERE position(convert_to("
            f"'{ticket['ticket_id']}', 'UTF8') IN envelope) > 0 AND position(convert_to("
            f"'{target}', 'UTF8') IN envelope) > 0 ORDER BY id")
        return [r[0] for r in rows]

    # ---- tests -----------------------------------------------------------------

    def test_an_accepted_ticket_gets_two_armed_clocks(self):
        t = self.ticket("P2")
        self.emit("accepted", t)
        c = self.wait_clocks(t, lambda c: len(c) == 2, "two clocks")
        self.assertEqual(c["first_response"]["state"], "running")
        self.assertEqual(c["resolution"]["state"], "running")
        self.assertEqual(c["first_response"]["target_minutes"], 60)
        self.assertEqual(c["resolution"]["target_minutes"], 120)
        self.assertEqual(c["first_response"]["deadline_ms"], t["received_at_ms"] + 60 * 1000)
        self.assertEqual(c["resolution"]["policy"], "7x24")
        self.assertEqual(c["resolution"]["team"], "field-service")
        wait_for(lambda: self.emitted(t).get("sla.armed") == 2, 10, "two sla.armed")

    def test_warning_then_breach_appear_exactly_once_per_clock(self):
        t = self.ticket("P3")
        self.emit("accepted", t)
        self.wait_clocks(t, lambda c: len(c) == 2 and all(
            x["state"] == "breached" for x in c.values()), "both clocks breached", 30)
        time.sleep(2.5)  # a repeat would show by now
        # escalation level 1 comes with the breach (CS_SLA_ESCALATE_AFTER_MIN
        # defaults to 0,60,240; level 2 would be a minute later)
        for target in ("first_response", "resolution"):
            self.assertEqual(self.emitted_in_order(t, target),
                             ["sla.armed", "sla.warning", "sla.breached", "sla.escalated"],
                             target)
        c = self.clocks(t)
        fr = c["first_response"]
        self.assertTrue(fr["warned"])
        self.assertEqual(fr["breached_at"], fr["deadline"])
        self.assertGreaterEqual(fr["percent"], 100)
        kinds = [(h["kind"], h["percent"]) for h in fr["history"]]
        self.assertEqual(kinds, [("armed", 0), ("warning", 80), ("breached", 100),
                                 ("escalated", 100)])
        self.assertGreaterEqual(metric(SLA, "cs_sla_breaches_total", 'target="resolution"'), 1)
        status, body = http("GET", f"{SLA}/v1/clocks?state=breached&limit=1000")
        self.assertEqual(status, 200)
        self.assertIn(t["number"], [x["ticket_number"] for x in body["clocks"]])

    def test_a_response_in_time_meets_the_first_response_clock(self):
        t = self.ticket("P2")
        self.emit("accepted", t)
        self.emit("responded", t, at_ms=t["received_at_ms"] + 1500)
        c = self.wait_clocks(t, lambda c: c.get("first_response", {}).get("state") == "met",
                             "first response met")
        self.assertEqual(c["resolution"]["state"], "running")
        self.assertEqual(c["first_response"]["percent"], 2)  # 1.5 s of 60 s
        self.emit("resolved", t)
        self.wait_clocks(t, lambda c: c["resolution"]["state"] == "met", "resolution met")
        self.emit("closed", t)
        self.emit("responded", t)  # a replay after the close
        time.sleep(1.5)
        ev = self.emitted(t)
        self.assertEqual(ev.get("sla.met"), 2)
        # first response and resolution at the acceptance, next update at the response
        # (stopped by the resolution: no update is owed after it, the replay arms nothing)
        self.assertEqual(ev.get("sla.armed"), 3)
        self.assertEqual(self.clocks(t)["next_update"]["state"], "stopped")
        self.assertNotIn("sla.breached", ev)

    def test_a_response_seen_before_the_acceptance_is_not_lost(self):
        t = self.ticket("P2")
        self.emit("responded", t, at_ms=t["received_at_ms"] + 3000)
        c = self.wait_clocks(t, lambda c: len(c) == 3, "clocks created by the response")
        self.assertEqual(c["first_response"]["state"], "met")
        self.assertEqual(c["resolution"]["state"], "running")
        self.assertEqual(c["next_update"]["state"], "running")  # armed by the response
        ids = {k: v["id"] for k, v in c.items()}
        self.emit("accepted", t)  # late
        self.emit("accepted", t)  # and replayed
        self.emit("responded", t, at_ms=t["received_at_ms"] + 3000)
        self.emit("assigned", dict(t, assignee="agent.wang"))
        c = self.wait_clocks(t, lambda c: c["resolution"]["assignee"] == "agent.wang",
                             "owner updated")
        self.assertEqual({k: v["id"] for k, v in c.items()}, ids)
        self.assertEqual(c["first_response"]["state"], "met")
        ev = self.emitted(t)
        # the replayed response is no new update: its moment is the round's start
        self.assertEqual(ev, {"sla.armed": 3, "sla.met": 1})

    def test_a_reopened_ticket_rearms_its_resolution_clock_once(self):
        t = self.ticket("P2")
        self.emit("accepted", t)
        resolved_at = now_ms()
        self.emit("resolved", t, at_ms=resolved_at)
        self.wait_clocks(t, lambda c: c.get("resolution", {}).get("state") == "met", "met")
        reopen_at = resolved_at + 1000
        self.emit("reopened", t, at_ms=reopen_at)
        self.emit("reopened", t, at_ms=reopen_at)  # replayed
        c = self.wait_clocks(t, lambda c: c["resolution"]["round"] == 2, "re-armed")
        time.sleep(1.0)
        c = self.clocks(t)
        r = c["resolution"]
        self.assertEqual((r["state"], r["round"]), ("running", 2))
        self.assertEqual(r["deadline_ms"], reopen_at + 120 * 1000)
        self.assertEqual(c["first_response"]["state"], "met")  # resolving answered it too
        self.assertEqual(self.emitted(t).get("sla.armed"), 3)
        self.emit("terminated", t)
        self.wait_clocks(t, lambda c: c["resolution"]["state"] == "stopped", "stopped")

    def test_hostile_events_are_ignored_and_the_next_one_applies(self):
        bad = self.ticket("P2")
        self.emit("accepted", dict(bad, ticket_id="not-a-uuid"))
        self.emit("accepted", bad, no_facts=True)
        self.emit("accepted", dict(bad, number_hex="54c3"))  # "T" + a truncated sequence
        self.emit("accepted", dict(bad, number="x" * 65))
        good = self.ticket("P9")  # unknown priority: counted as P3
        good["received_at_ms"] = now_ms() + 3600 * 1000  # far from any threshold
        self.emit("accepted", good)
        c = self.wait_clocks(good, lambda c: len(c) == 2, "the good ticket armed")
        self.assertEqual(c["first_response"]["priority"], "P3")
        self.assertEqual(self.clocks(bad), {})
        # implausible times: the clocks start when dispatch emitted the event
        odd = self.ticket("P2")
        t0 = now_ms()
        self.emit("accepted", dict(odd, received_at_ms=-5, at_ms=1))
        c = self.wait_clocks(odd, lambda c: len(c) == 2, "armed from the envelope's time")
        self.assertAlmostEqual(c["first_response"]["deadline_ms"], t0 + 60 * 1000, delta=5000)
        self.assertTrue(self.sla.alive())

    def test_the_api_refuses_bad_queries_with_the_field_named(self):
        for query, field in (("", "ticket"), ("?state=late", "state"),
                             ("?state=met&limit=0", "limit"), ("?state=met&limit=abc", "limit"),
                             ("?ticket=" + "9" * 65, "ticket"), ("?ticket=%C3", "ticket"),
                             ("?ticket=T1&state=met", "state"), ("?ticket=", "ticket"),
                             ("?ticket=T1&limit=-1", "limit"), ("?ticket=T1&limit=abc", "limit"),
                             ("?ticket=T1&limit=", "limit"), ("?state=met&limit=-1", "limit"),
                             ("?state=met&limit=1001", "limit"), ("?state=met&offset=-1", "offset"),
                             ("?ticket=T1&offset=x", "offset"), ("?state=met&offset=", "offset")):
            status, body = http("GET", SLA + "/v1/clocks" + query)
            self.assertEqual(status, 422, query)
            self.assertEqual(body["error"]["field"], field, query)
        status, body = http("GET", SLA + "/v1/stats")
        self.assertEqual(status, 200)
        self.assertEqual(set(body["clocks"]), {"armed", "running", "paused", "met", "warning",
                                               "breached", "stopped"})

    def test_clock_lists_page_with_offset_in_a_stable_order(self):
        # three tickets received at the same instant, a day ahead: their clocks
        # lead the running list and tie on deadline, so only id orders them
        at = now_ms() + 24 * 3600 * 1000
        tickets = [self.ticket("P2", received_at_ms=at) for _ in range(3)]
        for t in tickets:
            self.emit("accepted", t, at_ms=at)
        for t in tickets:
            self.wait_clocks(t, lambda c: len(c) == 2, "two clocks")
        status, whole = http("GET", f"{SLA}/v1/clocks?state=running&limit=6")
        self.assertEqual(status, 200, whole)
        ids = [c["id"] for c in whole["clocks"]]
        self.assertEqual({c["ticket_number"] for c in whole["clocks"]},
                         {t["number"] for t in tickets})
        paged = []
        for offset in range(6):
            status, page = http("GET", f"{SLA}/v1/clocks?state=running&limit=1&offset={offset}")
            self.assertEqual((status, page["offset"]), (200, offset), page)
            paged += [c["id"] for c in page["clocks"]]
        self.assertEqual(paged, ids, "pages of one are the list, in order, with no repeat")
        number = tickets[0]["number"]
        status, first = http("GET", f"{SLA}/v1/clocks?ticket={number}&limit=1")
        status2, second = http("GET", f"{SLA}/v1/clocks?ticket={number}&limit=1&offset=1")
        self.assertEqual((status, status2), (200, 200))
        self.assertEqual(sorted([first["clocks"][0]["target"], second["clocks"][0]["target"]]),
                         ["first_response", "resolution"])

    def test_the_tick_finds_due_clocks_through_the_partial_indexes(self):
        for sql, index in (
                ("SELECT id FROM clocks WHERE state = 'running' AND deadline <= now()"
                 " ORDER BY deadline LIMIT 200", "clocks_breach_due"),
                ("SELECT id FROM clocks WHERE state = 'running' AND NOT warned"
                 " AND warn_at <= now() ORDER BY warn_at LIMIT 200", "clocks_warning_due")):
            plan = "\n".join(r[0] for r in self.pg.query(
                "SET search_path = sla; SET enable_seqscan = off; EXPLAIN " + sql))
            self.assertIn(index, plan)

    def test_zz_kill_9_keeps_every_clock_and_repeats_no_event(self):
        t = self.ticket("P3")
        self.emit("accepted", t)
        self.wait_clocks(t, lambda c: c.get("first_response", {}).get("warned"),
                         "first response warned", 15)
        before = {k: v["id"] for k, v in self.clocks(t).items()}
        self.sla.kill(signal.SIGKILL)
        # while sla is down: a new ticket is answered, and t's resolution
        # passes both its warning share and its deadline
        u = self.ticket("P2")
        self.emit("accepted", u)
        self.emit("responded", u, at_ms=u["received_at_ms"] + 1000)
        time.sleep(max(0, (t["received_at_ms"] + 8500 - now_ms()) / 1000))
        type(self).sla = self.start("sla", SLA_BIN, SLA)
        c = self.wait_clocks(t, lambda c: all(x["state"] == "breached" for x in c.values()),
                             "both breached after restart", 20)
        self.assertEqual({k: v["id"] for k, v in c.items()}, before)
        cu = self.wait_clocks(u, lambda c: c.get("first_response", {}).get("state") == "met",
                              "the response given while sla was down")
        self.assertEqual(cu["resolution"]["state"], "running")
        time.sleep(2.5)
        self.assertEqual(self.emitted_in_order(t, "first_response"),
                         ["sla.armed", "sla.warning", "sla.breached", "sla.escalated"])
        # the resolution crossed 80 % while sla was down: breached, no late
        # warning, and its first escalation level (due at the breach) once
        self.assertEqual(self.emitted_in_order(t, "resolution"),
                         ["sla.armed", "sla.breached", "sla.escalated"])
        self.assertEqual(self.emitted(u), {"sla.armed": 3, "sla.met": 1})  # + next update


if __name__ == "__main__":
    main()
