"""sla-monitor's reports: GET /v1/sla/tickets/{id} and GET /v1/sla/report.

cs-sla on a private PostgreSQL with a stand-in for dispatch (fake_dispatch).
New clocks count on the business calendar cn-office (CS_SLA_CALENDAR):
Asia/Shanghai, Monday to Friday 08:30-12:00 and 13:00-17:30 (8 working hours
a day), mainland China holidays — none in the weeks used here (2025-03-03..07
and 2025-04-07 are ordinary working weeks; Qingming 2025 was 4..6 April).

The report's figures are checked on a seeded set of clocks written straight
into sla.clocks / sla.clock_events, each consistent with the clock model, with
the expected values worked out by hand below; the arming path (facts stored
with the clocks, history, remaining business time) is checked through real
dispatch events.

Ports: PostgreSQL 55515, fake dispatch 22200-22202, sla 22300-22302.
"""
import csv
import io
import os
import sys
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, wait_for  # noqa: E402

SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
FAKE_BIN = os.path.join(BUILD, "tests", "integration", "fake_dispatch")
PG_PORT = 55515
SLA = "http://127.0.0.1:22300"
DISPATCH = "http://127.0.0.1:22200"
LOGS = os.path.join(BUILD, "test-var", "sla-report")

MIN = 60 * 1000
H = 60 * MIN

