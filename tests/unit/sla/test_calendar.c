/*
 * test_calendar.c — the business calendars' rules, as tests
 * (services/sla/calendar.h, zone.h, ical.h).
 *
 * The heart is one table of deadlines worked out by hand: each row names a
 * calendar, a start (local wall clock with its UTC offset, as a person reads
 * it), a target in working minutes and the due time, with the working in a
 * comment above it. Every row is also checked backwards: the working time
 * between the start and the due time is the target.
 *
 * The calendars of the table:
 *   cn   — the built-in "cn-office": Asia/Shanghai (UTC+8, no DST), Monday to
 *          Friday 08:30-12:00 and 13:00-17:30 (8 h a day), mainland China
 *          holidays and make-up days 2025-2027 (services/sla/calendars/).
 *   ny   — America/New_York, Monday to Friday 09:00-17:00, no holidays.
 *          DST 2026: starts Sun 8 March 02:00 EST→03:00 EDT, ends Sun
 *          1 November 02:00 EDT→01:00 EST.
 *   ny24 — America/New_York, every day 00:00-24:00: working time is real time.
 *   ber  — Europe/Berlin, Monday to Friday 08:00-16:00, and a Sunday night
 *          shift 00:00-06:00. DST 2026: starts Sun 29 March 02:00 CET→03:00
 *          CEST (01:00 UTC), ends Sun 25 October 03:00 CEST→02:00 CET
 *          (01:00 UTC).
 *   mk   — Asia/Shanghai, Monday to Thursday 09:00-18:00, Friday 09:00-15:00,
 *          make-up days 2026-09-20 (Monday's hours) and 2026-10-10 "as fri",
 *          holidays 2026-10-01..07.
 *
 * Weekdays used (checked with `date`): 2026-03-10 Tue, 2026-03-13 Fri,
 * 2026-02-13 Fri, 2026-02-14 Sat, 2026-02-27 Fri, 2026-09-19 Sat,
 * 2026-09-24 Thu, 2026-09-30 Wed, 2026-10-09 Fri, 2026-10-10 Sat,
 * 2026-12-31 Thu, 2024-12-31 Tue, 2025-12-31 Wed, 2026-01-04 Sun,
 * 2028-02-28 Mon, 2028-02-29 Tue, 2026-03-06 Fri, 2026-10-30 Fri,
 * 2026-03-28 Sat, 2026-10-24 Sat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../services/sla/calendar.h"
#include "../../../services/sla/ical.h"
#include "../../../services/sla/zone.h"

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)

/* "2026-03-10 09:00 +08:00" → ms since the epoch, by the C library's timegm
   (independent of the code under test). */
static int64_t s_ms(const char *text)
{
    int y, mo, d, h, mi, oh, om;
    char sign;
    if (sscanf(text, "%d-%d-%d %d:%d %c%d:%d", &y, &mo, &d, &h, &mi, &sign, &oh, &om) != 8)
        fail_msg("bad time in test: %s", text);
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    int64_t local = (int64_t)timegm(&tm);
    int64_t off = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
    return (local - off) * 1000;
}

static const char s_ny[] = "zone America/New_York\nhours mon-fri 09:00-17:00\n";
static const char s_ny24[] = "zone America/New_York\nhours mon-sun 00:00-24:00\n";
static const char s_ber[] = "zone Europe/Berlin\n"
                            "hours mon-fri 08:00-16:00\n"
                            "hours sun 00:00-06:00   # the Sunday night shift\n";
static const char s_mk[] = "zone Asia/Shanghai\r\n" /* CRLF is fine too */
                           "hours mon-thu 09:00-18:00\r\n"
                           "hours fri 09:00-15:00\r\n"
                           "workday 2026-09-20          # Monday's hours\r\n"
                           "workday 2026-10-10 as fri   # Friday's hours\r\n"
                           "holiday 2026-10-01..2026-10-07 National Day\r\n";

static sla_calendar_t *s_calendar(const char *key)
{
    char err[256] = "";
    sla_calendar_t *c = NULL;
    if (strcmp(key, "cn") == 0)
        c = sla_calendar_new_named("cn-office");
    else if (strcmp(key, "ny") == 0)
        c = sla_calendar_parse("ny", s_ny, strlen(s_ny), err, sizeof(err));
    else if (strcmp(key, "ny24") == 0)
        c = sla_calendar_parse("ny24", s_ny24, strlen(s_ny24), err, sizeof(err));
    else if (strcmp(key, "ber") == 0)
        c = sla_calendar_parse("ber", s_ber, strlen(s_ber), err, sizeof(err));
    else if (strcmp(key, "mk") == 0)
        c = sla_calendar_parse("mk", s_mk, strlen(s_mk), err, sizeof(err));
    if (!c)
        fail_msg("calendar %s: %s", key, err);
    return c;
}

typedef struct {
    const char *calendar;
    const char *start;
    int64_t minutes;
    const char *due;
} s_case_t;

