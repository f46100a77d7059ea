"""csctl, the operator's command line.

Desk: each service is replaced by a small HTTP server on a test port answering
/readyz with the JSON a real service gives (common/cs_service.c), and the API
routes csctl reads (dispatch's /v1/tickets, the report routes), so every case —
a silent stream, a reader that never heard, a service down, a report route
that is not there yet — can be set up exactly. csctl finds them through
CS_<SVC>_HTTP_PORT like the real thing, and runs with --no-bus (the stand-ins
publish no heartbeats).

LiveStack: the real six services (ports moved by 22000, PostgreSQL on 55537):
status with the heartbeats heard on the bus (uptime, health), replay of a
stream, tickets, and a service killed.
"""
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, main, wait_for  # noqa: E402

CSCTL = os.path.join(BUILD, "bin", "csctl")
SERVICES = ["intake", "dispatch", "sla", "complaint", "survey", "notify"]
PORTS = {s: 18731 + i for i, s in enumerate(SERVICES)}
NOBODY_PORT = 18739  # nothing listens here: a service that is down

READS = {"intake": [], "dispatch": [("intake", "intake-0"), ("sla", "sla-0")],
         "sla": [("dispatch", "dispatch-0")], "complaint": [("dispatch", "dispatch-0")],
         "survey": [("dispatch", "dispatch-0")],
         "notify": [("dispatch", "dispatch-0"), ("survey", "survey-0")]}


def healthy(service):
    """/readyz of a ready service hearing every stream it reads."""
    return {"ready": True, "service": service, "stream": service + "-0", "version": "0.1.0",
            "database": True, "migrations": True, "lag": 0, "relay": True, "head": 40,
            "outbox_backlog": 0, "reasons": [],
            "reads": [{"peer": p, "stream": st, "synced": True, "gone": False,
                       "checkpoint": 40, "head": 40, "lag": 0, "health": "ok",
                       "heartbeat_age_ms": 300} for p, st in READS[service]]}


