#!/usr/bin/env python3
"""smtp_sink — a tiny SMTP server for mail_out's tests, on loopback only.

It accepts mail and stores each message under --spool as N.eml (the DATA bytes with
dot-stuffing undone) and N.env (the envelope: "MAIL <from>" and "RCPT <to>" lines).
The recipient's local part steers the answer, so one server covers every case:

    tempfail...@   RCPT answered 451 (try again later)
    reject...@     RCPT answered 550 (no such mailbox)
    datatemp...@   accepted, but the end of DATA answered 452
    datafail...@   accepted, but the end of DATA answered 554

With --tempfail-first N the first N RCPT commands are answered 451 whatever the
address, so a client's retry queue can be seen to defer and then deliver.

With --auth USER:PASS it offers AUTH PLAIN and LOGIN and refuses MAIL until the
client has authenticated.  It prints "PORT <n>" on stdout once listening, and exits
on SIGTERM or when stdin closes.
"""
import argparse
import base64
import os
import signal
import socketserver
import sys
import threading

LINE_MAX = 4096
MESSAGE_MAX = 64 * 1024 * 1024


class Session(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def line(self):
        data = self.rfile.readline(LINE_MAX)
        if not data:
            raise EOFError
        return data.rstrip(b"\r\n")

    def handle(self):
        self.reset()
        self.authed = self.server.auth is None
        self.reply("220 sink.petrocs.test ESMTP smtp_sink")
        try:
            while self.command(self.line()):
                pass
        except (EOFError, ConnectionError, TimeoutError):
            pass

    def reset(self):
        self.sender = None
        self.rcpts = []

    def command(self, raw):
        verb = raw[:4].upper().decode("ascii", "replace")
        arg = raw[5:].decode("utf-8", "replace") if len(raw) > 5 else ""
        if verb == "EHLO":
            self.reply("250-sink.petrocs.test")
            self.reply("250-8BITMIME")
            if self.server.auth:
                self.reply("250-AUTH PLAIN LOGIN")
            self.reply("250 SIZE %d" % MESSAGE_MAX)
        elif verb == "HELO":
            self.reply("250 sink.petrocs.test")
        elif verb == "AUTH":
            self.auth(arg)
        elif verb == "MAIL":
            if not self.authed:
                self.reply("530 5.7.0 Authentication required")
            else:
                self.reset()
                self.sender = arg.split(":", 1)[-1].split(" ")[0]
                self.reply("250 2.1.0 Ok")
        elif verb == "RCPT":
            self.rcpt(arg.split(":", 1)[-1].split(" ")[0])
        elif verb == "DATA":
            self.data()
        elif verb == "RSET":
            self.reset()
            self.reply("250 2.0.0 Ok")
        elif verb == "NOOP":
            self.reply("250 2.0.0 Ok")
        elif verb == "QUIT":
            self.reply("221 2.0.0 Bye")
            return False
        else:
            self.reply("502 5.5.2 Command not recognized")
        return True

    def rcpt(self, addr):
        local = addr.strip("<>").split("@")[0].lower()
        if self.sender is None:
            self.reply("503 5.5.1 MAIL first")
        elif self.server.take_tempfail():
            self.reply("451 4.3.0 Relay busy, try again later")
        elif local.startswith("tempfail"):
            self.reply("451 4.3.0 Mailbox temporarily unavailable, try again later")
        elif local.startswith("reject"):
            self.reply("550 5.1.1 No such mailbox here")
        else:
            self.rcpts.append(addr)
            self.reply("250 2.1.5 Ok")

    def data(self):
        if not self.rcpts:
            self.reply("503 5.5.1 RCPT first")
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        body = bytearray()
        while True:
            raw = self.rfile.readline(LINE_MAX)
            if not raw:
                raise EOFError
            if raw == b".\r\n":
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            body += raw
            if len(body) > MESSAGE_MAX:
                self.reply("552 5.3.4 Message too big")
                return
        locals_ = [r.strip("<>").split("@")[0].lower() for r in self.rcpts]
        if any(l.startswith("datatemp") for l in locals_):
            self.reply("452 4.3.1 Insufficient system storage")
        elif any(l.startswith("datafail") for l in locals_):
            self.reply("554 5.6.0 Message content rejected")
        else:
            n = self.server.store(self.sender, self.rcpts, bytes(body))
            self.reply("250 2.0.0 Ok: queued as %d" % n)
        self.reset()

    def auth(self, arg):
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        if mech == "PLAIN":
            token = parts[1] if len(parts) > 1 else self.challenge("")
            fields = base64.b64decode(token or "=").split(b"\0")
            ok = len(fields) == 3 and fields[1:] == self.server.auth
        elif mech == "LOGIN":
            user = parts[1] if len(parts) > 1 else self.challenge("VXNlcm5hbWU6")
            password = self.challenge("UGFzc3dvcmQ6")
            ok = [base64.b64decode(user), base64.b64decode(password)] == self.server.auth
        else:
            self.reply("504 5.5.4 Unrecognized authentication type")
            return
        if ok:
            self.authed = True
            self.reply("235 2.7.0 Authentication successful")
        else:
            self.reply("535 5.7.8 Authentication credentials invalid")

    def challenge(self, prompt):
        self.reply("334 " + prompt)
        return self.line().decode("ascii", "replace")


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, spool, auth, tempfail_first=0):
        super().__init__(("127.0.0.1", 0), Session)
        self.tempfail_left = tempfail_first
        self.spool = spool
        self.auth = [a.encode() for a in auth.split(":", 1)] if auth else None
        self.count = 0
        self.lock = threading.Lock()

    def take_tempfail(self):
        with self.lock:
            if self.tempfail_left > 0:
                self.tempfail_left -= 1
                return True
            return False

    def store(self, sender, rcpts, body):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.spool, str(n))
        with open(base + ".eml.part", "wb") as f:
            f.write(body)
        with open(base + ".env", "w") as f:
            f.write("MAIL %s\n" % sender)
            for r in rcpts:
                f.write("RCPT %s\n" % r)
        os.rename(base + ".eml.part", base + ".eml")
        return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spool", required=True)
    ap.add_argument("--auth")
    ap.add_argument("--tempfail-first", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.spool, exist_ok=True)
    server = Sink(args.spool, args.auth, args.tempfail_first)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stdin.read()  # our parent closes stdin (or dies) when it is done with us
    server.shutdown()


if __name__ == "__main__":
    main()