# ---- the seeded set -------------------------------------------------------------------
#
# Period: from=2025-03-03 to=2025-03-08 (dates, midnight Asia/Shanghai), i.e.
# [2025-03-03T00:00+08:00, 2025-03-08T00:00+08:00). Times below are +08:00.
#
# "used" is the business time the clock counted up to its fulfilment, as
# clock.c counts it: target - working time between fulfilment and deadline
# when in time, target + working time between deadline and fulfilment when
# late.
#
#  #  ticket target  cal   prio tier      team  agent        state / outcome
#  1  T1     FR 60m  cn    P2   strategic field wang, "w"   met
#       start Mon 03-03 11:30; due 11:30-12:00 (30) + 13:00-13:30 (30) = 13:30;
#       met 13:00: 30 min left → used 60-30 = 30 min = 1 800 000 ms
#       (wall time 90 min: the lunch break does not count)
#  2  T1     RES 480m cn   P2   strategic field wang, "w"   met
#       start Mon 11:30; Mon 11:30-12:00 0.5 h + 13:00-17:30 4.5 h = 5 h; Tue
#       08:30 + 3 h = 11:30 → due Tue 03-04 11:30; met Tue 09:30: 2 h left
#       → used 8 h - 2 h = 6 h = 21 600 000 ms
#  3  T2     FR 120m cn    P3   sme       field wang, "w"   breached, fulfilled late
#       start Fri 03-07 17:00; Fri 17:00-17:30 30 min, Mon 03-10 08:30 + 90 min
#       → due Mon 10:00; answered Mon 10:30 → used 120 + 30 = 150 min = 9 000 000
#  4  T2     RES 960m cn   P3   sme       field wang, "w"   paused (open)
#       start Fri 17:00, due Tue 03-11 17:00 (0.5 + 8 + 3.5 + 4 h); paused Mon
#       09:00 — open: no outcome, no time
#  5  T3     FR 30m  7x24  P1   strategic lab   =2+3         met
#       start Tue 03-04 02:00, due 02:30, met 02:10 → used 10 min = 600 000
#  6  T3     RES 240m 7x24 P1   strategic lab   =2+3         breached, not fulfilled
#       start Tue 02:00, due 06:00; still open → a breach, no time
#  7  T4     FR 30m  7x24  P1   large     lab   =2+3         met
#       start Wed 03-05 20:00, due 20:30, met 20:20 → used 20 min = 1 200 000
#  8  T4     RES 240m 7x24 P1   large     lab   =2+3         breached, then closed
#       round 2 (reopened Wed 20:00; round 1 was fulfilled late), due Thu 00:00,
#       breached, ticket closed Thu 01:00: history of round 2 has "stopped",
#       not "fulfilled_late" → a breach, no time (round 1's outcome is ignored)
#  9  T5     FR 60m  7x24  P2   large     lab   li.na        stopped (terminated 10:15)
# 10  T5     RES 480m 7x24 P2   large     lab   li.na        stopped
#       start Thu 03-06 10:00; the ticket was terminated at 10:15 → no outcome
# 11  T6     FR 60m  7x24  P2   (none)    lab   li.na        met
#       start Fri 03-07 09:00, due 10:00, met 09:45 → used 45 min = 2 700 000
# 12  T6     RES 480m 7x24 P2   (none)    lab   li.na        met
#       start Fri 09:00, due 17:00, met 15:00 → used 6 h = 21 600 000
# 13  T7     FR 120m 7x24  P3   sme       field wang, "w"   met
#       start exactly at from (Mon 03-03 00:00) → inside; due 02:00, met 01:00
#       → used 60 min = 3 600 000
# 14  T8     FR 120m 7x24  P3   sme       field wang, "w"   met — starts exactly at
#       `to` (Sat 03-08 00:00) → outside
# 15  T9     FR 120m 7x24  P3   sme       field wang, "w"   met — starts 1 ms before
#       `from` → outside
#
# Groups by team (bytewise order: field, lab):
#   field = clocks 1, 2, 3, 4, 13: 5 clocks; open 1 (4); met 3 (1, 2, 13);
#     breaches 1 (3); stopped 0; compliance 3 / (3 + 1) = 75.00 %
#     FR: met 2 (1, 13), breaches 1 (3) → 2/3 = 66.67 %; times 1.8 M, 9.0 M,
#       3.6 M ms → count 3, mean 14.4 M / 3 = 4 800 000, p90 = value of rank
#       ceil(0.9 × 3) = 3 of [1.8 M, 3.6 M, 9.0 M] = 9 000 000
#     RES: met 1 (2), breaches 0 → 100.00 %; count 1, mean = p90 = 21 600 000
#   lab = clocks 5..12: 8 clocks; open 0; met 4 (5, 7, 11, 12); breaches 2
#     (6, 8); stopped 2 (9, 10); compliance 4/6 = 66.67 %
#     FR: met 3 (5, 7, 11), breaches 0 → 100.00 %; times 0.6 M, 1.2 M, 2.7 M
#       → mean 4.5 M / 3 = 1 500 000, p90 rank 3 = 2 700 000
#     RES: met 1 (12), breaches 2 (6, 8) → 1/3 = 33.33 %; times: only 12 was
#       fulfilled → count 1, mean = p90 = 21 600 000
#   total: 13 clocks; open 1; met 7; breaches 3; stopped 2; 7/10 = 70.00 %
#     FR: met 5, breaches 1 → 5/6 = 83.33 %; times 1.8, 9.0, 3.6, 0.6, 1.2,
#       2.7 M → sum 18.9 M, mean 3 150 000; sorted [0.6, 1.2, 1.8, 2.7, 3.6,
#       9.0] M, rank ceil(5.4) = 6 → p90 9 000 000
#     RES: met 2 (2, 12), breaches 2 (6, 8) → 50.00 %; times 21.6 M twice →
#       mean = p90 = 21 600 000
#
# By priority, P1 = clocks 5, 6, 7, 8: FR times 600 000 and 1 200 000 → mean
#   900 000; p90 nearest rank ceil(1.8) = 2 → 1 200 000 (percentile_cont
#   would interpolate 600 000 + 0.9 × 600 000 = 1 140 000: not what we answer).
# By tier (bytewise: "", large, sme, strategic):
#   ""        = 11, 12          → clocks 2, met 2
#   large     = 7, 8, 9, 10     → clocks 4, met 1, breaches 1, stopped 2
#   sme       = 3, 4, 13        → clocks 3, open 1, met 1, breaches 1
#   strategic = 1, 2, 5, 6      → clocks 4, met 3, breaches 1, 3/4 = 75.00 %
# By agent (bytewise: "=2+3" < "li.na" < 'wang, "w"'):
#   =2+3  = 5, 6, 7, 8   → 4 clocks, met 2, breaches 2, 50.00 %; FR 2 met,
#           100.00 %, mean 900 000, p90 1 200 000; RES 0 met, 2 breaches,
#           0.00 %, no times (empty cells)
#   li.na = 9..12        → 4 clocks, met 2, stopped 2, 100.00 %; FR 1 met,
#           mean = p90 = 2 700 000; RES 1 met, mean = p90 = 21 600 000
#   wang  = field's figures

