/*
 * outbound — see outbound.h.  The pure rules come first (they are what the unit tests
 * read), the bus handler that records a notification last.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alert.h"
#include "cs_bus.h"
#include "cs_commitment.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "letter.h"
#include "outbound.h"
#include "webhook.h"

/* ---- small text helpers --------------------------------------------------------- */

static int s_blank(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* Copy s into buf without surrounding white space; fails (returns -1) when it does not
 * fit, because a cut address or number would be a different one. */
static int s_copy_trimmed(char *buf, size_t size, const char *s)
{
    buf[0] = '\0';
    if (!s)
        return 0;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= size)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8 boundary. */
static size_t s_utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Set a template variable: the event's value when it is usable text, else the fallback
 * written for the customer's language.  Over-long texts (an agent's report pasted from a
 * document) are cut at a character boundary with a visible mark rather than failing the
 * letter: the customer still hears from us, and the full text stays with dispatch. */
static int s_var(json_t *vars, const char *key, const char *value, const char *fallback)
{
    const char *use = s_blank(value) ? fallback : value;
    size_t limit = LETTER_VALUE_MAX - 16;
    json_t *str;
    if (strlen(use) > limit) {
        size_t n = s_utf8_prefix(use, limit);
        char *cut = malloc(n + 8);
        if (!cut)
            return -1;
        memcpy(cut, use, n);
        memcpy(cut + n, " [...]", 7);
        str = json_string(cut);
        free(cut);
    } else {
        str = json_string(use);
    }
    if (!str) /* not UTF-8: say the neutral thing rather than paste garbage */
        str = json_string(fallback);
    return str ? json_object_set_new(vars, key, str) : -1;
}

/* ---- the rules ---------------------------------------------------------------------- */

const char *outbound_language(const char *lang)
{
    if (lang && (lang[0] == 'e' || lang[0] == 'E') && (lang[1] == 'n' || lang[1] == 'N') &&
        (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_'))
        return "en";
    return "zh-CN";
}

void outbound_hours(uint32_t minutes, char *buf, size_t size)
{
    if (minutes % 60 == 0)
        snprintf(buf, size, "%u", minutes / 60);
    else if ((minutes * 10) % 60 == 0)
        snprintf(buf, size, "%u.%u", minutes / 60, (minutes % 60) / 6);
    else
        snprintf(buf, size, "%.2f", minutes / 60.0);
}

void outbound_local_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000) + 8 * 3600; /* China Standard Time has no DST */
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M (UTC+8)", &tm) == 0)
        snprintf(buf, size, "-");
}

