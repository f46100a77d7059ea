"""Dispatch end to end: intake's web API in, dispatch's tickets, history and
outbox out, over real processes, sockets and PostgreSQL.

A request POSTed to intake becomes intake.ticket.created on the bus; dispatch
classifies it, assigns it (or queues it) and emits dispatch.ticket.accepted
and .assigned in the same transaction. Agents then act over dispatch's HTTP
API. Events are checked in dispatch.outbox by topic and by the ticket number
inside the packed envelope (no protobuf decoding needed).
"""
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, ROOT, Postgres, Service, http, main, metric, wait_for  # noqa: E402

PG_PORT = 55488
INTAKE = "http://127.0.0.1:17610"
DISPATCH = "http://127.0.0.1:17660"
LOGS = os.path.join(BUILD, "test-var", "dispatch")

PORTS = {
    "CS_INTAKE_HTTP_PORT": "17610", "CS_INTAKE_PUB_PORT": "17611",
    "CS_INTAKE_REPLAY_PORT": "17612", "CS_INTAKE_SMTP_PORT": "17625",
    "CS_DISPATCH_HTTP_PORT": "17660", "CS_DISPATCH_PUB_PORT": "17661",
    "CS_DISPATCH_REPLAY_PORT": "17662",
    # dispatch reads sla too; nothing runs there in these tests
    "CS_SLA_PUB_PORT": "17691", "CS_SLA_REPLAY_PORT": "17692",
}

CUSTOMER = {"name": "周建国", "email": "zhou.jianguo@example-chem.cn",
            "phone": "+86 21 5555 0101", "company": "华东某化工有限公司",
            "industry": "chemical_producer", "tier": "large"}


class Stack:
    """A fresh cluster with intake and dispatch on test ports."""

    def __init__(self, name):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.pg = Postgres("dispatch-" + name, PG_PORT)
        self.pg.start(["intake", "dispatch", "sla"])
        self.env = dict(os.environ, CS_DB_URL=self.pg.conninfo(), CS_LOG_LEVEL="info",
                        CS_DISPATCH_RULES=os.path.join(
                            ROOT, "services/dispatch/rules/classify.rules"), **PORTS)
        self.intake = self.start("intake", INTAKE)
        self.dispatch = self.start("dispatch", DISPATCH)

    def start(self, svc, url):
        s = Service(svc, [os.path.join(BUILD, "bin", "cs-" + svc)], self.env,
                    os.path.join(LOGS, f"{self.name}-{svc}.log"))
        s.start()
        wait_for(lambda: http("GET", url + "/healthz")[0] == 200, 30, f"{svc} up")
        return s

    def stop(self):
        for s in (self.dispatch, self.intake):
            s.stop()
        self.pg.stop()

    # ---- helpers ------------------------------------------------------------------
    def request(self, subject, description, **extra):
        body = {"channel": "web", "customer": CUSTOMER, "subject": subject,
                "description": description}
        body.update(extra)
        status, answer = http("POST", INTAKE + "/v1/requests", body)
        assert status == 201, (status, answer)
        return answer["ticket_number"]

    def ticket(self, number):
        rows = self.pg.query(
            "SELECT status, service_type, priority, coalesce(team, ''),"
            " coalesce(assignee, ''), coalesce(owner, '')"
            f" FROM dispatch.tickets WHERE number = '{number}'")
        if not rows:
            return None
        keys = ("status", "service_type", "priority", "team", "assignee", "owner")
        return dict(zip(keys, rows[0]))

    def wait_ticket(self, number, status=None, timeout=20):
        def ready():
            t = self.ticket(number)
            return t if t and (status is None or t["status"] == status) else None
        return wait_for(ready, timeout, f"ticket {number} {status or 'in dispatch'}")

    def events(self, number, topic):
        """Outbox rows of topic whose envelope carries this ticket number."""
        return int(self.pg.scalar(
            f"SELECT count(*) FROM dispatch.outbox WHERE topic = '{topic}'"
            f" AND position(convert_to('{number}', 'UTF8') IN envelope) > 0"))

    def act(self, number, action, body):
        return http("POST", f"{DISPATCH}/v1/tickets/{number}/{action}", body)


class DispatchFlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Stack("flow")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_a_web_request_is_classified_and_assigned_to_a_skilled_agent(self):
        s = self.s
        number = s.request("3号储罐区VOC在线监测数据异常", "今天上午开始在线监测数据持续超标。")
        t = s.wait_ticket(number)
        self.assertEqual(t["service_type"], "environmental_compliance")
        self.assertEqual(t["status"], "assigned")
        # environmental compliance: liu.yang (north) or zhao.min (east), both online
        region = {"liu.yang": "north", "zhao.min": "east"}
        self.assertIn(t["assignee"], region)
        self.assertEqual(t["team"], "env-" + region[t["assignee"]], "the team of the agent's region")
        self.assertEqual(t["owner"], t["assignee"], "the first agent is the first-contact owner")
        self.assertEqual(s.events(number, "dispatch.ticket.accepted"), 1)
        self.assertEqual(s.events(number, "dispatch.ticket.assigned"), 1)
        status, body = http("GET", f"{DISPATCH}/v1/tickets/{number}")
        self.assertEqual(status, 200)
        self.assertEqual([h["action"] for h in body["history"]], ["accept", "assign"])
        self.assertEqual(body["first_response_minutes"] > 0, True)

    def test_a_complaint_goes_to_customer_relations(self):
        s = self.s
        number = s.request("投诉：维修人员态度差", "上周的维修服务我们非常不满意，要求给出说法。")
        t = s.wait_ticket(number)
        self.assertEqual(t["service_type"], "complaint")
        self.assertIn(t["assignee"], ("chen.jing", "zhou.qian", "xu.li"))
        self.assertEqual(t["team"], "cmp-east")

    def test_respond_resolve_close_emit_one_event_each(self):
        s = self.s
        number = s.request("离心泵异响", "2号离心泵运行时有异响，振动偏大，请安排检修。")
        t = s.wait_ticket(number, "assigned")
        agent = t["assignee"]
        status, body = s.act(number, "respond", {"agent": agent, "message": "已安排工程师明早到场。"})
        self.assertEqual((status, body["status"]), (200, "in_progress"), body)
        status, body = s.act(number, "resolve", {"agent": agent, "report": "更换轴承，振动恢复正常。"})
        self.assertEqual((status, body["status"]), (200, "resolved"), body)
        status, body = s.act(number, "close", {"agent": agent})
        self.assertEqual((status, body["status"]), (200, "closed"), body)
        self.assertEqual(s.ticket(number)["status"], "closed")
        for topic in ("accepted", "assigned", "responded", "resolved", "closed"):
            self.assertEqual(s.events(number, "dispatch.ticket." + topic), 1, topic)
        status, body = http("GET", f"{DISPATCH}/v1/tickets/{number}")
        self.assertEqual([h["action"] for h in body["history"]],
                         ["accept", "assign", "respond", "resolve", "close"])
        self.assertEqual(body["history"][2]["actor"], agent)
        self.assertEqual(body["history"][3]["message"], "更换轴承，振动恢复正常。")

    def test_illegal_moves_are_409_naming_the_status_and_emit_nothing(self):
        s = self.s
        number = s.request("换热器结垢", "换热器效率下降，怀疑结垢，请评估。")
        agent = s.wait_ticket(number, "assigned")["assignee"]
        status, body = s.act(number, "close", {"agent": agent})
        self.assertEqual(status, 409)
        self.assertEqual(body["error"]["message"],
                         f"ticket {number} is assigned; it cannot be closed now")
        status, body = s.act(number, "resolve", {"agent": agent, "report": "x"})
        self.assertEqual(status, 409, "a ticket is resolved only after a response")
        self.assertEqual(body["error"]["message"],
                         f"ticket {number} is assigned; it cannot be resolved now")
        status, body = s.act(number, "reopen", {"agent": agent, "reason": "x"})
        self.assertEqual(body["error"]["message"],
                         f"ticket {number} is assigned; it cannot be reopened now")
        self.assertEqual(s.ticket(number)["status"], "assigned")
        self.assertEqual(s.events(number, "dispatch.ticket.closed"), 0)
        self.assertEqual(s.events(number, "dispatch.ticket.resolved"), 0)
        # a closed ticket cannot be responded to
        s.act(number, "respond", {"agent": agent, "message": "收到"})
        s.act(number, "resolve", {"agent": agent, "report": "已清洗"})
        s.act(number, "close", {"agent": agent})
        status, body = s.act(number, "respond", {"agent": agent, "message": "again"})
        self.assertEqual(status, 409)
        self.assertEqual(body["error"]["message"],
                         f"ticket {number} is closed; it cannot be responded to now")
        for action, done in (("hold", "put on hold"), ("terminate", "terminated"),
                             ("close", "closed")):
            status, body = s.act(number, action, {"agent": agent, "reason": "x"})
            self.assertEqual((status, body["error"]["message"]),
                             (409, f"ticket {number} is closed; it cannot be {done} now"))

    def test_an_agent_who_is_neither_assignee_nor_owner_gets_403(self):
        s = self.s
        number = s.request("设备巡检", "申请对加热炉进行年度巡检。", service_type="equipment_maintenance")
        t = s.wait_ticket(number, "assigned")
        stranger = "xu.li" if t["assignee"] != "xu.li" else "chen.jing"
        status, body = s.act(number, "respond", {"agent": stranger, "message": "hello"})
        self.assertEqual(status, 403)
        self.assertEqual(body["error"]["field"], "agent")
        status, _ = s.act(number, "respond", {"agent": "nobody.here", "message": "hello"})
        self.assertEqual(status, 403)
        self.assertEqual(s.events(number, "dispatch.ticket.responded"), 0)

    def test_unknown_tickets_are_404_and_bad_bodies_422(self):
        s = self.s
        self.assertEqual(s.act("CS-1999-999999", "respond", {"agent": "wang.lei", "message": "x"})[0], 404)
        self.assertEqual(http("GET", f"{DISPATCH}/v1/tickets/CS-1999-999999")[0], 404)
        self.assertEqual(http("GET", f"{DISPATCH}/v1/tickets/%27%3B--")[0], 404)
        number = s.request("培训需求", "希望安排一次安全操作培训。", service_type="training")
        s.wait_ticket(number)
        status, body = s.act(number, "respond", {"agent": "wang.lei"})
        self.assertEqual((status, body["error"]["field"]), (422, "message"))
        status, body = s.act(number, "respond", {"agent": 7, "message": "x"})
        self.assertEqual((status, body["error"]["field"]), (422, "agent"))
        status, body = s.act(number, "respond", {"agent": "wang.lei", "message": "长" * 6000})
        self.assertEqual((status, body["error"]["field"]), (422, "message"))
        self.assertEqual(http("POST", f"{DISPATCH}/v1/tickets/{number}/respond", "{not json")[0], 400)
        self.assertEqual(http("GET", f"{DISPATCH}/v1/tickets?status=open")[0], 422)
        self.assertEqual(http("GET", f"{DISPATCH}/v1/tickets?limit=0")[0], 422)

    def test_ticket_lists_page_with_offset_without_overlap_in_intake_and_dispatch(self):
        s = self.s
        numbers = [s.request(f"年度检修申请 {i}", "申请安排年度设备检修。") for i in range(3)]
        for n in numbers:
            s.wait_ticket(n)
        for api in (INTAKE, DISPATCH):
            status, whole = http("GET", f"{api}/v1/tickets?limit=3")
            self.assertEqual(status, 200, whole)
            first3 = [t["number"] for t in whole["tickets"]]
            self.assertEqual(set(first3), set(numbers), f"{api}: the newest three")
            paged = []
            for offset in range(3):
                status, page = http("GET", f"{api}/v1/tickets?limit=1&offset={offset}")
                self.assertEqual((status, page["offset"]), (200, offset), page)
                paged += [t["number"] for t in page["tickets"]]
            self.assertEqual(paged, first3, f"{api}: pages of one are the list, in order")
            status, older = http("GET", f"{api}/v1/tickets?limit=500&offset=2")
            self.assertEqual([t["number"] for t in older["tickets"]][:1], first3[2:], api)

    def test_ticket_lists_refuse_bad_paging_naming_the_parameter(self):
        for api in (INTAKE, DISPATCH):
            for query, field in (("limit=-1", "limit"), ("limit=abc", "limit"),
                                 ("limit=", "limit"), ("limit=1e2", "limit"),
                                 ("limit=99999", "limit"), ("offset=-1", "offset"),
                                 ("offset=abc", "offset"), ("offset=", "offset"),
                                 ("offset=99999999999", "offset")):
                status, body = http("GET", f"{api}/v1/tickets?{query}")
                self.assertEqual(status, 422, f"{api} {query}: {body}")
                self.assertEqual(body["error"]["field"], field, f"{api} {query}")
                self.assertIn(field, body["error"]["message"])

    def test_nobody_fits_the_ticket_waits_in_the_queue_until_someone_does(self):
        s = self.s
        # training: li.na is the only one online (wu.haoran is away)
        self.assertEqual(http("POST", f"{DISPATCH}/v1/agents/li.na/presence",
                              {"presence": "offline"})[0], 200)
        try:
            number = s.request("操作培训", "新员工需要DCS操作培训。", service_type="training")
            t = s.wait_ticket(number)
            self.assertEqual((t["status"], t["assignee"], t["team"]), ("queued", "", "trn-east"))
            self.assertEqual(s.events(number, "dispatch.ticket.accepted"), 1)
            self.assertEqual(s.events(number, "dispatch.ticket.assigned"), 0)
            status, body = http("GET", f"{DISPATCH}/v1/tickets?status=queued")
            self.assertIn(number, [x["number"] for x in body["tickets"]])
        finally:
            http("POST", f"{DISPATCH}/v1/agents/li.na/presence", {"presence": "online"})
        t = s.wait_ticket(number, "assigned", timeout=10)
        self.assertEqual((t["assignee"], t["owner"]), ("li.na", "li.na"))
        self.assertEqual(s.events(number, "dispatch.ticket.assigned"), 1)

    def test_stats_and_metrics_add_up(self):
        s = self.s
        s.wait_ticket(s.request("原油供货", "请确认下月原油供货计划。", service_type="product_supply"))
        total = int(s.pg.scalar("SELECT count(*) FROM dispatch.tickets"))
        status, body = http("GET", f"{DISPATCH}/v1/stats")
        self.assertEqual(status, 200)
        self.assertEqual(body["tickets"], total)
        for key in ("by_type", "by_team", "by_status", "by_priority", "by_channel"):
            self.assertEqual(sum(body[key].values()), total, key)
        self.assertEqual(body["by_channel"].get("web"), total)
        self.assertGreaterEqual(metric(DISPATCH, "cs_dispatch_tickets_total",
                                       'type="product_supply"'), 1)
        wait_for(lambda: metric(DISPATCH, "cs_dispatch_open_tickets") ==
                 int(s.pg.scalar("SELECT count(*) FROM dispatch.tickets"
                                 " WHERE status NOT IN ('closed', 'terminated')")),
                 25, "open tickets gauge (refreshed every 10 s; the sum over its groups)")


