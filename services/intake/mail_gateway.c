/*
 * mail_gateway — see mail_gateway.h.
 *
 * Every message the listener took (250) has a row in mail_messages with its
 * raw bytes and its outcome; a failure to commit answers 451 so that the
 * sending MTA keeps the message and retries. Nothing is dropped silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cs_bus.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "mail_gateway.h"
#include "mail_parse.h"
#include "ticket.h"

struct mail_gateway {
    cs_service_t *svc;
    cs_db_t *db;
    smtp_server_t *server;
    char own_addresses[1024]; /* comma-separated, lower case */
};

typedef struct {
    const char *outcome; /* ticket, reply, duplicate, rejected */
    const char *reason;  /* for rejected */
    char detail[256];
    char ticket_id[CS_UUID_LEN];
    char number[INTAKE_NUMBER_LEN];
} decision_t;

static const char *s_nz(const char *s)
{
    return s ? s : "";
}

static int s_is_own_address(mail_gateway_t *self, const char *addr)
{
    if (!addr || !*addr)
        return 0;
    size_t n = strlen(addr);
    const char *p = self->own_addresses;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, addr, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* May from_addr add to the ticket? Its customer, or a colleague at the
   customer's domain (replies often come from whoever is in copy). Anyone
   else opens a ticket of their own: a ticket number is easy to guess. */
static int s_sender_may_reply(cs_db_t *db, const char *ticket_id, const char *from_addr)
{
    const char *p[] = {ticket_id, from_addr};
    PGresult *r =
        cs_db_exec(db,
                   "SELECT 1 FROM tickets t JOIN customers c ON c.id = t.customer_id"
                   " WHERE t.id = $1 AND (lower(c.email) = lower($2)"
                   "  OR split_part(lower(c.email), '@', 2) = split_part(lower($2), '@', 2))",
                   2, p);
    if (!r)
        return -1;
    int ok = PQntuples(r) > 0;
    PQclear(r);
    return ok;
}

/* The ticket a message answers: by In-Reply-To / References against the
   Message-IDs intake has seen or notify wrote (<CS-2026-000123.x@domain>),
   then by a ticket number in the subject. 1 found, 0 not, -1 db error. */
static int s_thread(cs_db_t *db, const mail_parsed_t *m, decision_t *d)
{
    const char *ids[64];
    size_t n = 0;
    if (m->in_reply_to)
        ids[n++] = m->in_reply_to;
    for (size_t i = 0; m->references && m->references[i] && n < 64; i++)
        ids[n++] = m->references[i];
    for (size_t i = 0; i < n; i++) {
        const char *p[] = {ids[i]};
        PGresult *r = cs_db_exec(db,
                                 "SELECT t.id, t.number FROM mail_messages mm JOIN tickets t"
                                 " ON t.id = mm.ticket_id WHERE mm.message_id = $1"
                                 " AND mm.outcome IN ('ticket', 'reply') LIMIT 1",
                                 1, p);
        if (!r)
            return -1;
        if (PQntuples(r) == 1) {
            snprintf(d->ticket_id, sizeof(d->ticket_id), "%s", PQgetvalue(r, 0, 0));
            snprintf(d->number, sizeof(d->number), "%s", PQgetvalue(r, 0, 1));
            PQclear(r);
            return 1;
        }
        PQclear(r);
        char number[INTAKE_NUMBER_LEN];
        if (strncasecmp(ids[i], "CS-", 3) == 0 &&
            intake_find_number(ids[i], number, sizeof(number)) &&
            intake_ticket_by_number(db, number, d->ticket_id) == 0) {
            snprintf(d->number, sizeof(d->number), "%s", number);
            return 1;
        }
    }
    char number[INTAKE_NUMBER_LEN];
    if (m->subject && intake_find_number(m->subject, number, sizeof(number)) &&
        intake_ticket_by_number(db, number, d->ticket_id) == 0) {
        snprintf(d->number, sizeof(d->number), "%s", number);
        return 1;
    }
    return 0;
}

/* The same sender already sent this Message-ID as a ticket or reply:
   1 (d filled), 0, -1. Another sender reusing an id is not a duplicate. */
static int s_seen(cs_db_t *db, const char *message_id, const char *from_addr, decision_t *d)
{
    if (!message_id)
        return 0;
    const char *p[] = {message_id, from_addr};
    PGresult *r = cs_db_exec(db,
                             "SELECT t.id, t.number FROM mail_messages mm JOIN tickets t"
                             " ON t.id = mm.ticket_id WHERE mm.message_id = $1"
                             " AND lower(mm.from_addr) = lower($2)"
                             " AND mm.outcome IN ('ticket', 'reply')",
                             2, p);
    if (!r)
        return -1;
    int found = PQntuples(r) > 0;
    if (found) {
        snprintf(d->ticket_id, sizeof(d->ticket_id), "%s", PQgetvalue(r, 0, 0));
        snprintf(d->number, sizeof(d->number), "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}

static int s_emit_rejected(cs_db_t *db, const mail_parsed_t *m, const decision_t *d,
                           const char *envelope_from)
{
    Cs__MailRejected mr = CS__MAIL_REJECTED__INIT;
    mr.reason = (char *)d->reason;
    mr.detail = (char *)d->detail;
    mr.message_id = (char *)s_nz(m ? m->message_id : NULL);
    mr.from_addr = (char *)(m && m->from_addr ? m->from_addr : envelope_from);
    if (m && m->kind == MAIL_KIND_BOUNCE) {
        mr.bounce_original_message_id = (char *)s_nz(m->bounce_original_message_id);
        mr.bounce_recipient = (char *)s_nz(m->bounce_recipient);
        mr.bounce_status = (char *)s_nz(m->bounce_status);
    }
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_MAIL_REJECTED;
    env.mail_rejected = &mr;
    return cs_bus_emit(db, "intake.mail.rejected", &env);
}

static int s_emit_reply(cs_db_t *db, const mail_parsed_t *m, const decision_t *d,
                        int64_t received_ms)
{
    char *text = strdup(s_nz(m->text));
    if (!text)
        return -1;
    intake_utf8_cut(text, INTAKE_BUS_TEXT_MAX);
    Cs__CustomerReplied cr = CS__CUSTOMER_REPLIED__INIT;
    cr.ticket_id = (char *)d->ticket_id;
    cr.number = (char *)d->number;
    cr.received_at_ms = received_ms;
    cr.from_addr = (char *)s_nz(m->from_addr);
    cr.subject = (char *)s_nz(m->subject);
    cr.text = text;
    cr.message_id = (char *)s_nz(m->message_id);
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_CUSTOMER_REPLIED;
    env.customer_replied = &cr;
    int rc = cs_bus_emit(db, "intake.ticket.customer_replied", &env);
    free(text);
    return rc;
}

static int s_store_message(cs_db_t *db, const char *mail_id, const decision_t *d,
                           const mail_parsed_t *m, const char *envelope_from, const char *data,
                           size_t len)
{
    char size[24];
    const char *p[] = {mail_id,
                       d->outcome,
                       d->reason,
                       d->detail[0] ? d->detail : NULL,
                       d->ticket_id[0] ? d->ticket_id : NULL,
                       m ? m->message_id : NULL,
                       envelope_from,
                       m ? m->from_addr : NULL,
                       m ? m->subject : NULL,
                       m ? m->text : NULL,
                       data,
                       cs_db_i64(size, (int64_t)len)};
    int lengths[12] = {0};
    int formats[12] = {0};
    lengths[10] = (int)len;
    formats[10] = 1;
    PGresult *r = cs_db_exec_bin(db,
                                 "INSERT INTO mail_messages (id, outcome, reason, detail,"
                                 " ticket_id, message_id, envelope_from, from_addr, subject, text,"
                                 " raw, size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                                 " $11, $12)",
                                 12, p, lengths, formats, 0);
    if (!r)
        return -1;
    PQclear(r);
    for (size_t i = 0; m && i < m->attachment_count; i++) {
        const mail_attachment_t *a = &m->attachments[i];
        char asize[24];
        const char *q[] = {mail_id,
                           a->filename,
                           a->content_type ? a->content_type : "application/octet-stream",
                           cs_db_i64(asize, (int64_t)a->size),
                           a->sha256,
                           a->inline_part ? "true" : "false"};
        if (cs_db_cmd(db,
                      "INSERT INTO attachments (mail_id, filename, content_type, size, sha256,"
                      " inline_part) VALUES ($1, $2, $3, $4, $5, $6)",
                      6, q) != 1)
            return -1;
    }
    return 0;
}

/* Decide and record, inside an open transaction. 0 or -1. */
static int s_decide(mail_gateway_t *self, const smtp_envelope_t *env, const mail_parsed_t *m,
                    const char *parse_err, const char *data, size_t len, decision_t *d)
{
    cs_db_t *db = self->db;
    int64_t now = cs_now_ms();
    memset(d, 0, sizeof(*d));
    if (!m) {
        d->outcome = "rejected";
        d->reason = "parse_error";
        snprintf(d->detail, sizeof(d->detail), "%s", parse_err);
    } else if (m->kind != MAIL_KIND_NORMAL) {
        d->outcome = "rejected";
        d->reason = m->kind == MAIL_KIND_BOUNCE ? "bounce"
                    : m->kind == MAIL_KIND_BULK ? "bulk"
                                                : "auto_reply";
        snprintf(d->detail, sizeof(d->detail), "%s", s_nz(m->kind_reason));
    } else if (!m->from_addr) {
        d->outcome = "rejected";
        d->reason = "no_sender";
        snprintf(d->detail, sizeof(d->detail), "no usable From address");
    } else if (s_is_own_address(self, m->from_addr)) {
        d->outcome = "rejected";
        d->reason = "loop";
        snprintf(d->detail, sizeof(d->detail), "sent from one of our own addresses");
    }
    if (!d->outcome) {
        int seen = s_seen(db, m->message_id, m->from_addr, d);
        if (seen < 0)
            return -1;
        if (seen) {
            d->outcome = "duplicate";
            snprintf(d->detail, sizeof(d->detail), "Message-ID already received");
        }
    }
    if (!d->outcome) {
        int threaded = s_thread(db, m, d);
        if (threaded < 0)
            return -1;
        if (threaded) {
            int may = s_sender_may_reply(db, d->ticket_id, m->from_addr);
            if (may < 0)
                return -1;
            if (may) {
                d->outcome = "reply";
            } else {
                cs_info("mail: answer to %s from another sender opens a ticket of its own",
                        d->number);
                d->ticket_id[0] = d->number[0] = 0;
            }
        }
    }
    char mail_id[CS_UUID_LEN];
    cs_uuid(mail_id);
    if (!d->outcome) {
        intake_request_t rq = {0};
        rq.channel = "email";
        rq.name = m->from_name && *m->from_name ? m->from_name : m->from_addr;
        rq.email = m->from_addr;
        rq.language = m->language;
        rq.subject = m->subject;
        rq.body = m->text;
        rq.message_id = m->message_id;
        rq.from_addr = m->from_addr;
        rq.from_name = m->from_name;
        rq.attachment_count = (int)m->attachment_count;
        rq.received_at_ms = now;
        rq.trace_id = mail_id;
        intake_result_t res;
        if (intake_ticket_create(db, &rq, &res) < 0)
            return -1;
        d->outcome = "ticket";
        snprintf(d->ticket_id, sizeof(d->ticket_id), "%s", res.ticket_id);
        snprintf(d->number, sizeof(d->number), "%s", res.number);
    }
    if (s_store_message(db, mail_id, d, m, env->mail_from, data, len) < 0)
        return -1;
    if (strcmp(d->outcome, "rejected") == 0)
        return s_emit_rejected(db, m, d, env->mail_from);
    if (strcmp(d->outcome, "reply") == 0)
        return s_emit_reply(db, m, d, now);
    return 0;
}

static void s_reply_text(const decision_t *d, char *reply, size_t size)
{
    if (strcmp(d->outcome, "ticket") == 0)
        snprintf(reply, size, "250 2.0.0 %s created", d->number);
    else if (strcmp(d->outcome, "reply") == 0)
        snprintf(reply, size, "250 2.0.0 %s reply", d->number);
    else if (strcmp(d->outcome, "duplicate") == 0)
        snprintf(reply, size, "250 2.0.0 duplicate of %s", d->number);
    else {
        /* the detail comes from the message: keep the reply one clean line */
        char detail[160];
        size_t j = 0;
        for (size_t i = 0; d->detail[i] && j + 1 < sizeof(detail); i++) {
            unsigned char c = (unsigned char)d->detail[i];
            detail[j++] = (c < 0x20 || c > 0x7e) ? ' ' : (char)c;
        }
        detail[j] = 0;
        snprintf(reply, size, "250 2.0.0 no ticket: %s (%s)", d->reason, detail);
    }
}

static int s_deliver(void *ctx, const smtp_envelope_t *env, const char *data, size_t len,
                     char *reply, size_t replylen, char **rcpt_replies)
{
    (void)rcpt_replies; /* one message, one ticket: the same answer for every recipient */
    mail_gateway_t *self = ctx;
    if (cs_db_ensure(self->db) < 0)
        return -1; /* 451: the MTA keeps the message and retries */
    mail_parsed_t m;
    char err[256] = "";
    int parsed = mail_parse(data, len, &m, err, sizeof(err)) == 0;
    decision_t d;
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (cs_db_begin(self->db) < 0)
            break;
        if (s_decide(self, env, parsed ? &m : NULL, err, data, len, &d) < 0) {
            int unique = strcmp(cs_db_sqlstate(self->db), "23505") == 0;
            cs_db_rollback(self->db);
            if (!unique)
                break;
            continue; /* a concurrent copy of the same message: decide again */
        }
        /* Never retried after the commit: its outcome may be unknown, and the
           451 that follows a failure makes the sending MTA try again. */
        rc = cs_db_commit(self->db);
        break;
    }
    if (parsed)
        mail_parsed_free(&m);
    if (rc < 0) {
        cs_counter_add("cs_intake_mail_total", "outcome=\"deferred\"", 1);
        return -1;
    }
    cs_service_kick(self->svc);
    s_reply_text(&d, reply, replylen);
    char labels[96];
    if (strcmp(d.outcome, "rejected") == 0)
        snprintf(labels, sizeof(labels), "outcome=\"rejected\",reason=\"%s\"", d.reason);
    else
        snprintf(labels, sizeof(labels), "outcome=\"%s\"", d.outcome);
    cs_counter_add("cs_intake_mail_total", labels, 1);
    if (strcmp(d.outcome, "ticket") == 0)
        cs_counter_add("cs_intake_tickets_total", "channel=\"email\"", 1);
    cs_info("mail: %s %s (%zu bytes)", d.outcome, d.number[0] ? d.number : s_nz(d.reason), len);
    return 0;
}

mail_gateway_t *mail_gateway_start(cs_service_t *svc)
{
    int64_t port, max_bytes, per_ip;
    if (cs_env_svc_int("intake", "SMTP_PORT", 2525, 0, 65535, &port) < 0 ||
        cs_env_svc_int("intake", "SMTP_MAX_PER_IP", 20, 1, 10000, &per_ip) < 0 ||
        cs_env_svc_int("intake", "SMTP_MAX_BYTES", 25 * 1024 * 1024, 1024, 1LL << 30, &max_bytes) <
            0)
        return NULL;
    mail_gateway_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->svc = svc;
    const char *own = cs_env_svc("intake", "OWN_ADDRESSES",
                                 "service@petrocs.example,cs@petrocs.example,"
                                 "noreply@petrocs.example");
    snprintf(self->own_addresses, sizeof(self->own_addresses), "%s", own);
    mail_parse_init();
    self->db = cs_service_db_new(svc, "smtp");
    if (!self->db)
        goto fail;
    smtp_server_config_t cfg = {0};
    cfg.bind_addr = cs_env_svc("intake", "BIND", cs_env_svc("intake", "HOST", "127.0.0.1"));
    cfg.port = (int)port;
    cfg.hostname = cs_env_svc("intake", "SMTP_HOSTNAME", NULL);
    cfg.max_message_bytes = (size_t)max_bytes;
    cfg.max_connections_per_ip = (int)per_ip;
    cfg.deliver = s_deliver;
    cfg.deliver_ctx = self;
    char err[256];
    self->server = smtp_server_new(&cfg, err, sizeof(err));
    if (!self->server) {
        cs_error("smtp: %s", err);
        goto fail;
    }
    if (smtp_server_start(self->server) < 0) {
        cs_error("smtp: cannot start the listener thread");
        goto fail;
    }
    cs_info("smtp: listening on %s:%d (SMTP and LMTP)", cfg.bind_addr,
            smtp_server_port(self->server));
    return self;
fail:
    smtp_server_destroy(&self->server);
    cs_db_destroy(&self->db);
    free(self);
    return NULL;
}

void mail_gateway_stop(mail_gateway_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mail_gateway_t *self = *self_p;
    smtp_server_destroy(&self->server);
    cs_db_destroy(&self->db);
    free(self);
    *self_p = NULL;
}

void mail_gateway_stats(mail_gateway_t *self, smtp_server_stats_t *out)
{
    smtp_server_stats(self->server, out);
}
