"""intake's desk: the telephony gateway, the web API's idempotency and customer view,
the customer registry with its confidentiality and merges, and the communication ledger.

Real PostgreSQL, real cs-intake, cs-dispatch, cs-sla and cs-notify (dispatch's status
reaches intake on the bus; notify's letters enter the ledger). Ports: PostgreSQL 55545,
services moved by 25000 (intake 32100, dispatch 32200, sla 32300, notify 32600, SMTP 27525);
a second intake without a CTI token on 32150-32152.
"""
import json
import os
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from chain import Chain  # noqa: E402
from harness import BUILD, ROOT, Service, http, main, wait_for  # noqa: E402

PG_PORT = 55545
OFFSET = 25000
TOKEN = "cti-shared-secret-0123456789"
CTI = {"Authorization": f"Bearer {TOKEN}"}
AGENT = {"X-CS-Role": "agent", "X-CS-Actor": "zhao.min"}
LEAD = {"X-CS-Role": "team_lead", "X-CS-Actor": "liu.yang"}
NO_TOKEN_HTTP = 32150


def raw(method, url, body=None, headers=None):
    """(status, headers, parsed body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    data = json.dumps(body).encode() if body is not None else None
    hdrs = dict(headers or {})
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


class DeskTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chain = Chain("intake-desk", PG_PORT, OFFSET, ["notify"],
                          extra_env={"CS_INTAKE_CTI_TOKEN": TOKEN,
                                     "CS_NOTIFY_TEMPLATES": os.path.join(
                                         ROOT, "services/notify/templates")})
        c = cls.chain
        c.env["CS_NOTIFY_MAILDIR"] = os.path.join(c.logs, "mail")
        c.env["CS_INTAKE_SMTP_PORT"] = str(2525 + OFFSET)
        cls.other = None
        try:
            c.start_pg()
            for svc in ("intake", "dispatch", "sla", "notify"):
                c.start(svc)
            c.wait_ready("intake")
            c.wait_ready("dispatch")
            env = dict(c.env, CS_INSTANCE="1", CS_INTAKE_CTI_TOKEN="",
                       CS_INTAKE_HTTP_PORT=str(NO_TOKEN_HTTP),
                       CS_INTAKE_PUB_PORT=str(NO_TOKEN_HTTP + 1),
                       CS_INTAKE_REPLAY_PORT=str(NO_TOKEN_HTTP + 2),
                       CS_INTAKE_SMTP_PORT="0", CS_INTAKE_TIMELINE="0",
                       CS_INTAKE_OUTBOUND_LEDGER="0")
            cls.other_log = os.path.join(c.logs, "intake-1.log")
            cls.other = Service("intake-1", [os.path.join(BUILD, "bin", "cs-intake")], env,
                                cls.other_log)
            cls.other.start()
            wait_for(lambda: http("GET", f"http://127.0.0.1:{NO_TOKEN_HTTP}/healthz")[0] == 200,
                     30, "second intake up")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.other:
            cls.other.stop()
        cls.chain.stop_all()

    # ---- helpers -------------------------------------------------------------------

    def url(self, path):
        return self.chain.url("intake") + path

    def q(self, sql):
        return self.chain.pg.query(sql)

    def scalar(self, sql):
        return self.chain.pg.scalar(sql)

    def event(self, **body):
        return http("POST", self.url("/v1/cti/events"), body, CTI)

    def customer(self, org, contacts, **extra):
        body = dict(organisation=org, industry="chemical_producer", tier="large",
                    region="east", contacts=contacts, **extra)
        status, out = http("POST", self.url("/v1/customers"), body, AGENT)
        self.assertEqual(status, 201, out)
        return out["id"]

    def request(self, subject, email, key=None, description="请派人检修。", phone=None):
        cust = {"name": "王工", "email": email}
        if phone:
            cust["phone"] = phone
        body = {"channel": "web", "subject": subject, "description": description,
                "customer": cust}
        return http("POST", self.url("/v1/requests"), body,
                    {"Idempotency-Key": key} if key else None)

    def outbox(self, topic):
        return int(self.scalar(f"SELECT count(*) FROM intake.outbox WHERE topic = '{topic}'"))

    # ---- CTI: authentication and bad input -----------------------------------------

    def test_cti_without_a_configured_token_refuses_and_says_what_to_set(self):
        status, out = http("POST", f"http://127.0.0.1:{NO_TOKEN_HTTP}/v1/cti/events",
                           {"event": "new", "call_id": "x"}, CTI)
        self.assertEqual(status, 503)
        self.assertIn("CS_INTAKE_CTI_TOKEN", out["error"]["message"])
        status, _ = http("GET", f"http://127.0.0.1:{NO_TOKEN_HTTP}/v1/cti/lookup?number=1")
        self.assertEqual(status, 503)
        wait_for(lambda: "set CS_INTAKE_CTI_TOKEN" in open(self.other_log).read(), 5,
                 "a log line naming the variable")

    def test_cti_events_need_the_right_token(self):
        body = {"event": "new", "call_id": "auth-1", "from": "13800000001", "to": "4008108888",
                "direction": "inbound"}
        self.assertEqual(http("POST", self.url("/v1/cti/events"), body)[0], 401)
        status, out = http("POST", self.url("/v1/cti/events"), body,
                           {"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        self.assertEqual((status, out["error"]["field"]), (401, "Authorization"))
        # a desk role is not enough to post call events
        self.assertEqual(http("POST", self.url("/v1/cti/events"), body, AGENT)[0], 401)
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.calls"
                                     " WHERE call_id = 'auth-1'"), "0")

    def test_bad_call_events_are_refused_naming_the_field(self):
        cases = [({"call_id": "b1"}, "event"),
                 ({"event": "ring", "call_id": "b1"}, "event"),
                 ({"event": "new"}, "call_id"),
                 ({"event": "new", "call_id": "b 1", "from": "1", "to": "2",
                   "direction": "inbound"}, "call_id"),
                 ({"event": "new", "call_id": "b1", "to": "2", "direction": "inbound"}, "from"),
                 ({"event": "new", "call_id": "b1", "from": "1", "to": "2",
                   "direction": "sideways"}, "direction"),
                 ({"event": "hangup", "call_id": "b1"}, "cause"),
                 ({"event": "hangup", "call_id": "b1", "cause": "lunch"}, "cause"),
                 ({"event": "answered", "call_id": "b1", "at_ms": "yesterday"}, "at_ms"),
                 ({"event": "answered", "call_id": "b1", "at_ms": 1}, "at_ms"),
                 ({"event": "answered", "call_id": "b1", "colour": "red"}, "colour"),
                 ({"event": "answered", "call_id": "b1", "agent": 801}, "agent")]
        for body, field in cases:
            status, out = self.event(**body)
            self.assertEqual((status, out["error"]["field"]), (422, field), body)
        status, out = http("POST", self.url("/v1/cti/events"), "{not json", CTI)
        self.assertEqual(status, 400)
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.calls WHERE call_id = 'b1'"),
                         "0")

    # ---- CTI: missed calls, once per call ------------------------------------------

    def test_a_missed_call_makes_one_callback_ticket_whatever_the_order_and_repeats(self):
        cid = self.customer("镇海炼化", [{"name": "陈工", "phone": "0574-8765 4321"}])
        now = int(time.time() * 1000)
        new = dict(event="new", call_id="miss-1", from_="+86 (0)574 87654321", to="400-810-8888",
                   direction="inbound", at_ms=now - 30000)
        new["from"] = new.pop("from_")
        hang = dict(event="hangup", call_id="miss-1", cause="no_answer", at_ms=now - 5000)
        # the hang-up first, then the new call, then both again
        self.assertEqual(self.event(**hang)[0], 202)
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.tickets"
                                     " WHERE external_id = 'cti-missed:miss-1'"), "0",
                         "no caller known yet: nothing to call back")
        self.assertEqual(self.event(**new)[0], 202)
        self.assertEqual(self.event(**hang), (200, {"call_id": "miss-1", "event": "hangup",
                                                    "status": "repeat"}))
        self.assertEqual(self.event(**new)[0], 200)
        rows = self.q("SELECT t.number, t.channel, t.customer_id FROM intake.tickets t"
                      " WHERE t.external_id = 'cti-missed:miss-1'")
        self.assertEqual(len(rows), 1)
        number, channel, customer = rows[0]
        self.assertEqual((channel, customer), ("phone", cid), "the caller is the customer")
        self.assertEqual(self.outbox("intake.call.missed"), 1)
        status, call = http("GET", self.url("/v1/cti/calls/miss-1"), headers=CTI)
        self.assertEqual((call["outcome"], call["callback_ticket"], call["settled"]),
                         ("no_answer", number, True))
        self.assertEqual(sorted(call["events"]), ["hangup", "new"])
        # the ledger has the missed call, linked to the call-back ticket
        entries = self.q("SELECT l.kind, l.direction, t.number FROM intake.ledger l"
                         " JOIN intake.tickets t ON t.id = l.ticket_id WHERE l.ref = 'miss-1'")
        self.assertEqual(entries, [["call_missed", "inbound", number]])
        # an agent cannot open a second ticket from a missed call
        status, out = http("POST", self.url("/v1/cti/calls/miss-1/ticket"),
                           {"subject": "s", "notes": "n"}, CTI)
        self.assertEqual(status, 409)
        self.assertIn(number, out["error"]["message"])

    def test_concurrent_repeats_of_a_missed_call_still_make_one_ticket(self):
        now = int(time.time() * 1000)
        events = [dict(event="new", call_id="miss-2", to="4008108888", direction="inbound",
                       at_ms=now - 20000, **{"from": "139 0000 2222"}),
                  dict(event="hangup", call_id="miss-2", cause="abandoned", at_ms=now - 1000,
                       direction="inbound", to="4008108888", **{"from": "13900002222"})]
        results = []

        def post(e):
            results.append(self.event(**e)[0])
        threads = [threading.Thread(target=post, args=(events[i % 2],)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(set(results)), [200, 202], results)
        self.assertEqual(results.count(202), 2, "each kind of event applied once")
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.tickets"
                                     " WHERE external_id = 'cti-missed:miss-2'"), "1")
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.ledger"
                                     " WHERE ref = 'miss-2'"), "1")
        # a new caller becomes a customer with that number as its contact
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.contacts"
                                     " WHERE phone = '+8613900002222'"), "1")

    def test_a_withheld_caller_is_logged_as_missed_without_a_ticket(self):
        self.event(event="new", call_id="miss-3", to="4008108888", direction="inbound",
                   **{"from": "anonymous"})
        self.event(event="hangup", call_id="miss-3", cause="busy")
        status, call = http("GET", self.url("/v1/cti/calls/miss-3"), headers=CTI)
        self.assertEqual((call["outcome"], call["callback_ticket"], call["settled"]),
                         ("busy", None, True))
        self.assertEqual(self.q("SELECT kind, summary FROM intake.ledger WHERE ref = 'miss-3'"),
                         [["call_missed", "missed call (busy), no number to call back"]])

    # ---- CTI: answered calls -----------------------------------------------------------

    def test_an_answered_call_is_logged_and_an_agent_opens_one_ticket_from_it(self):
        cid = self.customer("上海石化", [{"name": "孙工", "phone": "021-6123 4567 ext 88",
                                      "email": "sun@shpc.example"}])
        before = self.outbox("intake.call.logged")
        now = int(time.time() * 1000)
        # out of order: answered, new, hangup
        self.event(event="answered", call_id="ans-1", agent="801", at_ms=now - 60000)
        self.event(event="new", call_id="ans-1", to="4008108888", direction="inbound",
                   at_ms=now - 75000, **{"from": "+862161234567"})
        self.assertEqual(self.outbox("intake.call.logged"), before, "not over yet")
        self.event(event="hangup", call_id="ans-1", cause="normal", at_ms=now - 15000)
        self.assertEqual(self.outbox("intake.call.logged"), before + 1)
        self.assertEqual(self.q("SELECT kind, summary, actor, customer_id FROM intake.ledger"
                                " WHERE ref = 'ans-1'"),
                         [["call", "inbound call, 45 s, agent 801", "801", cid]],
                         "45 s = hang-up at -15 s minus answer at -60 s")
        body = {"subject": "反应釜温控异常", "notes": "客户来电：R-201 温度波动±5°C，需工程师到场。",
                "urgency": "high"}
        status, out = http("POST", self.url("/v1/cti/calls/ans-1/ticket"), body, AGENT)
        self.assertEqual(status, 201, out)
        number = out["ticket_number"]
        status, again = http("POST", self.url("/v1/cti/calls/ans-1/ticket"), body, CTI)
        self.assertEqual((status, again["ticket_number"], again["status"]),
                         (200, number, "duplicate"))
        t = http("GET", self.url(f"/v1/tickets/{number}"))[1]
        self.assertEqual((t["channel"], t["customer"]["id"], t["urgency"]),
                         ("phone", cid, "high"))
        ledger = http("GET", self.url(f"/v1/tickets/{number}/ledger"), headers=AGENT)[1]
        self.assertEqual([(e["kind"], e["channel"]) for e in ledger["entries"]],
                         [("call", "call")], "the call is the ticket's first contact")
        # an unknown call, a call not answered
        self.assertEqual(http("POST", self.url("/v1/cti/calls/nope/ticket"), body, CTI)[0], 404)
        self.event(event="new", call_id="ans-2", to="4008108888", direction="inbound",
                   **{"from": "13800000009"})
        self.assertEqual(http("POST", self.url("/v1/cti/calls/ans-2/ticket"), body, CTI)[0], 409)
        status, out = http("POST", self.url("/v1/cti/calls/ans-1/ticket"), {"notes": "n"}, CTI)
        self.assertEqual((status, out["error"]["field"]), (422, "subject"))

    # ---- CTI: lookup ---------------------------------------------------------------------

    def test_lookup_finds_the_customer_and_open_tickets_for_any_spelling(self):
        cid = self.customer("茂名石化", [{"name": "林工", "phone": "13912345678",
                                      "email": "lin@mmpc.example"}])
        status, created = self.request("催化裂化装置结焦", "lin@mmpc.example")
        self.assertEqual(status, 201, created)
        for spelling in ("+86 139 1234 5678", "008613912345678", "139-1234-5678"):
            status, out = http("GET", self.url("/v1/cti/lookup?number="
                                               + urllib.request.quote(spelling)), headers=CTI)
            self.assertEqual(status, 200, out)
            self.assertTrue(out["matched"])
            self.assertEqual(out["number"], "+8613912345678")
            self.assertEqual(out["customer"]["id"], cid)
            self.assertEqual([t["number"] for t in out["open_tickets"]],
                             [created["ticket_number"]])
            self.assertIsNone(out["customer"]["contact"]["name"], "the token is no desk role")
        reads = int(self.scalar("SELECT count(*) FROM intake.personal_reads"))
        status, out = http("GET", self.url("/v1/cti/lookup?number=13912345678"), headers=AGENT)
        self.assertEqual((out["customer"]["contact"]["name"], out["personal_fields"]),
                         ("林工", "shown"))
        self.assertEqual(self.q("SELECT actor, role, reason, route FROM intake.personal_reads"
                                f" WHERE customer_id = '{cid}' ORDER BY id DESC LIMIT 1"),
                         [["zhao.min", "agent", "screen pop", "GET /v1/cti/lookup"]])
        self.assertEqual(int(self.scalar("SELECT count(*) FROM intake.personal_reads")),
                         reads + 1)
        status, out = http("GET", self.url("/v1/cti/lookup?number=13700000000"), headers=CTI)
        self.assertEqual((status, out["matched"], out["customer"]), (200, False, None))
        status, out = http("GET", self.url("/v1/cti/lookup?number=12345"), headers=CTI)
        self.assertEqual((status, out["error"]["field"]), (422, "number"))
        self.assertEqual(http("GET", self.url("/v1/cti/lookup"), headers=CTI)[0], 422)
        self.assertEqual(http("GET", self.url("/v1/cti/lookup?number=13912345678"))[0], 401)
        plan = "\n".join(r[0] for r in self.q(
            "SET enable_seqscan = off; EXPLAIN SELECT 1 FROM intake.contacts"
            " WHERE phone = '+8613912345678'"))
        self.assertIn("contacts_phone", plan)

    # ---- web API -----------------------------------------------------------------------------

    def test_a_retried_request_with_its_key_gives_one_ticket_even_concurrently(self):
        results = []

        def post():
            results.append(self.request("压缩机喘振 retry", "retry@plant.example", key="key-conc-1"))
        threads = [threading.Thread(target=post) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(s for s, _ in results)
        self.assertEqual(statuses, [200] * 7 + [201], results)
        numbers = {o["ticket_number"] for _, o in results}
        self.assertEqual(len(numbers), 1)
        self.assertEqual({o["access_token"] for _, o in results}.__len__(), 1)
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.tickets"
                                     " WHERE subject = '压缩机喘振 retry'"), "1")
        # later, the same request again (the same bytes) still gives that ticket
        status, out = self.request("压缩机喘振 retry", "retry@plant.example", key="key-conc-1")
        self.assertEqual((status, out["ticket_number"], out["status"]),
                         (200, numbers.pop(), "duplicate"))

    def test_a_key_reused_for_another_request_is_refused_naming_it(self):
        status, first = self.request("first use", "k2@plant.example", key="key-reuse")
        self.assertEqual(status, 201)
        status, out = self.request("something else", "k2@plant.example", key="key-reuse")
        self.assertEqual((status, out["error"]["field"]), (409, "Idempotency-Key"))
        self.assertIn(first["ticket_number"], out["error"]["message"])
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.tickets"
                                     " WHERE subject = 'something else'"), "0")

    def test_bad_requests_name_the_field_and_store_nothing(self):
        n = self.scalar("SELECT count(*) FROM intake.tickets")
        cases = [({"Idempotency-Key": "k" * 201}, {}, "Idempotency-Key", 422),
                 ({"Idempotency-Key": "has space"}, {}, "Idempotency-Key", 422),
                 ({}, {"customer": {"name": "x", "phone": "12345"}}, "customer.phone", 422),
                 ({}, {"customer": {"name": "x", "email": "not-mail"}}, "customer.email", 422),
                 ({}, {"description": "x" * 100001}, "description", 422),
                 ({}, {"subject": ""}, "subject", 422),
                 ({}, {"channel": "fax"}, "channel", 422)]
        for headers, change, field, code in cases:
            body = {"channel": "web", "subject": "s", "description": "d",
                    "customer": {"name": "x", "email": "bad@plant.example"}}
            body.update(change)
            status, out = http("POST", self.url("/v1/requests"), body, headers)
            self.assertEqual((status, out["error"]["field"]), (code, field), change)
        status, _ = http("POST", self.url("/v1/requests"), b"{" + b" " * (1024 * 1024 + 10) + b"}",
                         {"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.tickets"), n)

    def test_the_customer_follows_the_request_with_its_token_without_internal_notes(self):
        status, out = self.request("VOC 在线监测数据异常", "voc@chem.example")
        self.assertEqual(status, 201)
        number, token = out["ticket_number"], out["access_token"]
        self.assertEqual(out["status_url"], f"/v1/requests/{number}?token={token}")
        status, view = http("GET", self.url(out["status_url"]))
        self.assertEqual(status, 200)
        self.assertEqual(view["history"][0]["event"], "received")
        # dispatch takes it; the agent answers and writes an internal note
        agent = self.chain.agent_of(number)
        self.assertEqual(self.chain.act(number, "note", agent=agent, text="内部：客户曾拖欠付款",
                                        to_customer=False)[0], 200)
        self.assertEqual(self.chain.act(number, "respond", agent=agent,
                                        message="工程师明早到场。")[0], 200)

        def answered():
            v = http("GET", self.url(f"/v1/requests/{number}"),
                     headers={"Authorization": f"Bearer {token}"})[1]
            return v if any(h["event"] == "responded" for h in v["history"]) else None
        view = wait_for(answered, 20, "the response reaches intake's timeline")
        events = [h["event"] for h in view["history"]]
        self.assertIn("accepted", events)
        self.assertEqual([h.get("message") for h in view["history"] if h["event"] == "responded"],
                         ["工程师明早到场。"])
        self.assertNotIn("拖欠", json.dumps(view, ensure_ascii=False))
        wait_for(lambda: http("GET", self.url(out["status_url"]))[1]["status"]
                 == self.chain.dispatch_ticket(number)["status"], 20,
                 "intake's status is dispatch's")
        # no token, a wrong one, another ticket's token, a number that does not exist
        other = self.request("other", "other@chem.example")[1]
        self.assertEqual(http("GET", self.url(f"/v1/requests/{number}"))[0], 401)
        self.assertEqual(http("GET", self.url(f"/v1/requests/{number}?token=abc"))[0], 404)
        self.assertEqual(http("GET", self.url(
            f"/v1/requests/{number}?token={other['access_token']}"))[0], 404)
        self.assertEqual(http("GET", self.url(f"/v1/requests/CS-1999-000001?token={token}"))[0],
                         404)

    # ---- registry ---------------------------------------------------------------------------

    def test_registry_writes_need_a_desk_role_and_valid_fields(self):
        body = {"organisation": "独山子石化", "tier": "strategic",
                "contacts": [{"name": "马工", "email": "ma@dsz.example"}]}
        status, out = http("POST", self.url("/v1/customers"), body)
        self.assertEqual((status, out["error"]["field"]), (403, "X-CS-Role"))
        status, out = http("POST", self.url("/v1/customers"), body, {"X-CS-Role": "agent"})
        self.assertEqual((status, out["error"]["field"]), (403, "X-CS-Actor"))
        cases = [({"tier": "huge"}, "tier"),
                 ({"organisation": None}, "organisation"),
                 ({"industry": "bakery"}, "industry"),
                 ({"colour": "red"}, "colour"),
                 ({"contacts": [{"name": "a", "email": "nope"}]}, "contacts[0].email"),
                 ({"contacts": [{"name": "a"}, {"name": "b", "phone": "555"}]},
                  "contacts[1].phone"),
                 ({"contacts": [{"email": "a@b.example"}]}, "contacts[0].name"),
                 ({"contacts": [{"name": "a", "primary": "yes"}]}, "contacts[0].primary")]
        for change, field in cases:
            status, out = http("POST", self.url("/v1/customers"), dict(body, **change), AGENT)
            self.assertEqual((status, out["error"]["field"]), (422, field), change)
        status, out = http("POST", self.url("/v1/customers"),
                           dict(body, contacts=[{"name": "a", "phone": "5551234"}]), AGENT)
        self.assertIn("without its area code", out["error"]["message"])
        self.customer("独山子石化", [{"name": "马工", "email": "ma@dsz.example"}])
        status, out = http("POST", self.url("/v1/customers"), body, AGENT)
        self.assertEqual((status, out["error"]["field"]), (409, "contacts[0].email"))

    def test_personal_fields_are_shown_only_to_a_desk_role_with_a_reason_and_every_read_recorded(
            self):
        cid = self.customer("兰州石化", [{"name": "赵工", "email": "zhao@lzpc.example",
                                      "phone": "0931-1234567"}], address="兰州市西固区")
        count = lambda: int(self.scalar("SELECT count(*) FROM intake.personal_reads"  # noqa
                                        f" WHERE customer_id = '{cid}'"))
        before = count()
        for headers, withheld in ((None, "role (none"), ({"X-CS-Role": "viewer",
                                                          "X-CS-Actor": "x"}, "role viewer"),
                                  (AGENT, "give ?reason=")):
            status, c = http("GET", self.url(f"/v1/customers/{cid}"), headers=headers)
            self.assertEqual(status, 200)
            self.assertEqual((c["contacts"][0]["name"], c["contacts"][0]["phone"], c["address"]),
                             (None, None, None))
            self.assertIn(withheld, c["personal_fields"])
            self.assertEqual(c["organisation"], "兰州石化", "the organisation is no person")
        self.assertEqual(count(), before, "nothing personal read, nothing recorded")
        status, c = http("GET", self.url(f"/v1/customers/{cid}?reason=ticket%20CS-1"),
                         headers=AGENT)
        self.assertEqual((c["contacts"][0]["name"], c["contacts"][0]["phone"], c["address"],
                          c["personal_fields"]), ("赵工", "+869311234567", "兰州市西固区", "shown"))
        self.assertEqual(count(), before + 1)
        row = self.q("SELECT actor, role, reason, route, at > now() - interval '1 minute'"
                     f" FROM intake.personal_reads WHERE customer_id = '{cid}'"
                     " ORDER BY id DESC LIMIT 1")
        self.assertEqual(row, [["zhao.min", "agent", "ticket CS-1", "GET /v1/customers/*", "t"]])
        # a list read records one row per customer shown
        status, lst = http("GET", self.url("/v1/customers?q=%E5%85%B0%E5%B7%9E&reason=audit"),
                           headers=AGENT)
        self.assertEqual([c["id"] for c in lst["customers"]], [cid])
        self.assertEqual(lst["customers"][0]["primary_contact"]["email"], "zhao@lzpc.example")
        self.assertEqual(count(), before + 2)
        status, out = http("GET", self.url(f"/v1/customers/{cid}?reason="), headers=AGENT)
        self.assertEqual((status, out["error"]["field"]), (422, "reason"))

    def test_a_customer_and_its_contacts_change_with_an_event_each_time(self):
        cid = self.customer("大连石化", [{"name": "周工", "email": "zhou@dlpc.example"}])
        before = self.outbox("intake.customer.upserted")
        status, c = http("PATCH", self.url(f"/v1/customers/{cid}"),
                         {"tier": "strategic", "region": None}, AGENT)
        self.assertEqual((status, c["tier"], c["region"]), (200, "strategic", None))
        status, out = http("PATCH", self.url(f"/v1/customers/{cid}"), {"tier": "mega"}, AGENT)
        self.assertEqual((status, out["error"]["field"]), (422, "tier"))
        status, out = http("PATCH", self.url(f"/v1/customers/{cid}"), {"name": "x"}, AGENT)
        self.assertEqual((status, out["error"]["field"]), (422, "name"))
        status, c = http("POST", self.url(f"/v1/customers/{cid}/contacts?reason=add"),
                         {"name": "吴工", "phone": "+86 411 8888 7777", "primary": True}, AGENT)
        self.assertEqual(status, 201, c)
        self.assertEqual([(k["name"], k["primary"]) for k in c["contacts"]],
                         [("吴工", True), ("周工", False)])
        kid = c["contacts"][1]["id"]
        status, c = http("PATCH", self.url(f"/v1/customers/{cid}/contacts/{kid}?reason=fix"),
                         {"phone": "0411-8765 4321转12", "title": "设备主管"}, AGENT)
        self.assertEqual(status, 200, c)
        zhou = [k for k in c["contacts"] if k["id"] == kid][0]
        self.assertEqual((zhou["phone"], zhou["phone_ext"], zhou["title"]),
                         ("+8641187654321", "12", "设备主管"))
        self.assertEqual(self.outbox("intake.customer.upserted"), before + 3)
        self.assertEqual(http("PATCH", self.url(f"/v1/customers/{cid}/contacts/"
                                                "00000000-0000-4000-8000-000000000000"),
                              {"title": "x"}, AGENT)[0], 404)
        self.assertEqual(http("GET", self.url("/v1/customers/not-a-uuid"))[0], 404)

    def test_merging_a_duplicate_moves_contacts_tickets_and_ledger_and_leaves_a_redirect(self):
        keep = self.customer("吉林石化", [{"name": "郑工", "email": "zheng@jlpc.example"}])
        status, t = self.request("乙烯裂解炉检修", "zheng.personal@mail.example")
        dup = self.scalar("SELECT customer_id FROM intake.tickets"
                          f" WHERE number = '{t['ticket_number']}'")
        self.assertNotEqual(dup, keep)
        body = {"duplicate": dup, "reason": "同一客户的私人邮箱"}
        status, out = http("POST", self.url(f"/v1/customers/{keep}/merge"), body, AGENT)
        self.assertEqual((status, out["error"]["field"]), (403, "X-CS-Role"))
        status, out = http("POST", self.url(f"/v1/customers/{keep}/merge"), body, LEAD)
        self.assertEqual(status, 200, out)
        moved = out["moved"]
        self.assertGreaterEqual(moved.pop("ledger"), 1, "the request (and a letter, if sent)")
        self.assertEqual(moved, {"contacts": 1, "tickets": 1, "calls": 0, "earlier_merges": 0})
        self.assertEqual(self.scalar("SELECT count(*) FROM intake.ledger"
                                     f" WHERE customer_id = '{dup}'"), "0")
        status, headers, moved = raw("GET", self.url(f"/v1/customers/{dup}"))
        self.assertEqual((status, headers["Location"], moved["merged_into"]),
                         (301, f"/v1/customers/{keep}", keep))
        status, c = http("GET", self.url(f"/v1/customers/{keep}?reason=merge%20check"),
                         headers=AGENT)
        self.assertEqual(sorted(k["email"] for k in c["contacts"]),
                         ["zheng.personal@mail.example", "zheng@jlpc.example"])
        ledger = http("GET", self.url(f"/v1/customers/{keep}/ledger"), headers=AGENT)[1]
        self.assertIn(t["ticket_number"], [e["ticket_number"] for e in ledger["entries"]])
        # the duplicate's address now brings new requests to the survivor
        status, t2 = self.request("再次来信", "zheng.personal@mail.example")
        self.assertEqual(self.scalar("SELECT customer_id FROM intake.tickets"
                                     f" WHERE number = '{t2['ticket_number']}'"), keep)
        self.assertEqual(self.q("SELECT survivor_id, actor, reason FROM intake.customer_merges"
                                f" WHERE duplicate_id = '{dup}'"),
                         [[keep, "liu.yang", "同一客户的私人邮箱"]])
        status, out = http("POST", self.url(f"/v1/customers/{keep}/merge"), body, LEAD)
        self.assertEqual((status, out["error"]["field"]), (409, "duplicate"))
        status, out = http("POST", self.url(f"/v1/customers/{keep}/merge"),
                           {"duplicate": keep}, LEAD)
        self.assertEqual((status, out["error"]["field"]), (422, "duplicate"))
        status, out = http("PATCH", self.url(f"/v1/customers/{dup}"), {"tier": "sme"}, AGENT)
        self.assertEqual(status, 409)

    # ---- the ledger ---------------------------------------------------------------------------

    def test_the_ledger_holds_every_contact_in_and_out_paged(self):
        import smtplib
        cid = self.customer("天津石化", [{"name": "冯工", "email": "feng@tjpc.example",
                                      "phone": "13611112222"}])
        status, t = self.request("加氢装置泄漏检测", "feng@tjpc.example")
        number = t["ticket_number"]
        msg = (f"From: feng@tjpc.example\r\nTo: service@petrocs.example\r\n"
               f"Subject: Re: [{number}] 补充照片\r\n\r\n附上现场照片。\r\n").encode()
        with smtplib.SMTP("127.0.0.1", 2525 + OFFSET, timeout=30) as s:
            s.sendmail("feng@tjpc.example", ["service@petrocs.example"], msg)
        self.event(event="new", call_id="led-1", to="4008108888", direction="inbound",
                   **{"from": "136-1111-2222"})
        self.event(event="answered", call_id="led-1", agent="802")
        self.event(event="hangup", call_id="led-1", cause="normal")

        def letters():
            out = http("GET", self.url(f"/v1/customers/{cid}/ledger?reason=test"),
                       headers=AGENT)[1]
            return out if any(e["direction"] == "outbound" for e in out["entries"]) else None
        led = wait_for(letters, 30, "notify's acceptance letter in the ledger")
        kinds = sorted((e["direction"], e["channel"], e["kind"]) for e in led["entries"])
        self.assertEqual(kinds, [("inbound", "call", "call"), ("inbound", "mail", "reply"),
                                 ("inbound", "web", "request"),
                                 ("outbound", "mail", "acceptance")])
        letter = [e for e in led["entries"] if e["direction"] == "outbound"][0]
        self.assertEqual((letter["ticket_number"], letter["party"]), (number, "feng@tjpc.example"))
        # pages of one do not overlap and come newest first
        pages = [http("GET", self.url(f"/v1/customers/{cid}/ledger?limit=1&offset={i}"))[1]
                 for i in range(4)]
        ids = [p["entries"][0]["id"] for p in pages]
        self.assertEqual(len(set(ids)), 4)
        ats = [p["entries"][0]["at"] for p in pages]
        self.assertEqual(ats, sorted(ats, reverse=True))
        self.assertIsNone(pages[0]["entries"][0]["party"], "no role: the address is withheld")
        tl = http("GET", self.url(f"/v1/tickets/{number}/ledger"))[1]
        self.assertEqual(sorted(e["kind"] for e in tl["entries"]),
                         ["acceptance", "reply", "request"])
        self.assertEqual(http("GET", self.url(f"/v1/customers/{cid}/ledger?limit=0"))[0], 422)
        self.assertEqual(http("GET", self.url("/v1/tickets/CS-1999-000001/ledger"))[0], 404)


if __name__ == "__main__":
    main()