class DispatchRestartTest(unittest.TestCase):
    """SIGKILL dispatch while requests flow: after restart, every request is
    exactly one ticket with exactly one accepted event."""

    @classmethod
    def setUpClass(cls):
        cls.s = Stack("restart")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_no_ticket_twice_after_a_kill_mid_way(self):
        s = self.s
        n = 60
        subjects = ["离心泵异响", "VOC在线监测数据异常", "投诉服务态度差", "申请安全检查",
                    "催化剂更换咨询", "DCS趋势数据缺失"]
        numbers = []

        def post(first, last):
            for i in range(first, last):
                numbers.append(s.request(f"{subjects[i % len(subjects)]} #{i}", "详见附件说明。"))

        # the first half flows while dispatch works on it and is killed ...
        sender = threading.Thread(target=post, args=(0, n // 2))
        sender.start()
        wait_for(lambda: int(s.pg.scalar("SELECT count(*) FROM dispatch.tickets")) >= 5, 30,
                 "dispatch under way")
        s.dispatch.kill(signal.SIGKILL)
        seen_before = int(s.pg.scalar("SELECT count(*) FROM dispatch.tickets"))
        sender.join(120)
        # ... the second half arrives while it is down
        post(n // 2, n)
        self.assertEqual(len(numbers), n)
        s.dispatch = s.start("dispatch", DISPATCH)
        wait_for(lambda: int(s.pg.scalar("SELECT count(*) FROM dispatch.tickets")) >= n, 60,
                 "every request in dispatch")
        time.sleep(1.0)  # anything applied twice would show now
        self.assertLess(seen_before, n, "the kill happened mid-way")
        self.assertEqual(int(s.pg.scalar("SELECT count(*) FROM dispatch.tickets")), n)
        self.assertEqual(int(s.pg.scalar("SELECT count(DISTINCT number) FROM dispatch.tickets")), n)
        accepted = int(s.pg.scalar(
            "SELECT count(*) FROM dispatch.outbox WHERE topic = 'dispatch.ticket.accepted'"))
        self.assertEqual(accepted, n, "one accepted event per ticket")
        twice = s.pg.query(
            "SELECT t.number FROM dispatch.tickets t JOIN dispatch.outbox o"
            " ON o.topic = 'dispatch.ticket.accepted'"
            " AND position(convert_to(t.number, 'UTF8') IN o.envelope) > 0"
            " GROUP BY t.number HAVING count(*) <> 1")
        self.assertEqual(twice, [])
        assigned = int(s.pg.scalar(
            "SELECT count(*) FROM dispatch.outbox WHERE topic = 'dispatch.ticket.assigned'"))
        with_agent = int(s.pg.scalar(
            "SELECT count(*) FROM dispatch.tickets WHERE assignee IS NOT NULL"))
        self.assertEqual(assigned, with_agent, "one assigned event per assigned ticket")
        self.assertEqual(sorted(numbers), sorted(
            r[0] for r in s.pg.query("SELECT number FROM dispatch.tickets")))
        # and the relay published them all: every row numbered, densely
        wait_for(lambda: s.pg.scalar(
            "SELECT count(*) FROM dispatch.outbox WHERE seq IS NULL") == "0", 10, "relay")
        self.assertEqual(s.pg.query("SELECT count(*), min(seq), max(seq) FROM dispatch.outbox"),
                         [[str(accepted + assigned), "1", str(accepted + assigned)]])


if __name__ == "__main__":
    main()
