/*
 * answer.c - the customer's side: GET /s/{token} shows the form, POST
 * /s/{token} records the answer once; /s/{token}/optout stops all further
 * surveys for the contact (GET shows a button, POST records it: a mail
 * scanner that follows links opts nobody out); GET /r/{code} is the SMS
 * short link, a redirect to the signed link.
 *
 * Why this order of checks: the signature is checked before anything else
 * (a forged or unknown link gets the "invalid" page and touches no row);
 * an invitation already answered shows the recorded answer whatever is
 * posted again (a double tap, a resubmitted form), even after the link has
 * expired; only then does expiry refuse; only then is the posted form's
 * content judged.  The answer, the invitation's status, the
 * survey.answered (and survey.low_score, survey.follow_up) events and a
 * low score's follow-up task commit together.
 * Pages are text/html; charset=utf-8; cs_http adds Cache-Control: no-store
 * to every response, so a shared phone's browser keeps no copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "summary.h"
#include "survey.h"
#include "survey_link.h"
#include "survey_page.h"

#define HTML "text/html; charset=utf-8"

/* Columns of s_invitation_sql, in order. */
enum {
    INV_ID,
    INV_NUMBER,
    INV_LANGUAGE,
    INV_STATUS,
    INV_SAT,
    INV_REC,
    INV_COMMENT,
    INV_TICKET,
    INV_EMAIL,
    INV_NAME,
    INV_TEAM,
    INV_AGENT,
    INV_TYPE,
    INV_SPEED,
    INV_PROFESSIONALISM,
    INV_PHONE,
    INV_TIER,
    INV_CUSTOMER,
    INV_TRIGGER,
    INV_COMPLAINT,
    INV_CHANNEL,
    INV_KEY,
};

static const char *s_invitation_sql =
    "SELECT i.invitation_id, i.ticket_number, i.language, i.status, a.satisfaction,"
    " coalesce(a.recommend, -1), a.comment, coalesce(i.ticket_id::text, ''), i.email, i.name,"
    " i.team, i.agent, i.service_type, coalesce(a.speed, 0), coalesce(a.professionalism, 0),"
    " i.phone, i.tier, i.customer_id, i.trigger, coalesce(i.complaint_id::text, ''), i.channel,"
    " i.contact_key"
    " FROM invitations i LEFT JOIN answers a USING (invitation_id)"
    " WHERE i.invitation_id = $1::uuid AND i.status <> 'skipped'";

static const char *s_locked_sql =
    "SELECT i.invitation_id, i.ticket_number, i.language, i.status, a.satisfaction,"
    " coalesce(a.recommend, -1), a.comment, coalesce(i.ticket_id::text, ''), i.email, i.name,"
    " i.team, i.agent, i.service_type, coalesce(a.speed, 0), coalesce(a.professionalism, 0),"
    " i.phone, i.tier, i.customer_id, i.trigger, coalesce(i.complaint_id::text, ''), i.channel,"
    " i.contact_key"
    " FROM invitations i LEFT JOIN answers a USING (invitation_id)"
    " WHERE i.invitation_id = $1::uuid AND i.status <> 'skipped' FOR UPDATE OF i";

/* Send a page (or a plain error if the page could not be built). */
static void s_page(cs_http_resp_t *resp, int status, char *html)
{
    if (!html) {
        cs_http_error(resp, 500, NULL, "out of memory");
        return;
    }
    cs_http_body(resp, status, HTML, html, strlen(html));
}

/* The language a visitor with an unknown link reads: their browser's. */
static survey_lang_t s_visitor_lang(cs_http_req_t *req)
{
    const char *al = cs_http_header(req, "Accept-Language");
    char tag[16] = "";
    if (al) {
        size_t n = strcspn(al, ",;");
        snprintf(tag, sizeof(tag), "%.*s", (int)(n < sizeof(tag) - 1 ? n : sizeof(tag) - 1), al);
    }
    return survey_lang_from_tag(tag);
}

/* The form, with its opt-out link: relative to /s/{token}, "{token}/optout"
   (the token is base64url, nothing to escape). */
static char *s_form(survey_lang_t lang, const char *number, const survey_answer_t *entered,
                    const char *token)
{
    char href[SURVEY_LINK_TOKEN_MAX + 16];
    snprintf(href, sizeof(href), "%s/optout", token);
    return survey_page_form_with_optout(lang, number, entered, href);
}

