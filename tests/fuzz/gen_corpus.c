/*
 * gen_corpus — write the seed inputs of the fuzz targets: valid packed
 * envelopes of every body type (as cs_bus_emit stores them and as the relay
 * sends them, behind a {stream, sequence} prefix) and replay requests.
 *
 * Why seeds: libFuzzer mutates what it has; starting from real envelopes it
 * reaches the type and body checks at once instead of guessing field tags.
 * Usage: gen_corpus DIR   (writes DIR/envelope/ and DIR/replay_request/).
 * The output is committed under tests/fuzz/corpus/; rerun after proto changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cs_bus.h"

static const char *s_dir;

static int s_write(const char *sub, const char *name, const uint8_t *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", s_dir, sub);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", s_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* Write env as stored (name.pb) and as sent by the relay (name.wire.pb). */
static int s_envelope(const char *name, const char *type, Cs__Envelope *env)
{
    env->event_id = "6f1c2a9e-0b7d-4c1e-9a55-2d3e4f5a6b7c";
    env->type = (char *)type;
    env->occurred_at_ms = 1767225600000;
    env->schema_version = CS_BUS_SCHEMA_VERSION;
    env->trace_id = "trace-0001";
    size_t len = cs__envelope__get_packed_size(env);
    Cs__Envelope head = CS__ENVELOPE__INIT;
    head.stream = "intake-0";
    head.sequence = 17;
    size_t plen = cs__envelope__get_packed_size(&head);
    uint8_t *buf = malloc(plen + len);
    if (!buf)
        return -1;
    cs__envelope__pack(&head, buf);
    cs__envelope__pack(env, buf + plen);
    char wire[128];
    snprintf(wire, sizeof(wire), "%s.wire.pb", name);
    char stored[128];
    snprintf(stored, sizeof(stored), "%s.pb", name);
    int rc = s_write("envelope", stored, buf + plen, len) | s_write("envelope", wire, buf, plen + len);
    free(buf);
    return rc;
}

