"""Satisfaction surveys, end to end: a ticket closed through dispatch brings
exactly one invitation; its link opens the answer form; the answer is
recorded once and moves the summary; a second submit shows what was
recorded; forged and expired links get their clear pages.

Real PostgreSQL, real cs-intake and cs-survey, cs-dispatch and cs-sla (chain.py).
"""
import base64
import hashlib
import hmac
import os
import signal
import struct
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from chain import Chain, http, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import main, metric  # noqa: E402

PG_PORT = 55468
KEY_OLD = bytes(range(32))
KEY_NEW = bytes(range(100, 132))
LINK_KEYS = f"k2:{KEY_NEW.hex()},k1:{KEY_OLD.hex()}"
HTML = "text/html; charset=utf-8"
# invitations at once, day and night: the timing has its own tests (test_survey_rules.py)
# and the same contact every time (no quiet period)
NOW = {"CS_SURVEY_DELAY_MIN": "0", "CS_SURVEY_DAY_START": "0", "CS_SURVEY_DAY_END": "24",
       "CS_SURVEY_QUIET_DAYS": "0"}


def sign(key, kid, invitation_id, expires_at_s):
    """A survey link token, made the way survey_link.h documents it."""
    body = bytes([1, len(kid)]) + kid.encode() + bytes([len(invitation_id)]) \
        + invitation_id.encode() + struct.pack(">q", expires_at_s)
    mac = hmac.new(key, b"survey-answer\x00" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def raw(method, url, body=None):
    """(status, headers, text) without JSON decoding: the pages are HTML."""
    import urllib.request
    import urllib.error
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/x-www-form-urlencoded"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class SurveyChainTest(unittest.TestCase):
    """Links signed with configured keys (CS_SURVEY_LINK_KEYS)."""

    @classmethod
    def setUpClass(cls):
        cls.chain = Chain("survey", PG_PORT, 14000, ["complaint", "survey"],
                          dict(NOW, CS_SURVEY_LINK_KEYS=LINK_KEYS))
        cls.chain.start_all()
        cls.api = cls.chain.url("survey")

    @classmethod
    def tearDownClass(cls):
        cls.chain.stop_all()

    def surveys(self, number):
        status, body = http("GET", f"{self.api}/v1/surveys?ticket={number}")
        self.assertEqual(status, 200, body)
        return body["surveys"]

    def invitation(self, number, timeout=30):
        def decided():
            inv = (self.surveys(number) or [None])[0]
            return inv if inv and inv["status"] != "scheduled" else None
        return wait_for(decided, timeout, f"the survey decision for {number}")

    def closed_ticket(self, **kw):
        number = self.chain.submit("压缩机振动异常", "二号压缩机振动值超标，请派人检查。", **kw)
        self.chain.close_ticket(number)
        return number, self.invitation(number)

    def summary(self):
        status, body = http("GET", f"{self.api}/v1/surveys/summary")
        self.assertEqual(status, 200, body)
        return body

    def path(self, link):
        return urllib.parse.urlsplit(link).path

    def test_a_closed_ticket_brings_one_invitation_and_one_answer(self):
        before = self.summary()
        number, inv = self.closed_ticket()
        self.assertEqual(inv["status"], "sent")
        self.assertTrue(inv["link"].startswith(self.api + "/s/"), inv["link"])
        self.assertEqual(self.chain.outbox_types("survey").count("survey.requested"),
                         before["sent"] + 1)

        # dispatch refuses a second close; the close event delivered again
        # (the whole dispatch stream replayed) sends nothing new either
        status, _ = self.chain.act(number, "close", agent=self.chain.agent_of(number))
        self.assertEqual(status, 409)
        self.chain.procs.pop("survey").kill(signal.SIGKILL)
        self.chain.pg.query("UPDATE survey.inbox_checkpoint SET last_seq = 0")
        self.chain.start("survey")
        self.chain.caught_up("survey")
        self.assertEqual(len(self.surveys(number)), 1)
        self.assertEqual(self.surveys(number)[0]["link"], inv["link"])
        self.assertEqual(self.chain.outbox_types("survey").count("survey.requested"),
                         before["sent"] + 1)

        # the link opens the form, in the customer's language, never cached
        status, headers, page = raw("GET", self.api + self.path(inv["link"]))
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], HTML)
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertIn('<html lang="zh-CN">', page)
        self.assertIn("<form", page)
        self.assertIn(number, page)

        # the answer is recorded and the summary moves
        status, headers, page = raw("POST", self.api + self.path(inv["link"]),
                                    "satisfaction=5&recommend=9&comment=%E5%BE%88%E5%A5%BD")
        self.assertEqual((status, headers["Content-Type"]), (200, HTML))
        self.assertNotIn("<form", page)
        self.assertIn(number, page)
        after = self.summary()
        self.assertEqual(after["sent"], before["sent"] + 1)
        self.assertEqual(after["answered"], before["answered"] + 1)
        self.assertEqual(self.surveys(number)[0]["status"], "answered")
        self.assertEqual(self.surveys(number)[0]["satisfaction"], 5)

        # a second submit shows the recorded answer and changes nothing
        status, headers, page = raw("POST", self.api + self.path(inv["link"]),
                                    "satisfaction=1&comment=changed+my+mind")
        self.assertEqual(status, 200)
        self.assertIn("很好", page)
        self.assertNotIn("changed my mind", page)
        self.assertEqual(self.summary()["answered"], after["answered"])
        self.assertEqual(self.surveys(number)[0]["satisfaction"], 5)
        status, _, page = raw("GET", self.api + self.path(inv["link"]))
        self.assertEqual(status, 200)
        self.assertIn("很好", page)
        types = self.chain.outbox_types("survey")
        self.assertEqual(types.count("survey.answered"), after["answered"])

    def test_the_summary_is_the_hand_computed_one_for_known_answers(self):
        """Three invitations sent in a fresh period: answers 5/10, 4/6 and
        none → sent 3, answered 2, response rate 2/3, satisfied share 1.0,
        NPS (1 promoter − 1 detractor) / 2 = 0, average satisfaction 4.5."""
        start = int(time.time() * 1000)
        links = [self.closed_ticket()[1]["link"] for _ in range(3)]
        for link, form in zip(links, ("satisfaction=5&recommend=10",
                                      "satisfaction=4&recommend=6")):
            self.assertEqual(raw("POST", self.api + self.path(link), form)[0], 200)
        status, s = http("GET", f"{self.api}/v1/surveys/summary?from={start}")
        self.assertEqual(status, 200, s)
        self.assertEqual((s["sent"], s["answered"]), (3, 2))
        self.assertAlmostEqual(s["response_rate"], 2 / 3)
        self.assertAlmostEqual(s["satisfied_share"], 1.0)
        self.assertEqual((s["target"], s["meets_target"]), (0.9, True))
        self.assertAlmostEqual(s["nps"], 0.0)
        self.assertAlmostEqual(s["avg_satisfaction"], 4.5)
        status, empty = http("GET", f"{self.api}/v1/surveys/summary?from=2020-01-01&to=2020-02-01")
        self.assertEqual((empty["sent"], empty["satisfied_share"], empty["nps"]), (0, None, None))
        self.assertEqual(http("GET", f"{self.api}/v1/surveys/summary?from=yesterday")[0], 422)

    def test_a_low_score_asks_for_follow_up(self):
        number, inv = self.closed_ticket()
        status, _, page = raw("POST", self.api + self.path(inv["link"]), "satisfaction=2")
        self.assertEqual(status, 200)
        rows = self.chain.pg.query("SELECT count(*) FROM survey.outbox"
                                   " WHERE topic = 'survey.low_score'")
        self.assertGreaterEqual(int(rows[0][0]), 1)

    def test_a_form_with_a_bad_value_comes_back_with_422_and_records_nothing(self):
        number, inv = self.closed_ticket()
        status, headers, page = raw("POST", self.api + self.path(inv["link"]),
                                    "satisfaction=9&recommend=3")
        self.assertEqual((status, headers["Content-Type"]), (422, HTML))
        self.assertIn("<form", page)
        self.assertEqual(self.surveys(number)[0]["status"], "sent")

    def test_forged_links_get_the_invalid_page(self):
        number, inv = self.closed_ticket()
        token = self.path(inv["link"]).rsplit("/", 1)[1]
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        invitation_id = self.chain.pg.scalar(
            f"SELECT invitation_id FROM survey.invitations WHERE ticket_number = '{number}'")
        wrong_key = sign(b"\x07" * 32, "k2", invitation_id, int(time.time()) + 3600)
        unknown_kid = sign(KEY_NEW, "k9", invitation_id, int(time.time()) + 3600)
        for bad in (flipped, "x", "A" * 300, wrong_key, unknown_kid):
            for method in ("GET", "POST"):
                status, headers, page = raw(method, f"{self.api}/s/{bad}",
                                            "satisfaction=5" if method == "POST" else None)
                self.assertEqual(status, 404, (method, bad[:20]))
                self.assertEqual(headers["Content-Type"], HTML)
                self.assertNotIn("<form", page)
        self.assertEqual(self.surveys(number)[0]["status"], "sent")

    def test_links_of_the_previous_key_still_work_and_expired_ones_get_the_expired_page(self):
        number, inv = self.closed_ticket()
        invitation_id = self.chain.pg.scalar(
            f"SELECT invitation_id FROM survey.invitations WHERE ticket_number = '{number}'")
        old = sign(KEY_OLD, "k1", invitation_id, int(time.time()) + 3600)
        self.assertEqual(raw("GET", f"{self.api}/s/{old}")[0], 200)
        expired = sign(KEY_NEW, "k2", invitation_id, int(time.time()) - 5)
        status, headers, page = raw("GET", f"{self.api}/s/{expired}")
        self.assertEqual((status, headers["Content-Type"]), (410, HTML))
        self.assertNotIn("<form", page)
        self.assertEqual(raw("POST", f"{self.api}/s/{expired}", "satisfaction=5")[0], 410)
        self.assertEqual(self.surveys(number)[0]["status"], "sent")

    def test_customers_that_cannot_be_reached_get_no_invitation_but_a_reason(self):
        for kw, reason in (({"email": "noreply@refinery.example.com"}, "no_reply_address"),
                           ({"email": "postmaster@refinery.example.com"}, "postmaster"),
                           ({"email": "MAILER-DAEMON@mx.example.com"}, "mailer_daemon")):
            number, inv = self.closed_ticket(**kw)
            self.assertEqual((inv["status"], inv["skip_reason"], inv["link"]),
                             ("skipped", reason, ""))
        self.assertGreaterEqual(self.summary()["skipped"], 3)
        self.assertGreaterEqual(
            metric(self.api, "cs_survey_invitations_total", 'outcome="mailer_daemon"'), 1)

    def test_a_customer_with_only_a_phone_is_asked_by_sms_with_a_short_link(self):
        number, inv = self.closed_ticket(email=None, phone="+86 138 0013 8000")
        self.assertEqual((inv["status"], inv["channel"]), ("sent", "sms"))
        self.assertTrue(inv["short_link"].startswith(self.api + "/r/"), inv)
        status, headers, _ = raw("GET", inv["short_link"])  # urllib follows the redirect
        self.assertEqual(status, 200)

    def test_the_list_pages_with_offset_and_refuses_bad_paging_or_an_empty_ticket(self):
        numbers = [self.closed_ticket()[0] for _ in range(2)]
        status, whole = http("GET", f"{self.api}/v1/surveys?limit=2")
        self.assertEqual(status, 200, whole)
        newest = [x["invitation_id"] for x in whole["surveys"]]
        self.assertEqual([x["ticket_number"] for x in whole["surveys"]], numbers[::-1])
        paged = []
        for offset in (0, 1):
            status, page = http("GET", f"{self.api}/v1/surveys?limit=1&offset={offset}")
            self.assertEqual((status, page["offset"]), (200, offset), page)
            paged += [x["invitation_id"] for x in page["surveys"]]
        self.assertEqual(paged, newest, "pages of one are the list, in order")
        for query, field in (("ticket=", "ticket"), ("ticket=" + "9" * 65, "ticket"),
                             ("limit=-1", "limit"), ("limit=abc", "limit"), ("limit=", "limit"),
                             ("limit=501", "limit"), ("offset=-1", "offset"),
                             ("offset=abc", "offset")):
            status, body = http("GET", f"{self.api}/v1/surveys?{query}")
            self.assertEqual(status, 422, f"{query}: {body}")
            self.assertEqual(body["error"]["field"], field, query)

    def test_metrics_count_invitations_and_answers_and_show_the_satisfied_share(self):
        number, inv = self.closed_ticket()
        raw("POST", self.api + self.path(inv["link"]), "satisfaction=4")
        self.assertGreaterEqual(metric(self.api, "cs_survey_invitations_total",
                                       'outcome="sent"'), 1)
        self.assertGreaterEqual(metric(self.api, "cs_survey_answers_total"), 1)
        share = self.summary()["satisfied_share"]
        wait_for(lambda: abs(metric(self.api, "cs_survey_satisfied_share") - share) < 1e-9, 10,
                 "the satisfied-share gauge equals the all-time summary")