class Desk:
    """Six stand-in services; answers[service] is what its /readyz says."""

    def __init__(self):
        self.answers = {s: healthy(s) for s in SERVICES}
        self.routes = {}
        self.paths = []
        self.servers = []
        for s in SERVICES:
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORTS[s]), self.handler(s))
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.servers.append(srv)

    def handler(self, service):
        desk = self

        class Readyz(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                desk.paths.append((service, self.path))
                route = self.path.split("?")[0]
                if route != "/readyz":
                    status, answer = desk.routes.get((service, route), (404, {"error": {
                        "field": None, "message": "no such resource"}}))
                    body = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                body = json.dumps(desk.answers[service]).encode()
                self.send_response(200 if desk.answers[service]["ready"] else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        return Readyz

    def stop(self):
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()


class CsctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.desk = Desk()

    @classmethod
    def tearDownClass(cls):
        cls.desk.stop()

    def setUp(self):
        self.desk.answers = {s: healthy(s) for s in SERVICES}
        self.desk.routes = {}
        self.desk.paths = []
        self.ports = dict(PORTS)

    def csctl(self, command, *args):
        env = dict(os.environ)
        for s in SERVICES:
            env[f"CS_{s.upper()}_HTTP_PORT"] = str(self.ports[s])
            env[f"CS_{s.upper()}_HOST"] = "127.0.0.1"
            env.pop(f"CS_{s.upper()}_HTTP_CONNECT", None)
        r = subprocess.run([CSCTL, "--no-bus", command, *args], env=env, capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def read_of(self, service, peer):
        return next(r for r in self.desk.answers[service]["reads"] if r["peer"] == peer)

    def test_lag_names_the_reading_service_on_each_line_under_a_header(self):
        rc, out = self.csctl("lag")
        self.assertEqual(rc, 0, out)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["SERVICE", "PEER", "STREAM", "CHECKPOINT", "HEAD",
                                            "LAG", "HEARTBEAT"])
        readers_of_dispatch = [ln.split()[0] for ln in lines[1:]
                               if ln.split()[1:4] == ["reads", "dispatch", "dispatch-0"]]
        self.assertEqual(sorted(readers_of_dispatch), ["complaint", "notify", "sla", "survey"],
                         out)
        self.assertEqual(len(set(lines[1:])), len(lines[1:]), "no two lines alike:\n" + out)
        # one line per (service, stream): dispatch 2, sla 1, complaint 1, survey 1, notify 2
        self.assertEqual(len(lines) - 1, 7, out)
        sla = next(ln for ln in lines if ln.startswith("sla "))
        self.assertEqual(sla.split()[:10], ["sla", "reads", "dispatch", "dispatch-0",
                                            "checkpoint", "40", "head", "40", "lag", "0"])

    def test_status_exits_0_when_every_service_is_ready_and_hears_its_streams(self):
        rc, out = self.csctl("status")
        self.assertEqual(rc, 0, out)
        self.assertIn("SERVICE", out.splitlines()[0])
        self.assertIn("    reads dispatch", out, "status still lists the streams read")

    def test_status_exits_1_naming_a_stream_silent_for_more_than_5_seconds(self):
        self.read_of("complaint", "dispatch")["heartbeat_age_ms"] = 8000
        rc, out = self.csctl("status")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"complaint .*dispatch dispatch-0.*8000 ms", "says which and why")

    def test_a_heartbeat_just_under_5_seconds_is_not_stale(self):
        self.read_of("sla", "dispatch")["heartbeat_age_ms"] = 4900
        rc, out = self.csctl("status")
        self.assertEqual(rc, 0, out)

    def test_status_exits_1_when_a_reader_never_heard_its_stream(self):
        self.read_of("notify", "survey")["heartbeat_age_ms"] = -1
        rc, out = self.csctl("status")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"notify .*never.*survey survey-0")

    def test_status_exits_1_when_a_service_is_down_or_not_ready(self):
        self.ports["survey"] = NOBODY_PORT
        rc, out = self.csctl("status")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^survey +\? +down")
        self.ports["survey"] = PORTS["survey"]
        self.desk.answers["sla"]["ready"] = False
        self.desk.answers["sla"]["reasons"] = ["database unreachable"]
        rc, out = self.csctl("status")
        self.assertEqual(rc, 1, out)
        self.assertIn("not ready: database unreachable", out)

    def test_status_exits_1_on_warnings_though_ready(self):
        # a ready service whose heartbeats say "degraded" (cs_service.c): dead letters
        self.desk.answers["notify"]["warnings"] = ["2 events of dispatch-0 set aside as dead"
                                                   " letters"]
        rc, out = self.csctl("status")
        self.assertEqual(rc, 1, out)
        self.assertIn("warning: 2 events of dispatch-0 set aside", out)

    def test_status_reads_every_instance_of_a_scaled_out_service(self):
        second = healthy("intake")
        second["stream"] = "intake-1"
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", NOBODY_PORT + 1), self.desk.handler(
            "intake"))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            env_list = (f"http://127.0.0.1:{PORTS['intake']},"
                        f"http://127.0.0.1:{NOBODY_PORT}")  # the second instance is down
            os.environ["CS_INTAKE_HTTP_CONNECT"] = env_list
            try:
                env = dict(os.environ)
                for s in SERVICES:
                    env[f"CS_{s.upper()}_HTTP_PORT"] = str(PORTS[s])
                r = subprocess.run([CSCTL, "--no-bus", "status"], env=env, capture_output=True,
                                   text=True, timeout=60)
            finally:
                del os.environ["CS_INTAKE_HTTP_CONNECT"]
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(r.returncode, 1, r.stdout)
        intake_lines = [ln for ln in r.stdout.splitlines() if ln.startswith("intake ")]
        self.assertEqual(len(intake_lines), 2, r.stdout)
        self.assertIn(f"down: intake answers nothing at http://127.0.0.1:{NOBODY_PORT}/readyz",
                      r.stdout)

    def test_tickets_prints_dispatch_list_and_passes_the_filters(self):
        self.desk.routes[("dispatch", "/v1/tickets")] = (200, {"count": 2, "offset": 0, "tickets": [
            {"number": "CS-2026-000007", "status": "assigned", "priority": "P1",
             "service_type": "safety_inspection", "channel": "phone", "assignee": "wang.li",
             "received_at": "2026-03-01T08:00:00Z", "subject": "储罐泄漏", "emergency_level": 1},
            {"number": "CS-2026-000008", "status": "queued", "priority": "P3",
             "service_type": "training", "channel": "web", "assignee": None,
             "received_at": "2026-03-01T09:00:00Z", "subject": "培训申请",
             "emergency_level": 0}]})
        rc, out = self.csctl("tickets", "status=assigned", "limit=5")
        self.assertEqual(rc, 0, out)
        self.assertIn(("dispatch", "/v1/tickets?status=assigned&limit=5"), self.desk.paths)
        lines = out.splitlines()
        self.assertEqual(lines[0].split()[:3], ["NUMBER", "STATUS", "PRIO"])
        self.assertRegex(lines[1], r"^CS-2026-000007 +assigned +P1 +safety_inspection +phone +"
                                   r"wang.li .*\[EMERGENCY 1\] 储罐泄漏$")
        self.assertRegex(lines[2], r"^CS-2026-000008 +queued +P3 .* - +2026-03-01T09:00:00Z +培训申请$")
        self.assertIn("(2 tickets from offset 0)", out)

    def test_tickets_refuses_an_argument_that_is_not_key_value(self):
        rc, out = self.csctl("tickets", "assigned")
        self.assertEqual(rc, 1)
        self.assertIn("'assigned' is not key=value", out)
        self.assertEqual(self.desk.paths, [], "nothing asked")

    def test_report_prints_the_route_json_and_encodes_the_query(self):
        self.desk.routes[("survey", "/v1/surveys/summary")] = (200, {
            "answers": 10, "satisfied_share": 0.9, "target": 0.9})
        rc, out = self.csctl("report", "surveys", "from=2026-03-01", "team=东区 一组")
        self.assertEqual(rc, 0, out)
        self.assertEqual(json.loads(out), {"answers": 10, "satisfied_share": 0.9, "target": 0.9})
        self.assertIn(("survey", "/v1/surveys/summary?from=2026-03-01&"
                                 "team=%E4%B8%9C%E5%8C%BA%20%E4%B8%80%E7%BB%84"), self.desk.paths)

    def test_report_says_clearly_when_the_route_answers_404(self):
        rc, out = self.csctl("report", "sla")
        self.assertEqual(rc, 1)
        self.assertIn("report sla: sla answers 404 for /v1/sla/report: this sla has no such route",
                      out)
        self.assertIn("no such resource", out)
        rc, out = self.csctl("report", "complaints")
        self.assertEqual(rc, 1)
        self.assertIn("complaint answers 404 for /v1/complaints/analysis", out)
        rc, out = self.csctl("report", "bogus")
        self.assertEqual(rc, 2)
        self.assertIn("usage: csctl report sla|surveys|complaints", out)

    def test_report_names_a_service_that_is_down(self):
        self.ports["complaint"] = NOBODY_PORT
        rc, out = self.csctl("report", "complaints")
        self.assertEqual(rc, 1)
        self.assertIn(f"complaint answers nothing at http://127.0.0.1:{NOBODY_PORT}/v1/complaints"
                      "/analysis", out)

    def test_lag_also_fails_on_a_stale_stream(self):
        self.read_of("dispatch", "intake")["heartbeat_age_ms"] = 12000
        rc, out = self.csctl("lag")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^dispatch +reads intake +intake-0 .*STALE")


