"""Complaints, end to end: a customer's complaint at intake's front door
becomes a complaint case through dispatch, and handlers accept and close it
over HTTP; the state machine refuses every other move with 409.

Real PostgreSQL, real cs-intake and cs-complaint, cs-dispatch and
cs-sla (chain.py).
"""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from chain import Chain, http, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import main, metric  # noqa: E402

PG_PORT = 55467
OFFSET = 13000  # intake 20100, dispatch 20200, complaint 20400 ...
HOUR_MS = 3600 * 1000


class ComplaintTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chain = Chain("complaint", PG_PORT, OFFSET, ["complaint"])
        cls.chain.start_all()
        cls.api = cls.chain.url("complaint")

    @classmethod
    def tearDownClass(cls):
        cls.chain.stop_all()

    def case_of(self, number, timeout=30):
        def get():
            status, body = http("GET", f"{self.api}/v1/complaints?ticket={number}")
            self.assertEqual(status, 200, body)
            return body["complaints"][0] if body["complaints"] else None
        return wait_for(get, timeout, f"a complaint case for {number}")

    def new_case(self):
        number = self.chain.submit("投诉：第三批溶剂油交货延误一周",
                                   "我们对贵公司的交货延误非常不满，要求书面说明原因。",
                                   service_type="complaint")
        return number, self.case_of(number)

    def post(self, case, action, body):
        return http("POST", f"{self.api}/v1/complaints/{case['complaint_id']}/{action}", body)

    def test_a_complaint_request_opens_one_received_case_due_within_24_hours(self):
        number, case = self.new_case()
        self.assertEqual(case["status"], "received")
        self.assertEqual(case["ticket_number"], number)
        status, full = http("GET", f"{self.api}/v1/complaints/{case['complaint_id']}")
        self.assertEqual(status, 200)
        self.assertEqual([h["to"] for h in full["history"]], ["received"])
        ms = self.chain.pg.query(
            "SELECT (extract(epoch FROM accept_due - received_at) * 1000)::bigint"
            f" FROM complaint.complaint_cases WHERE ticket_number = '{number}'")
        self.assertEqual(int(ms[0][0]), 24 * HOUR_MS)
        self.assertIn("complaint.opened", self.chain.outbox_types("complaint"))
        # found by ticket number as well as by id
        status, same = http("GET", f"{self.api}/v1/complaints/{number}")
        self.assertEqual((status, same["complaint_id"]), (200, case["complaint_id"]))

    def test_a_case_is_accepted_then_closed_and_each_move_is_announced(self):
        number, case = self.new_case()
        status, body = self.post(case, "accept", {"handler": "li.wei"})
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["handler"]), ("accepted", "li.wei"))
        self.assertIsNotNone(body["accepted_at"])
        status, body = self.post(case, "close", {"handler": "li.wei",
                                                 "resolution": "已补发货物并减免运费。"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "resolved")
        self.assertEqual(body["resolution"], "已补发货物并减免运费。")
        self.assertEqual([h["to"] for h in body["history"]], ["received", "accepted", "resolved"])
        rows = self.chain.pg.query(
            "SELECT count(*) FILTER (WHERE topic = 'complaint.accepted'),"
            " count(*) FILTER (WHERE topic = 'complaint.resolved') FROM complaint.outbox")
        self.assertGreaterEqual(int(rows[0][0]), 1)
        self.assertGreaterEqual(int(rows[0][1]), 1)

    def test_illegal_moves_are_refused_with_409_naming_the_current_status(self):
        number, case = self.new_case()
        status, body = self.post(case, "close", {"handler": "li.wei", "resolution": "x"})
        self.assertEqual(status, 409, body)
        self.assertIn("received", body["error"]["message"])
        self.assertEqual(self.post(case, "accept", {"handler": "li.wei"})[0], 200)
        status, body = self.post(case, "accept", {"handler": "zhang.san"})
        self.assertEqual(status, 409, body)
        self.assertIn("accepted", body["error"]["message"])
        self.assertEqual(self.post(case, "close", {"handler": "li.wei", "resolution": "ok"})[0],
                         200)
        status, body = self.post(case, "close", {"handler": "li.wei", "resolution": "again"})
        self.assertEqual(status, 409, body)
        self.assertIn("resolved", body["error"]["message"])
        status, full = http("GET", f"{self.api}/v1/complaints/{case['complaint_id']}")
        self.assertEqual(full["handler"], "li.wei")
        self.assertEqual(full["resolution"], "ok")

    def test_bad_input_is_422_naming_the_field_and_changes_nothing(self):
        number, case = self.new_case()
        for body, field in (({}, "handler"), ({"handler": 7}, "handler"),
                            ({"handler": "li wei"}, "handler"),
                            ({"handler": "x" * 65}, "handler")):
            status, out = self.post(case, "accept", body)
            self.assertEqual((status, out["error"]["field"]), (422, field), body)
        status, out = http("POST", f"{self.api}/v1/complaints/{case['complaint_id']}/accept",
                           "{not json", {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertEqual(self.post(case, "accept", {"handler": "li.wei"})[0], 200)
        status, out = self.post(case, "close", {"handler": "li.wei", "resolution": "   "})
        self.assertEqual((status, out["error"]["field"]), (422, "resolution"))
        status, out = self.post(case, "close", {"handler": "li.wei", "resolution": "z" * 9000})
        self.assertEqual((status, out["error"]["field"]), (422, "resolution"))
        status, full = http("GET", f"{self.api}/v1/complaints/{case['complaint_id']}")
        self.assertEqual(full["status"], "accepted")

    def test_an_unknown_case_is_404(self):
        for key in ("00000000-0000-4000-8000-000000000000", "CS-1999-000001", "%27%3B--"):
            status, body = http("POST", f"{self.api}/v1/complaints/{key}/accept",
                                {"handler": "li.wei"})
            self.assertEqual(status, 404, key)
            self.assertEqual(http("GET", f"{self.api}/v1/complaints/{key}")[0], 404)

    def test_a_request_dispatch_classifies_as_a_complaint_opens_a_case_too(self):
        number = self.chain.submit("关于上月油品质量的投诉", "收到的柴油含水量超标，我们非常不满意。")
        case = self.case_of(number)
        self.assertEqual(case["status"], "received")

    def test_a_ticket_that_is_not_a_complaint_opens_no_case(self):
        other = self.chain.submit("Training request: tank gauging", "Please train 5 operators.",
                                  service_type="training", language="en")
        number, _ = self.new_case()  # same stream, later: once it is there, `other` was seen
        status, body = http("GET", f"{self.api}/v1/complaints?ticket={other}")
        self.assertEqual((status, body["complaints"]), (200, []))

    def test_listing_filters_by_status_and_refuses_unknown_ones(self):
        number, case = self.new_case()
        status, body = http("GET", f"{self.api}/v1/complaints?status=received&limit=500")
        self.assertEqual(status, 200)
        self.assertIn(case["complaint_id"], [c["complaint_id"] for c in body["complaints"]])
        self.assertTrue(all(c["status"] == "received" for c in body["complaints"]))
        self.assertEqual(http("GET", f"{self.api}/v1/complaints?status=closed")[0], 422)
        self.assertEqual(http("GET", f"{self.api}/v1/complaints?limit=0")[0], 422)

    def test_listing_pages_with_offset_and_refuses_bad_paging_or_an_empty_ticket(self):
        cases = [self.new_case()[1]["complaint_id"] for _ in range(2)]
        status, whole = http("GET", f"{self.api}/v1/complaints?limit=2")
        self.assertEqual(status, 200, whole)
        newest = [c["complaint_id"] for c in whole["complaints"]]
        self.assertEqual(newest, cases[::-1], "newest first")
        paged = []
        for offset in (0, 1):
            status, page = http("GET", f"{self.api}/v1/complaints?limit=1&offset={offset}")
            self.assertEqual((status, page["offset"]), (200, offset), page)
            paged += [c["complaint_id"] for c in page["complaints"]]
        self.assertEqual(paged, newest, "pages of one are the list, in order")
        for query, field in (("ticket=", "ticket"), ("ticket=" + "9" * 65, "ticket"),
                             ("ticket=%C3%A9", "ticket"), ("limit=-1", "limit"),
                             ("limit=abc", "limit"), ("limit=", "limit"),
                             ("limit=501", "limit"), ("offset=-1", "offset"),
                             ("offset=abc", "offset")):
            status, body = http("GET", f"{self.api}/v1/complaints?{query}")
            self.assertEqual(status, 422, f"{query}: {body}")
            self.assertEqual(body["error"]["field"], field, query)

    def test_stats_and_the_open_gauge_follow_the_cases(self):
        number, case = self.new_case()
        status, stats = http("GET", f"{self.api}/v1/stats")
        self.assertEqual(status, 200)
        open_before = stats["open"]
        self.assertEqual(stats["open"], stats["complaints"] - stats["by_status"]["resolved"]
                         - stats["by_status"]["archived"])
        wait_for(lambda: metric(self.api, "cs_complaint_open") == open_before, 10,
                 "cs_complaint_open equals the open cases")
        self.post(case, "accept", {"handler": "li.wei"})
        self.post(case, "close", {"handler": "li.wei", "resolution": "done"})
        status, stats = http("GET", f"{self.api}/v1/stats")
        self.assertEqual(stats["open"], open_before - 1)
        wait_for(lambda: metric(self.api, "cs_complaint_open") == open_before - 1, 10,
                 "cs_complaint_open drops when a case is resolved")

    def test_replaying_dispatch_from_the_start_opens_no_second_case(self):
        number, case = self.new_case()
        before = self.chain.pg.scalar("SELECT count(*) FROM complaint.complaint_cases")
        self.chain.procs["complaint"].kill(signal.SIGKILL)
        self.chain.procs.pop("complaint")
        self.chain.pg.query("UPDATE complaint.inbox_checkpoint SET last_seq = 0")
        self.chain.start("complaint")
        self.chain.wait_ready("complaint")
        self.chain.caught_up("complaint")  # dispatch's stream replayed from sequence 1
        after = self.chain.pg.scalar("SELECT count(*) FROM complaint.complaint_cases")
        self.assertEqual(after, before)
        opened = self.chain.pg.scalar(
            "SELECT count(*) FROM complaint.outbox WHERE topic = 'complaint.opened'")
        self.assertEqual(opened, before, "one complaint.opened per case, replay or not")


if __name__ == "__main__":
    main()
