/*
 * delivery — see delivery.h for the state machine and the at-least-once argument.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cs_config.h"
#include "cs_log.h"
#include "delivery.h"
#include "http_out.h"
#include "outbound.h"

struct delivery {
    const delivery_config_t *cfg;
    const letter_templates_t *templates;
    cs_service_t *svc;
    cs_db_t *db; /* the worker's own connection */
    pthread_t thread;
    int running;
    atomic_int stop;
};

/* ---- configuration ---------------------------------------------------------------- */

int delivery_parse_mailbox(const char *text, char *name, size_t name_size, char *addr,
                           size_t addr_size)
{
    const char *lt = strrchr(text, '<');
    const char *a = text, *a_end = text + strlen(text);
    size_t name_len = 0;
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1] != '\0')
            return -1;
        a = lt + 1;
        a_end = gt;
        name_len = (size_t)(lt - text);
        while (name_len > 0 && text[name_len - 1] == ' ')
            name_len--;
    }
    size_t addr_len = (size_t)(a_end - a);
    if (addr_len == 0 || addr_len >= addr_size || name_len >= name_size)
        return -1;
    memcpy(addr, a, addr_len);
    addr[addr_len] = '\0';
    memcpy(name, text, name_len);
    name[name_len] = '\0';
    /* our own sender may well be a no-reply address; it must only be a plain one */
    const char *problem = outbound_address_problem(addr);
    return problem && strcmp(problem, "invalid_address") == 0 ? -1 : 0;
}

int delivery_config_load(delivery_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->maildir = cs_env("CS_NOTIFY_MAILDIR", "var/mail");
    cfg->smtp_url = cs_env("CS_NOTIFY_SMTP_URL", NULL);
    const char *from = cs_env("CS_NOTIFY_FROM", "Petrocs 客户服务 <service@petrocs.example>");
    if (delivery_parse_mailbox(from, cfg->from_name, sizeof(cfg->from_name), cfg->from_addr,
                               sizeof(cfg->from_addr)) < 0) {
        cs_error("config: CS_NOTIFY_FROM is not \"Name <address>\" or a plain address");
        return -1;
    }
    int64_t connect_ms, timeout_ms;
    if (cs_env_int("CS_NOTIFY_MAX_ATTEMPTS", 8, 1, 1000, &cfg->max_attempts) < 0 ||
        cs_env_int("CS_NOTIFY_RETRY_BASE_S", 60, 1, 86400, &cfg->retry_base_s) < 0 ||
        cs_env_int("CS_NOTIFY_RETRY_MAX_S", 21600, 1, 7 * 86400, &cfg->retry_max_s) < 0 ||
        cs_env_int("CS_NOTIFY_SMTP_CONNECT_TIMEOUT_MS", 5000, 100, 600000, &connect_ms) < 0 ||
        cs_env_int("CS_NOTIFY_SMTP_TIMEOUT_MS", 30000, 100, 600000, &timeout_ms) < 0)
        return -1;
    const char *tls = cs_env("CS_NOTIFY_SMTP_STARTTLS", "optional");
    if (strcmp(tls, "none") == 0)
        cfg->smtp.starttls = MAIL_OUT_STARTTLS_NONE;
    else if (strcmp(tls, "optional") == 0)
        cfg->smtp.starttls = MAIL_OUT_STARTTLS_OPTIONAL;
    else if (strcmp(tls, "required") == 0)
        cfg->smtp.starttls = MAIL_OUT_STARTTLS_REQUIRED;
    else {
        cs_error("config: CS_NOTIFY_SMTP_STARTTLS must be none, optional or required");
        return -1;
    }
    cfg->smtp.url = cfg->smtp_url;
    cfg->smtp.helo = cs_env("CS_NOTIFY_SMTP_HELO", NULL);
    cfg->smtp.username = cs_env("CS_NOTIFY_SMTP_USER", NULL);
    cfg->smtp.password = cs_env("CS_NOTIFY_SMTP_PASSWORD", NULL);
    cfg->smtp.ca_file = cs_env("CS_NOTIFY_SMTP_CA_FILE", NULL);
    cfg->smtp.connect_timeout_ms = (long)connect_ms;
    cfg->smtp.timeout_ms = (long)timeout_ms;
    int64_t html;
    if (cs_env_int("CS_NOTIFY_HTML", 1, 0, 1, &html) < 0)
        return -1;
    cfg->html = html == 1;
    return gateway_config_load(&cfg->gateway);
}

