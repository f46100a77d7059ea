/*
 * sender.c - invitations go out when they are due, and once more as a
 * reminder.
 *
 * Why here and not in the bus handler: an invitation waits CS_SURVEY_DELAY_MIN
 * after the close (the customer has just seen the engineer leave; give the
 * service time to prove itself) and goes out only inside the contact's
 * daytime (CS_SURVEY_DAY_START..CS_SURVEY_DAY_END in CS_SURVEY_TZ), so the
 * main loop's tick looks for due rows.  Two rules are judged at that moment,
 * not at the close, because they can change while the invitation waits: the
 * contact opted out, or was surveyed within the quiet period (another ticket's
 * invitation went out first).  A per-contact advisory lock makes that check
 * hold with several instances.
 *
 * Each invitation is one transaction: the row moves to "sent" (or "skipped"
 * with its reason), the signed link is written, survey.requested is appended
 * to the outbox, and a strategic customer's phone follow-up task is created
 * -- all or nothing, so notify hears of exactly the invitations committed.
 *
 * The channel was chosen at the close: "email" (notify mails the signed link
 * and the opt-out link) or "sms" (a contact with only a phone: the event
 * carries the phone and a short link, /r/<code>, which redirects to the
 * signed link; sending the SMS is notify's job).
 *
 * The reminder: an invitation sent CS_SURVEY_REMIND_AFTER_H ago (72 h),
 * unanswered, unexpired, whose contact did not opt out, gets survey.reminded
 * once, also only in daytime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "invitation.h"
#include "survey.h"

#define SEND_BATCH 50 /* invitations per tick at most: the loop has other work */
#define SHORT_CODE_LEN 10

/* Columns of the due / reminder selects, in order. */
enum {
    COL_ID,
    COL_TICKET,
    COL_COMPLAINT,
    COL_TRIGGER,
    COL_NUMBER,
    COL_EMAIL,
    COL_PHONE,
    COL_NAME,
    COL_LANGUAGE,
    COL_TEAM,
    COL_AGENT,
    COL_TYPE,
    COL_TIER,
    COL_CUSTOMER,
    COL_CHANNEL,
    COL_KEY,
    COL_DAYTIME,  /* is now inside the contact's daytime? */
    COL_NEXT_DAY, /* the next daytime moment, ms */
    COL_LINK,
    COL_SHORT,
    COL_EXPIRES,
};

#define ROW_COLUMNS                                                                                \
    "i.invitation_id, coalesce(i.ticket_id::text, ''), coalesce(i.complaint_id::text, ''),"        \
    " i.trigger, i.ticket_number, i.email, i.phone, i.name, i.language, i.team, i.agent,"          \
    " i.service_type, i.tier, i.customer_id, i.channel, i.contact_key,"                            \
    " daytime_at(now(), $1, $2::int, $3::int) = now(),"                                            \
    " (extract(epoch FROM daytime_at(now(), $1, $2::int, $3::int)) * 1000)::bigint,"               \
    " i.link, coalesce(i.short_code, ''),"                                                         \
    " coalesce((extract(epoch FROM i.expires_at) * 1000)::bigint, 0)"

int survey_emit(cs_db_t *db, const char *type, Cs__SurveyEvent *ev)
{
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
    env.survey_event = ev;
    return cs_bus_emit(db, type, &env);
}

int survey_follow_up_create(cs_db_t *db, const char *invitation_id, const char *reason,
                            Cs__SurveyEvent *ev)
{
    char id[CS_UUID_LEN];
    cs_uuid(id);
    PGresult *r = cs_db_exec(db,
                             "INSERT INTO follow_ups (follow_up_id, invitation_id, reason)"
                             " VALUES ($1::uuid, $2::uuid, $3)"
                             " ON CONFLICT (invitation_id, reason) DO NOTHING"
                             " RETURNING follow_up_id",
                             3, (const char *[]){id, invitation_id, reason});
    if (!r)
        return -1;
    int created = PQntuples(r) == 1;
    PQclear(r);
    if (!created)
        return 0;
    ev->follow_up_id = id;
    ev->reason = (char *)reason;
    int rc = survey_emit(db, "survey.follow_up", ev);
    ev->follow_up_id = (char *)"";
    if (rc == 0) {
        char labels[64];
        snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
        cs_counter_add("cs_survey_follow_ups_total", labels, 1);
    }
    return rc;
}

