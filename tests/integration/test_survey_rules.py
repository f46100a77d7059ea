"""The survey's rules, one by one, with every fact chosen by the test.

cs-survey reads two stand-ins built on the real service skeleton
(tests/integration/survey_feed.c: one named dispatch, one named complaint),
so each test says exactly which close, reopen, termination or complaint
feedback arrives, twice or in another order; cs-notify reads survey, so the
letters that come of it are checked where the customer would see them.

- when: CS_SURVEY_DELAY_MIN after the close, only inside the contact's daytime;
- whom and never: each skip reason on its own;
- exactly one survey per ticket under duplicated and reordered events;
- how: SMS short links, strategic and low-score follow-up tasks, one reminder,
  the opt-out page;
- the summary on a seeded set whose figures are worked out by hand below.

Real PostgreSQL, real processes and sockets. Ports: PostgreSQL 55530, services
at offset 21000 (28100-28602).
"""
import csv
import datetime
import io
import os
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, ROOT, Postgres, Service, StackTestCase, http, main,  # noqa: E402
                     service_url, stack_env, wait_for)

PG_PORT = 55530
OFFSET = 21000
FEED = os.path.join(BUILD, "tests", "integration", "survey_feed")
HOUR_MS = 3600 * 1000


def now_ms():
    return int(time.time() * 1000)


