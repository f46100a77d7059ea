/*
 * policy_api — the policies over HTTP, and the recomputes that follow a
 * change of policy or of calendar (see api.h, policy.h, recompute.h).
 *
 *   GET    /v1/sla/policies[?priority=&service_type=&tier=&channel=]
 *                                      stored and built-in policies; with
 *                                      facts, also the one that applies
 *   GET    /v1/sla/policies/{id}       one policy
 *   PUT    /v1/sla/policies/{id}[?apply=new|running]
 *                                      create or replace; apply=running also
 *                                      recomputes the open clocks it set
 *   DELETE /v1/sla/policies/{id}       remove a stored policy (clocks keep
 *                                      the targets they were armed with)
 *
 * Every field of a PUT is checked, and the first wrong one is named in a
 * 400: unknown keys (a misspelt target would otherwise be silently left at
 * its default), match values, a calendar that does not resolve, targets
 * out of range. Writing the policy and recomputing the clocks happen in
 * one transaction: either both are seen or neither.
 */
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "clock_store.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "policy_store.h"
#include "recompute.h"

/* The targets' names in a policy's JSON, per clock target, and the
   next-update interval beside them. */
#define S_NEXT_UPDATE "next_update"

static json_t *s_terms_json(const sla_terms_t *t)
{
    json_t *o = json_object(), *match = json_object(), *targets = json_object();
    json_object_set_new(o, "id", json_string(t->id));
    json_object_set_new(o, "builtin", json_boolean(t->builtin));
    for (int f = 0; f < SLA_FACT_COUNT; f++)
        json_object_set_new(match, sla_fact_name((sla_fact_t)f), json_string(t->match[f]));
    json_object_set_new(o, "match", match);
    json_object_set_new(o, "specificity", json_integer(sla_policy_specificity(t)));
    json_object_set_new(o, "calendar", json_string(t->calendar));
    json_object_set_new(o, "unit", json_string(sla_unit_name(t->unit)));
    for (int i = 0; i < SLA_TARGET_COUNT; i++)
        json_object_set_new(targets, sla_target_name((sla_target_t)i), json_integer(t->minutes[i]));
    json_object_set_new(o, "targets", targets);
    json_object_set_new(o, "complex", json_boolean(t->complex));
    json_object_set_new(o, "complex_working_days", json_integer(t->complex_working_days));
    json_object_set_new(o, "description", json_string(t->description));
    return o;
}

/* Refresh both caches of the HTTP thread; a 503 in resp and -1 if the
   database does not answer. */
static int s_refresh(sla_api_t *api, cs_http_req_t *req, cs_http_resp_t *resp)
{
    if (sla_calendars_refresh(api->calendars, req->db) < 0 ||
        sla_policies_refresh(api->policies, req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return -1;
    }
    return 0;
}

/* ---- GET /v1/sla/policies -------------------------------------------------------- */

static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    if (s_refresh(api, req, resp) < 0)
        return;
    const char *facts[SLA_FACT_COUNT];
    int asked = 0;
    for (int f = 0; f < SLA_FACT_COUNT; f++) {
        facts[f] = cs_http_query(req, sla_fact_name((sla_fact_t)f));
        if (!facts[f])
            continue;
        asked = 1;
        if (!*facts[f] || strcmp(facts[f], "*") == 0 ||
            !sla_policy_match_ok((sla_fact_t)f, facts[f])) {
            cs_http_error(resp, 400, sla_fact_name((sla_fact_t)f),
                          f == SLA_FACT_PRIORITY ? "priority is P1, P2, P3 or P4"
                                                 : "a fact is 1 to 63 of a-z, 0-9, '_', '-'");
            return;
        }
    }
    size_t n;
    const sla_terms_t *stored = sla_policies_stored(api->policies, &n);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, s_terms_json(&stored[i]));
    /* The built-ins a stored policy of the same id does not override. */
    for (int p = 1; p <= 4; p++) {
        char prio[3] = {'P', (char)('0' + p), 0};
        sla_terms_t b;
        sla_policy_builtin(&b, prio, api->default_calendar);
        int overridden = 0;
        for (size_t i = 0; i < n; i++)
            overridden |= strcmp(stored[i].id, b.id) == 0;
        if (!overridden)
            json_array_append_new(list, s_terms_json(&b));
    }
    json_t *out = json_object();
    json_object_set_new(out, "policies", list);
    if (asked) {
        sla_terms_t chosen;
        sla_policies_choose(api->policies, facts, &chosen);
        json_object_set_new(out, "applies", s_terms_json(&chosen));
    }
    cs_http_json(resp, 200, out);
}