int64_t delivery_backoff_s(const delivery_config_t *cfg, int64_t attempts)
{
    int64_t wait = cfg->retry_base_s;
    for (int64_t i = 1; i < attempts && wait < cfg->retry_max_s; i++)
        wait *= 2;
    return wait < cfg->retry_max_s ? wait : cfg->retry_max_s;
}

/* ---- one notification --------------------------------------------------------------- */

/* The row as the SELECT below returns it. */
enum {
    C_ID,
    C_EVENT,
    C_KIND,
    C_RCPT,
    C_NAME,
    C_NUMBER,
    C_LANG,
    C_AUTO,
    C_VARS,
    C_REPLY_TO,
    C_MSGID,
    C_ATTEMPTS,
    C_CHANNEL
};

typedef struct {
    const char *status; /* sent, deferred, failed */
    char detail[512];   /* why it is not sent */
    char reply[512];    /* the relay's last reply */
    char path[1024];    /* the maildir file */
} s_outcome_t;

/* A Message-ID we may thread to: "<...>" of visible ASCII, nothing a header could be
 * split on.  The customer's original id came from their mail; it is not trusted. */
static int s_threadable(const char *id)
{
    size_t n = strlen(id);
    if (n < 3 || n > 250 || id[0] != '<' || id[n - 1] != '>')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~')
            return 0;
    return 1;
}

/* Render and compose the row's letter — or, for SMS and voice, the text: its subject
 * line; NULL with out->detail set when it cannot be. */
static char *s_compose(delivery_t *self, const PGresult *r, size_t *len, s_outcome_t *out)
{
    char *subject = NULL, *body = NULL, *msg = NULL, *html = NULL;
    letter_vars_t *vars = letter_vars_new();
    json_t *obj = json_loads(cs_db_get(r, 0, C_VARS), 0, NULL);
    if (!vars || !json_is_object(obj)) {
        snprintf(out->detail, sizeof(out->detail), "stored template variables unreadable");
        goto out_free;
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        if (json_is_string(value) && letter_vars_set(vars, key, json_string_value(value)) < 0) {
            snprintf(out->detail, sizeof(out->detail), "template variable %.64s rejected", key);
            goto out_free;
        }
    }
    const char *kind = cs_db_get(r, 0, C_KIND), *lang = cs_db_get(r, 0, C_LANG);
    if (letter_render(self->templates, kind, lang, vars, &subject, &body, out->detail,
                      sizeof(out->detail)) < 0)
        goto out_free;
    if (strcmp(cs_db_get(r, 0, C_CHANNEL), "email") != 0) {
        msg = subject; /* a text message: the subject line says it all */
        subject = NULL;
        *len = strlen(msg);
        goto out_free;
    }
    if (self->cfg->html && !(html = letter_html_from_text(body, lang))) {
        snprintf(out->detail, sizeof(out->detail), "out of memory for the HTML part");
        goto out_free;
    }
    const char *reply_to = cs_db_get(r, 0, C_REPLY_TO);
    letter_msg_t m = {
        .from = {self->cfg->from_addr, self->cfg->from_name[0] ? self->cfg->from_name : NULL},
        .to = {cs_db_get(r, 0, C_RCPT), *cs_db_get(r, 0, C_NAME) ? cs_db_get(r, 0, C_NAME) : NULL},
        .subject = subject,
        .text_body = body,
        .html_body = html,
        .message_id = cs_db_get(r, 0, C_MSGID),
        .in_reply_to = s_threadable(reply_to) ? reply_to : NULL,
        .references = s_threadable(reply_to) ? reply_to : NULL,
        .ticket_no = cs_db_get(r, 0, C_NUMBER),
        .auto_submitted = strcmp(cs_db_get(r, 0, C_AUTO), "t") == 0,
    };
    msg = letter_compose_rfc5322(&m, len, out->detail, sizeof(out->detail));
    if (!msg && m.to.display_name) {
        /* a name no header can carry must not cost the customer the letter */
        m.to.display_name = NULL;
        msg = letter_compose_rfc5322(&m, len, out->detail, sizeof(out->detail));
    }
out_free:
    json_decref(obj);
    letter_vars_destroy(&vars);
    free(subject);
    free(body);
    free(html);
    return msg;
}