def ms_of(iso):
    """"2026-03-02T04:00:00.000Z" -> ms."""
    return int(datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


def raw(method, url, body=None, follow=True):
    """(status, headers, text) of a page request."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/x-www-form-urlencoded"} if data is not None else {})
    opener = urllib.request.build_opener(*([] if follow else [NoRedirect()]))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class SurveyStack(StackTestCase):
    """PostgreSQL, the two feeds, cs-survey and cs-notify; ENV is the survey's
    configuration of the class."""

    NAME = "survey-rules"
    ENV = {}

    @classmethod
    def start_all(cls):
        cls.pg = Postgres(cls.NAME, PG_PORT)
        cls.pg.start(["intake", "dispatch", "complaint", "survey", "notify"])
        cls.maildir = os.path.join(BUILD, "test-var", cls.NAME, "mail")
        os.makedirs(cls.maildir, exist_ok=True)
        cls.env = stack_env(cls.pg, OFFSET, cls.maildir, CS_LOG_LEVEL="info",
                            CS_NOTIFY_TEMPLATES=os.path.join(ROOT, "services/notify/templates"),
                            **cls.ENV)
        logs = os.path.join(BUILD, "test-var", cls.NAME)
        # notify reads intake's stream (bounces): a silent stand-in gives it one
        for name, argv in (("intake", [FEED, "intake"]),
                           ("dispatch", [FEED, "dispatch"]), ("complaint", [FEED, "complaint"]),
                           ("survey", [os.path.join(BUILD, "bin", "cs-survey")]),
                           ("notify", [os.path.join(BUILD, "bin", "cs-notify")])):
            cls.procs[name] = Service(name, argv, cls.env, os.path.join(logs, f"{name}.log"))
            cls.procs[name].start()
        for name in cls.procs:
            wait_for(lambda: http("GET", service_url(OFFSET, name, "/readyz"))[0] == 200, 60,
                     f"{name} ready")
        cls.api = service_url(OFFSET, "survey")

    # ---- feeding -------------------------------------------------------------------

    def emit(self, type_, **facts):
        feed = "complaint" if type_.startswith("complaint.") else "dispatch"
        status, body = http("POST", service_url(OFFSET, feed, "/emit"), dict(facts, type=type_))
        self.assertEqual(status, 200, body)

    def ticket(self, **kw):
        """Facts of a new ticket: a person with an address, closed 3 h ago (due now)."""
        n = uuid.uuid4()
        facts = {"ticket_id": str(n), "number": "CS-T-" + n.hex[:8], "name": "李伟",
                 "email": f"li.{n.hex[:6]}@refinery.example.com", "language": "zh-CN",
                 "tier": "large", "team": "maintenance-east", "assignee": "wang.fang",
                 "service_type": "equipment_maintenance", "status": "closed",
                 "at_ms": now_ms() - 3 * HOUR_MS}
        facts.update(kw)
        return facts

    def close(self, facts, **kw):
        self.emit("dispatch.ticket.closed", **dict(facts, **kw))

    def settled(self):
        """Every event of both feeds applied and nothing due left unsent."""
        def done():
            for stream in ("dispatch", "complaint"):
                head = self.pg.scalar(
                    f"SELECT head FROM {stream}.bus_stream WHERE stream = '{stream}-0'") or "0"
                cp = self.pg.scalar("SELECT last_seq FROM survey.inbox_checkpoint"
                                    f" WHERE stream = '{stream}-0'") or "0"
                backlog = self.pg.scalar(f"SELECT count(*) FROM {stream}.outbox WHERE seq IS NULL")
                if head != cp or backlog != "0":
                    return False
            return self.pg.scalar("SELECT count(*) FROM survey.invitations"
                                  " WHERE status = 'scheduled' AND send_at <= now()") == "0"
        wait_for(done, 30, "survey caught up and nothing due")

    def rows(self, number):
        status, body = http("GET", f"{self.api}/v1/surveys?ticket={number}")
        self.assertEqual(status, 200, body)
        return body["surveys"]

    def decision(self, number):
        self.settled()
        rows = self.rows(number)
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def events(self, topic, invitation_id):
        """survey's events of a topic that name this invitation."""
        return int(self.pg.scalar(
            f"SELECT count(*) FROM survey.outbox WHERE topic = '{topic}' AND"
            f" position(convert_to('{invitation_id}', 'UTF8') in envelope) > 0"))

    def letters(self, number, kind):
        """notify's notifications of a kind for a ticket (once notify caught up)."""
        def caught_up():
            head = self.pg.scalar("SELECT head FROM survey.bus_stream WHERE stream = 'survey-0'")
            cp = self.pg.scalar("SELECT last_seq FROM notify.inbox_checkpoint"
                                " WHERE stream = 'survey-0'")
            return head is not None and head == cp
        wait_for(caught_up, 30, "notify caught up with survey")
        return int(self.pg.scalar(f"SELECT count(*) FROM notify.notifications WHERE"
                                  f" ticket_number = '{number}' AND kind = '{kind}'"))


class SurveyRulesTest(SurveyStack):
    """Default delay (2 h) and quiet period (30 days); daytime all day long, so
    that what is due goes out whatever the hour the test runs."""

    ENV = {"CS_SURVEY_DELAY_MIN": "120", "CS_SURVEY_QUIET_DAYS": "30",
           "CS_SURVEY_DAY_START": "0", "CS_SURVEY_DAY_END": "24"}

    # ---- when ------------------------------------------------------------------------

    def test_an_invitation_goes_out_two_hours_after_the_close_and_not_before(self):
        earlier = self.ticket()                        # closed 3 h ago: due 1 h ago
        just_now = self.ticket(at_ms=now_ms() - 60000)  # closed a minute ago: due in 1 h 59 min
        self.close(earlier)
        self.close(just_now)
        sent = self.decision(earlier["number"])
        self.assertEqual((sent["status"], sent["channel"], sent["skip_reason"]),
                         ("sent", "email", ""))
        self.assertEqual(ms_of(sent["send_at"]), earlier["at_ms"] + 2 * HOUR_MS)
        self.assertTrue(sent["link"].startswith(self.api + "/s/"))
        waiting = self.decision(just_now["number"])
        self.assertEqual((waiting["status"], waiting["link"]), ("scheduled", ""))
        self.assertEqual(ms_of(waiting["send_at"]), just_now["at_ms"] + 2 * HOUR_MS)
        self.assertEqual(self.events("survey.requested", waiting["invitation_id"]), 0)
        # the letter went out through notify, with the signed link and the opt-out link
        self.assertEqual(self.letters(earlier["number"], "survey_invitation"), 1)
        vars_ = self.pg.scalar("SELECT vars::text FROM notify.notifications"
                               f" WHERE ticket_number = '{earlier['number']}'")
        self.assertIn(sent["link"], vars_)
        self.assertIn(sent["link"] + "/optout", vars_)

    # ---- never -----------------------------------------------------------------------

    def assert_skipped(self, number, reason):
        inv = self.decision(number)
        self.assertEqual((inv["status"], inv["skip_reason"], inv["link"]),
                         ("skipped", reason, ""), inv)
        self.assertEqual(self.events("survey.requested", inv["invitation_id"]), 0)
        return inv

    def test_never_a_no_reply_or_robot_address_even_with_a_phone(self):
        for email, reason in (("no-reply@refinery.example.com", "no_reply_address"),
                              ("DoNotReply+alerts@refinery.example.com", "no_reply_address"),
                              ("MAILER-DAEMON@mx.refinery.example.com", "mailer_daemon"),
                              ("postmaster@refinery.example.com", "postmaster")):
            t = self.ticket(email=email, phone="+86 138 0013 8000")
            self.close(t)
            self.assert_skipped(t["number"], reason)

    def test_never_a_contact_that_cannot_be_reached(self):
        nobody = self.ticket(email="", phone="")
        self.close(nobody)
        self.assert_skipped(nobody["number"], "no_contact")
        broken = self.ticket(email="li.wei at refinery", phone="call reception")
        self.close(broken)
        self.assert_skipped(broken["number"], "invalid_email")

    def test_never_a_terminated_ticket(self):
        t = self.ticket(status="terminated", reason="contract expired")
        self.emit("dispatch.ticket.terminated", **t)
        self.assert_skipped(t["number"], "terminated")
        # reopened before its invitation went out, then terminated: withdrawn
        u = self.ticket(at_ms=now_ms())                  # scheduled, due in 2 h
        self.close(u)
        self.assertEqual(self.decision(u["number"])["status"], "scheduled")
        self.emit("dispatch.ticket.reopened", **dict(u, status="reopened"))
        self.assertEqual(self.decision(u["number"])["status"], "held")
        self.emit("dispatch.ticket.terminated", **dict(u, status="terminated",
                                                       reason="customer request"))
        self.assert_skipped(u["number"], "terminated")

    def test_never_a_merged_ticket(self):
        for reason in ("merged into CS-2026-000042", "Duplicate of CS-2026-000042",
                       "合并至 CS-2026-000042"):
            t = self.ticket(reason=reason)
            self.close(t)
            self.assert_skipped(t["number"], "merged")
        t = self.ticket(status="merged")
        self.close(t)
        self.assert_skipped(t["number"], "merged")

    def test_never_a_ticket_marked_spam(self):
        for kw in ({"reason": "spam"}, {"reason": "垃圾邮件"}, {"status": "spam"}):
            t = self.ticket(**kw)
            self.close(t)
            self.assert_skipped(t["number"], "spam")

    def test_never_a_contact_surveyed_within_the_last_30_days(self):
        email = f"zhao.{uuid.uuid4().hex[:6]}@chem.example.com"
        first, second, third = (self.ticket(email=email) for _ in range(3))
        self.close(first)
        inv = self.decision(first["number"])
        self.assertEqual(inv["status"], "sent")
        # the same person, in another case of address, a day later: not again
        self.close(second, email=email.upper())
        self.assert_skipped(second["number"], "surveyed_recently")
        # 31 days after the first invitation the contact may be asked again
        self.pg.query("UPDATE survey.invitations SET sent_at = now() - interval '31 days'"
                      f" WHERE invitation_id = '{inv['invitation_id']}'")
        self.close(third)
        self.assertEqual(self.decision(third["number"])["status"], "sent")

    def test_never_a_contact_who_opted_out_and_the_opt_out_page_needs_no_script(self):
        email = f"sun.{uuid.uuid4().hex[:6]}@gas.example.com"
        first, later = self.ticket(email=email), self.ticket(email=email)
        self.close(first)
        inv = self.decision(first["number"])
        optout = urllib.parse.urlsplit(inv["link"]).path + "/optout"
        # the form carries the link; GET only asks (a link scanner opts nobody out)
        status, _, page = raw("GET", self.api + urllib.parse.urlsplit(inv["link"]).path)
        self.assertIn('href="' + optout.rsplit("/", 2)[1] + '/optout"', page)
        status, headers, page = raw("GET", self.api + optout)
        self.assertEqual((status, headers["Content-Type"]), (200, "text/html; charset=utf-8"))
        self.assertIn('<form method="post">', page)
        self.assertNotIn("<script", page)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM survey.opt_outs"
                                        f" WHERE contact_key = 'email:{email}'"), "0")
        status, _, page = raw("POST", self.api + optout, "optout=1")
        self.assertEqual(status, 200)
        self.assertIn("已退订", page)
        self.assertEqual(raw("POST", self.api + optout, "optout=1")[0], 200)  # twice: fine
        self.pg.query("UPDATE survey.invitations SET sent_at = now() - interval '40 days'"
                      f" WHERE invitation_id = '{inv['invitation_id']}'")  # not the quiet rule
        self.close(later)
        self.assert_skipped(later["number"], "opted_out")
        # and no reminder for the first one either
        self.pg.query("UPDATE survey.invitations SET sent_at = now() - interval '4 days'"
                      f" WHERE invitation_id = '{inv['invitation_id']}'")
        self.trigger_reminders()
        self.assertEqual(self.events("survey.reminded", inv["invitation_id"]), 0)
        # a forged opt-out link is refused
        self.assertEqual(raw("POST", f"{self.api}/s/forged/optout", "optout=1")[0], 404)

    # ---- exactly one -----------------------------------------------------------------

    def assert_one_survey(self, number):
        inv = self.decision(number)
        self.assertEqual(inv["status"], "sent", inv)
        self.assertEqual(self.events("survey.requested", inv["invitation_id"]), 1)
        self.assertEqual(int(self.pg.scalar(
            "SELECT count(*) FROM survey.outbox WHERE topic = 'survey.requested' AND"
            f" position(convert_to('{number}', 'UTF8') in envelope) > 0")), 1)
        self.assertEqual(self.letters(number, "survey_invitation"), 1)
        return inv

    def test_one_survey_when_the_close_arrives_twice(self):
        t = self.ticket()
        self.close(t)
        self.close(t)
        first = self.assert_one_survey(t["number"])
        self.close(t)  # and again after it was sent
        self.assertEqual(self.assert_one_survey(t["number"])["link"], first["link"])

    def test_one_survey_when_reopened_and_closed_again(self):
        t = self.ticket()
        self.close(t)
        sent = self.assert_one_survey(t["number"])
        self.emit("dispatch.ticket.reopened", **dict(t, status="reopened"))
        self.close(t, at_ms=now_ms() - 3 * HOUR_MS)
        self.assertEqual(self.assert_one_survey(t["number"])["sent_at"], sent["sent_at"])

    def test_a_reopen_before_sending_holds_the_invitation_until_the_next_close(self):
        t = self.ticket(at_ms=now_ms())
        self.close(t)                                    # due in 2 h
        self.emit("dispatch.ticket.reopened", **dict(t, status="reopened"))
        self.assertEqual(self.decision(t["number"])["status"], "held")
        again = now_ms() - 3 * HOUR_MS
        self.close(t, at_ms=again)                       # the second close counts: due now
        inv = self.assert_one_survey(t["number"])
        self.assertEqual(ms_of(inv["send_at"]), again + 2 * HOUR_MS)

    def test_one_survey_when_complaint_feedback_and_close_come_in_either_order(self):
        for order in (("complaint", "close"), ("close", "complaint")):
            t = self.ticket()
            complaint = dict(t, complaint_id=str(uuid.uuid4()))
            for what in order:
                if what == "close":
                    self.close(t)
                else:
                    self.emit("complaint.feedback_sent", **complaint)
                    self.emit("complaint.feedback_sent", **complaint)  # and twice
                self.settled()  # two streams: applied in this order only if we wait
            inv = self.assert_one_survey(t["number"])
            self.assertEqual(inv["trigger"],
                             "complaint_feedback" if order[0] == "complaint" else "ticket_closed")

    def test_complaint_feedback_without_a_ticket_gets_one_survey(self):
        c = self.ticket(ticket_id="", complaint_id=str(uuid.uuid4()), number="CP-2026-0001" +
                        uuid.uuid4().hex[:4])
        self.emit("complaint.feedback_sent", **c)
        self.emit("complaint.feedback_sent", **c)
        inv = self.assert_one_survey(c["number"])
        self.assertEqual((inv["trigger"], inv["complaint_id"]),
                         ("complaint_feedback", c["complaint_id"]))

    def test_a_bad_event_is_skipped_and_the_next_one_still_counts(self):
        self.close(self.ticket(ticket_id="not-a-uuid"))
        self.close(self.ticket(number=""))
        t = self.ticket()
        self.close(t)
        self.assert_one_survey(t["number"])

    # ---- how -------------------------------------------------------------------------

    def test_a_contact_with_only_a_phone_gets_an_sms_short_link(self):
        t = self.ticket(email="", phone="+86 138-0013-8000")
        self.close(t)
        inv = self.decision(t["number"])
        self.assertEqual((inv["status"], inv["channel"]), ("sent", "sms"))
        short = inv["short_link"]
        self.assertRegex(short, "^" + self.api + "/r/[0-9A-Za-z]{10}$")
        # the event carries what the SMS gateway needs: phone and short link
        self.assertEqual(int(self.pg.scalar(
            "SELECT count(*) FROM survey.outbox WHERE topic = 'survey.requested'"
            " AND position(convert_to('+86 138-0013-8000', 'UTF8') in envelope) > 0"
            f" AND position(convert_to('{short}', 'UTF8') in envelope) > 0")), 1)
        status, headers, _ = raw("GET", short, follow=False)
        self.assertEqual(status, 302)
        self.assertEqual(headers["Location"], urllib.parse.urlsplit(inv["link"]).path)
        status, _, page = raw("GET", short)
        self.assertEqual(status, 200)
        self.assertIn("<form", page)
        self.assertEqual(raw("GET", f"{self.api}/r/AAAAAAAAAA")[0], 404)
        self.assertEqual(raw("GET", f"{self.api}/r/%27%3B--")[0], 404)

    def follow_ups(self, status="all"):
        code, body = http("GET", f"{self.api}/v1/surveys/follow-ups?status={status}&limit=500")
        self.assertEqual(code, 200, body)
        return body["follow_ups"]

    def test_a_strategic_customer_gets_a_phone_follow_up_task_that_staff_close(self):
        t = self.ticket(tier="strategic", phone="+86 10 5555 0100")
        self.close(t)
        self.decision(t["number"])
        tasks = [f for f in self.follow_ups("open") if f["ticket_number"] == t["number"]]
        self.assertEqual([(f["reason"], f["status"], f["phone"]) for f in tasks],
                         [("strategic", "open", "+86 10 5555 0100")])
        inv_id = tasks[0]["invitation_id"]
        self.assertEqual(self.events("survey.follow_up", inv_id), 1)
        done = f"{self.api}/v1/surveys/follow-ups/{tasks[0]['follow_up_id']}/done"
        for body, field in (({"outcome": "maybe", "by": "wang"}, "outcome"),
                            ({"outcome": "reached"}, "by"),
                            ({"outcome": "reached", "by": "wang", "note": 5}, "note")):
            code, out = http("POST", done, body)
            self.assertEqual((code, out["error"]["field"]), (422, field), out)
        code, out = http("POST", done, {"outcome": "reached", "by": "wang.fang",
                                        "note": "客户满意，建议下季度巡检。"})
        self.assertEqual(code, 200, out)
        self.assertEqual((out["status"], out["outcome"], out["done_by"]),
                         ("done", "reached", "wang.fang"))
        self.assertEqual(http("POST", done, {"outcome": "declined", "by": "li"})[0], 409)
        self.assertEqual(http("POST", f"{self.api}/v1/surveys/follow-ups/{uuid.uuid4()}/done",
                              {"outcome": "reached", "by": "li"})[0], 404)
        self.assertNotIn(t["number"], [f["ticket_number"] for f in self.follow_ups("open")])

    def answer(self, t, form):
        self.close(t)
        inv = self.decision(t["number"])
        status, _, page = raw("POST", self.api + urllib.parse.urlsplit(inv["link"]).path, form)
        self.assertEqual(status, 200, page)
        return inv, page

    def test_low_scores_emit_low_score_and_get_a_follow_up_task(self):
        cases = (
            ("satisfaction=2&recommend=8", "satisfaction"),                      # <= 2
            ("satisfaction=4&recommend=5&comment=%E5%93%8D%E5%BA%94%E5%A4%AA%E6%85%A2",
             "comment"),                                                         # 响应太慢
            ("satisfaction=3&recommend=6&comment=We+had+to+COMPLAIN+twice", "comment"),
            ("satisfaction=3&recommend=7&comment=a+bit+slow", None),            # NPS 7: no
            ("satisfaction=4&recommend=2&comment=%E5%BE%88%E5%A5%BD", None),    # 很好: no word
            ("satisfaction=3&comment=terrible", None),                           # no NPS given
        )
        for form, reason in cases:
            inv, page = self.answer(self.ticket(), form)
            iid = inv["invitation_id"]
            self.assertEqual(self.events("survey.answered", iid), 1, form)
            self.assertEqual(self.events("survey.low_score", iid), 1 if reason else 0, form)
            self.assertEqual(self.rows(inv["ticket_number"])[0]["low_score"], reason, form)
            tasks = [f for f in self.follow_ups() if f["invitation_id"] == iid]
            self.assertEqual([f["reason"] for f in tasks], ["low_score"] if reason else [], form)
            self.assertEqual("服务经理" in page, bool(reason), form)

    def trigger_reminders(self):
        """Make one more invitation due for its reminder and wait for it: the
        sender has then swept every reminder that was due."""
        t = self.ticket()
        self.close(t)
        inv = self.decision(t["number"])
        self.pg.query("UPDATE survey.invitations SET sent_at = now() - interval '73 hours'"
                      f" WHERE invitation_id = '{inv['invitation_id']}'")
        wait_for(lambda: self.events("survey.reminded", inv["invitation_id"]) == 1, 30,
                 "the reminder of the marker invitation")

    def test_one_reminder_after_three_days_if_unanswered(self):
        unanswered, answered, young = self.ticket(), self.ticket(), self.ticket()
        invs = {}
        for t in (unanswered, answered, young):
            self.close(t)
            invs[t["number"]] = self.decision(t["number"])
        raw("POST", self.api + urllib.parse.urlsplit(invs[answered["number"]]["link"]).path,
            "satisfaction=5")
        for t in (unanswered, answered):
            self.pg.query("UPDATE survey.invitations SET sent_at = now() - interval '73 hours'"
                          f" WHERE invitation_id = '{invs[t['number']]['invitation_id']}'")
        self.trigger_reminders()
        self.trigger_reminders()  # a second sweep reminds nobody twice
        self.assertEqual(self.events("survey.reminded", invs[unanswered["number"]]
                                     ["invitation_id"]), 1)
        self.assertEqual(self.events("survey.reminded", invs[answered["number"]]
                                     ["invitation_id"]), 0)
        self.assertEqual(self.events("survey.reminded", invs[young["number"]]
                                     ["invitation_id"]), 0)
        self.assertTrue(self.rows(unanswered["number"])[0]["reminded_at"])
        self.assertEqual(self.letters(unanswered["number"], "survey_reminder"), 1)
        self.assertEqual(self.letters(answered["number"], "survey_reminder"), 0)

    def test_zz_both_streams_delivered_again_from_the_start_change_nothing(self):
        """Runs last (by name): every event of both feeds applied a second time,
        after a restart, sends no second invitation for any ticket."""
        self.trigger_reminders()  # nothing left due that could move the outbox meanwhile
        self.settled()
        before = self.pg.query("SELECT topic, count(*) FROM survey.outbox GROUP BY 1 ORDER BY 1")
        decisions = self.pg.query("SELECT invitation_id, status, skip_reason, link"
                                  " FROM survey.invitations ORDER BY 1")
        self.procs["survey"].stop()
        self.pg.query("UPDATE survey.inbox_checkpoint SET last_seq = 0")
        svc = self.procs["survey"]
        self.procs["survey"] = Service("survey", svc.argv, svc.env, svc.log_path)
        self.procs["survey"].start()
        wait_for(lambda: http("GET", self.api + "/readyz")[0] == 200, 60, "survey ready")
        self.settled()
        self.assertEqual(self.pg.query("SELECT invitation_id, status, skip_reason, link"
                                       " FROM survey.invitations ORDER BY 1"), decisions)
        self.assertEqual(self.pg.query("SELECT topic, count(*) FROM survey.outbox"
                                       " GROUP BY 1 ORDER BY 1"), before)

    # ---- the summary -----------------------------------------------------------------

    def seed(self):
        """Ten invitations sent in 2025 and their answers, plus rows the period
        must leave out.  Columns: team, agent, service type, tier, sent at (UTC),
        (satisfaction, recommend, speed, professionalism) or None."""
        rows = [
            ("A", "wang", "maintenance", "strategic", "2025-03-10 02:00", (5, 10, 5, 5)),
            ("A", "wang", "maintenance", "large", "2025-03-15 03:00", (4, 9, 4, None)),
            ("A", "li", "inspection", "SME", "2025-03-20 04:00", (2, 3, 2, 3)),
            # 17:00 UTC on 31 March is 1 April 01:00 in Shanghai: an April invitation
            ("A", "li", "inspection", "large", "2025-03-31 17:00", (5, 8, None, 4)),
            ("B", "zhao", "consulting", "strategic", "2025-04-02 05:00", (3, None, 3, 3)),
            ("B", "zhao", "consulting", "SME", "2025-04-05 06:00", None),
            ("B", "zhao", "maintenance", "large", "2025-04-08 07:00", (4, 6, 4, 4)),
            ("B", "sun", "maintenance", "large", "2025-04-09 08:00", None),
            ("B", "sun", "inspection", "SME", "2025-04-10 09:00", (1, 0, 1, 1)),
            # 16:30 UTC on 30 April is 1 May 00:30 in Shanghai
            ("B", "sun", "inspection", "strategic", "2025-04-30 16:30", (5, 10, 5, 5)),
        ]
        sql = []
        for i, (team, agent, stype, tier, sent, ans) in enumerate(rows):
            iid = str(uuid.uuid4())
            sql.append(
                "INSERT INTO survey.invitations (invitation_id, ticket_id, ticket_number, status,"
                " team, agent, service_type, tier, channel, sent_at, created_at, link)"
                f" VALUES ('{iid}', gen_random_uuid(), 'SEED-{i:02d}',"
                f" '{'answered' if ans else 'sent'}', '{team}', '{agent}', '{stype}', '{tier}',"
                f" 'email', '{sent}+00', '{sent}+00', 'x')")
            if ans:
                vals = ", ".join("NULL" if v is None else str(v) for v in ans)
                sql.append("INSERT INTO survey.answers (invitation_id, satisfaction, recommend,"
                           f" speed, professionalism) VALUES ('{iid}', {vals})")
        # outside the period (sent 2024-12-31 20:00 UTC), skipped and scheduled ones
        sql.append("INSERT INTO survey.invitations (invitation_id, ticket_id, ticket_number,"
                   " status, team, sent_at, created_at, channel) VALUES (gen_random_uuid(),"
                   " gen_random_uuid(), 'SEED-OUT', 'sent', 'A', '2024-12-31 20:00+00',"
                   " '2024-12-31 20:00+00', 'email')")
        sql.append("INSERT INTO survey.invitations (invitation_id, ticket_id, ticket_number,"
                   " status, skip_reason, team, created_at) VALUES (gen_random_uuid(),"
                   " gen_random_uuid(), 'SEED-SKIP', 'skipped', 'spam', 'A', '2025-05-02 00:00+00')")
        sql.append("INSERT INTO survey.invitations (invitation_id, ticket_id, ticket_number,"
                   " status, team, created_at, send_at) VALUES (gen_random_uuid(),"
                   " gen_random_uuid(), 'SEED-WAIT', 'scheduled', 'B', '2025-05-03 00:00+00',"
                   " '2099-01-01 00:00+00')")
        self.pg.query("; ".join(sql))

    def summary(self, query):
        status, body = http("GET", f"{self.api}/v1/surveys/summary?from=2025-01-01&to=2026-01-01"
                            + query)
        self.assertEqual(status, 200, body)
        return body

    def assert_figures(self, got, want):
        for key, value in want.items():
            if isinstance(value, float):
                self.assertAlmostEqual(got[key], value, places=9, msg=key)
            else:
                self.assertEqual(got[key], value, key)

    def test_the_summary_of_a_seeded_year_is_the_one_worked_out_by_hand(self):
        self.seed()
        # All ten: answered rows 1,2,3,4,5,7,9,10 -> 8 of 10 = 0.8.
        # satisfaction 5,4,2,5,3,4,1,5: sum 29, mean 3.625; satisfied (4-5): 5 -> 5/8 = 0.625,
        #   below 0.9.
        # recommend given 10,9,3,8,6,0,10 (row 5 gave none): 7; promoters (9-10) 3, passives
        #   (7-8) 1, detractors (0-6) 3 -> NPS 100 * (3 - 3) / 7 = 0; mean 46 / 7.
        # speed 5,4,2,3,4,1,5 (row 4 none): 24 / 7; professionalism 5,3,4,3,4,1,5 (row 2 none):
        #   25 / 7.
        total = self.summary("")
        self.assert_figures(total, {
            "sent": 10, "answered": 8, "response_rate": 0.8, "satisfied": 5,
            "satisfied_share": 0.625, "target": 0.9, "meets_target": False, "nps": 0.0,
            "promoters": 3, "passives": 1, "detractors": 3, "avg_satisfaction": 3.625,
            "avg_recommend": 46 / 7, "avg_speed": 24 / 7, "avg_professionalism": 25 / 7,
            "skipped": 1, "scheduled": 1, "held": 0})
        self.assertEqual(total["skipped_by_reason"], {"spam": 1})

        # By team.  A = rows 1-4: 4 sent, 4 answered; satisfaction 5,4,2,5 -> 3/4 = 0.75,
        #   mean 4.0; recommend 10,9,3,8 -> P2 Pa1 D1 -> 100 * 1 / 4 = 25, mean 30/4 = 7.5;
        #   speed 5,4,2 -> 11/3; professionalism 5,3,4 -> 4.0.
        # B = rows 5-10: 6 sent, 4 answered (5,7,9,10) -> 4/6; satisfaction 3,4,1,5 -> 2/4,
        #   mean 13/4; recommend 6,0,10 -> P1 D2 -> 100 * (1 - 2) / 3; mean 16/3;
        #   speed 3,4,1,5 -> 13/4; professionalism 3,4,1,5 -> 13/4.
        by_team = self.summary("&by=team")
        self.assertEqual(by_team["by"], "team")
        self.assertEqual([g["group"] for g in by_team["groups"]], ["A", "B"])
        a, b = by_team["groups"]
        self.assert_figures(a, {"sent": 4, "answered": 4, "response_rate": 1.0,
                                "satisfied_share": 0.75, "meets_target": False, "nps": 25.0,
                                "avg_satisfaction": 4.0, "avg_recommend": 7.5,
                                "avg_speed": 11 / 3, "avg_professionalism": 4.0})
        self.assert_figures(b, {"sent": 6, "answered": 4, "response_rate": 4 / 6,
                                "satisfied_share": 0.5, "nps": -100 / 3,
                                "avg_satisfaction": 3.25, "avg_recommend": 16 / 3,
                                "avg_speed": 3.25, "avg_professionalism": 3.25})

        # By month in Asia/Shanghai.  March: rows 1,2,3 -> 3/3, satisfied 2/3, recommend
        #   10,9,3 -> 100 * (2 - 1) / 3.  April: rows 4-9 -> 6 sent, 4 answered (4,5,7,9),
        #   satisfaction 5,3,4,1 -> 2/4, recommend 8,6,0 -> 100 * (0 - 2) / 3.
        #   May: row 10 -> 1/1, satisfied 1/1 (meets 0.9), recommend 10 -> 100.
        by_month = self.summary("&by=month")
        self.assertEqual([(g["group"], g["sent"], g["answered"]) for g in by_month["groups"]],
                         [("2025-03", 3, 3), ("2025-04", 6, 4), ("2025-05", 1, 1)])
        mar, apr, may = by_month["groups"]
        self.assert_figures(mar, {"satisfied_share": 2 / 3, "nps": 100 / 3})
        self.assert_figures(apr, {"satisfied_share": 0.5, "nps": -200 / 3,
                                  "response_rate": 4 / 6})
        self.assert_figures(may, {"satisfied_share": 1.0, "meets_target": True, "nps": 100.0})

        # By tier.  strategic: rows 1,5,10 -> 3/3, satisfaction 5,3,5 -> 2/3, recommend 10,10
        #   -> 100.  large: rows 2,4,7,8 -> 4 sent, 3 answered, satisfaction 4,5,4 -> 1.0,
        #   recommend 9,8,6 -> 0.  SME: rows 3,6,9 -> 3 sent, 2 answered, satisfaction 2,1 ->
        #   0.0, recommend 3,0 -> -100.
        tiers = {g["group"]: g for g in self.summary("&by=tier")["groups"]}
        self.assert_figures(tiers["strategic"], {"sent": 3, "answered": 3,
                                                 "satisfied_share": 2 / 3, "nps": 100.0})
        self.assert_figures(tiers["large"], {"sent": 4, "answered": 3, "satisfied_share": 1.0,
                                             "meets_target": True, "nps": 0.0})
        self.assert_figures(tiers["SME"], {"sent": 3, "answered": 2, "satisfied_share": 0.0,
                                           "nps": -100.0})

        # By agent: li rows 3,4 (2/2, satisfaction 2,5 -> 0.5); sun rows 8,9,10 (3 sent,
        #   2 answered, 1,5 -> 0.5); wang rows 1,2 (2/2, 5,4 -> 1.0); zhao rows 5,6,7 (3 sent,
        #   2 answered, 3,4 -> 0.5).
        agents = [(g["group"], g["sent"], g["answered"], g["satisfied_share"])
                  for g in self.summary("&by=agent")["groups"]]
        self.assertEqual(agents, [("li", 2, 2, 0.5), ("sun", 3, 2, 0.5), ("wang", 2, 2, 1.0),
                                  ("zhao", 3, 2, 0.5)])
        # By service type: consulting rows 5,6 (2 sent, 1 answered, 3 -> 0.0); inspection
        #   rows 3,4,9,10 (4/4; 2,5,1,5 -> 0.5); maintenance rows 1,2,7,8 (4 sent, 3 answered;
        #   5,4,4 -> 1.0).
        types = [(g["group"], g["sent"], g["answered"], g["satisfied_share"])
                 for g in self.summary("&by=service_type")["groups"]]
        self.assertEqual(types, [("consulting", 2, 1, 0.0), ("inspection", 4, 4, 0.5),
                                 ("maintenance", 4, 3, 1.0)])

        # The same by team as CSV: the total first, then a line per group, rounded.
        status, text = http("GET", f"{self.api}/v1/surveys/summary?from=2025-01-01"
                            "&to=2026-01-01&by=team&format=csv")
        self.assertEqual(status, 200)
        lines = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual([(r["by"], r["group"]) for r in lines],
                         [("all", ""), ("team", "A"), ("team", "B")])
        self.assertEqual((lines[0]["sent"], lines[0]["answered"], lines[0]["response_rate"],
                          lines[0]["satisfied_share"], lines[0]["meets_target"],
                          lines[0]["nps"], lines[0]["avg_recommend"]),
                         ("10", "8", "0.8000", "0.6250", "false", "0.00", "6.57"))
        self.assertEqual((lines[2]["response_rate"], lines[2]["nps"], lines[2]["avg_speed"]),
                         ("0.6667", "-33.33", "3.25"))

    def test_the_summary_refuses_unknown_groupings_and_formats_and_escapes_csv(self):
        for query, field in (("by=customer", "by"), ("by=", "by"), ("format=xml", "format"),
                             ("from=yesterday", "from")):
            status, body = http("GET", f"{self.api}/v1/surveys/summary?{query}")
            self.assertEqual((status, body["error"]["field"]), (422, field), query)
        self.pg.query("INSERT INTO survey.invitations (invitation_id, ticket_id, ticket_number,"
                      " status, team, sent_at, channel) VALUES (gen_random_uuid(),"
                      " gen_random_uuid(), 'SEED-CSV', 'sent', '=HYPERLINK(\"x\"),1',"
                      " '2023-06-01 00:00+00', 'email')")
        status, text = http("GET", f"{self.api}/v1/surveys/summary?from=2023-01-01"
                            "&to=2024-01-01&by=team&format=csv")
        self.assertEqual(status, 200)
        self.assertIn('team,"\'=HYPERLINK(""x""),1",1,0,0.0000,0,,0.90,false', text)
        self.assertEqual(list(csv.DictReader(io.StringIO(text)))[1]["group"],
                         "'=HYPERLINK(\"x\"),1")