/* The {id} segment: a policy id, or a 400 in resp and NULL. */
static const char *s_id(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *id = req->nparams > 0 ? req->param[0] : NULL;
    if (!id || !sla_policy_id_ok(id)) {
        cs_http_error(resp, 400, "id", "a policy id is 1 to %d letters, digits, '-', '_' or '.'",
                      SLA_POLICY_ID_MAX);
        return NULL;
    }
    return id;
}

/* ---- GET /v1/sla/policies/{id} --------------------------------------------------- */

static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    const char *id = s_id(req, resp);
    if (!id || s_refresh(api, req, resp) < 0)
        return;
    sla_terms_t t;
    if (!sla_policies_get(api->policies, id, &t)) {
        cs_http_error(resp, 404, "id", "no policy named %s", id);
        return;
    }
    cs_http_json(resp, 200, s_terms_json(&t));
}

/* ---- PUT /v1/sla/policies/{id} --------------------------------------------------- */

/* minutes from v (an integer in lo..hi), or a 400 naming field. */
static int s_minutes(cs_http_resp_t *resp, const char *field, const json_t *v, int64_t lo,
                     int64_t hi, int64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        cs_http_error(resp, 400, field, "%s is whole minutes, %lld to %lld", field, (long long)lo,
                      (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int s_only_keys(cs_http_resp_t *resp, const json_t *o, const char *where,
                       const char *const *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        int known = 0;
        for (const char *const *k = keys; *k; k++)
            known |= strcmp(key, *k) == 0;
        if (!known) {
            char field[128];
            snprintf(field, sizeof(field), "%s%s%.60s", where, *where ? "." : "", key);
            cs_http_error(resp, 400, field, "unknown field %s", field);
            return -1;
        }
    }
    return 0;
}

/* The policy of a PUT body, every field checked; -1 with a 400 in resp. */
static int s_terms_from(sla_api_t *api, cs_http_resp_t *resp, const char *id, const json_t *body,
                        sla_terms_t *t)
{
    static const char *const top[] = {
        "id",          "match", "calendar", "unit", "targets", "complex", "complex_working_days",
        "description", NULL};
    static const char *const target_keys[] = {"first_response",       "resolution",
                                              "complaint_acceptance", "complaint_handling",
                                              S_NEXT_UPDATE,          NULL};
    static const char *const fact_keys[] = {"priority", "service_type", "tier", "channel", NULL};
    if (!json_is_object(body)) {
        cs_http_error(resp, 400, NULL, "the body is a JSON object");
        return -1;
    }
    if (s_only_keys(resp, body, "", top) < 0)
        return -1;
    /* Start from the built-in defaults: what is left out keeps them. */
    sla_policy_builtin(t, "P3", api->default_calendar);
    t->builtin = 0;
    t->description[0] = 0;
    snprintf(t->id, sizeof(t->id), "%s", id);
    const json_t *v = json_object_get(body, "id");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), id) != 0)) {
        cs_http_error(resp, 400, "id", "the body's id, if given, is the id of the URL");
        return -1;
    }
    const json_t *match = json_object_get(body, "match");
    if (match && !json_is_object(match)) {
        cs_http_error(resp, 400, "match",
                      "match is an object of priority, service_type, tier"
                      " and channel, each a value or \"*\"");
        return -1;
    }
    if (match && s_only_keys(resp, match, "match", fact_keys) < 0)
        return -1;
    for (int f = 0; f < SLA_FACT_COUNT; f++) {
        const char *name = sla_fact_name((sla_fact_t)f);
        const json_t *m = match ? json_object_get(match, name) : NULL;
        const char *val = m ? json_string_value(m) : "*";
        char field[32];
        snprintf(field, sizeof(field), "match.%s", name);
        if (!val || !sla_policy_match_ok((sla_fact_t)f, val)) {
            cs_http_error(resp, 400, field,
                          f == SLA_FACT_PRIORITY ? "match.priority is \"*\", P1, P2, P3 or P4"
                                                 : "%s is \"*\" or 1 to 63 of a-z, 0-9, '_', '-'",
                          field);
            return -1;
        }
        snprintf(t->match[f], sizeof(t->match[f]), "%s", val);
    }
    v = json_object_get(body, "calendar");
    if (v) {
        if (!json_is_string(v) || !sla_calendar_name_ok(json_string_value(v))) {
            cs_http_error(resp, 400, "calendar", "calendar is the name of a calendar");
            return -1;
        }
        snprintf(t->calendar, sizeof(t->calendar), "%s", json_string_value(v));
    }
    v = json_object_get(body, "unit");
    if (v) {
        int unit = sla_unit_parse(json_string_value(v));
        if (unit < 0) {
            cs_http_error(resp, 400, "unit",
                          "unit is business (working time on the calendar)"
                          " or real (every minute)");
            return -1;
        }
        t->unit = (sla_unit_t)unit;
    }
    const json_t *targets = json_object_get(body, "targets");
    if (!json_is_object(targets)) {
        cs_http_error(resp, 400, "targets",
                      "targets is an object with at least first_response and resolution"
                      " (minutes)");
        return -1;
    }
    if (s_only_keys(resp, targets, "targets", target_keys) < 0)
        return -1;
    for (int i = 0; i < SLA_TARGET_COUNT; i++) {
        const char *name = sla_target_name((sla_target_t)i);
        const json_t *m = json_object_get(targets, name);
        char field[48];
        snprintf(field, sizeof(field), "targets.%s", name);
        if (!m && i >= SLA_TICKET_TARGETS)
            continue; /* the complaint and next-update targets keep their defaults */
        /* next_update may be 0: no next-update commitment */
        if (s_minutes(resp, field, m, i == SLA_TARGET_NEXT_UPDATE ? 0 : 1, SLA_POLICY_MINUTES_MAX,
                      &t->minutes[i]) < 0)
            return -1;
    }
    v = json_object_get(body, "complex");
    if (v && !json_is_boolean(v)) {
        cs_http_error(resp, 400, "complex", "complex is true or false");
        return -1;
    }
    t->complex = v ? json_is_true(v) : 0;
    v = json_object_get(body, "complex_working_days");
    if (v) {
        int64_t days;
        if (!json_is_integer(v) || (days = json_integer_value(v)) < 1 ||
            days > SLA_POLICY_DAYS_MAX) {
            cs_http_error(resp, 400, "complex_working_days",
                          "complex_working_days is a whole number of days, 1 to %d",
                          SLA_POLICY_DAYS_MAX);
            return -1;
        }
        t->complex_working_days = (int)days;
    }
    v = json_object_get(body, "description");
    if (v) {
        if (!json_is_string(v) ||
            !sla_store_text_ok(json_string_value(v), SLA_POLICY_DESCRIPTION_MAX)) {
            cs_http_error(resp, 400, "description",
                          "description is UTF-8 text of at most %d"
                          " bytes",
                          SLA_POLICY_DESCRIPTION_MAX);
            return -1;
        }
        snprintf(t->description, sizeof(t->description), "%s", json_string_value(v));
    }
    return 0;
}

