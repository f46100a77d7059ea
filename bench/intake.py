#!/usr/bin/env python3
"""Benchmark: intake's mail gateway — the parse cost per message, and messages per second
accepted over SMTP with 1 and 16 connections, each 250 only after its commit (durable
PostgreSQL: fsync and synchronous_commit on).

Messages are realistic customer mails written here: Chinese and English text in UTF-8 and
GBK (quoted-printable or base64), a multipart/alternative HTML copy, and attachments
(base64), sized 5–50 KB; the "typical" set is 10 KB.

    python3 bench/intake.py [--seconds 3] [-n 2000]
Figures only — never a pass/fail. Targets (issue 4): parse >= 5,000 typical 10 KB
messages/s on one core; >= 1,000 messages/s accepted over 16 SMTP connections.
"""
import argparse
import base64
import concurrent.futures
import os
import random
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from harness import BUILD, Postgres, Service, http, wait_for  # noqa: E402

OFF = 24000  # HTTP 31100.., SMTP 26525
SMTP_PORT = 2525 + OFF
INTAKE = f"http://127.0.0.1:{7100 + OFF}"

PARAGRAPH = ("P-101 离心泵振动值 7.1 mm/s，超过报警值，已切换备用泵。请安排工程师到现场检查轴承与对中，"
             "并提供检修方案和预计停机时间。The vibration trend since Monday is attached. ")


def message(i, size, charset="utf-8"):
    """One customer mail of about size bytes."""
    rnd = random.Random(i)
    text = ""
    while len(text.encode(charset)) < size * 0.22:
        text += PARAGRAPH
    body = text.encode(charset)
    html = ("<html><body><p>" + text.replace("。", "。</p><p>") + "</p></body></html>").encode(charset)
    attach = bytes(rnd.getrandbits(8) for _ in range(max(0, int(size * 0.2))))
    b = f"b{i}"
    enc = lambda data: base64.encodebytes(data).replace(b"\n", b"\r\n")  # noqa: E731
    subject = base64.b64encode(f"离心泵振动超标 #{i}".encode(charset)).decode()
    return (f"From: =?{charset}?B?{base64.b64encode('王工'.encode(charset)).decode()}?="
            f" <wang{i % 997}@refinery{i % 13}.example>\r\n"
            f"To: service@petrocs.example\r\nSubject: =?{charset}?B?{subject}?=\r\n"
            f"Message-ID: <bench-{i}-{size}@refinery.example>\r\n"
            f"Date: Thu, 03 Dec 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{b}m\"\r\n\r\n"
            f"--{b}m\r\nContent-Type: multipart/alternative; boundary=\"{b}a\"\r\n\r\n"
            f"--{b}a\r\nContent-Type: text/plain; charset={charset}\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n").encode() + enc(body) + \
        (f"--{b}a\r\nContent-Type: text/html; charset={charset}\r\n"
         f"Content-Transfer-Encoding: base64\r\n\r\n").encode() + enc(html) + \
        (f"--{b}a--\r\n--{b}m\r\nContent-Type: application/pdf\r\n"
         f"Content-Disposition: attachment; filename*=utf-8''%E6%8C%AF%E5%8A%A8.pdf\r\n"
         f"Content-Transfer-Encoding: base64\r\n\r\n").encode() + enc(attach) + \
        f"--{b}m--\r\n".encode()


def parse_bench(seconds, tmp):
    binary = os.path.join(BUILD, "bench", "intake_parse")
    sets = {"typical 10 KB": [(i, 10_000, "utf-8" if i % 2 else "gbk") for i in range(20)],
            "mixed 5-50 KB": [(i, random.Random(i).randint(5_000, 50_000),
                               "utf-8" if i % 2 else "gbk") for i in range(40)]}
    print("== parse (one core, bench/intake_parse)")
    for name, spec in sets.items():
        files = []
        for i, size, cs in spec:
            path = os.path.join(tmp, f"p{name[:3]}{i}.eml")
            with open(path, "wb") as f:
                f.write(message(i, size, cs))
            files.append(path)
        out = subprocess.run(["taskset", "-c", "0", binary, str(seconds)] + files,
                             capture_output=True, text=True, check=True).stdout.split()
        fig = dict(zip(out[::2], out[1::2]))
        print(f"  {name:14} avg {int(fig['avg_bytes']) / 1000:5.1f} KB: {fig['msgs_per_s']:>7}"
              f" msgs/s, {fig['us_per_msg']} µs/msg, {fig['mb_per_s']} MB/s")


def smtp_bench(n, conns):
    msgs = [message(100_000 + conns * 100_000 + i, 10_000 if i % 3 else 30_000,
                    "utf-8" if i % 2 else "gbk") for i in range(n)]
    chunks = [msgs[k::conns] for k in range(conns)]

    def session(chunk):
        ok = 0
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=120) as s:
            s.ehlo("bench.example")
            for raw in chunk:
                s.mail("bench@refinery.example")
                s.rcpt("service@petrocs.example")
                code, _ = s.data(raw)
                ok += code == 250
        return ok

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
        ok = sum(ex.map(session, chunks))
    el = time.time() - t0
    size = sum(len(m) for m in msgs) / n / 1000
    print(f"  {conns:2} connection(s): {ok}/{n} accepted (250 after commit), avg {size:.1f} KB,"
          f" {ok / el:7.0f} msgs/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        parse_bench(args.seconds, tmp)
    pg = Postgres("bench-intake", 55541, durable=True)
    pg.start(["intake"])
    log = os.path.join(BUILD, "test-var", "bench-intake", "intake.log")
    env = dict(os.environ, CS_DB_URL=pg.conninfo(), CS_INTAKE_HTTP_PORT=str(7100 + OFF),
               CS_INTAKE_PUB_PORT=str(7101 + OFF), CS_INTAKE_REPLAY_PORT=str(7102 + OFF),
               CS_INTAKE_SMTP_PORT=str(SMTP_PORT), CS_INTAKE_MAIL_RATE_LIMIT="0",
               CS_DISPATCH_PUB_PORT=str(7201 + OFF), CS_DISPATCH_REPLAY_PORT=str(7202 + OFF),
               CS_NOTIFY_PUB_PORT=str(7601 + OFF), CS_NOTIFY_REPLAY_PORT=str(7602 + OFF),
               CS_LOG_LEVEL="warn")
    svc = Service("intake", [os.path.join(BUILD, "bin", "cs-intake")], env, log)
    svc.start()
    try:
        wait_for(lambda: http("GET", INTAKE + "/readyz")[0] == 200, 30, "intake ready")
        print("== SMTP into durable PostgreSQL (cs-intake, one listener thread)")
        for conns in (1, 16):
            smtp_bench(args.n, conns)
    finally:
        svc.stop()
        pg.stop()


if __name__ == "__main__":
    main()
