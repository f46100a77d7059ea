/*
 * mail_gateway — see mail_gateway.h.
 *
 * Every message a way in took (250, or flagged on the IMAP server) has a row
 * in mail_messages with its raw bytes and its outcome; a failure to commit
 * answers 451 (IMAP: leaves the message on the server) so that it comes
 * again. Nothing is dropped silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cs_bus.h"
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "imap_poll.h"
#include "mail_follow.h"
#include "mail_gateway.h"
#include "mail_parse.h"
#include "ticket.h"

struct mail_gateway {
    cs_service_t *svc;
    cs_db_t *db; /* the SMTP thread's */
    smtp_server_t *server;
    imap_poll_t *imap;
    char own_addresses[1024]; /* comma-separated, lower case */
    int64_t reopen_days;      /* a reply reopens a ticket closed less than this ago */
    int64_t rate_limit;       /* tickets and replies per sender per window; 0 = off */
    int64_t rate_window_s;
};

typedef struct {
    const char *outcome; /* ticket, reply, duplicate, rejected */
    const char *reason;  /* for rejected */
    char detail[256];
    char ticket_id[CS_UUID_LEN];
    char number[INTAKE_NUMBER_LEN];
    int reopen;                   /* reply: the ticket may be reopened */
    char follows_id[CS_UUID_LEN]; /* ticket: follows up this closed one */
    char follows_number[INTAKE_NUMBER_LEN];
    char notification_id[64]; /* bounce: the letter it bounces */
    char notification_number[INTAKE_NUMBER_LEN];
    char notification_kind[32];
    char mail_id[CS_UUID_LEN]; /* the row recorded */
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
   letters notify sent (notify_letters, from notification.sent), the mails
   intake took, and the shape of notify's ids (<CS-2026-000123.x@domain>,
   for a letter whose event has not reached us yet), then by a ticket number
   in the subject. 1 found, 0 not, -1 db error. */
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
        /* a letter notify sent, then a mail intake took (the customer's first
           mail, when the answer went to everyone in copy) */
        PGresult *r = cs_db_exec(db,
                                 "SELECT t.id, t.number FROM notify_letters nl JOIN tickets t"
                                 " ON t.number = nl.ticket_number WHERE nl.message_id = $1"
                                 " UNION ALL "
                                 "(SELECT t.id, t.number FROM mail_messages mm JOIN tickets t"
                                 " ON t.id = mm.ticket_id WHERE mm.message_id = $1"
                                 " AND mm.outcome IN ('ticket', 'reply') LIMIT 1) LIMIT 1",
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
        mr.bounce_notification_id = (char *)d->notification_id;
        mr.bounce_ticket_number = (char *)d->notification_number;
        mr.bounce_notification_kind = (char *)d->notification_kind;
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
    cr.reopen_closed = d->reopen;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_CUSTOMER_REPLIED;
    env.customer_replied = &cr;
    int rc = cs_bus_emit(db, "intake.ticket.customer_replied", &env);
    free(text);
    return rc;
}