/* The counting rules of a clock of target under t on the HTTP thread:
   1, or 0 when t's calendar does not resolve (err), -1 database error. */
static int s_counting(sla_api_t *api, cs_db_t *db, const sla_terms_t *t, sla_target_t target,
                      sla_policy_t *counting, char *err, size_t err_size)
{
    *counting = api->counting;
    return sla_calendars_get(api->calendars, db, sla_policy_calendar_for(t, target),
                             &counting->calendar, err, err_size);
}

int sla_api_recompute_policy(sla_api_t *api, cs_db_t *db, const sla_terms_t *t, int64_t now_ms)
{
    char sql[1200];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM clocks WHERE policy_id = $1 AND state IN ('running', 'paused')"
             " ORDER BY id FOR UPDATE",
             SLA_STORE_COLUMNS);
    PGresult *r = cs_db_exec(db, sql, 1, (const char *[]){t->id});
    if (!r)
        return -1;
    char note[128];
    snprintf(note, sizeof(note), "policy %s changed", t->id);
    int changed = 0;
    for (int i = 0; i < PQntuples(r) && changed >= 0; i++) {
        sla_clock_row_t row;
        sla_policy_t counting;
        char err[300];
        if (sla_store_row_from(r, i, &row) < 0)
            continue;
        int rc = s_counting(api, db, t, row.clock.target, &counting, err, sizeof(err));
        if (rc <= 0) {
            changed = rc < 0 ? -1 : changed;
            continue;
        }
        int64_t target_ms =
            sla_policy_target_ms(t, row.clock.target, counting.calendar, counting.minute_ms);
        if (target_ms < 1)
            continue;
        sla_terms_change_t change = {&counting, target_ms, NULL, t->id, note};
        rc = sla_recompute(db, &row, &change, now_ms, NULL, NULL);
        changed = rc < 0 ? -1 : changed + rc;
    }
    PQclear(r);
    return changed;
}