/* The invitation's facts from a row of ROW_COLUMNS (strings point into r). */
static void s_event_from_row(const PGresult *r, Cs__SurveyEvent *ev)
{
    ev->invitation_id = (char *)cs_db_get(r, 0, COL_ID);
    ev->ticket_id = (char *)cs_db_get(r, 0, COL_TICKET);
    ev->complaint_id = (char *)cs_db_get(r, 0, COL_COMPLAINT);
    ev->trigger = (char *)cs_db_get(r, 0, COL_TRIGGER);
    ev->number = (char *)cs_db_get(r, 0, COL_NUMBER);
    ev->email = (char *)cs_db_get(r, 0, COL_EMAIL);
    ev->phone = (char *)cs_db_get(r, 0, COL_PHONE);
    ev->name = (char *)cs_db_get(r, 0, COL_NAME);
    ev->language = (char *)cs_db_get(r, 0, COL_LANGUAGE);
    ev->team = (char *)cs_db_get(r, 0, COL_TEAM);
    ev->agent = (char *)cs_db_get(r, 0, COL_AGENT);
    ev->service_type = (char *)cs_db_get(r, 0, COL_TYPE);
    ev->tier = (char *)cs_db_get(r, 0, COL_TIER);
    ev->customer_id = (char *)cs_db_get(r, 0, COL_CUSTOMER);
    ev->channel = (char *)cs_db_get(r, 0, COL_CHANNEL);
}

/* A random code of SHORT_CODE_LEN base62 characters (~59 bits). 0 or -1. */
static int s_short_code(char *out)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char raw[32];
    size_t n = 0;
    while (n < SHORT_CODE_LEN) {
        if (cs_random(raw, sizeof(raw)) < 0)
            return -1;
        for (size_t i = 0; i < sizeof(raw) && n < SHORT_CODE_LEN; i++)
            if (raw[i] < 248) /* 4 × 62: no bias */
                out[n++] = alphabet[raw[i] % 62];
    }
    out[n] = '\0';
    return 0;
}

static void s_params(const survey_state_t *st, char *dstart, char *dend, const char **p)
{
    snprintf(dstart, 8, "%d", st->day_start);
    snprintf(dend, 8, "%d", st->day_end);
    p[0] = st->tz;
    p[1] = dstart;
    p[2] = dend;
}

/* Skip a due invitation with a reason judged now. 0 or -1. */
static int s_skip(cs_db_t *db, const char *id, const char *number, survey_decision_t d)
{
    if (cs_db_cmd(db,
                  "UPDATE invitations SET status = 'skipped', skip_reason = $2, send_at = NULL"
                  " WHERE invitation_id = $1::uuid",
                  2, (const char *[]){id, survey_decision_reason(d)}) != 1)
        return -1;
    char labels[96];
    snprintf(labels, sizeof(labels), "outcome=\"%s\"", survey_decision_reason(d));
    cs_counter_add("cs_survey_invitations_total", labels, 1);
    cs_info("survey: %s: %s", number, survey_decision_reason(d));
    return 0;
}

/* Which rule of the moment keeps this contact from a survey? INVITE if none. */
static int s_rules_of_the_moment(cs_db_t *db, const survey_state_t *st, const char *id,
                                 const char *key, survey_decision_t *d)
{
    char quiet[16];
    snprintf(quiet, sizeof(quiet), "%d", st->quiet_days);
    PGresult *r = cs_db_exec(db,
                             "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE contact_key = $1),"
                             " EXISTS (SELECT 1 FROM invitations WHERE contact_key = $1"
                             " AND invitation_id <> $2::uuid AND sent_at IS NOT NULL"
                             " AND sent_at > now() - make_interval(days => $3::int))",
                             3, (const char *[]){key, id, quiet});
    if (!r)
        return -1;
    *d = strcmp(cs_db_get(r, 0, 0), "t") == 0   ? SURVEY_SKIP_OPTED_OUT
         : strcmp(cs_db_get(r, 0, 1), "t") == 0 ? SURVEY_SKIP_RECENTLY
                                                : SURVEY_INVITE;
    PQclear(r);
    return 0;
}

