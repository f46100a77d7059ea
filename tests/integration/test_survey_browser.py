"""The survey answer page in a real browser: Debian's chromium, headless.

The customer opens the link on a phone, often in a mail app's browser with
scripts off.  So the browser here is phone-sized, with JavaScript disabled
for the page, and it is driven the way a person would: it loads the page
from the invitation's link, taps the radio buttons, types a comment and taps
the button; the browser itself encodes and posts the form.  Pages are read
with --dump-dom (GET) and over the DevTools protocol on
--remote-debugging-pipe (the form submit), with only Python's standard library.

cs-survey reads the survey_feed stand-ins (see test_survey_rules.py).
Ports: PostgreSQL 55531, services at offset 21050 (28150-28552).
Skipped only when no chromium can be found (tools/deps installs it).
"""
import base64
import fcntl
import hashlib
import hmac
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, Postgres, Service, StackTestCase, http, main,  # noqa: E402
                     service_url, stack_env, wait_for)

PG_PORT = 55531
OFFSET = 21050
FEED = os.path.join(BUILD, "tests", "integration", "survey_feed")
KEY = bytes(range(40, 72))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio"]


def sign(key, kid, invitation_id, expires_at_s):
    """A survey link token, made the way survey_link.h documents it."""
    body = bytes([1, len(kid)]) + kid.encode() + bytes([len(invitation_id)]) \
        + invitation_id.encode() + struct.pack(">q", expires_at_s)
    mac = hmac.new(key, b"survey-answer\x00" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def dump_dom(url, lang="zh-CN"):
    """The DOM chromium builds for a page, after it loaded (a plain GET by a
    browser whose language is lang)."""
    with tempfile.TemporaryDirectory(prefix="survey-chromium-") as profile:
        out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--lang={lang}", f"--accept-lang={lang}",
                              "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"chromium --dump-dom failed: {out.stderr[-2000:]}")
    return out.stdout


def s_high(fd):
    """fd moved to a number of 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Browser:
    """chromium on --remote-debugging-pipe: commands go in on its fd 3, replies
    and events come out on its fd 4, each a JSON text ended by a NUL."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="survey-chromium-")
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        # above 9, so that "3<&N 4>&M" never reads a number it has just replaced
        cmd_r, out_w = (s_high(fd) for fd in (cmd_r, out_w))
        # bash (dash takes one-digit descriptors only) gives the pipes the numbers
        # chromium expects, then becomes chromium
        argv = " ".join([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                         "--remote-debugging-pipe", "about:blank"])
        self.proc = subprocess.Popen(["/bin/bash", "-c", f"exec {argv} 3<&{cmd_r} 4>&{out_w}"],
                                     pass_fds=(cmd_r, out_w), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.page("Page.enable")
        # a phone, and no script runs in the page
        self.page("Emulation.setDeviceMetricsOverride",
                  {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True})
        self.page("Emulation.setScriptExecutionDisabled", {"value": True})

    def close(self):
        try:
            os.close(self.cmd_w)
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.out_r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, deadline):
        """One message, or an AssertionError when the browser says nothing in time."""
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.out_r], [], [], left)[0]:
                raise AssertionError("chromium did not answer in time")
            chunk = os.read(self.out_r, 65536)
            if not chunk:
                raise AssertionError("chromium closed its pipe")
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method, params=None):
        return self.call(method, params, self.session)

    def wait_event(self, name, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == name and ev.get("sessionId") == self.session:
                    del self.events[i]
                    return ev
            self.events.append(self._read(deadline))

    def open(self, url):
        self.events.clear()
        self.page("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def node(self, selector):
        root = self.page("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.page("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise AssertionError(f"no element {selector} on the page")
        return node

    def tap(self, selector):
        """A left click in the middle of the element, as a finger would."""
        node = self.node(selector)
        self.page("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
        quad = self.page("DOM.getBoxModel", {"nodeId": node})["model"]["border"]
        x = sum(quad[0::2]) / 4
        y = sum(quad[1::2]) / 4
        for kind in ("mousePressed", "mouseReleased"):
            self.page("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                  "button": "left", "clickCount": 1})

    def type_text(self, selector, text):
        self.tap(selector)
        self.page("Input.insertText", {"text": text})

    def submit(self, selector="button[type=submit]"):
        self.events.clear()
        self.tap(selector)
        self.wait_event("Page.loadEventFired")

    def html(self):
        root = self.page("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        return self.page("DOM.getOuterHTML", {"nodeId": root})["outerHTML"]

    def fits_the_screen(self):
        m = self.page("Page.getLayoutMetrics")
        return m["cssContentSize"]["width"] <= m["cssLayoutViewport"]["clientWidth"] + 1


class SurveyBrowserTest(StackTestCase):

    @classmethod
    def start_all(cls):
        if not CHROMIUM:
            raise unittest_skip("chromium is not installed (tools/deps installs it)")
        cls.pg = Postgres("survey-browser", PG_PORT)
        cls.pg.start(["dispatch", "complaint", "survey"])
        env = stack_env(cls.pg, OFFSET, os.path.join(BUILD, "test-var", "survey-browser", "mail"),
                        CS_SURVEY_LINK_KEYS=f"b1:{KEY.hex()}", CS_SURVEY_DELAY_MIN="0",
                        CS_SURVEY_DAY_START="0", CS_SURVEY_DAY_END="24",
                        CS_SURVEY_QUIET_DAYS="0")
        logs = os.path.join(BUILD, "test-var", "survey-browser")
        for name, argv in (("dispatch", [FEED, "dispatch"]), ("complaint", [FEED, "complaint"]),
                           ("survey", [os.path.join(BUILD, "bin", "cs-survey")])):
            cls.procs[name] = Service(name, argv, env, os.path.join(logs, f"{name}.log"))
            cls.procs[name].start()
        for name in cls.procs:
            wait_for(lambda: http("GET", service_url(OFFSET, name, "/readyz"))[0] == 200, 60,
                     f"{name} ready")
        cls.api = service_url(OFFSET, "survey")

    def invitation(self, language):
        """A ticket closed by the feed; its survey row once sent."""
        n = uuid.uuid4()
        number = "CS-B-" + n.hex[:8]
        status, body = http("POST", service_url(OFFSET, "dispatch", "/emit"), {
            "type": "dispatch.ticket.closed", "ticket_id": str(n), "number": number,
            "email": "wang.fang@refinery.example.com", "name": "王芳", "language": language,
            "tier": "large", "status": "closed", "at_ms": int(time.time() * 1000)})
        self.assertEqual(status, 200, body)

        def sent():
            s, b = http("GET", f"{self.api}/v1/surveys?ticket={number}")
            return b["surveys"][0] if b["surveys"] and b["surveys"][0]["status"] == "sent" \
                else None
        return wait_for(sent, 30, f"the invitation of {number}")

    def test_the_link_opens_the_form_in_the_contacts_language_without_script(self):
        for language, words in (("zh-CN", ("服务满意度调查", "响应速度", "专业水平", "提交评价",
                                            "不再接收满意度调查")),
                                ("en", ("Service satisfaction survey", "how quickly",
                                        "professionalism", "Send", "Stop survey invitations"))):
            inv = self.invitation(language)
            dom = dump_dom(inv["link"], lang="en" if language == "zh-CN" else "zh-CN")
            self.assertIn(f'<html lang="{language}">', dom)
            for word in words:
                self.assertIn(word, dom, language)
            self.assertIn(inv["ticket_number"], dom)
            for name, values in (("satisfaction", range(1, 6)), ("recommend", range(0, 11)),
                                 ("speed", range(1, 6)), ("professionalism", range(1, 6))):
                for v in values:
                    self.assertIn(f'name="{name}" value="{v}"', dom, (language, name, v))
            self.assertIn('<textarea id="comment" name="comment"', dom)
            self.assertNotIn("<script", dom)

    def test_a_phone_browser_without_javascript_answers_once_and_a_second_tab_sees_it(self):
        inv = self.invitation("en")
        first, second = Browser(), Browser()
        try:
            first.open(inv["link"])
            second.open(inv["link"])           # the same link open twice: a double tap
            self.assertIn("<form", first.html())
            self.assertTrue(first.fits_the_screen(), "the form is wider than a phone")
            first.tap('input[name="satisfaction"][value="4"]')
            first.tap('input[name="recommend"][value="9"]')
            first.tap('input[name="speed"][value="5"]')
            first.tap('input[name="professionalism"][value="4"]')
            first.type_text("#comment", "Quick & professional <b>team</b> — 谢谢")
            first.submit()
            page = first.html()
            self.assertIn("Thank you for your feedback", page)
            self.assertNotIn("<form", page)
            status, body = http("GET", f"{self.api}/v1/surveys?ticket={inv['ticket_number']}")
            row = body["surveys"][0]
            self.assertEqual((row["status"], row["satisfaction"], row["recommend"], row["speed"],
                              row["professionalism"]), ("answered", 4, 9, 5, 4))
            self.assertEqual(self.pg.scalar(
                "SELECT comment FROM survey.answers a JOIN survey.invitations i"
                f" USING (invitation_id) WHERE i.ticket_number = '{inv['ticket_number']}'"),
                "Quick & professional <b>team</b> — 谢谢")
            # the second tab still shows the form; its submit shows what was recorded
            second.tap('input[name="satisfaction"][value="1"]')
            second.submit()
            page = second.html()
            self.assertIn("You have already answered this survey", page)
            self.assertIn("4 / 5", page)
            self.assertIn("9 / 10", page)
            self.assertIn("Quick &amp; professional &lt;b&gt;team&lt;/b&gt; — 谢谢", page)
            self.assertEqual(self.pg.scalar(
                "SELECT satisfaction FROM survey.answers a JOIN survey.invitations i"
                f" USING (invitation_id) WHERE i.ticket_number = '{inv['ticket_number']}'"), "4")
            # opening the link again shows the answer, not a form
            first.open(inv["link"])
            self.assertIn("You have already answered this survey", first.html())
        finally:
            first.close()
            second.close()

    def test_expired_and_forged_links_get_a_clear_page(self):
        inv = self.invitation("zh-CN")
        iid = self.pg.scalar("SELECT invitation_id FROM survey.invitations"
                             f" WHERE ticket_number = '{inv['ticket_number']}'")
        expired = sign(KEY, "b1", iid, int(time.time()) - 60)
        dom = dump_dom(f"{self.api}/s/{expired}")
        self.assertIn("调查链接已过期", dom)
        self.assertNotIn("<form", dom)
        token = urllib.parse.urlsplit(inv["link"]).path.rsplit("/", 1)[1]
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        for bad, lang, words in ((forged, "zh-CN", "调查链接无效"),
                                 ("not-a-token", "en", "This survey link is not valid")):
            dom = dump_dom(f"{self.api}/s/{bad}", lang=lang)
            self.assertIn(words, dom)
            self.assertNotIn("<form", dom)


def unittest_skip(reason):
    import unittest
    return unittest.SkipTest(reason)


if __name__ == "__main__":
    main()
