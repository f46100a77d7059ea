#!/usr/bin/env python3
"""Benchmark: intake's REST API — requests/s and the CTI screen-pop lookup latency.

Starts its own durable PostgreSQL (fsync on) and one cs-intake (reading no other stream), then
  - POST /v1/requests with realistic bodies of 5-50 KB (a field engineer's report, Chinese
    and English, uniform in size over the range), each with its own Idempotency-Key, from 1
    and from 16 clients on keep-alive connections, for a fixed time each; only a 201 (sent
    after the commit) counts;
  - GET /v1/cti/lookup?number= for numbers spelled as people write them, against a registry
    of 20 000 contacts, from 1 client: latency p50 / p99 as the client sees it, and the
    index probe as PostgreSQL runs it (EXPLAIN ANALYZE).
Target on this 2-core machine (issue 4): 2 000 requests/s. Figures only, never pass/fail.

    python3 bench/intake_api.py [--seconds 10] [--lookups 2000]
"""
import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from harness import BUILD, Postgres, Service, wait_for  # noqa: E402
from harness import http as call  # noqa: E402

PG_PORT = 55546
HTTP_PORT = 32100
TOKEN = "bench-cti-token-0123456789"

PARAGRAPH = ("现场检查记录：P-101 离心泵驱动端轴承振动速度 7.1 mm/s，超过 ISO 10816-3 报警值 4.5 mm/s；"
             "非驱动端 3.2 mm/s。润滑油颜色发暗，油位正常。建议停机更换轴承并做对中复查。"
             "Field note: bearing temperature 78 °C at the drive end, 61 °C at the free end; "
             "coupling alignment off by 0.12 mm; suction pressure steady at 0.35 MPa. "
             "Please send a maintenance engineer with spare bearings (SKF 6310-2Z) and the "
             "laser alignment kit; the standby pump P-101B carries the load meanwhile.\n")