SEED = [
    # n, ticket, target, minutes, calendar, priority, tier, team, agent, state,
    #   start, due, paused_at, met_at, breached_at, stopped_at, round, history
    (1, "T1", "first_response", 60, "cn-office", "P2", "strategic", "field", 'wang, "w"',
     "met", "2025-03-03 11:30", "2025-03-03 13:30", None, "2025-03-03 13:00", None,
     "2025-03-03 13:00", 1, [(1, "met", "2025-03-03 13:00")]),
    (2, "T1", "resolution", 480, "cn-office", "P2", "strategic", "field", 'wang, "w"',
     "met", "2025-03-03 11:30", "2025-03-04 11:30", None, "2025-03-04 09:30", None,
     "2025-03-04 09:30", 1, [(1, "met", "2025-03-04 09:30")]),
    (3, "T2", "first_response", 120, "cn-office", "P3", "sme", "field", 'wang, "w"',
     "breached", "2025-03-07 17:00", "2025-03-10 10:00", None, None, "2025-03-10 10:00",
     "2025-03-10 10:30", 1,
     [(1, "breached", "2025-03-10 10:00"), (1, "fulfilled_late", "2025-03-10 10:30")]),
    (4, "T2", "resolution", 960, "cn-office", "P3", "sme", "field", 'wang, "w"',
     "paused", "2025-03-07 17:00", "2025-03-11 17:00", "2025-03-10 09:00", None, None, None,
     1, []),
    (5, "T3", "first_response", 30, "7x24", "P1", "strategic", "lab", "=2+3",
     "met", "2025-03-04 02:00", "2025-03-04 02:30", None, "2025-03-04 02:10", None,
     "2025-03-04 02:10", 1, [(1, "met", "2025-03-04 02:10")]),
    (6, "T3", "resolution", 240, "7x24", "P1", "strategic", "lab", "=2+3",
     "breached", "2025-03-04 02:00", "2025-03-04 06:00", None, None, "2025-03-04 06:00",
     None, 1, [(1, "breached", "2025-03-04 06:00")]),
    (7, "T4", "first_response", 30, "7x24", "P1", "large", "lab", "=2+3",
     "met", "2025-03-05 20:00", "2025-03-05 20:30", None, "2025-03-05 20:20", None,
     "2025-03-05 20:20", 1, [(1, "met", "2025-03-05 20:20")]),
    (8, "T4", "resolution", 240, "7x24", "P1", "large", "lab", "=2+3",
     "breached", "2025-03-05 20:00", "2025-03-06 00:00", None, None, "2025-03-06 00:00",
     "2025-03-06 01:00", 2,
     [(1, "breached", "2025-03-05 18:00"), (1, "fulfilled_late", "2025-03-05 19:00"),
      (2, "armed", "2025-03-05 20:00"), (2, "breached", "2025-03-06 00:00"),
      (2, "stopped", "2025-03-06 01:00")]),
    (9, "T5", "first_response", 60, "7x24", "P2", "large", "lab", "li.na",
     "stopped", "2025-03-06 10:00", "2025-03-06 11:00", None, None, None,
     "2025-03-06 10:15", 1, [(1, "stopped", "2025-03-06 10:15")]),
    (10, "T5", "resolution", 480, "7x24", "P2", "large", "lab", "li.na",
     "stopped", "2025-03-06 10:00", "2025-03-06 18:00", None, None, None,
     "2025-03-06 10:15", 1, [(1, "stopped", "2025-03-06 10:15")]),
    (11, "T6", "first_response", 60, "7x24", "P2", "", "lab", "li.na",
     "met", "2025-03-07 09:00", "2025-03-07 10:00", None, "2025-03-07 09:45", None,
     "2025-03-07 09:45", 1, [(1, "met", "2025-03-07 09:45")]),
    (12, "T6", "resolution", 480, "7x24", "P2", "", "lab", "li.na",
     "met", "2025-03-07 09:00", "2025-03-07 17:00", None, "2025-03-07 15:00", None,
     "2025-03-07 15:00", 1, [(1, "met", "2025-03-07 15:00")]),
    (13, "T7", "first_response", 120, "7x24", "P3", "sme", "field", 'wang, "w"',
     "met", "2025-03-03 00:00", "2025-03-03 02:00", None, "2025-03-03 01:00", None,
     "2025-03-03 01:00", 1, [(1, "met", "2025-03-03 01:00")]),
    (14, "T8", "first_response", 120, "7x24", "P3", "sme", "field", 'wang, "w"',
     "met", "2025-03-08 00:00", "2025-03-08 02:00", None, "2025-03-08 01:00", None,
     "2025-03-08 01:00", 1, [(1, "met", "2025-03-08 01:00")]),
    (15, "T9", "first_response", 120, "7x24", "P3", "sme", "field", 'wang, "w"',
     "met", "2025-03-02 23:59:59.999", "2025-03-03 01:59:59.999", None,
     "2025-03-03 00:30", None, "2025-03-03 00:30", 1, [(1, "met", "2025-03-03 00:30")]),
]

