"""intake's mail gateway with its neighbours: STARTTLS, IMAP polling of a real
Dovecot, threading against what dispatch and notify say (replies, reopening,
follow-ups), bounces matched to notify's letters, loops, the per-sender rate
limit with its quarantine, and the shared corpus through SMTP.

intake, dispatch and notify run on one PostgreSQL (55540) with every port
moved by 24000 (HTTP 31100/31200/31600, SMTP 26525); Dovecot listens on 31700
(IMAP) and 31701 (IMAPS) with a certificate made here by the openssl command.
The IMAP tests skip when Dovecot is not installed (tools/deps --test adds it).
"""
import base64
import imaplib
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, ROOT, Postgres, Service, StackTestCase, http,  # noqa: E402
                     main, service_url, stack_env, wait_for)

OFFSET = 24000
PG_PORT = 55540
SMTP_PORT = 2525 + OFFSET
INTAKE = service_url(OFFSET, "intake")
DISPATCH = service_url(OFFSET, "dispatch")
IMAP_PORT, IMAPS_PORT = 31700, 31701
VAR = os.path.join(BUILD, "test-var", "intake-mail")
CORPUS = os.environ.get("CS_MAIL_CORPUS", os.path.join(ROOT, "..", "shared", "data",
                                                       "mail-corpus"))
RATE_LIMIT = 5
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot")
                                      else None)


def mail(sender, subject, body="请派人检修。", headers=None, message_id=None):
    lines = [f"From: {sender}", "To: service@petrocs.example", f"Subject: {subject}"]
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: 8bit"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body.encode() + b"\r\n"


def send(raw, sender="sender@x.example"):
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as s:
        s.ehlo("test.example")
        s.mail(sender)
        s.rcpt("service@petrocs.example")
        code, reply = s.data(raw)
        return code, reply.decode()