static int s_store_message(cs_db_t *db, const char *mail_id, const decision_t *d,
                           const mail_parsed_t *m, const mail_origin_t *o, const char *data,
                           size_t len)
{
    char size[24], uid[24];
    const char *p[] = {mail_id,
                       d->outcome,
                       d->reason,
                       d->detail[0] ? d->detail : NULL,
                       d->ticket_id[0] ? d->ticket_id : NULL,
                       m ? m->message_id : NULL,
                       s_nz(o->envelope_from),
                       m ? m->from_addr : NULL,
                       m ? m->subject : NULL,
                       m ? m->text : NULL,
                       data,
                       cs_db_i64(size, (int64_t)len),
                       o->source,
                       o->tls ? "true" : "false",
                       o->imap_mailbox,
                       o->imap_mailbox ? cs_db_i64(uid, o->imap_uid) : NULL,
                       d->notification_id[0] ? d->notification_id : NULL};
    int lengths[17] = {0};
    int formats[17] = {0};
    lengths[10] = (int)len;
    formats[10] = 1;
    PGresult *r = cs_db_exec_bin(db,
                                 "INSERT INTO mail_messages (id, outcome, reason, detail,"
                                 " ticket_id, message_id, envelope_from, from_addr, subject, text,"
                                 " raw, size, source, tls, imap_mailbox, imap_uid,"
                                 " bounce_notification_id) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                                 " $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                                 17, p, lengths, formats, 0);
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

static void s_reject(decision_t *d, const char *reason, const char *fmt, const char *arg)
{
    d->outcome = "rejected";
    d->reason = reason;
    snprintf(d->detail, sizeof(d->detail), fmt, s_nz(arg));
}

/* A bounce: which of notify's letters came back, by the Message-ID the
   report quotes (notify_letters, else the ticket number notify puts in its
   ids). Fills d's notification fields and detail. 0 or -1. */
static int s_match_bounce(cs_db_t *db, const mail_parsed_t *m, decision_t *d)
{
    const char *orig = m->bounce_original_message_id;
    char status[64];
    snprintf(status, sizeof(status), "%s%s%s", s_nz(m->bounce_status),
             m->bounce_status && m->bounce_recipient ? " " : "", m->bounce_recipient ? "to " : "");
    if (orig) {
        const char *p[] = {orig};
        PGresult *r = cs_db_exec(db,
                                 "SELECT notification_id, coalesce(ticket_number, ''),"
                                 " coalesce(kind, '') FROM notify_letters WHERE message_id = $1",
                                 1, p);
        if (!r)
            return -1;
        if (PQntuples(r) == 1) {
            snprintf(d->notification_id, sizeof(d->notification_id), "%s", cs_db_get(r, 0, 0));
            snprintf(d->notification_number, sizeof(d->notification_number), "%s",
                     cs_db_get(r, 0, 1));
            snprintf(d->notification_kind, sizeof(d->notification_kind), "%s", cs_db_get(r, 0, 2));
        }
        PQclear(r);
        if (!d->notification_id[0] && strncasecmp(orig, "CS-", 3) == 0)
            intake_find_number(orig, d->notification_number, sizeof(d->notification_number));
    }
    if (d->notification_id[0])
        snprintf(d->detail, sizeof(d->detail), "bounce of notification %s (%s, %s): %s%s",
                 d->notification_id, d->notification_kind, d->notification_number, status,
                 s_nz(m->bounce_recipient));
    else if (d->notification_number[0])
        snprintf(d->detail, sizeof(d->detail), "bounce of a letter on %s: %s%s",
                 d->notification_number, status, s_nz(m->bounce_recipient));
    else
        snprintf(d->detail, sizeof(d->detail), "%s, not one of our letters: %s%s",
                 s_nz(m->kind_reason), status, s_nz(m->bounce_recipient));
    return 0;
}

/* Is this one of notify's own letters coming back in (a forwarding loop)? */
static int s_is_own_letter(cs_db_t *db, const char *message_id)
{
    if (!message_id)
        return 0;
    const char *p[] = {message_id};
    PGresult *r = cs_db_exec(db, "SELECT 1 FROM notify_letters WHERE message_id = $1", 1, p);
    if (!r)
        return -1;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* Over the per-sender limit: tickets and replies from this address in the
   last rate_window_s seconds. 1 over, 0 not, -1 db error. */
static int s_over_rate(mail_gateway_t *self, cs_db_t *db, const char *from_addr, int64_t *count)
{
    *count = 0;
    if (self->rate_limit <= 0)
        return 0;
    char window[24];
    const char *p[] = {from_addr, cs_db_i64(window, self->rate_window_s)};
    PGresult *r = cs_db_exec(db,
                             "SELECT count(*) FROM mail_messages WHERE lower(from_addr) = lower($1)"
                             " AND outcome IN ('ticket', 'reply')"
                             " AND received_at > now() - make_interval(secs => $2::bigint)",
                             2, p);
    if (!r)
        return -1;
    *count = cs_db_get_i64(r, 0, 0);
    PQclear(r);
    return *count >= self->rate_limit;
}

/* What dispatch told us of the ticket's life: reopen it (open, or closed
   less than reopen_days ago, or not known closed) or follow it up with a
   new ticket (closed longer ago, or terminated). 1 follow up, 0 reopen/join,
   -1 db error. */
static int s_needs_follow_up(mail_gateway_t *self, cs_db_t *db, decision_t *d)
{
    char days[24];
    const char *p[] = {d->ticket_id, cs_db_i64(days, self->reopen_days)};
    PGresult *r = cs_db_exec(db,
                             "SELECT status = 'terminated' OR (status = 'closed' AND closed_at <="
                             " now() - make_interval(days => $2::int)) FROM ticket_states"
                             " WHERE ticket_id = $1",
                             2, p);
    if (!r)
        return -1;
    int follow = PQntuples(r) == 1 && strcmp(cs_db_get(r, 0, 0), "t") == 0;
    PQclear(r);
    return follow;
}

/* The checks that make a message no ticket at all, in order (mail_gateway.h).
   Sets d->outcome when one applies. 0 or -1. */
static int s_screen(mail_gateway_t *self, cs_db_t *db, const mail_parsed_t *m,
                    const char *parse_err, int skip_rate, decision_t *d)
{
    if (!m) {
        s_reject(d, "parse_error", "%s", parse_err);
        return 0;
    }
    if (m->kind == MAIL_KIND_BOUNCE) {
        s_reject(d, "bounce", "%s", m->kind_reason);
        return s_match_bounce(db, m, d);
    }
    if (m->kind != MAIL_KIND_NORMAL) {
        s_reject(d, m->kind == MAIL_KIND_BULK ? "bulk" : "auto_reply", "%s", m->kind_reason);
        return 0;
    }
    if (!m->from_addr) {
        s_reject(d, "no_sender", "no usable From address%s", "");
        return 0;
    }
    if (s_is_own_address(self, m->from_addr)) {
        s_reject(d, "loop", "sent from one of our own addresses%s", "");
        return 0;
    }
    int own = s_is_own_letter(db, m->message_id);
    if (own)
        s_reject(d, "loop", "one of our own letters came back in%s", "");
    if (own)
        return own < 0 ? -1 : 0;
    int seen = s_seen(db, m->message_id, m->from_addr, d);
    if (seen) {
        d->outcome = "duplicate";
        snprintf(d->detail, sizeof(d->detail), "Message-ID already received");
        return seen < 0 ? -1 : 0;
    }
    int64_t count;
    int over = skip_rate ? 0 : s_over_rate(self, db, m->from_addr, &count);
    if (over < 0)
        return -1;
    if (over) {
        d->outcome = "rejected";
        d->reason = "quarantine";
        snprintf(d->detail, sizeof(d->detail),
                 "sender over the rate limit: %lld tickets and replies in %lld s (limit %lld);"
                 " kept in quarantine",
                 (long long)count, (long long)self->rate_window_s, (long long)self->rate_limit);
    }
    return 0;
}

/* Reply, reopening reply, or follow-up: the ticket a message answers, if
   its sender may add to it. 0 or -1. */
static int s_threading(mail_gateway_t *self, cs_db_t *db, const mail_parsed_t *m, decision_t *d)
{
    int threaded = s_thread(db, m, d);
    if (threaded <= 0)
        return threaded;
    int may = s_sender_may_reply(db, d->ticket_id, m->from_addr);
    if (may < 0)
        return -1;
    if (!may) {
        cs_info("mail: answer to %s from another sender opens a ticket of its own", d->number);
        d->ticket_id[0] = d->number[0] = 0;
        return 0;
    }
    int follow = s_needs_follow_up(self, db, d);
    if (follow < 0)
        return -1;
    if (follow) {
        snprintf(d->follows_id, sizeof(d->follows_id), "%s", d->ticket_id);
        snprintf(d->follows_number, sizeof(d->follows_number), "%s", d->number);
        d->ticket_id[0] = d->number[0] = 0;
        return 0;
    }
    d->outcome = "reply";
    d->reopen = 1;
    return 0;
}

/* Decide and record, inside an open transaction. 0 or -1. */
static int s_decide(mail_gateway_t *self, cs_db_t *db, const mail_origin_t *o,
                    const mail_parsed_t *m, const char *parse_err, int skip_rate, const char *data,
                    size_t len, decision_t *d)
{
    int64_t now = cs_now_ms();
    memset(d, 0, sizeof(*d));
    if (s_screen(self, db, m, parse_err, skip_rate, d) < 0)
        return -1;
    if (!d->outcome && s_threading(self, db, m, d) < 0)
        return -1;
    char *mail_id = d->mail_id;
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
        if (d->follows_id[0]) {
            rq.follows_up_ticket_id = d->follows_id;
            rq.follows_up_number = d->follows_number;
        }
        intake_result_t res;
        if (intake_ticket_create(db, &rq, &res) < 0)
            return -1;
        d->outcome = "ticket";
        snprintf(d->ticket_id, sizeof(d->ticket_id), "%s", res.ticket_id);
        snprintf(d->number, sizeof(d->number), "%s", res.number);
    }
    if (s_store_message(db, mail_id, d, m, o, data, len) < 0)
        return -1;
    if (strcmp(d->outcome, "rejected") == 0)
        return s_emit_rejected(db, m, d, o->envelope_from);
    if (strcmp(d->outcome, "reply") == 0)
        return s_emit_reply(db, m, d, now);
    return 0;
}

static void s_reply_text(const decision_t *d, char *reply, size_t size)
{
    if (strcmp(d->outcome, "ticket") == 0 && d->follows_number[0])
        snprintf(reply, size, "250 2.0.0 %s created (follows up %s)", d->number, d->follows_number);
    else if (strcmp(d->outcome, "ticket") == 0)
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

static void s_count(const decision_t *d, const mail_origin_t *o, size_t len)
{
    char labels[96];
    if (strcmp(d->outcome, "rejected") == 0)
        snprintf(labels, sizeof(labels), "outcome=\"rejected\",reason=\"%s\"", d->reason);
    else
        snprintf(labels, sizeof(labels), "outcome=\"%s\"", d->outcome);
    cs_counter_add("cs_intake_mail_total", labels, 1);
    snprintf(labels, sizeof(labels), "source=\"%s\",tls=\"%s\"", o->source, o->tls ? "yes" : "no");
    cs_counter_add("cs_intake_mail_received_total", labels, 1);
    if (strcmp(d->outcome, "ticket") == 0)
        cs_counter_add("cs_intake_tickets_total", "channel=\"email\"", 1);
    cs_info("mail: %s %s via %s (%zu bytes)", d->outcome,
            d->number[0] ? d->number : s_nz(d->reason), o->source, len);
}

/* The whole of one message: parse, then decide and commit (a unique
   violation means a concurrent copy of the same message: decide again). */
static int s_take(mail_gateway_t *self, cs_db_t *db, const mail_origin_t *o, const char *data,
                  size_t len, int skip_rate, mail_in_tx_fn *in_tx, void *in_tx_ctx, decision_t *d)
{
    if (cs_db_ensure(db) < 0)
        return -1;
    mail_parsed_t m;
    char err[256] = "";
    int parsed = mail_parse(data, len, &m, err, sizeof(err)) == 0;
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (cs_db_begin(db) < 0)
            break;
        if (s_decide(self, db, o, parsed ? &m : NULL, err, skip_rate, data, len, d) < 0 ||
            (in_tx && in_tx(db, in_tx_ctx) < 0)) {
            int unique = strcmp(cs_db_sqlstate(db), "23505") == 0;
            cs_db_rollback(db);
            if (!unique)
                break;
            continue;
        }
        /* Never retried after the commit: its outcome may be unknown, and the
           451 that follows a failure makes the sender try again. */
        rc = cs_db_commit(db);
        break;
    }
    if (parsed)
        mail_parsed_free(&m);
    if (rc < 0) {
        cs_counter_add("cs_intake_mail_total", "outcome=\"deferred\"", 1);
        return -1;
    }
    cs_service_kick(self->svc);
    s_count(d, o, len);
    return 0;
}

int mail_gateway_take(mail_gateway_t *self, cs_db_t *db, const mail_origin_t *origin,
                      const char *data, size_t len, mail_in_tx_fn *in_tx, void *in_tx_ctx,
                      char *reply, size_t replylen)
{
    decision_t d;
    if (s_take(self, db, origin, data, len, 0, in_tx, in_tx_ctx, &d) < 0)
        return -1;
    s_reply_text(&d, reply, replylen);
    return 0;
}

static int s_deliver(void *ctx, const smtp_envelope_t *env, const char *data, size_t len,
                     char *reply, size_t replylen, char **rcpt_replies)
{
    (void)rcpt_replies; /* one message, one ticket: the same answer for every recipient */
    mail_gateway_t *self = ctx;
    mail_origin_t o = {
        .source = env->lmtp ? "lmtp" : "smtp", .envelope_from = env->mail_from, .tls = env->tls};
    return mail_gateway_take(self, self->db, &o, data, len, NULL, NULL, reply, replylen);
}

/* Group commit (smtp_server.h): the messages completed in one poll round are
   decided in one transaction, so one disk flush commits them all. Should any
   of them fail, the transaction rolls back and each goes alone through
   s_deliver, so that one bad message costs the others nothing. */
static void s_deliver_batch(void *ctx, smtp_delivery_t *items, size_t n)
{
    mail_gateway_t *self = ctx;
    mail_parsed_t *m = n > 1 ? calloc(n, sizeof(*m)) : NULL;
    decision_t *d = n > 1 ? calloc(n, sizeof(*d)) : NULL;
    int *parsed = n > 1 ? calloc(n, sizeof(*parsed)) : NULL;
    char(*err)[256] = n > 1 ? calloc(n, sizeof(*err)) : NULL;
    mail_origin_t *o = n > 1 ? calloc(n, sizeof(*o)) : NULL;
    int together = m && d && parsed && err && o && cs_db_ensure(self->db) == 0;
    for (size_t i = 0; together && i < n; i++) {
        parsed[i] = mail_parse(items[i].data, items[i].len, &m[i], err[i], sizeof(err[i])) == 0;
        o[i] = (mail_origin_t){.source = items[i].env.lmtp ? "lmtp" : "smtp",
                               .envelope_from = items[i].env.mail_from,
                               .tls = items[i].env.tls};
    }
    if (together && cs_db_begin(self->db) == 0) {
        size_t i = 0;
        while (i < n && s_decide(self, self->db, &o[i], parsed[i] ? &m[i] : NULL, err[i], 0,
                                 items[i].data, items[i].len, &d[i]) == 0)
            i++;
        if (i < n) {
            cs_db_rollback(self->db);
            together = 0;
        } else {
            together = cs_db_commit(self->db) == 0;
            if (!together) /* outcome unknown: 451 to all, each sender retries */
                for (size_t j = 0; j < n; j++)
                    items[j].rc = -1;
            else {
                cs_service_kick(self->svc);
                for (size_t j = 0; j < n; j++) {
                    s_count(&d[j], &o[j], items[j].len);
                    s_reply_text(&d[j], items[j].reply, SMTP_REPLY_MAX);
                    items[j].rc = 0;
                }
            }
            together = 1; /* done either way: no one-by-one retry after a COMMIT */
        }
    } else {
        together = 0;
    }
    for (size_t i = 0; m && parsed && i < n; i++)
        if (parsed[i])
            mail_parsed_free(&m[i]);
    if (!together)
        for (size_t i = 0; i < n; i++)
            items[i].rc = s_deliver(self, &items[i].env, items[i].data, items[i].len,
                                    items[i].reply, SMTP_REPLY_MAX, items[i].rcpt_replies);
    free(m);
    free(d);
    free(parsed);
    free(err);
    free(o);
}

/* ---- quarantine: GET /v1/mail/quarantine, POST /v1/mail/quarantine/{id}/release ---- */

static void s_quarantine_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    int64_t limit;
    if (cs_http_query_int(req, resp, "limit", 100, 1, 1000, &limit) < 0)
        return;
    char lim[24];
    const char *p[] = {cs_db_i64(lim, limit)};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT id, from_addr, subject, detail, size, received_at"
                             " FROM mail_messages WHERE outcome = 'rejected'"
                             " AND reason = 'quarantine' AND released_as IS NULL"
                             " ORDER BY received_at LIMIT $1::int",
                             1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(
            list, json_pack("{s:s, s:s?, s:s?, s:s?, s:I, s:s}", "id", cs_db_get(r, i, 0),
                            "from_addr", cs_db_get(r, i, 1), "subject", cs_db_get(r, i, 2),
                            "detail", cs_db_get(r, i, 3), "size",
                            (json_int_t)cs_db_get_i64(r, i, 4), "received_at", cs_db_get(r, i, 5)));
    PQclear(r);
    cs_http_json(resp, 200, json_pack("{s:o}", "messages", list));
}