class LiveStack(unittest.TestCase):
    """csctl against the six real services and their bus."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.dirname(__file__))
        from chain import Chain
        cls.chain = Chain("csctl-live", 55537, 22000, ["complaint", "survey", "notify"],
                          {"CS_NOTIFY_MAILDIR": os.path.join(BUILD, "test-var", "csctl-live",
                                                             "mail")})
        cls.chain.start_all()

    @classmethod
    def tearDownClass(cls):
        cls.chain.stop_all()

    def csctl(self, *args):
        r = subprocess.run([CSCTL, *args], env=self.chain.env, capture_output=True, text=True,
                           timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_1_status_hears_every_instance_on_the_bus_and_exits_0(self):
        # every reader must have heard each stream it reads: wait for that first
        wait_for(lambda: self.csctl("status")[0] == 0, 60, "csctl status exit 0")
        rc, out = self.csctl("status")
        self.assertEqual(rc, 0, out)
        rows = [ln.split() for ln in out.splitlines()
                if ln and not ln.startswith(" ") and not ln.startswith("SERVICE")]
        self.assertEqual([r[0] for r in rows], SERVICES, out)
        for r in rows:
            # SERVICE INSTANCE UP READY VERSION UPTIME RELAY HEAD BACKLOG LAG LAST-HB HEALTH
            self.assertEqual(r[1], r[0] + "-0")
            self.assertEqual(r[2:5], ["up", "yes", "0.1.0"])
            self.assertRegex(r[5], r"^\d+(s|m\d\ds)$", "uptime from the heartbeat")
            self.assertEqual(r[11], "ok", "the heartbeat's health")

    def test_2_tickets_and_replay_show_a_request_that_went_through(self):
        number = self.chain.submit("P-101 泵振动超标", "P-101 离心泵振动超过限值，请派工程师。")
        self.chain.dispatch_ticket(number)
        rc, out = self.csctl("tickets", "limit=10")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, rf"(?m)^{number} +(assigned|queued) ")
        self.chain.caught_up("sla")
        rc, out = self.csctl("replay", "dispatch-0")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"^stream dispatch-0 at tcp://[^ ]+:29202: head \d+")
        self.assertRegex(out, r"(?m)^ +1  20\d\d-.* dispatch\.ticket\.accepted ")
        rc, out = self.csctl("replay", "intake-0", "1", "1")
        self.assertEqual(rc, 0, out)
        events = [ln for ln in out.splitlines() if re.match(r" +\d+  20\d\d-", ln)]
        self.assertEqual(len(events), 1, out)  # exactly the one asked for
        self.assertRegex(events[0], r"^ +1  .* intake\.[a-z_]+\.[a-z_]+ ")

    def test_3_replay_refuses_what_it_cannot_serve(self):
        rc, out = self.csctl("replay", "billing-0")
        self.assertEqual(rc, 2)
        self.assertIn("not a stream of intake", out)
        rc, out = self.csctl("replay", "intake-7")
        self.assertEqual(rc, 1)
        self.assertIn("no instance of intake in CS_intake_REPLAY_CONNECT serves stream intake-7",
                      out)
        rc, out = self.csctl("replay", "intake-0", "5", "2")
        self.assertEqual(rc, 2)

    def test_4_a_killed_service_makes_status_exit_1(self):
        self.chain.procs["survey"].kill()
        rc, out = self.csctl("--wait", "1500", "status")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^survey +\? +down")


if __name__ == "__main__":
    main()
