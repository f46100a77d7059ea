"""Each service's database role reaches its own schema only (DESIGN.md §5).

Real PostgreSQL set up as `make run` sets it up (tools/pg init: one login
role cs_<service> owning schema <service>, nothing granted on the others),
and real cs-intake and cs-dispatch that migrate their schemas at start.
Then, connected as intake's role: dispatch's tables cannot be read, written
or altered, no table can be created in dispatch's schema nor in public; and
the other way round; while each role reads its own tables.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, Postgres, Service, StackTestCase, main, service_url,  # noqa: E402
                     stack_env, wait_for)

PG_PORT = 55566
OFFSET = 11700  # intake 18800, dispatch 18900


class DbRolesTest(StackTestCase):
    @classmethod
    def start_all(cls):
        cls.pg = Postgres("db-roles", PG_PORT)
        cls.pg.start(["intake", "dispatch", "sla", "complaint", "survey", "notify"])
        env = stack_env(cls.pg, OFFSET, os.path.join(BUILD, "test-var", "db-roles", "mail"))
        for svc in ("intake", "dispatch"):
            p = Service(svc, [os.path.join(BUILD, "bin", f"cs-{svc}")], env,
                        os.path.join(BUILD, "test-var", "db-roles", f"{svc}.log"))
            p.start()
            cls.procs[svc] = p
        for schema, table in (("intake", "tickets"), ("dispatch", "tickets")):
            wait_for(lambda: cls.pg.scalar(
                f"SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'"
                f" AND tablename = '{table}'") == "1", 30, f"{schema} migrated")

    def as_role(self, role, sql):
        """(ok, stderr) of sql run as role over the same socket the services use."""
        res = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.pg.sock,
             "-p", str(PG_PORT), "-U", role, "-d", "petrocs", "-c", sql],
            capture_output=True, text=True)
        return res.returncode == 0, res.stderr.strip()

    def refused(self, role, sql):
        ok, err = self.as_role(role, sql)
        self.assertFalse(ok, f"{role} could run: {sql}")
        self.assertIn("permission denied", err, f"{role}: {sql}: {err}")

    def test_intake_cannot_touch_dispatch_nor_dispatch_intake(self):
        for role, other in (("cs_intake", "dispatch"), ("cs_dispatch", "intake")):
            with self.subTest(role=role):
                self.refused(role, f"SELECT count(*) FROM {other}.tickets")
                self.refused(role, f"SELECT count(*) FROM {other}.outbox")
                self.refused(role, f"DELETE FROM {other}.tickets")
                self.refused(role, f"CREATE TABLE {other}.planted (x int)")
                self.refused(role, f"ALTER TABLE {other}.tickets ADD COLUMN planted int")
                self.refused(role, "CREATE TABLE public.planted (x int)")

    def test_each_role_reads_its_own_tables(self):
        for role, own in (("cs_intake", "intake"), ("cs_dispatch", "dispatch")):
            ok, err = self.as_role(role, f"SELECT count(*) FROM {own}.tickets")
            self.assertTrue(ok, f"{role} cannot read its own {own}.tickets: {err}")

    def test_the_services_run_as_their_own_roles(self):
        users = {r[0] for r in self.pg.query(
            "SELECT usename FROM pg_stat_activity WHERE datname = 'petrocs'"
            " AND usename LIKE 'cs_%'")}
        self.assertEqual(users, {"cs_intake", "cs_dispatch"})


if __name__ == "__main__":
    main()