static int s_atext(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A plain addr-spec: dot-atom local part, a DNS host name; no quoting, no comments, no
 * spaces or control characters, nothing a header or SMTP command could be split on. */
static int s_plain_address(const char *addr)
{
    const char *at = strchr(addr, '@');
    if (!at || strchr(at + 1, '@') || at == addr || at - addr > 64 || strlen(addr) > 254)
        return 0;
    for (const char *p = addr; p < at; p++) {
        int dot = *p == '.';
        if (!dot && !s_atext((unsigned char)*p))
            return 0;
        if (dot && (p == addr || p + 1 == at || p[1] == '.'))
            return 0;
    }
    const char *label = at + 1;
    if (!*label)
        return 0;
    for (const char *p = label;; p++) {
        if (*p == '.' || *p == '\0') {
            if (p == label || label[0] == '-' || p[-1] == '-' || p - label > 63)
                return 0;
            if (*p == '\0')
                return 1;
            label = p + 1;
        } else if (!isalnum((unsigned char)*p) && *p != '-') {
            return 0;
        }
    }
}

const char *outbound_address_problem(const char *addr)
{
    if (!addr || !s_plain_address(addr))
        return "invalid_address";
    /* The local part, lower-cased, without a "+tag": "No-Reply+billing" → "no-reply". */
    char local[65];
    size_t n = 0;
    for (const char *p = addr; *p != '@' && *p != '+' && n < sizeof(local) - 1; p++)
        local[n++] = (char)tolower((unsigned char)*p);
    local[n] = '\0';
    static const char *const no_reply[] = {"noreply",      "no-reply",    "no_reply",
                                           "no.reply",     "donotreply",  "do-not-reply",
                                           "do_not_reply", "do.not.reply"};
    for (size_t i = 0; i < sizeof(no_reply) / sizeof(*no_reply); i++) {
        size_t len = strlen(no_reply[i]);
        /* "noreply", "noreply-billing", "noreply7" all say: nobody reads this */
        if (strncmp(local, no_reply[i], len) == 0 && !isalpha((unsigned char)local[len]))
            return "no_reply_address";
    }
    if (strcmp(local, "mailer-daemon") == 0 || strcmp(local, "mailer_daemon") == 0 ||
        strcmp(local, "mailerdaemon") == 0)
        return "mailer_daemon_address";
    if (strcmp(local, "postmaster") == 0)
        return "postmaster_address";
    return NULL;
}

bool outbound_over_daily_cap(const outbound_t *self, int64_t mails_last_day, int64_t cap)
{
    return self->automatic && mails_last_day >= cap;
}

/* ---- from event to notification --------------------------------------------------- */

/* Service type codes (dispatch's classify.rules) as the customer reads them. */
static const char *s_service_type_label(const char *code, int en)
{
    static const char *const table[][3] = {
        {"equipment_maintenance", "设备维护与维修", "Equipment maintenance and repair"},
        {"process_optimisation", "工艺优化", "Process optimisation"},
        {"safety_inspection", "安全检查", "Safety inspection"},
        {"environmental_compliance", "环保合规与监测", "Environmental compliance and monitoring"},
        {"technical_consulting", "技术咨询", "Technical consulting"},
        {"training", "技术培训", "Training"},
        {"data_monitoring", "数据监测与分析", "Data monitoring and analysis"},
        {"product_supply", "产品供应咨询", "Product supply"},
        {"complaint", "投诉", "Complaint"},
    };
    for (size_t i = 0; code && i < sizeof(table) / sizeof(*table); i++)
        if (strcmp(code, table[i][0]) == 0)
            return table[i][en ? 2 : 1];
    return NULL;
}

static outbound_t *s_new(const char *kind, bool automatic, const char *lang)
{
    outbound_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->kind = kind;
    self->automatic = automatic;
    self->channel = "email";
    self->language = outbound_language(lang);
    self->vars = json_object();
    if (!self->vars) {
        free(self);
        return NULL;
    }
    return self;
}

void outbound_destroy(outbound_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref((*self_p)->vars);
    free(*self_p);
    *self_p = NULL;
}

/* The variables every kind shares: number, name, subject. */
static int s_common_vars(outbound_t *o, const char *name, const char *subject)
{
    int en = strcmp(o->language, "en") == 0;
    return s_var(o->vars, "ticket_no", o->ticket_number, "-") |
           s_var(o->vars, "customer_name", name, en ? "Customer" : "客户") |
           s_var(o->vars, "request_subject", subject, en ? "your service request" : "您的服务申请");
}

/* Acceptance: the commitments come with the event; an older dispatch that did not fill
 * them gets the shared commitment table's figures for the ticket's priority. */
static int s_acceptance_vars(outbound_t *o, const Cs__Envelope *env)
{
    const Cs__TicketEvent *te = env->ticket_event;
    const Cs__TicketFacts *f = te->facts;
    int en = strcmp(o->language, "en") == 0;
    cs_commitment_t c = cs_commitment_for(f->priority);
    uint32_t response =
        te->first_response_minutes ? te->first_response_minutes : (uint32_t)c.response_min;
    uint32_t resolution =
        te->resolution_minutes ? te->resolution_minutes : (uint32_t)c.resolution_min;
    int64_t received = f->received_at_ms ? f->received_at_ms : env->occurred_at_ms;
    int64_t start =
        te->expected_start_ms ? te->expected_start_ms : received + (int64_t)response * 60000;
    char received_s[48], start_s[48], resp_s[24], resol_s[24];
    outbound_local_time(received, received_s, sizeof(received_s));
    outbound_local_time(start, start_s, sizeof(start_s));
    outbound_hours(response, resp_s, sizeof(resp_s));
    outbound_hours(resolution, resol_s, sizeof(resol_s));
    const char *type = s_service_type_label(f->service_type, en);
    return s_var(o->vars, "service_type", type ? type : f->service_type,
                 en ? "General service request" : "一般服务申请") |
           s_var(o->vars, "received_at", received_s, "-") |
           s_var(o->vars, "expected_start", start_s, "-") |
           s_var(o->vars, "first_response_hours", resp_s, "2") |
           s_var(o->vars, "resolution_hours", resol_s, "48");
}

/* Who speaks in an update or resolution letter: the agent who acted, else the assignee. */
static const char *s_agent(const Cs__TicketEvent *te, int en)
{
    if (!s_blank(te->actor) && strcmp(te->actor, "system") != 0)
        return te->actor;
    if (!s_blank(te->facts->assignee))
        return te->facts->assignee;
    return en ? "Our service team" : "客服团队";
}

static int s_from_ticket_event(const Cs__Envelope *env, outbound_t **out, const char **why)
{
    const Cs__TicketEvent *te = env->ticket_event;
    const char *kind = strcmp(env->type, "dispatch.ticket.accepted") == 0    ? "acceptance"
                       : strcmp(env->type, "dispatch.ticket.responded") == 0 ? "update"
                       : strcmp(env->type, "dispatch.ticket.resolved") == 0  ? "resolution"
                       : strcmp(env->type, "dispatch.ticket.noted") == 0     ? "note"
                                                                             : NULL;
    if (!kind || !te || !te->facts) {
        *why = "not_a_notification";
        return OUTBOUND_NONE;
    }
    if (strcmp(kind, "note") == 0 && !te->to_customer) {
        *why = "internal_note"; /* stays on the desk */
        return OUTBOUND_NONE;
    }
    const Cs__TicketFacts *f = te->facts;
    if ((strcmp(kind, "update") == 0 || strcmp(kind, "note") == 0) && s_blank(te->message)) {
        *why = "no_message";
        return OUTBOUND_NONE;
    }
    /* An update carries the agent's own words: a person's mail, not an automatic one. */
    outbound_t *o =
        s_new(kind, strcmp(kind, "update") != 0 && strcmp(kind, "note") != 0, f->language);
    if (!o)
        return OUTBOUND_ERROR;
    int en = strcmp(o->language, "en") == 0;
    if (s_copy_trimmed(o->recipient, sizeof(o->recipient), f->customer_email) < 0 ||
        s_blank(o->recipient)) {
        *why = "no_email";
        goto out_none;
    }
    if (s_copy_trimmed(o->ticket_number, sizeof(o->ticket_number), f->number) < 0 ||
        s_blank(o->ticket_number)) {
        *why = "no_ticket_number";
        goto out_none;
    }
    if (s_copy_trimmed(o->recipient_name, sizeof(o->recipient_name), f->customer_name) < 0)
        o->recipient_name[0] = '\0'; /* too long for a header: greet without it */
    if (s_copy_trimmed(o->in_reply_to, sizeof(o->in_reply_to), f->message_id) < 0)
        o->in_reply_to[0] = '\0';
    int rc = s_common_vars(o, o->recipient_name, f->subject);
    if (strcmp(kind, "acceptance") == 0)
        rc |= s_acceptance_vars(o, env);
    else if (strcmp(kind, "update") == 0 || strcmp(kind, "note") == 0)
        rc |= s_var(o->vars, "agent_name", s_agent(te, en), "-") |
              s_var(o->vars, "message", te->message, "-");
    else {
        char at[48];
        outbound_local_time(te->at_ms ? te->at_ms : env->occurred_at_ms, at, sizeof(at));
        rc |= s_var(o->vars, "resolved_at", at, "-") |
              s_var(o->vars, "agent_name", s_agent(te, en), "-") |
              s_var(o->vars, "service_report", te->message,
                    en ? "The requested service has been completed." : "您申请的服务已完成。");
    }
    if (rc) {
        outbound_destroy(&o);
        return OUTBOUND_ERROR;
    }
    *out = o;
    return OUTBOUND_MAIL;
out_none:
    outbound_destroy(&o);
    return OUTBOUND_NONE;
}

static int s_from_survey_event(const Cs__Envelope *env, const char *request_subject,
                               outbound_t **out, const char **why)
{
    const Cs__SurveyEvent *se = env->survey_event;
    int reminder = strcmp(env->type, "survey.reminded") == 0;
    if (!se || (!reminder && strcmp(env->type, "survey.requested") != 0)) {
        *why = "not_a_notification";
        return OUTBOUND_NONE;
    }
    if (s_blank(se->link)) {
        *why = "no_survey_link";
        return OUTBOUND_NONE;
    }
    outbound_t *o = s_new(reminder ? "survey_reminder" : "survey_invitation", true, se->language);
    if (!o)
        return OUTBOUND_ERROR;
    int en = strcmp(o->language, "en") == 0;
    if (s_copy_trimmed(o->recipient, sizeof(o->recipient), se->email) < 0 ||
        s_blank(o->recipient)) {
        *why = "no_email";
        goto out_none;
    }
    if (s_copy_trimmed(o->ticket_number, sizeof(o->ticket_number), se->number) < 0 ||
        s_blank(o->ticket_number)) {
        *why = "no_ticket_number";
        goto out_none;
    }
    if (s_copy_trimmed(o->recipient_name, sizeof(o->recipient_name), se->name) < 0)
        o->recipient_name[0] = '\0';
    char expires[48] = "";
    if (se->expires_at_ms > 0) {
        outbound_local_time(se->expires_at_ms, expires, sizeof(expires));
        expires[10] = '\0'; /* the date is enough */
    }
    if (s_common_vars(o, o->recipient_name, request_subject) |
        s_var(o->vars, "survey_url", se->link, "-") |
        s_var(o->vars, "optout_url", se->opt_out_link,
              en ? "(reply to this message)" : "（请回复本邮件）") |
        s_var(o->vars, "survey_expires", expires, en ? "in 30 days" : "30 天内")) {
        outbound_destroy(&o);
        return OUTBOUND_ERROR;
    }
    *out = o;
    return OUTBOUND_MAIL;
out_none:
    outbound_destroy(&o);
    return OUTBOUND_NONE;
}

/* The quality manager, who receives complaint escalation alerts (CS_NOTIFY_QUALITY_MANAGER). */
static const char *s_quality_manager = OUTBOUND_DEFAULT_QUALITY_MANAGER;

/* complaint.feedback_sent → the feedback letter to the customer (the handler's own words,
 * so not automatic); complaint.escalated → an alert to the quality manager, in the
 * company's language (never capped: an alert held back is a complaint lost). */
static int s_from_complaint_event(const Cs__Envelope *env, outbound_t **out, const char **why)
{
    const Cs__ComplaintEvent *ce = env->complaint_event;
    int feedback = strcmp(env->type, "complaint.feedback_sent") == 0;
    if (!ce || (!feedback && strcmp(env->type, "complaint.escalated") != 0)) {
        *why = "not_a_notification";
        return OUTBOUND_NONE;
    }
    if (feedback && s_blank(ce->resolution)) {
        *why = "no_message";
        return OUTBOUND_NONE;
    }
    outbound_t *o = feedback ? s_new("complaint_feedback", false, ce->language)
                             : s_new("complaint_escalation", false, "zh-CN");
    if (!o)
        return OUTBOUND_ERROR;
    int en = strcmp(o->language, "en") == 0;
    const char *to = feedback ? ce->customer_email : s_quality_manager;
    if (s_copy_trimmed(o->recipient, sizeof(o->recipient), to) < 0 || s_blank(o->recipient)) {
        *why = "no_email";
        goto out_none;
    }
    if (s_copy_trimmed(o->ticket_number, sizeof(o->ticket_number), ce->number) < 0 ||
        s_blank(o->ticket_number)) {
        *why = "no_ticket_number";
        goto out_none;
    }
    if (feedback &&
        s_copy_trimmed(o->recipient_name, sizeof(o->recipient_name), ce->customer_name) < 0)
        o->recipient_name[0] = '\0';
    char at[48], level[16];
    outbound_local_time(ce->at_ms ? ce->at_ms : env->occurred_at_ms, at, sizeof(at));
    snprintf(level, sizeof(level), "%u", ce->escalation_level);
    int rc = s_var(o->vars, "ticket_no", o->ticket_number, "-") |
             s_var(o->vars, "customer_name", ce->customer_name, en ? "Customer" : "客户");
    if (feedback)
        rc |=
            s_var(o->vars, "feedback", ce->resolution, "-") | s_var(o->vars, "sent_at", at, "-") |
            s_var(o->vars, "handler_name",
                  !s_blank(ce->actor) && strcmp(ce->actor, "system") != 0 ? ce->actor : ce->handler,
                  en ? "Our complaint team" : "投诉处理小组");
    else
        rc |= s_var(o->vars, "escalation_level", level, "1") |
              s_var(o->vars, "escalation_reason", ce->resolution, "-") |
              s_var(o->vars, "complaint_status", ce->status, "-") |
              s_var(o->vars, "priority", ce->priority, "-") |
              s_var(o->vars, "category", ce->category, "未分类") |
              s_var(o->vars, "owner", ce->owner, "未指派") |
              s_var(o->vars, "escalated_at", at, "-");
    if (rc) {
        outbound_destroy(&o);
        return OUTBOUND_ERROR;
    }
    *out = o;
    return OUTBOUND_MAIL;
out_none:
    outbound_destroy(&o);
    return OUTBOUND_NONE;
}

int outbound_from_event(const Cs__Envelope *env, const char *request_subject, outbound_t **out,
                        const char **why)
{
    *out = NULL;
    *why = "not_a_notification";
    if (!env || !env->type)
        return OUTBOUND_NONE;
    if (env->body_case == CS__ENVELOPE__BODY_TICKET_EVENT)
        return s_from_ticket_event(env, out, why);
    if (env->body_case == CS__ENVELOPE__BODY_SURVEY_EVENT)
        return s_from_survey_event(env, request_subject, out, why);
    if (env->body_case == CS__ENVELOPE__BODY_COMPLAINT_EVENT)
        return s_from_complaint_event(env, out, why);
    return OUTBOUND_NONE;
}

/* ---- what each kind is filled with --------------------------------------------------- */

/* The variables the code above (and alert.c) sets for each kind: a template may require
 * only these, which letter_templates_check() verifies at start-up, so that a company's
 * edit asking for a fact no event carries stops the service instead of failing letters.
 * A new kind adds one line here beside its mapping above. */
#define S_TICKET_VARS "ticket_no", "customer_name", "request_subject"
static const struct {
    const char *kind;
    const char *vars[16];
} s_kind_vars[] = {
    {"acceptance",
     {S_TICKET_VARS, "service_type", "received_at", "expected_start", "first_response_hours",
      "resolution_hours", NULL}},
    {"update", {S_TICKET_VARS, "agent_name", "message", NULL}},
    {"note", {S_TICKET_VARS, "agent_name", "message", NULL}},
    {"resolution", {S_TICKET_VARS, "resolved_at", "agent_name", "service_report", NULL}},
    {"survey_invitation", {S_TICKET_VARS, "survey_url", "survey_expires", "optout_url", NULL}},
    {"survey_reminder", {S_TICKET_VARS, "survey_url", "survey_expires", "optout_url", NULL}},
    {"complaint_feedback",
     {"ticket_no", "customer_name", "feedback", "sent_at", "handler_name", NULL}},
    {"complaint_escalation",
     {"ticket_no", "customer_name", "escalation_level", "escalation_reason", "complaint_status",
      "priority", "category", "owner", "escalated_at", NULL}},
    {"emergency_alert", {S_TICKET_VARS, ALERT_VARS, NULL}},
    {"escalation_alert", {S_TICKET_VARS, ALERT_VARS, NULL}},
};

const char *const *outbound_kind_vars(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof(s_kind_vars) / sizeof(*s_kind_vars); i++)
        if (strcmp(s_kind_vars[i].kind, kind) == 0)
            return s_kind_vars[i].vars;
    return NULL;
}

