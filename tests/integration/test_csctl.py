"""csctl, the operator's command line, against stand-in services.

Each service is replaced by a small HTTP server on a test port answering
/readyz with the JSON a real service gives (common/cs_service.c), so every
case — a silent stream, a reader that never heard, a service down — can be
set up exactly. csctl finds them through CS_<SVC>_HTTP_PORT like the real
thing.
"""
import copy
import http.server
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, main  # noqa: E402

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
        self.servers = []
        for s in SERVICES:
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORTS[s]), self.handler(s))
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.servers.append(srv)

    def handler(self, service):
        desk = self

        class Readyz(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
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
        self.ports = dict(PORTS)

    def csctl(self, command):
        env = dict(os.environ)
        for s in SERVICES:
            env[f"CS_{s.upper()}_HTTP_PORT"] = str(self.ports[s])
            env[f"CS_{s.upper()}_HOST"] = "127.0.0.1"
        r = subprocess.run([CSCTL, command], env=env, capture_output=True, text=True, timeout=60)
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
        self.assertRegex(out, r"(?m)^survey +down")
        self.ports["survey"] = PORTS["survey"]
        self.desk.answers["sla"]["ready"] = False
        self.desk.answers["sla"]["reasons"] = ["database unreachable"]
        rc, out = self.csctl("status")
        self.assertEqual(rc, 1, out)
        self.assertIn("not ready: database unreachable", out)

    def test_lag_also_fails_on_a_stale_stream(self):
        self.read_of("dispatch", "intake")["heartbeat_age_ms"] = 12000
        rc, out = self.csctl("lag")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^dispatch +reads intake +intake-0 .*STALE")


if __name__ == "__main__":
    main()