/* Sign the link, write the row as sent, emit survey.requested (and a
   strategic customer's follow-up). 0 or -1. */
static int s_send(cs_db_t *db, survey_state_t *st, const PGresult *r)
{
    const char *id = cs_db_get(r, 0, COL_ID);
    int sms = strcmp(cs_db_get(r, 0, COL_CHANNEL), "sms") == 0;
    int64_t expires_s = survey_invitation_expiry_s(cs_now_ms(), st->link_days);
    char code[SHORT_CODE_LEN + 1] = "", expires[24];
    char *token = survey_keyring_sign(st->keys, id, expires_s);
    char *link = NULL, *optout = NULL, *short_link = NULL;
    int rc = -1;
    if (!token || asprintf(&link, "%s/s/%s", st->public_url, token) < 0) {
        link = NULL;
        goto out_free;
    }
    if (asprintf(&optout, "%s/optout", link) < 0) {
        optout = NULL;
        goto out_free;
    }
    if (sms &&
        (s_short_code(code) < 0 || asprintf(&short_link, "%s/r/%s", st->public_url, code) < 0)) {
        short_link = NULL;
        goto out_free;
    }
    const char *p[] = {id, link, survey_keyring_signing_kid(st->keys),
                       cs_db_i64(expires, expires_s * 1000), sms ? code : NULL};
    if (cs_db_cmd(db,
                  "UPDATE invitations SET status = 'sent', sent_at = now(),"
                  " link = $2, kid = $3, expires_at = to_timestamp($4::bigint / 1000.0),"
                  " short_code = $5 WHERE invitation_id = $1::uuid",
                  5, p) != 1)
        goto out_free;
    Cs__SurveyEvent ev = CS__SURVEY_EVENT__INIT;
    s_event_from_row(r, &ev);
    ev.link = link;
    ev.opt_out_link = optout;
    ev.short_link = short_link ? short_link : (char *)"";
    ev.expires_at_ms = expires_s * 1000;
    if (survey_emit(db, "survey.requested", &ev) < 0)
        goto out_free;
    if (strcmp(ev.tier, SURVEY_STRATEGIC_TIER) == 0 &&
        survey_follow_up_create(db, id, "strategic", &ev) < 0)
        goto out_free;
    cs_counter_add("cs_survey_invitations_total", "outcome=\"sent\"", 1);
    cs_info("survey: %s: invitation sent by %s", ev.number, ev.channel);
    rc = 0;
out_free:
    if (rc < 0)
        cs_error("survey: cannot send the invitation %s", id);
    free(token);
    free(link);
    free(optout);
    free(short_link);
    return rc;
}

/* One due invitation in its own transaction: 1 handled, 0 none due, -1. */
static int s_send_one(survey_state_t *st, cs_db_t *db)
{
    char dstart[8], dend[8];
    const char *p[3];
    s_params(st, dstart, dend, p);
    if (cs_db_begin(db) < 0)
        return -1;
    PGresult *r = cs_db_exec(db,
                             "SELECT " ROW_COLUMNS " FROM invitations i"
                             " WHERE i.status = 'scheduled' AND i.send_at <= now()"
                             " ORDER BY i.send_at, i.invitation_id LIMIT 1"
                             " FOR UPDATE SKIP LOCKED",
                             3, p);
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_db_rollback(db);
        return 0;
    }
    const char *id = cs_db_get(r, 0, COL_ID), *number = cs_db_get(r, 0, COL_NUMBER);
    int rc = -1;
    if (strcmp(cs_db_get(r, 0, COL_DAYTIME), "t") != 0) {
        /* due, but night fell while it waited (the service was down): the
           next morning */
        char next[24];
        const char *q[] = {id, cs_db_i64(next, cs_db_get_i64(r, 0, COL_NEXT_DAY))};
        rc = cs_db_cmd(db,
                       "UPDATE invitations SET send_at = to_timestamp($2::bigint / 1000.0)"
                       " WHERE invitation_id = $1::uuid",
                       2, q) == 1
                 ? 0
                 : -1;
    } else {
        PGresult *lock =
            cs_db_exec(db, "SELECT pg_advisory_xact_lock(hashtext('survey-contact:' || $1))", 1,
                       (const char *[]){cs_db_get(r, 0, COL_KEY)});
        survey_decision_t d = SURVEY_INVITE;
        if (lock && s_rules_of_the_moment(db, st, id, cs_db_get(r, 0, COL_KEY), &d) == 0)
            rc = d == SURVEY_INVITE ? s_send(db, st, r) : s_skip(db, id, number, d);
        PQclear(lock);
    }
    PQclear(r);
    if (rc < 0 || cs_db_commit(db) < 0)
        goto out_rollback;
    return 1;
