/*
 * calendar_api — the calendars and the preview over HTTP (see api.h).
 *
 * Every byte is hostile: names are checked before they reach a statement,
 * definitions are parsed by calendar.c (which bounds them and names the
 * offending line) before they are stored, an iCalendar file is turned into
 * definition lines by ical.c and the result parsed again before it is
 * stored, and a preview's timeline is bounded and checked by preview.c.
 * A definition that does not parse never reaches the table, so the monitor
 * never meets one.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "api.h"
#include "clock_store.h"
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "ical.h"
#include "preview.h"
#include "zone.h"

static json_t *s_instant(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    cs_iso8601(ms, buf, sizeof(buf));
    return json_string(buf);
}

/* The {name} segment: a calendar name, or a 422 in resp and NULL. */
static const char *s_name(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *name = req->nparams > 0 ? req->param[0] : NULL;
    if (!name || !sla_calendar_name_ok(name)) {
        cs_http_error(resp, 422, "name",
                      "a calendar name is 1 to %d letters, digits, '-', '_' or '.'",
                      SLA_CALENDAR_NAME_MAX - 1);
        return NULL;
    }
    return name;
}

/* Parse a definition for name; on failure a 422 naming the line. */
static sla_calendar_t *s_parse(cs_http_resp_t *resp, const char *field, const char *name,
                               const char *text, size_t len)
{
    char err[300] = "";
    sla_calendar_t *c = sla_calendar_parse(name, text, len, err, sizeof(err));
    if (!c) {
        cs_http_error(resp, 422, field, "%s", err);
        return NULL;
    }
    if (!sla_store_text_ok(text, SLA_CALENDAR_TEXT_MAX)) {
        cs_http_error(resp, 422, field, "a definition is UTF-8 text");
        sla_calendar_destroy(&c);
    }
    return c;
}

static json_t *s_calendar_json(const char *name, const char *definition, int64_t updated_at_ms,
                               const sla_calendar_t *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "kind", json_string(c && sla_calendar_zone(c) ? "business" : "7x24"));
    json_object_set_new(
        o, "zone", c && sla_calendar_zone(c) ? json_string(sla_calendar_zone(c)) : json_null());
    json_object_set_new(o, "stored", json_boolean(updated_at_ms != 0));
    json_object_set_new(o, "updated_at", s_instant(updated_at_ms));
    json_object_set_new(o, "definition", json_string(definition));
    return o;
}

/* ---- GET /v1/sla/calendars -------------------------------------------------------- */

static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    PGresult *r = sla_calendars_list(req->db);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(cs_db_get(r, i, 0)));
        json_object_set_new(o, "updated_at", s_instant(cs_db_get_i64(r, i, 1)));
        json_object_set_new(o, "bytes", json_integer(cs_db_get_i64(r, i, 2)));
        json_array_append_new(list, o);
    }
    PQclear(r);
    json_t *out = json_object();
    json_object_set_new(out, "calendars", list);
    cs_http_json(resp, 200, out);
}

/* ---- GET /v1/sla/calendars/{name} --------------------------------------------------- */

static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    const char *name = s_name(req, resp);
    if (!name)
        return;
    char *definition = NULL;
    int64_t at = 0;
    int rc = sla_calendars_read(req->db, name, 0, &definition, &at);
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    const char *text = rc ? definition : sla_calendar_builtin_text(name);
    if (!text) {
        cs_http_error(resp, 404, "name", "no calendar named %s", name);
        return;
    }
    char err[300];
    sla_calendar_t *c = sla_calendar_parse(name, text, strlen(text), err, sizeof(err));
    json_t *o = s_calendar_json(name, text, at, c);
    if (!c)
        json_object_set_new(o, "error", json_string(err));
    sla_calendar_destroy(&c);
    free(definition);
    cs_http_json(resp, 200, o);
}

/* ---- PUT /v1/sla/calendars/{name} --------------------------------------------------- */

/* The definition of a PUT: the body itself, or {"definition": "..."} when
   the body is JSON. NULL with resp filled. */