/* clang-format off */
static const s_case_t s_cases[] = {
    /* ---- cn: a plain working week (March 2026, no holidays) ---- */
    /* 1. Tue 09:00 + 1 h, all in the morning block → 10:00. */
    {"cn", "2026-03-10 09:00 +08:00", 60, "2026-03-10 10:00 +08:00"},
    /* 2. Tue 11:30 + 1 h: 30 min to 12:00, lunch 12:00-13:00 does not count,
          30 min more from 13:00 → 13:30. */
    {"cn", "2026-03-10 11:30 +08:00", 60, "2026-03-10 13:30 +08:00"},
    /* 3. Created at 12:15, in the lunch break: the clock starts at 13:00 → 13:30. */
    {"cn", "2026-03-10 12:15 +08:00", 30, "2026-03-10 13:30 +08:00"},
    /* 4. Tue 17:00 + 1 h: 30 min to 17:30; the night does not count; Wed
          08:30 + 30 min → 09:00. */
    {"cn", "2026-03-10 17:00 +08:00", 60, "2026-03-11 09:00 +08:00"},
    /* 5. Created Tue 20:00 (night): the clock starts Wed 08:30; + 2 h → 10:30. */
    {"cn", "2026-03-10 20:00 +08:00", 120, "2026-03-11 10:30 +08:00"},
    /* 6. Created Wed 06:00: starts 08:30; 3 h 30 fills the morning exactly →
          due at 12:00 (the earliest instant, not 13:00). */
    {"cn", "2026-03-11 06:00 +08:00", 210, "2026-03-11 12:00 +08:00"},
    /* 7. Wed 08:30 + 8 h = one whole day (3.5 + 4.5) → 17:30 the same day. */
    {"cn", "2026-03-11 08:30 +08:00", 480, "2026-03-11 17:30 +08:00"},
    /* 8. Fri 16:00 + 2 h: 1.5 h on Friday, weekend skipped, Mon 16 March
          08:30 + 30 min → 09:00. */
    {"cn", "2026-03-13 16:00 +08:00", 120, "2026-03-16 09:00 +08:00"},
    /* 9. Created Saturday 10:00: the clock starts Monday 08:30; + 1 h → 09:30. */
    {"cn", "2026-03-14 10:00 +08:00", 60, "2026-03-16 09:30 +08:00"},
    /* 10. Fri at 17:30 exactly (closing) + 1 min → Mon 08:31. */
    {"cn", "2026-03-13 17:30 +08:00", 1, "2026-03-16 08:31 +08:00"},
    /* 11. Tue 09:00 + 48 h (P3 resolution): Tue 3 + 4.5 = 7.5 h (40.5 left),
           Wed 8 (32.5), Thu 8 (24.5), Fri 8 (16.5), Mon 16th 8 (8.5),
           Tue 17th 8 (0.5), Wed 18th 08:30 + 30 min → 09:00. */
    {"cn", "2026-03-10 09:00 +08:00", 2880, "2026-03-18 09:00 +08:00"},
    /* 12. Zero working time is the start itself, even on a Saturday. */
    {"cn", "2026-03-14 10:00 +08:00", 0, "2026-03-14 10:00 +08:00"},

    /* ---- cn: holidays and make-up days of 2025-2026 ---- */
    /* 13. National Day 2026: Wed 30 Sept 17:00 + 1 h: 30 min on the 30th,
           1-7 October off, Thu 8 Oct 08:30 + 30 min → 09:00. */
    {"cn", "2026-09-30 17:00 +08:00", 60, "2026-10-08 09:00 +08:00"},
    /* 14. Wed 30 Sept 10:00 + 16 h: 2 h + 4.5 h = 6.5 h on the 30th (9.5
           left), holiday week, Thu 8 Oct 8 h (1.5 left), Fri 9 Oct 08:30 +
           1.5 h → 10:00. */
    {"cn", "2026-09-30 10:00 +08:00", 960, "2026-10-09 10:00 +08:00"},
    /* 15. Make-up Saturday 10 Oct 2026: Fri 9 Oct 16:30 + 2 h: 1 h on
           Friday, Saturday 10th is worked with Monday's hours, 08:30 + 1 h
           → Sat 09:30. */
    {"cn", "2026-10-09 16:30 +08:00", 120, "2026-10-10 09:30 +08:00"},
    /* 16. Make-up Sunday 20 Sept 2026: created Sat 19th 10:00 (an ordinary
           Saturday, off) + 1 h → Sun 20th 08:30 + 1 h = 09:30. */
    {"cn", "2026-09-19 10:00 +08:00", 60, "2026-09-20 09:30 +08:00"},
    /* 17. Mid-Autumn 2026: Thu 24 Sept 17:00 + 1 h: 30 min Thursday, Fri
           25th holiday, weekend, Mon 28th 08:30 + 30 min → 09:00. */
    {"cn", "2026-09-24 17:00 +08:00", 60, "2026-09-28 09:00 +08:00"},
    /* 18. Spring Festival 2026: Fri 13 Feb 15:00 + 4 h: 2.5 h Friday, Sat
           14 Feb is a make-up day, 08:30 + 1.5 h → Sat 10:00. */
    {"cn", "2026-02-13 15:00 +08:00", 240, "2026-02-14 10:00 +08:00"},
    /* 19. Sat 14 Feb (make-up) 17:00 + 1 h: 30 min, then 15-23 Feb off, Tue
           24 Feb 08:30 + 30 min → 09:00. */
    {"cn", "2026-02-14 17:00 +08:00", 60, "2026-02-24 09:00 +08:00"},
    /* 20. Created on Wed 18 Feb, inside the Spring Festival: the clock
           starts Tue 24 Feb 08:30; + 30 min → 09:00. */
    {"cn", "2026-02-18 10:00 +08:00", 30, "2026-02-24 09:00 +08:00"},
    /* 21. Fri 27 Feb 17:00 + 1 h: 30 min; Sat 28 Feb is a make-up day →
           Sat 09:00. */
    {"cn", "2026-02-27 17:00 +08:00", 60, "2026-02-28 09:00 +08:00"},
    /* 22. Labour Day 2026: Thu 30 Apr 17:00 + 1 h: 30 min, 1-5 May off, Wed
           6 May 08:30 + 30 → 09:00. */
    {"cn", "2026-04-30 17:00 +08:00", 60, "2026-05-06 09:00 +08:00"},
    /* 23. Fri 8 May 2026 17:00 + 1 h: Sat 9 May is a make-up day → 09:00. */
    {"cn", "2026-05-08 17:00 +08:00", 60, "2026-05-09 09:00 +08:00"},
    /* 24. Qingming 2026: Fri 3 Apr 17:00 + 1 h: 4-6 April off (Sat-Mon),
           Tue 7 Apr 09:00. */
    {"cn", "2026-04-03 17:00 +08:00", 60, "2026-04-07 09:00 +08:00"},
    /* 25. Spring Festival 2025: Fri 24 Jan 17:00 + 1 h: Sat 25th off, Sun
           26 Jan 2025 is a make-up day → 09:00. */
    {"cn", "2025-01-24 17:00 +08:00", 60, "2025-01-26 09:00 +08:00"},
    /* 26. National Day 2025: Tue 30 Sept 17:00 + 1 h: 1-8 Oct off, Thu
           9 Oct 09:00. */
    {"cn", "2025-09-30 17:00 +08:00", 60, "2025-10-09 09:00 +08:00"},

    /* ---- cn: year ends ---- */
    /* 27. Tue 31 Dec 2024 17:00 + 1 h: 30 min, 1 Jan 2025 off, Thu 2 Jan
           08:30 + 30 min → 09:00. */
    {"cn", "2024-12-31 17:00 +08:00", 60, "2025-01-02 09:00 +08:00"},
    /* 28. Wed 31 Dec 2025 17:00 + 1 h: 1-3 Jan 2026 off, Sun 4 Jan 2026 is a
           make-up day → Sunday 09:00. */
    {"cn", "2025-12-31 17:00 +08:00", 60, "2026-01-04 09:00 +08:00"},
    /* 29. Thu 31 Dec 2026 17:00 + 1 h: 1 Jan 2027 (Fri, provisional data)
           off, weekend, Mon 4 Jan 2027 09:00. */
    {"cn", "2026-12-31 17:00 +08:00", 60, "2027-01-04 09:00 +08:00"},

    /* ---- cn: leap day (2028, no holiday data: plain weekdays) ---- */
    /* 30. Mon 28 Feb 2028 17:00 + 1 h → Tue 29 Feb 09:00. */
    {"cn", "2028-02-28 17:00 +08:00", 60, "2028-02-29 09:00 +08:00"},
    /* 31. Mon 28 Feb 17:00 + 9 h: 30 min, the whole of 29 Feb (8 h), 30 min
           on Wed 1 March → 09:00. */
    {"cn", "2028-02-28 17:00 +08:00", 540, "2028-03-01 09:00 +08:00"},

    /* ---- ny: across the DST changes ---- */
    /* 32. Spring forward: Fri 6 March 16:00 EST + 2 h: 1 h Friday, Mon 9
           March (now EDT) 09:00 + 1 h → 10:00 EDT. Only 2 h of working time,
           though the UTC gap is one hour shorter than in winter. */
    {"ny", "2026-03-06 16:00 -05:00", 120, "2026-03-09 10:00 -04:00"},
    /* 33. Created Sat 7 March 12:00 EST + 1 h → Mon 9 March 10:00 EDT. */
    {"ny", "2026-03-07 12:00 -05:00", 60, "2026-03-09 10:00 -04:00"},
    /* 34. Fall back: Fri 30 Oct 16:00 EDT + 2 h → Mon 2 Nov 10:00 EST. */
    {"ny", "2026-10-30 16:00 -04:00", 120, "2026-11-02 10:00 -05:00"},
    /* 35. Year end: Thu 31 Dec 16:30 EST + 1 h: 30 min, then Fri 1 Jan 2027
           (this calendar has no holidays) 09:00 + 30 → 09:30. */
    {"ny", "2026-12-31 16:30 -05:00", 60, "2027-01-01 09:30 -05:00"},
    /* 36. Mon 9 March 08:00 EDT (first working day after the change), before
           opening: starts 09:00 EDT, + 8 h → 17:00 EDT. */
    {"ny", "2026-03-09 08:00 -04:00", 480, "2026-03-09 17:00 -04:00"},

    /* ---- ny24: working time is real time, days are 23 h and 25 h ---- */
    /* 37. Sun 8 March from 00:00 EST + 24 h: the day has only 23 h (02:00
           does not exist), so 24 h end at 01:00 EDT on Monday (05:00Z + 24 h
           = 05:00Z = 01:00 EDT). */
    {"ny24", "2026-03-08 00:00 -05:00", 1440, "2026-03-09 01:00 -04:00"},
    /* 38. Sun 1 Nov from 00:00 EDT + 24 h: the day has 25 h, so 24 h end at
           23:00 EST the same day (04:00Z + 24 h = 04:00Z = 23:00 EST). */
    {"ny24", "2026-11-01 00:00 -04:00", 1440, "2026-11-01 23:00 -05:00"},
    /* 39. 01:30 EST + 1 h across the gap: 06:30Z + 1 h = 07:30Z = 03:30 EDT. */
    {"ny24", "2026-03-08 01:30 -05:00", 60, "2026-03-08 03:30 -04:00"},
    /* 40. 01:30 EDT (the first 01:30) + 1 h = the second 01:30, now EST
           (05:30Z + 1 h = 06:30Z). */
    {"ny24", "2026-11-01 01:30 -04:00", 60, "2026-11-01 01:30 -05:00"},

    /* ---- ber: a Sunday night shift across the DST changes ---- */
    /* 41. Spring forward inside the shift: Sun 29 March 00:00 CET (23:00Z
           Sat) to 06:00 CEST (04:00Z) is 5 h of real time. From Sat 20:00,
           5 h of work fill the shift exactly → due 06:00 CEST. */
    {"ber", "2026-03-28 20:00 +01:00", 300, "2026-03-29 06:00 +02:00"},
    /* 42. The same + 6 h: the shift gives 5 h, Mon 30 March 08:00 CEST +
           1 h → 09:00 CEST. */
    {"ber", "2026-03-28 20:00 +01:00", 360, "2026-03-30 09:00 +02:00"},
    /* 43. Fall back inside the shift: Sun 25 Oct 00:00 CEST (22:00Z Sat) to
           06:00 CET (05:00Z) is 7 h; 7 h of work from Saturday evening end at
           06:00 CET. */
    {"ber", "2026-10-24 20:00 +02:00", 420, "2026-10-25 06:00 +01:00"},
    /* 44. Fri 27 March 15:00 CET + 2 h: 1 h Friday, then the Sunday shift
           from 00:00 CET + 1 h → 01:00 CET (00:00Z). */
    {"ber", "2026-03-27 15:00 +01:00", 120, "2026-03-29 01:00 +01:00"},
    /* 45. 01:30 CET in the shift + 1 h: 00:30Z + 1 h = 01:30Z = 03:30 CEST
           (02:00-03:00 does not exist that night). */
    {"ber", "2026-03-29 01:30 +01:00", 60, "2026-03-29 03:30 +02:00"},
    /* 46. Fri 23 Oct 15:00 CEST + 8 h: 1 h Friday + the 7 h shift of 25 Oct
           → 06:00 CET. */
    {"ber", "2026-10-23 15:00 +02:00", 480, "2026-10-25 06:00 +01:00"},

    /* ---- mk: whose hours a make-up day works ---- */
    /* 47. Sat 10 Oct 2026 is worked "as fri" (09:00-15:00): from 08:00,
           6 h → 15:00. */
    {"mk", "2026-10-10 08:00 +08:00", 360, "2026-10-10 15:00 +08:00"},
    /* 48. Sun 20 Sept 2026 works Monday's hours (09:00-18:00): 9 h → 18:00. */
    {"mk", "2026-09-20 08:00 +08:00", 540, "2026-09-20 18:00 +08:00"},
    /* 49. Sat 10 Oct 14:00 + 2 h: 1 h to 15:00, Sunday off, Mon 12 Oct 09:00
           + 1 h → 10:00. */
    {"mk", "2026-10-10 14:00 +08:00", 120, "2026-10-12 10:00 +08:00"},
    /* 50. Wed 30 Sept 17:00 + 2 h: 1 h to 18:00, 1-7 Oct off, Thu 8 Oct
           09:00 + 1 h → 10:00. */
    {"mk", "2026-09-30 17:00 +08:00", 120, "2026-10-08 10:00 +08:00"},
};
/* clang-format on */