def utc_window_away():
    """A one-hour daytime window in UTC that does not contain the present
    (it starts two hours from now), and the moment it next opens, in ms."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now.hour + 2) % 24
    opens = now.replace(hour=start, minute=0, second=0, microsecond=0)
    if opens <= now:
        opens += datetime.timedelta(days=1)
    return start, start + 1, int(opens.timestamp() * 1000)


class SurveyDaytimeTest(SurveyStack):
    """Only inside daytime: the window is put where the present is not."""

    NAME = "survey-daytime"
    START, END, OPENS = utc_window_away()
    ENV = {"CS_SURVEY_DELAY_MIN": "120", "CS_SURVEY_TZ": "UTC",
           "CS_SURVEY_DAY_START": str(START), "CS_SURVEY_DAY_END": str(END)}

    def test_an_invitation_due_at_night_waits_for_the_morning(self):
        t = self.ticket()  # closed 3 h ago: due an hour ago, which is outside the window
        self.close(t)
        self.settled()
        inv = self.rows(t["number"])[0]
        self.assertEqual((inv["status"], inv["link"]), ("scheduled", ""))
        self.assertEqual(ms_of(inv["send_at"]), self.OPENS)
        # the moment comes while the service is down and it wakes at night: the next window
        self.pg.query("UPDATE survey.invitations SET send_at = now() - interval '1 minute'"
                      f" WHERE invitation_id = '{inv['invitation_id']}'")
        wait_for(lambda: self.rows(t["number"])[0]["send_at"] and
                 ms_of(self.rows(t["number"])[0]["send_at"]) == self.OPENS, 30,
                 "the invitation moved to the next window")
        self.assertEqual(self.events("survey.requested", inv["invitation_id"]), 0)

    def test_the_daytime_of_shanghai_and_of_a_zone_with_summer_time(self):
        # daytime_at(ts, zone, 9, 20): the first moment at or after ts inside 09:00-20:00
        cases = (
            # Shanghai (UTC+8 all year): 10:00 local stays; 05:30 -> 09:00 the same day;
            # 20:00 (the end is not daytime) and 21:00 -> 09:00 the next day
            ("2026-03-02 10:00+08", "Asia/Shanghai", "2026-03-02 02:00:00+00"),
            ("2026-03-02 05:30+08", "Asia/Shanghai", "2026-03-02 01:00:00+00"),
            ("2026-03-02 20:00+08", "Asia/Shanghai", "2026-03-03 01:00:00+00"),
            ("2026-03-02 21:00+08", "Asia/Shanghai", "2026-03-03 01:00:00+00"),
            # Berlin: 21:00 local on 28 March 2026 (UTC+1) -> 09:00 on 29 March, after the
            # change to summer time (UTC+2) -> 07:00 UTC
            ("2026-03-28 21:00+01", "Europe/Berlin", "2026-03-29 07:00:00+00"),
        )
        for ts, zone, want in cases:
            got = self.pg.scalar(f"SET TIME ZONE 'UTC'; SELECT survey.daytime_at('{ts}', '{zone}',"
                                 " 9, 20)")
            self.assertEqual(got, want, (ts, zone))
        # a closing at 19:00 Shanghai plus the 2 h delay (21:00) goes out at 09:00 next day
        self.assertEqual(self.pg.scalar(
            "SET TIME ZONE 'UTC'; SELECT survey.daytime_at(timestamptz '2026-03-02 19:00+08'"
            " + interval '120 minutes', 'Asia/Shanghai', 9, 20)"), "2026-03-03 01:00:00+00")

    def test_a_bad_time_zone_or_window_stops_the_service_with_a_message(self):
        for extra, word in (({"CS_SURVEY_TZ": "Mars/Olympus"}, "CS_SURVEY_TZ"),
                            ({"CS_SURVEY_DAY_START": "20", "CS_SURVEY_DAY_END": "9"},
                             "CS_SURVEY_DAY_END")):
            log = os.path.join(BUILD, "test-var", self.NAME, "bad-config.log")
            env = dict(self.env, **extra, CS_INSTANCE="9",
                       CS_SURVEY_HTTP_PORT=str(7500 + OFFSET + 50),
                       CS_SURVEY_PUB_PORT=str(7500 + OFFSET + 51),
                       CS_SURVEY_REPLAY_PORT=str(7500 + OFFSET + 52))
            svc = Service("survey-bad", [os.path.join(BUILD, "bin", "cs-survey")], env, log)
            svc.start()
            try:
                svc.proc.wait(timeout=30)
            finally:
                svc.kill()
            self.assertNotEqual(svc.proc.returncode, 0)
            with open(log, encoding="utf-8") as f:
                self.assertIn(word, f.read())


if __name__ == "__main__":
    main()