typedef struct {
    const char *quarantined_id;
    decision_t d;
} s_release_t;

/* In the release's transaction: the quarantine row names the row it became;
   a concurrent release of the same row finds it taken and rolls back. */
static int s_mark_released(cs_db_t *db, void *ctx)
{
    s_release_t *rel = ctx;
    const char *p[] = {rel->quarantined_id, rel->d.mail_id};
    return cs_db_cmd(db,
                     "UPDATE mail_messages SET released_as = $2 WHERE id = $1"
                     " AND released_as IS NULL",
                     2, p) == 1
               ? 0
               : -1;
}

/* Release: the kept message goes through the gateway again without the rate
   limit (an operator judged it genuine); the quarantine row names the row
   it became. Releasing twice answers 409. */
static void s_quarantine_release(cs_http_req_t *req, cs_http_resp_t *resp)
{
    mail_gateway_t *self = req->ctx;
    const char *id = req->param[0];
    if (!cs_is_uuid(id)) {
        cs_http_error(resp, 404, "id", "no quarantined message %s", "with that id");
        return;
    }
    const char *p[] = {id};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT raw, envelope_from, source, tls, released_as IS NOT NULL"
                             " FROM mail_messages WHERE id = $1 AND outcome = 'rejected'"
                             " AND reason = 'quarantine'",
                             1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database unavailable");
        return;
    }
    if (PQntuples(r) != 1 || strcmp(cs_db_get(r, 0, 4), "t") == 0) {
        int exists = PQntuples(r) == 1;
        PQclear(r);
        cs_http_error(resp, exists ? 409 : 404, "id",
                      exists ? "already released" : "no quarantined message with that id");
        return;
    }
    size_t len = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)cs_db_get(r, 0, 0), &len);
    char from[300], source[8];
    snprintf(from, sizeof(from), "%s", cs_db_get(r, 0, 1));
    snprintf(source, sizeof(source), "%s", cs_db_get(r, 0, 2));
    mail_origin_t o = {
        .source = source, .envelope_from = from, .tls = strcmp(cs_db_get(r, 0, 3), "t") == 0};
    PQclear(r);
    if (!raw) {
        cs_http_error(resp, 500, NULL, "out of memory");
        return;
    }
    s_release_t rel = {.quarantined_id = id};
    int rc = s_take(self, req->db, &o, (const char *)raw, len, 1, s_mark_released, &rel, &rel.d);
    PQfreemem(raw);
    if (rc < 0) {
        cs_http_error(resp, 503, NULL, "could not commit (or released meanwhile), try again");
        return;
    }
    decision_t d = rel.d;
    char reply[SMTP_REPLY_MAX];
    s_reply_text(&d, reply, sizeof(reply));
    cs_http_json(resp, 200,
                 json_pack("{s:s, s:s?, s:s?, s:s}", "outcome", d.outcome, "ticket_number",
                           d.number[0] ? d.number : NULL, "reason", d.reason, "reply", reply));
}