out_rollback:
    if (cs_db_in_tx(db))
        cs_db_rollback(db);
    return -1;
}

/* One due reminder in its own transaction: 1 handled, 0 none due, -1. */
static int s_remind_one(survey_state_t *st, cs_db_t *db)
{
    char dstart[8], dend[8], hours[16];
    const char *p[4];
    s_params(st, dstart, dend, p);
    snprintf(hours, sizeof(hours), "%d", st->remind_after_h);
    p[3] = hours;
    if (cs_db_begin(db) < 0)
        return -1;
    PGresult *r = cs_db_exec(
        db,
        "SELECT " ROW_COLUMNS " FROM invitations i"
        " WHERE i.status = 'sent' AND i.reminded_at IS NULL"
        " AND i.sent_at <= now() - make_interval(hours => $4::int) AND i.expires_at > now()"
        " AND daytime_at(now(), $1, $2::int, $3::int) = now()"
        " AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.contact_key = i.contact_key)"
        " ORDER BY i.sent_at, i.invitation_id LIMIT 1 FOR UPDATE SKIP LOCKED",
        4, p);
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        PQclear(r);
        cs_db_rollback(db);
        return 0;
    }
    Cs__SurveyEvent ev = CS__SURVEY_EVENT__INIT;
    s_event_from_row(r, &ev);
    char *optout = NULL, *short_link = NULL;
    const char *code = cs_db_get(r, 0, COL_SHORT);
    int rc = -1;
    if (asprintf(&optout, "%s/optout", cs_db_get(r, 0, COL_LINK)) < 0)
        optout = NULL;
    else if (*code && asprintf(&short_link, "%s/r/%s", st->public_url, code) < 0)
        short_link = NULL;
    else if (cs_db_cmd(db,
                       "UPDATE invitations SET reminded_at = now() WHERE invitation_id = $1::uuid",
                       1, (const char *[]){ev.invitation_id}) == 1) {
        ev.link = (char *)cs_db_get(r, 0, COL_LINK);
        ev.opt_out_link = optout;
        ev.short_link = short_link ? short_link : (char *)"";
        ev.expires_at_ms = cs_db_get_i64(r, 0, COL_EXPIRES);
        rc = survey_emit(db, "survey.reminded", &ev);
    }
    if (rc == 0) {
        cs_counter_add("cs_survey_reminders_total", "", 1);
        cs_info("survey: %s: reminder sent by %s", ev.number, ev.channel);
    }
    free(optout);
    free(short_link);
    PQclear(r);
    if (rc < 0 || cs_db_commit(db) < 0)
        goto out_rollback;
    return 1;
out_rollback:
    if (cs_db_in_tx(db))
        cs_db_rollback(db);
    return -1;
}

int survey_sender_run(survey_state_t *st, cs_db_t *db)
{
    int done = 0, rc = 0;
    for (int i = 0; i < SEND_BATCH && (rc = s_send_one(st, db)) == 1; i++)
        done++;
    for (int i = 0;
         st->remind_after_h > 0 && rc >= 0 && i < SEND_BATCH && (rc = s_remind_one(st, db)) == 1;
         i++)
        done++;
    return done;
}