class SurveyStoredKeyTest(unittest.TestCase):
    """Without CS_SURVEY_LINK_KEYS the service makes one key and keeps it."""

    @classmethod
    def setUpClass(cls):
        cls.chain = Chain("survey-key", PG_PORT, 15000, ["complaint", "survey"], NOW)
        cls.chain.start_all()
        cls.api = cls.chain.url("survey")

    @classmethod
    def tearDownClass(cls):
        cls.chain.stop_all()

    def test_a_generated_key_is_kept_so_links_survive_a_restart(self):
        number = self.chain.submit("Valve leak", "Valve V-12 leaks.", language="en")
        self.chain.close_ticket(number)

        def link():
            status, body = http("GET", f"{self.api}/v1/surveys?ticket={number}")
            return body["surveys"][0]["link"] if body["surveys"] else None
        url = wait_for(link, 30, "the invitation")
        path = urllib.parse.urlsplit(url).path
        self.assertEqual(self.chain.pg.scalar("SELECT count(*) FROM survey.link_keys"), "1")
        self.chain.stop("survey")
        self.chain.start("survey")
        self.assertEqual(self.chain.pg.scalar("SELECT count(*) FROM survey.link_keys"), "1")
        status, headers, page = raw("GET", self.api + path)
        self.assertEqual(status, 200)
        self.assertIn('<html lang="en">', page)


if __name__ == "__main__":
    main()