static const char *s_definition_of(cs_http_req_t *req, cs_http_resp_t *resp, json_t **doc,
                                   size_t *len)
{
    const char *ctype = cs_http_header(req, "Content-Type");
    *doc = NULL;
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0) {
        *len = req->body_len;
        return req->body;
    }
    *doc = cs_http_json_body(req, resp);
    if (!*doc)
        return NULL;
    json_t *d = json_object_get(*doc, "definition");
    if (!json_is_string(d)) {
        cs_http_error(resp, 422, "definition", "give the definition as a string");
        return NULL;
    }
    *len = json_string_length(d);
    return json_string_value(d);
}

static void s_put(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    const char *name = s_name(req, resp);
    if (!name)
        return;
    if (strcmp(name, "7x24") == 0) {
        cs_http_error(resp, 409, "name", "7x24 is built in and always counts every moment");
        return;
    }
    json_t *doc;
    size_t len;
    const char *text = s_definition_of(req, resp, &doc, &len);
    if (!text)
        goto out;
    sla_calendar_t *c = s_parse(resp, "definition", name, text, len);
    if (!c)
        goto out;
    /* The definition and every open clock counting on it change together. */
    int rc = cs_db_begin(req->db) < 0 ? -1 : sla_calendars_write(req->db, name, text);
    int recomputed = rc >= 0 ? sla_api_recompute_calendar(api, req->db, c, cs_now_ms()) : 0;
    if (rc < 0 || recomputed < 0 || cs_db_commit(req->db) < 0) {
        if (cs_db_in_tx(req->db))
            cs_db_rollback(req->db);
        if (rc == -2)
            cs_http_error(resp, 409, "name", "the table already holds %d calendars",
                          SLA_CALENDARS_MAX);
        else
            cs_http_error(resp, 503, NULL, "database unavailable");
    } else {
        sla_calendars_forget(api->calendars);
        cs_info("sla: calendar %s %s through the API; %d open clock(s) recomputed", name,
                rc ? "created" : "replaced", recomputed);
        json_t *o = s_calendar_json(name, text, cs_now_ms(), c);
        json_object_set_new(o, "recomputed", json_integer(recomputed));
        cs_http_json(resp, rc ? 201 : 200, o);
    }
    sla_calendar_destroy(&c);
out:
    json_decref(doc);
}

/* ---- POST /v1/sla/calendars/{name}/ical --------------------------------------------- */

/* Read, extend and write in one transaction, the row locked: two imports
   at once each keep the other's holidays. */
static void s_import(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    const char *name = s_name(req, resp);
    if (!name)
        return;
    char err[300] = "", *old = NULL, *lines = NULL, *merged = NULL;
    int events = 0;
    sla_calendar_t *c = NULL;
    int64_t at;
    lines = sla_ical_definition(req->body, req->body_len, "iCalendar", &events, err, sizeof(err));
    if (!lines) {
        cs_http_error(resp, 422, "ical", "%s", err);
        return;
    }
    if (cs_db_begin(req->db) < 0)
        goto out_unavailable;
    int rc = sla_calendars_read(req->db, name, 1, &old, &at);
    if (rc < 0)
        goto out_rollback_unavailable;
    if (rc == 0) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, "name", "no stored calendar named %s", name);
        goto out_free;
    }
    c = s_parse(resp, "name", name, old, strlen(old));
    if (!c || !sla_calendar_zone(c)) {
        cs_db_rollback(req->db);
        if (c)
            cs_http_error(resp, 409, "name", "%s counts every moment: it has no holidays", name);
        goto out_free;
    }
    sla_calendar_destroy(&c);
    size_t n_old = strlen(old), n_lines = strlen(lines);
    char stamp[40];
    cs_iso8601(cs_now_ms(), stamp, sizeof(stamp));
    merged = malloc(n_old + n_lines + 128);
    if (!merged)
        goto out_rollback_unavailable;
    snprintf(merged, n_old + n_lines + 128, "%s%s# imported from iCalendar %s: %d events\n%s", old,
             n_old && old[n_old - 1] != '\n' ? "\n" : "", stamp, events, lines);
    c = s_parse(resp, "ical", name, merged, strlen(merged));
    if (!c) {
        cs_db_rollback(req->db);
        goto out_free;
    }
    int recomputed;
    if (sla_calendars_write(req->db, name, merged) < 0 ||
        (recomputed = sla_api_recompute_calendar(api, req->db, c, cs_now_ms())) < 0 ||
        cs_db_commit(req->db) < 0)
        goto out_rollback_unavailable;
    sla_calendars_forget(api->calendars);
    cs_info("sla: calendar %s: %d iCalendar events imported; %d open clock(s) recomputed", name,
            events, recomputed);
    json_t *o = s_calendar_json(name, merged, cs_now_ms(), c);
    json_object_set_new(o, "events_imported", json_integer(events));
    json_object_set_new(o, "recomputed", json_integer(recomputed));
    cs_http_json(resp, 200, o);
    goto out_free;