static void test_deadlines_worked_out_by_hand(void **state)
{
    (void)state;
    size_t n = sizeof(s_cases) / sizeof(s_cases[0]);
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const s_case_t *c = &s_cases[i];
        sla_calendar_t *cal = s_calendar(c->calendar);
        int64_t start = s_ms(c->start), due = s_ms(c->due), out = 0;
        if (sla_calendar_add(cal, start, c->minutes * MIN, &out) < 0)
            fail_msg("case %zu (%s from %s): add failed", i + 1, c->calendar, c->start);
        if (out != due)
            fail_msg(
                "case %zu (%s from %s + %lld min): due %lld, expected %s (%lld), off by %lld min",
                i + 1, c->calendar, c->start, (long long)c->minutes, (long long)out, c->due,
                (long long)due, (long long)((out - due) / MIN));
        /* between() is add()'s inverse. */
        int64_t back = sla_calendar_between(cal, start, due);
        if (back != c->minutes * MIN)
            fail_msg("case %zu: between gives %lld min, expected %lld", i + 1,
                     (long long)(back / MIN), (long long)c->minutes);
        sla_calendar_destroy(&cal);
    }
}

/* ---- between ------------------------------------------------------------------- */

static void test_the_national_day_fortnight_of_2026_holds_six_working_days(void **state)
{
    (void)state;
    /* Mon 28 Sept to Sun 11 Oct: 28, 29, 30 Sept, 8, 9 Oct and the make-up
       Saturday 10 Oct; 1-7 Oct off → 6 × 8 h. */
    sla_calendar_t *cal = s_calendar("cn");
    assert_int_equal(
        sla_calendar_between(cal, s_ms("2026-09-28 00:00 +08:00"), s_ms("2026-10-12 00:00 +08:00")),
        48 * HOUR);
    sla_calendar_destroy(&cal);
}

