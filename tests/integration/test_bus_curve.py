"""The bus with CURVE on (CS_BUS_CURVE=on): encrypted, and only known services may read.

A publisher and a consumer with certificates made by `csctl certs` exchange every event; a
consumer whose certificate the publisher does not know, and one without CURVE, get nothing.
The same with keys from the environment (`csctl keys`), as a cluster passes its secrets.
"""
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, wait_for  # noqa: E402

NODE = os.path.join(BUILD, "tests/integration/bus_node")
CSCTL = os.path.join(BUILD, "bin/csctl")
VAR = os.path.join(BUILD, "test-var", "bus-curve")
PUB = "http://127.0.0.1:17800"


def ports(service, base):
    return {f"CS_{service.upper()}_HTTP_PORT": str(base), f"CS_{service.upper()}_PUB_PORT": str(base + 1),
            f"CS_{service.upper()}_REPLAY_PORT": str(base + 2)}


class BusCurveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("bus-curve", 55434)
        cls.pg.start(["buspub", "bussub"])
        cls.certs = os.path.join(VAR, "certs")
        cls.rogue = os.path.join(VAR, "rogue-certs")
        for d in (cls.certs, cls.rogue):
            shutil.rmtree(d, ignore_errors=True)
        subprocess.run([CSCTL, "certs", cls.certs, "buspub", "bussub"], check=True,
                       stdout=subprocess.DEVNULL)
        # a consumer calling itself bussub, with a key of its own, who knows the publisher's
        # public certificate (public knowledge) but is not in its list of clients
        subprocess.run([CSCTL, "certs", cls.rogue, "bussub"], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(cls.certs, "public", "buspub.cert"),
                    os.path.join(cls.rogue, "public", "buspub.cert"))

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        for s in ("buspub", "bussub"):  # a fresh stream for each test
            self.pg.query(f"DROP SCHEMA IF EXISTS {s} CASCADE;"
                          f" CREATE SCHEMA {s} AUTHORIZATION cs_{s}")
        self.procs = []
        self.env = dict(os.environ, CS_DB_URL=self.pg.conninfo(), CS_BUS_CURVE="on",
                        CS_BUS_CERT_DIR=self.certs, **ports("buspub", 17800))

    def tearDown(self):
        for p in self.procs:
            p.stop()

    def start(self, role, name, http_base, extra):
        env = dict(self.env, **ports("bussub", http_base), **extra)
        s = Service(role, [NODE, role], env, os.path.join(VAR, f"{self.id().split('.')[-1]}-{name}.log"))
        s.start()
        self.procs.append(s)
        wait_for(lambda: http("GET", f"http://127.0.0.1:{http_base if role == 'sub' else 17800}/healthz")[0] == 200,
                 20, f"{name} up")
        return s

    def test_known_services_read_every_event_and_strangers_read_none(self):
        self.start("pub", "pub", 17800, {})
        self.start("sub", "sub", 17850, {})
        self.start("sub", "rogue", 17860, {"CS_BUS_CERT_DIR": self.rogue})
        self.start("sub", "plain", 17870, {"CS_BUS_CURVE": "off"})
        status, body = http("POST", PUB + "/emit?n=300&batch=10", timeout=60)
        self.assertEqual(status, 200, body)
        wait_for(lambda: int(self.pg.scalar("SELECT count(*) FROM bussub.applied")) >= 300, 30,
                 "300 events applied")
        time.sleep(2)
        self.assertEqual(int(self.pg.scalar("SELECT count(*) FROM bussub.applied")), 300,
                         "applied once: the strangers added nothing")
        status, ready = http("GET", "http://127.0.0.1:17850/readyz")
        self.assertEqual(status, 200, ready)
        for port, who in ((17860, "unknown key"), (17870, "no CURVE")):
            status, ready = http("GET", f"http://127.0.0.1:{port}/readyz")
            self.assertEqual(status, 503, f"{who}: {ready}")
            self.assertTrue(any("not yet in contact" in r for r in ready["reasons"]), ready)

    @staticmethod
    def keys(*services):
        """{service: (secret, public)} from `csctl keys`."""
        out = subprocess.run([CSCTL, "keys", *services], check=True, capture_output=True,
                             text=True).stdout.splitlines()
        lines = [line for line in out if not line.startswith("#")]
        return {svc: (lines[2 * i].split("=", 1)[1], lines[2 * i + 1].split("=", 1)[1])
                for i, svc in enumerate(services)}

    def test_keys_from_the_environment_admit_known_services_only(self):
        pub, sub = self.keys("buspub", "bussub").values()
        rogue = self.keys("bussub")["bussub"]
        publics = {"CS_BUS_CURVE_PUBLIC_BUSPUB": pub[1], "CS_BUS_CURVE_PUBLIC_BUSSUB": sub[1]}
        # no certificate files at all: CS_BUS_CERT_DIR points nowhere
        nowhere = {"CS_BUS_CERT_DIR": os.path.join(VAR, "nowhere")}
        self.start("pub", "pub-env", 17800, dict(nowhere, CS_BUS_CURVE_SECRET=pub[0], **publics))
        self.start("sub", "sub-env", 17850, dict(nowhere, CS_BUS_CURVE_SECRET=sub[0], **publics))
        # a stranger calling itself bussub with its own key pair
        self.start("sub", "rogue-env", 17860, dict(
            nowhere, CS_BUS_CURVE_SECRET=rogue[0], CS_BUS_CURVE_PUBLIC_BUSPUB=pub[1],
            CS_BUS_CURVE_PUBLIC_BUSSUB=rogue[1]))
        status, body = http("POST", PUB + "/emit?n=200&batch=10", timeout=60)
        self.assertEqual(status, 200, body)
        wait_for(lambda: int(self.pg.scalar("SELECT count(*) FROM bussub.applied")) >= 200, 30,
                 "200 events applied")
        time.sleep(2)
        rows = self.pg.query("SELECT min(seq), max(seq), count(*) FROM bussub.applied")
        self.assertEqual([int(v) for v in rows[0]], [1, 200, 200])
        status, ready = http("GET", "http://127.0.0.1:17860/readyz")
        self.assertEqual(status, 503, ready)
        self.assertTrue(any("not yet in contact" in r for r in ready["reasons"]), ready)

    def test_a_bad_key_in_the_environment_stops_the_service_with_a_reason(self):
        mine, other = self.keys("bussub", "buspub").values()
        for extra, said in (({"CS_BUS_CURVE_SECRET": "not-a-key"}, "CS_BUS_CURVE_SECRET"),
                            ({"CS_BUS_CURVE_SECRET": mine[0],
                              "CS_BUS_CURVE_PUBLIC_BUSPUB": "x" * 39}, "CS_BUS_CURVE_PUBLIC_BUSPUB"),
                            ({"CS_BUS_CURVE_SECRET": mine[0],
                              "CS_BUS_CURVE_PUBLIC_BUSSUB": other[1]}, "does not match")):
            env = dict(self.env, **ports("bussub", 17880), **extra)
            out = subprocess.run([NODE, "sub"], env=env, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(out.returncode, 0, extra)
            self.assertIn(said, out.stderr + out.stdout)

    def test_a_service_without_its_secret_certificate_refuses_to_start(self):
        env = dict(self.env, CS_BUS_CERT_DIR=os.path.join(VAR, "nowhere"), **ports("bussub", 17880))
        out = subprocess.run([NODE, "sub"], env=env, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("secret", out.stderr + out.stdout)


if __name__ == "__main__":
    os.makedirs(VAR, exist_ok=True)
    main()