out_rollback_unavailable:
    cs_db_rollback(req->db);
out_unavailable:
    cs_http_error(resp, 503, NULL, "database unavailable");
out_free:
    sla_calendar_destroy(&c);
    free(merged);
    free(old);
    free(lines);
}

/* ---- POST /v1/sla/preview ------------------------------------------------------------- */

/* "2026-01-09T16:00:00+08:00" (seconds, fraction and 'T' optional — a space
   will do — and an offset or Z required, so that a moment is never read in
   the server's zone), or an integer of ms since the epoch. */
int sla_api_moment(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int y, mo, d, h, mi, sec = 0, ms = 0, oh = 0, om = 0, sign = 1;
    char sep;
    int used = 0;
    if (n > 40 || sscanf(s, "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &used) != 6 ||
        used != 16 || (sep != 'T' && sep != ' '))
        return -1;
    const char *p = s + used;
    if (*p == ':') {
        if (p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
            return -1;
        sec = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
        if (*p == '.') {
            int digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
            if (!digits)
                return -1;
            for (; digits < 3; digits++)
                ms *= 10;
        }
    }
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        sign = *p == '-' ? -1 : 1;
        for (int i = 1; i < 6; i++)
            if (i != 3 && (p[i] < '0' || p[i] > '9'))
                return -1;
        oh = (p[1] - '0') * 10 + (p[2] - '0');
        om = (p[4] - '0') * 10 + (p[5] - '0');
        p += 6;
    } else {
        return -1;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 14 ||
        om > 59 || y < 1971 || y > 2199)
        return -1;
    int64_t day = sla_days_from_civil(y, mo, d);
    int64_t y2;
    int mo2, d2;
    sla_civil_from_days(day, &y2, &mo2, &d2);
    if (mo2 != mo || d2 != d)
        return -1; /* 31 February */
    int64_t local_s = day * 86400 + h * 3600 + mi * 60 + sec;
    *out = (local_s - sign * (oh * 3600 + om * 60)) * 1000 + ms;
    return 0;
}

/* Targets from {"first_response": M, "resolution": M} or "priority": "P2". */
static int s_targets(const json_t *o, int64_t minutes[SLA_TICKET_TARGETS], char *err, size_t size)
{
    const json_t *t = json_object_get(o, "targets"), *p = json_object_get(o, "priority");
    if (t && p) {
        snprintf(err, size, "give targets or priority, not both");
        return -1;
    }
    if (json_is_string(p)) {
        const char *prio = json_string_value(p);
        if (strlen(prio) != 2 || prio[0] != 'P' || prio[1] < '1' || prio[1] > '4') {
            snprintf(err, size, "priority is P1, P2, P3 or P4");
            return -1;
        }
        cs_commitment_t c = cs_commitment_for(prio);
        minutes[SLA_TARGET_FIRST_RESPONSE] = c.response_min;
        minutes[SLA_TARGET_RESOLUTION] = c.resolution_min;
        return 0;
    }
    if (!json_is_object(t)) {
        snprintf(err, size,
                 "give targets {\"first_response\": minutes, \"resolution\": minutes}"
                 " or a priority P1..P4");
        return -1;
    }
    for (int i = 0; i < SLA_TICKET_TARGETS; i++) {
        const json_t *m = json_object_get(t, sla_target_name((sla_target_t)i));
        if (!json_is_integer(m)) {
            snprintf(err, size, "targets.%s: whole minutes of working time",
                     sla_target_name((sla_target_t)i));
            return -1;
        }
        minutes[i] = json_integer_value(m); /* range: sla_clock_arm */
    }
    return 0;
}

/* The preview's calendar: a name (the table, then the built-ins), an
   inline {"definition": "..."}, or CS_SLA_CALENDAR. *owned is set when
   the caller must destroy it. NULL with resp filled. */
static const sla_calendar_t *s_preview_calendar(cs_http_req_t *req, cs_http_resp_t *resp,
                                                const json_t *spec, sla_calendar_t **owned)
{
    sla_api_t *api = req->ctx;
    *owned = NULL;
    if (json_is_object(spec)) {
        const json_t *d = json_object_get(spec, "definition");
        if (!json_is_string(d)) {
            cs_http_error(resp, 422, "calendar.definition", "give the definition as a string");
            return NULL;
        }
        *owned = s_parse(resp, "calendar.definition", "preview", json_string_value(d),
                         json_string_length(d));
        return *owned;
    }
    if (spec && !json_is_string(spec)) {
        cs_http_error(resp, 422, "calendar", "a calendar name or {\"definition\": \"...\"}");
        return NULL;
    }
    const char *name = spec ? json_string_value(spec) : api->default_calendar;
    const sla_calendar_t *c = NULL;
    char err[300] = "";
    int rc = sla_calendars_refresh(api->calendars, req->db);
    if (rc == 0)
        rc = sla_calendars_get(api->calendars, req->db, name, &c, err, sizeof(err));
    if (rc < 0)
        cs_http_error(resp, 503, NULL, "database unavailable");
    else if (rc == 0)
        cs_http_error(resp, 422, "calendar", "%s", err);
    return rc > 0 ? c : NULL;
}

/* events[] of the body into ev; the count, or -1 with resp filled. */
static int s_events(cs_http_resp_t *resp, const json_t *list, sla_preview_event_t *ev)
{
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > SLA_PREVIEW_EVENTS_MAX) {
        cs_http_error(resp, 422, "events", "1 to %d events, the first one created",
                      SLA_PREVIEW_EVENTS_MAX);
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        int kind = sla_event_kind_parse(json_string_value(json_object_get(e, "type")));
        char field[48], err[200] = "";
        snprintf(field, sizeof(field), "events[%zu]", i);
        if (kind < 0) {
            cs_http_error(resp, 422, field,
                          "type is one of created, agent_response, customer_reply, pending,"
                          " resumed, priority_changed, policy_changed, resolved, closed,"
                          " reopened");
            return -1;
        }
        memset(&ev[i], 0, sizeof(ev[i]));
        ev[i].kind = (sla_event_kind_t)kind;
        if (sla_api_moment(json_object_get(e, "at"), &ev[i].at_ms) < 0) {
            cs_http_error(resp, 422, field,
                          "at is a moment like 2026-01-09T16:00:00+08:00 (offset required)"
                          " or ms since the epoch");
            return -1;
        }
        if ((kind == SLA_EVENT_PRIORITY_CHANGED || kind == SLA_EVENT_POLICY_CHANGED) &&
            s_targets(e, ev[i].minutes, err, sizeof(err)) < 0) {
            cs_http_error(resp, 422, field, "%s", err);
            return -1;
        }
    }
    return (int)json_array_size(list);
}