def bodies(n, rnd):
    """n request bodies of 5-50 KB each, as bytes."""
    out = []
    unit = PARAGRAPH.encode()
    for i in range(n):
        size = rnd.randint(5 * 1024, 50 * 1024)
        text = (unit * (size // len(unit) + 1))[:size].decode("utf-8", "ignore")
        out.append(json.dumps({
            "channel": "web", "subject": f"P-101 离心泵振动超标 #{i}", "description": text,
            "service_type": "equipment_maintenance", "urgency": "high",
            "customer": {"name": "基准客户", "email": f"bench{i % 500}@refinery.example",
                         "company": "Bench Refinery", "tier": "large"}},
            ensure_ascii=False).encode())
    return out


def post_run(clients, seconds, pool):
    """(201s, other answers, latencies in ms, bytes sent) over `seconds` from `clients`."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    tally = {"ok": 0, "other": 0, "bytes": 0, "lat": []}
    counter = [0]

    def worker(w):
        conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=60)
        ok = other = sent = 0
        lat = []
        while time.monotonic() < stop:
            with lock:
                counter[0] += 1
                k = counter[0]
            body = pool[k % len(pool)]
            t0 = time.monotonic()
            conn.request("POST", "/v1/requests", body,
                         {"Content-Type": "application/json",
                          "Idempotency-Key": f"bench-{clients}-{w}-{k}"})
            r = conn.getresponse()
            r.read()
            lat.append((time.monotonic() - t0) * 1000)
            if r.status == 201:
                ok += 1
                sent += len(body)
            else:
                other += 1
        conn.close()
        with lock:
            tally["ok"] += ok
            tally["other"] += other
            tally["bytes"] += sent
            tally["lat"] += lat

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - t0


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))] if s else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4, help="CS_INTAKE_HTTP_THREADS")
    args = ap.parse_args()
    rnd = random.Random(4)
    var = os.path.join(BUILD, "bench-var", "intake-api")
    os.makedirs(var, exist_ok=True)
    pg = Postgres("bench-intake-api", PG_PORT, durable=True)
    pg.start(["intake"])
    env = dict(os.environ, CS_DB_URL=pg.conninfo(), CS_LOG_LEVEL="warn",
               CS_INTAKE_HTTP_PORT=str(HTTP_PORT), CS_INTAKE_PUB_PORT=str(HTTP_PORT + 1),
               CS_INTAKE_REPLAY_PORT=str(HTTP_PORT + 2), CS_INTAKE_SMTP_PORT="0",
               CS_INTAKE_TIMELINE="0", CS_INTAKE_OUTBOUND_LEDGER="0",
               CS_INTAKE_CTI_TOKEN=TOKEN, CS_INTAKE_HTTP_THREADS=str(args.threads))
    svc = Service("intake", [os.path.join(BUILD, "bin", "cs-intake")], env,
                  os.path.join(var, "intake.log"))
    base = f"http://127.0.0.1:{HTTP_PORT}"
    try:
        svc.start()
        wait_for(lambda: call("GET", base + "/readyz")[0] == 200, 30, "intake ready")
        pool = bodies(400, rnd)
        avg_kb = sum(len(b) for b in pool) / len(pool) / 1024
        print(f"intake REST API — durable PostgreSQL (fsync on), bodies 5-50 KB "
              f"(mean {avg_kb:.1f} KB), {args.seconds:.0f} s per run, one cs-intake with "
              f"{args.threads} HTTP thread(s)")
        post_run(2, 2, pool)  # warm: statements prepared, caches filled
        for clients in (1, 16):
            t, elapsed = post_run(clients, args.seconds, pool)
            rate = t["ok"] / elapsed
            print(f"  POST /v1/requests  {clients:2d} client(s): {rate:7.0f} requests/s "
                  f"(201 after commit), {t['bytes'] / elapsed / 1e6:5.1f} MB/s, "
                  f"latency p50 {pct(t['lat'], 50):5.1f} ms p99 {pct(t['lat'], 99):5.1f} ms, "
                  f"other answers {t['other']}")
        # the registry behind the screen pop: 20 000 contacts with mobile numbers
        pg.query("INSERT INTO intake.customers (id, name, company, tier)"
                 " SELECT gen_random_uuid(), 'c' || g, 'Org ' || g, 'sme'"
                 " FROM generate_series(1, 20000) g;"
                 " INSERT INTO intake.contacts (id, customer_id, name, phone, is_primary)"
                 " SELECT gen_random_uuid(), id, name,"
                 " '+86139' || lpad((row_number() OVER ())::text, 8, '0'), true"
                 " FROM intake.customers WHERE name ~ '^c[0-9]+$'; ANALYZE intake.contacts;")
        conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
        lat, matched = [], 0
        spellings = ("139{}", "+86 139 {}", "0086-139-{}")
        for i in range(args.lookups):
            n = f"{rnd.randint(1, 20000):08d}"
            number = rnd.choice(spellings).format(n).replace(" ", "%20")
            t0 = time.monotonic()
            conn.request("GET", f"/v1/cti/lookup?number={number}",
                         headers={"Authorization": f"Bearer {TOKEN}"})
            r = conn.getresponse()
            out = json.loads(r.read())
            lat.append((time.monotonic() - t0) * 1000)
            matched += bool(out.get("matched"))
        plan = pg.query("EXPLAIN (ANALYZE, TIMING ON) SELECT c.id FROM intake.contacts k"
                        " JOIN intake.customers c ON c.id = k.customer_id"
                        " WHERE k.phone = '+8613900012345' AND c.merged_into IS NULL")
        exec_ms = [r[0] for r in plan if r[0].startswith("Execution Time")]
        uses = "contacts_phone" in " ".join(r[0] for r in plan)
        print(f"  GET /v1/cti/lookup 1 client, 20 000 contacts: {len(lat)} lookups, "
              f"{matched} matched, p50 {statistics.median(lat):.2f} ms, "
              f"p99 {pct(lat, 99):.2f} ms (client side); "
              f"{'index contacts_phone' if uses else 'NO INDEX'}, "
              f"{exec_ms[0] if exec_ms else ''}")
    finally:
        svc.stop()
        pg.stop()


if __name__ == "__main__":
    main()
