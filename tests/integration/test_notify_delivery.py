"""notify, issue 9: every outbound message, delivered and accounted for.

Real PostgreSQL, real cs-intake and cs-notify, dispatch played by
tests/integration/dispatch_stub.c, and:

  - a real Postfix from Debian (tests/lib/postfix.py: its own config dir, STARTTLS with a
    certificate for 127.0.0.1, AUTH through Cyrus SASL, virtual mailboxes as maildirs)
    that notify relays through; what it delivered is read back with Python's email
    package, an independent MIME parser;
  - HTTP stand-ins, in this process, for the SMS/voice gateway and for webhook receivers
    (which check every signature).

Ports (issue 9's share): PostgreSQL 55550; services at +9000 (tests/lib/harness.py
stack_env: intake 16100-16102 and SMTP 11525, dispatch 16200-16202, notify 16600-16602);
Postfix 16925; stand-ins 16950-16953.
"""
import email
import email.policy
import hashlib
import hmac
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, ROOT, Postgres, Service, http, main, metric,  # noqa: E402
                     service_url, stack_env, wait_for)
import postfix  # noqa: E402

PG_PORT = 55550
OFFSET = 9000
PF_PORT = 16925
GATEWAY_PORT = 16950
HOOK_PORT = 16951
FAILING_HOOK_PORT = 16952
STUB = os.path.join(BUILD, "tests/integration/dispatch_stub")
VAR = os.path.join(BUILD, "test-var", "notify9")
INTAKE = service_url(OFFSET, "intake")
DISPATCH = service_url(OFFSET, "dispatch")
NOTIFY = service_url(OFFSET, "notify")
INTAKE_SMTP = 2525 + OFFSET
RELAY_USER, RELAY_PASSWORD = "notify", "relay-pass-9f3k2"
CUSTOMER = "li.wei@customer.example"
NO_POSTFIX = postfix.available()


def request(name, addr, subject, language="zh-CN"):
    return {"channel": "web",
            "customer": {"name": name, "email": addr, "phone": "+86 10 5555 0101",
                         "company": "华北石化示例有限公司", "industry": "chemical_producer",
                         "tier": "large"},
            "subject": subject,
            "description": "E-102 换热器管板处有泄漏，请安排检修。",
            "language": language}


