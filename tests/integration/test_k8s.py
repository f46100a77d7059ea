"""The Kubernetes manifests (deploy/k8s), rendered by kustomize and checked.

No cluster and no container engine run here: each overlay is rendered with
`kubectl kustomize` after deploy/k8s/make-secrets made its secrets (with the
real csctl), then its structure is checked — every StatefulSet has probes on
/healthz and /readyz, resources, a non-root read-only securityContext, a grace
period and its stream named after the pod; every Secret and ConfigMap key a pod
reads exists; each pod gets only its own service's password and CURVE key;
CURVE is on; the consumers' connect lists name every instance; network policies
open the bus only between services and PostgreSQL only to petrocs pods; the
Ingresses point at real Services. The rendered objects are validated against
the Kubernetes OpenAPI schemas with the npm package kubernetes-models (offline,
installed with npm into $BUILD/k8s-validate). db-init.sql, which the migration
Job runs, is run twice against a real PostgreSQL (port 55536).

Skips only when kubectl (with kustomize) is missing, or for the schema check
when npm cannot install the validator.
"""
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, ROOT, SERVICES, Postgres, main  # noqa: E402

try:
    import yaml
except ImportError:  # Debian python3-yaml; tools/deps --test installs it
    yaml = None

KUBECTL = shutil.which("kubectl")
NPM = shutil.which("npm")
NODE = shutil.which("node")
PG_PORT = 55536
OVERLAYS = {"staging": {"intake": 1}, "production": {"intake": 2}}
BASES = {"intake": 7100, "dispatch": 7200, "sla": 7300, "complaint": 7400, "survey": 7500,
         "notify": 7600}
BUS_PORTS = {b + d for b in BASES.values() for d in (1, 2)}
Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


