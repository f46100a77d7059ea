"""A complaint's deadlines are SLA clocks, end to end with the real services.

Real PostgreSQL, cs-intake, cs-dispatch, cs-sla, cs-complaint, cs-survey and cs-notify
(no stand-ins): a complaint a handler opens by phone arms its 24-hour
acceptance clock in sla; here a "minute" lasts one second
(CS_SLA_MINUTE_SECONDS) and acceptance is 3 minutes, so the clock of a case
nobody accepts breaches after 3 s. sla's sla.breached reaches complaint,
which escalates the case once (complaint.escalated, level 1) and notify
mails the quality manager once. A case accepted at once meets its clock and
is never escalated.
"""
import email
import email.policy
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from chain import Chain, http, wait_for  # noqa: E402

PG_PORT = 55565
OFFSET = 12000  # intake 19100, dispatch 19200, sla 19300, complaint 19400, survey 19500, notify 19600
QUALITY_MANAGER = "qm.zhou@petrocs.example"


def letters(maildir):
    new = os.path.join(maildir, "new")
    out = []
    if os.path.isdir(new):
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
    return out


class ComplaintSlaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chain = Chain("complaint-sla", PG_PORT, OFFSET, ["complaint", "notify", "survey"])
        cls.maildir = os.path.join(cls.chain.logs, "mail")
        cls.chain.env.update(CS_SLA_MINUTE_SECONDS="1", CS_SLA_COMPLAINT_ACCEPT_MIN="3",
                             CS_SLA_ESCALATE_AFTER_MIN="0", CS_NOTIFY_MAILDIR=cls.maildir,
                             CS_NOTIFY_QUALITY_MANAGER=QUALITY_MANAGER)
        cls.chain.start_all()
        cls.api = cls.chain.url("complaint")

    @classmethod
    def tearDownClass(cls):
        cls.chain.stop_all()

    def open_case(self, subject):
        body = {"handler": "chen.jing", "channel": "phone", "subject": subject,
                "description": "客户来电投诉。",
                "customer": {"name": "赵刚", "email": "zhao.gang@gaspipe.example"}}
        status, case = http("POST", f"{self.api}/v1/complaints", body)
        self.assertEqual(status, 201, case)
        return case

    def case(self, complaint_id):
        status, body = http("GET", f"{self.api}/v1/complaints/{complaint_id}")
        self.assertEqual(status, 200, body)
        return body

    def clock(self, complaint_id, target):
        rows = self.chain.pg.query(
            "SELECT state, sla.ts_ms(deadline) - sla.ts_ms(started_at) FROM sla.clocks"
            f" WHERE complaint_id = '{complaint_id}' AND target = '{target}'")
        return rows[0] if rows else None

    def test_an_unaccepted_complaint_breaches_and_escalates_once_an_accepted_one_does_not(self):
        late = self.open_case("送货司机态度恶劣")
        on_time = self.open_case("发票金额错误")
        status, out = http("POST", f"{self.api}/v1/complaints/{on_time['complaint_id']}/accept",
                           {"handler": "chen.jing"})
        self.assertEqual(status, 200, out)

        # Both clocks armed by sla from complaint.opened: 3 "minutes" of 1 s on 7x24.
        wait_for(lambda: self.clock(late["complaint_id"], "complaint_acceptance"), 20,
                 "the acceptance clock of the late case")
        self.assertEqual(self.clock(late["complaint_id"], "complaint_acceptance")[1], "3000")
        wait_for(lambda: (self.clock(on_time["complaint_id"], "complaint_acceptance")
                          or [None])[0] == "met", 20, "the on-time case's clock met")

        # The late one breaches after 3 s; complaint escalates it to level 1.
        wait_for(lambda: self.case(late["complaint_id"]).get("escalation_level") == 1, 30,
                 "the late case escalated")
        self.assertEqual(self.clock(late["complaint_id"], "complaint_acceptance")[0], "breached")

        def qm_letters():
            return [m for m in letters(self.maildir) if QUALITY_MANAGER in str(m["To"])]
        got = wait_for(lambda: qm_letters() or None, 30, "the quality manager's alert")
        self.assertIn(late["case_number"], str(got[0]["Subject"]) + got[0].get_body(
            preferencelist=("plain",)).get_content())

        # Settle: whatever sla sends later (its level-1 escalation) changes nothing.
        time.sleep(3)
        self.assertEqual(self.case(late["complaint_id"])["escalation_level"], 1)
        self.assertEqual(len(qm_letters()), 1, "one alert, not one per sla event")
        escalated = self.chain.pg.scalar(
            "SELECT count(*) FROM complaint.outbox WHERE topic = 'complaint.escalated'")
        self.assertEqual(escalated, "1")
        self.assertEqual(self.case(on_time["complaint_id"]).get("escalation_level"), 0)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    from harness import main
    main()