/* Hand the message over; fills out->status with sent / deferred / failed. */
static void s_send(delivery_t *self, const PGresult *r, const char *msg, size_t len,
                   s_outcome_t *out)
{
    char err[512] = "";
    const char *channel = cs_db_get(r, 0, C_CHANNEL);
    if (strcmp(channel, "email") != 0) {
        int rc = gateway_send(&self->cfg->gateway, channel, cs_db_get(r, 0, C_RCPT), msg,
                              cs_db_get(r, 0, C_ID), cs_db_get(r, 0, C_NUMBER), out->reply,
                              sizeof(out->reply), err, sizeof(err));
        out->status = rc == HTTP_OUT_SENT        ? "sent"
                      : rc == HTTP_OUT_PERMANENT ? "failed"
                                                 : "deferred";
    } else if (!self->cfg->smtp_url) {
        if (mail_out_maildir(self->cfg->maildir, msg, len, out->path, sizeof(out->path), err,
                             sizeof(err)) == 0) {
            out->status = "sent";
            return;
        }
        out->status = "deferred"; /* a full or read-only disk is an operator's fix */
    } else {
        const char *rcpt[] = {cs_db_get(r, 0, C_RCPT)};
        int rc = mail_out_smtp(&self->cfg->smtp, self->cfg->from_addr, rcpt, 1, msg, len,
                               out->reply, sizeof(out->reply), err, sizeof(err));
        out->status = rc == MAIL_OUT_SENT        ? "sent"
                      : rc == MAIL_OUT_PERMANENT ? "failed"
                                                 : "deferred";
    }
    snprintf(out->detail, sizeof(out->detail), "%s", err);
}

/* Record the outcome on the locked row, with its event, in the open transaction. */
static int s_record(delivery_t *self, cs_db_t *db, const PGresult *r, s_outcome_t *out)
{
    int64_t attempts = cs_db_get_i64(r, 0, C_ATTEMPTS) + 1;
    if (strcmp(out->status, "deferred") == 0 && attempts >= self->cfg->max_attempts)
        out->status = "failed";
    char attempts_s[24], wait_s[24];
    cs_db_i64(attempts_s, attempts);
    cs_db_i64(wait_s, delivery_backoff_s(self->cfg, attempts));
    const char *p[] = {cs_db_get(r, 0, C_ID), out->status, attempts_s, wait_s,
                       out->detail,           out->reply,  out->path};
    if (cs_db_cmd(db,
                  "UPDATE notifications SET status = $2, attempts = $3,"
                  " next_attempt_at = CASE WHEN $2 = 'deferred'"
                  "   THEN now() + make_interval(secs => $4::bigint) ELSE next_attempt_at END,"
                  " reason = $5, smtp_reply = $6, path = $7, updated_at = now(),"
                  " sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END"
                  " WHERE id = $1",
                  7, p) != 1)
        return -1;
    if (strcmp(out->status, "deferred") == 0)
        return 0; /* still on its way: no event, the next attempt decides */
    Cs__NotificationEvent ev = CS__NOTIFICATION_EVENT__INIT;
    ev.notification_id = (char *)cs_db_get(r, 0, C_ID);
    ev.source_event_id = (char *)cs_db_get(r, 0, C_EVENT);
    ev.kind = (char *)cs_db_get(r, 0, C_KIND);
    ev.recipient = (char *)cs_db_get(r, 0, C_RCPT);
    ev.ticket_number = (char *)cs_db_get(r, 0, C_NUMBER);
    ev.status = (char *)out->status;
    ev.detail = strcmp(out->status, "sent") == 0 ? out->reply : out->detail;
    ev.message_id = (char *)cs_db_get(r, 0, C_MSGID);
    return outbound_emit(
        db, strcmp(out->status, "sent") == 0 ? "notification.sent" : "notification.failed", &ev);
}

