"""notify, end to end: a request posted to intake becomes a letter to the customer.

Real PostgreSQL, real intake and notify processes, real sockets.  Dispatch is played by
tests/integration/dispatch_stub.c (a service named "dispatch" on the same skeleton that
emits dispatch.ticket.accepted for every intake.ticket.created), so that notify is tested
on its own contract.  Letters are read back with Python's email package, an independent
MIME parser: what it sees is what a mail client will show.

    maildir:  an acceptance letter per ticket, in the customer's language, with number,
              subject and commitments; exactly one even after kill -9 and restart; none
              for a no-reply address; a daily cap per recipient; the update letter.
    SMTP:     a relay that answers 451 makes the letter wait and go later; a relay that
              answers 550 makes it fail at once.
"""
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, ROOT, Postgres, Service, http, main, metric,  # noqa: E402
                     wait_for)

PG_PORT = 55467
STUB = os.path.join(BUILD, "tests/integration/dispatch_stub")
SINK = os.path.join(ROOT, "tests/unit/notify/smtp_sink.py")
VAR = os.path.join(BUILD, "test-var", "notify")
INTAKE = "http://127.0.0.1:27110"
DISPATCH = "http://127.0.0.1:27210"
NOTIFY = "http://127.0.0.1:27610"
PORTS = {
    "CS_INTAKE_HTTP_PORT": "27110", "CS_INTAKE_PUB_PORT": "27111",
    "CS_INTAKE_REPLAY_PORT": "27112", "CS_INTAKE_SMTP_PORT": "27125",
    "CS_DISPATCH_HTTP_PORT": "27210", "CS_DISPATCH_PUB_PORT": "27211",
    "CS_DISPATCH_REPLAY_PORT": "27212",
    # notify also reads survey and complaint, not running here: keep them off the defaults
    "CS_SURVEY_PUB_PORT": "27511", "CS_SURVEY_REPLAY_PORT": "27512",
    "CS_COMPLAINT_PUB_PORT": "27411", "CS_COMPLAINT_REPLAY_PORT": "27412",
    "CS_NOTIFY_HTTP_PORT": "27610", "CS_NOTIFY_PUB_PORT": "27611",
    "CS_NOTIFY_REPLAY_PORT": "27612",
}


def request(name, email_addr, subject, language="zh-CN"):
    return {"channel": "web",
            "customer": {"name": name, "email": email_addr, "phone": "+86 10 5555 0101",
                         "company": "华北石化示例有限公司", "industry": "chemical_producer",
                         "tier": "large"},
            "subject": subject,
            "description": "E-102 换热器管板处有泄漏，请安排检修。",
            "language": language}


def read_letters(maildir):
    """Every letter under maildir/new, parsed."""
    new = os.path.join(maildir, "new")
    letters = []
    if os.path.isdir(new):
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                letters.append(email.message_from_binary_file(f, policy=email.policy.default))
    return letters


