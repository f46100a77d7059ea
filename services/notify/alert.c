/*
 * alert — see alert.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alert.h"
#include "cs_config.h"
#include "cs_log.h"

int alert_parse_channels(const char *list, bool *email, bool *sms, bool *voice)
{
    *email = *sms = *voice = false;
    const char *p = list ? list : "";
    int n = 0;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == 0)
            break;
        if (len == 5 && strncmp(p, "email", 5) == 0)
            *email = true;
        else if (len == 3 && strncmp(p, "sms", 3) == 0)
            *sms = true;
        else if (len == 5 && strncmp(p, "voice", 5) == 0)
            *voice = true;
        else
            return -1;
        n++;
        p += len;
    }
    return n > 0 ? 0 : -1;
}

int alert_config_load(alert_config_t *cfg, const outbound_config_t *outbound_cfg)
{
    cfg->outbound = outbound_cfg;
    const char *list = cs_env("CS_NOTIFY_ESCALATION_CHANNELS", "email,sms");
    if (alert_parse_channels(list, &cfg->email, &cfg->sms, &cfg->voice) < 0) {
        cs_error("config: CS_NOTIFY_ESCALATION_CHANNELS must list email, sms and/or voice");
        return -1;
    }
    return 0;
}

static int s_blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* A variable the letter will show: the value when it is usable UTF-8 text that fits,
 * else the neutral fallback (a blank would stop the letter at rendering). */
static int s_var(json_t *vars, const char *key, const char *value, const char *fallback)
{
    json_t *str = !s_blank(value) && strlen(value) < 4096 ? json_string(value) : NULL;
    if (!str)
        str = json_string(fallback);
    return str ? json_object_set_new(vars, key, str) : -1;
}

/* The facts every alert about this ticket shows, in the recipient's language. */
static int s_alert_vars(outbound_t *o, const Cs__Envelope *env, const char *staff_name)
{
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te->facts;
    int en = strcmp(o->language, "en") == 0;
    char emergency[16], level[16], at[48];
    snprintf(emergency, sizeof(emergency), "%u", f->emergency_level);
    snprintf(level, sizeof(level), "%u", te->escalation_level);
    outbound_local_time(te->at_ms ? te->at_ms : env->occurred_at_ms, at, sizeof(at));
    return s_var(o->vars, "ticket_no", o->ticket_number, "-") |
           s_var(o->vars, "customer_name", f->customer_name, en ? "Customer" : "客户") |
           s_var(o->vars, "request_subject", f->subject, en ? "service request" : "服务申请") |
           s_var(o->vars, "emergency_level", f->emergency_level ? emergency : NULL,
                 en ? "none" : "无") |
           s_var(o->vars, "escalation_level", level, "0") |
           s_var(o->vars, "reason", te->reason, en ? "escalated" : "工单升级") |
           s_var(o->vars, "priority", f->priority, "-") |
           s_var(o->vars, "team", f->team, en ? "unassigned" : "未分派") |
           s_var(o->vars, "staff_name", staff_name, en ? "colleague" : "同事") |
           s_var(o->vars, "escalated_at", at, "-");
}

/* The columns of a staff row as s_people() selects them. */
enum { P_LOGIN, P_NAME, P_EMAIL, P_SMS, P_VOICE, P_LANG };

/* Record one alert to one person by one channel. */
static int s_alert(cs_db_t *db, const alert_config_t *cfg, const Cs__Envelope *env,
                   const char *kind, const PGresult *r, int row, const char *channel,
                   const char *to)
{
    outbound_t *o = outbound_new(kind, true, cs_db_get(r, row, P_LANG));
    if (!o)
        return -1;
    o->channel = channel;
    snprintf(o->recipient, sizeof(o->recipient), "%s", to);
    snprintf(o->recipient_name, sizeof(o->recipient_name), "%s", cs_db_get(r, row, P_NAME));
    snprintf(o->ticket_number, sizeof(o->ticket_number), "%s", env->ticket_event->facts->number);
    const char *name = cs_db_get(r, row, P_NAME);
    int rc = -1;
    if (s_alert_vars(o, env, *name ? name : cs_db_get(r, row, P_LOGIN)) != 0)
        goto out;
    const char *problem = strcmp(channel, "email") == 0 ? outbound_address_problem(to) : NULL;
    rc = outbound_record(db, cfg->outbound, env, o, problem ? "suppressed" : "queued",
                         problem ? problem : "");
out:
    outbound_destroy(&o);
    return rc < 0 ? -1 : 0;
}