static void test_mainland_2025_and_2026_each_have_248_working_days(void **state)
{
    (void)state;
    /* 2026 starts on a Thursday: 52 weeks + 1 Thursday = 261 weekdays.
       Weekday holidays: 1, 2 Jan; 16-20, 23 Feb; 6 Apr; 1, 4, 5 May; 19 Jun;
       25 Sept; 1, 2, 5, 6, 7 Oct = 19. Make-up days: 4 Jan, 14 Feb, 28 Feb,
       9 May, 20 Sept, 10 Oct = 6. 261 - 19 + 6 = 248.
       2025 starts on a Wednesday: 261 weekdays. Weekday holidays: 1 Jan;
       28-31 Jan, 3, 4 Feb; 4 Apr; 1, 2, 5 May; 2 Jun; 1-3, 6-8 Oct = 18.
       Make-up: 26 Jan, 8 Feb, 27 Apr, 28 Sept, 11 Oct = 5. 248 again. */
    sla_calendar_t *cal = s_calendar("cn");
    assert_int_equal(
        sla_calendar_between(cal, s_ms("2026-01-01 00:00 +08:00"), s_ms("2027-01-01 00:00 +08:00")),
        248 * 8 * HOUR);
    assert_int_equal(
        sla_calendar_between(cal, s_ms("2025-01-01 00:00 +08:00"), s_ms("2026-01-01 00:00 +08:00")),
        248 * 8 * HOUR);
    sla_calendar_destroy(&cal);
}

static void test_between_counts_nothing_backwards_or_outside_hours(void **state)
{
    (void)state;
    sla_calendar_t *cal = s_calendar("cn");
    int64_t a = s_ms("2026-03-10 09:00 +08:00");
    assert_int_equal(sla_calendar_between(cal, a, a - HOUR), 0);
    assert_int_equal(sla_calendar_between(cal, a, a), 0);
    /* lunch and a night */
    assert_int_equal(
        sla_calendar_between(cal, s_ms("2026-03-10 12:00 +08:00"), s_ms("2026-03-10 13:00 +08:00")),
        0);
    assert_int_equal(
        sla_calendar_between(cal, s_ms("2026-03-10 17:30 +08:00"), s_ms("2026-03-11 08:30 +08:00")),
        0);
    /* hostile extremes are bounded, not wrapped */
    assert_true(sla_calendar_between(cal, INT64_MIN, INT64_MAX) > 0);
    sla_calendar_destroy(&cal);
}

/* add() then between() gives back the working time, for starts spread over
   three years and targets up to two weeks, on every calendar of the table. */
static void test_between_is_the_inverse_of_add_everywhere(void **state)
{
    (void)state;
    const char *keys[] = {"cn", "ny", "ny24", "ber", "mk"};
    uint64_t seed = 88172645463325252ULL;
    for (size_t k = 0; k < 5; k++) {
        sla_calendar_t *cal = s_calendar(keys[k]);
        int64_t base = s_ms("2025-01-01 00:00 +00:00");
        for (int i = 0; i < 400; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            int64_t start = base + (int64_t)(seed % (3ULL * 365 * 24 * 60)) * MIN;
            int64_t work = (int64_t)((seed >> 32) % (80 * 60)) * MIN;
            int64_t due;
            assert_int_equal(sla_calendar_add(cal, start, work, &due), 0);
            assert_true(due >= start);
            if (sla_calendar_between(cal, start, due) != work)
                fail_msg("%s: start %lld work %lld", keys[k], (long long)start, (long long)work);
            /* and one minute more is due strictly later */
            int64_t later;
            assert_int_equal(sla_calendar_add(cal, start, work + MIN, &later), 0);
            assert_true(later > due);
        }
        sla_calendar_destroy(&cal);
    }
}

static void test_add_refuses_negative_work_and_instants_outside_its_years(void **state)
{
    (void)state;
    sla_calendar_t *cal = s_calendar("cn");
    int64_t out = 42;
    assert_int_equal(sla_calendar_add(cal, s_ms("2026-03-10 09:00 +08:00"), -1, &out), -1);
    assert_int_equal(sla_calendar_add(cal, INT64_MAX - 5, 10, &out), -1);
    assert_int_equal(sla_calendar_add(cal, INT64_MIN, 10, &out), -1);
    assert_int_equal(sla_calendar_add(cal, s_ms("2026-03-10 09:00 +08:00"), INT64_MAX, &out), -1);
    assert_int_equal(out, 42);
    sla_calendar_destroy(&cal);
}

/* ---- zones ----------------------------------------------------------------------- */

static void test_wall_clock_times_skipped_or_repeated_by_dst_have_one_meaning(void **state)
{
    (void)state;
    char err[200];
    sla_zone_t *z = sla_zone_load(NULL, "America/New_York", err, sizeof(err));
    assert_non_null(z);
    int64_t day = sla_days_from_civil(2026, 3, 8) * 86400;
    /* 02:30 on 8 March does not exist: it means the end of the gap, 03:00
       EDT = 07:00Z. */
    assert_int_equal(sla_zone_to_utc(z, day + 2 * 3600 + 1800),
                     s_ms("2026-03-08 07:00 +00:00") / 1000);
    /* 01:30 on 1 November happens twice: the first, EDT, 05:30Z. */
    day = sla_days_from_civil(2026, 11, 1) * 86400;
    assert_int_equal(sla_zone_to_utc(z, day + 3600 + 1800), s_ms("2026-11-01 05:30 +00:00") / 1000);
    assert_int_equal(sla_zone_offset(z, s_ms("2026-07-01 12:00 +00:00") / 1000, NULL), -4 * 3600);
    assert_int_equal(sla_zone_offset(z, s_ms("2026-01-01 12:00 +00:00") / 1000, NULL), -5 * 3600);
    /* Far beyond the file's transitions the footer rule still answers:
       2100-03-14 is the second Sunday of March 2100. */
    assert_int_equal(sla_zone_offset(z, s_ms("2100-03-14 06:59 +00:00") / 1000, NULL), -5 * 3600);
    assert_int_equal(sla_zone_offset(z, s_ms("2100-03-14 07:00 +00:00") / 1000, NULL), -4 * 3600);
    sla_zone_destroy(&z);
    assert_null(z);
}