int delivery_next(delivery_t *self, cs_db_t *db)
{
    if (cs_db_begin(db) < 0)
        return -1;
    PGresult *r =
        cs_db_exec(db,
                   "SELECT id, source_event_id, kind, recipient, recipient_name, ticket_number,"
                   " language, automatic, vars::text, in_reply_to, message_id, attempts, channel"
                   " FROM notifications"
                   " WHERE status IN ('queued', 'deferred') AND next_attempt_at <= now()"
                   " ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                   0, NULL);
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return cs_db_commit(db) < 0 ? -1 : 0;
    }
    s_outcome_t out = {.status = "failed"};
    size_t len = 0;
    char *msg = s_compose(self, r, &len, &out);
    if (msg)
        s_send(self, r, msg, len, &out);
    free(msg);
    if (s_record(self, db, r, &out) < 0 || cs_db_commit(db) < 0) {
        /* The mail may be out already; the row stays queued and goes again. */
        cs_error("notify: outcome of notification %s (%s) not recorded; it will be retried",
                 cs_db_get(r, 0, C_ID), out.status);
        PQclear(r);
        goto out_rollback;
    }
    outbound_count(cs_db_get(r, 0, C_KIND), out.status);
    if (strcmp(out.status, "sent") == 0)
        cs_info("notify: %s for ticket %s sent (notification %s)", cs_db_get(r, 0, C_KIND),
                cs_db_get(r, 0, C_NUMBER), cs_db_get(r, 0, C_ID));
    else /* the reply code only: relays echo addresses in their texts */
        cs_warn("notify: %s for ticket %s %s after attempt %lld (notification %s): reply %.9s",
                cs_db_get(r, 0, C_KIND), cs_db_get(r, 0, C_NUMBER), out.status,
                (long long)cs_db_get_i64(r, 0, C_ATTEMPTS) + 1, cs_db_get(r, 0, C_ID),
                out.reply[0] ? out.reply : "none");
    PQclear(r);
    if (self->svc)
        cs_service_kick(self->svc);
    return 1;
out_rollback:
    if (cs_db_in_tx(db))
        cs_db_rollback(db);
    return -1;
}

/* ---- bounces ------------------------------------------------------------------------- */

/* "<id@host>" from a Message-ID as a report gives it (GMime drops the brackets; some
 * reports keep them): NULL when it cannot be one of ours. */
static int s_bracketed_id(const char *raw, char *out, size_t size)
{
    while (*raw == ' ' || *raw == '<')
        raw++;
    size_t n = strcspn(raw, "> \t\r\n");
    if (n == 0 || n + 3 > size || !memchr(raw, '@', n))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (raw[i] <= ' ' || raw[i] > '~')
            return -1;
    snprintf(out, size, "<%.*s>", (int)n, raw);
    return 0;
}

/* Printable ASCII of s, at most size-1 bytes: a report's fields go to the log table. */
static void s_printable(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < size; s++)
        out[o++] = (*s >= ' ' && *s <= '~') ? *s : ' ';
    out[o] = '\0';
}

