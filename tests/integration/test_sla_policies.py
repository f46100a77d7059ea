"""sla-monitor's policies and live clocks over real sockets, processes and PostgreSQL.

cs-sla reads stand-ins for dispatch (fake_dispatch) and for the complaint
service (fake_complaint), both the real service skeleton publishing through
their outboxes, so these tests pin sla's own rules: pause and resume on
pending_customer, a reclassified ticket recomputed from its original start,
policies matched and applied to running clocks on demand, a corrected
calendar recomputing the open clocks on it, only a person's response
counting, escalation levels after a breach, moments that passed while sla
was stopped firing once at restart, and complaint clocks.

What is published is checked in sla's outbox: the relay numbers (seq) and
publishes exactly its rows, so a numbered row is an event on the bus.

Minutes are seconds here (CS_SLA_MINUTE_SECONDS=1). Ports: PostgreSQL
55510; services moved by 14000 (dispatch 21200-2, sla 21300-2, complaint
21400-2).
"""
import datetime
import os
import signal
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, service_url, wait_for  # noqa: E402

SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
FAKE_DISPATCH = os.path.join(BUILD, "tests", "integration", "fake_dispatch")
FAKE_COMPLAINT = os.path.join(BUILD, "tests", "integration", "fake_complaint")
PG_PORT = 55510
OFFSET = 14000
SLA = service_url(OFFSET, "sla")
DISPATCH = service_url(OFFSET, "dispatch")
COMPLAINT = service_url(OFFSET, "complaint")
LOGS = os.path.join(BUILD, "test-var", "sla-policies")
SEC = 1000


def now_ms():
    return int(time.time() * 1000)