def make_certificate(directory):
    """A self-signed certificate for localhost / 127.0.0.1 (openssl CLI)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Dovecot:
    """A private Dovecot: one passwd-file user, maildir under var, IMAP and IMAPS."""

    def __init__(self, directory, cert, key):
        self.dir = directory
        shutil.rmtree(directory, ignore_errors=True)
        for d in ("run", "state", "home"):
            os.makedirs(os.path.join(directory, d))
        shutil.chown(os.path.join(directory, "home"), 65534, 65534)
        with open(os.path.join(directory, "users"), "w") as f:
            f.write("cs:{PLAIN}mail-secret::::::\n")
        self.conf = os.path.join(directory, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={directory}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {IMAP_PORT}
  }}
  inet_listener imaps {{
    port = {IMAPS_PORT}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")

    def start(self):
        subprocess.run([DOVECOT, "-c", self.conf], check=True)
        wait_for(lambda: self.client(), 10, "dovecot answers")

    def stop(self):
        pid_file = os.path.join(self.dir, "run", "master.pid")
        if os.path.exists(pid_file):
            with open(pid_file) as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, "dovecot stopped")

    def client(self):
        c = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
        c.login("cs", "mail-secret")
        return c

    def append(self, raw):
        c = self.client()
        typ, data = c.append("INBOX", None, None, raw)
        c.logout()
        assert typ == "OK", data

    def uids(self):
        c = self.client()
        c.select("INBOX")
        typ, data = c.uid("SEARCH", None, "ALL")
        c.logout()
        return data[0].split()


class MailGatewayTest(StackTestCase):

    @classmethod
    def start_all(cls):
        cls.dovecot = None
        cls.pg = Postgres("intake-mail", PG_PORT)  # clears VAR: first
        cls.pg.start(["intake", "dispatch", "sla", "notify", "survey", "complaint"])
        cls.maildir = os.path.join(VAR, "letters")
        cls.cert, cls.key = make_certificate(VAR)
        if DOVECOT:
            cls.dovecot = Dovecot(os.path.join(VAR, "dovecot"), cls.cert, cls.key)
            cls.dovecot.start()
        cls.env = stack_env(cls.pg, OFFSET, cls.maildir, CS_LOG_LEVEL="info",
                            CS_DISPATCH_RULES=os.path.join(ROOT, "services/dispatch/rules/"
                                                           "classify.rules"),
                            CS_NOTIFY_TEMPLATES=os.path.join(ROOT, "services/notify/templates"),
                            CS_INTAKE_TLS_CERT=cls.cert, CS_INTAKE_TLS_KEY=cls.key,
                            CS_INTAKE_MAIL_RATE_LIMIT=str(RATE_LIMIT))
        intake_env = dict(cls.env)
        if cls.dovecot:
            intake_env.update(CS_INTAKE_IMAP_URL=f"imaps://localhost:{IMAPS_PORT}/INBOX",
                              CS_INTAKE_IMAP_USER="cs", CS_INTAKE_IMAP_PASSWORD="mail-secret",
                              CS_INTAKE_IMAP_CA_FILE=cls.cert, CS_INTAKE_IMAP_POLL_S="1")
        cls.intake_env = intake_env
        for name in ("intake", "dispatch", "notify"):
            env = intake_env if name == "intake" else cls.env
            p = Service(name, [os.path.join(BUILD, "bin", "cs-" + name)], env,
                        os.path.join(VAR, f"{name}.log"))
            p.start()
            cls.procs[name] = p
            wait_for(lambda: http("GET", service_url(OFFSET, name, "/healthz"))[0] == 200, 30,
                     f"{name} up")
        wait_for(lambda: http("GET", INTAKE + "/readyz")[0] == 200, 30, "intake ready")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if getattr(cls, "dovecot", None):
            cls.dovecot.stop()

    def number_of(self, reply):
        self.assertRegex(reply, r"^2\.0\.0 CS-\d{4}-\d{6} created")
        return reply.split()[1]

    def row(self, sql):
        rows = self.pg.query(sql)
        return rows[0] if rows else None

    # ---- STARTTLS ------------------------------------------------------------------

    def test_starttls_is_offered_and_mail_over_it_is_recorded_as_tls(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        with smtplib.SMTP("localhost", SMTP_PORT, timeout=30) as s:
            s.ehlo("tls.example")
            self.assertTrue(s.has_extn("starttls"), "STARTTLS advertised with a certificate")
            code, _ = s.starttls(context=ctx)
            self.assertEqual(code, 220)
            # RFC 3207 §4.2: the session starts afresh, the client must greet again
            code, reply = s.docmd("MAIL", "FROM:<tls@plant.example>")
            self.assertEqual(code, 503, reply)
            s.ehlo("tls.example")
            self.assertFalse(s.has_extn("starttls"), "not offered again inside TLS")
            s.mail("tls@plant.example")
            s.rcpt("service@petrocs.example")
            code, reply = s.data(mail("tls@plant.example", "加密邮件: 阀门泄漏"))
        self.assertEqual(code, 250)
        number = self.number_of(reply.decode())
        self.assertEqual(self.row("SELECT m.tls, m.source FROM intake.mail_messages m JOIN"
                                  " intake.tickets t ON t.id = m.ticket_id"
                                  f" WHERE t.number = '{number}'"), ["t", "smtp"])
        plain = self.number_of(send(mail("plain@plant.example", "明文邮件"))[1])
        self.assertEqual(self.row("SELECT m.tls FROM intake.mail_messages m JOIN"
                                  " intake.tickets t ON t.id = m.ticket_id"
                                  f" WHERE t.number = '{plain}'"), ["f"])

    def test_commands_pipelined_behind_starttls_are_refused_and_the_session_closed(self):
        # the STARTTLS command-injection trap (CVE-2011-0411): what follows
        # STARTTLS in the same packet was sent in plaintext and must not be
        # taken as if it had come over TLS
        with socket.create_connection(("127.0.0.1", SMTP_PORT), timeout=10) as sock:
            f = sock.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            sock.sendall(b"EHLO evil.example\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            sock.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
            line = f.readline()
            self.assertTrue(line.startswith(b"554 5.5.0"), line)
            self.assertEqual(f.readline(), b"", "connection closed")

    # ---- IMAP ---------------------------------------------------------------------

    def imap_rows(self, marker):
        return self.pg.query("SELECT outcome, source, tls, imap_uid FROM intake.mail_messages"
                             f" WHERE subject LIKE '%{marker}%' ORDER BY imap_uid")

    def test_imap_messages_are_taken_once_each_then_deleted_on_the_server(self):
        if not self.dovecot:
            self.skipTest("dovecot not installed (tools/deps --test installs dovecot-imapd)")
        gbk = ("From: =?GBK?B?" + base64.b64encode("赵工".encode("gbk")).decode()
               + "?= <zhao@imap.example>\r\nTo: cs@hosted.example\r\nSubject: =?GBK?B?"
               + base64.b64encode("IMAP-1 冷却塔结垢".encode("gbk")).decode()
               + "?=\r\nMessage-ID: <imap-1@imap.example>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=gb2312\r\n\r\n").encode() \
            + "冷却塔结垢，请安排清洗。".encode("gbk") + b"\r\n"
        self.dovecot.append(gbk)
        self.dovecot.append(mail("qian@imap.example", "IMAP-2 压缩机报警", message_id="imap-2@x"))
        wait_for(lambda: len(self.imap_rows("IMAP-")) == 2, 30, "both taken")
        rows = self.imap_rows("IMAP-")
        self.assertEqual([r[:3] for r in rows], [["ticket", "imap", "t"]] * 2)
        wait_for(lambda: self.dovecot.uids() == [], 10, "deleted on the server after commit")
        t = self.row("SELECT subject, from_name FROM intake.tickets"
                     " WHERE message_id = 'imap-1@imap.example'")
        self.assertEqual(t, ["IMAP-1 冷却塔结垢", "赵工"], "the same parser as SMTP")
        uidvalidity = self.row("SELECT uidvalidity, last_uid FROM intake.imap_mailboxes")
        self.assertEqual(uidvalidity[1], rows[-1][3], "last_uid is the highest committed UID")

    def test_imap_a_restart_in_the_middle_neither_loses_nor_doubles(self):
        if not self.dovecot:
            self.skipTest("dovecot not installed (tools/deps --test installs dovecot-imapd)")
        intake = self.procs["intake"]
        n = 40
        for i in range(n):
            self.dovecot.append(mail(f"bulk{i % 4}@restart.example", f"RESTART-{i:03d} 检修",
                                     message_id=f"restart-{i}@restart.example"))
        # kill -9 while the round is going, start again
        wait_for(lambda: len(self.imap_rows("RESTART-")) >= 5, 30, "the round started")
        intake.kill()
        intake.start()
        wait_for(lambda: len(self.imap_rows("RESTART-")) >= n, 60, "all taken after restart")
        wait_for(lambda: self.dovecot.uids() == [], 20, "all deleted on the server")
        rows = self.imap_rows("RESTART-")
        self.assertEqual(len(rows), n, "each message exactly once (no duplicate rows)")
        self.assertEqual(len({r[3] for r in rows}), n)
        self.assertEqual({r[0] for r in rows} - {"ticket", "rejected"}, set())
        wait_for(lambda: http("GET", INTAKE + "/readyz")[0] == 200, 30, "intake ready again")

    # ---- threading, reopening, follow-ups, bounces, loops ------------------------------

    def dispatch_row(self, number, status=None, timeout=30):
        def get():
            r = self.row("SELECT status, coalesce(assignee, '') FROM dispatch.tickets"
                         f" WHERE number = '{number}'")
            return r if r and (status is None or r[0] == status) else None
        return wait_for(get, timeout, f"dispatch has {number} {status or ''}")

    def close_in_dispatch(self, number):
        status, agent = self.dispatch_row(number)
        if status in ("new", "accepted"):
            status, agent = wait_for(lambda: (lambda r: r if r[1] or r[0] == "queued" else None)(
                self.dispatch_row(number)), 30, "assigned or queued")
        if status == "queued":  # every skilled agent is full (other tests' tickets): take it
            agent = self.row("SELECT a.login FROM dispatch.agents a JOIN dispatch.tickets t"
                             " ON t.service_type = ANY (a.skills)"
                             f" WHERE t.number = '{number}' ORDER BY a.login LIMIT 1")[0]
            code, body = http("POST", f"{DISPATCH}/v1/tickets/{number}/accept", {"agent": agent})
            self.assertEqual(code, 200, body)
            status = "assigned"
        if status == "assigned":
            code, body = http("POST", f"{DISPATCH}/v1/tickets/{number}/respond",
                              {"agent": agent, "message": "已安排工程师。"})
            self.assertEqual(code, 200, body)
        code, body = http("POST", f"{DISPATCH}/v1/tickets/{number}/resolve",
                          {"agent": agent, "report": {"work_done": "更换密封", "parts": [],
                                                      "root_cause": "密封老化",
                                                      "recommendations": "定期检查"}})
        self.assertEqual(code, 200, body)
        code, body = http("POST", f"{DISPATCH}/v1/tickets/{number}/close", {"agent": agent})
        self.assertEqual(code, 200, body)
        tid = self.row(f"SELECT id FROM intake.tickets WHERE number = '{number}'")[0]
        wait_for(lambda: self.row("SELECT status FROM intake.ticket_states"
                                  f" WHERE ticket_id = '{tid}'") == ["closed"], 30,
                 "intake learnt the closure from dispatch's stream")
        return tid

    def letter_of(self, number):
        return wait_for(lambda: self.row("SELECT message_id, notification_id, kind FROM"
                                         f" intake.notify_letters WHERE ticket_number = '{number}'"
                                         " ORDER BY sent_at LIMIT 1"), 30,
                        f"notify's letter for {number} known to intake")

    def test_replies_join_reopen_within_the_window_and_follow_up_after_it(self):
        customer = "sun.gong@thread.example"
        number = self.number_of(send(mail(f"孙工 <{customer}>", "T-1 储罐液位计故障",
                                          message_id="t1@thread.example"))[1])
        letter_id, _, _ = self.letter_of(number)
        # an answer to notify's letter, no number in the subject: In-Reply-To joins it
        code, reply = send(mail(customer, "Re: 您的请求已受理", message_id="t1-r1@thread.example",
                                headers={"In-Reply-To": f"<{letter_id}>",
                                         "References": f"<t1@thread.example> <{letter_id}>"}))
        self.assertEqual(reply, f"2.0.0 {number} reply")
        tid = self.close_in_dispatch(number)
        # closed moments ago (default CS_INTAKE_REOPEN_DAYS = 7): the reply reopens it
        code, reply = send(mail(customer, f"Re: [{number}] 又坏了",
                                message_id="t1-r2@thread.example"))
        self.assertEqual(reply, f"2.0.0 {number} reply")
        self.dispatch_row(number, "reopened")
        # closed again, and (as far as intake knows) eight days ago: a new ticket follows it up
        self.close_in_dispatch(number)
        self.pg.query("UPDATE intake.ticket_states SET closed_at = now() - interval '8 days'"
                      f" WHERE ticket_id = '{tid}'")
        code, reply = send(mail(customer, f"Re: [{number}] 还是有问题",
                                message_id="t1-r3@thread.example"))
        self.assertRegex(reply, rf"^2\.0\.0 CS-\d{{4}}-\d{{6}} created \(follows up {number}\)$")
        new = reply.split()[1]
        self.assertEqual(self.row(f"SELECT follows_up_ticket_id FROM intake.tickets"
                                  f" WHERE number = '{new}'"), [tid])
        self.dispatch_row(number, "closed")
        self.dispatch_row(new)

    def test_a_bounce_is_matched_to_the_letter_it_bounces(self):
        number = self.number_of(send(mail("周工 <zhou@bounce.example>", "B-1 泵密封泄漏",
                                          message_id="b1@bounce.example"))[1])
        letter_id, notification_id, kind = self.letter_of(number)
        boundary = "dsn-boundary"
        dsn = (f"From: Mail Delivery System <MAILER-DAEMON@mx.bounce.example>\r\n"
               f"To: service@petrocs.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
               f"Message-ID: <dsn-1@mx.bounce.example>\r\nMIME-Version: 1.0\r\n"
               f"Content-Type: multipart/report; report-type=delivery-status;"
               f" boundary=\"{boundary}\"\r\n\r\n"
               f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
               f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
               f"Reporting-MTA: dns; mx.bounce.example\r\n\r\n"
               f"Final-Recipient: rfc822; zhou@bounce.example\r\nAction: failed\r\n"
               f"Status: 5.1.1\r\n\r\n"
               f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
               f"From: service@petrocs.example\r\nTo: zhou@bounce.example\r\n"
               f"Message-ID: <{letter_id}>\r\nSubject: acceptance\r\n\r\n"
               f"--{boundary}--\r\n").encode()
        code, reply = send(dsn, sender="")
        self.assertEqual(code, 250)
        self.assertTrue(reply.startswith("2.0.0 no ticket: bounce (bounce of notification"),
                        reply)
        self.assertEqual(self.row("SELECT reason, bounce_notification_id FROM"
                                  " intake.mail_messages WHERE message_id = 'dsn-1@mx.bounce.example'"),
                         ["bounce", notification_id])
        self.assertIn(kind, reply)
        self.assertIn(number, reply)

    def test_our_own_letter_coming_back_is_a_loop(self):
        number = self.number_of(send(mail("wu@loop.example", "L-1 管线腐蚀",
                                          message_id="l1@loop.example"))[1])
        letter_id, _, _ = self.letter_of(number)
        # the letter as notify wrote it, forwarded back by a customer's rule
        raw = (f"From: Someone Else <relay@loop-forwarder.example>\r\n"
               f"To: service@petrocs.example\r\nSubject: {number} 受理确认\r\n"
               f"Message-ID: <{letter_id}>\r\n\r\n已受理。\r\n").encode()
        code, reply = send(raw)
        self.assertTrue(reply.startswith("2.0.0 no ticket: loop (one of our own letters"), reply)

    # ---- rate limit and quarantine ----------------------------------------------------

    def test_a_sender_over_the_rate_limit_is_quarantined_and_can_be_released(self):
        sender = "flood@rate.example"
        for i in range(RATE_LIMIT):
            self.number_of(send(mail(sender, f"R-{i} 问题 {i}", message_id=f"r{i}@rate.example"))[1])
        code, reply = send(mail(sender, "R-over 又一个", message_id="r-over@rate.example"))
        self.assertEqual(code, 250, "kept, so the sending MTA does not retry")
        self.assertTrue(reply.startswith("2.0.0 no ticket: quarantine (sender over the rate limit"
                                         f": {RATE_LIMIT} tickets"), reply)
        status, q = http("GET", INTAKE + "/v1/mail/quarantine")
        self.assertEqual(status, 200)
        held = [m for m in q["messages"] if m["from_addr"] == sender]
        self.assertEqual(len(held), 1)
        self.assertEqual(held[0]["subject"], "R-over 又一个")
        status, res = http("POST", f"{INTAKE}/v1/mail/quarantine/{held[0]['id']}/release")
        self.assertEqual(status, 200, res)
        self.assertEqual(res["outcome"], "ticket")
        self.assertRegex(res["ticket_number"], r"^CS-\d{4}-\d{6}$")
        status, again = http("POST", f"{INTAKE}/v1/mail/quarantine/{held[0]['id']}/release")
        self.assertEqual(status, 409, "released once only")
        status, q = http("GET", INTAKE + "/v1/mail/quarantine")
        self.assertFalse([m for m in q["messages"] if m["from_addr"] == sender])

    # ---- group commit ---------------------------------------------------------------

    def test_messages_arriving_together_are_committed_together_each_with_its_own_answer(self):
        # 8 sessions send at once, so that the listener gets several final "." in one poll
        # round (one transaction for all); every one must still get its own ticket, and the
        # same message sent twice at once must come out once as a ticket, once as a duplicate
        import concurrent.futures
        import threading
        barrier = threading.Barrier(8)

        def session(k):
            answers = []
            with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=60) as s:
                s.ehlo("group.example")
                for i in range(10):
                    if i == 5:
                        barrier.wait()
                    mid = "same@group.example" if i == 5 and k < 2 else f"g{k}-{i}@group.example"
                    raw = mail(f"g{k}-{i}@group{k}.example" if mid != "same@group.example"
                               else "same@group.example", f"G-{k}-{i} 同时到达", message_id=mid)
                    s.mail("group@group.example")
                    s.rcpt("service@petrocs.example")
                    code, reply = s.data(raw)
                    answers.append((code, reply.decode()))
            return answers

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            answers = [a for sess in ex.map(session, range(8)) for a in sess]
        self.assertTrue(all(code == 250 for code, _ in answers))
        created = [r.split()[1] for _, r in answers if r.endswith(" created")]
        duplicates = [r for _, r in answers if r.startswith("2.0.0 duplicate of")]
        self.assertEqual(len(created), 79)
        self.assertEqual(len(set(created)), 79, "every ticket its own number")
        self.assertEqual(len(duplicates), 1)
        self.assertEqual(int(self.pg.scalar("SELECT count(*) FROM intake.mail_messages"
                                            " WHERE subject LIKE 'G-%'")), 80)

    # ---- the corpus ---------------------------------------------------------------------

    def test_every_corpus_message_goes_through_smtp_into_a_row(self):
        if not os.path.isdir(CORPUS):
            self.skipTest(f"no corpus at {CORPUS}")
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(CORPUS) for f in fs
                       if f.endswith(".eml"))
        self.assertTrue(files)
        before = int(self.pg.scalar("SELECT count(*) FROM intake.mail_messages"))
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=60) as s:
            s.ehlo("corpus.example")
            for path in files:
                with open(path, "rb") as f:
                    raw = f.read()
                s.mail("corpus@corpus.example")
                s.rcpt("service@petrocs.example")
                code, reply = s.data(raw)
                self.assertEqual(code, 250, f"{path}: {reply!r}")
        after = int(self.pg.scalar("SELECT count(*) FROM intake.mail_messages"))
        self.assertEqual(after - before, len(files), "one row per message, whatever it was")
        self.assertTrue(self.procs["intake"].alive())


if __name__ == "__main__":
    main()
