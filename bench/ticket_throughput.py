#!/usr/bin/env python3
"""Benchmark: tickets per second through intake (HTTP and SMTP) and on into dispatch.

Starts its own PostgreSQL (durable: fsync on) and cs-intake + cs-dispatch on moved ports,
sends N web requests from C concurrent clients, then N mails over SMTP from C concurrent
sessions, and prints:
  - requests accepted per second at intake (201 / 250 after the commit),
  - the time until dispatch has classified and assigned every one of them.
The reference figure (../shared/FACTS.md): Request Tracker 5 creates ~8 tickets/s through its
REST API with one client and ~15/s with four; ~4.5/s and ~8.5/s through its mail gateway.

    python3 bench/ticket_throughput.py [-n 2000] [-c 8]
Figures only — never a pass/fail; compare ratios within one run on a shared machine.
"""
import argparse
import concurrent.futures
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from harness import BUILD, Postgres, Service, http, wait_for  # noqa: E402

OFF = 24000  # 31100..31602, SMTP 26525: below the ephemeral port range
INTAKE = f"http://127.0.0.1:{7100 + OFF}"
DISPATCH = f"http://127.0.0.1:{7200 + OFF}"
SMTP_PORT = 2525 + OFF


def post(i):
    status, body = http("POST", INTAKE + "/v1/requests", {
        "channel": "web", "subject": f"离心泵振动超标 #{i}",
        "description": "P-101 离心泵振动值 7.1 mm/s，超过报警值，请安排检修。",
        "customer": {"name": "基准客户", "email": f"bench{i % 50}@refinery.example"}}, timeout=60)
    return status == 201


def send_mails(ids):
    ok = 0
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=60) as s:
        for i in ids:
            msg = (f"From: bench{i % 50}@plant.example\r\nTo: service@petrocs.example\r\n"
                   f"Subject: =?UTF-8?B?5Y6L57yp5py65ZaY5oyv?= #{i}\r\n"
                   f"Message-ID: <bench-{i}@plant.example>\r\n\r\n"
                   "Compressor K-201 surges at low load, please advise.\r\n").encode()
            refused = s.sendmail(f"bench{i % 50}@plant.example", ["service@petrocs.example"],
                                 msg)  # raises unless the 250 came (after intake's commit)
            ok += 0 if refused else 1
    return ok


def dispatch_count():
    status, body = http("GET", DISPATCH + "/v1/stats")
    return body.get("tickets", 0) if status == 200 else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000, help="requests per channel")
    ap.add_argument("-c", type=int, default=8, help="concurrent clients")
    args = ap.parse_args()
    var = os.path.join(BUILD, "bench-var")
    os.makedirs(var, exist_ok=True)
    pg = Postgres("bench", 55499, durable=True)
    pg.start(["intake", "dispatch", "sla"])
    env = dict(os.environ, CS_DB_URL=pg.conninfo(), CS_INTAKE_SMTP_PORT=str(SMTP_PORT),
               CS_LOG_LEVEL="warn", CS_INTAKE_OUTBOUND_LEDGER="0")  # no notify here
    for s, base in (("intake", 7100), ("dispatch", 7200), ("sla", 7300)):
        env[f"CS_{s.upper()}_HTTP_PORT"] = str(base + OFF)
        env[f"CS_{s.upper()}_PUB_PORT"] = str(base + OFF + 1)
        env[f"CS_{s.upper()}_REPLAY_PORT"] = str(base + OFF + 2)
    procs = [Service(s, [os.path.join(BUILD, "bin", f"cs-{s}")], env, os.path.join(var, f"{s}.log"))
             for s in ("intake", "dispatch", "sla")]
    try:
        for p in procs:
            p.start()
        wait_for(lambda: http("GET", DISPATCH + "/readyz")[0] == 200, 30, "dispatch ready")
        n, c = args.n, args.c
        print(f"petrocs ticket throughput — {n} requests per channel, {c} concurrent clients,"
              " PostgreSQL durable (fsync on, synchronous_commit on)")

        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(c) as ex:
            ok = sum(ex.map(post, range(n)))
        t1 = time.time()
        wait_for(lambda: dispatch_count() >= ok, 300, "dispatch has every web ticket", 0.05)
        t2 = time.time()
        print(f"  web API:  {ok}/{n} accepted in {t1 - t0:.2f} s = {ok / (t1 - t0):8.1f} tickets/s;"
              f" all classified and assigned in dispatch after {t2 - t0:.2f} s"
              f" = {ok / (t2 - t0):8.1f} tickets/s end to end")

        before = dispatch_count()
        chunks = [list(range(n + k, 2 * n, c)) for k in range(c)]
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(c) as ex:
            sent = sum(ex.map(send_mails, chunks))
        t1 = time.time()
        wait_for(lambda: dispatch_count() >= before + sent, 300, "dispatch has every mail ticket",
                 0.05)
        t2 = time.time()
        print(f"  SMTP:     {sent}/{n} accepted in {t1 - t0:.2f} s = {sent / (t1 - t0):8.1f} tickets/s;"
              f" all classified and assigned in dispatch after {t2 - t0:.2f} s"
              f" = {sent / (t2 - t0):8.1f} tickets/s end to end")
        print("  reference: Request Tracker 5 ~8/s (REST, 1 client), ~15/s (4 clients);"
              " ~4.5/s and ~8.5/s by mail (../shared/FACTS.md)")
    finally:
        for p in procs:
            p.stop()
        pg.stop()


if __name__ == "__main__":
    main()