static json_t *s_preview_clock_json(const sla_preview_clock_t *pc, int64_t minute_ms)
{
    const sla_clock_t *c = &pc->clock;
    json_t *o = json_object();
    json_object_set_new(o, "target", json_string(sla_target_name(c->target)));
    json_object_set_new(o, "state", json_string(sla_clock_state_name(c->state)));
    json_object_set_new(o, "round", json_integer(c->round));
    json_object_set_new(o, "target_minutes", json_integer(c->target_minutes));
    json_object_set_new(o, "started_at", s_instant(c->started_at_ms));
    json_object_set_new(o, "warn_at", s_instant(c->warn_at_ms));
    json_object_set_new(o, "due", s_instant(c->deadline_ms));
    json_object_set_new(o, "due_ms", json_integer(c->deadline_ms));
    json_object_set_new(o, "warned", json_boolean(c->warned));
    json_object_set_new(o, "paused_at", s_instant(c->paused_at_ms));
    json_object_set_new(o, "met_at", s_instant(c->met_at_ms));
    json_object_set_new(o, "breached_at", s_instant(c->breached_at_ms));
    json_object_set_new(o, "stopped_at", s_instant(c->stopped_at_ms));
    json_object_set_new(o, "working_ms_used", json_integer(pc->used_ms));
    json_object_set_new(o, "working_minutes_used", json_integer(pc->used_ms / minute_ms));
    json_object_set_new(o, "percent", json_integer(pc->percent));
    json_t *history = json_array();
    for (int i = 0; i < pc->nsteps; i++) {
        json_t *step = json_object();
        json_object_set_new(step, "kind", json_string(pc->steps[i].kind));
        json_object_set_new(step, "round", json_integer(pc->steps[i].round));
        json_object_set_new(step, "at", s_instant(pc->steps[i].at_ms));
        json_array_append_new(history, step);
    }
    json_object_set_new(o, "history", history);
    json_object_set_new(o, "history_dropped", json_integer(pc->steps_dropped));
    return o;
}

