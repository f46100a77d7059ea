"""End to end: all six services on a real PostgreSQL, real sockets, real input.

A customer's e-mail or web request becomes a ticket in intake, a classified
and assigned ticket in dispatch, armed clocks in sla, an acceptance letter in
notify; resolving and closing yields a survey invitation whose answer moves
the summary. The shipped demo data goes through tools/demo, and the shared
mail corpus (when ../shared/data/mail-corpus exists) through the SMTP port.
"""
import email
import email.policy
import glob
import os
import re
import smtplib
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, ROOT, SERVICES, Postgres, Service, http,  # noqa: E402
                     main, service_url, stack_env, StackTestCase, wait_for)

OFFSET = 20000
PG_PORT = 55432
VAR = os.path.join(BUILD, "test-var", "e2e")
MAILDIR = os.path.join(VAR, "mail")
CORPUS = os.environ.get("CS_MAIL_CORPUS",
                        os.path.join(ROOT, "..", "shared", "data", "mail-corpus"))


def url(service, path):
    return service_url(OFFSET, service, path)


class EndToEnd(StackTestCase):
    @classmethod
    def start_all(cls):
        cls.pg = Postgres("e2e", PG_PORT)
        cls.pg.start(SERVICES)
        env = stack_env(cls.pg, OFFSET, MAILDIR)
        for s in SERVICES:
            p = Service(s, [os.path.join(BUILD, "bin", f"cs-{s}")], env,
                        os.path.join(VAR, f"{s}.log"))
            p.start()
            cls.procs[s] = p
        for s in SERVICES:
            wait_for(lambda: http("GET", url(s, "/readyz"))[0] == 200, 60, f"{s} ready")

    def assert_all_alive(self):
        for s, p in self.procs.items():
            self.assertTrue(p.alive(), f"{s} is still running")

    def wait_settled(self, timeout=90):
        """Every consumer caught up with every stream it reads."""
        def settled():
            for s in SERVICES:
                status, body = http("GET", url(s, "/readyz"))
                if status != 200 or body.get("lag", 1) != 0 or body.get("outbox_backlog", 1) != 0:
                    return False
            return True
        wait_for(settled, timeout, "all services caught up", interval=0.5)
        time.sleep(1.5)  # one more heartbeat round, so heads are current
        wait_for(settled, timeout, "all services caught up", interval=0.5)

    def count(self, sql):
        return int(self.pg.scalar(sql))

    # ---- one request, the whole path --------------------------------------------

    def post_request(self, subject, description, email_addr="li.na@sinochem.example", **extra):
        body = {"channel": "web", "subject": subject, "description": description,
                "customer": {"name": "李娜", "email": email_addr, "company": "华东化工",
                             "industry": "chemical_producer", "tier": "large"}}
        body.update(extra)
        status, res = http("POST", url("intake", "/v1/requests"), body)
        self.assertEqual(status, 201, res)
        return res["ticket_number"]

    def dispatch_ticket(self, number):
        def assigned():
            status, t = http("GET", url("dispatch", f"/v1/tickets/{number}"))
            return t if status == 200 and t.get("assignee") else None
        return wait_for(assigned, 30, f"{number} assigned in dispatch")

    def test_a_web_request_is_classified_assigned_watched_answered_and_surveyed(self):
        number = self.post_request("反应釜搅拌器异响，请尽快派人检修",
                                   "R-201 反应釜搅拌器有异常噪音，轴承温度偏高，请安排维修。",
                                   urgency="high", impact="site")
        t = self.dispatch_ticket(number)
        self.assertEqual(t["service_type"], "equipment_maintenance")
        self.assertIn(t["priority"], ("P1", "P2"))
        self.assertTrue(t["team"])
        agent = t["assignee"]
        self.assertEqual(t["owner"], agent, "first-contact owner is the first assignee")

        status, clocks = wait_for(
            lambda: (lambda r: r if r[0] == 200 and len(r[1].get("clocks", [])) == 2 else None)(
                http("GET", url("sla", f"/v1/clocks?ticket={number}"))), 30, "two clocks")
        targets = sorted(c["target"] for c in clocks["clocks"])
        self.assertEqual(targets, ["first_response", "resolution"])

        def letter():
            status, body = http("GET", url("notify", f"/v1/notifications?ticket={number}"))
            kinds = [n["kind"] for n in body.get("notifications", [])
                     if n.get("status") == "sent"]
            return "acceptance" in kinds
        wait_for(letter, 30, "acceptance letter sent")
        files = [f for f in glob.glob(os.path.join(MAILDIR, "new", "*"))
                 if number in open(f, "rb").read().decode("ascii", "replace")]
        self.assertGreaterEqual(len(files), 1, "letter in the maildir")
        msg = email.message_from_bytes(open(files[0], "rb").read(), policy=email.policy.default)
        self.assertIn(number, str(msg["Subject"]))
        self.assertEqual(msg["To"].addresses[0].addr_spec, "li.na@sinochem.example")

        before = http("GET", url("survey", "/v1/surveys/summary"))[1]
        for action, body in (("respond", {"agent": agent, "message": "工程师今天下午到场。"}),
                             ("resolve", {"agent": agent, "report": "更换轴承，试车正常。"}),
                             ("close", {"agent": agent})):
            status, res = http("POST", url("dispatch", f"/v1/tickets/{number}/{action}"), body)
            self.assertEqual(status, 200, f"{action}: {res}")

        def met():
            # first response and resolution met; the next update, armed by the response,
            # stopped by the resolution (no update is owed after it)
            status, body = http("GET", url("sla", f"/v1/clocks?ticket={number}"))
            states = {c["target"]: c["state"] for c in body["clocks"]}
            return states == {"first_response": "met", "resolution": "met",
                              "next_update": "stopped"}
        wait_for(met, 30, "both clocks met, the next update stopped")

        def invitation():
            status, body = http("GET", url("survey", f"/v1/surveys?ticket={number}"))
            s = body.get("surveys", [])
            return s[0] if s and s[0]["link"] else None  # sent, not only decided
        inv = wait_for(invitation, 30, "survey invitation")
        link = inv["link"]
        status, page = http("GET", link)
        self.assertEqual(status, 200)
        self.assertIn('name="satisfaction"', page)
        form = urllib.parse.urlencode({"satisfaction": "5", "recommend": "9",
                                       "comment": "响应及时"})
        status, page = http("POST", link, form,
                            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, page)
        after = wait_for(lambda: (lambda b: b if b["answered"] == before["answered"] + 1 else None)(
            http("GET", url("survey", "/v1/surveys/summary"))[1]), 20, "summary moved")
        self.assertEqual(after["sent"], before["sent"] + 1)
        self.assertEqual(after["target"], 0.9)

    def test_a_complaint_opens_a_case_that_the_handler_accepts_and_classifies(self):
        number = self.post_request("投诉：维修工程师迟到三天", "我们对贵司服务非常不满，要求书面答复。",
                                   email_addr="zhao.gang@gaspipe.example")
        t = self.dispatch_ticket(number)
        self.assertEqual(t["service_type"], "complaint")

        def case():
            status, body = http("GET", url("complaint", "/v1/complaints"))
            for c in body.get("complaints", []):
                if c["ticket_number"] == number:
                    return c
            return None
        c = wait_for(case, 30, "complaint case opened")
        self.assertEqual(c["status"], "received")
        status, res = http("POST", url("complaint", f"/v1/complaints/{c['id']}/classify"),
                           {"handler": "quality.chen", "category": "service_response",
                            "scope": "site", "urgency": "high"})
        self.assertEqual(status, 409, "cannot classify before accepting")
        status, res = http("POST", url("complaint", f"/v1/complaints/{c['id']}/accept"),
                           {"handler": "quality.chen"})
        self.assertEqual(status, 200, res)
        status, res = http("POST", url("complaint", f"/v1/complaints/{c['id']}/classify"),
                           {"handler": "quality.chen", "category": "service_response",
                            "scope": "site", "urgency": "high"})
        self.assertEqual((status, res.get("priority")), (200, "P2"), res)

    # ---- the shipped demo data and the shared corpus ---------------------------------

    def test_the_demo_data_flows_through_every_service(self):
        out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo"),
                              "--port-offset", str(OFFSET), "--wait", "120", "--no-corpus"],
                             capture_output=True, text=True, timeout=600)
        print(out.stdout[-4000:])
        self.assertEqual(out.returncode, 0, out.stdout[-3000:] + out.stderr[-2000:])
        self.wait_settled()
        self.assert_all_alive()
        tickets = self.count("SELECT count(*) FROM intake.tickets")
        self.assertGreaterEqual(tickets, 130, "demo tickets created")
        self.assert_every_ticket_went_everywhere()

    def assert_every_ticket_went_everywhere(self):
        missing = self.pg.query(
            "SELECT number FROM intake.tickets t WHERE NOT EXISTS"
            " (SELECT 1 FROM dispatch.tickets d WHERE d.ticket_id = t.id)")
        self.assertEqual(missing, [], "every intake ticket is in dispatch")
        unclassified = self.count(
            "SELECT count(*) FROM dispatch.tickets WHERE service_type IS NULL OR priority IS NULL")
        self.assertEqual(unclassified, 0)
        unassigned = self.count(
            "SELECT count(*) FROM dispatch.tickets WHERE assignee IS NULL AND status <> 'queued'")
        self.assertEqual(unassigned, 0)
        # first response and resolution for every ticket (and a next update for those a
        # person has answered)
        bad_clocks = self.pg.query(
            "SELECT d.number, count(c.*) FROM dispatch.tickets d LEFT JOIN sla.clocks c"
            " ON c.ticket_id = d.ticket_id AND c.target IN ('first_response', 'resolution')"
            " GROUP BY d.number HAVING count(c.*) <> 2")
        self.assertEqual(bad_clocks, [], "exactly two clocks per ticket")
        no_letter = self.pg.query(
            "SELECT t.number FROM intake.tickets t JOIN intake.customers c ON c.id = t.customer_id"
            " WHERE c.email IS NOT NULL AND c.email !~* '^(no-?reply|mailer-daemon|postmaster)@'"
            " AND NOT EXISTS (SELECT 1 FROM notify.notifications n"
            "  WHERE n.ticket_number = t.number AND n.kind = 'acceptance')")
        self.assertEqual(no_letter, [], "an acceptance letter for every ticket with an e-mail")
        twice = self.pg.query(
            "SELECT ticket_number, recipient, count(*) FROM notify.notifications"
            " WHERE kind = 'acceptance' GROUP BY 1, 2 HAVING count(*) > 1")
        self.assertEqual(twice, [], "never two acceptance letters")

    def test_every_corpus_message_ends_as_a_ticket_a_reply_or_a_logged_rejection(self):
        files = sorted(glob.glob(os.path.join(CORPUS, "**", "*.eml"), recursive=True))
        if not files:
            self.skipTest(f"no mail corpus at {CORPUS}")
        before = self.count("SELECT count(*) FROM intake.mail_messages")
        accepted, refused = 0, []
        for path in files:
            raw = open(path, "rb").read()
            try:
                with smtplib.SMTP("127.0.0.1", 2525 + OFFSET, timeout=30) as s:
                    s.ehlo("e2e.test")
                    code, _ = s.mail("corpus@sender.example")
                    code, _ = s.rcpt("service@petrocs.example")
                    code, reply = s.data(raw)
                    self.assertEqual(code, 250, f"{path}: {reply!r}")
                    accepted += 1
                    self.assertRegex(reply.decode(), r"2\.0\.0 (CS-\d{4}-\d{6} (created|reply)|"
                                     r"duplicate of CS-|no ticket: )")
            except smtplib.SMTPException as e:
                refused.append((path, str(e)))
        self.assertEqual(refused, [])
        after = self.count("SELECT count(*) FROM intake.mail_messages")
        self.assertEqual(after - before, accepted, "every 250 has its stored row")
        self.assertEqual(self.count("SELECT count(*) FROM intake.mail_messages WHERE"
                                    " outcome = 'rejected' AND (reason IS NULL OR reason = '')"),
                         0, "every rejection names its reason")
        self.wait_settled()
        self.assert_all_alive()
        self.assert_every_ticket_went_everywhere()


if __name__ == "__main__":
    os.makedirs(VAR, exist_ok=True)
    subprocess.run(["rm", "-rf", MAILDIR])
    main()
