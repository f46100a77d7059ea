"""The next-update clock (issue 6: the next-update interval), over real processes.

A ticket owes its customer an update at most every next_update minutes after the first
response: the clock is armed by a person's first response, a new round starts at each
update to the customer (a person's dispatch.ticket.responded, dispatch.ticket.noted with
to_customer), it pauses while the ticket waits for the customer, and it stops when the
ticket is resolved or closed (a reopened ticket owes updates again from its next one).

Two cs-sla read one stand-in dispatch (fake_dispatch), each on its own cluster:
- "cal": minutes of 60 s on cn-office (08:30-12:00, 13:00-17:30 Mon-Fri, Asia/Shanghai),
  next update 120 business minutes, P2 first response 240: a timeline in March 2027 (a
  week without holidays, in the future so that no tick fires) whose every instant is
  worked out by hand below;
- "fast": minutes of 1 s on 7x24, next update 3 "minutes" (3 s; warning at 80 % = 2.4 s):
  the tick's warning and breach, once per round.
"""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, wait_for  # noqa: E402

SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
FAKE_BIN = os.path.join(BUILD, "tests", "integration", "fake_dispatch")
PG_CAL, PG_FAST = 55557, 55558
DISPATCH = "http://127.0.0.1:17220"
SLA_CAL = "http://127.0.0.1:17340"
SLA_FAST = "http://127.0.0.1:17350"
LOGS = os.path.join(BUILD, "test-var", "sla-next-update")
MIN = 60000
H = 3600000


def utc(s):
    """'2027-03-12T07:00' (UTC) as ms since the epoch."""
    import datetime
    return int(datetime.datetime.fromisoformat(s + ":00+00:00").timestamp() * 1000)


class SlaNextUpdateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(LOGS, exist_ok=True)
        cls.procs = []
        cls.pg_cal = Postgres("sla-nu-cal", PG_CAL)
        cls.pg_cal.start(["dispatch", "sla"])
        cls.pg_fast = Postgres("sla-nu-fast", PG_FAST)
        cls.pg_fast.start(["sla"])
        common = dict(os.environ, CS_LOG_LEVEL="info", CS_SLA_COMPLAINT_CLOCKS="0",
                      CS_DISPATCH_HTTP_PORT="17220", CS_DISPATCH_PUB_PORT="17221",
                      CS_DISPATCH_REPLAY_PORT="17222")
        cls.start("dispatch", FAKE_BIN, dict(common, CS_DB_URL=cls.pg_cal.conninfo()), DISPATCH)
        cls.start("sla-cal", SLA_BIN, dict(
            common, CS_DB_URL=cls.pg_cal.conninfo(), CS_SLA_HTTP_PORT="17340",
            CS_SLA_PUB_PORT="17341", CS_SLA_REPLAY_PORT="17342", CS_SLA_CALENDAR="cn-office",
            CS_SLA_NEXT_UPDATE_MIN="120", CS_COMMIT_P2_RESPONSE_MIN="240"), SLA_CAL)
        cls.start("sla-fast", SLA_BIN, dict(
            common, CS_DB_URL=cls.pg_fast.conninfo(), CS_SLA_HTTP_PORT="17350",
            CS_SLA_PUB_PORT="17351", CS_SLA_REPLAY_PORT="17352", CS_SLA_MINUTE_SECONDS="1",
            CS_SLA_NEXT_UPDATE_MIN="3", CS_COMMIT_P3_RESPONSE_MIN="600",
            CS_COMMIT_P3_RESOLUTION_MIN="1200", CS_SLA_ESCALATE_AFTER_MIN="none"), SLA_FAST)
        for base in (SLA_CAL, SLA_FAST):
            wait_for(lambda: http("GET", base + "/readyz")[0] == 200, 30, "sla ready")

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.stop()
        cls.pg_cal.stop()
        cls.pg_fast.stop()

    @classmethod
    def start(cls, name, binary, env, base):
        s = Service(name, [binary], env, os.path.join(LOGS, f"{name}.log"))
        s.start()
        cls.procs.append(s)
        wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 20, f"{name} up")

    def emit(self, kind, ticket, at_ms, **extra):
        status, out = http("POST", DISPATCH + "/emit", dict(ticket, type=kind, at_ms=at_ms,
                                                            **extra))
        self.assertEqual(status, 200, out)

    def ticket(self, priority, received_at_ms):
        tid = str(uuid.uuid4())
        return {"ticket_id": tid, "number": "NU-" + tid[:8], "priority": priority,
                "received_at_ms": received_at_ms, "team": "field", "assignee": "agent.li",
                "tier": "sme", "service_type": "maintenance", "channel": "email"}

    def history(self, pg, ticket):
        return [(int(r), k) for r, k in pg.query(
            "SELECT round, kind FROM sla.clock_events WHERE clock_id ="
            f" sla.clock_uuid('{ticket['ticket_id']}', 'next_update') ORDER BY id")]

    def view(self, base, ticket):
        status, body = http("GET", f"{base}/v1/sla/tickets/{ticket['ticket_id']}")
        if status == 404:
            return {}  # not armed yet
        self.assertEqual(status, 200, body)
        return {c["target"]: c for c in body["clocks"]}

    def test_rounds_on_a_business_calendar_worked_out_by_hand(self):
        # Received Fri 2027-03-12 15:00 (+08) = 07:00Z.
        t = self.ticket("P2", utc("2027-03-12T07:00"))
        self.emit("accepted", t, utc("2027-03-12T07:00"))
        # Fri 16:40 (+08): a person's first response. First response (240 business min
        # from 15:00: Fri 150 to 17:30, Mon 90 from 08:30: due Mon 10:00) is met. Next
        # update round 1 from Fri 16:40: Fri 50 min to 17:30, Mon 70 from 08:30: due
        # Mon 2027-03-15 09:40 (+08) = 01:40Z.
        self.emit("responded", t, utc("2027-03-12T08:40"))
        c = wait_for(lambda: (lambda v: v if "next_update" in v else None)(
            self.view(SLA_CAL, t)), 20, "next update armed")
        nu = c["next_update"]
        self.assertEqual((nu["state"], nu["round"], nu["started_at"], nu["due_at"]),
                         ("running", 1, "2027-03-12T08:40:00.000Z", "2027-03-15T01:40:00.000Z"))
        self.assertEqual(c["first_response"]["state"], "met")
        # Mon 09:00 (+08): a note to the customer. Round 1 met with 50 + 30 = 80 min
        # used (80 / 120 = 66 %); round 2 from 09:00: due 11:00 (+08) = 03:00Z.
        self.emit("noted", t, utc("2027-03-15T01:00"), to_customer=True)
        # Mon 10:00 (+08): waiting for the customer; round 2 pauses with 60 min used.
        self.emit("status_changed", t, utc("2027-03-15T02:00"), from_status="in_progress",
                  to_status="pending_customer")
        # Mon 14:00 (+08): the customer replies. Paused 10:00-12:00 and 13:00-14:00 =
        # 180 business min; the deadline moves on by them from 11:00: 60 to 12:00, 120
        # from 13:00: Mon 15:00 (+08) = 07:00Z.
        self.emit("customer_replied", t, utc("2027-03-15T06:00"), from_status="pending_customer",
                  to_status="in_progress")
        # Neither an internal note nor a response by a service is an update.
        self.emit("noted", t, utc("2027-03-15T06:30"))
        self.emit("responded", t, utc("2027-03-15T06:40"), actor="system")
        c = wait_for(lambda: (lambda v: v if v["next_update"]["state"] == "running" and
                              v["next_update"]["due_at"] == "2027-03-15T07:00:00.000Z"
                              else None)(self.view(SLA_CAL, t)), 20, "round 2 resumed")
        self.assertEqual(c["next_update"]["round"], 2)
        # Mon 15:20 (+08): the next update, 20 min late: round 2 breached at 15:00 and
        # fulfilled late with 120 + 20 = 140 min used; round 3 from 15:20: 130 min left
        # that day, so due 17:20 (+08) = 09:20Z.
        self.emit("noted", t, utc("2027-03-15T07:20"), to_customer=True)
        c = wait_for(lambda: (lambda v: v if v["next_update"]["round"] == 3 else None)(
            self.view(SLA_CAL, t)), 20, "round 3")
        self.assertEqual(c["next_update"]["due_at"], "2027-03-15T09:20:00.000Z")
        # Mon 16:00 (+08): resolved. The resolution is met; no update is owed after it:
        # round 3 stops, and a note after the resolution starts nothing.
        self.emit("resolved", t, utc("2027-03-15T08:00"))
        self.emit("noted", t, utc("2027-03-15T08:30"), to_customer=True)
        # Tue 09:00 (+08): reopened; the resolution clock counts again, and the next
        # update to the customer, Tue 10:00 (+08), starts round 4: due 12:00 (+08) = 04:00Z.
        self.emit("reopened", t, utc("2027-03-16T01:00"))
        self.emit("noted", t, utc("2027-03-16T02:00"), to_customer=True)
        c = wait_for(lambda: (lambda v: v if v["next_update"]["round"] == 4 else None)(
            self.view(SLA_CAL, t)), 20, "round 4")
        nu = c["next_update"]
        self.assertEqual((nu["state"], nu["started_at"], nu["due_at"], nu["target_ms"]),
                         ("running", "2027-03-16T02:00:00.000Z", "2027-03-16T04:00:00.000Z",
                          120 * MIN))
        self.assertEqual(self.history(self.pg_cal, t), [
            (1, "armed"), (1, "met"),
            (2, "armed"), (2, "paused"), (2, "resumed"), (2, "breached"), (2, "fulfilled_late"),
            (3, "armed"), (3, "stopped"),
            (4, "armed")])
        used = self.pg_cal.query(
            "SELECT round, kind, used_ms, percent FROM sla.clock_events WHERE clock_id ="
            f" sla.clock_uuid('{t['ticket_id']}', 'next_update') AND used_ms IS NOT NULL"
            " ORDER BY id")
        self.assertEqual(used, [["1", "met", str(80 * MIN), "66"],
                                ["2", "fulfilled_late", str(140 * MIN), "116"]])
        # The report counts the next update by rounds: round 1 met, round 2 breached;
        # times 80 and 140 min: mean 110 min, p90 the 2nd of 2 (nearest rank) = 140.
        status, rep = http("GET", SLA_CAL + "/v1/sla/report?from=2027-03-12&to=2027-03-17"
                           "&by=team")
        self.assertEqual(status, 200, rep)
        g = rep["groups"][0]
        self.assertEqual([g[k] for k in ("next_update_met", "next_update_breaches",
                                         "next_update_compliance_percent", "next_update_count",
                                         "next_update_mean_ms", "next_update_p90_ms")],
                         [1, 1, 50.0, 2, 110 * MIN, 140 * MIN])

    def test_warning_and_breach_once_per_round(self):
        now = int(time.time() * 1000)
        t = self.ticket("P3", now)
        self.emit("accepted", t, now)
        # round 1: from the response; warning at 2.4 s, breach at 3 s
        self.emit("responded", t, now + 100)
        wait_for(lambda: (1, "breached") in self.history(self.pg_fast, t), 20,
                 "round 1 breached")
        time.sleep(1)  # a few more ticks: nothing more for round 1
        # the update, late: round 1 closed, round 2 from now, signalled again
        at = int(time.time() * 1000)
        self.emit("noted", t, at, to_customer=True)
        wait_for(lambda: (2, "breached") in self.history(self.pg_fast, t), 20,
                 "round 2 breached")
        self.emit("resolved", t, int(time.time() * 1000))
        wait_for(lambda: (2, "stopped") in self.history(self.pg_fast, t), 20, "stopped")
        time.sleep(1)
        self.assertEqual(self.history(self.pg_fast, t), [
            (1, "armed"), (1, "warning"), (1, "breached"), (1, "fulfilled_late"),
            (2, "armed"), (2, "warning"), (2, "breached"), (2, "stopped")])
        clock = self.view(SLA_FAST, t)["next_update"]
        rows = self.pg_fast.query(
            "SELECT topic, count(*) FROM sla.outbox WHERE position(convert_to("
            f"'{clock['id']}', 'UTF8') IN envelope) > 0 GROUP BY topic ORDER BY topic")
        self.assertEqual(rows, [["sla.armed", "2"], ["sla.breached", "2"],
                                ["sla.warning", "2"]])


if __name__ == "__main__":
    main()
