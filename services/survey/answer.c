/*
 * answer.c - the customer's side: GET /s/{token} shows the form, POST
 * /s/{token} records the answer once.
 *
 * Why this order of checks: the signature is checked before anything else
 * (a forged or unknown link gets the "invalid" page and touches no row);
 * an invitation already answered shows the recorded answer whatever is
 * posted again (a double tap, a resubmitted form), even after the link has
 * expired; only then does expiry refuse; only then is the posted form's
 * content judged.  The answer, the invitation's status and the
 * survey.answered (and survey.low_score) events commit together.
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
    INV_TYPE
};

static const char *s_invitation_sql =
    "SELECT i.invitation_id, i.ticket_number, i.language, i.status, a.satisfaction,"
    " coalesce(a.recommend, -1), a.comment, i.ticket_id, i.email, i.name, i.team, i.agent,"
    " i.service_type"
    " FROM invitations i LEFT JOIN answers a USING (invitation_id)"
    " WHERE i.invitation_id = $1::uuid AND i.status <> 'skipped'";

static const char *s_locked_sql =
    "SELECT i.invitation_id, i.ticket_number, i.language, i.status, a.satisfaction,"
    " coalesce(a.recommend, -1), a.comment, i.ticket_id, i.email, i.name, i.team, i.agent,"
    " i.service_type"
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
            s_page(resp, 200, survey_page_form(lang, number, NULL));
        }
    }
    PQclear(r);
}

/* Emit survey.answered (and survey.low_score) for the answer in hand. */
static int s_emit_answer(cs_db_t *db, const PGresult *r, const survey_answer_t *a)
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
    ev.satisfaction = (uint32_t)a->satisfaction;
    ev.recommend = a->recommend >= 0 ? (uint32_t)a->recommend : 0;
    ev.comment = (char *)a->comment;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
    env.survey_event = &ev;
    if (cs_bus_emit(db, "survey.answered", &env) < 0)
        return -1;
    if (!survey_is_low_score(a->satisfaction))
        return 0;
    Cs__Envelope low = CS__ENVELOPE__INIT;
    low.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
    low.survey_event = &ev;
    return cs_bus_emit(db, "survey.low_score", &low);
}

/* Write the answer and mark the invitation answered; 0 or -1. */
static int s_record(cs_db_t *db, const PGresult *r, const survey_answer_t *a)
{
    char sat[24], rec[24];
    const char *p[] = {cs_db_get(r, 0, INV_ID), cs_db_i64(sat, a->satisfaction),
                       a->recommend >= 0 ? cs_db_i64(rec, a->recommend) : NULL, a->comment};
    if (cs_db_cmd(db,
                  "INSERT INTO answers (invitation_id, satisfaction, recommend, comment)"
                  " VALUES ($1::uuid, $2::smallint, $3::smallint, $4)",
                  4, p) != 1)
        return -1;
    if (cs_db_cmd(db,
                  "UPDATE invitations SET status = 'answered', answered_at = now()"
                  " WHERE invitation_id = $1::uuid",
                  1, p) != 1)
        return -1;
    return s_emit_answer(db, r, a);
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
        s_page(resp, 422, survey_page_form(lang, number, a));
        goto out_done;
    }
    if (s_record(req->db, r, a) < 0)
        goto out_clear;
    PQclear(r);
    if (cs_db_commit(req->db) < 0)
        goto out_db_error;
    cs_service_kick(st->svc);
    atomic_store(&st->summary_dirty, 1);
    cs_counter_add(
        "cs_survey_answers_total",
        survey_is_low_score(a->satisfaction) ? "low_score=\"true\"" : "low_score=\"false\"", 1);
    cs_info("survey: invitation %s answered (satisfaction %d)", id, a->satisfaction);
    s_page(resp, 200, survey_page_thanks(lang, number, survey_is_low_score(a->satisfaction)));
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

void survey_answer_register(survey_state_t *st)
{
    cs_http_route(cs_service_http(st->svc), "GET", "/s/*", s_get, st);
    cs_http_route(cs_service_http(st->svc), "POST", "/s/*", s_post, st);
}