int delivery_on_bounce(cs_db_t *db, const Cs__Envelope *env)
{
    const Cs__MailRejected *mr = env->mail_rejected;
    char id[256];
    if (!mr || !mr->reason || strcmp(mr->reason, "bounce") != 0 ||
        !mr->bounce_original_message_id ||
        s_bracketed_id(mr->bounce_original_message_id, id, sizeof(id)) < 0)
        return 1;
    char status[32], rcpt[256], detail[256], reply[600];
    s_printable(status, sizeof(status), mr->bounce_status);
    s_printable(rcpt, sizeof(rcpt), mr->bounce_recipient);
    s_printable(detail, sizeof(detail), mr->detail);
    snprintf(reply, sizeof(reply), "bounce %s%s%s%s%s", status[0] ? status : "(no status)",
             rcpt[0] ? " for " : "", rcpt, detail[0] ? ": " : "", detail);
    char reason[64];
    snprintf(reason, sizeof(reason), "bounced %s", status[0] ? status : "");
    PGresult *r = cs_db_exec(db,
                             "UPDATE notifications SET status = 'bounced', bounced_at = now(),"
                             " reason = $2, smtp_reply = $3, updated_at = now()"
                             " WHERE message_id = $1 AND channel = 'email'"
                             " AND status IN ('sent', 'queued', 'deferred', 'failed')"
                             " RETURNING id, source_event_id, kind, recipient, ticket_number",
                             3, (const char *[]){id, reason, reply});
    if (!r)
        return -1;
    int n = PQntuples(r), rc = n ? 0 : 1;
    for (int i = 0; i < n && rc == 0; i++) {
        Cs__NotificationEvent ev = CS__NOTIFICATION_EVENT__INIT;
        ev.notification_id = (char *)cs_db_get(r, i, 0);
        ev.source_event_id = (char *)cs_db_get(r, i, 1);
        ev.kind = (char *)cs_db_get(r, i, 2);
        ev.recipient = (char *)cs_db_get(r, i, 3);
        ev.ticket_number = (char *)cs_db_get(r, i, 4);
        ev.status = "bounced";
        ev.detail = reply;
        ev.message_id = id;
        if (outbound_emit(db, "notification.failed", &ev) < 0)
            rc = -1;
        else {
            outbound_count(ev.kind, "bounced");
            cs_warn("notify: %s for ticket %s bounced (%s, notification %s)", ev.kind,
                    ev.ticket_number, status[0] ? status : "no status", ev.notification_id);
        }
    }
    if (n == 0)
        cs_info("notify: a bounce for a Message-ID that is none of ours; ignored");
    PQclear(r);
    return rc;
}

/* ---- the worker ---------------------------------------------------------------------- */

/* Sleep until a NOTIFY arrives or ms pass, then drain the notifications. */
static void *s_worker(void *arg)
{
    delivery_t *self = arg;
    int listening_pid = 0;
    while (!atomic_load(&self->stop) && !cs_service_stopping()) {
        if (cs_db_ensure(self->db) < 0) {
            usleep(200 * 1000);
            continue;
        }
        int pid = PQbackendPID(cs_db_conn(self->db));
        if (pid != listening_pid) { /* a new session forgets LISTEN */
            if (cs_db_cmd(self->db, "LISTEN notify_queued", 0, NULL) < 0)
                continue;
            listening_pid = pid;
        }
        int n = 0;
        for (int i = 0; i < 100 && !atomic_load(&self->stop); i++)
            if ((n = delivery_next(self, self->db)) <= 0)
                break;
        if (n <= 0)
            cs_db_wait_notify(self->db, n < 0 ? 200 : 1000);
    }
    return NULL;
}

delivery_t *delivery_new(const delivery_config_t *cfg, const letter_templates_t *templates,
                         cs_service_t *svc)
{
    delivery_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->templates = templates;
    self->svc = svc;
    return self;
}

int delivery_start(delivery_t *self)
{
    self->db = cs_service_db_new(self->svc, "delivery");
    if (!self->db)
        return -1;
    atomic_store(&self->stop, 0);
    if (pthread_create(&self->thread, NULL, s_worker, self) != 0) {
        cs_db_destroy(&self->db);
        return -1;
    }
    self->running = 1;
    return 0;
}

void delivery_stop(delivery_t *self)
{
    if (!self || !self->running)
        return;
    atomic_store(&self->stop, 1);
    pthread_join(self->thread, NULL);
    self->running = 0;
    cs_db_destroy(&self->db);
}

void delivery_destroy(delivery_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    delivery_stop(*self_p);
    free(*self_p);
    *self_p = NULL;
}
