"""sla's calendars and preview over real sockets, processes and PostgreSQL.

cs-sla runs with CS_SLA_CALENDAR=cn-office (the built-in business calendar,
seeded in the calendars table) and real 60-second minutes, next to a
stand-in for dispatch (fake_dispatch), so these tests pin down: the
calendars API (list, read, write, a 422 naming the line, iCalendar import),
the preview's arithmetic worked out by hand, and live clocks counting on the
calendar they name.

cn-office: Asia/Shanghai (UTC+8, no DST), Monday to Friday 08:30-12:00 and
13:00-17:30 (8 working hours a day), mainland China holidays and make-up
days of 2025-2027. Weekdays (checked with `date`): 2026-01-09 Fri,
2026-01-12 Mon, 2026-01-13 Tue, 2026-01-16 Fri, 2026-03-13 Fri,
2026-03-16 Mon, 2026-03-17 Tue, 2026-09-30 Wed, 2026-10-08 Thu,
2026-10-10 Sat (a make-up working day); 2026-10-01..07 are holidays.

Ports: PostgreSQL 55472, HTTP/bus 19420-19432 only.
"""
import calendar as pycal
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, Postgres, Service, http, main, wait_for  # noqa: E402

SLA_BIN = os.path.join(BUILD, "bin", "cs-sla")
FAKE_BIN = os.path.join(BUILD, "tests", "integration", "fake_dispatch")
PG_PORT = 55472
SLA = "http://127.0.0.1:19430"
DISPATCH = "http://127.0.0.1:19420"
LOGS = os.path.join(BUILD, "test-var", "sla-calendars")


def sh(text):
    """'2026-01-09 16:00' in Shanghai (UTC+8) → ms since the epoch."""
    t = time.strptime(text, "%Y-%m-%d %H:%M")
    return (pycal.timegm(t) - 8 * 3600) * 1000


def at(text):
    """The same moment as the API reads it, with its offset."""
    return text.replace(" ", "T") + ":00+08:00"


ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//petrocs//plant//EN\r\n"
       "BEGIN:VEVENT\r\nUID:plant-day@test\r\nDTSTART;VALUE=DATE:20260316\r\n"
       "SUMMARY:Plant anniversary\r\nEND:VEVENT\r\n"
       "END:VCALENDAR\r\n")


class SlaCalendarsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(LOGS, exist_ok=True)
        cls.pg = Postgres("sla-calendars", PG_PORT)
        cls.pg.start(["dispatch", "sla"])
        cls.env = dict(os.environ, CS_DB_URL=cls.pg.conninfo(), CS_LOG_LEVEL="info",
                       CS_DISPATCH_HTTP_PORT="19420", CS_DISPATCH_PUB_PORT="19421",
                       CS_DISPATCH_REPLAY_PORT="19422",
                       CS_SLA_HTTP_PORT="19430", CS_SLA_PUB_PORT="19431",
                       CS_SLA_COMPLAINT_CLOCKS="0", CS_SLA_REPLAY_PORT="19432",
                       CS_SLA_CALENDAR="cn-office",
                       CS_COMMIT_P2_RESPONSE_MIN="120", CS_COMMIT_P2_RESOLUTION_MIN="1440")
        cls.procs = []
        try:
            cls.start("dispatch", FAKE_BIN, DISPATCH)
            cls.start("sla", SLA_BIN, SLA)
            wait_for(lambda: http("GET", SLA + "/readyz")[0] == 200, 20, "sla ready")
        except BaseException:
            cls.tearDownClass()  # unittest does not call it when set-up fails
            raise

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.stop()
        cls.pg.stop()

    @classmethod
    def start(cls, name, binary, base):
        s = Service(name, [binary], cls.env, os.path.join(LOGS, f"{name}.log"))
        s.start()
        cls.procs.append(s)
        wait_for(lambda: http("GET", base + "/healthz")[0] == 200, 20, f"{name} up")
        return s

    def preview(self, body, status=200):
        code, out = http("POST", SLA + "/v1/sla/preview", body)
        self.assertEqual(code, status, out)
        return out if status != 200 else {c["target"]: c for c in out["clocks"]}

    # ---- calendars -------------------------------------------------------------

    def test_the_built_in_calendars_are_seeded_and_listed(self):
        code, out = http("GET", SLA + "/v1/sla/calendars")
        self.assertEqual(code, 200, out)
        names = [c["name"] for c in out["calendars"]]
        self.assertIn("7x24", names)
        self.assertIn("cn-office", names)
        code, cn = http("GET", SLA + "/v1/sla/calendars/cn-office")
        self.assertEqual(code, 200, cn)
        self.assertEqual(cn["kind"], "business")
        self.assertEqual(cn["zone"], "Asia/Shanghai")
        self.assertIn("hours mon-fri 08:30-12:00 13:00-17:30", cn["definition"])
        for year in ("2025", "2026", "2027"):
            self.assertIn(f"include cn-{year}", cn["definition"])
        code, always = http("GET", SLA + "/v1/sla/calendars/7x24")
        self.assertEqual((code, always["kind"], always["zone"]), (200, "7x24", None))

    def test_a_calendar_written_as_text_or_json_reads_back(self):
        name = "plant-" + uuid.uuid4().hex[:8]
        text = "zone Asia/Shanghai\nhours mon-fri 09:00-17:00\nholiday 2026-10-01..2026-10-07\n"
        code, out = http("PUT", f"{SLA}/v1/sla/calendars/{name}", text,
                         {"Content-Type": "text/plain"})
        self.assertEqual(code, 201, out)
        code, out = http("GET", f"{SLA}/v1/sla/calendars/{name}")
        self.assertEqual((code, out["definition"]), (200, text))
        text2 = text + "hours sat 09:00-12:00\n"
        code, out = http("PUT", f"{SLA}/v1/sla/calendars/{name}", {"definition": text2})
        self.assertEqual(code, 200, out)
        self.assertEqual(http("GET", f"{SLA}/v1/sla/calendars/{name}")[1]["definition"], text2)

    def test_a_bad_definition_is_refused_with_its_line_and_changes_nothing(self):
        name = "bad-" + uuid.uuid4().hex[:8]
        code, out = http("PUT", f"{SLA}/v1/sla/calendars/{name}",
                         {"definition": "zone Asia/Shanghai\nhours mon-fri 09:00-25:00\n"})
        self.assertEqual(code, 422, out)
        self.assertEqual(out["error"]["field"], "definition")
        self.assertIn("line 2", out["error"]["message"])
        self.assertEqual(http("GET", f"{SLA}/v1/sla/calendars/{name}")[0], 404)
        code, out = http("PUT", f"{SLA}/v1/sla/calendars/cn-office",
                         "hours mon-fri 08:30-17:30\nopen on sundays\n",
                         {"Content-Type": "text/plain"})
        self.assertEqual(code, 422, out)
        self.assertIn("line 2: unknown statement 'open'", out["error"]["message"])
        self.assertIn("08:30-12:00 13:00-17:30",
                      http("GET", f"{SLA}/v1/sla/calendars/cn-office")[1]["definition"])

    def test_hostile_names_and_bodies_get_clear_errors(self):
        self.assertIn(http("GET", f"{SLA}/v1/sla/calendars/..%2Fetc")[0], (404, 422))
        self.assertEqual(http("GET", f"{SLA}/v1/sla/calendars/" + "x" * 64)[0], 422)
        self.assertEqual(http("PUT", f"{SLA}/v1/sla/calendars/7x24", "7x24\n",
                              {"Content-Type": "text/plain"})[0], 409)
        code, out = http("PUT", f"{SLA}/v1/sla/calendars/bin", b"hours mon 09:00-10:00\n\xff\n",
                         {"Content-Type": "text/plain"})
        self.assertEqual(code, 422, out)
        code, out = http("PUT", f"{SLA}/v1/sla/calendars/big",
                         "# " + "x" * 1000 + "\n" * 300000, {"Content-Type": "text/plain"})
        self.assertEqual(code, 422, out)
        self.assertIn("256 KiB", out["error"]["message"])

    def test_an_ical_import_adds_holidays_to_a_stored_calendar(self):
        name = "plant-" + uuid.uuid4().hex[:8]
        text = "zone Asia/Shanghai\nhours mon-fri 09:00-17:00\n"
        self.assertEqual(http("PUT", f"{SLA}/v1/sla/calendars/{name}", {"definition": text})[0],
                         201)
        # Before: Fri 13 March 16:00 + 2 h = 1 h Friday, Mon 16 March 09:00 + 1 h → 10:00.
        before = self.preview({"calendar": name, "targets": {"first_response": 120,
                                                              "resolution": 480},
                               "events": [{"type": "created", "at": at("2026-03-13 16:00")}]})
        self.assertEqual(before["first_response"]["due_ms"], sh("2026-03-16 10:00"))
        code, out = http("POST", f"{SLA}/v1/sla/calendars/{name}/ical", ICS,
                         {"Content-Type": "text/calendar"})
        self.assertEqual(code, 200, out)
        self.assertEqual(out["events_imported"], 1)
        self.assertIn("holiday 2026-03-16..2026-03-16", out["definition"])
        # After: Monday is the plant's day off → Tue 17 March 09:00 + 1 h → 10:00.
        after = self.preview({"calendar": name, "targets": {"first_response": 120,
                                                             "resolution": 480},
                              "events": [{"type": "created", "at": at("2026-03-13 16:00")}]})
        self.assertEqual(after["first_response"]["due_ms"], sh("2026-03-17 10:00"))
        # A malformed file names its line and changes nothing; so does an unknown calendar.
        code, out = http("POST", f"{SLA}/v1/sla/calendars/{name}/ical",
                         "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260317T090000\r\n"
                         "END:VEVENT\r\nEND:VCALENDAR\r\n")
        self.assertEqual(code, 422, out)
        self.assertIn("line 3", out["error"]["message"])
        self.assertEqual(http("POST", f"{SLA}/v1/sla/calendars/nobody/ical", ICS)[0], 404)
        self.assertEqual(http("POST", f"{SLA}/v1/sla/calendars/7x24/ical", ICS)[0], 409)

    # ---- preview ---------------------------------------------------------------

    def test_preview_a_friday_afternoon_p2_ticket_is_due_monday_0900(self):
        # 2 h first response from Fri 16:00: 16:00-17:30 is 90 min, 30 more from
        # Mon 08:30 → Mon 09:00 (not 09:30: the Friday afternoon counts 1.5 h).
        # Resolution 1440 min = 24 working hours: 1.5 Fri, 8 Mon (9.5), 8 Tue
        # (17.5), Wed 14 January 3.5 to 12:00 (21), 3 from 13:00 → Wed 16:00.
        # Read on Saturday 12:00: 90 min used of 120 = 75 %.
        c = self.preview({"calendar": "cn-office", "priority": "P2",
                          "as_of": at("2026-01-10 12:00"),
                          "events": [{"type": "created", "at": at("2026-01-09 16:00")}]})
        fr, res = c["first_response"], c["resolution"]
        self.assertEqual(fr["due_ms"], sh("2026-01-12 09:00"))
        self.assertEqual(fr["due"], "2026-01-12T01:00:00.000Z")
        self.assertEqual((fr["state"], fr["working_minutes_used"], fr["percent"]),
                         ("running", 90, 75))
        self.assertEqual(res["due_ms"], sh("2026-01-14 16:00"))

    def test_preview_pending_customer_stops_the_clock_over_a_long_weekend(self):
        # Created Fri 2026-01-09 16:00, answered 16:30 (met at 25 %), pending
        # from 17:00 (resolution: 60 min used, 23 h left), the customer
        # replies Tue 2026-01-13 10:00: 6.5 h Tuesday, 8 Wednesday (14.5),
        # 8 Thursday (22.5), 0.5 Friday → due Fri 2026-01-16 09:00.
        c = self.preview({"calendar": "cn-office",
                          "targets": {"first_response": 120, "resolution": 1440},
                          "as_of": at("2026-01-13 12:00"),
                          "events": [
                              {"type": "created", "at": at("2026-01-09 16:00")},
                              {"type": "agent_response", "at": at("2026-01-09 16:30")},
                              {"type": "pending", "at": at("2026-01-09 17:00")},
                              {"type": "customer_reply", "at": at("2026-01-13 10:00")}]})
        self.assertEqual((c["first_response"]["state"], c["first_response"]["percent"]),
                         ("met", 25))
        res = c["resolution"]
        self.assertEqual(res["due_ms"], sh("2026-01-16 09:00"))
        self.assertEqual(res["working_minutes_used"], 180)  # 60 Friday + 120 Tuesday
        self.assertEqual([h["kind"] for h in res["history"]], ["armed", "paused", "resumed"])

    def test_preview_a_priority_raised_late_is_breached_from_the_original_start(self):
        # Created Mon 2026-01-12 09:00 as P2 (2 h, due 11:00); at 10:30 it
        # becomes 1 h: from the original start due 10:00 (warning share
        # 09:48). Both lie before the change, so the tick, like the live
        # monitor, signals only the breach (at 10:00) and its escalation
        # level 1 (CS_SLA_ESCALATE_AFTER_MIN "0,..."); the 10:40 answer is late.
        c = self.preview({"calendar": "cn-office", "priority": "P2",
                          "events": [
                              {"type": "created", "at": at("2026-01-12 09:00")},
                              {"type": "priority_changed", "at": at("2026-01-12 10:30"),
                               "targets": {"first_response": 60, "resolution": 1440}},
                              {"type": "agent_response", "at": at("2026-01-12 10:40")}]})
        fr = c["first_response"]
        self.assertEqual((fr["state"], fr["due_ms"]), ("breached", sh("2026-01-12 10:00")))
        self.assertEqual([h["kind"] for h in fr["history"]],
                         ["armed", "changed", "breached", "escalated", "fulfilled_late"])

    def test_preview_over_national_day_and_its_make_up_saturday(self):
        # Created Wed 2026-09-30 16:00 on an inline copy of cn-office's hours
        # with cn-2026: first response 90 min Wed + 30 on Thu 8 Oct → 09:00;
        # resolution 24 h: 1.5 Wed, 8 Thu, 8 Fri (17.5), make-up Sat 10 Oct
        # 3.5 to 12:00 (21) + 3 from 13:00 → Sat 16:00.
        definition = "zone Asia/Shanghai\nhours mon-fri 08:30-12:00 13:00-17:30\ninclude cn-2026\n"
        c = self.preview({"calendar": {"definition": definition},
                          "targets": {"first_response": 120, "resolution": 1440},
                          "events": [{"type": "created", "at": sh("2026-09-30 16:00")}]})
        self.assertEqual(c["first_response"]["due_ms"], sh("2026-10-08 09:00"))
        self.assertEqual(c["resolution"]["due_ms"], sh("2026-10-10 16:00"))

    def test_preview_refuses_what_makes_no_sense(self):
        base = {"calendar": "cn-office", "priority": "P2"}
        cases = [
            (dict(base, events=[]), "events"),
            (dict(base, events=[{"type": "pending", "at": at("2026-01-12 09:00")}]), "events"),
            (dict(base, events=[{"type": "created", "at": "2026-01-12 09:00"}]), "events[0]"),
            (dict(base, events=[{"type": "created", "at": at("2026-01-12 09:00")},
                                {"type": "lunch", "at": at("2026-01-12 12:00")}]), "events[1]"),
            ({"calendar": "nowhere", "priority": "P2",
              "events": [{"type": "created", "at": at("2026-01-12 09:00")}]}, "calendar"),
            ({"calendar": {"definition": "hours mon-fri 9-5\n"}, "priority": "P2",
              "events": [{"type": "created", "at": at("2026-01-12 09:00")}]},
             "calendar.definition"),
            ({"calendar": "cn-office", "priority": "P9",
              "events": [{"type": "created", "at": at("2026-01-12 09:00")}]}, "targets"),
            (dict(base, events=[{"type": "created", "at": at("2026-01-12 09:00")}] * 501),
             "events"),
        ]
        for body, field in cases:
            out = self.preview(body, 422)
            self.assertEqual(out["error"]["field"], field, (body, out))
        self.assertEqual(http("POST", SLA + "/v1/sla/preview", "{not json")[0], 400)

    # ---- live clocks -------------------------------------------------------------

    def test_live_clocks_count_on_the_configured_calendar_as_the_preview_does(self):
        n = uuid.uuid4()
        ticket = {"ticket_id": str(n), "number": "T-" + n.hex[:10].upper(), "priority": "P2",
                  "received_at_ms": sh("2026-01-09 16:00"), "team": "field-service",
                  "assignee": "agent.li"}
        code, out = http("POST", DISPATCH + "/emit",
                         dict(ticket, type="accepted", at_ms=ticket["received_at_ms"]))
        self.assertEqual(code, 200, out)

        def clocks():
            code, body = http("GET", f"{SLA}/v1/clocks?ticket={ticket['number']}")
            return {c["target"]: c for c in body["clocks"]} if code == 200 else {}
        c = wait_for(lambda: (lambda c: c if len(c) == 2 else None)(clocks()), 20, "two clocks")
        self.assertEqual(c["first_response"]["policy"], "cn-office")
        self.assertEqual(c["first_response"]["deadline_ms"], sh("2026-01-12 09:00"))
        self.assertEqual(c["resolution"]["deadline_ms"], sh("2026-01-14 16:00"))


if __name__ == "__main__":
    main()