/* ---- the bus handler ------------------------------------------------------------------ */

int outbound_config_load(outbound_config_t *cfg)
{
    cfg->domain = cs_env("CS_NOTIFY_DOMAIN", "petrocs.example");
    s_quality_manager = cs_env("CS_NOTIFY_QUALITY_MANAGER", OUTBOUND_DEFAULT_QUALITY_MANAGER);
    if (outbound_address_problem(s_quality_manager)) {
        cs_error("config: CS_NOTIFY_QUALITY_MANAGER must be a plain e-mail address that can"
                 " answer");
        return -1;
    }
    return cs_env_int("CS_NOTIFY_DAILY_CAP", OUTBOUND_DEFAULT_DAILY_CAP, 0, 1000000,
                      &cfg->daily_cap);
}

/* survey.requested does not repeat the request's subject; the acceptance letter we
 * recorded for the same ticket has it. */
static char *s_known_subject(cs_db_t *db, const char *number)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT vars->>'request_subject' FROM notifications"
                             " WHERE ticket_number = $1"
                             " AND kind NOT IN ('survey_invitation', 'survey_reminder')"
                             " ORDER BY created_at LIMIT 1",
                             1, (const char *[]){number});
    char *subject = NULL;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        subject = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return subject;
}

/* Automatic mails recorded for this recipient in the last 24 hours that count against
 * the cap (held-back rows do not). -1 on a database error. */