static void s_preview(cs_http_req_t *req, cs_http_resp_t *resp)
{
    sla_api_t *api = req->ctx;
    sla_preview_event_t *ev = NULL;
    sla_preview_t *out = NULL;
    sla_calendar_t *owned = NULL;
    json_t *body = cs_http_json_body(req, resp);
    if (!body)
        return;
    int64_t minutes[SLA_TICKET_TARGETS], as_of = 0;
    char err[300] = "";
    if (s_targets(body, minutes, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "targets", "%s", err);
        goto out;
    }
    const json_t *as_of_v = json_object_get(body, "as_of");
    if (as_of_v && sla_api_moment(as_of_v, &as_of) < 0) {
        cs_http_error(resp, 422, "as_of", "a moment with its offset, or ms since the epoch");
        goto out;
    }
    ev = calloc(SLA_PREVIEW_EVENTS_MAX, sizeof(*ev));
    out = calloc(1, sizeof(*out));
    if (!ev || !out) {
        cs_http_error(resp, 503, NULL, "out of memory");
        goto out;
    }
    int n = s_events(resp, json_object_get(body, "events"), ev);
    if (n < 0)
        goto out;
    const sla_calendar_t *calendar =
        s_preview_calendar(req, resp, json_object_get(body, "calendar"), &owned);
    if (!calendar)
        goto out;
    sla_policy_t policy = api->counting;
    policy.calendar = calendar;
    if (sla_preview_run(&policy, minutes, ev, (size_t)n, as_of, out, err, sizeof(err)) < 0) {
        cs_http_error(resp, 422, "events", "%s", err);
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "calendar", json_string(sla_calendar_name(calendar)));
    json_object_set_new(o, "zone",
                        sla_calendar_zone(calendar) ? json_string(sla_calendar_zone(calendar))
                                                    : json_null());
    json_object_set_new(o, "as_of", s_instant(out->as_of_ms));
    json_object_set_new(o, "priority_changes", json_integer(out->changes));
    json_t *clocks = json_array();
    for (int t = 0; t < SLA_TICKET_TARGETS; t++)
        json_array_append_new(clocks, s_preview_clock_json(&out->clocks[t], policy.minute_ms));
    json_object_set_new(o, "clocks", clocks);
    cs_http_json(resp, 200, o);
out:
    sla_calendar_destroy(&owned);
    free(out);
    free(ev);
    json_decref(body);
}

void sla_calendar_api_register(cs_http_t *http, sla_api_t *api)
{
    cs_http_route(http, "GET", "/v1/sla/calendars", s_list, api);
    cs_http_route(http, "GET", "/v1/sla/calendars/*", s_get, api);
    cs_http_route(http, "PUT", "/v1/sla/calendars/*", s_put, api);
    cs_http_route(http, "POST", "/v1/sla/calendars/*/ical", s_import, api);
    cs_http_route(http, "POST", "/v1/sla/preview", s_preview, api);
}