def sh(text):
    """'2027-03-05 16:55' in Asia/Shanghai (UTC+8, no DST) as ms."""
    d = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(
        tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    return int(d.timestamp() * 1000)


class SlaPoliciesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(LOGS, exist_ok=True)
        cls.procs = []
        cls.pg = Postgres("sla-policies", PG_PORT)
        try:
            cls.pg.start(["dispatch", "complaint", "sla"])
            cls.env = dict(os.environ, CS_DB_URL=cls.pg.conninfo(), CS_LOG_LEVEL="info",
                           CS_SLA_MINUTE_SECONDS="1", CS_SLA_ESCALATE_AFTER_MIN="0,2,4",
                           CS_COMMIT_P1_RESPONSE_MIN="300", CS_COMMIT_P1_RESOLUTION_MIN="900",
                           CS_COMMIT_P2_RESPONSE_MIN="600", CS_COMMIT_P2_RESOLUTION_MIN="1200",
                           CS_COMMIT_P3_RESPONSE_MIN="5", CS_COMMIT_P3_RESOLUTION_MIN="8",
                           CS_COMMIT_P4_RESPONSE_MIN="10", CS_COMMIT_P4_RESOLUTION_MIN="12")
            for s, base in (("dispatch", 7200), ("sla", 7300), ("complaint", 7400)):
                for key, delta in (("HTTP_PORT", 0), ("PUB_PORT", 1), ("REPLAY_PORT", 2)):
                    cls.env[f"CS_{s.upper()}_{key}"] = str(base + OFFSET + delta)
            cls.start("dispatch", FAKE_DISPATCH, DISPATCH)
            cls.start("complaint", FAKE_COMPLAINT, COMPLAINT)
            cls.sla = cls.start("sla", SLA_BIN, SLA)
            wait_for(lambda: http("GET", SLA + "/readyz")[0] == 200, 20, "sla ready")
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
        return s

    # ---- helpers ---------------------------------------------------------------

    def ticket(self, priority="P2", received_at_ms=None, **facts):
        n = uuid.uuid4()
        t = {"ticket_id": str(n), "number": "T-" + n.hex[:10].upper(), "priority": priority,
             "received_at_ms": received_at_ms or now_ms(), "team": "field-service",
             "assignee": "agent.li", "service_type": "equipment_maintenance", "tier": "sme",
             "channel": "web"}
        t.update(facts)
        return t

    def emit(self, kind, ticket, at_ms=None, **extra):
        body = dict(ticket, type=kind, at_ms=at_ms or now_ms(), **extra)
        status, out = http("POST", DISPATCH + "/emit", body)
        self.assertEqual(status, 200, out)

    def complain(self, kind, c, at_ms, **extra):
        status, out = http("POST", COMPLAINT + "/emit", dict(c, type=kind, at_ms=at_ms, **extra))
        self.assertEqual(status, 200, out)

    def clocks(self, number):
        status, body = http("GET", f"{SLA}/v1/clocks?ticket={number}")
        self.assertEqual(status, 200, body)
        return {c["target"]: c for c in body["clocks"]}

    def wait_clocks(self, number, pred, what, timeout=20):
        return wait_for(lambda: (lambda c: c if pred(c) else None)(self.clocks(number)),
                        timeout, what)

    def published(self, key, target=None):
        """sla.* events naming key (and target) in sla's outbox, in order —
        only rows the relay has numbered, i.e. published on the bus."""
        cond = f"position(convert_to('{key}', 'UTF8') IN envelope) > 0"
        if target:
            cond += f" AND position(convert_to('{target}', 'UTF8') IN envelope) > 0"
        return [r[0] for r in self.pg.query(
            f"SELECT topic FROM sla.outbox WHERE seq IS NOT NULL AND {cond} ORDER BY seq")]

    def wait_published(self, key, pred, what, target=None, timeout=20):
        return wait_for(lambda: (lambda p: p if pred(p) else None)(self.published(key, target)),
                        timeout, what)

    def history(self, clock_id):
        return [(r[0], int(r[1]), r[2]) for r in self.pg.query(
            "SELECT kind, level, note FROM sla.clock_events"
            f" WHERE clock_id = '{clock_id}' ORDER BY id")]

    def put_policy(self, pid, body, query=""):
        return http("PUT", f"{SLA}/v1/sla/policies/{pid}{query}", body)

    # ---- pause and resume ------------------------------------------------------

    def test_pending_customer_pauses_the_clocks_and_the_reply_resumes_them(self):
        # P2 here: 600 s to answer, 1200 to resolve. Answered at r+5 (met),
        # pending from r+10 to r+40 (the customer's reply): the resolution's
        # deadline moves by the 30 s waited → r + 1230 s.
        r = now_ms() - 100 * SEC
        t = self.ticket("P2", r)
        self.emit("accepted", t, at_ms=r)
        self.emit("responded", t, at_ms=r + 5 * SEC, from_status="assigned",
                  to_status="in_progress")
        self.emit("status_changed", t, at_ms=r + 10 * SEC, from_status="in_progress",
                  to_status="pending_customer")
        c = self.wait_clocks(t["number"], lambda c: c.get("resolution", {}).get("state")
                             == "paused", "resolution paused")
        self.assertEqual(c["first_response"]["state"], "met")
        self.assertIsNotNone(c["resolution"]["paused_at"])
        self.emit("status_changed", t, at_ms=r + 40 * SEC, from_status="pending_customer",
                  to_status="in_progress", actor="customer")
        c = self.wait_clocks(t["number"], lambda c: c["resolution"]["state"] == "running",
                             "resolution resumed")
        self.assertEqual(c["resolution"]["deadline_ms"], r + 1230 * SEC)
        self.assertEqual([k for k, _, _ in self.history(c["resolution"]["id"])],
                         ["armed", "paused", "resumed"])
        self.assertEqual(self.published(t["ticket_id"], "resolution"),
                         ["sla.armed", "sla.paused", "sla.resumed"])
        self.assertEqual(self.published(t["ticket_id"], "first_response"),
                         ["sla.armed", "sla.met"])

    def test_only_a_person_s_response_is_a_first_response(self):
        t = self.ticket("P2", now_ms() - 10 * SEC)
        self.emit("accepted", t, actor="system")
        self.emit("responded", t, actor="system")  # the automatic acceptance letter
        time.sleep(1.5)
        self.assertEqual(self.clocks(t["number"])["first_response"]["state"], "running")
        self.emit("responded", t, actor="agent.wang")
        self.wait_clocks(t["number"], lambda c: c["first_response"]["state"] == "met", "met")
        self.assertEqual(self.published(t["ticket_id"], "first_response"),
                         ["sla.armed", "sla.met"])

    # ---- reclassification --------------------------------------------------------

    def test_a_reclassified_ticket_is_recomputed_from_its_original_start(self):
        # P2 (600 / 1200 s) received at r, pending r+10..r+30 (20 s), raised
        # to P1 (300 / 900) at r+50: from r, plus the 20 s waited →
        # first response r+320 s, resolution r+920 s.
        r = now_ms() - 100 * SEC
        t = self.ticket("P2", r)
        self.emit("accepted", t, at_ms=r)
        self.emit("status_changed", t, at_ms=r + 10 * SEC, from_status="assigned",
                  to_status="pending_customer")
        self.emit("status_changed", t, at_ms=r + 30 * SEC, from_status="pending_customer",
                  to_status="in_progress")
        self.emit("reclassified", dict(t, priority="P1"), at_ms=r + 50 * SEC,
                  from_priority="P2", from_service_type="equipment_maintenance")
        c = self.wait_clocks(t["number"],
                             lambda c: c.get("resolution", {}).get("priority") == "P1",
                             "reclassified")
        self.assertEqual(c["first_response"]["deadline_ms"], r + 320 * SEC)
        self.assertEqual(c["resolution"]["deadline_ms"], r + 920 * SEC)
        self.assertEqual(c["resolution"]["policy_id"], "default-P1")
        self.assertEqual(c["resolution"]["target_minutes"], 900)
        self.assertEqual(c["resolution"]["started_at"], c["first_response"]["started_at"])
        hist = self.history(c["resolution"]["id"])
        self.assertEqual([k for k, _, _ in hist], ["armed", "paused", "resumed", "changed"])
        self.assertIn("P2 -> P1", hist[-1][2])
        self.assertEqual(self.published(t["ticket_id"], "resolution"),
                         ["sla.armed", "sla.paused", "sla.resumed", "sla.changed"])

    # ---- policies ------------------------------------------------------------------

    def test_policies_are_checked_field_by_field(self):
        good = {"match": {"tier": "large"}, "targets": {"first_response": 60, "resolution": 600}}
        for pid, body, query, field in (
                ("bad$id", good, "", "id"),
                ("x", dict(good, targets={"first_reponse": 5, "resolution": 9}), "",
                 "targets.first_reponse"),
                ("x", dict(good, targets={"resolution": 9}), "", "targets.first_response"),
                ("x", dict(good, targets={"first_response": 0, "resolution": 9}), "",
                 "targets.first_response"),
                ("x", dict(good, targets={"first_response": 5, "resolution": 525601}), "",
                 "targets.resolution"),
                ("x", dict(good, match={"priority": "P9"}), "", "match.priority"),
                ("x", dict(good, match={"tier": "Large"}), "", "match.tier"),
                ("x", dict(good, match={"colour": "red"}), "", "match.colour"),
                ("x", dict(good, calendar="no-such-calendar"), "", "calendar"),
                ("x", dict(good, unit="hours"), "", "unit"),
                ("x", dict(good, complex="yes"), "", "complex"),
                ("x", dict(good, complex_working_days=0), "", "complex_working_days"),
                ("x", dict(good, id="y"), "", "id"),
                ("x", dict(good, extra=1), "", "extra"),
                ("x", good, "?apply=soon", "apply")):
            status, out = self.put_policy(pid, body, query)
            self.assertEqual(status, 400, (pid, body, out))
            self.assertEqual(out["error"]["field"], field, (body, out))
        status, out = self.put_policy("x", "not json")
        self.assertEqual(status // 100, 4)
        self.assertEqual(http("GET", SLA + "/v1/sla/policies/nope")[0], 404)
        self.assertEqual(http("DELETE", SLA + "/v1/sla/policies/nope")[0], 404)
        self.assertEqual(http("GET", SLA + "/v1/sla/policies?priority=P9")[0], 400)
        # one policy per match
        self.assertEqual(self.put_policy("large-1", good)[0], 201)
        status, out = self.put_policy("large-2", good)
        self.assertEqual((status, out["error"]["field"]), (409, "match"))
        self.assertEqual(http("DELETE", SLA + "/v1/sla/policies/large-1")[0], 200)

    def test_the_most_specific_policy_arms_the_clocks(self):
        self.assertEqual(self.put_policy("gold", {
            "match": {"tier": "strategic"},
            "targets": {"first_response": 400, "resolution": 1000}})[0], 201)
        self.assertEqual(self.put_policy("gold-web", {
            "match": {"tier": "strategic", "channel": "web"},
            "targets": {"first_response": 350, "resolution": 1000}})[0], 201)
        status, body = http("GET", SLA + "/v1/sla/policies?priority=P2&tier=strategic"
                            "&channel=phone")
        self.assertEqual((status, body["applies"]["id"]), (200, "gold"), body)
        ids = {p["id"] for p in body["policies"]}
        self.assertTrue({"gold", "gold-web", "default-P1", "default-P4"} <= ids)
        r = now_ms() - 10 * SEC
        web, phone, sme = (self.ticket("P2", r, tier="strategic"),
                           self.ticket("P2", r, tier="strategic", channel="phone"),
                           self.ticket("P2", r))
        for t in (web, phone, sme):
            self.emit("accepted", t, at_ms=r)
        cw = self.wait_clocks(web["number"], lambda c: len(c) == 2, "web armed")
        cp = self.wait_clocks(phone["number"], lambda c: len(c) == 2, "phone armed")
        cs = self.wait_clocks(sme["number"], lambda c: len(c) == 2, "sme armed")
        self.assertEqual((cw["first_response"]["policy_id"],
                          cw["first_response"]["deadline_ms"]), ("gold-web", r + 350 * SEC))
        self.assertEqual((cp["first_response"]["policy_id"],
                          cp["first_response"]["deadline_ms"]), ("gold", r + 400 * SEC))
        self.assertEqual((cs["first_response"]["policy_id"],
                          cs["first_response"]["deadline_ms"]), ("default-P2", r + 600 * SEC))
        # a change applies to new clocks only …
        status, out = self.put_policy("gold", {
            "match": {"tier": "strategic"},
            "targets": {"first_response": 300, "resolution": 1000}})
        self.assertEqual((status, out["recomputed"]), (200, 0), out)
        time.sleep(1.0)
        self.assertEqual(self.clocks(phone["number"])["first_response"]["deadline_ms"],
                         r + 400 * SEC)
        later = self.ticket("P2", r, tier="strategic", channel="phone")
        self.emit("accepted", later, at_ms=r)
        cl = self.wait_clocks(later["number"], lambda c: len(c) == 2, "later armed")
        self.assertEqual(cl["first_response"]["deadline_ms"], r + 300 * SEC)
        # … and to running ones when asked: both gold first-response clocks
        # (400 and 300) become 200; the resolutions (1000) do not move
        status, out = self.put_policy("gold", {
            "match": {"tier": "strategic"},
            "targets": {"first_response": 200, "resolution": 1000}}, "?apply=running")
        self.assertEqual((status, out["recomputed"], out["applied_to"]), (200, 2, "running"))
        for t in (phone, later):
            c = self.clocks(t["number"])
            self.assertEqual(c["first_response"]["deadline_ms"], r + 200 * SEC)
            self.assertEqual(c["resolution"]["deadline_ms"], r + 1000 * SEC)
            self.assertEqual(self.published(t["ticket_id"], "first_response")[-1], "sla.changed")
        self.assertEqual(self.clocks(web["number"])["first_response"]["deadline_ms"],
                         r + 350 * SEC)
        self.assertEqual(self.clocks(sme["number"])["first_response"]["deadline_ms"],
                         r + 600 * SEC)

    # ---- calendars -----------------------------------------------------------------

    def test_a_corrected_calendar_recomputes_the_open_clocks_on_it(self):
        # "plant": Mon-Fri 08:00-12:00 13:00-17:00 in Shanghai; policy plant-p4
        # counts P4 plant work there (60 / 480 working seconds). Two tickets received
        # Fri 2027-03-05 16:55. A: resolution 8 min = 5 Fri (to 17:00) + 3 Mon
        # 2027-03-08 → 08:03. B: pending from 16:58 (3 used) to Mon 09:00,
        # 5 left → Mon 09:05 (the 62 working minutes paused moved it from
        # 08:03). Then Mon 8 March is declared a holiday: A → Tue 08:03;
        # B's replay resumes on the holiday, its 5 minutes run Tue → 08:05.
        # The first responses (1 min, Fri 16:56) do not move.
        hours = "zone Asia/Shanghai\nhours mon-fri 08:00-12:00 13:00-17:00\n"
        self.assertEqual(http("PUT", SLA + "/v1/sla/calendars/plant", hours,
                              {"Content-Type": "text/plain"})[0], 201)
        self.assertEqual(self.put_policy("plant-p4", {
            "match": {"priority": "P4", "service_type": "plant_work"}, "calendar": "plant",
            "targets": {"first_response": 60, "resolution": 480}})[0], 201)
        r = sh("2027-03-05 16:55")
        a, b = (self.ticket("P4", r, service_type="plant_work"),
                self.ticket("P4", r, service_type="plant_work"))
        self.emit("accepted", a, at_ms=r)
        self.emit("accepted", b, at_ms=r)
        self.emit("status_changed", b, at_ms=sh("2027-03-05 16:58"), from_status="assigned",
                  to_status="pending_customer")
        self.emit("status_changed", b, at_ms=sh("2027-03-08 09:00"),
                  from_status="pending_customer", to_status="in_progress")
        ca = self.wait_clocks(a["number"], lambda c: len(c) == 2, "a armed")
        cb = self.wait_clocks(b["number"], lambda c: c.get("resolution", {}).get(
            "deadline_ms") == sh("2027-03-08 09:05"), "b resumed")
        self.assertEqual(ca["resolution"]["deadline_ms"], sh("2027-03-08 08:03"))
        self.assertEqual(ca["resolution"]["policy"], "plant")
        self.assertEqual(ca["first_response"]["deadline_ms"], sh("2027-03-05 16:56"))
        status, out = http("PUT", SLA + "/v1/sla/calendars/plant",
                           hours + "holiday 2027-03-08 plant shutdown\n",
                           {"Content-Type": "text/plain"})
        self.assertEqual((status, out["recomputed"]), (200, 2), out)
        ca, cb = self.clocks(a["number"]), self.clocks(b["number"])
        self.assertEqual(ca["resolution"]["deadline_ms"], sh("2027-03-09 08:03"))
        self.assertEqual(cb["resolution"]["deadline_ms"], sh("2027-03-09 08:05"))
        self.assertEqual(ca["first_response"]["deadline_ms"], sh("2027-03-05 16:56"))
        hist = self.history(cb["resolution"]["id"])
        self.assertEqual([k for k, _, _ in hist], ["armed", "paused", "resumed", "changed"])
        self.assertEqual(hist[-1][2], "calendar plant corrected")
        self.wait_published(b["ticket_id"], lambda p: p[-1:] == ["sla.changed"], "changed out",
                            "resolution")
        self.assertEqual(self.published(a["ticket_id"], "first_response"), ["sla.armed"])

    # ---- escalation and restart --------------------------------------------------------

    def escalations(self, clock_id):
        return [lv for k, lv, _ in self.history(clock_id) if k == "escalated"]

    def test_escalation_levels_follow_the_breach_at_their_delays_once_each(self):
        # P3: 5 s / 8 s; levels at 0, 2 and 4 s after each deadline.
        t = self.ticket("P3")
        self.emit("accepted", t)
        c = self.wait_clocks(t["number"], lambda c: len(c) == 2 and all(
            x["escalation_level"] == 3 for x in c.values()), "three levels each", 30)
        time.sleep(2.5)  # a repeat would show by now
        for target in ("first_response", "resolution"):
            self.assertEqual(self.escalations(c[target]["id"]), [1, 2, 3], target)
            self.assertEqual(self.published(t["ticket_id"], target),
                             ["sla.armed", "sla.warning", "sla.breached"]
                             + ["sla.escalated"] * 3, target)
            self.assertIsNone(c[target]["escalate_at"])
        # each level at its moment: breach + 0, + 2 s, + 4 s
        at = [int(x[0]) for x in self.pg.query(
            "SELECT sla.ts_ms(at) - sla.ts_ms(c.deadline) FROM sla.clock_events e"
            " JOIN sla.clocks c"
            f" ON c.id = e.clock_id WHERE c.id = '{c['resolution']['id']}'"
            " AND kind = 'escalated' ORDER BY level")]
        self.assertEqual(at, [0, 2000, 4000])
        plan = "\n".join(r[0] for r in self.pg.query(
            "SET search_path = sla; SET enable_seqscan = off; EXPLAIN SELECT id FROM clocks"
            " WHERE state = 'breached' AND escalate_at IS NOT NULL AND escalate_at <= now()"
            " ORDER BY escalate_at LIMIT 200"))
        self.assertIn("clocks_escalation_due", plan)

    def test_zz_moments_passed_while_stopped_fire_once_at_restart(self):
        # P4: 10 s / 12 s, levels 0, 2, 4 s after: everything is due by r+16.
        # sla stops right after arming; at restart both clocks are past
        # their deadline: breach (no late warning) and three levels, once.
        t = self.ticket("P4")
        self.emit("accepted", t, at_ms=t["received_at_ms"])
        before = self.wait_clocks(t["number"], lambda c: len(c) == 2, "armed")
        self.sla.stop()
        self.assertFalse(self.sla.alive())
        stopped_state = {k: (v["warned"], v["state"]) for k, v in before.items()}
        self.assertEqual(stopped_state, {"first_response": (False, "running"),
                                         "resolution": (False, "running")})
        time.sleep(max(0, (t["received_at_ms"] + 17 * SEC - now_ms()) / 1000))
        type(self).sla = self.start("sla", SLA_BIN, SLA)
        c = self.wait_clocks(t["number"], lambda c: len(c) == 2 and all(
            x["escalation_level"] == 3 for x in c.values()), "escalated after restart", 20)
        time.sleep(2.5)
        for target in ("first_response", "resolution"):
            self.assertEqual(self.published(t["ticket_id"], target),
                             ["sla.armed", "sla.breached"] + ["sla.escalated"] * 3, target)
            self.assertEqual(self.escalations(c[target]["id"]), [1, 2, 3])
            self.assertEqual(c[target]["id"], before[target]["id"])

    # ---- complaints --------------------------------------------------------------------

    def test_complaint_clocks_follow_the_six_steps(self):
        # acceptance: 24 h (1440 "minutes" = s here) from received_at; met on
        # acceptance. Handling: the owner's deadline when given, exactly;
        # met on feedback; back to handling on escalation (a new round with
        # the policy's 72 h = 4320 s); archived stops it.
        ticket_id = str(uuid.uuid4())
        cid = str(uuid.uuid4())
        r = now_ms() - 50 * SEC
        c = {"complaint_id": cid, "ticket_id": ticket_id, "number": "C-" + cid[:8].upper(),
             "priority": "P2", "tier": "large", "received_at_ms": r}
        self.complain("opened", c, r + 1 * SEC)
        k = self.wait_clocks(c["number"], lambda k: "complaint_acceptance" in k, "acceptance")
        acc = k["complaint_acceptance"]
        self.assertEqual((acc["state"], acc["deadline_ms"]), ("running", r + 1440 * SEC))
        self.assertEqual(acc["complaint_id"], cid)
        self.complain("accepted", c, r + 10 * SEC)
        self.wait_clocks(c["number"], lambda k: k["complaint_acceptance"]["state"] == "met",
                         "accepted in time")
        due = r + 500 * SEC
        self.complain("assigned", dict(c, owner_department="quality", owner="zhang.wei"),
                      r + 20 * SEC, handle_due_ms=due)
        k = self.wait_clocks(c["number"], lambda k: "complaint_handling" in k, "handling")
        h = k["complaint_handling"]
        self.assertEqual((h["deadline_ms"], h["policy"], h["team"]), (due, "7x24", "quality"))
        self.complain("feedback_sent", c, r + 30 * SEC)
        self.wait_clocks(c["number"], lambda k: k["complaint_handling"]["state"] == "met",
                         "handling met")
        self.complain("escalated", c, r + 40 * SEC, escalation_level=1)
        k = self.wait_clocks(c["number"], lambda k: k["complaint_handling"]["round"] == 2,
                             "back to handling")
        h = k["complaint_handling"]
        self.assertEqual((h["state"], h["deadline_ms"]), ("running", r + 40 * SEC + 4320 * SEC))
        self.complain("archived", c, r + 45 * SEC)
        k = self.wait_clocks(c["number"], lambda k: k["complaint_handling"]["state"]
                             == "stopped", "archived")
        self.assertEqual(k["complaint_acceptance"]["state"], "met")
        self.assertEqual(self.published(cid, "complaint_acceptance"), ["sla.armed", "sla.met"])
        self.assertEqual(self.published(cid, "complaint_handling"),
                         ["sla.armed", "sla.met", "sla.armed"])
        # the events carry the ticket the complaint came from
        self.assertEqual(len(self.published(ticket_id)), 5)
        self.assertEqual(self.pg.scalar(
            f"SELECT count(*) FROM sla.clocks WHERE complaint_id = '{cid}' AND ticket_id IS NULL"
            f" AND origin_ticket_id = '{ticket_id}'"), "2")
        # a hostile complaint event is skipped, the next one applies
        self.complain("opened", dict(c, complaint_id="not-a-uuid"), r)
        other = dict(c, complaint_id=str(uuid.uuid4()), number="C-OTHER-1")
        self.complain("opened", other, r + SEC)
        self.wait_clocks("C-OTHER-1", lambda k: "complaint_acceptance" in k, "next one")
        self.assertTrue(self.sla.alive())

    # ---- preview -----------------------------------------------------------------------

    def test_the_preview_takes_pending_and_a_policy_change_like_live_clocks(self):
        # cn-office, with this stack's 1-second "minutes": first response
        # 120 (2 working minutes), resolution 1440 (24). Created Fri
        # 2026-01-09 17:20, answered 17:21 (met); pending from 17:25 (5 min
        # used) to Mon 2026-01-12 09:00; at 09:05 the policy changes the
        # resolution to 960 (16 min): 11 left from Mon 09:00 → 09:11. By the
        # other road: 16 min fresh from Fri 17:20 end Mon 08:36, and the
        # pause held 5 (Fri) + 30 (Mon 08:30-09:00) working minutes → 09:11.
        status, body = http("POST", SLA + "/v1/sla/preview", {
            "calendar": "cn-office", "targets": {"first_response": 120, "resolution": 1440},
            "events": [
                {"type": "created", "at": "2026-01-09T17:20:00+08:00"},
                {"type": "agent_response", "at": "2026-01-09T17:21:00+08:00"},
                {"type": "pending", "at": "2026-01-09T17:25:00+08:00"},
                {"type": "resumed", "at": "2026-01-12T09:00:00+08:00"},
                {"type": "policy_changed", "at": "2026-01-12T09:05:00+08:00",
                 "targets": {"first_response": 120, "resolution": 960}}]})
        self.assertEqual(status, 200, body)
        res = {c["target"]: c for c in body["clocks"]}["resolution"]
        self.assertEqual(res["due_ms"], sh("2026-01-12 09:11"))
        self.assertEqual([h["kind"] for h in res["history"]],
                         ["armed", "paused", "resumed", "changed"])
        status, body = http("POST", SLA + "/v1/sla/preview", {
            "calendar": "cn-office", "priority": "P2",
            "events": [{"type": "created", "at": "2026-01-09T16:00:00+08:00"},
                       {"type": "policy_changed", "at": "2026-01-09T17:00:00+08:00"}]})
        self.assertEqual((status, body["error"]["field"]), (422, "events[1]"), body)


if __name__ == "__main__":
    main()