static int64_t s_mails_last_day(cs_db_t *db, const char *recipient)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT count(*) FROM notifications"
                             " WHERE lower(recipient) = lower($1) AND automatic"
                             " AND channel = 'email'"
                             " AND status IN ('queued', 'deferred', 'sent', 'bounced')"
                             " AND created_at > now() - interval '24 hours'",
                             1, (const char *[]){recipient});
    if (!r)
        return -1;
    int64_t n = cs_db_get_i64(r, 0, 0);
    PQclear(r);
    return n;
}

int outbound_emit(cs_db_t *db, const char *type, Cs__NotificationEvent *ev)
{
    /* the event id is ours, so that the webhook deliveries of this event can name it */
    char event_id[CS_UUID_LEN];
    cs_uuid(event_id);
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.event_id = event_id;
    env.occurred_at_ms = cs_now_ms();
    env.body_case = CS__ENVELOPE__BODY_NOTIFICATION_EVENT;
    env.notification_event = ev;
    if (cs_bus_emit(db, type, &env) < 0)
        return -1;
    env.event_id = event_id;
    env.type = (char *)type;
    return webhook_enqueue(db, &env);
}

void outbound_count(const char *kind, const char *status)
{
    char labels[128];
    snprintf(labels, sizeof(labels), "kind=\"%s\",status=\"%s\"", kind, status);
    cs_counter_add("cs_notify_messages_total", labels, 1);
}