/* An alert nobody can receive is kept, with its reason, for the operator to see. */
static int s_nobody(cs_db_t *db, const alert_config_t *cfg, const Cs__Envelope *env,
                    const char *kind, const char *who, const char *reason)
{
    outbound_t *o = outbound_new(kind, true, "zh-CN");
    if (!o)
        return -1;
    snprintf(o->recipient, sizeof(o->recipient), "%s", who);
    snprintf(o->ticket_number, sizeof(o->ticket_number), "%s", env->ticket_event->facts->number);
    int rc = s_alert_vars(o, env, NULL) == 0
                 ? outbound_record(db, cfg->outbound, env, o, "suppressed", reason)
                 : -1;
    outbound_destroy(&o);
    return rc < 0 ? -1 : 0;
}

int alert_on_escalated(cs_db_t *db, const Cs__Envelope *env, const alert_config_t *cfg)
{
    const Cs__TicketEvent *te = env->ticket_event;
    if (!te || !te->facts || s_blank(te->facts->number) ||
        strlen(te->facts->number) > OUTBOUND_NUMBER_MAX) {
        cs_warn("notify: %s event %s without a ticket number; no alert", env->type, env->event_id);
        return 1;
    }
    const Cs__TicketFacts *f = te->facts;
    int major = f->emergency_level == 1;
    const char *kind = major ? "emergency_alert" : "escalation_alert";
    PGresult *r;
    if (major) {
        r = cs_db_exec(db,
                       "SELECT s.login, s.name, s.email, s.sms, s.voice, s.language"
                       " FROM duty_list d JOIN staff s USING (login) ORDER BY s.login",
                       0, NULL);
    } else {
        /* the person dispatch named, else the lead of the ticket's team */
        const char *named = s_blank(te->escalated_to) ? "" : te->escalated_to;
        const char *team = f->team ? f->team : "";
        r = cs_db_exec(db,
                       "SELECT login, name, email, sms, voice, language FROM staff"
                       " WHERE ($1 <> '' AND login = $1) OR ($1 = '' AND $2 <> ''"
                       "  AND lead_of = $2) ORDER BY login LIMIT 1",
                       2, (const char *[]){named, team});
    }
    if (!r)
        return -1;
    int rc = 0, n = PQntuples(r);
    if (n == 0) {
        char who[OUTBOUND_ADDR_MAX + 1];
        snprintf(who, sizeof(who), "%s%s", major ? "duty_list" : "staff:",
                 major                        ? ""
                 : !s_blank(te->escalated_to) ? te->escalated_to
                                              : (f->team && *f->team ? f->team : "-"));
        cs_warn("notify: %s for ticket %s has nobody to go to (%s)", kind, f->number, who);
        PQclear(r);
        return s_nobody(db, cfg, env, kind, who, major ? "duty_list_empty" : "no_staff_contact");
    }
    for (int i = 0; i < n && rc == 0; i++) {
        static const struct {
            const char *channel;
            int col;
        } channels[] = {{"email", P_EMAIL}, {"sms", P_SMS}, {"voice", P_VOICE}};
        int sent = 0;
        for (size_t c = 0; c < 3 && rc == 0; c++) {
            const char *to = cs_db_get(r, i, channels[c].col);
            bool allowed = major || (c == 0 ? cfg->email : c == 1 ? cfg->sms : cfg->voice);
            if (!*to || !allowed)
                continue;
            rc = s_alert(db, cfg, env, kind, r, i, channels[c].channel, to);
            sent++;
        }
        if (rc == 0 && sent == 0) {
            char who[OUTBOUND_ADDR_MAX + 1];
            snprintf(who, sizeof(who), "staff:%s", cs_db_get(r, i, P_LOGIN));
            cs_warn("notify: %s for ticket %s: %s has no contact for the alert channels", kind,
                    f->number, who);
            rc = s_nobody(db, cfg, env, kind, who, "no_staff_contact");
        }
    }
    PQclear(r);
    return rc;
}