static void test_a_posix_rule_alone_agrees_with_the_zone_file(void **state)
{
    (void)state;
    char err[200];
    sla_zone_t *file = sla_zone_load(NULL, "Europe/Berlin", err, sizeof(err));
    sla_zone_t *rule =
        sla_zone_from_posix("berlin", "CET-1CEST,M3.5.0,M10.5.0/3", err, sizeof(err));
    assert_non_null(file);
    assert_non_null(rule);
    for (int64_t t = s_ms("2000-01-01 00:00 +00:00") / 1000;
         t < s_ms("2060-01-01 00:00 +00:00") / 1000; t += 3 * 3600 + 17)
        assert_int_equal(sla_zone_offset(file, t, NULL), sla_zone_offset(rule, t, NULL));
    sla_zone_destroy(&file);
    sla_zone_destroy(&rule);
}

static void test_zone_names_cannot_climb_out_of_zoneinfo(void **state)
{
    (void)state;
    const char *bad[] = {"../../etc/passwd", "/etc/passwd", "Asia//Shanghai",   "Asia/", "",
                         "Asia/Shang hai",   "Asia/../UTC", "Mars/Olympus_Mons"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[200] = "";
        assert_null(sla_zone_load(NULL, bad[i], err, sizeof(err)));
        assert_true(err[0] != '\0');
    }
    assert_null(sla_zone_load(NULL, NULL, NULL, 0));
}

static void test_posix_tz_strings_that_make_no_sense_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "AB5",
                         "EST",
                         "EST5EDT",
                         "EST5EDT,M3.2.0",
                         "EST5EDT,M13.2.0,M11.1.0",
                         "EST5EDT,M3.6.0,M11.1.0",
                         "EST5EDT,J0,J365",
                         "EST25",
                         "<A>5",
                         "EST5EDT,M3.2.0/168,M11.1.0",
                         "EST5EDT,M3.2.0,M11.1.0x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[200] = "";
        sla_zone_t *z = sla_zone_from_posix("x", bad[i], err, sizeof(err));
        if (z)
            fail_msg("accepted %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    char err[200];
    sla_zone_t *z = sla_zone_from_posix("x", "<+0330>-3:30", err, sizeof(err));
    assert_non_null(z);
    assert_int_equal(sla_zone_offset(z, 0, NULL), 3 * 3600 + 1800);
    sla_zone_destroy(&z);
}

/* Every truncation and a flipped byte in every position of a real TZif file
   is refused or read, never a crash (run under ASan/UBSan). */
static void test_damaged_tzif_files_are_refused_not_trusted(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/America/New_York", "rb");
    assert_non_null(f);
    static uint8_t buf[8192];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(len > 100 && len < sizeof(buf));
    char err[200];
    sla_zone_t *z = sla_zone_from_tzif("ny", buf, len, err, sizeof(err));
    assert_non_null(z);
    sla_zone_destroy(&z);
    for (size_t cut = 0; cut < len; cut++) {
        err[0] = '\0';
        z = sla_zone_from_tzif("ny", buf, cut, err, sizeof(err));
        if (z)
            fail_msg("a file cut at %zu bytes was accepted", cut);
        assert_true(err[0] != '\0');
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t saved = buf[i];
        buf[i] ^= 0xA5;
        z = sla_zone_from_tzif("ny", buf, len, err, sizeof(err));
        if (z) { /* still well-formed: it must answer */
            (void)sla_zone_offset(z, 1790000000, NULL);
            (void)sla_zone_to_utc(z, 1790000000);
            sla_zone_destroy(&z);
        }
        buf[i] = saved;
    }
    /* Version 1 files are refused by name. */
    buf[4] = '\0';
    assert_null(sla_zone_from_tzif("ny", buf, len, err, sizeof(err)));
    assert_non_null(strstr(err, "version"));
}

/* ---- definitions --------------------------------------------------------------------- */

static void test_a_definition_error_names_the_line_and_the_fault(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"hours mon-fri 09:00-17:00\nopen sundays\n", "line 2: unknown statement 'open'"},
        {"hours mon-fri 09:00-25:00\n", "line 1: not a working interval"},
        {"hours mon 13:00-17:00 09:00-12:00\n", "out of order"},
        {"hours mon 09:00-12:00 11:00-17:00\n", "overlapping"},
        {"hours mon 12:00-12:00\n", "not a working interval"},
        {"hours fri-mon 09:00-17:00\n", "name the days"},
        {"hours mon,\n", "name the days"},
        {"hours mon-fri\n", "give intervals"},
        {"hours mon-fri 09:00-17:00\nholiday 2026-10-01\nworkday 2026-10-01\n",
         "2026-10-01 is both a holiday and a make-up working day"},
        {"hours mon-fri 09:00-17:00\nholiday 2026-02-30\n", "holiday: a date"},
        {"hours mon-fri 09:00-17:00\nholiday 2026-10-07..2026-10-01\n", "runs forward"},
        {"hours mon-fri 09:00-17:00\nholiday 2026-01-01..2027-06-01\n", "at most 366 days"},
        {"hours mon-fri 09:00-17:00\nworkday 2026-10-10 as sun\n", "names a weekday mon..fri"},
        {"hours mon-fri 09:00-17:00\ninclude cn-1999\n", "no embedded holiday file named cn-1999"},
        {"zone Asia/Shanghai\nzone Europe/Berlin\nhours mon 09:00-10:00\n", "zone: given twice"},
        {"zone Mars/Base\nhours mon 09:00-10:00\n", "unknown time zone Mars/Base"},
        {"zone ../../etc/passwd\nhours mon 09:00-10:00\n", "not a time zone name"},
        {"# nothing but a comment\n", "needs working hours"},
        {"hours mon-fri 09:00-17:00\rholiday 2026-01-01\n", "carriage return"},
        {"hours mon 00:00-01:00 01:00-02:00 02:00-03:00 03:00-04:00 04:00-05:00 05:00-06:00 "
         "06:00-07:00 07:00-08:00 08:00-09:00\n",
         "more than 8 working intervals"},
        {"7x24\nhours mon 09:00-10:00\n", "line 2: 7x24 stands alone"},
        {"# around the clock\nzone Asia/Shanghai\n7x24\n", "line 3: 7x24 stands alone"},
        {"7x24 please\n", "line 1: 7x24 stands alone"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        sla_calendar_t *c =
            sla_calendar_parse("t", bad[i].text, strlen(bad[i].text), err, sizeof(err));
        if (c)
            fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: error '%s' does not say '%s'", i, err, bad[i].says);
    }
}

/* The stored calendar "7x24" is written as the one word; whatever it is
   called, such a calendar counts real time, weekends and nights included. */
