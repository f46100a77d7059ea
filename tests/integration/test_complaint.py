"""Complaints through the six steps: a complaint ticket at intake's front door,
a low survey score or a handler's phone call opens a case; handlers accept,
classify, investigate (with evidence), assign, feed back (the letter goes
out through notify), record the customer's answer and archive; every other
move is refused with 409 naming it; SLA warnings and breaches and an answer
the customer does not accept escalate to the quality manager; the analysis
gives the figures worked out by hand below.

Real PostgreSQL, real cs-intake, cs-dispatch, cs-complaint and cs-notify.
sla and survey are stand-ins on the real skeleton (tests/integration/
event_stub.c): the test publishes survey.low_score and sla.breached itself,
exactly as the contract (proto/survey.proto, proto/sla.proto) states them.
"""
import datetime
import email
import email.policy
import hashlib
import os
import signal
import sys
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, ROOT, Postgres, Service, StackTestCase, http,  # noqa: E402
                     main, metric, service_url, stack_env, wait_for)

PG_PORT = 55525
OFFSET = 17000  # intake 24100, dispatch 24200, sla 24300, complaint 24400, survey 24500 ...
HOUR_MS = 3600 * 1000
STUB = os.path.join(BUILD, "tests/integration/event_stub")
QUALITY_MANAGER = "qm.zhou@petrocs.example"
CUSTOMER = "li.wei@refinery.example.com"


def url(svc, path=""):
    return service_url(OFFSET, svc, path)