static int s_envelopes(void)
{
    int rc = 0;
    Cs__Customer customer = CS__CUSTOMER__INIT;
    customer.customer_id = "c0a80001-0000-4000-8000-000000000001";
    customer.name = "大庆石化设备公司";
    customer.email = "ops@example.com";
    customer.tier = "strategic";
    customer.language = "zh-CN";

    Cs__Envelope e1 = CS__ENVELOPE__INIT;
    Cs__TicketCreated tc = CS__TICKET_CREATED__INIT;
    tc.ticket_id = "t-1";
    tc.number = "CS-2026-000123";
    tc.channel = "email";
    tc.customer = &customer;
    tc.subject = "泵站压力异常";
    tc.text = "Pressure drop at pump station 3";
    tc.emergency_flag = 2;
    e1.body_case = CS__ENVELOPE__BODY_TICKET_CREATED;
    e1.ticket_created = &tc;
    rc |= s_envelope("ticket_created", "intake.ticket.created", &e1);

    Cs__Envelope e2 = CS__ENVELOPE__INIT;
    Cs__TicketFacts facts = CS__TICKET_FACTS__INIT;
    facts.ticket_id = "t-1";
    facts.number = "CS-2026-000123";
    facts.priority = "P1";
    facts.customer_email = "ops@example.com";
    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = &facts;
    te.actor = "agent.li";
    te.from_status = "new";
    te.to_status = "accepted";
    te.first_response_minutes = 30;
    e2.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    e2.ticket_event = &te;
    rc |= s_envelope("ticket_accepted", "dispatch.ticket.accepted", &e2);

    Cs__Envelope e3 = CS__ENVELOPE__INIT;
    Cs__Heartbeat hb = CS__HEARTBEAT__INIT;
    hb.service = "intake";
    hb.instance = "intake-0";
    hb.head = 17;
    hb.health = "ok";
    hb.version = "0.1.0";
    e3.body_case = CS__ENVELOPE__BODY_HEARTBEAT;
    e3.heartbeat = &hb;
    rc |= s_envelope("heartbeat", "intake.hb", &e3);

    Cs__Envelope e4 = CS__ENVELOPE__INIT;
    Cs__ClockEvent ce = CS__CLOCK_EVENT__INIT;
    ce.clock_id = "k-1";
    ce.ticket_id = "t-1";
    ce.target = "first_response";
    ce.deadline_ms = 1767227400000;
    ce.percent = 80;
    e4.body_case = CS__ENVELOPE__BODY_CLOCK_EVENT;
    e4.clock_event = &ce;
    rc |= s_envelope("sla_warning", "sla.warning", &e4);

    Cs__Envelope e5 = CS__ENVELOPE__INIT;
    Cs__ComplaintEvent co = CS__COMPLAINT_EVENT__INIT;
    co.complaint_id = "cc-1";
    co.status = "opened";
    co.language = "en";
    e5.body_case = CS__ENVELOPE__BODY_COMPLAINT_EVENT;
    e5.complaint_event = &co;
    rc |= s_envelope("complaint_opened", "complaint.opened", &e5);

    Cs__Envelope e6 = CS__ENVELOPE__INIT;
    Cs__SurveyEvent se = CS__SURVEY_EVENT__INIT;
    se.invitation_id = "s-1";
    se.satisfaction = 2;
    se.comment = "slow";
    e6.body_case = CS__ENVELOPE__BODY_SURVEY_EVENT;
    e6.survey_event = &se;
    rc |= s_envelope("survey_low_score", "survey.low_score", &e6);

    Cs__Envelope e7 = CS__ENVELOPE__INIT;
    Cs__NotificationEvent ne = CS__NOTIFICATION_EVENT__INIT;
    ne.notification_id = "n-1";
    ne.kind = "acceptance";
    ne.status = "sent";
    e7.body_case = CS__ENVELOPE__BODY_NOTIFICATION_EVENT;
    e7.notification_event = &ne;
    rc |= s_envelope("notification_sent", "notification.sent", &e7);

    Cs__Envelope e8 = CS__ENVELOPE__INIT;
    Cs__MailRejected mr = CS__MAIL_REJECTED__INIT;
    mr.reason = "bounce";
    mr.bounce_status = "5.1.1";
    e8.body_case = CS__ENVELOPE__BODY_MAIL_REJECTED;
    e8.mail_rejected = &mr;
    rc |= s_envelope("mail_rejected", "intake.mail.rejected", &e8);

    Cs__Envelope e9 = CS__ENVELOPE__INIT;
    Cs__CustomerUpserted cu = CS__CUSTOMER_UPSERTED__INIT;
    cu.customer = &customer;
    e9.body_case = CS__ENVELOPE__BODY_CUSTOMER_UPSERTED;
    e9.customer_upserted = &cu;
    rc |= s_envelope("customer_upserted", "intake.customer.upserted", &e9);

    Cs__Envelope e10 = CS__ENVELOPE__INIT;
    Cs__CallEvent call = CS__CALL_EVENT__INIT;
    call.call_id = "call-1";
    call.caller = "+86 459 000 0000";
    call.duration_s = 95;
    e10.body_case = CS__ENVELOPE__BODY_CALL_EVENT;
    e10.call_event = &call;
    rc |= s_envelope("call_logged", "intake.call.logged", &e10);

    Cs__Envelope e11 = CS__ENVELOPE__INIT;
    Cs__CustomerReplied cr = CS__CUSTOMER_REPLIED__INIT;
    cr.ticket_id = "t-1";
    cr.from_addr = "ops@example.com";
    cr.text = "Thank you";
    e11.body_case = CS__ENVELOPE__BODY_CUSTOMER_REPLIED;
    e11.customer_replied = &cr;
    rc |= s_envelope("customer_replied", "intake.ticket.customer_replied", &e11);
    return rc;
}

static int s_request(const char *name, const char *stream, uint64_t from, uint64_t to,
                     uint32_t max)
{
    Cs__ReplayRequest req = CS__REPLAY_REQUEST__INIT;
    req.stream = (char *)stream;
    req.from_seq = from;
    req.to_seq = to;
    req.max_events = max;
    uint8_t buf[256];
    size_t len = cs__replay_request__pack(&req, buf);
    return s_write("replay_request", name, buf, len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    s_dir = argv[1];
    if (mkdir(s_dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: cannot create %s: %s\n", s_dir, strerror(errno));
        return 1;
    }
    int rc = s_envelopes();
    rc |= s_request("head_only.pb", "", 0, 0, 0);
    rc |= s_request("range.pb", "intake-0", 5, 40, 100);
    rc |= s_request("from_checkpoint.pb", "dispatch-1", 18, 0, 0);
    return rc ? 1 : 0;
}