int sla_api_recompute_calendar(sla_api_t *api, cs_db_t *db, const sla_calendar_t *calendar,
                               int64_t now_ms)
{
    const char *name = sla_calendar_name(calendar);
    char sql[1200];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM clocks WHERE policy = $1 AND state IN ('running', 'paused')"
             " ORDER BY id FOR UPDATE",
             SLA_STORE_COLUMNS);
    PGresult *r = cs_db_exec(db, sql, 1, (const char *[]){name});
    if (!r)
        return -1;
    char note[128];
    snprintf(note, sizeof(note), "calendar %s corrected", name);
    sla_policy_t counting = api->counting;
    counting.calendar = calendar;
    int changed = 0;
    for (int i = 0; i < PQntuples(r) && changed >= 0; i++) {
        sla_clock_row_t row;
        if (sla_store_row_from(r, i, &row) < 0)
            continue;
        /* A complex ticket's working days are as long as the calendar's
           working day: a change of hours changes its target too. */
        int64_t target_ms = row.clock.target_ms;
        sla_terms_t t;
        if (row.clock.target == SLA_TARGET_RESOLUTION &&
            sla_policies_get(api->policies, row.policy_id, &t) && t.complex &&
            strcmp(t.calendar, name) == 0) {
            int64_t days_ms =
                sla_policy_target_ms(&t, SLA_TARGET_RESOLUTION, calendar, counting.minute_ms);
            if (days_ms > 0)
                target_ms = days_ms;
        }
        sla_terms_change_t change = {&counting, target_ms, NULL, NULL, note};
        int rc = sla_recompute(db, &row, &change, now_ms, NULL, NULL);
        changed = rc < 0 ? -1 : changed + rc;
    }
    PQclear(r);
    return changed;
}

static void s_put(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    const char *id = s_id(req, resp);
    if (!id)
        return;
    const char *apply = cs_http_query(req, "apply");
    if (apply && strcmp(apply, "new") != 0 && strcmp(apply, "running") != 0) {
        cs_http_error(resp, 400, "apply",
                      "apply is new (the change applies to clocks armed from now on) or"
                      " running (open clocks it set are recomputed too)");
        return;
    }
    int running = apply && strcmp(apply, "running") == 0;
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    sla_terms_t t;
    char err[300] = "", other[SLA_POLICY_ID_MAX + 1] = "";
    if (s_terms_from(api, resp, id, body, &t) < 0 || s_refresh(api, req, resp) < 0)
        goto out;
    /* The calendar must resolve now, and give a complex policy its days. */
    const sla_calendar_t *calendar = NULL;
    int rc = sla_calendars_get(api->calendars, req->db, t.calendar, &calendar, err, sizeof(err));
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        goto out;
    }
    if (rc == 0) {
        cs_http_error(resp, 400, "calendar", "%s", err);
        goto out;
    }
    if (t.complex && sla_calendar_standard_day_ms(calendar) < 60000) {
        cs_http_error(resp, 400, "calendar",
                      "calendar %s has no working hours to count working days on", t.calendar);
        goto out;
    }
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        goto out;
    }
    rc = sla_policies_write(req->db, &t, other, sizeof(other));
    int recomputed = 0;
    if (rc >= 0 && running)
        recomputed = sla_api_recompute_policy(api, req->db, &t, cs_now_ms());
    if (rc < 0 || recomputed < 0 || cs_db_commit(req->db) < 0) {
        if (cs_db_in_tx(req->db))
            cs_db_rollback(req->db);
        if (rc == -3)
            cs_http_error(resp, 409, "match", "policy %s already has this match", other);
        else if (rc == -2)
            cs_http_error(resp, 409, "id", "the table already holds %d policies", SLA_POLICIES_MAX);
        else
            cs_http_error(resp, 503, NULL, "database unavailable");
        goto out;
    }
    sla_policies_forget(api->policies);
    cs_info("sla: policy %s %s through the API%s (%d open clock(s) recomputed)", id,
            rc ? "created" : "replaced", running ? ", applied to running clocks" : "", recomputed);
    json_t *o = s_terms_json(&t);
    json_object_set_new(o, "applied_to", json_string(running ? "running" : "new"));
    json_object_set_new(o, "recomputed", json_integer(recomputed));
    cs_http_json(resp, rc ? 201 : 200, o);
out:
    json_decref(body);
}

/* ---- DELETE /v1/sla/policies/{id} ------------------------------------------------- */

static void s_delete(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    const char *id = s_id(req, resp);
    if (!id)
        return;
    int rc = sla_policies_delete(req->db, id);
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    if (rc == 0) {
        cs_http_error(resp, 404, "id", "no stored policy named %s", id);
        return;
    }
    sla_policies_forget(api->policies);
    cs_info("sla: policy %s deleted through the API", id);
    json_t *o = json_object();
    json_object_set_new(o, "deleted", json_string(id));
    cs_http_json(resp, 200, o);
}

void sla_policy_api_register(cs_http_t *http, sla_api_t *api)
{
    cs_http_route(http, "GET", "/v1/sla/policies", s_list, api);
    cs_http_route(http, "GET", "/v1/sla/policies/*", s_get, api);
    cs_http_route(http, "PUT", "/v1/sla/policies/*", s_put, api);
    cs_http_route(http, "DELETE", "/v1/sla/policies/*", s_delete, api);
}