/* Check the token: 0 authentic, 1 authentic but expired, -1 refused (the
   invalid page is already in resp). */
static int s_verify(cs_http_req_t *req, cs_http_resp_t *resp, survey_state_t *st, char *id,
                    size_t idlen)
{
    char err[128];
    int rc = survey_link_verify(survey_keyring_lookup, st->keys, req->param[0], cs_now_ms() / 1000,
                                id, idlen, err, sizeof(err));
    if (rc == -1 || !cs_is_uuid(id)) {
        cs_warn("survey: answer link refused (%s) from %s", rc == -1 ? err : "not an invitation",
                req->client_ip);
        s_page(resp, 404, survey_page_invalid(s_visitor_lang(req)));
        return -1;
    }
    return rc == -2 ? 1 : 0;
}

/* The recorded answer of a row, for the "already answered" page. */
static void s_recorded(const PGresult *r, survey_answer_t *a)
{
    memset(a, 0, sizeof(*a));
    a->satisfaction = (int)cs_db_get_i64(r, 0, INV_SAT);
    a->recommend = (int)cs_db_get_i64(r, 0, INV_REC);
    a->speed = (int)cs_db_get_i64(r, 0, INV_SPEED);
    a->professionalism = (int)cs_db_get_i64(r, 0, INV_PROFESSIONALISM);
    snprintf(a->comment, sizeof(a->comment), "%s", cs_db_get(r, 0, INV_COMMENT));
}

/* GET /s/{token} */
static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    survey_state_t *st = req->ctx;
    char id[SURVEY_LINK_INVITATION_ID_MAX + 1] = "";
    int expired = s_verify(req, resp, st, id, sizeof(id));
    if (expired < 0)
        return;
    PGresult *r = cs_db_exec(req->db, s_invitation_sql, 1, (const char *[]){id});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (PQntuples(r) == 0) {
        s_page(resp, 404, survey_page_invalid(s_visitor_lang(req)));
    } else {
        survey_lang_t lang = survey_lang_from_tag(cs_db_get(r, 0, INV_LANGUAGE));
        const char *number = cs_db_get(r, 0, INV_NUMBER);
        if (strcmp(cs_db_get(r, 0, INV_STATUS), "answered") == 0) {
            survey_answer_t *a = malloc(sizeof(*a));
            if (a)
                s_recorded(r, a);
            s_page(resp, 200, a ? survey_page_already_answered(lang, number, a) : NULL);
            free(a);
        } else if (expired) {
            s_page(resp, 410, survey_page_expired(lang));
        } else {
            s_page(resp, 200, s_form(lang, number, NULL, req->param[0]));
        }
    }
    PQclear(r);
}

/* Emit survey.answered, and for a low score survey.low_score and the phone
   follow-up task (survey.follow_up). */
static int s_emit_answer(cs_db_t *db, const PGresult *r, const survey_answer_t *a, const char *low)
{
    Cs__SurveyEvent ev = CS__SURVEY_EVENT__INIT;
    ev.invitation_id = (char *)cs_db_get(r, 0, INV_ID);
    ev.ticket_id = (char *)cs_db_get(r, 0, INV_TICKET);
    ev.number = (char *)cs_db_get(r, 0, INV_NUMBER);
    ev.email = (char *)cs_db_get(r, 0, INV_EMAIL);
    ev.name = (char *)cs_db_get(r, 0, INV_NAME);
    ev.language = (char *)cs_db_get(r, 0, INV_LANGUAGE);
    ev.team = (char *)cs_db_get(r, 0, INV_TEAM);
    ev.agent = (char *)cs_db_get(r, 0, INV_AGENT);
    ev.service_type = (char *)cs_db_get(r, 0, INV_TYPE);
    ev.phone = (char *)cs_db_get(r, 0, INV_PHONE);
    ev.tier = (char *)cs_db_get(r, 0, INV_TIER);
    ev.customer_id = (char *)cs_db_get(r, 0, INV_CUSTOMER);
    ev.trigger = (char *)cs_db_get(r, 0, INV_TRIGGER);
    ev.complaint_id = (char *)cs_db_get(r, 0, INV_COMPLAINT);
    ev.channel = (char *)cs_db_get(r, 0, INV_CHANNEL);
    ev.satisfaction = (uint32_t)a->satisfaction;
    ev.recommend = a->recommend >= 0 ? (uint32_t)a->recommend : 0;
    ev.recommend_given = a->recommend >= 0;
    ev.speed = (uint32_t)a->speed;
    ev.professionalism = (uint32_t)a->professionalism;
    ev.comment = (char *)a->comment;
    if (survey_emit(db, "survey.answered", &ev) < 0)
        return -1;
    if (!low)
        return 0;
    ev.reason = (char *)low;
    if (survey_emit(db, "survey.low_score", &ev) < 0)
        return -1;
    return survey_follow_up_create(db, ev.invitation_id, "low_score", &ev);
}

