"""The service chain for the complaint and survey integration tests.

Starts a private PostgreSQL and real processes — cs-intake, dispatch, and
the service under test — on ports moved away from the defaults (each test
file passes its own offset, so two files can run side by side), and offers
the few steps the tests share: submit a request at intake's front door,
wait for dispatch to know the ticket, act on it as the agent would.

The chain is the real one: cs-intake, cs-dispatch (with its shipped rules)
and cs-sla (which dispatch reads), then the services under test.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BASES, BUILD, ROOT, Postgres, Service, http, wait_for  # noqa: E402,F401


class Chain:
    """PostgreSQL plus intake, dispatch, sla and the services named, on moved ports."""

    def __init__(self, name, pg_port, offset, services, extra_env=None):
        self.name = name
        self.offset = offset
        self.services = ["intake", "dispatch", "sla"] + list(services)
        self.pg = Postgres(name, pg_port)
        self.logs = os.path.join(BUILD, "test-var", name)
        self.procs = {}
        env = dict(os.environ, CS_LOG_LEVEL="info",
                   CS_DISPATCH_RULES=os.path.join(ROOT, "services/dispatch/rules/classify.rules"))
        for svc, base in BASES.items():
            up = svc.upper()
            env[f"CS_{up}_HTTP_PORT"] = str(base + offset)
            env[f"CS_{up}_PUB_PORT"] = str(base + offset + 1)
            env[f"CS_{up}_REPLAY_PORT"] = str(base + offset + 2)
        env["CS_INTAKE_SMTP_PORT"] = str(2525 + offset)
        # sla reads complaint's stream only where a complaint service runs
        env["CS_SLA_COMPLAINT_CLOCKS"] = "1" if "complaint" in self.services else "0"
        # intake reads notify's stream (letters sent, for its ledger) only where notify runs
        env["CS_INTAKE_OUTBOUND_LEDGER"] = "1" if "notify" in self.services else "0"
        env.update(extra_env or {})
        self.env = env

    def url(self, svc):
        return f"http://127.0.0.1:{BASES[svc] + self.offset}"

    def start_pg(self):
        self.pg.start(self.services)
        self.env["CS_DB_URL"] = self.pg.conninfo()

    def ports(self, svc):
        base = BASES[svc] + self.offset
        return [base, base + 1, base + 2] + ([2525 + self.offset] if svc == "intake" else [])

    def check_free(self, svc):
        """Refuse to start on a port someone else holds: the test would talk to them."""
        for port in self.ports(svc):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    raise AssertionError(f"port {port} for {svc} is taken by another process")

    def start(self, svc, extra_env=None):
        self.check_free(svc)
        binary = os.path.join(BUILD, "bin", f"cs-{svc}")
        log = os.path.join(self.logs, f"{svc}.log")
        proc = Service(svc, [binary], dict(self.env, **(extra_env or {})), log)
        proc.start()
        self.procs[svc] = proc
        wait_for(lambda: http("GET", self.url(svc) + "/healthz")[0] == 200, 30, f"{svc} up")
        assert proc.alive(), f"{svc} exited at start; see {log}"
        return proc

    def start_all(self):
        """PostgreSQL and every service, ready; on failure nothing is left running."""
        try:
            self.start_pg()
            for svc in self.services:
                self.start(svc)
            for svc in self.services:
                self.wait_ready(svc)
        except BaseException:
            self.stop_all()
            raise

    def caught_up(self, consumer, stream="dispatch-0", timeout=30):
        """Wait until consumer has applied everything stream has published."""
        schema = stream.rsplit("-", 1)[0]

        def done():
            head = self.pg.scalar(f"SELECT head FROM {schema}.bus_stream WHERE stream = '{stream}'")
            cp = self.pg.scalar(
                f"SELECT last_seq FROM {consumer}.inbox_checkpoint WHERE stream = '{stream}'")
            backlog = self.pg.scalar(f"SELECT count(*) FROM {schema}.outbox WHERE seq IS NULL")
            return head is not None and head == cp and backlog == "0"
        wait_for(done, timeout, f"{consumer} caught up with {stream}")

    def wait_ready(self, svc, timeout=30):
        wait_for(lambda: http("GET", self.url(svc) + "/readyz")[0] == 200, timeout,
                 f"{svc} ready")

    def stop(self, svc):
        proc = self.procs.pop(svc, None)
        if proc:
            proc.stop()

    def stop_all(self):
        for svc in reversed(list(self.procs)):
            self.stop(svc)
        self.pg.stop()

    # ---- steps ---------------------------------------------------------------

    def submit(self, subject, description, email="li.wei@refinery.example.com",
               service_type=None, phone=None, language="zh-CN"):
        """POST a web request at intake; the ticket number."""
        customer = {"name": "李伟", "company": "Example Refinery", "tier": "large"}
        if email is not None:
            customer["email"] = email
        if phone is not None:
            customer["phone"] = phone
        body = {"channel": "web", "customer": customer, "subject": subject,
                "description": description, "language": language}
        if service_type:
            body["service_type"] = service_type
        status, out = http("POST", self.url("intake") + "/v1/requests", body)
        assert status == 201, (status, out)
        return out["ticket_number"]

    def dispatch_ticket(self, number, timeout=30):
        """The ticket as dispatch shows it, once dispatch has it."""
        def get():
            status, body = http("GET", f"{self.url('dispatch')}/v1/tickets/{number}")
            return body if status == 200 else None
        return wait_for(get, timeout, f"dispatch knows {number}")

    def agent_of(self, number):
        t = self.dispatch_ticket(number)
        assert t.get("assignee") or t.get("owner"), ("no agent on the ticket", t)
        return t.get("assignee") or t.get("owner")

    def act(self, number, action, **body):
        """POST /v1/tickets/{number}/{action} at dispatch: (status, body)."""
        return http("POST", f"{self.url('dispatch')}/v1/tickets/{number}/{action}", body)

    def close_ticket(self, number):
        """Respond, resolve and close as the ticket's agent would."""
        agent = self.agent_of(number)
        for action, extra in (("respond", {"message": "我们已收到并在处理。"}),
                              ("resolve", {"report": "已更换密封件，设备恢复运行。"}),
                              ("close", {})):
            status, out = self.act(number, action, agent=agent, **extra)
            assert status == 200, (action, status, out)

    def outbox_types(self, schema):
        return [r[0] for r in self.pg.query(f"SELECT topic FROM {schema}.outbox ORDER BY id")]

    def settle(self, seconds=1.0):
        """Give the bus time to deliver anything extra, so its absence means something."""
        time.sleep(seconds)