/* Record the row; a held-back one is announced at once as notification.failed. */
outbound_t *outbound_new(const char *kind, bool automatic, const char *lang)
{
    return s_new(kind, automatic, lang);
}

int outbound_record(cs_db_t *db, const outbound_config_t *cfg, const Cs__Envelope *env,
                    const outbound_t *o, const char *status, const char *reason)
{
    char id[CS_UUID_LEN], err[256];
    cs_uuid(id);
    char *message_id = letter_message_id_new(o->ticket_number, cfg->domain, err, sizeof(err));
    char *vars = json_dumps(o->vars, JSON_COMPACT);
    int rc = -1;
    if (!message_id || !vars) {
        cs_error("notify: cannot prepare notification for event %s: %s", env->event_id,
                 message_id ? "out of memory" : err);
        goto out_free;
    }
    const char *p[] = {id,
                       env->event_id,
                       env->type,
                       o->kind,
                       o->recipient,
                       o->recipient_name,
                       o->ticket_number,
                       o->language,
                       o->automatic ? "true" : "false",
                       vars,
                       o->in_reply_to,
                       status,
                       reason,
                       message_id,
                       o->channel};
    PGresult *r = cs_db_exec(
        db,
        "INSERT INTO notifications (id, source_event_id, source_type, kind, recipient,"
        " recipient_name, ticket_number, language, automatic, vars, in_reply_to, status,"
        " reason, message_id, channel)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15)"
        " ON CONFLICT (source_event_id, channel, recipient) DO NOTHING RETURNING id",
        15, p);
    if (!r)
        goto out_free;
    int inserted = PQntuples(r) == 1;
    PQclear(r);
    if (!inserted) {
        rc = 1; /* this event was recorded before: a replay changes nothing */
        goto out_free;
    }
    if (strcmp(status, "queued") == 0) {
        /* Delivered to the delivery worker's LISTEN at commit, not before. */
        r = cs_db_exec(db, "SELECT pg_notify('notify_queued', '')", 0, NULL);
        PQclear(r);
        if (!r)
            goto out_free;
    } else {
        Cs__NotificationEvent ev = CS__NOTIFICATION_EVENT__INIT;
        ev.notification_id = id;
        ev.source_event_id = env->event_id;
        ev.kind = (char *)o->kind;
        ev.recipient = (char *)o->recipient;
        ev.ticket_number = (char *)o->ticket_number;
        ev.status = (char *)status;
        ev.detail = (char *)reason;
        ev.message_id = message_id;
        if (outbound_emit(db, "notification.failed", &ev) < 0)
            goto out_free;
        cs_warn("notify: %s (%s) for ticket %s held back (%s): %s", o->kind, o->channel,
                o->ticket_number, status, reason);
    }
    outbound_count(o->kind, status);
    rc = 0;
out_free:
    free(vars);
    free(message_id);
    return rc;
}

