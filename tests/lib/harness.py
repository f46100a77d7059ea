"""Test harness: a throwaway PostgreSQL cluster and real service processes.

Tests start everything they need and stop it: a private cluster under
$BUILD/test-var/<name> (tools/pg), services as child processes with their
ports moved to a test range so that a running `make run` is not disturbed.
Standard library only.
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
if not os.path.isabs(os.environ.get("BUILD", "build")):
    BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
SERVICES = ["intake", "dispatch", "sla", "complaint", "survey", "notify"]
BASES = {"intake": 7100, "dispatch": 7200, "sla": 7300, "complaint": 7400,
         "survey": 7500, "notify": 7600}


class Postgres:
    """A private cluster on a Unix socket, removed at stop()."""

    def __init__(self, name, port, durable=False, options=""):
        """durable: fsync on (benchmarks); tests run with fsync off.
        options: extra server settings, "-c name=value ..."."""
        self.dir = os.path.join(BUILD, "test-var", name, "pg")
        self.port = port
        self.pg_env = dict(os.environ, PG_FSYNC="on" if durable else "off", PG_OPTS=options)
        subprocess.run(["rm", "-rf", os.path.dirname(self.dir)], check=True)
        os.makedirs(os.path.dirname(self.dir), exist_ok=True)

    def start(self, schemas):
        subprocess.run([os.path.join(ROOT, "tools/pg"), "start", self.dir, str(self.port)],
                       check=True, env=self.pg_env)
        subprocess.run([os.path.join(ROOT, "tools/pg"), "init", self.dir, str(self.port)]
                       + list(schemas), check=True, stdout=subprocess.DEVNULL)
        self.sock = subprocess.run([os.path.join(ROOT, "tools/pg"), "sock", self.dir],
                                   check=True, capture_output=True, text=True).stdout.strip()

    def restart(self):
        self.stop()
        subprocess.run([os.path.join(ROOT, "tools/pg"), "start", self.dir, str(self.port)],
                       check=True, env=self.pg_env)

    def stop(self):
        subprocess.run([os.path.join(ROOT, "tools/pg"), "stop", self.dir], check=False)

    def conninfo(self):
        return f"host={self.sock} port={self.port} dbname=petrocs"

    def query(self, sql, user="postgres"):
        """Rows of a query as lists of strings (psql, unaligned)."""
        res = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
             "-h", self.sock, "-p", str(self.port), "-U", user, "-d", "petrocs", "-c", sql],
            capture_output=True, text=True)
        if res.returncode != 0:
            raise AssertionError(f"psql failed: {res.stderr.strip()} in: {sql}")
        out = res.stdout
        return [line.split("\t") for line in out.splitlines() if line != ""]

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None


class Service:
    """One service process with its log captured to a file."""

    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def stop(self):
        self.kill(signal.SIGTERM)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def service_url(offset, service, path=""):
    """URL of a service of a test stack whose ports are moved by offset."""
    return f"http://127.0.0.1:{BASES[service] + offset}{path}"


def stack_env(pg, offset, maildir, **extra):
    """Environment for all six services on one PostgreSQL, every port moved by
    offset (HTTP, PUB, replay, and intake's SMTP), letters into maildir.
    Survey invitations go out at once, day and night, to the same contact as
    often as asked (tests close many tickets of one customer within seconds);
    test_survey_rules.py sets the real timing where it tests it."""
    env = dict(os.environ, CS_DB_URL=pg.conninfo(), CS_NOTIFY_MAILDIR=maildir,
               CS_INTAKE_SMTP_PORT=str(2525 + offset),
               CS_SURVEY_PUBLIC_URL=service_url(offset, "survey"),
               CS_SURVEY_DELAY_MIN="0", CS_SURVEY_DAY_START="0", CS_SURVEY_DAY_END="24",
               CS_SURVEY_QUIET_DAYS="0")
    for s in SERVICES:
        for key, delta in (("HTTP_PORT", 0), ("PUB_PORT", 1), ("REPLAY_PORT", 2)):
            env[f"CS_{s.upper()}_{key}"] = str(BASES[s] + offset + delta)
    env.update(extra)
    return env


class StackTestCase(unittest.TestCase):
    """A test class that starts a PostgreSQL and services once (start_all,
    filling cls.pg and cls.procs) and always stops them — also when start_all
    fails half-way, where unittest itself would not call tearDownClass."""

    @classmethod
    def setUpClass(cls):
        cls.procs = {}
        cls.pg = None
        try:
            cls.start_all()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_all(cls):
        raise NotImplementedError

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs.values():
            p.stop()
        if cls.pg:
            cls.pg.stop()


def http(method, url, body=None, headers=None, timeout=10):
    """(status, parsed JSON or text) for one request."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    text = raw.decode("utf-8", "replace")
    if "json" in ctype:
        try:
            return status, json.loads(text)
        except ValueError:
            pass
    return status, text


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, urllib.error.URLError, ValueError) as e:  # not up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def metric(url, name, labels_contain=""):
    """Sum of a metric's samples whose label text contains labels_contain."""
    status, text = http("GET", url + "/metrics")
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head == name or head.startswith(name + "{"):
            if labels_contain in head:
                total += float(value)
    return total


def main():
    """Run the calling module's tests; print the closing count line."""
    import __main__
    suite = unittest.defaultTestLoader.loadTestsFromModule(__main__)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - failed - skipped)
    print(f"RESULT {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(0 if failed == 0 else 1)