/* Write the answer and mark the invitation answered; 0 or -1. */
static int s_record(cs_db_t *db, const PGresult *r, const survey_answer_t *a, const char *low)
{
    char sat[24], rec[24], speed[24], prof[24];
    const char *p[] = {cs_db_get(r, 0, INV_ID),
                       cs_db_i64(sat, a->satisfaction),
                       a->recommend >= 0 ? cs_db_i64(rec, a->recommend) : NULL,
                       a->comment,
                       a->speed ? cs_db_i64(speed, a->speed) : NULL,
                       a->professionalism ? cs_db_i64(prof, a->professionalism) : NULL,
                       low ? low : ""};
    if (cs_db_cmd(db,
                  "INSERT INTO answers (invitation_id, satisfaction, recommend, comment, speed,"
                  " professionalism, low_score)"
                  " VALUES ($1::uuid, $2::smallint, $3::smallint, $4, $5::smallint, $6::smallint,"
                  " $7)",
                  7, p) != 1)
        return -1;
    if (cs_db_cmd(db,
                  "UPDATE invitations SET status = 'answered', answered_at = now()"
                  " WHERE invitation_id = $1::uuid",
                  1, p) != 1)
        return -1;
    return s_emit_answer(db, r, a, low);
}

/* POST /s/{token} */
static void s_post(cs_http_req_t *req, cs_http_resp_t *resp)
{
    survey_state_t *st = req->ctx;
    char id[SURVEY_LINK_INVITATION_ID_MAX + 1] = "";
    char err[160];
    int expired = s_verify(req, resp, st, id, sizeof(id));
    if (expired < 0)
        return;
    survey_answer_t *a = malloc(sizeof(*a));
    if (!a) {
        cs_http_error(resp, 500, NULL, "out of memory");
        return;
    }
    int parsed = survey_answer_parse(req->body, req->body_len, a, err, sizeof(err));
    if (cs_db_begin(req->db) < 0)
        goto out_db_error;
    /* the row lock makes two submits at once record one answer */
    PGresult *r = cs_db_exec(req->db, s_locked_sql, 1, (const char *[]){id});
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        s_page(resp, 404, survey_page_invalid(s_visitor_lang(req)));
        goto out_done;
    }
    survey_lang_t lang = survey_lang_from_tag(cs_db_get(r, 0, INV_LANGUAGE));
    char number[128]; /* outlives r: the thanks page is built after the commit */
    snprintf(number, sizeof(number), "%s", cs_db_get(r, 0, INV_NUMBER));
    if (strcmp(cs_db_get(r, 0, INV_STATUS), "answered") == 0) {
        /* a new statement sees the answer committed while we waited for the lock */
        PGresult *done = cs_db_exec(req->db, s_invitation_sql, 1, (const char *[]){id});
        if (!done || PQntuples(done) != 1) {
            PQclear(done);
            goto out_clear;
        }
        s_recorded(done, a);
        s_page(resp, 200, survey_page_already_answered(lang, number, a));
        PQclear(done);
        goto out_done;
    }
    if (expired) {
        s_page(resp, 410, survey_page_expired(lang));
        goto out_done;
    }
    if (parsed < 0) {
        s_page(resp, 422, s_form(lang, number, a, req->param[0]));
        goto out_done;
    }
    const char *low = survey_low_score_reason(a->satisfaction, a->recommend, a->comment);
    if (s_record(req->db, r, a, low) < 0)
        goto out_clear;
    PQclear(r);
    if (cs_db_commit(req->db) < 0)
        goto out_db_error;
    cs_service_kick(st->svc);
    atomic_store(&st->summary_dirty, 1);
    cs_counter_add("cs_survey_answers_total", low ? "low_score=\"true\"" : "low_score=\"false\"",
                   1);
    cs_info("survey: invitation %s answered (satisfaction %d%s)", id, a->satisfaction,
            low ? ", low score" : "");
    s_page(resp, 200, survey_page_thanks(lang, number, low != NULL));
    free(a);
    return;