mail_gateway_t *mail_gateway_start(cs_service_t *svc)
{
    int64_t port, max_bytes, per_ip;
    mail_gateway_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    if (cs_env_svc_int("intake", "SMTP_PORT", 2525, 0, 65535, &port) < 0 ||
        cs_env_svc_int("intake", "SMTP_MAX_PER_IP", 20, 1, 10000, &per_ip) < 0 ||
        cs_env_svc_int("intake", "SMTP_MAX_BYTES", 25 * 1024 * 1024, 1024, 1LL << 30, &max_bytes) <
            0 ||
        cs_env_svc_int("intake", "REOPEN_DAYS", 7, 0, 3650, &self->reopen_days) < 0 ||
        cs_env_svc_int("intake", "MAIL_RATE_LIMIT", 30, 0, 1000000, &self->rate_limit) < 0 ||
        cs_env_svc_int("intake", "MAIL_RATE_WINDOW_S", 3600, 1, 30 * 86400, &self->rate_window_s) <
            0) {
        free(self);
        return NULL;
    }
    self->svc = svc;
    const char *own = cs_env_svc("intake", "OWN_ADDRESSES",
                                 "service@petrocs.example,cs@petrocs.example,"
                                 "noreply@petrocs.example");
    snprintf(self->own_addresses, sizeof(self->own_addresses), "%s", own);
    mail_parse_init();
    mail_follow_register(svc);
    cs_http_route(cs_service_http(svc), "GET", "/v1/mail/quarantine", s_quarantine_list, self);
    cs_http_route(cs_service_http(svc), "POST", "/v1/mail/quarantine/*/release",
                  s_quarantine_release, self);
    self->db = cs_service_db_new(svc, "smtp");
    if (!self->db)
        goto fail;
    smtp_server_config_t cfg = {0};
    cfg.bind_addr = cs_env_svc("intake", "BIND", cs_env_svc("intake", "HOST", "127.0.0.1"));
    cfg.port = (int)port;
    cfg.hostname = cs_env_svc("intake", "SMTP_HOSTNAME", NULL);
    cfg.max_message_bytes = (size_t)max_bytes;
    cfg.max_connections_per_ip = (int)per_ip;
    cfg.tls_cert_file = cs_env_svc("intake", "TLS_CERT", NULL);
    cfg.tls_key_file = cs_env_svc("intake", "TLS_KEY", NULL);
    cfg.deliver = s_deliver;
    cfg.deliver_batch = s_deliver_batch;
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
    cs_info("smtp: listening on %s:%d (SMTP and LMTP%s)", cfg.bind_addr,
            smtp_server_port(self->server), cfg.tls_cert_file ? ", STARTTLS" : "");
    if (imap_poll_start(svc, self, &self->imap) < 0)
        goto fail;
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
    imap_poll_stop(&self->imap);
    smtp_server_destroy(&self->server);
    cs_db_destroy(&self->db);
    free(self);
    *self_p = NULL;
}

void mail_gateway_stats(mail_gateway_t *self, smtp_server_stats_t *out)
{
    smtp_server_stats(self->server, out);
}