def render(tmp, overlay):
    r = subprocess.run([KUBECTL, "kustomize", os.path.join(tmp, "overlays", overlay)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay}: {r.stderr}")
    return r.stdout, [d for d in yaml.safe_load_all(r.stdout) if d]


@unittest.skipUnless(KUBECTL and yaml, "kubectl (with kustomize) or python3-yaml missing")
class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="petrocs-k8s-")
        src = os.path.join(ROOT, "deploy", "k8s")
        shutil.copytree(src, os.path.join(cls.tmp, "k8s"),
                        ignore=shutil.ignore_patterns("secrets"))
        cls.k8s = os.path.join(cls.tmp, "k8s")
        cls.text, cls.docs = {}, {}
        for overlay in OVERLAYS:
            subprocess.run([os.path.join(cls.k8s, "make-secrets"), overlay,
                            os.path.join(BUILD, "bin", "csctl")],
                           check=True, capture_output=True, timeout=60)
            cls.text[overlay], cls.docs[overlay] = render(cls.k8s, overlay)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def objects(self, overlay, kind):
        return [d for d in self.docs[overlay] if d["kind"] == kind]

    def one(self, overlay, kind, prefix):
        """The object of kind whose name is prefix, or prefix-<kustomize hash>."""
        found = [d for d in self.objects(overlay, kind)
                 if re.fullmatch(re.escape(prefix) + r"(-[a-z0-9]{10})?", d["metadata"]["name"])]
        self.assertEqual(len(found), 1, f"{overlay}: {kind} {prefix}")
        return found[0]

    def config(self, overlay):
        return self.one(overlay, "ConfigMap", "petrocs-config")["data"]

    def pod_specs(self, overlay):
        for kind in ("StatefulSet", "Job"):
            for o in self.objects(overlay, kind):
                yield o, o["spec"]["template"]["spec"]

    def test_every_overlay_renders_six_statefulsets_and_what_goes_with_them(self):
        for overlay in OVERLAYS:
            names = sorted(o["metadata"]["name"] for o in self.objects(overlay, "StatefulSet"))
            self.assertEqual(names, sorted(SERVICES), overlay)
            self.assertEqual(len(self.objects(overlay, "PodDisruptionBudget")), 6)
            self.assertEqual(len(self.objects(overlay, "Job")), 1)
            self.assertEqual(len(self.objects(overlay, "Ingress")), 2)
            self.assertTrue(self.objects(overlay, "NetworkPolicy"))
            for o in self.docs[overlay]:
                if o["kind"] not in ("Namespace", "PriorityClass"):
                    self.assertIn(o["metadata"].get("namespace"), ("petrocs", "petrocs-staging"),
                                  f"{o['kind']}/{o['metadata']['name']}")

    def test_every_statefulset_has_probes_resources_and_a_non_root_read_only_context(self):
        for overlay in OVERLAYS:
            for sts in self.objects(overlay, "StatefulSet"):
                name = sts["metadata"]["name"]
                spec = sts["spec"]["template"]["spec"]
                c = spec["containers"][0]
                what = f"{overlay} {name}"
                self.assertEqual(c["command"], [f"cs-{name}"], what)
                self.assertEqual(c["image"], "registry.petrocs.example/petrocs:0.1.0", what)
                self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz",
                                                                 "port": "http"}, what)
                self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz",
                                                                  "port": "http"}, what)
                self.assertEqual(c["startupProbe"]["httpGet"]["path"], "/healthz", what)
                http_port = [p for p in c["ports"] if p["name"] == "http"][0]["containerPort"]
                self.assertEqual(http_port, BASES[name], what)
                for key in ("requests", "limits"):
                    self.assertIn("cpu", c["resources"][key], what)
                    self.assertIn("memory", c["resources"][key], what)
                self.assertTrue(spec["securityContext"]["runAsNonRoot"], what)
                self.assertGreater(spec["securityContext"]["runAsUser"], 0, what)
                self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"], what)
                self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"], what)
                self.assertEqual(c["securityContext"]["capabilities"]["drop"], ["ALL"], what)
                # SIGTERM: time to finish the transaction, drain HTTP (5 s), flush the relay
                self.assertGreaterEqual(spec["terminationGracePeriodSeconds"], 10, what)
                env = {e["name"]: e for e in c.get("env", [])}
                self.assertEqual(env["CS_STREAM"]["valueFrom"]["fieldRef"]["fieldPath"],
                                 "metadata.name", what + ": the stream is the pod's name")

    def test_the_job_runs_non_root_too(self):
        for overlay in OVERLAYS:
            for job in self.objects(overlay, "Job"):
                spec = job["spec"]["template"]["spec"]
                self.assertTrue(spec["securityContext"]["runAsNonRoot"])
                c = spec["containers"][0]
                self.assertIn("limits", c["resources"])
                self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"])

    def test_every_secret_and_configmap_key_a_pod_reads_exists(self):
        for overlay in OVERLAYS:
            data = {}
            for kind in ("Secret", "ConfigMap"):
                for o in self.objects(overlay, kind):
                    data[(kind, o["metadata"]["name"])] = set(o.get("data", {}))
            checked = 0
            for owner, spec in self.pod_specs(overlay):
                for c in spec["containers"]:
                    what = f"{overlay} {owner['metadata']['name']}"
                    for src in c.get("envFrom", []):
                        for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                            if ref in src:
                                self.assertIn((kind, src[ref]["name"]), data, what)
                    for e in c.get("env", []):
                        vf = e.get("valueFrom", {})
                        for kind, ref in (("Secret", "secretKeyRef"),
                                          ("ConfigMap", "configMapKeyRef")):
                            if ref not in vf or vf[ref].get("optional"):
                                continue
                            key = (kind, vf[ref]["name"])
                            self.assertIn(key, data, f"{what}: {e['name']} names no {kind}")
                            self.assertIn(vf[ref]["key"], data[key],
                                          f"{what}: {e['name']}: {vf[ref]['name']} has no key "
                                          f"{vf[ref]['key']}")
                            checked += 1
                for v in spec.get("volumes", []):
                    if "configMap" in v:
                        self.assertIn(("ConfigMap", v["configMap"]["name"]), data)
            self.assertGreater(checked, 20, overlay)

    def test_curve_is_on_and_each_pod_gets_only_its_own_keys(self):
        for overlay in OVERLAYS:
            self.assertEqual(self.config(overlay)["CS_BUS_CURVE"], "on")
            public = self.one(overlay, "ConfigMap", "petrocs-curve-public")["data"]
            self.assertEqual(sorted(public),
                             sorted(f"CS_BUS_CURVE_PUBLIC_{s.upper()}" for s in SERVICES))
            secret = self.one(overlay, "Secret", "petrocs-curve")["data"]
            for s in SERVICES:
                key = base64.b64decode(re.sub(r"\s", "", secret[f"{s}-secret"])).decode()
                self.assertRegex(key, Z85, f"{s}: a Z85 secret key")
                self.assertRegex(public[f"CS_BUS_CURVE_PUBLIC_{s.upper()}"], Z85)
            for sts in self.objects(overlay, "StatefulSet"):
                name = sts["metadata"]["name"]
                env = {e["name"]: e["valueFrom"] for e in
                       sts["spec"]["template"]["spec"]["containers"][0]["env"]
                       if "valueFrom" in e}
                self.assertEqual(env["CS_BUS_CURVE_SECRET"]["secretKeyRef"]["key"],
                                 f"{name}-secret")
                self.assertEqual(env[f"CS_{name.upper()}_DB_PASSWORD"]["secretKeyRef"]["key"],
                                 f"{name}-password")
                others = [n for n in env if re.match(r"CS_[A-Z]+_DB_PASSWORD", n)
                          and n != f"CS_{name.upper()}_DB_PASSWORD"]
                self.assertEqual(others, [], f"{name} gets another service's password")

    def test_connect_lists_name_every_instance_of_every_service(self):
        for overlay, replicas in OVERLAYS.items():
            cfg = self.config(overlay)
            for s, base in BASES.items():
                sts = self.one(overlay, "StatefulSet", s)
                n = sts["spec"].get("replicas", 1)
                self.assertEqual(n, replicas.get(s, 1), f"{overlay} {s} replicas")
                for key, port, scheme in (("PUB", base + 1, "tcp"), ("REPLAY", base + 2, "tcp"),
                                          ("HTTP", base, "http")):
                    want = ",".join(f"{scheme}://{s}-{i}.{s}-pods:{port}" for i in range(n))
                    self.assertEqual(cfg[f"CS_{s.upper()}_{key}_CONNECT"], want,
                                     f"{overlay}: CS_{s.upper()}_{key}_CONNECT")
                self.assertEqual(cfg[f"CS_{s.upper()}_BIND"], "0.0.0.0")

    def test_services_headless_for_the_bus_and_one_for_http_and_a_pdb_each(self):
        for overlay in OVERLAYS:
            for s, base in BASES.items():
                sts = self.one(overlay, "StatefulSet", s)
                sel = sts["spec"]["selector"]["matchLabels"]
                headless = self.one(overlay, "Service", f"{s}-pods")
                self.assertEqual(sts["spec"]["serviceName"], f"{s}-pods")
                self.assertEqual(headless["spec"]["clusterIP"], "None")
                self.assertTrue(headless["spec"]["publishNotReadyAddresses"],
                                "a not-ready publisher still serves the bus")
                self.assertEqual({p["port"] for p in headless["spec"]["ports"]},
                                 {base, base + 1, base + 2})
                api = self.one(overlay, "Service", s)
                self.assertIn(base, {p["port"] for p in api["spec"]["ports"]})
                for svc in (headless, api):
                    self.assertEqual(svc["spec"]["selector"], sel)
                pdb = self.one(overlay, "PodDisruptionBudget", s)
                self.assertEqual(pdb["spec"]["selector"]["matchLabels"], sel)
                self.assertEqual(pdb["spec"]["maxUnavailable"], 1)

    def test_network_policies_keep_the_bus_and_postgresql_inside(self):
        for overlay in OVERLAYS:
            pols = self.objects(overlay, "NetworkPolicy")
            deny = [p for p in pols if p["metadata"]["name"] == "petrocs-default-deny"][0]
            self.assertEqual(deny["spec"]["policyTypes"], ["Ingress", "Egress"])
            self.assertNotIn("ingress", deny["spec"])
            bus_seen = set()
            for p in pols:
                for rule in p["spec"].get("ingress", []):
                    ports = {pt["port"] for pt in rule.get("ports", [])}
                    if ports & BUS_PORTS:
                        bus_seen |= ports & BUS_PORTS
                        self.assertTrue(rule.get("from"), "bus ports open to anyone")
                        for peer in rule["from"]:
                            self.assertEqual(set(peer), {"podSelector"}, p["metadata"]["name"])
                            self.assertEqual(peer["podSelector"]["matchLabels"].get(
                                "app.kubernetes.io/part-of"), "petrocs")
                    if 5432 in ports:
                        self.assertEqual(p["spec"]["podSelector"]["matchLabels"],
                                         {"cnpg.io/cluster": "petrocs-db"})
                        for peer in rule["from"]:
                            self.assertIn("podSelector", peer)
                            self.assertNotIn("namespaceSelector", peer)
            self.assertEqual(bus_seen, BUS_PORTS)

    def test_ingresses_point_at_real_services_and_expose_only_apis_and_the_answer_page(self):
        for overlay in OVERLAYS:
            services = {o["metadata"]["name"]: o for o in self.objects(overlay, "Service")}
            for ing in self.objects(overlay, "Ingress"):
                for rule in ing["spec"]["rules"]:
                    for path in rule["http"]["paths"]:
                        be = path["backend"]["service"]
                        self.assertIn(be["name"], services)
                        names = {p["name"] for p in services[be["name"]]["spec"]["ports"]}
                        self.assertIn(be["port"]["name"], names)
                        self.assertIn(path["path"], ("/v1", "/s/"),
                                      "no /metrics, /readyz or /healthz from outside")
            survey = self.one(overlay, "Ingress", "petrocs-survey")
            host = survey["spec"]["rules"][0]["host"]
            self.assertEqual(self.config(overlay)["CS_SURVEY_PUBLIC_URL"], f"https://{host}",
                             "answer links go to the host the Ingress serves")

    def test_manifests_validate_against_the_kubernetes_schemas(self):
        if not (NPM and NODE):
            self.skipTest("npm/node missing")
        mods = os.path.join(BUILD, "k8s-validate")
        if not os.path.isdir(os.path.join(mods, "node_modules", "kubernetes-models")):
            os.makedirs(mods, exist_ok=True)
            r = subprocess.run([NPM, "install", "--prefix", mods, "--no-audit", "--no-fund",
                                "--silent", "kubernetes-models@5.1.0", "js-yaml@4.1.0"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                self.skipTest("npm could not install kubernetes-models: " + r.stderr[-300:])
        for overlay in OVERLAYS:
            path = os.path.join(self.tmp, f"{overlay}.yaml")
            with open(path, "w") as f:
                f.write(self.text[overlay])
            r = subprocess.run([NODE, os.path.join(ROOT, "tests", "lib", "k8s-validate.mjs"),
                                os.path.join(mods, "node_modules"), path],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, f"{overlay}:\n{r.stdout}{r.stderr}")
            self.assertEqual(r.stdout.count("\nok ") + r.stdout.startswith("ok "),
                             len(self.docs[overlay]))
        # the validator can fail: a port that is not a number
        bad = self.text["staging"].replace("port: 7101\n", "port: seven\n", 1)
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write(bad)
        r = subprocess.run([NODE, os.path.join(ROOT, "tests", "lib", "k8s-validate.mjs"),
                            os.path.join(mods, "node_modules"), path],
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("must be integer", r.stdout)

    def test_make_secrets_refuses_to_overwrite(self):
        r = subprocess.run([os.path.join(self.k8s, "make-secrets"), "staging",
                            os.path.join(BUILD, "bin", "csctl")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)


class DbInit(unittest.TestCase):
    """deploy/k8s/base/db-init.sql, as the Job runs it, on a real PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres("k8s-dbinit", PG_PORT)
        cls.pg.start([])  # the database only: no roles, no schemas

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def run_init(self, passwords):
        env = dict(os.environ, PGUSER="postgres")
        for s in SERVICES:
            env[f"CS_{s.upper()}_DB_PASSWORD"] = passwords[s]
        return subprocess.run(["psql", self.pg.conninfo(), "-X", "-q", "-f",
                               os.path.join(ROOT, "deploy", "k8s", "base", "db-init.sql")],
                              env=env, capture_output=True, text=True, timeout=60)

    def test_roles_and_schemas_are_made_and_a_second_run_rotates_the_passwords(self):
        first = {s: f"first-{s}-'quote" for s in SERVICES}
        r = self.run_init(first)
        self.assertEqual(r.returncode, 0, r.stderr)
        owners = dict(self.pg.query(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace"
            " WHERE nspname = ANY(ARRAY['intake','dispatch','sla','complaint','survey','notify'])"))
        self.assertEqual(owners, {s: f"cs_{s}" for s in SERVICES})
        hashes = dict(self.pg.query("SELECT rolname, rolpassword FROM pg_authid"
                                    " WHERE rolname LIKE 'cs\\_%'"))
        self.assertEqual(sorted(hashes), sorted(f"cs_{s}" for s in SERVICES))
        for h in hashes.values():
            self.assertTrue(h.startswith("SCRAM-SHA-256$"), "stored hashed, never plain")
        r = self.run_init({s: f"second-{s}" for s in SERVICES})
        self.assertEqual(r.returncode, 0, r.stderr)
        again = dict(self.pg.query("SELECT rolname, rolpassword FROM pg_authid"
                                   " WHERE rolname LIKE 'cs\\_%'"))
        self.assertEqual(sorted(again), sorted(hashes))
        for role in again:
            self.assertNotEqual(again[role], hashes[role], f"{role}: password rotated")
        can = self.pg.scalar("SELECT has_database_privilege('cs_sla', 'petrocs', 'CONNECT')")
        self.assertEqual(can, "t")

    def test_a_missing_password_stops_the_job(self):
        env = dict(os.environ, PGUSER="postgres")
        for s in SERVICES:
            env.pop(f"CS_{s.upper()}_DB_PASSWORD", None)
        r = subprocess.run(["psql", self.pg.conninfo(), "-X", "-q", "-f",
                            os.path.join(ROOT, "deploy", "k8s", "base", "db-init.sql")],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    main()
