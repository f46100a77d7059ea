/*
 * cs-survey — satisfaction surveys after service (DESIGN.md §2).
 *
 * Reads dispatch and complaint: a closed ticket (or a complaint's feedback)
 * brings one decision per ticket, an invitation scheduled for the contact's
 * daytime or a skip with its reason; the tick sends what is due and the one
 * reminder; the customer answers on a signed link's page; low scores and
 * strategic customers get a phone follow-up task; staff read the figures
 * against the 90 % target.  Configuration (docs/configuration.md):
 *   CS_SURVEY_PUBLIC_URL  base of the links (default http://127.0.0.1:<HTTP port>)
 *   CS_SURVEY_LINK_DAYS   how long a link works (default 30)
 *   CS_SURVEY_LINK_KEYS   "kid:hexkey,kid2:hexkey2" (first signs); unset: a
 *                         random key generated once and kept in link_keys
 *   CS_SURVEY_DELAY_MIN   minutes from the close to the invitation (default 120)
 *   CS_SURVEY_TZ          the contacts' time zone (default Asia/Shanghai)
 *   CS_SURVEY_DAY_START / CS_SURVEY_DAY_END  daytime hours (default 9 / 20)
 *   CS_SURVEY_QUIET_DAYS  no second survey for a contact within (default 30)
 *   CS_SURVEY_REMIND_AFTER_H  the reminder, hours after sending (72; 0 = none)
 */
#include <stdio.h>
#include <string.h>
#include "cs_config.h"
#include "cs_db.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "gauges.h"
#include "survey.h"

extern const cs_migration_t survey_migrations[];

static survey_state_t s_state;

/* The base URL of answer links: http(s)://host[:port][/path], no spaces or
   quotes, without a trailing '/'. 0 or -1. */