def decode_fields(buf):
    """A protobuf message as {field number: [values]} (varints as int, bytes as bytes)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(val)
    return out


def varint(buf, i):
    shift = val = 0
    while True:
        b = buf[i]
        i += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, i


# ComplaintEvent field numbers (proto/complaint.proto)
CE = {"complaint_id": 1, "ticket_id": 2, "number": 3, "status": 4, "handler": 5,
      "accept_due_ms": 6, "customer_email": 8, "resolution": 11, "handle_due_ms": 12,
      "received_at_ms": 13, "source": 14, "category": 15, "scope": 16, "urgency": 17,
      "priority": 18, "owner_department": 19, "owner": 20, "escalation_level": 21,
      "customer_accepted": 22, "root_cause": 23, "actor": 27}
INTS = {"accept_due_ms", "handle_due_ms", "received_at_ms", "escalation_level",
        "customer_accepted"}


def complaint_event(envelope):
    """The ComplaintEvent (Envelope field 80) of a packed envelope, by field name."""
    ev = decode_fields(decode_fields(envelope)[80][0])
    out = {}
    for name, num in CE.items():
        v = ev.get(num, [0 if name in INTS else b""])[0]
        out[name] = v if name in INTS else v.decode()
    return out


def read_letters(maildir):
    new = os.path.join(maildir, "new")
    letters = []
    if os.path.isdir(new):
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                letters.append(email.message_from_binary_file(f, policy=email.policy.default))
    return letters


def body_of(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


class ComplaintTest(StackTestCase):
    @classmethod
    def start_all(cls):
        cls.pg = Postgres("complaint", PG_PORT)
        cls.pg.start(["intake", "dispatch", "sla", "complaint", "survey", "notify"])
        cls.dir = os.path.join(BUILD, "test-var", "complaint")
        cls.maildir = os.path.join(cls.dir, "mail")
        cls.env = stack_env(cls.pg, OFFSET, cls.maildir,
                            CS_DISPATCH_RULES=os.path.join(
                                ROOT, "services/dispatch/rules/classify.rules"),
                            CS_NOTIFY_QUALITY_MANAGER=QUALITY_MANAGER,
                            CS_NOTIFY_TEMPLATES=os.path.join(ROOT, "services/notify/templates"),
                            CS_LOG_LEVEL="info")
        for name in ("intake", "sla", "survey", "dispatch", "complaint", "notify"):
            cls.start(name)
        for name in cls.procs:
            wait_for(lambda: http("GET", url(name, "/readyz"))[0] == 200, 30, f"{name} ready")
        cls.api = url("complaint")

    @classmethod
    def start(cls, name):
        argv = ([STUB, name] if name in ("sla", "survey")
                else [os.path.join(BUILD, "bin", f"cs-{name}")])
        proc = Service(name, argv, cls.env, os.path.join(cls.dir, f"{name}.log"))
        proc.start()
        cls.procs[name] = proc
        wait_for(lambda: http("GET", url(name, "/healthz"))[0] == 200, 30, f"{name} up")
        assert proc.alive(), f"{name} exited at start"

    # ---- helpers ----------------------------------------------------------------

    def submit(self, subject, description, service_type=None):
        body = {"channel": "web", "subject": subject, "description": description,
                "language": "zh-CN",
                "customer": {"name": "李伟", "email": CUSTOMER, "company": "Example Refinery",
                             "tier": "large"}}
        if service_type:
            body["service_type"] = service_type
        status, out = http("POST", url("intake", "/v1/requests"), body)
        self.assertEqual(status, 201, out)
        return out["ticket_number"]

    def case_of(self, number, source=None, timeout=30):
        query = f"ticket={number}" + (f"&source={source}" if source else "")

        def get():
            status, body = http("GET", f"{self.api}/v1/complaints?{query}")
            self.assertEqual(status, 200, body)
            return body["complaints"][0] if body["complaints"] else None
        return wait_for(get, timeout, f"a complaint case for {number}")

    def open_direct(self, **extra):
        body = {"handler": "chen.jing", "channel": "phone", "subject": "送货司机态度恶劣",
                "description": "客户来电投诉司机在厂区内与门卫争吵。",
                "customer": {"name": "赵刚", "email": "zhao.gang@gaspipe.example",
                             "phone": "+86 10 5555 0199"}}
        body.update(extra)
        status, case = http("POST", f"{self.api}/v1/complaints", body)
        self.assertEqual(status, 201, case)
        return case

    def step(self, case, action, body, expect=200):
        status, out = http("POST", f"{self.api}/v1/complaints/{case['complaint_id']}/{action}",
                           dict({"handler": "chen.jing"}, **body))
        self.assertEqual(status, expect, f"{action}: {out}")
        return out

    # the body of each action that the state machine would accept
    BODIES = {
        "accept": {},
        "classify": {"category": "delivery", "scope": "site", "urgency": "medium"},
        "investigate": {"findings": "调取了运输记录。"},
        "assign": {"owner_department": "物流部", "owner": "sun.li",
                   "corrective_action": "更换承运商并培训司机。"},
        "feedback": {"letter": "经调查，延误由承运商调度失误造成，我们已更换承运商。"},
        "answer": {"accepted": True, "channel": "reply"},
        "archive": {"root_cause": "logistics", "preventive_action": "承运商季度评审。"},
    }
    PATH = ["accept", "classify", "investigate", "assign", "feedback", "answer", "archive"]
    STATUS_AFTER = ["accepted", "classified", "investigating", "handling", "feedback",
                    "resolved", "archived"]

    def events_of(self, complaint_id):
        rows = self.pg.query(
            "SELECT topic, encode(envelope, 'hex') FROM complaint.outbox ORDER BY id")
        out = []
        for topic, hexed in rows:
            ev = complaint_event(bytes.fromhex(hexed))
            if ev["complaint_id"] == complaint_id:
                out.append((topic, ev))
        return out

    def letters_to(self, addr, number, count=1, subject=""):
        def found():
            got = [m for m in read_letters(self.maildir)
                   if m["To"] and addr in m["To"] and number in m["Subject"]
                   and subject in m["Subject"]]
            return got if len(got) >= count else None
        return wait_for(found, 30, f"{count} letter(s) to {addr} about {number}")

    # ---- the full case -------------------------------------------------------------

    def test_a_complaint_ticket_goes_through_all_six_steps_in_the_database_on_the_bus_and_by_mail(
            self):
        number = self.submit("投诉：第三批溶剂油交货延误一周",
                             "我们对贵公司的交货延误非常不满，要求书面说明原因。",
                             service_type="complaint")
        case = self.case_of(number, source="ticket")
        cid = case["complaint_id"]
        self.assertEqual((case["status"], case["case_number"], case["source"]),
                         ("received", number, "ticket"))
        # step 1: accept
        out = self.step(case, "accept", {"handler": "li.wei"})
        self.assertEqual((out["status"], out["handler"]), ("accepted", "li.wei"))
        # step 2: classify; delivery x sites x high -> P1 (table in services/complaint/case.c)
        out = self.step(case, "classify", {"handler": "li.wei", "category": "delivery",
                                           "scope": "sites", "urgency": "high"})
        self.assertEqual((out["status"], out["priority"]), ("classified", "P1"))
        # step 3: investigate, with evidence stored and checked by its SHA-256
        out = self.step(case, "investigate", {"handler": "li.wei",
                                              "findings": "运输记录显示承运商两次改期。"})
        self.assertEqual(out["status"], "investigating")
        photo = bytes(range(256)) * 40 + "签收单".encode()
        status, ev = http("POST", f"{self.api}/v1/complaints/{cid}/evidence"
                          "?name=delivery-note.jpg&handler=li.wei", photo,
                          {"Content-Type": "image/jpeg"})
        self.assertEqual(status, 201, ev)
        self.assertEqual((ev["size"], ev["sha256"], ev["content_type"]),
                         (len(photo), hashlib.sha256(photo).hexdigest(), "image/jpeg"))
        status, back = http("GET", f"{self.api}/v1/complaints/{cid}/evidence/{ev['n']}")
        self.assertEqual(status, 200)
        stored = self.pg.scalar(
            f"SELECT encode(sha256(data), 'hex') FROM complaint.case_evidence WHERE id = {ev['n']}")
        self.assertEqual(stored, hashlib.sha256(photo).hexdigest())
        # step 4: handling, with a deadline of our choosing: two days ahead, 18:00 in Beijing
        cst = datetime.timezone(datetime.timedelta(hours=8))
        day = (datetime.datetime.now(cst) + datetime.timedelta(days=2)).date()
        due = datetime.datetime(day.year, day.month, day.day, 18, tzinfo=cst)
        due_ms = int(due.timestamp() * 1000)
        out = self.step(case, "assign", {"handler": "li.wei", "owner_department": "物流部",
                                         "owner": "sun.li",
                                         "corrective_action": "更换承运商，补发货物。",
                                         "deadline": due.isoformat()})
        self.assertEqual((out["status"], out["owner"], case_ms(out["handle_due"])),
                         ("handling", "sun.li", due_ms))
        # step 5: the feedback letter
        letter = "经调查，延误由承运商调度失误造成。我们已补发货物并更换承运商。"
        out = self.step(case, "feedback", {"handler": "li.wei", "letter": letter})
        self.assertEqual(out["status"], "feedback")
        mail = self.letters_to(CUSTOMER, number, subject="投诉处理反馈函")[0]
        self.assertIn(letter, body_of(mail))
        # the customer accepts by reply
        out = self.step(case, "answer", {"handler": "li.wei", "accepted": True,
                                         "channel": "reply", "note": "客户回信表示认可。"})
        self.assertEqual((out["status"], out["customer_accepted"]), ("resolved", True))
        # step 6: archive with the root cause
        out = self.step(case, "archive", {"handler": "li.wei", "root_cause": "logistics",
                                          "preventive_action": "承运商季度评审。"})
        self.assertEqual(out["status"], "archived")
        self.assertEqual([h["to"] for h in out["history"]],
                         ["received", "accepted", "classified", "investigating", "investigating",
                          "handling", "feedback", "resolved", "archived"])
        self.assertTrue(all(h["actor"] == "li.wei" for h in out["history"][1:]), out["history"])
        self.assertEqual([e["name"] for e in out["evidence"]], ["delivery-note.jpg"])

        # in the database: every step's when, and the what
        row = self.pg.query(
            "SELECT status, category, scope, urgency, priority, owner_department, owner,"
            " root_cause, customer_accepted, answer_channel,"
            " accepted_at <= classified_at AND classified_at <= investigating_at"
            " AND investigating_at <= handling_at AND handling_at <= feedback_at"
            " AND feedback_at <= answered_at AND answered_at <= archived_at,"
            " (extract(epoch FROM accept_due - received_at) * 1000)::bigint"
            f" FROM complaint.complaint_cases WHERE complaint_id = '{cid}'")[0]
        self.assertEqual(row, ["archived", "delivery", "sites", "high", "P1", "物流部", "sun.li",
                               "logistics", "t", "reply", "t", str(24 * HOUR_MS)])

        # on the bus: the events, in order, each with the fields sla and notify read
        events = self.events_of(cid)
        self.assertEqual([t for t, _ in events],
                         ["complaint.opened", "complaint.accepted", "complaint.classified",
                          "complaint.investigating", "complaint.assigned",
                          "complaint.feedback_sent", "complaint.feedback_answered",
                          "complaint.resolved", "complaint.archived"])
        ev = dict(events)
        opened = ev["complaint.opened"]
        self.assertEqual((opened["number"], opened["source"], opened["status"]),
                         (number, "ticket", "received"))
        self.assertEqual(opened["accept_due_ms"] - opened["received_at_ms"], 24 * HOUR_MS)
        self.assertTrue(opened["ticket_id"])
        self.assertEqual(ev["complaint.classified"]["priority"], "P1")
        self.assertEqual((ev["complaint.assigned"]["owner_department"],
                          ev["complaint.assigned"]["handle_due_ms"]),
                         ("物流部", due_ms))
        self.assertEqual(ev["complaint.feedback_sent"]["resolution"], letter)
        self.assertEqual(ev["complaint.feedback_answered"]["customer_accepted"], 1)
        self.assertEqual(ev["complaint.archived"]["root_cause"], "logistics")
        self.assertEqual(ev["complaint.accepted"]["actor"], "li.wei")
        # notify read them from complaint's stream: the letter's row came over the bus
        kinds = self.pg.query("SELECT kind, status FROM notify.notifications"
                              f" WHERE ticket_number = '{number}' AND kind LIKE 'complaint%'")
        self.assertEqual(kinds, [["complaint_feedback", "sent"]])

    # ---- refusals -----------------------------------------------------------------------

    def test_every_illegal_move_is_refused_with_409_naming_it_and_changes_nothing(self):
        # table-driven: a case brought to each of the eight statuses, then every action the
        # state machine does not allow from there (the allowed ones are the PATH step and,
        # from feedback, archive as well)
        reach = {"received": 0, "accepted": 1, "classified": 2, "investigating": 3,
                 "handling": 4, "feedback": 5, "resolved": 6, "archived": 7}
        allowed = {("received", "accept"), ("accepted", "classify"),
                   ("classified", "investigate"), ("investigating", "assign"),
                   ("handling", "feedback"), ("feedback", "answer"), ("feedback", "archive"),
                   ("resolved", "archive")}
        refused = 0
        for status, steps in reach.items():
            case = self.open_direct()
            for action in self.PATH[:steps]:
                self.step(case, action, self.BODIES[action])
            for action in self.PATH:
                if (status, action) in allowed:
                    continue
                out = self.step(case, action, self.BODIES[action], expect=409)
                msg = out["error"]["message"]
                self.assertIn(f"cannot {action} a complaint that is {status}", msg)
                refused += 1
            now = self.pg.scalar("SELECT status FROM complaint.complaint_cases"
                                 f" WHERE complaint_id = '{case['complaint_id']}'")
            self.assertEqual(now, status, "a refused move changes nothing")
            n = self.pg.scalar("SELECT count(*) FROM complaint.case_history"
                               f" WHERE complaint_id = '{case['complaint_id']}'")
            self.assertEqual(int(n), steps + 1, "no history row for a refused move")
        self.assertEqual(refused, 8 * 7 - len(allowed))
        # evidence outside investigating and handling
        case = self.open_direct()
        status, out = http("POST", f"{self.api}/v1/complaints/{case['complaint_id']}/evidence"
                           "?name=a.txt&handler=chen.jing", b"x", {"Content-Type": "text/plain"})
        self.assertEqual(status, 409, out)
        self.assertIn("received", out["error"]["message"])

    def test_bad_input_is_422_naming_the_field_and_changes_nothing(self):
        case = self.open_direct()
        for body, field in (({"handler": None}, "handler"), ({"handler": 7}, "handler"),
                            ({"handler": "li wei"}, "handler")):
            out = self.step(case, "accept", body, expect=422)
            self.assertEqual(out["error"]["field"], field, body)
        self.step(case, "accept", {})
        for body, field in (({"category": "quality", "scope": "site", "urgency": "low"},
                             "category"),
                            ({"category": "delivery", "scope": "region", "urgency": "low"},
                             "scope"),
                            ({"category": "delivery", "scope": "site"}, "urgency")):
            out = self.step(case, "classify", body, expect=422)
            self.assertEqual(out["error"]["field"], field, body)
        self.step(case, "classify", self.BODIES["classify"])
        self.step(case, "investigate", {})  # findings may come later ...
        base = dict(self.BODIES["assign"])
        out = self.step(case, "assign", base, expect=422)  # ... but before handling
        self.assertEqual(out["error"]["field"], "findings")
        for extra, field in (({"deadline": "2001-01-01T00:00:00Z"}, "deadline"),
                             ({"deadline": "tomorrow"}, "deadline"),
                             ({"owner": "孙丽"}, "owner"),
                             ({"corrective_action": "  "}, "corrective_action")):
            out = self.step(case, "assign", dict(base, findings="x", **extra), expect=422)
            self.assertEqual(out["error"]["field"], field, extra)
        self.step(case, "assign", dict(base, findings="司机未按规定路线行驶。"))
        out = self.step(case, "feedback", {"letter": ""}, expect=422)
        self.assertEqual(out["error"]["field"], "letter")
        self.step(case, "feedback", self.BODIES["feedback"])
        for body, field in (({"accepted": "yes", "channel": "reply"}, "accepted"),
                            ({"accepted": True, "channel": "fax"}, "channel")):
            out = self.step(case, "answer", body, expect=422)
            self.assertEqual(out["error"]["field"], field, body)
        out = self.step(case, "archive", {"root_cause": "bad luck", "preventive_action": "x"},
                        expect=422)
        self.assertEqual(out["error"]["field"], "root_cause")
        status, full = http("GET", f"{self.api}/v1/complaints/{case['complaint_id']}")
        self.assertEqual(full["status"], "feedback")
        for body, field in (({"channel": "fax"}, "channel"),
                            ({"customer": {"name": "x"}}, "customer.email"),
                            ({"customer": {"name": "x", "email": "not-an-address"}},
                             "customer.email"),
                            ({"subject": ""}, "subject")):
            status, out = http("POST", f"{self.api}/v1/complaints",
                               dict({"handler": "chen.jing", "channel": "phone",
                                     "subject": "s", "customer": {"name": "x", "phone": "123"}},
                                    **body))
            self.assertEqual((status, out["error"]["field"]), (422, field), body)

    def test_an_unknown_case_is_404(self):
        for key in ("00000000-0000-4000-8000-000000000000", "CS-1999-000001", "%27%3B--"):
            status, body = http("POST", f"{self.api}/v1/complaints/{key}/accept",
                                {"handler": "li.wei"})
            self.assertEqual(status, 404, key)
            self.assertEqual(http("GET", f"{self.api}/v1/complaints/{key}")[0], 404)

    # ---- escalation ------------------------------------------------------------------------

    def test_an_answer_not_accepted_sends_the_case_back_to_handling_escalated(self):
        case = self.open_direct()
        for action in self.PATH[:5]:
            self.step(case, action, self.BODIES[action])
        out = self.step(case, "answer", {"accepted": False, "channel": "call",
                                         "note": "客户认为赔偿不足。"})
        self.assertEqual((out["status"], out["escalation_level"], out["customer_accepted"]),
                         ("handling", 1, False))
        self.assertEqual([e["level"] for e in out["escalations"]], [1])
        # a fresh handling deadline: P3 (delivery, site, medium) -> 72 h by default
        due_in = self.pg.scalar(
            "SELECT round(extract(epoch FROM handle_due - answered_at) / 3600)"
            f" FROM complaint.complaint_cases WHERE complaint_id = '{case['complaint_id']}'")
        self.assertEqual(float(due_in), 72.0)
        topics = [t for t, _ in self.events_of(case["complaint_id"])][-3:]
        self.assertEqual(topics, ["complaint.feedback_answered", "complaint.escalated",
                                  "complaint.assigned"])
        alert = self.letters_to(QUALITY_MANAGER, case["case_number"])[0]
        self.assertIn("第 1 级", alert["Subject"])
        self.assertIn("did not accept", body_of(alert))
        # handled again, fed back again, accepted this time
        self.step(case, "feedback", {"letter": "我们追加了运费减免。"})
        out = self.step(case, "answer", {"accepted": True, "channel": "call"})
        self.assertEqual((out["status"], out["escalation_level"]), ("resolved", 1))

    def test_an_sla_breach_on_a_complaint_clock_escalates_once_to_the_quality_manager(self):
        case = self.open_direct()
        cid, number = case["complaint_id"], case["case_number"]
        self.assertTrue(number.startswith("CP-"), number)
        clock = str(uuid.uuid4())
        breach = {"type": "sla.breached",
                  "fields": {"clock_id": clock, "complaint_id": cid,
                             "target": "complaint_acceptance", "number": number,
                             "deadline_ms": case_ms(case["accept_due"]), "percent": 100}}
        self.assertEqual(http("POST", url("sla", "/emit"), breach)[0], 200)
        self.assertEqual(http("POST", url("sla", "/emit"), breach)[0], 200)  # re-sent
        # a handling clock while the case is still received: not this step, nothing to do
        other = {"type": "sla.breached",
                 "fields": {"clock_id": str(uuid.uuid4()), "complaint_id": cid,
                            "target": "complaint_handling"}}
        self.assertEqual(http("POST", url("sla", "/emit"), other)[0], 200)
        wait_for(lambda: self.caught_up("complaint", "sla-0"), 30, "complaint read sla")
        status, full = http("GET", f"{self.api}/v1/complaints/{cid}")
        self.assertEqual((full["status"], full["escalation_level"]), ("received", 1), full)
        self.assertIn("complaint_acceptance", full["escalations"][0]["reason"])
        esc = [ev for t, ev in self.events_of(cid) if t == "complaint.escalated"]
        self.assertEqual(len(esc), 1)
        self.assertEqual((esc[0]["escalation_level"], esc[0]["actor"]), (1, "sla"))
        alert = self.letters_to(QUALITY_MANAGER, number)[0]
        self.assertIn("complaint_acceptance", alert["Subject"])

    def caught_up(self, consumer, stream):
        """consumer has applied everything stream's publisher committed (none unnumbered)."""
        schema = stream.rsplit("-", 1)[0]
        head = self.pg.scalar(f"SELECT head FROM {schema}.bus_stream WHERE stream = '{stream}'")
        cp = self.pg.scalar(
            f"SELECT last_seq FROM {consumer}.inbox_checkpoint WHERE stream = '{stream}'")
        backlog = self.pg.scalar(f"SELECT count(*) FROM {schema}.outbox WHERE seq IS NULL")
        return head is not None and head == cp and backlog == "0"

    # ---- opening -------------------------------------------------------------------------

    def test_a_low_survey_score_opens_one_follow_up_case_linked_to_the_ticket(self):
        number = self.submit("Tank gauging training", "Please train five operators.",
                             service_type="training")
        ticket = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            http("GET", url("dispatch", f"/v1/tickets/{number}"))), 30, "dispatch has it")[1]
        invitation = str(uuid.uuid4())
        low = {"type": "survey.low_score",
               "fields": {"invitation_id": invitation, "ticket_id": ticket["ticket_id"],
                          "number": number, "email": CUSTOMER, "name": "李伟",
                          "language": "zh-CN", "satisfaction": 2, "recommend": 3,
                          "comment": "工程师迟到两小时。", "team": "training"}}
        for _ in range(2):  # the same low score twice: one case
            self.assertEqual(http("POST", url("survey", "/emit"), low)[0], 200)
        case = self.case_of(number, source="survey")
        self.assertEqual((case["source"], case["case_number"], case["ticket_id"],
                          case["satisfaction"], case["description"], case["status"]),
                         ("survey", number, ticket["ticket_id"], 2, "工程师迟到两小时。",
                          "received"))
        wait_for(lambda: self.caught_up("complaint", "survey-0"), 30, "complaint read survey")
        n = self.pg.scalar("SELECT count(*) FROM complaint.complaint_cases"
                           f" WHERE source = 'survey' AND source_key = '{invitation}'")
        self.assertEqual(n, "1")
        opened = [ev for t, ev in self.events_of(case["complaint_id"]) if t == "complaint.opened"]
        self.assertEqual([ev["source"] for ev in opened], ["survey"])

    def test_a_request_dispatch_classifies_as_a_complaint_opens_a_case_too(self):
        number = self.submit("关于上月油品质量的投诉", "收到的柴油含水量超标，我们非常不满意。")
        case = self.case_of(number)
        self.assertEqual((case["status"], case["source"]), ("received", "ticket"))

    def test_a_handler_opens_a_case_taken_by_phone_once_per_idempotency_key(self):
        body = {"handler": "chen.jing", "channel": "visit", "subject": "现场投诉：噪声扰民",
                "customer": {"name": "周敏", "phone": "+86 21 5555 0100"}}
        key = {"Idempotency-Key": "visit-" + str(uuid.uuid4())}
        status, first = http("POST", f"{self.api}/v1/complaints", body, key)
        self.assertEqual(status, 201, first)
        status, again = http("POST", f"{self.api}/v1/complaints", body, key)
        self.assertEqual((status, again["complaint_id"]), (200, first["complaint_id"]))
        self.assertEqual((first["source"], first["channel"], first["status"]),
                         ("direct", "visit", "received"))
        self.assertEqual(first["history"][0]["actor"], "chen.jing")
        status, same = http("GET", f"{self.api}/v1/complaints/{first['case_number']}")
        self.assertEqual(same["complaint_id"], first["complaint_id"])

    def test_replaying_dispatch_from_the_start_opens_no_second_case(self):
        number = self.submit("投诉：发票金额错误", "发票金额与合同不符，非常不满。",
                             service_type="complaint")
        self.case_of(number)
        wait_for(lambda: self.caught_up("complaint", "dispatch-0"), 30, "caught up")
        before = self.pg.scalar("SELECT count(*) FROM complaint.complaint_cases")
        opened_before = self.pg.scalar(
            "SELECT count(*) FROM complaint.outbox WHERE topic = 'complaint.opened'")
        self.procs["complaint"].kill(signal.SIGKILL)
        self.pg.query("UPDATE complaint.inbox_checkpoint SET last_seq = 0")
        self.start("complaint")
        wait_for(lambda: http("GET", url("complaint", "/readyz"))[0] == 200, 30, "ready")
        wait_for(lambda: self.caught_up("complaint", "dispatch-0"), 30, "replayed")
        wait_for(lambda: self.caught_up("complaint", "survey-0"), 30, "replayed")
        wait_for(lambda: self.caught_up("complaint", "sla-0"), 30, "replayed")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM complaint.complaint_cases"), before)
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM complaint.outbox WHERE topic = 'complaint.opened'"),
            opened_before)
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM complaint.outbox WHERE topic = 'complaint.escalated'"),
            self.pg.scalar("SELECT count(*) FROM complaint.case_escalations"))

    def test_stats_and_the_open_gauge_follow_the_cases(self):
        case = self.open_direct()
        status, stats = http("GET", f"{self.api}/v1/stats")
        self.assertEqual(status, 200)
        self.assertEqual(stats["open"], stats["complaints"] - stats["by_status"]["archived"])
        open_before = stats["open"]
        for action in self.PATH[:5]:
            self.step(case, action, self.BODIES[action])
        self.step(case, "archive", self.BODIES["archive"])  # never answered
        status, stats = http("GET", f"{self.api}/v1/stats")
        self.assertEqual(stats["open"], open_before - 1)
        # the gauge is refreshed every 10 s (CS_GAUGE_EVERY_MS), by status: the sum is the total
        wait_for(lambda: metric(self.api, "cs_complaint_open") == stats["open"], 25,
                 "cs_complaint_open follows")

    # ---- analysis ---------------------------------------------------------------------------

    def seed_analysis_set(self):
        """Six complaints received in 2024 and one just before (case numbers CP-2024-9xxxxx;
        the other tests' cases are received now, outside the period). R is each one's
        received time; times in UTC."""
        cases = [
            # id, received, customer id, email, category, scope, root cause, status, accepted
            ("a1", "2024-01-10 00:00", "c-1", "a@c1.example", "delivery", "site",
             "logistics", "archived", "true"),
            ("a2", "2024-01-20 00:00", "c-1", "a@c1.example", "delivery", "sites",
             "logistics", "archived", "true"),
            ("a3", "2024-02-05 00:00", "c-1", "a@c1.example", "product_quality", "site",
             "material", "archived", "NULL"),
            # 20:00 UTC on 31 January is 04:00 on 1 February in Shanghai: a February complaint
            ("a4", "2024-01-31 20:00", "", "Wang@x.example", "delivery", "person",
             "logistics", "archived", "true"),
            ("a5", "2024-02-10 00:00", "", "wang@x.example", "staff_conduct", "site", "",
             "handling", "NULL"),
            ("a6", "2024-03-01 00:00", "c-2", "", "", "", "", "received", "NULL"),
            ("a7", "2023-12-31 15:00", "c-2", "", "delivery", "site", "logistics", "archived",
             "true"),  # before the period
        ]
        ids = {}
        for n, (key, received, cust, mail, cat, scope, root, status, acc) in enumerate(cases):
            cid = str(uuid.uuid4())
            ids[key] = cid
            self.pg.query(
                "INSERT INTO complaint.complaint_cases (complaint_id, ticket_number, case_number,"
                " source, source_key, status, received_at, accept_due, customer_id,"
                " customer_email, customer_name, category, scope, root_cause, customer_accepted)"
                f" VALUES ('{cid}', '', 'CP-2024-9{n:05d}', 'direct', 'seed-{cid}', '{status}',"
                f" '{received}Z', timestamptz '{received}Z' + interval '24 hours', '{cust}',"
                f" '{mail}', 'seed', '{cat}', '{scope}', '{root}', {acc})")
        # history (hours after R): a1 straight through, with an evidence row while
        # investigating; a2 sent back to handling once; a6 only opened.
        hist = {
            "a1": [("", "received", 0.5), ("received", "accepted", 2),
                   ("accepted", "classified", 3), ("classified", "investigating", 5),
                   ("investigating", "investigating", 8), ("investigating", "handling", 11),
                   ("handling", "feedback", 35), ("feedback", "resolved", 47),
                   ("resolved", "archived", 48)],
            "a2": [("", "received", 0), ("received", "accepted", 4),
                   ("accepted", "classified", 6), ("classified", "investigating", 7),
                   ("investigating", "handling", 9), ("handling", "feedback", 19),
                   ("feedback", "handling", 21), ("handling", "feedback", 31),
                   ("feedback", "resolved", 33), ("resolved", "archived", 34)],
            "a6": [("", "received", 0)],
        }
        for key, rows in hist.items():
            for frm, to, hours in rows:
                self.pg.query(
                    "INSERT INTO complaint.case_history (complaint_id, from_status, to_status,"
                    " actor, at) SELECT complaint_id, "
                    f"'{frm}', '{to}', 'seed', received_at + interval '{hours} hours'"
                    f" FROM complaint.complaint_cases WHERE complaint_id = '{ids[key]}'")

    def test_the_analysis_gives_the_figures_worked_out_by_hand(self):
        self.seed_analysis_set()
        status, a = http("GET", f"{self.api}/v1/complaints/analysis"
                         "?from=2024-01-01&to=2025-01-01")
        self.assertEqual(status, 200, a)
        # a1..a6 are in the period, a7 (2023-12-31) is not.
        # classified: a1..a5 (a6 has no category); archived: a1..a4;
        # closed with the customer's acceptance: a1, a2, a4 -> 3 / 4 = 0.75
        self.assertEqual((a["complaints"], a["classified"], a["archived"],
                          a["closed_with_acceptance"], a["acceptance_share"]),
                         (6, 5, 4, 3, 0.75))

        def table(dim):
            return [(r["key"], r["count"], r["share"], r["cumulative_share"], r["vital_few"])
                    for r in a["pareto"][dim]]
        # category over the 5 classified: delivery a1 a2 a4 = 3 (0.6, cum 0.6);
        # product_quality a3 and staff_conduct a5 = 1 each (0.2; cum 0.8 and 1.0), tie by
        # name. vital few while the cumulative share *before* the row is under 0.8:
        # 0 -> yes, 0.6 -> yes, 0.8 -> no.
        self.assertEqual(table("category"),
                         [("delivery", 3, 0.6, 0.6, True),
                          ("product_quality", 1, 0.2, 0.8, True),
                          ("staff_conduct", 1, 0.2, 1.0, False)])
        # scope: site a1 a3 a5 = 3; person a4 = 1; sites a2 = 1
        self.assertEqual(table("scope"),
                         [("site", 3, 0.6, 0.6, True), ("person", 1, 0.2, 0.8, True),
                          ("sites", 1, 0.2, 1.0, False)])
        # root cause over the 4 archived: logistics a1 a2 a4 = 3 (0.75); material a3 = 1
        # (0.25, cum 1.0; before it 0.75 < 0.8 so still vital)
        self.assertEqual(table("root_cause"),
                         [("logistics", 3, 0.75, 0.75, True), ("material", 1, 0.25, 1.0, True)])
        # months in Asia/Shanghai: January a1 a2; February a3 a4 (04:00 on 1 Feb local) a5;
        # March a6
        trend = {t["period"]: t for t in a["trend"]}
        self.assertEqual(sorted(trend), ["2024-01", "2024-02", "2024-03"])
        self.assertEqual((trend["2024-01"]["complaints"], trend["2024-01"]["category"],
                          trend["2024-01"]["scope"], trend["2024-01"]["root_cause"]),
                         (2, {"delivery": 2}, {"site": 1, "sites": 1}, {"logistics": 2}))
        self.assertEqual((trend["2024-02"]["complaints"], trend["2024-02"]["category"],
                          trend["2024-02"]["scope"], trend["2024-02"]["root_cause"]),
                         (3, {"delivery": 1, "product_quality": 1, "staff_conduct": 1},
                          {"site": 2, "person": 1}, {"logistics": 1, "material": 1}))
        self.assertEqual((trend["2024-03"]["complaints"], trend["2024-03"]["category"]),
                         (1, {}))
        # repeats: c-1 (a1 a2 a3) 3; wang@x.example (a4 "Wang@", a5) 2; c-2 has only a6 here
        self.assertEqual([(r["customer"], r["complaints"]) for r in a["repeat_customers"]],
                         [("c-1", 3), ("wang@x.example", 2)])
        # hours per step (stays that ended; a1's "received" counts from R, not the row's
        # R+0.5; its two investigating stays 5->8 and 8->11 add up to 6; a2's two handling
        # stays 9->19 and 21->31 add up to 20, its two feedback stays 19->21 and 31->33 to 4):
        #   received      a1 2   a2 4   -> 3.0     accepted   a1 1   a2 2   -> 1.5
        #   classified    a1 2   a2 1   -> 1.5     investigating a1 6  a2 2 -> 4.0
        #   handling      a1 24  a2 20  -> 22.0    feedback   a1 12  a2 4   -> 8.0
        #   resolved      a1 1   a2 1   -> 1.0     (a6 never left received: not counted)
        self.assertEqual([(s["step"], s["cases"], s["mean_hours"]) for s in a["step_hours"]],
                         [("received", 2, 3.0), ("accepted", 2, 1.5), ("classified", 2, 1.5),
                          ("investigating", 2, 4.0), ("handling", 2, 22.0),
                          ("feedback", 2, 8.0), ("resolved", 2, 1.0)])

        # by ISO week: a1 Wed 10 Jan (W02), a2 Sat 20 Jan (W03), a4 Thu 1 Feb local (W05),
        # a3 Mon 5 Feb and a5 Sat 10 Feb (W06), a6 Fri 1 Mar (W09)
        status, w = http("GET", f"{self.api}/v1/complaints/analysis"
                         "?from=2024-01-01T00:00:00Z&to=2025-01-01&trend=week")
        self.assertEqual(status, 200, w)
        self.assertEqual([(t["period"], t["complaints"]) for t in w["trend"]],
                         [("2024-W02", 1), ("2024-W03", 1), ("2024-W05", 1), ("2024-W06", 2),
                          ("2024-W09", 1)])

        # the same figures as CSV
        status, csv = http("GET", f"{self.api}/v1/complaints/analysis"
                           "?from=2024-01-01&to=2025-01-01&format=csv")
        self.assertEqual(status, 200)
        lines = csv.splitlines()
        self.assertEqual(lines[0],
                         "section,dimension,key,period,count,share,cumulative_share,mean_hours")
        for want in ("summary,,complaints,,6,,,", "summary,,acceptance_share,,,0.7500,,",
                     "pareto,category,delivery,,3,0.6000,0.6000,",
                     "pareto,root_cause,material,,1,0.2500,1.0000,",
                     "trend,category,delivery,2024-02,1,,,",
                     "repeat_customers,customer,wang@x.example,,2,,,",
                     "step_hours,step,handling,,2,,,22.0000"):
            self.assertIn(want, lines)

        # the period bounds are checked
        for query, field in (("from=yesterday", "from"), ("to=2024-13-01", "to"),
                             ("from=2025-01-01&to=2024-01-01", "from"), ("trend=year", "trend"),
                             ("format=xml", "format")):
            status, out = http("GET", f"{self.api}/v1/complaints/analysis?{query}")
            self.assertEqual((status, out["error"]["field"]), (422, field), query)


def case_ms(iso):
    """"2026-01-01T00:00:00.000Z" -> ms since the epoch."""
    return int(datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000)


if __name__ == "__main__":
    main()