def body_of(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


class NotifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("notify", PG_PORT)
        cls.pg.start(["intake", "dispatch", "notify"])

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        for s in ("intake", "dispatch", "notify"):
            self.pg.query(f"DROP SCHEMA IF EXISTS {s} CASCADE; "
                          f"CREATE SCHEMA {s} AUTHORIZATION cs_{s}")
        self.name = self.id().split(".")[-1]
        self.dir = os.path.join(VAR, self.name)
        subprocess.run(["rm", "-rf", self.dir], check=True)
        os.makedirs(self.dir)
        self.maildir = os.path.join(self.dir, "mail")
        self.env = dict(os.environ, CS_DB_URL=self.pg.conninfo(), CS_LOG_LEVEL="info",
                        CS_NOTIFY_MAILDIR=self.maildir,
                        CS_NOTIFY_TEMPLATES=os.path.join(ROOT, "services/notify/templates"),
                        **PORTS)
        self.procs = {}

    def tearDown(self):
        for p in self.procs.values():
            p.stop()

    def start(self, name, extra=None):
        argv = {"intake": [os.path.join(BUILD, "bin/cs-intake")],
                "dispatch": [STUB],
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

    def post(self, body):
        status, resp = http("POST", INTAKE + "/v1/requests", body)
        self.assertEqual(status, 201, resp)
        return resp["ticket_number"]

    def notifications(self, number):
        status, resp = http("GET", f"{NOTIFY}/v1/notifications?ticket={number}")
        self.assertEqual(status, 200, resp)
        return resp["notifications"]

    def letters_for(self, number):
        return [m for m in read_letters(self.maildir) if m["X-Petrocs-Ticket"] == number]

    def wait_letters(self, numbers, timeout=30):
        def done():
            by = {}
            for m in read_letters(self.maildir):
                by.setdefault(m["X-Petrocs-Ticket"], []).append(m)
            return all(n in by for n in numbers) and by
        return wait_for(done, timeout, f"letters for {numbers}")

    # ---- maildir ---------------------------------------------------------------------

    def test_an_accepted_request_gets_an_acceptance_letter_with_number_and_commitments(self):
        self.start_all()
        number = self.post(request("李伟", "li.wei@sinochem-example.cn", "加氢装置换热器泄漏检修"))
        self.wait_letters([number])
        [msg] = self.letters_for(number)
        self.assertIn(number, msg["Subject"])
        self.assertIn("受理确认函", msg["Subject"])
        self.assertEqual(msg["To"].addresses[0].addr_spec, "li.wei@sinochem-example.cn")
        self.assertEqual(msg["To"].addresses[0].display_name, "李伟")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "service@petrocs.example")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        body = body_of(msg)
        self.assertIn("尊敬的李伟", body)
        self.assertIn(f"工单编号：{number}", body)
        self.assertIn("预计开始服务时间：", body)
        self.assertIn("首次响应：受理后 2 小时内", body)
        self.assertIn("问题解决：受理后 48 小时内", body)
        [row] = self.notifications(number)
        self.assertEqual(row["kind"], "acceptance")
        self.assertEqual(row["status"], "sent")
        self.assertEqual(row["attempts"], 1)
        self.assertEqual(row["message_id"], msg["Message-ID"].strip(),
                         "the Message-ID is stored")
        self.assertRegex(row["message_id"], r"^<[A-Za-z0-9-]+\.[A-Za-z0-9]+@petrocs\.example>$")
        wait_for(lambda: metric(NOTIFY, "cs_notify_messages_total",
                                'kind="acceptance",status="sent"') == 1, 5, "sent metric")
        # notification.sent is in notify's outbox, in the same transaction as the status
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM notify.outbox WHERE topic = 'notification.sent'"), "1")

    def test_an_english_speaking_customer_gets_the_letter_in_english(self):
        self.start_all()
        number = self.post(request("Sarah Miller", "sarah.miller@example.com",
                                   "Heat exchanger leak at unit 3", language="en"))
        self.wait_letters([number])
        [msg] = self.letters_for(number)
        self.assertIn(number, msg["Subject"])
        self.assertIn("Heat exchanger leak at unit 3", msg["Subject"])
        body = body_of(msg)
        self.assertIn("Sarah Miller", body)
        self.assertNotIn("尊敬的", body)

    def test_exactly_one_letter_per_ticket_across_kill_9_and_restart_of_notify(self):
        self.start_all()
        numbers = [self.post(request(f"客户{i}", f"customer{i}@example.cn", f"检修申请 {i}"))
                   for i in range(5)]
        self.wait_letters(numbers)
        self.procs["notify"].kill(signal.SIGKILL)
        # requests that arrive while notify is down are caught up from the replay
        numbers += [self.post(request(f"客户{i}", f"customer{i}@example.cn", f"检修申请 {i}"))
                    for i in range(5, 8)]
        self.start("notify")
        numbers.append(self.post(request("客户8", "customer8@example.cn", "检修申请 8")))
        self.wait_letters(numbers)
        self.procs["notify"].kill(signal.SIGKILL)
        self.start("notify")
        time.sleep(2)  # a second letter, if the restart sent one, would be here now
        for n in numbers:
            self.assertEqual(len(self.letters_for(n)), 1, f"letters for {n}")
            self.assertEqual([r["status"] for r in self.notifications(n)], ["sent"])
        self.assertEqual(len(read_letters(self.maildir)), len(numbers))

    def test_a_no_reply_address_is_never_mailed_and_the_reason_is_kept(self):
        self.start_all()
        held = self.post(request("系统账户", "no-reply@partner-example.cn", "自动转发的申请"))
        normal = self.post(request("李伟", "li.wei@sinochem-example.cn", "正常申请"))
        self.wait_letters([normal])
        wait_for(lambda: self.notifications(held), 10, "the held-back row")
        [row] = self.notifications(held)
        self.assertEqual(row["status"], "suppressed")
        self.assertEqual(row["reason"], "no_reply_address")
        self.assertEqual(self.letters_for(held), [])
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM notify.outbox WHERE topic = 'notification.failed'"), "1")

    def test_automatic_mails_to_one_recipient_stop_at_the_daily_cap(self):
        self.start_all({"CS_NOTIFY_DAILY_CAP": "2"})
        numbers = [self.post(request("李伟", "li.wei@sinochem-example.cn", f"申请 {i}"))
                   for i in range(3)]
        other = self.post(request("王芳", "wang.fang@example.cn", "另一位客户"))
        self.wait_letters(numbers[:2] + [other])
        wait_for(lambda: self.notifications(numbers[2]), 10, "the capped row")
        time.sleep(1)
        [row] = self.notifications(numbers[2])
        self.assertEqual(row["status"], "capped")
        self.assertEqual(self.letters_for(numbers[2]), [])
        status, stats = http("GET", NOTIFY + "/v1/stats")
        self.assertEqual(status, 200)
        self.assertEqual(stats["by_status"], {"sent": 3, "capped": 1})
        self.assertEqual(stats["by_kind"], {"acceptance": 4})

    def test_an_agents_response_reaches_the_customer_as_an_update_letter(self):
        self.start_all()
        number = self.post(request("李伟", "li.wei@sinochem-example.cn", "加氢装置换热器泄漏检修"))
        self.wait_letters([number])
        text = "工程师已于今晨到达现场，正在更换密封垫片。"
        status, _ = http("POST", f"{DISPATCH}/emit/responded?ticket={number}&message="
                         + urllib_quote(text))
        self.assertEqual(status, 200)
        wait_for(lambda: len(self.letters_for(number)) == 2, 20, "the update letter")
        update = [m for m in self.letters_for(number) if "工单进展" in m["Subject"]][0]
        self.assertIn(text, body_of(update))
        self.assertIsNone(update["Auto-Submitted"], "a person's words are not automatic mail")

    def test_bad_queries_get_a_clear_error(self):
        self.start("notify")
        status, resp = http("GET", NOTIFY + "/v1/notifications")
        self.assertEqual(status, 422)
        self.assertEqual(resp["error"]["field"], "ticket")
        status, resp = http("GET", NOTIFY + "/v1/notifications?ticket=" + "X" * 500)
        self.assertEqual(status, 422)
        status, resp = http("GET", NOTIFY + "/v1/notifications?ticket=CS-1999-000001")
        self.assertEqual((status, resp["notifications"]), (200, []))
        for query, field in (("ticket=", "ticket"), ("ticket=CS-1999-000001&limit=abc", "limit"),
                             ("ticket=CS-1999-000001&limit=-1", "limit"),
                             ("ticket=CS-1999-000001&limit=0", "limit"),
                             ("ticket=CS-1999-000001&limit=501", "limit"),
                             ("ticket=CS-1999-000001&limit=", "limit"),
                             ("ticket=CS-1999-000001&offset=-1", "offset"),
                             ("ticket=CS-1999-000001&offset=abc", "offset")):
            status, resp = http("GET", NOTIFY + "/v1/notifications?" + query)
            self.assertEqual(status, 422, query)
            self.assertEqual(resp["error"]["field"], field, query)

    def test_a_tickets_notifications_page_with_limit_and_offset(self):
        self.start_all()
        number = self.post(request("李伟", "li.wei@sinochem-example.cn", "循环水泵密封更换"))
        self.wait_letters([number])
        status, _ = http("POST", f"{DISPATCH}/emit/responded?ticket={number}&message="
                         + urllib_quote("已安排工程师。"))
        self.assertEqual(status, 200)
        wait_for(lambda: len(self.notifications(number)) == 2, 20, "two notifications")
        ids = [n["id"] for n in self.notifications(number)]
        paged = []
        for offset in (0, 1, 2):
            status, resp = http("GET", f"{NOTIFY}/v1/notifications?ticket={number}"
                                f"&limit=1&offset={offset}")
            self.assertEqual((status, resp["offset"]), (200, offset), resp)
            paged += [n["id"] for n in resp["notifications"]]
        self.assertEqual(paged, ids, "pages of one are the list, in order; the third is empty")

    # ---- SMTP relay -----------------------------------------------------------------------

    def start_sink(self, *args):
        spool = os.path.join(self.dir, "spool")
        proc = subprocess.Popen([sys.executable, SINK, "--spool", spool, *args],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (proc.stdin.close(), proc.wait(timeout=10)))
        line = proc.stdout.readline()
        self.assertTrue(line.startswith("PORT "), line)
        return spool, int(line.split()[1])

    def smtp_env(self, port):
        return {"CS_NOTIFY_SMTP_URL": f"smtp://127.0.0.1:{port}",
                "CS_NOTIFY_SMTP_STARTTLS": "none", "CS_NOTIFY_RETRY_BASE_S": "1"}

    def test_a_relay_that_answers_451_defers_the_letter_and_it_goes_later(self):
        spool, port = self.start_sink("--tempfail-first", "2")
        self.start_all(self.smtp_env(port))
        number = self.post(request("李伟", "li.wei@sinochem-example.cn", "加氢装置换热器泄漏检修"))
        seen = wait_for(lambda: [r for r in self.notifications(number)
                                 if r["status"] == "deferred"], 20, "a deferred letter")
        self.assertTrue(seen[0]["smtp_reply"].startswith("451"), seen[0])
        wait_for(lambda: self.notifications(number)[0]["status"] == "sent", 30, "sent later")
        [row] = self.notifications(number)
        self.assertEqual(row["attempts"], 3, "two refusals, then accepted")
        self.assertTrue(row["smtp_reply"].startswith("250"), row)
        emls = [f for f in os.listdir(spool) if f.endswith(".eml")]
        self.assertEqual(len(emls), 1)
        with open(os.path.join(spool, emls[0]), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertIn(number, msg["Subject"])
        self.assertEqual(msg["Message-ID"].strip(), row["message_id"])
        self.assertIn("受理后 48 小时内", body_of(msg))
        self.assertGreaterEqual(metric(NOTIFY, "cs_notify_messages_total",
                                       'status="deferred"'), 2)

    def test_a_relay_that_answers_550_fails_the_letter_at_once(self):
        _, port = self.start_sink()
        self.start_all(self.smtp_env(port))
        number = self.post(request("李伟", "reject.li@sinochem-example.cn", "检修申请"))
        wait_for(lambda: [r for r in self.notifications(number) if r["status"] == "failed"],
                 20, "a failed letter")
        [row] = self.notifications(number)
        self.assertEqual(row["attempts"], 1)
        self.assertTrue(row["smtp_reply"].startswith("550"), row)
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM notify.outbox WHERE topic = 'notification.failed'"), "1")


def urllib_quote(s):
    import urllib.parse
    return urllib.parse.quote(s)


if __name__ == "__main__":
    main()
