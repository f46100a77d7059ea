"""intake on its own: the mail gateway and the web API against a real PostgreSQL.

What a customer (or a stranger) sends becomes a ticket, a reply, a duplicate or a
rejection with its reason; what is stored and sent on the bus is bounded and clean.
"""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, wait_for  # noqa: E402

PG_PORT = 55433
HTTP = "http://127.0.0.1:18100"
SMTP_PORT = 18125
VAR = os.path.join(BUILD, "test-var", "intake")


def mail(sender, subject, body="请派人检修。", headers=None, charset="utf-8"):
    lines = [f"From: {sender}", "To: service@petrocs.example", f"Subject: {subject}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", f"Content-Type: text/plain; charset={charset}",
              "Content-Transfer-Encoding: 8bit"]
    head = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n"
    return head + body.encode(charset if charset != "utf-8" else "utf-8") + b"\r\n"


def send(raw, sender="sender@x.example"):
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as s:
        s.ehlo("test.example")
        s.mail(sender)
        s.rcpt("service@petrocs.example")
        code, reply = s.data(raw)
        return code, reply.decode()


class IntakeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("intake", PG_PORT)
        cls.pg.start(["intake"])
        env = dict(os.environ, CS_DB_URL=cls.pg.conninfo(), CS_INTAKE_HTTP_PORT="18100",
                   CS_INTAKE_PUB_PORT="18101", CS_INTAKE_REPLAY_PORT="18102",
                   CS_INTAKE_SMTP_PORT=str(SMTP_PORT),
                   # alone: no dispatch or notify stream to read
                   CS_INTAKE_TIMELINE="0", CS_INTAKE_OUTBOUND_LEDGER="0")
        cls.svc = Service("intake", [os.path.join(BUILD, "bin", "cs-intake")], env,
                          os.path.join(VAR, "intake.log"))
        cls.svc.start()
        try:
            wait_for(lambda: http("GET", HTTP + "/readyz")[0] == 200, 30, "intake ready")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        cls.pg.stop()

    def number_of(self, reply):
        self.assertRegex(reply, r"^2\.0\.0 CS-\d{4}-\d{6} created$")
        return reply.split()[1]

    def test_a_mail_becomes_a_ticket_named_in_the_250_reply(self):
        code, reply = send(mail("王工 <wang.gong@refinery.example>", "P-101 离心泵振动"))
        self.assertEqual(code, 250)
        number = self.number_of(reply)
        status, t = http("GET", f"{HTTP}/v1/tickets/{number}")
        self.assertEqual(status, 200)
        self.assertEqual(t["subject"], "P-101 离心泵振动")
        self.assertEqual(t["from_name"], "王工")
        self.assertEqual(t["customer"]["email"], "wang.gong@refinery.example")
        self.assertEqual(t["language"], "zh-CN")

    def test_a_gbk_mail_is_decoded(self):
        raw = mail("=?GBK?B?" + __import__("base64").b64encode("李工".encode("gbk")).decode()
                   + "?= <li.gong@chem.example>", "=?GBK?B?"
                   + __import__("base64").b64encode("换热器结垢".encode("gbk")).decode() + "?=",
                   body="换热器E-203结垢严重，请安排清洗。", charset="gbk")
        code, reply = send(raw)
        number = self.number_of(reply)
        t = http("GET", f"{HTTP}/v1/tickets/{number}")[1]
        self.assertEqual(t["subject"], "换热器结垢")
        self.assertEqual(t["from_name"], "李工")
        self.assertIn("换热器E-203结垢严重", t["text"])

    def test_an_auto_reply_is_no_ticket_and_its_reason_is_kept(self):
        code, reply = send(mail("ooo@plant.example", "自动回复: 休假中",
                                headers={"Auto-Submitted": "auto-replied"}))
        self.assertEqual(code, 250)
        self.assertTrue(reply.startswith("2.0.0 no ticket: auto_reply"), reply)
        rows = self.pg.query("SELECT reason FROM intake.mail_messages"
                             " WHERE from_addr = 'ooo@plant.example'")
        self.assertEqual(rows, [["auto_reply"]])

    def test_the_same_message_id_from_the_same_sender_is_a_duplicate_but_not_from_another(self):
        h = {"Message-ID": "<same-id-1@plant.example>"}
        first = self.number_of(send(mail("a@plant.example", "压缩机喘振", headers=h))[1])
        code, reply = send(mail("a@plant.example", "压缩机喘振", headers=h))
        self.assertEqual(reply, f"2.0.0 duplicate of {first}")
        code, reply = send(mail("b@other.example", "另一个问题", headers=h))
        other = self.number_of(reply)
        self.assertNotEqual(other, first)

    def test_a_reply_joins_its_ticket_only_from_the_customer_or_a_colleague(self):
        number = self.number_of(send(mail("chen@gas.example", "LNG 到货延迟"))[1])
        code, reply = send(mail("chen@gas.example", f"Re: [{number}] LNG 到货延迟"))
        self.assertEqual(reply, f"2.0.0 {number} reply")
        code, reply = send(mail("boss@gas.example", f"RE: [{number.lower()}] 请加急"))
        self.assertEqual(reply, f"2.0.0 {number} reply", "a colleague, number in lower case")
        code, reply = send(mail("attacker@evil.example", f"Re: [{number}] please close"))
        self.assertNotIn(number, reply, "a stranger cannot add to someone else's ticket")
        self.number_of(reply)

    def test_a_huge_subject_and_name_are_bounded_and_the_event_stays_small(self):
        raw = (b"From: " + ("名" * 50000).encode() + b" <big@plant.example>\r\n"
               b"Subject: " + b"A" * 3000000 + b"\r\n\r\nbody\r\n")
        code, reply = send(raw)
        number = self.number_of(reply)
        t = http("GET", f"{HTTP}/v1/tickets/{number}")[1]
        self.assertLessEqual(len(t["subject"].encode()), 1000)
        self.assertLessEqual(len(t["from_name"].encode()), 200)
        biggest = int(self.pg.scalar("SELECT max(length(envelope)) FROM intake.outbox"))
        self.assertLess(biggest, 64 * 1024, "every event far below the bus limit")

    def test_control_characters_never_reach_a_stored_line(self):
        status, res = http("POST", HTTP + "/v1/requests", {
            "channel": "web", "subject": "s\r\nBcc: victim@evil.example",
            "description": "line one\r\nline two\x1b[31m",
            "customer": {"name": "N\r\nBcc: n@evil.example", "email": "n@plant.example"}})
        self.assertEqual(status, 201, res)
        t = http("GET", f"{HTTP}/v1/tickets/{res['ticket_number']}")[1]
        self.assertEqual(t["subject"], "s  Bcc: victim@evil.example")
        self.assertEqual(t["customer"]["name"], "N  Bcc: n@evil.example")
        self.assertEqual(t["text"], "line one\nline two[31m")

    def test_web_requests_are_validated_field_by_field_and_idempotent(self):
        base = {"channel": "web", "subject": "安全检查申请", "description": "请安排年度安全检查。",
                "customer": {"name": "周工", "email": "zhou@plant.example"},
                "external_id": "portal-4711"}
        status, first = http("POST", HTTP + "/v1/requests", base)
        self.assertEqual(status, 201)
        status, again = http("POST", HTTP + "/v1/requests", base)
        self.assertEqual((status, again["status"], again["ticket_number"]),
                         (200, "duplicate", first["ticket_number"]))
        for field, patch in (("channel", {"channel": "fax"}),
                             ("subject", {"subject": ""}),
                             ("customer.email", {"customer": {"name": "x", "email": "not-mail"}}),
                             ("urgency", {"urgency": "extreme"})):
            status, err = http("POST", HTTP + "/v1/requests", dict(base, external_id=None, **patch))
            self.assertEqual(status, 422, field)
            self.assertEqual(err["error"]["field"], field)
        status, err = http("POST", HTTP + "/v1/requests", "{not json")
        self.assertEqual(status, 400)


if __name__ == "__main__":
    os.makedirs(VAR, exist_ok=True)
    main()
