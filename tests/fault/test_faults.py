"""The bus under faults: nothing lost, nothing doubled, while services die.

A steady load of web requests flows intake -> dispatch -> sla / notify /
survey (agents respond to, resolve and close the tickets through dispatch's
API so that survey gets work) while, for the whole run, a random service is
killed with SIGKILL every few seconds and started again after a short pause,
and PostgreSQL is restarted once in the middle. Clients retry a failed
request with the same external_id, so a retry can never make a second ticket;
they count which requests intake acknowledged (201 or 200).

When the load stops and every service has caught up (/readyz 200, lag 0),
the schemas are reconciled with SQL: every acknowledged request is one
intake ticket, every intake ticket one dispatch ticket with exactly two
clocks and one acceptance notification, every closed ticket one survey
invitation, every consumer's checkpoint at its publisher's head and no dead
letter anywhere. Any difference fails the test and names the tickets.

FAULT_SECONDS sets the length of the load (default 75; `make test-fault`
runs 600). FAULT_SEED makes the fault schedule repeatable.
"""
from http.client import HTTPException
import os
import random
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BASES, BUILD, SERVICES, Postgres, Service, http,  # noqa: E402
                     main, service_url, stack_env, StackTestCase, wait_for)

OFFSET = 23000  # 30100..30602 and SMTP 25525: below the ephemeral port range (32768+)
PG_PORT = 55442
VAR = os.path.join(BUILD, "test-var", "fault")
MAILDIR = os.path.join(VAR, "mail")
LOAD_SECONDS = float(os.environ.get("FAULT_SECONDS") or 75)
SEED = int(os.environ.get("FAULT_SEED") or time.time())
CLIENTS = 3
CLIENT_PERIOD = 0.5          # seconds between new requests of one client thread
KILL_EVERY = (2.0, 5.0)      # seconds between two kills
DOWN_FOR = (0.2, 2.0)        # seconds a killed service stays down
PG_DOWN_FOR = 3.0            # seconds PostgreSQL stays down
RETRY_FOR = 90.0             # seconds a client keeps retrying after the load stops
SUBJECTS = [
    ("P-101 离心泵振动超标，请派工程师", "P-101 离心泵振动值超过报警线，请尽快安排检修。"),
    ("Safety data sheet for xylene needed", "Please send the current SDS for mixed xylene."),
    ("二号罐区 VOC 在线监测数据异常", "VOC 在线监测数据连续两小时超标，请协助排查。"),
    ("Invoice 2026-0412 shows the wrong quantity", "The invoice lists 40 t instead of 24 t."),
    ("催化剂再生方案咨询", "请提供加氢催化剂再生的技术方案和报价。"),
]


def url(service, path):
    return service_url(OFFSET, service, path)


def ports(service):
    base = BASES[service] + OFFSET
    return [base, base + 1, base + 2] + ([2525 + OFFSET] if service == "intake" else [])


def port_free(port):
    """Could a listener bind 127.0.0.1:port now (SO_REUSEADDR, as the services do)?"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start(proc, timeout=30):
    """Start a service once its ports are free.

    A killed service's ports can stay taken for a moment (and a port in
    Linux's ephemeral range, 32768+, by any client connection: this test keeps
    below it); starting then would only fail to bind."""
    deadline = time.time() + timeout
    while time.time() < deadline and not all(port_free(p) for p in ports(proc.name)):
        time.sleep(0.1)
    proc.log_mark = os.path.getsize(proc.log_path) if os.path.exists(proc.log_path) else 0
    proc.start()


def port_clash(proc):
    """Did the service's last run end because a port was taken?"""
    with open(proc.log_path, "rb") as f:
        f.seek(getattr(proc, "log_mark", 0))
        return b"Address already in use" in f.read()