int outbound_on_event(cs_db_t *db, const Cs__Envelope *env, void *ctx)
{
    const outbound_config_t *cfg = ctx;
    if (!cs_is_uuid(env->event_id)) {
        cs_error("notify: %s event without a UUID event id; skipped", env->type);
        return 1;
    }
    char *subject = NULL;
    if (env->body_case == CS__ENVELOPE__BODY_SURVEY_EVENT && env->survey_event &&
        env->survey_event->number && strlen(env->survey_event->number) <= OUTBOUND_NUMBER_MAX)
        subject = s_known_subject(db, env->survey_event->number);
    outbound_t *o = NULL;
    const char *why = NULL;
    int rc = outbound_from_event(env, subject, &o, &why);
    free(subject);
    if (rc == OUTBOUND_ERROR)
        return -1;
    if (rc == OUTBOUND_NONE) {
        cs_info("notify: %s event %s needs no mail (%s)", env->type, env->event_id, why);
        return 1;
    }
    const char *status = "queued", *reason = outbound_address_problem(o->recipient);
    if (reason) {
        status = "suppressed";
    } else if (o->automatic) {
        int64_t n = s_mails_last_day(db, o->recipient);
        if (n < 0) {
            outbound_destroy(&o);
            return -1;
        }
        if (outbound_over_daily_cap(o, n, cfg->daily_cap)) {
            status = "capped";
            reason = "daily_cap";
        }
    }
    rc = outbound_record(db, cfg, env, o, status, reason ? reason : "");
    outbound_destroy(&o);
    return rc;
}