static void test_a_7x24_definition_counts_every_moment(void **state)
{
    (void)state;
    char err[256] = "";
    const char *text = "# the around-the-clock desk\n7x24\n";
    sla_calendar_t *c = sla_calendar_parse("hotline", text, strlen(text), err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(sla_calendar_name(c), "hotline");
    assert_null(sla_calendar_zone(c));
    int64_t due;
    /* Saturday 2026-02-14 23:00 +08:00 plus 2 h is Sunday 01:00. */
    assert_int_equal(sla_calendar_add(c, s_ms("2026-02-14 23:00 +08:00"), 2 * HOUR, &due), 0);
    assert_int_equal(due, s_ms("2026-02-15 01:00 +08:00"));
    sla_calendar_destroy(&c);
}

/* The built-in calendars' texts are what the calendars table is seeded
   with, so they must parse into the same calendars sla_calendar_new_named
   gives. */
static void test_the_builtin_texts_parse_to_the_builtin_calendars(void **state)
{
    (void)state;
    const char *names[] = {"7x24", "cn-office"};
    for (size_t i = 0; i < 2; i++) {
        char err[256] = "";
        const char *text = sla_calendar_builtin_text(names[i]);
        assert_non_null(text);
        sla_calendar_t *parsed = sla_calendar_parse(names[i], text, strlen(text), err, sizeof(err));
        sla_calendar_t *named = sla_calendar_new_named(names[i]);
        assert_non_null(parsed);
        assert_non_null(named);
        int64_t a, b, start = s_ms("2026-09-30 16:00 +08:00");
        assert_int_equal(sla_calendar_add(parsed, start, 9 * HOUR, &a), 0);
        assert_int_equal(sla_calendar_add(named, start, 9 * HOUR, &b), 0);
        assert_int_equal(a, b);
        sla_calendar_destroy(&parsed);
        sla_calendar_destroy(&named);
    }
    assert_null(sla_calendar_builtin_text("cn-2026"));
}

static void test_hostile_definitions_are_bounded(void **state)
{
    (void)state;
    char err[256] = "";
    /* a NUL inside the text */
    const char nul[] = "hours mon 09:00-10:00\n\0holiday 2026-01-01\n";
    assert_null(sla_calendar_parse("t", nul, sizeof(nul) - 1, err, sizeof(err)));
    assert_non_null(strstr(err, "NUL"));
    /* too long a text, too long a line */
    size_t big = SLA_CALENDAR_TEXT_MAX + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    assert_null(sla_calendar_parse("t", text, big, err, sizeof(err)));
    memcpy(text, "hours mon 09:00-10:00\n", 22);
    assert_null(sla_calendar_parse("t", text, 22 + 2000, err, sizeof(err)));
    assert_non_null(strstr(err, "longer than"));
    free(text);
    /* bad names */
    const char ok[] = "hours mon 09:00-10:00\n";
    assert_null(sla_calendar_parse("", ok, strlen(ok), err, sizeof(err)));
    assert_null(sla_calendar_parse("a/b", ok, strlen(ok), err, sizeof(err)));
    assert_null(sla_calendar_parse(NULL, ok, strlen(ok), err, sizeof(err)));
    /* more dates than allowed: 23 ranges of a year */
    size_t cap = 64 * 1024, n = 0;
    text = malloc(cap);
    assert_non_null(text);
    n += (size_t)snprintf(text, cap, "hours mon 09:00-10:00\n");
    for (int y = 2000; y < 2024; y++)
        n += (size_t)snprintf(text + n, cap - n, "holiday %d-01-01..%d-12-31\n", y, y);
    assert_null(sla_calendar_parse("t", text, n, err, sizeof(err)));
    assert_non_null(strstr(err, "more than 8192"));
    free(text);
}

static void test_the_shipped_holiday_files_are_embedded_and_parse(void **state)
{
    (void)state;
    assert_non_null(sla_calendar_data("cn-2025"));
    assert_non_null(sla_calendar_data("cn-2026"));
    assert_non_null(strstr(sla_calendar_data("cn-2027"), "PROVISIONAL"));
    assert_null(sla_calendar_data("cn-2026.txt"));
    assert_null(sla_calendar_data("cn-20"));
    assert_null(sla_calendar_data(NULL));
    sla_calendar_t *cal = sla_calendar_new_named("cn-office");
    assert_non_null(cal);
    assert_string_equal(sla_calendar_name(cal), "cn-office");
    assert_string_equal(sla_calendar_zone(cal), "Asia/Shanghai");
    /* 1 Oct 2026 off, Sat 10 Oct worked, an ordinary Saturday not. */
    assert_int_equal(sla_calendar_day_ms(cal, sla_days_from_civil(2026, 10, 1)), 0);
    assert_int_equal(sla_calendar_day_ms(cal, sla_days_from_civil(2026, 10, 10)), 8 * HOUR);
    assert_int_equal(sla_calendar_day_ms(cal, sla_days_from_civil(2026, 10, 17)), 0);
    sla_calendar_destroy(&cal);
    assert_null(sla_calendar_new_named("no-such-calendar"));
}

static void test_calendars_are_built_through_the_api_too(void **state)
{
    (void)state;
    char err[256] = "";
    sla_calendar_t *c = sla_calendar_new_business("plant", "Europe/Berlin", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(sla_calendar_set_hours(c, 0, "07:00-15:00", err, sizeof(err)), 0);
    assert_int_equal(sla_calendar_set_hours(c, 7, "07:00-15:00", err, sizeof(err)), -1);
    assert_int_equal(sla_calendar_set_hours(c, 1, "7:00-15:00", err, sizeof(err)), -1);
    assert_int_equal(sla_calendar_add_holidays(c, "2026-12-21", "2026-12-31", err, sizeof(err)), 0);
    assert_int_equal(sla_calendar_add_holidays(c, "2026-13-01", NULL, err, sizeof(err)), -1);
    assert_int_equal(sla_calendar_add_workday(c, "2026-12-19", -1, err, sizeof(err)), 0);
    assert_int_equal(sla_calendar_add_workday(c, "2026-12-21", -1, err, sizeof(err)), -1);
    assert_int_equal(sla_calendar_add_workday(c, "2026-12-20", 6, err, sizeof(err)), -1);
    /* Mon 14 Dec 2026 14:00 CET + 2 h: 1 h Monday, Tue-Fri closed (no hours),
       Sat 19 Dec worked with Monday's hours: 07:00 + 1 h = 08:00. */
    int64_t out;
    assert_int_equal(sla_calendar_add(c, s_ms("2026-12-14 14:00 +01:00"), 2 * HOUR, &out), 0);
    assert_int_equal(out, s_ms("2026-12-19 08:00 +01:00"));
    sla_calendar_destroy(&c);
    /* 7×24 has no hours, holidays or make-up days to set. */
    c = sla_calendar_new_7x24();
    assert_int_equal(sla_calendar_set_hours(c, 0, "09:00-10:00", err, sizeof(err)), -1);
    assert_int_equal(sla_calendar_add_holidays(c, "2026-01-01", NULL, err, sizeof(err)), -1);
    assert_null(sla_calendar_zone(c));
    sla_calendar_destroy(&c);
}

/* ---- iCalendar ----------------------------------------------------------------------- */

static const char s_ics[] = "BEGIN:VCALENDAR\r\n"
                            "VERSION:2.0\r\n"
                            "PRODID:-//petrocs//test//EN\r\n"
                            "BEGIN:VEVENT\r\n"
                            "UID:national-day-2026@test\r\n"
                            "DTSTART;VALUE=DATE:20261001\r\n"
                            "DTEND;VALUE=DATE:20261008\r\n"
                            "SUMMARY:National Day holiday\\, a week that is long enough to need\r\n"
                            " folding across two lines\r\n"
                            "BEGIN:VALARM\r\n"
                            "ACTION:DISPLAY\r\n"
                            "TRIGGER:-PT15M\r\n"
                            "DTSTART:19700101T000000\r\n"
                            "END:VALARM\r\n"
                            "END:VEVENT\r\n"
                            "BEGIN:VEVENT\r\n"
                            "UID:plant-day@test\r\n"
                            "DTSTART;VALUE=DATE:20260316\r\n" /* a Monday, one day: no DTEND */
                            "SUMMARY;LANGUAGE=\"zh:CN\":厂庆日\r\n"
                            "END:VEVENT\r\n"
                            "BEGIN:VEVENT\r\n"
                            "DTSTART;VALUE=DATE:20260317\r\n"
                            "DURATION:P2D\r\n"
                            "STATUS:CANCELLED\r\n" /* skipped */
                            "END:VEVENT\r\n"
                            "END:VCALENDAR\r\n";

static void test_all_day_ical_events_become_holidays(void **state)
{
    (void)state;
    char err[256] = "";
    const char def[] = "hours mon-fri 09:00-17:00\n";
    sla_calendar_t *c = sla_calendar_parse("t", def, strlen(def), err, sizeof(err));
    assert_non_null(c);
    /* 7 days of National Day (DTEND exclusive) + the plant's day = 8. */
    assert_int_equal(sla_calendar_import_ical(c, s_ics, strlen(s_ics), err, sizeof(err)), 8);
    assert_int_equal(sla_calendar_day_ms(c, sla_days_from_civil(2026, 10, 7)), 0);
    assert_int_equal(sla_calendar_day_ms(c, sla_days_from_civil(2026, 10, 8)), 8 * HOUR);
    assert_int_equal(sla_calendar_day_ms(c, sla_days_from_civil(2026, 3, 16)), 0);
    assert_int_equal(sla_calendar_day_ms(c, sla_days_from_civil(2026, 3, 17)), 8 * HOUR);
    /* Fri 13 March 16:00 + 2 h: 1 h Friday, Monday the plant's day off,
       Tue 17 March 09:00 + 1 h → 10:00 (Asia/Shanghai by default). */
    int64_t out;
    assert_int_equal(sla_calendar_add(c, s_ms("2026-03-13 16:00 +08:00"), 2 * HOUR, &out), 0);
    assert_int_equal(out, s_ms("2026-03-17 10:00 +08:00"));
    sla_calendar_destroy(&c);
}

/* An import is stored as definition text: the same file written as
   holiday lines gives the same calendar as importing it directly. */
static void test_an_ical_file_becomes_holiday_lines_of_a_definition(void **state)
{
    (void)state;
    char err[256] = "";
    int events = 0;
    char *lines = sla_ical_definition(s_ics, strlen(s_ics), "imported", &events, err, sizeof(err));
    assert_non_null(lines);
    assert_int_equal(events, 2);
    assert_non_null(strstr(lines, "holiday 2026-10-01..2026-10-07 imported\n"));
    assert_non_null(strstr(lines, "holiday 2026-03-16..2026-03-16 imported\n"));
    char def[1024];
    snprintf(def, sizeof(def), "hours mon-fri 09:00-17:00\n%s", lines);
    free(lines);
    sla_calendar_t *c = sla_calendar_parse("t", def, strlen(def), err, sizeof(err));
    assert_non_null(c);
    int64_t out;
    assert_int_equal(sla_calendar_add(c, s_ms("2026-03-13 16:00 +08:00"), 2 * HOUR, &out), 0);
    assert_int_equal(out, s_ms("2026-03-17 10:00 +08:00"));
    sla_calendar_destroy(&c);
    /* A bad file or a note that would break the line gives NULL and a reason. */
    assert_null(sla_ical_definition("BEGIN:VCALENDAR\n", 16, "x", &events, err, sizeof(err)));
    assert_null(sla_ical_definition(s_ics, strlen(s_ics), "a # b", &events, err, sizeof(err)));
    assert_non_null(strstr(err, "note"));
}

static void test_ical_with_lf_line_ends_and_duration_in_weeks_is_read(void **state)
{
    (void)state;
    const char ics[] = "\xEF\xBB\xBF"
                       "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260713\n"
                       "DURATION:P1W\nEND:VEVENT\nEND:VCALENDAR\n";
    char err[256] = "";
    assert_int_equal(sla_ical_holidays(ics, strlen(ics), NULL, NULL, err, sizeof(err)), 1);
    sla_calendar_t *c = sla_calendar_new_business("t", NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(sla_calendar_import_ical(c, ics, strlen(ics), err, sizeof(err)), 7);
    sla_calendar_destroy(&c);
}

static void test_malformed_ical_gets_a_clear_error_and_changes_nothing(void **state)
{
    (void)state;
#define EV(body) "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" body "END:VEVENT\r\nEND:VCALENDAR\r\n"
    struct {
        const char *text;
        const char *says;
    } bad[] = {
        {EV("DTSTART:20261001T090000Z\r\n"), "line 3: DTSTART is a date-time"},
        {EV("DTSTART;VALUE=DATE-TIME:20261001\r\n"), "date-time"},
        {EV("DTSTART;VALUE=DATE:20261001\r\nRRULE:FREQ=YEARLY\r\n"), "recurring"},
        {EV("DTSTART;VALUE=DATE:20261001\r\nDTEND;VALUE=DATE:20261001\r\n"),
         "ends before it starts"},
        {EV("DTSTART;VALUE=DATE:20260230\r\n"), "not a date"},
        {EV("DTSTART;VALUE=DATE:2026-10-01\r\n"), "line 3: DTSTART is not a date YYYYMMDD"},
        {EV("SUMMARY:no start\r\n"), "event without DTSTART"},
        {EV("DTSTART;VALUE=DATE:20260101\r\nDTEND;VALUE=DATE:20280101\r\n"),
         "longer than 366 days"},
        {EV("DTSTART;VALUE=DATE:20260101\r\nDTSTART;VALUE=DATE:20260102\r\n"), "given twice"},
        {EV("DTSTART;VALUE=DATE:20260101\r\nDURATION:PT8H\r\n"), "whole days or weeks"},
        {EV("DTSTART;VALUE=DATE:20260101\r\nDTEND;VALUE=DATE:20260102\r\nDURATION:P1D\r\n"),
         "both DTEND and DURATION"},
        {EV("DTSTART;VALUE=DATE:20260101\rSUMMARY:x\r\n"), "bare carriage return"},
        {EV("SUMMARY;X=\"unterminated:x\r\n"), "not a content line"},
        {EV(":no name\r\n"), "not a content line"},
        {"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VCALENDAR\r\n",
         "END does not match"},
        {"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\n",
         "ends inside a component"},
        {"VERSION:2.0\r\n", "content outside"},
        {"BEGIN:VEVENT\r\nEND:VEVENT\r\n", "must begin with BEGIN:VCALENDAR"},
        {" folded first\r\n", "without a line before it"},
        {"", "no BEGIN:VCALENDAR"},
        {EV("SUMMARY:tab\tis fine but a bell \a is not\r\n"), "control character"},
    };
#undef EV
    char err[256];
    sla_calendar_t *c = sla_calendar_new_business("t", NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(sla_calendar_set_hours(c, 0, "09:00-17:00", err, sizeof(err)), 0);
    int64_t monday = sla_days_from_civil(2026, 1, 5);
    assert_int_equal(sla_calendar_add_holidays(c, "2026-01-05", NULL, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (sla_calendar_import_ical(c, bad[i].text, strlen(bad[i].text), err, sizeof(err)) != -1)
            fail_msg("accepted case %zu", i);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: error '%s' does not say '%s'", i, err, bad[i].says);
    }
    /* A file that goes wrong after a good event adds nothing either. */
    const char half[] =
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260112\r\n"
        "END:VEVENT\r\nBEGIN:VEVENT\r\nRRULE:FREQ=DAILY\r\nDTSTART;VALUE=DATE:20260119\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_int_equal(sla_calendar_import_ical(c, half, strlen(half), err, sizeof(err)), -1);
    assert_int_equal(sla_calendar_day_ms(c, sla_days_from_civil(2026, 1, 12)), 8 * HOUR);
    assert_int_equal(sla_calendar_day_ms(c, monday), 0);
    sla_calendar_destroy(&c);
}

static void test_huge_ical_input_is_refused_before_it_is_read(void **state)
{
    (void)state;
    char err[256] = "";
    size_t big = SLA_ICAL_MAX_BYTES + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, 'A', big);
    assert_int_equal(sla_ical_holidays(text, big, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than 1 MiB"));
    /* one unfolded line of 9 KiB made of folded pieces */
    size_t n = 0;
    n += (size_t)snprintf(text, big, "BEGIN:VCALENDAR\r\nSUMMARY:");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, big - n, "%s\r\n ",
                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    n += (size_t)snprintf(text + n, big - n, "end\r\nEND:VCALENDAR\r\n");
    assert_int_equal(sla_ical_holidays(text, n, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 8 KiB"));
    /* more than 10 000 events */
    n = (size_t)snprintf(text, big, "BEGIN:VCALENDAR\r\n");
    for (int i = 0; i < 10001 && n + 100 < big; i++)
        n += (size_t)snprintf(text + n, big - n,
                              "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n");
    n += (size_t)snprintf(text + n, big - n, "END:VCALENDAR\r\n");
    sla_calendar_t *c = sla_calendar_new_business("t", NULL, err, sizeof(err));
    assert_int_equal(sla_calendar_import_ical(c, text, n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 10000 events"));
    sla_calendar_destroy(&c);
    free(text);
}

/* Every byte of a good definition and a good iCalendar file replaced in turn
   by a few hostile values: refused or read, never a crash (run under ASan). */
static void test_mutated_definitions_and_ical_files_never_crash(void **state)
{
    (void)state;
    static const char values[] = {'\0', '\r', '\n', ' ', '-', ':', '9', '#', ';', '"', '\xff'};
    char buf[sizeof(s_ics)];
    char err[256];
    const char *texts[] = {s_mk, s_ics};
    size_t lens[] = {strlen(s_mk), strlen(s_ics)};
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < lens[t]; i++) {
            for (size_t v = 0; v < sizeof(values); v++) {
                memcpy(buf, texts[t], lens[t]);
                buf[i] = values[v];
                sla_calendar_t *c;
                if (t == 0) {
                    c = sla_calendar_parse("m", buf, lens[t], err, sizeof(err));
                } else {
                    c = sla_calendar_new_business("m", NULL, err, sizeof(err));
                    assert_non_null(c);
                    assert_int_equal(sla_calendar_set_hours(c, 0, "09:00-17:00", err, sizeof(err)),
                                     0);
                    (void)sla_calendar_import_ical(c, buf, lens[t], err, sizeof(err));
                }
                if (c) {
                    int64_t out;
                    assert_int_equal(
                        sla_calendar_add(c, s_ms("2026-09-30 17:00 +08:00"), 2 * HOUR, &out), 0);
                    sla_calendar_destroy(&c);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines_worked_out_by_hand),
        cmocka_unit_test(test_the_national_day_fortnight_of_2026_holds_six_working_days),
        cmocka_unit_test(test_mainland_2025_and_2026_each_have_248_working_days),
        cmocka_unit_test(test_between_counts_nothing_backwards_or_outside_hours),
        cmocka_unit_test(test_between_is_the_inverse_of_add_everywhere),
        cmocka_unit_test(test_add_refuses_negative_work_and_instants_outside_its_years),
        cmocka_unit_test(test_wall_clock_times_skipped_or_repeated_by_dst_have_one_meaning),
        cmocka_unit_test(test_a_posix_rule_alone_agrees_with_the_zone_file),
        cmocka_unit_test(test_zone_names_cannot_climb_out_of_zoneinfo),
        cmocka_unit_test(test_posix_tz_strings_that_make_no_sense_are_refused),
        cmocka_unit_test(test_damaged_tzif_files_are_refused_not_trusted),
        cmocka_unit_test(test_a_definition_error_names_the_line_and_the_fault),
        cmocka_unit_test(test_hostile_definitions_are_bounded),
        cmocka_unit_test(test_the_shipped_holiday_files_are_embedded_and_parse),
        cmocka_unit_test(test_calendars_are_built_through_the_api_too),
        cmocka_unit_test(test_a_7x24_definition_counts_every_moment),
        cmocka_unit_test(test_the_builtin_texts_parse_to_the_builtin_calendars),
        cmocka_unit_test(test_all_day_ical_events_become_holidays),
        cmocka_unit_test(test_an_ical_file_becomes_holiday_lines_of_a_definition),
        cmocka_unit_test(test_ical_with_lf_line_ends_and_duration_in_weeks_is_read),
        cmocka_unit_test(test_malformed_ical_gets_a_clear_error_and_changes_nothing),
        cmocka_unit_test(test_huge_ical_input_is_refused_before_it_is_read),
        cmocka_unit_test(test_mutated_definitions_and_ical_files_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