FIELDS = ["clocks", "open", "met", "breaches", "stopped", "compliance_percent",
          "first_response_met", "first_response_breaches", "first_response_compliance_percent",
          "first_response_count", "first_response_mean_ms", "first_response_p90_ms",
          "resolution_met", "resolution_breaches", "resolution_compliance_percent",
          "resolution_count", "resolution_mean_ms", "resolution_p90_ms"]

FIELD_TEAM = [5, 1, 3, 1, 0, 75.0, 2, 1, 66.67, 3, 4800000, 9000000,
              1, 0, 100.0, 1, 21600000, 21600000]
LAB_TEAM = [8, 0, 4, 2, 2, 66.67, 3, 0, 100.0, 3, 1500000, 2700000,
            1, 2, 33.33, 1, 21600000, 21600000]
TOTAL = [13, 1, 7, 3, 2, 70.0, 5, 1, 83.33, 6, 3150000, 9000000,
         2, 2, 50.0, 2, 21600000, 21600000]
AGENT_EQ = [4, 0, 2, 2, 0, 50.0, 2, 0, 100.0, 2, 900000, 1200000,
            0, 2, 0.0, 0, None, None]
AGENT_LI = [4, 0, 2, 0, 2, 100.0, 1, 0, 100.0, 1, 2700000, 2700000,
            1, 0, 100.0, 1, 21600000, 21600000]

# A complaint's clocks (complaint_acceptance, complaint_handling) and the next-update
# clock have their own columns; the seeded set holds none: nothing met or breached, no
# share, no times.
for target in ("complaint_acceptance", "complaint_handling", "next_update"):
    FIELDS += [f"{target}_met", f"{target}_breaches", f"{target}_compliance_percent",
               f"{target}_count", f"{target}_mean_ms", f"{target}_p90_ms"]
    for figures in (FIELD_TEAM, LAB_TEAM, TOTAL, AGENT_EQ, AGENT_LI):
        figures += [0, 0, None, 0, None, None]


def ts(local):
    """A +08:00 wall time as a timestamptz literal."""
    return f"'{local}+08'"


def sql_text(s):
    return "'" + s.replace("'", "''") + "'"


class SlaReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(LOGS, exist_ok=True)
        cls.pg = Postgres("sla-report", PG_PORT)
        cls.pg.start(["dispatch", "sla"])
        cls.env = dict(os.environ, CS_DB_URL=cls.pg.conninfo(), CS_LOG_LEVEL="info",
                       CS_DISPATCH_HTTP_PORT="22200", CS_DISPATCH_PUB_PORT="22201",
                       CS_DISPATCH_REPLAY_PORT="22202",
                       CS_SLA_HTTP_PORT="22300", CS_SLA_PUB_PORT="22301",
                       CS_SLA_REPLAY_PORT="22302", CS_SLA_CALENDAR="cn-office",
                       # no complaint service here; and no escalation steps, which would
                       # add "escalated" rows to the histories this test reads
                       CS_SLA_COMPLAINT_CLOCKS="0", CS_SLA_ESCALATE_AFTER_MIN="none",
                       CS_COMMIT_P2_RESPONSE_MIN="60", CS_COMMIT_P2_RESOLUTION_MIN="480")
        cls.procs = []
        try:
            cls.start("dispatch", FAKE_BIN, DISPATCH)
            cls.start("sla", SLA_BIN, SLA)
            wait_for(lambda: http("GET", SLA + "/readyz")[0] == 200, 20, "sla ready")
            cls.seed()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.stop()
        cls.pg.stop()

    @classmethod
    def start(cls, name, binary, base):
        s = Service(name, [binary], cls.env, os.path.join(LOGS, f"{name}.log"))
        s.start()
        cls.procs.append(s)
        wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 20, f"{name} up")

    @classmethod
    def seed(cls):
        tickets = {}
        stmts = []
        for (n, ticket, target, minutes, cal, prio, tier, team, agent, state, start, due,
             paused, met, breached, stopped, rnd, history) in SEED:
            tid = tickets.setdefault(ticket, str(uuid.uuid4()))
            # a clock's id is derived from its ticket and target (005_lean_clocks.sql)
            cid = cls.pg.scalar(f"SELECT sla.clock_uuid('{tid}', '{target}')")

            def t(v):
                return ts(v) if v else "NULL"
            # warn_at is not read by the report: the deadline stands in for it.
            stmts.append(
                "INSERT INTO sla.clocks (id, ticket_id, number, target, priority, policy, round,"
                " state, target_minutes, target_ms, started_at, warn_at, deadline, paused_at,"
                " warned, met_at, breached_at, stopped_at, team, assignee, service_type, tier,"
                " channel) VALUES ("
                f"'{cid}', '{tid}', 'R-{ticket}', '{target}', '{prio}', '{cal}', {rnd},"
                f" '{state}', {minutes}, {minutes * MIN}, {ts(start)}, {ts(due)}, {ts(due)},"
                f" {t(paused)}, true, {t(met)}, {t(breached)}, {t(stopped)},"
                f" {sql_text(team)}, {sql_text(agent)}, 'maintenance', {sql_text(tier)},"
                " 'email')")
            for (r, kind, at) in history:
                stmts.append("INSERT INTO sla.clock_events (clock_id, round, kind, at, percent)"
                             f" VALUES ('{cid}', {r}, '{kind}', {ts(at)}, 0)")
        cls.pg.query("BEGIN; " + "; ".join(stmts) + "; COMMIT")

    # ---- helpers ---------------------------------------------------------------------

    def report(self, **params):
        return http("GET", SLA + "/v1/sla/report?" + urllib.parse.urlencode(params))

    def march(self, by, **extra):
        status, body = self.report(**{"from": "2025-03-03", "to": "2025-03-08", "by": by},
                                   **extra)
        self.assertEqual(status, 200, body)
        return body

    def figures(self, obj):
        return [obj[f] for f in FIELDS]

    # ---- the report ------------------------------------------------------------------

    def test_report_by_team_gives_the_figures_worked_out_by_hand(self):
        body = self.march("team")
        self.assertEqual(body["by"], "team")
        self.assertEqual(body["from"], "2025-03-02T16:00:00.000Z")  # midnight in Shanghai
        self.assertEqual(body["to"], "2025-03-07T16:00:00.000Z")
        self.assertEqual([g["group"] for g in body["groups"]], ["field", "lab"])
        self.assertEqual(self.figures(body["groups"][0]), FIELD_TEAM)
        self.assertEqual(self.figures(body["groups"][1]), LAB_TEAM)
        self.assertEqual(self.figures(body["total"]), TOTAL)

    def test_p90_is_the_nearest_rank_not_an_interpolation(self):
        p1 = [g for g in self.march("priority")["groups"] if g["group"] == "P1"][0]
        self.assertEqual(p1["first_response_mean_ms"], 900000)
        self.assertEqual(p1["first_response_p90_ms"], 1200000)  # not 1 140 000

    def test_report_by_tier_keeps_clocks_without_a_tier_in_their_own_group(self):
        groups = {g["group"]: g for g in self.march("tier")["groups"]}
        self.assertEqual(list(groups), ["", "large", "sme", "strategic"])
        self.assertEqual([groups[""][k] for k in ("clocks", "met")], [2, 2])
        self.assertEqual([groups["large"][k] for k in ("clocks", "met", "breaches", "stopped")],
                         [4, 1, 1, 2])
        self.assertEqual([groups["sme"][k] for k in ("clocks", "open", "met", "breaches")],
                         [3, 1, 1, 1])
        self.assertEqual([groups["strategic"][k] for k in ("clocks", "met", "breaches",
                                                          "compliance_percent")],
                         [4, 3, 1, 75.0])

    def test_the_period_is_start_inclusive_end_exclusive_with_explicit_moments(self):
        # The same period written as moments with offsets and as ms since the epoch.
        a = self.report(**{"from": "2025-03-03T00:00:00+08:00", "to": "2025-03-07T16:00:00Z",
                           "by": "team"})
        b = self.report(**{"from": "1740931200000", "to": "1741363200000", "by": "team"})
        self.assertEqual(a[0], 200, a[1])
        self.assertEqual(b[0], 200, b[1])
        self.assertEqual(a[1]["total"]["clocks"], 13)
        self.assertEqual(a[1]["groups"], b[1]["groups"])
        # One ms later at the start drops clock 13 (started exactly at from).
        c = self.report(**{"from": "1740931200001", "to": "1741363200000", "by": "team"})
        self.assertEqual(c[1]["total"]["clocks"], 12)
        # Dates in another zone: in UTC the period is [03-03 08:00, 03-08 08:00) in
        # Shanghai, which leaves out clock 13 (Mon 00:00) and takes in clock 14 (Sat
        # 00:00): still 13 clocks.
        d = self.march("team", tz="UTC")
        self.assertEqual((d["from"], d["to"]),
                         ("2025-03-03T00:00:00.000Z", "2025-03-08T00:00:00.000Z"))
        self.assertEqual(d["total"]["clocks"], 13)
        # Up to Mon 11:30 Shanghai (03:30Z, exclusive: clocks 1 and 2 start then): from
        # Shanghai's midnight that is clock 13 alone; from UTC's midnight (08:00 in
        # Shanghai) nothing.
        e = self.report(**{"from": "2025-03-03", "to": "2025-03-03T03:30:00Z", "by": "team",
                           "tz": "UTC"})[1]
        self.assertEqual(e["total"]["clocks"], 0)
        f = self.report(**{"from": "2025-03-03", "to": "2025-03-03T03:30:00Z", "by": "team"})[1]
        self.assertEqual(f["total"]["clocks"], 1)  # Shanghai dates: clock 13 alone

    def test_csv_has_a_header_quoted_fields_and_a_total_row(self):
        status, text = self.report(**{"from": "2025-03-03", "to": "2025-03-08", "by": "agent",
                                      "format": "csv"})
        self.assertEqual(status, 200, text)
        lines = text.split("\r\n")
        self.assertEqual(lines[-1], "")  # every line ends with CRLF, the last one too
        self.assertEqual(lines[0], "row,agent," + ",".join(FIELDS))
        # The agent '=2+3' would be a formula in a spreadsheet: quoted and defused; the
        # agent 'wang, "w"' holds a comma and quotes: quoted, quotes doubled.
        self.assertTrue(lines[1].startswith("group,\"'=2+3\",4,0,2,2,0,50.00,"), lines[1])
        self.assertTrue(lines[3].startswith('group,"wang, ""w""",5,1,3,1,0,75.00,'), lines[3])
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(len(rows), 5)  # header, 3 agents, total
        self.assertTrue(all(len(r) == 2 + len(FIELDS) for r in rows))

        def cells(values):
            return ["" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
                    for v in values]
        self.assertEqual(rows[1], ["group", "'=2+3"] + cells(AGENT_EQ))
        self.assertEqual(rows[2], ["group", "li.na"] + cells(AGENT_LI))
        self.assertEqual(rows[3], ["group", 'wang, "w"'] + cells(FIELD_TEAM))
        self.assertEqual(rows[4], ["total", ""] + cells(TOTAL))

    def test_csv_content_type(self):
        import urllib.request
        url = SLA + "/v1/sla/report?from=2025-03-03&to=2025-03-08&by=team&format=csv"
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/csv"),
                            r.headers["Content-Type"])

    def test_an_empty_period_has_no_groups_and_null_shares(self):
        body = self.report(**{"from": "2024-01-01", "to": "2024-02-01", "by": "team"})[1]
        self.assertEqual(body["groups"], [])
        self.assertEqual(body["total"]["clocks"], 0)
        self.assertIsNone(body["total"]["compliance_percent"])
        self.assertIsNone(body["total"]["first_response_p90_ms"])

    def test_bad_parameters_get_a_400_naming_them(self):
        ok = {"from": "2025-03-03", "to": "2025-03-08", "by": "team"}
        cases = [
            ({"to": "2025-03-08", "by": "team"}, "from"),
            (dict(ok, **{"from": "yesterday"}), "from"),
            (dict(ok, **{"from": "2025-02-30"}), "from"),
            (dict(ok, **{"from": "2025-03-03T08:00:00"}), "from"),  # no offset
            (dict(ok, to="2025-03-03"), "to"),                       # not after from
            (dict(ok, to="2025-03-0"), "to"),
            (dict(ok, by="colour"), "by"),
            ({"from": "2025-03-03", "to": "2025-03-08"}, "by"),
            (dict(ok, format="xml"), "format"),
            (dict(ok, tz="Mars/Olympus"), "tz"),
            (dict(ok, tz="../../etc/passwd"), "tz"),
        ]
        for params, field in cases:
            status, body = self.report(**params)
            self.assertEqual(status, 400, (params, body))
            self.assertEqual(body["error"]["field"], field, (params, body))
            self.assertIn(field, body["error"]["message"])

    # ---- the ticket view -------------------------------------------------------------

    def test_ticket_view_of_a_seeded_ticket_shows_clocks_and_history(self):
        # T4: first response met at 20:20 (20 of 30 min → 66 %); resolution round 2
        # breached and closed: no time remaining, history of both rounds.
        status, body = http("GET", SLA + "/v1/sla/tickets/R-T4")
        self.assertEqual(status, 200, body)
        c = {x["target"]: x for x in body["clocks"]}
        fr, res = c["first_response"], c["resolution"]
        self.assertEqual((fr["state"], fr["percent"], fr["working_ms_used"], fr["remaining_ms"]),
                         ("met", 66, 20 * MIN, None))
        self.assertEqual(fr["due_at"], "2025-03-05T12:30:00.000Z")
        self.assertEqual((res["state"], res["breached"], res["counting"], res["round"]),
                         ("breached", True, False, 2))
        self.assertEqual([(h["round"], h["kind"]) for h in res["history"]],
                         [(1, "breached"), (1, "fulfilled_late"), (2, "armed"), (2, "breached"),
                          (2, "stopped")])
        # The same ticket by its id.
        status, by_id = http("GET", SLA + "/v1/sla/tickets/" + body["ticket_id"])
        self.assertEqual(status, 200, by_id)
        self.assertEqual(by_id["ticket_number"], "R-T4")
        self.assertEqual(len(by_id["clocks"]), 2)

    def test_a_paused_clock_shows_the_business_time_left_at_the_pause(self):
        # T2 resolution: 960 min from Fri 03-07 17:00, paused Mon 03-10 09:00. Counted:
        # Fri 17:00-17:30 (30) + Mon 08:30-09:00 (30) = 60 min (the weekend is not
        # working time); left: 900 min = 54 000 000 ms, whatever the wall clock says.
        status, body = http("GET", SLA + "/v1/sla/tickets/R-T2")
        self.assertEqual(status, 200, body)
        res = [x for x in body["clocks"] if x["target"] == "resolution"][0]
        self.assertEqual((res["state"], res["counting"]), ("paused", True))
        self.assertEqual(res["working_ms_used"], 60 * MIN)
        self.assertEqual(res["remaining_ms"], 900 * MIN)
        self.assertEqual(res["percent"], 6)  # 60 / 960 = 6.25 % → 6

    def test_ticket_view_through_the_real_path_keeps_the_facts_and_counts_business_time(self):
        # A P2 ticket received Mon 2025-04-07 11:30 (+08), first answered 13:00: the
        # response arms both clocks and meets the first at once. First response: 60
        # business min, due 13:30 (30 before lunch, 30 after); met with 30 min used.
        # Resolution: 480 min, due Tue 04-08 11:30; long past, so the tick breaches it
        # and it keeps counting: remaining is negative. The response also arms the next
        # update: 240 business min from Mon 13:00, all in that afternoon (13:00-17:30
        # holds 270), so due Mon 17:00 (+08) = 09:00Z; never updated: breached too.
        tid = str(uuid.uuid4())
        number = "CS-R-" + tid[:8]
        received = 1743996600000  # 2025-04-07T03:30:00Z = 11:30 in Shanghai
        answered = received + 90 * MIN
        status, out = http("POST", DISPATCH + "/emit", {
            "type": "responded", "ticket_id": tid, "number": number, "priority": "P2",
            "received_at_ms": received, "at_ms": answered, "team": "field",
            "assignee": "agent.zhao", "service_type": "safety_inspection",
            "tier": "strategic", "channel": "email"})
        self.assertEqual(status, 200, out)

        def view():
            s, b = http("GET", SLA + "/v1/sla/tickets/" + tid)
            if s != 200:
                return None
            c = {x["target"]: x for x in b["clocks"]}
            return b if c.get("resolution", {}).get("state") == "breached" else None
        body = wait_for(view, 20, "clocks armed and the resolution breached")
        self.assertEqual(body["ticket_number"], number)
        c = {x["target"]: x for x in body["clocks"]}
        fr, res = c["first_response"], c["resolution"]
        for clock in (fr, res):
            self.assertEqual((clock["service_type"], clock["tier"], clock["channel"],
                              clock["policy"]),
                             ("safety_inspection", "strategic", "email", "cn-office"))
        self.assertEqual((fr["state"], fr["working_ms_used"], fr["remaining_ms"]),
                         ("met", 30 * MIN, None))
        self.assertEqual(fr["due_at"], "2025-04-07T05:30:00.000Z")
        self.assertEqual([h["kind"] for h in fr["history"]], ["armed", "met"])
        self.assertEqual(res["due_at"], "2025-04-08T03:30:00.000Z")
        self.assertTrue(res["breached"] and res["counting"])
        self.assertLess(res["remaining_ms"], 0)
        self.assertEqual(res["remaining_ms"], res["target_ms"] - res["working_ms_used"])
        self.assertEqual([h["kind"] for h in res["history"]], ["armed", "breached"])
        nu = wait_for(lambda: (lambda b: b if b and {x["target"]: x for x in b["clocks"]}
                               .get("next_update", {}).get("state") == "breached" else None)(
            http("GET", SLA + "/v1/sla/tickets/" + tid)[1]), 20, "next update breached")
        nu = {x["target"]: x for x in nu["clocks"]}["next_update"]
        self.assertEqual((nu["due_at"], nu["started_at"], nu["target_ms"]),
                         ("2025-04-07T09:00:00.000Z", "2025-04-07T05:00:00.000Z", 240 * MIN))
        self.assertEqual([h["kind"] for h in nu["history"]], ["armed", "breached"])
        # The events sla published carry the facts too (ClockEvent.service_type, .tier).
        n = self.pg.scalar(
            "SELECT count(*) FROM sla.outbox WHERE position(convert_to('safety_inspection',"
            " 'UTF8') IN envelope) > 0 AND position(convert_to("
            f"'{tid}', 'UTF8') IN envelope) > 0")
        self.assertGreaterEqual(int(n), 2)
        # And the report by service type finds it: 3 clocks, 1 met (the first response),
        # 2 breaches (the resolution, the next update's one round), 30 min to respond.
        rep = self.report(**{"from": "2025-04-07", "to": "2025-04-08", "by": "service_type"})[1]
        self.assertEqual([g["group"] for g in rep["groups"]], ["safety_inspection"])
        g = rep["groups"][0]
        self.assertEqual([g[k] for k in ("clocks", "met", "breaches", "first_response_mean_ms",
                                         "resolution_count", "next_update_met",
                                         "next_update_breaches", "next_update_count")],
                         [3, 1, 2, 30 * MIN, 0, 0, 1, 0])

    def test_ticket_view_errors(self):
        self.assertEqual(http("GET", SLA + "/v1/sla/tickets/CS-NOPE-1")[0], 404)
        self.assertEqual(http("GET", SLA + "/v1/sla/tickets/" + str(uuid.uuid4()))[0], 404)
        status, body = http("GET", SLA + "/v1/sla/tickets/" + "x" * 65)
        self.assertEqual((status, body["error"]["field"]), (400, "id"))
        status, body = http("GET", SLA + "/v1/sla/tickets/%FF%FE")
        self.assertEqual((status, body["error"]["field"]), (400, "id"))


if __name__ == "__main__":
    main()