static int s_public_url(survey_state_t *st)
{
    char dflt[64];
    int64_t port;
    if (cs_env_svc_int("survey", "HTTP_PORT", 7500, 0, 65535, &port) < 0)
        return -1;
    snprintf(dflt, sizeof(dflt), "http://127.0.0.1:%d", (int)port);
    const char *url = cs_env("CS_SURVEY_PUBLIC_URL", dflt);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    int ok = n > 8 && n <= SURVEY_PUBLIC_URL_MAX &&
             (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
    for (size_t i = 0; ok && i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7F ||
            strchr("\"'<>\\`", url[i]))
            ok = 0;
    if (!ok) {
        cs_error("config: CS_SURVEY_PUBLIC_URL must be an http(s) URL of at most %d"
                 " printable characters",
                 SURVEY_PUBLIC_URL_MAX);
        return -1;
    }
    snprintf(st->public_url, sizeof(st->public_url), "%.*s", (int)n, url);
    return 0;
}

/* No keys configured: use the schema's own, generating it the first time
   (ON CONFLICT keeps one key when two instances start together). */
static int s_stored_keys(cs_db_t *db, survey_keyring_t *keys)
{
    unsigned char raw[32];
    char hex[sizeof(raw) * 2 + 1], err[160];
    int rc = -1;
    if (cs_random(raw, sizeof(raw)) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    if (cs_db_begin(db) < 0)
        goto out_wipe;
    if (cs_db_cmd(db,
                  "INSERT INTO link_keys (kid, key) VALUES ('local-1', decode($1, 'hex'))"
                  " ON CONFLICT (kid) DO NOTHING",
                  1, (const char *[]){hex}) < 0)
        goto out_rollback;
    PGresult *r = cs_db_exec(db,
                             "SELECT kid, encode(key, 'hex') FROM link_keys"
                             " ORDER BY created_at DESC, kid",
                             0, NULL);
    if (!r)
        goto out_rollback;
    rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        if (survey_keyring_add(keys, cs_db_get(r, i, 0), cs_db_get(r, i, 1), err, sizeof(err)) <
            0) {
            cs_error("survey: stored link key unusable: %s", err);
            rc = -1;
        }
    PQclear(r);
    if (rc == 0 && cs_db_commit(db) < 0)
        rc = -1;
    if (rc == 0)
        goto out_wipe;
out_rollback:
    cs_db_rollback(db);
    rc = -1;
out_wipe:
    memset(raw, 0, sizeof(raw));
    memset(hex, 0, sizeof(hex));
    return rc;
}

static int s_load_keys(cs_service_t *svc, survey_state_t *st)
{
    char err[200];
    const char *spec = cs_env("CS_SURVEY_LINK_KEYS", NULL);
    st->keys = survey_keyring_new();
    if (!st->keys)
        return -1;
    if (spec) {
        if (survey_keyring_parse(st->keys, spec, err, sizeof(err)) < 0) {
            cs_error("config: %s", err);
            return -1;
        }
    } else if (s_stored_keys(cs_service_db(svc), st->keys) < 0) {
        cs_error("survey: cannot load or create the link key");
        return -1;
    }
    cs_info("survey: %zu link key(s); new links signed with '%s'", survey_keyring_count(st->keys),
            survey_keyring_signing_kid(st->keys));
    return 0;
}

/* When and to whom: the delay, the daytime window in the contacts' zone, the
   quiet period, the reminder.  The zone is checked by PostgreSQL, which does
   the arithmetic.  0 or -1. */
static int s_timing(cs_service_t *svc, survey_state_t *st)
{
    int64_t delay, start, end, quiet, remind;
    const char *tz = cs_env("CS_SURVEY_TZ", "Asia/Shanghai");
    if (cs_env_int("CS_SURVEY_DELAY_MIN", 120, 0, 7 * 24 * 60, &delay) < 0 ||
        cs_env_int("CS_SURVEY_DAY_START", 9, 0, 23, &start) < 0 ||
        cs_env_int("CS_SURVEY_DAY_END", 20, 1, 24, &end) < 0 ||
        cs_env_int("CS_SURVEY_QUIET_DAYS", 30, 0, 3650, &quiet) < 0 ||
        cs_env_int("CS_SURVEY_REMIND_AFTER_H", 72, 0, 24 * 365, &remind) < 0)
        return -1;
    if (end <= start) {
        cs_error("config: CS_SURVEY_DAY_END (%lld) must be after CS_SURVEY_DAY_START (%lld)",
                 (long long)end, (long long)start);
        return -1;
    }
    if (strlen(tz) >= sizeof(st->tz)) {
        cs_error("config: CS_SURVEY_TZ is too long");
        return -1;
    }
    PGresult *r = cs_db_exec(cs_service_db(svc), "SELECT 1 FROM pg_timezone_names WHERE name = $1",
                             1, (const char *[]){tz});
    int known = r && PQntuples(r) == 1;
    PQclear(r);
    if (!known) {
        cs_error("config: CS_SURVEY_TZ must be a time zone name such as Asia/Shanghai");
        return -1;
    }
    snprintf(st->tz, sizeof(st->tz), "%s", tz);
    st->delay_min = (int)delay;
    st->day_start = (int)start;
    st->day_end = (int)end;
    st->quiet_days = (int)quiet;
    st->remind_after_h = (int)remind;
    cs_info("survey: invitations %d min after the close, %02d:00-%02d:00 %s; quiet period %d"
            " days; reminder after %d h",
            st->delay_min, st->day_start, st->day_end, st->tz, st->quiet_days, st->remind_after_h);
    return 0;
}

static int s_init(cs_service_t *svc)
{
    int64_t days;
    s_state.svc = svc;
    atomic_init(&s_state.summary_dirty, 1);
    if (cs_env_int("CS_SURVEY_LINK_DAYS", 30, 1, 366, &days) < 0 || s_public_url(&s_state) < 0 ||
        s_timing(svc, &s_state) < 0 || s_load_keys(svc, &s_state) < 0)
        return -1;
    s_state.link_days = (int)days;
    cs_metric_declare("cs_survey_invitations_total", "counter",
                      "Survey decisions by outcome: scheduled, sent, or the skip reason.");
    cs_metric_declare("cs_survey_reminders_total", "counter", "Survey reminders sent.");
    cs_metric_declare("cs_survey_follow_ups_total", "counter",
                      "Phone follow-up tasks created, by reason (strategic, low_score).");
    cs_metric_declare("cs_survey_opt_outs_total", "counter",
                      "Contacts who opted out of surveys through their link.");
    cs_metric_declare("cs_survey_answers_total", "counter", "Survey answers recorded.");
    cs_metric_declare("cs_survey_satisfied_share", "gauge",
                      "Share of answers with satisfaction 4-5 (target 0.9), all time.");
    survey_ticket_events_register(&s_state);
    survey_answer_register(&s_state);
    survey_api_register(&s_state);
    return 0;
}

/* Send what is due; refresh the satisfied-share gauge after an answer, and
   once a minute in case another instance recorded one. */
static void s_tick(cs_service_t *svc)
{
    static int64_t next;
    survey_gauges_tick(cs_service_db(svc), s_state.link_days);
    if (survey_sender_run(&s_state, cs_service_db(svc)) > 0)
        cs_service_kick(svc);
    int64_t now = cs_mono_ms();
    if (!atomic_exchange(&s_state.summary_dirty, 0) && now < next)
        return;
    next = now + 60 * 1000;
    double share;
    int rc = survey_satisfied_share(cs_service_db(svc), &share);
    if (rc == 0)
        cs_gauge_set("cs_survey_satisfied_share", "", share);
    else if (rc < 0)
        atomic_store(&s_state.summary_dirty, 1);
}

static void s_stop(cs_service_t *svc)
{
    (void)svc;
    survey_keyring_destroy(&s_state.keys);
}

int main(int argc, char **argv)
{
    static const char *const reads[] = {"dispatch", "complaint", NULL};
    static const cs_service_def_t def = {.name = "survey",
                                         .port_base = 7500,
                                         .migrations = survey_migrations,
                                         .reads = reads,
                                         .init = s_init,
                                         .tick = s_tick,
                                         .stop = s_stop};
    return cs_service_run(&def, argc, argv);
}