out_done:
    PQclear(r);
    cs_db_rollback(req->db);
    free(a);
    return;
out_clear:
    PQclear(r);
out_rollback:
    cs_db_rollback(req->db);
out_db_error:
    free(a);
    cs_http_error(resp, 503, NULL, "database error, try again");
}

/* GET and POST /s/{token}/optout.  An expired link still opts out: the
   contact's wish does not expire with the survey. */
static void s_optout(cs_http_req_t *req, cs_http_resp_t *resp)
{
    survey_state_t *st = req->ctx;
    char id[SURVEY_LINK_INVITATION_ID_MAX + 1] = "";
    if (s_verify(req, resp, st, id, sizeof(id)) < 0)
        return;
    PGresult *r = cs_db_exec(req->db,
                             "SELECT language, contact_key FROM invitations"
                             " WHERE invitation_id = $1::uuid AND status <> 'skipped'",
                             1, (const char *[]){id});
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (PQntuples(r) == 0 || !*cs_db_get(r, 0, 1)) {
        PQclear(r);
        s_page(resp, 404, survey_page_invalid(s_visitor_lang(req)));
        return;
    }
    survey_lang_t lang = survey_lang_from_tag(cs_db_get(r, 0, 0));
    if (strcmp(req->method, "GET") == 0) {
        PQclear(r);
        s_page(resp, 200, survey_page_optout_confirm(lang));
        return;
    }
    int n = cs_db_cmd(req->db,
                      "INSERT INTO opt_outs (contact_key, invitation_id) VALUES ($1, $2::uuid)"
                      " ON CONFLICT (contact_key) DO NOTHING",
                      2, (const char *[]){cs_db_get(r, 0, 1), id});
    PQclear(r);
    if (n < 0) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    if (n == 1) {
        cs_counter_add("cs_survey_opt_outs_total", "", 1);
        cs_info("survey: invitation %s: the contact opted out of surveys", id);
    }
    s_page(resp, 200, survey_page_optout_done(lang));
}

/* GET /r/{code}: the SMS short link, redirected to the signed link's path
   (relative to this host, so a long public URL still fits the header). */
static void s_short(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *code = req->param[0];
    size_t n = strlen(code);
    int ok = n >= 6 && n <= 16;
    for (size_t i = 0; ok && i < n; i++)
        ok = (code[i] >= '0' && code[i] <= '9') || (code[i] >= 'A' && code[i] <= 'Z') ||
             (code[i] >= 'a' && code[i] <= 'z');
    PGresult *r = ok ? cs_db_exec(req->db,
                                  "SELECT link FROM invitations WHERE short_code = $1"
                                  " AND link <> ''",
                                  1, (const char *[]){code})
                     : NULL;
    if (ok && !r) {
        cs_http_error(resp, 503, NULL, "database error, try again");
        return;
    }
    const char *link = r && PQntuples(r) == 1 ? cs_db_get(r, 0, 0) : NULL;
    const char *host = link ? strstr(link, "://") : NULL;
    const char *path = host ? strchr(host + 3, '/') : NULL;
    if (!path || strlen(path) >= sizeof(resp->location)) {
        if (link)
            cs_warn("survey: short link %s has no usable target", code);
        PQclear(r);
        s_page(resp, 404, survey_page_invalid(s_visitor_lang(req)));
        return;
    }
    snprintf(resp->location, sizeof(resp->location), "%s", path);
    PQclear(r);
    cs_http_text(resp, 302, "text/plain; charset=utf-8", "");
}

void survey_answer_register(survey_state_t *st)
{
    cs_http_t *http = cs_service_http(st->svc);
    cs_http_route(http, "GET", "/s/*", s_get, st);
    cs_http_route(http, "POST", "/s/*", s_post, st);
    cs_http_route(http, "GET", "/s/*/optout", s_optout, st);
    cs_http_route(http, "POST", "/s/*/optout", s_optout, st);
    cs_http_route(http, "GET", "/r/*", s_short, st);
}