class Recorder:
    """An HTTP stand-in that records every request and answers with the status its
    `answer` function gives (default 200)."""

    def __init__(self, port, answer=None):
        self.requests = []
        self.answer = answer or (lambda req: 200)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                req = {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                status = outer.answer(req)
                req["status"] = status
                with outer.lock:
                    outer.requests.append(req)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok":true}' if status < 300 else b'{"error":"down"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def seen(self, pred=lambda r: True):
        with self.lock:
            return [r for r in self.requests if pred(r)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NotifyDeliveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("notify9", PG_PORT)
        cls.pg.start(["intake", "dispatch", "notify"])

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        for s in ("intake", "dispatch", "notify"):
            self.pg.query(f"DROP SCHEMA IF EXISTS {s} CASCADE; "
                          f"CREATE SCHEMA {s} AUTHORIZATION cs_{s}")
        self.dir = os.path.join(VAR, self.id().split(".")[-1])
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.maildir = os.path.join(self.dir, "mail")
        self.env = stack_env(self.pg, OFFSET, self.maildir, CS_LOG_LEVEL="info",
                             CS_NOTIFY_TEMPLATES=os.path.join(ROOT, "services/notify/templates"))
        self.procs = {}
        self.postfix = None

    def tearDown(self):
        for p in self.procs.values():
            p.stop()
        if self.postfix:
            self.postfix.stop()
            if not os.environ.get("KEEP_POSTFIX"):  # its maillog is the first clue when one fails
                shutil.rmtree(self.postfix.root, ignore_errors=True)

    # ---- helpers -------------------------------------------------------------------------

    def start(self, name, extra=None):
        argv = {"intake": [os.path.join(BUILD, "bin/cs-intake")], "dispatch": [STUB],
                "notify": [os.path.join(BUILD, "bin/cs-notify")]}[name]
        base = {"intake": INTAKE, "dispatch": DISPATCH, "notify": NOTIFY}[name]
        s = Service(name, argv, dict(self.env, **(extra or {})),
                    os.path.join(self.dir, f"{name}.log"))
        s.start()
        self.procs[name] = s
        wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 30, f"{name} up")
        return s

    def start_all(self, notify_env=None):
        self.start("intake")
        self.start("dispatch")
        self.start("notify", notify_env)

    def make_postfix(self, mailboxes=(CUSTOMER,), bounce_to=None):
        # under /tmp: Postfix's socket paths must stay short (sun_path is 108 bytes)
        self.postfix = postfix.Postfix(f"/tmp/cs-notify9-postfix-{PF_PORT}", PF_PORT,
                                       mailboxes=mailboxes, users={RELAY_USER: RELAY_PASSWORD},
                                       bounce_to=bounce_to)
        return self.postfix

    def relay_env(self, **extra):
        env = {"CS_NOTIFY_SMTP_URL": f"smtp://127.0.0.1:{PF_PORT}",
               "CS_NOTIFY_SMTP_STARTTLS": "required",
               "CS_NOTIFY_SMTP_CA_FILE": self.postfix.cert,
               "CS_NOTIFY_SMTP_USER": RELAY_USER, "CS_NOTIFY_SMTP_PASSWORD": RELAY_PASSWORD,
               "CS_NOTIFY_SMTP_HELO": "notify.petrocs.example",
               "CS_NOTIFY_RETRY_BASE_S": "1", "CS_NOTIFY_RETRY_MAX_S": "2"}
        env.update(extra)
        return env

    def post(self, body):
        status, resp = http("POST", INTAKE + "/v1/requests", body)
        self.assertEqual(status, 201, resp)
        return resp["ticket_number"]

    def status_of(self, number):
        """The status of a ticket's one notification, or None before it is recorded."""
        rows = self.notifications(ticket=number)
        return rows[0]["status"] if rows else None

    def notifications(self, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        status, resp = http("GET", f"{NOTIFY}/v1/notifications?{q}")
        self.assertEqual(status, 200, resp)
        return resp["notifications"]

    def letters(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out

    # ---- e-mail through a real Postfix -----------------------------------------------

    @unittest.skipIf(NO_POSTFIX, NO_POSTFIX)
    def test_a_letter_goes_through_postfix_with_starttls_and_auth_as_proper_mime(self):
        self.make_postfix().start()
        self.start_all(self.relay_env())
        number = self.post(request("李伟", CUSTOMER, "加氢装置换热器泄漏检修"))
        [msg] = wait_for(lambda: self.postfix.delivered(CUSTOMER), 30, "the delivered letter")
        [row] = wait_for(lambda: [r for r in self.notifications(ticket=number)
                                  if r["status"] == "sent"], 10, "the sent row")
        # what the relay said, in the delivery log
        self.assertRegex(row["smtp_reply"], r"^250 2\.0\.0 Ok: queued as [0-9A-F]+$")
        self.assertEqual((row["channel"], row["kind"], row["attempts"]),
                         ("email", "acceptance", 1))
        # it went in TLS and authenticated: Postfix writes ESMTPSA (S = TLS, A = AUTH)
        received = msg.get_all("Received")[0]
        self.assertIn("with ESMTPSA", received)
        self.assertIn("notify.petrocs.example", received, "our EHLO name")
        self.assertIn(f"sasl_username={RELAY_USER}", self.postfix.log_text())
        # RFC 5322 / MIME: every header line ASCII, encoded words for the Chinese
        head = msg.raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in msg.raw else \
            msg.raw.split(b"\n\n", 1)[0]
        head.decode("ascii")  # raises on any 8-bit byte in a header
        self.assertRegex(head, rb"(?m)^Subject: \[CS-[0-9-]+\] =\?UTF-8\?B\?")
        self.assertIn(number, msg["Subject"])
        self.assertIn("受理确认函", msg["Subject"])
        self.assertEqual(msg["To"].addresses[0].display_name, "李伟")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertEqual(msg["X-Petrocs-Ticket"], number)
        self.assertEqual(msg["Message-ID"].strip(), row["message_id"])
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        self.assertEqual(text.get_content_charset(), "utf-8")
        self.assertEqual(html.get_content_charset(), "utf-8")
        self.assertIn(f"工单编号：{number}", text.get_content())
        self.assertIn(f"工单编号：{number}", html.get_content())
        self.assertIn("<p>尊敬的李伟：</p>", html.get_content())
        # the customer answers the letter with a subject that names no ticket: intake threads
        # it by In-Reply-To to the Message-ID notify wrote
        reply = email.message.EmailMessage()
        reply["From"] = f"李伟 <{CUSTOMER}>"
        reply["To"] = "service@petrocs.example"
        reply["Subject"] = "谢谢，周三上午可以"
        reply["Message-ID"] = "<reply-1.li.wei@customer.example>"
        reply["In-Reply-To"] = row["message_id"]
        reply.set_content("周三上午九点可以安排进场。")
        with smtplib.SMTP("127.0.0.1", INTAKE_SMTP, timeout=10) as s:
            s.send_message(reply, from_addr=CUSTOMER, to_addrs=["service@petrocs.example"])
        threaded = wait_for(lambda: self.pg.query(
            "SELECT mm.outcome, t.number FROM intake.mail_messages mm"
            " JOIN intake.tickets t ON t.id = mm.ticket_id"
            " WHERE mm.message_id LIKE '%reply-1.li.wei@customer.example%'"), 20, "the reply")
        self.assertEqual(threaded, [["reply", number]])

    @unittest.skipIf(NO_POSTFIX, NO_POSTFIX)
    def test_a_relay_that_is_down_delays_mail_and_loses_none(self):
        boxes = [f"customer{i}@customer.example" for i in range(3)]
        pf = self.make_postfix(mailboxes=boxes)  # configured, not started: the relay is down
        self.start_all(self.relay_env())
        numbers = [self.post(request(f"客户{i}", boxes[i], f"检修申请 {i}")) for i in range(3)]
        for n in numbers:
            wait_for(lambda: [r for r in self.notifications(ticket=n)
                              if r["status"] == "deferred" and r["attempts"] >= 2], 30,
                     f"{n} deferred twice")
        [row] = self.notifications(ticket=numbers[0])
        self.assertIn("Couldn't connect", row["reason"], row)
        self.assertGreaterEqual(metric(NOTIFY, "cs_notify_messages_total", 'status="deferred"'),
                                6)
        self.assertEqual(metric(NOTIFY, "cs_notify_queue_depth"), 3)
        pf.start()  # the relay comes back
        for n, box in zip(numbers, boxes):
            wait_for(lambda: self.status_of(n) == "sent", 30,
                     f"{n} sent once the relay is back")
            wait_for(lambda: pf.delivered(box), 20, f"{box} delivered")
        time.sleep(2)  # a second copy, if one were sent, would be here now
        for n, box in zip(numbers, boxes):
            [msg] = pf.delivered(box)
            [row] = self.notifications(ticket=n)
            self.assertEqual(msg["Message-ID"].strip(), row["message_id"])
            self.assertGreaterEqual(row["attempts"], 3)
            self.assertTrue(row["smtp_reply"].startswith("250"), row)

    @unittest.skipIf(NO_POSTFIX, NO_POSTFIX)
    def test_a_bounce_is_marked_on_the_right_message(self):
        # Postfix takes both letters; the unknown mailbox then bounces, and the report goes
        # to our sender's domain, which Postfix routes to intake's SMTP gateway.
        self.make_postfix(mailboxes=[CUSTOMER],
                          bounce_to=("petrocs.example", INTAKE_SMTP)).start()
        self.start_all(self.relay_env())
        good = self.post(request("李伟", CUSTOMER, "正常申请"))
        bad = self.post(request("王五", "wang.wu@customer.example", "地址写错的申请"))
        [row] = wait_for(lambda: [r for r in self.notifications(ticket=bad)
                                  if r["status"] == "bounced"], 40, "the bounced row")
        self.assertEqual(row["reason"], "bounced 5.1.1")
        self.assertIn("bounce 5.1.1 for wang.wu@customer.example", row["smtp_reply"])
        self.assertIsNotNone(row["bounced_at"])
        self.assertIsNotNone(row["sent_at"], "the relay had taken it")
        [ok] = self.notifications(ticket=good)
        self.assertEqual(ok["status"], "sent", "the other letter is not touched")
        self.assertEqual(len(self.postfix.delivered(CUSTOMER)), 1)
        self.assertEqual(self.notifications(message_id=row["message_id"])[0]["id"], row["id"])
        self.assertEqual(metric(NOTIFY, "cs_notify_messages_total",
                                'kind="acceptance",status="bounced"'), 1)

    @unittest.skipIf(NO_POSTFIX, NO_POSTFIX)
    def test_kill_9_between_sending_and_recording_resends_with_the_same_message_id(self):
        # The guarantee is at least once to the relay: a crash after the relay took the
        # letter and before notify recorded it sends it again, with the same Message-ID.
        # To hold notify in that window, a session locks notify.bus_pending, where the
        # worker's "sent" transaction writes notification.sent (the relay moves it on to
        # the outbox later).
        pf = self.make_postfix()
        self.start_all(self.relay_env(CS_NOTIFY_RETRY_BASE_S="3", CS_NOTIFY_RETRY_MAX_S="3"))
        number = self.post(request("李伟", CUSTOMER, "加氢装置换热器泄漏检修"))
        wait_for(lambda: self.status_of(number) == "deferred", 20,
                 "deferred while Postfix is down")
        lock = subprocess.Popen(
            ["psql", "-X", "-q", "-h", self.pg.sock, "-p", str(PG_PORT), "-U", "postgres",
             "-d", "petrocs"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: lock.poll() is None and lock.kill())
        lock.stdin.write("BEGIN; LOCK TABLE notify.bus_pending IN EXCLUSIVE MODE;\n")
        lock.stdin.flush()
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'ExclusiveLock'"
            " AND relation = 'notify.bus_pending'::regclass") == "1", 10, "the outbox lock")
        pf.start()
        wait_for(lambda: pf.delivered(CUSTOMER), 30, "the letter at the relay")
        wait_for(lambda: self.pg.scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted"
            " AND relation = 'notify.bus_pending'::regclass") != "0", 10,
            "notify waiting to record the letter as sent")
        self.procs["notify"].kill(signal.SIGKILL)
        lock.stdin.write("ROLLBACK;\n")
        lock.stdin.close()
        lock.wait(timeout=10)
        row = self.pg.query(f"SELECT status, attempts FROM notify.notifications"
                            f" WHERE ticket_number = '{number}'")
        self.assertEqual(row, [["deferred", "1"]], "the send was never recorded")
        self.start("notify", self.relay_env(CS_NOTIFY_RETRY_BASE_S="3",
                                            CS_NOTIFY_RETRY_MAX_S="3"))
        wait_for(lambda: self.status_of(number) == "sent", 30,
                 "sent after the restart")
        copies = wait_for(lambda: len(pf.delivered(CUSTOMER)) == 2 and pf.delivered(CUSTOMER),
                          20, "the second copy")
        [row] = self.notifications(ticket=number)
        self.assertEqual({m["Message-ID"].strip() for m in copies}, {row["message_id"]},
                         "the duplicate carries the same Message-ID")
        self.assertEqual(row["attempts"], 2, "one failed attempt, one recorded send")
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM notify.outbox"
                                        " WHERE topic = 'notification.sent'") == "1", 10,
                 "one notification.sent")

    # ---- SMS and voice alerts --------------------------------------------------------------

    def put_staff(self, login, **fields):
        status, resp = http("PUT", f"{NOTIFY}/v1/staff/{login}", fields)
        self.assertEqual(status, 200, resp)
        return resp

    def test_emergency_level_1_reaches_everyone_on_duty_by_every_channel(self):
        flaky = {"+8613900000002": 1}  # this number's first SMS gets a 503

        def answer(req):
            to = json.loads(req["body"])["to"]
            if flaky.get(to):
                flaky[to] -= 1
                return 503
            return 202
        gw = Recorder(GATEWAY_PORT, answer)
        self.addCleanup(gw.close)
        self.start_all({"CS_NOTIFY_SMS_URL": f"http://127.0.0.1:{GATEWAY_PORT}/sms",
                        "CS_NOTIFY_VOICE_URL": f"http://127.0.0.1:{GATEWAY_PORT}/voice",
                        "CS_NOTIFY_GATEWAY_AUTH": "Bearer gw-token-123",
                        "CS_NOTIFY_RETRY_BASE_S": "1"})
        self.put_staff("chen.gang", name="陈刚", email="chen.gang@petrocs.example",
                       sms="+86 139 0000 0001", voice="+86 10 5555 0001")
        self.put_staff("li.na", name="Li Na", email="li.na@petrocs.example",
                       sms="+86 139-0000-0002", language="en")
        self.put_staff("zhao.min", name="赵敏", email="zhao.min@petrocs.example",
                       sms="+8613900000003", voice="+861055550003", lead_of="maintenance-north")
        self.put_staff("wu.lei", name="吴磊", email="wu.lei@petrocs.example")
        for login in ("chen.gang", "li.na"):
            self.assertEqual(http("PUT", f"{NOTIFY}/v1/duty/{login}")[0], 200)
        status, duty = http("GET", f"{NOTIFY}/v1/duty")
        self.assertEqual([p["login"] for p in duty["duty"]], ["chen.gang", "li.na"])
        self.assertEqual(duty["duty"][0]["sms"], "+8613900000001", "numbers kept in E.164")
        # bad input gets a clear error
        status, resp = http("PUT", f"{NOTIFY}/v1/staff/x", {"sms": "13900000001"})
        self.assertEqual((status, resp["error"]["field"]), (422, "sms"))
        status, resp = http("PUT", f"{NOTIFY}/v1/duty/nobody")
        self.assertEqual((status, resp["error"]["field"]), (404, "login"))

        number = self.post(request("李伟", CUSTOMER, "裂解炉出口管线爆裂"))
        wait_for(lambda: self.notifications(ticket=number), 20, "the acceptance letter")
        status, _ = http("POST", f"{DISPATCH}/emit/escalated?ticket={number}&emergency_level=1"
                         "&escalation_level=1&escalated_to=zhao.min&team=maintenance-north")
        self.assertEqual(status, 200)
        # chen.gang: e-mail, SMS, voice; li.na: e-mail, SMS (she has no voice number)
        want = {("email", "chen.gang@petrocs.example"), ("sms", "+8613900000001"),
                ("voice", "+861055550001"), ("email", "li.na@petrocs.example"),
                ("sms", "+8613900000002")}

        def alerts():
            rows = [r for r in self.notifications(ticket=number)
                    if r["kind"] == "emergency_alert"]
            return len(rows) == 5 and all(r["status"] == "sent" for r in rows) and rows
        rows = wait_for(alerts, 30, "five sent alerts")
        self.assertEqual({(r["channel"], r["recipient"]) for r in rows}, want)
        flaky_row = [r for r in rows if r["recipient"] == "+8613900000002"][0]
        self.assertEqual(flaky_row["attempts"], 2, "a 503 from the gateway is retried")
        self.assertEqual(flaky_row["smtp_reply"], 'HTTP 202: {"ok":true}')
        sms = gw.seen(lambda r: r["path"] == "/sms" and r["status"] == 202)
        voice = gw.seen(lambda r: r["path"] == "/voice")
        self.assertEqual(sorted(json.loads(r["body"])["to"] for r in sms),
                         ["+8613900000001", "+8613900000002"])
        self.assertEqual([json.loads(r["body"])["to"] for r in voice], ["+861055550001"])
        for r in sms + voice:
            self.assertEqual(r["headers"]["Authorization"], "Bearer gw-token-123")
            self.assertEqual(r["headers"]["Content-Type"], "application/json")
            body = json.loads(r["body"])
            self.assertEqual(body["ticket"], number)
            self.assertTrue(body["text"].startswith(f"[{number}] "), body)
        zh = [json.loads(r["body"]) for r in sms if json.loads(r["body"])["to"].endswith("1")][0]
        en = [json.loads(r["body"]) for r in sms if json.loads(r["body"])["to"].endswith("2")][0]
        self.assertIn("一级紧急事件", zh["text"])
        self.assertIn("EMERGENCY level 1", en["text"])
        mails = [m for m in self.letters() if "li.na@" in str(m["To"])]
        self.assertEqual(len(mails), 1)
        self.assertIn("Li Na,", mails[0].get_body(preferencelist=("plain",)).get_content())

        # level 2 names a person: wu.lei (e-mail only); an SLA escalation naming nobody
        # goes to the team's lead, by e-mail and SMS (CS_NOTIFY_ESCALATION_CHANNELS)
        http("POST", f"{DISPATCH}/emit/escalated?ticket={number}&emergency_level=2"
             "&escalation_level=2&escalated_to=wu.lei&team=maintenance-north")
        http("POST", f"{DISPATCH}/emit/escalated?ticket={number}&emergency_level=0"
             "&escalation_level=1&team=maintenance-north")

        def escalations():
            rows = [r for r in self.notifications(ticket=number)
                    if r["kind"] == "escalation_alert" and r["status"] == "sent"]
            return len(rows) == 3 and rows
        rows = wait_for(escalations, 30, "three escalation alerts")
        self.assertEqual({(r["channel"], r["recipient"]) for r in rows},
                         {("email", "wu.lei@petrocs.example"),
                          ("email", "zhao.min@petrocs.example"), ("sms", "+8613900000003")})
        self.assertEqual(len(gw.seen(lambda r: r["path"] == "/voice")), 1,
                         "no voice call below level 1")
        # a restart replays nothing twice
        self.procs["notify"].kill(signal.SIGKILL)
        self.start("notify", {"CS_NOTIFY_SMS_URL": f"http://127.0.0.1:{GATEWAY_PORT}/sms",
                              "CS_NOTIFY_VOICE_URL": f"http://127.0.0.1:{GATEWAY_PORT}/voice"})
        time.sleep(2)
        self.assertEqual(len(gw.seen(lambda r: r["status"] == 202)), 4)
        self.assertEqual(len(self.notifications(ticket=number)), 9)

    def test_an_alert_with_nobody_to_receive_it_is_kept_with_its_reason(self):
        self.start_all()
        number = self.post(request("李伟", CUSTOMER, "泄漏"))
        wait_for(lambda: self.notifications(ticket=number), 20, "the acceptance letter")
        http("POST", f"{DISPATCH}/emit/escalated?ticket={number}&emergency_level=1")
        [row] = wait_for(lambda: [r for r in self.notifications(ticket=number)
                                  if r["kind"] == "emergency_alert"], 20, "the held alert")
        self.assertEqual((row["status"], row["reason"], row["recipient"]),
                         ("suppressed", "duty_list_empty", "duty_list"))

    # ---- outbound webhooks -------------------------------------------------------------

    def test_webhooks_are_signed_retried_and_a_failing_endpoint_trips_the_breaker(self):
        secret = "whsec-erp-0123456789abcdef"
        good = Recorder(HOOK_PORT)
        self.addCleanup(good.close)
        healthy = {"now": False}
        failing = Recorder(FAILING_HOOK_PORT, lambda req: 202 if healthy["now"] else 500)
        self.addCleanup(failing.close)
        self.start_all({"CS_NOTIFY_WEBHOOK_RETRY_BASE_S": "1",
                        "CS_NOTIFY_WEBHOOK_RETRY_MAX_S": "1",
                        "CS_NOTIFY_WEBHOOK_BREAKER_FAILURES": "3",
                        "CS_NOTIFY_WEBHOOK_BREAKER_PAUSE_S": "2"})
        status, erp = http("POST", f"{NOTIFY}/v1/webhooks",
                           {"name": "ERP", "url": f"http://127.0.0.1:{HOOK_PORT}/hook",
                            "secret": secret,
                            "event_types": ["dispatch.ticket.*", "notification.sent"]})
        self.assertEqual(status, 201, erp)
        self.assertEqual(erp["secret"], secret)
        status, chat = http("POST", f"{NOTIFY}/v1/webhooks",
                            {"name": "chat", "url": f"http://127.0.0.1:{FAILING_HOOK_PORT}/x",
                             "event_types": ["*"]})
        self.assertEqual(status, 201, chat)
        self.assertEqual(len(chat["secret"]), 64, "a generated secret, shown once")
        status, listed = http("GET", f"{NOTIFY}/v1/webhooks")
        self.assertNotIn("secret", listed["webhooks"][0])
        for body, field in (({"url": "ftp://x", "event_types": ["*"]}, "url"),
                            ({"url": "http://127.0.0.1:1/", "event_types": ["sla.breached"]},
                             "event_types"),
                            ({"url": "http://127.0.0.1:1/", "event_types": []}, "event_types"),
                            ({"url": "http://127.0.0.1:1/", "event_types": ["*"],
                              "secret": "short"}, "secret")):
            status, resp = http("POST", f"{NOTIFY}/v1/webhooks", body)
            self.assertEqual((status, resp["error"]["field"]), (422, field), body)

        numbers = [self.post(request(f"客户{i}", f"c{i}@customer.example", f"申请 {i}"))
                   for i in range(2)]
        # ERP: dispatch.ticket.accepted and notification.sent for each ticket, all signed
        got = wait_for(lambda: len(good.seen()) >= 4 and good.seen(), 30, "ERP deliveries")
        self.assertEqual(sorted(r["headers"]["X-Petrocs-Event"] for r in got),
                         ["dispatch.ticket.accepted"] * 2 + ["notification.sent"] * 2)
        for r in got:
            h = r["headers"]
            expected = hmac.new(secret.encode(), h["X-Petrocs-Timestamp"].encode() + b"."
                                + r["body"], hashlib.sha256).hexdigest()
            self.assertEqual(h["X-Petrocs-Signature"], "v1=" + expected)
            self.assertLess(abs(int(h["X-Petrocs-Timestamp"]) - time.time()), 300)
            body = json.loads(r["body"])
            self.assertEqual(body["delivery_id"], h["X-Petrocs-Delivery"])
            self.assertEqual(body["event_type"], h["X-Petrocs-Event"])
        accepted = [json.loads(r["body"]) for r in got
                    if r["headers"]["X-Petrocs-Event"] == "dispatch.ticket.accepted"]
        self.assertEqual(sorted(a["data"]["facts"]["number"] for a in accepted), sorted(numbers))
        self.assertTrue(all(a["stream"] == "dispatch-0" and a["sequence"] > 0 for a in accepted))

        # chat answers 500: three failures in a row open its breaker; nothing is lost
        wait_for(lambda: metric(NOTIFY, "cs_notify_webhook_breaker_open",
                                f'subscriber="{chat["id"]}"') == 1, 30, "chat's breaker open")
        self.assertEqual(metric(NOTIFY, "cs_notify_webhook_breaker_open",
                                f'subscriber="{erp["id"]}"'), 0)
        status, sub = http("GET", f"{NOTIFY}/v1/webhooks/{chat['id']}")
        self.assertEqual(sub["breaker"], "open")
        self.assertIsNotNone(sub["paused_until"])
        self.assertGreaterEqual(metric(NOTIFY, "cs_notify_webhook_deliveries_total",
                                       'status="deferred"'), 3)
        healthy["now"] = True  # the endpoint recovers: the next probe closes the breaker
        wait_for(lambda: metric(NOTIFY, "cs_notify_webhook_breaker_open",
                                f'subscriber="{chat["id"]}"') == 0, 30, "chat's breaker closed")

        def all_delivered():
            status, resp = http("GET", f"{NOTIFY}/v1/webhooks/{chat['id']}/deliveries")
            d = resp["deliveries"]
            return d and all(x["status"] == "delivered" for x in d) and d
        deliveries = wait_for(all_delivered, 30, "every chat delivery delivered")
        events = {json.loads(r["body"])["event_id"] for r in failing.seen(
            lambda r: r["status"] == 202)}
        self.assertEqual(events, {d["event_id"] for d in deliveries},
                         "each event arrived, none lost")
        self.assertGreaterEqual(len(deliveries), 6, "intake, dispatch and notify events")
        # a delivery id is the same on every retry of one event
        by_event = {}
        for r in failing.seen():
            b = json.loads(r["body"])
            by_event.setdefault(b["event_id"], set()).add(r["headers"]["X-Petrocs-Delivery"])
        self.assertTrue(all(len(ids) == 1 for ids in by_event.values()), by_event)
        self.assertEqual(http("DELETE", f"{NOTIFY}/v1/webhooks/{chat['id']}")[0], 200)
        self.assertEqual(http("GET", f"{NOTIFY}/v1/webhooks/{chat['id']}")[0], 404)

    # ---- templates ------------------------------------------------------------------------

    def test_a_template_asking_for_a_variable_no_event_fills_stops_the_service(self):
        tdir = os.path.join(self.dir, "templates")
        shutil.copytree(os.path.join(ROOT, "services/notify/templates"), tdir)
        path = os.path.join(tdir, "acceptance.en.tmpl")
        with open(path) as f:
            text = f.read()
        text = text.replace("Requires: ticket_no,", "Requires: contract_no, ticket_no,", 1)
        text = text.replace("Dear {{customer_name}},", "Dear {{customer_name}} ({{contract_no}}),")
        zh = os.path.join(tdir, "acceptance.zh-CN.tmpl")
        with open(zh) as f:
            zh_text = f.read()
        zh_text = zh_text.replace("Requires: ticket_no,", "Requires: contract_no, ticket_no,", 1)
        zh_text = zh_text.replace("尊敬的", "合同 {{contract_no}}，尊敬的", 1)
        with open(path, "w") as f:
            f.write(text)
        with open(zh, "w") as f:
            f.write(zh_text)
        log = os.path.join(self.dir, "notify.log")
        with open(log, "wb") as out:
            rc = subprocess.run([os.path.join(BUILD, "bin/cs-notify")],
                                env=dict(self.env, CS_NOTIFY_TEMPLATES=tdir), stdout=out,
                                stderr=subprocess.STDOUT, timeout=30).returncode
        self.assertNotEqual(rc, 0)
        with open(log) as f:
            text = f.read()
        self.assertIn("Requires 'contract_no', which no acceptance event fills", text)


if __name__ == "__main__":
    main()