class Ledger:
    """What the clients saw, shared by the load threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}          # external_id -> ticket number
        self.sent = 0
        self.retries = 0
        self.duplicates = 0      # acknowledged 200 "duplicate" (stored by an earlier try)
        self.gave_up = []        # external_ids never acknowledged
        self.conflicts = []      # an external_id answered with two numbers
        self.to_close = []       # (due time, ticket number) for the agents
        self.closed_by_agent = set()
        self.actions = 0
        self.kills = []          # (time, service)
        self.unexpected_exits = []
        self.port_clashes = []
        self.errors = []         # exceptions of the load threads

    def ack(self, ext, number):
        with self.lock:
            old = self.acked.setdefault(ext, number)
            if old != number:
                self.conflicts.append((ext, old, number))


class Faults(StackTestCase):
    @classmethod
    def start_all(cls):
        cls.pg = Postgres("fault", PG_PORT)
        cls.pg.start(SERVICES)
        env = stack_env(cls.pg, OFFSET, MAILDIR)
        os.makedirs(VAR, exist_ok=True)
        for s in SERVICES:
            p = Service(s, [os.path.join(BUILD, "bin", f"cs-{s}")], env,
                        os.path.join(VAR, f"{s}.log"))
            start(p)
            cls.procs[s] = p
        for s in SERVICES:
            def ready():
                if not cls.procs[s].alive() and port_clash(cls.procs[s]):
                    cls.procs[s].kill()
                    start(cls.procs[s])
                return http("GET", url(s, "/readyz"))[0] == 200
            wait_for(ready, 60, f"{s} ready")

    # ---- the load ----------------------------------------------------------------------

    def client(self, k, stop, done_by, ledger):
        """New requests at a fixed rate; failed ones retried with their external_id."""
        rnd = random.Random(SEED * 31 + k)
        pending = []   # [next attempt time, external_id, body, delay]
        i = 0
        next_new = time.time()
        while True:
            now = time.time()
            if stop.is_set() and not pending:
                return
            if stop.is_set() and now > done_by:
                with ledger.lock:
                    ledger.gave_up.extend(p[1] for p in pending)
                return
            if not stop.is_set() and now >= next_new:
                ext = f"fault-{SEED}-{k}-{i}"
                subject, text = SUBJECTS[(k + i) % len(SUBJECTS)]
                body = {"channel": "web", "subject": subject, "description": text,
                        "external_id": ext,
                        "customer": {"name": f"客户 {k}-{i}",
                                     "email": f"c{k}.{i}.{SEED}@plant.example",
                                     "company": "华东化工", "tier": "large"}}
                pending.append([now, ext, body, 0.2])
                i += 1
                next_new += CLIENT_PERIOD
                with ledger.lock:
                    ledger.sent += 1
            due = [p for p in pending if p[0] <= now]
            for p in due[:4]:
                if self.post_once(p, rnd, ledger):
                    pending.remove(p)
            time.sleep(0.02)

    def post_once(self, p, rnd, ledger):
        """One attempt of a pending request; True when intake acknowledged it."""
        _, ext, body, delay = p
        try:
            status, res = http("POST", url("intake", "/v1/requests"), body, timeout=5)
        except (OSError, HTTPException):  # refused, reset, cut short
            status, res = None, None
        if status in (200, 201) and isinstance(res, dict):
            ledger.ack(ext, res["ticket_number"])
            if status == 200:  # a retry of a request stored before: not a second ticket
                with ledger.lock:
                    ledger.duplicates += 1
            with ledger.lock:  # for the agents, once dispatch has had time to assign it
                ledger.to_close.append([time.time() + 1.0, res["ticket_number"], None])
            return True
        if status is not None and status not in (502, 503, 504):
            raise AssertionError(f"intake refused {ext}: {status} {res}")
        with ledger.lock:
            ledger.retries += 1
        p[0] = time.time() + delay * (0.5 + rnd.random())
        p[3] = min(delay * 2, 2.0)
        return False

    def agent(self, stop, ledger):
        """respond, resolve, close each ticket as its assignee, whatever fails.

        Every ticket is worked to its close: agents have a capacity, and
        tickets left open would fill it, queue the rest and starve survey."""
        steps = {"assigned": ("respond", {"message": "工程师今天下午到场。"}),
                 "reopened": ("respond", {"message": "再次处理中。"}),
                 "in_progress": ("resolve", {"report": "更换轴承，试车正常。"}),
                 "pending_customer": ("resolve", {"report": "已处理。"}),
                 "resolved": ("close", {})}
        while not stop.is_set():
            item = None
            with ledger.lock:
                now = time.time()
                for it in ledger.to_close:
                    if it[0] <= now:
                        item = it
                        item[0] = float("inf")  # this agent's, until it is put back
                        break
            if not item:
                time.sleep(0.05)
                continue
            _, number, t = item
            again, item[2] = 1.0, None
            try:
                if t is None:  # state unknown: ask dispatch
                    status, t = http("GET", url("dispatch", f"/v1/tickets/{number}"), timeout=5)
                    if status != 200 or not isinstance(t, dict):
                        t = {}
                if t.get("status") == "closed":
                    with ledger.lock:
                        ledger.closed_by_agent.add(number)
                        ledger.to_close.remove(item)
                    continue
                if t.get("assignee") and t.get("status") in steps:
                    action, body = steps[t["status"]]
                    body = dict(body, agent=t["assignee"])
                    status, res = http("POST", url("dispatch", f"/v1/tickets/{number}/{action}"),
                                       body, timeout=5)
                    with ledger.lock:
                        ledger.actions += 1
                    if status == 200 and isinstance(res, dict):
                        again, item[2] = 0.0, res  # the next step at once
            except (OSError, HTTPException):
                pass
            with ledger.lock:
                item[0] = time.time() + again

    def chaos(self, stop, ledger, t_end):
        """Kill a random service every few seconds; restart PostgreSQL once midway."""
        rnd = random.Random(SEED)
        pg_at = time.time() + (t_end - time.time()) / 2
        pg_done = False
        order = []
        while not stop.wait(rnd.uniform(*KILL_EVERY)):
            self.restart_dead(ledger)
            if not pg_done and time.time() >= pg_at:
                pg_done = True
                print(f"  {time.strftime('%H:%M:%S')} PostgreSQL stopped", flush=True)
                self.pg.stop()
                time.sleep(PG_DOWN_FOR)
                self.pg.restart()
                print(f"  {time.strftime('%H:%M:%S')} PostgreSQL started again", flush=True)
                continue
            if not order:  # random order, each service in turn: all are hit
                order = rnd.sample(SERVICES, len(SERVICES))
            s = order.pop()
            self.procs[s].kill()
            ledger.kills.append((time.time(), s))
            time.sleep(rnd.uniform(*DOWN_FOR))
            start(self.procs[s])
        self.restart_dead(ledger)

    def restart_dead(self, ledger):
        """A service that died by itself is a defect: note it, then start it again."""
        for s, p in self.procs.items():
            if not p.alive():
                what = (ledger.port_clashes if port_clash(p) else ledger.unexpected_exits)
                what.append((time.strftime("%H:%M:%S"), s, p.proc.returncode))
                p.kill()
                start(p)

    # ---- settling and reconciling ---------------------------------------------------------

    def wait_settled(self, ledger, timeout=180):
        """Every service ready, caught up and with an empty outbox backlog."""
        def settled():
            self.restart_dead(ledger)
            for s in SERVICES:
                status, body = http("GET", url(s, "/readyz"), timeout=5)
                if (status != 200 or body.get("lag", 1) != 0
                        or body.get("outbox_backlog", 1) != 0):
                    return False
            return True
        wait_for(settled, timeout, "all services caught up", interval=0.5)
        time.sleep(2.5)  # heartbeats carry the final heads
        wait_for(settled, timeout, "all services caught up", interval=0.5)

    def rows(self, sql):
        return self.pg.query(sql)

    def test_no_ticket_is_lost_or_doubled_while_services_die_and_the_database_restarts(self):
        print(f"\nfault run: {LOAD_SECONDS:.0f} s of load, seed {SEED}", flush=True)
        ledger = Ledger()
        stop_load, stop_all = threading.Event(), threading.Event()
        t_end = time.time() + LOAD_SECONDS
        done_by = t_end + RETRY_FOR
        def thread(fn, *args):
            def run():
                try:
                    fn(*args)
                except BaseException as e:  # a load thread's failure fails the test
                    with ledger.lock:
                        ledger.errors.append(f"{fn.__name__}: {e!r}")
            return threading.Thread(target=run)
        clients = [thread(self.client, k, stop_load, done_by, ledger) for k in range(CLIENTS)]
        agents = [thread(self.agent, stop_all, ledger) for _ in range(3)]
        chaos = thread(self.chaos, stop_load, ledger, t_end)
        for t in clients + agents + [chaos]:
            t.start()
        try:
            while time.time() < t_end:
                time.sleep(0.5)
        finally:
            stop_load.set()
            chaos.join()
            for t in clients:
                t.join()
            stop_all.set()
            for t in agents:
                t.join()
        kills = {}
        for _, s in ledger.kills:
            kills[s] = kills.get(s, 0) + 1
        print(f"  sent {ledger.sent}, acknowledged {len(ledger.acked)}, client retries "
              f"{ledger.retries}, acknowledged as duplicate {ledger.duplicates}, never acknowledged "
              f"{len(ledger.gave_up)}", flush=True)
        print(f"  agent actions {ledger.actions}, closed by agents {len(ledger.closed_by_agent)}")
        print(f"  kills {len(ledger.kills)}: {kills}; unexpected exits "
              f"{ledger.unexpected_exits}; could not bind (port taken) {ledger.port_clashes}",
              flush=True)

        self.wait_settled(ledger)
        problems = self.reconcile(ledger)
        for s, p in self.procs.items():
            if not p.alive():
                problems.append(f"{s} is not running at the end (exit {p.proc.returncode})")
        if ledger.unexpected_exits:
            problems.append(f"services exited by themselves: {ledger.unexpected_exits}")
        if ledger.errors:
            problems.append(f"load threads failed: {ledger.errors}")
        if ledger.gave_up:
            problems.append(f"never acknowledged within {RETRY_FOR:.0f} s after the load: "
                            f"{ledger.gave_up[:20]}")
        if ledger.conflicts:
            problems.append(f"external_id answered with two ticket numbers: {ledger.conflicts}")
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertGreater(len(ledger.acked), LOAD_SECONDS, "the load went through")
        self.assertGreater(len(ledger.closed_by_agent), len(ledger.acked) / 2,
                           "agents closed most tickets (survey had work all along)")

    def reconcile(self, ledger):
        """Cross-schema counts; a list of the differences, naming the tickets."""
        problems = []

        def check(label, found, expected=None):
            bad = [r for r in found]
            print(f"  {label}: {expected if expected is not None else ''}"
                  f"{' OK' if not bad else f' {len(bad)} WRONG'}", flush=True)
            if bad:
                shown = ", ".join("/".join(r) for r in bad[:20])
                problems.append(f"{label}: {len(bad)} wrong: {shown}"
                                + (" ..." if len(bad) > 20 else ""))

        intake = {}
        for ext, number, n in self.rows(
                "SELECT external_id, min(number), count(*) FROM intake.tickets"
                f" WHERE external_id LIKE 'fault-{SEED}-%' GROUP BY external_id"):
            intake[ext] = (number, int(n))
        total = int(self.pg.scalar("SELECT count(*) FROM intake.tickets"))
        print(f"  intake tickets {total}", flush=True)
        check("acknowledged requests stored exactly once in intake.tickets",
              [[e, ledger.acked[e], str(intake.get(e, ("-", 0))[1])]
               for e in sorted(ledger.acked)
               if intake.get(e, (None, 0))[1] != 1 or intake[e][0] != ledger.acked[e]],
              len(ledger.acked))
        check("intake tickets in dispatch.tickets exactly once", self.rows(
            "SELECT t.number, count(d.ticket_id)::text FROM intake.tickets t"
            " LEFT JOIN dispatch.tickets d ON d.ticket_id = t.id AND d.number = t.number"
            " GROUP BY t.number HAVING count(d.ticket_id) <> 1 ORDER BY 1"), total)
        check("dispatch tickets not from intake", self.rows(
            "SELECT d.number FROM dispatch.tickets d WHERE NOT EXISTS"
            " (SELECT 1 FROM intake.tickets t WHERE t.id = d.ticket_id) ORDER BY 1"),
            int(self.pg.scalar("SELECT count(*) FROM dispatch.tickets")))
        # first response and resolution (the next-update clock comes with a response)
        check("intake tickets with exactly 2 clocks in sla.clocks", self.rows(
            "SELECT t.number, count(c.id)::text FROM intake.tickets t"
            " LEFT JOIN sla.clocks c ON c.ticket_id = t.id"
            " AND c.target IN ('first_response', 'resolution')"
            " GROUP BY t.number HAVING count(c.id) <> 2 ORDER BY 1"),
            int(self.pg.scalar("SELECT count(*) FROM sla.clocks")))
        check("intake tickets with exactly one acceptance notification", self.rows(
            "SELECT t.number, count(n.id)::text FROM intake.tickets t"
            " LEFT JOIN notify.notifications n ON n.ticket_number = t.number"
            " AND n.kind = 'acceptance' GROUP BY t.number HAVING count(n.id) <> 1 ORDER BY 1"),
            int(self.pg.scalar("SELECT count(*) FROM notify.notifications"
                               " WHERE kind = 'acceptance'")))
        closed = int(self.pg.scalar("SELECT count(*) FROM dispatch.tickets"
                                    " WHERE status = 'closed'"))
        check("closed tickets with exactly one survey invitation (survey.invitations, sent)",
              self.rows(
                  "SELECT d.number, count(i.invitation_id)::text,"
                  " coalesce(string_agg(i.status, ','), '') FROM dispatch.tickets d"
                  " LEFT JOIN survey.invitations i ON i.ticket_id = d.ticket_id"
                  " WHERE d.status = 'closed' GROUP BY d.number"
                  " HAVING count(i.invitation_id) <> 1"
                  " OR bool_or(i.status = 'skipped') ORDER BY 1"), closed)
        check("closed tickets with exactly one survey_invitation notification", self.rows(
            "SELECT d.number, count(n.id)::text FROM dispatch.tickets d"
            " LEFT JOIN notify.notifications n ON n.ticket_number = d.number"
            " AND n.kind = 'survey_invitation' WHERE d.status = 'closed'"
            " GROUP BY d.number HAVING count(n.id) <> 1 ORDER BY 1"),
            int(self.pg.scalar("SELECT count(*) FROM notify.notifications"
                               " WHERE kind = 'survey_invitation'")))
        missing_closed = sorted(ledger.closed_by_agent - {r[0] for r in self.rows(
            "SELECT number FROM dispatch.tickets WHERE status = 'closed'")})
        check("tickets the agents saw closed that are closed", [[n] for n in missing_closed],
              len(ledger.closed_by_agent))

        heads = {}
        for s in SERVICES:
            for stream, head in self.rows(f"SELECT stream, head FROM {s}.bus_stream"):
                heads[stream] = int(head)
        behind = []
        for s in SERVICES:
            for stream, last in self.rows(f"SELECT stream, last_seq FROM {s}.inbox_checkpoint"):
                if int(last) != heads.get(stream, 0):
                    behind.append([s, stream, last, str(heads.get(stream, 0))])
        reads = {"dispatch": ["intake", "sla"], "sla": ["dispatch", "complaint"],
                 "notify": ["dispatch", "survey", "complaint"],
                 "survey": ["dispatch", "complaint"], "complaint": ["dispatch", "survey", "sla"]}
        for s, peers in reads.items():
            have = {r[0] for r in self.rows(f"SELECT stream FROM {s}.inbox_checkpoint")}
            for peer in peers:
                stream = f"{peer}-0"
                if heads.get(stream, 0) > 0 and stream not in have:
                    behind.append([s, stream, "none", str(heads[stream])])
        print(f"  stream heads {heads}", flush=True)
        check("consumers behind their publisher's head", behind, len(heads))
        dead = []
        for s in SERVICES:
            dead += [[s] + r for r in self.rows(
                f"SELECT stream, seq::text, reason FROM {s}.bus_dead_letter ORDER BY 1, 2")]
        check("bus_dead_letter rows", dead, 0)
        return problems


if __name__ == "__main__":
    os.makedirs(VAR, exist_ok=True)
    subprocess.run(["rm", "-rf", MAILDIR])
    main()
